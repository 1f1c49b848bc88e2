//! `panka graph` output: text, Graphviz dot, Mermaid and JSON.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::{estimated_seconds, Graph};
use crate::load::LoadedStack;
use crate::model::ComponentId;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GraphJson {
    pub stack: String,
    pub environment: String,
    pub nodes: Vec<NodeJson>,
    pub edges: Vec<EdgeJson>,
    pub waves: Vec<Vec<String>>,
    pub critical_path: Vec<String>,
    pub critical_path_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeJson {
    pub id: String,
    pub service: String,
    pub name: String,
    pub kind: String,
    pub wave: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EdgeJson {
    /// The dependent.
    pub from: String,
    /// What it depends on.
    pub to: String,
    pub kind: String,
}

pub fn critical(stack: &LoadedStack, g: &Graph) -> (Vec<ComponentId>, u64) {
    g.critical_path(|id| stack.components.get(id).map_or(0, |c| estimated_seconds(c.kind)), None)
}

pub fn to_json(stack: &LoadedStack, g: &Graph) -> GraphJson {
    let (cp, secs) = critical(stack, g);
    GraphJson {
        stack: stack.name().to_string(),
        environment: stack.environment.clone(),
        nodes: stack
            .components
            .values()
            .map(|c| NodeJson {
                id: c.id.to_string(),
                service: c.id.service.clone(),
                name: c.id.name.clone(),
                kind: c.kind.to_string(),
                wave: g.waves[&c.id],
            })
            .collect(),
        edges: g
            .edges()
            .into_iter()
            .map(|(dep, dependent, kind)| EdgeJson {
                from: dependent.to_string(),
                to: dep.to_string(),
                kind: serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            })
            .collect(),
        waves: g.wave_list().iter().map(|w| w.iter().map(ToString::to_string).collect()).collect(),
        critical_path: cp.iter().map(ToString::to_string).collect(),
        critical_path_seconds: secs,
    }
}

pub fn to_text(stack: &LoadedStack, g: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "stack `{}`, environment `{}`: {} components in {} waves",
        stack.name(),
        stack.environment,
        stack.components.len(),
        g.wave_list().len()
    );
    for (i, wave) in g.wave_list().iter().enumerate() {
        let _ = writeln!(out, "\nwave {}", i + 1);
        for id in wave {
            let kind = stack.components[id].kind;
            let deps = g.dependencies(id);
            if deps.is_empty() {
                let _ = writeln!(out, "  {id} ({kind})");
            } else {
                let deps: Vec<String> = deps.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "  {id} ({kind}) <- {}", deps.join(", "));
            }
        }
    }
    let (cp, secs) = critical(stack, g);
    if !cp.is_empty() {
        let names: Vec<String> = cp.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "\ncritical path (~{}): {}", human_seconds(secs), names.join(" -> "));
    }
    out
}

pub fn to_dot(stack: &LoadedStack, g: &Graph) -> String {
    let (cp, _) = critical(stack, g);
    let mut out = String::from("digraph panka {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (i, wave) in g.wave_list().iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_wave_{} {{\n    label=\"wave {}\";", i + 1, i + 1);
        for id in wave {
            let style = if cp.contains(id) { ", style=bold, color=red" } else { "" };
            let _ = writeln!(out, "    \"{id}\" [label=\"{id}\\n{}\"{style}];", stack.components[id].kind);
        }
        out.push_str("  }\n");
    }
    for (dep, dependent, _) in g.edges() {
        let _ = writeln!(out, "  \"{dep}\" -> \"{dependent}\";");
    }
    out.push_str("}\n");
    out
}

pub fn to_mermaid(stack: &LoadedStack, g: &Graph) -> String {
    let node_id = |id: &ComponentId| format!("{}__{}", id.service, id.name).replace('-', "_");
    let mut out = String::from("flowchart LR\n");
    for (i, wave) in g.wave_list().iter().enumerate() {
        let _ = writeln!(out, "  subgraph wave{}[\"wave {}\"]", i + 1, i + 1);
        for id in wave {
            let _ = writeln!(out, "    {}[\"{id}<br/>{}\"]", node_id(id), stack.components[id].kind);
        }
        out.push_str("  end\n");
    }
    for (dep, dependent, _) in g.edges() {
        let _ = writeln!(out, "  {} --> {}", node_id(&dep), node_id(&dependent));
    }
    let (cp, _) = critical(stack, g);
    for id in &cp {
        let _ = writeln!(out, "  style {} stroke:#d33,stroke-width:3px", node_id(id));
    }
    out
}

pub fn human_seconds(s: u64) -> String {
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
