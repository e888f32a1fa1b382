//! The grant check every Kubernetes call passes before any I/O.
//!
//! A request is allowed when one `[[kubernetes]]` rule of the component's
//! grant covers its verb, API group, resource (with subresource),
//! namespace and name. Wildcards (`*`, or an empty namespace/name list)
//! never cover the sensitive resources — Secrets, RBAC objects,
//! `serviceaccounts/token`, `pods/exec|attach|portforward|proxy` — which a
//! rule must name explicitly.
//!
//! A name may be a pattern with `*` standing for any run of characters
//! (`cnpg-*-user-*`). For sensitive resources a pattern with literal text
//! counts as naming them, and such a rule may then say `namespaces = ["*"]`:
//! the name pattern is what narrows it (a bare `*` name never does).

use super::grant::{ComponentGrant, KubernetesRule};

/// One Kubernetes request, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRequest<'a> {
    pub verb: &'a str,
    /// "" for the core group.
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    /// None for cluster-scoped resources and all-namespace lists.
    pub namespace: Option<&'a str>,
    /// None for collection requests (list, create, deletecollection).
    pub name: Option<&'a str>,
}

/// What an allowed request may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    /// A covering rule grants Secret `data`.
    pub secret_data: bool,
}

/// Why a request was refused, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDenial {
    pub reason: String,
}

const SENSITIVE: &[(&str, &str)] = &[
    ("", "secrets"),
    ("", "serviceaccounts/token"),
    ("", "pods/exec"),
    ("", "pods/attach"),
    ("", "pods/portforward"),
    ("", "pods/proxy"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
];

impl AccessRequest<'_> {
    /// `resource` or `resource/subresource`.
    pub fn full_resource(&self) -> String {
        match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_string(),
        }
    }

    fn sensitive(&self) -> bool {
        let full = self.full_resource();
        SENSITIVE.iter().any(|(group, resource)| {
            *group == self.group && (*resource == full || (*resource == self.resource && !resource.contains('/')))
        })
    }
}

fn listed(values: &[String], value: &str, wildcard_ok: bool) -> bool {
    values.iter().any(|v| v == value || (wildcard_ok && v == "*"))
}

/// `pattern` with `*` matching any run of characters (also none).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A name entry that narrows: anything but a bare `*`.
fn narrowing(pattern: &str) -> bool {
    pattern.chars().any(|c| c != '*')
}

impl KubernetesRule {
    fn covers(&self, request: &AccessRequest<'_>) -> bool {
        let sensitive = request.sensitive();
        let wild = !sensitive;
        let full = request.full_resource();
        // Sensitive resources: every name entry must narrow for the rule
        // to reach them in any namespace.
        let names_narrow = !self.names.is_empty() && self.names.iter().all(|n| narrowing(n));
        listed(&self.verbs, request.verb, true)
            && listed(&self.api_groups, request.group, wild)
            && listed(&self.resources, &full, wild)
            && match request.namespace {
                None => self.namespaces.is_empty() || listed(&self.namespaces, "*", true),
                Some(ns) => (self.namespaces.is_empty() && wild) || listed(&self.namespaces, ns, wild || names_narrow),
            }
            && match request.name {
                None => self.names.is_empty(),
                Some(name) => {
                    (self.names.is_empty() && wild)
                        || self
                            .names
                            .iter()
                            .any(|pattern| (wild || narrowing(pattern)) && name_matches(pattern, name))
                }
            }
    }
}

