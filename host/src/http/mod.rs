//! The HTTP front end: routing, health, Host/Origin policy, body limit,
//! per-request timeout, graceful shutdown. `/mcp` is handed to rmcp's
//! Streamable HTTP service once the request passed our checks.

pub mod jsonrpc;
mod limits;
mod policy;
mod sessions;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{AuthOutcome, Authenticator};
use crate::caller::Caller;
use crate::mcp::{McpHandler, McpShared};
pub use limits::SessionLimits;
pub use policy::OriginPolicy;
pub use sessions::{SealedSessionStore, SessionRejection};

type Body = BoxBody<Bytes, Infallible>;

/// Settings of the HTTP front end.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub policy: OriginPolicy,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    /// `/metrics` is served on a listener of its own (`METRICS_PORT`), not here.
    pub metrics_elsewhere: bool,
    pub sessions: SessionLimits,
    /// Tool calls per minute per caller; 0: no limit.
    pub tool_calls_per_minute: u32,
    pub connections: ConnectionLimits,
}

/// Bounds of one HTTP connection and of how many there are.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A request's head must arrive within this (HTTP/1; also the wait for
    /// the next request on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// A connection with no request being answered is closed after this,
    /// whatever the protocol (HTTP/2, or bytes that never make a request).
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen queue.
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
}

/// The Prometheus text of the process: counters and histograms, plus the
/// gauges read now.
fn metrics_text(
    runtime: &crate::runtime::Runtime,
    auth: Option<&Authenticator>,
    front: Option<(usize, usize)>,
) -> String {
    let mut gauges = vec![(
        "cnpg_mcp_in_flight_calls",
        "Tool calls holding an admission slot.",
        runtime.in_flight_calls() as f64,
    )];
    if let Some((sessions, connections)) = front {
        gauges.push(("cnpg_mcp_sessions", "MCP sessions held in memory.", sessions as f64));
        gauges.push(("cnpg_mcp_connections", "Open HTTP connections.", connections as f64));
    }
    if let Some(auth) = auth {
        gauges.push((
            "cnpg_mcp_jwks_fetches",
            "JWKS fetches since start.",
            auth.keys().refresh_count() as f64,
        ));
    }
    crate::metrics::METRICS.render(&gauges)
}

/// Serves `/metrics` (and `/healthz`) on `listener` until `stop` fires: the
/// scrape port, kept apart from the MCP port and its Ingress.
pub async fn serve_metrics(
    listener: TcpListener,
    runtime: Arc<crate::runtime::Runtime>,
    auth: Option<Arc<Authenticator>>,
    stop: CancellationToken,
) {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(15));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let (runtime, auth) = (runtime.clone(), auth.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let response = match (request.method(), request.uri().path()) {
                (&Method::GET, "/metrics") => full(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    metrics_text(&runtime, auth.as_deref(), None),
                ),
                (&Method::GET, "/healthz") => json(StatusCode::OK, serde_json::json!({"status": "alive"})),
                _ => full(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
            };
            async move { Ok::<_, Infallible>(response) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

/// Whether the server can take traffic, and why not.
#[derive(Default)]
pub struct Readiness {
    ready: AtomicBool,
    reason: std::sync::Mutex<String>,
}

impl Readiness {
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn set_not_ready(&self, reason: impl Into<String>) {
        if let Ok(mut slot) = self.reason.lock() {
            *slot = reason.into();
        }
        self.ready.store(false, Ordering::Release);
    }

    fn state(&self) -> (bool, String) {
        let reason = self.reason.lock().map(|r| r.clone()).unwrap_or_default();
        (self.ready.load(Ordering::Acquire), reason)
    }
}

struct FrontEnd {
    settings: HttpSettings,
    readiness: Arc<Readiness>,
    mcp: StreamableHttpService<McpHandler, LocalSessionManager>,
    /// rmcp's session table, for closing sessions [`limits`] evicts.
    manager: Arc<LocalSessionManager>,
    sessions: Arc<SealedSessionStore>,
    table: Arc<limits::SessionTable>,
    rate: limits::CallRate,
    /// Open connections.
    connections: AtomicUsize,
    /// The OAuth resource server; `None` runs without authentication.
    auth: Option<Arc<Authenticator>>,
    /// The authorization-server facade, when enabled (its endpoints come
    /// before everything else).
    facade: Option<Arc<crate::facade::Facade>>,
    runtime: Arc<crate::runtime::Runtime>,
    /// Requests being answered, other than GET (long-lived event streams),
    /// until their answer is written: shutdown waits for them so a finished
    /// call's answer reaches the client before the sessions close.
    answering: AtomicUsize,
}

/// Counts one request as being answered until its answer has been
/// written (the response body is done or dropped), not merely produced:
/// rmcp hands back a response whose body still waits for the call's
/// result.
struct Answering(Arc<FrontEnd>);

impl Answering {
    fn start(front: Arc<FrontEnd>) -> Self {
        front.answering.fetch_add(1, Ordering::AcqRel);
        Answering(front)
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answering.fetch_sub(1, Ordering::AcqRel);
    }
}

const SESSION_HEADER: &str = "mcp-session-id";

fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    full(status, "application/json", value.to_string())
}

fn jsonrpc_error(status: StatusCode, code: i32, message: String) -> Response<Body> {
    json(
        status,
        serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}}),
    )
}

