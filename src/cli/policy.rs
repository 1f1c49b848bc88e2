//! Policies on the command line (issue 15): the flags `validate`, `plan`
//! and `apply` share, the checks they call, and `panka policy test`.
//!
//! A deny ends the run with exit 2 before any lock or Pulumi run
//! (`apply` checks the plan it read before the lock, and again if the
//! plan changed under the lock); `--policy-warn-only` makes denies
//! warnings for a rollout period.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};

use super::backends::block_on;
use super::Context;
use crate::config::Config;
use crate::diagnostic::sources::Sources;
use crate::diagnostic::span::Span;
use crate::exit::{ExitStatus, Failure};
use crate::load::{LoadFailure, LoadedStack};
use crate::pipeline::Prepared;
use crate::plan::Plan;
use crate::policy::{self, builtin, input, source, PolicyError, PolicyFile, PolicyReport, PolicySet, Violation};
use crate::state::State;
use crate::validate::{Diagnostic, Diagnostics, Severity};

/// Flags of the commands that evaluate policies.
#[derive(Debug, Clone, Default, Args)]
pub struct PolicyFlags {
    /// Report policy denies as warnings (exit 0) while a policy is rolled out.
    #[arg(long)]
    pub policy_warn_only: bool,
    /// Also give policies the rendered Pulumi programs (`input.programs`).
    #[arg(long)]
    pub programs: bool,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the policies' own tests (`test_*` rules, usually in `_test.rego` files).
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Policy files or directories (default: the stack's `policies/`).
    pub paths: Vec<PathBuf>,
}

pub fn run(ctx: &Context, args: PolicyArgs) -> Result<ExitStatus> {
    match args.command {
        PolicyCommand::Test(t) => run_test(ctx, t),
    }
}

fn run_test(ctx: &Context, args: TestArgs) -> Result<ExitStatus> {
    let dir = ctx.stack_dir();
    let paths = if args.paths.is_empty() { vec![dir.join(source::STACK_POLICY_DIR)] } else { args.paths.clone() };
    let mut files = Vec::new();
    for p in &paths {
        if !p.exists() {
            return Err(Failure::new(ExitStatus::Invalid, format!("`{}` does not exist", p.display())).into());
        }
        files.extend(source::read_local(p, true, &|f| display(&dir, f)).map_err(read_failure)?);
    }
    let results = policy::testing::run(&files).map_err(|errors| report_errors(ctx, &files, errors))?;
    let failed = results.iter().filter(|r| r.outcome != policy::testing::Outcome::Pass).count();
    if ctx.printer.json_mode() {
        ctx.printer.json(&results);
    } else {
        let mut text = String::new();
        for r in &results {
            let (word, code) = match r.outcome {
                policy::testing::Outcome::Pass => ("PASS", "32"),
                policy::testing::Outcome::Fail => ("FAIL", "31"),
                policy::testing::Outcome::Error => ("ERROR", "31"),
            };
            text.push_str(&format!("{} {}: data.{}.{}", ctx.printer.paint(code, word), r.file, r.package, r.name));
            if let Some(d) = &r.detail {
                text.push_str(&format!(" ({d})"));
            }
            text.push('\n');
        }
        text.push_str(&format!("{} passed, {} failed\n", results.len() - failed, failed));
        ctx.printer.out(&text);
    }
    if results.is_empty() {
        ctx.printer.warn("no `test_*` rules found");
    }
    Ok(if failed > 0 { ExitStatus::Error } else { ExitStatus::Ok })
}

fn read_failure(e: std::io::Error) -> anyhow::Error {
    Failure::new(ExitStatus::Invalid, e.to_string()).into()
}

/// A policy file's path as shown: relative to the stack directory when inside it.
fn display(stack_dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(stack_dir).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// Print policy files that do not compile, each at its own file:line, and
/// turn them into an exit-2 error.
fn report_errors(ctx: &Context, files: &[PolicyFile], errors: Vec<PolicyError>) -> anyhow::Error {
    let mut sources = Sources::default();
    let ids: Vec<_> = files
        .iter()
        .map(|f| (f.path.clone(), sources.add(PathBuf::from(&f.path), f.path.clone(), f.text.clone())))
        .collect();
    let mut diags = Diagnostics::default();
    for e in errors {
        let span = ids
            .iter()
            .find(|(p, _)| *p == e.file)
            .and_then(|(_, id)| Some(Span::new(*id, e.line?, e.column.unwrap_or(1), 1)));
        let message = format!("policy `{}` does not compile: {}", e.file, e.message);
        diags.push(
            Diagnostic::error("policy-syntax", span, message)
                .with_hint("fix the Rego, then check it with `panka policy test`"),
        );
    }
    ctx.report(LoadFailure { sources, diagnostics: diags })
}

/// Every policy that applies to the stack: the built-ins not switched
/// off, the stack's `policies/`, and `policy.paths`.
pub fn load(ctx: &Context, config: &Config) -> Result<PolicySet> {
    let unknown = builtin::unknown(&config.policy_disable);
    if !unknown.is_empty() {
        let names: Vec<&str> = builtin::BUILTINS.iter().map(|(n, _)| *n).collect();
        return Err(Failure::new(
            ExitStatus::Invalid,
            format!(
                "`policy.disable` names {}, which is not a built-in policy\nhint: the built-in policies are {}",
                unknown.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", "),
                names.join(", ")
            ),
        )
        .into());
    }
    let dir = ctx.stack_dir();
    let mut files = builtin::files(&config.policy_disable);
    let own = dir.join(source::STACK_POLICY_DIR);
    if own.is_dir() {
        files.extend(source::read_local(&own, false, &|f| display(&dir, f)).map_err(read_failure)?);
    }
    for p in &config.policy_paths {
        if p.starts_with("s3://") {
            let aws = config.aws_settings();
            let service = crate::aws::ServiceSettings {
                region: config.backend_region.clone(),
                endpoint: config.backend_endpoint.clone(),
            };
            let bundle = block_on(source::read_s3(p, &aws, &service, false))?
                .map_err(|e| Failure::new(ExitStatus::Error, format!("cannot read the policy bundle `{p}`: {e}")))?;
            files.extend(bundle);
        } else {
            let path = Path::new(p);
            if !path.exists() {
                return Err(Failure::new(
                    ExitStatus::Invalid,
                    format!("the policy path `{p}` (policy.paths) does not exist"),
                )
                .into());
            }
            files.extend(source::read_local(path, false, &|f| display(&dir, f)).map_err(read_failure)?);
        }
    }
    let all = files.clone();
    PolicySet::compile(files).map_err(|errors| report_errors(ctx, &all, errors))
}

/// Findings as diagnostics located in the stack's YAML.
pub fn diagnostics(stack: &LoadedStack, plan: Option<&Plan>, found: &[Violation], warn_only: bool) -> Vec<Diagnostic> {
    found
        .iter()
        .map(|v| {
            let span = policy::locate::locate(stack, plan, v);
            let (severity, hint) = match (v.severity, warn_only) {
                (Severity::Error, false) => (
                    Severity::Error,
                    "a policy deny stops validate, plan and apply; `--policy-warn-only` reports it as a warning",
                ),
                (Severity::Error, true) => (Severity::Warning, "a deny, reported as a warning (`--policy-warn-only`)"),
                (Severity::Warning, _) => (Severity::Warning, "a policy warning; it does not stop the run"),
            };
            let mut hint = hint.to_string();
            if v.source.package.starts_with("panka.builtin.") {
                let name = v.source.package.trim_start_matches("panka.builtin.").replace('_', "-");
                hint.push_str(&format!("; built-in policy `{name}`: switch it off with `policy.disable: [{name}]`"));
            }
            let mut d =
                Diagnostic::error("policy", span, v.message.clone()).with_hint(hint).with_source(v.source.clone());
            d.severity = severity;
            d
        })
        .collect()
}

fn evaluate(set: &PolicySet, input: &serde_json::Value) -> Result<Vec<Violation>> {
    set.evaluate(input).map_err(|e| {
        Failure::new(
            ExitStatus::Invalid,
            format!("policy `{}` failed to evaluate: {}\nhint: check it with `panka policy test`", e.file, e.message),
        )
        .into()
    })
}

/// `validate`: the policies on the desired configuration of one environment.
pub fn check_stack(set: &PolicySet, stack: &LoadedStack, tenant: &str, flags: &PolicyFlags) -> Result<Vec<Diagnostic>> {
    if set.is_empty() {
        return Ok(Vec::new());
    }
    let found = evaluate(set, &input::for_stack(stack, tenant))?;
    Ok(diagnostics(stack, None, &found, flags.policy_warn_only))
}

/// The verdict on a plan: the findings (already recorded in `plan.policy`).
pub struct Verdict {
    pub diagnostics: Vec<Diagnostic>,
}

impl Verdict {
    pub fn denied(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// `plan` and `apply`: the policies on the whole plan document (with its
/// cost when estimated); the report goes into `plan.policy`.
pub fn check_plan(
    set: &PolicySet,
    prepared: &Prepared,
    config: &Config,
    flags: &PolicyFlags,
    plan: &mut Plan,
) -> Result<Verdict> {
    let stack = &prepared.stack;
    let mut doc = input::for_plan(plan, stack);
    if flags.programs {
        doc = input::with_programs(doc, programs(prepared, config)?);
    }
    let found = evaluate(set, &doc)?;
    let diagnostics = diagnostics(stack, Some(plan), &found, flags.policy_warn_only);
    let json = crate::diagnostic::render::to_json(&stack.sources, &diagnostics);
    plan.policy = Some(PolicyReport {
        packages: set.packages.clone(),
        denies: diagnostics.iter().filter(|d| d.is_error()).count(),
        warnings: diagnostics.iter().filter(|d| !d.is_error()).count(),
        warn_only: flags.policy_warn_only,
        violations: json,
    });
    Ok(Verdict { diagnostics })
}

/// The rendered programs by component (`--programs`).
fn programs(prepared: &Prepared, config: &Config) -> Result<serde_json::Map<String, serde_json::Value>> {
    use crate::pulumi::render::{render_stack, waves_of};
    let opts = crate::pulumi::emit::EmitOptions {
        tenant: config.tenant.clone(),
        endpoint: std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()).or(config.backend_endpoint.clone()),
    };
    let rendered = render_stack(&prepared.stack, &waves_of(&prepared.graph), &opts).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Failure::new(ExitStatus::Error, format!("cannot render the programs for policies: {}", text.join("; ")))
    })?;
    Ok(rendered
        .into_iter()
        .map(|r| (r.component, serde_json::to_value(&r.program).unwrap_or(serde_json::Value::Null)))
        .collect())
}

