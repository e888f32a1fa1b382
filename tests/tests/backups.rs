//! The `cnpg-backups` tools through MCP over HTTP against the real
//! CloudNativePG operator (v1.30.0) and its webhooks in the test bed.
//!
//! Real: the operator's admission rules for Clusters, Backups and
//! ScheduledBackups; its Backup controller (phases `started`, `failed` with
//! the error it records, one backup at a time); its ScheduledBackup
//! controller (the Backups it creates, their names and labels, last/next
//! schedule times); the garbage collector (Backups owned by a schedule);
//! the recovery Job the operator starts for a restored cluster.
//!
//! Not real, because nothing runs PostgreSQL or a CSI snapshotter here:
//! a barmanObjectStore backup fails when the operator execs into the kwok
//! pod; an online volume snapshot backup stays `started` (the instance
//! manager never answers). A *completed* backup and a *ready* VolumeSnapshot
//! are written by hand where a restore needs one; each such write is
//! commented. The barman-cloud plugin and its ObjectStore CRD are not in
//! the bed (the CRD is not on the Go module proxy): the plugin paths are
//! checked by the operator's webhook (dry run) and by the component unit
//! tests.

use cnpg_mcp_tests::cnpg::{ToolServer, clusters, create, eventually, patch_status, pods, read, resource};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::TestBed;
use serde_json::{Value, json};

fn backups() -> kube::api::ApiResource {
    resource("postgresql.cnpg.io", "Backup", "backups")
}

fn scheduled_backups() -> kube::api::ApiResource {
    resource("postgresql.cnpg.io", "ScheduledBackup", "scheduledbackups")
}

fn volume_snapshots() -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: "snapshot.storage.k8s.io".into(),
        version: "v1".into(),
        api_version: "snapshot.storage.k8s.io/v1".into(),
        kind: "VolumeSnapshot".into(),
        plural: "volumesnapshots".into(),
    }
}

fn jobs() -> kube::api::ApiResource {
    resource("batch", "Job", "jobs")
}

fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

/// A one-instance cluster created through the tool, with its first pod
/// running on a kwok node.
async fn cluster_with_first_instance(tools: &mut ToolServer, bed: &TestBed, ns: &str, name: &str) {
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": name, "instances": 1, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    let pod = format!("{name}-1");
    eventually(&format!("pod {ns}/{pod} running"), || async {
        let pod = read(bed, ns, &pods(), &pod).await?;
        (pod["status"]["phase"] == json!("Running")).then_some(())
    })
    .await;
}

