//! The deploy engine (SPEC §6, §9, §10): runs the components of a plan
//! through the `pulumi` CLI as their dependencies finish, and records every
//! result in the state as it happens.
//!
//! Invariants:
//! - every state write happens under the lock, through one [`StateSession`]
//!   owned by the scheduling loop (one checkpoint per component start and
//!   finish); component tasks never touch the state;
//! - a component starts only when all the components it depends on that are
//!   part of this run have succeeded; at most `parallelism` run at once, and
//!   waves are not barriers;
//! - a failure stops new work (unless `keep_going`); running components
//!   finish; dependents of a failure are skipped;
//! - a lost lock starts nothing new and writes nothing; Ctrl-C is forwarded
//!   to the running `pulumi` processes, which are waited for, checkpointed,
//!   and the lock released;
//! - secret outputs are recorded as `[secret]` (see [`crate::pulumi::runner`]).

pub mod drift;
pub mod preview;
mod progress;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::graph::Graph;
use crate::load::LoadedStack;
use crate::lock::LockWatch;
use crate::model::ComponentId;
use crate::model::Kind;
use crate::plan::{self, Action, Plan};
use crate::pulumi::emit::{emit_component, emit_shared, stack_config_yaml, EmitOptions, SHARED_KEY};
use crate::pulumi::runner::{EngineEvent, Interrupt, RunError, Runner};
use crate::state::records::Restorable;
use crate::state::types::{ComponentState, ComponentStatus, DeploymentRecord, DeploymentStatus, State};
use crate::state::{StateError, StateSession};
pub use progress::{Progress, ProgressMode};
pub use report::{ComponentReport, Outcome, Report, RunStatus};

/// What to run and how.
pub struct RunOptions {
    pub operation: &'static str,
    pub deployment_id: String,
    pub parallelism: usize,
    pub keep_going: bool,
    pub progress: Progress,
    /// Flips to `true` on Ctrl-C (see [`interrupts`]); forwarded to every
    /// running `pulumi`.
    pub interrupt: Interrupt,
    /// How long a takeover waits for Pulumi's own lock on a component left
    /// in progress (`pulumi.lockWait`).
    pub pulumi_lock_wait: Duration,
    /// Where the stack's sources came from, for the state's metadata.
    pub git: crate::state::records::GitInfo,
}

/// Listens for SIGINT and SIGTERM from now on (the default action, dying
/// on the spot, is replaced for the rest of the process) and flips the
/// returned receiver to `true` at the first one. SIGTERM is what CI
/// runners send when a job is cancelled: dying then would orphan the
/// running `pulumi` processes (each is in its own process group) and leave
/// the lock. Install it right after the lock is taken, so no Ctrl-C can
/// leave the lock behind.
pub fn interrupts() -> std::io::Result<Interrupt> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                s = sigint.recv() => if s.is_none() { break },
                s = sigterm.recv() => if s.is_none() { break },
            }
            let _ = tx.send(true);
        }
    });
    Ok(rx)
}

/// `pulumi version`, refused when older than [`crate::pulumi::runner::MIN_VERSION`].
pub async fn check_pulumi(printer: &crate::ui::Printer, runner: &Runner, interrupt: &Interrupt) -> anyhow::Result<()> {
    let failure = |e: RunError| crate::exit::Failure::new(crate::exit::ExitStatus::Error, e.to_string());
    let version = runner.version(interrupt).await.map_err(failure)?;
    crate::pulumi::runner::check_version(&version).map_err(failure)?;
    printer.detail(&format!("using pulumi {version} at {}", runner.binary().display()));
    Ok(())
}

/// One unit of work: a component's Pulumi stack brought up or destroyed.
#[derive(Debug, Clone)]
enum Job {
    Up {
        action: Action,
        kind: String,
        config: Value,
        config_hash: String,
        dependencies: Vec<String>,
        project: String,
        program: String,
    },
    Destroy {
        project: String,
    },
}

