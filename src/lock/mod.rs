//! Deployment locks (SPEC §9): one writer per stack and environment (or per
//! service, with service granularity), safe when processes die or networks fail.
//!
//! [`LockBackend`] is the seam with two implementations: DynamoDB
//! ([`dynamodb`]) and a lock file ([`local`]). [`guard`] builds the protocol
//! on top: waiting with backoff, the heartbeat, loss detection, release.
//!
//! Invariants:
//! - acquiring is one conditional write that succeeds only when the key is
//!   free, or still holds the exact record version (`rvn`) the taker watched
//!   stay unchanged for a full lease on its own monotonic clock: no decision
//!   compares two machines' clocks (`expiresAt` is a hint for messages);
//! - a heartbeat succeeds only while `lockId` and `rvn` are still ours, and
//!   changes `rvn`; a rejected heartbeat means the lock is lost;
//! - the holder keeps its lease deadline on its monotonic clock (last
//!   confirmed heartbeat + lease − margin): past it the lock counts as lost
//!   whether or not the backend answers;
//! - release deletes only when `lockId` is ours;
//! - a conditional write that failed on an item carrying our own `lockId` was
//!   ours (its first answer was lost), and is treated as a success;
//! - the table's TTL only collects garbage a day after the last heartbeat.

pub mod dynamodb;
pub mod guard;
pub mod local;
pub mod ops;
pub mod record;

use std::time::Duration;

use crate::aws::AwsError;
use crate::exit::{ExitStatus, Failure};
use crate::state::store::BoxFuture;

pub use guard::{acquire, is_held, time_left, AcquireOptions, Granularity, LockGuard, LockRequest, WaitReason};
pub use record::{LockRecord, Owner};

/// Whether a held lock is still ours; watched by the deploy engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockHealth {
    /// Ours until `deadline` (monotonic: last confirmed heartbeat + lease −
    /// margin) unless a heartbeat moves it on. Nothing may be written after it.
    Held { deadline: std::time::Instant },
    /// A heartbeat was rejected (or could not be made within the lease):
    /// start nothing new, write nothing.
    Lost { reason: String },
}

/// A receiver that always has the lock's latest health; `changed()` wakes
/// within lease/4 of a loss.
pub type LockWatch = tokio::sync::watch::Receiver<LockHealth>;

/// The result of one conditional acquire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquireOutcome {
    /// The record was written; `replaced` is the stale lock it overwrote.
    Acquired { replaced: Option<LockRecord> },
    /// A live lock holds the key.
    Held(LockRecord),
}

pub trait LockBackend: Send + Sync {
    /// Where locks live, for messages.
    fn describe(&self) -> String;

    /// Writes `record` if its key is free or, with `stale`, still holds
    /// exactly that record (same `lockId` and `rvn`): the one the caller saw
    /// unchanged for a full lease. A condition that fails on an item with our
    /// own `lockId` means an earlier attempt of this write applied: acquired.
    fn try_acquire<'a>(
        &'a self,
        record: &'a LockRecord,
        stale: Option<&'a LockRecord>,
    ) -> BoxFuture<'a, Result<AcquireOutcome, LockError>>;

    /// Renews the lease: succeeds only if the lock still has `lock_id` and
    /// `rvn`; sets `new_rvn`, `lastHeartbeat = now`, `expiresAt`.
    fn heartbeat<'a>(
        &'a self,
        key: &'a str,
        lock_id: &'a str,
        rvn: &'a str,
        new_rvn: &'a str,
        now: i64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), LockError>>;

    /// Deletes the lock only if it is `lock_id`.
    fn release<'a>(&'a self, key: &'a str, lock_id: &'a str) -> BoxFuture<'a, Result<(), LockError>>;

    /// Deletes `stale` only if the item still has its `lockId` and `rvn` (a
    /// lock of the other granularity seen unchanged for a full lease).
    fn clear_stale<'a>(&'a self, stale: &'a LockRecord) -> BoxFuture<'a, Result<(), LockError>>;

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<LockRecord>, LockError>>;

    /// Every lock whose key starts with `prefix`, sorted by key. The prefix
    /// always names a tenant (`tenant:<t>:…`), so on DynamoDB this is a
    /// Query on the tenant's partition.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<LockRecord>, LockError>>;

    /// Every lock of every tenant (admin mode: `panka locks --all-tenants`).
    fn list_all(&self) -> BoxFuture<'_, Result<Vec<LockRecord>, LockError>>;
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("`{key}` is locked: {holder}{waited}\nhint: wait for it to finish, retry with `--lock-timeout 10m`, or if that run is surely dead, `panka unlock {lock_id}`")]
    Held {
        key: String,
        /// [`LockRecord::describe_holder`].
        holder: String,
        lock_id: String,
        /// ` (waited 10s)` or empty.
        waited: String,
        record: Box<LockRecord>,
    },
    /// The lock is not (or no longer) the one named: someone else's lock, or
    /// ours after it was taken over.
    #[error("the lock `{key}` is not held by lock id {lock_id}{current}")]
    NotHeld {
        key: String,
        lock_id: String,
        /// `: it is held by …` or `: it is free`.
        current: String,
        /// No lock is there at all.
        free: bool,
    },
    #[error("the lock `{key}` was lost: {reason}\nhint: another run may have taken it after a missed heartbeat; check `panka locks`")]
    Lost { key: String, reason: String },
    #[error("no lock with id `{lock_id}`\nhint: `panka locks` lists the current locks and their ids")]
    NoSuchLock { lock_id: String },
    #[error("the lock record `{key}` is malformed: {detail}")]
    Corrupt { key: String, detail: String },
    /// The lock table has the earlier single-key layout and no `-v2` beside it.
    #[error("the lock table `{table}` has the earlier layout (key `lockKey`) and no `{table}-v2` exists beside it\nhint: a platform admin runs `panka admin init` once: it creates `{table}-v2` (keys `pk`/`sk`) and copies the live locks into it")]
    OldLayout { table: String },
    /// A lock call did not answer in time (the network may be down).
    #[error("{operation} on the lock {place} did not answer within {seconds}s")]
    Timeout { operation: String, place: String, seconds: u64 },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{message}")]
    Io {
        message: String,
        #[source]
        source: std::io::Error,
    },
}

impl LockError {
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            LockError::Held { .. } | LockError::NotHeld { .. } | LockError::Lost { .. } => ExitStatus::Locked,
            LockError::OldLayout { .. } => ExitStatus::Invalid,
            LockError::NoSuchLock { .. }
            | LockError::Corrupt { .. }
            | LockError::Aws(_)
            | LockError::Io { .. }
            | LockError::Timeout { .. } => ExitStatus::Error,
        }
    }

    pub(crate) fn held(record: LockRecord, now: i64, waited: Option<Duration>) -> LockError {
        LockError::Held {
            key: record.lock_key.clone(),
            holder: record.describe_holder(now),
            lock_id: record.lock_id.clone(),
            waited: waited.map(|w| format!(" (waited {})", record::human(w))).unwrap_or_default(),
            record: Box::new(record),
        }
    }

    pub(crate) fn not_held(key: &str, lock_id: &str, current: Option<&LockRecord>, now: i64) -> LockError {
        LockError::NotHeld {
            key: key.to_string(),
            lock_id: lock_id.to_string(),
            current: match current {
                Some(r) => format!(": it is {}", r.describe_holder(now)),
                None => ": it is free".to_string(),
            },
            free: current.is_none(),
        }
    }
}

impl From<LockError> for Failure {
    fn from(err: LockError) -> Failure {
        Failure::new(err.exit_status(), err.to_string())
    }
}
