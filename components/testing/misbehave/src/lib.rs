//! Tools that misbehave on purpose, so the host's sandbox limits can be
//! tested: a trap, an endless loop, unbounded memory growth, a long wait,
//! plus `echo`, the trivial tool the benchmarks and "next call works"
//! checks use.

wit_bindgen::generate!({
    world: "tool",
    path: "../../../wit",
    generate_all,
});

use cnpg::mcp::types::{CallContext, Content, ToolAnnotations, ToolDescriptor, ToolError, ToolOutput};
use exports::cnpg::mcp::tools::Guest;

struct Misbehave;

fn tool(name: &str, description: &str, input_schema: &str) -> ToolDescriptor {
    ToolDescriptor {
        name: name.to_string(),
        title: None,
        description: description.to_string(),
        input_schema: input_schema.to_string(),
        output_schema: None,
        annotations: ToolAnnotations {
            title: None,
            read_only: Some(true),
            destructive: Some(false),
            idempotent: Some(true),
            open_world: Some(false),
        },
    }
}

const NO_ARGS: &str = r#"{"type":"object","properties":{},"additionalProperties":false}"#;

fn text(s: impl Into<String>) -> ToolOutput {
    ToolOutput {
        content: vec![Content::Text(s.into())],
        structured: None,
        is_error: false,
    }
}

/// Pulls one string field out of the (already schema-validated) arguments
/// without a JSON library, to keep this component tiny.
fn string_field(json: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\"");
    let start = json.find(&key)? + key.len();
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// One string member, with its JSON escapes decoded (the host has checked
/// the arguments against the schema, so the member is a string).
fn string_literal(json: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\"");
    let start = json.find(&key)? + key.len();
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let code: String = chars.by_ref().take(4).collect();
                    let unit = u32::from_str_radix(&code, 16).ok()?;
                    // Surrogate pairs are left out: the fuzzer does not need them.
                    out.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
}

fn number_field(json: &str, field: &str) -> Option<u64> {
    let key = format!("\"{field}\"");
    let start = json.find(&key)? + key.len();
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

impl Guest for Misbehave {
    fn list_tools() -> Vec<ToolDescriptor> {
        vec![
            tool(
                "echo",
                "Returns its `text` argument.",
                r#"{"type":"object","properties":{"text":{"type":"string","maxLength":1000}},"required":["text"],"additionalProperties":false}"#,
            ),
            tool("trap", "Executes an unreachable instruction.", NO_ARGS),
            tool("spin", "Loops forever without yielding.", NO_ARGS),
            tool("eat_memory", "Allocates memory until it runs out.", NO_ARGS),
            tool(
                "wait",
                "Blocks on the monotonic clock for `ms` milliseconds.",
                r#"{"type":"object","properties":{"ms":{"type":"integer","minimum":0,"maximum":600000}},"required":["ms"],"additionalProperties":false}"#,
            ),
            tool("fail", "Returns a tool error.", NO_ARGS),
            tool("print", "Writes a marker line to stdout and to stderr.", NO_ARGS),
            tool(
                "k8s_get",
                "Gets one Kubernetes object and reports the outcome.",
                r#"{"type":"object","properties":{"group":{"type":"string"},"resource":{"type":"string"},"namespace":{"type":"string"},"name":{"type":"string"}},"required":["group","resource","namespace","name"],"additionalProperties":false}"#,
            ),
            tool(
                "whoami",
                "Returns the caller's subject from the identity import.",
                NO_ARGS,
            ),
            tool(
                "reflect",
                "Returns its arguments as structured content and as text.",
                r#"{"type":"object"}"#,
            ),
            tool(
                "reflect_raw",
                "Returns the string `raw`, unchecked, as structured content, and a text of `text_bytes` bytes.",
                r#"{"type":"object","properties":{"raw":{"type":"string"},"text_bytes":{"type":"integer","minimum":0,"maximum":67108864}},"required":["raw"],"additionalProperties":false}"#,
            ),
            tool(
                "bad_structured",
                "Returns structured content that violates its output schema.",
                NO_ARGS,
            )
            .with_output_schema(r#"{"type":"object","properties":{"count":{"type":"integer"}},"required":["count"]}"#),
        ]
    }

    fn call_tool(name: String, arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        match name.as_str() {
            "echo" => Ok(text(string_field(&arguments, "text").unwrap_or_default())),
            "trap" => {
                // A trap, exactly as a panic under `panic = "abort"` produces.
                core::arch::wasm32::unreachable()
            }
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "eat_memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    chunk[0] = 1;
                    hoard.push(core::hint::black_box(chunk));
                }
            }
            "wait" => {
                let ms = number_field(&arguments, "ms").unwrap_or(0);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(text(format!("waited {ms} ms")))
            }
            "k8s_get" => {
                use cnpg::mcp::k8s::{self, K8sError, ObjectRef, ResourceType};
                let target = ObjectRef {
                    type_: ResourceType {
                        group: string_field(&arguments, "group").unwrap_or_default(),
                        version: "v1".into(),
                        resource: string_field(&arguments, "resource").unwrap_or_default(),
                    },
                    namespace: string_field(&arguments, "namespace"),
                    name: string_field(&arguments, "name"),
                    subresource: None,
                };
                Ok(text(match k8s::get(&target) {
                    Ok(object) => format!("ok: {object}"),
                    Err(K8sError::DeniedByPolicy(d)) => format!("denied-by-policy: {}", d.reason),
                    Err(K8sError::Unavailable(s)) => format!("unavailable: {}", s.message),
                    Err(other) => format!("other: {other:?}"),
                }))
            }
            "fail" => Err(ToolError::Upstream("the upstream service refused the request".into())),
            "print" => {
                println!("guest-stdout-marker {}", ctx.request_id);
                eprintln!("guest-stderr-marker {}", ctx.request_id);
                Ok(text("printed"))
            }
            "whoami" => {
                let me = cnpg::mcp::identity::current();
                debug_assert_eq!(me.subject, ctx.caller.subject);
                Ok(text(me.subject))
            }
            "reflect" => Ok(ToolOutput {
                content: vec![Content::Text(arguments.clone())],
                structured: Some(arguments),
                is_error: false,
            }),
            "reflect_raw" => {
                let raw = string_literal(&arguments, "raw").unwrap_or_default();
                let size = number_field(&arguments, "text_bytes").unwrap_or(0) as usize;
                Ok(ToolOutput {
                    content: vec![Content::Text("x".repeat(size))],
                    structured: Some(raw),
                    is_error: false,
                })
            }
            "bad_structured" => Ok(ToolOutput {
                content: vec![Content::Text("{\"count\":\"many\"}".into())],
                structured: Some(r#"{"count":"many"}"#.into()),
                is_error: false,
            }),
            other => Err(ToolError::UnknownTool(other.to_string())),
        }
    }
}

trait WithOutputSchema {
    fn with_output_schema(self, schema: &str) -> Self;
}

impl WithOutputSchema for ToolDescriptor {
    fn with_output_schema(mut self, schema: &str) -> Self {
        self.output_schema = Some(schema.to_string());
        self
    }
}

export!(Misbehave);
