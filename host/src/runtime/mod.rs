//! The component runtime: one wasmtime engine, a registry of loaded
//! components, and a fresh, limited store for every call.
//!
//! Call path: admission (the caller's own share of the slots, queued per
//! caller, then the server's semaphore) -> argument validation against the
//! tool's schema (no instantiation when invalid) -> fresh store (empty WASI
//! context, memory cap, CPU budget in epoch ticks) -> instantiate from the
//! pre-linked component -> call -> result size and output schema checked ->
//! drop the store whatever happened.

pub mod bindings;
mod cache;
mod capabilities;
pub mod component;
pub mod engine;
pub mod grant;
pub mod policy;
pub mod registry;
pub mod sources;
pub mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use wasmtime::component::{Instance, Linker};
use wasmtime::{Engine, Store};

use bindings::ToolFull;
use bindings::cnpg::mcp::types;
use bindings::exports::cnpg::mcp::{prompts, resources};
pub use cache::ArtifactCache;
pub use component::{ComponentOrigin, ComponentSource, LoadError, LoadedComponent, ToolEntry};
pub use engine::{AllocatorKind, EngineSettings};
pub use registry::{DuplicateTool, Registry};
pub use state::{
    CallPeer, CallScope, CallState, ClientFailure, DiscardingPeer, ElicitOutcome, GuestLogLevel, InputKind,
    InputRequest, InputRequired, InputResponse,
};

use crate::caller::Caller;

/// Runtime settings (from the host configuration).
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    pub engine: EngineSettings,
    /// Where precompiled artifacts are kept; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// How long a call waits for an admission permit before the server
    /// answers that it is busy.
    pub admission_wait: Duration,
    /// Call slots one caller may hold at once (its share of
    /// `max_concurrent_calls`); its further calls queue behind its own.
    /// 0: no share, only the global limit.
    pub max_calls_per_caller: u32,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            engine: EngineSettings {
                max_concurrent_calls: 64,
                max_memory_bytes: 128 << 20,
                pooling: true,
            },
            cache_dir: None,
            admission_wait: Duration::from_secs(10),
            max_calls_per_caller: 0,
        }
    }
}

/// Everything a call needs to know about its request.
pub struct CallRequest {
    pub request_id: String,
    /// Whom the call counts against for its share of the call slots
    /// ([`Caller::owner_key`]).
    pub share: String,
    pub caller: Caller,
    /// The client's progress token, rendered as text, if it sent one.
    pub progress_token: Option<String>,
    pub protocol_version: String,
    pub peer: Arc<dyn CallPeer>,
}

/// A tool's answer.
#[derive(Debug, Clone)]
pub struct ToolOutcome {
    pub content: Vec<types::Content>,
    pub structured: Option<serde_json::Value>,
    pub is_error: bool,
}

/// Why a call produced no normal result. Everything except `UnknownTool`
/// and `Overloaded` is reported to the client as a tool error
/// (`isError: true`) so the model can see and react to it.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool: {0}")]
    UnknownTool(String),
    #[error("invalid arguments for tool `{tool}`: {}", .problems.join("; "))]
    InvalidArguments { tool: String, problems: Vec<String> },
    #[error("the server is busy: no call slot became free within {0:?}; retry later")]
    Overloaded(Duration),
    #[error("component `{component}` exceeded its wall-clock limit of {limit:?}")]
    Timeout { component: String, limit: Duration },
    #[error("component `{component}` used up its CPU budget of {limit:?}")]
    CpuExhausted { component: String, limit: Duration },
    #[error("component `{component}` exceeded its memory limit of {limit_mib} MiB")]
    OutOfMemory { component: String, limit_mib: u64 },
    #[error("component `{component}` trapped: {detail}")]
    Trapped { component: String, detail: String },
    #[error("{kind}: {message}")]
    Tool { kind: &'static str, message: String },
    #[error("tool `{tool}` returned structured content that does not match its output schema: {detail}")]
    BadOutput { tool: String, detail: String },
    #[error("the call needs input from the client")]
    InputRequired(Vec<InputRequest>),
    #[error("this tool needs the client capability `{0}`, which the client did not declare")]
    MissingClientCapability(String),
    #[error("unknown prompt: {0}")]
    UnknownPrompt(String),
    #[error("resource not found: {0}")]
    ResourceNotFound(String),
}

