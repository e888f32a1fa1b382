//! Loading one component: compile (or load from cache), check its world
//! and imports, link, `instantiate_pre` once, read its tools once, and
//! compile their JSON-Schema validators once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};

use super::bindings::exports::cnpg::mcp::{prompts, resources, tools};
use super::bindings::{WIT_PACKAGE, WIT_VERSION, cnpg::mcp::types};
use super::cache::ArtifactCache;
use super::grant::{CallLimits, ComponentGrant};
use super::state::{CallScope, CallState, DiscardingPeer};
use crate::caller::Caller;

/// Where a component came from, for messages and `components list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentOrigin {
    /// Embedded in the binary.
    BuiltIn,
    /// Loaded from a file.
    File(PathBuf),
}

impl std::fmt::Display for ComponentOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComponentOrigin::BuiltIn => f.write_str("built-in"),
            ComponentOrigin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A component before loading: its bytes, where they came from, its grant.
pub struct ComponentSource {
    pub name: String,
    pub origin: ComponentOrigin,
    pub wasm: Arc<[u8]>,
    pub grant: ComponentGrant,
}

/// One tool, as the component described it, with its compiled validators.
pub struct ToolEntry {
    pub descriptor: types::ToolDescriptor,
    pub input_schema: serde_json::Value,
    pub output_schema: Option<serde_json::Value>,
    pub input_validator: jsonschema::Validator,
    pub output_validator: Option<jsonschema::Validator>,
}

/// A component ready to be instantiated for calls.
pub struct LoadedComponent {
    pub name: Arc<str>,
    pub origin: ComponentOrigin,
    pub grant: Arc<ComponentGrant>,
    pub config: Arc<BTreeMap<String, String>>,
    pub limits: CallLimits,
    pub(crate) pre: InstancePre<CallState>,
    pub(crate) tools_indices: tools::GuestIndices,
    pub(crate) prompts_indices: Option<prompts::GuestIndices>,
    pub(crate) resources_indices: Option<resources::GuestIndices>,
    pub tools: Vec<ToolEntry>,
    pub prompts: Vec<prompts::PromptDescriptor>,
    pub resources: Vec<resources::ResourceDescriptor>,
    pub templates: Vec<resources::ResourceTemplate>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub from_cache: bool,
}

/// Why a component could not be loaded. Every message names the component.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{origin}: not a valid WebAssembly component: {detail}")]
    Invalid { origin: ComponentOrigin, detail: String },
    #[error(
        "{origin}: built for {found}, but this host implements {WIT_PACKAGE}@{WIT_VERSION}; rebuild it against wit/ of this release (compatible versions: {WIT_PACKAGE}@0.1.x)"
    )]
    IncompatibleVersion { origin: ComponentOrigin, found: String },
    #[error(
        "{origin}: does not export `{WIT_PACKAGE}/tools@{WIT_VERSION}`; a tool component must target the `tool` world of wit/"
    )]
    NotATool { origin: ComponentOrigin },
    #[error(
        "{origin}: imports `{import}`, which this host does not provide (components may import only {WIT_PACKAGE}@{WIT_VERSION} interfaces and WASI 0.2)"
    )]
    MissingImport { origin: ComponentOrigin, import: String },
    #[error("{origin}: cannot be linked: {detail}")]
    Link { origin: ComponentOrigin, detail: String },
    #[error("{origin}: failed while listing its tools: {detail}")]
    ListFailed { origin: ComponentOrigin, detail: String },
    #[error("{origin}: tool `{tool}` has an invalid {which} schema: {detail}")]
    BadSchema {
        origin: ComponentOrigin,
        tool: String,
        which: &'static str,
        detail: String,
    },
    #[error("{origin}: declares tool `{tool}` twice")]
    DuplicateWithin { origin: ComponentOrigin, tool: String },
}

/// Splits `ns:pkg/iface@1.2.3` into (`ns:pkg`, `iface`, `1.2.3`).
fn split_interface(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (package, rest) = name.split_once('/')?;
    match rest.split_once('@') {
        Some((iface, version)) => Some((package, iface, Some(version))),
        None => Some((package, rest, None)),
    }
}

