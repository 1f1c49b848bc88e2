//! `panka plan`: what apply would change, against the state.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use super::Context;
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
    #[command(flatten)]
    pub policy: super::policy::PolicyFlags,
}

pub fn run(ctx: &Context, args: PlanArgs) -> Result<ExitStatus> {
    let env = ctx.environment();
    let p = prepare(&ctx.load_options(&env)).map_err(|f| ctx.report(f))?;
    if !p.warnings.is_empty() && !ctx.printer.json_mode() {
        ctx.printer.diagnostics(&p.stack.sources, &p.warnings);
    }
    let config = ctx.config()?;
    let state = read_state(ctx, &config, p.stack.name(), &env)?;
    let mut plan = plan::plan(&p.stack, &p.graph, state.as_ref(), &config.tenant);
    plan.cost = Some(crate::cost::estimate(&plan, state.as_ref(), &p.stack.provider.region));
    let policies = super::policy::load(ctx, &config)?;
    let verdict = super::policy::check_plan(&policies, &p, &config, &args.policy, &mut plan)?;
    if let Some(out) = args.out.as_ref().filter(|_| !verdict.denied()) {
        let text = serde_json::to_string_pretty(&plan).expect("plans serialize");
        std::fs::write(out, text).with_context(|| format!("cannot write the plan to `{}`", out.display()))?;
    }
    if ctx.printer.json_mode() {
        ctx.printer.json(&plan);
    } else {
        ctx.printer.out(&render::to_text(&plan, ctx.printer.color, args.show_unchanged));
        if let Some(cost) = &plan.cost {
            ctx.printer.out(&crate::cost::render::to_text(cost, ctx.printer.verbose > 0));
        }
    }
    super::policy::finish(ctx, &p.stack, &verdict, true)?;
    if !ctx.printer.json_mode() {
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

/// The stored state of a stack and environment (S3 or the local backend).
fn read_state(ctx: &Context, config: &crate::config::Config, stack: &str, env: &str) -> Result<Option<State>> {
    use super::backends::{block_on, name_failure, open};
    use crate::scope::Name;
    block_on(async {
        let backends = open(ctx, config).await?;
        let scope = backends.tenant.stack(
            Name::new("stack", stack).map_err(name_failure)?,
            Name::new("environment", env).map_err(name_failure)?,
        );
        let state = crate::state::read_state(backends.state.as_ref(), &scope).await.map_err(Failure::from)?;
        Ok(state.map(|(state, _)| state))
    })?
}
