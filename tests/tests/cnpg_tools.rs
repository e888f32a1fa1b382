//! The CloudNativePG tools (components `cnpg-clusters` and
//! `cnpg-roles-databases`) through MCP over HTTP, against the real
//! kube-apiserver with the real CRDs (OpenAPI and CEL validation). No
//! operator runs: instance pods, volumes and Cluster status are written by
//! the test as the admin, the way the operator writes them.

use cnpg_mcp_tests::cnpg::{
    TEST_IMAGE_REPOSITORY, ToolServer, add_instance, api, clusters, create, database_roles, databases, healthy_status,
    patch_status, pods, pvcs, read, secrets,
};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::{ServiceAccountLogin, TestBed};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

/// Kubernetes requests the API server saw for `ns` (its audit log).
fn audit_requests_in(bed: &TestBed, ns: &str) -> usize {
    bed.audit_events()
        .iter()
        .filter(|e| e.pointer("/objectRef/namespace").and_then(Value::as_str) == Some(ns))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_list_has_every_tool_with_schema_and_annotations() {
    let bed = TestBed::shared().await;
    let mut tools = ToolServer::start(bed, &[]).await;
    let listed = tools.session.call("tools/list", json!({})).await;
    let listed = listed["result"]["tools"].as_array().unwrap().clone();
    let expected = [
        ("list_postgres_clusters", true, false),
        ("get_cluster_status", true, false),
        ("create_postgres_cluster", false, false),
        ("scale_postgres_cluster", false, false),
        ("delete_postgres_cluster", false, true),
        ("resize_postgres_cluster", false, true),
        ("get_cluster_resize_status", true, false),
        ("promote_cluster_instance", false, false),
        ("delete_cluster_instance", false, true),
        ("list_postgres_roles", true, false),
        ("get_postgres_role_status", true, false),
        ("create_postgres_role", false, false),
        ("update_postgres_role", false, false),
        ("delete_postgres_role", false, true),
        ("list_postgres_databases", true, false),
        ("get_postgres_database_status", true, false),
        ("create_postgres_database", false, false),
        ("delete_postgres_database", false, true),
        ("create_backup", false, false),
        ("list_backups", true, false),
        ("get_backup_status", true, false),
        ("wait_for_backup", true, false),
        ("delete_backup", false, true),
        ("create_scheduled_backup", false, false),
        ("list_scheduled_backups", true, false),
        ("update_scheduled_backup", false, false),
        ("delete_scheduled_backup", false, true),
        ("get_backup_configuration", true, false),
        ("configure_cluster_backup", false, false),
        ("get_recovery_window", true, false),
        ("restore_postgres_cluster", false, false),
        ("list_poolers", true, false),
        ("get_pooler_status", true, false),
        ("create_pooler", false, false),
        ("update_pooler", false, false),
        ("delete_pooler", false, true),
        ("list_publications", true, false),
        ("create_publication", false, false),
        ("delete_publication", false, true),
        ("list_subscriptions", true, false),
        ("create_subscription", false, false),
        ("delete_subscription", false, true),
        ("list_external_clusters", true, false),
        ("add_external_cluster", false, false),
        ("remove_external_cluster", false, true),
        ("create_replica_cluster", false, false),
        ("promote_replica_cluster", false, true),
        ("get_replication_status", true, false),
        ("restart_postgres_cluster", false, false),
        ("reload_postgres_cluster", false, false),
        ("hibernate_postgres_cluster", false, true),
        ("fence_postgres_instances", false, true),
        ("set_maintenance_window", false, false),
        ("get_cluster_events", true, false),
        ("get_cluster_logs", true, false),
        ("get_connection_info", true, false),
        ("update_cluster_configuration", false, false),
        ("upgrade_postgres_cluster", false, true),
        ("list_image_catalogs", true, false),
        ("create_image_catalog", false, false),
        ("delete_image_catalog", false, true),
        ("get_cluster_report", true, false),
    ];
    for (name, read_only, destructive) in expected {
        let tool = listed
            .iter()
            .find(|t| t["name"] == json!(name))
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(tool["annotations"]["readOnlyHint"], json!(read_only), "{name}");
        assert_eq!(tool["annotations"]["destructiveHint"], json!(destructive), "{name}");
        assert!(tool["annotations"]["title"].is_string(), "{name}");
        assert!(tool["annotations"]["idempotentHint"].is_boolean(), "{name}");
        assert_eq!(
            tool["outputSchema"].is_object(),
            read_only,
            "{name}: read tools declare an output schema"
        );
        let properties = tool["inputSchema"]["properties"].as_object().unwrap();
        for (param, schema) in properties {
            assert!(
                schema["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}.{param} has no description"
            );
        }
        if !read_only {
            assert!(properties.contains_key("dry_run"), "{name} has no dry_run");
        }
        // Deletions confirm with `confirm_deletion`; other destructive
        // changes with a flag named after them (`confirm_shrink`,
        // `confirm_promotion`).
        if destructive {
            let flag = match name {
                "resize_postgres_cluster" => "confirm_shrink",
                "promote_replica_cluster" => "confirm_promotion",
                "hibernate_postgres_cluster" => "confirm_hibernation",
                "fence_postgres_instances" => "confirm_fencing",
                "upgrade_postgres_cluster" => "confirm_major_upgrade",
                _ => "confirm_deletion",
            };
            assert!(properties.contains_key(flag), "{name} has no {flag}");
        }
    }
    // Reference parameter names, exactly.
    let params = |name: &str| -> Vec<String> {
        let tool = listed.iter().find(|t| t["name"] == json!(name)).unwrap();
        tool["inputSchema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    for p in [
        "name",
        "instances",
        "storage_size",
        "postgres_version",
        "container_image",
        "storage_class",
        "image_pull_policy",
        "node_selector",
        "tolerations",
        "wait",
        "timeout",
        "namespace",
        "dry_run",
    ] {
        assert!(
            params("create_postgres_cluster").contains(&p.to_string()),
            "create_postgres_cluster.{p}"
        );
    }
    for p in [
        "name",
        "storage_size",
        "extra_instances",
        "confirm_shrink",
        "restore_validation_only",
    ] {
        assert!(
            params("resize_postgres_cluster").contains(&p.to_string()),
            "resize_postgres_cluster.{p}"
        );
    }
    for p in [
        "cluster_name",
        "role_name",
        "login",
        "superuser",
        "inherit",
        "createdb",
        "createrole",
        "replication",
        "bypassrls",
        "in_roles",
        "connection_limit",
        "valid_until",
        "comment",
        "disable_password",
        "client_certificate",
        "reclaim_policy",
    ] {
        assert!(
            params("create_postgres_role").contains(&p.to_string()),
            "create_postgres_role.{p}"
        );
    }
    for p in [
        "cluster_name",
        "database_name",
        "owner",
        "reclaim_policy",
        "encoding",
        "locale",
        "locale_provider",
        "locale_collate",
        "locale_ctype",
        "icu_locale",
        "icu_rules",
        "builtin_locale",
        "collation_version",
        "extensions",
        "schemas",
    ] {
        assert!(
            params("create_postgres_database").contains(&p.to_string()),
            "create_postgres_database.{p}"
        );
    }
    // Prompts exported by the components.
    let prompts = tools.session.call("prompts/list", json!({})).await;
    let names: Vec<&str> = prompts["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in [
        "diagnose_cluster",
        "plan_storage_resize",
        "rotate_role_password",
        "provision_application",
        "plan_point_in_time_recovery",
        "verify_backups",
        "scale_connections",
        "plan_logical_migration",
        "troubleshoot_cluster",
        "prepare_major_upgrade",
    ] {
        assert!(names.contains(&p), "prompt {p} missing from {names:?}");
    }
    for (name, arguments, needles) in [
        (
            "plan_point_in_time_recovery",
            json!({"cluster_name": "pg", "target_time": "2026-12-05T14:05:00Z"}),
            vec![
                "get_recovery_window",
                "restore_postgres_cluster(name=\"pg-restore\"",
                "2026-12-05T14:05:00Z",
            ],
        ),
        (
            "verify_backups",
            json!({"cluster_name": "pg"}),
            vec![
                "get_backup_configuration",
                "list_scheduled_backups",
                "get_recovery_window",
            ],
        ),
        (
            "scale_connections",
            json!({"cluster_name": "pg", "expected_clients": "2000"}),
            vec!["create_pooler(cluster_name=\"pg\"", "max_client_conn", "2000"],
        ),
        (
            "plan_logical_migration",
            json!({"source_cluster": "old", "target_cluster": "new", "database": "app"}),
            vec![
                "create_publication(cluster_name=\"old\"",
                "create_subscription(cluster_name=\"new\"",
                "sync-sequences",
            ],
        ),
        (
            "troubleshoot_cluster",
            json!({"cluster_name": "pg", "symptom": "applications cannot connect"}),
            vec![
                "get_cluster_report(name=\"pg\"",
                "warnings_only=true",
                "applications cannot connect",
            ],
        ),
        (
            "prepare_major_upgrade",
            json!({"cluster_name": "pg", "target_major": "18"}),
            vec![
                "upgrade_postgres_cluster(name=\"pg\"",
                "confirm_major_upgrade=true",
                "PostgreSQL 18",
                "create_backup",
            ],
        ),
    ] {
        let prompt = tools
            .session
            .call("prompts/get", json!({"name": name, "arguments": arguments}))
            .await;
        let text = prompt["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap_or_default();
        for needle in needles {
            assert!(text.contains(needle), "{name}: {needle} not in {prompt}");
        }
    }
    let missing = tools
        .session
        .call(
            "prompts/get",
            json!({"name": "plan_point_in_time_recovery", "arguments": {"cluster_name": "pg"}}),
        )
        .await;
    assert!(
        missing["error"].is_object(),
        "a missing required argument is an error: {missing}"
    );
    let too_old = tools
        .session
        .call(
            "prompts/get",
            json!({"name": "prepare_major_upgrade", "arguments": {"cluster_name": "pg", "target_major": "15"}}),
        )
        .await;
    assert!(too_old["error"].is_object(), "a major below 16 is refused: {too_old}");
    let prompt = tools
        .session
        .call(
            "prompts/get",
            json!({"name": "rotate_role_password", "arguments": {"cluster_name": "pg", "role_name": "app"}}),
        )
        .await;
    let text = prompt["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("reset_password=true"), "{prompt}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_is_refused_by_the_schema_before_any_api_call() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-invalid").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    let before = audit_requests_in(bed, &ns);
    let cases = [
        (
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 0, "namespace": ns}),
            "/instances",
        ),
        (
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 11, "namespace": ns}),
            "/instances",
        ),
        (
            "create_postgres_cluster",
            json!({"name": "pg", "storage_size": "10GB", "namespace": ns}),
            "/storage_size",
        ),
        (
            "create_postgres_cluster",
            json!({"name": "Bad_Name", "namespace": ns}),
            "/name",
        ),
        (
            "create_postgres_cluster",
            json!({"name": "pg", "database": "Shop", "namespace": ns}),
            "/database",
        ),
        (
            "scale_postgres_cluster",
            json!({"name": "pg", "instances": 0, "namespace": ns}),
            "/instances",
        ),
        ("resize_postgres_cluster", json!({"name": "pg", "namespace": ns}), ""),
        (
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "-1Gi", "namespace": ns}),
            "/storage_size",
        ),
        (
            "promote_cluster_instance",
            json!({"name": "pg", "namespace": ns}),
            "instance",
        ),
        (
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "postgres", "namespace": ns}),
            "/role_name",
        ),
        (
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "streaming_replica", "namespace": ns}),
            "/role_name",
        ),
        (
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "pg_monitor", "namespace": ns}),
            "/role_name",
        ),
        (
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "cnpg_pooler", "namespace": ns}),
            "/role_name",
        ),
        (
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "App-User", "namespace": ns}),
            "/role_name",
        ),
        (
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "login": false, "client_certificate": true, "namespace": ns}),
            "",
        ),
        (
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "-app", "namespace": ns}),
            "/role_name",
        ),
        (
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "password": "x", "reset_password": true, "namespace": ns}),
            "",
        ),
        (
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "password": "x", "disable_password": true, "namespace": ns}),
            "",
        ),
        (
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "app", "owner": "app", "icu_locale": "en-US", "namespace": ns}),
            "",
        ),
        (
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "app", "owner": "app", "locale_provider": "libc",
                   "builtin_locale": "C.UTF-8", "namespace": ns}),
            "",
        ),
        (
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "template1", "owner": "app", "namespace": ns}),
            "/database_name",
        ),
        (
            "delete_postgres_database",
            json!({"cluster_name": "pg", "database_name": "app", "confirm": true, "namespace": ns}),
            "confirm",
        ),
    ];
    for (tool, arguments, field) in cases {
        let text = tools.fails(tool, arguments.clone()).await;
        assert!(text.contains(field), "{tool} {arguments}: {text}");
    }
    assert_eq!(
        audit_requests_in(bed, &ns),
        before,
        "an invalid call reached the API server"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_real_failures_with_the_api_servers_message_and_a_suggestion() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-errors").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    let text = tools
        .fails("get_cluster_status", json!({"name": "nope", "namespace": ns}))
        .await;
    assert!(
        text.contains("404") && text.contains("NotFound") && text.contains("\"nope\" not found"),
        "{text}"
    );
    assert!(
        text.contains("Suggestion:") && text.contains("all_namespaces"),
        "{text}"
    );
    let result = tools
        .session
        .call_tool("get_cluster_status", json!({"name": "nope", "namespace": ns}))
        .await;
    assert_eq!(structured(&result)["reason"], json!("not-found"));
    for (tool, arguments) in [
        (
            "scale_postgres_cluster",
            json!({"name": "nope", "instances": 2, "namespace": ns}),
        ),
        (
            "promote_cluster_instance",
            json!({"name": "nope", "instance": "2", "namespace": ns}),
        ),
        (
            "delete_postgres_cluster",
            json!({"name": "nope", "confirm_deletion": true, "namespace": ns}),
        ),
        ("list_postgres_roles", json!({"cluster_name": "nope", "namespace": ns})),
        (
            "create_postgres_database",
            json!({"cluster_name": "nope", "database_name": "app", "owner": "app", "namespace": ns}),
        ),
    ] {
        let text = tools.fails(tool, arguments).await;
        assert!(text.contains("404") && text.contains("not found"), "{tool}: {text}");
    }
    // A manifest the CRD's CEL rules refuse comes back as 422 with the cause.
    create(
        bed,
        &ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": 1, "storage": {"size": "1Gi"}}}),
    )
    .await;
    let text = tools
        .fails(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "login": true, "disable_password": true,
                   "valid_until": "not-a-date", "namespace": ns}),
        )
        .await;
    assert!(text.contains("valid_until"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_session_end_to_end() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-scenario").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;

    // Create: a dry run changes nothing and shows the manifest.
    let full = json!({
        "name": "pg", "instances": 3, "storage_size": "1Gi", "postgres_version": "17",
        "storage_class": "fast", "image_pull_policy": "IfNotPresent",
        "node_selector": {"disk": "ssd"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}],
        "parameters": {"max_connections": "200"},
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "wal_storage_size": "512Mi", "database": "app_db", "owner": "app_owner",
        "namespace": ns,
    });
    let mut dry = full.clone();
    dry["dry_run"] = json!(true);
    let result = tools.ok("create_postgres_cluster", dry).await;
    assert!(first_text(&result).contains("Dry run"), "{}", first_text(&result));
    assert_eq!(
        structured(&result)["request"]["spec"]["imageName"],
        json!(format!("{TEST_IMAGE_REPOSITORY}:17"))
    );
    assert!(
        read(bed, &ns, &clusters(), "pg").await.is_none(),
        "dry run created the cluster"
    );

    tools.ok("create_postgres_cluster", full).await;
    let cluster = read(bed, &ns, &clusters(), "pg").await.expect("cluster created");
    let spec = &cluster["spec"];
    assert_eq!(spec["instances"], json!(3));
    assert_eq!(spec["storage"]["size"], json!("1Gi"));
    assert_eq!(spec["storage"]["storageClass"], json!("fast"));
    assert_eq!(spec["walStorage"]["size"], json!("512Mi"));
    assert_eq!(spec["postgresql"]["parameters"]["max_connections"], json!("200"));
    assert_eq!(spec["affinity"]["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(spec["affinity"]["tolerations"][0]["effect"], json!("NoSchedule"));
    assert_eq!(
        spec["bootstrap"]["initdb"],
        json!({"database": "app_db", "owner": "app_owner"})
    );
    assert_eq!(spec["resources"]["requests"]["cpu"], json!("500m"));
    let managers: Vec<&str> = cluster["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"cnpg-mcp/cnpg-clusters"), "{managers:?}");
    // A second create is a conflict, reported as such.
    let text = tools
        .fails(
            "create_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    assert!(text.contains("409") && text.contains("AlreadyExists"), "{text}");

    // The operator's part: three instances, healthy.
    for i in 1..=3 {
        add_instance(bed, &ns, "pg", i, "1Gi").await;
    }
    patch_status(
        bed,
        &ns,
        &clusters(),
        "pg",
        healthy_status(&["pg-1", "pg-2", "pg-3"], "pg-1"),
    )
    .await;

    let result = tools.ok("list_postgres_clusters", json!({"namespace": ns})).await;
    let listed = &structured(&result)["clusters"];
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["ready_instances"], json!(3));
    assert_eq!(listed[0]["current_primary"], json!("pg-1"));
    let result = tools
        .ok(
            "list_postgres_clusters",
            json!({"all_namespaces": true, "detail_level": "detailed", "format": "json"}),
        )
        .await;
    assert_eq!(structured(&result)["namespaces_searched"], json!(["*"]));
    assert!(
        structured(&result)["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["namespace"] == json!(ns))
    );
    let text = first_text(&result);
    assert!(
        serde_json::from_str::<Value>(&text).is_ok(),
        "format json renders JSON: {text}"
    );

    let result = tools
        .ok(
            "get_cluster_status",
            json!({"name": "pg", "namespace": ns, "detail_level": "detailed"}),
        )
        .await;
    let status = structured(&result);
    assert_eq!(status["phase"], json!("Cluster in healthy state"));
    assert_eq!(status["instance_list"].as_array().unwrap().len(), 3);
    assert_eq!(
        status["instance_list"][0],
        json!({"name": "pg-1", "role": "primary", "health": "healthy"})
    );

    // A role: DatabaseRole + password Secret, password never in the output.
    let result = tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app_user", "createdb": true, "in_roles": ["pg_read_all_data"],
                   "connection_limit": 10, "valid_until": "2030-01-01T00:00:00Z", "comment": "application",
                   "namespace": ns}),
        )
        .await;
    let role = read(bed, &ns, &database_roles(), "pg-app-user")
        .await
        .expect("DatabaseRole created");
    assert_eq!(role["spec"]["name"], json!("app_user"));
    assert_eq!(role["spec"]["cluster"]["name"], json!("pg"));
    assert_eq!(role["spec"]["passwordSecret"]["name"], json!("cnpg-pg-user-app-user"));
    assert_eq!(role["spec"]["createdb"], json!(true));
    assert_eq!(role["spec"]["connectionLimit"], json!(10));
    let secret = read(bed, &ns, &secrets(), "cnpg-pg-user-app-user")
        .await
        .expect("Secret created");
    assert_eq!(secret["type"], json!("kubernetes.io/basic-auth"));
    use base64::Engine;
    let password = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["password"].as_str().unwrap())
        .unwrap();
    let password = String::from_utf8(password).unwrap();
    assert_eq!(password.len(), 32);
    assert!(
        !result.to_string().contains(&password),
        "the password leaked into the tool output"
    );
    let result = tools
        .ok(
            "get_postgres_role_status",
            json!({"cluster_name": "pg", "role_name": "app_user", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&result)["password_secret"], json!("cnpg-pg-user-app-user"));
    assert_eq!(structured(&result)["applied"], Value::Null);
    patch_status(
        bed,
        &ns,
        &database_roles(),
        "pg-app-user",
        json!({"applied": true, "observedGeneration": 1}),
    )
    .await;
    let result = tools
        .ok("list_postgres_roles", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    assert_eq!(structured(&result)["roles"][0]["applied"], json!(true));

    // Update only what changed; rotate the password server-side.
    let result = tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app_user", "createdb": true, "connection_limit": 20,
                   "reset_password": true, "namespace": ns}),
        )
        .await;
    assert_eq!(
        structured(&result)["request"]["databaseRole"],
        json!({"spec": {"connectionLimit": 20}})
    );
    let rotated = read(bed, &ns, &secrets(), "cnpg-pg-user-app-user").await.unwrap();
    assert_ne!(
        rotated["data"]["password"], secret["data"]["password"],
        "password not rotated"
    );
    assert!(
        !result
            .to_string()
            .contains(rotated["data"]["password"].as_str().unwrap())
    );

    // A database with every option the CRD's CEL rules check.
    let db = json!({"cluster_name": "pg", "database_name": "app_db", "owner": "app_user", "reclaim_policy": "delete",
                    "encoding": "UTF8", "locale_provider": "icu", "icu_locale": "en-US", "icu_rules": "&a < b",
                    "locale_collate": "C", "locale_ctype": "C",
                    "extensions": [{"name": "pgcrypto", "schema": "public"}], "schemas": [{"name": "reporting", "owner": "app_user"}],
                    "namespace": ns});
    let mut dry = db.clone();
    dry["dry_run"] = json!(true);
    tools.ok("create_postgres_database", dry).await;
    assert!(
        read(bed, &ns, &databases(), "pg-app-db").await.is_none(),
        "dry run created the database"
    );
    tools.ok("create_postgres_database", db).await;
    let database = read(bed, &ns, &databases(), "pg-app-db")
        .await
        .expect("Database created");
    assert_eq!(database["spec"]["icuLocale"], json!("en-US"));
    assert_eq!(database["spec"]["databaseReclaimPolicy"], json!("delete"));
    patch_status(
        bed,
        &ns,
        &databases(),
        "pg-app-db",
        json!({"applied": true, "extensions": [{"name": "pgcrypto", "applied": true}],
               "schemas": [{"name": "reporting", "applied": false, "message": "permission denied"}]}),
    )
    .await;
    let result = tools
        .ok(
            "get_postgres_database_status",
            json!({"cluster_name": "pg", "database_name": "app_db", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&result)["schemas"][0]["message"], json!("permission denied"));
    let result = tools
        .ok(
            "list_postgres_databases",
            json!({"cluster_name": "pg", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&result)["databases"][0]["database_name"], json!("app_db"));

    // Scale: dry run changes nothing, then 3 -> 4.
    tools
        .ok(
            "scale_postgres_cluster",
            json!({"name": "pg", "instances": 4, "namespace": ns, "dry_run": true}),
        )
        .await;
    assert_eq!(
        read(bed, &ns, &clusters(), "pg").await.unwrap()["spec"]["instances"],
        json!(3)
    );
    tools
        .ok(
            "scale_postgres_cluster",
            json!({"name": "pg", "instances": 4, "namespace": ns}),
        )
        .await;
    assert_eq!(
        read(bed, &ns, &clusters(), "pg").await.unwrap()["spec"]["instances"],
        json!(4)
    );
    add_instance(bed, &ns, "pg", 4, "1Gi").await;
    patch_status(
        bed,
        &ns,
        &clusters(),
        "pg",
        healthy_status(&["pg-1", "pg-2", "pg-3", "pg-4"], "pg-1"),
    )
    .await;

    // Grow the storage; the volumes follow (as the operator and CSI would).
    tools
        .ok(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "2Gi", "namespace": ns}),
        )
        .await;
    assert_eq!(
        read(bed, &ns, &clusters(), "pg").await.unwrap()["spec"]["storage"]["size"],
        json!("2Gi")
    );
    let result = tools
        .ok("get_cluster_resize_status", json!({"name": "pg", "namespace": ns}))
        .await;
    let report = structured(&result);
    assert_eq!(report["volumes"].as_array().unwrap().len(), 4);
    assert!(
        report["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["state"] == json!("too-small")),
        "{report}"
    );
    assert!(
        report["next_step"].as_str().unwrap().contains("allowVolumeExpansion"),
        "{report}"
    );
    for i in 1..=4 {
        let name = format!("pg-{i}");
        api(bed, &ns, &pvcs())
            .await
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}})),
            )
            .await
            .unwrap();
    }
    let result = tools
        .ok("get_cluster_resize_status", json!({"name": "pg", "namespace": ns}))
        .await;
    assert!(
        structured(&result)["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["state"] == json!("expanding"))
    );
    for i in 1..=4 {
        patch_status(
            bed,
            &ns,
            &pvcs(),
            &format!("pg-{i}"),
            json!({"capacity": {"storage": "2Gi"}}),
        )
        .await;
    }
    let result = tools
        .ok("get_cluster_resize_status", json!({"name": "pg", "namespace": ns}))
        .await;
    assert!(
        structured(&result)["next_step"]
            .as_str()
            .unwrap()
            .contains("nothing to do"),
        "{result}"
    );

    // Switchover to pg-2 like `kubectl cnpg promote`.
    tools
        .fails(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "pg-1", "namespace": ns}),
        )
        .await;
    let result = tools
        .ok(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "2", "namespace": ns, "dry_run": true}),
        )
        .await;
    assert_eq!(structured(&result)["request"]["status"]["targetPrimary"], json!("pg-2"));
    assert_eq!(
        read(bed, &ns, &clusters(), "pg").await.unwrap()["status"]["targetPrimary"],
        json!("pg-1")
    );
    tools
        .ok(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "2", "namespace": ns}),
        )
        .await;
    let status = read(bed, &ns, &clusters(), "pg").await.unwrap()["status"].clone();
    assert_eq!(status["targetPrimary"], json!("pg-2"));
    assert_eq!(status["phase"], json!("Switchover in progress"));
    assert_eq!(status["phaseReason"], json!("Switching over to pg-2"));
    let stamp = status["targetPrimaryTimestamp"].as_str().unwrap();
    assert!(
        stamp.len() == 27 && stamp.ends_with('Z') && &stamp[10..11] == "T",
        "{stamp}"
    );
    // The operator finishes the switchover.
    patch_status(
        bed,
        &ns,
        &clusters(),
        "pg",
        healthy_status(&["pg-1", "pg-2", "pg-3", "pg-4"], "pg-2"),
    )
    .await;

    // Shrink back to 1Gi: refused without confirmation, then the migration.
    let text = tools
        .fails(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    assert!(
        text.contains("confirm_shrink") && text.contains("Nothing was changed"),
        "{text}"
    );
    assert_eq!(
        read(bed, &ns, &clusters(), "pg").await.unwrap()["spec"]["storage"]["size"],
        json!("2Gi")
    );
    let result = tools
        .ok(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "confirm_shrink": true, "namespace": ns}),
        )
        .await;
    let cluster = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert_eq!(cluster["spec"]["storage"]["size"], json!("1Gi"));
    assert_eq!(cluster["spec"]["instances"], json!(5));
    assert!(
        cluster["metadata"]["annotations"].get("cnpg.io/validation").is_none(),
        "validation not restored: {cluster}"
    );
    assert!(
        first_text(&result).contains("scale back to 4"),
        "{}",
        first_text(&result)
    );
    add_instance(bed, &ns, "pg", 5, "1Gi").await;
    patch_status(
        bed,
        &ns,
        &clusters(),
        "pg",
        healthy_status(&["pg-1", "pg-2", "pg-3", "pg-4", "pg-5"], "pg-2"),
    )
    .await;
    let result = tools
        .ok("get_cluster_resize_status", json!({"name": "pg", "namespace": ns}))
        .await;
    let next = structured(&result)["next_step"].as_str().unwrap().to_string();
    assert!(
        next.contains("delete_cluster_instance") && next.contains("pg-1"),
        "{next}"
    );

    // Recycling instances: never the primary; unconfirmed refused; a dry run keeps everything.
    let text = tools
        .fails(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "pg-2", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(text.contains("primary"), "{text}");
    let text = tools
        .fails(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "pg-1", "namespace": ns}),
        )
        .await;
    assert!(text.contains("confirm_deletion"), "{text}");
    tools
        .ok(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "pg-1", "dry_run": true, "namespace": ns}),
        )
        .await;
    assert!(read(bed, &ns, &pods(), "pg-1").await.is_some() && read(bed, &ns, &pvcs(), "pg-1").await.is_some());
    tools
        .ok(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "pg-1", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    let pod = read(bed, &ns, &pods(), "pg-1").await;
    assert!(
        pod.is_none() || pod.unwrap()["metadata"]["deletionTimestamp"].is_string(),
        "pod pg-1 not deleted"
    );
    let pvc = read(bed, &ns, &pvcs(), "pg-1").await;
    assert!(
        pvc.is_none() || pvc.unwrap()["metadata"]["deletionTimestamp"].is_string(),
        "PVC pg-1 not deleted"
    );
    // The last healthy replica is refused.
    let mut status = healthy_status(&["pg-2", "pg-3"], "pg-2");
    status["instancesStatus"] = json!({"healthy": ["pg-2", "pg-3"], "failed": ["pg-4", "pg-5"]});
    patch_status(bed, &ns, &clusters(), "pg", status).await;
    let text = tools
        .fails(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "pg-3", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(text.contains("last healthy replica"), "{text}");
    // Promoting an unhealthy instance needs force.
    let text = tools
        .fails(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "pg-4", "namespace": ns}),
        )
        .await;
    assert!(
        text.contains("not reported healthy") && text.contains("force"),
        "{text}"
    );

    // Delete the database and the role; their Secret goes with the role.
    let text = tools
        .fails(
            "delete_postgres_database",
            json!({"cluster_name": "pg", "database_name": "app_db", "namespace": ns}),
        )
        .await;
    assert!(text.contains("confirm_deletion"), "{text}");
    tools
        .ok(
            "delete_postgres_database",
            json!({"cluster_name": "pg", "database_name": "app_db", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(read(bed, &ns, &databases(), "pg-app-db").await.is_none());
    tools
        .fails(
            "delete_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app_user", "namespace": ns}),
        )
        .await;
    let result = tools
        .ok(
            "delete_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app_user", "drop_role": true, "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(
        first_text(&result).contains("reclaim policy set to `delete`"),
        "{}",
        first_text(&result)
    );
    assert!(read(bed, &ns, &database_roles(), "pg-app-user").await.is_none());
    assert!(
        read(bed, &ns, &secrets(), "cnpg-pg-user-app-user").await.is_none(),
        "our Secret was left behind"
    );

    // Delete the cluster: unconfirmed refused with the confirming call.
    let result = tools
        .session
        .call_tool("delete_postgres_cluster", json!({"name": "pg", "namespace": ns}))
        .await;
    assert_eq!(result["isError"], json!(true));
    assert_eq!(
        structured(&result)["confirming_call"]["arguments"]["confirm_deletion"],
        json!(true)
    );
    assert!(read(bed, &ns, &clusters(), "pg").await.is_some());
    tools
        .ok(
            "delete_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "dry_run": true}),
        )
        .await;
    assert!(
        read(bed, &ns, &clusters(), "pg").await.is_some(),
        "dry run deleted the cluster"
    );
    tools
        .ok(
            "delete_postgres_cluster",
            json!({"name": "pg", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(read(bed, &ns, &clusters(), "pg").await.is_none());
}

/// A server acting as service account `name` of `ns` (TokenRequest token in
/// a kubeconfig whose context namespace is `ns`).
async fn server_as(bed: &TestBed, ns: &str, name: &str) -> (ToolServer, ServiceAccountLogin) {
    let login = bed.service_account_login(ns, name).await.unwrap();
    let tools = ToolServer::start_with_kubeconfig(bed, login.kubeconfig.to_str().unwrap(), &[]).await;
    (tools, login)
}

#[tokio::test(flavor = "multi_thread")]
async fn rbac_decides_and_forbidden_calls_say_which_permission_is_missing() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-rbac").await.unwrap();
    bed.bind_role(
        &ns,
        "cnpg-reader",
        json!([{"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["get", "list"]}]),
        ("ServiceAccount", "reader"),
    )
    .await
    .unwrap();
    create(
        bed,
        &ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": 1, "storage": {"size": "1Gi"}}}),
    )
    .await;
    let (mut tools, _token) = server_as(bed, &ns, "reader").await;
    // No namespace given: the kubeconfig context's namespace is used.
    let result = tools.ok("list_postgres_clusters", json!({})).await;
    assert_eq!(structured(&result)["namespaces_searched"], json!([ns]));
    assert_eq!(structured(&result)["clusters"][0]["name"], json!("pg"));
    tools.ok("get_cluster_status", json!({"name": "pg"})).await;
    // all_namespaces: the cluster-wide list is forbidden, so are namespaces;
    // the server's namespace is searched and said so.
    let result = tools
        .ok("list_postgres_clusters", json!({"all_namespaces": true}))
        .await;
    assert_eq!(structured(&result)["namespaces_searched"], json!([ns]));
    for (tool, arguments, verb) in [
        ("scale_postgres_cluster", json!({"name": "pg", "instances": 2}), "patch"),
        (
            "delete_postgres_cluster",
            json!({"name": "pg", "confirm_deletion": true}),
            "list",
        ),
        (
            "create_postgres_cluster",
            json!({"name": "pg2", "storage_size": "1Gi"}),
            "create",
        ),
    ] {
        let result = tools.session.call_tool(tool, arguments).await;
        assert_eq!(result["isError"], json!(true), "{tool}");
        let text = first_text(&result);
        assert!(
            text.contains("403") && text.contains("Forbidden") && text.contains("system:serviceaccount"),
            "{tool}: {text}"
        );
        assert!(
            text.contains(&format!("lacks RBAC permission `{verb}`")),
            "{tool}: {text}"
        );
        assert_eq!(structured(&result)["reason"], json!("forbidden"));
    }
    assert_eq!(
        read(bed, &ns, &clusters(), "pg").await.unwrap()["spec"]["instances"],
        json!(1)
    );
    assert!(read(bed, &ns, &clusters(), "pg2").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_refused_by_rbac_leaves_no_secret_behind() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-rollback").await.unwrap();
    // May create Secrets but not DatabaseRoles.
    bed.bind_role(
        &ns,
        "half",
        json!([
            {"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["get"]},
            {"apiGroups": ["postgresql.cnpg.io"], "resources": ["databaseroles"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "delete"]}
        ]),
        ("ServiceAccount", "half"),
    )
    .await
    .unwrap();
    create(
        bed,
        &ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": 1, "storage": {"size": "1Gi"}}}),
    )
    .await;
    let (mut tools, _token) = server_as(bed, &ns, "half").await;
    let text = tools
        .fails(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app"}),
        )
        .await;
    assert!(text.contains("403") && text.contains("removed again"), "{text}");
    assert!(
        read(bed, &ns, &secrets(), "cnpg-pg-user-app").await.is_none(),
        "the Secret was left behind"
    );
    // The API server saw the Secret created and deleted.
    let verbs: Vec<String> = bed
        .audit_events()
        .iter()
        .filter(|e| {
            e.pointer("/objectRef/namespace").and_then(Value::as_str) == Some(ns.as_str())
                && e.pointer("/objectRef/resource").and_then(Value::as_str) == Some("secrets")
        })
        .filter_map(|e| e["verb"].as_str().map(str::to_string))
        .collect();
    assert!(
        verbs.contains(&"create".to_string()) && verbs.contains(&"delete".to_string()),
        "{verbs:?}"
    );

    // An existing Secret of that name is never overwritten (admin-made here).
    create(
        bed,
        &ns,
        &secrets(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cnpg-pg-user-keep"}, "stringData": {"password": "mine"}}),
    )
    .await;
    let text = tools
        .fails(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "keep"}),
        )
        .await;
    assert!(text.contains("never overwritten"), "{text}");
    let kept = read(bed, &ns, &secrets(), "cnpg-pg-user-keep").await.unwrap();
    assert_eq!(kept["data"]["password"], json!("bWluZQ=="));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_and_wait_follows_the_cluster_by_watch_with_progress_and_a_deadline() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-wait").await.unwrap();
    let tools = ToolServer::start(bed, &[]).await;
    let (port, sid, protocol) = (
        tools.session.port,
        tools.session.session_id.clone(),
        tools.session.protocol.clone(),
    );
    let ns2 = ns.clone();
    let call = tokio::spawn(async move {
        let waiting = cnpg_mcp_tests::Session::attach(port, sid, protocol);
        waiting
            .post(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
                "name": "create_postgres_cluster",
                "arguments": {"name": "pg", "instances": 1, "storage_size": "1Gi", "wait": true, "timeout": 60, "namespace": ns2},
                "_meta": {"progressToken": "create-pg"}}}))
            .await
    });
    // The operator's part, a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while read(bed, &ns, &clusters(), "pg").await.is_none() {
        assert!(std::time::Instant::now() < deadline, "cluster never created");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    patch_status(bed, &ns, &clusters(), "pg", json!({"phase": "Setting up primary"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    add_instance(bed, &ns, "pg", 1, "1Gi").await;
    patch_status(bed, &ns, &clusters(), "pg", healthy_status(&["pg-1"], "pg-1")).await;
    let reply = tokio::time::timeout(std::time::Duration::from_secs(30), call)
        .await
        .unwrap()
        .unwrap();
    let response = reply.response(5);
    let text = response["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("It is healthy") && text.contains("primary pg-1"),
        "{response}"
    );
    let progress: Vec<Value> = reply
        .messages()
        .into_iter()
        .filter(|m| m["method"] == json!("notifications/progress"))
        .collect();
    assert!(!progress.is_empty(), "no progress notifications: {}", reply.body);
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == json!("create-pg"))
    );

    // Never healthy: the wait ends at its timeout with a clear note, and the cluster stays.
    let mut tools = tools;
    let started = std::time::Instant::now();
    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "slow", "instances": 1, "storage_size": "1Gi", "wait": true, "timeout": 10, "namespace": ns}),
        )
        .await;
    let elapsed = started.elapsed();
    assert!(elapsed >= std::time::Duration::from_secs(9), "{elapsed:?}");
    assert!(
        first_text(&result).contains("Not healthy after 10 s"),
        "{}",
        first_text(&result)
    );
    assert!(read(bed, &ns, &clusters(), "slow").await.is_some());

    // Cancelled by the client: the call ends at once.
    let (port, sid, protocol) = (
        tools.session.port,
        tools.session.session_id.clone(),
        tools.session.protocol.clone(),
    );
    let ns3 = ns.clone();
    let started = std::time::Instant::now();
    let call = tokio::spawn(async move {
        let waiting = cnpg_mcp_tests::Session::attach(port, sid, protocol);
        waiting
            .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
                "name": "create_postgres_cluster",
                "arguments": {"name": "cancelled", "instances": 1, "storage_size": "1Gi", "wait": true, "timeout": 120, "namespace": ns3}}}))
            .await
    });
    while read(bed, &ns, &clusters(), "cancelled").await.is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    tools
        .session
        .post(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9, "reason": "user"}}))
        .await;
    tokio::time::timeout(std::time::Duration::from_secs(10), call)
        .await
        .expect("cancelled call must end")
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    tools
        .ok("get_cluster_status", json!({"name": "cancelled", "namespace": ns}))
        .await;
}

