//! The authorization-server facade (`--oauth-facade`) against a real
//! OpenID provider (npm `oidc-provider`) configured WITHOUT open dynamic
//! client registration (registration needs an initial access token), with
//! real clients:
//!
//! - the official Python SDK's `OAuthClientProvider` completes the whole
//!   headless flow through the facade (PRM -> our metadata -> register ->
//!   consent -> IdP sign-in -> our callback -> token -> tools/call), once
//!   with `dcr-rfc7591` (the host adds the initial access token) and once
//!   with `dcr-static` (one pre-registered upstream client);
//! - the facade's negative cases, driven over HTTP by this file playing
//!   the browser and the client: redirect URI rules, consent bypass,
//!   replayed state, PKCE, replayed codes, codes of another client, `iss`
//!   in the authorization response, refresh rotation and reuse detection,
//!   refused refreshes that leave their token valid, `redirect_uri` left
//!   out, an IdP outage during a refresh, revocation, 50 concurrent uses of
//!   one code and of one refresh token (file and Kubernetes stores), and
//!   what the store holds;
//! - `cnpg-mcp login` with a Client ID Metadata Document as its client;
//! - the translator sandbox: a translator reaching outside its allowlist,
//!   or a private address, is refused by the host.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cnpg_mcp_tests::idp::{INITIAL_ACCESS_TOKEN, Idp, IdpOptions};
use cnpg_mcp_tests::tempdir::TempDir;
use cnpg_mcp_tests::{ExternalClients, Reply, Server, Session, free_port, python_sdk, request};
use serde_json::{Value, json};

const CLIENT_REDIRECT: &str = "http://127.0.0.1:53682/callback";

struct Facade {
    server: Server,
    port: u16,
    issuer: String,
    resource: String,
    store: TempDir,
    _grant: TempDir,
}

/// The test IdP without open registration: registering needs the initial
/// access token.
fn closed_idp() -> Idp {
    Idp::start_with(IdpOptions {
        dcr_token: true,
        ..IdpOptions::default()
    })
    .unwrap()
}

/// A ready facade in front of `idp` whose translator (dcr-rfc7591)
/// registers there with the initial access token the host adds.
async fn rfc7591_facade(idp: &Idp, extra: &[&str], env: &[(&str, &str)]) -> Facade {
    let registration_url = idp.registration_url();
    let mut args = vec![
        "--dcr-proxy-url",
        registration_url.as_str(),
        "--dcr-initial-access-token",
        INITIAL_ACCESS_TOKEN,
    ];
    args.extend_from_slice(extra);
    let facade = start_facade_with_env(idp, &args, LOCAL_GRANT, env);
    wait_ready(facade.port).await;
    facade
}

/// Starts the server in facade mode in front of `idp`.
fn start_facade(idp: &Idp, extra: &[&str], grant: &str) -> Facade {
    start_facade_with_env(idp, extra, grant, &[])
}

fn start_facade_with_env(idp: &Idp, extra: &[&str], grant: &str, env: &[(&str, &str)]) -> Facade {
    start_facade_on_store(idp, None, extra, grant, env)
}

/// Starts the server in facade mode; its store is `store_arg`
/// (`kubernetes:NS`...) or, when `None`, a fresh folder (`Facade::store`).
fn start_facade_on_store(
    idp: &Idp,
    store_arg: Option<&str>,
    extra: &[&str],
    grant: &str,
    env: &[(&str, &str)],
) -> Facade {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let resource = format!("{issuer}/mcp");
    let store = TempDir::new("facade-store");
    let grant_dir = TempDir::new("facade-grant");
    let grant_file = grant_dir.path().join("translator.grant.toml");
    std::fs::write(&grant_file, grant).unwrap();
    let store_arg = store_arg
        .map(str::to_string)
        .unwrap_or_else(|| format!("file:{}", store.path().display()));
    let mut args = vec![
        "--oidc-issuer",
        idp.issuer.as_str(),
        "--public-url",
        resource.as_str(),
        "--oauth-facade",
        "--facade-store",
        store_arg.as_str(),
        "--facade-translator-grant",
        grant_file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let server = Server::start_with_env(port, &args, env);
    Facade {
        server,
        port,
        issuer,
        resource,
        store,
        _grant: grant_dir,
    }
}

/// A grant letting the translator reach the test IdP on 127.0.0.1.
const LOCAL_GRANT: &str = "[limits]\nmemory_mib = 16\ntimeout_ms = 20000\n\n[http]\nprivate_addresses = true\n";

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = request(port, "GET", "/readyz", &[], Vec::new()).await;
        if reply.status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "not ready: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `http://127.0.0.1:PORT/path?q` -> (PORT, "/path?q").
fn split(url: &str) -> (u16, String) {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("not a loopback URL: {url}"));
    let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (
        port.parse().unwrap(),
        if path.is_empty() { "/".into() } else { path.to_string() },
    )
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    let (port, path) = split(url);
    request(port, "GET", &path, headers, Vec::new()).await
}

async fn post_form(port: u16, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                cnpg_mcp::facade::form_encode(k),
                cnpg_mcp::facade::form_encode(v)
            )
        })
        .collect();
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    request(port, path_method(path), path, &all, body.join("&").into_bytes()).await
}

fn path_method(_: &str) -> &'static str {
    "POST"
}

fn location(reply: &Reply) -> String {
    reply
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location in {} {}", reply.status, reply.body))
        .to_string()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    cnpg_mcp::facade::form_decode(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

/// The consent cookie a consent page set (name=value).
fn consent_cookie(reply: &Reply) -> String {
    reply
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no consent cookie: {:?}", reply.headers))
        .to_string()
}

async fn register(port: u16, metadata: &Value) -> (u16, Value) {
    let reply = request(
        port,
        "POST",
        "/register",
        &[("content-type", "application/json")],
        metadata.to_string().into_bytes(),
    )
    .await;
    (
        reply.status,
        serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body)),
    )
}

