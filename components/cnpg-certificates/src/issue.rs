//! `issue_client_certificate`: the flow of `kubectl cnpg certificate`
//! (operator v1.30.0, `internal/cmd/plugin/certificate/certificate.go`,
//! `Generate()`): get the Cluster, get its client CA Secret, sign a new
//! client pair, create a `kubernetes.io/tls` Secret (plain create).

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};

use cnpg_mcp_sdk::bindings::cnpg::mcp::types::{CallContext, ToolError, ToolOutput};
use cnpg_mcp_sdk::kube::{self, cnpg, collection, core, object};
use cnpg_mcp_sdk::names::{child_object_name, reserved_role};
use cnpg_mcp_sdk::time::{format_seconds, now_unix};
use cnpg_mcp_sdk::tool::{Mutation, Outcome, failure, namespace_or_default, run_with};

use crate::args;
use crate::pki::{self, CertificateAuthority};

/// Suffix of every Secret this tool creates; the grant allows no others.
pub const SECRET_SUFFIX: &str = "-client-cert";
/// `ClientCaSecretSuffix` and `DefaultServerCaSecretSuffix`
/// (`api/v1/cluster_types.go`): both CAs default to `<cluster>-ca`.
const CA_SUFFIX: &str = "-ca";
/// `utils.KubernetesAppManagedByLabelName` = `utils.ManagerName`: the label
/// the plugin puts on the Secret (`GenerateCertificateSecret`).
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cloudnative-pg");

/// The Secret to create: the argument, else `<cluster>-<user>-client-cert`.
pub fn secret_name(cluster: &str, user: &str, requested: Option<&str>) -> Result<String, ToolOutput> {
    match requested {
        Some(name) if !name.ends_with(SECRET_SUFFIX) || name.len() == SECRET_SUFFIX.len() => Err(failure(
            format!(
                "Not done: the Secret name `{name}` does not end in `{SECRET_SUFFIX}`; this component may only \
                 create Secrets named `*{SECRET_SUFFIX}`. Nothing was read or created."
            ),
            format!("Use a name ending in `{SECRET_SUFFIX}`, or leave `secret_name` out for the default."),
        )),
        Some(name) => Ok(name.to_string()),
        None => Ok(format!("{}{SECRET_SUFFIX}", child_object_name(cluster, user))),
    }
}

fn spec_text(cluster: &Value, pointer: &str) -> Option<String> {
    cluster
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `data[key]` of a Secret, base64-decoded.
fn secret_bytes(secret: &Value, key: &str) -> Result<Option<Vec<u8>>, ToolOutput> {
    let Some(encoded) = secret.pointer("/data").and_then(|d| d.get(key)).and_then(Value::as_str) else {
        return Ok(None);
    };
    Base64::decode_vec(encoded).map(Some).map_err(|_| {
        failure(
            format!("`{key}` of the client CA Secret is not valid base64."),
            "Check the Secret; the operator writes it as PEM in `data`.",
        )
    })
}

fn random<const N: usize>() -> Result<[u8; N], ToolOutput> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        failure(
            format!("No secure random numbers available: {e}"),
            "Report this to the server's operator.",
        )
    })?;
    Ok(bytes)
}

