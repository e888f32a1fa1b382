//! The mutating tools. Each sends the smallest change (merge patches of
//! the fields it owns, status through the `status` subresource), supports
//! `dry_run`, and destructive ones need confirmation.

use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::config;
use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::{ask_user, unconfirmed};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, core, object, status_of};
use cnpg_mcp_sdk::names::quantity_bytes;
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with};

use crate::args::{self, PullPolicy, TaintEffect, TolerationOperator};
use crate::model;

/// Label on everything this server creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cnpg-mcp");

/// The operator's validation switch (its admission webhook skips a
/// cluster carrying `disabled`).
pub const VALIDATION_ANNOTATION: &str = "cnpg.io/validation";

/// Config key: image repository for `postgres_version`.
const IMAGE_REPOSITORY_KEY: &str = "postgres_image_repository";

/// CloudNativePG's own PostgreSQL images, used for `postgres_version` when
/// the grant configures no repository: the repository of the operator's
/// default image (`DefaultImageName` in the operator's
/// `pkg/versions/versions.go`, v1.30.0:
/// `ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie`), which is tagged
/// by major version too (`:16`, `:17`, as in the operator's
/// `docs/src/samples/cluster-example-catalog.yaml`).
pub const OPERATOR_IMAGE_REPOSITORY: &str = "ghcr.io/cloudnative-pg/postgresql";

/// Seconds `wait` waits by default.
const DEFAULT_WAIT_SECONDS: u64 = 600;

/// The image a new cluster runs (none: the operator's default) and why,
/// in words for the answer.
#[derive(Debug, PartialEq, Eq)]
pub struct ImageChoice {
    pub image: Option<String>,
    pub reason: String,
}

/// The caller's image wins; else `<repository>:<version>` from the grant's
/// repository or, without one, the operator's; else none.
pub fn choose_image(
    container_image: Option<&str>,
    postgres_version: Option<&str>,
    configured_repository: Option<&str>,
) -> ImageChoice {
    if let Some(image) = container_image {
        let reason = match postgres_version {
            Some(version) => format!("`container_image` wins over `postgres_version` {version}"),
            None => "the `container_image` asked for".into(),
        };
        return ImageChoice {
            image: Some(image.to_string()),
            reason,
        };
    }
    match (configured_repository, postgres_version) {
        (Some(repository), version) => {
            let version = version.unwrap_or(args::DEFAULT_POSTGRES_VERSION);
            ImageChoice {
                image: Some(format!("{repository}:{version}")),
                reason: format!("PostgreSQL {version} from the image repository this server is configured with"),
            }
        }
        (None, Some(version)) => ImageChoice {
            image: Some(format!("{OPERATOR_IMAGE_REPOSITORY}:{version}")),
            reason: format!(
                "PostgreSQL {version} from CloudNativePG's own image repository (this server configures no \
                 `{IMAGE_REPOSITORY_KEY}`)"
            ),
        },
        (None, None) => ImageChoice {
            image: None,
            reason: "no version or image asked for: the operator's default image".into(),
        },
    }
}

fn image_for(a: &args::CreateCluster) -> ImageChoice {
    let repository = config::get(IMAGE_REPOSITORY_KEY)
        .ok()
        .flatten()
        .filter(|r| !r.is_empty());
    choose_image(
        a.container_image.as_deref(),
        a.postgres_version.as_deref(),
        repository.as_deref(),
    )
}

