//! Loading a stack (SPEC §2, §4): discover files, parse documents with
//! spans, apply the environment's overlays, substitute variables and
//! references, and deserialize every document into its typed model.
//!
//! All problems are collected into diagnostics; nothing here touches state,
//! locks, AWS or Pulumi. The result, [`LoadedStack`], is the input of
//! validation and the graph.

pub mod discover;
pub mod document;
pub mod merge;
pub mod resolve;
pub mod template;
pub mod typed;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::sources::Sources;
use document::{identify, Identity, RawDoc, TOP_LEVEL_FIELDS};
use resolve::{ComponentIndex, FoundRef, Scope};
use yaml::{Node, PathSeg, Span};

use crate::diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use crate::model::names::{check_name, NAME_MAX};
use crate::model::*;

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The stack directory (`-C`).
    pub dir: PathBuf,
    /// A single file holding the whole stack (`-f`); its overlays beside it apply.
    pub file: Option<PathBuf>,
    pub environment: String,
    /// `--var NAME=value`, highest precedence.
    pub cli_vars: BTreeMap<String, String>,
    /// `--var-file`, YAML mappings of variables.
    pub var_files: Vec<PathBuf>,
    /// `--stack`: must match the Stack document's name when given.
    pub stack_name: Option<String>,
}

/// A typed document with the node it came from.
#[derive(Debug, Clone)]
pub struct Document<T> {
    pub metadata: Metadata,
    pub spec: T,
    pub node: Node,
    pub name_span: Span,
}

impl<T> Document<T> {
    /// Span of a field path under the document root, e.g. `["spec", "dependsOn", 0]`.
    pub fn span(&self, path: &[PathSeg]) -> Span {
        self.node.span_at(path)
    }
}

/// A component after overlays, variables and infra layering.
#[derive(Debug, Clone)]
pub struct Component {
    pub id: ComponentId,
    pub kind: Kind,
    pub metadata: Metadata,
    pub spec: ComponentSpec,
    /// Effective infra for container kinds.
    pub infra: Option<EffectiveInfra>,
    pub node: Node,
    pub name_span: Span,
    pub infra_node: Option<Node>,
    /// `${…}` output references found in the component's strings.
    pub output_refs: Vec<FoundRef>,
}

impl Component {
    pub fn span(&self, path: &[PathSeg]) -> Span {
        self.node.span_at(path)
    }
}

/// The effective provider settings for the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveProvider {
    pub region: String,
    pub account_id: Option<String>,
}

/// A stack loaded for one environment.
#[derive(Debug, Clone)]
pub struct LoadedStack {
    pub sources: Sources,
    pub dir: PathBuf,
    pub environment: String,
    pub stack: Document<StackSpec>,
    pub environment_doc: Option<Document<EnvironmentSpec>>,
    pub services: BTreeMap<String, Document<ServiceSpec>>,
    pub components: BTreeMap<ComponentId, Component>,
    /// Effective variables after precedence.
    pub variables: BTreeMap<String, String>,
    pub index: ComponentIndex,
    pub provider: EffectiveProvider,
    /// Output references in the Stack's `spec.outputs`.
    pub stack_output_refs: Vec<FoundRef>,
    pub warnings: Vec<Diagnostic>,
}

impl LoadedStack {
    pub fn name(&self) -> &str {
        &self.stack.metadata.name
    }

    /// Whether this environment asks for approval before changes.
    pub fn requires_approval(&self) -> bool {
        self.stack.spec.deployment.require_approval.iter().any(|e| e == &self.environment)
            || self.environment_doc.as_ref().is_some_and(|e| e.spec.require_approval)
    }

    /// The environment's alarm settings (`spec.alarms`; on, with no
    /// notification topic, when absent).
    pub fn alarms(&self) -> AlarmsSpec {
        self.environment_doc.as_ref().and_then(|e| e.spec.alarms.clone()).unwrap_or_default()
    }

