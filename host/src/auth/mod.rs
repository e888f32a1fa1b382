//! OAuth 2.1 resource server: bearer JWT validation against the IdP's JWKS
//! (`token.rs`, `keys.rs`), the protected resource metadata (RFC 9728) and
//! the challenges (`WWW-Authenticate`) clients discover the IdP from.
//!
//! Tokens are never logged, forwarded or shown to components; the verified
//! identity becomes a [`Caller`].

pub mod crypto;
pub mod fetch;
pub mod keys;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::Digest;

use crate::caller::Caller;
pub use token::{Rejection, TokenRules, TypPolicy};

/// Auth configuration (from `OIDC_*` settings).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub jwks_uri: Option<String>,
    /// Scopes every request needs.
    pub required_scopes: Vec<String>,
    /// Extra scope tools that are not read-only need.
    pub write_scope: Option<String>,
    /// Extra scopes per tool name.
    pub tool_scopes: Vec<(String, String)>,
    pub algorithms: Vec<Algorithm>,
    pub leeway: Duration,
    pub typ: TypPolicy,
    pub username_claim: String,
    pub groups_claim: String,
    /// Canonical URL of `/mcp` (PUBLIC_URL); derived from the request's
    /// Host when unset.
    pub public_url: Option<String>,
    /// `DCR_PROXY_URL`: the `registration_endpoint` of the authorization
    /// server metadata this server mirrors at
    /// `/.well-known/oauth-authorization-server`.
    pub registration_endpoint: Option<String>,
}

/// What a request presented, judged.
#[derive(Debug)]
pub enum AuthOutcome {
    Allowed(Caller),
    /// 401: no or a bad token.
    Unauthorized(Option<Rejection>),
}

/// Whether the session a token references is still alive (the facade's
/// revocation and refresh-reuse detection end sessions).
#[async_trait::async_trait]
pub trait SessionCheck: Send + Sync {
    async fn alive(&self, session: &str) -> bool;
}

pub struct Authenticator {
    session_check: Option<Arc<dyn SessionCheck>>,
    /// How long a validated token is remembered (at most until its `exp`).
    remember_for: Duration,
    settings: AuthSettings,
    rules: TokenRules,
    keys: Arc<keys::KeyStore>,
    /// Tokens already validated, by SHA-256 of the token: a client sends
    /// the same token with every request of a session.
    verified: std::sync::Mutex<std::collections::HashMap<[u8; 32], Remembered>>,
}

/// A validated token, valid while the key set it was checked against is
/// current and until `until` (its `exp`, at most a minute after the check).
struct Remembered {
    caller: Caller,
    keys: Arc<token::KeySet>,
    until: std::time::Instant,
}

/// Most remembered tokens; the cache is emptied when full.
const MAX_REMEMBERED: usize = 10_000;

impl Authenticator {
    pub fn new(settings: AuthSettings) -> anyhow::Result<Self> {
        crypto::install();
        let fetcher = fetch::Fetcher::new(Duration::from_secs(5))?;
        let keys = Arc::new(keys::KeyStore::new(
            settings.issuer.clone(),
            settings.jwks_uri.clone(),
            fetcher,
        ));
        let rules = TokenRules {
            issuer: settings.issuer.clone(),
            audiences: settings.audiences.clone(),
            algorithms: settings.algorithms.clone(),
            leeway_seconds: settings.leeway.as_secs(),
            typ: settings.typ,
            username_claim: settings.username_claim.clone(),
            groups_claim: settings.groups_claim.clone(),
        };
        Ok(Authenticator {
            session_check: None,
            remember_for: Duration::from_secs(60),
            settings,
            rules,
            keys,
            verified: Default::default(),
        })
    }