/// The Cluster manifest: only what the user asked for.
pub fn cluster_manifest(a: &args::CreateCluster, namespace: &str, image: Option<&str>) -> Value {
    let mut spec = Map::new();
    spec.insert("instances".into(), json!(a.instances));
    if let Some(image) = image {
        spec.insert("imageName".into(), json!(image));
    }
    if let Some(policy) = a.image_pull_policy {
        let policy = match policy {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        };
        spec.insert("imagePullPolicy".into(), json!(policy));
    }
    let mut storage = json!({"size": a.storage_size});
    if let Some(class) = &a.storage_class {
        storage["storageClass"] = json!(class);
    }
    spec.insert("storage".into(), storage);
    if let Some(wal) = &a.wal_storage_size {
        let mut wal_storage = json!({"size": wal});
        if let Some(class) = &a.storage_class {
            wal_storage["storageClass"] = json!(class);
        }
        spec.insert("walStorage".into(), wal_storage);
    }
    if let Some(parameters) = a.parameters.as_ref().filter(|p| !p.is_empty()) {
        spec.insert("postgresql".into(), json!({"parameters": parameters}));
    }
    if let Some(resources) = &a.resources {
        let side = |amounts: &Option<args::ResourceAmounts>| {
            let mut out = Map::new();
            if let Some(amounts) = amounts {
                if let Some(cpu) = &amounts.cpu {
                    out.insert("cpu".into(), json!(cpu));
                }
                if let Some(memory) = &amounts.memory {
                    out.insert("memory".into(), json!(memory));
                }
            }
            out
        };
        let mut value = Map::new();
        let requests = side(&resources.requests);
        if !requests.is_empty() {
            value.insert("requests".into(), Value::Object(requests));
        }
        let limits = side(&resources.limits);
        if !limits.is_empty() {
            value.insert("limits".into(), Value::Object(limits));
        }
        if !value.is_empty() {
            spec.insert("resources".into(), Value::Object(value));
        }
    }
    let mut affinity = Map::new();
    if let Some(selector) = a.node_selector.as_ref().filter(|s| !s.is_empty()) {
        affinity.insert("nodeSelector".into(), json!(selector));
    }
    if let Some(tolerations) = a.tolerations.as_ref().filter(|t| !t.is_empty()) {
        let list: Vec<Value> = tolerations
            .iter()
            .map(|t| {
                let mut item = Map::new();
                if let Some(key) = &t.key {
                    item.insert("key".into(), json!(key));
                }
                if let Some(op) = t.operator {
                    let op = match op {
                        TolerationOperator::Exists => "Exists",
                        TolerationOperator::Equal => "Equal",
                    };
                    item.insert("operator".into(), json!(op));
                }
                if let Some(value) = &t.value {
                    item.insert("value".into(), json!(value));
                }
                if let Some(effect) = t.effect {
                    let effect = match effect {
                        TaintEffect::NoSchedule => "NoSchedule",
                        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
                        TaintEffect::NoExecute => "NoExecute",
                    };
                    item.insert("effect".into(), json!(effect));
                }
                if let Some(seconds) = t.toleration_seconds {
                    item.insert("tolerationSeconds".into(), json!(seconds));
                }
                Value::Object(item)
            })
            .collect();
        affinity.insert("tolerations".into(), Value::Array(list));
    }
    if !affinity.is_empty() {
        spec.insert("affinity".into(), Value::Object(affinity));
    }
    if a.database.is_some() || a.owner.is_some() {
        let mut initdb = Map::new();
        // The operator requires both together; the owner defaults to the
        // database's name, the database to `app`.
        let database = a.database.clone().unwrap_or_else(|| "app".into());
        let owner = a.owner.clone().unwrap_or_else(|| database.clone());
        initdb.insert("database".into(), json!(database));
        initdb.insert("owner".into(), json!(owner));
        spec.insert("bootstrap".into(), json!({"initdb": initdb}));
    }
    json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {
            "name": a.name,
            "namespace": namespace,
            "labels": {MANAGED_BY.0: MANAGED_BY.1},
        },
        "spec": spec,
    })
}

