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

/// `cnpg-mcp serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[arg(long, value_enum, env = "MCP_TRANSPORT", default_value = "http")]
    pub transport: Transport,
    /// HTTP port.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
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
}

impl ServeArgs {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds.max(1))
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }
}
