//! The command line (SPEC §11). clap types live here and in one file per
//! command; command files parse and print, the work happens in library
//! modules.

mod admin;
pub mod backends;
mod completion;
mod deploy;
mod graph;
pub mod history;
mod init;
mod locks;
mod logs;
mod plan;
mod policy;
mod render;
mod state;
mod tenant;
mod validate;
mod version;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::exit::{ExitStatus, Failure};
use crate::load::{LoadFailure, LoadOptions};
use crate::ui::printer::OutputFormat;
use crate::ui::Printer;

#[derive(Debug, Parser)]
#[command(name = "panka", version, about = "Deploy application stacks to AWS through Pulumi", propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The stack directory.
    #[arg(short = 'C', long = "dir", global = true, env = "PANKA_DIR", default_value = ".")]
    pub dir: PathBuf,
    /// A single file holding the whole stack (overlays beside it apply).
    #[arg(short = 'f', long = "file", global = true)]
    pub file: Option<PathBuf>,
    /// The environment to work on.
    #[arg(short = 'e', long = "environment", visible_alias = "env", global = true, env = "PANKA_ENVIRONMENT")]
    pub environment: Option<String>,
    /// The stack name (implied by the directory's Stack document).
    #[arg(long, global = true)]
    pub stack: Option<String>,
    /// The tenant (default: `default`).
    #[arg(long, global = true)]
    pub tenant: Option<String>,
    /// The config file (default: ~/.panka/config.yaml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, global = true, default_value = "text")]
    pub output: OutputFormat,
    /// More detail (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// No colors.
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Set a variable (highest precedence); repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", global = true, value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Read variables from a YAML file; repeatable.
    #[arg(long = "var-file", value_name = "FILE", global = true)]
    pub var_files: Vec<PathBuf>,
    /// The pulumi binary (default: `pulumi` on PATH).
    #[arg(long = "pulumi", global = true)]
    pub pulumi: Option<String>,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{k}` is not a variable name"));
    }
    Ok((k.to_string(), v.to_string()))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold a new stack that validates and plans.
    Init(init::InitArgs),
    /// Check the stack and report every problem.
    Validate(validate::ValidateArgs),
    /// Show the dependency graph, its waves and the critical path.
    Graph(graph::GraphArgs),
    /// Show what apply would change.
    Plan(plan::PlanArgs),
    /// Deploy the stack: plan, approve, run Pulumi component by component.
    Apply(deploy::ApplyArgs),
    /// Delete every deployed component, dependents first.
    Destroy(deploy::DestroyArgs),
    /// Put the components back as a recorded deployment left them.
    Rollback(deploy::RollbackArgs),
    /// Find what was changed out of band (read-only: Pulumi refresh previews).
    Drift(deploy::DriftArgs),
    /// Policies: run their own tests (`panka policy test`).
    Policy(policy::PolicyArgs),
    /// Write the Pulumi programs apply would run, one per component.
    Render(render::RenderArgs),
    /// List the tenant's locks with age and staleness.
    Locks(locks::LocksArgs),
    /// Remove a lock by its exact id (asks for confirmation).
    Unlock(locks::UnlockArgs),
    /// Inspect or repair the stored state.
    State(state::StateArgs),
    /// What is deployed: per component status, config, last deployment, outputs.
    Status(history::StatusArgs),
    /// The deployment records, newest first: who, when, which commit, what changed.
    History(history::HistoryArgs),
    /// A component's CloudWatch Logs, streams interleaved by time (`--follow` until Ctrl-C).
    Logs(logs::LogsArgs),
    /// Platform-team commands (bucket, table, tenants).
    Admin(admin::AdminArgs),
    /// Print version information.
    Version,
    /// Print shell completions.
    Completion(completion::CompletionArgs),
}

/// What every command gets: flags, the printer and lazily the config.
pub struct Context {
    pub global: GlobalArgs,
    pub printer: Printer,
    /// An admin command: `--tenant` may name any tenant (SPEC §12).
    pub admin: bool,
}

impl Context {
    pub fn config(&self) -> Result<Config> {
        let overrides = Overrides {
            config_file: self.global.config.clone(),
            tenant: self.global.tenant.clone(),
            pulumi_binary: self.global.pulumi.clone(),
            admin: self.admin,
        };
        Config::from_env(&overrides).map_err(|f| self.report(f))
    }

    /// The environment; `dev` when none is given.
    pub fn environment(&self) -> String {
        self.global.environment.clone().unwrap_or_else(|| "dev".to_string())
    }

    pub fn load_options(&self, environment: &str) -> LoadOptions {
        LoadOptions {
            dir: self.stack_dir(),
            file: self.global.file.clone(),
            environment: environment.to_string(),
            cli_vars: self.global.vars.iter().cloned().collect::<BTreeMap<_, _>>(),
            var_files: self.global.var_files.clone(),
            stack_name: self.global.stack.clone(),
        }
    }

    /// Where `.panka/` lives: the stack directory, or the `-f` file's folder.
    pub fn stack_dir(&self) -> PathBuf {
        match &self.global.file {
            Some(f) => {
                f.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), PathBuf::from)
            }
            None => self.global.dir.clone(),
        }
    }

    /// Print a load failure and turn it into an exit-2 error.
    pub fn report(&self, failure: LoadFailure) -> anyhow::Error {
        self.printer.diagnostics(&failure.sources, &failure.diagnostics.0);
        if !self.printer.json_mode() {
            let n = failure.diagnostics.error_count();
            self.printer.error(&format!("found {n} problem{}", if n == 1 { "" } else { "s" }));
        }
        Failure::printed(ExitStatus::Invalid).into()
    }
}

pub fn run(cli: Cli) -> Result<ExitStatus> {
    let printer = Printer::new(cli.global.output, cli.global.quiet, cli.global.verbose, cli.global.no_color);
    let admin = match &cli.command {
        Command::Admin(_) => true,
        Command::Locks(args) => args.all_tenants,
        _ => false,
    };
    let ctx = Context { global: cli.global, printer, admin };
    match cli.command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Validate(args) => validate::run(&ctx, args),
        Command::Graph(args) => graph::run(&ctx, args),
        Command::Plan(args) => plan::run(&ctx, args),
        Command::Apply(args) => deploy::run_apply(&ctx, args),
        Command::Destroy(args) => deploy::run_destroy(&ctx, args),
        Command::Rollback(args) => deploy::run_rollback(&ctx, args),
        Command::Drift(args) => deploy::run_drift(&ctx, args),
        Command::Policy(args) => policy::run(&ctx, args),
        Command::Render(args) => render::run(&ctx, args),
        Command::Locks(args) => locks::run_locks(&ctx, args),
        Command::Unlock(args) => locks::run_unlock(&ctx, args),
        Command::State(args) => state::run(&ctx, args),
        Command::Status(args) => history::run_status(&ctx, args),
        Command::History(args) => history::run_history(&ctx, args),
        Command::Logs(args) => logs::run(&ctx, args),
        Command::Admin(args) => admin::run(&ctx, args),
        Command::Version => version::run(&ctx),
        Command::Completion(args) => completion::run(&ctx, args),
    }
}
