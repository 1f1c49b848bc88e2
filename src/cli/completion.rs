//! `panka completion <shell>`: shell completion scripts.

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Context};
use crate::exit::ExitStatus;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

pub fn run(_ctx: &Context, args: CompletionArgs) -> Result<ExitStatus> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "panka", &mut std::io::stdout());
    Ok(ExitStatus::Ok)
}
