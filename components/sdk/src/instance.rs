//! An instance manager's own view of its PostgreSQL, as `kubectl cnpg
//! status` reads it: `GET /pg/status` on the pod's status port through the
//! API server's pod proxy (operator v1.30.0: `PathPgStatus` and
//! `StatusPort` in `pkg/management/url/url.go`, the JSON of
//! `PostgresqlStatus` in `pkg/postgres/status.go`; https when the
//! `postgres` container runs with `--status-port-tls`, `pkg/specs/pods.go`).
//! Nothing of it is in the Cluster's status: last archived WAL, pending
//! restart, replication lag and slots come only from here.

use serde_json::Value;

use crate::kube::{self, Failure, core, object};

/// `StatusPort`.
pub const STATUS_PORT: u16 = 8000;
/// `PathPgStatus`.
pub const STATUS_PATH: &str = "/pg/status";

/// Whether the pod's instance manager serves its status port over TLS.
pub fn serves_tls(pod: &Value) -> bool {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .and_then(|containers| {
            containers
                .iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some("postgres"))
        })
        .and_then(|c| c.get("command"))
        .and_then(Value::as_array)
        .is_some_and(|command| command.iter().any(|a| a.as_str() == Some("--status-port-tls")))
}

/// Why an instance's status could not be read, for the answer.
#[derive(Debug, Clone)]
pub enum Unavailable {
    /// Reading the pod or the endpoint failed (grant, RBAC, unreachable).
    Call(Failure),
    /// The endpoint answered with something that is not its JSON.
    NotJson(String),
}

impl Unavailable {
    pub fn message(&self) -> String {
        match self {
            Unavailable::Call(failure) => failure.message(),
            Unavailable::NotJson(start) => format!("the status endpoint did not answer with JSON: {start}"),
        }
    }
}

/// The status of instance `pod` of a cluster in `namespace`.
pub fn status(namespace: &str, pod: &str) -> Result<Value, Unavailable> {
    let target = object(core("pods"), namespace, pod);
    let manifest = kube::get(&target).map_err(Unavailable::Call)?;
    let body = kube::proxy_get(&target, STATUS_PORT, STATUS_PATH, serves_tls(&manifest)).map_err(Unavailable::Call)?;
    serde_json::from_str(&body).map_err(|_| Unavailable::NotJson(body.chars().take(120).collect()))
}
