//! The deployment: the Helm chart renders (helm built from Go modules) with
//! default and full values and the real API server accepts every object
//! (real creates, RBAC included); the RBAC files stay generated from the
//! grants; the plain manifests are the rendered chart; and the RBAC proof —
//! the chart's service account with each profile runs the tools against
//! the real API server, and with impersonation the callers' RBAC decides.

use std::time::{Duration, Instant};

use cnpg_mcp_tests::cnpg::{
    ToolServer, add_instance, clusters, create, database_roles, databases, healthy_status, patch_status,
};
use cnpg_mcp_tests::deploy::{chart, create_all, find, render, render_error, render_text, repo_root};
use cnpg_mcp_tests::testbed::TestBed;
use cnpg_mcp_tests::{Server, Session, first_text};
use serde_json::{Value, json};

fn deployment(objects: &[Value]) -> Value {
    find(objects, "Deployment")[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_defaults_render_locked_down_and_are_accepted_by_the_api_server() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("chart-default").await.unwrap();
    let objects = render(&format!("mcp-{ns}"), &ns, &[]);
    for kind in [
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ] {
        assert_eq!(find(&objects, kind).len(), 1, "{kind}");
    }
    assert!(find(&objects, "Ingress").is_empty() && find(&objects, "HorizontalPodAutoscaler").is_empty());
    let deploy = deployment(&objects);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], json!(true));
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        json!("RuntimeDefault")
    );
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], json!(true));
    assert_eq!(sc["allowPrivilegeEscalation"], json!(false));
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], json!("/healthz"));
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], json!("/readyz"));
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert!(mounts.contains(&"/cache") && mounts.contains(&"/tmp"), "{mounts:?}");
    let config = &find(&objects, "ConfigMap")[0]["data"];
    assert_eq!(config["BIND_ADDRESS"], json!("0.0.0.0"));
    assert_eq!(config["CNPG_MCP_CACHE_DIR"], json!("/cache"));
    assert_eq!(config["METRICS_PORT"], json!("9090"));
    // The default RBAC is the generated operator profile, in the release namespace.
    let role = find(&objects, "Role")[0];
    assert_eq!(role["metadata"]["namespace"], json!(ns));
    assert!(role["metadata"]["name"].as_str().unwrap().ends_with("-operator"));
    create_all(bed, &ns, &objects).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_with_every_option_renders_and_is_accepted() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("chart-full").await.unwrap();
    let values = repo_root().join("tests/helm/full-values.yaml");
    let objects = render(&format!("mcp-{ns}"), &ns, &["-f", values.to_str().unwrap()]);
    let ingress = find(&objects, "Ingress")[0];
    assert_eq!(ingress["spec"]["tls"][0]["secretName"], json!("mcp-tls"));
    assert_eq!(find(&objects, "HorizontalPodAutoscaler").len(), 1);
    assert_eq!(
        find(&objects, "ServiceMonitor")[0]["spec"]["endpoints"][0]["port"],
        json!("metrics")
    );
    let deploy = deployment(&objects);
    assert!(
        deploy["spec"].get("replicas").is_none(),
        "the HPA owns the replica count"
    );
    let config = &find(&objects, "ConfigMap")
        .iter()
        .find(|c| c["data"].get("OIDC_ISSUER").is_some())
        .unwrap()["data"];
    for (key, value) in [
        ("OIDC_ISSUER", "https://sso.example.com/realms/platform"),
        ("OIDC_TYP", "legacy-jwt"),
        ("OIDC_WRITE_SCOPE", "mcp:write"),
        ("OIDC_TOOL_SCOPES", "delete_postgres_cluster=mcp:admin"),
        ("DCR_PROXY_URL", "https://sso.example.com/register"),
        ("PUBLIC_URL", "https://mcp.example.com/mcp"),
        ("ALLOWED_ORIGINS", "https://inspector.example.com"),
        ("CNPG_MCP_AUDIT_LOG", "/audit/audit.jsonl"),
        ("CNPG_MCP_COMPONENTS", "/components"),
        ("OAUTH_FACADE", "true"),
        ("FACADE_ISSUER", "https://mcp.example.com"),
        ("FACADE_STORE", "kubernetes"),
        ("FACADE_TRANSLATOR", "dcr-rfc7591"),
        ("FACADE_UPSTREAM_PARAMS", "audience=https://api.example.com"),
        ("FACADE_SIGNING_KEY_FILE", "/etc/cnpg-mcp/facade/signing-key.pem"),
        ("FACADE_CIMD", "true"),
        ("FACADE_REGISTRATIONS_PER_MINUTE", "12"),
        ("FACADE_CIMD_ALLOWED_HOSTS", "claude.ai,app.example.com"),
        (
            "FACADE_TRANSLATOR_GRANT",
            "/etc/cnpg-mcp/facade-grant/translator.grant.toml",
        ),
    ] {
        assert_eq!(config[key], json!(value), "{key}");
    }
    // The facade's generated signing key is one the server reads, and its
    // store gets Secrets in the release namespace only.
    let facade_secret = find(&objects, "Secret")
        .into_iter()
        .find(|s| s["metadata"]["name"].as_str().unwrap().ends_with("-facade"))
        .expect("the facade Secret");
    let pem = {
        use base64::Engine as _;
        let encoded = facade_secret["data"]["signing-key.pem"].as_str().unwrap();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
    };
    cnpg_mcp::facade::seal::SigningKey::from_pem(&pem).expect("the chart's signing key loads");
    assert!(facade_secret["data"].get("initial-access-token").is_some());
    let store_role = find(&objects, "Role")
        .into_iter()
        .find(|r| r["metadata"]["name"].as_str().unwrap().ends_with("-facade-store"))
        .expect("the facade store Role");
    assert_eq!(store_role["metadata"]["namespace"], json!(ns));
    assert_eq!(store_role["rules"][0]["resources"], json!(["secrets"]));
    let env = &deployment(&objects)["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "DCR_INITIAL_ACCESS_TOKEN"
                && e["valueFrom"]["secretKeyRef"]["key"] == "initial-access-token"),
        "{env}"
    );
    let grants = find(&objects, "ConfigMap")
        .into_iter()
        .find(|c| c["data"].get("cnpg-clusters.grant.toml").is_some());
    assert!(grants.is_some(), "the grant override ConfigMap is rendered");
    assert!(
        find(&objects, "Role")[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .ends_with("-admin")
    );
    // No ServiceMonitor CRD in the test bed (no Prometheus operator): the rest is created for real.
    let creatable: Vec<Value> = objects.into_iter().filter(|o| o["kind"] != "ServiceMonitor").collect();
    create_all(bed, &ns, &creatable).await.unwrap();

    // Cluster-wide RBAC and the impersonator profile are ClusterRoles.
    let wide = render(
        &format!("wide-{ns}"),
        &ns,
        &["--set", "rbac.clusterWide=true", "--set", "rbac.profile=reader"],
    );
    let role = find(&wide, "ClusterRole")[0];
    assert!(
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"].as_array().unwrap().contains(&json!("namespaces"))),
        "{role}"
    );
    let rbac: Vec<Value> = wide
        .into_iter()
        .filter(|o| o["kind"].as_str().unwrap().starts_with("Cluster"))
        .collect();
    create_all(bed, &ns, &rbac).await.unwrap();
    let imp = render(&format!("imp-{ns}"), &ns, &["--set", "impersonation.enabled=true"]);
    let role = find(&imp, "ClusterRole")[0];
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": [""], "resources": ["groups", "users"], "verbs": ["impersonate"]}])
    );
    assert_eq!(
        find(&imp, "ConfigMap")[0]["data"]["CNPG_MCP_IMPERSONATE"],
        json!("true")
    );

    // Contradictory component sources are refused at render time.
    let error = render_error(&[
        "--set",
        "components.configMap=a",
        "--set",
        "components.volume.emptyDir.medium=Memory",
    ]);
    assert!(error.contains("components.volume cannot be combined"), "{error}");
    // An OCI artifact becomes an image volume.
    let objects = render(
        "img",
        &ns,
        &["--set", "components.image.reference=registry.test/tools:1"],
    );
    let volumes = deployment(&objects)["spec"]["template"]["spec"]["volumes"].clone();
    assert!(
        volumes
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["image"]["reference"] == json!("registry.test/tools:1")),
        "{volumes}"
    );
}

