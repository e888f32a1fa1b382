//! Client ID Metadata Documents: a client whose `client_id` is an https
//! URL publishes its registration metadata at that URL, and the facade
//! fetches it instead of expecting a `/register` call first.
//!
//! The fetch goes through the same guarded path as a translator's requests
//! ([`OutboundPolicy`]): names resolved here, private, loopback, link-local
//! and API server addresses refused (unless `FACADE_CIMD_PRIVATE_ADDRESSES`,
//! meant for tests), the connection pinned to the checked addresses, no
//! redirects followed, a 5 KiB cap and a 5 s deadline. Only `200` with a
//! JSON content type counts. The document must name itself (`client_id`
//! equal to the URL, character for character), may not carry a shared
//! secret, and its redirect URIs follow the rules of `/register`.
//!
//! How long a document is trusted follows its `Cache-Control: max-age`,
//! kept between one minute and one day (one hour when it says nothing).

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use wasmtime_wasi_http::Error as HttpError;

use super::outbound::{Origin, OutboundPolicy};
use super::{AcceptedRegistration, OAuthError, validate_registration};

/// Largest metadata document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// Longest client_id URL accepted.
pub const MAX_URL_LENGTH: usize = 2000;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_FRESHNESS: Duration = Duration::from_secs(3600);
const MIN_FRESHNESS: Duration = Duration::from_secs(60);
const MAX_FRESHNESS: Duration = Duration::from_secs(24 * 3600);

/// Which metadata documents the facade fetches.
#[derive(Debug, Clone, Default)]
pub struct CimdSettings {
    /// Exact host names (lowercase) whose documents are accepted; empty
    /// means any host that resolves to public addresses.
    pub allowed_hosts: Vec<String>,
    /// Let documents be fetched from private and loopback addresses
    /// (tests and development only).
    pub private_addresses: bool,
    /// Addresses refused even when public (the Kubernetes API server's).
    pub blocked: Vec<IpAddr>,
}

/// Whether `client_id` is meant as a metadata document URL (as opposed to
/// one of the ids `/register` hands out).
pub fn is_document_url(client_id: &str) -> bool {
    let lower = client_id.get(..8).unwrap_or("").to_ascii_lowercase();
    lower == "https://" || lower.starts_with("http://")
}

/// Checks the shape of a client_id URL: https, a host, a path other than
/// `/`, no user info, no fragment, no `.` or `..` segments.
pub fn check_url(url: &str) -> Result<Origin, String> {
    if url.len() > MAX_URL_LENGTH {
        return Err(format!("a client_id URL may be at most {MAX_URL_LENGTH} characters"));
    }
    if !url.starts_with("https://") {
        return Err("a client_id URL must use https".into());
    }
    if url.contains('#') {
        return Err("a client_id URL may not have a fragment".into());
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("the client_id is not a valid URL: {e}"))?;
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if authority.contains('@') {
        return Err("a client_id URL may not contain a user name or password".into());
    }
    let origin = Origin::of_uri(&uri).ok_or("the client_id URL has no host")?;
    if authority.starts_with('[') && origin.host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err("the client_id URL's host is not a valid IPv6 address".into());
    }
    let path = uri.path();
    if path.is_empty() || path == "/" {
        return Err("a client_id URL must have a path (not just `/`)".into());
    }
    let dot_segment = path.split('/').any(|segment| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    });
    if dot_segment {
        return Err("a client_id URL may not contain `.` or `..` path segments".into());
    }
    Ok(origin)
}

/// A fetched document and how long it may be used without fetching again.
#[derive(Debug)]
pub struct Fetched {
    pub document: Value,
    pub fresh_for: Duration,
}

/// How long a response may be reused, from its `Cache-Control`.
pub fn freshness(cache_control: Option<&str>) -> Duration {
    let Some(header) = cache_control else {
        return DEFAULT_FRESHNESS;
    };
    let mut max_age = None;
    for directive in header.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return MIN_FRESHNESS;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            max_age = seconds.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_FRESHNESS)
        .clamp(MIN_FRESHNESS, MAX_FRESHNESS)
}

