//! What a cluster can be restored to, and new clusters bootstrapped by
//! recovery. The source is never written to.

use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::k8s::ResourceType;
use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::kube::{self, Failure, cnpg, collection, object};
use cnpg_mcp_sdk::time::{format_seconds, now_unix, parse_rfc3339};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, BARMAN_CLOUD_PLUGIN};
use crate::backups::MANAGED_BY;
use crate::model::{self, BackupInfo, MethodPoint, RecoveryWindow};

/// The barman-cloud plugin's ObjectStore (`barmancloud.cnpg.io/v1`).
fn object_stores() -> ResourceType {
    ResourceType {
        group: "barmancloud.cnpg.io".into(),
        version: "v1".into(),
        resource: "objectstores".into(),
    }
}

fn volume_snapshots() -> ResourceType {
    ResourceType {
        group: "snapshot.storage.k8s.io".into(),
        version: "v1".into(),
        resource: "volumesnapshots".into(),
    }
}

/// Reads that may be impossible for reasons that do not make the answer
/// wrong (no such CRD, not granted, not allowed): `None` then, with the
/// reason in `notes`.
fn optional_read(target: &cnpg_mcp_sdk::bindings::cnpg::mcp::k8s::ObjectRef, notes: &mut Vec<String>) -> Option<Value> {
    match kube::get(target) {
        Ok(value) => Some(value),
        Err(f) => {
            notes.push(format!("Could not read it: {}", f.message()));
            None
        }
    }
}

/// The plugin's view of `server` in its ObjectStore:
/// `status.serverRecoveryWindow.<server>`.
fn store_window(store: &Value, server: &str) -> Option<Value> {
    store
        .pointer("/status/serverRecoveryWindow")
        .and_then(|w| w.get(server))
        .cloned()
}

/// The ObjectStore and server name of a cluster's barman-cloud plugin.
fn plugin_store(cluster: &Value) -> Option<(String, String)> {
    let entry = model::plugins(cluster)
        .into_iter()
        .find(|p| p.name == BARMAN_CLOUD_PLUGIN && p.enabled)?;
    let store = entry.parameters.get("barmanObjectName")?.as_str()?.to_string();
    let server = entry
        .parameters
        .get("serverName")
        .and_then(Value::as_str)
        .unwrap_or(kube::name_of(cluster))
        .to_string();
    Some((store, server))
}

fn cluster_backups(ns: &str, cluster: &str) -> Result<Vec<Value>, Failure> {
    let mut items = kube::list(&collection(cnpg("backups"), Some(ns)), None)?;
    items.retain(|b| b.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster));
    items.sort_by_key(|b| std::cmp::Reverse(model::backup_time(b)));
    Ok(items)
}

/// The stop times of `backups`, oldest first (RFC 3339 UTC sorts as text).
fn ends<'a>(backups: &[&'a BackupInfo]) -> std::vec::IntoIter<&'a String> {
    let mut ends: Vec<&String> = backups.iter().filter_map(|b| b.stopped_at.as_ref()).collect();
    ends.sort_by_key(|end| parse_rfc3339(end).map(|(s, _)| s));
    ends.into_iter()
}

