//! Pieces every component's `prompts` export uses: reading arguments,
//! declaring them, and the single user message a prompt answers with.

use crate::bindings::cnpg::mcp::types::Content;
use crate::bindings::exports::cnpg::mcp::prompts::{PromptArgument, PromptError, PromptMessage, PromptResult, Role};

/// The argument `name`, when given and not empty.
pub fn value(arguments: &[(String, String)], name: &str) -> Option<String> {
    arguments
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

/// The argument `name`, or the error naming it.
pub fn required(arguments: &[(String, String)], name: &str) -> Result<String, PromptError> {
    value(arguments, name).ok_or_else(|| PromptError::InvalidArguments(format!("`{name}` is required")))
}

/// A declared argument.
pub fn argument(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument {
        name: name.into(),
        description: Some(description.into()),
        required,
    }
}

/// A prompt's answer: one user message with `text`.
pub fn user_message(text: String) -> PromptResult {
    PromptResult {
        description: None,
        messages: vec![PromptMessage {
            role: Role::User,
            content: Content::Text(text),
        }],
    }
}
