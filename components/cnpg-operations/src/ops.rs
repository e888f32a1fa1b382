//! The operations. Annotation names and values are the operator's
//! (`pkg/utils/labels_annotations.go`, v1.30.0).

use serde_json::{Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::confirmed;
use cnpg_mcp_sdk::kube::{self, cnpg, core, object, status_of};
use cnpg_mcp_sdk::time::{format_seconds, now_unix, timestamp_now};
use cnpg_mcp_sdk::tool::{Format, Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args::{self, HibernationAction, OnOff};

/// `ClusterRestartAnnotationName`: a rolling restart when it changes.
const RESTART: &str = "kubectl.kubernetes.io/restartedAt";
/// `ClusterReloadAnnotationName`.
const RELOAD: &str = "cnpg.io/reloadedAt";
/// `HibernationAnnotationName`, values `on`/`off`.
const HIBERNATION: &str = "cnpg.io/hibernation";
/// The hibernation condition (`HibernationConditionType`,
/// `pkg/reconciler/hibernation/status.go`).
const HIBERNATION_CONDITION: &str = "cnpg.io/hibernation";
/// `FencedInstanceAnnotation`: a JSON list of instance names, `*` for all.
const FENCED: &str = "cnpg.io/fencedInstances";
/// `PhaseInplacePrimaryRestart`.
const PHASE_PRIMARY_RESTART: &str = "Primary instance is being restarted in-place";

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `2` -> `pg-2`; a full name stays as it is.
fn instance_name(cluster: &str, instance: &str) -> String {
    if instance.chars().all(|c| c.is_ascii_digit()) {
        format!("{cluster}-{instance}")
    } else {
        instance.to_string()
    }
}

fn instance_names(cluster: &Value) -> Vec<String> {
    cluster
        .pointer("/status/instanceNames")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn annotate(ns: &str, name: &str, key: &str, value: Value, dry_run: bool) -> Result<Value, ToolOutput> {
    let patch = json!({"metadata": {"annotations": {key: value}}});
    kube::merge_patch(&object(cnpg("clusters"), ns, name), &patch, dry_run)?;
    Ok(patch)
}

pub fn restart(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Restart, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let cluster = kube::get(&target)?;
        let Some(instance) = a.instance.as_deref().map(|i| instance_name(&a.name, i)) else {
            // `time.Now().Format(time.RFC3339)`: seconds, UTC here.
            let patch = annotate(&ns, &a.name, RESTART, json!(format_seconds(now_unix())), a.dry_run)?;
            let mutation = Mutation {
                action: "patch".into(),
                dry_run: a.dry_run,
                request: patch,
                result: None,
                notes: vec![
                    "The operator restarts the replicas one by one, then switches over or restarts the primary as \
                     `primaryUpdateStrategy`/`primaryUpdateMethod` say; get_cluster_status follows it."
                        .into(),
                ],
            };
            return Ok(mutation.output(format!(
                "{} a rolling restart of cluster {ns}/{}.",
                if a.dry_run { "Would request" } else { "Requested" },
                a.name
            )));
        };
        if !instance_names(&cluster).contains(&instance) {
            return Err(failure(
                format!(
                    "`{instance}` is not an instance of cluster {ns}/{}. Nothing was changed.",
                    a.name
                ),
                "get_cluster_status lists the instances.",
            ));
        }
        if text(&cluster, "/status/currentPrimary").as_deref() == Some(instance.as_str()) {
            // As the plugin: the phase asks the operator for an in-place
            // restart of the primary; the Ready condition follows the phase.
            // Under an optimistic lock, read again when the operator wrote
            // the status meanwhile.
            let (_, patch, _) = kube::read_modify_patch_at(
                &target,
                &status_of(target.clone()),
                a.dry_run,
                5,
                |cluster| -> Result<Value, ToolOutput> {
                    let mut conditions: Vec<Value> = cluster
                        .pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let ready = json!({"type": "Ready", "status": "False", "reason": "ClusterIsNotReady",
                                       "message": "Cluster Is Not Ready"});
                    match conditions
                        .iter_mut()
                        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
                    {
                        Some(existing) => {
                            let changed = existing.get("status") != ready.get("status");
                            let transition = if changed {
                                json!(format_seconds(now_unix()))
                            } else {
                                existing.get("lastTransitionTime").cloned().unwrap_or(Value::Null)
                            };
                            *existing = ready;
                            existing["lastTransitionTime"] = transition;
                        }
                        None => {
                            let mut ready = ready;
                            ready["lastTransitionTime"] = json!(format_seconds(now_unix()));
                            conditions.push(ready);
                        }
                    }
                    let patch = json!({
                        "metadata": {"resourceVersion": kube::meta(cluster, "resourceVersion")},
                        "status": {"phase": PHASE_PRIMARY_RESTART, "phaseReason": "Requested by the user",
                                   "conditions": conditions},
                    });
                    Ok(patch)
                },
            )?;
            let mutation = Mutation {
                action: "patch".into(),
                dry_run: a.dry_run,
                request: patch,
                result: None,
                notes: vec!["The primary restarts in place: connections are dropped for a moment.".into()],
            };
            return Ok(mutation.output(format!(
                "{} an in-place restart of primary {instance} of cluster {ns}/{}.",
                if a.dry_run { "Would request" } else { "Requested" },
                a.name
            )));
        }
        let pod_ref = object(core("pods"), &ns, &instance);
        let pod = kube::get(&pod_ref)?;
        kube::delete(&pod_ref, a.dry_run, kube::meta(&pod, "uid"))?;
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"pod": instance}),
            result: None,
            notes: vec!["The operator recreates the pod on the same volume.".into()],
        };
        Ok(mutation.output(format!(
            "{} replica {instance} of cluster {ns}/{} (its pod is recreated).",
            if a.dry_run { "Would restart" } else { "Restarting" },
            a.name
        )))
    })
}

