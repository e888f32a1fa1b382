//! Image catalogs: `ImageCatalog` (namespaced) here, `ClusterImageCatalog`
//! (cluster-scoped) in the opt-in component cnpg-cluster-image-catalogs,
//! which compiles this file too. Facts from operator v1.30.0:
//! `api/v1/imagecatalog_types.go` (`ImageCatalogSpec`: 1 to 8 images, one
//! per major, major 10 or newer), `internal/controller/cluster_image.go`
//! (`getRequestedImageInfo`: a cluster whose catalog lacks its major, or
//! whose catalog is gone, stops being reconciled with phase "Cluster has
//! incomplete or invalid image catalog").

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::ToolOutput;
use cnpg_mcp_sdk::confirm::confirmed;
use cnpg_mcp_sdk::image::cluster_image_version;
use cnpg_mcp_sdk::kube::{self, cnpg, collection, object};
use cnpg_mcp_sdk::tool::{Format, Mutation, Outcome, failure, success};

use crate::args::CatalogImage;

/// The kind a set of catalog tools manages.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub kind: &'static str,
    pub resource: &'static str,
    /// None for the cluster-scoped kind.
    pub namespaced: bool,
    pub delete_tool: &'static str,
}

pub const NAMESPACED: Scope = Scope {
    kind: "ImageCatalog",
    resource: "imagecatalogs",
    namespaced: true,
    delete_tool: "delete_image_catalog",
};

pub const CLUSTER_WIDE: Scope = Scope {
    kind: "ClusterImageCatalog",
    resource: "clusterimagecatalogs",
    namespaced: false,
    delete_tool: "delete_cluster_image_catalog",
};

impl Scope {
    fn object(&self, ns: &str, name: &str) -> cnpg_mcp_sdk::bindings::cnpg::mcp::k8s::ObjectRef {
        if self.namespaced {
            object(cnpg(self.resource), ns, name)
        } else {
            let mut target = object(cnpg(self.resource), "", name);
            target.namespace = None;
            target
        }
    }

    fn collection(&self, ns: &str) -> cnpg_mcp_sdk::bindings::cnpg::mcp::k8s::ObjectRef {
        collection(cnpg(self.resource), self.namespaced.then_some(ns))
    }

    fn shown(&self, ns: &str, name: &str) -> String {
        if self.namespaced {
            format!("{} {ns}/{name}", self.kind)
        } else {
            format!("{} {name}", self.kind)
        }
    }
}

