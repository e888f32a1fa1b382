//! The pod network as kube-apiserver sees it. The bed has no kubelet and no
//! pod network, so kube-apiserver is started with an egress selector that
//! sends its `cluster` traffic (pod, service and node proxying, kubelet
//! connections) through this HTTP CONNECT proxy on a Unix socket in the
//! bed's folder. A test can
//! stand in for an endpoint of a pod (`IP:PORT` from the pod's status):
//! the tunnel is then answered here, with a fixed HTTP document per path.
//! Anything else is dialled as it is, so what was unreachable stays so.
//!
//! This is emulation, and only of the pod's side: the API server's proxy
//! subresource, its authorization, URL building and address checks are the
//! real ones.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a stood-in endpoint answers: path -> (status code, JSON body).
type Routes = HashMap<String, (u16, String)>;

#[derive(Default)]
struct State {
    endpoints: HashMap<String, Routes>,
    /// `IP:PORT PATH` of every request a stood-in endpoint received.
    requests: Vec<String>,
}

/// The egress proxy of one test bed.
pub struct PodNetwork {
    pub socket: PathBuf,
    state: Arc<Mutex<State>>,
}

impl PodNetwork {
    /// Listens on `dir/pod-network.sock` and serves tunnels on background
    /// threads for as long as the process runs.
    pub fn start(dir: &Path) -> std::io::Result<PodNetwork> {
        let socket = dir.join("pod-network.sock");
        let listener = UnixListener::bind(&socket)?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::Builder::new().name("pod-network".into()).spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                let _ = std::thread::Builder::new()
                    .name("pod-network-tunnel".into())
                    .spawn(move || tunnel(stream, &state));
            }
        })?;
        Ok(PodNetwork { socket, state })
    }

    /// The EgressSelectorConfiguration pointing kube-apiserver's `cluster`
    /// traffic here.
    pub fn egress_config(&self) -> String {
        format!(
            "apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n\
             - name: cluster\n  connection:\n    proxyProtocol: HTTPConnect\n    transport:\n      uds:\n        \
             udsName: {}\n",
            self.socket.display()
        )
    }

    /// Answers `GET path` on `address` (`IP:PORT`) with `body` (JSON, 200).
    pub fn serve(&self, address: &str, path: &str, body: &serde_json::Value) {
        let mut state = self.state.lock().unwrap();
        state
            .endpoints
            .entry(address.to_string())
            .or_default()
            .insert(path.to_string(), (200, body.to_string()));
    }

    /// Requests stood-in endpoints received, as `IP:PORT PATH`.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn tunnel(mut client: UnixStream, state: &Mutex<State>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match client.try_clone() {
        Ok(stream) => stream,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Headers of the CONNECT request, up to the blank line.
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let routes = state.lock().unwrap().endpoints.get(target).cloned();
    match routes {
        Some(routes) => {
            if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").is_ok() {
                answer(reader, client, target, &routes, state);
            }
        }
        None => pass_through(reader, client, target),
    }
}

/// Plays the endpoint: HTTP/1.1 requests on the tunnel, one answer each.
fn answer(
    mut reader: BufReader<UnixStream>,
    mut client: UnixStream,
    target: &str,
    routes: &Routes,
    state: &Mutex<State>,
) {
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" || line == "\n" => break,
                Ok(_) => {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
        state.lock().unwrap().requests.push(format!("{target} {path}"));
        let (code, text) = routes
            .get(&path)
            .cloned()
            .unwrap_or((404, "{\"error\":\"not found\"}".into()));
        let reason = if code == 200 { "OK" } else { "Not Found" };
        let reply = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if client.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Any other destination: dialled as it is (briefly), then bytes copied
/// both ways; unreachable destinations get 502.
fn pass_through(reader: BufReader<UnixStream>, mut client: UnixStream, target: &str) {
    let upstream = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .and_then(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok());
    let Some(upstream) = upstream else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let _ = client.set_read_timeout(None);
    let buffered = reader.buffer().to_vec();
    let (Ok(mut up_write), Ok(mut up_read)) = (upstream.try_clone(), upstream.try_clone()) else {
        return;
    };
    if !buffered.is_empty() && up_write.write_all(&buffered).is_err() {
        return;
    }
    let mut client_read = reader.into_inner();
    let forward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut up_write);
        let _ = up_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up_read, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = forward.join();
}
