//! `panka render`: write the Pulumi programs apply would run.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Args;
use serde::Serialize;

use super::Context;
use crate::exit::ExitStatus;
use crate::pipeline::prepare;
use crate::pulumi::emit::EmitOptions;
use crate::pulumi::render::{render_stack, waves_of, write_rendered};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Directory to write `wave-NN/<service>-<component>/Pulumi.yaml` into.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

#[derive(Debug, Serialize)]
struct Rendered {
    environment: String,
    programs: Vec<RenderedJson>,
}

#[derive(Debug, Serialize)]
struct RenderedJson {
    wave: usize,
    component: String,
    path: PathBuf,
}

pub fn run(ctx: &Context, args: RenderArgs) -> Result<ExitStatus> {
    let env = ctx.environment();
    let p = prepare(&ctx.load_options(&env)).map_err(|f| ctx.report(f))?;
    let config = ctx.config()?;
    let opts = EmitOptions {
        tenant: config.tenant.clone(),
        endpoint: std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()).or(config.backend_endpoint),
    };
    let programs = render_stack(&p.stack, &waves_of(&p.graph), &opts).map_err(|errors| {
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow!("could not render {} component(s):\n{}", errors.len(), text.join("\n"))
    })?;
    let written = write_rendered(&args.out_dir, &env, &programs)?;
    let out = Rendered {
        environment: env,
        programs: programs
            .iter()
            .zip(written)
            .map(|(r, path)| RenderedJson { wave: r.wave, component: r.component.clone(), path })
            .collect(),
    };
    if ctx.printer.json_mode() {
        ctx.printer.json(&out);
    } else {
        for r in &out.programs {
            ctx.printer.out(&format!("wave {:02}  {:<32} {}", r.wave, r.component, r.path.display()));
        }
    }
    Ok(ExitStatus::Ok)
}
