//! Argument structs. The input schema of every tool is derived from these,
//! so the names, defaults, bounds and patterns here are the contract.

use std::collections::BTreeMap;

use cnpg_mcp_sdk::names::{CLUSTER_NAME_PATTERN, PG_NAME_PATTERN, QUANTITY_PATTERN};
use cnpg_mcp_sdk::tool::{DetailLevel, Format};
use schemars::JsonSchema;
use serde::Deserialize;

pub use cnpg_mcp_sdk::names::NAMESPACE_PATTERN;
pub const POD_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

fn three() -> u32 {
    3
}
fn one() -> u32 {
    1
}
fn ten_gi() -> String {
    "10Gi".into()
}
/// PostgreSQL major version used when the caller names none.
pub const DEFAULT_POSTGRES_VERSION: &str = "16";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListClusters {
    /// Namespace to list. Default: the server's namespace (in-cluster service account, else kubeconfig context, else `default`).
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// List clusters in every namespace you can read (falls back to one namespace at a time where a cluster-wide list is forbidden). Default: false.
    #[serde(default)]
    pub all_namespaces: bool,
    /// `concise` (default) or `detailed` (adds conditions and phase reasons).
    #[serde(default)]
    pub detail_level: DetailLevel,
    /// Text rendering: `text` (default, a summary) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCluster {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// `concise` (default) or `detailed` (adds every instance, certificates, backups, managed roles).
    #[serde(default)]
    pub detail_level: DetailLevel,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResizeStatus {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum TolerationOperator {
    Exists,
    Equal,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

/// A Kubernetes toleration for the instance pods.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// Taint key; empty with `Exists` tolerates every taint.
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    pub operator: Option<TolerationOperator>,
    /// Taint value (with `Equal`).
    pub value: Option<String>,
    /// Taint effect to tolerate; all effects when unset.
    pub effect: Option<TaintEffect>,
    /// Seconds a `NoExecute` taint is tolerated.
    #[schemars(range(min = 0))]
    pub toleration_seconds: Option<i64>,
}

/// CPU and memory of one side (requests or limits).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    /// CPU, e.g. `500m` or `2`.
    #[schemars(regex(pattern = "^[0-9]+(\\.[0-9]+)?m?$"))]
    pub cpu: Option<String>,
    /// Memory, e.g. `512Mi` or `4Gi`.
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub memory: Option<String>,
}

/// Pod resources of each instance.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub requests: Option<ResourceAmounts>,
    pub limits: Option<ResourceAmounts>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCluster {
    /// Name of the new Cluster (lowercase letters, digits and `-`; at most 50 characters so instance names fit).
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Number of PostgreSQL instances (1 primary + replicas), 1 to 10. Default 3.
    #[serde(default = "three")]
    #[schemars(range(min = 1, max = 10))]
    pub instances: u32,
    /// Size of each instance's data volume, a Kubernetes quantity such as `10Gi`. Default `10Gi`.
    #[serde(default = "ten_gi")]
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub storage_size: String,
    /// PostgreSQL major version (e.g. `16`, `17`) or major.minor: runs the image `<repository>:<version>`, from the image repository the server's operator configured, else CloudNativePG's own `ghcr.io/cloudnative-pg/postgresql`. Unset: `16` when a repository is configured, else the operator's default image. With `container_image` too, the explicit image wins.
    #[schemars(regex(pattern = "^[0-9]{2}(\\.[0-9]+)?$"))]
    pub postgres_version: Option<String>,
    /// Full PostgreSQL operand image to run; wins over `postgres_version`.
    #[schemars(length(min = 1, max = 512))]
    pub container_image: Option<String>,
    /// Storage class of the data volumes; the cluster's default class when unset.
    #[schemars(length(min = 1, max = 253))]
    pub storage_class: Option<String>,
    /// Image pull policy of the instance pods.
    pub image_pull_policy: Option<PullPolicy>,
    /// Node labels the instance pods must match.
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations of the instance pods.
    pub tolerations: Option<Vec<Toleration>>,
    /// PostgreSQL configuration parameters (`postgresql.parameters`), e.g. {"max_connections": "200"}. None are set unless given.
    pub parameters: Option<BTreeMap<String, String>>,
    /// CPU and memory requests/limits of each instance pod.
    pub resources: Option<Resources>,
    /// Size of a separate WAL volume per instance (e.g. `2Gi`); WAL stays on the data volume when unset.
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub wal_storage_size: Option<String>,
    /// Application database created at bootstrap (initdb). Default: the operator's (`app`). Lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 63 (PostgreSQL's identifier limit): the operator quotes the name, so `-` works like `_`; uppercase is refused because unquoted SQL folds it.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub database: Option<String>,
    /// Owner role of the bootstrap database. Default: the operator's (same as the database). Same characters as `database`.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub owner: Option<String>,
    /// Wait (by watch, with progress notifications) until the cluster is healthy. Default false.
    #[serde(default)]
    pub wait: bool,
    /// Seconds to wait with `wait: true`, 10 to 3600 (default 600); the call's own deadline also applies.
    #[schemars(range(min = 10, max = 3600))]
    pub timeout: Option<u32>,
    /// Namespace to create the cluster in. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate with a server-side dry run and show the manifest; create nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleCluster {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// New number of instances, 1 to 10.
    #[schemars(range(min = 1, max = 10))]
    pub instances: u32,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate with a server-side dry run and show the patch; change nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteCluster {
    /// Name of the CloudNativePG Cluster to delete.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Must be true to delete: the cluster's instances and their volumes (all data) are removed. Default false.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Also delete the cluster's Database, DatabaseRole, Pooler, Backup and ScheduledBackup objects and the role Secrets this server created. Default false (they are listed, not deleted).
    #[serde(default)]
    pub delete_dependents: bool,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Show what would be deleted (server-side dry run); delete nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["storage_size"]},
    {"required": ["restore_validation_only"], "properties": {"restore_validation_only": {"const": true}}}
]))]
pub struct ResizeCluster {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// New size of each instance's data volume (e.g. `20Gi`). Larger: the volumes grow in place. Smaller: starts the shrink migration (needs `confirm_shrink`). Required unless `restore_validation_only`.
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub storage_size: Option<String>,
    /// Shrink only: instances added in the same patch, which get volumes of the new size, before the old ones are replaced. 0 to 3, default 1.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 3))]
    pub extra_instances: u32,
    /// Must be true to shrink: every instance is replaced, one at a time. Default false.
    #[serde(default)]
    pub confirm_shrink: bool,
    /// Only re-enable the operator's validation on the cluster (after an interrupted shrink). Default false.
    #[serde(default)]
    pub restore_validation_only: bool,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate with a server-side dry run and show the patches; change nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteInstance {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Instance to promote: its pod name (`<cluster>-2`) or its number (`2`).
    #[schemars(regex(pattern = POD_NAME_PATTERN), length(min = 1, max = 63))]
    pub instance: String,
    /// Promote even when the instance is not reported healthy. Default false.
    #[serde(default)]
    pub force: bool,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate with a server-side dry run and show the status patch; change nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInstance {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Instance to recycle: its pod name (`<cluster>-2`) or its number (`2`).
    #[schemars(regex(pattern = POD_NAME_PATTERN), length(min = 1, max = 63))]
    pub instance: String,
    /// Must be true: the instance's pod and volumes are deleted and the operator creates a fresh instance. Default false.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Show what would be deleted (server-side dry run); delete nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}
