//! Soak and fault run of the real binary: mixed load for a set time
//! (sessions opened and abandoned or ended, lists, echo calls, Kubernetes
//! calls against the test bed's real API server), with a SIGHUP reload
//! every minute and, at fixed points, an IdP key rotation, the API server
//! killed and restarted, the IdP down and back, and a storm of trapping
//! calls. Every answer is classified: expected (including the precise
//! errors a fault calls for) or unexpected. Samples RSS, descriptors and
//! sessions; prints the figures.
//!
//! Real: the server binary, kube-apiserver and etcd. In process: the IdP
//! (`stub_idp`: a JWKS the run rotates and takes down) and the client.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::jwt::{TestKey, jwks, now};
use crate::stub_idp::{JwksMode, StubIdp};
use crate::testbed::TestBed;
use crate::{Server, component_folder};

const RESOURCE: &str = "https://mcp.test/mcp";
/// Limit of one Kubernetes request, given to the server.
const KUBE_TIMEOUT: Duration = Duration::from_secs(5);
/// No answer may take longer than this, faults included.
const DEADLINE: Duration = Duration::from_secs(30);
const WORKERS: usize = 6;
const USERS: [&str; 4] = ["ann", "ben", "cid", "dee"];

/// What the run measured.
#[derive(Debug, Default)]
pub struct Report {
    pub seconds: f64,
    pub requests: u64,
    pub sessions_opened: u64,
    pub expected_errors: u64,
    pub unexpected: Vec<String>,
    pub unexpected_total: u64,
    pub rss_mib_first: f64,
    pub rss_mib_max: f64,
    pub rss_mib_last: f64,
    pub fds_first: usize,
    pub fds_max: usize,
    pub fds_after: usize,
    pub sessions_max: f64,
    pub slowest_ms: u128,
    pub outage_slowest_ms: u128,
    pub kube_recovery_ms: Option<u128>,
    pub traps: u64,
    pub reloads: u64,
}

impl Report {
    pub fn print(&self) {
        println!("soak_seconds={:.0}", self.seconds);
        println!("requests={} sessions_opened={}", self.requests, self.sessions_opened);
        println!(
            "requests_per_second={:.0}",
            self.requests as f64 / self.seconds.max(1.0)
        );
        println!(
            "expected_errors={} (precise errors during faults)",
            self.expected_errors
        );
        println!("unexpected_errors={}", self.unexpected_total);
        for sample in &self.unexpected {
            println!("  unexpected: {sample}");
        }
        println!(
            "rss_mib first={:.1} max={:.1} last={:.1}",
            self.rss_mib_first, self.rss_mib_max, self.rss_mib_last
        );
        println!(
            "fds first={} max={} after_load={}",
            self.fds_first, self.fds_max, self.fds_after
        );
        println!("sessions_in_memory_max={:.0}", self.sessions_max);
        println!("slowest_answer_ms={}", self.slowest_ms);
        println!("slowest_answer_during_api_outage_ms={}", self.outage_slowest_ms);
        match self.kube_recovery_ms {
            Some(ms) => println!("kubernetes_calls_ok_again_ms_after_restart_began={ms}"),
            None => println!("kubernetes_calls_ok_again_ms_after_restart_began=never"),
        }
        println!("trap_calls={} reloads={}", self.traps, self.reloads);
    }

    /// The run's verdict: no unexpected error, no hang, bounded memory and
    /// no descriptor leak.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.unexpected_total > 0 {
            problems.push(format!("{} unexpected errors", self.unexpected_total));
        }
        if self.slowest_ms >= DEADLINE.as_millis() {
            problems.push(format!("an answer took {} ms", self.slowest_ms));
        }
        if self.kube_recovery_ms.is_none() {
            problems.push("Kubernetes calls never recovered after the API server came back".into());
        }
        if self.rss_mib_max > 768.0 {
            problems.push(format!("RSS reached {:.0} MiB", self.rss_mib_max));
        }
        if self.fds_after > self.fds_first + 16 {
            problems.push(format!(
                "descriptors: {} at the start, {} after the load",
                self.fds_first, self.fds_after
            ));
        }
        problems
    }
}

/// Phases of the run that make some errors expected.
#[derive(Default)]
struct Faults {
    api_down: AtomicBool,
    /// Kubernetes errors are expected until the first success after this.
    api_recovering: AtomicBool,
    api_back_at: Mutex<Option<Instant>>,
    kube_recovery_ms: Mutex<Option<u128>>,
    outage_slowest_ms: AtomicU64,
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    sessions: AtomicU64,
    expected: AtomicU64,
    unexpected: AtomicU64,
    samples: Mutex<Vec<String>>,
    slowest_ms: AtomicU64,
    traps: AtomicU64,
}

