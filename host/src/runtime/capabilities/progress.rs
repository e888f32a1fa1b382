//! `progress`: progress notifications for the current call. Dropped when
//! the client sent no progress token (MCP basic/utilities/progress).

use crate::runtime::bindings::cnpg::mcp::progress;
use crate::runtime::state::CallState;

impl progress::Host for CallState {
    fn report(&mut self, progress: f64, total: Option<f64>, message: Option<String>) -> wasmtime::Result<()> {
        if self.scope.progress_token && progress.is_finite() {
            self.scope
                .peer
                .progress(progress, total.filter(|t| t.is_finite()), message);
        }
        Ok(())
    }
}
