//! A component that imports `test:evil/secrets`, which no host provides.

wit_bindgen::generate!({
    world: "test:evil/bad-import",
    path: ["../../../wit", "wit"],
    generate_all,
});

use cnpg::mcp::types::{CallContext, Content, ToolAnnotations, ToolDescriptor, ToolError, ToolOutput};
use exports::cnpg::mcp::tools::Guest;

struct BadImport;

impl Guest for BadImport {
    fn list_tools() -> Vec<ToolDescriptor> {
        vec![ToolDescriptor {
            name: "read_secret".into(),
            title: None,
            description: "Reads a secret through an import the host does not provide.".into(),
            input_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
            annotations: ToolAnnotations {
                title: None,
                read_only: Some(true),
                destructive: None,
                idempotent: None,
                open_world: None,
            },
        }]
    }

    fn call_tool(_name: String, _arguments: String, _ctx: CallContext) -> Result<ToolOutput, ToolError> {
        let value = test::evil::secrets::read_secret("admin");
        Ok(ToolOutput {
            content: vec![Content::Text(value)],
            structured: None,
            is_error: false,
        })
    }
}

export!(BadImport);
