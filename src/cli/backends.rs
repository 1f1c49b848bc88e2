//! From the command line's configuration to opened backends, plus the
//! runtime and small parsers the state and lock commands share.

use anyhow::Result;

use super::Context;
use crate::aws::{AwsError, ServiceSettings};
use crate::backend::{self, BackendSettings, Backends, LockBackendSettings, StateBackendSettings};
use crate::config::{BackendType, Config, LocksType};
use crate::exit::{ExitStatus, Failure};
use crate::scope::{Name, NameError, StackScope};

/// Maps the effective configuration onto backend settings.
pub fn settings(ctx: &Context, config: &Config) -> Result<BackendSettings> {
    let state = match config.backend {
        BackendType::S3 => StateBackendSettings::S3 {
            bucket: config.bucket.clone().ok_or_else(|| {
                Failure::new(
                    ExitStatus::Invalid,
                    "the S3 backend needs a bucket\nhint: set `backend.bucket` in the panka config or PANKA_BACKEND_BUCKET",
                )
            })?,
            prefix: config.prefix.clone(),
            service: ServiceSettings {
                region: config.backend_region.clone(),
                endpoint: config.backend_endpoint.clone(),
            },
        },
        BackendType::Local => StateBackendSettings::Local {
            prefix: config.prefix.clone(),
        },
    };
    let locks = match config.locks {
        LocksType::Dynamodb => LockBackendSettings::DynamoDb {
            table: Some(config.lock_table.clone()),
            service: ServiceSettings { region: config.locks_region.clone(), endpoint: config.locks_endpoint.clone() },
        },
        LocksType::Local => LockBackendSettings::Local,
    };
    Ok(BackendSettings {
        state,
        locks,
        aws: config.aws_settings(),
        tenant: Some(config.tenant.clone()),
        stack_dir: ctx.stack_dir(),
    })
}

/// Opens the configured backends.
pub async fn open(ctx: &Context, config: &Config) -> Result<Backends> {
    let settings = settings(ctx, config)?;
    backend::open(&settings).await.map_err(name_failure)
}

/// A single-use runtime for the async state and lock code.
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    Ok(runtime.block_on(future))
}

/// The stack and environment the command is about: `--stack`, or the
/// directory's Stack document.
pub fn stack_scope(ctx: &Context, backends: &Backends) -> Result<StackScope> {
    let env = ctx.environment();
    let stack = match &ctx.global.stack {
        Some(s) => s.clone(),
        None => {
            let prepared = crate::pipeline::prepare(&ctx.load_options(&env)).map_err(|f| ctx.report(f))?;
            prepared.stack.name().to_string()
        }
    };
    let stack = Name::new("stack", &stack).map_err(name_failure)?;
    let env = Name::new("environment", &env).map_err(name_failure)?;
    Ok(backends.tenant.stack(stack, env))
}

pub fn name_failure(err: NameError) -> anyhow::Error {
    Failure::new(ExitStatus::Invalid, err.to_string()).into()
}

pub fn aws_failure(err: AwsError) -> anyhow::Error {
    Failure::new(ExitStatus::Error, err.to_string()).into()
}

pub use crate::config::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
