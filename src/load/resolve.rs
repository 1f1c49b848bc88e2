//! Variables and references (SPEC §4): substituting `${…}` in every string
//! value of a document and resolving component names.
//!
//! Resolution never guesses: an unknown name is an error with a suggestion,
//! and a component name found in several services is an error listing them.

use std::collections::BTreeMap;

use super::template::{self, OutputRef, Token};
use super::yaml::{resolve_plain, Node, Span, Value};
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::{ComponentId, Kind};

/// Every component of the stack by name, for resolving references.
#[derive(Debug, Default, Clone)]
pub struct ComponentIndex {
    by_id: std::collections::HashMap<ComponentId, Kind>,
    /// Every component with a name, in the order they were added.
    by_name: BTreeMap<String, Vec<(ComponentId, Kind)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefError {
    NotFound { hint: Option<String> },
    Ambiguous { candidates: Vec<ComponentId> },
}

impl ComponentIndex {
    pub fn insert(&mut self, id: ComponentId, kind: Kind) {
        self.by_id.insert(id.clone(), kind);
        self.by_name.entry(id.name.clone()).or_default().push((id, kind));
    }

    pub fn kind_of(&self, id: &ComponentId) -> Option<Kind> {
        self.by_id.get(id).copied()
    }

    fn all_names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Resolve `name` (same service first, else the one in the stack) or
    /// `service/name`.
    pub fn resolve(&self, reference: &str, current_service: Option<&str>) -> Result<(ComponentId, Kind), RefError> {
        if let Some((svc, name)) = reference.split_once('/') {
            let id = ComponentId::new(svc, name);
            return match self.kind_of(&id) {
                Some(k) => Ok((id, k)),
                None => {
                    let in_service: Vec<String> = self
                        .by_name
                        .values()
                        .flatten()
                        .filter(|(c, _)| c.service == svc)
                        .map(|(c, _)| c.to_string())
                        .collect();
                    Err(RefError::NotFound { hint: did_you_mean(reference, in_service.iter().map(String::as_str)) })
                }
            };
        }
        if let Some(cur) = current_service {
            let id = ComponentId::new(cur, reference);
            if let Some(kind) = self.kind_of(&id) {
                return Ok((id, kind));
            }
        }
        let Some(candidates) = self.by_name.get(reference) else {
            return Err(RefError::NotFound { hint: did_you_mean(reference, self.all_names()) });
        };
        match candidates.as_slice() {
            [one] => Ok(one.clone()),
            many => Err(RefError::Ambiguous { candidates: many.iter().map(|(c, _)| c.clone()).collect() }),
        }
    }
}

/// What `${…}` can see.
pub struct Scope<'a> {
    pub variables: &'a BTreeMap<String, String>,
    pub service_variables: &'a BTreeMap<String, BTreeMap<String, String>>,
    pub components: &'a ComponentIndex,
    pub current_service: Option<&'a str>,
}

/// An output reference found in a document, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundRef {
    pub target: OutputRef,
    pub span: Span,
}

enum Resolved {
    Text(String),
    Output(OutputRef),
}

