//! Unit tests of the CloudNativePG components' branching logic under
//! wasmtime with a scripted `k8s` host (`cnpg_mcp::testkit`): each
//! Kubernetes call the component makes must match the script and gets the
//! scripted answer; the tests assert on the exact calls and bodies. No API
//! server here — the integration tests (`cnpg_tools.rs`) cover that.

use cnpg_mcp::testkit::{ClientScript, Step};
use cnpg_mcp_tests::units::{NS, clean, fail, harness, list_of, ok};
use serde_json::{Value, json};

fn cluster(size: &str, instances: u32, primary: &str, healthy: &[&str]) -> Value {
    json!({
        "metadata": {"name": "pg", "namespace": NS, "uid": "u-pg", "resourceVersion": "7"},
        "spec": {"instances": instances, "storage": {"size": size}},
        "status": {"currentPrimary": primary, "targetPrimary": primary, "readyInstances": healthy.len(),
                   "instancesStatus": {"healthy": healthy}, "phase": "Cluster in healthy state"},
    })
}

fn pvc(instance: &str, requested: &str, actual: &str, conditions: Value) -> Value {
    json!({
        "metadata": {"name": instance, "uid": format!("u-{instance}"),
                     "labels": {"cnpg.io/cluster": "pg", "cnpg.io/instanceName": instance, "cnpg.io/pvcRole": "PG_DATA"}},
        "spec": {"resources": {"requests": {"storage": requested}}},
        "status": {"capacity": {"storage": actual}, "conditions": conditions},
    })
}

