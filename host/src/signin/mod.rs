//! Signing a person in from the command line, for `connect` and `token`:
//! `cnpg-mcp login` (authorization code with PKCE S256 through the
//! browser and a loopback redirect, RFC 8252; or the device authorization
//! grant, RFC 8628), `cnpg-mcp logout` (RFC 7009 revocation, then the
//! cache file goes) and `cnpg-mcp whoami`. The authorization server is
//! found from the MCP server's protected resource metadata (RFC 9728) and
//! its own metadata (RFC 8414, else OpenID discovery); the client is one
//! given by flag or registered on the spot (RFC 7591). Tokens are kept by
//! [`cache`] and refreshed (and rotated) by [`SignedIn`].

pub mod cache;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use clap::Args;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::bridge::{body, form_encode, read_json};
use crate::facade::form_decode;
use crate::facade::seal::{pkce_challenge, random_token};
use cache::SignIn;

/// `cnpg-mcp login`.
#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// The remote MCP endpoint, e.g. https://mcp.example.com/mcp.
    #[arg(long)]
    pub url: String,
    /// A public client registered at the authorization server for this
    /// use (redirect URI http://127.0.0.1/callback, any port), or the https
    /// URL of a Client ID Metadata Document where the server accepts them;
    /// default: register one now where the server allows dynamic
    /// registration.
    #[arg(long, env = "CNPG_MCP_LOGIN_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The authorization server's issuer; default: the first one named by
    /// the server's protected resource metadata.
    #[arg(long)]
    pub issuer: Option<String>,
    /// RFC 8707 `resource` requested; default: the server's resource URL.
    #[arg(long)]
    pub resource: Option<String>,
    /// Scopes requested (space separated); default: those the server
    /// lists, plus `offline_access` where the authorization server knows it.
    #[arg(long)]
    pub scope: Option<String>,
    /// Use the device authorization grant (RFC 8628): print a code to
    /// enter on another device instead of opening a browser here.
    #[arg(long, default_value_t = false)]
    pub device: bool,
    /// Print the sign-in URL on stderr instead of opening a browser.
    #[arg(long, default_value_t = false)]
    pub no_browser: bool,
    /// How long to wait for the sign-in to complete, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// `cnpg-mcp logout` and `cnpg-mcp whoami`.
