//! `k8s`: Kubernetes access. Without a configured cluster every operation
//! answers `unavailable`; the client and grant enforcement live in
//! `crate::kube` once a cluster is configured.

use crate::runtime::bindings::cnpg::mcp::k8s::{
    self, DeleteOptions, K8sError, ListOptions, LogOptions, ObjectRef, PatchBody, ResolvedKind, Status, WaitCondition,
    WriteOptions,
};
use crate::runtime::state::CallState;

fn unavailable() -> K8sError {
    K8sError::Unavailable(Status {
        code: 0,
        reason: "Unavailable".into(),
        message: "no Kubernetes cluster is configured for this server".into(),
        causes: Vec::new(),
    })
}

impl k8s::Host for CallState {
    async fn get(&mut self, _target: ObjectRef) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn list(&mut self, _target: ObjectRef, _options: ListOptions) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn create(
        &mut self,
        _target: ObjectRef,
        _manifest: String,
        _options: WriteOptions,
    ) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn replace(
        &mut self,
        _target: ObjectRef,
        _manifest: String,
        _options: WriteOptions,
    ) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn patch(
        &mut self,
        _target: ObjectRef,
        _body: PatchBody,
        _options: WriteOptions,
    ) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn delete(&mut self, _target: ObjectRef, _options: DeleteOptions) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn logs(&mut self, _target: ObjectRef, _options: LogOptions) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn events(&mut self, _target: ObjectRef) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn wait_for(
        &mut self,
        _target: ObjectRef,
        _condition: WaitCondition,
        _timeout_ms: u64,
    ) -> Result<String, K8sError> {
        Err(unavailable())
    }

    async fn resolve_kind(&mut self, _api_version: String, _kind: String) -> Result<ResolvedKind, K8sError> {
        Err(unavailable())
    }
}
