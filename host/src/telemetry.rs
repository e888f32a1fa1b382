//! Structured logs on stderr (stdout belongs to the stdio transport), and
//! the audit stream (log target `cnpg_mcp::audit`, one record per tool
//! call), which can go to its own file as JSON lines instead.

use std::io::IsTerminal;
use std::path::Path;

use tracing_subscriber::filter::{FilterFn, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Target of the audit records.
pub const AUDIT_TARGET: &str = "cnpg_mcp::audit";

fn is_audit(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target() == AUDIT_TARGET
}

/// Installs the global subscriber. `RUST_LOG` overrides the default filter,
/// which keeps rmcp's per-request chatter out. With `audit_file`, audit
/// records go there (appended, JSON lines) and not to stderr.
pub fn init(format: LogFormat, audit_file: Option<&Path>) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn,wasmtime=warn,cranelift=warn"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let separate = audit_file.is_some();
    let not_audit: FilterFn<_> = filter_fn(move |metadata| !(separate && is_audit(metadata)));
    let console = if json {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(not_audit)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(not_audit)
            .boxed()
    };
    let audit = match audit_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("cannot open the audit log {}: {e}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::sync::Mutex::new(file))
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_filter(filter_fn(is_audit)),
            )
        }
        None => None,
    };
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(console)
        .with(audit)
        .try_init();
    Ok(())
}
