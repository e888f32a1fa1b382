//! The fuzz targets of `cnpg_mcp_tests::fuzz` with a small budget
//! (`FUZZ_CASES`, default 256 inputs each), and the inputs they found,
//! kept as regression cases. Longer runs: `cargo bench --bench fuzz`.

use cnpg_mcp_tests::fuzz::TARGETS;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn run(name: &str) {
    let target = TARGETS.iter().find(|t| t.name == name).expect("a fuzz target");
    if let Err(failure) = (target.run)(cases()) {
        panic!("fuzz target {name} failed: {failure}");
    }
}

#[test]
fn bearer_tokens() {
    run("bearer_tokens");
}

#[test]
fn json_rpc_framing() {
    run("json_rpc_framing");
}

#[test]
fn grant_toml() {
    run("grant_toml");
}

#[test]
fn redirect_uris_and_cimd() {
    run("redirect_uris_and_cimd");
}

#[test]
fn kubernetes_paths() {
    run("kubernetes_paths");
}

#[test]
fn component_values() {
    run("component_values");
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    let source = include_str!("fuzz.rs");
    for name in names {
        assert!(
            source.contains(&format!("fn {name}()")),
            "no test for fuzz target {name}"
        );
    }
}

/// Found by `kubernetes_paths`: names that walked out of their segment
/// (`..`, `/`, `%2F`, a `?` starting a query) were formatted into the URL.
#[test]
fn regression_path_segments_are_refused() {
    use cnpg_mcp::kube::check_segment;
    for bad in ["..", ".", "a/b", "a%2Fb", "x?dryRun=All", "a#b", "pg 1", "pgé", ""] {
        assert!(check_segment("name", bad).is_err(), "{bad:?} accepted");
    }
    for good in ["pg-1", "system:masters", "cluster.example", "a_b"] {
        assert!(check_segment("name", good).is_ok(), "{good:?} refused");
    }
}
