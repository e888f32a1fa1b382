//! Replica clusters (`spec.replica`, `ReplicaClusterConfiguration` in
//! `api/v1/cluster_types.go`) and the replication state a Cluster's status
//! carries.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::confirmed;
use cnpg_mcp_sdk::kube::{self, cnpg, collection, object};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with, success};

use crate::args;
use crate::external::BARMAN_CLOUD_PLUGIN;
use crate::logical::MANAGED_BY;

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `Cluster.IsReplica()` (`api/v1/cluster_funcs.go`): `enabled` when set,
/// else whether the cluster's name in the topology differs from `primary`.
pub fn is_replica(cluster: &Value) -> bool {
    let Some(replica) = cluster.pointer("/spec/replica").filter(|r| r.is_object()) else {
        return false;
    };
    if let Some(enabled) = replica.get("enabled").and_then(Value::as_bool) {
        return enabled;
    }
    let me = replica
        .get("self")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(kube::name_of(cluster));
    replica.get("primary").and_then(Value::as_str).unwrap_or_default() != me
}

/// The external cluster entry that streams from `source` in the same
/// namespace: its `-rw` service, the `streaming_replica` user with the
/// source's replication certificate and CA (the Secrets the operator
/// creates for every cluster: `<source>-replication`, `<source>-ca`).
fn streaming_entry(source: &str) -> Value {
    json!({
        "name": source,
        "connectionParameters": {"host": format!("{source}-rw"), "user": "streaming_replica",
                                 "sslmode": "verify-full", "dbname": "postgres"},
        "sslKey": {"name": format!("{source}-replication"), "key": "tls.key"},
        "sslCert": {"name": format!("{source}-replication"), "key": "tls.crt"},
        "sslRootCert": {"name": format!("{source}-ca"), "key": "ca.crt"},
    })
}

pub fn create_replica(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::CreateReplicaCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        if a.name == a.source_cluster {
            return Err(failure(
                "A replica cluster needs its own name. Nothing was created.",
                "Pick a new name, e.g. `<source>-replica`.",
            ));
        }
        if kube::get_optional(&object(cnpg("clusters"), &ns, &a.name))?.is_some() {
            return Err(failure(
                format!("Cluster {ns}/{} exists already. Nothing was created.", a.name),
                "Pick a new name.",
            ));
        }
        let source = kube::get(&object(cnpg("clusters"), &ns, &a.source_cluster))?;
        let mut entry = streaming_entry(&a.source_cluster);
        let bootstrap = match &a.object_store {
            Some(store) => {
                // Follow the WAL archive instead of streaming.
                entry = json!({"name": a.source_cluster, "plugin": {"name": BARMAN_CLOUD_PLUGIN,
                    "parameters": {"barmanObjectName": store.object_store, "serverName": store.server_name}}});
                json!({"recovery": {"source": a.source_cluster}})
            }
            None => json!({"pg_basebackup": {"source": a.source_cluster}}),
        };
        let mut replica = json!({"enabled": true, "source": a.source_cluster});
        if let Some(delay) = &a.min_apply_delay {
            replica["minApplyDelay"] = json!(delay);
        }
        let mut spec = Map::new();
        spec.insert("instances".into(), json!(a.instances.unwrap_or(1)));
        let size = a
            .storage_size
            .clone()
            .or_else(|| text(&source, "/spec/storage/size"))
            .unwrap_or_else(|| "10Gi".into());
        let mut storage = json!({"size": size});
        if let Some(class) = source.pointer("/spec/storage/storageClass") {
            storage["storageClass"] = class.clone();
        }
        spec.insert("storage".into(), storage);
        if let Some(catalog) = source.pointer("/spec/imageCatalogRef") {
            spec.insert("imageCatalogRef".into(), catalog.clone());
        } else if let Some(image) = text(&source, "/spec/imageName").or_else(|| text(&source, "/status/image")) {
            spec.insert("imageName".into(), json!(image));
        }
        spec.insert("bootstrap".into(), bootstrap);
        spec.insert("replica".into(), replica);
        spec.insert("externalClusters".into(), json!([entry]));
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": a.name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
            "spec": spec,
        });
        kube::create(&collection(cnpg("clusters"), Some(&ns)), &manifest, a.dry_run)?;
        let how = if a.object_store.is_some() {
            "restores the source's base backup from the object store and replays its archived WAL"
        } else {
            "clones the source with pg_basebackup over its -rw service and then streams from it as \
             `streaming_replica`"
        };
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: manifest,
            result: Some(json!({"name": a.name})),
            notes: vec![
                format!("The operator {how}; the replica cluster is read-only until promoted."),
                "Same image (major version) as the source; the source is only read.".into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} replica cluster {ns}/{} of {}.",
            if a.dry_run { "Would create" } else { "Created" },
            a.name,
            a.source_cluster
        )))
    })
}

