//! A real OpenID provider for tests: npm `oidc-provider` run by
//! `tests/idp/idp.mjs` (see that file for what it serves and how it is
//! configured). [`Idp`] starts it on a free loopback port, reads its issuer
//! from the `READY <issuer>` line, and talks to it over plain HTTP:
//! discovery, JWKS, client credentials, dynamic client registration and a
//! headless authorization code + PKCE flow (the IdP approves every
//! interaction itself).
//!
//! The process is spawned like the Kubernetes test bed's (parent-death
//! signal from a keeper thread) and stopped by PID. Its state is in memory:
//! a restart keeps only the pre-registered clients, and the signing keys
//! when asked to (`restart`), or rotates them (`restart_with_new_keys`).
//!
//! Pre-registered clients (client_credentials only):
//! `mcp-machine`/`machine-secret` (RS256 access tokens),
//! `mcp-machine-es256`/`machine-secret` (ES256 access tokens) and
//! `other-machine`/`other-secret` (groups `other-team`).

use base64::Engine as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::Reply;
use crate::tempdir::TempDir;
use crate::testbed::spawn_kept;

/// The machine client of the tests (client_credentials).
pub const MACHINE_CLIENT: (&str, &str) = ("mcp-machine", "machine-secret");
/// The same, with ES256-signed access tokens.
pub const MACHINE_CLIENT_ES256: (&str, &str) = ("mcp-machine-es256", "machine-secret");
/// A second machine client, for "other client" tests.
pub const OTHER_CLIENT: (&str, &str) = ("other-machine", "other-secret");
/// The initial access token registration needs with [`IdpOptions::dcr_token`].
pub const INITIAL_ACCESS_TOKEN: &str = "iat-secret";

/// How to start the IdP (all optional).
#[derive(Clone, Debug, Default)]
pub struct IdpOptions {
    /// Resource (audience) of tokens requested without `resource`.
    pub default_resource: Option<String>,
    /// Registration needs the initial access token [`INITIAL_ACCESS_TOKEN`]
    /// (an IdP without open dynamic client registration).
    pub dcr_token: bool,
    /// Access token lifetime in seconds (default 300).
    pub access_token_ttl: Option<u64>,
    /// Default access token alg: `RS256` (default) or `ES256`.
    pub access_token_alg: Option<String>,
    /// Further accepted resource prefixes (`http://127.0.0.1` and
    /// `http://localhost` always are).
    pub extra_resources: Vec<String>,
}

/// A running `oidc-provider`, stopped by PID when dropped.
pub struct Idp {
    /// `http://127.0.0.1:PORT`, exactly as the IdP publishes it (no
    /// trailing slash).
    pub issuer: String,
    pub port: u16,
    options: IdpOptions,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    dir: TempDir,
}

/// The answer of the token endpoint.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub scope: Option<String>,
    pub expires_in: Option<u64>,
    /// The whole JSON answer.
    pub raw: Value,
}

/// One authorization code request of [`Idp::authorization_code`].
#[derive(Clone, Debug)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    /// `None` for a public client (`token_endpoint_auth_method: none`);
    /// otherwise sent as `client_secret_post`.
    pub client_secret: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub resource: Option<&'a str>,
    /// The account to sign in (default `alice`; `deny` refuses).
    pub login_hint: Option<&'a str>,
    /// e.g. `consent`, which keeps `offline_access` in the granted scope.
    pub prompt: Option<&'a str>,
}

impl<'a> AuthorizationRequest<'a> {
    pub fn new(client_id: &'a str, redirect_uri: &'a str, scope: &'a str) -> Self {
        AuthorizationRequest {
            client_id,
            client_secret: None,
            redirect_uri,
            scope,
            resource: None,
            login_hint: None,
            prompt: None,
        }
    }
}