async fn register_public(port: u16) -> String {
    let (status, body) = register(
        port,
        &json!({"client_name": "facade tests", "redirect_uris": [CLIENT_REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["client_id"].as_str().unwrap().to_string()
}

/// Verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = cnpg_mcp::facade::seal::random_token(40);
    let challenge = cnpg_mcp::facade::seal::pkce_challenge(&verifier);
    (verifier, challenge)
}

/// GET of an /authorize URL from [`authorize_path`].
async fn authorize(port: u16, path: &str) -> Reply {
    request(port, "GET", path, &[], Vec::new()).await
}

fn authorize_path(client_id: &str, redirect: &str, challenge: &str, state: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={}&code_challenge_method=S256&state={}&scope=openid",
        cnpg_mcp::facade::form_encode(client_id),
        cnpg_mcp::facade::form_encode(redirect),
        challenge,
        state
    )
}

/// From the consent page to the redirect back to the client: approves,
/// follows the IdP's redirects (the IdP signs `alice` in by itself) and
/// stops at our callback's redirect. Returns (callback URL on the facade,
/// final redirect to the client).
async fn approve_and_sign_in(facade: &Facade, page: &Reply) -> (String, String) {
    let cookie = consent_cookie(page);
    let reply = post_form(
        facade.port,
        "/authorize/consent",
        &[
            ("transaction", &field(&page.body, "transaction")),
            ("csrf", &field(&page.body, "csrf")),
            ("decision", "approve"),
        ],
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let mut target = location(&reply);
    for _ in 0..10 {
        if target.starts_with(&format!("{}/callback", facade.issuer)) {
            let back = get(&target, &[]).await;
            assert_eq!(back.status, 303, "{}", back.body);
            return (target, location(&back));
        }
        let reply = get(&target, &[]).await;
        assert!(
            matches!(reply.status, 302 | 303),
            "IdP stopped at {target}: {} {}",
            reply.status,
            reply.body
        );
        let next = location(&reply);
        target = if next.starts_with('/') {
            let (port, _) = split(&target);
            format!("http://127.0.0.1:{port}{next}")
        } else {
            next
        };
    }
    panic!("too many redirects")
}

async fn token(port: u16, fields: &[(&str, &str)]) -> (u16, Value) {
    let reply = post_form(port, "/token", fields, &[]).await;
    (reply.status, serde_json::from_str(&reply.body).unwrap())
}

/// Runs the whole flow for `client_id`; returns the token answer.
async fn sign_in(facade: &Facade, client_id: &str) -> Value {
    let (verifier, challenge) = pkce();
    let page = authorize(
        facade.port,
        &authorize_path(client_id, CLIENT_REDIRECT, &challenge, "s1"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (_, back) = approve_and_sign_in(facade, &page).await;
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, tokens) = token(
        facade.port,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", client_id),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_signs_in_through_the_facade_with_dcr_rfc7591_and_the_injected_initial_access_token() {
    let idp = closed_idp();
    // Registration at this IdP needs the initial access token.
    let (status, refused) = idp
        .register(&json!({"redirect_uris": ["https://x.example/cb"]}), None)
        .await
        .unwrap();
    assert!(
        status == 400 || status == 401,
        "open registration must be refused: {status} {refused}"
    );

    let facade = rfc7591_facade(
        &idp,
        &[
            "--facade-translator",
            "dcr-rfc7591",
            // The test IdP releases `groups` with its own scope.
            "--facade-upstream-scope",
            "openid profile groups offline_access",
        ],
        &[],
    )
    .await;

    // Metadata: PRM names our issuer; our issuer's documents say what
    // clients check.
    let prm = request(
        facade.port,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        Vec::new(),
    )
    .await;
    let prm: Value = serde_json::from_str(&prm.body).unwrap();
    assert_eq!(prm["authorization_servers"], json!([facade.issuer]));
    for path in ["/.well-known/oauth-authorization-server"] {
        let reply = request(facade.port, "GET", path, &[], Vec::new()).await;
        let metadata: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(metadata["issuer"], json!(facade.issuer), "{path}");
        assert_eq!(metadata["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(metadata["authorization_response_iss_parameter_supported"], json!(true));
        assert_eq!(
            metadata["registration_endpoint"],
            json!(format!("{}/register", facade.issuer))
        );
        let methods = metadata["token_endpoint_auth_methods_supported"].as_array().unwrap();
        assert!(methods.contains(&json!("none")) && methods.contains(&json!("client_secret_post")));
    }

    let out = python_sdk(&["oauth", &facade.resource, "legacy", "get_session_info", "{}"]);
    assert_eq!(out["consent_pages"], json!(1), "{out}");
    assert_eq!(out["authorization_response_iss"], json!(facade.issuer), "{out}");
    let caller = &out["structured"]["caller"];
    assert_eq!(caller["issuer"], json!(facade.issuer), "{out}");
    assert_eq!(caller["subject"], json!("alice"), "{out}");
    assert_eq!(caller["username"], json!("alice"), "{out}");
    assert_eq!(caller["groups"], json!(["dba"]), "{out}");
    assert_eq!(caller["client_id"], out["registered_client"], "{out}");

    // The upstream client exists at the IdP because the host added the
    // initial access token; the component never had it.
    let log = facade.server.log_text();
    assert!(log.contains("client registered"), "{log}");
    assert!(
        !log.contains(INITIAL_ACCESS_TOKEN),
        "the initial access token leaked into the log"
    );
    // The store holds the upstream client secret sealed, never in clear.
    let stored: String = std::fs::read_dir(facade.store.path())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(stored.contains("sealed_secret"), "{stored}");
    assert!(
        !stored.contains("\"client_secret\""),
        "a client secret is stored in clear: {stored}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_initial_access_token_registration_fails_with_the_idps_reason() {
    let idp = closed_idp();
    let registration_url = idp.registration_url();
    let facade = start_facade(&idp, &["--dcr-proxy-url", &registration_url], LOCAL_GRANT);
    wait_ready(facade.port).await;
    let (status, body) = register(
        facade.port,
        &json!({"redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], json!("temporarily_unavailable"), "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains("HTTP 40"),
        "{body}"
    );

    // The built-in grant keeps private addresses closed: the same
    // translator without the operator's grant is refused by the host.
    let closed = start_facade(
        &idp,
        &[
            "--dcr-proxy-url",
            &registration_url,
            "--dcr-initial-access-token",
            INITIAL_ACCESS_TOKEN,
            "--facade-registrations-per-minute",
            "2",
        ],
        "[http]\nprivate_addresses = false\n",
    );
    wait_ready(closed.port).await;
    let public_client = json!({"redirect_uris": [CLIENT_REDIRECT], "token_endpoint_auth_method": "none"});
    for _ in 0..2 {
        let (status, body) = register(closed.port, &public_client).await;
        assert_eq!(status, 503, "{body}");
        assert!(
            body["error_description"].as_str().unwrap().contains("private"),
            "{body}"
        );
    }
    // Past FACADE_REGISTRATIONS_PER_MINUTE, registration waits: 429 with
    // Retry-After, and the translator does not run.
    let reply = request(
        closed.port,
        "POST",
        "/register",
        &[("content-type", "application/json")],
        public_client.to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    let retry: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"], json!("temporarily_unavailable"), "{body}");
    assert_eq!(
        closed.server.log_text().matches("\"registration refused\"").count(),
        2,
        "the translator ran for the third registration"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_signs_in_through_the_facade_with_dcr_static() {
    let idp = closed_idp();
    let port = free_port();
    // The operator's one pre-registered client, redirecting to our callback.
    let (status, upstream) = idp
        .register(
            &json!({"client_name": "cnpg-mcp facade", "redirect_uris": [format!("http://127.0.0.1:{port}/callback")],
                    "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "client_secret_post"}),
            Some(INITIAL_ACCESS_TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{upstream}");
    let (id, secret) = (
        upstream["client_id"].as_str().unwrap(),
        upstream["client_secret"].as_str().unwrap(),
    );
    let issuer = format!("http://127.0.0.1:{port}");
    let resource = format!("{issuer}/mcp");
    let store = TempDir::new("facade-store");
    let store_arg = format!("file:{}", store.path().display());
    let grant_dir = TempDir::new("facade-grant");
    let grant = grant_dir.path().join("static.grant.toml");
    std::fs::write(&grant, "[config]\ntoken_auth = \"client_secret_post\"\n").unwrap();
    // The secret comes through the environment, as the chart passes it
    // (and a generated secret may start with `-`, which a command line
    // would read as an option).
    let client_id_arg = format!("--facade-upstream-client-id={id}");
    let server = Server::start_with_env(
        port,
        &[
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            &resource,
            "--oauth-facade",
            "--facade-store",
            &store_arg,
            &client_id_arg,
            "--facade-translator-grant",
            grant.to_str().unwrap(),
        ],
        &[("FACADE_UPSTREAM_CLIENT_SECRET", secret)],
    );
    wait_ready(port).await;
    let out = python_sdk(&["oauth", &resource, "legacy", "get_session_info", "{}"]);
    assert_eq!(out["consent_pages"], json!(1), "{out}");
    assert_eq!(out["structured"]["caller"]["issuer"], json!(issuer), "{out}");
    assert_eq!(out["structured"]["caller"]["username"], json!("alice"), "{out}");
    let log = server.log_text();
    assert!(log.contains(&format!("\"upstream_client\":\"{id}\"")), "{log}");
    assert!(!log.contains(secret), "the upstream secret leaked into the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_facade_refuses_what_rfc_and_mcp_clients_rely_on_it_to_refuse() {
    let idp = closed_idp();
    let facade = rfc7591_facade(&idp, &[], &[]).await;

    // Bad redirect URIs at /register.
    for bad in [
        "javascript:alert(1)",
        "http://evil.example.com/cb",
        "https://a.example/cb#x",
        "data:text/html,hi",
        "ftp://a/cb",
    ] {
        let (status, body) = register(facade.port, &json!({"redirect_uris": [bad]})).await;
        assert_eq!(
            (status, body["error"].clone()),
            (400, json!("invalid_redirect_uri")),
            "{bad}: {body}"
        );
    }
    let (status, body) = register(
        facade.port,
        &json!({"redirect_uris": [CLIENT_REDIRECT], "grant_types": ["client_credentials"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_client_metadata")),
        "{body}"
    );

    let client = register_public(facade.port).await;
    let other = register_public(facade.port).await;
    let (verifier, challenge) = pkce();

    // Unregistered or changed redirect URI: an error page, no redirect.
    for redirect in ["http://127.0.0.1:53682/other", "https://evil.example.com/callback"] {
        let reply = authorize(facade.port, &authorize_path(&client, redirect, &challenge, "s")).await;
        assert_eq!(reply.status, 400, "{redirect}: {}", reply.body);
        assert!(reply.headers.get("location").is_none(), "{redirect} was redirected to");
    }
    // A loopback redirect may change its port (RFC 8252).
    let page = authorize(
        facade.port,
        &authorize_path(&client, "http://127.0.0.1:40001/callback", &challenge, "s"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    // No PKCE: an error back to the (valid) redirect URI, with our iss.
    let reply = request(
        facade.port,
        "GET",
        &format!(
            "/authorize?response_type=code&client_id={client}&redirect_uri={}&state=s",
            cnpg_mcp::facade::form_encode(CLIENT_REDIRECT)
        ),
        &[],
        Vec::new(),
    )
    .await;
    let back = location(&reply);
    assert!(back.starts_with(CLIENT_REDIRECT), "{back}");
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&back, "iss"), Some(facade.issuer.clone()));

    // The consent page cannot be framed and its form needs the cookie and
    // the CSRF token of this very page; a transaction is answered once.
    let page = authorize(facade.port, &authorize_path(&client, CLIENT_REDIRECT, &challenge, "st")).await;
    assert_eq!(page.status, 200);
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
    let cookie = consent_cookie(&page);
    assert!(cookie.starts_with("cnpg-mcp-consent="), "{cookie}");
    let set_cookie = page.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let transaction = field(&page.body, "transaction");
    let csrf = field(&page.body, "csrf");
    let no_cookie = post_form(
        facade.port,
        "/authorize/consent",
        &[("transaction", &transaction), ("csrf", &csrf), ("decision", "approve")],
        &[],
    )
    .await;
    assert_eq!(no_cookie.status, 403, "consent without the cookie: {}", no_cookie.body);
    // That attempt used the transaction up: the real user starts again.
    let again = post_form(
        facade.port,
        "/authorize/consent",
        &[("transaction", &transaction), ("csrf", &csrf), ("decision", "approve")],
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(again.status, 400, "a transaction is answered once: {}", again.body);
    let page = authorize(facade.port, &authorize_path(&client, CLIENT_REDIRECT, &challenge, "st")).await;
    let wrong_csrf = post_form(
        facade.port,
        "/authorize/consent",
        &[
            ("transaction", &field(&page.body, "transaction")),
            ("csrf", "forged"),
            ("decision", "approve"),
        ],
        &[("cookie", &consent_cookie(&page))],
    )
    .await;
    assert_eq!(wrong_csrf.status, 403, "{}", wrong_csrf.body);
    // Deny: access_denied back to the client.
    let page = authorize(facade.port, &authorize_path(&client, CLIENT_REDIRECT, &challenge, "st")).await;
    let denied = post_form(
        facade.port,
        "/authorize/consent",
        &[
            ("transaction", &field(&page.body, "transaction")),
            ("csrf", &field(&page.body, "csrf")),
            ("decision", "deny"),
        ],
        &[("cookie", &consent_cookie(&page))],
    )
    .await;
    assert_eq!(
        query_param(&location(&denied), "error").as_deref(),
        Some("access_denied")
    );

    // The full flow; the authorization response carries our iss and state.
    let page = authorize(facade.port, &authorize_path(&client, CLIENT_REDIRECT, &challenge, "st")).await;
    let (callback, back) = approve_and_sign_in(&facade, &page).await;
    assert_eq!(query_param(&back, "iss"), Some(facade.issuer.clone()));
    assert_eq!(query_param(&back, "state").as_deref(), Some("st"));
    // The upstream state is single use.
    let replayed = get(&callback, &[]).await;
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    assert!(replayed.headers.get("location").is_none());
    let code = query_param(&back, "code").unwrap();

    // Wrong verifier, then the code is spent.
    let (status, body) = token(
        facade.port,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &pkce().0),
        ],
    )
    .await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");
    let (status, body) = token(
        facade.port,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant")),
        "a code is spent by its first use: {body}"
    );

    // A code redeemed by another client.
    let page = authorize(facade.port, &authorize_path(&client, CLIENT_REDIRECT, &challenge, "st")).await;
    let (_, back) = approve_and_sign_in(&facade, &page).await;
    let code = query_param(&back, "code").unwrap();
    let (status, body) = token(
        facade.port,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &other),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");

    // A good exchange; then the code replayed revokes what it gave.
    let tokens = sign_in(&facade, &client).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let header: Value = {
        use base64::Engine as _;
        let part = access.split('.').next().unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(header["typ"], json!("at+jwt"));
    let mut session = Session::open_with_token(facade.port, &access).await;
    let info = session.call_tool("get_session_info", json!({})).await;
    assert_eq!(
        info["structuredContent"]["caller"]["client_id"],
        json!(client),
        "{info}"
    );

    // Refresh rotates; the old refresh token reused revokes the grant.
    let (status, rotated) = token(
        facade.port,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_refresh = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, refresh);
    let (status, body) = token(
        facade.port,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains("already used"),
        "{body}"
    );
    let (status, body) = token(
        facade.port,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &new_refresh),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant")),
        "reuse revokes the whole family: {body}"
    );
    // ... and the access tokens of that grant stop working (within the
    // validation cache's 5 s).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let refused = Session::attach(facade.port, session.session_id.clone(), session.protocol.clone())
        .post_raw(
            serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"})).unwrap(),
            &[("authorization", &format!("Bearer {access}"))],
        )
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);

    // Revocation of a refresh token ends its grant.
    let tokens = sign_in(&facade, &client).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoked = post_form(
        facade.port,
        "/revoke",
        &[("token", refresh), ("client_id", &client)],
        &[],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let (status, _) = token(
        facade.port,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!(status, 400);

    // Refresh tokens and codes are stored hashed.
    let tokens = sign_in(&facade, &client).await;
    let stored: String = std::fs::read_dir(facade.store.path())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        !stored.contains(tokens["refresh_token"].as_str().unwrap()),
        "a refresh token is stored in clear"
    );
    assert!(!stored.contains(&code), "a code is stored in clear");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_translator_reaches_only_what_the_host_allows() {
    let idp = Idp::start().unwrap();
    let probe = cnpg_mcp_tests::guest("dcr_probe");
    // Probe targets: the IdP (allowed origin, loopback address), an origin
    // outside the allowlist, the cloud metadata address.
    let urls = format!(
        "{}/.well-known/openid-configuration,http://example.com/,http://169.254.169.254/latest/meta-data/",
        idp.issuer
    );
    let grant = format!("[config]\nprobe_urls = \"{urls}\"\n");
    let probe_arg = probe.to_str().unwrap().to_string();
    let facade = start_facade(&idp, &["--facade-translator", &probe_arg], &grant);
    wait_ready(facade.port).await;
    let (status, body) = register(facade.port, &json!({"redirect_uris": [CLIENT_REDIRECT]})).await;
    assert_eq!(status, 503, "{body}");
    let report = body["error_description"].as_str().unwrap().to_string();
    let line = |prefix: &str| {
        report
            .lines()
            .find(|l| l.contains(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {report}"))
            .to_string()
    };
    assert!(
        line(&idp.issuer).contains("private"),
        "loopback refused without private_addresses: {report}"
    );
    assert!(line("example.com").contains("not allowed"), "{report}");
    assert!(line("169.254.169.254").contains("not allowed"), "{report}");

    // With private addresses granted the IdP is reachable, and nothing else.
    let grant = format!("[config]\nprobe_urls = \"{urls}\"\n\n[http]\nprivate_addresses = true\n");
    let open = start_facade(&idp, &["--facade-translator", &probe_arg], &grant);
    wait_ready(open.port).await;
    let (_, body) = register(open.port, &json!({"redirect_uris": [CLIENT_REDIRECT]})).await;
    let report = body["error_description"].as_str().unwrap().to_string();
    assert!(report.contains("HTTP 200"), "{report}");
    assert!(
        report.lines().filter(|l| l.contains("not allowed")).count() == 2,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inspector_cli_signs_in_through_the_facade_with_a_browser_script() {
    let idp = closed_idp();
    let facade = rfc7591_facade(&idp, &[], &[]).await;
    let clients = ExternalClients::get();
    let home = TempDir::new("inspector-home");
    let browser_log = home.path().join("browser.log");
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/headless_browser.py");
    let callback = format!("http://127.0.0.1:{}/oauth/callback", free_port());
    let output = Command::new(clients.node_bin.join("mcp-inspector"))
        .env("PATH", clients.path_env())
        .env("HOME", home.path())
        .env("BROWSER", &browser)
        .env("MCP_AUTO_OPEN_ENABLED", "true")
        .env("HEADLESS_BROWSER_LOG", &browser_log)
        .arg("--cli")
        .arg(&facade.resource)
        .args(["--transport", "http", "--callback-url", &callback, "--format", "json"])
        .args(["--method", "tools/call", "--tool-name", "get_session_info"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let steps = std::fs::read_to_string(&browser_log).unwrap_or_default();
    assert!(
        output.status.success(),
        "inspector failed:\n{stdout}\n{stderr}\nbrowser:\n{steps}"
    );
    assert!(steps.contains("consent approved"), "{steps}");
    assert!(
        steps.contains(&callback),
        "the browser reached the Inspector's callback: {steps}"
    );
    assert!(
        stdout.contains(&format!("\"issuer\": \"{}\"", facade.issuer))
            || stdout.contains(&format!("\"issuer\":\"{}\"", facade.issuer)),
        "{stdout}"
    );
    assert!(stdout.contains("alice"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubernetes_store_shares_records_and_hands_each_one_time_value_to_one_taker() {
    use cnpg_mcp::facade::store::{KubeStore, Store};
    let bed = cnpg_mcp_tests::testbed::TestBed::shared().await;
    let ns = bed.namespace("facade-store").await.unwrap();
    let client = bed.client().await.unwrap();
    // Two stores on one namespace: two replicas.
    let a = KubeStore::new(client.clone(), &ns, "cnpg-mcp-facade");
    let b = KubeStore::new(client.clone(), &ns, "cnpg-mcp-facade");
    let ttl = Duration::from_secs(60);
    assert!(a.create("client:x", &json!({"n": 1}), ttl).await.unwrap());
    assert!(
        !b.create("client:x", &json!({"n": 2}), ttl).await.unwrap(),
        "create-if-absent across replicas"
    );
    assert_eq!(b.get("client:x").await.unwrap(), Some(json!({"n": 1})));
    b.put("client:x", &json!({"n": 3}), ttl).await.unwrap();
    assert_eq!(a.get("client:x").await.unwrap(), Some(json!({"n": 3})));

    // Concurrent takers of one code: exactly one wins.
    a.put("code:c", &json!("once"), ttl).await.unwrap();
    let takers: Vec<_> = (0..8)
        .map(|i| {
            let store = KubeStore::new(client.clone(), &ns, "cnpg-mcp-facade");
            tokio::spawn(async move { (i, store.take("code:c").await.unwrap()) })
        })
        .collect();
    let mut won = 0;
    for taker in takers {
        if taker.await.unwrap().1.is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "a one-time value went to {won} takers");

    // Expired records are absent and swept; the Secrets are labelled.
    a.put("session:old", &json!(1), Duration::from_secs(0)).await.unwrap();
    assert_eq!(a.get("session:old").await.unwrap(), None);
    assert_eq!(a.sweep().await.unwrap(), 1);
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> = kube::Api::namespaced(client, &ns);
    let list = secrets
        .list(&kube::api::ListParams::default().labels("cnpg-mcp.io/facade-record=true"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1, "only client:x is left");
    let name = list.items[0].metadata.name.clone().unwrap();
    assert!(
        name.starts_with("cnpg-mcp-facade-") && !name.contains("client"),
        "{name}"
    );
}

/// The admin API stand-ins of `tests/clients/admin_standins.py`, stopped
/// by PID when dropped.
struct StandIns {
    child: std::process::Child,
    port: u16,
}

impl StandIns {
    fn start() -> StandIns {
        use std::io::BufRead as _;
        let clients = ExternalClients::get();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/admin_standins.py");
        let mut child = Command::new(&clients.python)
            .arg(script)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("stand-ins: {line}"))
            .parse()
            .unwrap();
        StandIns { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn requests(&self) -> Vec<Value> {
        let reply = request(self.port, "GET", "/_requests", &[], Vec::new()).await;
        serde_json::from_str(&reply.body).unwrap()
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers through `translator` against the stand-ins, with the admin
/// credentials for `token_path` in the host's credentials file (or none).
async fn register_through_standin(
    translator: &str,
    config: &str,
    token_path: &str,
    with_credentials: bool,
) -> (StandIns, Facade, u16, Value) {
    let idp = Idp::start().unwrap();
    let standins = StandIns::start();
    let grant = format!(
        "[config]\n{}\n\n[http]\nallow = [\"{}\"]\nprivate_addresses = true\n",
        config.replace("STANDIN", &standins.url()),
        standins.url()
    );
    let dir = TempDir::new("credentials");
    let credentials = dir.path().join("credentials.toml");
    std::fs::write(
        &credentials,
        format!(
            "[[credential]]\nurl_prefix = \"{}{token_path}\"\nbasic_user = \"admin-client\"\nbasic_password = \"admin-secret\"\n",
            standins.url()
        ),
    )
    .unwrap();
    let credentials_arg = credentials.to_str().unwrap().to_string();
    let mut extra = vec!["--facade-translator", translator];
    if with_credentials {
        extra.extend(["--facade-credentials-file", credentials_arg.as_str()]);
    }
    let facade = start_facade(&idp, &extra, &grant);
    wait_ready(facade.port).await;
    let (status, body) = register(
        facade.port,
        &json!({"client_name": "Claude", "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    drop(idp);
    (standins, facade, status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn dcr_keycloak_provisions_a_client_through_a_stand_in_of_the_keycloak_admin_api() {
    let token_path = "/realms/platform/protocol/openid-connect/token";
    let config = "base_url = \"STANDIN\"\nrealm = \"platform\"";
    let (standins, facade, status, body) = register_through_standin("dcr-keycloak", config, token_path, true).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["client_secret"].as_str().is_some(),
        "a confidential MCP client gets our secret: {body}"
    );
    let requests = standins.requests().await;
    assert_eq!(requests.len(), 3, "token, create, secret: {requests:#?}");
    assert!(
        requests[0]["authorization"].as_str().unwrap().starts_with("Basic "),
        "the host added the admin credentials"
    );
    assert_eq!(requests[1]["authorization"], json!("Bearer kc-admin-token"));
    let representation = &requests[1]["body"];
    assert_eq!(
        representation["redirectUris"],
        json!([format!("{}/callback", facade.issuer)]),
        "{representation}"
    );
    assert_eq!(representation["publicClient"], json!(false));
    assert_eq!(
        representation["attributes"]["pkce.code.challenge.method"],
        json!("S256")
    );
    assert!(requests[2]["path"].as_str().unwrap().ends_with("/client-secret"));
    let log = facade.server.log_text();
    assert!(log.contains("created Keycloak client"), "{log}");
    assert!(
        !log.contains("admin-secret") && !log.contains("kc-admin-token"),
        "credentials in the log"
    );
    let stored: String = std::fs::read_dir(facade.store.path())
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        stored.contains("sealed_secret") && !stored.contains("\"kc-"),
        "{stored}"
    );

    // Without the host's credentials the admin API refuses, and so does /register.
    let (_standins, _facade, status, body) = register_through_standin("dcr-keycloak", config, token_path, false).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Invalid client credentials"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dcr_auth0_creates_an_application_through_a_stand_in_of_the_management_api() {
    let (standins, facade, status, body) =
        register_through_standin("dcr-auth0", "domain_url = \"STANDIN\"", "/oauth/token", true).await;
    assert_eq!(status, 201, "{body}");
    let requests = standins.requests().await;
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests[0]["authorization"].as_str().unwrap().starts_with("Basic "));
    assert_eq!(
        requests[0]["body"]["audience"],
        json!(format!("{}/api/v2/", standins.url()))
    );
    let application = &requests[1]["body"];
    assert_eq!(
        application["callbacks"],
        json!([format!("{}/callback", facade.issuer)]),
        "{application}"
    );
    assert_eq!(application["app_type"], json!("regular_web"));
    assert!(
        application["name"].as_str().unwrap().starts_with("Claude"),
        "{application}"
    );
    let log = facade.server.log_text();
    assert!(log.contains("created Auth0 application"), "{log}");
    assert!(!log.contains("admin-secret") && !log.contains("a0-mgmt-token"));
}

/// The https document server of `clients/cimd_documents.py`.
struct Documents {
    child: std::process::Child,
    https_port: u16,
    http_port: u16,
    dir: TempDir,
}

impl Documents {
    fn start() -> Documents {
        use std::io::BufRead as _;
        let clients = ExternalClients::get();
        let dir = TempDir::new("cimd-documents");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/cimd_documents.py");
        let mut child = Command::new(&clients.python)
            .arg(script)
            .arg(dir.path())
            .arg(CLIENT_REDIRECT)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: Vec<u16> = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("document server: {line}"))
            .split(' ')
            .map(|p| p.parse().unwrap())
            .collect();
        Documents {
            child,
            https_port: ports[0],
            http_port: ports[1],
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https_port)
    }

    fn ca(&self) -> String {
        self.dir.path().join("ca.pem").display().to_string()
    }

    async fn fetches(&self, path: &str) -> u64 {
        let reply = request(self.http_port, "GET", "/_fetches", &[], Vec::new()).await;
        let counts: Value = serde_json::from_str(&reply.body).unwrap();
        counts[path].as_u64().unwrap_or(0)
    }
}

impl Drop for Documents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An /authorize request for `client_id` that must end on an error page
/// (nothing redirected); returns the page.
async fn refused_authorization(port: u16, client_id: &str) -> String {
    let (_, challenge) = pkce();
    let reply = authorize(port, &authorize_path(client_id, CLIENT_REDIRECT, &challenge, "s")).await;
    assert_eq!(reply.status, 400, "{client_id}: {}", reply.body);
    assert!(reply.headers.get("location").is_none(), "{client_id} was redirected");
    reply.body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_identified_by_its_metadata_document_signs_in_without_registering() {
    let idp = closed_idp();
    let documents = Documents::start();
    let ca = documents.ca();
    // The document server is on 127.0.0.1, its CA trusted for this test.
    let facade = rfc7591_facade(
        &idp,
        &["--facade-cimd-private-addresses"],
        &[("SSL_CERT_FILE", ca.as_str())],
    )
    .await;
    let (port, issuer, resource) = (facade.port, facade.issuer.clone(), facade.resource.clone());
    let metadata = get(&format!("{issuer}/.well-known/oauth-authorization-server"), &[]).await;
    let metadata: Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(
        metadata["client_id_metadata_document_supported"],
        json!(true),
        "{metadata}"
    );
    assert!(
        metadata["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );

    // The official SDK, given a client_metadata_url, uses it as its
    // client_id: no /register, the facade fetches the document, the
    // translator provides the upstream client, the user consents.
    let url = documents.url("/client.json");
    let out = python_sdk(&["oauth-cimd", &resource, &url, "legacy", "get_session_info", "{}"]);
    assert_eq!(out["registered_client"], json!(url), "{out}");
    assert_eq!(out["consent_pages"], json!(1), "{out}");
    assert_eq!(out["authorization_response_iss"], json!(issuer), "{out}");
    assert_eq!(out["structured"]["caller"]["username"], json!("alice"), "{out}");
    assert_eq!(out["structured"]["caller"]["issuer"], json!(issuer), "{out}");
    let log = facade.server.log_text();
    assert!(!log.contains("\"client registered\""), "a registration happened: {log}");
    assert_eq!(
        log.matches("client registered from its metadata document").count(),
        1,
        "{log}"
    );

    // A second sign-in within the document's max-age uses the stored copy:
    // one fetch in all, one translator run.
    let again = python_sdk(&["oauth-cimd", &resource, &url, "2026-07-28", "get_session_info", "{}"]);
    assert_eq!(again["registered_client"], json!(url), "{again}");
    assert_eq!(documents.fetches("/client.json").await, 1);
    assert_eq!(
        facade
            .server
            .log_text()
            .matches("client registered from its metadata document")
            .count(),
        1
    );
    // The consent page names the site behind the document and warns that
    // a loopback redirect goes to a local program.
    let (_, challenge) = pkce();
    let page = authorize(port, &authorize_path(&url, CLIENT_REDIRECT, &challenge, "s")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("described by <b>127.0.0.1</b>"), "{}", page.body);
    assert!(page.body.contains("a program on this computer"), "{}", page.body);

    // Documents that must be refused, each with its reason, before any
    // redirect.
    for (path, reason) in [
        ("/mismatch.json", "is not the URL it was fetched from"),
        ("/moved.json", "redirects are not followed"),
        ("/big.json", "larger than 5120 bytes"),
        ("/secret.json", "needs a shared secret"),
        ("/html.json", "must be application/json"),
        ("/missing.json", "answered 404"),
    ] {
        let page = refused_authorization(port, &documents.url(path)).await;
        assert!(page.contains(reason), "{path}: {page}");
    }
    assert_eq!(documents.fetches("/moved.json").await, 1);
    // Client IDs that are not acceptable URLs are refused without a fetch.
    for (client_id, reason) in [
        (
            format!("http://127.0.0.1:{}/client.json", documents.https_port),
            "must use https",
        ),
        (documents.url("/"), "must have a path"),
        (documents.url("/a/../client.json"), "path segments"),
    ] {
        let page = refused_authorization(port, &client_id).await;
        assert!(page.contains(reason), "{client_id}: {page}");
    }
    // The document's redirect URIs bind the client like registered ones.
    let (_, challenge) = pkce();
    let reply = authorize(
        port,
        &authorize_path(&url, "https://attacker.example/cb", &challenge, "s"),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("not one this client registered"), "{}", reply.body);
    // Token requests of the document client authenticate as a public
    // client only: a secret is refused.
    let (status, body) = token(
        port,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", &url),
            ("client_secret", "guess"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("invalid_client")),
        "{body}"
    );
    drop(facade);

    // Without the development allowance, the same loopback document is
    // refused: the host resolves 127.0.0.1 as a private address.
    let closed = rfc7591_facade(&idp, &["--facade-registrations-per-minute", "1"], &[]).await;
    let page = refused_authorization(closed.port, &url).await;
    // The answer does not say what the network said (no mapping of
    // internal names from outside); the log does.
    assert!(page.contains("could not be fetched from 127.0.0.1"), "{page}");
    assert!(!page.contains("private"), "{page}");
    // The log is read from the process's stderr by another thread: give
    // the line a moment to arrive.
    let logged = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !closed.server.log_text().contains("resolves only to private, loopback") && std::time::Instant::now() < logged
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        closed.server.log_text().contains("resolves only to private, loopback"),
        "{}",
        closed.server.log_text()
    );
    assert_eq!(documents.fetches("/client.json").await, 1);
    // Each URL never seen counts as a new client, accepted or not: past
    // FACADE_REGISTRATIONS_PER_MINUTE the next unknown URL is not fetched.
    let (_, challenge) = pkce();
    let reply = authorize(
        closed.port,
        &authorize_path(&documents.url("/another.json"), CLIENT_REDIRECT, &challenge, "s"),
    )
    .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert!(reply.body.contains("too many new clients"), "{}", reply.body);
    drop(closed);

    // Operators may turn metadata documents off, or limit their hosts.
    let off = start_facade(&idp, &["--facade-cimd", "false"], LOCAL_GRANT);
    wait_ready(off.port).await;
    let metadata = get(&format!("{}/.well-known/oauth-authorization-server", off.issuer), &[]).await;
    let metadata: Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(
        metadata["client_id_metadata_document_supported"],
        json!(false),
        "{metadata}"
    );
    let page = refused_authorization(off.port, &url).await;
    assert!(page.contains("does not accept client metadata document URLs"), "{page}");
    drop(off);
    let limited = start_facade(
        &idp,
        &[
            "--facade-cimd-allowed-hosts",
            "claude.ai",
            "--facade-cimd-private-addresses",
        ],
        LOCAL_GRANT,
    );
    wait_ready(limited.port).await;
    let page = refused_authorization(limited.port, &url).await;
    assert!(page.contains("127.0.0.1 is not among the hosts"), "{page}");
    assert_eq!(documents.fetches("/client.json").await, 1);
}

/// A refresh token request; the status and JSON answer.
/// `cnpg-mcp login --client-id URL`: the URL of a Client ID Metadata
/// Document is the client; nothing is registered, the facade fetches the
/// document, and the loopback redirect on a port of the moment matches the
/// document's loopback redirect URI (RFC 8252 §7.3).
#[tokio::test(flavor = "multi_thread")]
async fn login_signs_in_with_a_client_id_metadata_document_at_the_facade() {
    let idp = closed_idp();
    let documents = Documents::start();
    let ca = documents.ca();
    let facade = rfc7591_facade(
        &idp,
        &["--facade-cimd-private-addresses"],
        &[("SSL_CERT_FILE", ca.as_str())],
    )
    .await;
    let config = TempDir::new("login-cimd");
    let url = documents.url("/client.json");
    let login = Command::new(cnpg_mcp_tests::binary())
        .args(["login", "--url", &facade.resource, "--client-id", &url])
        .env("CNPG_MCP_CONFIG_DIR", config.path())
        .env(
            "BROWSER",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/headless_browser.py"),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let whoami = Command::new(cnpg_mcp_tests::binary())
        .args(["whoami", "--url", &facade.resource])
        .env("CNPG_MCP_CONFIG_DIR", config.path())
        .output()
        .unwrap();
    let whoami: Value = serde_json::from_slice(&whoami.stdout).unwrap();
    assert_eq!(whoami["client_id"], json!(url), "{whoami}");
    assert_eq!(whoami["issuer"], json!(facade.issuer), "{whoami}");
    assert_eq!(whoami["refreshable"], json!(true), "{whoami}");
    let log = facade.server.log_text();
    assert!(!log.contains("\"client registered\""), "a registration happened: {log}");
    assert_eq!(documents.fetches("/client.json").await, 1);
}

async fn refresh_grant(port: u16, client: &str, refresh_token: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut fields = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client),
    ];
    fields.extend_from_slice(extra);
    token(port, &fields).await
}

/// The status of an MCP `initialize` presenting `access_token`.
async fn mcp_status(port: u16, access_token: &str) -> u16 {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let authorization = format!("Bearer {access_token}");
    request(
        port,
        "POST",
        "/mcp",
        &[
            cnpg_mcp_tests::MCP_ACCEPT,
            cnpg_mcp_tests::JSON_TYPE,
            ("authorization", &authorization),
        ],
        body.to_string().into_bytes(),
    )
    .await
    .status
}

fn text<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name].as_str().unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// Issue 19 item 6: a refused refresh leaves its token valid (RFC 6749
/// section 6, RFC 9700 section 4.14.2: the old token is retired only once a
/// new one is issued), and a refresh for another resource is refused as the
/// code exchange refuses it (RFC 8707).
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_leaves_the_token_valid_and_another_resource_is_an_invalid_target() {
    let idp = closed_idp();
    let facade = rfc7591_facade(
        &idp,
        &["--oidc-scope", "mcp:read", "--oidc-write-scope", "mcp:write"],
        &[],
    )
    .await;
    let client = register_public(facade.port).await;
    let tokens = sign_in(&facade, &client).await;
    assert_eq!(tokens["scope"], json!("mcp:read"), "{tokens}");
    let first_access = text(&tokens, "access_token").to_string();
    let refresh = text(&tokens, "refresh_token").to_string();

    let (status, body) = refresh_grant(facade.port, &client, &refresh, &[("scope", "mcp:read mcp:write")]).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_scope")), "{body}");
    let (status, body) = refresh_grant(
        facade.port,
        &client,
        &refresh,
        &[("resource", "https://other.example.com/mcp")],
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_target")),
        "{body}"
    );

    // The same token, never replaced, still works, and the grant is alive.
    let (status, rotated) = refresh_grant(facade.port, &client, &refresh, &[]).await;
    assert_eq!(status, 200, "the refused requests burnt the refresh token: {rotated}");
    assert_eq!(rotated["scope"], json!("mcp:read"), "{rotated}");
    assert_eq!(mcp_status(facade.port, &first_access).await, 200);
    assert_eq!(mcp_status(facade.port, text(&rotated, "access_token")).await, 200);
    // Our own resource, named, is fine.
    let (status, again) = refresh_grant(
        facade.port,
        &client,
        text(&rotated, "refresh_token"),
        &[("resource", &facade.resource)],
    )
    .await;
    assert_eq!(status, 200, "{again}");

    // Reuse detection still holds for a token that was replaced.
    let (status, body) = refresh_grant(facade.port, &client, &refresh, &[]).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");
    assert!(text(&body, "error_description").contains("already used"), "{body}");
    let (status, body) = refresh_grant(facade.port, &client, text(&again, "refresh_token"), &[]).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant")),
        "reuse revokes the whole family: {body}"
    );
}

/// Issue 19 item 6: RFC 6749 section 4.1.3 requires `redirect_uri` at the
/// token endpoint only if the authorization request included it.
#[tokio::test(flavor = "multi_thread")]
async fn redirect_uri_is_required_at_the_token_endpoint_only_if_the_authorization_request_had_it() {
    let idp = closed_idp();
    let facade = rfc7591_facade(&idp, &[], &[]).await;
    // One registered redirect URI: /authorize may leave it out.
    let client = register_public(facade.port).await;
    let without_redirect = |challenge: &str| {
        format!(
            "/authorize?response_type=code&client_id={client}&code_challenge={challenge}&code_challenge_method=S256&state=s"
        )
    };
    let code_for = async |path: String| {
        let page = authorize(facade.port, &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let (_, back) = approve_and_sign_in(&facade, &page).await;
        assert!(back.starts_with(CLIENT_REDIRECT), "{back}");
        query_param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"))
    };
    let exchange = async |code: &str, verifier: &str, redirect: Option<&str>| {
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client.as_str()),
            ("code_verifier", verifier),
        ];
        if let Some(redirect) = redirect {
            fields.push(("redirect_uri", redirect));
        }
        token(facade.port, &fields).await
    };

    // Left out of both: the code is exchanged.
    let (verifier, challenge) = pkce();
    let code = code_for(without_redirect(&challenge)).await;
    let (status, body) = exchange(&code, &verifier, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string(), "{body}");

    // Left out of /authorize, another one at /token: refused.
    let (verifier, challenge) = pkce();
    let code = code_for(without_redirect(&challenge)).await;
    let (status, body) = exchange(&code, &verifier, Some("http://127.0.0.1:53682/other")).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");

    // Sent to /authorize, left out at /token: refused.
    let (verifier, challenge) = pkce();
    let code = code_for(authorize_path(&client, CLIENT_REDIRECT, &challenge, "s")).await;
    let (status, body) = exchange(&code, &verifier, None).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");
    assert!(text(&body, "error_description").contains("redirect_uri"), "{body}");
}

/// Issue 19 item 6: the facade issues no ID tokens, so it publishes no
/// OpenID discovery document (one without
/// `id_token_signing_alg_values_supported` would break OpenID Connect
/// Discovery section 3); its RFC 8414 document is what MCP clients read.
#[tokio::test(flavor = "multi_thread")]
async fn the_facade_publishes_its_rfc_8414_metadata_and_no_openid_discovery_document() {
    let idp = closed_idp();
    let facade = rfc7591_facade(&idp, &[], &[]).await;
    let metadata = request(
        facade.port,
        "GET",
        "/.well-known/oauth-authorization-server",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(metadata.status, 200, "{}", metadata.body);
    let metadata: Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(metadata["issuer"], json!(facade.issuer));
    assert!(metadata.get("subject_types_supported").is_none(), "{metadata}");
    let oidc = request(facade.port, "GET", "/.well-known/openid-configuration", &[], Vec::new()).await;
    assert_eq!(oidc.status, 404, "{}", oidc.body);
}

/// Issue 19 item 6: an upstream refresh that fails because the IdP cannot
/// be reached keeps the grant (503 `temporarily_unavailable` with
/// `Retry-After`, the refresh token still valid); only the IdP's refusal
/// ends it.
#[tokio::test(flavor = "multi_thread")]
async fn an_idp_outage_keeps_the_grant_and_only_the_idps_refusal_ends_it() {
    // Upstream access tokens live 1 s, so every refresh of ours re-checks
    // the upstream session.
    let mut idp = Idp::start_with(IdpOptions {
        dcr_token: true,
        access_token_ttl: Some(1),
        ..IdpOptions::default()
    })
    .unwrap();
    let facade = rfc7591_facade(&idp, &[], &[]).await;
    let client = register_public(facade.port).await;
    let tokens = sign_in(&facade, &client).await;
    let access = text(&tokens, "access_token").to_string();
    let refresh = text(&tokens, "refresh_token").to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;

    // While the IdP is down (connection refused): retry later, twice.
    idp.stop();
    for attempt in 0..2 {
        let reply = post_form(
            facade.port,
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client),
            ],
            &[],
        )
        .await;
        assert_eq!(reply.status, 503, "attempt {attempt}: {}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["error"], json!("temporarily_unavailable"), "{body}");
        let retry: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
    }
    // The grant lives on: its access token still works.
    assert_eq!(mcp_status(facade.port, &access).await, 200);
    let log = facade.server.log_text();
    assert!(log.contains("upstream refresh failed; the grant is kept"), "{log}");

    // The IdP is back having forgotten its grants (its state is in
    // memory): it refuses, and the grant ends here too.
    idp.restart().unwrap();
    let (status, body) = refresh_grant(facade.port, &client, &refresh, &[]).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");
    assert!(text(&body, "error_description").contains("has ended"), "{body}");
    let (status, body) = refresh_grant(facade.port, &client, &refresh, &[]).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")), "{body}");
    // Its access tokens stop within the validation cache's 5 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(mcp_status(facade.port, &access).await, 401);
}

/// The store's records, as envelopes `{key, expires_at, value}`: the files
/// of a file store, or the Secrets of a Kubernetes store in `namespace`.
async fn stored_records(facade: &Facade, kubernetes: Option<(&kube::Client, &str)>) -> Vec<Value> {
    match kubernetes {
        None => std::fs::read_dir(facade.store.path())
            .unwrap()
            .flatten()
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                assert!(!name.starts_with(".tmp-"), "a temporary file is left: {name}");
                let text = std::fs::read_to_string(entry.path()).unwrap();
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is half-written ({e}): {text}"))
            })
            .collect(),
        Some((client, namespace)) => {
            let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
                kube::Api::namespaced(client.clone(), namespace);
            let list = secrets
                .list(&kube::api::ListParams::default().labels("cnpg-mcp.io/facade-record=true"))
                .await
                .unwrap();
            list.items
                .iter()
                .map(|secret| {
                    let bytes = &secret.data.as_ref().unwrap()["record"].0;
                    serde_json::from_slice(bytes).unwrap_or_else(|e| {
                        panic!(
                            "{:?} is half-written ({e}): {}",
                            secret.metadata.name,
                            String::from_utf8_lossy(bytes)
                        )
                    })
                })
                .collect()
        }
    }
}

/// The value stored under `key`, if any.
fn record<'a>(records: &'a [Value], key: &str) -> Option<&'a Value> {
    records.iter().find(|r| r["key"] == json!(key)).map(|r| &r["value"])
}

/// Sends the token request `fields` 50 times at once; the answers.
async fn fifty_at_once(port: u16, fields: Vec<(String, String)>) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let fields = fields.clone();
            tokio::spawn(async move {
                let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                token(port, &fields).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// The one 200 among `answers`; every other one is `invalid_grant`.
fn one_winner(answers: Vec<(u16, Value)>, what: &str) -> Value {
    let (won, lost): (Vec<_>, Vec<_>) = answers.into_iter().partition(|(status, _)| *status == 200);
    assert_eq!(won.len(), 1, "{what}: {} requests won", won.len());
    for (status, body) in &lost {
        assert_eq!(
            (*status, body["error"].clone()),
            (400, json!("invalid_grant")),
            "{what}: {body}"
        );
    }
    won.into_iter().next().unwrap().1
}

/// 50 concurrent redemptions of one code, then 50 concurrent uses of one
/// refresh token: exactly one of each wins, the others' reuse revokes the
/// grant the winner got, and the store holds only whole records.
async fn one_time_values_have_one_winner(facade: &Facade, kubernetes: Option<(&kube::Client, &str)>) {
    use cnpg_mcp::facade::seal::digest;
    let client = register_public(facade.port).await;
    let owned = |fields: &[(&str, &str)]| -> Vec<(String, String)> {
        fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };

    let (verifier, challenge) = pkce();
    let page = authorize(facade.port, &authorize_path(&client, CLIENT_REDIRECT, &challenge, "s")).await;
    let (_, back) = approve_and_sign_in(facade, &page).await;
    let code = query_param(&back, "code").unwrap();
    let answers = fifty_at_once(
        facade.port,
        owned(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &client),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &verifier),
        ]),
    )
    .await;
    let won = one_winner(answers, "one code");
    let (status, body) = refresh_grant(facade.port, &client, text(&won, "refresh_token"), &[]).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant")),
        "the replayed code did not revoke its grant: {body}"
    );
    assert_eq!(mcp_status(facade.port, text(&won, "access_token")).await, 401);
    let records = stored_records(facade, kubernetes).await;
    assert!(record(&records, &format!("code:{}", digest(&code))).is_none());
    let used = record(&records, &format!("used-code:{}", digest(&code))).expect("the code's use is recorded");
    let session = used["session"].as_str().unwrap();
    assert!(
        record(&records, &format!("session:{session}")).is_none(),
        "the grant is revoked"
    );

    let tokens = sign_in(facade, &client).await;
    let refresh = text(&tokens, "refresh_token").to_string();
    let answers = fifty_at_once(
        facade.port,
        owned(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &client),
        ]),
    )
    .await;
    assert!(
        answers.iter().any(|(_, body)| body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("already used"))),
        "no request was told of the reuse"
    );
    let won = one_winner(answers, "one refresh token");
    let rotated = text(&won, "refresh_token");
    let (status, body) = refresh_grant(facade.port, &client, rotated, &[]).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant")),
        "the reused refresh token did not revoke its family: {body}"
    );
    for access in [text(&won, "access_token"), text(&tokens, "access_token")] {
        assert_eq!(mcp_status(facade.port, access).await, 401);
    }
    let records = stored_records(facade, kubernetes).await;
    assert!(record(&records, &format!("refresh:{}", digest(&refresh))).is_none());
    let used = record(&records, &format!("used-refresh:{}", digest(&refresh))).expect("the use is recorded");
    let session = used["session"].as_str().unwrap();
    assert!(
        record(&records, &format!("session:{session}")).is_none(),
        "the grant is revoked"
    );
    for envelope in &records {
        assert!(
            envelope["key"].is_string() && envelope["expires_at"].is_u64() && envelope.get("value").is_some(),
            "{envelope}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_store_gives_one_code_and_one_refresh_token_to_one_of_fifty_requests() {
    let idp = closed_idp();
    let facade = rfc7591_facade(&idp, &[], &[]).await;
    one_time_values_have_one_winner(&facade, None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubernetes_store_gives_one_code_and_one_refresh_token_to_one_of_fifty_requests() {
    let bed = cnpg_mcp_tests::testbed::TestBed::shared().await;
    let namespace = bed.namespace("facade-race").await.unwrap();
    let client = bed.client().await.unwrap();
    let idp = closed_idp();
    let registration_url = idp.registration_url();
    let store_arg = format!("kubernetes:{namespace}");
    let facade = start_facade_on_store(
        &idp,
        Some(&store_arg),
        &[
            "--kubeconfig",
            bed.kubeconfig.to_str().unwrap(),
            "--dcr-proxy-url",
            &registration_url,
            "--dcr-initial-access-token",
            INITIAL_ACCESS_TOKEN,
        ],
        LOCAL_GRANT,
        &[],
    );
    wait_ready(facade.port).await;
    one_time_values_have_one_winner(&facade, Some((&client, &namespace))).await;
}
