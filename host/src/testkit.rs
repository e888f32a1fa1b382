//! Unit-testing tool components under wasmtime without a cluster or a
//! server: the component runs in a store of its own and every host import
//! is answered by the test. The `k8s` import follows a script — each call
//! the component makes must match the next scripted step (verb, resource,
//! namespace, name) and gets that step's answer; anything else is answered
//! with an `other` error and reported as a mismatch. Writes are recorded
//! with their bodies so tests can assert on the exact manifest or patch.
//!
//! This is the same WIT contract the server implements; what differs is
//! that no grant is enforced (test the grant with the server) and nothing
//! leaves the process.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::runtime::bindings::ToolFull;
use crate::runtime::bindings::cnpg::mcp::k8s::{
    self, DeleteOptions, K8sError, ListOptions, LogOptions, ObjectRef, PatchBody, ResolvedKind, Status, WaitCondition,
    WriteOptions,
};
use crate::runtime::bindings::cnpg::mcp::{client, config, identity, logging, progress, types};
use crate::runtime::bindings::exports::cnpg::mcp::tools;

/// One expected Kubernetes call and its answer. As a fixture file (YAML
/// or JSON list): `{verb, resource, namespace?, name?, reply: OBJECT}` or
/// `{..., error: {code, reason, message}}`.
#[derive(Debug, Clone)]
pub struct Step {
    pub verb: String,
    /// `group/resource[/subresource]`, `core` for the core group
    /// (`postgresql.cnpg.io/clusters/status`, `core/secrets`).
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub reply: Reply,
}

/// What a scripted call returns.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The object (or list) as JSON.
    Object(Value),
    /// An API server failure: HTTP code, Status reason, message.
    Error { code: u16, reason: String, message: String },
}

/// A fixture file's step.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureStep {
    verb: String,
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
    reply: Option<Value>,
    error: Option<FixtureError>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureError {
    code: u16,
    reason: String,
    #[serde(default)]
    message: String,
}

/// Reads a fixture file (YAML, or JSON which is YAML too) into steps.
pub fn read_fixture(text: &str) -> anyhow::Result<Vec<Step>> {
    let steps: Vec<FixtureStep> = serde_yaml::from_str(text)?;
    steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| {
            let reply = match (step.reply, step.error) {
                (Some(object), None) => Reply::Object(object),
                (None, Some(e)) => Reply::Error {
                    code: e.code,
                    reason: e.reason,
                    message: e.message,
                },
                _ => anyhow::bail!("fixture step {}: give exactly one of `reply` and `error`", i + 1),
            };
            Ok(Step {
                verb: step.verb,
                resource: step.resource,
                namespace: step.namespace,
                name: step.name,
                reply,
            })
        })
        .collect()
}

impl Step {
    pub fn new(verb: &str, resource: &str, namespace: Option<&str>, name: Option<&str>, reply: Reply) -> Step {
        Step {
            verb: verb.into(),
            resource: resource.into(),
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            reply,
        }
    }

    pub fn ok(verb: &str, resource: &str, namespace: Option<&str>, name: Option<&str>, object: Value) -> Step {
        Step::new(verb, resource, namespace, name, Reply::Object(object))
    }

    pub fn fail(
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
        code: u16,
        reason: &str,
    ) -> Step {
        let message = format!("scripted {reason}");
        Step::new(
            verb,
            resource,
            namespace,
            name,
            Reply::Error {
                code,
                reason: reason.into(),
                message,
            },
        )
    }
}

/// One call the component made.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub verb: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Manifest or patch body of writes.
    pub body: Option<Value>,
    pub dry_run: bool,
}

/// How the simulated client behaves.
#[derive(Debug, Clone, Default)]
pub struct ClientScript {
    /// Capabilities the client declared (MCP JSON), e.g. `{"elicitation": {}}`.
    pub capabilities: Value,
    /// Answers to elicitation requests, in order: `Some(content)` accepts,
    /// `None` declines.
    pub elicit_answers: VecDeque<Option<Value>>,
}

/// What one call produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub is_error: bool,
    pub text: String,
    pub structured: Option<Value>,
    /// Every Kubernetes call, in order.
    pub exchanges: Vec<Exchange>,
    /// Calls that did not match the script.
    pub mismatches: Vec<String>,
    /// Steps the component never reached.
    pub unused: Vec<Step>,
    /// Elicitation messages the component sent.
    pub elicitations: Vec<String>,
}

