//! The test bed itself: a real kube-apiserver with the CloudNativePG CRDs,
//! whose OpenAPI and CEL validation reject bad manifests, and whose status
//! subresource takes operator-like status.

use cnpg_mcp_tests::testbed::{TestBed, cnpg_cluster};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;

fn cluster(name: &str, spec: serde_json::Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn crds_validate_and_status_is_writable() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("testbed").await.unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(bed.client().await.unwrap(), &ns, &cnpg_cluster());

    let created = api
        .create(
            &PostParams::default(),
            &cluster("pg-ok", json!({"instances": 3, "storage": {"size": "1Gi"}})),
        )
        .await
        .expect("a valid Cluster is accepted");
    assert_eq!(created.data["spec"]["instances"], json!(3));

    // OpenAPI validation: instances must be at least 1.
    let error = api
        .create(
            &PostParams::default(),
            &cluster("pg-zero", json!({"instances": 0, "storage": {"size": "1Gi"}})),
        )
        .await
        .expect_err("instances: 0 must be rejected");
    match error {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(status.message.contains("instances"), "{}", status.message);
        }
        other => panic!("expected an API error, got {other:?}"),
    }

    let updated = bed
        .write_status(
            &cnpg_cluster(),
            &ns,
            "pg-ok",
            json!({"phase": "Cluster in healthy state", "readyInstances": 3}),
        )
        .await
        .expect("status subresource");
    assert_eq!(updated.data["status"]["phase"], json!("Cluster in healthy state"));
}
