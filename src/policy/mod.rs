//! Policies (issue 15): Rego rules that a platform team writes about a
//! stack, evaluated in-process with regorus on one input document (the
//! plan, see [`input`]).
//!
//! Conventions are conftest's: a package per concern (`package
//! panka.<concern>` or `main`), `deny`/`violation` rules (errors) and
//! `warn` rules (warnings), each a set of messages — strings, or objects
//! `{msg, component, path}` that say where the problem is. Prefixed rules
//! (`deny_size`, `warn_labels`) count too. `_test.rego` files hold the
//! policies' own tests (`test_*` rules) and are only read by
//! `panka policy test` ([`testing`]).
//!
//! This module compiles and evaluates; it reads no file (see [`source`])
//! and maps nothing back to YAML (see [`locate`]).

pub mod builtin;
pub mod input;
pub mod locate;
pub mod source;
pub mod testing;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::validate::Severity;

/// One Rego file: where it came from (shown in messages) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    /// `policies/size.rego`, `s3://bundle/prefix/x.rego`, `builtin:s3-private`.
    pub path: String,
    pub text: String,
}

/// Where a finding came from: the policy's package and rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PolicySource {
    pub package: String,
    pub rule: String,
}

/// One message of a `deny`/`warn` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub source: PolicySource,
    pub severity: Severity,
    pub message: String,
    /// `service/component`, when the policy names one.
    pub component: Option<String>,
    /// A field path (`spec.image.tag`, relative to the component, or an
    /// input path such as `components["backend/api"].infra.replicas`).
    pub path: Option<String>,
}

/// A policy that could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// The policy file, as in [`PolicyFile::path`].
    pub file: String,
    /// 1-based position in that file, when the engine gave one.
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl PolicyError {
    /// From a regorus error, whose message carries `--> file:line:col`
    /// and a source excerpt; keep the position and the last line (the
    /// message itself).
    fn from_engine(file: &str, err: &anyhow::Error) -> PolicyError {
        let text = err.to_string();
        let mut line = None;
        let mut column = None;
        if let Some(at) = text.find("--> ") {
            let loc = text[at + 4..].lines().next().unwrap_or("");
            let mut parts = loc.rsplitn(3, ':');
            column = parts.next().and_then(|c| c.trim().parse().ok());
            line = parts.next().and_then(|l| l.trim().parse().ok());
        }
        let message = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .trim_start_matches("error: ")
            .to_string();
        PolicyError { file: file.to_string(), line, column, message }
    }
}

/// A rule that produces findings.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    package: String,
    name: String,
    severity: Severity,
    /// `data.<package>.<name>`.
    query: String,
}

/// Compiled policies, ready to evaluate many inputs (the engine is cloned
/// per evaluation, so nothing is parsed twice).
#[derive(Clone)]
pub struct PolicySet {
    engine: regorus::Engine,
    rules: Vec<Rule>,
    /// Packages loaded, in order.
    pub packages: Vec<String>,
    pub files: Vec<PolicyFile>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet").field("packages", &self.packages).field("rules", &self.rules.len()).finish()
    }
}

/// Names of rules in a Rego text that a convention gives a meaning to:
/// `prefixes` (`deny`, `warn`, `test` …) alone or followed by `_suffix`,
/// at the start of a line (a rule head). Several heads of one rule count once.
pub(crate) fn rule_heads(text: &str, prefixes: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in text.lines() {
        let name: String = line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            continue;
        }
        let matches = prefixes.iter().any(|p| name == *p || name.strip_prefix(p).is_some_and(|r| r.starts_with('_')));
        let rest = line[name.len()..].trim_start();
        let is_head = rest.is_empty()
            || ["contains", "if", "=", ":=", "[", "{"].iter().any(|t| rest.starts_with(t))
            || rest.starts_with('(');
        if matches && is_head && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

fn severity_of(rule: &str) -> Severity {
    if rule.starts_with("warn") {
        Severity::Warning
    } else {
        Severity::Error
    }
}

/// A fresh engine with panka's settings: Rego v1 syntax (`import rego.v1`
/// is accepted too), builtin errors are errors.
fn engine() -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    engine.set_strict_builtin_errors(false);
    engine
}

/// Parse and add files to an engine; every file's syntax error is reported.
fn add_files(engine: &mut regorus::Engine, files: &[PolicyFile]) -> Result<Vec<String>, Vec<PolicyError>> {
    let mut packages = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match engine.add_policy(f.path.clone(), f.text.clone()) {
            Ok(pkg) => packages.push(pkg.trim_start_matches("data.").to_string()),
            Err(e) => errors.push(PolicyError::from_engine(&f.path, &e)),
        }
    }
    if errors.is_empty() {
        Ok(packages)
    } else {
        Err(errors)
    }
}

impl PolicySet {
    /// Compile policy files (not `_test.rego` ones: see [`testing`]).
    pub fn compile(files: Vec<PolicyFile>) -> Result<PolicySet, Vec<PolicyError>> {
        let mut engine = engine();
        let packages = add_files(&mut engine, &files)?;
        let mut rules: Vec<Rule> = Vec::new();
        for (f, package) in files.iter().zip(&packages) {
            for name in rule_heads(&f.text, &["deny", "violation", "warn"]) {
                let query = format!("data.{package}.{name}");
                if !rules.iter().any(|r| r.query == query) {
                    rules.push(Rule { package: package.clone(), severity: severity_of(&name), name, query });
                }
            }
        }
        // Prepare the engine once, on an empty input (semantic errors
        // surface here, with their file): every clone starts ready.
        engine.set_input(regorus::Value::new_object());
        for rule in &rules {
            if let Err(e) = engine.eval_rule(rule.query.clone()) {
                let file = files.iter().zip(&packages).find(|(_, p)| **p == rule.package).map(|(f, _)| f.path.clone());
                return Err(vec![PolicyError::from_engine(&file.unwrap_or_default(), &e)]);
            }
        }
        Ok(PolicySet { engine, rules, packages, files })
    }

