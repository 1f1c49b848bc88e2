//! `panka apply [plan.json]` and `panka destroy`: lock, plan, approve, run
//! the deploy engine, print the summary, release.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

use super::backends::{block_on, name_failure, open, parse_duration};
use super::Context;
use crate::deploy::{self, check_pulumi, ApplyInput, Progress, ProgressMode, Report, RunOptions};
use crate::exit::{ExitStatus, Failure};
use crate::load::LoadedStack;
use crate::lock::{acquire, AcquireOptions, Granularity, LockGuard, LockRequest, Owner, WaitReason};
use crate::model::stack::LockGranularity;
use crate::pipeline::{prepare, Prepared};
use crate::plan::{self, Action, Plan};
use crate::pulumi::emit::EmitOptions;
use crate::pulumi::runner::{Interrupt, Runner, Secrets};
use crate::scope::{Name, StackScope};
use crate::state::records;
use crate::state::{ComponentStatus, OnConflict, SessionOptions, StateSession};
use crate::ui::confirm;

/// `--service` / `--component`: which components a command is about.
#[derive(Debug, Clone, Default, Args)]
pub struct Targets {
    /// Only this service's components (repeatable).
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Only this component, `service/name` or `name` (repeatable).
    #[arg(long = "component", value_name = "COMPONENT")]
    pub components: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub targets: Targets,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// How many components run at once (default: the stack's `deployment.parallelism`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallelism: Option<u32>,
    /// How long to wait for the stack lock, e.g. 30s or 10m.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// After a failure, keep running every branch that does not depend on it.
    #[arg(long)]
    pub keep_going: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `panka plan --out`; applied only if the state has not moved.
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub common: DeployArgs,
    #[command(flatten)]
    pub policy: super::policy::PolicyFlags,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub common: DeployArgs,
}

/// Everything a run needs before it takes the lock.
struct Setup {
    prepared: Prepared,
    env: String,
    tenant: String,
    emit: EmitOptions,
    binary: PathBuf,
    secrets: Secrets,
    config: crate::config::Config,
    /// Every `up` refreshes first (`drift --remediate`).
    refresh: bool,
}

fn setup(ctx: &Context) -> Result<Setup> {
    let env = ctx.environment();
    let prepared = prepare(&ctx.load_options(&env)).map_err(|f| ctx.report(f))?;
    let config = ctx.config()?;
    let binary =
        Runner::locate(config.pulumi_binary.as_deref()).map_err(|e| Failure::new(ExitStatus::Error, e.to_string()))?;
    let secrets = Secrets::from_config(config.pulumi_passphrase.as_deref())
        .map_err(|e| Failure::new(ExitStatus::Invalid, e.to_string()))?;
    let emit = emit_options(&config);
    Ok(Setup { prepared, env, tenant: config.tenant.clone(), emit, binary, secrets, config, refresh: false })
}

/// How programs are emitted under this configuration (apply, plan --preview).
pub(super) fn emit_options(config: &crate::config::Config) -> EmitOptions {
    EmitOptions {
        tenant: config.tenant.clone(),
        endpoint: std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()).or(config.backend_endpoint.clone()),
    }
}

/// The components selected by `--service`/`--component`; `None`: all.
pub(super) fn selection(args: &Targets, known: &BTreeSet<String>) -> Result<Option<BTreeSet<String>>> {
    if args.services.is_empty() && args.components.is_empty() {
        return Ok(None);
    }
    let mut out = BTreeSet::new();
    for s in &args.services {
        let matched: Vec<&String> = known.iter().filter(|k| k.split('/').next() == Some(s.as_str())).collect();
        if matched.is_empty() {
            return Err(Failure::new(ExitStatus::Invalid, format!("no service `{s}` in this stack")).into());
        }
        out.extend(matched.into_iter().cloned());
    }
    for c in &args.components {
        let matched: Vec<&String> =
            known.iter().filter(|k| *k == c || k.split_once('/').is_some_and(|(_, n)| n == c)).collect();
        match matched.len() {
            0 => return Err(Failure::new(ExitStatus::Invalid, format!("no component `{c}` in this stack")).into()),
            1 => {
                out.insert(matched[0].clone());
            }
            _ => {
                let names: Vec<&str> = matched.iter().map(|s| s.as_str()).collect();
                return Err(Failure::new(
                    ExitStatus::Invalid,
                    format!("component `{c}` is ambiguous: {}\nhint: write it as `service/name`", names.join(", ")),
                )
                .into());
            }
        }
    }
    Ok(Some(out))
}

