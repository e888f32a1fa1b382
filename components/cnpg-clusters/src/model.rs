//! What the tools report about a Cluster, read from its JSON. Pure
//! functions: no host calls.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use cnpg_mcp_sdk::kube::{meta, name_of};
use cnpg_mcp_sdk::names::quantity_bytes;

/// CloudNativePG's phase of a healthy cluster.
pub const PHASE_HEALTHY: &str = "Cluster in healthy state";
/// The phase `kubectl cnpg promote` sets.
pub const PHASE_SWITCHOVER: &str = "Switchover in progress";

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(str::to_string)
}

fn int(value: &Value, pointer: &str) -> Option<i64> {
    value.pointer(pointer).and_then(Value::as_i64)
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub fn conditions(object: &Value) -> Vec<Condition> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|c| Condition {
                    kind: text(c, "/type").unwrap_or_default(),
                    status: text(c, "/status").unwrap_or_default(),
                    reason: text(c, "/reason"),
                    message: text(c, "/message"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One line of `list_postgres_clusters`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClusterSummary {
    pub name: String,
    pub namespace: String,
    /// CloudNativePG phase, e.g. "Cluster in healthy state".
    pub phase: Option<String>,
    /// Instances wanted (`spec.instances`).
    pub instances: i64,
    /// Instances ready (`status.readyInstances`).
    pub ready_instances: i64,
    pub current_primary: Option<String>,
    /// Image running (`status.image`), else the one asked for.
    pub image: Option<String>,
    pub storage_size: Option<String>,
    pub storage_class: Option<String>,
    /// Conditions (with `detail_level: detailed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

fn image(cluster: &Value) -> Option<String> {
    text(cluster, "/status/image")
        .or_else(|| text(cluster, "/spec/imageName"))
        .or_else(|| {
            cluster.pointer("/spec/imageCatalogRef").map(|r| {
                format!(
                    "{} {} (major {})",
                    text(r, "/kind").unwrap_or_default(),
                    text(r, "/name").unwrap_or_default(),
                    int(r, "/major").unwrap_or_default()
                )
            })
        })
}

pub fn summary(cluster: &Value, detailed: bool) -> ClusterSummary {
    ClusterSummary {
        name: name_of(cluster).to_string(),
        namespace: meta(cluster, "namespace").unwrap_or_default().to_string(),
        phase: text(cluster, "/status/phase"),
        instances: int(cluster, "/spec/instances").unwrap_or(1),
        ready_instances: int(cluster, "/status/readyInstances").unwrap_or(0),
        current_primary: text(cluster, "/status/currentPrimary"),
        image: image(cluster),
        storage_size: text(cluster, "/spec/storage/size"),
        storage_class: text(cluster, "/spec/storage/storageClass"),
        conditions: detailed.then(|| conditions(cluster)),
        phase_reason: if detailed {
            text(cluster, "/status/phaseReason")
        } else {
            None
        },
        created: if detailed {
            meta(cluster, "creationTimestamp").map(str::to_string)
        } else {
            None
        },
    }
}

/// One instance as the Cluster status reports it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Instance {
    pub name: String,
    /// "primary" or "replica".
    pub role: String,
    /// The `status.instancesStatus` group it is in ("healthy", "failed", ...), if any.
    pub health: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<i64>,
}

/// `status.instancesStatus`: status -> instance names.
pub fn health_groups(cluster: &Value) -> BTreeMap<String, Vec<String>> {
    let mut groups = BTreeMap::new();
    if let Some(map) = cluster.pointer("/status/instancesStatus").and_then(Value::as_object) {
        for (status, names) in map {
            let names = names
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            groups.insert(status.clone(), names);
        }
    }
    groups
}

pub fn primary(cluster: &Value) -> Option<String> {
    text(cluster, "/status/currentPrimary")
}

pub fn healthy(cluster: &Value) -> Vec<String> {
    health_groups(cluster).remove("healthy").unwrap_or_default()
}

pub fn instances(cluster: &Value) -> Vec<Instance> {
    let groups = health_groups(cluster);
    let primary = primary(cluster);
    let mut names: Vec<String> = cluster
        .pointer("/status/instanceNames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    for group in groups.values() {
        for name in group {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|name| Instance {
            role: if primary.as_deref() == Some(name.as_str()) {
                "primary"
            } else {
                "replica"
            }
            .into(),
            health: groups
                .iter()
                .find(|(_, members)| members.contains(&name))
                .map(|(status, _)| status.clone()),
            timeline: cluster
                .pointer(&format!("/status/instancesReportedState/{name}/timeLineID"))
                .and_then(Value::as_i64),
            name,
        })
        .collect()
}

/// Everything `get_cluster_status` reports.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClusterStatus {
    #[serde(flatten)]
    pub summary: ClusterSummary,
    pub target_primary: Option<String>,
    pub current_primary_timestamp: Option<String>,
    pub target_primary_timestamp: Option<String>,
    pub instance_list: Vec<Instance>,
    pub wal_storage_size: Option<String>,
    pub timeline: Option<i64>,
    pub write_service: Option<String>,
    pub read_service: Option<String>,
    /// Certificate expirations by Secret name.
    pub certificate_expirations: BTreeMap<String, String>,
    pub backups: BackupStatus,
    /// Managed roles (`spec.managed.roles`) by reconciliation state.
    pub managed_roles: BTreeMap<String, Vec<String>>,
    /// PVCs that are resizing, dangling, unusable or initializing.
    pub pvc_issues: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BackupStatus {
    /// Whether the cluster has backups configured (`spec.backup` or plugins).
    pub configured: bool,
    /// `ContinuousArchiving` condition: "True", "False" or none.
    pub continuous_archiving: Option<String>,
    pub continuous_archiving_message: Option<String>,
    pub last_successful_backup: Option<String>,
    pub last_failed_backup: Option<String>,
    pub first_recoverability_point: Option<String>,
    /// From the cluster's Backup objects (the status fields above are not
    /// set for plugin backups): the newest completed one, `name (stoppedAt)`.
    pub newest_completed_backup: Option<String>,
    /// The newest failed Backup object, `name: error`.
    pub newest_failed_backup: Option<String>,
    /// Backup objects not finished yet, `name (phase)`.
    pub backups_in_progress: Vec<String>,
    /// Why the Backup objects could not be read, if they could not.
    pub backup_objects_unreadable: Option<String>,
}

impl BackupStatus {
    /// Fills the fields read from the cluster's Backup objects.
    pub fn add_objects(&mut self, backups: &[Value]) {
        let mut sorted: Vec<&Value> = backups.iter().collect();
        let started = |b: &Value| -> String {
            text(b, "/status/startedAt")
                .or_else(|| {
                    b.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_default()
        };
        sorted.sort_by_key(|b| std::cmp::Reverse(started(b)));
        let phase = |b: &Value| text(b, "/status/phase");
        self.newest_completed_backup = sorted
            .iter()
            .find(|b| phase(b).as_deref() == Some("completed"))
            .map(|b| {
                format!(
                    "{} ({})",
                    b.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default(),
                    text(b, "/status/stoppedAt").unwrap_or_default()
                )
            });
        self.newest_failed_backup = sorted.iter().find(|b| phase(b).as_deref() == Some("failed")).map(|b| {
            format!(
                "{}: {}",
                b.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default(),
                text(b, "/status/error").unwrap_or_else(|| "no error recorded".into())
            )
        });
        self.backups_in_progress = sorted
            .iter()
            .filter(|b| !matches!(phase(b).as_deref(), Some("completed" | "failed")))
            .map(|b| {
                format!(
                    "{} ({})",
                    b.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default(),
                    phase(b).unwrap_or_else(|| "no status yet".into())
                )
            })
            .collect();
    }
}

fn names_at(cluster: &Value, pointer: &str) -> Vec<String> {
    cluster
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn status(cluster: &Value) -> ClusterStatus {
    let all_conditions = conditions(cluster);
    let archiving = all_conditions.iter().find(|c| c.kind == "ContinuousArchiving");
    let mut certificate_expirations = BTreeMap::new();
    if let Some(map) = cluster
        .pointer("/status/certificates/expirations")
        .and_then(Value::as_object)
    {
        for (secret, when) in map {
            certificate_expirations.insert(secret.clone(), when.as_str().unwrap_or_default().to_string());
        }
    }
    let mut managed_roles = BTreeMap::new();
    if let Some(map) = cluster
        .pointer("/status/managedRolesStatus/byStatus")
        .and_then(Value::as_object)
    {
        for (state, names) in map {
            let names = names
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            managed_roles.insert(state.clone(), names);
        }
    }
    let mut pvc_issues = BTreeMap::new();
    for (key, field) in [
        ("resizing", "resizingPVC"),
        ("dangling", "danglingPVC"),
        ("unusable", "unusablePVC"),
        ("initializing", "initializingPVC"),
    ] {
        let names = names_at(cluster, &format!("/status/{field}"));
        if !names.is_empty() {
            pvc_issues.insert(key.to_string(), names);
        }
    }
    ClusterStatus {
        summary: summary(cluster, true),
        target_primary: text(cluster, "/status/targetPrimary"),
        current_primary_timestamp: text(cluster, "/status/currentPrimaryTimestamp"),
        target_primary_timestamp: text(cluster, "/status/targetPrimaryTimestamp"),
        instance_list: instances(cluster),
        wal_storage_size: text(cluster, "/spec/walStorage/size"),
        timeline: int(cluster, "/status/timelineID"),
        write_service: text(cluster, "/status/writeService"),
        read_service: text(cluster, "/status/readService"),
        certificate_expirations,
        backups: BackupStatus {
            configured: cluster.pointer("/spec/backup").is_some()
                || cluster
                    .pointer("/spec/plugins")
                    .and_then(Value::as_array)
                    .is_some_and(|p| !p.is_empty()),
            continuous_archiving: archiving.map(|c| c.status.clone()),
            continuous_archiving_message: archiving.and_then(|c| c.message.clone()),
            last_successful_backup: text(cluster, "/status/lastSuccessfulBackup"),
            last_failed_backup: text(cluster, "/status/lastFailedBackup"),
            first_recoverability_point: text(cluster, "/status/firstRecoverabilityPoint"),
            newest_completed_backup: None,
            newest_failed_backup: None,
            backups_in_progress: vec![],
            backup_objects_unreadable: None,
        },
        managed_roles,
        pvc_issues,
    }
}

/// One PVC of a cluster in `get_cluster_resize_status`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VolumeState {
    pub pvc: String,
    pub instance: Option<String>,
    /// PG_DATA, PG_WAL or PG_TABLESPACE.
    pub role: Option<String>,
    /// `spec.resources.requests.storage`.
    pub requested: Option<String>,
    /// `status.capacity.storage`.
    pub actual: Option<String>,
    /// The size the Cluster asks for this volume.
    pub wanted: Option<String>,
    /// ok | expanding | filesystem-resize-pending | too-small | too-large | unknown
    pub state: String,
}

fn pvc_condition(pvc: &Value, kind: &str) -> bool {
    pvc.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(kind)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

pub fn volume_state(pvc: &Value, cluster: &Value) -> VolumeState {
    let role = cnpg_mcp_sdk::kube::label(pvc, "cnpg.io/pvcRole").map(str::to_string);
    let wanted = match role.as_deref() {
        Some("PG_WAL") => text(cluster, "/spec/walStorage/size"),
        Some("PG_TABLESPACE") => None,
        _ => text(cluster, "/spec/storage/size"),
    };
    let requested = text(pvc, "/spec/resources/requests/storage");
    let actual = text(pvc, "/status/capacity/storage");
    let size = |q: &Option<String>| q.as_deref().and_then(quantity_bytes);
    let state = if pvc_condition(pvc, "FileSystemResizePending") {
        "filesystem-resize-pending"
    } else if pvc_condition(pvc, "Resizing") {
        "expanding"
    } else {
        match (size(&actual), size(&wanted), size(&requested)) {
            (Some(a), Some(w), _) if a + 0.5 < w => {
                if size(&requested).is_some_and(|r| r + 0.5 >= w) {
                    "expanding"
                } else {
                    "too-small"
                }
            }
            (Some(a), Some(w), _) if a > w + 0.5 => "too-large",
            (Some(_), Some(_), _) => "ok",
            (Some(a), None, Some(r)) if (a - r).abs() < 0.5 => "ok",
            _ => "unknown",
        }
    };
    VolumeState {
        pvc: name_of(pvc).to_string(),
        instance: cnpg_mcp_sdk::kube::label(pvc, "cnpg.io/instanceName").map(str::to_string),
        role,
        requested,
        actual,
        wanted,
        state: state.into(),
    }
}

/// The advice `get_cluster_resize_status` ends with.
pub fn resize_next_step(cluster: &Value, volumes: &[VolumeState]) -> String {
    let name = name_of(cluster);
    let wanted = int(cluster, "/spec/instances").unwrap_or(1);
    let ready = int(cluster, "/status/readyInstances").unwrap_or(0);
    let primary = primary(cluster);
    let count = |state: &str| volumes.iter().filter(|v| v.state == state).count();
    if volumes.is_empty() {
        return format!(
            "No PVCs of cluster `{name}` found yet; the operator creates them with the instances. Check get_cluster_status."
        );
    }
    if count("filesystem-resize-pending") > 0 {
        return "The volumes grew; the file systems grow when their pods restart. The operator restarts the instances; \
                call again to follow."
            .into();
    }
    if count("expanding") > 0 {
        return "Volume expansion is in progress; call again in a minute.".into();
    }
    let too_large: Vec<&VolumeState> = volumes.iter().filter(|v| v.state == "too-large").collect();
    if !too_large.is_empty() {
        // Shrink migration: replace the old, larger instances one at a time,
        // replicas first; the primary only after a switchover.
        let mut old: Vec<String> = too_large.iter().filter_map(|v| v.instance.clone()).collect();
        old.sort();
        old.dedup();
        if ready < wanted {
            return format!(
                "Shrink in progress: {ready}/{wanted} instances ready. Wait until all are ready before replacing the next old instance."
            );
        }
        if let Some(replica) = old.iter().find(|i| Some(i.as_str()) != primary.as_deref()) {
            return format!(
                "Shrink in progress: instance `{replica}` still has the old, larger volume. Replace it with \
                 delete_cluster_instance(name=\"{name}\", instance=\"{replica}\", confirm_deletion=true); \
                 the operator recreates it with the new size."
            );
        }
        if let Some(p) = old.first() {
            return format!(
                "Shrink in progress: only the primary `{p}` has the old volume. Switch over first with \
                 promote_cluster_instance to a healthy replica, then replace `{p}` with delete_cluster_instance."
            );
        }
    }
    if count("too-small") > 0 {
        return "Some volumes are smaller than the cluster asks and are not expanding: the storage class may not \
                allow volume expansion (allowVolumeExpansion). Check the PVC events, or replace the instances."
            .into();
    }
    if count("unknown") > 0 {
        return "Some volumes report no capacity yet (still binding); call again shortly.".into();
    }
    if cluster
        .pointer("/metadata/annotations/cnpg.io~1validation")
        .and_then(Value::as_str)
        == Some("disabled")
    {
        return format!(
            "All volumes have the requested size, but validation is still disabled on `{name}`: call \
             resize_postgres_cluster(name=\"{name}\", restore_validation_only=true)."
        );
    }
    "All volumes have the requested size; nothing to do.".into()
}
