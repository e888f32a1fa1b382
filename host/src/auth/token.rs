//! Bearer token validation: the `Authorization` header, the compact JWS, its
//! header and claims, the signature (jsonwebtoken with an explicit
//! `Validation`) and the rules jsonwebtoken does not cover (typ, crit,
//! duplicate members, iat, claim types, scopes). Pure logic: keys come from
//! a [`KeyLookup`]; every failure is a [`Rejection`] with the message the
//! client sees and a reason for the log.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Largest `Authorization` header accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Longest `kid` looked up.
const MAX_KID: usize = 256;

/// How strictly the JOSE `typ` header is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypPolicy {
    /// RFC 9068 access tokens only: `typ` is `at+jwt`.
    Strict,
    /// Also `JWT` or no `typ` (IdPs that issue plain JWT access tokens).
    LegacyJwt,
}

/// The validation rules, from configuration.
#[derive(Debug, Clone)]
pub struct TokenRules {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub leeway_seconds: u64,
    pub typ: TypPolicy,
    pub username_claim: String,
    pub groups_claim: String,
}

/// A validated token's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub subject: String,
    pub issuer: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    pub jti: Option<String>,
    /// `sid`: the facade session a token of ours belongs to.
    pub session: Option<String>,
    /// Time left until `exp` (plus leeway) when validated.
    pub expires_in: std::time::Duration,
}

/// Why a token was refused. `description` goes to the client
/// (`error_description`), `detail` only to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub description: &'static str,
    pub detail: String,
    /// `sub` and `jti` when the payload could be read (for the log).
    pub subject: Option<String>,
    pub jti: Option<String>,
    /// The token names a `kid` this server does not know (a key refresh may help).
    pub unknown_kid: bool,
}

impl Rejection {
    fn new(description: &'static str, detail: impl Into<String>) -> Self {
        Rejection {
            description,
            detail: detail.into(),
            subject: None,
            jti: None,
            unknown_kid: false,
        }
    }
}

pub const MALFORMED: &str = "Invalid Authorization header";
pub const MALFORMED_TOKEN: &str = "Malformed token";
pub const FAILED: &str = "Token verification failed";
pub const BAD_ISSUER: &str = "Invalid issuer";
pub const BAD_AUDIENCE: &str = "Invalid audience";
pub const EXPIRED: &str = "Token expired";

/// One verification key.
#[derive(Clone)]
pub struct VerificationKey {
    pub kid: Option<String>,
    pub key: DecodingKey,
    /// `RSA` or `EC`.
    pub kty: String,
    /// `P-256` / `P-384` for EC keys.
    pub curve: Option<String>,
    /// The JWK's own `alg`, if it states one.
    pub alg: Option<String>,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("alg", &self.alg)
            .finish()
    }
}

impl VerificationKey {
    /// Whether this key may verify `alg` (kty and curve match, the JWK's
    /// own `alg` agrees).
    pub fn fits(&self, alg: Algorithm) -> bool {
        let name = alg_name(alg);
        if self.alg.as_deref().is_some_and(|own| own != name) {
            return false;
        }
        match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => self.kty == "RSA",
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => self.kty == "RSA",
            Algorithm::ES256 => self.kty == "EC" && self.curve.as_deref() == Some("P-256"),
            Algorithm::ES384 => self.kty == "EC" && self.curve.as_deref() == Some("P-384"),
            _ => false,
        }
    }
}

/// Where keys come from.
pub trait KeyLookup {
    /// The keys published under `kid`, or every key when the token names none.
    fn keys(&self, kid: Option<&str>) -> Vec<VerificationKey>;
}

pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}

/// Parses an algorithm name; only asymmetric algorithms are accepted.
pub fn parse_alg(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        _ => return None,
    })
}

