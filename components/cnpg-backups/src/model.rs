//! What the tools read from Backup, ScheduledBackup and Cluster objects,
//! in the shapes their output schemas promise. Field names and phases are
//! CloudNativePG's (`api/v1/backup_types.go`, `scheduledbackup_types.go`,
//! `cluster_types.go` of the operator, v1.30.0).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use cnpg_mcp_sdk::kube;
use cnpg_mcp_sdk::time::{format_seconds, parse_rfc3339};

/// Label the operator puts on the Backups a schedule creates, naming it
/// (`ParentScheduledBackupLabelName`, `pkg/utils/labels_annotations.go`).
pub const SCHEDULE_LABEL: &str = "cnpg.io/scheduled-backup";
/// Label naming a Backup's cluster (`ClusterLabelName`), set on the
/// Backups a schedule creates.
pub const CLUSTER_LABEL: &str = "cnpg.io/cluster";

/// Backup phases after which nothing more happens (`IsDone()`:
/// `completed` and `failed`), plus the two the operator leaves a backup in
/// when it cannot go on: `walArchivingFailing` and `invalid backup definition`.
pub const FINAL_PHASES: &[&str] = &[
    "completed",
    "failed",
    "walArchivingFailing",
    "invalid backup definition",
];

pub fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Unix seconds of an RFC 3339 field.
pub fn seconds(value: &Value, pointer: &str) -> Option<i64> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map(|(s, _)| s)
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SnapshotElement {
    /// VolumeSnapshot name.
    pub name: String,
    /// `PG_DATA`, `PG_WAL` or `PG_TABLESPACE`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tablespace: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BackupInfo {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    /// `pending`, `started`, `running`, `finalizing`, `completed`, `failed`, `walArchivingFailing`, `invalid backup definition`; none until the operator picks it up.
    pub phase: Option<String>,
    /// `plugin`, `volumeSnapshot` or `barmanObjectStore`.
    pub method: String,
    /// Plugin that took it (`method: plugin`).
    pub plugin: Option<String>,
    pub target: Option<String>,
    pub online: Option<bool>,
    pub created: Option<String>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    /// Seconds from start to stop.
    pub duration_seconds: Option<i64>,
    pub begin_wal: Option<String>,
    pub end_wal: Option<String>,
    pub begin_lsn: Option<String>,
    pub end_lsn: Option<String>,
    /// Barman backup id (object store backups).
    pub backup_id: Option<String>,
    pub server_name: Option<String>,
    pub destination_path: Option<String>,
    /// PostgreSQL major version it was taken from.
    pub major_version: Option<i64>,
    /// Pod the backup ran on.
    pub instance: Option<String>,
    pub snapshots: Vec<SnapshotElement>,
    pub error: Option<String>,
    /// ScheduledBackup that created it.
    pub scheduled_by: Option<String>,
    /// Kinds owning the object (deleted with them): `Cluster`, `ScheduledBackup`.
    pub owned_by: Vec<String>,
    /// What the phase means and what to do next.
    pub summary: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BackupList {
    pub namespace: String,
    pub cluster: Option<String>,
    /// Newest first.
    pub backups: Vec<BackupInfo>,
    /// Backups left out by `limit`.
    pub omitted: usize,
}

pub fn backup_method(backup: &Value) -> String {
    text(backup, "/status/method")
        .or_else(|| text(backup, "/spec/method"))
        // The CRD's default (`+kubebuilder:default:=barmanObjectStore`).
        .unwrap_or_else(|| "barmanObjectStore".into())
}

fn phase_summary(phase: Option<&str>, error: Option<&str>) -> String {
    match phase {
        None => "Not picked up by the operator yet (no status).".into(),
        Some("pending") => "Pending: waiting for the operator to start it (an instance to run it on, or another \
                            backup of the cluster to finish)."
            .into(),
        Some("started" | "running") => "Running.".into(),
        Some("finalizing") => "Finalizing: the data is copied, the backup is being closed.".into(),
        Some("completed") => "Completed.".into(),
        Some("failed") => format!(
            "Failed: {}. Check the cluster's backup configuration (get_backup_configuration) and retry with a new backup.",
            error.unwrap_or("no error recorded")
        ),
        Some("walArchivingFailing") => format!(
            "WAL archiving is failing, so the backup cannot complete: {}. Fix archiving first \
             (get_backup_configuration shows the ContinuousArchiving condition).",
            error.unwrap_or("no error recorded")
        ),
        Some("invalid backup definition") => format!(
            "The operator refused the backup definition: {}.",
            error.unwrap_or("no error recorded")
        ),
        Some(other) => format!("Phase `{other}`."),
    }
}

pub fn backup_info(backup: &Value) -> BackupInfo {
    let phase = text(backup, "/status/phase");
    let error = text(backup, "/status/error");
    let started = seconds(backup, "/status/startedAt");
    let stopped = seconds(backup, "/status/stoppedAt");
    let snapshots = backup
        .pointer("/status/snapshotBackupStatus/elements")
        .and_then(Value::as_array)
        .map(|elements| {
            elements
                .iter()
                .map(|e| SnapshotElement {
                    name: text(e, "/name").unwrap_or_default(),
                    kind: text(e, "/type").unwrap_or_default(),
                    tablespace: text(e, "/tablespaceName"),
                })
                .collect()
        })
        .unwrap_or_default();
    let owned_by = backup
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|owners| owners.iter().filter_map(|o| text(o, "/kind")).collect())
        .unwrap_or_default();
    BackupInfo {
        name: kube::name_of(backup).to_string(),
        namespace: kube::meta(backup, "namespace").unwrap_or_default().to_string(),
        cluster: text(backup, "/spec/cluster/name").unwrap_or_default(),
        summary: phase_summary(phase.as_deref(), error.as_deref()),
        phase,
        method: backup_method(backup),
        plugin: text(backup, "/spec/pluginConfiguration/name"),
        target: text(backup, "/spec/target"),
        online: backup
            .pointer("/status/online")
            .or_else(|| backup.pointer("/spec/online"))
            .and_then(Value::as_bool),
        created: kube::meta(backup, "creationTimestamp").map(str::to_string),
        started_at: text(backup, "/status/startedAt"),
        stopped_at: text(backup, "/status/stoppedAt"),
        duration_seconds: started.zip(stopped).map(|(a, b)| b - a),
        begin_wal: text(backup, "/status/beginWal"),
        end_wal: text(backup, "/status/endWal"),
        begin_lsn: text(backup, "/status/beginLSN"),
        end_lsn: text(backup, "/status/endLSN"),
        backup_id: text(backup, "/status/backupId"),
        server_name: text(backup, "/status/serverName"),
        destination_path: text(backup, "/status/destinationPath"),
        major_version: backup.pointer("/status/majorVersion").and_then(Value::as_i64),
        instance: text(backup, "/status/instanceID/podName"),
        snapshots,
        error,
        scheduled_by: kube::label(backup, SCHEDULE_LABEL).map(str::to_string),
        owned_by,
    }
}

