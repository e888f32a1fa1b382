//! The IdP's metadata and signing keys: discovery from the issuer, the JWKS
//! cached for its `max-age` (clamped), refreshed in the background when
//! stale, and at most once per [`UNKNOWN_KID_INTERVAL`] when a token names
//! an unknown `kid` (single flight). Cached keys keep serving while the IdP
//! is down.
//!
//! With a JWKS URI given (`OIDC_JWKS_URI`) the keys need no discovery: some
//! IdPs publish no metadata document. The document is then looked for after
//! the keys load, at most every [`METADATA_RETRY`], only to be mirrored for
//! clients; its absence costs nothing else. The facade's upstream cannot
//! work without the IdP's endpoints, so its store requires the document
//! ([`KeyStore::requiring_metadata`]).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fetch::Fetcher;
use super::token::{KeyLookup, KeySet, VerificationKey, parse_jwks};

/// Shortest gap between two refreshes caused by unknown `kid`s.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(30);
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// Shortest gap between two looks for a metadata document that keys do
/// not need (one was absent or unusable).
pub const METADATA_RETRY: Duration = Duration::from_secs(15 * 60);

/// What discovery found.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The metadata document as the IdP publishes it.
    pub metadata: Value,
    pub jwks_uri: String,
}

#[derive(Default)]
struct State {
    discovered: Option<Discovered>,
    keys: Arc<KeySet>,
    fetched_at: Option<Instant>,
    max_age: Duration,
    last_error: Option<String>,
    /// When the metadata was last looked for while keys did not need it.
    metadata_looked_for: Option<Instant>,
}

pub struct KeyStore {
    issuer: String,
    jwks_override: Option<String>,
    fetcher: Fetcher,
    state: RwLock<State>,
    /// Single flight for refreshes; holds when the last one started.
    refresh: tokio::sync::Mutex<Option<Instant>>,
    refreshes: std::sync::atomic::AtomicU64,
    background: Mutex<bool>,
    /// Keys given at start (the facade's own); never fetched.
    fixed: bool,
    /// Keys load from `jwks_override` without the metadata document.
    metadata_optional: bool,
}

impl KeyStore {
    /// Keys of `issuer`: from `jwks_override` when given (the metadata
    /// document then optional), else from the `jwks_uri` discovery finds.
    pub fn new(issuer: String, jwks_override: Option<String>, fetcher: Fetcher) -> Self {
        KeyStore {
            issuer,
            metadata_optional: jwks_override.is_some(),
            jwks_override,
            fetcher,
            state: RwLock::new(State::default()),
            refresh: tokio::sync::Mutex::new(None),
            refreshes: Default::default(),
            background: Mutex::new(false),
            fixed: false,
        }
    }

    /// The same store, not ready until the metadata document is found even
    /// when a JWKS URI is given (for users of the IdP's endpoints).
    pub fn requiring_metadata(mut self) -> Self {
        self.metadata_optional = false;
        self
    }

    /// A store holding `keys` for good: no discovery, no refresh.
    pub fn fixed(issuer: String, keys: KeySet, fetcher: Fetcher) -> Self {
        let state = State {
            discovered: None,
            keys: Arc::new(keys),
            fetched_at: Some(Instant::now()),
            max_age: MAX_MAX_AGE,
            last_error: None,
            metadata_looked_for: None,
        };
        KeyStore {
            issuer,
            jwks_override: None,
            fetcher,
            state: RwLock::new(state),
            refresh: tokio::sync::Mutex::new(None),
            refreshes: Default::default(),
            background: Mutex::new(false),
            fixed: true,
            metadata_optional: false,
        }
    }

