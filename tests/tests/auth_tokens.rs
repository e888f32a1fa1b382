//! Token validation against crafted tokens (minted in process with keys
//! made by `openssl`): every header, algorithm, key and claim attack of
//! the negative list runs through `cnpg_mcp::auth::token::validate`, the
//! exact function the HTTP layer uses. The real IdP is used in `oauth.rs`.

use std::sync::OnceLock;

use cnpg_mcp::auth::token::{self, KeySet, Rejection, TokenRules, TypPolicy, parse_jwks};
use cnpg_mcp_tests::jwt::{TestKey, b64, jwks, now, sign_raw};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.test/realms/main";
const AUDIENCE: &str = "https://mcp.test/mcp";

struct Keys {
    rsa: TestKey,
    ec: TestKey,
    pss: TestKey,
    short: TestKey,
    attacker: TestKey,
    _dir: cnpg_mcp_tests::tempdir::TempDir,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = cnpg_mcp_tests::tempdir::TempDir::new("jwt-keys");
        Keys {
            rsa: TestKey::rsa(dir.path(), "rsa-1", 2048, Algorithm::RS256),
            ec: TestKey::ec(dir.path(), "ec-1"),
            pss: TestKey::rsa(dir.path(), "pss-1", 2048, Algorithm::PS256),
            short: TestKey::rsa(dir.path(), "short-1", 1024, Algorithm::RS256),
            attacker: TestKey::rsa(dir.path(), "attacker", 2048, Algorithm::RS256),
            _dir: dir,
        }
    })
}

fn published() -> KeySet {
    let k = keys();
    let (keys, skipped) = parse_jwks(&jwks(&[&k.rsa, &k.ec, &k.pss, &k.short]));
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains("1024 bits"), "{skipped:?}");
    KeySet { keys }
}

fn rules(typ: TypPolicy) -> TokenRules {
    TokenRules {
        issuer: ISSUER.into(),
        audiences: vec![AUDIENCE.into()],
        algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::PS256],
        leeway_seconds: 60,
        typ,
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
    }
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "exp": now() + 300, "iat": now(), "nbf": now(),
        "jti": "jti-1", "scope": "openid mcp:read", "preferred_username": "alice", "groups": ["dba", "dev"],
        "client_id": "claude"})
}

fn with(mut value: Value, extra: Value) -> Value {
    cnpg_mcp_tests::jwt::merge(&mut value, extra);
    value
}

fn check(token: &str) -> Result<token::Verified, Rejection> {
    token::validate(token, &rules(TypPolicy::Strict), &published())
}

fn refused(token: &str, description: &str) -> Rejection {
    match check(token) {
        Ok(verified) => panic!("accepted: {verified:?}"),
        Err(rejection) => {
            assert_eq!(rejection.description, description, "{rejection:?}");
            rejection
        }
    }
}

fn bearer(values: &[&str]) -> Result<String, Rejection> {
    let bytes: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
    token::bearer(&bytes).map(str::to_string)
}

#[test]
fn a_good_token_yields_the_caller() {
    let k = keys();
    for key in [&k.rsa, &k.ec, &k.pss] {
        let verified = check(&key.sign(json!({}), &claims())).unwrap_or_else(|r| panic!("{}: {r:?}", key.kid));
        assert_eq!(verified.subject, "user-1");
        assert_eq!(verified.issuer, ISSUER);
        assert_eq!(verified.username.as_deref(), Some("alice"));
        assert_eq!(verified.groups, vec!["dba", "dev"]);
        assert_eq!(verified.client_id.as_deref(), Some("claude"));
        assert_eq!(verified.scopes, vec!["openid", "mcp:read"]);
        assert_eq!(verified.jti.as_deref(), Some("jti-1"));
    }
    // `application/at+jwt` is the same type.
    assert!(check(&k.rsa.sign(json!({"typ": "application/at+jwt"}), &claims())).is_ok());
}

#[test]
fn the_authorization_header_format() {
    let token = keys().rsa.sign(json!({}), &claims());
    assert_eq!(bearer(&[]).unwrap_err().description, "Missing Authorization header");
    assert_eq!(bearer(&[&format!("Bearer {token}")]).unwrap(), token);
    assert_eq!(
        bearer(&[&format!("bearer {token}")]).unwrap(),
        token,
        "scheme is case-insensitive"
    );
    for bad in [
        "Basic dXNlcjpwYXNz".to_string(),
        "Bearer".to_string(),
        "Bearer ".to_string(),
        format!("Bearer {token}="),
        format!("Bearer {token} extra"),
        format!("Bearer\t{token}"),
        format!("Bearer {}", "a".repeat(9000)),
    ] {
        assert_eq!(
            bearer(&[&bad]).unwrap_err().description,
            token::MALFORMED,
            "{}",
            &bad[..bad.len().min(40)]
        );
    }
    let two = format!("Bearer {token}");
    assert_eq!(bearer(&[&two, &two]).unwrap_err().description, token::MALFORMED);
}