pub fn create_cluster(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateCluster, ctx| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let choice = image_for(&a);
        let manifest = cluster_manifest(&a, &ns, choice.image.as_deref());
        let target = collection(cnpg("clusters"), Some(&ns));
        let created = kube::create(&target, &manifest, a.dry_run)?;
        let defaults = filled_in(&manifest, &created);
        let chosen_image = created
            .pointer("/spec/imageName")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({
                "name": a.name, "namespace": ns, "uid": kube::meta(&created, "uid"),
                "defaults": defaults,
            })),
            notes: vec![],
        };
        if let Some(defaults) = defaults.as_object().filter(|d| !d.is_empty()) {
            let fields: Vec<&str> = defaults.keys().map(String::as_str).collect();
            mutation.notes.push(format!(
                "Filled in by the API server and the operator's defaulting webhook (see result.defaults): {}.",
                fields.join(", ")
            ));
        }
        let image = choice.image.or(chosen_image);
        mutation.notes.insert(
            0,
            format!(
                "Image {}: {}.",
                image.as_deref().unwrap_or("(the operator's default)"),
                choice.reason
            ),
        );
        let mut summary = format!(
            "{} cluster {ns}/{} with {} instance(s), {} storage, image {}.",
            if a.dry_run { "would create" } else { "Created" },
            a.name,
            a.instances,
            a.storage_size,
            image.as_deref().unwrap_or("the operator's default")
        );
        if a.dry_run {
            return Ok(mutation.output(summary));
        }
        if a.wait {
            let wanted = u64::from(a.timeout.unwrap_or(DEFAULT_WAIT_SECONDS as u32)) * 1000;
            // Keep a little of the call's deadline to answer.
            let budget = ctx.deadline_ms.saturating_sub(2000).min(wanted);
            let cluster_ref = object(cnpg("clusters"), &ns, &a.name);
            match kube::wait_for(&cluster_ref, "/status/phase", &[model::PHASE_HEALTHY], budget) {
                Ok(cluster) => {
                    let s = model::summary(&cluster, false);
                    summary.push_str(&format!(
                        " It is healthy: {}/{} instances ready, primary {}.",
                        s.ready_instances,
                        s.instances,
                        s.current_primary.unwrap_or_default()
                    ));
                    mutation.result = Some(serde_json::to_value(model::summary(&cluster, true)).unwrap_or_default());
                }
                Err(f) if f.kind() == "timeout" => {
                    let phase = kube::get(&cluster_ref)
                        .ok()
                        .and_then(|c| c.pointer("/status/phase").and_then(Value::as_str).map(str::to_string))
                        .unwrap_or_else(|| "no status yet".into());
                    mutation.notes.push(format!(
                        "Not healthy after {} s (phase: {phase}); the cluster keeps starting. Follow it with get_cluster_status.",
                        budget / 1000
                    ));
                }
                Err(f) => mutation.notes.push(format!(
                    "Created, but following it failed: {} ({})",
                    f.message(),
                    f.suggestion()
                )),
            }
        } else {
            mutation
                .notes
                .push("The operator is creating the instances; follow with get_cluster_status.".into());
        }
        Ok(mutation.output(summary))
    })
}

/// The top-level `spec` fields of `created` (as the API server answered,
/// after its schema defaults and the mutating admission webhooks) that the
/// request did not set, with their values.
fn filled_in(request: &Value, created: &Value) -> Value {
    let requested = request.pointer("/spec").and_then(Value::as_object);
    let defaults: Map<String, Value> = created
        .pointer("/spec")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(key, _)| !requested.is_some_and(|r| r.contains_key(*key)))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Value::Object(defaults)
}

pub fn scale_cluster(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ScaleCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let current = kube::get(&target)?;
        let before = current.pointer("/spec/instances").and_then(Value::as_i64).unwrap_or(1);
        let patch = json!({"spec": {"instances": a.instances}});
        let mut mutation = Mutation {
            action: "merge-patch".into(),
            dry_run: a.dry_run,
            request: patch.clone(),
            result: None,
            notes: vec![],
        };
        if before == i64::from(a.instances) {
            mutation.notes.push("Nothing to change.".into());
            return Ok(mutation.output(format!(
                "Cluster {ns}/{} already has {before} instance(s); nothing changed.",
                a.name
            )));
        }
        let updated = kube::merge_patch(&target, &patch, a.dry_run)?;
        mutation.result = Some(json!({"instances": updated.pointer("/spec/instances")}));
        if i64::from(a.instances) < before {
            mutation
                .notes
                .push("Scaling down removes the highest-numbered replicas with their volumes.".into());
        }
        Ok(mutation.output(format!(
            "{} cluster {ns}/{} from {before} to {} instances.",
            if a.dry_run { "would scale" } else { "Scaled" },
            a.name,
            a.instances
        )))
    })
}

/// Kinds that belong to a cluster through `spec.cluster.name`.
const DEPENDENTS: &[(&str, &str)] = &[
    ("databases", "Database"),
    ("databaseroles", "DatabaseRole"),
    ("poolers", "Pooler"),
    ("scheduledbackups", "ScheduledBackup"),
    ("backups", "Backup"),
];

