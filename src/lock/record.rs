//! The lock record (SPEC §9): the same fields in a DynamoDB item and in a
//! local lock file, and who is taking a lock.
//!
//! Times are epoch seconds of the writer's clock, for people: `expiresAt`
//! (rounded up, so a lease is never shorter than asked) says whether a lock
//! *looks* expired, a hint only. Whether a lock is stale is decided by
//! watching its `rvn` on the taker's own monotonic clock (see `guard`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// CI variables recorded with a lock when present (never secrets: ids and URLs).
const CI_VARIABLES: &[&str] = &[
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_REPOSITORY",
    "GITHUB_WORKFLOW",
    "GITHUB_ACTOR",
    "GITHUB_SERVER_URL",
    "CI_JOB_URL",
    "CI_JOB_ID",
    "CI_PIPELINE_URL",
    "CI_PROJECT_PATH",
    "BUILD_URL",
    "CIRCLE_BUILD_URL",
    "BUILDKITE_BUILD_URL",
    "CODEBUILD_BUILD_ARN",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockRecord {
    pub lock_key: String,
    pub lock_id: String,
    /// Record version number: a new UUID on every heartbeat.
    pub rvn: String,
    /// `user@host`
    pub locked_by: String,
    pub operation: String,
    pub deployment_id: String,
    pub locked_at: i64,
    pub last_heartbeat: i64,
    pub expires_at: i64,
    pub pid: u32,
    pub panka_version: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci: BTreeMap<String, String>,
    /// The lock id this lock replaced after it expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takeover_of: Option<String>,
    /// Who held the replaced lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takeover_from: Option<String>,
    /// Copied from a lock table in the earlier layout by `admin init`: its
    /// original there decides whether it is held.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
}

impl LockRecord {
    /// A fresh record for `key`, live for `lease` from `now`.
    pub fn new(key: String, owner: &Owner, lease: Duration, now: f64) -> LockRecord {
        let now_secs = now.floor() as i64;
        LockRecord {
            lock_key: key,
            lock_id: uuid::Uuid::new_v4().to_string(),
            rvn: uuid::Uuid::new_v4().to_string(),
            locked_by: owner.locked_by.clone(),
            operation: owner.operation.clone(),
            deployment_id: owner.deployment_id.clone(),
            locked_at: now_secs,
            last_heartbeat: now_secs,
            expires_at: expiry(now, lease),
            pid: std::process::id(),
            panka_version: env!("CARGO_PKG_VERSION").to_string(),
            ci: owner.ci.clone(),
            takeover_of: None,
            takeover_from: None,
            legacy: false,
        }
    }

    /// Whether the lease looks run out at `now` (epoch seconds of this
    /// machine's clock, which may disagree with the holder's): a hint for
    /// messages and for how long to watch, never a reason to take a lock.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at < now
    }

    /// The lease the holder works with, as its own record states it
    /// (`expiresAt − lastHeartbeat`, both from its clock).
    pub fn lease(&self) -> Duration {
        Duration::from_secs((self.expires_at - self.last_heartbeat).max(1) as u64)
    }

    pub fn age(&self, now: i64) -> Duration {
        Duration::from_secs((now - self.locked_at).max(0) as u64)
    }

    pub fn since_heartbeat(&self, now: i64) -> Duration {
        Duration::from_secs((now - self.last_heartbeat).max(0) as u64)
    }

    /// One line saying who holds the lock, for "locked" messages.
    pub fn describe_holder(&self, now: i64) -> String {
        let mut text = format!(
            "held by {} (operation `{}`, deployment {}, pid {}, lock id {}), taken {} ago, last heartbeat {} ago",
            self.locked_by,
            self.operation,
            self.deployment_id,
            self.pid,
            self.lock_id,
            human(self.age(now)),
            human(self.since_heartbeat(now)),
        );
        if self.is_expired(now) {
            text.push_str(", expired");
        } else {
            text.push_str(&format!(
                ", expires in {}",
                human(Duration::from_secs((self.expires_at - now).max(0) as u64))
            ));
        }
        if let Some(url) = self.ci_url() {
            text.push_str(&format!(", ci {url}"));
        }
        text
    }

    /// The most useful CI link or id recorded, if any.
    pub fn ci_url(&self) -> Option<String> {
        for key in ["CI_JOB_URL", "BUILD_URL", "CIRCLE_BUILD_URL", "BUILDKITE_BUILD_URL"] {
            if let Some(v) = self.ci.get(key) {
                return Some(v.clone());
            }
        }
        match (self.ci.get("GITHUB_SERVER_URL"), self.ci.get("GITHUB_REPOSITORY"), self.ci.get("GITHUB_RUN_ID")) {
            (Some(server), Some(repo), Some(run)) => Some(format!("{server}/{repo}/actions/runs/{run}")),
            (_, _, Some(run)) => Some(format!("github run {run}")),
            _ => None,
        }
    }

    pub fn locked_at_time(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.locked_at, 0)
    }
}

/// `now + lease`, rounded up to whole seconds.
pub fn expiry(now: f64, lease: Duration) -> i64 {
    (now + lease.as_secs_f64()).ceil() as i64
}

/// The current time as fractional epoch seconds.
pub fn now_f64() -> f64 {
    let now = Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_micros()) / 1e6
}

/// Who is asking for a lock and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub locked_by: String,
    pub operation: String,
    pub deployment_id: String,
    pub ci: BTreeMap<String, String>,
}

impl Owner {
    /// The current user and host, CI variables from the environment.
    pub fn current(operation: &str, deployment_id: &str) -> Owner {
        Owner {
            locked_by: user_at_host(),
            operation: operation.to_string(),
            deployment_id: deployment_id.to_string(),
            ci: ci_metadata(),
        }
    }
}

/// `user@host` of this process.
pub fn user_at_host() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{user}@{host}")
}

fn ci_metadata() -> BTreeMap<String, String> {
    CI_VARIABLES
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok()?;
            (!value.is_empty()).then(|| (name.to_string(), value.chars().take(256).collect()))
        })
        .collect()
}

/// `1h02m`, `3m05s`, `12s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_round_up_and_expire_strictly_after() {
        assert_eq!(expiry(100.2, Duration::from_secs(2)), 103);
        let owner = Owner::current("apply", "d");
        let r = LockRecord::new("k".into(), &owner, Duration::from_secs(2), 100.2);
        assert!(!r.is_expired(103));
        assert!(r.is_expired(104));
    }

    #[test]
    fn holder_description_has_who_what_and_ages() {
        let owner = Owner {
            locked_by: "ana@ci-7".into(),
            operation: "apply".into(),
            deployment_id: "d-1".into(),
            ci: BTreeMap::from([("CI_JOB_URL".to_string(), "https://ci/job/1".to_string())]),
        };
        let r = LockRecord::new("k".into(), &owner, Duration::from_secs(120), 1000.0);
        let text = r.describe_holder(1065);
        assert!(text.contains("ana@ci-7"), "{text}");
        assert!(text.contains("`apply`"), "{text}");
        assert!(text.contains("taken 1m05s ago"), "{text}");
        assert!(text.contains("https://ci/job/1"), "{text}");
    }
}
