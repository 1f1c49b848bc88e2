//! `kind: Service` — a group of components owned by one team.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::variables_map;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(default, deserialize_with = "variables_map")]
    pub variables: BTreeMap<String, String>,
    /// Every component of this service waits for all components of these services.
    #[serde(default)]
    pub depends_on: Vec<String>,
}
