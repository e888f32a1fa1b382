//! Argument structs; the input schemas are derived from them.

use cnpg_mcp_sdk::names::{CLUSTER_NAME_PATTERN, PG_NAME_PATTERN};
use cnpg_mcp_sdk::tool::Format;
use schemars::JsonSchema;
use serde::Deserialize;

pub use cnpg_mcp_sdk::names::NAMESPACE_PATTERN;

fn yes() -> bool {
    true
}

pub use cnpg_mcp_sdk::tool::ReclaimPolicy;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRoles {
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRole {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// PostgreSQL role name (lowercase letters, digits, `_` and `-`; see create_postgres_role).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub role_name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("not" = {"required": ["login", "client_certificate"],
    "properties": {"login": {"const": false}, "client_certificate": {"const": true}}}))]
pub struct CreateRole {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// PostgreSQL role name: lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 63 (PostgreSQL's identifier limit). `-` works like `_` because CloudNativePG quotes every name it sends to PostgreSQL; uppercase is refused because unquoted SQL folds it. `postgres`, `streaming_replica`, `pg_*` and `cnpg_*` are reserved.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    #[schemars(extend("not" = {"anyOf": [
        {"enum": ["postgres", "streaming_replica"]},
        {"pattern": "^(pg_|cnpg_)"}
    ]}))]
    pub role_name: String,
    /// The role may log in. Default true.
    #[serde(default = "yes")]
    pub login: bool,
    /// Superuser. Default false.
    #[serde(default)]
    pub superuser: bool,
    /// Inherits the privileges of roles it is a member of. Default true.
    #[serde(default = "yes")]
    pub inherit: bool,
    /// May create databases. Default false.
    #[serde(default)]
    pub createdb: bool,
    /// May create roles. Default false.
    #[serde(default)]
    pub createrole: bool,
    /// May start streaming replication. Default false.
    #[serde(default)]
    pub replication: bool,
    /// Bypasses row-level security. Default false.
    #[serde(default)]
    pub bypassrls: bool,
    /// Roles this role becomes a member of.
    pub in_roles: Option<Vec<String>>,
    /// Concurrent connections allowed; -1 (default) for no limit.
    #[schemars(range(min = -1, max = 100000))]
    pub connection_limit: Option<i64>,
    /// When the password stops being valid, RFC 3339 (e.g. `2027-01-01T00:00:00Z`).
    #[schemars(regex(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    ))]
    pub valid_until: Option<String>,
    /// Comment on the role.
    #[schemars(length(max = 1024))]
    pub comment: Option<String>,
    /// No password (and no Secret); log in by other means, e.g. certificates. Default false.
    #[serde(default)]
    pub disable_password: bool,
    /// Have the operator issue a client certificate for the role (needs `login`). Default false.
    #[serde(default)]
    pub client_certificate: bool,
    /// `retain` (default): deleting the DatabaseRole keeps the PostgreSQL role; `delete` drops it.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate with a server-side dry run and show the manifests; create nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    {"not": {"required": ["password", "reset_password"], "properties": {"reset_password": {"const": true}}}},
    {"not": {"required": ["password", "disable_password"], "properties": {"disable_password": {"const": true}}}},
    {"not": {"required": ["reset_password", "disable_password"],
             "properties": {"reset_password": {"const": true}, "disable_password": {"const": true}}}}
]))]
pub struct UpdateRole {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// PostgreSQL role name (lowercase letters, digits, `_` and `-`; see create_postgres_role).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub role_name: String,
    /// The role may log in.
    pub login: Option<bool>,
    /// Superuser.
    pub superuser: Option<bool>,
    /// Inherits the privileges of roles it is a member of.
    pub inherit: Option<bool>,
    /// May create databases.
    pub createdb: Option<bool>,
    /// May create roles.
    pub createrole: Option<bool>,
    /// May start streaming replication.
    pub replication: Option<bool>,
    /// Bypasses row-level security.
    pub bypassrls: Option<bool>,
    /// Roles this role is a member of (replaces the list).
    pub in_roles: Option<Vec<String>>,
    /// Concurrent connections allowed; -1 for no limit.
    #[schemars(range(min = -1, max = 100000))]
    pub connection_limit: Option<i64>,
    /// When the password stops being valid, RFC 3339.
    #[schemars(regex(
        pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
    ))]
    pub valid_until: Option<String>,
    /// Comment on the role.
    #[schemars(length(max = 1024))]
    pub comment: Option<String>,
    /// `retain` or `delete`: what deleting the DatabaseRole does to the PostgreSQL role.
    pub reclaim_policy: Option<ReclaimPolicy>,
    /// Generate a new password (server-side; never shown) and store it in the role's Secret. Only for Secrets this server created. Default false.
    #[serde(default)]
    pub reset_password: bool,
    /// New password, written to the role's Secret (created, as with create_postgres_role, when the role has none) and never echoed. Only for Secrets this server created. Not with `reset_password` or `disable_password: true`.
    #[schemars(length(min = 1, max = 1024), extend("writeOnly" = true))]
    pub password: Option<String>,
    /// true: the role gets no password (`disablePassword`; PostgreSQL's password is set to NULL) and its password Secret is detached, and deleted if this server created it; log in by other means, e.g. a client certificate. false: passwords count again (pass `password` to set one).
    pub disable_password: Option<bool>,
    /// true: the operator issues and renews a TLS client certificate for the role (Secret `<DatabaseRole name>-client-cert`; needs `login`). false: it stops and deletes the certificate Secret it made.
    pub client_certificate: Option<bool>,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate with a server-side dry run and show the patches; change nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteRole {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// PostgreSQL role name (lowercase letters, digits, `_` and `-`; see create_postgres_role).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub role_name: String,
    /// Also drop the role in PostgreSQL (sets the reclaim policy to `delete` before deleting). Default false: the PostgreSQL role stays.
    #[serde(default)]
    pub drop_role: bool,
    /// Must be true to delete. Default false.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Show what would be deleted (server-side dry run); delete nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDatabases {
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

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDatabase {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// PostgreSQL database name (lowercase letters, digits, `_` and `-`; see create_postgres_database).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub database_name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

/// Locale provider of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LocaleProvider {
    Libc,
    Icu,
    Builtin,
}

/// An extension to install in the database.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Extension name, e.g. `pgcrypto`.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Version; the default version when unset.
    #[schemars(length(min = 1, max = 64))]
    pub version: Option<String>,
    /// Schema to install it in.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub schema: Option<String>,
}

