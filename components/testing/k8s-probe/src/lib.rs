//! One tool, `k8s`, that performs any operation of the host's `k8s` import
//! from its arguments and returns the outcome as structured content:
//! `{"ok": ...}` or `{"error": {"kind": ..., "code": ..., ...}}`. The host's
//! tests drive the real API server through it.

wit_bindgen::generate!({
    world: "tool",
    path: "../../../wit",
    generate_all,
});

use cnpg::mcp::k8s::{
    self, ApplyOptions, DeleteOptions, K8sError, ListOptions, LogOptions, ObjectRef, PatchBody, Propagation,
    ResourceType, Status, WaitCondition, WriteOptions,
};
use cnpg::mcp::types::{CallContext, Content, ToolAnnotations, ToolDescriptor, ToolError, ToolOutput};
use exports::cnpg::mcp::tools::Guest;
use serde_json::{Value, json};

struct Probe;

const SCHEMA: &str = r#"{"type":"object","properties":{
 "op":{"type":"string","enum":["get","get_len","list","create","replace","patch","delete","logs","events","proxy_get","wait_for","resolve_kind","default_namespace"]},
 "group":{"type":"string"},"version":{"type":"string"},"resource":{"type":"string"},
 "namespace":{"type":"string"},"name":{"type":"string"},"subresource":{"type":"string"},
 "body":{},"patch_type":{"type":"string","enum":["json","merge","strategic","apply"]},"force":{"type":"boolean"},
 "dry_run":{"type":"boolean"},"propagation":{"type":"string","enum":["foreground","background","orphan"]},
 "uid":{"type":"string"},"resource_version":{"type":"string"},
 "label_selector":{"type":"string"},"field_selector":{"type":"string"},"limit":{"type":"integer","minimum":0},"continue":{"type":"string"},
 "container":{"type":"string"},"tail_lines":{"type":"integer","minimum":0},"previous":{"type":"boolean"},
 "pointer":{"type":"string"},"equals_any":{"type":"array","items":{"type":"string"}},"timeout_ms":{"type":"integer","minimum":0},
 "api_version":{"type":"string"},"kind":{"type":"string"},
 "port":{"type":"integer","minimum":0,"maximum":65535},"path":{"type":"string"},"https":{"type":"boolean"}
},"required":["op"],"additionalProperties":false}"#;

fn status_json(status: &Status) -> Value {
    json!({
        "code": status.code,
        "reason": status.reason,
        "message": status.message,
        "causes": status.causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>(),
    })
}

fn error_json(error: &K8sError) -> Value {
    let (kind, status) = match error {
        K8sError::DeniedByPolicy(d) => {
            return json!({"kind": "denied-by-policy", "verb": d.verb, "resource": d.resource,
                "namespace": d.namespace, "name": d.name, "message": d.reason});
        }
        K8sError::Forbidden(s) => ("forbidden", s),
        K8sError::Unauthorized(s) => ("unauthorized", s),
        K8sError::NotFound(s) => ("not-found", s),
        K8sError::AlreadyExists(s) => ("already-exists", s),
        K8sError::Conflict(s) => ("conflict", s),
        K8sError::Invalid(s) => ("invalid", s),
        K8sError::Gone(s) => ("gone", s),
        K8sError::TooManyRequests(s) => ("too-many-requests", s),
        K8sError::Timeout(s) => ("timeout", s),
        K8sError::TooLarge(s) => ("too-large", s),
        K8sError::Unavailable(s) => ("unavailable", s),
        K8sError::Other(s) => ("other", s),
    };
    let mut value = status_json(status);
    value["kind"] = json!(kind);
    value
}

fn text_of(args: &Value, key: &str) -> Option<String> {
    args.get(key).and_then(Value::as_str).map(str::to_string)
}

fn body_text(args: &Value) -> String {
    args.get("body").map(Value::to_string).unwrap_or_else(|| "{}".into())
}

