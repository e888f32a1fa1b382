//! Role tools: DatabaseRole objects and their password Secrets.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::{ask_user, unconfirmed};
use cnpg_mcp_sdk::kube::{self, Failure, cnpg, collection, core, object};
use cnpg_mcp_sdk::names::{child_object_name, disambiguated_object_name, reserved_role};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args;

/// Label on everything this server creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cnpg-mcp");
/// Which cluster and role a Secret was created for: `<cluster>/<role>`.
pub const OWNER_ANNOTATION: &str = "cnpg-mcp/role";
/// Characters of generated passwords (no quoting trouble in URIs or shells).
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const PASSWORD_LENGTH: usize = 32;

/// `cnpg-<cluster>-user-<role>`, the role part taken from the role's
/// DatabaseRole name (`<cluster>-<role>`, possibly disambiguated), so two
/// roles whose names map to one object-name part (`app_user`, `app-user`)
/// get different Secrets.
pub fn secret_name(cluster: &str, object_name: &str) -> String {
    let part = object_name
        .strip_prefix(cluster)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(object_name);
    format!("cnpg-{cluster}-user-{part}")
}

/// A password from the host's CSPRNG (WASI random), by rejection sampling
/// so every character is equally likely.
pub fn generate_password() -> Result<String, ToolOutput> {
    let mut out = String::with_capacity(PASSWORD_LENGTH);
    let limit = 256 - (256 % PASSWORD_ALPHABET.len());
    while out.len() < PASSWORD_LENGTH {
        let mut buf = [0u8; 64];
        getrandom::fill(&mut buf).map_err(|e| {
            failure(
                format!("No secure random numbers available: {e}"),
                "Report this to the server's operator.",
            )
        })?;
        for byte in buf {
            if usize::from(byte) < limit && out.len() < PASSWORD_LENGTH {
                out.push(PASSWORD_ALPHABET[usize::from(byte) % PASSWORD_ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

fn cluster_of(item: &Value) -> Option<&str> {
    item.pointer("/spec/cluster/name").and_then(Value::as_str)
}

fn spec_name(item: &Value) -> Option<&str> {
    item.pointer("/spec/name").and_then(Value::as_str)
}

/// The DatabaseRole of `cluster` whose PostgreSQL name is `role`, whatever
/// the object is called.
pub fn find_role(ns: &str, cluster: &str, role: &str) -> Result<Option<Value>, Failure> {
    Ok(kube::list(&collection(cnpg("databaseroles"), Some(ns)), None)?
        .into_iter()
        .find(|item| cluster_of(item) == Some(cluster) && spec_name(item) == Some(role)))
}

/// A Secret this server created for exactly this role.
pub fn is_our_secret(secret: &Value, cluster: &str, role: &str) -> bool {
    kube::label(secret, MANAGED_BY.0) == Some(MANAGED_BY.1)
        && kube::annotation(secret, OWNER_ANNOTATION) == Some(format!("{cluster}/{role}").as_str())
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RoleInfo {
    pub role_name: String,
    /// DatabaseRole object name; none for roles in the Cluster's `spec.managed.roles`.
    pub object_name: Option<String>,
    /// `DatabaseRole` or `Cluster.spec.managed.roles`.
    pub source: String,
    pub login: bool,
    pub superuser: bool,
    pub inherit: bool,
    pub createdb: bool,
    pub createrole: bool,
    pub replication: bool,
    pub bypassrls: bool,
    pub in_roles: Vec<String>,
    pub connection_limit: i64,
    pub valid_until: Option<String>,
    pub comment: Option<String>,
    /// Secret holding the password (`username` and `password` keys); never its content.
    pub password_secret: Option<String>,
    pub disable_password: bool,
    /// Whether the operator issues a TLS client certificate for the role.
    pub client_certificate: bool,
    pub reclaim_policy: Option<String>,
    /// The operator's reconciliation state, in words.
    pub state: String,
    /// Whether the operator applied the role to PostgreSQL (none: not reported yet).
    pub applied: Option<bool>,
    pub message: Option<String>,
}

fn flag(spec: &Value, key: &str, default: bool) -> bool {
    spec.get(key).and_then(Value::as_bool).unwrap_or(default)
}

fn role_from_spec(spec: &Value) -> RoleInfo {
    RoleInfo {
        role_name: spec.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
        object_name: None,
        source: String::new(),
        login: flag(spec, "login", false),
        superuser: flag(spec, "superuser", false),
        inherit: flag(spec, "inherit", true),
        createdb: flag(spec, "createdb", false),
        createrole: flag(spec, "createrole", false),
        replication: flag(spec, "replication", false),
        bypassrls: flag(spec, "bypassrls", false),
        in_roles: spec
            .get("inRoles")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        connection_limit: spec.get("connectionLimit").and_then(Value::as_i64).unwrap_or(-1),
        valid_until: spec.get("validUntil").and_then(Value::as_str).map(str::to_string),
        comment: spec.get("comment").and_then(Value::as_str).map(str::to_string),
        password_secret: spec
            .pointer("/passwordSecret/name")
            .and_then(Value::as_str)
            .map(str::to_string),
        disable_password: flag(spec, "disablePassword", false),
        client_certificate: client_certificate_enabled(spec),
        reclaim_policy: spec
            .get("databaseRoleReclaimPolicy")
            .and_then(Value::as_str)
            .map(str::to_string),
        applied: None,
        message: None,
        state: String::new(),
    }
}

/// `spec.clientCertificate.enabled`, which the CRD defaults to true when
/// the block is present (`ClientCertificateConfiguration` in the
/// operator's `api/v1/databaserole_types.go`).
fn client_certificate_enabled(spec: &Value) -> bool {
    spec.get("clientCertificate")
        .filter(|c| c.is_object())
        .is_some_and(|c| c.get("enabled").and_then(Value::as_bool).unwrap_or(true))
}

fn role_from_object(item: &Value) -> RoleInfo {
    let mut info = role_from_spec(item.get("spec").unwrap_or(&Value::Null));
    info.object_name = Some(kube::name_of(item).to_string());
    info.source = "DatabaseRole".into();
    info.applied = item.pointer("/status/applied").and_then(Value::as_bool);
    info.message = item
        .pointer("/status/message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    info.state = crate::state::of_object(item);
    info
}

fn managed_roles(cluster: &Value) -> Vec<RoleInfo> {
    let by_status = cluster.pointer("/status/managedRolesStatus/byStatus");
    let state_of = |name: &str| -> Option<String> {
        by_status?.as_object()?.iter().find_map(|(state, names)| {
            names
                .as_array()?
                .iter()
                .any(|n| n.as_str() == Some(name))
                .then(|| state.clone())
        })
    };
    cluster
        .pointer("/spec/managed/roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .map(|spec| {
                    let mut info = role_from_spec(spec);
                    info.source = "Cluster.spec.managed.roles".into();
                    let state = state_of(&info.role_name);
                    info.applied = state.as_deref().map(|s| s == "reconciled");
                    let refusal = cluster
                        .pointer("/status/managedRolesStatus/cannotReconcile")
                        .and_then(|c| c.get(&info.role_name))
                        .and_then(Value::as_array)
                        .map(|m| m.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "));
                    info.state = crate::state::of_managed_role(state.as_deref(), refusal.as_deref());
                    info.message = refusal.or(state);
                    info
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RoleList {
    pub cluster: String,
    pub namespace: String,
    pub roles: Vec<RoleInfo>,
}

fn render_role(r: &RoleInfo) -> String {
    let mut attrs = Vec::new();
    for (on, name) in [
        (r.login, "LOGIN"),
        (r.superuser, "SUPERUSER"),
        (r.createdb, "CREATEDB"),
        (r.createrole, "CREATEROLE"),
        (r.replication, "REPLICATION"),
        (r.bypassrls, "BYPASSRLS"),
    ] {
        if on {
            attrs.push(name);
        }
    }
    if !r.login {
        attrs.push("NOLOGIN");
    }
    if !r.inherit {
        attrs.push("NOINHERIT");
    }
    if r.client_certificate {
        attrs.push("(client certificate)");
    }
    format!(
        "`{}`: {}. {} ({}{}).",
        r.role_name,
        r.state,
        attrs.join(" "),
        r.source,
        r.object_name.as_deref().map(|o| format!(" {o}")).unwrap_or_default()
    )
}

/// The cluster, or a not-found failure naming it.
fn cluster_or_fail(ns: &str, cluster: &str) -> Result<Value, ToolOutput> {
    Ok(kube::get(&object(cnpg("clusters"), ns, cluster))?)
}

pub fn list_roles(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListRoles, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = cluster_or_fail(&ns, &a.cluster_name)?;
        let mut roles: Vec<RoleInfo> = kube::list(&collection(cnpg("databaseroles"), Some(&ns)), None)?
            .iter()
            .filter(|item| cluster_of(item) == Some(a.cluster_name.as_str()))
            .map(role_from_object)
            .collect();
        roles.extend(managed_roles(&cluster));
        roles.sort_by(|x, y| x.role_name.cmp(&y.role_name));
        let mut text = format!("{} role(s) in cluster {ns}/{}", roles.len(), a.cluster_name);
        for r in &roles {
            text.push_str("\n- ");
            text.push_str(&render_role(r));
        }
        let list = RoleList {
            cluster: a.cluster_name.clone(),
            namespace: ns,
            roles,
        };
        Ok(success(&list, text, a.format))
    })
}

pub fn get_role(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetRole, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let info = match find_role(&ns, &a.cluster_name, &a.role_name)? {
            Some(item) => role_from_object(&item),
            None => {
                let cluster = cluster_or_fail(&ns, &a.cluster_name)?;
                managed_roles(&cluster)
                    .into_iter()
                    .find(|r| r.role_name == a.role_name)
                    .ok_or_else(|| not_found_role(&ns, &a.cluster_name, &a.role_name))?
            }
        };
        let mut text = render_role(&info);
        if let Some(secret) = &info.password_secret {
            text.push_str(&format!(
                "\nPassword: Secret {ns}/{secret}, keys `username` and `password`."
            ));
        }
        Ok(success(&info, text, a.format))
    })
}

fn not_found_role(ns: &str, cluster: &str, role: &str) -> ToolOutput {
    failure(
        format!("Cluster {ns}/{cluster} has no role `{role}` (no DatabaseRole and no managed role of that name)."),
        format!("list_postgres_roles(cluster_name=\"{cluster}\") shows the roles."),
    )
}

pub fn role_manifest(a: &args::CreateRole, ns: &str, object_name: &str, secret: Option<&str>) -> Value {
    let mut spec = Map::new();
    spec.insert("cluster".into(), json!({"name": a.cluster_name}));
    spec.insert("name".into(), json!(a.role_name));
    spec.insert("login".into(), json!(a.login));
    spec.insert("superuser".into(), json!(a.superuser));
    spec.insert("inherit".into(), json!(a.inherit));
    spec.insert("createdb".into(), json!(a.createdb));
    spec.insert("createrole".into(), json!(a.createrole));
    spec.insert("replication".into(), json!(a.replication));
    spec.insert("bypassrls".into(), json!(a.bypassrls));
    if let Some(in_roles) = a.in_roles.as_ref().filter(|r| !r.is_empty()) {
        spec.insert("inRoles".into(), json!(in_roles));
    }
    if let Some(limit) = a.connection_limit {
        spec.insert("connectionLimit".into(), json!(limit));
    }
    if let Some(until) = &a.valid_until {
        spec.insert("validUntil".into(), json!(until));
    }
    if let Some(comment) = &a.comment {
        spec.insert("comment".into(), json!(comment));
    }
    if a.disable_password {
        spec.insert("disablePassword".into(), json!(true));
    }
    if let Some(secret) = secret {
        spec.insert("passwordSecret".into(), json!({"name": secret}));
    }
    if a.client_certificate {
        spec.insert("clientCertificate".into(), json!({"enabled": true}));
    }
    spec.insert("databaseRoleReclaimPolicy".into(), json!(a.reclaim_policy.as_str()));
    json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "DatabaseRole",
        "metadata": {"name": object_name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
        "spec": spec,
    })
}

/// The Secret as shown in answers: the password replaced by `shown`.
fn shown_secret(ns: &str, name: &str, role: &str, shown: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": name, "namespace": ns},
        "stringData": {"username": role, "password": shown},
    })
}

fn secret_manifest(ns: &str, name: &str, cluster: &str, role: &str, password: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {
            "name": name,
            "namespace": ns,
            // cnpg.io/reload: the operator re-reads the Secret when it changes.
            "labels": {MANAGED_BY.0: MANAGED_BY.1, "cnpg.io/reload": "true"},
            "annotations": {OWNER_ANNOTATION: format!("{cluster}/{role}")},
        },
        "stringData": {"username": role, "password": password},
    })
}

/// Object name for a new child object: the usual name, or a disambiguated
/// one when another PostgreSQL name holds it.
pub fn free_object_name(resource: &str, ns: &str, cluster: &str, pg_name: &str) -> Result<String, Failure> {
    let usual = child_object_name(cluster, pg_name);
    match kube::get_optional(&object(cnpg(resource), ns, &usual))? {
        None => Ok(usual),
        Some(_) => Ok(disambiguated_object_name(cluster, pg_name)),
    }
}

pub fn create_role(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateRole, _| -> Outcome {
        if let Some(why) = reserved_role(&a.role_name) {
            return Err(failure(
                format!("Cannot create role `{}`: {why}.", a.role_name),
                "Choose another name.",
            ));
        }
        let ns = namespace_or_default(&a.namespace);
        cluster_or_fail(&ns, &a.cluster_name)?;
        if let Some(existing) = find_role(&ns, &a.cluster_name, &a.role_name)? {
            return Err(failure(
                format!(
                    "Role `{}` already exists in cluster {ns}/{} (DatabaseRole {}).",
                    a.role_name,
                    a.cluster_name,
                    kube::name_of(&existing)
                ),
                "Use update_postgres_role to change it.",
            ));
        }
        let object_name = free_object_name("databaseroles", &ns, &a.cluster_name, &a.role_name)?;
        let secret = (!a.disable_password).then(|| secret_name(&a.cluster_name, &object_name));
        if let Some(secret) = &secret
            && kube::get_optional(&object(core("secrets"), &ns, secret))?.is_some()
        {
            return Err(failure(
                format!("Secret {ns}/{secret} exists already; it is never overwritten."),
                "Delete that Secret if it is stale, or create the role with `disable_password: true` and manage \
                 its password yourself.",
            ));
        }
        let manifest = role_manifest(&a, &ns, &object_name, secret.as_deref());
        let mut notes = Vec::new();
        let mut created_secret_uid = None;
        if let Some(secret) = &secret {
            let password = generate_password()?;
            let created = kube::create(
                &collection(core("secrets"), Some(&ns)),
                &secret_manifest(&ns, secret, &a.cluster_name, &a.role_name, &password),
                a.dry_run,
            )?;
            created_secret_uid = kube::meta(&created, "uid").map(str::to_string);
            notes.push(format!(
                "Password generated and {} in Secret {ns}/{secret} (keys `username`, `password`); it is not shown here.",
                if a.dry_run { "would be stored" } else { "stored" }
            ));
        }
        let outcome = kube::create(&collection(cnpg("databaseroles"), Some(&ns)), &manifest, a.dry_run);
        if let Err(f) = outcome {
            // Roll back the Secret created for this role.
            let mut output: ToolOutput = f.clone().into();
            if let (Some(secret), false) = (&secret, a.dry_run) {
                let rollback = kube::delete(
                    &object(core("secrets"), &ns, secret),
                    false,
                    created_secret_uid.as_deref(),
                );
                let what = match rollback {
                    Ok(_) => format!("The Secret {secret} created for it was removed again; nothing is left behind."),
                    Err(r) => format!(
                        "Removing the Secret {secret} created for it failed too: {}",
                        r.message()
                    ),
                };
                output = failure(format!("{}\n{what}", f.message()), f.suggestion());
            }
            return Err(output);
        }
        notes.push(
            "The operator creates the role in PostgreSQL; get_postgres_role_status shows when it is applied.".into(),
        );
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: json!({"databaseRole": manifest, "secret": secret.as_ref().map(|s| shown_secret(&ns, s, &a.role_name, "<generated>"))}),
            result: Some(json!({"object_name": object_name, "password_secret": secret})),
            notes,
        };
        Ok(mutation.output(format!(
            "{} role `{}` in cluster {ns}/{} (DatabaseRole {object_name}).",
            if a.dry_run { "would create" } else { "Created" },
            a.role_name,
            a.cluster_name
        )))
    })
}

