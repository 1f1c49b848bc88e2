//! Kinds, their API groups and the outputs each component kind provides.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub const CORE_API: &str = "core.panka.io/v1";
pub const INFRA_API: &str = "infra.panka.io/v1";
pub const COMPONENTS_API: &str = "components.panka.io/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    Stack,
    Service,
    Environment,
    ComponentInfra,
    MicroService,
    Worker,
    CronJob,
    Lambda,
    #[serde(rename = "RDS")]
    Rds,
    DynamoDB,
    S3,
    #[serde(rename = "SQS")]
    Sqs,
    #[serde(rename = "SNS")]
    Sns,
    ElastiCache,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::Stack,
        Kind::Service,
        Kind::Environment,
        Kind::ComponentInfra,
        Kind::MicroService,
        Kind::Worker,
        Kind::CronJob,
        Kind::Lambda,
        Kind::Rds,
        Kind::DynamoDB,
        Kind::S3,
        Kind::Sqs,
        Kind::Sns,
        Kind::ElastiCache,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stack => "Stack",
            Kind::Service => "Service",
            Kind::Environment => "Environment",
            Kind::ComponentInfra => "ComponentInfra",
            Kind::MicroService => "MicroService",
            Kind::Worker => "Worker",
            Kind::CronJob => "CronJob",
            Kind::Lambda => "Lambda",
            Kind::Rds => "RDS",
            Kind::DynamoDB => "DynamoDB",
            Kind::S3 => "S3",
            Kind::Sqs => "SQS",
            Kind::Sns => "SNS",
            Kind::ElastiCache => "ElastiCache",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Stack | Kind::Service | Kind::Environment => CORE_API,
            Kind::ComponentInfra => INFRA_API,
            _ => COMPONENTS_API,
        }
    }

    /// A deployable component (a node of the graph).
    pub fn is_component(self) -> bool {
        self.api_version() == COMPONENTS_API
    }

    /// Runs containers on ECS and takes a ComponentInfra.
    pub fn is_container(self) -> bool {
        matches!(self, Kind::MicroService | Kind::Worker | Kind::CronJob)
    }

    /// Code that runs and may be granted access to data components.
    pub fn is_compute(self) -> bool {
        self.is_container() || self == Kind::Lambda
    }

    /// Holds data that must survive: deletion protection in production.
    pub fn is_stateful(self) -> bool {
        matches!(self, Kind::Rds | Kind::DynamoDB | Kind::S3 | Kind::ElastiCache)
    }

    /// The outputs a component of this kind provides (SPEC §3).
    pub fn outputs(self) -> &'static [&'static str] {
        match self {
            Kind::MicroService => &["url", "serviceName", "taskRoleArn", "securityGroupId"],
            Kind::Worker => &["serviceName", "taskRoleArn", "securityGroupId"],
            Kind::CronJob => &["scheduleArn", "taskRoleArn"],
            Kind::Lambda => &["arn", "name", "roleArn"],
            Kind::Rds => &["endpoint", "address", "port", "dbName", "masterUserSecretArn", "securityGroupId"],
            Kind::DynamoDB => &["tableName", "arn", "streamArn"],
            Kind::S3 => &["bucketName", "arn"],
            Kind::Sqs => &["url", "arn", "name", "dlqUrl", "dlqArn"],
            Kind::Sns => &["arn"],
            Kind::ElastiCache => &["primaryEndpoint", "readerEndpoint", "port", "securityGroupId"],
            Kind::Stack | Kind::Service | Kind::Environment | Kind::ComponentInfra => &[],
        }
    }

    /// Outputs whose values are numbers (`port`); every other output is a
    /// string. A number read through a StackReference stays a number in
    /// Pulumi YAML, so a string-valued field must convert it.
    pub fn numeric_output(self, output: &str) -> bool {
        matches!((self, output), (Kind::Rds | Kind::ElastiCache, "port"))
    }

    /// Outputs whose values are secret (never printed or stored).
    pub fn secret_outputs(self) -> &'static [&'static str] {
        &[]
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}
