//! Checks a Pulumi YAML program against the pulumi-aws schema.
//!
//! The checker reads a program as a `serde_yaml::Value` (exactly what would
//! be written to `Pulumi.yaml`) and reports every problem it finds with the
//! path of the offending node: the project header (`name`, `runtime: yaml`),
//! known and non-deprecated resource type tokens, known property names at
//! every nesting level, required properties, scalar kinds, resource options,
//! builtin functions (`fn::invoke`, `fn::toJSON`, …), stack references, and
//! that every `${…}` names something declared (and, for `${res.prop}`, an
//! output that the resource type has). `$$` is a literal `$`, so `$${x}` is
//! never an interpolation.
//!
//! Invariant: the checker never stops at the first problem and never panics
//! on any YAML value.

use std::collections::BTreeMap;
use std::fmt;

use serde_yaml::{Mapping, Value};

use super::interp::{self, Access, Accessor, Part};
use super::schema::{Property, ScalarKind, Schema, TypeRef, PROVIDER_TOKEN, STACK_REFERENCE_TOKEN};

/// One problem found in a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the node, e.g. `resources.queue.properties.name`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "name",
    "runtime",
    "description",
    "config",
    "variables",
    "resources",
    "outputs",
    "backend",
    "options",
    "packages",
];
const RESOURCE_KEYS: &[&str] = &["type", "properties", "options", "get", "defaultProvider"];
const OPTION_KEYS: &[&str] = &[
    "additionalSecretOutputs",
    "aliases",
    "customTimeouts",
    "deleteBeforeReplace",
    "deletedWith",
    "dependsOn",
    "hideDiffs",
    "ignoreChanges",
    "import",
    "parent",
    "pluginDownloadURL",
    "protect",
    "provider",
    "providers",
    "replaceOnChanges",
    "retainOnDelete",
    "version",
];
const PULUMI_BUILTINS: &[&str] = &["stack", "project", "organization", "cwd", "rootDirectory"];
const STACK_REFERENCE_OUTPUTS: &[&str] = &["name", "outputs", "secretOutputNames", "id", "urn"];

/// What a declared name is.
#[derive(Debug, Clone)]
enum Decl {
    /// A resource of a pulumi-aws type (full token).
    Resource(String),
    Provider,
    StackReference,
    /// A resource whose type could not be resolved (already reported).
    Unknown,
    Variable,
    Config,
}

/// Checks `program`; an empty result means it passed.
pub fn check_program(schema: &Schema, program: &Value) -> Vec<Problem> {
    let mut c = Checker { schema, decls: BTreeMap::new(), problems: Vec::new() };
    c.program(program);
    c.problems
}

struct Checker<'a> {
    schema: &'a Schema,
    decls: BTreeMap<String, Decl>,
    problems: Vec<Problem>,
}

