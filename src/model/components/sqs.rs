//! `kind: SQS` — a queue, with a dead-letter queue by default.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqsSpec {
    #[serde(default)]
    pub fifo: bool,
    #[serde(default)]
    pub content_based_deduplication: bool,
    /// 0–43200; should exceed the consumer's processing time.
    #[serde(default = "default_visibility")]
    pub visibility_timeout_seconds: u32,
    /// 60–1209600 (14 days).
    #[serde(default = "default_retention")]
    pub message_retention_seconds: u32,
    /// 0–900.
    #[serde(default)]
    pub delay_seconds: u32,
    /// Long polling, 0–20.
    #[serde(default = "default_wait")]
    pub receive_wait_time_seconds: u32,
    #[serde(default)]
    pub dead_letter: DeadLetter,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Expected monthly volumes, for the cost estimate only (docs/cost.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::model::common::Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeadLetter {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Receives before a message moves to the dead-letter queue (1–1000).
    #[serde(default = "default_max_receive")]
    pub max_receive_count: u32,
    #[serde(default = "default_dlq_retention")]
    pub message_retention_seconds: u32,
}

impl Default for DeadLetter {
    fn default() -> Self {
        DeadLetter {
            enabled: true,
            max_receive_count: default_max_receive(),
            message_retention_seconds: default_dlq_retention(),
        }
    }
}

fn default_visibility() -> u32 {
    30
}
fn default_retention() -> u32 {
    345_600
}
fn default_wait() -> u32 {
    20
}
fn default_true() -> bool {
    true
}
fn default_max_receive() -> u32 {
    5
}
fn default_dlq_retention() -> u32 {
    1_209_600
}
