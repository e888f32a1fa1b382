//! `spec.externalClusters` of a cluster (`ExternalCluster`,
//! `api/v1/cluster_types.go`): list, add, remove. Secrets are referenced,
//! never read.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::{ask_user, unconfirmed};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, object};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, SecretKey};

/// The barman-cloud plugin's name.
pub const BARMAN_CLOUD_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

pub fn external_clusters(cluster: &Value) -> Vec<Value> {
    cluster
        .pointer("/spec/externalClusters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExternalInfo {
    pub name: String,
    /// libpq parameters; a `password` key, if someone wrote one, is shown as `<redacted>`.
    pub connection_parameters: Value,
    /// Secret references (`name`/`key`) for password and TLS files.
    pub secrets: Value,
    /// `plugin` (barman-cloud ObjectStore and server name), `barmanObjectStore` (deprecated in-tree), or none.
    pub object_store: Option<Value>,
    /// What uses the entry: replica source, bootstrap source, subscriptions.
    pub used_by: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExternalList {
    pub cluster: String,
    pub namespace: String,
    pub external_clusters: Vec<ExternalInfo>,
}

/// Where a cluster (and the Subscriptions on it) refer to external cluster `name`.
pub fn uses(cluster: &Value, subscriptions: &[Value], name: &str) -> Vec<String> {
    let mut used = Vec::new();
    for (pointer, what) in [
        ("/spec/replica/source", "replica source"),
        ("/spec/replica/primary", "replica topology primary"),
        ("/spec/replica/self", "replica topology self"),
        ("/spec/bootstrap/pg_basebackup/source", "pg_basebackup bootstrap source"),
        ("/spec/bootstrap/recovery/source", "recovery bootstrap source"),
    ] {
        if cluster.pointer(pointer).and_then(Value::as_str) == Some(name) {
            used.push(what.to_string());
        }
    }
    let cluster_name = kube::name_of(cluster);
    for s in subscriptions {
        if s.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster_name)
            && s.pointer("/spec/externalClusterName").and_then(Value::as_str) == Some(name)
        {
            used.push(format!("Subscription {}", kube::name_of(s)));
        }
    }
    used
}

fn external_info(entry: &Value, used_by: Vec<String>) -> ExternalInfo {
    let mut parameters = entry.get("connectionParameters").cloned().unwrap_or(Value::Null);
    if let Some(map) = parameters.as_object_mut()
        && map.contains_key("password")
    {
        map.insert("password".into(), json!("<redacted>"));
    }
    let mut secrets = Map::new();
    for key in ["password", "sslCert", "sslKey", "sslRootCert"] {
        if let Some(reference) = entry.get(key) {
            secrets.insert(key.into(), reference.clone());
        }
    }
    let object_store = entry.get("plugin").map(|p| json!({"plugin": p})).or_else(|| {
        entry
            .get("barmanObjectStore")
            .map(|_| json!({"barmanObjectStore": "configured (deprecated in-tree)"}))
    });
    ExternalInfo {
        name: entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        connection_parameters: parameters,
        secrets: Value::Object(secrets),
        object_store,
        used_by,
    }
}

pub fn list_external(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let subscriptions = kube::list(&collection(cnpg("subscriptions"), Some(&ns)), None).unwrap_or_default();
        let infos: Vec<ExternalInfo> = external_clusters(&cluster)
            .iter()
            .map(|e| {
                let name = e.get("name").and_then(Value::as_str).unwrap_or_default();
                external_info(e, uses(&cluster, &subscriptions, name))
            })
            .collect();
        let mut text = if infos.is_empty() {
            format!("Cluster {ns}/{} has no external clusters.", a.cluster_name)
        } else {
            format!("{} external cluster(s) of {ns}/{}:", infos.len(), a.cluster_name)
        };
        for i in &infos {
            text.push_str(&format!("\n- {}: connection {}", i.name, i.connection_parameters));
            if let Some(store) = &i.object_store {
                text.push_str(&format!(", object store {store}"));
            }
            if !i.used_by.is_empty() {
                text.push_str(&format!(", used by {}", i.used_by.join(", ")));
            }
        }
        let list = ExternalList {
            cluster: a.cluster_name,
            namespace: ns,
            external_clusters: infos,
        };
        Ok(success(&list, text, a.format))
    })
}

fn secret_ref(reference: &SecretKey) -> Value {
    json!({"name": reference.name, "key": reference.key})
}

/// Replaces `spec.externalClusters` whole, locked on the version read.
fn patch_list(cluster: &Value, list: Vec<Value>) -> Value {
    json!({
        "metadata": {"resourceVersion": kube::meta(cluster, "resourceVersion")},
        "spec": {"externalClusters": list},
    })
}

