//! The one storage driver of the test bed, emulated: there is no kubelet
//! and no CSI driver here, so nothing would ever provision, bind or grow a
//! volume. This loop plays the part an external provisioner and an external
//! resizer (with the node's file-system expansion) play in a real cluster,
//! and nothing else:
//!
//! - a claim of the class [`STORAGE_CLASS`] that is Pending gets a
//!   PersistentVolume of exactly the requested size, pre-bound to it through
//!   `claimRef`; kube-controller-manager's binder does the binding itself;
//! - a bound claim whose request grew past its capacity gets the new size
//!   on the volume (`spec.capacity`) and on the claim (`status.capacity`);
//! - a volume of the class that its claim released is deleted (reclaim
//!   policy Delete).
//!
//! It polls instead of watching: a list every few hundred milliseconds is
//! cheap at test-bed sizes and needs no watch machinery.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

/// The default StorageClass of the bed; it allows expansion.
pub const STORAGE_CLASS: &str = "standard";

/// Provisioner name of [`STORAGE_CLASS`], served only by this loop.
pub const PROVISIONER: &str = "volumes.testbed.cnpg-mcp.local";

const MANAGER: &str = "cnpg-mcp-testbed-volumes";

/// Creates the default StorageClass.
pub(super) async fn create_storage_class(client: &Client) -> anyhow::Result<()> {
    let class: StorageClass = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER, "allowVolumeExpansion": true,
        "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
    }))?;
    Api::<StorageClass>::all(client.clone())
        .patch(
            STORAGE_CLASS,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&class),
        )
        .await?;
    Ok(())
}

/// Runs the loop on a thread of its own for the rest of the process.
pub(super) fn spawn(client_config: kube::Config) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("testbed-volumes".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("testbed volumes: no runtime: {error}");
                    return;
                }
            };
            runtime.block_on(async move {
                let client = match Client::try_from(client_config) {
                    Ok(client) => client,
                    Err(error) => {
                        eprintln!("testbed volumes: no client: {error}");
                        return;
                    }
                };
                loop {
                    // A failed round (API server restarting) is retried.
                    let _ = round(&client).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
        })?;
    Ok(())
}

async fn round(client: &Client) -> anyhow::Result<()> {
    let claims: Api<PersistentVolumeClaim> = Api::all(client.clone());
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    for claim in claims.list(&ListParams::default()).await? {
        let spec = claim.spec.clone().unwrap_or_default();
        if spec.storage_class_name.as_deref() != Some(STORAGE_CLASS) || claim.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let requested = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone());
        let Some(requested) = requested else { continue };
        let phase = claim.status.as_ref().and_then(|s| s.phase.clone());
        match (spec.volume_name.as_deref(), phase.as_deref()) {
            (None, _) => provision(&volumes, &claim, &requested).await?,
            (Some(volume), Some("Bound")) => grow(client, &volumes, &claim, volume, &requested).await?,
            _ => {}
        }
    }
    for volume in volumes.list(&ListParams::default()).await? {
        let spec = volume.spec.clone().unwrap_or_default();
        let released = volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
        if released && spec.storage_class_name.as_deref() == Some(STORAGE_CLASS) {
            let _ = volumes.delete(&volume.name_any(), &Default::default()).await;
        }
    }
    Ok(())
}

/// A volume of exactly the requested size, pre-bound to the claim.
async fn provision(volumes: &Api<PersistentVolume>, claim: &PersistentVolumeClaim, size: &str) -> anyhow::Result<()> {
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let modes = claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.clone())
        .unwrap_or_else(|| vec!["ReadWriteOnce".into()]);
    let volume: PersistentVolume = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": format!("pvc-{uid}"),
                     "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": modes,
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": claim.spec.as_ref().and_then(|s| s.volume_mode.clone()).unwrap_or_else(|| "Filesystem".into()),
            "hostPath": {"path": format!("/var/lib/testbed-volumes/{uid}")},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "namespace": claim.namespace(), "name": claim.name_any(), "uid": uid},
        },
    }))?;
    match volumes.create(&PostParams::default(), &volume).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The request grew: the volume and the claim's capacity follow.
async fn grow(
    client: &Client,
    volumes: &Api<PersistentVolume>,
    claim: &PersistentVolumeClaim,
    volume: &str,
    requested: &str,
) -> anyhow::Result<()> {
    let capacity = claim
        .status
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .map(|q| q.0.clone())
        .unwrap_or_default();
    let (Some(want), Some(have)) = (bytes(requested), bytes(&capacity)) else {
        return Ok(());
    };
    if want <= have {
        return Ok(());
    }
    volumes
        .patch(
            volume,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"capacity": {"storage": requested}}})),
        )
        .await?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &claim.namespace().unwrap_or_default());
    claims
        .patch_status(
            &claim.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"capacity": {"storage": requested},
                                            "allocatedResources": {"storage": requested}}})),
        )
        .await?;
    Ok(())
}

/// Bytes of a Kubernetes quantity (binary and decimal suffixes).
fn bytes(quantity: &str) -> Option<u128> {
    let quantity = quantity.trim();
    let split = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let multiplier: u128 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    Some((value * multiplier as f64) as u128)
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn quantities_compare_across_suffixes() {
        assert_eq!(bytes("1Gi"), Some(1 << 30));
        assert!(bytes("2Gi") > bytes("1500Mi"));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("10x"), None);
    }
}