pub fn promote_replica(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or_default();
    run_with(arguments, ctx, |a: args::PromoteReplicaCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let cluster = kube::get(&target)?;
        if !is_replica(&cluster) {
            return Err(failure(
                format!("Cluster {ns}/{} is not a replica cluster: nothing to promote.", a.name),
                "get_replication_status shows its role.",
            ));
        }
        if cluster
            .pointer("/status/switchReplicaClusterStatus/inProgress")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Err(failure(
                format!(
                    "Cluster {ns}/{} is in the middle of a replica switch; the operator refuses changes until it ends.",
                    a.name
                ),
                "Wait, then check get_replication_status.",
            ));
        }
        let distributed = cluster
            .pointer("/spec/replica/primary")
            .and_then(Value::as_str)
            .is_some();
        let me = text(&cluster, "/spec/replica/self").unwrap_or_else(|| a.name.clone());
        let (patch, what, notes) = if distributed {
            // Distributed topology: name itself primary, with the former
            // primary's demotion token so it replays up to the point where
            // the other side stopped.
            let old_primary = text(&cluster, "/spec/replica/primary").unwrap_or_default();
            let token = match &a.promotion_token {
                Some(token) => Some(token.clone()),
                None => kube::get_optional(&object(cnpg("clusters"), &ns, &old_primary))?
                    .and_then(|c| text(&c, "/status/demotionToken")),
            };
            let Some(token) = token else {
                return Err(failure(
                    format!(
                        "No demotion token: cluster `{old_primary}` must be demoted first (set its \
                         `spec.replica.primary` to `{me}`) so it writes `status.demotionToken`; promoting without it \
                         means rebuilding `{old_primary}` afterwards. Nothing was changed."
                    ),
                    "Demote the current primary, then call again (the token is read when it is in this namespace, \
                     else pass `promotion_token`).",
                ));
            };
            if cluster.pointer("/spec/replica/minApplyDelay").is_some() {
                return Err(failure(
                    "The cluster has `minApplyDelay`: the operator refuses a promotion token with it. Nothing was \
                     changed.",
                    "Remove the apply delay first.",
                ));
            }
            (
                json!({"spec": {"replica": {"primary": me, "promotionToken": token}}}),
                format!(
                    "promoting replica cluster {ns}/{} to primary of the distributed topology",
                    a.name
                ),
                vec![
                    "The designated primary replays up to the token's position, then promotes (phase \"Promoting to \
                     primary cluster\" meanwhile); a token that does not match stops it (phase Unrecoverable)."
                        .to_string(),
                ],
            )
        } else {
            (
                json!({"spec": {"replica": {"enabled": false}}}),
                format!(
                    "promoting replica cluster {ns}/{} by disabling replica mode, which is IRREVERSIBLE: it stops \
                     following its source for good",
                    a.name
                ),
                vec![
                    "The source keeps running as a separate primary: stop writes there first, or the two diverge."
                        .to_string(),
                ],
            )
        };
        confirmed(
            "promote_replica_cluster",
            &raw,
            "confirm_promotion",
            a.confirm_promotion,
            a.dry_run,
            &what,
        )?;
        kube::merge_patch(&target, &patch, a.dry_run)?;
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} replica cluster {ns}/{}.",
            if a.dry_run { "Would promote" } else { "Promoting" },
            a.name
        )))
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReplicationStatus {
    pub cluster: String,
    pub namespace: String,
    /// `primary` or `replica cluster`.
    pub role: String,
    /// `spec.replica` as set.
    pub replica: Option<Value>,
    pub current_primary: Option<String>,
    pub target_primary: Option<String>,
    pub timeline: Option<i64>,
    pub instances: i64,
    pub ready_instances: i64,
    /// `status.instancesStatus`: healthy, replicating, failed.
    pub instances_status: BTreeMap<String, Vec<String>>,
    /// Per instance: primary or not, timeline (`status.instancesReportedState`).
    pub reported: BTreeMap<String, Value>,
    /// `spec.postgresql.synchronous` (or min/maxSyncReplicas).
    pub synchronous: Option<Value>,
    /// `spec.replicationSlots`.
    pub replication_slots: Option<Value>,
    pub demotion_token_present: bool,
    pub last_promotion_token_present: bool,
    pub switch_in_progress: bool,
    /// Conditions about replica switches and readiness.
    pub conditions: Vec<Value>,
    /// Each instance's own report (its instance manager's `/pg/status`).
    pub live: Vec<LiveInstance>,
    /// The primary's `pg_stat_replication`: standbys with LSNs, lag, sync state.
    pub standbys: Vec<Value>,
    /// The primary's replication slots.
    pub slots: Vec<Value>,
    pub notes: Vec<String>,
}

