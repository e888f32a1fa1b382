//! Client certificates as `kubectl cnpg certificate` issues them, with no
//! host calls: PEM and DER parsing of the CA pair, the leaf's TBSCertificate
//! written by hand (RFC 5280 §4.1, DER per X.690), and its ECDSA P-256
//! signature. The tool feeds it the clock and the randomness, so tests can
//! fix both.
//!
//! Reference: operator v1.30.0, `pkg/certs/certs.go`
//! (`ParseCASecret`, `KeyPair.ParseECPrivateKey`, `KeyPair.ParseCertificate`,
//! `createAndSignPairWithValidity`), and what Go's `x509.CreateCertificate`
//! writes for that template.

use std::fmt;

use base64ct::{Base64, Encoding};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};

use cnpg_mcp_sdk::time::Civil;

/// `ecPrivateKeyPEMBlockType`: the only key block the plugin signs with.
pub const EC_PRIVATE_KEY: &str = "EC PRIVATE KEY";
/// `certificatePEMBlockType`.
pub const CERTIFICATE: &str = "CERTIFICATE";
/// The plugin backdates NotBefore by 5 minutes (`time.Minute * -5`).
pub const BACKDATE_SECONDS: i64 = 5 * 60;
/// `configuration.CertificateDuration`: 90 days, the plugin's default.
pub const VALIDITY_SECONDS: i64 = 90 * 86_400;
/// Longest PostgreSQL identifier (NAMEDATALEN - 1).
pub const MAX_ROLE_NAME: usize = 63;

// Object identifiers, DER content octets (RFC 5280, RFC 5480, RFC 5758).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]; // 1.2.840.10045.2.1
const OID_PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]; // 1.2.840.10045.3.1.7
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]; // 1.2.840.10045.4.3.2
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03]; // 2.5.4.3
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f]; // 2.5.29.15
const OID_EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25]; // 2.5.29.37
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13]; // 2.5.29.19
const OID_SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e]; // 2.5.29.14
const OID_AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23]; // 2.5.29.35
const OID_CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]; // 1.3.6.1.5.5.7.3.2

// DER tags (X.690 §8).
const BOOLEAN: u8 = 0x01;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const CONTEXT_0: u8 = 0xa0; // [0] constructed
const CONTEXT_3: u8 = 0xa3; // [3] constructed
const KEY_ID: u8 = 0x80; // [0] IMPLICIT OCTET STRING of AuthorityKeyIdentifier

/// Why a certificate cannot be issued. Messages never carry key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkiError {
    /// `ParseCASecret`: `missing ca.key secret data`.
    MissingCaKey,
    /// `ParseCASecret`: `missing ca.crt secret data`.
    MissingCaCert,
    /// No PEM block at all in the named Secret key.
    NotPem(&'static str),
    /// `ParseECPrivateKey`: `invalid private key PEM block type` (the label found).
    KeyBlockType(String),
    /// An `EC PRIVATE KEY` block that is not SEC1 on P-256.
    UnsupportedKey,
    /// `ParseCertificate`: `invalid public key PEM block type` (the label found).
    CertBlockType(String),
    /// `ca.crt` is not a DER X.509 certificate.
    BadCertificate(&'static str),
    /// `tls.X509KeyPair`: the key does not belong to the certificate.
    KeyMismatch,
    /// The user name cannot be a certificate CN for a PostgreSQL role.
    InvalidUser(String),
    /// Encoding or signing failed (never expected).
    Internal(&'static str),
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkiError::MissingCaKey => write!(
                f,
                "the client CA Secret has no ca.key: the operator does not hold this CA's key, so certificates \
                 must be issued where the key lives (the plugin fails with `missing ca.key secret data`)"
            ),
            PkiError::MissingCaCert => write!(f, "the client CA Secret has no ca.crt (`missing ca.crt secret data`)"),
            PkiError::NotPem(key) => {
                write!(f, "`{key}` of the client CA Secret holds no PEM block")
            }
            PkiError::KeyBlockType(label) => write!(
                f,
                "ca.key is a PEM `{label}` block; the plugin signs only with an ECDSA key in a SEC1 \
                 `EC PRIVATE KEY` block (`invalid private key PEM block type`)"
            ),
            PkiError::UnsupportedKey => write!(
                f,
                "ca.key is not a SEC1 ECDSA P-256 private key, the only key type this tool signs with (the \
                 operator generates P-256 CAs)"
            ),
            PkiError::CertBlockType(label) => write!(
                f,
                "the first PEM block of ca.crt is `{label}`, not `CERTIFICATE` (`invalid public key PEM block type`)"
            ),
            PkiError::BadCertificate(why) => {
                write!(f, "ca.crt is not a valid X.509 certificate: {why}")
            }
            PkiError::KeyMismatch => {
                write!(f, "ca.key does not belong to the certificate in ca.crt")
            }
            PkiError::InvalidUser(why) => write!(f, "{why}"),
            PkiError::Internal(why) => write!(f, "building the certificate failed: {why}"),
        }
    }
}