fn progress(ctx: &Context) -> Progress {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    let mode = if ctx.printer.json_mode() {
        ProgressMode::Json
    } else if ctx.printer.quiet {
        ProgressMode::Quiet
    } else if ctx.printer.stderr_is_tty && !dumb {
        ProgressMode::Live
    } else {
        ProgressMode::Text
    };
    Progress::new(mode, ctx.printer.verbose > 0, ctx.printer.color)
}

/// What apply and destroy both open before they touch anything: the
/// backends, the stack's scope, the pulumi runner and the lock.
struct Started {
    backends: crate::backend::Backends,
    scope: StackScope,
    runner: Arc<Runner>,
    deployment_id: String,
    guard: LockGuard,
    granularity: Granularity,
    /// Ctrl-C from the moment the lock is held.
    interrupt: Interrupt,
}

/// `selected`: the components the run is confined to, if it is (they pick
/// the lock's granularity).
async fn start(
    ctx: &Context,
    s: &Setup,
    operation: &str,
    args: &DeployArgs,
    selected: Option<&BTreeSet<String>>,
) -> Result<Started> {
    let stack = &s.prepared.stack;
    let backends = open(ctx, &s.config).await?;
    let scope = backends.tenant.stack(
        Name::new("stack", stack.name()).map_err(name_failure)?,
        Name::new("environment", &s.env).map_err(name_failure)?,
    );
    backends
        .prepare_pulumi_backend(&scope)
        .with_context(|| format!("cannot create the local Pulumi backend `{}`", backends.pulumi_backend_url(&scope)))?;
    let mut runner = Runner::new(s.binary.clone(), &backends.pulumi_backend_url(&scope), s.secrets.clone());
    if s.refresh {
        runner = runner.refreshing();
    }
    let runner = Arc::new(runner);
    let deployment_id = uuid::Uuid::new_v4().to_string();
    let stack_granularity = stack.stack.spec.deployment.lock_granularity;
    let granularity = lock_granularity(stack_granularity, selected);
    let request = LockRequest {
        scope: scope.clone(),
        granularity: granularity.clone(),
        owner: Owner::current(operation, &deployment_id),
    };
    let guard = lock(ctx, &backends, &request, args.lock_timeout, s.config.lock_lease).await?;
    let interrupt = match deploy::interrupts() {
        Ok(i) => i,
        Err(e) => {
            let _ = guard.release().await;
            return Err(anyhow::anyhow!("cannot listen for Ctrl-C: {e}"));
        }
    };
    Ok(Started { backends, scope, runner, deployment_id, guard, granularity, interrupt })
}

/// With `lockGranularity: service`, a run confined to one service's
/// components locks only that service, so other services of the stack can
/// deploy at the same time. Anything wider (several services, the whole
/// stack, a component the files no longer name) takes the stack lock.
fn lock_granularity(stack_granularity: LockGranularity, selected: Option<&BTreeSet<String>>) -> Granularity {
    let (LockGranularity::Service, Some(selected)) = (stack_granularity, selected) else {
        return Granularity::Stack;
    };
    let services: BTreeSet<&str> = selected.iter().filter_map(|c| c.split('/').next()).collect();
    match services.into_iter().collect::<Vec<_>>()[..] {
        [one] => Name::new("service", one).map_or(Granularity::Stack, Granularity::Service),
        _ => Granularity::Stack,
    }
}

/// The state session of a run, tied to the lock so that a lost lock stops writes.
async fn open_session(
    ctx: &Context,
    backends: &crate::backend::Backends,
    scope: &StackScope,
    guard: &LockGuard,
    granularity: &Granularity,
) -> Result<StateSession> {
    let mut options = SessionOptions::new(crate::lock::record::user_at_host(), ctx.stack_dir());
    if matches!(granularity, Granularity::Service(_)) {
        // Other services' runs write the same state.json: re-read and
        // re-apply our per-component changes when it moved under us.
        options.on_conflict = OnConflict::Rebase;
    }
    Ok(StateSession::open(Arc::clone(&backends.state), scope.clone(), Some(guard.watch()), options)
        .await
        .map_err(Failure::from)?)
}