    /// An empty set: evaluates to nothing.
    pub fn empty() -> PolicySet {
        PolicySet { engine: engine(), rules: Vec::new(), packages: Vec::new(), files: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// How many `deny`/`warn` rules there are.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Every finding of every rule on one input document.
    pub fn evaluate(&self, input: &Json) -> Result<Vec<Violation>, PolicyError> {
        if self.rules.is_empty() {
            return Ok(Vec::new());
        }
        let mut engine = self.engine.clone();
        engine.set_input(regorus::Value::from(input.clone()));
        let mut found = Vec::new();
        for rule in &self.rules {
            let value = engine.eval_rule(rule.query.clone()).map_err(|e| {
                let file = self.file_of(&rule.package);
                PolicyError::from_engine(&file, &e)
            })?;
            let json = match value {
                regorus::Value::Undefined => continue,
                v => serde_json::to_value(&v).unwrap_or(Json::Null),
            };
            let source = PolicySource { package: rule.package.clone(), rule: rule.name.clone() };
            let items = match json {
                Json::Array(items) => items,
                Json::Bool(false) | Json::Null => Vec::new(),
                Json::Bool(true) => vec![Json::String(format!("denied by `{}`", rule.query))],
                other => vec![other],
            };
            for item in items {
                found.push(violation(source.clone(), rule.severity, item));
            }
        }
        Ok(found)
    }

    fn file_of(&self, package: &str) -> String {
        self.files
            .iter()
            .zip(&self.packages)
            .find(|(_, p)| p.as_str() == package)
            .map_or_else(|| package.to_string(), |(f, _)| f.path.clone())
    }
}

/// A rule's message: a string, or an object with `msg` (and optionally
/// `component` and `path`, a string or a list of keys and indexes).
fn violation(source: PolicySource, severity: Severity, item: Json) -> Violation {
    let (message, component, path) = match item {
        Json::String(s) => (s, None, None),
        Json::Object(o) => {
            let msg = o
                .get("msg")
                .or_else(|| o.get("message"))
                .and_then(Json::as_str)
                .map_or_else(|| Json::Object(o.clone()).to_string(), str::to_string);
            let component = o.get("component").and_then(Json::as_str).map(str::to_string);
            let path = match o.get("path") {
                Some(Json::String(s)) => Some(s.clone()),
                Some(Json::Array(segs)) => Some(
                    segs.iter()
                        .map(|s| match s {
                            Json::Number(n) => format!("[{n}]"),
                            Json::String(k) => format!(".{k}"),
                            other => format!(".{other}"),
                        })
                        .collect::<String>()
                        .trim_start_matches('.')
                        .to_string(),
                ),
                _ => None,
            };
            (msg, component, path)
        }
        other => (other.to_string(), None, None),
    };
    Violation { source, severity, message, component, path }
}

/// What the plan document says about policies (`policy` in `--output json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyReport {
    /// Packages evaluated.
    pub packages: Vec<String>,
    pub denies: usize,
    pub warnings: usize,
    /// Denies were turned into warnings (`--policy-warn-only`).
    #[serde(default)]
    pub warn_only: bool,
    pub violations: Vec<crate::diagnostic::render::JsonDiagnostic>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(path: &str, text: &str) -> PolicyFile {
        PolicyFile { path: path.into(), text: text.into() }
    }

    #[test]
    fn rule_heads_follow_conftest_names() {
        let text = "package main\ndeny contains msg if { true }\nwarn_labels contains m if { true }\ndenylist := 1\nviolation[x] { x := 1 }\n  deny_inner := 2\n";
        assert_eq!(rule_heads(text, &["deny", "violation", "warn"]), vec!["deny", "warn_labels", "violation"]);
    }

    #[test]
    fn deny_and_warn_with_objects_and_strings() {
        let set = PolicySet::compile(vec![file(
            "p.rego",
            r#"package panka.size
deny contains {"msg": "too big", "component": "a/b", "path": ["spec", "ports", 0]} if input.size > 2
warn contains "big" if input.size > 1
"#,
        )])
        .unwrap();
        let v = set.evaluate(&json!({"size": 3})).unwrap();
        assert_eq!(v.len(), 2);
        let deny = v.iter().find(|v| v.severity == Severity::Error).unwrap();
        assert_eq!(deny.source, PolicySource { package: "panka.size".into(), rule: "deny".into() });
        assert_eq!((deny.component.as_deref(), deny.path.as_deref()), (Some("a/b"), Some("spec.ports[0]")));
        assert!(set.evaluate(&json!({"size": 1})).unwrap().is_empty());
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        let errs = PolicySet::compile(vec![file("bad.rego", "package x\n\ndeny contains msg if {\n  msg := \n}\n")])
            .unwrap_err();
        assert_eq!(errs[0].file, "bad.rego");
        assert!(errs[0].line.is_some_and(|l| (4..=5).contains(&l)), "{errs:?}");
    }
}