pub fn reload(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Reload, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        // `pgTime.GetCurrentTimestamp()`: RFC 3339 with microseconds.
        let patch = annotate(&ns, &a.name, RELOAD, json!(timestamp_now()), a.dry_run)?;
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: None,
            notes: vec![
                "Every instance reloads its configuration and certificates without a restart; parameters that \
                 need a restart stay pending (get_cluster_status)."
                    .into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} a configuration reload of cluster {ns}/{}.",
            if a.dry_run { "Would request" } else { "Requested" },
            a.name
        )))
    })
}

pub fn hibernate(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::Hibernate, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let current = kube::annotation(&cluster, HIBERNATION).unwrap_or("off").to_string();
        let condition = cluster
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(HIBERNATION_CONDITION))
            })
            .cloned();
        let state = json!({
            "cluster": a.name, "namespace": ns, "annotation": current,
            "condition": condition,
            "phase": text(&cluster, "/status/phase"),
        });
        let wanted = match a.action {
            HibernationAction::Status => {
                let reason = condition
                    .as_ref()
                    .and_then(|c| text(c, "/reason"))
                    .unwrap_or_else(|| "none".into());
                let message = condition.as_ref().and_then(|c| text(c, "/message")).unwrap_or_default();
                return Ok(success(
                    &state,
                    format!(
                        "Cluster {ns}/{}: hibernation {current}; the operator's condition: {reason}{}.",
                        a.name,
                        if message.is_empty() {
                            String::new()
                        } else {
                            format!(" ({message})")
                        }
                    ),
                    Format::Text,
                ));
            }
            HibernationAction::On => "on",
            HibernationAction::Off => "off",
        };
        if current == wanted {
            return Err(failure(
                format!(
                    "Cluster {ns}/{} is already in the requested state (hibernation {wanted}).",
                    a.name
                ),
                "hibernate_postgres_cluster(action=\"status\") shows the operator's progress.",
            ));
        }
        let what = format!(
            "hibernating cluster {ns}/{}: every instance's pod is deleted and PostgreSQL stops; the volumes, the \
             Cluster, its Secrets and Services stay, so nothing is lost and `off` brings it back",
            a.name
        );
        if wanted == "on" {
            confirmed(
                "hibernate_postgres_cluster",
                &raw,
                "confirm_hibernation",
                a.confirm_hibernation,
                a.dry_run,
                &what,
            )?;
        }
        let patch = annotate(&ns, &a.name, HIBERNATION, json!(wanted), a.dry_run)?;
        let note = if wanted == "on" {
            "The operator waits until the cluster is healthy, then deletes the pods (condition cnpg.io/hibernation: \
             WaitingForHealthy, DeletingPods, Hibernated)."
        } else {
            "The operator recreates the instances on their volumes."
        };
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: None,
            notes: vec![note.into()],
        };
        Ok(mutation.output(format!(
            "{} hibernation {wanted} for cluster {ns}/{}.",
            if a.dry_run { "Would turn" } else { "Turned" },
            a.name
        )))
    })
}

