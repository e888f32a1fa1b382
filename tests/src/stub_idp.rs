//! An in-process stand-in for an IdP's discovery and JWKS endpoints whose
//! behaviour a test controls (keys, outages, oversized or slow answers,
//! redirects, no metadata document at all) and whose fetches it counts. Used with tokens crafted by
//! [`crate::jwt`] for the failure modes a real IdP cannot be made to show;
//! the real IdP (`crate::idp`) covers the normal flows.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// How the JWKS endpoint answers.
#[derive(Debug, Clone, PartialEq)]
pub enum JwksMode {
    Normal,
    Status(u16),
    Huge,
    Slow(Duration),
    Redirect,
    Malformed,
}

pub struct StubIdp {
    pub issuer: String,
    pub port: u16,
    jwks: Mutex<Value>,
    mode: Mutex<JwksMode>,
    /// Discovery answers 503 while set.
    discovery_down: std::sync::atomic::AtomicBool,
    /// No metadata document is published: both well-known paths answer 404.
    without_metadata: bool,
    jwks_hits: AtomicU64,
    discovery_hits: AtomicU64,
    other_hits: AtomicU64,
}

impl StubIdp {
    pub async fn start(jwks: Value) -> Arc<StubIdp> {
        Self::start_serving(jwks, false).await
    }

    /// An IdP that publishes its JWKS at `/jwks` and no metadata document
    /// (OpenID or RFC 8414): what `OIDC_JWKS_URI` is for.
    pub async fn start_jwks_only(jwks: Value) -> Arc<StubIdp> {
        Self::start_serving(jwks, true).await
    }

    async fn start_serving(jwks: Value, without_metadata: bool) -> Arc<StubIdp> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let idp = Arc::new(StubIdp {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            jwks: Mutex::new(jwks),
            mode: Mutex::new(JwksMode::Normal),
            discovery_down: Default::default(),
            without_metadata,
            jwks_hits: AtomicU64::new(0),
            discovery_hits: AtomicU64::new(0),
            other_hits: AtomicU64::new(0),
        });
        let server = idp.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let idp = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                        let idp = idp.clone();
                        async move { Ok::<_, Infallible>(idp.answer(request.uri().path()).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        idp
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.jwks.lock().unwrap() = jwks;
    }

    pub fn set_mode(&self, mode: JwksMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn set_discovery_down(&self, down: bool) {
        self.discovery_down.store(down, Ordering::SeqCst);
    }

    pub fn jwks_hits(&self) -> u64 {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests to any other path (e.g. a `jku` a token pointed at).
    pub fn other_hits(&self) -> u64 {
        self.other_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> u64 {
        self.discovery_hits.load(Ordering::SeqCst)
    }

    fn metadata(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": format!("{}/auth", self.issuer),
            "token_endpoint": format!("{}/token", self.issuer),
            "jwks_uri": format!("{}/jwks", self.issuer),
            "registration_endpoint": format!("{}/reg", self.issuer),
            "scopes_supported": ["openid", "mcp:read", "mcp:write"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        })
    }

    async fn answer(&self, path: &str) -> http::Response<Full<Bytes>> {
        let reply = |status: u16, body: String| {
            http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        match path {
            "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server"
                if self.without_metadata =>
            {
                self.discovery_hits.fetch_add(1, Ordering::SeqCst);
                reply(404, "{}".into())
            }
            "/.well-known/openid-configuration" => {
                self.discovery_hits.fetch_add(1, Ordering::SeqCst);
                if self.discovery_down.load(Ordering::SeqCst) {
                    return reply(503, "{}".into());
                }
                reply(200, self.metadata().to_string())
            }
            "/jwks" => {
                self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                let mode = self.mode.lock().unwrap().clone();
                match mode {
                    JwksMode::Normal => reply(200, self.jwks.lock().unwrap().to_string()),
                    JwksMode::Status(code) => reply(code, "{\"error\":\"down\"}".into()),
                    JwksMode::Huge => reply(200, format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(2 << 20))),
                    JwksMode::Slow(delay) => {
                        tokio::time::sleep(delay).await;
                        reply(200, self.jwks.lock().unwrap().to_string())
                    }
                    JwksMode::Redirect => http::Response::builder()
                        .status(302)
                        .header("location", "http://127.0.0.1:9/jwks")
                        .body(Full::new(Bytes::new()))
                        .unwrap(),
                    JwksMode::Malformed => reply(200, "{\"keys\": [".into()),
                }
            }
            _ => {
                self.other_hits.fetch_add(1, Ordering::SeqCst);
                reply(404, "{}".into())
            }
        }
    }
}
