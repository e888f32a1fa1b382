//! `get_session_info`: who the server acts as for the caller, and whether
//! the CloudNativePG API is reachable. The first thing to call when a tool
//! answers "forbidden" or "unavailable".

wit_bindgen::generate!({
    world: "tool",
    path: "../../wit",
    generate_all,
});

use cnpg::mcp::k8s::{self, K8sError};
use cnpg::mcp::types::{CallContext, Content, ToolAnnotations, ToolDescriptor, ToolError, ToolOutput};
use exports::cnpg::mcp::tools::Guest;
use serde_json::{Value, json};

struct Session;

const TOOL: &str = "get_session_info";

fn output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "caller": {
                "type": "object",
                "properties": {
                    "subject": {"type": "string"},
                    "issuer": {"type": "string"},
                    "username": {"type": ["string", "null"]},
                    "groups": {"type": "array", "items": {"type": "string"}},
                    "client_id": {"type": ["string", "null"]},
                    "scopes": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["subject", "issuer", "groups", "scopes"]
            },
            "protocol_version": {"type": "string"},
            "kubernetes": {
                "type": "object",
                "properties": {
                    "reachable": {"type": "boolean"},
                    "cnpg_cluster_api": {"type": ["string", "null"]},
                    "message": {"type": "string"}
                },
                "required": ["reachable", "message"]
            }
        },
        "required": ["caller", "protocol_version", "kubernetes"]
    })
}

fn kubernetes_status() -> Value {
    match k8s::resolve_kind("postgresql.cnpg.io/v1", "Cluster") {
        Ok(kind) => json!({
            "reachable": true,
            "cnpg_cluster_api": format!("{}/{} ({})", kind.type_.group, kind.type_.version, kind.type_.resource),
            "message": "the CloudNativePG Cluster API is served",
        }),
        Err(error) => {
            let (reachable, message) = match error {
                K8sError::Unavailable(s) => (false, s.message),
                K8sError::NotFound(s) => (true, format!("CloudNativePG is not installed: {}", s.message)),
                K8sError::DeniedByPolicy(d) => (true, format!("denied by this component's grant: {}", d.reason)),
                K8sError::Forbidden(s) | K8sError::Unauthorized(s) => (true, s.message),
                other => (false, format!("{other:?}")),
            };
            json!({"reachable": reachable, "cnpg_cluster_api": null, "message": message})
        }
    }
}

impl Guest for Session {
    fn list_tools() -> Vec<ToolDescriptor> {
        vec![ToolDescriptor {
            name: TOOL.into(),
            title: Some("Session info".into()),
            description: "Shows the identity this server acts as for you (subject, groups, scopes) and whether \
                          the Kubernetes API with CloudNativePG is reachable. Call it first when other tools \
                          report forbidden or unavailable."
                .into(),
            input_schema: json!({"type": "object", "properties": {}, "additionalProperties": false}).to_string(),
            output_schema: Some(output_schema().to_string()),
            annotations: ToolAnnotations {
                title: Some("Session info".into()),
                read_only: Some(true),
                destructive: Some(false),
                idempotent: Some(true),
                open_world: Some(false),
            },
        }]
    }

    fn call_tool(name: String, _arguments: String, ctx: CallContext) -> Result<ToolOutput, ToolError> {
        if name != TOOL {
            return Err(ToolError::UnknownTool(name));
        }
        let caller = &ctx.caller;
        let kubernetes = kubernetes_status();
        let structured = json!({
            "caller": {
                "subject": caller.subject,
                "issuer": caller.issuer,
                "username": caller.username,
                "groups": caller.groups,
                "client_id": caller.client_id,
                "scopes": caller.scopes,
            },
            "protocol_version": ctx.protocol_version,
            "kubernetes": kubernetes,
        });
        let text = format!(
            "Caller: {} (issuer {}), groups: [{}]\nKubernetes: {}",
            caller.subject,
            caller.issuer,
            caller.groups.join(", "),
            kubernetes["message"].as_str().unwrap_or_default()
        );
        Ok(ToolOutput {
            content: vec![Content::Text(text)],
            structured: Some(structured.to_string()),
            is_error: false,
        })
    }
}

export!(Session);