pub fn add_external(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::AddExternalCluster, _| -> Outcome {
        if let Some(parameters) = &a.connection_parameters
            && parameters.keys().any(|k| k == "password" || k == "passfile")
        {
            return Err(failure(
                "Passwords never go into connection parameters (they would be stored in the Cluster spec). Nothing \
                 was changed.",
                "Put the password in a Secret and give `password_secret` {name, key}.",
            ));
        }
        if a.connection_parameters.as_ref().is_none_or(|p| p.is_empty()) && a.object_store.is_none() {
            return Err(failure(
                "An external cluster needs `connection_parameters` or an `object_store` (the operator: \"one of \
                 connectionParameters, plugin and barmanObjectStore is required\"). Nothing was changed.",
                "Give host, user and dbname, or the ObjectStore and server name.",
            ));
        }
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.cluster_name);
        let mut entry = json!({"name": a.name});
        if let Some(parameters) = a.connection_parameters.as_ref().filter(|p| !p.is_empty()) {
            entry["connectionParameters"] = json!(parameters);
        }
        for (key, reference) in [
            ("password", &a.password_secret),
            ("sslCert", &a.ssl_cert_secret),
            ("sslKey", &a.ssl_key_secret),
            ("sslRootCert", &a.ssl_root_cert_secret),
        ] {
            if let Some(reference) = reference {
                entry[key] = secret_ref(reference);
            }
        }
        if let Some(store) = &a.object_store {
            entry["plugin"] = json!({"name": BARMAN_CLOUD_PLUGIN,
                "parameters": {"barmanObjectName": store.object_store, "serverName": store.server_name}});
        }
        let mut existing = None;
        let (_, patch, _) = kube::read_modify_patch(&target, a.dry_run, 5, |cluster| -> Result<Value, ToolOutput> {
            let mut list = external_clusters(cluster);
            existing = list
                .iter()
                .position(|e| e.get("name").and_then(Value::as_str) == Some(a.name.as_str()));
            if existing.is_some() && !a.replace {
                return Err(failure(
                    format!(
                        "Cluster {ns}/{} already has external cluster `{}`. Nothing was changed.",
                        a.cluster_name, a.name
                    ),
                    "Pass `replace: true` to overwrite it, or pick another name.",
                ));
            }
            match existing {
                Some(at) => list[at] = entry.clone(),
                None => list.push(entry.clone()),
            }
            Ok(patch_list(cluster, list))
        })?;
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: Some(json!({"external_cluster": entry})),
            notes: vec![
                "The referenced Secrets must exist in the cluster's namespace; the operator gives the instances \
                 access to them."
                    .into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} external cluster `{}` {} cluster {ns}/{}.",
            if a.dry_run { "Would add" } else { "Added" },
            a.name,
            if existing.is_some() { "(replaced) in" } else { "to" },
            a.cluster_name
        )))
    })
}

pub fn remove_external(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::RemoveExternalCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.cluster_name);
        let cluster = kube::get(&target)?;
        let declared = external_clusters(&cluster)
            .iter()
            .any(|e| e.get("name").and_then(Value::as_str) == Some(a.name.as_str()));
        if !declared {
            return Err(failure(
                format!("Cluster {ns}/{} has no external cluster `{}`.", a.cluster_name, a.name),
                "list_external_clusters shows them.",
            ));
        }
        let subscriptions = kube::list(&collection(cnpg("subscriptions"), Some(&ns)), None)?;
        let used = uses(&cluster, &subscriptions, &a.name);
        if !used.is_empty() {
            return Err(failure(
                format!(
                    "External cluster `{}` is in use ({}): removing it would break them. Nothing was changed.",
                    a.name,
                    used.join(", ")
                ),
                "Remove those uses first.",
            ));
        }
        if !a.confirm_deletion && !a.dry_run {
            return Err(unconfirmed(
                "remove_external_cluster",
                &raw,
                "confirm_deletion",
                &format!(
                    "removing external cluster `{}` from cluster {ns}/{}",
                    a.name, a.cluster_name
                ),
            ));
        }
        if !a.dry_run {
            ask_user(&format!(
                "Remove external cluster `{}` from cluster {ns}/{}?",
                a.name, a.cluster_name
            ))?;
        }
        let (_, patch, _) = kube::read_modify_patch(&target, a.dry_run, 5, |cluster| -> Result<Value, ToolOutput> {
            let list: Vec<Value> = external_clusters(cluster)
                .into_iter()
                .filter(|e| e.get("name").and_then(Value::as_str) != Some(a.name.as_str()))
                .collect();
            Ok(patch_list(cluster, list))
        })?;
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: None,
            notes: vec!["Secrets it referred to are left as they are.".into()],
        };
        Ok(mutation.output(format!(
            "{} external cluster `{}` from cluster {ns}/{}.",
            if a.dry_run { "Would remove" } else { "Removed" },
            a.name,
            a.cluster_name
        )))
    })
}
