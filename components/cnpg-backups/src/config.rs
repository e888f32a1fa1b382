//! The backup configuration of a cluster: read, change.

use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::kube::{self, cnpg, object};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, BARMAN_CLOUD_PLUGIN, SnapshotOwner};
use crate::model::{self, BackupConfiguration};

fn configuration(cluster: &Value, ns: &str) -> BackupConfiguration {
    let methods = model::methods_available(cluster);
    let barman = cluster
        .pointer("/spec/backup/barmanObjectStore")
        .filter(|v| !v.is_null())
        .map(model::without_inline_secrets);
    let archiving = model::archiving(cluster);
    let mut notes = Vec::new();
    if barman.is_some() {
        notes.push(
            "`spec.backup.barmanObjectStore` is CloudNativePG's deprecated in-tree Barman Cloud support: move to the \
             barman-cloud plugin (an ObjectStore plus a `spec.plugins` entry with `isWALArchiver: true`)."
                .into(),
        );
    }
    if methods.is_empty() {
        notes.push(
            "No backup method is configured: the cluster is not backed up and cannot be restored to a point in time."
                .into(),
        );
    } else if archiving.status.as_deref() != Some("True") && !(methods.len() == 1 && methods[0] == "volumeSnapshot") {
        notes.push(
            "WAL archiving is not reported as working (ContinuousArchiving is not True): point-in-time recovery \
             needs it."
                .into(),
        );
    }
    if methods == ["volumeSnapshot"] {
        notes.push(
            "Volume snapshots alone do not archive WAL: a restore reaches the snapshot's point, not any point in time."
                .into(),
        );
    }
    BackupConfiguration {
        cluster: kube::name_of(cluster).to_string(),
        namespace: ns.to_string(),
        default_method: methods.first().cloned(),
        methods_available: methods,
        target: model::text(cluster, "/spec/backup/target"),
        retention_policy: model::text(cluster, "/spec/backup/retentionPolicy"),
        volume_snapshot: cluster
            .pointer("/spec/backup/volumeSnapshot")
            .filter(|v| !v.is_null())
            .cloned(),
        plugins: model::plugins(cluster),
        wal_archiver: model::wal_archiver(cluster).map(|p| p.name),
        barman_object_store_deprecated: barman.is_some(),
        barman_object_store: barman,
        continuous_archiving: archiving,
        wal_archive: model::WalArchive::default(),
        notes,
    }
}

fn render(c: &BackupConfiguration) -> String {
    let mut text = format!(
        "Backups of cluster {}/{}: {}.",
        c.namespace,
        c.cluster,
        if c.methods_available.is_empty() {
            "NOT configured".to_string()
        } else {
            format!(
                "methods {} (default {})",
                c.methods_available.join(", "),
                c.default_method.as_deref().unwrap_or("-")
            )
        }
    );
    text.push_str(&format!(
        "\nContinuous archiving: {}{}",
        c.continuous_archiving.status.as_deref().unwrap_or("not reported"),
        c.continuous_archiving
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    ));
    for p in &c.plugins {
        text.push_str(&format!(
            "\nPlugin {}{}{} parameters {}",
            p.name,
            if p.enabled { "" } else { " (disabled)" },
            if p.is_wal_archiver { ", WAL archiver," } else { "," },
            p.parameters
        ));
    }
    if let Some(vs) = &c.volume_snapshot {
        text.push_str(&format!("\nVolume snapshots: {vs}"));
    }
    if let Some(store) = &c.barman_object_store {
        text.push_str(&format!("\nIn-tree object store (DEPRECATED): {store}"));
    }
    if let Some(retention) = &c.retention_policy {
        text.push_str(&format!("\nRetention: {retention}"));
    }
    text.push_str(&format!(
        "\nTarget: {}",
        c.target.as_deref().unwrap_or("prefer-standby (operator default)")
    ));
    let w = &c.wal_archive;
    match (&w.unavailable, &w.instance) {
        (Some(why), instance) => text.push_str(&format!(
            "\nLast archived WAL: unknown ({}{why})",
            instance.as_ref().map(|i| format!("{i}: ")).unwrap_or_default()
        )),
        (None, Some(instance)) => {
            text.push_str(&format!(
                "\nLast archived WAL (from {instance}): {}{}",
                w.last_archived_wal.as_deref().unwrap_or("none yet"),
                w.last_archived_time
                    .as_deref()
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default()
            ));
            if let Some(failed) = &w.last_failed_wal {
                text.push_str(&format!(
                    "; last FAILED: {failed}{}",
                    w.last_failed_time
                        .as_deref()
                        .map(|t| format!(" at {t}"))
                        .unwrap_or_default()
                ));
            }
            if let Some(ready) = w.ready_wal_files.filter(|n| *n > 0) {
                text.push_str(&format!("; {ready} WAL file(s) waiting"));
            }
        }
        (None, None) => {}
    }
    for note in &c.notes {
        text.push_str("\n- ");
        text.push_str(note);
    }
    text
}

