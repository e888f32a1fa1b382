//! Built-in component `cnpg-operations`: the day-2 operations of
//! `kubectl cnpg` — restart, reload, hibernate, fence, node maintenance —
//! each writing exactly what the plugin writes (operator v1.30.0,
//! `internal/cmd/plugin/{restart,reload,hibernate,fence,maintenance}`).

pub mod args;
mod ops;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Operations;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "restart_postgres_cluster",
        title: "Restart PostgreSQL",
        description: "Rolling restart of a cluster like `kubectl cnpg restart` (annotation \
                      `kubectl.kubernetes.io/restartedAt`), or of one instance: a replica's pod is recreated, the \
                      primary is restarted in place (cluster phase).",
        effect: Effect::Write,
        input_schema: schema_of::<args::Restart>,
        output_schema: None,
        run: ops::restart,
    },
    Tool {
        name: "reload_postgres_cluster",
        title: "Reload configuration",
        description: "Makes every instance reload its configuration and certificates, like `kubectl cnpg reload` \
                      (annotation `cnpg.io/reloadedAt`).",
        effect: Effect::Write,
        input_schema: schema_of::<args::Reload>,
        output_schema: None,
        run: ops::reload,
    },
    Tool {
        name: "hibernate_postgres_cluster",
        title: "Hibernate a cluster",
        description: "Hibernation on, off or status, like `kubectl cnpg hibernate` (annotation \
                      `cnpg.io/hibernation`): on deletes every instance's pod and keeps the volumes, so the data \
                      stays; off starts the instances again. `on` needs `confirm_hibernation: true`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::Hibernate>,
        output_schema: None,
        run: ops::hibernate,
    },
    Tool {
        name: "fence_postgres_instances",
        title: "Fence instances",
        description: "Fences one instance or all (`*`), or lifts it, like `kubectl cnpg fencing` (annotation \
                      `cnpg.io/fencedInstances`): a fenced instance keeps its pod but PostgreSQL is stopped and \
                      serves nothing. `on` needs `confirm_fencing: true`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::Fence>,
        output_schema: None,
        run: ops::fence,
    },
    Tool {
        name: "set_maintenance_window",
        title: "Node maintenance window",
        description: "Sets `spec.nodeMaintenanceWindow` like `kubectl cnpg maintenance set|unset`: maintenance in \
                      progress, and whether an instance on a drained node waits for its volume (`reuse_pvc`) or is \
                      recreated elsewhere.",
        effect: Effect::IdempotentWrite,
        input_schema: schema_of::<args::Maintenance>,
        output_schema: None,
        run: ops::maintenance,
    },
];

impl Guest for Operations {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::no_prompts!(Operations);
cnpg_mcp_sdk::bindings::export!(Operations with_types_in cnpg_mcp_sdk::bindings);