async fn lock(
    ctx: &Context,
    backends: &crate::backend::Backends,
    request: &LockRequest,
    timeout: Duration,
    lease: Duration,
) -> Result<LockGuard> {
    let printer = ctx.printer.clone();
    let options = AcquireOptions {
        lease,
        timeout,
        on_wait: Some(Arc::new(move |holder, waited, reason| {
            match reason {
            WaitReason::Held => printer.info(&format!(
                "waiting for the lock held by {} ({} so far)",
                holder.locked_by,
                crate::lock::record::human(waited)
            )),
            WaitReason::LooksExpired { remaining } => printer.info(&format!(
                "the lock held by {} (pid {}, lock id {}) looks expired: watching it for {} more; it is taken over if its holder shows no sign of life",
                holder.locked_by,
                holder.pid,
                holder.lock_id,
                crate::lock::record::human(remaining)
            )),
        }
        })),
    };
    Ok(acquire(Arc::clone(&backends.locks), request, &options).await.map_err(Failure::from)?)
}

fn print_report(ctx: &Context, report: &Report) {
    if ctx.printer.json_mode() {
        ctx.printer.json(report);
        return;
    }
    for r in &report.components {
        if let Some(error) = &r.error {
            ctx.printer.error(&format!("`{}` failed:\n{}", r.component, error));
        }
    }
    if let Some(e) = &report.state_error {
        ctx.printer.error(e);
    }
    for w in &report.warnings {
        ctx.printer.warn(w);
    }
    ctx.printer.out(&report.to_string());
}

pub fn run_apply(ctx: &Context, args: ApplyArgs) -> Result<ExitStatus> {
    apply_forcing(ctx, args, &BTreeSet::new())
}

/// `apply`, with `force`d components brought up even when their
/// configuration did not change (`drift --remediate`: what is live differs
/// from what Pulumi recorded, not from the files).
fn apply_forcing(ctx: &Context, args: ApplyArgs, force: &BTreeSet<String>) -> Result<ExitStatus> {
    let mut s = setup(ctx)?;
    s.refresh = !force.is_empty();
    let saved: Option<Plan> = match &args.plan {
        Some(path) => {
            let text = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
            let plan: Plan = serde_json::from_slice(&text).map_err(|e| {
                Failure::new(ExitStatus::Invalid, format!("`{}` is not a panka plan: {e}", path.display()))
            })?;
            Some(plan)
        }
        None => None,
    };
    // Policies first: a deny stops the run before the lock (issue 15).
    let gate = super::policy::Gate::before_lock(ctx, &s.prepared, &s.config, saved.as_ref(), &args.policy)?;
    super::plan::check_listener_priorities(ctx, &s.config, &s.prepared)?;
    let stack = &s.prepared.stack;
    let known: BTreeSet<String> = stack.components.keys().map(ToString::to_string).collect();
    let selection = selection(&args.common.targets, &known)?;
    let parallelism = args.common.parallelism.unwrap_or(stack.stack.spec.deployment.parallelism).max(1) as usize;
    block_on(async {
        let Started { backends, scope, runner, deployment_id, guard, granularity, interrupt } =
            start(ctx, &s, "apply", &args.common, selection.as_ref()).await?;
        let started_at = chrono::Utc::now();
        let git = records::git_info(&ctx.stack_dir());
        let result = async {
            let mut session = open_session(ctx, &backends, &scope, &guard, &granularity).await?;
            if let Some(t) = guard.takeover() {
                ctx.printer.warn(&format!(
                    "took over the expired lock of {}; unfinished components are reconciled",
                    t.previous_holder
                ));
                let t = t.clone();
                session
                    .commit(|st| {
                        st.metadata.deployment_id = Some(deployment_id.clone());
                        st.metadata.lock_takeover = Some(t.clone());
                    })
                    .await
                    .map_err(Failure::from)?;
            }
            let state = session.version().map(|_| session.state().clone());
            let mut plan = plan::plan(stack, &s.prepared.graph, state.as_ref(), &s.tenant);
            for c in plan.changes.iter_mut().filter(|c| force.contains(&c.component) && c.action == Action::NoOp) {
                c.action = Action::Update;
                c.reasons.push("drifted: changed out of band".to_string());
            }
            if let Some(saved) = &saved {
                check_saved_plan(saved, &plan)?;
            }
            gate.recheck(ctx, &s.prepared, &s.config, state.as_ref(), &plan)?;
            let in_scope = |c: &str| selection.as_ref().is_none_or(|sel| sel.contains(c));
            let changes = plan
                .changes
                .iter()
                .filter(|c| c.action.is_change() && (in_scope(&c.component) || c.component == plan::SHARED_KEY))
                .count();
            if let Some(sel) = &selection {
                check_targets(sel, &plan, state.as_ref())?;
            }
            check_shared_under_service_lock(&granularity, &plan, stack)?;
            if changes > 0 {
                if !ctx.printer.json_mode() && !ctx.printer.quiet {
                    let text = plan::render::to_text(&plan, ctx.printer.color, false);
                    ctx.printer.info(text.trim_end());
                }
                if stack.requires_approval() {
                    confirm(
                        &ctx.printer,
                        &format!("environment `{}` requires approval", s.env),
                        args.common.auto_approve,
                        &interrupt,
                    )
                    .await?;
                }
                check_pulumi(&ctx.printer, &runner, &interrupt).await?;
            }
            let input = ApplyInput { stack, graph: &s.prepared.graph, emit: &s.emit, selection: selection.clone() };
            let opts = run_options(ctx, &s, "apply", &deployment_id, parallelism, &args.common, &interrupt, &git);
            let mut report = deploy::apply(&mut session, runner, &input, &plan, guard.watch(), &opts)
                .await
                .map_err(Failure::from)?;
            record(&backends, &session, &mut report, started_at, git).await;
            anyhow::Ok(report)
        }
        .await;
        finish(ctx, guard, result).await
    })?
}

