//! The printer: results to stdout, diagnostics and progress to stderr.
//! With `--output json` stdout carries exactly one JSON document.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::diagnostic::render;
use crate::diagnostic::sources::Sources;
use crate::validate::Diagnostic;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    pub quiet: bool,
    pub verbose: u8,
    /// Colors on stderr/stdout (a terminal and no `--no-color`/`NO_COLOR`).
    pub color: bool,
    pub stderr_is_tty: bool,
    pub stdin_is_tty: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, quiet: bool, verbose: u8, no_color: bool) -> Self {
        let stderr_is_tty = std::io::stderr().is_terminal();
        let no_color = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Printer {
            format,
            quiet,
            verbose,
            color: !no_color && stderr_is_tty && std::io::stdout().is_terminal(),
            stderr_is_tty,
            stdin_is_tty: std::io::stdin().is_terminal(),
        }
    }

    pub fn json_mode(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// A result for stdout (text mode).
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
    }

    /// The one JSON document of a command.
    pub fn json<T: Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value).expect("results serialize to JSON");
        self.out(&text);
    }

    /// A JSON line on stderr (progress events, `--output json`).
    pub fn progress_line(&self, line: &str) {
        eprintln!("{line}");
    }

    /// A status line on stderr, unless quiet.
    pub fn info(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// Detail shown with `-v`.
    pub fn detail(&self, text: &str) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{text}");
        }
    }

    pub fn warn(&self, text: &str) {
        eprintln!("{} {text}", self.paint("33", "warning:"));
    }

    pub fn error(&self, text: &str) {
        eprintln!("{} {text}", self.paint("31", "error:"));
    }

    pub fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Diagnostics: rendered with carets on stderr, or as a JSON list on stdout.
    pub fn diagnostics(&self, sources: &Sources, diags: &[Diagnostic]) {
        if self.json_mode() {
            self.json(&render::to_json(sources, diags));
        } else if !diags.is_empty() {
            eprint!("{}", render::to_text(sources, diags, self.color));
        }
    }
}
