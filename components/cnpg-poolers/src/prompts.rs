//! A prompt on sizing connection pooling.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, Content};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{
    Guest, PromptArgument, PromptDescriptor, PromptError, PromptMessage, PromptResult, Role,
};

use crate::Poolers;

impl Guest for Poolers {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![PromptDescriptor {
            name: "scale_connections".into(),
            title: Some("Scale connections with a pooler".into()),
            description: Some("Decide whether a cluster needs a PgBouncer pooler and size it.".into()),
            arguments: vec![
                PromptArgument {
                    name: "cluster_name".into(),
                    description: Some("Cluster whose connections to scale".into()),
                    required: true,
                },
                PromptArgument {
                    name: "expected_clients".into(),
                    description: Some("Client connections expected at peak (optional)".into()),
                    required: false,
                },
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
        let value = |key: &str| {
            arguments
                .iter()
                .find(|(k, v)| k == key && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let cluster =
            value("cluster_name").ok_or_else(|| PromptError::InvalidArguments("`cluster_name` is required".into()))?;
        let clients = value("expected_clients").unwrap_or_else(|| "the expected number of".into());
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
        Ok(PromptResult {
            description: None,
            messages: vec![PromptMessage {
                role: Role::User,
                content: Content::Text(text),
            }],
        })
    }

    fn complete_argument(_prompt: String, _argument: String, _value: String) -> Vec<String> {
        Vec::new()
    }
}