/// One instance as its instance manager reports it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LiveInstance {
    pub instance: String,
    pub is_primary: Option<bool>,
    pub timeline: Option<i64>,
    pub current_lsn: Option<String>,
    pub received_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    pub wal_receiver_active: Option<bool>,
    /// A changed parameter waits for a restart.
    pub pending_restart: Option<bool>,
    /// Why the instance could not be asked.
    pub unavailable: Option<String>,
}

impl LiveInstance {
    fn read(ns: &str, instance: &str) -> (Self, Option<Value>) {
        match cnpg_mcp_sdk::instance::status(ns, instance) {
            Ok(status) => {
                let field = |key: &str| {
                    status
                        .get(key)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                };
                let live = LiveInstance {
                    instance: instance.to_string(),
                    is_primary: status.get("isPrimary").and_then(Value::as_bool),
                    timeline: status.get("timeLineID").and_then(Value::as_i64),
                    current_lsn: field("currentLsn"),
                    received_lsn: field("receivedLsn"),
                    replay_lsn: field("replayLsn"),
                    wal_receiver_active: status.get("isWalReceiverActive").and_then(Value::as_bool),
                    pending_restart: status.get("pendingRestart").and_then(Value::as_bool),
                    unavailable: None,
                };
                (live, Some(status))
            }
            Err(why) => (
                LiveInstance {
                    instance: instance.to_string(),
                    is_primary: None,
                    timeline: None,
                    current_lsn: None,
                    received_lsn: None,
                    replay_lsn: None,
                    wal_receiver_active: None,
                    pending_restart: None,
                    unavailable: Some(why.message()),
                },
                None,
            ),
        }
    }
}

