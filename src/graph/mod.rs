//! The dependency graph (SPEC §6): components are nodes; edges come from
//! `dependsOn`, `valueFrom`, `${…}` output references, `access`, triggers,
//! subscriptions and service-level `dependsOn`. Waves are topological
//! levels; cycles are reported as a path with the location of every edge.

pub mod render;

use std::collections::BTreeMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use crate::diagnostic::span::Span;
use crate::load::yaml::path;
use crate::load::LoadedStack;
use crate::model::{ComponentId, Kind};
use crate::validate::Diagnostic;

/// Why one component depends on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    DependsOn,
    ValueFrom,
    Reference,
    Access,
    Trigger,
    Subscription,
    ServiceDependsOn,
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub kind: EdgeKind,
    pub span: Span,
}

/// The graph of a stack. Edges point from a dependency to its dependent.
#[derive(Debug, Clone)]
pub struct Graph {
    pub graph: DiGraph<ComponentId, Edge>,
    pub nodes: BTreeMap<ComponentId, NodeIndex>,
    /// 1-based wave of every component.
    pub waves: BTreeMap<ComponentId, usize>,
}

impl Graph {
    /// Build the graph; cycles come back as diagnostics.
    pub fn build(stack: &LoadedStack) -> Result<Graph, Vec<Diagnostic>> {
        let mut graph = DiGraph::new();
        let mut nodes = BTreeMap::new();
        for id in stack.components.keys() {
            nodes.insert(id.clone(), graph.add_node(id.clone()));
        }
        let add = |graph: &mut DiGraph<ComponentId, Edge>, from: &ComponentId, to: &ComponentId, kind, span| {
            if let (Some(&a), Some(&b)) = (nodes.get(from), nodes.get(to)) {
                if a != b && graph.find_edge(a, b).is_none() {
                    graph.add_edge(a, b, Edge { kind, span });
                }
            }
        };
        for c in stack.components.values() {
            for (field, r) in c.spec.references() {
                let Ok((dep, _)) = stack.index.resolve(r.component(), Some(&c.id.service)) else {
                    continue;
                };
                use crate::model::Reference::*;
                let kind = match r {
                    DependsOn(_) => EdgeKind::DependsOn,
                    ValueFrom(_) => EdgeKind::ValueFrom,
                    Access(_) => EdgeKind::Access,
                    Trigger(_) => EdgeKind::Trigger,
                    Subscription(_) => EdgeKind::Subscription,
                };
                let span = c.span(&path(&field));
                // A topic delivers to its subscribers: the queue exists first,
                // and the topic depends on it.
                add(&mut graph, &dep, &c.id, kind, span);
            }
            for r in &c.output_refs {
                let dep = ComponentId::new(&r.target.service, &r.target.component);
                add(&mut graph, &dep, &c.id, EdgeKind::Reference, r.span);
            }
            if let Some(svc) = stack.services.get(&c.id.service) {
                for (i, dep_svc) in svc.spec.depends_on.iter().enumerate() {
                    let span = svc.span(&path(&format!("spec.dependsOn[{i}]")));
                    for dep in stack.components.keys().filter(|d| &d.service == dep_svc) {
                        add(&mut graph, dep, &c.id, EdgeKind::ServiceDependsOn, span);
                    }
                }
            }
        }
        let mut g = Graph { graph, nodes, waves: BTreeMap::new() };
        let cycles = g.cycles(stack);
        if !cycles.is_empty() {
            return Err(cycles);
        }
        g.compute_waves();
        Ok(g)
    }