impl FrontEnd {
    async fn route(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path();
        if let Some(facade) = &self.facade
            && facade.serves(path)
        {
            return facade.handle(request).await.map(BodyExt::boxed);
        }
        match (request.method(), path) {
            (&Method::GET, "/health") => json(
                StatusCode::OK,
                serde_json::json!({"status": "healthy", "service": "cnpg-mcp-server"}),
            ),
            (&Method::GET, "/healthz") => json(StatusCode::OK, serde_json::json!({"status": "alive"})),
            // Prometheus scrape endpoint: not behind OIDC (counts only, no
            // caller data); restrict it at the network level.
            (&Method::GET, "/metrics") if !self.settings.metrics_elsewhere => full(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                metrics_text(
                    &self.runtime,
                    self.auth.as_deref(),
                    Some((self.table.len(), self.connections.load(Ordering::Relaxed))),
                ),
            ),
            (&Method::GET, "/readyz") => {
                let (ready, reason) = self.readiness.state();
                if ready {
                    json(StatusCode::OK, serde_json::json!({"status": "ready"}))
                } else {
                    json(
                        StatusCode::SERVICE_UNAVAILABLE,
                        serde_json::json!({"status": "not ready", "reason": reason}),
                    )
                }
            }
            (&Method::GET | &Method::OPTIONS, "/.well-known/oauth-protected-resource")
            | (&Method::GET | &Method::OPTIONS, "/.well-known/oauth-protected-resource/mcp")
                if self.auth.is_some() =>
            {
                let host = Self::host(&request).unwrap_or_default();
                let document = self.auth.as_ref().map(|a| a.protected_resource_metadata(&host));
                Self::public_document(request.method(), document)
            }
            (&Method::GET | &Method::OPTIONS, "/.well-known/oauth-authorization-server") if self.auth.is_some() => {
                match self.auth.as_ref().and_then(|a| a.authorization_server_metadata()) {
                    Some(document) => Self::public_document(request.method(), Some(document)),
                    // OIDC_JWKS_URI alone, for an IdP without a metadata
                    // document: there is nothing to mirror, now or later.
                    None if self.auth.as_ref().is_some_and(|a| a.keys().metadata_absent()) => json(
                        StatusCode::NOT_FOUND,
                        serde_json::json!({"error": "not_found",
                            "error_description": "the identity provider publishes no authorization server metadata"}),
                    ),
                    None => json(
                        StatusCode::SERVICE_UNAVAILABLE,
                        serde_json::json!({"error": "temporarily_unavailable",
                            "error_description": "the authorization server's metadata has not been discovered yet"}),
                    ),
                }
            }
            (_, "/mcp") => self.mcp(request).await,
            _ => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": "not found", "path": path}),
            ),
        }
    }

    fn host(request: &Request<Incoming>) -> Option<String> {
        request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| request.uri().authority().map(|a| a.to_string()))
    }

    /// Metadata documents: public, cacheable, readable from any origin.
    fn public_document(method: &Method, document: Option<serde_json::Value>) -> Response<Body> {
        let mut response = if method == Method::OPTIONS {
            full(StatusCode::NO_CONTENT, "text/plain", Bytes::new())
        } else {
            json(StatusCode::OK, document.unwrap_or_default())
        };
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("MCP-Protocol-Version, Content-Type"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
        response
    }

    /// 401/403 with the challenge that sends clients to our metadata.
    fn auth_failure(
        auth: &Authenticator,
        host: &str,
        status: StatusCode,
        error: Option<(&str, &str)>,
        scopes: &[String],
    ) -> Response<Body> {
        let body = match error {
            Some((error, description)) => serde_json::json!({"error": error, "error_description": description}),
            None => serde_json::json!({"error": "unauthorized", "error_description": "Missing Authorization header"}),
        };
        let mut response = json(status, body);
        if let Ok(value) = HeaderValue::from_str(&auth.challenge(host, error, scopes)) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// The verified caller, or the response refusing the request.
    async fn authenticate(&self, request: &Request<Incoming>) -> Result<Caller, Response<Body>> {
        let Some(auth) = &self.auth else {
            return Ok(Caller::local());
        };
        let host = Self::host(request).unwrap_or_default();
        let values: Vec<&[u8]> = request
            .headers()
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        let client = request
            .extensions()
            .get::<SocketAddr>()
            .map(ToString::to_string)
            .unwrap_or_default();
        match auth.authenticate(&values).await {
            AuthOutcome::Allowed(caller) => {
                let missing = Authenticator::missing_scopes(&caller, &auth.settings().required_scopes);
                if missing.is_empty() {
                    return Ok(caller);
                }
                crate::metrics::METRICS.count(
                    "cnpg_mcp_auth_failures_total",
                    vec![("reason", "insufficient scope".to_string())],
                );
                tracing::warn!(
                    target: "cnpg_mcp::auth",
                    reason = "insufficient scope",
                    missing = %missing.join(" "),
                    client = %client,
                    sub = %caller.subject,
                    "authentication failed"
                );
                let needed = auth.settings().required_scopes.clone();
                Err(Self::auth_failure(
                    auth,
                    &host,
                    StatusCode::FORBIDDEN,
                    Some(("insufficient_scope", "The token lacks a required scope")),
                    &needed,
                ))
            }
            AuthOutcome::Unauthorized(None) => {
                tracing::info!(target: "cnpg_mcp::auth", reason = "no token", client = %client, "authentication required");
                Err(Self::auth_failure(auth, &host, StatusCode::UNAUTHORIZED, None, &[]))
            }
            AuthOutcome::Unauthorized(Some(rejection)) => {
                crate::metrics::METRICS.count(
                    "cnpg_mcp_auth_failures_total",
                    vec![("reason", rejection.description.to_string())],
                );
                tracing::warn!(
                    target: "cnpg_mcp::auth",
                    reason = %rejection.detail,
                    description = rejection.description,
                    client = %client,
                    sub = rejection.subject.as_deref().unwrap_or(""),
                    jti = rejection.jti.as_deref().unwrap_or(""),
                    "authentication failed"
                );
                Err(Self::auth_failure(
                    auth,
                    &host,
                    StatusCode::UNAUTHORIZED,
                    Some(("invalid_token", rejection.description)),
                    &[],
                ))
            }
        }
    }

    /// For `tools/call` under auth: the tool's own scopes (step-up).
    fn tool_scope_check(&self, caller: &Caller, host: &str, name: &str) -> Option<Response<Body>> {
        let auth = self.auth.as_ref()?;
        let registry = self.runtime.registry();
        let (_, tool) = registry.tool(name)?;
        let read_only = tool.descriptor.annotations.read_only == Some(true);
        let needed = auth.tool_scopes(name, read_only);
        let missing = Authenticator::missing_scopes(caller, &needed);
        if missing.is_empty() {
            return None;
        }
        tracing::warn!(target: "cnpg_mcp::auth", reason = "insufficient scope for tool", tool = %crate::text::shown(name),
            missing = %missing.join(" "), sub = %caller.subject, "tool call refused");
        let mut scopes = auth.settings().required_scopes.clone();
        scopes.extend(needed);
        Some(Self::auth_failure(
            auth,
            host,
            StatusCode::FORBIDDEN,
            Some(("insufficient_scope", "The token lacks a scope this tool needs")),
            &scopes,
        ))
    }

    fn cors(&self, origin: Option<&HeaderValue>, response: &mut Response<Body>) {
        let Some(origin) = origin else { return };
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate"),
        );
    }

    async fn mcp(&self, request: Request<Incoming>) -> Response<Body> {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        if !self.settings.policy.host_allowed(host.as_deref()) {
            return jsonrpc_error(
                StatusCode::FORBIDDEN,
                -32600,
                format!("Host `{}` is not allowed", host.unwrap_or_default()),
            );
        }
        let origin = request.headers().get(header::ORIGIN).cloned();
        if !self
            .settings
            .policy
            .origin_allowed(origin.as_ref().and_then(|o| o.to_str().ok()))
        {
            return jsonrpc_error(StatusCode::FORBIDDEN, -32600, "Origin is not allowed".into());
        }
        if request.method() == Method::OPTIONS {
            let mut response = full(StatusCode::NO_CONTENT, "text/plain", Bytes::new());
            self.cors(origin.as_ref(), &mut response);
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID",
                ),
            );
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            return response;
        }
        let caller = match self.authenticate(&request).await {
            Ok(caller) => caller,
            Err(mut refusal) => {
                self.cors(origin.as_ref(), &mut refusal);
                return refusal;
            }
        };
        let host = host.unwrap_or_default();
        let forwarded = self.forward(request, caller, &host);
        let mut response = match tokio::time::timeout(self.settings.request_timeout, forwarded).await {
            Ok(response) => response,
            Err(_) => jsonrpc_error(
                StatusCode::GATEWAY_TIMEOUT,
                -32603,
                format!("no response within {:?}", self.settings.request_timeout),
            ),
        };
        self.cors(origin.as_ref(), &mut response);
        response
    }

    /// Reads a POST body under the size cap; the refusal otherwise.
    async fn read_body(&self, parts: &http::request::Parts, body: Incoming) -> Result<Bytes, Response<Body>> {
        let too_large = || {
            jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                format!("request body exceeds {} bytes", self.settings.max_body_bytes),
            )
        };
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.settings.max_body_bytes) {
            return Err(too_large());
        }
        match Limited::new(body, self.settings.max_body_bytes).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(error) => Err(jsonrpc_error(
                StatusCode::BAD_REQUEST,
                -32700,
                format!("cannot read the request body: {error}"),
            )),
        }
    }

    /// Closes sessions the table let go of (rmcp drops their workers; the
    /// sealed ids bring them back on their next request).
    fn close_sessions(&self, ids: Vec<String>, reason: &'static str) {
        for id in ids {
            crate::metrics::METRICS.count("cnpg_mcp_sessions_evicted_total", vec![("reason", reason.to_string())]);
            let manager = self.manager.clone();
            tokio::spawn(async move {
                let _ =
                    rmcp::transport::streamable_http_server::SessionManager::close_session(&*manager, &id.into()).await;
            });
        }
    }

    /// The answer to a session the table did not admit.
    fn session_refused(refused: limits::Refused, id: Option<serde_json::Value>) -> Response<Body> {
        let (status, reason, retry, message) = match refused {
            limits::Refused::CallerFull(after) => (
                StatusCode::TOO_MANY_REQUESTS,
                "caller cap",
                after,
                format!(
                    "too many sessions for this caller: end one with DELETE or retry in {} s",
                    after.as_secs()
                ),
            ),
            limits::Refused::Full => (
                StatusCode::SERVICE_UNAVAILABLE,
                "all busy",
                Duration::from_secs(1),
                "every session of this server is busy; retry shortly".to_string(),
            ),
        };
        crate::metrics::METRICS.count("cnpg_mcp_sessions_refused_total", vec![("reason", reason.to_string())]);
        retry_later(status, id, -32000, message, retry)
    }

    /// Opens the sealed session id (if any), keeps the session table and
    /// the per-caller bounds, hands the request to rmcp, and seals the id of
    /// a session the request created.
    async fn forward(&self, request: Request<Incoming>, caller: Caller, host: &str) -> Response<Body> {
        let address = request.extensions().get::<SocketAddr>().map(SocketAddr::ip);
        let owner = caller.owner_key(address);
        let (mut parts, body) = request.into_parts();
        // Only a POST carries a message; GET and DELETE go on without a body.
        let mut envelope = jsonrpc::Envelope::default();
        let bytes = if parts.method == Method::POST {
            let bytes = match self.read_body(&parts, body).await {
                Ok(bytes) => bytes,
                Err(refusal) => return refusal,
            };
            match jsonrpc::check(&bytes) {
                Ok(checked) => envelope = checked,
                Err(refusal) => {
                    return json(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"jsonrpc": "2.0", "id": refusal.id,
                            "error": {"code": refusal.code, "message": refusal.message}}),
                    );
                }
            }
            bytes
        } else {
            Bytes::new()
        };
        parts.extensions.insert(caller.clone());
        let mut opened = None;
        let presented_header = parts.headers.get(SESSION_HEADER).cloned();
        if let Some(presented) = presented_header.as_ref().and_then(|v| v.to_str().ok()) {
            match self.sessions.open(presented, &caller) {
                Ok(id) => {
                    if let Ok(value) = HeaderValue::from_str(&id) {
                        parts.headers.insert(SESSION_HEADER, value);
                    }
                    opened = Some(id);
                }
                Err(rejection) => {
                    let reason = match rejection {
                        SessionRejection::Invalid => {
                            "Session not found: the session id is unknown, expired or was issued to someone else"
                        }
                        SessionRejection::Ended => "Session not found: the session was ended",
                    };
                    // Streamable HTTP: an unknown session is 404, and the
                    // client starts a new one.
                    return jsonrpc_error(StatusCode::NOT_FOUND, -32001, reason.into());
                }
            }
        }
        let now = Instant::now();
        let mut reserved = false;
        if let Some(id) = &opened {
            // A session closed here or made by another replica is restored
            // by rmcp from its sealed id: it takes a place in the table.
            match self.table.admit_restored(id, &owner, now) {
                Ok(evict) => self.close_sessions(evict, "capacity"),
                Err(refused) => {
                    self.sessions.release(id);
                    return Self::session_refused(refused, envelope.id);
                }
            }
        } else if envelope.method.as_deref() == Some("initialize") {
            match self.table.admit_new(&owner, now) {
                Ok(evict) => {
                    self.close_sessions(evict, "capacity");
                    reserved = true;
                }
                Err(refused) => return Self::session_refused(refused, envelope.id),
            }
        }
        let cancel_reservation = |front: &Self| {
            if reserved {
                front.table.cancel(&owner);
            }
        };
        if let Some(tool) = &envelope.tool {
            if let Some(refusal) = self.tool_scope_check(&caller, host, tool) {
                cancel_reservation(self);
                if let Some(id) = &opened {
                    self.sessions.release(id);
                }
                return refusal;
            }
            if let Err(after) = self.rate.take(&owner, now) {
                crate::metrics::METRICS.count("cnpg_mcp_rate_limited_total", Vec::new());
                if let Some(id) = &opened {
                    self.sessions.release(id);
                }
                return retry_later(
                    StatusCode::TOO_MANY_REQUESTS,
                    envelope.id,
                    -32000,
                    format!(
                        "rate limit: {} tool calls per minute per caller; retry in {} s",
                        self.settings.tool_calls_per_minute,
                        after.as_secs()
                    ),
                    after,
                );
            }
        }
        if let Some(id) = &opened {
            self.table.begin(id, now);
        }
        let deleting = parts.method == Method::DELETE;
        let mut response = as_jsonrpc(self.mcp.handle(Request::from_parts(parts, Full::new(bytes))).await).await;
        if let Some(id) = &opened {
            self.sessions.release(id);
            if deleting && response.status().is_success() {
                self.sessions.end(id);
                self.table.remove(id);
                // rmcp says 202; the SDKs count only 200 and 204 as a
                // session ended (the Python SDK logs a failure otherwise).
                *response.status_mut() = StatusCode::NO_CONTENT;
                *response.body_mut() = Full::new(Bytes::new()).boxed();
                response.headers_mut().remove(header::CONTENT_TYPE);
                response.headers_mut().remove(header::CONTENT_LENGTH);
            }
        }
        let created = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match (&created, reserved) {
            (Some(id), true) if opened.is_none() => self.table.created(id, &owner, Instant::now()),
            _ => cancel_reservation(self),
        }
        if let Some(id) = created {
            if opened.as_deref() == Some(id.as_str()) {
                // rmcp echoed its own id: the client keeps the sealed one.
                if let Some(presented) = presented_header {
                    response.headers_mut().insert(SESSION_HEADER, presented);
                }
            } else if let Some(sealed) = self.sessions.take_issued(&id, &caller) {
                if let Ok(value) = HeaderValue::from_str(&sealed) {
                    response.headers_mut().insert(SESSION_HEADER, value);
                }
            } else {
                // Never hand out an id no other replica could restore.
                tracing::error!("a session was created without sealed state; refusing it");
                self.table.remove(&id);
                return jsonrpc_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    -32603,
                    "cannot create a session".into(),
                );
            }
        }
        match opened {
            // The session stays busy (never evicted) until its answer,
            // stream included, is over.
            Some(id) if !deleting => {
                let table = self.table.clone();
                guarded(response, move || table.end(&id, Instant::now()))
            }
            _ => response,
        }
    }
}

