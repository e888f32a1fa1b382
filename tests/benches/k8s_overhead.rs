//! Host overhead of one Kubernetes call, without the API server's own time.
//!
//! A stub API server in this process answers every request at once with a
//! Cluster object (size printed) over loopback HTTP. Timed, each sequentially:
//! - `raw`: a bare HTTP/1.1 GET on a kept-alive connection (the floor: the
//!   loopback round trip plus the stub's work),
//! - `client`: the host's Kubernetes client for one call (`KubeCall::get`,
//!   impersonating a verified caller: headers, bounded read, journal),
//! - `tool_get`: a whole tool call of the probe component doing one `get`
//!   and returning only the object's length (grant check, the client, the
//!   WIT hand-over of the object into the guest; no JSON work in the guest),
//! - `tool_noop`: the same tool call doing no Kubernetes I/O.
//!
//! Overheads printed: `client - raw` (the host's Kubernetes client) and
//! `tool_get - tool_noop - raw` (everything the host adds to one `get` of a
//! component: grant check, client, impersonation headers, journal, the
//! object handed into the guest). Everything runs on one thread.
//!
//! `cargo bench -p cnpg-mcp-tests --bench k8s_overhead`

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cnpg_mcp::caller::Caller;
use cnpg_mcp::kube::{ImpersonationSettings, Journal, KubeAccess, KubeSettings, Target};
use cnpg_mcp::runtime::{CallRequest, DiscardingPeer, Runtime, RuntimeSettings, sources};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::json;

const SAMPLES: usize = 5000;

fn cluster() -> String {
    let conditions: Vec<_> = (0..6)
        .map(|i| json!({"type": format!("Condition{i}"), "status": "True", "reason": "Ready", "message": "All instances are ready", "lastTransitionTime": "2026-11-29T00:00:00Z"}))
        .collect();
    json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "pg", "namespace": "db", "uid": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "resourceVersion": "12345",
            "labels": {"team": "db"}, "generation": 4, "creationTimestamp": "2026-11-29T00:00:00Z"},
        "spec": {"instances": 3, "imageName": "ghcr.io/cloudnative-pg/postgresql:16", "storage": {"size": "10Gi"},
            "postgresql": {"parameters": {"max_connections": "200", "shared_buffers": "256MB"}}},
        "status": {"phase": "Cluster in healthy state", "readyInstances": 3, "instances": 3,
            "currentPrimary": "pg-1", "targetPrimary": "pg-1", "conditions": conditions,
            "instancesStatus": {"healthy": ["pg-1", "pg-2", "pg-3"]}}
    })
    .to_string()
}

fn p50(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

fn p99(samples: &[Duration]) -> f64 {
    samples[samples.len() * 99 / 100].as_secs_f64() * 1e6
}

async fn stub_server(body: Bytes) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    let body = body.clone();
                    async move {
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(body))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

fn verified() -> Caller {
    Caller {
        subject: "u-1".into(),
        issuer: "https://idp.example".into(),
        username: Some("alice".into()),
        groups: vec!["dba".into(), "dev".into()],
        client_id: Some("client".into()),
        scopes: vec!["openid".into()],
        verified: true,
    }
}

fn main() {
    // One thread for the stub, the client and the runtime: no cross-thread
    // wake-ups in the figures, only the work each path does.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let body = Bytes::from(cluster());
        println!("object bytes: {}", body.len());
        let port = stub_server(body).await;
        let dir = cnpg_mcp_tests::tempdir::TempDir::new("bench-k8s");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!("apiVersion: v1\nkind: Config\nclusters:\n- name: stub\n  cluster:\n    server: http://127.0.0.1:{port}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: stub\n  context:\n    cluster: stub\n    user: u\ncurrent-context: stub\n"),
        )
        .unwrap();
        let settings = KubeSettings {
            kubeconfig: Some(kubeconfig),
            impersonation: Some(ImpersonationSettings {
                user_prefix: "oidc:".into(),
                group_prefix: "oidc:".into(),
            }),
            ..KubeSettings::default()
        };

        // raw
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let mut raw = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES + 500 {
            let t = Instant::now();
            let request = http::Request::get("/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pg")
                .header("host", "127.0.0.1")
                .body(Full::new(Bytes::new()))
                .unwrap();
            sender.ready().await.unwrap();
            let response = sender.send_request(request).await.unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            assert!(bytes.len() > 1000);
            if i >= 500 {
                raw.push(t.elapsed());
            }
        }

        // client
        let access = Arc::new(KubeAccess::connect(&settings).await.unwrap());
        let target = Target {
            group: "postgresql.cnpg.io".into(),
            version: "v1".into(),
            resource: "clusters".into(),
            namespace: Some("db".into()),
            name: Some("pg".into()),
            subresource: None,
        };
        let caller = verified();
        let mut client = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES + 500 {
            let t = Instant::now();
            let call = access.for_call(&caller, 8 << 20, Arc::new(Journal::default()));
            let text = call.get(&target).await.unwrap();
            assert!(text.len() > 1000);
            if i >= 500 {
                client.push(t.elapsed());
            }
        }

        // tool calls through the runtime
        let components = cnpg_mcp_tests::component_folder(&[(
            "test_k8s_probe",
            Some("[[kubernetes]]\nverbs = [\"get\"]\napi_groups = [\"postgresql.cnpg.io\"]\nresources = [\"clusters\"]\nnamespaces = [\"db\"]\n"),
        )]);
        let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
        runtime.set_kube(KubeAccess::connect(&settings).await.unwrap());
        let source = sources::from_file(&components.path().join("test_k8s_probe.wasm")).unwrap();
        runtime.install(runtime.build_registry(vec![source]).await.unwrap());
        let request = |n: usize| CallRequest {
            request_id: format!("bench-{n}"),
            share: "local".into(),
            caller: verified(),
            progress_token: None,
            protocol_version: "2025-06-18".into(),
            peer: Arc::new(DiscardingPeer),
        };
        let get = json!({"op": "get_len", "group": "postgresql.cnpg.io", "resource": "clusters", "namespace": "db", "name": "pg"});
        let noop = json!({"op": "default_namespace"});
        let mut tool_get = Vec::with_capacity(SAMPLES);
        let mut tool_noop = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES + 500 {
            // Interleaved, so both see the same machine state.
            let t = Instant::now();
            let outcome = runtime
                .call_tool("k8s", get.as_object().unwrap().clone(), request(i))
                .await
                .unwrap();
            let elapsed = t.elapsed();
            assert!(outcome.structured.as_ref().unwrap().get("ok").is_some(), "{:?}", outcome.structured);
            if i >= 500 {
                tool_get.push(elapsed);
            }
            let t = Instant::now();
            runtime
                .call_tool("k8s", noop.as_object().unwrap().clone(), request(i))
                .await
                .unwrap();
            if i >= 500 {
                tool_noop.push(t.elapsed());
            }
        }

        let (raw50, client50, get50, noop50) = (p50(&mut raw), p50(&mut client), p50(&mut tool_get), p50(&mut tool_noop));
        println!("raw        p50_us={raw50:.1} p99_us={:.1}", p99(&raw));
        println!("client     p50_us={client50:.1} p99_us={:.1}", p99(&client));
        println!("tool_get   p50_us={get50:.1} p99_us={:.1}", p99(&tool_get));
        println!("tool_noop  p50_us={noop50:.1} p99_us={:.1}", p99(&tool_noop));
        println!("overhead client (client - raw)                 p50_us={:.1}", client50 - raw50);
        println!("overhead per k8s call (tool_get - tool_noop - raw) p50_us={:.1}", get50 - noop50 - raw50);
    });
}
