//! Kubernetes RBAC for the server's service account, generated from the
//! component grants it loads, so RBAC and grants never drift apart.
//!
//! Profiles take the verbs of every grant rule by class: `reader` the read
//! verbs, `operator` also create/update/patch, `admin` also delete.
//! `impersonator` is different: with impersonation on, the callers' own
//! RBAC decides, and the server only needs `impersonate` on users and
//! groups (cluster-wide by nature).
//!
//! RBAC cannot say what some grant rules say; the output notes where it is
//! broader: name patterns (`cnpg-*-user-*`) become "any name" (the grant
//! still narrows inside the server), and cluster-scoped resources are left
//! out of namespaced profiles.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::runtime::grant::ComponentGrant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Reader,
    Operator,
    Admin,
    Impersonator,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Reader => "reader",
            Profile::Operator => "operator",
            Profile::Admin => "admin",
            Profile::Impersonator => "impersonator",
        }
    }

    /// Whether the profile keeps `verb` on `resource`. `operator` may delete
    /// Secrets only: a multi-object create (DatabaseRole + its password
    /// Secret) must be able to take its Secret back when the second step fails.
    fn allows(self, verb: &str, resource: &str) -> bool {
        let read = matches!(verb, "get" | "list" | "watch");
        let write = matches!(verb, "create" | "update" | "patch");
        let delete = matches!(verb, "delete" | "deletecollection");
        match self {
            Profile::Reader => read,
            Profile::Operator => read || write || (verb == "delete" && resource == "secrets"),
            Profile::Admin => read || write || delete,
            Profile::Impersonator => false,
        }
    }
}

const ALL_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// Cluster-scoped resources a grant may name.
const CLUSTER_SCOPED: &[&str] = &[
    "namespaces",
    "nodes",
    "persistentvolumes",
    "storageclasses",
    "clusterimagecatalogs",
    "customresourcedefinitions",
    "clusterroles",
    "clusterrolebindings",
];

/// Where the RBAC applies and to whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// Namespace of a Role + RoleBinding; `None`: ClusterRole + ClusterRoleBinding.
    pub namespace: Option<String>,
    pub service_account: String,
    pub service_account_namespace: String,
    /// Prefix of the Role/ClusterRole names.
    pub name: String,
}

/// One RBAC policy rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub verbs: Vec<String>,
}

impl Rule {
    pub fn to_json(&self) -> Value {
        let mut rule = json!({"apiGroups": self.api_groups, "resources": self.resources, "verbs": self.verbs});
        if !self.resource_names.is_empty() {
            rule["resourceNames"] = json!(self.resource_names);
        }
        rule
    }
}

