//! Process exit codes (SPEC §11). Every command ends in one of these.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Ok = 0,
    Error = 1,
    Invalid = 2,
    Locked = 3,
    DeployFailed = 4,
    StateConflict = 5,
    ChangesPresent = 6,
    Interrupted = 130,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that carries the exit status it should end the process with.
/// When `printed` is set, the details were already shown to the user and
/// `main` only exits (cargo's `AlreadyPrintedError`).
#[derive(Debug)]
pub struct Failure {
    pub status: ExitStatus,
    pub message: String,
    pub printed: bool,
}

impl Failure {
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        Failure { status, message: message.into(), printed: false }
    }

    /// The failure has been reported in full already.
    pub fn printed(status: ExitStatus) -> Self {
        Failure { status, message: String::new(), printed: true }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit status an error should produce: a [`Failure`] anywhere in the
/// chain decides it, anything else is a plain error.
pub fn status_of(err: &anyhow::Error) -> ExitStatus {
    err.chain().find_map(|e| e.downcast_ref::<Failure>()).map(|f| f.status).unwrap_or(ExitStatus::Error)
}
