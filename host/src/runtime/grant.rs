//! The operator-written grant of a component: what it may do and with which
//! limits. A component can only *request* permissions; this file, written by
//! the operator and placed beside the `.wasm` (`NAME.grant.toml`), decides.
//! Built-in components carry embedded default grants.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Defaults that apply when a grant does not say otherwise.
pub const DEFAULT_MEMORY_MIB: u64 = 64;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CPU: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_LIST_ITEMS: u32 = 500;

/// A parsed grant file. Unknown keys are an error: a misspelt limit must
/// not silently fall back to a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentGrant {
    #[serde(default)]
    pub limits: LimitsGrant,
    /// Values the component reads through the `config` import.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Kubernetes access rules; nothing is allowed unless a rule allows it.
    #[serde(default)]
    pub kubernetes: Vec<KubernetesRule>,
    /// Outbound HTTP, for DCR-translation components only (tool components
    /// never get `wasi:http`).
    #[serde(default, skip_serializing_if = "HttpGrant::is_empty")]
    pub http: HttpGrant,
}

/// Where a DCR translator may send HTTP requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// Origins (`https://host[:port]`) requests may go to. The host adds the
    /// origins its own facade settings name for the translator.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Let allowed origins resolve to private, loopback, link-local or the
    /// Kubernetes API server's addresses (an IdP inside the cluster).
    #[serde(default)]
    pub private_addresses: bool,
    /// Largest answer body, in bytes (default 1 MiB).
    pub max_response_bytes: Option<u64>,
    /// Time limit per request, in milliseconds (default 10000).
    pub request_timeout_ms: Option<u64>,
}

impl HttpGrant {
    pub fn is_empty(&self) -> bool {
        self == &HttpGrant::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsGrant {
    /// Linear memory cap in MiB (default 64).
    pub memory_mib: Option<u64>,
    /// Wall-clock limit per call, in milliseconds (default 30000).
    pub timeout_ms: Option<u64>,
    /// CPU time the guest may spend executing per call, in milliseconds
    /// (default 10000), measured in epoch ticks.
    pub cpu_ms: Option<u64>,
    /// Most items one Kubernetes list may return (default 500): the host
    /// lowers a larger or missing `limit` to this and the component pages
    /// with the continue token.
    pub max_list_items: Option<u32>,
    /// Largest Kubernetes answer handed to the component, in bytes
    /// (default 8 MiB); larger answers are `too-large`.
    pub max_response_bytes: Option<u64>,
}

/// One allow rule: verbs x API groups x resources x namespaces x names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesRule {
    pub verbs: Vec<String>,
    #[serde(default)]
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    /// For rules naming `secrets`: hand over the Secret's `data`. Without
    /// it the host strips `data`, `stringData` and the last-applied
    /// annotation from every Secret the component receives.
    #[serde(default)]
    pub secret_data: bool,
}

/// The verbs a rule may name: those of Kubernetes RBAC that the `k8s`
/// capability can send, and `*`.
pub const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "*",
];

impl KubernetesRule {
    /// Every list says something and every entry is a word the policy can
    /// match: a rule that could never allow anything, or whose entries
    /// are empty or malformed, is refused rather than loaded silently.
    fn validate(&self) -> Result<(), GrantError> {
        let invalid = |what: String| Err(GrantError::Invalid(format!("[[kubernetes]] {what}")));
        if self.verbs.is_empty() || self.resources.is_empty() || self.api_groups.is_empty() {
            return invalid(
                "every rule needs at least one verb, one API group (\"\" is the core group) and one resource".into(),
            );
        }
        if let Some(verb) = self.verbs.iter().find(|v| !VERBS.contains(&v.as_str())) {
            return invalid(format!(
                "verb `{}` is not one of {}",
                crate::text::shown(verb),
                VERBS.join(", ")
            ));
        }
        let word = |value: &str| !value.is_empty() && value.len() <= 253 && value.bytes().all(|b| b.is_ascii_graphic());
        if let Some(group) = self.api_groups.iter().find(|g| !g.is_empty() && !word(g)) {
            return invalid(format!("API group `{}` is not a group name", crate::text::shown(group)));
        }
        for resource in &self.resources {
            let parts: Vec<&str> = resource.split('/').collect();
            if parts.len() > 2 || !parts.iter().all(|p| word(p)) {
                return invalid(format!(
                    "resource `{}` is not `resource` or `resource/subresource`",
                    crate::text::shown(resource)
                ));
            }
        }
        for (what, values) in [("namespace", &self.namespaces), ("name", &self.names)] {
            if let Some(value) = values.iter().find(|v| !word(v) || v.contains('/')) {
                return invalid(format!("{what} `{}` is empty or malformed", crate::text::shown(value)));
            }
        }
        Ok(())
    }
}

