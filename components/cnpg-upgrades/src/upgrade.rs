//! `upgrade_postgres_cluster`: a new image or catalog entry for a cluster.
//! Facts from operator v1.30.0: the version of the data is
//! `status.pgDataImageInfo.majorVersion`; the webhook refuses a lower
//! major and a major upgrade to below 16 (`validateImageChange`,
//! `internal/webhook/v1/cluster_webhook.go`); `imageName` and
//! `imageCatalogRef` exclude each other (CRD rule); a higher major starts
//! the offline in-place upgrade (`pkg/reconciler/majorupgrade/reconciler.go`):
//! phase "Upgrading Postgres major version", every pod deleted, a Job
//! `<primary>-major-upgrade` running `pg_upgrade --link`, then the
//! replicas' volumes deleted and recloned; the operator rolls back only
//! while that Job exists.

use serde_json::{Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::confirm::confirmed;
use cnpg_mcp_sdk::image::{cluster_image_version, parse as parse_image};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, object};
use cnpg_mcp_sdk::time::{now_unix, parse_rfc3339};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with};

use crate::args::{self, CatalogKind};
use crate::catalogs::images_of;

/// Oldest major an in-place upgrade may go to (the webhook's rule).
const LOWEST_UPGRADE_TARGET: u64 = 16;

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The major version of the cluster's data: what the operator recorded,
/// else what the spec asks for.
pub fn current_major(cluster: &Value) -> Option<u64> {
    cluster
        .pointer("/status/pgDataImageInfo/majorVersion")
        .and_then(Value::as_u64)
        .or_else(|| cluster.pointer("/spec/imageCatalogRef/major").and_then(Value::as_u64))
        .or_else(|| {
            text(cluster, "/status/image")
                .or_else(|| text(cluster, "/spec/imageName"))
                .and_then(|i| cluster_image_version(&i).ok())
                .map(|(major, _)| u64::from(major))
        })
}

/// The newest completed backup of the cluster: name and when it stopped.
fn newest_completed_backup(ns: &str, cluster: &str) -> Result<Option<(String, String, i64)>, ToolOutput> {
    let backups = kube::list(
        &collection(cnpg("backups"), Some(ns)),
        Some(&format!("cnpg.io/cluster={cluster}")),
    )?;
    Ok(backups
        .iter()
        .filter(|b| b.pointer("/status/phase").and_then(Value::as_str) == Some("completed"))
        .filter(|b| b.pointer("/spec/cluster/name").and_then(Value::as_str) == Some(cluster))
        .filter_map(|b| {
            let stopped = text(b, "/status/stoppedAt")?;
            let (at, _) = parse_rfc3339(&stopped)?;
            Some((kube::name_of(b).to_string(), stopped, at))
        })
        .max_by_key(|(_, _, at)| *at))
}

