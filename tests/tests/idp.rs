//! The OpenID provider of the authentication tests (npm `oidc-provider`
//! run by `tests/idp/idp.mjs`): discovery, JWT access tokens bound to the
//! requested resource, key rotation on restart, dynamic client
//! registration (open and behind an initial access token) and the headless
//! authorization code + PKCE flow.

use cnpg_mcp_tests::idp::{
    AuthorizationRequest, INITIAL_ACCESS_TOKEN, Idp, IdpOptions, MACHINE_CLIENT, MACHINE_CLIENT_ES256, OTHER_CLIENT,
    decode_jwt,
};
use serde_json::{Value, json};

const RESOURCE: &str = "http://127.0.0.1:9/mcp";

fn scopes(payload: &Value) -> Vec<String> {
    payload["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn discovery_names_the_issuer_exactly() {
    let idp = Idp::start().unwrap();
    assert!(idp.issuer.starts_with("http://127.0.0.1:"), "{}", idp.issuer);
    assert!(!idp.issuer.ends_with('/'));
    assert_eq!(idp.issuer, format!("http://127.0.0.1:{}", idp.port));

    let oidc = idp.discovery().await.unwrap();
    assert_eq!(oidc["issuer"], json!(idp.issuer));
    assert_eq!(oidc["jwks_uri"], json!(idp.jwks_url()));
    assert_eq!(oidc["token_endpoint"], json!(idp.token_url()));
    assert_eq!(oidc["registration_endpoint"], json!(idp.registration_url()));
    assert_eq!(oidc["code_challenge_methods_supported"], json!(["S256"]));
    for scope in ["openid", "offline_access", "mcp:read", "mcp:write"] {
        assert!(
            oidc["scopes_supported"].as_array().unwrap().contains(&json!(scope)),
            "{scope} missing from {}",
            oidc["scopes_supported"]
        );
    }

    let reply = idp.get(&idp.oauth_metadata_url()).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rfc8414: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(rfc8414, oidc, "RFC 8414 metadata is the discovery document");
}

#[tokio::test]
async fn client_credentials_token_is_an_at_jwt_for_the_resource() {
    let idp = Idp::start().unwrap();
    let (id, secret) = MACHINE_CLIENT;
    let token = idp
        .client_credentials(id, secret, Some(RESOURCE), "mcp:read")
        .await
        .unwrap();
    let (header, payload) = decode_jwt(&token).unwrap();
    eprintln!("header {header}\npayload {payload}");

    assert_eq!(header["typ"], json!("at+jwt"));
    assert_eq!(header["alg"], json!("RS256"));
    let kid = header["kid"].as_str().unwrap();
    assert!(
        idp.kids().await.unwrap().iter().any(|k| k == kid),
        "kid {kid} not in JWKS"
    );

    assert_eq!(payload["aud"], json!(RESOURCE));
    assert_eq!(payload["iss"], json!(idp.issuer));
    assert_eq!(payload["sub"], json!(id));
    assert_eq!(payload["client_id"], json!(id));
    assert_eq!(payload["preferred_username"], json!(id));
    assert_eq!(payload["groups"], json!(["cnpg-operators"]));
    assert_eq!(scopes(&payload), ["mcp:read"]);
    let (iat, exp) = (payload["iat"].as_u64().unwrap(), payload["exp"].as_u64().unwrap());
    assert_eq!(exp - iat, 300, "default access token lifetime");
    assert!(payload["jti"].is_string());

    // openid survives in a resource-bound token; unknown scopes are dropped
    // without an error.
    let token = idp
        .client_credentials(id, secret, Some(RESOURCE), "openid mcp:read mcp:write unknown:scope")
        .await
        .unwrap();
    let (_, payload) = decode_jwt(&token).unwrap();
    assert_eq!(scopes(&payload), ["openid", "mcp:read", "mcp:write"]);

    // The ES256 client's tokens are signed with the EC key.
    let (id, secret) = MACHINE_CLIENT_ES256;
    let token = idp
        .client_credentials(id, secret, Some(RESOURCE), "mcp:read")
        .await
        .unwrap();
    let (header, payload) = decode_jwt(&token).unwrap();
    assert_eq!(header["alg"], json!("ES256"));
    assert_eq!(header["typ"], json!("at+jwt"));
    assert_eq!(payload["aud"], json!(RESOURCE));

    // The other client has its own identity.
    let (id, secret) = OTHER_CLIENT;
    let token = idp
        .client_credentials(id, secret, Some("http://127.0.0.1:10/mcp"), "mcp:read")
        .await
        .unwrap();
    let (_, payload) = decode_jwt(&token).unwrap();
    assert_eq!(payload["aud"], json!("http://127.0.0.1:10/mcp"));
    assert_eq!(payload["client_id"], json!(id));
    assert_eq!(payload["groups"], json!(["other-team"]));

    // A resource that is not on loopback is refused; a wrong secret too.
    let error = idp
        .client_credentials(
            MACHINE_CLIENT.0,
            MACHINE_CLIENT.1,
            Some("https://elsewhere.invalid/mcp"),
            "mcp:read",
        )
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("invalid_target"), "{error:#}");
    let error = idp
        .client_credentials(MACHINE_CLIENT.0, "wrong", Some(RESOURCE), "mcp:read")
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("invalid_client"), "{error:#}");
}

