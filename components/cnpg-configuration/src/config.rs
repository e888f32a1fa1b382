//! `update_cluster_configuration`: checks what the operator's webhook would
//! refuse before anything is sent, patches the cluster's spec, and answers
//! with the spec's diff and what the change takes to apply (reload,
//! restart, rollout). Facts from operator v1.30.0: `pkg/postgres/configuration.go`
//! (`FixedConfigurationParameters`), `internal/webhook/v1/cluster_webhook.go`
//! (`validateConfiguration`, `validateSynchronousReplicaConfiguration`,
//! `validateFailoverQuorum`, `validateWALLevelChange`),
//! `internal/management/controller/instance_controller.go`
//! (`processConfigReloadAndManageRestart`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::kube::{self, cnpg, object};
use cnpg_mcp_sdk::tool::{Format, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, DataDurability, SyncMethod};

/// Parameters the operator sets itself (`fixedConfigurationParameter`), and
/// what to use instead where there is something.
pub const FIXED: &[(&str, &str)] = &[
    (
        "archive_mode",
        "the operator sets it from the backup and replica-cluster configuration",
    ),
    (
        "archive_command",
        "the operator archives WAL itself; configure backups with configure_cluster_backup",
    ),
    ("cluster_name", "the operator sets it to the cluster's name"),
    ("port", "the operator serves on 5432; Services map ports"),
    ("primary_conninfo", "the operator sets it for each replica"),
    (
        "primary_slot_name",
        "the operator manages replication slots (`spec.replicationSlots`)",
    ),
    ("recovery_target", "recovery targets belong to restore_postgres_cluster"),
    (
        "recovery_target_action",
        "recovery targets belong to restore_postgres_cluster",
    ),
    (
        "recovery_target_inclusive",
        "recovery targets belong to restore_postgres_cluster",
    ),
    (
        "recovery_target_lsn",
        "recovery targets belong to restore_postgres_cluster",
    ),
    (
        "recovery_target_name",
        "recovery targets belong to restore_postgres_cluster",
    ),
    (
        "recovery_target_time",
        "recovery targets belong to restore_postgres_cluster",
    ),
    (
        "recovery_target_timeline",
        "recovery targets belong to restore_postgres_cluster",
    ),
    (
        "recovery_target_xid",
        "recovery targets belong to restore_postgres_cluster",
    ),
    ("restore_command", "the operator restores WAL itself"),
    (
        "shared_preload_libraries",
        "use the `shared_preload_libraries` argument (`spec.postgresql.shared_preload_libraries`)",
    ),
    (
        "temp_tablespaces",
        "declare a tablespace with `temporary: true` in `spec.tablespaces`",
    ),
    ("pg_failover_slots.primary_dsn", "the operator sets it"),
    ("pg_failover_slots.standby_slot_names", "the operator sets it"),
    ("ssl", "the operator always serves TLS"),
    ("ssl_ca_file", "certificates are managed in `spec.certificates`"),
    ("ssl_cert_file", "certificates are managed in `spec.certificates`"),
    ("ssl_crl_file", "certificates are managed in `spec.certificates`"),
    ("ssl_dh_params_file", "certificates are managed in `spec.certificates`"),
    ("ssl_ecdh_curve", "the operator sets it"),
    ("ssl_key_file", "certificates are managed in `spec.certificates`"),
    ("ssl_passphrase_command", "the operator's keys have no passphrase"),
    (
        "ssl_passphrase_command_supports_reload",
        "the operator's keys have no passphrase",
    ),
    ("ssl_prefer_server_ciphers", "the operator sets it"),
    (
        "synchronous_standby_names",
        "use the `synchronous` argument (`spec.postgresql.synchronous`)",
    ),
    (
        "synchronized_standby_slots",
        "the operator sets it from `spec.replicationSlots`",
    ),
];

/// Parameters that must keep the operator's value for it to work
/// (`blockedConfigurationParameter`).
pub const BLOCKED: &[&str] = &[
    "allow_system_table_mods",
    "bonjour",
    "bonjour_name",
    "config_file",
    "data_directory",
    "data_sync_retry",
    "event_source",
    "external_pid_file",
    "hba_file",
    "hot_standby",
    "ident_file",
    "jit_provider",
    "listen_addresses",
    "logging_collector",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
    "archive_cleanup_command",
    "log_destination",
    "log_directory",
    "log_file_mode",
    "log_filename",
    "log_rotation_age",
    "log_rotation_size",
    "log_truncate_on_rotation",
    "promote_trigger_file",
    "recovery_end_command",
    "recovery_min_apply_delay",
    "restart_after_crash",
    "stats_temp_directory",
    "syslog_facility",
    "syslog_ident",
    "syslog_sequence_numbers",
    "syslog_split_messages",
];

