//! Property-based fuzzing of what hostile input reaches first: bearer
//! tokens, JSON-RPC framing, grant TOML, redirect URIs and Client ID
//! Metadata Documents, Kubernetes path segments, and values a component
//! returns across WIT. Each target takes generated input (random bytes,
//! and inputs shaped like the real thing with hostile parts spliced in)
//! and checks a property beyond "does not panic".
//!
//! Stable Rust has no coverage-guided fuzzer here (cargo-fuzz needs
//! nightly), so these are proptest runs: `tests/tests/fuzz.rs` runs each
//! target with a small budget and a fixed seed in CI (`FUZZ_CASES`,
//! default 256; `FUZZ_SEED`), the `fuzz` bench runs them long with a
//! fresh seed it prints. A failure prints proptest's shrunk input; every
//! one found becomes a regression case in `tests/tests/fuzz.rs`.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// One fuzz target: a name and a run within a budget of generated inputs.
pub struct Target {
    pub name: &'static str,
    pub run: fn(Budget) -> Result<(), String>,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "bearer_tokens",
        run: bearer_tokens,
    },
    Target {
        name: "json_rpc_framing",
        run: json_rpc_framing,
    },
    Target {
        name: "grant_toml",
        run: grant_toml,
    },
    Target {
        name: "redirect_uris_and_cimd",
        run: redirect_uris_and_cimd,
    },
    Target {
        name: "kubernetes_paths",
        run: kubernetes_paths,
    },
    Target {
        name: "component_values",
        run: component_values,
    },
];

/// How many inputs a run tries, and the seed of its generator: the same
/// seed tries the same inputs, so a failure is reproduced by its seed.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub cases: u32,
    pub seed: u64,
}

impl Budget {
    /// `FUZZ_CASES` and `FUZZ_SEED` from the environment, else the given
    /// defaults.
    pub fn from_env(cases: u32, seed: u64) -> Self {
        let read = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Budget {
            cases: read("FUZZ_CASES").and_then(|c| u32::try_from(c).ok()).unwrap_or(cases),
            seed: read("FUZZ_SEED").unwrap_or(seed),
        }
    }
}

fn runner(budget: Budget) -> TestRunner {
    TestRunner::new(Config {
        cases: budget.cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(budget.seed),
        ..Config::default()
    })
}

fn report<T: std::fmt::Debug>(result: Result<(), proptest::test_runner::TestError<T>>) -> Result<(), String> {
    result.map_err(|error| error.to_string())
}

/// Text with the characters parsers trip over: quotes, escapes, slashes,
/// percent signs, dots, control characters, non-ASCII, brackets.
fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-z0-9]{1,8}",
        Just("/".to_string()),
        Just("..".to_string()),
        Just("%2F".to_string()),
        Just("%".to_string()),
        Just("?".to_string()),
        Just("#".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("{".to_string()),
        Just("[".to_string()),
        Just("\u{0}".to_string()),
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just("é".to_string()),
        Just("\u{202e}".to_string()),
        Just("=".to_string()),
        Just(",".to_string()),
        Just("@".to_string()),
        Just(":".to_string()),
        any::<String>(),
    ];
    proptest::collection::vec(pieces, 0..max).prop_map(|parts| parts.concat())
}

