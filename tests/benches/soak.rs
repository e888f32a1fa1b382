//! The soak and fault run (`cnpg_mcp_tests::soak`) for 30 minutes
//! (`SOAK_SECONDS`): prints requests, errors (expected and unexpected),
//! RSS, descriptors, sessions, the slowest answer and how long Kubernetes
//! calls took to recover after the API server restart.
//!
//! `cargo bench -p cnpg-mcp-tests --bench soak`

fn main() {
    let problems = cnpg_mcp_tests::soak::run_from_env(1800, None);
    if !problems.is_empty() {
        println!("FAILED: {}", problems.join("; "));
        std::process::exit(1);
    }
}