/// PostgreSQL parameters read only at server start (`pg_settings.context =
/// 'postmaster'`, PostgreSQL 13 to 18): a change waits for a restart, which
/// the instance reports as `pending_restart` and the operator then carries
/// out (or waits for, with `primaryUpdateStrategy: supervised`).
pub const RESTART_NEEDED: &[&str] = &[
    "autovacuum_freeze_max_age",
    "autovacuum_max_workers",
    "autovacuum_multixact_freeze_max_age",
    "autovacuum_worker_slots",
    "commit_timestamp_buffers",
    "dynamic_shared_memory_type",
    "huge_pages",
    "huge_page_size",
    "io_max_combine_limit",
    "io_max_concurrency",
    "io_method",
    "max_active_replication_origins",
    "max_connections",
    "max_files_per_process",
    "max_locks_per_transaction",
    "max_logical_replication_workers",
    "max_notify_queue_pages",
    "max_pred_locks_per_transaction",
    "max_prepared_transactions",
    "max_replication_slots",
    "max_wal_senders",
    "max_worker_processes",
    "min_dynamic_shared_memory",
    "multixact_member_buffers",
    "multixact_offset_buffers",
    "notify_buffers",
    "old_snapshot_threshold",
    "reserved_connections",
    "serializable_buffers",
    "shared_buffers",
    "shared_memory_type",
    "subtransaction_buffers",
    "superuser_reserved_connections",
    "track_activity_query_size",
    "track_commit_timestamp",
    "transaction_buffers",
    "wal_buffers",
    "wal_decode_buffer_size",
    "wal_level",
    "wal_log_hints",
];

/// Parameters a standby must have at least as high as its primary
/// (`GetDecreasedSensibleSettings`, `pkg/management/postgres/probes.go`):
/// lowering one restarts the primary first.
const HOT_STANDBY_SENSITIVE: &[&str] = &[
    "max_connections",
    "max_prepared_transactions",
    "max_wal_senders",
    "max_worker_processes",
    "max_locks_per_transaction",
];

/// Parameters the webhook reads as PostgreSQL booleans.
const BOOLEANS: &[&str] = &["hot_standby_feedback", "sync_replication_slots", "wal_log_hints"];

/// The spec fields this tool changes, shown in the diff.
const WATCHED: &[&str] = &[
    "/spec/postgresql/parameters",
    "/spec/postgresql/pg_hba",
    "/spec/postgresql/pg_ident",
    "/spec/postgresql/shared_preload_libraries",
    "/spec/postgresql/synchronous",
    "/spec/minSyncReplicas",
    "/spec/maxSyncReplicas",
    "/spec/resources",
    "/spec/monitoring",
];

/// A refusal before any call: the reason and what to do instead.
pub fn refuse_parameter(
    name: &str,
    value: Option<&str>,
    instances: u64,
    existing_wal_level: Option<&str>,
) -> Option<String> {
    if !valid_parameter_name(name) {
        return Some(format!(
            "`{name}` is not a PostgreSQL parameter name (letters, digits, `_`, `$`, at most one `.` for an extension's namespace)"
        ));
    }
    let value = value?;
    let lower = name.to_ascii_lowercase();
    if let Some((_, instead)) = FIXED.iter().find(|(fixed, _)| *fixed == lower) {
        return Some(format!(
            "`{name}` is managed by the operator and cannot be set (fixed parameter): {instead}"
        ));
    }
    if BLOCKED.contains(&lower.as_str()) {
        return Some(format!(
            "`{name}` must keep the operator's value for the operator to work (blocked parameter)"
        ));
    }
    if lower == "wal_level" {
        if !["logical", "replica", "minimal"].contains(&value) {
            return Some(format!("`wal_level` `{value}` is not one of logical, replica, minimal"));
        }
        if value == "minimal" && existing_wal_level != Some("minimal") {
            return Some(
                "`wal_level` cannot be lowered to `minimal` on an existing cluster (the operator's webhook refuses it)"
                    .into(),
            );
        }
    }
    if BOOLEANS.contains(&lower.as_str()) && postgres_bool(value).is_none() {
        return Some(format!(
            "`{name}` `{value}` is not a PostgreSQL boolean (on/off, true/false, yes/no, 1/0)"
        ));
    }
    if lower == "wal_log_hints" && postgres_bool(value) == Some(false) && instances > 1 {
        return Some("`wal_log_hints` must stay `on` when the cluster has more than one instance".into());
    }
    None
}