    /// Whether stateful components default to deletion protection.
    pub fn protected(&self) -> bool {
        self.environment_doc
            .as_ref()
            .and_then(|e| e.spec.protected)
            .unwrap_or_else(|| matches!(self.environment.as_str(), "production" | "prod") || self.requires_approval())
    }
}

/// Loading failed: the diagnostics and the sources they point into.
#[derive(Debug)]
pub struct LoadFailure {
    pub sources: Sources,
    pub diagnostics: Diagnostics,
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the stack has {} error(s)", self.diagnostics.error_count())
    }
}

impl std::error::Error for LoadFailure {}

/// Load a stack for one environment.
pub fn load(opts: &LoadOptions) -> Result<LoadedStack, LoadFailure> {
    Loader::new(opts).run()
}

/// Every environment a stack mentions: Environment documents, overlay
/// suffixes, `requireApproval`, and `dev`.
pub fn known_environments(opts: &LoadOptions) -> Vec<String> {
    let mut envs = std::collections::BTreeSet::from(["dev".to_string()]);
    if let Ok(files) = files_for(opts) {
        for f in &files {
            if let Some(e) = &f.overlay_env {
                envs.insert(e.clone());
            }
            if f.overlay_env.is_none() {
                let Ok(text) = std::fs::read_to_string(&f.path) else { continue };
                let Ok(docs) = yaml::parse(yaml::FileId(0), &text) else { continue };
                for d in docs {
                    let kind = d.root.get("kind").and_then(Node::as_str);
                    if kind == Some("Environment") {
                        if let Some(n) = d.root.get("metadata").and_then(|m| m.get("name")).and_then(Node::as_str) {
                            envs.insert(n.to_string());
                        }
                    }
                    if kind == Some("Stack") {
                        let approval = d.root.at(&[
                            PathSeg::Key("spec".into()),
                            PathSeg::Key("deployment".into()),
                            PathSeg::Key("requireApproval".into()),
                        ]);
                        for e in approval.and_then(Node::as_seq).unwrap_or_default() {
                            if let Some(e) = e.as_str() {
                                envs.insert(e.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    // Invalid names are reported where they are written, not loaded as environments.
    envs.into_iter().filter(|e| check_name(e, NAME_MAX).is_none()).collect()
}

fn files_for(opts: &LoadOptions) -> std::io::Result<Vec<discover::StackFile>> {
    match &opts.file {
        None => discover::discover(&opts.dir),
        Some(file) => {
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mut paths = vec![file.clone()];
            if let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir }) {
                for e in entries.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with(&format!("{stem}.")) && (n.ends_with(".yaml") || n.ends_with(".yml")) {
                        let p = dir.join(&n);
                        if p != *file {
                            paths.push(p);
                        }
                    }
                }
            }
            paths.sort();
            Ok(discover::classify(&dir, paths))
        }
    }
}

struct Loader<'a> {
    opts: &'a LoadOptions,
    sources: Sources,
    diags: Vec<Diagnostic>,
}

impl<'a> Loader<'a> {
    fn new(opts: &'a LoadOptions) -> Self {
        Loader { opts, sources: Sources::default(), diags: Vec::new() }
    }

    fn fail(mut self) -> LoadFailure {
        let mut d = Diagnostics(std::mem::take(&mut self.diags));
        d.sort();
        LoadFailure { sources: self.sources, diagnostics: d }
    }

    fn run(mut self) -> Result<LoadedStack, LoadFailure> {
        let files = match files_for(self.opts) {
            Ok(f) => f,
            Err(e) => {
                let what = self.opts.file.as_ref().unwrap_or(&self.opts.dir);
                self.diags.push(
                    Diagnostic::error("io", None, format!("cannot read `{}`: {e}", what.display()))
                        .with_hint("pass the stack directory with `-C DIR` or a file with `-f FILE`"),
                );
                return Err(self.fail());
            }
        };
        if files.iter().all(|f| f.overlay_env.is_some()) {
            let what = self.opts.file.as_ref().unwrap_or(&self.opts.dir);
            self.diags.push(
                Diagnostic::error("no-stack", None, format!("no stack files (`*.yaml`) in `{}`", what.display()))
                    .with_hint("create one with `panka init`, or pass `-C DIR`"),
            );
            return Err(self.fail());
        }

        // Parse base files and the overlays of this environment.
        let mut base_docs: Vec<(String, RawDoc)> = Vec::new();
        let mut overlay_docs: Vec<(String, RawDoc)> = Vec::new();
        // Every file gets its id up front, so that ids (and diagnostics) are
        // the same whichever environment is loaded.
        let ids: Vec<yaml::FileId> =
            files.iter().map(|f| self.sources.add(f.path.clone(), f.relative.clone(), String::new())).collect();
        let wanted: Vec<(&discover::StackFile, yaml::FileId)> = files
            .iter()
            .zip(ids)
            .filter(|(f, _)| {
                f.overlay_env.is_none() || f.overlay_env.as_deref() == Some(self.opts.environment.as_str())
            })
            .collect();
        for ((f, id), read) in wanted.iter().zip(read_all(&wanted)) {
            let (f, id) = (*f, *id);
            let is_overlay = f.overlay_env.is_some();
            if let Some(text) = read.text {
                self.sources.set_text(id, text);
            }
            let docs = match read.docs {
                Ok(docs) => docs,
                Err(d) => {
                    self.diags.push(d);
                    continue;
                }
            };
            let default_service = discover::service_of(&f.relative);
            for d in docs {
                if d.root.value == yaml::Value::Null {
                    continue; // an empty document between `---` separators
                }
                match identify(d.root, default_service) {
                    Ok(doc) => {
                        let owner = f.base.clone().unwrap_or_else(|| f.relative.clone());
                        if is_overlay {
                            overlay_docs.push((owner, doc));
                        } else {
                            base_docs.push((owner, doc));
                        }
                    }
                    Err(diag) => self.diags.push(diag),
                }
            }
        }

        // Duplicates among base documents.
        let mut by_identity: BTreeMap<Identity, usize> = BTreeMap::new();
        let mut by_component: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut keep = vec![true; base_docs.len()];
        for (i, (_, doc)) in base_docs.iter().enumerate() {
            let previous = if doc.id.kind.is_component() {
                let key = (doc.id.service.clone().unwrap_or_default(), doc.id.name.clone());
                by_component.insert(key, i)
            } else {
                by_identity.insert(doc.id.clone(), i)
            };
            if let Some(prev) = previous {
                let first = &base_docs[prev].1;
                keep[i] = false;
                self.diags.push(
                    Diagnostic::error(
                        "duplicate",
                        doc.name_span,
                        if first.id.kind == doc.id.kind {
                            format!("{} is defined twice", doc.id)
                        } else {
                            format!("{} has the same name as {} in its service", doc.id, first.id)
                        },
                    )
                    .with_label(first.name_span, "first defined here")
                    .with_hint(format!(
                        "first defined at {}; component names are unique within their service",
                        self.sources.location(first.name_span)
                    )),
                );
            }
        }
        let mut docs: Vec<(String, RawDoc)> =
            base_docs.into_iter().zip(keep).filter(|(_, k)| *k).map(|(d, _)| d).collect();

        // Overlays onto the documents of their base file.
        let position: std::collections::HashMap<(&str, &Identity), usize> =
            docs.iter().enumerate().map(|(i, (o, d))| ((o.as_str(), &d.id), i)).collect();
        let mut merges: Vec<(usize, Node)> = Vec::new();
        for (owner, over) in overlay_docs {
            match position.get(&(owner.as_str(), &over.id)) {
                Some(&i) => merges.push((i, over.root)),
                None => self.diags.push(
                    Diagnostic::error(
                        "overlay-without-base",
                        over.name_span,
                        format!("overlay for {} has no base document in `{owner}`", over.id),
                    )
                    .with_hint("an overlay only changes documents of its base file; check kind, name and service"),
                ),
            }
        }
        drop(position);
        for (i, over) in merges {
            merge::merge(&mut docs[i].1.root, over);
        }

        self.build(docs).map_err(|()| self.fail_now())
    }

    fn fail_now(&mut self) -> LoadFailure {
        let mut d = Diagnostics(std::mem::take(&mut self.diags));
        d.sort();
        LoadFailure { sources: std::mem::take(&mut self.sources), diagnostics: d }
    }

    fn build(&mut self, docs: Vec<(String, RawDoc)>) -> Result<LoadedStack, ()> {
        let docs: Vec<RawDoc> = docs.into_iter().map(|(_, d)| d).collect();
        for d in &docs {
            self.check_top_level(d);
        }
        let stacks: Vec<&RawDoc> = docs.iter().filter(|d| d.id.kind == Kind::Stack).collect();
        let stack_raw = match stacks.as_slice() {
            [] if self.diags.iter().any(|d| d.code == "yaml-syntax" || d.code == "invalid-utf8") => {
                // The Stack may be in the file that could not be read.
                return Err(());
            }
            [] => {
                self.diags.push(Diagnostic::error("no-stack", None, "no `kind: Stack` document found").with_hint(
                    "a stack needs exactly one Stack document, usually `stack.yaml`; `panka init` writes one",
                ));
                return Err(());
            }
            [one] => (*one).clone(),
            [first, rest @ ..] => {
                for r in rest {
                    self.diags.push(
                        Diagnostic::error("duplicate", r.name_span, format!("a second Stack `{}`", r.id.name))
                            .with_label(first.name_span, "first Stack")
                            .with_hint(format!(
                                "a stack directory holds exactly one Stack; the first is `{}`",
                                first.id.name
                            )),
                    );
                }
                return Err(());
            }
        };
        if let Some(want) = &self.opts.stack_name {
            if want != &stack_raw.id.name {
                self.diags.push(Diagnostic::error(
                    "wrong-stack",
                    stack_raw.name_span,
                    format!("`--stack {want}` was given but this directory holds stack `{}`", stack_raw.id.name),
                ));
                return Err(());
            }
        }

        // Variables: stack < environment < --var-file < --var.
        let env_raw =
            docs.iter().find(|d| d.id.kind == Kind::Environment && d.id.name == self.opts.environment).cloned();
        let mut variables = raw_variables(&stack_raw.root);
        if let Some(env) = &env_raw {
            variables.extend(raw_variables(&env.root));
        }
        for f in &self.opts.var_files {
            match read_var_file(f) {
                Ok(v) => variables.extend(v),
                Err(e) => self.diags.push(
                    Diagnostic::error("var-file", None, format!("cannot read var file `{}`: {e}", f.display()))
                        .with_hint("a var file is a YAML mapping of NAME: value"),
                ),
            }
        }
        variables.extend(self.opts.cli_vars.clone());

        let mut service_variables: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut index = ComponentIndex::default();
        for d in &docs {
            match d.id.kind {
                Kind::Service => {
                    service_variables.insert(d.id.name.clone(), raw_variables(&d.root));
                }
                k if k.is_component() => {
                    index.insert(ComponentId::new(d.id.service.clone().unwrap_or_default(), &d.id.name), k);
                }
                _ => {}
            }
        }

        // Interpolate and type every document.
        let mut stack_doc: Option<Document<StackSpec>> = None;
        let mut env_doc = None;
        let mut stack_output_refs = Vec::new();
        let mut services = BTreeMap::new();
        let mut components = BTreeMap::new();
        let mut infra_docs: BTreeMap<ComponentId, (InfraSpec, Node, Span)> = BTreeMap::new();
        for mut d in docs {
            let service = d.id.service.clone();
            let scope = Scope {
                variables: &variables,
                service_variables: &service_variables,
                components: &index,
                current_service: service.as_deref(),
            };
            let mut refs = Vec::new();
            if let Some(spec) = spec_mut(&mut d.root) {
                if d.id.kind == Kind::Service || d.id.kind == Kind::Environment || d.id.kind == Kind::Stack {
                    // Variable values are literal text; interpolate everything else.
                    interpolate_except(spec, "variables", &scope, &mut refs, &mut self.diags);
                } else {
                    scope.interpolate(spec, &mut refs, &mut self.diags);
                }
            }
            let Ok(metadata) = self.typed::<Metadata>(&d.root, &["metadata"]) else {
                continue;
            };
            let spec_path = [PathSeg::Key("spec".into())];
            match d.id.kind {
                Kind::Stack => {
                    if let Some(spec) = self.typed_spec::<StackSpec>(&d.root, &spec_path) {
                        if let Some(v) = &spec.defaults.infra {
                            let _ = v;
                            let _ = self.typed::<InfraSpec>(&d.root, &["spec", "defaults", "infra"]);
                        }
                        stack_output_refs = refs;
                        stack_doc = Some(Document { metadata, spec, node: d.root, name_span: d.name_span });
                    }
                }
                Kind::Environment => {
                    if let Some(problem) = check_name(&d.id.name, NAME_MAX) {
                        self.diags.push(
                            Diagnostic::error(
                                "invalid-name",
                                d.name_span,
                                format!("environment name `{}` {problem}", d.id.name.escape_debug()),
                            )
                            .with_hint("environments are lowercase DNS labels such as `dev`, `staging`, `production`"),
                        );
                    }
                    if d.id.name == self.opts.environment {
                        if let Some(spec) = self.typed_spec::<EnvironmentSpec>(&d.root, &spec_path) {
                            env_doc = Some(Document { metadata, spec, node: d.root, name_span: d.name_span });
                        }
                    } else {
                        let _ = self.typed_spec::<EnvironmentSpec>(&d.root, &spec_path);
                    }
                }
                Kind::Service => {
                    if let Some(spec) = self.typed_spec::<ServiceSpec>(&d.root, &spec_path) {
                        services.insert(
                            d.id.name.clone(),
                            Document { metadata, spec, node: d.root, name_span: d.name_span },
                        );
                    }
                }
                Kind::ComponentInfra => {
                    if let Some(spec) = self.typed_spec::<InfraSpec>(&d.root, &spec_path) {
                        let id = ComponentId::new(service.unwrap_or_default(), &d.id.name);
                        infra_docs.insert(id, (spec, d.root, d.name_span));
                    }
                }
                kind => {
                    let id = ComponentId::new(service.unwrap_or_default(), &d.id.name);
                    let spec_json = d.root.get("spec").map(Node::to_json);
                    let Some(spec_json) = spec_json else {
                        self.diags.push(
                            Diagnostic::error("missing-field", d.name_span, format!("{kind} `{id}` has no `spec`"))
                                .with_hint(format!(
                                    "see docs/kinds/{}.md for its fields",
                                    kind.as_str().to_lowercase()
                                )),
                        );
                        continue;
                    };
                    match ComponentSpec::from_json(kind, spec_json) {
                        Ok(spec) => {
                            components.insert(
                                id.clone(),
                                Component {
                                    id,
                                    kind,
                                    metadata,
                                    spec,
                                    infra: None,
                                    node: d.root,
                                    name_span: d.name_span,
                                    infra_node: None,
                                    output_refs: refs,
                                },
                            );
                        }
                        Err(e) => {
                            let mut path = spec_path.to_vec();
                            for seg in e.path().iter() {
                                match seg {
                                    serde_path_to_error::Segment::Seq { index } => path.push(PathSeg::Index(*index)),
                                    serde_path_to_error::Segment::Map { key } => path.push(PathSeg::Key(key.clone())),
                                    _ => {}
                                }
                            }
                            self.diags.push(typed::to_diagnostic(&d.root, &path, &e.into_inner().to_string()));
                        }
                    }
                }
            }
        }

        // Infra: built-in < stack defaults < the component's ComponentInfra.
        let stack_doc = stack_doc.ok_or(())?;
        let default_infra = stack_doc.spec.defaults.infra_spec().unwrap_or_default();
        for (id, (spec, node, name_span)) in infra_docs {
            match components.get_mut(&id) {
                Some(c) if c.kind.is_container() => {
                    c.infra = Some(spec.layered_on(&default_infra).effective());
                    c.infra_node = Some(node);
                }
                Some(c) => self.diags.push(
                    Diagnostic::error(
                        "infra-not-allowed",
                        name_span,
                        format!("ComponentInfra `{id}` is for a {}, which takes no infra", c.kind),
                    )
                    .with_hint("ComponentInfra applies to MicroService, Worker and CronJob"),
                ),
                None => {
                    let names = components.keys().filter(|c| c.service == id.service).map(|c| c.name.as_str());
                    self.diags.push(
                        Diagnostic::error(
                            "unknown-component",
                            name_span,
                            format!("ComponentInfra `{id}` has no component `{}` in service `{}`", id.name, id.service),
                        )
                        .with_hint_opt(did_you_mean(&id.name, names)),
                    );
                }
            }
        }
        for c in components.values_mut() {
            if c.kind.is_container() && c.infra.is_none() {
                c.infra = Some(default_infra.effective());
            }
        }

        if self.diags.iter().any(Diagnostic::is_error) {
            return Err(());
        }
        let provider = EffectiveProvider {
            region: env_doc
                .as_ref()
                .and_then(|e: &Document<EnvironmentSpec>| e.spec.provider.as_ref()?.region.clone())
                .unwrap_or_else(|| stack_doc.spec.provider.region.clone()),
            account_id: env_doc
                .as_ref()
                .and_then(|e| e.spec.provider.as_ref()?.account_id.clone())
                .or_else(|| stack_doc.spec.provider.account_id.clone()),
        };
        Ok(LoadedStack {
            sources: std::mem::take(&mut self.sources),
            dir: self.opts.dir.clone(),
            environment: self.opts.environment.clone(),
            stack: stack_doc,
            environment_doc: env_doc,
            services,
            components,
            variables,
            index,
            provider,
            stack_output_refs,
            warnings: std::mem::take(&mut self.diags),
        })
    }

    fn check_top_level(&mut self, d: &RawDoc) {
        for e in d.root.as_map().unwrap_or_default() {
            if !TOP_LEVEL_FIELDS.contains(&e.key.as_str()) {
                self.diags.push(
                    Diagnostic::error("unknown-field", e.key_span, format!("unknown top-level field `{}`", e.key))
                        .with_hint(did_you_mean(&e.key, TOP_LEVEL_FIELDS).unwrap_or_else(|| {
                            "a document has `apiVersion`, `kind`, `metadata` and `spec`".to_string()
                        })),
                );
            }
        }
    }

    fn typed<T: serde::de::DeserializeOwned>(&mut self, root: &Node, path: &[&str]) -> Result<T, ()> {
        let path: Vec<PathSeg> = path.iter().map(|k| PathSeg::Key((*k).to_string())).collect();
        typed::from_node(root, &path).map_err(|d| self.diags.push(d))
    }

    fn typed_spec<T: serde::de::DeserializeOwned>(&mut self, root: &Node, path: &[PathSeg]) -> Option<T> {
        typed::from_node(root, path).map_err(|d| self.diags.push(d)).ok()
    }
}

fn spec_mut(root: &mut Node) -> Option<&mut Node> {
    match &mut root.value {
        yaml::Value::Map(entries) => entries.iter_mut().find(|e| e.key == "spec").map(|e| &mut e.value),
        _ => None,
    }
}

fn interpolate_except(
    spec: &mut Node,
    skip: &str,
    scope: &Scope<'_>,
    refs: &mut Vec<FoundRef>,
    diags: &mut Vec<Diagnostic>,
) {
    if let yaml::Value::Map(entries) = &mut spec.value {
        for e in entries.iter_mut().filter(|e| e.key != skip) {
            scope.interpolate(&mut e.value, refs, diags);
        }
    }
}

/// `spec.variables` of a raw document as strings (scalars only; other
/// shapes are reported by typed deserialization).
fn raw_variables(root: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(vars) = root.get("spec").and_then(|s| s.get("variables")).and_then(Node::as_map) {
        for e in vars {
            let v = match &e.value.value {
                yaml::Value::Str { value, .. } => value.clone(),
                yaml::Value::Int(i) => i.to_string(),
                yaml::Value::Float(f) => f.to_string(),
                yaml::Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            out.insert(e.key.clone(), v);
        }
    }
    out
}

fn read_var_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let bytes = read_limited(path).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "not valid UTF-8".to_string())?;
    let docs = yaml::parse(yaml::FileId(0), text).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for d in docs {
        let Some(entries) = d.root.as_map() else {
            return Err("expected a mapping of NAME: value".into());
        };
        for e in entries {
            let v = match &e.value.value {
                yaml::Value::Str { value, .. } => value.clone(),
                yaml::Value::Int(i) => i.to_string(),
                yaml::Value::Float(f) => f.to_string(),
                yaml::Value::Bool(b) => b.to_string(),
                _ => return Err(format!("`{}` must be a string, number or boolean", e.key)),
            };
            out.insert(e.key.clone(), v);
        }
    }
    Ok(out)
}

/// A file read and parsed: its text (for carets) and its documents.
struct ReadFile {
    text: Option<String>,
    docs: Result<Vec<yaml::RawDocument>, Diagnostic>,
}

/// Read and parse files on every core; results come back in input order.
fn read_all(files: &[(&discover::StackFile, yaml::FileId)]) -> Vec<ReadFile> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len().max(1));
    if threads <= 1 || files.len() < 8 {
        return files.iter().map(|(f, id)| read_one(f, *id)).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|(f, id)| read_one(f, *id)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("parsing does not panic")).collect()
    })
}

