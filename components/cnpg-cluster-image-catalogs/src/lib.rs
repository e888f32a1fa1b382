//! Opt-in built-in component `cnpg-cluster-image-catalogs`: the
//! cluster-scoped `ClusterImageCatalog`s. The catalog logic is
//! cnpg-upgrades' (`catalogs.rs`, compiled here too); only the scope and
//! the grant differ.

#[path = "../../cnpg-upgrades/src/args.rs"]
pub mod args;
#[path = "../../cnpg-upgrades/src/catalogs.rs"]
pub mod catalogs;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::names::CLUSTER_NAME_PATTERN;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, run_with, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct ClusterImageCatalogs;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct List {}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Create {
    /// Name of the new cluster-wide catalog.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// One to eight images, each for a different major version.
    #[schemars(length(min = 1, max = 8))]
    pub images: Vec<args::CatalogImage>,
    /// Validate server-side and show the manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delete {
    /// Name of the catalog.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Must be true to delete.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Delete although clusters use it (they stop being reconciled until they point elsewhere).
    #[serde(default)]
    pub even_if_used: bool,
    /// Validate server-side; nothing is deleted.
    #[serde(default)]
    pub dry_run: bool,
}

fn list(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |_: List, _| catalogs::list(catalogs::CLUSTER_WIDE, ""))
}

fn create(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: Create, _| {
        catalogs::create(catalogs::CLUSTER_WIDE, "", &a.name, &a.images, a.dry_run)
    })
}

fn delete(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    run_with(arguments, ctx, |a: Delete, _| {
        catalogs::delete(
            catalogs::CLUSTER_WIDE,
            "",
            &a.name,
            &raw,
            a.confirm_deletion,
            a.even_if_used,
            a.dry_run,
        )
    })
}

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "list_cluster_image_catalogs",
        title: "List cluster image catalogs",
        description: "The cluster-scoped ClusterImageCatalogs: the image for each PostgreSQL major, and which \
                      clusters in any namespace use each.",
        effect: Effect::Read,
        input_schema: schema_of::<List>,
        output_schema: Some(schema_of::<catalogs::CatalogList>),
        run: list,
    },
    Tool {
        name: "create_cluster_image_catalog",
        title: "Create a cluster image catalog",
        description: "Creates a ClusterImageCatalog, usable from every namespace: one image per PostgreSQL major \
                      (1 to 8), each tag naming the major it is listed under.",
        effect: Effect::Write,
        input_schema: schema_of::<Create>,
        output_schema: None,
        run: create,
    },
    Tool {
        name: "delete_cluster_image_catalog",
        title: "Delete a cluster image catalog",
        description: "Deletes a ClusterImageCatalog. Refused while clusters use it unless `even_if_used: true`. \
                      Needs `confirm_deletion: true`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<Delete>,
        output_schema: None,
        run: delete,
    },
];

impl Guest for ClusterImageCatalogs {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::no_prompts!(ClusterImageCatalogs);
cnpg_mcp_sdk::bindings::export!(ClusterImageCatalogs with_types_in cnpg_mcp_sdk::bindings);