impl CallError {
    /// Short name of the outcome, for audit records and metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            CallError::UnknownTool(_) => "unknown-tool",
            CallError::InvalidArguments { .. } => "invalid-arguments",
            CallError::Overloaded(_) => "overloaded",
            CallError::Timeout { .. } => "timeout",
            CallError::CpuExhausted { .. } => "cpu-exhausted",
            CallError::OutOfMemory { .. } => "out-of-memory",
            CallError::Trapped { .. } => "trapped",
            CallError::Tool { .. } => "tool-error",
            CallError::BadOutput { .. } => "bad-output",
            CallError::InputRequired(_) => "input-required",
            CallError::MissingClientCapability(_) => "missing-client-capability",
            CallError::UnknownPrompt(_) => "unknown-prompt",
            CallError::ResourceNotFound(_) => "resource-not-found",
        }
    }
}

/// Largest tool result (content and structured text together) passed on
/// to the client; a component can build far larger strings within its
/// memory cap.
pub const MAX_RESULT_BYTES: usize = 16 << 20;

/// Bytes of text a tool's output carries.
fn output_bytes(output: &types::ToolOutput) -> usize {
    let content: usize = output
        .content
        .iter()
        .map(|c| match c {
            types::Content::Text(text) => text.len(),
            types::Content::Image(blob) | types::Content::Audio(blob) => blob.data.len() + blob.mime_type.len(),
            types::Content::EmbeddedResource(r) => {
                r.uri.len() + r.text.as_ref().map_or(0, String::len) + r.blob.as_ref().map_or(0, String::len)
            }
            types::Content::Link(link) => {
                link.uri.len() + link.name.len() + link.description.as_ref().map_or(0, String::len)
            }
        })
        .sum();
    content + output.structured.as_ref().map_or(0, String::len)
}

/// A caller's place in [`Runtime::shares`] for the length of one call;
/// the last one out removes the caller's queue.
struct ShareSlot<'a> {
    runtime: &'a Runtime,
    key: String,
    queue: Option<Arc<Semaphore>>,
}

impl<'a> ShareSlot<'a> {
    fn new(runtime: &'a Runtime, key: &str) -> Self {
        let per_caller = runtime.settings.max_calls_per_caller as usize;
        let queue = (per_caller > 0).then(|| {
            let mut shares = runtime.shares.lock().unwrap_or_else(|p| p.into_inner());
            shares
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(per_caller)))
                .clone()
        });
        ShareSlot {
            runtime,
            key: key.to_string(),
            queue,
        }
    }
}

impl Drop for ShareSlot<'_> {
    fn drop(&mut self) {
        if self.queue.take().is_none() {
            return;
        }
        let mut shares = self.runtime.shares.lock().unwrap_or_else(|p| p.into_inner());
        if shares.get(&self.key).is_some_and(|queue| Arc::strong_count(queue) == 1) {
            shares.remove(&self.key);
        }
    }
}

