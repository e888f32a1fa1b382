//! The MCP side of one call: forwards progress and log records to the
//! client and collects client input, live (session revisions) or through
//! `input_required` results (stateless revision 2026-07-28, SEP-2322).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{LoggingLevel, ProgressToken, ServerRequest};
use rmcp::service::{Peer, RoleServer};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::runtime::{
    CallPeer, ClientFailure, ElicitOutcome, GuestLogLevel, InputKind, InputRequest, InputRequired, InputResponse,
};

/// A notification waiting to be sent, in the order the guest produced it.
pub enum Outgoing {
    Progress {
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    },
    Log {
        level: LoggingLevel,
        logger: String,
        message: String,
    },
}

/// How the call gets client input.
pub enum InputMode {
    /// Send each request to the client and wait (legacy revisions).
    Live { timeout: Duration },
    /// Answer from the retried request's `inputResponses` (and the verified
    /// `requestState`), or stop the call with `input_required`.
    Stateless(Arc<StatelessInputs>),
}

/// Answers known to a stateless call, and what it used of them.
#[derive(Default)]
pub struct StatelessInputs {
    /// From the verified request state and this request's inputResponses.
    pub available: BTreeMap<String, Value>,
    /// Answers the call consumed; sealed into the next request state.
    pub used: Mutex<BTreeMap<String, Value>>,
    /// A response that did not have the shape its request needs.
    pub invalid: Mutex<Option<String>>,
}

pub struct McpPeer {
    pub peer: Peer<RoleServer>,
    pub outgoing: mpsc::UnboundedSender<Outgoing>,
    pub min_log_level: Option<u8>,
    pub capabilities: Value,
    pub input: InputMode,
}

/// MCP logging levels by severity (RFC 5424 order, lowest first).
pub fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

fn mcp_level(level: GuestLogLevel) -> LoggingLevel {
    match level {
        GuestLogLevel::Trace | GuestLogLevel::Debug => LoggingLevel::Debug,
        GuestLogLevel::Info => LoggingLevel::Info,
        GuestLogLevel::Warning => LoggingLevel::Warning,
        GuestLogLevel::Error => LoggingLevel::Error,
    }
}

/// The MCP request a tool's input request becomes.
pub fn wire_request(kind: &InputKind) -> Value {
    match kind {
        InputKind::Elicit { message, schema } => json!({
            "method": "elicitation/create",
            "params": {"mode": "form", "message": message, "requestedSchema": schema},
        }),
        InputKind::Sample(params) => json!({"method": "sampling/createMessage", "params": params}),
        InputKind::ListRoots => json!({"method": "roots/list", "params": {}}),
    }
}

/// Reads a client's answer to `kind`; `Err` names what is wrong with it.
pub fn parse_response(kind: &InputKind, value: &Value) -> Result<InputResponse, String> {
    match kind {
        InputKind::Elicit { .. } => {
            let action = value
                .get("action")
                .and_then(Value::as_str)
                .ok_or("an elicitation response must be an object with an `action`")?;
            match action {
                "accept" => {
                    let content = value.get("content").cloned().unwrap_or_else(|| json!({}));
                    if !content.is_object() {
                        return Err("an accepted elicitation's `content` must be an object".into());
                    }
                    Ok(InputResponse::Elicit(ElicitOutcome::Accept(content)))
                }
                "decline" => Ok(InputResponse::Elicit(ElicitOutcome::Decline)),
                "cancel" => Ok(InputResponse::Elicit(ElicitOutcome::Cancel)),
                other => Err(format!("unknown elicitation action `{other}`")),
            }
        }
        InputKind::Sample(_) => {
            if value.get("role").is_some() && value.get("content").is_some() {
                Ok(InputResponse::Sample(value.clone()))
            } else {
                Err("a sampling response needs `role` and `content`".into())
            }
        }
        InputKind::ListRoots => {
            if value.get("roots").is_some_and(Value::is_array) {
                Ok(InputResponse::Roots(value.clone()))
            } else {
                Err("a roots response needs a `roots` array".into())
            }
        }
    }
}

impl McpPeer {
    fn declared(&self, capability: &str) -> bool {
        self.capabilities.get(capability).is_some_and(|c| !c.is_null())
    }
}

