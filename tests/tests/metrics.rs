//! `/metrics`: Prometheus counters and histograms of the real binary after
//! real calls (tool outcomes, latency, in-flight gauge); not behind auth.

use cnpg_mcp_tests::{Server, Session, component_folder, request};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_are_counted_by_tool_and_outcome() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--components", dir.path().to_str().unwrap()]);
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
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in:\n{text}");
    }
}