fn read_one(f: &discover::StackFile, id: yaml::FileId) -> ReadFile {
    let fail = |text: Option<String>, e: yaml::YamlError| ReadFile {
        text,
        docs: Err(Diagnostic::error(e.code, e.span, e.message).with_hint_opt(e.hint)),
    };
    if let Ok(meta) = std::fs::metadata(&f.path) {
        if let Err(e) = yaml::check_size(id, meta.len()) {
            return fail(None, e);
        }
    }
    let bytes = match read_limited(&f.path) {
        Ok(b) => b,
        Err(e) => {
            let d = Diagnostic::error("io", None, format!("cannot read `{}`: {e}", f.relative));
            return ReadFile { text: None, docs: Err(d) };
        }
    };
    let text = match yaml::check_bytes(id, &bytes) {
        Ok(t) => t.to_string(),
        // Keep what is readable so the caret can be shown.
        Err(e) => return fail(Some(String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 20)]).into_owned()), e),
    };
    let docs = match yaml::parse(id, &text) {
        Ok(docs) if docs.iter().all(|d| d.root.value == yaml::Value::Null) => Err(Diagnostic::error(
            "empty-file",
            yaml::Span::new(id, 1, 1, 1),
            format!("`{}` holds no documents", f.relative),
        )
        .with_hint("delete the file, or add a panka document to it")),
        Ok(docs) => Ok(docs),
        Err(e) => Err(Diagnostic::error(e.code, e.span, e.message).with_hint_opt(e.hint)),
    };
    ReadFile { text: Some(text), docs }
}

/// Read a file, refusing (without reading it all) one over the size limit.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    file.take(yaml::MAX_FILE_BYTES as u64 + 1).read_to_end(&mut buf)?;
    Ok(buf)
}
