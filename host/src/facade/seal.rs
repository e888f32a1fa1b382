//! Secrets of the facade: the token signing key, encryption of stored
//! upstream secrets (AES-256-GCM, key derived with HKDF-SHA256), hashes of
//! the one-time values the store keys on, and random tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use sha2::Digest;

use crate::auth::token::VerificationKey;

/// `bytes` random bytes, base64url (no padding).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random source failed");
    B64.encode(buf)
}

/// SHA-256 of `text`, hex: how codes, refresh tokens and client secrets
/// are stored (they carry 256 random bits, so no salt or stretching is
/// needed).
pub fn digest(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Constant-time comparison of two digests.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The S256 PKCE challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    B64.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The facade's ES256 signing key.
pub struct SigningKey {
    pub kid: String,
    pub encoding: jsonwebtoken::EncodingKey,
    pub verification: VerificationKey,
    /// The public JWK, for `/jwks`.
    pub jwk: serde_json::Value,
    /// The PKCS#8 document, input of the store encryption key.
    pkcs8: Vec<u8>,
}

impl SigningKey {
    /// From a PEM file holding a PKCS#8 P-256 private key
    /// (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
    /// Also accepts a SEC1 `EC PRIVATE KEY` block (what `openssl ecparam
    /// -genkey` and Helm's `genPrivateKey "ecdsa"` write).
    pub fn from_pem(pem: &str) -> anyhow::Result<SigningKey> {
        let block = |label: &str| -> String {
            let begin = format!("-----BEGIN {label}-----");
            pem.lines()
                .map(str::trim)
                .skip_while(|l| *l != begin)
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .collect()
        };
        let decode = |body: String| {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| anyhow::anyhow!("the PEM body is not base64: {e}"))
        };
        let pkcs8 = block("PRIVATE KEY");
        if !pkcs8.is_empty() {
            return Self::from_pkcs8(decode(pkcs8)?);
        }
        let sec1 = block("EC PRIVATE KEY");
        if !sec1.is_empty() {
            return Self::from_pkcs8(wrap_sec1(&decode(sec1)?));
        }
        anyhow::bail!(
            "no `PRIVATE KEY` or `EC PRIVATE KEY` block (a P-256 key is needed: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
        )
    }

    /// A fresh key (tokens then die with the process).
    pub fn generate() -> anyhow::Result<SigningKey> {
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
        Self::from_pkcs8(document.as_ref().to_vec())
    }

    fn from_pkcs8(der: Vec<u8>) -> anyhow::Result<SigningKey> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
            .map_err(|e| anyhow::anyhow!("not a PKCS#8 P-256 private key: {e}"))?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            anyhow::bail!("unexpected P-256 public key encoding");
        }
        let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..]));
        let kid = B64.encode(&sha2::Sha256::digest(point)[..12]);
        let decoding = jsonwebtoken::DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| anyhow::anyhow!("cannot use the public key: {e}"))?;
        Ok(SigningKey {
            encoding: jsonwebtoken::EncodingKey::from_ec_der(&der),
            verification: VerificationKey {
                kid: Some(kid.clone()),
                key: decoding,
                kty: "EC".into(),
                curve: Some("P-256".into()),
                alg: Some("ES256".into()),
            },
            jwk: serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"}),
            kid,
            pkcs8: der,
        })
    }
}

/// DER length octets.
fn der_length(len: usize) -> Vec<u8> {
    match len {
        0..=127 => vec![len as u8],
        128..=255 => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

/// A SEC1 `ECPrivateKey` wrapped as the PKCS#8 `PrivateKeyInfo` of a P-256
/// key (RFC 5915, RFC 5208).
fn wrap_sec1(sec1: &[u8]) -> Vec<u8> {
    // version 0, AlgorithmIdentifier { id-ecPublicKey, prime256v1 }
    const HEAD: &[u8] = &[
        0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let mut octets = vec![0x04];
    octets.extend(der_length(sec1.len()));
    octets.extend_from_slice(sec1);
    let mut body = HEAD.to_vec();
    body.extend(octets);
    let mut out = vec![0x30];
    out.extend(der_length(body.len()));
    out.extend(body);
    out
}

/// Encrypts what the store must not hold in clear (upstream client secrets
/// and refresh tokens).
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// Key = HKDF-SHA256 of `secret` (the signing key's PKCS#8 document, or
    /// an operator-given key), so every replica with the same configuration
    /// can open what another sealed.
    pub fn derive(secret: &[u8]) -> Sealer {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"cnpg-mcp facade store");
        let prk = salt.extract(secret);
        let info: [&[u8]; 1] = [b"aes-256-gcm v1"];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Sealer {
            key: LessSafeKey::new(UnboundKey::from(okm)),
        }
    }

    pub fn for_key(key: &SigningKey) -> Sealer {
        Self::derive(&key.pkcs8)
    }

    /// `plaintext` sealed, bound to `context` (the record it belongs to).
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the operating system's random source failed");
        let mut buffer = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .expect("AES-GCM sealing of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        B64.encode(out)
    }

    /// Opens what [`Sealer::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> anyhow::Result<String> {
        let bytes = B64
            .decode(sealed)
            .map_err(|_| anyhow::anyhow!("sealed value is not base64url"))?;
        if bytes.len() < NONCE_LEN + 16 {
            anyhow::bail!("sealed value is too short");
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| anyhow::anyhow!("sealed value does not open with this key (was the signing key changed?)"))?;
        String::from_utf8(plain.to_vec()).map_err(|_| anyhow::anyhow!("sealed value is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let key = SigningKey::generate().unwrap();
        let sealer = Sealer::for_key(&key);
        let sealed = sealer.seal("client:a", "s3cret");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(sealer.open("client:a", &sealed).unwrap(), "s3cret");
        assert!(sealer.open("client:b", &sealed).is_err());
        let other = Sealer::for_key(&SigningKey::generate().unwrap());
        assert!(other.open("client:a", &sealed).is_err());
        assert_ne!(sealer.seal("client:a", "s3cret"), sealed, "a fresh nonce every time");
    }

    #[test]
    fn pkce_matches_the_rfc_7636_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_pem_key_round_trips_to_the_same_kid() {
        let key = SigningKey::generate().unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&key.pkcs8)
        );
        assert_eq!(SigningKey::from_pem(&pem).unwrap().kid, key.kid);
        assert!(SigningKey::from_pem("garbage").is_err());
    }

    #[test]
    fn a_sec1_key_from_openssl_is_accepted() {
        let Ok(output) = std::process::Command::new("openssl")
            .args(["ecparam", "-name", "prime256v1", "-genkey", "-noout"])
            .output()
        else {
            panic!("openssl is needed for this test");
        };
        let pem = String::from_utf8(output.stdout).unwrap();
        assert!(pem.contains("BEGIN EC PRIVATE KEY"), "{pem}");
        let key = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(key.jwk["crv"], "P-256");
    }
}