/// Print a verdict's findings (in JSON mode only when no document carries
/// them: `plan` prints them inside the plan); a deny becomes the exit-2 error.
pub fn finish(ctx: &Context, stack: &LoadedStack, verdict: &Verdict, in_document: bool) -> Result<()> {
    match (ctx.printer.json_mode(), in_document) {
        (false, _) => ctx.printer.diagnostics(&stack.sources, &verdict.diagnostics),
        // The plan document carries them.
        (true, true) => {}
        // apply: stdout holds one document, the run's report, or, when a
        // deny stops it before anything ran, the findings; warnings that
        // let it run go to stderr as a JSON line beside the progress events.
        (true, false) if verdict.denied() => ctx.printer.diagnostics(&stack.sources, &verdict.diagnostics),
        (true, false) if !verdict.diagnostics.is_empty() => {
            let findings = crate::diagnostic::render::to_json(&stack.sources, &verdict.diagnostics);
            let line = serde_json::json!({"event": "policy", "diagnostics": findings});
            ctx.printer.progress_line(&line.to_string());
        }
        (true, false) => {}
    }
    if verdict.denied() {
        if !ctx.printer.json_mode() {
            let n = verdict.diagnostics.iter().filter(|d| d.is_error()).count();
            ctx.printer
                .error(&format!("denied by policy: {n} violation{}; nothing was run", if n == 1 { "" } else { "s" }));
        }
        return Err(Failure::printed(ExitStatus::Invalid).into());
    }
    Ok(())
}

