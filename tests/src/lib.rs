//! Test support: start the real `cnpg-mcp` binary on a free loopback port,
//! talk MCP to it over HTTP, find the guest components and the external
//! clients that `tests/setup.sh` installed.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// Folder of the compiled guest components.
pub fn guest_dir() -> PathBuf {
    PathBuf::from(cnpg_mcp::GUEST_DIR)
}

/// Path of one compiled guest component, e.g. `guest("test_misbehave")`.
pub fn guest(name: &str) -> PathBuf {
    let path = guest_dir().join(format!("{name}.wasm"));
    assert!(path.is_file(), "guest component {} was not built", path.display());
    path
}

/// The `cnpg-mcp` binary next to this test executable's `deps/` folder.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let bin = dir.join("cnpg-mcp");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p cnpg-mcp` first (tests/run.sh does)",
        bin.display()
    );
    bin
}

/// A folder with copies of the given guests and optional grant texts.
pub fn component_folder(entries: &[(&str, Option<&str>)]) -> tempdir::TempDir {
    let dir = tempdir::TempDir::new("components");
    for (name, grant) in entries {
        let target = dir.path().join(format!("{name}.wasm"));
        std::fs::copy(guest(name), &target).expect("copy guest");
        if let Some(grant) = grant {
            std::fs::write(dir.path().join(format!("{name}.grant.toml")), grant).expect("write grant");
        }
    }
    dir
}

/// A real OpenID provider (npm `oidc-provider`) for the authentication tests.
pub mod idp;

pub mod cnpg;
pub mod deploy;
/// Minimal self-deleting temporary folder (no extra dependency).
pub mod fuzz;
pub mod jwt;
pub mod soak;
pub mod stub_idp;
pub mod testbed;
pub mod units;

pub mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(prefix: &str) -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "cnpg-mcp-test-{prefix}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).expect("create temp dir");
            TempDir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Resident memory of process `pid` in MiB, from `/proc` (0 when
/// unreadable).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A free TCP port on 127.0.0.1 (bound, then released), never the same
/// one twice in a test process: the kernel may hand a just-released port
/// to the next caller, and two servers started in parallel on one port
/// would have one test talk to the other test's server.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A running server process, stopped by PID when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: Arc<Mutex<String>>,
    _cache: tempdir::TempDir,
}

