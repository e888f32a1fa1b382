//! Real MCP clients against the real binary: the official Python SDK
//! (`mcp` 2.x) over HTTP (session and stateless revisions) and over stdio,
//! and the MCP Inspector CLI over HTTP and stdio.

use std::path::Path;
use std::process::Command;

use cnpg_mcp_tests::{ExternalClients, Server, binary, component_folder};
use serde_json::{Value, json};

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python_sdk_client.py")
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("run client");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "client failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    stdout
}

fn python_http(server: &Server, mode: &str, tool: &str, arguments: Value) -> Value {
    cnpg_mcp_tests::python_sdk(&["http", &server.url(), mode, tool, &arguments.to_string()])
}

fn echo_server() -> (Server, cnpg_mcp_tests::tempdir::TempDir) {
    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--components", dir.path().to_str().unwrap()]);
    (server, dir)
}

#[test]
fn python_sdk_lists_and_calls_over_http_with_a_session() {
    let (server, _dir) = echo_server();
    let out = python_http(&server, "legacy", "echo", json!({"text": "from python"}));
    assert_eq!(out["protocol"], json!("2025-11-25"), "{out}");
    let tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"get_session_info") && tools.contains(&"echo"),
        "{tools:?}"
    );
    assert_eq!(out["is_error"], json!(false));
    assert_eq!(out["content"][0]["text"], json!("from python"));
}

#[test]
fn python_sdk_lists_and_calls_over_http_stateless() {
    let (server, _dir) = echo_server();
    let out = python_http(&server, "2026-07-28", "get_session_info", json!({}));
    assert_eq!(out["protocol"], json!("2026-07-28"), "{out}");
    assert_eq!(out["is_error"], json!(false), "{out}");
    assert_eq!(out["structured"]["caller"]["subject"], json!("local"), "{out}");
    assert_eq!(out["structured"]["protocol_version"], json!("2026-07-28"), "{out}");
}

fn python_stdio(dir: &Path, cache: &Path, mode: &str, tool: &str, arguments: &str) -> Value {
    let clients = ExternalClients::get();
    let out = run(Command::new(&clients.python)
        .arg(script())
        .args(["stdio", mode, tool, arguments, "--"])
        .arg(binary())
        .args(["serve", "--transport", "stdio", "--components"])
        .arg(dir)
        .arg("--cache-dir")
        .arg(cache));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn python_sdk_over_stdio() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let cache = cnpg_mcp_tests::tempdir::TempDir::new("stdio-cache");
    for mode in ["legacy", "2026-07-28"] {
        let out = python_stdio(dir.path(), cache.path(), mode, "echo", r#"{"text":"over stdio"}"#);
        assert_eq!(out["content"][0]["text"], json!("over stdio"), "{mode}: {out}");
    }
    // A component printing to stdout must not corrupt the protocol stream.
    let out = python_stdio(dir.path(), cache.path(), "legacy", "print", "{}");
    assert_eq!(out["content"][0]["text"], json!("printed"), "{out}");
}

fn inspector(clients: &ExternalClients, home: &Path) -> Command {
    let mut command = Command::new(clients.node_bin.join("mcp-inspector"));
    command.env("PATH", clients.path_env()).env("HOME", home).arg("--cli");
    command
}

#[test]
fn inspector_cli_lists_and_calls_over_http_and_stdio() {
    let clients = ExternalClients::get();
    let home = cnpg_mcp_tests::tempdir::TempDir::new("inspector-home");
    let (server, dir) = echo_server();

    let out =
        run(inspector(&clients, home.path())
            .arg(server.url())
            .args(["--transport", "http", "--method", "tools/list"]));
    assert!(out.contains("get_session_info") && out.contains("\"echo\""), "{out}");

    let out = run(inspector(&clients, home.path()).arg(server.url()).args([
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "echo",
        "--tool-arg",
        "text=inspected",
    ]));
    assert!(out.contains("inspected"), "{out}");

    // A tool failure is exit code 5.
    let status = inspector(&clients, home.path())
        .arg(server.url())
        .args(["--transport", "http", "--method", "tools/call", "--tool-name", "fail"])
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(5));

    let cache = cnpg_mcp_tests::tempdir::TempDir::new("inspector-cache");
    let out = run(inspector(&clients, home.path())
        .args([
            "--method",
            "tools/call",
            "--tool-name",
            "echo",
            "--tool-arg",
            "text=stdio-inspected",
            "--",
        ])
        .arg(binary())
        .args(["serve", "--transport", "stdio", "--components"])
        .arg(dir.path())
        .arg("--cache-dir")
        .arg(cache.path()));
    assert!(out.contains("stdio-inspected"), "{out}");
}
