//! The templates of `pulumi-templates/`: Pulumi YAML with typed holes.
//!
//! A template is a YAML document with `resources` (and optionally
//! `variables` and `outputs`) written in Pulumi YAML, plus two markers:
//!
//! - `{$param: NAME}` — a hole, replaced by the value of parameter `NAME`
//!   (a `serde_yaml::Value` built by the emitter, user strings already
//!   escaped). A parameter set to [`Param::Absent`] removes the key or list
//!   item holding the hole, so optional properties need no conditionals.
//! - `$when: NAME` — a key of any mapping (a resource, a list item): the
//!   mapping is kept only when parameter `NAME` is `true`.
//!
//! Invariants: values are inserted as YAML nodes, never spliced into text,
//! so no parameter can add or change a key; every hole must have a
//! parameter (a missing one is an error, not an empty value); strings
//! written in a template are trusted Pulumi YAML (they may hold `${…}`
//! between resources of the same program).

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};
use thiserror::Error;

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Value(Value),
    /// Remove the key or list item that holds this hole.
    Absent,
}

/// Parameters of one template rendering.
#[derive(Debug, Clone, Default)]
pub struct Params(BTreeMap<String, Param>);

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    /// Sets a parameter to a value.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Params {
        self.0.insert(name.to_string(), Param::Value(value.into()));
        self
    }

    /// Sets a parameter to a value, or to [`Param::Absent`] for `None`.
    pub fn opt(&mut self, name: &str, value: Option<impl Into<Value>>) -> &mut Params {
        let p = match value {
            Some(v) => Param::Value(v.into()),
            None => Param::Absent,
        };
        self.0.insert(name.to_string(), p);
        self
    }

    /// Sets a boolean condition for `$when`.
    pub fn when(&mut self, name: &str, on: bool) -> &mut Params {
        self.set(name, Value::Bool(on))
    }
}

/// A template that cannot be rendered: always a bug in panka.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template `{template}` is not valid YAML: {message}")]
    Syntax { template: String, message: String },
    #[error("template `{template}` uses parameter `{param}`, which was not given")]
    MissingParam { template: String, param: String },
    #[error("template `{template}`: `$when: {param}` needs a boolean parameter")]
    BadCondition { template: String, param: String },
}

/// Renders template `name` (its `text`) with `params`.
pub fn render(name: &str, text: &str, params: &Params) -> Result<Value, TemplateError> {
    let doc: Value = serde_yaml::from_str(text)
        .map_err(|e| TemplateError::Syntax { template: name.to_string(), message: e.to_string() })?;
    let r = Renderer { name, params };
    Ok(r.node(&doc)?.unwrap_or(Value::Null))
}

struct Renderer<'a> {
    name: &'a str,
    params: &'a Params,
}

