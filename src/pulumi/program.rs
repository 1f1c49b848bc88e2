//! A typed builder for Pulumi YAML programs.
//!
//! A [`Program`] holds the project header, variables, resources (type,
//! properties, options) and outputs, and serializes through `serde_yaml`, so
//! structure always comes from the builder and never from text. Values come
//! from three constructors and nothing else:
//!
//! - [`lit`] for any text (user text included): every `$` is doubled, so
//!   Pulumi never interpolates it (see [`super::interp`]);
//! - [`reference`] for `${resource.output}` between resources of the same
//!   program (names are checked to be readable back by Pulumi);
//! - [`Program::panka_value`] for a panka template string, whose
//!   `${service.component.output}` references become reads of a
//!   `pulumi:pulumi:StackReference` on `organization/<service>-<component>/<env>`
//!   inside the stack's one DIY backend.
//!
//! Invariant: a user string can change no key and no structure of a program;
//! it always arrives as one YAML string that Pulumi reads back verbatim.

use indexmap::IndexMap;
use serde::Serialize;
use serde_yaml::{Mapping, Value};
use thiserror::Error;

use super::interp;
use super::schema::{PROVIDER_TOKEN, STACK_REFERENCE_TOKEN};
use crate::load::template::{self as panka_template, OutputRef, Part as TemplatePart};

/// Logical name of the explicit AWS provider in every program.
pub const DEFAULT_PROVIDER: &str = "aws";

/// A problem building a program from user data.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProgramError {
    #[error("bad reference `{text}` in `{value}`: {why}")]
    BadReference { text: String, value: String, why: &'static str },
    #[error("key `{0}` would be read by Pulumi as a builtin function\nhint: keys may not start with `fn::`")]
    FunctionKey(String),
    #[error("template resource `{name}` is malformed: {why}")]
    BadTemplate { name: String, why: String },
}

/// A value built from a literal string: Pulumi reads it back verbatim.
pub fn lit(text: &str) -> Value {
    Value::String(interp::escape(text))
}

/// `${resource.output}` (or `${resource}` when `output` is empty).
///
/// # Panics
/// When `resource` or `output` holds a character Pulumi cannot read back in
/// an interpolation; both come from panka's own code, never from users.
pub fn reference(resource: &str, output: &str) -> Value {
    assert!(
        is_logical_name(resource) && (output.is_empty() || is_logical_name(output)),
        "unreadable reference {resource}.{output}"
    );
    if output.is_empty() {
        Value::String(format!("${{{resource}}}"))
    } else {
        Value::String(format!("${{{resource}.{output}}}"))
    }
}

/// A key that Pulumi will not mistake for a builtin function call.
pub fn key(text: &str) -> Result<Value, ProgramError> {
    if text.len() >= 4 && text[..4].eq_ignore_ascii_case("fn::") {
        return Err(ProgramError::FunctionKey(text.to_string()));
    }
    Ok(Value::String(text.to_string()))
}

/// `fn::toJSON` of a value (IAM policies, container definitions).
pub fn to_json(value: Value) -> Value {
    let mut m = Mapping::new();
    m.insert("fn::toJSON".into(), value);
    Value::Mapping(m)
}

/// `fn::join` of parts with a separator.
pub fn join(separator: &str, parts: Vec<Value>) -> Value {
    let mut m = Mapping::new();
    m.insert("fn::join".into(), Value::Sequence(vec![lit(separator), Value::Sequence(parts)]));
    Value::Mapping(m)
}

/// Whether `name` can be used as a resource name inside `${…}`.
pub fn is_logical_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Resource options panka uses.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceOptions {
    /// Name of the provider resource in this program.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_ref")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_refs")]
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub delete_before_replace: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_secret_outputs: Vec<String>,
    /// Provider plugin version (on the provider resource).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

fn ser_ref<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(name) => s.serialize_str(&format!("${{{name}}}")),
        None => s.serialize_none(),
    }
}

