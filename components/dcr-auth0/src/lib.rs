//! DCR translator `dcr-auth0`: creates one Regular Web Application per MCP
//! client through the Auth0 Management API, with the facade's callback as
//! its only callback URL.
//!
//! Settings (`[config]` of the grant):
//! - `domain_url`: the tenant, e.g. `https://example.eu.auth0.com` (default:
//!   OIDC_ISSUER's origin).
//! - `management_audience`: default `<domain_url>/api/v2/`.
//!
//! The Management API token comes from `<domain_url>/oauth/token` by the
//! client-credentials grant of a Machine-to-Machine application allowed
//! `create:clients`; its id and secret are added by the host
//! (`FACADE_CREDENTIALS_FILE`, `basic_user`/`basic_password` for that URL).
//! This component never sees them.

use cnpg_mcp_dcr::http::{Request, client_credentials_token};
use cnpg_mcp_dcr::{Registration, RegistrationError, TokenAuth, UpstreamClient, client_name, config};
use serde_json::{Value, json};

struct Auth0;

fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

fn upstream(error: String) -> RegistrationError {
    RegistrationError::Upstream(error)
}

impl cnpg_mcp_dcr::bindings::exports::cnpg::mcp::dcr::Guest for Auth0 {
    fn register(registration: Registration) -> Result<UpstreamClient, RegistrationError> {
        let domain = match config::optional("domain_url")? {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => origin(&registration.upstream_issuer)
                .ok_or_else(|| RegistrationError::Misconfigured("set `domain_url`".into()))?,
        };
        let audience = config::optional("management_audience")?.unwrap_or_else(|| format!("{domain}/api/v2/"));
        let token_url = format!("{domain}/oauth/token");
        let access_token = client_credentials_token(&token_url, &[("audience", &audience)], "Management API token")
            .map_err(upstream)?;

        let application = json!({
            "name": format!("{} (MCP {})", client_name(&registration), registration.facade_client_id),
            "description": format!("Registered through the MCP facade {}", registration.facade_issuer),
            "app_type": "regular_web",
            "callbacks": [registration.callback_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_post",
            "oidc_conformant": true,
            "is_first_party": false,
        });
        let clients_url = format!("{domain}/api/v2/clients");
        let created = Request::new("POST", &clients_url)
            .header("authorization", &format!("Bearer {access_token}"))
            .json(&application)
            .send()
            .map_err(upstream)?;
        if created.status != 201 {
            return Err(upstream(format!("creating the application: {}", created.failure())));
        }
        let answer = created.json().map_err(upstream)?;
        let client_id = answer
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(|| upstream(format!("{clients_url} answered without client_id")))?
            .to_string();
        let secret = answer
            .get("client_secret")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| upstream(format!("{clients_url} answered without client_secret")))?;
        cnpg_mcp_dcr::log_info(&format!("created Auth0 application {client_id}"));
        Ok(UpstreamClient {
            management_uri: Some(format!("{clients_url}/{client_id}")),
            client_id,
            client_secret: Some(secret),
            token_auth: TokenAuth::ClientSecretPost,
        })
    }
}

cnpg_mcp_dcr::bindings::export!(Auth0 with_types_in cnpg_mcp_dcr::bindings);