/// What came back to the redirect URI.
#[derive(Clone, Debug)]
pub struct AuthorizationResponse {
    /// The whole redirect URL.
    pub location: String,
    /// Its query parameters (`code`, `state`, `iss`, or `error`...).
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Idp {
    /// Starts the IdP with default options.
    pub fn start() -> anyhow::Result<Idp> {
        Self::start_with(IdpOptions::default())
    }

    pub fn start_with(options: IdpOptions) -> anyhow::Result<Idp> {
        let dir = TempDir::new("idp");
        let mut idp = Idp {
            issuer: String::new(),
            port: 0,
            options,
            child: None,
            log: Arc::new(Mutex::new(String::new())),
            dir,
        };
        idp.spawn(None)?;
        Ok(idp)
    }

    /// The `node` that runs the IdP: the Node 22 that `tests/package.json`
    /// pins (installed by `tests/setup.sh`), else `node` on PATH.
    pub fn node() -> PathBuf {
        let pinned = tests_dir().join("node_modules/.bin/node");
        if pinned.exists() { pinned } else { PathBuf::from("node") }
    }

    /// The IdP script.
    pub fn script() -> PathBuf {
        tests_dir().join("idp/idp.mjs")
    }

    /// Where the IdP keeps its private signing keys (reused by `restart`).
    pub fn keys_file(&self) -> PathBuf {
        self.dir.path().join("jwks.json")
    }

    fn spawn(&mut self, port: Option<u16>) -> anyhow::Result<()> {
        let installed = tests_dir().join("node_modules/oidc-provider/package.json");
        if !installed.is_file() {
            bail!(
                "oidc-provider is not installed ({} missing); run tests/setup.sh",
                installed.display()
            );
        }
        let mut command = Command::new(Self::node());
        command
            .arg(Self::script())
            .current_dir(tests_dir())
            .env("IDP_KEYS_FILE", self.keys_file())
            .env("IDP_DCR", if self.options.dcr_token { "token" } else { "open" })
            .env_remove("IDP_PORT")
            .env_remove("IDP_DEFAULT_RESOURCE")
            .env_remove("IDP_AT_TTL")
            .env_remove("IDP_AT_ALG")
            .env_remove("IDP_RESOURCES")
            .env_remove("NODE_OPTIONS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(port) = port {
            command.env("IDP_PORT", port.to_string());
        }
        if let Some(resource) = &self.options.default_resource {
            command.env("IDP_DEFAULT_RESOURCE", resource);
        }
        if let Some(ttl) = self.options.access_token_ttl {
            command.env("IDP_AT_TTL", ttl.to_string());
        }
        if let Some(alg) = &self.options.access_token_alg {
            command.env("IDP_AT_ALG", alg);
        }
        if !self.options.extra_resources.is_empty() {
            command.env("IDP_RESOURCES", self.options.extra_resources.join(","));
        }
        let mut child = spawn_kept(command).with_context(|| format!("spawn {}", Self::node().display()))?;

        let stderr = child.stderr.take().context("stderr")?;
        let sink = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().context("stdout")?;
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            for line in lines.by_ref() {
                if let Some(issuer) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(issuer.trim().to_string());
                    break;
                }
            }
            // Keep draining so the IdP never blocks on a full pipe.
            for _ in lines {}
        });

        let issuer = match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(issuer) => issuer,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                bail!("the IdP did not print READY within 30 s:\n{}", self.log_text());
            }
        };
        let port = issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .with_context(|| format!("no port in issuer {issuer}"))?;
        self.issuer = issuer;
        self.port = port;
        self.child = Some(child);
        Ok(())
    }

    /// PID of the node process, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the IdP wrote to stderr so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Kills the IdP by PID and waits for it; its port then refuses
    /// connections (an IdP outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the IdP and starts it again on the same port with the same
    /// signing keys. Registered clients and issued tokens are forgotten.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let port = self.port;
        self.spawn(Some(port))
    }

    /// Stops the IdP and starts it again on the same port with new signing
    /// keys (new `kid`s): a key rotation as a resource server sees it.
    pub fn restart_with_new_keys(&mut self) -> anyhow::Result<()> {
        self.stop();
        match std::fs::remove_file(self.keys_file()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let port = self.port;
        self.spawn(Some(port))
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// RFC 8414 metadata (the same document).
    pub fn oauth_metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.issuer)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    pub fn authorization_url(&self) -> String {
        format!("{}/auth", self.issuer)
    }

    pub fn registration_url(&self) -> String {
        format!("{}/reg", self.issuer)
    }

    /// GET on the IdP (`path` or a full URL on the issuer).
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.send("GET", path, &[], Vec::new()).await
    }

    /// The OpenID discovery document.
    pub async fn discovery(&self) -> anyhow::Result<Value> {
        self.get_json(&self.discovery_url()).await
    }

    /// The public JWKS.
    pub async fn jwks(&self) -> anyhow::Result<Value> {
        self.get_json(&self.jwks_url()).await
    }

    /// The `kid`s of the public JWKS.
    pub async fn kids(&self) -> anyhow::Result<Vec<String>> {
        let jwks = self.jwks().await?;
        Ok(jwks["keys"]
            .as_array()
            .context("JWKS without keys")?
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_string))
            .collect())
    }

    async fn get_json(&self, url: &str) -> anyhow::Result<Value> {
        let reply = self.get(url).await?;
        if reply.status != 200 {
            bail!("GET {url}: {} {}", reply.status, reply.body);
        }
        serde_json::from_str(&reply.body).with_context(|| format!("GET {url}: {}", reply.body))
    }

    /// An access token from the client credentials grant (client
    /// authentication `client_secret_basic`).
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
        resource: Option<&str>,
        scope: &str,
    ) -> anyhow::Result<String> {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let (status, body) = self.token_request(&form, Some((client_id, secret))).await?;
        if status != 200 {
            bail!("client_credentials for {client_id}: {status} {body}");
        }
        body["access_token"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no access_token in {body}"))
    }

    /// POSTs `form` to the token endpoint, with HTTP Basic client
    /// authentication when `basic` is given; the status and JSON answer.
    pub async fn token_request(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> anyhow::Result<(u16, Value)> {
        let authorization = basic.map(|(id, secret)| {
            format!(
                "Basic {}",
                base64_encode(format!("{}:{}", form_encode_component(id), form_encode_component(secret)).as_bytes())
            )
        });
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        let reply = self
            .send("POST", &self.token_url(), &headers, form_encode(form).into_bytes())
            .await?;
        let body = serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body.clone()));
        Ok((reply.status, body))
    }

    /// Dynamic client registration (RFC 7591): the status and JSON answer.
    /// `initial_access_token` is sent as a bearer token when given.
    pub async fn register(&self, metadata: &Value, initial_access_token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        let authorization = initial_access_token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        let reply = self
            .send(
                "POST",
                &self.registration_url(),
                &headers,
                metadata.to_string().into_bytes(),
            )
            .await?;
        let body = serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body.clone()));
        Ok((reply.status, body))
    }

    /// Registers a public client (`token_endpoint_auth_method: none`) for
    /// the authorization code flow and returns its `client_id`.
    pub async fn register_public_client(&self, redirect_uri: &str) -> anyhow::Result<String> {
        let metadata = serde_json::json!({
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "cnpg-mcp-tests",
        });
        let (status, body) = self.register(&metadata, None).await?;
        if status != 201 {
            bail!("registration: {status} {body}");
        }
        body["client_id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no client_id in {body}"))
    }

    /// Runs the authorization endpoint as a browser would, without one:
    /// GETs the authorize URL and follows redirects (keeping cookies) until
    /// one points at `redirect_uri`. Returns that redirect.
    pub async fn authorize(
        &self,
        request: &AuthorizationRequest<'_>,
        code_challenge: &str,
        state: &str,
    ) -> anyhow::Result<AuthorizationResponse> {
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", request.client_id),
            ("redirect_uri", request.redirect_uri),
            ("scope", request.scope),
            ("state", state),
            ("code_challenge", code_challenge),
            ("code_challenge_method", "S256"),
        ];
        if let Some(resource) = request.resource {
            query.push(("resource", resource));
        }
        if let Some(hint) = request.login_hint {
            query.push(("login_hint", hint));
        }
        if let Some(prompt) = request.prompt {
            query.push(("prompt", prompt));
        }
        let mut url = format!("{}?{}", self.authorization_url(), form_encode(&query));
        let mut cookies: Vec<(String, String)> = Vec::new();
        for _ in 0..10 {
            let cookie_header = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let mut headers = Vec::new();
            if !cookie_header.is_empty() {
                headers.push(("cookie", cookie_header.as_str()));
            }
            let reply = self.send("GET", &url, &headers, Vec::new()).await?;
            for value in reply.headers.get_all(http::header::SET_COOKIE) {
                let Some((name, value)) = value.to_str().ok().and_then(|v| v.split(';').next()?.split_once('=')) else {
                    continue;
                };
                cookies.retain(|(k, _)| k != name);
                if !value.is_empty() {
                    cookies.push((name.to_string(), value.to_string()));
                }
            }
            if !(300..400).contains(&reply.status) {
                bail!("authorization stopped at {url}: {} {}", reply.status, reply.body);
            }
            let location = reply
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("redirect without Location from {url}"))?;
            let next = if location.starts_with('/') {
                format!("{}{location}", self.issuer)
            } else {
                location.to_string()
            };
            if next.starts_with(request.redirect_uri) {
                let query = next.split_once('?').map(|(_, q)| q).unwrap_or_default();
                return Ok(AuthorizationResponse {
                    location: next.clone(),
                    params: form_decode(query),
                });
            }
            url = next;
        }
        bail!("no redirect to {} after 10 hops", request.redirect_uri)
    }

    /// The whole authorization code flow with PKCE (S256): authorize, then
    /// exchange the code (with `resource` again when given).
    pub async fn authorization_code(&self, request: &AuthorizationRequest<'_>) -> anyhow::Result<Tokens> {
        let verifier = pkce_verifier();
        let state = base64url_encode(&random_bytes(16));
        let response = self.authorize(request, &pkce_challenge(&verifier), &state).await?;
        if let Some(error) = response.param("error") {
            bail!(
                "authorization error {error}: {}",
                response.param("error_description").unwrap_or_default()
            );
        }
        if response.param("state") != Some(state.as_str()) {
            bail!("state mismatch in {}", response.location);
        }
        let code = response
            .param("code")
            .with_context(|| format!("no code in {}", response.location))?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", request.redirect_uri),
            ("code_verifier", verifier.as_str()),
            ("client_id", request.client_id),
        ];
        if let Some(secret) = request.client_secret {
            form.push(("client_secret", secret));
        }
        if let Some(resource) = request.resource {
            form.push(("resource", resource));
        }
        let (status, body) = self.token_request(&form, None).await?;
        if status != 200 {
            bail!("code exchange: {status} {body}");
        }
        Tokens::from_json(body)
    }

    /// The refresh token grant (`client_secret_post` when `secret` is given).
    pub async fn refresh(
        &self,
        client_id: &str,
        secret: Option<&str>,
        refresh_token: &str,
        resource: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ];
        if let Some(secret) = secret {
            form.push(("client_secret", secret));
        }
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        self.token_request(&form, None).await
    }

    /// One HTTP/1.1 request to the IdP; `target` is a path or a full URL on
    /// the issuer.
    pub async fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let path = match target.strip_prefix(&self.issuer) {
            Some("") => "/",
            Some(rest) => rest,
            None if target.starts_with('/') => target,
            None => bail!("{target} is not on the IdP {}", self.issuer),
        };
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .with_context(|| format!("connect to the IdP at {}", self.issuer))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{}", self.port));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(bytes::Bytes::from(body)))?;
        let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
            .await
            .context("IdP request timed out")??;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

