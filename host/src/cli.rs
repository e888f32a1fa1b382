//! `cnpg-mcp components ...` and `cnpg-mcp rbac`: list and inspect
//! components, and print RBAC from their grants, without serving.

use std::path::Path;

use serde_json::{Value, json};

use crate::config::ComponentArgs;
use crate::runtime::{LoadedComponent, sources};
use crate::server;

fn describe(component: &LoadedComponent) -> Value {
    let tools: Vec<Value> = component
        .tools
        .iter()
        .map(|t| {
            let d = &t.descriptor;
            json!({
                "name": d.name,
                "title": d.title,
                "description": d.description,
                "inputSchema": t.input_schema,
                "outputSchema": t.output_schema,
                "annotations": {
                    "readOnlyHint": d.annotations.read_only,
                    "destructiveHint": d.annotations.destructive,
                    "idempotentHint": d.annotations.idempotent,
                    "openWorldHint": d.annotations.open_world,
                },
            })
        })
        .collect();
    json!({
        "name": &*component.name,
        "origin": component.origin.to_string(),
        "world": format!("{}@{}", crate::runtime::bindings::WIT_PACKAGE, crate::runtime::bindings::WIT_VERSION),
        "imports": component.imports,
        "exports": component.exports,
        "limits": {
            "memory_mib": component.limits.memory_bytes >> 20,
            "timeout_ms": component.limits.timeout.as_millis() as u64,
            "cpu_ms": component.limits.cpu.as_millis() as u64,
        },
        "grant": component.grant,
        "tools": tools,
        "prompts": component.prompts.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "resources": component.resources.iter().map(|r| r.uri.clone()).collect::<Vec<_>>(),
        "resource_templates": component.templates.iter().map(|t| t.uri_template.clone()).collect::<Vec<_>>(),
    })
}

/// `components list`: tools per component, one block per component.
pub async fn list(args: &ComponentArgs) -> anyhow::Result<String> {
    let runtime = server::runtime(args)?;
    server::load_components(&runtime, args).await?;
    let mut out = String::new();
    for component in runtime.registry().components() {
        out.push_str(&format!("{} ({})\n", component.name, component.origin));
        for tool in &component.tools {
            out.push_str(&format!("  {}\n", tool.descriptor.name));
        }
    }
    Ok(out)
}

/// `components inspect FILE.wasm|NAME`: world, imports, tools with
/// schemas, limits and the grant, as JSON. A name that is not a file is
/// looked up among the components `serve` would load (built-ins included,
/// with the grant that applies).
pub async fn inspect(args: &ComponentArgs, file: &Path) -> anyhow::Result<String> {
    let runtime = server::runtime(args)?;
    let source = if file.is_file() {
        sources::from_file(file)?
    } else {
        let name = file.to_string_lossy();
        sources::collect(!args.no_builtin, args.components.as_deref())?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                anyhow::anyhow!("{name} is neither a file nor the name of a component (see `components list`)")
            })?
    };
    let component = runtime.load_component(source).await?;
    Ok(serde_json::to_string_pretty(&describe(&component))?)
}

/// `cnpg-mcp rbac`.
#[derive(Debug, Clone, clap::Args)]
pub struct RbacArgs {
    /// Which verbs: reader (get/list/watch), operator (+ create/update/patch),
    /// admin (+ delete), impersonator (only `impersonate` users and groups).
    #[arg(long, value_enum)]
    pub profile: crate::rbac::Profile,
    /// Namespace of the Role and RoleBinding.
    #[arg(long, default_value = "default", conflicts_with = "cluster_wide")]
    pub namespace: String,
    /// A ClusterRole and ClusterRoleBinding instead (all namespaces).
    #[arg(long, default_value_t = false)]
    pub cluster_wide: bool,
    /// The server's service account.
    #[arg(long, default_value = "cnpg-mcp")]
    pub service_account: String,
    /// Namespace of the service account (default: `--namespace`).
    #[arg(long)]
    pub service_account_namespace: Option<String>,
    /// Name of the Role/ClusterRole (the profile is appended).
    #[arg(long, default_value = "cnpg-mcp")]
    pub name: String,
    /// Print only the rules, as JSON (for templating).
    #[arg(long, default_value_t = false)]
    pub rules_only: bool,
    #[command(flatten)]
    pub components: ComponentArgs,
}

/// `cnpg-mcp rbac`: RBAC from the grants of the components `serve` would load.
pub fn rbac(args: &RbacArgs) -> anyhow::Result<String> {
    let grants: Vec<(String, crate::runtime::grant::ComponentGrant)> =
        sources::collect(!args.components.no_builtin, args.components.components.as_deref())?
            .into_iter()
            .map(|s| (s.name, s.grant))
            .collect();
    let namespace = (!args.cluster_wide).then(|| args.namespace.clone());
    if args.rules_only {
        let (rules, notes) = crate::rbac::rules(&grants, args.profile, namespace.as_deref());
        let rules: Vec<Value> = rules.iter().map(crate::rbac::Rule::to_json).collect();
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({"rules": rules, "notes": notes}))?
        ));
    }
    let target = crate::rbac::Target {
        service_account_namespace: args
            .service_account_namespace
            .clone()
            .unwrap_or_else(|| args.namespace.clone()),
        namespace,
        service_account: args.service_account.clone(),
        name: args.name.clone(),
    };
    let (list, notes) = crate::rbac::manifests(&grants, args.profile, &target);
    crate::rbac::to_yaml(&list, &notes, args.profile)
}
