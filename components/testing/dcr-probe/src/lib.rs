//! Test translator for the host's outbound policy: requests every URL of
//! its `probe_urls` setting (comma list) and refuses the registration with
//! one line per URL saying what happened, so a test can see what the host
//! let through. `succeed_as` (a client id) makes it succeed instead, after
//! the probes.

use cnpg_mcp_dcr::http::Request;
use cnpg_mcp_dcr::{Registration, RegistrationError, TokenAuth, UpstreamClient, config};

struct Probe;

impl cnpg_mcp_dcr::bindings::exports::cnpg::mcp::dcr::Guest for Probe {
    fn register(_registration: Registration) -> Result<UpstreamClient, RegistrationError> {
        let urls = config::optional("probe_urls")?.unwrap_or_default();
        let mut lines = Vec::new();
        for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let line = match Request::new("GET", url)
                .header("authorization", "Bearer guest-set")
                .send()
            {
                Ok(response) => format!(
                    "{url} -> HTTP {} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ),
                Err(error) => format!("{url} -> error: {error}"),
            };
            lines.push(line);
        }
        match config::optional("succeed_as")? {
            Some(client_id) => Ok(UpstreamClient {
                client_id,
                client_secret: Some("probe-secret".into()),
                token_auth: TokenAuth::ClientSecretPost,
                management_uri: None,
            }),
            None => Err(RegistrationError::Upstream(lines.join("\n"))),
        }
    }
}

cnpg_mcp_dcr::bindings::export!(Probe with_types_in cnpg_mcp_dcr::bindings);
