//! One typed configuration: command-line flags, then environment variables,
//! then defaults (clap resolves flags over `env`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// Streamable HTTP on `/mcp`.
    Http,
    /// JSON-RPC over stdin/stdout, for a local client that starts the server.
    Stdio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
    /// Pretty on a terminal, JSON otherwise.
    Auto,
}

/// Where components come from.
#[derive(Debug, Clone, Args)]
pub struct ComponentArgs {
    /// Folder of extra components (`*.wasm`, each with an optional
    /// `NAME.grant.toml`); a component named like a built-in replaces it.
    #[arg(long, env = "CNPG_MCP_COMPONENTS")]
    pub components: Option<PathBuf>,
    /// Do not load the built-in components.
    #[arg(long, env = "CNPG_MCP_NO_BUILTIN", default_value_t = false)]
    pub no_builtin: bool,
    /// Also load this opt-in built-in component (repeatable, or a
    /// comma-separated list): `cnpg-cluster-image-catalogs`.
    #[arg(long = "enable-builtin", env = "CNPG_MCP_ENABLE_BUILTIN", value_delimiter = ',')]
    pub enable_builtin: Vec<String>,
    /// Folder for precompiled components (default: $XDG_CACHE_HOME/cnpg-mcp
    /// or ~/.cache/cnpg-mcp). Must be writable for fast starts.
    #[arg(long, env = "CNPG_MCP_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile components at every start instead of caching them.
    #[arg(long, default_value_t = false)]
    pub no_cache: bool,
    /// Calls that may run at once; further calls wait (backpressure).
    #[arg(long, env = "CNPG_MCP_MAX_CONCURRENT_CALLS", default_value_t = 64)]
    pub max_concurrent_calls: u32,
    /// Call slots one caller (token subject, or client address without
    /// authentication) may hold at once; its further calls queue behind
    /// its own. 0: only the global limit.
    #[arg(long, env = "CNPG_MCP_MAX_CALLS_PER_CALLER", default_value_t = 16)]
    pub max_calls_per_caller: u32,
    /// Largest memory cap (MiB) a grant may give a component.
    #[arg(long, env = "CNPG_MCP_MAX_COMPONENT_MEMORY_MIB", default_value_t = 128)]
    pub max_component_memory_mib: u64,
}

impl ComponentArgs {
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        self.cache_dir.clone().or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|base| base.join("cnpg-mcp"))
        })
    }
}

/// How the jose `typ` of access tokens is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypArg {
    /// `at+jwt` only (RFC 9068 access tokens).
    Strict,
    /// Also `JWT` or none (IdPs such as Keycloak or Entra ID).
    LegacyJwt,
}

/// OAuth resource-server settings. Without `OIDC_ISSUER` HTTP runs
/// without authentication (loudly).
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// The IdP's issuer URL, exactly as it publishes it.
    #[arg(long, env = "OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Accepted `aud` values (comma list). Default: PUBLIC_URL.
    #[arg(long, env = "OIDC_AUDIENCE", value_delimiter = ',')]
    pub oidc_audience: Vec<String>,
    /// JWKS URL, overriding discovery.
    #[arg(long, env = "OIDC_JWKS_URI")]
    pub oidc_jwks_uri: Option<String>,
    /// Scopes every request needs (space or comma list).
    #[arg(long, env = "OIDC_SCOPE", default_value = "openid")]
    pub oidc_scope: String,
    /// Extra scope for tools not annotated read-only (e.g. `mcp:write`).
    #[arg(long, env = "OIDC_WRITE_SCOPE")]
    pub oidc_write_scope: Option<String>,
    /// Extra scopes per tool: `tool=scope` pairs, comma separated.
    #[arg(long, env = "OIDC_TOOL_SCOPES", value_delimiter = ',')]
    pub oidc_tool_scopes: Vec<String>,
    /// Accepted signature algorithms (asymmetric only).
    #[arg(
        long,
        env = "OIDC_ALGORITHMS",
        value_delimiter = ',',
        default_value = "RS256,ES256,PS256"
    )]
    pub oidc_algorithms: Vec<String>,
    /// Clock leeway for exp/nbf/iat, in seconds.
    #[arg(long, env = "OIDC_LEEWAY_SECONDS", default_value_t = 60)]
    pub oidc_leeway_seconds: u64,
    #[arg(long, env = "OIDC_TYP", value_enum, default_value = "strict")]
    pub oidc_typ: TypArg,
    /// Claim naming the user for impersonation (then `sub`).
    #[arg(long, env = "OIDC_USERNAME_CLAIM", default_value = "preferred_username")]
    pub oidc_username_claim: String,
    /// Claim with the user's groups.
    #[arg(long, env = "OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,
    /// RFC 7591 registration endpoint to advertise in the authorization
    /// server metadata this server mirrors (for IdPs whose own metadata has
    /// none). An https URL (http only on a loopback host).
    #[arg(long, env = "DCR_PROXY_URL")]
    pub dcr_proxy_url: Option<String>,
}

