//! The JSON-RPC framing of a `/mcp` POST body, checked before rmcp sees it.
//!
//! rmcp answers a body it cannot deserialize with HTTP 415 and a line of
//! plain text, whatever the reason. A client is owed a JSON-RPC error
//! object instead (JSON-RPC 2.0 §5.1; the MCP transport: HTTP 400 with an
//! error that has no id when none can be read): a parse error (-32700) for
//! what is not JSON, an invalid request (-32600) for JSON that is not one
//! JSON-RPC message. The checks here cover the whole envelope, so rmcp only
//! ever receives a message it can read; what it returns is kept.
//!
//! Pure logic: no I/O, unit-tested here and through the binary in
//! `tests/tests/bad_input.rs`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::text::shown;

/// Arrays and objects nested deeper than this are refused before parsing
/// (serde_json stops at 128; no MCP message needs a tenth of that).
pub const MAX_DEPTH: usize = 64;

/// Longest request id echoed back; a longer one is refused.
pub const MAX_ID_CHARS: usize = 256;

pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;

/// Why a body is not one JSON-RPC message, as the error object to send.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub code: i32,
    pub message: String,
    /// The request's id when it could be read, else `null` goes out.
    pub id: Option<Value>,
}

impl Refusal {
    fn parse(message: impl Into<String>) -> Self {
        Refusal {
            code: PARSE_ERROR,
            message: format!("Parse error: {}", message.into()),
            id: None,
        }
    }

    fn invalid(message: impl Into<String>, id: Option<&Value>) -> Self {
        Refusal {
            code: INVALID_REQUEST,
            message: format!("Invalid Request: {}", message.into()),
            id: id.cloned(),
        }
    }
}

/// What the front end needs to know of a checked message.
#[derive(Debug, Default, PartialEq)]
pub struct Envelope {
    pub id: Option<Value>,
    pub method: Option<String>,
    /// `params.name` of a `tools/call`.
    pub tool: Option<String>,
}

/// Checks that `body` is exactly one well-formed JSON-RPC 2.0 message that
/// MCP can carry (no batches since revision 2025-06-18).
pub fn check(body: &[u8]) -> Result<Envelope, Refusal> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Refusal::parse(format!(
            "the body is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    if let Some(offset) = too_deep(text.as_bytes()) {
        return Err(Refusal::parse(format!(
            "arrays and objects nest deeper than {MAX_DEPTH} levels (at offset {offset})"
        )));
    }
    let value = match serde_json::from_str::<Strict>(text) {
        Ok(Strict(value)) => value,
        Err(error) if error.is_data() => return Err(Refusal::invalid(error.to_string(), None)),
        Err(error) => return Err(Refusal::parse(error.to_string())),
    };
    let message = match value {
        Value::Object(message) => message,
        Value::Array(_) => {
            return Err(Refusal::invalid(
                "batches (JSON arrays) are not part of MCP since revision 2025-06-18; send one message per request",
                None,
            ));
        }
        _ => return Err(Refusal::invalid("a JSON-RPC message is a JSON object", None)),
    };
    let id = match message.get("id") {
        None => None,
        Some(id) => Some(valid_id(id)?),
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Refusal::invalid("the member `jsonrpc` must be exactly \"2.0\"", id));
    }
    match (message.get("method"), id) {
        (Some(Value::String(_)), _) => {
            if let Some(params) = message.get("params")
                && !params.is_object()
            {
                return Err(Refusal::invalid("`params` must be an object", id));
            }
        }
        (Some(_), _) => return Err(Refusal::invalid("`method` must be a string", id)),
        (None, Some(_)) if message.contains_key("result") != message.contains_key("error") => {}
        (None, Some(_)) => {
            return Err(Refusal::invalid(
                "a response carries exactly one of `result` and `error`",
                id,
            ));
        }
        (None, None) => {
            return Err(Refusal::invalid(
                "neither a request nor a notification (no `method`) nor a response (no `id`)",
                None,
            ));
        }
    }
    // What is left is rmcp's own reading of the members (a response's
    // error object, for one); refuse here what it would answer with 415.
    let envelope = Envelope {
        id: id.cloned(),
        method: message.get("method").and_then(Value::as_str).map(str::to_string),
        tool: match message.get("method").and_then(Value::as_str) {
            Some("tools/call") => message
                .get("params")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        },
    };
    match serde_json::from_value::<rmcp::model::ClientJsonRpcMessage>(Value::Object(message)) {
        Ok(_) => Ok(envelope),
        Err(error) => Err(Refusal {
            code: INVALID_REQUEST,
            message: format!("Invalid Request: {}", shown(&error.to_string())),
            id: envelope.id,
        }),
    }
}

