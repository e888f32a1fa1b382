//! The `k8s` capability against the real API server of the test bed (real
//! kube-apiserver, real CloudNativePG CRDs with their OpenAPI and CEL
//! validation, RBAC, audit log). Components call the host through MCP over
//! HTTP; the `test_k8s_probe` component exposes every operation of the
//! import as one tool whose structured result is `{"ok": ...}` or
//! `{"error": {"kind": ...}}`.

use std::time::{Duration, Instant};

use cnpg_mcp::caller::Caller;
use cnpg_mcp::kube::{ImpersonationSettings, Journal, KubeAccess, KubeSettings, Target};
use cnpg_mcp_tests::testbed::{TestBed, cnpg_cluster};
use cnpg_mcp_tests::{Server, Session, component_folder, first_text};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};

/// Everything the probe needs in the tests below, and nothing sensitive
/// except the one Secret a test names.
fn probe_grant(extra: &str) -> String {
    format!(
        r#"
{extra}
[[kubernetes]]
verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
api_groups = ["postgresql.cnpg.io"]
resources = ["clusters", "clusters/status", "clusters/scale", "poolers"]

[[kubernetes]]
verbs = ["get", "list", "create", "update", "patch", "delete"]
api_groups = [""]
resources = ["configmaps", "pods", "pods/log", "events"]
"#
    )
}

struct Probe {
    server: Server,
    session: Session,
    _dir: cnpg_mcp_tests::tempdir::TempDir,
}

impl Probe {
    async fn start(bed: &TestBed, grant: &str, extra_args: &[&str]) -> Probe {
        let dir = component_folder(&[("test_k8s_probe", Some(grant))]);
        let mut args = vec![
            "--no-builtin",
            "--components",
            dir.path().to_str().unwrap(),
            "--kubeconfig",
            bed.kubeconfig.to_str().unwrap(),
        ];
        args.extend_from_slice(extra_args);
        let server = Server::start(&args);
        let session = Session::open(server.port).await;
        Probe {
            server,
            session,
            _dir: dir,
        }
    }

    /// Runs one operation; returns `Ok(value)` or `Err(error object)`.
    async fn run(&mut self, arguments: Value) -> Result<Value, Value> {
        let result = self.session.call_tool("k8s", arguments.clone()).await;
        assert_eq!(
            result["isError"],
            json!(false),
            "{}: {}",
            short(&arguments),
            short(&result)
        );
        let outcome = &result["structuredContent"];
        match (outcome.get("ok"), outcome.get("error")) {
            (Some(ok), _) => Ok(ok.clone()),
            (_, Some(error)) => Err(error.clone()),
            _ => panic!("unexpected outcome: {result}"),
        }
    }

    async fn ok(&mut self, arguments: Value) -> Value {
        let outcome = self.run(arguments.clone()).await;
        outcome.unwrap_or_else(|error| panic!("{}: {error}", short(&arguments)))
    }

    async fn err(&mut self, arguments: Value) -> Value {
        let outcome = self.run(arguments.clone()).await;
        match outcome {
            Err(error) => error,
            Ok(ok) => panic!("{} should fail, got {}", short(&arguments), short(&ok)),
        }
    }
}

fn cluster_args(ns: &str, name: &str) -> Value {
    json!({"group": "postgresql.cnpg.io", "resource": "clusters", "namespace": ns, "name": name})
}

fn cluster_manifest(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": name, "labels": {"team": "db"}}, "spec": spec})
}

/// Creates a one-instance Cluster `name` in `ns` as the admin.
async fn create_cluster(bed: &TestBed, ns: &str, name: &str) {
    let api: Api<DynamicObject> = Api::namespaced_with(bed.client().await.unwrap(), ns, &cnpg_cluster());
    let manifest: DynamicObject = serde_json::from_value(cluster_manifest(
        name,
        json!({"instances": 1, "storage": {"size": "1Gi"}}),
    ))
    .unwrap();
    api.create(&PostParams::default(), &manifest).await.unwrap();
}

/// `base` with the keys of `extra` set (a `null` removes the key).
fn with(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    let map = out.as_object_mut().unwrap();
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            map.remove(key);
        } else {
            map.insert(key.clone(), value.clone());
        }
    }
    out
}

