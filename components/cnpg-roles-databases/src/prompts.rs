//! Prompts that help an assistant manage roles and databases well.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::CallContext;
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{Guest, PromptDescriptor, PromptError, PromptResult};
use cnpg_mcp_sdk::prompt::{argument, required, user_message};

use crate::RolesDatabases;

impl Guest for RolesDatabases {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![
            PromptDescriptor {
                name: "rotate_role_password".into(),
                title: Some("Rotate a role's password".into()),
                description: Some("Rotate a PostgreSQL role's password without showing it.".into()),
                arguments: vec![
                    argument("cluster_name", "Cluster name", true),
                    argument("role_name", "Role name", true),
                ],
            },
            PromptDescriptor {
                name: "provision_application".into(),
                title: Some("Provision an application database".into()),
                description: Some("Create an owner role and a database for an application.".into()),
                arguments: vec![
                    argument("cluster_name", "Cluster name", true),
                    argument("application", "Application name (lowercase, `_` allowed)", true),
                ],
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
            "rotate_role_password" => {
                let role = required(&arguments, "role_name")?;
                format!(
                    "Rotate the password of role `{role}` in cluster `{cluster}`.\n\
                     1. get_postgres_role_status(cluster_name=\"{cluster}\", role_name=\"{role}\") to find its Secret.\n\
                     2. Preview with update_postgres_role(cluster_name=\"{cluster}\", role_name=\"{role}\", reset_password=true, dry_run=true).\n\
                     3. With the user's consent, run it without dry_run. The new password is never shown: tell the user \
                     which Secret and key hold it, and that applications must reconnect with it."
                )
            }
            "provision_application" => {
                let app = required(&arguments, "application")?;
                format!(
                    "Provision database `{app}` owned by role `{app}` in cluster `{cluster}`.\n\
                     1. create_postgres_role(cluster_name=\"{cluster}\", role_name=\"{app}\", login=true, dry_run=true), then for real.\n\
                     2. create_postgres_database(cluster_name=\"{cluster}\", database_name=\"{app}\", owner=\"{app}\", dry_run=true), then for real.\n\
                     3. Check both with get_postgres_role_status and get_postgres_database_status until applied.\n\
                     4. Tell the user the Secret holding the password; never print the password."
                )
            }
            other => return Err(PromptError::UnknownPrompt(other.to_string())),
        };
        Ok(user_message(text))
    }

    fn complete_argument(_prompt: String, _argument: String, _value: String) -> Vec<String> {
        Vec::new()
    }
}
