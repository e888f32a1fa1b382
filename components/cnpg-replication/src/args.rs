//! Argument structs; the input schemas are derived from them.

use std::collections::BTreeMap;

use cnpg_mcp_sdk::names::{CLUSTER_NAME_PATTERN, PG_NAME_PATTERN, QUANTITY_PATTERN};
use cnpg_mcp_sdk::tool::Format;
use schemars::JsonSchema;
use serde::Deserialize;

pub use cnpg_mcp_sdk::names::NAMESPACE_PATTERN;
/// Secret names (RFC 1123 subdomain).
pub const SECRET_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// External cluster names: the operator refuses path separators and `..`
/// (they become folder names); this server keeps them to RFC 1123 labels.
pub const EXTERNAL_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

pub use cnpg_mcp_sdk::tool::ReclaimPolicy;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListObjects {
    /// Only this cluster's objects. Default: every one of the namespace.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: Option<String>,
    /// Namespace to list. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

/// A table of a publication.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedTable {
    /// Table name.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Its schema (default: PostgreSQL's search path).
    #[schemars(length(min = 1, max = 63))]
    pub schema: Option<String>,
    /// `ONLY`: leave out inheriting tables.
    #[serde(default)]
    pub only: bool,
    /// Publish only these columns.
    pub columns: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePublication {
    /// Publisher cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Publication name in PostgreSQL.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub publication_name: String,
    /// Database that holds the published tables.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub dbname: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Publish every table (`FOR ALL TABLES`); excludes `tables` and `schemas`.
    #[serde(default)]
    pub all_tables: bool,
    /// Tables to publish.
    pub tables: Option<Vec<PublishedTable>>,
    /// Schemas whose tables to publish (`TABLES IN SCHEMA`); not with column lists.
    pub schemas: Option<Vec<String>>,
    /// Publication parameters (`WITH (...)`, e.g. `publish: insert,update`).
    pub parameters: Option<BTreeMap<String, String>>,
    /// `retain` (default): deleting the object keeps the publication in PostgreSQL; `delete` drops it.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
    /// Validate server-side and show the manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// Subscriber cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Subscription name in PostgreSQL.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub subscription_name: String,
    /// Database of the subscriber that receives the data.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub dbname: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Publication to subscribe to, on the publisher.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub publication_name: String,
    /// Database of the publication on the publisher. Default: the `dbname` of the external cluster's connection parameters.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub publication_dbname: Option<String>,
    /// The publisher: an entry of the subscriber's `spec.externalClusters` with connection parameters (add_external_cluster).
    #[schemars(regex(pattern = EXTERNAL_NAME_PATTERN), length(min = 1, max = 63))]
    pub external_cluster: String,
    /// Subscription parameters (`WITH (...)`, e.g. `copy_data: "false"`).
    pub parameters: Option<BTreeMap<String, String>>,
    /// `retain` (default): deleting the object keeps the subscription in PostgreSQL; `delete` drops it.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
    /// Validate server-side and show the manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteObject {
    /// Cluster of the publication or subscription.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Its name in PostgreSQL.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Also drop it in PostgreSQL: sets the reclaim policy to `delete` before deleting the object. Default: the object's policy.
    #[serde(default)]
    pub drop_in_postgres: bool,
    /// Must be true to delete.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Validate server-side; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCluster {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

/// A key of a Secret (a reference; values are never given to this server).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretKey {
    #[schemars(regex(pattern = SECRET_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    #[schemars(regex(pattern = "^[-._a-zA-Z0-9]+$"), length(min = 1, max = 253))]
    pub key: String,
}

/// An object store the barman-cloud plugin reads (`externalClusters[].plugin`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreRef {
    /// The ObjectStore (`barmancloud.cnpg.io`) in the cluster's namespace.
    #[schemars(regex(pattern = SECRET_NAME_PATTERN), length(min = 1, max = 253))]
    pub object_store: String,
    /// The source's folder in the store (`serverName`): normally the source cluster's name.
    #[schemars(length(min = 1, max = 253))]
    pub server_name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddExternalCluster {
    /// Cluster whose `spec.externalClusters` to change.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Name of the entry.
    #[schemars(regex(pattern = EXTERNAL_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// libpq connection parameters (`host`, `port`, `user`, `dbname`, `sslmode`, ...). Never a password: use `password_secret`.
    pub connection_parameters: Option<BTreeMap<String, String>>,
    /// Secret key holding the password.
    pub password_secret: Option<SecretKey>,
    /// Secret key holding the client certificate.
    pub ssl_cert_secret: Option<SecretKey>,
    /// Secret key holding the client key.
    pub ssl_key_secret: Option<SecretKey>,
    /// Secret key holding the CA certificate.
    pub ssl_root_cert_secret: Option<SecretKey>,
    /// An object store read through the barman-cloud plugin.
    pub object_store: Option<ObjectStoreRef>,
    /// Replace an entry of the same name (default: refuse).
    #[serde(default)]
    pub replace: bool,
    /// Validate server-side (the operator's webhook) and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveExternalCluster {
    /// Cluster whose `spec.externalClusters` to change.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// Name of the entry.
    #[schemars(regex(pattern = EXTERNAL_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Must be true to remove.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReplicaCluster {
    /// Name of the new replica cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of both clusters. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// The source cluster, in the same namespace: streamed from over its `-rw` service with the `streaming_replica` certificate.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub source_cluster: String,
    /// Bootstrap and follow from an object store through the barman-cloud plugin instead of streaming.
    pub object_store: Option<ObjectStoreRef>,
    /// Instances of the replica cluster. Default 1.
    #[schemars(range(min = 1, max = 10))]
    pub instances: Option<u32>,
    /// Data volume size. Default: the source's.
    #[schemars(regex(pattern = QUANTITY_PATTERN))]
    pub storage_size: Option<String>,
    /// Delay applying changes by this long (Go duration, e.g. `1h`).
    #[schemars(regex(pattern = "^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"))]
    pub min_apply_delay: Option<String>,
    /// Validate server-side (the operator's webhook) and show the complete manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteReplicaCluster {
    /// The replica cluster to promote.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Distributed topology: the former primary's `status.demotionToken` (read from that cluster when it is in this namespace).
    #[schemars(length(min = 1, max = 8192))]
    pub promotion_token: Option<String>,
    /// Must be true to promote.
    #[serde(default)]
    pub confirm_promotion: bool,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}
