//! Built-in component `cnpg-diagnostics`: a cluster's events, its
//! instances' logs parsed into fields, how to connect to it (Services,
//! Secret names and keys, never their values), a report bundling it all,
//! and the troubleshooting prompt.

pub mod args;
mod diag;
mod prompts;
mod report;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Diagnostics;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "get_cluster_events",
        title: "Cluster events",
        description: "Kubernetes events of a cluster and of its pods, volumes and jobs, newest first: reason, \
                      message, object, count, time.",
        effect: Effect::Read,
        input_schema: schema_of::<args::Events>,
        output_schema: Some(schema_of::<diag::EventList>),
        run: diag::events,
    },
    Tool {
        name: "get_cluster_logs",
        title: "Cluster logs",
        description: "The last lines of one instance's or every instance's `postgres` container log, the \
                      instance manager's JSON lines parsed into time, level, logger and message (PostgreSQL's own \
                      records included), optionally since a time and by level, bounded in bytes.",
        effect: Effect::Read,
        input_schema: schema_of::<args::Logs>,
        output_schema: Some(schema_of::<diag::LogReport>),
        run: diag::logs,
    },
    Tool {
        name: "get_connection_info",
        title: "Connection details",
        description: "How applications connect: the read-write, read-only and any-instance Services and port, the \
                      poolers, the Secrets and keys holding credentials and the CA (never their values), a \
                      connection URI without password, and the TLS mode to use.",
        effect: Effect::Read,
        input_schema: schema_of::<args::Connection>,
        output_schema: Some(schema_of::<diag::ConnectionInfo>),
        run: diag::connection,
    },
    Tool {
        name: "get_cluster_report",
        title: "Cluster report",
        description: "One bundle of everything about a cluster, like `kubectl cnpg report cluster` without Secrets: \
                      the Cluster (spec, status, conditions, certificate expirations), its pods, volumes, jobs, \
                      Services, backups, poolers and events.",
        effect: Effect::Read,
        input_schema: schema_of::<args::Report>,
        output_schema: Some(schema_of::<report::ClusterReport>),
        run: report::report,
    },
];

impl Guest for Diagnostics {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::bindings::export!(Diagnostics with_types_in cnpg_mcp_sdk::bindings);