    /// JWKS fetches so far (for tests and metrics).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn discovered(&self) -> Option<Discovered> {
        self.state.read().ok().and_then(|s| s.discovered.clone())
    }

    /// Keys come from the JWKS URI alone, and the IdP's metadata document
    /// was looked for and is not there (so there is nothing to mirror).
    pub fn metadata_absent(&self) -> bool {
        self.metadata_optional
            && self.state.read().is_ok_and(|state| {
                state.discovered.is_none() && state.metadata_looked_for.is_some() && state.fetched_at.is_some()
            })
    }

    /// Whether keys are loaded; else why not.
    pub fn status(&self) -> Result<usize, String> {
        let state = self.state.read().map_err(|_| "key store poisoned".to_string())?;
        match (&state.fetched_at, &state.last_error) {
            (Some(_), _) => Ok(state.keys.keys.len()),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => match (&self.jwks_override, self.metadata_optional) {
                (Some(uri), true) => Err(format!("Fetching the JWKS of {} from {uri}", self.issuer)),
                _ => Err(format!("Discovering the JWKS URI of {}", self.issuer)),
            },
        }
    }

    fn metadata_urls(&self) -> Vec<String> {
        let issuer = self.issuer.trim_end_matches('/');
        vec![
            format!("{issuer}/.well-known/openid-configuration"),
            super::fetch::well_known(&self.issuer, "oauth-authorization-server"),
        ]
    }

    async fn discover(&self) -> anyhow::Result<Discovered> {
        let mut problems = Vec::new();
        for url in self.metadata_urls() {
            match self.fetcher.get_json(&url).await {
                Ok((metadata, _)) => {
                    let published = metadata.get("issuer").and_then(Value::as_str).unwrap_or("");
                    if published != self.issuer {
                        anyhow::bail!(
                            "the metadata at {url} names issuer `{published}`, not the configured `{}`",
                            self.issuer
                        );
                    }
                    let jwks_uri = match &self.jwks_override {
                        Some(uri) => uri.clone(),
                        None => metadata
                            .get("jwks_uri")
                            .and_then(Value::as_str)
                            .ok_or_else(|| anyhow::anyhow!("the metadata at {url} has no jwks_uri"))?
                            .to_string(),
                    };
                    return Ok(Discovered { metadata, jwks_uri });
                }
                Err(error) => problems.push(format!("{error:#}")),
            }
        }
        anyhow::bail!("{}", problems.join("; "))
    }

    fn remember(&self, found: &Discovered) {
        if let Ok(mut state) = self.state.write() {
            state.discovered = Some(found.clone());
        }
    }

    /// The IdP's metadata document, discovered now if it is not known yet.
    pub async fn metadata(&self) -> anyhow::Result<Value> {
        if let Some(found) = self.discovered() {
            return Ok(found.metadata);
        }
        let found = self.discover().await?;
        self.remember(&found);
        Ok(found.metadata)
    }

    /// Looks for the metadata document the keys did not need, unless that
    /// was done within [`METADATA_RETRY`]. Its absence is no failure.
    async fn look_for_metadata(&self) {
        let due = match self.state.write() {
            Ok(mut state) if state.discovered.is_none() => {
                let due = state
                    .metadata_looked_for
                    .is_none_or(|at| at.elapsed() >= METADATA_RETRY);
                if due {
                    state.metadata_looked_for = Some(Instant::now());
                }
                due
            }
            _ => false,
        };
        if !due {
            return;
        }
        match self.discover().await {
            Ok(found) => self.remember(&found),
            Err(error) => tracing::info!(
                issuer = %self.issuer,
                reason = %format!("{error:#}"),
                "no usable metadata document: keys come from OIDC_JWKS_URI alone and the IdP's metadata is not mirrored"
            ),
        }
    }

    /// Fetches the JWKS, after discovering where it is unless a JWKS URI was
    /// given. On failure the cached keys stay in use.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        if self.fixed {
            return Ok(());
        }
        let jwks_uri = match (self.discovered(), &self.jwks_override) {
            (Some(found), _) => found.jwks_uri,
            (None, Some(uri)) if self.metadata_optional => uri.clone(),
            (None, _) => match self.discover().await {
                Ok(found) => {
                    self.remember(&found);
                    found.jwks_uri
                }
                Err(error) => {
                    let message = format!("Failed to discover JWKS URI from {}: {error:#}", self.issuer);
                    if let Ok(mut state) = self.state.write() {
                        state.last_error = Some(message.clone());
                    }
                    anyhow::bail!(message);
                }
            },
        };
        self.refreshes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = self.fetcher.get_json(&jwks_uri).await.and_then(|(document, max_age)| {
            let (keys, skipped) = parse_jwks(&document);
            if keys.is_empty() {
                anyhow::bail!("no usable key in {jwks_uri} ({})", skipped.join("; "));
            }
            Ok((keys, skipped, max_age))
        });
        match outcome {
            Ok((keys, skipped, max_age)) => {
                if !skipped.is_empty() {
                    tracing::warn!(skipped = %skipped.join("; "), "JWKS keys skipped");
                }
                tracing::info!(keys = keys.len(), jwks_uri = %jwks_uri, "JWKS loaded");
                if let Ok(mut state) = self.state.write() {
                    state.keys = Arc::new(KeySet { keys });
                    state.fetched_at = Some(Instant::now());
                    state.max_age = max_age.unwrap_or(DEFAULT_MAX_AGE).clamp(MIN_MAX_AGE, MAX_MAX_AGE);
                    state.last_error = None;
                }
                if self.metadata_optional {
                    self.look_for_metadata().await;
                }
                Ok(())
            }
            Err(error) => {
                let message = format!("Failed to fetch the JWKS of {}: {error:#}", self.issuer);
                if let Ok(mut state) = self.state.write() {
                    state.last_error = Some(message.clone());
                }
                anyhow::bail!(message)
            }
        }
    }

    /// The current keys; starts a background refresh when they are stale.
    pub fn snapshot(self: &Arc<Self>) -> Arc<KeySet> {
        let (keys, stale) = match self.state.read() {
            Ok(state) => (
                state.keys.clone(),
                !self.fixed && state.fetched_at.is_some_and(|at| at.elapsed() > state.max_age),
            ),
            Err(_) => (Arc::new(KeySet::default()), false),
        };
        if stale {
            let mut running = self.background.lock().unwrap_or_else(|p| p.into_inner());
            if !*running {
                *running = true;
                let store = self.clone();
                tokio::spawn(async move {
                    if let Err(error) = store.refresh().await {
                        tracing::warn!(error = %error, "JWKS refresh failed; cached keys stay in use");
                    }
                    *store.background.lock().unwrap_or_else(|p| p.into_inner()) = false;
                });
            }
        }
        keys
    }

    /// A token named an unknown `kid`: refresh unless one ran (or started)
    /// within [`UNKNOWN_KID_INTERVAL`]; concurrent callers share one fetch.
    /// Returns whether a refresh happened (or finished while waiting).
    pub async fn refresh_for_unknown_kid(&self) -> bool {
        if self.fixed {
            return false;
        }
        let before = self.state.read().ok().and_then(|s| s.fetched_at);
        let mut last = self.refresh.lock().await;
        let after = self.state.read().ok().and_then(|s| s.fetched_at);
        if after != before {
            // Another caller refreshed while we waited.
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_INTERVAL) {
            return false;
        }
        *last = Some(Instant::now());
        match self.refresh().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %error, "JWKS refresh for an unknown kid failed");
                false
            }
        }
    }

    /// Keeps trying to load keys with backoff until it succeeds once; then
    /// returns (later refreshes happen on demand).
    pub async fn load_until_ready(self: Arc<Self>, on_ready: impl Fn() + Send, on_error: impl Fn(String) + Send) {
        let mut delay = Duration::from_secs(1);
        loop {
            match self.refresh().await {
                Ok(()) => {
                    on_ready();
                    return;
                }
                Err(error) => {
                    let message = format!("{error:#}");
                    tracing::warn!(error = %message, retry_in_s = delay.as_secs(), "OIDC keys not available");
                    on_error(message);
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(60));
        }
    }
}

impl KeyLookup for Arc<KeySet> {
    fn keys(&self, kid: Option<&str>) -> Vec<VerificationKey> {
        self.as_ref().keys(kid)
    }
}
