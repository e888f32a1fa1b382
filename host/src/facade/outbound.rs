//! Outbound HTTP of DCR-translation components: the `send_request` hook
//! behind their `wasi:http/outgoing-handler` import.
//!
//! The host, not the guest, decides and does everything: the origin must
//! be allowed (grant `[http] allow` plus the origins the facade settings
//! name); names are resolved here and private, loopback, link-local and
//! Kubernetes API server addresses are refused unless the grant says
//! `private_addresses = true`; the connection goes to exactly the checked
//! addresses; configured credentials replace whatever the guest put in the
//! same header; redirects are not followed; request and answer bodies are
//! capped and every exchange has a deadline.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Largest request body a translator may send.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1 << 20;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// `scheme://host:port`, lowercase, with the default port filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origin {
    /// An origin as operators write it: `https://host[:port]` (a trailing
    /// `/` is tolerated, a path is not).
    pub fn parse(text: &str) -> Result<Origin, String> {
        let origin = Self::of_url(text)?;
        let rest = text.split_once("://").map(|(_, r)| r).unwrap_or_default();
        if rest.find('/').is_some_and(|at| rest[at..] != *"/") || rest.contains(['?', '#']) {
            return Err(format!("`{text}` is not an origin (scheme://host[:port], no path)"));
        }
        Ok(origin)
    }

    /// The origin of an absolute http(s) URL.
    pub fn of_url(url: &str) -> Result<Origin, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        Self::of_uri(&uri).ok_or_else(|| format!("`{url}` is not an absolute http or https URL"))
    }

    pub fn of_uri(uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = authority.host().trim_matches(['[', ']']).to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Origin {
            scheme,
            port: authority.port_u16().unwrap_or(default),
            host,
        })
    }
}

/// A header the host adds to requests whose URL starts with `url_prefix`.
#[derive(Clone)]
pub struct Credential {
    pub url_prefix: String,
    pub header: HeaderName,
    pub value: HeaderValue,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("url_prefix", &self.url_prefix)
            .field("header", &self.header)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl Credential {
    /// `Authorization: Bearer <token>` for `url_prefix`.
    pub fn bearer(url_prefix: &str, token: &str) -> anyhow::Result<Credential> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| anyhow::anyhow!("the token for {url_prefix} is not a valid header value"))?;
        value.set_sensitive(true);
        Ok(Credential {
            url_prefix: url_prefix.to_string(),
            header: http::header::AUTHORIZATION,
            value,
        })
    }

    /// `Authorization: Basic` with `user` and `password` for `url_prefix`.
    pub fn basic(url_prefix: &str, user: &str, password: &str) -> anyhow::Result<Credential> {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            super::form_encode(user),
            super::form_encode(password)
        ));
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|_| anyhow::anyhow!("the credentials for {url_prefix} are not a valid header value"))?;
        value.set_sensitive(true);
        Ok(Credential {
            url_prefix: url_prefix.to_string(),
            header: http::header::AUTHORIZATION,
            value,
        })
    }

    fn applies_to(&self, url: &str) -> bool {
        url.starts_with(&self.url_prefix)
            && (self.url_prefix.ends_with('/')
                || url.len() == self.url_prefix.len()
                || matches!(url.as_bytes()[self.url_prefix.len()], b'/' | b'?'))
    }
}

/// One request a translator made, for the log and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: String,
    /// Scheme, host, port and path (no query).
    pub url: String,
    /// The status, or why no request was sent.
    pub outcome: Result<u16, String>,
}

/// What one translator may reach.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// For the log: who sends (`translator`, `client metadata`).
    pub purpose: &'static str,
    pub allow: Vec<Origin>,
    pub private_addresses: bool,
    /// Addresses refused even when public (the Kubernetes API server's),
    /// unless `private_addresses`.
    pub blocked: Vec<IpAddr>,
    pub credentials: Vec<Credential>,
    pub max_response_bytes: usize,
    pub timeout: Duration,
}

