//! The translator's settings: the `[config]` table of its grant, plus the
//! values the host adds from its own configuration (documented per
//! translator).

use crate::RegistrationError;
use crate::bindings::cnpg::mcp::config as host;

/// The value of `key`, if set and not empty.
pub fn optional(key: &str) -> Result<Option<String>, RegistrationError> {
    match host::get(key) {
        Ok(value) => Ok(value.filter(|v| !v.trim().is_empty())),
        Err(host::ConfigError::Upstream(e) | host::ConfigError::Io(e)) => Err(RegistrationError::Misconfigured(
            format!("cannot read setting `{key}`: {e}"),
        )),
    }
}

/// The value of `key`, which the translator cannot work without.
pub fn required(key: &str) -> Result<String, RegistrationError> {
    optional(key)?.ok_or_else(|| {
        RegistrationError::Misconfigured(format!(
            "setting `{key}` is missing: set it in the [config] table of this translator's grant"
        ))
    })
}
