//! Sessions do not pin a client to one replica: a session created on one
//! server process is served by another that shares the state key; forged
//! or ended session ids get 404.

use cnpg_mcp_tests::{Server, Session, component_folder, first_text};
use serde_json::json;

const KEY: &str = "test-key-0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "multi_thread")]
async fn a_session_from_one_replica_works_on_another() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let args = ["--components", dir.path().to_str().unwrap(), "--request-state-key", KEY];
    let a = Server::start(&args);
    let b = Server::start(&args);

    let mut session = Session::open(a.port).await;
    let sealed = session.session_id.clone().expect("a session id");
    assert!(sealed.bytes().all(|c| (0x21..=0x7e).contains(&c)));

    // The same client, now routed to replica B.
    session.port = b.port;
    let result = session.call_tool("echo", json!({"text": "on b"})).await;
    assert_eq!(first_text(&result), "on b");
    let tools = session.call("tools/list", json!({})).await;
    assert!(tools["result"]["tools"].as_array().unwrap().len() > 1);

    // A replica with another key does not accept it.
    let c = Server::start(&[
        "--components",
        dir.path().to_str().unwrap(),
        "--request-state-key",
        &KEY.replace('0', "1"),
    ]);
    session.port = c.port;
    let reply = session
        .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_deleted_sessions_get_404() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--components", dir.path().to_str().unwrap()]);
    let mut session = Session::open(server.port).await;
    let real = session.session_id.clone().unwrap();

    session.session_id = Some(format!("{real}x"));
    let reply = session
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    session.session_id = Some(real.clone());
    let result = session.call_tool("echo", json!({"text": "alive"})).await;
    assert_eq!(first_text(&result), "alive");

    let reply = cnpg_mcp_tests::request(
        server.port,
        "DELETE",
        "/mcp",
        &[
            ("mcp-session-id", real.as_str()),
            ("mcp-protocol-version", session.protocol.as_str()),
        ],
        Vec::new(),
    )
    .await;
    // 204: what the official SDKs count as a session ended.
    assert_eq!(reply.status, 204, "{}", reply.body);
    let reply = session
        .post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_ends_its_session_without_complaint() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--no-builtin", "--components", dir.path().to_str().unwrap()]);
    let (summary, log) = cnpg_mcp_tests::python_sdk_with_log(&[
        "http",
        &server.url(),
        "legacy",
        "echo",
        &json!({"text": "bye"}).to_string(),
    ]);
    assert_eq!(summary["content"][0]["text"], json!("bye"), "{summary}");
    assert!(
        !log.contains("Session termination failed"),
        "the SDK did not accept the DELETE answer:\n{log}"
    );
}
