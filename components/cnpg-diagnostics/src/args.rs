//! Argument structs; the input schemas are derived from them.

use cnpg_mcp_sdk::names::CLUSTER_NAME_PATTERN;
pub use cnpg_mcp_sdk::names::NAMESPACE_PATTERN;
use cnpg_mcp_sdk::tool::Format;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Only `Warning` events. Default false.
    #[serde(default)]
    pub warnings_only: bool,
    /// At most this many events, newest first (default 50).
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

/// Lowest level of log lines to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// One instance (`pg-2` or `2`). Default: every instance.
    #[schemars(regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(min = 1, max = 63))]
    pub instance: Option<String>,
    /// Lines per instance, from the end (default 100).
    #[schemars(range(min = 1, max = 5000))]
    pub tail: Option<u32>,
    /// Only lines at or after this time (RFC 3339); lines without a time are kept.
    #[schemars(regex(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    ))]
    pub since: Option<String>,
    /// Only lines at this level or above (`info`, `warning`, `error`, ...).
    pub min_level: Option<Level>,
    /// At most this many bytes of log text in the answer (default 65536); the newest lines are kept.
    #[schemars(range(min = 1024, max = 1048576))]
    pub max_bytes: Option<u32>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connection {
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// At most this many events, newest first (default 100).
    #[schemars(range(min = 0, max = 500))]
    pub events_limit: Option<u32>,
    /// Text rendering: `text` (default, a summary) or `json` (the whole bundle).
    #[serde(default)]
    pub format: Format,
}
