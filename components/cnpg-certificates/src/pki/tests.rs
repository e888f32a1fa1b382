//! The issued certificate checked by two independent readers: `x509-parser`
//! for its fields and the `openssl` CLI for the chain. The CA is made the
//! way the operator makes one (`createCAWithValidity`): ECDSA P-256, SEC1
//! `EC PRIVATE KEY`, `CN=<cluster>, OU=<namespace>`, keyCertSign, CA:true.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;

/// 2026-11-29T04:23:21Z.
const NOW: i64 = 1_795_926_201;
const SERIAL: [u8; 16] = [
    0x9a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];

fn scratch() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cnpg-certificates-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An openssl command that must fail: its stdout and stderr.
fn openssl_refusal(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI runs");
    assert!(!out.status.success(), "openssl {args:?} succeeded");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A CA as the operator makes it, in `dir`: `ca.key`, `ca.crt`.
fn operator_ca(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    openssl(
        dir,
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/OU=db/CN=pg",
            "-days",
            "90",
            "-out",
            "ca.crt",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    );
    (
        std::fs::read(dir.join("ca.crt")).unwrap(),
        std::fs::read(dir.join("ca.key")).unwrap(),
    )
}

fn leaf_key() -> SecretKey {
    leaf_key_from_bytes(&[7u8; 32]).unwrap()
}

fn issue_in(dir: &Path, user: &str) -> (CertificateAuthority, IssuedCertificate) {
    issue_at(dir, user, NOW)
}

fn issue_at(dir: &Path, user: &str, now: i64) -> (CertificateAuthority, IssuedCertificate) {
    let (crt, key) = operator_ca(dir);
    let ca = CertificateAuthority::from_pem(Some(&crt), Some(&key)).unwrap();
    let issued = issue(&ca, user, now, &leaf_key(), SERIAL).unwrap();
    std::fs::write(dir.join("leaf.crt"), &issued.certificate_pem).unwrap();
    std::fs::write(dir.join("leaf.key"), &issued.private_key_pem).unwrap();
    (ca, issued)
}

fn ca_der(dir: &Path) -> Vec<u8> {
    first_pem_block(&std::fs::read(dir.join("ca.crt")).unwrap()).unwrap().1
}

#[test]
fn openssl_verifies_the_chain_for_client_use() {
    let dir = scratch();
    // The CA openssl makes is valid from the wall clock on; the leaf is
    // issued "10 minutes from now", so its backdated start is after the CA's.
    let now = cnpg_mcp_sdk::time::now_unix() + 600;
    issue_at(&dir, "app", now);
    let at = (now + 60).to_string();
    let out = openssl(
        &dir,
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "-purpose",
            "sslclient",
            "-x509_strict",
            "-attime",
            &at,
            "leaf.crt",
        ],
    );
    assert_eq!(out.trim(), "leaf.crt: OK");
    // Not valid before the backdated NotBefore, nor for server use.
    let early = (now - BACKDATE_SECONDS - 1).to_string();
    let early_refusal = openssl_refusal(&dir, &["verify", "-CAfile", "ca.crt", "-attime", &early, "leaf.crt"]);
    assert!(
        early_refusal.contains("certificate is not yet valid"),
        "{early_refusal}"
    );
    let server_refusal = openssl_refusal(
        &dir,
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "-purpose",
            "sslserver",
            "-attime",
            &at,
            "leaf.crt",
        ],
    );
    assert!(
        server_refusal.contains("unsuitable certificate purpose"),
        "{server_refusal}"
    );
}

#[test]
fn the_key_is_sec1_and_belongs_to_the_certificate() {
    let dir = scratch();
    issue_in(&dir, "app");
    let key = std::fs::read_to_string(dir.join("leaf.key")).unwrap();
    assert!(key.starts_with("-----BEGIN EC PRIVATE KEY-----\n"), "{key}");
    openssl(&dir, &["ec", "-in", "leaf.key", "-check", "-noout"]);
    let from_key = openssl(&dir, &["pkey", "-in", "leaf.key", "-pubout"]);
    let from_cert = openssl(&dir, &["x509", "-in", "leaf.crt", "-noout", "-pubkey"]);
    assert_eq!(from_key, from_cert);
}

