//! The Kubernetes client behind the `k8s` capability: credentials from a
//! kubeconfig or the in-cluster service account, requests built from the
//! dynamic API, impersonation of the verified caller, bounded responses,
//! and errors that carry the API server's Status.
//!
//! Knows nothing about components or WIT; the capability in
//! `runtime/capabilities/k8s.rs` checks the grant and translates.

mod journal;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::client::Body;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};

pub use journal::{Journal, RequestRecord};
pub use wait::WaitCondition;

use crate::caller::Caller;

/// Default cap on one response handed to a component, in bytes.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Largest log excerpt requested from the API server, in bytes.
pub const MAX_LOG_BYTES: i64 = 1024 * 1024;

/// Default limit for one API request when none is configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the server reaches the API server.
#[derive(Debug, Clone, Default)]
pub struct KubeSettings {
    /// Kubeconfig file; `None` uses `KUBECONFIG`, `~/.kube/config` or the
    /// in-cluster service account, in that order.
    pub kubeconfig: Option<std::path::PathBuf>,
    pub context: Option<String>,
    /// Limit for one API request (default 30 s).
    pub request_timeout: Option<Duration>,
    /// Act as the verified caller (`Impersonate-User`/`Impersonate-Group`).
    pub impersonation: Option<ImpersonationSettings>,
}

/// How a verified caller becomes a Kubernetes identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImpersonationSettings {
    /// Prepended to the user name, e.g. `oidc:`.
    pub user_prefix: String,
    /// Prepended to every group, e.g. `oidc:`.
    pub group_prefix: String,
}

/// The identity one call acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonate {
    pub user: String,
    pub groups: Vec<String>,
}

impl ImpersonationSettings {
    /// The identity for `caller`, or `None` when the call runs as the
    /// server's own identity (no verified caller).
    pub fn identity_for(&self, caller: &Caller) -> Option<Impersonate> {
        if !caller.verified {
            return None;
        }
        let name = caller.username.as_deref().unwrap_or(&caller.subject);
        Some(Impersonate {
            user: format!("{}{name}", self.user_prefix),
            groups: caller
                .groups
                .iter()
                .map(|group| format!("{}{group}", self.group_prefix))
                .collect(),
        })
    }
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

impl Target {
    /// `group/resource[/subresource]` as audit records show it.
    pub fn describe(&self) -> String {
        let group = if self.group.is_empty() { "core" } else { &self.group };
        match &self.subresource {
            Some(sub) => format!("{group}/{}/{sub}", self.resource),
            None => format!("{group}/{}", self.resource),
        }
    }

    fn api_resource(&self) -> ApiResource {
        let api_version = if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        };
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version,
            kind: String::new(),
            plural: self.resource.clone(),
        }
    }

    /// Every part that becomes a path segment, checked with
    /// [`check_segment`].
    pub fn checked(&self) -> Result<(), KubeFailure> {
        if !self.group.is_empty() {
            check_segment("group", &self.group)?;
        }
        check_segment("version", &self.version)?;
        check_segment("resource", &self.resource)?;
        for (what, value) in [
            ("namespace", &self.namespace),
            ("name", &self.name),
            ("subresource", &self.subresource),
        ] {
            if let Some(value) = value {
                check_segment(what, value)?;
            }
        }
        Ok(())
    }

    fn request(&self) -> Result<kube::core::Request, KubeFailure> {
        self.checked()?;
        Ok(kube::core::Request::new(DynamicObject::url_path(
            &self.api_resource(),
            self.namespace.as_deref(),
        )))
    }

    fn name(&self) -> Result<&str, KubeFailure> {
        self.name
            .as_deref()
            .ok_or_else(|| KubeFailure::local("BadRequest", "this operation needs a name".into()))
    }
}

/// A name, namespace, resource, ... as one path segment of a request.
/// The URL is assembled by formatting, so a value must never be able to
/// change which path (or query) is asked for: the API server's own rule
/// refuses `.`, `..` and values with `/` or `%`; here also `?` and `#`,
/// anything a URI path segment cannot carry unescaped (RFC 3986 `pchar`
/// without percent-encoding), and more than 253 characters (the longest
/// Kubernetes name).
pub fn check_segment(what: &str, value: &str) -> Result<(), KubeFailure> {
    let problem = if value.is_empty() {
        "is empty"
    } else if value.len() > 253 {
        "is longer than 253 characters"
    } else if value == "." || value == ".." {
        "may not be `.` or `..`"
    } else if value.contains(['/', '%', '?', '#']) {
        "may not contain `/`, `%`, `?` or `#`"
    } else if !value.bytes().all(segment_byte) {
        "may contain only letters, digits and `-._~!$&'()*+,;=:@`"
    } else {
        return Ok(());
    };
    Err(KubeFailure::local(
        "BadRequest",
        format!("the {what} `{}` {problem}", crate::text::shown(value)),
    ))
}