/// The runtime: engine, linker, loaded components, admission control.
pub struct Runtime {
    engine: Engine,
    allocator: AllocatorKind,
    linker: Linker<CallState>,
    cache: ArtifactCache,
    settings: RuntimeSettings,
    admission: Arc<Semaphore>,
    /// Each caller's own queue for its share of the slots, while it has
    /// calls running or waiting.
    shares: Mutex<HashMap<String, Arc<Semaphore>>>,
    registry: RwLock<Arc<Registry>>,
    kube: std::sync::OnceLock<Arc<crate::kube::KubeAccess>>,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    pub fn new(settings: RuntimeSettings) -> anyhow::Result<Self> {
        let (engine, allocator) = engine::build_engine(&settings.engine)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("cannot link WASI: {e:#}"))?;
        ToolFull::add_to_linker::<CallState, wasmtime::component::HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("cannot link the host capabilities: {e:#}"))?;
        let cache = ArtifactCache::new(&engine, settings.cache_dir.clone());
        let ticker = engine::EpochTicker::start(&engine)?;
        let permits = settings.engine.max_concurrent_calls.max(1) as usize;
        Ok(Runtime {
            engine,
            allocator,
            linker,
            cache,
            admission: Arc::new(Semaphore::new(permits)),
            shares: Mutex::new(HashMap::new()),
            settings,
            registry: RwLock::new(Arc::new(Registry::default())),
            kube: std::sync::OnceLock::new(),
            _ticker: ticker,
        })
    }

    /// Connects the `k8s` capability to a cluster (once, at start-up).
    /// The largest memory cap a grant may give.
    pub fn max_memory_bytes(&self) -> u64 {
        self.settings.engine.max_memory_bytes
    }

    /// The cluster connection, when one is configured.
    pub fn kube(&self) -> Option<Arc<crate::kube::KubeAccess>> {
        self.kube.get().cloned()
    }

    pub fn set_kube(&self, access: crate::kube::KubeAccess) {
        let _ = self.kube.set(Arc::new(access));
    }

    /// Calls holding an admission permit right now.
    pub fn in_flight_calls(&self) -> usize {
        (self.settings.engine.max_concurrent_calls.max(1) as usize).saturating_sub(self.admission.available_permits())
    }

    pub fn allocator(&self) -> AllocatorKind {
        self.allocator
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads one component (compile or cache, check, link, describe).
    pub async fn load_component(&self, source: ComponentSource) -> Result<LoadedComponent, LoadError> {
        LoadedComponent::load(
            &self.engine,
            &self.linker,
            &self.cache,
            source,
            self.settings.engine.max_memory_bytes,
        )
        .await
    }

    /// Loads every source and builds a registry, without installing it.
    pub async fn build_registry(&self, sources: Vec<ComponentSource>) -> anyhow::Result<Registry> {
        let mut loaded = Vec::with_capacity(sources.len());
        for source in sources {
            let started = Instant::now();
            let component = self.load_component(source).await?;
            tracing::info!(
                component = %component.name,
                origin = %component.origin,
                tools = component.tools.len(),
                prompts = component.prompts.len(),
                resources = component.resources.len() + component.templates.len(),
                cached = component.from_cache,
                ms = started.elapsed().as_millis() as u64,
                "component loaded"
            );
            loaded.push(Arc::new(component));
        }
        Ok(Registry::new(loaded)?)
    }

    /// Installs a registry; calls already running keep the previous one.
    pub fn install(&self, registry: Registry) {
        let mut slot = self.registry.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(registry);
    }

    /// The current registry (cheap: one reference count).
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Calls a tool. Arguments are validated against the tool's input
    /// schema before anything is instantiated. Every call leaves one audit
    /// record (target `cnpg_mcp::audit`): caller, tool, outcome, duration
    /// and the Kubernetes requests it made.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        request: CallRequest,
    ) -> Result<ToolOutcome, CallError> {
        let started = Instant::now();
        let caller = request.caller.clone();
        let request_id = request.request_id.clone();
        let journal = Arc::new(crate::kube::Journal::default());
        let result = self.call_tool_inner(name, arguments, request, journal.clone()).await;
        let outcome = match &result {
            Ok(outcome) if outcome.is_error => "tool-error",
            Ok(_) => "ok",
            Err(error) => error.outcome(),
        };
        let (requests, dropped) = journal.snapshot();
        let elapsed = started.elapsed();
        let metrics = &crate::metrics::METRICS;
        metrics.count(
            "cnpg_mcp_tool_calls_total",
            vec![("tool", name.to_string()), ("outcome", outcome.to_string())],
        );
        metrics.observe(
            "cnpg_mcp_tool_call_duration_seconds",
            vec![("tool", name.to_string())],
            elapsed,
        );
        if let Err(
            error @ (CallError::Trapped { .. }
            | CallError::Timeout { .. }
            | CallError::OutOfMemory { .. }
            | CallError::CpuExhausted { .. }),
        ) = &result
        {
            let component = self
                .registry()
                .tool(name)
                .map(|(component, _)| component.name.to_string())
                .unwrap_or_default();
            metrics.count(
                "cnpg_mcp_component_failures_total",
                vec![("component", component), ("kind", error.outcome().to_string())],
            );
        }
        for request in &requests {
            metrics.count(
                "cnpg_mcp_kubernetes_requests_total",
                vec![("verb", request.verb.clone()), ("code", request.code.to_string())],
            );
        }
        tracing::info!(
            target: crate::telemetry::AUDIT_TARGET,
            request_id = %request_id,
            caller = %caller.subject,
            issuer = %caller.issuer,
            client_id = caller.client_id.as_deref().unwrap_or(""),
            tool = name,
            outcome,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            kubernetes = %serde_json::to_string(&requests).unwrap_or_default(),
            kubernetes_dropped = dropped,
            "tool call"
        );
        result
    }

    async fn call_tool_inner(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        request: CallRequest,
        journal: Arc<crate::kube::Journal>,
    ) -> Result<ToolOutcome, CallError> {
        let registry = self.registry();
        let (component, tool) = registry
            .tool(name)
            .ok_or_else(|| CallError::UnknownTool(name.to_string()))?;
        let arguments = serde_json::Value::Object(arguments);
        let secrets = write_only_values(&tool.input_schema, &arguments);
        let problems: Vec<String> = tool
            .input_validator
            .iter_errors(&arguments)
            .take(8)
            .map(|error| {
                let path = error.instance_path().to_string();
                let field = if path.is_empty() {
                    "arguments".to_string()
                } else {
                    format!("`{path}`")
                };
                redact(format!("{field}: {error}"), &secrets)
            })
            .collect();
        if !problems.is_empty() {
            return Err(CallError::InvalidArguments {
                tool: name.to_string(),
                problems,
            });
        }
        let arguments_json = arguments.to_string();
        let tools_indices = component.tools_indices.clone();
        let tool_name = name.to_string();
        let result = self
            .run(component, request, journal, move |store, instance, ctx| {
                Box::pin(async move {
                    let guest = tools_indices.load(&mut *store, instance)?;
                    guest
                        .call_call_tool(&mut *store, &tool_name, &arguments_json, &ctx)
                        .await
                })
            })
            .await?;
        let output = result.map_err(tool_error)?;
        let size = output_bytes(&output);
        if size > MAX_RESULT_BYTES {
            return Err(CallError::BadOutput {
                tool: name.to_string(),
                detail: format!("the result is {size} bytes; a tool result may have at most {MAX_RESULT_BYTES}"),
            });
        }
        // MCP tools: a tool that declares an output schema must return
        // structured content matching it on success.
        let structured = match output.structured {
            None if tool.output_validator.is_some() && !output.is_error => {
                return Err(CallError::BadOutput {
                    tool: name.to_string(),
                    detail: "no structured content, although the tool declares an output schema".into(),
                });
            }
            None => None,
            Some(text) => {
                let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| CallError::BadOutput {
                    tool: name.to_string(),
                    detail: e.to_string(),
                })?;
                if let Some(validator) = tool.output_validator.as_ref().filter(|_| !output.is_error)
                    && let Some(error) = validator.iter_errors(&value).next()
                {
                    return Err(CallError::BadOutput {
                        tool: name.to_string(),
                        detail: format!("`{}`: {error}", error.instance_path()),
                    });
                }
                Some(value)
            }
        };
        Ok(ToolOutcome {
            content: output.content,
            structured,
            is_error: output.is_error,
        })
    }

    /// Renders a prompt.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Vec<(String, String)>,
        request: CallRequest,
    ) -> Result<prompts::PromptResult, CallError> {
        let registry = self.registry();
        let component = registry
            .prompt_owner(name)
            .ok_or_else(|| CallError::UnknownPrompt(name.to_string()))?;
        let Some(indices) = component.prompts_indices.clone() else {
            return Err(CallError::UnknownPrompt(name.to_string()));
        };
        let prompt = name.to_string();
        let result = self
            .run(component, request, Default::default(), move |store, instance, ctx| {
                Box::pin(async move {
                    let guest = indices.load(&mut *store, instance)?;
                    guest.call_get_prompt(&mut *store, &prompt, &arguments, &ctx).await
                })
            })
            .await?;
        result.map_err(|error| match error {
            prompts::PromptError::UnknownPrompt(m) => CallError::UnknownPrompt(m),
            prompts::PromptError::InvalidArguments(m) => CallError::InvalidArguments {
                tool: name.to_string(),
                problems: vec![m],
            },
            prompts::PromptError::Other(m) => CallError::Tool {
                kind: "prompt failed",
                message: m,
            },
        })
    }

    /// Completion values for a prompt argument.
    pub async fn complete_prompt_argument(
        &self,
        prompt: &str,
        argument: &str,
        value: &str,
        request: CallRequest,
    ) -> Result<Vec<String>, CallError> {
        let registry = self.registry();
        let component = registry
            .prompt_owner(prompt)
            .ok_or_else(|| CallError::UnknownPrompt(prompt.to_string()))?;
        let Some(indices) = component.prompts_indices.clone() else {
            return Err(CallError::UnknownPrompt(prompt.to_string()));
        };
        let (prompt, argument, value) = (prompt.to_string(), argument.to_string(), value.to_string());
        self.run(component, request, Default::default(), move |store, instance, _ctx| {
            Box::pin(async move {
                let guest = indices.load(&mut *store, instance)?;
                guest
                    .call_complete_argument(&mut *store, &prompt, &argument, &value)
                    .await
            })
        })
        .await
    }

    /// Reads a resource by URI.
    pub async fn read_resource(
        &self,
        uri: &str,
        request: CallRequest,
    ) -> Result<Vec<types::ResourceContents>, CallError> {
        let registry = self.registry();
        let component = registry
            .resource_owner(uri)
            .ok_or_else(|| CallError::ResourceNotFound(uri.to_string()))?;
        let Some(indices) = component.resources_indices.clone() else {
            return Err(CallError::ResourceNotFound(uri.to_string()));
        };
        let target = uri.to_string();
        let result = self
            .run(component, request, Default::default(), move |store, instance, ctx| {
                Box::pin(async move {
                    let guest = indices.load(&mut *store, instance)?;
                    guest.call_read_resource(&mut *store, &target, &ctx).await
                })
            })
            .await?;
        result.map_err(|error| match error {
            resources::ResourceError::NotFound(m) => CallError::ResourceNotFound(m),
            resources::ResourceError::Other(m) => CallError::Tool {
                kind: "resource read failed",
                message: m,
            },
        })
    }

    /// Admission, fresh store, instantiation, the call itself under the
    /// component's wall-clock limit, and classification of any failure.
    async fn run<R, F>(
        &self,
        component: &Arc<LoadedComponent>,
        request: CallRequest,
        journal: Arc<crate::kube::Journal>,
        call: F,
    ) -> Result<R, CallError>
    where
        F: for<'a> FnOnce(
            &'a mut Store<CallState>,
            &'a Instance,
            types::CallContext,
        ) -> BoxFuture<'a, wasmtime::Result<R>>,
    {
        let wait = self.settings.admission_wait;
        let deadline = tokio::time::Instant::now() + wait;
        // First a place in the caller's own share (FIFO per caller), then a
        // slot of the server's: one caller cannot hold every slot.
        let share = ShareSlot::new(self, &request.share);
        let _own = match &share.queue {
            Some(queue) => match tokio::time::timeout_at(deadline, queue.clone().acquire_owned()).await {
                Ok(Ok(permit)) => Some(permit),
                _ => return Err(CallError::Overloaded(wait)),
            },
            None => None,
        };
        let _permit = match tokio::time::timeout_at(deadline, self.admission.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(CallError::Overloaded(wait)),
        };
        let limits = component.limits;
        let ctx = types::CallContext {
            request_id: request.request_id.clone(),
            caller: types::Caller {
                subject: request.caller.subject.clone(),
                issuer: request.caller.issuer.clone(),
                username: request.caller.username.clone(),
                groups: request.caller.groups.clone(),
                client_id: request.caller.client_id.clone(),
                scopes: request.caller.scopes.clone(),
            },
            deadline_ms: limits.timeout.as_millis() as u64,
            progress_token: request.progress_token.clone(),
            protocol_version: request.protocol_version,
        };
        let kube = self
            .kube
            .get()
            .map(|access| access.for_call(&request.caller, limits.max_response_bytes, journal.clone()));
        let scope = Arc::new(CallScope {
            component: component.name.clone(),
            request_id: request.request_id,
            caller: request.caller,
            progress_token: request.progress_token.is_some(),
            config: component.config.clone(),
            grant: component.grant.clone(),
            kube,
            journal,
            max_list_items: limits.max_list_items,
            peer: request.peer,
        });
        let mut store = component.new_store(scope);
        let pre = &component.pre;
        let outcome = tokio::time::timeout(limits.timeout, async {
            let instantiating = Instant::now();
            let instance = pre.instantiate_async(&mut store).await?;
            crate::metrics::METRICS.observe(
                "cnpg_mcp_component_instantiation_seconds",
                vec![("component", component.name.to_string())],
                instantiating.elapsed(),
            );
            call(&mut store, &instance, ctx).await
        })
        .await;
        let name = component.name.to_string();
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Err(_elapsed) => Err(CallError::Timeout {
                component: name,
                limit: limits.timeout,
            }),
            Ok(Err(error)) => {
                if let Some(input) = error.downcast_ref::<InputRequired>() {
                    return Err(CallError::InputRequired(input.requests.clone()));
                }
                let state = store.data();
                Err(if state.limits.refused_memory {
                    CallError::OutOfMemory {
                        component: name,
                        limit_mib: limits.memory_bytes >> 20,
                    }
                } else if matches!(error.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) {
                    CallError::CpuExhausted {
                        component: name,
                        limit: limits.cpu,
                    }
                } else {
                    let detail = match error.downcast_ref::<wasmtime::Trap>() {
                        Some(trap) => trap.to_string(),
                        None => format!("{error:#}"),
                    };
                    CallError::Trapped {
                        component: name,
                        detail,
                    }
                })
            }
        }
    }
}

