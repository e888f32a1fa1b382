//! Progress of the current call, sent to the client as MCP progress
//! notifications when it asked for them (a no-op otherwise).

use crate::bindings::cnpg::mcp::progress;

/// `done` of `total` (when known), with a short message.
pub fn report(done: f64, total: Option<f64>, message: &str) {
    progress::report(done, total, Some(message));
}
