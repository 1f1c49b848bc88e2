//! Deployment records (SPEC §8, issue 13): one document per apply or
//! destroy that changed something, at `stacks/<s>/<e>/deployments/<id>.json`,
//! and an index `deployments/index.json` (oldest first, never trimmed), both
//! beside the state and outside the history lifecycle rule.
//!
//! A record says who ran what from which commit: `user@host` or the CI
//! identity, the git commit, branch and dirty flag of the stack directory,
//! the command line (with `--var` values removed), and per component the
//! action, outcome, duration and config hash. Records are written under the
//! run's lock; the index is updated with a conditional write (re-read and
//! retried when a service-locked run of the same stack wrote in between).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::{Precondition, StateStore, StoreError};
use crate::scope::StackScope;

pub const FORMAT_VERSION: &str = "panka-deployment-v1";

/// Where the stack directory's sources came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// Uncommitted changes under the stack directory.
    pub dirty: bool,
}

/// What it takes to put a component back exactly as a deployment left it:
/// stored content-addressed at `objects/<sha256>` (of these bytes), so a
/// rollback never depends on today's stack files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restorable {
    pub kind: String,
    pub config: serde_json::Value,
    pub config_hash: String,
    pub dependencies: Vec<String>,
    pub project: String,
    /// The Pulumi YAML program that was applied.
    pub program: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentRun {
    pub component: String,
    pub action: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `objects/<sha256>`: the [`Restorable`] applied (successful ups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

/// One deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub format_version: String,
    pub id: String,
    pub operation: String,
    pub stack: String,
    pub environment: String,
    pub tenant: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// `user@host`, or the CI's identity (`github:<actor>`, `gitlab:<user>` …).
    pub by: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci: BTreeMap<String, String>,
    #[serde(default)]
    pub git: GitInfo,
    /// The command line; `--var` values are replaced by `…`.
    pub command: Vec<String>,
    pub status: String,
    pub components: Vec<ComponentRun>,
    /// The state serial this run left behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_serial: Option<u64>,
}

/// One line of the index: enough for `panka history` without reading every record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub id: String,
    pub operation: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub by: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    #[serde(default)]
    pub git_dirty: bool,
    /// The components this deployment changed or tried to.
    pub components: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub format_version: String,
    /// Oldest first.
    pub deployments: Vec<IndexEntry>,
}

impl Deployment {
    pub fn entry(&self) -> IndexEntry {
        IndexEntry {
            id: self.id.clone(),
            operation: self.operation.clone(),
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            by: self.by.clone(),
            status: self.status.clone(),
            git_commit: self.git.commit.clone(),
            git_branch: self.git.branch.clone(),
            git_dirty: self.git.dirty,
            components: self.components.iter().map(|c| c.component.clone()).collect(),
        }
    }
}

pub fn deployments_dir(scope: &StackScope) -> String {
    format!("{}/deployments", scope.state_dir())
}

pub fn record_key(scope: &StackScope, id: &str) -> String {
    format!("{}/{id}.json", deployments_dir(scope))
}

pub fn index_key(scope: &StackScope) -> String {
    format!("{}/index.json", deployments_dir(scope))
}

pub fn object_key(scope: &StackScope, digest: &str) -> String {
    format!("{}/objects/{digest}", scope.state_dir())
}

/// Stores `r` under its content's sha256 (once) and returns the digest.
pub async fn put_object(store: &dyn StateStore, scope: &StackScope, r: &Restorable) -> Result<String, StoreError> {
    use sha2::{Digest, Sha256};
    let body = serde_json::to_vec(r).expect("a restorable serializes");
    let digest = format!("{:x}", Sha256::digest(&body));
    match store.put(&object_key(scope, &digest), body, Precondition::IfAbsent).await {
        Ok(_) | Err(StoreError::PreconditionFailed { .. }) => Ok(digest),
        Err(e) => Err(e),
    }
}

/// The object `digest`, checked against its digest.
pub async fn get_object(store: &dyn StateStore, scope: &StackScope, digest: &str) -> Result<Restorable, StoreError> {
    use sha2::{Digest, Sha256};
    let key = object_key(scope, digest);
    let obj = store
        .get(&key)
        .await?
        .ok_or_else(|| StoreError::Corrupt { key: key.clone(), detail: "it is missing".into() })?;
    if format!("{:x}", Sha256::digest(&obj.body)) != digest {
        return Err(StoreError::Corrupt { key, detail: "its content does not match its digest".into() });
    }
    serde_json::from_slice(&obj.body).map_err(|e| StoreError::Corrupt { key, detail: e.to_string() })
}

