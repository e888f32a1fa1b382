//! Builds the facade from the server's configuration: issuer, signing key,
//! store, upstream IdP, and the DCR translator with its grant, settings,
//! outbound policy and host-held credentials.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::cimd::CimdSettings;
use super::outbound::{Credential, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, Origin, OutboundPolicy};
use super::seal::SigningKey;
use super::store::{FileStore, KubeStore, Store};
use super::translator::{BUILTIN, Translator};
use super::{Facade, FacadeSettings, Upstream};
use crate::auth::AuthSettings;
use crate::config::FacadeArgs;
use crate::runtime::Runtime;
use crate::runtime::grant::ComponentGrant;

/// The credentials file (`FACADE_CREDENTIALS_FILE`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credential: Vec<CredentialEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialEntry {
    url_prefix: String,
    bearer: Option<String>,
    basic_user: Option<String>,
    basic_password: Option<String>,
}

fn credentials_from_file(path: &Path) -> anyhow::Result<Vec<Credential>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("FACADE_CREDENTIALS_FILE {}: {e}", path.display()))?;
    let file: CredentialsFile =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("FACADE_CREDENTIALS_FILE {}: {e}", path.display()))?;
    file.credential
        .iter()
        .map(|entry| {
            Origin::of_url(&entry.url_prefix).map_err(|e| anyhow::anyhow!("FACADE_CREDENTIALS_FILE: {e}"))?;
            match (&entry.bearer, &entry.basic_user, &entry.basic_password) {
                (Some(token), None, None) => Credential::bearer(&entry.url_prefix, token),
                (None, Some(user), Some(password)) => Credential::basic(&entry.url_prefix, user, password),
                _ => anyhow::bail!(
                    "FACADE_CREDENTIALS_FILE: credential for {} needs `bearer`, or `basic_user` and `basic_password`",
                    entry.url_prefix
                ),
            }
        })
        .collect()
}

/// The facade issuer: FACADE_ISSUER, else PUBLIC_URL's origin.
fn issuer(args: &FacadeArgs, public_url: &str) -> anyhow::Result<String> {
    let issuer = match &args.facade_issuer {
        Some(issuer) => issuer.trim_end_matches('/').to_string(),
        None => {
            let uri: http::Uri = public_url
                .parse()
                .map_err(|e| anyhow::anyhow!("PUBLIC_URL `{public_url}` is not a URL: {e}"))?;
            format!(
                "{}://{}",
                uri.scheme_str().unwrap_or("https"),
                uri.authority().map(|a| a.as_str()).unwrap_or_default()
            )
        }
    };
    let origin = Origin::of_url(&issuer).map_err(|e| anyhow::anyhow!("facade issuer: {e}"))?;
    let loopback =
        origin.host == "localhost" || origin.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if origin.scheme != "https" && !loopback {
        anyhow::bail!("the facade issuer `{issuer}` must be https (http only on a loopback host)");
    }
    if issuer.contains(['?', '#']) {
        anyhow::bail!("the facade issuer `{issuer}` must not have a query or fragment");
    }
    Ok(issuer)
}

fn store(args: &FacadeArgs, runtime: &Runtime, cache_dir: Option<&Path>) -> anyhow::Result<Arc<dyn Store>> {
    let spec = args.facade_store.clone().unwrap_or_default();
    if spec == "kubernetes" || spec.starts_with("kubernetes:") {
        let access = runtime.kube().ok_or_else(|| {
            anyhow::anyhow!("FACADE_STORE={spec} needs Kubernetes access (in-cluster or CNPG_MCP_KUBECONFIG)")
        })?;
        let namespace = spec
            .strip_prefix("kubernetes:")
            .map(str::to_string)
            .unwrap_or_else(|| access.default_namespace().to_string());
        return Ok(Arc::new(KubeStore::new(access.client(), &namespace, "cnpg-mcp-facade")));
    }
    let dir = match spec.strip_prefix("file:") {
        Some(dir) => Path::new(dir).to_path_buf(),
        None if spec.is_empty() => cache_dir.map(|d| d.join("facade")).ok_or_else(|| {
            anyhow::anyhow!(
                "FACADE_STORE is unset and there is no cache folder; set FACADE_STORE=file:DIR or kubernetes"
            )
        })?,
        None => anyhow::bail!("FACADE_STORE `{spec}` is neither `kubernetes[:NAMESPACE]` nor `file:DIR`"),
    };
    Ok(Arc::new(FileStore::open(dir)?))
}

