//! The ten deployable component kinds (SPEC §3), one file each.

mod container;
mod cronjob;
mod dynamodb;
mod elasticache;
mod lambda;
mod microservice;
mod rds;
mod s3;
mod sns;
mod sqs;
mod worker;

pub use container::*;
pub use cronjob::*;
pub use dynamodb::*;
pub use elasticache::*;
pub use lambda::*;
pub use microservice::*;
pub use rds::*;
pub use s3::*;
pub use sns::*;
pub use sqs::*;
pub use worker::*;

use serde::{Deserialize, Serialize};

use super::common::{Access, EnvVar, SecretRef, ValueFrom};
use super::kind::Kind;

/// The spec of a component, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ComponentSpec {
    MicroService(MicroServiceSpec),
    Worker(WorkerSpec),
    CronJob(CronJobSpec),
    Lambda(LambdaSpec),
    Rds(RdsSpec),
    DynamoDB(DynamoDbSpec),
    S3(S3Spec),
    Sqs(SqsSpec),
    Sns(SnsSpec),
    ElastiCache(ElastiCacheSpec),
}

impl ComponentSpec {
    /// Deserialize the `spec` of a component of `kind`.
    pub fn from_json(
        kind: Kind,
        value: serde_json::Value,
    ) -> Result<ComponentSpec, serde_path_to_error::Error<serde_json::Error>> {
        fn de<T: serde::de::DeserializeOwned>(
            v: serde_json::Value,
        ) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
            serde_path_to_error::deserialize(v)
        }
        Ok(match kind {
            Kind::MicroService => ComponentSpec::MicroService(de(value)?),
            Kind::Worker => ComponentSpec::Worker(de(value)?),
            Kind::CronJob => ComponentSpec::CronJob(de(value)?),
            Kind::Lambda => ComponentSpec::Lambda(de(value)?),
            Kind::Rds => ComponentSpec::Rds(de(value)?),
            Kind::DynamoDB => ComponentSpec::DynamoDB(de(value)?),
            Kind::S3 => ComponentSpec::S3(de(value)?),
            Kind::Sqs => ComponentSpec::Sqs(de(value)?),
            Kind::Sns => ComponentSpec::Sns(de(value)?),
            Kind::ElastiCache => ComponentSpec::ElastiCache(de(value)?),
            other => unreachable!("{other} is not a component kind"),
        })
    }

    pub fn kind(&self) -> Kind {
        match self {
            ComponentSpec::MicroService(_) => Kind::MicroService,
            ComponentSpec::Worker(_) => Kind::Worker,
            ComponentSpec::CronJob(_) => Kind::CronJob,
            ComponentSpec::Lambda(_) => Kind::Lambda,
            ComponentSpec::Rds(_) => Kind::Rds,
            ComponentSpec::DynamoDB(_) => Kind::DynamoDB,
            ComponentSpec::S3(_) => Kind::S3,
            ComponentSpec::Sqs(_) => Kind::Sqs,
            ComponentSpec::Sns(_) => Kind::Sns,
            ComponentSpec::ElastiCache(_) => Kind::ElastiCache,
        }
    }

    /// The container part of container kinds.
    pub fn container(&self) -> Option<Container<'_>> {
        match self {
            ComponentSpec::MicroService(s) => Some(s.container()),
            ComponentSpec::Worker(s) => Some(s.container()),
            ComponentSpec::CronJob(s) => Some(s.container()),
            _ => None,
        }
    }

    pub fn depends_on(&self) -> &[String] {
        match self {
            ComponentSpec::MicroService(s) => &s.depends_on,
            ComponentSpec::Worker(s) => &s.depends_on,
            ComponentSpec::CronJob(s) => &s.depends_on,
            ComponentSpec::Lambda(s) => &s.depends_on,
            ComponentSpec::Rds(s) => &s.depends_on,
            ComponentSpec::DynamoDB(s) => &s.depends_on,
            ComponentSpec::S3(s) => &s.depends_on,
            ComponentSpec::Sqs(s) => &s.depends_on,
            ComponentSpec::Sns(s) => &s.depends_on,
            ComponentSpec::ElastiCache(s) => &s.depends_on,
        }
    }

    pub fn environment(&self) -> &[EnvVar] {
        match self {
            ComponentSpec::Lambda(s) => &s.environment,
            other => other.container().map_or(&[], |c| c.environment),
        }
    }

    pub fn secrets(&self) -> &[SecretRef] {
        self.container().map_or(&[], |c| c.secrets)
    }

    pub fn access(&self) -> &[Access] {
        match self {
            ComponentSpec::Lambda(s) => &s.access,
            other => other.container().map_or(&[], |c| c.access),
        }
    }

    /// Every structured reference to another component in this spec, with
    /// the path of the field that holds it (for diagnostics).
    pub fn references(&self) -> Vec<(String, Reference<'_>)> {
        let mut refs = Vec::new();
        for (i, d) in self.depends_on().iter().enumerate() {
            refs.push((format!("spec.dependsOn[{i}]"), Reference::DependsOn(d)));
        }
        for (i, e) in self.environment().iter().enumerate() {
            if let Some(vf) = &e.value_from {
                refs.push((format!("spec.environment[{i}].valueFrom.component"), Reference::ValueFrom(vf)));
            }
        }
        for (i, s) in self.secrets().iter().enumerate() {
            if let Some(vf) = &s.value_from {
                refs.push((format!("spec.secrets[{i}].valueFrom.component"), Reference::ValueFrom(vf)));
            }
        }
        for (i, a) in self.access().iter().enumerate() {
            refs.push((format!("spec.access[{i}].component"), Reference::Access(&a.component)));
        }
        match self {
            ComponentSpec::Lambda(l) => {
                for (i, t) in l.triggers.iter().enumerate() {
                    refs.push((format!("spec.triggers[{i}].component"), Reference::Trigger(&t.component)));
                }
            }
            ComponentSpec::Sns(s) => {
                for (i, sub) in s.subscriptions.iter().enumerate() {
                    if let Some(c) = &sub.component {
                        refs.push((format!("spec.subscriptions[{i}].component"), Reference::Subscription(c)));
                    }
                }
            }
            _ => {}
        }
        refs
    }
}

/// A reference from one component to another, by where it appears.
#[derive(Debug, Clone, Copy)]
pub enum Reference<'a> {
    DependsOn(&'a str),
    ValueFrom(&'a ValueFrom),
    Access(&'a str),
    Trigger(&'a str),
    Subscription(&'a str),
}

impl Reference<'_> {
    pub fn component(&self) -> &str {
        match self {
            Reference::DependsOn(c) | Reference::Access(c) | Reference::Trigger(c) | Reference::Subscription(c) => c,
            Reference::ValueFrom(vf) => &vf.component,
        }
    }
}
