//! From a policy finding back to the YAML: the component it names and a
//! field path in that component's resolved configuration become the span
//! the loader recorded for that field, in whichever file set it (the
//! component's document, its overlay, its ComponentInfra, the stack's
//! defaults, the Environment).
//!
//! Paths read `spec.ports[0].port`, relative to the component, or as input
//! paths: `components["backend/api"].infra.replicas`,
//! `changes[3].spec.image` (or `changes[3].config.spec.image`). A path that goes deeper than the YAML
//! does (a default the file never wrote) points at the deepest field that
//! exists; a finding with no component points at the stack's name.

use crate::load::yaml::{Node, PathSeg, Span};
use crate::load::{Component, LoadedStack};
use crate::model::ComponentId;
use crate::plan::Plan;

use super::Violation;

/// Split `a.b[0]["c/d"].e` into segments.
pub fn parse_path(path: &str) -> Vec<PathSeg> {
    let mut segs = Vec::new();
    let mut chars = path.chars().peekable();
    let mut key = String::new();
    let flush = |key: &mut String, segs: &mut Vec<PathSeg>| {
        if !key.is_empty() {
            segs.push(PathSeg::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' | '/' if key.is_empty() => {}
            '.' => flush(&mut key, &mut segs),
            '[' => {
                flush(&mut key, &mut segs);
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                let inner = inner.trim();
                if let Ok(i) = inner.parse::<usize>() {
                    segs.push(PathSeg::Index(i));
                } else {
                    segs.push(PathSeg::Key(inner.trim_matches(|c| c == '"' || c == '\'').to_string()));
                }
            }
            c => key.push(c),
        }
    }
    flush(&mut key, &mut segs);
    segs
}

fn key(s: &str) -> PathSeg {
    PathSeg::Key(s.to_string())
}

/// The component a finding is about and the path inside its configuration.
fn target(v: &Violation, plan: Option<&Plan>) -> (Option<String>, Vec<PathSeg>) {
    let mut segs = v.path.as_deref().map(parse_path).unwrap_or_default();
    let mut component = v.component.clone();
    match segs.first() {
        Some(PathSeg::Key(k)) if k == "components" && segs.len() >= 2 => {
            if let PathSeg::Key(id) = &segs[1] {
                component = Some(id.clone());
                segs.drain(..2);
            }
        }
        Some(PathSeg::Key(k)) if k == "changes" && segs.len() >= 2 => {
            if let (PathSeg::Index(i), Some(plan)) = (&segs[1], plan) {
                if let Some(c) = plan.changes.get(*i) {
                    component = Some(c.component.clone());
                    let skip = if matches!(segs.get(2), Some(PathSeg::Key(k)) if k == "config") { 3 } else { 2 };
                    segs.drain(..skip.min(segs.len()));
                }
            }
        }
        _ => {}
    }
    (component, segs)
}

/// The node at the full path, if the YAML wrote every step of it.
fn exact(node: &Node, path: &[PathSeg]) -> Option<Span> {
    node.at(path).map(|n| n.span)
}

/// The ComponentInfra path of an `infra.*` field (EffectiveInfra is flat:
/// `infra.replicas` is `spec.scaling.replicas` in the file).
fn infra_path(rest: &[PathSeg]) -> Vec<PathSeg> {
    let mut out = vec![key("spec")];
    let Some(PathSeg::Key(first)) = rest.first() else {
        return out;
    };
    match first.as_str() {
        "cpu" | "memory" => out.extend([key("resources"), key(first)]),
        "replicas" | "autoscaling" => out.extend([key("scaling"), key(first)]),
        other => out.push(key(other)),
    }
    out.extend(rest[1..].iter().cloned());
    out
}

fn in_component(stack: &LoadedStack, c: &Component, segs: &[PathSeg]) -> Span {
    let Some(PathSeg::Key(head)) = segs.first() else {
        return c.name_span;
    };
    let rest = &segs[1..];
    match head.as_str() {
        "infra" => {
            let path = infra_path(rest);
            let in_infra = c.infra_node.as_ref().and_then(|n| exact(n, &path));
            let mut defaults = vec![key("spec"), key("defaults"), key("infra")];
            defaults.extend(path[1..].iter().cloned());
            in_infra
                .or_else(|| exact(&stack.stack.node, &defaults))
                .or_else(|| c.infra_node.as_ref().map(|n| n.span_at(&path)))
                .unwrap_or(c.name_span)
        }
        "context" => {
            let Some(PathSeg::Key(what)) = rest.first() else {
                return c.name_span;
            };
            let env = stack.environment_doc.as_ref().map(|e| &e.node);
            let stack_node = &stack.stack.node;
            match what.as_str() {
                "region" | "accountId" => {
                    let path = [key("spec"), key("provider"), key(what)];
                    env.and_then(|n| exact(n, &path)).unwrap_or_else(|| stack_node.span_at(&path))
                }
                "labels" => {
                    let mut path = vec![key("metadata"), key("labels")];
                    path.extend(rest[1..].iter().cloned());
                    exact(&c.node, &path).unwrap_or_else(|| stack_node.span_at(&path))
                }
                "network" | "cluster" | "loadBalancer" => {
                    let mut path = vec![key("spec"), key("shared")];
                    path.extend(rest.iter().cloned());
                    stack_node.span_at(&path)
                }
                _ => c.name_span,
            }
        }
        "labels" => {
            let mut path = vec![key("metadata"), key("labels")];
            path.extend(rest.iter().cloned());
            exact(&c.node, &path).unwrap_or_else(|| stack.stack.node.span_at(&path))
        }
        "spec" | "metadata" | "kind" => {
            let span = c.node.span_at(segs);
            // The document root means nothing was found: the name says more.
            if span == c.node.span {
                c.name_span
            } else {
                span
            }
        }
        _ => c.name_span,
    }
}

/// The span of a finding in the stack's YAML.
pub fn locate(stack: &LoadedStack, plan: Option<&Plan>, v: &Violation) -> Span {
    let (component, segs) = target(v, plan);
    let found =
        component.as_deref().and_then(ComponentId::parse).and_then(|id| stack.components.get(&id)).or_else(|| {
            // `name` alone: the one component of that name.
            let name = component.as_deref()?;
            let mut m = stack.components.values().filter(|c| c.id.name == name);
            match (m.next(), m.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        });
    match found {
        Some(c) => in_component(stack, c, &segs),
        None => stack.stack.name_span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_every_notation() {
        assert_eq!(
            parse_path(r#"components["backend/api"].spec.ports[0].port"#),
            vec![key("components"), key("backend/api"), key("spec"), key("ports"), PathSeg::Index(0), key("port")]
        );
        assert_eq!(parse_path("infra.replicas"), vec![key("infra"), key("replicas")]);
        assert_eq!(infra_path(&[key("replicas")]), vec![key("spec"), key("scaling"), key("replicas")]);
    }
}