fn ser_refs<S: serde::Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|n| format!("${{{n}}}")))
}

impl ResourceOptions {
    fn is_empty(&self) -> bool {
        self == &ResourceOptions::default()
    }
}

/// One resource of a program.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resource {
    #[serde(rename = "type")]
    pub type_token: String,
    #[serde(skip_serializing_if = "Mapping::is_empty")]
    pub properties: Mapping,
    #[serde(skip_serializing_if = "ResourceOptions::is_empty")]
    pub options: ResourceOptions,
}

impl Resource {
    pub fn new(type_token: &str) -> Resource {
        Resource { type_token: type_token.to_string(), properties: Mapping::new(), options: ResourceOptions::default() }
    }

    /// Sets a property (panka's own property names only).
    pub fn prop(mut self, name: &str, value: impl Into<Value>) -> Resource {
        self.properties.insert(Value::String(name.to_string()), value.into());
        self
    }

    pub fn provider(mut self, provider: &str) -> Resource {
        self.options.provider = Some(provider.to_string());
        self
    }

    pub fn depends_on(mut self, resource: &str) -> Resource {
        self.options.depends_on.push(resource.to_string());
        self
    }

    pub fn protect(mut self, protect: bool) -> Resource {
        self.options.protect = protect;
        self
    }
}

/// A Pulumi YAML program (the content of one `Pulumi.yaml`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Program {
    pub name: String,
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub config: IndexMap<String, Value>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, Value>,
    pub resources: IndexMap<String, Resource>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub outputs: IndexMap<String, Value>,
    /// The environment (Pulumi stack) this program is for; stack references
    /// point at the same environment.
    #[serde(skip)]
    environment: String,
}

/// The Pulumi project of a component.
pub fn project_name(service: &str, component: &str) -> String {
    format!("{service}-{component}")
}

/// The fully qualified stack of a component in the stack's DIY backend.
pub fn stack_reference_name(service: &str, component: &str, environment: &str) -> String {
    format!("organization/{}/{environment}", project_name(service, component))
}

/// The logical name of the StackReference resource reading a component.
pub fn stack_reference_resource(service: &str, component: &str) -> String {
    format!("ref-{service}-{component}")
}

impl Program {
    /// A program for the Pulumi project `name` deployed to `environment`.
    pub fn new(name: &str, environment: &str) -> Program {
        Program {
            name: name.to_string(),
            runtime: "yaml".to_string(),
            description: None,
            config: IndexMap::new(),
            variables: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
            environment: environment.to_string(),
        }
    }

    /// Adds a resource under a logical name.
    ///
    /// # Panics
    /// When `name` is not a readable logical name or is already taken; both
    /// are programming errors in panka's emitters.
    pub fn add(&mut self, name: &str, resource: Resource) {
        assert!(is_logical_name(name), "bad logical name {name}");
        let previous = self.resources.insert(name.to_string(), resource);
        assert!(previous.is_none(), "resource {name} added twice");
    }

    /// Merges a rendered template (its `resources`, `variables` and
    /// `outputs`). Every resource without an explicit provider gets
    /// `provider: ${aws}`, except the provider itself and stack references.
    pub fn merge_rendered(&mut self, rendered: &Value) -> Result<(), ProgramError> {
        if let Some(resources) = rendered.get("resources").and_then(Value::as_mapping) {
            for (k, v) in resources {
                let name = k.as_str().unwrap_or_default();
                self.add_rendered_resource(name, v)?;
            }
        }
        if let Some(vars) = rendered.get("variables").and_then(Value::as_mapping) {
            for (k, v) in vars {
                self.variables.insert(k.as_str().unwrap_or_default().to_string(), v.clone());
            }
        }
        if let Some(outputs) = rendered.get("outputs").and_then(Value::as_mapping) {
            for (k, v) in outputs {
                self.output(k.as_str().unwrap_or_default(), v.clone());
            }
        }
        Ok(())
    }

