//! The CloudNativePG tools against the real operator: the bed runs the
//! operator (v1.30.0, built from source) with its admission webhooks,
//! kube-controller-manager, kube-scheduler and kwok nodes. Every object
//! the operator owns is created by the operator itself, every create and
//! update passes its defaulting and validation webhooks, and deletions are
//! collected by the real garbage collector.
//!
//! Not real: no PostgreSQL runs in the kwok pods, so the operator's calls to
//! the instance managers fail and it stops after the first instance (phase
//! "Instance Status Extraction Error"). The only writes a test makes to the
//! operator's objects are the instance-level facts an instance manager
//! would report; each is commented where it happens.

use std::time::{Duration, Instant};

use cnpg_mcp_tests::cnpg::{
    REACTION, ToolServer, api, clusters, database_roles, databases, eventually, patch_status, pods, pvcs, read,
    resource, secrets,
};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::TestBed;
use kube::api::{ListParams, PostParams};
use serde_json::{Value, json};

fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

fn services() -> kube::api::ApiResource {
    resource("", "Service", "services")
}

fn jobs() -> kube::api::ApiResource {
    resource("batch", "Job", "jobs")
}

/// Waits until `kind/name` exists in `ns` and returns it.
async fn appears(bed: &TestBed, ns: &str, kind: &kube::api::ApiResource, name: &str) -> Value {
    eventually(&format!("{} {ns}/{name}", kind.kind), || read(bed, ns, kind, name)).await
}

/// Names of the objects of `kind` in `ns`.
async fn names(bed: &TestBed, ns: &str, kind: &kube::api::ApiResource) -> Vec<String> {
    api(bed, ns, kind)
        .await
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect()
}

/// Asserts that `object` is controlled by the Cluster with `uid`.
fn owned_by_cluster(object: &Value, uid: &str) {
    let owners = object["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        owners
            .iter()
            .any(|o| o["kind"] == json!("Cluster") && o["uid"] == json!(uid) && o["controller"] == json!(true)),
        "{} {} is not controlled by Cluster {uid}: {owners:?}",
        object["kind"],
        object["metadata"]["name"]
    );
}

/// Creates cluster `name` through the tool and waits for the operator to
/// run its first instance: initdb Job done, volume bound, pod Running on a
/// kwok node. Returns the Cluster's uid.
async fn create_and_wait_for_first_instance(tools: &mut ToolServer, bed: &TestBed, ns: &str, name: &str) -> String {
    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": name, "instances": 2, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    let uid = structured(&result)["result"]["uid"].as_str().unwrap().to_string();
    let pod = format!("{name}-1");
    eventually(&format!("pod {ns}/{pod} running"), || async {
        let pod = read(bed, ns, &pods(), &pod).await?;
        (pod["status"]["phase"] == json!("Running")).then_some(())
    })
    .await;
    uid
}

