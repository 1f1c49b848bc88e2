//! `panka admin init` (create the state bucket and the lock table) and
//! `panka admin tenant create|list|show|rotate|delete` (SPEC §12).

use anyhow::Result;
use clap::{Args, Subcommand};

use super::backends::{aws_failure, block_on, settings};
use super::Context;
use crate::admin::{self, InitOptions, Retention};
use crate::aws;
use crate::backend::{LockBackendSettings, StateBackendSettings};
use crate::exit::{ExitStatus, Failure};

pub use super::tenant::TenantCommand;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create (or bring up to date) the state bucket and the lock table.
    Init(InitArgs),
    /// Onboard, inspect, rotate and remove tenants (each with its own IAM role).
    #[command(subcommand)]
    Tenant(TenantCommand),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Days a replaced version of a state object is kept.
    #[arg(long, default_value_t = 90)]
    pub noncurrent_days: i32,
    /// Days a history copy is kept.
    #[arg(long, default_value_t = 365)]
    pub history_days: i32,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After a migration to `<table>-v2`: delete the old-layout table once
    /// no live lock is left in it.
    #[arg(long)]
    pub drop_legacy: bool,
}

pub fn run(ctx: &Context, args: AdminArgs) -> Result<ExitStatus> {
    match args.command {
        AdminCommand::Init(init) => run_init(ctx, init),
        AdminCommand::Tenant(command) => super::tenant::run(ctx, command),
    }
}

fn run_init(ctx: &Context, args: InitArgs) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let settings = settings(ctx, &config)?;
    let (
        StateBackendSettings::S3 { bucket, service: s3_service, .. },
        LockBackendSettings::DynamoDb { table, service: ddb_service },
    ) = (&settings.state, &settings.locks)
    else {
        return Err(Failure::new(
            ExitStatus::Invalid,
            "`panka admin init` sets up the S3 bucket and the DynamoDB table; this configuration uses a local backend\nhint: set `backend.type: s3`, `backend.bucket` and `locks.type: dynamodb` (or PANKA_BACKEND_TYPE/PANKA_BACKEND_BUCKET/PANKA_LOCKS_TYPE)",
        )
        .into());
    };
    let table = table.clone().unwrap_or_else(|| crate::lock::dynamodb::DEFAULT_TABLE.to_string());
    let options = InitOptions {
        retention: Retention { noncurrent_days: args.noncurrent_days, history_days: args.history_days },
        dry_run: args.dry_run,
        drop_legacy: args.drop_legacy,
    };
    let report = block_on(async {
        let sdk = aws::load_config(&settings.aws).await;
        let s3 = aws_sdk_s3::Client::from_conf(aws::s3_config(&sdk, s3_service).build());
        let ddb = aws_sdk_dynamodb::Client::from_conf(aws::dynamodb_config(&sdk, ddb_service).build());
        admin::init(&s3, bucket, &ddb, &table, options).await
    })?
    .map_err(aws_failure)?;
    if ctx.printer.json_mode() {
        ctx.printer.json(&report);
    } else {
        ctx.printer.out(&report.to_string());
    }
    Ok(ExitStatus::Ok)
}