impl std::error::Error for PkiError {}

/// Checks a PostgreSQL role name used as the certificate's CN: what
/// `PG_NAME_PATTERN` allows, at most 63 bytes (longer identifiers are
/// truncated by PostgreSQL, so the CN would never match the role).
pub fn check_user(user: &str) -> Result<(), PkiError> {
    let mut chars = user.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        return Err(PkiError::InvalidUser(format!(
            "`{user}` is not a role name this tool issues certificates for: lowercase letters, digits, `_` \
             and `-`, starting with a letter or `_`"
        )));
    }
    if user.len() > MAX_ROLE_NAME {
        return Err(PkiError::InvalidUser(format!(
            "`{user}` is longer than {MAX_ROLE_NAME} bytes, the longest PostgreSQL role name"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- PEM

/// The first PEM block of `text`, as Go's `pem.Decode`: its label and its
/// decoded bytes. Text before the block, headers (`Key: value` lines) and
/// line breaks are skipped. `None` when there is no well-formed block.
pub fn first_pem_block(text: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(text).ok()?;
    let start = text.find("-----BEGIN ")?;
    let after = &text[start + "-----BEGIN ".len()..];
    let label_end = after.find("-----")?;
    let label = &after[..label_end];
    if label.contains('\n') {
        return None;
    }
    let body = &after[label_end + "-----".len()..];
    let end = body.find(&format!("-----END {label}-----"))?;
    let body: String = body[..end]
        .lines()
        .filter(|line| !line.contains(':'))
        .flat_map(|line| line.chars().filter(|c| !c.is_ascii_whitespace()))
        .collect();
    let bytes = Base64::decode_vec(&body).ok()?;
    Some((label.to_string(), bytes))
}

/// `bytes` as a PEM block, 64 characters a line (as Go's `pem.Encode`).
pub fn pem_encode(label: &str, bytes: &[u8]) -> String {
    let body = Base64::encode_string(bytes);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// ---------------------------------------------------------------- DER reading

/// One DER element: its tag, its content, the whole encoding.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

/// Reads the element at the start of `input`; returns it and the rest.
/// Definite lengths only (DER), single-byte tags (all X.509 needs).
fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let mut length = 0usize;
        for &b in &rest[..count] {
            length = (length << 8) | usize::from(b);
        }
        rest = &rest[count..];
        length
    };
    if rest.len() < length {
        return None;
    }
    let header = input.len() - rest.len();
    let element = Tlv {
        tag,
        content: &rest[..length],
        raw: &input[..header + length],
    };
    Some((element, &rest[length..]))
}

/// The elements inside a constructed element's content.
fn children(content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (element, next) = read_tlv(rest)?;
        out.push(element);
        rest = next;
    }
    Some(out)
}

/// The parts of the CA certificate the leaf needs.
#[derive(Debug, Clone)]
struct CaCertificate {
    /// The Subject `Name`, DER, copied as the leaf's Issuer byte for byte
    /// (as Go does with `RawSubject`).
    subject: Vec<u8>,
    /// The SubjectPublicKeyInfo's key (an uncompressed or compressed point).
    public_key: Vec<u8>,
    /// The SubjectKeyIdentifier, which becomes the leaf's AuthorityKeyIdentifier.
    key_id: Option<Vec<u8>>,
}

fn parse_ca_certificate(der: &[u8]) -> Result<CaCertificate, PkiError> {
    let bad = PkiError::BadCertificate;
    let (certificate, _) = read_tlv(der).ok_or(bad("not DER"))?;
    if certificate.tag != SEQUENCE {
        return Err(bad("not a SEQUENCE"));
    }
    let parts = children(certificate.content).ok_or(bad("malformed Certificate"))?;
    let tbs = parts
        .first()
        .filter(|t| t.tag == SEQUENCE)
        .ok_or(bad("no TBSCertificate"))?;
    let mut fields = children(tbs.content)
        .ok_or(bad("malformed TBSCertificate"))?
        .into_iter();
    let mut next = fields.next();
    if next.is_some_and(|f| f.tag == CONTEXT_0) {
        next = fields.next();
    }
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo.
    let _serial = next.filter(|f| f.tag == INTEGER).ok_or(bad("no serial number"))?;
    let _algorithm = fields
        .next()
        .filter(|f| f.tag == SEQUENCE)
        .ok_or(bad("no signature algorithm"))?;
    let _issuer = fields.next().filter(|f| f.tag == SEQUENCE).ok_or(bad("no issuer"))?;
    let _validity = fields.next().filter(|f| f.tag == SEQUENCE).ok_or(bad("no validity"))?;
    let subject = fields.next().filter(|f| f.tag == SEQUENCE).ok_or(bad("no subject"))?;
    let spki = fields
        .next()
        .filter(|f| f.tag == SEQUENCE)
        .ok_or(bad("no public key"))?;
    let spki_parts = children(spki.content).ok_or(bad("malformed public key"))?;
    let public_key = match spki_parts.as_slice() {
        [algorithm, key] if algorithm.tag == SEQUENCE && key.tag == BIT_STRING => {
            let ids = children(algorithm.content).ok_or(bad("malformed public key algorithm"))?;
            let is_p256 = matches!(ids.as_slice(), [kind, curve]
                if kind.content == OID_EC_PUBLIC_KEY && curve.content == OID_PRIME256V1);
            if !is_p256 {
                return Err(PkiError::KeyMismatch);
            }
            match key.content.split_first() {
                Some((0, point)) => point.to_vec(),
                _ => return Err(bad("malformed public key bits")),
            }
        }
        _ => return Err(bad("malformed public key")),
    };
    let mut key_id = None;
    for field in fields {
        if field.tag != CONTEXT_3 {
            continue;
        }
        let (extensions, _) = read_tlv(field.content).ok_or(bad("malformed extensions"))?;
        for extension in children(extensions.content).ok_or(bad("malformed extensions"))? {
            let parts = children(extension.content).ok_or(bad("malformed extension"))?;
            let (Some(id), Some(value)) = (parts.first(), parts.last()) else {
                return Err(bad("malformed extension"));
            };
            if id.tag == OID && id.content == OID_SUBJECT_KEY_ID && value.tag == OCTET_STRING {
                let (inner, _) = read_tlv(value.content).ok_or(bad("malformed SubjectKeyIdentifier"))?;
                if inner.tag != OCTET_STRING {
                    return Err(bad("malformed SubjectKeyIdentifier"));
                }
                key_id = Some(inner.content.to_vec());
            }
        }
    }
    Ok(CaCertificate {
        subject: subject.raw.to_vec(),
        public_key,
        key_id,
    })
}

/// A DER `Name` as RFC 4514 text (`CN=pg,OU=db`: last RDN first, as Go's
/// `pkix.Name.String()`), for answers.
pub fn name_to_string(name: &[u8]) -> String {
    let rdns = read_tlv(name)
        .and_then(|(n, _)| children(n.content))
        .unwrap_or_default();
    let mut parts = Vec::new();
    for rdn in rdns.iter().rev() {
        let mut attributes = Vec::new();
        for attribute in children(rdn.content).unwrap_or_default() {
            let pair = children(attribute.content).unwrap_or_default();
            let [kind, value] = pair.as_slice() else {
                continue;
            };
            let label = match kind.content {
                [0x55, 0x04, 0x03] => "CN".to_string(),
                [0x55, 0x04, 0x06] => "C".to_string(),
                [0x55, 0x04, 0x07] => "L".to_string(),
                [0x55, 0x04, 0x08] => "ST".to_string(),
                [0x55, 0x04, 0x0a] => "O".to_string(),
                [0x55, 0x04, 0x0b] => "OU".to_string(),
                other => format!("OID({})", hex(other, "")),
            };
            let text = String::from_utf8_lossy(value.content);
            let escaped: String = text
                .chars()
                .flat_map(|c| {
                    let escape = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=');
                    escape.then_some('\\').into_iter().chain(std::iter::once(c))
                })
                .collect();
            attributes.push(format!("{label}={escaped}"));
        }
        parts.push(attributes.join("+"));
    }
    parts.join(",")
}

// ---------------------------------------------------------------- DER writing

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes: minimal, with a
/// leading zero when the high bit is set (X.690 §8.3).
fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let mut content = magnitude[skip..].to_vec();
    if content.first().is_none_or(|&b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    tlv(INTEGER, &content)
}

/// `Time` as Go writes it: UTCTime for 1950–2049, else GeneralizedTime
/// (RFC 5280 §4.1.2.5).
fn time(seconds: i64) -> Vec<u8> {
    let c = Civil::from_unix(seconds);
    let rest = format!("{:02}{:02}{:02}{:02}{:02}Z", c.month, c.day, c.hour, c.minute, c.second);
    if (1950..2050).contains(&c.year) {
        tlv(UTC_TIME, format!("{:02}{rest}", c.year % 100).as_bytes())
    } else {
        tlv(GENERALIZED_TIME, format!("{:04}{rest}", c.year).as_bytes())
    }
}

/// Go's `encoding/asn1` string choice for a Name value: PrintableString
/// when every character is printable (`*` allowed), else UTF8String.
fn directory_string(value: &str) -> Vec<u8> {
    let printable = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?*".contains(&b));
    tlv(if printable { PRINTABLE_STRING } else { UTF8_STRING }, value.as_bytes())
}

fn extension(id: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let id = tlv(OID, id);
    let value = tlv(OCTET_STRING, value);
    if critical {
        sequence(&[&id, &tlv(BOOLEAN, &[0xff]), &value])
    } else {
        sequence(&[&id, &value])
    }
}

// ---------------------------------------------------------------- issuing

/// A CA certificate and its signing key, checked to belong together.
pub struct CertificateAuthority {
    key: SigningKey,
    certificate: CaCertificate,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject", &self.subject())
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// `ParseCASecret` then `ParseECPrivateKey` and `ParseCertificate`:
    /// both keys present, the key's first PEM block `EC PRIVATE KEY` (SEC1,
    /// P-256), the certificate's first block `CERTIFICATE`, and the key
    /// matching the certificate (as `tls.X509KeyPair`).
    pub fn from_pem(ca_crt: Option<&[u8]>, ca_key: Option<&[u8]>) -> Result<Self, PkiError> {
        let ca_key = ca_key.ok_or(PkiError::MissingCaKey)?;
        let ca_crt = ca_crt.ok_or(PkiError::MissingCaCert)?;
        let (label, key_der) = first_pem_block(ca_key).ok_or(PkiError::NotPem("ca.key"))?;
        if label != EC_PRIVATE_KEY {
            return Err(PkiError::KeyBlockType(label));
        }
        let secret = SecretKey::from_sec1_der(&key_der).map_err(|_| PkiError::UnsupportedKey)?;
        let (label, cert_der) = first_pem_block(ca_crt).ok_or(PkiError::NotPem("ca.crt"))?;
        if label != CERTIFICATE {
            return Err(PkiError::CertBlockType(label));
        }
        let certificate = parse_ca_certificate(&cert_der)?;
        let certified = PublicKey::from_sec1_bytes(&certificate.public_key).map_err(|_| PkiError::KeyMismatch)?;
        if certified != secret.public_key() {
            return Err(PkiError::KeyMismatch);
        }
        Ok(CertificateAuthority {
            key: SigningKey::from(secret),
            certificate,
        })
    }

    /// The CA's subject as text, e.g. `CN=pg,OU=db`.
    pub fn subject(&self) -> String {
        name_to_string(&self.certificate.subject)
    }
}

/// A fresh leaf key from 32 random bytes; `None` in the negligible case
/// that they are not a valid P-256 scalar (draw again).
pub fn leaf_key_from_bytes(bytes: &[u8; 32]) -> Option<SecretKey> {
    SecretKey::from_slice(bytes).ok()
}

/// What was issued: the PEM texts for the Secret and the facts for the
/// answer (never the key).
pub struct IssuedCertificate {
    pub certificate_der: Vec<u8>,
    /// `tls.crt`: the leaf only, no chain (as the plugin).
    pub certificate_pem: String,
    /// `tls.key`: SEC1 `EC PRIVATE KEY` PEM (`x509.MarshalECPrivateKey`).
    pub private_key_pem: String,
    pub subject: String,
    pub issuer: String,
    /// Uppercase hex, no separators (as `openssl x509 -serial`).
    pub serial_hex: String,
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the certificate DER, `AB:CD:…` (as `openssl x509 -fingerprint -sha256`).
    pub sha256_fingerprint: String,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("subject", &self.subject)
            .field("serial_hex", &self.serial_hex)
            .finish_non_exhaustive()
    }
}

/// `createAndSignPairWithValidity(user, CertTypeClient, nil)`: a client
/// certificate for `user` signed by `ca`, valid from `now` − 5 minutes for
/// 90 days, with serial `serial` (128 random bits) and key `leaf_key`.
pub fn issue(
    ca: &CertificateAuthority,
    user: &str,
    now: i64,
    leaf_key: &SecretKey,
    serial: [u8; 16],
) -> Result<IssuedCertificate, PkiError> {
    check_user(user)?;
    let not_before = now - BACKDATE_SECONDS;
    let not_after = not_before + VALIDITY_SECONDS;
    // `rand.Int(rand.Reader, 2^128)`; zero is no valid serial (RFC 5280
    // §4.1.2.2), so it becomes 1.
    let mut serial = serial;
    if serial.iter().all(|&b| b == 0) {
        serial[15] = 1;
    }
    let ecdsa_sha256 = sequence(&[&tlv(OID, OID_ECDSA_SHA256)]);
    let subject = sequence(&[&tlv(
        SET,
        &sequence(&[&tlv(OID, OID_COMMON_NAME), &directory_string(user)]),
    )]);
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&leaf_key.public_key(), false);
    let spki = sequence(&[
        &sequence(&[&tlv(OID, OID_EC_PUBLIC_KEY), &tlv(OID, OID_PRIME256V1)]),
        &tlv(BIT_STRING, &[&[0u8][..], point.as_bytes()].concat()),
    ]);
    // Go's order (`buildCertExtensions`): key usage, extended key usage,
    // basic constraints, (no subject key id for a leaf), authority key id.
    // digitalSignature (bit 0) | keyAgreement (bit 4): 0b1000_1000, 3
    // unused bits; critical, as Go marks it.
    let mut extensions = extension(OID_KEY_USAGE, true, &tlv(BIT_STRING, &[0x03, 0x88]));
    extensions.extend(extension(
        OID_EXT_KEY_USAGE,
        false,
        &sequence(&[&tlv(OID, OID_CLIENT_AUTH)]),
    ));
    // `BasicConstraintsValid: true, IsCA: false`: cA is DEFAULT FALSE and
    // omitted, so the value is an empty SEQUENCE; critical, as Go marks it.
    extensions.extend(extension(OID_BASIC_CONSTRAINTS, true, &sequence(&[])));
    if let Some(key_id) = &ca.certificate.key_id {
        extensions.extend(extension(
            OID_AUTHORITY_KEY_ID,
            false,
            &sequence(&[&tlv(KEY_ID, key_id)]),
        ));
    }
    let tbs = sequence(&[
        &tlv(CONTEXT_0, &tlv(INTEGER, &[2])),
        &unsigned_integer(&serial),
        &ecdsa_sha256,
        &ca.certificate.subject,
        &sequence(&[&time(not_before), &time(not_after)]),
        &subject,
        &spki,
        &tlv(CONTEXT_3, &tlv(SEQUENCE, &extensions)),
    ]);
    let signature: DerSignature = ca.key.sign(&tbs);
    let signature_bits = [&[0u8][..], signature.as_bytes()].concat();
    let certificate_der = sequence(&[&tbs, &ecdsa_sha256, &tlv(BIT_STRING, &signature_bits)]);
    let key_der = leaf_key
        .to_sec1_der()
        .map_err(|_| PkiError::Internal("encoding the new key"))?;
    let digest = Sha256::digest(&certificate_der);
    Ok(IssuedCertificate {
        certificate_pem: pem_encode(CERTIFICATE, &certificate_der),
        private_key_pem: pem_encode(EC_PRIVATE_KEY, &key_der),
        subject: name_to_string(&subject),
        issuer: ca.subject(),
        serial_hex: hex(&serial[serial.iter().take_while(|&&b| b == 0).count()..], "").to_uppercase(),
        not_before,
        not_after,
        sha256_fingerprint: hex(&digest, ":").to_uppercase(),
        certificate_der,
    })
}

fn hex(bytes: &[u8], separator: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(separator)
}

#[cfg(test)]
mod tests;
