//! Argument structs; the input schemas are derived from them.

use cnpg_mcp_sdk::names::CLUSTER_NAME_PATTERN;
pub use cnpg_mcp_sdk::names::NAMESPACE_PATTERN;
use schemars::JsonSchema;
use serde::Deserialize;

/// An instance (pod) name, or `*` for every instance where allowed.
pub const INSTANCE_PATTERN: &str = "^(\\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$";

/// Switch an operation on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnOff {
    On,
    Off,
}

/// Hibernation: on, off, or report the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HibernationAction {
    On,
    Off,
    Status,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Only this instance (`pg-2` or `2`). Default: a rolling restart of every instance.
    #[schemars(regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(min = 1, max = 63))]
    pub instance: Option<String>,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reload {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hibernate {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// `on`, `off` or `status`.
    pub action: HibernationAction,
    /// Must be true to hibernate (`on`).
    #[serde(default)]
    pub confirm_hibernation: bool,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fence {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// The instance (`pg-2` or `2`), or `*` for every instance.
    #[schemars(regex(pattern = INSTANCE_PATTERN), length(min = 1, max = 63))]
    pub instance: String,
    /// `on` fences, `off` lifts the fence.
    pub action: OnOff,
    /// Must be true to fence (`on`).
    #[serde(default)]
    pub confirm_fencing: bool,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Node maintenance in progress (`set`: true, `unset`: false).
    pub in_progress: bool,
    /// During maintenance, wait for an instance's volume to come back instead of recreating the instance on another node. Default false, as `kubectl cnpg maintenance --reusePVC`.
    #[serde(default)]
    pub reuse_pvc: bool,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}