/// 429 or 503 with `Retry-After` and a JSON-RPC error.
fn retry_later(
    status: StatusCode,
    id: Option<serde_json::Value>,
    code: i32,
    message: String,
    after: Duration,
) -> Response<Body> {
    let mut response = json(
        status,
        serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    );
    let seconds = after.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A response body that runs `done` once it is dropped: when the answer
/// is fully sent, or the client went away.
struct Guarded<F: FnOnce() + Send + Sync + Unpin + 'static> {
    inner: Body,
    done: Option<F>,
}

impl<F: FnOnce() + Send + Sync + Unpin + 'static> Drop for Guarded<F> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done();
        }
    }
}

impl<F: FnOnce() + Send + Sync + Unpin + 'static> hyper::body::Body for Guarded<F> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

fn guarded(response: Response<Body>, done: impl FnOnce() + Send + Sync + Unpin + 'static) -> Response<Body> {
    let (parts, inner) = response.into_parts();
    Response::from_parts(
        parts,
        Guarded {
            inner,
            done: Some(done),
        }
        .boxed(),
    )
}

/// rmcp refuses some requests (406 Accept, 415 Content-Type, 405, a
/// missing or unknown session) with a line of plain text; a client is owed
/// a JSON-RPC error object, so the line becomes its message. The status
/// and the other headers stay.
async fn as_jsonrpc(response: Response<Body>) -> Response<Body> {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match Limited::new(body, 4096).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).trim().to_string(),
        Err(_) => String::new(),
    };
    let text = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_string()
    } else {
        text
    };
    let code = match status {
        StatusCode::NOT_FOUND => -32001,
        s if s.is_server_error() => -32603,
        _ => -32600,
    };
    let mut answer = jsonrpc_error(status, code, text);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

