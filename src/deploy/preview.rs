//! Runs `pulumi preview --json` for `panka plan --preview`, components in
//! parallel, in private working directories (see [`crate::plan::preview`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::plan::preview::{parse_preview, Preview};
use crate::pulumi::emit::stack_config_yaml;
use crate::pulumi::runner::{Interrupt, Runner};

/// What to preview: component → (Pulumi project's program text).
pub async fn preview_all(
    runner: Arc<Runner>,
    env: &str,
    programs: BTreeMap<String, String>,
    parallelism: usize,
    interrupt: &Interrupt,
) -> BTreeMap<String, Preview> {
    let mut pending = programs.into_iter();
    let mut running: JoinSet<(String, Preview)> = JoinSet::new();
    let mut out = BTreeMap::new();
    loop {
        while running.len() < parallelism.max(1) {
            let Some((component, program)) = pending.next() else { break };
            let (runner, env, interrupt) = (runner.clone(), env.to_string(), interrupt.clone());
            running.spawn(async move {
                let p = preview_one(&runner, &env, &program, &interrupt).await;
                (component, p)
            });
        }
        match running.join_next().await {
            Some(Ok((component, p))) => {
                out.insert(component, p);
            }
            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
            None => break,
        }
    }
    out
}

async fn preview_one(runner: &Runner, env: &str, program: &str, interrupt: &Interrupt) -> Preview {
    let dir = match tempfile::Builder::new().prefix("panka-preview-").tempdir() {
        Ok(d) => d,
        Err(e) => return Preview::failed(format!("cannot create a working directory: {e}")),
    };
    for (name, text) in
        [("Pulumi.yaml".to_string(), program.to_string()), (format!("Pulumi.{env}.yaml"), stack_config_yaml())]
    {
        if let Err(e) = std::fs::write(dir.path().join(&name), text) {
            return Preview::failed(format!("cannot write {name}: {e}"));
        }
    }
    match runner.preview(dir.path(), env, interrupt).await {
        Ok(json) => match parse_preview(&json) {
            Ok(resources) => Preview::previewed(resources),
            Err(e) => Preview::failed(e),
        },
        Err(e) => {
            let mut message = e.to_string();
            if !e.stderr().is_empty() && !message.contains(e.stderr()) {
                message = format!("{message}\n{}", e.stderr());
            }
            Preview::failed(message)
        }
    }
}
