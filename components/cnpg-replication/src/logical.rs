//! Publication and Subscription objects (`api/v1/publication_types.go`,
//! `api/v1/subscription_types.go`, operator v1.30.0). The instance manager
//! of the cluster's primary runs the SQL; these tools only manage objects.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::{ask_user, unconfirmed};
use cnpg_mcp_sdk::kube::{self, Failure, cnpg, collection, object};
use cnpg_mcp_sdk::names::pg_to_object;
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args;
use crate::external::external_clusters;

pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cnpg-mcp");

/// `publications` or `subscriptions`, with the words used in answers.
#[derive(Clone, Copy)]
pub struct Kind {
    pub resource: &'static str,
    pub kind: &'static str,
    pub word: &'static str,
    pub policy_field: &'static str,
}

pub const PUBLICATIONS: Kind = Kind {
    resource: "publications",
    kind: "Publication",
    word: "publication",
    policy_field: "publicationReclaimPolicy",
};
pub const SUBSCRIPTIONS: Kind = Kind {
    resource: "subscriptions",
    kind: "Subscription",
    word: "subscription",
    policy_field: "subscriptionReclaimPolicy",
};

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LogicalInfo {
    /// Kubernetes object name.
    pub object_name: String,
    /// Name in PostgreSQL.
    pub name: String,
    pub cluster: String,
    pub dbname: String,
    /// `retain` or `delete`.
    pub reclaim_policy: String,
    /// The operator's state in words.
    pub state: String,
    pub applied: Option<bool>,
    pub message: Option<String>,
    /// Publications: `all tables`, or the tables and schemas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Value>,
    /// Subscriptions: the publication, its database and the external cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publication: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publication_dbname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_cluster: Option<String>,
    pub parameters: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogicalList {
    pub namespace: String,
    pub cluster: Option<String>,
    pub items: Vec<LogicalInfo>,
}

fn state(item: &Value) -> String {
    let generation = item.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = item.pointer("/status/observedGeneration").and_then(Value::as_i64);
    match item.pointer("/status/applied").and_then(Value::as_bool) {
        Some(true) if generation.is_some() && observed < generation => {
            "applied, but the latest change is still waiting for the operator".into()
        }
        Some(true) => "applied in PostgreSQL".into(),
        Some(false) => format!(
            "NOT applied, the operator reports: {}",
            text(item, "/status/message").unwrap_or_else(|| "no message".into())
        ),
        None => match text(item, "/status/message") {
            Some(message) => format!("waiting: {message}"),
            None => "waiting for the primary's instance manager".into(),
        },
    }
}

pub fn info(kind: Kind, item: &Value) -> LogicalInfo {
    let subscription = kind.resource == "subscriptions";
    LogicalInfo {
        object_name: kube::name_of(item).to_string(),
        name: text(item, "/spec/name").unwrap_or_default(),
        cluster: text(item, "/spec/cluster/name").unwrap_or_default(),
        dbname: text(item, "/spec/dbname").unwrap_or_default(),
        reclaim_policy: text(item, &format!("/spec/{}", kind.policy_field)).unwrap_or_else(|| "retain".into()),
        state: state(item),
        applied: item.pointer("/status/applied").and_then(Value::as_bool),
        message: text(item, "/status/message"),
        target: (!subscription).then(|| item.pointer("/spec/target").cloned().unwrap_or(Value::Null)),
        publication: subscription.then(|| text(item, "/spec/publicationName")).flatten(),
        publication_dbname: subscription.then(|| text(item, "/spec/publicationDBName")).flatten(),
        external_cluster: subscription.then(|| text(item, "/spec/externalClusterName")).flatten(),
        parameters: item.pointer("/spec/parameters").cloned().unwrap_or(Value::Null),
    }
}

/// The object of `kind` for PostgreSQL name `name` on `cluster`.
fn find(kind: Kind, ns: &str, cluster: &str, name: &str) -> Result<Option<Value>, Failure> {
    Ok(kube::list(&collection(cnpg(kind.resource), Some(ns)), None)?
        .into_iter()
        .find(|item| {
            item.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster)
                && item.pointer("/spec/name").and_then(Value::as_str) == Some(name)
        }))
}

