//! The state write protocol (SPEC §8) over any [`StateStore`]: read once
//! under the lock, then compare-and-swap every checkpoint.
//!
//! Invariants of [`StateSession::commit`]:
//! - it writes only while the lock it was given is held (a lost lock writes
//!   nothing and saves a local copy instead);
//! - `state.json` is written with `If-Match` on the version this session last
//!   read or wrote, or `If-None-Match: *` when there was none;
//! - the lineage never changes and the serial is exactly the previous + 1;
//! - a 409 `ConditionalRequestConflict` is retried after re-reading shows the
//!   object unchanged; a 412 is a conflict ([`StateError::Conflict`], exit 5)
//!   unless the session rebases (service-granularity locks, where other
//!   writers only touch other services' components);
//! - any other failure saves the state that was meant to be written to a
//!   local file and returns the exact `panka state push` command;
//! - after `state.json`, the same bytes are copied to `history/<serial>-<deployment>.json`.
//!
//! One checkpoint costs two `PutObject`s (state and history) and no reads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::error::StateError;
use super::store::{Precondition, StateStore, StoreError, Version};
use super::types::{State, FORMAT_VERSION};
use crate::lock::LockWatch;
use crate::scope::StackScope;

/// How many times a 409 or a rebase is retried before giving up.
const MAX_RETRIES: u32 = 5;

/// What to do when `state.json` changed under us (412).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Stop and report (stack-granularity locks: nobody else may write).
    Fail,
    /// Re-read and re-apply the change (service-granularity locks: others
    /// write only their own services' components).
    Rebase,
}

/// Reads a stack's state: `None` when it has never been written.
pub async fn read_state(store: &dyn StateStore, scope: &StackScope) -> Result<Option<(State, Version)>, StateError> {
    let key = scope.state_key();
    let location = store.describe(&key);
    let object = store
        .get(&key)
        .await
        .map_err(|source| StateError::Read { location: location.clone(), source: Box::new(source) })?;
    let Some(object) = object else {
        return Ok(None);
    };
    let state = parse_state(&object.body, &location)?;
    check_scope(&state, scope, &location)?;
    Ok(Some((state, object.version)))
}

/// Parses and checks a state document's format.
pub fn parse_state(body: &[u8], location: &str) -> Result<State, StateError> {
    let state: State = serde_json::from_slice(body)
        .map_err(|e| StateError::Corrupt { location: location.to_string(), detail: e.to_string() })?;
    if state.format_version != FORMAT_VERSION {
        return Err(StateError::Corrupt {
            location: location.to_string(),
            detail: format!("format_version is `{}`, this panka reads `{FORMAT_VERSION}`", state.format_version),
        });
    }
    if state.lineage.is_empty() {
        return Err(StateError::Corrupt { location: location.to_string(), detail: "lineage is empty".to_string() });
    }
    Ok(state)
}

fn check_scope(state: &State, scope: &StackScope, location: &str) -> Result<(), StateError> {
    let m = &state.metadata;
    if m.stack != scope.stack.as_str()
        || m.environment != scope.environment.as_str()
        || m.tenant != scope.tenant.tenant.as_str()
    {
        return Err(StateError::Corrupt {
            location: location.to_string(),
            detail: format!("it records tenant `{}`, stack `{}`, environment `{}`", m.tenant, m.stack, m.environment),
        });
    }
    Ok(())
}

/// Options of a session; [`SessionOptions::new`] has the defaults.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// `user@host`, recorded as `last_updated_by`.
    pub writer: String,
    /// Where a state that could not be written is saved.
    pub rescue_dir: PathBuf,
    pub on_conflict: OnConflict,
}

impl SessionOptions {
    pub fn new(writer: impl Into<String>, rescue_dir: impl Into<PathBuf>) -> Self {
        SessionOptions { writer: writer.into(), rescue_dir: rescue_dir.into(), on_conflict: OnConflict::Fail }
    }
}

/// The outcome of one successful commit.
#[derive(Debug, Clone)]
pub struct Committed {
    pub serial: u64,
    pub version: Version,
    /// Set when the history copy could not be written (the state was).
    pub history_warning: Option<String>,
    /// How many 409s were retried.
    pub retries: u32,
}