/// The in-tree object store settings the tests configure (no store is
/// reached: the operator's exec into the pod fails first).
fn object_store() -> Value {
    json!({"destinationPath": "s3://backups/pg", "endpointURL": "http://127.0.0.1:9",
           "s3Credentials": {"accessKeyId": {"name": "store", "key": "id"},
                             "secretAccessKey": {"name": "store", "key": "secret"}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_configuration_and_the_operators_backup_controller() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("bk-backup").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    cluster_with_first_instance(&mut tools, bed, &ns, "pg").await;

    // Not configured: refused before any write.
    let text = tools
        .fails("create_backup", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    assert!(text.contains("no backup configuration"), "{text}");
    let config = tools
        .ok(
            "get_backup_configuration",
            json!({"cluster_name": "pg", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&config)["methods_available"], json!([]));
    assert!(first_text(&config).contains("NOT configured"));

    // The deprecated in-tree store, and volume snapshots, through the webhook.
    let dry = tools
        .ok(
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "namespace": ns, "barman_object_store": object_store(),
                   "retention_policy": "7d", "dry_run": true}),
        )
        .await;
    assert!(first_text(&dry).starts_with("Dry run"), "{}", first_text(&dry));
    let stored = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert!(
        stored["spec"]["backup"].is_null(),
        "dry run stored: {}",
        stored["spec"]["backup"]
    );
    tools
        .ok(
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "namespace": ns, "barman_object_store": object_store(),
                   "retention_policy": "7d", "volume_snapshot": {"class_name": "csi-snapclass", "online": true}}),
        )
        .await;
    let config = tools
        .ok(
            "get_backup_configuration",
            json!({"cluster_name": "pg", "namespace": ns}),
        )
        .await;
    let c = structured(&config);
    assert_eq!(
        c["methods_available"],
        json!(["barmanObjectStore", "volumeSnapshot"]),
        "{c}"
    );
    assert_eq!(c["default_method"], json!("barmanObjectStore"));
    assert_eq!(c["barman_object_store_deprecated"], json!(true));
    assert_eq!(c["retention_policy"], json!("7d"));
    assert_eq!(c["volume_snapshot"]["className"], json!("csi-snapclass"));

    // The operator's rule: no WAL-archiving plugin beside barmanObjectStore.
    let text = tools
        .fails(
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "namespace": ns,
                   "barman_cloud_plugin": {"object_store": "store", "is_wal_archiver": true}}),
        )
        .await;
    assert!(
        text.contains("Cannot enable a WAL archiver plugin when barmanObjectStore is configured"),
        "{text}"
    );
    // A method the cluster has no configuration for: refused before writing.
    let text = tools
        .fails(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": ns, "method": "plugin"}),
        )
        .await;
    assert!(text.contains("not configured for `plugin`"), "{text}");
    // The Backup webhook's rule, directly.
    let rejected = cnpg_mcp_tests::cnpg::api(bed, &ns, &backups())
        .await
        .create(
            &kube::api::PostParams {
                dry_run: true,
                ..Default::default()
            },
            &serde_json::from_value(json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
                "metadata": {"name": "direct"},
                "spec": {"cluster": {"name": "pg"}, "method": "barmanObjectStore", "online": true}}))
            .unwrap(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        rejected.contains("Online parameter can be specified only if the backup method is volumeSnapshot"),
        "{rejected}"
    );
    // `online` with barmanObjectStore: refused as the webhook would.
    let text = tools
        .fails(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": ns, "online": true}),
        )
        .await;
    assert!(text.contains("volume snapshot backups only"), "{text}");

    // A barmanObjectStore backup (the default method here): the operator
    // starts it and fails it when it cannot exec the backup in the pod.
    let dry = tools
        .ok(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": ns, "name": "first", "dry_run": true}),
        )
        .await;
    assert_eq!(
        structured(&dry)["request"]["spec"]["method"],
        json!("barmanObjectStore")
    );
    assert!(read(bed, &ns, &backups(), "first").await.is_none());
    let created = tools
        .ok(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": ns, "name": "first", "wait": true, "timeout": 90}),
        )
        .await;
    let info = &structured(&created)["result"];
    assert_eq!(info["phase"], json!("failed"), "{}", first_text(&created));
    assert!(info["error"].as_str().is_some_and(|e| !e.is_empty()), "{info}");
    assert_eq!(
        info["instance"],
        json!("pg-1"),
        "the operator chose the only instance: {info}"
    );
    let status = tools
        .ok("get_backup_status", json!({"name": "first", "namespace": ns}))
        .await;
    assert_eq!(structured(&status)["method"], json!("barmanObjectStore"));
    assert!(first_text(&status).contains("Failed"), "{}", first_text(&status));
    let cluster = tools
        .ok("get_cluster_status", json!({"name": "pg", "namespace": ns}))
        .await;
    assert!(
        structured(&cluster)["backups"]["newest_failed_backup"]
            .as_str()
            .is_some_and(|f| f.starts_with("first: ")),
        "{}",
        structured(&cluster)["backups"]
    );
    let window = tools
        .ok("get_recovery_window", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    let w = structured(&window);
    assert!(w["first_recoverability_point"].is_null(), "{w}");
    assert!(
        w["last_failed_backup_object"]
            .as_str()
            .is_some_and(|f| f.starts_with("first")),
        "{w}"
    );

    // An online volume snapshot backup: the operator starts it and waits
    // for the instance manager, which never answers here.
    tools
        .ok(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": ns, "name": "snap", "method": "volumeSnapshot"}),
        )
        .await;
    let waited = tools
        .ok(
            "wait_for_backup",
            json!({"name": "snap", "namespace": ns, "timeout": 5}),
        )
        .await;
    assert!(
        first_text(&waited).contains("did not finish within"),
        "{}",
        first_text(&waited)
    );
    eventually("snapshot backup started", || async {
        let backup = read(bed, &ns, &backups(), "snap").await?;
        (backup["status"]["phase"] == json!("started")).then_some(())
    })
    .await;
    let listed = tools
        .ok("list_backups", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    let names: Vec<&str> = structured(&listed)["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["snap", "first"], "newest first");

    // Deleting: confirmation, dry run, then for real; the answer says
    // what stays.
    let refused = tools
        .session
        .call_tool("delete_backup", json!({"name": "first", "namespace": ns}))
        .await;
    assert_eq!(refused["isError"], json!(true));
    assert_eq!(
        structured(&refused)["confirming_call"]["arguments"]["confirm_deletion"],
        json!(true)
    );
    assert!(
        first_text(&refused).contains("stays in the object store"),
        "{}",
        first_text(&refused)
    );
    tools
        .ok(
            "delete_backup",
            json!({"name": "first", "namespace": ns, "dry_run": true}),
        )
        .await;
    assert!(read(bed, &ns, &backups(), "first").await.is_some());
    tools
        .ok(
            "delete_backup",
            json!({"name": "first", "namespace": ns, "confirm_deletion": true}),
        )
        .await;
    assert!(read(bed, &ns, &backups(), "first").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_checked_and_the_operator_runs_them() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("bk-schedule").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    cluster_with_first_instance(&mut tools, bed, &ns, "pg").await;
    tools
        .ok(
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "namespace": ns, "barman_object_store": object_store()}),
        )
        .await;

    // A crontab line would run hourly at :02 in the operator: refused,
    // with the six-field spelling.
    let text = tools
        .fails(
            "create_scheduled_backup",
            json!({"cluster_name": "pg", "namespace": ns, "schedule": "0 2 * * *"}),
        )
        .await;
    assert!(text.contains("`0 0 2 * * *`"), "{text}");
    let text = tools
        .fails(
            "create_scheduled_backup",
            json!({"cluster_name": "pg", "namespace": ns, "schedule": "0 61 * * * *"}),
        )
        .await;
    assert!(text.contains("above the maximum 59"), "{text}");
    assert!(
        tools
            .session
            .call_tool("list_scheduled_backups", json!({"namespace": ns}))
            .await["structuredContent"]["schedules"]
            == json!([]),
        "refusals stored nothing"
    );
    // The operator's own rules for what the tool refuses first: its webhook
    // parses the schedule with the same library, and only warns about five
    // fields.
    let schedules_api = cnpg_mcp_tests::cnpg::api(bed, &ns, &scheduled_backups()).await;
    let manifest = |name: &str, schedule: &str| -> kube::api::DynamicObject {
        serde_json::from_value(json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
            "metadata": {"name": name}, "spec": {"cluster": {"name": "pg"}, "schedule": schedule}}))
        .unwrap()
    };
    let rejected = schedules_api
        .create(
            &kube::api::PostParams {
                dry_run: true,
                ..Default::default()
            },
            &manifest("bad", "0 61 * * * *"),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(rejected.contains("above maximum (59)"), "{rejected}");
    schedules_api
        .create(
            &kube::api::PostParams {
                dry_run: true,
                ..Default::default()
            },
            &manifest("five", "0 2 * * *"),
        )
        .await
        .expect("five fields pass the webhook (with a warning) although they mean seconds first");

    let created = tools
        .ok(
            "create_scheduled_backup",
            json!({"cluster_name": "pg", "namespace": ns, "name": "nightly", "schedule": "0 0 3 * * *",
                   "immediate": true, "backup_owner_reference": "self"}),
        )
        .await;
    let runs = structured(&created)["result"]["next_runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 3);
    assert!(
        runs.iter().all(|r| r.as_str().unwrap().ends_with("T03:00:00Z")),
        "{runs:?}"
    );

    // `immediate`: the operator creates the first Backup right away,
    // named and labelled after the schedule, owned by it.
    let backup = eventually("the schedule's first Backup", || async {
        let list = cnpg_mcp_tests::cnpg::api(bed, &ns, &backups())
            .await
            .list(&kube::api::ListParams::default().labels("cnpg.io/scheduled-backup=nightly"))
            .await
            .ok()?;
        let item = list.items.into_iter().next()?;
        Some(serde_json::to_value(item).unwrap())
    })
    .await;
    let backup_name = backup["metadata"]["name"].as_str().unwrap().to_string();
    assert!(
        backup_name.starts_with("nightly-") && backup_name.len() == "nightly-".len() + 14,
        "{backup_name}"
    );
    assert_eq!(backup["metadata"]["labels"]["cnpg.io/immediateBackup"], json!("true"));
    assert_eq!(
        backup["metadata"]["ownerReferences"][0]["kind"],
        json!("ScheduledBackup")
    );
    eventually("last schedule time", || async {
        let listed = read(bed, &ns, &scheduled_backups(), "nightly").await?;
        listed["status"]["lastScheduleTime"].is_string().then_some(())
    })
    .await;
    let listed = tools
        .ok("list_scheduled_backups", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    let s = &structured(&listed)["schedules"][0];
    assert_eq!(s["name"], json!("nightly"));
    assert!(s["last_schedule_time"].is_string(), "{s}");
    assert!(
        s["next_schedule_time"]
            .as_str()
            .is_some_and(|t| t.ends_with("T03:00:00Z")),
        "{s}"
    );
    assert_eq!(s["backups"], json!([backup_name]));
    let backups_listed = tools
        .ok("list_backups", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    assert_eq!(
        structured(&backups_listed)["backups"][0]["scheduled_by"],
        json!("nightly")
    );

    // Suspend, reschedule (checked), resume.
    tools
        .ok(
            "update_scheduled_backup",
            json!({"name": "nightly", "namespace": ns, "suspend": true}),
        )
        .await;
    let stored = read(bed, &ns, &scheduled_backups(), "nightly").await.unwrap();
    assert_eq!(stored["spec"]["suspend"], json!(true));
    let text = tools
        .fails(
            "update_scheduled_backup",
            json!({"name": "nightly", "namespace": ns, "schedule": "@fortnightly"}),
        )
        .await;
    assert!(text.contains("unknown descriptor"), "{text}");
    let changed = tools
        .ok(
            "update_scheduled_backup",
            json!({"name": "nightly", "namespace": ns, "schedule": "@weekly", "suspend": false}),
        )
        .await;
    assert!(first_text(&changed).contains("resumed"), "{}", first_text(&changed));
    let stored = read(bed, &ns, &scheduled_backups(), "nightly").await.unwrap();
    assert_eq!(stored["spec"]["schedule"], json!("@weekly"));
    assert_eq!(stored["spec"]["suspend"], json!(false));

    // Deleting the schedule: its own Backups go with it (garbage collector).
    let text = tools
        .fails("delete_scheduled_backup", json!({"name": "nightly", "namespace": ns}))
        .await;
    assert!(text.contains(&backup_name), "{text}");
    tools
        .ok(
            "delete_scheduled_backup",
            json!({"name": "nightly", "namespace": ns, "confirm_deletion": true}),
        )
        .await;
    eventually("the owned Backup collected", || async {
        read(bed, &ns, &backups(), &backup_name).await.is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restores_create_a_new_cluster_and_never_touch_the_source() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("bk-restore").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    cluster_with_first_instance(&mut tools, bed, &ns, "pg").await;
    tools
        .ok(
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "namespace": ns, "barman_object_store": object_store()}),
        )
        .await;
    tools
        .ok(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": ns, "name": "base", "wait": true, "timeout": 90}),
        )
        .await;
    // The operator failed it (no PostgreSQL): a failed backup is refused.
    let text = tools
        .fails(
            "restore_postgres_cluster",
            json!({"name": "pg-copy", "namespace": ns, "source": {"backup": "base"}}),
        )
        .await;
    assert!(text.contains("not completed"), "{text}");

    // Emulated: what the instance manager reports when a base backup
    // succeeds (no PostgreSQL runs here). The operator leaves a backup
    // that is done alone.
    patch_status(
        bed,
        &ns,
        &backups(),
        "base",
        json!({"phase": "completed", "method": "barmanObjectStore",
               "startedAt": "2026-12-01T10:00:00Z", "stoppedAt": "2026-12-01T10:05:00Z",
               "backupId": "20261201T100000", "beginWal": "000000010000000000000002",
               "endWal": "000000010000000000000003", "beginLSN": "0/2000028", "endLSN": "0/3000100",
               "instanceID": {"podName": "pg-1"}, "error": ""}),
    )
    .await;
    let source_before = read(bed, &ns, &clusters(), "pg").await.unwrap()["spec"].clone();

    for (arguments, needle) in [
        (
            json!({"target_time": "2026-12-01T09:00:00Z"}),
            "before backup base ended",
        ),
        (json!({"target_time": "2099-01-01T00:00:00Z"}), "in the future"),
        (
            json!({"target_time": "2026-12-01T11:00:00Z", "target_lsn": "0/3000200"}),
            "mutually exclusive",
        ),
        (json!({"target_xid": "4294967296"}), "32-bit"),
    ] {
        let text = tools
            .fails(
                "restore_postgres_cluster",
                json!({"name": "pg-copy", "namespace": ns, "source": {"backup": "base"},
                       "recovery_target": arguments}),
            )
            .await;
        assert!(text.contains(needle), "{arguments}: {text}");
    }
    let text = tools
        .fails(
            "restore_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "source": {"backup": "base"}}),
        )
        .await;
    assert!(text.contains("exists already"), "{text}");

    // Dry run: the complete manifest, admitted by the operator's webhook.
    let dry = tools
        .ok(
            "restore_postgres_cluster",
            json!({"name": "pg-copy", "namespace": ns, "source": {"backup": "base"},
                   "recovery_target": {"target_time": "2026-12-01T11:30:00+01:00"}, "dry_run": true}),
        )
        .await;
    let manifest = &structured(&dry)["request"];
    assert_eq!(
        manifest["spec"]["bootstrap"]["recovery"]["backup"]["name"],
        json!("base")
    );
    assert_eq!(
        manifest["spec"]["bootstrap"]["recovery"]["recoveryTarget"]["targetTime"],
        json!("2026-12-01T10:30:00Z"),
        "normalized to UTC"
    );
    assert_eq!(manifest["spec"]["storage"]["size"], json!("1Gi"), "the source's size");
    assert!(first_text(&dry).contains("bootstrap:"), "YAML manifest shown");
    assert!(read(bed, &ns, &clusters(), "pg-copy").await.is_none());
    // A restore point by name needs the backup id: taken from the backup.
    let dry = tools
        .ok(
            "restore_postgres_cluster",
            json!({"name": "pg-copy", "namespace": ns, "source": {"backup": "base"},
                   "recovery_target": {"target_name": "before-migration"}, "dry_run": true}),
        )
        .await;
    assert_eq!(
        structured(&dry)["request"]["spec"]["bootstrap"]["recovery"]["recoveryTarget"]["backupID"],
        json!("20261201T100000")
    );

    // For real: the operator starts the recovery of the first instance.
    tools
        .ok(
            "restore_postgres_cluster",
            json!({"name": "pg-copy", "namespace": ns, "source": {"backup": "base"},
                   "recovery_target": {"target_time": "2026-12-01T10:30:00Z"}}),
        )
        .await;
    eventually("the operator's recovery job", || async {
        read(bed, &ns, &jobs(), "pg-copy-1-full-recovery").await.map(|_| ())
    })
    .await;
    let source_after = read(bed, &ns, &clusters(), "pg").await.unwrap()["spec"].clone();
    assert_eq!(source_before, source_after, "the source cluster's spec is unchanged");

    // From volume snapshots: a snapshot that is not ready is refused.
    create(
        bed,
        &ns,
        &volume_snapshots(),
        json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
               "metadata": {"name": "pg-1-snap"},
               "spec": {"source": {"persistentVolumeClaimName": "pg-1"}}}),
    )
    .await;
    let text = tools
        .fails(
            "restore_postgres_cluster",
            json!({"name": "pg-snap", "namespace": ns, "source": {"volume_snapshots": {"storage": "pg-1-snap"}}}),
        )
        .await;
    assert!(text.contains("not ready"), "{text}");
    // Emulated: the CSI snapshotter reporting the snapshot ready.
    patch_status(
        bed,
        &ns,
        &volume_snapshots(),
        "pg-1-snap",
        json!({"readyToUse": true, "restoreSize": "1Gi"}),
    )
    .await;
    let dry = tools
        .ok(
            "restore_postgres_cluster",
            json!({"name": "pg-snap", "namespace": ns, "source": {"volume_snapshots": {"storage": "pg-1-snap"}},
                   "dry_run": true}),
        )
        .await;
    assert_eq!(
        structured(&dry)["request"]["spec"]["bootstrap"]["recovery"]["volumeSnapshots"]["storage"]["kind"],
        json!("VolumeSnapshot")
    );
    let text = tools
        .fails(
            "restore_postgres_cluster",
            json!({"name": "pg-snap", "namespace": ns, "source": {"volume_snapshots": {"storage": "pg-1-snap"}},
                   "recovery_target": {"target_time": "2026-12-01T10:30:00Z"}}),
        )
        .await;
    assert!(text.contains("archived WAL"), "{text}");

    // From an object store through the barman-cloud plugin: admitted by
    // the webhook; the ObjectStore CRD is absent, which the answer says.
    let dry = tools
        .ok(
            "restore_postgres_cluster",
            json!({"name": "pg-far", "namespace": ns,
                   "source": {"object_store": {"object_store": "store", "server_name": "pg"}},
                   "recovery_target": {"target_lsn": "0/3000200"}, "dry_run": true}),
        )
        .await;
    let manifest = &structured(&dry)["request"]["spec"];
    assert_eq!(manifest["bootstrap"]["recovery"]["source"], json!("origin"));
    assert_eq!(
        manifest["externalClusters"][0]["plugin"]["parameters"],
        json!({"barmanObjectName": "store", "serverName": "pg"})
    );
    assert!(
        first_text(&dry).contains("window was not checked"),
        "{}",
        first_text(&dry)
    );
}
