//! Finding a stack's files: every `.yaml`/`.yml` under the stack directory
//! (hidden files and folders skipped), and which of them are overlays
//! (`<base>.<env>.yaml` beside an existing `<base>.yaml`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A file of the stack and, for overlays, the environment it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFile {
    pub path: PathBuf,
    /// Relative to the stack directory, with `/` separators.
    pub relative: String,
    pub overlay_env: Option<String>,
    /// For overlays: the base file's relative path.
    pub base: Option<String>,
}

/// Most files a stack directory may hold (a guard against pointing panka at `/`).
pub const MAX_FILES: usize = 50_000;

pub fn discover(dir: &Path) -> std::io::Result<Vec<StackFile>> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let ft = e.file_type()?;
            if ft.is_dir() {
                // The stack's policies (`policies/`, issue 15) are Rego, not
                // stack documents, even where a bundle carries YAML data.
                if d == dir && name == crate::policy::source::STACK_POLICY_DIR {
                    continue;
                }
                todo.push(e.path());
            } else if (ft.is_file() || ft.is_symlink()) && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                found.push(e.path());
                if found.len() > MAX_FILES {
                    return Err(std::io::Error::other(format!(
                        "more than {MAX_FILES} YAML files under {}; is this a stack directory?",
                        dir.display()
                    )));
                }
            }
        }
    }
    found.sort();
    Ok(classify(dir, found))
}

/// Decide which files are overlays.
pub fn classify(dir: &Path, paths: Vec<PathBuf>) -> Vec<StackFile> {
    let relative = |p: &Path| {
        p.strip_prefix(dir)
            .unwrap_or(p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    };
    let all: BTreeSet<String> = paths.iter().map(|p| relative(p)).collect();
    paths
        .iter()
        .map(|p| {
            let rel = relative(p);
            let (stem, ext) = rel.rsplit_once('.').expect("yaml files have an extension");
            let overlay = stem.rsplit_once('.').and_then(|(base, env)| {
                let in_same_dir = !env.contains('/');
                let base_path = ["yaml", "yml"].iter().map(|e| format!("{base}.{e}")).find(|b| all.contains(b));
                match base_path {
                    Some(b) if in_same_dir && !env.is_empty() => Some((env.to_string(), b)),
                    _ => None,
                }
            });
            let _ = ext;
            StackFile {
                path: p.clone(),
                relative: rel.clone(),
                overlay_env: overlay.as_ref().map(|(e, _)| e.clone()),
                base: overlay.map(|(_, b)| b),
            }
        })
        .collect()
}

#[cfg(test)]
mod skip_tests {
    #[test]
    fn the_policies_folder_is_not_part_of_the_stack() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("policies/data")).unwrap();
        std::fs::write(dir.path().join("policies/data/limits.yaml"), "max: 1\n").unwrap();
        std::fs::write(dir.path().join("stack.yaml"), "kind: Stack\n").unwrap();
        let found = super::discover(dir.path()).unwrap();
        assert_eq!(found.iter().map(|f| f.relative.as_str()).collect::<Vec<_>>(), vec!["stack.yaml"]);
    }
}

/// The service a file belongs to by its place: `services/<svc>/…`.
pub fn service_of(relative: &str) -> Option<&str> {
    let rest = relative.strip_prefix("services/")?;
    let (svc, _) = rest.split_once('/')?;
    Some(svc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlays_need_a_base_file() {
        let dir = Path::new("/s");
        let files = classify(
            dir,
            vec![
                "/s/stack.yaml".into(),
                "/s/stack.production.yaml".into(),
                "/s/app.v2.yaml".into(),
                "/s/services/b/infra.yaml".into(),
                "/s/services/b/infra.dev.yml".into(),
            ],
        );
        let env_of = |r: &str| files.iter().find(|f| f.relative == r).unwrap().overlay_env.clone();
        assert_eq!(env_of("stack.production.yaml").as_deref(), Some("production"));
        assert_eq!(env_of("app.v2.yaml"), None);
        assert_eq!(env_of("services/b/infra.dev.yml").as_deref(), Some("dev"));
        assert_eq!(service_of("services/b/infra.yaml"), Some("b"));
        assert_eq!(service_of("stack.yaml"), None);
    }
}
