//! Assembles the server: runtime, components, protocol layer, transport,
//! signals (SIGHUP reloads components, SIGTERM/SIGINT drain and stop).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::config::{ComponentArgs, ServeArgs, Transport};
use crate::http::{HttpServer, HttpSettings, OriginPolicy, Readiness};
use crate::mcp::{McpSettings, McpShared};
use crate::runtime::{EngineSettings, Runtime, RuntimeSettings, sources};

/// Builds the runtime for the given component settings.
pub fn runtime(args: &ComponentArgs) -> anyhow::Result<Runtime> {
    Runtime::new(RuntimeSettings {
        engine: EngineSettings {
            max_concurrent_calls: args.max_concurrent_calls,
            max_memory_bytes: args.max_component_memory_mib.max(1) << 20,
            pooling: true,
        },
        cache_dir: args.cache_dir(),
        admission_wait: Duration::from_secs(10),
        max_calls_per_caller: args.max_calls_per_caller,
    })
}

/// Loads the configured components and installs them.
pub async fn load_components(runtime: &Runtime, args: &ComponentArgs) -> anyhow::Result<()> {
    let sources = sources::collect(!args.no_builtin, &args.enable_builtin, args.components.as_deref())?;
    let registry = runtime.build_registry(sources).await?;
    runtime.install(registry);
    Ok(())
}

fn state_key(args: &ServeArgs) -> anyhow::Result<Vec<u8>> {
    match &args.request_state_key {
        Some(key) if key.len() >= 32 => Ok(key.as_bytes().to_vec()),
        Some(_) => anyhow::bail!("MCP_REQUEST_STATE_KEY must be at least 32 characters"),
        None => {
            let mut key = vec![0u8; 32];
            getrandom(&mut key)?;
            Ok(key)
        }
    }
}

/// Random bytes from the operating system (the getrandom system call: no
/// /dev needed, so the binary also runs from an empty root).
fn getrandom(buf: &mut [u8]) -> anyhow::Result<()> {
    use ring::rand::SecureRandom as _;
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| anyhow::anyhow!("cannot get random bytes for the request-state key"))
}

/// Connects the `k8s` capability. An explicitly configured cluster must
/// work; without configuration the tools answer `unavailable`.
async fn connect_kubernetes(runtime: &Runtime, args: &ServeArgs) -> anyhow::Result<()> {
    let settings = crate::kube::KubeSettings {
        kubeconfig: args.kubeconfig.clone(),
        context: args.kube_context.clone(),
        request_timeout: Some(Duration::from_secs(args.kube_timeout_seconds.max(1))),
        impersonation: args.impersonate.then(|| crate::kube::ImpersonationSettings {
            user_prefix: args.impersonate_user_prefix.clone(),
            group_prefix: args.impersonate_group_prefix.clone(),
        }),
    };
    let explicit = settings.kubeconfig.is_some() || settings.context.is_some();
    match crate::kube::KubeAccess::connect(&settings).await {
        Ok(access) => {
            tracing::info!(
                default_namespace = access.default_namespace(),
                impersonation = access.impersonation().is_some(),
                "Kubernetes access configured"
            );
            runtime.set_kube(access);
            Ok(())
        }
        Err(error) if explicit => Err(error.context("cannot configure Kubernetes access")),
        Err(error) => {
            tracing::info!(reason = %format!("{error:#}"), "no Kubernetes cluster configured; Kubernetes tools will answer unavailable");
            Ok(())
        }
    }
}

/// `cnpg-mcp serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let runtime = Arc::new(runtime(&args.components)?);
    tracing::info!(allocator = %runtime.allocator(), "wasm engine ready");
    connect_kubernetes(&runtime, &args).await?;
    load_components(&runtime, &args.components).await?;
    let registry = runtime.registry();
    tracing::info!(
        components = registry.components().len(),
        tools = registry.tools().len(),
        ms = started.elapsed().as_millis() as u64,
        "components loaded"
    );
    if args.request_state_key.is_none() && args.transport == Transport::Http {
        tracing::info!(
            "MCP_REQUEST_STATE_KEY is not set: multi-round requests can only be retried against this process"
        );
    }
    let shared = McpShared::new(
        runtime.clone(),
        McpSettings {
            page_size: args.page_size,
            request_state_key: state_key(&args)?,
            client_input_timeout: Duration::from_secs(300),
            request_state_ttl: Duration::from_secs(600),
        },
    )?;
    let stop = CancellationToken::new();
    spawn_signal_handlers(runtime.clone(), args.components.clone(), stop.clone())?;
    match args.transport {
        Transport::Stdio => serve_stdio(shared, stop).await,
        Transport::Http => serve_http(args, shared, stop, started).await,
    }
}

