//! MCP protocol: an rmcp `ServerHandler` that serves the tools, prompts and
//! resources of the loaded components. Transport-neutral: the HTTP front
//! end and the stdio transport both drive it.

// Logging, sampling and roots are deprecated by SEP-2577 but remain part of
// every revision this server speaks, so their rmcp types are used on purpose.
#![allow(deprecated)]

mod convert;
mod peer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult, CompletionInfo,
    ContentBlock, DiscoverResult, ErrorCode, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, InputRequests, InputRequiredResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, ServerCapabilities, ServerConfig, SetLevelRequestParams,
    SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::caller::Caller;
use crate::runtime::registry::Registry;
use crate::runtime::{CallError, CallRequest, InputRequest, Runtime};
pub use crate::text::{bounded, shown};
use convert::Listings;
use peer::{InputMode, McpPeer, StatelessInputs};

pub use rmcp;

/// Longest failure message of a tool result (Kubernetes and schema
/// messages quote the input they refuse).
const FAILURE_CHARS: usize = 4096;

/// Server identity sent in `initialize` and `server/discover`.
pub const SERVER_NAME: &str = "cnpg-mcp";

const INSTRUCTIONS: &str = "Tools for PostgreSQL clusters run by the CloudNativePG operator on Kubernetes. \
Every tool acts as the authenticated user. Mutating tools support dry_run; destructive ones need confirmation. \
If a tool reports forbidden or unavailable, call get_session_info to see the identity in use.";

/// Settings of the protocol layer.
#[derive(Debug, Clone)]
pub struct McpSettings {
    /// Items per page of `*/list` results.
    pub page_size: usize,
    /// Key that seals `requestState` (SEP-2322); the same on every replica
    /// so that a retry may land on any of them.
    pub request_state_key: Vec<u8>,
    /// How long a session-revision call waits for the client to answer an
    /// elicitation or sampling request.
    pub client_input_timeout: Duration,
    /// How long a sealed request state stays valid.
    pub request_state_ttl: Duration,
}

/// State shared by every handler instance.
pub struct McpShared {
    runtime: Arc<Runtime>,
    settings: McpSettings,
    info: ServerConfig,
    codec: rmcp::model::RequestStateCodec,
    listings: Mutex<Option<(usize, Arc<Listings>)>>,
    next_request: AtomicU64,
    request_prefix: String,
}

impl McpShared {
    pub fn new(runtime: Arc<Runtime>, settings: McpSettings) -> anyhow::Result<Arc<Self>> {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_logging()
            .enable_completions()
            .build();
        let info = ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS);
        let codec = rmcp::model::RequestStateCodec::try_new(settings.request_state_key.clone())
            .map_err(|e| anyhow::anyhow!("request-state key: {e}"))?;
        let prefix = format!(
            "{:08x}",
            std::process::id() ^ (std::time::UNIX_EPOCH.elapsed().map(|d| d.subsec_nanos()).unwrap_or(0))
        );
        Ok(Arc::new(McpShared {
            runtime,
            settings,
            info,
            codec,
            listings: Mutex::new(None),
            next_request: AtomicU64::new(1),
            request_prefix: prefix,
        }))
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The key that seals request state and session ids.
    pub fn state_key(&self) -> &[u8] {
        &self.settings.request_state_key
    }

    /// A fresh handler: one per session (session revisions) or per request
    /// (stateless revision).
    pub fn handler(self: &Arc<Self>) -> McpHandler {
        McpHandler {
            shared: self.clone(),
            log_level: Arc::new(AtomicU8::new(LEVEL_UNSET)),
        }
    }

    fn listings(&self, registry: &Arc<Registry>) -> Arc<Listings> {
        let key = Arc::as_ptr(registry) as usize;
        let mut slot = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, listings)) = slot.as_ref().filter(|(cached, _)| *cached == key) {
            return listings.clone();
        }
        let listings = Arc::new(Listings::of(registry));
        *slot = Some((key, listings.clone()));
        listings
    }

    fn request_id(&self) -> String {
        format!(
            "{}-{}",
            self.request_prefix,
            self.next_request.fetch_add(1, Ordering::Relaxed)
        )
    }
}

const LEVEL_UNSET: u8 = u8::MAX;
/// Without `logging/setLevel`, session clients get `info` and above.
const DEFAULT_SESSION_LEVEL: u8 = 1;