/// Versions compatible with ours under semver rules as the component model
/// applies them (below 1.0 the minor version is the breaking one).
fn version_compatible(version: &str) -> bool {
    let ours: Vec<&str> = WIT_VERSION.split('.').collect();
    let theirs: Vec<&str> = version.split('.').collect();
    theirs.len() == 3 && theirs[0] == ours[0] && theirs[1] == ours[1]
}

/// Interfaces provided by `wasmtime_wasi::p2::add_to_linker_async`.
fn is_wasi_p2(name: &str) -> bool {
    matches!(split_interface(name), Some((package, _, Some(version)))
        if package.starts_with("wasi:") && version.starts_with("0.2."))
        && !name.starts_with("wasi:http/")
}

impl LoadedComponent {
    pub(crate) async fn load(
        engine: &Engine,
        linker: &Linker<CallState>,
        cache: &ArtifactCache,
        source: ComponentSource,
        engine_max_memory: u64,
    ) -> Result<Self, LoadError> {
        let origin = source.origin.clone();
        // Component binaries start with `\0asm` and a layer-1 version
        // header; anything else (text format, a core module's header is
        // handled by wasmtime) is refused with a plain message.
        if !source.wasm.starts_with(b"\0asm") {
            return Err(LoadError::Invalid {
                origin,
                detail: "not a WebAssembly binary (no \\0asm header)".into(),
            });
        }
        let (component, from_cache) = cache.load(engine, &source.wasm).map_err(|e| LoadError::Invalid {
            origin: origin.clone(),
            detail: format!("{e:#}"),
        })?;
        let (imports, exports) = check_world(engine, &component, &origin)?;
        let pre = linker.instantiate_pre(&component).map_err(|e| LoadError::Link {
            origin: origin.clone(),
            detail: format!("{e:#}"),
        })?;
        let tools_indices =
            tools::GuestIndices::new(&pre).map_err(|_| LoadError::NotATool { origin: origin.clone() })?;
        let prompts_indices = prompts::GuestIndices::new(&pre).ok();
        let resources_indices = resources::GuestIndices::new(&pre).ok();
        let limits = source.grant.call_limits(engine_max_memory);
        let config = Arc::new(source.grant.config.clone());
        let mut loaded = LoadedComponent {
            name: Arc::from(source.name.as_str()),
            origin,
            grant: Arc::new(source.grant),
            config,
            limits,
            pre,
            tools_indices,
            prompts_indices,
            resources_indices,
            tools: Vec::new(),
            prompts: Vec::new(),
            resources: Vec::new(),
            templates: Vec::new(),
            imports,
            exports,
            from_cache,
        };
        loaded.describe().await?;
        Ok(loaded)
    }

    /// Calls the listing exports once, in a store of its own, as the local
    /// identity and with the component's normal limits.
    async fn describe(&mut self) -> Result<(), LoadError> {
        let fail = |e: wasmtime::Error| LoadError::ListFailed {
            origin: self.origin.clone(),
            detail: format!("{e:#}"),
        };
        let mut store = self.new_store(load_scope(&self.name, self.config.clone(), self.grant.clone()));
        let instance = self.pre.instantiate_async(&mut store).await.map_err(fail)?;
        let guest = self.tools_indices.load(&mut store, &instance).map_err(fail)?;
        let descriptors = guest.call_list_tools(&mut store).await.map_err(fail)?;
        if let Some(indices) = &self.prompts_indices {
            let guest = indices.load(&mut store, &instance).map_err(fail)?;
            self.prompts = guest.call_list_prompts(&mut store).await.map_err(fail)?;
        }
        if let Some(indices) = &self.resources_indices {
            let guest = indices.load(&mut store, &instance).map_err(fail)?;
            self.resources = guest.call_list_resources(&mut store).await.map_err(fail)?;
            self.templates = guest.call_list_templates(&mut store).await.map_err(fail)?;
        }
        let mut seen = std::collections::HashSet::new();
        for descriptor in descriptors {
            if !seen.insert(descriptor.name.clone()) {
                return Err(LoadError::DuplicateWithin {
                    origin: self.origin.clone(),
                    tool: descriptor.name,
                });
            }
            self.tools.push(self.tool_entry(descriptor)?);
        }
        Ok(())
    }

