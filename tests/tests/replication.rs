//! The `cnpg-replication` tools through MCP over HTTP against the real
//! CloudNativePG operator (v1.30.0): the Publication and Subscription CRDs'
//! rules (they have no webhook), the Cluster webhook on external and
//! replica clusters, and the operator's pg_basebackup Job for a replica
//! cluster. No PostgreSQL runs in the bed, so no instance manager ever
//! applies a publication or subscription: their status stays empty, which
//! the tools report as waiting.

use cnpg_mcp_tests::cnpg::{ToolServer, api, clusters, eventually, read, resource};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::TestBed;
use kube::api::PostParams;
use serde_json::{Value, json};

fn publications() -> kube::api::ApiResource {
    resource("postgresql.cnpg.io", "Publication", "publications")
}

fn subscriptions() -> kube::api::ApiResource {
    resource("postgresql.cnpg.io", "Subscription", "subscriptions")
}

fn jobs() -> kube::api::ApiResource {
    resource("batch", "Job", "jobs")
}

fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

async fn cluster(tools: &mut ToolServer, ns: &str, name: &str) {
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": name, "instances": 1, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publications_and_subscriptions_with_their_external_cluster() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("logical").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    cluster(&mut tools, &ns, "src").await;
    cluster(&mut tools, &ns, "dst").await;

    // Publications: incoherent targets refused before writing; the CRD's
    // own rule says the same.
    for (arguments, needle) in [
        (json!({}), "either `all_tables: true`"),
        (
            json!({"all_tables": true, "schemas": ["s"]}),
            "either `all_tables: true`",
        ),
        (
            json!({"schemas": ["s"], "tables": [{"name": "t", "columns": ["a"]}]}),
            "Column lists",
        ),
    ] {
        let mut arguments = arguments;
        for (k, v) in [("cluster_name", "src"), ("publication_name", "pub"), ("dbname", "app")] {
            arguments[k] = json!(v);
        }
        arguments["namespace"] = json!(ns);
        let text = tools.fails("create_publication", arguments.clone()).await;
        assert!(text.contains(needle), "{arguments}: {text}");
    }
    let rejected = api(bed, &ns, &publications())
        .await
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "postgresql.cnpg.io/v1", "kind": "Publication", "metadata": {"name": "direct"},
                "spec": {"cluster": {"name": "src"}, "name": "p", "dbname": "app",
                         "target": {"allTables": true, "objects": [{"tablesInSchema": "s"}]}}}))
            .unwrap(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        rejected.contains("allTables and objects are mutually exclusive"),
        "{rejected}"
    );

    let dry = tools
        .ok(
            "create_publication",
            json!({"cluster_name": "src", "namespace": ns, "publication_name": "orders_pub", "dbname": "app",
                   "tables": [{"name": "orders", "schema": "public", "columns": ["id", "total"]}],
                   "dry_run": true}),
        )
        .await;
    assert_eq!(
        structured(&dry)["request"]["spec"]["target"],
        json!({"objects": [{"table": {"name": "orders", "schema": "public", "columns": ["id", "total"]}}]})
    );
    assert!(read(bed, &ns, &publications(), "src-orders-pub").await.is_none());
    tools
        .ok(
            "create_publication",
            json!({"cluster_name": "src", "namespace": ns, "publication_name": "all_pub", "dbname": "app",
                   "all_tables": true}),
        )
        .await;
    let stored = read(bed, &ns, &publications(), "src-all-pub").await.unwrap();
    assert_eq!(stored["spec"]["publicationReclaimPolicy"], json!("retain"));
    let text = tools
        .fails(
            "create_publication",
            json!({"cluster_name": "src", "namespace": ns, "publication_name": "all_pub", "dbname": "app",
                   "all_tables": true}),
        )
        .await;
    assert!(text.contains("already has publication"), "{text}");
    let listed = tools
        .ok("list_publications", json!({"cluster_name": "src", "namespace": ns}))
        .await;
    assert_eq!(
        structured(&listed)["items"][0]["state"],
        json!("waiting for the primary's instance manager")
    );

    // The subscriber must declare the publisher: refused before writing.
    let text = tools
        .fails(
            "create_subscription",
            json!({"cluster_name": "dst", "namespace": ns, "subscription_name": "all_sub", "dbname": "app",
                   "publication_name": "all_pub", "external_cluster": "src"}),
        )
        .await;
    assert!(text.contains("not declared in cluster"), "{text}");
    let text = tools
        .fails(
            "add_external_cluster",
            json!({"cluster_name": "dst", "namespace": ns, "name": "src",
                   "connection_parameters": {"host": "src-rw", "password": "hunter2"}}),
        )
        .await;
    assert!(text.contains("never go into connection parameters"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    tools
        .ok(
            "add_external_cluster",
            json!({"cluster_name": "dst", "namespace": ns, "name": "src",
                   "connection_parameters": {"host": "src-rw", "user": "app", "dbname": "app", "sslmode": "require"},
                   "password_secret": {"name": "src-app", "key": "password"}}),
        )
        .await;
    let stored = read(bed, &ns, &clusters(), "dst").await.unwrap();
    assert_eq!(
        stored["spec"]["externalClusters"],
        json!([{"name": "src", "connectionParameters": {"host": "src-rw", "user": "app", "dbname": "app",
                "sslmode": "require"}, "password": {"name": "src-app", "key": "password"}}])
    );
    let text = tools
        .fails(
            "add_external_cluster",
            json!({"cluster_name": "dst", "namespace": ns, "name": "src", "connection_parameters": {"host": "x"}}),
        )
        .await;
    assert!(text.contains("replace: true"), "{text}");
    tools
        .ok(
            "create_subscription",
            json!({"cluster_name": "dst", "namespace": ns, "subscription_name": "all_sub", "dbname": "app",
                   "publication_name": "all_pub", "external_cluster": "src", "reclaim_policy": "delete",
                   "parameters": {"copy_data": "true"}}),
        )
        .await;
    let stored = read(bed, &ns, &subscriptions(), "dst-all-sub").await.unwrap();
    assert_eq!(stored["spec"]["externalClusterName"], json!("src"));
    assert_eq!(stored["spec"]["subscriptionReclaimPolicy"], json!("delete"));
    let listed = tools
        .ok(
            "list_external_clusters",
            json!({"cluster_name": "dst", "namespace": ns}),
        )
        .await;
    assert_eq!(
        structured(&listed)["external_clusters"][0]["used_by"],
        json!(["Subscription dst-all-sub"])
    );
    let text = tools
        .fails(
            "remove_external_cluster",
            json!({"cluster_name": "dst", "namespace": ns, "name": "src", "confirm_deletion": true}),
        )
        .await;
    assert!(text.contains("in use"), "{text}");

    // Deleting: the answer says whether PostgreSQL keeps it.
    let refused = tools
        .session
        .call_tool(
            "delete_subscription",
            json!({"cluster_name": "dst", "namespace": ns, "name": "all_sub"}),
        )
        .await;
    assert!(
        first_text(&refused).contains("drops subscription"),
        "{}",
        first_text(&refused)
    );
    tools
        .ok(
            "delete_subscription",
            json!({"cluster_name": "dst", "namespace": ns, "name": "all_sub", "confirm_deletion": true}),
        )
        .await;
    let deleted = tools
        .ok(
            "delete_publication",
            json!({"cluster_name": "src", "namespace": ns, "name": "all_pub", "drop_in_postgres": true,
                   "confirm_deletion": true}),
        )
        .await;
    assert_eq!(
        structured(&deleted)["request"]["patch"],
        json!({"spec": {"publicationReclaimPolicy": "delete"}})
    );
    eventually("publication and subscription objects gone", || async {
        let p = read(bed, &ns, &publications(), "src-all-pub").await;
        let s = read(bed, &ns, &subscriptions(), "dst-all-sub").await;
        (p.is_none() && s.is_none()).then_some(())
    })
    .await;
    tools
        .ok(
            "remove_external_cluster",
            json!({"cluster_name": "dst", "namespace": ns, "name": "src", "confirm_deletion": true}),
        )
        .await;
    let stored = read(bed, &ns, &clusters(), "dst").await.unwrap();
    assert_eq!(stored["spec"]["externalClusters"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_clusters_through_the_webhook_and_the_operator() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("replica").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    cluster(&mut tools, &ns, "main").await;

    let status = tools
        .ok(
            "get_replication_status",
            json!({"cluster_name": "main", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&status)["role"], json!("primary"));
    let text = tools
        .fails(
            "promote_replica_cluster",
            json!({"name": "main", "namespace": ns, "confirm_promotion": true}),
        )
        .await;
    assert!(text.contains("not a replica cluster"), "{text}");

    let dry = tools
        .ok(
            "create_replica_cluster",
            json!({"name": "standby", "namespace": ns, "source_cluster": "main", "dry_run": true}),
        )
        .await;
    let spec = &structured(&dry)["request"]["spec"];
    assert_eq!(spec["replica"], json!({"enabled": true, "source": "main"}));
    assert_eq!(spec["bootstrap"], json!({"pg_basebackup": {"source": "main"}}));
    assert_eq!(
        spec["externalClusters"][0]["sslCert"]["name"],
        json!("main-replication")
    );
    assert_eq!(spec["storage"]["size"], json!("1Gi"));
    assert!(read(bed, &ns, &clusters(), "standby").await.is_none());

    // The operator's webhook on a replica whose source is not declared.
    let rejected = api(bed, &ns, &clusters())
        .await
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "orphan"},
                "spec": {"instances": 1, "storage": {"size": "1Gi"},
                         "bootstrap": {"pg_basebackup": {"source": "nowhere"}},
                         "replica": {"enabled": true, "source": "nowhere"}}}))
            .unwrap(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(rejected.contains("External cluster nowhere not found"), "{rejected}");

    tools
        .ok(
            "create_replica_cluster",
            json!({"name": "standby", "namespace": ns, "source_cluster": "main"}),
        )
        .await;
    // The operator clones the source with a pg_basebackup Job.
    eventually("the operator's pg_basebackup job", || async {
        read(bed, &ns, &jobs(), "standby-1-pgbasebackup").await.map(|_| ())
    })
    .await;
    let status = tools
        .ok(
            "get_replication_status",
            json!({"cluster_name": "standby", "namespace": ns}),
        )
        .await;
    assert_eq!(structured(&status)["role"], json!("replica cluster"));
    assert!(first_text(&status).contains("source main"), "{}", first_text(&status));

    // Promotion of a standalone replica: irreversible, so confirmed.
    let refused = tools
        .session
        .call_tool("promote_replica_cluster", json!({"name": "standby", "namespace": ns}))
        .await;
    assert_eq!(refused["isError"], json!(true));
    assert!(
        first_text(&refused).contains("IRREVERSIBLE"),
        "{}",
        first_text(&refused)
    );
    tools
        .ok(
            "promote_replica_cluster",
            json!({"name": "standby", "namespace": ns, "confirm_promotion": true}),
        )
        .await;
    let stored = read(bed, &ns, &clusters(), "standby").await.unwrap();
    assert_eq!(stored["spec"]["replica"]["enabled"], json!(false));
    let main = read(bed, &ns, &clusters(), "main").await.unwrap();
    assert!(main["spec"]["replica"].is_null(), "the source is untouched");
}