fn valid_parameter_name(name: &str) -> bool {
    let part = |p: &str| {
        let mut chars = p.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    match name.split_once('.') {
        Some((a, b)) => part(a) && part(b),
        None => part(name),
    }
}

/// PostgreSQL's boolean spellings (unique prefixes of on/off excepted).
pub fn postgres_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Some(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// The webhook's synchronous replication rules, checked here first.
pub fn refuse_synchronous(sync: &args::Synchronous, instances: u64) -> Option<String> {
    let named = (sync.standby_names_pre.len() + sync.standby_names_post.len()) as u64;
    if u64::from(sync.number) >= instances + named {
        return Some(format!(
            "`number` {} must be less than the instances ({instances}) plus the standby names given ({named})",
            sync.number
        ));
    }
    if sync.data_durability == Some(DataDurability::Preferred) && named > 0 {
        return Some("`data_durability: preferred` needs empty `standby_names_pre` and `standby_names_post`".into());
    }
    if sync.failover_quorum == Some(true) && u64::from(sync.number) <= named {
        return Some(format!(
            "`failover_quorum` needs `number` ({}) greater than the standby names given ({named}) for failover to be possible",
            sync.number
        ));
    }
    None
}

fn synchronous_patch(sync: &args::Synchronous) -> Value {
    // Every field set (null for the absent ones), so the result is exactly
    // this configuration and not a merge with the previous one.
    json!({
        "method": match sync.method { SyncMethod::Any => "any", SyncMethod::First => "first" },
        "number": sync.number,
        "dataDurability": sync.data_durability.map(|d| match d {
            DataDurability::Required => "required",
            DataDurability::Preferred => "preferred",
        }),
        "maxStandbyNamesFromCluster": sync.max_standby_names_from_cluster,
        "standbyNamesPre": if sync.standby_names_pre.is_empty() { Value::Null } else { json!(sync.standby_names_pre) },
        "standbyNamesPost": if sync.standby_names_post.is_empty() { Value::Null } else { json!(sync.standby_names_post) },
        "failoverQuorum": sync.failover_quorum,
    })
}

fn quantity(value: &Option<String>) -> Option<Value> {
    value
        .as_ref()
        .map(|v| if v.is_empty() { Value::Null } else { json!(v) })
}

/// The merge patch for the arguments; `Err` when there is nothing to change.
pub fn build_patch(a: &args::Update, cluster: &Value) -> Result<Value, String> {
    let mut postgresql = Map::new();
    let mut spec = Map::new();
    if let Some(parameters) = &a.parameters
        && !parameters.is_empty()
    {
        let map: Map<String, Value> = parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map_or(Value::Null, |v| json!(v))))
            .collect();
        postgresql.insert("parameters".into(), Value::Object(map));
    }
    for (key, list) in [
        ("pg_hba", &a.pg_hba),
        ("pg_ident", &a.pg_ident),
        ("shared_preload_libraries", &a.shared_preload_libraries),
    ] {
        if let Some(list) = list {
            postgresql.insert(key.into(), if list.is_empty() { Value::Null } else { json!(list) });
        }
    }
    if let Some(sync) = &a.synchronous {
        postgresql.insert("synchronous".into(), synchronous_patch(sync));
        // The legacy fields and `synchronous` cannot be set together.
        for legacy in ["minSyncReplicas", "maxSyncReplicas"] {
            if cluster
                .pointer(&format!("/spec/{legacy}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
                > 0
            {
                spec.insert(legacy.into(), json!(0));
            }
        }
    } else if a.disable_synchronous {
        postgresql.insert("synchronous".into(), Value::Null);
    }
    if !postgresql.is_empty() {
        spec.insert("postgresql".into(), Value::Object(postgresql));
    }
    if let Some(r) = &a.resources {
        let pair = |cpu: &Option<String>, memory: &Option<String>| {
            let mut map = Map::new();
            for (key, value) in [("cpu", cpu), ("memory", memory)] {
                if let Some(v) = quantity(value) {
                    map.insert(key.into(), v);
                }
            }
            map
        };
        let requests = pair(&r.cpu_request, &r.memory_request);
        let limits = pair(&r.cpu_limit, &r.memory_limit);
        let mut resources = Map::new();
        if !requests.is_empty() {
            resources.insert("requests".into(), Value::Object(requests));
        }
        if !limits.is_empty() {
            resources.insert("limits".into(), Value::Object(limits));
        }
        if !resources.is_empty() {
            spec.insert("resources".into(), Value::Object(resources));
        }
    }
    if let Some(m) = &a.monitoring {
        let mut monitoring = Map::new();
        if let Some(v) = m.disable_default_queries {
            monitoring.insert("disableDefaultQueries".into(), json!(v));
        }
        if let Some(v) = m.enable_pod_monitor {
            monitoring.insert("enablePodMonitor".into(), json!(v));
        }
        if let Some(v) = m.tls {
            monitoring.insert("tls".into(), json!({"enabled": v}));
        }
        if !monitoring.is_empty() {
            spec.insert("monitoring".into(), Value::Object(monitoring));
        }
    }
    if spec.is_empty() {
        return Err(
            "nothing to change: give parameters, pg_hba, pg_ident, shared_preload_libraries, synchronous, \
                    disable_synchronous, resources or monitoring"
                .into(),
        );
    }
    Ok(json!({"spec": spec}))
}

/// One changed field of the spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Dotted path under `spec`, e.g. `postgresql.parameters.max_connections`.
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

fn flatten(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(v, format!("{path}.{k}"), out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(path, other.clone());
        }
    }
}

/// The watched fields that differ between two versions of a cluster.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let collect = |cluster: &Value| {
        let mut out = BTreeMap::new();
        for pointer in WATCHED {
            if let Some(value) = cluster.pointer(pointer) {
                let path = pointer.trim_start_matches("/spec/").replace('/', ".");
                flatten(value, path, &mut out);
            }
        }
        out
    };
    let (old, new) = (collect(before), collect(after));
    let mut fields: Vec<&String> = old.keys().chain(new.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| old.get(*f) != new.get(*f))
        .map(|f| Change {
            field: f.clone(),
            before: old.get(f).cloned(),
            after: new.get(f).cloned(),
        })
        .collect()
}