impl Outcome {
    /// The exchanges with a given verb.
    pub fn writes(&self) -> Vec<&Exchange> {
        self.exchanges
            .iter()
            .filter(|e| matches!(e.verb.as_str(), "create" | "patch" | "delete" | "update"))
            .collect()
    }
}

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    script: VecDeque<Step>,
    exchanges: Vec<Exchange>,
    mismatches: Vec<String>,
    config: BTreeMap<String, String>,
    default_namespace: String,
    client: ClientScript,
    elicitations: Vec<String>,
    caller: types::Caller,
    limits: wasmtime::StoreLimits,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn describe(object: &ObjectRef) -> String {
    let group = if object.type_.group.is_empty() {
        "core"
    } else {
        &object.type_.group
    };
    match &object.subresource {
        Some(sub) => format!("{group}/{}/{sub}", object.type_.resource),
        None => format!("{group}/{}", object.type_.resource),
    }
}

fn status_of(code: u16, reason: String, message: String) -> Status {
    Status {
        code,
        reason,
        message,
        causes: vec![],
    }
}

fn error_for(code: u16, reason: String, message: String) -> K8sError {
    let status = status_of(code, reason, message);
    match code {
        401 => K8sError::Unauthorized(status),
        403 => K8sError::Forbidden(status),
        404 => K8sError::NotFound(status),
        409 if status.reason == "AlreadyExists" => K8sError::AlreadyExists(status),
        409 => K8sError::Conflict(status),
        410 => K8sError::Gone(status),
        422 => K8sError::Invalid(status),
        429 => K8sError::TooManyRequests(status),
        504 => K8sError::Timeout(status),
        503 => K8sError::Unavailable(status),
        _ => K8sError::Other(status),
    }
}

impl State {
    fn answer(
        &mut self,
        verb: &str,
        object: &ObjectRef,
        body: Option<Value>,
        dry_run: bool,
    ) -> Result<String, K8sError> {
        let resource = describe(object);
        self.exchanges.push(Exchange {
            verb: verb.into(),
            resource: resource.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            body,
            dry_run,
        });
        let matches = self.script.front().is_some_and(|step| {
            step.verb == verb
                && step.resource == resource
                && step.namespace == object.namespace
                && step.name == object.name
        });
        if !matches {
            let expected = self
                .script
                .front()
                .map(|s| format!("{} {} {:?} {:?}", s.verb, s.resource, s.namespace, s.name))
                .unwrap_or_else(|| "nothing".into());
            let got = format!("{verb} {resource} {:?} {:?}", object.namespace, object.name);
            self.mismatches.push(format!("expected {expected}, got {got}"));
            return Err(K8sError::Other(status_of(
                0,
                "Unscripted".into(),
                format!("unscripted call: {got} (expected {expected})"),
            )));
        }
        let step = self.script.pop_front().expect("matched a step");
        match step.reply {
            Reply::Object(value) => Ok(value.to_string()),
            Reply::Error { code, reason, message } => Err(error_for(code, reason, message)),
        }
    }
}

fn body_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))
}

impl k8s::Host for State {
    async fn get(&mut self, object: ObjectRef) -> Result<String, K8sError> {
        self.answer("get", &object, None, false)
    }

    async fn list(&mut self, object: ObjectRef, options: ListOptions) -> Result<String, K8sError> {
        let selector = options.label_selector.map(|s| serde_json::json!({"labelSelector": s}));
        self.answer("list", &object, selector, false)
    }

    async fn create(&mut self, object: ObjectRef, manifest: String, options: WriteOptions) -> Result<String, K8sError> {
        self.answer("create", &object, Some(body_of(&manifest)), options.dry_run)
    }

    async fn replace(
        &mut self,
        object: ObjectRef,
        manifest: String,
        options: WriteOptions,
    ) -> Result<String, K8sError> {
        self.answer("update", &object, Some(body_of(&manifest)), options.dry_run)
    }

    async fn patch(&mut self, object: ObjectRef, body: PatchBody, options: WriteOptions) -> Result<String, K8sError> {
        let body = match body {
            PatchBody::JsonPatch(text) => serde_json::json!({"json-patch": body_of(&text)}),
            PatchBody::MergePatch(text) => serde_json::json!({"merge-patch": body_of(&text)}),
            PatchBody::StrategicMerge(text) => serde_json::json!({"strategic-merge": body_of(&text)}),
            PatchBody::Apply(apply) => serde_json::json!({"apply": body_of(&apply.manifest), "force": apply.force}),
        };
        self.answer("patch", &object, Some(body), options.dry_run)
    }

    async fn delete(&mut self, object: ObjectRef, options: DeleteOptions) -> Result<String, K8sError> {
        let body = serde_json::json!({"uid": options.uid, "resourceVersion": options.resource_version});
        self.answer("delete", &object, Some(body), options.dry_run)
    }

