//! Per-call lifecycle of a trivial component, in process: admission, schema
//! validation, new store, instantiate, call, drop. Prints p50/p99 and calls
//! per second for one core (sequential) and for all cores.
//!
//! `cargo bench -p cnpg-mcp-tests --bench call_lifecycle`

use std::sync::Arc;
use std::time::{Duration, Instant};

use cnpg_mcp::caller::Caller;
use cnpg_mcp::runtime::{CallRequest, DiscardingPeer, Runtime, RuntimeSettings, sources};
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

fn main() {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let runtime = Arc::new(Runtime::new(RuntimeSettings::default()).unwrap());
        let source = sources::from_file(&cnpg_mcp_tests::guest("test_misbehave")).unwrap();
        let registry = runtime.build_registry(vec![source]).await.unwrap();
        runtime.install(registry);
        println!("allocator: {}", runtime.allocator());
        let args = || json!({"text": "x"}).as_object().unwrap().clone();

        // Warm up.
        for n in 0..2000 {
            runtime.call_tool("echo", args(), request(n)).await.unwrap();
        }

        // One core: sequential calls, each timed.
        let calls = 20_000u64;
        let mut samples = Vec::with_capacity(calls as usize);
        let started = Instant::now();
        for n in 0..calls {
            let t = Instant::now();
            runtime.call_tool("echo", args(), request(n)).await.unwrap();
            samples.push(t.elapsed());
        }
        let total = started.elapsed();
        samples.sort();
        println!(
            "sequential: calls={calls} p50_us={:.1} p99_us={:.1} calls_per_s={:.0}",
            percentile(&samples, 0.50).as_secs_f64() * 1e6,
            percentile(&samples, 0.99).as_secs_f64() * 1e6,
            calls as f64 / total.as_secs_f64()
        );

        // All cores: one task per core, same total.
        let started = Instant::now();
        let per_task = calls / threads as u64;
        let mut tasks = Vec::new();
        for t in 0..threads as u64 {
            let runtime = runtime.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..per_task {
                    runtime
                        .call_tool("echo", args(), request(t * per_task + n))
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let total = started.elapsed();
        println!(
            "parallel: threads={threads} calls={} calls_per_s={:.0}",
            per_task * threads as u64,
            (per_task * threads as u64) as f64 / total.as_secs_f64()
        );
    });
}