/// What an update does to the role's password Secret.
enum SecretChange {
    /// Nothing.
    Keep,
    /// A new password in the Secret this server created for the role.
    Rewrite {
        name: String,
        password: String,
        shown: &'static str,
    },
    /// A new Secret for a role that has none (then referenced by the role).
    Create { name: String, password: String },
    /// `disable_password`: the role no longer references its Secret;
    /// deleted when this server created it.
    Detach { name: String, ours: Option<Value> },
}

pub fn update_role(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::UpdateRole, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let Some(role) = find_role(&ns, &a.cluster_name, &a.role_name)? else {
            let cluster = cluster_or_fail(&ns, &a.cluster_name)?;
            if managed_roles(&cluster).iter().any(|r| r.role_name == a.role_name) {
                return Err(failure(
                    format!(
                        "Role `{}` is managed in the Cluster's spec.managed.roles, not by a DatabaseRole.",
                        a.role_name
                    ),
                    "Edit the Cluster's spec.managed.roles, or move the role to a DatabaseRole.",
                ));
            }
            return Err(not_found_role(&ns, &a.cluster_name, &a.role_name));
        };
        if a.password.is_some() && (a.reset_password || a.disable_password == Some(true))
            || a.reset_password && a.disable_password == Some(true)
        {
            return Err(failure(
                "`password`, `reset_password` and `disable_password: true` exclude each other.",
                "Pass one of them.",
            ));
        }
        let spec = role.get("spec").cloned().unwrap_or(Value::Null);
        let mut patch = Map::new();
        let mut set = |key: &str, value: Value, default: Value| {
            let current = spec.get(key).cloned().unwrap_or(default);
            if current != value {
                patch.insert(key.to_string(), value);
            }
        };
        for (key, value, default) in [
            ("login", a.login, false),
            ("superuser", a.superuser, false),
            ("inherit", a.inherit, true),
            ("createdb", a.createdb, false),
            ("createrole", a.createrole, false),
            ("replication", a.replication, false),
            ("bypassrls", a.bypassrls, false),
        ] {
            if let Some(value) = value {
                set(key, json!(value), json!(default));
            }
        }
        if let Some(v) = &a.in_roles {
            set("inRoles", json!(v), json!([]));
        }
        if let Some(v) = a.connection_limit {
            set("connectionLimit", json!(v), json!(-1));
        }
        if let Some(v) = &a.valid_until {
            set("validUntil", json!(v), Value::Null);
        }
        if let Some(v) = &a.comment {
            set("comment", json!(v), Value::Null);
        }
        if let Some(v) = a.reclaim_policy {
            set("databaseRoleReclaimPolicy", json!(v.as_str()), json!("retain"));
        }
        if let Some(v) = a.client_certificate
            && v != client_certificate_enabled(&spec)
        {
            patch.insert("clientCertificate".into(), json!({"enabled": v}));
        }
        let object_name = kube::name_of(&role).to_string();
        let target = object(cnpg("databaseroles"), &ns, &object_name);
        let current_secret = spec
            .pointer("/passwordSecret/name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let password_disabled = flag(&spec, "disablePassword", false);
        // Every check before the first write: a refused password change
        // must not leave half an update.
        // Only Secrets named like ours are read: the grant allows no others.
        let ours_by_name = |name: &str| name.starts_with(&format!("cnpg-{}-user-", a.cluster_name));
        let our_secret = |name: &str| -> Result<Value, ToolOutput> {
            let current = if ours_by_name(name) {
                Some(kube::get(&object(core("secrets"), &ns, name))?)
            } else {
                None
            };
            let Some(current) = current.filter(|c| is_our_secret(c, &a.cluster_name, &a.role_name)) else {
                return Err(failure(
                    format!("Secret {ns}/{name} was not created by this server; it is not changed."),
                    "Change that password where the Secret is managed.",
                ));
            };
            Ok(current)
        };
        let secret_change = if a.disable_password == Some(true) {
            if !password_disabled {
                patch.insert("disablePassword".into(), json!(true));
            }
            match current_secret {
                // The CRD refuses `passwordSecret` together with
                // `disablePassword` (CEL rule in the operator's
                // api/v1/databaserole_types.go).
                Some(name) => {
                    patch.insert("passwordSecret".into(), Value::Null);
                    let existing = if ours_by_name(&name) {
                        kube::get_optional(&object(core("secrets"), &ns, &name))?
                    } else {
                        None
                    };
                    let ours = existing.filter(|s| is_our_secret(s, &a.cluster_name, &a.role_name));
                    SecretChange::Detach { name, ours }
                }
                None => SecretChange::Keep,
            }
        } else if a.reset_password || a.password.is_some() {
            let (password, shown) = match &a.password {
                Some(p) => (p.clone(), "<given>"),
                None => (generate_password()?, "<generated>"),
            };
            match current_secret {
                Some(name) => {
                    our_secret(&name)?;
                    SecretChange::Rewrite { name, password, shown }
                }
                None if a.reset_password => {
                    return Err(failure(
                        format!(
                            "Role `{}` has no password Secret (disablePassword or no password set).",
                            a.role_name
                        ),
                        "Pass `password` to give it one, or use its other credentials (e.g. a client certificate).",
                    ));
                }
                None => {
                    let name = secret_name(&a.cluster_name, &object_name);
                    if kube::get_optional(&object(core("secrets"), &ns, &name))?.is_some() {
                        return Err(failure(
                            format!("Secret {ns}/{name} exists already; it is never overwritten."),
                            "Delete that Secret if it is stale, or reference your own Secret in the DatabaseRole.",
                        ));
                    }
                    // A password counts again: `disablePassword` goes.
                    if password_disabled {
                        patch.insert("disablePassword".into(), json!(false));
                    }
                    patch.insert("passwordSecret".into(), json!({"name": name}));
                    SecretChange::Create { name, password }
                }
            }
        } else {
            if a.disable_password == Some(false) && password_disabled {
                patch.insert("disablePassword".into(), json!(false));
            }
            SecretChange::Keep
        };
        let mut notes = Vec::new();
        let mut request = Map::new();
        // A new Secret exists before the role points at it; removed again
        // when the role refuses the change.
        let mut created_uid = None;
        if let SecretChange::Create { name, password } = &secret_change {
            let created = kube::create(
                &collection(core("secrets"), Some(&ns)),
                &secret_manifest(&ns, name, &a.cluster_name, &a.role_name, password),
                a.dry_run,
            )?;
            created_uid = kube::meta(&created, "uid").map(str::to_string);
            request.insert("secret".into(), shown_secret(&ns, name, &a.role_name, "<given>"));
        }
        if !patch.is_empty() {
            let body = json!({"spec": Value::Object(patch.clone())});
            if let Err(f) = kube::merge_patch(&target, &body, a.dry_run) {
                if let (SecretChange::Create { name, .. }, false) = (&secret_change, a.dry_run) {
                    let rollback = kube::delete(&object(core("secrets"), &ns, name), false, created_uid.as_deref());
                    let what = match rollback {
                        Ok(_) => format!("The Secret {name} created for it was removed again."),
                        Err(r) => format!("Removing the Secret {name} created for it failed too: {}", r.message()),
                    };
                    return Err(failure(format!("{}\n{what}", f.message()), f.suggestion()));
                }
                return Err(f.into());
            }
            request.insert("databaseRole".into(), body);
        }
        match &secret_change {
            SecretChange::Keep => {}
            SecretChange::Rewrite { name, password, shown } => {
                kube::merge_patch(
                    &object(core("secrets"), &ns, name),
                    &json!({"stringData": {"password": password}}),
                    a.dry_run,
                )?;
                request.insert(
                    "secret".into(),
                    json!({"name": name, "stringData": {"password": shown}}),
                );
                notes.push(format!(
                    "New password {} in Secret {ns}/{name} (key `password`); it is not shown here.",
                    if a.dry_run { "would be stored" } else { "stored" }
                ));
            }
            SecretChange::Create { name, .. } => notes.push(format!(
                "Password {} in the new Secret {ns}/{name} (keys `username`, `password`); it is not shown here.",
                if a.dry_run { "would be stored" } else { "stored" }
            )),
            SecretChange::Detach {
                name,
                ours: Some(secret),
            } => {
                kube::delete(
                    &object(core("secrets"), &ns, name),
                    a.dry_run,
                    kube::meta(secret, "uid"),
                )?;
                request.insert("deleteSecret".into(), json!(name));
                notes.push(format!(
                    "{} Secret {name} (created by this server): the role has no password now",
                    if a.dry_run { "would delete" } else { "deleted" }
                ));
            }
            SecretChange::Detach { name, ours: None } => notes.push(format!(
                "the role no longer uses Secret {name}; left in place: this server did not create it"
            )),
        }
        if request.is_empty() {
            notes.push("Nothing to change: the role already has these values.".into());
        } else {
            notes.push(
                "The operator applies the change in PostgreSQL; get_postgres_role_status shows when it is applied."
                    .into(),
            );
        }
        let what = if request.is_empty() {
            "nothing changed".to_string()
        } else {
            let mut changed: Vec<String> = patch.keys().cloned().collect();
            if matches!(
                secret_change,
                SecretChange::Rewrite { .. } | SecretChange::Create { .. }
            ) {
                changed.push("password".into());
            }
            format!("changed {}", changed.join(", "))
        };
        let mutation = Mutation {
            action: "merge-patch".into(),
            dry_run: a.dry_run,
            request: Value::Object(request),
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} role `{}` in cluster {ns}/{}: {what}.",
            if a.dry_run { "would update" } else { "Updated" },
            a.role_name,
            a.cluster_name
        )))
    })
}