pub fn upgrade(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    let raw: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    run_with(arguments, ctx, |a: args::Upgrade, _| -> Outcome {
        let ns = namespace_or_default(&a.namespace);
        let target = object(cnpg("clusters"), &ns, &a.name);
        let (patch, target_major, described) = match (&a.image, &a.catalog) {
            (Some(image), None) => {
                let (major, minor) = cluster_image_version(image).map_err(|reason| {
                    failure(
                        format!("Refused before sending anything: {reason}. Nothing was changed."),
                        "Give an image whose tag starts with the PostgreSQL version, e.g. `...:18.1-standard-trixie`.",
                    )
                })?;
                (
                    json!({"spec": {"imageName": image, "imageCatalogRef": null}}),
                    u64::from(major),
                    format!("image {image} (PostgreSQL {major}.{minor})"),
                )
            }
            (None, Some(catalog)) => (
                json!({"spec": {"imageName": null, "imageCatalogRef": {
                    "apiGroup": "postgresql.cnpg.io",
                    "kind": catalog.kind.as_str(),
                    "name": catalog.name,
                    "major": catalog.major,
                }}}),
                u64::from(catalog.major),
                format!("{} {} major {}", catalog.kind.as_str(), catalog.name, catalog.major),
            ),
            _ => {
                return Err(failure(
                    "Give exactly one of `image` and `catalog`. Nothing was changed.",
                    "`image` sets spec.imageName; `catalog` sets spec.imageCatalogRef.",
                ));
            }
        };
        let cluster = kube::get(&target)?;
        let mut notes = Vec::new();
        if let Some(catalog) = &a.catalog {
            if catalog.kind == CatalogKind::ImageCatalog {
                let found = kube::get_optional(&object(cnpg("imagecatalogs"), &ns, &catalog.name))?;
                let Some(found) = found else {
                    return Err(failure(
                        format!(
                            "ImageCatalog {ns}/{} does not exist: the cluster would stop being reconciled. Nothing \
                             was changed.",
                            catalog.name
                        ),
                        "list_image_catalogs shows the catalogs; create_image_catalog makes one.",
                    ));
                };
                let images = images_of(&found);
                if !images.iter().any(|(m, _)| *m == u64::from(catalog.major)) {
                    let majors: Vec<String> = images.iter().map(|(m, _)| m.to_string()).collect();
                    return Err(failure(
                        format!(
                            "ImageCatalog {ns}/{} has no image for major {} (it lists {}): the operator would stop \
                             reconciling the cluster. Nothing was changed.",
                            catalog.name,
                            catalog.major,
                            majors.join(", ")
                        ),
                        "Add the image to the catalog first, or pick a listed major.",
                    ));
                }
            } else {
                notes.push(format!(
                    "ClusterImageCatalog {} was not checked (this component's grant does not read cluster-scoped \
                     catalogs); if it lacks major {}, the cluster stops being reconciled.",
                    catalog.name, catalog.major
                ));
            }
        }
        let Some(current) = current_major(&cluster) else {
            return Err(failure(
                format!(
                    "Cannot tell which PostgreSQL major cluster {ns}/{} runs. Nothing was changed.",
                    a.name
                ),
                "get_cluster_status shows the image; wait until the operator has reported it.",
            ));
        };
        if target_major < current {
            return Err(failure(
                format!(
                    "Refused: {described} is a downgrade from major {current} to {target_major}, which the operator \
                     does not allow. Nothing was changed."
                ),
                "A major version can only go up; restore a backup into a new cluster to go back.",
            ));
        }
        let major_upgrade = target_major > current;
        if !major_upgrade {
            let same = match (&a.image, &a.catalog) {
                (Some(image), _) => text(&cluster, "/spec/imageName").as_deref() == Some(image.as_str()),
                (_, Some(catalog)) => {
                    cluster.pointer("/spec/imageCatalogRef/name").and_then(Value::as_str) == Some(catalog.name.as_str())
                        && cluster.pointer("/spec/imageCatalogRef/kind").and_then(Value::as_str)
                            == Some(catalog.kind.as_str())
                        && cluster.pointer("/spec/imageCatalogRef/major").and_then(Value::as_u64)
                            == Some(u64::from(catalog.major))
                }
                _ => false,
            };
            if same {
                return Err(failure(
                    format!("Cluster {ns}/{} already uses {described}. Nothing was changed.", a.name),
                    "get_cluster_status shows the running image.",
                ));
            }
        }
        if major_upgrade {
            if target_major < LOWEST_UPGRADE_TARGET {
                return Err(failure(
                    format!(
                        "Refused: in-place major upgrades go to PostgreSQL {LOWEST_UPGRADE_TARGET} or newer, not \
                         {target_major}. Nothing was changed."
                    ),
                    "Upgrade to 16 or newer, or migrate with logical replication (plan_logical_migration).",
                ));
            }
            let backup = newest_completed_backup(&ns, &a.name)?;
            let backup_line = match &backup {
                Some((name, stopped, at)) => {
                    let hours = now_unix().saturating_sub(*at).max(0) / 3600;
                    format!("the newest completed backup is {name}, finished {stopped} ({hours} h ago)")
                }
                None => "the cluster has NO completed backup".to_string(),
            };
            if backup.is_none() && !a.without_backup && !a.dry_run {
                return Err(failure(
                    format!(
                        "Refused: cluster {ns}/{} has no completed backup, and a major upgrade cannot be undone once \
                         it completed. Nothing was changed.",
                        a.name
                    ),
                    "Take one first (create_backup, then wait_for_backup), or pass `without_backup: true` if the \
                     user accepts the risk.",
                ));
            }
            let what = format!(
                "an in-place major upgrade of cluster {ns}/{} from PostgreSQL {current} to {target_major} ({described}): \
                 every instance stops for the duration (pg_upgrade --link in a Job), the replicas' volumes are \
                 deleted and recloned, and once the Job has completed there is no way back to {current} except \
                 restoring a backup into a new cluster; {backup_line}",
                a.name
            );
            confirmed(
                "upgrade_postgres_cluster",
                &raw,
                "confirm_major_upgrade",
                a.confirm_major_upgrade,
                a.dry_run,
                &what,
            )?;
            notes.push(format!(
                "The operator sets phase \"Upgrading Postgres major version\", deletes every pod and runs Job \
                 {}-major-upgrade; reverting the image while that Job exists rolls back.",
                text(&cluster, "/status/currentPrimary").unwrap_or_else(|| format!("{}-<serial>", a.name))
            ));
            notes.push(
                "Afterwards: take a new base backup at once (backups and WAL from before do not recover across the \
                 upgrade), run ANALYZE, and with the Barman Cloud plugin give the new data its own serverName."
                    .into(),
            );
            notes.push(backup_line);
        } else {
            let strategy = text(&cluster, "/spec/primaryUpdateStrategy").unwrap_or_else(|| "unsupervised".into());
            let method = text(&cluster, "/spec/primaryUpdateMethod").unwrap_or_else(|| "restart".into());
            notes.push(format!(
                "Same major ({current}): the operator replaces the replicas' pods one by one, then the primary ({})",
                if strategy == "supervised" {
                    "supervised: it waits for a switchover, promote_cluster_instance".to_string()
                } else if method == "switchover" {
                    "after a switchover".to_string()
                } else {
                    "restarted in place".to_string()
                }
            ));
            if let Some(image) = &a.image
                && let Some(old) = text(&cluster, "/spec/imageName")
                && parse_image(&old).name != parse_image(image).name
            {
                notes.push(format!(
                    "The image repository changes ({} -> {}): both must be built on the same OS distribution.",
                    parse_image(&old).name,
                    parse_image(image).name
                ));
            }
        }
        kube::merge_patch(&target, &patch, a.dry_run)?;
        let mutation = Mutation {
            action: "patch".into(),
            dry_run: a.dry_run,
            request: patch,
            result: None,
            notes,
        };
        Ok(mutation.output(format!(
            "{} cluster {ns}/{} to {described}{}.",
            if a.dry_run { "Would move" } else { "Moved" },
            a.name,
            if major_upgrade {
                format!(" (major upgrade {current} -> {target_major})")
            } else {
                String::new()
            }
        )))
    })
}
