//! The fixture the MCP conformance suite's server scenarios expect: tools,
//! prompts and resources named `test_*` / `test://...`. The suite checks
//! shapes, MIME types and a few literal values, not exact wording.
//!
//! Only this component is loaded when the suite runs, so that the results
//! speak for the host (protocol, transport, limits), not for the
//! CloudNativePG tools.

wit_bindgen::generate!({
    world: "tool-full",
    path: "../../wit",
    generate_all,
});

use std::time::Duration;

use cnpg::mcp::client::{self, ElicitAction, ElicitRequest, InputRequest, InputResponse, KeyedRequest};
use cnpg::mcp::types::{
    Blob, CallContext, Content, LogLevel, ResourceContents, ToolAnnotations, ToolDescriptor, ToolError, ToolOutput,
};
use exports::cnpg::mcp::prompts::{
    self, PromptArgument, PromptDescriptor, PromptError, PromptMessage, PromptResult, Role,
};
use exports::cnpg::mcp::resources::{self, ResourceDescriptor, ResourceError, ResourceTemplate};
use exports::cnpg::mcp::tools;
use serde_json::{Value, json};

/// A 1x1 PNG and a tiny 8 kHz WAV, generated for this fixture.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGMwTpsJAAICATNWh+JUAAAAAElFTkSuQmCC";
const WAV: &str = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

struct Fixture;

fn text(s: impl Into<String>) -> Content {
    Content::Text(s.into())
}

fn ok(content: Vec<Content>) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput {
        content,
        structured: None,
        is_error: false,
    })
}

fn descriptor(name: &str, description: &str, schema: Value) -> ToolDescriptor {
    ToolDescriptor {
        name: name.into(),
        title: None,
        description: description.into(),
        input_schema: schema.to_string(),
        output_schema: None,
        annotations: ToolAnnotations {
            title: None,
            read_only: Some(true),
            destructive: Some(false),
            idempotent: None,
            open_world: Some(false),
        },
    }
}

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

fn string_arg(name: &str, description: &str) -> Value {
    json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]})
}

fn arg(arguments: &Value, name: &str) -> String {
    arguments
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn elicit(key: &str, message: &str, schema: Value) -> KeyedRequest {
    KeyedRequest {
        key: key.into(),
        request: InputRequest::Elicit(ElicitRequest {
            message: message.into(),
            requested_schema: schema.to_string(),
        }),
    }
}

fn sample(key: &str, prompt: &str, max_tokens: u32) -> KeyedRequest {
    KeyedRequest {
        key: key.into(),
        request: InputRequest::Sample(
            json!({"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": max_tokens})
                .to_string(),
        ),
    }
}

fn roots(key: &str) -> KeyedRequest {
    KeyedRequest {
        key: key.into(),
        request: InputRequest::ListRoots,
    }
}

/// Renders one answer for the tool's text output.
fn describe(response: &InputResponse) -> String {
    match response {
        InputResponse::Elicit(ElicitAction::Accept(content)) => format!("action=accept, content={content}"),
        InputResponse::Elicit(ElicitAction::Decline) => "action=decline".into(),
        InputResponse::Elicit(ElicitAction::Cancel) => "action=cancel".into(),
        InputResponse::Sample(result) => {
            let value: Value = serde_json::from_str(result).unwrap_or(Value::Null);
            value
                .pointer("/content/text")
                .and_then(Value::as_str)
                .unwrap_or(result)
                .to_string()
        }
        InputResponse::Roots(result) => format!("roots={result}"),
        InputResponse::Failed(error) => format!("failed: {error:?}"),
    }
}

fn accepted_field(response: &InputResponse, field: &str) -> Option<String> {
    match response {
        InputResponse::Elicit(ElicitAction::Accept(content)) => {
            let value: Value = serde_json::from_str(content).ok()?;
            Some(match value.get(field)? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        }
        _ => None,
    }
}

fn ask(requests: Vec<KeyedRequest>) -> Vec<InputResponse> {
    client::request_input(&requests)
        .into_iter()
        .map(|r| r.response)
        .collect()
}

fn log(message: &str) {
    cnpg::mcp::logging::log(LogLevel::Info, "conformance-fixture", message);
}

fn elicit_defaults_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Your name", "default": "John Doe"},
            "age": {"type": "integer", "description": "Your age", "default": 30},
            "score": {"type": "number", "description": "Your score", "default": 95.5},
            "status": {"type": "string", "description": "Account status", "enum": ["active", "inactive", "pending"], "default": "active"},
            "verified": {"type": "boolean", "description": "Verified account", "default": true}
        },
        "required": []
    })
}

