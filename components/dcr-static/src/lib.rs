//! DCR translator `dcr-static`: every client that registers with the
//! facade is mapped onto one client pre-registered at the identity provider
//! (its redirect URI is the facade's callback). The facade's per-client
//! consent page is what keeps one registered client from riding on another
//! user's approval (confused deputy).
//!
//! Settings (`[config]` of the grant, or from the host):
//! - `upstream_client_id`: the pre-registered client (the host passes
//!   `FACADE_UPSTREAM_CLIENT_ID`).
//! - `token_auth`: `client_secret_basic` (default), `client_secret_post` or
//!   `none`. The secret itself stays with the host
//!   (`FACADE_UPSTREAM_CLIENT_SECRET`); this component never sees it.
//!
//! It makes no network requests; its grant allows none.

use cnpg_mcp_dcr::{Registration, RegistrationError, UpstreamClient, config, token_auth};

struct Static;

impl cnpg_mcp_dcr::bindings::exports::cnpg::mcp::dcr::Guest for Static {
    fn register(_registration: Registration) -> Result<UpstreamClient, RegistrationError> {
        let client_id = config::required("upstream_client_id")?;
        let method = config::optional("token_auth")?.unwrap_or_else(|| "client_secret_basic".into());
        let auth = token_auth(&method).ok_or_else(|| {
            RegistrationError::Misconfigured(format!(
                "token_auth `{method}` is not one of none, client_secret_basic, client_secret_post"
            ))
        })?;
        Ok(UpstreamClient {
            client_id,
            client_secret: None,
            token_auth: auth,
            management_uri: None,
        })
    }
}

cnpg_mcp_dcr::bindings::export!(Static with_types_in cnpg_mcp_dcr::bindings);
