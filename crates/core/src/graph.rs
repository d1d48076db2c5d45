//! The dependency graph of a stack: a petgraph DAG with an edge from each dependency to its
//! dependent. Building it rejects duplicate ids, unknown dependencies (naming both ends) and
//! cycles (naming the cycle's path).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::component::Component;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("two components have the id '{0}'")]
    DuplicateId(String),
    #[error("component '{component}' depends on '{dependency}', which is not in the stack")]
    UnknownDependency { component: String, dependency: String },
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// The stack's components and their dependency edges.
pub struct Graph {
    dag: DiGraph<usize, ()>,
    nodes: Vec<NodeIndex>,
    components: Vec<Arc<dyn Component>>,
    index: HashMap<String, usize>,
    topo: Vec<usize>,
}

impl Graph {
    pub fn build(components: Vec<Arc<dyn Component>>) -> Result<Self, GraphError> {
        let mut dag = DiGraph::with_capacity(components.len(), components.len() * 2);
        let mut index = HashMap::with_capacity(components.len());
        let mut nodes = Vec::with_capacity(components.len());
        for (i, c) in components.iter().enumerate() {
            if index.insert(c.id().to_string(), i).is_some() {
                return Err(GraphError::DuplicateId(c.id().to_string()));
            }
            nodes.push(dag.add_node(i));
        }
        for (i, c) in components.iter().enumerate() {
            for dep in c.dependencies() {
                let Some(&d) = index.get(&dep) else {
                    return Err(GraphError::UnknownDependency { component: c.id().to_string(), dependency: dep });
                };
                dag.add_edge(nodes[d], nodes[i], ());
            }
        }
        let topo = match toposort(&dag, None) {
            Ok(order) => order.into_iter().map(|n| dag[n]).collect(),
            Err(cycle) => return Err(GraphError::Cycle(find_cycle(&dag, cycle.node_id(), &components))),
        };
        Ok(Self { dag, nodes, components, index, topo })
    }

    pub fn len(&self) -> usize {
        self.components.len()
    }

    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    pub fn component(&self, i: usize) -> &Arc<dyn Component> {
        &self.components[i]
    }

    pub fn components(&self) -> &[Arc<dyn Component>] {
        &self.components
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Indices in dependency order (dependencies first).
    pub fn topological(&self) -> &[usize] {
        &self.topo
    }

    /// Direct dependencies of `i`.
    pub fn dependencies(&self, i: usize) -> Vec<usize> {
        self.dag.neighbors_directed(self.nodes[i], Direction::Incoming).map(|n| self.dag[n]).collect()
    }

    /// Direct dependents of `i`.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        self.dag.neighbors_directed(self.nodes[i], Direction::Outgoing).map(|n| self.dag[n]).collect()
    }

    /// `i` and everything it depends on, transitively.
    pub fn with_dependencies(&self, roots: &[usize]) -> Vec<bool> {
        self.closure(roots, Direction::Incoming)
    }

    /// `i` and everything that depends on it, transitively.
    pub fn with_dependents(&self, roots: &[usize]) -> Vec<bool> {
        self.closure(roots, Direction::Outgoing)
    }

    fn closure(&self, roots: &[usize], dir: Direction) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut queue: VecDeque<usize> = roots.iter().copied().collect();
        while let Some(i) = queue.pop_front() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            queue.extend(self.dag.neighbors_directed(self.nodes[i], dir).map(|n| self.dag[n]));
        }
        seen
    }

    /// For each component, the longest remaining path (sum of expected durations) from it to
    /// the end of the run: `forward` for apply (through dependents), else for destroy
    /// (through dependencies).
    pub fn remaining_path(&self, forward: bool, duration: impl Fn(usize) -> Duration) -> Vec<Duration> {
        let mut rem = vec![Duration::ZERO; self.len()];
        let order: Box<dyn Iterator<Item = &usize>> =
            if forward { Box::new(self.topo.iter().rev()) } else { Box::new(self.topo.iter()) };
        let dir = if forward { Direction::Outgoing } else { Direction::Incoming };
        for &i in order {
            let next = self
                .dag
                .neighbors_directed(self.nodes[i], dir)
                .map(|n| rem[self.dag[n]])
                .max()
                .unwrap_or(Duration::ZERO);
            rem[i] = duration(i) + next;
        }
        rem
    }

    /// Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph tandem {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
        for c in &self.components {
            s.push_str(&format!("  \"{}\" [label=\"{}\\n{} · {}\"];\n", c.id(), c.id(), c.kind(), c.region()));
        }
        for e in self.dag.raw_edges() {
            s.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                self.components[self.dag[e.source()]].id(),
                self.components[self.dag[e.target()]].id()
            ));
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid flowchart.
    pub fn to_mermaid(&self) -> String {
        let node = |id: &str| id.replace('-', "_");
        let mut s = String::from("flowchart LR\n");
        for c in &self.components {
            s.push_str(&format!("  {}[\"{}<br/>{} · {}\"]\n", node(c.id()), c.id(), c.kind(), c.region()));
        }
        for e in self.dag.raw_edges() {
            s.push_str(&format!(
                "  {} --> {}\n",
                node(self.components[self.dag[e.source()]].id()),
                node(self.components[self.dag[e.target()]].id())
            ));
        }
        s
    }
}

/// The path of a cycle through `start`, as component ids, closing on the first one.
fn find_cycle(dag: &DiGraph<usize, ()>, start: NodeIndex, components: &[Arc<dyn Component>]) -> Vec<String> {
    let id = |n: NodeIndex| components[dag[n]].id().to_string();
    // Restrict the search to the strongly connected component of `start`.
    let scc = tarjan_scc(dag).into_iter().find(|s| s.contains(&start)).unwrap_or_else(|| vec![start]);
    // BFS from start's successors back to start inside the SCC.
    let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::new();
    for n in dag.neighbors_directed(start, Direction::Outgoing) {
        if scc.contains(&n) && !prev.contains_key(&n) {
            prev.insert(n, start);
            queue.push_back(n);
        }
    }
    while let Some(n) = queue.pop_front() {
        if n == start {
            break;
        }
        for m in dag.neighbors_directed(n, Direction::Outgoing) {
            if scc.contains(&m) && !prev.contains_key(&m) {
                prev.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    let mut path = vec![id(start)];
    let mut cur = start;
    // Walk back from start to start through prev pointers.
    let mut guard = 0;
    while let Some(&p) = prev.get(&cur) {
        if p == start || guard > scc.len() {
            break;
        }
        path.push(id(p));
        cur = p;
        guard += 1;
    }
    path.push(id(start));
    // Edges point dependency -> dependent; we walked backwards, so reverse to read
    // "a depends on b depends on ... a" in dependency direction.
    path
}
