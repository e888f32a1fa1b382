//! Client side for MCP clients that cannot do OAuth themselves:
//! `cnpg-mcp token` prints one access token; `cnpg-mcp connect` forwards a
//! local stdio (or loopback HTTP) MCP connection to a remote server,
//! adding a bearer token it obtains and refreshes itself. The token comes
//! from the client-credentials grant when a client secret is given (the
//! token endpoint found from the server's protected resource metadata, or
//! `--issuer`, and the IdP's discovery), else from the person's cached
//! sign-in (`cnpg-mcp login`, see [`crate::signin`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;
type OutBody = BoxBody<Bytes, hyper::Error>;

/// Client-credentials settings shared by `token` and `connect`.
#[derive(Debug, Clone, Args)]
pub struct CredentialArgs {
    /// The remote MCP endpoint, e.g. https://mcp.example.com/mcp.
    #[arg(long)]
    pub url: String,
    /// OAuth client id (a confidential client allowed the client-credentials
    /// grant). Without it and a secret, the cached `cnpg-mcp login` is used.
    #[arg(long, env = "CNPG_MCP_CLIENT_ID")]
    pub client_id: Option<String>,
    /// File holding the client secret (else CNPG_MCP_CLIENT_SECRET).
    #[arg(long)]
    pub client_secret_file: Option<std::path::PathBuf>,
    /// The IdP's issuer; default: the first authorization server named by
    /// the server's protected resource metadata.
    #[arg(long)]
    pub issuer: Option<String>,
    /// RFC 8707 `resource` requested; default: the server's resource URL.
    #[arg(long)]
    pub resource: Option<String>,
    /// `audience` parameter, for IdPs that want one (Auth0).
    #[arg(long)]
    pub audience: Option<String>,
    /// Scopes requested (space separated).
    #[arg(long)]
    pub scope: Option<String>,
}

/// `cnpg-mcp connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Serve a local HTTP endpoint (e.g. 127.0.0.1:8080) instead of stdio.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

pub(crate) fn client() -> anyhow::Result<Client<Https, OutBody>> {
    crate::auth::fetch::https_client()
}

