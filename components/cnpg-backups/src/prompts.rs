//! Prompts that lead an assistant through a point-in-time recovery and a
//! check of a cluster's backups.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::CallContext;
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{Guest, PromptDescriptor, PromptError, PromptResult};
use cnpg_mcp_sdk::prompt::{argument, required, user_message, value};

use crate::Backups;

impl Guest for Backups {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![
            PromptDescriptor {
                name: "plan_point_in_time_recovery".into(),
                title: Some("Plan a point-in-time recovery".into()),
                description: Some(
                    "Restore a cluster as it was at a given time into a new cluster, checked step by step.".into(),
                ),
                arguments: vec![
                    argument("cluster_name", "Cluster whose data to recover", true),
                    argument(
                        "target_time",
                        "Time to recover to, RFC 3339 (e.g. 2026-12-05T14:05:00Z)",
                        true,
                    ),
                    argument(
                        "new_cluster_name",
                        "Name of the new cluster (default <cluster>-restore)",
                        false,
                    ),
                ],
            },
            PromptDescriptor {
                name: "verify_backups".into(),
                title: Some("Verify a cluster's backups".into()),
                description: Some("Check that a cluster is backed up and can be restored, and report gaps.".into()),
                arguments: vec![argument("cluster_name", "Cluster to check", true)],
            },
        ]
    }

    fn get_prompt(
        name: String,
        arguments: Vec<(String, String)>,
        _ctx: CallContext,
    ) -> Result<PromptResult, PromptError> {
        let cluster = required(&arguments, "cluster_name")?;
        let text = match name.as_str() {
            "plan_point_in_time_recovery" => {
                let time = required(&arguments, "target_time")?;
                let new = value(&arguments, "new_cluster_name").unwrap_or_else(|| format!("{cluster}-restore"));
                format!(
                    "Recover cluster `{cluster}` as it was at {time} into a NEW cluster `{new}`; never change `{cluster}`.\n\
                     1. get_recovery_window(cluster_name=\"{cluster}\"): check that {time} lies between the first \
                     recoverability point and the latest point. If WAL archiving is not working, only the end of a \
                     completed backup can be reached: tell the user and stop unless they accept that.\n\
                     2. list_backups(cluster_name=\"{cluster}\"): pick the newest completed backup that ENDED before \
                     {time}.\n\
                     3. restore_postgres_cluster(name=\"{new}\", source={{\"backup\": \"<that backup>\"}}, \
                     recovery_target={{\"target_time\": \"{time}\"}}, dry_run=true): show the user the manifest.\n\
                     4. With the user's consent, run it without dry_run, then follow get_cluster_status(name=\"{new}\") \
                     until it is healthy.\n\
                     5. Tell the user how to check the data in `{new}` before pointing applications at it, and that \
                     `{new}` needs its own backup configuration (configure_cluster_backup) if it stays."
                )
            }
            "verify_backups" => format!(
                "Verify the backups of cluster `{cluster}` and report plainly.\n\
                 1. get_backup_configuration(cluster_name=\"{cluster}\"): which methods are configured; is the \
                 ContinuousArchiving condition True; is the deprecated in-tree barmanObjectStore still used?\n\
                 2. list_scheduled_backups(cluster_name=\"{cluster}\"): is there a schedule, is it suspended, when \
                 did it last run and when does it run next?\n\
                 3. list_backups(cluster_name=\"{cluster}\"): how old is the newest completed backup; are there \
                 failed ones, and with which error?\n\
                 4. get_recovery_window(cluster_name=\"{cluster}\"): what can be restored today.\n\
                 5. Summarise: protected or not, the oldest and newest restorable points, and the concrete fixes \
                 (with the tool calls, as dry runs) for each gap found. Change nothing without the user's consent."
            ),
            other => return Err(PromptError::UnknownPrompt(other.to_string())),
        };
        Ok(user_message(text))
    }

    fn complete_argument(_prompt: String, _argument: String, _value: String) -> Vec<String> {
        Vec::new()
    }
}