/// rmcp's in-process session table. No priming events on request streams:
/// they announce resumability (Last-Event-ID), which needs an event store
/// this server does not keep; a client that loses a stream retries the
/// request instead. Idle sessions are closed by [`limits::SessionTable`]'s
/// sweep; rmcp's own keep-alive, a minute later, is only a backstop.
fn session_manager(idle: Duration) -> LocalSessionManager {
    let mut manager = LocalSessionManager::default();
    manager.session_config.sse_retry = None;
    manager.session_config.channel_capacity = 64;
    manager.session_config.keep_alive = Some(idle + Duration::from_secs(60));
    manager
}

/// Closes sessions idle past their limit, until `stop`.
async fn sweep_sessions(front: Arc<FrontEnd>, stop: CancellationToken) {
    let every = (front.settings.sessions.idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(15));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let expired = front.table.expired(Instant::now());
        front.close_sessions(expired, "idle");
    }
}

/// Requests a connection is answering, and since when it has answered
/// none: what the idle timeout looks at.
struct Activity {
    opened: Instant,
    busy: AtomicUsize,
    /// Milliseconds after `opened` when the last answer ended.
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    fn begin(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        let now = self.opened.elapsed().as_millis() as u64;
        self.idle_since_ms.store(now, Ordering::Release);
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        self.opened.elapsed().saturating_sub(since)
    }
}

