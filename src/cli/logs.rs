//! `panka logs <service>/<component>`: the component's CloudWatch Logs,
//! streams interleaved by time; `--follow` until Ctrl-C (exit 0).

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Args;

use super::backends::{aws_failure, block_on, parse_duration};
use super::deploy::{selection, Targets};
use super::Context;
use crate::exit::{ExitStatus, Failure};
use crate::live::logs::{self, Follower, LogQuery};
use crate::model::ComponentId;
use crate::pipeline::prepare;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The component: `service/component` (or a component name the stack has once).
    #[arg(value_name = "SERVICE/COMPONENT")]
    pub target: String,
    /// From how long ago (`30s`, `10m`, `2h`, `7d`) or from a time (RFC 3339).
    #[arg(long, default_value = "10m", value_parser = parse_since)]
    pub since: Since,
    /// Keep printing new events until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// Only events matching this CloudWatch Logs filter pattern (`ERROR`, `"timed out"`).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// How often `--follow` asks for new events.
    #[arg(long, default_value = "2s", value_parser = parse_duration, hide = true)]
    pub poll: Duration,
}

/// `--since`: an age or a time.
#[derive(Debug, Clone, Copy)]
pub enum Since {
    Ago(Duration),
    At(DateTime<Utc>),
}

impl Since {
    fn start(self) -> DateTime<Utc> {
        match self {
            Since::Ago(d) => Utc::now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX),
            Since::At(t) => t,
        }
    }
}

fn parse_since(s: &str) -> Result<Since, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Since::At(t.with_timezone(&Utc)));
    }
    if let Some(days) = s.strip_suffix('d') {
        let n: u64 = days.parse().map_err(|_| format!("`{s}` is not a duration like 10m, 2h or 7d, nor a time"))?;
        return Ok(Since::Ago(Duration::from_secs(n.saturating_mul(86_400))));
    }
    parse_duration(s).map(Since::Ago).map_err(|_| format!("`{s}` is not a duration like 10m, 2h or 7d, nor a time"))
}

pub fn run(ctx: &Context, args: LogsArgs) -> Result<ExitStatus> {
    let env = ctx.environment();
    let prepared = prepare(&ctx.load_options(&env)).map_err(|f| ctx.report(f))?;
    let stack = &prepared.stack;
    let known: BTreeSet<String> = stack.components.keys().map(ToString::to_string).collect();
    let target = Targets { services: Vec::new(), components: vec![args.target.clone()] };
    let chosen = selection(&target, &known)?.and_then(|s| s.into_iter().next()).expect("one component");
    let id = ComponentId::parse(&chosen).expect("a known component id");
    let config = ctx.config()?;
    let names = crate::pulumi::emit::live_names(stack, &id, &config.tenant).expect("a known component");
    let Some(group) = names.log_group.clone() else {
        return Err(Failure::new(
            ExitStatus::Invalid,
            format!(
                "`{chosen}` is a {} and writes no logs of its own\nhint: logs come from MicroServices, Workers, CronJobs and Lambdas",
                stack.components[&id].kind
            ),
        )
        .into());
    };
    let query = LogQuery { group, filter: args.filter.clone() };
    let since = args.since.start();
    block_on(async {
        let sdk = crate::aws::load_config(&config.aws_settings()).await;
        let client = crate::aws::logs_client(&sdk, Some(names.region.as_str()).filter(|r| !r.is_empty()));
        let mut interrupt =
            crate::deploy::interrupts().map_err(|e| anyhow::anyhow!("cannot listen for Ctrl-C: {e}"))?;
        let mut follower = Follower::default();
        ctx.printer.detail(&format!("reading log group `{}` from {}", query.group, since.to_rfc3339()));
        loop {
            let start = follower.next_start(since);
            let events = tokio::select! {
                r = logs::read(&client, &query, start) => r.map_err(aws_failure)?,
                _ = interrupt.changed() => return Ok(ExitStatus::Ok),
            };
            for e in follower.fresh(events) {
                if ctx.printer.json_mode() {
                    ctx.printer.out(&serde_json::to_string(&e).expect("log events serialize"));
                } else {
                    ctx.printer.out(&e.to_string());
                }
            }
            if !args.follow {
                return anyhow::Ok(ExitStatus::Ok);
            }
            tokio::select! {
                _ = tokio::time::sleep(args.poll) => {}
                _ = interrupt.changed() => return Ok(ExitStatus::Ok),
            }
        }
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_ages_days_and_times() {
        assert!(matches!(parse_since("10m"), Ok(Since::Ago(d)) if d == Duration::from_secs(600)));
        assert!(matches!(parse_since("7d"), Ok(Since::Ago(d)) if d == Duration::from_secs(7 * 86_400)));
        assert!(matches!(parse_since("2026-12-03T10:00:00Z"), Ok(Since::At(_))));
        assert!(parse_since("yesterday").is_err());
    }
}
