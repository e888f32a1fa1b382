//! The authorization-server facade (`OAUTH_FACADE`), for identity
//! providers without usable dynamic client registration.
//!
//! MCP clients see this server as their authorization server: our issuer
//! (PUBLIC_URL's origin), its RFC 8414 metadata (no OpenID discovery: we
//! issue no ID tokens), `/register` (RFC 7591, the upstream client chosen
//! by a DCR-translation component), `/authorize` with a consent page, the
//! upstream callback, `/token` (authorization code with PKCE, refresh
//! tokens rotated with reuse detection and retired only when a new one is
//! issued) and `/revoke`. Users sign in at the upstream IdP; the tokens we
//! issue are `at+jwt` JWTs signed with the configured key, so every replica
//! verifies every token, and they reference the upstream session that the
//! refresh grant re-checks (an IdP outage keeps the grant; only the IdP's
//! refusal ends it).
//!
//! - [`store`]: shared state (Kubernetes Secrets or files).
//! - [`seal`]: signing key, encryption at rest, hashes.
//! - [`translator`]: the DCR-translation component host.
//! - [`outbound`]: what a translator's HTTP requests may reach.
//! - [`cimd`]: clients identified by a metadata document URL.

pub mod cimd;
pub mod outbound;
pub mod seal;
pub mod setup;
pub mod store;
pub mod translator;
mod upstream;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::auth::token::KeySet;
use seal::{Sealer, SigningKey, digest, pkce_challenge, random_token, same_digest};
use store::Store;
use translator::{Registration, RegistrationError, TokenAuth, Translator, TranslatorFailure};
pub use upstream::Upstream;

/// Largest request body of a facade endpoint.
const MAX_FORM_BYTES: usize = 64 * 1024;
const TRANSACTION_TTL: Duration = Duration::from_secs(600);
const CODE_TTL: Duration = Duration::from_secs(60);
/// `Retry-After` of a refresh refused because the IdP could not be asked.
const UPSTREAM_RETRY_AFTER_SECONDS: u64 = 10;

/// Why a refresh issued nothing, once its token was claimed.
enum Renewal {
    /// The grant is over (the IdP refused it): the session ends.
    Ended(OAuthError),
    /// Worth retrying (IdP outage, store failure): the token is put back.
    Retry(OAuthError),
}

/// Facade configuration, validated (see `config.rs`).
#[derive(Debug, Clone)]
pub struct FacadeSettings {
    /// Our issuer: PUBLIC_URL's origin, or a path under it.
    pub issuer: String,
    /// The protected resource (PUBLIC_URL): the `aud` of our tokens.
    pub resource: String,
    pub upstream_issuer: String,
    /// Scopes clients may ask for, and those granted when they ask none.
    pub scopes_supported: Vec<String>,
    pub default_scopes: Vec<String>,
    /// What we ask the upstream for.
    pub upstream_scope: String,
    /// Extra authorization request parameters for the upstream
    /// (`audience`, `resource`, `prompt`...).
    pub upstream_params: Vec<(String, String)>,
    /// The pre-registered upstream client (dcr-static) and its secret.
    pub upstream_client_id: Option<String>,
    pub upstream_client_secret: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a registered client is kept.
    pub client_ttl: Duration,
    /// New clients (translator runs) per minute in this process; 0: no
    /// limit.
    pub registrations_per_minute: u32,
    pub username_claim: String,
    pub groups_claim: String,
    pub leeway_seconds: u64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Percent-encoding for query and form values.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decodes an `application/x-www-form-urlencoded` string (or a query).
/// Repeated parameters are an error for the OAuth endpoints, so they are
/// kept and checked by [`Params::one`].
pub fn form_decode(text: &str) -> Vec<(String, String)> {
    fn decode(part: &str) -> String {
        let bytes = part.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = |b: u8| (b as char).to_digit(16);
                    match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                        (Some(high), Some(low)) => {
                            out.push((high * 16 + low) as u8);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Request parameters.
struct Params(Vec<(String, String)>);

impl Params {
    /// The single value of `name`; `Err` when repeated.
    fn one(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("parameter `{name}` is repeated"),
            ));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.one(name)?
            .ok_or_else(|| OAuthError::new("invalid_request", format!("parameter `{name}` is missing")))
    }
}

/// An OAuth error answer.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
    pub status: StatusCode,
    /// Seconds to wait before trying again (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        let status = match code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        OAuthError {
            code,
            description: description.into(),
            status,
            retry_after: None,
        }
    }

    fn store(error: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{error:#}"), "facade store failed");
        Self::new(
            "temporarily_unavailable",
            "the authorization server's store is unavailable; try again",
        )
    }

    fn reply(&self) -> Response<Full<Bytes>> {
        let mut response = json_reply(
            self.status,
            &json!({"error": self.code, "error_description": self.description}),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cnpg-mcp\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A token bucket: up to `per_minute` events at once, refilled at
/// `per_minute` a minute.
pub struct RateLimit {
    per_minute: u32,
    state: std::sync::Mutex<(f64, std::time::Instant)>,
}

impl RateLimit {
    pub fn per_minute(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            state: std::sync::Mutex::new((f64::from(per_minute), std::time::Instant::now())),
        }
    }

    /// Takes one event, or says how many seconds until one is available.
    pub fn take(&self) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let (tokens, last) = *state;
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * rate).min(f64::from(self.per_minute));
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            Ok(())
        } else {
            *state = (tokens, now);
            Err(((1.0 - tokens) / rate).ceil() as u64)
        }
    }
}

fn json_reply(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn redirect(location: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A page for errors that must not be redirected (unknown client, bad
/// redirect URI, unknown state): shown to the user, nothing sent anywhere.
fn error_page(status: StatusCode, title: &str, detail: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{d}</p></body></html>",
        t = html_escape(title),
        d = html_escape(detail)
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    page_headers(&mut response, "");
    response
}

fn page_headers(response: &mut Response<Full<Bytes>>, form_targets: &str) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {form_targets}; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(csp.trim()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Whether `host` names the loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks one redirect URI of a registration (RFC 7591 section 2, RFC 8252,
/// OAuth 2.1): absolute, no fragment, no user info, https (http only on a
/// loopback host); native clients may also use private-use schemes with a
/// dot (reverse domain names).
pub fn check_redirect_uri(uri: &str, native: bool) -> Result<(), String> {
    if uri.len() > 2000 || uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "redirect URI `{}` is too long or has spaces or control characters",
            uri.escape_debug()
        ));
    }
    if uri.contains('#') {
        return Err(format!("redirect URI `{uri}` has a fragment"));
    }
    let (scheme, rest) = uri
        .split_once(':')
        .ok_or_else(|| format!("redirect URI `{uri}` is not absolute"))?;
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "javascript" | "data" | "vbscript" | "file" | "blob" | "about" => Err(format!(
            "redirect URI `{uri}` uses the `{scheme}` scheme, which is never allowed"
        )),
        "https" | "http" => {
            let parsed: http::Uri = uri
                .parse()
                .map_err(|e| format!("redirect URI `{uri}` is not a URL: {e}"))?;
            let authority = parsed
                .authority()
                .ok_or_else(|| format!("redirect URI `{uri}` has no host"))?;
            if authority.as_str().contains('@') {
                return Err(format!("redirect URI `{uri}` has user information"));
            }
            if scheme == "http" && !is_loopback_host(authority.host()) {
                return Err(format!(
                    "redirect URI `{uri}` uses http on a non-loopback host; use https (http only for 127.0.0.1, [::1] or localhost)"
                ));
            }
            let _ = rest;
            Ok(())
        }
        _ if native && scheme.contains('.') && !rest.is_empty() => Ok(()),
        _ if native => Err(format!(
            "redirect URI `{uri}`: a private-use scheme must be a reverse domain name (e.g. com.example.app:/callback)"
        )),
        _ => Err(format!(
            "redirect URI `{uri}`: a web client must use https (or http on a loopback host); set application_type \"native\" for an app scheme"
        )),
    }
}

/// Whether `presented` matches `registered` (exactly, except that the port
/// of a loopback http redirect may differ: RFC 8252 section 7.3).
pub fn redirect_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(a), Ok(b)) = (registered.parse::<http::Uri>(), presented.parse::<http::Uri>()) else {
        return false;
    };
    a.scheme_str() == Some("http")
        && b.scheme_str() == Some("http")
        && a.host().is_some_and(is_loopback_host)
        && a.host() == b.host()
        && a.path_and_query().map(|p| p.as_str()) == b.path_and_query().map(|p| p.as_str())
        && !presented.contains('@')
        && !presented.contains('#')
}

fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = base.to_string();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        url.push(separator);
        url.push_str(&format!("{}={}", form_encode(k), form_encode(v)));
        separator = '&';
    }
    url
}

/// What the resource server needs to check our tokens.
pub struct TokenVerification {
    pub issuer: String,
    pub keys: KeySet,
}

pub struct Facade {
    settings: FacadeSettings,
    key: SigningKey,
    sealer: Sealer,
    store: Arc<dyn Store>,
    translator: Translator,
    upstream: Upstream,
    /// Path of the issuer ("" or "/prefix").
    base: String,
    /// `__Host-` cookies with `Secure` (https issuers).
    secure: bool,
    /// Client ID Metadata Documents, when accepted.
    cimd: Option<cimd::CimdSettings>,
    /// New clients (translator runs) this process sets up per minute.
    registrations: RateLimit,
    /// A lock per metadata-document URL being fetched, so concurrent
    /// first requests of one client fetch once and run the translator once.
    cimd_setup: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Facade {
    pub fn new(
        settings: FacadeSettings,
        key: SigningKey,
        store: Arc<dyn Store>,
        translator: Translator,
        upstream: Upstream,
        cimd: Option<cimd::CimdSettings>,
    ) -> anyhow::Result<Facade> {
        let parsed: http::Uri = settings
            .issuer
            .parse()
            .map_err(|e| anyhow::anyhow!("facade issuer `{}` is not a URL: {e}", settings.issuer))?;
        let base = parsed.path().trim_end_matches('/').to_string();
        let secure = parsed.scheme_str() == Some("https");
        let registrations = RateLimit::per_minute(settings.registrations_per_minute);
        Ok(Facade {
            sealer: Sealer::for_key(&key),
            settings,
            key,
            store,
            translator,
            upstream,
            base,
            secure,
            cimd,
            registrations,
            cimd_setup: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    pub fn settings(&self) -> &FacadeSettings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The issuer and keys the resource server checks our tokens with.
    pub fn verification(&self) -> TokenVerification {
        TokenVerification {
            issuer: self.settings.issuer.clone(),
            keys: KeySet {
                keys: vec![self.key.verification.clone()],
            },
        }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.settings.issuer.trim_end_matches('/'))
    }

    fn callback_uri(&self) -> String {
        self.endpoint("callback")
    }

    /// Whether `path` is one of ours. There is no OpenID discovery
    /// document: the facade issues no ID tokens, so it is no OpenID
    /// provider, and a document without `id_token_signing_alg_values_supported`
    /// (required by OpenID Connect Discovery section 3) would be invalid.
    /// MCP clients read the RFC 8414 document first.
    pub fn serves(&self, path: &str) -> bool {
        let wk_as = crate::auth::fetch::well_known(&self.settings.issuer, "oauth-authorization-server");
        let path_of = |url: &str| {
            url.parse::<http::Uri>()
                .map(|u| u.path().to_string())
                .unwrap_or_default()
        };
        if path == path_of(&wk_as) {
            return true;
        }
        let Some(rest) = path.strip_prefix(&self.base) else {
            return false;
        };
        matches!(
            rest,
            "/authorize" | "/authorize/consent" | "/callback" | "/token" | "/register" | "/revoke" | "/jwks"
        )
    }

    /// RFC 8414 metadata of our issuer.
    pub fn metadata(&self) -> Value {
        json!({
            "issuer": self.settings.issuer,
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "registration_endpoint": self.endpoint("register"),
            "revocation_endpoint": self.endpoint("revoke"),
            "jwks_uri": self.endpoint("jwks"),
            "scopes_supported": self.settings.scopes_supported,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": self.cimd.is_some(),
            "service_documentation": "https://cloudnative-pg.io/",
        })
    }

    /// Answers one facade request.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        let method = request.method().clone();
        let route = path.strip_prefix(&self.base).unwrap_or("");
        if path.contains("/.well-known/") {
            return match method {
                Method::GET => {
                    let mut response = json_reply(StatusCode::OK, &self.metadata());
                    let headers = response.headers_mut();
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
                    headers.remove(header::PRAGMA);
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
                    response
                }
                Method::OPTIONS => cors_preflight("GET, OPTIONS"),
                _ => method_not_allowed("GET"),
            };
        }
        match (route, &method) {
            ("/jwks", &Method::GET) => {
                let mut response = json_reply(StatusCode::OK, &json!({"keys": [self.key.jwk]}));
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
                response
            }
            ("/authorize", &Method::GET) => {
                let params = Params(form_decode(request.uri().query().unwrap_or("")));
                self.authorize(&params).await
            }
            ("/authorize/consent", &Method::POST) => {
                let cookie = consent_cookie(&request, self.cookie_name());
                match read_form(request).await {
                    Ok(params) => self.consent(&params, cookie.as_deref()).await,
                    Err(error) => error_page(StatusCode::BAD_REQUEST, "Bad request", &error.description),
                }
            }
            ("/callback", &Method::GET) => {
                let params = Params(form_decode(request.uri().query().unwrap_or("")));
                self.callback(&params).await
            }
            ("/register", &Method::POST) => with_cors(self.register(request).await),
            ("/token", &Method::POST) => with_cors(self.token(request).await),
            ("/revoke", &Method::POST) => with_cors(self.revoke(request).await),
            ("/register" | "/token" | "/revoke", &Method::OPTIONS) => cors_preflight("POST, OPTIONS"),
            ("/authorize" | "/callback" | "/jwks", _) => method_not_allowed("GET"),
            _ => method_not_allowed("POST"),
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-cnpg-mcp-consent"
        } else {
            "cnpg-mcp-consent"
        }
    }

    // ------------------------------------------------------------ register

    async fn register(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let metadata = match read_json(request).await {
            Ok(value) => value,
            Err(error) => return error.reply(),
        };
        let accepted = match validate_registration(&metadata, &self.settings.scopes_supported) {
            Ok(accepted) => accepted,
            Err(error) => return error.reply(),
        };
        let client_id = format!("mcp-{}", random_token(18));
        if let Err(error) = self.admit_new_client(&client_id) {
            return error.reply();
        }
        let upstream = match self.translate(&client_id, &accepted.document).await {
            Ok(upstream) => upstream,
            Err(error) => return error.reply(),
        };
        let secret = (accepted.auth_method != "none").then(|| random_token(32));
        let now = unix_now();
        let mut answer = accepted.document.clone();
        answer["client_id"] = json!(client_id);
        answer["client_id_issued_at"] = json!(now);
        if let Some(secret) = &secret {
            answer["client_secret"] = json!(secret);
            answer["client_secret_expires_at"] = json!(0);
        }
        let record = json!({
            "client_id": client_id,
            "metadata": accepted.document,
            "secret_digest": secret.as_deref().map(digest),
            "upstream": upstream,
            "created_at": now,
        });
        if let Err(error) = self
            .store
            .put(&format!("client:{client_id}"), &record, self.settings.client_ttl)
            .await
        {
            return OAuthError::store(error).reply();
        }
        let client_name = accepted.document["client_name"].as_str().unwrap_or("").to_string();
        tracing::info!(
            client_id = %client_id,
            client_name = %client_name,
            upstream_client = %upstream["client_id"].as_str().unwrap_or_default(),
            translator = %self.translator.name,
            "client registered"
        );
        json_reply(StatusCode::CREATED, &answer)
    }

    /// Runs the translator for a new client; answers the `upstream` part
    /// of its record (the upstream secret sealed).
    /// Counts one new client (a registration, or the first fetch of a
    /// metadata document URL) against FACADE_REGISTRATIONS_PER_MINUTE.
    fn admit_new_client(&self, client_id: &str) -> Result<(), OAuthError> {
        let Err(wait) = self.registrations.take() else {
            return Ok(());
        };
        tracing::warn!(
            client_id,
            limit = self.settings.registrations_per_minute,
            "new client refused: FACADE_REGISTRATIONS_PER_MINUTE reached"
        );
        let mut error = OAuthError::new(
            "temporarily_unavailable",
            format!("too many new clients at the moment; try again in {wait} s"),
        );
        error.status = StatusCode::TOO_MANY_REQUESTS;
        error.retry_after = Some(wait);
        Err(error)
    }

    async fn translate(&self, client_id: &str, document: &Value) -> Result<Value, OAuthError> {
        let upstream_metadata = self.upstream.metadata().await.unwrap_or(Value::Null);
        let registration = Registration {
            client_metadata: document.to_string(),
            facade_client_id: client_id.to_string(),
            callback_uri: self.callback_uri(),
            facade_issuer: self.settings.issuer.clone(),
            upstream_issuer: self.settings.upstream_issuer.clone(),
            upstream_metadata: upstream_metadata.to_string(),
        };
        let (outcome, exchanges) = self.translator.register(registration).await;
        let upstream_client = match outcome {
            Ok(client) => client,
            Err(TranslatorFailure::Refused(refusal)) => {
                let (code, description) = match refusal {
                    RegistrationError::InvalidClientMetadata(m) => ("invalid_client_metadata", m),
                    RegistrationError::InvalidRedirectUri(m) => ("invalid_redirect_uri", m),
                    RegistrationError::Upstream(m) => {
                        ("temporarily_unavailable", format!("the identity provider refused: {m}"))
                    }
                    RegistrationError::Misconfigured(m) => {
                        ("server_error", format!("client registration is misconfigured: {m}"))
                    }
                };
                tracing::warn!(translator = %self.translator.name, code, description = %description, exchanges = exchanges.len(), "registration refused");
                return Err(OAuthError::new(code, description));
            }
            Err(failure) => {
                tracing::error!(error = %failure, "registration failed");
                return Err(OAuthError::new("server_error", failure.to_string()));
            }
        };
        let record_key = format!("client:{client_id}");
        Ok(json!({
            "client_id": upstream_client.client_id,
            "sealed_secret": upstream_client
                .client_secret
                .as_deref()
                .map(|s| self.sealer.seal(&record_key, s)),
            "token_auth": match upstream_client.token_auth {
                TokenAuth::None => "none",
                TokenAuth::ClientSecretBasic => "client_secret_basic",
                TokenAuth::ClientSecretPost => "client_secret_post",
            },
            "management_uri": upstream_client.management_uri,
        }))
    }

    /// The client whose id is the URL of its metadata document, fetched
    /// (again) unless the stored copy is still fresh. The first time, the
    /// translator provides its upstream client, which later fetches keep.
    /// `Ok(None)`: metadata documents are not accepted here.
    async fn document_client(&self, url: &str) -> Result<Option<Value>, OAuthError> {
        let Some(settings) = &self.cimd else {
            return Ok(None);
        };
        let refused = |why: String| {
            tracing::warn!(client_id = %url, error = %why, "client metadata document refused");
            OAuthError::new(
                "invalid_client",
                format!("the client metadata document at {url} cannot be used: {why}"),
            )
        };
        cimd::admissible(settings, url).map_err(refused)?;
        let key = format!("client:{url}");
        let fresh = |record: &Option<Value>| {
            record
                .as_ref()
                .is_some_and(|r| r["cimd"]["fresh_until"].as_u64().is_some_and(|t| t > unix_now()))
        };
        let existing = self.store.get(&key).await.map_err(OAuthError::store)?;
        if fresh(&existing) {
            return Ok(existing);
        }
        let lock = {
            let mut locks = self.cimd_setup.lock().unwrap_or_else(|p| p.into_inner());
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(url.to_string()).or_default().clone()
        };
        let _setup = lock.lock().await;
        // Whoever held the lock before may have fetched it just now.
        let existing = self.store.get(&key).await.map_err(OAuthError::store)?;
        if fresh(&existing) {
            return Ok(existing);
        }
        let now = unix_now();
        // Fetching a URL never seen counts as a new client, accepted or not:
        // unknown URLs cannot make this server fetch without bound.
        if existing.is_none() {
            self.admit_new_client(url)?;
        }
        let fetched = cimd::fetch(settings, url).await.map_err(refused)?;
        let accepted =
            cimd::validate_document(url, &fetched.document, &self.settings.scopes_supported).map_err(|e| {
                tracing::warn!(client_id = %url, error = %e.description, "client metadata document refused");
                OAuthError::new(
                    "invalid_client",
                    format!(
                        "the client metadata document at {url} is not acceptable: {}",
                        e.description
                    ),
                )
            })?;
        let fresh_until = now + fetched.fresh_for.as_secs();
        let mut record = json!({
            "client_id": url,
            "metadata": accepted.document,
            "secret_digest": null,
            "cimd": {"fetched_at": now, "fresh_until": fresh_until},
        });
        match existing {
            Some(previous) => {
                record["upstream"] = previous["upstream"].clone();
                record["created_at"] = previous["created_at"].clone();
                self.store
                    .put(&key, &record, self.settings.client_ttl)
                    .await
                    .map_err(OAuthError::store)?;
                tracing::info!(client_id = %url, fresh_for = fetched.fresh_for.as_secs(), "client metadata document refreshed");
                Ok(Some(record))
            }
            None => {
                record["upstream"] = self.translate(url, &accepted.document).await?;
                record["created_at"] = json!(now);
                let created = self
                    .store
                    .create(&key, &record, self.settings.client_ttl)
                    .await
                    .map_err(OAuthError::store)?;
                if !created {
                    // Another replica set this client up meanwhile: use its
                    // record (and its upstream client) so all agree.
                    tracing::warn!(client_id = %url, "metadata-document client set up concurrently elsewhere; using that record");
                    return self.store.get(&key).await.map_err(OAuthError::store);
                }
                tracing::info!(
                    client_id = %url,
                    client_name = %record["metadata"]["client_name"].as_str().unwrap_or(""),
                    upstream_client = %record["upstream"]["client_id"].as_str().unwrap_or_default(),
                    translator = %self.translator.name,
                    fresh_for = fetched.fresh_for.as_secs(),
                    "client registered from its metadata document"
                );
                Ok(Some(record))
            }
        }
    }

    async fn client(&self, client_id: &str) -> Result<Option<Value>, OAuthError> {
        if client_id.len() > cimd::MAX_URL_LENGTH || (self.cimd.is_none() && cimd::is_document_url(client_id)) {
            return Ok(None);
        }
        self.store
            .get(&format!("client:{client_id}"))
            .await
            .map_err(OAuthError::store)
    }

    // ----------------------------------------------------------- authorize

    async fn authorize(&self, params: &Params) -> Response<Full<Bytes>> {
        // Until client and redirect URI are known good, errors are shown
        // here and nothing is redirected anywhere.
        let client_id = match params.required("client_id") {
            Ok(id) => id,
            Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid authorization request", &e.description),
        };
        let by_document = cimd::is_document_url(client_id);
        let found = if by_document {
            self.document_client(client_id).await
        } else {
            self.client(client_id).await
        };
        let client = match found {
            Ok(Some(client)) => client,
            Ok(None) if by_document => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Unknown client",
                    "This server does not accept client metadata document URLs as client IDs; the client must register.",
                );
            }
            Ok(None) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Unknown client",
                    "This client is not registered with this server (or its registration expired). Connect again.",
                );
            }
            Err(e) if e.code == "invalid_client" => {
                return error_page(StatusCode::BAD_REQUEST, "Client metadata refused", &e.description);
            }
            Err(e) => return error_page(e.status, "Try again", &e.description),
        };
        let registered: Vec<String> = client["metadata"]["redirect_uris"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        // Whether it was sent decides whether /token requires it (RFC 6749
        // section 4.1.3).
        let (redirect_uri, redirect_uri_sent) = match params.one("redirect_uri") {
            Ok(Some(uri)) => (uri.to_string(), true),
            Ok(None) if registered.len() == 1 => (registered[0].clone(), false),
            Ok(None) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Invalid authorization request",
                    "redirect_uri is required for a client with several redirect URIs",
                );
            }
            Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid authorization request", &e.description),
        };
        if !registered.iter().any(|r| redirect_matches(r, &redirect_uri)) {
            tracing::warn!(client_id, "authorization request with an unregistered redirect URI");
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect URI",
                "The redirect URI is not one this client registered. Nothing was sent to it.",
            );
        }
        // From here on errors go back to the client.
        let state = params.one("state").ok().flatten().map(str::to_string);
        let fail = |code: &'static str, description: &str| {
            let mut query = vec![("error", code), ("error_description", description)];
            if let Some(state) = &state {
                query.push(("state", state));
            }
            query.push(("iss", &self.settings.issuer));
            redirect(&with_query(&redirect_uri, &query))
        };
        match params.one("response_type") {
            Ok(Some("code")) => {}
            Ok(_) => return fail("unsupported_response_type", "only response_type=code is supported"),
            Err(e) => return fail("invalid_request", &e.description),
        }
        let challenge = match (params.one("code_challenge"), params.one("code_challenge_method")) {
            (Ok(Some(c)), Ok(Some("S256"))) if (43..=128).contains(&c.len()) => c.to_string(),
            (Ok(Some(_)), Ok(Some("S256"))) => {
                return fail("invalid_request", "code_challenge must be 43 to 128 characters");
            }
            (Ok(None), _) => {
                return fail(
                    "invalid_request",
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                );
            }
            _ => return fail("invalid_request", "code_challenge_method must be S256"),
        };
        let resource = match params.one("resource") {
            Ok(None) => self.settings.resource.clone(),
            Ok(Some(r)) if r == self.settings.resource => r.to_string(),
            Ok(Some(_)) => {
                return fail(
                    "invalid_target",
                    "this authorization server issues tokens for its own MCP resource only",
                );
            }
            Err(e) => return fail("invalid_request", &e.description),
        };
        let scope = match params.one("scope") {
            Ok(requested) => self.grantable_scope(requested),
            Err(e) => return fail("invalid_request", &e.description),
        };
        let transaction = random_token(24);
        let csrf = random_token(24);
        let cookie = random_token(24);
        let record = json!({
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "redirect_uri_sent": redirect_uri_sent,
            "state": state,
            "code_challenge": challenge,
            "scope": scope,
            "resource": resource,
            "csrf": csrf,
            "cookie_digest": digest(&cookie),
        });
        if let Err(e) = self
            .store
            .put(&format!("txn:{transaction}"), &record, TRANSACTION_TTL)
            .await
        {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                &OAuthError::store(e).description,
            );
        }
        self.consent_page(&client, &redirect_uri, &scope, &transaction, &csrf, &cookie)
    }

    fn grantable_scope(&self, requested: Option<&str>) -> String {
        let wanted: Vec<&str> = requested
            .unwrap_or("")
            .split(' ')
            .filter(|s| self.settings.scopes_supported.iter().any(|k| k == s))
            .collect();
        let mut scopes: Vec<String> = if wanted.is_empty() {
            self.settings.default_scopes.clone()
        } else {
            wanted.into_iter().map(str::to_string).collect()
        };
        scopes.dedup();
        scopes.join(" ")
    }

    fn consent_page(
        &self,
        client: &Value,
        redirect_uri: &str,
        scope: &str,
        transaction: &str,
        csrf: &str,
        cookie: &str,
    ) -> Response<Full<Bytes>> {
        let name = client["metadata"]["client_name"].as_str().unwrap_or("An MCP client");
        let target = redirect_uri
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| redirect_uri.to_string());
        let scopes: String = scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| format!("<li><code>{}</code></li>", html_escape(s)))
            .collect();
        // A metadata-document client is vouched for by the site that
        // publishes its document; say which, and say so when the answer
        // goes somewhere else (a loopback redirect can be any program on
        // the user's computer).
        let vouched = client["cimd"].is_object().then(|| {
            let client_id = client["client_id"].as_str().unwrap_or("");
            let host = client_id
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.host().map(str::to_string))
                .unwrap_or_default();
            let host = host.to_ascii_lowercase();
            let parsed_redirect = redirect_uri.parse::<http::Uri>().ok();
            let web = parsed_redirect
                .as_ref()
                .and_then(|u| u.scheme_str())
                .is_some_and(|s| s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http"));
            let redirect_host = parsed_redirect
                .as_ref()
                .and_then(|u| u.host())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let mut text = format!(
                "<p>This client is described by <b>{host}</b> (its metadata is published at <code>{url}</code>).</p>",
                host = html_escape(&host),
                url = html_escape(client_id),
            );
            if !web {
                let scheme = redirect_uri.split(':').next().unwrap_or("");
                text.push_str(&format!(
                    "<p><b>Note:</b> access is handed to the app that handles <code>{}:</code> links on this device. Allow only if you just started the connection from that client.</p>",
                    html_escape(scheme)
                ));
            } else if is_loopback_host(&redirect_host) {
                text.push_str(
                    "<p><b>Note:</b> access is handed to a program on this computer. Allow only if you just started the connection from that client.</p>",
                );
            } else if redirect_host != host {
                text.push_str(&format!(
                    "<p><b>Note:</b> access is handed to <code>{}</code>, not to {}. Allow only if you expect that.</p>",
                    html_escape(&redirect_host),
                    html_escape(&host),
                ));
            }
            text
        });
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Allow access?</title>\
             <style>body{{font-family:sans-serif;max-width:34em;margin:3em auto}}button{{margin-right:1em;padding:.5em 1.5em}}</style></head>\
             <body><h1>Allow {name} to manage PostgreSQL clusters as you?</h1>\
             <p><b>{name}</b> (client <code>{client_id}</code>) asks to use the CloudNativePG MCP server at <code>{resource}</code> with your identity.</p>\
             {vouched}<p>After you sign in, it will receive access at <code>{target}</code>.</p>\
             <p>Scopes:</p><ul>{scopes}</ul>\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"transaction\" value=\"{transaction}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
             </form></body></html>",
            name = html_escape(name),
            client_id = html_escape(client["client_id"].as_str().unwrap_or("")),
            resource = html_escape(&self.settings.resource),
            target = html_escape(&target),
            vouched = vouched.unwrap_or_default(),
            action = html_escape(&self.endpoint("authorize/consent")),
            transaction = transaction,
            csrf = csrf,
        );
        let mut response = Response::new(Full::new(Bytes::from(body)));
        let upstream_origin = self.upstream.authorization_origin().unwrap_or_default();
        page_headers(&mut response, &format!("{upstream_origin} {}", origin_of(redirect_uri)));
        let cookie = format!(
            "{}={cookie}; Path={}/authorize; HttpOnly; SameSite=Lax; Max-Age=600{}",
            self.cookie_name(),
            if self.secure { "" } else { self.base.as_str() },
            if self.secure { "; Secure" } else { "" },
        );
        // `__Host-` cookies must have Path=/.
        let cookie = if self.secure {
            cookie.replacen("Path=/authorize", "Path=/", 1)
        } else {
            cookie
        };
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        response
    }

    async fn consent(&self, params: &Params, cookie: Option<&str>) -> Response<Full<Bytes>> {
        let (Ok(Some(transaction)), Ok(Some(csrf))) = (params.one("transaction"), params.one("csrf")) else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "The consent form is incomplete.",
            );
        };
        let record = match self.store.take(&format!("txn:{transaction}")).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Request expired",
                    "This authorization request is unknown, expired or was already answered. Start again from your client.",
                );
            }
            Err(e) => {
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again",
                    &OAuthError::store(e).description,
                );
            }
        };
        let csrf_ok = record["csrf"]
            .as_str()
            .is_some_and(|expected| same_digest(&digest(expected), &digest(csrf)));
        let cookie_ok = cookie
            .zip(record["cookie_digest"].as_str())
            .is_some_and(|(cookie, expected)| same_digest(&digest(cookie), expected));
        if !(csrf_ok && cookie_ok) {
            tracing::warn!(
                client_id = record["client_id"].as_str().unwrap_or(""),
                csrf_ok,
                cookie_ok,
                "consent refused: form or cookie does not match"
            );
            return error_page(
                StatusCode::FORBIDDEN,
                "Consent not confirmed",
                "The consent form did not come from this browser session. Start again from your client.",
            );
        }
        let redirect_uri = record["redirect_uri"].as_str().unwrap_or_default().to_string();
        let state = record["state"].as_str().map(str::to_string);
        if params.one("decision").ok().flatten() != Some("approve") {
            let mut query = vec![
                ("error", "access_denied"),
                ("error_description", "the user denied the request"),
            ];
            if let Some(state) = &state {
                query.push(("state", state));
            }
            query.push(("iss", &self.settings.issuer));
            return redirect(&with_query(&redirect_uri, &query));
        }
        let client = match self.client(record["client_id"].as_str().unwrap_or_default()).await {
            Ok(Some(client)) => client,
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Unknown client",
                    "The client's registration is gone.",
                );
            }
        };
        let upstream_state = random_token(24);
        let nonce = random_token(18);
        let verifier = random_token(48);
        let mut pending = record.clone();
        pending["nonce"] = json!(nonce);
        pending["verifier"] = json!(self.sealer.seal(&format!("ustate:{upstream_state}"), &verifier));
        if let Err(e) = self
            .store
            .put(&format!("ustate:{upstream_state}"), &pending, TRANSACTION_TTL)
            .await
        {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                &OAuthError::store(e).description,
            );
        }
        match self
            .upstream
            .authorization_url(
                client["upstream"]["client_id"].as_str().unwrap_or_default(),
                &self.callback_uri(),
                &self.settings.upstream_scope,
                &upstream_state,
                &nonce,
                &pkce_challenge(&verifier),
                &self.settings.upstream_params,
            )
            .await
        {
            Ok(url) => redirect(&url),
            Err(e) => error_page(
                StatusCode::BAD_GATEWAY,
                "Identity provider unavailable",
                &format!("{e:#}"),
            ),
        }
    }

    // ------------------------------------------------------------ callback

    async fn callback(&self, params: &Params) -> Response<Full<Bytes>> {
        let Ok(Some(upstream_state)) = params.one("state") else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Bad callback",
                "The identity provider's answer has no state.",
            );
        };
        let pending = match self.store.take(&format!("ustate:{upstream_state}")).await {
            Ok(Some(pending)) => pending,
            Ok(None) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Unknown or used state",
                    "This sign-in answer is unknown, expired or was already used. Start again from your client.",
                );
            }
            Err(e) => {
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again",
                    &OAuthError::store(e).description,
                );
            }
        };
        let redirect_uri = pending["redirect_uri"].as_str().unwrap_or_default().to_string();
        let state = pending["state"].as_str().map(str::to_string);
        let back = |extra: &[(&str, &str)]| {
            let mut query: Vec<(&str, &str)> = extra.to_vec();
            if let Some(state) = &state {
                query.push(("state", state));
            }
            query.push(("iss", &self.settings.issuer));
            redirect(&with_query(&redirect_uri, &query))
        };
        // RFC 9207: the answer must come from the upstream we sent the user to.
        match (params.one("iss"), self.upstream.announces_iss().await) {
            (Ok(Some(iss)), _) if iss != self.settings.upstream_issuer => {
                tracing::warn!(iss, "upstream callback with another issuer (mix-up?)");
                return back(&[
                    ("error", "server_error"),
                    ("error_description", "the sign-in answer came from another issuer"),
                ]);
            }
            (Ok(None), true) => {
                return back(&[
                    ("error", "server_error"),
                    ("error_description", "the identity provider's answer lacks its iss"),
                ]);
            }
            (Err(_), _) => return back(&[("error", "invalid_request"), ("error_description", "iss is repeated")]),
            _ => {}
        }
        if let Ok(Some(error)) = params.one("error") {
            let code = match error {
                "access_denied" | "login_required" | "consent_required" | "interaction_required" => "access_denied",
                "temporarily_unavailable" => "temporarily_unavailable",
                _ => "server_error",
            };
            let description = params
                .one("error_description")
                .ok()
                .flatten()
                .unwrap_or(error)
                .to_string();
            return back(&[("error", code), ("error_description", &description)]);
        }
        let Ok(Some(code)) = params.one("code") else {
            return back(&[
                ("error", "server_error"),
                ("error_description", "the identity provider sent no code"),
            ]);
        };
        let client_id = pending["client_id"].as_str().unwrap_or_default();
        let client = match self.client(client_id).await {
            Ok(Some(client)) => client,
            _ => {
                return back(&[
                    ("error", "server_error"),
                    ("error_description", "the client's registration is gone"),
                ]);
            }
        };
        let verifier = match pending["verifier"]
            .as_str()
            .map(|v| self.sealer.open(&format!("ustate:{upstream_state}"), v))
        {
            Some(Ok(v)) => v,
            _ => {
                return back(&[
                    ("error", "server_error"),
                    ("error_description", "the pending sign-in cannot be read"),
                ]);
            }
        };
        let credentials = match self.upstream_credentials(&client) {
            Ok(c) => c,
            Err(e) => return back(&[("error", "server_error"), ("error_description", &e)]),
        };
        let signed_in = match self
            .upstream
            .exchange_code(
                &credentials,
                code,
                &self.callback_uri(),
                &verifier,
                pending["nonce"].as_str().unwrap_or_default(),
                &self.settings,
            )
            .await
        {
            Ok(signed_in) => signed_in,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), client_id, "upstream code exchange failed");
                return back(&[
                    ("error", "server_error"),
                    (
                        "error_description",
                        &format!("sign-in at the identity provider failed: {e:#}"),
                    ),
                ]);
            }
        };
        let session = random_token(24);
        let session_key = format!("session:{session}");
        let session_record = json!({
            "client_id": client_id,
            "subject": signed_in.subject,
            "username": signed_in.username,
            "groups": signed_in.groups,
            "upstream_refresh": signed_in.refresh_token.as_deref().map(|t| self.sealer.seal(&session_key, t)),
            "upstream_expires_at": signed_in.expires_at,
            "created_at": unix_now(),
        });
        if let Err(e) = self
            .store
            .put(&session_key, &session_record, self.settings.refresh_token_ttl)
            .await
        {
            return back(&[
                ("error", "temporarily_unavailable"),
                ("error_description", &OAuthError::store(e).description),
            ]);
        }
        let our_code = random_token(32);
        let code_record = json!({
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "redirect_uri_sent": pending["redirect_uri_sent"],
            "code_challenge": pending["code_challenge"],
            "scope": pending["scope"],
            "resource": pending["resource"],
            "session": session,
        });
        if let Err(e) = self
            .store
            .put(&format!("code:{}", digest(&our_code)), &code_record, CODE_TTL)
            .await
        {
            return back(&[
                ("error", "temporarily_unavailable"),
                ("error_description", &OAuthError::store(e).description),
            ]);
        }
        tracing::info!(client_id, subject = %signed_in.subject, "user signed in at the identity provider");
        back(&[("code", &our_code)])
    }

    fn upstream_credentials(&self, client: &Value) -> Result<upstream::ClientCredentials, String> {
        let upstream = &client["upstream"];
        let id = upstream["client_id"].as_str().unwrap_or_default().to_string();
        let key = format!("client:{}", client["client_id"].as_str().unwrap_or_default());
        let secret = match upstream["sealed_secret"].as_str() {
            Some(sealed) => Some(self.sealer.open(&key, sealed).map_err(|e| format!("{e:#}"))?),
            None if self.settings.upstream_client_id.as_deref() == Some(id.as_str()) => {
                self.settings.upstream_client_secret.clone()
            }
            None => None,
        };
        Ok(upstream::ClientCredentials {
            client_id: id,
            secret,
            auth: upstream["token_auth"]
                .as_str()
                .unwrap_or("client_secret_basic")
                .to_string(),
        })
    }

    // --------------------------------------------------------------- token

    /// Authenticates the client of a token or revocation request.
    async fn authenticate_client(&self, request_auth: Option<&str>, params: &Params) -> Result<Value, OAuthError> {
        let invalid = |why: &str| OAuthError::new("invalid_client", why.to_string());
        let (client_id, secret) = match request_auth {
            Some(header) => {
                let encoded = header
                    .strip_prefix("Basic ")
                    .or_else(|| header.strip_prefix("basic "))
                    .ok_or_else(|| {
                        invalid("only Basic client authentication is accepted in the Authorization header")
                    })?;
                use base64::Engine as _;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| invalid("malformed Basic credentials"))?;
                let (id, secret) = decoded
                    .split_once(':')
                    .ok_or_else(|| invalid("malformed Basic credentials"))?;
                let decode = |s: &str| form_decode(&format!("x={s}")).pop().map(|(_, v)| v).unwrap_or_default();
                if params.one("client_secret")?.is_some() {
                    return Err(OAuthError::new(
                        "invalid_request",
                        "use one client authentication method",
                    ));
                }
                (decode(id), Some(decode(secret)))
            }
            None => (
                params.required("client_id")?.to_string(),
                params.one("client_secret")?.map(str::to_string),
            ),
        };
        let client = self
            .client(&client_id)
            .await?
            .ok_or_else(|| invalid("unknown client"))?;
        match (client["secret_digest"].as_str(), secret) {
            (None, None) => Ok(client),
            (Some(expected), Some(secret)) if same_digest(expected, &digest(&secret)) => Ok(client),
            (Some(_), None) => Err(invalid("client authentication is required")),
            (None, Some(_)) => Err(invalid("this client has no secret")),
            (Some(_), Some(_)) => Err(invalid("client authentication failed")),
        }
    }

    /// Reads the form of a token or revocation request and authenticates
    /// its client.
    async fn client_request(&self, request: Request<Incoming>) -> Result<(Value, Params), OAuthError> {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let params = read_form(request).await?;
        let client = self.authenticate_client(authorization.as_deref(), &params).await?;
        Ok((client, params))
    }

    async fn token(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let outcome = async {
            let (client, params) = self.client_request(request).await?;
            match params.required("grant_type")? {
                "authorization_code" => self.redeem_code(&client, &params).await,
                "refresh_token" => self.refresh(&client, &params).await,
                other => Err(OAuthError::new(
                    "unsupported_grant_type",
                    format!("grant_type `{other}` is not supported (authorization_code, refresh_token)"),
                )),
            }
        }
        .await;
        match outcome {
            Ok(tokens) => json_reply(StatusCode::OK, &tokens),
            Err(error) => {
                tracing::info!(error = error.code, description = %error.description, "token request refused");
                error.reply()
            }
        }
    }

    /// A one-time value (code or refresh token) was presented after its
    /// use: ends the grant that use belonged to, found through the marker
    /// its use left. Returns whether there was such a use.
    async fn end_reused_grant(&self, used_key: &str) -> bool {
        match self.store.get(used_key).await {
            Ok(Some(used)) => {
                if let Some(session) = used["session"].as_str() {
                    let _ = self.store.delete(&format!("session:{session}")).await;
                }
                true
            }
            _ => false,
        }
    }

    async fn redeem_code(&self, client: &Value, params: &Params) -> Result<Value, OAuthError> {
        let code = params.required("code")?;
        let code_digest = digest(code);
        let code_key = format!("code:{code_digest}");
        let used_key = format!("used-code:{code_digest}");
        let spent = || {
            OAuthError::new(
                "invalid_grant",
                "the authorization code is invalid, expired or already used",
            )
        };
        let replayed = || {
            tracing::warn!(
                client_id = client["client_id"].as_str().unwrap_or(""),
                "authorization code replayed: its grant is revoked"
            );
            spent()
        };
        let Some(record) = self.store.get(&code_key).await.map_err(OAuthError::store)? else {
            // A replayed code revokes what it was exchanged for (RFC 6749
            // section 4.1.2).
            if self.end_reused_grant(&used_key).await {
                return Err(replayed());
            }
            return Err(spent());
        };
        let session = record["session"].as_str().unwrap_or_default().to_string();
        let session_record = self
            .store
            .get(&format!("session:{session}"))
            .await
            .map_err(OAuthError::store)?
            .ok_or_else(|| OAuthError::new("invalid_grant", "the grant was revoked"))?;
        // The use is recorded (create-if-absent) before the code is taken:
        // of concurrent redemptions one records it, and every other one,
        // whether it finds the code or not, finds the record and revokes.
        if !self
            .store
            .create(&used_key, &json!({"session": session}), TRANSACTION_TTL)
            .await
            .map_err(OAuthError::store)?
        {
            let _ = self.store.delete(&format!("session:{session}")).await;
            return Err(replayed());
        }
        let Some(record) = self.store.take(&code_key).await.map_err(OAuthError::store)? else {
            return Err(spent());
        };
        if record["client_id"] != client["client_id"] {
            let _ = self.store.delete(&format!("session:{session}")).await;
            return Err(OAuthError::new(
                "invalid_grant",
                "the authorization code was issued to another client",
            ));
        }
        // RFC 6749 section 4.1.3: redirect_uri is required, and must be
        // identical, only if the authorization request included it (a client
        // with one registered URI may leave it out of both). Records from
        // before this rule count as sent.
        let sent = record["redirect_uri_sent"].as_bool().unwrap_or(true);
        match params.one("redirect_uri")? {
            Some(presented) if Some(presented) != record["redirect_uri"].as_str() => {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "redirect_uri does not match the authorization request",
                ));
            }
            None if sent => {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "redirect_uri is required: the authorization request included it",
                ));
            }
            _ => {}
        }
        let verifier = params.required("code_verifier")?;
        let verifier_ok = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !verifier_ok
            || !same_digest(
                &pkce_challenge(verifier),
                record["code_challenge"].as_str().unwrap_or(""),
            )
        {
            return Err(OAuthError::new(
                "invalid_grant",
                "code_verifier does not match the code_challenge",
            ));
        }
        if let Some(resource) = params.one("resource")?
            && Some(resource) != record["resource"].as_str()
        {
            return Err(OAuthError::new(
                "invalid_target",
                "resource does not match the authorization request",
            ));
        }
        self.issue(
            client,
            &session,
            &session_record,
            record["scope"].as_str().unwrap_or(""),
        )
        .await
    }

    /// The refresh grant (RFC 6749 section 6), with rotation and reuse
    /// detection (RFC 9700 section 4.14.2). The whole request is checked
    /// before the token is used: a refused request (wider scope, another
    /// resource) or an IdP outage leaves it valid, and it is retired only
    /// when a new one is issued.
    async fn refresh(&self, client: &Value, params: &Params) -> Result<Value, OAuthError> {
        let token = params.required("refresh_token")?;
        let token_digest = digest(token);
        let refresh_key = format!("refresh:{token_digest}");
        let used_key = format!("used-refresh:{token_digest}");
        let client_id = client["client_id"].as_str().unwrap_or("");
        let reused = || {
            tracing::warn!(client_id, "refresh token reused: the whole grant is revoked");
            OAuthError::new(
                "invalid_grant",
                "the refresh token was already used; the grant is revoked (sign in again)",
            )
        };
        let unknown = || OAuthError::new("invalid_grant", "the refresh token is invalid, expired or revoked");
        let Some(record) = self.store.get(&refresh_key).await.map_err(OAuthError::store)? else {
            if self.end_reused_grant(&used_key).await {
                return Err(reused());
            }
            return Err(unknown());
        };
        let session = record["session"].as_str().unwrap_or_default().to_string();
        let session_key = format!("session:{session}");
        if record["client_id"] != client["client_id"] {
            // A token of one client presented by another: it leaked, and
            // the grant ends.
            let _ = self.store.delete(&session_key).await;
            return Err(OAuthError::new(
                "invalid_grant",
                "the refresh token was issued to another client",
            ));
        }
        let granted = record["scope"].as_str().unwrap_or("").to_string();
        let scope = match params.one("scope")? {
            None => granted,
            Some(narrower) => {
                if narrower.split(' ').any(|s| !granted.split(' ').any(|g| g == s)) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        "a refresh cannot widen the granted scope",
                    ));
                }
                narrower.to_string()
            }
        };
        // RFC 8707 section 2.2, as for the code: tokens are for our own
        // resource only.
        if let Some(resource) = params.one("resource")?
            && resource != self.settings.resource
        {
            return Err(OAuthError::new(
                "invalid_target",
                "this authorization server issues tokens for its own MCP resource only",
            ));
        }
        let session_record = self
            .store
            .get(&session_key)
            .await
            .map_err(OAuthError::store)?
            .ok_or_else(|| OAuthError::new("invalid_grant", "the grant was revoked"))?;
        // The use is recorded (create-if-absent) before the token is taken:
        // of concurrent uses one records it and goes on, every other one
        // finds the record (or, later, no token and the record) and ends the
        // grant.
        if !self
            .store
            .create(&used_key, &json!({"session": session}), self.settings.refresh_token_ttl)
            .await
            .map_err(OAuthError::store)?
        {
            let _ = self.store.delete(&session_key).await;
            return Err(reused());
        }
        let record = match self.store.take(&refresh_key).await {
            Ok(Some(record)) => record,
            // Revoked or expired since it was read.
            Ok(None) => return Err(unknown()),
            Err(error) => {
                let _ = self.store.delete(&used_key).await;
                return Err(OAuthError::store(error));
            }
        };
        match self.renew(client, &session, session_record, &scope).await {
            Ok(tokens) => Ok(tokens),
            Err(Renewal::Ended(error)) => {
                let _ = self.store.delete(&session_key).await;
                Err(error)
            }
            Err(Renewal::Retry(error)) => {
                // Nothing was issued: the token is valid again, unused.
                let left = record["expires_at"]
                    .as_u64()
                    .map(|t| Duration::from_secs(t.saturating_sub(unix_now())))
                    .unwrap_or(self.settings.refresh_token_ttl);
                if let Err(e) = self.store.put(&refresh_key, &record, left).await {
                    tracing::error!(error = %format!("{e:#}"), "a refresh token could not be put back");
                }
                // Without the record of its use, a retry is no reuse.
                let _ = self.store.delete(&used_key).await;
                Err(error)
            }
        }
    }

    /// Re-checks the upstream session once its access token has expired,
    /// then issues. Distinguishes the grant's end from a failure worth
    /// retrying.
    async fn renew(
        &self,
        client: &Value,
        session: &str,
        mut session_record: Value,
        scope: &str,
    ) -> Result<Value, Renewal> {
        let session_key = format!("session:{session}");
        let client_id = client["client_id"].as_str().unwrap_or("");
        if session_record["upstream_expires_at"]
            .as_u64()
            .is_some_and(|t| t <= unix_now())
            && let Some(sealed) = session_record["upstream_refresh"].as_str()
        {
            let upstream_refresh = self.sealer.open(&session_key, sealed).map_err(|e| {
                Renewal::Ended(OAuthError::new(
                    "invalid_grant",
                    format!("the upstream session cannot be read: {e:#}"),
                ))
            })?;
            let credentials = self
                .upstream_credentials(client)
                .map_err(|e| Renewal::Retry(OAuthError::new("server_error", e)))?;
            match self.upstream.refresh(&credentials, &upstream_refresh).await {
                Ok(renewed) => {
                    if let Some(rotated) = renewed.refresh_token {
                        session_record["upstream_refresh"] = json!(self.sealer.seal(&session_key, &rotated));
                    }
                    session_record["upstream_expires_at"] = json!(renewed.expires_at);
                    self.store
                        .put(&session_key, &session_record, self.settings.refresh_token_ttl)
                        .await
                        .map_err(|e| Renewal::Retry(OAuthError::store(e)))?;
                }
                Err(failure @ upstream::RefreshFailure::Refused(_)) => {
                    tracing::info!(client_id, reason = %failure, "the upstream session has ended");
                    return Err(Renewal::Ended(OAuthError::new(
                        "invalid_grant",
                        format!("the session at the identity provider has ended: {failure}"),
                    )));
                }
                Err(failure @ upstream::RefreshFailure::Unavailable(_)) => {
                    tracing::warn!(client_id, reason = %failure, "upstream refresh failed; the grant is kept");
                    let mut error = OAuthError::new(
                        "temporarily_unavailable",
                        "the identity provider cannot be reached; try again (the refresh token stays valid)",
                    );
                    error.retry_after = Some(UPSTREAM_RETRY_AFTER_SECONDS);
                    return Err(Renewal::Retry(error));
                }
            }
        }
        self.issue(client, session, &session_record, scope)
            .await
            .map_err(Renewal::Retry)
    }

    /// Mints an access token and a refresh token for `session`.
    async fn issue(&self, client: &Value, session: &str, record: &Value, scope: &str) -> Result<Value, OAuthError> {
        let now = unix_now();
        let ttl = self.settings.access_token_ttl.as_secs();
        let client_id = client["client_id"].as_str().unwrap_or_default();
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), json!(self.settings.issuer));
        claims.insert("sub".into(), record["subject"].clone());
        claims.insert("aud".into(), json!(self.settings.resource));
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(now));
        claims.insert("exp".into(), json!(now + ttl));
        claims.insert("jti".into(), json!(random_token(16)));
        claims.insert("client_id".into(), json!(client_id));
        claims.insert("scope".into(), json!(scope));
        claims.insert("sid".into(), json!(session));
        if let Some(username) = record["username"].as_str() {
            claims.insert(self.settings.username_claim.clone(), json!(username));
        }
        claims.insert(self.settings.groups_claim.clone(), record["groups"].clone());
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.key.kid.clone());
        let access_token = jsonwebtoken::encode(&header, &Value::Object(claims), &self.key.encoding)
            .map_err(|e| OAuthError::new("server_error", format!("cannot sign the access token: {e}")))?;
        let mut answer = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": scope,
        });
        let may_refresh = client["metadata"]["grant_types"]
            .as_array()
            .is_some_and(|g| g.iter().any(|t| t == "refresh_token"));
        if may_refresh {
            let refresh_token = random_token(32);
            self.store
                .put(
                    &format!("refresh:{}", digest(&refresh_token)),
                    &json!({"client_id": client_id, "session": session, "scope": scope,
                            "expires_at": now + self.settings.refresh_token_ttl.as_secs()}),
                    self.settings.refresh_token_ttl,
                )
                .await
                .map_err(OAuthError::store)?;
            answer["refresh_token"] = json!(refresh_token);
        }
        Ok(answer)
    }

    // -------------------------------------------------------------- revoke

    async fn revoke(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let outcome = async {
            let (client, params) = self.client_request(request).await?;
            let token = params.required("token")?;
            // A refresh token: revoke its whole grant.
            if let Some(record) = self
                .store
                .get(&format!("refresh:{}", digest(token)))
                .await
                .map_err(OAuthError::store)?
                && record["client_id"] == client["client_id"]
                && let Some(session) = record["session"].as_str()
            {
                self.store
                    .delete(&format!("refresh:{}", digest(token)))
                    .await
                    .map_err(OAuthError::store)?;
                self.store
                    .delete(&format!("session:{session}"))
                    .await
                    .map_err(OAuthError::store)?;
                return Ok(());
            }
            // One of our access tokens: revoke its session.
            let rules = self.verification();
            if let Some(session) = session_of(token, &rules)
                && let Some(record) = self
                    .store
                    .get(&format!("session:{session}"))
                    .await
                    .map_err(OAuthError::store)?
                && record["client_id"] == client["client_id"]
            {
                self.store
                    .delete(&format!("session:{session}"))
                    .await
                    .map_err(OAuthError::store)?;
            }
            Ok::<(), OAuthError>(())
        }
        .await;
        match outcome {
            // RFC 7009: unknown tokens are answered with 200 as well.
            Ok(()) => json_reply(StatusCode::OK, &json!({})),
            Err(error) => error.reply(),
        }
    }

    /// Whether the session an access token of ours references still exists
    /// (revocation and reuse detection delete it).
    pub async fn session_alive(&self, session: &str) -> bool {
        matches!(self.store.get(&format!("session:{session}")).await, Ok(Some(_)))
    }

    /// Deletes expired records now and then.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let facade = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(600)).await;
                let Some(facade) = facade.upgrade() else { break };
                match facade.store.sweep().await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "expired facade records removed"),
                    Err(error) => tracing::warn!(error = %format!("{error:#}"), "facade store sweep failed"),
                }
            }
        });
    }
}

