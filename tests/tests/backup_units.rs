//! Unit tests of the `cnpg-backups` component's branching logic under
//! wasmtime with a scripted `k8s` host (`cnpg_mcp::testkit`): the calls it
//! makes and the bodies it sends, for the paths the test bed cannot reach
//! (the barman-cloud plugin and its ObjectStore are not installed there).
//! The integration tests (`backups.rs`) run the same tools against the
//! real operator.

use cnpg_mcp::testkit::{ClientScript, Harness, Outcome, Step};
use cnpg_mcp_tests::units::{self, NS, clean, list_of, ok};
use serde_json::{Value, json};

const PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

fn harness() -> Harness {
    units::harness("cnpg_backups")
}

fn missing(verb: &str, resource: &str, name: Option<&str>) -> Step {
    units::fail(verb, resource, name, 404, "NotFound")
}

/// A cluster archiving WAL through the barman-cloud plugin.
fn plugin_cluster() -> Value {
    json!({
        "metadata": {"name": "pg", "namespace": NS, "uid": "u-pg", "resourceVersion": "41"},
        "spec": {"instances": 3, "storage": {"size": "5Gi"}, "imageName": "postgres:17.2",
                 "plugins": [{"name": PLUGIN, "isWALArchiver": true,
                              "parameters": {"barmanObjectName": "store", "serverName": "pg-v2"}}]},
        "status": {"image": "postgres:17.2",
                   "conditions": [{"type": "ContinuousArchiving", "status": "True",
                                   "reason": "ContinuousArchivingSuccess", "message": "Continuous archiving is working"}]},
    })
}

fn plugin_backup(name: &str, stopped: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": "2026-12-01T00:00:00Z"},
        "spec": {"cluster": {"name": "pg"}, "method": "plugin", "pluginConfiguration": {"name": PLUGIN}},
        "status": {"phase": "completed", "method": "plugin", "backupId": format!("id-{name}"),
                   "startedAt": "2026-12-01T10:00:00Z", "stoppedAt": stopped},
    })
}

fn body_of<'a>(outcome: &'a Outcome, verb: &str) -> &'a Value {
    outcome
        .exchanges
        .iter()
        .find(|e| e.verb == verb)
        .and_then(|e| e.body.as_ref())
        .unwrap_or_else(|| panic!("no {verb} sent: {:?}", outcome.exchanges))
}

