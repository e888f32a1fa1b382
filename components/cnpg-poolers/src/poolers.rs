//! Pooler objects: list, read, create, change, delete. Field names are
//! CloudNativePG's (`api/v1/pooler_types.go`, operator v1.30.0).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::k8s::ResourceType;
use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::confirmed;
use cnpg_mcp_sdk::kube::{self, cnpg, collection, core, object};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, ALLOWED_PARAMETERS};

/// Label marking objects this server created.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cnpg-mcp");
/// PgBouncer's port on the Pooler's Service (`PgBouncerPort`,
/// `pkg/management/pgbouncer/config/config.go`).
const PGBOUNCER_PORT: u16 = 5432;

fn deployments() -> ResourceType {
    ResourceType {
        group: "apps".into(),
        version: "v1".into(),
        resource: "deployments".into(),
    }
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PoolerInfo {
    pub name: String,
    pub namespace: String,
    pub cluster: String,
    /// `rw`, `ro` or `r`.
    #[serde(rename = "type")]
    pub pooler_type: String,
    /// `spec.instances` (the operator's default is 1).
    pub instances: i64,
    /// `status.instances`: PgBouncer pods the operator reports.
    pub reported_instances: Option<i64>,
    /// Ready replicas of the pooler's Deployment, when it could be read.
    pub ready_instances: Option<i64>,
    pub pool_mode: String,
    pub paused: bool,
    pub parameters: BTreeMap<String, String>,
    pub pg_hba: Vec<String>,
    /// A custom auth query is configured (`authQuery` + `authQuerySecret`); otherwise the operator's.
    pub custom_auth_query: bool,
    pub auth_query_secret: Option<String>,
    /// `active`, `paused`, `inactive` or `failed` (`status.phase`).
    pub phase: Option<String>,
    pub phase_reason: Option<String>,
    pub error: Option<String>,
    pub image: Option<String>,
    /// Service the clients connect to (named after the Pooler) and its port.
    pub service: Option<String>,
    pub port: u16,
    /// `<service>.<namespace>.svc:<port>`.
    pub address: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PoolerList {
    pub namespace: String,
    pub cluster: Option<String>,
    pub poolers: Vec<PoolerInfo>,
}

fn info(pooler: &Value, deployment: Option<&Value>, service: Option<&Value>) -> PoolerInfo {
    let name = kube::name_of(pooler).to_string();
    let namespace = kube::meta(pooler, "namespace").unwrap_or_default().to_string();
    let parameters = pooler
        .pointer("/spec/pgbouncer/parameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let port = service
        .and_then(|s| s.pointer("/spec/ports"))
        .and_then(Value::as_array)
        .and_then(|ports| {
            ports
                .iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some("pgbouncer"))
        })
        .and_then(|p| p.get("port").and_then(Value::as_u64))
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(PGBOUNCER_PORT);
    PoolerInfo {
        cluster: text(pooler, "/spec/cluster/name").unwrap_or_default(),
        pooler_type: text(pooler, "/spec/type").unwrap_or_else(|| "rw".into()),
        instances: pooler.pointer("/spec/instances").and_then(Value::as_i64).unwrap_or(1),
        reported_instances: pooler.pointer("/status/instances").and_then(Value::as_i64),
        ready_instances: deployment.map(|d| d.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0)),
        pool_mode: text(pooler, "/spec/pgbouncer/poolMode").unwrap_or_else(|| "session".into()),
        paused: pooler
            .pointer("/spec/pgbouncer/paused")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        parameters,
        pg_hba: pooler
            .pointer("/spec/pgbouncer/pg_hba")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
        custom_auth_query: text(pooler, "/spec/pgbouncer/authQuery").is_some(),
        auth_query_secret: text(pooler, "/spec/pgbouncer/authQuerySecret/name"),
        phase: text(pooler, "/status/phase"),
        phase_reason: text(pooler, "/status/phaseReason"),
        error: text(pooler, "/status/error"),
        image: text(pooler, "/status/image"),
        service: service.map(|s| kube::name_of(s).to_string()),
        port,
        address: format!("{name}.{namespace}.svc:{port}"),
        name,
        namespace,
    }
}

fn line(p: &PoolerInfo) -> String {
    format!(
        "{} ({} for cluster {}): {} instance(s) wanted, {} ready; pool mode {}{}; phase {}{}",
        p.name,
        p.pooler_type,
        p.cluster,
        p.instances,
        p.ready_instances.map(|r| r.to_string()).unwrap_or_else(|| "?".into()),
        p.pool_mode,
        if p.paused { ", PAUSED" } else { "" },
        p.phase.as_deref().unwrap_or("not reported"),
        p.error.as_deref().map(|e| format!(", error: {e}")).unwrap_or_default()
    )
}

/// The Deployment and Service of a pooler, when they exist and can be read.
fn runtime_objects(ns: &str, name: &str) -> (Option<Value>, Option<Value>) {
    let deployment = kube::get(&object(deployments(), ns, name)).ok();
    let service = kube::get(&object(core("services"), ns, name)).ok();
    (deployment, service)
}

pub fn list_poolers(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListPoolers, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let mut items = kube::list(&collection(cnpg("poolers"), Some(&ns)), None)?;
        if let Some(cluster) = &a.cluster_name {
            items.retain(|p| p.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster.as_str()));
        }
        let poolers: Vec<PoolerInfo> = items
            .iter()
            .map(|p| {
                let (deployment, service) = runtime_objects(&ns, kube::name_of(p));
                info(p, deployment.as_ref(), service.as_ref())
            })
            .collect();
        let scope = match &a.cluster_name {
            Some(cluster) => format!("cluster {ns}/{cluster}"),
            None => format!("namespace {ns}"),
        };
        let mut text = if poolers.is_empty() {
            format!("No poolers for {scope}.")
        } else {
            format!("{} pooler(s) for {scope}:", poolers.len())
        };
        for p in &poolers {
            text.push_str("\n- ");
            text.push_str(&line(p));
        }
        let list = PoolerList {
            namespace: ns,
            cluster: a.cluster_name,
            poolers,
        };
        Ok(success(&list, text, a.format))
    })
}

