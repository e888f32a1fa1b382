//! The `k8s` capability against the real API server of the test bed:
//! a component reads a CloudNativePG Cluster through the host, errors come
//! back typed with the API server's Status, and the grant still applies.

use cnpg_mcp_tests::testbed::{TestBed, cnpg_cluster};
use cnpg_mcp_tests::{Server, Session, component_folder, first_text};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;

const GRANT: &str = r#"
[[kubernetes]]
verbs = ["get"]
api_groups = ["postgresql.cnpg.io"]
resources = ["clusters"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_component_reads_a_cluster_through_the_host() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("k8s").await.unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(bed.client().await.unwrap(), &ns, &cnpg_cluster());
    let cluster: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "pg-a"},
        "spec": {"instances": 2, "storage": {"size": "1Gi"}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &cluster).await.unwrap();

    let dir = component_folder(&[("test_misbehave", Some(GRANT))]);
    let server = Server::start(&[
        "--no-builtin",
        "--components",
        dir.path().to_str().unwrap(),
        "--kubeconfig",
        bed.kubeconfig.to_str().unwrap(),
    ]);
    let mut session = Session::open(server.port).await;
    let get = |resource: &str, name: &str| json!({"group": "postgresql.cnpg.io", "resource": resource, "namespace": ns, "name": name});

    let text = first_text(&session.call_tool("k8s_get", get("clusters", "pg-a")).await);
    let object: serde_json::Value = serde_json::from_str(text.strip_prefix("ok: ").expect(&text)).unwrap();
    assert_eq!(object["metadata"]["name"], json!("pg-a"));
    assert_eq!(object["spec"]["instances"], json!(2));

    let text = first_text(&session.call_tool("k8s_get", get("clusters", "missing")).await);
    assert!(
        text.contains("K8sError::NotFound") && text.contains("code: 404"),
        "{text}"
    );

    // The grant covers clusters only: poolers are refused before any I/O.
    let text = first_text(&session.call_tool("k8s_get", get("poolers", "pg-a")).await);
    assert!(text.starts_with("denied-by-policy:"), "{text}");
}

#[test]
fn an_explicit_kubeconfig_that_does_not_work_stops_the_start() {
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("kubeconfig");
    let missing = dir.path().join("nope.yaml");
    let log = match Server::try_start(&["--kubeconfig", missing.to_str().unwrap()]) {
        Ok(_) => panic!("started with a missing kubeconfig"),
        Err(log) => log,
    };
    assert!(log.contains("cannot configure Kubernetes access"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn session_info_reports_the_cloudnativepg_api_from_discovery() {
    let bed = TestBed::shared().await;
    let server = Server::start(&["--kubeconfig", bed.kubeconfig.to_str().unwrap()]);
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("get_session_info", json!({})).await;
    assert_eq!(result["isError"], json!(false), "{result}");
    let kubernetes = &result["structuredContent"]["kubernetes"];
    assert_eq!(kubernetes["reachable"], json!(true), "{result}");
    assert_eq!(
        kubernetes["cnpg_cluster_api"],
        json!("postgresql.cnpg.io/v1 (clusters)"),
        "{result}"
    );
    assert_eq!(result["structuredContent"]["caller"]["subject"], json!("local"));
}
