//! Argument structs; the input schemas are derived from them.

use cnpg_mcp_sdk::names::{CLUSTER_NAME_PATTERN, NAMESPACE_PATTERN, PG_NAME_PATTERN};
use schemars::JsonSchema;
use serde::Deserialize;

/// Schema pattern of a Secret name (an RFC 1123 subdomain). The `-client-cert`
/// suffix the grant requires is checked by the tool, which says why.
pub const SECRET_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueClientCertificate {
    /// Name of the CloudNativePG Cluster whose client CA signs the certificate.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Namespace of the cluster; the Secret is created there. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// PostgreSQL role the certificate authenticates as (its CN).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub user: String,
    /// Name of the Secret to create; must end in `-client-cert`. Default: `<cluster>-<user>-client-cert` (`_` as `-`).
    #[schemars(regex(pattern = SECRET_NAME_PATTERN), length(min = 1, max = 253))]
    pub secret_name: Option<String>,
    /// Validate server-side and show what would be created; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}
