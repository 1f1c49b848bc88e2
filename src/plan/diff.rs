//! Field-level differences between two JSON documents.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// `spec.image.tag`, `spec.ports[0].port`.
    pub path: String,
    /// Absent when the field is added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Absent when the field is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Every leaf that differs between `before` and `after`.
pub fn diff(before: &Value, after: &Value) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<FieldDiff>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => walk(&join(path, k), va, vb, out),
                    None => out.push(FieldDiff { path: join(path, k), before: Some(va.clone()), after: None }),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(FieldDiff { path: join(path, k), before: None, after: Some(vb.clone()) });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ => out.push(FieldDiff { path: path.to_string(), before: Some(before.clone()), after: Some(after.clone()) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaf_paths() {
        let a = json!({"spec": {"image": {"tag": "1.0.0"}, "ports": [{"port": 80}], "x": 1}});
        let b = json!({"spec": {"image": {"tag": "1.1.0"}, "ports": [{"port": 8080}], "y": 2}});
        let d = diff(&a, &b);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, vec!["spec.image.tag", "spec.ports[0].port", "spec.x", "spec.y"]);
        assert_eq!(d[0].before, Some(json!("1.0.0")));
        assert_eq!(d[2].after, None);
    }
}
