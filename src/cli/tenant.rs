//! `panka admin tenant create|list|show|rotate|delete` (SPEC §12).
//!
//! Exit codes: 2 for a bad name, trust or glob and for a refused delete (or
//! an unknown tenant); 5 when the tenant already exists (a create that lost
//! the race to another, too); 4 when its IAM program fails; 1 for AWS
//! errors (AccessDenied names the action and the resource).

use anyhow::Result;
use clap::{Args, Subcommand};

use super::backends::{block_on, open, settings};
use super::Context;
use crate::backend::{LockBackendSettings, StateBackendSettings};
use crate::exit::{ExitStatus, Failure};
use crate::pulumi::runner::{Runner, Secrets};
use crate::tenant::{self, policy, Admin, LifecycleError, Registry, RegistryError};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Register a tenant and deploy its IAM role; prints its config snippet
    /// and the external id (once).
    Create(CreateArgs),
    /// Every registered tenant.
    List,
    /// One tenant's record (never its external id).
    Show(NameArg),
    /// Replace the tenant's external id: the old one stops working.
    Rotate(NameArg),
    /// Remove the tenant's role and record (refused while it has stacks or
    /// live locks, unless --force; its state is kept).
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The tenant's name: a-z, 0-9 and `-`, at most 20 characters.
    pub name: String,
    /// Who may assume the role: an IAM principal ARN (with the external id),
    /// or `oidc:<provider ARN>=<subject pattern>`. Repeatable.
    #[arg(long = "trust", value_name = "PRINCIPAL")]
    pub trust: Vec<String>,
    /// The stack names the tenant may use (IAM wildcards `*` and `?`).
    #[arg(long, default_value = "*", value_name = "GLOB")]
    pub stacks: String,
    /// Print the policy, permissions boundary and trust policy that would be
    /// deployed; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    pub name: String,
    /// Delete even while the tenant has stacks or live locks.
    #[arg(long)]
    pub force: bool,
}

fn failure(e: LifecycleError) -> anyhow::Error {
    let status = match &e {
        LifecycleError::Invalid(_) | LifecycleError::Refused(_) => ExitStatus::Invalid,
        LifecycleError::Registry(RegistryError::Missing(_)) => ExitStatus::Invalid,
        LifecycleError::Registry(RegistryError::Exists(_) | RegistryError::Changed(_)) => ExitStatus::StateConflict,
        LifecycleError::Pulumi { .. } => ExitStatus::DeployFailed,
        LifecycleError::Registry(_) | LifecycleError::Locks(_) => ExitStatus::Error,
    };
    let hint = match &e {
        LifecycleError::Registry(RegistryError::Exists(n)) => {
            format!("\nhint: `panka admin tenant show {n}` shows it; `rotate` replaces its external id")
        }
        LifecycleError::Registry(RegistryError::Missing(_)) => "\nhint: `panka admin tenant list` lists them".into(),
        LifecycleError::Pulumi { tenant, .. } => format!(
            "\nhint: its record exists without a role; fix the cause and run `panka admin tenant rotate {tenant}` to finish"
        ),
        _ => String::new(),
    };
    Failure::new(status, format!("{e}{hint}")).into()
}

