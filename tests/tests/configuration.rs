//! The configuration, upgrade, image catalog and certificate tools through
//! MCP over HTTP against the real CloudNativePG operator (v1.30.0) and its
//! webhooks: what each tool refuses before sending, what the webhook
//! refuses, what lands in the spec, and what the operator does with it as
//! far as the bed lets it (no PostgreSQL runs: a major upgrade is seen up
//! to the operator deleting the pods and creating the upgrade Job).

use cnpg_mcp_tests::cnpg::{
    TEST_IMAGE_REPOSITORY, ToolServer, api, clusters, eventually, pvcs, read, resource, secrets,
};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::TestBed;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::{Value, json};

fn image(tag: &str) -> String {
    format!("{TEST_IMAGE_REPOSITORY}:{tag}")
}

fn structured(result: &Value) -> Value {
    result["structuredContent"].clone()
}

async fn cluster_with_data_major(tools: &mut ToolServer, bed: &TestBed, ns: &str, name: &str, instances: u32) {
    tools
        .ok(
            "create_postgres_cluster",
            json!({"name": name, "instances": instances, "storage_size": "1Gi", "namespace": ns,
                   "postgres_version": "16"}),
        )
        .await;
    eventually("the operator records the data's major version", || async {
        let cluster = read(bed, ns, &clusters(), name).await?;
        (cluster["status"]["pgDataImageInfo"]["majorVersion"] == json!(16)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_changes_are_checked_diffed_and_land_in_the_spec() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("config").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    cluster_with_data_major(&mut tools, bed, &ns, "pg", 2).await;
    let spec = |cluster: Value| cluster["spec"].clone();
    let before = spec(read(bed, &ns, &clusters(), "pg").await.unwrap());

    // Refused before sending: fixed and blocked parameters, with what to
    // use instead; nothing changes.
    let text = tools
        .fails(
            "update_cluster_configuration",
            json!({"name": "pg", "namespace": ns, "parameters": {
                "shared_preload_libraries": "pg_stat_statements", "listen_addresses": "*", "work_mem": "8MB"}}),
        )
        .await;
    assert!(text.contains("`shared_preload_libraries` argument"), "{text}");
    assert!(
        text.contains("`listen_addresses` must keep the operator's value"),
        "{text}"
    );
    assert!(!text.contains("work_mem"), "{text}");
    let text = tools
        .fails(
            "update_cluster_configuration",
            json!({"name": "pg", "namespace": ns, "synchronous": {"method": "any", "number": 2}}),
        )
        .await;
    assert!(text.contains("must be less than the instances (2)"), "{text}");
    assert_eq!(spec(read(bed, &ns, &clusters(), "pg").await.unwrap()), before);

    // What only the webhook knows is its refusal, in its words.
    let text = tools
        .fails(
            "update_cluster_configuration",
            json!({"name": "pg", "namespace": ns, "parameters": {"shared_buffers": "lots"}}),
        )
        .await;
    assert!(text.contains("shared_buffers"), "{text}");
    assert_eq!(spec(read(bed, &ns, &clusters(), "pg").await.unwrap()), before);

    // Dry run: the webhooks' verdict and the diff, nothing stored.
    let arguments = json!({"name": "pg", "namespace": ns,
        "parameters": {"max_connections": "200", "work_mem": "8MB"},
        "pg_hba": ["hostssl app app 10.0.0.0/8 scram-sha-256"],
        "resources": {"memory_request": "512Mi", "memory_limit": "1Gi"}});
    let mut dry = arguments.clone();
    dry["dry_run"] = json!(true);
    let answer = structured(&tools.ok("update_cluster_configuration", dry).await);
    assert_eq!(answer["dry_run"], json!(true));
    assert!(
        answer["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == json!("postgresql.parameters.max_connections") && c["after"] == json!("200")),
        "{answer}"
    );
    assert_eq!(spec(read(bed, &ns, &clusters(), "pg").await.unwrap()), before);

    let result = tools.ok("update_cluster_configuration", arguments).await;
    let answer = structured(&result);
    let fields: Vec<&str> = answer["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    for field in [
        "postgresql.parameters.max_connections",
        "postgresql.parameters.work_mem",
        "postgresql.pg_hba",
        "resources.requests.memory",
        "resources.limits.memory",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert_eq!(answer["apply"]["restart_for"], json!(["max_connections"]));
    assert_eq!(
        answer["apply"]["rollout_for"],
        json!(["resources.limits", "resources.requests"])
    );
    assert!(first_text(&result).contains("Needs a PostgreSQL restart (max_connections)"));
    let stored = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert_eq!(
        stored["spec"]["postgresql"]["parameters"]["max_connections"],
        json!("200")
    );
    assert_eq!(
        stored["spec"]["postgresql"]["pg_hba"],
        json!(["hostssl app app 10.0.0.0/8 scram-sha-256"])
    );
    assert_eq!(stored["spec"]["resources"]["limits"]["memory"], json!("1Gi"));

    // Removing a parameter, a reload-only change.
    let answer = structured(
        &tools
            .ok(
                "update_cluster_configuration",
                json!({"name": "pg", "namespace": ns, "parameters": {"work_mem": null}}),
            )
            .await,
    );
    assert_eq!(answer["apply"]["reload_only"], json!(true), "{answer}");
    let stored = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert!(stored["spec"]["postgresql"]["parameters"]["work_mem"].is_null());

    // Synchronous replication on, then off again.
    tools
        .ok(
            "update_cluster_configuration",
            json!({"name": "pg", "namespace": ns,
                   "synchronous": {"method": "any", "number": 1, "data_durability": "preferred"}}),
        )
        .await;
    let stored = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert_eq!(stored["spec"]["postgresql"]["synchronous"]["method"], json!("any"));
    assert_eq!(
        stored["spec"]["postgresql"]["synchronous"]["dataDurability"],
        json!("preferred")
    );
    tools
        .ok(
            "update_cluster_configuration",
            json!({"name": "pg", "namespace": ns, "disable_synchronous": true}),
        )
        .await;
    let stored = read(bed, &ns, &clusters(), "pg").await.unwrap();
    assert!(
        stored["spec"]["postgresql"]["synchronous"].is_null(),
        "{}",
        stored["spec"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrades_and_image_catalogs_against_the_operator() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("upgrade").await.unwrap();
    let mut tools = ToolServer::start(bed, &[]).await;
    cluster_with_data_major(&mut tools, bed, &ns, "pg", 1).await;
    let stored = || async { read(bed, &ns, &clusters(), "pg").await.unwrap() };

    // Minor: the image changes, the data's major stays.
    let result = tools
        .ok(
            "upgrade_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "image": image("16.4")}),
        )
        .await;
    assert!(
        first_text(&result).contains("Same major (16)"),
        "{}",
        first_text(&result)
    );
    assert_eq!(stored().await["spec"]["imageName"], json!(image("16.4")));
    let text = tools
        .fails(
            "upgrade_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "image": image("16.4")}),
        )
        .await;
    assert!(text.contains("already uses"), "{text}");

    // Refusals before sending: downgrade, unreadable tags.
    for (tag, expected) in [("15.8", "downgrade from major 16 to 15"), ("latest", "`latest`")] {
        let text = tools
            .fails(
                "upgrade_postgres_cluster",
                json!({"name": "pg", "namespace": ns, "image": image(tag)}),
            )
            .await;
        assert!(text.contains(expected), "{tag}: {text}");
    }

    // Catalogs: the tag must name the listed major; then create, list.
    let text = tools
        .fails(
            "create_image_catalog",
            json!({"name": "pg-images", "namespace": ns, "images": [{"major": 17, "image": image("16.4")}]}),
        )
        .await;
    assert!(
        text.contains("PostgreSQL 16 by its tag but listed as major 17"),
        "{text}"
    );
    tools
        .ok(
            "create_image_catalog",
            json!({"name": "pg-images", "namespace": ns, "images": [
                {"major": 16, "image": image("16.6")}, {"major": 17, "image": image("17.2")}]}),
        )
        .await;
    let catalog = read(
        bed,
        &ns,
        &resource("postgresql.cnpg.io", "ImageCatalog", "imagecatalogs"),
        "pg-images",
    )
    .await
    .unwrap();
    assert_eq!(
        catalog["spec"]["images"][1],
        json!({"major": 17, "image": image("17.2")})
    );
    let text = tools
        .fails(
            "upgrade_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "catalog": {"name": "pg-images", "major": 18}}),
        )
        .await;
    assert!(text.contains("has no image for major 18 (it lists 16, 17)"), "{text}");

    // The cluster moves to the catalog: imageName goes, the reference comes.
    tools
        .ok(
            "upgrade_postgres_cluster",
            json!({"name": "pg", "namespace": ns, "catalog": {"name": "pg-images", "major": 16}}),
        )
        .await;
    let cluster = stored().await;
    assert!(cluster["spec"]["imageName"].is_null(), "{}", cluster["spec"]);
    assert_eq!(
        cluster["spec"]["imageCatalogRef"],
        json!({"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "pg-images", "major": 16})
    );
    eventually("the operator takes the catalog's image", || async {
        (stored().await["status"]["image"] == json!(image("16.6"))).then_some(())
    })
    .await;
    let listed = structured(&tools.ok("list_image_catalogs", json!({"namespace": ns})).await);
    assert_eq!(listed["catalogs"][0]["used_by"][0]["cluster"], json!("pg"), "{listed}");

    // Deleting a catalog in use is refused; it stays.
    let text = tools
        .fails(
            "delete_image_catalog",
            json!({"name": "pg-images", "namespace": ns, "confirm_deletion": true}),
        )
        .await;
    assert!(text.contains("is used by"), "{text}");

    // Major: the backup check, then confirmation, then the operator's
    // offline upgrade starts.
    let upgrade = json!({"name": "pg", "namespace": ns, "catalog": {"name": "pg-images", "major": 17}});
    let text = tools.fails("upgrade_postgres_cluster", upgrade.clone()).await;
    assert!(text.contains("has no completed backup"), "{text}");
    let mut confirmed = upgrade.clone();
    confirmed["without_backup"] = json!(true);
    let refused = tools
        .session
        .call_tool("upgrade_postgres_cluster", confirmed.clone())
        .await;
    assert_eq!(
        structured(&refused)["reason"],
        json!("confirmation-required"),
        "{}",
        first_text(&refused)
    );
    assert!(
        first_text(&refused).contains("NO completed backup"),
        "{}",
        first_text(&refused)
    );
    assert_eq!(stored().await["spec"]["imageCatalogRef"]["major"], json!(16));
    confirmed["confirm_major_upgrade"] = json!(true);
    // Emulated: the primary's volume carries the role label the operator
    // sets once the instance manager reports PostgreSQL as primary (no
    // PostgreSQL runs here); the upgrade Job is placed on that volume.
    api(bed, &ns, &pvcs())
        .await
        .patch(
            "pg-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"cnpg.io/instanceRole": "primary"}}})),
        )
        .await
        .unwrap();
    let result = tools.ok("upgrade_postgres_cluster", confirmed).await;
    assert!(
        first_text(&result).contains("major upgrade 16 -> 17"),
        "{}",
        first_text(&result)
    );
    eventually("the operator starts the in-place major upgrade", || async {
        let cluster = stored().await;
        (cluster["status"]["phase"] == json!("Upgrading Postgres major version")).then_some(())
    })
    .await;
    let jobs = api(bed, &ns, &resource("batch", "Job", "jobs")).await;
    let job = eventually("the major-upgrade Job", || async {
        let listed = jobs
            .list(&ListParams::default().labels("cnpg.io/jobRole=major-upgrade"))
            .await
            .ok()?;
        listed
            .items
            .first()
            .map(|j| j.metadata.name.clone().unwrap_or_default())
    })
    .await;
    assert!(job.ends_with("-major-upgrade"), "{job}");
    assert_eq!(
        stored().await["status"]["targetPgDataImageInfo"]["majorVersion"],
        json!(17)
    );

    // Catalog deletion with the user's say-so.
    tools
        .ok(
            "delete_image_catalog",
            json!({"name": "pg-images", "namespace": ns, "confirm_deletion": true, "even_if_used": true}),
        )
        .await;
    assert!(
        read(
            bed,
            &ns,
            &resource("postgresql.cnpg.io", "ImageCatalog", "imagecatalogs"),
            "pg-images"
        )
        .await
        .is_none()
    );
}

fn openssl(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn secret_text(secret: &Value, key: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][key].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn opt_in_components_load_only_when_named() {
    let bed = TestBed::shared_with_operator().await;
    let ns = bed.namespace("optin").await.unwrap();

    // Not loaded by default.
    let mut tools = ToolServer::start(bed, &[]).await;
    let listed = tools.session.call("tools/list", json!({})).await;
    let names: Vec<String> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"upgrade_postgres_cluster".to_string()));
    for opt_in in ["issue_client_certificate", "list_cluster_image_catalogs"] {
        assert!(!names.contains(&opt_in.to_string()), "{opt_in} loaded by default");
    }
    drop(tools);

    let mut tools = ToolServer::start(
        bed,
        &["--enable-builtin", "cnpg-cluster-image-catalogs,cnpg-certificates"],
    )
    .await;
    cluster_with_data_major(&mut tools, bed, &ns, "pg", 1).await;

    // Cluster-wide catalogs.
    let catalog = format!("{ns}-images");
    tools
        .ok(
            "create_cluster_image_catalog",
            json!({"name": catalog, "images": [{"major": 16, "image": image("16.6")}]}),
        )
        .await;
    tools
        .ok(
            "upgrade_postgres_cluster",
            json!({"name": "pg", "namespace": ns,
                   "catalog": {"name": catalog, "kind": "ClusterImageCatalog", "major": 16}}),
        )
        .await;
    let listed = structured(&tools.ok("list_cluster_image_catalogs", json!({})).await);
    let entry = listed["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(catalog))
        .cloned()
        .unwrap();
    assert_eq!(
        entry["used_by"],
        json!([{"namespace": ns, "cluster": "pg", "major": 16}])
    );
    let text = tools
        .fails(
            "delete_cluster_image_catalog",
            json!({"name": catalog, "confirm_deletion": true}),
        )
        .await;
    assert!(text.contains(&format!("used by {ns}/pg")), "{text}");
    tools
        .ok(
            "delete_cluster_image_catalog",
            json!({"name": catalog, "confirm_deletion": true, "even_if_used": true}),
        )
        .await;

    // A client certificate signed by the cluster's client CA, which the
    // operator created.
    eventually("the operator's client CA Secret", || async {
        read(bed, &ns, &secrets(), "pg-ca").await
    })
    .await;
    let text = tools
        .fails(
            "issue_client_certificate",
            json!({"cluster_name": "pg", "namespace": ns, "user": "app", "secret_name": "app-tls"}),
        )
        .await;
    assert!(text.contains("`*-client-cert`"), "{text}");
    let result = tools
        .ok(
            "issue_client_certificate",
            json!({"cluster_name": "pg", "namespace": ns, "user": "app"}),
        )
        .await;
    let text = first_text(&result);
    assert!(!text.contains("PRIVATE KEY-----"), "the key leaked: {text}");
    assert!(!result["structuredContent"].to_string().contains("PRIVATE KEY-----"));
    let secret = read(bed, &ns, &secrets(), "pg-app-client-cert").await.unwrap();
    assert_eq!(secret["type"], json!("kubernetes.io/tls"));
    let ca = read(bed, &ns, &secrets(), "pg-ca").await.unwrap();
    let dir = cnpg_mcp_tests::tempdir::TempDir::new("client-cert");
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(path("ca.crt"), secret_text(&ca, "ca.crt")).unwrap();
    std::fs::write(path("tls.crt"), secret_text(&secret, "tls.crt")).unwrap();
    std::fs::write(path("tls.key"), secret_text(&secret, "tls.key")).unwrap();
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        &path("ca.crt"),
        "-purpose",
        "sslclient",
        &path("tls.crt"),
    ]);
    assert!(ok, "{out}");
    let (_, subject) = openssl(&["x509", "-in", &path("tls.crt"), "-noout", "-subject"]);
    assert!(subject.contains("CN=app") || subject.contains("CN = app"), "{subject}");
    let (_, cert_key) = openssl(&["x509", "-in", &path("tls.crt"), "-noout", "-pubkey"]);
    let (_, key_pub) = openssl(&["pkey", "-in", &path("tls.key"), "-pubout"]);
    assert_eq!(cert_key, key_pub, "tls.key does not belong to tls.crt");
    let text = tools
        .fails(
            "issue_client_certificate",
            json!({"cluster_name": "pg", "namespace": ns, "user": "app"}),
        )
        .await;
    assert!(text.contains("exists already"), "{text}");
}