/// The `sid` of one of our access tokens, if its signature is ours.
fn session_of(token: &str, verification: &TokenVerification) -> Option<String> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = verification.keys.keys.iter().find(|k| k.kid == header.kid)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.set_issuer(&[&verification.issuer]);
    validation.required_spec_claims = ["iss".to_string()].into();
    let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation).ok()?;
    data.claims.get("sid").and_then(Value::as_str).map(str::to_string)
}

/// `scheme://authority` of `url` for a CSP source list; empty unless every
/// character is one a source expression may hold (so no `;` or `,` can add
/// directives).
fn origin_of(url: &str) -> String {
    let origin = match url.parse::<http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => return String::new(),
        },
        Err(_) => return String::new(),
    };
    let safe = origin
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '/' | '[' | ']' | '+'));
    if safe { origin } else { String::new() }
}

fn consent_cookie(request: &Request<Incoming>, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn with_cors(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

fn cors_preflight(methods: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, MCP-Protocol-Version"),
    );
    response
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = json_reply(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": "invalid_request", "error_description": format!("use {allow}")}),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, OAuthError> {
    Limited::new(request.into_body(), MAX_FORM_BYTES)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|_| {
            OAuthError::new(
                "invalid_request",
                format!("the request body is larger than {MAX_FORM_BYTES} bytes or incomplete"),
            )
        })
}

async fn read_form(request: Request<Incoming>) -> Result<Params, OAuthError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = read_body(request).await?;
    let text = std::str::from_utf8(&body).map_err(|_| OAuthError::new("invalid_request", "the body is not UTF-8"))?;
    Ok(Params(form_decode(text)))
}

