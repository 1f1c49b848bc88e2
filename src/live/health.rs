//! `panka status --live` (issue 13): how AWS sees a deployed component now
//! — ECS running/desired/pending tasks, rollout state and latest events;
//! a Lambda function's state; an RDS instance's status. Read-only calls,
//! found by the physical names the component's program gives
//! ([`crate::pulumi::emit::live_names`]).

use aws_sdk_s3::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

use crate::aws::{explain, Resource};
use crate::pulumi::emit::LiveNames;

/// What AWS says of one component, marked live in every output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LiveHealth {
    EcsService {
        cluster: String,
        service: String,
        /// `ACTIVE`, `DRAINING` or `INACTIVE`.
        status: String,
        running: i32,
        desired: i32,
        pending: i32,
        /// The primary deployment's rollout: `IN_PROGRESS`, `COMPLETED`, `FAILED`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rollout: Option<String>,
        /// The latest service events, newest first (at most 3).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        events: Vec<String>,
    },
    Lambda {
        function: String,
        /// `Active`, `Pending`, `Inactive` or `Failed`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_update: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Rds {
        instance: String,
        status: String,
    },
    /// AWS has no such resource (deleted out of band, or another account/region).
    Missing {
        what: String,
        name: String,
    },
    /// AWS could not be asked (access denied, network …).
    Unavailable {
        error: String,
    },
}

impl std::fmt::Display for LiveHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveHealth::EcsService { status, running, desired, pending, rollout, events, .. } => {
                write!(f, "ECS {status}: {running}/{desired} running, {pending} pending")?;
                if let Some(r) = rollout {
                    write!(f, ", rollout {}", r.to_lowercase().replace('_', " "))?;
                }
                for e in events {
                    write!(f, "\n      {e}")?;
                }
                Ok(())
            }
            LiveHealth::Lambda { state, last_update, reason, .. } => {
                write!(f, "Lambda {}", state.as_deref().unwrap_or("unknown"))?;
                if let Some(u) = last_update {
                    write!(f, ", last update {u}")?;
                }
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                Ok(())
            }
            LiveHealth::Rds { status, .. } => write!(f, "RDS {status}"),
            LiveHealth::Missing { what, name } => write!(f, "{what} `{name}` does not exist in AWS"),
            LiveHealth::Unavailable { error } => write!(f, "unavailable: {error}"),
        }
    }
}

/// The clients `status --live` asks, in the stack's region.
#[derive(Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub rds: aws_sdk_rds::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig, region: Option<&str>) -> Clients {
        Clients {
            ecs: crate::aws::ecs_client(sdk, region),
            lambda: crate::aws::lambda_client(sdk, region),
            rds: crate::aws::rds_client(sdk, region),
        }
    }
}

/// The live health of a component with these names; `None` when its kind
/// has nothing AWS reports health for (queues, tables, buckets …).
pub async fn check(clients: &Clients, names: &LiveNames) -> Option<LiveHealth> {
    if let Some((cluster, service)) = &names.ecs_service {
        return Some(ecs(&clients.ecs, cluster, service).await);
    }
    if let Some(function) = &names.function {
        return Some(lambda(&clients.lambda, function).await);
    }
    if let Some(instance) = &names.db_instance {
        return Some(rds(&clients.rds, instance).await);
    }
    None
}

fn unavailable(e: crate::aws::AwsError) -> LiveHealth {
    LiveHealth::Unavailable { error: e.message }
}

async fn ecs(client: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> LiveHealth {
    let resp = match client.describe_services().cluster(cluster).services(service).send().await {
        Ok(r) => r,
        Err(e) if e.code() == Some("ClusterNotFoundException") => {
            return LiveHealth::Missing { what: "ECS cluster".into(), name: cluster.into() }
        }
        Err(e) => return unavailable(explain(&e, "ecs:DescribeServices", Resource::Named("ECS service", service))),
    };
    let Some(s) = resp.services().iter().find(|s| s.service_name() == Some(service)) else {
        return LiveHealth::Missing { what: "ECS service".into(), name: format!("{cluster}/{service}") };
    };
    let rollout = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .and_then(|d| d.rollout_state())
        .map(|r| r.as_str().to_string());
    let events = s
        .events()
        .iter()
        .take(3)
        .map(|e| {
            let at = e
                .created_at()
                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0))
                .map(|t| t.format("%Y-%m-%d %H:%M:%S ").to_string())
                .unwrap_or_default();
            format!("{at}{}", e.message().unwrap_or_default())
        })
        .collect();
    LiveHealth::EcsService {
        cluster: cluster.into(),
        service: service.into(),
        status: s.status().unwrap_or("UNKNOWN").to_string(),
        running: s.running_count(),
        desired: s.desired_count(),
        pending: s.pending_count(),
        rollout,
        events,
    }
}

async fn lambda(client: &aws_sdk_lambda::Client, function: &str) -> LiveHealth {
    match client.get_function().function_name(function).send().await {
        Ok(r) => {
            let c = r.configuration();
            LiveHealth::Lambda {
                function: function.into(),
                state: c.and_then(|c| c.state()).map(|s| s.as_str().to_string()),
                last_update: c.and_then(|c| c.last_update_status()).map(|s| s.as_str().to_string()),
                reason: c.and_then(|c| c.state_reason()).map(str::to_string),
            }
        }
        Err(e) if e.code() == Some("ResourceNotFoundException") => {
            LiveHealth::Missing { what: "Lambda function".into(), name: function.into() }
        }
        Err(e) => unavailable(explain(&e, "lambda:GetFunction", Resource::Named("Lambda function", function))),
    }
}

async fn rds(client: &aws_sdk_rds::Client, instance: &str) -> LiveHealth {
    match client.describe_db_instances().db_instance_identifier(instance).send().await {
        Ok(r) => match r.db_instances().first() {
            Some(db) => LiveHealth::Rds {
                instance: instance.into(),
                status: db.db_instance_status().unwrap_or("unknown").to_string(),
            },
            None => LiveHealth::Missing { what: "RDS instance".into(), name: instance.into() },
        },
        Err(e) if e.code() == Some("DBInstanceNotFound") || e.code() == Some("DBInstanceNotFoundFault") => {
            LiveHealth::Missing { what: "RDS instance".into(), name: instance.into() }
        }
        Err(e) => unavailable(explain(&e, "rds:DescribeDBInstances", Resource::Named("RDS instance", instance))),
    }
}