    /// Adds the single resource `item` of a rendered `*-item.yaml` template
    /// under the logical name `name`.
    pub fn merge_item(&mut self, name: &str, rendered: &Value) -> Result<(), ProgramError> {
        let item = rendered
            .get("item")
            .ok_or_else(|| ProgramError::BadTemplate { name: name.to_string(), why: "no `item` resource".into() })?;
        self.add_rendered_resource(name, item)
    }

    fn add_rendered_resource(&mut self, name: &str, v: &Value) -> Result<(), ProgramError> {
        let bad = |why: &str| ProgramError::BadTemplate { name: name.to_string(), why: why.to_string() };
        let type_token = v.get("type").and_then(Value::as_str).ok_or_else(|| bad("no `type`"))?;
        let mut r = Resource::new(type_token);
        if let Some(props) = v.get("properties") {
            r.properties = props.as_mapping().cloned().ok_or_else(|| bad("`properties` is not a mapping"))?;
        }
        if let Some(opts) = v.get("options").and_then(Value::as_mapping) {
            for (k, o) in opts {
                let strings = |o: &Value| -> Vec<String> {
                    o.as_sequence()
                        .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                        .unwrap_or_default()
                };
                let unref = |s: &str| -> Option<String> { s.strip_prefix("${")?.strip_suffix('}').map(str::to_string) };
                match k.as_str().unwrap_or_default() {
                    "provider" => r.options.provider = o.as_str().and_then(unref),
                    "dependsOn" => r.options.depends_on = strings(o).iter().filter_map(|s| unref(s)).collect(),
                    "protect" => r.options.protect = o.as_bool().unwrap_or(false),
                    "deleteBeforeReplace" => r.options.delete_before_replace = o.as_bool().unwrap_or(false),
                    "retainOnDelete" => r.options.retain_on_delete = o.as_bool().unwrap_or(false),
                    "ignoreChanges" => r.options.ignore_changes = strings(o),
                    "additionalSecretOutputs" => r.options.additional_secret_outputs = strings(o),
                    "version" => r.options.version = o.as_str().map(str::to_string),
                    other => return Err(bad(&format!("unsupported option `{other}`"))),
                }
            }
        }
        if r.options.provider.is_none() && type_token != PROVIDER_TOKEN && type_token != STACK_REFERENCE_TOKEN {
            r.options.provider = Some(DEFAULT_PROVIDER.to_string());
        }
        if !is_logical_name(name) || self.resources.contains_key(name) {
            return Err(bad("name is not usable or already taken"));
        }
        self.resources.insert(name.to_string(), r);
        Ok(())
    }

    pub fn output(&mut self, name: &str, value: Value) {
        self.outputs.insert(name.to_string(), value);
    }

    /// Reads output `output` of another component through a StackReference,
    /// declaring the reference on first use.
    pub fn stack_output(&mut self, r: &OutputRef) -> Value {
        let res = stack_reference_resource(&r.service, &r.component);
        if !self.resources.contains_key(&res) {
            let name = stack_reference_name(&r.service, &r.component, &self.environment);
            self.add(&res, Resource::new(STACK_REFERENCE_TOKEN).prop("name", lit(&name)));
        }
        Value::String(format!("${{{res}.outputs[\"{}\"]}}", r.output.replace('"', "\\\"")))
    }

    /// Converts a resolved panka template string into a Pulumi value:
    /// literal text escaped, component references read through
    /// StackReferences. A string that is exactly one reference keeps the
    /// referenced output's type.
    pub fn panka_value(&mut self, template: &str) -> Result<Value, ProgramError> {
        let parts = panka_template::parse(template);
        let mut out = String::new();
        for part in &parts {
            match part {
                TemplatePart::Literal(t) => out.push_str(&interp::escape(t)),
                TemplatePart::Ref(r) => {
                    if !is_logical_name(&r.service) || !is_logical_name(&r.component) {
                        return Err(ProgramError::BadReference {
                            text: r.to_string(),
                            value: template.to_string(),
                            why: "service and component names hold letters, digits, `-` and `_` only",
                        });
                    }
                    let Value::String(s) = self.stack_output(r) else { unreachable!("stack_output returns a string") };
                    out.push_str(&s);
                }
            }
        }
        Ok(Value::String(out))
    }

