//! `panka init`: write a small stack that validates and plans at once.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::Context;
use crate::exit::{ExitStatus, Failure};
use crate::model::names::{check_name, suggest_name, STACK_NAME_MAX};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the stack (default: the `-C` directory).
    pub path: Option<PathBuf>,
    /// The stack name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The AWS region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Write even if the directory already holds a stack.
    #[arg(long)]
    pub force: bool,
}

const FILES: [(&str, &str); 9] = [
    ("stack.yaml", include_str!("scaffold/stack.yaml")),
    ("environments/production.yaml", include_str!("scaffold/production.yaml")),
    ("services/web/service.yaml", include_str!("scaffold/service.yaml")),
    ("services/web/components/api/microservice.yaml", include_str!("scaffold/api.yaml")),
    ("services/web/components/api/infra.yaml", include_str!("scaffold/api-infra.yaml")),
    ("services/web/components/api/infra.production.yaml", include_str!("scaffold/api-infra.production.yaml")),
    ("services/web/components/jobs/sqs.yaml", include_str!("scaffold/jobs.yaml")),
    ("services/web/components/worker/worker.yaml", include_str!("scaffold/worker.yaml")),
    (".gitignore", ".panka/\n"),
];

pub fn run(ctx: &Context, args: InitArgs) -> Result<ExitStatus> {
    let dir = args.path.clone().unwrap_or_else(|| ctx.global.dir.clone());
    let abs = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
    let default_name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "my-stack".into());
    let name = match args.name.clone() {
        Some(n) => n,
        None => suggest_name(&default_name, STACK_NAME_MAX).unwrap_or_else(|| "my-stack".into()),
    };
    if let Some(problem) = check_name(&name, STACK_NAME_MAX) {
        return Err(Failure::new(ExitStatus::Invalid, format!("stack name `{name}` {problem}\nhint: pass `--name` with a lowercase DNS label of at most {STACK_NAME_MAX} characters")).into());
    }
    if !args.region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(Failure::new(ExitStatus::Invalid, format!("`{}` is not an AWS region", args.region)).into());
    }
    if dir.join("stack.yaml").exists() && !args.force {
        bail!(Failure::new(
            ExitStatus::Error,
            format!(
                "`{}` already holds a stack.yaml\nhint: pass --force to overwrite the scaffold files",
                dir.display()
            )
        ));
    }
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let text = text.replace("{{name}}", &name).replace("{{region}}", &args.region);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    ctx.printer.info(&format!("created stack `{name}` in `{}`", dir.display()));
    ctx.printer.info(&format!("next: panka validate -C {d}   then   panka plan -C {d} -e dev", d = dir.display()));
    Ok(ExitStatus::Ok)
}
