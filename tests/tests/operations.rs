//! The `cnpg-operations` tools through MCP over HTTP against the real
//! CloudNativePG operator (v1.30.0): the annotations and fields each writes,
//! admitted by the operator's webhook, and what the operator does with them
//! as far as the bed lets it. No PostgreSQL runs, so the cluster never gets
//! healthy: hibernation stops at the operator's "waiting for healthy"
//! condition, and a restart is seen as far as the operator replacing the
//! pod.

use cnpg_mcp_tests::cnpg::{ToolServer, clusters, eventually, pvcs, read};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::TestBed;
use serde_json::{Value, json};

fn annotation(cluster: &Value, key: &str) -> Value {
    cluster["metadata"]["annotations"][key].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn day_two_operations_write_what_kubectl_cnpg_writes() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("ops").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 1, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    eventually("pg-1 known to the operator", || async {
        let cluster = read(bed, &ns, &clusters(), "pg").await?;
        cluster["status"]["instanceNames"]
            .as_array()?
            .contains(&json!("pg-1"))
            .then_some(())
    })
    .await;
    let current = || async { read(bed, &ns, &clusters(), "pg").await.unwrap() };

    // Reload and rolling restart: the plugin's annotations.
    tools
        .ok("reload_postgres_cluster", json!({"name": "pg", "namespace": ns}))
        .await;
    let reloaded = annotation(&current().await, "cnpg.io/reloadedAt");
    assert!(
        reloaded
            .as_str()
            .is_some_and(|t| t.len() == "2026-12-06T03:10:30.123456Z".len()),
        "{reloaded}"
    );
    tools
        .ok(
            "restart_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "dry_run": true}),
        )
        .await;
    assert!(annotation(&current().await, "kubectl.kubernetes.io/restartedAt").is_null());
    tools
        .ok("restart_postgres_cluster", json!({"name": "pg", "namespace": ns}))
        .await;
    let restarted = annotation(&current().await, "kubectl.kubernetes.io/restartedAt");
    assert!(
        restarted
            .as_str()
            .is_some_and(|t| t.len() == "2026-12-06T03:10:30Z".len()),
        "{restarted}"
    );
    let text = tools
        .fails(
            "restart_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "instance": "9"}),
        )
        .await;
    assert!(text.contains("not an instance"), "{text}");

    // Fencing: confirmation, the JSON list, `*`, and the plugin's refusal
    // to lift one instance's fence while all are fenced.
    let refused = tools
        .session
        .call_tool(
            "fence_postgres_instances",
            json!({"name": "pg", "namespace": ns, "instance": "1", "action": "on"}),
        )
        .await;
    assert_eq!(refused["isError"], json!(true));
    assert!(annotation(&current().await, "cnpg.io/fencedInstances").is_null());
    tools
        .ok(
            "fence_postgres_instances",
            json!({"name": "pg", "namespace": ns, "instance": "1", "action": "on", "confirm_fencing": true}),
        )
        .await;
    assert_eq!(
        annotation(&current().await, "cnpg.io/fencedInstances"),
        json!("[\"pg-1\"]")
    );
    tools
        .ok(
            "fence_postgres_instances",
            json!({"name": "pg", "namespace": ns, "instance": "*", "action": "on", "confirm_fencing": true}),
        )
        .await;
    assert_eq!(
        annotation(&current().await, "cnpg.io/fencedInstances"),
        json!("[\"*\"]")
    );
    let text = tools
        .fails(
            "fence_postgres_instances",
            json!({"name": "pg", "namespace": ns, "instance": "pg-1", "action": "off"}),
        )
        .await;
    assert!(text.contains("every instance is fenced"), "{text}");
    tools
        .ok(
            "fence_postgres_instances",
            json!({"name": "pg", "namespace": ns, "instance": "*", "action": "off"}),
        )
        .await;
    assert!(annotation(&current().await, "cnpg.io/fencedInstances").is_null());

    // Node maintenance: the plugin's fields, through the webhook.
    tools
        .ok(
            "set_maintenance_window",
            json!({"name": "pg", "namespace": ns, "in_progress": true}),
        )
        .await;
    assert_eq!(
        current().await["spec"]["nodeMaintenanceWindow"],
        json!({"inProgress": true, "reusePVC": false})
    );

    // Hibernation: confirmed, then the operator's own condition; the pod
    // and volume stay because the cluster never gets healthy here.
    let status = tools
        .ok(
            "hibernate_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "action": "status"}),
        )
        .await;
    assert!(
        first_text(&status).contains("hibernation off"),
        "{}",
        first_text(&status)
    );
    let refused = tools
        .session
        .call_tool(
            "hibernate_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "action": "on"}),
        )
        .await;
    assert_eq!(refused["isError"], json!(true));
    assert!(first_text(&refused).contains("volumes"), "{}", first_text(&refused));
    tools
        .ok(
            "hibernate_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "action": "on", "confirm_hibernation": true}),
        )
        .await;
    assert_eq!(annotation(&current().await, "cnpg.io/hibernation"), json!("on"));
    let deadline = std::time::Instant::now() + cnpg_mcp_tests::cnpg::REACTION;
    loop {
        let status = tools
            .ok(
                "hibernate_postgres_cluster",
                json!({"name": "pg", "namespace": ns, "action": "status"}),
            )
            .await;
        if first_text(&status).contains("WaitingForHealthy") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", first_text(&status));
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // The volume stays whatever the operator does with the pod (the
    // rolling restart above may be recreating it).
    assert!(read(bed, &ns, &pvcs(), "pg-1").await.is_some());
    let text = tools
        .fails(
            "hibernate_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "action": "on", "confirm_hibernation": true}),
        )
        .await;
    assert!(text.contains("already in the requested state"), "{text}");
    tools
        .ok(
            "hibernate_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "action": "off"}),
        )
        .await;
    assert_eq!(annotation(&current().await, "cnpg.io/hibernation"), json!("off"));
}