impl ComponentGrant {
    /// Allows or refuses `request` before anything is sent.
    pub fn check(&self, request: &AccessRequest<'_>) -> Result<Allowed, PolicyDenial> {
        let mut covering = self.kubernetes.iter().filter(|rule| rule.covers(request)).peekable();
        if covering.peek().is_some() {
            return Ok(Allowed {
                secret_data: covering.any(|rule| rule.secret_data),
            });
        }
        let group = if request.group.is_empty() {
            "core".to_string()
        } else {
            request.group.to_string()
        };
        let scope = match (request.namespace, request.name) {
            (Some(ns), Some(name)) => format!(" `{name}` in namespace `{ns}`"),
            (Some(ns), None) => format!(" in namespace `{ns}`"),
            (None, Some(name)) => format!(" `{name}`"),
            (None, None) => String::new(),
        };
        let mut reason = format!(
            "the component's grant has no [[kubernetes]] rule allowing `{}` on {group}/{}{scope}",
            request.verb,
            request.full_resource()
        );
        if request.sensitive() {
            reason.push_str(
                " (this resource is sensitive: a rule must name it, its group, namespace and names explicitly)",
            );
        }
        Err(PolicyDenial { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(text: &str) -> ComponentGrant {
        ComponentGrant::parse(text).unwrap()
    }

    fn req<'a>(
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        ns: Option<&'a str>,
        name: Option<&'a str>,
    ) -> AccessRequest<'a> {
        AccessRequest {
            verb,
            group,
            resource,
            subresource: None,
            namespace: ns,
            name,
        }
    }

    const CNPG_READER: &str = r#"
[[kubernetes]]
verbs = ["get", "list", "watch"]
api_groups = ["postgresql.cnpg.io"]
resources = ["clusters", "backups"]
"#;

    #[test]
    fn nothing_is_allowed_without_a_rule() {
        let denial = grant("")
            .check(&req("get", "", "pods", Some("db"), Some("x")))
            .unwrap_err();
        assert!(
            denial.reason.contains("`get` on core/pods `x` in namespace `db`"),
            "{}",
            denial.reason
        );
    }

    #[test]
    fn a_rule_covers_its_verbs_groups_and_resources_only() {
        let g = grant(CNPG_READER);
        assert!(
            g.check(&req("get", "postgresql.cnpg.io", "clusters", Some("db"), Some("main")))
                .is_ok()
        );
        assert!(
            g.check(&req("list", "postgresql.cnpg.io", "backups", None, None))
                .is_ok()
        );
        assert!(
            g.check(&req(
                "delete",
                "postgresql.cnpg.io",
                "clusters",
                Some("db"),
                Some("main")
            ))
            .is_err()
        );
        assert!(
            g.check(&req("get", "postgresql.cnpg.io", "poolers", Some("db"), Some("p")))
                .is_err()
        );
        assert!(g.check(&req("get", "", "clusters", Some("db"), Some("main"))).is_err());
    }

    #[test]
    fn subresources_must_be_granted_as_such() {
        let g = grant(CNPG_READER);
        let status = AccessRequest {
            subresource: Some("status"),
            ..req("get", "postgresql.cnpg.io", "clusters", Some("db"), Some("m"))
        };
        assert!(g.check(&status).is_err());
        let g = grant(
            "[[kubernetes]]\nverbs=[\"patch\"]\napi_groups=[\"postgresql.cnpg.io\"]\nresources=[\"clusters/status\"]\n",
        );
        let patch = AccessRequest {
            verb: "patch",
            ..status
        };
        assert!(g.check(&patch).is_ok());
    }

    #[test]
    fn namespaces_and_names_narrow_a_rule() {
        let g = grant(
            "[[kubernetes]]\nverbs=[\"get\",\"list\"]\napi_groups=[\"\"]\nresources=[\"configmaps\"]\nnamespaces=[\"db\"]\nnames=[\"settings\"]\n",
        );
        assert!(
            g.check(&req("get", "", "configmaps", Some("db"), Some("settings")))
                .is_ok()
        );
        assert!(
            g.check(&req("get", "", "configmaps", Some("db"), Some("other")))
                .is_err()
        );
        assert!(
            g.check(&req("get", "", "configmaps", Some("prod"), Some("settings")))
                .is_err()
        );
        // A rule restricted to names cannot list the whole collection.
        assert!(g.check(&req("list", "", "configmaps", Some("db"), None)).is_err());
        // Nor reach across namespaces.
        assert!(g.check(&req("get", "", "configmaps", None, Some("settings"))).is_err());
    }

    #[test]
    fn wildcards_never_reach_sensitive_resources() {
        let g = grant("[[kubernetes]]\nverbs=[\"*\"]\napi_groups=[\"*\"]\nresources=[\"*\"]\nnamespaces=[\"*\"]\n");
        assert!(
            g.check(&req("get", "apps", "deployments", Some("db"), Some("x")))
                .is_ok()
        );
        for (group, resource) in [
            ("", "secrets"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterroles"),
        ] {
            let denial = g
                .check(&req("get", group, resource, Some("db"), Some("x")))
                .unwrap_err();
            assert!(denial.reason.contains("sensitive"), "{}", denial.reason);
        }
        for sub in ["exec", "attach", "portforward"] {
            let r = AccessRequest {
                subresource: Some(sub),
                ..req("create", "", "pods", Some("db"), Some("p"))
            };
            assert!(g.check(&r).is_err(), "pods/{sub}");
        }
        let token = AccessRequest {
            subresource: Some("token"),
            ..req("create", "", "serviceaccounts", Some("db"), Some("sa"))
        };
        assert!(g.check(&token).is_err());
    }

    #[test]
    fn sensitive_resources_need_an_explicit_rule() {
        // Named resource but wildcard namespace: still refused.
        let loose = grant("[[kubernetes]]\nverbs=[\"get\"]\napi_groups=[\"\"]\nresources=[\"secrets\"]\n");
        assert!(
            loose
                .check(&req("get", "", "secrets", Some("db"), Some("app-user")))
                .is_err()
        );
        let exact = grant(
            "[[kubernetes]]\nverbs=[\"get\"]\napi_groups=[\"\"]\nresources=[\"secrets\"]\nnamespaces=[\"db\"]\nnames=[\"app-user\"]\n",
        );
        assert!(
            exact
                .check(&req("get", "", "secrets", Some("db"), Some("app-user")))
                .is_ok()
        );
        assert!(
            exact
                .check(&req("get", "", "secrets", Some("db"), Some("superuser")))
                .is_err()
        );
    }

    #[test]
    fn name_patterns_match_runs_of_characters() {
        assert!(name_matches("cnpg-*-user-*", "cnpg-pg-user-app"));
        assert!(name_matches("cnpg-*-user-*", "cnpg-a-b-user-c-d"));
        assert!(!name_matches("cnpg-*-user-*", "cnpg-pg-superuser"));
        assert!(!name_matches("cnpg-*-user-*", "pg-app"));
        assert!(name_matches("exact", "exact"));
        assert!(!name_matches("exact", "exactly"));
        assert!(name_matches("*-app", "pg-app"));
        assert!(!name_matches("a*a", "a"));
        assert!(name_matches("a*a", "aa"));
    }

    #[test]
    fn a_name_pattern_reaches_secrets_in_every_namespace_and_nothing_else() {
        let g = grant(
            "[[kubernetes]]\nverbs=[\"get\",\"create\"]\napi_groups=[\"\"]\nresources=[\"secrets\"]\nnamespaces=[\"*\"]\nnames=[\"cnpg-*-user-*\"]\n",
        );
        assert!(
            g.check(&req("get", "", "secrets", Some("db"), Some("cnpg-pg-user-app")))
                .is_ok()
        );
        assert!(
            g.check(&req("get", "", "secrets", Some("other"), Some("cnpg-x-user-y")))
                .is_ok()
        );
        assert!(
            g.check(&req("get", "", "secrets", Some("db"), Some("pg-superuser")))
                .is_err()
        );
        assert!(g.check(&req("list", "", "secrets", Some("db"), None)).is_err());
        assert!(
            g.check(&req("delete", "", "secrets", Some("db"), Some("cnpg-pg-user-app")))
                .is_err()
        );
        // A bare `*` among the names does not narrow anything.
        let loose = grant(
            "[[kubernetes]]\nverbs=[\"get\"]\napi_groups=[\"\"]\nresources=[\"secrets\"]\nnamespaces=[\"*\"]\nnames=[\"*\", \"cnpg-*\"]\n",
        );
        assert!(
            loose
                .check(&req("get", "", "secrets", Some("db"), Some("anything")))
                .is_err()
        );
        assert!(
            loose
                .check(&req("get", "", "secrets", Some("db"), Some("cnpg-x")))
                .is_err()
        );
    }

    #[test]
    fn secret_data_is_only_granted_by_a_rule_that_says_so() {
        let rule = "[[kubernetes]]\nverbs=[\"get\"]\napi_groups=[\"\"]\nresources=[\"secrets\"]\nnamespaces=[\"db\"]\nnames=[\"app-user\"]\n";
        let request = req("get", "", "secrets", Some("db"), Some("app-user"));
        assert!(!grant(rule).check(&request).unwrap().secret_data);
        let with_data = format!("{rule}secret_data = true\n");
        assert!(grant(&with_data).check(&request).unwrap().secret_data);
    }
}