/// What applying the change takes.
#[derive(Debug, Default, Serialize)]
pub struct Apply {
    /// Parameters or libraries read only at start: PostgreSQL restarts.
    pub restart_for: Vec<String>,
    /// Pod template changes: the operator recreates the pods one by one.
    pub rollout_for: Vec<String>,
    /// Hot-standby-sensitive parameters lowered: the primary restarts first.
    pub lowered_on_standbys: Vec<String>,
    /// Everything else takes effect with a reload.
    pub reload_only: bool,
}

fn number(value: &Value) -> Option<f64> {
    value
        .as_str()
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| value.as_f64())
}

pub fn apply_needs(changes: &[Change]) -> Apply {
    let mut apply = Apply::default();
    for change in changes {
        if let Some(parameter) = change.field.strip_prefix("postgresql.parameters.") {
            if RESTART_NEEDED.contains(&parameter.to_ascii_lowercase().as_str()) {
                apply.restart_for.push(parameter.to_string());
            }
            if HOT_STANDBY_SENSITIVE.contains(&parameter)
                && let (Some(before), Some(after)) = (
                    change.before.as_ref().and_then(number),
                    change.after.as_ref().and_then(number),
                )
                && after < before
            {
                apply.lowered_on_standbys.push(parameter.to_string());
            }
        } else if change.field.starts_with("postgresql.shared_preload_libraries") {
            if !apply.restart_for.iter().any(|r| r == "shared_preload_libraries") {
                apply.restart_for.push("shared_preload_libraries".into());
            }
        } else if change.field.starts_with("resources.") || change.field.starts_with("monitoring.tls") {
            let top = change.field.split('.').take(2).collect::<Vec<_>>().join(".");
            if !apply.rollout_for.contains(&top) {
                apply.rollout_for.push(top);
            }
        }
    }
    apply.reload_only = !changes.is_empty() && apply.restart_for.is_empty() && apply.rollout_for.is_empty();
    apply
}

fn shown(value: &Option<Value>) -> String {
    match value {
        None => "(unset)".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
    }
}

#[derive(Debug, Serialize)]
struct Answer {
    cluster: String,
    namespace: String,
    dry_run: bool,
    patch: Value,
    changes: Vec<Change>,
    apply: Apply,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<String>,
    notes: Vec<String>,
}