#[test]
fn the_certificate_is_the_plugins_client_certificate() {
    let dir = scratch();
    let (_, issued) = issue_in(&dir, "app_user");
    let ca_bytes = ca_der(&dir);
    let (_, ca) = X509Certificate::from_der(&ca_bytes).unwrap();
    let (rest, cert) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    assert!(rest.is_empty());

    assert_eq!(cert.version().0, 2, "X.509 v3");
    assert_eq!(
        cert.raw_serial(),
        &[&[0u8][..], &SERIAL].concat()[..],
        "positive: a leading zero byte"
    );
    assert_eq!(issued.serial_hex, "9A0102030405060708090A0B0C0D0E0F");
    // Subject: CN=<user> only (UTF8String: `_` is not printable).
    assert_eq!(cert.subject().to_string(), "CN=app_user");
    assert_eq!(cert.subject().iter_attributes().count(), 1);
    assert_eq!(issued.subject, "CN=app_user");
    // Issuer: the CA's subject, byte for byte.
    assert_eq!(cert.issuer().as_raw(), ca.subject().as_raw());
    assert_eq!(issued.issuer, "CN=pg,OU=db");
    // Validity: now - 5 min, plus 90 days.
    assert_eq!(cert.validity().not_before.timestamp(), NOW - 300);
    assert_eq!(cert.validity().not_after.timestamp(), NOW - 300 + 90 * 86_400);
    assert_eq!(
        cnpg_mcp_sdk::time::format_seconds(issued.not_after),
        "2027-02-27T04:18:21Z"
    );
    // ecdsa-with-SHA256, in both places.
    assert_eq!(cert.signature_algorithm.algorithm.to_id_string(), "1.2.840.10045.4.3.2");
    assert_eq!(
        cert.tbs_certificate.signature.algorithm.to_id_string(),
        "1.2.840.10045.4.3.2"
    );
    assert!(cert.signature_algorithm.parameters.is_none());
    // Usages.
    let key_usage = cert.key_usage().unwrap().unwrap();
    assert!(key_usage.critical);
    assert!(key_usage.value.digital_signature() && key_usage.value.key_agreement());
    assert_eq!(key_usage.value.flags, 0b1_0001, "digitalSignature | keyAgreement only");
    let eku = cert.extended_key_usage().unwrap().unwrap();
    assert!(!eku.critical);
    assert!(eku.value.client_auth && !eku.value.server_auth && !eku.value.any && eku.value.other.is_empty());
    let basic = cert.basic_constraints().unwrap().unwrap();
    assert!(basic.critical && !basic.value.ca && basic.value.path_len_constraint.is_none());
    // AKI = the CA's SKI; no SKI and no SAN on the leaf (Go adds neither).
    let ca_ski = ca
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
        .expect("openssl gives the CA a subject key id");
    let mut kinds = Vec::new();
    for extension in cert.extensions() {
        kinds.push(extension.oid.to_id_string());
        if let ParsedExtension::AuthorityKeyIdentifier(aki) = extension.parsed_extension() {
            assert_eq!(aki.key_identifier.as_ref().unwrap().0, &ca_ski[..]);
            assert!(aki.authority_cert_issuer.is_none() && aki.authority_cert_serial.is_none());
            assert!(!extension.critical);
        }
    }
    assert_eq!(
        kinds,
        ["2.5.29.15", "2.5.29.37", "2.5.29.19", "2.5.29.35"],
        "Go's order"
    );
    // The public key is the leaf key's.
    let point = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&leaf_key().public_key(), false);
    assert_eq!(cert.public_key().subject_public_key.data.as_ref(), point.as_bytes());
    // Fingerprint as openssl prints it.
    let printed = openssl(&dir, &["x509", "-in", "leaf.crt", "-noout", "-fingerprint", "-sha256"]);
    assert_eq!(
        printed.trim(),
        format!("sha256 Fingerprint={}", issued.sha256_fingerprint)
    );
    let printed = openssl(&dir, &["x509", "-in", "leaf.crt", "-noout", "-serial"]);
    assert_eq!(printed.trim(), format!("serial={}", issued.serial_hex));
}

