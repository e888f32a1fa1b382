//! Database tools: Database objects of a cluster.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::{ask_user, unconfirmed};
use cnpg_mcp_sdk::kube::{self, Failure, cnpg, collection, object};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, LocaleProvider};
use crate::roles::{MANAGED_BY, free_object_name};

/// The Database of `cluster` whose PostgreSQL name is `database`.
pub fn find_database(ns: &str, cluster: &str, database: &str) -> Result<Option<Value>, Failure> {
    Ok(kube::list(&collection(cnpg("databases"), Some(ns)), None)?
        .into_iter()
        .find(|item| {
            item.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster)
                && item.pointer("/spec/name").and_then(Value::as_str) == Some(database)
        }))
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ObjectState {
    pub name: String,
    pub applied: Option<bool>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatabaseInfo {
    pub database_name: String,
    pub object_name: String,
    pub owner: Option<String>,
    /// `present` or `absent`.
    pub ensure: String,
    pub reclaim_policy: String,
    /// The operator's reconciliation state, in words.
    pub state: String,
    pub encoding: Option<String>,
    pub locale: Option<String>,
    pub locale_provider: Option<String>,
    pub applied: Option<bool>,
    pub message: Option<String>,
    /// Extensions asked for in the spec, with the operator's report.
    pub extensions: Vec<ObjectState>,
    /// Schemas asked for in the spec, with the operator's report.
    pub schemas: Vec<ObjectState>,
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(str::to_string)
}

fn objects(item: &Value, key: &str) -> Vec<ObjectState> {
    let reported: Vec<Value> = item
        .pointer(&format!("/status/{key}"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    item.pointer(&format!("/spec/{key}"))
        .and_then(Value::as_array)
        .map(|wanted| {
            wanted
                .iter()
                .filter_map(|w| w.get("name").and_then(Value::as_str))
                .map(|name| {
                    let report = reported
                        .iter()
                        .find(|r| r.get("name").and_then(Value::as_str) == Some(name));
                    ObjectState {
                        name: name.to_string(),
                        applied: report.and_then(|r| r.get("applied")).and_then(Value::as_bool),
                        message: report.and_then(|r| text(r, "/message")).filter(|m| !m.is_empty()),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn database_info(item: &Value) -> DatabaseInfo {
    DatabaseInfo {
        database_name: text(item, "/spec/name").unwrap_or_default(),
        object_name: kube::name_of(item).to_string(),
        owner: text(item, "/spec/owner"),
        ensure: text(item, "/spec/ensure").unwrap_or_else(|| "present".into()),
        reclaim_policy: text(item, "/spec/databaseReclaimPolicy").unwrap_or_else(|| "retain".into()),
        state: crate::state::of_object(item),
        encoding: text(item, "/spec/encoding"),
        locale: text(item, "/spec/locale"),
        locale_provider: text(item, "/spec/localeProvider"),
        applied: item.pointer("/status/applied").and_then(Value::as_bool),
        message: text(item, "/status/message").filter(|m| !m.is_empty()),
        extensions: objects(item, "extensions"),
        schemas: objects(item, "schemas"),
    }
}

fn render(d: &DatabaseInfo) -> String {
    let mut line = format!(
        "`{}`: {}. Owner {}, reclaim policy {} (Database {}).",
        d.database_name,
        d.state,
        d.owner.as_deref().unwrap_or("-"),
        d.reclaim_policy,
        d.object_name
    );
    for (kind, list) in [("extension", &d.extensions), ("schema", &d.schemas)] {
        for o in list {
            line.push_str(&format!(
                "\n    {kind} {}: {}{}",
                o.name,
                match o.applied {
                    Some(true) => "applied",
                    Some(false) => "NOT applied",
                    None => "pending",
                },
                o.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default()
            ));
        }
    }
    line
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DatabaseList {
    pub cluster: String,
    pub namespace: String,
    pub databases: Vec<DatabaseInfo>,
}

pub fn list_databases(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListDatabases, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let mut databases: Vec<DatabaseInfo> = kube::list(&collection(cnpg("databases"), Some(&ns)), None)?
            .iter()
            .filter(|item| item.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(a.cluster_name.as_str()))
            .map(database_info)
            .collect();
        databases.sort_by(|x, y| x.database_name.cmp(&y.database_name));
        let mut text = format!(
            "{} database object(s) in cluster {ns}/{}",
            databases.len(),
            a.cluster_name
        );
        for d in &databases {
            text.push_str("\n- ");
            text.push_str(&render(d));
        }
        let list = DatabaseList {
            cluster: a.cluster_name.clone(),
            namespace: ns,
            databases,
        };
        Ok(success(&list, text, a.format))
    })
}

fn not_found(ns: &str, cluster: &str, database: &str) -> ToolOutput {
    failure(
        format!("Cluster {ns}/{cluster} has no Database object for `{database}`."),
        format!(
            "list_postgres_databases(cluster_name=\"{cluster}\") shows them; databases created by other means are not managed here."
        ),
    )
}

pub fn get_database(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetDatabase, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let Some(item) = find_database(&ns, &a.cluster_name, &a.database_name)? else {
            kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
            return Err(not_found(&ns, &a.cluster_name, &a.database_name));
        };
        let info = database_info(&item);
        let text = render(&info);
        Ok(success(&info, text, a.format))
    })
}

/// Refusals the schema also states, checked again here.
fn locale_problem(a: &args::CreateDatabase) -> Option<String> {
    if (a.icu_locale.is_some() || a.icu_rules.is_some()) && a.locale_provider != Some(LocaleProvider::Icu) {
        return Some("`icu_locale` and `icu_rules` need `locale_provider: icu`".into());
    }
    if a.builtin_locale.is_some() && a.locale_provider != Some(LocaleProvider::Builtin) {
        return Some("`builtin_locale` needs `locale_provider: builtin`".into());
    }
    None
}

pub fn database_manifest(a: &args::CreateDatabase, ns: &str, object_name: &str) -> Value {
    let mut spec = Map::new();
    spec.insert("cluster".into(), json!({"name": a.cluster_name}));
    spec.insert("name".into(), json!(a.database_name));
    spec.insert("owner".into(), json!(a.owner));
    spec.insert("databaseReclaimPolicy".into(), json!(a.reclaim_policy.as_str()));
    let provider = a.locale_provider.map(|p| match p {
        LocaleProvider::Libc => "libc",
        LocaleProvider::Icu => "icu",
        LocaleProvider::Builtin => "builtin",
    });
    for (key, value) in [
        ("encoding", a.encoding.as_deref()),
        ("locale", a.locale.as_deref()),
        ("localeProvider", provider),
        ("localeCollate", a.locale_collate.as_deref()),
        ("localeCType", a.locale_ctype.as_deref()),
        ("icuLocale", a.icu_locale.as_deref()),
        ("icuRules", a.icu_rules.as_deref()),
        ("builtinLocale", a.builtin_locale.as_deref()),
        ("collationVersion", a.collation_version.as_deref()),
    ] {
        if let Some(value) = value {
            spec.insert(key.into(), json!(value));
        }
    }
    if let Some(extensions) = a.extensions.as_ref().filter(|e| !e.is_empty()) {
        let list: Vec<Value> = extensions
            .iter()
            .map(|e| {
                let mut item = json!({"name": e.name, "ensure": "present"});
                if let Some(v) = &e.version {
                    item["version"] = json!(v);
                }
                if let Some(s) = &e.schema {
                    item["schema"] = json!(s);
                }
                item
            })
            .collect();
        spec.insert("extensions".into(), Value::Array(list));
    }
    if let Some(schemas) = a.schemas.as_ref().filter(|s| !s.is_empty()) {
        let list: Vec<Value> = schemas
            .iter()
            .map(|s| {
                let mut item = json!({"name": s.name, "ensure": "present"});
                if let Some(o) = &s.owner {
                    item["owner"] = json!(o);
                }
                item
            })
            .collect();
        spec.insert("schemas".into(), Value::Array(list));
    }
    json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Database",
        "metadata": {"name": object_name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
        "spec": spec,
    })
}

pub fn create_database(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateDatabase, _| -> Outcome {
        if let Some(problem) = locale_problem(&a) {
            return Err(failure(
                format!("Invalid locale settings: {problem}."),
                "Set `locale_provider` accordingly.",
            ));
        }
        let ns = namespace_or_default(&a.namespace);
        kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        if let Some(existing) = find_database(&ns, &a.cluster_name, &a.database_name)? {
            return Err(failure(
                format!(
                    "Database `{}` already has a Database object in cluster {ns}/{} ({}).",
                    a.database_name,
                    a.cluster_name,
                    kube::name_of(&existing)
                ),
                "get_postgres_database_status shows it.",
            ));
        }
        let object_name = free_object_name("databases", &ns, &a.cluster_name, &a.database_name)?;
        let manifest = database_manifest(&a, &ns, &object_name);
        kube::create(&collection(cnpg("databases"), Some(&ns)), &manifest, a.dry_run)?;
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"object_name": object_name})),
            notes: vec![
                "The operator creates the database; get_postgres_database_status shows when it is applied.".into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} database `{}` in cluster {ns}/{} (Database {object_name}).",
            if a.dry_run { "would create" } else { "Created" },
            a.database_name,
            a.cluster_name
        )))
    })
}