pub fn update(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Update, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        if a.synchronous.is_some() && a.disable_synchronous {
            return Err(failure(
                "`synchronous` and `disable_synchronous` contradict each other. Nothing was changed.",
                "Give one of them.",
            ));
        }
        let cluster = kube::get(&target)?;
        let instances = cluster.pointer("/spec/instances").and_then(Value::as_u64).unwrap_or(1);
        let wal_level = cluster
            .pointer("/spec/postgresql/parameters/wal_level")
            .and_then(Value::as_str);
        let mut refusals: Vec<String> = a
            .parameters
            .iter()
            .flatten()
            .filter_map(|(name, value)| refuse_parameter(name, value.as_deref(), instances, wal_level))
            .collect();
        if let Some(sync) = &a.synchronous
            && let Some(reason) = refuse_synchronous(sync, instances)
        {
            refusals.push(reason);
        }
        if !refusals.is_empty() {
            return Err(failure(
                format!(
                    "Refused before sending anything, as the operator would refuse it; nothing was changed:\n- {}",
                    refusals.join("\n- ")
                ),
                "Change or drop these settings; get_cluster_status shows the current configuration.",
            ));
        }
        let patch = build_patch(&a, &cluster)
            .map_err(|reason| failure(format!("Nothing was sent: {reason}."), "Say what to change."))?;
        let after = kube::merge_patch(&target, &patch, a.dry_run)?;
        let changes = diff(&cluster, &after);
        let apply = apply_needs(&changes);
        let strategy = cluster
            .pointer("/spec/primaryUpdateStrategy")
            .and_then(Value::as_str)
            .unwrap_or("unsupervised");
        let method = cluster
            .pointer("/spec/primaryUpdateMethod")
            .and_then(Value::as_str)
            .unwrap_or("restart");
        let mut notes = Vec::new();
        if changes.is_empty() {
            notes.push("The spec already had these settings: nothing changes.".into());
        }
        if !apply.restart_for.is_empty() {
            notes.push(format!(
                "Needs a PostgreSQL restart ({}): the instances report `pending_restart` (get_replication_status \
                 shows it per instance) and the cluster phase becomes \"Applying configuration\"; {}",
                apply.restart_for.join(", "),
                if strategy == "supervised" {
                    "with primaryUpdateStrategy supervised the operator restarts the replicas, then waits (\"Waiting \
                     for user action\") for a switchover: promote_cluster_instance, or restart_postgres_cluster"
                        .to_string()
                } else {
                    format!(
                        "the operator restarts the replicas one by one, then the primary ({})",
                        if method == "switchover" {
                            "after a switchover"
                        } else {
                            "in place"
                        }
                    )
                }
            ));
        }
        if !apply.lowered_on_standbys.is_empty() {
            notes.push(format!(
                "Lowered {}: a standby needs these at least as high as its primary, so the primary restarts first \
                 ({}).",
                apply.lowered_on_standbys.join(", "),
                if strategy == "supervised" {
                    "supervised: the operator waits for the user"
                } else {
                    "the operator does it"
                }
            ));
        }
        if !apply.rollout_for.is_empty() {
            notes.push(format!(
                "Changes the instances' pods ({}): the operator recreates them one by one, the primary last.",
                apply.rollout_for.join(", ")
            ));
        }
        if apply.reload_only {
            notes.push("Applied by a configuration reload; no restart.".into());
        }
        if changes.iter().any(|c| {
            c.before.is_none()
                && c.field.starts_with("postgresql.parameters.")
                && !a
                    .parameters
                    .iter()
                    .flatten()
                    .any(|(k, _)| c.field.ends_with(&format!(".{k}")))
        }) {
            notes.push("Some parameters appeared that were not asked for: the operator's defaults, written into the spec on admission.".into());
        }
        let phase = cluster.pointer("/status/phase").and_then(Value::as_str).map(|p| {
            match cluster.pointer("/status/phaseReason").and_then(Value::as_str) {
                Some(reason) if !reason.is_empty() => format!("{p} ({reason})"),
                _ => p.to_string(),
            }
        });
        let mut text = format!(
            "{} cluster {ns}/{}: {} field(s) changed.",
            if a.dry_run {
                "Dry run (nothing changed): would update"
            } else {
                "Updated"
            },
            a.name,
            changes.len()
        );
        for change in &changes {
            text.push_str(&format!(
                "\n  {}: {} -> {}",
                change.field,
                shown(&change.before),
                shown(&change.after)
            ));
        }
        for note in &notes {
            text.push_str("\n- ");
            text.push_str(note);
        }
        if let Some(phase) = &phase {
            text.push_str(&format!("\nCluster phase before the change: {phase}."));
        }
        if a.dry_run {
            text.push_str("\nPatch that would be sent:\n");
            text.push_str(&cnpg_mcp_sdk::yaml::yaml_block(&[&patch]));
        }
        let answer = Answer {
            cluster: a.name.clone(),
            namespace: ns,
            dry_run: a.dry_run,
            patch,
            changes,
            apply,
            phase,
            notes,
        };
        Ok(success(&answer, text, Format::Text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_blocked_parameters_are_refused_with_what_to_do() {
        let refused = refuse_parameter("shared_preload_libraries", Some("pg_stat_statements"), 3, None).unwrap();
        assert!(refused.contains("`shared_preload_libraries` argument"), "{refused}");
        let refused = refuse_parameter("synchronous_standby_names", Some("*"), 3, None).unwrap();
        assert!(refused.contains("`synchronous` argument"), "{refused}");
        assert!(
            refuse_parameter("listen_addresses", Some("*"), 3, None)
                .unwrap()
                .contains("blocked")
        );
        assert!(refuse_parameter("max_connections", Some("200"), 3, None).is_none());
        // Removing a fixed key the defaults wrote is harmless.
        assert!(refuse_parameter("archive_mode", None, 3, None).is_none());
        assert!(
            refuse_parameter("bad-name", Some("1"), 3, None)
                .unwrap()
                .contains("not a PostgreSQL parameter")
        );
        assert!(refuse_parameter("pg_stat_statements.max", Some("1000"), 3, None).is_none());
        assert!(refuse_parameter("a.b.c", Some("1"), 3, None).is_some());
    }

    #[test]
    fn the_webhooks_value_rules_are_checked_first() {
        assert!(refuse_parameter("wal_level", Some("archive"), 1, None).is_some());
        assert!(refuse_parameter("wal_level", Some("minimal"), 1, Some("logical")).is_some());
        assert!(refuse_parameter("wal_level", Some("replica"), 1, Some("logical")).is_none());
        assert!(refuse_parameter("wal_log_hints", Some("maybe"), 1, None).is_some());
        assert!(refuse_parameter("wal_log_hints", Some("off"), 3, None).is_some());
        assert!(refuse_parameter("wal_log_hints", Some("off"), 1, None).is_none());
        assert!(refuse_parameter("hot_standby_feedback", Some("on"), 3, None).is_none());
    }

    fn sync(number: u32, pre: usize, durability: Option<DataDurability>, quorum: Option<bool>) -> args::Synchronous {
        args::Synchronous {
            method: SyncMethod::Any,
            number,
            data_durability: durability,
            max_standby_names_from_cluster: None,
            standby_names_pre: vec!["x".into(); pre],
            standby_names_post: vec![],
            failover_quorum: quorum,
        }
    }

    #[test]
    fn synchronous_rules() {
        assert!(refuse_synchronous(&sync(3, 0, None, None), 3).is_some());
        assert!(refuse_synchronous(&sync(2, 0, None, None), 3).is_none());
        assert!(refuse_synchronous(&sync(3, 1, None, None), 3).is_none());
        assert!(refuse_synchronous(&sync(1, 1, Some(DataDurability::Preferred), None), 3).is_some());
        assert!(refuse_synchronous(&sync(1, 1, None, Some(true)), 3).is_some());
        assert!(refuse_synchronous(&sync(2, 1, None, Some(true)), 3).is_none());
    }

    #[test]
    fn diff_lists_changed_fields_and_what_they_need() {
        let before = json!({"spec": {"postgresql": {"parameters": {"max_connections": "200", "work_mem": "4MB"},
                                                     "pg_hba": ["host all all 10.0.0.0/8 scram-sha-256"]},
                                     "resources": {"requests": {"memory": "1Gi"}}}});
        let after = json!({"spec": {"postgresql": {"parameters": {"max_connections": "100", "work_mem": "8MB"},
                                                    "pg_hba": []},
                                    "resources": {"requests": {"memory": "2Gi"}}}});
        let changes = diff(&before, &after);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "postgresql.parameters.max_connections",
                "postgresql.parameters.work_mem",
                "postgresql.pg_hba",
                "resources.requests.memory"
            ]
        );
        let apply = apply_needs(&changes);
        assert_eq!(apply.restart_for, ["max_connections"]);
        assert_eq!(apply.lowered_on_standbys, ["max_connections"]);
        assert_eq!(apply.rollout_for, ["resources.requests"]);
        assert!(!apply.reload_only);
        let only_reload = apply_needs(&changes[1..3]);
        assert!(only_reload.reload_only);
    }
}