pub(crate) fn body(bytes: impl Into<Bytes>) -> OutBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub(crate) async fn read_json(response: Response<hyper::body::Incoming>, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let bytes = http_body_util::Limited::new(response.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        bail!(
            "{what}: HTTP {status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        );
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{what}: not JSON"))
}

/// Where access tokens come from: a machine client's secret, or the
/// person's sign-in.
pub enum TokenSource {
    Client(Box<ClientCredentials>),
    Person(Box<crate::signin::SignedIn>),
}

impl TokenSource {
    /// The client-credentials grant when a client id and secret are given,
    /// else the cached sign-in to the server.
    pub async fn discover(args: &CredentialArgs) -> anyhow::Result<Self> {
        let has_secret = args.client_secret_file.is_some() || std::env::var_os("CNPG_MCP_CLIENT_SECRET").is_some();
        if let (Some(client_id), true) = (&args.client_id, has_secret) {
            return Ok(TokenSource::Client(Box::new(
                ClientCredentials::discover(args, client_id).await?,
            )));
        }
        match crate::signin::SignedIn::find(&args.url, args.issuer.as_deref())? {
            Some(signed_in) => Ok(TokenSource::Person(Box::new(signed_in))),
            None => bail!(
                "no client secret (--client-secret-file or CNPG_MCP_CLIENT_SECRET, with --client-id) and no sign-in to {url}: run `cnpg-mcp login --url {url}`",
                url = args.url
            ),
        }
    }

    /// A token valid for at least 30 more seconds (`fresh` forces a new one).
    pub async fn token(&self, fresh: bool) -> anyhow::Result<String> {
        match self {
            TokenSource::Client(client) => client.token(fresh).await,
            TokenSource::Person(person) => person.token(fresh).await,
        }
    }
}

/// Obtains and caches access tokens of the client-credentials grant.
pub struct ClientCredentials {
    client: Client<Https, OutBody>,
    token_endpoint: String,
    client_id: String,
    secret: String,
    form_extra: Vec<(String, String)>,
    cached: tokio::sync::Mutex<Option<(String, Instant)>>,
}

pub(crate) fn form_encode(pairs: &[(String, String)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                b' ' => "+".to_string(),
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl ClientCredentials {
    pub async fn discover(args: &CredentialArgs, client_id: &str) -> anyhow::Result<Self> {
        let client = client()?;
        let secret = match &args.client_secret_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .trim()
                .to_string(),
            None => std::env::var("CNPG_MCP_CLIENT_SECRET")
                .context("no client secret: pass --client-secret-file or set CNPG_MCP_CLIENT_SECRET")?,
        };
        // The server's metadata names the IdP and the resource.
        let (issuer, resource) = match (&args.issuer, &args.resource) {
            (Some(issuer), Some(resource)) => (issuer.clone(), resource.clone()),
            _ => {
                let url = crate::auth::Authenticator::metadata_url(&args.url);
                let request = Request::get(&url).body(body(Bytes::new()))?;
                let metadata = read_json(
                    client.request(request).await.with_context(|| format!("GET {url}"))?,
                    &url,
                )
                .await?;
                let issuer = args
                    .issuer
                    .clone()
                    .or_else(|| metadata["authorization_servers"][0].as_str().map(str::to_string));
                let resource = args
                    .resource
                    .clone()
                    .or_else(|| metadata["resource"].as_str().map(str::to_string));
                (
                    issuer.context("the server's metadata names no authorization server")?,
                    resource.unwrap_or_else(|| args.url.clone()),
                )
            }
        };
        let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let request = Request::get(&discovery).body(body(Bytes::new()))?;
        let metadata = read_json(
            client
                .request(request)
                .await
                .with_context(|| format!("GET {discovery}"))?,
            &discovery,
        )
        .await?;
        let token_endpoint = metadata["token_endpoint"]
            .as_str()
            .context("the IdP's metadata has no token_endpoint")?
            .to_string();
        let mut form_extra = vec![("resource".to_string(), resource)];
        if let Some(audience) = &args.audience {
            form_extra.push(("audience".into(), audience.clone()));
        }
        if let Some(scope) = &args.scope {
            form_extra.push(("scope".into(), scope.clone()));
        }
        Ok(ClientCredentials {
            client,
            token_endpoint,
            client_id: client_id.to_string(),
            secret,
            form_extra,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// A token valid for at least 30 more seconds (`fresh` forces a new one).
    pub async fn token(&self, fresh: bool) -> anyhow::Result<String> {
        let mut cached = self.cached.lock().await;
        if !fresh
            && let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let mut pairs = vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".to_string(), self.client_id.clone()),
            ("client_secret".to_string(), self.secret.clone()),
        ];
        pairs.extend(self.form_extra.iter().cloned());
        let request = Request::post(&self.token_endpoint)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body(form_encode(&pairs)))?;
        let response = self
            .client
            .request(request)
            .await
            .with_context(|| format!("POST {}", self.token_endpoint))?;
        let answer = read_json(response, "token request").await?;
        let token = answer["access_token"]
            .as_str()
            .context("the token response has no access_token")?
            .to_string();
        let lifetime = answer["expires_in"].as_u64().unwrap_or(300);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(30).max(1));
        *cached = Some((token.clone(), until));
        tracing::info!(expires_in = lifetime, "access token obtained");
        Ok(token)
    }
}

/// `cnpg-mcp token`: one fresh access token on stdout.
pub async fn print_token(args: &CredentialArgs) -> anyhow::Result<()> {
    let source = TokenSource::discover(args).await?;
    println!("{}", source.token(true).await?);
    Ok(())
}

/// Sends one request to the remote endpoint with a bearer token; on 401
/// gets a fresh token and tries once more.
async fn send(
    client: &Client<Https, OutBody>,
    tokens: &TokenSource,
    url: &str,
    method: Method,
    headers: &http::HeaderMap,
    payload: Bytes,
) -> anyhow::Result<Response<hyper::body::Incoming>> {
    let mut fresh = false;
    loop {
        let token = tokens.token(fresh).await?;
        let mut builder = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            if name != header::AUTHORIZATION && name != header::HOST && name != header::CONTENT_LENGTH {
                builder = builder.header(name, value);
            }
        }
        let request = builder
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(body(payload.clone()))?;
        let response = client
            .request(request)
            .await
            .with_context(|| format!("{method} {url}"))?;
        if response.status() == StatusCode::UNAUTHORIZED && !fresh {
            tracing::info!("the server refused the token; getting a fresh one");
            fresh = true;
            continue;
        }
        return Ok(response);
    }
}

/// `cnpg-mcp connect`.
pub async fn connect(args: &ConnectArgs) -> anyhow::Result<()> {
    let tokens = Arc::new(TokenSource::discover(&args.credentials).await?);
    tokens.token(false).await?;
    match args.listen {
        Some(addr) => listen(addr, args.credentials.url.clone(), tokens).await,
        None => stdio(args.credentials.url.clone(), tokens).await,
    }
}

/// Forwards newline-delimited JSON-RPC from stdin; answers (JSON or SSE
/// events) go to stdout, one message per line.
async fn stdio(url: String, tokens: Arc<TokenSource>) -> anyhow::Result<()> {
    let client = client()?;
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.write_all(b"\n").await.is_err() {
                break;
            }
            let _ = stdout.flush().await;
        }
    });
    let session: Arc<std::sync::Mutex<(Option<HeaderValue>, Option<HeaderValue>)>> = Default::default();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut tasks = Vec::new();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let (client, tokens, url, out, session) = (
            client.clone(),
            tokens.clone(),
            url.clone(),
            out_tx.clone(),
            session.clone(),
        );
        let is_initialize = line.contains("\"initialize\"");
        // A request that cannot be forwarded (no token: the sign-in needs
        // renewing) still gets an answer, so the client shows the reason.
        let request_id = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|message| message.get("id").cloned());
        let failures = out_tx.clone();
        let work = async move {
            let mut headers = http::HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static("application/json, text/event-stream"),
            );
            {
                let known = session.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(id) = &known.0 {
                    headers.insert("mcp-session-id", id.clone());
                }
                if let Some(version) = &known.1 {
                    headers.insert("mcp-protocol-version", version.clone());
                }
            }
            let response = send(
                &client,
                &tokens,
                &url,
                Method::POST,
                &headers,
                Bytes::from(line.clone()),
            )
            .await?;
            if let Some(id) = response.headers().get("mcp-session-id") {
                session.lock().unwrap_or_else(|p| p.into_inner()).0 = Some(id.clone());
            }
            let status = response.status();
            let sse = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
            let mut stream = response.into_body();
            let mut pending = Vec::new();
            while let Some(frame) = stream.frame().await {
                let Ok(data) = frame?.into_data() else { continue };
                pending.extend_from_slice(&data);
                if sse {
                    while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
                        let event: Vec<u8> = pending.drain(..end + 2).collect();
                        for message in String::from_utf8_lossy(&event)
                            .lines()
                            .filter_map(|l| l.strip_prefix("data:"))
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                        {
                            let _ = out.send(message.to_string());
                        }
                    }
                }
            }
            if !sse && !pending.is_empty() {
                let text = String::from_utf8_lossy(&pending).trim().to_string();
                if is_initialize
                    && let Ok(value) = serde_json::from_str::<Value>(&text)
                    && let Some(version) = value["result"]["protocolVersion"].as_str()
                    && let Ok(header) = HeaderValue::from_str(version)
                {
                    session.lock().unwrap_or_else(|p| p.into_inner()).1 = Some(header);
                }
                if status.is_success() || text.starts_with('{') {
                    let _ = out.send(text);
                }
            }
            anyhow::Ok(())
        };
        let handle = tokio::spawn(async move {
            if let Err(error) = work.await {
                tracing::error!(error = %format!("{error:#}"), "forwarding failed");
                if let Some(id) = request_id {
                    let answer = serde_json::json!({
                        "jsonrpc": "2.0",
                        "id": id,
                        "error": {"code": -32603, "message": format!("cnpg-mcp connect: {error:#}")},
                    });
                    let _ = failures.send(answer.to_string());
                }
            }
        });
        if is_initialize {
            // The session id must be known before anything else is sent.
            let _ = handle.await;
        } else {
            tasks.push(handle);
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let id = session.lock().unwrap_or_else(|p| p.into_inner()).0.clone();
    if let Some(id) = id {
        let mut headers = http::HeaderMap::new();
        headers.insert("mcp-session-id", id);
        let _ = send(&client, &tokens, &url, Method::DELETE, &headers, Bytes::new()).await;
    }
    drop(out_tx);
    let _ = writer.await;
    Ok(())
}

/// A loopback HTTP endpoint that forwards every request to the remote one
/// with the bearer token added, streaming the answer back.
async fn listen(addr: SocketAddr, url: String, tokens: Arc<TokenSource>) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("--listen must be a loopback address: the endpoint adds credentials to whatever it receives");
    }
    let client = client()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, remote = %url, "forwarding http://{addr}/mcp");
    loop {
        let (stream, _) = listener.accept().await?;
        let (client, tokens, url) = (client.clone(), tokens.clone(), url.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                let (client, tokens, url) = (client.clone(), tokens.clone(), url.clone());
                async move {
                    let (parts, incoming) = request.into_parts();
                    let payload = incoming.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                    let answer = match send(&client, &tokens, &url, parts.method, &parts.headers, payload).await {
                        Ok(response) => response.map(|b| b.boxed()),
                        Err(error) => {
                            let mut response =
                                Response::new(body(serde_json::json!({"error": format!("{error:#}")}).to_string()));
                            *response.status_mut() = StatusCode::BAD_GATEWAY;
                            response
                        }
                    };
                    Ok::<_, std::convert::Infallible>(answer)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
