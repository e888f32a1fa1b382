//! Helpers of the deployment tests: the helm CLI (built from Go modules by
//! `tests/helm/build.sh`), rendering the chart, and creating rendered
//! objects in the test bed's real API server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;

use crate::testbed::TestBed;

/// Kubernetes version the chart is rendered for (the test bed's).
pub const KUBE_VERSION: &str = "1.34.4";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn chart() -> PathBuf {
    repo_root().join("deploy/helm/cnpg-mcp")
}

/// The helm binary (built once per machine, cached outside the clone).
pub fn helm() -> PathBuf {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo_root().join("tests/helm/build.sh"))
            .output()
            .expect("run tests/helm/build.sh");
        assert!(
            output.status.success(),
            "building helm failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    })
    .clone()
}

/// `helm template` output as text; panics with helm's message on failure.
pub fn render_text(release: &str, namespace: &str, args: &[&str]) -> String {
    let output = Command::new(helm())
        .args(["template", release])
        .arg(chart())
        .args(["--namespace", namespace, "--kube-version", KUBE_VERSION])
        .args(args)
        .output()
        .expect("run helm");
    assert!(
        output.status.success(),
        "helm template failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `helm template` failing: its error text.
pub fn render_error(args: &[&str]) -> String {
    let output = Command::new(helm())
        .args(["template", "t"])
        .arg(chart())
        .args(["--kube-version", KUBE_VERSION])
        .args(args)
        .output()
        .expect("run helm");
    assert!(!output.status.success(), "helm template should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The rendered objects.
pub fn render(release: &str, namespace: &str, args: &[&str]) -> Vec<Value> {
    parse_documents(&render_text(release, namespace, args))
}

pub fn parse_documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|doc| {
            let value = Value::deserialize(doc).expect("rendered YAML parses");
            (!value.is_null()).then_some(value)
        })
        .collect()
}

pub fn find<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// Creates every object in the API server (real create: admission, schema
/// and RBAC escalation checks), in `namespace` unless it names its own.
pub async fn create_all(bed: &TestBed, namespace: &str, objects: &[Value]) -> Result<(), String> {
    let client = bed.client().await.map_err(|e| e.to_string())?;
    for object in objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .map_err(|e| format!("{kind}: {e}"))?;
        let api: Api<DynamicObject> = if capabilities.scope == kube::discovery::Scope::Namespaced {
            let ns = object["metadata"]["namespace"].as_str().unwrap_or(namespace);
            Api::namespaced_with(client.clone(), ns, &resource)
        } else {
            Api::all_with(client.clone(), &resource)
        };
        let dynamic: DynamicObject = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
        api.create(&PostParams::default(), &dynamic)
            .await
            .map_err(|e| format!("{kind} {}: {e}", object["metadata"]["name"]))?;
    }
    Ok(())
}