#[tokio::test]
async fn the_default_method_is_the_clusters_wal_archiving_plugin() {
    let outcome = harness()
        .call(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": NS, "name": "b1", "target": "primary"}),
            vec![
                ok("get", "clusters", Some("pg"), plugin_cluster()),
                ok(
                    "create",
                    "backups",
                    None,
                    json!({"metadata": {"name": "b1", "uid": "u-b1"}}),
                ),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let sent = body_of(&outcome, "create");
    assert_eq!(
        sent["spec"],
        json!({"cluster": {"name": "pg"}, "method": "plugin", "target": "primary",
               "pluginConfiguration": {"name": PLUGIN}})
    );
    assert_eq!(sent["metadata"]["labels"]["cnpg.io/cluster"], json!("pg"));
}

#[tokio::test]
async fn a_generated_backup_name_is_the_cluster_and_the_utc_time() {
    let outcome = harness()
        .call(
            "create_backup",
            json!({"cluster_name": "pg", "namespace": NS, "dry_run": true}),
            vec![
                ok("get", "clusters", Some("pg"), plugin_cluster()),
                ok("create", "backups", None, json!({"metadata": {}})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    let name = body_of(&outcome, "create")["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let stamp = name.strip_prefix("pg-").unwrap();
    assert_eq!(stamp.len(), 14, "{name}");
    assert!(stamp.bytes().all(|b| b.is_ascii_digit()), "{name}");
    assert!(outcome.exchanges.iter().all(|e| e.verb != "create" || e.dry_run));
}

#[tokio::test]
async fn a_plugin_backup_is_restored_through_the_plugin_with_its_backup_id() {
    let outcome = harness()
        .call(
            "restore_postgres_cluster",
            json!({"name": "pg-copy", "namespace": NS, "source": {"backup": "b1"},
                   "recovery_target": {"target_time": "2026-12-01T12:00:00Z"}, "dry_run": true}),
            vec![
                missing("get", "clusters", Some("pg-copy")),
                ok(
                    "get",
                    "backups",
                    Some("b1"),
                    plugin_backup("b1", "2026-12-01T10:05:00Z"),
                ),
                ok("get", "clusters", Some("pg"), plugin_cluster()),
                ok("create", "clusters", None, json!({"metadata": {"name": "pg-copy"}})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let spec = &body_of(&outcome, "create")["spec"];
    assert_eq!(
        spec["bootstrap"]["recovery"],
        json!({"source": "origin",
               "recoveryTarget": {"targetTime": "2026-12-01T12:00:00Z", "backupID": "id-b1"}})
    );
    assert_eq!(
        spec["externalClusters"],
        json!([{"name": "origin", "plugin": {"name": PLUGIN,
                 "parameters": {"barmanObjectName": "store", "serverName": "pg-v2"}}}])
    );
    assert_eq!(spec["imageName"], json!("postgres:17.2"), "the source's image");
    assert_eq!(spec["storage"]["size"], json!("5Gi"));
    assert!(
        spec.get("plugins").is_none(),
        "the copy does not archive into the source's store"
    );
}

#[tokio::test]
async fn a_target_before_the_object_stores_window_is_refused_before_any_write() {
    let store = json!({"metadata": {"name": "store"},
        "status": {"serverRecoveryWindow": {"pg-v2": {"firstRecoverabilityPoint": "2026-11-20T00:00:00Z",
                                                      "lastSuccessfulBackupTime": "2026-12-01T10:05:00Z"}}}});
    let outcome = harness()
        .call(
            "restore_postgres_cluster",
            json!({"name": "pg-copy", "namespace": NS,
                   "source": {"object_store": {"object_store": "store", "server_name": "pg-v2"}},
                   "recovery_target": {"target_time": "2026-11-19T23:59:59Z"}}),
            vec![
                missing("get", "clusters", Some("pg-copy")),
                ok("get", "barmancloud.cnpg.io/objectstores", Some("store"), store),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(
        outcome.text.contains("before the first recoverability point"),
        "{}",
        outcome.text
    );
    assert!(outcome.exchanges.iter().all(|e| e.verb == "get"));
}

#[tokio::test]
async fn the_recovery_window_of_a_plugin_cluster_comes_from_its_object_store() {
    let store = json!({"metadata": {"name": "store"},
        "status": {"serverRecoveryWindow": {"pg-v2": {"firstRecoverabilityPoint": "2026-11-20T00:00:00Z"}}}});
    let outcome = harness()
        .call(
            "get_recovery_window",
            json!({"cluster_name": "pg", "namespace": NS}),
            vec![
                ok("get", "clusters", Some("pg"), plugin_cluster()),
                ok(
                    "list",
                    "backups",
                    None,
                    list_of(vec![
                        plugin_backup("old", "2026-11-21T00:00:00Z"),
                        plugin_backup("new", "2026-12-01T10:05:00Z"),
                    ]),
                ),
                ok("get", "barmancloud.cnpg.io/objectstores", Some("store"), store),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    let w = outcome.structured.unwrap();
    assert_eq!(w["first_recoverability_point"], json!("2026-11-20T00:00:00Z"));
    assert_eq!(
        w["first_recoverability_source"],
        json!("the barman-cloud ObjectStore's recovery window")
    );
    assert_eq!(w["latest_recoverability_point"], json!("now (WAL archiving works)"));
    assert_eq!(w["per_method"][0]["completed_backups"], json!(2));
    assert_eq!(
        w["per_method"][0]["oldest_completed_backup_end"],
        json!("2026-11-21T00:00:00Z")
    );
}

#[tokio::test]
async fn the_plugin_entry_is_replaced_in_place_under_an_optimistic_lock() {
    let mut cluster = plugin_cluster();
    cluster["spec"]["plugins"] = json!([
        {"name": "other.example.io", "parameters": {"x": "1"}},
        {"name": PLUGIN, "isWALArchiver": true, "parameters": {"barmanObjectName": "old"}},
    ]);
    let outcome = harness()
        .call(
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "namespace": NS,
                   "barman_cloud_plugin": {"object_store": "store", "server_name": "pg-v3"}}),
            vec![
                ok("get", "clusters", Some("pg"), cluster.clone()),
                ok("patch", "clusters", Some("pg"), cluster),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let patch = &body_of(&outcome, "patch")["merge-patch"];
    assert_eq!(patch["metadata"]["resourceVersion"], json!("41"));
    assert_eq!(
        patch["spec"]["plugins"],
        json!([{"name": "other.example.io", "parameters": {"x": "1"}},
               {"name": PLUGIN, "isWALArchiver": true,
                "parameters": {"barmanObjectName": "store", "serverName": "pg-v3"}}])
    );
}

#[tokio::test]
async fn a_second_wal_archiver_is_refused_before_the_patch() {
    let mut cluster = plugin_cluster();
    cluster["spec"]["plugins"] = json!([{"name": "other.example.io", "isWALArchiver": true}]);
    let outcome = harness()
        .call(
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "namespace": NS, "barman_cloud_plugin": {"object_store": "store"}}),
            vec![ok("get", "clusters", Some("pg"), cluster)],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(
        outcome.text.contains("already the cluster's WAL archiver"),
        "{}",
        outcome.text
    );
}

#[tokio::test]
async fn deleting_a_snapshot_backup_says_which_snapshots_may_stay() {
    let backup = json!({"metadata": {"name": "s1", "namespace": NS, "uid": "u-s1"},
        "spec": {"cluster": {"name": "pg"}, "method": "volumeSnapshot"},
        "status": {"phase": "completed", "method": "volumeSnapshot",
                   "snapshotBackupStatus": {"elements": [{"name": "s1", "type": "PG_DATA"},
                                                         {"name": "s1-wal", "type": "PG_WAL"}]}}});
    let outcome = harness()
        .call(
            "delete_backup",
            json!({"name": "s1", "namespace": NS, "confirm_deletion": true}),
            vec![
                ok("get", "backups", Some("s1"), backup),
                ok("delete", "backups", Some("s1"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    assert!(outcome.text.contains("s1, s1-wal"), "{}", outcome.text);
    assert!(outcome.text.contains("snapshotOwnerReference"), "{}", outcome.text);
}

#[tokio::test]
async fn input_schemas_refuse_bad_arguments_before_the_component_runs() {
    for (tool, arguments) in [
        ("create_backup", json!({"cluster_name": "pg", "method": "tape"})),
        ("create_backup", json!({"cluster_name": "pg", "target": "replica"})),
        ("create_scheduled_backup", json!({"cluster_name": "pg"})),
        (
            "configure_cluster_backup",
            json!({"cluster_name": "pg", "retention_policy": "30 days"}),
        ),
        (
            "restore_postgres_cluster",
            json!({"name": "x", "source": {}, "recovery_target": {"target_lsn": "zz"}}),
        ),
        (
            "restore_postgres_cluster",
            json!({"name": "x", "source": {}, "recovery_target": {"target_tli": "current"}}),
        ),
        ("delete_backup", json!({"name": "Bad_Name"})),
    ] {
        let outcome = harness()
            .call(tool, arguments.clone(), vec![], ClientScript::default())
            .await;
        match outcome {
            Err(error) => assert!(!error.to_string().is_empty()),
            Ok(outcome) => {
                assert!(outcome.is_error, "{tool} {arguments} was accepted: {}", outcome.text);
                assert!(outcome.exchanges.is_empty(), "{tool} {arguments} made calls");
            }
        }
    }
}

#[tokio::test]
async fn a_target_past_the_backup_is_refused_while_the_source_reports_archiving_failing() {
    let mut cluster = plugin_cluster();
    cluster["spec"]["plugins"] = json!([]);
    cluster["spec"]["backup"] = json!({"barmanObjectStore": {"destinationPath": "s3://b/pg"}});
    cluster["status"]["conditions"] = json!([{"type": "ContinuousArchiving", "status": "False",
        "reason": "ContinuousArchivingFailing", "message": "unexpected failure invoking barman-cloud-wal-archive"}]);
    let backup = json!({"metadata": {"name": "b2", "namespace": NS},
        "spec": {"cluster": {"name": "pg"}, "method": "barmanObjectStore"},
        "status": {"phase": "completed", "method": "barmanObjectStore", "backupId": "id-b2",
                   "startedAt": "2026-12-01T10:00:00Z", "stoppedAt": "2026-12-01T10:05:00Z"}});
    let outcome = harness()
        .call(
            "restore_postgres_cluster",
            json!({"name": "pg-copy", "namespace": NS, "source": {"backup": "b2"},
                   "recovery_target": {"target_time": "2026-12-01T11:00:00Z"}}),
            vec![
                missing("get", "clusters", Some("pg-copy")),
                ok("get", "backups", Some("b2"), backup),
                ok("get", "clusters", Some("pg"), cluster),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(outcome.text.contains("WAL archiving failing"), "{}", outcome.text);
    assert!(outcome.text.contains("barman-cloud-wal-archive"), "{}", outcome.text);
}
