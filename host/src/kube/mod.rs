//! The Kubernetes client behind the `k8s` capability: credentials from a
//! kubeconfig (or the in-cluster service account), the dynamic API, and
//! errors that carry the API server's Status.
//!
//! Knows nothing about components or WIT; the capability in
//! `runtime/capabilities/k8s.rs` checks the grant and translates.

use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Largest response handed to a component, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// How the server reaches the API server.
#[derive(Debug, Clone, Default)]
pub struct KubeSettings {
    /// Kubeconfig file; `None` uses `KUBECONFIG`, `~/.kube/config` or the
    /// in-cluster service account, in that order.
    pub kubeconfig: Option<std::path::PathBuf>,
    pub context: Option<String>,
    /// Limit for one API request.
    pub request_timeout: Option<Duration>,
}

/// One object or collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// What went wrong, classified for the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeFailure {
    /// HTTP status (0 when nothing was answered).
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub causes: Vec<Cause>,
}

impl KubeFailure {
    fn local(reason: &str, message: String) -> Self {
        KubeFailure {
            code: 0,
            reason: reason.into(),
            message,
            causes: Vec::new(),
        }
    }
}

fn failure(error: kube::Error) -> KubeFailure {
    match error {
        kube::Error::Api(status) => KubeFailure {
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
            causes: status
                .details
                .map(|d| {
                    d.causes
                        .into_iter()
                        .map(|c| Cause {
                            reason: c.reason,
                            message: c.message,
                            field: c.field,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        other => KubeFailure::local(
            "Unavailable",
            format!("cannot reach the Kubernetes API server: {other}"),
        ),
    }
}

/// Patch bodies the dynamic API accepts.
#[derive(Debug, Clone)]
pub enum PatchKind {
    Json(serde_json::Value),
    Merge(serde_json::Value),
    StrategicMerge(serde_json::Value),
    Apply { manifest: serde_json::Value, force: bool },
}

/// A kind found through discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
}

/// Largest log excerpt handed to a component, in bytes.
pub const MAX_LOG_BYTES: i64 = 1024 * 1024;

/// A connected client.
#[derive(Clone)]
pub struct KubeAccess {
    client: Client,
    /// Discovery answers by "apiVersion/kind"; kinds do not change while
    /// the server runs often enough to matter, and misses are not cached.
    kinds: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Kind>>>,
}

impl KubeAccess {
    pub async fn connect(settings: &KubeSettings) -> anyhow::Result<Self> {
        let options = KubeConfigOptions {
            context: settings.context.clone(),
            ..KubeConfigOptions::default()
        };
        let mut config = match &settings.kubeconfig {
            Some(path) => Config::from_custom_kubeconfig(Kubeconfig::read_from(path)?, &options).await?,
            None if settings.context.is_some() => Config::from_kubeconfig(&options).await?,
            None => Config::infer().await?,
        };
        if let Some(timeout) = settings.request_timeout {
            config.read_timeout = Some(timeout);
            config.connect_timeout = Some(timeout.min(Duration::from_secs(10)));
        }
        Ok(KubeAccess {
            client: Client::try_from(config)?,
            kinds: Default::default(),
        })
    }

    fn api(&self, target: &Target) -> Api<DynamicObject> {
        let api_version = if target.group.is_empty() {
            target.version.clone()
        } else {
            format!("{}/{}", target.group, target.version)
        };
        let resource = ApiResource {
            group: target.group.clone(),
            version: target.version.clone(),
            api_version,
            kind: String::new(),
            plural: target.resource.clone(),
        };
        match &target.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    fn name(target: &Target) -> Result<&str, KubeFailure> {
        target
            .name
            .as_deref()
            .ok_or_else(|| KubeFailure::local("BadRequest", "this operation needs a name".into()))
    }

    fn render<T: serde::Serialize>(value: &T) -> Result<String, KubeFailure> {
        let text = serde_json::to_string(value).map_err(|e| KubeFailure::local("InternalError", e.to_string()))?;
        if text.len() > MAX_RESPONSE_BYTES {
            return Err(KubeFailure {
                code: 0,
                reason: "TooLarge".into(),
                message: format!(
                    "the response has {} bytes, more than the {MAX_RESPONSE_BYTES} allowed",
                    text.len()
                ),
                causes: Vec::new(),
            });
        }
        Ok(text)
    }

    pub async fn get(&self, target: &Target) -> Result<String, KubeFailure> {
        let api = self.api(target);
        let name = Self::name(target)?;
        let object = match &target.subresource {
            Some(sub) => api.get_subresource(sub, name).await,
            None => api.get(name).await,
        }
        .map_err(failure)?;
        Self::render(&object)
    }

    pub async fn list(
        &self,
        target: &Target,
        labels: Option<&str>,
        fields: Option<&str>,
        limit: Option<u32>,
        continue_token: Option<&str>,
    ) -> Result<String, KubeFailure> {
        let params = ListParams {
            label_selector: labels.map(str::to_string),
            field_selector: fields.map(str::to_string),
            limit,
            continue_token: continue_token.map(str::to_string),
            ..ListParams::default()
        };
        let list = self.api(target).list(&params).await.map_err(failure)?;
        Self::render(&list)
    }

    fn object(manifest: &str) -> Result<DynamicObject, KubeFailure> {
        serde_json::from_str(manifest)
            .map_err(|e| KubeFailure::local("BadRequest", format!("manifest is not a Kubernetes object: {e}")))
    }

    pub async fn create(
        &self,
        target: &Target,
        manifest: &str,
        manager: &str,
        dry_run: bool,
    ) -> Result<String, KubeFailure> {
        let params = PostParams {
            dry_run,
            field_manager: Some(manager.to_string()),
        };
        let created = self
            .api(target)
            .create(&params, &Self::object(manifest)?)
            .await
            .map_err(failure)?;
        Self::render(&created)
    }

    pub async fn replace(
        &self,
        target: &Target,
        manifest: &str,
        manager: &str,
        dry_run: bool,
    ) -> Result<String, KubeFailure> {
        let params = PostParams {
            dry_run,
            field_manager: Some(manager.to_string()),
        };
        let name = Self::name(target)?;
        let api = self.api(target);
        let object = Self::object(manifest)?;
        let replaced = match &target.subresource {
            Some(sub) => api.replace_subresource(sub, name, &params, &object).await,
            None => api.replace(name, &params, &object).await,
        }
        .map_err(failure)?;
        Self::render(&replaced)
    }

    pub async fn patch(
        &self,
        target: &Target,
        body: PatchKind,
        manager: &str,
        dry_run: bool,
    ) -> Result<String, KubeFailure> {
        let name = Self::name(target)?;
        let mut params = PatchParams {
            dry_run,
            field_manager: Some(manager.to_string()),
            ..PatchParams::default()
        };
        let patch: Patch<serde_json::Value> = match body {
            PatchKind::Json(value) => Patch::Json(
                serde_json::from_value(value)
                    .map_err(|e| KubeFailure::local("BadRequest", format!("invalid JSON patch: {e}")))?,
            ),
            PatchKind::Merge(value) => Patch::Merge(value),
            PatchKind::StrategicMerge(value) => Patch::Strategic(value),
            PatchKind::Apply { manifest, force } => {
                params.force = force;
                Patch::Apply(manifest)
            }
        };
        let api = self.api(target);
        let patched = match &target.subresource {
            Some(sub) => api.patch_subresource(sub, name, &params, &patch).await,
            None => api.patch(name, &params, &patch).await,
        }
        .map_err(failure)?;
        Self::render(&patched)
    }

    pub async fn delete(
        &self,
        target: &Target,
        dry_run: bool,
        propagation: Option<kube::api::PropagationPolicy>,
        uid: Option<String>,
        resource_version: Option<String>,
    ) -> Result<String, KubeFailure> {
        let name = Self::name(target)?;
        let preconditions =
            (uid.is_some() || resource_version.is_some()).then_some(kube::api::Preconditions { uid, resource_version });
        let params = DeleteParams {
            dry_run,
            propagation_policy: propagation,
            preconditions,
            ..DeleteParams::default()
        };
        let outcome = self.api(target).delete(name, &params).await.map_err(failure)?;
        match outcome {
            either::Either::Left(object) => Self::render(&object),
            either::Either::Right(status) => Self::render(&status),
        }
    }

    /// The resource serving `kind` in `api_version`, from discovery.
    pub async fn resolve_kind(&self, api_version: &str, kind: &str) -> Result<Kind, KubeFailure> {
        let key = format!("{api_version}/{kind}");
        if let Some(found) = self.kinds.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return Ok(found);
        }
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|error| match error {
                kube::Error::Api(status) if status.code == 404 => KubeFailure {
                    code: 404,
                    reason: "NotFound".into(),
                    message: format!("the API server does not serve {api_version} {kind}"),
                    causes: Vec::new(),
                },
                kube::Error::Discovery(e) => KubeFailure {
                    code: 404,
                    reason: "NotFound".into(),
                    message: e.to_string(),
                    causes: Vec::new(),
                },
                other => failure(other),
            })?;
        let found = Kind {
            group: resource.group,
            version: resource.version,
            resource: resource.plural,
            kind: resource.kind,
            namespaced: capabilities.scope == kube::discovery::Scope::Namespaced,
        };
        if let Ok(mut kinds) = self.kinds.lock() {
            kinds.insert(key, found.clone());
        }
        Ok(found)
    }

    /// Events whose involvedObject is `target` (core/v1 events).
    pub async fn events(&self, target: &Target) -> Result<String, KubeFailure> {
        let name = Self::name(target)?;
        let events = Target {
            group: String::new(),
            version: "v1".into(),
            resource: "events".into(),
            namespace: target.namespace.clone(),
            name: None,
            subresource: None,
        };
        let selector = format!("involvedObject.name={name}");
        self.list(&events, None, Some(&selector), Some(500), None).await
    }

    /// The last `tail_lines` of a pod's log, at most [`MAX_LOG_BYTES`].
    pub async fn logs(
        &self,
        target: &Target,
        container: Option<String>,
        tail_lines: Option<u32>,
        previous: bool,
    ) -> Result<String, KubeFailure> {
        let name = Self::name(target)?;
        let namespace = target.namespace.as_deref().unwrap_or("default");
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = kube::api::LogParams {
            container,
            tail_lines: Some(i64::from(tail_lines.unwrap_or(200).min(10_000))),
            limit_bytes: Some(MAX_LOG_BYTES),
            previous,
            ..kube::api::LogParams::default()
        };
        pods.logs(name, &params).await.map_err(failure)
    }
}
