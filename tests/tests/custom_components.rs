//! Custom components: the example (`components/examples/cluster-health`,
//! written with the SDK) through the test kit and through MCP against the
//! real API server; the `components validate` and `components call`
//! commands; a component written in Python (componentize-py) next to the
//! Rust ones; and the guide's walkthrough, step by step, from a copied
//! example to a tool listed by a running server.

use std::path::{Path, PathBuf};
use std::process::Command;

use cnpg_mcp::testkit::{ClientScript, Harness, Step};
use cnpg_mcp_tests::cnpg::{clusters, create, patch_status};
use cnpg_mcp_tests::deploy::repo_root;
use cnpg_mcp_tests::testbed::TestBed;
use cnpg_mcp_tests::{Server, Session, binary, first_text, guest};
use serde_json::{Value, json};

fn cluster(name: &str, instances: u32, status: Value) -> Value {
    json!({"metadata": {"name": name}, "spec": {"instances": instances}, "status": status})
}

const HEALTHY: &str = "Cluster in healthy state";

#[tokio::test]
async fn the_example_summarizes_cluster_health_under_the_test_kit() {
    let harness = Harness::load(&std::fs::read(guest("cluster_health")).unwrap()).unwrap();
    let items = json!({"items": [
        cluster("ok", 3, json!({"phase": HEALTHY, "readyInstances": 3, "currentPrimary": "ok-1", "targetPrimary": "ok-1"})),
        cluster("degraded", 3, json!({"phase": HEALTHY, "readyInstances": 2, "currentPrimary": "degraded-1", "targetPrimary": "degraded-1"})),
        cluster("switching", 2, json!({"phase": "Switchover in progress", "readyInstances": 2,
                                        "currentPrimary": "switching-1", "targetPrimary": "switching-2"})),
        cluster("archiving", 1, json!({"phase": HEALTHY, "readyInstances": 1, "conditions": [
            {"type": "ContinuousArchiving", "status": "False", "message": "bucket unreachable"}]})),
        cluster("new", 1, Value::Null),
    ]});
    let outcome = harness
        .call(
            "get_cluster_health_summary",
            json!({"namespace": "db"}),
            vec![Step::ok("list", "postgresql.cnpg.io/clusters", Some("db"), None, items)],
            ClientScript::default(),
        )
        .await
        .unwrap();
    assert!(
        outcome.mismatches.is_empty() && outcome.unused.is_empty(),
        "{outcome:?}"
    );
    let summary = outcome.structured.unwrap();
    assert_eq!(summary["healthy"], json!(1));
    assert_eq!(summary["unhealthy"], json!(4));
    let problems = |name: &str| -> String {
        summary["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == json!(name))
            .unwrap()["problems"]
            .to_string()
    };
    assert!(problems("degraded").contains("2 of 3 instances ready"));
    assert!(problems("switching").contains("primary changing from switching-1 to switching-2"));
    assert!(problems("archiving").contains("bucket unreachable"));
    assert!(problems("new").contains("no status yet"));
    assert!(outcome.text.contains("1 healthy, 4 unhealthy"), "{}", outcome.text);
    // The default namespace comes from the host.
    let outcome = harness
        .clone_with_namespace("team-a")
        .call(
            "get_cluster_health_summary",
            json!({}),
            vec![Step::ok(
                "list",
                "postgresql.cnpg.io/clusters",
                Some("team-a"),
                None,
                json!({"items": []}),
            )],
            ClientScript::default(),
        )
        .await
        .unwrap();
    assert!(outcome.mismatches.is_empty(), "{:?}", outcome.mismatches);
    // API errors become isError results with the API server's words.
    let outcome = harness
        .call(
            "get_cluster_health_summary",
            json!({"namespace": "db"}),
            vec![Step::fail(
                "list",
                "postgresql.cnpg.io/clusters",
                Some("db"),
                None,
                403,
                "Forbidden",
            )],
            ClientScript::default(),
        )
        .await
        .unwrap();
    assert!(
        outcome.is_error && outcome.text.contains("403 Forbidden"),
        "{}",
        outcome.text
    );
    // Arguments are checked against the schema derived from the struct.
    let error = harness
        .call(
            "get_cluster_health_summary",
            json!({"namespace": "Not_Valid"}),
            vec![],
            ClientScript::default(),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("/namespace"), "{error}");
}

fn cli(args: &[&str]) -> (bool, String) {
    let output = Command::new(binary()).args(args).output().unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn example_grant() -> PathBuf {
    repo_root().join("components/examples/cluster-health/grant.toml")
}

#[test]
fn validate_and_call_from_the_command_line() {
    let wasm = guest("cluster_health");
    let wasm = wasm.to_str().unwrap();
    let (ok, text) = cli(&[
        "components",
        "validate",
        wasm,
        "--grant",
        example_grant().to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok: the grant covers everything the component asks for"),
        "{text}"
    );
    // A grant narrower than what the component asks for fails validation.
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("validate");
    let narrow = dir.path().join("narrow.toml");
    std::fs::write(&narrow, "[[kubernetes]]\nverbs=[\"list\"]\napi_groups=[\"postgresql.cnpg.io\"]\nresources=[\"clusters\"]\nnamespaces=[\"db\"]\n").unwrap();
    let (ok, text) = cli(&["components", "validate", wasm, "--grant", narrow.to_str().unwrap()]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("error: the grant does not allow `list` on postgresql.cnpg.io/clusters in every namespace"),
        "{text}"
    );
    // Not a component at all.
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let (ok, text) = cli(&["components", "validate", junk.to_str().unwrap()]);
    assert!(!ok && text.contains("not a WebAssembly binary"), "{text}");
    // A component importing something outside the contract.
    let (ok, text) = cli(&["components", "validate", guest("test_bad_import").to_str().unwrap()]);
    assert!(!ok, "{text}");

    // One call with a fixture of scripted answers.
    let fixture = dir.path().join("fixture.yaml");
    std::fs::write(
        &fixture,
        "- verb: list\n  resource: postgresql.cnpg.io/clusters\n  namespace: db\n  reply:\n    items:\n      - metadata: {name: pg}\n        spec: {instances: 2}\n        status: {phase: Cluster in healthy state, readyInstances: 2}\n",
    )
    .unwrap();
    let (ok, text) = cli(&[
        "components",
        "call",
        wasm,
        "get_cluster_health_summary",
        "--args",
        r#"{"namespace":"db"}"#,
        "--kube-fixture",
        fixture.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let report: Value = serde_json::from_str(
        text.lines()
            .take_while(|l| !l.starts_with("cnpg-mcp:"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim(),
    )
    .unwrap();
    assert_eq!(report["structured"]["healthy"], json!(1));
    assert_eq!(report["kubernetes"][0]["verb"], json!("list"));
    // A fixture the component does not follow is reported and fails.
    let (ok, text) = cli(&[
        "components",
        "call",
        wasm,
        "get_cluster_health_summary",
        "--args",
        r#"{"namespace":"other"}"#,
        "--kube-fixture",
        fixture.to_str().unwrap(),
    ]);
    assert!(
        !ok && text.contains("expected list postgresql.cnpg.io/clusters"),
        "{text}"
    );
}

fn install(dir: &Path, wasm: &Path, name: &str, grant: &Path) {
    std::fs::copy(wasm, dir.join(format!("{name}.wasm"))).unwrap();
    std::fs::copy(grant, dir.join(format!("{name}.grant.toml"))).unwrap();
}

fn python_component() -> PathBuf {
    let output = Command::new("bash")
        .arg(repo_root().join("components/examples/python-count/build.sh"))
        .env("PYTHON", cnpg_mcp_tests::ExternalClients::get().python)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_and_python_components_serve_side_by_side_against_the_api_server() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("custom").await.unwrap();
    for (name, ready) in [("alpha", 2), ("beta", 1)] {
        create(
            bed,
            &ns,
            &clusters(),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": name}, "spec": {"instances": 2, "storage": {"size": "1Gi"}}}),
        )
        .await;
        patch_status(
            bed,
            &ns,
            &clusters(),
            name,
            json!({"phase": HEALTHY, "readyInstances": ready}),
        )
        .await;
    }
    let python = python_component();
    let size = std::fs::metadata(&python).unwrap().len();
    eprintln!(
        "component sizes: python {} bytes, rust example {} bytes",
        size,
        std::fs::metadata(guest("cluster_health")).unwrap().len()
    );
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("custom");
    install(dir.path(), &guest("cluster_health"), "cluster_health", &example_grant());
    install(
        dir.path(),
        &python,
        "count_postgres_clusters",
        &repo_root().join("components/examples/python-count/grant.toml"),
    );
    let server = Server::start(&[
        "--components",
        dir.path().to_str().unwrap(),
        "--kubeconfig",
        bed.kubeconfig.to_str().unwrap(),
    ]);
    let mut session = Session::open(server.port).await;
    let listed = session.call("tools/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for tool in [
        "get_cluster_health_summary",
        "count_postgres_clusters",
        "list_postgres_clusters",
    ] {
        assert!(names.contains(&tool), "{tool} not in {names:?}");
    }
    let result = session
        .call_tool("get_cluster_health_summary", json!({"namespace": ns}))
        .await;
    assert_eq!(result["structuredContent"]["healthy"], json!(1), "{result}");
    assert_eq!(result["structuredContent"]["unhealthy"], json!(1));
    let result = session
        .call_tool("count_postgres_clusters", json!({"namespace": ns}))
        .await;
    assert_eq!(result["isError"], json!(false), "{result}");
    assert_eq!(result["structuredContent"]["count"], json!(2), "{result}");
    assert_eq!(result["structuredContent"]["names"], json!(["alpha", "beta"]));
    // The Python component's Kubernetes access goes through its grant too.
    let result = session
        .call_tool("count_postgres_clusters", json!({"namespace": "kube-system"}))
        .await;
    assert_eq!(
        result["isError"],
        json!(false),
        "listing another namespace is granted: {result}"
    );
    // Its schema is enforced by the host like any other.
    let result = session
        .call_tool("count_postgres_clusters", json!({"namespace": 7}))
        .await;
    assert_eq!(result["isError"], json!(true));
    assert!(first_text(&result).contains("/namespace"), "{}", first_text(&result));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_walkthrough_gets_a_new_tool_listed() {
    // 1. Copy the example and rename it (the guide's step 1).
    let work = cnpg_mcp_tests::tempdir::TempDir::new("walkthrough");
    let crate_dir = work.path().join("my-tool");
    let example = repo_root().join("components/examples/cluster-health");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::copy(example.join("grant.toml"), crate_dir.join("grant.toml")).unwrap();
    let manifest = std::fs::read_to_string(example.join("Cargo.toml"))
        .unwrap()
        .replace("name = \"cluster-health\"", "name = \"my-tool\"")
        .replace(
            "path = \"../../sdk\"",
            &format!("path = \"{}\"", repo_root().join("components/sdk").display()),
        );
    assert!(manifest.contains("my-tool") && manifest.contains("components/sdk"));
    std::fs::write(crate_dir.join("Cargo.toml"), format!("{manifest}\n[workspace]\n")).unwrap();
    let source = std::fs::read_to_string(example.join("src/lib.rs"))
        .unwrap()
        .replace("get_cluster_health_summary", "my_first_tool");
    std::fs::write(crate_dir.join("src/lib.rs"), source).unwrap();
    // 3. Build for wasm32-wasip2 (dependencies from the registry; a cache
    // folder outside the clone keeps re-runs fast).
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"))
        .join("walkthrough");
    let status = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&crate_dir)
        .status()
        .unwrap();
    assert!(status.success(), "the copied example does not build");
    let wasm = target.join("wasm32-wasip2/release/my_tool.wasm");
    // 5. Validate against the grant.
    let (ok, text) = cli(&[
        "components",
        "validate",
        wasm.to_str().unwrap(),
        "--grant",
        crate_dir.join("grant.toml").to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    // Install into a folder and start the server with it.
    let tools = work.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    install(&tools, &wasm, "my_tool", &crate_dir.join("grant.toml"));
    let server = Server::start(&["--components", tools.to_str().unwrap()]);
    let mut session = Session::open(server.port).await;
    let listed = session.call("tools/list", json!({})).await;
    let tool = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == json!("my_first_tool"))
        .cloned()
        .unwrap_or_else(|| panic!("my_first_tool not listed: {listed}"));
    assert_eq!(tool["annotations"]["readOnlyHint"], json!(true));
    assert!(tool["inputSchema"]["properties"]["namespace"].is_object(), "{tool}");
}

#[tokio::test]
async fn the_test_kit_sets_the_caller_and_enforces_limits() {
    let harness = Harness::load(&std::fs::read(guest("test_misbehave")).unwrap())
        .unwrap()
        .with_caller("alice", Some("alice@example.com"), &["dba"], &["mcp:read"])
        .with_limits(16, std::time::Duration::from_secs(1));
    let outcome = harness
        .call("whoami", json!({}), vec![], ClientScript::default())
        .await
        .unwrap();
    assert!(outcome.text.contains("alice"), "{}", outcome.text);
    let started = std::time::Instant::now();
    let error = harness
        .call("spin", json!({}), vec![], ClientScript::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("did not finish"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let error = harness
        .call("eat_memory", json!({}), vec![], ClientScript::default())
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").to_lowercase().contains("memory") || format!("{error:#}").contains("unreachable"),
        "{error:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn call_runs_one_tool_against_a_real_cluster() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("cli-call").await.unwrap();
    create(
        bed,
        &ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "solo"}, "spec": {"instances": 1, "storage": {"size": "1Gi"}}}),
    )
    .await;
    patch_status(
        bed,
        &ns,
        &clusters(),
        "solo",
        json!({"phase": HEALTHY, "readyInstances": 1}),
    )
    .await;
    let (ok, text) = cli(&[
        "components",
        "call",
        guest("cluster_health").to_str().unwrap(),
        "get_cluster_health_summary",
        "--args",
        &json!({"namespace": ns}).to_string(),
        "--kubeconfig",
        bed.kubeconfig.to_str().unwrap(),
        "--grant",
        example_grant().to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    // The report is the JSON object on stdout (logs go to stderr).
    let start = text.find("{\n").unwrap();
    let end = text.rfind("\n}").unwrap() + 2;
    let report: Value = serde_json::from_str(&text[start..end]).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(report["structured"]["healthy"], json!(1), "{report}");
    // With a grant that does not allow the list, the host refuses it.
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("call-grant");
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let (ok, text) = cli(&[
        "components",
        "call",
        guest("cluster_health").to_str().unwrap(),
        "get_cluster_health_summary",
        "--args",
        &json!({"namespace": ns}).to_string(),
        "--kubeconfig",
        bed.kubeconfig.to_str().unwrap(),
        "--grant",
        empty.to_str().unwrap(),
    ]);
    assert!(
        ok && text.contains("\"is_error\": true") && text.contains("refused by this component's grant"),
        "{text}"
    );
}

#[test]
fn inspect_shows_what_a_component_requests_beside_its_grant() {
    let (ok, text) = cli(&["components", "inspect", guest("cluster_health").to_str().unwrap()]);
    assert!(ok, "{text}");
    let start = text.find("{\n").unwrap();
    let end = text.rfind("\n}").unwrap() + 2;
    let inspected: Value = serde_json::from_str(&text[start..end]).unwrap();
    assert_eq!(
        inspected["requested_grant"]["kubernetes"][0]["resources"],
        json!(["clusters"])
    );
    // No grant file beside the .wasm: nothing is granted.
    assert_eq!(inspected["grant"]["kubernetes"], json!([]));
}
