//! Prometheus metrics in the text exposition format, kept in process:
//! counters and histograms keyed by their label values. Small and
//! dependency-free; label values are escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Label names and values of one series.
pub type Labels = Vec<(&'static str, String)>;
/// A metric name with the labels of one series.
type Series = (&'static str, Labels);

#[derive(Default)]
struct Store {
    counters: BTreeMap<Series, u64>,
    histograms: BTreeMap<Series, Histogram>,
}

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    store: Mutex<Store>,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

const HELP: &[(&str, &str, &str)] = &[
    (
        "cnpg_mcp_tool_calls_total",
        "counter",
        "Tool calls by tool and outcome.",
    ),
    (
        "cnpg_mcp_tool_call_duration_seconds",
        "histogram",
        "Tool call latency, from arguments validated to result.",
    ),
    (
        "cnpg_mcp_kubernetes_requests_total",
        "counter",
        "Kubernetes API requests of tool calls by verb and HTTP status (0: none sent or no answer).",
    ),
    (
        "cnpg_mcp_auth_failures_total",
        "counter",
        "Refused authentications by reason.",
    ),
    (
        "cnpg_mcp_component_failures_total",
        "counter",
        "Tool calls a component did not finish, by component and kind (trapped, timeout, out-of-memory, cpu-exhausted).",
    ),
    (
        "cnpg_mcp_sessions_evicted_total",
        "counter",
        "MCP sessions closed by the server by reason (idle, capacity); they come back from their sealed id.",
    ),
    (
        "cnpg_mcp_sessions_refused_total",
        "counter",
        "New or restored MCP sessions refused by reason (caller cap: 429, all busy: 503).",
    ),
    (
        "cnpg_mcp_rate_limited_total",
        "counter",
        "Tool calls refused by the per-caller rate limit (429).",
    ),
    (
        "cnpg_mcp_connections_closed_total",
        "counter",
        "HTTP connections the server closed by reason (idle, header timeout is hyper's own).",
    ),
    (
        "cnpg_mcp_component_instantiation_seconds",
        "histogram",
        "Time to instantiate a component for one call.",
    ),
];

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(pairs: &[(&'static str, String)], extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

impl Metrics {
    pub fn count(&self, name: &'static str, label_values: Labels) {
        if let Ok(mut store) = self.store.lock() {
            *store.counters.entry((name, label_values)).or_default() += 1;
        }
    }

    pub fn observe(&self, name: &'static str, label_values: Labels, value: Duration) {
        let seconds = value.as_secs_f64();
        if let Ok(mut store) = self.store.lock() {
            let histogram = store.histograms.entry((name, label_values)).or_default();
            for (slot, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *slot += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        }
    }

    /// The exposition text; `gauges` are added as given (name, help, value).
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let Ok(store) = self.store.lock() else {
            return out;
        };
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((metric, values), count) in &store.counters {
                if metric == name {
                    let _ = writeln!(out, "{name}{} {count}", labels(values, None));
                }
            }
            for ((metric, values), histogram) in &store.histograms {
                if metric != name {
                    continue;
                }
                for (bound, count) in BUCKETS.iter().zip(histogram.counts) {
                    let le = Some(("le", bound.to_string()));
                    let _ = writeln!(out, "{name}_bucket{} {count}", labels(values, le));
                }
                let inf = Some(("le", "+Inf".to_string()));
                let _ = writeln!(out, "{name}_bucket{} {}", labels(values, inf), histogram.count);
                let _ = writeln!(out, "{name}_sum{} {}", labels(values, None), histogram.sum);
                let _ = writeln!(out, "{name}_count{} {}", labels(values, None), histogram.count);
            }
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let metrics = Metrics::default();
        let labels = || vec![("tool", "echo".to_string()), ("outcome", "ok".to_string())];
        metrics.count("cnpg_mcp_tool_calls_total", labels());
        metrics.count("cnpg_mcp_tool_calls_total", labels());
        metrics.count(
            "cnpg_mcp_auth_failures_total",
            vec![("reason", "say \"hi\"".to_string())],
        );
        metrics.observe(
            "cnpg_mcp_tool_call_duration_seconds",
            vec![("tool", "echo".to_string())],
            Duration::from_millis(3),
        );
        let text = metrics.render(&[("cnpg_mcp_in_flight_calls", "Calls running.", 1.0)]);
        assert!(
            text.contains("cnpg_mcp_tool_calls_total{tool=\"echo\",outcome=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("cnpg_mcp_auth_failures_total{reason=\"say \\\"hi\\\"\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("cnpg_mcp_tool_call_duration_seconds_bucket{tool=\"echo\",le=\"0.001\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("cnpg_mcp_tool_call_duration_seconds_bucket{tool=\"echo\",le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("cnpg_mcp_tool_call_duration_seconds_count{tool=\"echo\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE cnpg_mcp_in_flight_calls gauge\ncnpg_mcp_in_flight_calls 1\n"),
            "{text}"
        );
    }
}
