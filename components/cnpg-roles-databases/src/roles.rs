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

/// `cnpg-<cluster>-user-<role>` with the role as an object-name part.
pub fn secret_name(cluster: &str, role: &str) -> String {
    let object = child_object_name(cluster, role);
    format!("cnpg-{cluster}-user-{}", &object[cluster.len() + 1..])
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
    pub reclaim_policy: Option<String>,
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
        reclaim_policy: spec
            .get("databaseRoleReclaimPolicy")
            .and_then(Value::as_str)
            .map(str::to_string),
        applied: None,
        message: None,
    }
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
                    info.message = cluster
                        .pointer("/status/managedRolesStatus/cannotReconcile")
                        .and_then(|c| c.get(&info.role_name))
                        .and_then(Value::as_array)
                        .map(|m| m.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
                        .or(state);
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
    if !r.inherit {
        attrs.push("NOINHERIT");
    }
    format!(
        "{} [{}] ({}{}){}{}",
        r.role_name,
        attrs.join(" "),
        r.source,
        r.object_name.as_deref().map(|o| format!(" {o}")).unwrap_or_default(),
        match r.applied {
            Some(true) => " applied".to_string(),
            Some(false) => " NOT applied".to_string(),
            None => " not reconciled yet".to_string(),
        },
        r.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
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
        let secret = (!a.disable_password).then(|| secret_name(&a.cluster_name, &a.role_name));
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
                "Password generated and stored in Secret {ns}/{secret} (keys `username`, `password`); it is not shown here."
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
            request: json!({"databaseRole": manifest, "secret": secret.as_ref().map(|s| json!({
                "name": s, "type": "kubernetes.io/basic-auth", "stringData": {"username": a.role_name, "password": "<generated>"}}))}),
            result: Some(json!({"object_name": object_name, "password_secret": secret})),
            notes,
        };
        Ok(mutation.output(format!(
            "role `{}` in cluster {ns}/{} {} (DatabaseRole {object_name}).",
            a.role_name,
            a.cluster_name,
            if a.dry_run { "would be created" } else { "created" }
        )))
    })
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
        let object_name = kube::name_of(&role).to_string();
        let target = object(cnpg("databaseroles"), &ns, &object_name);
        let mut notes = Vec::new();
        let mut request = Map::new();
        // The password first: a refused reset must not leave half an update.
        let secret_target = if a.reset_password {
            let Some(secret) = spec.pointer("/passwordSecret/name").and_then(Value::as_str) else {
                return Err(failure(
                    format!(
                        "Role `{}` has no password Secret (disablePassword or no password set).",
                        a.role_name
                    ),
                    "Roles without a Secret get their credentials elsewhere (e.g. client certificates).",
                ));
            };
            let secret_ref = object(core("secrets"), &ns, secret);
            let current = kube::get(&secret_ref)?;
            if !is_our_secret(&current, &a.cluster_name, &a.role_name) {
                return Err(failure(
                    format!("Secret {ns}/{secret} was not created by this server; it is not changed."),
                    "Rotate that password where the Secret is managed.",
                ));
            }
            Some((secret.to_string(), secret_ref))
        } else {
            None
        };
        if !patch.is_empty() {
            let body = json!({"spec": Value::Object(patch.clone())});
            kube::merge_patch(&target, &body, a.dry_run)?;
            request.insert("databaseRole".into(), body);
            notes.push(format!(
                "changed: {}",
                patch.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if let Some((secret, secret_ref)) = secret_target {
            let password = generate_password()?;
            kube::merge_patch(&secret_ref, &json!({"stringData": {"password": password}}), a.dry_run)?;
            request.insert(
                "secret".into(),
                json!({"name": secret, "stringData": {"password": "<generated>"}}),
            );
            notes.push(format!(
                "New password stored in Secret {ns}/{secret} (key `password`); it is not shown here."
            ));
        }
        if request.is_empty() {
            notes.push("Nothing to change: the role already has these values.".into());
        }
        let mutation = Mutation {
            action: "merge-patch".into(),
            dry_run: a.dry_run,
            request: Value::Object(request),
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "role `{}` in cluster {ns}/{} updated.",
            a.role_name, a.cluster_name
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
            "role `{}` of cluster {ns}/{} {}.",
            a.role_name,
            a.cluster_name,
            if a.dry_run { "would be deleted" } else { "deleted" }
        )))
    })
}
