//! `panka drift` (SPEC §8, issue 13): asks Pulumi what a refresh would
//! change for each deployed component — `pulumi refresh --preview-only
//! --json`, components in parallel — and reports every resource changed or
//! deleted out of band with its fields. Read-only: no panka lock, no write
//! to `state.json` or to Pulumi's state; the result goes to `drift.json`
//! beside the state, which `panka status` shows.
//!
//! A refresh needs only the project's name and the stack (it reads the
//! resources Pulumi recorded, it does not run the program), so each
//! component gets a `Pulumi.yaml` naming its recorded project.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::plan::preview::shown;
use crate::pulumi::runner::{Interrupt, Runner};

/// One field that differs between Pulumi's record and what is live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDrift {
    pub field: String,
    /// Recorded and live values (scalars only; `[secret]` stays masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDrift {
    /// `changed` (edited out of band) or `deleted` (gone).
    pub change: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_token: String,
    pub fields: Vec<FieldDrift>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentDrift {
    pub component: String,
    pub drifted: bool,
    pub resources: Vec<ResourceDrift>,
    /// The refresh failed: drift unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of one `panka drift`, stored as `drift.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub stack: String,
    pub environment: String,
    pub checked_at: DateTime<Utc>,
    pub components: Vec<ComponentDrift>,
}

impl DriftReport {
    pub fn drifted(&self) -> usize {
        self.components.iter().filter(|c| c.drifted).count()
    }

    pub fn failed(&self) -> usize {
        self.components.iter().filter(|c| c.error.is_some()).count()
    }
}

impl std::fmt::Display for DriftReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.components {
            match (&c.error, c.drifted) {
                (Some(e), _) => {
                    writeln!(f, "  unknown  {}  (refresh failed: {})", c.component, e.lines().next().unwrap_or(""))?
                }
                (None, false) => writeln!(f, "  in sync  {}", c.component)?,
                (None, true) => {
                    writeln!(f, "  drifted  {}", c.component)?;
                    for r in &c.resources {
                        writeln!(f, "      {} {} ({})", r.change, r.name, r.type_token)?;
                        for field in &r.fields {
                            let show = |v: &Option<Value>| v.as_ref().map_or("-".to_string(), |v| v.to_string());
                            writeln!(
                                f,
                                "          {}: {} → {}",
                                field.field,
                                show(&field.recorded),
                                show(&field.live)
                            )?;
                        }
                    }
                }
            }
        }
        write!(
            f,
            "drift of `{}` ({}): {} of {} component(s) drifted{}",
            self.stack,
            self.environment,
            self.drifted(),
            self.components.len(),
            if self.failed() > 0 { format!(", {} could not be checked", self.failed()) } else { String::new() }
        )
    }
}

/// Reads `pulumi refresh --preview-only --json`.
pub fn parse_refresh(json: &str) -> Result<Vec<ResourceDrift>, String> {
    let doc: Value =
        serde_json::from_str(json.trim()).map_err(|e| format!("pulumi printed no refresh document: {e}"))?;
    let mut out = Vec::new();
    for step in doc["steps"].as_array().into_iter().flatten() {
        let op = step["op"].as_str().unwrap_or_default();
        let change = match op {
            "update" => "changed",
            "delete" | "discard" => "deleted",
            _ => continue,
        };
        let urn = step["urn"].as_str().unwrap_or_default();
        let name = urn.rsplit("::").next().unwrap_or(urn).to_string();
        let state = if step["newState"].is_object() { &step["newState"] } else { &step["oldState"] };
        let type_token = state["type"].as_str().unwrap_or_default().to_string();
        let old = &step["oldState"]["outputs"];
        let new = &step["newState"]["outputs"];
        let mut fields: Vec<FieldDrift> = match step["detailedDiff"].as_object() {
            Some(diff) => diff
                .keys()
                .map(|k| {
                    let top = k.split(['.', '[']).next().unwrap_or(k);
                    FieldDrift { field: k.clone(), recorded: shown(old.get(top)), live: shown(new.get(top)) }
                })
                .collect(),
            None => Vec::new(),
        };
        if fields.is_empty() && change == "changed" {
            for k in step["diffReasons"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                fields.push(FieldDrift { field: k.to_string(), recorded: shown(old.get(k)), live: shown(new.get(k)) });
            }
        }
        out.push(ResourceDrift { change: change.to_string(), name, type_token, fields });
    }
    Ok(out)
}

