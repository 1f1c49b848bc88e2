//! `panka locks` and `panka unlock <lockId>`.

use std::io::BufRead;

use anyhow::Result;
use clap::Args;

use super::backends::{block_on, open};
use super::Context;
use crate::exit::{ExitStatus, Failure};
use crate::lock::ops;

#[derive(Debug, Args)]
pub struct LocksArgs {
    /// Every tenant's locks (admin mode: needs access to the whole table).
    #[arg(long)]
    pub all_tenants: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The exact lock id, as `panka locks` or a "locked" message shows it.
    pub lock_id: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

pub fn run_locks(ctx: &Context, args: LocksArgs) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let listing = block_on(async {
        let backends = open(ctx, &config).await?;
        ops::list_locks(backends.locks.as_ref(), &backends.tenant, args.all_tenants)
            .await
            .map_err(|e| anyhow::Error::from(Failure::from(e)))
    })??;
    if ctx.printer.json_mode() {
        ctx.printer.json(&listing);
    } else {
        ctx.printer.out(&listing.to_string());
    }
    Ok(ExitStatus::Ok)
}

pub fn run_unlock(ctx: &Context, args: UnlockArgs) -> Result<ExitStatus> {
    let config = ctx.config()?;
    block_on(async {
        let backends = open(ctx, &config).await?;
        let record =
            ops::find_lock(backends.locks.as_ref(), &backends.tenant, &args.lock_id).await.map_err(Failure::from)?;
        let now = chrono::Utc::now().timestamp();
        if !args.force {
            if !ctx.printer.stdin_is_tty {
                return Err(Failure::new(
                    ExitStatus::Invalid,
                    format!(
                        "refusing to remove the lock `{}` without confirmation\nhint: it is {}; pass --force if that run is surely dead",
                        record.lock_key,
                        record.describe_holder(now)
                    ),
                )
                .into());
            }
            ctx.printer.info(&format!(
                "lock `{}` is {}\nremoving it lets another run deploy while that one may still be running.\ntype `yes` to remove it:",
                record.lock_key,
                record.describe_holder(now)
            ));
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            if answer.trim() != "yes" {
                return Err(Failure::new(ExitStatus::Error, "not removed").into());
            }
        }
        ops::unlock(backends.locks.as_ref(), &record).await.map_err(Failure::from)?;
        if ctx.printer.json_mode() {
            ctx.printer.json(&serde_json::json!({"removed": record}));
        } else {
            ctx.printer.out(&format!("removed lock `{}` ({})", record.lock_key, record.lock_id));
        }
        Ok(ExitStatus::Ok)
    })?
}
