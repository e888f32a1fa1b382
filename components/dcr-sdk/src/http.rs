//! Outbound HTTP for translators, over `wasi:http/outgoing-handler`.
//!
//! Every request goes through the host, which refuses origins outside the
//! translator's grant, resolves names itself, blocks private addresses
//! unless granted, adds the credentials configured for the destination and
//! limits time and size. A refusal comes back as an error naming the
//! reason; it is never retried here.

use serde_json::Value;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// Largest answer read (the host caps it as well).
const MAX_BODY: usize = 1 << 20;

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("the answer (HTTP {}) is not JSON: {e}", self.status))
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A short description of a failed answer: status, and the OAuth
    /// `error`/`error_description` or the first bytes of the body.
    pub fn failure(&self) -> String {
        let detail = match serde_json::from_slice::<Value>(&self.body) {
            Ok(value) => {
                let error = value.get("error").and_then(Value::as_str).unwrap_or_default();
                let description = value
                    .get("error_description")
                    .or_else(|| value.get("errorMessage"))
                    .or_else(|| value.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match (error.is_empty(), description.is_empty()) {
                    (false, false) => format!("{error}: {description}"),
                    (false, true) => error.to_string(),
                    (true, false) => description.to_string(),
                    (true, true) => truncate(&String::from_utf8_lossy(&self.body)),
                }
            }
            Err(_) => truncate(&String::from_utf8_lossy(&self.body)),
        };
        format!("HTTP {}: {detail}", self.status)
    }
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.headers.push(("content-type".into(), "application/json".into()));
        self.body = Some(body.to_string().into_bytes());
        self
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let encoded: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        self.headers
            .push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        self.body = Some(encoded.join("&").into_bytes());
        self
    }

    /// Sends the request and reads the whole answer.
    pub fn send(self) -> Result<Response, String> {
        send(self)
    }
}

/// An access token from `token_url` by the client credentials grant, with
/// `extra` form fields (e.g. an `audience`). The client's own credentials
/// are the host's to add (`FACADE_CREDENTIALS_FILE`); `what` names the
/// token in errors.
pub fn client_credentials_token(token_url: &str, extra: &[(&str, &str)], what: &str) -> Result<String, String> {
    let mut fields = vec![("grant_type", "client_credentials")];
    fields.extend_from_slice(extra);
    let answer = Request::new("POST", token_url).form(&fields).send()?;
    if !answer.is_success() {
        return Err(format!("{what} from {token_url}: {}", answer.failure()));
    }
    answer
        .json()?
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("{token_url} returned no access_token"))
}

/// Percent-encoding for form fields (RFC 3986 unreserved kept).
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Percent-encoding of one path segment.
pub fn path_segment(text: &str) -> String {
    form_encode(text)
}

struct Target<'a> {
    scheme: Scheme,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Result<Target<'_>, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not an absolute URL"))?;
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => return Err(format!("`{url}`: scheme `{other}` is not http or https")),
    };
    let (authority, path_and_query) = match rest.find(['/', '?']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("`{url}` has no host, or has user information"));
    }
    Ok(Target {
        scheme,
        authority,
        path_and_query: if path_and_query.starts_with('?') {
            // `http://h?q` has the empty path.
            return Err(format!("`{url}` needs a path before its query"));
        } else {
            path_and_query
        },
    })
}

fn describe(error: &ErrorCode) -> String {
    match error {
        ErrorCode::HttpRequestDenied => {
            "refused by the host: the destination is not allowed by this translator's grant ([http] allow), or resolves to a private address".into()
        }
        ErrorCode::DestinationIpProhibited => {
            "refused by the host: the destination resolves to a private, loopback or link-local address (grant [http] private_addresses)".into()
        }
        ErrorCode::DestinationNotFound => "the destination's name does not resolve".into(),
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::ConnectionTimeout => "connection timed out".into(),
        ErrorCode::HttpResponseTimeout => "no answer in time".into(),
        ErrorCode::HttpResponseBodySize(_) => "the answer is larger than the host allows".into(),
        ErrorCode::HttpRequestBodySize(_) => "the request body is larger than the host allows".into(),
        ErrorCode::InternalError(Some(message)) => message.clone(),
        other => format!("{other:?}"),
    }
}

fn send(request: Request) -> Result<Response, String> {
    let target = split_url(&request.url)?;
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&entries).map_err(|e| format!("invalid header: {e:?}"))?;
    let outgoing = OutgoingRequest::new(fields);
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_string()),
    };
    let invalid = |what: &str| format!("{} {}: invalid {what}", request.method, request.url);
    outgoing.set_method(&method).map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&target.scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(target.authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(target.path_and_query))
        .map_err(|()| invalid("path"))?;
    let body = outgoing.body().map_err(|()| invalid("body"))?;
    let pending = outgoing_handler::handle(outgoing, None)
        .map_err(|e| format!("{} {}: {}", request.method, request.url, describe(&e)))?;
    {
        let stream = body.write().map_err(|()| invalid("body stream"))?;
        for chunk in request.body.as_deref().unwrap_or_default().chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("{} {}: cannot send the body: {e:?}", request.method, request.url))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("{} {}: {}", request.method, request.url, describe(&e)))?;
    let answer = loop {
        match pending.get() {
            Some(answer) => break answer,
            None => pending.subscribe().block(),
        }
    };
    let response = answer
        .map_err(|()| format!("{} {}: the answer was already taken", request.method, request.url))?
        .map_err(|e| format!("{} {}: {}", request.method, request.url, describe(&e)))?;
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| invalid("answer body"))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| invalid("answer stream"))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > MAX_BODY {
                        return Err(format!(
                            "{} {}: the answer is larger than 1 MiB",
                            request.method, request.url
                        ));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(format!(
                        "{} {}: reading the answer failed: {}",
                        request.method,
                        request.url,
                        e.to_debug_string()
                    ));
                }
            }
        }
    }
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}