    fn tool_entry(&self, descriptor: types::ToolDescriptor) -> Result<ToolEntry, LoadError> {
        let schema_error = |which: &'static str, detail: String| LoadError::BadSchema {
            origin: self.origin.clone(),
            tool: descriptor.name.clone(),
            which,
            detail,
        };
        let input_schema: serde_json::Value =
            serde_json::from_str(&descriptor.input_schema).map_err(|e| schema_error("input", e.to_string()))?;
        if input_schema.get("type").and_then(|t| t.as_str()) != Some("object") {
            return Err(schema_error(
                "input",
                "the top level must be {\"type\": \"object\"} (MCP tools/list)".into(),
            ));
        }
        let input_validator =
            jsonschema::validator_for(&input_schema).map_err(|e| schema_error("input", e.to_string()))?;
        let (output_schema, output_validator) = match &descriptor.output_schema {
            None => (None, None),
            Some(text) => {
                let schema: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| schema_error("output", e.to_string()))?;
                let validator =
                    jsonschema::validator_for(&schema).map_err(|e| schema_error("output", e.to_string()))?;
                (Some(schema), Some(validator))
            }
        };
        Ok(ToolEntry {
            descriptor,
            input_schema,
            output_schema,
            input_validator,
            output_validator,
        })
    }

    /// A fresh store for one call, with this component's limits applied.
    pub(crate) fn new_store(&self, scope: Arc<CallScope>) -> Store<CallState> {
        let ticks = (self.limits.cpu.as_millis() / super::engine::EPOCH_TICK.as_millis()).max(1) as u64;
        let mut store = Store::new(
            self.pre.engine(),
            CallState::new(scope, self.limits.memory_bytes, ticks),
        );
        store.limiter(|state| &mut state.limits);
        // Each tick spent executing guest code costs one unit of the CPU
        // budget; in between, yield so other calls on this thread progress
        // (a runaway guest must not stall the executor).
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.cpu_ticks_left == 0 {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            state.cpu_ticks_left -= 1;
            Ok(wasmtime::UpdateDeadline::Yield(1))
        });
        store
    }

    pub fn tool(&self, name: &str) -> Option<&ToolEntry> {
        self.tools.iter().find(|t| t.descriptor.name == name)
    }
}

fn load_scope(
    component: &Arc<str>,
    config: Arc<BTreeMap<String, String>>,
    grant: Arc<ComponentGrant>,
) -> Arc<CallScope> {
    Arc::new(CallScope {
        component: component.clone(),
        request_id: "load".into(),
        caller: Caller::local(),
        progress_token: false,
        config,
        grant,
        kube: None,
        journal: Default::default(),
        max_list_items: 0,
        peer: Arc::new(DiscardingPeer),
    })
}

/// Checks imports and exports by name before linking, so errors say what
/// is wrong in our terms (version, missing capability) rather than the
/// linker's.
fn check_world(
    engine: &Engine,
    component: &Component,
    origin: &ComponentOrigin,
) -> Result<(Vec<String>, Vec<String>), LoadError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    for name in imports.iter().chain(exports.iter()) {
        if let Some((package, _, Some(version))) = split_interface(name)
            && package == WIT_PACKAGE
            && !version_compatible(version)
        {
            return Err(LoadError::IncompatibleVersion {
                origin: origin.clone(),
                found: format!("{package}@{version}"),
            });
        }
    }
    for name in &imports {
        let ours = matches!(split_interface(name), Some((package, _, Some(_))) if package == WIT_PACKAGE);
        if !ours && !is_wasi_p2(name) {
            return Err(LoadError::MissingImport {
                origin: origin.clone(),
                import: name.clone(),
            });
        }
    }
    Ok((imports, exports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rules_follow_component_model_semver() {
        assert!(version_compatible("0.1.0"));
        assert!(version_compatible("0.1.7"));
        assert!(!version_compatible("0.2.0"));
        assert!(!version_compatible("1.0.0"));
        assert!(!version_compatible("garbage"));
    }

    #[test]
    fn wasi_http_is_not_offered_to_tools() {
        assert!(is_wasi_p2("wasi:cli/environment@0.2.3"));
        assert!(!is_wasi_p2("wasi:http/outgoing-handler@0.2.3"));
        assert!(!is_wasi_p2("wasi:cli/environment@0.3.0"));
        assert!(!is_wasi_p2("test:evil/secrets@0.1.0"));
    }
}
