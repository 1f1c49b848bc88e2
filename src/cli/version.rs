//! `panka version`.

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::exit::ExitStatus;

#[derive(Serialize)]
struct VersionInfo {
    version: &'static str,
    state_format: &'static str,
    plan_format: &'static str,
    target: &'static str,
}

pub fn run(ctx: &Context) -> Result<ExitStatus> {
    let info = VersionInfo {
        version: env!("CARGO_PKG_VERSION"),
        state_format: crate::state::FORMAT_VERSION,
        plan_format: crate::plan::PLAN_FORMAT,
        target: std::env::consts::ARCH,
    };
    if ctx.printer.json_mode() {
        ctx.printer.json(&info);
    } else {
        ctx.printer.out(&format!("panka {} (state {}, plan {})", info.version, info.state_format, info.plan_format));
    }
    Ok(ExitStatus::Ok)
}
