//! A prompt on sizing connection pooling.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::CallContext;
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{Guest, PromptDescriptor, PromptError, PromptResult};
use cnpg_mcp_sdk::prompt::{argument, required, user_message, value};

use crate::Poolers;

impl Guest for Poolers {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![PromptDescriptor {
            name: "scale_connections".into(),
            title: Some("Scale connections with a pooler".into()),
            description: Some("Decide whether a cluster needs a PgBouncer pooler and size it.".into()),
            arguments: vec![
                argument("cluster_name", "Cluster whose connections to scale", true),
                argument(
                    "expected_clients",
                    "Client connections expected at peak (optional)",
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
        if name != "scale_connections" {
            return Err(PromptError::UnknownPrompt(name));
        }
        let cluster = required(&arguments, "cluster_name")?;
        let clients = value(&arguments, "expected_clients").unwrap_or_else(|| "the expected number of".into());
        let text = format!(
            "Decide how cluster `{cluster}` should take {clients} client connections.\n\
             1. get_cluster_status(name=\"{cluster}\", detail_level=\"detailed\"): instances, and `max_connections` \
             if set in its PostgreSQL parameters (PostgreSQL's default is 100).\n\
             2. list_poolers(cluster_name=\"{cluster}\"): is there a pooler already, of which type?\n\
             3. A pooler helps when clients open many short or idle connections (web apps, serverless): \
             PgBouncer multiplexes them onto a few server connections. Keep the sum of `default_pool_size` over \
             databases/users and PgBouncer instances below `max_connections` minus the superuser reserve; set \
             `max_client_conn` to the client count plus headroom. `transaction` pool mode multiplexes most but breaks \
             session state (session-level prepared statements unless `max_prepared_statements` is set, advisory \
             locks, SET); `session` is safe.\n\
             4. Propose create_pooler(cluster_name=\"{cluster}\", type=\"rw\", instances=2, pool_mode=..., \
             parameters={{\"max_client_conn\": ..., \"default_pool_size\": ...}}, dry_run=true) and, for read \
             traffic, a `ro` pooler; for an existing pooler update_pooler with dry_run.\n\
             5. Apply only with the user's consent, then check get_pooler_status until its instances are ready, \
             and tell the user the address to connect to."
        );
        Ok(user_message(text))
    }

    fn complete_argument(_prompt: String, _argument: String, _value: String) -> Vec<String> {
        Vec::new()
    }
}
