//! Argument structs; the input schemas are derived from them.

use std::collections::BTreeMap;

use cnpg_mcp_sdk::names::{CLUSTER_NAME_PATTERN, PG_NAME_PATTERN, QUANTITY_PATTERN};
use cnpg_mcp_sdk::tool::Format;
use schemars::JsonSchema;
use serde::Deserialize;

pub use cnpg_mcp_sdk::names::NAMESPACE_PATTERN;
/// Backup and ScheduledBackup names: RFC 1123 subdomains.
pub const OBJECT_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// The barman-cloud plugin's name, as it registers with the operator.
pub const BARMAN_CLOUD_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

/// How a backup is taken (`spec.method` of a Backup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Method {
    /// Through a CNPG-I plugin, e.g. barman-cloud (`plugin_name`).
    #[serde(rename = "plugin")]
    Plugin,
    /// Kubernetes VolumeSnapshots of the instance's volumes.
    #[serde(rename = "volumeSnapshot")]
    VolumeSnapshot,
    /// The deprecated in-tree Barman Cloud support (`spec.backup.barmanObjectStore`).
    #[serde(rename = "barmanObjectStore")]
    BarmanObjectStore,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Plugin => "plugin",
            Method::VolumeSnapshot => "volumeSnapshot",
            Method::BarmanObjectStore => "barmanObjectStore",
        }
    }
}

/// Which instance takes the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Target {
    #[serde(rename = "primary")]
    Primary,
    /// The most up-to-date standby, else the primary.
    #[serde(rename = "prefer-standby")]
    PreferStandby,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Primary => "primary",
            Target::PreferStandby => "prefer-standby",
        }
    }
}

/// What owns the Backups a schedule creates (`backupOwnerReference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupOwner {
    /// Nothing: Backups outlive the schedule and the cluster.
    None,
    /// The ScheduledBackup: deleting it deletes its Backup objects.
    #[serde(rename = "self")]
    Schedule,
    /// The Cluster: deleting the cluster deletes the Backup objects.
    Cluster,
}

impl BackupOwner {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupOwner::None => "none",
            BackupOwner::Schedule => "self",
            BackupOwner::Cluster => "cluster",
        }
    }
}

