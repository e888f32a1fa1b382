//! PostgreSQL container images as the operator reads them: the major and
//! minor version come from the tag's leading digits (`FromTag`,
//! `github.com/cloudnative-pg/machinery` v0.5.0 `pkg/postgres/version`),
//! and the webhook refuses tags it cannot read a version from
//! (`validateImageName`, operator v1.30.0 `internal/webhook/v1/cluster_webhook.go`).

/// An image reference split into name, tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `registry:port/path/name:tag@sha256:...`. The tag is what
/// follows the last `:` after the last `/`.
pub fn parse(reference: &str) -> ImageRef<'_> {
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(colon) => ImageRef {
            name: &rest[..last_slash + colon],
            tag: Some(&rest[last_slash + colon + 1..]),
            digest,
        },
        None => ImageRef {
            name: rest,
            tag: None,
            digest,
        },
    }
}

/// `(major, minor)` from a tag: its leading run of digits and dots
/// (`17.5-standard-trixie` is 17.5, `18` is 18.0, `17rc1` is 17.0).
pub fn version_of_tag(tag: &str) -> Option<(u32, u32)> {
    let leading: &str = &tag[..tag
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(tag.len())];
    if !leading.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut parts = leading.trim_end_matches('.').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// The version of an image a Cluster may use, or the webhook's reason
/// for refusing it.
pub fn cluster_image_version(reference: &str) -> Result<(u32, u32), String> {
    let image = parse(reference);
    match image.tag {
        Some("latest") => Err(format!(
            "`{reference}`: the tag `latest` names no version, so upgrades cannot be detected"
        )),
        None => Err(format!(
            "`{reference}` has no tag: a digest alone names no version, so upgrades cannot be detected"
        )),
        Some(tag) => version_of_tag(tag).ok_or_else(|| {
            format!("`{reference}`: the tag `{tag}` does not start with a PostgreSQL version (e.g. `17.5`)")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_name_tag_and_digest() {
        let image = parse("ghcr.io:443/cloudnative-pg/postgresql:17.5-standard-trixie@sha256:abc");
        assert_eq!(image.name, "ghcr.io:443/cloudnative-pg/postgresql");
        assert_eq!(image.tag, Some("17.5-standard-trixie"));
        assert_eq!(image.digest, Some("sha256:abc"));
        assert_eq!(parse("localhost:5000/pg").tag, None);
        assert_eq!(parse("postgres@sha256:abc").tag, None);
    }

    #[test]
    fn versions_come_from_the_tags_leading_digits() {
        assert_eq!(version_of_tag("17.5-standard-trixie"), Some((17, 5)));
        assert_eq!(version_of_tag("18"), Some((18, 0)));
        assert_eq!(version_of_tag("16.0"), Some((16, 0)));
        assert_eq!(version_of_tag("17rc1"), Some((17, 0)));
        assert_eq!(version_of_tag("15.5-10"), Some((15, 5)));
        assert_eq!(version_of_tag("v17"), None);
        assert_eq!(version_of_tag("latest"), None);
    }

    #[test]
    fn the_webhooks_refusals() {
        assert!(cluster_image_version("postgres:latest").unwrap_err().contains("latest"));
        assert!(
            cluster_image_version("postgres@sha256:abc")
                .unwrap_err()
                .contains("digest")
        );
        assert!(
            cluster_image_version("postgres:bookworm")
                .unwrap_err()
                .contains("bookworm")
        );
        assert_eq!(cluster_image_version("postgres:18.1-minimal-trixie"), Ok((18, 1)));
    }
}
