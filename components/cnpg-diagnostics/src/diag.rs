//! The diagnostics tools. Names of Services and Secrets are the
//! operator's (`api/v1/cluster_types.go` suffixes, `api/v1/cluster_funcs.go`
//! getters, `pkg/specs/secrets.go` keys; v1.30.0).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use cnpg_mcp_sdk::bindings::cnpg::mcp::k8s::ResourceType;
use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, core, object};
use cnpg_mcp_sdk::time::parse_rfc3339;
use cnpg_mcp_sdk::tool::{Outcome, namespace_or_default, run_with, success};

use crate::args::{self, Level};

/// PostgreSQL's port on every instance and Service (`ServerPort`,
/// `pkg/postgres/configuration.go`).
const PORT: u16 = 5432;
/// Keys of the application and superuser Secrets (`CreateSecret`,
/// `pkg/specs/secrets.go`).
const SECRET_KEYS: &[&str] = &[
    "username",
    "user",
    "password",
    "dbname",
    "host",
    "port",
    "pgpass",
    "uri",
    "jdbc-uri",
    "fqdn-uri",
    "fqdn-jdbc-uri",
];

pub fn jobs() -> ResourceType {
    ResourceType {
        group: "batch".into(),
        version: "v1".into(),
        resource: "jobs".into(),
    }
}

