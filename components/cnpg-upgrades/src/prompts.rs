//! The prompt that leads an assistant through preparing a major upgrade.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::CallContext;
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{Guest, PromptDescriptor, PromptError, PromptResult};
use cnpg_mcp_sdk::prompt::{argument, required, user_message, value};

use crate::Upgrades;

impl Guest for Upgrades {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![PromptDescriptor {
            name: "prepare_major_upgrade".into(),
            title: Some("Prepare a major upgrade".into()),
            description: Some(
                "Check a cluster, its backups and its extensions before an in-place PostgreSQL major upgrade, then \
                 run it with the user's consent."
                    .into(),
            ),
            arguments: vec![
                argument("cluster_name", "Cluster to upgrade", true),
                argument("target_major", "PostgreSQL major version to go to (16 or newer)", true),
                argument("namespace", "Namespace of the cluster (default: the server's)", false),
            ],
        }]
    }

    fn get_prompt(
        name: String,
        arguments: Vec<(String, String)>,
        _ctx: CallContext,
    ) -> Result<PromptResult, PromptError> {
        if name != "prepare_major_upgrade" {
            return Err(PromptError::UnknownPrompt(name));
        }
        let cluster = required(&arguments, "cluster_name")?;
        let target = required(&arguments, "target_major")?;
        let major: u32 = target
            .parse()
            .map_err(|_| PromptError::InvalidArguments(format!("`target_major` `{target}` is not a number")))?;
        if major < 16 {
            return Err(PromptError::InvalidArguments(
                "in-place major upgrades go to PostgreSQL 16 or newer".into(),
            ));
        }
        let ns = value(&arguments, "namespace")
            .map(|ns| format!(", namespace=\"{ns}\""))
            .unwrap_or_default();
        let text = format!(
            "Prepare the in-place upgrade of cluster `{cluster}` to PostgreSQL {major}. It stops the whole cluster \
             while pg_upgrade runs and cannot be undone once it completed, so check first and change nothing \
             without the user's consent.\n\
             1. get_cluster_status(name=\"{cluster}\"{ns}, detail_level=\"detailed\"): the cluster must be healthy; \
             note the current image and major. A major can only go up.\n\
             2. get_backup_configuration(cluster_name=\"{cluster}\"{ns}) and list_backups(cluster_name=\"{cluster}\"{ns}): \
             there must be a completed backup from shortly before the upgrade; if not, offer create_backup and \
             wait_for_backup. Explain that backups and WAL from before the upgrade cannot recover into the new \
             major, so a new base backup is needed right after.\n\
             3. Pick the image: the same repository and OS distribution with a {major} tag, or \
             list_image_catalogs{} for a catalog entry of major {major}.\n\
             4. Extensions: list_postgres_databases(cluster_name=\"{cluster}\"{ns}) shows the databases and the extensions \
             they declare; tell the user which \
             need a build for {major} in the new image.\n\
             5. upgrade_postgres_cluster(name=\"{cluster}\"{ns}, image=\"<image>\", dry_run=true): show the patch \
             and the consequences it lists.\n\
             6. Only with the user's explicit consent: the same call with confirm_major_upgrade=true. Then follow \
             get_cluster_status until the phase is healthy again (phase \"Upgrading Postgres major version\" \
             meanwhile; get_cluster_events shows the upgrade Job).\n\
             7. Afterwards: create_backup at once, and tell the user to run ANALYZE in each database and to update \
             extensions where pg_upgrade asked for it.",
            if ns.is_empty() {
                String::new()
            } else {
                format!("({})", ns.trim_start_matches(", "))
            }
        );
        Ok(user_message(text))
    }

    fn complete_argument(_prompt: String, _argument: String, _value: String) -> Vec<String> {
        Vec::new()
    }
}