#[test]
fn the_signature_verifies_with_the_ca_public_key() {
    let dir = scratch();
    let (_, issued) = issue_in(&dir, "app");
    let ca_bytes = ca_der(&dir);
    let (_, ca) = X509Certificate::from_der(&ca_bytes).unwrap();
    let ca_key = VerifyingKey::from_sec1_bytes(ca.public_key().subject_public_key.data.as_ref()).unwrap();
    let (_, cert) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    let signature = DerSignature::from_bytes(cert.signature_value.data.as_ref()).unwrap();
    ca_key.verify(cert.tbs_certificate.as_ref(), &signature).unwrap();
    // Another CA's key does not verify it.
    let other = scratch();
    operator_ca(&other);
    let other_der = ca_der(&other);
    let (_, other_ca) = X509Certificate::from_der(&other_der).unwrap();
    let other_key = VerifyingKey::from_sec1_bytes(other_ca.public_key().subject_public_key.data.as_ref()).unwrap();
    assert!(other_key.verify(cert.tbs_certificate.as_ref(), &signature).is_err());
}

#[test]
fn printable_names_are_printable_strings() {
    let dir = scratch();
    let (_, issued) = issue_in(&dir, "app");
    let (_, cert) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    let cn = cert.subject().iter_common_name().next().unwrap();
    assert_eq!(cn.attr_value().tag().0, 19, "PrintableString, as Go writes `app`");
    assert_eq!(cn.as_str().unwrap(), "app");
}

#[test]
fn serials_are_positive_minimal_integers() {
    assert_eq!(unsigned_integer(&[0x80, 1]), [INTEGER, 3, 0, 0x80, 1]);
    assert_eq!(unsigned_integer(&[0, 0, 0x7f]), [INTEGER, 1, 0x7f]);
    assert_eq!(unsigned_integer(&[0, 0]), [INTEGER, 1, 0]);
    let dir = scratch();
    let (crt, key) = operator_ca(&dir);
    let ca = CertificateAuthority::from_pem(Some(&crt), Some(&key)).unwrap();
    let issued = issue(&ca, "app", NOW, &leaf_key(), [0; 16]).unwrap();
    assert_eq!(issued.serial_hex, "01", "a zero draw becomes 1");
    let mut small = [0u8; 16];
    small[15] = 0xab;
    let issued = issue(&ca, "app", NOW, &leaf_key(), small).unwrap();
    let (_, cert) = X509Certificate::from_der(&issued.certificate_der).unwrap();
    assert_eq!(cert.raw_serial(), &[0x00, 0xab][..]);
    assert_eq!(issued.serial_hex, "AB");
}

#[test]
fn times_switch_to_generalized_time_in_2050() {
    assert_eq!(time(NOW), tlv(UTC_TIME, b"261129042321Z"));
    // 2050-01-01T00:00:00Z.
    assert_eq!(time(2_524_608_000), tlv(GENERALIZED_TIME, b"20500101000000Z"));
}

#[test]
fn pem_blocks_are_read_like_go() {
    let block = pem_encode("CERTIFICATE", &[1, 2, 3]);
    let chain = format!("junk before\n{block}{}", pem_encode("CERTIFICATE", &[4]));
    assert_eq!(
        first_pem_block(chain.as_bytes()),
        Some(("CERTIFICATE".into(), vec![1, 2, 3]))
    );
    let with_header = "-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n\nAQID\n-----END X-----\n";
    assert_eq!(
        first_pem_block(with_header.as_bytes()),
        Some(("X".into(), vec![1, 2, 3]))
    );
    assert_eq!(first_pem_block(b"not pem at all"), None);
    assert_eq!(first_pem_block(b"-----BEGIN X-----\n!!!\n-----END X-----\n"), None);
    assert_eq!(first_pem_block(b"-----BEGIN X-----\nAQID\n-----END Y-----\n"), None);
    let long = pem_encode("CERTIFICATE", &[0u8; 100]);
    assert!(long.lines().all(|line| line.len() <= 64));
}

