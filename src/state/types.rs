//! The state document (SPEC §8): what panka believes is deployed for one
//! stack and environment. Serialized as `state.json`; every write bumps
//! `serial`, `lineage` never changes after creation.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The format tag written into every state file.
pub const FORMAT_VERSION: &str = "panka-state-v1";

/// The value recorded in place of a secret output.
pub const SECRET_PLACEHOLDER: &str = "[secret]";

/// How many past deployments a state keeps inline (the history objects keep all).
pub const MAX_DEPLOYMENTS: usize = 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub format_version: String,
    /// Fixed when the state is first created; a state with another lineage
    /// belongs to a different stack/environment and is never overwritten.
    pub lineage: String,
    /// +1 per write.
    pub serial: u64,
    pub metadata: StateMetadata,
    /// Keyed by `service/component`.
    #[serde(default)]
    pub components: BTreeMap<String, ComponentState>,
    /// Newest last, at most [`MAX_DEPLOYMENTS`].
    #[serde(default)]
    pub deployments: Vec<DeploymentRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct StateMetadata {
    pub stack: String,
    pub environment: String,
    pub tenant: String,
    pub last_updated: Option<DateTime<Utc>>,
    pub last_updated_by: Option<String>,
    pub deployment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    /// Set when this run took over a lock whose holder had stopped heartbeating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_takeover: Option<LockTakeover>,
    /// A fresh id per write attempt: a write whose answer was lost (a
    /// timeout, then 412 on the retry) is recognised as our own by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockTakeover {
    pub previous_lock_id: String,
    pub previous_holder: String,
    pub taken_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentStatus {
    /// A Pulumi run was started and has not been recorded as finished.
    InProgress,
    Deployed,
    Failed,
    Deleted,
}

impl std::fmt::Display for ComponentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::InProgress => "in-progress",
            Self::Deployed => "deployed",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComponentState {
    pub kind: String,
    pub status: ComponentStatus,
    /// The fully resolved desired configuration that was deployed.
    pub config: serde_json::Value,
    /// sha256 of the canonical JSON of `config`.
    pub config_hash: String,
    /// Outputs as read from `pulumi stack output`; secrets are [`SECRET_PLACEHOLDER`].
    #[serde(default)]
    pub outputs: BTreeMap<String, serde_json::Value>,
    /// Hash of the upstream outputs this component consumed when deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_hash: Option<String>,
    pub pulumi_project: String,
    pub pulumi_stack: String,
    /// `service/component` keys this component depends on.
    #[serde(default)]
    pub dependencies: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentStatus {
    InProgress,
    Succeeded,
    Failed,
    Interrupted,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeploymentRecord {
    pub id: String,
    pub operation: String,
    pub by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: DeploymentStatus,
    pub duration_ms: Option<u64>,
    pub created: u32,
    pub updated: u32,
    pub deleted: u32,
    pub failed: u32,
}

impl State {
    /// A new, empty state with a fresh lineage.
    pub fn new(stack: &str, environment: &str, tenant: &str) -> Self {
        State {
            format_version: FORMAT_VERSION.to_string(),
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            metadata: StateMetadata {
                stack: stack.to_string(),
                environment: environment.to_string(),
                tenant: tenant.to_string(),
                ..Default::default()
            },
            components: BTreeMap::new(),
            deployments: Vec::new(),
        }
    }
}
