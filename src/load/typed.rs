//! Typed deserialization of document nodes, with serde's errors turned into
//! located diagnostics (`unknown field` → the key, with "did you mean").

use serde::de::DeserializeOwned;

use super::yaml::{path_to_string, Node, PathSeg};
use crate::diagnostic::{did_you_mean, Diagnostic};

/// Deserialize the node at `prefix` of `root` into `T`.
pub fn from_node<T: DeserializeOwned>(root: &Node, prefix: &[PathSeg]) -> Result<T, Diagnostic> {
    let json = root.at(prefix).map_or_else(|| serde_json::Value::Object(Default::default()), Node::to_json);
    serde_path_to_error::deserialize(json).map_err(|e| {
        let mut path: Vec<PathSeg> = prefix.to_vec();
        for seg in e.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => path.push(PathSeg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => path.push(PathSeg::Key(key.clone())),
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        to_diagnostic(root, &path, &e.into_inner().to_string())
    })
}

/// Turn one serde message at `path` into a diagnostic.
pub fn to_diagnostic(root: &Node, path: &[PathSeg], message: &str) -> Diagnostic {
    let at = path_to_string(path);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = backticked(tail);
        let parent = match path.last() {
            Some(PathSeg::Key(k)) if k == field => &path[..path.len() - 1],
            _ => path,
        };
        let at = path_to_string(parent);
        let span = root.key_span_at(parent, field).unwrap_or_else(|| root.span_at(parent));
        let where_ = if at.is_empty() { String::new() } else { format!(" in `{at}`") };
        let hint = did_you_mean(field, expected.iter().map(String::as_str))
            .or_else(|| (!expected.is_empty()).then(|| format!("valid fields are: {}", expected.join(", "))));
        return Diagnostic::error("unknown-field", span, format!("unknown field `{field}`{where_}"))
            .with_hint_opt(hint);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        let where_ = if at.is_empty() { String::new() } else { format!(" in `{at}`") };
        return Diagnostic::error(
            "missing-field",
            root.span_at(path),
            format!("missing required field `{field}`{where_}"),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (value, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = backticked(tail);
        let hint = did_you_mean(value, expected.iter().map(String::as_str))
            .or_else(|| Some(format!("valid values are: {}", expected.join(", "))));
        return Diagnostic::error("invalid-value", root.span_at(path), format!("`{at}`: unknown value `{value}`"))
            .with_hint_opt(hint);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
        let expected = friendly_type(expected);
        let node = root.at(path);
        let hint = match (node.map(|n| &n.value), expected.as_str()) {
            (
                Some(super::yaml::Value::Int(_) | super::yaml::Value::Float(_) | super::yaml::Value::Bool(_)),
                "a string",
            ) => Some(
                "quote the value to make it a string (unquoted, YAML reads `16.10` as the number 16.1)".to_string(),
            ),
            (Some(super::yaml::Value::Str { value, .. }), _) if value.contains("${") => {
                Some("component outputs are only known after apply and can be used in string fields only".to_string())
            }
            _ => None,
        };
        return Diagnostic::error(
            "invalid-type",
            root.span_at(path),
            format!("`{at}`: expected {expected}, found {found}"),
        )
        .with_hint_opt(hint);
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        return Diagnostic::error("invalid-value", root.span_at(path), format!("`{at}`: invalid value: {rest}"));
    }
    Diagnostic::error("invalid-value", root.span_at(path), format!("`{at}`: {message}"))
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn friendly_type(serde_expected: &str) -> String {
    match serde_expected {
        "u32" | "u64" | "u16" | "u8" | "usize" => "a non-negative integer".into(),
        "i32" | "i64" => "an integer".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "struct Probe" | "struct HttpProbe" => "a mapping".into(),
        s if s.starts_with("struct ") => "a mapping".into(),
        s if s.starts_with("a string") => "a string".into(),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::{parse, FileId};
    use crate::model::InfraSpec;

    fn spec_error(text: &str) -> Diagnostic {
        let root = parse(FileId(0), text).unwrap().remove(0).root;
        from_node::<InfraSpec>(&root, &[PathSeg::Key("spec".into())]).unwrap_err()
    }

    #[test]
    fn unknown_field_points_at_the_key_with_a_hint() {
        let d = spec_error("spec:\n  scaling:\n    replica: 2\n");
        assert_eq!(d.code, "unknown-field");
        assert_eq!((d.span.unwrap().line, d.span.unwrap().col), (3, 5));
        assert_eq!(d.hint.as_deref(), Some("did you mean `replicas`?"));
        assert_eq!(d.message, "unknown field `replica` in `spec.scaling`");
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let d = spec_error("spec:\n  resources:\n    cpu: lots\n");
        assert_eq!(d.code, "invalid-type");
        assert_eq!((d.span.unwrap().line, d.span.unwrap().col), (3, 10));
        assert!(d.message.contains("expected a non-negative integer"), "{}", d.message);
    }
}
