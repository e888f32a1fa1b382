//! `identity`: the verified caller, as the transport established it.

use crate::runtime::bindings::cnpg::mcp::{identity, types};
use crate::runtime::state::CallState;

impl identity::Host for CallState {
    fn current(&mut self) -> wasmtime::Result<types::Caller> {
        Ok(self.scope.caller_record())
    }
}

impl crate::runtime::state::CallScope {
    /// The caller as the WIT record components receive.
    pub(crate) fn caller_record(&self) -> types::Caller {
        let caller = &self.caller;
        types::Caller {
            subject: caller.subject.clone(),
            issuer: caller.issuer.clone(),
            username: caller.username.clone(),
            groups: caller.groups.clone(),
            client_id: caller.client_id.clone(),
            scopes: caller.scopes.clone(),
        }
    }
}
