//! cnpg-mcp: an MCP server for CloudNativePG whose tools are sandboxed
//! WebAssembly components. See ARCHITECTURE.md at the repository root for
//! the map of modules and the rules between them.

pub mod auth;
pub mod bridge;
pub mod caller;
pub mod cli;
pub mod config;
pub mod facade;
pub mod http;
pub mod kube;
pub mod mcp;
pub mod metrics;
pub mod rbac;
pub mod runtime;
pub mod server;
pub mod signin;
pub mod telemetry;
pub mod testkit;
pub mod text;

/// Folder with the guest components this build compiled (built-ins,
/// conformance fixture, test components); used by tests and benchmarks.
pub const GUEST_DIR: &str = env!("CNPG_MCP_GUEST_DIR");