pub fn issue_client_certificate(arguments: &str, ctx: &CallContext) -> Result<ToolOutput, ToolError> {
    run_with(arguments, ctx, |a: args::IssueClientCertificate, _| -> Outcome {
        let refuse = |e: pki::PkiError| failure(format!("Not done: {e}. Nothing was created."), "Pick another role.");
        pki::check_user(&a.user).map_err(refuse)?;
        // Not in the plugin: the operator's own pg_hba rules let
        // `streaming_replica` in by certificate, and `postgres` is the
        // superuser; those are not handed out by a tool.
        if let Some(why) = reserved_role(&a.user) {
            return Err(failure(
                format!(
                    "Not done: no certificates for role `{}`: {why}. Nothing was created.",
                    a.user
                ),
                "Issue it for an application role.",
            ));
        }
        let name = secret_name(&a.cluster_name, &a.user, a.secret_name.as_deref())?;
        let ns = namespace_or_default(&a.namespace);

        // `GetClientCASecretName()` (`api/v1/cluster_funcs.go`).
        let cluster = kube::get(&object(cnpg("clusters"), &ns, &a.cluster_name))?;
        let ca_name = spec_text(&cluster, "/spec/certificates/clientCASecret")
            .unwrap_or_else(|| format!("{}{CA_SUFFIX}", a.cluster_name));
        let server_ca_name = spec_text(&cluster, "/spec/certificates/serverCASecret")
            .unwrap_or_else(|| format!("{}{CA_SUFFIX}", a.cluster_name));
        let ca_secret = match kube::get(&object(core("secrets"), &ns, &ca_name)) {
            Err(f) if f.is_not_found() => {
                return Err(failure(
                    format!(
                        "Not done: the client CA Secret {ns}/{ca_name} of cluster {} does not exist. Nothing was \
                         created.",
                        a.cluster_name
                    ),
                    "The operator creates `<cluster>-ca` when it sets the cluster up; check the cluster's status \
                     and `spec.certificates.clientCASecret`.",
                ));
            }
            other => other?,
        };
        if ca_secret.get("data").is_none() {
            return Err(failure(
                format!("Not done: the client CA Secret {ns}/{ca_name} came back without data. Nothing was created."),
                "Either the Secret is empty, or this component's grant does not hand over Secret data \
                 (`secret_data = true` on the rule for `*-ca` Secrets).",
            ));
        }
        let ca = CertificateAuthority::from_pem(
            secret_bytes(&ca_secret, "ca.crt")?.as_deref(),
            secret_bytes(&ca_secret, "ca.key")?.as_deref(),
        )
        .map_err(|e| {
            failure(
                format!("Not done: {ns}/{ca_name}: {e}. Nothing was created."),
                "Certificates for this cluster must be issued where its client CA key is kept.",
            )
        })?;

        let leaf_key = loop {
            if let Some(key) = pki::leaf_key_from_bytes(&random::<32>()?) {
                break key;
            }
        };
        let issued = pki::issue(&ca, &a.user, now_unix(), &leaf_key, random::<16>()?).map_err(|e| {
            failure(
                format!("Not done: {e}. Nothing was created."),
                "Report this to the server's operator.",
            )
        })?;

        // `GenerateCertificateSecret` (`pkg/certs/certs.go`): no owner
        // reference, no annotations, no `ca.crt`.
        let metadata = json!({"name": name, "namespace": ns, "labels": {MANAGED_BY.0: MANAGED_BY.1}});
        let manifest = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": metadata,
            "data": {
                "tls.crt": Base64::encode_string(issued.certificate_pem.as_bytes()),
                "tls.key": Base64::encode_string(issued.private_key_pem.as_bytes()),
            },
        });
        let created = match kube::create(&collection(core("secrets"), Some(&ns)), &manifest, a.dry_run) {
            Err(f) if f.is_already_exists() => {
                return Err(failure(
                    format!(
                        "Not done: Secret {ns}/{name} exists already; it is never overwritten. Nothing was created."
                    ),
                    format!(
                        "Pass another `secret_name` ending in `{SECRET_SUFFIX}`, or delete {ns}/{name} first if it is \
                         stale."
                    ),
                ));
            }
            other => other?,
        };

        let (not_before, not_after) = (format_seconds(issued.not_before), format_seconds(issued.not_after));
        let shown = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": metadata,
            "data": {"tls.crt": "<PEM certificate>", "tls.key": "<PEM EC PRIVATE KEY, not shown>"},
        });
        let result = json!({
            "secret": {
                "name": name,
                "namespace": ns,
                "type": "kubernetes.io/tls",
                "keys": ["tls.crt", "tls.key"],
                "uid": kube::meta(&created, "uid"),
            },
            "certificate": {
                "subject": issued.subject,
                "issuer": issued.issuer,
                "serial": issued.serial_hex,
                "not_before": not_before,
                "not_after": not_after,
                "sha256_fingerprint": issued.sha256_fingerprint,
                "key": "ECDSA P-256",
                "signature": "ecdsa-with-SHA256",
                "key_usage": ["digitalSignature", "keyAgreement"],
                "extended_key_usage": ["clientAuth"],
            },
            "client_ca_secret": ca_name,
            "server_ca_secret": server_ca_name,
        });
        let mutation = Mutation {
            action: "create".into(),
            dry_run: a.dry_run,
            request: shown,
            result: Some(result),
            notes: vec![
                format!(
                    "Certificate: subject `{}`, issuer `{}`, serial {}, valid {not_before} to {not_after}, SHA-256 \
                     fingerprint {}.",
                    issued.subject, issued.issuer, issued.serial_hex, issued.sha256_fingerprint
                ),
                format!(
                    "Connect with `sslmode=verify-full sslcert=tls.crt sslkey=tls.key sslrootcert=ca.crt`, taking \
                     `ca.crt` from the server CA Secret {ns}/{server_ca_name} and a host name the server certificate \
                     carries (e.g. `{}-rw.{ns}.svc`); `tls.key` must be readable by its owner only.",
                    a.cluster_name
                ),
                format!(
                    "PostgreSQL accepts the certificate only through a `hostssl` rule with method `cert` for role \
                     `{}` that you add in `spec.postgresql.pg_hba` (update_cluster_configuration); the operator's own \
                     rules take certificates only from `streaming_replica` and `cnpg_pooler_pgbouncer`.",
                    a.user
                ),
                "Nothing renews it: the operator does not track certificates issued this way; issue a new one \
                 before it expires."
                    .into(),
            ],
        };
        Ok(mutation.output(format!(
            "{} Secret {ns}/{name} (type kubernetes.io/tls, keys `tls.crt`, `tls.key`) with a client certificate \
             for role `{}` signed by the client CA of cluster {} (Secret {ca_name}); the private key is not shown.",
            if a.dry_run { "Would create" } else { "Created" },
            a.user,
            a.cluster_name
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_end_in_client_cert() {
        assert_eq!(secret_name("pg", "app_user", None).unwrap(), "pg-app-user-client-cert");
        assert_eq!(secret_name("pg", "_app_", None).unwrap(), "pg-app-client-cert");
        assert_eq!(
            secret_name("pg", "app", Some("mine-client-cert")).unwrap(),
            "mine-client-cert"
        );
        for refused in ["mine", "client-cert", "-client-cert", "mine-client-cert.tls"] {
            let output = secret_name("pg", "app", Some(refused)).unwrap_err();
            assert!(output.is_error);
            let text = format!("{:?}", output.content);
            assert!(text.contains("`*-client-cert`"), "{text}");
        }
    }
}
