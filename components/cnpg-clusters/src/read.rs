//! The read tools.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::kube::{self, Failure, cnpg, collection, core, object};
use cnpg_mcp_sdk::tool::{DetailLevel, Outcome, namespace_or_default, run_with, success};

use crate::args;
use crate::model::{self, ClusterSummary, VolumeState};

#[derive(Debug, Serialize, JsonSchema)]
pub struct ClusterList {
    pub clusters: Vec<ClusterSummary>,
    /// Namespaces searched; `["*"]` for one cluster-wide list.
    pub namespaces_searched: Vec<String>,
    /// Namespaces that could not be read, with the reason.
    pub namespaces_skipped: Vec<String>,
}

/// Items found in several namespaces, and which namespaces were searched
/// or skipped.
struct Found {
    items: Vec<Value>,
    searched: Vec<String>,
    skipped: Vec<String>,
}

/// Lists in all namespaces; where a cluster-wide list is refused, lists the
/// namespaces and reads them one by one; where that is refused too, reads
/// the default namespace.
fn list_everywhere(resource: &str) -> Result<Found, Failure> {
    match kube::list(&collection(cnpg(resource), None), None) {
        Ok(items) => {
            return Ok(Found {
                items,
                searched: vec!["*".into()],
                skipped: vec![],
            });
        }
        Err(failure) if matches!(failure.kind(), "forbidden" | "denied-by-policy") => {}
        Err(failure) => return Err(failure),
    }
    let namespaces: Vec<String> = match kube::list(&collection(core("namespaces"), None), None) {
        Ok(items) => items.iter().map(|n| kube::name_of(n).to_string()).collect(),
        Err(failure) if matches!(failure.kind(), "forbidden" | "denied-by-policy") => vec![kube::default_namespace()],
        Err(failure) => return Err(failure),
    };
    let mut items = Vec::new();
    let mut searched = Vec::new();
    let mut skipped = Vec::new();
    for ns in namespaces {
        match kube::list(&collection(cnpg(resource), Some(&ns)), None) {
            Ok(found) => {
                items.extend(found);
                searched.push(ns);
            }
            Err(failure) if matches!(failure.kind(), "forbidden" | "denied-by-policy") => {
                skipped.push(format!("{ns} ({})", failure.kind()));
            }
            Err(failure) => return Err(failure),
        }
    }
    Ok(Found {
        items,
        searched,
        skipped,
    })
}

pub fn list_clusters(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListClusters, _| -> Outcome {
        let Found {
            items,
            searched,
            skipped,
        } = if a.all_namespaces {
            list_everywhere("clusters")?
        } else {
            let ns = namespace_or_default(&a.namespace);
            Found {
                items: kube::list(&collection(cnpg("clusters"), Some(&ns)), None)?,
                searched: vec![ns],
                skipped: vec![],
            }
        };
        let detailed = a.detail_level == DetailLevel::Detailed;
        let clusters: Vec<ClusterSummary> = items.iter().map(|c| model::summary(c, detailed)).collect();
        let mut text = if clusters.is_empty() {
            format!("No PostgreSQL clusters in {}.", searched.join(", "))
        } else {
            format!("{} PostgreSQL cluster(s) in {}:", clusters.len(), searched.join(", "))
        };
        for c in &clusters {
            text.push_str(&format!(
                "\n- {}/{}: {} ({}/{} ready), primary {}, storage {}, image {}",
                c.namespace,
                c.name,
                c.phase.as_deref().unwrap_or("no status yet"),
                c.ready_instances,
                c.instances,
                c.current_primary.as_deref().unwrap_or("-"),
                c.storage_size.as_deref().unwrap_or("-"),
                c.image.as_deref().unwrap_or("-"),
            ));
            if let Some(conditions) = &c.conditions {
                for cond in conditions {
                    text.push_str(&format!(
                        "\n    {}={} {}",
                        cond.kind,
                        cond.status,
                        cond.message.as_deref().unwrap_or_default()
                    ));
                }
            }
        }
        if !skipped.is_empty() {
            text.push_str(&format!("\nNot readable: {}", skipped.join(", ")));
        }
        let list = ClusterList {
            clusters,
            namespaces_searched: searched,
            namespaces_skipped: skipped,
        };
        Ok(success(&list, text, a.format))
    })
}