/// A running HTTP server.
pub struct HttpServer {
    pub local_addr: SocketAddr,
    listener: TcpListener,
    front: Arc<FrontEnd>,
    shutdown_grace: Duration,
    runtime: Arc<crate::runtime::Runtime>,
    /// Ends rmcp's sessions and streams; cancelled only after in-flight
    /// calls have drained.
    sessions: CancellationToken,
}

impl HttpServer {
    pub async fn bind(
        addr: SocketAddr,
        shared: Arc<McpShared>,
        settings: HttpSettings,
        readiness: Arc<Readiness>,
        auth: Option<Arc<Authenticator>>,
        facade: Option<Arc<crate::facade::Facade>>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let session_streams = CancellationToken::new();
        let runtime = shared.runtime().clone();
        let local_addr = listener.local_addr()?;
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(true)
            .with_json_response(true)
            .with_sse_keep_alive(Some(Duration::from_secs(15)))
            .with_max_request_body_bytes(settings.max_body_bytes)
            .with_cancellation_token(session_streams.clone())
            // Host and Origin are checked here, before rmcp sees the request.
            .disable_allowed_hosts()
            .disable_allowed_origins();
        let sessions = Arc::new(SealedSessionStore::new(shared.state_key()).map_err(std::io::Error::other)?);
        let mut config = config;
        config.session_store = Some(sessions.clone());
        let factory_shared = shared.clone();
        let manager = Arc::new(session_manager(settings.sessions.idle));
        let mcp = StreamableHttpService::new(move || Ok(factory_shared.handler()), manager.clone(), config);
        let table = Arc::new(limits::SessionTable::new(settings.sessions));
        let rate = limits::CallRate::new(settings.tool_calls_per_minute);
        let shutdown_grace = settings.shutdown_grace;
        Ok(HttpServer {
            local_addr,
            listener,
            front: Arc::new(FrontEnd {
                settings,
                readiness,
                mcp,
                manager,
                sessions,
                table,
                rate,
                connections: AtomicUsize::new(0),
                auth,
                facade,
                runtime: runtime.clone(),
                answering: AtomicUsize::new(0),
            }),
            shutdown_grace,
            runtime,
            sessions: session_streams,
        })
    }