/// A stack's state, read once under the lock and then written checkpoint by
/// checkpoint.
pub struct StateSession {
    store: Arc<dyn StateStore>,
    scope: StackScope,
    state: State,
    version: Option<Version>,
    /// The lineage of the state as stored: read at open, or set by the first
    /// write (`None` while there is no stored state).
    lineage: Option<String>,
    lock: Option<LockWatch>,
    options: SessionOptions,
    /// After a write failed: the state that was not written and the local
    /// copy it was saved to. Later changes go there too, so components that
    /// finish after the failure are not lost.
    unwritten: Option<(State, PathBuf)>,
    /// History copies that failed (the state itself was written).
    warnings: Vec<String>,
}

impl StateSession {
    /// Reads the state (or starts a new one with a fresh lineage). Call it
    /// after the lock is taken and pass the lock's watch, so the version read
    /// here is the one every write is compared against.
    pub async fn open(
        store: Arc<dyn StateStore>,
        scope: StackScope,
        lock: Option<LockWatch>,
        options: SessionOptions,
    ) -> Result<StateSession, StateError> {
        let (state, version) = match read_state(store.as_ref(), &scope).await? {
            Some((state, version)) => (state, Some(version)),
            None => (State::new(scope.stack.as_str(), scope.environment.as_str(), scope.tenant.tenant.as_str()), None),
        };
        let lineage = version.as_ref().map(|_| state.lineage.clone());
        Ok(StateSession { store, scope, state, version, lineage, lock, options, unwritten: None, warnings: Vec::new() })
    }

    /// What went wrong without failing a write (history copies), once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The local copy holding what could not be written, once a write failed.
    pub fn rescue_path(&self) -> Option<&Path> {
        self.unwritten.as_ref().map(|(_, p)| p.as_path())
    }

    /// The state as last read or written.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The version `state.json` is expected to be at; `None` before the first write.
    pub fn version(&self) -> Option<&Version> {
        self.version.as_ref()
    }

    pub fn scope(&self) -> &StackScope {
        &self.scope
    }

    pub fn location(&self) -> String {
        self.store.describe(&self.scope.state_key())
    }

