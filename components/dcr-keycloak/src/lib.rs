//! DCR translator `dcr-keycloak`: provisions one confidential OpenID Connect
//! client per MCP client through the Keycloak admin REST API, with the
//! facade's callback as its only redirect URI and PKCE S256 required.
//!
//! Settings (`[config]` of the grant):
//! - `base_url`: Keycloak's base URL (default: OIDC_ISSUER without
//!   `/realms/<realm>`).
//! - `realm`: the realm clients are created in (default: from OIDC_ISSUER).
//! - `token_url`: where the admin token comes from (default:
//!   `<base_url>/realms/<realm>/protocol/openid-connect/token`), by the
//!   client-credentials grant of a service-account client holding
//!   `realm-management/manage-clients`. Its id and secret are added by the
//!   host (`FACADE_CREDENTIALS_FILE`, `basic_user`/`basic_password` for
//!   that URL); this component never sees them.
//!
//! Grant: `[http] allow` the Keycloak origin (OIDC_ISSUER's is allowed
//! already), `private_addresses = true` when Keycloak runs in the cluster.

use cnpg_mcp_dcr::http::{Request, client_credentials_token, path_segment};
use cnpg_mcp_dcr::{Registration, RegistrationError, TokenAuth, UpstreamClient, client_name, config};
use serde_json::{Value, json};

struct Keycloak;

/// (base URL, realm) from the issuer `https://host/realms/<realm>`.
fn from_issuer(issuer: &str) -> Option<(String, String)> {
    let (base, realm) = issuer.trim_end_matches('/').rsplit_once("/realms/")?;
    (!realm.is_empty() && !realm.contains('/')).then(|| (base.to_string(), realm.to_string()))
}

fn upstream(error: String) -> RegistrationError {
    RegistrationError::Upstream(error)
}

impl cnpg_mcp_dcr::bindings::exports::cnpg::mcp::dcr::Guest for Keycloak {
    fn register(registration: Registration) -> Result<UpstreamClient, RegistrationError> {
        let derived = from_issuer(&registration.upstream_issuer);
        let base = match config::optional("base_url")? {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => derived.clone().map(|(b, _)| b).ok_or_else(|| {
                RegistrationError::Misconfigured("set `base_url`: OIDC_ISSUER is not a Keycloak realm URL".into())
            })?,
        };
        let realm = match config::optional("realm")? {
            Some(realm) => realm,
            None => derived.map(|(_, r)| r).ok_or_else(|| {
                RegistrationError::Misconfigured("set `realm`: OIDC_ISSUER is not a Keycloak realm URL".into())
            })?,
        };
        let realm_path = path_segment(&realm);
        let token_url = config::optional("token_url")?
            .unwrap_or_else(|| format!("{base}/realms/{realm_path}/protocol/openid-connect/token"));

        let access_token = client_credentials_token(&token_url, &[], "admin token").map_err(upstream)?;
        let bearer = format!("Bearer {access_token}");

        let client_id = format!("mcp-{}", registration.facade_client_id);
        let clients_url = format!("{base}/admin/realms/{realm_path}/clients");
        let representation = json!({
            "clientId": client_id,
            "name": client_name(&registration),
            "description": format!("Registered through the MCP facade {}", registration.facade_issuer),
            "protocol": "openid-connect",
            "enabled": true,
            "publicClient": false,
            "clientAuthenticatorType": "client-secret",
            "standardFlowEnabled": true,
            "implicitFlowEnabled": false,
            "directAccessGrantsEnabled": false,
            "serviceAccountsEnabled": false,
            "redirectUris": [registration.callback_uri],
            "webOrigins": [],
            "attributes": {"pkce.code.challenge.method": "S256"},
        });
        let created = Request::new("POST", &clients_url)
            .header("authorization", &bearer)
            .json(&representation)
            .send()
            .map_err(upstream)?;
        if created.status != 201 {
            return Err(upstream(format!("creating client {client_id}: {}", created.failure())));
        }
        let location = created
            .header("location")
            .map(str::to_string)
            .ok_or_else(|| upstream(format!("{clients_url} answered 201 without a Location")))?;
        let secret = Request::new("GET", &format!("{location}/client-secret"))
            .header("authorization", &bearer)
            .send()
            .map_err(upstream)?;
        if !secret.is_success() {
            return Err(upstream(format!(
                "reading the secret of {client_id}: {}",
                secret.failure()
            )));
        }
        let value = secret
            .json()
            .map_err(upstream)?
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| upstream(format!("no secret value for {client_id}")))?;
        cnpg_mcp_dcr::log_info(&format!("created Keycloak client {client_id} in realm {realm}"));
        Ok(UpstreamClient {
            client_id,
            client_secret: Some(value),
            token_auth: TokenAuth::ClientSecretBasic,
            management_uri: Some(location),
        })
    }
}

cnpg_mcp_dcr::bindings::export!(Keycloak with_types_in cnpg_mcp_dcr::bindings);