#[test]
fn malformed_tokens() {
    let token = keys().rsa.sign(json!({}), &claims());
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        "garbage".to_string(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.extra"),
        format!("{token}.a.b"), // five parts: JWE shape
        format!("{}..{}", parts[0], parts[2]),
        format!("{}.{}.", parts[0], parts[1]), // stripped signature
        format!("{}.{}.{}", parts[0], "!!!", parts[2]),
    ] {
        let rejection = refused(&bad, token::MALFORMED_TOKEN);
        assert!(!rejection.detail.is_empty());
    }
    // Duplicate members, in the header and in the claims, even when signed.
    let k = keys();
    let header = r#"{"alg":"RS256","typ":"at+jwt","kid":"rsa-1","kid":"rsa-1"}"#;
    let dup_header = sign_raw(header, &claims().to_string(), &k.rsa.encoding, Algorithm::RS256);
    assert!(
        refused(&dup_header, token::MALFORMED_TOKEN)
            .detail
            .contains("duplicate member `kid`")
    );
    let payload = claims().to_string().replacen('{', r#"{"sub":"admin","#, 1);
    let dup_claims = sign_raw(
        r#"{"alg":"RS256","typ":"at+jwt","kid":"rsa-1"}"#,
        &payload,
        &k.rsa.encoding,
        Algorithm::RS256,
    );
    assert!(
        refused(&dup_claims, token::MALFORMED_TOKEN)
            .detail
            .contains("duplicate member `sub`")
    );
    // A payload that is not an object.
    let array = sign_raw(
        r#"{"alg":"RS256","typ":"at+jwt","kid":"rsa-1"}"#,
        "[1]",
        &k.rsa.encoding,
        Algorithm::RS256,
    );
    refused(&array, token::MALFORMED_TOKEN);
}

#[test]
fn algorithm_attacks() {
    let k = keys();
    let payload = b64(claims().to_string().as_bytes());
    // alg none, in any casing, with and without a signature.
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": none, "typ": "at+jwt", "kid": "rsa-1"})
            .to_string()
            .as_bytes());
        refused(&format!("{header}.{payload}.sig"), token::FAILED);
        refused(&format!("{header}.{payload}."), token::MALFORMED_TOKEN);
    }
    // HS256 with the RSA public key as the HMAC secret.
    let hmac = EncodingKey::from_secret(&k.rsa.public_pem).unwrap();
    let forged = sign_raw(
        r#"{"alg":"HS256","typ":"at+jwt","kid":"rsa-1"}"#,
        &claims().to_string(),
        &hmac,
        Algorithm::HS256,
    );
    assert!(refused(&forged, token::FAILED).detail.contains("HS256"));
    // An RS256 header naming the EC key, and ES256 naming the RSA key.
    let mismatched = k.rsa.sign(json!({"kid": "ec-1"}), &claims());
    refused(&mismatched, token::FAILED);
    let mismatched = k.ec.sign(json!({"kid": "rsa-1"}), &claims());
    refused(&mismatched, token::FAILED);
    // Not in the allowlist (RS512 with a real key).
    let rs512 = sign_raw(
        r#"{"alg":"RS512","typ":"at+jwt","kid":"rsa-1"}"#,
        &claims().to_string(),
        &k.rsa.encoding,
        Algorithm::RS512,
    );
    assert!(refused(&rs512, token::FAILED).detail.contains("RS512"));
    // ES256 with r = s = 0.
    let header = b64(json!({"alg": "ES256", "typ": "at+jwt", "kid": "ec-1"})
        .to_string()
        .as_bytes());
    refused(&format!("{header}.{payload}.{}", b64(&[0u8; 64])), token::FAILED);
    // Signed by an attacker: own kid, a real kid, and with the key embedded
    // in the header (jwk/jku/x5u/x5c are never used).
    refused(&k.attacker.sign(json!({}), &claims()), token::FAILED);
    refused(&k.attacker.sign(json!({"kid": "rsa-1"}), &claims()), token::FAILED);
    let embedded = k.attacker.sign(
        json!({"kid": "rsa-1", "jwk": k.attacker.jwk, "jku": "http://127.0.0.1:9/jwks", "x5u": "http://127.0.0.1:9/x5u", "x5c": ["AAAA"]}),
        &claims(),
    );
    refused(&embedded, token::FAILED);
    // crit with anything is not understood.
    let crit = k.rsa.sign(json!({"crit": ["exp"], "exp": 1}), &claims());
    assert!(refused(&crit, token::FAILED).detail.contains("crit"));
    // Hostile kids.
    for kid in ["../../etc/passwd", "' OR 1=1 --", "a\u{0}b", &"k".repeat(10_000)] {
        let token = k.rsa.sign(json!({"kid": kid}), &claims());
        refused(&token, token::FAILED);
    }
    // A key too short to be published is never used.
    refused(&k.short.sign(json!({}), &claims()), token::FAILED);
}