/// IPv4 carried in IPv6 (mapped, or the NAT64 well-known prefix) as IPv4;
/// anything else as it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let segments = v6.segments();
            if segments[0] == 0x64 && segments[1] == 0xff9b && segments[2..6] == [0, 0, 0, 0] {
                let o = v6.octets();
                return IpAddr::V4(std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            ip
        }
        v4 => v4,
    }
}

/// Addresses no translator reaches without `private_addresses`: loopback,
/// RFC 1918, link-local (cloud metadata), CGNAT, unique-local, unspecified,
/// multicast, documentation, benchmarking and IETF protocol ranges, 6to4,
/// the local-use NAT64 prefix and deprecated site-local addresses, and
/// IPv4 embedded in IPv6 (mapped, NAT64) judged as IPv4.
pub fn is_private(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00
                || (segments[0] & 0xffc0) == 0xfe80
                || (segments[0] & 0xffc0) == 0xfec0
                || (segments[0] == 0x2001 && segments[1] == 0x0db8)
                || segments[0] == 0x2002
                || (segments[0] == 0x64 && segments[1] == 0xff9b)
                || segments[..6] == [0, 0, 0, 0, 0, 0]
        }
    }
}

impl OutboundPolicy {
    fn denied(&self, origin: &Origin) -> bool {
        !self.allow.iter().any(|allowed| allowed == origin)
    }

    fn usable(&self, ip: IpAddr) -> bool {
        let blocked = self.blocked.iter().any(|b| canonical(*b) == canonical(ip));
        self.private_addresses || !(is_private(ip) || blocked)
    }

    /// Resolves `origin`'s host and keeps the addresses this policy allows.
    async fn resolve(&self, origin: &Origin) -> Result<Vec<SocketAddr>, HttpError> {
        let found: Vec<SocketAddr> = match origin.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, origin.port)],
            Err(_) => {
                let lookup = tokio::net::lookup_host((origin.host.as_str(), origin.port));
                match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                    Err(_) => return Err(HttpError::DnsTimeout),
                    Ok(Err(_)) => return Err(HttpError::DestinationNotFound),
                    Ok(Ok(addresses)) => addresses.collect(),
                }
            }
        };
        if found.is_empty() {
            return Err(HttpError::DestinationNotFound);
        }
        let usable: Vec<SocketAddr> = found.iter().copied().filter(|a| self.usable(a.ip())).collect();
        if usable.is_empty() {
            return Err(HttpError::DestinationIpProhibited);
        }
        Ok(usable)
    }

    /// Sends one request of a translator under this policy.
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        journal: &Mutex<Vec<Exchange>>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let method = request.method().to_string();
        let uri = request.uri().clone();
        let url_without_query = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map(|a| a.as_str()).unwrap_or(""),
            uri.path()
        );
        let record = |outcome: Result<u16, String>| {
            if let Ok(mut journal) = journal.lock() {
                journal.push(Exchange {
                    method: method.clone(),
                    url: url_without_query.clone(),
                    outcome,
                });
            }
        };
        // One deadline for the name lookup and the exchange together.
        let result = tokio::time::timeout(self.timeout, self.send_checked(request, &url_without_query))
            .await
            .unwrap_or(Err(HttpError::HttpResponseTimeout));
        match &result {
            Ok(response) => record(Ok(response.status().as_u16())),
            Err(error) => record(Err(format!("{error:?}"))),
        }
        tracing::info!(
            purpose = self.purpose,
            method = %method,
            url = %url_without_query,
            status = result.as_ref().map(|r| r.status().as_u16()).unwrap_or(0),
            refused = result.as_ref().err().map(|e| format!("{e:?}")).unwrap_or_default(),
            "outbound request"
        );
        result
    }

    async fn send_checked(
        &self,
        request: http::Request<WasiBody>,
        url: &str,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let origin = Origin::of_uri(request.uri()).ok_or(HttpError::HttpRequestUriInvalid)?;
        if self.denied(&origin) {
            return Err(HttpError::HttpRequestDenied);
        }
        let addresses = self.resolve(&origin).await?;
        let (mut parts, body) = request.into_parts();
        let body = Limited::new(body, MAX_REQUEST_BYTES)
            .collect()
            .await
            .map_err(|_| HttpError::HttpRequestBodySize(None))?
            .to_bytes();
        for credential in &self.credentials {
            if credential.applies_to(url) {
                parts.headers.remove(&credential.header);
                parts
                    .headers
                    .insert(credential.header.clone(), credential.value.clone());
            }
        }
        // The guest's own Host header is replaced by the URI's authority.
        parts.headers.remove(http::header::HOST);
        let request = http::Request::from_parts(parts, Full::new(body));

        let mut connector = HttpConnector::new_with_resolver(Pinned(Arc::new(addresses)));
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(self.timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| HttpError::InternalError(Some(format!("cannot load TLS roots: {e}"))))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    HttpError::ConnectionRefused
                } else {
                    HttpError::InternalError(Some(format!("{e}")))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, self.max_response_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                        HttpError::HttpResponseBodySize(None)
                    } else {
                        HttpError::HttpResponseIncomplete
                    }
                })?
                .to_bytes();
            Ok::<_, HttpError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::HttpResponseTimeout)??;
        let body: WasiBody = Full::new(body).map_err(|never| match never {}).boxed_unsync();
        Ok(http::Response::from_parts(parts, body))
    }
}