/// Sort key: when the backup started, else when the object was created.
pub fn backup_time(backup: &Value) -> i64 {
    seconds(backup, "/status/startedAt")
        .or_else(|| seconds(backup, "/metadata/creationTimestamp"))
        .unwrap_or(0)
}

/// One line per backup for text answers.
pub fn backup_line(b: &BackupInfo) -> String {
    let mut line = format!(
        "{} ({}, cluster {}): {}",
        b.name,
        b.method,
        b.cluster,
        b.phase.as_deref().unwrap_or("no status yet")
    );
    if let Some(started) = &b.started_at {
        line.push_str(&format!(", started {started}"));
    }
    if let Some(stopped) = &b.stopped_at {
        line.push_str(&format!(", stopped {stopped}"));
    }
    if let (Some(begin), Some(end)) = (&b.begin_wal, &b.end_wal) {
        line.push_str(&format!(", WAL {begin}..{end}"));
    }
    if let Some(pod) = &b.instance {
        line.push_str(&format!(", on {pod}"));
    }
    if let Some(error) = &b.error {
        line.push_str(&format!(", error: {error}"));
    }
    line
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ScheduleInfo {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    pub schedule: String,
    pub suspended: bool,
    pub immediate: bool,
    pub method: String,
    pub plugin: Option<String>,
    pub target: Option<String>,
    /// `none`, `self` or `cluster`.
    pub backup_owner_reference: String,
    pub last_check_time: Option<String>,
    pub last_schedule_time: Option<String>,
    pub next_schedule_time: Option<String>,
    /// The next three runs computed from the schedule (UTC), when it parses.
    pub upcoming_runs: Vec<String>,
    /// Why the schedule is suspicious, if it is (five fields, never fires).
    pub schedule_warning: Option<String>,
    pub error: Option<String>,
    /// Backups it created (label `cnpg.io/scheduled-backup`), newest first.
    pub backups: Vec<String>,
    pub last_backup_phase: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ScheduleList {
    pub namespace: String,
    pub cluster: Option<String>,
    pub schedules: Vec<ScheduleInfo>,
}

/// The next runs of `schedule` after now and a warning where the operator
/// would read it unlike a crontab line, or never run it.
pub fn schedule_preview(schedule: &str, now: i64) -> Result<(Vec<String>, Option<String>), String> {
    let parsed = cnpg_mcp_sdk::cron::parse(schedule).map_err(|e| e.0)?;
    let runs: Vec<String> = parsed.upcoming(now, 3).into_iter().map(format_seconds).collect();
    let warning = if parsed.five_fields() {
        Some(
            "five fields: the operator reads them as `second minute hour day-of-month month`, not as a crontab line"
                .into(),
        )
    } else if runs.is_empty() {
        Some("it never fires within five years, so the operator never runs it".into())
    } else {
        None
    };
    Ok((runs, warning))
}

pub fn schedule_info(item: &Value, backups: &[Value], now: i64) -> ScheduleInfo {
    let schedule = text(item, "/spec/schedule").unwrap_or_default();
    let (upcoming_runs, schedule_warning) = match schedule_preview(&schedule, now) {
        Ok(preview) => preview,
        Err(error) => (vec![], Some(format!("does not parse: {error}"))),
    };
    let name = kube::name_of(item).to_string();
    let mut mine: Vec<&Value> = backups
        .iter()
        .filter(|b| kube::label(b, SCHEDULE_LABEL) == Some(name.as_str()))
        .collect();
    mine.sort_by_key(|b| std::cmp::Reverse(backup_time(b)));
    ScheduleInfo {
        namespace: kube::meta(item, "namespace").unwrap_or_default().to_string(),
        cluster: text(item, "/spec/cluster/name").unwrap_or_default(),
        schedule,
        suspended: item.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false),
        immediate: item
            .pointer("/spec/immediate")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        method: text(item, "/spec/method").unwrap_or_else(|| "barmanObjectStore".into()),
        plugin: text(item, "/spec/pluginConfiguration/name"),
        target: text(item, "/spec/target"),
        backup_owner_reference: text(item, "/spec/backupOwnerReference").unwrap_or_else(|| "none".into()),
        last_check_time: text(item, "/status/lastCheckTime"),
        last_schedule_time: text(item, "/status/lastScheduleTime"),
        next_schedule_time: text(item, "/status/nextScheduleTime"),
        upcoming_runs,
        schedule_warning,
        error: text(item, "/status/error"),
        last_backup_phase: mine.first().and_then(|b| text(b, "/status/phase")),
        backups: mine.iter().map(|b| kube::name_of(b).to_string()).collect(),
        name,
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PluginEntry {
    pub name: String,
    pub enabled: bool,
    pub is_wal_archiver: bool,
    pub parameters: Value,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ArchivingState {
    /// `ContinuousArchiving` condition status: "True", "False", or none (no archiving configured or not reported yet).
    pub status: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BackupConfiguration {
    pub cluster: String,
    pub namespace: String,
    /// Methods this cluster is configured for, in the order create_backup picks its default.
    pub methods_available: Vec<String>,
    /// The default method of create_backup for this cluster, if any.
    pub default_method: Option<String>,
    /// `spec.backup.target` (the operator defaults it to `prefer-standby`).
    pub target: Option<String>,
    /// `spec.backup.retentionPolicy` (in-tree object store only).
    pub retention_policy: Option<String>,
    /// `spec.backup.volumeSnapshot` as set.
    pub volume_snapshot: Option<Value>,
    /// `spec.plugins`.
    pub plugins: Vec<PluginEntry>,
    /// The WAL-archiving plugin, if one is enabled.
    pub wal_archiver: Option<String>,
    /// `spec.backup.barmanObjectStore` with credentials references only (DEPRECATED in-tree support).
    pub barman_object_store: Option<Value>,
    pub barman_object_store_deprecated: bool,
    pub continuous_archiving: ArchivingState,
    /// The primary's own report of WAL archiving (its instance manager's
    /// status endpoint).
    pub wal_archive: WalArchive,
    pub notes: Vec<String>,
}

/// WAL archiving as the primary's instance manager reports it
/// (`PostgresqlStatus`: `lastArchivedWAL`, `lastFailedWAL`, ...).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct WalArchive {
    /// The instance asked: the current primary.
    pub instance: Option<String>,
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<String>,
    pub last_failed_wal: Option<String>,
    pub last_failed_time: Option<String>,
    /// WAL files waiting to be archived.
    pub ready_wal_files: Option<u64>,
    /// The WAL file being written.
    pub current_wal: Option<String>,
    /// Why it could not be read, when it could not.
    pub unavailable: Option<String>,
}

impl WalArchive {
    /// From an instance manager's `/pg/status` document.
    pub fn from_status(instance: &str, status: &Value) -> Self {
        let field = |key: &str| {
            status
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        WalArchive {
            instance: Some(instance.to_string()),
            last_archived_wal: field("lastArchivedWAL"),
            last_archived_time: field("lastArchivedWALTime"),
            last_failed_wal: field("lastFailedWAL"),
            last_failed_time: field("lastFailedWALTime"),
            ready_wal_files: status.get("readyWalFiles").and_then(Value::as_u64),
            current_wal: field("currentWAL"),
            unavailable: None,
        }
    }
}

/// `spec.plugins` of a cluster.
pub fn plugins(cluster: &Value) -> Vec<PluginEntry> {
    cluster
        .pointer("/spec/plugins")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|p| PluginEntry {
                    name: text(p, "/name").unwrap_or_default(),
                    enabled: p.get("enabled").and_then(Value::as_bool).unwrap_or(true),
                    is_wal_archiver: p.get("isWALArchiver").and_then(Value::as_bool).unwrap_or(false),
                    parameters: p.get("parameters").cloned().unwrap_or(Value::Null),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The enabled WAL-archiving plugin of a cluster.
pub fn wal_archiver(cluster: &Value) -> Option<PluginEntry> {
    plugins(cluster).into_iter().find(|p| p.enabled && p.is_wal_archiver)
}

/// Backup methods a cluster is configured for, in create_backup's order of
/// preference: the WAL-archiving plugin, the in-tree object store, volume
/// snapshots.
pub fn methods_available(cluster: &Value) -> Vec<String> {
    let mut methods = Vec::new();
    if wal_archiver(cluster).is_some() || plugins(cluster).iter().any(|p| p.enabled) {
        methods.push("plugin".to_string());
    }
    if cluster
        .pointer("/spec/backup/barmanObjectStore")
        .is_some_and(|v| !v.is_null())
    {
        methods.push("barmanObjectStore".to_string());
    }
    if cluster
        .pointer("/spec/backup/volumeSnapshot")
        .is_some_and(|v| !v.is_null())
    {
        methods.push("volumeSnapshot".to_string());
    }
    methods
}

pub fn archiving(cluster: &Value) -> ArchivingState {
    let condition = cluster
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("ContinuousArchiving"))
        });
    ArchivingState {
        status: condition.and_then(|c| text(c, "/status")),
        reason: condition.and_then(|c| text(c, "/reason")),
        message: condition.and_then(|c| text(c, "/message")),
        last_transition: condition.and_then(|c| text(c, "/lastTransitionTime")),
    }
}

/// Replaces every credential value below `value` with a marker; keeps the
/// references (Secret names and keys).
pub fn without_inline_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let secret_literal = v.is_string()
                        && (lower.contains("secret") || lower.contains("password") || lower.contains("token"))
                        && k != "name"
                        && k != "key";
                    let v = if secret_literal {
                        Value::String("<redacted>".into())
                    } else {
                        without_inline_secrets(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_inline_secrets).collect()),
        other => other.clone(),
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MethodPoint {
    pub method: String,
    pub first_recoverability_point: Option<String>,
    pub last_successful_backup: Option<String>,
    /// Completed Backup objects of this method.
    pub completed_backups: usize,
    /// The oldest completed backup's end (`stoppedAt`): the earliest point its backups can restore to.
    pub oldest_completed_backup_end: Option<String>,
    pub newest_completed_backup_end: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RecoveryWindow {
    pub cluster: String,
    pub namespace: String,
    /// Earliest point any configured method can restore to: the cluster's `status.firstRecoverabilityPoint` (in-tree object store and volume snapshots), else the ObjectStore's report (plugin), else the oldest completed backup's end.
    pub first_recoverability_point: Option<String>,
    /// Where `first_recoverability_point` comes from.
    pub first_recoverability_source: Option<String>,
    /// The latest point: "now" while WAL archiving works (continuous archiving), else the newest completed backup's end.
    pub latest_recoverability_point: Option<String>,
    pub per_method: Vec<MethodPoint>,
    pub last_successful_backup: Option<String>,
    pub last_failed_backup: Option<String>,
    /// Newest failed Backup object, with its error.
    pub last_failed_backup_object: Option<String>,
    pub continuous_archiving: ArchivingState,
    /// Completed backups, newest first (name, method, stop time).
    pub completed_backups: Vec<BackupInfo>,
    /// The plugin's ObjectStore report, when it could be read.
    pub object_store: Option<Value>,
    pub notes: Vec<String>,
}