    /// Applies `change` to the current state and writes the result as the
    /// next serial. `change` may run more than once when the session rebases.
    ///
    /// Once a write has failed, nothing more is written: the change is
    /// applied to the saved local copy instead, and the error says where.
    pub async fn commit(&mut self, mut change: impl FnMut(&mut State)) -> Result<Committed, StateError> {
        if let Some((unwritten, path)) = &mut self.unwritten {
            change(unwritten);
            let result = replace_file(path, &serialize(unwritten));
            let rescue_note = match result {
                Ok(()) => format!("the state this run meant to write was saved to `{}`\n", path.display()),
                Err(e) => format!("updating the local copy `{}` failed: {e}\n", path.display()),
            };
            return Err(StateError::NotWritten { rescue_note });
        }
        let mut retries = 0u32;
        let mut base = self.state.clone();
        let mut expected = self.version.clone();
        loop {
            let mut next = base.clone();
            change(&mut next);
            self.stamp(&mut next, &base);
            match self.try_write(&next, &base, &expected).await {
                Ok(version) => {
                    let history_warning = self.copy_to_history(&next).await;
                    if let Some(w) = &history_warning {
                        tracing::warn!("{w}");
                        self.warnings.push(w.clone());
                    }
                    self.lineage = Some(next.lineage.clone());
                    self.state = next;
                    self.version = Some(version.clone());
                    return Ok(Committed { serial: self.state.serial, version, history_warning, retries });
                }
                Err(Attempt::Retry) if retries < MAX_RETRIES => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(50 << retries.min(4))).await;
                }
                Err(Attempt::Changed { latest })
                    if self.options.on_conflict == OnConflict::Rebase && retries < MAX_RETRIES =>
                {
                    retries += 1;
                    let (state, version) = *latest;
                    base = state;
                    expected = Some(version);
                }
                Err(Attempt::Retry) => {
                    return Err(self.fail_write(&next, StoreError::ConcurrentWrite { key: self.scope.state_key() }))
                }
                Err(Attempt::Changed { latest }) => {
                    let (found, _) = *latest;
                    let rescue_note = self.rescue_note(&next);
                    return Err(StateError::Conflict {
                        location: self.location(),
                        expected: base.serial.to_string(),
                        found: format!(
                            "{} written by {}",
                            found.serial,
                            found.metadata.last_updated_by.as_deref().unwrap_or("unknown")
                        ),
                        rescue_note,
                    });
                }
                Err(Attempt::Gone) => {
                    let rescue_note = self.rescue_note(&next);
                    return Err(StateError::Conflict {
                        location: self.location(),
                        expected: base.serial.to_string(),
                        found: "no state (it was deleted)".to_string(),
                        rescue_note,
                    });
                }
                Err(Attempt::Fatal(err)) => {
                    return Err(match *err {
                        StateError::LockLost { .. } => StateError::LockLost { rescue_note: self.rescue_note(&next) },
                        StateError::Write { source, .. } => self.fail_write(&next, *source),
                        StateError::LineageMismatch { location, expected, found } => {
                            self.rescue_note(&next);
                            StateError::LineageMismatch { location, expected, found }
                        }
                        other => other,
                    })
                }
            }
        }
    }

    /// Serial, format and metadata of the next write.
    fn stamp(&self, next: &mut State, base: &State) {
        next.format_version = FORMAT_VERSION.to_string();
        next.serial = base.serial + 1;
        next.metadata.stack = self.scope.stack.to_string();
        next.metadata.environment = self.scope.environment.to_string();
        next.metadata.tenant = self.scope.tenant.tenant.to_string();
        next.metadata.last_updated = Some(Utc::now());
        next.metadata.last_updated_by = Some(self.options.writer.clone());
        next.metadata.write_id = Some(uuid::Uuid::new_v4().to_string());
        if next.deployments.len() > super::types::MAX_DEPLOYMENTS {
            let excess = next.deployments.len() - super::types::MAX_DEPLOYMENTS;
            next.deployments.drain(..excess);
        }
    }

    async fn try_write(&self, next: &State, base: &State, expected: &Option<Version>) -> Result<Version, Attempt> {
        let mut limit = None;
        if let Some(lock) = &self.lock {
            if !crate::lock::is_held(lock) {
                return Err(Attempt::Fatal(Box::new(StateError::LockLost { rescue_note: String::new() })));
            }
            // A write must land before the lease deadline, or not at all.
            limit = Some(crate::lock::time_left(lock));
        }
        // The lineage is the stored state's, whatever the change did (or
        // where a rebase read it from).
        let stored = self.lineage.as_ref().unwrap_or(&base.lineage);
        for found in [&next.lineage, &base.lineage] {
            if found != stored {
                return Err(Attempt::Fatal(Box::new(StateError::LineageMismatch {
                    location: self.location(),
                    expected: stored.clone(),
                    found: found.clone(),
                })));
            }
        }
        let key = self.scope.state_key();
        let body = serialize(next);
        let condition = match expected {
            Some(v) => Precondition::IfMatch(v.clone()),
            None => Precondition::IfAbsent,
        };
        let put = self.store.put(&key, body, condition);
        let result = match limit {
            Some(limit) => match tokio::time::timeout(limit, put).await {
                Ok(result) => result,
                Err(_) => {
                    // It may still land: only our write id can tell.
                    return match self.landed(next).await {
                        Some(version) => Ok(version),
                        None => Err(Attempt::Fatal(Box::new(StateError::LockLost { rescue_note: String::new() }))),
                    };
                }
            },
            None => put.await,
        };
        match result {
            Ok(version) => Ok(version),
            Err(StoreError::PreconditionFailed { .. }) => match self.landed(next).await {
                // An earlier attempt of this write applied; its answer was lost.
                Some(version) => Ok(version),
                None => Err(self.what_changed(expected).await),
            },
            Err(StoreError::ConcurrentWrite { .. }) => match self.what_changed(expected).await {
                Attempt::Retry => Err(Attempt::Retry),
                other => Err(other),
            },
            Err(source) => match self.landed(next).await {
                Some(version) => Ok(version),
                None => Err(Attempt::Fatal(Box::new(StateError::Write {
                    location: self.location(),
                    source: Box::new(source),
                }))),
            },
        }
    }

    /// The version of `state.json` if it holds exactly `next` (our write id).
    async fn landed(&self, next: &State) -> Option<Version> {
        let ours = next.metadata.write_id.as_deref()?;
        let read = read_state(self.store.as_ref(), &self.scope);
        let read = match self.lock.as_ref().map(crate::lock::time_left) {
            // Only while the lock is ours: a read after the deadline proves nothing useful.
            Some(limit) => tokio::time::timeout(limit, read).await.ok()?,
            None => read.await,
        };
        match read {
            Ok(Some((state, version))) if state.metadata.write_id.as_deref() == Some(ours) => Some(version),
            _ => None,
        }
    }

    /// Re-reads `state.json` after a failed conditional write: unchanged
    /// means the write may be retried.
    async fn what_changed(&self, expected: &Option<Version>) -> Attempt {
        match read_state(self.store.as_ref(), &self.scope).await {
            Ok(None) if expected.is_none() => Attempt::Retry,
            Ok(None) => Attempt::Gone,
            Ok(Some((state, version))) => {
                if expected.as_ref() == Some(&version) {
                    Attempt::Retry
                } else if expected.is_some() && state.lineage != self.state.lineage {
                    Attempt::Fatal(Box::new(StateError::LineageMismatch {
                        location: self.location(),
                        expected: self.state.lineage.clone(),
                        found: state.lineage,
                    }))
                } else {
                    Attempt::Changed { latest: Box::new((state, version)) }
                }
            }
            Err(err) => Attempt::Fatal(Box::new(err)),
        }
    }

    async fn copy_to_history(&self, written: &State) -> Option<String> {
        let deployment = written.metadata.deployment_id.as_deref().unwrap_or("manual");
        let key = self.scope.history_key(written.serial, deployment);
        match self.store.put(&key, serialize(written), Precondition::None).await {
            Ok(_) => None,
            Err(e) => {
                Some(format!("the state was written but its history copy `{}` was not: {e}", self.store.describe(&key)))
            }
        }
    }

    fn fail_write(&mut self, next: &State, source: StoreError) -> StateError {
        match self.save_rescue(next) {
            Ok(rescue) => StateError::WriteFailed {
                location: self.location(),
                source: Box::new(source),
                push_command: push_command(&rescue, &self.scope),
                rescue,
            },
            Err(e) => StateError::WriteAndRescueFailed {
                location: self.location(),
                source: Box::new(source),
                rescue_error: e.to_string(),
            },
        }
    }

    /// Saves `next` locally and says where, for an error message.
    fn rescue_note(&mut self, next: &State) -> String {
        match self.save_rescue(next) {
            Ok(path) => format!("the state this run meant to write was saved to `{}`\n", path.display()),
            Err(e) => format!("saving a local copy failed: {e}\n"),
        }
    }

    /// Saves `state` next to the run (or in the temp dir when that fails),
    /// in a new file that no symlink can redirect; later changes of this run
    /// go to the same file.
    fn save_rescue(&mut self, state: &State) -> std::io::Result<PathBuf> {
        let name = format!(
            "panka-state-{}-{}-{}-serial{}",
            self.scope.tenant.tenant, self.scope.stack, self.scope.environment, state.serial
        );
        let body = serialize(state);
        let path = match create_new_file(&self.options.rescue_dir, &name, &body) {
            Ok(path) => path,
            Err(_) => create_new_file(&std::env::temp_dir(), &name, &body)?,
        };
        self.unwritten = Some((state.clone(), path.clone()));
        Ok(path)
    }
}