/// The shared program belongs to the whole stack: a run that holds only a
/// service lock may not create or change it (SPEC §3).
fn check_shared_under_service_lock(granularity: &Granularity, plan: &Plan, stack: &LoadedStack) -> Result<()> {
    let Granularity::Service(service) = granularity else { return Ok(()) };
    match plan.change(plan::SHARED_KEY) {
        Some(c) if c.action.is_change() => Err(Failure::new(
            ExitStatus::Invalid,
            format!(
                "the stack's shared program `{}` must be {}d first, and this run holds only the lock of service `{service}`\nhint: run `panka apply -e {}` without `--service`/`--component` once",
                crate::pulumi::emit::shared_project(stack),
                c.action,
                stack.environment
            ),
        )
        .into()),
        _ => Ok(()),
    }
}

/// What every run of the deploy engine gets from the command line and config.
#[allow(clippy::too_many_arguments)]
fn run_options(
    ctx: &Context,
    s: &Setup,
    operation: &'static str,
    deployment_id: &str,
    parallelism: usize,
    args: &DeployArgs,
    interrupt: &Interrupt,
    git: &records::GitInfo,
) -> RunOptions {
    RunOptions {
        operation,
        deployment_id: deployment_id.to_string(),
        parallelism,
        keep_going: args.keep_going,
        progress: progress(ctx),
        interrupt: interrupt.clone(),
        pulumi_lock_wait: s.config.pulumi_lock_wait,
        git: git.clone(),
    }
}

/// Writes the deployment record of a run that did something (SPEC §8);
/// a record that cannot be written is a warning in the report, not a failure.
pub(super) async fn record(
    backends: &crate::backend::Backends,
    session: &StateSession,
    report: &mut Report,
    started_at: chrono::DateTime<chrono::Utc>,
    git: records::GitInfo,
) {
    if report.components.is_empty() {
        return;
    }
    let state = session.state();
    let store = backends.state.as_ref();
    // What each successful up applied, content-addressed, so that a rollback
    // can put it back whatever the stack files say by then.
    let mut objects = std::collections::BTreeMap::new();
    for c in &report.components {
        if let Some(r) = &c.restorable {
            match records::put_object(store, session.scope(), r).await {
                Ok(digest) => {
                    objects.insert(c.component.clone(), digest);
                }
                Err(e) => report_warning(&mut report.warnings, &c.component, &e),
            }
        }
    }
    let status = serde_json::to_value(report.status).ok().and_then(|v| v.as_str().map(str::to_string));
    let deployment = records::Deployment {
        format_version: records::FORMAT_VERSION.to_string(),
        id: report.deployment_id.clone(),
        operation: report.operation.clone(),
        stack: report.stack.clone(),
        environment: report.environment.clone(),
        tenant: session.scope().tenant.tenant.to_string(),
        started_at,
        finished_at: chrono::Utc::now(),
        duration_ms: report.duration_ms,
        by: records::who(),
        ci: crate::lock::record::Owner::current("", "").ci,
        git,
        command: records::redacted_command(std::env::args()),
        status: status.unwrap_or_else(|| "unknown".into()),
        components: report
            .components
            .iter()
            .map(|c| {
                let outcome = serde_json::to_value(c.outcome).ok().and_then(|v| v.as_str().map(str::to_string));
                let object = objects.get(&c.component).cloned();
                records::ComponentRun {
                    component: c.component.clone(),
                    action: c.action.clone(),
                    outcome: outcome.unwrap_or_default(),
                    duration_ms: c.duration_ms,
                    config_hash: state.components.get(&c.component).map(|s| s.config_hash.clone()),
                    error: c.error.as_ref().and_then(|e| e.lines().next()).map(str::to_string),
                    object,
                }
            })
            .collect(),
        state_serial: session.version().map(|_| state.serial),
    };
    if let Err(e) = records::write(backends.state.as_ref(), session.scope(), &deployment).await {
        report.warnings.push(format!("the deployment record `{}` was not written: {e}", deployment.id));
    }
}

