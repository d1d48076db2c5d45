//! The engine: plans a stack against its state and runs apply or destroy over the graph.
//!
//! Scheduling is event-driven: a component starts the moment its last dependency finishes
//! (for destroy: its last dependent), not level by level. With a parallelism bound, the
//! ready component with the longest remaining path (sum of expected durations to the end of
//! the run) goes first. A failure stops only the components downstream of it; everything
//! else finishes and every failure is reported. Cancellation (Ctrl-C) stops scheduling, lets
//! in-flight components finish and leaves the state saved.
//!
//! A region that does not answer (DR.md, "The CLI during an outage") stops only its own
//! components: those of a region known unreachable before the run
//! ([`RunOptions::unreachable`]) are never started, and the first component that fails
//! because its region gave no answer at all ([`crate::aws::is_unreachable`]) marks the region
//! so that none of its other components starts. Both end as [`Outcome::Unreachable`], their
//! state and journal untouched (pending entries stay pending for the next run). A dependent
//! in another region still runs when the unreachable dependency had nothing to change (its
//! recorded outputs stand); it is skipped when the dependency had a change planned.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use serde::Serialize;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::aws::is_unreachable;
use crate::component::{Action, CancelFlag, Component, Ctx, Drift, Outputs, Placement};
use crate::error::ComponentError;
use crate::graph::{Graph, GraphError};
use crate::planner::{key_hashes, stable_hash, stable_hash_of};
use crate::schedule::Estimate;
use crate::state::{now, ComponentState, ComponentStatus, StateDoc, StateHandle};

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedChange {
    pub id: String,
    pub kind: String,
    pub placement: Placement,
    pub region: String,
    pub action: Action,
    pub reason: String,
}

/// The plan of a run, in dependency order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub changes: Vec<PlannedChange>,
    /// What the run will take on AWS ([`Engine::estimate`]), when the caller asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
}

impl Plan {
    pub fn count(&self, a: Action) -> usize {
        self.changes.iter().filter(|c| c.action == a).count()
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_change())
    }

    pub fn action_of(&self, id: &str) -> Option<Action> {
        self.changes.iter().find(|c| c.id == id).map(|c| c.action)
    }
}

/// What happened to one component in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Replaced,
    Deleted,
    Unchanged,
    Failed { error: String },
    Skipped { reason: String },
    NotStarted,
    /// Not run because its region does not answer; state and journal left as they were.
    Unreachable { region: String },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
    pub fn is_change(&self) -> bool {
        matches!(self, Outcome::Created | Outcome::Updated | Outcome::Replaced | Outcome::Deleted)
    }
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Outcome::Unreachable { .. })
    }
}

/// Live progress events, for the CLI's progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    Started { id: String, action: Action, region: String },
    Finished { id: String, outcome: Outcome, elapsed: Duration },
}

/// Result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub outcomes: Vec<ComponentOutcome>,
    #[serde(serialize_with = "ser_secs")]
    pub wall: Duration,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentOutcome {
    pub id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(serialize_with = "ser_secs")]
    pub elapsed: Duration,
    /// Offsets from the start of the run, in seconds in JSON (`start_secs`, `end_secs`);
    /// absent for a component that did not run.
    #[serde(rename = "start_secs", serialize_with = "ser_opt_secs", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Duration>,
    #[serde(rename = "end_secs", serialize_with = "ser_opt_secs", skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Duration>,
}

fn ser_opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_secs(d, s),
        None => s.serialize_none(),
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl Report {
    pub fn failures(&self) -> Vec<&ComponentOutcome> {
        self.outcomes.iter().filter(|o| o.outcome.is_failure()).collect()
    }
    pub fn success(&self) -> bool {
        !self.interrupted
            && self.outcomes.iter().all(|o| {
                !matches!(o.outcome, Outcome::Failed { .. } | Outcome::Skipped { .. } | Outcome::NotStarted | Outcome::Unreachable { .. })
            })
    }
    /// The regions that did not answer during the run (known before it or found during it),
    /// with the components each one left undone.
    pub fn unreachable(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for o in &self.outcomes {
            if let Outcome::Unreachable { region } = &o.outcome {
                out.entry(region.clone()).or_default().push(o.id.clone());
            }
        }
        out
    }
    pub fn get(&self, id: &str) -> Option<&ComponentOutcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(&o.outcome)).count()
    }
}