/// What was live after deployment `target` (oldest-first `records` up to
/// and including it): per component the object of its last successful up,
/// with components deleted since left out.
pub fn live_after(records: &[Deployment], target: &str) -> Option<BTreeMap<String, String>> {
    let mut live: BTreeMap<String, String> = BTreeMap::new();
    for d in records {
        for c in &d.components {
            match (c.outcome.as_str(), &c.object) {
                ("created" | "updated" | "replaced", Some(object)) => {
                    live.insert(c.component.clone(), object.clone());
                }
                ("deleted", _) => {
                    live.remove(&c.component);
                }
                _ => {}
            }
        }
        if d.id == target {
            return Some(live);
        }
    }
    None
}

/// Writes the record, then appends it to the index.
pub async fn write(store: &dyn StateStore, scope: &StackScope, record: &Deployment) -> Result<(), StoreError> {
    let mut body = serde_json::to_vec_pretty(record).expect("a record serializes");
    body.push(b'\n');
    store.put(&record_key(scope, &record.id), body, Precondition::None).await?;
    let key = index_key(scope);
    for _ in 0..8 {
        let (mut index, condition) = match store.get(&key).await? {
            Some(obj) => {
                let index: Index = serde_json::from_slice(&obj.body).unwrap_or_default();
                (index, Precondition::IfMatch(obj.version))
            }
            None => (Index::default(), Precondition::IfAbsent),
        };
        index.format_version = FORMAT_VERSION.to_string();
        index.deployments.retain(|e| e.id != record.id);
        index.deployments.push(record.entry());
        let mut body = serde_json::to_vec_pretty(&index).expect("an index serializes");
        body.push(b'\n');
        match store.put(&key, body, condition).await {
            Ok(_) => return Ok(()),
            Err(StoreError::PreconditionFailed { .. } | StoreError::ConcurrentWrite { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::ConcurrentWrite { key })
}

/// The index, oldest first (empty when nothing was recorded yet).
pub async fn index(store: &dyn StateStore, scope: &StackScope) -> Result<Index, StoreError> {
    match store.get(&index_key(scope)).await? {
        Some(obj) => serde_json::from_slice(&obj.body)
            .map_err(|e| StoreError::Corrupt { key: index_key(scope), detail: e.to_string() }),
        None => Ok(Index::default()),
    }
}

/// One record by id.
pub async fn get(store: &dyn StateStore, scope: &StackScope, id: &str) -> Result<Option<Deployment>, StoreError> {
    match store.get(&record_key(scope, id)).await? {
        Some(obj) => serde_json::from_slice(&obj.body)
            .map(Some)
            .map_err(|e| StoreError::Corrupt { key: record_key(scope, id), detail: e.to_string() }),
        None => Ok(None),
    }
}

/// Git commit, branch and dirty flag of `dir`, from `git` when it is
/// installed and `dir` is in a work tree; else from the usual CI variables.
pub fn git_info(dir: &Path) -> GitInfo {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let env = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()));
    let commit = git(&["rev-parse", "HEAD"]).or_else(|| env(&["GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"]));
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"])
        .filter(|b| b != "HEAD")
        .or_else(|| env(&["GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "GIT_BRANCH"]));
    // panka's own `.panka/` (local state, locks, Pulumi's backend) is not a source.
    let dirty = git(&["status", "--porcelain", "--", ".", ":(exclude).panka"]).is_some_and(|s| !s.is_empty());
    GitInfo { commit, branch, dirty }
}

/// Who ran it: the CI identity when the usual variables say so, else `user@host`.
pub fn who() -> String {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    if let Some(actor) = env("GITHUB_ACTOR") {
        return format!("github:{actor}");
    }
    if let Some(user) = env("GITLAB_USER_LOGIN") {
        return format!("gitlab:{user}");
    }
    if let Some(user) = env("BUILDKITE_BUILD_CREATOR_EMAIL") {
        return format!("buildkite:{user}");
    }
    crate::lock::record::user_at_host()
}

/// The command line with every `--var` value removed (`--var NAME=…`).
pub fn redacted_command(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut next_is_var = false;
    for arg in args {
        if next_is_var {
            out.push(redact_var(&arg));
            next_is_var = false;
        } else if arg == "--var" {
            out.push(arg);
            next_is_var = true;
        } else if let Some(rest) = arg.strip_prefix("--var=") {
            out.push(format!("--var={}", redact_var(rest)));
        } else {
            out.push(arg);
        }
    }
    out
}

fn redact_var(assignment: &str) -> String {
    match assignment.split_once('=') {
        Some((name, _)) => format!("{name}=…"),
        None => "…".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_values_never_reach_the_record() {
        let cmd = redacted_command(
            ["panka", "apply", "--var", "DB_PASSWORD=hunter2", "--var=TOKEN=abc", "-e", "dev"].map(String::from),
        );
        assert_eq!(cmd, ["panka", "apply", "--var", "DB_PASSWORD=…", "--var=TOKEN=…", "-e", "dev"]);
        assert!(!cmd.join(" ").contains("hunter2"));
    }
}
