//! Plan output for people: one line per change with its field
//! differences, grouped by wave, and a summary.

use std::fmt::Write;

use serde_json::Value;

use super::{Action, Plan};
use crate::graph::render::human_seconds;
use crate::load::template;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn action(&self, a: Action) -> String {
        match a {
            Action::Create => self.paint("32", "  +"),
            Action::Update => self.paint("33", "  ~"),
            Action::Replace => self.paint("35", "-/+"),
            Action::Delete => self.paint("31", "  -"),
            Action::NoOp => "   ".to_string(),
        }
    }
}

/// A value as shown in a diff: strings holding output references are
/// "known after apply".
pub fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let refs = template::refs(s);
            if refs.is_empty() {
                format!("{:?}", template::literal(s).unwrap_or_else(|| s.clone()))
            } else {
                format!("(known after apply: {s})")
            }
        }
        other => {
            let s = other.to_string();
            if s.len() > 120 {
                format!("{}…", &s[..s.char_indices().take(117).last().map_or(0, |(i, c)| i + c.len_utf8())])
            } else {
                s
            }
        }
    }
}

pub fn to_text(plan: &Plan, color: bool, show_unchanged: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let serial = plan.state_serial.map_or("no state yet".to_string(), |s| format!("state serial {s}"));
    let _ = writeln!(out, "plan for stack `{}`, environment `{}` ({serial})", plan.stack, plan.environment);
    let mut current = String::new();
    for c in &plan.changes {
        if c.action == Action::NoOp && !show_unchanged {
            continue;
        }
        let section = if c.component == super::SHARED_KEY && c.action != Action::Delete {
            "the stack's shared program (before every component)".to_string()
        } else if c.wave == 0 {
            "deletions (reverse dependency order)".to_string()
        } else {
            format!("wave {}", c.wave)
        };
        if section != current {
            let _ = writeln!(out, "\n{section}");
            current = section;
        }
        let head = format!("{} {} ({})", st.action(c.action), c.component, c.kind);
        let _ = writeln!(out, "{head:<60} {}", c.action);
        for r in &c.reasons {
            if c.action != Action::Create || c.reasons.len() > 1 {
                let _ = writeln!(out, "        {}", st.paint("2", &format!("# {r}")));
            }
        }
        for d in &c.diffs {
            let line = match (&d.before, &d.after) {
                (Some(b), Some(a)) => format!("{}: {} → {}", d.path, show_value(b), show_value(a)),
                (None, Some(a)) => format!("{}: + {}", d.path, show_value(a)),
                (Some(b), None) => format!("{}: - {}", d.path, show_value(b)),
                (None, None) => d.path.clone(),
            };
            let forced = if c.replace_fields.contains(&d.path) {
                st.paint("35", "  (forces replacement)")
            } else {
                String::new()
            };
            let _ = writeln!(out, "        {line}{forced}");
        }
    }
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "\nPlan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
        s.create, s.update, s.replace, s.delete, s.no_op
    );
    if plan.has_changes() {
        let _ = write!(out, "Estimated duration: ~{}", human_seconds(plan.estimated_seconds));
        if plan.critical_path.len() > 1 {
            let _ = write!(out, " (critical path: {})", plan.critical_path.join(" -> "));
        }
        out.push('\n');
    } else {
        let _ = writeln!(out, "No changes. The deployed stack matches the configuration.");
    }
    out
}
