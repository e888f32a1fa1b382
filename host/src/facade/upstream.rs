//! The upstream identity provider, as the facade uses it: discovery, the
//! authorization URL, the code exchange (with the ID token checked against
//! the IdP's keys and our nonce, and the user's claims from userinfo), and
//! refresh. Requests carry timeouts and size caps; the IdP is the one the
//! operator configured (OIDC_ISSUER), so no further destination policy
//! applies here.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;

use super::{FacadeSettings, form_encode, unix_now, with_query};
use crate::auth::keys::KeyStore;
use crate::auth::token::KeyLookup;

const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// How the facade authenticates as one upstream client.
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub auth: String,
}

/// Who signed in, from the upstream's answer.
#[derive(Debug)]
pub struct SignedIn {
    pub subject: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub refresh_token: Option<String>,
    /// When the upstream access token expires (unix seconds).
    pub expires_at: u64,
}

/// Why an upstream refresh renewed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RefreshFailure {
    /// The IdP answered and refused the grant: the upstream session is over.
    #[error("the identity provider refused the refresh: {0}")]
    Refused(String),
    /// The IdP was not reached or could not decide (connection refused,
    /// timeout, 5xx, 429, an unreadable answer, our own settings): the
    /// upstream session may well be alive.
    #[error("the identity provider could not be asked: {0}")]
    Unavailable(String),
}

pub struct Renewed {
    pub refresh_token: Option<String>,
    pub expires_at: u64,
}

pub struct Upstream {
    issuer: String,
    keys: Arc<KeyStore>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Upstream {
    pub fn new(issuer: String, keys: Arc<KeyStore>) -> anyhow::Result<Upstream> {
        Ok(Upstream {
            issuer,
            keys,
            client: crate::auth::fetch::https_client()?,
            timeout: Duration::from_secs(10),
        })
    }

    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    /// The discovered metadata, discovering now if needed.
    pub async fn metadata(&self) -> anyhow::Result<Value> {
        self.keys.metadata().await
    }

    async fn endpoint(&self, name: &str) -> anyhow::Result<String> {
        let metadata = self.metadata().await?;
        metadata
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("the metadata of {} has no {name}", self.issuer))
    }

    /// The origin of the upstream authorization endpoint (for the consent
    /// page's `form-action`).
    pub fn authorization_origin(&self) -> Option<String> {
        let metadata = self.keys.discovered()?.metadata;
        let url = metadata.get("authorization_endpoint")?.as_str()?;
        let uri: http::Uri = url.parse().ok()?;
        Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
    }