/// RFC 3986 `unreserved`, `sub-delims`, `:` and `@`: what a path segment
/// carries as it is.
fn segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// A name that goes into a field selector (`...name=NAME`): a path
/// segment without the selector's own syntax (`,`, `=`, `!`, `\\`).
fn selector_name(name: &str) -> Result<(), KubeFailure> {
    check_segment("name", name)?;
    if name.contains([',', '=', '!', '\\']) {
        return Err(KubeFailure::local(
            "BadRequest",
            format!(
                "the name `{}` may not contain `,`, `=`, `!` or `\\`",
                crate::text::shown(name)
            ),
        ));
    }
    Ok(())
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
    pub fn local(reason: &str, message: String) -> Self {
        KubeFailure {
            code: 0,
            reason: reason.into(),
            message,
            causes: Vec::new(),
        }
    }

    /// From an error answer of the API server: its Status when the body is
    /// one, else the code and the start of the body.
    fn from_answer(code: StatusCode, body: &[u8]) -> Self {
        if let Ok(status) = serde_json::from_slice::<kube::core::Status>(body)
            && (status.code != 0 || !status.message.is_empty())
        {
            return KubeFailure {
                code: code.as_u16(),
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
            };
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_string();
        KubeFailure {
            code: code.as_u16(),
            reason: code.canonical_reason().unwrap_or("Unknown").replace(' ', ""),
            message: if text.is_empty() {
                format!("the API server answered {code}")
            } else {
                text
            },
            causes: Vec::new(),
        }
    }

    fn too_large(limit: usize) -> Self {
        KubeFailure::local(
            "TooLarge",
            format!("the API server's answer is larger than the {limit} bytes this component may receive"),
        )
    }

    fn timeout(limit: Duration) -> Self {
        KubeFailure::local(
            "Timeout",
            format!("the API server did not answer within {} ms", limit.as_millis()),
        )
    }
}

/// A transport error (no HTTP answer): timeouts are `Timeout`, the rest
/// `Unavailable`.
fn transport_failure(error: &(dyn std::error::Error + 'static)) -> KubeFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return KubeFailure::local("Timeout", format!("the API server did not answer in time: {error}"));
        }
        source = current.source();
    }
    let mut message = format!("cannot reach the Kubernetes API server: {error}");
    let mut source = error.source();
    while let Some(current) = source {
        message.push_str(&format!(": {current}"));
        source = current.source();
    }
    KubeFailure::local("Unavailable", message)
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

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Option<kube::api::PropagationPolicy>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// A connected client, shared by every call.
pub struct KubeAccess {
    client: Client,
    cluster_url: String,
    default_namespace: String,
    request_timeout: Duration,
    impersonation: Option<ImpersonationSettings>,
    /// Discovery answers by "apiVersion/kind"; misses are not cached.
    kinds: std::sync::Mutex<std::collections::HashMap<String, Kind>>,
}

impl KubeAccess {
    /// Builds the client. Nothing is sent yet: an API server that is down
    /// at start only makes calls answer `unavailable`.
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
        let timeout = settings.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT);
        // Every exchange has its own deadline (`exchange_prepared`); no
        // per-read timers (they cost on every read and would cut a quiet
        // watch), and no silent retries: the component sees
        // `too-many-requests` or `unavailable` and decides.
        config.read_timeout = None;
        config.write_timeout = None;
        config.connect_timeout = Some(timeout.min(Duration::from_secs(10)));
        config.default_retry = false;
        let default_namespace = config.default_namespace.clone();
        let cluster_url = config.cluster_url.to_string();
        Ok(KubeAccess {
            cluster_url,
            client: Client::try_from(config)?,
            default_namespace,
            request_timeout: timeout,
            impersonation: settings.impersonation.clone(),
            kinds: Default::default(),
        })
    }

    /// The API server's URL.
    pub fn cluster_url(&self) -> String {
        self.cluster_url.clone()
    }

    /// The client with the server's own identity (never impersonating).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The namespace tools use when none is given: the in-cluster service
    /// account's, else the kubeconfig context's, else `default`.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    pub fn impersonation(&self) -> Option<&ImpersonationSettings> {
        self.impersonation.as_ref()
    }

    /// The handle one call uses: acts as `caller` when impersonation is on,
    /// caps answers at `max_response_bytes`, records every request.
    pub fn for_call(self: &Arc<Self>, caller: &Caller, max_response_bytes: usize, journal: Arc<Journal>) -> KubeCall {
        KubeCall {
            access: self.clone(),
            impersonate: self.impersonation.as_ref().and_then(|s| s.identity_for(caller)),
            max_response_bytes,
            journal,
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
        let discovered = tokio::time::timeout(self.request_timeout, kube::discovery::pinned_kind(&self.client, &gvk))
            .await
            .map_err(|_| KubeFailure::timeout(self.request_timeout))?;
        let (resource, capabilities) = discovered.map_err(|error| match error {
            kube::Error::Api(status) if status.code == 404 => KubeFailure {
                code: 404,
                reason: "NotFound".into(),
                message: format!("the API server does not serve {api_version} {kind}"),
                causes: Vec::new(),
            },
            kube::Error::Api(status) => KubeFailure {
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
                causes: Vec::new(),
            },
            kube::Error::Discovery(e) => KubeFailure {
                code: 404,
                reason: "NotFound".into(),
                message: e.to_string(),
                causes: Vec::new(),
            },
            other => transport_failure(&other),
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
}

/// Kubernetes access for one call.
pub struct KubeCall {
    access: Arc<KubeAccess>,
    impersonate: Option<Impersonate>,
    max_response_bytes: usize,
    journal: Arc<Journal>,
}

fn bad_request(error: impl std::fmt::Display) -> KubeFailure {
    KubeFailure::local("BadRequest", error.to_string())
}

impl KubeCall {
    pub fn access(&self) -> &Arc<KubeAccess> {
        &self.access
    }

    /// The identity this call's requests carry, if impersonating.
    pub fn impersonating(&self) -> Option<&Impersonate> {
        self.impersonate.as_ref()
    }

    /// Adds the impersonation headers; the caller's token is never among
    /// the headers (the client authenticates as the server).
    pub fn prepare(&self, request: Request<Vec<u8>>) -> Result<Request<Body>, KubeFailure> {
        let mut request = request.map(Body::from);
        if let Some(identity) = &self.impersonate {
            let headers = request.headers_mut();
            let header = |value: &str| {
                HeaderValue::from_str(value).map_err(|_| {
                    KubeFailure::local(
                        "BadRequest",
                        "the caller's user or group name cannot be sent to the API server (invalid characters)".into(),
                    )
                })
            };
            headers.insert("impersonate-user", header(&identity.user)?);
            for group in &identity.groups {
                headers.append("impersonate-group", header(group)?);
            }
        }
        Ok(request)
    }

    /// Sends one request and reads its answer, at most
    /// `max_response_bytes`. Non-2xx answers become a [`KubeFailure`]
    /// with the API server's Status. Every request is journaled.
    async fn exchange(
        &self,
        verb: &'static str,
        target: &Target,
        request: Request<Vec<u8>>,
    ) -> Result<bytes::Bytes, KubeFailure> {
        let outcome = match self.prepare(request) {
            Ok(request) => self.exchange_prepared(request).await,
            Err(failure) => Err(failure),
        };
        let code = match &outcome {
            Ok((code, _)) => code.as_u16(),
            Err(failure) => failure.code,
        };
        self.journal.record(verb, target, code);
        let (code, body) = outcome?;
        if code.is_success() {
            Ok(body)
        } else {
            Err(KubeFailure::from_answer(code, &body))
        }
    }

    async fn exchange_prepared(&self, request: Request<Body>) -> Result<(StatusCode, bytes::Bytes), KubeFailure> {
        let limit = self.access.request_timeout;
        let max = self.max_response_bytes;
        let work = async {
            let response = self
                .access
                .client
                .send(request)
                .await
                .map_err(|error| transport_failure(&error))?;
            let code = response.status();
            let body = read_bounded(response.into_body(), max).await?;
            Ok((code, body))
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| KubeFailure::timeout(limit))?
    }

    /// Starts a streaming request (watch); the body is read by the caller.
    async fn open_stream(
        &self,
        verb: &'static str,
        target: &Target,
        request: Request<Vec<u8>>,
    ) -> Result<Body, KubeFailure> {
        let limit = self.access.request_timeout;
        let request = self.prepare(request)?;
        let sent = tokio::time::timeout(limit, self.access.client.send(request)).await;
        let response = match sent {
            Err(_) => {
                self.journal.record(verb, target, 0);
                return Err(KubeFailure::timeout(limit));
            }
            Ok(Err(error)) => {
                self.journal.record(verb, target, 0);
                return Err(transport_failure(&error));
            }
            Ok(Ok(response)) => response,
        };
        let code = response.status();
        self.journal.record(verb, target, code.as_u16());
        if code.is_success() {
            return Ok(response.into_body());
        }
        let body = read_bounded(response.into_body(), 64 * 1024).await.unwrap_or_default();
        Err(KubeFailure::from_answer(code, &body))
    }

    fn text(body: bytes::Bytes) -> Result<String, KubeFailure> {
        String::from_utf8(body.to_vec())
            .map_err(|_| KubeFailure::local("InternalError", "the API server's answer is not UTF-8".into()))
    }

    pub async fn get(&self, target: &Target) -> Result<String, KubeFailure> {
        let name = target.name()?;
        let builder = target.request()?;
        let request = match &target.subresource {
            Some(sub) => builder.get_subresource(sub, name),
            None => builder.get(name, &Default::default()),
        }
        .map_err(bad_request)?;
        Self::text(self.exchange("get", target, request).await?)
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
        let request = target.request()?.list(&params).map_err(bad_request)?;
        Self::text(self.exchange("list", target, request).await?)
    }

    fn object(manifest: &str) -> Result<Vec<u8>, KubeFailure> {
        // Checked here so a component gets a precise message instead of the
        // API server's decoding error.
        serde_json::from_str::<DynamicObject>(manifest)
            .map_err(|e| bad_request(format!("manifest is not a Kubernetes object: {e}")))?;
        Ok(manifest.as_bytes().to_vec())
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
        let builder = target.request()?;
        let body = Self::object(manifest)?;
        let request = match (&target.subresource, &target.name) {
            (Some(sub), Some(name)) => builder.create_subresource(sub, name, &params, body),
            _ => builder.create(&params, body),
        }
        .map_err(bad_request)?;
        Self::text(self.exchange("create", target, request).await?)
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
        let name = target.name()?;
        let builder = target.request()?;
        let body = Self::object(manifest)?;
        let request = match &target.subresource {
            Some(sub) => builder.replace_subresource(sub, name, &params, body),
            None => builder.replace(name, &params, body),
        }
        .map_err(bad_request)?;
        Self::text(self.exchange("update", target, request).await?)
    }

    pub async fn patch(
        &self,
        target: &Target,
        body: PatchKind,
        manager: &str,
        dry_run: bool,
    ) -> Result<String, KubeFailure> {
        let name = target.name()?;
        let mut params = PatchParams {
            dry_run,
            field_manager: Some(manager.to_string()),
            ..PatchParams::default()
        };
        let patch: Patch<serde_json::Value> = match body {
            PatchKind::Json(value) => {
                Patch::Json(serde_json::from_value(value).map_err(|e| bad_request(format!("invalid JSON patch: {e}")))?)
            }
            PatchKind::Merge(value) => Patch::Merge(value),
            PatchKind::StrategicMerge(value) => Patch::Strategic(value),
            PatchKind::Apply { manifest, force } => {
                params.force = force;
                Patch::Apply(manifest)
            }
        };
        let builder = target.request()?;
        let request = match &target.subresource {
            Some(sub) => builder.patch_subresource(sub, name, &params, &patch),
            None => builder.patch(name, &params, &patch),
        }
        .map_err(bad_request)?;
        Self::text(self.exchange("patch", target, request).await?)
    }

    pub async fn delete(&self, target: &Target, options: DeleteOptions) -> Result<String, KubeFailure> {
        let name = target.name()?;
        let preconditions =
            (options.uid.is_some() || options.resource_version.is_some()).then_some(kube::api::Preconditions {
                uid: options.uid,
                resource_version: options.resource_version,
            });
        let params = DeleteParams {
            dry_run: options.dry_run,
            propagation_policy: options.propagation,
            preconditions,
            ..DeleteParams::default()
        };
        let request = target.request()?.delete(name, &params).map_err(bad_request)?;
        Self::text(self.exchange("delete", target, request).await?)
    }

    /// Events whose involvedObject is `target` (core/v1 events).
    pub async fn events(&self, target: &Target) -> Result<String, KubeFailure> {
        let name = target.name()?;
        selector_name(name)?;
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
        let name = target.name()?;
        let pods = Target {
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            subresource: Some("log".into()),
        };
        let params = LogParams {
            container,
            tail_lines: Some(i64::from(tail_lines.unwrap_or(200).min(10_000))),
            limit_bytes: Some(MAX_LOG_BYTES.min(self.max_response_bytes as i64)),
            previous,
            ..LogParams::default()
        };
        let mut base = pods.clone();
        base.name = None;
        base.subresource = None;
        let request = base.request()?.logs(name, &params).map_err(bad_request)?;
        let body = self.exchange("get", &pods, request).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

impl KubeCall {
    /// GET `path` on a pod's `port` through the API server
    /// (`/api/v1/namespaces/NS/pods/[https:]NAME:PORT/proxy/PATH`). The
    /// path must be absolute and is sent as it is, so it may carry neither
    /// `..` segments nor a query or fragment.
    pub async fn proxy_get(&self, target: &Target, port: u16, path: &str, https: bool) -> Result<String, KubeFailure> {
        let name = target.name()?;
        let namespace = target
            .namespace
            .as_deref()
            .ok_or_else(|| KubeFailure::local("BadRequest", "a pod proxy call needs a namespace".into()))?;
        check_proxy_path(path)?;
        let proxied = Target {
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
            namespace: Some(namespace.to_string()),
            name: Some(name.to_string()),
            subresource: Some("proxy".into()),
        };
        proxied.checked()?;
        let scheme = if https { "https:" } else { "" };
        let uri = format!("/api/v1/namespaces/{namespace}/pods/{scheme}{name}:{port}/proxy{path}");
        let request = Request::get(uri).body(Vec::new()).map_err(bad_request)?;
        let body = self.exchange("get", &proxied, request).await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// A path for the pod proxy: absolute, URI path characters only, no `.`
/// or `..` segment, no query, fragment or percent-encoding.
pub fn check_proxy_path(path: &str) -> Result<(), KubeFailure> {
    let fine = path.starts_with('/')
        && path.len() <= 512
        && path.bytes().all(|b| b == b'/' || segment_byte(b))
        && !path.split('/').any(|segment| segment == "." || segment == "..");
    if fine {
        Ok(())
    } else {
        Err(KubeFailure::local(
            "BadRequest",
            format!(
                "the proxy path `{}` must be absolute, without `.`/`..` segments, query, fragment or `%`",
                crate::text::shown(path)
            ),
        ))
    }
}

/// Reads a body of at most `max` bytes; larger answers stop with
/// `TooLarge` without reading the rest.
async fn read_bounded(body: Body, max: usize) -> Result<bytes::Bytes, KubeFailure> {
    match http_body_util::Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(KubeFailure::too_large(max)),
        Err(error) => Err(transport_failure(error.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(subject: &str, username: Option<&str>, groups: &[&str]) -> Caller {
        Caller {
            subject: subject.into(),
            issuer: "https://idp.example".into(),
            username: username.map(str::to_string),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            client_id: None,
            scopes: Vec::new(),
            verified: true,
        }
    }

    #[test]
    fn identity_uses_the_username_then_the_subject_with_prefixes() {
        let settings = ImpersonationSettings {
            user_prefix: "oidc:".into(),
            group_prefix: "oidc:".into(),
        };
        let identity = settings
            .identity_for(&verified("u-1", Some("alice"), &["dba", "dev"]))
            .unwrap();
        assert_eq!(identity.user, "oidc:alice");
        assert_eq!(identity.groups, vec!["oidc:dba", "oidc:dev"]);
        let identity = settings.identity_for(&verified("u-2", None, &[])).unwrap();
        assert_eq!(identity.user, "oidc:u-2");
        assert!(identity.groups.is_empty());
    }

    #[test]
    fn the_local_operator_is_never_impersonated() {
        assert_eq!(ImpersonationSettings::default().identity_for(&Caller::local()), None);
    }

    #[test]
    fn status_bodies_become_failures_with_their_causes() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Cluster.postgresql.cnpg.io \"x\" is invalid","reason":"Invalid","details":{"causes":[{"reason":"FieldValueInvalid","message":"bad","field":"spec.instances"}]},"code":422}"#;
        let failure = KubeFailure::from_answer(StatusCode::UNPROCESSABLE_ENTITY, body);
        assert_eq!(failure.code, 422);
        assert_eq!(failure.reason, "Invalid");
        assert_eq!(failure.causes[0].field, "spec.instances");
        let failure = KubeFailure::from_answer(StatusCode::BAD_GATEWAY, b"upstream connect error");
        assert_eq!(failure.code, 502);
        assert_eq!(failure.reason, "BadGateway");
        assert_eq!(failure.message, "upstream connect error");
    }
}
