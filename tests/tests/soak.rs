//! The soak and fault run (`cnpg_mcp_tests::soak`) for two minutes
//! (`SOAK_SECONDS` changes it): zero unexpected errors, no answer past its
//! deadline, Kubernetes calls recover after the API server restarts, RSS
//! bounded, no descriptor leak. The 30-minute run is the `soak` bench.

fn main() {
    let problems = cnpg_mcp_tests::soak::run_from_env(120, Some(2));
    if problems.is_empty() {
        println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    } else {
        println!("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        panic!("soak: {}", problems.join("; "));
    }
}