/// The fenced-instances list after the change, as the plugin computes it
/// (`AddFencedInstance`, `removeFencedInstance`, `pkg/utils/fencing.go`):
/// `None` when nothing changes; `Err` for the refusals.
fn fenced_after(current: &[String], instance: &str, on: bool) -> Result<Option<Vec<String>>, String> {
    let all = current.iter().any(|i| i == "*");
    if on {
        if all || current.iter().any(|i| i == instance) {
            return Ok(None);
        }
        if instance == "*" {
            return Ok(Some(vec!["*".into()]));
        }
        let mut list = current.to_vec();
        list.push(instance.to_string());
        list.sort();
        return Ok(Some(list));
    }
    if current.is_empty() {
        return Ok(None);
    }
    if instance == "*" {
        return Ok(Some(vec![]));
    }
    if all {
        return Err("every instance is fenced (`*`): lift the fence for all, then fence the ones to keep".into());
    }
    if !current.iter().any(|i| i == instance) {
        return Ok(None);
    }
    Ok(Some(current.iter().filter(|i| *i != instance).cloned().collect()))
}

pub fn fence(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::Fence, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let cluster = kube::get(&target)?;
        let instance = if a.instance == "*" {
            "*".to_string()
        } else {
            instance_name(&a.name, &a.instance)
        };
        let on = a.action == OnOff::On;
        let current: Vec<String> = match kube::annotation(&cluster, FENCED) {
            Some(value) => serde_json::from_str(value).map_err(|_| {
                failure(
                    format!("The cluster's `{FENCED}` annotation is not a JSON list: {value}. Nothing was changed."),
                    "Fix the annotation by hand first.",
                )
            })?,
            None => vec![],
        };
        // Unknown instances are refused, except that a fence on an
        // instance that is gone may still be lifted (as the plugin allows).
        let known = instance == "*" || instance_names(&cluster).contains(&instance);
        let removable = !on && current.contains(&instance);
        if !known && !removable {
            return Err(failure(
                format!("instance {instance} is not a known instance of cluster {}", a.name),
                "get_cluster_status lists the instances; `*` means all.",
            ));
        }
        let next = fenced_after(&current, &instance, on)
            .map_err(|e| failure(format!("Not done: {e}."), "Use `instance: \"*\"`."))?;
        let Some(next) = next else {
            return Ok(success(
                &json!({"unchanged": true, "fenced": current}),
                format!(
                    "Nothing to change: {instance} is already {} in cluster {ns}/{}.",
                    if on { "fenced" } else { "not fenced" },
                    a.name
                ),
                Format::Text,
            ));
        };
        let what = format!(
            "fencing {} of cluster {ns}/{}: PostgreSQL stops there and serves nothing until the fence is lifted \
             (the pod stays)",
            if instance == "*" {
                "every instance".to_string()
            } else {
                format!("instance {instance}")
            },
            a.name
        );
        if on {
            confirmed(
                "fence_postgres_instances",
                &raw,
                "confirm_fencing",
                a.confirm_fencing,
                a.dry_run,
                &what,
            )?;
        }
        // An empty list removes the annotation, as the plugin does.
        let value = if next.is_empty() {
            Value::Null
        } else {
            json!(serde_json::to_string(&next).unwrap_or_default())
        };
        let patch = json!({"metadata": {"annotations": {FENCED: value}}});
        kube::merge_patch(&target, &patch, a.dry_run)?;
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: Some(json!({"fenced": next})),
            notes: vec![],
        };
        Ok(mutation.output(format!(
            "{} {instance} of cluster {ns}/{}; fenced now: {}.",
            match (a.dry_run, on) {
                (true, true) => "Would fence",
                (true, false) => "Would unfence",
                (false, true) => "Fenced",
                (false, false) => "Unfenced",
            },
            a.name,
            if next.is_empty() {
                "none".to_string()
            } else {
                next.join(", ")
            }
        )))
    })
}

pub fn maintenance(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Maintenance, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let before = cluster
            .pointer("/spec/nodeMaintenanceWindow")
            .cloned()
            .unwrap_or(Value::Null);
        let patch = json!({"spec": {"nodeMaintenanceWindow": {"inProgress": a.in_progress, "reusePVC": a.reuse_pvc}}});
        kube::merge_patch(&object(cnpg("clusters"), &ns, &a.name), &patch, a.dry_run)?;
        let mut notes = vec![format!("Before: {before}.")];
        if a.in_progress && !a.reuse_pvc {
            notes.push(
                "Without reuse_pvc an instance on a drained node is recreated on another node with a new volume \
                 (a full copy from the primary)."
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
            "{} node maintenance {} for cluster {ns}/{} (reusePVC {}).",
            if a.dry_run { "Would set" } else { "Set" },
            if a.in_progress { "in progress" } else { "over" },
            a.name,
            a.reuse_pvc
        )))
    })
}
