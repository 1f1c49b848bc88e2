//! `panka render`: every component's program, laid out by wave on disk.
//!
//! [`render_stack`] emits one program per component of a loaded stack, and
//! [`write_rendered`] writes them as
//! `DIR/wave-NN/<service>-<component>/Pulumi.yaml` with the stack config
//! file `Pulumi.<env>.yaml` beside each — exactly what `apply` would hand to
//! the `pulumi` CLI.
//!
//! Invariant: paths are built only from names that are logical names
//! (letters, digits, `-`, `_`), so nothing is ever written outside `DIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::emit::{emit_component, emit_shared, stack_config_yaml, EmitError, EmitOptions, SHARED_KEY};
use super::program::{is_logical_name, Program};
use crate::graph::Graph;
use crate::load::LoadedStack;
use crate::model::ComponentId;

/// One emitted program and where it goes.
#[derive(Debug, Clone)]
pub struct RenderedProgram {
    /// Wave number, from 1; 0 for the stack's shared program.
    pub wave: usize,
    /// The state key: `service/component`, or the shared program's key.
    pub component: String,
    pub program: Program,
}

/// Emits every component of `stack`; `waves` gives each component's wave
/// (from the graph). Components missing from `waves` go to wave 1.
pub fn render_stack(
    stack: &LoadedStack,
    waves: &BTreeMap<ComponentId, usize>,
    opts: &EmitOptions,
) -> Result<Vec<RenderedProgram>, Vec<EmitError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    // The shared program goes first, as wave 0 (SPEC §3).
    match emit_shared(stack, opts) {
        Ok(Some(program)) => out.push(RenderedProgram { wave: 0, component: SHARED_KEY.to_string(), program }),
        Ok(None) => {}
        Err(e) => errors.push(e),
    }
    for id in stack.components.keys() {
        match emit_component(stack, id, opts) {
            Ok(program) => out.push(RenderedProgram {
                wave: waves.get(id).copied().unwrap_or(1),
                component: id.to_string(),
                program,
            }),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    out.sort_by(|a, b| (a.wave, &a.component).cmp(&(b.wave, &b.component)));
    Ok(out)
}

/// Each component's wave (from 1), from the graph.
pub fn waves_of(graph: &Graph) -> BTreeMap<ComponentId, usize> {
    let mut out = BTreeMap::new();
    for (i, wave) in graph.wave_list().into_iter().enumerate() {
        for id in wave {
            out.insert(id, i + 1);
        }
    }
    out
}

/// The directory of one program under `dir`.
pub fn program_dir(dir: &Path, wave: usize, project: &str) -> Result<PathBuf> {
    if !is_logical_name(project) || project.starts_with('.') {
        bail!("project `{project}` has a name that cannot be a directory");
    }
    Ok(dir.join(format!("wave-{wave:02}")).join(project))
}

/// Writes the programs; returns the `Pulumi.yaml` paths written.
pub fn write_rendered(dir: &Path, environment: &str, programs: &[RenderedProgram]) -> Result<Vec<PathBuf>> {
    if !is_logical_name(environment) {
        bail!("environment `{environment}` cannot be part of a file name");
    }
    let mut written = Vec::new();
    for r in programs {
        let d = program_dir(dir, r.wave, &r.program.name)?;
        std::fs::create_dir_all(&d).with_context(|| format!("could not create `{}`", d.display()))?;
        let main = d.join("Pulumi.yaml");
        std::fs::write(&main, r.program.to_yaml()).with_context(|| format!("could not write `{}`", main.display()))?;
        let config = d.join(format!("Pulumi.{environment}.yaml"));
        std::fs::write(&config, stack_config_yaml())
            .with_context(|| format!("could not write `{}`", config.display()))?;
        written.push(main);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_dirs_stay_inside_the_output_directory() {
        let d = Path::new("/out");
        assert_eq!(program_dir(d, 3, "backend-api").unwrap(), Path::new("/out/wave-03/backend-api"));
        assert!(program_dir(d, 1, "..").is_err());
        assert!(program_dir(d, 1, "a/../../x").is_err());
        assert!(program_dir(d, 1, "").is_err());
    }

    #[test]
    fn writes_program_and_stack_config() {
        let dir = tempfile::tempdir().unwrap();
        let programs =
            vec![RenderedProgram { wave: 2, component: "svc/db".into(), program: Program::new("svc-db", "dev") }];
        let written = write_rendered(dir.path(), "dev", &programs).unwrap();
        assert_eq!(written, vec![dir.path().join("wave-02/svc-db/Pulumi.yaml")]);
        let text = std::fs::read_to_string(&written[0]).unwrap();
        assert!(text.starts_with("name: \"svc-db\"\nruntime: \"yaml\"\n"), "{text}");
        let config = std::fs::read_to_string(dir.path().join("wave-02/svc-db/Pulumi.dev.yaml")).unwrap();
        assert!(config.contains("pulumi:disable-default-providers"));
        assert!(write_rendered(dir.path(), "../x", &programs).is_err());
    }
}