/// The settings every backup request shares (Backup and ScheduledBackup).
#[derive(Debug, Default)]
pub struct BackupSettings {
    /// `plugin`, `volumeSnapshot` or `barmanObjectStore` (deprecated). Default: what the cluster has configured — its WAL-archiving plugin, else the in-tree object store, else volume snapshots.
    pub method: Option<Method>,
    /// Plugin for `method: plugin`. Default: the cluster's WAL-archiving plugin (`barman-cloud.cloudnative-pg.io` for barman-cloud).
    pub plugin_name: Option<String>,
    /// Parameters passed to the plugin (`pluginConfiguration.parameters`), string to string.
    pub plugin_parameters: Option<BTreeMap<String, String>>,
    /// `primary` or `prefer-standby`. Default: the cluster's `spec.backup.target` (the operator's default is `prefer-standby`).
    pub target: Option<Target>,
    /// Volume snapshots only: hot (`true`) or cold (`false`, the instance is fenced while it is snapshotted). Default: the cluster's `spec.backup.volumeSnapshot.online` (true).
    pub online: Option<bool>,
    /// Online volume snapshots: request an immediate checkpoint instead of a spread one.
    pub immediate_checkpoint: Option<bool>,
    /// Online volume snapshots: wait until the WAL needed for consistency is archived.
    pub wait_for_archive: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBackup {
    /// Cluster to back up.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Name of the Backup object. Default: `<cluster>-<UTC time as YYYYMMDDhhmmss>`, as `kubectl cnpg backup` names it.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: Option<String>,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// `plugin`, `volumeSnapshot` or `barmanObjectStore` (deprecated). Default: what the cluster has configured — its WAL-archiving plugin, else the in-tree object store, else volume snapshots.
    pub method: Option<Method>,
    /// Plugin for `method: plugin`. Default: the cluster's WAL-archiving plugin (`barman-cloud.cloudnative-pg.io` for barman-cloud).
    #[schemars(length(min = 1, max = 253))]
    pub plugin_name: Option<String>,
    /// Parameters passed to the plugin (`pluginConfiguration.parameters`), string to string.
    pub plugin_parameters: Option<BTreeMap<String, String>>,
    /// `primary` or `prefer-standby`. Default: the cluster's `spec.backup.target` (the operator's default is `prefer-standby`).
    pub target: Option<Target>,
    /// Volume snapshots only: hot (`true`) or cold (`false`, the instance is fenced while it is snapshotted). Default: the cluster's `spec.backup.volumeSnapshot.online` (true).
    pub online: Option<bool>,
    /// Online volume snapshots: request an immediate checkpoint instead of a spread one.
    pub immediate_checkpoint: Option<bool>,
    /// Online volume snapshots: wait until the WAL needed for consistency is archived.
    pub wait_for_archive: Option<bool>,
    /// Follow the backup until it completes or fails (watch, with progress notifications). Default false.
    #[serde(default)]
    pub wait: bool,
    /// Seconds `wait` waits at most (default 600, bounded by the call's deadline).
    #[schemars(range(min = 1, max = 3600))]
    pub timeout: Option<u32>,
    /// Validate server-side (including the operator's webhook) and show the manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBackups {
    /// Only this cluster's backups. Default: every backup of the namespace.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: Option<String>,
    /// Namespace to list. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// At most this many backups, newest first (default 50).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetBackup {
    /// Name of the Backup object.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the backup. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBackup {
    /// Name of the Backup object.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the backup. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Must be true to delete.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Validate server-side; nothing is deleted.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitBackup {
    /// Name of the Backup object.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the backup. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Seconds to wait at most (default 600, bounded by the call's deadline).
    #[schemars(range(min = 1, max = 3600))]
    pub timeout: Option<u32>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScheduledBackup {
    /// Cluster to back up.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Name of the ScheduledBackup. Default: `<cluster>-scheduled`.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: Option<String>,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Six fields with seconds first: `second minute hour day-of-month month day-of-week` (e.g. `0 0 2 * * *` = daily at 02:00:00 UTC), or `@daily`, `@hourly`, `@every 6h`. Five fields are refused: the operator would read them seconds first.
    #[schemars(length(min = 1, max = 200))]
    pub schedule: String,
    /// Take the first backup right away. Default false.
    #[serde(default)]
    pub immediate: bool,
    /// Create it suspended (no backups until resumed). Default false.
    #[serde(default)]
    pub suspend: bool,
    /// What owns the Backups it creates: `none` (default; they are kept), `self` (deleted with the schedule) or `cluster` (deleted with the cluster).
    pub backup_owner_reference: Option<BackupOwner>,
    /// `plugin`, `volumeSnapshot` or `barmanObjectStore` (deprecated). Default: what the cluster has configured — its WAL-archiving plugin, else the in-tree object store, else volume snapshots.
    pub method: Option<Method>,
    /// Plugin for `method: plugin`. Default: the cluster's WAL-archiving plugin (`barman-cloud.cloudnative-pg.io` for barman-cloud).
    #[schemars(length(min = 1, max = 253))]
    pub plugin_name: Option<String>,
    /// Parameters passed to the plugin (`pluginConfiguration.parameters`), string to string.
    pub plugin_parameters: Option<BTreeMap<String, String>>,
    /// `primary` or `prefer-standby`. Default: the cluster's `spec.backup.target` (the operator's default is `prefer-standby`).
    pub target: Option<Target>,
    /// Volume snapshots only: hot (`true`) or cold (`false`, the instance is fenced while it is snapshotted). Default: the cluster's `spec.backup.volumeSnapshot.online` (true).
    pub online: Option<bool>,
    /// Online volume snapshots: request an immediate checkpoint instead of a spread one.
    pub immediate_checkpoint: Option<bool>,
    /// Online volume snapshots: wait until the WAL needed for consistency is archived.
    pub wait_for_archive: Option<bool>,
    /// Validate server-side (including the operator's webhook) and show the manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListScheduledBackups {
    /// Only this cluster's schedules. Default: every schedule of the namespace.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: Option<String>,
    /// Namespace to list. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScheduledBackup {
    /// Name of the ScheduledBackup.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the schedule. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// New schedule (six fields, seconds first, or a descriptor; see create_scheduled_backup).
    #[schemars(length(min = 1, max = 200))]
    pub schedule: Option<String>,
    /// `true` suspends the schedule, `false` resumes it.
    pub suspend: Option<bool>,
    /// New owner of the Backups it creates from now on.
    pub backup_owner_reference: Option<BackupOwner>,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteScheduledBackup {
    /// Name of the ScheduledBackup.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the schedule. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Must be true to delete.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Validate server-side; nothing is deleted.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCluster {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

/// Volume snapshot settings of a cluster (`spec.backup.volumeSnapshot`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeSnapshotSettings {
    /// VolumeSnapshotClass for the data (and tablespace) volumes.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub class_name: Option<String>,
    /// VolumeSnapshotClass for the WAL volume. Default: `class_name`.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub wal_class_name: Option<String>,
    /// Hot snapshots by default (`true`, the operator's default) or cold ones.
    pub online: Option<bool>,
    /// Online snapshots: immediate checkpoint.
    pub immediate_checkpoint: Option<bool>,
    /// Online snapshots: wait for the WAL archive.
    pub wait_for_archive: Option<bool>,
    /// What owns the VolumeSnapshots: `none` (default), `backup` or `cluster`.
    pub snapshot_owner_reference: Option<SnapshotOwner>,
    /// Labels added to every VolumeSnapshot.
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations added to every VolumeSnapshot.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What owns the VolumeSnapshots of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotOwner {
    None,
    Backup,
    Cluster,
}

/// The barman-cloud plugin entry of a cluster (`spec.plugins`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BarmanCloudPlugin {
    /// The ObjectStore (`barmancloud.cnpg.io`) holding the backups and WAL (`barmanObjectName`).
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub object_store: String,
    /// Folder of this cluster in the store (`serverName`). Default: the cluster's name.
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
    /// The plugin archives the cluster's WAL (continuous archiving, needed for point-in-time recovery). Default true.
    pub is_wal_archiver: Option<bool>,
    /// Enabled. Default true.
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureBackup {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Volume snapshot settings to set (merged into `spec.backup.volumeSnapshot`).
    pub volume_snapshot: Option<VolumeSnapshotSettings>,
    /// Remove `spec.backup.volumeSnapshot`.
    #[serde(default)]
    pub remove_volume_snapshot: bool,
    /// Retention of the in-tree object store, e.g. `30d`, `4w`, `12m` (`spec.backup.retentionPolicy`). The plugin keeps its own in its ObjectStore.
    #[schemars(regex(pattern = "^[1-9][0-9]*[dwm]$"))]
    pub retention_policy: Option<String>,
    /// Default backup target of the cluster: `primary` or `prefer-standby`.
    pub target: Option<Target>,
    /// Add or update the barman-cloud plugin entry in `spec.plugins`.
    pub barman_cloud_plugin: Option<BarmanCloudPlugin>,
    /// Remove the barman-cloud plugin entry from `spec.plugins`.
    #[serde(default)]
    pub remove_barman_cloud_plugin: bool,
    /// DEPRECATED in-tree Barman Cloud configuration (`spec.backup.barmanObjectStore`, replaced by the barman-cloud plugin): an object merged into it as given (`destinationPath`, `endpointURL`, credentials, `wal`, `data`, ...).
    pub barman_object_store: Option<serde_json::Map<String, serde_json::Value>>,
    /// Remove the deprecated `spec.backup.barmanObjectStore`.
    #[serde(default)]
    pub remove_barman_object_store: bool,
    /// Validate server-side (including the operator's webhook) and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

/// Where a restored cluster's data comes from: exactly one.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverySource {
    /// A Backup object in the same namespace (any method; completed).
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub backup: Option<String>,
    /// VolumeSnapshots to provision the new volumes from: the data volume's snapshot, and the WAL volume's if the source had one.
    pub volume_snapshots: Option<SnapshotSource>,
    /// An object store the barman-cloud plugin reads: the source cluster's backups and WAL (no Backup object needed, e.g. from another Kubernetes cluster).
    pub object_store: Option<ObjectStoreSource>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSource {
    /// VolumeSnapshot of the data volume.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub storage: String,
    /// VolumeSnapshot of the WAL volume.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub wal_storage: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreSource {
    /// The ObjectStore (`barmancloud.cnpg.io`) of the source.
    #[schemars(regex(pattern = OBJECT_NAME_PATTERN), length(min = 1, max = 253))]
    pub object_store: String,
    /// The source cluster's folder in the store (`serverName`): normally the source cluster's name.
    #[schemars(length(min = 1, max = 253))]
    pub server_name: String,
    /// Name of the external cluster entry in the new cluster. Default: `origin`.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 63))]
    pub source_name: Option<String>,
}

/// Point-in-time target (`bootstrap.recovery.recoveryTarget`): at most one of time, LSN, XID, name, immediate.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryTarget {
    /// Recover up to this time, RFC 3339 (`2026-12-05T14:05:00Z`).
    #[schemars(regex(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    ))]
    pub target_time: Option<String>,
    /// Recover up to this WAL location (`0/3000060`).
    #[schemars(regex(pattern = "^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"))]
    pub target_lsn: Option<String>,
    /// Recover up to this transaction id.
    #[schemars(regex(pattern = "^[0-9]+$"), length(max = 20))]
    pub target_xid: Option<String>,
    /// Recover up to this restore point (created with `pg_create_restore_point`).
    #[schemars(length(min = 1, max = 63))]
    pub target_name: Option<String>,
    /// Stop as soon as the backup is consistent.
    #[serde(default)]
    pub target_immediate: bool,
    /// Stop just before the target instead of just after it.
    pub exclusive: Option<bool>,
    /// Timeline to recover: `latest` or a timeline number.
    #[schemars(regex(pattern = "^(latest|[1-9][0-9]*)$"))]
    pub target_tli: Option<String>,
    /// Backup to start from (barman backup id) when recovering from an object store.
    #[schemars(length(min = 1, max = 253))]
    pub backup_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreCluster {
    /// Name of the NEW cluster (it must not exist; the source is never touched).
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the new cluster (and of the Backup or snapshots). Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Where the data comes from.
    pub source: RecoverySource,
    /// Point-in-time target. Default: the end of the available WAL (or the backup's end without WAL).
    #[serde(default)]
    pub recovery_target: RecoveryTarget,
    /// Instances of the new cluster. Default 1.
    #[schemars(range(min = 1, max = 10))]
    pub instances: Option<u32>,
    /// Data volume size. Default: the source cluster's, else 10Gi.
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub storage_size: Option<String>,
    /// Image of the new cluster: it must run the backup's PostgreSQL major version. Default: the source cluster's image.
    #[schemars(length(min = 1, max = 500))]
    pub container_image: Option<String>,
    /// Application database to own after recovery (`bootstrap.recovery.database`).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub database: Option<String>,
    /// Its owner (`bootstrap.recovery.owner`).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub owner: Option<String>,
    /// Validate server-side (including the operator's webhook) and show the complete manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

/// The argument structs that carry backup settings.
macro_rules! settings_of {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn settings(&self) -> BackupSettings {
                BackupSettings {
                    method: self.method,
                    plugin_name: self.plugin_name.clone(),
                    plugin_parameters: self.plugin_parameters.clone(),
                    target: self.target,
                    online: self.online,
                    immediate_checkpoint: self.immediate_checkpoint,
                    wait_for_archive: self.wait_for_archive,
                }
            }
        }
    )*};
}
settings_of!(CreateBackup, CreateScheduledBackup);
