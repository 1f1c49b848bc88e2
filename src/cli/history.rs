//! `panka history` (the deployment records, newest first) and `panka
//! status` (what is deployed, from the state and the records; no AWS calls
//! beyond the state bucket and the lock table unless `--live` asks ECS,
//! Lambda and RDS how the resources are now).

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Result;
use clap::Args;
use serde::{Deserialize, Serialize};

use super::backends::{block_on, open, stack_scope};
use super::Context;
use crate::exit::{ExitStatus, Failure};
use crate::live::health::{self, LiveHealth};
use crate::lock::record::human;
use crate::state::records::{self, IndexEntry};
use crate::state::{read_state, ComponentStatus};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// At most this many deployments (newest first).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Only deployments that touched this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only deployments that touched this component (`service/component`).
    #[arg(long)]
    pub component: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this service's components.
    #[arg(long)]
    pub service: Option<String>,
    /// Only this component (`service/component`).
    #[arg(long)]
    pub component: Option<String>,
    /// Also ask AWS how the resources are now: ECS tasks and rollout,
    /// Lambda state, RDS status (needs the stack's files and AWS access).
    #[arg(long)]
    pub live: bool,
}

fn touches(components: &[String], service: &Option<String>, component: &Option<String>) -> bool {
    let service_ok =
        service.as_ref().is_none_or(|s| components.iter().any(|c| c.split('/').next() == Some(s.as_str())));
    let component_ok = component.as_ref().is_none_or(|k| components.iter().any(|c| c == k));
    service_ok && component_ok
}

/// `panka history --output json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct History {
    pub stack: String,
    pub environment: String,
    pub deployments: Vec<IndexEntry>,
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.deployments.is_empty() {
            return writeln!(f, "no deployments recorded for `{}` ({})", self.stack, self.environment);
        }
        writeln!(
            f,
            "{:<36} {:<20} {:<9} {:<11} {:<24} {:<12} COMPONENTS",
            "ID", "STARTED", "OPERATION", "STATUS", "BY", "COMMIT"
        )?;
        for d in &self.deployments {
            let commit = d
                .git_commit
                .as_deref()
                .map(|c| format!("{}{}", &c[..c.len().min(10)], if d.git_dirty { "+" } else { "" }))
                .unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "{:<36} {:<20} {:<9} {:<11} {:<24} {:<12} {}",
                d.id,
                d.started_at.format("%Y-%m-%d %H:%M:%S"),
                d.operation,
                d.status,
                d.by,
                commit,
                d.components.len()
            )?;
        }
        Ok(())
    }
}

pub fn run_history(ctx: &Context, args: HistoryArgs) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let history = block_on(async {
        let backends = open(ctx, &config).await?;
        let scope = stack_scope(ctx, &backends)?;
        let index = records::index(backends.state.as_ref(), &scope)
            .await
            .map_err(|e| Failure::new(ExitStatus::Error, e.to_string()))?;
        let deployments: Vec<IndexEntry> = index
            .deployments
            .into_iter()
            .rev()
            .filter(|d| touches(&d.components, &args.service, &args.component))
            .take(args.limit)
            .collect();
        anyhow::Ok(History { stack: scope.stack.to_string(), environment: scope.environment.to_string(), deployments })
    })??;
    if ctx.printer.json_mode() {
        ctx.printer.json(&history);
    } else {
        ctx.printer.out(history.to_string().trim_end());
    }
    Ok(ExitStatus::Ok)
}

/// One component of `panka status --output json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ComponentStatusView {
    pub component: String,
    pub kind: String,
    pub status: ComponentStatus,
    pub config_hash: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The last recorded deployment that touched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment: Option<LastDeployment>,
    pub outputs: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The last `panka drift` result for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftMark>,
    /// What AWS says now (`--live`), as opposed to panka's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveHealth>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DriftMark {
    pub checked_at: chrono::DateTime<chrono::Utc>,
    /// `in-sync`, `drifted` or `unknown` (the refresh failed).
    pub result: String,
    pub resources: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LastDeployment {
    pub id: String,
    pub operation: String,
    pub status: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
}

/// `panka status --output json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusView {
    pub stack: String,
    pub environment: String,
    pub serial: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    pub components: Vec<ComponentStatusView>,
}

impl fmt::Display for StatusView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "`{}` ({}), state serial {}", self.stack, self.environment, self.serial)?;
        match &self.lock {
            Some(holder) => writeln!(f, "lock: {holder}")?,
            None => writeln!(f, "lock: free")?,
        }
        writeln!(f, "{:<36} {:<14} {:<12} {:<14} LAST DEPLOYMENT", "COMPONENT", "KIND", "STATUS", "CONFIG")?;
        let now = chrono::Utc::now();
        for c in &self.components {
            let last = c
                .last_deployment
                .as_ref()
                .map(|d| {
                    let ago = (now - d.started_at).to_std().unwrap_or_default();
                    format!("{} {} {} ago by {}", d.operation, d.status, human(ago), d.by)
                })
                .unwrap_or_else(|| "-".into());
            let mark = match c.status {
                ComponentStatus::InProgress => " (left in progress: the next apply reconciles it)",
                ComponentStatus::Failed => " (failed)",
                _ => "",
            };
            writeln!(
                f,
                "{:<36} {:<14} {:<12} {:<14} {last}{mark}",
                c.component,
                c.kind,
                c.status.to_string(),
                &c.config_hash[..c.config_hash.len().min(12)]
            )?;
            if let Some(e) = &c.last_error {
                writeln!(f, "    error: {}", e.lines().next().unwrap_or_default())?;
            }
            if let Some(d) = &c.drift {
                let ago = (now - d.checked_at).to_std().unwrap_or_default();
                let what = match d.result.as_str() {
                    "drifted" => format!("drifted ({} resource(s) changed out of band)", d.resources),
                    other => other.to_string(),
                };
                writeln!(f, "    drift: {what}, checked {} ago", human(ago))?;
            }
            if let Some(live) = &c.live {
                writeln!(f, "    live: {live}")?;
            }
            for (k, v) in &c.outputs {
                let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                writeln!(f, "    {k} = {v}")?;
            }
        }
        Ok(())
    }
}

