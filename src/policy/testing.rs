//! `panka policy test`: the policies' own tests, as `opa test` and
//! `conftest verify` run them. Every `test_*` rule of every loaded file
//! (policies and their `_test.rego` files together) is evaluated; it
//! passes when it is `true`, and fails when it is false, undefined or an
//! error.

use serde::Serialize;

use super::{add_files, engine, rule_heads, PolicyError, PolicyFile};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Error,
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub package: String,
    pub name: String,
    /// The file that declares it.
    pub file: String,
    pub outcome: Outcome,
    /// Why it did not pass (an evaluation error, or what it evaluated to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Run every `test_*` rule; a file that does not compile stops the run.
pub fn run(files: &[PolicyFile]) -> Result<Vec<TestResult>, Vec<PolicyError>> {
    let mut engine = engine();
    let packages = add_files(&mut engine, files)?;
    let mut results = Vec::new();
    for (f, package) in files.iter().zip(&packages) {
        for name in rule_heads(&f.text, &["test"]) {
            let query = format!("data.{package}.{name}");
            let (outcome, detail) = match engine.eval_rule(query) {
                Ok(regorus::Value::Bool(true)) => (Outcome::Pass, None),
                Ok(regorus::Value::Undefined) => (Outcome::Fail, Some("undefined".to_string())),
                Ok(v) => (Outcome::Fail, Some(serde_json::to_string(&v).unwrap_or_default())),
                Err(e) => (Outcome::Error, Some(PolicyError::from_engine(&f.path, &e).to_string())),
            };
            results.push(TestResult { package: package.clone(), name, file: f.path.clone(), outcome, detail });
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passing_failing_and_undefined_tests() {
        let files = vec![
            PolicyFile {
                path: "p.rego".into(),
                text: "package p\nimport rego.v1\ndeny contains \"x\" if input.x\n".into(),
            },
            PolicyFile {
                path: "p_test.rego".into(),
                text: "package p\nimport rego.v1\ntest_denies if { count(deny) == 1 with input as {\"x\": true} }\ntest_wrong if { count(deny) == 1 with input as {\"x\": false} }\n".into(),
            },
        ];
        let r = run(&files).unwrap();
        let by = |n: &str| r.iter().find(|t| t.name == n).unwrap().outcome.clone();
        assert_eq!(by("test_denies"), Outcome::Pass);
        assert_eq!(by("test_wrong"), Outcome::Fail);
    }
}