/// JSON values of any shape, nesting up to `depth`.
fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        hostile_text(6).prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 256, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(hostile_text(3), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `Authorization` values and the tokens in them: the header parser never
/// panics, what it accepts is one visible token from the value, and no
/// generated token validates (there is no key to sign with).
pub fn bearer_tokens(budget: Budget) -> Result<(), String> {
    use cnpg_mcp::auth::token::{self, KeySet, TokenRules, TypPolicy};
    let rules = TokenRules {
        issuer: "https://idp.test".into(),
        audiences: vec!["https://mcp.test/mcp".into()],
        algorithms: vec![jsonwebtoken::Algorithm::RS256, jsonwebtoken::Algorithm::ES256],
        leeway_seconds: 60,
        typ: TypPolicy::Strict,
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
    };
    let keys = KeySet { keys: Vec::new() };
    let jwt_shaped = || {
        (
            json_value(3),
            json_value(3),
            proptest::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(|(header, claims, signature)| {
                format!(
                    "{}.{}.{}",
                    b64(header.to_string().as_bytes()),
                    b64(claims.to_string().as_bytes()),
                    b64(&signature)
                )
            })
    };
    let header_value = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (
            prop_oneof!["Bearer ", "bearer ", "Bearer  ", "Basic ", "Bearer\t", ""],
            jwt_shaped()
        )
            .prop_map(|(scheme, token)| format!("{scheme}{token}").into_bytes()),
        (hostile_text(10), jwt_shaped()).prop_map(|(junk, token)| format!("Bearer {token}{junk}").into_bytes()),
    ];
    let strategy = proptest::collection::vec(header_value, 0..3);
    report(runner(budget).run(&strategy, |values| {
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        if let Ok(token) = token::bearer(&refs) {
            prop_assert!(!token.is_empty());
            prop_assert!(token.bytes().all(|b| b.is_ascii_graphic()), "{token:?}");
            prop_assert!(
                values
                    .iter()
                    .any(|v| v.windows(token.len()).any(|w| w == token.as_bytes()))
            );
            prop_assert!(token::validate(token, &rules, &keys).is_err());
        }
        Ok(())
    }))
}

/// `/mcp` bodies: any bytes get a verdict; an accepted body is one
/// message rmcp reads; a refusal is a parse error or an invalid request
/// whose message stays short whatever the input.
pub fn json_rpc_framing(budget: Budget) -> Result<(), String> {
    use cnpg_mcp::http::jsonrpc;
    let message = || {
        (
            prop_oneof![Just(json!(1)), Just(json!("a")), json_value(1)],
            prop_oneof![
                Just(json!("tools/call")),
                Just(json!("initialize")),
                Just(json!("ping")),
                json_value(1)
            ],
            json_value(6),
        )
            .prop_map(|(id, method, params)| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
    };
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        message().prop_map(|m| m.to_string().into_bytes()),
        (message(), any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(m, at, noise)| {
            let mut bytes = m.to_string().into_bytes();
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, noise);
            bytes
        }),
        json_value(8).prop_map(|v| v.to_string().into_bytes()),
    ];
    report(runner(budget).run(&body, |bytes: Vec<u8>| {
        match jsonrpc::check(&bytes) {
            Ok(envelope) => {
                let parsed = serde_json::from_slice::<cnpg_mcp::mcp::rmcp::model::ClientJsonRpcMessage>(&bytes);
                prop_assert!(parsed.is_ok(), "accepted but rmcp cannot read it: {parsed:?}");
                if let Some(id) = envelope.id {
                    prop_assert!(id.is_string() || id.is_i64(), "{id}");
                }
            }
            Err(refusal) => {
                prop_assert!(
                    refusal.code == jsonrpc::PARSE_ERROR || refusal.code == jsonrpc::INVALID_REQUEST,
                    "{refusal:?}"
                );
                prop_assert!(refusal.message.len() < 1024, "{} bytes", refusal.message.len());
            }
        }
        Ok(())
    }))
}