/// Checks `components` (name → recorded Pulumi project), `parallelism` at once.
pub async fn check(
    runner: Arc<Runner>,
    env: &str,
    components: BTreeMap<String, String>,
    parallelism: usize,
    interrupt: &Interrupt,
) -> Vec<ComponentDrift> {
    let mut pending = components.into_iter();
    let mut running: JoinSet<ComponentDrift> = JoinSet::new();
    let mut out = Vec::new();
    loop {
        while running.len() < parallelism.max(1) {
            let Some((component, project)) = pending.next() else { break };
            let (runner, env, interrupt) = (runner.clone(), env.to_string(), interrupt.clone());
            running.spawn(async move { check_one(&runner, &env, component, &project, &interrupt).await });
        }
        match running.join_next().await {
            Some(Ok(result)) => out.push(result),
            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
            None => break,
        }
    }
    out.sort_by(|a, b| a.component.cmp(&b.component));
    out
}

async fn check_one(
    runner: &Runner,
    env: &str,
    component: String,
    project: &str,
    interrupt: &Interrupt,
) -> ComponentDrift {
    let failed = |component: String, e: String| ComponentDrift {
        component,
        drifted: false,
        resources: Vec::new(),
        error: Some(e),
    };
    let dir = match tempfile::Builder::new().prefix("panka-drift-").tempdir() {
        Ok(d) => d,
        Err(e) => return failed(component, format!("cannot create a working directory: {e}")),
    };
    let project_file = serde_yaml::to_string(&serde_json::json!({"name": project, "runtime": "yaml"})).expect("yaml");
    if let Err(e) = std::fs::write(dir.path().join("Pulumi.yaml"), project_file) {
        return failed(component, format!("cannot write Pulumi.yaml: {e}"));
    }
    match runner.refresh_preview(dir.path(), env, interrupt).await {
        Ok(json) => match parse_refresh(&json) {
            Ok(resources) => ComponentDrift { component, drifted: !resources.is_empty(), resources, error: None },
            Err(e) => failed(component, e),
        },
        Err(e) => {
            let mut message = e.to_string();
            if !e.stderr().is_empty() && !message.contains(e.stderr()) {
                message = format!("{message}\n{}", e.stderr());
            }
            failed(component, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_steps_become_drifted_resources_with_their_fields() {
        let doc = r#"{"steps":[
          {"op":"refresh","urn":"urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"},
          {"op":"update","urn":"urn:pulumi:dev::p::aws:sqs/queue:Queue::queue",
           "oldState":{"type":"aws:sqs/queue:Queue","outputs":{"visibilityTimeoutSeconds":120,"policy":{"a":1}}},
           "newState":{"type":"aws:sqs/queue:Queue","outputs":{"visibilityTimeoutSeconds":999,"policy":{"a":2}}},
           "detailedDiff":{"visibilityTimeoutSeconds":{"kind":"update"},"policy.a":{"kind":"update"}}},
          {"op":"delete","urn":"urn:pulumi:dev::p::aws:sqs/queue:Queue::dlq","oldState":{"type":"aws:sqs/queue:Queue","outputs":{}}}
        ]}"#;
        let r = parse_refresh(doc).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].change.as_str(), r[0].name.as_str()), ("changed", "queue"));
        let f = r[0].fields.iter().find(|f| f.field == "visibilityTimeoutSeconds").unwrap();
        assert_eq!((f.recorded.clone(), f.live.clone()), (Some(Value::from(120)), Some(Value::from(999))));
        assert_eq!(r[0].fields.iter().find(|f| f.field == "policy.a").unwrap().live, Some(Value::from("(structured)")));
        assert_eq!((r[1].change.as_str(), r[1].type_token.as_str()), ("deleted", "aws:sqs/queue:Queue"));
        assert!(parse_refresh("not json").is_err());
    }
}