impl Scope<'_> {
    /// Substitute every string below `node`. Output references found are
    /// appended to `refs`, problems to `diags`.
    pub fn interpolate(&self, node: &mut Node, refs: &mut Vec<FoundRef>, diags: &mut Vec<Diagnostic>) {
        match &mut node.value {
            Value::Map(entries) => {
                for e in entries {
                    self.interpolate(&mut e.value, refs, diags);
                }
            }
            Value::Seq(items) => {
                for i in items {
                    self.interpolate(i, refs, diags);
                }
            }
            Value::Str { value, plain } => {
                if !value.contains("${") {
                    return;
                }
                let quoted = !*plain;
                let span = node.span;
                let single_line = !value.contains('\n');
                let at = |offset: usize, len: usize, s: &str| {
                    if single_line {
                        let chars = s[..offset].chars().count() as u32 + u32::from(quoted);
                        span.shifted(chars, len as u32)
                    } else {
                        span
                    }
                };
                let tokens = match template::tokenize(value) {
                    Ok(t) => t,
                    Err(e) => {
                        diags.push(
                            Diagnostic::error("bad-reference", at(e.offset, 2, value), e.message)
                                .with_hint("write `$${` for a literal `${`"),
                        );
                        return;
                    }
                };
                let whole_var = *plain && tokens.len() == 1;
                let mut out = String::with_capacity(value.len());
                let mut failed = false;
                let mut single_text: Option<String> = None;
                for t in &tokens {
                    match t {
                        Token::Text(text) => out.push_str(text),
                        Token::Expr(e) => match self.resolve_expr(e.body) {
                            Ok(Resolved::Text(v)) => {
                                out.push_str(&template::escape(&v));
                                single_text = Some(v);
                            }
                            Ok(Resolved::Output(r)) => {
                                refs.push(FoundRef { target: r.clone(), span: at(e.start, e.end - e.start, value) });
                                out.push_str(&r.to_string());
                            }
                            Err(d) => {
                                failed = true;
                                let chars = value[e.start..e.end].chars().count();
                                diags.push(Diagnostic { span: Some(at(e.start, chars, value)), ..d });
                            }
                        },
                    }
                }
                if failed {
                    return;
                }
                // A plain scalar that is exactly one variable takes the
                // variable's type: `replicas: ${REPLICAS}` is a number.
                if whole_var {
                    if let Some(text) = single_text {
                        node.value = match resolve_plain(text) {
                            Value::Str { .. } => Value::Str { value: out, plain: true },
                            typed => typed,
                        };
                        return;
                    }
                }
                *value = out;
            }
            _ => {}
        }
    }

    fn resolve_expr(&self, body: &str) -> Result<Resolved, Diagnostic> {
        let invalid = || {
            Diagnostic::error("bad-reference", None, format!("invalid reference `${{{body}}}`")).with_hint(
                "references are `${NAME}`, `${service.NAME}`, `${component.output}` or `${service.component.output}`",
            )
        };
        let parts: Vec<&str> = body.split('.').collect();
        if parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
            return Err(invalid());
        }
        match parts.as_slice() {
            [name] => self.variable(name),
            [first, second] => self.two_part(first, second),
            [svc, comp, out] => {
                let (id, kind) = self
                    .components
                    .resolve(&format!("{svc}/{comp}"), None)
                    .map_err(|e| self.ref_error(&format!("{svc}/{comp}"), e))?;
                self.output(id, kind, out)
            }
            _ => Err(invalid()),
        }
    }

    fn variable(&self, name: &str) -> Result<Resolved, Diagnostic> {
        if let Some(v) = self.variables.get(name) {
            return Ok(Resolved::Text(v.clone()));
        }
        let mut d = Diagnostic::error("unknown-variable", None, format!("unknown variable `{name}`"));
        let owner = self
            .current_service
            .into_iter()
            .chain(self.service_variables.keys().map(String::as_str))
            .find(|svc| self.service_variables.get(*svc).is_some_and(|vars| vars.contains_key(name)));
        d.hint = match owner {
            Some(svc) => Some(format!("`{name}` is a variable of service `{svc}`: write `${{{svc}.{name}}}`")),
            None => did_you_mean(name, self.variables.keys().map(String::as_str)).or_else(|| {
                Some("define it in the Stack's or Environment's `spec.variables`, or pass `--var NAME=value`".into())
            }),
        };
        Err(d)
    }

    fn two_part(&self, first: &str, second: &str) -> Result<Resolved, Diagnostic> {
        let service_var = self.service_variables.get(first).and_then(|vars| vars.get(second));
        let component = self.components.resolve(first, self.current_service);
        match (service_var, component) {
            (Some(v), Err(_)) => Ok(Resolved::Text(v.clone())),
            (None, Ok((id, kind))) => self.output(id, kind, second),
            (Some(_), Ok((id, _))) => Err(Diagnostic::error(
                "ambiguous-reference",
                None,
                format!(
                    "`${{{first}.{second}}}` is ambiguous: a variable of service `{first}` and an output of `{id}`"
                ),
            )
            .with_hint(format!("write `${{{}.{}.{second}}}` for the output", id.service, id.name))),
            (None, Err(e)) => {
                if let Some(vars) = self.service_variables.get(first) {
                    let mut d = Diagnostic::error(
                        "unknown-variable",
                        None,
                        format!("service `{first}` has no variable `{second}`"),
                    );
                    d.hint = did_you_mean(second, vars.keys().map(String::as_str));
                    return Err(d);
                }
                Err(self.ref_error(first, e))
            }
        }
    }

    fn output(&self, id: ComponentId, kind: Kind, output: &str) -> Result<Resolved, Diagnostic> {
        if !kind.outputs().contains(&output) {
            let hint = did_you_mean(output, kind.outputs().iter().copied())
                .unwrap_or_else(|| format!("{kind} outputs are: {}", kind.outputs().join(", ")));
            return Err(Diagnostic::error(
                "unknown-output",
                None,
                format!("`{id}` is a {kind}, which has no output `{output}`"),
            )
            .with_hint(hint));
        }
        Ok(Resolved::Output(OutputRef { service: id.service, component: id.name, output: output.to_string() }))
    }

    fn ref_error(&self, reference: &str, e: RefError) -> Diagnostic {
        reference_error(reference, e)
    }
}

