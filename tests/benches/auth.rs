//! Cost of authentication.
//! 1. Verifying one access token with a cached key (`token::validate`, the
//!    function the HTTP layer runs per request): RS256 and ES256, p50/p99.
//! 2. `tools/call` throughput over HTTP through the load script
//!    `tests/benches/load/mcp-load.sh` (wrk),
//!    without auth and with a bearer token (keys from an in-process JWKS
//!    endpoint), and the ratio.
//!
//! `cargo bench -p cnpg-mcp-tests --bench auth` (needs `wrk`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cnpg_mcp::auth::token::{self, KeySet, TokenRules, TypPolicy, parse_jwks};
use cnpg_mcp_tests::jwt::{TestKey, jwks, now};
use cnpg_mcp_tests::stub_idp::StubIdp;
use cnpg_mcp_tests::{Server, component_folder};
use jsonwebtoken::Algorithm;
use serde_json::json;

const RESOURCE: &str = "https://mcp.test/mcp";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("bench-auth");
    let rsa = TestKey::rsa(dir.path(), "rsa-1", 2048, Algorithm::RS256);
    let ec = TestKey::ec(dir.path(), "ec-1");
    let idp = rt.block_on(StubIdp::start(jwks(&[&rsa, &ec])));
    let claims = json!({"iss": idp.issuer, "aud": RESOURCE, "sub": "bench", "exp": now() + 3600, "iat": now(),
        "scope": "mcp:read", "preferred_username": "bench", "groups": ["dba"], "client_id": "bench"});

    let (keys, _) = parse_jwks(&jwks(&[&rsa, &ec]));
    let keys = KeySet { keys };
    let rules = TokenRules {
        issuer: idp.issuer.clone(),
        audiences: vec![RESOURCE.into()],
        algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::PS256],
        leeway_seconds: 60,
        typ: TypPolicy::Strict,
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
    };
    for key in [&rsa, &ec] {
        let token = key.sign(json!({}), &claims);
        for _ in 0..500 {
            token::validate(&token, &rules, &keys).unwrap();
        }
        let mut samples: Vec<Duration> = (0..5000)
            .map(|_| {
                let t = Instant::now();
                token::validate(&token, &rules, &keys).unwrap();
                t.elapsed()
            })
            .collect();
        samples.sort();
        println!(
            "verify {}: p50_us={:.1} p99_us={:.1}",
            cnpg_mcp::auth::token::alg_name(key.alg),
            samples[samples.len() / 2].as_secs_f64() * 1e6,
            samples[samples.len() * 99 / 100].as_secs_f64() * 1e6
        );
    }

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/load/mcp-load.sh");
    let script = std::env::var_os("MCP_LOAD_SCRIPT").map(PathBuf::from).unwrap_or(script);
    assert!(script.is_file(), "load script not found at {}", script.display());
    let components = component_folder(&[("test_misbehave", None)]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
    let duration = std::env::var("BENCH_DURATION").unwrap_or_else(|_| "20s".into());
    let run = |server: &Server, token: Option<&str>| -> f64 {
        let mut command = Command::new("bash");
        command
            .arg(&script)
            .arg(server.url())
            .arg(body)
            .env("QUIET", "1")
            .env("DURATION", &duration)
            .env("CONNS", "16")
            .env("THREADS", "2")
            .env("REJECT", "\"isError\":true");
        if let Some(token) = token {
            command.arg(token);
        }
        let output = command.output().expect("run mcp-load.sh");
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        println!("  {text}");
        text.split_whitespace()
            .find_map(|f| f.strip_prefix("rps="))
            .and_then(|r| r.parse().ok())
            .unwrap_or(0.0)
    };
    let plain = Server::start(&["--components", components.path().to_str().unwrap()]);
    println!("tools/call echo, no auth:");
    let plain_rps = run(&plain, None);
    drop(plain);
    let secured = Server::start(&[
        "--components",
        components.path().to_str().unwrap(),
        "--oidc-issuer",
        &idp.issuer,
        "--public-url",
        RESOURCE,
        "--oidc-scope",
        "mcp:read",
    ]);
    std::thread::sleep(Duration::from_secs(1));
    let token = rsa.sign(json!({}), &claims);
    println!("tools/call echo, bearer RS256:");
    let secured_rps = run(&secured, Some(&token));
    println!(
        "authenticated/unauthenticated throughput ratio={:.2}",
        if plain_rps > 0.0 { secured_rps / plain_rps } else { 0.0 }
    );
}
