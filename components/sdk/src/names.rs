//! Names and quantities.

/// Largest length of a Kubernetes object name (RFC 1123 subdomain).
pub const MAX_OBJECT_NAME: usize = 253;

/// Schema pattern of a namespace name (an RFC 1123 label).
pub const NAMESPACE_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Schema pattern of a Cluster name: an RFC 1123 label (a Service is named
/// after it).
pub const CLUSTER_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// Schema pattern of a PostgreSQL role or database name this server
/// manages: lowercase letters, digits, `_` and `-`, starting with a letter
/// or `_`. PostgreSQL takes any quoted identifier and CloudNativePG quotes
/// every name it sends (`pgx.Identifier{..}.Sanitize()` in the operator's
/// role, database and initdb code), so `-` is as safe as `_`; uppercase is
/// left out because unquoted SQL, which users type, folds it to lowercase.
pub const PG_NAME_PATTERN: &str = "^[a-z_][a-z0-9_-]*$";

/// Schema pattern of a Kubernetes quantity of bytes (`10Gi`, `500M`, `1.5Ti`).
pub const QUANTITY_PATTERN: &str = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";

/// Role names PostgreSQL or CloudNativePG reserve.
pub const RESERVED_ROLES: &[&str] = &["postgres", "streaming_replica"];
pub const RESERVED_ROLE_PREFIXES: &[&str] = &["pg_", "cnpg_"];

/// Why a role name cannot be managed, if it cannot.
pub fn reserved_role(name: &str) -> Option<String> {
    if RESERVED_ROLES.contains(&name) {
        return Some(format!("`{name}` is reserved by CloudNativePG"));
    }
    RESERVED_ROLE_PREFIXES
        .iter()
        .find(|prefix| name.starts_with(*prefix))
        .map(|prefix| format!("role names starting with `{prefix}` are reserved"))
}

/// A PostgreSQL name as part of an object name: `_` becomes `-`. Names that
/// only differ in `_` versus `-` (`app_user`, `app-user`) map to the same
/// part; creating tools check whether the usual object name is taken and
/// fall back to [`disambiguated_object_name`].
pub fn pg_to_object(name: &str) -> String {
    name.replace('_', "-")
}

/// `<cluster>-<pg name>`, the usual object name of a Database or
/// DatabaseRole (`_` as `-`, no leading or trailing `-`). Several
/// PostgreSQL names can map to one object name (`a_b`, `_a_b`); a tool that
/// finds the name taken by another PostgreSQL name uses
/// [`disambiguated_object_name`], and lookups go by `spec.name`.
pub fn child_object_name(cluster: &str, pg_name: &str) -> String {
    let part = pg_to_object(pg_name);
    let part = part.trim_matches('-');
    if part.is_empty() {
        format!("{cluster}-x")
    } else {
        format!("{cluster}-{part}")
    }
}

/// [`child_object_name`] plus a short stable hash of the exact PostgreSQL
/// name.
pub fn disambiguated_object_name(cluster: &str, pg_name: &str) -> String {
    // FNV-1a, 32 bits: stable across builds and platforms.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in pg_name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{}-{:06x}", child_object_name(cluster, pg_name), hash & 0xff_ffff)
}

/// Bytes of a Kubernetes quantity, for comparing sizes.
pub fn quantity_bytes(quantity: &str) -> Option<f64> {
    let quantity = quantity.trim();
    let split = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_across_units() {
        assert_eq!(quantity_bytes("1Gi"), Some(1073741824.0));
        assert_eq!(quantity_bytes("1024Mi"), quantity_bytes("1Gi"));
        assert!(quantity_bytes("10G").unwrap() < quantity_bytes("10Gi").unwrap());
        assert_eq!(quantity_bytes("1.5Ki"), Some(1536.0));
        assert_eq!(quantity_bytes("10Gb"), None);
        assert_eq!(quantity_bytes("Gi"), None);
    }

    #[test]
    fn reserved_roles_are_named() {
        assert!(reserved_role("postgres").is_some());
        assert!(reserved_role("streaming_replica").is_some());
        assert!(reserved_role("pg_monitor").is_some());
        assert!(reserved_role("cnpg_pooler_pgbouncer").is_some());
        assert!(reserved_role("app_user").is_none());
    }

    #[test]
    fn postgres_names_map_to_valid_object_names() {
        assert_eq!(child_object_name("pg", "app_user"), "pg-app-user");
        assert_eq!(child_object_name("pg", "_tmp_"), "pg-tmp");
        assert_eq!(child_object_name("pg", "_"), "pg-x");
        assert_eq!(child_object_name("pg", "app"), "pg-app");
        let a = disambiguated_object_name("pg", "_tmp_");
        let b = disambiguated_object_name("pg", "tmp");
        assert_ne!(a, b);
        assert!(a.starts_with("pg-tmp-") && a.len() == "pg-tmp-".len() + 6, "{a}");
        // Both spellings of a name the reference server users write.
        assert_eq!(child_object_name("pg", "test-role-1733"), "pg-test-role-1733");
        assert_eq!(child_object_name("pg", "app-user"), child_object_name("pg", "app_user"));
        assert_ne!(
            disambiguated_object_name("pg", "app-user"),
            disambiguated_object_name("pg", "app_user")
        );
    }
}