fn window(cluster: &Value, ns: &str) -> Result<RecoveryWindow, Failure> {
    let name = kube::name_of(cluster).to_string();
    let backups = cluster_backups(ns, &name)?;
    let completed: Vec<BackupInfo> = backups
        .iter()
        .filter(|b| model::text(b, "/status/phase").as_deref() == Some("completed"))
        .map(model::backup_info)
        .collect();
    let mut notes = Vec::new();
    let mut methods: Vec<String> = model::methods_available(cluster);
    for b in &completed {
        if !methods.contains(&b.method) {
            methods.push(b.method.clone());
        }
    }
    let per_method: Vec<MethodPoint> = methods
        .iter()
        .map(|method| {
            let mine: Vec<&BackupInfo> = completed.iter().filter(|b| &b.method == method).collect();
            MethodPoint {
                method: method.clone(),
                first_recoverability_point: model::text(
                    cluster,
                    &format!("/status/firstRecoverabilityPointByMethod/{method}"),
                ),
                last_successful_backup: model::text(cluster, &format!("/status/lastSuccessfulBackupByMethod/{method}")),
                completed_backups: mine.len(),
                oldest_completed_backup_end: ends(&mine).next().cloned(),
                newest_completed_backup_end: ends(&mine).next_back().cloned(),
            }
        })
        .collect();
    let mut object_store = None;
    if let Some((store, server)) = plugin_store(cluster) {
        let mut read_notes = Vec::new();
        if let Some(found) = optional_read(&object(object_stores(), ns, &store), &mut read_notes) {
            object_store = store_window(&found, &server)
                .map(|w| json!({"object_store": store, "server_name": server, "window": w}));
            if object_store.is_none() {
                notes.push(format!(
                    "ObjectStore {store} reports no recovery window for server `{server}` yet."
                ));
            }
        } else {
            notes.extend(read_notes.into_iter().map(|n| format!("ObjectStore {store}: {n}")));
        }
    }
    let plugin_first = object_store
        .as_ref()
        .and_then(|s| s.pointer("/window/firstRecoverabilityPoint"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let (first, source) = if let Some(point) = model::text(cluster, "/status/firstRecoverabilityPoint") {
        (
            Some(point),
            Some("cluster status `firstRecoverabilityPoint`".to_string()),
        )
    } else if let Some(point) = plugin_first {
        (
            Some(point),
            Some("the barman-cloud ObjectStore's recovery window".to_string()),
        )
    } else if let Some(oldest) = ends(&completed.iter().collect::<Vec<_>>()).next().cloned() {
        (
            Some(oldest),
            Some("the end of the oldest completed Backup object".to_string()),
        )
    } else {
        (None, None)
    };
    let archiving = model::archiving(cluster);
    let latest = if archiving.status.as_deref() == Some("True") {
        Some("now (WAL archiving works)".to_string())
    } else {
        completed.first().and_then(|b| b.stopped_at.clone())
    };
    if first.is_none() {
        notes.push("No completed backup: the cluster cannot be restored yet.".into());
    }
    if archiving.status.as_deref() != Some("True") {
        notes.push(
            "WAL archiving is not reported working: a restore can only reach the end of a completed backup.".into(),
        );
    }
    let failed = backups
        .iter()
        .find(|b| model::text(b, "/status/phase").as_deref() == Some("failed"))
        .map(|b| {
            format!(
                "{} ({})",
                kube::name_of(b),
                model::text(b, "/status/error").unwrap_or_else(|| "no error recorded".into())
            )
        });
    Ok(RecoveryWindow {
        cluster: name,
        namespace: ns.to_string(),
        first_recoverability_point: first,
        first_recoverability_source: source,
        latest_recoverability_point: latest,
        per_method,
        last_successful_backup: model::text(cluster, "/status/lastSuccessfulBackup")
            .or_else(|| completed.first().and_then(|b| b.stopped_at.clone())),
        last_failed_backup: model::text(cluster, "/status/lastFailedBackup"),
        last_failed_backup_object: failed,
        continuous_archiving: archiving,
        completed_backups: completed,
        object_store,
        notes,
    })
}

pub fn recovery_window(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let w = window(&cluster, &ns)?;
        let mut text = format!(
            "Recovery window of cluster {ns}/{}: from {} to {}.",
            w.cluster,
            w.first_recoverability_point
                .as_deref()
                .unwrap_or("(nothing restorable)"),
            w.latest_recoverability_point.as_deref().unwrap_or("-"),
        );
        if let Some(source) = &w.first_recoverability_source {
            text.push_str(&format!(" (first point from {source})"));
        }
        for m in &w.per_method {
            text.push_str(&format!(
                "\n- {}: {} completed backup(s), oldest ends {}, newest ends {}",
                m.method,
                m.completed_backups,
                m.oldest_completed_backup_end.as_deref().unwrap_or("-"),
                m.newest_completed_backup_end.as_deref().unwrap_or("-")
            ));
        }
        text.push_str(&format!(
            "\nContinuous archiving: {}",
            w.continuous_archiving.status.as_deref().unwrap_or("not reported")
        ));
        if let Some(failed) = &w.last_failed_backup_object {
            text.push_str(&format!("\nLast failed backup: {failed}"));
        }
        for note in &w.notes {
            text.push_str("\n- ");
            text.push_str(note);
        }
        Ok(success(&w, text, a.format))
    })
}

