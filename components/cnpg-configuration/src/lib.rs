//! Built-in component `cnpg-configuration`: a cluster's PostgreSQL
//! configuration — parameters, pg_hba/pg_ident, preloaded libraries,
//! synchronous replication — its resources and monitoring switches,
//! checked against the operator's rules (v1.30.0) before anything is sent.

pub mod args;
pub mod config;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Configuration;

pub const TOOLS: &[Tool] = &[Tool {
    name: "update_cluster_configuration",
    title: "Update cluster configuration",
    description: "Changes a cluster's PostgreSQL parameters, pg_hba/pg_ident lines, preloaded libraries, synchronous \
                  replication, CPU/memory or monitoring switches. Parameters the operator fixes or blocks are refused \
                  before anything is sent, with the reason. Answers with the spec's diff and what applying takes \
                  (reload, restart, pod rollout); `dry_run` validates server-side and shows the patch.",
    effect: Effect::IdempotentWrite,
    input_schema: schema_of::<args::Update>,
    output_schema: None,
    run: config::update,
}];

impl Guest for Configuration {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::no_prompts!(Configuration);
cnpg_mcp_sdk::bindings::export!(Configuration with_types_in cnpg_mcp_sdk::bindings);
