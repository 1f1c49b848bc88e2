//! One fixture per diagnostic class: the real binary on a stack file must
//! report the exact code, line and column, in JSON and as rendered text
//! (snapshots in `tests/fixtures/diagnostics/*.snap`).

mod support;

use panka::diagnostic::render::JsonDiagnostic;
use support::*;

/// fixture name → (code, line, column) of the first error.
const CASES: &[(&str, &str, u32, u32)] = &[
    ("yaml-syntax", "yaml-syntax", 17, 1),
    ("tab-indentation", "yaml-syntax", 25, 2),
    ("unknown-kind", "unknown-kind", 23, 7),
    ("unknown-api-version", "unknown-api-version", 22, 13),
    ("unknown-field", "unknown-field", 27, 3),
    ("top-level-field", "unknown-field", 19, 1),
    ("missing-field", "missing-field", 25, 1),
    ("invalid-type", "invalid-type", 20, 29),
    ("invalid-enum", "invalid-value", 20, 18),
    ("invalid-name-uppercase", "invalid-name", 18, 18),
    ("invalid-name-traversal", "invalid-name", 18, 18),
    ("duplicate-identity", "duplicate", 24, 18),
    ("duplicate-key", "duplicate-key", 21, 3),
    ("duplicate-project", "duplicate", 27, 18),
    ("unknown-variable", "unknown-variable", 26, 42),
    ("dangling-depends-on", "unknown-component", 27, 15),
    ("dangling-value-from", "unknown-component", 29, 30),
    ("unknown-output", "unknown-output", 28, 29),
    ("unknown-output-value-from", "unknown-output", 29, 44),
    ("ambiguous-reference", "ambiguous-reference", 37, 15),
    ("cycle", "cycle", 21, 15),
    ("fargate-size", "fargate-size", 26, 33),
    ("invalid-schedule", "invalid-schedule", 21, 13),
    ("undeclared-attribute", "undeclared-attribute", 22, 12),
    ("unused-attribute", "unused-attribute", 20, 37),
    ("port-range", "invalid-value", 21, 30),
    ("engine-version", "invalid-value", 20, 37),
    ("unknown-service", "unknown-service", 18, 33),
    ("not-a-document", "not-a-document", 22, 1),
    ("empty-stack", "empty-stack", 3, 18),
    ("lambda-visibility", "invalid-value", 30, 26),
];

#[test]
fn every_diagnostic_class_is_located_exactly() {
    let mut failures = Vec::new();
    for &(name, code, line, col) in CASES {
        let file = fixture(&format!("diagnostics/{name}.yaml"));
        let out = run(&["validate", "-e", "dev", "--output", "json", "-f", file.to_str().unwrap()], None);
        if out.status.code() != Some(2) {
            failures.push(format!("{name}: exit {:?}, want 2", out.status.code()));
            continue;
        }
        let diags: Vec<JsonDiagnostic> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: stdout is not a JSON diagnostic list: {e}\n{}", stdout(&out)));
        let found = diags.iter().any(|d| {
            d.code == code
                && d.line == Some(line)
                && d.column == Some(col)
                && d.file.as_deref() == Some(&format!("{name}.yaml"))
        });
        if !found {
            failures.push(format!("{name}: want {code} at {line}:{col}, got {diags:?}"));
        }
        let text = run(&["validate", "-e", "dev", "-f", file.to_str().unwrap()], None);
        assert_snapshot(&fixture(&format!("diagnostics/{name}.snap")), &stderr(&text));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_stack_document_is_reported_without_a_location() {
    let out =
        run(&["validate", "--output", "json", "-f", fixture("diagnostics/no-stack.yaml").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let diags: Vec<JsonDiagnostic> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "no-stack");
    assert!(diags[0].hint.as_deref().unwrap().contains("panka init"));
}

#[test]
fn all_problems_are_collected_and_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("diagnostics/unknown-variable.yaml")).unwrap()
        + "---\napiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {name: q2, service: backend}\nspec: {fifo: yes-please, delaySeconds: 5000}\n";
    std::fs::write(dir.path().join("stack.yaml"), text).unwrap();
    let out = run(&["validate", "--output", "json", "-C", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let diags: Vec<JsonDiagnostic> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(diags.len() >= 2, "{diags:?}");
    let lines: Vec<u32> = diags.iter().filter_map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}
