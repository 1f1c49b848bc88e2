//! [`StateStore`] in a directory (`<stack dir>/.panka/`), with the same key
//! layout as S3. The version of a file is the sha256 of its content.
//!
//! Invariants: a write goes to a temporary file in the target's directory,
//! is synced, then renamed into place, so a reader sees the old or the new
//! content and never a torn file. `IfAbsent` uses a no-clobber link, which
//! fails atomically when the file exists. `IfMatch` compares the content hash
//! and then renames, both under an exclusive `flock` of `.<file>.cas`, so
//! concurrent writers from several processes (service-granularity locks)
//! cannot both win. Keys are checked to be
//! relative with no `.`/`..` segment before they touch the file system.

use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::store::{BoxFuture, Listed, Object, Precondition, StateStore, StoreError, Version};

#[derive(Debug, Clone)]
pub struct LocalStateStore {
    root: PathBuf,
}

impl LocalStateStore {
    /// A store rooted at `root` (normally `<stack dir>/.panka`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStateStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        let relative = Path::new(key);
        let safe = !key.is_empty() && relative.components().all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(io_error(
                format!("refusing the key `{}`: it would leave `{}`", key.escape_debug(), self.root.display()),
                io::Error::from(io::ErrorKind::InvalidInput),
            ));
        }
        Ok(self.root.join(relative))
    }

    fn get_sync(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let path = self.path_of(key)?;
        match fs::read(&path) {
            Ok(body) => Ok(Some(Object { version: content_version(&body), body })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(format!("reading `{}` failed: {e}", path.display()), e)),
        }
    }

    fn put_sync(&self, key: &str, body: Vec<u8>, condition: Precondition) -> Result<Version, StoreError> {
        let path = self.path_of(key)?;
        let dir = path.parent().expect("a key has a parent directory");
        fs::create_dir_all(dir).map_err(|e| io_error(format!("creating `{}` failed: {e}", dir.display()), e))?;
        let version = content_version(&body);
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| io_error(format!("creating a temporary file in `{}` failed: {e}", dir.display()), e))?;
        tmp.write_all(&body)
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| io_error(format!("writing `{}` failed: {e}", tmp.path().display()), e))?;
        match condition {
            Precondition::IfAbsent => {
                tmp.persist_noclobber(&path).map_err(|e| {
                    if e.error.kind() == io::ErrorKind::AlreadyExists {
                        StoreError::PreconditionFailed { key: key.to_string() }
                    } else {
                        io_error(format!("writing `{}` failed: {}", path.display(), e.error), e.error)
                    }
                })?;
            }
            Precondition::IfMatch(expected) => {
                // Compare and rename under an exclusive advisory lock, so two
                // processes (two service-locked runs of one stack) cannot both
                // pass the compare and one silently overwrite the other.
                let _guard = CasLock::take(&path)?;
                let current = self.get_sync(key)?;
                if current.map(|o| o.version) != Some(expected) {
                    return Err(StoreError::PreconditionFailed { key: key.to_string() });
                }
                persist(tmp, &path)?;
            }
            Precondition::None => persist(tmp, &path)?,
        }
        Ok(version)
    }

    fn list_sync(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        // Walk the deepest directory the prefix names, then filter by prefix.
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let start = if dir_part.is_empty() { self.root.clone() } else { self.path_of(dir_part)? };
        let mut out = Vec::new();
        walk(&self.root, &start, &mut out)?;
        out.retain(|l| l.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// `flock(2)` on `.<file>.cas` beside the file, held for one compare-and-rename.
struct CasLock(fs::File);

impl CasLock {
    fn take(path: &Path) -> Result<CasLock, StoreError> {
        use std::os::fd::AsRawFd;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
        let lock_path = path.with_file_name(format!(".{name}.cas"));
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error(format!("opening `{}` failed: {e}", lock_path.display()), e))?;
        loop {
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(CasLock(file));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_error(format!("locking `{}` failed: {e}", lock_path.display()), e));
            }
        }
    }
}