async fn resize_advice(cluster: Value, pvcs: Vec<Value>) -> String {
    let outcome = harness("cnpg_clusters")
        .call(
            "get_cluster_resize_status",
            json!({"name": "pg", "namespace": NS}),
            vec![
                ok("get", "clusters", Some("pg"), cluster),
                ok("list", "core/persistentvolumeclaims", None, list_of(pvcs)),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    outcome.structured.unwrap()["next_step"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn resize_next_step_advice_follows_the_volumes() {
    let healthy = ["pg-1", "pg-2", "pg-3", "pg-4"];
    // Shrink in progress: replicas with old volumes are replaced first.
    let advice = resize_advice(
        cluster("1Gi", 4, "pg-1", &healthy),
        vec![
            pvc("pg-1", "2Gi", "2Gi", json!([])),
            pvc("pg-2", "2Gi", "2Gi", json!([])),
            pvc("pg-3", "2Gi", "2Gi", json!([])),
            pvc("pg-4", "1Gi", "1Gi", json!([])),
        ],
    )
    .await;
    assert!(
        advice.contains("`pg-2`") && advice.contains("delete_cluster_instance"),
        "{advice}"
    );
    // Only the primary is left: switch over first.
    let advice = resize_advice(
        cluster("1Gi", 4, "pg-1", &healthy),
        vec![
            pvc("pg-1", "2Gi", "2Gi", json!([])),
            pvc("pg-4", "1Gi", "1Gi", json!([])),
        ],
    )
    .await;
    assert!(
        advice.contains("promote_cluster_instance") && advice.contains("pg-1"),
        "{advice}"
    );
    // Not all instances ready: wait.
    let advice = resize_advice(
        cluster("1Gi", 4, "pg-1", &["pg-1", "pg-2"]),
        vec![pvc("pg-3", "2Gi", "2Gi", json!([]))],
    )
    .await;
    assert!(advice.contains("2/4 instances ready"), "{advice}");
    // Grown volumes waiting for the file system resize.
    let pending = json!([{"type": "FileSystemResizePending", "status": "True"}]);
    let advice = resize_advice(
        cluster("2Gi", 1, "pg-1", &["pg-1"]),
        vec![pvc("pg-1", "2Gi", "1Gi", pending)],
    )
    .await;
    assert!(advice.contains("file systems grow"), "{advice}");
    // Requests raised, capacity not yet: expanding.
    let advice = resize_advice(
        cluster("2Gi", 1, "pg-1", &["pg-1"]),
        vec![pvc("pg-1", "2Gi", "1Gi", json!([]))],
    )
    .await;
    assert!(advice.contains("in progress"), "{advice}");
    // Done, but validation still off: restore it.
    let mut c = cluster("1Gi", 1, "pg-1", &["pg-1"]);
    c["metadata"]["annotations"] = json!({"cnpg.io/validation": "disabled"});
    let advice = resize_advice(c, vec![pvc("pg-1", "1Gi", "1Gi", json!([]))]).await;
    assert!(advice.contains("restore_validation_only=true"), "{advice}");
    // Nothing at all yet.
    let advice = resize_advice(cluster("1Gi", 1, "pg-1", &[]), vec![]).await;
    assert!(advice.contains("No PVCs"), "{advice}");
}

#[tokio::test]
async fn instance_guards_refuse_the_primary_and_the_last_healthy_replica() {
    let h = harness("cnpg_clusters");
    for (instance, healthy, expected) in [
        ("pg-1", vec!["pg-1", "pg-2", "pg-3"], "is the primary"),
        ("pg-2", vec!["pg-1", "pg-2"], "last healthy replica"),
    ] {
        let outcome = h
            .call(
                "delete_cluster_instance",
                json!({"name": "pg", "instance": instance, "confirm_deletion": true, "namespace": NS}),
                vec![ok("get", "clusters", Some("pg"), cluster("1Gi", 3, "pg-1", &healthy))],
                ClientScript::default(),
            )
            .await
            .unwrap();
        clean(&outcome);
        assert!(
            outcome.is_error && outcome.text.contains(expected),
            "{instance}: {}",
            outcome.text
        );
        assert!(outcome.writes().is_empty());
    }
    // A switchover target counts as the primary too.
    let mut c = cluster("1Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]);
    c["status"]["targetPrimary"] = json!("pg-3");
    let outcome = h
        .call(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "3", "confirm_deletion": true, "namespace": NS}),
            vec![ok("get", "clusters", Some("pg"), c)],
            ClientScript::default(),
        )
        .await
        .unwrap();
    assert!(outcome.is_error && outcome.text.contains("primary"), "{}", outcome.text);
    // A failed replica may go even when one healthy replica is left; pod first, then its volume, with UIDs.
    let mut c = cluster("1Gi", 3, "pg-1", &["pg-1", "pg-2"]);
    c["status"]["instancesStatus"]["failed"] = json!(["pg-3"]);
    let pod = json!({"metadata": {"name": "pg-3", "uid": "u-pod3", "labels": {"cnpg.io/cluster": "pg"}}});
    let outcome = h
        .call(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "pg-3", "confirm_deletion": true, "namespace": NS}),
            vec![
                ok("get", "clusters", Some("pg"), c),
                ok("get", "core/pods", Some("pg-3"), pod),
                ok(
                    "list",
                    "core/persistentvolumeclaims",
                    None,
                    list_of(vec![pvc("pg-3", "1Gi", "1Gi", json!([]))]),
                ),
                ok("delete", "core/pods", Some("pg-3"), json!({})),
                ok("delete", "core/persistentvolumeclaims", Some("pg-3"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let writes = outcome.writes();
    assert_eq!(writes[0].body.as_ref().unwrap()["uid"], json!("u-pod3"));
    assert_eq!(writes[1].body.as_ref().unwrap()["uid"], json!("u-pg-3"));
}

fn role_creation_script(role_create: Step, secret_delete: Option<Step>) -> Vec<Step> {
    let mut steps = vec![
        ok("get", "clusters", Some("pg"), cluster("1Gi", 1, "pg-1", &["pg-1"])),
        ok("list", "databaseroles", None, list_of(vec![])),
        fail("get", "databaseroles", Some("pg-app-user"), 404, "NotFound"),
        fail("get", "core/secrets", Some("cnpg-pg-user-app-user"), 404, "NotFound"),
        ok(
            "create",
            "core/secrets",
            None,
            json!({"metadata": {"name": "cnpg-pg-user-app-user", "uid": "u-secret"}}),
        ),
        role_create,
    ];
    steps.extend(secret_delete);
    steps
}

#[tokio::test]
async fn a_role_whose_creation_fails_takes_its_secret_back() {
    let h = harness("cnpg_roles_databases");
    let args = json!({"cluster_name": "pg", "role_name": "app_user", "namespace": NS});
    let outcome = h
        .call(
            "create_postgres_role",
            args.clone(),
            role_creation_script(
                fail("create", "databaseroles", None, 403, "Forbidden"),
                Some(ok("delete", "core/secrets", Some("cnpg-pg-user-app-user"), json!({}))),
            ),
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error, "{}", outcome.text);
    assert!(
        outcome.text.contains("403") && outcome.text.contains("removed again"),
        "{}",
        outcome.text
    );
    let delete = (*outcome.writes().last().unwrap()).clone();
    assert_eq!(delete.verb, "delete");
    assert_eq!(
        delete.body.unwrap()["uid"],
        json!("u-secret"),
        "rollback must only delete the Secret it created"
    );
    // The Secret's manifest: basic-auth, labelled, a 32-character password.
    let secret = &outcome.exchanges[4].body.clone().unwrap();
    assert_eq!(secret["type"], json!("kubernetes.io/basic-auth"));
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        json!("cnpg-mcp")
    );
    assert_eq!(secret["stringData"]["password"].as_str().unwrap().len(), 32);
    assert!(
        !outcome
            .text
            .contains(secret["stringData"]["password"].as_str().unwrap())
    );

    // When the rollback fails too, the answer says so.
    let outcome = h
        .call(
            "create_postgres_role",
            args,
            role_creation_script(
                fail("create", "databaseroles", None, 422, "Invalid"),
                Some(fail(
                    "delete",
                    "core/secrets",
                    Some("cnpg-pg-user-app-user"),
                    503,
                    "ServiceUnavailable",
                )),
            ),
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(
        outcome.is_error && outcome.text.contains("failed too"),
        "{}",
        outcome.text
    );
}

#[tokio::test]
async fn an_existing_secret_is_never_overwritten() {
    let outcome = harness("cnpg_roles_databases")
        .call(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app_user", "namespace": NS}),
            vec![
                ok("get", "clusters", Some("pg"), cluster("1Gi", 1, "pg-1", &["pg-1"])),
                ok("list", "databaseroles", None, list_of(vec![])),
                fail("get", "databaseroles", Some("pg-app-user"), 404, "NotFound"),
                ok(
                    "get",
                    "core/secrets",
                    Some("cnpg-pg-user-app-user"),
                    json!({"metadata": {"name": "cnpg-pg-user-app-user"}}),
                ),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(
        outcome.is_error && outcome.text.contains("never overwritten"),
        "{}",
        outcome.text
    );
    assert!(outcome.writes().is_empty());
}

#[tokio::test]
async fn a_taken_object_name_gets_a_disambiguated_one() {
    let outcome = harness("cnpg_roles_databases")
        .call(
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "_app_db", "owner": "app", "namespace": NS}),
            vec![
                ok("get", "clusters", Some("pg"), cluster("1Gi", 1, "pg-1", &["pg-1"])),
                ok("list", "databases", None, list_of(vec![])),
                // `pg-app-db` belongs to the database `app_db`.
                ok(
                    "get",
                    "databases",
                    Some("pg-app-db"),
                    json!({"spec": {"name": "app_db"}}),
                ),
                ok("create", "databases", None, json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    let manifest = outcome.writes()[0].body.clone().unwrap();
    let name = manifest["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("pg-app-db-") && name.len() == "pg-app-db-".len() + 6,
        "{name}"
    );
    assert_eq!(manifest["spec"]["name"], json!("_app_db"));
}

#[tokio::test]
async fn a_failed_shrink_patch_still_restores_validation() {
    let outcome = harness("cnpg_clusters")
        .call(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "confirm_shrink": true, "namespace": NS}),
            vec![
                ok(
                    "get",
                    "clusters",
                    Some("pg"),
                    cluster("2Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]),
                ),
                ok("patch", "clusters", Some("pg"), json!({})),
                fail("patch", "clusters", Some("pg"), 422, "Invalid"),
                ok("patch", "clusters", Some("pg"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error && outcome.text.contains("422"), "{}", outcome.text);
    let patches: Vec<Value> = outcome
        .writes()
        .iter()
        .map(|w| w.body.clone().unwrap()["merge-patch"].clone())
        .collect();
    assert_eq!(
        patches[0],
        json!({"metadata": {"annotations": {"cnpg.io/validation": "disabled"}}})
    );
    assert_eq!(
        patches[1],
        json!({"spec": {"storage": {"size": "1Gi"}, "instances": 4}})
    );
    assert_eq!(
        patches[2],
        json!({"metadata": {"annotations": {"cnpg.io/validation": null}}})
    );
}

#[tokio::test]
async fn a_switchover_loses_the_optimistic_lock_cleanly() {
    let pod = json!({"metadata": {"name": "pg-2", "labels": {"cnpg.io/cluster": "pg"}}});
    let outcome = harness("cnpg_clusters")
        .call(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "pg-2", "namespace": NS}),
            vec![
                ok(
                    "get",
                    "clusters",
                    Some("pg"),
                    cluster("1Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]),
                ),
                ok("get", "core/pods", Some("pg-2"), pod.clone()),
                fail("patch", "clusters/status", Some("pg"), 409, "Conflict"),
                // Read again: meanwhile another switchover targets pg-3.
                ok("get", "clusters", Some("pg"), {
                    let mut c = cluster("1Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]);
                    c["status"]["targetPrimary"] = json!("pg-3");
                    c
                }),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(
        outcome.is_error && outcome.text.contains("changed while preparing"),
        "{}",
        outcome.text
    );
    assert_eq!(outcome.writes().len(), 1, "no second patch after the roles changed");
    let patch = outcome.writes()[0].body.clone().unwrap()["merge-patch"].clone();
    assert_eq!(
        patch["metadata"]["resourceVersion"],
        json!("7"),
        "the patch carries the lock"
    );
    assert_eq!(patch["status"]["phase"], json!("Switchover in progress"));

    // The operator only rewrote its status: read again, patched again
    // under the new resourceVersion.
    let mut rewritten = cluster("1Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]);
    rewritten["metadata"]["resourceVersion"] = json!("8");
    let outcome = harness("cnpg_clusters")
        .call(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "pg-2", "namespace": NS}),
            vec![
                ok(
                    "get",
                    "clusters",
                    Some("pg"),
                    cluster("1Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]),
                ),
                ok("get", "core/pods", Some("pg-2"), pod),
                fail("patch", "clusters/status", Some("pg"), 409, "Conflict"),
                ok("get", "clusters", Some("pg"), rewritten),
                ok(
                    "patch",
                    "clusters/status",
                    Some("pg"),
                    json!({"status": {"targetPrimary": "pg-2", "phase": "Switchover in progress"}}),
                ),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let second = outcome.writes()[1].body.clone().unwrap()["merge-patch"].clone();
    assert_eq!(second["metadata"]["resourceVersion"], json!("8"));
    // Fenced instances are refused before any write.
    let mut c = cluster("1Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]);
    c["metadata"]["annotations"] = json!({"cnpg.io/fencedInstances": "[\"pg-2\"]"});
    let outcome = harness("cnpg_clusters")
        .call(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "pg-2", "namespace": NS}),
            vec![
                ok("get", "clusters", Some("pg"), c),
                ok(
                    "get",
                    "core/pods",
                    Some("pg-2"),
                    json!({"metadata": {"labels": {"cnpg.io/cluster": "pg"}}}),
                ),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    assert!(outcome.is_error && outcome.text.contains("fenced"), "{}", outcome.text);
    assert!(outcome.writes().is_empty());
}

#[tokio::test]
async fn the_user_is_asked_when_the_client_supports_elicitation() {
    let db = json!({"metadata": {"name": "pg-app", "uid": "u-db"},
                    "spec": {"cluster": {"name": "pg"}, "name": "app", "owner": "app"}});
    let args = json!({"cluster_name": "pg", "database_name": "app", "confirm_deletion": true, "namespace": NS});
    let h = harness("cnpg_roles_databases");
    let eliciting = |answer: Option<Value>| ClientScript {
        capabilities: json!({"elicitation": {}}),
        elicit_answers: vec![answer].into(),
    };
    // Declined: nothing deleted.
    let outcome = h
        .call(
            "delete_postgres_database",
            args.clone(),
            vec![ok("list", "databases", None, list_of(vec![db.clone()]))],
            eliciting(None),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(
        outcome.is_error && outcome.text.contains("declined"),
        "{}",
        outcome.text
    );
    assert_eq!(outcome.elicitations.len(), 1);
    assert!(outcome.writes().is_empty());
    // Accepted: deleted, with the UID precondition.
    let outcome = h
        .call(
            "delete_postgres_database",
            args.clone(),
            vec![
                ok("list", "databases", None, list_of(vec![db.clone()])),
                ok("delete", "databases", Some("pg-app"), json!({})),
            ],
            eliciting(Some(json!({"confirm": true}))),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    // No elicitation capability: the flag alone decides.
    let outcome = h
        .call(
            "delete_postgres_database",
            args,
            vec![
                ok("list", "databases", None, list_of(vec![db])),
                ok("delete", "databases", Some("pg-app"), json!({})),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.elicitations.is_empty() && !outcome.is_error);
}

#[tokio::test]
async fn a_secret_this_server_did_not_create_is_never_deleted() {
    let role = json!({"metadata": {"name": "pg-app", "uid": "u-role"},
                      "spec": {"cluster": {"name": "pg"}, "name": "app", "passwordSecret": {"name": "cnpg-pg-user-app"},
                               "databaseRoleReclaimPolicy": "retain"}});
    let foreign = json!({"metadata": {"name": "cnpg-pg-user-app", "labels": {"team": "payments"}}});
    let outcome = harness("cnpg_roles_databases")
        .call(
            "delete_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "confirm_deletion": true, "namespace": NS}),
            vec![
                ok("list", "databaseroles", None, list_of(vec![role])),
                ok("delete", "databaseroles", Some("pg-app"), json!({})),
                ok("get", "core/secrets", Some("cnpg-pg-user-app"), foreign),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.text.contains("did not create"), "{}", outcome.text);
    assert_eq!(outcome.writes().len(), 1, "only the DatabaseRole is deleted");
}

#[tokio::test]
async fn a_shrink_whose_patch_and_restore_both_fail_says_both_and_how_to_recover() {
    let outcome = harness("cnpg_clusters")
        .call(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "confirm_shrink": true, "namespace": NS}),
            vec![
                ok(
                    "get",
                    "clusters",
                    Some("pg"),
                    cluster("2Gi", 3, "pg-1", &["pg-1", "pg-2", "pg-3"]),
                ),
                ok("patch", "clusters", Some("pg"), json!({})),
                fail("patch", "clusters", Some("pg"), 422, "Invalid"),
                fail("patch", "clusters", Some("pg"), 503, "ServiceUnavailable"),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error, "{}", outcome.text);
    assert!(
        outcome.text.contains("422") && outcome.text.contains("503"),
        "{}",
        outcome.text
    );
    assert!(
        outcome.text.contains("restore_validation_only=true"),
        "{}",
        outcome.text
    );
}
