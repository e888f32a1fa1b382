//! Tool tables and results. A tool's input schema is derived from its
//! argument struct (the struct is the single source of truth: the host
//! validates arguments against the derived schema and the tool parses the
//! same struct), its output schema from its output struct.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bindings::cnpg::mcp::types::{CallContext, Content, ToolAnnotations, ToolDescriptor, ToolError, ToolOutput};
use crate::kube::Failure;

/// How a tool behaves, for the client's annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    Read,
    /// Changes state; calling it twice with the same arguments is harmless.
    IdempotentWrite,
    /// Changes state; a repeat is not harmless.
    Write,
    /// Deletes data or an instance.
    Destructive,
}

/// One tool of a component.
pub struct Tool {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub effect: Effect,
    pub input_schema: fn() -> Value,
    pub output_schema: Option<fn() -> Value>,
    pub run: fn(&str, &CallContext) -> Result<ToolOutput, ToolError>,
}

/// JSON Schema (2020-12) of `T`, with every subschema inlined: some MCP
/// clients do not follow `$ref`.
pub fn schema_of<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
        object.remove("$defs");
    }
    schema
}

/// The descriptors the component reports at load time.
pub fn descriptors(tools: &[Tool]) -> Vec<ToolDescriptor> {
    tools
        .iter()
        .map(|tool| ToolDescriptor {
            name: tool.name.into(),
            title: Some(tool.title.into()),
            description: tool.description.into(),
            input_schema: (tool.input_schema)().to_string(),
            output_schema: tool.output_schema.map(|f| f().to_string()),
            annotations: ToolAnnotations {
                title: Some(tool.title.into()),
                read_only: Some(tool.effect == Effect::Read),
                destructive: Some(tool.effect == Effect::Destructive),
                idempotent: Some(matches!(tool.effect, Effect::Read | Effect::IdempotentWrite)),
                open_world: Some(false),
            },
        })
        .collect()
}

/// Runs the named tool.
pub fn dispatch(tools: &[Tool], name: &str, arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    match tools.iter().find(|tool| tool.name == name) {
        Some(tool) => (tool.run)(arguments, ctx),
        None => Err(ToolError::UnknownTool(name.to_string())),
    }
}

/// Parses the (already schema-checked) arguments.
pub fn parse<T: DeserializeOwned>(arguments: &str) -> Result<T, ToolError> {
    serde_json::from_str(arguments).map_err(|e| ToolError::InvalidArguments(e.to_string()))
}

/// `format` of the reference tools: the rendering of the text content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A short human-readable summary.
    #[default]
    Text,
    /// The structured result as JSON text.
    Json,
}

/// What the operator does in PostgreSQL when the Kubernetes object of a
/// role, database, publication or subscription is deleted (the CRDs'
/// `...ReclaimPolicy` fields: `retain` by default, or `delete`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReclaimPolicy {
    /// Keep it in PostgreSQL.
    #[default]
    Retain,
    /// Drop it from PostgreSQL.
    Delete,
}

impl ReclaimPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ReclaimPolicy::Retain => "retain",
            ReclaimPolicy::Delete => "delete",
        }
    }
}

/// `detail_level` of the reference tools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DetailLevel {
    /// The essentials.
    #[default]
    Concise,
    /// Everything the tool knows.
    Detailed,
}

/// A successful result: `structured` as structured content, the text
/// rendering chosen by `format`.
pub fn success<T: Serialize>(structured: &T, text: String, format: Format) -> ToolOutput {
    let value = serde_json::to_value(structured).unwrap_or(Value::Null);
    let text = match format {
        Format::Text => text,
        Format::Json => serde_json::to_string_pretty(&value).unwrap_or_default(),
    };
    ToolOutput {
        content: vec![Content::Text(text)],
        structured: Some(value.to_string()),
        is_error: false,
    }
}

/// A tool-level failure the model sees (`isError: true`): the message, a
/// suggestion, and the same as structured content.
pub fn failure(message: impl Into<String>, suggestion: impl Into<String>) -> ToolOutput {
    let message = message.into();
    let suggestion = suggestion.into();
    ToolOutput {
        content: vec![Content::Text(format!("{message}\nSuggestion: {suggestion}"))],
        structured: Some(json!({"error": message, "suggestion": suggestion}).to_string()),
        is_error: true,
    }
}

/// A failed Kubernetes call as a tool failure, the API server's words kept.
pub fn kube_failure(failure_: &Failure) -> ToolOutput {
    let mut output = failure(failure_.message(), failure_.suggestion());
    output.structured = Some(
        json!({
            "error": failure_.message(),
            "reason": failure_.kind(),
            "suggestion": failure_.suggestion(),
        })
        .to_string(),
    );
    output
}

/// What every tool body returns: a result, or a failure rendered for the
/// model.
pub type Outcome = Result<ToolOutput, ToolOutput>;

impl From<Failure> for ToolOutput {
    fn from(failure_: Failure) -> Self {
        kube_failure(&failure_)
    }
}

/// Wraps a tool body: parses `T` and turns `Err(output)` into the output.
pub fn run_with<T: DeserializeOwned>(
    arguments: &str,
    ctx: &CallContext,
    body: impl FnOnce(T, &CallContext) -> Outcome,
) -> Result<ToolOutput, ToolError> {
    let args = parse::<T>(arguments)?;
    Ok(match body(args, ctx) {
        Ok(output) | Err(output) => output,
    })
}

/// The namespace a tool works in: the argument, else the host's default.
pub fn namespace_or_default(namespace: &Option<String>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => ns.clone(),
        _ => crate::kube::default_namespace(),
    }
}

/// Result of a mutating tool: what was (or would be) sent, and the answer.
#[derive(Debug, Serialize)]
pub struct Mutation {
    pub action: String,
    pub dry_run: bool,
    /// The manifest or patch sent (or that would be sent).
    pub request: Value,
    /// The object as the API server returned it (after dry run: as it
    /// would be), trimmed to what matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Mutation {
    pub fn output(&self, summary: String) -> ToolOutput {
        let mut text = if self.dry_run {
            format!("Dry run (nothing changed): {summary}")
        } else {
            summary
        };
        for note in &self.notes {
            text.push_str("\n- ");
            text.push_str(note);
        }
        if self.dry_run {
            // YAML for people (as kubectl shows manifests); the JSON stays
            // in the structured content.
            text.push_str("\nRequest that would be sent:\n");
            text.push_str(&crate::yaml::yaml_block(&self.documents()));
        }
        success(self, text, Format::Text)
    }

    /// The request as YAML documents: one per manifest when the request
    /// bundles several (e.g. a DatabaseRole and its Secret), else one.
    fn documents(&self) -> Vec<&Value> {
        if let Value::Object(parts) = &self.request {
            let manifests: Vec<&Value> = parts.values().filter(|v| !v.is_null()).collect();
            if manifests.len() > 1 && manifests.iter().all(|m| m.get("kind").is_some()) {
                return manifests;
            }
        }
        vec![&self.request]
    }
}