/// The translator's bytes and grant: a built-in by name, or a file.
fn translator_source(name_or_path: &str) -> anyhow::Result<(String, Vec<u8>, ComponentGrant)> {
    if let Some((name, wasm, grant)) = BUILTIN.iter().find(|(name, _, _)| *name == name_or_path) {
        let grant = ComponentGrant::parse(grant).map_err(|e| anyhow::anyhow!("built-in grant of {name}: {e}"))?;
        return Ok((name.to_string(), wasm.to_vec(), grant));
    }
    let path = Path::new(name_or_path);
    if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
        anyhow::bail!(
            "FACADE_TRANSLATOR `{name_or_path}` is neither a built-in ({}) nor a .wasm file",
            BUILTIN.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
        );
    }
    let wasm = std::fs::read(path).map_err(|e| anyhow::anyhow!("FACADE_TRANSLATOR {}: {e}", path.display()))?;
    let grant_path = crate::runtime::sources::grant_path(path);
    let grant = match std::fs::read_to_string(&grant_path) {
        Ok(text) => ComponentGrant::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", grant_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ComponentGrant::default(),
        Err(e) => anyhow::bail!("{}: {e}", grant_path.display()),
    };
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("translator")
        .to_string();
    Ok((name, wasm, grant))
}

/// Addresses of the Kubernetes API server, refused to translators.
async fn api_server_addresses(runtime: &Runtime) -> Vec<std::net::IpAddr> {
    let Some(access) = runtime.kube() else {
        return Vec::new();
    };
    let url = access.cluster_url();
    let Ok(origin) = Origin::of_url(&url) else {
        return Vec::new();
    };
    match tokio::net::lookup_host((origin.host.as_str(), origin.port)).await {
        Ok(found) => found.map(|a| a.ip()).collect(),
        Err(_) => origin.host.parse().into_iter().collect(),
    }
}