pub fn delete_cluster(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeleteCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let cluster = kube::get(&target)?;
        if !a.confirm_deletion && !a.dry_run {
            return Err(unconfirmed(
                "delete_postgres_cluster",
                &raw,
                "confirm_deletion",
                &format!("deleting cluster {ns}/{} with all its data", a.name),
            ));
        }
        // What belongs to the cluster.
        let mut dependents: Vec<(&str, &str, String)> = Vec::new();
        for (resource, kind) in DEPENDENTS {
            for item in kube::list(&collection(cnpg(resource), Some(&ns)), None)? {
                if item.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(a.name.as_str()) {
                    dependents.push((resource, kind, kube::name_of(&item).to_string()));
                }
            }
        }
        // Role Secrets this server created: named by the roles, labelled by us.
        let mut secrets = Vec::new();
        for (resource, _, name) in dependents.iter().filter(|(r, _, _)| *r == "databaseroles") {
            let role = kube::get(&object(cnpg(resource), &ns, name))?;
            if let Some(secret_name) = role.pointer("/spec/passwordSecret/name").and_then(Value::as_str)
                && let Some(secret) = kube::get_optional(&object(core("secrets"), &ns, secret_name))?
                && kube::label(&secret, MANAGED_BY.0) == Some(MANAGED_BY.1)
            {
                secrets.push(secret_name.to_string());
            }
        }
        if !a.dry_run {
            ask_user(&format!(
                "Delete PostgreSQL cluster {ns}/{} and all its data{}?",
                a.name,
                if a.delete_dependents && !dependents.is_empty() {
                    format!(" plus {} dependent object(s)", dependents.len() + secrets.len())
                } else {
                    String::new()
                }
            ))?;
        }
        let mut notes = Vec::new();
        if a.delete_dependents {
            for (resource, kind, name) in &dependents {
                match kube::delete(&object(cnpg(resource), &ns, name), a.dry_run, None) {
                    Ok(_) => notes.push(format!("deleted {kind} {name}")),
                    Err(f) if f.is_not_found() => notes.push(format!("{kind} {name} was already gone")),
                    Err(f) => return Err(f.into()),
                }
            }
            for secret in &secrets {
                match kube::delete(&object(core("secrets"), &ns, secret), a.dry_run, None) {
                    Ok(_) => notes.push(format!("deleted Secret {secret} (created by this server)")),
                    Err(f) if f.is_not_found() => {}
                    Err(f) => return Err(f.into()),
                }
            }
        } else {
            for (_, kind, name) in &dependents {
                notes.push(format!(
                    "left in place: {kind} {name} (pass delete_dependents: true to delete)"
                ));
            }
            for secret in &secrets {
                notes.push(format!("left in place: Secret {secret} (created by this server)"));
            }
        }
        let uid = kube::meta(&cluster, "uid").map(str::to_string);
        kube::delete(&target, a.dry_run, uid.as_deref())?;
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"delete": format!("clusters.postgresql.cnpg.io/{}", a.name), "namespace": ns,
                            "delete_dependents": a.delete_dependents,
                            "dependents": dependents.iter().map(|(_, k, n)| format!("{k}/{n}")).collect::<Vec<_>>(),
                            "secrets": secrets}),
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} cluster {ns}/{}; the operator removes its instances and volumes.",
            if a.dry_run { "would delete" } else { "Deleted" },
            a.name
        )))
    })
}