/// `DCR_PROXY_URL` checked: absolute, https (http only to a loopback host),
/// no fragment.
fn registration_url(url: &str) -> anyhow::Result<String> {
    let parsed: http::Uri = url
        .parse()
        .map_err(|e| anyhow::anyhow!("DCR_PROXY_URL `{url}` is not a URL: {e}"))?;
    let host = parsed.host().unwrap_or_default();
    let loopback = host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme_str() {
        Some("https") if !host.is_empty() => {}
        Some("http") if loopback => {}
        _ => anyhow::bail!("DCR_PROXY_URL `{url}` must be an https URL (http only on a loopback host)"),
    }
    if url.contains('#') {
        anyhow::bail!("DCR_PROXY_URL `{url}` must not have a fragment");
    }
    Ok(url.to_string())
}

impl AuthArgs {
    /// The validated auth settings, or `None` without an issuer.
    pub fn settings(&self, public_url: Option<&str>) -> anyhow::Result<Option<crate::auth::AuthSettings>> {
        let Some(issuer) = self.oidc_issuer.clone().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let mut audiences: Vec<String> = self.oidc_audience.iter().filter(|a| !a.is_empty()).cloned().collect();
        if let Some(url) = public_url
            && !audiences.iter().any(|a| a == url)
        {
            audiences.push(url.to_string());
        }
        if audiences.is_empty() {
            anyhow::bail!(
                "OIDC_ISSUER is set but neither OIDC_AUDIENCE nor PUBLIC_URL: tokens cannot be checked for this server"
            );
        }
        let mut algorithms = Vec::new();
        for name in &self.oidc_algorithms {
            let alg = crate::auth::token::parse_alg(name.trim()).ok_or_else(|| {
                anyhow::anyhow!("OIDC_ALGORITHMS: `{name}` is not an accepted algorithm (RS*, PS*, ES256, ES384)")
            })?;
            algorithms.push(alg);
        }
        let mut tool_scopes = Vec::new();
        for pair in &self.oidc_tool_scopes {
            let (tool, scope) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("OIDC_TOOL_SCOPES: `{pair}` is not `tool=scope`"))?;
            tool_scopes.push((tool.trim().to_string(), scope.trim().to_string()));
        }
        Ok(Some(crate::auth::AuthSettings {
            issuer,
            audiences,
            jwks_uri: self.oidc_jwks_uri.clone(),
            required_scopes: crate::auth::split_list(&self.oidc_scope),
            write_scope: self.oidc_write_scope.clone().filter(|s| !s.is_empty()),
            tool_scopes,
            algorithms,
            leeway: Duration::from_secs(self.oidc_leeway_seconds),
            typ: match self.oidc_typ {
                TypArg::Strict => crate::auth::TypPolicy::Strict,
                TypArg::LegacyJwt => crate::auth::TypPolicy::LegacyJwt,
            },
            username_claim: self.oidc_username_claim.clone(),
            groups_claim: self.oidc_groups_claim.clone(),
            public_url: public_url.map(str::to_string),
            registration_endpoint: match self.dcr_proxy_url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => Some(registration_url(url)?),
                None => None,
            },
        }))
    }
}

