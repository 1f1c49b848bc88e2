//! Taking, keeping and giving back a lock over any [`LockBackend`] (SPEC §9).
//!
//! **Taking.** [`acquire`] writes the lock if its key is free. A held lock is
//! taken over only after this process has seen the same record version
//! (`lockId` + `rvn`) unchanged for a full lease on its own monotonic clock,
//! counted from its first read, and then with a write conditioned on that
//! version (as amazon-dynamodb-lock-client does): no decision compares two
//! machines' clocks. Without `--lock-timeout` a lock that looks alive fails
//! at once; one that looks expired (its `expiresAt` passed on our clock, a
//! hint only) is watched for one lease. With `--lock-timeout` the run polls
//! (1 s doubling to 16 s, never more than a quarter lease apart, so a dead
//! holder is taken over within one lease plus one heartbeat).
//!
//! **Granularity.** Stack and service locks exclude each other whatever the
//! checkout says: after writing its own lock, a stack lock Queries the
//! stack's service locks and a service lock reads the stack lock; whoever
//! sees the other backs off (releasing what it wrote). A lock of the other
//! granularity that stays unchanged for a lease is cleared conditionally.
//!
//! **Keeping.** The holder's lease deadline lives on its monotonic clock:
//! the send time of the last confirmed heartbeat + lease − margin (a quarter
//! lease). The heartbeat renews every quarter lease, each call bounded by the
//! time left. Past the deadline, or on a rejected heartbeat, the guard's
//! [`LockWatch`] flips to [`LockHealth::Lost`] whether or not the backend
//! ever answers: start nothing new, write nothing, interrupt Pulumi.
//!
//! **Every call is bounded**, including release: a hung network delays the
//! end of a run by at most one call timeout, never forever.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::record::{expiry, now_f64, LockRecord, Owner};
use super::{AcquireOutcome, LockBackend, LockError, LockHealth, LockWatch};
use crate::scope::{Name, StackScope};
use crate::state::types::LockTakeover;

/// The lease used when none is configured (SPEC §9).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(16);

/// The longest one lock call may take: a quarter lease, between 0.25 s and 10 s.
pub fn call_timeout(lease: Duration) -> Duration {
    (lease / 4).clamp(Duration::from_millis(250), Duration::from_secs(10))
}

/// How long before the end of its lease a holder stops counting on it.
pub fn margin(lease: Duration) -> Duration {
    lease / 4
}

/// What a lock covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granularity {
    Stack,
    Service(Name),
}

#[derive(Debug, Clone)]
pub struct LockRequest {
    pub scope: StackScope,
    pub granularity: Granularity,
    pub owner: Owner,
}

impl LockRequest {
    pub fn key(&self) -> String {
        match &self.granularity {
            Granularity::Stack => self.scope.lock_key(),
            Granularity::Service(service) => self.scope.service_lock_key(service),
        }
    }
}

/// Why [`acquire`] is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The holder looks alive; waiting because of `--lock-timeout`.
    Held,
    /// The holder looks expired: watching its version for one lease before
    /// taking over (`remaining` of the watch left).
    LooksExpired { remaining: Duration },
}

/// Called with the holder each time [`acquire`] decides to wait.
pub type OnWait = Arc<dyn Fn(&LockRecord, Duration, WaitReason) + Send + Sync>;

#[derive(Clone)]
pub struct AcquireOptions {
    pub lease: Duration,
    /// How long to wait for a held lock (`--lock-timeout`); zero fails at
    /// once on a lock that looks alive.
    pub timeout: Duration,
    pub on_wait: Option<OnWait>,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        AcquireOptions { lease: DEFAULT_LEASE, timeout: Duration::ZERO, on_wait: None }
    }
}

/// Runs one lock call with a deadline.
async fn bounded<T>(
    operation: &str,
    place: &str,
    limit: Duration,
    call: impl Future<Output = Result<T, LockError>>,
) -> Result<T, LockError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(LockError::Timeout {
            operation: operation.to_string(),
            place: place.to_string(),
            seconds: limit.as_secs_f64().ceil() as u64,
        }),
    }
}

