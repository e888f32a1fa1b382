//! `k8s`: Kubernetes access. Every operation is first checked against the
//! component's grant (refused with `denied-by-policy` before any I/O);
//! without a configured cluster an allowed operation answers `unavailable`.
//! `resolve-kind` reads discovery only and needs no grant.

use crate::kube::{KubeFailure, PatchKind, Target};
use crate::runtime::bindings::cnpg::mcp::k8s::{
    self, DeleteOptions, Denial, K8sError, ListOptions, LogOptions, ObjectRef, PatchBody, ResolvedKind, Status,
    WaitCondition, WriteOptions,
};
use crate::runtime::policy::AccessRequest;
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
        (400, _) | (422, _) => K8sError::Invalid(status),
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

impl CallState {
    /// Field manager of this component's writes.
    fn manager(&self) -> String {
        format!("cnpg-mcp/{}", self.scope.component)
    }

    /// Operations this host does not carry out yet (with a cluster present).
    fn not_yet(&self, operation: &str) -> Result<std::sync::Arc<crate::kube::KubeAccess>, K8sError> {
        let _ = self.cluster()?;
        Err(K8sError::Other(Status {
            code: 0,
            reason: "NotImplemented".into(),
            message: format!("this server does not support `{operation}` yet"),
            causes: Vec::new(),
        }))
    }

    fn cluster(&self) -> Result<std::sync::Arc<crate::kube::KubeAccess>, K8sError> {
        self.scope.kube.clone().ok_or_else(unavailable)
    }

    /// The grant check for `verb` on `target` (`subresource` overrides the
    /// target's own, for operations such as logs).
    fn authorize(&self, verb: &str, target: &ObjectRef, subresource: Option<&str>) -> Result<(), K8sError> {
        let request = AccessRequest {
            verb,
            group: &target.type_.group,
            resource: &target.type_.resource,
            subresource: subresource.or(target.subresource.as_deref()),
            namespace: target.namespace.as_deref(),
            name: target.name.as_deref(),
        };
        self.scope.grant.check(&request).map_err(|denial| {
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
}

impl k8s::Host for CallState {
    async fn get(&mut self, object: ObjectRef) -> Result<String, K8sError> {
        self.authorize("get", &object, None)?;
        self.cluster()?.get(&target(&object)).await.map_err(classify)
    }

    async fn list(&mut self, object: ObjectRef, options: ListOptions) -> Result<String, K8sError> {
        self.authorize("list", &object, None)?;
        self.cluster()?
            .list(
                &target(&object),
                options.label_selector.as_deref(),
                options.field_selector.as_deref(),
                options.limit,
                options.continue_token.as_deref(),
            )
            .await
            .map_err(classify)
    }

    async fn create(&mut self, object: ObjectRef, manifest: String, options: WriteOptions) -> Result<String, K8sError> {
        self.authorize("create", &object, None)?;
        let manager = self.manager();
        self.cluster()?
            .create(&target(&object), &manifest, &manager, options.dry_run)
            .await
            .map_err(classify)
    }

    async fn replace(
        &mut self,
        object: ObjectRef,
        manifest: String,
        options: WriteOptions,
    ) -> Result<String, K8sError> {
        self.authorize("update", &object, None)?;
        let manager = self.manager();
        self.cluster()?
            .replace(&target(&object), &manifest, &manager, options.dry_run)
            .await
            .map_err(classify)
    }

    async fn patch(&mut self, object: ObjectRef, body: PatchBody, options: WriteOptions) -> Result<String, K8sError> {
        self.authorize("patch", &object, None)?;
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
        self.cluster()?
            .patch(&target(&object), body, &manager, options.dry_run)
            .await
            .map_err(classify)
    }

    async fn delete(&mut self, object: ObjectRef, options: DeleteOptions) -> Result<String, K8sError> {
        self.authorize("delete", &object, None)?;
        let propagation = options.propagation.map(|p| match p {
            k8s::Propagation::Foreground => kube::api::PropagationPolicy::Foreground,
            k8s::Propagation::Background => kube::api::PropagationPolicy::Background,
            k8s::Propagation::Orphan => kube::api::PropagationPolicy::Orphan,
        });
        self.cluster()?
            .delete(
                &target(&object),
                options.dry_run,
                propagation,
                options.uid,
                options.resource_version,
            )
            .await
            .map_err(classify)
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
        target: ObjectRef,
        _condition: WaitCondition,
        _timeout_ms: u64,
    ) -> Result<String, K8sError> {
        self.authorize("get", &target, None)?;
        self.authorize("watch", &target, None)?;
        self.not_yet("wait-for")?;
        Err(unavailable())
    }

    async fn resolve_kind(&mut self, api_version: String, kind: String) -> Result<ResolvedKind, K8sError> {
        let found = self
            .cluster()?
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
}
