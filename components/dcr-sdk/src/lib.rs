//! Guest library for DCR-translation components (world `dcr-translator`):
//!
//! - [`bindings`]: the world; a translator exports itself with
//!   `cnpg_mcp_dcr::bindings::export!(T with_types_in cnpg_mcp_dcr::bindings)`.
//! - [`http`]: JSON requests over `wasi:http`. The host decides where they
//!   may go and adds the credentials; the component never holds them.
//! - [`config`]: the operator's settings for the translator.

pub mod bindings {
    wit_bindgen::generate!({
        world: "dcr-translator",
        path: "../../wit",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "cnpg_mcp_dcr::bindings",
    });
}

pub mod config;
pub mod http;

pub use bindings::exports::cnpg::mcp::dcr::{Registration, RegistrationError, TokenAuth, UpstreamClient};

/// Logs through the host (`logging` import).
pub fn log_info(message: &str) {
    use bindings::cnpg::mcp::{logging, types::LogLevel};
    logging::log(LogLevel::Info, "dcr", message);
}

/// The token endpoint authentication method named `name` (RFC 7591 names).
pub fn token_auth(name: &str) -> Option<TokenAuth> {
    match name {
        "none" => Some(TokenAuth::None),
        "client_secret_basic" => Some(TokenAuth::ClientSecretBasic),
        "client_secret_post" => Some(TokenAuth::ClientSecretPost),
        _ => None,
    }
}

/// The RFC 7591 name of `auth`.
pub fn token_auth_name(auth: TokenAuth) -> &'static str {
    match auth {
        TokenAuth::None => "none",
        TokenAuth::ClientSecretBasic => "client_secret_basic",
        TokenAuth::ClientSecretPost => "client_secret_post",
    }
}

/// The client's name from its metadata, for naming the upstream client.
pub fn client_name(registration: &Registration) -> String {
    serde_json::from_str::<serde_json::Value>(&registration.client_metadata)
        .ok()
        .and_then(|m| m.get("client_name").and_then(|n| n.as_str()).map(str::to_string))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "MCP client".to_string())
}