fn key_str(k: &Value) -> Option<&str> {
    k.as_str()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The builtin function of a mapping whose only key is `fn::name`.
fn function_call(m: &Mapping) -> Option<(String, &Value)> {
    let mut iter = m.iter();
    let (k, v) = iter.next()?;
    let name = k.as_str()?;
    let lower = name.to_ascii_lowercase();
    let f = lower.strip_prefix("fn::")?;
    Some((f.to_string(), v))
}

impl Checker<'_> {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem { path: path.to_string(), message: message.into() });
    }

    fn program(&mut self, program: &Value) {
        let Some(top) = program.as_mapping() else {
            self.problem("", "a program must be a mapping");
            return;
        };
        for k in top.keys() {
            match key_str(k) {
                Some(k) if TOP_LEVEL_KEYS.contains(&k) => {}
                _ => self.problem("", format!("unknown top-level key {k:?}")),
            }
        }
        match top.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => {}
            _ => self.problem("name", "missing project `name`"),
        }
        let runtime = top.get("runtime").and_then(|r| match r {
            Value::String(s) => Some(s.as_str()),
            Value::Mapping(m) => m.get("name").and_then(Value::as_str),
            _ => None,
        });
        if runtime != Some("yaml") {
            self.problem("runtime", "`runtime` must be `yaml`");
        }

        self.declare(top);

        if let Some(config) = top.get("config") {
            self.config(config);
        }
        if let Some(vars) = top.get("variables") {
            match vars.as_mapping() {
                Some(m) => {
                    for (k, v) in m {
                        let path = join("variables", key_str(k).unwrap_or("?"));
                        self.value(v, None, &path);
                    }
                }
                None => self.problem("variables", "`variables` must be a mapping"),
            }
        }
        if let Some(resources) = top.get("resources").and_then(Value::as_mapping) {
            for (k, v) in resources {
                let name = key_str(k).unwrap_or("?");
                self.resource(name, v);
            }
        }
        if let Some(outputs) = top.get("outputs") {
            match outputs.as_mapping() {
                Some(m) => {
                    for (k, v) in m {
                        let path = join("outputs", key_str(k).unwrap_or("?"));
                        self.value(v, None, &path);
                    }
                }
                None => self.problem("outputs", "`outputs` must be a mapping"),
            }
        }
    }

    /// Collects every name a `${…}` may refer to.
    fn declare(&mut self, top: &Mapping) {
        let add = |c: &mut Self, section: &str, name: &Value, decl: Decl| {
            let Some(name) = key_str(name) else {
                c.problem(section, format!("name {name:?} is not a string"));
                return;
            };
            if name == "pulumi" {
                c.problem(&join(section, name), "`pulumi` is a reserved name");
            }
            if c.decls.insert(name.to_string(), decl).is_some() {
                c.problem(&join(section, name), format!("`{name}` is declared more than once"));
            }
        };
        if let Some(m) = top.get("config").and_then(Value::as_mapping) {
            for k in m.keys() {
                // Namespaced keys (`aws:region`) configure providers and
                // cannot be read with `${…}`.
                if key_str(k).is_some_and(|k| !k.contains(':')) {
                    add(self, "config", k, Decl::Config);
                }
            }
        }
        if let Some(m) = top.get("variables").and_then(Value::as_mapping) {
            for k in m.keys() {
                add(self, "variables", k, Decl::Variable);
            }
        }
        match top.get("resources") {
            None => {}
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let ty = v.get("type").and_then(Value::as_str).unwrap_or("");
                    let decl = if ty == PROVIDER_TOKEN {
                        Decl::Provider
                    } else if ty == STACK_REFERENCE_TOKEN {
                        Decl::StackReference
                    } else if let Some(full) = self.schema.canonical_resource(ty) {
                        Decl::Resource(full.to_string())
                    } else {
                        Decl::Unknown
                    };
                    add(self, "resources", k, decl);
                }
            }
            Some(_) => self.problem("resources", "`resources` must be a mapping"),
        }
    }

    fn config(&mut self, config: &Value) {
        let Some(m) = config.as_mapping() else {
            self.problem("config", "`config` must be a mapping");
            return;
        };
        for (k, v) in m {
            let path = join("config", key_str(k).unwrap_or("?"));
            if let Some(spec) = v.as_mapping() {
                for key in spec.keys() {
                    if !matches!(key_str(key), Some("type" | "default" | "secret" | "value")) {
                        self.problem(&path, format!("unknown config attribute {key:?}"));
                    }
                }
            }
        }
    }

    fn resource(&mut self, name: &str, res: &Value) {
        let path = join("resources", name);
        let Some(m) = res.as_mapping() else {
            self.problem(&path, "a resource must be a mapping");
            return;
        };
        if name.contains(['.', '[', ']', '}', '{', '"', '$']) || name.is_empty() {
            self.problem(&path, "a resource name cannot be read back by `${…}`");
        }
        for k in m.keys() {
            if !key_str(k).is_some_and(|k| RESOURCE_KEYS.contains(&k)) {
                self.problem(&path, format!("unknown resource key {k:?}"));
            }
        }
        let Some(ty) = m.get("type").and_then(Value::as_str) else {
            self.problem(&join(&path, "type"), "missing resource `type`");
            return;
        };
        let props = m.get("properties");
        let props_path = join(&path, "properties");
        if let Some(p) = props {
            if !p.is_mapping() {
                self.problem(&props_path, "`properties` must be a mapping");
            }
        }
        let empty = Mapping::new();
        let props_map = props.and_then(Value::as_mapping).unwrap_or(&empty);

        if ty == STACK_REFERENCE_TOKEN {
            for (k, v) in props_map {
                let key = key_str(k).unwrap_or("?");
                if key != "name" {
                    self.problem(&join(&props_path, key), "unknown StackReference property");
                }
                self.value(v, Some(&TypeRef::Scalar { s: Some(ScalarKind::String) }), &join(&props_path, key));
            }
            if !props_map.contains_key("name") {
                self.problem(&props_path, "a StackReference needs `name`");
            }
        } else if let Some(schema) = self.schema.resource(ty) {
            if let Some(why) = &schema.deprecated {
                self.problem(&join(&path, "type"), format!("`{ty}` is deprecated: {why}"));
            }
            let inputs = schema.inputs.clone();
            self.object(props_map, &inputs, &props_path, &format!("`{ty}`"));
        } else {
            let hint = self.schema.suggest_resource(ty).map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default();
            self.problem(
                &join(&path, "type"),
                format!("unknown resource type `{ty}` in pulumi-aws {}{hint}", self.schema.version),
            );
        }

        if let Some(options) = m.get("options") {
            self.options(options, &join(&path, "options"));
        }
    }

    fn options(&mut self, options: &Value, path: &str) {
        let Some(m) = options.as_mapping() else {
            self.problem(path, "`options` must be a mapping");
            return;
        };
        for (k, v) in m {
            let key = key_str(k).unwrap_or("?");
            let p = join(path, key);
            if !OPTION_KEYS.contains(&key) {
                self.problem(&p, format!("unknown resource option `{key}`"));
                continue;
            }
            match key {
                "provider" => self.reference_to(v, &p, |d| matches!(d, Decl::Provider), "a provider"),
                "parent" | "deletedWith" => {
                    self.reference_to(v, &p, |d| !matches!(d, Decl::Variable | Decl::Config), "a resource")
                }
                "dependsOn" => match v.as_sequence() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.reference_to(
                                item,
                                &format!("{p}[{i}]"),
                                |d| !matches!(d, Decl::Variable | Decl::Config),
                                "a resource",
                            );
                        }
                    }
                    None => self.problem(&p, "`dependsOn` must be a list"),
                },
                "protect" | "deleteBeforeReplace" | "retainOnDelete" => {
                    if !v.is_bool() {
                        self.problem(&p, format!("`{key}` must be a boolean"));
                    }
                }
                "version" => {
                    if !v.is_string() {
                        self.problem(&p, "`version` must be a string");
                    }
                }
                "ignoreChanges" | "replaceOnChanges" | "additionalSecretOutputs" | "hideDiffs" => {
                    if !v.as_sequence().is_some_and(|s| s.iter().all(Value::is_string)) {
                        self.problem(&p, format!("`{key}` must be a list of property names"));
                    }
                }
                _ => self.value(v, None, &p),
            }
        }
    }

    /// `v` must be exactly `${name}` where `name` is declared and `ok`.
    fn reference_to(&mut self, v: &Value, path: &str, ok: fn(&Decl) -> bool, what: &str) {
        let access = v.as_str().and_then(interp::whole_interpolation);
        match access {
            Some(a) if a.accessors.len() == 1 => {
                let root = a.root().unwrap_or_default();
                match self.decls.get(root) {
                    Some(d) if ok(d) => {}
                    Some(_) => self.problem(path, format!("`{root}` is not {what}")),
                    None => self.problem(path, format!("`${{{root}}}` names nothing declared")),
                }
            }
            _ => self.problem(path, format!("expected `${{name}}` of {what}")),
        }
    }

    /// Checks the properties of an object against its schema.
    fn object(&mut self, m: &Mapping, schema: &BTreeMap<String, Property>, path: &str, what: &str) {
        for (k, v) in m {
            let Some(key) = key_str(k) else {
                self.problem(path, format!("property name {k:?} is not a string"));
                continue;
            };
            let p = join(path, key);
            match schema.get(key) {
                Some(prop) => {
                    if let Some(why) = &prop.deprecated {
                        self.problem(&p, format!("`{key}` is deprecated: {why}"));
                    }
                    if v.is_null() {
                        self.problem(&p, "null value; omit the property instead");
                    }
                    self.value(v, Some(&prop.ty), &p);
                }
                None => {
                    let hint = schema
                        .keys()
                        .map(|c| (strsim::jaro_winkler(c, key), c))
                        .filter(|(s, _)| *s > 0.85)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                    self.problem(&p, format!("unknown property `{key}` of {what}{hint}"));
                    self.value(v, None, &p);
                }
            }
        }
        for (name, prop) in schema {
            if prop.required && !m.contains_key(name.as_str()) {
                self.problem(path, format!("missing required property `{name}` of {what}"));
            }
        }
    }

    /// Checks any value, with the type expected there when known.
    fn value(&mut self, v: &Value, expected: Option<&TypeRef>, path: &str) {
        match v {
            Value::String(s) => self.string(s, expected, path),
            Value::Mapping(m) => {
                if let Some((f, arg)) = function_call(m) {
                    if m.len() != 1 {
                        self.problem(path, format!("`fn::{f}` must be the only key of its mapping"));
                    }
                    self.function(&f, arg, expected, path);
                    return;
                }
                match expected {
                    Some(TypeRef::Ref { name }) => match self.schema.object_type(name) {
                        Some(props) => {
                            let props = props.clone();
                            self.object(m, &props, path, &format!("`{name}`"));
                        }
                        None => self.problem(path, format!("schema has no type `{name}`")),
                    },
                    Some(TypeRef::Map { values }) => {
                        for (k, item) in m {
                            let key = key_str(k).unwrap_or("?");
                            self.value(item, Some(values), &join(path, key));
                        }
                    }
                    Some(TypeRef::Any) | None => {
                        for (k, item) in m {
                            let key = key_str(k).unwrap_or("?");
                            self.value(item, None, &join(path, key));
                        }
                    }
                    Some(t) => self.problem(path, format!("expected {}, found a mapping", describe(t))),
                }
            }
            Value::Sequence(items) => match expected {
                Some(TypeRef::Array { items: item_ty }) => {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item, Some(item_ty), &format!("{path}[{i}]"));
                    }
                }
                Some(TypeRef::Any) | None => {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item, None, &format!("{path}[{i}]"));
                    }
                }
                Some(t) => self.problem(path, format!("expected {}, found a list", describe(t))),
            },
            Value::Number(_) => self.scalar(ScalarKind::Number, expected, path),
            Value::Bool(_) => self.scalar(ScalarKind::Boolean, expected, path),
            Value::Null => {}
            Value::Tagged(t) => self.problem(path, format!("YAML tag `{}` is not supported", t.tag)),
        }
    }

    fn scalar(&mut self, kind: ScalarKind, expected: Option<&TypeRef>, path: &str) {
        match expected {
            None | Some(TypeRef::Any) | Some(TypeRef::Scalar { s: None }) => {}
            Some(TypeRef::Scalar { s: Some(k) }) if *k == kind => {}
            Some(t) => self.problem(path, format!("expected {}, found {}", describe(t), describe_kind(kind))),
        }
    }

    fn string(&mut self, s: &str, expected: Option<&TypeRef>, path: &str) {
        let parts = match interp::parse(s) {
            Ok(p) => p,
            Err(e) => {
                self.problem(path, format!("bad interpolation: {e}"));
                return;
            }
        };
        for part in &parts {
            if let Part::Interp(access) = part {
                self.access(access, path);
            }
        }
        // A whole `${x}` may be of any type; a template is a string.
        let whole = matches!(parts.as_slice(), [Part::Interp(_)]);
        if !whole {
            self.scalar(ScalarKind::String, expected, path);
        }
    }

    /// A `${…}` must name something declared, and an existing output.
    fn access(&mut self, access: &Access, path: &str) {
        let Some(root) = access.root() else {
            self.problem(path, format!("`${{{access}}}` has no root name"));
            return;
        };
        let second = access.accessors.get(1);
        if root == "pulumi" && !self.decls.contains_key("pulumi") {
            match second {
                Some(Accessor::Name(n)) if PULUMI_BUILTINS.contains(&n.as_str()) => {}
                _ => self.problem(path, format!("`${{{access}}}` is not a pulumi builtin")),
            }
            return;
        }
        let Some(decl) = self.decls.get(root).cloned() else {
            self.problem(path, format!("`${{{access}}}` names `{root}`, which is not declared"));
            return;
        };
        let Some(Accessor::Name(prop)) = second else {
            return;
        };
        match decl {
            Decl::Resource(token) => {
                let known = self.schema.resource(&token).is_some_and(|r| r.has_output(prop));
                if !known {
                    self.problem(path, format!("`${{{access}}}`: `{token}` has no output `{prop}`"));
                }
            }
            Decl::StackReference => {
                if !STACK_REFERENCE_OUTPUTS.contains(&prop.as_str()) {
                    self.problem(
                        path,
                        format!("`${{{access}}}`: a StackReference has no output `{prop}` (use `outputs[\"name\"]`)"),
                    );
                }
            }
            Decl::Provider | Decl::Unknown | Decl::Variable | Decl::Config => {}
        }
    }

    fn function(&mut self, f: &str, arg: &Value, expected: Option<&TypeRef>, path: &str) {
        let fpath = join(path, &format!("fn::{f}"));
        let string_result = || Some(TypeRef::Scalar { s: Some(ScalarKind::String) });
        let result: Option<TypeRef> = match f {
            "invoke" => {
                self.invoke(arg, &fpath);
                None
            }
            "tojson" | "tobase64" | "frombase64" | "readfile" => {
                self.value(arg, None, &fpath);
                string_result()
            }
            "join" => {
                match arg.as_sequence().map(Vec::as_slice) {
                    Some([sep, items]) => {
                        self.value(sep, Some(&TypeRef::Scalar { s: Some(ScalarKind::String) }), &fpath);
                        self.value(items, None, &fpath);
                    }
                    _ => self.problem(&fpath, "`fn::join` takes [separator, [items]]"),
                }
                string_result()
            }
            "split" => {
                match arg.as_sequence().map(Vec::as_slice) {
                    Some([sep, s]) => {
                        self.value(sep, None, &fpath);
                        self.value(s, None, &fpath);
                    }
                    _ => self.problem(&fpath, "`fn::split` takes [separator, string]"),
                }
                Some(TypeRef::Array { items: Box::new(TypeRef::Scalar { s: Some(ScalarKind::String) }) })
            }
            "select" => {
                match arg.as_sequence().map(Vec::as_slice) {
                    Some([i, items]) => {
                        self.value(i, None, &fpath);
                        self.value(items, None, &fpath);
                    }
                    _ => self.problem(&fpath, "`fn::select` takes [index, [items]]"),
                }
                None
            }
            "secret" => {
                self.value(arg, expected, &fpath);
                None
            }
            "stringasset" | "fileasset" | "remoteasset" | "filearchive" | "remotearchive" | "assetarchive" => {
                self.value(arg, None, &fpath);
                None
            }
            other => {
                self.problem(&fpath, format!("unknown builtin function `fn::{other}`"));
                None
            }
        };
        if let (Some(result), Some(expected)) = (result, expected) {
            if !compatible(&result, expected) {
                self.problem(path, format!("`fn::{f}` gives {}, expected {}", describe(&result), describe(expected)));
            }
        }
    }

    fn invoke(&mut self, arg: &Value, path: &str) {
        let Some(m) = arg.as_mapping() else {
            self.problem(path, "`fn::invoke` takes a mapping");
            return;
        };
        for k in m.keys() {
            if !matches!(key_str(k), Some("function" | "arguments" | "options" | "return")) {
                self.problem(path, format!("unknown `fn::invoke` key {k:?}"));
            }
        }
        let Some(token) = m.get("function").and_then(Value::as_str) else {
            self.problem(path, "`fn::invoke` needs `function`");
            return;
        };
        let Some(f) = self.schema.function(token).cloned() else {
            self.problem(&join(path, "function"), format!("unknown function `{token}`"));
            return;
        };
        if let Some(why) = &f.deprecated {
            self.problem(&join(path, "function"), format!("`{token}` is deprecated: {why}"));
        }
        let empty = Mapping::new();
        let args = match m.get("arguments") {
            None => &empty,
            Some(a) => match a.as_mapping() {
                Some(a) => a,
                None => {
                    self.problem(&join(path, "arguments"), "`arguments` must be a mapping");
                    &empty
                }
            },
        };
        self.object(args, &f.inputs, &join(path, "arguments"), &format!("`{token}`"));
        if let Some(options) = m.get("options") {
            self.options(options, &join(path, "options"));
        }
        if let Some(ret) = m.get("return") {
            match ret.as_str() {
                Some(r) if f.outputs.contains_key(r) => {}
                _ => self.problem(&join(path, "return"), format!("`{token}` has no result field {ret:?}")),
            }
        }
    }
}