/// Options of a run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Maximum components in flight; None = unbounded.
    pub parallelism: Option<usize>,
    /// Restrict the run to these ids (apply: plus their dependencies; destroy: plus their
    /// dependents).
    pub targets: Vec<String>,
    pub cancel: CancelFlag,
    /// Live progress callback.
    pub progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    /// Regions known not to answer before the run starts (the CLI probes them): their
    /// components are not started and end as [`Outcome::Unreachable`].
    pub unreachable: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("unknown target '{0}'")]
    UnknownTarget(String),
}

/// A stack's graph bound to its state.
pub struct Engine {
    graph: Arc<Graph>,
    state: StateHandle,
}

struct TaskResult {
    index: usize,
    outcome: Outcome,
    /// The component failed because its region gave no answer at all.
    no_answer: bool,
    outputs: Option<Outputs>,
    started: Duration,
    ended: Duration,
}

impl Engine {
    pub fn new(components: Vec<Arc<dyn Component>>, state: StateHandle) -> Result<Self, EngineError> {
        Ok(Self { graph: Arc::new(Graph::build(components)?), state })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn state(&self) -> &StateHandle {
        &self.state
    }

    fn target_indices(&self, targets: &[String]) -> Result<Vec<usize>, EngineError> {
        targets
            .iter()
            .map(|t| self.graph.index_of(t).ok_or_else(|| EngineError::UnknownTarget(t.clone())))
            .collect()
    }

    /// Reads every component that has state and reports drift (`plan --refresh`, `status`).
    pub async fn refresh(&self, parallelism: usize) -> BTreeMap<String, Result<Drift, String>> {
        self.refresh_reachable(parallelism, &BTreeSet::new()).await
    }

    /// [`Engine::refresh`] without the components of the `unreachable` regions (they are
    /// not read and have no entry in the result).
    pub async fn refresh_reachable(&self, parallelism: usize, unreachable: &BTreeSet<String>) -> BTreeMap<String, Result<Drift, String>> {
        let doc = self.state.snapshot();
        let sem = Arc::new(tokio::sync::Semaphore::new(parallelism.max(1)));
        let mut set = JoinSet::new();
        for c in self.graph.components() {
            if unreachable.contains(c.region()) {
                continue;
            }
            let Some(prior) = doc.components.get(c.id()).map(|p| ComponentState::clone(p)) else { continue };
            let c = c.clone();
            let state = self.state.clone();
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let ctx = Ctx::new(
                    c.id().to_string(),
                    c.region().to_string(),
                    Action::NoOp,
                    BTreeMap::new(),
                    Some(prior),
                    state,
                    CancelFlag::default(),
                );
                (c.id().to_string(), c.read(&ctx).await.map_err(|e| e.to_string()))
            });
        }
        let mut out = BTreeMap::new();
        while let Some(Ok((id, r))) = set.join_next().await {
            out.insert(id, r);
        }
        out
    }

    /// What each component of `plan` (a destroy plan) says about the data it would delete
    /// ([`Component::data_summary`]), read at once, each bounded by `deadline`; components of
    /// the `unreachable` regions and those with nothing to say are left out. In plan order;
    /// `Err` carries why a count failed (the CLI shows it; it never blocks the destroy).
    pub async fn data_summaries(&self, plan: &Plan, deadline: Duration, unreachable: &BTreeSet<String>) -> Vec<(String, Result<String, String>)> {
        let doc = self.state.snapshot();
        let mut set = JoinSet::new();
        for (pos, ch) in plan.changes.iter().enumerate() {
            let Some(i) = self.graph.index_of(&ch.id) else { continue };
            let c = self.graph.component(i).clone();
            if unreachable.contains(c.region()) || c.holds_data().is_none() {
                continue;
            }
            let prior = doc.components.get(c.id()).map(|p| ComponentState::clone(p));
            let state = self.state.clone();
            set.spawn(async move {
                let ctx = Ctx::new(c.id().to_string(), c.region().to_string(), Action::Delete, BTreeMap::new(), prior, state, CancelFlag::default());
                let r = match tokio::time::timeout(deadline, c.data_summary(&ctx)).await {
                    Ok(Ok(s)) => s.map(Ok),
                    Ok(Err(e)) => Some(Err(e.to_string())),
                    Err(_) => Some(Err(format!("no answer within {}s", deadline.as_secs()))),
                };
                (pos, c.id().to_string(), r)
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((pos, id, Some(r))) => out.push((pos, id, r)),
                Ok((_, _, None)) => {}
                Err(e) => out.push((usize::MAX, "?".into(), Err(format!("summary task: {e}")))),
            }
        }
        out.sort_by_key(|(pos, _, _)| *pos);
        out.into_iter().map(|(_, id, r)| (id, r)).collect()
    }

    /// Plans an apply: per component, create / update / replace / delete / no-op, with the
    /// reason. `drift` (from [`Engine::refresh`]) turns drifted or missing resources into
    /// updates.
    pub async fn plan(&self, targets: &[String], drift: Option<&BTreeMap<String, Result<Drift, String>>>) -> Result<Plan, EngineError> {
        let doc = self.state.snapshot();
        let selected = if targets.is_empty() {
            vec![true; self.graph.len()]
        } else {
            self.graph.with_dependencies(&self.target_indices(targets)?)
        };
        let mut actions: Vec<Option<(Action, String)>> = vec![None; self.graph.len()];
        for &i in self.graph.topological() {
            if !selected[i] {
                continue;
            }
            let c = self.graph.component(i);
            let prior = doc.components.get(c.id()).map(Arc::as_ref);
            let (mut action, mut reason) = c.plan(prior).await;
            if action == Action::NoOp && c.wanted() {
                if let Some(Ok(Drift::Missing { details })) = drift.and_then(|d| d.get(c.id())) {
                    action = Action::Create;
                    reason = format!("deleted outside Tandem: {}", details.join("; "));
                } else if let Some(Ok(Drift::Drifted { details })) = drift.and_then(|d| d.get(c.id())) {
                    action = Action::Update;
                    reason = format!("drifted: {}", details.join("; "));
                } else if let Some(dep) = self.graph.dependencies(i).into_iter().find(|&d| {
                    matches!(actions[d].as_ref().map(|a| a.0), Some(Action::Create | Action::Replace))
                }) {
                    action = Action::Update;
                    reason = format!("dependency {} will be re-created", self.graph.component(dep).id());
                } else if let Some(p) = prior {
                    let h = inputs_hash(&self.graph, i, &doc);
                    if !p.inputs_hash.is_empty() && p.inputs_hash != h {
                        action = Action::Update;
                        reason = "outputs of its dependencies changed".into();
                    }
                }
            }
            actions[i] = Some((action, reason));
        }
        let mut changes = Vec::new();
        for &i in self.graph.topological() {
            let Some((action, reason)) = actions[i].take() else { continue };
            let c = self.graph.component(i);
            if !c.wanted() && action == Action::NoOp {
                continue;
            }
            changes.push(PlannedChange {
                id: c.id().to_string(),
                kind: c.kind().to_string(),
                placement: c.placement(),
                region: c.region().to_string(),
                action,
                reason,
            });
        }
        Ok(Plan { changes, estimate: None })
    }

    /// Plans a destroy: every component with state, in reverse dependency order.
    pub fn plan_destroy(&self, targets: &[String]) -> Result<Plan, EngineError> {
        let doc = self.state.snapshot();
        let selected = if targets.is_empty() {
            vec![true; self.graph.len()]
        } else {
            self.graph.with_dependents(&self.target_indices(targets)?)
        };
        let mut changes = Vec::new();
        for &i in self.graph.topological().iter().rev() {
            let c = self.graph.component(i);
            if selected[i] && doc.components.contains_key(c.id()) {
                changes.push(PlannedChange {
                    id: c.id().to_string(),
                    kind: c.kind().to_string(),
                    placement: c.placement(),
                    region: c.region().to_string(),
                    action: Action::Delete,
                    reason: "destroy".into(),
                });
            }
        }
        Ok(Plan { changes, estimate: None })
    }

    /// What running `plan` will take on AWS: each component with something to do counts its
    /// `expected_duration` (an update as long as a create: an upper bound), the others
    /// nothing; the critical path and, with `parallelism`, the executor's makespan under
    /// that bound ([`crate::schedule`]). `destroy`: the plan of [`Engine::plan_destroy`].
    pub fn estimate(&self, plan: &Plan, destroy: bool, parallelism: Option<usize>) -> Estimate {
        let mut work = vec![Duration::ZERO; self.graph.len()];
        for ch in plan.changes.iter().filter(|c| c.action.is_change()) {
            if let Some(i) = self.graph.index_of(&ch.id) {
                work[i] = self.graph.component(i).expected_duration();
            }
        }
        Estimate::of(&self.graph, !destroy, |i| work[i], parallelism)
    }

    /// Applies `plan` (from [`Engine::plan`]).
    pub async fn apply(&self, plan: &Plan, opts: &RunOptions) -> Report {
        let mut work = vec![None; self.graph.len()];
        for ch in &plan.changes {
            if let Some(i) = self.graph.index_of(&ch.id) {
                work[i] = Some(ch.action);
            }
        }
        self.run(true, work, opts).await
    }

    /// Destroys what `plan` (from [`Engine::plan_destroy`]) lists, dependents first.
    pub async fn destroy(&self, plan: &Plan, opts: &RunOptions) -> Report {
        let mut work = vec![None; self.graph.len()];
        for ch in &plan.changes {
            if let Some(i) = self.graph.index_of(&ch.id) {
                work[i] = Some(Action::Delete);
            }
        }
        self.run(false, work, opts).await
    }

    async fn run(&self, forward: bool, work: Vec<Option<Action>>, opts: &RunOptions) -> Report {
        let start = Instant::now();
        let g = &self.graph;
        let n = g.len();
        let limit = opts.parallelism.unwrap_or(usize::MAX).max(1);
        let remaining = g.remaining_path(forward, |i| g.component(i).expected_duration());
        let topo_pos: Vec<usize> = {
            let mut pos = vec![0; n];
            for (p, &i) in g.topological().iter().enumerate() {
                pos[i] = p;
            }
            pos
        };
        let upstream = |i: usize| if forward { g.dependencies(i) } else { g.dependents(i) };
        let downstream = |i: usize| if forward { g.dependents(i) } else { g.dependencies(i) };

        let mut waiting: Vec<usize> = (0..n).map(|i| upstream(i).into_iter().filter(|&u| work[u].is_some()).count()).collect();
        let mut outcomes: Vec<Option<ComponentOutcome>> = vec![None; n];
        let doc = self.state.snapshot();
        let mut outputs: Vec<Option<Outputs>> = (0..n)
            .map(|i| doc.components.get(g.component(i).id()).filter(|c| c.status == ComponentStatus::Applied).map(|c| c.outputs.clone()))
            .collect();
        drop(doc);

        let mut ready: BinaryHeap<(Duration, Reverse<usize>, usize)> = BinaryHeap::new();
        for i in 0..n {
            if work[i].is_some() && waiting[i] == 0 {
                ready.push((remaining[i], Reverse(topo_pos[i]), i));
            }
        }
        let mut set: JoinSet<TaskResult> = JoinSet::new();
        let mut in_flight = 0usize;
        let mut down: BTreeSet<String> = opts.unreachable.clone();
        let mut cancelled = opts.cancel.is_cancelled();

        loop {
            while !cancelled && in_flight < limit {
                let Some((_, _, i)) = ready.pop() else { break };
                let Some(action) = work[i] else { continue };
                if outcomes[i].is_some() {
                    continue;
                }
                let c = g.component(i).clone();
                if down.contains(c.region()) {
                    // Not started: its region does not answer. State and journal stay as
                    // they are; a later run picks it up.
                    let region = c.region().to_string();
                    let outcome = Outcome::Unreachable { region: region.clone() };
                    if let Some(p) = opts.progress.as_deref() {
                        p(Progress::Finished { id: c.id().to_string(), outcome: outcome.clone(), elapsed: Duration::ZERO });
                    }
                    outcomes[i] = Some(ComponentOutcome { id: c.id().to_string(), outcome, elapsed: Duration::ZERO, started_at: None, ended_at: None });
                    // Nothing to change and outputs on record (or none wanted): its
                    // dependents may use what is recorded. Otherwise they cannot run.
                    let stands = forward && action == Action::NoOp && (outputs[i].is_some() || !c.wanted());
                    if stands {
                        for d in downstream(i) {
                            if work[d].is_some() {
                                waiting[d] -= 1;
                                if waiting[d] == 0 && outcomes[d].is_none() {
                                    ready.push((remaining[d], Reverse(topo_pos[d]), d));
                                }
                            }
                        }
                    } else {
                        let reason = if forward {
                            format!("dependency {} is in {region}, which does not answer", c.id())
                        } else {
                            format!("dependent {} is in {region}, which does not answer", c.id())
                        };
                        skip_closure(g, forward, i, &work, &mut outcomes, &reason, &down, opts.progress.as_deref());
                    }
                    continue;
                }
                let inputs: BTreeMap<String, Outputs> = g
                    .dependencies(i)
                    .into_iter()
                    .filter(|&d| g.component(d).wanted())
                    .filter_map(|d| outputs[d].clone().map(|o| (g.component(d).id().to_string(), o)))
                    .collect();
                let state = self.state.clone();
                let progress = opts.progress.clone();
                let cancel = opts.cancel.clone();
                let span = tracing::info_span!("component", id = %c.id(), region = %c.region());
                set.spawn(
                    async move {
                        let started = start.elapsed();
                        let (outcome, outs, no_answer) = if forward {
                            let (o, outs, error) = run_apply(&c, action, inputs, &state, cancel, progress.as_deref()).await;
                            (o, outs, error.as_ref().is_some_and(no_answer))
                        } else {
                            let (o, no_answer) = run_destroy(&c, &state, cancel, progress.as_deref()).await;
                            (o, None, no_answer)
                        };
                        let ended = start.elapsed();
                        if let Some(p) = progress.as_deref() {
                            p(Progress::Finished { id: c.id().to_string(), outcome: outcome.clone(), elapsed: ended - started });
                        }
                        TaskResult { index: i, outcome, no_answer, outputs: outs, started, ended }
                    }
                    .instrument(span),
                );
                in_flight += 1;
            }
            if in_flight == 0 {
                break;
            }
            tokio::select! {
                joined = set.join_next() => {
                    let Some(joined) = joined else { break };
                    in_flight -= 1;
                    let r = match joined {
                        Ok(r) => r,
                        Err(e) => {
                            // A panicking component: find which one is impossible here, so
                            // report it generically; JoinSet tasks carry their index only on success.
                            tracing::error!(error = %e, "component task panicked");
                            continue;
                        }
                    };
                    let i = r.index;
                    if let Some(o) = r.outputs {
                        outputs[i] = Some(o);
                    }
                    let failed = r.outcome.is_failure();
                    outcomes[i] = Some(ComponentOutcome {
                        id: g.component(i).id().to_string(),
                        outcome: r.outcome,
                        elapsed: r.ended - r.started,
                        started_at: Some(r.started),
                        ended_at: Some(r.ended),
                    });
                    if failed {
                        let culprit = g.component(i).id().to_string();
                        if r.no_answer && down.insert(g.component(i).region().to_string()) {
                            tracing::warn!(
                                region = %g.component(i).region(),
                                component = %culprit,
                                "the region does not answer: none of its other components will start"
                            );
                        }
                        let reason = if forward {
                            format!("dependency {culprit} failed")
                        } else {
                            format!("dependent {culprit} failed to delete")
                        };
                        skip_closure(g, forward, i, &work, &mut outcomes, &reason, &down, opts.progress.as_deref());
                    } else {
                        for d in downstream(i) {
                            if work[d].is_some() {
                                waiting[d] -= 1;
                                if waiting[d] == 0 && outcomes[d].is_none() {
                                    ready.push((remaining[d], Reverse(topo_pos[d]), d));
                                }
                            }
                        }
                    }
                }
                _ = opts.cancel.cancelled(), if !cancelled => {
                    tracing::warn!("interrupted: letting {in_flight} in-flight component(s) finish");
                    cancelled = true;
                }
            }
        }
        let interrupted = cancelled;
        let outcomes = (0..n)
            .filter(|&i| work[i].is_some())
            .map(|i| {
                outcomes[i].take().unwrap_or_else(|| ComponentOutcome {
                    id: g.component(i).id().to_string(),
                    outcome: Outcome::NotStarted,
                    elapsed: Duration::ZERO,
                    started_at: None,
                    ended_at: None,
                })
            })
            .collect();
        Report { outcomes, wall: start.elapsed(), interrupted }
    }
}