pub fn get_pooler(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetPooler, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let pooler = kube::get(&object(cnpg("poolers"), &ns, &a.name))?;
        let (deployment, service) = runtime_objects(&ns, &a.name);
        let p = info(&pooler, deployment.as_ref(), service.as_ref());
        let mut text = format!("Pooler {ns}/{}", line(&p));
        text.push_str(&format!(
            "\nConnect to {} (Service {}).",
            p.address,
            p.service.as_deref().unwrap_or("not created yet")
        ));
        if !p.parameters.is_empty() {
            let list: Vec<String> = p.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
            text.push_str(&format!("\nPgBouncer parameters: {}", list.join(", ")));
        }
        text.push_str(&format!(
            "\nAuthentication: {}",
            if p.custom_auth_query {
                format!(
                    "custom auth query with Secret {}",
                    p.auth_query_secret.as_deref().unwrap_or("-")
                )
            } else {
                "the operator's auth query and user".into()
            }
        ));
        Ok(success(&p, text, a.format))
    })
}

/// Parameters the operator would refuse, named.
fn refused_parameters<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    names
        .filter(|n| !ALLOWED_PARAMETERS.contains(&n.as_str()))
        .cloned()
        .collect()
}

fn parameter_refusal(refused: &[String]) -> ToolOutput {
    failure(
        format!(
            "PgBouncer parameter(s) {} are not allowed by CloudNativePG (\"Invalid or reserved parameter\"). Nothing \
             was changed.",
            refused.join(", ")
        ),
        format!("Allowed: {}.", ALLOWED_PARAMETERS.join(", ")),
    )
}

pub fn create_pooler(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreatePooler, _| -> Outcome {
        let pooler_type = a.pooler_type.unwrap_or(args::PoolerType::Rw);
        let name = a
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-pooler-{}", a.cluster_name, pooler_type.as_str()));
        if name == a.cluster_name {
            return Err(failure(
                "A Pooler cannot have its cluster's name (the operator refuses it: both own a Service of that name). \
                 Nothing was created.",
                "Pick another name, e.g. `<cluster>-pooler-rw`.",
            ));
        }
        if a.auth_query.is_some() != a.auth_query_secret.is_some() {
            return Err(failure(
                "`auth_query` and `auth_query_secret` go together (the operator refuses one without the other). \
                 Nothing was created.",
                "Give both, or neither to use the operator's auth query.",
            ));
        }
        if let Some(parameters) = &a.parameters {
            let refused = refused_parameters(parameters.keys());
            if !refused.is_empty() {
                return Err(parameter_refusal(&refused));
            }
        }
        let ns = namespace_or_default(&a.namespace);
        kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let mut pgbouncer = Map::new();
        pgbouncer.insert(
            "poolMode".into(),
            json!(a.pool_mode.unwrap_or(args::PoolMode::Session).as_str()),
        );
        if let Some(parameters) = a.parameters.as_ref().filter(|p| !p.is_empty()) {
            pgbouncer.insert("parameters".into(), json!(parameters));
        }
        if let Some(lines) = a.pg_hba.as_ref().filter(|l| !l.is_empty()) {
            pgbouncer.insert("pg_hba".into(), json!(lines));
        }
        if let (Some(query), Some(secret)) = (&a.auth_query, &a.auth_query_secret) {
            pgbouncer.insert("authQuery".into(), json!(query));
            pgbouncer.insert("authQuerySecret".into(), json!({"name": secret}));
        }
        if a.paused {
            pgbouncer.insert("paused".into(), json!(true));
        }
        let mut spec = json!({
            "cluster": {"name": a.cluster_name},
            "type": pooler_type.as_str(),
            "instances": a.instances.unwrap_or(1),
            "pgbouncer": pgbouncer,
        });
        if a.enable_pod_monitor {
            spec["monitoring"] = json!({"enablePodMonitor": true});
        }
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Pooler",
            "metadata": {"name": name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
            "spec": spec,
        });
        kube::create(&collection(cnpg("poolers"), Some(&ns)), &manifest, a.dry_run)?;
        let mut notes = vec![format!(
            "The operator creates Deployment and Service `{name}`; clients connect to {name}.{ns}.svc:{PGBOUNCER_PORT} \
             with the cluster's usual credentials."
        )];
        if a.enable_pod_monitor {
            notes.push(
                "`spec.monitoring.enablePodMonitor` is deprecated by CloudNativePG: create your own PodMonitor instead."
                    .into(),
            );
        }
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"name": name, "address": format!("{name}.{ns}.svc:{PGBOUNCER_PORT}")})),
            notes,
        };
        Ok(mutation.output(format!(
            "{} pooler {ns}/{name} ({} to cluster {}, {} instance(s)).",
            if a.dry_run { "would create" } else { "Created" },
            pooler_type.as_str(),
            a.cluster_name,
            a.instances.unwrap_or(1)
        )))
    })
}