impl Job {
    fn project(&self) -> &str {
        match self {
            Job::Up { project, .. } | Job::Destroy { project } => project,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// What the engine needs to emit programs and find dependents during an apply.
pub struct ApplyInput<'a> {
    pub stack: &'a LoadedStack,
    pub graph: &'a Graph,
    pub emit: &'a EmitOptions,
    /// Components in scope (`--service`/`--component`); `None`: all.
    pub selection: Option<BTreeSet<String>>,
}

/// Components the plan changes, in scope, as jobs; deletions are left to
/// [`destroy_jobs`].
/// The stack's shared program is applied whatever the selection: every
/// container component of the run needs it (the CLI refuses a
/// service-locked run that would change it).
fn apply_jobs(input: &ApplyInput<'_>, plan: &Plan) -> Result<BTreeMap<String, Job>, String> {
    let mut jobs = BTreeMap::new();
    for c in &plan.changes {
        if !c.action.is_change() || c.action == Action::Delete {
            continue;
        }
        let shared = c.component == SHARED_KEY;
        if !shared && input.selection.as_ref().is_some_and(|s| !s.contains(&c.component)) {
            continue;
        }
        jobs.insert(c.component.clone(), up_job(input, &c.component, c.action)?);
    }
    Ok(jobs)
}

/// The program an apply would run for `component` (`plan --preview`).
pub fn program_for(input: &ApplyInput<'_>, component: &str, action: Action) -> Result<String, String> {
    match up_job(input, component, action)? {
        Job::Up { program, .. } => Ok(program),
        Job::Destroy { .. } => Err(format!("`{component}` is not brought up")),
    }
}

fn up_job(input: &ApplyInput<'_>, component: &str, action: Action) -> Result<Job, String> {
    if component == SHARED_KEY {
        let config = plan::shared_config(input.stack).ok_or("the stack has no shared program")?;
        let program = emit_shared(input.stack, input.emit).map_err(|e| e.to_string())?.ok_or("no shared program")?;
        return Ok(Job::Up {
            action,
            kind: Kind::Stack.to_string(),
            config_hash: plan::hash_config(&config),
            config,
            dependencies: Vec::new(),
            project: program.name.clone(),
            program: program.to_yaml(),
        });
    }
    let id = ComponentId::parse(component).ok_or_else(|| format!("`{component}` is not a component id"))?;
    let c = &input.stack.components[&id];
    let config = plan::desired_config(input.stack, c);
    let program = emit_component(input.stack, &id, input.emit).map_err(|e| e.to_string())?;
    let mut dependencies: Vec<String> = input.graph.dependencies(&id).iter().map(ToString::to_string).collect();
    // Recorded in the state, so that destroy removes the shared program last.
    if plan::uses_shared(input.stack, c.kind) {
        dependencies.push(SHARED_KEY.to_string());
    }
    Ok(Job::Up {
        action,
        kind: c.kind.to_string(),
        config_hash: plan::hash_config(&config),
        config,
        dependencies,
        project: program.name.clone(),
        program: program.to_yaml(),
    })
}

/// Destroy jobs for `components` (keys of the state), each with the Pulumi
/// project the state recorded for it.
fn destroy_jobs(state: &State, components: &[String]) -> BTreeMap<String, Job> {
    components
        .iter()
        .map(|c| {
            let project = state
                .components
                .get(c)
                .map(|r| r.pulumi_project.clone())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| project_of(c));
            (c.clone(), Job::Destroy { project })
        })
        .collect()
}

fn project_of(component: &str) -> String {
    ComponentId::parse(component).map(|id| id.project()).unwrap_or_else(|| component.replace('/', "-"))
}

/// Applies `plan`: the changed components in scope, then the deletions of
/// components no longer in the stack (when nothing failed).
pub async fn apply(
    session: &mut StateSession,
    runner: Arc<Runner>,
    input: &ApplyInput<'_>,
    plan: &Plan,
    lock: LockWatch,
    opts: &RunOptions,
) -> Result<Report, StateError> {
    let jobs = apply_jobs(input, plan).map_err(|detail| StateError::Corrupt { location: "plan".into(), detail })?;
    let deletions: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .filter(|c| input.selection.as_ref().is_none_or(|s| s.contains(&c.component)))
        .map(|c| c.component.clone())
        .collect();
    let started = Instant::now();
    let mut scheduler = Scheduler::new(runner.clone(), lock.clone(), opts, session.scope().environment.as_str());
    let mut report = scheduler.run(session, jobs, Some(input)).await?;
    if !deletions.is_empty() && report.status == RunStatus::Succeeded {
        let jobs = destroy_jobs(session.state(), &deletions);
        let mut more = scheduler.run(session, jobs, None).await?;
        report.components.append(&mut more.components);
        report.status = more.status;
    }
    finish(session, &mut report, started, opts).await;
    Ok(report)
}

/// Puts components back exactly as a recorded deployment left them: each
/// `restore` entry is brought up with its recorded program and
/// configuration (in its recorded dependency order), then `remove` (added
/// since) is destroyed, dependents first.
pub async fn rollback(
    session: &mut StateSession,
    runner: Arc<Runner>,
    restore: &BTreeMap<String, (Action, Restorable)>,
    remove: &[String],
    lock: LockWatch,
    opts: &RunOptions,
) -> Result<Report, StateError> {
    let started = Instant::now();
    let jobs: BTreeMap<String, Job> = restore
        .iter()
        .map(|(name, (action, r))| {
            let job = Job::Up {
                action: *action,
                kind: r.kind.clone(),
                config: r.config.clone(),
                config_hash: r.config_hash.clone(),
                dependencies: r.dependencies.clone(),
                project: r.project.clone(),
                program: r.program.clone(),
            };
            (name.clone(), job)
        })
        .collect();
    let mut scheduler = Scheduler::new(runner, lock, opts, session.scope().environment.as_str());
    let mut report = scheduler.run(session, jobs, None).await?;
    if !remove.is_empty() && report.status == RunStatus::Succeeded {
        let jobs = destroy_jobs(session.state(), remove);
        let mut more = scheduler.run(session, jobs, None).await?;
        report.components.append(&mut more.components);
        report.status = more.status;
    }
    finish(session, &mut report, started, opts).await;
    Ok(report)
}

/// Destroys `components` in reverse dependency order (dependents first).
pub async fn destroy(
    session: &mut StateSession,
    runner: Arc<Runner>,
    components: &[String],
    lock: LockWatch,
    opts: &RunOptions,
) -> Result<Report, StateError> {
    let started = Instant::now();
    let mut scheduler = Scheduler::new(runner, lock, opts, session.scope().environment.as_str());
    let jobs = destroy_jobs(session.state(), components);
    let mut report = scheduler.run(session, jobs, None).await?;
    finish(session, &mut report, started, opts).await;
    Ok(report)
}

/// Records the deployment (unless nothing ran or the lock is gone).
async fn finish(session: &mut StateSession, report: &mut Report, started: Instant, opts: &RunOptions) {
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.count();
    if report.components.is_empty() && report.state_error.is_none() {
        report.status = RunStatus::NoChanges;
        return;
    }
    let c = report.counts.clone();
    let record = DeploymentRecord {
        id: opts.deployment_id.clone(),
        operation: opts.operation.to_string(),
        by: crate::lock::record::user_at_host(),
        started_at: Utc::now() - chrono::Duration::milliseconds(report.duration_ms as i64),
        finished_at: Some(Utc::now()),
        status: match report.status {
            RunStatus::Succeeded | RunStatus::NoChanges => DeploymentStatus::Succeeded,
            RunStatus::Interrupted => DeploymentStatus::Interrupted,
            RunStatus::Failed | RunStatus::LockLost => DeploymentStatus::Failed,
        },
        duration_ms: Some(report.duration_ms),
        created: c.created,
        updated: c.updated + c.replaced,
        deleted: c.deleted,
        failed: c.failed,
    };
    let result = session
        .commit(|s| {
            s.metadata.deployment_id = Some(record.id.clone());
            s.metadata.git_commit = opts.git.commit.clone();
            s.metadata.git_branch = opts.git.branch.clone();
            s.deployments.push(record.clone());
            let excess = s.deployments.len().saturating_sub(crate::state::types::MAX_DEPLOYMENTS);
            s.deployments.drain(..excess);
        })
        .await;
    match result {
        // The first failure is the one to report; this one only says the
        // record went to the same local copy.
        Err(_) if report.state_error.is_some() => {}
        Err(e) => {
            report.state_exit = Some(e.exit_status());
            report.state_error = Some(e.to_string());
        }
        Ok(_) => {}
    }
    if let Some(path) = session.rescue_path() {
        report.rescue = Some(path.display().to_string());
    }
    report.warnings.extend(session.take_warnings());
}

/// The result of one component task.
struct Finished {
    component: String,
    result: Result<BTreeMap<String, Value>, RunError>,
    elapsed: Duration,
}

struct Scheduler<'o> {
    runner: Arc<Runner>,
    lock: LockWatch,
    opts: &'o RunOptions,
    env: String,
    interrupt: Interrupt,
    interrupted: bool,
    /// What the running tasks watch: Ctrl-C/SIGTERM, or a lost lock (a
    /// holder past its lease deadline interrupts its Pulumi runs, so they
    /// end gracefully and clear Pulumi's own lock before anyone takes over).
    stop_tasks: Arc<watch::Sender<bool>>,
}

