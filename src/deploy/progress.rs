//! Progress lines on stderr while components run: plain timestamped lines
//! (`12:00:03 orders/jobs  started create`), or one JSON object per line
//! with `--output json`. Cheap to clone into every component task.
#![allow(clippy::print_stderr)]

use std::io::Write;

use chrono::Utc;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Text,
    Json,
    Quiet,
}

#[derive(Debug, Clone)]
pub struct Progress {
    pub mode: ProgressMode,
    /// Show every Pulumi resource step, not only start and end.
    pub steps: bool,
}

impl Progress {
    pub fn new(mode: ProgressMode, steps: bool) -> Self {
        Progress { mode, steps }
    }

    /// One event of one component.
    pub fn event(&self, component: &str, event: &str, detail: &str) {
        let line = match self.mode {
            ProgressMode::Quiet => return,
            ProgressMode::Text => {
                let ts = Utc::now().format("%H:%M:%S");
                if detail.is_empty() {
                    format!("{ts} {component:<32} {event}\n")
                } else {
                    format!("{ts} {component:<32} {event} {detail}\n")
                }
            }
            ProgressMode::Json => {
                let v = json!({"time": Utc::now(), "component": component, "event": event, "detail": detail});
                format!("{v}\n")
            }
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
    }

    /// A Pulumi resource step (only with `steps`).
    pub fn step(&self, component: &str, op: &str, resource: &str) {
        if self.steps {
            self.event(component, "step", &format!("{op} {resource}"));
        }
    }
}
