//! The record of the Kubernetes requests one call made, for its audit
//! record. Bounded: a call that sends thousands of requests keeps the
//! first [`MAX_RECORDS`] and a count of the rest.

use std::sync::Mutex;

use serde::Serialize;

use super::Target;

/// Requests kept per call; the rest are only counted.
pub const MAX_RECORDS: usize = 256;

/// One request as the audit record lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub verb: String,
    /// `group/resource[/subresource]`, `core` for the core group.
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTTP status of the answer; 0 when none came (refused by the grant,
    /// unreachable, timed out).
    pub code: u16,
    /// Refused by the component's grant before anything was sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
}

#[derive(Debug, Default)]
pub struct Journal {
    inner: Mutex<(Vec<RequestRecord>, usize)>,
}

impl Journal {
    fn push(&self, record: RequestRecord) {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if inner.0.len() < MAX_RECORDS {
            inner.0.push(record);
        } else {
            inner.1 += 1;
        }
    }

    /// A request that was sent (or attempted), with its answer's code.
    pub fn record(&self, verb: &str, target: &Target, code: u16) {
        self.push(RequestRecord {
            verb: verb.to_string(),
            resource: target.describe(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            code,
            denied: false,
        });
    }

    /// A request the grant refused.
    pub fn record_denied(&self, verb: &str, target: &Target) {
        self.push(RequestRecord {
            verb: verb.to_string(),
            resource: target.describe(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            code: 0,
            denied: true,
        });
    }

    /// The records kept and how many more were dropped.
    pub fn snapshot(&self) -> (Vec<RequestRecord>, usize) {
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (inner.0.clone(), inner.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_number_of_records() {
        let journal = Journal::default();
        let target = Target {
            group: "postgresql.cnpg.io".into(),
            version: "v1".into(),
            resource: "clusters".into(),
            namespace: Some("db".into()),
            name: Some("pg".into()),
            subresource: Some("status".into()),
        };
        for _ in 0..MAX_RECORDS + 5 {
            journal.record("get", &target, 200);
        }
        journal.record_denied("delete", &target);
        let (records, dropped) = journal.snapshot();
        assert_eq!(records.len(), MAX_RECORDS);
        assert_eq!(dropped, 6);
        assert_eq!(records[0].resource, "postgresql.cnpg.io/clusters/status");
        assert_eq!(
            serde_json::to_value(&records[0]).unwrap(),
            serde_json::json!({"verb": "get", "resource": "postgresql.cnpg.io/clusters/status",
                "namespace": "db", "name": "pg", "code": 200})
        );
    }
}
