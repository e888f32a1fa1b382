//! The `cnpg-diagnostics` tools through MCP over HTTP against the real
//! operator's objects: events the real controllers emit (scheduler, job
//! controller, operator), the Services and Secrets the operator creates.
//! Pod logs come from a kubelet, and kwok nodes have none: the log tool's
//! per-instance failure is what the bed can show; its line parsing is
//! checked on lines in the instance manager's format with a scripted host.

use cnpg_mcp::testkit::{ClientScript, Harness, Step};
use cnpg_mcp_tests::cnpg::{ToolServer, eventually, read, resource};
use cnpg_mcp_tests::testbed::TestBed;
use cnpg_mcp_tests::{first_text, guest};
use serde_json::{Value, json};

fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

#[tokio::test(flavor = "multi_thread")]
async fn events_connection_details_and_logs_of_a_real_cluster() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("diag").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": "pg", "instances": 1, "storage_size": "1Gi", "namespace": ns}),
        )
        .await;
    eventually("the operator's rw service", || async {
        read(bed, &ns, &resource("", "Service", "services"), "pg-rw").await
    })
    .await;

    // Events of the cluster's pods and jobs, from the real controllers.
    let deadline = std::time::Instant::now() + cnpg_mcp_tests::cnpg::REACTION;
    let events = loop {
        let result = tools
            .ok("get_cluster_events", json!({"name": "pg", "namespace": ns}))
            .await;
        let objects: Vec<String> = structured(&result)["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["object"].as_str().unwrap().to_string())
            .collect();
        let reasons: Vec<&str> = structured(&result)["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["reason"].as_str())
            .collect();
        if objects.iter().any(|o| o.starts_with("Job/"))
            && reasons.contains(&"Scheduled")
            && reasons.contains(&"CreatingInstance")
        {
            break result;
        }
        assert!(std::time::Instant::now() < deadline, "{}", first_text(&result));
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let list = structured(&events)["events"].as_array().unwrap();
    // The scheduler placing the cluster's pods, the operator creating the
    // instance.
    assert!(
        list.iter()
            .any(|e| e["reason"] == json!("Scheduled") && e["source"] == json!("default-scheduler")),
        "{list:?}"
    );
    assert!(
        list.iter()
            .any(|e| e["reason"] == json!("CreatingInstance") && e["object"] == json!("Cluster/pg")),
        "{list:?}"
    );
    // Newest first, to the second (event times come with and without fractions).
    let times: Vec<&str> = list
        .iter()
        .filter_map(|e| e["time"].as_str())
        .map(|t| &t[..19])
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert!(
        structured(&events)["objects"]
            .as_array()
            .unwrap()
            .contains(&json!("Job/pg-1-initdb"))
    );

    // Connection details: names and keys, never values.
    let info = tools
        .ok("get_connection_info", json!({"name": "pg", "namespace": ns}))
        .await;
    let c = structured(&info);
    assert_eq!(
        c["uri"],
        json!(format!("postgresql://app@pg-rw.{ns}.svc:5432/app?sslmode=verify-full"))
    );
    assert_eq!(c["services"][0]["exists"], json!(true));
    assert_eq!(c["secrets"][0]["name"], json!("pg-app"));
    assert!(
        read(bed, &ns, &resource("", "Secret", "secrets"), "pg-app")
            .await
            .is_some()
    );
    let password = read(bed, &ns, &resource("", "Secret", "secrets"), "pg-app")
        .await
        .unwrap()["data"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!first_text(&info).contains(&password), "no Secret data in the answer");

    // Logs: no kubelet behind kwok's nodes, so each instance says why.
    let logs = tools
        .ok("get_cluster_logs", json!({"name": "pg", "namespace": ns}))
        .await;
    let instances = structured(&logs)["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{}", first_text(&logs));
    assert_eq!(instances[0]["instance"], json!("pg-1"));
    assert!(instances[0]["error"].is_string(), "{}", first_text(&logs));

    // The report: the objects the operator made, and no Secret data.
    let report = tools
        .ok("get_cluster_report", json!({"name": "pg", "namespace": ns}))
        .await;
    let r = structured(&report);
    assert_eq!(r["manifest"]["kind"], json!("Cluster"));
    assert!(r["manifest"]["metadata"]["managedFields"].is_null());
    // The instance's pod, or its initdb Job's pod while it bootstraps.
    assert!(
        r["pods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"].as_str().unwrap().starts_with("pg-1")),
        "{r}"
    );
    assert_eq!(r["volumes"][0]["role"], json!("PG_DATA"), "{r}");
    let services: Vec<&str> = r["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for service in ["pg-rw", "pg-ro", "pg-r"] {
        assert!(services.contains(&service), "{service} missing from {services:?}");
    }
    assert!(r["jobs"].as_array().is_some_and(|j| !j.is_empty()), "{r}");
    assert!(r["events"].as_array().is_some_and(|e| !e.is_empty()), "{r}");
    assert!(r["summary"]["certificate_expirations"].is_object(), "{}", r["summary"]);
    let everything = report.to_string();
    assert!(!everything.contains(&password), "no Secret data in the report");
    assert!(first_text(&report).contains("Report of cluster"));
}

#[tokio::test]
async fn log_lines_are_parsed_filtered_and_bounded() {
    let harness = Harness::load(&std::fs::read(guest("cnpg_diagnostics")).unwrap()).unwrap();
    let cluster = json!({"metadata": {"name": "pg", "namespace": "db"},
                         "status": {"instanceNames": ["pg-1"]}});
    let log = [
        r#"{"level":"info","ts":"2026-12-06T10:00:00.000000Z","logger":"setup","msg":"starting","logging_pod":"pg-1"}"#,
        r#"{"level":"info","ts":"2026-12-06T10:00:01.000000Z","logger":"postgres","msg":"record","logging_pod":"pg-1","record":{"error_severity":"LOG","message":"database system is ready to accept connections"}}"#,
        r#"{"level":"error","ts":"2026-12-06T10:00:02.000000Z","logger":"postgres","msg":"record","logging_pod":"pg-1","record":{"error_severity":"ERROR","sql_state_code":"42P01","message":"relation \"t\" does not exist"}}"#,
        "plain text from an init script",
    ]
    .join("\n");
    let outcome = harness
        .call(
            "get_cluster_logs",
            json!({"name": "pg", "namespace": "db", "since": "2026-12-06T10:00:01Z", "min_level": "warning"}),
            vec![
                Step::ok("get", "postgresql.cnpg.io/clusters", Some("db"), Some("pg"), cluster),
                Step::ok("logs", "core/pods", Some("db"), Some("pg-1"), Value::String(log)),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    assert!(outcome.mismatches.is_empty(), "{:?}", outcome.mismatches);
    assert!(!outcome.is_error, "{}", outcome.text);
    let lines = outcome.structured.unwrap()["lines"].clone();
    // Before `since` and below `min_level` are left out; lines without a
    // time or level are kept.
    assert_eq!(lines.as_array().unwrap().len(), 2, "{lines}");
    assert_eq!(lines[1]["message"], json!("relation \"t\" does not exist"));
    assert_eq!(lines[1]["severity"], json!("ERROR"));
    assert_eq!(lines[1]["sql_state"], json!("42P01"));
    assert_eq!(lines[0]["message"], json!("plain text from an init script"));
}
