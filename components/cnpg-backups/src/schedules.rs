//! ScheduledBackup objects: create, list, change, delete.

use serde_json::{Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::{ask_user, unconfirmed};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, object};
use cnpg_mcp_sdk::time::now_unix;
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args;
use crate::backups::{MANAGED_BY, backup_spec};
use crate::model::{self, ScheduleInfo, ScheduleList};

/// Checks a schedule as the operator will read it: the refusal to return,
/// or the next three runs (UTC). Five fields parse in the operator (with a
/// warning) but mean seconds first, which is never what a crontab line
/// meant, so they are refused here with the six-field spelling.
fn checked_schedule(schedule: &str) -> Result<Vec<String>, ToolOutput> {
    match model::schedule_preview(schedule, now_unix()) {
        Err(error) => Err(failure(
            format!("The schedule `{schedule}` is not valid for CloudNativePG: {error}. Nothing was changed."),
            "Use six fields, seconds first (`0 0 2 * * *` = daily at 02:00:00 UTC), or `@daily`, `@hourly`, `@every 6h`.",
        )),
        Ok((_, Some(warning))) if cnpg_mcp_sdk::cron::parse(schedule).is_ok_and(|s| s.five_fields()) => Err(failure(
            format!("The schedule `{schedule}` has {warning}. Nothing was changed."),
            format!("If you meant the crontab line `{schedule}`, write it with seconds first: `0 {schedule}`.",),
        )),
        Ok((_, Some(warning))) => Err(failure(
            format!("The schedule `{schedule}`: {warning}. Nothing was changed."),
            "Pick a schedule that has upcoming dates.",
        )),
        Ok((runs, None)) => Ok(runs),
    }
}

pub fn create_schedule(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateScheduledBackup, _| -> Outcome {
        let runs = checked_schedule(&a.schedule)?;
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let (method, mut spec) = backup_spec(&cluster, &a.settings())?;
        spec.insert("schedule".into(), json!(a.schedule));
        if a.immediate {
            spec.insert("immediate".into(), json!(true));
        }
        if a.suspend {
            spec.insert("suspend".into(), json!(true));
        }
        if let Some(owner) = a.backup_owner_reference {
            spec.insert("backupOwnerReference".into(), json!(owner.as_str()));
        }
        let name = a
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-scheduled", a.cluster_name));
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "ScheduledBackup",
            "metadata": {"name": name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
            "spec": spec,
        });
        kube::create(&collection(cnpg("scheduledbackups"), Some(&ns)), &manifest, a.dry_run)?;
        let mut notes = vec![format!("Next runs (UTC): {}.", runs.join(", "))];
        if a.immediate && !a.suspend {
            notes.push("`immediate`: the operator takes the first backup right away.".into());
        }
        if a.suspend {
            notes.push("Created suspended: no backups until update_scheduled_backup(suspend=false).".into());
        }
        notes.push(format!(
            "Backups it creates are named `{name}-<YYYYMMDDhhmmss>` and labelled `{}={name}`; list_backups shows them.",
            model::SCHEDULE_LABEL
        ));
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"name": name, "next_runs": runs})),
            notes,
        };
        Ok(mutation.output(format!(
            "{} scheduled backup {ns}/{name} of cluster {} (`{}`, method {}).",
            if a.dry_run { "would create" } else { "Created" },
            a.cluster_name,
            a.schedule,
            method.as_str()
        )))
    })
}

pub fn list_schedules(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListScheduledBackups, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let mut items = kube::list(&collection(cnpg("scheduledbackups"), Some(&ns)), None)?;
        if let Some(cluster) = &a.cluster_name {
            items.retain(|s| s.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster.as_str()));
        }
        let backups = if items.is_empty() {
            vec![]
        } else {
            kube::list(&collection(cnpg("backups"), Some(&ns)), Some(model::SCHEDULE_LABEL))?
        };
        let now = now_unix();
        let schedules: Vec<ScheduleInfo> = items.iter().map(|s| model::schedule_info(s, &backups, now)).collect();
        let scope = match &a.cluster_name {
            Some(cluster) => format!("cluster {ns}/{cluster}"),
            None => format!("namespace {ns}"),
        };
        let mut text = if schedules.is_empty() {
            format!("No scheduled backups for {scope}.")
        } else {
            format!("{} scheduled backup(s) for {scope}:", schedules.len())
        };
        for s in &schedules {
            text.push_str(&format!(
                "\n- {} (cluster {}): `{}`{}, method {}, last run {}, next {}, {} backup(s){}",
                s.name,
                s.cluster,
                s.schedule,
                if s.suspended { " SUSPENDED" } else { "" },
                s.method,
                s.last_schedule_time.as_deref().unwrap_or("never"),
                s.next_schedule_time
                    .as_deref()
                    .or(s.upcoming_runs.first().map(String::as_str))
                    .unwrap_or("-"),
                s.backups.len(),
                s.last_backup_phase
                    .as_deref()
                    .map(|p| format!(", newest {p}"))
                    .unwrap_or_default()
            ));
            if let Some(warning) = &s.schedule_warning {
                text.push_str(&format!("\n    warning: {warning}"));
            }
        }
        let list = ScheduleList {
            namespace: ns,
            cluster: a.cluster_name,
            schedules,
        };
        Ok(success(&list, text, a.format))
    })
}