/// `cnpg-mcp rbac ARGS --rules-only` for a namespaced and a cluster-wide
/// profile equals the committed `files/rbac/<prefix><profile>[-cluster].json`.
fn assert_rbac_file_generated(prefix: &str, profile: &str, args: &[&str]) {
    for (suffix, extra) in [("", vec!["--namespace", "x"]), ("-cluster", vec!["--cluster-wide"])] {
        let output = std::process::Command::new(cnpg_mcp_tests::binary())
            .args(["rbac", "--profile", profile, "--rules-only"])
            .args(args)
            .args(&extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let generated: Value = serde_json::from_slice(&output.stdout).unwrap();
        let file = chart().join(format!("files/rbac/{prefix}{profile}{suffix}.json"));
        let committed: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            generated,
            committed,
            "{} is stale: run scripts/generate-deploy.sh",
            file.display()
        );
    }
}

#[test]
fn chart_rbac_files_are_generated_from_the_grants() {
    for profile in ["reader", "operator", "admin", "impersonator"] {
        assert_rbac_file_generated("", profile, &[]);
    }
}

#[test]
fn opt_in_rbac_files_are_generated_and_added_only_when_enabled() {
    for component in ["cnpg-cluster-image-catalogs", "cnpg-certificates"] {
        for profile in ["reader", "operator", "admin"] {
            assert_rbac_file_generated(
                &format!("opt-in/{component}/"),
                profile,
                &["--enable-builtin", component, "--component", component],
            );
        }
    }
    // Not named: not loadable by `--component` either.
    let output = std::process::Command::new(cnpg_mcp_tests::binary())
        .args([
            "rbac",
            "--profile",
            "admin",
            "--rules-only",
            "--component",
            "cnpg-certificates",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--enable-builtin cnpg-certificates"));

    let secret_rules = |objects: &[Value]| -> Vec<Value> {
        objects
            .iter()
            .filter(|o| o["kind"] == json!("Role"))
            .flat_map(|o| o["rules"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["resources"].as_array().is_some_and(|l| l.contains(&json!("secrets"))))
            .collect()
    };
    let default = render("cnpg-mcp", "db", &[]);
    let before = secret_rules(&default);
    let config = |objects: &[Value]| {
        objects
            .iter()
            .find(|o| o["kind"] == json!("ConfigMap") && o["data"]["MCP_TRANSPORT"].is_string())
            .map(|o| o["data"].clone())
            .unwrap_or(Value::Null)
    };
    assert!(config(&default)["CNPG_MCP_ENABLE_BUILTIN"].is_null());
    let enabled = render(
        "cnpg-mcp",
        "db",
        &[
            "--set",
            "components.enableBuiltin={cnpg-certificates,cnpg-cluster-image-catalogs}",
        ],
    );
    assert_eq!(
        config(&enabled)["CNPG_MCP_ENABLE_BUILTIN"],
        json!("cnpg-certificates,cnpg-cluster-image-catalogs")
    );
    let added: Vec<Value> = secret_rules(&enabled)
        .into_iter()
        .filter(|r| !before.contains(r))
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["verbs"], json!(["get", "create"]));
    let error = render_error(&["--set", "components.enableBuiltin={cnpg-nothing}"]);
    assert!(
        error.contains("cnpg-nothing is not an opt-in built-in component"),
        "{error}"
    );
}

#[test]
fn plain_manifests_are_the_rendered_chart() {
    let rendered = render_text(
        "cnpg-mcp",
        "cnpg-mcp",
        &["--set", "requestStateKey.existingSecret=cnpg-mcp-state-key"],
    );
    let committed = std::fs::read_to_string(repo_root().join("deploy/manifests/cnpg-mcp.yaml")).unwrap();
    // The file is a comment header, then the rendered chart.
    let body = committed
        .find("\n---\n")
        .map(|at| &committed[at + 1..])
        .unwrap_or_default();
    assert_eq!(
        body, rendered,
        "deploy/manifests/cnpg-mcp.yaml is stale: run scripts/generate-deploy.sh"
    );
}

/// Creates the rendered ServiceAccount and RBAC objects (Role/ClusterRole
/// and their bindings) for real, and returns the account's name.
async fn create_service_account_and_rbac(bed: &TestBed, ns: &str, objects: &[Value]) -> String {
    let rbac: Vec<Value> = objects
        .iter()
        .filter(|o| {
            matches!(
                o["kind"].as_str(),
                Some("ServiceAccount" | "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding")
            )
        })
        .cloned()
        .collect();
    create_all(bed, ns, &rbac).await.unwrap();
    find(objects, "ServiceAccount")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Tools and whether each profile may run them.
#[derive(Clone, Copy, PartialEq)]
enum Need {
    Read,
    Write,
    Delete,
}

#[tokio::test(flavor = "multi_thread")]
async fn rbac_profiles_allow_exactly_their_tools() {
    let bed = TestBed::shared().await;
    for profile in ["reader", "operator", "admin"] {
        let ns = bed.namespace(&format!("rbac-{profile}")).await.unwrap();
        let release = format!("p-{profile}");
        let objects = render(&release, &ns, &["--set", &format!("rbac.profile={profile}")]);
        let account = create_service_account_and_rbac(bed, &ns, &objects).await;

        // The operator's part: a healthy cluster with two instances, a role and a database.
        create(
            bed,
            &ns,
            &clusters(),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": "pg"}, "spec": {"instances": 3, "storage": {"size": "1Gi"},
                                                  "imageName": "registry.test/cnpg/postgresql:16",
                                                  "backup": {"volumeSnapshot": {"className": "snap"}}}}),
        )
        .await;
        for i in 1..=3 {
            add_instance(bed, &ns, "pg", i, "1Gi").await;
        }
        patch_status(
            bed,
            &ns,
            &clusters(),
            "pg",
            healthy_status(&["pg-1", "pg-2", "pg-3"], "pg-1"),
        )
        .await;
        create(
            bed,
            &ns,
            &databases(),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Database",
            "metadata": {"name": "pg-old"}, "spec": {"cluster": {"name": "pg"}, "name": "old", "owner": "app"}}),
        )
        .await;
        create(
            bed,
            &ns,
            &database_roles(),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "DatabaseRole",
            "metadata": {"name": "pg-old"}, "spec": {"cluster": {"name": "pg"}, "name": "old", "login": true}}),
        )
        .await;

        // A schedule and a backup to read and delete; the backup's
        // completion is written by the test (no operator in this bed).
        create(
            bed,
            &ns,
            &cnpg_mcp_tests::cnpg::resource("postgresql.cnpg.io", "ScheduledBackup", "scheduledbackups"),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
            "metadata": {"name": "pg-old-sb"},
            "spec": {"cluster": {"name": "pg"}, "schedule": "0 0 1 * * *", "method": "volumeSnapshot"}}),
        )
        .await;
        let backups = cnpg_mcp_tests::cnpg::resource("postgresql.cnpg.io", "Backup", "backups");
        create(
            bed,
            &ns,
            &backups,
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
            "metadata": {"name": "pg-old-backup"},
            "spec": {"cluster": {"name": "pg"}, "method": "volumeSnapshot"}}),
        )
        .await;
        patch_status(
            bed,
            &ns,
            &backups,
            "pg-old-backup",
            json!({"phase": "completed", "method": "volumeSnapshot",
                   "startedAt": "2026-12-01T10:00:00Z", "stoppedAt": "2026-12-01T10:01:00Z"}),
        )
        .await;

        create(
            bed,
            &ns,
            &cnpg_mcp_tests::cnpg::resource("postgresql.cnpg.io", "Pooler", "poolers"),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Pooler", "metadata": {"name": "pg-old-pooler"},
            "spec": {"cluster": {"name": "pg"}, "pgbouncer": {"poolMode": "session"}}}),
        )
        .await;
        create(
            bed,
            &ns,
            &cnpg_mcp_tests::cnpg::resource("postgresql.cnpg.io", "Publication", "publications"),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Publication", "metadata": {"name": "pg-old-pub"},
            "spec": {"cluster": {"name": "pg"}, "name": "old_pub", "dbname": "app", "target": {"allTables": true}}}),
        )
        .await;

        create(
            bed,
            &ns,
            &cnpg_mcp_tests::cnpg::resource("postgresql.cnpg.io", "ImageCatalog", "imagecatalogs"),
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "ImageCatalog", "metadata": {"name": "old-images"},
            "spec": {"images": [{"major": 16, "image": "registry.test/cnpg/postgresql:16.2"}]}}),
        )
        .await;

        let login = bed.service_account_login(&ns, &account).await.unwrap();
        let mut tools = ToolServer::start_with_kubeconfig(bed, login.kubeconfig.to_str().unwrap(), &[]).await;

        let scenario: Vec<(&str, Value, Need)> = vec![
            ("list_postgres_clusters", json!({}), Need::Read),
            ("get_cluster_status", json!({"name": "pg"}), Need::Read),
            ("get_cluster_resize_status", json!({"name": "pg"}), Need::Read),
            ("list_postgres_roles", json!({"cluster_name": "pg"}), Need::Read),
            (
                "get_postgres_role_status",
                json!({"cluster_name": "pg", "role_name": "old"}),
                Need::Read,
            ),
            ("list_postgres_databases", json!({"cluster_name": "pg"}), Need::Read),
            (
                "get_postgres_database_status",
                json!({"cluster_name": "pg", "database_name": "old"}),
                Need::Read,
            ),
            (
                "create_postgres_cluster",
                json!({"name": "pg2", "instances": 1, "storage_size": "1Gi"}),
                Need::Write,
            ),
            (
                "scale_postgres_cluster",
                json!({"name": "pg", "instances": 4}),
                Need::Write,
            ),
            (
                "resize_postgres_cluster",
                json!({"name": "pg", "storage_size": "2Gi"}),
                Need::Write,
            ),
            (
                "create_postgres_role",
                json!({"cluster_name": "pg", "role_name": "app"}),
                Need::Write,
            ),
            (
                "update_postgres_role",
                json!({"cluster_name": "pg", "role_name": "old", "createdb": true}),
                Need::Write,
            ),
            (
                "create_postgres_database",
                json!({"cluster_name": "pg", "database_name": "app", "owner": "app"}),
                Need::Write,
            ),
            (
                "promote_cluster_instance",
                json!({"name": "pg", "instance": "2"}),
                Need::Write,
            ),
            ("list_backups", json!({"cluster_name": "pg"}), Need::Read),
            ("get_backup_status", json!({"name": "pg-old-backup"}), Need::Read),
            (
                "wait_for_backup",
                json!({"name": "pg-old-backup", "timeout": 5}),
                Need::Read,
            ),
            ("list_scheduled_backups", json!({"cluster_name": "pg"}), Need::Read),
            ("get_backup_configuration", json!({"cluster_name": "pg"}), Need::Read),
            ("get_recovery_window", json!({"cluster_name": "pg"}), Need::Read),
            (
                "configure_cluster_backup",
                json!({"cluster_name": "pg", "target": "primary"}),
                Need::Write,
            ),
            ("create_backup", json!({"cluster_name": "pg"}), Need::Write),
            (
                "create_scheduled_backup",
                json!({"cluster_name": "pg", "name": "pg-daily", "schedule": "0 0 1 * * *"}),
                Need::Write,
            ),
            (
                "update_scheduled_backup",
                json!({"name": "pg-old-sb", "suspend": true}),
                Need::Write,
            ),
            (
                "restore_postgres_cluster",
                json!({"name": "pg-restored", "source": {"backup": "pg-old-backup"}}),
                Need::Write,
            ),
            ("list_poolers", json!({"cluster_name": "pg"}), Need::Read),
            ("get_pooler_status", json!({"name": "pg-old-pooler"}), Need::Read),
            (
                "create_pooler",
                json!({"cluster_name": "pg", "name": "pg-new-pooler"}),
                Need::Write,
            ),
            (
                "update_pooler",
                json!({"name": "pg-old-pooler", "instances": 3}),
                Need::Write,
            ),
            (
                "delete_pooler",
                json!({"name": "pg-old-pooler", "confirm_deletion": true}),
                Need::Delete,
            ),
            ("list_publications", json!({"cluster_name": "pg"}), Need::Read),
            ("list_subscriptions", json!({"cluster_name": "pg"}), Need::Read),
            ("list_external_clusters", json!({"cluster_name": "pg"}), Need::Read),
            ("get_replication_status", json!({"cluster_name": "pg"}), Need::Read),
            (
                "create_publication",
                json!({"cluster_name": "pg", "publication_name": "new_pub", "dbname": "app", "all_tables": true}),
                Need::Write,
            ),
            (
                "add_external_cluster",
                json!({"cluster_name": "pg", "name": "other", "connection_parameters": {"host": "other-rw"}}),
                Need::Write,
            ),
            (
                "create_replica_cluster",
                json!({"name": "pg-replica", "source_cluster": "pg"}),
                Need::Write,
            ),
            (
                "delete_publication",
                json!({"cluster_name": "pg", "name": "old_pub", "confirm_deletion": true}),
                Need::Delete,
            ),
            ("get_cluster_events", json!({"name": "pg"}), Need::Read),
            ("get_cluster_logs", json!({"name": "pg"}), Need::Read),
            ("get_connection_info", json!({"name": "pg"}), Need::Read),
            ("reload_postgres_cluster", json!({"name": "pg"}), Need::Write),
            ("get_cluster_report", json!({"name": "pg"}), Need::Read),
            ("list_image_catalogs", json!({}), Need::Read),
            (
                "update_cluster_configuration",
                json!({"name": "pg", "parameters": {"work_mem": "8MB"}}),
                Need::Write,
            ),
            (
                "create_image_catalog",
                json!({"name": "new-images", "images": [{"major": 16, "image": "registry.test/cnpg/postgresql:16.4"}]}),
                Need::Write,
            ),
            (
                "upgrade_postgres_cluster",
                json!({"name": "pg", "image": "registry.test/cnpg/postgresql:16.4"}),
                Need::Write,
            ),
            (
                "delete_image_catalog",
                json!({"name": "old-images", "confirm_deletion": true}),
                Need::Delete,
            ),
            (
                "set_maintenance_window",
                json!({"name": "pg", "in_progress": false}),
                Need::Write,
            ),
            (
                "delete_scheduled_backup",
                json!({"name": "pg-old-sb", "confirm_deletion": true}),
                Need::Delete,
            ),
            (
                "delete_backup",
                json!({"name": "pg-old-backup", "confirm_deletion": true}),
                Need::Delete,
            ),
            (
                "delete_postgres_database",
                json!({"cluster_name": "pg", "database_name": "old", "confirm_deletion": true}),
                Need::Delete,
            ),
            (
                "delete_postgres_role",
                json!({"cluster_name": "pg", "role_name": "old", "confirm_deletion": true}),
                Need::Delete,
            ),
            (
                "delete_cluster_instance",
                json!({"name": "pg", "instance": "3", "confirm_deletion": true}),
                Need::Delete,
            ),
            (
                "delete_postgres_cluster",
                json!({"name": "pg", "confirm_deletion": true}),
                Need::Delete,
            ),
        ];
        for (tool, arguments, need) in scenario {
            let allowed = match profile {
                "reader" => need == Need::Read,
                "operator" => need != Need::Delete,
                _ => true,
            };
            let result = tools.session.call_tool(tool, arguments.clone()).await;
            if allowed {
                assert_eq!(
                    result["isError"],
                    json!(false),
                    "{profile}: {tool} {arguments}: {}",
                    first_text(&result)
                );
            } else {
                assert_eq!(result["isError"], json!(true), "{profile}: {tool} should be refused");
                assert_eq!(
                    result["structuredContent"]["reason"],
                    json!("forbidden"),
                    "{profile}: {tool}: {}",
                    first_text(&result)
                );
                assert!(first_text(&result).contains(&format!("system:serviceaccount:{ns}:{account}")));
            }
        }
        // Reader and operator changed nothing they may not change.
        let cluster = cnpg_mcp_tests::cnpg::read(bed, &ns, &clusters(), "pg").await;
        match profile {
            "reader" => assert_eq!(cluster.unwrap()["spec"]["instances"], json!(3)),
            "operator" => assert_eq!(cluster.unwrap()["spec"]["instances"], json!(4)),
            _ => assert!(cluster.is_none()),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_impersonation_the_callers_rbac_decides_and_metrics_and_logs_hold() {
    use cnpg_mcp_tests::idp::{Idp, MACHINE_CLIENT, OTHER_CLIENT};
    let bed = TestBed::shared().await;
    let ns = bed.namespace("chart-imp").await.unwrap();
    let release = format!("imp-{ns}");
    let objects = render(&release, &ns, &["--set", "impersonation.enabled=true"]);
    let account = create_service_account_and_rbac(bed, &ns, &objects).await;
    create(
        bed,
        &ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": "pg"}, "spec": {"instances": 1, "storage": {"size": "1Gi"}}}),
    )
    .await;
    // Only the machine client's group may read clusters here.
    bed.bind_role(
        &ns,
        "operators-read",
        json!([{"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["get", "list"]}]),
        ("Group", "oidc:cnpg-operators"),
    )
    .await
    .unwrap();

    let login = bed.service_account_login(&ns, &account).await.unwrap();
    let kubeconfig = &login.kubeconfig;
    let token = login.token.clone();

    let idp = Idp::start().unwrap();
    let port = cnpg_mcp_tests::free_port();
    let metrics_port = cnpg_mcp_tests::free_port().to_string();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let server = Server::start_on(
        port,
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
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
            "--metrics-port",
            &metrics_port,
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
    let operator = idp
        .client_credentials(MACHINE_CLIENT.0, MACHINE_CLIENT.1, Some(&resource), "mcp:read")
        .await
        .unwrap();
    let mut session = Session::open_with_token(port, &operator).await;
    let result = session
        .call_tool("list_postgres_clusters", json!({"namespace": ns}))
        .await;
    assert_eq!(result["isError"], json!(false), "{}", first_text(&result));
    assert_eq!(result["structuredContent"]["clusters"][0]["name"], json!("pg"));

    let outsider = idp
        .client_credentials(OTHER_CLIENT.0, OTHER_CLIENT.1, Some(&resource), "mcp:read")
        .await
        .unwrap();
    let mut other = Session::open_with_token(port, &outsider).await;
    let result = other
        .call_tool("get_cluster_status", json!({"name": "pg", "namespace": ns}))
        .await;
    assert_eq!(result["isError"], json!(true));
    assert_eq!(result["structuredContent"]["reason"], json!("forbidden"));
    assert!(
        first_text(&result).contains("\"oidc:other-machine\""),
        "{}",
        first_text(&result)
    );
    // A bad token is refused (and counted).
    let reply = cnpg_mcp_tests::request(
        port,
        "POST",
        "/mcp",
        &[
            ("authorization", "Bearer not.a.jwt"),
            cnpg_mcp_tests::MCP_ACCEPT,
            cnpg_mcp_tests::JSON_TYPE,
        ],
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(reply.status, 401);

    // The series an operator scrapes, on the metrics port.
    let metrics = cnpg_mcp_tests::request(metrics_port.parse().unwrap(), "GET", "/metrics", &[], Vec::new())
        .await
        .body;
    for needle in [
        "cnpg_mcp_tool_calls_total{tool=\"list_postgres_clusters\",outcome=\"ok\"} 1",
        "cnpg_mcp_tool_calls_total{tool=\"get_cluster_status\",outcome=\"tool-error\"} 1",
        "cnpg_mcp_tool_call_duration_seconds_count{tool=\"list_postgres_clusters\"} 1",
        "cnpg_mcp_kubernetes_requests_total{verb=\"list\",code=\"200\"}",
        "cnpg_mcp_kubernetes_requests_total{verb=\"get\",code=\"403\"} 1",
        "cnpg_mcp_component_instantiation_seconds_count{component=\"cnpg-clusters\"}",
        "cnpg_mcp_auth_failures_total{reason=",
        "cnpg_mcp_in_flight_calls 0",
        "cnpg_mcp_jwks_fetches ",
    ] {
        assert!(metrics.contains(needle), "missing `{needle}` in:\n{metrics}");
    }
    // No token in the logs: neither the callers' nor the service account's.
    let log = server.log_text();
    for secret in [&operator, &outsider, &token] {
        assert!(!log.contains(secret.as_str()), "a token reached the log");
    }
    assert!(log.contains("tool call"), "the audit records are in the log");
}