/// The rules of `profile` for the given grants, and notes on where RBAC is
/// broader than the grants.
pub fn rules(
    grants: &[(String, ComponentGrant)],
    profile: Profile,
    namespaced: Option<&str>,
) -> (Vec<Rule>, Vec<String>) {
    let mut notes = BTreeSet::new();
    if profile == Profile::Impersonator {
        return (
            vec![Rule {
                api_groups: vec![String::new()],
                resources: vec!["groups".into(), "users".into()],
                resource_names: vec![],
                verbs: vec!["impersonate".into()],
            }],
            vec![],
        );
    }
    // (group, resource, names) -> verbs
    let mut by_target: BTreeMap<(String, String, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    for (component, grant) in grants {
        for rule in &grant.kubernetes {
            if let Some(ns) = namespaced {
                let reaches = rule.namespaces.is_empty() || rule.namespaces.iter().any(|n| n == "*" || n == ns);
                if !reaches {
                    continue;
                }
            }
            let verbs: Vec<&str> = rule
                .verbs
                .iter()
                .flat_map(|v| if v == "*" { ALL_VERBS.to_vec() } else { vec![v.as_str()] })
                .collect();
            let names: Vec<String> = if rule.names.iter().any(|n| n.contains('*')) {
                notes.insert(format!(
                    "{component}: names {:?} are patterns RBAC cannot express; any name is allowed here and the \
                     grant narrows it inside the server",
                    rule.names
                ));
                vec![]
            } else {
                let mut names = rule.names.clone();
                names.sort();
                names
            };
            for group in &rule.api_groups {
                for resource in &rule.resources {
                    let kept: Vec<&str> = verbs.iter().copied().filter(|v| profile.allows(v, resource)).collect();
                    if kept.is_empty() {
                        continue;
                    }
                    let base = resource.split('/').next().unwrap_or(resource);
                    if namespaced.is_some() && CLUSTER_SCOPED.contains(&base) {
                        notes.insert(format!(
                            "{component}: `{resource}` is cluster-scoped and left out of a namespaced profile"
                        ));
                        continue;
                    }
                    by_target
                        .entry((group.clone(), resource.clone(), names.clone()))
                        .or_default()
                        .extend(kept.iter().map(|v| v.to_string()));
                }
            }
        }
    }
    // Merge resources sharing group, names and verbs into one rule.
    let mut merged: BTreeMap<(String, Vec<String>, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    for ((group, resource, names), verbs) in by_target {
        let verbs: Vec<String> = ALL_VERBS
            .iter()
            .filter(|v| verbs.contains(**v))
            .map(|v| v.to_string())
            .collect();
        merged.entry((group, names, verbs)).or_default().insert(resource);
    }
    let rules = merged
        .into_iter()
        .map(|((group, names, verbs), resources)| Rule {
            api_groups: vec![group],
            resources: resources.into_iter().collect(),
            resource_names: names,
            verbs,
        })
        .collect();
    (rules, notes.into_iter().collect())
}

/// Role/ClusterRole and its binding to the service account, as a
/// Kubernetes `List`.
pub fn manifests(grants: &[(String, ComponentGrant)], profile: Profile, target: &Target) -> (Value, Vec<String>) {
    let cluster_wide = target.namespace.is_none() || profile == Profile::Impersonator;
    let namespaced = if cluster_wide {
        None
    } else {
        target.namespace.as_deref()
    };
    let (rules, notes) = rules(grants, profile, namespaced);
    let role_name = format!("{}-{}", target.name, profile.name());
    let labels = json!({"app.kubernetes.io/name": "cnpg-mcp", "app.kubernetes.io/component": "rbac",
                        "cnpg-mcp/rbac-profile": profile.name()});
    let mut role_meta = json!({"name": role_name, "labels": labels});
    let mut binding_meta = json!({"name": role_name, "labels": labels});
    if let Some(ns) = namespaced {
        role_meta["namespace"] = json!(ns);
        binding_meta["namespace"] = json!(ns);
    }
    let (role_kind, binding_kind) = if cluster_wide {
        ("ClusterRole", "ClusterRoleBinding")
    } else {
        ("Role", "RoleBinding")
    };
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": role_kind, "metadata": role_meta,
        "rules": rules.iter().map(Rule::to_json).collect::<Vec<_>>(),
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": binding_kind, "metadata": binding_meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": target.service_account,
                      "namespace": target.service_account_namespace}],
    });
    (
        json!({"apiVersion": "v1", "kind": "List", "items": [role, binding]}),
        notes,
    )
}