fn run(args: &Value) -> Result<Value, K8sError> {
    let target = ObjectRef {
        type_: ResourceType {
            group: text_of(args, "group").unwrap_or_default(),
            version: text_of(args, "version").unwrap_or_else(|| "v1".into()),
            resource: text_of(args, "resource").unwrap_or_default(),
        },
        namespace: text_of(args, "namespace"),
        name: text_of(args, "name"),
        subresource: text_of(args, "subresource"),
    };
    let dry_run = args.get("dry_run").and_then(Value::as_bool).unwrap_or(false);
    let parse = |text: String| serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    let op = text_of(args, "op").unwrap_or_default();
    Ok(match op.as_str() {
        "get" => parse(k8s::get(&target)?),
        // The object's size only: no JSON work in the guest (benchmarks).
        "get_len" => Value::from(k8s::get(&target)?.len()),
        "list" => parse(k8s::list(
            &target,
            &ListOptions {
                label_selector: text_of(args, "label_selector"),
                field_selector: text_of(args, "field_selector"),
                limit: args.get("limit").and_then(Value::as_u64).map(|n| n as u32),
                continue_token: text_of(args, "continue"),
            },
        )?),
        "create" => parse(k8s::create(&target, &body_text(args), WriteOptions { dry_run })?),
        "replace" => parse(k8s::replace(&target, &body_text(args), WriteOptions { dry_run })?),
        "patch" => {
            let body = body_text(args);
            let patch = match text_of(args, "patch_type").as_deref() {
                Some("json") => PatchBody::JsonPatch(body),
                Some("strategic") => PatchBody::StrategicMerge(body),
                Some("apply") => PatchBody::Apply(ApplyOptions {
                    manifest: body,
                    force: args.get("force").and_then(Value::as_bool).unwrap_or(false),
                }),
                _ => PatchBody::MergePatch(body),
            };
            parse(k8s::patch(&target, &patch, WriteOptions { dry_run })?)
        }
        "delete" => parse(k8s::delete(
            &target,
            &DeleteOptions {
                dry_run,
                propagation: text_of(args, "propagation").map(|p| match p.as_str() {
                    "foreground" => Propagation::Foreground,
                    "orphan" => Propagation::Orphan,
                    _ => Propagation::Background,
                }),
                uid: text_of(args, "uid"),
                resource_version: text_of(args, "resource_version"),
            },
        )?),
        "logs" => Value::String(k8s::logs(
            &target,
            &LogOptions {
                container: text_of(args, "container"),
                tail_lines: args.get("tail_lines").and_then(Value::as_u64).map(|n| n as u32),
                previous: args.get("previous").and_then(Value::as_bool).unwrap_or(false),
            },
        )?),
        "events" => parse(k8s::events(&target)?),
        "proxy_get" => Value::String(k8s::proxy_get(
            &target,
            args.get("port").and_then(Value::as_u64).unwrap_or(0) as u16,
            &text_of(args, "path").unwrap_or_default(),
            args.get("https").and_then(Value::as_bool).unwrap_or(false),
        )?),
        "wait_for" => parse(k8s::wait_for(
            &target,
            &WaitCondition {
                pointer: text_of(args, "pointer").unwrap_or_default(),
                equals_any: args
                    .get("equals_any")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default(),
            },
            args.get("timeout_ms").and_then(Value::as_u64).unwrap_or(5000),
        )?),
        "resolve_kind" => {
            let found = k8s::resolve_kind(
                &text_of(args, "api_version").unwrap_or_default(),
                &text_of(args, "kind").unwrap_or_default(),
            )?;
            json!({"group": found.type_.group, "version": found.type_.version,
                "resource": found.type_.resource, "kind": found.kind, "namespaced": found.namespaced})
        }
        "default_namespace" => Value::String(k8s::default_namespace()),
        other => Value::String(format!("unknown op {other}")),
    })
}

impl Guest for Probe {
    fn list_tools() -> Vec<ToolDescriptor> {
        vec![ToolDescriptor {
            name: "k8s".into(),
            title: None,
            description: "Performs one operation of the host's k8s import and reports the outcome.".into(),
            input_schema: SCHEMA.into(),
            output_schema: None,
            annotations: ToolAnnotations {
                title: None,
                read_only: Some(false),
                destructive: Some(true),
                idempotent: Some(false),
                open_world: Some(false),
            },
        }]
    }

    fn call_tool(_name: String, arguments: String, _ctx: CallContext) -> Result<ToolOutput, ToolError> {
        let args: Value = serde_json::from_str(&arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
        let outcome = match run(&args) {
            Ok(value) => json!({"ok": value}),
            Err(error) => json!({"error": error_json(&error)}),
        };
        let text = outcome.to_string();
        Ok(ToolOutput {
            content: vec![Content::Text(text.clone())],
            structured: Some(text),
            is_error: false,
        })
    }
}

export!(Probe);
