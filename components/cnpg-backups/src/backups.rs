//! Backup objects: create, list, read, follow, delete.

use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::{ask_user, unconfirmed};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, object};
use cnpg_mcp_sdk::time::{Civil, now_unix};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, BARMAN_CLOUD_PLUGIN, BackupSettings, Method};
use crate::model::{self, BackupInfo, BackupList, CLUSTER_LABEL};

/// Seconds `wait` waits by default.
const DEFAULT_WAIT_SECONDS: u64 = 600;
/// Label marking objects this server created.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cnpg-mcp");

/// `<prefix>-<YYYYMMDDhhmmss>` in UTC: `pgTime.ToCompactISO8601`
/// (Go layout `20060102150405`), as `kubectl cnpg backup` and the
/// scheduled-backup controller name Backups.
pub fn compact_name(prefix: &str, at: i64) -> String {
    let c = Civil::from_unix(at);
    format!(
        "{prefix}-{:04}{:02}{:02}{:02}{:02}{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// The method, plugin and the `spec` fields of a backup request, resolved
/// against the cluster's configuration. `Err` is the refusal to return.
pub fn backup_spec(cluster: &Value, settings: &BackupSettings) -> Result<(Method, Map<String, Value>), ToolOutput> {
    let cluster_name = kube::name_of(cluster);
    let available = model::methods_available(cluster);
    let method = match settings.method {
        Some(method) => method,
        None => match available.first().map(String::as_str) {
            Some("plugin") => Method::Plugin,
            Some("barmanObjectStore") => Method::BarmanObjectStore,
            Some("volumeSnapshot") => Method::VolumeSnapshot,
            _ if settings.plugin_name.is_some() => Method::Plugin,
            _ => {
                return Err(failure(
                    format!(
                        "Cluster {cluster_name} has no backup configuration: no plugin in `spec.plugins`, no \
                         `spec.backup.barmanObjectStore`, no `spec.backup.volumeSnapshot`. Nothing was created."
                    ),
                    "Configure one first (configure_cluster_backup: the barman-cloud plugin or volume snapshots), \
                     or name `method` explicitly.",
                ));
            }
        },
    };
    // A method the cluster is not configured for fails in the operator
    // (phase `failed`); say so before creating anything.
    // (`plugin`: the operator fails the backup when `spec.plugins` is
    // empty, and the barman-cloud plugin reads its store from there.)
    let configured = available.iter().any(|m| m == method.as_str());
    if !configured {
        return Err(failure(
            format!(
                "Cluster {cluster_name} is not configured for `{}` backups (configured: {}). Nothing was created.",
                method.as_str(),
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            ),
            "Use a configured method, or add this one with configure_cluster_backup.",
        ));
    }
    let mut spec = Map::new();
    spec.insert("cluster".into(), json!({"name": cluster_name}));
    spec.insert("method".into(), json!(method.as_str()));
    if let Some(target) = settings.target {
        spec.insert("target".into(), json!(target.as_str()));
    }
    match method {
        Method::Plugin => {
            let name = match (&settings.plugin_name, model::wal_archiver(cluster)) {
                (Some(name), _) => name.clone(),
                (None, Some(archiver)) => archiver.name,
                (None, None) => model::plugins(cluster)
                    .into_iter()
                    .find(|p| p.enabled)
                    .map(|p| p.name)
                    .unwrap_or_else(|| BARMAN_CLOUD_PLUGIN.to_string()),
            };
            let mut configuration = json!({"name": name});
            if let Some(parameters) = settings.plugin_parameters.as_ref().filter(|p| !p.is_empty()) {
                configuration["parameters"] = json!(parameters);
            }
            spec.insert("pluginConfiguration".into(), configuration);
        }
        Method::VolumeSnapshot => {}
        Method::BarmanObjectStore => {}
    }
    let online_settings =
        settings.online.is_some() || settings.immediate_checkpoint.is_some() || settings.wait_for_archive.is_some();
    if online_settings && method != Method::VolumeSnapshot {
        return Err(failure(
            format!(
                "`online`, `immediate_checkpoint` and `wait_for_archive` apply to volume snapshot backups only \
                 (the operator refuses them for `{}`). Nothing was created.",
                method.as_str()
            ),
            "Leave them out, or use `method: volumeSnapshot`.",
        ));
    }
    if (settings.plugin_name.is_some() || settings.plugin_parameters.is_some()) && method != Method::Plugin {
        return Err(failure(
            format!(
                "`plugin_name` and `plugin_parameters` apply to `method: plugin` only, not `{}`. Nothing was created.",
                method.as_str()
            ),
            "Leave them out, or use `method: plugin`.",
        ));
    }
    if let Some(online) = settings.online {
        spec.insert("online".into(), json!(online));
    }
    let mut online_configuration = Map::new();
    if let Some(v) = settings.immediate_checkpoint {
        online_configuration.insert("immediateCheckpoint".into(), json!(v));
    }
    if let Some(v) = settings.wait_for_archive {
        online_configuration.insert("waitForArchive".into(), json!(v));
    }
    if !online_configuration.is_empty() {
        spec.insert("onlineConfiguration".into(), Value::Object(online_configuration));
    }
    Ok((method, spec))
}

fn wait_budget(ctx: &CallContext, timeout: Option<u32>) -> u64 {
    let wanted = timeout.map_or(DEFAULT_WAIT_SECONDS, u64::from) * 1000;
    // Keep a little of the call's deadline to answer.
    ctx.deadline_ms.saturating_sub(2000).min(wanted)
}

/// Watches the backup until a final phase; the text of the outcome and the
/// object last seen.
fn follow(ns: &str, name: &str, budget_ms: u64) -> Result<(String, Value), ToolOutput> {
    let target = object(cnpg("backups"), ns, name);
    match kube::wait_for(&target, "/status/phase", model::FINAL_PHASES, budget_ms) {
        Ok(backup) => {
            let info = model::backup_info(&backup);
            Ok((format!("Backup {ns}/{name}: {}", info.summary), backup))
        }
        Err(f) if f.kind() == "timeout" => {
            let backup = kube::get(&target)?;
            let info = model::backup_info(&backup);
            Ok((
                format!(
                    "Backup {ns}/{name} did not finish within {} s (phase: {}). It goes on; follow it with \
                     wait_for_backup or get_backup_status.",
                    budget_ms / 1000,
                    info.phase.as_deref().unwrap_or("no status yet")
                ),
                backup,
            ))
        }
        Err(f) => Err(f.into()),
    }
}

pub fn create_backup(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateBackup, ctx| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let (method, spec) = backup_spec(&cluster, &a.settings())?;
        let name = a
            .name
            .clone()
            .unwrap_or_else(|| compact_name(&a.cluster_name, now_unix()));
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Backup",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {CLUSTER_LABEL: a.cluster_name, MANAGED_BY.0: MANAGED_BY.1}},
            "spec": spec,
        });
        let created = kube::create(&collection(cnpg("backups"), Some(&ns)), &manifest, a.dry_run)?;
        let mut mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"name": name, "uid": kube::meta(&created, "uid")})),
            notes: vec![],
        };
        if method == Method::BarmanObjectStore {
            mutation.notes.push(
                "`barmanObjectStore` is CloudNativePG's deprecated in-tree Barman Cloud support; the barman-cloud \
                 plugin (`method: plugin`) replaces it."
                    .into(),
            );
        }
        let summary = format!(
            "{} backup {ns}/{name} of cluster {} (method {}).",
            if a.dry_run { "would create" } else { "Created" },
            a.cluster_name,
            method.as_str()
        );
        if a.dry_run {
            return Ok(mutation.output(summary));
        }
        if a.wait {
            let (outcome, backup) = follow(&ns, &name, wait_budget(ctx, a.timeout))?;
            mutation.notes.push(outcome);
            mutation.result = Some(serde_json::to_value(model::backup_info(&backup)).unwrap_or_default());
        } else {
            mutation
                .notes
                .push("The operator runs it; follow with wait_for_backup or get_backup_status.".into());
        }
        Ok(mutation.output(summary))
    })
}