fn report_warning(warnings: &mut Vec<String>, component: &str, e: &crate::state::store::StoreError) {
    warnings.push(format!("the configuration of `{component}` was not saved for rollback: {e}"));
}

/// Releases the lock whatever happened, then prints and maps the outcome.
async fn finish(ctx: &Context, guard: LockGuard, result: Result<Report>) -> Result<ExitStatus> {
    let released = guard.release().await;
    let report = result?;
    print_report(ctx, &report);
    let status = report.exit_status();
    if status == ExitStatus::Ok {
        released.map_err(Failure::from)?;
    }
    Ok(status)
}

/// `apply plan.json` applies exactly the saved plan: the state must not have
/// moved, and the stack must still produce the same changes.
fn check_saved_plan(saved: &Plan, fresh: &Plan) -> Result<()> {
    if saved.stack != fresh.stack || saved.environment != fresh.environment {
        return Err(Failure::new(
            ExitStatus::Invalid,
            format!(
                "the plan is for `{}` ({}), not `{}` ({})",
                saved.stack, saved.environment, fresh.stack, fresh.environment
            ),
        )
        .into());
    }
    if saved.state_lineage != fresh.state_lineage || saved.state_serial != fresh.state_serial {
        let show = |l: &Option<String>, s: &Option<u64>| match (l, s) {
            (Some(l), Some(s)) => format!("lineage {l} serial {s}"),
            _ => "no state".to_string(),
        };
        return Err(Failure::new(
            ExitStatus::StateConflict,
            format!(
                "the state changed since the plan was made (plan: {}, now: {})\nhint: run `panka plan --out` again and review it",
                show(&saved.state_lineage, &saved.state_serial),
                show(&fresh.state_lineage, &fresh.state_serial)
            ),
        )
        .into());
    }
    let key = |p: &Plan| -> Vec<(String, Action, String)> {
        p.changes
            .iter()
            .filter(|c| c.action.is_change())
            .map(|c| (c.component.clone(), c.action, c.config_hash.clone()))
            .collect()
    };
    if key(saved) != key(fresh) {
        return Err(Failure::new(
            ExitStatus::Invalid,
            "the stack's files changed since the plan was made\nhint: run `panka plan --out` again and review it",
        )
        .into());
    }
    Ok(())
}

/// A targeted apply needs everything its targets depend on already deployed.
fn check_targets(selection: &BTreeSet<String>, plan: &Plan, state: Option<&crate::state::State>) -> Result<()> {
    for c in plan.changes.iter().filter(|c| selection.contains(&c.component)) {
        for d in &c.dependencies {
            let deployed =
                state.and_then(|s| s.components.get(d)).is_some_and(|r| r.status == ComponentStatus::Deployed);
            if !selection.contains(d) && !deployed {
                return Err(Failure::new(
                    ExitStatus::Invalid,
                    format!("`{}` depends on `{d}`, which is not deployed\nhint: add `--component {d}` or apply the whole stack", c.component),
                )
                .into());
            }
        }
    }
    Ok(())
}

