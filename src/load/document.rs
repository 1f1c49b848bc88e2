//! Document identity: reading `apiVersion`, `kind` and `metadata` off a raw
//! YAML document before anything else, so that overlays, duplicates and
//! references can be matched up.

use super::yaml::{Node, Span, Value};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::{Kind, COMPONENTS_API, CORE_API, INFRA_API};

/// What identifies a document: kind + name (+ service for components and infra).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub kind: Kind,
    pub name: String,
    pub service: Option<String>,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.service {
            Some(s) => write!(f, "{} `{}/{}`", self.kind, s, self.name),
            None => write!(f, "{} `{}`", self.kind, self.name),
        }
    }
}

/// A raw document with its identity.
#[derive(Debug, Clone)]
pub struct RawDoc {
    pub id: Identity,
    pub root: Node,
    /// Span of `metadata.name` (or of the document when it has none).
    pub name_span: Span,
}

pub const TOP_LEVEL_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "spec"];

/// Identify a document; `default_service` comes from its place on disk.
pub fn identify(root: Node, default_service: Option<&str>) -> Result<RawDoc, Diagnostic> {
    let Value::Map(entries) = &root.value else {
        return Err(Diagnostic::error(
            "not-a-document",
            root.span,
            format!("expected a panka document (a mapping with `apiVersion` and `kind`), found {}", root.type_name()),
        ));
    };
    let (Some(api), Some(kind_node)) = (root.get("apiVersion"), root.get("kind")) else {
        let missing = if root.get("kind").is_none() { "kind" } else { "apiVersion" };
        return Err(Diagnostic::error(
            "not-a-document",
            root.span,
            format!("not a panka document: `{missing}` is missing"),
        )
        .with_hint("every YAML file in a stack directory must hold panka documents; move other YAML files out, or into a hidden folder"));
    };
    let kind_str = kind_node.as_str().unwrap_or("");
    let kind: Kind = kind_str.parse().map_err(|_| {
        Diagnostic::error("unknown-kind", kind_node.span, format!("unknown kind `{kind_str}`")).with_hint(
            did_you_mean(kind_str, Kind::ALL.iter().map(|k| k.as_str()))
                .unwrap_or_else(|| format!("kinds are: {}", Kind::ALL.map(|k| k.as_str()).join(", "))),
        )
    })?;
    let api_str = api.as_str().unwrap_or("");
    if api_str != kind.api_version() {
        let known = [CORE_API, INFRA_API, COMPONENTS_API];
        let msg = if known.contains(&api_str) {
            format!("kind `{kind}` belongs to `{}`, not `{api_str}`", kind.api_version())
        } else {
            format!("unknown apiVersion `{api_str}`")
        };
        return Err(Diagnostic::error("unknown-api-version", api.span, msg)
            .with_hint(format!("use `apiVersion: {}`", kind.api_version())));
    }
    let _ = entries;
    let Some(meta) = root.get("metadata") else {
        return Err(Diagnostic::error("missing-field", root.span, format!("{kind} has no `metadata`"))
            .with_hint("add `metadata: {name: …}`"));
    };
    let Some(name_node) = meta.get("name") else {
        return Err(Diagnostic::error("missing-field", meta.span, format!("{kind} has no `metadata.name`")));
    };
    let Some(name) = name_node.as_str() else {
        return Err(Diagnostic::error(
            "invalid-type",
            name_node.span,
            format!("`metadata.name` must be a string, found {}", name_node.type_name()),
        ));
    };
    let needs_service = kind.is_component() || kind == Kind::ComponentInfra;
    let service = if needs_service {
        match meta.get("service") {
            Some(s) => match s.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    return Err(Diagnostic::error(
                        "invalid-type",
                        s.span,
                        format!("`metadata.service` must be a string, found {}", s.type_name()),
                    ))
                }
            },
            None => match default_service {
                Some(s) => Some(s.to_string()),
                None => {
                    return Err(Diagnostic::error(
                        "missing-field",
                        name_node.span,
                        format!("{kind} `{name}` has no service"),
                    )
                    .with_hint("set `metadata.service`, or place the file under `services/<service>/`"))
                }
            },
        }
    } else {
        None
    };
    Ok(RawDoc { id: Identity { kind, name: name.to_string(), service }, name_span: name_node.span, root })
}
