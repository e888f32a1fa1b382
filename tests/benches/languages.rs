//! The same kind of tool in Rust (components/examples/cluster-health) and
//! in Python (components/examples/python-count, componentize-py): file
//! size, load time (compile, uncached) and per-call cost in process (new
//! store, instantiate, call, drop). No cluster is configured, so both tools
//! make one `k8s` call that answers `unavailable` and return an isError
//! result: the figures are the component's own cost.
//!
//! `cargo build --release -p cnpg-mcp && cargo bench -p cnpg-mcp-tests --bench languages`

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cnpg_mcp::caller::Caller;
use cnpg_mcp::runtime::{CallRequest, DiscardingPeer, Runtime, RuntimeSettings, grant::ComponentGrant, sources};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn request(n: u64) -> CallRequest {
    CallRequest {
        request_id: format!("bench-{n}"),
        share: "local".into(),
        caller: Caller::local(),
        progress_token: None,
        protocol_version: "2025-06-18".into(),
        peer: Arc::new(DiscardingPeer),
    }
}

fn python_component() -> PathBuf {
    let root = cnpg_mcp_tests::deploy::repo_root();
    let output = Command::new("bash")
        .arg(root.join("components/examples/python-count/build.sh"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let root = cnpg_mcp_tests::deploy::repo_root();
        let cases = [
            (
                "rust",
                cnpg_mcp_tests::guest("cluster_health"),
                root.join("components/examples/cluster-health/grant.toml"),
                "get_cluster_health_summary",
            ),
            (
                "python",
                python_component(),
                root.join("components/examples/python-count/grant.toml"),
                "count_postgres_clusters",
            ),
        ];
        let mut medians = Vec::new();
        for (language, wasm, grant, tool) in cases {
            let size = std::fs::metadata(&wasm).unwrap().len();
            let runtime = Runtime::new(RuntimeSettings {
                cache_dir: None,
                ..RuntimeSettings::default()
            })
            .unwrap();
            let mut source = sources::from_file(&wasm).unwrap();
            source.grant = ComponentGrant::parse(&std::fs::read_to_string(grant).unwrap()).unwrap();
            let started = Instant::now();
            let registry = runtime.build_registry(vec![source]).await.unwrap();
            let load = started.elapsed();
            runtime.install(registry);
            let args = || json!({"namespace": "db"}).as_object().unwrap().clone();
            for n in 0..20 {
                runtime.call_tool(tool, args(), request(n)).await.unwrap();
            }
            let calls = if language == "rust" { 2000 } else { 200 };
            let mut samples = Vec::with_capacity(calls);
            for n in 0..calls as u64 {
                let t = Instant::now();
                let outcome = runtime.call_tool(tool, args(), request(n)).await.unwrap();
                samples.push(t.elapsed());
                assert!(outcome.is_error, "without a cluster the tool reports unavailable");
            }
            samples.sort();
            let p50 = percentile(&samples, 0.5);
            medians.push(p50);
            println!(
                "{language}: size_bytes={size} load_ms={:.0} calls={calls} p50_us={:.1} p99_us={:.1}",
                load.as_secs_f64() * 1e3,
                p50.as_secs_f64() * 1e6,
                percentile(&samples, 0.99).as_secs_f64() * 1e6
            );
        }
        println!(
            "python/rust per-call p50 ratio: {:.1}",
            medians[1].as_secs_f64() / medians[0].as_secs_f64()
        );
    });
}
