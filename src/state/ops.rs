//! What `panka state show|list|history|pull|push` do, as library functions.
//! Results implement `Display` (text output) and `Serialize` (`--output json`).
//!
//! Invariants: everything stays under the tenant's prefix; `push` writes only
//! while its lock is held, with compare-and-swap against the version it just
//! read, and refuses an older serial or another lineage unless forced.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::StateError;
use super::session::{parse_state, read_state, serialize};
use super::store::{Precondition, StateStore, StoreError, Version};
use super::types::State;
use crate::lock::LockWatch;
use crate::scope::{parse_history_name, StackScope, TenantScope};

/// `panka state show`: the current state.
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    pub location: String,
    pub state: State,
}

impl fmt::Display for StateView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.state;
        let m = &s.metadata;
        writeln!(f, "state     {}", self.location)?;
        writeln!(f, "stack     {} / {} (tenant {})", m.stack, m.environment, m.tenant)?;
        writeln!(f, "serial    {}  lineage {}", s.serial, s.lineage)?;
        if let Some(at) = m.last_updated {
            writeln!(f, "updated   {} by {}", at.to_rfc3339(), m.last_updated_by.as_deref().unwrap_or("unknown"))?;
        }
        if let Some(t) = &m.lock_takeover {
            writeln!(
                f,
                "takeover  lock {} of {} taken over at {}",
                t.previous_lock_id,
                t.previous_holder,
                t.taken_at.to_rfc3339()
            )?;
        }
        if s.components.is_empty() {
            writeln!(f, "no components")?;
        } else {
            writeln!(f, "{:<40} {:<14} {:<12} UPDATED", "COMPONENT", "KIND", "STATUS")?;
            for (name, c) in &s.components {
                writeln!(f, "{:<40} {:<14} {:<12} {}", name, c.kind, c.status.to_string(), c.updated_at.to_rfc3339())?;
            }
        }
        Ok(())
    }
}

pub async fn show(store: &dyn StateStore, scope: &StackScope) -> Result<Option<StateView>, StateError> {
    Ok(read_state(store, scope)
        .await?
        .map(|(state, _)| StateView { location: store.describe(&scope.state_key()), state }))
}

/// `panka state list`: every stack and environment of the tenant with a state.
#[derive(Debug, Clone, Serialize)]
pub struct StateList {
    pub tenant: String,
    pub states: Vec<StateListEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StateListEntry {
    pub stack: String,
    pub environment: String,
    pub location: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

impl fmt::Display for StateList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.states.is_empty() {
            return writeln!(f, "no states for tenant `{}`", self.tenant);
        }
        writeln!(f, "{:<24} {:<16} {:<26} LOCATION", "STACK", "ENVIRONMENT", "MODIFIED")?;
        for s in &self.states {
            writeln!(
                f,
                "{:<24} {:<16} {:<26} {}",
                s.stack,
                s.environment,
                s.last_modified.map(|t| t.to_rfc3339()).unwrap_or_default(),
                s.location
            )?;
        }
        Ok(())
    }
}

pub async fn list(store: &dyn StateStore, tenant: &TenantScope) -> Result<StateList, StateError> {
    let root = tenant.stacks_root();
    let listed = store
        .list(&root)
        .await
        .map_err(|source| StateError::Read { location: store.describe(&root), source: Box::new(source) })?;
    let states = listed
        .into_iter()
        .filter_map(|l| {
            let rest = l.key.strip_prefix(&root)?;
            let mut parts = rest.split('/');
            let (stack, env, file) = (parts.next()?, parts.next()?, parts.next()?);
            (file == "state.json" && parts.next().is_none()).then(|| StateListEntry {
                stack: stack.to_string(),
                environment: env.to_string(),
                location: store.describe(&l.key),
                size: l.size,
                last_modified: l.last_modified,
            })
        })
        .collect();
    Ok(StateList { tenant: tenant.tenant.to_string(), states })
}

