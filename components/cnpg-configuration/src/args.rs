//! Argument structs; the input schemas are derived from them.

use std::collections::BTreeMap;

use cnpg_mcp_sdk::names::{CLUSTER_NAME_PATTERN, NAMESPACE_PATTERN};
use schemars::JsonSchema;
use serde::Deserialize;

/// A GUC name as the operator's webhook accepts it
/// (`postgresParameterNameRegex`, `internal/webhook/v1/cluster_webhook.go`).
pub const PARAMETER_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_$]*(\\.[A-Za-z_][A-Za-z0-9_$]*)?$";

/// How the synchronous standby names are chosen
/// (`spec.postgresql.synchronous.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncMethod {
    /// Quorum: any `number` of the standbys confirm.
    Any,
    /// Priority: the first `number` standbys in the list confirm.
    First,
}

/// What happens when too few standbys are available
/// (`spec.postgresql.synchronous.dataDurability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataDurability {
    /// Writes wait for `number` standbys, whatever their health.
    Required,
    /// Only healthy standbys count; with none, writes go on unreplicated.
    Preferred,
}

/// `spec.postgresql.synchronous`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Synchronous {
    /// `any` (quorum) or `first` (priority).
    pub method: SyncMethod,
    /// How many synchronous standbys; at least 1 and fewer than the instances.
    #[schemars(range(min = 1, max = 100))]
    pub number: u32,
    /// `required` (default) or `preferred`.
    pub data_durability: Option<DataDurability>,
    /// At most this many of the cluster's own instances are listed.
    #[schemars(range(max = 100))]
    pub max_standby_names_from_cluster: Option<u32>,
    /// Names listed before the cluster's instances (e.g. an external standby).
    #[serde(default)]
    pub standby_names_pre: Vec<String>,
    /// Names listed after the cluster's instances.
    #[serde(default)]
    pub standby_names_post: Vec<String>,
    /// Quorum-based failover: promote only a standby known to have every synchronous commit.
    pub failover_quorum: Option<bool>,
}

/// CPU and memory of every instance (`spec.resources`). A quantity such
/// as `500m`, `2`, `4Gi`; an empty string removes the value.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[schemars(regex(pattern = "^$|^[0-9]+(\\.[0-9]+)?m?$"), length(max = 20))]
    pub cpu_request: Option<String>,
    #[schemars(regex(pattern = "^$|^[0-9]+(\\.[0-9]+)?m?$"), length(max = 20))]
    pub cpu_limit: Option<String>,
    #[schemars(
        regex(pattern = "^$|^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"),
        length(max = 20)
    )]
    pub memory_request: Option<String>,
    #[schemars(
        regex(pattern = "^$|^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"),
        length(max = 20)
    )]
    pub memory_limit: Option<String>,
}

/// `spec.monitoring` switches.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Turn off the operator's default metrics queries.
    pub disable_default_queries: Option<bool>,
    /// Let the operator manage a PodMonitor (deprecated by the operator: manage your own PodMonitor).
    pub enable_pod_monitor: Option<bool>,
    /// Serve the metrics endpoint over TLS (rolls every instance).
    pub tls: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// PostgreSQL parameters to set (`{"max_connections": "200"}`); `null` removes one. Values are strings as in postgresql.conf.
    #[schemars(length(max = 64))]
    pub parameters: Option<BTreeMap<String, Option<String>>>,
    /// The pg_hba.conf lines the cluster adds after the operator's fixed rules; replaces the current list (`[]` clears it).
    #[schemars(length(max = 100))]
    pub pg_hba: Option<Vec<String>>,
    /// The pg_ident.conf lines; replaces the current list (`[]` clears it).
    #[schemars(length(max = 100))]
    pub pg_ident: Option<Vec<String>>,
    /// Libraries to preload besides the operator's (`spec.postgresql.shared_preload_libraries`); replaces the list. Needs a restart.
    #[schemars(length(max = 32))]
    pub shared_preload_libraries: Option<Vec<String>>,
    /// Synchronous replication settings (`spec.postgresql.synchronous`).
    pub synchronous: Option<Synchronous>,
    /// Remove `spec.postgresql.synchronous`: replication becomes asynchronous.
    #[serde(default)]
    pub disable_synchronous: bool,
    /// CPU and memory requests and limits of every instance.
    pub resources: Option<Resources>,
    /// Monitoring switches.
    pub monitoring: Option<Monitoring>,
    /// Validate server-side (webhooks included) and show the patch and the resulting diff; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}
