//! `panka validate`: every problem of the stack, for one environment
//! (`-e`) or for every environment the stack mentions.

use anyhow::Result;
use clap::Args;

use super::Context;
use crate::diagnostic::render;
use crate::exit::{ExitStatus, Failure};
use crate::load::known_environments;
use crate::pipeline::prepare;
use crate::validate::{Diagnostic, Diagnostics};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub policy: super::policy::PolicyFlags,
}

pub fn run(ctx: &Context, args: ValidateArgs) -> Result<ExitStatus> {
    let envs = match &ctx.global.environment {
        Some(e) => vec![e.clone()],
        None => known_environments(&ctx.load_options("dev")),
    };
    let mut found: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    let mut add = |d: Diagnostic, env: &str| match found
        .iter_mut()
        .find(|(f, _)| f.span == d.span && f.message == d.message && f.code == d.code)
    {
        Some((_, envs)) => envs.push(env.to_string()),
        None => found.push((d, vec![env.to_string()])),
    };
    let config = ctx.config()?;
    let policies = super::policy::load(ctx, &config)?;
    let mut sources = None;
    let mut stack_name = None;
    let mut components = 0;
    for env in &envs {
        match prepare(&ctx.load_options(env)) {
            Ok(mut p) => {
                stack_name = Some(p.stack.name().to_string());
                components = components.max(p.stack.components.len());
                std::mem::take(&mut p.warnings).into_iter().for_each(|d| add(d, env));
                super::policy::check_stack(&policies, &p.stack, &config.tenant, &args.policy)?
                    .into_iter()
                    .for_each(|d| add(d, env));
                match &mut sources {
                    None => sources = Some(std::mem::take(&mut p.stack.sources)),
                    // Overlays of this environment were not read for the first one.
                    Some(s) => s.fill_from(&p.stack.sources),
                }
                crate::pipeline::discard(p);
            }
            Err(f) => {
                f.diagnostics.0.into_iter().for_each(|d| add(d, env));
                if sources.is_none()
                    || f.sources.len() > sources.as_ref().map_or(0, |s: &crate::diagnostic::sources::Sources| s.len())
                {
                    sources = Some(f.sources);
                } else if let Some(s) = &mut sources {
                    s.fill_from(&f.sources);
                }
            }
        }
    }
    // A problem of only some environments says which.
    let mut all = Diagnostics(
        found
            .into_iter()
            .map(|(mut d, in_envs)| {
                if in_envs.len() < envs.len() {
                    d.message = format!("{} (environment {})", d.message, in_envs.join(", "));
                }
                d
            })
            .collect(),
    );
    all.sort();
    let sources = sources.unwrap_or_default();
    let failed = all.has_errors() || (args.strict && !all.0.is_empty());
    if ctx.printer.json_mode() {
        ctx.printer.json(&render::to_json(&sources, &all.0));
    } else {
        ctx.printer.diagnostics(&sources, &all.0);
        if failed {
            let (e, w) = (all.error_count(), all.warning_count());
            ctx.printer.error(&format!("validation failed: {e} error(s), {w} warning(s)"));
        } else {
            ctx.printer.info(&format!(
                "{} stack `{}` is valid for {} ({components} component{})",
                ctx.printer.paint("32", "ok:"),
                stack_name.unwrap_or_default(),
                envs.join(", "),
                if components == 1 { "" } else { "s" }
            ));
        }
    }
    if failed {
        return Err(Failure::printed(ExitStatus::Invalid).into());
    }
    Ok(ExitStatus::Ok)
}
