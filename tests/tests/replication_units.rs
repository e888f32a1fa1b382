//! Unit tests of the `cnpg-replication`, `cnpg-poolers` and `cnpg-operations` components'
//! branching logic under wasmtime with a scripted `k8s` host
//! (`cnpg_mcp::testkit`), for paths the bed cannot reach: a distributed
//! replica topology with a real demotion token needs running instance
//! managers, and an in-place restart needs a primary the operator reports.
//! `replication.rs`, `poolers.rs` and `operations.rs` run the tools against the
//! real operator.

use cnpg_mcp::testkit::{ClientScript, Outcome, Step};
use cnpg_mcp_tests::units::{NS, clean, harness, ok};
use serde_json::{Value, json};

fn patch_of(outcome: &Outcome) -> Value {
    outcome
        .exchanges
        .iter()
        .find(|e| e.verb == "patch")
        .and_then(|e| e.body.as_ref())
        .map(|b| b["merge-patch"].clone())
        .unwrap_or_else(|| panic!("no patch sent: {:?}", outcome.exchanges))
}

/// Cluster `b` of a distributed topology, replicating from `a`.
fn distributed_replica() -> Value {
    json!({"metadata": {"name": "b", "namespace": NS, "resourceVersion": "9"},
           "spec": {"replica": {"primary": "a", "source": "a"},
                    "externalClusters": [{"name": "a", "connectionParameters": {"host": "a-rw"}},
                                         {"name": "b", "connectionParameters": {"host": "b-rw"}}]}})
}

