//! `k8s`: Kubernetes access. Every operation is first checked against the
//! component's grant (refused with `denied-by-policy` before any I/O);
//! without a configured cluster an allowed operation answers `unavailable`.
//! Lists are capped at the grant's `max_list_items`; Secrets lose their
//! data unless the grant hands it over. `resolve-kind` reads discovery
//! only and needs no grant.

use std::time::Duration;

use crate::kube::{KubeCall, KubeFailure, PatchKind, Target};
use crate::runtime::bindings::cnpg::mcp::k8s::{
    self, DeleteOptions, Denial, K8sError, ListOptions, LogOptions, ObjectRef, PatchBody, ResolvedKind, Status,
    WaitCondition, WriteOptions,
};
use crate::runtime::policy::{AccessRequest, Allowed};
use crate::runtime::state::CallState;

fn target(object: &ObjectRef) -> Target {
    Target {
        group: object.type_.group.clone(),
        version: object.type_.version.clone(),
        resource: object.type_.resource.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        subresource: object.subresource.clone(),
    }
}

/// The API server's answer as the typed error of the contract.
fn classify(failure: KubeFailure) -> K8sError {
    let status = Status {
        code: failure.code,
        reason: failure.reason.clone(),
        message: failure.message,
        causes: failure
            .causes
            .into_iter()
            .map(|c| k8s::StatusCause {
                reason: c.reason,
                message: c.message,
                field: c.field,
            })
            .collect(),
    };
    match (failure.code, failure.reason.as_str()) {
        (0, "Unavailable") | (502..=504, _) if failure.reason != "Timeout" => K8sError::Unavailable(status),
        (_, "Timeout") | (504, _) => K8sError::Timeout(status),
        (0, "TooLarge") | (413, _) => K8sError::TooLarge(status),
        (401, _) => K8sError::Unauthorized(status),
        (403, _) => K8sError::Forbidden(status),
        (404, _) => K8sError::NotFound(status),
        (409, "AlreadyExists") => K8sError::AlreadyExists(status),
        (409, _) => K8sError::Conflict(status),
        (410, _) => K8sError::Gone(status),
        (400, _) | (422, _) | (0, "BadRequest") => K8sError::Invalid(status),
        (429, _) => K8sError::TooManyRequests(status),
        _ => K8sError::Other(status),
    }
}

fn json(text: &str) -> Result<serde_json::Value, K8sError> {
    serde_json::from_str(text).map_err(|e| {
        K8sError::Invalid(Status {
            code: 0,
            reason: "BadRequest".into(),
            message: format!("not JSON: {e}"),
            causes: Vec::new(),
        })
    })
}

fn unavailable() -> K8sError {
    K8sError::Unavailable(Status {
        code: 0,
        reason: "Unavailable".into(),
        message: "no Kubernetes cluster is configured for this server".into(),
        causes: Vec::new(),
    })
}