pub fn get_configuration(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let mut c = configuration(&cluster, &ns);
        c.wal_archive = wal_archive(&cluster, &ns);
        let text = render(&c);
        Ok(success(&c, text, a.format))
    })
}

/// The primary's report of WAL archiving, or why there is none.
fn wal_archive(cluster: &Value, ns: &str) -> model::WalArchive {
    let Some(primary) = cluster
        .pointer("/status/currentPrimary")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    else {
        return model::WalArchive {
            unavailable: Some("the cluster has no primary yet".into()),
            ..model::WalArchive::default()
        };
    };
    match cnpg_mcp_sdk::instance::status(ns, primary) {
        Ok(status) => model::WalArchive::from_status(primary, &status),
        Err(why) => model::WalArchive {
            instance: Some(primary.to_string()),
            unavailable: Some(why.message()),
            ..model::WalArchive::default()
        },
    }
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.into(), value);
    }
}

/// The new `spec.plugins` list with the barman-cloud entry added, changed
/// or removed; `None` when the list stays as it is.
fn plugins_after(cluster: &Value, a: &args::ConfigureBackup) -> Result<Option<Vec<Value>>, ToolOutput> {
    let current: Vec<Value> = cluster
        .pointer("/spec/plugins")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_barman = |p: &Value| p.get("name").and_then(Value::as_str) == Some(BARMAN_CLOUD_PLUGIN);
    if a.remove_barman_cloud_plugin {
        if !current.iter().any(is_barman) {
            return Ok(None);
        }
        return Ok(Some(current.into_iter().filter(|p| !is_barman(p)).collect()));
    }
    let Some(wanted) = &a.barman_cloud_plugin else {
        return Ok(None);
    };
    let archiver = wanted.is_wal_archiver.unwrap_or(true);
    if archiver
        && let Some(other) = current.iter().find(|p| {
            !is_barman(p)
                && p.get("isWALArchiver").and_then(Value::as_bool) == Some(true)
                && p.get("enabled").and_then(Value::as_bool) != Some(false)
        })
    {
        return Err(failure(
            format!(
                "Plugin `{}` is already the cluster's WAL archiver; a cluster has one. Nothing was changed.",
                other.get("name").and_then(Value::as_str).unwrap_or_default()
            ),
            "Set `is_wal_archiver: false`, or remove the other plugin's archiver role first.",
        ));
    }
    let mut parameters = Map::new();
    parameters.insert("barmanObjectName".into(), json!(wanted.object_store));
    if let Some(server) = &wanted.server_name {
        parameters.insert("serverName".into(), json!(server));
    }
    let mut entry = json!({"name": BARMAN_CLOUD_PLUGIN, "isWALArchiver": archiver, "parameters": parameters});
    if let Some(enabled) = wanted.enabled {
        entry["enabled"] = json!(enabled);
    }
    let mut list: Vec<Value> = Vec::with_capacity(current.len() + 1);
    let mut replaced = false;
    for p in current {
        if is_barman(&p) {
            list.push(entry.clone());
            replaced = true;
        } else {
            list.push(p);
        }
    }
    if !replaced {
        list.push(entry);
    }
    Ok(Some(list))
}

