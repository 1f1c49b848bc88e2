//! [`LockBackend`] in a directory (`<stack dir>/.panka/locks/`): one JSON
//! file per lock key holding the same fields as the DynamoDB item.
//!
//! Invariants: a fresh lock is created with a no-clobber link of a complete
//! file (`O_EXCL` semantics: exactly one creator wins, and readers never see
//! a half-written lock). Every change to an existing lock file (takeover,
//! heartbeat, release) happens while holding a short-lived guard file created
//! with `O_EXCL`, re-reads the lock under it, and replaces it by rename; so
//! the check and the change are one step, as DynamoDB's conditions are. A
//! guard left by a crashed process is considered stale after
//! [`GUARD_STALE_AFTER`] (guards are held for microseconds).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::record::LockRecord;
use super::{AcquireOutcome, LockBackend, LockError};
use crate::state::store::BoxFuture;

const GUARD_STALE_AFTER: Duration = Duration::from_secs(5);
const GUARD_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct LocalLocks {
    dir: PathBuf,
}

impl LocalLocks {
    /// Locks kept in `dir` (normally `<stack dir>/.panka/locks`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalLocks { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Lock keys hold only `[a-z0-9-:]` (see `scope`); `:` becomes `_`,
    /// which no name can contain, so the mapping is one to one.
    fn path_of(&self, key: &str) -> Result<PathBuf, LockError> {
        if key.is_empty()
            || !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b':')
        {
            return Err(LockError::Corrupt {
                key: key.escape_debug().to_string(),
                detail: "a lock key may hold only a-z, 0-9, `-` and `:`".to_string(),
            });
        }
        Ok(self.dir.join(format!("{}.json", key.replace(':', "_"))))
    }

    fn acquire_sync(&self, record: &LockRecord, stale: Option<&LockRecord>) -> Result<AcquireOutcome, LockError> {
        let path = self.path_of(&record.lock_key)?;
        fs::create_dir_all(&self.dir).map_err(|e| io_err(format!("creating `{}` failed", self.dir.display()), e))?;
        loop {
            let tmp = self.temp_with(record)?;
            match tmp.persist_noclobber(&path) {
                Ok(_) => return Ok(AcquireOutcome::Acquired { replaced: None }),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(format!("creating `{}` failed", path.display()), e.error)),
            }
            let _guard = Guard::take(&path)?;
            let Some(current) = read(&path, &record.lock_key)? else {
                continue; // released in between: create again
            };
            if current.lock_id == record.lock_id {
                return Ok(AcquireOutcome::Acquired { replaced: stale.cloned() });
            }
            match stale {
                Some(old) if old.lock_id == current.lock_id && old.rvn == current.rvn => {
                    self.replace(&path, record)?;
                    return Ok(AcquireOutcome::Acquired { replaced: Some(current) });
                }
                _ => return Ok(AcquireOutcome::Held(current)),
            }
        }
    }

    fn heartbeat_sync(
        &self,
        key: &str,
        lock_id: &str,
        rvn: &str,
        new_rvn: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), LockError> {
        let path = self.path_of(key)?;
        let _guard = Guard::take(&path)?;
        let current = read(&path, key)?;
        match current {
            Some(mut r) if r.lock_id == lock_id && r.rvn == rvn => {
                r.rvn = new_rvn.to_string();
                r.last_heartbeat = now;
                r.expires_at = expires_at;
                self.replace(&path, &r)
            }
            other => Err(LockError::not_held(key, lock_id, other.as_ref(), now)),
        }
    }

    fn release_sync(&self, key: &str, lock_id: &str) -> Result<(), LockError> {
        let path = self.path_of(key)?;
        let _guard = Guard::take(&path)?;
        match read(&path, key)? {
            Some(r) if r.lock_id == lock_id => {
                fs::remove_file(&path).map_err(|e| io_err(format!("removing `{}` failed", path.display()), e))
            }
            other => Err(LockError::not_held(key, lock_id, other.as_ref(), chrono::Utc::now().timestamp())),
        }
    }

    fn clear_stale_sync(&self, stale: &LockRecord) -> Result<(), LockError> {
        let path = self.path_of(&stale.lock_key)?;
        let _guard = Guard::take(&path)?;
        match read(&path, &stale.lock_key)? {
            Some(r) if r.lock_id == stale.lock_id && r.rvn == stale.rvn => {
                fs::remove_file(&path).map_err(|e| io_err(format!("removing `{}` failed", path.display()), e))
            }
            None => Ok(()),
            other => Err(LockError::not_held(
                &stale.lock_key,
                &stale.lock_id,
                other.as_ref(),
                chrono::Utc::now().timestamp(),
            )),
        }
    }

    fn list_sync(&self, prefix: &str) -> Result<Vec<LockRecord>, LockError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("listing `{}` failed", self.dir.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err(format!("listing `{}` failed", self.dir.display()), e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let key = stem.replace('_', ":");
            if !key.starts_with(prefix) {
                continue;
            }
            if let Some(r) = read(&entry.path(), &key)? {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.lock_key.cmp(&b.lock_key));
        Ok(out)
    }

    fn temp_with(&self, record: &LockRecord) -> Result<tempfile::NamedTempFile, LockError> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)
            .map_err(|e| io_err(format!("creating a file in `{}` failed", self.dir.display()), e))?;
        let body = serde_json::to_vec_pretty(record).expect("a lock record serializes");
        tmp.write_all(&body)
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| io_err(format!("writing `{}` failed", tmp.path().display()), e))?;
        Ok(tmp)
    }

    fn replace(&self, path: &Path, record: &LockRecord) -> Result<(), LockError> {
        self.temp_with(record)?
            .persist(path)
            .map_err(|e| io_err(format!("writing `{}` failed", path.display()), e.error))?;
        Ok(())
    }
}