pub fn resize_cluster(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::ResizeCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let cluster = kube::get(&target)?;
        let restore_patch = json!({"metadata": {"annotations": {VALIDATION_ANNOTATION: null}}});
        if a.restore_validation_only {
            let mut mutation = Mutation {
                action: "merge-patch".into(),
                dry_run: a.dry_run,
                request: restore_patch.clone(),
                result: None,
                notes: vec![],
            };
            if kube::annotation(&cluster, VALIDATION_ANNOTATION).is_none() {
                mutation
                    .notes
                    .push("Validation was not disabled; nothing to change.".into());
                return Ok(mutation.output(format!(
                    "Validation of cluster {ns}/{} is already on; nothing changed.",
                    a.name
                )));
            }
            kube::merge_patch(&target, &restore_patch, a.dry_run)?;
            return Ok(mutation.output(format!(
                "{} validation of cluster {ns}/{}.",
                if a.dry_run { "would re-enable" } else { "Re-enabled" },
                a.name
            )));
        }
        let Some(size) = a.storage_size.clone() else {
            return Err(failure(
                "`storage_size` is required.",
                "Pass the new size, e.g. `20Gi`.",
            ));
        };
        let current = cluster
            .pointer("/spec/storage/size")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let (Some(new_bytes), Some(old_bytes)) = (quantity_bytes(&size), quantity_bytes(&current)) else {
            return Err(failure(
                format!("Cannot compare `{size}` with the cluster's size `{current}`."),
                "Use a quantity like `20Gi`.",
            ));
        };
        if (new_bytes - old_bytes).abs() < 0.5 {
            let mutation = Mutation {
                action: "none".into(),
                dry_run: a.dry_run,
                request: Value::Null,
                result: None,
                notes: vec!["Nothing to change.".into()],
            };
            return Ok(mutation.output(format!(
                "Cluster {ns}/{} already has {current} storage; nothing changed.",
                a.name
            )));
        }
        if new_bytes > old_bytes {
            let patch = json!({"spec": {"storage": {"size": size}}});
            kube::merge_patch(&target, &patch, a.dry_run)?;
            let mutation = Mutation {
                action: "merge-patch".into(),
                dry_run: a.dry_run,
                request: patch,
                result: None,
                notes: vec![
                    "The operator resizes each volume in place; the storage class must allow volume expansion.".into(),
                    format!("Follow with get_cluster_resize_status(name=\"{}\").", a.name),
                ],
            };
            return Ok(mutation.output(format!(
                "{} the storage of cluster {ns}/{} from {current} to {size}.",
                if a.dry_run { "would grow" } else { "Grew" },
                a.name
            )));
        }
        // Shrink.
        let instances = cluster.pointer("/spec/instances").and_then(Value::as_i64).unwrap_or(1);
        let during = instances + i64::from(a.extra_instances);
        if during > 10 {
            return Err(failure(
                format!(
                    "Shrinking would need {during} instances ({instances} + {} extra); at most 10.",
                    a.extra_instances
                ),
                "Lower `extra_instances` or scale the cluster down first.",
            ));
        }
        if !a.confirm_shrink && !a.dry_run {
            return Err(unconfirmed(
                "resize_postgres_cluster",
                &raw,
                "confirm_shrink",
                &format!(
                    "shrinking {ns}/{} from {current} to {size} (every instance is replaced)",
                    a.name
                ),
            ));
        }
        let disable_patch = json!({"metadata": {"annotations": {VALIDATION_ANNOTATION: "disabled"}}});
        let shrink_patch = json!({"spec": {"storage": {"size": size}, "instances": during}});
        let previous_annotation = kube::annotation(&cluster, VALIDATION_ANNOTATION).map(str::to_string);
        let restore = json!({"metadata": {"annotations": {VALIDATION_ANNOTATION: previous_annotation}}});
        let mut mutation = Mutation {
            action: "shrink".into(),
            dry_run: a.dry_run,
            request: json!({"steps": [disable_patch, shrink_patch, restore]}),
            result: None,
            notes: vec![],
        };
        if a.dry_run {
            // The operator's validation refuses any shrink (its webhook:
            // "can't shrink existing storage"); the dry run lifts it in the
            // same request, as the real change does in its first step.
            let mut checked = shrink_patch.clone();
            checked["metadata"] = disable_patch["metadata"].clone();
            kube::merge_patch(&target, &checked, true)?;
            return Ok(mutation.output(format!(
                "cluster {ns}/{} would shrink from {current} to {size} with {during} instances during the migration.",
                a.name
            )));
        }
        ask_user(&format!(
            "Shrink the storage of {ns}/{} from {current} to {size}? Every instance will be replaced.",
            a.name
        ))?;
        kube::merge_patch(&target, &disable_patch, false)?;
        let outcome = kube::merge_patch(&target, &shrink_patch, false);
        // Restored whatever happened to the size patch.
        let restored = kube::merge_patch(&target, &restore, false);
        if let Err(f) = outcome {
            return Err(match restored {
                Ok(_) => f.into(),
                Err(r) => failure(
                    format!("{}\nRestoring validation failed too: {}", f.message(), r.message()),
                    format!(
                        "Re-enable it with resize_postgres_cluster(name=\"{}\", restore_validation_only=true).",
                        a.name
                    ),
                ),
            });
        }
        if let Err(r) = restored {
            mutation.notes.push(format!(
                "Restoring validation failed: {}. Call resize_postgres_cluster(name=\"{}\", restore_validation_only=true).",
                r.message(),
                a.name
            ));
        }
        mutation.notes.push(format!(
            "{} new instance(s) get {size} volumes. Then replace the old instances one at a time (replicas first, \
             switch over before the primary) with delete_cluster_instance; get_cluster_resize_status names the next \
             one. Finally scale back to {instances} with scale_postgres_cluster.",
            a.extra_instances
        ));
        Ok(mutation.output(format!(
            "Started shrinking cluster {ns}/{} from {current} to {size} ({during} instances during the migration).",
            a.name
        )))
    })
}

