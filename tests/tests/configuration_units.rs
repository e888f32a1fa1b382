//! Guards of the configuration, upgrade and certificate tools under
//! wasmtime with a scripted `k8s` host (`cnpg_mcp::testkit`): what is
//! refused is refused before any write (often before any call), and the
//! bodies sent are exactly the ones described. The integration tests
//! (`configuration.rs`) run the same tools against the real operator.

use base64::Engine;
use cnpg_mcp::testkit::ClientScript;
use cnpg_mcp_tests::units::{NS, clean, harness, list_of, ok};
use serde_json::{Value, json};

fn cluster(extra_spec: Value, status: Value) -> Value {
    let mut spec = json!({"instances": 3, "imageName": "postgres:16.4", "storage": {"size": "1Gi"}});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"metadata": {"name": "pg", "namespace": NS, "uid": "u-pg", "resourceVersion": "7"},
           "spec": spec, "status": status})
}

#[tokio::test]
async fn refused_parameters_never_reach_a_patch() {
    let outcome = harness("cnpg_configuration")
        .call(
            "update_cluster_configuration",
            json!({"name": "pg", "namespace": NS,
                   "parameters": {"archive_command": "/bin/true", "max_connections": "300"}}),
            vec![ok("get", "clusters", Some("pg"), cluster(json!({}), json!({})))],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(
        outcome.text.contains("`archive_command` is managed by the operator"),
        "{}",
        outcome.text
    );
    assert!(outcome.writes().is_empty());
}

#[tokio::test]
async fn synchronous_replication_replaces_the_legacy_fields_in_one_patch() {
    let before = cluster(json!({"minSyncReplicas": 1, "maxSyncReplicas": 2}), json!({}));
    let mut after = before.clone();
    after["spec"]["minSyncReplicas"] = json!(0);
    after["spec"]["maxSyncReplicas"] = json!(0);
    after["spec"]["postgresql"] =
        json!({"synchronous": {"method": "first", "number": 1, "dataDurability": "required"}});
    let outcome = harness("cnpg_configuration")
        .call(
            "update_cluster_configuration",
            json!({"name": "pg", "namespace": NS, "synchronous": {"method": "first", "number": 1}}),
            vec![
                ok("get", "clusters", Some("pg"), before),
                ok("patch", "clusters", Some("pg"), after),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let sent = &outcome.writes()[0].body.as_ref().unwrap()["merge-patch"];
    assert_eq!(
        sent,
        &json!({"spec": {"minSyncReplicas": 0, "maxSyncReplicas": 0, "postgresql": {"synchronous": {
            "method": "first", "number": 1, "dataDurability": null, "maxStandbyNamesFromCluster": null,
            "standbyNamesPre": null, "standbyNamesPost": null, "failoverQuorum": null}}}})
    );
    let changes = outcome.structured.unwrap()["changes"].clone();
    assert!(
        changes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == json!("maxSyncReplicas") && c["after"] == json!(0)),
        "{changes}"
    );
}

#[tokio::test]
async fn a_downgrade_is_refused_after_reading_only_the_cluster() {
    let outcome = harness("cnpg_upgrades")
        .call(
            "upgrade_postgres_cluster",
            json!({"name": "pg", "namespace": NS, "image": "postgres:15.8"}),
            vec![ok(
                "get",
                "clusters",
                Some("pg"),
                cluster(json!({}), json!({"pgDataImageInfo": {"majorVersion": 16}})),
            )],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(
        outcome.text.contains("downgrade from major 16 to 15"),
        "{}",
        outcome.text
    );
}

#[tokio::test]
async fn a_major_upgrade_names_the_newest_completed_backup_in_its_question() {
    let backups = list_of(vec![
        json!({"metadata": {"name": "old"}, "spec": {"cluster": {"name": "pg"}},
               "status": {"phase": "completed", "stoppedAt": "2026-12-01T10:00:00Z"}}),
        json!({"metadata": {"name": "new"}, "spec": {"cluster": {"name": "pg"}},
               "status": {"phase": "completed", "stoppedAt": "2026-12-05T10:00:00Z"}}),
        json!({"metadata": {"name": "broken"}, "spec": {"cluster": {"name": "pg"}},
               "status": {"phase": "failed", "stoppedAt": "2026-12-06T10:00:00Z"}}),
    ]);
    let outcome = harness("cnpg_upgrades")
        .call(
            "upgrade_postgres_cluster",
            json!({"name": "pg", "namespace": NS, "image": "postgres:17.2"}),
            vec![
                ok(
                    "get",
                    "clusters",
                    Some("pg"),
                    cluster(json!({}), json!({"pgDataImageInfo": {"majorVersion": 16}})),
                ),
                ok("list", "backups", None, backups),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    let structured = outcome.structured.unwrap();
    assert_eq!(structured["reason"], json!("confirmation-required"));
    assert!(
        outcome
            .text
            .contains("the newest completed backup is new, finished 2026-12-05T10:00:00Z"),
        "{}",
        outcome.text
    );
    assert_eq!(
        structured["confirming_call"]["arguments"]["confirm_major_upgrade"],
        json!(true)
    );
}

fn openssl(args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// A client CA made the way the operator makes one: ECDSA P-256, the key
/// as `EC PRIVATE KEY`.
fn ca_secret(with_key: bool) -> Value {
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("unit-ca");
    let key = dir.path().join("ca.key");
    let crt = dir.path().join("ca.crt");
    let (key, crt) = (key.to_str().unwrap(), crt.to_str().unwrap());
    openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key,
        "-subj",
        "/OU=db/CN=pg",
        "-days",
        "30",
        "-out",
        crt,
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    let b64 = |path: &str| base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap());
    let mut data = json!({"ca.crt": b64(crt)});
    if with_key {
        data["ca.key"] = json!(b64(key));
    }
    json!({"metadata": {"name": "pg-ca", "namespace": NS}, "data": data})
}

#[tokio::test]
async fn certificates_are_refused_before_any_call_or_without_the_ca_key() {
    let outcome = harness("cnpg_certificates")
        .call(
            "issue_client_certificate",
            json!({"cluster_name": "pg", "namespace": NS, "user": "app", "secret_name": "app-tls"}),
            vec![],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(outcome.exchanges.is_empty(), "{:?}", outcome.exchanges);

    let outcome = harness("cnpg_certificates")
        .call(
            "issue_client_certificate",
            json!({"cluster_name": "pg", "namespace": NS, "user": "postgres"}),
            vec![],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(
        outcome.is_error && outcome.text.contains("`postgres`"),
        "{}",
        outcome.text
    );

    let outcome = harness("cnpg_certificates")
        .call(
            "issue_client_certificate",
            json!({"cluster_name": "pg", "namespace": NS, "user": "app"}),
            vec![
                ok("get", "clusters", Some("pg"), cluster(json!({}), json!({}))),
                ok("get", "core/secrets", Some("pg-ca"), ca_secret(false)),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(outcome.is_error);
    assert!(outcome.text.contains("ca.key"), "{}", outcome.text);
    assert!(outcome.writes().is_empty());
}

#[tokio::test]
async fn the_issued_key_goes_into_the_secret_and_nowhere_else() {
    let created = json!({"metadata": {"name": "pg-app-client-cert", "uid": "u-s"}});
    let outcome = harness("cnpg_certificates")
        .call(
            "issue_client_certificate",
            json!({"cluster_name": "pg", "namespace": NS, "user": "app"}),
            vec![
                ok("get", "clusters", Some("pg"), cluster(json!({}), json!({}))),
                ok("get", "core/secrets", Some("pg-ca"), ca_secret(true)),
                ok("create", "core/secrets", None, created),
            ],
            ClientScript::default(),
        )
        .await
        .unwrap();
    clean(&outcome);
    assert!(!outcome.is_error, "{}", outcome.text);
    let sent = outcome.writes()[0].body.clone().unwrap();
    assert_eq!(sent["type"], json!("kubernetes.io/tls"));
    assert_eq!(sent["metadata"]["name"], json!("pg-app-client-cert"));
    assert_eq!(
        sent["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "cloudnative-pg"})
    );
    let key = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(sent["data"]["tls.key"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(key.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{key}");
    let secret_line = key.lines().nth(1).unwrap().to_string();
    let answer: Value = outcome.structured.clone().unwrap();
    assert!(!outcome.text.contains(&secret_line));
    assert!(!answer.to_string().contains(&secret_line));
    assert!(!answer.to_string().contains("PRIVATE KEY-----"));
    assert_eq!(answer["result"]["certificate"]["subject"], json!("CN=app"), "{answer}");
}
