//! Typed calls of the host's `k8s` import. Every failure keeps what was
//! attempted (verb, kind, namespace, name) so the tool's answer can say
//! which call failed, quote the API server and suggest the next step.

use serde_json::Value;

use crate::bindings::cnpg::mcp::k8s::{
    self, DeleteOptions, K8sError, ListOptions, ObjectRef, PatchBody, ResourceType, Status, WriteOptions,
};

/// API group of every CloudNativePG resource.
pub const CNPG_GROUP: &str = "postgresql.cnpg.io";

/// A resource type of `postgresql.cnpg.io/v1`.
pub fn cnpg(resource: &str) -> ResourceType {
    ResourceType {
        group: CNPG_GROUP.into(),
        version: "v1".into(),
        resource: resource.into(),
    }
}

/// A resource type of the core group.
pub fn core(resource: &str) -> ResourceType {
    ResourceType {
        group: String::new(),
        version: "v1".into(),
        resource: resource.into(),
    }
}

/// One named object.
pub fn object(kind: ResourceType, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        type_: kind,
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        subresource: None,
    }
}

/// A collection in one namespace, or in all namespaces when `None`.
pub fn collection(kind: ResourceType, namespace: Option<&str>) -> ObjectRef {
    ObjectRef {
        type_: kind,
        namespace: namespace.map(str::to_string),
        name: None,
        subresource: None,
    }
}

/// The `status` subresource of an object.
pub fn status_of(mut target: ObjectRef) -> ObjectRef {
    target.subresource = Some("status".into());
    target
}

/// A failed Kubernetes call: what was attempted and what came back
/// (boxed: results stay small on the success path).
#[derive(Debug, Clone)]
pub struct Failure(Box<FailureData>);

#[derive(Debug, Clone)]
pub struct FailureData {
    pub verb: &'static str,
    pub target: ObjectRef,
    pub error: K8sError,
}

impl std::ops::Deref for Failure {
    type Target = FailureData;

    fn deref(&self) -> &FailureData {
        &self.0
    }
}

impl Failure {
    fn status(&self) -> Option<&Status> {
        match &self.error {
            K8sError::DeniedByPolicy(_) => None,
            K8sError::Forbidden(s)
            | K8sError::Unauthorized(s)
            | K8sError::NotFound(s)
            | K8sError::AlreadyExists(s)
            | K8sError::Conflict(s)
            | K8sError::Invalid(s)
            | K8sError::Gone(s)
            | K8sError::TooManyRequests(s)
            | K8sError::Timeout(s)
            | K8sError::TooLarge(s)
            | K8sError::Unavailable(s)
            | K8sError::Other(s) => Some(s),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self.error, K8sError::NotFound(_))
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self.error, K8sError::Conflict(_))
    }

    pub fn is_already_exists(&self) -> bool {
        matches!(self.error, K8sError::AlreadyExists(_))
    }

    /// Short kind of failure: `not-found`, `forbidden`, ...
    pub fn kind(&self) -> &'static str {
        match self.error {
            K8sError::DeniedByPolicy(_) => "denied-by-policy",
            K8sError::Forbidden(_) => "forbidden",
            K8sError::Unauthorized(_) => "unauthorized",
            K8sError::NotFound(_) => "not-found",
            K8sError::AlreadyExists(_) => "already-exists",
            K8sError::Conflict(_) => "conflict",
            K8sError::Invalid(_) => "invalid",
            K8sError::Gone(_) => "gone",
            K8sError::TooManyRequests(_) => "too-many-requests",
            K8sError::Timeout(_) => "timeout",
            K8sError::TooLarge(_) => "too-large",
            K8sError::Unavailable(_) => "unavailable",
            K8sError::Other(_) => "other",
        }
    }

    /// `clusters.postgresql.cnpg.io/status` style resource name.
    fn resource(&self) -> String {
        let t = &self.target.type_;
        let mut name = if t.group.is_empty() {
            t.resource.clone()
        } else {
            format!("{}.{}", t.resource, t.group)
        };
        if let Some(sub) = &self.target.subresource {
            name.push('/');
            name.push_str(sub);
        }
        name
    }

    fn place(&self) -> String {
        let ns = self.target.namespace.as_deref();
        match (&self.target.name, ns) {
            (Some(name), Some(ns)) => format!("`{name}` in namespace `{ns}`"),
            (Some(name), None) => format!("`{name}`"),
            (None, Some(ns)) => format!("in namespace `{ns}`"),
            (None, None) => "in all namespaces".into(),
        }
    }

    /// The message for the client: the call, the API server's reason and
    /// message, field causes.
    pub fn message(&self) -> String {
        let head = format!("{} {} {}", self.verb, self.resource(), self.place());
        match (&self.error, self.status()) {
            (K8sError::DeniedByPolicy(d), _) => format!("{head}: refused by this component's grant: {}", d.reason),
            (_, Some(status)) => {
                let mut text = if status.code == 0 {
                    format!("{head} failed: {}", status.message)
                } else {
                    format!(
                        "{head} failed: {} {} — {}",
                        status.code,
                        if status.reason.is_empty() {
                            self.kind()
                        } else {
                            &status.reason
                        },
                        status.message
                    )
                };
                for cause in &status.causes {
                    text.push_str(&format!("\n  - {}: {}", cause.field, cause.message));
                }
                text
            }
            (_, None) => head,
        }
    }

    /// One line on what to do next.
    pub fn suggestion(&self) -> String {
        let ns = self.target.namespace.as_deref().unwrap_or("<namespace>");
        match &self.error {
            K8sError::DeniedByPolicy(_) => {
                "The server's operator must extend this component's grant file to allow the call.".into()
            }
            K8sError::Forbidden(_) => format!(
                "Your Kubernetes identity lacks RBAC permission `{}` on `{}` in namespace `{ns}`: ask a cluster \
                 admin for a Role and RoleBinding granting it (get_session_info shows who you are).",
                self.verb,
                self.resource()
            ),
            K8sError::Unauthorized(_) => {
                "The Kubernetes API server did not accept the server's credentials; check its kubeconfig or \
                 service account."
                    .into()
            }
            K8sError::NotFound(_) => format!(
                "Check the name and the namespace (`{ns}`); the list tools show what exists, and \
                 `all_namespaces: true` searches everywhere."
            ),
            K8sError::AlreadyExists(_) => {
                "An object with this name exists already: pick another name, or inspect the existing one.".into()
            }
            K8sError::Conflict(_) => "The object changed while this call worked on it: read it again and retry.".into(),
            K8sError::Invalid(_) => "Fix the fields named above and call again.".into(),
            K8sError::Gone(_) => "The listing expired; call again.".into(),
            K8sError::TooManyRequests(_) => "The API server is throttling; wait a little and retry.".into(),
            K8sError::Timeout(_) | K8sError::Unavailable(_) => {
                "The Kubernetes API server did not answer in time; retry later (get_session_info checks \
                 reachability)."
                    .into()
            }
            K8sError::TooLarge(_) => "Narrow the request (one namespace, fewer objects).".into(),
            K8sError::Other(_) => "See the API server's message above.".into(),
        }
    }
}

fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn fail<'a>(verb: &'static str, target: &'a ObjectRef) -> impl FnOnce(K8sError) -> Failure + 'a {
    move |error| {
        Failure(Box::new(FailureData {
            verb,
            target: target.clone(),
            error,
        }))
    }
}

pub fn get(target: &ObjectRef) -> Result<Value, Failure> {
    k8s::get(target).map(parse).map_err(fail("get", target))
}

/// `get`, deserialized into `T` (a typed view of the fields a tool reads).
pub fn get_as<T: serde::de::DeserializeOwned>(target: &ObjectRef) -> Result<T, Failure> {
    let value = get(target)?;
    serde_json::from_value(value).map_err(|e| decode_failure("get", target, e))
}

/// Every item of a collection, deserialized into `T`.
pub fn list_as<T: serde::de::DeserializeOwned>(
    target: &ObjectRef,
    label_selector: Option<&str>,
) -> Result<Vec<T>, Failure> {
    list(target, label_selector)?
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(|e| decode_failure("list", target, e)))
        .collect()
}

fn decode_failure(verb: &'static str, target: &ObjectRef, error: serde_json::Error) -> Failure {
    Failure(Box::new(FailureData {
        verb,
        target: target.clone(),
        error: K8sError::Other(Status {
            code: 0,
            reason: "Undecodable".into(),
            message: format!("the answer does not have the expected shape: {error}"),
            causes: vec![],
        }),
    }))
}

/// `get` where not-found is an answer.
pub fn get_optional(target: &ObjectRef) -> Result<Option<Value>, Failure> {
    match get(target) {
        Ok(value) => Ok(Some(value)),
        Err(failure) if failure.is_not_found() => Ok(None),
        Err(failure) => Err(failure),
    }
}

/// Every item of a collection, paging with the continue token.
pub fn list(target: &ObjectRef, label_selector: Option<&str>) -> Result<Vec<Value>, Failure> {
    let mut items = Vec::new();
    let mut continue_token = None;
    loop {
        let options = ListOptions {
            label_selector: label_selector.map(str::to_string),
            field_selector: None,
            limit: None,
            continue_token: continue_token.take(),
        };
        let page = k8s::list(target, &options).map(parse).map_err(fail("list", target))?;
        if let Some(Value::Array(page_items)) = page.get("items") {
            items.extend(page_items.iter().cloned());
        }
        match page.pointer("/metadata/continue").and_then(Value::as_str) {
            Some(token) if !token.is_empty() => continue_token = Some(token.to_string()),
            _ => return Ok(items),
        }
    }
}

