//! `panka plan --preview` (issue 13), the data: below panka's component-level plan,
//! the resource-level changes Pulumi would make — `pulumi preview --json`
//! of each updated or replaced component, components in parallel.
//!
//! - A component to create lists every resource of its program as a
//!   create: its Pulumi stack does not exist yet, and creating one to
//!   preview it would write to the backend during a plan.
//! - A component whose upstream also changes in this plan is not
//!   previewed: its program reads the upstream's outputs, which only exist
//!   once the upstream is applied (SPEC §10, "after <upstream> is applied").
//! - Read-only otherwise: `preview` writes nothing to Pulumi's state and
//!   takes no panka lock.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One property that changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyDiff {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One resource Pulumi would touch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// `create`, `update`, `replace` or `delete`.
    pub op: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_token: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<PropertyDiff>,
}

/// A component's resource-level preview (`changes[].preview` of the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    /// `previewed` (by Pulumi), `listed` (a create: the program's
    /// resources), `after-upstream` or `failed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceChange>,
    /// The upstreams that must be applied first (`after-upstream`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Preview {
    pub fn failed(error: String) -> Preview {
        Preview { status: "failed".into(), resources: Vec::new(), after: Vec::new(), error: Some(error) }
    }

    pub fn previewed(resources: Vec<ResourceChange>) -> Preview {
        Preview { status: "previewed".into(), resources, after: Vec::new(), error: None }
    }

    pub fn after(upstreams: Vec<String>) -> Preview {
        Preview { status: "after-upstream".into(), resources: Vec::new(), after: upstreams, error: None }
    }

    /// A create: every resource of `program` (a `Pulumi.yaml` text).
    pub fn listed(program: &str) -> Preview {
        let doc: serde_yaml::Value = match serde_yaml::from_str(program) {
            Ok(d) => d,
            Err(e) => return Preview::failed(format!("the program does not parse: {e}")),
        };
        let resources = doc["resources"]
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(name, r)| ResourceChange {
                op: "create".into(),
                name: name.as_str().unwrap_or_default().to_string(),
                type_token: r["type"].as_str().unwrap_or_default().to_string(),
                fields: Vec::new(),
            })
            .collect();
        Preview { status: "listed".into(), resources, after: Vec::new(), error: None }
    }
}

impl std::fmt::Display for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status.as_str() {
            "after-upstream" => return write!(f, "    (previewed after {} is applied)", self.after.join(", ")),
            "failed" => {
                let e = self.error.as_deref().unwrap_or_default();
                return write!(f, "    (preview failed: {})", e.lines().next().unwrap_or_default());
            }
            _ => {}
        }
        if self.resources.is_empty() {
            return write!(f, "    (Pulumi would change no resource)");
        }
        let mut first = true;
        for r in &self.resources {
            if !first {
                writeln!(f)?;
            }
            first = false;
            let sign = match r.op.as_str() {
                "create" => "+",
                "delete" => "-",
                "replace" => "+-",
                _ => "~",
            };
            write!(f, "    {sign} {} {} ({})", r.op, r.name, r.type_token)?;
            for d in &r.fields {
                let show = |v: &Option<Value>| v.as_ref().map_or("-".to_string(), |v| v.to_string());
                write!(f, "\n        {}: {} → {}", d.field, show(&d.before), show(&d.after))?;
            }
        }
        Ok(())
    }
}

/// A value worth showing in a diff: scalars, shortened; structures as
/// `(structured)` (secrets stay as Pulumi masked them).
pub fn shown(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) if s.chars().count() > 120 => {
            Some(Value::String(format!("{}…", s.chars().take(120).collect::<String>())))
        }
        v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) => Some(v.clone()),
        Value::Null => None,
        _ => Some(Value::String("(structured)".into())),
    }
}