/// Everything the facade needs, from the server's settings.
pub async fn build(
    args: &FacadeArgs,
    auth: &AuthSettings,
    public_url: Option<&str>,
    runtime: &Runtime,
    cache_dir: Option<&Path>,
    oidc_jwks_uri: Option<String>,
    dcr_proxy_url: Option<&str>,
) -> anyhow::Result<Arc<Facade>> {
    let public_url =
        public_url.ok_or_else(|| anyhow::anyhow!("OAUTH_FACADE needs PUBLIC_URL (the canonical MCP URL)"))?;
    let issuer = issuer(args, public_url)?;
    if issuer == auth.issuer {
        anyhow::bail!("the facade issuer and OIDC_ISSUER are the same URL; OIDC_ISSUER must be the upstream IdP");
    }
    let key = match &args.facade_signing_key_file {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("FACADE_SIGNING_KEY_FILE {}: {e}", path.display()))?;
            SigningKey::from_pem(&pem)
                .map_err(|e| anyhow::anyhow!("FACADE_SIGNING_KEY_FILE {}: {e:#}", path.display()))?
        }
        None => {
            tracing::warn!(
                "FACADE_SIGNING_KEY_FILE is not set: tokens are signed with a key of this process only; they stop working at restart and on other replicas"
            );
            SigningKey::generate()?
        }
    };
    let store = store(args, runtime, cache_dir)?;

    let fetcher = crate::auth::fetch::Fetcher::new(Duration::from_secs(5))?;
    // The facade signs users in at the IdP's endpoints: its metadata
    // document is needed even when OIDC_JWKS_URI says where the keys are.
    let upstream_keys =
        Arc::new(crate::auth::keys::KeyStore::new(auth.issuer.clone(), oidc_jwks_uri, fetcher).requiring_metadata());
    let upstream = Upstream::new(auth.issuer.clone(), upstream_keys)?;

    let default_translator = if args.facade_upstream_client_id.is_some() {
        "dcr-static"
    } else {
        "dcr-rfc7591"
    };
    let (name, wasm, mut grant) = translator_source(args.facade_translator.as_deref().unwrap_or(default_translator))?;
    if let Some(path) = &args.facade_translator_grant {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("FACADE_TRANSLATOR_GRANT {}: {e}", path.display()))?;
        grant = ComponentGrant::parse(&text)
            .map_err(|e| anyhow::anyhow!("FACADE_TRANSLATOR_GRANT {}: {e}", path.display()))?;
    }
    let mut config: BTreeMap<String, String> = grant.config.clone();
    if let Some(id) = &args.facade_upstream_client_id {
        config.entry("upstream_client_id".into()).or_insert_with(|| id.clone());
    }
    if let Some(url) = dcr_proxy_url {
        config
            .entry("registration_endpoint".into())
            .or_insert_with(|| url.to_string());
    }
    let mut allow = Vec::new();
    for origin in &grant.http.allow {
        allow.push(Origin::parse(origin).map_err(|e| anyhow::anyhow!("grant of {name}: {e}"))?);
    }
    // Origins the operator named in the facade settings.
    allow.push(Origin::of_url(&auth.issuer).map_err(|e| anyhow::anyhow!("OIDC_ISSUER: {e}"))?);
    for url in [
        config.get("registration_endpoint"),
        dcr_proxy_url.map(str::to_string).as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        allow.push(Origin::of_url(url).map_err(|e| anyhow::anyhow!("registration endpoint: {e}"))?);
    }
    let mut credentials = Vec::new();
    if let Some(token) = args.dcr_initial_access_token.as_deref().filter(|t| !t.is_empty()) {
        let url = dcr_proxy_url
            .ok_or_else(|| anyhow::anyhow!("DCR_INITIAL_ACCESS_TOKEN needs DCR_PROXY_URL (where to send it)"))?;
        credentials.push(Credential::bearer(url, token)?);
    }
    if let Some(path) = &args.facade_credentials_file {
        credentials.extend(credentials_from_file(path)?);
    }
    let blocked = api_server_addresses(runtime).await;
    let policy = OutboundPolicy {
        purpose: "translator",
        allow,
        private_addresses: grant.http.private_addresses,
        blocked: blocked.clone(),
        credentials,
        max_response_bytes: grant
            .http
            .max_response_bytes
            .map(|b| b as usize)
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
        timeout: grant
            .http
            .request_timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT),
    };
    let translator = Translator::load(
        runtime.engine(),
        &name,
        &wasm,
        &grant,
        config,
        policy,
        runtime.max_memory_bytes(),
    )?;

    let mut scopes_supported = auth.required_scopes.clone();
    scopes_supported.extend(auth.write_scope.iter().cloned());
    scopes_supported.extend(auth.tool_scopes.iter().map(|(_, s)| s.clone()));
    scopes_supported.sort();
    scopes_supported.dedup();
    let mut upstream_params = Vec::new();
    for pair in args.facade_upstream_params.iter().filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("FACADE_UPSTREAM_PARAMS: `{pair}` is not key=value"))?;
        if matches!(
            k,
            "response_type"
                | "client_id"
                | "redirect_uri"
                | "state"
                | "nonce"
                | "code_challenge"
                | "code_challenge_method"
                | "scope"
        ) {
            anyhow::bail!("FACADE_UPSTREAM_PARAMS may not set `{k}`");
        }
        upstream_params.push((k.trim().to_string(), v.trim().to_string()));
    }
    let settings = FacadeSettings {
        issuer,
        resource: public_url.to_string(),
        upstream_issuer: auth.issuer.clone(),
        default_scopes: auth.required_scopes.clone(),
        scopes_supported,
        upstream_scope: args.facade_upstream_scope.clone(),
        upstream_params,
        upstream_client_id: args.facade_upstream_client_id.clone(),
        upstream_client_secret: args.facade_upstream_client_secret.clone().filter(|s| !s.is_empty()),
        access_token_ttl: Duration::from_secs(args.facade_access_token_ttl_seconds.max(60)),
        refresh_token_ttl: Duration::from_secs(args.facade_refresh_token_ttl_seconds.max(3600)),
        client_ttl: Duration::from_secs(args.facade_refresh_token_ttl_seconds.max(3600) * 3),
        registrations_per_minute: args.facade_registrations_per_minute,
        username_claim: auth.username_claim.clone(),
        groups_claim: auth.groups_claim.clone(),
        leeway_seconds: auth.leeway.as_secs(),
    };
    tracing::info!(
        issuer = %settings.issuer,
        upstream = %settings.upstream_issuer,
        translator = %name,
        store = %store.describe(),
        "OAuth facade: this server is the authorization server MCP clients see"
    );
    let cimd = args.facade_cimd.then(|| CimdSettings {
        allowed_hosts: args
            .facade_cimd_allowed_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect(),
        private_addresses: args.facade_cimd_private_addresses,
        blocked,
    });
    if cimd.as_ref().is_some_and(|c| c.private_addresses) {
        tracing::warn!(
            "FACADE_CIMD_PRIVATE_ADDRESSES is on: client metadata documents may be fetched from private and loopback addresses"
        );
    }
    let facade = Arc::new(Facade::new(settings, key, store, translator, upstream, cimd)?);
    facade.spawn_sweeper();
    Ok(facade)
}

#[async_trait::async_trait]
impl crate::auth::SessionCheck for Facade {
    async fn alive(&self, session: &str) -> bool {
        self.session_alive(session).await
    }
}
