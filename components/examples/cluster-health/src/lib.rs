//! Example custom tool component: `get_cluster_health_summary`, a
//! read-only summary of the CloudNativePG clusters of one namespace — which
//! are healthy, and what is wrong with the others. Copy this crate to start
//! a component of your own (see components/README.md).

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::kube::{self, cnpg, collection};
use cnpg_mcp_sdk::tool::{self, Effect, Format, Outcome, Tool, namespace_or_default, run_with, schema_of, success};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

// The permissions this component asks for; `cnpg-mcp components validate
// --grant FILE` compares them with the operator's grant.
cnpg_mcp_sdk::requested_grant!("../grant.toml");

/// Arguments of `get_cluster_health_summary`. The tool's input schema is
/// derived from this struct (doc comments become descriptions).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Namespace to summarize. Default: the server's namespace.
    #[schemars(regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub namespace: Option<String>,
    /// Text rendering: `text` (default) or `json`.
    #[serde(default)]
    pub format: Format,
}

/// The fields of a Cluster this tool reads (typed view; the rest is ignored).
#[derive(Debug, Deserialize)]
struct Cluster {
    metadata: Metadata,
    // Option: a new object may have no (or a null) spec or status yet.
    spec: Option<Spec>,
    status: Option<Status>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
struct Spec {
    #[serde(default)]
    instances: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    phase: Option<String>,
    #[serde(default)]
    ready_instances: u32,
    current_primary: Option<String>,
    target_primary: Option<String>,
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Debug, Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
    message: Option<String>,
}

/// One cluster in the summary.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ClusterHealth {
    pub name: String,
    pub phase: Option<String>,
    pub ready_instances: u32,
    pub instances: u32,
    pub healthy: bool,
    /// What is wrong, one line each.
    pub problems: Vec<String>,
}

/// The tool's structured result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    pub namespace: String,
    pub healthy: u32,
    pub unhealthy: u32,
    pub clusters: Vec<ClusterHealth>,
}

const HEALTHY_PHASE: &str = "Cluster in healthy state";

fn assess(cluster: Cluster) -> ClusterHealth {
    let status = cluster.status.unwrap_or_default();
    let instances = cluster.spec.unwrap_or_default().instances;
    let mut problems = Vec::new();
    match status.phase.as_deref() {
        Some(HEALTHY_PHASE) => {}
        Some(phase) => problems.push(format!("phase: {phase}")),
        None => problems.push("no status yet (is the operator running?)".into()),
    }
    if status.ready_instances < instances {
        problems.push(format!("{} of {} instances ready", status.ready_instances, instances));
    }
    if let (Some(current), Some(target)) = (&status.current_primary, &status.target_primary)
        && current != target
    {
        problems.push(format!("primary changing from {current} to {target}"));
    }
    for condition in &status.conditions {
        if condition.kind == "ContinuousArchiving" && condition.status == "False" {
            problems.push(format!(
                "WAL archiving failing: {}",
                condition.message.as_deref().unwrap_or("no message")
            ));
        }
    }
    ClusterHealth {
        name: cluster.metadata.name,
        phase: status.phase,
        ready_instances: status.ready_instances,
        instances,
        healthy: problems.is_empty(),
        problems,
    }
}

fn summarize(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |args: Args, _| -> Outcome {
        let namespace = namespace_or_default(&args.namespace);
        let clusters: Vec<Cluster> = kube::list_as(&collection(cnpg("clusters"), Some(&namespace)), None)?;
        let mut clusters: Vec<ClusterHealth> = clusters.into_iter().map(assess).collect();
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        let healthy = clusters.iter().filter(|c| c.healthy).count() as u32;
        let summary = Summary {
            unhealthy: clusters.len() as u32 - healthy,
            healthy,
            namespace,
            clusters,
        };
        let mut text = format!(
            "{}: {} healthy, {} unhealthy",
            summary.namespace, summary.healthy, summary.unhealthy
        );
        for c in summary.clusters.iter().filter(|c| !c.healthy) {
            text.push_str(&format!("\n- {}: {}", c.name, c.problems.join("; ")));
        }
        Ok(success(&summary, text, args.format))
    })
}

const TOOLS: &[Tool] = &[Tool {
    name: "get_cluster_health_summary",
    title: "Cluster health summary",
    description: "Which CloudNativePG clusters of a namespace are healthy, and what is wrong with the others \
                  (phase, ready instances, primary changes, WAL archiving).",
    effect: Effect::Read,
    input_schema: schema_of::<Args>,
    output_schema: Some(schema_of::<Summary>),
    run: summarize,
}];

struct ClusterHealthTools;

impl Guest for ClusterHealthTools {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::no_prompts!(ClusterHealthTools);
cnpg_mcp_sdk::bindings::export!(ClusterHealthTools with_types_in cnpg_mcp_sdk::bindings);