pub fn configure(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ConfigureBackup, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.cluster_name);
        if a.remove_volume_snapshot && a.volume_snapshot.is_some() {
            return Err(failure(
                "`volume_snapshot` and `remove_volume_snapshot` contradict each other.",
                "Give one of them.",
            ));
        }
        if a.remove_barman_cloud_plugin && a.barman_cloud_plugin.is_some() {
            return Err(failure(
                "`barman_cloud_plugin` and `remove_barman_cloud_plugin` contradict each other.",
                "Give one of them.",
            ));
        }
        if a.remove_barman_object_store && a.barman_object_store.is_some() {
            return Err(failure(
                "`barman_object_store` and `remove_barman_object_store` contradict each other.",
                "Give one of them.",
            ));
        }
        let mut backup = Map::new();
        if let Some(vs) = &a.volume_snapshot {
            let mut section = Map::new();
            insert_some(&mut section, "className", vs.class_name.as_ref().map(|v| json!(v)));
            insert_some(
                &mut section,
                "walClassName",
                vs.wal_class_name.as_ref().map(|v| json!(v)),
            );
            insert_some(&mut section, "online", vs.online.map(|v| json!(v)));
            insert_some(
                &mut section,
                "snapshotOwnerReference",
                vs.snapshot_owner_reference.map(|o| {
                    json!(match o {
                        SnapshotOwner::None => "none",
                        SnapshotOwner::Backup => "backup",
                        SnapshotOwner::Cluster => "cluster",
                    })
                }),
            );
            insert_some(&mut section, "labels", vs.labels.as_ref().map(|v| json!(v)));
            insert_some(&mut section, "annotations", vs.annotations.as_ref().map(|v| json!(v)));
            let mut online = Map::new();
            insert_some(
                &mut online,
                "immediateCheckpoint",
                vs.immediate_checkpoint.map(|v| json!(v)),
            );
            insert_some(&mut online, "waitForArchive", vs.wait_for_archive.map(|v| json!(v)));
            if !online.is_empty() {
                section.insert("onlineConfiguration".into(), Value::Object(online));
            }
            backup.insert("volumeSnapshot".into(), Value::Object(section));
        }
        if a.remove_volume_snapshot {
            backup.insert("volumeSnapshot".into(), Value::Null);
        }
        insert_some(
            &mut backup,
            "retentionPolicy",
            a.retention_policy.as_ref().map(|v| json!(v)),
        );
        insert_some(&mut backup, "target", a.target.map(|t| json!(t.as_str())));
        if let Some(store) = &a.barman_object_store {
            backup.insert("barmanObjectStore".into(), Value::Object(store.clone()));
        }
        if a.remove_barman_object_store {
            backup.insert("barmanObjectStore".into(), Value::Null);
        }
        // The plugin list is replaced whole: lock on the version read, and
        // read again when the operator changed the cluster meanwhile.
        let (cluster, patch, after) =
            kube::read_modify_patch(&target, a.dry_run, 5, |cluster| -> Result<Value, ToolOutput> {
                let plugins = plugins_after(cluster, &a)?;
                let mut spec = Map::new();
                if !backup.is_empty() {
                    spec.insert("backup".into(), Value::Object(backup.clone()));
                }
                if let Some(list) = &plugins {
                    spec.insert("plugins".into(), Value::Array(list.clone()));
                }
                if spec.is_empty() {
                    return Err(failure(
                        "Nothing to change: give at least one setting.",
                        "get_backup_configuration shows the current configuration.",
                    ));
                }
                let mut patch = json!({"spec": spec});
                if plugins.is_some() {
                    patch["metadata"] = json!({"resourceVersion": kube::meta(cluster, "resourceVersion")});
                }
                Ok(patch)
            })?;
        let before_section = json!({
            "backup": cluster.pointer("/spec/backup").cloned().unwrap_or(Value::Null),
            "plugins": cluster.pointer("/spec/plugins").cloned().unwrap_or(Value::Null),
        });
        let after_section = json!({
            "backup": after.pointer("/spec/backup").cloned().unwrap_or(Value::Null),
            "plugins": after.pointer("/spec/plugins").cloned().unwrap_or(Value::Null),
        });
        let mut notes = Vec::new();
        if a.barman_object_store.is_some() {
            notes.push(
                "`barmanObjectStore` is deprecated in CloudNativePG; the barman-cloud plugin replaces it.".into(),
            );
        }
        if a.barman_cloud_plugin.is_some() {
            notes.push(format!(
                "The plugin must be installed in the Kubernetes cluster and the ObjectStore `{}` must exist in \
                 namespace {ns}; the ContinuousArchiving condition (get_backup_configuration) shows whether \
                 archiving works.",
                a.barman_cloud_plugin
                    .as_ref()
                    .map(|p| p.object_store.as_str())
                    .unwrap_or_default()
            ));
        }
        if before_section == after_section {
            notes.push("The spec was already like this: nothing changed.".into());
        }
        let configuration_after = configuration(&after, &ns);
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: Some(json!({
                "before": model::without_inline_secrets(&before_section),
                "after": model::without_inline_secrets(&after_section),
                "methods_available": configuration_after.methods_available,
            })),
            notes,
        };
        Ok(mutation.output(format!(
            "{} the backup configuration of cluster {ns}/{}: methods now {}.",
            if a.dry_run { "Would change" } else { "Changed" },
            a.cluster_name,
            if configuration_after.methods_available.is_empty() {
                "none".to_string()
            } else {
                configuration_after.methods_available.join(", ")
            }
        )))
    })
}
