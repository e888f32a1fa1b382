//! Built-in component `cnpg-certificates`: client certificates signed by a
//! cluster's client CA, as `kubectl cnpg certificate` issues them
//! (operator v1.30.0, `internal/cmd/plugin/certificate`, `pkg/certs`).
//! Opt-in: it reads CA private keys, so no default RBAC profile loads it.

pub mod args;
mod issue;
pub mod pki;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Certificates;

pub const TOOLS: &[Tool] = &[Tool {
    name: "issue_client_certificate",
    title: "Issue a client certificate",
    description: "Issues a TLS client certificate for a PostgreSQL role, like `kubectl cnpg certificate`: a new \
                  ECDSA P-256 key, CN = the role, valid 90 days, signed by the cluster's client CA, stored in a new \
                  `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`; named `*-client-cert`). The key is never shown. \
                  PostgreSQL accepts it only where pg_hba has a `hostssl ... cert` rule for the role.",
    effect: Effect::Write,
    input_schema: schema_of::<args::IssueClientCertificate>,
    output_schema: None,
    run: issue::issue_client_certificate,
}];

impl Guest for Certificates {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::no_prompts!(Certificates);
cnpg_mcp_sdk::bindings::export!(Certificates with_types_in cnpg_mcp_sdk::bindings);