/// `2` or `pg-2` -> `pg-2`.
fn instance_name(cluster: &str, instance: &str) -> String {
    if instance.chars().all(|c| c.is_ascii_digit()) {
        format!("{cluster}-{instance}")
    } else {
        instance.to_string()
    }
}

pub fn promote_instance(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::PromoteInstance, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let cluster = kube::get(&target)?;
        let instance = instance_name(&a.name, &a.instance);
        let current = model::primary(&cluster);
        let target_primary = cluster.pointer("/status/targetPrimary").and_then(Value::as_str);
        if current.as_deref() == Some(instance.as_str()) && target_primary.is_none_or(|t| t == instance) {
            return Err(failure(
                format!("`{instance}` is already the primary of {ns}/{}.", a.name),
                "Pick a replica (get_cluster_status lists the instances).",
            ));
        }
        let pod = kube::get(&object(core("pods"), &ns, &instance))?;
        if kube::label(&pod, "cnpg.io/cluster") != Some(a.name.as_str()) {
            return Err(failure(
                format!("Pod `{instance}` is not an instance of cluster {ns}/{}.", a.name),
                "Use an instance name from get_cluster_status.",
            ));
        }
        let fenced = kube::annotation(&cluster, "cnpg.io/fencedInstances")
            .and_then(|list| serde_json::from_str::<Vec<String>>(list).ok())
            .is_some_and(|list| list.iter().any(|f| f == "*" || *f == instance));
        if fenced {
            return Err(failure(
                format!("`{instance}` is fenced and cannot be promoted."),
                "Lift the fencing first (annotation cnpg.io/fencedInstances), or pick another instance.",
            ));
        }
        let healthy = model::healthy(&cluster).contains(&instance);
        if !healthy && !a.force {
            return Err(failure(
                format!(
                    "`{instance}` is not reported healthy by the operator; switching over to it could fail or lose data."
                ),
                "Pick a healthy replica (get_cluster_status), or pass `force: true` if you know it is safe.",
            ));
        }
        // Same fields `kubectl cnpg promote` sets; the resourceVersion makes
        // the patch fail with 409 if the status changed since it was read.
        let build = |read: &Value| {
            json!({
                "metadata": {"resourceVersion": kube::meta(read, "resourceVersion").unwrap_or_default()},
                "status": {
                    "targetPrimary": instance,
                    "targetPrimaryTimestamp": cnpg_mcp_sdk::time::timestamp_now(),
                    "phase": model::PHASE_SWITCHOVER,
                    "phaseReason": format!("Switching over to {instance}"),
                }
            })
        };
        let changed = || {
            failure(
                format!(
                    "The status of {ns}/{} changed while preparing the switchover (another switchover or failover?); \
                     nothing was changed.",
                    a.name
                ),
                "Check get_cluster_status, then try again.",
            )
        };
        // The operator rewrites the status all the time: a 409 with the
        // same primary and target is read again and retried; any other
        // change of them is refused.
        let roles = |read: &Value| (model::primary(read), read.pointer("/status/targetPrimary").cloned());
        let mut read = cluster.clone();
        let mut attempts = 1;
        let (patch, updated) = loop {
            let patch = build(&read);
            match kube::merge_patch(&status_of(target.clone()), &patch, a.dry_run) {
                Ok(updated) => break (patch, updated),
                Err(f) if f.is_conflict() && attempts < 5 => {
                    attempts += 1;
                    let again = kube::get(&target)?;
                    if roles(&again) != roles(&cluster) {
                        return Err(changed());
                    }
                    read = again;
                }
                Err(f) if f.is_conflict() => return Err(changed()),
                Err(f) => return Err(f.into()),
            }
        };
        let mut mutation = Mutation {
            action: "status-merge-patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: Some(json!({
                "targetPrimary": updated.pointer("/status/targetPrimary"),
                "phase": updated.pointer("/status/phase"),
            })),
            notes: vec![],
        };
        if !healthy {
            mutation
                .notes
                .push("Forced: the instance was not reported healthy.".into());
        }
        mutation.notes.push(
            "The operator demotes the current primary and promotes the target; follow with get_cluster_status.".into(),
        );
        Ok(mutation.output(format!(
            "{} switchover of cluster {ns}/{} from {} to {instance}.",
            if a.dry_run { "would request" } else { "Requested" },
            a.name,
            current.as_deref().unwrap_or("-")
        )))
    })
}

