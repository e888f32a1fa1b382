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
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| anyhow::anyhow!("cannot load the system's TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Fetcher {
            client: Client::builder(TokioExecutor::new()).build(https),
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