impl<'o> Scheduler<'o> {
    fn new(runner: Arc<Runner>, lock: LockWatch, opts: &'o RunOptions, env: &str) -> Self {
        let interrupt = opts.interrupt.clone();
        let interrupted = *interrupt.borrow();
        let stop_tasks = Arc::new(watch::channel(interrupted).0);
        let (forward, mut from) = (Arc::clone(&stop_tasks), interrupt.clone());
        tokio::spawn(async move {
            while from.changed().await.is_ok() {
                if *from.borrow() {
                    forward.send_replace(true);
                }
            }
        });
        Scheduler { runner, lock, opts, env: env.to_string(), interrupt, interrupted, stop_tasks }
    }

    /// Runs `jobs`. Apply jobs wait for their dependencies; destroy jobs
    /// wait for their dependents (from the state). With `apply`, a finished
    /// component re-applies unchanged dependents whose upstream outputs moved.
    async fn run(
        &mut self,
        session: &mut StateSession,
        mut jobs: BTreeMap<String, Job>,
        apply: Option<&ApplyInput<'_>>,
    ) -> Result<Report, StateError> {
        let scope = session.scope().clone();
        let mut report = Report {
            operation: self.opts.operation.to_string(),
            deployment_id: self.opts.deployment_id.clone(),
            stack: scope.stack.as_str().to_string(),
            environment: scope.environment.as_str().to_string(),
            status: RunStatus::Succeeded,
            duration_ms: 0,
            counts: Default::default(),
            components: Vec::new(),
            state_error: None,
            state_exit: None,
            rescue: None,
            warnings: Vec::new(),
            pulumi_locked: false,
        };
        let mut nodes: BTreeMap<String, Node> = jobs.keys().map(|k| (k.clone(), Node::Waiting)).collect();
        let mut waits: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut reasons: BTreeMap<String, String> = BTreeMap::new();
        let mut results: BTreeMap<String, ComponentReport> = BTreeMap::new();
        // Start order: waves for apply, reverse waves for destroy.
        // Longest chain first: what has the most work behind it starts first,
        // which keeps a limited `parallelism` close to the critical path.
        let heights = apply.map(|a| chain_heights(a.graph)).unwrap_or_default();
        let start_key = |c: &str| -> (std::cmp::Reverse<usize>, String) {
            let h = ComponentId::parse(c).and_then(|id| heights.get(&id).copied()).unwrap_or(0);
            (std::cmp::Reverse(h), c.to_string())
        };
        let order_key = |c: &str| -> (i64, String) {
            let wave = apply
                .and_then(|a| ComponentId::parse(c).and_then(|id| a.graph.waves.get(&id).copied()))
                .unwrap_or(0) as i64;
            (wave, c.to_string())
        };
        let recompute_waits =
            |jobs: &BTreeMap<String, Job>, state: &State, waits: &mut BTreeMap<String, Vec<String>>| {
                waits.clear();
                for (name, job) in jobs {
                    let w: Vec<String> = match job {
                        Job::Up { dependencies, .. } => {
                            dependencies.iter().filter(|d| jobs.contains_key(*d)).cloned().collect()
                        }
                        Job::Destroy { .. } => state
                            .components
                            .iter()
                            .filter(|(k, c)| jobs.contains_key(*k) && c.dependencies.contains(name))
                            .map(|(k, _)| k.clone())
                            .collect(),
                    };
                    waits.insert(name.clone(), w);
                }
            };
        recompute_waits(&jobs, session.state(), &mut waits);
        let mut running: JoinSet<Finished> = JoinSet::new();
        let mut stop = false;
        let mut lock_lost = self.is_lock_lost();
        let mut failed_any = false;
        let mut inputs_of: BTreeMap<String, Option<String>> = BTreeMap::new();
        // A state write that failed: stop, let running components finish, then report it.
        let mut state_failure: Option<StateError> = None;
        let mut interrupt = self.interrupt.clone();
        let mut interrupt_closed = false;
        if self.interrupted {
            self.opts.progress.event("-", "interrupt", "interrupted before anything started");
        }
        loop {
            // Skip what depends on a failure; start what is ready.
            loop {
                let mut changed = false;
                let names: Vec<String> = nodes.keys().cloned().collect();
                for n in &names {
                    if nodes[n] != Node::Waiting {
                        continue;
                    }
                    if let Some(bad) =
                        waits[n].iter().find(|d| matches!(nodes.get(*d), Some(Node::Failed | Node::Skipped)))
                    {
                        let why = if nodes[bad] == Node::Failed { "failed" } else { "was skipped" };
                        let rel = if matches!(jobs[n], Job::Destroy { .. }) { "dependent" } else { "dependency" };
                        reasons.insert(n.clone(), format!("{rel} `{bad}` {why}"));
                        nodes.insert(n.clone(), Node::Skipped);
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
            if !stop && !lock_lost && !self.interrupted {
                let mut ready: Vec<String> = nodes
                    .iter()
                    .filter(|(n, s)| {
                        **s == Node::Waiting && waits[*n].iter().all(|d| nodes.get(d) == Some(&Node::Done))
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                ready.sort_by_cached_key(|n| start_key(n));
                ready.truncate(self.opts.parallelism.max(1).saturating_sub(running.len()));
                if !ready.is_empty() {
                    // One checkpoint marks the whole batch in progress.
                    let batch: Vec<(String, Job, bool)> = ready
                        .iter()
                        .map(|n| {
                            let left = session
                                .state()
                                .components
                                .get(n)
                                .is_some_and(|c| c.status == ComponentStatus::InProgress);
                            (n.clone(), jobs[n].clone(), left)
                        })
                        .collect();
                    let committed = session
                        .commit(|s| {
                            for (name, job, _) in &batch {
                                mark_in_progress(&self.opts.deployment_id, s, name, job, &scope);
                            }
                        })
                        .await;
                    if let Err(e) = committed {
                        // Nothing new starts; running components finish first.
                        state_failure.get_or_insert(e);
                        stop = true;
                    } else {
                        for (name, job, left_in_progress) in batch {
                            let inputs = match &job {
                                Job::Up { dependencies, .. } => {
                                    let deps: Vec<ComponentId> =
                                        // As the plan computes it: from the graph's
                                        // dependencies (the shared program is not one).
                                        dependencies
                                            .iter()
                                            .filter(|d| *d != SHARED_KEY)
                                            .filter_map(|d| ComponentId::parse(d))
                                            .collect();
                                    plan::inputs_hash(session.state(), &deps)
                                }
                                Job::Destroy { .. } => None,
                            };
                            nodes.insert(name.clone(), Node::Running);
                            let detail = match &job {
                                Job::Up { action, .. } => action.as_str(),
                                Job::Destroy { .. } => "delete",
                            };
                            self.opts.progress.event(&name, "started", detail);
                            let task = ComponentTask {
                                runner: self.runner.clone(),
                                component: name.clone(),
                                env: self.env.clone(),
                                job,
                                left_in_progress,
                                pulumi_lock_wait: self.opts.pulumi_lock_wait,
                                interrupt: self.stop_tasks.subscribe(),
                                progress: self.opts.progress.clone(),
                            };
                            inputs_of.insert(name, inputs);
                            running.spawn(task.run());
                        }
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            let mut lock = self.lock.clone();
            tokio::select! {
                joined = running.join_next() => {
                    let Some(joined) = joined else { continue };
                    let finished = match joined {
                        Ok(f) => f,
                        Err(e) => std::panic::resume_unwind(e.into_panic()),
                    };
                    let name = finished.component.clone();
                    let job = jobs[&name].clone();
                    let elapsed_ms = finished.elapsed.as_millis() as u64;
                    match finished.result {
                        Ok(outputs) => {
                            nodes.insert(name.clone(), Node::Done);
                            let inputs = inputs_of.remove(&name).flatten();
                            // After a failed write (or a lost lock) this lands in the local copy.
                            if let Err(e) = session.commit(|s| mark_done(&self.opts.deployment_id, s, &name, &job, &outputs, inputs.clone(), &scope)).await {
                                state_failure.get_or_insert(e);
                                stop = true;
                            }
                            let (outcome, action) = match &job {
                                Job::Up { action: Action::Create, .. } => (Outcome::Created, Action::Create),
                                Job::Up { action: Action::Replace, .. } => (Outcome::Replaced, Action::Replace),
                                Job::Up { action, .. } => (Outcome::Updated, *action),
                                Job::Destroy { .. } => (Outcome::Deleted, Action::Delete),
                            };
                            self.opts.progress.event(&name, "done", &format!("{} in {:.1}s", action, elapsed_ms as f64 / 1000.0));
                            let restorable = match &job {
                                Job::Up { kind, config, config_hash, dependencies, project, program, .. } => Some(Restorable {
                                    kind: kind.clone(), config: config.clone(), config_hash: config_hash.clone(),
                                    dependencies: dependencies.clone(), project: project.clone(), program: program.clone(),
                                }),
                                Job::Destroy { .. } => None,
                            };
                            results.insert(name.clone(), ComponentReport {
                                component: name.clone(), action: action.to_string(), outcome,
                                duration_ms: Some(elapsed_ms), reason: reasons.remove(&name), error: None, restorable,
                            });
                            // Unchanged dependents whose upstream outputs moved are re-applied.
                            if let (Some(input), Job::Up { .. }) = (apply, &job) {
                                if !stop {
                                    let added = self.upgrade_dependents(input, session.state(), &name, &mut jobs, &mut nodes, &mut reasons);
                                    if added {
                                        recompute_waits(&jobs, session.state(), &mut waits);
                                    }
                                }
                            }
                        }
                        Err(err) => {
                            let interrupted = matches!(err, RunError::Interrupted { .. });
                            report.pulumi_locked |= matches!(err, RunError::Locked { .. });
                            nodes.insert(name.clone(), Node::Failed);
                            failed_any = true;
                            let message = err.to_string();
                            let first = message.lines().next().unwrap_or_default().to_string();
                            if let Err(e) = session.commit(|s| mark_failed(&self.opts.deployment_id, s, &name, &job, &first, &scope)).await {
                                state_failure.get_or_insert(e);
                                stop = true;
                            }
                            self.opts.progress.event(&name, if interrupted { "interrupted" } else { "failed" }, &first);
                            let mut error = message.clone();
                            if !err.stderr().is_empty() && !message.contains(err.stderr()) {
                                error = format!("{message}\n{}", err.stderr());
                            }
                            results.insert(name.clone(), ComponentReport {
                                component: name.clone(),
                                action: match &job { Job::Up { action, .. } => action.to_string(), Job::Destroy { .. } => "delete".into() },
                                outcome: if interrupted { Outcome::Interrupted } else { Outcome::Failed },
                                duration_ms: Some(elapsed_ms), reason: None, error: Some(error), restorable: None,
                            });
                            if !self.opts.keep_going {
                                stop = true;
                            }
                        }
                    }
                }
                changed = interrupt.changed(), if !self.interrupted && !interrupt_closed => {
                    // The running tasks see the same flag and signal their pulumi.
                    if changed.is_err() {
                        interrupt_closed = true;
                    } else if *interrupt.borrow() {
                        self.interrupted = true;
                        stop = true;
                        self.opts.progress.event("-", "interrupt", "forwarding Ctrl-C to running pulumi processes and waiting for them");
                    }
                }
                _ = lock.changed(), if !lock_lost => {
                    if self.is_lock_lost() {
                        lock_lost = true;
                        stop = true;
                        self.stop_tasks.send_replace(true);
                        self.opts.progress.event("-", "lock-lost", "starting nothing new, writing nothing; interrupting the running pulumi processes and waiting for them");
                    }
                }
                // The deadline passes on our clock even when the heartbeat task is starved.
                _ = tokio::time::sleep(crate::lock::time_left(&self.lock)), if !lock_lost => {
                    if self.is_lock_lost() {
                        lock_lost = true;
                        stop = true;
                        self.stop_tasks.send_replace(true);
                        self.opts.progress.event("-", "lock-lost", "the lease deadline passed: starting nothing new, writing nothing; interrupting the running pulumi processes");
                    }
                }
            }
        }
        lock_lost = lock_lost || self.is_lock_lost();
        // A failed state write ends the run like any other failure: with the
        // summary of what ran (its changes are in the saved local copy).
        if let Some(e) = state_failure {
            lock_lost |= matches!(e, StateError::LockLost { .. });
            report.state_exit = Some(e.exit_status());
            report.state_error = Some(e.to_string());
        }
        for (name, node) in &nodes {
            let action = match &jobs[name] {
                Job::Up { action, .. } => action.to_string(),
                Job::Destroy { .. } => "delete".into(),
            };
            match node {
                Node::Skipped => {
                    results.insert(
                        name.clone(),
                        ComponentReport {
                            component: name.clone(),
                            action,
                            outcome: Outcome::Skipped,
                            duration_ms: None,
                            reason: reasons.get(name).cloned(),
                            error: None,
                            restorable: None,
                        },
                    );
                }
                Node::Waiting => {
                    results.insert(
                        name.clone(),
                        ComponentReport {
                            component: name.clone(),
                            action,
                            outcome: Outcome::NotStarted,
                            duration_ms: None,
                            reason: Some("the run stopped before it could start".into()),
                            error: None,
                            restorable: None,
                        },
                    );
                }
                _ => {}
            }
        }
        report.components = results.into_values().collect();
        report.components.sort_by_cached_key(|r| order_key(&r.component));
        // Ctrl-C may have ended the last running component before the loop
        // saw the signal itself: the run was still interrupted.
        if *self.interrupt.borrow() {
            self.interrupted = true;
        }
        report.status = if lock_lost {
            RunStatus::LockLost
        } else if self.interrupted {
            RunStatus::Interrupted
        } else if failed_any
            || report.state_error.is_some()
            || report.components.iter().any(|r| {
                r.outcome != Outcome::Created
                    && r.outcome != Outcome::Updated
                    && r.outcome != Outcome::Replaced
                    && r.outcome != Outcome::Deleted
            })
        {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        Ok(report)
    }

    fn is_lock_lost(&self) -> bool {
        !crate::lock::is_held(&self.lock)
    }

    /// After `done` finished: dependents outside this run, in scope and
    /// recorded as deployed, whose consumed upstream outputs changed, join it.
    fn upgrade_dependents(
        &self,
        input: &ApplyInput<'_>,
        state: &State,
        done: &str,
        jobs: &mut BTreeMap<String, Job>,
        nodes: &mut BTreeMap<String, Node>,
        reasons: &mut BTreeMap<String, String>,
    ) -> bool {
        let Some(id) = ComponentId::parse(done) else { return false };
        let mut added = false;
        for dependent in input.graph.dependents(&id) {
            let key = dependent.to_string();
            if jobs.contains_key(&key) || input.selection.as_ref().is_some_and(|s| !s.contains(&key)) {
                continue;
            }
            let Some(recorded) = state.components.get(&key) else { continue };
            let deps = input.graph.dependencies(&dependent);
            if recorded.inputs_hash == plan::inputs_hash(state, &deps) {
                continue;
            }
            if let Ok(job) = up_job(input, &key, Action::Update) {
                jobs.insert(key.clone(), job);
                nodes.insert(key.clone(), Node::Waiting);
                reasons.insert(key, format!("outputs of upstream `{done}` changed"));
                added = true;
            }
        }
        added
    }
}

/// For every component, the number of components on the longest chain of
/// dependents starting at it (itself included).
fn chain_heights(graph: &Graph) -> BTreeMap<ComponentId, usize> {
    let mut order: Vec<(&ComponentId, usize)> = graph.waves.iter().map(|(id, w)| (id, *w)).collect();
    order.sort_by_key(|(_, w)| std::cmp::Reverse(*w));
    let mut heights: BTreeMap<ComponentId, usize> = BTreeMap::new();
    for (id, _) in order {
        let h = 1 + graph.dependents(id).iter().filter_map(|d| heights.get(d)).max().copied().unwrap_or(0);
        heights.insert(id.clone(), h);
    }
    heights
}

fn record_for<'s>(s: &'s mut State, name: &str, job: &Job, scope: &crate::scope::StackScope) -> &'s mut ComponentState {
    let now = Utc::now();
    s.components.entry(name.to_string()).or_insert_with(|| {
        let (kind, config, dependencies) = match job {
            Job::Up { kind, config, dependencies, .. } => (kind.clone(), config.clone(), dependencies.clone()),
            Job::Destroy { .. } => (String::new(), Value::Null, Vec::new()),
        };
        let project = job.project().to_string();
        ComponentState {
            kind,
            status: ComponentStatus::InProgress,
            config,
            // Empty: a component that never finished is never a no-op.
            config_hash: String::new(),
            outputs: BTreeMap::new(),
            inputs_hash: None,
            pulumi_project: project,
            pulumi_stack: scope.environment.as_str().to_string(),
            dependencies,
            created_at: now,
            updated_at: now,
            last_error: None,
        }
    })
}

fn mark_in_progress(deployment: &str, s: &mut State, name: &str, job: &Job, scope: &crate::scope::StackScope) {
    s.metadata.deployment_id = Some(deployment.to_string());
    let r = record_for(s, name, job, scope);
    r.status = ComponentStatus::InProgress;
    r.updated_at = Utc::now();
}

fn mark_done(
    deployment: &str,
    s: &mut State,
    name: &str,
    job: &Job,
    outputs: &BTreeMap<String, Value>,
    inputs: Option<String>,
    scope: &crate::scope::StackScope,
) {
    s.metadata.deployment_id = Some(deployment.to_string());
    let r = record_for(s, name, job, scope);
    r.updated_at = Utc::now();
    r.last_error = None;
    match job {
        Job::Up { kind, config, config_hash, dependencies, project, .. } => {
            r.status = ComponentStatus::Deployed;
            r.pulumi_project = project.clone();
            r.kind = kind.clone();
            r.config = config.clone();
            r.config_hash = config_hash.clone();
            r.dependencies = dependencies.clone();
            r.outputs = outputs.clone();
            r.inputs_hash = inputs;
        }
        Job::Destroy { .. } => {
            r.status = ComponentStatus::Deleted;
            r.outputs.clear();
        }
    }
}

fn mark_failed(deployment: &str, s: &mut State, name: &str, job: &Job, error: &str, scope: &crate::scope::StackScope) {
    s.metadata.deployment_id = Some(deployment.to_string());
    let r = record_for(s, name, job, scope);
    r.status = ComponentStatus::Failed;
    r.updated_at = Utc::now();
    r.last_error = Some(error.chars().take(500).collect());
}

/// One component's Pulumi calls, in its own temporary directory.
struct ComponentTask {
    runner: Arc<Runner>,
    component: String,
    env: String,
    job: Job,
    /// The last run of this component never finished: its Pulumi lock may
    /// still be held ([`ComponentTask::when_unlocked`]).
    left_in_progress: bool,
    pulumi_lock_wait: Duration,
    interrupt: Interrupt,
    progress: Progress,
}

impl ComponentTask {
    async fn run(self) -> Finished {
        let started = Instant::now();
        let result = self.steps().await;
        Finished { component: self.component, result, elapsed: started.elapsed() }
    }

    async fn steps(&self) -> Result<BTreeMap<String, Value>, RunError> {
        let program = match &self.job {
            Job::Up { program, .. } => program.clone(),
            Job::Destroy { project } => empty_program(project),
        };
        let dir = workdir(&program, &self.env)?;
        let (r, d, env, i) = (&self.runner, dir.path(), self.env.as_str(), &self.interrupt);
        r.select(d, env, i).await?;
        match &self.job {
            Job::Up { .. } => {
                let name = self.component.clone();
                let progress = self.progress.clone();
                let progress = &progress;
                let outputs = self
                    .when_unlocked(d, || {
                        let name = name.clone();
                        r.up(d, env, i, move |e| match e {
                            EngineEvent::Step { op, kind, .. } => progress.step(&name, &op, &kind),
                            EngineEvent::StepDone { .. } | EngineEvent::StackOutputs(_) => progress.step_done(&name),
                            _ => {}
                        })
                    })
                    .await?;
                match outputs {
                    Some(outputs) => Ok(outputs),
                    None => r.outputs(d, env, i).await,
                }
            }
            Job::Destroy { .. } => {
                self.when_unlocked(d, || r.destroy(d, env, i)).await?;
                r.stack_rm(d, env, i).await?;
                Ok(BTreeMap::new())
            }
        }
    }

    /// Runs `step`. When this component was left in progress by a run whose
    /// lock panka took over, Pulumi may still hold its own lock on the
    /// stack: never two engines on one Pulumi stack (SPEC §9). A holder that
    /// is provably dead (this host, its pid gone) has its lock cleared with
    /// `pulumi cancel`; any other is waited for, up to `pulumi.lockWait`
    /// (an interrupted or lease-expired `pulumi` ends gracefully and clears
    /// its lock), then the component stops with the command for a person.
    async fn when_unlocked<T, F, Fut>(&self, dir: &Path, step: F) -> Result<T, RunError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, RunError>>,
    {
        let (r, env, i) = (&self.runner, self.env.as_str(), &self.interrupt);
        let project = self.job.project();
        let deadline = Instant::now() + self.pulumi_lock_wait;
        let mut cancelled = false;
        loop {
            let err = match step().await {
                Err(e) if self.left_in_progress => e,
                other => return other,
            };
            let Some(holders) = crate::pulumi::runner::locked_by(err.stderr()) else { return Err(err) };
            let named = holders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            if !cancelled && !holders.is_empty() && holders.iter().all(|h| h.provably_dead()) {
                self.progress.event(
                    &self.component,
                    "reconcile",
                    &format!("clearing the Pulumi lock of {named}, which is gone"),
                );
                r.cancel(dir, env, i).await?;
                cancelled = true;
                continue;
            }
            if Instant::now() >= deadline || *i.borrow() {
                return Err(RunError::Locked {
                    stack: format!("{project}/{env}"),
                    holders: if named.is_empty() { "another run".into() } else { named },
                    cancel: r.cancel_command(project, env),
                });
            }
            self.progress.event(&self.component, "reconcile", &format!("waiting for the pulumi run of {named} to end"));
            let mut interrupt = i.clone();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = interrupt.changed() => {}
            }
        }
    }
}

/// The program that stands for a project when only its stack is destroyed.
fn empty_program(project: &str) -> String {
    format!("name: {project}\nruntime: yaml\n")
}

/// A private working directory holding `program` and its stack config for
/// the Pulumi stack `stack`.
fn workdir(program: &str, stack: &str) -> Result<tempfile::TempDir, RunError> {
    let dir = tempfile::Builder::new()
        .prefix("panka-pulumi-")
        .tempdir()
        .map_err(|source| RunError::Start { command: "create a working directory".into(), source })?;
    write(dir.path(), "Pulumi.yaml", program)?;
    write(dir.path(), &format!("Pulumi.{stack}.yaml"), &stack_config_yaml())?;
    Ok(dir)
}

/// Brings up a program that belongs to no panka stack (a tenant's IAM
/// program, `panka admin tenant`) the way a component is brought up:
/// `stack select --create`, `up`, its outputs. No panka lock: the caller
/// serializes (a tenant's registry record).
pub async fn up_program(
    runner: &Runner,
    program: &str,
    stack: &str,
    interrupt: &Interrupt,
) -> Result<BTreeMap<String, Value>, RunError> {
    let dir = workdir(program, stack)?;
    runner.select(dir.path(), stack, interrupt).await?;
    match runner.up(dir.path(), stack, interrupt, |_| {}).await? {
        Some(outputs) => Ok(outputs),
        None => runner.outputs(dir.path(), stack, interrupt).await,
    }
}

/// Destroys what `project`'s stack `stack` holds and removes the stack, as a
/// component's destroy does.
pub async fn destroy_program(
    runner: &Runner,
    project: &str,
    stack: &str,
    interrupt: &Interrupt,
) -> Result<(), RunError> {
    let dir = workdir(&empty_program(project), stack)?;
    runner.select(dir.path(), stack, interrupt).await?;
    runner.destroy(dir.path(), stack, interrupt).await?;
    runner.stack_rm(dir.path(), stack, interrupt).await
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), RunError> {
    std::fs::write(dir.join(name), text)
        .map_err(|source| RunError::Start { command: format!("write {name} for pulumi"), source })
}
