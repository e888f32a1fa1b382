//! Built-in component `cnpg-replication`: logical replication
//! (Publication and Subscription objects), a cluster's external clusters,
//! and replica clusters (create, promote, replication status).

pub mod args;
mod external;
mod logical;
mod prompts;
mod replica;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Replication;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "list_publications",
        title: "List publications",
        description: "Publication objects of a cluster or namespace: PostgreSQL name, database, tables or all \
                      tables, reclaim policy, whether the operator applied them.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListObjects>,
        output_schema: Some(schema_of::<logical::LogicalList>),
        run: logical::list_publications,
    },
    Tool {
        name: "create_publication",
        title: "Create publication",
        description: "Creates a Publication: all tables, or tables (with column lists) and schemas, as the CRD \
                      allows; checked before writing. The primary's instance manager runs CREATE PUBLICATION.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreatePublication>,
        output_schema: None,
        run: logical::create_publication,
    },
    Tool {
        name: "delete_publication",
        title: "Delete publication",
        description: "Deletes a Publication object (found by its PostgreSQL name). The publication is dropped in \
                      PostgreSQL only with reclaim policy `delete` (or `drop_in_postgres`). Needs `confirm_deletion`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteObject>,
        output_schema: None,
        run: logical::delete_publication,
    },
    Tool {
        name: "list_subscriptions",
        title: "List subscriptions",
        description: "Subscription objects of a cluster or namespace: publication, external cluster, database, \
                      reclaim policy, whether the operator applied them.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListObjects>,
        output_schema: Some(schema_of::<logical::LogicalList>),
        run: logical::list_subscriptions,
    },
    Tool {
        name: "create_subscription",
        title: "Create subscription",
        description: "Creates a Subscription of a cluster to a publication of an external cluster; refuses an \
                      external cluster the subscriber does not declare or that has no connection parameters.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateSubscription>,
        output_schema: None,
        run: logical::create_subscription,
    },
    Tool {
        name: "delete_subscription",
        title: "Delete subscription",
        description: "Deletes a Subscription object (found by its PostgreSQL name). The subscription is dropped in \
                      PostgreSQL only with reclaim policy `delete` (or `drop_in_postgres`). Needs `confirm_deletion`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteObject>,
        output_schema: None,
        run: logical::delete_subscription,
    },
    Tool {
        name: "list_external_clusters",
        title: "List external clusters",
        description: "A cluster's `spec.externalClusters`: connection parameters, Secret references (never values), \
                      object stores, and what uses each entry.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetCluster>,
        output_schema: Some(schema_of::<external::ExternalList>),
        run: external::list_external,
    },
    Tool {
        name: "add_external_cluster",
        title: "Add external cluster",
        description: "Adds (or with `replace` overwrites) an entry of `spec.externalClusters`: connection parameters \
                      and Secret references, or an object store through the barman-cloud plugin. Passwords only by \
                      Secret reference.",
        effect: Effect::IdempotentWrite,
        input_schema: schema_of::<args::AddExternalCluster>,
        output_schema: None,
        run: external::add_external,
    },
    Tool {
        name: "remove_external_cluster",
        title: "Remove external cluster",
        description: "Removes an entry of `spec.externalClusters`; refuses one a replica, bootstrap or Subscription \
                      uses. Needs `confirm_deletion`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::RemoveExternalCluster>,
        output_schema: None,
        run: external::remove_external,
    },
    Tool {
        name: "create_replica_cluster",
        title: "Create replica cluster",
        description: "Creates a new cluster that replicates from a cluster of the same namespace: streaming \
                      (pg_basebackup, then the `streaming_replica` user) or from its object store through the \
                      barman-cloud plugin. The source is only read.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateReplicaCluster>,
        output_schema: None,
        run: replica::create_replica,
    },
    Tool {
        name: "promote_replica_cluster",
        title: "Promote replica cluster",
        description: "Promotes a replica cluster: in a distributed topology with the former primary's demotion \
                      token (`spec.replica.primary` + `promotionToken`), otherwise by disabling replica mode \
                      (irreversible). Needs `confirm_promotion`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::PromoteReplicaCluster>,
        output_schema: None,
        run: replica::promote_replica,
    },
    Tool {
        name: "get_replication_status",
        title: "Replication status",
        description: "Replication as the Cluster status shows it: role (primary or replica cluster), primary, \
                      instances by state, timelines, synchronous replication and slot settings, replica-switch state \
                      and tokens.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetCluster>,
        output_schema: Some(schema_of::<replica::ReplicationStatus>),
        run: replica::replication_status,
    },
];

impl Guest for Replication {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::bindings::export!(Replication with_types_in cnpg_mcp_sdk::bindings);
