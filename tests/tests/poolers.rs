//! The `cnpg-poolers` tools through MCP over HTTP against the real
//! CloudNativePG operator (v1.30.0): its Pooler webhook, and the Deployment
//! and Service it runs for a Pooler (kube-controller-manager and kwok make
//! the PgBouncer pods; no PgBouncer process runs in them).

use cnpg_mcp_tests::cnpg::{ToolServer, api, eventually, read, resource};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::TestBed;
use kube::api::PostParams;
use serde_json::{Value, json};

fn poolers() -> kube::api::ApiResource {
    resource("postgresql.cnpg.io", "Pooler", "poolers")
}

fn deployments() -> kube::api::ApiResource {
    resource("apps", "Deployment", "deployments")
}

fn services() -> kube::api::ApiResource {
    resource("", "Service", "services")
}

fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

/// Every parameter name the tool lets through, as the component's schema
/// does not list them: read from the component's source of truth.
fn allowed_parameters() -> Vec<String> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../components/cnpg-poolers/src/args.rs"),
    )
    .unwrap();
    let start = source.find("pub const ALLOWED_PARAMETERS").unwrap();
    let end = start + source[start..].find("];").unwrap();
    source[start..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"').and_then(|l| l.strip_suffix("\",")))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn poolers_through_the_operators_webhook_and_controller() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("pooler").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 1, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;

    // Refused before any write.
    for (arguments, needle) in [
        (json!({"name": "pg"}), "cannot have its cluster's name"),
        (
            json!({"parameters": {"listen_port": "6432"}}),
            "listen_port are not allowed",
        ),
        (json!({"auth_query": "SELECT 1"}), "go together"),
    ] {
        let mut arguments = arguments;
        arguments["cluster_name"] = json!("pg");
        arguments["namespace"] = json!(ns);
        let text = tools.fails("create_pooler", arguments.clone()).await;
        assert!(text.contains(needle), "{arguments}: {text}");
    }
    // The operator's webhook says the same about a parameter it reserves.
    let rejected = api(bed, &ns, &poolers())
        .await
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "postgresql.cnpg.io/v1", "kind": "Pooler", "metadata": {"name": "direct"},
                "spec": {"cluster": {"name": "pg"}, "pgbouncer": {"parameters": {"listen_port": "6432"}}}}))
            .unwrap(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(rejected.contains("Invalid or reserved parameter"), "{rejected}");

    // Every parameter the tool allows passes the webhook (dry run).
    let all: serde_json::Map<String, Value> = allowed_parameters()
        .into_iter()
        .map(|name| (name, json!("1")))
        .collect();
    assert!(all.len() > 50, "{}", all.len());
    tools
        .ok(
            "create_pooler",
            json!({"cluster_name": "pg", "namespace": ns, "name": "every-parameter", "parameters": all,
                   "dry_run": true}),
        )
        .await;
    assert!(read(bed, &ns, &poolers(), "every-parameter").await.is_none());

    let created = tools
        .ok(
            "create_pooler",
            json!({"cluster_name": "pg", "namespace": ns, "instances": 2, "pool_mode": "transaction",
                   "parameters": {"max_client_conn": "500", "default_pool_size": "20"}}),
        )
        .await;
    assert_eq!(structured(&created)["result"]["name"], json!("pg-pooler-rw"));
    assert_eq!(
        structured(&created)["result"]["address"],
        json!(format!("pg-pooler-rw.{ns}.svc:5432"))
    );

    // The operator's Deployment and Service; kwok runs the pods.
    let deployment = eventually("the pooler's Deployment", || async {
        read(bed, &ns, &deployments(), "pg-pooler-rw").await
    })
    .await;
    assert_eq!(deployment["spec"]["replicas"], json!(2));
    assert_eq!(
        deployment["metadata"]["ownerReferences"][0]["kind"],
        json!("Pooler"),
        "{}",
        deployment["metadata"]
    );
    let service = eventually("the pooler's Service", || async {
        read(bed, &ns, &services(), "pg-pooler-rw").await
    })
    .await;
    assert_eq!(service["spec"]["ports"][0]["port"], json!(5432));
    // kwok reports the pods ready; the Deployment controller counts them.
    let deadline = std::time::Instant::now() + cnpg_mcp_tests::cnpg::REACTION;
    let status = loop {
        let result = tools
            .ok("get_pooler_status", json!({"name": "pg-pooler-rw", "namespace": ns}))
            .await;
        if result["structuredContent"]["ready_instances"] == json!(2) {
            break result;
        }
        assert!(std::time::Instant::now() < deadline, "{}", first_text(&result));
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let p = structured(&status);
    assert_eq!(p["pool_mode"], json!("transaction"));
    assert_eq!(p["parameters"]["max_client_conn"], json!("500"));
    assert_eq!(p["service"], json!("pg-pooler-rw"));
    assert!(
        first_text(&status).contains("the operator's auth query"),
        "{}",
        first_text(&status)
    );
    let listed = tools
        .ok("list_poolers", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    assert_eq!(structured(&listed)["poolers"][0]["name"], json!("pg-pooler-rw"));

    // Pause, drop a parameter, scale down: one merge patch; the operator
    // follows with the Deployment.
    let text = tools
        .fails(
            "update_pooler",
            json!({"name": "pg-pooler-rw", "namespace": ns, "parameters": {"unix_socket_dir": "/tmp"}}),
        )
        .await;
    assert!(text.contains("unix_socket_dir"), "{text}");
    let changed = tools
        .ok(
            "update_pooler",
            json!({"name": "pg-pooler-rw", "namespace": ns, "instances": 1, "paused": true,
                   "parameters": {"default_pool_size": null}}),
        )
        .await;
    let request = &structured(&changed)["request"];
    assert_eq!(
        request,
        &json!({"spec": {"instances": 1, "pgbouncer": {"paused": true, "parameters": {"default_pool_size": null}}}})
    );
    let stored = read(bed, &ns, &poolers(), "pg-pooler-rw").await.unwrap();
    assert_eq!(stored["spec"]["pgbouncer"]["paused"], json!(true));
    assert!(stored["spec"]["pgbouncer"]["parameters"]["default_pool_size"].is_null());
    eventually("the Deployment scaled to one", || async {
        let d = read(bed, &ns, &deployments(), "pg-pooler-rw").await?;
        (d["spec"]["replicas"] == json!(1)).then_some(())
    })
    .await;

    // Delete: confirmation, then the garbage collector takes the rest.
    let refused = tools
        .session
        .call_tool("delete_pooler", json!({"name": "pg-pooler-rw", "namespace": ns}))
        .await;
    assert_eq!(refused["isError"], json!(true));
    assert!(first_text(&refused).contains("cut off"), "{}", first_text(&refused));
    tools
        .ok(
            "delete_pooler",
            json!({"name": "pg-pooler-rw", "namespace": ns, "confirm_deletion": true}),
        )
        .await;
    eventually("the Deployment collected", || async {
        read(bed, &ns, &deployments(), "pg-pooler-rw")
            .await
            .is_none()
            .then_some(())
    })
    .await;
}