enum Attempt {
    /// Nothing changed: try the same write again.
    Retry,
    /// Someone else wrote a newer state of the same lineage.
    Changed {
        latest: Box<(State, Version)>,
    },
    /// The state was deleted since it was read.
    Gone,
    Fatal(Box<StateError>),
}

/// Creates `<dir>/<name>.json` (or `<name>-2.json` … when taken) with
/// `body`: written to a fresh temporary file, then linked into place without
/// replacing anything, so a symlink planted at the predictable name is never
/// followed or overwritten.
fn create_new_file(dir: &Path, name: &str, body: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut tmp = tempfile::Builder::new().prefix(".panka-state-").tempfile_in(&dir)?;
    tmp.write_all(body)?;
    tmp.as_file().sync_all()?;
    for n in 1..100 {
        let path = if n == 1 { dir.join(format!("{name}.json")) } else { dir.join(format!("{name}-{n}.json")) };
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(e.error),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("too many saved states named `{name}` in `{}`", dir.display()),
    ))
}

/// Replaces our own saved copy by rename (which never follows a symlink).
fn replace_file(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".panka-state-").tempfile_in(dir)?;
    tmp.write_all(body)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}

/// The canonical bytes of a state document.
pub fn serialize(state: &State) -> Vec<u8> {
    let mut body = serde_json::to_vec_pretty(state).expect("a state always serializes");
    body.push(b'\n');
    body
}