    /// Whether the upstream puts `iss` in its authorization responses.
    pub async fn announces_iss(&self) -> bool {
        self.metadata()
            .await
            .ok()
            .and_then(|m| {
                m.get("authorization_response_iss_parameter_supported")
                    .and_then(Value::as_bool)
            })
            .unwrap_or(false)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn authorization_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        state: &str,
        nonce: &str,
        challenge: &str,
        extra: &[(String, String)],
    ) -> anyhow::Result<String> {
        let endpoint = self.endpoint("authorization_endpoint").await?;
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            params.push((k, v));
        }
        Ok(with_query(&endpoint, &params))
    }

    /// A form POST to the upstream token endpoint `url`, authenticated as
    /// `credentials` say.
    fn form_request(
        &self,
        url: &str,
        credentials: &ClientCredentials,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let mut builder = Request::post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        match (credentials.auth.as_str(), credentials.secret.as_deref()) {
            ("client_secret_basic", Some(secret)) => {
                use base64::Engine as _;
                let pair = format!("{}:{}", form_encode(&credentials.client_id), form_encode(secret));
                builder = builder.header(
                    header::AUTHORIZATION,
                    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)),
                );
            }
            ("client_secret_post", Some(secret)) => {
                fields.push(("client_id", &credentials.client_id));
                fields.push(("client_secret", secret));
            }
            ("none", _) => fields.push(("client_id", &credentials.client_id)),
            (method, None) => anyhow::bail!(
                "no secret for upstream client {} ({method}); set FACADE_UPSTREAM_CLIENT_SECRET",
                credentials.client_id
            ),
            (method, _) => anyhow::bail!("unsupported upstream token_auth `{method}`"),
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        Ok(builder.body(Full::new(Bytes::from(body.join("&"))))?)
    }

    async fn post_form(
        &self,
        url: &str,
        credentials: &ClientCredentials,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let request = self.form_request(url, credentials, fields)?;
        let (status, body) = self.exchange(url, request).await?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|_| anyhow::anyhow!("{url} answered HTTP {status} without JSON"))?;
        if !status.is_success() {
            anyhow::bail!(
                "{url} answered HTTP {status}: {} {}",
                value.get("error").and_then(Value::as_str).unwrap_or(""),
                value.get("error_description").and_then(Value::as_str).unwrap_or("")
            );
        }
        Ok(value)
    }

    /// Sends `request` and reads its answer, within the timeout and size cap.
    async fn exchange(&self, url: &str, request: Request<Full<Bytes>>) -> anyhow::Result<(http::StatusCode, Bytes)> {
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
                .to_bytes();
            anyhow::Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("{url} did not answer within {} s", self.timeout.as_secs()))?
    }

    async fn get_json(&self, url: &str, bearer: &str) -> anyhow::Result<Value> {
        let request = Request::get(url)
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))?;
        let (status, body) = self.exchange(url, request).await?;
        if !status.is_success() {
            anyhow::bail!("{url} answered HTTP {status}");
        }
        serde_json::from_slice(&body).map_err(|_| anyhow::anyhow!("{url} answered without JSON"))
    }

    /// Exchanges the upstream code and establishes who signed in.
    pub async fn exchange_code(
        &self,
        credentials: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        nonce: &str,
        settings: &FacadeSettings,
    ) -> anyhow::Result<SignedIn> {
        let token_endpoint = self.endpoint("token_endpoint").await?;
        let answer = self
            .post_form(
                &token_endpoint,
                credentials,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await?;
        let id_token = answer.get("id_token").and_then(Value::as_str).ok_or_else(|| {
            anyhow::anyhow!("the identity provider returned no id_token (FACADE_UPSTREAM_SCOPE must include openid)")
        })?;
        let mut claims = self
            .verify_id_token(id_token, &credentials.client_id, nonce, settings.leeway_seconds)
            .await?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("the ID token has no sub"))?
            .to_string();
        // Profile and group claims often live at userinfo only.
        if let (Some(access_token), Ok(userinfo)) = (
            answer.get("access_token").and_then(Value::as_str),
            self.endpoint("userinfo_endpoint").await,
        ) {
            match self.get_json(&userinfo, access_token).await {
                Ok(Value::Object(extra)) if extra.get("sub").and_then(Value::as_str) == Some(subject.as_str()) => {
                    for (k, v) in extra {
                        claims.entry(k).or_insert(v);
                    }
                }
                Ok(_) => tracing::warn!("userinfo answered for another subject; ignored"),
                Err(e) => tracing::info!(error = %format!("{e:#}"), "userinfo not used"),
            }
        }
        let username = claims
            .get(&settings.username_claim)
            .and_then(Value::as_str)
            .map(str::to_string);
        let groups = match claims.get(&settings.groups_claim) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        Ok(SignedIn {
            subject,
            username,
            groups,
            refresh_token: answer.get("refresh_token").and_then(Value::as_str).map(str::to_string),
            expires_at: unix_now() + answer.get("expires_in").and_then(Value::as_u64).unwrap_or(300),
        })
    }

    async fn verify_id_token(
        &self,
        token: &str,
        client_id: &str,
        nonce: &str,
        leeway: u64,
    ) -> anyhow::Result<serde_json::Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| anyhow::anyhow!("malformed ID token: {e}"))?;
        if !matches!(
            header.alg,
            jsonwebtoken::Algorithm::RS256
                | jsonwebtoken::Algorithm::RS384
                | jsonwebtoken::Algorithm::RS512
                | jsonwebtoken::Algorithm::PS256
                | jsonwebtoken::Algorithm::PS384
                | jsonwebtoken::Algorithm::PS512
                | jsonwebtoken::Algorithm::ES256
                | jsonwebtoken::Algorithm::ES384
        ) {
            anyhow::bail!("ID token signed with {:?}, which is not accepted", header.alg);
        }
        let mut candidates = self.keys.snapshot().keys(header.kid.as_deref());
        if candidates.is_empty() && self.keys.refresh_for_unknown_kid().await {
            candidates = self.keys.snapshot().keys(header.kid.as_deref());
        }
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[client_id]);
        validation.leeway = leeway;
        validation.validate_nbf = true;
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"].iter().map(|s| s.to_string()).collect();
        let mut last = String::from("no key of the identity provider matches the ID token");
        for key in candidates.iter().filter(|k| k.fits(header.alg)) {
            match jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => {
                    if data.claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
                        anyhow::bail!("the ID token's nonce does not match this sign-in");
                    }
                    return Ok(data.claims);
                }
                Err(e) => last = format!("ID token rejected: {e}"),
            }
        }
        anyhow::bail!(last)
    }

    /// Renews the upstream session with its refresh token. Only an answer
    /// of the IdP refusing the grant ends it; not reaching the IdP, or an
    /// answer that is no refusal, leaves it as it was.
    pub async fn refresh(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<Renewed, RefreshFailure> {
        let unavailable = |e: anyhow::Error| RefreshFailure::Unavailable(format!("{e:#}"));
        let token_endpoint = self.endpoint("token_endpoint").await.map_err(unavailable)?;
        let request = self
            .form_request(
                &token_endpoint,
                credentials,
                &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
            )
            .map_err(unavailable)?;
        let (status, body) = self.exchange(&token_endpoint, request).await.map_err(unavailable)?;
        let answer: Option<Value> = serde_json::from_slice(&body).ok();
        if status.is_success() {
            let answer = answer.filter(Value::is_object).ok_or_else(|| {
                RefreshFailure::Unavailable(format!("{token_endpoint} answered HTTP {status} without JSON"))
            })?;
            return Ok(Renewed {
                refresh_token: answer.get("refresh_token").and_then(Value::as_str).map(str::to_string),
                expires_at: unix_now() + answer.get("expires_in").and_then(Value::as_u64).unwrap_or(300),
            });
        }
        Err(refresh_failure(&token_endpoint, status, answer.as_ref()))
    }
}