fn tool_error(error: types::ToolError) -> CallError {
    use types::ToolError as E;
    let (kind, message) = match error {
        E::UnknownTool(m) => return CallError::UnknownTool(m),
        E::InvalidArguments(m) => ("invalid arguments", m),
        E::NotPermitted(m) => ("not permitted", m),
        E::Conflict(m) => ("conflict", m),
        E::Upstream(m) => ("upstream error", m),
        E::DeadlineExceeded(m) => ("deadline exceeded", m),
        E::Cancelled(m) => ("cancelled", m),
        E::MissingClientCapability(m) => return CallError::MissingClientCapability(m),
        E::Other(m) => ("error", m),
    };
    CallError::Tool { kind, message }
}

/// The JSON texts of the arguments whose top-level property the input
/// schema marks `writeOnly` (JSON Schema 2020-12 validation vocabulary,
/// section 9.4: a value sent but never returned, such as a password).
fn write_only_values(schema: &serde_json::Value, arguments: &serde_json::Value) -> Vec<String> {
    let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, property)| property.get("writeOnly").and_then(|w| w.as_bool()) == Some(true))
        .filter_map(|(name, _)| arguments.get(name))
        .map(|value| value.to_string())
        .collect()
}

/// A validation message without those values: validator messages quote
/// the offending instance, which may hold them.
fn redact(mut message: String, secrets: &[String]) -> String {
    for secret in secrets {
        message = message.replace(secret.as_str(), "\"<redacted>\"");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_messages_never_quote_write_only_arguments() {
        let schema = json!({"type": "object", "properties": {
            "password": {"type": "string", "writeOnly": true, "maxLength": 4},
            "role_name": {"type": "string"},
        }});
        let arguments = json!({"password": "hunter2-secret", "role_name": "app"});
        let secrets = write_only_values(&schema, &arguments);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let messages: Vec<String> = validator
            .iter_errors(&arguments)
            .map(|e| redact(e.to_string(), &secrets))
            .collect();
        assert_eq!(messages.len(), 1);
        assert!(
            !messages[0].contains("hunter2") && messages[0].contains("<redacted>"),
            "{messages:?}"
        );
        assert!(write_only_values(&schema, &json!({"role_name": "app"})).is_empty());
    }
}
