//! Crafting tokens in process (for the negative tests): signing keys made
//! with the `openssl` command line, JWKS documents, and JWTs with any
//! header and claims, including malformed ones.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

/// A private key and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// PEM of the public key (for "RSA public key as HMAC secret").
    pub public_pem: Vec<u8>,
}

fn openssl(args: &[&str]) -> Vec<u8> {
    // The server's jsonwebtoken backend, installed before any use here.
    cnpg_mcp::auth::crypto::install();
    let output = Command::new("openssl").args(args).output().expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

impl TestKey {
    /// RSA key of `bits` for RS256/PS256.
    pub fn rsa(dir: &Path, kid: &str, bits: u32, alg: Algorithm) -> TestKey {
        let private = dir.join(format!("{kid}.pem"));
        let private_s = private.to_str().unwrap();
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
            "-out",
            private_s,
        ]);
        let public_pem = openssl(&["pkey", "-in", private_s, "-pubout"]);
        let pem = std::fs::read(&private).unwrap();
        let encoding = EncodingKey::from_rsa_pem(&pem).unwrap();
        Self::finish(kid, alg, encoding, public_pem)
    }

    /// EC P-256 key for ES256.
    pub fn ec(dir: &Path, kid: &str) -> TestKey {
        let private = dir.join(format!("{kid}.pem"));
        let private_s = private.to_str().unwrap();
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            private_s,
        ]);
        let public_pem = openssl(&["pkey", "-in", private_s, "-pubout"]);
        // PKCS#8 DER is what jsonwebtoken reads for EC.
        let der = openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", private_s, "-outform", "DER"]);
        let encoding = EncodingKey::from_ec_der(&der);
        Self::finish(kid, Algorithm::ES256, encoding, public_pem)
    }

    fn finish(kid: &str, alg: Algorithm, encoding: EncodingKey, public_pem: Vec<u8>) -> TestKey {
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, alg).unwrap();
        let mut jwk = serde_json::to_value(jwk).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        TestKey {
            kid: kid.to_string(),
            alg,
            encoding,
            jwk,
            public_pem,
        }
    }

    /// A token with this key: `header` fields are merged over
    /// `{"alg", "typ": "at+jwt", "kid"}`.
    pub fn sign(&self, header: Value, claims: &Value) -> String {
        let mut full = json!({"alg": alg_name(self.alg), "typ": "at+jwt", "kid": self.kid});
        merge(&mut full, header);
        sign_raw(&full.to_string(), &claims.to_string(), &self.encoding, self.alg)
    }
}

/// Sets the keys of `extra` on `base` (`null` removes a key).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        for (key, value) in extra {
            if value.is_null() {
                base.remove(&key);
            } else {
                base.insert(key, value);
            }
        }
    }
}

pub fn alg_name(alg: Algorithm) -> &'static str {
    cnpg_mcp::auth::token::alg_name(alg)
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs exactly the given header and payload texts (so tests can send
/// duplicate members or odd encodings).
pub fn sign_raw(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// A JWKS document with `keys`.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