/// A request id as JSON-RPC and MCP allow it: a string, or an integer
/// (rmcp reads 64-bit signed); never null, never a fraction.
fn valid_id(id: &Value) -> Result<&Value, Refusal> {
    match id {
        Value::String(s) if s.chars().count() <= MAX_ID_CHARS => Ok(id),
        Value::String(_) => Err(Refusal::invalid(
            format!("the id is longer than {MAX_ID_CHARS} characters"),
            None,
        )),
        Value::Number(n) if n.is_i64() => Ok(id),
        Value::Number(_) => Err(Refusal::invalid(
            "the id must be a string or an integer in -2^63..2^63-1",
            None,
        )),
        Value::Null => Err(Refusal::invalid("the id must not be null", None)),
        _ => Err(Refusal::invalid("the id must be a string or an integer", None)),
    }
}

/// The offset where nesting passes [`MAX_DEPTH`], if it does. Counts
/// brackets outside strings; the parser judges everything else.
fn too_deep(bytes: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (offset, &byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(offset);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// A JSON value read with duplicate object members refused, at any depth
/// (RFC 8259 leaves them to the reader; two `id`s make a request ambiguous).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate member `{}`", shown(&key))));
            }
            let Strict(value) = map.next_value()?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &[u8]) -> i32 {
        check(body).map(|_| 0).unwrap_or_else(|refusal| refusal.code)
    }

    const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

    #[test]
    fn one_message_of_each_kind_passes() {
        assert_eq!(
            check(PING.as_bytes()),
            Ok(Envelope {
                id: Some(Value::from(1)),
                method: Some("ping".into()),
                tool: None
            })
        );
        for body in [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":"a","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"no"}}"#,
            r#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"}"#,
            // Unknown methods and odd params are rmcp's to answer (-32601/-32602).
            r#"{"jsonrpc":"2.0","id":1,"method":"no/such","params":{}}"#,
        ] {
            assert_eq!(code(body.as_bytes()), 0, "{body}");
        }
        let call = check(br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}}"#).unwrap();
        assert_eq!(call.tool.as_deref(), Some("echo"));
    }

    #[test]
    fn what_is_not_json_is_a_parse_error() {
        assert_eq!(
            code(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffng\"}"),
            PARSE_ERROR
        );
        assert_eq!(code(b"{\"jsonrpc\""), PARSE_ERROR);
        assert_eq!(code(b""), PARSE_ERROR);
        assert_eq!(code("\u{feff}{}".as_bytes()), PARSE_ERROR);
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let refusal = check(deep.as_bytes()).unwrap_err();
        assert_eq!(refusal.code, PARSE_ERROR);
        assert!(refusal.message.contains("nest deeper"), "{}", refusal.message);
        // Brackets inside strings do not count.
        let quoted = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
            "[".repeat(500)
        );
        assert_eq!(code(quoted.as_bytes()), 0);
    }

    #[test]
    fn json_that_is_not_one_message_is_an_invalid_request() {
        for body in [
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            "[]",
            "42",
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":1,"a":2}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":9223372036854775808,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}"#,
            r#"{"jsonrpc":"2.0"}"#,
        ] {
            assert_eq!(code(body.as_bytes()), INVALID_REQUEST, "{body}");
        }
    }

    #[test]
    fn the_id_is_echoed_when_it_could_be_read_and_reflection_is_bounded() {
        let refusal = check(br#"{"jsonrpc":"1.0","id":"abc","method":"ping"}"#).unwrap_err();
        assert_eq!(refusal.id, Some(Value::from("abc")));
        let long_id = format!(
            r#"{{"jsonrpc":"2.0","id":"{}","method":"ping"}}"#,
            "x".repeat(MAX_ID_CHARS + 1)
        );
        assert_eq!(check(long_id.as_bytes()).unwrap_err().id, None);
        let long_key = "k".repeat(1 << 20);
        let body = format!(r#"{{"{long_key}":1,"{long_key}":2}}"#);
        let refusal = check(body.as_bytes()).unwrap_err();
        assert!(refusal.message.len() < 1024, "{} bytes", refusal.message.len());
    }
}
