//! Fixtures for the CloudNativePG tool tests: a server with the built-in
//! components against the test bed, and "operator-like" objects (instance
//! pods, volumes, Cluster status) written as the admin through the real API
//! server, the way the operator would write them. No operator runs here.

use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::testbed::TestBed;
use crate::{Server, Session, first_text};

/// Image repository the tests configure for `postgres_version`.
pub const TEST_IMAGE_REPOSITORY: &str = "registry.test/cnpg/postgresql";

pub fn resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    let api_version = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version,
        kind: kind.into(),
        plural: plural.into(),
    }
}

pub fn clusters() -> ApiResource {
    resource("postgresql.cnpg.io", "Cluster", "clusters")
}
pub fn databases() -> ApiResource {
    resource("postgresql.cnpg.io", "Database", "databases")
}
pub fn database_roles() -> ApiResource {
    resource("postgresql.cnpg.io", "DatabaseRole", "databaseroles")
}
pub fn pods() -> ApiResource {
    resource("", "Pod", "pods")
}
pub fn pvcs() -> ApiResource {
    resource("", "PersistentVolumeClaim", "persistentvolumeclaims")
}
pub fn secrets() -> ApiResource {
    resource("", "Secret", "secrets")
}

/// The admin's view of one resource in one namespace.
pub async fn api(bed: &TestBed, ns: &str, kind: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(bed.client().await.unwrap(), ns, kind)
}

/// The object as JSON, or None when it does not exist.
pub async fn read(bed: &TestBed, ns: &str, kind: &ApiResource, name: &str) -> Option<Value> {
    api(bed, ns, kind)
        .await
        .get_opt(name)
        .await
        .unwrap()
        .map(|o| serde_json::to_value(o).unwrap())
}

pub async fn create(bed: &TestBed, ns: &str, kind: &ApiResource, manifest: Value) -> Value {
    let object: DynamicObject = serde_json::from_value(manifest).unwrap();
    serde_json::to_value(
        api(bed, ns, kind)
            .await
            .create(&PostParams::default(), &object)
            .await
            .unwrap(),
    )
    .unwrap()
}

pub async fn patch_status(bed: &TestBed, ns: &str, kind: &ApiResource, name: &str, status: Value) {
    api(bed, ns, kind)
        .await
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&json!({"status": status})))
        .await
        .unwrap();
}

/// Storage class of the test volumes; it allows expansion, so the API
/// server's resize admission lets volume requests grow.
pub const STORAGE_CLASS: &str = "fast";

async fn ensure_storage_class(bed: &TestBed) {
    let kind = ApiResource {
        group: "storage.k8s.io".into(),
        version: "v1".into(),
        api_version: "storage.k8s.io/v1".into(),
        kind: "StorageClass".into(),
        plural: "storageclasses".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(bed.client().await.unwrap(), &kind);
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STORAGE_CLASS},
        "provisioner": "test.cnpg-mcp/csi", "allowVolumeExpansion": true,
    }))
    .unwrap();
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => panic!("storage class: {error}"),
    }
}

/// One instance as the operator creates it: a pod and its data volume
/// (bound, with `capacity`, of the expandable class [`STORAGE_CLASS`]),
/// labelled like CloudNativePG labels them.
pub async fn add_instance(bed: &TestBed, ns: &str, cluster: &str, number: u32, capacity: &str) -> String {
    ensure_storage_class(bed).await;
    let name = format!("{cluster}-{number}");
    let labels = json!({"cnpg.io/cluster": cluster, "cnpg.io/instanceName": name, "cnpg.io/podRole": "instance"});
    create(
        bed,
        ns,
        &pods(),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
               "spec": {"containers": [{"name": "postgres", "image": "postgres-test"}]}}),
    )
    .await;
    let mut pvc_labels = labels.clone();
    pvc_labels["cnpg.io/pvcRole"] = json!("PG_DATA");
    create(
        bed,
        ns,
        &pvcs(),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "labels": pvc_labels},
               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": STORAGE_CLASS,
                        "resources": {"requests": {"storage": capacity}}}}),
    )
    .await;
    patch_status(
        bed,
        ns,
        &pvcs(),
        &name,
        json!({"phase": "Bound", "capacity": {"storage": capacity}}),
    )
    .await;
    name
}