fn elicit_enums_schema() -> Value {
    let titled = |titles: [&str; 3]| -> Value {
        Value::Array(
            titles
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"const": format!("value{}", i + 1), "title": t}))
                .collect(),
        )
    };
    json!({
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {"type": "string", "oneOf": titled(["First Option", "Second Option", "Third Option"])},
            "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
            "untitledMulti": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"anyOf": titled(["First Choice", "Second Choice", "Third Choice"])}}
        },
        "required": []
    })
}

/// The conformance suite's JSON Schema 2020-12 probe, returned verbatim.
const SCHEMA_2020_12: &str = r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","$defs":{"address":{"$anchor":"addressDef","type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},"properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"},"contactMethod":{"type":"string","enum":["phone","email"]},"phone":{"type":"string"},"email":{"type":"string"}},"allOf":[{"anyOf":[{"required":["phone"]},{"required":["email"]}]}],"if":{"properties":{"contactMethod":{"const":"phone"}},"required":["contactMethod"]},"then":{"required":["phone"]},"else":{"required":["email"]},"additionalProperties":false}"##;

impl tools::Guest for Fixture {
    fn list_tools() -> Vec<ToolDescriptor> {
        let name_schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
        let mut list = vec![
            descriptor("test_simple_text", "Returns a simple text response.", no_args()),
            descriptor("test_image_content", "Returns an image.", no_args()),
            descriptor("test_audio_content", "Returns an audio clip.", no_args()),
            descriptor("test_embedded_resource", "Returns an embedded resource.", no_args()),
            descriptor(
                "test_multiple_content_types",
                "Returns text, an image and a resource.",
                no_args(),
            ),
            descriptor(
                "test_tool_with_logging",
                "Sends three log messages while it runs.",
                no_args(),
            ),
            descriptor("test_error_handling", "Always fails with a tool error.", no_args()),
            descriptor("test_tool_with_progress", "Reports progress three times.", no_args()),
            descriptor(
                "test_sampling",
                "Asks the client's model to answer a prompt.",
                string_arg("prompt", "The prompt to send"),
            ),
            descriptor(
                "test_elicitation",
                "Asks the user for a username and an email address.",
                string_arg("message", "The message to show"),
            ),
            descriptor(
                "test_elicitation_sep1034_defaults",
                "Elicitation whose fields have default values.",
                no_args(),
            ),
            descriptor(
                "test_elicitation_sep1330_enums",
                "Elicitation with every enum form.",
                no_args(),
            ),
            descriptor(
                "test_missing_capability",
                "Needs the client's sampling capability.",
                no_args(),
            ),
            descriptor("test_streaming_elicitation", "Asks the user a question.", no_args()),
            descriptor("test_logging_tool", "Logs a message.", no_args()),
            descriptor(
                "test_input_required_result_elicitation",
                "Asks for the user's name.",
                no_args(),
            ),
            descriptor(
                "test_input_required_result_sampling",
                "Asks the client's model a question.",
                no_args(),
            ),
            descriptor(
                "test_input_required_result_list_roots",
                "Asks for the client's roots.",
                no_args(),
            ),
            descriptor(
                "test_input_required_result_request_state",
                "Asks for a confirmation.",
                no_args(),
            ),
            descriptor(
                "test_input_required_result_multiple_inputs",
                "Asks for three inputs at once.",
                no_args(),
            ),
            descriptor(
                "test_input_required_result_multi_round",
                "Asks two questions, one after the other.",
                no_args(),
            ),
            descriptor(
                "test_input_required_result_tampered_state",
                "Asks for a confirmation.",
                no_args(),
            ),
            descriptor(
                "test_input_required_result_capabilities",
                "Asks for input of two kinds.",
                no_args(),
            ),
            descriptor("greet", "Greets someone by name.", name_schema),
            descriptor(
                "test_custom_header",
                "Echoes a region that clients also send as the Mcp-Param-Region header.",
                json!({"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}, "required": ["region"]}),
            ),
        ];
        let mut schema_tool = descriptor(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features",
            no_args(),
        );
        schema_tool.input_schema = SCHEMA_2020_12.to_string();
        list.push(schema_tool);
        list
    }

    fn call_tool(name: String, arguments: String, _ctx: CallContext) -> Result<ToolOutput, ToolError> {
        let arguments: Value = serde_json::from_str(&arguments).unwrap_or(Value::Null);
        match name.as_str() {
            "test_simple_text" => ok(vec![text("A plain text answer from the conformance fixture.")]),
            "test_image_content" => ok(vec![Content::Image(Blob {
                data: PNG.into(),
                mime_type: "image/png".into(),
            })]),
            "test_audio_content" => ok(vec![Content::Audio(Blob {
                data: WAV.into(),
                mime_type: "audio/wav".into(),
            })]),
            "test_embedded_resource" => ok(vec![Content::EmbeddedResource(ResourceContents {
                uri: "test://embedded-resource".into(),
                mime_type: Some("text/plain".into()),
                text: Some("Text of the embedded resource.".into()),
                blob: None,
            })]),
            "test_multiple_content_types" => ok(vec![
                text("Three kinds of content follow."),
                Content::Image(Blob {
                    data: PNG.into(),
                    mime_type: "image/png".into(),
                }),
                Content::EmbeddedResource(ResourceContents {
                    uri: "test://mixed-content-resource".into(),
                    mime_type: Some("application/json".into()),
                    text: Some(r#"{"kind":"mixed","n":3}"#.into()),
                    blob: None,
                }),
            ]),
            "test_tool_with_logging" => {
                for step in ["started", "working", "finished"] {
                    log(&format!("logging tool {step}"));
                    std::thread::sleep(Duration::from_millis(50));
                }
                ok(vec![text("Logged three messages.")])
            }
            "test_logging_tool" => {
                log("a log message from test_logging_tool");
                ok(vec![text("Logged one message.")])
            }
            "test_error_handling" => Ok(ToolOutput {
                content: vec![text("This tool fails on purpose.")],
                structured: None,
                is_error: true,
            }),
            "test_tool_with_progress" => {
                for step in [0.0, 50.0, 100.0] {
                    cnpg::mcp::progress::report(step, Some(100.0), Some(&format!("step {step} of 100")));
                    std::thread::sleep(Duration::from_millis(50));
                }
                ok(vec![text("Progress reported.")])
            }
            "test_sampling" => {
                let answers = ask(vec![sample("answer", &arg(&arguments, "prompt"), 100)]);
                ok(vec![text(format!("LLM response: {}", describe(&answers[0])))])
            }
            "test_elicitation" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    },
                    "required": ["username", "email"]
                });
                let answers = ask(vec![elicit("user_info", &arg(&arguments, "message"), schema)]);
                ok(vec![text(format!("User response: {}", describe(&answers[0])))])
            }
            "test_elicitation_sep1034_defaults" => {
                let answers = ask(vec![elicit(
                    "defaults",
                    "Please review the fields and their defaults",
                    elicit_defaults_schema(),
                )]);
                ok(vec![text(format!("Elicitation completed: {}", describe(&answers[0])))])
            }
            "test_elicitation_sep1330_enums" => {
                let answers = ask(vec![elicit(
                    "enums",
                    "Please pick from each list",
                    elicit_enums_schema(),
                )]);
                ok(vec![text(format!("Elicitation completed: {}", describe(&answers[0])))])
            }
            "test_missing_capability" => {
                let answers = ask(vec![sample("needed", "Say hello", 20)]);
                match &answers[0] {
                    InputResponse::Failed(client::ClientError::Unsupported(_)) => {
                        Err(ToolError::MissingClientCapability("sampling".into()))
                    }
                    other => ok(vec![text(format!("Sampling answered: {}", describe(other)))]),
                }
            }
            "test_streaming_elicitation" => {
                let schema =
                    json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
                let answers = ask(vec![elicit("answer", "Anything to add?", schema)]);
                ok(vec![text(format!("Answer: {}", describe(&answers[0])))])
            }
            "test_input_required_result_elicitation" => {
                let schema =
                    json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
                let answers = ask(vec![elicit("user_name", "What is your name?", schema)]);
                match accepted_field(&answers[0], "name") {
                    Some(name) => ok(vec![text(format!("Hello, {name}!"))]),
                    None => ok(vec![text(format!("No name given ({})", describe(&answers[0])))]),
                }
            }
            "test_input_required_result_sampling" => {
                let answers = ask(vec![sample("capital_question", "What is the capital of France?", 100)]);
                ok(vec![text(format!("The model said: {}", describe(&answers[0])))])
            }
            "test_input_required_result_list_roots" => {
                let answers = ask(vec![roots("client_roots")]);
                ok(vec![text(format!("Client {}", describe(&answers[0])))])
            }
            "test_input_required_result_request_state" | "test_input_required_result_tampered_state" => {
                let schema = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]});
                let answers = ask(vec![elicit("confirm", "Please confirm", schema)]);
                ok(vec![text(format!("state-ok: {}", describe(&answers[0])))])
            }
            "test_input_required_result_multiple_inputs" => {
                let schema =
                    json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
                let answers = ask(vec![
                    elicit("user_name", "What is your name?", schema),
                    sample("greeting", "Generate a greeting", 50),
                    roots("client_roots"),
                ]);
                let rendered: Vec<String> = answers.iter().map(describe).collect();
                ok(vec![text(format!("All inputs received: {}", rendered.join("; ")))])
            }
            "test_input_required_result_multi_round" => {
                let name_schema =
                    json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
                let first = ask(vec![elicit("step1", "Step 1: What is your name?", name_schema)]);
                let color_schema =
                    json!({"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]});
                let second = ask(vec![elicit(
                    "step2",
                    "Step 2: What is your favorite color?",
                    color_schema,
                )]);
                let name = accepted_field(&first[0], "name").unwrap_or_default();
                let color = accepted_field(&second[0], "color").unwrap_or_default();
                ok(vec![text(format!("{name} likes {color}."))])
            }
            "test_input_required_result_capabilities" => {
                let schema =
                    json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
                let answers = ask(vec![
                    elicit("user_name", "What is your name?", schema),
                    sample("summary", "Summarise", 30),
                ]);
                let rendered: Vec<String> = answers.iter().map(describe).collect();
                ok(vec![text(rendered.join("; "))])
            }
            "greet" => ok(vec![text(format!("Hello, {}!", arg(&arguments, "name")))]),
            "test_custom_header" => ok(vec![text(format!("Region: {}", arg(&arguments, "region")))]),
            "json_schema_2020_12_tool" => ok(vec![text(format!("Received: {arguments}"))]),
            other => Err(ToolError::UnknownTool(other.into())),
        }
    }
}

