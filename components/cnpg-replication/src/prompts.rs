//! A prompt for moving data between clusters with logical replication.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::CallContext;
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{Guest, PromptDescriptor, PromptError, PromptResult};
use cnpg_mcp_sdk::prompt::{argument, required, user_message};

use crate::Replication;

impl Guest for Replication {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![PromptDescriptor {
            name: "plan_logical_migration".into(),
            title: Some("Plan a logical-replication migration".into()),
            description: Some(
                "Move a database from a source cluster to a target cluster (e.g. a major upgrade) with a \
                 publication and a subscription."
                    .into(),
            ),
            arguments: vec![
                argument("source_cluster", "Cluster that has the data (publisher)", true),
                argument("target_cluster", "Cluster that receives it (subscriber)", true),
                argument("database", "Database to move", true),
            ],
        }]
    }

    fn get_prompt(
        name: String,
        arguments: Vec<(String, String)>,
        _ctx: CallContext,
    ) -> Result<PromptResult, PromptError> {
        if name != "plan_logical_migration" {
            return Err(PromptError::UnknownPrompt(name));
        }
        let (source, target, db) = (
            required(&arguments, "source_cluster")?,
            required(&arguments, "target_cluster")?,
            required(&arguments, "database")?,
        );
        let text = format!(
            "Migrate database `{db}` from cluster `{source}` to cluster `{target}` with logical replication.\n\
             1. Check both with get_cluster_status; `{target}` must exist with the schema of `{db}` already in \
             place (logical replication copies rows, not DDL).\n\
             2. create_publication(cluster_name=\"{source}\", publication_name=\"migrate_{db}\", dbname=\"{db}\", \
             all_tables=true, dry_run=true), then for real; list_publications until applied.\n\
             3. add_external_cluster(cluster_name=\"{target}\", name=\"{source}\", connection_parameters={{host: \
             \"{source}-rw\", user: <a role with REPLICATION>, dbname: \"{db}\", sslmode: \"verify-full\"}}, \
             password_secret or the TLS Secrets, dry_run=true), then for real.\n\
             4. create_subscription(cluster_name=\"{target}\", subscription_name=\"migrate_{db}\", dbname=\"{db}\", \
             publication_name=\"migrate_{db}\", external_cluster=\"{source}\", dry_run=true), then for real; \
             list_subscriptions until applied.\n\
             5. When the copy has caught up, stop writes on `{source}`, copy the sequences (`kubectl cnpg \
             subscription sync-sequences`: this server cannot run SQL), and point applications at `{target}`.\n\
             6. Clean up with delete_subscription and delete_publication (drop_in_postgres=true) once the user \
             confirms. Ask before every write."
        );
        Ok(user_message(text))
    }

    fn complete_argument(_prompt: String, _argument: String, _value: String) -> Vec<String> {
        Vec::new()
    }
}
