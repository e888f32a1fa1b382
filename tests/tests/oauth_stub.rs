//! The resource server in the real binary, with tokens crafted in process
//! and an in-process discovery/JWKS endpoint whose failures the tests
//! control (`cnpg_mcp_tests::stub_idp`): challenges, metadata documents,
//! scopes, session binding, key refresh policy, IdP outages, and no token
//! in any log. Flows with the real IdP are in `oauth.rs`.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cnpg_mcp_tests::jwt::{TestKey, jwks, now};
use cnpg_mcp_tests::stub_idp::{JwksMode, StubIdp};
use cnpg_mcp_tests::{JSON_TYPE, MCP_ACCEPT, Server, Session, component_folder, request};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const RESOURCE: &str = "https://mcp.test/mcp";

struct Keys {
    current: TestKey,
    next: TestKey,
    _dir: cnpg_mcp_tests::tempdir::TempDir,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = cnpg_mcp_tests::tempdir::TempDir::new("oauth-keys");
        Keys {
            current: TestKey::rsa(dir.path(), "key-1", 2048, Algorithm::RS256),
            next: TestKey::ec(dir.path(), "key-2"),
            _dir: dir,
        }
    })
}

fn claims(idp: &StubIdp, sub: &str, scope: &str) -> Value {
    json!({"iss": idp.issuer, "aud": RESOURCE, "sub": sub, "exp": now() + 300, "iat": now(),
        "jti": format!("jti-{sub}-{}", now()), "scope": scope, "preferred_username": sub, "groups": ["dba"], "client_id": "test-client"})
}

fn start(idp: &StubIdp, extra: &[&str]) -> (Server, cnpg_mcp_tests::tempdir::TempDir) {
    let dir = component_folder(&[("test_k8s_probe", None)]);
    let mut args = vec![
        "--components",
        dir.path().to_str().unwrap(),
        "--oidc-issuer",
        &idp.issuer,
        "--public-url",
        RESOURCE,
        "--oidc-scope",
        "mcp:read",
    ];
    args.extend_from_slice(extra);
    (Server::start(&args), dir)
}

