//! The fuzz targets of `cnpg_mcp_tests::fuzz` with a small budget and a
//! fixed seed, so a run here tries the same 256 inputs per target every
//! time (`FUZZ_CASES` and `FUZZ_SEED` change both), and the inputs longer
//! runs found, kept as regression cases. Longer runs with fresh seeds:
//! `cargo bench --bench fuzz`.

use cnpg_mcp_tests::fuzz::{Budget, TARGETS};

/// "cnpg" in ASCII.
const SEED: u64 = 0x636e_7067;

fn run(name: &str) {
    let target = TARGETS.iter().find(|t| t.name == name).expect("a fuzz target");
    let budget = Budget::from_env(256, SEED);
    if let Err(failure) = (target.run)(budget) {
        panic!("fuzz target {name} failed with seed {}: {failure}", budget.seed);
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
    for bad in [
        "..",
        ".",
        "a/b",
        "a%2Fb",
        "x?dryRun=All",
        "a#b",
        "pg 1",
        "pgé",
        "",
        "\"",
        "`",
        "a<b>",
        "a\\b",
        "{x}",
        "a|b",
        "a^b",
    ] {
        assert!(check_segment("name", bad).is_err(), "{bad:?} accepted");
    }
    for good in ["pg-1", "system:masters", "cluster.example", "a_b"] {
        assert!(check_segment("name", good).is_ok(), "{good:?} refused");
    }
}

#[test]
fn regression_grant_rules_with_empty_entries_are_refused() {
    use cnpg_mcp::runtime::grant::ComponentGrant;
    for rule in [
        "resources = [\"\"]\nverbs = [\"\"]",
        "verbs = [\"get\"]\nresources = [\"pods\"]",
        "verbs = [\"get\"]\napi_groups = [\"\"]\nresources = [\"\"]",
    ] {
        let text = format!("[[kubernetes]]\n{rule}");
        assert!(ComponentGrant::parse(&text).is_err(), "accepted: {text}");
    }
}
