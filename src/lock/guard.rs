//! Taking, keeping and giving back a lock over any [`LockBackend`].
//!
//! [`acquire`] tries once, then (with `--lock-timeout`) again after 1 s,
//! 2 s, 4 s … up to 16 s between tries. Stack and service granularity
//! exclude each other: after writing its own lock, a service lock checks the
//! stack lock, and in a stack with service granularity a stack lock checks
//! that no live service lock exists; whoever sees the other backs off, so
//! both can never proceed. A stack locked per stack costs exactly one
//! conditional write to acquire and one to release.
//!
//! A [`LockGuard`] runs the heartbeat task: every lease/4 it renews the lease
//! conditioned on `lockId` and `rvn`. A rejected heartbeat flips the guard's
//! [`LockWatch`] to [`LockHealth::Lost`] at once, so the loss is seen within
//! lease/4 of the lock being taken. Network errors are retried quickly, and
//! the lock counts as lost when no heartbeat succeeded for 3/4 of a lease
//! (before anyone else could take it over).

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
    /// The stack uses service granularity (`lockGranularity: service`), so
    /// service locks may exist: a stack lock must then check that none is
    /// live (one extra `Scan`). Stacks locked per stack skip that check.
    pub services_may_lock: bool,
}

impl LockRequest {
    pub fn key(&self) -> String {
        match &self.granularity {
            Granularity::Stack => self.scope.lock_key(),
            Granularity::Service(service) => self.scope.service_lock_key(service),
        }
    }
}

/// Called with the holder each time [`acquire`] decides to wait.
pub type OnWait = Arc<dyn Fn(&LockRecord, Duration) + Send + Sync>;

#[derive(Clone)]
pub struct AcquireOptions {
    pub lease: Duration,
    /// How long to wait for a held lock (`--lock-timeout`); zero fails at once.
    pub timeout: Duration,
    pub on_wait: Option<OnWait>,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        AcquireOptions {
            lease: DEFAULT_LEASE,
            timeout: Duration::ZERO,
            on_wait: None,
        }
    }
}

