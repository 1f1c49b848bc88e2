//! Writes a program as YAML text with every string double-quoted.
//!
//! A plain `2012-10-17` is a timestamp to YAML 1.1 readers and `OFF` a
//! boolean, and an IAM policy whose `Version` became a date is rejected by
//! AWS. Quoting every string (with JSON escapes, which are valid YAML
//! double-quoted escapes) leaves no reader any room to guess; numbers,
//! booleans and null stay plain. Keys are plain only when they are simple
//! identifiers that no YAML reader takes for anything else.

use std::fmt::Write;

use serde_yaml::Value;

pub fn to_text(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn mapping(out: &mut String, m: &serde_yaml::Mapping, indent: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first entry of a mapping inside a list follows its `- `.
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        let k = key(k);
        if k.len() > 1000 {
            // Implicit keys are limited to 1024 characters; longer ones
            // (a 10 KB tag key) need the explicit `? key` form.
            out.push_str("? ");
            out.push_str(&k);
            out.push('\n');
            pad(out, indent);
        } else {
            out.push_str(&k);
        }
        out.push(':');
        value_after_key(out, v, indent);
    }
}

fn sequence(out: &mut String, s: &[Value], indent: usize) {
    for (i, item) in s.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Mapping(m) if !m.is_empty() => mapping(out, m, indent + 2),
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(out, inner, indent + 2);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, indent + 2);
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence(out, s, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push(' ');
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Sequence(_) => "[]".to_string(),
        Value::Mapping(_) => "{}".to_string(),
        Value::Tagged(t) => {
            let mut s = String::new();
            let _ = write!(s, "{} {}", t.tag, scalar(&t.value));
            s
        }
    }
}

const AMBIGUOUS: [&str; 22] = [
    "y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "true", "True",
    "false", "False", "null", "Null",
];

fn key(k: &Value) -> String {
    match k {
        Value::String(s) => {
            let simple = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !AMBIGUOUS.contains(&s.as_str());
            if simple {
                s.clone()
            } else {
                quote(s)
            }
        }
        other => scalar(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) {
        let v: Value = serde_yaml::from_str(text).unwrap();
        let out = to_text(&v);
        let back: Value = serde_yaml::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        assert_eq!(back, v, "\n{out}");
    }

    #[test]
    fn strings_that_look_like_other_things_are_quoted() {
        let v: Value =
            serde_yaml::from_str("Version: '2012-10-17'\nmode: 'OFF'\nport: '8080'\nn: 5\nok: true\n").unwrap();
        assert!(to_text(&v).contains("\"n\": 5\n"), "a key YAML 1.1 reads as a boolean is quoted");
        let out = to_text(&v);
        assert!(out.contains("Version: \"2012-10-17\""), "{out}");
        assert!(out.contains("mode: \"OFF\""));
        assert!(out.contains("port: \"8080\""));
        assert!(out.contains("ok: true\n"));
    }

    #[test]
    fn structure_survives_a_round_trip() {
        roundtrip("a:\n  b: [1, 2, {c: d, e: [x, y]}]\n  f: {}\n  g: []\n  'h i': \"j: k # l\\nm\"\n  \"on\": x\nlist:\n- - nested\n  - list\n- {k: v}\n");
        roundtrip("resources:\n  q:\n    type: aws:sqs:Queue\n    properties:\n      name: \"${x} $${y} unicode ✓ tab\\t\"\n      tags: {\"aws:cloudformation\": v}\n");
        roundtrip("- a\n- b\n");
        let long_key = format!("tags:\n  ? \"{}\"\n  : v\n", "k".repeat(5000));
        roundtrip(&long_key);
        roundtrip("plain\n");
    }
}
