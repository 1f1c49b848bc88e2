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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}
