//! The prompt that leads an assistant from symptoms to a plan.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::CallContext;
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{Guest, PromptDescriptor, PromptError, PromptResult};
use cnpg_mcp_sdk::prompt::{argument, required, user_message, value};

use crate::Diagnostics;

impl Guest for Diagnostics {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![PromptDescriptor {
            name: "troubleshoot_cluster".into(),
            title: Some("Troubleshoot a cluster".into()),
            description: Some(
                "Collect a cluster's conditions, events and logs, find the cause, and propose a plan of tool calls."
                    .into(),
            ),
            arguments: vec![
                argument("cluster_name", "Cluster to troubleshoot", true),
                argument("namespace", "Namespace of the cluster (default: the server's)", false),
                argument(
                    "symptom",
                    "What the user sees, e.g. \"applications cannot connect\"",
                    false,
                ),
            ],
        }]
    }

    fn get_prompt(
        name: String,
        arguments: Vec<(String, String)>,
        _ctx: CallContext,
    ) -> Result<PromptResult, PromptError> {
        if name != "troubleshoot_cluster" {
            return Err(PromptError::UnknownPrompt(name));
        }
        let cluster = required(&arguments, "cluster_name")?;
        let ns = value(&arguments, "namespace")
            .map(|ns| format!(", namespace=\"{ns}\""))
            .unwrap_or_default();
        let symptom = value(&arguments, "symptom")
            .map(|s| format!(" The user reports: {s}."))
            .unwrap_or_default();
        let text = format!(
            "Troubleshoot cluster `{cluster}`.{symptom} Read before changing anything; change nothing without the \
             user's consent.\n\
             1. get_cluster_report(name=\"{cluster}\"{ns}): the phase and its reason, the conditions that are not \
             True, the pods (phase, role, restarts), volumes, jobs, backups and the newest events.\n\
             2. get_cluster_events(name=\"{cluster}\"{ns}, warnings_only=true): the warnings, newest first; note \
             which object each concerns.\n\
             3. get_cluster_logs(name=\"{cluster}\"{ns}, min_level=\"warning\"): errors of the instance manager and \
             PostgreSQL; for one instance, add instance=\"<pod>\".\n\
             4. Match the findings to a cause: pods Pending (scheduling, volumes), a job failing (initdb, join, \
             major-upgrade), phase \"Waiting for user action\" (a supervised switchover: promote_cluster_instance), \
             \"Applying configuration\" (a restart pending), fenced or hibernated instances (annotations in the \
             report's manifest), archiving failing (get_backup_configuration), connection problems \
             (get_connection_info, pg_hba in the spec).\n\
             5. Answer with: the cause, the evidence (quote events and log lines), and a plan of tool calls, each \
             first as dry_run where the tool has one. Say plainly what is unknown."
        );
        Ok(user_message(text))
    }

    fn complete_argument(_prompt: String, _argument: String, _value: String) -> Vec<String> {
        Vec::new()
    }
}
