//! Conversions from the component contract (WIT records) to MCP wire types.
//! Tool, prompt and resource descriptions are converted once per registry;
//! call results once per call.

use rmcp::model::{ContentBlock, Prompt, Resource, ResourceContents, ResourceTemplate, Tool};
use serde_json::{Value, json};

use crate::runtime::bindings::cnpg::mcp::types::{self, Content};
use crate::runtime::bindings::exports::cnpg::mcp::{prompts, resources};
use crate::runtime::{ToolEntry, registry::Registry};

fn object(value: &Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

pub fn tool(entry: &ToolEntry) -> Tool {
    let d = &entry.descriptor;
    let a = &d.annotations;
    let mut tool = Tool::default();
    tool.name = d.name.clone().into();
    tool.title = d.title.clone();
    tool.description = Some(d.description.clone().into());
    tool.input_schema = std::sync::Arc::new(object(&entry.input_schema));
    tool.output_schema = entry.output_schema.as_ref().map(|s| std::sync::Arc::new(object(s)));
    let any = a.title.is_some()
        || a.read_only.is_some()
        || a.destructive.is_some()
        || a.idempotent.is_some()
        || a.open_world.is_some();
    if any {
        let mut annotations = rmcp::model::ToolAnnotations::new();
        annotations.title = a.title.clone();
        annotations.read_only_hint = a.read_only;
        annotations.destructive_hint = a.destructive;
        annotations.idempotent_hint = a.idempotent;
        annotations.open_world_hint = a.open_world;
        tool.annotations = Some(annotations);
    }
    tool
}

pub fn resource_contents(c: types::ResourceContents) -> ResourceContents {
    match (c.text, c.blob) {
        (_, Some(blob)) => ResourceContents::BlobResourceContents {
            uri: c.uri,
            mime_type: c.mime_type,
            blob,
            meta: None,
        },
        (text, None) => ResourceContents::TextResourceContents {
            uri: c.uri,
            mime_type: c.mime_type,
            text: text.unwrap_or_default(),
            meta: None,
        },
    }
}

pub fn content(c: Content) -> ContentBlock {
    match c {
        Content::Text(text) => ContentBlock::text(text),
        Content::Image(blob) => ContentBlock::image(blob.data, blob.mime_type),
        Content::Audio(blob) => ContentBlock::audio(blob.data, blob.mime_type),
        Content::EmbeddedResource(r) => ContentBlock::resource(resource_contents(r)),
        Content::Link(link) => {
            let mut resource = Resource::new(link.uri, link.name);
            resource.description = link.description;
            resource.mime_type = link.mime_type;
            ContentBlock::resource_link(resource)
        }
    }
}

pub fn prompt(p: &prompts::PromptDescriptor) -> Option<Prompt> {
    let arguments: Vec<Value> = p
        .arguments
        .iter()
        .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
        .collect();
    serde_json::from_value(json!({
        "name": p.name,
        "title": p.title,
        "description": p.description,
        "arguments": arguments,
    }))
    .ok()
}

pub fn prompt_message(m: prompts::PromptMessage) -> rmcp::model::PromptMessage {
    let role = match m.role {
        prompts::Role::User => rmcp::model::Role::User,
        prompts::Role::Assistant => rmcp::model::Role::Assistant,
    };
    let mut message = rmcp::model::PromptMessage::new_text(role, "");
    message.content = content(m.content);
    message
}

pub fn resource(r: &resources::ResourceDescriptor) -> Resource {
    let mut resource = Resource::new(r.uri.clone(), r.name.clone());
    resource.title = r.title.clone();
    resource.description = r.description.clone();
    resource.mime_type = r.mime_type.clone();
    resource
}

pub fn template(t: &resources::ResourceTemplate) -> ResourceTemplate {
    let mut template = ResourceTemplate::new(t.uri_template.clone(), t.name.clone());
    template.title = t.title.clone();
    template.description = t.description.clone();
    template.mime_type = t.mime_type.clone();
    template
}

/// Everything `*/list` serves, converted once per registry.
pub struct Listings {
    pub tools: Vec<Tool>,
    pub prompts: Vec<Prompt>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
}

impl Listings {
    pub fn of(registry: &Registry) -> Self {
        let mut listings = Listings {
            tools: registry.tools().map(tool).collect(),
            prompts: Vec::new(),
            resources: Vec::new(),
            templates: Vec::new(),
        };
        for component in registry.components() {
            listings.prompts.extend(component.prompts.iter().filter_map(prompt));
            listings.resources.extend(component.resources.iter().map(resource));
            listings.templates.extend(component.templates.iter().map(template));
        }
        listings
    }
}
