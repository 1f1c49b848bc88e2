//! `panka graph`: nodes, waves and the critical path.

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::Context;
use crate::exit::ExitStatus;
use crate::graph::render;
use crate::pipeline::prepare;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format (`--output json` implies json).
    #[arg(long, value_enum, default_value = "text")]
    pub format: GraphFormat,
}

pub fn run(ctx: &Context, args: GraphArgs) -> Result<ExitStatus> {
    let p = prepare(&ctx.load_options(&ctx.environment())).map_err(|f| ctx.report(f))?;
    let format = if ctx.printer.json_mode() { GraphFormat::Json } else { args.format };
    match format {
        GraphFormat::Text => ctx.printer.out(&render::to_text(&p.stack, &p.graph)),
        GraphFormat::Dot => ctx.printer.out(&render::to_dot(&p.stack, &p.graph)),
        GraphFormat::Mermaid => ctx.printer.out(&render::to_mermaid(&p.stack, &p.graph)),
        GraphFormat::Json => ctx.printer.json(&render::to_json(&p.stack, &p.graph)),
    }
    crate::pipeline::discard(p);
    Ok(ExitStatus::Ok)
}
