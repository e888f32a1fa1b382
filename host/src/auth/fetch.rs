//! Outbound HTTP(S) GET for the IdP's metadata and keys: a timeout on every
//! fetch, a size cap on every body, no redirects followed, system roots for
//! TLS. Never sends credentials.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Largest metadata or JWKS document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// An HTTP(S) client with the system's TLS roots (HTTP/1.1).
pub fn https_client<B>() -> anyhow::Result<Client<hyper_rustls::HttpsConnector<HttpConnector>, B>>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| anyhow::anyhow!("cannot load the system's TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// `base` with the well-known segment `name` inserted between host and
/// path (RFC 8414 / RFC 9728): `https://h/p` -> `https://h/.well-known/name/p`.
pub fn well_known(base: &str, name: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let path = path.trim_end_matches('/');
            let suffix = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            format!("{scheme}://{host}/.well-known/{name}{suffix}")
        }
        None => base.to_string(),
    }
}

#[derive(Clone)]
pub struct Fetcher {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
}

/// A fetched document.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub body: Bytes,
    /// `max-age` of `Cache-Control`, if given.
    pub max_age: Option<Duration>,
}

impl Fetcher {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        Ok(Fetcher {
            client: https_client()?,
            timeout,
        })
    }

    /// GETs `url` (JSON accepted), at most [`MAX_DOCUMENT_BYTES`], within the
    /// timeout. Redirects are answers, not followed.
    pub async fn get(&self, url: &str) -> anyhow::Result<Fetched> {
        let request = Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("cnpg-mcp/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())?;
        let work = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let max_age = response
                .headers()
                .get(http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.split(',')
                        .filter_map(|d| d.trim().strip_prefix("max-age="))
                        .find_map(|n| n.parse::<u64>().ok())
                })
                .map(Duration::from_secs);
            let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading the body: {e}"))?
                .to_bytes();
            anyhow::Ok(Fetched { status, body, max_age })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result.map_err(|e| anyhow::anyhow!("GET {url}: {e:#}")),
            Err(_) => anyhow::bail!("GET {url}: no answer within {:?}", self.timeout),
        }
    }

    /// GETs a JSON document that must answer 200.
    pub async fn get_json(&self, url: &str) -> anyhow::Result<(serde_json::Value, Option<Duration>)> {
        let fetched = self.get(url).await?;
        if fetched.status != StatusCode::OK {
            anyhow::bail!("GET {url}: HTTP {}", fetched.status);
        }
        let value = serde_json::from_slice(&fetched.body).map_err(|e| anyhow::anyhow!("GET {url}: not JSON: {e}"))?;
        Ok((value, fetched.max_age))
    }
}

#[cfg(test)]
mod tests {
    use super::well_known;

    #[test]
    fn well_known_urls_insert_the_segment_before_the_path() {
        assert_eq!(
            well_known("https://mcp.example.com/mcp", "oauth-protected-resource"),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known("https://idp.example.com/realms/main/", "oauth-authorization-server"),
            "https://idp.example.com/.well-known/oauth-authorization-server/realms/main"
        );
        assert_eq!(
            well_known("http://127.0.0.1:8080", "oauth-authorization-server"),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
    }
}