/// Marks every not-yet-finished component downstream of `i` (apply: its dependents;
/// destroy: its dependencies) as skipped for `reason`, or as unreachable when it is in one
/// of the `down` regions itself.
#[allow(clippy::too_many_arguments)]
fn skip_closure(
    g: &Graph,
    forward: bool,
    i: usize,
    work: &[Option<Action>],
    outcomes: &mut [Option<ComponentOutcome>],
    reason: &str,
    down: &BTreeSet<String>,
    progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
) {
    let closure = if forward { g.with_dependents(&[i]) } else { g.with_dependencies(&[i]) };
    for (j, inside) in closure.into_iter().enumerate() {
        if inside && j != i && work[j].is_some() && outcomes[j].is_none() {
            let region = g.component(j).region();
            let outcome = if down.contains(region) {
                Outcome::Unreachable { region: region.to_string() }
            } else {
                Outcome::Skipped { reason: reason.to_string() }
            };
            if let Some(p) = progress {
                p(Progress::Finished { id: g.component(j).id().to_string(), outcome: outcome.clone(), elapsed: Duration::ZERO });
            }
            outcomes[j] = Some(ComponentOutcome {
                id: g.component(j).id().to_string(),
                outcome,
                elapsed: Duration::ZERO,
                started_at: None,
                ended_at: None,
            });
        }
    }
}

