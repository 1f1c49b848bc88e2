//! Hostile input: every case ends in exit 2 with a located diagnostic,
//! quickly, never a panic, a hang or unbounded memory.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use panka::diagnostic::render::JsonDiagnostic;
use support::*;

const STACK: &str = "apiVersion: core.panka.io/v1\nkind: Stack\nmetadata: {name: shop}\nspec:\n  provider: {region: us-east-1}\n---\napiVersion: core.panka.io/v1\nkind: Service\nmetadata: {name: backend}\n---\napiVersion: components.panka.io/v1\nkind: SQS\nmetadata: {name: jobs, service: backend}\nspec: {}\n";

/// Run validate on a directory holding `files`; return the diagnostics.
fn validate_dir(files: &[(&str, Vec<u8>)]) -> (Vec<JsonDiagnostic>, Duration, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    validate_path(dir.path())
}

fn validate_path(dir: &Path) -> (Vec<JsonDiagnostic>, Duration, String) {
    let start = Instant::now();
    let out = run(&["validate", "-e", "dev", "--output", "json", "-C", dir.to_str().unwrap()], None);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let diags = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    (diags, took, stderr(&out))
}

fn has(diags: &[JsonDiagnostic], code: &str, file: &str, line: u32) -> bool {
    diags.iter().any(|d| d.code == code && d.file.as_deref() == Some(file) && d.line == Some(line))
}

/// Generous: a hang or a blow-up shows as minutes; the benchmark reports real times.
const QUICK: Duration = Duration::from_secs(5);

#[test]
fn invalid_utf8() {
    let mut bytes = STACK.as_bytes().to_vec();
    bytes.extend_from_slice(b"# caf\xe9\n");
    let (d, took, _) = validate_dir(&[("stack.yaml", bytes)]);
    assert!(has(&d, "invalid-utf8", "stack.yaml", 15), "{d:?}");
    assert!(took < QUICK);
}

#[test]
fn tab_indentation() {
    let text = STACK.replace("  provider:", "\tprovider:");
    let (d, _, _) = validate_dir(&[("stack.yaml", text.into_bytes())]);
    let tab = d.iter().find(|d| d.code == "yaml-syntax").expect("a syntax error");
    assert_eq!(tab.line, Some(5));
    assert!(tab.hint.as_deref().unwrap_or("").contains("tabs"), "{tab:?}");
}

#[test]
fn fifty_megabyte_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.yaml"), STACK).unwrap();
    let big = std::fs::File::create(dir.path().join("huge.yaml")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    let (d, took, _) = validate_path(dir.path());
    assert!(has(&d, "file-too-large", "huge.yaml", 1), "{d:?}");
    assert!(took < QUICK, "took {took:?}");
}

#[test]
fn ten_thousand_levels_of_nesting() {
    let deep = format!("{STACK}---\nx: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let (d, took, _) = validate_dir(&[("stack.yaml", deep.into_bytes())]);
    assert!(d.iter().any(|d| d.code == "too-deep" && d.line == Some(16)), "{d:?}");
    assert!(took < QUICK);
    let block: String = (0..1_500).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    let (d, _, _) = validate_dir(&[("stack.yaml", STACK.into()), ("deep.yaml", block.into_bytes())]);
    assert!(d.iter().any(|d| d.code == "too-deep" && d.file.as_deref() == Some("deep.yaml")), "{d:?}");
}

#[test]
fn alias_bomb() {
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut prev = "a".to_string();
    for n in ["b", "c", "d", "e", "f", "g", "h", "i"] {
        bomb += &format!("{n}: &{n} [{}]\n", vec![format!("*{prev}"); 9].join(", "));
        prev = n.to_string();
    }
    let (d, took, _) = validate_dir(&[("stack.yaml", STACK.into()), ("bomb.yaml", bomb.into_bytes())]);
    assert!(d.iter().any(|d| d.code == "alias-limit" && d.file.as_deref() == Some("bomb.yaml")), "{d:?}");
    assert!(took < QUICK);
}

#[test]
fn names_that_could_escape_or_break_aws() {
    for bad in ["../../x", "Api", "my_api", "a/b", "-x", "x-", &"a".repeat(33)] {
        let text = STACK.replace("name: jobs", &format!("name: \"{bad}\""));
        let (d, _, _) = validate_dir(&[("stack.yaml", text.into_bytes())]);
        assert!(has(&d, "invalid-name", "stack.yaml", 13), "{bad}: {d:?}");
    }
    let text = STACK.replace("name: shop", "name: ../../etc");
    let (d, _, _) = validate_dir(&[("stack.yaml", text.into_bytes())]);
    assert!(has(&d, "invalid-name", "stack.yaml", 3), "{d:?}");
    // An environment from the command line is checked before it names a path.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stack.yaml"), STACK).unwrap();
    let out = run(&["plan", "-e", "../../prod", "-C", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("environment name"), "{}", stderr(&out));
    assert!(!dir.path().join(".panka").exists());
}

#[test]
fn empty_files() {
    let (d, _, _) = validate_dir(&[("stack.yaml", STACK.into()), ("empty.yaml", Vec::new())]);
    assert!(has(&d, "empty-file", "empty.yaml", 1), "{d:?}");
    let (d, _, _) = validate_dir(&[("stack.yaml", STACK.into()), ("comments.yaml", b"# nothing\n---\n".to_vec())]);
    assert!(has(&d, "empty-file", "comments.yaml", 1), "{d:?}");
}

#[test]
fn stack_with_no_components() {
    let text = STACK.split("---").take(2).collect::<Vec<_>>().join("---");
    let (d, _, _) = validate_dir(&[("stack.yaml", text.into_bytes())]);
    assert!(has(&d, "empty-stack", "stack.yaml", 3), "{d:?}");
}

#[test]
fn directory_with_no_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let (d, _, _) = validate_path(dir.path());
    assert_eq!(d[0].code, "no-stack");
}

#[test]
fn binary_garbage() {
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (d, _, _) = validate_dir(&[("stack.yaml", STACK.into()), ("noise.yaml", garbage)]);
    assert!(d.iter().any(|d| d.file.as_deref() == Some("noise.yaml")), "{d:?}");
}
