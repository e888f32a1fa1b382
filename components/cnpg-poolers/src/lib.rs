//! Built-in component `cnpg-poolers`: PgBouncer connection poolers
//! (CloudNativePG `Pooler` objects) in front of a cluster.

pub mod args;
mod poolers;
mod prompts;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Poolers;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "list_poolers",
        title: "List connection poolers",
        description: "PgBouncer Poolers of a cluster or a namespace: type (rw/ro/r), instances wanted and running, \
                      pool mode, paused, phase.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListPoolers>,
        output_schema: Some(schema_of::<poolers::PoolerList>),
        run: poolers::list_poolers,
    },
    Tool {
        name: "get_pooler_status",
        title: "Pooler status",
        description: "One Pooler: type, instances (wanted, reported, Deployment ready), pool mode, PgBouncer \
                      parameters, paused, auth query settings, its Service and port, the operator's phase and error.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetPooler>,
        output_schema: Some(schema_of::<poolers::PoolerInfo>),
        run: poolers::get_pooler,
    },
    Tool {
        name: "create_pooler",
        title: "Create connection pooler",
        description: "Creates a PgBouncer Pooler for a cluster (type rw, ro or r). PgBouncer parameters are checked \
                      against the ones the operator allows before anything is written; auth query settings are the \
                      operator's defaults unless given.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreatePooler>,
        output_schema: None,
        run: poolers::create_pooler,
    },
    Tool {
        name: "update_pooler",
        title: "Change a pooler",
        description: "Changes a Pooler's instances, pool mode or PgBouncer parameters (null removes one), or pauses \
                      and resumes it (merge patch of what changes).",
        effect: Effect::IdempotentWrite,
        input_schema: schema_of::<args::UpdatePooler>,
        output_schema: None,
        run: poolers::update_pooler,
    },
    Tool {
        name: "delete_pooler",
        title: "Delete connection pooler",
        description: "Deletes a Pooler; the operator's Deployment and Service go with it, and clients connected \
                      through it are cut off. Needs `confirm_deletion: true`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeletePooler>,
        output_schema: None,
        run: poolers::delete_pooler,
    },
];

impl Guest for Poolers {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::bindings::export!(Poolers with_types_in cnpg_mcp_sdk::bindings);
