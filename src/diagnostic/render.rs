//! Renders diagnostics as text (the source line and a caret, through
//! codespan-reporting) or as JSON records.

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, LabelStyle, Severity as CsSeverity,
};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::Buffer};
use serde::{Deserialize, Serialize};

use super::sources::Sources;
use super::span::Span;
use super::{Diagnostic, Severity};

/// One diagnostic as `--output json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonDiagnostic {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
    /// The policy package and rule, for policy findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::policy::PolicySource>,
}

pub fn to_json(sources: &Sources, diags: &[Diagnostic]) -> Vec<JsonDiagnostic> {
    diags
        .iter()
        .map(|d| JsonDiagnostic {
            file: d.span.map(|s| sources.display(s.file).to_string()),
            line: d.span.map(|s| s.line),
            column: d.span.map(|s| s.col),
            severity: d.severity,
            code: d.code.to_string(),
            message: d.message.clone(),
            hint: d.hint.clone(),
            source: d.source.as_deref().cloned(),
        })
        .collect()
}

/// Render diagnostics for a terminal (`color`) or a log.
pub fn to_text(sources: &Sources, diags: &[Diagnostic], color: bool) -> String {
    let mut files = SimpleFiles::new();
    let ids: Vec<usize> = sources.iter().map(|f| files.add(f.display.clone(), f.text.as_str())).collect();
    let mut buffer = if color { Buffer::ansi() } else { Buffer::no_color() };
    let config = term::Config::default();
    for d in diags {
        let mut cs = match d.severity {
            Severity::Error => CsDiagnostic::new(CsSeverity::Error),
            Severity::Warning => CsDiagnostic::new(CsSeverity::Warning),
        }
        .with_code(d.code)
        .with_message(&d.message);
        let mut labels = Vec::new();
        // A label at the primary span gives the primary its message.
        if let Some(span) = d.span {
            let msg = d.labels.iter().find(|l| l.span == span).map_or("", |l| l.message.as_str());
            labels.push(label(sources, &ids, LabelStyle::Primary, span, msg));
        }
        for l in d.labels.iter().filter(|l| Some(l.span) != d.span) {
            labels.push(label(sources, &ids, LabelStyle::Secondary, l.span, &l.message));
        }
        cs = cs.with_labels(labels);
        let mut notes = Vec::new();
        if let Some(s) = &d.source {
            notes.push(format!("policy: package `{}`, rule `{}`", s.package, s.rule));
        }
        if let Some(h) = &d.hint {
            notes.push(format!("hint: {h}"));
        }
        cs = cs.with_notes(notes);
        term::emit(&mut buffer, &config, &files, &cs).expect("writing to a buffer cannot fail");
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn label(sources: &Sources, ids: &[usize], style: LabelStyle, span: Span, message: &str) -> CsLabel<usize> {
    let range = sources.byte_range(span);
    CsLabel::new(style, ids[span.file.0 as usize], range).with_message(message)
}
