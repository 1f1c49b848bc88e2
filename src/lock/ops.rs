//! What `panka locks` and `panka unlock` do, as library functions: the CLI
//! only parses, confirms and prints.
//!
//! Invariant: both are confined to the tenant's lock keys (`tenant:<t>:`),
//! and unlock deletes only the exact lock id it was given.

use std::fmt;

use serde::Serialize;

use super::record::{human, LockRecord};
use super::{LockBackend, LockError};
use crate::scope::TenantScope;

/// How alive a listed lock looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Liveness {
    /// Heartbeating normally.
    Live,
    /// Its last heartbeat is older than half its lease: the holder may be stuck.
    Late,
    /// The lease ran out by this machine's clock: a run that watches its
    /// version stay unchanged for a lease takes it over.
    Expired,
}

impl fmt::Display for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Liveness::Live => "live",
            Liveness::Late => "late",
            Liveness::Expired => "expired",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LockEntry {
    #[serde(flatten)]
    pub record: LockRecord,
    pub age_seconds: u64,
    pub since_heartbeat_seconds: u64,
    pub liveness: Liveness,
}

impl LockEntry {
    pub fn new(record: LockRecord, now: i64) -> LockEntry {
        let lease = (record.expires_at - record.last_heartbeat).max(1);
        let since = now - record.last_heartbeat;
        let liveness = if record.is_expired(now) {
            Liveness::Expired
        } else if since * 2 > lease {
            Liveness::Late
        } else {
            Liveness::Live
        };
        LockEntry {
            age_seconds: record.age(now).as_secs(),
            since_heartbeat_seconds: record.since_heartbeat(now).as_secs(),
            liveness,
            record,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LockListing {
    pub tenant: String,
    pub locks: Vec<LockEntry>,
}

impl fmt::Display for LockListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.locks.is_empty() {
            if self.tenant == "*" {
                return writeln!(f, "no locks held");
            }
            return writeln!(f, "no locks held for tenant `{}`", self.tenant);
        }
        writeln!(
            f,
            "{:<48} {:<36} {:<24} {:<10} {:>8} {:>10} {:<8}",
            "LOCK", "ID", "HOLDER", "OPERATION", "AGE", "HEARTBEAT", "STATUS"
        )?;
        for e in &self.locks {
            writeln!(
                f,
                "{:<48} {:<36} {:<24} {:<10} {:>8} {:>10} {:<8}",
                e.record.lock_key,
                e.record.lock_id,
                e.record.locked_by,
                e.record.operation,
                human(std::time::Duration::from_secs(e.age_seconds)),
                format!("{} ago", human(std::time::Duration::from_secs(e.since_heartbeat_seconds))),
                e.liveness
            )?;
        }
        Ok(())
    }
}

/// Every lock of the tenant (a Query on its partition), or with
/// `all_tenants` every lock in the table (admin mode), with age and liveness.
pub async fn list_locks(
    backend: &dyn LockBackend,
    tenant: &TenantScope,
    all_tenants: bool,
) -> Result<LockListing, LockError> {
    let now = chrono::Utc::now().timestamp();
    let records = if all_tenants { backend.list_all().await? } else { backend.list(&tenant.lock_key_prefix()).await? };
    Ok(LockListing {
        tenant: if all_tenants { "*".to_string() } else { tenant.tenant.to_string() },
        locks: records.into_iter().map(|r| LockEntry::new(r, now)).collect(),
    })
}

/// The tenant's lock with exactly this id (no prefixes, no guessing).
pub async fn find_lock(
    backend: &dyn LockBackend,
    tenant: &TenantScope,
    lock_id: &str,
) -> Result<LockRecord, LockError> {
    backend
        .list(&tenant.lock_key_prefix())
        .await?
        .into_iter()
        .find(|r| r.lock_id == lock_id)
        .ok_or_else(|| LockError::NoSuchLock { lock_id: lock_id.escape_debug().to_string() })
}

/// Removes `record`'s lock if it still has the same id.
pub async fn unlock(backend: &dyn LockBackend, record: &LockRecord) -> Result<(), LockError> {
    backend.release(&record.lock_key, &record.lock_id).await
}
