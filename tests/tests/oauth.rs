//! OAuth with a real OpenID provider (npm `oidc-provider`, started by the
//! `cnpg_mcp_tests::idp` fixture) and real clients: our own HTTP client
//! with a machine token, the official Python SDK with a static bearer and
//! with its full OAuth flow (PRM -> AS metadata -> DCR -> PKCE -> token),
//! the MCP Inspector CLI with an Authorization header, key rotation by
//! restarting the IdP with new keys, the IdP going down, and the
//! `cnpg-mcp connect` / `cnpg-mcp token` helpers (with a token that
//! expires mid-session).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cnpg_mcp_tests::idp::{Idp, IdpOptions};
use cnpg_mcp_tests::{ExternalClients, Server, Session, binary, free_port, python_sdk, request};
use serde_json::{Value, json};

const MACHINE: (&str, &str) = ("mcp-machine", "machine-secret");

fn start_server(idp: &Idp) -> (Server, String) {
    let port = free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let server = Server::start_on(
        port,
        &[
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            &resource,
            "--oidc-scope",
            "mcp:read",
        ],
    );
    (server, resource)
}

async fn wait_ready(server: &Server) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = request(server.port, "GET", "/readyz", &[], Vec::new()).await;
        if reply.status == 200 || Instant::now() > deadline {
            return serde_json::from_str(&reply.body).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn machine_tokens_from_the_real_idp_with_our_client_the_python_sdk_and_the_inspector() {
    let idp = Idp::start().unwrap();
    let (server, resource) = start_server(&idp);
    assert_eq!(wait_ready(&server).await["status"], json!("ready"));
    let token = idp
        .client_credentials(MACHINE.0, MACHINE.1, Some(&resource), "mcp:read")
        .await
        .unwrap();

    let mut session = Session::open_with_token(server.port, &token).await;
    let info = session.call_tool("get_session_info", json!({})).await;
    let caller = &info["structuredContent"]["caller"];
    assert_eq!(caller["issuer"], json!(idp.issuer), "{info}");
    assert_eq!(caller["client_id"], json!(MACHINE.0), "{info}");
    assert!(
        caller["scopes"].as_array().unwrap().contains(&json!("mcp:read")),
        "{info}"
    );

    // ES256 access tokens from the same IdP are accepted too.
    let es256 = idp
        .client_credentials(
            cnpg_mcp_tests::idp::MACHINE_CLIENT_ES256.0,
            cnpg_mcp_tests::idp::MACHINE_CLIENT_ES256.1,
            Some(&resource),
            "mcp:read",
        )
        .await
        .unwrap();
    let (header, _) = cnpg_mcp_tests::idp::decode_jwt(&es256).unwrap();
    assert_eq!(header["alg"], json!("ES256"));
    let mut ec_session = Session::open_with_token(server.port, &es256).await;
    let info = ec_session.call_tool("get_session_info", json!({})).await;
    assert_eq!(
        info["structuredContent"]["caller"]["client_id"],
        json!(cnpg_mcp_tests::idp::MACHINE_CLIENT_ES256.0),
        "{info}"
    );

    // A token for another resource is refused.
    let other = idp
        .client_credentials(MACHINE.0, MACHINE.1, Some("http://127.0.0.1:9/mcp"), "mcp:read")
        .await
        .unwrap();
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &[
            cnpg_mcp_tests::MCP_ACCEPT,
            cnpg_mcp_tests::JSON_TYPE,
            ("authorization", &format!("Bearer {other}")),
        ],
        br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert!(
        reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Invalid audience"),
        "{:?}",
        reply.headers
    );

    // Python SDK with a static bearer token, both protocol modes.
    for mode in ["legacy", "2026-07-28"] {
        let out = python_sdk(&["http-bearer", &resource, &token, mode, "get_session_info", "{}"]);
        assert_eq!(out["is_error"], json!(false), "{out}");
        assert_eq!(out["structured"]["caller"]["client_id"], json!(MACHINE.0), "{out}");
    }

    // MCP Inspector CLI with the header; without it, it fails.
    let clients = ExternalClients::get();
    let home = cnpg_mcp_tests::tempdir::TempDir::new("inspector-home");
    let inspector = || {
        let mut command = Command::new(clients.node_bin.join("mcp-inspector"));
        command
            .env("PATH", clients.path_env())
            .env("HOME", home.path())
            .arg("--cli");
        command
            .arg(&resource)
            .args(["--transport", "http", "--method", "tools/list"]);
        command
    };
    let output = inspector()
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("get_session_info"),
        "{stdout}"
    );
    let output = inspector().output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "the Inspector's exit code for an authentication failure"
    );

    // The documented helper script, with the token in a file.
    let token_file = home.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-inspector.sh");
    let output = Command::new("bash")
        .arg(script)
        .args([
            "--transport",
            "http",
            "--url",
            &resource,
            "--token-file",
            token_file.to_str().unwrap(),
        ])
        .env("HOME", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("get_session_info") && stdout.contains(MACHINE.0),
        "{stdout}"
    );

    // ... and its stdio mode, which starts the server itself.
    let output = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-inspector.sh"))
        .args(["--transport", "stdio", "--binary", binary().to_str().unwrap()])
        .env("HOME", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("get_session_info") && stdout.contains("local"),
        "{stdout}"
    );

    // No log line holds the token.
    assert!(!server.log_text().contains(token.rsplit('.').next().unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_completes_the_whole_oauth_flow_by_itself() {
    let idp = Idp::start().unwrap();
    let (server, resource) = start_server(&idp);
    wait_ready(&server).await;
    let out = python_sdk(&["oauth", &resource, "legacy", "get_session_info", "{}"]);
    assert_eq!(out["is_error"], json!(false), "{out}");
    let caller = &out["structured"]["caller"];
    assert_eq!(caller["issuer"], json!(idp.issuer), "{out}");
    assert!(
        out["registered_client"].is_string(),
        "dynamic registration at the IdP: {out}"
    );
    assert_eq!(caller["client_id"], out["registered_client"], "{out}");
    assert!(
        out["token_scope"].as_str().unwrap_or_default().contains("mcp:read"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotation_and_an_idp_outage_with_the_real_idp() {
    let mut idp = Idp::start().unwrap();
    let (server, resource) = start_server(&idp);
    wait_ready(&server).await;
    let old = idp
        .client_credentials(MACHINE.0, MACHINE.1, Some(&resource), "mcp:read")
        .await
        .unwrap();
    let mut session = Session::open_with_token(server.port, &old).await;
    assert_eq!(
        session.call_tool("get_session_info", json!({})).await["isError"],
        json!(false)
    );

    // New keys at the IdP, our server keeps running: new tokens work after
    // one JWKS refresh, tokens signed with the removed key do not.
    idp.restart_with_new_keys().unwrap();
    let new = idp
        .client_credentials(MACHINE.0, MACHINE.1, Some(&resource), "mcp:read")
        .await
        .unwrap();
    let mut fresh = Session::open_with_token(server.port, &new).await;
    assert_eq!(
        fresh.call_tool("get_session_info", json!({})).await["isError"],
        json!(false)
    );
    let reply = session
        .post(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}))
        .await;
    assert_eq!(reply.status, 401, "a token of the removed key: {}", reply.body);

    // The IdP goes down: cached keys keep serving.
    idp.stop();
    assert_eq!(
        fresh.call_tool("get_session_info", json!({})).await["isError"],
        json!(false)
    );
    // A server started while the IdP is down is not ready, and says why.
    let (second, _) = start_server(&idp);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reply = request(second.port, "GET", "/readyz", &[], Vec::new()).await;
    assert_eq!(reply.status, 503);
    assert!(
        reply.body.contains("Failed to discover JWKS URI from"),
        "{}",
        reply.body
    );
    idp.restart().unwrap();
    assert_eq!(wait_ready(&second).await["status"], json!("ready"));
}

/// `cnpg-mcp connect` as a local stdio server for a client that cannot do
/// OAuth; tokens live 6 s at the IdP, so the bridge must refresh mid-session.
#[tokio::test(flavor = "multi_thread")]
async fn the_connect_bridge_and_the_token_helper() {
    let idp = Idp::start_with(IdpOptions {
        access_token_ttl: Some(6),
        ..IdpOptions::default()
    })
    .unwrap();
    let (server, resource) = start_server(&idp);
    wait_ready(&server).await;

    // `cnpg-mcp token` prints a token the server accepts.
    let output = Command::new(binary())
        .args([
            "token",
            "--url",
            &resource,
            "--client-id",
            MACHINE.0,
            "--scope",
            "mcp:read",
        ])
        .env("CNPG_MCP_CLIENT_SECRET", MACHINE.1)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let mut session = Session::open_with_token(server.port, &token).await;
    assert_eq!(
        session.call_tool("get_session_info", json!({})).await["isError"],
        json!(false)
    );

    let mut bridge = Command::new(binary())
        .args([
            "connect",
            "--url",
            &resource,
            "--client-id",
            MACHINE.0,
            "--scope",
            "mcp:read",
        ])
        .env("CNPG_MCP_CLIENT_SECRET", MACHINE.1)
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = bridge.stdin.take().unwrap();
    let mut stdout = BufReader::new(bridge.stdout.take().unwrap());
    let mut exchange = |message: Value| -> Value {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
        if message.get("id").is_none() {
            return Value::Null;
        }
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    let init = exchange(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bridge-test", "version": "1"}}}));
    assert!(init["result"]["serverInfo"]["name"].is_string(), "{init}");
    exchange(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_session_info", "arguments": {}}});
    let first = exchange(call.clone());
    assert_eq!(
        first["result"]["structuredContent"]["caller"]["client_id"],
        json!(MACHINE.0),
        "{first}"
    );
    // Past the token's lifetime: the bridge gets a new one by itself.
    std::thread::sleep(Duration::from_secs(8));
    let mut later = call.clone();
    later["id"] = json!(3);
    let second = exchange(later);
    assert_eq!(second["result"]["isError"], json!(false), "{second}");
    drop(stdin);
    let status = bridge.wait().unwrap();
    assert!(status.success());
    let mut log = String::new();
    std::io::Read::read_to_string(&mut bridge.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.matches("access token obtained").count() >= 2, "{log}");

    // `--listen`: the same as a loopback HTTP endpoint for clients that
    // take a URL; they send no token at all.
    let local = free_port();
    let mut listener = Command::new(binary())
        .args([
            "connect",
            "--url",
            &resource,
            "--client-id",
            MACHINE.0,
            "--scope",
            "mcp:read",
        ])
        .args(["--listen", &format!("127.0.0.1:{local}")])
        .env("CNPG_MCP_CLIENT_SECRET", MACHINE.1)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", local)).is_err() {
        assert!(Instant::now() < deadline, "connect --listen did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut through = Session::open(local).await;
    let info = through.call_tool("get_session_info", json!({})).await;
    assert_eq!(
        info["structuredContent"]["caller"]["client_id"],
        json!(MACHINE.0),
        "{info}"
    );
    let _ = listener.kill();
    let _ = listener.wait();
}