    /// The program as a YAML value (what the checker reads).
    pub fn to_value(&self) -> Value {
        serde_yaml::to_value(self).expect("a program always serializes")
    }

    /// The program as the text of a `Pulumi.yaml`.
    pub fn to_yaml(&self) -> String {
        super::yaml_text::to_text(&self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pulumi::check::check_program;
    use crate::pulumi::schema::tests::real_schema;

    fn sample() -> Program {
        let mut p = Program::new("backend-api", "production");
        p.add("aws", Resource::new("pulumi:providers:aws").prop("region", lit("us-east-1")));
        let name = p.panka_value("q-${backend.database.address}-$${x}").unwrap();
        p.add(
            "queue",
            Resource::new("aws:sqs:Queue")
                .prop("name", lit("orders"))
                .prop("tags", {
                    let mut m = Mapping::new();
                    m.insert(key("note").unwrap(), name);
                    Value::Mapping(m)
                })
                .provider("aws")
                .protect(true),
        );
        p.output("url", reference("queue", "url"));
        p
    }

    #[test]
    fn serializes_options_as_references_and_passes_the_checker() {
        let p = sample();
        let yaml = p.to_yaml();
        assert!(yaml.contains("provider: \"${aws}\""), "{yaml}");
        assert!(yaml.contains("protect: true"), "{yaml}");
        assert!(!yaml.contains("dependsOn"), "{yaml}");
        let problems = check_program(real_schema(), &p.to_value());
        assert!(problems.is_empty(), "{problems:#?}\n{yaml}");
        let back: Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, p.to_value());
    }

    #[test]
    fn panka_references_become_stack_reference_reads() {
        let p = sample();
        let r = &p.resources["ref-backend-database"];
        assert_eq!(r.type_token, STACK_REFERENCE_TOKEN);
        assert_eq!(r.properties.get("name").and_then(Value::as_str), Some("organization/backend-database/production"));
        let tags = p.resources["queue"].properties.get("tags").unwrap();
        assert_eq!(
            tags.get("note").and_then(Value::as_str),
            Some(r#"q-${ref-backend-database.outputs["address"]}-$${x}"#)
        );
    }

    #[test]
    fn a_whole_reference_stays_a_whole_interpolation() {
        let mut p = Program::new("a-b", "dev");
        let v = p.panka_value("${svc.db.port}").unwrap();
        assert_eq!(
            interp::whole_interpolation(v.as_str().unwrap()).unwrap().to_string(),
            r#"ref-svc-db.outputs["port"]"#
        );
    }

    #[test]
    fn non_references_stay_literal_and_bad_names_are_errors() {
        let mut p = Program::new("a-b", "dev");
        // Not a canonical reference: literal text, escaped for Pulumi.
        assert_eq!(p.panka_value("${VERSION}").unwrap(), lit("${VERSION}"));
        assert_eq!(p.panka_value("${a.b").unwrap(), lit("${a.b"));
        assert_eq!(p.panka_value("$${VERSION}").unwrap(), lit("${VERSION}"));
        assert!(p.panka_value("${a.b c.d}").is_err());
        assert!(p.panka_value("${a.b[0].c}").is_err());
        assert!(p.resources.is_empty());
    }

    #[test]
    fn function_keys_are_refused() {
        assert!(key("fn::toJSON").is_err());
        assert!(key("Fn::Join").is_err());
        assert!(key("team").is_ok());
    }
}