/// A schema to create in the database.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Schema name.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Owner role; the database owner when unset.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub owner: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    {"if": {"anyOf": [{"required": ["icu_locale"]}, {"required": ["icu_rules"]}]},
     "then": {"required": ["locale_provider"], "properties": {"locale_provider": {"const": "icu"}}}},
    {"if": {"required": ["builtin_locale"]},
     "then": {"required": ["locale_provider"], "properties": {"locale_provider": {"const": "builtin"}}}}
]))]
pub struct CreateDatabase {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// PostgreSQL database name: lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 63 (`-` works because CloudNativePG quotes the name; uppercase is refused because unquoted SQL folds it). Not `postgres`, `template0`, `template1`.
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    #[schemars(extend("not" = {"enum": ["postgres", "template0", "template1"]}))]
    pub database_name: String,
    /// Owner role of the database (same characters as `database_name`).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub owner: String,
    /// `retain` (default): deleting the Database object keeps the PostgreSQL database; `delete` drops it.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
    /// Character encoding, e.g. `UTF8`.
    #[schemars(regex(pattern = "^[A-Za-z0-9_]+$"), length(max = 32))]
    pub encoding: Option<String>,
    /// Locale (LC_COLLATE and LC_CTYPE), e.g. `en_US.UTF-8`.
    #[schemars(length(min = 1, max = 128))]
    pub locale: Option<String>,
    /// Locale provider: `libc`, `icu` or `builtin`.
    pub locale_provider: Option<LocaleProvider>,
    /// LC_COLLATE.
    #[schemars(length(min = 1, max = 128))]
    pub locale_collate: Option<String>,
    /// LC_CTYPE.
    #[schemars(length(min = 1, max = 128))]
    pub locale_ctype: Option<String>,
    /// ICU locale (requires `locale_provider: icu`).
    #[schemars(length(min = 1, max = 128))]
    pub icu_locale: Option<String>,
    /// ICU collation rules (requires `locale_provider: icu`).
    #[schemars(length(min = 1, max = 1024))]
    pub icu_rules: Option<String>,
    /// Builtin locale, e.g. `C.UTF-8` (requires `locale_provider: builtin`).
    #[schemars(length(min = 1, max = 128))]
    pub builtin_locale: Option<String>,
    /// Collation version.
    #[schemars(length(min = 1, max = 64))]
    pub collation_version: Option<String>,
    /// Extensions to install.
    pub extensions: Option<Vec<Extension>>,
    /// Schemas to create.
    pub schemas: Option<Vec<Schema>>,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Validate with a server-side dry run and show the manifest; create nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteDatabase {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub cluster_name: String,
    /// PostgreSQL database name (lowercase letters, digits, `_` and `-`; see create_postgres_database).
    #[schemars(regex(pattern = PG_NAME_PATTERN), length(min = 1, max = 63))]
    pub database_name: String,
    /// Must be true to delete. Default false.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Show what would be deleted (server-side dry run); delete nothing. Default false.
    #[serde(default)]
    pub dry_run: bool,
}
