//! Argument structs; the input schemas are derived from them.

use std::collections::BTreeMap;

use cnpg_mcp_sdk::names::CLUSTER_NAME_PATTERN;
use cnpg_mcp_sdk::tool::Format;
use schemars::JsonSchema;
use serde::Deserialize;

pub use cnpg_mcp_sdk::names::NAMESPACE_PATTERN;
/// Pooler names: the Deployment and the Service are named after them, so
/// an RFC 1123 label.
pub const POOLER_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// The PgBouncer parameters CloudNativePG lets a Pooler set
/// (`AllowedPgbouncerGenericConfigurationParameters`,
/// `internal/webhook/v1/pooler_webhook.go`, operator v1.30.0); everything
/// else is "Invalid or reserved parameter".
pub const ALLOWED_PARAMETERS: &[&str] = &[
    "application_name_add_host",
    "auth_type",
    "autodb_idle_timeout",
    "cancel_wait_timeout",
    "client_idle_timeout",
    "client_login_timeout",
    "client_tls_ciphers",
    "client_tls_sslmode",
    "default_pool_size",
    "disable_pqexec",
    "dns_max_ttl",
    "dns_nxdomain_ttl",
    "idle_transaction_timeout",
    "ignore_startup_parameters",
    "listen_backlog",
    "log_connections",
    "log_disconnections",
    "log_pooler_errors",
    "log_stats",
    "max_client_conn",
    "max_db_connections",
    "max_packet_size",
    "max_prepared_statements",
    "max_user_connections",
    "min_pool_size",
    "pkt_buf",
    "query_timeout",
    "query_wait_timeout",
    "reserve_pool_size",
    "reserve_pool_timeout",
    "sbuf_loopcnt",
    "server_check_delay",
    "server_check_query",
    "server_connect_timeout",
    "server_fast_close",
    "server_idle_timeout",
    "server_lifetime",
    "server_login_retry",
    "server_reset_query",
    "server_reset_query_always",
    "server_round_robin",
    "server_tls_ciphers",
    "server_tls_protocols",
    "server_tls_sslmode",
    "stats_period",
    "suspend_timeout",
    "tcp_defer_accept",
    "tcp_socket_buffer",
    "tcp_keepalive",
    "tcp_keepcnt",
    "tcp_keepidle",
    "tcp_keepintvl",
    "tcp_user_timeout",
    "track_extra_parameters",
    "verbose",
];

/// Which instances the pooler sends connections to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PoolerType {
    /// The primary (read-write).
    Rw,
    /// The replicas (read-only).
    Ro,
    /// Any instance (read).
    R,
}

impl PoolerType {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolerType::Rw => "rw",
            PoolerType::Ro => "ro",
            PoolerType::R => "r",
        }
    }
}

/// PgBouncer's pool mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// A server connection per client session (the operator's default).
    Session,
    /// A server connection per transaction.
    Transaction,
}

impl PoolMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPoolers {
    /// Only this cluster's poolers. Default: every pooler of the namespace.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: Option<String>,
    /// Namespace to list. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPooler {
    /// Name of the Pooler.
    #[schemars(regex(pattern = POOLER_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the pooler. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePooler {
    /// Cluster the pooler serves.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Name of the Pooler (and of its Deployment and Service); not the cluster's name. Default: `<cluster>-pooler-<type>`.
    #[schemars(regex(pattern = POOLER_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: Option<String>,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// `rw` (default: the primary), `ro` (replicas) or `r` (any instance).
    #[serde(rename = "type")]
    pub pooler_type: Option<PoolerType>,
    /// PgBouncer instances (default 1).
    #[schemars(range(min = 0, max = 100))]
    pub instances: Option<u32>,
    /// `session` (the operator's default) or `transaction`.
    pub pool_mode: Option<PoolMode>,
    /// PgBouncer settings (`max_client_conn`, `default_pool_size`, ...): only the ones CloudNativePG allows.
    pub parameters: Option<BTreeMap<String, String>>,
    /// `pg_hba` lines for PgBouncer.
    pub pg_hba: Option<Vec<String>>,
    /// Custom auth query (with `auth_query_secret`). Default: the operator's auth query and user.
    #[schemars(length(min = 1, max = 4096))]
    pub auth_query: Option<String>,
    /// Secret with the user and password that run `auth_query` (with `auth_query`).
    #[schemars(regex(pattern = POOLER_NAME_PATTERN), length(min = 1, max = 253))]
    pub auth_query_secret: Option<String>,
    /// Have the operator create a PodMonitor (`spec.monitoring.enablePodMonitor`, deprecated by CloudNativePG in favour of your own PodMonitor). Default false.
    #[serde(default)]
    pub enable_pod_monitor: bool,
    /// Create it paused (PgBouncer holds new queries). Default false.
    #[serde(default)]
    pub paused: bool,
    /// Validate server-side (including the operator's webhook) and show the manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePooler {
    /// Name of the Pooler.
    #[schemars(regex(pattern = POOLER_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the pooler. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// New number of PgBouncer instances.
    #[schemars(range(min = 0, max = 100))]
    pub instances: Option<u32>,
    /// New pool mode.
    pub pool_mode: Option<PoolMode>,
    /// PgBouncer parameters to set; a null value removes the parameter.
    pub parameters: Option<BTreeMap<String, Option<String>>>,
    /// `true` pauses PgBouncer (new queries wait), `false` resumes it.
    pub paused: Option<bool>,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletePooler {
    /// Name of the Pooler.
    #[schemars(regex(pattern = POOLER_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the pooler. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Must be true to delete.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Validate server-side; nothing is deleted.
    #[serde(default)]
    pub dry_run: bool,
}
