//! Long fuzz runs of every target in `cnpg_mcp_tests::fuzz`: prints the
//! seed, inputs tried and inputs per second per target. `FUZZ_CASES`
//! (default 20000) sets the budget per target and `FUZZ_SEED` the seed
//! (default: a fresh one each run); a failure prints the shrunk input and
//! the run exits non-zero. `FUZZ_SEED=<seed> cargo test --test fuzz`
//! replays a failing run's inputs.
//!
//! `cargo bench -p cnpg-mcp-tests --bench fuzz`

use std::time::Instant;

use cnpg_mcp_tests::fuzz::{Budget, TARGETS};

fn main() {
    let fresh = {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(std::time::SystemTime::now())
    };
    let budget = Budget::from_env(20_000, fresh);
    println!("seed {}", budget.seed);
    let mut failed = 0;
    println!("{:<24} {:>10} {:>10} {:>12}", "target", "inputs", "seconds", "inputs/s");
    for target in TARGETS {
        let started = Instant::now();
        let result = (target.run)(budget);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{:<24} {:>10} {:>10.1} {:>12.0}",
            target.name,
            budget.cases,
            seconds,
            f64::from(budget.cases) / seconds
        );
        if let Err(failure) = result {
            failed += 1;
            println!("  FAILED: {failure}");
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