fn list(kind: Kind, arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListObjects, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let mut items = kube::list(&collection(cnpg(kind.resource), Some(&ns)), None)?;
        if let Some(cluster) = &a.cluster_name {
            items.retain(|p| p.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster.as_str()));
        }
        let infos: Vec<LogicalInfo> = items.iter().map(|i| info(kind, i)).collect();
        let scope = match &a.cluster_name {
            Some(cluster) => format!("cluster {ns}/{cluster}"),
            None => format!("namespace {ns}"),
        };
        let mut out = if infos.is_empty() {
            format!("No {}s in {scope}.", kind.word)
        } else {
            format!("{} {}(s) in {scope}:", infos.len(), kind.word)
        };
        for i in &infos {
            out.push_str(&format!(
                "\n- `{}` in database {} of cluster {} ({}): {}, reclaim policy {}",
                i.name, i.dbname, i.cluster, i.object_name, i.state, i.reclaim_policy
            ));
            if let (Some(publication), Some(external)) = (&i.publication, &i.external_cluster) {
                out.push_str(&format!(
                    ", from publication `{publication}` of external cluster {external}"
                ));
            }
        }
        let list = LogicalList {
            namespace: ns,
            cluster: a.cluster_name,
            items: infos,
        };
        Ok(success(&list, out, a.format))
    })
}

pub fn list_publications(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    list(PUBLICATIONS, arguments, ctx)
}

pub fn list_subscriptions(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    list(SUBSCRIPTIONS, arguments, ctx)
}

/// The manifest's object name: `<cluster>-<name>` with `_` as `-`.
fn object_name(cluster: &str, name: &str) -> String {
    format!("{cluster}-{}", pg_to_object(name))
}

fn refuse_existing(kind: Kind, ns: &str, cluster: &str, name: &str) -> Result<(), ToolOutput> {
    if let Some(existing) = find(kind, ns, cluster, name)? {
        return Err(failure(
            format!(
                "Cluster {ns}/{cluster} already has {} `{name}` ({} {}). Nothing was created.",
                kind.word,
                kind.kind,
                kube::name_of(&existing)
            ),
            format!("list_{}s shows it.", kind.word),
        ));
    }
    Ok(())
}

pub fn create_publication(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreatePublication, _| -> Outcome {
        let tables = a.tables.as_deref().unwrap_or_default();
        let schemas = a.schemas.as_deref().unwrap_or_default();
        // The CRD's CEL rules, said before writing.
        if a.all_tables == (!tables.is_empty() || !schemas.is_empty()) {
            return Err(failure(
                "Give either `all_tables: true` or `tables`/`schemas` (the operator's CRD: \"allTables and objects \
                 are mutually exclusive\"). Nothing was created.",
                "`all_tables: true` publishes every table of the database.",
            ));
        }
        if !schemas.is_empty() && tables.iter().any(|t| t.columns.as_ref().is_some_and(|c| !c.is_empty())) {
            return Err(failure(
                "Column lists cannot be combined with `schemas` (PostgreSQL and the CRD refuse it). Nothing was \
                 created.",
                "Publish those tables in a separate publication.",
            ));
        }
        let ns = namespace_or_default(&a.namespace);
        kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        refuse_existing(PUBLICATIONS, &ns, &a.cluster_name, &a.publication_name)?;
        let target = if a.all_tables {
            json!({"allTables": true})
        } else {
            let mut objects: Vec<Value> = schemas.iter().map(|s| json!({"tablesInSchema": s})).collect();
            objects.extend(tables.iter().map(|t| {
                let mut table = json!({"name": t.name});
                if let Some(schema) = &t.schema {
                    table["schema"] = json!(schema);
                }
                if t.only {
                    table["only"] = json!(true);
                }
                if let Some(columns) = t.columns.as_ref().filter(|c| !c.is_empty()) {
                    table["columns"] = json!(columns);
                }
                json!({"table": table})
            }));
            json!({"objects": objects})
        };
        let mut spec = json!({
            "cluster": {"name": a.cluster_name},
            "name": a.publication_name,
            "dbname": a.dbname,
            "target": target,
            "publicationReclaimPolicy": a.reclaim_policy.as_str(),
        });
        if let Some(parameters) = a.parameters.as_ref().filter(|p| !p.is_empty()) {
            spec["parameters"] = json!(parameters);
        }
        let name = object_name(&a.cluster_name, &a.publication_name);
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Publication",
            "metadata": {"name": name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
            "spec": spec,
        });
        kube::create(&collection(cnpg("publications"), Some(&ns)), &manifest, a.dry_run)?;
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"object_name": name})),
            notes: vec![
                "The primary's instance manager runs CREATE PUBLICATION; list_publications shows when it is applied."
                    .into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} publication `{}` in database {} of cluster {ns}/{} (Publication {name}).",
            if a.dry_run { "would create" } else { "Created" },
            a.publication_name,
            a.dbname,
            a.cluster_name
        )))
    })
}

