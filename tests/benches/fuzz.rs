//! Long fuzz runs of every target in `cnpg_mcp_tests::fuzz`: prints inputs
//! tried and inputs per second per target. `FUZZ_CASES` (default 20000)
//! sets the budget per target; a failure prints the shrunk input and the
//! run exits non-zero.
//!
//! `cargo bench -p cnpg-mcp-tests --bench fuzz`

use std::time::Instant;

use cnpg_mcp_tests::fuzz::TARGETS;

fn main() {
    let cases: u32 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut failed = 0;
    println!("{:<24} {:>10} {:>10} {:>12}", "target", "inputs", "seconds", "inputs/s");
    for target in TARGETS {
        let started = Instant::now();
        let result = (target.run)(cases);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{:<24} {:>10} {:>10.1} {:>12.0}",
            target.name,
            cases,
            seconds,
            f64::from(cases) / seconds
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