/// At most 300 characters of `value`, for assertion messages.
fn short(value: &Value) -> String {
    value.to_string().chars().take(300).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_verb_and_patch_type_against_the_real_api_server() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("verbs").await.unwrap();
    let mut probe = Probe::start(bed, &probe_grant(""), &[]).await;
    let pg = cluster_args(&ns, "pg-a");
    let spec = json!({"instances": 2, "storage": {"size": "1Gi"}});

    // create (dry run first: validated, not persisted)
    let dry = probe
        .ok(with(
            &pg,
            json!({"op": "create", "name": null, "dry_run": true, "body": cluster_manifest("pg-a", spec.clone())}),
        ))
        .await;
    assert_eq!(dry["metadata"]["name"], json!("pg-a"));
    assert_eq!(
        probe.err(with(&pg, json!({"op": "get"}))).await["kind"],
        json!("not-found")
    );
    let created = probe
        .ok(with(
            &pg,
            json!({"op": "create", "name": null, "body": cluster_manifest("pg-a", spec.clone())}),
        ))
        .await;
    let managers: Vec<String> = created["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        managers,
        vec!["cnpg-mcp/test_k8s_probe"],
        "field manager of every write"
    );

    // get, list with a label selector and paging
    let got = probe.ok(with(&pg, json!({"op": "get"}))).await;
    assert_eq!(got["spec"]["instances"], json!(2));
    for name in ["pg-b", "pg-c"] {
        probe
            .ok(with(
                &pg,
                json!({"op": "create", "name": null, "body": cluster_manifest(name, spec.clone())}),
            ))
            .await;
    }
    let all = json!({"group": "postgresql.cnpg.io", "resource": "clusters", "namespace": ns});
    let page = probe
        .ok(with(
            &all,
            json!({"op": "list", "limit": 2, "label_selector": "team=db"}),
        ))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("continue token")
        .to_string();
    let rest = probe
        .ok(with(&all, json!({"op": "list", "limit": 2, "continue": token})))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    let none = probe
        .ok(with(&all, json!({"op": "list", "label_selector": "team=web"})))
        .await;
    assert_eq!(none["items"], json!([]));
    let by_field = probe
        .ok(with(
            &all,
            json!({"op": "list", "field_selector": "metadata.name=pg-b"}),
        ))
        .await;
    assert_eq!(by_field["items"][0]["metadata"]["name"], json!("pg-b"));
    // all namespaces
    let everywhere = probe
        .ok(json!({"op": "list", "group": "postgresql.cnpg.io", "resource": "clusters", "label_selector": "team=db"}))
        .await;
    assert!(everywhere["items"].as_array().unwrap().len() >= 3);

    // replace with the current resourceVersion
    let mut replacement = got.clone();
    replacement["spec"]["instances"] = json!(3);
    let replaced = probe.ok(with(&pg, json!({"op": "replace", "body": replacement}))).await;
    assert_eq!(replaced["spec"]["instances"], json!(3));

    // merge patch, JSON patch, server-side apply (with force), scale
    let merged = probe
        .ok(with(
            &pg,
            json!({"op": "patch", "patch_type": "merge", "body": {"spec": {"instances": 4}}}),
        ))
        .await;
    assert_eq!(merged["spec"]["instances"], json!(4));
    let patched = probe
        .ok(with(&pg, json!({"op": "patch", "patch_type": "json",
            "body": [{"op": "test", "path": "/spec/instances", "value": 4}, {"op": "replace", "path": "/spec/instances", "value": 5}]})))
        .await;
    assert_eq!(patched["spec"]["instances"], json!(5));
    let applied = probe
        .ok(with(&pg, json!({"op": "patch", "patch_type": "apply", "force": true,
            "body": {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg-a"}, "spec": {"instances": 1, "storage": {"size": "1Gi"}}}})))
        .await;
    assert_eq!(applied["spec"]["instances"], json!(1));
    let scale = probe.ok(with(&pg, json!({"op": "get", "subresource": "scale"}))).await;
    assert_eq!(scale["kind"], json!("Scale"));
    assert_eq!(scale["spec"]["replicas"], json!(1));
    let scaled = probe
        .ok(with(
            &pg,
            json!({"op": "patch", "subresource": "scale", "patch_type": "merge", "body": {"spec": {"replicas": 2}}}),
        ))
        .await;
    assert_eq!(scaled["spec"]["replicas"], json!(2));
    assert_eq!(
        probe.ok(with(&pg, json!({"op": "get"}))).await["spec"]["instances"],
        json!(2)
    );

    // status subresource, as the operator and switchover write it
    let status = probe
        .ok(with(
            &pg,
            json!({"op": "patch", "subresource": "status", "patch_type": "merge",
            "body": {"status": {"targetPrimary": "pg-a-2", "phase": "Switchover in progress"}}}),
        ))
        .await;
    assert_eq!(status["status"]["targetPrimary"], json!("pg-a-2"));

    // strategic merge patch on a built-in kind (a ConfigMap)
    let cm = json!({"group": "", "resource": "configmaps", "namespace": ns, "name": "settings"});
    probe
        .ok(with(&cm, json!({"op": "create", "name": null, "body": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}})))
        .await;
    let strategic = probe
        .ok(with(
            &cm,
            json!({"op": "patch", "patch_type": "strategic", "body": {"data": {"b": "2"}}}),
        ))
        .await;
    assert_eq!(strategic["data"], json!({"a": "1", "b": "2"}));
    // ... and refused for a custom resource, with the API server's reason
    let refused = probe
        .err(with(
            &pg,
            json!({"op": "patch", "patch_type": "strategic", "body": {"spec": {"instances": 3}}}),
        ))
        .await;
    assert_eq!(refused["code"], json!(415), "{refused}");

    // delete: dry run keeps the object; a wrong UID precondition conflicts;
    // then a real delete with a propagation policy
    probe.ok(with(&pg, json!({"op": "delete", "dry_run": true}))).await;
    probe.ok(with(&pg, json!({"op": "get"}))).await;
    let wrong_uid = probe
        .err(with(
            &pg,
            json!({"op": "delete", "uid": "00000000-0000-0000-0000-000000000000"}),
        ))
        .await;
    assert_eq!(wrong_uid["kind"], json!("conflict"), "{wrong_uid}");
    let uid = got["metadata"]["uid"].as_str().unwrap();
    probe
        .ok(with(
            &pg,
            json!({"op": "delete", "uid": uid, "propagation": "foreground"}),
        ))
        .await;
    // Foreground deletion leaves the object with a finalizer until the
    // garbage collector (not part of the test bed) runs; it is marked.
    let marked = probe.run(with(&pg, json!({"op": "get"}))).await;
    match marked {
        Ok(object) => assert!(object["metadata"]["deletionTimestamp"].is_string(), "{object}"),
        Err(error) => assert_eq!(error["kind"], json!("not-found")),
    }
    let background = cluster_args(&ns, "pg-b");
    probe
        .ok(with(&background, json!({"op": "delete", "propagation": "background"})))
        .await;
    assert_eq!(
        probe.err(with(&background, json!({"op": "get"}))).await["kind"],
        json!("not-found")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_class_carries_the_api_servers_status() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("errors").await.unwrap();
    let mut probe = Probe::start(bed, &probe_grant(""), &[]).await;
    let pg = cluster_args(&ns, "pg");
    let spec = json!({"instances": 1, "storage": {"size": "1Gi"}});

    let missing = probe.err(with(&pg, json!({"op": "get"}))).await;
    assert_eq!(
        (missing["kind"].clone(), missing["code"].clone()),
        (json!("not-found"), json!(404))
    );
    assert_eq!(missing["reason"], json!("NotFound"));

    let create = with(
        &pg,
        json!({"op": "create", "name": null, "body": cluster_manifest("pg", spec.clone())}),
    );
    let first = probe.ok(create.clone()).await;
    let again = probe.err(create).await;
    assert_eq!(again["kind"], json!("already-exists"), "{again}");
    assert_eq!(again["code"], json!(409));

    // A replace with a stale resourceVersion conflicts.
    let mut current = first.clone();
    current["spec"]["instances"] = json!(2);
    probe.ok(with(&pg, json!({"op": "replace", "body": current}))).await;
    let mut stale = first.clone();
    stale["spec"]["instances"] = json!(3);
    let conflict = probe.err(with(&pg, json!({"op": "replace", "body": stale}))).await;
    assert_eq!(conflict["kind"], json!("conflict"), "{conflict}");
    assert_eq!(conflict["reason"], json!("Conflict"));

    // OpenAPI validation of the CRD: instances >= 1, with the field cause.
    let invalid = probe
        .err(with(
            &cluster_args(&ns, "zero"),
            json!({"op": "create", "name": null,
            "body": cluster_manifest("zero", json!({"instances": 0, "storage": {"size": "1Gi"}}))}),
        ))
        .await;
    assert_eq!(
        (invalid["kind"].clone(), invalid["code"].clone()),
        (json!("invalid"), json!(422))
    );
    let fields: Vec<&str> = invalid["causes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert!(fields.contains(&"spec.instances"), "{invalid}");

    // CEL validation of the CRD.
    let cel = probe
        .err(with(&cluster_args(&ns, "both"), json!({"op": "create", "name": null,
            "body": cluster_manifest("both", json!({"instances": 1, "storage": {"size": "1Gi"}, "imageName": "postgres:16",
                "imageCatalogRef": {"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "c", "major": 16}}))})))
        .await;
    assert_eq!(cel["kind"], json!("invalid"), "{cel}");
    assert!(
        cel["message"]
            .as_str()
            .unwrap()
            .contains("imageName and imageCatalogRef are mutually exclusive"),
        "{cel}"
    );

    // A manifest without a kind: the API server's decoding error.
    let kindless = probe
        .err(with(&pg, json!({"op": "create", "name": null, "body": {"spec": {}}})))
        .await;
    assert_eq!(
        (kindless["kind"].clone(), kindless["code"].clone()),
        (json!("invalid"), json!(400))
    );
    assert!(
        kindless["message"].as_str().unwrap().contains("'Kind' is missing"),
        "{kindless}"
    );
    // Not an object at all: refused by the host before sending.
    let malformed = probe
        .err(with(&pg, json!({"op": "create", "name": null, "body": [1, 2]})))
        .await;
    assert_eq!(
        (malformed["kind"].clone(), malformed["code"].clone()),
        (json!("invalid"), json!(0))
    );
    assert!(
        malformed["message"]
            .as_str()
            .unwrap()
            .contains("not a Kubernetes object"),
        "{malformed}"
    );

    // Forbidden comes from RBAC: a service account with no Role.
    let token = bed.service_account_token(&ns, "nobody").await.unwrap();
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("sa");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).unwrap();
    let kubeconfig = bed.kubeconfig_with_token_file(&token_file, &ns).unwrap();
    let components = component_folder(&[("test_k8s_probe", Some(&probe_grant("")))]);
    let server = Server::start(&[
        "--no-builtin",
        "--components",
        components.path().to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    let mut nobody = Probe {
        session: Session::open(server.port).await,
        server,
        _dir: components,
    };
    let forbidden = nobody.err(with(&pg, json!({"op": "get"}))).await;
    assert_eq!(
        (forbidden["kind"].clone(), forbidden["code"].clone()),
        (json!("forbidden"), json!(403))
    );
    assert!(
        forbidden["message"]
            .as_str()
            .unwrap()
            .contains("system:serviceaccount:"),
        "{forbidden}"
    );
    // The namespace of that kubeconfig context is the default namespace.
    assert_eq!(nobody.ok(json!({"op": "default_namespace"})).await, json!(ns));
    assert_eq!(probe.ok(json!({"op": "default_namespace"})).await, json!("default"));
    drop(nobody.server);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_denial_sends_nothing_to_the_api_server() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("denied").await.unwrap();
    let mut probe = Probe::start(bed, &probe_grant(""), &[]).await;

    // Allowed: reaches the API server (404 there), and shows in its audit log.
    let allowed = cluster_args(&ns, "reached-marker");
    assert_eq!(
        probe.err(with(&allowed, json!({"op": "get"}))).await["kind"],
        json!("not-found")
    );
    // Not in the grant: backups, a Secret, a delete of a namespace.
    let denied = [
        json!({"op": "get", "group": "postgresql.cnpg.io", "resource": "backups", "namespace": ns, "name": "denied-marker"}),
        json!({"op": "get", "group": "", "resource": "secrets", "namespace": ns, "name": "denied-marker"}),
        json!({"op": "delete", "group": "", "resource": "namespaces", "name": "denied-marker"}),
        json!({"op": "logs", "group": "", "resource": "services", "namespace": ns, "name": "denied-marker"}),
    ];
    for arguments in denied {
        let error = probe.err(arguments.clone()).await;
        assert_eq!(error["kind"], json!("denied-by-policy"), "{arguments}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains("no [[kubernetes]] rule"),
            "{error}"
        );
    }
    // The audit log is written synchronously (blocking mode): the allowed
    // request is there, none of the denied ones.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = bed.audit_events();
        let named = |name: &str| events.iter().filter(|e| e["objectRef"]["name"] == json!(name)).count();
        if named("reached-marker") > 0 {
            assert_eq!(named("denied-marker"), 0, "a denied request reached the API server");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the allowed request never showed in the audit log"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_response_size_caps_hold() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("caps").await.unwrap();
    let grant = probe_grant("[limits]\nmax_list_items = 2\nmax_response_bytes = 16384\n");
    let mut probe = Probe::start(bed, &grant, &[]).await;
    let cms = json!({"group": "", "resource": "configmaps", "namespace": ns});
    for i in 0..5 {
        let name = format!("cm-{i}");
        probe
            .ok(with(&cms, json!({"op": "create", "body": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": i.to_string()}}})))
            .await;
    }
    // No limit, or a larger one: the grant's cap, and a continue token.
    let mut seen = 0;
    let mut token: Option<String> = None;
    for asked in [None, Some(100), Some(100)] {
        let mut arguments = with(&cms, json!({"op": "list"}));
        if let Some(limit) = asked {
            arguments["limit"] = json!(limit);
        }
        if let Some(t) = &token {
            arguments["continue"] = json!(t);
        }
        let page = probe.ok(arguments).await;
        let items = page["items"].as_array().unwrap().len();
        assert!(items <= 2, "{items} items in one page");
        seen += items;
        token = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    assert_eq!(seen, 5);
    assert_eq!(token, None);

    // An answer over 16 KiB is too large for this component.
    let big = json!({"group": "", "resource": "configmaps", "namespace": ns, "name": "big"});
    let filler = "x".repeat(40_000);
    let error = probe
        .err(with(&big, json!({"op": "create", "name": null, "body": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"filler": filler}}})))
        .await;
    // The create succeeds on the server; its echo is too large to hand over.
    assert_eq!(error["kind"], json!("too-large"), "{error}");
    let error = probe.err(with(&big, json!({"op": "get"}))).await;
    assert_eq!(error["kind"], json!("too-large"), "{error}");
    assert!(error["message"].as_str().unwrap().contains("16384"), "{error}");
    // A small object of the same kind still comes through.
    probe.ok(with(&cms, json!({"op": "get", "name": "cm-0"}))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_data_is_stripped_unless_the_grant_hands_it_over() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("secrets").await.unwrap();
    let secret = |name: &str| -> k8s_openapi::api::core::v1::Secret {
        serde_json::from_value(json!({"metadata": {"name": name,
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"c2VjcmV0\"}}"}},
            "stringData": {"password": "secret"}}))
        .unwrap()
    };
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(bed.client().await.unwrap(), &ns);
    api.create(&PostParams::default(), &secret("app-user")).await.unwrap();
    let rule = format!(
        "[[kubernetes]]\nverbs = [\"get\"]\napi_groups = [\"\"]\nresources = [\"secrets\"]\nnamespaces = [\"{ns}\"]\nnames = [\"app-user\"]\n"
    );
    let target = json!({"op": "get", "group": "", "resource": "secrets", "namespace": ns, "name": "app-user"});

    let mut without = Probe::start(bed, &probe_grant(&rule), &[]).await;
    let stripped = without.ok(target.clone()).await;
    assert_eq!(stripped["metadata"]["name"], json!("app-user"));
    assert!(stripped.get("data").is_none(), "{stripped}");
    let annotations = &stripped["metadata"]["annotations"];
    assert!(
        annotations
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none(),
        "{stripped}"
    );
    assert_eq!(annotations["cnpg-mcp/data"], json!("withheld by the component's grant"));
    assert!(!stripped.to_string().contains("c2VjcmV0"), "{stripped}");

    let mut with_data = Probe::start(bed, &probe_grant(&format!("{rule}secret_data = true\n")), &[]).await;
    let full = with_data.ok(target).await;
    assert_eq!(full["data"]["password"], json!("c2VjcmV0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_for_watches_until_the_condition_holds_and_reports_progress() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("wait").await.unwrap();
    create_cluster(bed, &ns, "pg").await;
    let ns2 = bed.namespace("wait-quiet").await.unwrap();
    create_cluster(bed, &ns2, "pg").await;
    let mut probe = Probe::start(bed, &probe_grant(""), &[]).await;

    // Time out while the phase is not there yet, naming the last value.
    let pg = cluster_args(&ns, "pg");
    let waiting = with(
        &pg,
        json!({"op": "wait_for", "pointer": "/status/phase", "equals_any": ["Cluster in healthy state"]}),
    );
    let error = probe.err(with(&waiting, json!({"timeout_ms": 300}))).await;
    assert_eq!(error["kind"], json!("timeout"), "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("last value: none"),
        "{error}"
    );

    // The operator moves the phase along while the tool waits.
    let writer = tokio::spawn(async move {
        let bed = TestBed::shared().await;
        for phase in ["Setting up primary", "Creating replica", "Cluster in healthy state"] {
            tokio::time::sleep(Duration::from_millis(300)).await;
            bed.write_status(&cnpg_cluster(), &ns, "pg", json!({"phase": phase}))
                .await
                .unwrap();
        }
    });
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "k8s", "arguments": with(&waiting, json!({"timeout_ms": 20000})), "_meta": {"progressToken": "wait-1"}}});
    let reply = probe.session.post(body).await;
    writer.await.unwrap();
    let result = reply.response(7)["result"].clone();
    assert_eq!(
        result["structuredContent"]["ok"]["status"]["phase"],
        json!("Cluster in healthy state"),
        "{result}"
    );
    let progress: Vec<String> = reply
        .messages()
        .iter()
        .filter(|m| m["method"] == json!("notifications/progress"))
        .map(|m| {
            assert_eq!(m["params"]["progressToken"], json!("wait-1"));
            m["params"]["message"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(
        progress
            .iter()
            .any(|m| m.contains("now Setting up primary") || m.contains("now Creating replica")),
        "{progress:?}"
    );

    // A quiet watch outlives the per-request limit (2 s here): only the
    // wait's own deadline ends it.
    let mut short = Probe::start(bed, &probe_grant(""), &["--kube-timeout-seconds", "2"]).await;
    let pg2 = cluster_args(&ns2, "pg");
    let writer = tokio::spawn({
        let ns2 = ns2.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(3500)).await;
            let bed = TestBed::shared().await;
            bed.write_status(
                &cnpg_cluster(),
                &ns2,
                "pg",
                json!({"phase": "Cluster in healthy state"}),
            )
            .await
            .unwrap();
        }
    });
    let quiet = short
        .ok(with(&pg2, json!({"op": "wait_for", "pointer": "/status/phase", "equals_any": ["Cluster in healthy state"], "timeout_ms": 20000})))
        .await;
    writer.await.unwrap();
    assert_eq!(quiet["status"]["phase"], json!("Cluster in healthy state"));

    // A wait needs `watch` in the grant.
    let no_watch =
        "[[kubernetes]]\nverbs = [\"get\"]\napi_groups = [\"postgresql.cnpg.io\"]\nresources = [\"clusters\"]\n";
    let mut limited = Probe::start(bed, no_watch, &[]).await;
    let error = limited.err(with(&waiting, json!({"timeout_ms": 1000}))).await;
    assert_eq!(error["kind"], json!("denied-by-policy"));
    assert_eq!(error["verb"], json!("watch"));
}

#[tokio::test(flavor = "multi_thread")]
async fn events_logs_and_discovery() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("events").await.unwrap();
    let client = bed.client().await.unwrap();
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), &ns);
    let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
        "metadata": {"name": "pg.1"},
        "involvedObject": {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": "pg", "namespace": ns},
        "reason": "CreatingPrimary", "message": "Primary instance is being created", "type": "Normal"
    }))
    .unwrap();
    events.create(&PostParams::default(), &event).await.unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, &ns);
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "pg-1"}, "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let mut probe = Probe::start(bed, &probe_grant(""), &[]).await;
    let listed = probe.ok(with(&cluster_args(&ns, "pg"), json!({"op": "events"}))).await;
    assert_eq!(listed["items"][0]["reason"], json!("CreatingPrimary"), "{listed}");
    let other = probe
        .ok(with(&cluster_args(&ns, "other"), json!({"op": "events"})))
        .await;
    assert_eq!(other["items"], json!([]));

    // The test bed has no kubelet and the pod no node: the API server
    // answers an empty log (a real cluster streams the container's log).
    let logs = probe
        .ok(json!({"op": "logs", "group": "", "resource": "pods", "namespace": ns, "name": "pg-1", "tail_lines": 50}))
        .await;
    assert_eq!(logs, json!(""));
    let missing = probe
        .err(json!({"op": "logs", "group": "", "resource": "pods", "namespace": ns, "name": "pg-9"}))
        .await;
    assert_eq!(missing["kind"], json!("not-found"), "{missing}");

    let pooler = probe
        .ok(json!({"op": "resolve_kind", "api_version": "postgresql.cnpg.io/v1", "kind": "Pooler"}))
        .await;
    assert_eq!(
        pooler,
        json!({"group": "postgresql.cnpg.io", "version": "v1", "resource": "poolers", "kind": "Pooler", "namespaced": true})
    );
    let catalog = probe
        .ok(json!({"op": "resolve_kind", "api_version": "postgresql.cnpg.io/v1", "kind": "ClusterImageCatalog"}))
        .await;
    assert_eq!(catalog["namespaced"], json!(false));
    let missing = probe
        .err(json!({"op": "resolve_kind", "api_version": "postgresql.cnpg.io/v9", "kind": "Cluster"}))
        .await;
    assert_eq!(missing["kind"], json!("not-found"), "{missing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pod_proxy_gets_reach_a_pods_endpoint_through_the_api_server() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("proxy").await.unwrap();
    let pods = cnpg_mcp_tests::cnpg::pods();
    cnpg_mcp_tests::cnpg::create(
        bed,
        &ns,
        &pods,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pg-1"},
               "spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}}),
    )
    .await;
    // No kubelet: the pod's address is written as a kubelet would, and the
    // bed's pod network stands in for the endpoint behind it.
    cnpg_mcp_tests::cnpg::patch_status(
        bed,
        &ns,
        &pods,
        "pg-1",
        json!({"phase": "Running", "podIP": "10.77.0.5", "podIPs": [{"ip": "10.77.0.5"}]}),
    )
    .await;
    bed.pod_network.serve(
        "10.77.0.5:8000",
        "/pg/status",
        &json!({"isPrimary": true, "lastArchivedWAL": "000000010000000000000003"}),
    );
    let target = json!({"op": "proxy_get", "group": "", "resource": "pods", "namespace": ns, "name": "pg-1",
                        "port": 8000, "path": "/pg/status"});

    // `pods/proxy` is sensitive: a wildcard rule does not reach it.
    let mut probe = Probe::start(bed, &probe_grant(""), &[]).await;
    let denied = probe.err(target.clone()).await;
    assert_eq!(denied["kind"], json!("denied-by-policy"), "{denied}");
    assert!(bed.pod_network.requests().is_empty());
    drop(probe);

    let grant = probe_grant(
        "[[kubernetes]]\nverbs = [\"get\"]\napi_groups = [\"\"]\nresources = [\"pods/proxy\"]\nnamespaces = [\"*\"]\nnames = [\"pg-*\"]\n",
    );
    let mut probe = Probe::start(bed, &grant, &[]).await;
    let body = probe.ok(target.clone()).await;
    let status: Value = serde_json::from_str(body.as_str().unwrap()).unwrap();
    assert_eq!(status["lastArchivedWAL"], json!("000000010000000000000003"));
    assert_eq!(
        bed.pod_network.requests(),
        vec!["10.77.0.5:8000 /pg/status".to_string()]
    );

    // The endpoint's own 404 comes back as such; paths that could leave the
    // endpoint or add a query are refused before sending.
    let mut missing = target.clone();
    missing["path"] = json!("/pg/nothing");
    assert_eq!(probe.err(missing).await["kind"], json!("not-found"));
    for path in [
        "/pg/../../api",
        "pg/status",
        "/pg/status?x=1",
        "/pg/status#x",
        "/pg/%2e%2e",
    ] {
        let mut bad = target.clone();
        bad["path"] = json!(path);
        let refused = probe.err(bad).await;
        assert_eq!(refused["kind"], json!("invalid"), "{path}: {refused}");
    }
    assert_eq!(bed.pod_network.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_record_lists_the_kubernetes_requests_of_a_call() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("audit").await.unwrap();
    let mut probe = Probe::start(bed, &probe_grant(""), &[]).await;
    probe
        .err(with(&cluster_args(&ns, "audited"), json!({"op": "get"})))
        .await;
    probe
        .err(json!({"op": "get", "group": "", "resource": "secrets", "namespace": ns, "name": "audited"}))
        .await;
    // The log is read from the server's stderr by a thread: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (log, records) = loop {
        let log = probe.server.log_text();
        let records: Vec<Value> = log
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| record["target"] == json!("cnpg_mcp::audit"))
            .collect();
        if records.len() >= 2 || Instant::now() > deadline {
            break (log, records);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(records.len(), 2, "{log}");
    let fields = &records[0];
    assert_eq!(fields["tool"], json!("k8s"));
    assert_eq!(fields["outcome"], json!("ok"));
    assert_eq!(fields["caller"], json!("local"));
    let requests: Value = serde_json::from_str(fields["kubernetes"].as_str().unwrap()).unwrap();
    assert_eq!(
        requests,
        json!([{"verb": "get", "resource": "postgresql.cnpg.io/clusters", "namespace": ns, "name": "audited", "code": 404}])
    );
    let requests: Value = serde_json::from_str(records[1]["kubernetes"].as_str().unwrap()).unwrap();
    assert_eq!(
        requests,
        json!([{"verb": "get", "resource": "core/secrets", "namespace": ns, "name": "audited", "code": 0, "denied": true}])
    );
}

/// Impersonation through the host's Kubernetes client, for verified
/// callers (as the OIDC layer produces them): RBAC of the cluster decides
/// per user and group, and the API server's audit log shows who acted.
#[tokio::test(flavor = "multi_thread")]
async fn impersonation_lets_the_clusters_rbac_decide_per_caller() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("imp").await.unwrap();
    create_cluster(bed, &ns, "pg").await;
    let read_clusters = json!([{"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["get"]}]);
    bed.bind_role(&ns, "alice-reads", read_clusters.clone(), ("User", "oidc:alice"))
        .await
        .unwrap();
    bed.bind_role(&ns, "dba-reads", read_clusters, ("Group", "oidc:dba"))
        .await
        .unwrap();

    let settings = KubeSettings {
        kubeconfig: Some(bed.kubeconfig.clone()),
        impersonation: Some(ImpersonationSettings {
            user_prefix: "oidc:".into(),
            group_prefix: "oidc:".into(),
        }),
        ..KubeSettings::default()
    };
    let access = std::sync::Arc::new(KubeAccess::connect(&settings).await.unwrap());
    let caller = |name: &str, groups: &[&str]| Caller {
        subject: format!("sub-{name}"),
        issuer: "https://idp.test".into(),
        username: Some(name.to_string()),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        client_id: None,
        scopes: Vec::new(),
        verified: true,
    };
    let target = Target {
        group: "postgresql.cnpg.io".into(),
        version: "v1".into(),
        resource: "clusters".into(),
        namespace: Some(ns.clone()),
        name: Some("pg".into()),
        subresource: None,
    };
    let get = |who: Caller| {
        let call = access.for_call(&who, 1 << 20, std::sync::Arc::new(Journal::default()));
        let target = target.clone();
        async move { call.get(&target).await }
    };
    // No RoleBinding for bob: forbidden, and the message names him.
    let denied = get(caller("bob", &[])).await.unwrap_err();
    assert_eq!(denied.code, 403);
    assert!(denied.message.contains("\"oidc:bob\""), "{}", denied.message);
    // alice has a Role; carol is in the dba group.
    assert!(get(caller("alice", &[])).await.is_ok());
    assert!(get(caller("carol", &["dba"])).await.is_ok());
    assert_eq!(get(caller("carol", &["dev"])).await.unwrap_err().code, 403);
    // The local operator (no verified caller) acts as the server itself.
    assert!(get(Caller::local()).await.is_ok());

    // The API server saw the impersonated users, never a caller's token.
    let events = bed.audit_events();
    let as_user = |user: &str| {
        events
            .iter()
            .any(|e| e["objectRef"]["namespace"] == json!(ns) && e["impersonatedUser"]["username"] == json!(user))
    };
    assert!(as_user("oidc:alice") && as_user("oidc:bob") && as_user("oidc:carol"));
    assert!(events.iter().any(|e| {
        e["impersonatedUser"]["username"] == json!("oidc:carol")
            && e["impersonatedUser"]["groups"]
                .as_array()
                .is_some_and(|g| g.contains(&json!("oidc:dba")))
    }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_account_token_file_is_used_and_reread_when_it_rotates() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("satoken").await.unwrap();
    create_cluster(bed, &ns, "pg").await;
    let read = json!([{"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["get"]}]);
    bed.bind_role(&ns, "reader", read, ("ServiceAccount", "reader"))
        .await
        .unwrap();
    let reader = bed.service_account_token(&ns, "reader").await.unwrap();
    let outsider = bed.service_account_token(&ns, "outsider").await.unwrap();

    // Start as the outsider (forbidden), then the file is rotated to the
    // reader's token, as the kubelet rotates a projected token.
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("rotate");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &outsider).unwrap();
    let kubeconfig = bed.kubeconfig_with_token_file(&token_file, &ns).unwrap();
    let components = component_folder(&[("test_k8s_probe", Some(&probe_grant("")))]);
    let server = Server::start(&[
        "--no-builtin",
        "--components",
        components.path().to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    let mut probe = Probe {
        session: Session::open(server.port).await,
        server,
        _dir: components,
    };
    let pg = with(&cluster_args(&ns, "pg"), json!({"op": "get"}));
    let error = probe.err(pg.clone()).await;
    assert_eq!(error["kind"], json!("forbidden"));
    assert!(error["message"].as_str().unwrap().contains(":outsider"), "{error}");
    std::fs::write(&token_file, &reader).unwrap();
    // The client re-reads the file at least once a minute.
    let started = Instant::now();
    loop {
        match probe.run(pg.clone()).await {
            Ok(object) => {
                assert_eq!(object["metadata"]["name"], json!("pg"));
                break;
            }
            Err(error) => {
                assert_eq!(error["kind"], json!("forbidden"), "{error}");
                assert!(started.elapsed() < Duration::from_secs(90), "token never re-read");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    eprintln!("rotated token in use after {:?}", started.elapsed());
}

/// A private control plane that is stopped and frozen mid-run: calls fail
/// fast with `unavailable` or `timeout`, the server keeps serving, and the
/// same session works again once the API server is back.
#[tokio::test(flavor = "multi_thread")]
async fn api_server_down_or_hung_then_back() {
    let bed = TestBed::start().await.unwrap();
    let ns = bed.namespace("outage").await.unwrap();
    let mut probe = Probe::start(&bed, &probe_grant(""), &["--kube-timeout-seconds", "2"]).await;
    let get = json!({"op": "get", "group": "", "resource": "configmaps", "namespace": ns, "name": "kube-root-ca.crt"});
    let absent = with(&get, json!({"name": "absent"}));
    assert_eq!(probe.err(absent.clone()).await["kind"], json!("not-found"));

    bed.stop_apiserver();
    let started = Instant::now();
    let error = probe.err(absent.clone()).await;
    let elapsed = started.elapsed();
    assert_eq!(error["kind"], json!("unavailable"), "{error}");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    eprintln!("API server down: `unavailable` after {elapsed:?}");
    // The server itself is fine.
    assert_eq!(
        first_text(&probe.session.call_tool("k8s", json!({"op": "default_namespace"})).await),
        "{\"ok\":\"default\"}"
    );

    bed.start_apiserver().await.unwrap();
    assert_eq!(probe.err(absent.clone()).await["kind"], json!("not-found"));

    bed.pause_apiserver();
    let started = Instant::now();
    let error = probe.err(absent.clone()).await;
    let elapsed = started.elapsed();
    bed.resume_apiserver();
    assert!(matches!(error["kind"].as_str(), Some("timeout")), "{error}");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    eprintln!("API server hung: `timeout` after {elapsed:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match probe.run(absent.clone()).await {
            Err(error) if error["kind"] == json!("not-found") => break,
            other => assert!(Instant::now() < deadline, "no recovery: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn an_explicit_kubeconfig_that_does_not_work_stops_the_start() {
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("kubeconfig");
    let missing = dir.path().join("nope.yaml");
    let log = match Server::try_start(&["--kubeconfig", missing.to_str().unwrap()]) {
        Ok(_) => panic!("started with a missing kubeconfig"),
        Err(log) => log,
    };
    assert!(log.contains("cannot configure Kubernetes access"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn session_info_reports_the_cloudnativepg_api_from_discovery() {
    let bed = TestBed::shared().await;
    let server = Server::start(&["--kubeconfig", bed.kubeconfig.to_str().unwrap()]);
    let mut session = Session::open(server.port).await;
    let result = session.call_tool("get_session_info", json!({})).await;
    assert_eq!(result["isError"], json!(false), "{result}");
    let kubernetes = &result["structuredContent"]["kubernetes"];
    assert_eq!(kubernetes["reachable"], json!(true), "{result}");
    assert_eq!(
        kubernetes["cnpg_cluster_api"],
        json!("postgresql.cnpg.io/v1 (clusters)"),
        "{result}"
    );
    assert_eq!(result["structuredContent"]["caller"]["subject"], json!("local"));
}

/// End to end: tokens from the real IdP, verified by the server, become
/// Kubernetes identities (`--impersonate` with prefixes); the cluster's
/// RBAC decides per caller.
#[tokio::test(flavor = "multi_thread")]
async fn verified_callers_are_impersonated_end_to_end() {
    use cnpg_mcp_tests::idp::{Idp, MACHINE_CLIENT, OTHER_CLIENT};
    let bed = TestBed::shared().await;
    let ns = bed.namespace("e2e-imp").await.unwrap();
    create_cluster(bed, &ns, "pg").await;
    // The machine client's tokens carry groups ["cnpg-operators"]; the
    // other client's ["other-team"].
    let read = json!([{"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["get"]}]);
    bed.bind_role(&ns, "operators-read", read, ("Group", "oidc:cnpg-operators"))
        .await
        .unwrap();

    let idp = Idp::start().unwrap();
    let port = cnpg_mcp_tests::free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let components = component_folder(&[("test_k8s_probe", Some(&probe_grant("")))]);
    let server = Server::start_on(
        port,
        &[
            "--no-builtin",
            "--components",
            components.path().to_str().unwrap(),
            "--kubeconfig",
            bed.kubeconfig.to_str().unwrap(),
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            &resource,
            "--oidc-scope",
            "mcp:read",
            "--impersonate",
            "--impersonate-user-prefix",
            "oidc:",
            "--impersonate-group-prefix",
            "oidc:",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while cnpg_mcp_tests::request(port, "GET", "/readyz", &[], Vec::new())
        .await
        .status
        != 200
    {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let get = with(&cluster_args(&ns, "pg"), json!({"op": "get"}));
    let outcome = |result: Value| result["structuredContent"].clone();

    let operator = idp
        .client_credentials(MACHINE_CLIENT.0, MACHINE_CLIENT.1, Some(&resource), "mcp:read")
        .await
        .unwrap();
    let mut session = Session::open_with_token(port, &operator).await;
    let allowed = outcome(session.call_tool("k8s", get.clone()).await);
    assert_eq!(allowed["ok"]["metadata"]["name"], json!("pg"), "{allowed}");

    let outsider = idp
        .client_credentials(OTHER_CLIENT.0, OTHER_CLIENT.1, Some(&resource), "mcp:read")
        .await
        .unwrap();
    let mut other = Session::open_with_token(port, &outsider).await;
    let refused = outcome(other.call_tool("k8s", get).await);
    assert_eq!(refused["error"]["kind"], json!("forbidden"), "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"oidc:other-machine\""),
        "{refused}"
    );

    // The API server saw the impersonated identities, with their groups.
    let events = bed.audit_events();
    assert!(events.iter().any(|e| {
        e["objectRef"]["namespace"] == json!(ns)
            && e["impersonatedUser"]["username"] == json!("oidc:mcp-machine")
            && e["impersonatedUser"]["groups"]
                .as_array()
                .is_some_and(|g| g.contains(&json!("oidc:cnpg-operators")))
    }));
    drop(server);
}

/// A person signed in with `cnpg-mcp login` (browser flow at the real
/// IdP, driven by the headless browser) and calling through `cnpg-mcp
/// connect`: with impersonation on, the API server acts as that person,
/// with the person's groups, and its audit log names them.
#[tokio::test(flavor = "multi_thread")]
async fn a_person_signed_in_with_login_is_whom_the_api_server_sees_through_connect() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    use cnpg_mcp_tests::idp::Idp;
    let bed = TestBed::shared().await;
    let ns = bed.namespace("login-imp").await.unwrap();
    create_cluster(bed, &ns, "pg").await;
    // The test IdP's people are in the group "dba".
    let read = json!([{"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["get"]}]);
    bed.bind_role(&ns, "dba-read", read, ("Group", "oidc:dba"))
        .await
        .unwrap();

    let idp = Idp::start().unwrap();
    let port = cnpg_mcp_tests::free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let components = component_folder(&[("test_k8s_probe", Some(&probe_grant("")))]);
    let _server = Server::start_on(
        port,
        &[
            "--no-builtin",
            "--components",
            components.path().to_str().unwrap(),
            "--kubeconfig",
            bed.kubeconfig.to_str().unwrap(),
            "--oidc-issuer",
            &idp.issuer,
            "--public-url",
            &resource,
            "--oidc-scope",
            "mcp:read",
            "--impersonate",
            "--impersonate-user-prefix",
            "oidc:",
            "--impersonate-group-prefix",
            "oidc:",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while cnpg_mcp_tests::request(port, "GET", "/readyz", &[], Vec::new())
        .await
        .status
        != 200
    {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let config = cnpg_mcp_tests::tempdir::TempDir::new("login-imp");
    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/headless_browser.py");
    let cnpg_mcp = |args: &[&str]| {
        let mut command = Command::new(cnpg_mcp_tests::binary());
        command
            .args(args)
            .env("CNPG_MCP_CONFIG_DIR", config.path())
            .env("BROWSER", &browser)
            .env_remove("CNPG_MCP_CLIENT_ID")
            .env_remove("CNPG_MCP_CLIENT_SECRET");
        command
    };
    let login = cnpg_mcp(&["login", "--url", &resource]).output().unwrap();
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));

    let mut bridge = cnpg_mcp(&["connect", "--url", &resource])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = bridge.stdin.take().unwrap();
    let mut stdout = BufReader::new(bridge.stdout.take().unwrap());
    let mut exchange = |message: Value| -> Value {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
        if message.get("id").is_none() {
            return Value::Null;
        }
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    exchange(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "login-imp", "version": "1"}}}));
    exchange(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let get = with(&cluster_args(&ns, "pg"), json!({"op": "get"}));
    let result = exchange(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "k8s", "arguments": get}}));
    let outcome = &result["result"]["structuredContent"];
    assert_eq!(outcome["ok"]["metadata"]["name"], json!("pg"), "{result}");
    drop(stdin);
    let _ = bridge.wait();

    let events = bed.audit_events();
    assert!(
        events.iter().any(|e| {
            e["objectRef"]["namespace"] == json!(ns)
                && e["impersonatedUser"]["username"] == json!("oidc:alice")
                && e["impersonatedUser"]["groups"]
                    .as_array()
                    .is_some_and(|g| g.contains(&json!("oidc:dba")))
        }),
        "the API server's audit log does not name alice"
    );
}