pub fn run_destroy(ctx: &Context, args: DestroyArgs) -> Result<ExitStatus> {
    let s = setup(ctx)?;
    let stack = &s.prepared.stack;
    let parallelism = args.common.parallelism.unwrap_or(stack.stack.spec.deployment.parallelism).max(1) as usize;
    // Before the state is read, only the files name components; a target
    // they no longer name makes this `None` and the run locks the stack.
    let known: BTreeSet<String> = stack.components.keys().map(ToString::to_string).collect();
    let in_files = selection(&args.common.targets, &known).ok().flatten();
    block_on(async {
        let Started { backends, scope, runner, deployment_id, guard, granularity, interrupt } =
            start(ctx, &s, "destroy", &args.common, in_files.as_ref()).await?;
        let started_at = chrono::Utc::now();
        let git = records::git_info(&ctx.stack_dir());
        let result = async {
            let mut session = open_session(ctx, &backends, &scope, &guard, &granularity).await?;
            let live: BTreeSet<String> = session
                .state()
                .components
                .iter()
                .filter(|(_, c)| c.status != ComponentStatus::Deleted)
                .map(|(k, _)| k.clone())
                .collect();
            let targets: Vec<String> = match selection(&args.common.targets, &live.iter().cloned().chain(stack.components.keys().map(ToString::to_string)).collect())? {
                None => live.iter().cloned().collect(),
                Some(sel) => {
                    let targets: Vec<String> = sel.into_iter().filter(|c| live.contains(c)).collect();
                    // Nothing may be left depending on what goes away.
                    for (k, c) in &session.state().components {
                        if c.status == ComponentStatus::Deleted || targets.contains(k) {
                            continue;
                        }
                        if let Some(d) = c.dependencies.iter().find(|d| targets.contains(d)) {
                            return Err(Failure::new(
                                ExitStatus::Invalid,
                                format!("`{k}` depends on `{d}` and would be left broken\nhint: destroy it too (`--component {k}`)"),
                            )
                            .into());
                        }
                    }
                    targets
                }
            };
            if !targets.is_empty() {
                if !ctx.printer.json_mode() {
                    ctx.printer.info(&format!("destroy will delete {} component(s): {}", targets.len(), targets.join(", ")));
                }
                let question = if stack.requires_approval() {
                    format!("environment `{}` requires approval; destroy deletes {} component(s)", s.env, targets.len())
                } else {
                    format!("destroy deletes {} component(s)", targets.len())
                };
                confirm(&ctx.printer, &question, args.common.auto_approve, &interrupt).await?;
                check_pulumi(&ctx.printer, &runner, &interrupt).await?;
            }
            let opts = run_options(ctx, &s, "destroy", &deployment_id, parallelism, &args.common, &interrupt, &git);
            let mut report =
                deploy::destroy(&mut session, runner, &targets, guard.watch(), &opts).await.map_err(Failure::from)?;
            record(&backends, &session, &mut report, started_at, git).await;
            anyhow::Ok(report)
        }
        .await;
        finish(ctx, guard, result).await
    })?
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The deployment to restore: an id from `panka history`.
    #[arg(long, conflicts_with = "steps")]
    pub to: Option<String>,
    /// Restore the deployment this many before the latest (default 1).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Also destroy the components added since that deployment.
    #[arg(long)]
    pub destroy_added: bool,
    #[command(flatten)]
    pub common: DeployArgs,
}