/// What an unsuccessful answer of the token endpoint to a refresh means.
/// RFC 6749 section 5.2: a refusal is a 400 (401 for client
/// authentication) with an error code; `server_error` and
/// `temporarily_unavailable` (borrowed from section 4.1.2.1) say the IdP
/// could not decide, and 5xx, 429 or an answer without a code say nothing
/// about the grant.
fn refresh_failure(endpoint: &str, status: http::StatusCode, answer: Option<&Value>) -> RefreshFailure {
    let field = |name: &str| {
        answer
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (error, description) = (field("error"), field("error_description"));
    let detail = format!("{endpoint} answered HTTP {status}: {error} {description}");
    let refused = matches!(status.as_u16(), 400 | 401)
        && !error.is_empty()
        && error != "server_error"
        && error != "temporarily_unavailable";
    if refused {
        RefreshFailure::Refused(detail)
    } else {
        RefreshFailure::Unavailable(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::{RefreshFailure, refresh_failure};
    use http::StatusCode;
    use serde_json::json;

    #[test]
    fn only_a_refusal_by_the_idp_ends_an_upstream_session() {
        let refused = |status: u16, answer: Option<serde_json::Value>| {
            let status = StatusCode::from_u16(status).unwrap();
            matches!(
                refresh_failure("https://idp/token", status, answer.as_ref()),
                RefreshFailure::Refused(_)
            )
        };
        assert!(refused(400, Some(json!({"error": "invalid_grant"}))));
        assert!(refused(401, Some(json!({"error": "invalid_client"}))));
        assert!(refused(400, Some(json!({"error": "unauthorized_client"}))));
        for (status, answer) in [
            (503, Some(json!({"error": "temporarily_unavailable"}))),
            (500, Some(json!({"error": "invalid_grant"}))),
            (502, None),
            (429, Some(json!({"error": "slow_down"}))),
            (400, Some(json!({"error": "temporarily_unavailable"}))),
            (400, Some(json!({"error": "server_error"}))),
            (400, None),
            (403, Some(json!({"error": "access_denied"}))),
        ] {
            assert!(
                !refused(status, answer.clone()),
                "{status} {answer:?} ended the session"
            );
        }
    }
}