fn read(path: &Path, key: &str) -> Result<Option<LockRecord>, LockError> {
    match fs::read(path) {
        Ok(body) => serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| LockError::Corrupt { key: key.to_string(), detail: format!("`{}`: {e}", path.display()) }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(format!("reading `{}` failed", path.display()), e)),
    }
}

fn io_err(message: String, source: io::Error) -> LockError {
    LockError::Io { message: format!("{message}: {source}"), source }
}

/// `.<lock file>.guard`, created with `O_EXCL`, removed on drop.
struct Guard(PathBuf);

impl Guard {
    fn take(lock_path: &Path) -> Result<Guard, LockError> {
        let name = lock_path.file_name().and_then(|n| n.to_str()).expect("lock paths have a file name");
        let path = lock_path.with_file_name(format!(".{name}.guard"));
        let started = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Guard(path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > GUARD_STALE_AFTER);
                    if stale {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    if started.elapsed() > GUARD_WAIT {
                        return Err(io_err(
                            format!("waiting for `{}` timed out", path.display()),
                            io::Error::from(io::ErrorKind::TimedOut),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(io_err(format!("creating `{}` failed", path.display()), e)),
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl LockBackend for LocalLocks {
    fn describe(&self) -> String {
        format!("lock directory `{}`", self.dir.display())
    }

    fn try_acquire<'a>(
        &'a self,
        record: &'a LockRecord,
        stale: Option<&'a LockRecord>,
    ) -> BoxFuture<'a, Result<AcquireOutcome, LockError>> {
        Box::pin(async move { self.acquire_sync(record, stale) })
    }

    fn heartbeat<'a>(
        &'a self,
        key: &'a str,
        lock_id: &'a str,
        rvn: &'a str,
        new_rvn: &'a str,
        now: i64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(async move { self.heartbeat_sync(key, lock_id, rvn, new_rvn, now, expires_at) })
    }

    fn release<'a>(&'a self, key: &'a str, lock_id: &'a str) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(async move { self.release_sync(key, lock_id) })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<LockRecord>, LockError>> {
        Box::pin(async move { read(&self.path_of(key)?, key) })
    }

    fn clear_stale<'a>(&'a self, stale: &'a LockRecord) -> BoxFuture<'a, Result<(), LockError>> {
        Box::pin(async move { self.clear_stale_sync(stale) })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<LockRecord>, LockError>> {
        Box::pin(async move { self.list_sync(prefix) })
    }

    fn list_all(&self) -> BoxFuture<'_, Result<Vec<LockRecord>, LockError>> {
        Box::pin(async move { self.list_sync("") })
    }
}
