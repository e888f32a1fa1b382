//! The soak and fault run (`cnpg_mcp_tests::soak`) for 30 minutes
//! (`SOAK_SECONDS`): prints requests, errors (expected and unexpected),
//! RSS, descriptors, sessions, the slowest answer and how long Kubernetes
//! calls took to recover after the API server restart.
//!
//! `cargo bench -p cnpg-mcp-tests --bench soak`

fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime
        .block_on(cnpg_mcp_tests::soak::run(std::time::Duration::from_secs(seconds)))
        .unwrap_or_else(|e| panic!("soak run failed to run: {e:#}"));
    report.print();
    let problems = report.problems();
    if !problems.is_empty() {
        println!("FAILED: {}", problems.join("; "));
        std::process::exit(1);
    }
}