/// Why a fetch failed: (for the client, for the log). What the network
/// said (resolvable or not, private or not, refused or silent) goes to the
/// log only, so the answer cannot map names and ports inside the cluster.
fn describe(error: &HttpError, host: &str) -> (String, String) {
    let detail = match error {
        HttpError::HttpResponseBodySize(_) => {
            let text = format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes");
            return (text.clone(), text);
        }
        HttpError::HttpRequestDenied => format!("{host} is not among the hosts whose client metadata is accepted"),
        HttpError::DestinationIpProhibited => {
            format!("{host} resolves only to private, loopback or otherwise reserved addresses")
        }
        HttpError::DestinationNotFound => format!("{host} cannot be resolved"),
        HttpError::DnsTimeout => format!("resolving {host} timed out"),
        HttpError::ConnectionRefused => format!("cannot connect to {host} (refused, unreachable or TLS failed)"),
        HttpError::HttpResponseTimeout => format!("{host} did not answer within {} s", FETCH_TIMEOUT.as_secs()),
        other => format!("fetching the document failed: {other:?}"),
    };
    (
        format!("the document could not be fetched from {host} (the server log says why)"),
        detail,
    )
}

/// A value from a fetched document, made safe to quote in an answer or a
/// log line: at most 100 characters, control characters escaped.
fn quoted(value: &str) -> String {
    let short: String = value.chars().take(100).collect();
    let escaped = short.escape_debug().to_string();
    if value.chars().count() > 100 {
        format!("{escaped}...")
    } else {
        escaped
    }
}

/// Checks `url` with [`check_url`] and against the allowed hosts.
pub fn admissible(settings: &CimdSettings, url: &str) -> Result<Origin, String> {
    let origin = check_url(url)?;
    if !settings.allowed_hosts.is_empty() && !settings.allowed_hosts.contains(&origin.host) {
        return Err(format!(
            "{} is not among the hosts whose client metadata documents this server accepts",
            origin.host
        ));
    }
    Ok(origin)
}

/// Fetches the metadata document at `url` (checked with [`admissible`]).
pub async fn fetch(settings: &CimdSettings, url: &str) -> Result<Fetched, String> {
    let origin = admissible(settings, url)?;
    let policy = OutboundPolicy {
        purpose: "client metadata",
        allow: vec![origin.clone()],
        private_addresses: settings.private_addresses,
        blocked: settings.blocked.clone(),
        credentials: Vec::new(),
        max_response_bytes: MAX_DOCUMENT_BYTES,
        timeout: FETCH_TIMEOUT,
    };
    let body = Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync();
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("cnpg-mcp/", env!("CARGO_PKG_VERSION")),
        )
        .body(body)
        .map_err(|e| format!("the client_id is not a usable URL: {e}"))?;
    let journal = Mutex::new(Vec::new());
    let response = policy.send(request, &journal).await.map_err(|e| {
        let (answer, detail) = describe(&e, &origin.host);
        tracing::warn!(client_id = %url, reason = %detail, "client metadata document not fetched");
        answer
    })?;
    let status = response.status();
    if status.is_redirection() {
        return Err(format!(
            "the document URL answered {} (a redirect); redirects are not followed, the client_id must be the document's own URL",
            status.as_u16()
        ));
    }
    if status != http::StatusCode::OK {
        return Err(format!("the document URL answered {} instead of 200", status.as_u16()));
    }
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !(essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))) {
        return Err(format!(
            "the document is served as `{content_type}`; it must be application/json"
        ));
    }
    let fresh_for = freshness(
        response
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    );
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the document failed: {e:?}"))?
        .to_bytes();
    let document: Value = serde_json::from_slice(&bytes).map_err(|e| format!("the document is not valid JSON: {e}"))?;
    if !document.is_object() {
        return Err("the document is not a JSON object".into());
    }
    Ok(Fetched { document, fresh_for })
}