/// Versions seen per key, each with the instant it was first seen.
#[derive(Default)]
struct Watched(HashMap<String, (String, String, Instant)>);

impl Watched {
    /// Records `r`; true once the same `lockId` and `rvn` have been seen for
    /// at least a lease (the longer of ours and the holder's own).
    fn stale(&mut self, r: &LockRecord, lease: Duration) -> bool {
        let now = Instant::now();
        let entry = self.0.entry(r.lock_key.clone()).or_insert_with(|| (r.lock_id.clone(), r.rvn.clone(), now));
        if entry.0 != r.lock_id || entry.1 != r.rvn {
            *entry = (r.lock_id.clone(), r.rvn.clone(), now);
            return false;
        }
        now.duration_since(entry.2) >= lease.max(r.lease())
    }

    /// How long until `r` would count as stale if it stays unchanged.
    fn remaining(&self, r: &LockRecord, lease: Duration) -> Duration {
        match self.0.get(&r.lock_key) {
            Some((_, _, first)) => lease.max(r.lease()).saturating_sub(first.elapsed()),
            None => lease.max(r.lease()),
        }
    }
}

/// Takes the lock for `request`, waiting up to `options.timeout` (longer
/// only to finish watching a lock that looks expired).
pub async fn acquire(
    backend: Arc<dyn LockBackend>,
    request: &LockRequest,
    options: &AcquireOptions,
) -> Result<LockGuard, LockError> {
    let key = request.key();
    let place = backend.describe();
    let limit = call_timeout(options.lease);
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut watched = Watched::default();
    let mut stale: Option<LockRecord> = None;
    // Without --lock-timeout, a lock that looked expired at first sight is
    // watched for one lease from then, not longer: a holder that keeps
    // heartbeating (whatever our clocks say) makes us give up.
    let mut expired_window: Option<Duration> = None;
    loop {
        let now_f = now_f64();
        let now = now_f.floor() as i64;
        let mut record = LockRecord::new(key.clone(), &request.owner, options.lease, now_f);
        if let Some(old) = &stale {
            record.takeover_of = Some(old.lock_id.clone());
            record.takeover_from = Some(old.locked_by.clone());
        }
        let sent = Instant::now();
        let outcome = bounded("PutItem", &place, limit, backend.try_acquire(&record, stale.as_ref())).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                // The write may have applied without an answer: take back what may be ours.
                release_quietly(backend.as_ref(), &key, &record.lock_id, limit).await;
                return Err(e);
            }
        };
        let (holder, same_key) = match outcome {
            AcquireOutcome::Acquired { replaced } => {
                match bounded("Query", &place, limit, blocking_lock(backend.as_ref(), request)).await {
                    Ok(None) => return Ok(LockGuard::start(backend, record, replaced, options.lease, sent)),
                    Ok(Some(blocker)) => {
                        release_quietly(backend.as_ref(), &key, &record.lock_id, limit).await;
                        (blocker, false)
                    }
                    Err(e) => {
                        release_quietly(backend.as_ref(), &key, &record.lock_id, limit).await;
                        return Err(e);
                    }
                }
            }
            AcquireOutcome::Held(holder) => (holder, true),
        };
        stale = None;
        if watched.stale(&holder, options.lease) {
            tracing::warn!(lock = %holder.lock_key, holder = %holder.locked_by, "the lock did not change for a full lease: taking it over");
            if same_key {
                stale = Some(holder);
            } else {
                match bounded("DeleteItem", &place, limit, backend.clear_stale(&holder)).await {
                    Ok(()) | Err(LockError::NotHeld { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            continue;
        }
        let waited = started.elapsed();
        let looks_expired = holder.is_expired(now);
        let watch_left = watched.remaining(&holder, options.lease);
        if looks_expired && expired_window.is_none() {
            // Watch it for one lease (plus a poll) before deciding it is dead.
            expired_window = Some(waited + watch_left + Duration::from_millis(100));
        }
        let give_up_at = options.timeout.max(expired_window.unwrap_or_default());
        if waited >= give_up_at {
            let waited = (!options.timeout.is_zero() || expired_window.is_some()).then_some(waited);
            return Err(LockError::held(holder, now, waited));
        }
        if let Some(on_wait) = &options.on_wait {
            let reason =
                if looks_expired { WaitReason::LooksExpired { remaining: watch_left } } else { WaitReason::Held };
            on_wait(&holder, waited, reason);
        }
        let jitter = Duration::from_millis(u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 100);
        let pause =
            backoff.min(options.lease / 4).min(give_up_at - waited).min(watch_left.max(Duration::from_millis(50)));
        tokio::time::sleep(pause + jitter).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Deletes our lock if it is there, within `limit`; errors are only logged
/// (the lock then expires after its lease).
async fn release_quietly(backend: &dyn LockBackend, key: &str, lock_id: &str, limit: Duration) {
    match tokio::time::timeout(limit, backend.release(key, lock_id)).await {
        Ok(Ok(())) | Ok(Err(LockError::NotHeld { .. })) => {}
        Ok(Err(e)) => {
            tracing::warn!(lock = %key, error = %e, "could not remove a lock written by a failed acquisition")
        }
        Err(_) => tracing::warn!(lock = %key, "removing a lock written by a failed acquisition timed out"),
    }
}

/// A lock of the other granularity on the same stack, if any: whatever
/// `lockGranularity` says, since two checkouts may disagree.
async fn blocking_lock(backend: &dyn LockBackend, request: &LockRequest) -> Result<Option<LockRecord>, LockError> {
    match &request.granularity {
        Granularity::Stack => {
            let prefix = format!("{}:service:", request.scope.lock_key());
            Ok(backend.list(&prefix).await?.into_iter().next())
        }
        Granularity::Service(_) => backend.get(&request.scope.lock_key()).await,
    }
}

/// A held lock. Call [`LockGuard::release`]; dropping it only stops the
/// heartbeat, and the lock then goes stale after its lease.
pub struct LockGuard {
    backend: Arc<dyn LockBackend>,
    record: LockRecord,
    lease: Duration,
    takeover: Option<LockTakeover>,
    health: LockWatch,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LockGuard {
    fn start(
        backend: Arc<dyn LockBackend>,
        record: LockRecord,
        replaced: Option<LockRecord>,
        lease: Duration,
        confirmed: Instant,
    ) -> LockGuard {
        let takeover = replaced.map(|old| LockTakeover {
            previous_lock_id: old.lock_id,
            previous_holder: old.locked_by,
            taken_at: Utc::now(),
        });
        let deadline = confirmed + lease - margin(lease);
        let (tx, rx) = watch::channel(LockHealth::Held { deadline });
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(heartbeat_loop(
            backend.clone(),
            record.lock_key.clone(),
            record.lock_id.clone(),
            record.rvn.clone(),
            lease,
            deadline,
            tx,
            stop_rx,
        ));
        LockGuard { backend, record, lease, takeover, health: rx, stop: Some(stop_tx), task: Some(task) }
    }

    /// The record as written when the lock was taken.
    pub fn record(&self) -> &LockRecord {
        &self.record
    }

    pub fn lock_id(&self) -> &str {
        &self.record.lock_id
    }

    pub fn key(&self) -> &str {
        &self.record.lock_key
    }

    /// Set when this lock replaced a stale one; goes into the state's
    /// `metadata.lock_takeover`.
    pub fn takeover(&self) -> Option<&LockTakeover> {
        self.takeover.as_ref()
    }

    /// A receiver of the lock's health, for the deploy engine and the state session.
    pub fn watch(&self) -> LockWatch {
        self.health.clone()
    }

    pub fn is_lost(&self) -> bool {
        !is_held(&self.health)
    }

    /// Stops the heartbeat, then deletes the lock if it is still ours; the
    /// delete is bounded by a call timeout (the lock then goes stale).
    pub async fn release(mut self) -> Result<(), LockError> {
        self.stop_heartbeat().await;
        if let LockHealth::Lost { reason } = &*self.health.borrow() {
            return Err(LockError::Lost { key: self.record.lock_key.clone(), reason: reason.clone() });
        }
        let limit = call_timeout(self.lease);
        bounded(
            "DeleteItem",
            &self.backend.describe(),
            limit,
            self.backend.release(&self.record.lock_key, &self.record.lock_id),
        )
        .await
    }

    async fn stop_heartbeat(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // A heartbeat in flight is bounded, but need not be waited for.
            task.abort();
            let _ = task.await;
        }
    }

    pub fn locked_at(&self) -> Option<DateTime<Utc>> {
        self.record.locked_at_time()
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Whether `watch` says the lock is held now: not lost, and its deadline
/// not passed (checked on the clock, so a stalled heartbeat task cannot
/// leave it looking held).
pub fn is_held(watch: &LockWatch) -> bool {
    match &*watch.borrow() {
        LockHealth::Held { deadline } => Instant::now() < *deadline,
        LockHealth::Lost { .. } => false,
    }
}

/// The time left before the lock's deadline; zero once lost.
pub fn time_left(watch: &LockWatch) -> Duration {
    match &*watch.borrow() {
        LockHealth::Held { deadline } => deadline.saturating_duration_since(Instant::now()),
        LockHealth::Lost { .. } => Duration::ZERO,
    }
}

#[allow(clippy::too_many_arguments)]
async fn heartbeat_loop(
    backend: Arc<dyn LockBackend>,
    key: String,
    lock_id: String,
    mut rvn: String,
    lease: Duration,
    mut deadline: Instant,
    health: watch::Sender<LockHealth>,
    mut stop: oneshot::Receiver<()>,
) {
    let interval = lease / 4;
    let mut wait = interval;
    // The rvns of heartbeats whose answer never arrived: one may have applied.
    let mut unconfirmed: Vec<String> = Vec::new();
    let lose = |reason: String| {
        tracing::warn!(lock = %key, %reason, "lock lost");
        let _ = health.send(LockHealth::Lost { reason });
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep_until(deadline.into()) => {
                lose(format!("no heartbeat was confirmed within its lease ({}s) less the safety margin", lease.as_secs()));
                return;
            }
            _ = tokio::time::sleep(wait) => {}
        }
        let new_rvn = uuid::Uuid::new_v4().to_string();
        let now_f = now_f64();
        let sent = Instant::now();
        let left = deadline.saturating_duration_since(sent);
        let call = backend.heartbeat(&key, &lock_id, &rvn, &new_rvn, now_f.floor() as i64, expiry(now_f, lease));
        let result = tokio::select! {
            _ = &mut stop => return,
            r = tokio::time::timeout(left, call) => r,
        };
        match result {
            Ok(Ok(())) => {
                rvn = new_rvn;
                unconfirmed.clear();
                deadline = sent + lease - margin(lease);
                // Quietly: the deploy engine only needs waking on a loss.
                health.send_if_modified(|h| {
                    *h = LockHealth::Held { deadline };
                    false
                });
                wait = interval;
            }
            Ok(Err(LockError::NotHeld { current, .. })) => {
                // A heartbeat whose answer was lost may have applied: adopt it.
                if !unconfirmed.is_empty() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Ok(Ok(Some(r))) = tokio::time::timeout(left, backend.get(&key)).await {
                        if r.lock_id == lock_id && unconfirmed.contains(&r.rvn) {
                            rvn = r.rvn;
                            unconfirmed.clear();
                            wait = Duration::ZERO;
                            continue;
                        }
                    }
                }
                lose(format!("a heartbeat was rejected{current}"));
                return;
            }
            Ok(Err(err)) => {
                unconfirmed.push(new_rvn);
                tracing::warn!(lock = %key, error = %err, "heartbeat failed, retrying");
                wait = (interval / 4).max(Duration::from_millis(100));
            }
            Err(_) => {
                unconfirmed.push(new_rvn);
                tracing::warn!(lock = %key, "heartbeat did not answer in time");
                wait = Duration::ZERO;
            }
        }
    }
}