    /// The resource server of the facade: tokens of our own issuer, checked
    /// with our key, each bound to a live session.
    pub fn for_facade(
        mut settings: AuthSettings,
        verification: crate::facade::TokenVerification,
        sessions: Arc<dyn SessionCheck>,
    ) -> anyhow::Result<Self> {
        settings.issuer = verification.issuer.clone();
        settings.algorithms = vec![Algorithm::ES256];
        settings.typ = TypPolicy::Strict;
        settings.jwks_uri = None;
        settings.registration_endpoint = None;
        let mut authenticator = Self::new(settings)?;
        let fetcher = fetch::Fetcher::new(Duration::from_secs(5))?;
        authenticator.keys = Arc::new(keys::KeyStore::fixed(verification.issuer, verification.keys, fetcher));
        authenticator.session_check = Some(sessions);
        // A revoked session stops its tokens within seconds.
        authenticator.remember_for = Duration::from_secs(5);
        Ok(authenticator)
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    pub fn keys(&self) -> &Arc<keys::KeyStore> {
        &self.keys
    }

    /// Validates the `Authorization` header values of one request.
    pub async fn authenticate(&self, authorization: &[&[u8]]) -> AuthOutcome {
        if authorization.is_empty() {
            return AuthOutcome::Unauthorized(None);
        }
        let token = match token::bearer(authorization) {
            Ok(token) => token,
            Err(rejection) => return AuthOutcome::Unauthorized(Some(rejection)),
        };
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let mut snapshot = self.keys.snapshot();
        if let Some(caller) = self.remembered(&digest, &snapshot) {
            return AuthOutcome::Allowed(caller);
        }
        let mut outcome = token::validate(token, &self.rules, &snapshot);
        if let Err(rejection) = &outcome
            && rejection.unknown_kid
            && self.keys.refresh_for_unknown_kid().await
        {
            snapshot = self.keys.snapshot();
            outcome = token::validate(token, &self.rules, &snapshot);
        }
        if let (Ok(verified), Some(check)) = (&outcome, &self.session_check) {
            let alive = match &verified.session {
                Some(session) => check.alive(session).await,
                None => false,
            };
            if !alive {
                return AuthOutcome::Unauthorized(Some(Rejection {
                    description: token::FAILED,
                    detail: "the token's session was revoked or has ended".into(),
                    subject: Some(verified.subject.clone()),
                    jti: verified.jti.clone(),
                    unknown_kid: false,
                }));
            }
        }
        match outcome {
            Ok(verified) => {
                let caller = Caller {
                    subject: verified.subject,
                    issuer: verified.issuer,
                    username: verified.username,
                    groups: verified.groups,
                    client_id: verified.client_id,
                    scopes: verified.scopes,
                    verified: true,
                };
                self.remember(digest, &caller, snapshot, verified.expires_in);
                AuthOutcome::Allowed(caller)
            }
            Err(rejection) => AuthOutcome::Unauthorized(Some(rejection)),
        }
    }

    fn remembered(&self, digest: &[u8; 32], keys: &Arc<token::KeySet>) -> Option<Caller> {
        let cache = self.verified.lock().ok()?;
        let entry = cache.get(digest)?;
        (Arc::ptr_eq(&entry.keys, keys) && std::time::Instant::now() < entry.until).then(|| entry.caller.clone())
    }

    fn remember(&self, digest: [u8; 32], caller: &Caller, keys: Arc<token::KeySet>, expires_in: Duration) {
        let Ok(mut cache) = self.verified.lock() else { return };
        if cache.len() >= MAX_REMEMBERED {
            cache.clear();
        }
        let until = std::time::Instant::now() + expires_in.min(self.remember_for);
        cache.insert(
            digest,
            Remembered {
                caller: caller.clone(),
                keys,
                until,
            },
        );
    }

    /// Scopes `caller` lacks among `needed`.
    pub fn missing_scopes(caller: &Caller, needed: &[String]) -> Vec<String> {
        needed.iter().filter(|s| !caller.scopes.contains(s)).cloned().collect()
    }

    /// Scopes a call of `tool` needs beyond the required ones.
    pub fn tool_scopes(&self, tool: &str, read_only: bool) -> Vec<String> {
        let mut needed: Vec<String> = self
            .settings
            .tool_scopes
            .iter()
            .filter(|(name, _)| name == tool)
            .map(|(_, scope)| scope.clone())
            .collect();
        if !read_only && let Some(write) = &self.settings.write_scope {
            needed.push(write.clone());
        }
        needed
    }

    /// The canonical resource URL for a request to `host`.
    pub fn resource(&self, host: &str) -> String {
        self.settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{host}/mcp"))
    }

    /// The URL of our protected resource metadata for `resource`.
    pub fn metadata_url(resource: &str) -> String {
        fetch::well_known(resource, "oauth-protected-resource")
    }

    /// Every scope clients should know about.
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut scopes = self.settings.required_scopes.clone();
        scopes.extend(self.settings.write_scope.iter().cloned());
        scopes.extend(self.settings.tool_scopes.iter().map(|(_, s)| s.clone()));
        scopes.sort();
        scopes.dedup();
        scopes
    }

    /// RFC 9728 metadata.
    pub fn protected_resource_metadata(&self, host: &str) -> Value {
        json!({
            "resource": self.resource(host),
            "authorization_servers": [self.settings.issuer],
            "scopes_supported": self.scopes_supported(),
            "bearer_methods_supported": ["header"],
            "resource_name": "CloudNativePG MCP server",
            "resource_documentation": "https://cloudnative-pg.io/",
        })
    }

    /// RFC 8414 metadata in resource-server mode: the IdP's own, as
    /// discovered (issuer and endpoints unchanged).
    pub fn authorization_server_metadata(&self) -> Option<Value> {
        let mut metadata = self.keys.discovered()?.metadata;
        if let (Some(endpoint), Some(document)) = (&self.settings.registration_endpoint, metadata.as_object_mut()) {
            document.insert("registration_endpoint".into(), Value::String(endpoint.clone()));
        }
        Some(metadata)
    }

    /// `WWW-Authenticate` for a 401 (with `error` only when a token was
    /// presented) or a 403 `insufficient_scope`.
    pub fn challenge(&self, host: &str, error: Option<(&str, &str)>, scopes: &[String]) -> String {
        let resource = self.resource(host);
        let mut value = format!("Bearer resource_metadata=\"{}\"", Self::metadata_url(&resource));
        let scope = if scopes.is_empty() {
            self.settings.required_scopes.join(" ")
        } else {
            scopes.join(" ")
        };
        if !scope.is_empty() {
            value.push_str(&format!(", scope=\"{scope}\""));
        }
        if let Some((error, description)) = error {
            value.push_str(&format!(", error=\"{error}\", error_description=\"{description}\""));
        }
        value
    }
}

/// Splits a comma or space separated list.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
