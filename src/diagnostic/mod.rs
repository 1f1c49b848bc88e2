//! Diagnostics: what is wrong, where (`file:line:column`), and a hint.
//!
//! Every stage reports problems as [`Diagnostic`]s; they are collected (not
//! just the first), sorted by file and line, and rendered either as text
//! with the offending line and a caret, or as JSON.

pub mod render;
pub mod sources;
pub mod span;

use std::fmt;

use serde::{Deserialize, Serialize};

use span::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary location ("first defined here", one edge of a cycle).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable class (`unknown-field`, `cycle` …).
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// Where the problem is; `None` only for problems with no source (CLI input).
    pub span: Option<Span>,
    pub labels: Vec<Label>,
    /// The policy that found the problem (issue 15); boxed, as most
    /// diagnostics have none and `Result<_, Diagnostic>` stays small.
    pub source: Option<Box<crate::policy::PolicySource>>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            hint: None,
            span: span.into(),
            labels: Vec::new(),
            source: None,
        }
    }

    pub fn warning(code: &'static str, span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label { span, message: message.into() });
        self
    }

    pub fn with_source(mut self, source: crate::policy::PolicySource) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A list of diagnostics that stops a command (exit 2).
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// Sort by file, line, column; drop exact repeats.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.map(|s| (s.file, s.line, s.col));
            key(a).cmp(&key(b)).then(a.severity.cmp(&b.severity)).then(a.message.cmp(&b.message))
        });
        self.0.dedup_by(|a, b| a.span == b.span && a.message == b.message && a.code == b.code);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error(s)", self.error_count())
    }
}

impl std::error::Error for Diagnostics {}

/// The "did you mean" hint for a misspelt name, if a candidate is close.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let score = strsim::jaro_winkler(&lower, &c.to_lowercase());
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("replica", ["replicas", "autoscaling"]).as_deref(), Some("did you mean `replicas`?"));
        assert_eq!(did_you_mean("zzz", ["replicas", "autoscaling"]), None);
    }
}