fn refusal(crt: Option<&[u8]>, key: Option<&[u8]>) -> PkiError {
    CertificateAuthority::from_pem(crt, key).unwrap_err()
}

#[test]
fn ca_pairs_the_plugin_cannot_sign_with_are_refused() {
    let dir = scratch();
    let (crt, key) = operator_ca(&dir);
    // Missing data, checked key first as `ParseCASecret`.
    assert_eq!(refusal(None, None), PkiError::MissingCaKey);
    assert_eq!(refusal(Some(&crt), None), PkiError::MissingCaKey);
    assert_eq!(refusal(None, Some(&key)), PkiError::MissingCaCert);
    assert!(
        refusal(Some(&crt), None)
            .to_string()
            .contains("the operator does not hold this CA's key")
    );
    // Garbage.
    assert_eq!(refusal(Some(&crt), Some(b"garbage")), PkiError::NotPem("ca.key"));
    assert_eq!(refusal(Some(b"garbage"), Some(&key)), PkiError::NotPem("ca.crt"));
    let not_sec1 = pem_encode("EC PRIVATE KEY", b"not DER");
    assert_eq!(refusal(Some(&crt), Some(not_sec1.as_bytes())), PkiError::UnsupportedKey);
    let not_x509 = pem_encode("CERTIFICATE", b"not DER");
    assert!(matches!(
        refusal(Some(not_x509.as_bytes()), Some(&key)),
        PkiError::BadCertificate(_)
    ));
    // PKCS#8 and RSA keys: `invalid private key PEM block type`.
    openssl(
        &dir,
        &["pkcs8", "-topk8", "-nocrypt", "-in", "ca.key", "-out", "ca.pk8"],
    );
    let pkcs8 = std::fs::read(dir.join("ca.pk8")).unwrap();
    let error = refusal(Some(&crt), Some(&pkcs8));
    assert_eq!(error, PkiError::KeyBlockType("PRIVATE KEY".into()));
    assert!(error.to_string().contains("invalid private key PEM block type"));
    openssl(&dir, &["genrsa", "-traditional", "-out", "rsa.key", "2048"]);
    let rsa = std::fs::read(dir.join("rsa.key")).unwrap();
    assert_eq!(
        refusal(Some(&crt), Some(&rsa)),
        PkiError::KeyBlockType("RSA PRIVATE KEY".into())
    );
    // An EC key on another curve.
    openssl(
        &dir,
        &["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "p384.key"],
    );
    let p384 = std::fs::read(dir.join("p384.key")).unwrap();
    assert_eq!(refusal(Some(&crt), Some(&p384)), PkiError::UnsupportedKey);
    // A key of another CA; a certificate first in ca.crt that is not one.
    let other = scratch();
    let (_, other_key) = operator_ca(&other);
    assert_eq!(refusal(Some(&crt), Some(&other_key)), PkiError::KeyMismatch);
    assert_eq!(
        refusal(Some(&key), Some(&key)),
        PkiError::CertBlockType("EC PRIVATE KEY".into())
    );
    // Error texts never carry the key.
    for error in [refusal(Some(&crt), Some(&other_key)), refusal(Some(&crt), Some(&pkcs8))] {
        assert!(!error.to_string().contains("BEGIN"));
    }
}

#[test]
fn only_postgres_role_names_become_common_names() {
    for good in ["app", "app_user", "_x", "a-b", &"a".repeat(63)] {
        assert_eq!(check_user(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "App",
        "1app",
        "app user",
        "app,O=evil",
        "app\u{e9}",
        "-app",
        &"a".repeat(64),
    ] {
        assert!(matches!(check_user(bad), Err(PkiError::InvalidUser(_))), "{bad:?}");
    }
    let dir = scratch();
    let (crt, key) = operator_ca(&dir);
    let ca = CertificateAuthority::from_pem(Some(&crt), Some(&key)).unwrap();
    assert!(matches!(
        issue(&ca, "CN=x", NOW, &leaf_key(), SERIAL),
        Err(PkiError::InvalidUser(_))
    ));
}