/// The recovery target as the operator's webhook accepts it, or the
/// refusal. `targetTime` is written back normalized to RFC 3339 UTC.
fn recovery_target(t: &args::RecoveryTarget, now: i64) -> Result<(Map<String, Value>, Option<i64>), ToolOutput> {
    let given: Vec<&str> = [
        ("target_time", t.target_time.is_some()),
        ("target_lsn", t.target_lsn.is_some()),
        ("target_xid", t.target_xid.is_some()),
        ("target_name", t.target_name.is_some()),
        ("target_immediate", t.target_immediate),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if given.len() > 1 {
        return Err(failure(
            format!(
                "Recovery targets are mutually exclusive (the operator refuses more than one); given: {}. Nothing \
                 was created.",
                given.join(", ")
            ),
            "Keep one target.",
        ));
    }
    let mut target = Map::new();
    let mut time = None;
    if let Some(text) = &t.target_time {
        let Some((seconds, nanos)) = parse_rfc3339(text) else {
            return Err(failure(
                format!("`target_time` `{text}` is not an RFC 3339 time. Nothing was created."),
                "Write it like 2026-12-05T14:05:00Z (UTC) or with an offset (+01:00).",
            ));
        };
        if seconds > now + 60 {
            return Err(failure(
                format!(
                    "`target_time` {} is in the future (now {}). Nothing was created.",
                    format_seconds(seconds),
                    format_seconds(now)
                ),
                "Pick a time in the past, inside get_recovery_window's window.",
            ));
        }
        let mut normalized = format_seconds(seconds);
        if nanos > 0 {
            normalized.truncate(normalized.len() - 1);
            normalized.push_str(&format!(".{:06}Z", nanos / 1000));
        }
        target.insert("targetTime".into(), json!(normalized));
        time = Some(seconds);
    }
    if let Some(lsn) = &t.target_lsn {
        target.insert("targetLSN".into(), json!(lsn));
    }
    if let Some(xid) = &t.target_xid {
        if xid.parse::<u32>().is_err() {
            return Err(failure(
                format!("`target_xid` {xid} is not a 32-bit transaction id. Nothing was created."),
                "PostgreSQL transaction ids are at most 4294967295.",
            ));
        }
        target.insert("targetXID".into(), json!(xid));
    }
    if let Some(name) = &t.target_name {
        if name.chars().any(|c| c.is_control()) {
            return Err(failure(
                "`target_name` contains control characters. Nothing was created.",
                "Use the restore point's name as created with pg_create_restore_point.",
            ));
        }
        target.insert("targetName".into(), json!(name));
    }
    if t.target_immediate {
        target.insert("targetImmediate".into(), json!(true));
    }
    if let Some(exclusive) = t.exclusive {
        target.insert("exclusive".into(), json!(exclusive));
    }
    if let Some(tli) = &t.target_tli {
        target.insert("targetTLI".into(), json!(tli));
    }
    if let Some(id) = &t.backup_id {
        target.insert("backupID".into(), json!(id));
    }
    Ok((target, time))
}

fn snapshot_ref(name: &str) -> Value {
    json!({"name": name, "kind": "VolumeSnapshot", "apiGroup": "snapshot.storage.k8s.io"})
}

/// Checks a VolumeSnapshot exists and is ready; its restore size.
fn ready_snapshot(ns: &str, name: &str) -> Result<Option<String>, ToolOutput> {
    let snapshot = kube::get(&object(volume_snapshots(), ns, name))?;
    if snapshot.pointer("/status/readyToUse").and_then(Value::as_bool) != Some(true) {
        return Err(failure(
            format!("VolumeSnapshot {ns}/{name} is not ready to use. Nothing was created."),
            "Wait until its `status.readyToUse` is true (the backup that took it shows its phase).",
        ));
    }
    Ok(model::text(&snapshot, "/status/restoreSize"))
}

pub fn restore(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::RestoreCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let now = now_unix();
        let sources = [
            a.source.backup.is_some(),
            a.source.volume_snapshots.is_some(),
            a.source.object_store.is_some(),
        ];
        let snapshots_with_wal = a.source.volume_snapshots.is_some() && a.source.object_store.is_some();
        if sources.iter().filter(|s| **s).count() != 1 && !snapshots_with_wal {
            return Err(failure(
                "Give exactly one source: `backup`, `volume_snapshots` or `object_store` (volume snapshots may add \
                 `object_store` for the WAL of a point-in-time target). Nothing was created.",
                "list_backups shows the backups; get_recovery_window what they can restore.",
            ));
        }
        if kube::get_optional(&object(cnpg("clusters"), &ns, &a.name))?.is_some() {
            return Err(failure(
                format!(
                    "Cluster {ns}/{} exists already: a restore always creates a new cluster. Nothing was created.",
                    a.name
                ),
                "Pick a new name; the existing cluster is left as it is.",
            ));
        }
        let (mut target, target_time) = recovery_target(&a.recovery_target, now)?;
        let mut recovery = Map::new();
        let mut notes = Vec::new();
        let mut source_cluster: Option<Value> = None;
        let mut external = Vec::new();
        let mut restore_size: Option<String> = None;
        let mut wal_size: Option<String> = None;

        if let Some(backup_name) = &a.source.backup {
            let backup = kube::get(&object(cnpg("backups"), &ns, backup_name))?;
            let info = model::backup_info(&backup);
            if info.phase.as_deref() != Some("completed") {
                return Err(failure(
                    format!(
                        "Backup {ns}/{backup_name} is not completed (phase {}): it cannot be restored. Nothing was created.",
                        info.phase.as_deref().unwrap_or("none")
                    ),
                    "Pick a completed backup (list_backups), or wait_for_backup first.",
                ));
            }
            if let (Some(wanted), Some(end)) = (target_time, model::seconds(&backup, "/status/stoppedAt"))
                && wanted < end
            {
                return Err(failure(
                    format!(
                        "`target_time` {} is before backup {backup_name} ended ({}): recovery replays WAL forward \
                             from a backup, never backward. Nothing was created.",
                        format_seconds(wanted),
                        format_seconds(end)
                    ),
                    "Use an older completed backup (list_backups), or omit `backup` and let get_recovery_window guide you.",
                ));
            }
            let label_target = target.contains_key("targetName")
                || target.contains_key("targetXID")
                || target.contains_key("targetImmediate");
            if label_target
                && !target.contains_key("backupID")
                && let Some(id) = &info.backup_id
            {
                // The webhook needs backupID for targets that are not a time.
                target.insert("backupID".into(), json!(id));
                notes.push(format!(
                    "`backupID` {id} taken from the backup's status (the operator needs it for this target)."
                ));
            }
            source_cluster = kube::get_optional(&object(cnpg("clusters"), &ns, &info.cluster))?;
            if info.method == "plugin" {
                // A plugin Backup has no destination in its status, so
                // `recovery.backup` cannot restore it: recover from the
                // source's store with the backup's id instead.
                let Some((store, server)) = source_cluster.as_ref().and_then(plugin_store) else {
                    return Err(failure(
                        format!(
                            "Backup {backup_name} was taken by the barman-cloud plugin and its cluster {} (whose \
                             `spec.plugins` names the ObjectStore) cannot be read. Nothing was created.",
                            info.cluster
                        ),
                        "Give `source.object_store` (ObjectStore and server name) and `recovery_target.backup_id` instead.",
                    ));
                };
                let Some(id) = info.backup_id.clone() else {
                    return Err(failure(
                        format!("Backup {backup_name} records no backup id. Nothing was created."),
                        "Use another completed backup.",
                    ));
                };
                target.entry("backupID").or_insert(json!(id));
                external.push(json!({
                    "name": "origin",
                    "plugin": {"name": BARMAN_CLOUD_PLUGIN,
                               "parameters": {"barmanObjectName": store, "serverName": server}},
                }));
                recovery.insert("source".into(), json!("origin"));
                notes.push(format!(
                    "Plugin backup: restored through the barman-cloud plugin from server `{server}` of ObjectStore \
                     {store} with backup id {id} (the operator cannot restore a plugin Backup by name)."
                ));
            } else {
                recovery.insert("backup".into(), json!({"name": backup_name}));
            }
        }
        if let Some(snapshots) = &a.source.volume_snapshots {
            restore_size = ready_snapshot(&ns, &snapshots.storage)?;
            let mut section = json!({"storage": snapshot_ref(&snapshots.storage)});
            if let Some(wal) = &snapshots.wal_storage {
                wal_size = ready_snapshot(&ns, wal)?.or_else(|| restore_size.clone());
                section["walStorage"] = snapshot_ref(wal);
            }
            recovery.insert("volumeSnapshots".into(), section);
            if target.contains_key("backupID") {
                return Err(failure(
                    "`backup_id` cannot be used with volume snapshots (the operator refuses it). Nothing was created.",
                    "Leave `backup_id` out.",
                ));
            }
        }
        if let Some(store) = &a.source.object_store {
            let source_name = store.source_name.clone().unwrap_or_else(|| "origin".into());
            let mut read_notes = Vec::new();
            if let Some(found) = optional_read(&object(object_stores(), &ns, &store.object_store), &mut read_notes)
                && let Some(window) = store_window(&found, &store.server_name)
                && let (Some(wanted), Some(first)) = (
                    target_time,
                    window
                        .get("firstRecoverabilityPoint")
                        .and_then(Value::as_str)
                        .and_then(parse_rfc3339),
                )
                && wanted < first.0
            {
                return Err(failure(
                    format!(
                        "`target_time` {} is before the first recoverability point of server `{}` in ObjectStore {} ({}). \
                         Nothing was created.",
                        format_seconds(wanted),
                        store.server_name,
                        store.object_store,
                        format_seconds(first.0)
                    ),
                    "Pick a time inside the window (get_recovery_window of the source cluster).",
                ));
            }
            notes.extend(
                read_notes
                    .into_iter()
                    .map(|n| format!("ObjectStore {}: {n} The window was not checked.", store.object_store)),
            );
            external.push(json!({
                "name": source_name,
                "plugin": {"name": BARMAN_CLOUD_PLUGIN,
                           "parameters": {"barmanObjectName": store.object_store, "serverName": store.server_name}},
            }));
            recovery.insert("source".into(), json!(source_name));
            notes.push(format!(
                "The new cluster must not archive WAL into server `{}` of that store; configure its own backups with \
                 configure_cluster_backup after it is up.",
                store.server_name
            ));
        }
        // The window of the source cluster, where there is one.
        if let (Some(cluster), Some(wanted)) = (&source_cluster, target_time)
            && let Some(first) = model::seconds(cluster, "/status/firstRecoverabilityPoint")
            && wanted < first
        {
            return Err(failure(
                format!(
                    "`target_time` {} is before the first recoverability point of cluster {} ({}). Nothing was created.",
                    format_seconds(wanted),
                    kube::name_of(cluster),
                    format_seconds(first)
                ),
                "Pick a time inside get_recovery_window's window.",
            ));
        }
        // Past the backup's end the target needs archived WAL; where the
        // source says archiving fails, PostgreSQL would stop short of it.
        if let (Some(cluster), Some(wanted), Some(backup_name)) = (&source_cluster, target_time, &a.source.backup) {
            let archiving = model::archiving(cluster);
            if archiving.status.as_deref() == Some("False") {
                return Err(failure(
                    format!(
                        "`target_time` {} lies after backup {backup_name}, but cluster {} reports WAL archiving \
                         failing ({}): the WAL to reach it may be missing. Nothing was created.",
                        format_seconds(wanted),
                        kube::name_of(cluster),
                        archiving.message.as_deref().unwrap_or("no message")
                    ),
                    "Restore without a target (to the backup's end), or fix archiving first (get_backup_configuration).",
                ));
            }
            if archiving.status.is_none() {
                notes.push(format!(
                    "Cluster {} does not report WAL archiving (no ContinuousArchiving condition): the target is \
                     reached only if the WAL up to it was archived.",
                    kube::name_of(cluster)
                ));
            }
        }
        if target_time.is_some() && a.source.volume_snapshots.is_some() && a.source.object_store.is_none() {
            return Err(failure(
                "A point in time after a volume snapshot needs the source's archived WAL: add `object_store` (the \
                 ObjectStore and server name the source archived to). Nothing was created.",
                "Or leave out the target to restore the snapshot as it is.",
            ));
        }
        if !target.is_empty() {
            recovery.insert("recoveryTarget".into(), Value::Object(target));
        }
        if let Some(database) = &a.database {
            recovery.insert("database".into(), json!(database));
        }
        if let Some(owner) = &a.owner {
            recovery.insert("owner".into(), json!(owner));
        }
        let source_spec = |pointer: &str| source_cluster.as_ref().and_then(|c| c.pointer(pointer)).cloned();
        let size = a
            .storage_size
            .clone()
            .or_else(|| source_spec("/spec/storage/size").and_then(|v| v.as_str().map(str::to_string)))
            .or(restore_size)
            .unwrap_or_else(|| "10Gi".into());
        let mut storage = json!({"size": size});
        if let Some(class) = source_spec("/spec/storage/storageClass") {
            storage["storageClass"] = class;
        }
        let mut spec = Map::new();
        spec.insert("instances".into(), json!(a.instances.unwrap_or(1)));
        match (
            &a.container_image,
            source_spec("/spec/imageCatalogRef"),
            source_spec("/spec/imageName"),
        ) {
            (Some(image), _, _) => {
                spec.insert("imageName".into(), json!(image));
            }
            (None, Some(catalog), _) => {
                spec.insert("imageCatalogRef".into(), catalog);
            }
            (None, None, Some(image)) => {
                spec.insert("imageName".into(), image);
            }
            (None, None, None) => {
                if let Some(image) = source_cluster.as_ref().and_then(|c| model::text(c, "/status/image")) {
                    spec.insert("imageName".into(), json!(image));
                } else {
                    notes.push(
                        "Image: the operator's default; it must be the PostgreSQL major version of the backup \
                         (set `container_image` otherwise)."
                            .into(),
                    );
                }
            }
        }
        spec.insert("storage".into(), storage);
        let wal_wanted = a
            .source
            .volume_snapshots
            .as_ref()
            .is_some_and(|s| s.wal_storage.is_some())
            || source_spec("/spec/walStorage").is_some();
        if wal_wanted
            && let Some(wal) =
                wal_size.or_else(|| source_spec("/spec/walStorage/size").and_then(|v| v.as_str().map(str::to_string)))
        {
            spec.insert("walStorage".into(), json!({"size": wal}));
        }
        spec.insert("bootstrap".into(), json!({"recovery": recovery}));
        if !external.is_empty() {
            spec.insert("externalClusters".into(), Value::Array(external));
        }
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": a.name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
            "spec": spec,
        });
        kube::create(&collection(cnpg("clusters"), Some(&ns)), &manifest, a.dry_run)?;
        notes.push(
            "The source is not changed. The operator runs a recovery job for the first instance; follow with \
             get_cluster_status."
                .into(),
        );
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"name": a.name, "namespace": ns})),
            notes,
        };
        let from = match (&a.source.backup, &a.source.volume_snapshots, &a.source.object_store) {
            (Some(b), _, _) => format!("backup {b}"),
            (None, Some(s), _) => format!("volume snapshot {}", s.storage),
            (None, None, Some(o)) => format!("server `{}` of ObjectStore {}", o.server_name, o.object_store),
            _ => "the source".into(),
        };
        Ok(mutation.output(format!(
            "{} cluster {ns}/{} restored from {from}{}.",
            if a.dry_run { "Would create" } else { "Created" },
            a.name,
            target_time
                .map(|t| format!(" to {}", format_seconds(t)))
                .unwrap_or_default()
        )))
    })
}
