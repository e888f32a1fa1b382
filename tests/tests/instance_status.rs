//! What only the instance managers know — last archived WAL, LSNs, lag,
//! slots, pending restarts — read by the tools through the real API
//! server's pod proxy, as `kubectl cnpg status` reads it. Emulated: the
//! Cluster status and the pods' addresses (written by the test, as the
//! operator and a kubelet would), and the instance managers' `/pg/status`
//! answers (the bed's pod network stands in for them; the documents have
//! the fields of the operator's `PostgresqlStatus`).

use cnpg_mcp_tests::cnpg::{ToolServer, add_instance, clusters, create, healthy_status, patch_status, pods};
use cnpg_mcp_tests::first_text;
use cnpg_mcp_tests::testbed::TestBed;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn last_archived_wal_lag_and_slots_come_from_the_instance_managers() {
    let bed = TestBed::shared().await;
    let ns = bed.namespace("instance-status").await.unwrap();
    create(
        bed,
        &ns,
        &clusters(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": 3, "storage": {"size": "1Gi"},
                        "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": true,
                                     "parameters": {"barmanObjectName": "store"}}]}}),
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
    // Addresses as a kubelet reports them; pg-3's endpoint does not answer.
    for (pod, ip) in [("pg-1", "10.77.1.1"), ("pg-2", "10.77.1.2"), ("pg-3", "10.77.1.3")] {
        patch_status(
            bed,
            &ns,
            &pods(),
            pod,
            json!({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}),
        )
        .await;
    }
    bed.pod_network.serve(
        "10.77.1.1:8000",
        "/pg/status",
        &json!({
            "isPrimary": true, "timeLineID": 1, "currentLsn": "0/5000060", "pendingRestart": true,
            "lastArchivedWAL": "000000010000000000000004", "lastArchivedWALTime": "2026-12-06T05:00:00Z",
            "lastFailedWAL": "000000010000000000000003", "lastFailedWALTime": "2026-12-06T04:59:00Z",
            "readyWalFiles": 2, "currentWAL": "000000010000000000000005",
            "replicationInfo": [{"applicationName": "pg-2", "state": "streaming", "receivedLsn": "0/5000060",
                                 "replayLsn": "0/5000000", "replayLag": "00:00:01.5", "syncState": "async"}],
            "replicationSlotsInfo": [{"slotName": "_cnpg_pg_2", "slotType": "physical", "active": true,
                                      "restartLsn": "0/5000000", "walStatus": "reserved"}]
        }),
    );
    bed.pod_network.serve(
        "10.77.1.2:8000",
        "/pg/status",
        &json!({"isPrimary": false, "timeLineID": 1, "receivedLsn": "0/5000060", "replayLsn": "0/5000000",
                "isWalReceiverActive": true, "pendingRestart": false}),
    );
    let mut tools = ToolServer::start(bed, &[]).await;

    let config = tools
        .ok(
            "get_backup_configuration",
            json!({"cluster_name": "pg", "namespace": ns}),
        )
        .await;
    let wal = &config["structuredContent"]["wal_archive"];
    assert_eq!(wal["instance"], json!("pg-1"), "{wal}");
    assert_eq!(wal["last_archived_wal"], json!("000000010000000000000004"));
    assert_eq!(wal["last_failed_wal"], json!("000000010000000000000003"));
    assert_eq!(wal["ready_wal_files"], json!(2));
    let text = first_text(&config);
    assert!(
        text.contains("Last archived WAL (from pg-1): 000000010000000000000004 at 2026-12-06T05:00:00Z"),
        "{text}"
    );
    assert!(text.contains("last FAILED: 000000010000000000000003"), "{text}");

    let status = tools
        .ok("get_replication_status", json!({"cluster_name": "pg", "namespace": ns}))
        .await;
    let s = &status["structuredContent"];
    assert_eq!(s["live"][0]["is_primary"], json!(true), "{s}");
    assert_eq!(s["live"][0]["pending_restart"], json!(true));
    assert_eq!(s["live"][1]["replay_lsn"], json!("0/5000000"));
    assert!(s["live"][2]["unavailable"].is_string(), "{}", s["live"][2]);
    assert_eq!(s["standbys"][0]["sentLsn"], json!("0/5000060"));
    assert_eq!(s["standbys"][0]["replayLag"], json!("00:00:01.5"));
    assert_eq!(s["slots"][0]["slotName"], json!("_cnpg_pg_2"));
    let text = first_text(&status);
    assert!(
        text.contains("pg-1: primary, timeline 1, LSN 0/5000060, restart pending"),
        "{text}"
    );
    assert!(
        text.contains("standby pg-2: streaming async, replay lag 00:00:01.5"),
        "{text}"
    );
    assert!(text.contains("pg-3: unknown ("), "{text}");

    // Every status read went through the API server's pod proxy to port
    // 8000, path /pg/status, as `kubectl cnpg status` asks.
    let requests = bed.pod_network.requests();
    assert!(requests.iter().all(|r| r.ends_with(":8000 /pg/status")), "{requests:?}");
    assert!(
        requests.contains(&"10.77.1.2:8000 /pg/status".to_string()),
        "{requests:?}"
    );
}