/// The catalog's images, major to image, in major order.
pub fn images_of(catalog: &Value) -> Vec<(u64, String)> {
    let mut images: Vec<(u64, String)> = catalog
        .pointer("/spec/images")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|i| Some((i.get("major")?.as_u64()?, i.get("image")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    images.sort();
    images
}

/// The catalog's rules, checked before anything is sent; also flags an
/// image whose tag names another major than the one it is listed under
/// (the operator trusts the declared major without looking at the image).
pub fn check_images(images: &[CatalogImage]) -> Result<(), String> {
    if images.is_empty() || images.len() > 8 {
        return Err(format!("a catalog lists 1 to 8 images, not {}", images.len()));
    }
    let mut problems = Vec::new();
    for (i, image) in images.iter().enumerate() {
        if image.major < 10 {
            problems.push(format!("major {} is below 10", image.major));
        }
        if images[..i].iter().any(|other| other.major == image.major) {
            problems.push(format!("major {} is listed twice (one image per major)", image.major));
        }
        match cluster_image_version(&image.image) {
            Err(reason) => problems.push(reason),
            Ok((major, _)) if major != image.major => problems.push(format!(
                "`{}` is PostgreSQL {major} by its tag but listed as major {}",
                image.image, image.major
            )),
            Ok(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Clusters (namespace, name, major) whose `spec.imageCatalogRef` names
/// the catalog. For the namespaced kind only the catalog's namespace can
/// refer to it.
pub fn users_of(scope: Scope, ns: &str, name: &str) -> Result<Vec<(String, String, u64)>, ToolOutput> {
    let clusters = kube::list(&collection(cnpg("clusters"), scope.namespaced.then_some(ns)), None)?;
    Ok(clusters
        .iter()
        .filter(|c| {
            c.pointer("/spec/imageCatalogRef/kind").and_then(Value::as_str) == Some(scope.kind)
                && c.pointer("/spec/imageCatalogRef/name").and_then(Value::as_str) == Some(name)
        })
        .map(|c| {
            (
                kube::meta(c, "namespace").unwrap_or_default().to_string(),
                kube::name_of(c).to_string(),
                c.pointer("/spec/imageCatalogRef/major")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            )
        })
        .collect())
}

/// What list answers (also its output schema).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CatalogList {
    /// `ImageCatalog` or `ClusterImageCatalog`.
    pub kind: String,
    pub catalogs: Vec<CatalogSummary>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CatalogSummary {
    pub name: String,
    /// Absent for cluster-scoped catalogs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// One image per PostgreSQL major, in major order.
    pub images: Vec<ListedImage>,
    /// The clusters whose `spec.imageCatalogRef` names this catalog.
    pub used_by: Vec<CatalogUser>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListedImage {
    pub major: u64,
    pub image: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CatalogUser {
    pub namespace: String,
    pub cluster: String,
    /// The major the cluster takes from the catalog.
    pub major: u64,
}

pub fn list(scope: Scope, ns: &str) -> Outcome {
    let catalogs = kube::list(&scope.collection(ns), None)?;
    let clusters = kube::list(&collection(cnpg("clusters"), scope.namespaced.then_some(ns)), None)?;
    let mut summaries = Vec::new();
    let mut text = if scope.namespaced {
        format!("{} {}(s) in namespace {ns}.", catalogs.len(), scope.kind)
    } else {
        format!("{} {}(s).", catalogs.len(), scope.kind)
    };
    for catalog in &catalogs {
        let name = kube::name_of(catalog).to_string();
        let images = images_of(catalog);
        let used_by: Vec<CatalogUser> = clusters
            .iter()
            .filter(|c| {
                c.pointer("/spec/imageCatalogRef/kind").and_then(Value::as_str) == Some(scope.kind)
                    && c.pointer("/spec/imageCatalogRef/name").and_then(Value::as_str) == Some(name.as_str())
            })
            .map(|c| CatalogUser {
                namespace: kube::meta(c, "namespace").unwrap_or_default().to_string(),
                cluster: kube::name_of(c).to_string(),
                major: c
                    .pointer("/spec/imageCatalogRef/major")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            })
            .collect();
        text.push_str(&format!("\n- {name}:"));
        for (major, image) in &images {
            text.push_str(&format!(" {major} -> {image};"));
        }
        if used_by.is_empty() {
            text.push_str(" used by no cluster");
        } else {
            let users: Vec<String> = used_by
                .iter()
                .map(|u| format!("{}/{} (major {})", u.namespace, u.cluster, u.major))
                .collect();
            text.push_str(&format!(" used by {}", users.join(", ")));
        }
        summaries.push(CatalogSummary {
            name,
            namespace: scope.namespaced.then(|| ns.to_string()),
            images: images
                .into_iter()
                .map(|(major, image)| ListedImage { major, image })
                .collect(),
            used_by,
        });
    }
    let answer = CatalogList {
        kind: scope.kind.to_string(),
        catalogs: summaries,
    };
    Ok(success(&answer, text, Format::Text))
}

pub fn create(scope: Scope, ns: &str, name: &str, images: &[CatalogImage], dry_run: bool) -> Outcome {
    check_images(images).map_err(|reason| {
        failure(
            format!("Refused before sending anything: {reason}. Nothing was created."),
            "List each major once, with an image whose tag starts with that major's version.",
        )
    })?;
    let mut metadata = json!({"name": name});
    if scope.namespaced {
        metadata["namespace"] = json!(ns);
    }
    let manifest = json!({
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": scope.kind,
        "metadata": metadata,
        "spec": {"images": images.iter().map(|i| json!({"major": i.major, "image": i.image})).collect::<Vec<_>>()},
    });
    let created = kube::create(&scope.collection(ns), &manifest, dry_run)?;
    let mutation = Mutation {
        action: "create".into(),
        dry_run,
        request: manifest,
        result: Some(json!({"metadata": {"name": kube::name_of(&created), "uid": kube::meta(&created, "uid")}})),
        notes: vec![format!(
            "A cluster uses it with upgrade_postgres_cluster(catalog={{name: \"{name}\", kind: \"{}\", major: N}}); \
             changing an image here later rolls every cluster using that major.",
            scope.kind
        )],
    };
    Ok(mutation.output(format!(
        "{} {} with {} image(s).",
        if dry_run { "Would create" } else { "Created" },
        scope.shown(ns, name),
        images.len()
    )))
}

pub fn delete(
    scope: Scope,
    ns: &str,
    name: &str,
    raw: &Value,
    confirm: bool,
    even_if_used: bool,
    dry_run: bool,
) -> Outcome {
    let target = scope.object(ns, name);
    let catalog = kube::get(&target)?;
    let users = users_of(scope, ns, name)?;
    let listed: Vec<String> = users
        .iter()
        .map(|(cns, cluster, major)| format!("{cns}/{cluster} (major {major})"))
        .collect();
    if !users.is_empty() && !even_if_used {
        return Err(failure(
            format!(
                "{} is used by {}: without it they stop being reconciled (phase \"Cluster has incomplete or invalid \
                 image catalog\"). Nothing was deleted.",
                scope.shown(ns, name),
                listed.join(", ")
            ),
            "Point those clusters at another image or catalog first (upgrade_postgres_cluster), or pass \
             `even_if_used: true`.",
        ));
    }
    let what = format!(
        "deleting {} ({} image(s){})",
        scope.shown(ns, name),
        images_of(&catalog).len(),
        if users.is_empty() {
            String::new()
        } else {
            format!("; clusters {} stop being reconciled", listed.join(", "))
        }
    );
    confirmed(scope.delete_tool, raw, "confirm_deletion", confirm, dry_run, &what)?;
    kube::delete(&target, dry_run, kube::meta(&catalog, "uid"))?;
    let mutation = Mutation {
        action: "delete".into(),
        dry_run,
        request: json!({"kind": scope.kind, "name": name}),
        result: None,
        notes: if users.is_empty() {
            vec![]
        } else {
            vec![format!("Clusters left without their catalog: {}.", listed.join(", "))]
        },
    };
    Ok(mutation.output(format!(
        "{} {}.",
        if dry_run { "Would delete" } else { "Deleted" },
        scope.shown(ns, name)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(major: u32, image: &str) -> CatalogImage {
        CatalogImage {
            major,
            image: image.into(),
        }
    }

    #[test]
    fn catalog_rules_are_checked_before_sending() {
        assert!(check_images(&[image(17, "pg:17.5"), image(18, "pg:18.1-minimal-trixie")]).is_ok());
        assert!(check_images(&[]).unwrap_err().contains("1 to 8"));
        let twice = check_images(&[image(17, "pg:17.5"), image(17, "pg:17.6")]).unwrap_err();
        assert!(twice.contains("listed twice"), "{twice}");
        let wrong = check_images(&[image(18, "pg:17.5")]).unwrap_err();
        assert!(
            wrong.contains("PostgreSQL 17 by its tag but listed as major 18"),
            "{wrong}"
        );
        assert!(check_images(&[image(17, "pg:latest")]).unwrap_err().contains("latest"));
        let nine: Vec<CatalogImage> = (10..19).map(|m| image(m, &format!("pg:{m}"))).collect();
        assert!(check_images(&nine).unwrap_err().contains("not 9"));
    }
}
