//! Which Host and Origin headers `/mcp` accepts: the DNS-rebinding defence
//! the MCP transport specification asks of servers (basic/transports,
//! "Security Warning").

/// Host and Origin allowlists, fixed at start-up.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    any_host: bool,
    hosts: Vec<String>,
    origins: Vec<String>,
}

const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// `host[:port]` -> lower-case host without the port.
fn host_only(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => authority[..=end].to_string(),
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ => authority,
    }
}

fn origin_host(origin: &str) -> Option<String> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    Some(host_only(rest.split('/').next().unwrap_or_default()))
}

impl OriginPolicy {
    /// `public_url` adds its host and origin; `*` in `hosts` accepts any Host.
    pub fn new(hosts: &[String], origins: &[String], public_url: Option<&str>) -> Self {
        let mut policy = OriginPolicy {
            any_host: hosts.iter().any(|h| h.trim() == "*"),
            hosts: LOOPBACK_NAMES.iter().map(|s| s.to_string()).collect(),
            origins: origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
        };
        policy
            .hosts
            .extend(hosts.iter().map(|h| host_only(h)).filter(|h| !h.is_empty() && h != "*"));
        if let Some(url) = public_url {
            if let Some(host) = origin_host(url) {
                policy.hosts.push(host);
            }
            let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            if origin.starts_with("http") {
                policy.origins.push(origin.to_ascii_lowercase());
            }
        }
        policy
    }

    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        if self.any_host {
            return true;
        }
        match host {
            Some(host) => self.hosts.contains(&host_only(host)),
            None => false,
        }
    }

    /// No Origin (non-browser clients) is fine; a browser Origin must be
    /// loopback or listed.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let normalized = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self.origins.contains(&normalized) {
            return true;
        }
        origin_host(&normalized).is_some_and(|host| LOOPBACK_NAMES.contains(&host.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> OriginPolicy {
        OriginPolicy::new(
            &[],
            &["https://app.example.org".into()],
            Some("https://mcp.example.com/mcp"),
        )
    }

    #[test]
    fn loopback_and_public_host_are_accepted() {
        let p = policy();
        assert!(p.host_allowed(Some("127.0.0.1:3000")));
        assert!(p.host_allowed(Some("localhost")));
        assert!(p.host_allowed(Some("[::1]:8080")));
        assert!(p.host_allowed(Some("MCP.example.com")));
        assert!(!p.host_allowed(Some("evil.example.com")));
        assert!(!p.host_allowed(Some("localhost.evil.example.com")));
        assert!(!p.host_allowed(None));
    }

    #[test]
    fn browser_origins_must_be_listed_or_loopback() {
        let p = policy();
        assert!(p.origin_allowed(None));
        assert!(p.origin_allowed(Some("http://localhost:6274")));
        assert!(p.origin_allowed(Some("https://app.example.org")));
        assert!(p.origin_allowed(Some("https://mcp.example.com")));
        assert!(!p.origin_allowed(Some("http://evil.example.com")));
        assert!(!p.origin_allowed(Some("null")));
    }

    #[test]
    fn wildcard_host_accepts_any_host() {
        let p = OriginPolicy::new(&["*".into()], &[], None);
        assert!(p.host_allowed(Some("anything.internal:80")));
    }
}
