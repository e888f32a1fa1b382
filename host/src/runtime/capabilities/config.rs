//! `config`: read-only values from the component's grant file.

use crate::runtime::bindings::cnpg::mcp::config;
use crate::runtime::state::CallState;

impl config::Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config::ConfigError>> {
        Ok(Ok(self.scope.config.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::ConfigError>> {
        Ok(Ok(self
            .scope
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()))
    }
}