pub fn update_pooler(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::UpdatePooler, _| -> Outcome {
        if let Some(parameters) = &a.parameters {
            let set = parameters.iter().filter(|(_, v)| v.is_some()).map(|(k, _)| k);
            let refused = refused_parameters(set);
            if !refused.is_empty() {
                return Err(parameter_refusal(&refused));
            }
        }
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("poolers"), &ns, &a.name);
        let current = kube::get(&target)?;
        let before = info(&current, None, None);
        let mut spec = Map::new();
        let mut pgbouncer = Map::new();
        let mut changes = Vec::new();
        if let Some(instances) = a.instances
            && i64::from(instances) != before.instances
        {
            spec.insert("instances".into(), json!(instances));
            changes.push(format!("instances {} -> {instances}", before.instances));
        }
        if let Some(mode) = a.pool_mode
            && mode.as_str() != before.pool_mode
        {
            pgbouncer.insert("poolMode".into(), json!(mode.as_str()));
            changes.push(format!("pool mode {} -> {}", before.pool_mode, mode.as_str()));
        }
        if let Some(paused) = a.paused
            && paused != before.paused
        {
            pgbouncer.insert("paused".into(), json!(paused));
            changes.push(if paused { "paused".into() } else { "resumed".into() });
        }
        if let Some(parameters) = &a.parameters {
            let mut patch = Map::new();
            for (key, value) in parameters {
                match (value, before.parameters.get(key)) {
                    (Some(new), Some(old)) if new == old => {}
                    (None, None) => {}
                    (Some(new), old) => {
                        patch.insert(key.clone(), json!(new));
                        changes.push(format!(
                            "{key} {} -> {new}",
                            old.map(String::as_str).unwrap_or("(unset)")
                        ));
                    }
                    (None, Some(old)) => {
                        patch.insert(key.clone(), Value::Null);
                        changes.push(format!("{key} {old} removed"));
                    }
                }
            }
            if !patch.is_empty() {
                pgbouncer.insert("parameters".into(), Value::Object(patch));
            }
        }
        if !pgbouncer.is_empty() {
            spec.insert("pgbouncer".into(), Value::Object(pgbouncer));
        }
        if spec.is_empty() {
            return Ok(success(
                &json!({"unchanged": true}),
                format!("Pooler {ns}/{} already is as asked; nothing changed.", a.name),
                Default::default(),
            ));
        }
        let patch = json!({"spec": spec});
        kube::merge_patch(&target, &patch, a.dry_run)?;
        let mut notes = Vec::new();
        if a.paused == Some(true) {
            notes.push(
                "Paused: PgBouncer keeps client connections but holds new queries until resumed (paused: false)."
                    .into(),
            );
        }
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} pooler {ns}/{}: {}.",
            if a.dry_run { "Would change" } else { "Changed" },
            a.name,
            changes.join(", ")
        )))
    })
}

pub fn delete_pooler(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeletePooler, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("poolers"), &ns, &a.name);
        let pooler = kube::get(&target)?;
        let p = info(&pooler, None, None);
        let what = format!(
            "deleting pooler {ns}/{} ({} for cluster {}; clients connected through {} are cut off)",
            a.name, p.pooler_type, p.cluster, p.address
        );
        confirmed(
            "delete_pooler",
            &raw,
            "confirm_deletion",
            a.confirm_deletion,
            a.dry_run,
            &what,
        )?;
        kube::delete(&target, a.dry_run, kube::meta(&pooler, "uid"))?;
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"pooler": a.name}),
            result: None,
            notes: vec![
                "The operator's Deployment and Service of the pooler are removed with it (owner references).".into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} pooler {ns}/{} of cluster {}.",
            if a.dry_run { "Would delete" } else { "Deleted" },
            a.name,
            p.cluster
        )))
    })
}
