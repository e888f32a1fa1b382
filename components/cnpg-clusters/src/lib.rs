//! Built-in component `cnpg-clusters`: list, inspect, create, scale,
//! resize, switch over and delete CloudNativePG clusters and instances.
//! Tool and parameter names match the reference server's.

pub mod args;
pub mod model;
mod prompts;
mod read;
mod write;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Clusters;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "list_postgres_clusters",
        title: "List PostgreSQL clusters",
        description: "Lists CloudNativePG clusters with phase, ready/wanted instances, primary, image and storage. \
                      One namespace by default; `all_namespaces: true` searches every namespace you can read.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListClusters>,
        output_schema: Some(schema_of::<read::ClusterList>),
        run: read::list_clusters,
    },
    Tool {
        name: "get_cluster_status",
        title: "Cluster status",
        description: "Full status of one CloudNativePG cluster: phase and reason, instances with role and health, \
                      current and target primary, image, storage, conditions, certificate expiry, continuous \
                      archiving and backups, managed roles.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetCluster>,
        output_schema: Some(schema_of::<model::ClusterStatus>),
        run: read::get_cluster_status,
    },
    Tool {
        name: "create_postgres_cluster",
        title: "Create PostgreSQL cluster",
        description: "Creates a CloudNativePG Cluster (no tuning unless you pass `parameters`/`resources`). \
                      `dry_run` validates it server-side and shows the manifest; `wait` follows it until healthy \
                      with progress notifications.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateCluster>,
        output_schema: None,
        run: write::create_cluster,
    },
    Tool {
        name: "scale_postgres_cluster",
        title: "Scale PostgreSQL cluster",
        description: "Sets the number of instances of a cluster (merge patch of `spec.instances`).",
        effect: Effect::IdempotentWrite,
        input_schema: schema_of::<args::ScaleCluster>,
        output_schema: None,
        run: write::scale_cluster,
    },
    Tool {
        name: "delete_postgres_cluster",
        title: "Delete PostgreSQL cluster",
        description: "Deletes a cluster with all its instances and volumes. Needs `confirm_deletion: true`. Lists \
                      the cluster's dependent objects; with `delete_dependents` deletes them too, and only the role \
                      Secrets this server created.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteCluster>,
        output_schema: None,
        run: write::delete_cluster,
    },
    Tool {
        name: "resize_postgres_cluster",
        title: "Resize cluster storage",
        description: "Grows the data volumes in place, or starts the shrink migration (validation off, new size and \
                      extra instances in one patch, validation restored even on failure; needs `confirm_shrink`). \
                      Follow with get_cluster_resize_status.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::ResizeCluster>,
        output_schema: None,
        run: write::resize_cluster,
    },
    Tool {
        name: "get_cluster_resize_status",
        title: "Storage resize status",
        description: "Per volume: requested versus actual size and state (expanding, pending file system resize, \
                      too small, too large); instance readiness; the next step of a grow or shrink.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ResizeStatus>,
        output_schema: Some(schema_of::<read::ResizeReport>),
        run: read::resize_status,
    },
    Tool {
        name: "promote_cluster_instance",
        title: "Switch over to an instance",
        description: "Switchover like `kubectl cnpg promote`: sets the target primary on the cluster status (with an \
                      optimistic lock); the operator then demotes the primary and promotes the instance. Refuses \
                      instances not reported healthy unless `force`.",
        effect: Effect::Write,
        input_schema: schema_of::<args::PromoteInstance>,
        output_schema: None,
        run: write::promote_instance,
    },
    Tool {
        name: "delete_cluster_instance",
        title: "Recycle an instance",
        description: "Deletes one instance's pod and volumes so the operator recreates it fresh. Needs \
                      `confirm_deletion: true`; refuses the primary and the last healthy replica.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteInstance>,
        output_schema: None,
        run: write::delete_instance,
    },
];

impl Guest for Clusters {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::bindings::export!(Clusters with_types_in cnpg_mcp_sdk::bindings);