impl Tally {
    /// Counts an unexpected answer; keeps a few samples of each kind.
    fn unexpected(&self, what: String) {
        self.unexpected.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.samples.lock().unwrap();
        let kind: String = what.chars().take(40).collect();
        let same = samples.iter().filter(|s| s.starts_with(&kind)).count();
        if samples.len() < 30 && same < 3 {
            samples.push(what);
        }
    }
}

fn proc_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// One kept-alive HTTP/1.1 connection, reopened when the server closes it.
struct Client {
    port: u16,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

struct Answer {
    status: u16,
    session: Option<String>,
    body: String,
}

impl Client {
    fn new(port: u16) -> Self {
        Client { port, sender: None }
    }

    async fn send(&mut self, method: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Answer, String> {
        for attempt in 0..2 {
            if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
                let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("handshake: {e}"))?;
                tokio::spawn(connection);
                self.sender = Some(sender);
            }
            let sender = self.sender.as_mut().expect("connected");
            let mut request = http::Request::builder()
                .method(method)
                .uri("/mcp")
                .header("host", format!("127.0.0.1:{}", self.port))
                .header("accept", "application/json, text/event-stream")
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "2025-06-18");
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let request = request.body(Full::new(Bytes::from(body.clone()))).expect("request");
            match sender.send_request(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let session = response
                        .headers()
                        .get("mcp-session-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| format!("body: {e}"))?
                        .to_bytes();
                    return Ok(Answer {
                        status,
                        session,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
                // The server closed a kept-alive connection as the request
                // went out (its idle timeout), before it was sent:
                // reconnect once, as HTTP clients do.
                Err(error)
                    if attempt == 0 && (error.is_closed() || error.is_canceled() || error.is_incomplete_message()) =>
                {
                    self.sender = None;
                }
                Err(error) => return Err(format!("send: {error}")),
            }
        }
        Err("no connection".into())
    }
}

/// The first JSON-RPC message of a body (JSON or one SSE event).
fn message(body: &str) -> Option<Value> {
    serde_json::from_str(body).ok().or_else(|| {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|d| serde_json::from_str(d.trim()).ok())
    })
}

struct Tokens {
    key: RwLock<Arc<TestKey>>,
    issuer: String,
}

impl Tokens {
    fn for_user(&self, user: &str) -> String {
        let key = self.key.read().unwrap().clone();
        key.sign(
            json!({}),
            &json!({"iss": self.issuer, "aud": RESOURCE, "sub": user, "exp": now() + 600, "iat": now(),
                "scope": "openid", "preferred_username": user}),
        )
    }
}

struct Shared {
    tally: Tally,
    faults: Faults,
    tokens: Tokens,
    stop: AtomicBool,
    namespace: String,
}

#[derive(Clone, Copy)]
enum Op {
    List,
    Echo,
    Kube,
    Ping,
    Prompts,
}

/// Classifies one answer of a session request.
fn judge(shared: &Shared, op: Op, started: Instant, answer: Result<Answer, String>) {
    let tally = &shared.tally;
    tally.requests.fetch_add(1, Ordering::Relaxed);
    let elapsed = started.elapsed().as_millis();
    tally.slowest_ms.fetch_max(elapsed as u64, Ordering::Relaxed);
    let during_outage = shared.faults.api_down.load(Ordering::Acquire);
    if during_outage && matches!(op, Op::Kube) {
        shared
            .faults
            .outage_slowest_ms
            .fetch_max(elapsed as u64, Ordering::Relaxed);
    }
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => return tally.unexpected(format!("transport: {error}")),
    };
    if answer.status != 200 {
        return tally.unexpected(format!("HTTP {}: {}", answer.status, crate_shown(&answer.body)));
    }
    let Some(message) = message(&answer.body) else {
        return tally.unexpected(format!("no message: {}", crate_shown(&answer.body)));
    };
    if message.get("error").is_some() {
        return tally.unexpected(format!("JSON-RPC error: {message}"));
    }
    let result = &message["result"];
    if result["isError"] == json!(true) {
        let text = result["content"][0]["text"].as_str().unwrap_or_default();
        let kube_fault = matches!(op, Op::Kube)
            && (shared.faults.api_down.load(Ordering::Acquire) || shared.faults.api_recovering.load(Ordering::Acquire))
            && ["unavailable", "timeout", "cannot reach the Kubernetes API server"]
                .iter()
                .any(|w| text.to_lowercase().contains(&w.to_lowercase()));
        if kube_fault {
            tally.expected.fetch_add(1, Ordering::Relaxed);
        } else {
            tally.unexpected(format!("tool error: {}", crate_shown(text)));
        }
        return;
    }
    if matches!(op, Op::Kube) && shared.faults.api_recovering.swap(false, Ordering::AcqRel) {
        let back = shared.faults.api_back_at.lock().unwrap().take();
        if let Some(back) = back {
            *shared.faults.kube_recovery_ms.lock().unwrap() = Some(back.elapsed().as_millis());
        }
    }
}