    /// Serves until `stop` fires, then drains connections for up to the
    /// grace period.
    pub async fn run(self, stop: CancellationToken) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let limits = self.front.settings.connections;
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            // The read buffer bounds the request head (431 past it); hyper
            // needs at least 8 KiB.
            .max_buf_size(limits.max_header_bytes.max(8192))
            .max_headers(128);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(Some(limits.idle_timeout.max(Duration::from_secs(1))))
            .keep_alive_timeout(Duration::from_secs(20));
        let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
        tokio::spawn(sweep_sessions(self.front.clone(), stop.clone()));
        loop {
            // At the cap, further connections wait in the listen queue.
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                () = stop.cancelled() => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stop.cancelled() => break,
            };
            // Small JSON and SSE frames must not wait for Nagle.
            let _ = stream.set_nodelay(true);
            let front = self.front.clone();
            let activity = Arc::new(Activity::new());
            let tracked = activity.clone();
            let service = service_fn(move |mut request: Request<Incoming>| {
                let front = front.clone();
                let activity = tracked.clone();
                request.extensions_mut().insert(peer);
                activity.begin();
                async move {
                    let answering = (request.method() != Method::GET).then(|| Answering::start(front.clone()));
                    let response = front.route(request).await;
                    Ok::<_, Infallible>(guarded(response, move || {
                        drop(answering);
                        activity.end();
                    }))
                }
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let watched = graceful.watch(connection);
            let front = self.front.clone();
            front.connections.fetch_add(1, Ordering::Relaxed);
            let idle_limit = limits.idle_timeout;
            tokio::spawn(async move {
                let _slot = slot;
                tokio::pin!(watched);
                let check = (idle_limit / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
                loop {
                    tokio::select! {
                        ended = &mut watched => {
                            if let Err(error) = ended {
                                tracing::debug!(%peer, %error, "connection ended with an error");
                            }
                            break;
                        }
                        () = tokio::time::sleep(check) => {
                            if activity.idle_for() >= idle_limit {
                                // Dropping the connection closes the socket.
                                crate::metrics::METRICS.count(
                                    "cnpg_mcp_connections_closed_total",
                                    vec![("reason", "idle".to_string())],
                                );
                                tracing::debug!(%peer, "closing an idle connection");
                                break;
                            }
                        }
                    }
                }
                front.connections.fetch_sub(1, Ordering::Relaxed);
            });
        }
        // No new connections from here. Calls already running finish (up to
        // the grace period); then sessions and their streams are closed and
        // the connections drained.
        let deadline = tokio::time::Instant::now() + self.shutdown_grace;
        tracing::info!(
            in_flight_calls = self.runtime.in_flight_calls(),
            "shutting down: draining in-flight calls"
        );
        // A call that finished still has to hand its answer to its HTTP
        // request: wait for both, then close the sessions.
        while (self.runtime.in_flight_calls() > 0 || self.front.answering.load(Ordering::Acquire) > 0)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.sessions.cancel();
        let remaining = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_secs(1));
        if tokio::time::timeout(remaining, graceful.shutdown()).await.is_err() {
            tracing::warn!(grace = ?self.shutdown_grace, "connections still open after the grace period; closing");
        }
    }
}