#[test]
fn key_selection_without_a_kid() {
    let k = keys();
    let no_kid = k.rsa.sign(json!({"kid": null}), &claims());
    // Several keys fit RS256 (rsa-1, pss-1 is RSA too): refused.
    assert!(refused(&no_kid, token::FAILED).detail.contains("several"));
    // With exactly one key published, a token without kid is accepted.
    let (keys_one, _) = parse_jwks(&jwks(&[&k.rsa]));
    let one = KeySet { keys: keys_one };
    assert!(token::validate(&no_kid, &rules(TypPolicy::Strict), &one).is_ok());
    // Unknown kid is flagged so the caller may refresh the JWKS once.
    let unknown = k.rsa.sign(json!({"kid": "rotated-2"}), &claims());
    assert!(refused(&unknown, token::FAILED).unknown_kid);
    // Unusable JWKS entries are skipped, not fatal.
    let (parsed, skipped) = parse_jwks(&json!({"keys": [
        {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"},
        k.ec.jwk,
    ]}));
    assert_eq!(parsed.len(), 1);
    assert_eq!(skipped.len(), 3, "{skipped:?}");
}

#[test]
fn issuer_audience_and_times() {
    let k = keys();
    let sign = |extra: Value| k.rsa.sign(json!({}), &with(claims(), extra));
    refused(&sign(json!({"iss": "https://other.test"})), token::BAD_ISSUER);
    refused(&sign(json!({"iss": format!("{ISSUER}/")})), token::BAD_ISSUER);
    refused(&sign(json!({"iss": null})), token::FAILED);
    refused(&sign(json!({"aud": "https://other.test/mcp"})), token::BAD_AUDIENCE);
    refused(&sign(json!({"aud": "claude"})), token::BAD_AUDIENCE);
    refused(&sign(json!({"aud": []})), token::BAD_AUDIENCE);
    refused(&sign(json!({"aud": null})), token::FAILED);
    refused(&sign(json!({"aud": format!("{AUDIENCE}/extra")})), token::BAD_AUDIENCE);
    refused(&sign(json!({"aud": "https://mcp.test/mc"})), token::BAD_AUDIENCE);
    assert!(check(&sign(json!({"aud": ["claude", AUDIENCE]}))).is_ok());
    refused(
        &sign(json!({"aud": ["claude", "https://other.test"]})),
        token::BAD_AUDIENCE,
    );
    // exp: past, within leeway, missing, not a number, absurd.
    refused(&sign(json!({"exp": now() - 120})), token::EXPIRED);
    assert!(
        check(&sign(json!({"exp": now() - 30}))).is_ok(),
        "within the 60 s leeway"
    );
    refused(&sign(json!({"exp": null})), token::FAILED);
    refused(&sign(json!({"exp": "4102444800"})), token::FAILED);
    refused(&sign(json!({"exp": "NaN"})), token::FAILED);
    refused(&sign(json!({"exp": 1e300})), token::FAILED);
    refused(&sign(json!({"exp": -5})), token::FAILED);
    // nbf and iat in the future.
    refused(&sign(json!({"nbf": now() + 600})), token::FAILED);
    assert!(check(&sign(json!({"nbf": now() + 30}))).is_ok());
    refused(&sign(json!({"iat": now() + 600})), token::FAILED);
    // sub missing or empty.
    refused(&sign(json!({"sub": null})), token::FAILED);
    refused(&sign(json!({"sub": ""})), token::FAILED);
}

#[test]
fn token_type_and_scopes() {
    let k = keys();
    // An ID token (typ JWT, aud = client id) is not an access token.
    let id_token = k.rsa.sign(
        json!({"typ": "JWT"}),
        &with(claims(), json!({"aud": "claude", "nonce": "n"})),
    );
    refused(&id_token, token::FAILED);
    let jwt_typ = k.rsa.sign(json!({"typ": "JWT"}), &claims());
    refused(&jwt_typ, token::FAILED);
    let no_typ = k.rsa.sign(json!({"typ": null}), &claims());
    refused(&no_typ, token::FAILED);
    // Under legacy-jwt both are accepted, the ID token still fails its audience.
    let legacy = rules(TypPolicy::LegacyJwt);
    assert!(token::validate(&jwt_typ, &legacy, &published()).is_ok());
    assert!(token::validate(&no_typ, &legacy, &published()).is_ok());
    assert_eq!(
        token::validate(&id_token, &legacy, &published())
            .unwrap_err()
            .description,
        token::BAD_AUDIENCE
    );
    refused(&k.rsa.sign(json!({"typ": "dpop+jwt"}), &claims()), token::FAILED);
    // scp as array or string.
    let scp = k.rsa.sign(
        json!({}),
        &with(claims(), json!({"scope": null, "scp": ["mcp:read", "mcp:write"]})),
    );
    assert_eq!(check(&scp).unwrap().scopes, vec!["mcp:read", "mcp:write"]);
    let scp = k
        .rsa
        .sign(json!({}), &with(claims(), json!({"scope": null, "scp": "a b"})));
    assert_eq!(check(&scp).unwrap().scopes, vec!["a", "b"]);
    // Huge scope lists are truncated, not trusted blindly.
    let many: Vec<String> = (0..5000).map(|i| format!("s{i}")).collect();
    let huge = k.rsa.sign(json!({}), &with(claims(), json!({"scope": many.join(" ")})));
    assert_eq!(check(&huge).unwrap().scopes.len(), 256);
}
