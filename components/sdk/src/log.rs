//! Log records through the host: they reach the server's log (tagged with
//! the component and request id) and, when the client's level admits them,
//! the client as MCP logging notifications.

use crate::bindings::cnpg::mcp::logging::{self, LogLevel};

pub fn debug(context: &str, message: &str) {
    logging::log(LogLevel::Debug, context, message);
}

pub fn info(context: &str, message: &str) {
    logging::log(LogLevel::Info, context, message);
}

pub fn warning(context: &str, message: &str) {
    logging::log(LogLevel::Warning, context, message);
}

pub fn error(context: &str, message: &str) {
    logging::log(LogLevel::Error, context, message);
}
