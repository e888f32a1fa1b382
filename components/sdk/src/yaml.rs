//! JSON values rendered as YAML, the way Kubernetes users read manifests
//! (`kubectl get -o yaml`). Only for showing: strings that YAML could read
//! as something else (numbers, booleans, null, indicators, `: `, ` #`) are
//! written as JSON strings, which are valid YAML double-quoted scalars, so
//! the text parses back to the same value.

use serde_json::Value;

/// `value` as a YAML document (no leading `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

/// A fenced Markdown block of YAML documents, separated by `---`.
pub fn yaml_block(documents: &[&Value]) -> String {
    let body: Vec<String> = documents.iter().map(|d| to_yaml(d)).collect();
    format!("```yaml\n{}```", body.join("---\n"))
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (key, value) in map {
        indent(out, level);
        out.push_str(&string_text(key));
        out.push(':');
        write_nested(out, value, level + 1);
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            // A mapping starts on the dash's line, its other keys aligned
            // under the first.
            Value::Object(map) if !map.is_empty() => {
                let mut nested = String::new();
                write_map(&mut nested, map, level + 1);
                out.push(' ');
                out.push_str(nested.trim_start());
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, level + 1);
            }
            _ => write_nested(out, item, level + 1),
        }
    }
}

/// The value after `key:` or `-`: inline when scalar or empty, else on the
/// following lines.
fn write_nested(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, level);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            // Sequences under a key stay at the key's indentation, as
            // kubectl writes them.
            write_seq(out, items, level.saturating_sub(1));
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Plain when YAML reads it back as this same string, else double-quoted.
fn string_text(s: &str) -> String {
    if is_plain(s) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn is_plain(s: &str) -> bool {
    const WORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == '/' || first == '_') {
        return false;
    }
    if WORDS.contains(&s.to_ascii_lowercase().as_str()) || looks_numeric(s) || looks_like_date(s) {
        return false;
    }
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | '+' | '='))
        && !s.ends_with(':')
        && !s.contains(": ")
}

/// Numbers in any notation YAML 1.1 or 1.2 resolves (`10`, `1e3`, `0x1F`,
/// `0o17`, `1_000`, `.5`, `1:30` sexagesimal).
fn looks_numeric(s: &str) -> bool {
    let body = s.trim_start_matches(['+', '-']);
    let first = body.chars().next();
    first.is_some_and(|c| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | '_' | ':' | 'x' | 'o' | 'X' | 'O' | '+' | '-'))
}

/// YAML 1.1 resolves `2030-01-01` and `2030-01-01T00:00:00Z` to
/// timestamps; kubectl quotes them too.
fn looks_like_date(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifests_read_like_kubectl_output() {
        let manifest = json!({
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "pg", "labels": {"app.kubernetes.io/managed-by": "cnpg-mcp"}},
            "spec": {
                "instances": 3,
                "imageName": "ghcr.io/cloudnative-pg/postgresql:16",
                "affinity": {"tolerations": [{"key": "dedicated", "effect": "NoSchedule"}]},
                "inRoles": ["pg_read_all_data"],
                "postgresql": {"parameters": {"max_connections": "200"}},
                "empty": {},
            }
        });
        // Keys sorted, as serde_json keeps them (and kubectl prints them).
        let expected = "\
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  labels:
    app.kubernetes.io/managed-by: cnpg-mcp
  name: pg
spec:
  affinity:
    tolerations:
    - effect: NoSchedule
      key: dedicated
  empty: {}
  imageName: ghcr.io/cloudnative-pg/postgresql:16
  inRoles:
  - pg_read_all_data
  instances: 3
  postgresql:
    parameters:
      max_connections: \"200\"
";
        assert_eq!(to_yaml(&manifest), expected);
    }

    #[test]
    fn strings_yaml_would_misread_are_quoted() {
        for s in [
            "200",
            "1e3",
            "0x1F",
            "true",
            "No",
            "null",
            "~",
            "",
            " x",
            "a: b",
            "a #b",
            "-1",
            "*x",
            "1:30",
            "2030-01-01T00:00:00Z",
        ] {
            assert!(string_text(s).starts_with('"'), "{s} -> {}", string_text(s));
        }
        for s in ["app", "10Gi", "500m", "pg-1", "registry.test/cnpg/postgresql:17"] {
            assert_eq!(string_text(s), s);
        }
        assert_eq!(
            yaml_block(&[&json!({"a": 1}), &json!({"b": [1, "x"]})]),
            "```yaml\na: 1\n---\nb:\n- 1\n- x\n```"
        );
        assert_eq!(
            to_yaml(&json!({"password": "<generated>"})),
            "password: \"<generated>\"\n"
        );
    }
}