async fn serve_http(
    args: ServeArgs,
    shared: Arc<McpShared>,
    stop: CancellationToken,
    started: Instant,
) -> anyhow::Result<()> {
    let mut facade = None;
    let auth = match args.auth.settings(args.public_url.as_deref())? {
        Some(settings) if args.facade.oauth_facade => {
            let built = crate::facade::setup::build(
                &args.facade,
                &settings,
                args.public_url.as_deref(),
                shared.runtime(),
                args.components.cache_dir().as_deref(),
                args.auth.oidc_jwks_uri.clone(),
                settings.registration_endpoint.as_deref(),
            )
            .await?;
            let authenticator = crate::auth::Authenticator::for_facade(settings, built.verification(), built.clone())?;
            facade = Some(built);
            Some(Arc::new(authenticator))
        }
        None if args.facade.oauth_facade => {
            anyhow::bail!("OAUTH_FACADE needs OIDC_ISSUER: the identity provider users sign in at")
        }
        Some(settings) => {
            tracing::info!(
                issuer = %settings.issuer,
                audiences = %settings.audiences.join(","),
                required_scopes = %settings.required_scopes.join(" "),
                "OAuth resource server: /mcp requires a bearer token"
            );
            Some(Arc::new(crate::auth::Authenticator::new(settings)?))
        }
        None => {
            tracing::warn!(
                "OIDC_ISSUER is not set: /mcp accepts requests WITHOUT authentication and tools act with this process's own \
                 Kubernetes identity. Use this only on a trusted machine or network."
            );
            None
        }
    };
    let settings = HttpSettings {
        policy: OriginPolicy::new(&args.allowed_hosts, &args.allowed_origins, args.public_url.as_deref()),
        max_body_bytes: args.max_body_bytes,
        request_timeout: args.request_timeout(),
        shutdown_grace: args.shutdown_grace(),
        metrics_elsewhere: args.metrics_port.is_some(),
        sessions: args.session_limits(),
        tool_calls_per_minute: args.tool_calls_per_minute,
        connections: args.connection_limits(),
    };
    let readiness = Arc::new(Readiness::default());
    if let Some(port) = args.metrics_port {
        let addr = SocketAddr::new(args.bind, port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        tracing::info!(address = %listener.local_addr()?, "serving /metrics on its own port");
        tokio::spawn(crate::http::serve_metrics(
            listener,
            shared.runtime().clone(),
            auth.clone(),
            stop.clone(),
        ));
    }
    let addr = SocketAddr::new(args.bind, args.port);
    let server = HttpServer::bind(addr, shared, settings, readiness.clone(), auth.clone(), facade.clone())
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    match &auth {
        // Ready once the IdP's keys are loaded; until then /readyz says why.
        Some(auth) => {
            // With the facade, what must be discovered is the upstream IdP.
            let (issuer, keys) = match &facade {
                Some(facade) => (
                    facade.settings().upstream_issuer.clone(),
                    facade.upstream().keys().clone(),
                ),
                None => (auth.settings().issuer.clone(), auth.keys().clone()),
            };
            readiness.set_not_ready(format!("Discovering the JWKS URI of {issuer}"));
            let (ready, failing) = (readiness.clone(), readiness.clone());
            tokio::spawn(keys.load_until_ready(move || ready.set_ready(), move |reason| failing.set_not_ready(reason)));
        }
        None => readiness.set_ready(),
    }
    tracing::info!(
        address = %server.local_addr,
        endpoint = %format!("http://{}/mcp", server.local_addr),
        ready_ms = started.elapsed().as_millis() as u64,
        "serving MCP over Streamable HTTP"
    );
    server.run(stop).await;
    Ok(())
}

async fn serve_stdio(shared: Arc<McpShared>, stop: CancellationToken) -> anyhow::Result<()> {
    use rmcp::ServiceExt as _;
    tracing::info!("serving MCP over stdio");
    let running = shared
        .handler()
        .serve_with_ct(rmcp::transport::stdio(), stop.child_token())
        .await
        .context("the stdio client did not complete initialization")?;
    let reason = running.waiting().await.context("stdio transport failed")?;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}

fn spawn_signal_handlers(
    runtime: Arc<Runtime>,
    components: ComponentArgs,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP: reloading components");
                    match load_components(&runtime, &components).await {
                        Ok(()) => tracing::info!(tools = runtime.registry().tools().len(), "components reloaded"),
                        Err(error) => tracing::error!(error = %format!("{error:#}"), "reload failed; keeping the components already loaded"),
                    }
                }
                _ = terminate.recv() => { tracing::info!("SIGTERM: stopping"); stop.cancel(); break; }
                _ = interrupt.recv() => { tracing::info!("SIGINT: stopping"); stop.cancel(); break; }
            }
        }
    });
    Ok(())
}
