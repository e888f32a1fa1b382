//! `tools/call` end to end over HTTP on loopback, no auth, driven by the
//! load script `tests/benches/load/mcp-load.sh` (wrk). Also measures
//! idle RSS and start-to-ready time with a warm precompile cache.
//!
//! `cargo bench -p cnpg-mcp-tests --bench http_load` (needs `wrk`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cnpg_mcp_tests::{Server, component_folder};

fn main() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/load/mcp-load.sh");
    let script = std::env::var_os("MCP_LOAD_SCRIPT").map(PathBuf::from).unwrap_or(script);
    assert!(script.is_file(), "load script not found at {}", script.display());

    // Start-to-ready with a warm cache: start once to fill it, then time.
    let cache = cnpg_mcp_tests::tempdir::TempDir::new("bench-cache");
    let cache_arg = cache.path().to_str().unwrap().to_string();
    drop(Server::start(&["--cache-dir", &cache_arg]));
    let mut ready = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let server = Server::start(&["--cache-dir", &cache_arg]);
        ready.push(started.elapsed());
        drop(server);
    }
    ready.sort();
    println!(
        "start_to_listening_ms_median={:.0} (built-in components, warm cache)",
        ready[2].as_secs_f64() * 1000.0
    );

    let server = Server::start(&["--cache-dir", &cache_arg]);
    std::thread::sleep(Duration::from_secs(2));
    println!("idle_rss_mib={:.1} (built-in components loaded)", server.rss_mib());
    drop(server);

    let dir = component_folder(&[("test_misbehave", None)]);
    let server = Server::start(&["--components", dir.path().to_str().unwrap(), "--cache-dir", &cache_arg]);
    let duration = std::env::var("BENCH_DURATION").unwrap_or_else(|_| "20s".into());
    for (label, what) in [
        ("ping", "ping".to_string()),
        ("tools/list", "tools/list".to_string()),
        (
            "tools/call echo",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#
                .to_string(),
        ),
    ] {
        let output = Command::new("bash")
            .arg(&script)
            .arg(server.url())
            .arg(&what)
            .env("QUIET", "1")
            .env("DURATION", &duration)
            .env("CONNS", "16")
            .env("THREADS", "2")
            .env("REJECT", "\"isError\":true")
            .output()
            .expect("run mcp-load.sh");
        let text = String::from_utf8_lossy(&output.stdout);
        println!("{label}: {}", text.trim());
    }
    println!("rss_after_load_mib={:.1}", server.rss_mib());
}
