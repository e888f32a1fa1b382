//! Built-in component `cnpg-roles-databases`: PostgreSQL roles
//! (DatabaseRole objects with their password Secrets) and databases
//! (Database objects) of CloudNativePG clusters.

pub mod args;
mod databases;
mod prompts;
mod roles;
mod state;

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolDescriptor, ToolError, ToolOutput};
use cnpg_mcp_sdk::bindings::exports::cnpg::mcp::tools::Guest;
use cnpg_mcp_sdk::tool::{self, Effect, Tool, schema_of};

// What the component asks for: its default grant (`components validate`
// compares an operator's override with it).
cnpg_mcp_sdk::requested_grant!("../grant.toml");

pub struct RolesDatabases;

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "list_postgres_roles",
        title: "List PostgreSQL roles",
        description: "Roles of a cluster: its DatabaseRole objects and the legacy `spec.managed.roles`, with \
                      attributes and reconciliation state.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListRoles>,
        output_schema: Some(schema_of::<roles::RoleList>),
        run: roles::list_roles,
    },
    Tool {
        name: "get_postgres_role_status",
        title: "Role status",
        description: "One role's attributes and whether the operator applied them.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetRole>,
        output_schema: Some(schema_of::<roles::RoleInfo>),
        run: roles::get_role,
    },
    Tool {
        name: "create_postgres_role",
        title: "Create PostgreSQL role",
        description: "Creates a DatabaseRole and, unless `disable_password`, a basic-auth Secret with a generated \
                      password (never shown; the answer says where to read it). Both or neither: the Secret is \
                      removed again if the role cannot be created; an existing Secret is never overwritten.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateRole>,
        output_schema: None,
        run: roles::create_role,
    },
    Tool {
        name: "update_postgres_role",
        title: "Update PostgreSQL role",
        description: "Changes only the attributes given (merge patch); `reset_password` stores a newly generated \
                      password in the role's Secret.",
        effect: Effect::Write,
        input_schema: schema_of::<args::UpdateRole>,
        output_schema: None,
        run: roles::update_role,
    },
    Tool {
        name: "delete_postgres_role",
        title: "Delete PostgreSQL role",
        description: "Deletes the DatabaseRole (with `drop_role` also the PostgreSQL role) and the password Secret \
                      if this server created it. Needs `confirm_deletion: true`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteRole>,
        output_schema: None,
        run: roles::delete_role,
    },
    Tool {
        name: "list_postgres_databases",
        title: "List PostgreSQL databases",
        description: "Database objects of a cluster with owner, reclaim policy and reconciliation state.",
        effect: Effect::Read,
        input_schema: schema_of::<args::ListDatabases>,
        output_schema: Some(schema_of::<databases::DatabaseList>),
        run: databases::list_databases,
    },
    Tool {
        name: "get_postgres_database_status",
        title: "Database status",
        description: "One database's spec and status, including its extensions and schemas.",
        effect: Effect::Read,
        input_schema: schema_of::<args::GetDatabase>,
        output_schema: Some(schema_of::<databases::DatabaseInfo>),
        run: databases::get_database,
    },
    Tool {
        name: "create_postgres_database",
        title: "Create PostgreSQL database",
        description: "Creates a Database object `<cluster>-<database>` (encoding, locale, extensions, schemas as \
                      given); the operator creates the database.",
        effect: Effect::Write,
        input_schema: schema_of::<args::CreateDatabase>,
        output_schema: None,
        run: databases::create_database,
    },
    Tool {
        name: "delete_postgres_database",
        title: "Delete PostgreSQL database",
        description: "Deletes the Database object (found by its PostgreSQL name, whatever the object is called); \
                      the database is dropped only if its reclaim policy is `delete`. Needs `confirm_deletion: true`.",
        effect: Effect::Destructive,
        input_schema: schema_of::<args::DeleteDatabase>,
        output_schema: None,
        run: databases::delete_database,
    },
];

impl Guest for RolesDatabases {
    fn list_tools() -> Vec<ToolDescriptor> {
        tool::descriptors(TOOLS)
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        tool::dispatch(TOOLS, &name, &arguments, &ctx)
    }
}

cnpg_mcp_sdk::bindings::export!(RolesDatabases with_types_in cnpg_mcp_sdk::bindings);