fn prompt(name: &str, description: &str, arguments: &[(&str, &str)]) -> PromptDescriptor {
    PromptDescriptor {
        name: name.into(),
        title: None,
        description: Some(description.into()),
        arguments: arguments
            .iter()
            .map(|(n, d)| PromptArgument {
                name: (*n).into(),
                description: Some((*d).into()),
                required: true,
            })
            .collect(),
    }
}

fn user(content: Content) -> PromptMessage {
    PromptMessage {
        role: Role::User,
        content,
    }
}

impl prompts::Guest for Fixture {
    fn list_prompts() -> Vec<PromptDescriptor> {
        vec![
            prompt("test_simple_prompt", "A prompt without arguments.", &[]),
            prompt(
                "test_prompt_with_arguments",
                "A prompt with two arguments.",
                &[("arg1", "First test argument"), ("arg2", "Second test argument")],
            ),
            prompt(
                "test_prompt_with_embedded_resource",
                "A prompt that embeds a resource.",
                &[("resourceUri", "URI of the resource to embed")],
            ),
            prompt("test_prompt_with_image", "A prompt with an image.", &[]),
            prompt(
                "test_input_required_result_prompt",
                "A prompt that asks the user for context first.",
                &[],
            ),
        ]
    }

    fn get_prompt(
        name: String,
        arguments: Vec<(String, String)>,
        _ctx: CallContext,
    ) -> Result<PromptResult, PromptError> {
        let argument = |key: &str| arguments.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let messages = match name.as_str() {
            "test_simple_prompt" => vec![user(text("A simple prompt from the conformance fixture."))],
            "test_prompt_with_arguments" => {
                let (Some(arg1), Some(arg2)) = (argument("arg1"), argument("arg2")) else {
                    return Err(PromptError::InvalidArguments("arg1 and arg2 are required".into()));
                };
                vec![user(text(format!(
                    "Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
                )))]
            }
            "test_prompt_with_embedded_resource" => {
                let Some(uri) = argument("resourceUri") else {
                    return Err(PromptError::InvalidArguments("resourceUri is required".into()));
                };
                vec![
                    user(Content::EmbeddedResource(ResourceContents {
                        uri,
                        mime_type: Some("text/plain".into()),
                        text: Some("Content of the embedded resource.".into()),
                        blob: None,
                    })),
                    user(text("Please use the resource above.")),
                ]
            }
            "test_prompt_with_image" => vec![
                user(Content::Image(Blob {
                    data: PNG.into(),
                    mime_type: "image/png".into(),
                })),
                user(text("Please describe the image above.")),
            ],
            "test_input_required_result_prompt" => {
                let schema =
                    json!({"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]});
                let answers = ask(vec![elicit(
                    "user_context",
                    "What context should the prompt use?",
                    schema,
                )]);
                let context = accepted_field(&answers[0], "context").unwrap_or_else(|| "none".into());
                vec![user(text(format!("Use this context: {context}")))]
            }
            other => return Err(PromptError::UnknownPrompt(other.into())),
        };
        Ok(PromptResult {
            description: None,
            messages,
        })
    }

    fn complete_argument(prompt: String, argument: String, value: String) -> Vec<String> {
        if prompt != "test_prompt_with_arguments" {
            return Vec::new();
        }
        let candidates: &[&str] = match argument.as_str() {
            "arg1" => &["test-alpha", "test-beta", "other"],
            "arg2" => &["value-one", "value-two"],
            _ => &[],
        };
        candidates
            .iter()
            .filter(|c| c.starts_with(&value))
            .map(|c| c.to_string())
            .collect()
    }
}

fn resource(uri: &str, name: &str, mime: &str) -> ResourceDescriptor {
    ResourceDescriptor {
        uri: uri.into(),
        name: name.into(),
        title: None,
        description: Some(format!("Conformance resource {name}")),
        mime_type: Some(mime.into()),
    }
}

fn text_contents(uri: &str, mime: &str, body: String) -> Vec<ResourceContents> {
    vec![ResourceContents {
        uri: uri.into(),
        mime_type: Some(mime.into()),
        text: Some(body),
        blob: None,
    }]
}

impl resources::Guest for Fixture {
    fn list_resources() -> Vec<ResourceDescriptor> {
        vec![
            resource("test://static-text", "static-text", "text/plain"),
            resource("test://static-binary", "static-binary", "image/png"),
            resource("test://watched-resource", "watched-resource", "text/plain"),
        ]
    }

    fn list_templates() -> Vec<ResourceTemplate> {
        vec![ResourceTemplate {
            uri_template: "test://template/{id}/data".into(),
            name: "template-data".into(),
            title: None,
            description: Some("Data for an id".into()),
            mime_type: Some("application/json".into()),
        }]
    }

    fn read_resource(uri: String, _ctx: CallContext) -> Result<Vec<ResourceContents>, ResourceError> {
        match uri.as_str() {
            "test://static-text" => Ok(text_contents(&uri, "text/plain", "Text of the static resource.".into())),
            "test://watched-resource" => Ok(text_contents(&uri, "text/plain", "Watched resource, version 1.".into())),
            "test://static-binary" => Ok(vec![ResourceContents {
                uri: uri.clone(),
                mime_type: Some("image/png".into()),
                text: None,
                blob: Some(PNG.into()),
            }]),
            _ => {
                let id = uri
                    .strip_prefix("test://template/")
                    .and_then(|rest| rest.strip_suffix("/data"));
                match id {
                    Some(id) if !id.is_empty() && !id.contains('/') => Ok(text_contents(
                        &uri,
                        "application/json",
                        json!({"id": id, "data": format!("Data for id {id}")}).to_string(),
                    )),
                    _ => Err(ResourceError::NotFound(uri)),
                }
            }
        }
    }
}

export!(Fixture);