pub fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventInfo {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub reason: String,
    pub message: String,
    /// `Kind/name` of the object the event is about.
    pub object: String,
    pub count: i64,
    /// Last time it happened.
    pub time: Option<String>,
    /// Who reported it.
    pub source: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventList {
    pub cluster: String,
    pub namespace: String,
    /// The objects whose events were collected.
    pub objects: Vec<String>,
    pub events: Vec<EventInfo>,
    /// Events left out by `limit` or `warnings_only`.
    pub omitted: usize,
}

fn event_time(event: &Value) -> Option<String> {
    text(event, "/lastTimestamp")
        .or_else(|| text(event, "/eventTime"))
        .or_else(|| text(event, "/series/lastObservedTime"))
        .or_else(|| text(event, "/metadata/creationTimestamp"))
}

/// An event as the tools show it.
pub fn event_info(e: &Value) -> EventInfo {
    EventInfo {
        event_type: text(e, "/type").unwrap_or_else(|| "Normal".into()),
        reason: text(e, "/reason").unwrap_or_default(),
        message: text(e, "/message").unwrap_or_default(),
        object: format!(
            "{}/{}",
            text(e, "/involvedObject/kind").unwrap_or_default(),
            text(e, "/involvedObject/name").unwrap_or_default()
        ),
        count: e.get("count").and_then(Value::as_i64).unwrap_or(1),
        time: event_time(e),
        source: text(e, "/source/component").or_else(|| text(e, "/reportingComponent")),
    }
}

/// A cluster's own pods, volumes and jobs (label `cnpg.io/cluster`), and
/// the namespace's events about them or the Cluster, newest first.
pub struct Owned {
    pub pods: Vec<Value>,
    pub pvcs: Vec<Value>,
    pub jobs: Vec<Value>,
    pub events: Vec<Value>,
}

impl Owned {
    pub fn read(ns: &str, cluster: &str) -> Result<Owned, kube::Failure> {
        let selector = format!("cnpg.io/cluster={cluster}");
        let owned = |resource| kube::list(&collection(resource, Some(ns)), Some(&selector));
        let mut read = Owned {
            pods: owned(core("pods"))?,
            pvcs: owned(core("persistentvolumeclaims"))?,
            jobs: owned(jobs())?,
            events: Vec::new(),
        };
        let objects = read.objects(cluster);
        read.events = kube::list(&collection(core("events"), Some(ns)), None)?
            .into_iter()
            .filter(|e| {
                let kind = text(e, "/involvedObject/kind").unwrap_or_default();
                let name = text(e, "/involvedObject/name").unwrap_or_default();
                objects.iter().any(|(k, n)| *k == kind && *n == name)
            })
            .collect();
        sort_events(&mut read.events);
        Ok(read)
    }

    /// `(kind, name)` of the Cluster and its objects.
    pub fn objects(&self, cluster: &str) -> Vec<(String, String)> {
        let mut objects = vec![("Cluster".to_string(), cluster.to_string())];
        for (kind, items) in [
            ("Pod", &self.pods),
            ("PersistentVolumeClaim", &self.pvcs),
            ("Job", &self.jobs),
        ] {
            objects.extend(items.iter().map(|i| (kind.to_string(), kube::name_of(i).to_string())));
        }
        objects
    }
}

/// Newest first.
fn sort_events(events: &mut [Value]) {
    events.sort_by_key(|e| std::cmp::Reverse(event_time(e).and_then(|t| parse_rfc3339(&t)).map(|(s, _)| s)));
}

pub fn events(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Events, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let owned = Owned::read(&ns, &a.name)?;
        let objects = owned.objects(&a.name);
        let mut found = owned.events;
        let total = found.len();
        if a.warnings_only {
            found.retain(|e| text(e, "/type").as_deref() == Some("Warning"));
        }
        found.truncate(a.limit.unwrap_or(50) as usize);
        let events: Vec<EventInfo> = found.iter().map(event_info).collect();
        let mut out = if events.is_empty() {
            format!("No events for cluster {ns}/{} and its objects.", a.name)
        } else {
            format!(
                "{} event(s) of cluster {ns}/{} and its objects, newest first:",
                events.len(),
                a.name
            )
        };
        for e in &events {
            out.push_str(&format!(
                "\n- {} {} {} {}: {}{}",
                e.time.as_deref().unwrap_or("-"),
                e.event_type,
                e.object,
                e.reason,
                e.message,
                if e.count > 1 {
                    format!(" (x{})", e.count)
                } else {
                    String::new()
                }
            ));
        }
        let list = EventList {
            cluster: a.name,
            namespace: ns,
            objects: objects.iter().map(|(k, n)| format!("{k}/{n}")).collect(),
            omitted: total - events.len(),
            events,
        };
        Ok(success(&list, out, a.format))
    })
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LogLine {
    pub instance: String,
    pub ts: Option<String>,
    pub level: Option<String>,
    pub logger: Option<String>,
    pub message: String,
    /// PostgreSQL's own record (`logger: postgres`, `msg: record`): severity and SQL state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_state: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InstanceLog {
    pub instance: String,
    pub lines_read: usize,
    /// Why the log could not be read, if it could not.
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogReport {
    pub cluster: String,
    pub namespace: String,
    pub instances: Vec<InstanceLog>,
    /// Oldest first.
    pub lines: Vec<LogLine>,
    /// Lines dropped to stay within `max_bytes`.
    pub truncated_lines: usize,
}

/// The instance manager's `level` names mapped onto [`Level`].
fn level_of(level: &str) -> Option<Level> {
    match level.to_ascii_lowercase().as_str() {
        "trace" => Some(Level::Trace),
        "debug" => Some(Level::Debug),
        "info" => Some(Level::Info),
        "warning" | "warn" => Some(Level::Warning),
        "error" | "fatal" | "panic" => Some(Level::Error),
        _ => None,
    }
}

/// One log line: the instance manager writes JSON (`level`, `ts`, `logger`,
/// `msg`, PostgreSQL's records under `record`); anything else is kept as
/// its text.
pub fn parse_line(instance: &str, line: &str) -> LogLine {
    let parsed: Option<Value> = serde_json::from_str(line).ok().filter(Value::is_object);
    let Some(v) = parsed else {
        return LogLine {
            instance: instance.to_string(),
            ts: None,
            level: None,
            logger: None,
            message: line.to_string(),
            severity: None,
            sql_state: None,
        };
    };
    let record = v.get("record");
    let message = record
        .and_then(|r| text(r, "/message"))
        .or_else(|| text(&v, "/msg"))
        .unwrap_or_default();
    let ts = match v.get("ts") {
        Some(Value::String(t)) => Some(t.clone()),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|secs| cnpg_mcp_sdk::time::format_timestamp(secs.floor() as i64, ((secs.fract()) * 1e6) as u32)),
        _ => None,
    };
    LogLine {
        instance: instance.to_string(),
        ts,
        level: text(&v, "/level"),
        logger: text(&v, "/logger"),
        message,
        severity: record.and_then(|r| text(r, "/error_severity")),
        sql_state: record.and_then(|r| text(r, "/sql_state_code")),
    }
}