fn compatible(result: &TypeRef, expected: &TypeRef) -> bool {
    match (result, expected) {
        (_, TypeRef::Any) => true,
        (TypeRef::Scalar { s: Some(a) }, TypeRef::Scalar { s: Some(b) }) => a == b,
        (TypeRef::Scalar { .. }, TypeRef::Scalar { .. }) => true,
        (TypeRef::Array { .. }, TypeRef::Array { .. }) => true,
        _ => false,
    }
}

fn describe_kind(k: ScalarKind) -> &'static str {
    match k {
        ScalarKind::String => "a string",
        ScalarKind::Number => "a number",
        ScalarKind::Boolean => "a boolean",
    }
}

fn describe(t: &TypeRef) -> String {
    match t {
        TypeRef::Scalar { s: Some(k) } => describe_kind(*k).to_string(),
        TypeRef::Scalar { s: None } => "a scalar".into(),
        TypeRef::Any => "any value".into(),
        TypeRef::Ref { name } => format!("an object `{name}`"),
        TypeRef::Array { .. } => "a list".into(),
        TypeRef::Map { .. } => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pulumi::schema::tests::real_schema;

    fn check(yaml: &str) -> Vec<String> {
        let v: Value = serde_yaml::from_str(yaml).unwrap();
        check_program(real_schema(), &v).into_iter().map(|p| p.to_string()).collect()
    }

    fn assert_has(problems: &[String], needle: &str) {
        assert!(problems.iter().any(|p| p.contains(needle)), "no problem contains {needle:?}: {problems:#?}");
    }

    const GOOD: &str = r#"
name: backend-uploads
runtime: yaml
resources:
  aws:
    type: pulumi:providers:aws
    properties:
      region: us-east-1
      defaultTags:
        tags: {managed-by: panka}
    options: {version: "7.48.0"}
  ref-backend-api:
    type: pulumi:pulumi:StackReference
    properties:
      name: organization/backend-api/dev
  bucket:
    type: aws:s3:Bucket
    properties:
      bucket: payments-dev-uploads
      forceDestroy: false
      tags: {note: "costs $${dollars}"}
    options:
      provider: ${aws}
      protect: true
  versioning:
    type: aws:s3/bucketVersioning:BucketVersioning
    properties:
      bucket: ${bucket.id}
      versioningConfiguration: {status: Enabled}
    options: {provider: "${aws}", dependsOn: ["${bucket}"]}
  policy:
    type: aws:iam:RolePolicy
    properties:
      role: ${ref-backend-api.outputs["taskRoleName"]}
      policy:
        fn::toJSON:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: ["s3:GetObject"]
              Resource: ["${bucket.arn}/*"]
    options: {provider: "${aws}"}
variables:
  account:
    fn::invoke:
      function: aws:getCallerIdentity
      arguments: {}
      return: accountId
outputs:
  bucketName: ${bucket.bucket}
  arn: ${bucket.arn}
  stack: ${pulumi.stack}
  account: ${account}
"#;

    #[test]
    fn a_good_program_passes() {
        let problems = check(GOOD);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn header_problems() {
        let p = check("runtime: nodejs\nresources: {}\n");
        assert_has(&p, "missing project `name`");
        assert_has(&p, "`runtime` must be `yaml`");
        let p = check("name: x\nruntime: yaml\nresourcez: {}\n");
        assert_has(&p, "unknown top-level key");
    }

    #[test]
    fn unknown_and_deprecated_types() {
        let p = check(
            "name: x\nruntime: yaml\nresources:\n  a: {type: 'aws:s3:Buckett'}\n  b: {type: 'aws:s3:BucketV2'}\n",
        );
        assert_has(&p, "unknown resource type `aws:s3:Buckett`");
        assert_has(&p, "did you mean `aws:s3:Bucket`");
        assert_has(&p, "resources.b.type: `aws:s3:BucketV2` is deprecated");
    }

    #[test]
    fn unknown_nested_and_missing_required_properties() {
        let p = check(
            r#"
name: x
runtime: yaml
resources:
  svc:
    type: aws:ecs:Service
    properties:
      desiredCount: "2"
      networkConfiguration:
        subnetz: [a]
      loadBalancers:
        - containerName: app
          containerPort: 8080
          targetGroupArnn: arn
  td:
    type: aws:ecs:TaskDefinition
    properties:
      family: f
"#,
        );
        assert_has(&p, "resources.svc.properties.desiredCount: expected a number, found a string");
        assert_has(&p, "resources.svc.properties.networkConfiguration.subnetz: unknown property `subnetz`");
        assert_has(&p, "resources.svc.properties.networkConfiguration: missing required property `subnets`");
        assert_has(&p, "loadBalancers[0].targetGroupArnn: unknown property");
        assert_has(&p, "did you mean `targetGroupArn`");
        assert_has(&p, "resources.td.properties: missing required property `containerDefinitions`");
    }

    #[test]
    fn deprecated_properties_are_reported() {
        let p = check(
            "name: x\nruntime: yaml\nresources:\n  b:\n    type: aws:s3:Bucket\n    properties:\n      versioning: {enabled: true}\n",
        );
        assert_has(&p, "resources.b.properties.versioning: `versioning` is deprecated");
    }

    #[test]
    fn dangling_and_wrong_interpolations() {
        let p = check(
            r#"
name: x
runtime: yaml
resources:
  q:
    type: aws:sqs:Queue
    properties:
      name: ${nothing.here}
      policy: "${q.nosuchoutput}"
      tags: {a: "${unterminated"}
outputs:
  a: ${q.url}
  b: ${pulumi.nope}
  c: "$${not.an.interpolation}"
  d: ${q.arn}
"#,
        );
        assert_has(&p, "`${nothing.here}` names `nothing`, which is not declared");
        assert_has(&p, "`aws:sqs/queue:Queue` has no output `nosuchoutput`");
        assert_has(&p, "bad interpolation: unterminated interpolation");
        assert_has(&p, "`${pulumi.nope}` is not a pulumi builtin");
        assert!(!p.iter().any(|x| x.contains("not.an.interpolation")), "{p:#?}");
        assert!(!p.iter().any(|x| x.starts_with("outputs.a") || x.starts_with("outputs.d")), "{p:#?}");
    }

    #[test]
    fn stack_references_and_options() {
        let p = check(
            r#"
name: x
runtime: yaml
resources:
  ref:
    type: pulumi:pulumi:StackReference
    properties: {stackName: a}
  q:
    type: aws:sqs:Queue
    options:
      provider: ${ref}
      dependsOn: [nope]
      protekt: true
outputs:
  a: ${ref.outputz}
"#,
        );
        assert_has(&p, "resources.ref.properties.stackName: unknown StackReference property");
        assert_has(&p, "a StackReference needs `name`");
        assert_has(&p, "resources.q.options.provider: `ref` is not a provider");
        assert_has(&p, "resources.q.options.dependsOn[0]: expected `${name}`");
        assert_has(&p, "unknown resource option `protekt`");
        assert_has(&p, "a StackReference has no output `outputz`");
    }

    #[test]
    fn functions_are_checked() {
        let p = check(
            r#"
name: x
runtime: yaml
variables:
  a:
    fn::invoke:
      function: aws:getNoSuchThing
  b:
    fn::invoke:
      function: aws:getCallerIdentity
      return: nope
  c:
    fn::frobnicate: 1
resources:
  td:
    type: aws:ecs:TaskDefinition
    properties:
      family: f
      containerDefinitions: {fn::toJSON: [{name: app}]}
      volumes: {fn::toJSON: []}
"#,
        );
        assert_has(&p, "unknown function `aws:getNoSuchThing`");
        assert_has(&p, "has no result field");
        assert_has(&p, "unknown builtin function `fn::frobnicate`");
        assert_has(&p, "resources.td.properties.volumes: `fn::tojson` gives a string, expected a list");
        assert!(!p.iter().any(|x| x.contains("containerDefinitions")), "{p:#?}");
    }

    #[test]
    fn duplicate_names_are_reported() {
        let p = check("name: x\nruntime: yaml\nvariables: {q: 1}\nresources:\n  q: {type: 'aws:sqs:Queue'}\n");
        assert_has(&p, "`q` is declared more than once");
    }
}
