//! Shared pieces of the component unit tests (`tests/*_units.rs`): a
//! component under the test kit's scripted `k8s` host, script steps in
//! namespace [`NS`], and the check that a call went exactly as scripted.

use cnpg_mcp::testkit::{Harness, Outcome, Step};
use serde_json::{Value, json};

/// The namespace every scripted call is made in.
pub const NS: &str = "db";

/// A built-in (or test) component by its crate name, e.g. `cnpg_backups`.
pub fn harness(component: &str) -> Harness {
    Harness::load(&std::fs::read(crate::guest(component)).unwrap()).unwrap()
}

/// `clusters` and `clusters/status` are CloudNativePG's; `core/pods`,
/// `batch/jobs` and `group.example/things` stay as they are.
pub fn res(resource: &str) -> String {
    let first = resource.split('/').next().unwrap_or_default();
    if resource.contains('/') && (first == "core" || first == "batch" || first.contains('.')) {
        resource.to_string()
    } else {
        format!("postgresql.cnpg.io/{resource}")
    }
}

/// A call that succeeds with `object`.
pub fn ok(verb: &str, resource: &str, name: Option<&str>, object: Value) -> Step {
    Step::ok(verb, &res(resource), Some(NS), name, object)
}

/// A call the API server refuses with `code` and `reason`.
pub fn fail(verb: &str, resource: &str, name: Option<&str>, code: u16, reason: &str) -> Step {
    Step::fail(verb, &res(resource), Some(NS), name, code, reason)
}

/// A list answer.
pub fn list_of(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items})
}

/// Every call was scripted and every scripted call was made.
pub fn clean(outcome: &Outcome) {
    assert!(
        outcome.mismatches.is_empty(),
        "unscripted calls: {:?}",
        outcome.mismatches
    );
    assert!(outcome.unused.is_empty(), "calls never made: {:?}", outcome.unused);
}