#[test]
fn components_inspect_shows_each_tools_schema_and_the_grant() {
    for (component, tool, grant_resource) in [
        ("cnpg-clusters", "promote_cluster_instance", "clusters/status"),
        ("cnpg-roles-databases", "create_postgres_role", "databaseroles"),
    ] {
        let output = std::process::Command::new(cnpg_mcp_tests::binary())
            .args(["components", "inspect", component])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let inspected: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(inspected["origin"], json!("built-in"));
        let described = inspected["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == json!(tool))
            .unwrap_or_else(|| panic!("{tool} not in {component}"));
        assert!(
            described["inputSchema"]["properties"]["dry_run"].is_object(),
            "{described}"
        );
        let rules = inspected["grant"]["kubernetes"].as_array().unwrap();
        assert!(
            rules
                .iter()
                .any(|r| r["resources"].as_array().unwrap().contains(&json!(grant_resource))),
            "{component}: {rules:?}"
        );
        // Secrets only by the names this server manages.
        let secrets = rules
            .iter()
            .find(|r| r["resources"] == json!(["secrets"]))
            .expect("a Secret rule");
        assert_eq!(secrets["names"], json!(["cnpg-*-user-*"]));
        assert_eq!(secrets["secret_data"], json!(false));
    }
}

/// The official Python SDK as a client that supports elicitation and
/// answers every request with `answer`.
fn python_eliciting(url: &str, mode: &str, answer: &str, tool: &str, arguments: &Value) -> Value {
    cnpg_mcp_tests::python_sdk(&["http-elicit", url, mode, answer, tool, &arguments.to_string()])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_with_elicitation_is_asked_before_a_delete() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-elicit").await.unwrap();
    let tools = ToolServer::start(bed, &[]).await;
    let url = tools.server.url();
    for (mode, database) in [("legacy", "one"), ("2026-07-28", "two")] {
        create(
            bed,
            &ns,
            &databases(),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Database", "metadata": {"name": format!("pg-{database}")},
                   "spec": {"cluster": {"name": "pg"}, "name": database, "owner": "app"}}),
        )
        .await;
        let arguments =
            json!({"cluster_name": "pg", "database_name": database, "confirm_deletion": true, "namespace": ns});
        // Declined: nothing deleted.
        let out = python_eliciting(&url, mode, "decline", "delete_postgres_database", &arguments);
        assert_eq!(out["is_error"], json!(true), "{mode}: {out}");
        assert_eq!(out["elicitations"].as_array().unwrap().len(), 1, "{mode}: {out}");
        assert!(out["elicitations"][0].as_str().unwrap().contains(database), "{out}");
        assert!(
            read(bed, &ns, &databases(), &format!("pg-{database}")).await.is_some(),
            "{mode}: deleted anyway"
        );
        // Accepted: deleted.
        let out = python_eliciting(&url, mode, "accept", "delete_postgres_database", &arguments);
        assert_eq!(out["is_error"], json!(false), "{mode}: {out}");
        assert!(
            read(bed, &ns, &databases(), &format!("pg-{database}")).await.is_none(),
            "{mode}: not deleted"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_cluster_lists_or_deletes_its_dependents_and_only_our_secrets() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-dependents").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    for name in ["pg", "keep"] {
        tools
            .ok(
                "create_postgres_cluster",
                json!({"name": name, "instances": 1, "storage_size": "1Gi", "namespace": ns}),
            )
            .await;
    }
    // A role with our Secret, a database, and a role whose Secret someone else made.
    tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "namespace": ns}),
        )
        .await;
    tools
        .ok(
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "app", "owner": "app", "namespace": ns}),
        )
        .await;
    create(
        bed,
        &ns,
        &secrets(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cnpg-pg-user-legacy"}, "stringData": {"password": "theirs"}}),
    )
    .await;
    create(
        bed,
        &ns,
        &database_roles(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "DatabaseRole", "metadata": {"name": "pg-legacy"},
               "spec": {"cluster": {"name": "pg"}, "name": "legacy", "login": true, "passwordSecret": {"name": "cnpg-pg-user-legacy"}}}),
    )
    .await;
    // Another cluster's objects are not touched.
    tools
        .ok(
            "create_postgres_database",
            json!({"cluster_name": "keep", "database_name": "app", "owner": "app", "namespace": ns}),
        )
        .await;

    // Without the flag: listed, left in place.
    let result = tools
        .ok(
            "delete_postgres_cluster",
            json!({"name": "pg", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    let text = first_text(&result);
    assert!(text.contains("left in place: Database pg-app"), "{text}");
    assert!(text.contains("left in place: DatabaseRole pg-app"), "{text}");
    assert!(
        text.contains("left in place: Secret cnpg-pg-user-app (created by this server)"),
        "{text}"
    );
    assert!(
        !text.contains("cnpg-pg-user-legacy"),
        "a foreign Secret was counted as ours: {text}"
    );
    assert!(read(bed, &ns, &clusters(), "pg").await.is_none());
    assert!(read(bed, &ns, &databases(), "pg-app").await.is_some());

    // With the flag (a new cluster of the same name owning them again).
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 1, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    let result = tools
        .ok(
            "delete_postgres_cluster",
            json!({"name": "pg", "confirm_deletion": true, "delete_dependents": true, "namespace": ns}),
        )
        .await;
    let text = first_text(&result);
    assert!(
        text.contains("deleted Database pg-app") && text.contains("deleted Secret cnpg-pg-user-app"),
        "{text}"
    );
    assert!(read(bed, &ns, &databases(), "pg-app").await.is_none());
    assert!(read(bed, &ns, &database_roles(), "pg-app").await.is_none());
    assert!(read(bed, &ns, &database_roles(), "pg-legacy").await.is_none());
    assert!(read(bed, &ns, &secrets(), "cnpg-pg-user-app").await.is_none());
    assert!(
        read(bed, &ns, &secrets(), "cnpg-pg-user-legacy").await.is_some(),
        "a Secret we did not create was deleted"
    );
    assert!(
        read(bed, &ns, &databases(), "keep-app").await.is_some(),
        "another cluster's database was deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_managed_roles_are_listed_and_pointed_to_the_cluster_spec() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-managed").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    create(
        bed,
        &ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": 1, "storage": {"size": "1Gi"},
                        "managed": {"roles": [{"name": "reporting", "login": true, "ensure": "present", "inRoles": ["pg_monitor"]}]}}}),
    )
    .await;
    patch_status(
        bed,
        &ns,
        &clusters(),
        "pg",
        json!({"managedRolesStatus": {"byStatus": {"reconciled": ["reporting"]}}}),
    )
    .await;
    let result = tools
        .ok("list_postgres_roles", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    let role = &structured(&result)["roles"][0];
    assert_eq!(role["role_name"], json!("reporting"));
    assert_eq!(role["source"], json!("Cluster.spec.managed.roles"));
    assert_eq!(role["applied"], json!(true));
    assert_eq!(role["in_roles"], json!(["pg_monitor"]));
    let result = tools
        .ok(
            "get_postgres_role_status",
            json!({"cluster_name": "pg", "role_name": "reporting", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&result)["login"], json!(true));
    let text = tools
        .fails(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "reporting", "createdb": true, "namespace": ns}),
        )
        .await;
    assert!(text.contains("spec.managed.roles"), "{text}");
    let text = tools
        .fails(
            "get_postgres_role_status",
            json!({"cluster_name": "pg", "role_name": "nobody", "namespace": ns}),
        )
        .await;
    assert!(text.contains("has no role `nobody`"), "{text}");
}

