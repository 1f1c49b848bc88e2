//! `kind: Environment` — per-environment variables, provider and approval.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::variables_map;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    #[serde(default, deserialize_with = "variables_map")]
    pub variables: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<EnvironmentProvider>,
    #[serde(default)]
    pub require_approval: bool,
    /// Stateful components get deletion protection unless they say otherwise.
    /// Defaults to true for `production`/`prod` and approval-gated environments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    /// The CloudWatch alarms panka adds to components (issue 12) and where
    /// they notify. Absent: alarms on, no notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<AlarmsSpec>,
}

/// `spec.alarms` of an Environment: target group 5xx (also the
/// MicroService's deployment rollback alarm), dead-letter queue depth and
/// RDS free storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlarmsSpec {
    /// Add the alarms at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Create one SNS topic for the environment's alarms, in the stack's
    /// shared program (`<stack>-shared`); subscribe to it out of band.
    #[serde(default)]
    pub create_topic: bool,
    /// Or notify an existing SNS topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_arn: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for AlarmsSpec {
    fn default() -> Self {
        AlarmsSpec { enabled: true, create_topic: false, topic_arn: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}