async fn ask_live(peer: Peer<RoleServer>, kind: InputKind, timeout: Duration) -> InputResponse {
    let request: ServerRequest = match serde_json::from_value(wire_request(&kind)) {
        Ok(request) => request,
        Err(error) => return InputResponse::Failed(ClientFailure::Failed(format!("malformed request: {error}"))),
    };
    match tokio::time::timeout(timeout, peer.send_request(request)).await {
        Err(_) => InputResponse::Failed(ClientFailure::Timeout(format!("no answer within {timeout:?}"))),
        Ok(Err(error)) => InputResponse::Failed(ClientFailure::Failed(error.to_string())),
        Ok(Ok(result)) => match serde_json::to_value(&result) {
            Ok(value) => {
                parse_response(&kind, &value).unwrap_or_else(|e| InputResponse::Failed(ClientFailure::Failed(e)))
            }
            Err(error) => InputResponse::Failed(ClientFailure::Failed(error.to_string())),
        },
    }
}

impl CallPeer for McpPeer {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let _ = self.outgoing.send(Outgoing::Progress {
            progress,
            total,
            message,
        });
    }

    fn log(&self, level: GuestLogLevel, logger: &str, message: &str) {
        let level = mcp_level(level);
        if self.min_log_level.is_some_and(|min| severity(level) >= min) {
            let _ = self.outgoing.send(Outgoing::Log {
                level,
                logger: logger.to_string(),
                message: message.to_string(),
            });
        }
    }

    fn request_input(
        &self,
        requests: Vec<InputRequest>,
    ) -> BoxFuture<'static, Result<Vec<InputResponse>, InputRequired>> {
        let unsupported = |r: &InputRequest| {
            InputResponse::Failed(ClientFailure::Unsupported(format!(
                "the client did not declare the `{}` capability",
                r.kind.capability()
            )))
        };
        match &self.input {
            InputMode::Live { timeout } => {
                let timeout = *timeout;
                let plan: Vec<(InputRequest, bool)> = requests
                    .into_iter()
                    .map(|r| {
                        let ok = self.declared(r.kind.capability());
                        (r, ok)
                    })
                    .collect();
                let peer = self.peer.clone();
                Box::pin(async move {
                    let mut answers = Vec::with_capacity(plan.len());
                    for (request, supported) in plan {
                        answers.push(if supported {
                            ask_live(peer.clone(), request.kind, timeout).await
                        } else {
                            unsupported(&request)
                        });
                    }
                    Ok(answers)
                })
            }
            InputMode::Stateless(inputs) => {
                let mut answers = Vec::with_capacity(requests.len());
                let mut missing = Vec::new();
                for request in &requests {
                    if !self.declared(request.kind.capability()) {
                        answers.push(unsupported(request));
                        continue;
                    }
                    match inputs.available.get(&request.key) {
                        Some(value) => match parse_response(&request.kind, value) {
                            Ok(response) => {
                                if let Ok(mut used) = inputs.used.lock() {
                                    used.insert(request.key.clone(), value.clone());
                                }
                                answers.push(response);
                            }
                            Err(problem) => {
                                if let Ok(mut invalid) = inputs.invalid.lock() {
                                    *invalid = Some(format!("inputResponses.{}: {problem}", request.key));
                                }
                                missing.push(request.clone());
                                answers.push(InputResponse::Failed(ClientFailure::Failed(problem)));
                            }
                        },
                        None => {
                            missing.push(request.clone());
                            answers.push(InputResponse::Failed(ClientFailure::Failed("unanswered".into())));
                        }
                    }
                }
                let outcome = if missing.is_empty() {
                    Ok(answers)
                } else {
                    Err(InputRequired { requests: missing })
                };
                Box::pin(async move { outcome })
            }
        }
    }

    fn client_capabilities(&self) -> Value {
        self.capabilities.clone()
    }
}

/// Sends the queued notifications in order until every sender is gone.
pub async fn forward(
    peer: Peer<RoleServer>,
    progress_token: Option<ProgressToken>,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
) {
    while let Some(item) = queue.recv().await {
        match item {
            Outgoing::Progress {
                progress,
                total,
                message,
            } => {
                if let Some(token) = &progress_token {
                    let mut param = rmcp::model::ProgressNotificationParam::new(token.clone(), progress);
                    param.total = total;
                    param.message = message;
                    let _ = peer.notify_progress(param).await;
                }
            }
            Outgoing::Log { level, logger, message } => {
                let mut param = rmcp::model::LoggingMessageNotificationParam::new(level, Value::String(message));
                param.logger = Some(logger);
                #[allow(deprecated)]
                let _ = peer.notify_logging_message(param).await;
            }
        }
    }
}