#[tokio::test]
async fn default_resource_and_ttl_come_from_the_options() {
    let idp = Idp::start_with(IdpOptions {
        default_resource: Some(RESOURCE.into()),
        access_token_ttl: Some(42),
        ..IdpOptions::default()
    })
    .unwrap();
    let (id, secret) = MACHINE_CLIENT;
    let token = idp.client_credentials(id, secret, None, "mcp:write").await.unwrap();
    let (_, payload) = decode_jwt(&token).unwrap();
    assert_eq!(payload["aud"], json!(RESOURCE));
    assert_eq!(payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap(), 42);
}

#[tokio::test]
async fn restart_keeps_or_rotates_the_keys() {
    let mut idp = Idp::start().unwrap();
    let (issuer, port) = (idp.issuer.clone(), idp.port);
    let first = idp.kids().await.unwrap();
    assert_eq!(first.len(), 2, "one RSA and one EC key: {first:?}");
    let jwks = idp.jwks().await.unwrap();
    for key in jwks["keys"].as_array().unwrap() {
        assert!(key.get("d").is_none(), "private key material in the JWKS: {key}");
    }

    idp.restart().unwrap();
    assert_eq!((idp.issuer.as_str(), idp.port), (issuer.as_str(), port));
    assert_eq!(idp.kids().await.unwrap(), first, "restart keeps the keys");

    idp.restart_with_new_keys().unwrap();
    assert_eq!((idp.issuer.as_str(), idp.port), (issuer.as_str(), port));
    let second = idp.kids().await.unwrap();
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|k| !first.contains(k)), "{first:?} -> {second:?}");
    let token = idp
        .client_credentials(MACHINE_CLIENT.0, MACHINE_CLIENT.1, Some(RESOURCE), "mcp:read")
        .await
        .unwrap();
    let (header, _) = decode_jwt(&token).unwrap();
    assert!(second.iter().any(|k| header["kid"] == json!(k)));

    idp.stop();
    assert!(idp.get("/jwks").await.is_err(), "a stopped IdP refuses connections");
}

