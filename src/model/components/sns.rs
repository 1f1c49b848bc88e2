//! `kind: SNS` — a topic and its subscriptions.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnsSpec {
    #[serde(default)]
    pub fifo: bool,
    #[serde(default)]
    pub content_based_deduplication: bool,
    /// KMS key for encryption at rest; defaults to the AWS-managed SNS key.
    #[serde(default = "default_kms")]
    pub kms_key_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Expected monthly volumes, for the cost estimate only (docs/cost.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::model::common::Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subscription {
    pub name: String,
    /// An SQS or Lambda component of the stack…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// …or an external endpoint (`https://…`, an email address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `sqs`, `lambda`, `https`, `email`; implied by `component`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default)]
    pub raw_message_delivery: bool,
    /// An SNS filter policy (JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_policy: Option<serde_json::Value>,
}

fn default_kms() -> String {
    "alias/aws/sns".to_string()
}
