//! Memory per idle MCP session: RSS of the real binary before and after
//! opening `SESSIONS` (default 2000) sessions that then sit idle, and the
//! cost per session; then the same number again with the table capped at a
//! tenth, to show the cap holds RSS down while every session still answers.
//!
//! `cargo bench -p cnpg-mcp-tests --bench session_memory`

use std::time::Duration;

use cnpg_mcp_tests::{JSON_TYPE, MCP_ACCEPT, Server, component_folder, request};
use serde_json::json;

async fn open_sessions(port: u16, count: usize) -> Vec<String> {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    .to_string();
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let reply = request(
            port,
            "POST",
            "/mcp",
            &[MCP_ACCEPT, JSON_TYPE],
            body.clone().into_bytes(),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        ids.push(reply.headers["mcp-session-id"].to_str().unwrap().to_string());
    }
    ids
}

fn main() {
    let sessions: usize = std::env::var("SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = component_folder(&[("test_misbehave", None)]);
        let many = sessions.to_string();
        for (label, cap) in [("uncapped", many.clone()), ("capped", (sessions / 10).max(1).to_string())] {
            let server = Server::start(&[
                "--no-builtin",
                "--components",
                dir.path().to_str().unwrap(),
                "--max-sessions",
                &cap,
                "--max-sessions-per-caller",
                &many,
            ]);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = server.rss_mib() * 1024.0;
            let ids = open_sessions(server.port, sessions).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let after = server.rss_mib() * 1024.0;
            println!(
                "{label}: sessions={sessions} max_sessions={cap} rss_before_mib={:.1} rss_after_mib={:.1} per_session_kib={:.1}",
                before / 1024.0,
                after / 1024.0,
                (after - before) / sessions as f64
            );
            // Every session still answers (the capped table restores).
            for id in ids.iter().step_by((sessions / 20).max(1)) {
                let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
                let reply = request(
                    server.port,
                    "POST",
                    "/mcp",
                    &[MCP_ACCEPT, JSON_TYPE, ("mcp-session-id", id), ("mcp-protocol-version", "2025-06-18")],
                    ping.into_bytes(),
                )
                .await;
                assert_eq!(reply.status, 200, "{}", reply.body);
            }
        }
    });
}
