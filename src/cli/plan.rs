//! `panka plan`: what apply would change, against the state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;

use super::backends::{block_on, name_failure, open};
use super::Context;
use crate::config::{BackendType, Config};
use crate::diagnostic::Diagnostic;
use crate::exit::{ExitStatus, Failure};
use crate::pipeline::{prepare, Prepared};
use crate::plan::{self, render};
use crate::pulumi::runner::{Runner, Secrets};
use crate::scope::Name;

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
    /// Below each changed component, the resources Pulumi would create,
    /// update, replace or delete (`pulumi preview`; needs pulumi and the
    /// stack's Pulumi backend, read-only).
    #[arg(long)]
    pub preview: bool,
    /// With `--preview`: how many components are previewed at once.
    #[arg(long, requires = "preview")]
    pub parallelism: Option<u32>,
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
    let state = super::policy::read_state(ctx, &config, p.stack.name(), &env)?;
    let mut plan = plan::plan(&p.stack, &p.graph, state.as_ref(), &config.tenant);
    plan.cost = Some(crate::cost::estimate(&plan, state.as_ref(), &p.stack.provider.region));
    let policies = super::policy::load(ctx, &config)?;
    let verdict = super::policy::check_plan(&policies, &p, &config, &args.policy, &mut plan)?;
    check_listener_priorities(ctx, &config, &p)?;
    // A deny ends the run before any Pulumi process (SPEC §7).
    if args.preview && !verdict.denied() {
        let parallelism = args.parallelism.unwrap_or(p.stack.stack.spec.deployment.parallelism).max(1) as usize;
        add_previews(ctx, &config, &p, &env, parallelism, &mut plan)?;
    }
    if let Some(out) = args.out.as_ref().filter(|_| !verdict.denied()) {
        let text = serde_json::to_string_pretty(&plan).expect("plans serialize");
        std::fs::write(out, text).with_context(|| format!("cannot write the plan to `{}`", out.display()))?;
    }
    if ctx.printer.json_mode() {
        ctx.printer.json(&plan);
    } else {
        ctx.printer.out(&render::to_text(&plan, ctx.printer.color, args.show_unchanged));
        if args.preview {
            ctx.printer.out(&previews_text(&plan));
        }
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

/// Fills in `changes[].preview`: creates list their program's resources;
/// updates and replacements whose upstreams do not change are previewed by
/// Pulumi, in parallel; the others wait for their upstreams.
fn add_previews(
    ctx: &Context,
    config: &crate::config::Config,
    p: &crate::pipeline::Prepared,
    env: &str,
    parallelism: usize,
    plan: &mut plan::Plan,
) -> Result<()> {
    use crate::plan::preview::Preview;
    use crate::plan::Action;
    let emit = super::deploy::emit_options(config);
    let input = crate::deploy::ApplyInput { stack: &p.stack, graph: &p.graph, emit: &emit, selection: None };
    let changing: BTreeSet<String> =
        plan.changes.iter().filter(|c| c.action.is_change()).map(|c| c.component.clone()).collect();
    let mut to_run = BTreeMap::new();
    for c in plan.changes.iter_mut() {
        match c.action {
            Action::Create => {
                let program = crate::deploy::program_for(&input, &c.component, c.action);
                c.preview = Some(program.map_or_else(Preview::failed, |p| Preview::listed(&p)));
            }
            Action::Update | Action::Replace => {
                let after: Vec<String> = c.dependencies.iter().filter(|d| changing.contains(*d)).cloned().collect();
                if !after.is_empty() {
                    c.preview = Some(Preview::after(after));
                    continue;
                }
                match crate::deploy::program_for(&input, &c.component, c.action) {
                    Ok(program) => {
                        to_run.insert(c.component.clone(), program);
                    }
                    Err(e) => c.preview = Some(Preview::failed(e)),
                }
            }
            Action::Delete | Action::NoOp => {}
        }
    }
    if to_run.is_empty() {
        return Ok(());
    }
    let binary =
        Runner::locate(config.pulumi_binary.as_deref()).map_err(|e| Failure::new(ExitStatus::Error, e.to_string()))?;
    let secrets = Secrets::from_config(config.pulumi_passphrase.as_deref())
        .map_err(|e| Failure::new(ExitStatus::Invalid, e.to_string()))?;
    let mut results = block_on(async {
        let backends = open(ctx, config).await?;
        let scope = backends.tenant.stack(
            Name::new("stack", p.stack.name()).map_err(name_failure)?,
            Name::new("environment", env).map_err(name_failure)?,
        );
        let runner = Arc::new(Runner::new(binary, &backends.pulumi_backend_url(&scope), secrets));
        let interrupt = crate::deploy::interrupts().map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C: {e}"))?;
        crate::deploy::check_pulumi(&ctx.printer, &runner, &interrupt).await?;
        anyhow::Ok(crate::deploy::preview::preview_all(runner, env, to_run, parallelism, &interrupt).await)
    })??;
    for c in plan.changes.iter_mut() {
        if let Some(preview) = results.remove(&c.component) {
            c.preview = Some(preview);
        }
    }
    Ok(())
}

/// The resource-level section below the plan.
fn previews_text(plan: &plan::Plan) -> String {
    let mut out = String::from("\nResource-level changes (pulumi preview):");
    let mut any = false;
    for c in &plan.changes {
        if let Some(p) = &c.preview {
            any = true;
            out.push_str(&format!("\n  {} ({})\n{p}", c.component, c.action));
        }
    }
    if !any {
        out.push_str("\n  none: no component is created, updated or replaced");
    }
    out
}

/// Checks the stack's listener rule priorities against the live shared
/// listener (issue 12, [`crate::live::listener`]) when panka works with AWS
/// (an `s3` backend): a priority another rule holds is an error (exit 2)
/// before any lock or Pulumi process; a listener panka cannot read is a
/// warning, since `pulumi up` remains the final judge.
pub(super) fn check_listener_priorities(ctx: &Context, config: &Config, p: &Prepared) -> Result<()> {
    use crate::live::listener;
    if config.backend != BackendType::S3 {
        return Ok(());
    }
    let Some(arn) = listener::listener_arn(&p.stack) else {
        return Ok(());
    };
    let wanted = listener::wanted(&p.stack);
    let who = listener::Identity {
        tenant: config.tenant.clone(),
        stack: p.stack.name().to_string(),
        environment: p.stack.environment.clone(),
    };
    let checked = block_on(async {
        // Advisory: one attempt, so an unreachable ELB API costs one timeout.
        let sdk = crate::aws::load_config(&config.aws_settings())
            .await
            .into_builder()
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        let client = crate::aws::elbv2_client(&sdk, listener::arn_region(arn));
        listener::check(&client, arn, &who, &wanted).await
    })?;
    let conflicts = match checked {
        Ok(conflicts) => conflicts,
        Err(e) => {
            ctx.printer.warn(&format!("listener rule priorities were not checked against the live listener: {e}"));
            return Ok(());
        }
    };
    if conflicts.is_empty() {
        return Ok(());
    }
    let diags: Vec<Diagnostic> = conflicts
        .iter()
        .map(|c| {
            let component = &p.stack.components[&c.component];
            let holder = c.owner.as_deref().unwrap_or("a rule panka did not create");
            let free = c.free.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            Diagnostic::error(
                "listener-priority",
                crate::validate::rules::infra_span(&p.stack, component, "loadBalancer.priority"),
                format!(
                    "listener rule priority {} of `{}` is already held on the shared listener by {holder} ({})",
                    c.priority, c.component, c.rule_arn
                ),
            )
            .with_hint(format!(
                "priorities are unique on a listener: set `infra.loadBalancer.priority` of `{}` to a free one ({free})",
                c.component
            ))
        })
        .collect();
    ctx.printer.diagnostics(&p.stack.sources, &diags);
    Err(Failure::printed(ExitStatus::Invalid).into())
}
