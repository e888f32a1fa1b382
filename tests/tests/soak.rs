//! The soak and fault run (`cnpg_mcp_tests::soak`) for two minutes
//! (`SOAK_SECONDS` changes it): zero unexpected errors, no answer past its
//! deadline, Kubernetes calls recover after the API server restarts, RSS
//! bounded, no descriptor leak. The 30-minute run is the `soak` bench.

fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime
        .block_on(cnpg_mcp_tests::soak::run(std::time::Duration::from_secs(seconds)))
        .unwrap_or_else(|e| panic!("soak run failed to run: {e:#}"));
    report.print();
    let problems = report.problems();
    if problems.is_empty() {
        println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    } else {
        println!("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        panic!("soak: {}", problems.join("; "));
    }
}
