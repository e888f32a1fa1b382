//! Argument structs; the input schemas are derived from them.

use cnpg_mcp_sdk::names::{CLUSTER_NAME_PATTERN, NAMESPACE_PATTERN};
use schemars::JsonSchema;
use serde::Deserialize;

/// A container image reference with a tag.
pub const IMAGE_PATTERN: &str = "^[a-z0-9][a-zA-Z0-9._:/@-]*$";

/// Which kind of catalog a cluster refers to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum CatalogKind {
    /// In the cluster's namespace.
    #[default]
    ImageCatalog,
    /// Cluster-scoped, shared by every namespace.
    ClusterImageCatalog,
}

impl CatalogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogKind::ImageCatalog => "ImageCatalog",
            CatalogKind::ClusterImageCatalog => "ClusterImageCatalog",
        }
    }
}

/// `spec.imageCatalogRef`: a catalog and the major version to take from it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogRef {
    /// Name of the catalog.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// `ImageCatalog` (default, in the cluster's namespace) or `ClusterImageCatalog`.
    #[serde(default)]
    pub kind: CatalogKind,
    /// The PostgreSQL major version whose image the catalog lists.
    #[schemars(range(min = 10, max = 99))]
    pub major: u32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Upgrade {
    /// Name of the CloudNativePG Cluster.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 50))]
    pub name: String,
    /// Namespace of the cluster. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// The new image (`spec.imageName`), with a version tag such as `18.1-standard-trixie`. Give this or `catalog`.
    #[schemars(regex(pattern = IMAGE_PATTERN), length(min = 1, max = 512))]
    pub image: Option<String>,
    /// Take the image from a catalog (`spec.imageCatalogRef`). Give this or `image`.
    pub catalog: Option<CatalogRef>,
    /// Must be true for a major upgrade: in place with pg_upgrade, the whole cluster down meanwhile, and no way back once it completed.
    #[serde(default)]
    pub confirm_major_upgrade: bool,
    /// Allow a major upgrade although the cluster has no completed backup.
    #[serde(default)]
    pub without_backup: bool,
    /// Validate server-side and show the patch; nothing is changed.
    #[serde(default)]
    pub dry_run: bool,
}

/// One image of a catalog.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogImage {
    /// PostgreSQL major version (10 or newer); one image per major.
    #[schemars(range(min = 10, max = 99))]
    pub major: u32,
    /// The image for that major, with a version tag.
    #[schemars(regex(pattern = IMAGE_PATTERN), length(min = 1, max = 512))]
    pub image: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCatalogs {
    /// Namespace. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCatalog {
    /// Name of the new catalog.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Namespace. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// One to eight images, each for a different major version.
    #[schemars(length(min = 1, max = 8))]
    pub images: Vec<CatalogImage>,
    /// Validate server-side and show the manifest; nothing is created.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteCatalog {
    /// Name of the catalog.
    #[schemars(regex(pattern = CLUSTER_NAME_PATTERN), length(min = 1, max = 253))]
    pub name: String,
    /// Namespace. Default: the server's namespace.
    #[schemars(regex(pattern = NAMESPACE_PATTERN), length(max = 63))]
    pub namespace: Option<String>,
    /// Must be true to delete.
    #[serde(default)]
    pub confirm_deletion: bool,
    /// Delete although clusters use it (they stop being reconciled until they point elsewhere).
    #[serde(default)]
    pub even_if_used: bool,
    /// Validate server-side; nothing is deleted.
    #[serde(default)]
    pub dry_run: bool,
}
