//! Per-call store state: what one instantiation of a component can reach.
//!
//! A fresh `CallState` is built for every call and dropped with its store,
//! so nothing a guest does survives into another caller's call.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::caller::Caller;

/// Log severities a component can emit (mirrors the WIT `log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GuestLogLevel {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
}

/// Outcome of an elicitation request to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ElicitOutcome {
    Accept(serde_json::Value),
    Decline,
    Cancel,
}

/// Why a request to the client could not be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFailure {
    Unsupported(String),
    Failed(String),
    Timeout(String),
}

/// One input a tool asks the client for.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    Elicit { message: String, schema: serde_json::Value },
    Sample(serde_json::Value),
    ListRoots,
}

impl InputKind {
    /// The client capability this request needs (MCP `ClientCapabilities`).
    pub fn capability(&self) -> &'static str {
        match self {
            InputKind::Elicit { .. } => "elicitation",
            InputKind::Sample(_) => "sampling",
            InputKind::ListRoots => "roots",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputRequest {
    pub key: String,
    pub kind: InputKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InputResponse {
    Elicit(ElicitOutcome),
    Sample(serde_json::Value),
    Roots(serde_json::Value),
    Failed(ClientFailure),
}

/// Raised (as the error of the host call) when the answers are not at
/// hand and must be collected by an `input_required` result: the call
/// stops here and is run again when the client retries.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRequired {
    pub requests: Vec<InputRequest>,
}

impl std::fmt::Display for InputRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the call needs {} input(s) from the client", self.requests.len())
    }
}

impl std::error::Error for InputRequired {}

/// The other end of a call: where progress, log records and client requests
/// go. The MCP layer implements it per request; tests and the CLI use
/// [`DiscardingPeer`].
pub trait CallPeer: Send + Sync {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>);
    fn log(&self, level: GuestLogLevel, logger: &str, message: &str);
    /// Collects the answers to `requests` (one per request, same order), or
    /// stops the call with [`InputRequired`].
    fn request_input(
        &self,
        requests: Vec<InputRequest>,
    ) -> BoxFuture<'static, Result<Vec<InputResponse>, InputRequired>>;
    /// The client's declared capabilities (MCP JSON object).
    fn client_capabilities(&self) -> serde_json::Value;
}

/// A peer with no client behind it: notifications are dropped and every
/// input request fails as unsupported.
pub struct DiscardingPeer;

impl CallPeer for DiscardingPeer {
    fn progress(&self, _: f64, _: Option<f64>, _: Option<String>) {}
    fn log(&self, _: GuestLogLevel, _: &str, _: &str) {}
    fn request_input(
        &self,
        requests: Vec<InputRequest>,
    ) -> BoxFuture<'static, Result<Vec<InputResponse>, InputRequired>> {
        let answers = requests
            .iter()
            .map(|_| InputResponse::Failed(ClientFailure::Unsupported("no client is connected".into())))
            .collect();
        Box::pin(async move { Ok(answers) })
    }
    fn client_capabilities(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}

/// What the host knows about the call, shared with the capability impls.
pub struct CallScope {
    pub component: Arc<str>,
    pub request_id: String,
    pub caller: Caller,
    pub progress_token: bool,
    pub config: Arc<BTreeMap<String, String>>,
    /// The component's grant: checked before every Kubernetes call.
    pub grant: Arc<super::grant::ComponentGrant>,
    /// The cluster, when one is configured: acting as the caller when
    /// impersonation is on, with this component's response cap.
    pub kube: Option<crate::kube::KubeCall>,
    /// Every Kubernetes request of this call, for its audit record.
    pub journal: Arc<crate::kube::Journal>,
    /// The grant's cap on items per list.
    pub max_list_items: u32,
    pub peer: Arc<dyn CallPeer>,
}

/// Memory limiter that remembers whether it refused a growth, so an
/// out-of-memory trap can be told apart from a guest panic.
pub struct TrackingLimits {
    inner: StoreLimits,
    pub refused_memory: bool,
}

impl TrackingLimits {
    pub fn new(memory_bytes: u64) -> Self {
        let inner = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(memory_bytes).unwrap_or(usize::MAX))
            .instances(16)
            .tables(64)
            .memories(8)
            .build();
        TrackingLimits {
            inner,
            refused_memory: false,
        }
    }
}

impl ResourceLimiter for TrackingLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.refused_memory = true;
        }
        Ok(allowed)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// The data of one call's `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: TrackingLimits,
    pub scope: Arc<CallScope>,
    /// CPU budget left, in epoch ticks.
    pub cpu_ticks_left: u64,
}

impl CallState {
    /// An empty WASI context: no environment, arguments, preopened folders or
    /// sockets; stdin is empty and stdout/stderr go to the host log.
    pub fn new(scope: Arc<CallScope>, memory_bytes: u64, cpu_ticks: u64) -> Self {
        let mut builder = WasiCtx::builder();
        builder
            .stdout(GuestOutput {
                scope: scope.clone(),
                stream: "stdout",
            })
            .stderr(GuestOutput {
                scope: scope.clone(),
                stream: "stderr",
            })
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        CallState {
            wasi: builder.build(),
            table: ResourceTable::new(),
            limits: TrackingLimits::new(memory_bytes),
            scope,
            cpu_ticks_left: cpu_ticks,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Guest stdout/stderr: each line becomes a host log record tagged with the
/// component and request id. Never the MCP stdout.
struct GuestOutput {
    scope: Arc<CallScope>,
    stream: &'static str,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            scope: self.scope.clone(),
            stream: self.stream,
            pending: Vec::new(),
            truncated: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// Longest guest output line kept; the rest is cut so a guest cannot flood
/// the log with one endless line.
const MAX_LINE: usize = 4096;

struct LineLogger {
    scope: Arc<CallScope>,
    stream: &'static str,
    pending: Vec<u8>,
    truncated: Arc<AtomicBool>,
}

impl LineLogger {
    fn emit(&mut self) {
        let line = String::from_utf8_lossy(&self.pending);
        tracing::info!(
            target: "cnpg_mcp::guest",
            component = %self.scope.component,
            request_id = %self.scope.request_id,
            stream = self.stream,
            truncated = self.truncated.swap(false, Ordering::Relaxed),
            "{}",
            line.trim_end()
        );
        self.pending.clear();
    }
}

impl tokio::io::AsyncWrite for LineLogger {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        for &byte in buf {
            if byte == b'\n' {
                this.emit();
            } else if this.pending.len() < MAX_LINE {
                this.pending.push(byte);
            } else {
                this.truncated.store(true, Ordering::Relaxed);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.pending.is_empty() {
            this.emit();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            self.emit();
        }
    }
}