pub fn delete_instance(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeleteInstance, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let instance = instance_name(&a.name, &a.instance);
        if let Some(refusal) = instance_guard(&cluster, &instance) {
            return Err(refusal);
        }
        let pod = kube::get_optional(&object(core("pods"), &ns, &instance))?;
        if let Some(pod) = &pod
            && kube::label(pod, "cnpg.io/cluster") != Some(a.name.as_str())
        {
            return Err(failure(
                format!("Pod `{instance}` is not an instance of cluster {ns}/{}.", a.name),
                "Use an instance name from get_cluster_status.",
            ));
        }
        let selector = format!("cnpg.io/cluster={},cnpg.io/instanceName={instance}", a.name);
        let pvcs = kube::list(&collection(core("persistentvolumeclaims"), Some(&ns)), Some(&selector))?;
        if pod.is_none() && pvcs.is_empty() {
            return Err(failure(
                format!(
                    "Cluster {ns}/{} has no instance `{instance}` (no pod, no volumes).",
                    a.name
                ),
                "Use an instance name from get_cluster_status.",
            ));
        }
        if !a.confirm_deletion && !a.dry_run {
            return Err(unconfirmed(
                "delete_cluster_instance",
                &raw,
                "confirm_deletion",
                &format!("deleting instance {instance} of {ns}/{} with its volumes", a.name),
            ));
        }
        if !a.dry_run {
            ask_user(&format!(
                "Delete instance {instance} of {ns}/{} and its volumes?",
                a.name
            ))?;
        }
        // Like `kubectl cnpg destroy`: the pod, then its volumes.
        let mut notes = Vec::new();
        if let Some(pod) = &pod {
            match kube::delete(&object(core("pods"), &ns, &instance), a.dry_run, kube::meta(pod, "uid")) {
                Ok(_) => notes.push(format!("deleted pod {instance}")),
                Err(f) if f.is_not_found() => {}
                Err(f) => return Err(f.into()),
            }
        }
        for pvc in &pvcs {
            let name = kube::name_of(pvc);
            match kube::delete(
                &object(core("persistentvolumeclaims"), &ns, name),
                a.dry_run,
                kube::meta(pvc, "uid"),
            ) {
                Ok(_) => notes.push(format!("deleted PVC {name}")),
                Err(f) if f.is_not_found() => {}
                Err(f) => return Err(f.into()),
            }
        }
        notes.push("The operator creates a new instance to keep the wanted count.".into());
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"pod": pod.as_ref().map(|_| instance.clone()),
                            "persistentvolumeclaims": pvcs.iter().map(kube::name_of).collect::<Vec<_>>()}),
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} instance {instance} of cluster {ns}/{}.",
            if a.dry_run { "would delete" } else { "Deleted" },
            a.name
        )))
    })
}

/// Refuses the primary (current or target) and the last healthy replica.
pub fn instance_guard(cluster: &Value, instance: &str) -> Option<ToolOutput> {
    let primary = model::primary(cluster);
    let target = cluster.pointer("/status/targetPrimary").and_then(Value::as_str);
    if primary.as_deref() == Some(instance) || target == Some(instance) {
        return Some(failure(
            format!("`{instance}` is the primary; deleting it would cause a failover."),
            "Switch over to a healthy replica first (promote_cluster_instance), then delete this instance.",
        ));
    }
    let healthy_replicas: Vec<String> = model::healthy(cluster)
        .into_iter()
        .filter(|name| Some(name.as_str()) != primary.as_deref())
        .collect();
    if healthy_replicas.len() == 1 && healthy_replicas[0] == instance {
        return Some(failure(
            format!("`{instance}` is the last healthy replica; deleting it leaves the primary without a standby."),
            "Wait until another replica is healthy (get_cluster_status), or scale up first.",
        ));
    }
    None
}
