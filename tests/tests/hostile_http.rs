//! The HTTP front end tried as an attacker would, through the real binary:
//! malformed JSON-RPC gets JSON-RPC errors by the book, reflected input is
//! bounded, stalled connections are closed, the connection and session
//! tables are bounded, and one caller cannot take every call slot.

use cnpg_mcp_tests::{MCP_ACCEPT, Server, Session, component_folder, first_text, request};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn echo_server(extra: &[&str]) -> (Server, cnpg_mcp_tests::tempdir::TempDir) {
    let dir = component_folder(&[("test_misbehave", None)]);
    let mut args = vec!["--no-builtin", "--components", dir.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(&args), dir)
}

/// The JSON-RPC error of a refused body: HTTP 400, a JSON body, the code.
fn assert_refused(reply: &cnpg_mcp_tests::Reply, code: i64, what: &str) -> Value {
    assert_eq!(reply.status, 400, "{what}: {}", reply.body);
    let body: Value =
        serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", reply.body));
    assert_eq!(body["jsonrpc"], json!("2.0"), "{what}: {body}");
    assert_eq!(body["error"]["code"], json!(code), "{what}: {body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_rpc_gets_400_and_a_json_rpc_error_never_415() {
    let (server, _dir) = echo_server(&[]);
    let mut session = Session::open(server.port).await;
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":{}1{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let parse_errors: Vec<(&str, Vec<u8>)> = vec![
        (
            "invalid UTF-8",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xc3\x28ng\"}".to_vec(),
        ),
        ("nested past the limit", deep.into_bytes()),
        ("truncated", b"{\"jsonrpc\":\"2.0\",\"id\":1,".to_vec()),
    ];
    for (what, body) in parse_errors {
        let reply = session.post_raw(body, &[]).await;
        let error = assert_refused(&reply, -32700, what);
        assert_eq!(error["id"], Value::Null, "{what}: {error}");
    }
    let invalid_requests = [
        (
            "duplicate id",
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#.to_string(),
        ),
        ("batch", r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#.to_string()),
        ("null id", r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_string()),
        (
            "id beyond 64 bits",
            r#"{"jsonrpc":"2.0","id":36893488147419103232,"method":"ping"}"#.to_string(),
        ),
        (
            "wrong version",
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#.to_string(),
        ),
        ("no method, no result", r#"{"jsonrpc":"2.0","id":1}"#.to_string()),
        ("a string", r#""ping""#.to_string()),
    ];
    for (what, body) in invalid_requests {
        assert_refused(&session.post_raw(body.into_bytes(), &[]).await, -32600, what);
    }
    // The id is echoed when it could be read.
    let reply = session
        .post_raw(br#"{"jsonrpc":"2.0","id":"r-7","method":7}"#.to_vec(), &[])
        .await;
    assert_eq!(
        assert_refused(&reply, -32600, "method not a string")["id"],
        json!("r-7")
    );
    // 415 stays for what it means: a wrong Content-Type, and the body is
    // a JSON-RPC error too.
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &[MCP_ACCEPT, ("content-type", "text/plain")],
        br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(),
    )
    .await;
    assert_eq!(reply.status, 415, "{}", reply.body);
    let body: Value = serde_json::from_str(&reply.body).expect("415 body is JSON");
    assert_eq!(body["error"]["code"], json!(-32600), "{body}");
    // Nothing was lost: the session still works.
    let result = session.call_tool("echo", json!({"text": "still here"})).await;
    assert_eq!(first_text(&result), "still here");
}

#[tokio::test(flavor = "multi_thread")]
async fn reflected_input_is_bounded() {
    let (server, _dir) = echo_server(&[]);
    let mut session = Session::open(server.port).await;
    let huge = "n".repeat(1 << 20);
    let response = session.call("tools/call", json!({"name": huge, "arguments": {}})).await;
    assert_eq!(response["error"]["code"], json!(-32602), "unknown tool");
    let echoed = response.to_string();
    assert!(
        echoed.len() < 2048,
        "a 1 MiB tool name came back as {} bytes",
        echoed.len()
    );
    assert!(
        echoed.contains("more bytes"),
        "the cut is said: {}",
        &echoed[..echoed.len().min(400)]
    );
    let response = session.call(&"m".repeat(1 << 20), json!({})).await;
    assert_eq!(response["error"]["code"], json!(-32601));
    assert!(response.to_string().len() < 2048, "a 1 MiB method name is echoed whole");
    let response = session.call("prompts/get", json!({"name": "p".repeat(1 << 20)})).await;
    assert!(response.to_string().len() < 2048, "a 1 MiB prompt name is echoed whole");
}

/// Reads from `stream` until the server closes it (or `limit` passes);
/// returns what was read and whether it was closed.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (String, bool) {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

async fn metrics(port: u16) -> String {
    request(port, "GET", "/metrics", &[], Vec::new()).await.body
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_connections_are_closed_and_connections_are_bounded() {
    use tokio::io::AsyncWriteExt;
    let (server, _dir) = echo_server(&[
        "--http-header-timeout-seconds",
        "1",
        "--http-idle-timeout-seconds",
        "2",
        "--max-connections",
        "6",
        "--max-header-bytes",
        "8192",
    ]);
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", server.port));
    // Half a request head, then silence: closed by the header timeout.
    let mut half = connect().await.unwrap();
    half.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut half, Duration::from_secs(8)).await;
    assert!(closed, "a half-sent head kept its connection open for 8 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
    // Nothing at all: closed by the idle timeout.
    let mut silent = connect().await.unwrap();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(8)).await;
    assert!(closed, "a silent connection stayed open for 8 s");
    // A head larger than the cap: 431.
    let mut big = connect().await.unwrap();
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {}\r\n\r\n",
        "f".repeat(20_000)
    );
    big.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut big, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );

    // Six silent connections take every place: a seventh is not served
    // until the idle timeout frees one, and is served then.
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(connect().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let port = server.port;
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let reply = request(port, "GET", "/health", &[], Vec::new()).await;
        (reply.status, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiting.is_finished(),
        "a seventh connection was served past the cap of six"
    );
    let (status, waited) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting connection was never served")
        .unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(700), "{waited:?}");
    for mut stream in held {
        let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(closed);
    }
    let text = metrics(server.port).await;
    assert!(
        metric(&text, "cnpg_mcp_connections_closed_total{reason=\"idle\"}") >= 6.0,
        "{text}"
    );
    // The server still serves sessions normally.
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("echo", json!({"text": "ok"})).await;
    assert_eq!(first_text(&result), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tool_call_rate_per_caller_is_limited_with_retry_after() {
    let (server, _dir) = echo_server(&["--tool-calls-per-minute", "3"]);
    let mut session = Session::open(server.port).await;
    for n in 0..3 {
        let result = session.call_tool("echo", json!({"text": format!("call {n}")})).await;
        assert_eq!(result["isError"], json!(false));
    }
    let reply = session
        .post(json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "one too many"}}}))
        .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    let after: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&after), "Retry-After {after}");
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["id"], json!(77), "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("rate limit"),
        "{body}"
    );
    // Other methods are not counted.
    let tools = session.call("tools/list", json!({})).await;
    assert!(tools["result"]["tools"].is_array(), "{tools}");
    assert!(metric(&metrics(server.port).await, "cnpg_mcp_rate_limited_total") >= 1.0);
}

