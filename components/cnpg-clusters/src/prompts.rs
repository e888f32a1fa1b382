//! Prompts that help an assistant use the cluster tools well.

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::CallContext;
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::prompts::{Guest, PromptDescriptor, PromptError, PromptResult};
use cnpg_mcp_sdk::prompt::{argument, required, user_message, value};

use crate::Clusters;

impl Guest for Clusters {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![
            PromptDescriptor {
                name: "diagnose_cluster".into(),
                title: Some("Diagnose a PostgreSQL cluster".into()),
                description: Some("Steps to find out why a CloudNativePG cluster is unhealthy.".into()),
                arguments: vec![
                    argument("name", "Cluster name", true),
                    argument("namespace", "Namespace (optional)", false),
                ],
            },
            PromptDescriptor {
                name: "plan_storage_resize".into(),
                title: Some("Plan a storage resize".into()),
                description: Some("Grow or shrink a cluster's volumes safely.".into()),
                arguments: vec![
                    argument("name", "Cluster name", true),
                    argument("storage_size", "Target size, e.g. 20Gi", true),
                ],
            },
        ]
    }

    fn get_prompt(
        name: String,
        arguments: Vec<(String, String)>,
        _ctx: CallContext,
    ) -> Result<PromptResult, PromptError> {
        let cluster = required(&arguments, "name")?;
        let ns = value(&arguments, "namespace")
            .map(|n| format!(", namespace=\"{n}\""))
            .unwrap_or_default();
        let text = match name.as_str() {
            "diagnose_cluster" => format!(
                "Diagnose the CloudNativePG cluster `{cluster}`.\n\
                 1. Call get_cluster_status(name=\"{cluster}\"{ns}, detail_level=\"detailed\") and read the phase, \
                 the phase reason, each instance's health and the conditions.\n\
                 2. If instances are not ready, call get_cluster_resize_status(name=\"{cluster}\"{ns}) to rule out \
                 full or resizing volumes.\n\
                 3. If the target primary differs from the current primary, a switchover or failover is running: \
                 wait and check again rather than acting.\n\
                 4. If a tool answers forbidden or unavailable, call get_session_info.\n\
                 Report what you found and propose changes; make no change without the user's consent."
            ),
            "plan_storage_resize" => {
                let size = required(&arguments, "storage_size")?;
                format!(
                    "Resize the storage of cluster `{cluster}` to {size}.\n\
                     1. Call get_cluster_resize_status(name=\"{cluster}\") to see the current sizes.\n\
                     2. Preview with resize_postgres_cluster(name=\"{cluster}\", storage_size=\"{size}\", dry_run=true).\n\
                     3. Growing happens in place. Shrinking replaces every instance: explain that to the user and \
                     only with their consent call it with confirm_shrink=true.\n\
                     4. Follow get_cluster_resize_status's next step until it says nothing is left to do."
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
