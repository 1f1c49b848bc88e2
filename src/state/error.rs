//! What can go wrong reading or writing state, with the exit status each
//! case ends the process with (SPEC §11: 5 for a conflict, 3 for a lost lock).

use std::path::PathBuf;

use super::store::StoreError;
use crate::exit::{ExitStatus, Failure};
use crate::scope::NameError;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Someone else wrote the state since it was read under the lock (412).
    #[error(
        "state conflict: `{location}` was changed by someone else (expected serial {expected}, found {found})\n{rescue_note}hint: another run wrote this state while panka held the lock; check `panka locks` and `panka state history`, then re-run"
    )]
    Conflict {
        location: String,
        expected: String,
        found: String,
        /// "the state this run meant to write was saved to …\n", or empty.
        rescue_note: String,
    },
    #[error(
        "state conflict: `{location}` belongs to lineage {found}, this run has lineage {expected}\nhint: the state was replaced or belongs to another stack; inspect it with `panka state pull`"
    )]
    LineageMismatch { location: String, expected: String, found: String },
    #[error(
        "the lock was lost, so the state was not written\n{rescue_note}hint: another run may have taken the lock after a missed heartbeat; check `panka locks`, then push the saved state if it is still the newest"
    )]
    LockLost { rescue_note: String },
    #[error(
        "writing `{location}` failed: {source}\nthe state was saved to `{rescue}`\nhint: when the backend is reachable again, push it with:\n  {push_command}"
    )]
    WriteFailed {
        location: String,
        #[source]
        source: Box<StoreError>,
        rescue: PathBuf,
        push_command: String,
    },
    /// An earlier write of this run failed; later changes went to its local copy.
    #[error("the state was not written: an earlier write of this run failed\n{rescue_note}")]
    NotWritten { rescue_note: String },
    #[error("writing `{location}` failed: {source}\nsaving a local copy failed too: {rescue_error}")]
    WriteAndRescueFailed {
        location: String,
        #[source]
        source: Box<StoreError>,
        rescue_error: String,
    },
    #[error("writing `{location}` failed: {source}")]
    Write {
        location: String,
        #[source]
        source: Box<StoreError>,
    },
    #[error("reading `{location}` failed: {source}")]
    Read {
        location: String,
        #[source]
        source: Box<StoreError>,
    },
    #[error("`{location}` is not a valid panka state: {detail}\nhint: inspect it with `panka state pull`; S3 versioning keeps earlier versions")]
    Corrupt { location: String, detail: String },
    #[error("refusing to push: {reason}\nhint: {hint}")]
    PushRefused { reason: String, hint: String },
    #[error(transparent)]
    Name(#[from] NameError),
}

impl StateError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            StateError::Conflict { .. } | StateError::LineageMismatch { .. } => ExitStatus::StateConflict,
            StateError::PushRefused { .. } => ExitStatus::StateConflict,
            StateError::LockLost { .. } => ExitStatus::Locked,
            StateError::Name(_) => ExitStatus::Invalid,
            StateError::WriteFailed { .. }
            | StateError::WriteAndRescueFailed { .. }
            | StateError::Read { .. }
            | StateError::Write { .. }
            | StateError::NotWritten { .. }
            | StateError::Corrupt { .. } => ExitStatus::Error,
        }
    }

    /// The local copy saved when a write did not happen, if any.
    pub fn rescue_path(&self) -> Option<&std::path::Path> {
        match self {
            StateError::WriteFailed { rescue, .. } => Some(rescue),
            _ => None,
        }
    }
}

impl From<StateError> for Failure {
    fn from(err: StateError) -> Failure {
        Failure::new(err.exit_status(), err.to_string())
    }
}