#[tokio::test]
async fn a_distributed_replica_is_promoted_with_the_former_primarys_demotion_token() {
    let demoted = json!({"metadata": {"name": "a"}, "spec": {"replica": {"primary": "b", "source": "b"}},
                         "status": {"demotionToken": "eyJ0b2tlbiI6dHJ1ZX0="}});
    let outcome = harness("cnpg_replication")
        .call(
            "promote_replica_cluster",
            json!({"name": "b", "namespace": NS, "confirm_promotion": true}),
            vec![
                ok("get", "clusters", Some("b"), distributed_replica()),
                ok("get", "clusters", Some("a"), demoted),
                ok("patch", "clusters", Some("b"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    assert_eq!(
        patch_of(&outcome),
        json!({"spec": {"replica": {"primary": "b", "promotionToken": "eyJ0b2tlbiI6dHJ1ZX0="}}})
    );
}

#[tokio::test]
async fn without_a_demotion_token_the_promotion_is_refused_before_any_write() {
    let still_primary = json!({"metadata": {"name": "a"}, "spec": {"replica": {"primary": "a", "source": "b"}}});
    let outcome = harness("cnpg_replication")
        .call(
            "promote_replica_cluster",
            json!({"name": "b", "namespace": NS, "confirm_promotion": true}),
            vec![
                ok("get", "clusters", Some("b"), distributed_replica()),
                ok("get", "clusters", Some("a"), still_primary),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(outcome.text.contains("must be demoted first"), "{}", outcome.text);
}

#[tokio::test]
async fn a_subscription_needs_connection_parameters_on_its_external_cluster() {
    let cluster = json!({"metadata": {"name": "dst", "namespace": NS},
        "spec": {"externalClusters": [{"name": "archive",
                 "plugin": {"name": "barman-cloud.cloudnative-pg.io", "parameters": {"barmanObjectName": "s"}}}]}});
    let outcome = harness("cnpg_replication")
        .call(
            "create_subscription",
            json!({"cluster_name": "dst", "namespace": NS, "subscription_name": "s", "dbname": "app",
                   "publication_name": "p", "external_cluster": "archive"}),
            vec![ok("get", "clusters", Some("dst"), cluster)],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(outcome.text.contains("no connection parameters"), "{}", outcome.text);
}

#[tokio::test]
async fn replacing_an_external_cluster_keeps_the_others_under_an_optimistic_lock() {
    let outcome = harness("cnpg_replication")
        .call(
            "add_external_cluster",
            json!({"cluster_name": "b", "namespace": NS, "name": "a", "replace": true,
                   "connection_parameters": {"host": "a-rw.other.svc"},
                   "ssl_root_cert_secret": {"name": "a-ca", "key": "ca.crt"}}),
            vec![
                ok("get", "clusters", Some("b"), distributed_replica()),
                ok("patch", "clusters", Some("b"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    assert_eq!(
        patch_of(&outcome),
        json!({"metadata": {"resourceVersion": "9"},
               "spec": {"externalClusters": [
                   {"name": "a", "connectionParameters": {"host": "a-rw.other.svc"},
                    "sslRootCert": {"name": "a-ca", "key": "ca.crt"}},
                   {"name": "b", "connectionParameters": {"host": "b-rw"}}]}})
    );
}

#[tokio::test]
async fn an_entry_the_replica_follows_cannot_be_removed() {
    let outcome = harness("cnpg_replication")
        .call(
            "remove_external_cluster",
            json!({"cluster_name": "b", "namespace": NS, "name": "a", "confirm_deletion": true}),
            vec![
                ok("get", "clusters", Some("b"), distributed_replica()),
                ok(
                    "list",
                    "subscriptions",
                    None,
                    json!({"apiVersion": "v1", "kind": "List", "items": []}),
                ),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(outcome.text.contains("replica source"), "{}", outcome.text);
    assert!(outcome.text.contains("replica topology primary"), "{}", outcome.text);
}

#[tokio::test]
async fn an_unchanged_pooler_update_sends_no_patch() {
    let pooler = json!({"metadata": {"name": "pg-pooler-rw", "namespace": NS},
        "spec": {"cluster": {"name": "pg"}, "instances": 2,
                 "pgbouncer": {"poolMode": "session", "parameters": {"max_client_conn": "100"}}}});
    let outcome = harness("cnpg_poolers")
        .call(
            "update_pooler",
            json!({"name": "pg-pooler-rw", "namespace": NS, "instances": 2, "pool_mode": "session",
                   "parameters": {"max_client_conn": "100", "verbose": null}}),
            vec![ok("get", "poolers", Some("pg-pooler-rw"), pooler)],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    assert!(outcome.text.contains("nothing changed"), "{}", outcome.text);
}

#[tokio::test]
async fn a_cluster_changed_by_the_operator_meanwhile_is_read_again_and_patched_once_more() {
    let mut newer = distributed_replica();
    newer["metadata"]["resourceVersion"] = json!("10");
    let outcome = harness("cnpg_replication")
        .call(
            "add_external_cluster",
            json!({"cluster_name": "b", "namespace": NS, "name": "c", "connection_parameters": {"host": "c-rw"}}),
            vec![
                ok("get", "clusters", Some("b"), distributed_replica()),
                Step::fail(
                    "patch",
                    "postgresql.cnpg.io/clusters",
                    Some(NS),
                    Some("b"),
                    409,
                    "Conflict",
                ),
                ok("get", "clusters", Some("b"), newer),
                ok("patch", "clusters", Some("b"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let versions: Vec<Value> = outcome
        .exchanges
        .iter()
        .filter(|e| e.verb == "patch")
        .map(|e| e.body.as_ref().unwrap()["merge-patch"]["metadata"]["resourceVersion"].clone())
        .collect();
    assert_eq!(versions, [json!("9"), json!("10")]);
}

fn operations_cluster(primary: &str) -> Value {
    json!({"metadata": {"name": "pg", "namespace": NS, "resourceVersion": "5"},
           "status": {"instanceNames": ["pg-1", "pg-2"], "currentPrimary": primary,
                      "phase": "Cluster in healthy state",
                      "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady",
                                      "message": "Cluster is Ready", "lastTransitionTime": "2026-12-01T00:00:00Z"}]}})
}

#[tokio::test]
async fn restarting_the_primary_asks_for_an_in_place_restart_under_a_lock() {
    let outcome = harness("cnpg_operations")
        .call(
            "restart_postgres_cluster",
            json!({"name": "pg", "namespace": NS, "instance": "1"}),
            vec![
                ok("get", "clusters", Some("pg"), operations_cluster("pg-1")),
                ok("get", "clusters", Some("pg"), operations_cluster("pg-1")),
                ok("patch", "clusters/status", Some("pg"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let patch = patch_of(&outcome);
    assert_eq!(patch["metadata"]["resourceVersion"], json!("5"));
    assert_eq!(
        patch["status"]["phase"],
        json!("Primary instance is being restarted in-place")
    );
    assert_eq!(patch["status"]["phaseReason"], json!("Requested by the user"));
    assert_eq!(patch["status"]["conditions"][0]["status"], json!("False"));
    assert_eq!(patch["status"]["conditions"][0]["reason"], json!("ClusterIsNotReady"));
}

#[tokio::test]
async fn restarting_a_replica_recreates_its_pod() {
    let outcome = harness("cnpg_operations")
        .call(
            "restart_postgres_cluster",
            json!({"name": "pg", "namespace": NS, "instance": "pg-2"}),
            vec![
                ok("get", "clusters", Some("pg"), operations_cluster("pg-1")),
                Step::ok(
                    "get",
                    "core/pods",
                    Some(NS),
                    Some("pg-2"),
                    json!({"metadata": {"name": "pg-2", "uid": "u2"}}),
                ),
                Step::ok("delete", "core/pods", Some(NS), Some("pg-2"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    assert!(outcome.text.contains("Restarting replica pg-2"), "{}", outcome.text);
}