async fn read_json(request: Request<Incoming>) -> Result<Value, OAuthError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            "the body must be application/json",
        ));
    }
    let body = read_body(request).await?;
    serde_json::from_slice(&body)
        .map_err(|e| OAuthError::new("invalid_client_metadata", format!("the body is not valid JSON: {e}")))
}

/// A registration as accepted: the metadata we store and echo back.
#[derive(Debug)]
pub struct AcceptedRegistration {
    pub document: Value,
    pub auth_method: String,
}

/// RFC 7591 metadata checks. Unknown members are dropped (RFC 7591 section
/// 2: a server ignores what it does not understand).
pub fn validate_registration(
    metadata: &Value,
    scopes_supported: &[String],
) -> Result<AcceptedRegistration, OAuthError> {
    let invalid = |description: String| OAuthError::new("invalid_client_metadata", description);
    let object = metadata
        .as_object()
        .ok_or_else(|| invalid("the client metadata must be a JSON object".into()))?;
    let strings = |name: &str| -> Result<Option<Vec<String>>, OAuthError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| invalid(format!("`{name}` must be an array of strings"))),
            Some(_) => Err(invalid(format!("`{name}` must be an array of strings"))),
        }
    };
    let text = |name: &str, max: usize| -> Result<Option<String>, OAuthError> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max && !s.chars().any(char::is_control) => {
                Ok(Some(s.clone()))
            }
            Some(_) => Err(invalid(format!(
                "`{name}` must be a string of at most {max} characters without control characters"
            ))),
        }
    };
    let application_type = text("application_type", 20)?.unwrap_or_else(|| "web".into());
    if application_type != "web" && application_type != "native" {
        return Err(invalid("`application_type` must be web or native".into()));
    }
    let grant_types = strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(other) = grant_types
        .iter()
        .find(|g| *g != "authorization_code" && *g != "refresh_token")
    {
        return Err(invalid(format!(
            "grant type `{other}` is not supported (authorization_code, refresh_token)"
        )));
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(invalid("grant_types must include authorization_code".into()));
    }
    let response_types = strings("response_types")?.unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|r| r != "code") {
        return Err(invalid("only the `code` response type is supported".into()));
    }
    let redirect_uris = strings("redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(OAuthError::new(
            "invalid_redirect_uri",
            "at least one redirect URI is required",
        ));
    }
    if redirect_uris.len() > 20 {
        return Err(OAuthError::new("invalid_redirect_uri", "at most 20 redirect URIs"));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, application_type == "native")
            .map_err(|e| OAuthError::new("invalid_redirect_uri", e))?;
    }
    let auth_method = text("token_endpoint_auth_method", 40)?.unwrap_or_else(|| "client_secret_basic".into());
    if !["none", "client_secret_post", "client_secret_basic"].contains(&auth_method.as_str()) {
        return Err(invalid(format!(
            "token_endpoint_auth_method `{auth_method}` is not supported (none, client_secret_post, client_secret_basic)"
        )));
    }
    let mut document = serde_json::Map::new();
    document.insert("redirect_uris".into(), json!(redirect_uris));
    document.insert("grant_types".into(), json!(grant_types));
    document.insert("response_types".into(), json!(response_types));
    document.insert("token_endpoint_auth_method".into(), json!(auth_method));
    document.insert("application_type".into(), json!(application_type));
    for (name, max) in [
        ("client_name", 200),
        ("client_uri", 2000),
        ("logo_uri", 2000),
        ("software_id", 200),
        ("software_version", 100),
    ] {
        if let Some(value) = text(name, max)? {
            document.insert(name.into(), json!(value));
        }
    }
    if let Some(scope) = text("scope", 1000)? {
        let known: Vec<&str> = scope
            .split(' ')
            .filter(|s| scopes_supported.iter().any(|k| k == s))
            .collect();
        if !known.is_empty() {
            document.insert("scope".into(), json!(known.join(" ")));
        }
    }
    Ok(AcceptedRegistration {
        document: Value::Object(document),
        auth_method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        for good in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:53682/callback",
            "http://localhost:6274/oauth/callback",
            "http://[::1]:9/cb",
        ] {
            assert!(check_redirect_uri(good, false).is_ok(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript://x/%0aalert(1)",
            "data:text/html,x",
            "http://evil.example.com/cb",
            "https://claude.ai/cb#frag",
            "https://user@claude.ai/cb",
            "relative/path",
            "com.example.app:/cb",
            "https://claude.ai/a b",
        ] {
            assert!(check_redirect_uri(bad, false).is_err(), "{bad}");
        }
        assert!(check_redirect_uri("com.example.app:/cb", true).is_ok());
        assert!(check_redirect_uri("myapp:/cb", true).is_err());
    }

    #[test]
    fn loopback_redirects_may_change_port_only() {
        assert!(redirect_matches("http://127.0.0.1:1/cb", "http://127.0.0.1:53682/cb"));
        assert!(!redirect_matches("http://127.0.0.1:1/cb", "http://127.0.0.1:1/other"));
        assert!(!redirect_matches("http://127.0.0.1:1/cb", "http://localhost:1/cb"));
        assert!(!redirect_matches("https://claude.ai/cb", "https://claude.ai/cb/"));
        assert!(!redirect_matches(
            "https://claude.ai:443/cb",
            "https://claude.ai:8443/cb"
        ));
        assert!(redirect_matches("https://claude.ai/cb", "https://claude.ai/cb"));
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_says_how_long_to_wait() {
        let limit = RateLimit::per_minute(2);
        assert_eq!(limit.take(), Ok(()));
        assert_eq!(limit.take(), Ok(()));
        // Two a minute: the next one is about 30 s away.
        let wait = limit.take().unwrap_err();
        assert!((29..=30).contains(&wait), "{wait}");
        let unlimited = RateLimit::per_minute(0);
        assert!((0..1000).all(|_| unlimited.take().is_ok()));
    }

    #[test]
    fn csp_sources_never_carry_separators() {
        assert_eq!(
            origin_of("https://claude.ai/api/mcp/auth_callback"),
            "https://claude.ai"
        );
        assert_eq!(origin_of("http://127.0.0.1:53682/callback"), "http://127.0.0.1:53682");
        assert_eq!(origin_of("https://x;sandbox/cb"), "");
        assert_eq!(origin_of("https://x,y/cb"), "");
        assert_eq!(origin_of("com.example.app:/cb"), "");
    }

    #[test]
    fn forms_decode_percent_and_plus() {
        assert_eq!(
            form_decode("a=b+c&d=%2Fe%3D&f&g=%zz"),
            vec![
                ("a".into(), "b c".into()),
                ("d".into(), "/e=".into()),
                ("f".into(), String::new()),
                ("g".into(), "%zz".into())
            ]
        );
        assert_eq!(
            form_decode(&format!("x={}", form_encode("a b&c=é"))),
            vec![("x".into(), "a b&c=é".into())]
        );
    }

    #[test]
    fn registration_metadata_is_checked() {
        let scopes = vec!["openid".to_string(), "mcp:write".to_string()];
        let ok = validate_registration(
            &json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"], "client_name": "x", "scope": "openid unknown", "extra": 1}),
            &scopes,
        )
        .unwrap();
        assert_eq!(ok.document["scope"], "openid");
        assert!(ok.document.get("extra").is_none());
        for (bad, code) in [
            (json!({}), "invalid_redirect_uri"),
            (
                json!({"redirect_uris": ["javascript:alert(1)"]}),
                "invalid_redirect_uri",
            ),
            (json!({"redirect_uris": "https://a/cb"}), "invalid_client_metadata"),
            (
                json!({"redirect_uris": ["https://a/cb"], "grant_types": ["client_credentials"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a/cb"], "response_types": ["token"]}),
                "invalid_client_metadata",
            ),
            (json!([1]), "invalid_client_metadata"),
        ] {
            assert_eq!(validate_registration(&bad, &scopes).unwrap_err().code, code, "{bad}");
        }
    }
}