pub fn list_backups(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListBackups, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let mut items = kube::list(&collection(cnpg("backups"), Some(&ns)), None)?;
        if let Some(cluster) = &a.cluster_name {
            items.retain(|b| b.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster.as_str()));
        }
        items.sort_by_key(|b| std::cmp::Reverse(model::backup_time(b)));
        let limit = a.limit.unwrap_or(50) as usize;
        let omitted = items.len().saturating_sub(limit);
        let backups: Vec<BackupInfo> = items.iter().take(limit).map(model::backup_info).collect();
        let scope = match &a.cluster_name {
            Some(cluster) => format!("cluster {ns}/{cluster}"),
            None => format!("namespace {ns}"),
        };
        let mut text = if backups.is_empty() {
            format!("No backups of {scope}.")
        } else {
            format!("{} backup(s) of {scope}, newest first:", backups.len())
        };
        for b in &backups {
            text.push_str("\n- ");
            text.push_str(&model::backup_line(b));
        }
        if omitted > 0 {
            text.push_str(&format!("\n({omitted} older backup(s) left out; raise `limit`.)"));
        }
        let list = BackupList {
            namespace: ns,
            cluster: a.cluster_name,
            backups,
            omitted,
        };
        Ok(success(&list, text, a.format))
    })
}