/// The command that pushes a saved state back for `scope`.
pub fn push_command(file: &Path, scope: &StackScope) -> String {
    let mut cmd = format!(
        "panka state push {} --stack {} -e {}",
        shell_quote(&file.display().to_string()),
        scope.stack,
        scope.environment
    );
    if !scope.tenant.is_default() {
        cmd.push_str(&format!(" --tenant {}", scope.tenant.tenant));
    }
    cmd
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::{BasePrefix, Name, TenantScope};
    use crate::state::local::LocalStateStore;

    fn scope() -> StackScope {
        TenantScope::new(BasePrefix::default(), Name::new("tenant", "acme").unwrap())
            .stack(Name::new("stack", "pay").unwrap(), Name::new("env", "dev").unwrap())
    }

    #[tokio::test]
    async fn serial_increments_lineage_stays_and_history_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn StateStore> = Arc::new(LocalStateStore::new(dir.path()));
        let opts = SessionOptions::new("me@host", dir.path().join("rescue"));
        let mut s = StateSession::open(store.clone(), scope(), None, opts.clone()).await.unwrap();
        let lineage = s.state().lineage.clone();
        let c1 = s.commit(|st| st.metadata.deployment_id = Some("d1".into())).await.unwrap();
        assert_eq!(c1.serial, 1);
        let c2 = s.commit(|_| {}).await.unwrap();
        assert_eq!(c2.serial, 2);
        let (read, version) = read_state(store.as_ref(), &scope()).await.unwrap().unwrap();
        assert_eq!(read.serial, 2);
        assert_eq!(read.lineage, lineage);
        assert_eq!(version, c2.version);
        let history = store.list(&scope().history_dir()).await.unwrap();
        let names: Vec<_> = history.iter().map(|l| l.key.rsplit('/').next().unwrap().to_string()).collect();
        assert_eq!(names, vec!["0000000001-d1.json", "0000000002-d1.json"]);
    }

    #[tokio::test]
    async fn a_second_writer_from_the_same_version_gets_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn StateStore> = Arc::new(LocalStateStore::new(dir.path()));
        let opts = SessionOptions::new("a@host", dir.path().join("rescue"));
        StateSession::open(store.clone(), scope(), None, opts.clone()).await.unwrap().commit(|_| {}).await.unwrap();
        let mut a = StateSession::open(store.clone(), scope(), None, opts.clone()).await.unwrap();
        let mut b =
            StateSession::open(store.clone(), scope(), None, SessionOptions::new("b@host", dir.path().join("rescue")))
                .await
                .unwrap();
        a.commit(|st| st.metadata.git_commit = Some("aaa".into())).await.unwrap();
        let err = b.commit(|st| st.metadata.git_commit = Some("bbb".into())).await.unwrap_err();
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        assert_eq!(err.exit_status(), crate::exit::ExitStatus::StateConflict);
        let (stored, _) = read_state(store.as_ref(), &scope()).await.unwrap().unwrap();
        assert_eq!(stored.metadata.git_commit.as_deref(), Some("aaa"));
    }

    #[tokio::test]
    async fn rebase_reapplies_the_change_on_the_newer_state() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn StateStore> = Arc::new(LocalStateStore::new(dir.path()));
        let mut opts = SessionOptions::new("a@host", dir.path().join("rescue"));
        opts.on_conflict = OnConflict::Rebase;
        let mut a = StateSession::open(store.clone(), scope(), None, opts.clone()).await.unwrap();
        let mut b = StateSession::open(store.clone(), scope(), None, opts.clone()).await.unwrap();
        a.commit(|st| st.metadata.git_branch = Some("a".into())).await.unwrap();
        // b started from "no state": its first write would be IfAbsent, which fails; it rebases.
        let c = b.commit(|st| st.metadata.git_commit = Some("b".into())).await.unwrap();
        assert_eq!(c.serial, 2);
        let (stored, _) = read_state(store.as_ref(), &scope()).await.unwrap().unwrap();
        assert_eq!(stored.metadata.git_branch.as_deref(), Some("a"));
        assert_eq!(stored.metadata.git_commit.as_deref(), Some("b"));
    }

    #[test]
    fn push_commands_quote_paths() {
        let cmd = push_command(Path::new("/tmp/my dir/x.json"), &scope());
        assert_eq!(cmd, "panka state push '/tmp/my dir/x.json' --stack pay -e dev --tenant acme");
    }
}