/// `panka rollback`: puts the components back exactly as a recorded
/// deployment left them (its recorded programs and configurations, not
/// today's files), through the normal path: stack lock, the changes shown,
/// approval where required, Pulumi runs, the summary, a record.
pub fn run_rollback(ctx: &Context, args: RollbackArgs) -> Result<ExitStatus> {
    let s = setup(ctx)?;
    let stack = &s.prepared.stack;
    let parallelism = args.common.parallelism.unwrap_or(stack.stack.spec.deployment.parallelism).max(1) as usize;
    block_on(async {
        let Started { backends, scope, runner, deployment_id, guard, granularity, interrupt } =
            start(ctx, &s, "rollback", &args.common, None).await?;
        let started_at = chrono::Utc::now();
        let git = records::git_info(&ctx.stack_dir());
        let result = async {
            let mut session = open_session(ctx, &backends, &scope, &guard, &granularity).await?;
            let store = backends.state.as_ref();
            let failed = |e: crate::state::store::StoreError| Failure::new(ExitStatus::Error, e.to_string());
            let refuse = |m: String| anyhow::Error::from(Failure::new(ExitStatus::Invalid, m));
            let index = records::index(store, &scope).await.map_err(failed)?;
            let ids: Vec<&str> = index.deployments.iter().map(|d| d.id.as_str()).collect();
            let target = match (&args.to, args.steps.unwrap_or(1)) {
                (Some(id), _) if ids.contains(&id.as_str()) => id.clone(),
                (Some(id), _) => {
                    return Err(refuse(format!(
                        "no deployment `{}` is recorded for {}\nhint: `panka history -e {}` lists them",
                        id.escape_debug(),
                        scope.display(),
                        scope.environment
                    )))
                }
                (None, steps) if steps >= 1 && steps < ids.len() => ids[ids.len() - 1 - steps].to_string(),
                (None, steps) => {
                    return Err(refuse(format!(
                        "cannot go back {steps} deployment(s): {} are recorded for {}",
                        ids.len(),
                        scope.display()
                    )))
                }
            };
            let mut docs = Vec::new();
            for id in &ids {
                let doc = records::get(store, &scope, id)
                    .await
                    .map_err(failed)?
                    .ok_or_else(|| refuse(format!("the record of deployment `{id}` is missing")))?;
                docs.push(doc);
                if *id == target {
                    break;
                }
            }
            let live = records::live_after(&docs, &target).expect("the target is among the records");
            let known: BTreeSet<String> = live.keys().chain(session.state().components.keys()).cloned().collect();
            let selected = selection(&args.common.targets, &known)?;
            let in_scope = |c: &str| selected.as_ref().is_none_or(|sel| sel.contains(c));
            let state = session.state().clone();
            let mut restore: BTreeMap<String, (Action, records::Restorable)> = BTreeMap::new();
            for (component, digest) in live.iter().filter(|(c, _)| in_scope(c)) {
                let r = records::get_object(store, &scope, digest).await.map_err(failed)?;
                match state.components.get(component) {
                    Some(c) if c.status == ComponentStatus::Deployed && c.config_hash == r.config_hash => {}
                    Some(c) if c.status != ComponentStatus::Deleted => {
                        restore.insert(component.clone(), (Action::Update, r));
                    }
                    _ => {
                        restore.insert(component.clone(), (Action::Create, r));
                    }
                }
            }
            let added: Vec<String> = state
                .components
                .iter()
                .filter(|(k, c)| c.status != ComponentStatus::Deleted && !live.contains_key(*k) && in_scope(k))
                .map(|(k, _)| k.clone())
                .collect();
            if !added.is_empty() && !args.destroy_added {
                return Err(refuse(format!(
                    "deployment `{target}` cannot be restored as it was: {} did not exist then\nhint: pass --destroy-added to delete {}, or restore only the others with --component",
                    added.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "),
                    if added.len() == 1 { "it" } else { "them" }
                )));
            }
            let when = docs.last().map(|d| d.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default();
            let mut lines = vec![format!("rollback of `{}` ({}) to deployment {target} of {when}:", scope.stack, scope.environment)];
            for (c, (action, r)) in &restore {
                let now = state.components.get(c).map(|s| &s.config_hash[..s.config_hash.len().min(12)]).unwrap_or("-");
                lines.push(format!("  {:<8} {c}  (config {now} → {})", action.as_str(), &r.config_hash[..r.config_hash.len().min(12)]));
            }
            for c in &added {
                lines.push(format!("  {:<8} {c}  (added since)", "delete"));
            }
            if restore.is_empty() && added.is_empty() {
                ctx.printer.info(&format!("nothing to roll back: what is live already matches deployment {target}"));
            } else {
                if !ctx.printer.json_mode() && !ctx.printer.quiet {
                    ctx.printer.info(&lines.join("\n"));
                }
                let question = if stack.requires_approval() {
                    format!("environment `{}` requires approval; roll back {} component(s)", s.env, restore.len() + added.len())
                } else {
                    format!("roll back {} component(s)", restore.len() + added.len())
                };
                confirm(&ctx.printer, &question, args.common.auto_approve, &interrupt).await?;
                check_pulumi(&ctx.printer, &runner, &interrupt).await?;
            }
            let opts = run_options(ctx, &s, "rollback", &deployment_id, parallelism, &args.common, &interrupt, &git);
            let mut report = deploy::rollback(&mut session, runner, &restore, &added, guard.watch(), &opts)
                .await
                .map_err(Failure::from)?;
            record(&backends, &session, &mut report, started_at, git).await;
            anyhow::Ok(report)
        }
        .await;
        finish(ctx, guard, result).await
    })?
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub targets: Targets,
    /// Exit 6 when drift is found (0 when everything is in sync).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// How many components are checked at once (default: the stack's `deployment.parallelism`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallelism: Option<u32>,
    /// Then re-apply the drifted components through the normal apply path
    /// (lock, plan, approval, summary).
    #[arg(long)]
    pub remediate: bool,
    /// With `--remediate`: do not ask for confirmation.
    #[arg(long, requires = "remediate")]
    pub auto_approve: bool,
    /// With `--remediate`: how long to wait for the stack lock.
    #[arg(long, value_parser = parse_duration, default_value = "0s", requires = "remediate")]
    pub lock_timeout: Duration,
}

/// `panka drift`: read-only, no lock; records its result in `drift.json`.
pub fn run_drift(ctx: &Context, args: DriftArgs) -> Result<ExitStatus> {
    use crate::deploy::drift;
    let s = setup(ctx)?;
    let stack = &s.prepared.stack;
    let parallelism = args.parallelism.unwrap_or(stack.stack.spec.deployment.parallelism).max(1) as usize;
    let report = block_on(async {
        let backends = open(ctx, &s.config).await?;
        let scope = backends.tenant.stack(
            Name::new("stack", stack.name()).map_err(name_failure)?,
            Name::new("environment", &s.env).map_err(name_failure)?,
        );
        backends.prepare_pulumi_backend(&scope).with_context(|| {
            format!("cannot create the local Pulumi backend `{}`", backends.pulumi_backend_url(&scope))
        })?;
        let store = backends.state.as_ref();
        let Some((state, _)) = crate::state::read_state(store, &scope).await.map_err(Failure::from)? else {
            return Err(Failure::new(ExitStatus::Error, format!("nothing is deployed for {}", scope.display())).into());
        };
        let deployed: BTreeSet<String> = state
            .components
            .iter()
            .filter(|(_, c)| c.status != ComponentStatus::Deleted)
            .map(|(k, _)| k.clone())
            .collect();
        let selected = selection(&args.targets, &deployed)?;
        let components: BTreeMap<String, String> = state
            .components
            .iter()
            .filter(|(k, _)| deployed.contains(*k) && selected.as_ref().is_none_or(|s| s.contains(*k)))
            .map(|(k, c)| (k.clone(), c.pulumi_project.clone()))
            .collect();
        let runner = Arc::new(Runner::new(s.binary.clone(), &backends.pulumi_backend_url(&scope), s.secrets.clone()));
        let interrupt = deploy::interrupts().map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C: {e}"))?;
        check_pulumi(&ctx.printer, &runner, &interrupt).await?;
        let results = drift::check(runner, scope.environment.as_str(), components, parallelism, &interrupt).await;
        let report = drift::DriftReport {
            stack: scope.stack.to_string(),
            environment: scope.environment.to_string(),
            checked_at: chrono::Utc::now(),
            components: results,
        };
        // For `panka status`; a whole-stack check replaces the last one,
        // a partial one updates its components.
        let key = format!("{}/drift.json", scope.state_dir());
        let mut stored = report.clone();
        if let Ok(Some(previous)) = store.get(&key).await {
            if let Ok(previous) = serde_json::from_slice::<drift::DriftReport>(&previous.body) {
                for c in previous.components {
                    if !stored.components.iter().any(|n| n.component == c.component) && deployed.contains(&c.component)
                    {
                        stored.components.push(c);
                    }
                }
                stored.components.sort_by(|a, b| a.component.cmp(&b.component));
            }
        }
        let body = serde_json::to_vec_pretty(&stored).expect("a drift report serializes");
        if let Err(e) = store.put(&key, body, crate::state::store::Precondition::None).await {
            ctx.printer.warn(&format!("the drift result was not saved to `{}`: {e}", store.describe(&key)));
        }
        anyhow::Ok(report)
    })??;
    if ctx.printer.json_mode() {
        ctx.printer.json(&report);
    } else {
        ctx.printer.out(&report.to_string());
    }
    for c in report.components.iter().filter(|c| c.error.is_some()) {
        ctx.printer.error(&format!("`{}`: the refresh failed:\n{}", c.component, c.error.as_deref().unwrap_or("")));
    }
    let drifted: BTreeSet<String> =
        report.components.iter().filter(|c| c.drifted).map(|c| c.component.clone()).collect();
    if args.remediate && !drifted.is_empty() {
        ctx.printer.info(&format!("re-applying {} drifted component(s)", drifted.len()));
        let apply = ApplyArgs {
            plan: None,
            common: DeployArgs {
                targets: Targets { services: Vec::new(), components: drifted.iter().cloned().collect() },
                auto_approve: args.auto_approve,
                parallelism: args.parallelism,
                lock_timeout: args.lock_timeout,
                keep_going: false,
            },
            policy: Default::default(),
        };
        return apply_forcing(ctx, apply, &drifted);
    }
    Ok(if report.failed() > 0 {
        ExitStatus::DeployFailed
    } else if report.drifted() > 0 && args.detailed_exitcode {
        ExitStatus::ChangesPresent
    } else {
        ExitStatus::Ok
    })
}