/// The bearer token of one `Authorization` header value set: exactly one
/// header, scheme `Bearer` (any case), one token of base64url and dots.
pub fn bearer<'a>(values: &[&'a [u8]]) -> Result<&'a str, Rejection> {
    let value = match values {
        [] => {
            return Err(Rejection::new(
                "Missing Authorization header",
                "no Authorization header",
            ));
        }
        [one] => *one,
        _ => return Err(Rejection::new(MALFORMED, "more than one Authorization header")),
    };
    if value.len() > MAX_HEADER_BYTES {
        return Err(Rejection::new(
            MALFORMED,
            format!("Authorization header of {} bytes", value.len()),
        ));
    }
    let text = std::str::from_utf8(value).map_err(|_| Rejection::new(MALFORMED, "header is not UTF-8"))?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or_else(|| Rejection::new(MALFORMED, "no token after the scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::new(MALFORMED, "the scheme is not Bearer"));
    }
    let token = token.trim_matches(' ');
    if token.is_empty()
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(Rejection::new(
            MALFORMED,
            "the token is empty or has characters outside base64url",
        ));
    }
    Ok(token)
}

/// A JSON value parsed with duplicate object members refused at any depth.
struct Strict(Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrictVisitor;
        impl<'de> Visitor<'de> for StrictVisitor {
            type Value = Strict;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
                Ok(Strict(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
                Ok(Strict(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
                Ok(Strict(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
                Ok(Strict(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
                Ok(Strict(Value::String(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Strict, E> {
                Ok(Strict(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
                let mut items = Vec::new();
                while let Some(Strict(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Strict(Value::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
                let mut object = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    let Strict(value) = map.next_value()?;
                    if object.insert(key.clone(), value).is_some() {
                        return Err(de::Error::custom(format!("duplicate member `{key}`")));
                    }
                }
                Ok(Strict(Value::Object(object)))
            }
        }
        deserializer.deserialize_any(StrictVisitor)
    }
}

fn segment(part: &str, what: &str) -> Result<serde_json::Map<String, Value>, Rejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| Rejection::new(MALFORMED_TOKEN, format!("{what} is not base64url: {e}")))?;
    match serde_json::from_slice::<Strict>(&bytes) {
        Ok(Strict(Value::Object(map))) => Ok(map),
        Ok(_) => Err(Rejection::new(MALFORMED_TOKEN, format!("{what} is not a JSON object"))),
        Err(e) => Err(Rejection::new(
            MALFORMED_TOKEN,
            format!("{what} is not valid JSON: {e}"),
        )),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A NumericDate claim: a non-negative number within 2^53.
fn numeric_date(claims: &serde_json::Map<String, Value>, name: &str) -> Result<Option<u64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let value = n.as_f64().unwrap_or(f64::NAN);
            if value.is_finite() && (0.0..9.007_199_254_740_992e15).contains(&value) {
                Ok(Some(value as u64))
            } else {
                Err(Rejection::new(FAILED, format!("`{name}` is out of range")))
            }
        }
        Some(_) => Err(Rejection::new(FAILED, format!("`{name}` is not a number"))),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// Validates `token` against `rules` with keys from `keys`.
pub fn validate(token: &str, rules: &TokenRules, keys: &dyn KeyLookup) -> Result<Verified, Rejection> {
    super::crypto::install();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(Rejection::new(
            MALFORMED_TOKEN,
            format!("a compact JWS has 3 non-empty parts, this token has {}", parts.len()),
        ));
    }
    let header = segment(parts[0], "the JOSE header")?;
    let claims = segment(parts[1], "the payload")?;
    let subject = claims.get("sub").and_then(Value::as_str).map(str::to_string);
    let jti = claims.get("jti").and_then(Value::as_str).map(str::to_string);
    let with_ids = |mut rejection: Rejection| {
        rejection.subject.clone_from(&subject);
        rejection.jti.clone_from(&jti);
        rejection
    };

    // Header rules.
    let alg_text = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let alg = parse_alg(alg_text)
        .filter(|alg| rules.algorithms.contains(alg))
        .ok_or_else(|| with_ids(Rejection::new(FAILED, format!("algorithm `{alg_text}` is not allowed"))))?;
    if header.contains_key("crit") {
        return Err(with_ids(Rejection::new(
            FAILED,
            "`crit` header parameters are not understood",
        )));
    }
    if header.contains_key("enc")
        || header
            .get("cty")
            .and_then(Value::as_str)
            .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
    {
        return Err(with_ids(Rejection::new(
            FAILED,
            "encrypted or nested tokens are not accepted",
        )));
    }
    let typ = header.get("typ").map(|t| t.as_str().map(str::to_ascii_lowercase));
    let typ_ok = match (rules.typ, typ) {
        (_, Some(Some(t))) if t == "at+jwt" || t == "application/at+jwt" => true,
        (TypPolicy::LegacyJwt, None) => true,
        (TypPolicy::LegacyJwt, Some(Some(t))) => t == "jwt",
        _ => false,
    };
    if !typ_ok {
        return Err(with_ids(Rejection::new(
            FAILED,
            "the token's `typ` is not an access token type",
        )));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= MAX_KID && !kid.contains('\0') => Some(kid.as_str()),
        Some(_) => return Err(with_ids(Rejection::new(FAILED, "unusable `kid`"))),
    };

    // Key: by kid from the issuer's JWKS only; without a kid, the single
    // key that fits the algorithm.
    let published = keys.keys(kid);
    if kid.is_none() && published.len() > 1 {
        return Err(with_ids(Rejection::new(
            FAILED,
            "the token names no key and the issuer has several",
        )));
    }
    let candidates: Vec<VerificationKey> = published.into_iter().filter(|k| k.fits(alg)).collect();
    let key = match (kid, candidates.len()) {
        (_, 1) => &candidates[0],
        (Some(kid), 0) => {
            let mut rejection = with_ids(Rejection::new(FAILED, format!("no key `{kid}` for {alg_text}")));
            rejection.unknown_kid = true;
            return Err(rejection);
        }
        (None, 0) => return Err(with_ids(Rejection::new(FAILED, format!("no key for {alg_text}")))),
        (None, _) => {
            return Err(with_ids(Rejection::new(
                FAILED,
                "the token names no key and the issuer has several",
            )));
        }
        (Some(kid), _) => return Err(with_ids(Rejection::new(FAILED, format!("several keys named `{kid}`")))),
    };

    // Signature and registered claims.
    let mut validation = Validation::new(alg);
    validation.leeway = rules.leeway_seconds;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[rules.issuer.as_str()]);
    validation.set_audience(&rules.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Claim types first (jsonwebtoken would report them as a generic
    // deserialisation error).
    let exp = numeric_date(&claims, "exp").map_err(with_ids)?;
    let nbf = numeric_date(&claims, "nbf").map_err(with_ids)?;
    let iat = numeric_date(&claims, "iat").map_err(with_ids)?;
    if exp.is_none() {
        return Err(with_ids(Rejection::new(FAILED, "`exp` is missing")));
    }
    if let Err(error) = jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
        use jsonwebtoken::errors::ErrorKind as K;
        let description = match error.kind() {
            K::InvalidIssuer => BAD_ISSUER,
            K::InvalidAudience => BAD_AUDIENCE,
            K::ExpiredSignature => EXPIRED,
            _ => FAILED,
        };
        return Err(with_ids(Rejection::new(description, format!("jsonwebtoken: {error}"))));
    }
    let now = now();
    if nbf.is_some_and(|nbf| nbf > now + rules.leeway_seconds) {
        return Err(with_ids(Rejection::new(FAILED, "`nbf` is in the future")));
    }
    if iat.is_some_and(|iat| iat > now + rules.leeway_seconds) {
        return Err(with_ids(Rejection::new(FAILED, "`iat` is in the future")));
    }
    let Some(subject) = subject.clone().filter(|s| !s.is_empty()) else {
        return Err(with_ids(Rejection::new(FAILED, "`sub` is missing or empty")));
    };
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut scopes = strings(claims.get("scope"));
    if scopes.is_empty() {
        scopes = strings(claims.get("scp"));
    }
    scopes.truncate(256);
    let username = claims
        .get(&rules.username_claim)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let mut groups = match claims.get(&rules.groups_claim) {
        Some(Value::String(group)) => vec![group.clone()],
        other => strings(other.filter(|v| v.is_array())),
    };
    groups.truncate(256);
    let client_id = claims
        .get("client_id")
        .or_else(|| claims.get("azp"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let expires_in = std::time::Duration::from_secs(
        exp.unwrap_or(0)
            .saturating_add(rules.leeway_seconds)
            .saturating_sub(now),
    );
    Ok(Verified {
        subject,
        issuer,
        username,
        groups,
        client_id,
        scopes,
        jti,
        session: claims.get("sid").and_then(Value::as_str).map(str::to_string),
        expires_in,
    })
}

/// Reads `sub`/`jti` of an unverified token for a log line, if possible.
pub fn peek_ids(token: &str) -> (Option<String>, Option<String>) {
    let Some(payload) = token.split('.').nth(1) else {
        return (None, None);
    };
    let Ok(claims) = segment(payload, "payload") else {
        return (None, None);
    };
    let get = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(128).collect())
    };
    (get("sub"), get("jti"))
}

/// A key set parsed from a JWKS document. Keys that are unusable (unknown
/// kty, short RSA modulus, not for signatures) are skipped, not fatal.
pub fn parse_jwks(document: &Value) -> (Vec<VerificationKey>, Vec<String>) {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    let Some(entries) = document.get("keys").and_then(Value::as_array) else {
        return (keys, vec!["the document has no `keys` array".into()]);
    };
    for entry in entries {
        let text = |name: &str| entry.get(name).and_then(Value::as_str);
        let kid = text("kid").map(str::to_string);
        let label = kid.clone().unwrap_or_else(|| "(no kid)".into());
        if text("use").is_some_and(|u| u != "sig") {
            skipped.push(format!("{label}: not a signing key"));
            continue;
        }
        let alg = text("alg").map(str::to_string);
        let parsed = match text("kty") {
            Some("RSA") => match (text("n"), text("e")) {
                (Some(n), Some(e)) => {
                    let bits = URL_SAFE_NO_PAD
                        .decode(n)
                        .map(|m| m.iter().skip_while(|b| **b == 0).count() * 8)
                        .unwrap_or(0);
                    if bits < 2048 {
                        skipped.push(format!("{label}: RSA modulus of {bits} bits (at least 2048 needed)"));
                        continue;
                    }
                    DecodingKey::from_rsa_components(n, e).map(|key| (key, "RSA", None))
                }
                _ => {
                    skipped.push(format!("{label}: RSA key without n/e"));
                    continue;
                }
            },
            Some("EC") => match (text("crv"), text("x"), text("y")) {
                (Some(crv @ ("P-256" | "P-384")), Some(x), Some(y)) => {
                    DecodingKey::from_ec_components(x, y).map(|key| (key, "EC", Some(crv.to_string())))
                }
                _ => {
                    skipped.push(format!("{label}: unsupported EC key"));
                    continue;
                }
            },
            other => {
                skipped.push(format!("{label}: unsupported kty {other:?}"));
                continue;
            }
        };
        match parsed {
            Ok((key, kty, curve)) => keys.push(VerificationKey {
                kid,
                key,
                kty: kty.into(),
                curve,
                alg,
            }),
            Err(e) => skipped.push(format!("{label}: {e}")),
        }
    }
    (keys, skipped)
}

/// Keys held in memory (tests and the cache's snapshot).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub keys: Vec<VerificationKey>,
}

impl KeyLookup for KeySet {
    fn keys(&self, kid: Option<&str>) -> Vec<VerificationKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .cloned()
                .collect(),
            None => self.keys.clone(),
        }
    }
}

/// Claims as a map, for tests that craft tokens.
pub type Claims = BTreeMap<String, Value>;