mod with_tokens {
    //! Callers told apart by their tokens (crafted in process, checked by
    //! the real binary against the in-process JWKS stand-in).

    use std::sync::OnceLock;
    use std::time::Duration;

    use cnpg_mcp_tests::jwt::{TestKey, jwks, now};
    use cnpg_mcp_tests::stub_idp::StubIdp;
    use cnpg_mcp_tests::{JSON_TYPE, MCP_ACCEPT, Server, Session, component_folder, first_text, request};
    use jsonwebtoken::Algorithm;
    use serde_json::json;

    use super::{metric, metrics};

    const RESOURCE: &str = "https://mcp.test/mcp";

    fn key() -> &'static (TestKey, cnpg_mcp_tests::tempdir::TempDir) {
        static KEY: OnceLock<(TestKey, cnpg_mcp_tests::tempdir::TempDir)> = OnceLock::new();
        KEY.get_or_init(|| {
            let dir = cnpg_mcp_tests::tempdir::TempDir::new("hostile-keys");
            (TestKey::rsa(dir.path(), "key-1", 2048, Algorithm::RS256), dir)
        })
    }

    fn token(idp: &StubIdp, sub: &str) -> String {
        key().0.sign(
            json!({"typ": "at+jwt"}),
            &json!({"iss": idp.issuer, "aud": RESOURCE, "sub": sub, "exp": now() + 600, "iat": now(),
                "scope": "openid", "preferred_username": sub}),
        )
    }

    async fn start(extra: &[&str]) -> (Server, std::sync::Arc<StubIdp>, cnpg_mcp_tests::tempdir::TempDir) {
        let idp = StubIdp::start(jwks(&[&key().0])).await;
        let dir = component_folder(&[("test_misbehave", None)]);
        let mut args = vec![
            "--no-builtin",
            "--components",
            dir.path().to_str().unwrap(),
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            RESOURCE,
        ];
        args.extend_from_slice(extra);
        let server = Server::start(&args);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while request(server.port, "GET", "/readyz", &[], Vec::new()).await.status != 200 {
            assert!(std::time::Instant::now() < deadline, "never ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (server, idp, dir)
    }

    async fn initialize(port: u16, token: &str) -> cnpg_mcp_tests::Reply {
        let authorization = format!("Bearer {token}");
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
            "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
        request(
            port,
            "POST",
            "/mcp",
            &[MCP_ACCEPT, JSON_TYPE, ("authorization", authorization.as_str())],
            body.to_string().into_bytes(),
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sessions_are_bounded_per_caller_and_the_least_recently_used_makes_room() {
        let (server, idp, _dir) = start(&["--max-sessions", "4", "--max-sessions-per-caller", "3"]).await;
        let (alice, bob) = (token(&idp, "alice"), token(&idp, "bob"));
        let mut alices = Vec::new();
        for _ in 0..3 {
            alices.push(Session::open_with_token(server.port, &alice).await);
        }
        // Alice holds her share: 429 with the time until one would idle out.
        let reply = initialize(server.port, &alice).await;
        assert_eq!(reply.status, 429, "{}", reply.body);
        let after: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&after), "Retry-After {after}");
        assert!(reply.body.contains("too many sessions"), "{}", reply.body);
        // Bob is not affected: his first session fills the table, his
        // second closes the least recently used idle one (alice's first).
        let mut bob_1 = Session::open_with_token(server.port, &bob).await;
        let mut bob_2 = Session::open_with_token(server.port, &bob).await;
        let text = metrics(server.port).await;
        assert_eq!(metric(&text, "cnpg_mcp_sessions"), 4.0, "{text}");
        assert_eq!(
            metric(&text, "cnpg_mcp_sessions_evicted_total{reason=\"capacity\"}"),
            1.0,
            "{text}"
        );
        assert_eq!(
            metric(&text, "cnpg_mcp_sessions_refused_total{reason=\"caller cap\"}"),
            1.0,
            "{text}"
        );
        // Nothing is lost: every session still answers, the closed ones
        // restored from their sealed ids (each making room in turn).
        for session in alices.iter_mut().chain([&mut bob_1, &mut bob_2]) {
            let result = session.call_tool("echo", json!({"text": "here"})).await;
            assert_eq!(first_text(&result), "here");
        }
        let text = metrics(server.port).await;
        assert!(metric(&text, "cnpg_mcp_sessions") <= 4.0, "{text}");
        // A DELETE gives alice her place back.
        let alice_1 = alices.remove(0);
        let id = alice_1.session_id.clone().unwrap();
        let authorization = format!("Bearer {alice}");
        let reply = request(
            server.port,
            "DELETE",
            "/mcp",
            &[
                ("mcp-session-id", id.as_str()),
                ("authorization", authorization.as_str()),
                ("mcp-protocol-version", "2025-06-18"),
            ],
            Vec::new(),
        )
        .await;
        assert!(reply.status < 300, "{} {}", reply.status, reply.body);
        assert_eq!(initialize(server.port, &alice).await.status, 200);
        let reply = alice_1.post(json!({"jsonrpc": "2.0", "id": 5, "method": "ping"})).await;
        assert_eq!(reply.status, 404, "an ended session stays ended: {}", reply.body);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn idle_sessions_are_closed_and_come_back_when_used() {
        let (server, idp, _dir) = start(&["--session-idle-seconds", "1"]).await;
        let mut session = Session::open_with_token(server.port, &token(&idp, "carol")).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = metrics(server.port).await;
            if metric(&text, "cnpg_mcp_sessions_evicted_total{reason=\"idle\"}") >= 1.0 {
                assert_eq!(metric(&text, "cnpg_mcp_sessions"), 0.0, "{text}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never closed: {text}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let result = session.call_tool("echo", json!({"text": "back"})).await;
        assert_eq!(first_text(&result), "back");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn one_caller_cannot_take_every_call_slot() {
        let (server, idp, _dir) = start(&["--max-concurrent-calls", "4", "--max-calls-per-caller", "2"]).await;
        let alice = token(&idp, "alice");
        let bob = token(&idp, "bob");
        let started = std::time::Instant::now();
        let mut calls = Vec::new();
        for n in 0..6 {
            let alice = alice.clone();
            let port = server.port;
            calls.push(tokio::spawn(async move {
                let mut session = Session::open_with_token(port, &alice).await;
                let result = session.call_tool("wait", json!({"ms": 1500})).await;
                assert_eq!(result["isError"], json!(false), "alice {n}: {result}");
                started.elapsed()
            }));
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        let mut session = Session::open_with_token(server.port, &bob).await;
        let result = session.call_tool("wait", json!({"ms": 10})).await;
        assert_eq!(result["isError"], json!(false), "{result}");
        let bob_done = started.elapsed();
        let mut alice_done = Vec::new();
        for call in calls {
            alice_done.push(call.await.unwrap());
        }
        alice_done.sort();
        // Alice's calls ran two at a time (her share), and bob's call did
        // not wait for any of hers.
        assert!(bob_done < alice_done[0], "bob {bob_done:?}, alice {alice_done:?}");
        assert!(
            alice_done[2] >= alice_done[0] + Duration::from_millis(1200),
            "{alice_done:?}"
        );
    }
}
