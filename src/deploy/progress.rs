//! Progress on stderr while components run. Four modes:
//! - `Live` (a terminal): one redrawn line per running component — spinner,
//!   name, elapsed time, action, resources done and the step in flight — and
//!   a permanent line above them as each one ends;
//! - `Text` (CI, pipes): plain timestamped lines, the component in a fixed
//!   column so a log greps and reads per component
//!   (`12:00:03 orders/jobs  started create`);
//! - `Json` (`--output json`): one JSON object per line;
//! - `Quiet`: nothing.
//!
//! Cheap to clone into every component task.
#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Live,
    Text,
    Json,
    Quiet,
}

#[derive(Debug, Clone)]
pub struct Progress {
    pub mode: ProgressMode,
    /// Show every Pulumi resource step as a line, not only start and end.
    pub steps: bool,
    color: bool,
    live: Option<Arc<Live>>,
}

/// The running components' lines of the live view.
#[derive(Debug)]
struct Live {
    multi: MultiProgress,
    rows: Mutex<HashMap<String, Row>>,
}

#[derive(Debug)]
struct Row {
    bar: ProgressBar,
    action: String,
    done: u32,
    current: String,
}

impl Row {
    fn message(&self) -> String {
        let mut m = self.action.clone();
        if self.done > 0 {
            m.push_str(&format!(" · {} resource{} done", self.done, if self.done == 1 { "" } else { "s" }));
        }
        if !self.current.is_empty() {
            m.push_str(&format!(" · {}", self.current));
        }
        m
    }
}

impl Progress {
    /// `color` paints the live view's end marks; other modes never use color.
    pub fn new(mode: ProgressMode, steps: bool, color: bool) -> Self {
        let live = (mode == ProgressMode::Live).then(|| {
            Arc::new(Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
                rows: Mutex::new(HashMap::new()),
            })
        });
        Progress { mode, steps, color, live }
    }

    /// One event of one component (`-` for the run as a whole).
    pub fn event(&self, component: &str, event: &str, detail: &str) {
        let line = match self.mode {
            ProgressMode::Quiet => return,
            ProgressMode::Live => return self.live_event(component, event, detail),
            ProgressMode::Text => text_line(component, event, detail),
            ProgressMode::Json => {
                let v = json!({"time": Utc::now(), "component": component, "event": event, "detail": detail});
                format!("{v}\n")
            }
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
    }

    /// A Pulumi resource step started.
    pub fn step(&self, component: &str, op: &str, resource: &str) {
        if let Some(live) = &self.live {
            let mut rows = live.rows.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(row) = rows.get_mut(component) {
                row.current = format!("{op} {resource}");
                row.bar.set_message(row.message());
            }
            drop(rows);
            if self.steps {
                self.println(&text_line(component, "step", &format!("{op} {resource}")));
            }
        } else if self.steps {
            self.event(component, "step", &format!("{op} {resource}"));
        }
    }

    /// A Pulumi resource step finished (counted in the live view).
    pub fn step_done(&self, component: &str) {
        if let Some(live) = &self.live {
            let mut rows = live.rows.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(row) = rows.get_mut(component) {
                row.done += 1;
                row.current.clear();
                row.bar.set_message(row.message());
            }
        }
    }

    /// Takes the live view off the screen (before the summary is printed).
    pub fn finish(&self) {
        if let Some(live) = &self.live {
            live.clear();
        }
    }

    fn live_event(&self, component: &str, event: &str, detail: &str) {
        let Some(live) = &self.live else { return };
        match event {
            "started" => {
                let bar = live.multi.add(ProgressBar::new_spinner());
                bar.set_style(live_style());
                bar.set_prefix(component.to_string());
                let row = Row { bar: bar.clone(), action: detail.to_string(), done: 0, current: String::new() };
                bar.set_message(row.message());
                bar.enable_steady_tick(Duration::from_millis(100));
                live.rows.lock().unwrap_or_else(|e| e.into_inner()).insert(component.to_string(), row);
            }
            "done" | "failed" | "interrupted" => {
                let row = live.rows.lock().unwrap_or_else(|e| e.into_inner()).remove(component);
                if let Some(row) = &row {
                    row.bar.finish_and_clear();
                }
                let (mark, code) = match event {
                    "done" => ("✓", "32"),
                    "failed" => ("✗", "31"),
                    _ => ("!", "33"),
                };
                let mark = if self.color { format!("\x1b[{code}m{mark}\x1b[0m") } else { mark.to_string() };
                let word = if event == "done" { String::new() } else { format!("{event}: ") };
                self.println(&format!("{mark} {component:<32} {word}{detail}"));
            }
            _ => self.println(&text_line(component, event, detail)),
        }
    }

    /// A permanent line above the live rows.
    fn println(&self, line: &str) {
        if let Some(live) = &self.live {
            let _ = live.multi.println(line.trim_end());
        }
    }
}

impl Live {
    fn clear(&self) {
        let rows = std::mem::take(&mut *self.rows.lock().unwrap_or_else(|e| e.into_inner()));
        for row in rows.into_values() {
            row.bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

impl Drop for Live {
    /// Whatever way the run ends, no half-drawn rows are left on the screen.
    fn drop(&mut self) {
        self.clear();
    }
}

fn live_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:32!} {elapsed:>4} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn text_line(component: &str, event: &str, detail: &str) -> String {
    let ts = Utc::now().format("%H:%M:%S");
    if detail.is_empty() {
        format!("{ts} {component:<32} {event}\n")
    } else {
        format!("{ts} {component:<32} {event} {detail}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_says_the_action_the_resources_done_and_the_step_in_flight() {
        let mut row = Row { bar: ProgressBar::hidden(), action: "create".into(), done: 0, current: String::new() };
        assert_eq!(row.message(), "create");
        row.current = "create aws:sqs/queue:Queue".into();
        assert_eq!(row.message(), "create · create aws:sqs/queue:Queue");
        row.done = 2;
        row.current.clear();
        assert_eq!(row.message(), "create · 2 resources done");
    }

    #[test]
    fn the_live_view_forgets_a_component_when_it_ends() {
        let p = Progress::new(ProgressMode::Live, false, false);
        let live = p.live.clone().unwrap();
        live.multi.set_draw_target(ProgressDrawTarget::hidden());
        p.event("orders/jobs", "started", "create");
        p.step("orders/jobs", "create", "aws:sqs/queue:Queue");
        p.step_done("orders/jobs");
        {
            let rows = live.rows.lock().unwrap();
            let row = &rows["orders/jobs"];
            assert_eq!((row.done, row.current.as_str()), (1, ""));
        }
        p.event("orders/jobs", "done", "create in 1.0s");
        assert!(live.rows.lock().unwrap().is_empty());
        p.event("orders/worker", "started", "create");
        p.finish();
        assert!(live.rows.lock().unwrap().is_empty());
    }
}