pub fn run(ctx: &Context, command: TenantCommand) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let s = settings(ctx, &config)?;
    let (StateBackendSettings::S3 { bucket, prefix, service: s3_service }, LockBackendSettings::DynamoDb { table, .. }) =
        (&s.state, &s.locks)
    else {
        return Err(Failure::new(
            ExitStatus::Invalid,
            "tenants live in the S3 bucket and the DynamoDB lock table; this configuration uses a local backend\nhint: set `backend.type: s3`, `backend.bucket` and `locks.type: dynamodb`",
        )
        .into());
    };
    let table = table.clone().unwrap_or_else(|| crate::lock::dynamodb::DEFAULT_TABLE.to_string());
    let prefix = prefix.trim_matches('/').to_string();
    let region = config
        .aws_region
        .clone()
        .or(config.backend_region.clone())
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok().filter(|r| !r.is_empty()))
        .unwrap_or_else(|| "us-east-1".to_string());

    // Checks that need no AWS: before any request.
    let name = match &command {
        TenantCommand::Create(a) => Some(a.name.as_str()),
        TenantCommand::Show(a) | TenantCommand::Rotate(a) => Some(a.name.as_str()),
        TenantCommand::Delete(a) => Some(a.name.as_str()),
        TenantCommand::List => None,
    };
    if let Some(name) = name {
        tenant::check_name(name).map_err(failure)?;
    }
    let trust = match &command {
        TenantCommand::Create(a) => tenant::check_request(&a.trust, &a.stacks).map_err(failure)?,
        _ => Vec::new(),
    };
    if let TenantCommand::Create(a) = &command {
        let input = policy::PolicyInput {
            tenant: a.name.clone(),
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            table: table.clone(),
            stacks: a.stacks.clone(),
        };
        if let Some(why) = policy::scoping_problem(&input) {
            return Err(failure(tenant::LifecycleError::Invalid(format!("refusing tenant `{}`: {why}", a.name))));
        }
        if a.dry_run {
            let documents = policy::render(&input, &trust, "<external id: generated by create>");
            if ctx.printer.json_mode() {
                ctx.printer.json(&documents);
            } else {
                for (what, doc) in [
                    ("policy", &documents.policy),
                    ("deploy", &documents.deploy),
                    ("boundary", &documents.boundary),
                    ("trust", &documents.trust),
                ] {
                    ctx.printer.out(&format!("# {what}\n{}", serde_json::to_string_pretty(doc)?));
                }
                ctx.printer.info("dry run: nothing was written");
            }
            return Ok(ExitStatus::Ok);
        }
    }
    let needs_pulumi =
        matches!(command, TenantCommand::Create(_) | TenantCommand::Rotate(_) | TenantCommand::Delete(_));
    let pulumi = if needs_pulumi {
        let binary = Runner::locate(config.pulumi_binary.as_deref())
            .map_err(|e| Failure::new(ExitStatus::Error, e.to_string()))?;
        let secrets = Secrets::from_config(config.pulumi_passphrase.as_deref())
            .map_err(|e| Failure::new(ExitStatus::Invalid, e.to_string()))?;
        Some((binary, secrets))
    } else {
        None
    };
    let endpoint = super::deploy::emit_options(&config).endpoint;
    block_on(async {
        let backends = open(ctx, &config).await?;
        let sdk = crate::aws::load_config(&s.aws).await;
        let s3 = aws_sdk_s3::Client::from_conf(crate::aws::s3_config(&sdk, s3_service).build());
        let registry = Registry::new(s3, bucket, &prefix);
        match command {
            TenantCommand::List => {
                let listing = tenant::list(&registry).await.map_err(|e| failure(e.into()))?;
                print(ctx, &listing, &listing.to_string());
                return Ok(ExitStatus::Ok);
            }
            TenantCommand::Show(a) => {
                let (record, _) = registry.get(&a.name).await.map_err(|e| failure(e.into()))?;
                print(ctx, &record, &record.to_string());
                return Ok(ExitStatus::Ok);
            }
            _ => {}
        }
        let (binary, secrets) = pulumi.expect("create, rotate and delete have a runner");
        let runner = Runner::new(binary, &backends.pulumi_backend_url_at(&registry.pulumi_dir()), secrets);
        let interrupt = crate::deploy::interrupts()?;
        let admin = Admin {
            registry: &registry,
            runner: &runner,
            locks: backends.locks.as_ref(),
            prefix: prefix.clone(),
            table: table.clone(),
            region: region.clone(),
            endpoint,
            interrupt,
        };
        match command {
            TenantCommand::Create(a) => {
                let who = crate::lock::record::user_at_host();
                let handover = admin.create(&a.name, trust, &a.stacks, &who).await.map_err(failure)?;
                print(ctx, &handover, &handover.to_string());
            }
            TenantCommand::Rotate(a) => {
                let handover = admin.rotate(&a.name).await.map_err(failure)?;
                print(ctx, &handover, &handover.to_string());
            }
            TenantCommand::Delete(a) => {
                let deleted = admin.delete(&a.name, a.force).await.map_err(failure)?;
                print(ctx, &deleted, &deleted.to_string());
            }
            TenantCommand::List | TenantCommand::Show(_) => unreachable!("answered above"),
        }
        Ok(ExitStatus::Ok)
    })?
}

fn print<T: serde::Serialize>(ctx: &Context, value: &T, text: &str) {
    if ctx.printer.json_mode() {
        ctx.printer.json(value);
    } else {
        ctx.printer.out(text.trim_end());
    }
}
