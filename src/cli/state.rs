//! `panka state show|list|history|pull|push`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};

use super::backends::{block_on, open, parse_duration, stack_scope};
use super::Context;
use crate::exit::{ExitStatus, Failure};
use crate::lock::{acquire, AcquireOptions, Granularity, LockRequest, Owner};
use crate::state::ops;

#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Show the current state of the stack and environment.
    Show,
    /// List the tenant's stacks and environments that have a state.
    List,
    /// List the history copies of the state.
    History,
    /// Print the stored state (or a history copy) exactly as stored.
    Pull(PullArgs),
    /// Replace the stored state with a file (e.g. one saved by a failed write).
    Push(PushArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// A serial from `panka state history` instead of the current state.
    #[arg(long)]
    pub serial: Option<u64>,
    /// Write to this file instead of stdout.
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The state file to push.
    pub file: PathBuf,
    /// Push even an older serial or another lineage.
    #[arg(long)]
    pub force: bool,
    /// How long to wait for the stack lock, e.g. 30s or 10m.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub lock_timeout: Duration,
}

pub fn run(ctx: &Context, args: StateArgs) -> Result<ExitStatus> {
    let config = ctx.config()?;
    block_on(async {
        let backends = open(ctx, &config).await?;
        let store = backends.state.as_ref();
        match args.command {
            StateCommand::List => {
                let list = ops::list(store, &backends.tenant).await.map_err(Failure::from)?;
                print(ctx, &list);
            }
            StateCommand::Show => {
                let scope = stack_scope(ctx, &backends)?;
                match ops::show(store, &scope).await.map_err(Failure::from)? {
                    Some(view) => print(ctx, &view),
                    None => return Err(no_state(&scope.display())),
                }
            }
            StateCommand::History => {
                let scope = stack_scope(ctx, &backends)?;
                let history = ops::history(store, &scope).await.map_err(Failure::from)?;
                print(ctx, &history);
            }
            StateCommand::Pull(pull) => {
                let scope = stack_scope(ctx, &backends)?;
                let Some(bytes) = ops::pull(store, &scope, pull.serial).await.map_err(Failure::from)? else {
                    return Err(no_state(&scope.display()));
                };
                match &pull.out {
                    Some(path) => {
                        std::fs::write(path, &bytes).with_context(|| format!("cannot write `{}`", path.display()))?
                    }
                    None => ctx.printer.out(&String::from_utf8_lossy(&bytes)),
                }
            }
            StateCommand::Push(push) => {
                let scope = stack_scope(ctx, &backends)?;
                let body =
                    std::fs::read(&push.file).with_context(|| format!("cannot read `{}`", push.file.display()))?;
                let request = LockRequest {
                    scope: scope.clone(),
                    granularity: Granularity::Stack,
                    owner: Owner::current("state-push", &uuid::Uuid::new_v4().to_string()),
                    // Whatever the stack's granularity, a push replaces the whole state.
                };
                let options = AcquireOptions {
                    lease: config.lock_lease,
                    timeout: push.lock_timeout,
                    ..AcquireOptions::default()
                };
                let guard = acquire(Arc::clone(&backends.locks), &request, &options).await.map_err(Failure::from)?;
                let watch = guard.watch();
                let result =
                    ops::push(store, &scope, &body, &push.file.display().to_string(), push.force, Some(&watch)).await;
                let released = guard.release().await;
                let pushed = result.map_err(Failure::from)?;
                released.map_err(Failure::from)?;
                print(ctx, &pushed);
            }
        }
        Ok(ExitStatus::Ok)
    })?
}

fn print<T: std::fmt::Display + serde::Serialize>(ctx: &Context, value: &T) {
    if ctx.printer.json_mode() {
        ctx.printer.json(value);
    } else {
        ctx.printer.out(&value.to_string());
    }
}

fn no_state(what: &str) -> anyhow::Error {
    Failure::new(
        ExitStatus::Error,
        format!("no state for `{what}` yet\nhint: `panka state list` shows the stacks that have one"),
    )
    .into()
}
