//! `kind: Lambda` — a function from code in S3 or a container image.

use serde::{Deserialize, Serialize};

use crate::model::common::{Access, EnvVar};
use crate::model::infra::Architecture;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaSpec {
    /// `python3.12`, `nodejs20.x`, `java21`, `provided.al2023` … (not for images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// `module.function` (not for images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    pub code: LambdaCode,
    /// MiB, 128–10240.
    #[serde(default = "default_memory")]
    pub memory: u32,
    /// 1–900.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    #[serde(default = "default_arch")]
    pub architecture: Architecture,
    /// Reserved concurrency; unset means the account's unreserved pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
    /// Run inside the stack's private subnets.
    #[serde(default)]
    pub vpc: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<EnvVar>,
    /// Queues (SQS components) that invoke this function.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<LambdaTrigger>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<Access>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Days CloudWatch keeps the function's logs.
    #[serde(default = "default_log_retention")]
    pub log_retention_days: u32,
    /// Expected monthly volumes, for the cost estimate only (docs/cost.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::model::common::Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaCode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Code>,
    /// A container image URI (ECR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Code {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaTrigger {
    /// An SQS component.
    pub component: String,
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_batching_window_seconds: Option<u32>,
}

fn default_memory() -> u32 {
    256
}
fn default_timeout() -> u32 {
    30
}
fn default_arch() -> Architecture {
    Architecture::Arm64
}
fn default_batch() -> u32 {
    10
}
fn default_log_retention() -> u32 {
    30
}