    async fn logs(&mut self, object: ObjectRef, _options: LogOptions) -> Result<String, K8sError> {
        let text = self.answer("logs", &object, None, false)?;
        Ok(serde_json::from_str::<String>(&text).unwrap_or(text))
    }

    async fn events(&mut self, object: ObjectRef) -> Result<String, K8sError> {
        self.answer("events", &object, None, false)
    }

    async fn proxy_get(&mut self, object: ObjectRef, port: u16, path: String, https: bool) -> Result<String, K8sError> {
        let body = serde_json::json!({"port": port, "path": path, "https": https});
        let text = self.answer("proxy", &object, Some(body), false)?;
        // A scripted reply is the endpoint's JSON document, or a string body.
        Ok(serde_json::from_str::<String>(&text).unwrap_or(text))
    }

    async fn wait_for(
        &mut self,
        object: ObjectRef,
        condition: WaitCondition,
        timeout_ms: u64,
    ) -> Result<String, K8sError> {
        let body = serde_json::json!({"pointer": condition.pointer, "equals_any": condition.equals_any, "timeout_ms": timeout_ms});
        self.answer("watch", &object, Some(body), false)
    }

    async fn resolve_kind(&mut self, api_version: String, kind: String) -> Result<ResolvedKind, K8sError> {
        Err(K8sError::Other(status_of(
            0,
            "Unscripted".into(),
            format!("resolve-kind {api_version} {kind} is not scripted in the test kit"),
        )))
    }

    async fn default_namespace(&mut self) -> String {
        self.default_namespace.clone()
    }
}

impl types::Host for State {}

impl identity::Host for State {
    fn current(&mut self) -> wasmtime::Result<types::Caller> {
        Ok(self.caller.clone())
    }
}