/// `cnpg-mcp serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[arg(long, value_enum, env = "MCP_TRANSPORT", default_value = "http")]
    pub transport: Transport,
    /// HTTP port.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Serve `/metrics` on this port (same address) instead of the MCP port.
    #[arg(long, env = "METRICS_PORT")]
    pub metrics_port: Option<u16>,
    /// Address to listen on. The default serves only this machine; in a
    /// container use 0.0.0.0 (with OIDC configured).
    #[arg(long, env = "BIND_ADDRESS", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Canonical URL of the MCP endpoint, e.g. https://mcp.example.com/mcp.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Host header values accepted (comma list; `*` accepts any). The
    /// loopback names and PUBLIC_URL's host are always accepted.
    #[arg(long, env = "ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Origin header values accepted from browsers (comma list). Loopback
    /// origins and PUBLIC_URL's origin are always accepted.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Largest request body in bytes; larger bodies get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Limit for producing a response to one HTTP request, in seconds.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 120)]
    pub request_timeout_seconds: u64,
    /// MCP sessions held in memory; when full, the least recently used
    /// idle one is closed (it comes back from its sealed id when used).
    #[arg(long, env = "MAX_SESSIONS", default_value_t = 5000)]
    pub max_sessions: usize,
    /// MCP sessions one caller may hold (token subject, or client address
    /// without authentication); more get 429 with Retry-After.
    #[arg(long, env = "MAX_SESSIONS_PER_CALLER", default_value_t = 100)]
    pub max_sessions_per_caller: usize,
    /// A session without requests for this long is closed, in seconds.
    #[arg(long, env = "SESSION_IDLE_SECONDS", default_value_t = 300)]
    pub session_idle_seconds: u64,
    /// Tool calls per minute per caller; more get 429 with Retry-After.
    /// 0: no limit.
    #[arg(long, env = "TOOL_CALLS_PER_MINUTE", default_value_t = 0)]
    pub tool_calls_per_minute: u32,
    /// A request's head must arrive within this many seconds (HTTP/1.1;
    /// also how long a kept-alive connection waits for its next request).
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECONDS", default_value_t = 15)]
    pub http_header_timeout_seconds: u64,
    /// A connection answering no request is closed after this many seconds
    /// (HTTP/2, and bytes that never become a request).
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_SECONDS", default_value_t = 60)]
    pub http_idle_timeout_seconds: u64,
    /// Connections served at once; more wait in the listen queue.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Largest request head (request line and headers), in bytes, at
    /// least 8192; larger ones get 431.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 64 * 1024)]
    pub max_header_bytes: usize,
    /// How long SIGTERM waits for in-flight requests, in seconds.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    /// Key (at least 32 characters) sealing the state of multi-round
    /// requests; set the same value on every replica. Random per process
    /// when unset.
    #[arg(long, env = "MCP_REQUEST_STATE_KEY", hide_env_values = true)]
    pub request_state_key: Option<String>,
    /// Kubeconfig for the cluster the tools manage (default: KUBECONFIG,
    /// ~/.kube/config, or the in-cluster service account).
    #[arg(long, env = "CNPG_MCP_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, env = "CNPG_MCP_KUBE_CONTEXT")]
    pub kube_context: Option<String>,
    /// Limit for one Kubernetes API request, in seconds; a slower answer
    /// is a `timeout` error for the tool.
    #[arg(long, env = "CNPG_MCP_KUBE_TIMEOUT_SECONDS", default_value_t = 30)]
    pub kube_timeout_seconds: u64,
    /// Send every Kubernetes request of a tool call as the verified caller
    /// (Impersonate-User/-Group), so the cluster's RBAC decides per user.
    /// Calls without a verified caller (stdio, no auth) run as the server.
    #[arg(long, env = "CNPG_MCP_IMPERSONATE", default_value_t = false)]
    pub impersonate: bool,
    /// Prefix for impersonated user names, e.g. `oidc:`.
    #[arg(long, env = "CNPG_MCP_IMPERSONATE_USER_PREFIX", default_value = "")]
    pub impersonate_user_prefix: String,
    /// Prefix for impersonated group names, e.g. `oidc:`.
    #[arg(long, env = "CNPG_MCP_IMPERSONATE_GROUP_PREFIX", default_value = "")]
    pub impersonate_group_prefix: String,
    /// Items per page in list results.
    #[arg(long, env = "MCP_PAGE_SIZE", default_value_t = 100)]
    pub page_size: usize,
    #[command(flatten)]
    pub components: ComponentArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub facade: FacadeArgs,
}