/// A list field of an instance manager's status.
fn list_of(status: &Option<Value>, key: &str) -> Vec<Value> {
    status
        .as_ref()
        .and_then(|s| s.get(key))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub fn replication_status(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::GetCluster, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let instances_status: BTreeMap<String, Vec<String>> = cluster
            .pointer("/status/instancesStatus")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let names = v
                            .as_array()
                            .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
                            .unwrap_or_default();
                        (k.clone(), names)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let reported: BTreeMap<String, Value> = cluster
            .pointer("/status/instancesReportedState")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let synchronous = cluster.pointer("/spec/postgresql/synchronous").cloned().or_else(|| {
            let min = cluster
                .pointer("/spec/minSyncReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let max = cluster
                .pointer("/spec/maxSyncReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            (max > 0).then(|| json!({"minSyncReplicas": min, "maxSyncReplicas": max}))
        });
        let conditions: Vec<Value> = cluster
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter(|c| {
                        c.get("type")
                            .and_then(Value::as_str)
                            .is_some_and(|t| t == "Ready" || t.starts_with("ReplicaCluster"))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let replica = is_replica(&cluster);
        let current_primary = text(&cluster, "/status/currentPrimary");
        let names: Vec<String> = cluster
            .pointer("/status/instanceNames")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let mut live = Vec::new();
        let mut primary_status = None;
        for name in &names {
            let (instance, status) = LiveInstance::read(&ns, name);
            if current_primary.as_deref() == Some(name.as_str()) {
                primary_status = status;
            }
            live.push(instance);
        }
        // `kubectl cnpg status` names the sent LSN `receivedLsn` in JSON
        // (`PgStatReplication.SentLsn`, `pkg/postgres/status.go`).
        let standbys: Vec<Value> = list_of(&primary_status, "replicationInfo")
            .into_iter()
            .map(|mut r| {
                if let Some(object) = r.as_object_mut()
                    && let Some(sent) = object.remove("receivedLsn")
                {
                    object.insert("sentLsn".into(), sent);
                }
                r
            })
            .collect();
        let slots = list_of(&primary_status, "replicationSlotsInfo");
        let status = ReplicationStatus {
            cluster: a.cluster_name.clone(),
            namespace: ns.clone(),
            role: if replica {
                "replica cluster".into()
            } else {
                "primary".into()
            },
            replica: cluster.pointer("/spec/replica").cloned(),
            current_primary,
            target_primary: text(&cluster, "/status/targetPrimary"),
            timeline: cluster.pointer("/status/timelineID").and_then(Value::as_i64),
            instances: cluster.pointer("/spec/instances").and_then(Value::as_i64).unwrap_or(0),
            ready_instances: cluster
                .pointer("/status/readyInstances")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            instances_status,
            reported,
            synchronous,
            replication_slots: cluster.pointer("/spec/replicationSlots").cloned(),
            demotion_token_present: text(&cluster, "/status/demotionToken").is_some(),
            last_promotion_token_present: text(&cluster, "/status/lastPromotionToken").is_some(),
            switch_in_progress: cluster
                .pointer("/status/switchReplicaClusterStatus/inProgress")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            conditions,
            notes: if live.iter().any(|l| l.unavailable.is_some()) {
                vec![
                    "Lag, LSNs, sync state and slots come from each instance manager's status endpoint (through \
                     the API server's pod proxy, as `kubectl cnpg status` reads them); instances marked \
                     unavailable could not be asked."
                        .into(),
                ]
            } else {
                vec![]
            },
            live,
            standbys,
            slots,
        };
        let mut out = format!(
            "Cluster {ns}/{}: {}{}; primary {}{}; {}/{} instances ready; timeline {}.",
            a.cluster_name,
            status.role,
            text(&cluster, "/spec/replica/source")
                .map(|s| format!(" (source {s})"))
                .unwrap_or_default(),
            status.current_primary.as_deref().unwrap_or("-"),
            match (&status.target_primary, &status.current_primary) {
                (Some(t), Some(c)) if t != c => format!(" (switching to {t})"),
                _ => String::new(),
            },
            status.ready_instances,
            status.instances,
            status.timeline.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
        );
        for (group, names) in &status.instances_status {
            out.push_str(&format!("\n{group}: {}", names.join(", ")));
        }
        if let Some(sync) = &status.synchronous {
            out.push_str(&format!("\nSynchronous replication: {sync}"));
        }
        if status.switch_in_progress {
            out.push_str("\nA replica-cluster switch is in progress.");
        }
        if status.demotion_token_present {
            out.push_str("\nDemoted: `status.demotionToken` is ready for the new primary's promotion.");
        }
        for l in &status.live {
            match &l.unavailable {
                Some(why) => out.push_str(&format!("\n{}: unknown ({why})", l.instance)),
                None => out.push_str(&format!(
                    "\n{}: {}, timeline {}, LSN {}{}",
                    l.instance,
                    if l.is_primary == Some(true) {
                        "primary"
                    } else {
                        "standby"
                    },
                    l.timeline.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    l.current_lsn.as_deref().or(l.replay_lsn.as_deref()).unwrap_or("-"),
                    if l.pending_restart == Some(true) {
                        ", restart pending"
                    } else {
                        ""
                    }
                )),
            }
        }
        for standby in &status.standbys {
            let field = |k: &str| standby.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
            out.push_str(&format!(
                "\nstandby {}: {} {}, replay lag {}",
                field("applicationName"),
                field("state"),
                field("syncState"),
                field("replayLag")
            ));
        }
        for slot in &status.slots {
            let field = |k: &str| slot.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
            out.push_str(&format!(
                "\nslot {}: {}, {}, restart LSN {}",
                field("slotName"),
                if slot.get("active").and_then(Value::as_bool) == Some(true) {
                    "active"
                } else {
                    "inactive"
                },
                field("walStatus"),
                field("restartLsn")
            ));
        }
        for note in &status.notes {
            out.push_str("\n- ");
            out.push_str(note);
        }
        Ok(success(&status, out, a.format))
    })
}
