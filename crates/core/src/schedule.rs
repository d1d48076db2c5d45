//! What a run will take: the critical path of the graph and the makespan of the schedules a
//! run could follow, computed from each component's `expected_duration` (no AWS call, no
//! clock). `plan` shows the estimate ([`Estimate`]); the full-stack schedule benchmark
//! compares Tandem's executor with a level-by-level and a serial schedule.
//!
//! [`simulate`] replays the executor's own rule (a component starts the moment its last
//! upstream component finishes; with a parallelism bound, the ready component with the
//! longest remaining path first, ties in topological order), so its result is what the
//! executor achieves when every component takes exactly its expected duration.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use serde::Serialize;

use crate::graph::Graph;

/// The longest chain of work through the graph, in run order, with each step's duration.
pub fn critical_path(g: &Graph, forward: bool, duration: impl Fn(usize) -> Duration) -> (Duration, Vec<usize>) {
    let rem = g.remaining_path(forward, &duration);
    let next_of = |i: usize| if forward { g.dependents(i) } else { g.dependencies(i) };
    let prev_of = |i: usize| if forward { g.dependencies(i) } else { g.dependents(i) };
    // Start at a node without upstream work whose remaining path is the longest.
    let Some(mut at) = (0..g.len()).filter(|&i| prev_of(i).is_empty()).max_by_key(|&i| (rem[i], Reverse(i))) else {
        return (Duration::ZERO, Vec::new());
    };
    let total = rem[at];
    let mut path = vec![at];
    // Follow the successor that carries the rest of the path; stop where no work remains.
    while let Some(n) = next_of(at).into_iter().filter(|&n| rem[n] > Duration::ZERO).max_by_key(|&n| (rem[n], Reverse(n))) {
        if rem[at].saturating_sub(duration(at)) != rem[n] {
            break;
        }
        path.push(n);
        at = n;
    }
    path.retain(|&i| duration(i) > Duration::ZERO);
    (total, path)
}

/// The makespan of the executor's schedule when every component takes `duration(i)`
/// (zero: no work), with at most `parallelism` in flight (None: unbounded).
pub fn simulate(g: &Graph, forward: bool, duration: impl Fn(usize) -> Duration, parallelism: Option<usize>) -> Duration {
    let n = g.len();
    let limit = parallelism.unwrap_or(usize::MAX).max(1);
    let rem = g.remaining_path(forward, &duration);
    let mut pos = vec![0; n];
    for (p, &i) in g.topological().iter().enumerate() {
        pos[i] = p;
    }
    let upstream = |i: usize| if forward { g.dependencies(i) } else { g.dependents(i) };
    let downstream = |i: usize| if forward { g.dependents(i) } else { g.dependencies(i) };
    let mut waiting: Vec<usize> = (0..n).map(|i| upstream(i).len()).collect();
    let mut ready: BinaryHeap<(Duration, Reverse<usize>, usize)> =
        (0..n).filter(|&i| waiting[i] == 0).map(|i| (rem[i], Reverse(pos[i]), i)).collect();
    // Running components by finish time (earliest first).
    let mut running: BinaryHeap<Reverse<(Duration, usize)>> = BinaryHeap::new();
    let mut now = Duration::ZERO;
    let mut done = 0;
    while done < n {
        while running.len() < limit {
            let Some((_, _, i)) = ready.pop() else { break };
            running.push(Reverse((now + duration(i), i)));
        }
        let Some(Reverse((t, i))) = running.pop() else { break };
        now = t;
        done += 1;
        for d in downstream(i) {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push((rem[d], Reverse(pos[d]), d));
            }
        }
    }
    now
}

/// The makespan of a level-by-level (wave) schedule: each level of the graph (longest chain
/// of dependencies below it) starts when the whole previous level has finished.
pub fn level_by_level(g: &Graph, duration: impl Fn(usize) -> Duration) -> Duration {
    let mut level = vec![0usize; g.len()];
    for &i in g.topological() {
        level[i] = g.dependencies(i).into_iter().map(|d| level[d] + 1).max().unwrap_or(0);
    }
    let depth = level.iter().copied().max().map_or(0, |m| m + 1);
    (0..depth).map(|l| (0..g.len()).filter(|&i| level[i] == l).map(&duration).max().unwrap_or(Duration::ZERO)).sum()
}

/// The makespan of a serial schedule: one component at a time.
pub fn serial(g: &Graph, duration: impl Fn(usize) -> Duration) -> Duration {
    (0..g.len()).map(duration).sum()
}

/// One step of the critical path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathStep {
    pub id: String,
    #[serde(serialize_with = "secs")]
    pub expected: Duration,
}

/// What a plan will take on AWS, from the components' expected durations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// With unlimited parallelism: the critical path's length.
    #[serde(serialize_with = "secs")]
    pub unbounded: Duration,
    /// With the run's parallelism bound, when one was given.
    pub bounded: Option<Bounded>,
    /// The chain of components that decides the total, in run order.
    pub critical_path: Vec<PathStep>,
}

/// The estimate under a parallelism bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bounded {
    pub parallelism: usize,
    #[serde(serialize_with = "secs")]
    pub makespan: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

impl Estimate {
    /// The estimate of running `duration(i)` of work per component over `g` (zero: the
    /// component has nothing to do).
    pub fn of(g: &Graph, forward: bool, duration: impl Fn(usize) -> Duration, parallelism: Option<usize>) -> Self {
        let (unbounded, path) = critical_path(g, forward, &duration);
        let bounded = parallelism.map(|p| Bounded { parallelism: p, makespan: simulate(g, forward, &duration, Some(p)) });
        let critical_path = path.into_iter().map(|i| PathStep { id: g.component(i).id().to_string(), expected: duration(i) }).collect();
        Self { unbounded, bounded, critical_path }
    }
}

/// A duration as people read estimates: "45 s", "7 min", "1 h 05 min".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s < 90 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", (s + 30) / 60)
    } else {
        let m = (s + 30) / 60;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}
