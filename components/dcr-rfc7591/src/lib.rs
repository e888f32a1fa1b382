//! DCR translator `dcr-rfc7591`: registers one upstream client per MCP
//! client at an RFC 7591 registration endpoint, such as an IdP whose
//! registration needs an initial access token. The upstream client gets
//! the facade's callback as its only redirect URI.
//!
//! Settings (`[config]` of the grant, or from the host):
//! - `registration_endpoint`: the upstream endpoint (the host passes
//!   `DCR_PROXY_URL`); default: the upstream metadata's
//!   `registration_endpoint`.
//! - `token_auth`: what to ask for, `client_secret_basic` (default) or
//!   `client_secret_post`.
//! - `scope`: the `scope` to register (default: none sent).
//!
//! The initial access token, when the endpoint needs one, is added by the
//! host (`DCR_INITIAL_ACCESS_TOKEN`); this component never sees it.

use cnpg_mcp_dcr::http::Request;
use cnpg_mcp_dcr::{Registration, RegistrationError, UpstreamClient, client_name, config, token_auth};
use serde_json::{Value, json};

struct Rfc7591;

fn endpoint(registration: &Registration) -> Result<String, RegistrationError> {
    if let Some(url) = config::optional("registration_endpoint")? {
        return Ok(url);
    }
    serde_json::from_str::<Value>(&registration.upstream_metadata)
        .ok()
        .and_then(|m| m.get("registration_endpoint").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| {
            RegistrationError::Misconfigured(
                "no registration endpoint: set DCR_PROXY_URL (or `registration_endpoint` in the grant's [config]); the upstream metadata has none".into(),
            )
        })
}

impl cnpg_mcp_dcr::bindings::exports::cnpg::mcp::dcr::Guest for Rfc7591 {
    fn register(registration: Registration) -> Result<UpstreamClient, RegistrationError> {
        let url = endpoint(&registration)?;
        let method = config::optional("token_auth")?.unwrap_or_else(|| "client_secret_basic".into());
        if !matches!(method.as_str(), "client_secret_basic" | "client_secret_post") {
            return Err(RegistrationError::Misconfigured(format!(
                "token_auth `{method}` must be client_secret_basic or client_secret_post"
            )));
        }
        let mut body = json!({
            "client_name": format!("{} (via {})", client_name(&registration), registration.facade_issuer),
            "redirect_uris": [registration.callback_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method,
            "application_type": "web",
        });
        if let Some(scope) = config::optional("scope")? {
            body["scope"] = Value::String(scope);
        }
        let response = Request::new("POST", &url)
            .json(&body)
            .send()
            .map_err(RegistrationError::Upstream)?;
        if !response.is_success() {
            let failure = response.failure();
            // The upstream's own judgement of the metadata is passed on.
            return Err(
                match response
                    .json()
                    .ok()
                    .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                {
                    Some(code) if code == "invalid_redirect_uri" => RegistrationError::InvalidRedirectUri(failure),
                    _ => RegistrationError::Upstream(format!("registration at {url} failed: {failure}")),
                },
            );
        }
        let answer = response.json().map_err(RegistrationError::Upstream)?;
        let client_id = answer
            .get("client_id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| RegistrationError::Upstream(format!("{url} answered without a client_id")))?;
        let granted = answer
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .unwrap_or(&method);
        let auth = token_auth(granted).ok_or_else(|| {
            RegistrationError::Upstream(format!(
                "{url} registered the client with token_endpoint_auth_method `{granted}`"
            ))
        })?;
        let secret = answer.get("client_secret").and_then(Value::as_str).map(str::to_string);
        if secret.is_none() && granted != "none" {
            return Err(RegistrationError::Upstream(format!(
                "{url} issued no client_secret for `{granted}`"
            )));
        }
        cnpg_mcp_dcr::log_info(&format!("registered upstream client {client_id} at {url}"));
        Ok(UpstreamClient {
            client_id: client_id.to_string(),
            client_secret: secret,
            token_auth: auth,
            management_uri: answer
                .get("registration_client_uri")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

cnpg_mcp_dcr::bindings::export!(Rfc7591 with_types_in cnpg_mcp_dcr::bindings);