impl Tokens {
    fn from_json(raw: Value) -> anyhow::Result<Tokens> {
        let text = |name: &str| raw[name].as_str().map(str::to_string);
        Ok(Tokens {
            access_token: text("access_token").with_context(|| format!("no access_token in {raw}"))?,
            refresh_token: text("refresh_token"),
            id_token: text("id_token"),
            scope: text("scope"),
            expires_in: raw["expires_in"].as_u64(),
            raw,
        })
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- IdP log ({}) ---\n{}", self.issuer, self.log_text());
        }
    }
}

fn tests_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The header and payload of a compact JWS, decoded but not verified.
pub fn decode_jwt(token: &str) -> anyhow::Result<(Value, Value)> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        bail!("not a compact JWS: {token}");
    };
    let decode = |part: &str| -> anyhow::Result<Value> {
        Ok(serde_json::from_slice(&base64url_decode(part).context("base64url")?)?)
    };
    Ok((decode(header)?, decode(payload)?))
}

/// A PKCE code verifier: 43 characters from 32 random bytes.
pub fn pkce_verifier() -> String {
    base64url_encode(&random_bytes(32))
}

/// The S256 code challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    use sha2::Digest;
    base64url_encode(sha2::Sha256::digest(verifier.as_bytes()).as_slice())
}

fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes
}

fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Unpadded base64url.
pub fn base64url_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict unpadded base64url; `None` on anything else.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// One `application/x-www-form-urlencoded` component.
pub fn form_encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `k=v&k=v`, form-encoded.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode_component(k), form_encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` decoding (the server's own).
pub use cnpg_mcp::facade::form_decode;
