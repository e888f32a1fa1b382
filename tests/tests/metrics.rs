//! `/metrics`: Prometheus counters and histograms of the real binary after
//! real calls (tool outcomes, latency, instantiation, in-flight gauge); not
//! behind auth. And the audit stream in its own file (`--audit-log`).

use cnpg_mcp_tests::{Server, Session, component_folder, request};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_are_counted_by_tool_and_outcome() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let audit = dir.path().join("audit.jsonl");
    let server = Server::start(&[
        "--components",
        dir.path().to_str().unwrap(),
        "--audit-log",
        audit.to_str().unwrap(),
    ]);
    let mut session = Session::open(server.port).await;
    for _ in 0..2 {
        session.call_tool("echo", json!({"text": "x"})).await;
    }
    session.call_tool("fail", json!({})).await;
    session.call_tool("trap", json!({})).await;

    let reply = request(server.port, "GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        reply.headers
    );
    let text = reply.body;
    for line in [
        "cnpg_mcp_tool_calls_total{tool=\"echo\",outcome=\"ok\"} 2",
        "cnpg_mcp_tool_calls_total{tool=\"fail\",outcome=\"tool-error\"} 1",
        "cnpg_mcp_tool_calls_total{tool=\"trap\",outcome=\"trapped\"} 1",
        "cnpg_mcp_tool_call_duration_seconds_count{tool=\"echo\"} 2",
        "cnpg_mcp_tool_call_duration_seconds_bucket{tool=\"echo\",le=\"+Inf\"} 2",
        "# TYPE cnpg_mcp_in_flight_calls gauge",
        "cnpg_mcp_in_flight_calls 0",
        "cnpg_mcp_component_instantiation_seconds_count{component=\"test_misbehave\"} 4",
        "cnpg_mcp_component_failures_total{component=\"test_misbehave\",kind=\"trapped\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
    }

    // One JSON line per call in the audit file, none in the log.
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let tools: Vec<&str> = records.iter().map(|r| r["tool"].as_str().unwrap()).collect();
    assert_eq!(tools, vec!["echo", "echo", "fail", "trap"]);
    assert_eq!(records[3]["outcome"], json!("trapped"));
    assert_eq!(records[0]["caller"], json!("local"));
    assert!(records[0]["duration_ms"].as_f64().is_some());
    assert!(
        !server.log_text().contains("cnpg_mcp::audit"),
        "audit records also went to the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_can_live_on_a_port_of_their_own() {
    let metrics_port = cnpg_mcp_tests::free_port();
    let port_text = metrics_port.to_string();
    let server = Server::start(&["--metrics-port", &port_text]);
    let mut session = Session::open(server.port).await;
    session.call_tool("get_session_info", json!({})).await;
    // Not on the MCP port (and so not through its Service port or Ingress)...
    let reply = request(server.port, "GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    // ...but on the metrics port.
    let reply = request(metrics_port, "GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .body
            .lines()
            .any(|l| l == "cnpg_mcp_tool_calls_total{tool=\"get_session_info\",outcome=\"ok\"} 1"),
        "{}",
        reply.body
    );
    let reply = request(metrics_port, "POST", "/mcp", &[], b"{}".to_vec()).await;
    assert_eq!(reply.status, 404, "the metrics port serves nothing else");
}
