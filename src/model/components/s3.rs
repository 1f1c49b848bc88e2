//! `kind: S3` — a bucket: private, encrypted and versioned unless told otherwise.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Spec {
    #[serde(default = "default_true")]
    pub versioning: bool,
    #[serde(default)]
    pub encryption: S3Encryption,
    /// Keep the public access block on (the default); set false only for
    /// buckets that serve public content.
    #[serde(default = "default_true")]
    pub block_public_access: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_rules: Vec<LifecycleRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors: Vec<CorsRule>,
    /// Allow destroy to delete a non-empty bucket. Never in production.
    #[serde(default)]
    pub force_destroy: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Expected monthly volumes, for the cost estimate only (docs/cost.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::model::common::Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Encryption {
    /// `AES256` (S3-managed keys) or `aws:kms`.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Default for S3Encryption {
    fn default() -> Self {
        S3Encryption { algorithm: default_algorithm(), kms_key_id: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LifecycleRule {
    pub name: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration_days: Option<u32>,
    /// Move objects to this storage class after `transitionDays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_storage_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CorsRule {
    pub allowed_origins: Vec<String>,
    #[serde(default = "default_methods")]
    pub allowed_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

fn default_true() -> bool {
    true
}
fn default_algorithm() -> String {
    "AES256".to_string()
}
fn default_methods() -> Vec<String> {
    vec!["GET".to_string()]
}