#[tokio::test]
async fn open_dynamic_client_registration() {
    let idp = Idp::start().unwrap();
    let (status, body) = idp
        .register(
            &json!({"redirect_uris": ["http://127.0.0.1:1234/cb"], "token_endpoint_auth_method": "none"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(body["client_id"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    assert!(body.get("client_secret").is_none(), "{body}");

    // A confidential client, as the MCP Python SDK registers one.
    let (status, body) = idp
        .register(
            &json!({"redirect_uris": ["http://localhost:3030/callback"], "token_endpoint_auth_method": "client_secret_post",
                    "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                    "scope": "mcp:read mcp:write", "client_name": "python"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(body["client_secret"].is_string(), "{body}");
}

#[tokio::test]
async fn registration_behind_an_initial_access_token() {
    let idp = Idp::start_with(IdpOptions {
        dcr_token: true,
        ..IdpOptions::default()
    })
    .unwrap();
    let metadata = json!({"redirect_uris": ["http://127.0.0.1:1234/cb"], "token_endpoint_auth_method": "none"});
    let (status, body) = idp.register(&metadata, None).await.unwrap();
    assert!(status == 401 || status == 400, "{status} {body}");
    assert_eq!(body["error"], json!("invalid_token"), "{body}");
    let (status, body) = idp.register(&metadata, Some("not-the-token")).await.unwrap();
    assert!(status == 401 || status == 400, "{status} {body}");
    let (status, body) = idp.register(&metadata, Some(INITIAL_ACCESS_TOKEN)).await.unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(body["client_id"].is_string());
}

#[tokio::test]
async fn authorization_code_with_pkce_without_a_browser() {
    let idp = Idp::start().unwrap();
    let redirect_uri = "http://127.0.0.1:1234/cb";
    let client_id = idp.register_public_client(redirect_uri).await.unwrap();

    let mut request = AuthorizationRequest::new(&client_id, redirect_uri, "openid mcp:read offline_access");
    request.resource = Some(RESOURCE);
    let tokens = idp.authorization_code(&request).await.unwrap();
    let (header, payload) = decode_jwt(&tokens.access_token).unwrap();
    eprintln!("header {header}\npayload {payload}\nresponse {}", tokens.raw);
    assert_eq!(header["typ"], json!("at+jwt"));
    assert_eq!(header["alg"], json!("RS256"));
    assert_eq!(payload["aud"], json!(RESOURCE));
    assert_eq!(payload["iss"], json!(idp.issuer));
    assert_eq!(payload["sub"], json!("alice"));
    assert_eq!(payload["client_id"], json!(client_id));
    assert_eq!(payload["preferred_username"], json!("alice"));
    assert_eq!(payload["groups"], json!(["dba"]));
    // Without prompt=consent oidc-provider drops offline_access from the
    // request; the IdP issues a refresh token for every code exchange anyway.
    assert_eq!(scopes(&payload), ["openid", "mcp:read"]);
    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    let id_token = tokens.id_token.clone().expect("an ID token for openid");
    let (id_header, id_payload) = decode_jwt(&id_token).unwrap();
    assert_ne!(id_header["typ"], json!("at+jwt"), "{id_header}");
    assert_eq!(id_payload["aud"], json!(client_id), "the ID token is for the client");

    // Refresh: a new JWT for the same resource (even without naming it),
    // and the refresh token rotates; reusing the old one fails.
    let (status, body) = idp.refresh(&client_id, None, &refresh_token, None).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, refreshed) = decode_jwt(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(refreshed["aud"], json!(RESOURCE));
    assert_eq!(refreshed["sub"], json!("alice"));
    let rotated = body["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refresh_token);
    let (status, body) = idp.refresh(&client_id, None, &refresh_token, None).await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], json!("invalid_grant"));

    // prompt=consent keeps offline_access; login_hint picks the user; the
    // authorization response carries `iss` (RFC 9207).
    let mut request = AuthorizationRequest::new(&client_id, redirect_uri, "openid mcp:write offline_access");
    request.resource = Some(RESOURCE);
    request.prompt = Some("consent");
    request.login_hint = Some("bob");
    let response = idp
        .authorize(
            &request,
            &cnpg_mcp_tests::idp::pkce_challenge(&cnpg_mcp_tests::idp::pkce_verifier()),
            "s",
        )
        .await
        .unwrap();
    assert_eq!(
        response.param("iss"),
        Some(idp.issuer.as_str()),
        "{}",
        response.location
    );
    assert!(response.param("code").is_some());
    let tokens = idp.authorization_code(&request).await.unwrap();
    let (_, payload) = decode_jwt(&tokens.access_token).unwrap();
    assert_eq!(payload["sub"], json!("bob"));
    assert_eq!(scopes(&payload), ["openid", "mcp:write", "offline_access"]);

    // A wrong PKCE verifier is refused.
    let mut request = AuthorizationRequest::new(&client_id, redirect_uri, "openid mcp:read");
    request.resource = Some(RESOURCE);
    let verifier = cnpg_mcp_tests::idp::pkce_verifier();
    let response = idp
        .authorize(&request, &cnpg_mcp_tests::idp::pkce_challenge(&verifier), "s")
        .await
        .unwrap();
    let code = response.param("code").unwrap();
    let (status, body) = idp
        .token_request(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", &cnpg_mcp_tests::idp::pkce_verifier()),
                ("client_id", &client_id),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");

    // login_hint=deny plays a user who refuses.
    let mut request = AuthorizationRequest::new(&client_id, redirect_uri, "openid mcp:read");
    request.login_hint = Some("deny");
    let response = idp.authorize(&request, "x".repeat(43).as_str(), "s").await.unwrap();
    assert_eq!(response.param("error"), Some("access_denied"), "{}", response.location);
}

#[tokio::test]
async fn confidential_client_and_es256_from_registration() {
    let idp = Idp::start().unwrap();
    let redirect_uri = "http://localhost:4321/callback";
    let (status, body) = idp
        .register(
            &json!({"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_post",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "access_token_signed_response_alg": "ES256"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let (client_id, secret) = (
        body["client_id"].as_str().unwrap(),
        body["client_secret"].as_str().unwrap(),
    );
    let mut request = AuthorizationRequest::new(client_id, redirect_uri, "openid mcp:read");
    request.client_secret = Some(secret);
    request.resource = Some(RESOURCE);
    let tokens = idp.authorization_code(&request).await.unwrap();
    let (header, payload) = decode_jwt(&tokens.access_token).unwrap();
    assert_eq!(header["alg"], json!("ES256"));
    assert_eq!(payload["aud"], json!(RESOURCE));
    assert!(tokens.refresh_token.is_some());
}
