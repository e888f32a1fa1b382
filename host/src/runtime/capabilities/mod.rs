//! Host implementations of the WIT imports, one module per capability.
//! Each reads only the per-call [`CallState`](super::state::CallState).

mod client;
mod config;
mod identity;
mod k8s;
mod logging;
mod progress;

use super::bindings::cnpg::mcp::types;
use super::state::CallState;

impl types::Host for CallState {}
