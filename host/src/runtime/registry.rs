//! The set of loaded components and the index from tool, prompt and
//! resource names to the component that serves them. Replaced as a whole on
//! reload; in-flight calls keep the registry they started with.

use std::collections::HashMap;
use std::sync::Arc;

use super::component::{ComponentOrigin, LoadedComponent, ToolEntry};

/// Two components declare the same tool name: refused, naming both.
#[derive(Debug, thiserror::Error)]
#[error("tool `{tool}` is declared by both {first} and {second}; tool names must be unique across components")]
pub struct DuplicateTool {
    pub tool: String,
    pub first: ComponentOrigin,
    pub second: ComponentOrigin,
}

#[derive(Default)]
pub struct Registry {
    components: Vec<Arc<LoadedComponent>>,
    /// Tool name -> (component index, tool index), in listing order.
    tools: Vec<(usize, usize)>,
    tool_index: HashMap<String, usize>,
    prompt_index: HashMap<String, usize>,
    resource_index: HashMap<String, usize>,
}

impl Registry {
    pub fn new(components: Vec<Arc<LoadedComponent>>) -> Result<Self, DuplicateTool> {
        let mut registry = Registry {
            components,
            ..Registry::default()
        };
        for (c, component) in registry.components.iter().enumerate() {
            for (t, tool) in component.tools.iter().enumerate() {
                let name = &tool.descriptor.name;
                if let Some(&existing) = registry.tool_index.get(name) {
                    let (first, _) = registry.tools[existing];
                    return Err(DuplicateTool {
                        tool: name.clone(),
                        first: registry.components[first].origin.clone(),
                        second: component.origin.clone(),
                    });
                }
                registry.tool_index.insert(name.clone(), registry.tools.len());
                registry.tools.push((c, t));
            }
            for prompt in &component.prompts {
                registry.prompt_index.entry(prompt.name.clone()).or_insert(c);
            }
            for resource in &component.resources {
                registry.resource_index.entry(resource.uri.clone()).or_insert(c);
            }
        }
        Ok(registry)
    }

    pub fn components(&self) -> &[Arc<LoadedComponent>] {
        &self.components
    }

    /// All tools in a stable order: components in load order, tools in the
    /// order each component lists them.
    pub fn tools(&self) -> impl ExactSizeIterator<Item = &ToolEntry> {
        self.tools.iter().map(|&(c, t)| &self.components[c].tools[t])
    }

    pub fn tool(&self, name: &str) -> Option<(&Arc<LoadedComponent>, &ToolEntry)> {
        let &(c, t) = self.tools.get(*self.tool_index.get(name)?)?;
        let component = &self.components[c];
        Some((component, &component.tools[t]))
    }

    pub fn prompt_owner(&self, name: &str) -> Option<&Arc<LoadedComponent>> {
        self.prompt_index.get(name).map(|&c| &self.components[c])
    }

    /// The component serving `uri`: an exact resource first, then the first
    /// component whose template matches.
    pub fn resource_owner(&self, uri: &str) -> Option<&Arc<LoadedComponent>> {
        if let Some(&c) = self.resource_index.get(uri) {
            return Some(&self.components[c]);
        }
        self.components.iter().find(|component| {
            component
                .templates
                .iter()
                .any(|t| template_matches(&t.uri_template, uri))
        })
    }
}

/// RFC 6570 level-1 matching: literal text must match, each `{var}` takes
/// one or more characters other than `/`.
pub fn template_matches(template: &str, uri: &str) -> bool {
    let mut rest = uri;
    let mut pieces = template.split('{');
    let Some(head) = pieces.next() else { return false };
    let Some(after_head) = rest.strip_prefix(head) else {
        return false;
    };
    rest = after_head;
    for piece in pieces {
        let Some((_, literal)) = piece.split_once('}') else {
            return false;
        };
        let value_end = if literal.is_empty() {
            rest.len()
        } else {
            match rest.find(literal) {
                Some(i) => i,
                None => return false,
            }
        };
        let value = &rest[..value_end];
        if value.is_empty() || value.contains('/') {
            return false;
        }
        rest = &rest[value_end + literal.len()..];
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::template_matches;

    #[test]
    fn templates_match_one_segment_per_variable() {
        assert!(template_matches(
            "test://template/{id}/data",
            "test://template/123/data"
        ));
        assert!(!template_matches("test://template/{id}/data", "test://template//data"));
        assert!(!template_matches(
            "test://template/{id}/data",
            "test://template/1/2/data"
        ));
        assert!(!template_matches(
            "test://template/{id}/data",
            "test://template/1/other"
        ));
        assert!(template_matches(
            "cnpg://clusters/{ns}/{name}",
            "cnpg://clusters/db/main"
        ));
        assert!(!template_matches("cnpg://clusters/{ns}/{name}", "cnpg://clusters/db"));
    }
}