fn render_detail(b: &BackupInfo) -> String {
    let mut text = format!(
        "Backup {}/{}: {}\n{}",
        b.namespace,
        b.name,
        model::backup_line(b),
        b.summary
    );
    for (label, value) in [
        ("begin LSN", &b.begin_lsn),
        ("end LSN", &b.end_lsn),
        ("backup id", &b.backup_id),
        ("server name", &b.server_name),
        ("destination", &b.destination_path),
        ("scheduled by", &b.scheduled_by),
    ] {
        if let Some(value) = value {
            text.push_str(&format!("\n{label}: {value}"));
        }
    }
    for s in &b.snapshots {
        text.push_str(&format!("\nsnapshot {} ({})", s.name, s.kind));
    }
    text
}

pub fn get_backup(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetBackup, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let backup = kube::get(&object(cnpg("backups"), &ns, &a.name))?;
        let info = model::backup_info(&backup);
        let text = render_detail(&info);
        Ok(success(&info, text, a.format))
    })
}

pub fn wait_backup(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::WaitBackup, ctx| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let (outcome, backup) = follow(&ns, &a.name, wait_budget(ctx, a.timeout))?;
        let info = model::backup_info(&backup);
        let text = format!("{outcome}\n{}", render_detail(&info));
        Ok(success(&info, text, a.format))
    })
}

/// What deleting the Backup object leaves behind, per CloudNativePG.
fn deletion_consequences(info: &BackupInfo) -> Vec<String> {
    let mut notes = Vec::new();
    match info.method.as_str() {
        "volumeSnapshot" => {
            let owned: Vec<&str> = info.snapshots.iter().map(|s| s.name.as_str()).collect();
            notes.push(format!(
                "Its VolumeSnapshots ({}) are deleted with it only if the cluster's \
                 `spec.backup.volumeSnapshot.snapshotOwnerReference` was `backup` when they were taken; otherwise \
                 they stay and keep the data.",
                if owned.is_empty() {
                    "none recorded".to_string()
                } else {
                    owned.join(", ")
                }
            ));
        }
        _ => notes.push(
            "The backup's data stays in the object store: deleting the object does not delete it; the retention \
             policy (of the ObjectStore for the plugin, `spec.backup.retentionPolicy` in-tree) removes it."
                .into(),
        ),
    }
    if info.phase.as_deref().is_some_and(|p| !model::FINAL_PHASES.contains(&p)) {
        notes.push(format!(
            "It is still {}: deleting the object does not stop work already started on the instance.",
            info.phase.as_deref().unwrap_or_default()
        ));
    }
    notes
}

pub fn delete_backup(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeleteBackup, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("backups"), &ns, &a.name);
        let backup = kube::get(&target)?;
        let info = model::backup_info(&backup);
        let notes = deletion_consequences(&info);
        if !a.confirm_deletion && !a.dry_run {
            let mut refusal = unconfirmed(
                "delete_backup",
                &raw,
                "confirm_deletion",
                &format!("deleting Backup {ns}/{} of cluster {}", a.name, info.cluster),
            );
            if let Some(cnpg_mcp_sdk::bindings::cnpg::mcp::types::Content::Text(text)) = refusal.content.first_mut() {
                for note in &notes {
                    text.push_str("\n- ");
                    text.push_str(note);
                }
            }
            return Err(refusal);
        }
        if !a.dry_run {
            ask_user(&format!(
                "Delete Backup {ns}/{} of cluster {}? {}",
                a.name,
                info.cluster,
                notes.join(" ")
            ))?;
        }
        kube::delete(&target, a.dry_run, kube::meta(&backup, "uid"))?;
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"backup": a.name}),
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} Backup object {ns}/{} of cluster {}.",
            if a.dry_run { "would delete" } else { "Deleted" },
            a.name,
            info.cluster
        )))
    })
}
