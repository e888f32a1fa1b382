//! The verified caller of a request.
//!
//! A small type of its own (not inside `auth`) because the runtime and the
//! Kubernetes capability need it while the authorization-server facade needs
//! the runtime; keeping it here keeps the layering one-directional.

use serde::Serialize;

/// Who is calling, as established by the transport: a validated token over
/// HTTP with OIDC, or the local operator for stdio and no-auth HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub subject: String,
    pub issuer: String,
    pub username: Option<String>,
    pub groups: Vec<String>,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    /// Established by a validated token (not the local operator). Only a
    /// verified caller is impersonated towards Kubernetes.
    #[serde(skip)]
    pub verified: bool,
}

impl Caller {
    /// The identity used when no authentication is configured: the process's
    /// own kubeconfig or service account acts, and components are told so.
    pub fn local() -> Self {
        Caller {
            subject: "local".to_string(),
            issuer: "local".to_string(),
            username: None,
            groups: Vec::new(),
            client_id: None,
            scopes: Vec::new(),
            verified: false,
        }
    }
}

impl Caller {
    /// Whom sessions, call slots and rate limits are counted against: the
    /// token's issuer and subject when verified, the client's address
    /// otherwise (behind a proxy: the proxy's), `local` without either.
    pub fn owner_key(&self, address: Option<std::net::IpAddr>) -> String {
        if self.verified {
            format!("sub\n{}\n{}", self.issuer, self.subject)
        } else {
            match address {
                Some(address) => format!("addr\n{address}"),
                None => "local".to_string(),
            }
        }
    }
}
