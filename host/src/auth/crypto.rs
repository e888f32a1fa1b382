//! Signature verification for jsonwebtoken backed by `ring` (already in
//! the build for TLS). jsonwebtoken's pure-Rust backend rebuilt the RSA
//! key and ran constant-time big-number code on every token (measured:
//! RS256 ~73 us, ES256 ~197 us p50 per verification); ring verifies the
//! same signatures several times faster. Signing and key utilities (used
//! only by tests) stay with the pure-Rust backend.

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use ring::signature as ring_sig;

enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// PKCS#1 DER (RSA) or an uncompressed SEC1 point (EC).
    Encoded(Vec<u8>),
}

struct RingVerifier {
    algorithm: Algorithm,
    key: PublicKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let rsa: Option<&'static ring_sig::RsaParameters> = match self.algorithm {
            Algorithm::RS256 => Some(&ring_sig::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::RS384 => Some(&ring_sig::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::RS512 => Some(&ring_sig::RSA_PKCS1_2048_8192_SHA512),
            Algorithm::PS256 => Some(&ring_sig::RSA_PSS_2048_8192_SHA256),
            Algorithm::PS384 => Some(&ring_sig::RSA_PSS_2048_8192_SHA384),
            Algorithm::PS512 => Some(&ring_sig::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        let outcome = match (rsa, &self.key) {
            (Some(params), PublicKey::Rsa { n, e }) => {
                ring_sig::RsaPublicKeyComponents { n, e }.verify(params, message, signature)
            }
            (Some(params), PublicKey::Encoded(der)) => {
                ring_sig::UnparsedPublicKey::new(params, der).verify(message, signature)
            }
            (None, PublicKey::Encoded(point)) => {
                let params: &'static ring_sig::EcdsaVerificationAlgorithm = match self.algorithm {
                    Algorithm::ES256 => &ring_sig::ECDSA_P256_SHA256_FIXED,
                    Algorithm::ES384 => &ring_sig::ECDSA_P384_SHA384_FIXED,
                    _ => return Err(signature::Error::new()),
                };
                ring_sig::UnparsedPublicKey::new(params, point).verify(message, signature)
            }
            (None, PublicKey::Rsa { .. }) => return Err(signature::Error::new()),
        };
        outcome.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let supported = matches!(
        algorithm,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
    );
    if !supported {
        // HMAC and EdDSA: never accepted by the server; the pure-Rust
        // backend answers for completeness.
        return (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(algorithm, key);
    }
    let key = match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => PublicKey::Rsa {
            n: n.clone(),
            e: e.clone(),
        },
        DecodingKeyKind::SecretOrDer(bytes) => PublicKey::Encoded(bytes.clone()),
    };
    let rsa_alg = !matches!(algorithm, Algorithm::ES256 | Algorithm::ES384);
    let rsa_key = matches!(key, PublicKey::Rsa { .. }) || key_family_is_rsa(algorithm, &key);
    if rsa_alg != rsa_key {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(RingVerifier {
        algorithm: *algorithm,
        key,
    }))
}

/// An encoded key is an EC point when it starts with 0x04 and has the
/// length of one; everything else is taken as RSA DER.
fn key_family_is_rsa(algorithm: &Algorithm, key: &PublicKey) -> bool {
    match key {
        PublicKey::Rsa { .. } => true,
        PublicKey::Encoded(bytes) => {
            let ec_point = bytes.first() == Some(&0x04) && matches!(bytes.len(), 65 | 97);
            !ec_point && !matches!(algorithm, Algorithm::ES256 | Algorithm::ES384)
        }
    }
}

/// jsonwebtoken with ring verification (signing from the pure-Rust backend).
pub static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.signer_factory,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: RUST.key_utils.rsa_pub_components_from_private_key,
        rsa_pub_components_from_public_key: RUST.key_utils.rsa_pub_components_from_public_key,
        ec_pub_components_from_private_key: RUST.key_utils.ec_pub_components_from_private_key,
        ed_pub_components_from_private_key: RUST.key_utils.ed_pub_components_from_private_key,
        compute_digest: RUST.key_utils.compute_digest,
    },
};

use jsonwebtoken::crypto::KeyUtils;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as RUST;

/// Makes [`PROVIDER`] the process's jsonwebtoken backend. Must run before
/// anything else uses jsonwebtoken (the first use fixes the backend);
/// later calls do nothing.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::warn!("jsonwebtoken already had a crypto backend; token verification uses it");
        }
    });
}
