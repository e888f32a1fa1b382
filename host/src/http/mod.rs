//! The HTTP front end: routing, health, Host/Origin policy, body limit,
//! per-request timeout, graceful shutdown. `/mcp` is handed to rmcp's
//! Streamable HTTP service once the request passed our checks.

mod policy;
mod sessions;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{AuthOutcome, Authenticator};
use crate::caller::Caller;
use crate::mcp::{McpHandler, McpShared};
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
}

/// The Prometheus text of the process: counters and histograms, plus the
/// gauges read now.
fn metrics_text(runtime: &crate::runtime::Runtime, auth: Option<&Authenticator>) -> String {
    let mut gauges = vec![(
        "cnpg_mcp_in_flight_calls",
        "Tool calls holding an admission slot.",
        runtime.in_flight_calls() as f64,
    )];
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
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
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
                    metrics_text(&runtime, auth.as_deref()),
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
    sessions: Arc<SealedSessionStore>,
    /// The OAuth resource server; `None` runs without authentication.
    auth: Option<Arc<Authenticator>>,
    /// The authorization-server facade, when enabled (its endpoints come
    /// before everything else).
    facade: Option<Arc<crate::facade::Facade>>,
    runtime: Arc<crate::runtime::Runtime>,
    /// Requests being answered, other than GET (long-lived event streams):
    /// shutdown waits for them so a finished call's answer is written
    /// before the sessions close.
    answering: AtomicUsize,
}

/// Counts one request as being answered while it lives.
struct Answering<'a>(&'a AtomicUsize);

impl<'a> Answering<'a> {
    fn start(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Answering(counter)
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
                metrics_text(&self.runtime, self.auth.as_deref()),
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
    fn tool_scope_check(&self, caller: &Caller, host: &str, body: &[u8]) -> Option<Response<Body>> {
        let auth = self.auth.as_ref()?;
        #[derive(serde::Deserialize)]
        struct Call {
            method: Option<String>,
            params: Option<Params>,
        }
        #[derive(serde::Deserialize)]
        struct Params {
            name: Option<String>,
        }
        let call: Call = serde_json::from_slice(body).ok()?;
        if call.method.as_deref() != Some("tools/call") {
            return None;
        }
        let name = call.params.and_then(|p| p.name)?;
        let registry = self.runtime.registry();
        let (_, tool) = registry.tool(&name)?;
        let read_only = tool.descriptor.annotations.read_only == Some(true);
        let needed = auth.tool_scopes(&name, read_only);
        let missing = Authenticator::missing_scopes(caller, &needed);
        if missing.is_empty() {
            return None;
        }
        tracing::warn!(target: "cnpg_mcp::auth", reason = "insufficient scope for tool", tool = %name,
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

    /// Opens the sealed session id (if any), hands the request to rmcp, and
    /// seals the id of a session the request created.
    async fn forward(&self, request: Request<Incoming>, caller: Caller, host: &str) -> Response<Body> {
        let (mut parts, body) = request.into_parts();
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
        let deleting = parts.method == Method::DELETE;
        let mut response = self.dispatch(parts, body, &caller, host).await;
        if let Some(id) = &opened {
            self.sessions.release(id);
            if deleting && response.status().is_success() {
                self.sessions.end(id);
            }
        }
        let created = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
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
                return jsonrpc_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    -32603,
                    "cannot create a session".into(),
                );
            }
        }
        response
    }

    /// Buffers a POST body under the size cap, answers malformed JSON with a
    /// JSON-RPC parse error, and hands the request to rmcp.
    async fn dispatch(
        &self,
        parts: http::request::Parts,
        body: Incoming,
        caller: &Caller,
        host: &str,
    ) -> Response<Body> {
        if parts.method != Method::POST {
            return self.mcp.handle(Request::from_parts(parts, body)).await;
        }
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
            return too_large();
        }
        let bytes = match Limited::new(body, self.settings.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => return too_large(),
            Err(error) => {
                return jsonrpc_error(
                    StatusCode::BAD_REQUEST,
                    -32700,
                    format!("cannot read the request body: {error}"),
                );
            }
        };
        if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            return jsonrpc_error(StatusCode::BAD_REQUEST, -32700, format!("Parse error: {error}"));
        }
        if let Some(refusal) = self.tool_scope_check(caller, host, &bytes) {
            return refusal;
        }
        self.mcp.handle(Request::from_parts(parts, Full::new(bytes))).await
    }
}

/// rmcp's in-process session table. No priming events on request streams:
/// they announce resumability (Last-Event-ID), which needs an event store
/// this server does not keep; a client that loses a stream retries the
/// request instead. A session idle for the keep-alive is dropped here and
/// restored from its sealed id on the next request.
fn session_manager() -> LocalSessionManager {
    let mut manager = LocalSessionManager::default();
    manager.session_config.sse_retry = None;
    manager.session_config.channel_capacity = 64;
    manager
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
        let mcp = StreamableHttpService::new(
            move || Ok(factory_shared.handler()),
            Arc::new(session_manager()),
            config,
        );
        let shutdown_grace = settings.shutdown_grace;
        Ok(HttpServer {
            local_addr,
            listener,
            front: Arc::new(FrontEnd {
                settings,
                readiness,
                mcp,
                sessions,
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
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
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
            let service = service_fn(move |mut request: Request<Incoming>| {
                let front = front.clone();
                request.extensions_mut().insert(peer);
                async move {
                    let _answering = (request.method() != Method::GET).then(|| Answering::start(&front.answering));
                    Ok::<_, Infallible>(front.route(request).await)
                }
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let watched = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = watched.await {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
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
