//! The one document every policy reads (`input`), the same in `validate`,
//! `plan` and `apply` (docs/policy.md has its schema):
//!
//! - the plan document as `--output json` prints it (`stack`,
//!   `environment`, `tenant`, `summary`, `changes[]` without their
//!   `config`, `cost` …), and
//! - `components`: `service/component` → the resolved desired
//!   configuration (`kind`, `spec`, `infra`, `context`) plus `id`,
//!   `service`, `name`, `labels` and the plan's `action`;
//! - `region`, and with `--programs` `programs`: id → the Pulumi program.
//!
//! `validate` has no state, so its input has the desired configuration
//! alone: `changes` is empty and there is no `cost`.

use serde_json::{json, Map, Value};

use crate::load::LoadedStack;
use crate::plan::{desired_config, Plan};

fn component_entry(id: &str, config: &Value, action: Option<&str>) -> Value {
    let mut entry = match config {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let (service, name) = id.split_once('/').unwrap_or(("", id));
    entry.insert("id".into(), json!(id));
    entry.insert("service".into(), json!(service));
    entry.insert("name".into(), json!(name));
    let labels = config.pointer("/context/labels").cloned().unwrap_or_else(|| json!({}));
    entry.insert("labels".into(), labels);
    if let Some(a) = action {
        entry.insert("action".into(), json!(a));
    }
    Value::Object(entry)
}

/// The input for `plan` and `apply`: the whole plan document.
pub fn for_plan(plan: &Plan, stack: &LoadedStack) -> Value {
    let mut doc = serde_json::to_value(plan).expect("plans serialize");
    let mut components = Map::new();
    for c in &plan.changes {
        if let Some(config) = &c.config {
            components.insert(c.component.clone(), component_entry(&c.component, config, Some(c.action.as_str())));
        }
    }
    let o = doc.as_object_mut().expect("a plan is an object");
    o.remove("policy");
    // Each configuration once, under `components` (half the document to
    // convert for the engine on a large plan).
    if let Some(Value::Array(changes)) = o.get_mut("changes") {
        for c in changes.iter_mut().filter_map(Value::as_object_mut) {
            c.remove("config");
        }
    }
    o.insert("components".into(), Value::Object(components));
    o.insert("region".into(), json!(stack.provider.region));
    doc
}

/// The input for `validate`: the desired configuration alone.
pub fn for_stack(stack: &LoadedStack, tenant: &str) -> Value {
    let mut components = Map::new();
    for (id, c) in &stack.components {
        let id = id.to_string();
        components.insert(id.clone(), component_entry(&id, &desired_config(stack, c), None));
    }
    json!({
        "format_version": crate::plan::PLAN_FORMAT,
        "stack": stack.name(),
        "environment": stack.environment,
        "tenant": tenant,
        "region": stack.provider.region,
        "changes": [],
        "components": components,
    })
}

/// Add the rendered Pulumi programs (`--programs`): id → program.
pub fn with_programs(mut input: Value, programs: Map<String, Value>) -> Value {
    input["programs"] = Value::Object(programs);
    input
}