#[derive(Clone)]
pub struct McpHandler {
    shared: Arc<McpShared>,
    /// The session's `logging/setLevel`, for the session revisions.
    log_level: Arc<AtomicU8>,
}

fn stateless(cx: &RequestContext<RoleServer>) -> bool {
    cx.protocol_version().is_some_and(|v| !v.has_initialize())
}

fn caller_of(cx: &RequestContext<RoleServer>) -> Caller {
    cx.extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .or_else(|| cx.extensions.get::<Caller>())
        .cloned()
        .unwrap_or_else(Caller::local)
}

fn page<T: Clone>(items: &[T], cursor: Option<&str>, size: usize) -> Result<(Vec<T>, Option<String>), ErrorData> {
    let start = match cursor {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= items.len())
            .ok_or_else(|| ErrorData::invalid_params(format!("invalid cursor `{}`", shown(c)), None))?,
    };
    let end = (start + size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

/// Binds a sealed request state to one caller and one request target, so
/// it cannot be replayed by someone else or for another tool.
fn state_binding(caller: &Caller, kind: &str, target: &str, arguments: &impl serde::Serialize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [caller.issuer.as_str(), caller.subject.as_str(), kind, target] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.update(serde_json::to_vec(arguments).unwrap_or_default());
    hash.finalize().to_vec()
}

/// What a call needs from its request, gathered once.
struct Invocation {
    caller: Caller,
    request_id: String,
    stateless: bool,
    binding: Vec<u8>,
    inputs: Option<Arc<StatelessInputs>>,
}

impl McpHandler {
    /// One page of a listing of the current registry.
    fn page_of<T: Clone>(
        &self,
        request: Option<&PaginatedRequestParams>,
        pick: impl Fn(&Listings) -> &Vec<T>,
    ) -> Result<(Vec<T>, Option<String>), ErrorData> {
        let registry = self.shared.runtime.registry();
        let listings = self.shared.listings(&registry);
        let cursor = request.and_then(|r| r.cursor.as_deref());
        page(pick(&listings), cursor, self.shared.settings.page_size)
    }

    fn invocation(
        &self,
        cx: &RequestContext<RoleServer>,
        kind: &str,
        target: &str,
        arguments: &impl serde::Serialize,
        input_responses: Option<&BTreeMap<String, Value>>,
        request_state: Option<&str>,
    ) -> Result<Invocation, ErrorData> {
        let caller = caller_of(cx);
        let stateless = stateless(cx);
        // Only the stateless revision seals request state; skip the hash
        // on the session revisions' hot path.
        let binding = if stateless {
            state_binding(&caller, kind, target, arguments)
        } else {
            Vec::new()
        };
        let inputs = if stateless {
            let mut available = BTreeMap::new();
            if let Some(sealed) = request_state {
                let earlier: BTreeMap<String, Value> =
                    self.shared.codec.open_json_with(sealed, &binding).map_err(|_| {
                        ErrorData::invalid_params("requestState is invalid, expired or was modified", None)
                    })?;
                available.extend(earlier);
            }
            if let Some(responses) = input_responses {
                available.extend(responses.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Some(Arc::new(StatelessInputs {
                available,
                ..StatelessInputs::default()
            }))
        } else {
            None
        };
        Ok(Invocation {
            caller,
            request_id: self.shared.request_id(),
            stateless,
            binding,
            inputs,
        })
    }

    fn min_log_level(&self, cx: &RequestContext<RoleServer>, stateless: bool) -> Option<u8> {
        if stateless {
            // SEP-2575: no log notifications unless the request asks for them.
            return cx.meta.log_level().map(peer::severity);
        }
        match self.log_level.load(Ordering::Relaxed) {
            LEVEL_UNSET => Some(DEFAULT_SESSION_LEVEL),
            level => Some(level),
        }
    }

    /// Runs `call` with a peer wired to this request, forwarding
    /// notifications in order and dropping the call when the client
    /// cancels.
    async fn with_peer<T, F, Fut>(&self, cx: &RequestContext<RoleServer>, invocation: &Invocation, call: F) -> Option<T>
    where
        F: FnOnce(CallRequest) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let progress_token = cx.meta.get_progress_token();
        let capabilities = cx
            .client_capabilities()
            .and_then(|c| serde_json::to_value(c).ok())
            .unwrap_or_else(|| json!({}));
        let input = match &invocation.inputs {
            Some(inputs) => InputMode::Stateless(inputs.clone()),
            None => InputMode::Live {
                timeout: self.shared.settings.client_input_timeout,
            },
        };
        let mcp_peer = McpPeer {
            peer: cx.peer.clone(),
            outgoing: tx,
            min_log_level: self.min_log_level(cx, invocation.stateless),
            capabilities,
            input,
        };
        let address = cx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<std::net::SocketAddr>())
            .map(std::net::SocketAddr::ip);
        let request = CallRequest {
            request_id: invocation.request_id.clone(),
            share: invocation.caller.owner_key(address),
            caller: invocation.caller.clone(),
            progress_token: progress_token.as_ref().map(|t| match serde_json::to_value(t) {
                Ok(Value::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(_) => String::new(),
            }),
            protocol_version: cx.protocol_version().map(|v| v.to_string()).unwrap_or_default(),
            peer: Arc::new(mcp_peer),
        };
        let forwarder = peer::forward(cx.peer.clone(), progress_token, rx);
        let work = async {
            let (result, ()) = tokio::join!(call(request), forwarder);
            result
        };
        tokio::select! {
            result = work => Some(result),
            () = cx.ct.cancelled() => {
                tracing::info!(request_id = %invocation.request_id, "call cancelled by the client; its instance was dropped");
                None
            }
        }
    }

    fn input_required(
        &self,
        invocation: &Invocation,
        requests: Vec<InputRequest>,
    ) -> Result<InputRequiredResult, ErrorData> {
        let inputs = invocation
            .inputs
            .as_ref()
            .ok_or_else(|| ErrorData::internal_error("input required outside a stateless request", None))?;
        if let Some(problem) = inputs.invalid.lock().ok().and_then(|p| p.clone()) {
            return Err(ErrorData::invalid_params(problem, None));
        }
        let mut wire = InputRequests::new();
        for request in requests {
            let value = peer::wire_request(&request.kind);
            let parsed = serde_json::from_value(value)
                .map_err(|e| ErrorData::internal_error(format!("cannot encode input request: {e}"), None))?;
            wire.insert(request.key, parsed);
        }
        let mut carried = inputs.used.lock().map(|u| u.clone()).unwrap_or_default();
        for (key, value) in &inputs.available {
            carried.entry(key.clone()).or_insert_with(|| value.clone());
        }
        let options = rmcp::model::SealOptions::new()
            .associated_data(&invocation.binding)
            .ttl(self.shared.settings.request_state_ttl);
        let state = self
            .shared
            .codec
            .seal_json_with(&carried, &options)
            .map_err(|e| ErrorData::internal_error(format!("cannot seal request state: {e}"), None))?;
        Ok(InputRequiredResult::new(Some(wire), Some(state)))
    }

    fn cancelled() -> ErrorData {
        ErrorData::new(ErrorCode::INTERNAL_ERROR, "the request was cancelled", None)
    }
}

/// Maps a failed call to the MCP answer: protocol errors for what the
/// client got wrong, `isError` results for what the tool ran into.
fn tool_failure(error: CallError, request_id: &str) -> Result<CallToolResult, ErrorData> {
    match error {
        CallError::UnknownTool(name) => Err(ErrorData::invalid_params(
            format!("Unknown tool: {}", shown(&name)),
            Some(json!({"name": shown(&name)})),
        )),
        CallError::MissingClientCapability(capability) => Err(ErrorData::new(
            ErrorCode(-32021),
            format!("this tool needs the client capability `{capability}`"),
            Some(json!({"requiredCapabilities": {capability: {}}})),
        )),
        other => {
            match &other {
                CallError::InvalidArguments { .. } | CallError::Tool { .. } => {
                    tracing::info!(request_id, error = %other, "tool call failed")
                }
                _ => tracing::warn!(request_id, error = %other, "tool call failed"),
            }
            let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
                "{} (request id {request_id})",
                bounded(&other.to_string(), FAILURE_CHARS)
            ))]);
            result.is_error = Some(true);
            Ok(result)
        }
    }
}

