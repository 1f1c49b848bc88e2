//! What an apply or destroy did, for the summary (text and JSON).

use std::fmt;

use serde::Serialize;

use crate::exit::ExitStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Updated,
    Replaced,
    Deleted,
    Failed,
    /// A dependency failed (or, for destroy, a dependent).
    Skipped,
    /// Not started: the run stopped (failure, interrupt or lost lock).
    NotStarted,
    Interrupted,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    pub component: String,
    pub action: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Pulumi's error output (Pulumi masks secrets in what it prints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was applied, for the deployment record (successful ups only).
    #[serde(skip)]
    pub restorable: Option<crate::state::records::Restorable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Succeeded,
    NoChanges,
    Failed,
    Interrupted,
    LockLost,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub created: u32,
    pub updated: u32,
    pub replaced: u32,
    pub deleted: u32,
    pub failed: u32,
    pub skipped: u32,
    pub unchanged: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub operation: String,
    pub deployment_id: String,
    pub stack: String,
    pub environment: String,
    pub status: RunStatus,
    pub duration_ms: u64,
    pub counts: Counts,
    pub components: Vec<ComponentReport>,
    /// Set when the state could not be written at the end (with what to do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_error: Option<String>,
    /// The exit status of that state error.
    #[serde(skip)]
    pub state_exit: Option<ExitStatus>,
    /// The local file holding the state this run could not write, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescue: Option<String>,
    /// What went wrong without failing the run (a history copy not written …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// A component stopped at a Pulumi lock held by a run panka cannot
    /// prove dead: exit 3, as for panka's own lock.
    #[serde(skip)]
    pub pulumi_locked: bool,
}

impl Report {
    pub fn count(&mut self) {
        let mut c = Counts::default();
        for r in &self.components {
            match r.outcome {
                Outcome::Created => c.created += 1,
                Outcome::Updated => c.updated += 1,
                Outcome::Replaced => c.replaced += 1,
                Outcome::Deleted => c.deleted += 1,
                Outcome::Failed | Outcome::Interrupted => c.failed += 1,
                Outcome::Skipped | Outcome::NotStarted => c.skipped += 1,
                Outcome::Unchanged => c.unchanged += 1,
            }
        }
        self.counts = c;
    }

    pub fn exit_status(&self) -> ExitStatus {
        // A state problem says most about what to do next (push the saved
        // copy, look at who wrote), unless the lock was lost or Ctrl-C came.
        if let (Some(status), RunStatus::Succeeded | RunStatus::NoChanges | RunStatus::Failed) =
            (self.state_exit, self.status)
        {
            return status;
        }
        match self.status {
            RunStatus::Succeeded | RunStatus::NoChanges => ExitStatus::Ok,
            RunStatus::Failed if self.pulumi_locked => ExitStatus::Locked,
            RunStatus::Failed => ExitStatus::DeployFailed,
            RunStatus::Interrupted => ExitStatus::Interrupted,
            RunStatus::LockLost => ExitStatus::Locked,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.components {
            if r.outcome == Outcome::Unchanged {
                continue;
            }
            let outcome = serde_json::to_value(r.outcome).ok();
            let outcome = outcome.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
            write!(f, "  {:<12} {:<40}", outcome, r.component)?;
            if let Some(ms) = r.duration_ms {
                write!(f, " {:>7.1}s", ms as f64 / 1000.0)?;
            }
            if let Some(reason) = &r.reason {
                write!(f, "  ({reason})")?;
            }
            writeln!(f)?;
        }
        let c = &self.counts;
        let verb = match self.status {
            RunStatus::Succeeded => "succeeded",
            RunStatus::NoChanges => "found nothing to change",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "was interrupted",
            RunStatus::LockLost => "stopped: the lock was lost",
        };
        write!(
            f,
            "{} of `{}` ({}) {verb} in {:.1}s: {} created, {} updated, {} replaced, {} deleted, {} failed, {} skipped, {} unchanged",
            self.operation,
            self.stack,
            self.environment,
            self.duration_ms as f64 / 1000.0,
            c.created,
            c.updated,
            c.replaced,
            c.deleted,
            c.failed,
            c.skipped,
            c.unchanged
        )
    }
}