/// Checks a fetched document as the registration of client `url`.
pub fn validate_document(
    url: &str,
    document: &Value,
    scopes_supported: &[String],
) -> Result<AcceptedRegistration, OAuthError> {
    let invalid = |description: String| OAuthError::new("invalid_client_metadata", description);
    match document.get("client_id").and_then(Value::as_str) {
        Some(id) if id == url => {}
        Some(id) => {
            return Err(invalid(format!(
                "the document's client_id `{}` is not the URL it was fetched from",
                quoted(id)
            )));
        }
        None => return Err(invalid("the document has no client_id".into())),
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if document.get(secret).is_some() {
            return Err(invalid(format!(
                "a client metadata document may not contain `{secret}` (no secret can be shared through it)"
            )));
        }
    }
    let mut metadata = document.clone();
    match document.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => metadata["token_endpoint_auth_method"] = Value::from("none"),
        Some(Value::String(method)) if method == "none" => {}
        Some(Value::String(method)) if method.starts_with("client_secret") => {
            return Err(invalid(format!(
                "token_endpoint_auth_method `{method}` needs a shared secret, which a client metadata document cannot have"
            )));
        }
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method {} is not supported for metadata-document clients (only `none`)",
                quoted(&other.to_string())
            )));
        }
    }
    validate_registration(&metadata, scopes_supported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_id_urls_are_checked() {
        assert!(check_url("https://app.example.com/oauth/client.json").is_ok());
        assert!(check_url("https://app.example.com:8443/c?v=2").is_ok());
        for (bad, why) in [
            ("http://app.example.com/client.json", "https"),
            ("https://app.example.com", "path"),
            ("https://app.example.com/", "path"),
            ("https://app.example.com/client.json#x", "fragment"),
            ("https://user:pw@app.example.com/client.json", "user name"),
            ("https://app.example.com/a/../client.json", "segments"),
            ("https://app.example.com/a/%2E%2e/client.json", "segments"),
            ("https://app.example.com/./client.json", "segments"),
        ] {
            let error = check_url(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
        assert!(
            check_url("https://[app.example.com]/client.json")
                .unwrap_err()
                .contains("IPv6")
        );
        assert!(check_url("https://[2001:db8::1]/client.json").is_ok());
        let long = format!("https://app.example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert!(check_url(&long).unwrap_err().contains("at most"));
        assert!(is_document_url("https://app.example.com/c"));
        assert!(is_document_url("HTTP://app.example.com/c"));
        assert!(!is_document_url("mcp-abc123"));
    }

    #[test]
    fn cache_lifetimes_are_bounded() {
        assert_eq!(freshness(None), DEFAULT_FRESHNESS);
        assert_eq!(freshness(Some("public, max-age=600")), Duration::from_secs(600));
        assert_eq!(freshness(Some("max-age=1")), MIN_FRESHNESS);
        assert_eq!(freshness(Some("max-age=99999999")), MAX_FRESHNESS);
        assert_eq!(freshness(Some("no-store")), MIN_FRESHNESS);
        assert_eq!(freshness(Some("max-age=600, no-cache")), MIN_FRESHNESS);
        assert_eq!(freshness(Some("private")), DEFAULT_FRESHNESS);
    }

    #[test]
    fn documents_must_name_themselves_and_hold_no_secret() {
        let url = "https://app.example.com/client.json";
        let good = json!({"client_id": url, "client_name": "App", "redirect_uris": ["https://app.example.com/cb"]});
        let accepted = validate_document(url, &good, &[]).unwrap();
        assert_eq!(accepted.auth_method, "none");
        assert_eq!(
            accepted.document["redirect_uris"],
            json!(["https://app.example.com/cb"])
        );

        let refused = |document: Value| validate_document(url, &document, &[]).unwrap_err();
        let other = refused(
            json!({"client_id": "https://app.example.com/other.json", "redirect_uris": ["https://app.example.com/cb"]}),
        );
        assert!(other.description.contains("not the URL"), "{}", other.description);
        // A trailing slash or a case change is a different URL.
        let slash = refused(json!({"client_id": format!("{url}/"), "redirect_uris": ["https://app.example.com/cb"]}));
        assert_eq!(slash.code, "invalid_client_metadata");
        assert!(
            refused(json!({"redirect_uris": ["https://app.example.com/cb"]}))
                .description
                .contains("no client_id")
        );
        // What the document says is quoted short and escaped.
        let hostile = refused(
            json!({"client_id": format!("x\n{}", "y".repeat(500)), "redirect_uris": ["https://app.example.com/cb"]}),
        );
        assert!(
            hostile.description.contains("x\\ny") && hostile.description.len() < 300,
            "{}",
            hostile.description
        );
        let secret =
            refused(json!({"client_id": url, "client_secret": "x", "redirect_uris": ["https://app.example.com/cb"]}));
        assert!(secret.description.contains("client_secret"), "{}", secret.description);
        let method = refused(
            json!({"client_id": url, "token_endpoint_auth_method": "client_secret_post", "redirect_uris": ["https://app.example.com/cb"]}),
        );
        assert!(method.description.contains("shared secret"), "{}", method.description);
        let jwt = refused(
            json!({"client_id": url, "token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://app.example.com/cb"]}),
        );
        assert!(jwt.description.contains("only `none`"), "{}", jwt.description);
        let redirect = refused(json!({"client_id": url, "redirect_uris": ["http://app.example.com/cb"]}));
        assert_eq!(redirect.code, "invalid_redirect_uri");
        assert_eq!(refused(json!({"client_id": url})).code, "invalid_redirect_uri");
    }
}