/// Removes what a Secret carries in clear from one object: `data`,
/// `stringData`, and the last-applied annotation (which repeats them).
fn strip_secret(object: &mut serde_json::Value) {
    if let Some(map) = object.as_object_mut() {
        let had = map.remove("data").is_some() | map.remove("stringData").is_some();
        if let Some(annotations) = map
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
            .and_then(serde_json::Value::as_object_mut)
        {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        if had {
            map.entry("metadata")
                .or_insert_with(|| serde_json::json!({}))
                .as_object_mut()
                .map(|m| {
                    m.entry("annotations")
                        .or_insert_with(|| serde_json::json!({}))
                        .as_object_mut()
                        .map(|a| a.insert("cnpg-mcp/data".into(), "withheld by the component's grant".into()))
                });
        }
    }
}

/// Applies [`strip_secret`] to an object, a list or a Status.
fn strip_secrets(text: String) -> Result<String, K8sError> {
    let mut value: serde_json::Value = json(&text)?;
    match value.get_mut("items").and_then(serde_json::Value::as_array_mut) {
        Some(items) => items.iter_mut().for_each(strip_secret),
        None => strip_secret(&mut value),
    }
    Ok(value.to_string())
}

fn is_secret(object: &ObjectRef) -> bool {
    object.type_.group.is_empty() && object.type_.resource == "secrets"
}

impl CallState {
    /// Field manager of this component's writes.
    fn manager(&self) -> String {
        format!("cnpg-mcp/{}", self.scope.component)
    }

    fn cluster(&self) -> Result<&KubeCall, K8sError> {
        self.scope.kube.as_ref().ok_or_else(unavailable)
    }

    /// The grant check for `verb` on `target` (`subresource` overrides the
    /// target's own, for operations such as logs).
    fn authorize(&self, verb: &str, target: &ObjectRef, subresource: Option<&str>) -> Result<Allowed, K8sError> {
        let request = AccessRequest {
            verb,
            group: &target.type_.group,
            resource: &target.type_.resource,
            subresource: subresource.or(target.subresource.as_deref()),
            namespace: target.namespace.as_deref(),
            name: target.name.as_deref(),
        };
        self.scope.grant.check(&request).map_err(|denial| {
            let mut refused = self::target(target);
            if subresource.is_some() {
                refused.subresource = subresource.map(str::to_string);
            }
            self.scope.journal.record_denied(verb, &refused);
            tracing::info!(
                component = %self.scope.component,
                request_id = %self.scope.request_id,
                verb,
                resource = %request.full_resource(),
                namespace = request.namespace.unwrap_or(""),
                name = request.name.unwrap_or(""),
                "Kubernetes request denied by the component's grant"
            );
            K8sError::DeniedByPolicy(Denial {
                verb: verb.to_string(),
                resource: request.full_resource(),
                namespace: request.namespace.map(str::to_string),
                name: request.name.map(str::to_string),
                reason: denial.reason,
            })
        })
    }

    /// Hands an answer over, without Secret data unless granted.
    fn hand_over(object: &ObjectRef, allowed: Allowed, text: String) -> Result<String, K8sError> {
        if is_secret(object) && object.subresource.is_none() && !allowed.secret_data {
            strip_secrets(text)
        } else {
            Ok(text)
        }
    }
}

impl k8s::Host for CallState {
    async fn get(&mut self, object: ObjectRef) -> Result<String, K8sError> {
        let allowed = self.authorize("get", &object, None)?;
        let text = self.cluster()?.get(&target(&object)).await.map_err(classify)?;
        Self::hand_over(&object, allowed, text)
    }

    async fn list(&mut self, object: ObjectRef, options: ListOptions) -> Result<String, K8sError> {
        let allowed = self.authorize("list", &object, None)?;
        let cap = self.scope.max_list_items;
        let limit = options.limit.map_or(cap, |asked| asked.clamp(1, cap));
        let text = self
            .cluster()?
            .list(
                &target(&object),
                options.label_selector.as_deref(),
                options.field_selector.as_deref(),
                Some(limit),
                options.continue_token.as_deref(),
            )
            .await
            .map_err(classify)?;
        Self::hand_over(&object, allowed, text)
    }

    async fn create(&mut self, object: ObjectRef, manifest: String, options: WriteOptions) -> Result<String, K8sError> {
        // The grant sees the name the object will get, so a rule limited
        // to names (e.g. one Secret) can allow creating exactly that.
        let named = ObjectRef {
            name: object.name.clone().or_else(|| {
                serde_json::from_str::<serde_json::Value>(&manifest)
                    .ok()
                    .and_then(|m| m.pointer("/metadata/name").and_then(|n| n.as_str()).map(str::to_string))
            }),
            ..object.clone()
        };
        let allowed = self.authorize("create", &named, None)?;
        let manager = self.manager();
        let text = self
            .cluster()?
            .create(&target(&object), &manifest, &manager, options.dry_run)
            .await
            .map_err(classify)?;
        Self::hand_over(&object, allowed, text)
    }

    async fn replace(
        &mut self,
        object: ObjectRef,
        manifest: String,
        options: WriteOptions,
    ) -> Result<String, K8sError> {
        let allowed = self.authorize("update", &object, None)?;
        let manager = self.manager();
        let text = self
            .cluster()?
            .replace(&target(&object), &manifest, &manager, options.dry_run)
            .await
            .map_err(classify)?;
        Self::hand_over(&object, allowed, text)
    }

    async fn patch(&mut self, object: ObjectRef, body: PatchBody, options: WriteOptions) -> Result<String, K8sError> {
        let allowed = self.authorize("patch", &object, None)?;
        let body = match body {
            PatchBody::JsonPatch(text) => PatchKind::Json(json(&text)?),
            PatchBody::MergePatch(text) => PatchKind::Merge(json(&text)?),
            PatchBody::StrategicMerge(text) => PatchKind::StrategicMerge(json(&text)?),
            PatchBody::Apply(apply) => PatchKind::Apply {
                manifest: json(&apply.manifest)?,
                force: apply.force,
            },
        };
        let manager = self.manager();
        let text = self
            .cluster()?
            .patch(&target(&object), body, &manager, options.dry_run)
            .await
            .map_err(classify)?;
        Self::hand_over(&object, allowed, text)
    }

    async fn delete(&mut self, object: ObjectRef, options: DeleteOptions) -> Result<String, K8sError> {
        let allowed = self.authorize("delete", &object, None)?;
        let propagation = options.propagation.map(|p| match p {
            k8s::Propagation::Foreground => kube::api::PropagationPolicy::Foreground,
            k8s::Propagation::Background => kube::api::PropagationPolicy::Background,
            k8s::Propagation::Orphan => kube::api::PropagationPolicy::Orphan,
        });
        let text = self
            .cluster()?
            .delete(
                &target(&object),
                crate::kube::DeleteOptions {
                    dry_run: options.dry_run,
                    propagation,
                    uid: options.uid,
                    resource_version: options.resource_version,
                },
            )
            .await
            .map_err(classify)?;
        Self::hand_over(&object, allowed, text)
    }

    async fn logs(&mut self, object: ObjectRef, options: LogOptions) -> Result<String, K8sError> {
        self.authorize("get", &object, Some("log"))?;
        self.cluster()?
            .logs(
                &target(&object),
                options.container,
                options.tail_lines,
                options.previous,
            )
            .await
            .map_err(classify)
    }

    async fn proxy_get(&mut self, object: ObjectRef, port: u16, path: String, https: bool) -> Result<String, K8sError> {
        self.authorize("get", &object, Some("proxy"))?;
        self.cluster()?
            .proxy_get(&target(&object), port, &path, https)
            .await
            .map_err(classify)
    }

    async fn events(&mut self, object: ObjectRef) -> Result<String, K8sError> {
        let events = ObjectRef {
            type_: k8s::ResourceType {
                group: String::new(),
                version: "v1".into(),
                resource: "events".into(),
            },
            namespace: object.namespace.clone(),
            name: None,
            subresource: None,
        };
        self.authorize("list", &events, None)?;
        self.cluster()?.events(&target(&object)).await.map_err(classify)
    }

    async fn wait_for(
        &mut self,
        object: ObjectRef,
        condition: WaitCondition,
        timeout_ms: u64,
    ) -> Result<String, K8sError> {
        let allowed = self.authorize("get", &object, None)?;
        self.authorize("watch", &object, None)?;
        let condition = crate::kube::WaitCondition {
            pointer: condition.pointer,
            equals_any: condition.equals_any,
        };
        let peer = self.scope.peer.clone();
        let report = self.scope.progress_token;
        let wanted = condition.equals_any.join(" or ");
        let pointer = condition.pointer.clone();
        let mut step = 0.0;
        let mut observe = move |value: Option<&str>| {
            step += 1.0;
            if !report {
                return;
            }
            peer.progress(
                step,
                None,
                Some(format!(
                    "waiting for `{pointer}` to be {wanted}; now {}",
                    value.unwrap_or("unset")
                )),
            );
        };
        let text = self
            .cluster()?
            .wait_for(
                &target(&object),
                &condition,
                Duration::from_millis(timeout_ms),
                &mut observe,
            )
            .await
            .map_err(classify)?;
        Self::hand_over(&object, allowed, text)
    }

    async fn resolve_kind(&mut self, api_version: String, kind: String) -> Result<ResolvedKind, K8sError> {
        let found = self
            .cluster()?
            .access()
            .resolve_kind(&api_version, &kind)
            .await
            .map_err(classify)?;
        Ok(ResolvedKind {
            type_: k8s::ResourceType {
                group: found.group,
                version: found.version,
                resource: found.resource,
            },
            kind: found.kind,
            namespaced: found.namespaced,
        })
    }

    async fn default_namespace(&mut self) -> String {
        self.scope.kube.as_ref().map_or_else(
            || "default".to_string(),
            |kube| kube.access().default_namespace().to_string(),
        )
    }
}
