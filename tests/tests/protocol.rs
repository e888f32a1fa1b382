//! Protocol behaviour beyond the conformance suite: pagination of
//! tools/list, cancellation dropping the in-flight call, the stateless
//! revision's request metadata rules.

use std::time::{Duration, Instant};

use cnpg_mcp_tests::{JSON_TYPE, MCP_ACCEPT, Server, Session, component_folder, first_text, request};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn tools_list_pages_through_every_tool_once() {
    let dir = component_folder(&[("test_misbehave", None), ("conformance_fixture", None)]);
    let server = Server::start(&["--components", dir.path().to_str().unwrap(), "--page-size", "4"]);
    let mut session = Session::open(server.port).await;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let response = session.call("tools/list", params).await;
        let result = &response["result"];
        let page = result["tools"].as_array().unwrap();
        assert!(page.len() <= 4);
        names.extend(page.iter().map(|t| t["name"].as_str().unwrap().to_string()));
        pages += 1;
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "a tool appeared twice: {names:?}");
    assert!(names.len() > 30 && pages >= 8, "{} tools in {pages} pages", names.len());
    assert!(names.contains(&"get_session_info".to_string()) && names.contains(&"echo".to_string()));

    let response = session.call("tools/list", json!({"cursor": "not-a-cursor"})).await;
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_drops_the_in_flight_call() {
    let dir = component_folder(&[("test_misbehave", Some("[limits]\ntimeout_ms = 60000\n"))]);
    let server = Server::start(&["--no-builtin", "--components", dir.path().to_str().unwrap()]);
    let session = Session::open(server.port).await;
    let (port, sid, protocol) = (session.port, session.session_id.clone(), session.protocol.clone());
    let started = Instant::now();
    let call = tokio::spawn(async move {
        let waiting = Session::attach(port, sid, protocol);
        waiting
            .post(json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {"name": "wait", "arguments": {"ms": 30000}}}))
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reply = session
        .post(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 77, "reason": "test"}}))
        .await;
    assert!(reply.status == 202 || reply.status == 200, "{}", reply.status);
    let reply = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the cancelled call must end")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    // MCP: no response is sent for a cancelled request.
    assert!(!reply.body.contains("waited 30000 ms"), "{}", reply.body);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log_text().contains("call cancelled by the client") {
        assert!(
            Instant::now() < deadline,
            "no cancellation in the log:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut session = session;
    let result = session.call_tool("echo", json!({"text": "after cancel"})).await;
    assert_eq!(first_text(&result), "after cancel");
}

fn stateless_headers(method: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        MCP_ACCEPT,
        JSON_TYPE,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ]
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"}
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_requests_need_no_session() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--components", dir.path().to_str().unwrap()]);
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "server/discover", "params": {"_meta": meta()}});
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &stateless_headers("server/discover"),
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let result = &reply.response(5)["result"];
    assert!(
        result["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{result}"
    );
    assert!(reply.headers.get("mcp-session-id").is_none());

    let body = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "stateless"}, "_meta": meta()}});
    let mut headers = stateless_headers("tools/call");
    headers.push(("mcp-name", "echo"));
    let reply = request(server.port, "POST", "/mcp", &headers, body.to_string().into_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(first_text(&reply.response(6)["result"]), "stateless");

    // Without the per-request metadata: 400 and invalid params.
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {}});
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &stateless_headers("tools/list"),
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.response(7)["error"]["code"], json!(-32602));
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_beyond_the_concurrency_limit_wait_instead_of_failing() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&[
        "--no-builtin",
        "--components",
        dir.path().to_str().unwrap(),
        "--max-concurrent-calls",
        "1",
    ]);
    let started = Instant::now();
    let mut calls = Vec::new();
    for _ in 0..3 {
        let mut session = Session::open(server.port).await;
        calls.push(tokio::spawn(async move {
            session.call_tool("wait", json!({"ms": 400})).await
        }));
    }
    for call in calls {
        let result = call.await.unwrap();
        assert_eq!(first_text(&result), "waited 400 ms", "{result}");
    }
    // One at a time: three calls of 400 ms take at least 1.2 s together.
    assert!(
        started.elapsed() >= Duration::from_millis(1150),
        "{:?}",
        started.elapsed()
    );
}
