//! Confirmation of destructive calls. The flag (`confirm_deletion`,
//! `confirm_shrink`) is required; when the client supports elicitation the
//! user is asked as well, so a model cannot confirm on its own.

use serde_json::{Value, json};

use crate::bindings::cnpg::mcp::client::{
    self, ElicitAction, ElicitRequest, InputRequest, InputResponse, KeyedRequest,
};
use crate::bindings::cnpg::mcp::types::ToolOutput;
use crate::tool::failure;

/// The refusal of an unconfirmed call: says what would happen and the exact
/// call that confirms it.
pub fn unconfirmed(tool: &str, arguments: &Value, flag: &str, what: &str) -> ToolOutput {
    let mut confirming = arguments.clone();
    confirming[flag] = json!(true);
    let call = json!({"name": tool, "arguments": confirming});
    let mut output = failure(
        format!("Not done: {what} needs confirmation (`{flag}: true`). Nothing was changed."),
        format!("If the user wants this, call again with `{flag}: true` (or `dry_run: true` to preview): {call}"),
    );
    output.structured = Some(
        json!({
            "error": format!("{what} needs confirmation"),
            "reason": "confirmation-required",
            "confirming_call": call,
        })
        .to_string(),
    );
    output
}

/// The whole confirmation of a destructive call: nothing to confirm for a
/// dry run; without the flag (`given` false) the refusal with the
/// confirming call; with it, the user is asked when the client can.
pub fn confirmed(
    tool: &str,
    arguments: &Value,
    flag: &str,
    given: bool,
    dry_run: bool,
    what: &str,
) -> Result<(), ToolOutput> {
    if dry_run {
        return Ok(());
    }
    if !given {
        return Err(unconfirmed(tool, arguments, flag, what));
    }
    ask_user(&format!("Confirm {what}?"))
}

fn client_elicits() -> bool {
    let capabilities: Value = serde_json::from_str(&client::capabilities()).unwrap_or(Value::Null);
    capabilities.get("elicitation").is_some()
}

/// Asks the user when the client can; `Err` carries the refusal to return.
/// Clients without elicitation rely on the confirm flag alone.
pub fn ask_user(question: &str) -> Result<(), ToolOutput> {
    if !client_elicits() {
        return Ok(());
    }
    let schema = json!({
        "type": "object",
        "properties": {
            "confirm": {"type": "boolean", "title": "Confirm", "description": question}
        },
        "required": ["confirm"]
    });
    let answers = client::request_input(&[KeyedRequest {
        key: "confirm".into(),
        request: InputRequest::Elicit(ElicitRequest {
            message: question.into(),
            requested_schema: schema.to_string(),
        }),
    }]);
    let response = answers.into_iter().next().map(|answer| answer.response);
    match response {
        Some(InputResponse::Elicit(ElicitAction::Accept(content))) => {
            let content: Value = serde_json::from_str(&content).unwrap_or(Value::Null);
            if content.get("confirm").and_then(Value::as_bool) == Some(true) {
                Ok(())
            } else {
                Err(failure(
                    "Not done: the user did not confirm. Nothing was changed.",
                    "Ask the user before trying again.",
                ))
            }
        }
        Some(InputResponse::Elicit(ElicitAction::Decline | ElicitAction::Cancel)) => Err(failure(
            "Not done: the user declined. Nothing was changed.",
            "Ask the user before trying again.",
        )),
        Some(InputResponse::Failed(error)) => Err(failure(
            format!("Not done: asking the user for confirmation failed ({error:?}). Nothing was changed."),
            "Retry; the user must answer the confirmation request.",
        )),
        _ => Err(failure(
            "Not done: the client gave no usable confirmation answer. Nothing was changed.",
            "Retry; the user must answer the confirmation request.",
        )),
    }
}