    fn cycles(&self, stack: &LoadedStack) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            if scc.len() < 2 {
                continue;
            }
            let cycle = self.cycle_in(&scc);
            // Show the cycle as "a -> b": a depends on b. Edges point from a
            // dependency to its dependent, so the cycle is walked backwards.
            let mut order: Vec<NodeIndex> = cycle.iter().rev().copied().collect();
            let smallest = (0..order.len()).min_by_key(|&i| &self.graph[order[i]]).unwrap_or(0);
            order.rotate_left(smallest);
            order.push(order[0]);
            let names: Vec<String> = order.iter().map(|&n| self.graph[n].to_string()).collect();
            let mut labels = Vec::new();
            for w in order.windows(2) {
                let (dependent, dep) = (w[0], w[1]);
                if let Some(e) = self.graph.find_edge(dep, dependent) {
                    labels.push((
                        self.graph[e].span,
                        format!("`{}` depends on `{}` here", self.graph[dependent], self.graph[dep]),
                    ));
                }
            }
            let first = labels.first().map(|l| l.0);
            let mut d = Diagnostic::error("cycle", first, format!("dependency cycle: {}", names.join(" -> ")))
                .with_hint("remove one of these dependencies; components cannot wait for each other");
            for (span, msg) in labels {
                d = d.with_label(span, msg);
            }
            let _ = stack;
            out.push(d);
        }
        out
    }

    /// A simple cycle through the nodes of a strongly connected component.
    fn cycle_in(&self, scc: &[NodeIndex]) -> Vec<NodeIndex> {
        let in_scc = |n: NodeIndex| scc.contains(&n);
        let start = *scc.iter().min_by_key(|n| &self.graph[**n]).expect("scc is not empty");
        // BFS from start back to start within the SCC.
        let mut prev: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = self.graph.neighbors(n).filter(|m| in_scc(*m)).collect();
            next.sort_by_key(|m| &self.graph[*m]);
            for m in next {
                if m == start {
                    let mut path = vec![n];
                    let mut cur = n;
                    while cur != start {
                        cur = prev[&cur];
                        path.push(cur);
                    }
                    path.reverse();
                    return path;
                }
                if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(m) {
                    e.insert(n);
                    queue.push_back(m);
                }
            }
        }
        scc.to_vec()
    }

    fn compute_waves(&mut self) {
        let order = petgraph::algo::toposort(&self.graph, None).expect("cycles were ruled out");
        let mut wave: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        for n in order {
            let w = 1 + self
                .graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .map(|d| wave[&d])
                .max()
                .unwrap_or(0);
            wave.insert(n, w);
        }
        self.waves = wave.into_iter().map(|(n, w)| (self.graph[n].clone(), w)).collect();
    }

    /// Components grouped by wave, in name order within a wave.
    pub fn wave_list(&self) -> Vec<Vec<ComponentId>> {
        let max = self.waves.values().copied().max().unwrap_or(0);
        let mut waves = vec![Vec::new(); max];
        for (id, w) in &self.waves {
            waves[w - 1].push(id.clone());
        }
        waves
    }

    /// Direct dependencies of a component.
    pub fn dependencies(&self, id: &ComponentId) -> Vec<ComponentId> {
        let Some(&n) = self.nodes.get(id) else {
            return vec![];
        };
        let mut deps: Vec<ComponentId> =
            self.graph.neighbors_directed(n, petgraph::Direction::Incoming).map(|d| self.graph[d].clone()).collect();
        deps.sort();
        deps
    }

    /// Direct dependents of a component.
    pub fn dependents(&self, id: &ComponentId) -> Vec<ComponentId> {
        let Some(&n) = self.nodes.get(id) else {
            return vec![];
        };
        let mut deps: Vec<ComponentId> =
            self.graph.neighbors_directed(n, petgraph::Direction::Outgoing).map(|d| self.graph[d].clone()).collect();
        deps.sort();
        deps
    }

    /// Edges as (dependency, dependent, kind).
    pub fn edges(&self) -> Vec<(ComponentId, ComponentId, EdgeKind)> {
        let mut out: Vec<_> = self
            .graph
            .edge_references()
            .map(|e| (self.graph[e.source()].clone(), self.graph[e.target()].clone(), e.weight().kind))
            .collect();
        out.sort();
        out
    }

    /// The longest chain by estimated duration, restricted to `include`
    /// (all components when `None`), and its total seconds.
    pub fn critical_path(
        &self,
        duration: impl Fn(&ComponentId) -> u64,
        include: Option<&dyn Fn(&ComponentId) -> bool>,
    ) -> (Vec<ComponentId>, u64) {
        let order = petgraph::algo::toposort(&self.graph, None).expect("acyclic");
        let mut best: BTreeMap<NodeIndex, (u64, Option<NodeIndex>)> = BTreeMap::new();
        for n in order {
            let id = &self.graph[n];
            let own = if include.is_none_or(|f| f(id)) { duration(id) } else { 0 };
            let (base, from) = self
                .graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .map(|d| (best[&d].0, Some(d)))
                .max_by(|a, b| a.0.cmp(&b.0).then_with(|| self.graph[b.1.unwrap()].cmp(&self.graph[a.1.unwrap()])))
                .unwrap_or((0, None));
            best.insert(n, (base + own, from));
        }
        let Some((&end, &(total, _))) =
            best.iter().max_by(|a, b| a.1 .0.cmp(&b.1 .0).then_with(|| self.graph[*b.0].cmp(&self.graph[*a.0])))
        else {
            return (vec![], 0);
        };
        let mut path = vec![];
        let mut cur = Some(end);
        while let Some(n) = cur {
            let id = &self.graph[n];
            if include.is_none_or(|f| f(id)) {
                path.push(id.clone());
            }
            cur = best[&n].1;
        }
        path.reverse();
        (path, total)
    }
}

/// A rough time to create or update a component of a kind, for estimates
/// and the critical path (seconds; from typical AWS provisioning times).
pub fn estimated_seconds(kind: Kind) -> u64 {
    match kind {
        Kind::Rds => 600,
        Kind::ElastiCache => 720,
        Kind::MicroService => 240,
        Kind::Worker => 180,
        Kind::CronJob => 45,
        Kind::Lambda => 40,
        Kind::DynamoDB => 30,
        Kind::S3 => 15,
        Kind::Sqs => 15,
        Kind::Sns => 15,
        _ => 0,
    }
}