pub fn run_status(ctx: &Context, args: StatusArgs) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let view = block_on(async {
        let backends = open(ctx, &config).await?;
        let scope = stack_scope(ctx, &backends)?;
        let store = backends.state.as_ref();
        let Some((state, _)) = read_state(store, &scope).await.map_err(Failure::from)? else {
            return Err(Failure::new(
                ExitStatus::Error,
                format!(
                    "nothing is deployed for {}\nhint: `panka apply -e {}` deploys it",
                    scope.display(),
                    scope.environment
                ),
            )
            .into());
        };
        let index = records::index(store, &scope).await.map_err(|e| Failure::new(ExitStatus::Error, e.to_string()))?;
        let drift: Option<crate::deploy::drift::DriftReport> =
            match store.get(&format!("{}/drift.json", scope.state_dir())).await {
                Ok(Some(obj)) => serde_json::from_slice(&obj.body).ok(),
                _ => None,
            };
        let lock = match backends.locks.get(&scope.lock_key()).await {
            Ok(Some(r)) => Some(r.describe_holder(chrono::Utc::now().timestamp())),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({})", e.to_string().lines().next().unwrap_or_default())),
        };
        // The last deployment that touched each component, in one pass.
        let mut last: std::collections::HashMap<&str, &IndexEntry> = std::collections::HashMap::new();
        for d in &index.deployments {
            for c in &d.components {
                last.insert(c.as_str(), d);
            }
        }
        let components = state
            .components
            .iter()
            .filter(|(k, c)| {
                c.status != ComponentStatus::Deleted && touches(&[k.to_string()], &args.service, &args.component)
            })
            .map(|(k, c)| ComponentStatusView {
                component: k.clone(),
                kind: c.kind.clone(),
                status: c.status,
                config_hash: c.config_hash.clone(),
                updated_at: c.updated_at,
                last_deployment: last.get(k.as_str()).map(|d| LastDeployment {
                    id: d.id.clone(),
                    operation: d.operation.clone(),
                    status: d.status.clone(),
                    started_at: d.started_at,
                    by: d.by.clone(),
                    git_commit: d.git_commit.clone(),
                }),
                // Secrets were never stored: they read `[secret]`.
                outputs: c.outputs.clone(),
                last_error: c.last_error.clone(),
                drift: drift.as_ref().and_then(|d| {
                    let c = d.components.iter().find(|x| &x.component == k)?;
                    let result = match (&c.error, c.drifted) {
                        (Some(_), _) => "unknown",
                        (None, true) => "drifted",
                        (None, false) => "in-sync",
                    };
                    Some(DriftMark { checked_at: d.checked_at, result: result.into(), resources: c.resources.len() })
                }),
                live: None,
            })
            .collect::<Vec<_>>();
        let mut components = components;
        if args.live {
            live_health(ctx, &config, &mut components).await?;
        }
        anyhow::Ok(StatusView {
            stack: scope.stack.to_string(),
            environment: scope.environment.to_string(),
            serial: state.serial,
            lock,
            components,
        })
    })??;
    if ctx.printer.json_mode() {
        ctx.printer.json(&view);
    } else {
        ctx.printer.out(view.to_string().trim_end());
    }
    Ok(ExitStatus::Ok)
}

/// Fills in `live` for each component AWS reports health for, all at once.
async fn live_health(
    ctx: &Context,
    config: &crate::config::Config,
    components: &mut [ComponentStatusView],
) -> anyhow::Result<()> {
    let prepared = crate::pipeline::prepare(&ctx.load_options(&ctx.environment())).map_err(|f| ctx.report(f))?;
    let stack = &prepared.stack;
    let sdk = crate::aws::load_config(&config.aws_settings()).await;
    let region = Some(stack.provider.region.as_str()).filter(|r| !r.is_empty());
    let clients = health::Clients::new(&sdk, region);
    let mut checks = tokio::task::JoinSet::new();
    for (i, c) in components.iter().enumerate() {
        let Some(id) = crate::model::ComponentId::parse(&c.component) else { continue };
        let Some(names) = crate::pulumi::emit::live_names(stack, &id, &config.tenant) else { continue };
        let clients = clients.clone();
        checks.spawn(async move { (i, health::check(&clients, &names).await) });
    }
    while let Some(done) = checks.join_next().await {
        let (i, live) = done?;
        components[i].live = live;
    }
    Ok(())
}