/// Reads `pulumi preview --json`: every step that changes something.
pub fn parse_preview(json: &str) -> Result<Vec<ResourceChange>, String> {
    let doc: Value =
        serde_json::from_str(json.trim()).map_err(|e| format!("pulumi printed no preview document: {e}"))?;
    let mut out: Vec<ResourceChange> = Vec::new();
    for step in doc["steps"].as_array().into_iter().flatten() {
        let op = match step["op"].as_str().unwrap_or_default() {
            "create" => "create",
            "update" => "update",
            "delete" => "delete",
            // A replacement is several steps (create-replacement, replace,
            // delete-replaced): shown once.
            "replace" | "create-replacement" | "delete-replaced" => "replace",
            _ => continue,
        };
        let urn = step["urn"].as_str().unwrap_or_default();
        let name = urn.rsplit("::").next().unwrap_or(urn).to_string();
        if op == "replace" && out.iter().any(|r| r.name == name && r.op == "replace") {
            continue;
        }
        let state = if step["newState"].is_object() { &step["newState"] } else { &step["oldState"] };
        let type_token = state["type"].as_str().unwrap_or_default().to_string();
        let before = &step["oldState"]["inputs"];
        let after = &step["newState"]["inputs"];
        let keys: Vec<String> = match step["detailedDiff"].as_object() {
            Some(diff) if !diff.is_empty() => diff.keys().cloned().collect(),
            _ => step["diffReasons"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
        };
        let fields = if op == "update" || op == "replace" {
            keys.into_iter()
                .map(|k| {
                    let top = k.split(['.', '[']).next().unwrap_or(&k).to_string();
                    PropertyDiff { before: shown(before.get(&top)), after: shown(after.get(&top)), field: k }
                })
                .collect()
        } else {
            Vec::new()
        };
        out.push(ResourceChange { op: op.to_string(), name, type_token, fields });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_steps_become_resource_changes_with_their_fields() {
        let doc = r#"{"steps":[
          {"op":"same","urn":"urn:pulumi:dev::p::aws:iam/role:Role::role"},
          {"op":"update","urn":"urn:pulumi:dev::p::aws:sqs/queue:Queue::queue",
           "oldState":{"type":"aws:sqs/queue:Queue","inputs":{"visibilityTimeoutSeconds":30}},
           "newState":{"type":"aws:sqs/queue:Queue","inputs":{"visibilityTimeoutSeconds":60}},
           "detailedDiff":{"visibilityTimeoutSeconds":{"kind":"update"}}},
          {"op":"create-replacement","urn":"urn:pulumi:dev::p::aws:sqs/queue:Queue::fifo",
           "newState":{"type":"aws:sqs/queue:Queue","inputs":{"fifoQueue":true}},
           "oldState":{"type":"aws:sqs/queue:Queue","inputs":{"fifoQueue":false}},
           "diffReasons":["fifoQueue"]},
          {"op":"replace","urn":"urn:pulumi:dev::p::aws:sqs/queue:Queue::fifo","newState":{"type":"aws:sqs/queue:Queue"}},
          {"op":"create","urn":"urn:pulumi:dev::p::aws:sqs/queue:Queue::dlq","newState":{"type":"aws:sqs/queue:Queue"}}
        ]}"#;
        let r = parse_preview(doc).unwrap();
        let ops: Vec<(&str, &str)> = r.iter().map(|c| (c.op.as_str(), c.name.as_str())).collect();
        assert_eq!(ops, [("update", "queue"), ("replace", "fifo"), ("create", "dlq")]);
        assert_eq!(r[0].fields[0].after, Some(Value::from(60)));
        assert_eq!(r[1].fields[0].field, "fifoQueue");
        assert!(parse_preview("error: no stack").is_err());
    }

    #[test]
    fn a_create_lists_the_resources_of_its_program() {
        let p = Preview::listed("name: p\nruntime: yaml\nresources:\n  queue:\n    type: aws:sqs:Queue\n");
        assert_eq!(p.status, "listed");
        assert_eq!((p.resources[0].name.as_str(), p.resources[0].type_token.as_str()), ("queue", "aws:sqs:Queue"));
        assert_eq!(p.to_string(), "    + create queue (aws:sqs:Queue)");
    }
}