/// Why the params of a known method did not parse, in serde's words.
fn params_problem(method: &str, params: Option<Value>) -> Option<String> {
    fn check<T: serde::de::DeserializeOwned>(params: Option<Value>) -> String {
        match serde_json::from_value::<T>(params.unwrap_or(Value::Null)) {
            Err(error) => error.to_string(),
            Ok(_) => "parameters do not match the method".to_string(),
        }
    }
    Some(match method {
        "tools/call" => check::<CallToolRequestParams>(params),
        "prompts/get" => check::<GetPromptRequestParams>(params),
        "resources/read" => check::<ReadResourceRequestParams>(params),
        "resources/subscribe" => check::<SubscribeRequestParams>(params),
        "resources/unsubscribe" => check::<UnsubscribeRequestParams>(params),
        "completion/complete" => check::<CompleteRequestParams>(params),
        "logging/setLevel" => check::<SetLevelRequestParams>(params),
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            check::<Option<PaginatedRequestParams>>(params)
        }
        "initialize" | "ping" | "server/discover" => "invalid parameters".to_string(),
        _ => return None,
    })
}

impl ServerHandler for McpHandler {
    /// rmcp hands over requests whose params did not parse as "custom"
    /// requests; for a method MCP defines, that is invalid params (-32602),
    /// not an unknown method.
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        cx: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        // Methods the stateless revision removed (SEP-2575) are unknown there.
        const REMOVED_IN_STATELESS: [&str; 5] = [
            "initialize",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
            "resources/unsubscribe",
        ];
        if stateless(&cx) && REMOVED_IN_STATELESS.contains(&request.method.as_str()) {
            return Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "Method not found: {} (removed in protocol revision 2026-07-28)",
                    shown(&request.method)
                ),
                None,
            ));
        }
        match params_problem(&request.method, request.params) {
            Some(problem) => Err(ErrorData::invalid_params(
                format!("invalid params for {}: {}", request.method, shown(&problem)),
                None,
            )),
            None => Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("Method not found: {}", shown(&request.method)),
                None,
            )),
        }
    }

    fn get_info(&self) -> ServerConfig {
        self.shared.info.clone()
    }

    async fn discover(&self, _cx: RequestContext<RoleServer>) -> Result<DiscoverResult, ErrorData> {
        // The stateless revision gets no resource subscriptions: this server
        // does not implement `subscriptions/listen`.
        let mut capabilities = self.shared.info.capabilities.clone();
        if let Some(resources) = capabilities.resources.as_mut() {
            resources.subscribe = None;
        }
        let versions: Vec<ProtocolVersion> = ProtocolVersion::KNOWN_VERSIONS.to_vec();
        let mut result = DiscoverResult::new(versions, capabilities);
        let mut meta = rmcp::model::MetaObject::new();
        meta.insert(
            "io.modelcontextprotocol/serverInfo".into(),
            json!({"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")}),
        );
        result.meta = Some(meta);
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let registry = self.shared.runtime.registry();
        let listings = self.shared.listings(&registry);
        listings.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn ping(&self, _cx: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.log_level.store(peer::severity(request.level), Ordering::Relaxed);
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let (items, next) = self.page_of(request.as_ref(), |l| &l.tools)?;
        let mut result = ListToolsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        let invocation = self.invocation(
            &cx,
            "tool",
            &request.name,
            &arguments,
            request.input_responses.as_ref(),
            request.request_state.as_deref(),
        )?;
        let runtime = self.shared.runtime.clone();
        let name = request.name.to_string();
        let outcome = self
            .with_peer(&cx, &invocation, |call| async move {
                runtime.call_tool(&name, arguments, call).await
            })
            .await
            .ok_or_else(Self::cancelled)?;
        match outcome {
            Ok(outcome) => {
                let mut result = CallToolResult::success(outcome.content.into_iter().map(convert::content).collect());
                result.structured_content = outcome.structured;
                result.is_error = Some(outcome.is_error);
                Ok(result.into())
            }
            Err(CallError::InputRequired(requests)) => Ok(CallToolResponse::InputRequired(
                self.input_required(&invocation, requests)?,
            )),
            Err(error) => tool_failure(error, &invocation.request_id).map(Into::into),
        }
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let (items, next) = self.page_of(request.as_ref(), |l| &l.prompts)?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let mut arguments = Vec::new();
        for (key, value) in request.arguments.clone().unwrap_or_default() {
            match value {
                Value::String(s) => arguments.push((key, s)),
                other => arguments.push((key, other.to_string())),
            }
        }
        let invocation = self.invocation(
            &cx,
            "prompt",
            &request.name,
            &request.arguments,
            request.input_responses.as_ref(),
            request.request_state.as_deref(),
        )?;
        let runtime = self.shared.runtime.clone();
        let name = request.name.clone();
        let outcome = self
            .with_peer(&cx, &invocation, |call| async move {
                runtime.get_prompt(&name, arguments, call).await
            })
            .await
            .ok_or_else(Self::cancelled)?;
        match outcome {
            Ok(prompt) => {
                let mut result =
                    GetPromptResult::new(prompt.messages.into_iter().map(convert::prompt_message).collect());
                result.description = prompt.description;
                Ok(result.into())
            }
            Err(CallError::InputRequired(requests)) => Ok(GetPromptResponse::InputRequired(
                self.input_required(&invocation, requests)?,
            )),
            Err(CallError::UnknownPrompt(name)) => Err(ErrorData::invalid_params(
                format!("Unknown prompt: {}", shown(&name)),
                Some(json!({"name": shown(&name)})),
            )),
            Err(CallError::InvalidArguments { problems, .. }) => {
                Err(ErrorData::invalid_params(problems.join("; "), None))
            }
            Err(error) => Err(ErrorData::internal_error(
                format!("{error} (request id {})", invocation.request_id),
                None,
            )),
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let Reference::Prompt(prompt) = &request.r#ref else {
            return Ok(CompleteResult::default());
        };
        let invocation = self.invocation(&cx, "complete", &prompt.name, &Value::Null, None, None)?;
        let runtime = self.shared.runtime.clone();
        let (name, argument, value) = (
            prompt.name.clone(),
            request.argument.name.clone(),
            request.argument.value.clone(),
        );
        let outcome = self
            .with_peer(&cx, &invocation, |call| async move {
                runtime.complete_prompt_argument(&name, &argument, &value, call).await
            })
            .await
            .ok_or_else(Self::cancelled)?;
        let mut values = match outcome {
            Ok(values) => values,
            Err(CallError::UnknownPrompt(name)) => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown prompt: {}", shown(&name)),
                    Some(json!({"name": shown(&name)})),
                ));
            }
            Err(error) => return Err(ErrorData::internal_error(error.to_string(), None)),
        };
        let total = values.len();
        values.truncate(CompletionInfo::MAX_VALUES);
        let mut info = CompletionInfo::default();
        info.total = u32::try_from(total).ok();
        info.has_more = Some(total > values.len());
        info.values = values;
        let mut result = CompleteResult::default();
        result.completion = info;
        Ok(result)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let (items, next) = self.page_of(request.as_ref(), |l| &l.resources)?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let (items, next) = self.page_of(request.as_ref(), |l| &l.templates)?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let invocation = self.invocation(
            &cx,
            "resource",
            &request.uri,
            &Value::Null,
            request.input_responses.as_ref(),
            request.request_state.as_deref(),
        )?;
        let runtime = self.shared.runtime.clone();
        let uri = request.uri.clone();
        let outcome = self
            .with_peer(&cx, &invocation, |call| async move {
                runtime.read_resource(&uri, call).await
            })
            .await
            .ok_or_else(Self::cancelled)?;
        match outcome {
            Ok(contents) => {
                Ok(ReadResourceResult::new(contents.into_iter().map(convert::resource_contents).collect()).into())
            }
            Err(CallError::InputRequired(requests)) => Ok(ReadResourceResponse::InputRequired(
                self.input_required(&invocation, requests)?,
            )),
            Err(CallError::ResourceNotFound(_)) => Err(ErrorData::resource_not_found(
                format!("Resource not found: {}", shown(&request.uri)),
                Some(json!({"uri": request.uri})),
            )),
            Err(error) => Err(ErrorData::internal_error(
                format!("{error} (request id {})", invocation.request_id),
                None,
            )),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Resources change only when components are reloaded; a subscription
        // is accepted for any resource that exists.
        if self.shared.runtime.registry().resource_owner(&request.uri).is_none() {
            return Err(ErrorData::resource_not_found(
                format!("Resource not found: {}", shown(&request.uri)),
                Some(json!({"uri": request.uri})),
            ));
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }
}
