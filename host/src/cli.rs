//! `cnpg-mcp components ...` and `cnpg-mcp rbac`: list and inspect
//! components, and print RBAC from their grants, without serving.

use std::path::Path;

use anyhow::Context as _;
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
/// schemas, limits, the grant and the grant the component requests, as
/// JSON. A name that is not a file is looked up among the components
/// `serve` would load (built-ins included, with the grant that applies).
pub async fn inspect(args: &ComponentArgs, file: &Path) -> anyhow::Result<String> {
    let runtime = server::runtime(args)?;
    let source = if file.is_file() {
        sources::from_file(file)?
    } else {
        let name = file.to_string_lossy();
        sources::collect(!args.no_builtin, &args.enable_builtin, args.components.as_deref())?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                anyhow::anyhow!("{name} is neither a file nor the name of a component (see `components list`)")
            })?
    };
    let requested = requested_grant(&source.wasm)?;
    let component = runtime.load_component(source).await?;
    let mut description = describe(&component);
    // What the component asks for (never granted by itself), beside what
    // the operator's grant gives it.
    description["requested_grant"] = serde_json::to_value(requested)?;
    Ok(serde_json::to_string_pretty(&description)?)
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
    /// Only these loaded components' grants (repeatable), e.g. the rules an
    /// opt-in built-in adds.
    #[arg(long = "component")]
    pub only: Vec<String>,
    #[command(flatten)]
    pub components: ComponentArgs,
}

/// `cnpg-mcp rbac`: RBAC from the grants of the components `serve` would load.
pub fn rbac(args: &RbacArgs) -> anyhow::Result<String> {
    let grants: Vec<(String, crate::runtime::grant::ComponentGrant)> = sources::collect(
        !args.components.no_builtin,
        &args.components.enable_builtin,
        args.components.components.as_deref(),
    )?
    .into_iter()
    .filter(|s| args.only.is_empty() || args.only.contains(&s.name))
    .map(|s| (s.name, s.grant))
    .collect();
    if let Some(missing) = args.only.iter().find(|n| !grants.iter().any(|(name, _)| name == *n)) {
        anyhow::bail!("`{missing}` is not a loaded component (an opt-in built-in needs --enable-builtin {missing})");
    }
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

/// Custom section of a component's requested grant (`cnpg_mcp_sdk::requested_grant!`).
pub const REQUESTED_GRANT_SECTION: &str = "cnpg-mcp:requested-grant";

/// The grant a component asks for (the SDK's `requested_grant!` custom
/// section), if it declares one.
pub fn requested_grant(wasm: &[u8]) -> anyhow::Result<Option<crate::runtime::grant::ComponentGrant>> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CustomSection(section) = payload?
            && section.name() == REQUESTED_GRANT_SECTION
        {
            let text = std::str::from_utf8(section.data())?;
            return Ok(Some(crate::runtime::grant::ComponentGrant::parse(text)?));
        }
    }
    Ok(None)
}

/// `cnpg-mcp components validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The component (`.wasm`).
    pub file: std::path::PathBuf,
    /// The operator's grant (default: `NAME.grant.toml` beside the file).
    #[arg(long)]
    pub grant: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub components: ComponentArgs,
}

fn source_with_grant(file: &Path, grant: Option<&Path>) -> anyhow::Result<crate::runtime::component::ComponentSource> {
    let mut source = sources::from_file(file)?;
    if let Some(path) = grant {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        source.grant = crate::runtime::grant::ComponentGrant::parse(&text)?;
    }
    Ok(source)
}

/// Checks a component the way the server would load it, and more: world
/// and contract version, imports, tools listed with valid schemas, unique
/// and well-formed tool names, descriptions, and whether the grant covers
/// what the component asks for. Returns the report and whether it passed.
pub async fn validate(args: &ValidateArgs) -> anyhow::Result<(String, bool)> {
    let mut lines: Vec<(bool, String)> = Vec::new();
    let source = source_with_grant(&args.file, args.grant.as_deref())?;
    let wasm = source.wasm.clone();
    let operator_grant = source.grant.clone();
    let runtime = server::runtime(&args.components)?;
    match runtime.load_component(source).await {
        Err(error) => lines.push((false, error.to_string())),
        Ok(component) => {
            lines.push((
                true,
                format!(
                    "`{}` loads: contract {}@{}, imports {}",
                    component.name,
                    crate::runtime::bindings::WIT_PACKAGE,
                    crate::runtime::bindings::WIT_VERSION,
                    component.imports.join(", ")
                ),
            ));
            let mut seen = std::collections::BTreeSet::new();
            for tool in &component.tools {
                let name = tool.descriptor.name.as_str();
                let well_formed = !name.is_empty()
                    && name.len() <= 128
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if !well_formed {
                    lines.push((false, format!("tool name `{name}` must be 1-128 of A-Z a-z 0-9 _ - .")));
                }
                if !seen.insert(name) {
                    lines.push((false, format!("tool name `{name}` is used twice")));
                }
                if tool.descriptor.description.trim().is_empty() {
                    lines.push((false, format!("tool `{name}` has no description")));
                }
            }
            let names: Vec<&str> = seen.into_iter().collect();
            lines.push((
                true,
                format!(
                    "{} tool(s) with valid input/output schemas: {}",
                    names.len(),
                    names.join(", ")
                ),
            ));
        }
    }
    match requested_grant(&wasm) {
        Err(error) => lines.push((false, format!("cannot read the requested grant: {error:#}"))),
        Ok(None) => lines.push((
            true,
            "the component declares no requested grant (cnpg_mcp_sdk::requested_grant!); nothing to compare".into(),
        )),
        Ok(Some(requested)) => {
            let missing = operator_grant.uncovered(&requested);
            if missing.is_empty() {
                lines.push((true, "the grant covers everything the component asks for".into()));
            }
            for item in missing {
                lines.push((
                    false,
                    format!("the grant does not allow {item}, which the component asks for"),
                ));
            }
        }
    }
    let ok = lines.iter().all(|(good, _)| *good);
    let report = lines
        .into_iter()
        .map(|(good, text)| format!("{}: {text}\n", if good { "ok" } else { "error" }))
        .collect();
    Ok((report, ok))
}