#[derive(Debug, Clone, Args)]
pub struct SignedInArgs {
    /// The remote MCP endpoint signed in to.
    #[arg(long)]
    pub url: String,
    /// The issuer, when the same URL was signed in to at several.
    #[arg(long)]
    pub issuer: Option<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What the servers say about themselves.
struct Authority {
    issuer: String,
    resource: String,
    /// Scopes the MCP server lists in its protected resource metadata.
    resource_scopes: Vec<String>,
    /// The authorization server's metadata.
    metadata: Value,
}

impl Authority {
    fn endpoint(&self, name: &str) -> Option<String> {
        self.metadata[name].as_str().map(str::to_string)
    }
}

async fn get_json(url: &str) -> anyhow::Result<Value> {
    let client = crate::bridge::client()?;
    let request = Request::get(url)
        .header(header::ACCEPT, "application/json")
        .body(body(Bytes::new()))?;
    let work = async {
        let response = client.request(request).await.with_context(|| format!("GET {url}"))?;
        read_json(response, url).await
    };
    tokio::time::timeout(HTTP_TIMEOUT, work)
        .await
        .map_err(|_| anyhow::anyhow!("GET {url}: no answer within {HTTP_TIMEOUT:?}"))?
}

/// The longest wait for one answer of the servers.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// POSTs a form; the status and the JSON answer (OAuth errors are JSON
/// with a 4xx status, and the caller decides what they mean).
async fn post_form(url: &str, pairs: &[(&str, &str)]) -> anyhow::Result<(StatusCode, Value)> {
    let client = crate::bridge::client()?;
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let request = Request::post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(body(form_encode(&pairs)))?;
    let work = async {
        let response = client.request(request).await.with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(http_body_util::Limited::new(response.into_body(), 1 << 20))
            .await
            .map_err(|e| anyhow::anyhow!("POST {url}: {e}"))?
            .to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        anyhow::Ok((status, value))
    };
    tokio::time::timeout(HTTP_TIMEOUT, work)
        .await
        .map_err(|_| anyhow::anyhow!("POST {url}: no answer within {HTTP_TIMEOUT:?}"))?
}

/// `error: error_description` of an OAuth error answer.
fn oauth_error(answer: &Value, status: StatusCode) -> String {
    match (answer["error"].as_str(), answer["error_description"].as_str()) {
        (Some(error), Some(description)) => format!("{error}: {description}"),
        (Some(error), None) => error.to_string(),
        _ => format!("HTTP {status}"),
    }
}

async fn discover(url: &str, issuer: Option<&str>, resource: Option<&str>) -> anyhow::Result<Authority> {
    let prm_url = crate::auth::Authenticator::metadata_url(url);
    let prm = match get_json(&prm_url).await {
        Ok(prm) => prm,
        Err(error) if issuer.is_some() => {
            tracing::debug!(error = %format!("{error:#}"), "no protected resource metadata");
            Value::Null
        }
        Err(error) => return Err(error.context("cannot read the server's protected resource metadata")),
    };
    let issuer = issuer
        .map(str::to_string)
        .or_else(|| prm["authorization_servers"][0].as_str().map(str::to_string))
        .context("the server's metadata names no authorization server (pass --issuer)")?;
    let resource = resource
        .map(str::to_string)
        .or_else(|| prm["resource"].as_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string());
    let resource_scopes = prm["scopes_supported"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    // RFC 8414 first (our facade publishes only that), then OpenID discovery.
    let rfc8414 = crate::auth::fetch::well_known(&issuer, "oauth-authorization-server");
    let metadata = match get_json(&rfc8414).await {
        Ok(metadata) => metadata,
        Err(first) => {
            let oidc = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
            get_json(&oidc)
                .await
                .map_err(|second| anyhow::anyhow!("{first:#}; {second:#}"))
                .context("cannot read the authorization server's metadata")?
        }
    };
    // RFC 8414 §3.3: the metadata must be about the issuer it was asked of.
    if metadata["issuer"].as_str() != Some(issuer.as_str()) {
        bail!(
            "the authorization server's metadata names issuer {} instead of {issuer}",
            metadata["issuer"]
        );
    }
    Ok(Authority {
        issuer,
        resource,
        resource_scopes,
        metadata,
    })
}

/// Registers a public native client (RFC 7591) for this sign-in.
async fn register(authority: &Authority, redirect_uri: Option<&str>) -> anyhow::Result<String> {
    let endpoint = authority.endpoint("registration_endpoint").context(
        "the authorization server offers no dynamic client registration: pass --client-id with a client registered for cnpg-mcp",
    )?;
    let mut metadata = json!({
        "client_name": "cnpg-mcp login",
        "application_type": "native",
        "token_endpoint_auth_method": "none",
    });
    match redirect_uri {
        Some(uri) => {
            metadata["redirect_uris"] = json!([uri]);
            metadata["grant_types"] = json!(["authorization_code", "refresh_token"]);
            metadata["response_types"] = json!(["code"]);
        }
        None => {
            metadata["redirect_uris"] = json!([]);
            metadata["grant_types"] = json!(["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]);
            metadata["response_types"] = json!([]);
        }
    }
    let client = crate::bridge::client()?;
    let request = Request::post(&endpoint)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(body(serde_json::to_vec(&metadata)?))?;
    let work = async {
        let response = client
            .request(request)
            .await
            .with_context(|| format!("POST {endpoint}"))?;
        read_json(response, "client registration").await
    };
    let answer = tokio::time::timeout(HTTP_TIMEOUT, work)
        .await
        .map_err(|_| anyhow::anyhow!("POST {endpoint}: no answer within {HTTP_TIMEOUT:?}"))??;
    answer["client_id"]
        .as_str()
        .map(str::to_string)
        .context("the registration answer has no client_id")
}

fn default_scope(authority: &Authority) -> Option<String> {
    let mut scopes = authority.resource_scopes.clone();
    let offered = authority.metadata["scopes_supported"]
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s == "offline_access"));
    if offered {
        scopes.push("offline_access".into());
    }
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// `cnpg-mcp login`.
pub async fn login(args: &LoginArgs) -> anyhow::Result<()> {
    let authority = discover(&args.url, args.issuer.as_deref(), args.resource.as_deref()).await?;
    let scope = args.scope.clone().or_else(|| default_scope(&authority));
    let timeout = Duration::from_secs(args.timeout.max(1));
    let (client_id, answer) = if args.device {
        device_flow(&authority, args.client_id.clone(), scope.as_deref(), timeout).await?
    } else {
        browser_flow(&authority, args, scope.as_deref(), timeout).await?
    };
    let signin = SignIn {
        url: args.url.clone(),
        issuer: authority.issuer.clone(),
        resource: authority.resource.clone(),
        client_id,
        token_endpoint: authority
            .endpoint("token_endpoint")
            .context("the authorization server's metadata has no token_endpoint")?,
        revocation_endpoint: authority.endpoint("revocation_endpoint"),
        access_token: String::new(),
        refresh_token: None,
        expires_at: 0,
        scope: scope.clone(),
    };
    let signin = with_tokens(signin, &answer)?;
    // Signing in again replaces the previous sign-in: its grant is ended
    // rather than left valid and forgotten.
    let previous = cache::find(&args.url, Some(&authority.issuer)).ok().flatten();
    let path = cache::save(&signin)?;
    if let Some((_, previous)) = previous {
        for failure in revoke(&previous).await {
            tracing::debug!(%failure, "the previous sign-in");
        }
    }
    let claims = claims(&signin.access_token);
    let who = claims["preferred_username"]
        .as_str()
        .or(claims["sub"].as_str())
        .unwrap_or("(an opaque token)");
    eprintln!(
        "Signed in to {} as {who} at {}; the sign-in is kept in {}",
        args.url,
        authority.issuer,
        path.display()
    );
    Ok(())
}

/// `signin` with the tokens of a token endpoint answer; a refresh token
/// not sent again stays the one we had (RFC 6749 §6).
fn with_tokens(mut signin: SignIn, answer: &Value) -> anyhow::Result<SignIn> {
    signin.access_token = answer["access_token"]
        .as_str()
        .context("the token answer has no access_token")?
        .to_string();
    if let Some(refresh) = answer["refresh_token"].as_str() {
        signin.refresh_token = Some(refresh.to_string());
    }
    if let Some(scope) = answer["scope"].as_str() {
        signin.scope = Some(scope.to_string());
    }
    let lifetime = answer["expires_in"]
        .as_u64()
        .or_else(|| {
            claims(&signin.access_token)["exp"]
                .as_u64()
                .map(|exp| exp.saturating_sub(now()))
        })
        .unwrap_or(300);
    signin.expires_at = now() + lifetime;
    Ok(signin)
}

/// Authorization code with PKCE through the browser (RFC 8252 §7.3: a
/// loopback redirect on a port chosen now).
async fn browser_flow(
    authority: &Authority,
    args: &LoginArgs,
    scope: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<(String, Value)> {
    let authorization_endpoint = authority
        .endpoint("authorization_endpoint")
        .context("the authorization server's metadata has no authorization_endpoint")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("cannot listen on 127.0.0.1 for the browser's redirect")?;
    let redirect_uri = format!("http://127.0.0.1:{}/callback", listener.local_addr()?.port());
    let client_id = match &args.client_id {
        // A Client ID Metadata Document: the URL is the client id, and the
        // authorization server fetches the client's metadata from it.
        Some(id) if id.starts_with("https://") => {
            if authority.metadata["client_id_metadata_document_supported"] != json!(true) {
                bail!(
                    "{} does not accept Client ID Metadata Documents as client ids; pass a registered client id or none",
                    authority.issuer
                );
            }
            id.clone()
        }
        Some(id) => id.clone(),
        None => register(authority, Some(&redirect_uri)).await?,
    };
    let verifier = random_token(32);
    let state = random_token(16);
    let mut pairs = vec![
        ("response_type".to_string(), "code".to_string()),
        ("client_id".into(), client_id.clone()),
        ("redirect_uri".into(), redirect_uri.clone()),
        ("state".into(), state.clone()),
        ("code_challenge".into(), pkce_challenge(&verifier)),
        ("code_challenge_method".into(), "S256".into()),
        ("resource".into(), authority.resource.clone()),
    ];
    if let Some(scope) = scope {
        pairs.push(("scope".into(), scope.to_string()));
    }
    let separator = if authorization_endpoint.contains('?') { '&' } else { '?' };
    let url = format!(
        "{authorization_endpoint}{separator}{}",
        form_encode(&pairs).replace('+', "%20")
    );
    if args.no_browser || !open_browser(&url) {
        eprintln!("Open this URL in a browser to sign in:\n{url}");
    } else {
        eprintln!("Signing in through the browser; if it did not open, visit:\n{url}");
    }
    let params = tokio::time::timeout(timeout, callback(&listener))
        .await
        .context("the sign-in did not complete in time")??;
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // RFC 6749 §10.12: an answer without our state is not ours.
    if param("state") != Some(state.as_str()) {
        bail!("the authorization response's state does not match this sign-in: refused");
    }
    // RFC 9207: the issuer that answered must be the one we asked.
    match param("iss") {
        Some(iss) if iss != authority.issuer => {
            bail!(
                "the authorization response came from issuer {iss}, not {}: refused",
                authority.issuer
            )
        }
        None if authority.metadata["authorization_response_iss_parameter_supported"] == json!(true) => {
            bail!("the authorization response has no iss although the server promises one: refused")
        }
        _ => {}
    }
    if let Some(error) = param("error") {
        bail!(
            "the authorization server refused the sign-in: {error}{}",
            param("error_description").map(|d| format!(": {d}")).unwrap_or_default()
        );
    }
    let code = param("code").context("the authorization response has no code")?;
    let token_endpoint = authority
        .endpoint("token_endpoint")
        .context("the authorization server's metadata has no token_endpoint")?;
    let (status, answer) = post_form(
        &token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("client_id", &client_id),
            ("code_verifier", &verifier),
            ("resource", &authority.resource),
        ],
    )
    .await?;
    if !status.is_success() {
        bail!("the code exchange failed: {}", oauth_error(&answer, status));
    }
    Ok((client_id, answer))
}

/// Opens `url` with `$BROWSER`, else the desktop's opener; false when
/// none could be started.
fn open_browser(url: &str) -> bool {
    let mut candidates: Vec<String> = std::env::var("BROWSER")
        .map(|v| v.split(':').filter(|c| !c.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    candidates.push(if cfg!(target_os = "macos") { "open" } else { "xdg-open" }.to_string());
    candidates.into_iter().any(|program| {
        std::process::Command::new(&program)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .is_ok()
    })
}

/// Waits for the browser's GET of `/callback` and answers it; the query's
/// parameters. Other requests (a favicon) get 404 and the wait goes on.
async fn callback(listener: &tokio::net::TcpListener) -> anyhow::Result<Vec<(String, String)>> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 16 * 1024 {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        let head = String::from_utf8_lossy(&buffer);
        let target = head
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("GET "))
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path != "/callback" {
            let _ = stream
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            continue;
        }
        let page = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>cnpg-mcp</title></head>\
            <body><p>cnpg-mcp received the answer of the sign-in; you can close this page and go back to the terminal.</p></body></html>";
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
        return Ok(form_decode(query));
    }
}

/// The device authorization grant (RFC 8628).
async fn device_flow(
    authority: &Authority,
    client_id: Option<String>,
    scope: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<(String, Value)> {
    let endpoint = authority
        .endpoint("device_authorization_endpoint")
        .context("the authorization server offers no device authorization grant: sign in through the browser")?;
    let client_id = match client_id {
        Some(id) => id,
        None => register(authority, None).await?,
    };
    let mut pairs = vec![
        ("client_id", client_id.as_str()),
        ("resource", authority.resource.as_str()),
    ];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    let (status, grant) = post_form(&endpoint, &pairs).await?;
    if !status.is_success() {
        bail!(
            "the device authorization request failed: {}",
            oauth_error(&grant, status)
        );
    }
    let device_code = grant["device_code"].as_str().context("no device_code in the answer")?;
    let user_code = grant["user_code"].as_str().context("no user_code in the answer")?;
    let verification = grant["verification_uri"]
        .as_str()
        .context("no verification_uri in the answer")?;
    eprintln!("To sign in, visit {verification} and enter the code {user_code}");
    if let Some(complete) = grant["verification_uri_complete"].as_str() {
        eprintln!("or open {complete}");
    }
    let token_endpoint = authority
        .endpoint("token_endpoint")
        .context("the authorization server's metadata has no token_endpoint")?;
    let mut interval = Duration::from_secs(grant["interval"].as_u64().unwrap_or(5).max(1));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if tokio::time::Instant::now() + interval > deadline {
            bail!("the sign-in did not complete in time");
        }
        tokio::time::sleep(interval).await;
        let (status, answer) = post_form(
            &token_endpoint,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", &client_id),
                ("resource", &authority.resource),
            ],
        )
        .await?;
        if status.is_success() {
            return Ok((client_id, answer));
        }
        // RFC 8628 §3.5.
        match answer["error"].as_str() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += Duration::from_secs(5),
            _ => bail!("the device sign-in failed: {}", oauth_error(&answer, status)),
        }
    }
}

/// The claims of a JWT access token, unverified: only for showing the
/// user what the cache holds (the server verifies the token itself).
/// `Null` for an opaque token.
pub fn claims(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .and_then(|payload| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

fn login_hint(url: &str) -> String {
    format!("run `cnpg-mcp login --url {url}`")
}

/// A cached sign-in in use by `connect` or `token`: hands out its access
/// token, refreshing it ahead of expiry and keeping the rotated refresh
/// token in the cache.
pub struct SignedIn {
    signin: tokio::sync::Mutex<SignIn>,
}

/// Refresh this long before the access token expires.
const REFRESH_AHEAD: u64 = 60;

impl SignedIn {
    /// The sign-in to `url`, if the user has one.
    pub fn find(url: &str, issuer: Option<&str>) -> anyhow::Result<Option<SignedIn>> {
        Ok(cache::find(url, issuer)?.map(|(_, signin)| SignedIn {
            signin: tokio::sync::Mutex::new(signin),
        }))
    }

    /// An access token valid for at least a minute more (`fresh`: a new
    /// one in any case).
    pub async fn token(&self, fresh: bool) -> anyhow::Result<String> {
        let mut signin = self.signin.lock().await;
        let held = signin.access_token.clone();
        if !fresh {
            // Another process (a second `connect`) may have refreshed already.
            if let Ok(Some((_, stored))) = cache::find(&signin.url, Some(&signin.issuer)) {
                *signin = stored;
            }
            if signin.expires_at > now() + REFRESH_AHEAD {
                return Ok(signin.access_token.clone());
            }
        }
        let _lock = cache::lock(&signin.url, &signin.issuer).await?;
        // Under the lock: what another process refreshed meanwhile is as
        // good as a refresh of our own.
        match cache::find(&signin.url, Some(&signin.issuer))? {
            Some((_, stored)) => *signin = stored,
            None => bail!("signed out of {}: {}", signin.url, login_hint(&signin.url)),
        }
        if signin.access_token != held && signin.expires_at > now() + REFRESH_AHEAD {
            return Ok(signin.access_token.clone());
        }
        let url = signin.url.clone();
        let Some(refresh_token) = signin.refresh_token.clone() else {
            bail!(
                "the sign-in to {url} has expired and cannot be refreshed: {}",
                login_hint(&url)
            );
        };
        let (status, answer) = post_form(
            &signin.token_endpoint,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("client_id", &signin.client_id),
                ("resource", &signin.resource),
            ],
        )
        .await?;
        if !status.is_success() {
            bail!(
                "the sign-in to {url} could not be refreshed ({}): {}",
                oauth_error(&answer, status),
                login_hint(&url)
            );
        }
        let refreshed = with_tokens(signin.clone(), &answer)?;
        cache::save(&refreshed)?;
        tracing::info!(
            expires_in = refreshed.expires_at.saturating_sub(now()),
            "access token refreshed"
        );
        *signin = refreshed;
        Ok(signin.access_token.clone())
    }
}

fn signed_in(args: &SignedInArgs) -> anyhow::Result<(std::path::PathBuf, SignIn)> {
    cache::find(&args.url, args.issuer.as_deref())?
        .with_context(|| format!("not signed in to {}: {}", args.url, login_hint(&args.url)))
}

/// Revokes a sign-in's refresh and access tokens (RFC 7009); what failed,
/// one line each.
async fn revoke(signin: &SignIn) -> Vec<String> {
    let Some(endpoint) = &signin.revocation_endpoint else {
        return vec!["the authorization server offers no revocation; the tokens stay valid until they expire".into()];
    };
    let mut failures = Vec::new();
    let tokens = [
        (signin.refresh_token.as_deref(), "refresh_token"),
        (Some(signin.access_token.as_str()), "access_token"),
    ];
    for (token, hint) in tokens {
        let Some(token) = token else { continue };
        let form = [
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", &signin.client_id),
        ];
        match post_form(endpoint, &form).await {
            Ok((status, _)) if status.is_success() => {}
            Ok((status, answer)) => {
                failures.push(format!("revoking the {hint} failed: {}", oauth_error(&answer, status)))
            }
            Err(error) => failures.push(format!("revoking the {hint} failed: {error:#}")),
        }
    }
    failures
}

/// `cnpg-mcp logout`: revokes the refresh and access tokens (RFC 7009),
/// then deletes the sign-in, even when revocation fails (said on stderr).
pub async fn logout(args: &SignedInArgs) -> anyhow::Result<()> {
    let (path, signin) = signed_in(args)?;
    for failure in revoke(&signin).await {
        eprintln!("Note: {failure}");
    }
    cache::remove(&path)?;
    eprintln!("Signed out of {} at {}", signin.url, signin.issuer);
    Ok(())
}

/// `cnpg-mcp whoami`: what the cached access token says, as JSON.
pub fn whoami(args: &SignedInArgs) -> anyhow::Result<String> {
    let (_, signin) = signed_in(args)?;
    let claims = claims(&signin.access_token);
    let scopes = claims["scope"]
        .as_str()
        .or(signin.scope.as_deref())
        .map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .unwrap_or_default();
    let expires_at = claims["exp"].as_u64().unwrap_or(signin.expires_at);
    let report = json!({
        "url": signin.url,
        "issuer": signin.issuer,
        "subject": claims["sub"],
        "username": claims["preferred_username"],
        "groups": claims["groups"],
        "scopes": scopes,
        "client_id": signin.client_id,
        "expires_at": expires_at,
        "expires_in": expires_at as i64 - now() as i64,
        "refreshable": signin.refresh_token.is_some(),
    });
    Ok(serde_json::to_string_pretty(&report)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signin() -> SignIn {
        SignIn {
            url: "https://mcp.example.com/mcp".into(),
            issuer: "https://idp.example.com".into(),
            resource: "https://mcp.example.com/mcp".into(),
            client_id: "cli".into(),
            token_endpoint: "https://idp.example.com/token".into(),
            revocation_endpoint: None,
            access_token: "old".into(),
            refresh_token: Some("refresh-1".into()),
            expires_at: 0,
            scope: Some("mcp:read offline_access".into()),
        }
    }

    #[test]
    fn a_rotated_refresh_token_replaces_the_old_one_and_an_absent_one_keeps_it() {
        let rotated = with_tokens(
            signin(),
            &json!({"access_token": "new", "refresh_token": "refresh-2", "expires_in": 600}),
        )
        .unwrap();
        assert_eq!(rotated.refresh_token.as_deref(), Some("refresh-2"));
        assert_eq!(rotated.access_token, "new");
        assert!(rotated.expires_at >= now() + 599);
        // RFC 6749 §6: a server that does not rotate sends none back.
        let kept = with_tokens(signin(), &json!({"access_token": "new", "expires_in": 600})).unwrap();
        assert_eq!(kept.refresh_token.as_deref(), Some("refresh-1"));
        assert_eq!(kept.scope.as_deref(), Some("mcp:read offline_access"));
        assert!(with_tokens(signin(), &json!({"token_type": "Bearer"})).is_err());
    }

    #[test]
    fn the_expiry_of_an_answer_without_expires_in_comes_from_the_jwt() {
        let exp = now() + 1234;
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"sub": "alice", "exp": exp}).to_string());
        let token = format!("e30.{payload}.sig");
        let signin = with_tokens(signin(), &json!({"access_token": token})).unwrap();
        assert!(signin.expires_at.abs_diff(exp) <= 1);
        assert_eq!(claims(&signin.access_token)["sub"], json!("alice"));
        assert_eq!(claims("opaque-token"), Value::Null);
    }

    #[test]
    fn the_default_scope_is_the_servers_plus_offline_access_where_offered() {
        let mut authority = Authority {
            issuer: "https://idp.example.com".into(),
            resource: "https://mcp.example.com/mcp".into(),
            resource_scopes: vec!["mcp:read".into()],
            metadata: json!({"scopes_supported": ["openid", "offline_access"]}),
        };
        assert_eq!(default_scope(&authority).as_deref(), Some("mcp:read offline_access"));
        authority.metadata = json!({});
        assert_eq!(default_scope(&authority).as_deref(), Some("mcp:read"));
        authority.resource_scopes.clear();
        assert_eq!(default_scope(&authority), None);
    }
}
