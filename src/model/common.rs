//! Pieces shared by several kinds: metadata, references, environment
//! variables, secrets.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The identity of a component: `service/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComponentId {
    pub service: String,
    pub name: String,
}

impl ComponentId {
    pub fn new(service: impl Into<String>, name: impl Into<String>) -> Self {
        ComponentId { service: service.into(), name: name.into() }
    }

    /// Pulumi project name: `<service>-<component>`.
    pub fn project(&self) -> String {
        format!("{}-{}", self.service, self.name)
    }

    /// Parse `service/name`.
    pub fn parse(s: &str) -> Option<Self> {
        let (svc, name) = s.split_once('/')?;
        Some(ComponentId::new(svc, name))
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.name)
    }
}

/// `{component, output}`: an output of another component. `component` is
/// `name` (same service first) or `service/name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueFrom {
    pub component: String,
    pub output: String,
}

/// A container or function environment variable: a value or an output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, deserialize_with = "opt_string_like", skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
}

/// A secret injected by ECS from Secrets Manager or SSM: panka only ever
/// handles its ARN, never its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
    /// A JSON key inside the secret (`DB_PASSWORD` from `{"password": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessAction {
    Read,
    Write,
    Publish,
    Consume,
}

/// Explicit access of a compute component to a data component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub component: String,
    #[serde(default = "default_access_actions")]
    pub actions: Vec<AccessAction>,
}

fn default_access_actions() -> Vec<AccessAction> {
    vec![AccessAction::Read]
}

/// A string, number or boolean read as a string (variables, env values).
pub fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        other => Err(D::Error::custom(format!(
            "invalid type: {}, expected a string, number or boolean",
            json_type_name(&other)
        ))),
    }
}

pub fn opt_string_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    string_like(d).map(Some)
}

/// A map of variables whose values may be strings, numbers or booleans.
pub fn variables_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    struct V(#[serde(deserialize_with = "string_like")] String);
    let map: BTreeMap<String, V> = BTreeMap::deserialize(d)?;
    Ok(map.into_iter().map(|(k, V(v))| (k, v)).collect())
}

pub fn json_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "sequence",
        serde_json::Value::Object(_) => "map",
    }
}

/// `usage:` on kinds billed by volume (Lambda, SQS, SNS, S3, DynamoDB on
/// demand): what the team expects per month, for the plan's cost estimate
/// only (issue 15). Nothing here reaches AWS; a volume left out is not
/// estimated and the plan says so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Usage {
    /// Requests (Lambda invocations, SQS/SNS requests) per month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_month: Option<u64>,
    /// Lambda: average run time of one invocation, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_duration_ms: Option<u64>,
    /// Stored data (S3 objects, DynamoDB items), in GB.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "storageGB")]
    pub storage_gb: Option<f64>,
    /// DynamoDB on demand: read and write request units per month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads_per_month: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes_per_month: Option<u64>,
}