/// Effective limits of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub memory_bytes: u64,
    pub timeout: Duration,
    pub cpu: Duration,
    pub max_list_items: u32,
    pub max_response_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("invalid grant file: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid grant: {0}")]
    Invalid(String),
}

impl ComponentGrant {
    pub fn parse(text: &str) -> Result<Self, GrantError> {
        let grant: ComponentGrant = toml::from_str(text)?;
        grant.validate()?;
        Ok(grant)
    }

    fn validate(&self) -> Result<(), GrantError> {
        let limits = &self.limits;
        if limits.memory_mib == Some(0) {
            return Err(GrantError::Invalid("limits.memory_mib must be at least 1".into()));
        }
        if limits.max_list_items == Some(0) || limits.max_response_bytes.is_some_and(|b| b < 1024) {
            return Err(GrantError::Invalid(
                "limits.max_list_items must be positive and limits.max_response_bytes at least 1024".into(),
            ));
        }
        if limits.timeout_ms == Some(0) || limits.cpu_ms == Some(0) {
            return Err(GrantError::Invalid(
                "limits.timeout_ms and limits.cpu_ms must be positive".into(),
            ));
        }
        for origin in &self.http.allow {
            crate::facade::outbound::Origin::parse(origin)
                .map_err(|e| GrantError::Invalid(format!("[http] allow: {e}")))?;
        }
        if self.http.request_timeout_ms == Some(0) || self.http.max_response_bytes == Some(0) {
            return Err(GrantError::Invalid(
                "[http] request_timeout_ms and max_response_bytes must be positive".into(),
            ));
        }
        for rule in &self.kubernetes {
            rule.validate()?;
        }
        Ok(())
    }

    /// The limits this grant sets, with the defaults filled in and the
    /// memory cap clamped to what the engine was sized for.
    pub fn call_limits(&self, engine_max_memory: u64) -> CallLimits {
        let memory = self
            .limits
            .memory_mib
            .unwrap_or(DEFAULT_MEMORY_MIB)
            .saturating_mul(1 << 20);
        CallLimits {
            memory_bytes: memory.min(engine_max_memory),
            timeout: self.limits.timeout_ms.map_or(DEFAULT_TIMEOUT, Duration::from_millis),
            cpu: self.limits.cpu_ms.map_or(DEFAULT_CPU, Duration::from_millis),
            max_list_items: self.limits.max_list_items.unwrap_or(DEFAULT_MAX_LIST_ITEMS),
            max_response_bytes: self
                .limits
                .max_response_bytes
                .map_or(crate::kube::DEFAULT_MAX_RESPONSE_BYTES, |b| {
                    usize::try_from(b).unwrap_or(usize::MAX)
                }),
        }
    }
}