pub fn delete_database(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeleteDatabase, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let Some(item) = find_database(&ns, &a.cluster_name, &a.database_name)? else {
            return Err(not_found(&ns, &a.cluster_name, &a.database_name));
        };
        let info = database_info(&item);
        if !a.confirm_deletion && !a.dry_run {
            return Err(unconfirmed(
                "delete_postgres_database",
                &raw,
                "confirm_deletion",
                &format!(
                    "deleting database `{}` of cluster {ns}/{}",
                    a.database_name, a.cluster_name
                ),
            ));
        }
        if !a.dry_run {
            ask_user(&format!(
                "Delete database `{}` of cluster {ns}/{}{}?",
                a.database_name,
                a.cluster_name,
                if info.reclaim_policy == "delete" {
                    " (the database and its data are dropped)"
                } else {
                    ""
                }
            ))?;
        }
        kube::delete(
            &object(cnpg("databases"), &ns, &info.object_name),
            a.dry_run,
            kube::meta(&item, "uid"),
        )?;
        let note = if info.reclaim_policy == "delete" {
            "reclaim policy `delete`: the operator drops the database in PostgreSQL"
        } else {
            "reclaim policy `retain`: the database stays in PostgreSQL, only its Database object is removed"
        };
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"database": info.object_name}),
            result: None,
            notes: vec![note.into()],
        };
        Ok(mutation.output(format!(
            "{} Database object {} (`{}`) of cluster {ns}/{}.",
            if a.dry_run { "would delete" } else { "Deleted" },
            info.object_name,
            a.database_name,
            a.cluster_name
        )))
    })
}