// Coming from the Python reference server: its users' names, defaults,
// parameters and expectations.

/// A one-instance Cluster `pg` written by the admin.
async fn plain_cluster(bed: &TestBed, ns: &str, instances: u32) {
    create(
        bed,
        ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": instances, "storage": {"size": "1Gi"}}}),
    )
    .await;
}

/// The YAML documents of the first fenced `yaml` block of a text.
fn yaml_documents(text: &str) -> Vec<Value> {
    let start = text
        .find("```yaml\n")
        .unwrap_or_else(|| panic!("no YAML block in: {text}"))
        + "```yaml\n".len();
    let end = start + text[start..].find("```").expect("unterminated YAML block");
    serde_yaml::Deserializer::from_str(&text[start..end])
        .map(|document| {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(document).unwrap();
            serde_json::to_value(value).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hyphenated_postgres_names_work_and_stay_apart_from_underscored_ones() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-hyphens").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    plain_cluster(bed, &ns, 1).await;

    let listed = tools.session.call("tools/list", json!({})).await;
    let create_role = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == json!("create_postgres_role"))
        .unwrap()
        .clone();
    let role_name = &create_role["inputSchema"]["properties"]["role_name"];
    assert!(
        role_name["description"]
            .as_str()
            .unwrap()
            .contains("`-` works like `_`"),
        "{role_name}"
    );

    // The reference server's kind of name.
    tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "test-role-1733", "namespace": ns}),
        )
        .await;
    let role = read(bed, &ns, &database_roles(), "pg-test-role-1733")
        .await
        .expect("DatabaseRole created");
    assert_eq!(role["spec"]["name"], json!("test-role-1733"));
    assert_eq!(
        role["spec"]["passwordSecret"]["name"],
        json!("cnpg-pg-user-test-role-1733")
    );
    let result = tools
        .ok(
            "get_postgres_role_status",
            json!({"cluster_name": "pg", "role_name": "test-role-1733", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&result)["object_name"], json!("pg-test-role-1733"));

    // `app-user` and `app_user` are two PostgreSQL roles: two objects, two Secrets.
    tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app-user", "namespace": ns}),
        )
        .await;
    let result = tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app_user", "namespace": ns}),
        )
        .await;
    let second = structured(&result)["result"]["object_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        second.starts_with("pg-app-user-") && second != "pg-app-user",
        "{second}"
    );
    let second_secret = structured(&result)["result"]["password_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(second_secret, format!("cnpg-pg-user-{}", &second["pg-".len()..]));
    let first = read(bed, &ns, &database_roles(), "pg-app-user").await.unwrap();
    assert_eq!(first["spec"]["name"], json!("app-user"));
    assert_eq!(first["spec"]["passwordSecret"]["name"], json!("cnpg-pg-user-app-user"));
    let second_role = read(bed, &ns, &database_roles(), &second).await.unwrap();
    assert_eq!(second_role["spec"]["name"], json!("app_user"));
    assert!(read(bed, &ns, &secrets(), &second_secret).await.is_some());

    // Databases and owners with `-`, and the bootstrap database of a cluster.
    tools
        .ok(
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "shop-db", "owner": "test-role-1733", "namespace": ns}),
        )
        .await;
    let database = read(bed, &ns, &databases(), "pg-shop-db")
        .await
        .expect("Database created");
    assert_eq!(database["spec"]["name"], json!("shop-db"));
    assert_eq!(database["spec"]["owner"], json!("test-role-1733"));
    tools
        .ok(
            "get_postgres_database_status",
            json!({"cluster_name": "pg", "database_name": "shop-db", "namespace": ns}),
        )
        .await;
    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "shop", "storage_size": "1Gi", "database": "shop-db", "owner": "shop-owner",
                   "namespace": ns, "dry_run": true}),
        )
        .await;
    assert_eq!(
        structured(&result)["request"]["spec"]["bootstrap"]["initdb"],
        json!({"database": "shop-db", "owner": "shop-owner"})
    );

    // Updates and deletes find them by their PostgreSQL name.
    tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app-user", "createdb": true, "namespace": ns}),
        )
        .await;
    let first = read(bed, &ns, &database_roles(), "pg-app-user").await.unwrap();
    assert_eq!(first["spec"]["createdb"], json!(true));
    let second_role = read(bed, &ns, &database_roles(), &second).await.unwrap();
    assert_eq!(second_role["spec"]["createdb"], json!(false));
    tools
        .ok(
            "delete_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app-user", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(read(bed, &ns, &database_roles(), "pg-app-user").await.is_none());
    assert!(read(bed, &ns, &secrets(), "cnpg-pg-user-app-user").await.is_none());
    assert!(read(bed, &ns, &database_roles(), &second).await.is_some());
    assert!(read(bed, &ns, &secrets(), &second_secret).await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_version_without_configuration_runs_cloudnative_pgs_own_images() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-default-image").await.unwrap();
    // The grants as shipped: no `postgres_image_repository`.
    let mut tools = ToolServer::start_as_shipped(bed).await;
    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 1, "storage_size": "1Gi", "postgres_version": "17", "namespace": ns}),
        )
        .await;
    let text = first_text(&result);
    assert!(
        text.starts_with("Created cluster")
            && text.contains("image ghcr.io/cloudnative-pg/postgresql:17.")
            && text.contains("CloudNativePG's own image repository"),
        "{text}"
    );
    let cluster = read(bed, &ns, &clusters(), "pg").await.expect("cluster created");
    assert_eq!(
        cluster["spec"]["imageName"],
        json!("ghcr.io/cloudnative-pg/postgresql:17")
    );
    // No version and no image: the operator's default, said so.
    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "plain", "instances": 1, "storage_size": "1Gi", "namespace": ns, "dry_run": true}),
        )
        .await;
    assert!(structured(&result)["request"]["spec"].get("imageName").is_none());
    assert!(
        first_text(&result).contains("the operator's default image"),
        "{}",
        first_text(&result)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn container_image_wins_over_postgres_version_and_the_answer_says_so() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-image-wins").await.unwrap();
    // With a configured repository too: the explicit image still wins.
    let mut tools = ToolServer::start(bed, &[]).await;
    let image = "registry.test/custom/postgresql:16.4-special";
    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 1, "storage_size": "1Gi", "postgres_version": "17",
                   "container_image": image, "namespace": ns}),
        )
        .await;
    let text = first_text(&result);
    assert!(
        text.contains(&format!("image {image}.")) && text.contains("`container_image` wins over `postgres_version` 17"),
        "{text}"
    );
    let cluster = read(bed, &ns, &clusters(), "pg").await.expect("cluster created");
    assert_eq!(cluster["spec"]["imageName"], json!(image));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_show_manifests_and_patches_as_yaml_and_json_stays_structured() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-yaml").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;

    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 2, "storage_size": "1Gi", "postgres_version": "17",
                   "parameters": {"max_connections": "200"},
                   "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}],
                   "namespace": ns, "dry_run": true}),
        )
        .await;
    let text = first_text(&result);
    assert!(text.contains("kind: Cluster") && !text.contains("\"kind\""), "{text}");
    let documents = yaml_documents(&text);
    assert_eq!(documents, vec![structured(&result)["request"].clone()]);
    assert_eq!(
        documents[0]["spec"]["postgresql"]["parameters"]["max_connections"],
        json!("200")
    );

    plain_cluster(bed, &ns, 1).await;
    let result = tools
        .ok(
            "scale_postgres_cluster",
            json!({"name": "pg", "instances": 3, "namespace": ns, "dry_run": true}),
        )
        .await;
    let text = first_text(&result);
    assert!(text.contains("```yaml\nspec:\n  instances: 3\n```"), "{text}");
    assert_eq!(structured(&result)["request"], json!({"spec": {"instances": 3}}));

    // A role and its Secret: two manifests, the password never shown.
    let result = tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "in_roles": ["pg_read_all_data"], "namespace": ns,
                   "dry_run": true}),
        )
        .await;
    let documents = yaml_documents(&first_text(&result));
    let kinds: Vec<&Value> = documents.iter().map(|d| &d["kind"]).collect();
    assert_eq!(kinds, vec![&json!("DatabaseRole"), &json!("Secret")]);
    assert_eq!(documents[0], structured(&result)["request"]["databaseRole"]);
    assert_eq!(documents[1]["stringData"]["password"], json!("<generated>"));
    assert!(read(bed, &ns, &database_roles(), "pg-app").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn update_postgres_role_sets_a_password_a_client_certificate_or_no_password() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-role-password").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    plain_cluster(bed, &ns, 1).await;
    tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "namespace": ns}),
        )
        .await;
    use base64::Engine;
    let password_in = |secret: &Value| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(secret["data"]["password"].as_str().unwrap())
            .unwrap();
        String::from_utf8(bytes).unwrap()
    };

    // A given password goes to the role's Secret and nowhere else.
    let given = "Given-pw-5b1d9c7e";
    let result = tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "password": given, "namespace": ns}),
        )
        .await;
    let secret = read(bed, &ns, &secrets(), "cnpg-pg-user-app").await.unwrap();
    assert_eq!(password_in(&secret), given);
    assert!(!result.to_string().contains(given), "the password was echoed: {result}");
    assert!(
        first_text(&result).starts_with("Updated role `app` in cluster"),
        "{}",
        first_text(&result)
    );

    // A client certificate, issued by the operator.
    tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "login": true, "client_certificate": true, "namespace": ns}),
        )
        .await;
    let role = read(bed, &ns, &database_roles(), "pg-app").await.unwrap();
    assert_eq!(role["spec"]["clientCertificate"]["enabled"], json!(true));
    let result = tools
        .ok(
            "get_postgres_role_status",
            json!({"cluster_name": "pg", "role_name": "app", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&result)["client_certificate"], json!(true));
    // The CRD's rule: a certificate needs login.
    let text = tools
        .fails(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "login": false, "namespace": ns}),
        )
        .await;
    assert!(
        text.contains("clientCertificate requires the role to have login enabled"),
        "{text}"
    );

    // No password: disablePassword, the Secret detached and (ours) deleted.
    tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "disable_password": true, "namespace": ns}),
        )
        .await;
    let role = read(bed, &ns, &database_roles(), "pg-app").await.unwrap();
    assert_eq!(role["spec"]["disablePassword"], json!(true));
    assert!(role["spec"].get("passwordSecret").is_none(), "{role}");
    assert!(read(bed, &ns, &secrets(), "cnpg-pg-user-app").await.is_none());
    let text = tools
        .fails(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "reset_password": true, "namespace": ns}),
        )
        .await;
    assert!(
        text.contains("has no password Secret") && text.contains("`password`"),
        "{text}"
    );

    // A password again: a new Secret, referenced, and disablePassword lifted.
    let again = "Again-pw-0c4f2a99";
    let result = tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "password": again, "namespace": ns}),
        )
        .await;
    assert!(!result.to_string().contains(again), "the password was echoed: {result}");
    let role = read(bed, &ns, &database_roles(), "pg-app").await.unwrap();
    assert_eq!(role["spec"]["disablePassword"], json!(false));
    assert_eq!(role["spec"]["passwordSecret"]["name"], json!("cnpg-pg-user-app"));
    let secret = read(bed, &ns, &secrets(), "cnpg-pg-user-app")
        .await
        .expect("Secret created again");
    assert_eq!(password_in(&secret), again);
    assert_eq!(secret["metadata"]["labels"]["cnpg.io/reload"], json!("true"));
    // Refusals do not quote the password either.
    for arguments in [
        json!({"cluster_name": "pg", "role_name": "app", "password": again, "reset_password": true, "namespace": ns}),
        json!({"cluster_name": "pg", "role_name": "app", "password": format!("{again}{}", "x".repeat(1100)),
               "namespace": ns}),
    ] {
        let result = tools.session.call_tool("update_postgres_role", arguments).await;
        assert_eq!(result["isError"], json!(true), "{result}");
        assert!(!result.to_string().contains(again), "the password was echoed: {result}");
    }
    // reset_password stays.
    tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "reset_password": true, "namespace": ns}),
        )
        .await;
    let secret = read(bed, &ns, &secrets(), "cnpg-pg-user-app").await.unwrap();
    assert_ne!(password_in(&secret), again);

    // A Secret someone else manages is neither written nor read (the grant
    // covers only this server's names); detaching it leaves it alone.
    create(
        bed,
        &ns,
        &database_roles(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "DatabaseRole", "metadata": {"name": "pg-ext"},
               "spec": {"cluster": {"name": "pg"}, "name": "ext", "login": true,
                        "passwordSecret": {"name": "ext-password"}}}),
    )
    .await;
    let text = tools
        .fails(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "ext", "password": given, "namespace": ns}),
        )
        .await;
    assert!(text.contains("ext-password was not created by this server"), "{text}");
    let result = tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "ext", "disable_password": true, "namespace": ns}),
        )
        .await;
    assert!(
        first_text(&result).contains("no longer uses Secret ext-password; left in place"),
        "{}",
        first_text(&result)
    );
    let role = read(bed, &ns, &database_roles(), "pg-ext").await.unwrap();
    assert_eq!(role["spec"]["disablePassword"], json!(true));
    assert!(role["spec"].get("passwordSecret").is_none(), "{role}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_say_what_happened_and_statuses_lead_with_the_operators_state() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cnpg-answers").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    plain_cluster(bed, &ns, 1).await;
    let result = tools
        .ok(
            "scale_postgres_cluster",
            json!({"name": "pg", "instances": 2, "namespace": ns}),
        )
        .await;
    assert_eq!(
        first_text(&result).lines().next().unwrap(),
        format!("Scaled cluster {ns}/pg from 1 to 2 instances.")
    );
    let result = tools
        .ok(
            "scale_postgres_cluster",
            json!({"name": "pg", "instances": 2, "namespace": ns}),
        )
        .await;
    assert!(
        first_text(&result).starts_with(&format!("Cluster {ns}/pg already has 2 instance(s); nothing changed.")),
        "{}",
        first_text(&result)
    );

    // Roles: waiting, applied, refused, in the operator's words.
    let result = tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "app", "namespace": ns}),
        )
        .await;
    assert!(
        first_text(&result).starts_with(&format!("Created role `app` in cluster {ns}/pg")),
        "{}",
        first_text(&result)
    );
    async fn status(tools: &mut ToolServer, tool: &str, arguments: Value) -> (String, Value) {
        let result = tools.ok(tool, arguments).await;
        (first_text(&result), structured(&result)["state"].clone())
    }
    let role_args = json!({"cluster_name": "pg", "role_name": "app", "namespace": ns});
    let (text, state) = status(&mut tools, "get_postgres_role_status", role_args.clone()).await;
    assert!(text.starts_with("`app`: waiting for the operator"), "{text}");
    assert_eq!(state, json!("waiting for the operator (not reconciled yet)"));
    patch_status(
        bed,
        &ns,
        &database_roles(),
        "pg-app",
        json!({"applied": true, "observedGeneration": 1}),
    )
    .await;
    let (text, _) = status(&mut tools, "get_postgres_role_status", role_args.clone()).await;
    assert!(text.starts_with("`app`: applied by the operator. LOGIN"), "{text}");
    patch_status(
        bed,
        &ns,
        &database_roles(),
        "pg-app",
        json!({"applied": false, "message": "role \"missing\" does not exist"}),
    )
    .await;
    let (text, _) = status(&mut tools, "get_postgres_role_status", role_args.clone()).await;
    assert!(
        text.starts_with("`app`: NOT applied, the operator reports: role \"missing\" does not exist."),
        "{text}"
    );
    let result = tools
        .ok("list_postgres_roles", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    assert!(
        first_text(&result).contains("\n- `app`: NOT applied"),
        "{}",
        first_text(&result)
    );

    // Databases likewise; a change not seen yet by the operator is said so.
    tools
        .ok(
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "shop", "owner": "app", "namespace": ns}),
        )
        .await;
    let db_args = json!({"cluster_name": "pg", "database_name": "shop", "namespace": ns});
    let (text, _) = status(&mut tools, "get_postgres_database_status", db_args.clone()).await;
    assert!(text.starts_with("`shop`: waiting for the operator"), "{text}");
    patch_status(
        bed,
        &ns,
        &databases(),
        "pg-shop",
        json!({"applied": true, "observedGeneration": 1}),
    )
    .await;
    let (text, state) = status(&mut tools, "get_postgres_database_status", db_args.clone()).await;
    assert!(text.starts_with("`shop`: applied by the operator. Owner app"), "{text}");
    assert_eq!(state, json!("applied by the operator"));
    api(bed, &ns, &databases())
        .await
        .patch(
            "pg-shop",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"databaseReclaimPolicy": "delete"}})),
        )
        .await
        .unwrap();
    let (text, _) = status(&mut tools, "get_postgres_database_status", db_args).await;
    assert!(
        text.starts_with("`shop`: applied, but the latest change is still waiting for the operator"),
        "{text}"
    );
}