impl progress::Host for State {
    fn report(&mut self, _progress: f64, _total: Option<f64>, _message: Option<String>) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl logging::Host for State {
    fn log(&mut self, _level: types::LogLevel, _context: String, _message: String) -> wasmtime::Result<()> {
        Ok(())
    }
}

impl config::Host for State {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config::ConfigError>> {
        Ok(Ok(self.config.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::ConfigError>> {
        Ok(Ok(self.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }
}

impl client::Host for State {
    async fn request_input(
        &mut self,
        requests: Vec<client::KeyedRequest>,
    ) -> wasmtime::Result<Vec<client::KeyedResponse>> {
        let mut responses = Vec::new();
        for request in requests {
            let response = match request.request {
                client::InputRequest::Elicit(elicit) => {
                    self.elicitations.push(elicit.message);
                    match self.client.elicit_answers.pop_front() {
                        Some(Some(content)) => {
                            client::InputResponse::Elicit(client::ElicitAction::Accept(content.to_string()))
                        }
                        Some(None) => client::InputResponse::Elicit(client::ElicitAction::Decline),
                        None => client::InputResponse::Failed(client::ClientError::Failed(
                            "no scripted elicitation answer".into(),
                        )),
                    }
                }
                _ => client::InputResponse::Failed(client::ClientError::Unsupported(
                    "only elicitation is scripted in the test kit".into(),
                )),
            };
            responses.push(client::KeyedResponse {
                key: request.key,
                response,
            });
        }
        Ok(responses)
    }

    async fn capabilities(&mut self) -> wasmtime::Result<String> {
        Ok(self.client.capabilities.to_string())
    }
}

fn local_caller() -> types::Caller {
    types::Caller {
        subject: "local".into(),
        issuer: "local".into(),
        username: None,
        groups: vec![],
        client_id: None,
        scopes: vec![],
    }
}

/// A loaded component, ready for scripted calls.
pub struct Harness {
    engine: Engine,
    linker: Linker<State>,
    component: Component,
    config: BTreeMap<String, String>,
    default_namespace: String,
    caller: types::Caller,
    memory_bytes: usize,
    timeout: std::time::Duration,
}

/// Defaults of a harness: the server's default grant limits.
const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Harness {
    /// Compiles `wasm` (a component built for wasm32-wasip2).
    pub fn load(wasm: &[u8]) -> anyhow::Result<Harness> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Epochs let a guest that never yields be stopped at the timeout.
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("testkit-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        ToolFull::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        let component = Component::new(&engine, wasm)?;
        Ok(Harness {
            engine,
            linker,
            component,
            config: BTreeMap::new(),
            default_namespace: "default".into(),
            caller: local_caller(),
            memory_bytes: DEFAULT_MEMORY_BYTES,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Values of the component's `config` import.
    pub fn with_config(mut self, key: &str, value: &str) -> Harness {
        self.config.insert(key.into(), value.into());
        self
    }

    /// The same component with another default namespace (no recompile).
    pub fn clone_with_namespace(&self, namespace: &str) -> Harness {
        Harness {
            engine: self.engine.clone(),
            linker: self.linker.clone(),
            component: self.component.clone(),
            config: self.config.clone(),
            default_namespace: namespace.into(),
            caller: self.caller.clone(),
            memory_bytes: self.memory_bytes,
            timeout: self.timeout,
        }
    }

    /// The caller the `identity` import and the call context report
    /// (default: the local identity).
    pub fn with_caller(mut self, subject: &str, username: Option<&str>, groups: &[&str], scopes: &[&str]) -> Harness {
        self.caller = types::Caller {
            subject: subject.into(),
            issuer: "testkit".into(),
            username: username.map(str::to_string),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            client_id: Some("testkit".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        self
    }

    /// Limits of each call: linear memory and wall clock (defaults: the
    /// server's default grant, 64 MiB and 30 s). A call over either fails.
    pub fn with_limits(mut self, memory_mib: usize, timeout: std::time::Duration) -> Harness {
        self.memory_bytes = memory_mib << 20;
        self.timeout = timeout;
        self
    }

    /// What `default-namespace` answers (default `default`).
    pub fn with_default_namespace(mut self, namespace: &str) -> Harness {
        self.default_namespace = namespace.into();
        self
    }

    fn store(&self, script: Vec<Step>, client: ClientScript) -> Store<State> {
        let state = State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            script: script.into(),
            exchanges: Vec::new(),
            mismatches: Vec::new(),
            config: self.config.clone(),
            default_namespace: self.default_namespace.clone(),
            client,
            elicitations: Vec::new(),
            caller: self.caller.clone(),
            limits: wasmtime::StoreLimitsBuilder::new()
                .memory_size(self.memory_bytes)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_async_yield_and_update(1);
        store
    }

    /// The tools the component describes.
    pub async fn tools(&self) -> anyhow::Result<Vec<types::ToolDescriptor>> {
        let mut store = self.store(Vec::new(), ClientScript::default());
        let pre = self.linker.instantiate_pre(&self.component)?;
        let indices = tools::GuestIndices::new(&pre)?;
        let instance = pre.instantiate_async(&mut store).await?;
        let guest = indices.load(&mut store, &instance)?;
        Ok(guest.call_list_tools(&mut store).await?)
    }

    /// Calls `tool` with `arguments` in a fresh instance, answering its
    /// Kubernetes calls from `script` and its client requests from `client`.
    /// The arguments are first checked against the tool's input schema, as
    /// the server does.
    pub async fn call(
        &self,
        tool: &str,
        arguments: Value,
        script: Vec<Step>,
        client: ClientScript,
    ) -> anyhow::Result<Outcome> {
        let descriptor = self
            .tools()
            .await?
            .into_iter()
            .find(|t| t.name == tool)
            .ok_or_else(|| anyhow::anyhow!("the component has no tool `{tool}`"))?;
        let schema: Value = serde_json::from_str(&descriptor.input_schema)?;
        let validator = jsonschema::validator_for(&schema).map_err(|e| anyhow::anyhow!("invalid input schema: {e}"))?;
        let problems: Vec<String> = validator
            .iter_errors(&arguments)
            .map(|e| format!("`{}`: {e}", e.instance_path()))
            .collect();
        if !problems.is_empty() {
            anyhow::bail!("invalid arguments for `{tool}`: {}", problems.join("; "));
        }
        let mut store = self.store(script, client);
        let pre = self.linker.instantiate_pre(&self.component)?;
        let indices = tools::GuestIndices::new(&pre)?;
        let instance = pre.instantiate_async(&mut store).await?;
        let guest = indices.load(&mut store, &instance)?;
        let ctx = types::CallContext {
            request_id: "testkit".into(),
            caller: self.caller.clone(),
            deadline_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            progress_token: None,
            protocol_version: "2025-06-18".into(),
        };
        let result = tokio::time::timeout(
            self.timeout,
            guest.call_call_tool(&mut store, tool, &arguments.to_string(), &ctx),
        )
        .await
        .map_err(|_| anyhow::anyhow!("`{tool}` did not finish within {:?}", self.timeout))??;
        let output = result.map_err(|e| anyhow::anyhow!("tool error: {e:?}"))?;
        let text = output
            .content
            .iter()
            .filter_map(|c| match c {
                types::Content::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let structured = output.structured.as_deref().map(body_of);
        let state = store.into_data();
        Ok(Outcome {
            is_error: output.is_error,
            text,
            structured,
            exchanges: state.exchanges,
            mismatches: state.mismatches,
            unused: state.script.into(),
            elicitations: state.elicitations,
        })
    }
}