/// True when `e` is an AWS call that got no answer at all from its region.
fn no_answer(e: &ComponentError) -> bool {
    e.aws_error().is_some_and(is_unreachable)
}

/// Hash of the outputs of `i`'s (wanted) dependencies as recorded in `doc`.
fn inputs_hash(g: &Graph, i: usize, doc: &StateDoc) -> String {
    let map: BTreeMap<&str, Option<&Outputs>> = g
        .dependencies(i)
        .into_iter()
        .filter(|&d| g.component(d).wanted())
        .map(|d| {
            let id = g.component(d).id();
            (id, doc.components.get(id).map(|c| &c.outputs))
        })
        .collect();
    stable_hash_of(&map)
}

fn hash_inputs(inputs: &BTreeMap<String, Outputs>) -> String {
    let map: BTreeMap<&str, Option<&Outputs>> = inputs.iter().map(|(k, v)| (k.as_str(), Some(v))).collect();
    stable_hash_of(&map)
}

/// Sets the component's status (creating its record) in memory; returns the serial to
/// persist for durability.
fn mark_status(state: &StateHandle, c: &Arc<dyn Component>, status: ComponentStatus, error: Option<String>) -> u64 {
    let (id, kind, placement, region) = (c.id().to_string(), c.kind().to_string(), c.placement(), c.region().to_string());
    let ((), serial) = state.mutate(move |doc| {
        let e = doc.component_or_insert(&id, || ComponentState::new(&kind, placement, &region));
        e.kind = kind;
        e.placement = placement;
        e.region = region;
        e.status = status;
        e.error = error;
        e.updated_at = now();
    });
    serial
}