/// Grant files: any text gets a verdict; a grant that parses covers
/// itself and its limits stay within the host's ceilings.
pub fn grant_toml(budget: Budget) -> Result<(), String> {
    use cnpg_mcp::runtime::grant::ComponentGrant;
    let line = prop_oneof![
        Just("[limits]".to_string()),
        Just("[config]".to_string()),
        Just("[[kubernetes]]".to_string()),
        (
            prop_oneof![
                "memory_mib",
                "timeout_ms",
                "cpu_ms",
                "max_response_bytes",
                "max_list_items"
            ],
            any::<i64>()
        )
            .prop_map(|(k, v)| format!("{k} = {v}")),
        (
            prop_oneof!["verbs", "groups", "resources", "namespaces", "names"],
            proptest::collection::vec(hostile_text(3), 0..4)
        )
            .prop_map(|(k, v)| format!("{k} = {}", serde_json::to_string(&v).unwrap_or_default())),
        (hostile_text(3), hostile_text(5)).prop_map(|(k, v)| format!("{k} = {v}")),
        hostile_text(8),
    ];
    let text = proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"));
    report(runner(budget).run(&text, |text| {
        if let Ok(grant) = ComponentGrant::parse(&text) {
            prop_assert!(
                grant.uncovered(&grant).is_empty(),
                "a grant does not cover itself: {text}"
            );
            let ceiling = 128u64 << 20;
            let limits = grant.call_limits(ceiling);
            prop_assert!(limits.memory_bytes <= ceiling, "{text}");
        }
        Ok(())
    }))
}

/// Redirect URIs and metadata-document URLs: any text gets a verdict; an
/// accepted redirect URI has no fragment, no user information and uses
/// http only on a loopback host; an accepted document URL is https
/// without fragment; any document is judged without panicking.
pub fn redirect_uris_and_cimd(budget: Budget) -> Result<(), String> {
    use cnpg_mcp::facade::{check_redirect_uri, cimd};
    let uri = prop_oneof![
        hostile_text(12),
        (
            prop_oneof![
                "https://",
                "http://",
                "HTTP://",
                "javascript:",
                "com.example.app:",
                "https:",
                "//"
            ],
            prop_oneof![
                "127.0.0.1",
                "localhost",
                "[::1]",
                "example.com",
                "user@example.com",
                "127.0.0.1.evil.com"
            ],
            hostile_text(6)
        )
            .prop_map(|(s, h, rest)| format!("{s}{h}{rest}")),
    ];
    report(
        runner(budget).run(&(uri, any::<bool>(), json_value(4)), |(uri, native, document)| {
            if check_redirect_uri(&uri, native).is_ok() {
                prop_assert!(!uri.contains('#'), "{uri}");
                let lower = uri.to_ascii_lowercase();
                if lower.starts_with("http:") || lower.starts_with("https:") {
                    let parsed: http::Uri = uri.parse().map_err(|e| TestCaseError::fail(format!("{uri}: {e}")))?;
                    let authority = parsed.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
                    prop_assert!(!authority.contains('@'), "{uri}");
                    if lower.starts_with("http:") {
                        let host = parsed.host().unwrap_or_default();
                        prop_assert!(
                            ["127.0.0.1", "localhost", "[::1]", "::1"].contains(&host),
                            "http redirect to {host}: {uri}"
                        );
                    }
                } else {
                    prop_assert!(native, "a private-use scheme for a web client: {uri}");
                }
            }
            if cimd::check_url(&uri).is_ok() {
                prop_assert!(uri.starts_with("https://"), "{uri}");
                prop_assert!(!uri.contains('#'), "{uri}");
            }
            let _ = cimd::validate_document("https://client.example.com/meta.json", &document, &[]);
            Ok(())
        }),
    )
}