fn crate_shown(text: &str) -> String {
    text.chars().take(300).collect()
}

async fn worker(shared: Arc<Shared>, port: u16, seed: u64) {
    let mut client = Client::new(port);
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut id = 0u64;
    while !shared.stop.load(Ordering::Acquire) {
        let user = USERS[(next() % USERS.len() as u64) as usize];
        let authorization = format!("Bearer {}", shared.tokens.for_user(user));
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
            "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}}});
        let started = Instant::now();
        let answer = tokio::time::timeout(
            DEADLINE,
            client.send(
                "POST",
                &[("authorization", &authorization)],
                init.to_string().into_bytes(),
            ),
        )
        .await
        .unwrap_or_else(|_| Err("initialize: no answer within the deadline".into()));
        shared.tally.requests.fetch_add(1, Ordering::Relaxed);
        let session = match answer {
            Ok(Answer {
                status: 200,
                session: Some(session),
                ..
            }) => session,
            Ok(other) => {
                shared.tally.unexpected(format!(
                    "initialize: HTTP {} {}",
                    other.status,
                    crate_shown(&other.body)
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(error) => {
                shared.tally.unexpected(format!("initialize: {error}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        shared
            .tally
            .slowest_ms
            .fetch_max(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        shared.tally.sessions.fetch_add(1, Ordering::Relaxed);
        let headers = [
            ("authorization", authorization.as_str()),
            ("mcp-session-id", session.as_str()),
        ];
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        match client
            .send("POST", &headers, initialized.to_string().into_bytes())
            .await
        {
            Ok(answer) if answer.status == 202 || answer.status == 200 => {}
            Ok(answer) => shared.tally.unexpected(format!("initialized: HTTP {}", answer.status)),
            Err(error) => shared.tally.unexpected(format!("initialized: {error}")),
        }
        for _ in 0..(1 + next() % 6) {
            id += 1;
            let op = match next() % 10 {
                0..=2 => Op::Kube,
                3..=5 => Op::Echo,
                6..=7 => Op::List,
                8 => Op::Ping,
                _ => Op::Prompts,
            };
            let (method, params) = match op {
                Op::Kube => (
                    "tools/call",
                    json!({"name": "list_postgres_clusters", "arguments": {"namespace": shared.namespace}}),
                ),
                Op::Echo => (
                    "tools/call",
                    json!({"name": "echo", "arguments": {"text": format!("soak {id}")}}),
                ),
                Op::List => ("tools/list", json!({})),
                Op::Ping => ("ping", json!({})),
                Op::Prompts => ("prompts/list", json!({})),
            };
            let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            let started = Instant::now();
            let answer = tokio::time::timeout(DEADLINE, client.send("POST", &headers, body.to_string().into_bytes()))
                .await
                .unwrap_or_else(|_| Err(format!("{method}: no answer within the deadline")));
            judge(&shared, op, started, answer);
            tokio::time::sleep(Duration::from_millis(10 + next() % 30)).await;
        }
        // Half the sessions are ended, half abandoned (the server's idle
        // sweep must take those).
        if next() % 2 == 0 {
            match client.send("DELETE", &headers, Vec::new()).await {
                Ok(answer) if answer.status < 300 => {}
                Ok(answer) => {
                    shared
                        .tally
                        .unexpected(format!("DELETE: HTTP {} {}", answer.status, crate_shown(&answer.body)))
                }
                Err(error) => shared.tally.unexpected(format!("DELETE: {error}")),
            }
        }
    }
}

/// Calls the trapping tool until `until`; each must come back as a
/// precise tool error.
async fn trap_storm(shared: Arc<Shared>, port: u16, until: Instant) {
    let mut client = Client::new(port);
    let authorization = format!("Bearer {}", shared.tokens.for_user("storm"));
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {}, "clientInfo": {"name": "storm", "version": "1"}}});
    let Ok(Answer {
        session: Some(session), ..
    }) = client
        .send(
            "POST",
            &[("authorization", &authorization)],
            init.to_string().into_bytes(),
        )
        .await
    else {
        shared.tally.unexpected("trap storm: no session".into());
        return;
    };
    let headers = [
        ("authorization", authorization.as_str()),
        ("mcp-session-id", session.as_str()),
    ];
    let mut id = 0;
    while Instant::now() < until {
        id += 1;
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "trap", "arguments": {}}});
        match tokio::time::timeout(DEADLINE, client.send("POST", &headers, body.to_string().into_bytes())).await {
            Ok(Ok(answer)) => {
                let text = message(&answer.body)
                    .and_then(|m| m["result"]["content"][0]["text"].as_str().map(str::to_string))
                    .unwrap_or_default();
                if answer.status == 200 && text.contains("trapped") {
                    shared.tally.traps.fetch_add(1, Ordering::Relaxed);
                } else {
                    shared
                        .tally
                        .unexpected(format!("trap: HTTP {} {}", answer.status, crate_shown(&answer.body)));
                }
            }
            Ok(Err(error)) => shared.tally.unexpected(format!("trap: {error}")),
            Err(_) => shared.tally.unexpected("trap: no answer within the deadline".into()),
        }
    }
}

async fn sessions_gauge(port: u16) -> f64 {
    let reply = crate::request(port, "GET", "/metrics", &[], Vec::new()).await;
    reply
        .body
        .lines()
        .find_map(|l| l.strip_prefix("cnpg_mcp_sessions ").and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Runs the soak for `duration` (at least two minutes' worth of phases are
/// scaled into shorter runs).
pub async fn run(duration: Duration) -> anyhow::Result<Report> {
    let bed = TestBed::start().await?;
    let namespace = bed.namespace("soak").await?;

    let keys_dir = crate::tempdir::TempDir::new("soak-keys");
    let first = Arc::new(TestKey::rsa(
        keys_dir.path(),
        "soak-1",
        2048,
        jsonwebtoken::Algorithm::RS256,
    ));
    let second = Arc::new(TestKey::ec(keys_dir.path(), "soak-2"));
    let idp = StubIdp::start(jwks(&[&first])).await;

    let dir = component_folder(&[("test_misbehave", None)]);
    let audit = dir.path().join("audit.log");
    let kube_timeout = KUBE_TIMEOUT.as_secs().to_string();
    let server = Server::start_with_env(
        crate::free_port(),
        &[
            "--components",
            dir.path().to_str().unwrap(),
            "--kubeconfig",
            bed.kubeconfig.to_str().unwrap(),
            "--kube-timeout-seconds",
            &kube_timeout,
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            RESOURCE,
            "--session-idle-seconds",
            "20",
            // The load opens sessions far faster than any client would
            // (each lives for a few requests); the per-caller cap is
            // tested on its own in `hostile_http.rs`.
            "--max-sessions-per-caller",
            "5000",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &[("RUST_LOG", "warn")],
    );
    let port = server.port;
    let ready_by = Instant::now() + Duration::from_secs(30);
    while crate::request(port, "GET", "/readyz", &[], Vec::new()).await.status != 200 {
        anyhow::ensure!(Instant::now() < ready_by, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let shared = Arc::new(Shared {
        tally: Tally::default(),
        faults: Faults::default(),
        tokens: Tokens {
            key: RwLock::new(first.clone()),
            issuer: idp.issuer.clone(),
        },
        stop: AtomicBool::new(false),
        namespace,
    });
    let started = Instant::now();
    let mut workers = Vec::new();
    for n in 0..WORKERS {
        workers.push(tokio::spawn(worker(shared.clone(), port, 0x9e37_79b9 * (n as u64 + 1))));
    }

    let at = |fraction: f64| started + duration.mul_f64(fraction);
    let (rotate_at, api_down_at, idp_down_at, storm_at) = (at(0.2), at(0.35), at(0.6), at(0.8));
    let (mut rotated, mut api_done, mut idp_done, mut storm_done) = (false, false, false, false);
    let mut next_reload = started + Duration::from_secs(60);
    let mut reloads = 0;
    let pid = server.pid();
    let mut report = Report::default();
    let mut first_sample = true;
    let mut next_sample = started + Duration::from_secs(5);
    let end = started + duration;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Instant::now();
        if now >= next_sample {
            next_sample = now + Duration::from_secs(5);
            let rss = crate::rss_mib(pid);
            let fds = proc_fds(pid);
            if first_sample {
                report.rss_mib_first = rss;
                report.fds_first = fds;
                first_sample = false;
            }
            report.rss_mib_max = report.rss_mib_max.max(rss);
            report.rss_mib_last = rss;
            report.fds_max = report.fds_max.max(fds);
            report.sessions_max = report.sessions_max.max(sessions_gauge(port).await);
            println!(
                "t={:>5.0}s requests={} unexpected={} rss_mib={rss:.1} fds={fds}",
                started.elapsed().as_secs_f64(),
                shared.tally.requests.load(Ordering::Relaxed),
                shared.tally.unexpected.load(Ordering::Relaxed)
            );
        }
        if now >= next_reload {
            next_reload = now + Duration::from_secs(60);
            server.signal("HUP");
            reloads += 1;
        }
        if !rotated && now >= rotate_at {
            rotated = true;
            // Publish both keys, sign with the new one, retire the old.
            idp.set_jwks(jwks(&[&first, &second]));
            tokio::time::sleep(Duration::from_millis(500)).await;
            *shared.tokens.key.write().unwrap() = second.clone();
            println!("t={:.0}s key rotated", started.elapsed().as_secs_f64());
        }
        if !api_done && now >= api_down_at {
            api_done = true;
            shared.faults.api_down.store(true, Ordering::Release);
            shared.faults.api_recovering.store(true, Ordering::Release);
            bed.stop_apiserver();
            println!("t={:.0}s API server killed", started.elapsed().as_secs_f64());
            tokio::time::sleep(Duration::from_secs(10)).await;
            // Recovery is measured from the restart (the API server's own
            // start-up included) to the first Kubernetes call that works.
            *shared.faults.api_back_at.lock().unwrap() = Some(Instant::now());
            bed.start_apiserver().await?;
            shared.faults.api_down.store(false, Ordering::Release);
            println!("t={:.0}s API server back", started.elapsed().as_secs_f64());
        }
        if !idp_done && now >= idp_down_at {
            idp_done = true;
            idp.set_discovery_down(true);
            idp.set_mode(JwksMode::Status(503));
            println!("t={:.0}s IdP down", started.elapsed().as_secs_f64());
            tokio::time::sleep(Duration::from_secs(15)).await;
            idp.set_discovery_down(false);
            idp.set_mode(JwksMode::Normal);
            idp.set_jwks(jwks(&[&second]));
            println!("t={:.0}s IdP back", started.elapsed().as_secs_f64());
        }
        if !storm_done && now >= storm_at {
            storm_done = true;
            println!("t={:.0}s trap storm", started.elapsed().as_secs_f64());
            let until = Instant::now() + Duration::from_secs(10);
            let storms: Vec<_> = (0..4)
                .map(|_| tokio::spawn(trap_storm(shared.clone(), port, until)))
                .collect();
            for storm in storms {
                storm.await?;
            }
        }
    }
    shared.stop.store(true, Ordering::Release);
    for worker in workers {
        tokio::time::timeout(DEADLINE * 2, worker)
            .await
            .map_err(|_| anyhow::anyhow!("a worker did not stop"))??;
    }
    report.seconds = started.elapsed().as_secs_f64();
    // Connections of the load are closed by now (clients gone, idle
    // timeouts); what stays open is the server's own.
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.fds_after = proc_fds(pid);
    report.rss_mib_last = crate::rss_mib(pid);
    let tally = &shared.tally;
    report.requests = tally.requests.load(Ordering::Relaxed);
    report.sessions_opened = tally.sessions.load(Ordering::Relaxed);
    report.expected_errors = tally.expected.load(Ordering::Relaxed);
    report.unexpected_total = tally.unexpected.load(Ordering::Relaxed);
    report.unexpected = tally.samples.lock().unwrap().clone();
    report.slowest_ms = u128::from(tally.slowest_ms.load(Ordering::Relaxed));
    report.outage_slowest_ms = u128::from(shared.faults.outage_slowest_ms.load(Ordering::Relaxed));
    report.kube_recovery_ms = *shared.faults.kube_recovery_ms.lock().unwrap();
    report.traps = tally.traps.load(Ordering::Relaxed);
    report.reloads = reloads;
    drop(server);
    Ok(report)
}

/// Runs the soak for `SOAK_SECONDS` (else `default_seconds`), prints the
/// report and returns the problems found (empty: passed).
pub fn run_from_env(default_seconds: u64, worker_threads: Option<usize>) -> Vec<String> {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_seconds);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = worker_threads {
        builder.worker_threads(threads);
    }
    let runtime = builder.enable_all().build().expect("runtime");
    let report = runtime
        .block_on(run(Duration::from_secs(seconds)))
        .unwrap_or_else(|e| panic!("soak run failed to run: {e:#}"));
    report.print();
    report.problems()
}
