//! `kind: Stack` — the deployable unit: provider, what the platform team
//! shares, variables, defaults and deployment settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::variables_map;
use super::infra::InfraSpec;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StackSpec {
    pub provider: Provider,
    #[serde(default)]
    pub shared: Shared,
    #[serde(default, deserialize_with = "variables_map")]
    pub variables: BTreeMap<String, String>,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub deployment: Deployment,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Provider {
    #[serde(default = "default_provider_name")]
    pub name: String,
    pub region: String,
    /// When set, Pulumi refuses to deploy into any other account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

fn default_provider_name() -> String {
    "aws".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Shared {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<SharedLoadBalancer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Network {
    pub vpc_id: String,
    #[serde(default)]
    pub private_subnet_ids: Vec<String>,
    #[serde(default)]
    pub public_subnet_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Cluster {
    /// An existing ECS cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Let panka create a cluster for the stack.
    #[serde(default)]
    pub create: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SharedLoadBalancer {
    /// The shared ALB listener that MicroServices attach rules to.
    pub listener_arn: String,
    /// The ALB's security group, allowed into the services' security groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// Public DNS name used to build MicroService `url` outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Defaults {
    /// Infra every container component starts from (its ComponentInfra wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra: Option<serde_json::Value>,
}

impl Defaults {
    /// Typed view of `infra`, checked by the loader.
    pub fn infra_spec(&self) -> Option<InfraSpec> {
        self.infra.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LockGranularity {
    #[default]
    Stack,
    Service,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Deployment {
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
    #[serde(default)]
    pub lock_granularity: LockGranularity,
    /// Environments that ask for confirmation before apply/destroy.
    #[serde(default)]
    pub require_approval: Vec<String>,
}

fn default_parallelism() -> u32 {
    4
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            parallelism: default_parallelism(),
            lock_granularity: LockGranularity::Stack,
            require_approval: Vec::new(),
        }
    }
}