impl Drop for CasLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking the descriptor we locked; closing would release it too.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Listed>) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(format!("listing `{}` failed: {e}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error(format!("listing `{}` failed: {e}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue; // temporary files and lock guards
        }
        let file_type =
            entry.file_type().map_err(|e| io_error(format!("reading `{}` failed: {e}", entry.path().display()), e))?;
        if file_type.is_dir() {
            walk(root, &entry.path(), out)?;
        } else if file_type.is_file() {
            let meta = entry
                .metadata()
                .map_err(|e| io_error(format!("reading `{}` failed: {e}", entry.path().display()), e))?;
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let key = relative.components().filter_map(|c| c.as_os_str().to_str()).collect::<Vec<_>>().join("/");
            out.push(Listed { key, size: meta.len(), last_modified: meta.modified().ok().map(DateTime::<Utc>::from) });
        }
    }
    Ok(())
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<(), StoreError> {
    tmp.persist(path).map_err(|e| io_error(format!("writing `{}` failed: {}", path.display(), e.error), e.error))?;
    Ok(())
}

fn content_version(body: &[u8]) -> Version {
    let digest = Sha256::digest(body);
    Version(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn io_error(message: String, source: io::Error) -> StoreError {
    StoreError::Io { message, source }
}

impl StateStore for LocalStateStore {
    fn describe(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Object>, StoreError>> {
        Box::pin(async move { self.get_sync(key) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        condition: Precondition,
    ) -> BoxFuture<'a, Result<Version, StoreError>> {
        Box::pin(async move { self.put_sync(key, body, condition) })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Listed>, StoreError>> {
        Box::pin(async move { self.list_sync(prefix) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn compare_and_swap_on_content_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(dir.path());
        block(async {
            let v1 = store.put("a/b.json", b"one".to_vec(), Precondition::IfAbsent).await.unwrap();
            assert!(matches!(
                store.put("a/b.json", b"x".to_vec(), Precondition::IfAbsent).await,
                Err(StoreError::PreconditionFailed { .. })
            ));
            let v2 = store.put("a/b.json", b"two".to_vec(), Precondition::IfMatch(v1.clone())).await.unwrap();
            assert!(matches!(
                store.put("a/b.json", b"three".to_vec(), Precondition::IfMatch(v1)).await,
                Err(StoreError::PreconditionFailed { .. })
            ));
            let got = store.get("a/b.json").await.unwrap().unwrap();
            assert_eq!(got.body, b"two");
            assert_eq!(got.version, v2);
            assert!(matches!(
                store.put("missing.json", b"x".to_vec(), Precondition::IfMatch(v2)).await,
                Err(StoreError::PreconditionFailed { .. })
            ));
        });
    }

    /// The compare and the rename of `IfMatch` happen under the `.cas`
    /// lock: while another holder has it, a write waits (it cannot slip
    /// between someone else's compare and rename).
    #[test]
    fn an_if_match_write_waits_for_the_compare_and_swap_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(dir.path());
        let v1 = store.put_sync("s.json", b"one".to_vec(), Precondition::IfAbsent).unwrap();
        let held = CasLock::take(&dir.path().join("s.json")).unwrap();
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| store.put_sync("s.json", b"two".to_vec(), Precondition::IfMatch(v1.clone())));
            std::thread::sleep(std::time::Duration::from_millis(300));
            assert!(!writer.is_finished(), "the write did not wait for the lock");
            assert_eq!(fs::read(dir.path().join("s.json")).unwrap(), b"one");
            drop(held);
            writer.join().unwrap().unwrap();
        });
        assert_eq!(fs::read(dir.path().join("s.json")).unwrap(), b"two");
        assert!(store.list_sync("").unwrap().iter().all(|l| l.key == "s.json"), "the lock file is not a key");
    }

    #[test]
    fn keys_cannot_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(dir.path().join("inner"));
        block(async {
            for key in ["../x.json", "/etc/passwd", "a/../../x", "./a", ""] {
                assert!(store.put(key, b"x".to_vec(), Precondition::None).await.is_err(), "{key}");
            }
        });
        assert!(!dir.path().join("x.json").exists());
    }

    #[test]
    fn list_skips_temporary_files_and_filters_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStateStore::new(dir.path());
        block(async {
            store.put("stacks/a/dev/state.json", b"{}".to_vec(), Precondition::None).await.unwrap();
            store.put("stacks/ab/dev/state.json", b"{}".to_vec(), Precondition::None).await.unwrap();
            fs::write(dir.path().join("stacks/a/dev/.tmp-x"), b"").unwrap();
            let keys: Vec<_> = store.list("stacks/a/").await.unwrap().into_iter().map(|l| l.key).collect();
            assert_eq!(keys, vec!["stacks/a/dev/state.json"]);
            let all = store.list("stacks/").await.unwrap();
            assert_eq!(all.len(), 2);
        });
    }
}