/// Sets the component's status and waits until it is durable.
async fn set_status(state: &StateHandle, c: &Arc<dyn Component>, status: ComponentStatus, error: Option<String>) -> Result<(), String> {
    let serial = mark_status(state, c, status, error);
    state.persist(serial).await.map_err(|e| e.to_string())
}

/// One component's apply; the component's own error, if it returned one, is passed back so
/// the scheduler can tell a region that does not answer from any other failure.
async fn run_apply(
    c: &Arc<dyn Component>,
    action: Action,
    inputs: BTreeMap<String, Outputs>,
    state: &StateHandle,
    cancel: CancelFlag,
    progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
) -> (Outcome, Option<Outputs>, Option<ComponentError>) {
    let prior = state.component(c.id());
    let ih = hash_inputs(&inputs);
    let mut action = action;
    if action == Action::NoOp {
        match &prior {
            Some(p) if p.inputs_hash.is_empty() || p.inputs_hash == ih || !c.wanted() => {
                return (Outcome::Unchanged, if c.wanted() { Some(p.outputs.clone()) } else { None }, None);
            }
            Some(_) => action = Action::Update,
            None => return (Outcome::Unchanged, None, None),
        }
    }
    if let Some(p) = progress {
        p(Progress::Started { id: c.id().to_string(), action, region: c.region().to_string() });
    }
    let ctx_for = |a: Action, prior: Option<ComponentState>| {
        Ctx::new(c.id().to_string(), c.region().to_string(), a, inputs.clone(), prior, state.clone(), cancel.clone())
    };
    if matches!(action, Action::Delete | Action::Replace) {
        if let Err(e) = set_status(state, c, ComponentStatus::Destroying, None).await {
            return (Outcome::Failed { error: e }, None, None);
        }
        if let Err(e) = c.destroy(&ctx_for(action, prior.clone())).await {
            let msg = error_chain(&e);
            let _ = set_status(state, c, ComponentStatus::Failed, Some(msg.clone())).await;
            return (Outcome::Failed { error: msg }, None, Some(e));
        }
        if action == Action::Delete {
            let id = c.id().to_string();
            return match state.update(move |doc| doc.components.remove(&id)).await {
                Ok(_) => (Outcome::Deleted, None, None),
                Err(e) => (Outcome::Failed { error: e.to_string() }, None, None),
            };
        }
    }
    // In memory only: the component's first journal entry (the protocol's `pending`, durable before
    // its first AWS mutation) persists the whole document, this status included. A crash
    // before that entry has changed nothing in AWS, so the old record on disk is still true.
    mark_status(state, c, ComponentStatus::Pending, None);
    let prior_for_apply = if action == Action::Replace { None } else { prior };
    let ctx = ctx_for(if action == Action::Replace { Action::Create } else { action }, prior_for_apply);
    match c.apply(&ctx).await {
        Ok(outs) => {
            let declared = c.output_type();
            if let Err(e) = declared.check(&outs) {
                let msg = format!("apply did not return its declared outputs ({}): {e}", declared.short_name());
                let _ = set_status(state, c, ComponentStatus::Failed, Some(msg.clone())).await;
                return (Outcome::Failed { error: msg }, None, None);
            }
            let desired = c.desired();
            let (rh, uh) = (stable_hash(&desired.replace_on), stable_hash(&desired.update_on));
            let (rk, uk) = (key_hashes(&desired.replace_on), key_hashes(&desired.update_on));
            let id = c.id().to_string();
            let saved = outs.clone();
            let r = state
                .update(move |doc| {
                    if let Some(e) = doc.component_mut(&id) {
                        e.status = ComponentStatus::Applied;
                        e.replace_hash = rh;
                        e.update_hash = uh;
                        e.replace_keys = rk;
                        e.update_keys = uk;
                        e.inputs_hash = ih;
                        e.outputs = saved;
                        e.error = None;
                        e.updated_at = now();
                    }
                })
                .await;
            match r {
                Ok(()) => (
                    match action {
                        Action::Create => Outcome::Created,
                        Action::Replace => Outcome::Replaced,
                        _ => Outcome::Updated,
                    },
                    Some(outs),
                    None,
                ),
                Err(e) => (Outcome::Failed { error: e.to_string() }, None, None),
            }
        }
        Err(e) => {
            let msg = error_chain(&e);
            let _ = set_status(state, c, ComponentStatus::Failed, Some(msg.clone())).await;
            (Outcome::Failed { error: msg }, None, Some(e))
        }
    }
}

