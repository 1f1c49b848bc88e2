//! `panka plan`: what apply would change, against the state.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use super::Context;
use crate::config::BackendType;
use crate::exit::{ExitStatus, Failure};
use crate::pipeline::prepare;
use crate::plan::{self, render};
use crate::state::State;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Save the plan for `panka apply plan.json`.
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 6 when there are.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also list components that do not change.
    #[arg(long)]
    pub show_unchanged: bool,
}

pub fn run(ctx: &Context, args: PlanArgs) -> Result<ExitStatus> {
    let env = ctx.environment();
    let p = prepare(&ctx.load_options(&env)).map_err(|f| ctx.report(f))?;
    if !p.warnings.is_empty() && !ctx.printer.json_mode() {
        ctx.printer.diagnostics(&p.stack.sources, &p.warnings);
    }
    let config = ctx.config()?;
    let state = read_state(ctx, &config, p.stack.name(), &env)?;
    let plan = plan::plan(&p.stack, &p.graph, state.as_ref(), &config.tenant);
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&plan).expect("plans serialize");
        std::fs::write(out, text).with_context(|| format!("cannot write the plan to `{}`", out.display()))?;
    }
    if ctx.printer.json_mode() {
        ctx.printer.json(&plan);
    } else {
        ctx.printer.out(&render::to_text(&plan, ctx.printer.color, args.show_unchanged));
        if let Some(out) = &args.out {
            ctx.printer.info(&format!(
                "saved the plan to `{}`; apply exactly it with `panka apply {}`",
                out.display(),
                out.display()
            ));
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() { ExitStatus::ChangesPresent } else { ExitStatus::Ok })
}

/// The state of a stack and environment in the local backend.
fn read_state(ctx: &Context, config: &crate::config::Config, stack: &str, env: &str) -> Result<Option<State>> {
    if config.backend != BackendType::Local {
        return Err(Failure::new(
            ExitStatus::Error,
            "this build of panka plans against the local backend only; the S3 state store is not part of it yet\nhint: unset PANKA_BACKEND_TYPE/PANKA_BACKEND_BUCKET (or the config file's backend) to use the local backend",
        )
        .into());
    }
    let mut path = ctx.stack_dir().join(".panka");
    if !config.prefix.is_empty() {
        path.push(&config.prefix);
    }
    if config.tenant != "default" {
        path.push("tenants");
        path.push(&config.tenant);
    }
    path.push(format!("stacks/{stack}/{env}/state.json"));
    match std::fs::read(&path) {
        Ok(bytes) => {
            let state: State = serde_json::from_slice(&bytes)
                .with_context(|| format!("the state file `{}` is not a panka state", path.display()))?;
            Ok(Some(state))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    }
}
