//! Start-up refuses components it cannot run safely, naming the file and
//! the reason; SIGHUP reloads without dropping in-flight calls; SIGTERM
//! drains.

use std::time::Duration;

use cnpg_mcp_tests::{Server, Session, component_folder, first_text, guest};
use serde_json::json;

fn start_error(dir: &std::path::Path) -> String {
    match Server::try_start(&["--no-builtin", "--components", dir.to_str().unwrap()]) {
        Ok(_) => panic!("the server started with {}", dir.display()),
        Err(log) => log,
    }
}

#[test]
fn a_file_that_is_not_a_component_is_refused_by_name() {
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("garbage");
    std::fs::write(dir.path().join("broken.wasm"), b"definitely not wasm").unwrap();
    let log = start_error(dir.path());
    assert!(
        log.contains("broken.wasm") && log.contains("not a WebAssembly binary"),
        "{log}"
    );
}

#[test]
fn an_unknown_import_is_refused_naming_the_import() {
    let dir = component_folder(&[("test_bad_import", None)]);
    let log = start_error(dir.path());
    assert!(log.contains("test_bad_import.wasm"), "{log}");
    assert!(
        log.contains("test:evil/secrets@0.1.0") && log.contains("does not provide"),
        "{log}"
    );
}

#[test]
fn an_incompatible_contract_version_is_refused() {
    let dir = component_folder(&[("test_future_version", None)]);
    let log = start_error(dir.path());
    assert!(
        log.contains("cnpg:mcp@1.0.0") && log.contains("cnpg:mcp@0.1.0"),
        "{log}"
    );
}

#[test]
fn duplicate_tool_names_name_both_files() {
    let dir = component_folder(&[("test_misbehave", None)]);
    std::fs::copy(guest("test_misbehave"), dir.path().join("again.wasm")).unwrap();
    let log = start_error(dir.path());
    assert!(
        log.contains("again.wasm") && log.contains("test_misbehave.wasm") && log.contains("declared by both"),
        "{log}"
    );
}

#[test]
fn an_invalid_grant_is_refused() {
    let dir = component_folder(&[("test_misbehave", Some("[limits]\nmemory_megs = 3\n"))]);
    let log = start_error(dir.path());
    assert!(
        log.contains("test_misbehave.grant.toml") && log.contains("memory_megs"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_without_dropping_an_in_flight_call() {
    let dir = component_folder(&[("test_misbehave", Some("[limits]\ntimeout_ms = 20000\n"))]);
    let server = Server::start(&["--no-builtin", "--components", dir.path().to_str().unwrap()]);
    let mut session = Session::open(server.port).await;
    let tools = session.call("tools/list", json!({})).await;
    let count_before = tools["result"]["tools"].as_array().unwrap().len();

    // A call that is still running while the folder changes and SIGHUP lands.
    let mut slow = Session::open(server.port).await;
    let in_flight = tokio::spawn(async move { slow.call_tool("wait", json!({"ms": 1500})).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::copy(
        guest("conformance_fixture"),
        dir.path().join("conformance_fixture.wasm"),
    )
    .unwrap();
    server.signal("HUP");

    let result = in_flight.await.unwrap();
    assert_eq!(result["isError"], json!(false), "{result}");
    assert_eq!(first_text(&result), "waited 1500 ms");

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let tools = session.call("tools/list", json!({})).await;
        let names: Vec<String> = tools["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        if names.iter().any(|n| n == "test_simple_text") {
            assert!(names.len() > count_before);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "reload not visible: {names:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = session.call_tool("test_simple_text", json!({})).await;
    assert!(!first_text(&result).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_with_a_broken_folder_keeps_the_old_components() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--no-builtin", "--components", dir.path().to_str().unwrap()]);
    std::fs::write(dir.path().join("broken.wasm"), b"nope").unwrap();
    server.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server.log_text().contains("reload failed") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload failure logged:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("echo", json!({"text": "ok"})).await;
    assert_eq!(first_text(&result), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_the_in_flight_call_then_exits() {
    let dir = component_folder(&[("test_misbehave", Some("[limits]\ntimeout_ms = 20000\n"))]);
    let mut server = Server::start(&["--no-builtin", "--components", dir.path().to_str().unwrap()]);
    let mut slow = Session::open(server.port).await;
    let in_flight = tokio::spawn(async move { slow.call_tool("wait", json!({"ms": 1000})).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("TERM");
    let result = in_flight.await.unwrap();
    assert_eq!(first_text(&result), "waited 1000 ms");
    let code = tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}

#[test]
fn a_second_start_loads_precompiled_components_from_the_cache() {
    let dir = component_folder(&[("test_misbehave", None)]);
    let cache = cnpg_mcp_tests::tempdir::TempDir::new("shared-cache");
    let args = [
        "--components",
        dir.path().to_str().unwrap(),
        "--cache-dir",
        cache.path().to_str().unwrap(),
    ];
    let first = Server::start(&args);
    let cold = first.log_text();
    drop(first);
    let second = Server::start(&args);
    let warm = second.log_text();
    let loaded = |log: &str, cached: bool| {
        log.lines().any(|l| {
            l.contains("component loaded")
                && l.contains("test_misbehave")
                && l.contains(&format!("\"cached\":{cached}"))
        })
    };
    assert!(loaded(&cold, false), "{cold}");
    assert!(loaded(&warm, true), "{warm}");
    let entries = std::fs::read_dir(cache.path()).unwrap().count();
    assert!(
        entries >= 2,
        "expected cached artifacts for the built-in and the folder component, found {entries}"
    );
}