/// The stored state, read without the lock (the plan and apply's first check).
pub fn read_state(ctx: &Context, config: &Config, stack: &str, env: &str) -> Result<Option<State>> {
    use super::backends::{name_failure, open};
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

/// `apply`'s policy gate: before the lock, on the plan it will apply (a
/// saved plan, or one made from the state as read now); after the lock,
/// again when the plan changed.
pub struct Gate {
    set: PolicySet,
    flags: PolicyFlags,
    checked: Vec<(String, crate::plan::Action, String)>,
}

fn plan_key(plan: &Plan) -> Vec<(String, crate::plan::Action, String)> {
    plan.changes.iter().map(|c| (c.component.clone(), c.action, c.config_hash.clone())).collect()
}

impl Gate {
    /// Evaluate before the lock; a deny is the exit-2 error.
    pub fn before_lock(
        ctx: &Context,
        prepared: &Prepared,
        config: &Config,
        saved: Option<&Plan>,
        flags: &PolicyFlags,
    ) -> Result<Gate> {
        let set = load(ctx, config)?;
        let mut plan = match saved {
            Some(p) => p.clone(),
            None => {
                let stack = &prepared.stack;
                let state = read_state(ctx, config, stack.name(), &stack.environment)?;
                let mut plan = crate::plan::plan(stack, &prepared.graph, state.as_ref(), &config.tenant);
                plan.cost = Some(crate::cost::estimate(&plan, state.as_ref(), &stack.provider.region));
                plan
            }
        };
        let verdict = check_plan(&set, prepared, config, flags, &mut plan)?;
        finish(ctx, &prepared.stack, &verdict, false)?;
        Ok(Gate { set, flags: flags.clone(), checked: plan_key(&plan) })
    }

    /// Under the lock: evaluate again only if the plan is not the one checked.
    pub fn recheck(
        &self,
        ctx: &Context,
        prepared: &Prepared,
        config: &Config,
        state: Option<&State>,
        plan: &Plan,
    ) -> Result<()> {
        if plan_key(plan) == self.checked {
            return Ok(());
        }
        let mut plan = plan.clone();
        plan.cost = Some(crate::cost::estimate(&plan, state, &prepared.stack.provider.region));
        let verdict = check_plan(&self.set, prepared, config, &self.flags, &mut plan)?;
        finish(ctx, &prepared.stack, &verdict, false)
    }
}
