//! The operator's reconciliation state of a DatabaseRole or Database in
//! plain words. Both report `status.applied`, `status.message` and
//! `status.observedGeneration` (`DatabaseRoleStatus` in the operator's
//! `api/v1/databaserole_types.go`, `DatabaseStatus` in
//! `api/v1/database_types.go`); roles in a Cluster's `spec.managed.roles`
//! are reported by name under `status.managedRolesStatus.byStatus`
//! (`RoleStatus` in `api/v1/cluster_types.go`).

use serde_json::Value;

/// Words for the state of an object with a `status.applied` report.
pub fn of_object(item: &Value) -> String {
    let applied = item.pointer("/status/applied").and_then(Value::as_bool);
    let message = item
        .pointer("/status/message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    let generation = item.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = item.pointer("/status/observedGeneration").and_then(Value::as_i64);
    let behind = matches!((generation, observed), (Some(g), Some(o)) if o < g);
    match (applied, message) {
        (Some(true), _) if behind => "applied, but the latest change is still waiting for the operator".into(),
        (Some(true), _) => "applied by the operator".into(),
        (Some(false), Some(message)) => format!("NOT applied, the operator reports: {message}"),
        (Some(false), None) => "NOT applied (the operator gives no reason)".into(),
        (None, _) => "waiting for the operator (not reconciled yet)".into(),
    }
}

/// Words for a `managedRolesStatus.byStatus` key, or a refusal message.
pub fn of_managed_role(by_status: Option<&str>, cannot_reconcile: Option<&str>) -> String {
    if let Some(message) = cannot_reconcile {
        return format!("NOT applied, the operator reports: {message}");
    }
    match by_status {
        Some("reconciled") => "applied by the operator".into(),
        Some("pending-reconciliation") => "waiting for the operator (pending reconciliation)".into(),
        Some("not-managed") => "not managed by the operator".into(),
        Some("reserved") => "reserved by the operator".into(),
        Some(other) => format!("operator state `{other}`"),
        None => "waiting for the operator (not reconciled yet)".into(),
    }
}