impl Renderer<'_> {
    fn lookup(&self, param: &str) -> Result<&Param, TemplateError> {
        self.params
            .0
            .get(param)
            .ok_or_else(|| TemplateError::MissingParam { template: self.name.to_string(), param: param.to_string() })
    }

    /// `None` means "remove me from my parent".
    fn node(&self, v: &Value) -> Result<Option<Value>, TemplateError> {
        match v {
            Value::Mapping(m) => {
                if let (1, Some(Value::String(param))) = (m.len(), m.get("$param")) {
                    return Ok(match self.lookup(param)? {
                        Param::Value(v) => Some(v.clone()),
                        Param::Absent => None,
                    });
                }
                if let Some(cond) = m.get("$when") {
                    let param = cond.as_str().unwrap_or_default();
                    match self.lookup(param)? {
                        Param::Value(Value::Bool(true)) => {}
                        Param::Value(Value::Bool(false)) | Param::Absent => return Ok(None),
                        Param::Value(_) => {
                            return Err(TemplateError::BadCondition {
                                template: self.name.to_string(),
                                param: param.to_string(),
                            })
                        }
                    }
                }
                let mut out = Mapping::new();
                for (k, item) in m {
                    if k.as_str() == Some("$when") {
                        continue;
                    }
                    if let Some(item) = self.node(item)? {
                        out.insert(k.clone(), item);
                    }
                }
                Ok(Some(Value::Mapping(out)))
            }
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(item) = self.node(item)? {
                        out.push(item);
                    }
                }
                Ok(Some(Value::Sequence(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pulumi::program::lit;

    const T: &str = r#"
resources:
  queue:
    type: aws:sqs:Queue
    properties:
      name: {$param: name}
      delaySeconds: {$param: delay}
      tags: {team: {$param: team}}
  dlq:
    $when: withDlq
    type: aws:sqs:Queue
    properties:
      items: [a, {$param: maybe}, {x: 1, $when: withDlq}]
"#;

    #[test]
    fn holes_are_filled_with_values_not_text() {
        let mut p = Params::new();
        p.set("name", lit("evil\n  injected: true\n${x}"))
            .opt("delay", None::<Value>)
            .set("team", lit("a: b # c"))
            .when("withDlq", false)
            .set("maybe", 1);
        let v = render("t", T, &p).unwrap();
        let props = &v["resources"]["queue"]["properties"];
        assert_eq!(props["name"], lit("evil\n  injected: true\n${x}"));
        assert!(props.get("delaySeconds").is_none());
        assert!(props.get("injected").is_none());
        assert_eq!(props["tags"]["team"], lit("a: b # c"));
        assert!(v["resources"].get("dlq").is_none());
        // Round trip through text keeps the structure.
        let text = serde_yaml::to_string(&v).unwrap();
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn when_true_keeps_and_strips_the_marker() {
        let mut p = Params::new();
        p.set("name", lit("q")).set("delay", 0).set("team", lit("t")).when("withDlq", true).opt("maybe", None::<Value>);
        let v = render("t", T, &p).unwrap();
        let dlq = &v["resources"]["dlq"];
        assert!(dlq.get("$when").is_none());
        let items = dlq["properties"]["items"].as_sequence().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[1].get("$when").is_none());
    }

    #[test]
    fn a_missing_parameter_is_an_error() {
        let err = render("t", T, &Params::new()).unwrap_err();
        assert!(matches!(err, TemplateError::MissingParam { .. }), "{err}");
    }
}

/// The templates of `pulumi-templates/`, embedded in the binary.
pub mod files {
    macro_rules! templates {
        ($($name:ident => $path:literal,)*) => {
            $(pub const $name: (&str, &str) =
                ($path, include_str!(concat!("../../pulumi-templates/", $path)));)*
            /// Every embedded template, for tests.
            pub const ALL: &[(&str, &str)] = &[$($name,)*];
        };
    }
    templates! {
        PROVIDER => "shared/provider.yaml",
        CONTAINER => "shared/container.yaml",
        ECS_AUTOSCALING => "shared/ecs-autoscaling.yaml",
        INGRESS_ITEM => "shared/ingress-item.yaml",
        LAMBDA_TRIGGER_ITEM => "shared/lambda-trigger-item.yaml",
        SNS_SUBSCRIPTION_ITEM => "shared/sns-subscription-item.yaml",
        SQS_FROM_SNS_ITEM => "shared/sqs-from-sns-item.yaml",
        LAMBDA_FROM_SNS_ITEM => "shared/lambda-from-sns-item.yaml",
        METRIC_ALARM_ITEM => "shared/metric-alarm-item.yaml",
        MICROSERVICE => "microservice.yaml",
        WORKER => "worker.yaml",
        CRONJOB => "cronjob.yaml",
        LAMBDA => "lambda.yaml",
        RDS => "rds.yaml",
        DYNAMODB => "dynamodb.yaml",
        S3 => "s3.yaml",
        SQS => "sqs.yaml",
        SNS => "sns.yaml",
        ELASTICACHE => "elasticache.yaml",
        STACK_SHARED => "stack-shared.yaml",
    }
}

/// Renders one of [`files`].
pub fn render_file(file: (&str, &str), params: &Params) -> Result<Value, TemplateError> {
    render(file.0, file.1, params)
}

#[cfg(test)]
mod file_tests {
    use super::files;

    #[test]
    fn every_template_file_is_embedded_and_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pulumi-templates");
        let mut on_disk = Vec::new();
        for sub in ["", "shared"] {
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "yaml") {
                    let rel = p.strip_prefix(&dir).unwrap().to_string_lossy().to_string();
                    on_disk.push(rel);
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = files::ALL.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        for (path, text) in files::ALL {
            let v: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(v.get("resources").is_some() || v.get("item").is_some(), "{path}");
        }
    }
}