async fn run_destroy(
    c: &Arc<dyn Component>,
    state: &StateHandle,
    cancel: CancelFlag,
    progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
) -> (Outcome, bool) {
    let Some(prior) = state.component(c.id()) else {
        return (Outcome::Unchanged, false);
    };
    if let Some(p) = progress {
        p(Progress::Started { id: c.id().to_string(), action: Action::Delete, region: c.region().to_string() });
    }
    if let Err(e) = set_status(state, c, ComponentStatus::Destroying, None).await {
        return (Outcome::Failed { error: e }, false);
    }
    let ctx = Ctx::new(c.id().to_string(), c.region().to_string(), Action::Delete, BTreeMap::new(), Some(prior), state.clone(), cancel);
    match c.destroy(&ctx).await {
        Ok(()) => {
            let id = c.id().to_string();
            match state.update(move |doc| doc.components.remove(&id)).await {
                Ok(_) => (Outcome::Deleted, false),
                Err(e) => (Outcome::Failed { error: e.to_string() }, false),
            }
        }
        Err(e) => {
            let msg = error_chain(&e);
            let _ = set_status(state, c, ComponentStatus::Destroying, Some(msg.clone())).await;
            (Outcome::Failed { error: msg }, no_answer(&e))
        }
    }
}

/// An error and its sources, joined with ": ".
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = x.source();
    }
    s
}

/// Ids of components in state that the stack no longer has (cannot be destroyed by it).
pub fn orphaned_ids(graph: &Graph, doc: &StateDoc) -> Vec<String> {
    let known: HashMap<&str, ()> = graph.components().iter().map(|c| (c.id(), ())).collect();
    doc.components.keys().filter(|k| !known.contains_key(k.as_str())).cloned().collect()
}
