//! `logging`: guest log records go to the host log (tagged with component
//! and request id) and to the client as MCP logging notifications.

use crate::runtime::bindings::cnpg::mcp::{logging, types::LogLevel};
use crate::runtime::state::{CallState, GuestLogLevel};

/// Bytes of one log message kept; longer ones are cut.
const MAX_MESSAGE: usize = 8192;

impl logging::Host for CallState {
    fn log(&mut self, level: LogLevel, context: String, message: String) -> wasmtime::Result<()> {
        let message = truncate(&message, MAX_MESSAGE);
        let context = truncate(&context, 256);
        let level = match level {
            LogLevel::Trace => GuestLogLevel::Trace,
            LogLevel::Debug => GuestLogLevel::Debug,
            LogLevel::Info => GuestLogLevel::Info,
            LogLevel::Warning => GuestLogLevel::Warning,
            LogLevel::Error => GuestLogLevel::Error,
        };
        let component = &*self.scope.component;
        let request_id = &self.scope.request_id;
        match level {
            GuestLogLevel::Trace | GuestLogLevel::Debug => {
                tracing::debug!(target: "cnpg_mcp::guest", component, request_id, context, "{message}")
            }
            GuestLogLevel::Info => {
                tracing::info!(target: "cnpg_mcp::guest", component, request_id, context, "{message}")
            }
            GuestLogLevel::Warning => {
                tracing::warn!(target: "cnpg_mcp::guest", component, request_id, context, "{message}")
            }
            GuestLogLevel::Error => {
                tracing::error!(target: "cnpg_mcp::guest", component, request_id, context, "{message}")
            }
        }
        let logger = if context.is_empty() { component } else { context };
        self.scope.peer.log(level, logger, message);
        Ok(())
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