async fn wait_ready(server: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = request(server.port, "GET", "/readyz", &[], Vec::new()).await;
        if reply.status == 200 || Instant::now() > deadline {
            return serde_json::from_str(&reply.body).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn initialize() -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    .to_string()
    .into_bytes()
}

async fn post(server: &Server, authorization: Option<&str>) -> cnpg_mcp_tests::Reply {
    let mut headers = vec![MCP_ACCEPT, JSON_TYPE];
    if let Some(value) = authorization {
        headers.push(("authorization", value));
    }
    request(server.port, "POST", "/mcp", &headers, initialize()).await
}

fn challenge(reply: &cnpg_mcp_tests::Reply) -> String {
    reply
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn challenges_metadata_scopes_and_sessions() {
    let k = keys();
    let idp = StubIdp::start(jwks(&[&k.current])).await;
    let (server, _dir) = start(&idp, &["--oidc-write-scope", "mcp:write"]);
    assert_eq!(wait_ready(&server).await["status"], json!("ready"));
    let metadata_url = "https://mcp.test/.well-known/oauth-protected-resource/mcp";

    // No token: 401 with the metadata URL and scope, no `error`.
    let reply = post(&server, None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        challenge(&reply),
        format!("Bearer resource_metadata=\"{metadata_url}\", scope=\"mcp:read\"")
    );
    // GET (SSE stream) and DELETE need the token too.
    for method in ["GET", "DELETE"] {
        let reply = request(server.port, method, "/mcp", &[MCP_ACCEPT], Vec::new()).await;
        assert_eq!(reply.status, 401, "{method}");
    }
    // Bad tokens: invalid_token with the documented descriptions.
    let cases = [
        ("Bearer not.a.token".to_string(), "Malformed token"),
        ("Basic dXNlcjpwYXNz".to_string(), "Invalid Authorization header"),
        (
            format!(
                "Bearer {}",
                k.current.sign(
                    json!({}),
                    &json!({"iss": idp.issuer, "aud": "https://elsewhere/mcp", "sub": "u", "exp": now() + 300})
                )
            ),
            "Invalid audience",
        ),
        (
            format!(
                "Bearer {}",
                k.current.sign(
                    json!({}),
                    &json!({"iss": "https://other.test", "aud": RESOURCE, "sub": "u", "exp": now() + 300})
                )
            ),
            "Invalid issuer",
        ),
        (
            format!(
                "Bearer {}",
                k.current.sign(
                    json!({}),
                    &json!({"iss": idp.issuer, "aud": RESOURCE, "sub": "u", "exp": now() - 3600})
                )
            ),
            "Token expired",
        ),
    ];
    let mut tokens_seen: Vec<String> = cases.iter().map(|(h, _)| h.clone()).collect();
    for (header, description) in &cases {
        let reply = post(&server, Some(header)).await;
        assert_eq!(reply.status, 401, "{description}");
        let value = challenge(&reply);
        assert!(value.contains("error=\"invalid_token\""), "{value}");
        assert!(
            value.contains(&format!("error_description=\"{description}\"")),
            "{value}"
        );
        assert!(
            value.starts_with(&format!("Bearer resource_metadata=\"{metadata_url}\"")),
            "{value}"
        );
    }
    // A token in the query string is ignored; notifications need a token.
    let good = k.current.sign(json!({}), &claims(&idp, "alice", "mcp:read"));
    tokens_seen.push(good.clone());
    let reply = request(
        server.port,
        "POST",
        &format!("/mcp?access_token={good}"),
        &[MCP_ACCEPT, JSON_TYPE],
        initialize(),
    )
    .await;
    assert_eq!(reply.status, 401);
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &[MCP_ACCEPT, JSON_TYPE],
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec(),
    )
    .await;
    assert_eq!(reply.status, 401);
    // Key headers in a token are never fetched: an attacker's key with a
    // `jku`/`x5u` pointing at a URL we watch.
    let attacker = TestKey::rsa(_dir.path(), "evil", 2048, Algorithm::RS256);
    let forged = attacker.sign(
        json!({"kid": "evil", "jku": format!("{}/evil-jwks", idp.issuer), "x5u": format!("{}/evil-x5u", idp.issuer), "jwk": attacker.jwk}),
        &claims(&idp, "mallory", "mcp:read"),
    );
    tokens_seen.push(forged.clone());
    assert_eq!(post(&server, Some(&format!("Bearer {forged}"))).await.status, 401);
    assert_eq!(idp.other_hits(), 0, "a URL from a token header was fetched");

    // Browsers may read the challenge.
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &[MCP_ACCEPT, JSON_TYPE, ("origin", "http://localhost:6274")],
        initialize(),
    )
    .await;
    assert_eq!(reply.status, 401);
    let exposed = reply
        .headers
        .get("access-control-expose-headers")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(exposed.contains("WWW-Authenticate"), "{exposed}");

    // Metadata documents: public, CORS open, exact values.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let reply = request(server.port, "GET", path, &[], Vec::new()).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.headers.get("access-control-allow-origin").unwrap(), "*");
        let document: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(document["resource"], json!(RESOURCE));
        assert_eq!(document["authorization_servers"], json!([idp.issuer]));
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
        assert_eq!(document["scopes_supported"], json!(["mcp:read", "mcp:write"]));
    }
    let reply = request(
        server.port,
        "GET",
        "/.well-known/oauth-authorization-server",
        &[],
        Vec::new(),
    )
    .await;
    let document: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(document["issuer"], json!(idp.issuer));
    assert_eq!(document["registration_endpoint"], json!(format!("{}/reg", idp.issuer)));

    // Missing the required scope: 403 insufficient_scope.
    let weak = k.current.sign(json!({}), &claims(&idp, "weak", "openid"));
    tokens_seen.push(weak.clone());
    let reply = post(&server, Some(&format!("Bearer {weak}"))).await;
    assert_eq!(reply.status, 403);
    assert!(
        challenge(&reply).contains("error=\"insufficient_scope\""),
        "{}",
        challenge(&reply)
    );

    // A good token: the caller reaches components (never the token).
    let alice = k.current.sign(json!({}), &claims(&idp, "alice", "mcp:read"));
    tokens_seen.push(alice.clone());
    let mut session = Session::open_with_token(server.port, &alice).await;
    let info = session.call_tool("get_session_info", json!({})).await;
    let caller = &info["structuredContent"]["caller"];
    assert_eq!(caller["subject"], json!("alice"));
    assert_eq!(caller["issuer"], json!(idp.issuer));
    assert_eq!(caller["groups"], json!(["dba"]));
    assert_eq!(caller["client_id"], json!("test-client"));
    assert!(!info.to_string().contains(&alice));
    // A tool that is not read-only needs mcp:write as well (step-up).
    let reply = session
        .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "k8s", "arguments": {"op": "default_namespace"}}}))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        challenge(&reply),
        format!(
            "Bearer resource_metadata=\"{metadata_url}\", scope=\"mcp:read mcp:write\", error=\"insufficient_scope\", error_description=\"The token lacks a scope this tool needs\""
        )
    );
    let writer = k.current.sign(json!({}), &claims(&idp, "alice", "mcp:read mcp:write"));
    tokens_seen.push(writer.clone());
    let mut write_session = Session::open_with_token(server.port, &writer).await;
    let result = write_session.call_tool("k8s", json!({"op": "default_namespace"})).await;
    assert_eq!(result["structuredContent"], json!({"ok": "default"}));

    // Sessions are bound to (iss, sub): bob cannot use alice's session.
    let bob = k.current.sign(json!({}), &claims(&idp, "bob", "mcp:read"));
    tokens_seen.push(bob.clone());
    let mut stolen = Session::attach(server.port, session.session_id.clone(), session.protocol.clone());
    stolen.token = Some(bob);
    let reply = stolen
        .post(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    let reply = session
        .post(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}))
        .await;
    assert_eq!(reply.status, 200);

    // Refusals are counted by reason on /metrics (which needs no token).
    let metrics = request(server.port, "GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(metrics.status, 200);
    for line in [
        "cnpg_mcp_auth_failures_total{reason=\"Invalid audience\"} 1",
        "cnpg_mcp_auth_failures_total{reason=\"Malformed token\"} 1",
        "cnpg_mcp_auth_failures_total{reason=\"insufficient scope\"} 1",
        // The first load, and one refresh for the attacker's unknown kid.
        "cnpg_mcp_jwks_fetches 2",
    ] {
        assert!(
            metrics.body.lines().any(|l| l == line),
            "missing `{line}` in:\n{}",
            metrics.body
        );
    }

    // The audit record names the caller; no log line holds a token.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("cnpg_mcp::audit") && l.contains("\"caller\":\"alice\"")),
        "{log}"
    );
    assert!(log.contains("authentication failed"), "failures are logged");
    for token in &tokens_seen {
        let bare = token.trim_start_matches("Bearer ").trim_start_matches("Basic ");
        assert!(!log.contains(bare), "a credential reached the log: {bare}");
        let signature = bare.rsplit('.').next().unwrap();
        if signature.len() >= 20 {
            assert!(!log.contains(signature), "a token signature reached the log");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn key_refresh_rotation_and_outages() {
    let k = keys();
    let idp = StubIdp::start(jwks(&[&k.current])).await;
    let (server, _dir) = start(&idp, &[]);
    wait_ready(&server).await;
    assert_eq!(idp.jwks_hits(), 1);
    let token = |key: &TestKey, kid: &str| {
        format!(
            "Bearer {}",
            key.sign(json!({"kid": kid}), &claims(&idp, "alice", "mcp:read"))
        )
    };
    assert_eq!(post(&server, Some(&token(&k.current, "key-1"))).await.status, 200);

    // Rotation: the IdP now publishes only key-2. A token with key-2 makes
    // the server fetch the JWKS once, then it is accepted; key-1 is gone.
    idp.set_jwks(jwks(&[&k.next]));
    assert_eq!(post(&server, Some(&token(&k.next, "key-2"))).await.status, 200);
    assert_eq!(idp.jwks_hits(), 2);
    assert_eq!(post(&server, Some(&token(&k.current, "key-1"))).await.status, 401);

    // A flood of unknown kids within the 30 s window: no further fetch.
    let server = Arc::new(server);
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let server = server.clone();
        let header = token(&k.current, &format!("ghost-{i}"));
        tasks.push(tokio::spawn(async move { post(&server, Some(&header)).await.status }));
        if tasks.len() >= 50 {
            for task in tasks.drain(..) {
                assert_eq!(task.await.unwrap(), 401);
            }
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 401);
    }
    assert!(idp.jwks_hits() <= 3, "{} JWKS fetches", idp.jwks_hits());

    // A remembered (already validated) token still expires on time.
    let (strict, _strict_dir) = start(&idp, &["--oidc-leeway-seconds", "0"]);
    wait_ready(&strict).await;
    let mut short = claims(&idp, "alice", "mcp:read");
    short["exp"] = json!(now() + 2);
    let short = format!("Bearer {}", k.next.sign(json!({}), &short));
    assert_eq!(post(&strict, Some(&short)).await.status, 200);
    assert_eq!(post(&strict, Some(&short)).await.status, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reply = post(&strict, Some(&short)).await;
    assert_eq!(reply.status, 401);
    assert!(challenge(&reply).contains("Token expired"), "{}", challenge(&reply));

    // The JWKS endpoint fails: cached keys keep working.
    for mode in [JwksMode::Status(500), JwksMode::Malformed, JwksMode::Huge] {
        idp.set_mode(mode);
        assert_eq!(post(&server, Some(&token(&k.next, "key-2"))).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_or_broken_idp_keeps_the_server_up_but_not_ready() {
    let k = keys();
    // Discovery down at start: the server runs, /readyz says why, and it
    // becomes ready once the IdP answers.
    let idp = StubIdp::start(jwks(&[&k.current])).await;
    idp.set_discovery_down(true);
    let (server, _dir) = start(&idp, &[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reply = request(server.port, "GET", "/readyz", &[], Vec::new()).await;
    assert_eq!(reply.status, 503);
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Failed to discover JWKS URI from {}", idp.issuer)),
        "{body}"
    );
    assert_eq!(post(&server, Some("Bearer a.b.c")).await.status, 401);
    idp.set_discovery_down(false);
    assert_eq!(wait_ready(&server).await["status"], json!("ready"));

    // A broken JWKS endpoint at start: not ready, with the reason.
    for (mode, reason) in [
        (JwksMode::Redirect, "HTTP 302"),
        (JwksMode::Malformed, "not JSON"),
        (JwksMode::Huge, "length limit"),
        (JwksMode::Status(500), "HTTP 500"),
        (JwksMode::Slow(Duration::from_secs(8)), "no answer within"),
    ] {
        let idp = StubIdp::start(jwks(&[&k.current])).await;
        idp.set_mode(mode.clone());
        let (server, _dir) = start(&idp, &[]);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let reply = request(server.port, "GET", "/readyz", &[], Vec::new()).await;
            assert_eq!(reply.status, 503, "{mode:?}");
            if reply.body.contains(reason) {
                break;
            }
            assert!(Instant::now() < deadline, "{mode:?}: {}", reply.body);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dcr_proxy_url_is_advertised_in_the_mirrored_metadata() {
    let k = keys();
    let idp = StubIdp::start(jwks(&[&k.current])).await;
    let (server, _dir) = start(&idp, &["--dcr-proxy-url", "https://register.example.com/dcr"]);
    assert_eq!(wait_ready(&server).await["status"], json!("ready"));
    let reply = request(
        server.port,
        "GET",
        "/.well-known/oauth-authorization-server",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let document: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        document["registration_endpoint"],
        json!("https://register.example.com/dcr")
    );
    // Everything else is the IdP's own metadata, issuer included.
    assert_eq!(document["issuer"], json!(idp.issuer));
    assert_eq!(document["jwks_uri"], json!(format!("{}/jwks", idp.issuer)));
    drop(server);
    // Not https (and not loopback): refused at start with the reason.
    for bad in [
        "http://register.example.com/dcr",
        "not a url",
        "https://x.example/#frag",
    ] {
        let dir = component_folder(&[]);
        let outcome = Server::try_start(&[
            "--components",
            dir.path().to_str().unwrap(),
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            RESOURCE,
            "--dcr-proxy-url",
            bad,
        ]);
        let error = outcome.err().unwrap_or_else(|| panic!("{bad} was accepted"));
        assert!(error.contains("DCR_PROXY_URL"), "{bad}: {error}");
    }
}

/// Issue 19 item 5: `OIDC_JWKS_URI` is for IdPs without a metadata
/// document; given with the issuer it must be enough on its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_uri_alone_replaces_discovery_for_an_idp_without_a_metadata_document() {
    let k = keys();
    let idp = StubIdp::start_jwks_only(jwks(&[&k.current])).await;
    let jwks_uri = format!("{}/jwks", idp.issuer);
    let (server, _dir) = start(&idp, &["--oidc-jwks-uri", &jwks_uri]);
    let readiness = wait_ready(&server).await;
    assert_eq!(readiness["status"], json!("ready"), "{readiness}");
    assert!(idp.jwks_hits() >= 1);

    // A token signed with the JWKS's key is accepted.
    let good = k.current.sign(json!({}), &claims(&idp, "alice", "mcp:read"));
    let reply = post(&server, Some(&format!("Bearer {good}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // A key the JWKS does not hold, a broken signature, another issuer:
    // refused as anywhere else.
    let unknown_key = k.next.sign(json!({}), &claims(&idp, "mallory", "mcp:read"));
    let mut tampered = good.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let mut foreign = claims(&idp, "mallory", "mcp:read");
    foreign["iss"] = json!("https://other.test");
    let other_issuer = k.current.sign(json!({}), &foreign);
    for (token, what) in [
        (unknown_key, "unknown key"),
        (tampered, "broken signature"),
        (other_issuer, "other issuer"),
    ] {
        let reply = post(&server, Some(&format!("Bearer {token}"))).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert!(
            challenge(&reply).contains("invalid_token"),
            "{what}: {}",
            challenge(&reply)
        );
    }

    // What needs the metadata degrades: the protected resource metadata
    // still names the issuer, the IdP's metadata is simply not mirrored,
    // and the missing document was looked for once, not per request.
    let prm = request(
        server.port,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(prm.status, 200);
    let prm: Value = serde_json::from_str(&prm.body).unwrap();
    assert_eq!(prm["authorization_servers"], json!([idp.issuer]));
    // Nothing to mirror: 404 once the document was looked for (503 only
    // while that is still under way).
    let looked_for = Instant::now() + Duration::from_secs(10);
    let mirror = loop {
        let mirror = request(
            server.port,
            "GET",
            "/.well-known/oauth-authorization-server",
            &[],
            Vec::new(),
        )
        .await;
        if mirror.status != 503 || Instant::now() > looked_for {
            break mirror;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(mirror.status, 404, "nothing to mirror: {}", mirror.body);
    assert!(
        idp.discovery_hits() <= 2,
        "the metadata document was looked for {} times",
        idp.discovery_hits()
    );
    let log = server.log_text();
    assert!(log.contains("no usable metadata document"), "{log}");
}
