//! `k8s`: Kubernetes access. Every operation is first checked against the
//! component's grant (refused with `denied-by-policy` before any I/O);
//! without a configured cluster an allowed operation answers `unavailable`.
//! `resolve-kind` reads discovery only and needs no grant.

use crate::runtime::bindings::cnpg::mcp::k8s::{
    self, DeleteOptions, Denial, K8sError, ListOptions, LogOptions, ObjectRef, PatchBody, ResolvedKind, Status,
    WaitCondition, WriteOptions,
};
use crate::runtime::policy::AccessRequest;
use crate::runtime::state::CallState;

fn unavailable() -> K8sError {
    K8sError::Unavailable(Status {
        code: 0,
        reason: "Unavailable".into(),
        message: "no Kubernetes cluster is configured for this server".into(),
        causes: Vec::new(),
    })
}

impl CallState {
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
    async fn get(&mut self, target: ObjectRef) -> Result<String, K8sError> {
        self.authorize("get", &target, None)?;
        Err(unavailable())
    }

    async fn list(&mut self, target: ObjectRef, _options: ListOptions) -> Result<String, K8sError> {
        self.authorize("list", &target, None)?;
        Err(unavailable())
    }

    async fn create(
        &mut self,
        target: ObjectRef,
        _manifest: String,
        _options: WriteOptions,
    ) -> Result<String, K8sError> {
        self.authorize("create", &target, None)?;
        Err(unavailable())
    }

    async fn replace(
        &mut self,
        target: ObjectRef,
        _manifest: String,
        _options: WriteOptions,
    ) -> Result<String, K8sError> {
        self.authorize("update", &target, None)?;
        Err(unavailable())
    }

    async fn patch(&mut self, target: ObjectRef, _body: PatchBody, _options: WriteOptions) -> Result<String, K8sError> {
        self.authorize("patch", &target, None)?;
        Err(unavailable())
    }

    async fn delete(&mut self, target: ObjectRef, _options: DeleteOptions) -> Result<String, K8sError> {
        self.authorize("delete", &target, None)?;
        Err(unavailable())
    }

    async fn logs(&mut self, target: ObjectRef, _options: LogOptions) -> Result<String, K8sError> {
        self.authorize("get", &target, Some("log"))?;
        Err(unavailable())
    }

    async fn events(&mut self, target: ObjectRef) -> Result<String, K8sError> {
        let events = ObjectRef {
            type_: k8s::ResourceType {
                group: String::new(),
                version: "v1".into(),
                resource: "events".into(),
            },
            namespace: target.namespace.clone(),
            name: None,
            subresource: None,
        };
        self.authorize("list", &events, None)?;
        Err(unavailable())
    }

    async fn wait_for(
        &mut self,
        target: ObjectRef,
        _condition: WaitCondition,
        _timeout_ms: u64,
    ) -> Result<String, K8sError> {
        self.authorize("get", &target, None)?;
        self.authorize("watch", &target, None)?;
        Err(unavailable())
    }

    async fn resolve_kind(&mut self, _api_version: String, _kind: String) -> Result<ResolvedKind, K8sError> {
        Err(unavailable())
    }
}