pub fn logs(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Logs, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let instances: Vec<String> = match &a.instance {
            Some(i) if i.chars().all(|c| c.is_ascii_digit()) => vec![format!("{}-{i}", a.name)],
            Some(i) => vec![i.clone()],
            None => cluster
                .pointer("/status/instanceNames")
                .and_then(Value::as_array)
                .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
        };
        let since = a.since.as_deref().and_then(parse_rfc3339).map(|(s, _)| s);
        let tail = a.tail.unwrap_or(100);
        let mut reports = Vec::new();
        let mut lines = Vec::new();
        for instance in &instances {
            match kube::logs(&object(core("pods"), &ns, instance), Some("postgres"), tail) {
                Ok(body) => {
                    let before = lines.len();
                    for raw in body.lines().filter(|l| !l.trim().is_empty()) {
                        let line = parse_line(instance, raw);
                        if let (Some(since), Some(ts)) = (since, line.ts.as_deref().and_then(parse_rfc3339))
                            && ts.0 < since
                        {
                            continue;
                        }
                        if let (Some(min), Some(level)) = (a.min_level, line.level.as_deref().and_then(level_of))
                            && level < min
                        {
                            continue;
                        }
                        lines.push(line);
                    }
                    reports.push(InstanceLog {
                        instance: instance.clone(),
                        lines_read: lines.len() - before,
                        error: None,
                    });
                }
                Err(f) => reports.push(InstanceLog {
                    instance: instance.clone(),
                    lines_read: 0,
                    error: Some(f.message()),
                }),
            }
        }
        // Oldest first across instances; keep the newest within the budget.
        lines.sort_by_key(|l| l.ts.as_deref().and_then(parse_rfc3339));
        let budget = a.max_bytes.unwrap_or(65_536) as usize;
        let mut used = 0;
        let mut kept = 0;
        for line in lines.iter().rev() {
            let size = line.message.len() + 64;
            if used + size > budget {
                break;
            }
            used += size;
            kept += 1;
        }
        let truncated_lines = lines.len() - kept;
        let lines: Vec<LogLine> = lines.split_off(truncated_lines);
        let mut out = format!(
            "{} log line(s) of cluster {ns}/{} ({}).",
            lines.len(),
            a.name,
            reports
                .iter()
                .map(|r| match &r.error {
                    Some(e) => format!("{}: unreadable: {e}", r.instance),
                    None => format!("{}: {} line(s)", r.instance, r.lines_read),
                })
                .collect::<Vec<_>>()
                .join("; ")
        );
        if instances.is_empty() {
            out.push_str(" The operator reports no instances yet.");
        }
        if truncated_lines > 0 {
            out.push_str(&format!(" {truncated_lines} older line(s) left out (max_bytes)."));
        }
        for l in &lines {
            out.push_str(&format!(
                "\n{} {} {} [{}] {}",
                l.ts.as_deref().unwrap_or("-"),
                l.instance,
                l.level.as_deref().unwrap_or("-"),
                l.logger.as_deref().unwrap_or("-"),
                l.message
            ));
        }
        let report = LogReport {
            cluster: a.name,
            namespace: ns,
            instances: reports,
            lines,
            truncated_lines,
        };
        Ok(success(&report, out, a.format))
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceInfo {
    pub name: String,
    /// What it reaches: `primary (read-write)`, `replicas (read-only)`, `any instance (read)`, or a pooler.
    pub role: String,
    pub address: String,
    pub exists: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SecretRef {
    pub name: String,
    pub keys: Vec<String>,
    pub purpose: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionInfo {
    pub cluster: String,
    pub namespace: String,
    pub port: u16,
    pub services: Vec<ServiceInfo>,
    pub database: String,
    pub user: String,
    /// A libpq URI without the password (read it from the Secret's `password` key).
    pub uri: String,
    /// The TLS mode to use: the instances serve TLS with the cluster's CA.
    pub sslmode: String,
    pub secrets: Vec<SecretRef>,
    pub notes: Vec<String>,
}

/// `GetApplicationSecretName`: the bootstrap's secret, else `<cluster>-app`.
fn application_secret(cluster: &Value, name: &str) -> String {
    ["recovery", "pg_basebackup", "initdb"]
        .iter()
        .find_map(|method| text(cluster, &format!("/spec/bootstrap/{method}/secret/name")))
        .unwrap_or_else(|| format!("{name}-app"))
}

pub fn connection(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::Connection, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.name))?;
        let mut services = Vec::new();
        for (suffix, role) in [
            ("rw", "primary (read-write)"),
            ("ro", "replicas (read-only)"),
            ("r", "any instance (read)"),
        ] {
            let service = format!("{}-{suffix}", a.name);
            let exists = kube::get_optional(&object(core("services"), &ns, &service))?.is_some();
            services.push(ServiceInfo {
                address: format!("{service}.{ns}.svc:{PORT}"),
                name: service,
                role: role.into(),
                exists,
            });
        }
        for pooler in kube::list(&collection(cnpg("poolers"), Some(&ns)), None)?
            .iter()
            .filter(|p| p.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(a.name.as_str()))
        {
            let name = kube::name_of(pooler).to_string();
            services.push(ServiceInfo {
                address: format!("{name}.{ns}.svc:{PORT}"),
                role: format!(
                    "PgBouncer pooler ({})",
                    text(pooler, "/spec/type").unwrap_or_else(|| "rw".into())
                ),
                exists: true,
                name,
            });
        }
        let database = ["initdb", "recovery", "pg_basebackup"]
            .iter()
            .find_map(|m| text(&cluster, &format!("/spec/bootstrap/{m}/database")))
            .unwrap_or_else(|| "app".into());
        let user = ["initdb", "recovery", "pg_basebackup"]
            .iter()
            .find_map(|m| text(&cluster, &format!("/spec/bootstrap/{m}/owner")))
            .unwrap_or_else(|| database.clone());
        let app_secret = application_secret(&cluster, &a.name);
        let ca_secret = text(&cluster, "/spec/certificates/serverCASecret").unwrap_or_else(|| format!("{}-ca", a.name));
        let keys: Vec<String> = SECRET_KEYS.iter().map(|k| k.to_string()).collect();
        let mut secrets = vec![
            SecretRef {
                name: app_secret.clone(),
                keys: keys.clone(),
                purpose: format!("credentials of `{user}` and ready-made URIs"),
            },
            SecretRef {
                name: ca_secret.clone(),
                keys: vec!["ca.crt".into()],
                purpose: "the CA that signs the server certificates (for sslmode verify-full)".into(),
            },
        ];
        let superuser = cluster
            .pointer("/spec/enableSuperuserAccess")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if superuser {
            secrets.push(SecretRef {
                name: text(&cluster, "/spec/superuserSecret/name").unwrap_or_else(|| format!("{}-superuser", a.name)),
                keys,
                purpose: "the `postgres` superuser".into(),
            });
        }
        let uri = format!(
            "postgresql://{user}@{}-rw.{ns}.svc:{PORT}/{database}?sslmode=verify-full",
            a.name
        );
        let info = ConnectionInfo {
            cluster: a.name.clone(),
            namespace: ns.clone(),
            port: PORT,
            database: database.clone(),
            user: user.clone(),
            uri: uri.clone(),
            sslmode: "verify-full".into(),
            notes: vec![
                format!("The password is key `password` of Secret {app_secret}; key `uri` holds a complete URI."),
                format!("For verify-full, give the client `sslrootcert` from key `ca.crt` of Secret {ca_secret}."),
                "Inside the Kubernetes cluster the names resolve as shown; from outside, expose a Service or use \
                 port-forwarding."
                    .into(),
            ],
            services,
            secrets,
        };
        let mut out = format!(
            "Connect to cluster {ns}/{}: {uri} (password: key `password` of Secret {app_secret}).",
            a.name
        );
        for s in &info.services {
            out.push_str(&format!(
                "\n- {} -> {}{}",
                s.address,
                s.role,
                if s.exists { "" } else { " (not created yet)" }
            ));
        }
        for s in &info.secrets {
            out.push_str(&format!(
                "\n- Secret {}: {} (keys {})",
                s.name,
                s.purpose,
                s.keys.join(", ")
            ));
        }
        Ok(success(&info, out, a.format))
    })
}