pub fn get_cluster_status(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let mut status = model::status(&cluster);
        // The backup summary reads the cluster's Backup objects too; a
        // refusal leaves it out, it does not fail the status.
        match kube::list(&collection(cnpg("backups"), Some(&ns)), None) {
            Ok(mut backups) => {
                backups.retain(|b| b.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(a.name.as_str()));
                status.backups.add_objects(&backups);
            }
            Err(f) => status.backups.backup_objects_unreadable = Some(f.message()),
        }
        let s = &status.summary;
        let mut text = format!(
            "Cluster {}/{}: {}{}\nInstances: {}/{} ready; primary {}{}\nImage: {}\nStorage: {}{}",
            s.namespace,
            s.name,
            s.phase.as_deref().unwrap_or("no status yet"),
            s.phase_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
            s.ready_instances,
            s.instances,
            s.current_primary.as_deref().unwrap_or("-"),
            match (&status.target_primary, &s.current_primary) {
                (Some(t), Some(c)) if t != c => format!(", switching over to {t}"),
                _ => String::new(),
            },
            s.image.as_deref().unwrap_or("-"),
            s.storage_size.as_deref().unwrap_or("-"),
            s.storage_class
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default(),
        );
        if a.detail_level == DetailLevel::Detailed {
            for i in &status.instance_list {
                text.push_str(&format!(
                    "\n- {} {} {}",
                    i.name,
                    i.role,
                    i.health.as_deref().unwrap_or("not reported")
                ));
            }
            for c in s.conditions.iter().flatten() {
                text.push_str(&format!(
                    "\nCondition {}={} {}",
                    c.kind,
                    c.status,
                    c.message.as_deref().unwrap_or_default()
                ));
            }
            for (secret, when) in &status.certificate_expirations {
                text.push_str(&format!("\nCertificate {secret} expires {when}"));
            }
            for (state, roles) in &status.managed_roles {
                text.push_str(&format!("\nManaged roles {state}: {}", roles.join(", ")));
            }
            for (issue, pvcs) in &status.pvc_issues {
                text.push_str(&format!("\nPVCs {issue}: {}", pvcs.join(", ")));
            }
        } else {
            let unhealthy: Vec<String> = status
                .instance_list
                .iter()
                .filter(|i| i.health.as_deref() != Some("healthy"))
                .map(|i| i.name.clone())
                .collect();
            if !unhealthy.is_empty() {
                text.push_str(&format!("\nNot healthy: {}", unhealthy.join(", ")));
            }
        }
        let b = &status.backups;
        text.push_str(&format!(
            "\nBackups: {}; continuous archiving {}; first recoverability point {}; last completed {}; last failed {}",
            if b.configured { "configured" } else { "NOT configured" },
            b.continuous_archiving.as_deref().unwrap_or("-"),
            b.first_recoverability_point.as_deref().unwrap_or("-"),
            b.newest_completed_backup
                .as_deref()
                .or(b.last_successful_backup.as_deref())
                .unwrap_or("-"),
            b.newest_failed_backup
                .as_deref()
                .or(b.last_failed_backup.as_deref())
                .unwrap_or("-")
        ));
        if !b.backups_in_progress.is_empty() {
            text.push_str(&format!("\nBackups in progress: {}", b.backups_in_progress.join(", ")));
        }
        Ok(success(&status, text, a.format))
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResizeReport {
    pub name: String,
    pub namespace: String,
    /// `spec.storage.size`.
    pub storage_size: Option<String>,
    pub wal_storage_size: Option<String>,
    pub instances: i64,
    pub ready_instances: i64,
    /// Whether the operator's validation is disabled on the cluster (`cnpg.io/validation: disabled`).
    pub validation_disabled: bool,
    /// PVCs the operator reports as resizing.
    pub resizing_pvcs: Vec<String>,
    pub volumes: Vec<VolumeState>,
    /// What to do next.
    pub next_step: String,
}

pub fn resize_status(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ResizeStatus, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let selector = format!("cnpg.io/cluster={}", a.name);
        let pvcs = kube::list(&collection(core("persistentvolumeclaims"), Some(&ns)), Some(&selector))?;
        let mut volumes: Vec<VolumeState> = pvcs.iter().map(|p| model::volume_state(p, &cluster)).collect();
        volumes.sort_by(|x, y| x.pvc.cmp(&y.pvc));
        let next_step = model::resize_next_step(&cluster, &volumes);
        let text_at = |p: &str| cluster.pointer(p).and_then(Value::as_str).map(str::to_string);
        let report = ResizeReport {
            name: a.name.clone(),
            namespace: ns.clone(),
            storage_size: text_at("/spec/storage/size"),
            wal_storage_size: text_at("/spec/walStorage/size"),
            instances: cluster.pointer("/spec/instances").and_then(Value::as_i64).unwrap_or(1),
            ready_instances: cluster
                .pointer("/status/readyInstances")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            validation_disabled: kube::annotation(&cluster, "cnpg.io/validation") == Some("disabled"),
            resizing_pvcs: cluster
                .pointer("/status/resizingPVC")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            volumes,
            next_step,
        };
        let mut text = format!(
            "Cluster {ns}/{}: storage {} ({}/{} instances ready)",
            a.name,
            report.storage_size.as_deref().unwrap_or("-"),
            report.ready_instances,
            report.instances
        );
        for v in &report.volumes {
            text.push_str(&format!(
                "\n- {} ({}, {}): requested {}, actual {} -> {}",
                v.pvc,
                v.instance.as_deref().unwrap_or("-"),
                v.role.as_deref().unwrap_or("-"),
                v.requested.as_deref().unwrap_or("-"),
                v.actual.as_deref().unwrap_or("-"),
                v.state
            ));
        }
        text.push_str(&format!("\nNext: {}", report.next_step));
        Ok(success(&report, text, a.format))
    })
}