/// Names, namespaces and resources become URL path segments: whatever is
/// accepted is exactly one segment of the path asked for, and no query.
pub fn kubernetes_paths(budget: Budget) -> Result<(), String> {
    use cnpg_mcp::kube::Target;
    let part = prop_oneof![hostile_text(6), "[a-z0-9-]{1,20}"];
    report(
        runner(budget).run(&(part.clone(), part.clone(), part), |(namespace, resource, name)| {
            let target = Target {
                group: "postgresql.cnpg.io".into(),
                version: "v1".into(),
                resource: resource.clone(),
                namespace: Some(namespace.clone()),
                name: Some(name.clone()),
                subresource: None,
            };
            if target.checked().is_err() {
                return Ok(());
            }
            let path = format!("/apis/postgresql.cnpg.io/v1/namespaces/{namespace}/{resource}/{name}");
            let uri: http::Uri = path
                .parse()
                .map_err(|e| TestCaseError::fail(format!("accepted parts make no URI: {path}: {e}")))?;
            prop_assert!(uri.query().is_none(), "{path}");
            let segments: Vec<&str> = uri.path().split('/').collect();
            prop_assert_eq!(segments.len(), 8, "{}", path);
            prop_assert_eq!(segments[5], namespace.as_str());
            prop_assert_eq!(segments[6], resource.as_str());
            prop_assert_eq!(segments[7], name.as_str());
            prop_assert!(segments.iter().all(|s| *s != ".." && *s != "."), "{}", path);
            Ok(())
        }),
    )
}

/// What a component hands back across WIT: arbitrary (often invalid or
/// deeply nested) structured content and large texts. Every call ends
/// with a result or a precise error, and accepted structured content is
/// exactly what the component sent.
pub fn component_values(budget: Budget) -> Result<(), String> {
    use cnpg_mcp::caller::Caller;
    use cnpg_mcp::runtime::{CallError, CallRequest, DiscardingPeer, Runtime, RuntimeSettings, sources};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let runtime = rt.block_on(async {
        let runtime = Arc::new(Runtime::new(RuntimeSettings::default()).map_err(|e| e.to_string())?);
        let source = sources::from_file(&crate::guest("test_misbehave")).map_err(|e| e.to_string())?;
        let registry = runtime.build_registry(vec![source]).await.map_err(|e| e.to_string())?;
        runtime.install(registry);
        Ok::<_, String>(runtime)
    })?;
    let raw = prop_oneof![
        json_value(6).prop_map(|v| v.to_string()),
        hostile_text(20),
        (1usize..400).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        (1usize..400).prop_map(|depth| "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)),
    ];
    let text_bytes = prop_oneof![Just(0u64), 0u64..4096, Just(8 << 20), Just(48 << 20)];
    let calls = std::sync::atomic::AtomicU64::new(0);
    report(runner(budget).run(&(raw, text_bytes), |(raw, text_bytes)| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request = CallRequest {
            request_id: format!("fuzz-{n}"),
            share: "local".into(),
            caller: Caller::local(),
            progress_token: None,
            protocol_version: "2025-06-18".into(),
            peer: Arc::new(DiscardingPeer),
        };
        let mut arguments = serde_json::Map::new();
        arguments.insert("raw".into(), Value::String(raw.clone()));
        arguments.insert("text_bytes".into(), Value::from(text_bytes));
        let outcome = rt.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(60),
                runtime.call_tool("reflect_raw", arguments, request),
            )
            .await
        });
        let outcome = outcome.map_err(|_| TestCaseError::fail("a call did not end within 60 s"))?;
        let parsed = serde_json::from_str::<Value>(&raw);
        match outcome {
            Ok(result) => {
                prop_assert!(parsed.is_ok(), "invalid structured content was accepted: {raw:?}");
                prop_assert_eq!(result.structured.as_ref(), parsed.as_ref().ok());
            }
            Err(CallError::BadOutput { detail, .. }) if detail.contains("a tool result may have at most") => {
                prop_assert!(
                    text_bytes as usize + raw.len() > cnpg_mcp::runtime::MAX_RESULT_BYTES,
                    "{detail}"
                );
            }
            Err(CallError::BadOutput { detail, .. }) => {
                prop_assert!(parsed.is_err(), "valid content refused: {detail}");
            }
            // A text too large for the component's memory ends the call.
            Err(CallError::OutOfMemory { .. }) | Err(CallError::Trapped { .. }) => {
                prop_assert!(text_bytes > 1 << 20, "a small call failed");
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected: {other}"))),
        }
        Ok(())
    }))
}