pub fn update_schedule(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::UpdateScheduledBackup, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        if a.schedule.is_none() && a.suspend.is_none() && a.backup_owner_reference.is_none() {
            return Err(failure(
                "Nothing to change: give `schedule`, `suspend` or `backup_owner_reference`.",
                "suspend=true pauses the schedule, suspend=false resumes it.",
            ));
        }
        let runs = match &a.schedule {
            Some(schedule) => Some(checked_schedule(schedule)?),
            None => None,
        };
        let target = object(cnpg("scheduledbackups"), &ns, &a.name);
        let current = kube::get(&target)?;
        let mut spec = serde_json::Map::new();
        let mut changes = Vec::new();
        if let Some(schedule) = &a.schedule {
            let old = model::text(&current, "/spec/schedule").unwrap_or_default();
            if &old != schedule {
                changes.push(format!("schedule `{old}` -> `{schedule}`"));
                spec.insert("schedule".into(), json!(schedule));
            }
        }
        if let Some(suspend) = a.suspend {
            let old = current
                .pointer("/spec/suspend")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if old != suspend {
                changes.push(if suspend { "suspended".into() } else { "resumed".into() });
                spec.insert("suspend".into(), json!(suspend));
            }
        }
        if let Some(owner) = a.backup_owner_reference {
            let old = model::text(&current, "/spec/backupOwnerReference").unwrap_or_else(|| "none".into());
            if old != owner.as_str() {
                changes.push(format!("backup owner `{old}` -> `{}`", owner.as_str()));
                spec.insert("backupOwnerReference".into(), json!(owner.as_str()));
            }
        }
        if changes.is_empty() {
            let info = model::schedule_info(&current, &[], now_unix());
            return Ok(success(
                &json!({"unchanged": true, "schedule": info}),
                format!("Scheduled backup {ns}/{} already is as asked; nothing changed.", a.name),
                Default::default(),
            ));
        }
        let patch = json!({"spec": spec});
        kube::merge_patch(&target, &patch, a.dry_run)?;
        let mut notes = Vec::new();
        if let Some(runs) = runs {
            notes.push(format!("Next runs (UTC): {}.", runs.join(", ")));
        }
        if a.suspend == Some(false) {
            notes.push(
                "Resumed: the operator computes the next run from its last check; a run missed while suspended is \
                 not made up."
                    .into(),
            );
        }
        if a.backup_owner_reference.is_some() {
            notes.push("The owner applies to Backups created from now on; existing ones keep theirs.".into());
        }
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} scheduled backup {ns}/{}: {}.",
            if a.dry_run { "Would change" } else { "Changed" },
            a.name,
            changes.join(", ")
        )))
    })
}

pub fn delete_schedule(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::DeleteScheduledBackup, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("scheduledbackups"), &ns, &a.name);
        let current = kube::get(&target)?;
        let owner = model::text(&current, "/spec/backupOwnerReference").unwrap_or_else(|| "none".into());
        let selector = format!("{}={}", model::SCHEDULE_LABEL, a.name);
        let created = kube::list(&collection(cnpg("backups"), Some(&ns)), Some(&selector))?;
        let owned: Vec<&str> = created
            .iter()
            .filter(|b| {
                b.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|o| o.iter().any(|r| r.get("uid") == current.pointer("/metadata/uid")))
            })
            .map(kube::name_of)
            .collect();
        let consequence = if owned.is_empty() {
            format!(
                "Its {} Backup object(s) stay (backupOwnerReference `{owner}`).",
                created.len()
            )
        } else {
            format!(
                "{} Backup object(s) it owns (backupOwnerReference `self`) are deleted with it by the garbage \
                 collector: {}. Their data in an object store stays until retention removes it.",
                owned.len(),
                owned.join(", ")
            )
        };
        if !a.confirm_deletion && !a.dry_run {
            return Err(unconfirmed(
                "delete_scheduled_backup",
                &raw,
                "confirm_deletion",
                &format!("deleting scheduled backup {ns}/{} ({consequence})", a.name),
            ));
        }
        if !a.dry_run {
            ask_user(&format!("Delete scheduled backup {ns}/{}? {consequence}", a.name))?;
        }
        kube::delete(&target, a.dry_run, kube::meta(&current, "uid"))?;
        let mutation = Mutation {
            action: "delete".into(),
            dry_run: a.dry_run,
            request: json!({"scheduledbackup": a.name}),
            result: Some(json!({"backups_deleted_with_it": owned, "backups_kept": created.len() - owned.len()})),
            notes: vec![consequence],
        };
        Ok(mutation.output(format!(
            "{} scheduled backup {ns}/{}; no more backups from it.",
            if a.dry_run { "Would delete" } else { "Deleted" },
            a.name
        )))
    })
}