/// Takes the lock for `request`, waiting up to `options.timeout`.
pub async fn acquire(
    backend: Arc<dyn LockBackend>,
    request: &LockRequest,
    options: &AcquireOptions,
) -> Result<LockGuard, LockError> {
    let key = request.key();
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let now_f = now_f64();
        let now = now_f.floor() as i64;
        let record = LockRecord::new(key.clone(), &request.owner, options.lease, now_f);
        let holder = match backend.try_acquire(&record, now).await? {
            AcquireOutcome::Acquired { replaced } => {
                match blocking_lock(backend.as_ref(), request, now).await? {
                    None => return Ok(LockGuard::start(backend, record, replaced, options.lease)),
                    Some(blocker) => {
                        match backend.release(&key, &record.lock_id).await {
                            Ok(()) | Err(LockError::NotHeld { .. }) => {}
                            Err(e) => return Err(e),
                        }
                        blocker
                    }
                }
            }
            AcquireOutcome::Held(holder) => holder,
        };
        let waited = started.elapsed();
        if waited >= options.timeout {
            let waited = (!options.timeout.is_zero()).then_some(waited);
            return Err(LockError::held(holder, now, waited));
        }
        if let Some(on_wait) = &options.on_wait {
            on_wait(&holder, waited);
        }
        tokio::time::sleep(backoff.min(options.timeout - waited)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A live lock of the other granularity on the same stack, if any.
async fn blocking_lock(
    backend: &dyn LockBackend,
    request: &LockRequest,
    now: i64,
) -> Result<Option<LockRecord>, LockError> {
    match &request.granularity {
        Granularity::Stack if !request.services_may_lock => Ok(None),
        Granularity::Stack => {
            let prefix = format!("{}:service:", request.scope.lock_key());
            let live = backend.list(&prefix).await?;
            Ok(live.into_iter().find(|r| !r.is_expired(now)))
        }
        Granularity::Service(_) => Ok(backend
            .get(&request.scope.lock_key())
            .await?
            .filter(|r| !r.is_expired(now))),
    }
}

/// A held lock. Call [`LockGuard::release`]; dropping it only stops the
/// heartbeat, and the lock then expires after its lease.
pub struct LockGuard {
    backend: Arc<dyn LockBackend>,
    record: LockRecord,
    takeover: Option<LockTakeover>,
    health: LockWatch,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LockGuard {
    fn start(
        backend: Arc<dyn LockBackend>,
        mut record: LockRecord,
        replaced: Option<LockRecord>,
        lease: Duration,
    ) -> LockGuard {
        let takeover = replaced.map(|old| {
            record.takeover_of = Some(old.lock_id.clone());
            record.takeover_from = Some(old.locked_by.clone());
            LockTakeover {
                previous_lock_id: old.lock_id,
                previous_holder: old.locked_by,
                taken_at: Utc::now(),
            }
        });
        let (tx, rx) = watch::channel(LockHealth::Held);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(heartbeat_loop(
            backend.clone(),
            record.lock_key.clone(),
            record.lock_id.clone(),
            record.rvn.clone(),
            lease,
            tx,
            stop_rx,
        ));
        LockGuard {
            backend,
            record,
            takeover,
            health: rx,
            stop: Some(stop_tx),
            task: Some(task),
        }
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

    /// Set when this lock replaced an expired one; goes into the state's
    /// `metadata.lock_takeover`.
    pub fn takeover(&self) -> Option<&LockTakeover> {
        self.takeover.as_ref()
    }

    /// A receiver of the lock's health, for the deploy engine and the state session.
    pub fn watch(&self) -> LockWatch {
        self.health.clone()
    }

    pub fn is_lost(&self) -> bool {
        matches!(*self.health.borrow(), LockHealth::Lost { .. })
    }

    /// Stops the heartbeat, then deletes the lock if it is still ours.
    pub async fn release(mut self) -> Result<(), LockError> {
        self.stop_heartbeat().await;
        if let LockHealth::Lost { reason } = &*self.health.borrow() {
            return Err(LockError::Lost {
                key: self.record.lock_key.clone(),
                reason: reason.clone(),
            });
        }
        self.backend
            .release(&self.record.lock_key, &self.record.lock_id)
            .await
    }

    async fn stop_heartbeat(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
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

async fn heartbeat_loop(
    backend: Arc<dyn LockBackend>,
    key: String,
    lock_id: String,
    mut rvn: String,
    lease: Duration,
    health: watch::Sender<LockHealth>,
    mut stop: oneshot::Receiver<()>,
) {
    let interval = lease / 4;
    let give_up_after = lease - interval;
    let mut last_ok = Instant::now();
    let mut wait = interval;
    // The rvns of heartbeats whose answer never arrived: one may have applied.
    let mut unconfirmed: Vec<String> = Vec::new();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let new_rvn = uuid::Uuid::new_v4().to_string();
        let now_f = now_f64();
        let result = backend
            .heartbeat(
                &key,
                &lock_id,
                &rvn,
                &new_rvn,
                now_f.floor() as i64,
                expiry(now_f, lease),
            )
            .await;
        match result {
            Ok(()) => {
                rvn = new_rvn;
                unconfirmed.clear();
                last_ok = Instant::now();
                wait = interval;
            }
            Err(LockError::NotHeld { current, .. }) => {
                // A heartbeat that timed out may have been applied: adopt it.
                if !unconfirmed.is_empty() {
                    if let Ok(Some(r)) = backend.get(&key).await {
                        if r.lock_id == lock_id && unconfirmed.contains(&r.rvn) {
                            rvn = r.rvn;
                            unconfirmed.clear();
                            wait = Duration::ZERO;
                            continue;
                        }
                    }
                }
                tracing::warn!(lock = %key, "heartbeat rejected, lock lost");
                let _ = health.send(LockHealth::Lost {
                    reason: format!("a heartbeat was rejected{current}"),
                });
                return;
            }
            Err(err) => {
                unconfirmed.push(new_rvn);
                if last_ok.elapsed() >= give_up_after {
                    let _ = health.send(LockHealth::Lost {
                        reason: format!(
                            "no heartbeat succeeded for {}s: {err}",
                            last_ok.elapsed().as_secs()
                        ),
                    });
                    return;
                }
                tracing::warn!(lock = %key, error = %err, "heartbeat failed, retrying");
                wait = (interval / 4).max(Duration::from_millis(100));
            }
        }
    }
}