/// `panka state history`: the history copies, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub serial: u64,
    pub deployment_id: String,
    pub key: String,
    pub last_modified: Option<DateTime<Utc>>,
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return writeln!(f, "no history");
        }
        writeln!(f, "{:>8} {:<38} WRITTEN", "SERIAL", "DEPLOYMENT")?;
        for e in &self.entries {
            writeln!(
                f,
                "{:>8} {:<38} {}",
                e.serial,
                e.deployment_id,
                e.last_modified.map(|t| t.to_rfc3339()).unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

pub async fn history(store: &dyn StateStore, scope: &StackScope) -> Result<History, StateError> {
    let dir = scope.history_dir();
    let listed = store
        .list(&dir)
        .await
        .map_err(|source| StateError::Read { location: store.describe(&dir), source: Box::new(source) })?;
    let mut entries: Vec<HistoryEntry> = listed
        .into_iter()
        .filter_map(|l| {
            let name = l.key.strip_prefix(&dir)?;
            let (serial, deployment_id) = parse_history_name(name)?;
            Some(HistoryEntry { serial, deployment_id, key: l.key, last_modified: l.last_modified })
        })
        .collect();
    entries.sort_by_key(|e| e.serial);
    Ok(History { entries })
}

/// `panka state pull [--serial N]`: the bytes of the current state or of a
/// history copy, exactly as stored.
pub async fn pull(
    store: &dyn StateStore,
    scope: &StackScope,
    serial: Option<u64>,
) -> Result<Option<Vec<u8>>, StateError> {
    let key = match serial {
        None => scope.state_key(),
        Some(n) => match history(store, scope).await?.entries.into_iter().find(|e| e.serial == n) {
            Some(e) => e.key,
            None => return Ok(None),
        },
    };
    let object = store
        .get(&key)
        .await
        .map_err(|source| StateError::Read { location: store.describe(&key), source: Box::new(source) })?;
    Ok(object.map(|o| o.body))
}

/// What `panka state push` did.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    pub location: String,
    pub serial: u64,
    pub previous_serial: Option<u64>,
    pub forced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_warning: Option<String>,
}

impl fmt::Display for Pushed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.previous_serial {
            Some(p) => writeln!(f, "pushed serial {} over serial {} to {}", self.serial, p, self.location)?,
            None => writeln!(f, "pushed serial {} to {} (no state before)", self.serial, self.location)?,
        }
        if let Some(w) = &self.history_warning {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// Writes the state in `body` (a file saved by a failed write, or edited by
/// hand) as the stack's state. Call it holding the stack lock.
pub async fn push(
    store: &dyn StateStore,
    scope: &StackScope,
    body: &[u8],
    source_name: &str,
    force: bool,
    lock: Option<&LockWatch>,
) -> Result<Pushed, StateError> {
    let mut state = parse_state(body, source_name)?;
    let m = &state.metadata;
    if !force
        && (m.stack != scope.stack.as_str()
            || m.environment != scope.environment.as_str()
            || m.tenant != scope.tenant.tenant.as_str())
    {
        return Err(StateError::PushRefused {
            reason: format!(
                "`{source_name}` is the state of tenant `{}`, stack `{}`, environment `{}`, not of `{}`",
                m.tenant,
                m.stack,
                m.environment,
                scope.display()
            ),
            hint: "pass the matching --stack/-e/--tenant, or --force to push it here anyway".to_string(),
        });
    }
    let remote = read_state(store, scope).await?;
    let previous_serial = remote.as_ref().map(|(r, _)| r.serial);
    let condition = match &remote {
        None => Precondition::IfAbsent,
        Some((current, version)) => {
            if current.lineage != state.lineage && !force {
                return Err(StateError::PushRefused {
                    reason: format!(
                        "`{source_name}` has lineage {}, the stored state has lineage {}",
                        state.lineage, current.lineage
                    ),
                    hint: "it belongs to another history of this stack; pass --force to replace the stored state"
                        .to_string(),
                });
            }
            if state.serial <= current.serial && !force {
                return Err(StateError::PushRefused {
                    reason: format!(
                        "`{source_name}` has serial {}, the stored state is already at serial {}",
                        state.serial, current.serial
                    ),
                    hint: "the stored state is newer or the same; compare them with `panka state pull`, and pass --force only if the file must win".to_string(),
                });
            }
            state.serial = state.serial.max(current.serial + 1);
            Precondition::IfMatch(version.clone())
        }
    };
    state.metadata.stack = scope.stack.to_string();
    state.metadata.environment = scope.environment.to_string();
    state.metadata.tenant = scope.tenant.tenant.to_string();
    if let Some(lock) = lock {
        if !crate::lock::is_held(lock) {
            return Err(StateError::LockLost { rescue_note: String::new() });
        }
    }
    let key = scope.state_key();
    let location = store.describe(&key);
    let bytes = serialize(&state);
    match store.put(&key, bytes.clone(), condition).await {
        Ok(_) => {}
        Err(StoreError::PreconditionFailed { .. }) | Err(StoreError::ConcurrentWrite { .. }) => {
            return Err(StateError::Conflict {
                location,
                expected: previous_serial.map_or("none".to_string(), |s| s.to_string()),
                found: "a newer write".to_string(),
                rescue_note: String::new(),
            })
        }
        Err(source) => return Err(StateError::Write { location, source: Box::new(source) }),
    }
    let deployment = state.metadata.deployment_id.as_deref().unwrap_or("push");
    let history_key = scope.history_key(state.serial, deployment);
    let history_warning = store
        .put(&history_key, bytes, Precondition::None)
        .await
        .err()
        .map(|e| format!("history copy `{}` not written: {e}", store.describe(&history_key)));
    Ok(Pushed { location, serial: state.serial, previous_serial, forced: force, history_warning })
}

/// The version of the stored state, for callers that need to compare (plan files).
pub async fn current_version(store: &dyn StateStore, scope: &StackScope) -> Result<Option<(u64, Version)>, StateError> {
    Ok(read_state(store, scope).await?.map(|(s, v)| (s.serial, v)))
}