impl Server {
    /// Starts `cnpg-mcp serve` with `args` and waits until `/health` answers.
    pub fn start(args: &[&str]) -> Server {
        Self::try_start(args).unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    /// Like [`Server::start`], but returns the log when the process exits
    /// before it is ready.
    pub fn try_start(args: &[&str]) -> Result<Server, String> {
        Self::try_start_on(free_port(), args)
    }

    /// Starts on a chosen port (when the URL must be known in advance, as
    /// for PUBLIC_URL).
    pub fn start_on(port: u16, args: &[&str]) -> Server {
        Self::try_start_on(port, args).unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    pub fn try_start_on(port: u16, args: &[&str]) -> Result<Server, String> {
        Self::try_start_with_env(port, args, &[])
    }

    /// Like [`Server::start_on`], with extra environment variables.
    pub fn start_with_env(port: u16, args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::try_start_with_env(port, args, env).unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    pub fn try_start_with_env(port: u16, args: &[&str], env: &[(&str, &str)]) -> Result<Server, String> {
        let cache = tempdir::TempDir::new("cache");
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
        if !args.contains(&"--cache-dir") {
            command.arg("--cache-dir").arg(cache.path());
        }
        let mut child = command
            .args(args)
            .env("LOG_FORMAT", "json")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cnpg-mcp");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                let text = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(format!("exited with {status}:\n{text}"));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Server {
                    child,
                    port,
                    log,
                    _cache: cache,
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("not listening after 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's resident memory now, in MiB (0 when unreadable).
    pub fn rss_mib(&self) -> f64 {
        rss_mib(self.pid())
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sends a signal to the server process by PID.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response, body read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The JSON-RPC messages in the body: the body itself for JSON, every
    /// `data:` line for an SSE stream.
    pub fn messages(&self) -> Vec<Value> {
        let is_sse = self
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !is_sse {
            return serde_json::from_str(&self.body).into_iter().collect();
        }
        self.body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .collect()
    }

    /// The message answering request `id`.
    pub fn response(&self, id: i64) -> Value {
        self.messages()
            .into_iter()
            .find(|m| m.get("id") == Some(&json!(id)) && (m.get("result").is_some() || m.get("error").is_some()))
            .unwrap_or_else(|| panic!("no response with id {id} in: {} {}", self.status, self.body))
    }
}

/// Sends one HTTP request to 127.0.0.1:`port`.
pub async fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut builder = http::Request::builder().method(method).uri(path);
    let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
    if !has_host {
        builder = builder.header("host", format!("127.0.0.1:{port}"));
    }
    for (key, value) in headers {
        builder = builder.header(*key, *value);
    }
    let request = builder.body(Full::new(Bytes::from(body))).expect("request");
    let response = sender.send_request(request).await.expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// An MCP session over Streamable HTTP (protocol 2025-06-18 by default).
pub struct Session {
    pub port: u16,
    pub session_id: Option<String>,
    pub protocol: String,
    /// Sent as `Authorization: Bearer` when set.
    pub token: Option<String>,
    next_id: i64,
}

pub const MCP_ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");
pub const JSON_TYPE: (&str, &str) = ("content-type", "application/json");

impl Session {
    /// A second handle on an existing session (no new handshake).
    pub fn attach(port: u16, session_id: Option<String>, protocol: String) -> Session {
        Session {
            port,
            session_id,
            protocol,
            token: None,
            next_id: 1000,
        }
    }

    pub async fn open(port: u16) -> Session {
        Self::open_with(port, "2025-06-18", json!({})).await
    }

    pub async fn open_with(port: u16, protocol: &str, capabilities: Value) -> Session {
        Self::open_authorized(port, protocol, capabilities, None).await
    }

    /// Opens a session presenting `token` on every request.
    pub async fn open_with_token(port: u16, token: &str) -> Session {
        Self::open_authorized(port, "2025-06-18", json!({}), Some(token.to_string())).await
    }

    async fn open_authorized(port: u16, protocol: &str, capabilities: Value, token: Option<String>) -> Session {
        let authorization = token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![MCP_ACCEPT, JSON_TYPE];
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        let body = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": protocol, "capabilities": capabilities,
                       "clientInfo": {"name": "cnpg-mcp-tests", "version": "1"}}
        });
        let reply = request(port, "POST", "/mcp", &headers, body.to_string().into_bytes()).await;
        assert_eq!(reply.status, 200, "initialize: {}", reply.body);
        let session_id = reply
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let negotiated = reply.response(0)["result"]["protocolVersion"]
            .as_str()
            .unwrap_or(protocol)
            .to_string();
        let session = Session {
            port,
            session_id,
            protocol: negotiated,
            token,
            next_id: 1,
        };
        let reply = session
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert!(
            reply.status == 202 || reply.status == 200,
            "initialized: {} {}",
            reply.status,
            reply.body
        );
        session
    }

    pub async fn post(&self, body: Value) -> Reply {
        self.post_raw(body.to_string().into_bytes(), &[]).await
    }

    pub async fn post_raw(&self, body: Vec<u8>, extra: &[(&str, &str)]) -> Reply {
        let mut headers = vec![MCP_ACCEPT, JSON_TYPE, ("mcp-protocol-version", self.protocol.as_str())];
        if let Some(id) = &self.session_id {
            headers.push(("mcp-session-id", id.as_str()));
        }
        let authorization = self.token.as_ref().map(|t| format!("Bearer {t}"));
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_str()));
        }
        headers.extend_from_slice(extra);
        request(self.port, "POST", "/mcp", &headers, body).await
    }

    /// Sends a request and returns its response message.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let reply = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(reply.status, 200, "{method}: {}", reply.body);
        reply.response(id)
    }

    /// `tools/call` and its result object (panics on a JSON-RPC error).
    pub async fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        let response = self
            .call("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        response
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("tools/call {name}: {response}"))
    }
}

/// Text of the first content item of a tool result.
pub fn first_text(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

/// Where `tests/setup.sh` installed the external clients.
pub struct ExternalClients {
    /// `tests/node_modules/.bin` (Node 22, conformance, inspector).
    pub node_bin: PathBuf,
    /// The venv's python with `mcp` installed.
    pub python: PathBuf,
}

/// Runs `clients/python_sdk_client.py` (the official Python SDK) with
/// `args` and returns the JSON summary it prints; panics with its output
/// when it fails.
pub fn python_sdk(args: &[&str]) -> Value {
    python_sdk_with_log(args).0
}

/// [`python_sdk`], with what the SDK logged on stderr.
pub fn python_sdk_with_log(args: &[&str]) -> (Value, String) {
    let clients = ExternalClients::get();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python_sdk_client.py");
    let output = Command::new(&clients.python)
        .arg(script)
        .args(args)
        .output()
        .expect("run the Python SDK client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python client failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    (value, String::from_utf8_lossy(&output.stderr).into_owned())
}

impl ExternalClients {
    /// Panics with instructions when the clients are not installed: these
    /// tests must run, not skip.
    pub fn get() -> ExternalClients {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let node_bin = root.join("node_modules/.bin");
        let python = std::env::var_os("CNPG_MCP_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        assert!(
            node_bin.join("conformance").exists() && python.exists(),
            "external MCP clients are not installed; run tests/setup.sh (tests/run.sh does it), \
             looked for {} and {}",
            node_bin.display(),
            python.display()
        );
        ExternalClients { node_bin, python }
    }

    /// PATH with Node 22 first.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.node_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
}