/// The Cluster status the operator reports for a healthy cluster whose
/// instances are `names` with `primary` as the primary.
pub fn healthy_status(names: &[&str], primary: &str) -> Value {
    json!({
        "phase": "Cluster in healthy state",
        "instances": names.len(),
        "readyInstances": names.len(),
        "currentPrimary": primary,
        "targetPrimary": primary,
        "instanceNames": names,
        "instancesStatus": {"healthy": names},
        "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "Cluster is Ready",
                        "lastTransitionTime": "2026-11-29T00:00:00Z"}],
    })
}

/// A server with the built-in components against the test bed; the
/// cnpg-clusters grant gets an image repository so `postgres_version` works.
pub struct ToolServer {
    pub server: Server,
    pub session: Session,
    _dir: crate::tempdir::TempDir,
}

/// The built-in grant of cnpg-clusters plus the test image repository.
pub fn clusters_grant_with_repository() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../components/cnpg-clusters/grant.toml");
    let grant = std::fs::read_to_string(path).unwrap();
    format!("[config]\npostgres_image_repository = \"{TEST_IMAGE_REPOSITORY}\"\n\n{grant}")
}

impl ToolServer {
    pub async fn start(bed: &TestBed, extra_args: &[&str]) -> ToolServer {
        Self::start_with_kubeconfig(bed, bed.kubeconfig.to_str().unwrap(), extra_args).await
    }

    /// A server with the built-in grants exactly as shipped: no image
    /// repository, so the operator's webhook picks the PostgreSQL image.
    pub async fn start_as_shipped(bed: &TestBed) -> ToolServer {
        Self::start_in(
            crate::tempdir::TempDir::new("cnpg-tools"),
            bed.kubeconfig.to_str().unwrap(),
            &[],
        )
        .await
    }

    pub async fn start_with_kubeconfig(_bed: &TestBed, kubeconfig: &str, extra_args: &[&str]) -> ToolServer {
        let dir = crate::tempdir::TempDir::new("cnpg-tools");
        std::fs::write(
            dir.path().join("cnpg-clusters.grant.toml"),
            clusters_grant_with_repository(),
        )
        .unwrap();
        Self::start_in(dir, kubeconfig, extra_args).await
    }

    async fn start_in(dir: crate::tempdir::TempDir, kubeconfig: &str, extra_args: &[&str]) -> ToolServer {
        let mut args = vec!["--components", dir.path().to_str().unwrap(), "--kubeconfig", kubeconfig];
        args.extend_from_slice(extra_args);
        let server = Server::start(&args);
        let session = Session::open(server.port).await;
        ToolServer {
            server,
            session,
            _dir: dir,
        }
    }

    /// Calls a tool that must succeed; returns the result.
    pub async fn ok(&mut self, tool: &str, arguments: Value) -> Value {
        let result = self.session.call_tool(tool, arguments.clone()).await;
        assert_eq!(
            result["isError"],
            json!(false),
            "{tool} {arguments} failed: {}",
            first_text(&result)
        );
        result
    }

    /// Calls a tool that must fail with `isError`; returns its text.
    pub async fn fails(&mut self, tool: &str, arguments: Value) -> String {
        let result = self.session.call_tool(tool, arguments.clone()).await;
        assert_eq!(
            result["isError"],
            json!(true),
            "{tool} {arguments} should fail, got: {}",
            first_text(&result)
        );
        first_text(&result)
    }
}

/// How long the operator, the controllers and kwok get to react.
pub const REACTION: std::time::Duration = std::time::Duration::from_secs(60);

/// Polls `probe` until it returns `Some`, or panics after [`REACTION`]
/// saying what was awaited.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + REACTION;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
