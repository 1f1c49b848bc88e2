//! `kind: ElastiCache` — a Redis or Valkey replication group.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ElastiCacheSpec {
    #[serde(default)]
    pub engine: CacheEngine,
    /// `7.1`, `8.0` …
    pub version: String,
    #[serde(default = "default_node_type")]
    pub node_type: String,
    /// Read replicas in addition to the primary (0–5).
    #[serde(default = "default_replicas")]
    pub replicas: u32,
    /// Automatic failover and Multi-AZ; needs at least one replica.
    #[serde(default = "default_true", rename = "multiAZ")]
    pub multi_az: bool,
    #[serde(default = "default_port")]
    pub port: u32,
    #[serde(default)]
    pub encryption: CacheEncryption,
    /// Days of automatic snapshots (0 disables).
    #[serde(default = "default_snapshots")]
    pub snapshot_retention_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CacheEngine {
    #[default]
    Valkey,
    Redis,
}

impl CacheEngine {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheEngine::Valkey => "valkey",
            CacheEngine::Redis => "redis",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheEncryption {
    #[serde(default = "default_true")]
    pub at_rest: bool,
    #[serde(default = "default_true")]
    pub in_transit: bool,
}

impl Default for CacheEncryption {
    fn default() -> Self {
        CacheEncryption { at_rest: true, in_transit: true }
    }
}

fn default_node_type() -> String {
    "cache.t4g.micro".to_string()
}
fn default_replicas() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_port() -> u32 {
    6379
}
fn default_snapshots() -> u32 {
    7
}