/// The diagnostic for an unresolvable component reference (no span yet).
pub fn reference_error(reference: &str, e: RefError) -> Diagnostic {
    match e {
        RefError::NotFound { hint } => {
            Diagnostic::error("unknown-component", None, format!("no component `{reference}` in this stack"))
                .with_hint_opt(hint)
        }
        RefError::Ambiguous { candidates } => Diagnostic::error(
            "ambiguous-reference",
            None,
            format!(
                "component `{reference}` is ambiguous: {}",
                candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            ),
        )
        .with_hint(format!("qualify it with its service, e.g. `{}`", candidates[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::{parse, FileId};

    type Fixture = (BTreeMap<String, String>, BTreeMap<String, BTreeMap<String, String>>, ComponentIndex);

    fn scope_fixture() -> Fixture {
        let vars = BTreeMap::from([("VERSION".to_string(), "1.2.3".to_string()), ("N".into(), "3".into())]);
        let svars = BTreeMap::from([(
            "backend".to_string(),
            BTreeMap::from([("IMAGE_REPO".to_string(), "repo/x".to_string())]),
        )]);
        let mut idx = ComponentIndex::default();
        idx.insert(ComponentId::new("backend", "database"), Kind::Rds);
        idx.insert(ComponentId::new("backend", "api"), Kind::MicroService);
        idx.insert(ComponentId::new("web", "api"), Kind::MicroService);
        (vars, svars, idx)
    }

    fn run(text: &str, service: Option<&str>) -> (Node, Vec<FoundRef>, Vec<Diagnostic>) {
        let (vars, svars, idx) = scope_fixture();
        let scope = Scope { variables: &vars, service_variables: &svars, components: &idx, current_service: service };
        let mut node = parse(FileId(0), text).unwrap().remove(0).root;
        let (mut refs, mut diags) = (vec![], vec![]);
        scope.interpolate(&mut node, &mut refs, &mut diags);
        (node, refs, diags)
    }

    #[test]
    fn variables_service_variables_and_outputs() {
        let (n, refs, diags) = run(
            "a: \"${backend.IMAGE_REPO}:${VERSION}\"\nb: ${database.address}\nc: ${N}\nd: $${VERSION}\n",
            Some("backend"),
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(n.get("a").unwrap().as_str(), Some("repo/x:1.2.3"));
        assert_eq!(n.get("b").unwrap().as_str(), Some("${backend.database.address}"));
        assert_eq!(n.get("c").unwrap().value, Value::Int(3));
        assert_eq!(n.get("d").unwrap().as_str(), Some("$${VERSION}"));
        assert_eq!(refs.len(), 1);
        assert_eq!((refs[0].span.line, refs[0].span.col), (2, 4));
    }

    #[test]
    fn errors_are_located_and_helpful() {
        let (_, _, diags) = run("a: \"x ${VERSON}\"\nb: ${database.adress}\nc: ${api.url}\n", Some("other"));
        assert_eq!(diags.len(), 3);
        assert_eq!((diags[0].span.unwrap().line, diags[0].span.unwrap().col), (1, 7));
        assert_eq!(diags[0].hint.as_deref(), Some("did you mean `VERSION`?"));
        assert!(diags[1].hint.as_deref().unwrap().contains("address"));
        assert_eq!(diags[2].code, "ambiguous-reference");
    }

    #[test]
    fn variable_values_stay_literal() {
        let vars = BTreeMap::from([("X".to_string(), "${evil}".to_string())]);
        let idx = ComponentIndex::default();
        let svars = BTreeMap::new();
        let scope = Scope { variables: &vars, service_variables: &svars, components: &idx, current_service: None };
        let mut node = parse(FileId(0), "a: \"v=${X}\"").unwrap().remove(0).root;
        scope.interpolate(&mut node, &mut vec![], &mut vec![]);
        assert_eq!(template::literal(node.get("a").unwrap().as_str().unwrap()).unwrap(), "v=${evil}");
    }
}
