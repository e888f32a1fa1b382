//! Built-in component `cnpg-upgrades`: minor and in-place major upgrades
//! of a cluster's PostgreSQL, and the namespaced image catalogs clusters
//! take their images from (operator v1.30.0).

pub mod args;
pub mod catalogs;
mod prompts;
mod upgrade;

use serde_json::Value;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, namespace_or_default, run_with, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct Upgrades;

fn list_catalogs(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::ListCatalogs, _| {
        catalogs::list(catalogs::NAMESPACED, &namespace_or_default(&a.namespace))
    })
}

fn create_catalog(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateCatalog, _| {
        let ns = namespace_or_default(&a.namespace);
        catalogs::create(catalogs::NAMESPACED, &ns, &a.name, &a.images, a.dry_run)
    })
}

fn delete_catalog(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    run_with(arguments, ctx, |a: args::DeleteCatalog, _| {
        let ns = namespace_or_default(&a.namespace);
        catalogs::delete(
            catalogs::NAMESPACED,
            &ns,
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
        name: "upgrade_postgres_cluster",
        title: "Upgrade PostgreSQL",
        description: "Moves a cluster to a new image (`image`) or catalog entry (`catalog`). Same major: a rolling \
                      update, replicas first. Higher major: the operator's offline in-place upgrade (pg_upgrade); it \
                      needs `confirm_major_upgrade: true` and a completed backup (or `without_backup: true`), and \
                      cannot be undone once it completed. A lower major is refused.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::Upgrade>,
        output_schema: None,
        run: upgrade::upgrade,
    },
    Tool {
        name: "list_image_catalogs",
        title: "List image catalogs",
        description: "The ImageCatalogs of a namespace: the image for each PostgreSQL major, and which clusters use \
                      each catalog.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListCatalogs>,
        output_schema: Some(schema_of::<catalogs::CatalogList>),
        run: list_catalogs,
    },
    Tool {
        name: "create_image_catalog",
        title: "Create an image catalog",
        description: "Creates an ImageCatalog: one image per PostgreSQL major (1 to 8). Each image's tag must name \
                      the major it is listed under.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateCatalog>,
        output_schema: None,
        run: create_catalog,
    },
    Tool {
        name: "delete_image_catalog",
        title: "Delete an image catalog",
        description: "Deletes an ImageCatalog. Refused while clusters use it unless `even_if_used: true` (they would \
                      stop being reconciled). Needs `confirm_deletion: true`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteCatalog>,
        output_schema: None,
        run: delete_catalog,
    },
];

impl Guest for Upgrades {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::bindings::export!(Upgrades with_types_in cnpg_mcp_sdk::bindings);
