//! `get_cluster_report`: what `kubectl cnpg report cluster` collects
//! (operator v1.30.0, `internal/cmd/plugin/report/cluster.go`: the
//! Cluster, its pods, jobs and volumes by `cnpg.io/cluster`, events) plus
//! what `kubectl cnpg status` shows beside it (Services, backups, poolers,
//! certificate expirations), as one structured bundle. No Secret is read;
//! manifests lose `managedFields` and the last-applied annotation.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, core, object};
use cnpg_mcp_sdk::time::timestamp_now;
use cnpg_mcp_sdk::tool::{Outcome, namespace_or_default, run_with, success};

use crate::args;
use crate::diag::{EventInfo, Owned, event_info, text};

#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    pub phase: Option<String>,
    pub phase_reason: Option<String>,
    pub instances: u64,
    pub ready_instances: u64,
    pub current_primary: Option<String>,
    pub image: Option<String>,
    /// Major version of the data (`status.pgDataImageInfo.majorVersion`).
    pub data_major: Option<u64>,
    /// Conditions that are not `True`, as `type: reason (message)`.
    pub failing_conditions: Vec<String>,
    /// Certificate Secret -> expiry, as the operator records them.
    pub certificate_expirations: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PodInfo {
    pub name: String,
    pub phase: Option<String>,
    /// `primary` or `replica` (`cnpg.io/instanceRole`).
    pub role: Option<String>,
    pub node: Option<String>,
    pub ready: bool,
    pub restarts: i64,
    pub image: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VolumeInfo {
    pub name: String,
    pub phase: Option<String>,
    pub capacity: Option<String>,
    pub storage_class: Option<String>,
    /// `PG_DATA`, `PG_WAL` or `PG_TABLESPACE` (`cnpg.io/pvcRole`).
    pub role: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobInfo {
    pub name: String,
    /// `initdb`, `join`, `major-upgrade`, ... (`cnpg.io/jobRole`).
    pub role: Option<String>,
    pub active: i64,
    pub succeeded: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub service_type: Option<String>,
    pub ports: Vec<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BackupSummary {
    pub name: String,
    pub phase: Option<String>,
    pub method: Option<String>,
    pub started: Option<String>,
    pub stopped: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ClusterReport {
    pub cluster: String,
    pub namespace: String,
    pub generated_at: String,
    pub summary: Summary,
    /// The Cluster as stored (spec and status), without managed fields.
    pub manifest: Value,
    pub pods: Vec<PodInfo>,
    pub volumes: Vec<VolumeInfo>,
    pub jobs: Vec<JobInfo>,
    pub services: Vec<ServiceSummary>,
    pub backups: Vec<BackupSummary>,
    /// Poolers in front of the cluster: name, type, instances.
    pub poolers: Vec<Value>,
    /// Events of the cluster and its objects, newest first.
    pub events: Vec<EventInfo>,
    /// Events left out by `events_limit`.
    pub events_omitted: usize,
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The manifest without what only adds noise (and may carry old values).
fn trimmed(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    object
}

pub fn report(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Report, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let Owned {
            pods: pod_items,
            pvcs: pvc_items,
            jobs: job_items,
            events: mut found,
        } = Owned::read(&ns, &a.name)?;
        let services: Vec<ServiceSummary> = kube::list(&collection(core("services"), Some(&ns)), None)?
            .iter()
            .filter(|s| {
                let name = kube::name_of(s);
                kube::label(s, "cnpg.io/cluster") == Some(a.name.as_str())
                    || ["rw", "ro", "r"]
                        .iter()
                        .any(|suffix| name == format!("{}-{suffix}", a.name))
            })
            .map(|s| ServiceSummary {
                name: kube::name_of(s).to_string(),
                service_type: text(s, "/spec/type"),
                ports: s
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .map(|ports| {
                        ports
                            .iter()
                            .filter_map(|p| p.get("port").and_then(Value::as_i64))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        let mut backup_items: Vec<Value> = kube::list(&collection(cnpg("backups"), Some(&ns)), None)?
            .into_iter()
            .filter(|b| b.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(a.name.as_str()))
            .collect();
        backup_items.sort_by_key(|b| std::cmp::Reverse(text(b, "/metadata/creationTimestamp")));
        let poolers: Vec<Value> = kube::list(&collection(cnpg("poolers"), Some(&ns)), None)?
            .iter()
            .filter(|p| p.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(a.name.as_str()))
            .map(|p| {
                json!({"name": kube::name_of(p), "type": text(p, "/spec/type"),
                       "instances": p.pointer("/spec/instances")})
            })
            .collect();

        let total = found.len();
        found.truncate(a.events_limit.unwrap_or(100) as usize);

        let failing_conditions: Vec<String> = cluster
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter(|c| c.get("status").and_then(Value::as_str) != Some("True"))
                    .map(|c| {
                        format!(
                            "{}: {} ({})",
                            text(c, "/type").unwrap_or_default(),
                            text(c, "/reason").unwrap_or_default(),
                            text(c, "/message").unwrap_or_default()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let summary = Summary {
            phase: text(&cluster, "/status/phase"),
            phase_reason: text(&cluster, "/status/phaseReason"),
            instances: cluster.pointer("/spec/instances").and_then(Value::as_u64).unwrap_or(0),
            ready_instances: cluster
                .pointer("/status/readyInstances")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            current_primary: text(&cluster, "/status/currentPrimary"),
            image: text(&cluster, "/status/image"),
            data_major: cluster
                .pointer("/status/pgDataImageInfo/majorVersion")
                .and_then(Value::as_u64),
            failing_conditions,
            certificate_expirations: cluster
                .pointer("/status/certificates/expirations")
                .cloned()
                .unwrap_or(Value::Null),
        };
        let report = ClusterReport {
            cluster: a.name.clone(),
            namespace: ns.clone(),
            generated_at: timestamp_now(),
            summary,
            manifest: trimmed(&cluster),
            pods: pod_items
                .iter()
                .map(|p| PodInfo {
                    name: kube::name_of(p).to_string(),
                    phase: text(p, "/status/phase"),
                    role: kube::label(p, "cnpg.io/instanceRole").map(str::to_string),
                    node: text(p, "/spec/nodeName"),
                    ready: p
                        .pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .is_some_and(|c| {
                            c.iter().any(|c| {
                                c.get("type").and_then(Value::as_str) == Some("Ready")
                                    && c.get("status").and_then(Value::as_str) == Some("True")
                            })
                        }),
                    restarts: p
                        .pointer("/status/containerStatuses")
                        .and_then(Value::as_array)
                        .map(|c| c.iter().map(|c| int(c, "/restartCount")).sum())
                        .unwrap_or(0),
                    image: text(p, "/spec/containers/0/image"),
                })
                .collect(),
            volumes: pvc_items
                .iter()
                .map(|v| VolumeInfo {
                    name: kube::name_of(v).to_string(),
                    phase: text(v, "/status/phase"),
                    capacity: text(v, "/status/capacity/storage"),
                    storage_class: text(v, "/spec/storageClassName"),
                    role: kube::label(v, "cnpg.io/pvcRole").map(str::to_string),
                })
                .collect(),
            jobs: job_items
                .iter()
                .map(|j| JobInfo {
                    name: kube::name_of(j).to_string(),
                    role: kube::label(j, "cnpg.io/jobRole").map(str::to_string),
                    active: int(j, "/status/active"),
                    succeeded: int(j, "/status/succeeded"),
                    failed: int(j, "/status/failed"),
                })
                .collect(),
            services,
            backups: backup_items
                .iter()
                .map(|b| BackupSummary {
                    name: kube::name_of(b).to_string(),
                    phase: text(b, "/status/phase"),
                    method: text(b, "/status/method").or_else(|| text(b, "/spec/method")),
                    started: text(b, "/status/startedAt"),
                    stopped: text(b, "/status/stoppedAt"),
                    error: text(b, "/status/error"),
                })
                .collect(),
            poolers,
            events_omitted: total - found.len(),
            events: found.iter().map(event_info).collect(),
        };
        let s = &report.summary;
        let mut out = format!(
            "Report of cluster {ns}/{} at {}: phase {}{}; {}/{} instances ready; primary {}; image {}.",
            a.name,
            report.generated_at,
            s.phase.as_deref().unwrap_or("unknown"),
            s.phase_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
            s.ready_instances,
            s.instances,
            s.current_primary.as_deref().unwrap_or("none"),
            s.image.as_deref().unwrap_or("unknown"),
        );
        for condition in &s.failing_conditions {
            out.push_str(&format!("\n- condition {condition}"));
        }
        out.push_str(&format!(
            "\nPods: {}.",
            report
                .pods
                .iter()
                .map(|p| format!(
                    "{} {}{}{}",
                    p.name,
                    p.phase.as_deref().unwrap_or("?"),
                    p.role.as_deref().map(|r| format!(" {r}")).unwrap_or_default(),
                    if p.restarts > 0 {
                        format!(" restarts {}", p.restarts)
                    } else {
                        String::new()
                    }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out.push_str(&format!(
            "\nVolumes: {}; jobs: {}; services: {}; backups: {} (newest: {}); poolers: {}.",
            report.volumes.len(),
            report
                .jobs
                .iter()
                .map(|j| j.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            report
                .services
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            report.backups.len(),
            report
                .backups
                .first()
                .map(|b| format!("{} {}", b.name, b.phase.as_deref().unwrap_or("?")))
                .unwrap_or_else(|| "none".into()),
            report.poolers.len()
        ));
        for e in report.events.iter().take(10) {
            out.push_str(&format!(
                "\n- {} {} {} {}: {}",
                e.time.as_deref().unwrap_or("-"),
                e.event_type,
                e.object,
                e.reason,
                e.message
            ));
        }
        if report.events.len() > 10 {
            out.push_str(&format!(
                "\n({} more events in the structured report)",
                report.events.len() - 10
            ));
        }
        Ok(success(&report, out, a.format))
    })
}