pub fn delete_role(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeleteRole, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let Some(role) = find_role(&ns, &a.cluster_name, &a.role_name)? else {
            return Err(not_found_role(&ns, &a.cluster_name, &a.role_name));
        };
        if !a.confirm_deletion && !a.dry_run {
            return Err(unconfirmed(
                "delete_postgres_role",
                &raw,
                "confirm_deletion",
                &format!("deleting role `{}` of cluster {ns}/{}", a.role_name, a.cluster_name),
            ));
        }
        if !a.dry_run {
            ask_user(&format!(
                "Delete role `{}` of cluster {ns}/{}{}?",
                a.role_name,
                a.cluster_name,
                if a.drop_role { " and drop it in PostgreSQL" } else { "" }
            ))?;
        }
        let object_name = kube::name_of(&role).to_string();
        let target = object(cnpg("databaseroles"), &ns, &object_name);
        let mut notes = Vec::new();
        let policy = role
            .pointer("/spec/databaseRoleReclaimPolicy")
            .and_then(Value::as_str)
            .unwrap_or("retain");
        if a.drop_role && policy != "delete" {
            kube::merge_patch(
                &target,
                &json!({"spec": {"databaseRoleReclaimPolicy": "delete"}}),
                a.dry_run,
            )?;
            notes.push("reclaim policy set to `delete`: the operator drops the role in PostgreSQL".into());
        } else if !a.drop_role && policy == "delete" {
            notes.push("its reclaim policy is `delete`: the operator drops the role in PostgreSQL".into());
        } else if !a.drop_role {
            notes.push("the PostgreSQL role stays (reclaim policy `retain`); pass drop_role: true to drop it".into());
        }
        kube::delete(&target, a.dry_run, kube::meta(&role, "uid"))?;
        notes.push(format!("deleted DatabaseRole {object_name}"));
        if let Some(secret) = role.pointer("/spec/passwordSecret/name").and_then(Value::as_str) {
            match kube::get_optional(&object(core("secrets"), &ns, secret))? {
                Some(current) if is_our_secret(&current, &a.cluster_name, &a.role_name) => {
                    kube::delete(
                        &object(core("secrets"), &ns, secret),
                        a.dry_run,
                        kube::meta(&current, "uid"),
                    )?;
                    notes.push(format!("deleted Secret {secret} (created by this server)"));
                }
                Some(_) => notes.push(format!("left Secret {secret} in place: this server did not create it")),
                None => {}
            }
        }
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"databaseRole": object_name, "drop_role": a.drop_role}),
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} role `{}` of cluster {ns}/{}.",
            if a.dry_run { "would delete" } else { "Deleted" },
            a.role_name,
            a.cluster_name
        )))
    })
}