/// Authorization-server facade settings (for IdPs without usable dynamic
/// client registration). Needs OIDC_ISSUER (the upstream IdP) and
/// PUBLIC_URL.
#[derive(Debug, Clone, Args)]
pub struct FacadeArgs {
    /// Be the authorization server MCP clients see (register, consent,
    /// authorize, token), with users signing in at OIDC_ISSUER.
    #[arg(long, env = "OAUTH_FACADE", default_value_t = false)]
    pub oauth_facade: bool,
    /// Our issuer (default: PUBLIC_URL's origin); a path under it is allowed.
    #[arg(long, env = "FACADE_ISSUER")]
    pub facade_issuer: Option<String>,
    /// PEM file with the PKCS#8 P-256 key our tokens are signed with (the
    /// same on every replica). Unset: a key per process (tokens die with it).
    #[arg(long, env = "FACADE_SIGNING_KEY_FILE")]
    pub facade_signing_key_file: Option<PathBuf>,
    /// Where clients, codes and sessions live: `kubernetes[:NAMESPACE]`
    /// (Secrets, shared by replicas) or `file:DIR` (default: `file:` under
    /// the cache folder).
    #[arg(long, env = "FACADE_STORE")]
    pub facade_store: Option<String>,
    /// DCR-translation component: a built-in (`dcr-static`, `dcr-rfc7591`, `dcr-keycloak`, `dcr-auth0`)
    /// or a `.wasm` file (its grant beside it as NAME.grant.toml). Default:
    /// dcr-static with FACADE_UPSTREAM_CLIENT_ID, else dcr-rfc7591.
    #[arg(long, env = "FACADE_TRANSLATOR")]
    pub facade_translator: Option<String>,
    /// Grant file for the translator, replacing its built-in grant (or the
    /// NAME.grant.toml beside a .wasm).
    #[arg(long, env = "FACADE_TRANSLATOR_GRANT")]
    pub facade_translator_grant: Option<PathBuf>,
    /// Pre-registered upstream client (dcr-static) and its secret.
    #[arg(long, env = "FACADE_UPSTREAM_CLIENT_ID")]
    pub facade_upstream_client_id: Option<String>,
    #[arg(long, env = "FACADE_UPSTREAM_CLIENT_SECRET", hide_env_values = true)]
    pub facade_upstream_client_secret: Option<String>,
    /// Scopes requested from the upstream IdP.
    #[arg(
        long,
        env = "FACADE_UPSTREAM_SCOPE",
        default_value = "openid profile email offline_access"
    )]
    pub facade_upstream_scope: String,
    /// Extra upstream authorization parameters, `key=value` comma list
    /// (e.g. `audience=https://api.example.com` for Auth0).
    #[arg(long, env = "FACADE_UPSTREAM_PARAMS", value_delimiter = ',')]
    pub facade_upstream_params: Vec<String>,
    /// Initial access token the host adds to registrations sent to
    /// DCR_PROXY_URL (dcr-rfc7591); the translator never sees it.
    #[arg(long, env = "DCR_INITIAL_ACCESS_TOKEN", hide_env_values = true)]
    pub dcr_initial_access_token: Option<String>,
    /// TOML file of credentials the host adds to translator requests:
    /// `[[credential]]` with `url_prefix` and `bearer`, or `basic_user` and
    /// `basic_password`.
    #[arg(long, env = "FACADE_CREDENTIALS_FILE")]
    pub facade_credentials_file: Option<PathBuf>,
    /// Accept https URLs as client IDs (Client ID Metadata Documents): the
    /// client's registration is fetched from that URL. `false` leaves
    /// `/register` as the only way in.
    #[arg(long, env = "FACADE_CIMD", default_value_t = true, action = clap::ArgAction::Set)]
    pub facade_cimd: bool,
    /// Accept metadata documents only from these hosts (comma list, exact
    /// names, e.g. `claude.ai`). Empty: any host with public addresses.
    #[arg(long, env = "FACADE_CIMD_ALLOWED_HOSTS", value_delimiter = ',')]
    pub facade_cimd_allowed_hosts: Vec<String>,
    /// Let metadata documents be fetched from private and loopback
    /// addresses (tests and development only).
    #[arg(long, env = "FACADE_CIMD_PRIVATE_ADDRESSES", default_value_t = false)]
    pub facade_cimd_private_addresses: bool,
    /// New clients this process accepts per minute: registrations (each a
    /// translator run, which may create an upstream client) and first
    /// fetches of a metadata document URL; more get 429 with Retry-After.
    /// 0: no limit.
    #[arg(long, env = "FACADE_REGISTRATIONS_PER_MINUTE", default_value_t = 30)]
    pub facade_registrations_per_minute: u32,
    /// Lifetime of our access tokens, in seconds.
    #[arg(long, env = "FACADE_ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900)]
    pub facade_access_token_ttl_seconds: u64,
    /// Lifetime of refresh tokens and sessions, in seconds.
    #[arg(long, env = "FACADE_REFRESH_TOKEN_TTL_SECONDS", default_value_t = 30 * 24 * 3600)]
    pub facade_refresh_token_ttl_seconds: u64,
}

impl ServeArgs {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds.max(1))
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }

    pub fn session_limits(&self) -> crate::http::SessionLimits {
        crate::http::SessionLimits {
            max_sessions: self.max_sessions.max(1),
            per_caller: self.max_sessions_per_caller.max(1),
            idle: Duration::from_secs(self.session_idle_seconds.max(1)),
        }
    }

    pub fn connection_limits(&self) -> crate::http::ConnectionLimits {
        crate::http::ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.http_header_timeout_seconds.max(1)),
            idle_timeout: Duration::from_secs(self.http_idle_timeout_seconds.max(1)),
            max_connections: self.max_connections.max(1),
            max_header_bytes: self.max_header_bytes.max(8192),
        }
    }
}