/// A resolver answering with the addresses already checked, so the
/// connection cannot go anywhere else (no second lookup to rebind).
#[derive(Clone)]
struct Pinned(Arc<Vec<SocketAddr>>);

impl tower_service::Service<Name> for Pinned {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        let addresses = self.0.as_ref().clone();
        Box::pin(async move { Ok(addresses.into_iter()) })
    }
}

/// The hooks of one translator call.
pub struct OutboundHooks {
    pub policy: Arc<OutboundPolicy>,
    pub journal: Arc<Mutex<Vec<Exchange>>>,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let policy = self.policy.clone();
        let journal = self.journal.clone();
        Box::new(async move {
            let response = policy.send(request, &journal).await?;
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> = Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        let origin = Origin::parse("HTTPS://IdP.Example.com").unwrap();
        assert_eq!(origin.to_string(), "https://idp.example.com:443");
        assert_eq!(Origin::parse("http://127.0.0.1:8080/").unwrap().port, 8080);
        assert_eq!(Origin::parse("http://[::1]:9/").unwrap().host, "::1");
        assert!(Origin::parse("https://idp.example.com/realms/x").is_err());
        assert!(Origin::parse("ftp://idp.example.com").is_err());
        assert!(Origin::parse("https://user@idp.example.com").is_err());
        assert_eq!(
            Origin::of_url("https://idp.example.com/realms/x?y").unwrap(),
            Origin::parse("https://idp.example.com:443").unwrap()
        );
    }

    #[test]
    fn private_ranges_are_recognised() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:c000:204::1",
            "fec0::1",
            "192.0.0.8",
            "::",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private} counts as private");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!is_private(public.parse().unwrap()), "{public} counts as public");
        }
        // A blocked address stays blocked in its IPv6 spellings.
        let policy = OutboundPolicy {
            blocked: vec!["203.0.113.7".parse().unwrap(), "8.8.4.4".parse().unwrap()],
            ..OutboundPolicy::default()
        };
        for spelling in ["8.8.4.4", "::ffff:8.8.4.4", "64:ff9b::808:404"] {
            assert!(!policy.usable(spelling.parse().unwrap()), "{spelling} is blocked");
        }
        assert!(policy.usable("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn credentials_apply_at_path_boundaries_only() {
        let credential = Credential::bearer("https://idp.example.com/reg", "t").unwrap();
        assert!(credential.applies_to("https://idp.example.com/reg"));
        assert!(credential.applies_to("https://idp.example.com/reg/x"));
        assert!(credential.applies_to("https://idp.example.com/reg?x=1"));
        assert!(!credential.applies_to("https://idp.example.com/register"));
        assert!(!credential.applies_to("https://idp.example.com.evil/reg"));
        assert!(format!("{credential:?}").contains("redacted"));
    }
}