impl ComponentGrant {
    /// What of `requested` (the grant a component asks for) this grant does
    /// not allow, one line per verb/resource/namespace/name; empty when all
    /// of it is covered. Requested namespaces `*` or none mean every
    /// namespace; requested names none mean every name.
    pub fn uncovered(&self, requested: &ComponentGrant) -> Vec<String> {
        use super::policy::AccessRequest;
        let mut missing = Vec::new();
        for rule in &requested.kubernetes {
            let namespaces: Vec<Option<&str>> =
                if rule.namespaces.is_empty() || rule.namespaces.iter().any(|n| n == "*") {
                    vec![None]
                } else {
                    rule.namespaces.iter().map(|n| Some(n.as_str())).collect()
                };
            let names: Vec<Option<&str>> = if rule.names.is_empty() {
                vec![None]
            } else {
                rule.names.iter().map(|n| Some(n.as_str())).collect()
            };
            let groups: Vec<&str> = rule.api_groups.iter().map(String::as_str).collect();
            for verb in &rule.verbs {
                for group in &groups {
                    for resource in &rule.resources {
                        let (resource, subresource) = match resource.split_once('/') {
                            Some((r, s)) => (r, Some(s)),
                            None => (resource.as_str(), None),
                        };
                        for namespace in &namespaces {
                            for name in &names {
                                let request = AccessRequest {
                                    verb,
                                    group,
                                    resource,
                                    subresource,
                                    namespace: *namespace,
                                    name: *name,
                                };
                                let what = format!(
                                    "`{verb}` on {}/{} in {}{}",
                                    if group.is_empty() { "core" } else { group },
                                    request.full_resource(),
                                    namespace.map_or("every namespace".to_string(), |n| format!("namespace `{n}`")),
                                    name.map(|n| format!(", name `{n}`")).unwrap_or_default()
                                );
                                match self.check(&request) {
                                    Err(_) => missing.push(what),
                                    Ok(allowed) if rule.secret_data && !allowed.secret_data => {
                                        missing.push(format!("{what} with Secret data (secret_data = true)"))
                                    }
                                    Ok(_) => {}
                                }
                            }
                        }
                    }
                }
            }
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_grant_means_defaults_and_no_kubernetes_access() {
        let grant = ComponentGrant::parse("").unwrap();
        assert!(grant.kubernetes.is_empty());
        let limits = grant.call_limits(u64::MAX);
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.timeout, Duration::from_secs(30));
    }

    #[test]
    fn misspelt_key_is_rejected() {
        let err = ComponentGrant::parse("[limits]\nmemory_mb = 10\n").unwrap_err();
        assert!(err.to_string().contains("memory_mb"), "{err}");
    }

    #[test]
    fn memory_is_clamped_to_the_engine_maximum() {
        let grant = ComponentGrant::parse("[limits]\nmemory_mib = 4096\n").unwrap();
        assert_eq!(grant.call_limits(128 << 20).memory_bytes, 128 << 20);
    }

    #[test]
    fn uncovered_lists_what_a_grant_does_not_allow_of_a_request() {
        let requested = ComponentGrant::parse(
            "[[kubernetes]]\nverbs=[\"get\",\"list\"]\napi_groups=[\"postgresql.cnpg.io\"]\nresources=[\"clusters\",\"clusters/status\"]\n\
             [[kubernetes]]\nverbs=[\"get\"]\napi_groups=[\"\"]\nresources=[\"secrets\"]\nnamespaces=[\"*\"]\nnames=[\"cnpg-*-user-*\"]\n",
        )
        .unwrap();
        let same = requested.clone();
        assert!(same.uncovered(&requested).is_empty());
        let narrower = ComponentGrant::parse(
            "[[kubernetes]]\nverbs=[\"get\",\"list\"]\napi_groups=[\"postgresql.cnpg.io\"]\nresources=[\"clusters\"]\nnamespaces=[\"db\"]\n",
        )
        .unwrap();
        let missing = narrower.uncovered(&requested);
        assert!(
            missing
                .iter()
                .any(|m| m.contains("`get` on postgresql.cnpg.io/clusters in every namespace")),
            "{missing:?}"
        );
        assert!(missing.iter().any(|m| m.contains("clusters/status")), "{missing:?}");
        assert!(
            missing
                .iter()
                .any(|m| m.contains("core/secrets") && m.contains("cnpg-*-user-*")),
            "{missing:?}"
        );
        assert!(
            ComponentGrant::default()
                .uncovered(&ComponentGrant::default())
                .is_empty()
        );
    }

    #[test]
    fn zero_limits_are_refused() {
        assert!(ComponentGrant::parse("[limits]\ntimeout_ms = 0\n").is_err());
        assert!(ComponentGrant::parse("[[kubernetes]]\nverbs = []\nresources = [\"pods\"]\n").is_err());
    }

    #[test]
    fn rules_that_could_never_allow_anything_are_refused_by_what_is_wrong() {
        let refused = |rule: &str| match ComponentGrant::parse(&format!("[[kubernetes]]\n{rule}")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted: {rule}"),
        };
        let message = refused("verbs = [\"get\"]\nresources = [\"pods\"]\n");
        assert!(message.contains("core group"), "{message}");
        let message = refused("verbs = [\"\"]\napi_groups = [\"\"]\nresources = [\"pods\"]\n");
        assert!(message.contains("verb ``"), "{message}");
        let message = refused("verbs = [\"GET\"]\napi_groups = [\"\"]\nresources = [\"pods\"]\n");
        assert!(message.contains("verb `GET`"), "{message}");
        for resource in ["", "pods/", "/log", "pods/log/x", "po ds"] {
            let message = refused(&format!(
                "verbs = [\"get\"]\napi_groups = [\"\"]\nresources = [{resource:?}]\n"
            ));
            assert!(message.contains("resource `"), "{resource}: {message}");
        }
        let message = refused("verbs = [\"get\"]\napi_groups = [\"\"]\nresources = [\"pods\"]\nnamespaces = [\"\"]\n");
        assert!(message.contains("namespace ``"), "{message}");
        let message = refused("verbs = [\"get\"]\napi_groups = [\"\"]\nresources = [\"pods\"]\nnames = [\"a/b\"]\n");
        assert!(message.contains("name `a/b`"), "{message}");
        let core = ComponentGrant::parse(
            "[[kubernetes]]\nverbs = [\"get\", \"deletecollection\"]\napi_groups = [\"\"]\nresources = [\"pods/log\"]\n",
        )
        .unwrap();
        assert!(core.uncovered(&core).is_empty());
    }
}
