//! The official MCP conformance suite (`@modelcontextprotocol/conformance`,
//! pinned in tests/package.json) against the real binary with only the
//! conformance fixture component loaded, for both the session revision
//! (2025-11-25) and the stateless revision (2026-07-28). Every scored
//! scenario must pass, or be listed with a reason in
//! tests/conformance/expected-failures-<revision>.yml; warnings count as
//! failures.

use std::path::Path;
use std::process::Command;

use cnpg_mcp_tests::{ExternalClients, Server, component_folder};

fn run_suite(requirements: &str) {
    let clients = ExternalClients::get();
    let dir = component_folder(&[("conformance_fixture", None)]);
    let server = Server::start(&["--no-builtin", "--components", dir.path().to_str().unwrap()]);
    let expected =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("conformance/expected-failures-{requirements}.yml"));
    let results = cnpg_mcp_tests::tempdir::TempDir::new("conformance");
    // The suite's DNS-rebinding scenario needs a localhost URL.
    let url = format!("http://localhost:{}/mcp", server.port);
    let output = Command::new(clients.node_bin.join("conformance"))
        .env("PATH", clients.path_env())
        .args([
            "server",
            "--url",
            &url,
            "--requirements",
            requirements,
            "--expected-failures",
        ])
        .arg(&expected)
        .arg("-o")
        .arg(results.path())
        .output()
        .expect("run the conformance suite");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let plain: String = strip_ansi(&stdout);
    let summary = plain.split("=== SUMMARY ===").nth(1).unwrap_or(&plain);
    println!("conformance {requirements}:{summary}");
    assert!(
        output.status.success(),
        "conformance suite failed for {requirements}:\n{plain}\nstderr:\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log_text()
    );
    // The run must have exercised the scenarios, not merely exited 0.
    let checks = std::fs::read_dir(results.path()).map(|d| d.count()).unwrap_or(0);
    assert!(
        checks >= 25,
        "only {checks} scenario result folders for {requirements}:\n{plain}"
    );
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn conformance_2025_11_25() {
    run_suite("2025-11-25");
}

#[test]
fn conformance_2026_07_28() {
    run_suite("2026-07-28");
}