pub fn create(target: &ObjectRef, manifest: &Value, dry_run: bool) -> Result<Value, Failure> {
    k8s::create(target, &manifest.to_string(), WriteOptions { dry_run })
        .map(parse)
        .map_err(fail("create", target))
}

pub fn merge_patch(target: &ObjectRef, patch: &Value, dry_run: bool) -> Result<Value, Failure> {
    k8s::patch(
        target,
        &PatchBody::MergePatch(patch.to_string()),
        WriteOptions { dry_run },
    )
    .map(parse)
    .map_err(fail("patch", target))
}

pub fn json_patch(target: &ObjectRef, patch: &Value, dry_run: bool) -> Result<Value, Failure> {
    k8s::patch(
        target,
        &PatchBody::JsonPatch(patch.to_string()),
        WriteOptions { dry_run },
    )
    .map(parse)
    .map_err(fail("patch", target))
}

/// Read-modify-write under an optimistic lock: reads `target`, lets
/// `build` turn the object into a merge patch (which should carry the
/// `metadata.resourceVersion` it read) and sends it. When the object
/// changed in between (409 Conflict, e.g. the operator updated the
/// cluster's status), reads again and rebuilds, at most `attempts` times.
/// Returns the object read last, the patch sent and the answer.
pub fn read_modify_patch<E: From<Failure>>(
    target: &ObjectRef,
    dry_run: bool,
    attempts: u32,
    build: impl FnMut(&Value) -> Result<Value, E>,
) -> Result<(Value, Value, Value), E> {
    read_modify_patch_at(target, target, dry_run, attempts, build)
}

/// [`read_modify_patch`] reading one object and patching another ref to
/// it, e.g. reading a cluster and patching its `status` subresource.
pub fn read_modify_patch_at<E: From<Failure>>(
    read: &ObjectRef,
    write: &ObjectRef,
    dry_run: bool,
    attempts: u32,
    mut build: impl FnMut(&Value) -> Result<Value, E>,
) -> Result<(Value, Value, Value), E> {
    let mut attempt = 1;
    loop {
        let current = get(read)?;
        let patch = build(&current)?;
        match merge_patch(write, &patch, dry_run) {
            Ok(after) => return Ok((current, patch, after)),
            Err(failure) if failure.is_conflict() && attempt < attempts => attempt += 1,
            Err(failure) => return Err(failure.into()),
        }
    }
}

/// Deletes with background propagation; `uid` makes it a precondition.
pub fn delete(target: &ObjectRef, dry_run: bool, uid: Option<&str>) -> Result<Value, Failure> {
    let options = DeleteOptions {
        dry_run,
        propagation: Some(k8s::Propagation::Background),
        uid: uid.map(str::to_string),
        resource_version: None,
    };
    k8s::delete(target, &options).map(parse).map_err(fail("delete", target))
}

/// The last `tail_lines` lines of a pod container's log (the host caps the
/// bytes).
pub fn logs(pod: &ObjectRef, container: Option<&str>, tail_lines: u32) -> Result<String, Failure> {
    let options = k8s::LogOptions {
        container: container.map(str::to_string),
        tail_lines: Some(tail_lines),
        previous: false,
    };
    k8s::logs(pod, &options).map_err(fail("logs", pod))
}

pub fn events(target: &ObjectRef) -> Result<Vec<Value>, Failure> {
    let value = k8s::events(target).map(parse).map_err(fail("events", target))?;
    Ok(value
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

pub fn wait_for(target: &ObjectRef, pointer: &str, values: &[&str], timeout_ms: u64) -> Result<Value, Failure> {
    let condition = k8s::WaitCondition {
        pointer: pointer.into(),
        equals_any: values.iter().map(|v| v.to_string()).collect(),
    };
    k8s::wait_for(target, &condition, timeout_ms)
        .map(parse)
        .map_err(fail("watch", target))
}

pub fn default_namespace() -> String {
    k8s::default_namespace()
}

/// `metadata.<field>` of an object as text.
pub fn meta<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
}

pub fn name_of(object: &Value) -> &str {
    meta(object, "name").unwrap_or_default()
}

pub fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// GET `path` on a pod's `port` through the API server's pod proxy; the
/// grant must allow `get` on `pods/proxy` for that pod.
pub fn proxy_get(pod: &ObjectRef, port: u16, path: &str, https: bool) -> Result<String, Failure> {
    k8s::proxy_get(pod, port, path, https).map_err(fail("proxy-get", pod))
}