/// The manifests as YAML, with the notes as comments on top.
pub fn to_yaml(list: &Value, notes: &[String], profile: Profile) -> anyhow::Result<String> {
    let mut out = format!(
        "# cnpg-mcp RBAC profile `{}`, generated from the loaded components' grants.\n",
        profile.name()
    );
    for note in notes {
        out.push_str(&format!("# note: {note}\n"));
    }
    for item in list["items"].as_array().into_iter().flatten() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(item)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> (String, ComponentGrant) {
        ("c".into(), ComponentGrant::parse(text).unwrap())
    }

    const GRANT: &str = r#"
[[kubernetes]]
verbs = ["get", "list", "watch", "create", "patch", "delete"]
api_groups = ["postgresql.cnpg.io"]
resources = ["clusters"]
[[kubernetes]]
verbs = ["patch"]
api_groups = ["postgresql.cnpg.io"]
resources = ["clusters/status"]
[[kubernetes]]
verbs = ["list"]
api_groups = [""]
resources = ["namespaces"]
[[kubernetes]]
verbs = ["get", "delete"]
api_groups = [""]
resources = ["secrets"]
namespaces = ["*"]
names = ["cnpg-*-user-*"]
[[kubernetes]]
verbs = ["get"]
api_groups = [""]
resources = ["configmaps"]
namespaces = ["other"]
"#;

    fn verbs_of(rules: &[Rule], resource: &str) -> Vec<String> {
        rules
            .iter()
            .filter(|r| r.resources.iter().any(|x| x == resource))
            .flat_map(|r| r.verbs.clone())
            .collect()
    }

    #[test]
    fn profiles_take_the_grants_verbs_by_class() {
        let grants = vec![grant(GRANT)];
        let (reader, _) = rules(&grants, Profile::Reader, Some("db"));
        assert_eq!(verbs_of(&reader, "clusters"), ["get", "list", "watch"]);
        assert!(verbs_of(&reader, "clusters/status").is_empty());
        assert_eq!(verbs_of(&reader, "secrets"), ["get"]);
        let (operator, _) = rules(&grants, Profile::Operator, Some("db"));
        assert_eq!(
            verbs_of(&operator, "clusters"),
            ["get", "list", "watch", "create", "patch"]
        );
        assert_eq!(verbs_of(&operator, "clusters/status"), ["patch"]);
        // Only Secrets may be deleted by an operator (rollback of a half-made role).
        assert_eq!(verbs_of(&operator, "secrets"), ["get", "delete"]);
        let (admin, notes) = rules(&grants, Profile::Admin, Some("db"));
        assert_eq!(
            verbs_of(&admin, "clusters"),
            ["get", "list", "watch", "create", "patch", "delete"]
        );
        assert_eq!(verbs_of(&admin, "secrets"), ["get", "delete"]);
        // Namespaced: no cluster-scoped resources, no rules for other namespaces.
        assert!(verbs_of(&admin, "namespaces").is_empty());
        assert!(verbs_of(&admin, "configmaps").is_empty());
        assert!(notes.iter().any(|n| n.contains("cnpg-*-user-*")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("namespaces")), "{notes:?}");
        let (cluster_wide, _) = rules(&grants, Profile::Admin, None);
        assert_eq!(verbs_of(&cluster_wide, "namespaces"), ["list"]);
        assert_eq!(verbs_of(&cluster_wide, "configmaps"), ["get"]);
    }

    #[test]
    fn exact_names_become_resource_names_and_rules_merge() {
        let grants = vec![grant(
            "[[kubernetes]]\nverbs=[\"get\"]\napi_groups=[\"\"]\nresources=[\"secrets\"]\nnamespaces=[\"db\"]\nnames=[\"b\",\"a\"]\n\
             [[kubernetes]]\nverbs=[\"get\",\"list\"]\napi_groups=[\"\"]\nresources=[\"pods\",\"services\"]\n",
        )];
        let (rules, notes) = rules(&grants, Profile::Reader, Some("db"));
        assert!(notes.is_empty());
        let secrets = rules.iter().find(|r| r.resources == ["secrets"]).unwrap();
        assert_eq!(secrets.resource_names, ["a", "b"]);
        let merged = rules
            .iter()
            .find(|r| r.resources.contains(&"pods".to_string()))
            .unwrap();
        assert_eq!(merged.resources, ["pods", "services"]);
    }

    #[test]
    fn impersonator_only_impersonates_and_is_cluster_wide() {
        let target = Target {
            namespace: Some("db".into()),
            service_account: "cnpg-mcp".into(),
            service_account_namespace: "mcp".into(),
            name: "cnpg-mcp".into(),
        };
        let (list, _) = manifests(&[grant(GRANT)], Profile::Impersonator, &target);
        let role = &list["items"][0];
        assert_eq!(role["kind"], json!("ClusterRole"));
        assert_eq!(
            role["rules"],
            json!([{"apiGroups": [""], "resources": ["groups", "users"], "verbs": ["impersonate"]}])
        );
        let binding = &list["items"][1];
        assert_eq!(binding["subjects"][0]["namespace"], json!("mcp"));
        let (list, _) = manifests(&[grant(GRANT)], Profile::Reader, &target);
        assert_eq!(list["items"][0]["kind"], json!("Role"));
        assert_eq!(list["items"][1]["metadata"]["namespace"], json!("db"));
    }
}