pub fn create_subscription(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateSubscription, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let externals = external_clusters(&cluster);
        let Some(external) = externals
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(a.external_cluster.as_str()))
        else {
            return Err(failure(
                format!(
                    "External cluster `{}` is not declared in cluster {ns}/{} (the operator would report \
                     \"externalCluster '{}' not declared in cluster {}\"). Nothing was created.",
                    a.external_cluster, a.cluster_name, a.external_cluster, a.cluster_name
                ),
                "Add the publisher with add_external_cluster (host, user, dbname and a password or certificate Secret).",
            ));
        };
        if external
            .get("connectionParameters")
            .is_none_or(|p| p.as_object().is_none_or(|m| m.is_empty()))
        {
            return Err(failure(
                format!(
                    "External cluster `{}` has no connection parameters: a subscription connects to the publisher \
                     over the network. Nothing was created.",
                    a.external_cluster
                ),
                "Give it `connection_parameters` (host, user, dbname) with add_external_cluster(replace=true).",
            ));
        }
        refuse_existing(SUBSCRIPTIONS, &ns, &a.cluster_name, &a.subscription_name)?;
        let mut spec = json!({
            "cluster": {"name": a.cluster_name},
            "name": a.subscription_name,
            "dbname": a.dbname,
            "publicationName": a.publication_name,
            "externalClusterName": a.external_cluster,
            "subscriptionReclaimPolicy": a.reclaim_policy.as_str(),
        });
        if let Some(db) = &a.publication_dbname {
            spec["publicationDBName"] = json!(db);
        }
        if let Some(parameters) = a.parameters.as_ref().filter(|p| !p.is_empty()) {
            spec["parameters"] = json!(parameters);
        }
        let name = object_name(&a.cluster_name, &a.subscription_name);
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Subscription",
            "metadata": {"name": name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
            "spec": spec,
        });
        kube::create(&collection(cnpg("subscriptions"), Some(&ns)), &manifest, a.dry_run)?;
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"object_name": name})),
            notes: vec![
                "The subscriber's primary runs CREATE SUBSCRIPTION; the publisher must accept its connection (a \
                 role with REPLICATION and a pg_hba rule). Sequences are not replicated: `kubectl cnpg subscription \
                 sync-sequences` copies them over SQL, which this server does not run."
                    .into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} subscription `{}` of cluster {ns}/{} to publication `{}` of {} (Subscription {name}).",
            if a.dry_run { "would create" } else { "Created" },
            a.subscription_name,
            a.cluster_name,
            a.publication_name,
            a.external_cluster
        )))
    })
}

fn delete(kind: Kind, tool: &str, arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeleteObject, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let Some(item) = find(kind, &ns, &a.cluster_name, &a.name)? else {
            return Err(failure(
                format!("Cluster {ns}/{} has no {} `{}`.", a.cluster_name, kind.word, a.name),
                format!("list_{}s shows what exists.", kind.word),
            ));
        };
        let i = info(kind, &item);
        let drops = a.drop_in_postgres || i.reclaim_policy == "delete";
        let consequence = if drops {
            format!("the operator drops {} `{}` in PostgreSQL", kind.word, a.name)
        } else {
            format!("{} `{}` stays in PostgreSQL (reclaim policy retain)", kind.word, a.name)
        };
        if !a.confirm_deletion && !a.dry_run {
            return Err(unconfirmed(
                tool,
                &raw,
                "confirm_deletion",
                &format!("deleting {} {} ({consequence})", kind.kind, i.object_name),
            ));
        }
        if !a.dry_run {
            ask_user(&format!("Delete {} {}? {consequence}.", kind.kind, i.object_name))?;
        }
        let target = object(cnpg(kind.resource), &ns, &i.object_name);
        let mut request = Map::new();
        if a.drop_in_postgres && i.reclaim_policy != "delete" {
            let patch = json!({"spec": {kind.policy_field: "delete"}});
            kube::merge_patch(&target, &patch, a.dry_run)?;
            request.insert("patch".into(), patch);
        }
        kube::delete(&target, a.dry_run, kube::meta(&item, "uid"))?;
        request.insert("delete".into(), json!(i.object_name));
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: Value::Object(request),
            result: None,
            notes: vec![consequence],
        };
        Ok(mutation.output(format!(
            "{} {} {} (`{}`) of cluster {ns}/{}.",
            if a.dry_run { "Would delete" } else { "Deleted" },
            kind.kind,
            i.object_name,
            a.name,
            a.cluster_name
        )))
    })
}

pub fn delete_publication(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    delete(PUBLICATIONS, "delete_publication", arguments, ctx)
}

pub fn delete_subscription(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    delete(SUBSCRIPTIONS, "delete_subscription", arguments, ctx)
}