/// `cnpg-mcp components call`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// The component (`.wasm`).
    pub file: std::path::PathBuf,
    /// The tool to call.
    pub tool: String,
    /// Arguments, a JSON object.
    #[arg(long, default_value = "{}")]
    pub args: String,
    /// Answer the component's Kubernetes calls from this fixture (YAML or
    /// JSON list of `{verb, resource, namespace, name, reply | error}`)
    /// instead of a cluster; no grant applies.
    #[arg(long, conflicts_with = "kubeconfig")]
    pub kube_fixture: Option<std::path::PathBuf>,
    /// Kubeconfig of the cluster to call (default: KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The grant to apply (default: `NAME.grant.toml` beside the file).
    #[arg(long)]
    pub grant: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub components: ComponentArgs,
}

/// Runs one tool of a component without a server; returns the JSON report
/// and whether the call completed (a tool-level `isError` counts as
/// completed; with a fixture, every step must have been used as scripted).
pub async fn call(args: &CallArgs) -> anyhow::Result<(String, bool)> {
    let arguments: Value = serde_json::from_str(&args.args).context("--args is not JSON")?;
    let source = source_with_grant(&args.file, args.grant.as_deref())?;
    if let Some(fixture) = &args.kube_fixture {
        let text = std::fs::read_to_string(fixture).with_context(|| format!("cannot read {}", fixture.display()))?;
        let steps = crate::testkit::read_fixture(&text)?;
        let mut harness = crate::testkit::Harness::load(&source.wasm)?;
        for (key, value) in &source.grant.config {
            harness = harness.with_config(key, value);
        }
        let outcome = harness
            .call(&args.tool, arguments, steps, crate::testkit::ClientScript::default())
            .await?;
        let exchanges: Vec<Value> = outcome
            .exchanges
            .iter()
            .map(|e| {
                json!({"verb": e.verb, "resource": e.resource, "namespace": e.namespace, "name": e.name,
                       "body": e.body, "dry_run": e.dry_run})
            })
            .collect();
        let clean = outcome.mismatches.is_empty() && outcome.unused.is_empty();
        let report = json!({
            "is_error": outcome.is_error,
            "text": outcome.text,
            "structured": outcome.structured,
            "kubernetes": exchanges,
            "unscripted": outcome.mismatches,
            "unused_steps": outcome.unused.len(),
        });
        return Ok((serde_json::to_string_pretty(&report)?, clean));
    }
    let runtime = server::runtime(&args.components)?;
    let settings = crate::kube::KubeSettings {
        kubeconfig: args.kubeconfig.clone(),
        ..Default::default()
    };
    match crate::kube::KubeAccess::connect(&settings).await {
        Ok(access) => runtime.set_kube(access),
        Err(error) if args.kubeconfig.is_some() => return Err(error.context("cannot configure Kubernetes access")),
        Err(_) => {}
    }
    let registry = runtime.build_registry(vec![source]).await?;
    runtime.install(registry);
    let Value::Object(arguments) = arguments else {
        anyhow::bail!("--args must be a JSON object");
    };
    let request = crate::runtime::CallRequest {
        request_id: "cli".into(),
        share: "local".into(),
        caller: crate::caller::Caller::local(),
        progress_token: None,
        protocol_version: "2025-06-18".into(),
        peer: std::sync::Arc::new(crate::runtime::state::DiscardingPeer),
    };
    match runtime.call_tool(&args.tool, arguments, request).await {
        Ok(outcome) => {
            let text: Vec<String> = outcome
                .content
                .iter()
                .filter_map(|c| match c {
                    crate::runtime::bindings::cnpg::mcp::types::Content::Text(t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            let report =
                json!({"is_error": outcome.is_error, "text": text.join("\n"), "structured": outcome.structured});
            Ok((serde_json::to_string_pretty(&report)?, true))
        }
        Err(error) => Ok((
            serde_json::to_string_pretty(&json!({"error": error.to_string(), "outcome": error.outcome()}))?,
            false,
        )),
    }
}
