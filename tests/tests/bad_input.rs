//! Bad input gets a precise answer and the server keeps serving: malformed
//! JSON-RPC, unknown methods, invalid arguments, and components that trap,
//! loop, eat memory or overrun their deadline. Runs the real binary with
//! the purpose-built `test_misbehave` component.

use cnpg_mcp_tests::{JSON_TYPE, MCP_ACCEPT, Server, Session, component_folder, first_text, request};
use serde_json::json;

const TIGHT_GRANT: &str = "[limits]\nmemory_mib = 16\ntimeout_ms = 1500\ncpu_ms = 300\n";

fn misbehave_server() -> (Server, cnpg_mcp_tests::tempdir::TempDir) {
    let dir = component_folder(&[("test_misbehave", Some(TIGHT_GRANT))]);
    let server = Server::start(&["--no-builtin", "--components", dir.path().to_str().unwrap()]);
    (server, dir)
}

async fn assert_next_call_works(session: &mut Session) {
    let result = session.call_tool("echo", json!({"text": "still here"})).await;
    assert_eq!(result["isError"], json!(false), "{result}");
    assert_eq!(first_text(&result), "still here");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_a_parse_error() {
    let (server, _dir) = misbehave_server();
    let session = Session::open(server.port).await;
    let reply = session
        .post_raw(b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\"".to_vec(), &[])
        .await;
    assert_eq!(reply.status, 400);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"]["code"], json!(-32700), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Parse error"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_method_and_invalid_params() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let response = session.call("no/such/method", json!({})).await;
    assert_eq!(response["error"]["code"], json!(-32601), "{response}");
    let response = session.call("tools/call", json!({"arguments": {}})).await;
    assert_eq!(
        response["error"]["code"],
        json!(-32602),
        "missing tool name: {response}"
    );
    let response = session
        .call("tools/call", json!({"name": "no_such_tool", "arguments": {}}))
        .await;
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
    assert!(response["error"]["message"].as_str().unwrap().contains("no_such_tool"));
    assert_next_call_works(&mut session).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_invalid_arguments_name_the_field_and_do_not_instantiate() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("echo", json!({"text": 42})).await;
    assert_eq!(result["isError"], json!(true));
    let text = first_text(&result);
    assert!(text.contains("/text") && text.contains("string"), "{text}");
    let result = session.call_tool("wait", json!({"ms": 10, "extra": true})).await;
    assert_eq!(result["isError"], json!(true));
    assert!(first_text(&result).contains("extra"), "{}", first_text(&result));
    assert_next_call_works(&mut session).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trap_is_reported_with_a_request_id_that_is_in_the_log() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("trap", json!({})).await;
    assert_eq!(result["isError"], json!(true));
    let text = first_text(&result);
    assert!(text.contains("trapped") && text.contains("unreachable"), "{text}");
    let request_id = text
        .rsplit("request id ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    assert!(!request_id.is_empty());
    assert_next_call_works(&mut session).await;
    assert!(
        server.log_text().contains(&request_id),
        "request id {request_id} not in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn endless_loop_is_stopped_by_the_cpu_budget() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let started = std::time::Instant::now();
    let result = session.call_tool("spin", json!({})).await;
    assert_eq!(result["isError"], json!(true));
    assert!(first_text(&result).contains("CPU budget"), "{}", first_text(&result));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_next_call_works(&mut session).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_hog_hits_its_cap() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("eat_memory", json!({})).await;
    assert_eq!(result["isError"], json!(true));
    assert!(
        first_text(&result).contains("memory limit of 16 MiB"),
        "{}",
        first_text(&result)
    );
    assert_next_call_works(&mut session).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wall_clock_deadline_ends_a_blocked_call() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("wait", json!({"ms": 60000})).await;
    assert_eq!(result["isError"], json!(true));
    assert!(
        first_text(&result).contains("wall-clock limit"),
        "{}",
        first_text(&result)
    );
    assert_next_call_works(&mut session).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_errors_and_bad_structured_output_are_tool_results() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("fail", json!({})).await;
    assert_eq!(result["isError"], json!(true));
    assert!(first_text(&result).contains("upstream"), "{result}");
    let result = session.call_tool("bad_structured", json!({})).await;
    assert_eq!(result["isError"], json!(true));
    assert!(first_text(&result).contains("output schema"), "{result}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_gets_413_and_bad_origin_403() {
    let (server, _dir) = misbehave_server();
    // Declared too large: refused before reading; sent in chunks: refused
    // once the cap is passed.
    let reply = raw_post(server.port, 5 * 1024 * 1024, false).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let reply = raw_post(server.port, 5 * 1024 * 1024, true).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &[MCP_ACCEPT, JSON_TYPE, ("origin", "http://evil.example.com")],
        init.to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let reply = request(
        server.port,
        "POST",
        "/mcp",
        &[MCP_ACCEPT, JSON_TYPE, ("host", "evil.example.com")],
        init.to_string().into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    // And the server still answers normally.
    let mut session = Session::open(server.port).await;
    assert_next_call_works(&mut session).await;
}

/// Posts `size` bytes over a raw connection, writing in the background and
/// ignoring write errors (the server may answer and close early), and
/// returns the response head.
async fn raw_post(port: u16, size: usize, chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {size}")
    };
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{framing}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < size {
            if chunked {
                write.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                write.write_all(&chunk).await?;
                write.write_all(b"\r\n").await?;
            } else {
                write.write_all(&chunk).await?;
            }
            sent += chunk.len();
        }
        Ok::<_, std::io::Error>(())
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), read.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    writer.abort();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn health_endpoints() {
    let (server, _dir) = misbehave_server();
    let reply = request(server.port, "GET", "/health", &[], Vec::new()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
        json!({"status": "healthy", "service": "cnpg-mcp-server"})
    );
    assert_eq!(
        request(server.port, "GET", "/healthz", &[], Vec::new()).await.status,
        200
    );
    let ready = request(server.port, "GET", "/readyz", &[], Vec::new()).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(request(server.port, "GET", "/nope", &[], Vec::new()).await.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_stdout_and_stderr_go_to_the_log_tagged_with_the_request() {
    let (server, _dir) = misbehave_server();
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("print", json!({})).await;
    assert_eq!(first_text(&result), "printed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = server.log_text();
        let line = log.lines().find(|l| l.contains("guest-stdout-marker"));
        if let Some(line) = line {
            let record: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
            assert_eq!(record["component"], json!("test_misbehave"), "{record}");
            assert_eq!(record["stream"], json!("stdout"), "{record}");
            let request_id = record["request_id"].as_str().unwrap();
            assert!(record["message"].as_str().unwrap().ends_with(request_id), "{record}");
            assert!(log.contains("guest-stderr-marker"), "{log}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "guest output not in the log:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_calls_are_checked_against_the_grant_before_any_io() {
    let grant = r#"
[[kubernetes]]
verbs = ["get"]
api_groups = ["*"]
resources = ["*"]
"#;
    let open = component_folder(&[("test_misbehave", Some(grant))]);
    let server = Server::start(&["--no-builtin", "--components", open.path().to_str().unwrap()]);
    let mut session = Session::open(server.port).await;
    let get =
        |group: &str, resource: &str| json!({"group": group, "resource": resource, "namespace": "db", "name": "x"});

    // Allowed by the grant: reaches the (absent) cluster.
    let text = first_text(
        &session
            .call_tool("k8s_get", get("postgresql.cnpg.io", "clusters"))
            .await,
    );
    assert!(text.starts_with("unavailable:"), "{text}");
    // A wildcard never covers Secrets: refused before any I/O.
    let text = first_text(&session.call_tool("k8s_get", get("", "secrets")).await);
    assert!(
        text.starts_with("denied-by-policy:") && text.contains("sensitive"),
        "{text}"
    );

    // Without a grant file there is no Kubernetes access at all.
    let closed = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--no-builtin", "--components", closed.path().to_str().unwrap()]);
    let mut session = Session::open(server.port).await;
    let text = first_text(
        &session
            .call_tool("k8s_get", get("postgresql.cnpg.io", "clusters"))
            .await,
    );
    assert!(
        text.starts_with("denied-by-policy:") && text.contains("`get` on postgresql.cnpg.io/clusters"),
        "{text}"
    );
}