#[tokio::test(flavor = "multi_thread")]
async fn create_goes_through_the_webhooks_and_the_operator_builds_the_cluster() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("op-create").await.unwrap();
    // As shipped: no image repository, so the webhook chooses the image.
    let mut tools = ToolServer::start_as_shipped(bed).await;

    // A dry run goes through the defaulting webhook too: the answer shows
    // what the operator fills in, and nothing is stored.
    let dry = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 2, "storage_size": "1Gi", "namespace": ns, "dry_run": true}),
        )
        .await;
    let defaults = &structured(&dry)["result"]["defaults"];
    assert!(
        defaults["imageName"]
            .as_str()
            .is_some_and(|i| i.starts_with("ghcr.io/cloudnative-pg/postgresql:")),
        "webhook default image: {defaults}"
    );
    assert!(
        read(bed, &ns, &clusters(), "pg").await.is_none(),
        "dry run stored the cluster"
    );

    let result = tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 2, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    let defaults = &structured(&result)["result"]["defaults"];
    assert_eq!(
        defaults["affinity"]["podAntiAffinityType"],
        json!("preferred"),
        "{defaults}"
    );
    assert_eq!(defaults["bootstrap"]["initdb"]["database"], json!("app"), "{defaults}");
    assert_eq!(defaults["bootstrap"]["initdb"]["owner"], json!("app"), "{defaults}");
    assert_eq!(defaults["postgresql"]["parameters"]["wal_level"], json!("logical"));
    let text = first_text(&result);
    assert!(
        text.contains("defaulting webhook") && text.contains("imageName"),
        "{text}"
    );
    let uid = structured(&result)["result"]["uid"].as_str().unwrap().to_string();

    // What the operator creates, each controlled by the Cluster.
    for secret in ["pg-app", "pg-ca", "pg-server", "pg-replication"] {
        owned_by_cluster(&appears(bed, &ns, &secrets(), secret).await, &uid);
    }
    let app = read(bed, &ns, &secrets(), "pg-app").await.unwrap();
    assert_eq!(app["type"], json!("kubernetes.io/basic-auth"));
    for service in ["pg-rw", "pg-ro", "pg-r"] {
        owned_by_cluster(&appears(bed, &ns, &services(), service).await, &uid);
    }
    let rw = read(bed, &ns, &services(), "pg-rw").await.unwrap();
    assert_eq!(rw["spec"]["selector"]["cnpg.io/instanceRole"], json!("primary"));
    let job = eventually("initdb job complete", || async {
        let job = read(bed, &ns, &jobs(), "pg-1-initdb").await?;
        (job["status"]["succeeded"] == json!(1)).then_some(job)
    })
    .await;
    owned_by_cluster(&job, &uid);
    let pvc = eventually("volume pg-1 bound", || async {
        let pvc = read(bed, &ns, &pvcs(), "pg-1").await?;
        (pvc["status"]["phase"] == json!("Bound")).then_some(pvc)
    })
    .await;
    owned_by_cluster(&pvc, &uid);
    assert_eq!(pvc["metadata"]["labels"]["cnpg.io/pvcRole"], json!("PG_DATA"));
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], json!("1Gi"));
    let pod = eventually("pod pg-1 running", || async {
        let pod = read(bed, &ns, &pods(), "pg-1").await?;
        (pod["status"]["phase"] == json!("Running")).then_some(pod)
    })
    .await;
    owned_by_cluster(&pod, &uid);
    assert!(
        pod["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| n.starts_with("kwok-node-")),
        "scheduled by kube-scheduler onto a kwok node: {}",
        pod["spec"]["nodeName"]
    );
    assert_eq!(pod["metadata"]["labels"]["cnpg.io/instanceName"], json!("pg-1"));

    // The operator's status, as the read tools present it.
    let status = eventually("operator status with pg-1", || async {
        let cluster = read(bed, &ns, &clusters(), "pg").await?;
        let names = cluster["status"]["instanceNames"].as_array()?;
        names.contains(&json!("pg-1")).then_some(cluster["status"].clone())
    })
    .await;
    assert_eq!(status["targetPrimary"], json!("pg-1"), "{status}");
    // The operator rewrites its status on every pass and the instance list
    // can lag behind `instanceNames`: ask until the tool shows pg-1. The
    // detailed answer lists every instance; the concise one only those not
    // healthy, and whether the operator counts pg-1 healthy varies.
    let deadline = Instant::now() + REACTION;
    loop {
        let result = tools
            .ok(
                "get_cluster_status",
                json!({"name": "pg", "namespace": ns, "detail_level": "detailed"}),
            )
            .await;
        let text = first_text(&result);
        if text.contains("pg-1") {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let phase = status["phase"].as_str().unwrap_or_default().to_string();
    assert!(!phase.is_empty(), "the operator reports a phase: {status}");
    let result = tools.ok("list_postgres_clusters", json!({"namespace": ns})).await;
    let listed = &structured(&result)["clusters"][0];
    assert_eq!(listed["name"], json!("pg"), "{listed}");
    assert_eq!(listed["instances"], json!(2), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operators_validation_refuses_what_the_crd_accepts_and_nothing_is_stored() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("op-reject").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;

    // Through the tools: the webhook's message reaches the caller.
    let text = tools
        .fails(
            "create_postgres_cluster",
            json!({"name": "fixed", "storage_size": "1Gi", "namespace": ns,
                   "parameters": {"listen_addresses": "*"}}),
        )
        .await;
    assert!(
        text.contains("vcluster.cnpg.io") && text.contains("Can't set fixed configuration parameter"),
        "{text}"
    );
    assert!(read(bed, &ns, &clusters(), "fixed").await.is_none());
    let text = tools
        .fails(
            "create_postgres_cluster",
            json!({"name": "latest", "storage_size": "1Gi", "namespace": ns,
                   "container_image": "ghcr.io/cloudnative-pg/postgresql:latest"}),
        )
        .await;
    assert!(text.contains("Can't use 'latest' as image tag"), "{text}");
    assert!(read(bed, &ns, &clusters(), "latest").await.is_none());
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    let text = tools
        .fails(
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "shop", "owner": "app", "namespace": ns,
                   "extensions": [{"name": "pg_trgm"}, {"name": "pg_trgm"}]}),
        )
        .await;
    assert!(text.contains("Duplicate value") && text.contains("pg_trgm"), "{text}");
    assert!(names(bed, &ns, &databases()).await.is_empty());

    // Directly: specs the CRD schema accepts and only the webhook refuses.
    let cluster = |name: &str, spec: Value| {
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
                                                   "metadata": {"name": name}, "spec": spec})
    };
    let refused = [
        (
            cluster("size", json!({"instances": 1, "storage": {"size": "1Gx"}})),
            "Size value isn't valid",
        ),
        (
            cluster(
                "sync",
                json!({"instances": 2, "maxSyncReplicas": 2, "storage": {"size": "1Gi"}}),
            ),
            "maxSyncReplicas must be lower than the number of instances",
        ),
        (
            cluster(
                "boot",
                json!({"instances": 1, "storage": {"size": "1Gi"},
                       "bootstrap": {"initdb": {}, "recovery": {"source": "x"}}}),
            ),
            "Only one bootstrap method can be specified at a time",
        ),
        (
            cluster(
                "reserved",
                json!({"instances": 1, "storage": {"size": "1Gi"},
                       "managed": {"roles": [{"name": "postgres", "ensure": "present"}]}}),
            ),
            "This role is reserved for operator use",
        ),
    ];
    let clusters_api = api(bed, &ns, &clusters()).await;
    for (manifest, message) in refused {
        let name = manifest["metadata"]["name"].as_str().unwrap().to_string();
        let object: kube::api::DynamicObject = serde_json::from_value(manifest).unwrap();
        match clusters_api.create(&PostParams::default(), &object).await {
            Err(kube::Error::Api(status)) => {
                assert!(
                    status
                        .message
                        .contains("admission webhook \"vcluster.cnpg.io\" denied the request")
                        && status.message.contains(message),
                    "{name}: {}",
                    status.message
                );
            }
            other => panic!("{name}: the webhook should refuse it, got {other:?}"),
        }
        assert!(read(bed, &ns, &clusters(), &name).await.is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_resize_and_switchover_meet_the_operator() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("op-day2").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    create_and_wait_for_first_instance(&mut tools, bed, &ns, "pg").await;

    // Scale: the update passes the validation webhook.
    tools
        .ok(
            "scale_postgres_cluster",
            json!({"name": "pg", "instances": 3, "namespace": ns}),
        )
        .await;
    let cluster = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert_eq!(cluster["spec"]["instances"], json!(3));

    // Resize: growing is an ordinary update.
    tools
        .ok(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "2Gi", "namespace": ns}),
        )
        .await;
    let cluster = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert_eq!(cluster["spec"]["storage"]["size"], json!("2Gi"));
    // Shrinking is refused by the operator's validation...
    let object: kube::api::DynamicObject =
        serde_json::from_value(json!({"spec": {"storage": {"size": "1Gi"}}})).unwrap();
    let refused = api(bed, &ns, &clusters())
        .await
        .patch(
            "pg",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&object),
        )
        .await;
    match refused {
        Err(kube::Error::Api(status)) => assert!(
            status.message.contains("can't shrink existing storage from 2Gi to 1Gi"),
            "{}",
            status.message
        ),
        other => panic!("the webhook should refuse a shrink, got {other:?}"),
    }
    // ...so the tool lifts it for the one update (`cnpg.io/validation:
    // disabled`), in the dry run as well, and restores it afterwards.
    let dry = tools
        .ok(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "dry_run": true, "namespace": ns}),
        )
        .await;
    assert!(
        first_text(&dry).contains("would shrink from 2Gi to 1Gi"),
        "{}",
        first_text(&dry)
    );
    tools
        .ok(
            "resize_postgres_cluster",
            json!({"name": "pg", "storage_size": "1Gi", "confirm_shrink": true, "namespace": ns}),
        )
        .await;
    let cluster = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert_eq!(cluster["spec"]["storage"]["size"], json!("1Gi"));
    assert_eq!(
        cluster["spec"]["instances"],
        json!(4),
        "one extra instance during the migration"
    );
    assert!(
        cluster["metadata"]["annotations"]["cnpg.io/validation"].is_null(),
        "validation restored: {}",
        cluster["metadata"]["annotations"]
    );
    let result = tools
        .ok("get_cluster_resize_status", json!({"name": "pg", "namespace": ns}))
        .await;
    assert!(first_text(&result).contains("pg-1"), "{}", first_text(&result));

    // Switchover. Only an instance manager reports which pod runs the
    // primary (`currentPrimary`); none runs here, so the test reports pg-1.
    patch_status(bed, &ns, &clusters(), "pg", json!({"currentPrimary": "pg-1"})).await;
    let text = tools
        .fails(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "1", "namespace": ns}),
        )
        .await;
    assert!(text.contains("already the primary"), "{text}");
    // With pg-1 reported primary, recycling it is refused.
    let text = tools
        .fails(
            "delete_cluster_instance",
            json!({"name": "pg", "instance": "pg-1", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(text.contains("primary"), "{text}");
    assert!(read(bed, &ns, &pods(), "pg-1").await.is_some());
    // The operator never got to create pg-2 (it waits for pg-1's instance
    // manager), so there is nothing to switch over to.
    let text = tools
        .fails(
            "promote_cluster_instance",
            json!({"name": "pg", "instance": "2", "force": true, "namespace": ns}),
        )
        .await;
    assert!(text.contains("404") || text.contains("not found"), "{text}");
    let cluster = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert_eq!(cluster["status"]["targetPrimary"], json!("pg-1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_and_databases_are_reconciled_as_far_as_the_operator_gets() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("op-roles").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    create_and_wait_for_first_instance(&mut tools, bed, &ns, "pg").await;

    tools
        .ok(
            "create_postgres_database",
            json!({"cluster_name": "pg", "database_name": "shop", "owner": "app", "namespace": ns,
                   "extensions": [{"name": "pg_trgm"}]}),
        )
        .await;
    let result = tools
        .ok(
            "list_postgres_databases",
            json!({"cluster_name": "pg", "namespace": ns}),
        )
        .await;
    assert!(first_text(&result).contains("shop"), "{}", first_text(&result));
    tools
        .ok(
            "create_postgres_role",
            json!({"cluster_name": "pg", "role_name": "reporter", "login": true, "namespace": ns}),
        )
        .await;
    let result = tools
        .ok(
            "get_postgres_role_status",
            json!({"cluster_name": "pg", "role_name": "reporter", "namespace": ns}),
        )
        .await;
    assert!(first_text(&result).contains("reporter"), "{}", first_text(&result));
    // The remaining role and database tools; every Cluster update they make
    // passes the validation webhook.
    let result = tools
        .ok("list_postgres_roles", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    assert!(first_text(&result).contains("reporter"), "{}", first_text(&result));
    tools
        .ok(
            "update_postgres_role",
            json!({"cluster_name": "pg", "role_name": "reporter", "createdb": true, "namespace": ns}),
        )
        .await;
    let role = read(bed, &ns, &database_roles(), "pg-reporter").await.unwrap();
    assert_eq!(role["spec"]["createdb"], json!(true), "{role}");
    let result = tools
        .ok(
            "get_postgres_database_status",
            json!({"cluster_name": "pg", "database_name": "shop", "namespace": ns}),
        )
        .await;
    assert!(first_text(&result).contains("shop"), "{}", first_text(&result));
    tools
        .ok(
            "delete_postgres_database",
            json!({"cluster_name": "pg", "database_name": "shop", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    assert!(names(bed, &ns, &databases()).await.is_empty());
    tools
        .ok(
            "delete_postgres_role",
            json!({"cluster_name": "pg", "role_name": "reporter", "drop_role": true,
                   "confirm_deletion": true, "namespace": ns}),
        )
        .await;

    // Deleting the cluster: the real garbage collector removes everything
    // the operator created.
    let dry = tools
        .ok(
            "delete_postgres_cluster",
            json!({"name": "pg", "confirm_deletion": true, "dry_run": true, "namespace": ns}),
        )
        .await;
    assert!(read(bed, &ns, &clusters(), "pg").await.is_some(), "dry run deleted");
    assert!(first_text(&dry).contains("Dry run"), "{}", first_text(&dry));
    tools
        .ok(
            "delete_postgres_cluster",
            json!({"name": "pg", "confirm_deletion": true, "namespace": ns}),
        )
        .await;
    eventually("garbage collection of the operator's objects", || async {
        let left: Vec<String> = [
            names(bed, &ns, &pods()).await,
            names(bed, &ns, &pvcs()).await,
            names(bed, &ns, &jobs()).await,
            names(bed, &ns, &services()).await,
            names(bed, &ns, &secrets())
                .await
                .into_iter()
                .filter(|s| s.starts_with("pg-"))
                .collect(),
        ]
        .concat();
        left.is_empty().then_some(())
    })
    .await;
    assert!(read(bed, &ns, &clusters(), "pg").await.is_none());
}
