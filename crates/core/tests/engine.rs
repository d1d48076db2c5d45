//! Engine tests with synthetic components (no AWS): scheduling, failure isolation,
//! critical-path priority, resume after interruption, idempotency, graph errors.
//!
//! The synthetic component writes the journal by hand (the deprecated raw writes) to stage a
//! process killed between a create and its `done`; real components use the protocol.
#![allow(deprecated)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tandem_core::executor::Outcome;
use tandem_core::graph::{Graph, GraphError};
use tandem_core::state::{ComponentStatus, LocalBackend, MemoryBackend, ResourceStatus, StateBackend, StateDoc, StateHandle};
use tandem_core::{Action, AwsError, CancelFlag, Component, ComponentError, Ctx, Desired, Drift, Engine, OutputType, Outputs, Placement, Plan, PlannedChange, RunOptions};

/// The synthetic components' declared outputs.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct SyntheticOutputs {
    name: String,
    id: String,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct XOutputs {
    x: u32,
}

/// A fake cloud: resources by name, with a count of creates.
#[derive(Default)]
struct Cloud {
    resources: HashMap<String, String>,
    creates: usize,
    deletes: usize,
    log: Vec<(String, tokio::time::Instant, tokio::time::Instant)>,
}

type SharedCloud = Arc<Mutex<Cloud>>;

struct Synth {
    id: String,
    deps: Vec<String>,
    dur: Duration,
    fail: bool,
    version: u32,
    cloud: SharedCloud,
    /// Crash (return an error) right after the cloud create, before journaling `done`.
    crash_after_create: Mutex<bool>,
    region: String,
    /// Fail like a call to a region that gives no answer (the SDK's dispatch failure).
    no_answer: bool,
    /// How many times apply/destroy was entered.
    calls: Arc<Mutex<usize>>,
    /// A replace-forcing attribute (changing it plans a replacement).
    generation: u32,
    /// What user data it holds (data-safety tests).
    holds: Option<String>,
    /// What its data summary answers (None: nothing to say; Err: the count failed).
    summary: Option<Result<String, String>>,
}

fn synth(id: &str, deps: &[&str], ms: u64, cloud: &SharedCloud) -> Synth {
    Synth {
        id: id.into(),
        deps: deps.iter().map(|s| s.to_string()).collect(),
        dur: Duration::from_millis(ms),
        fail: false,
        version: 1,
        cloud: cloud.clone(),
        crash_after_create: Mutex::new(false),
        region: "us-east-1".into(),
        no_answer: false,
        calls: Arc::default(),
        generation: 1,
        holds: None,
        summary: None,
    }
}

fn in_region(mut c: Synth, region: &str) -> Synth {
    c.region = region.into();
    c
}

fn dispatch_failure(resource: &str, region: &str) -> ComponentError {
    ComponentError::aws(resource, region, AwsError::new("DispatchFailure", "dispatch failure: connection closed before message completed", None))
}

#[async_trait::async_trait]
impl Component for Synth {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "synthetic"
    }
    fn placement(&self) -> Placement {
        Placement::Primary
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        self.deps.clone()
    }
    fn output_type(&self) -> OutputType {
        OutputType::of::<SyntheticOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        self.dur
    }
    fn desired(&self) -> Desired {
        Desired::new(json!({"name": self.id, "generation": self.generation}), json!({"version": self.version}))
    }
    fn holds_data(&self) -> Option<String> {
        self.holds.clone()
    }
    async fn data_summary(&self, _ctx: &Ctx) -> Result<Option<String>, ComponentError> {
        match &self.summary {
            None => Ok(None),
            Some(Ok(s)) => Ok(Some(s.clone())),
            Some(Err(e)) => Err(ComponentError::invalid(&self.id, &self.region, e.clone())),
        }
    }
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        *self.calls.lock().unwrap() += 1;
        let t0 = tokio::time::Instant::now();
        for d in &self.deps {
            let o: BTreeMap<String, String> = ctx.input(d)?;
            assert_eq!(o.get("name"), Some(d), "typed input of {d}");
        }
        tokio::time::sleep(self.dur).await;
        if self.no_answer {
            return Err(dispatch_failure(&self.id, &self.region));
        }
        if self.fail {
            return Err(ComponentError::invalid(&self.id, "us-east-1", "synthetic failure"));
        }
        let existing = { self.cloud.lock().unwrap().resources.get(&self.id).cloned() };
        let id = match existing {
            // Adopt what exists (recorded or found by name).
            Some(id) => {
                ctx.done("main", &id).await?;
                id
            }
            None => {
                ctx.pending("main", "create").await?;
                let id = {
                    let mut c = self.cloud.lock().unwrap();
                    c.creates += 1;
                    let id = format!("res-{}-{}", self.id, c.creates);
                    c.resources.insert(self.id.clone(), id.clone());
                    id
                };
                if std::mem::replace(&mut *self.crash_after_create.lock().unwrap(), false) {
                    return Err(ComponentError::Interrupted);
                }
                ctx.done("main", &id).await?;
                id
            }
        };
        self.cloud.lock().unwrap().log.push((self.id.clone(), t0, tokio::time::Instant::now()));
        Ok(BTreeMap::from([("name".to_string(), json!(self.id)), ("id".to_string(), json!(id))]))
    }
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        *self.calls.lock().unwrap() += 1;
        let t0 = tokio::time::Instant::now();
        tokio::time::sleep(self.dur).await;
        if self.no_answer {
            return Err(dispatch_failure(&self.id, &self.region));
        }
        if self.fail {
            return Err(ComponentError::invalid(&self.id, "us-east-1", "synthetic delete failure"));
        }
        {
            let mut c = self.cloud.lock().unwrap();
            if c.resources.remove(&self.id).is_some() {
                c.deletes += 1;
            }
            c.log.push((self.id.clone(), t0, tokio::time::Instant::now()));
        }
        ctx.removed("main").await
    }
    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        Ok(if self.cloud.lock().unwrap().resources.contains_key(&self.id) {
            Drift::InSync
        } else {
            Drift::Missing { details: vec![format!("{} is gone", self.id)] }
        })
    }
}

fn engine(components: Vec<Synth>, state: StateHandle) -> Engine {
    Engine::new(components.into_iter().map(|c| Arc::new(c) as Arc<dyn Component>).collect(), state).unwrap()
}

fn mem_state() -> StateHandle {
    StateHandle::new(StateDoc::new("test"), Arc::new(MemoryBackend::default()))
}

fn span(cloud: &SharedCloud, id: &str) -> (tokio::time::Instant, tokio::time::Instant) {
    let c = cloud.lock().unwrap();
    let (_, s, e) = c.log.iter().find(|(i, _, _)| i == id).unwrap_or_else(|| panic!("{id} did not run"));
    (*s, *e)
}

async fn apply_all(e: &Engine, opts: &RunOptions) -> tandem_core::Report {
    let plan = e.plan(&[], None).await.unwrap();
    e.apply(&plan, opts).await
}

#[tokio::test(start_paused = true)]
async fn independent_components_overlap_and_dependents_wait() {
    let cloud = SharedCloud::default();
    // a, b independent; c depends on both.
    let e = engine(vec![synth("a", &[], 100, &cloud), synth("b", &[], 300, &cloud), synth("c", &["a", "b"], 50, &cloud)], mem_state());
    let r = apply_all(&e, &RunOptions::default()).await;
    assert!(r.success(), "{r:?}");
    let (a0, a1) = span(&cloud, "a");
    let (b0, b1) = span(&cloud, "b");
    let (c0, _) = span(&cloud, "c");
    assert!(a0 < b1 && b0 < a1, "a and b overlap in time");
    assert!(c0 >= a1 && c0 >= b1, "c starts after both dependencies end");
    // Event-driven: total = max(a,b) + c, not a sum.
    assert_eq!(r.wall, Duration::from_millis(350));
}

#[tokio::test(start_paused = true)]
async fn starts_each_component_when_its_own_dependencies_finish() {
    let cloud = SharedCloud::default();
    // a(10) -> c(10); b(500). Level-by-level would start c after b; event-driven starts it at 10ms.
    let e = engine(vec![synth("a", &[], 10, &cloud), synth("b", &[], 500, &cloud), synth("c", &["a"], 10, &cloud)], mem_state());
    let r = apply_all(&e, &RunOptions::default()).await;
    assert!(r.success());
    let (a0, _) = span(&cloud, "a");
    let (c0, _) = span(&cloud, "c");
    assert_eq!(c0 - a0, Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn a_failure_stops_only_its_dependents_and_every_failure_is_reported() {
    let cloud = SharedCloud::default();
    let mut bad1 = synth("bad1", &[], 10, &cloud);
    bad1.fail = true;
    let mut bad2 = synth("bad2", &[], 20, &cloud);
    bad2.fail = true;
    let e = engine(
        vec![
            bad1,
            bad2,
            synth("child", &["bad1"], 10, &cloud),
            synth("grandchild", &["child"], 10, &cloud),
            synth("good", &[], 100, &cloud),
            synth("good-child", &["good"], 10, &cloud),
        ],
        mem_state(),
    );
    let r = apply_all(&e, &RunOptions::default()).await;
    assert!(!r.success());
    let failures: Vec<&str> = r.failures().iter().map(|o| o.id.as_str()).collect();
    assert_eq!(failures, vec!["bad1", "bad2"]);
    assert!(matches!(&r.get("child").unwrap().outcome, Outcome::Skipped { reason } if reason.contains("bad1")));
    assert!(matches!(&r.get("grandchild").unwrap().outcome, Outcome::Skipped { .. }));
    assert_eq!(r.get("good").unwrap().outcome, Outcome::Created);
    assert_eq!(r.get("good-child").unwrap().outcome, Outcome::Created);
    // The failed component's state says so, with the error.
    let doc = e.state().snapshot();
    assert_eq!(doc.components["bad1"].status, ComponentStatus::Failed);
    assert!(doc.components["bad1"].error.as_deref().unwrap().contains("synthetic failure"));
}

#[tokio::test(start_paused = true)]
async fn bounded_executor_prefers_the_critical_path() {
    let cloud = SharedCloud::default();
    // Three ready roots; with parallelism 1 the one heading the longest chain goes first.
    let e = engine(
        vec![
            synth("short", &[], 10, &cloud),
            synth("medium", &[], 20, &cloud),
            synth("long-head", &[], 10, &cloud),
            synth("long-tail", &["long-head"], 500, &cloud),
        ],
        mem_state(),
    );
    let r = apply_all(&e, &RunOptions { parallelism: Some(1), ..Default::default() }).await;
    assert!(r.success());
    let order: Vec<String> = cloud.lock().unwrap().log.iter().map(|(i, _, _)| i.clone()).collect();
    assert_eq!(order, vec!["long-head", "long-tail", "medium", "short"]);
}

#[tokio::test(start_paused = true)]
async fn parallelism_bounds_concurrency() {
    let cloud = SharedCloud::default();
    let comps: Vec<Synth> = (0..10).map(|i| synth(&format!("c{i}"), &[], 100, &cloud)).collect();
    let e = engine(comps, mem_state());
    let r = apply_all(&e, &RunOptions { parallelism: Some(3), ..Default::default() }).await;
    assert!(r.success());
    // 10 components of 100 ms, 3 at a time: 4 waves.
    assert_eq!(r.wall, Duration::from_millis(400));
}

#[tokio::test(start_paused = true)]
async fn apply_twice_second_run_is_all_no_op() {
    let cloud = SharedCloud::default();
    let mk = |cloud: &SharedCloud| vec![synth("a", &[], 10, cloud), synth("b", &["a"], 10, cloud)];
    let state = mem_state();
    let e = engine(mk(&cloud), state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    let creates = cloud.lock().unwrap().creates;
    let e2 = engine(mk(&cloud), state.clone());
    let plan = e2.plan(&[], None).await.unwrap();
    assert!(!plan.has_changes(), "{plan:?}");
    let r = e2.apply(&plan, &RunOptions::default()).await;
    assert!(r.outcomes.iter().all(|o| o.outcome == Outcome::Unchanged), "{r:?}");
    assert_eq!(cloud.lock().unwrap().creates, creates);
}

#[tokio::test(start_paused = true)]
async fn config_change_plans_update_and_replace() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let e = engine(vec![synth("a", &[], 10, &cloud), synth("b", &["a"], 10, &cloud)], state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    let mut a2 = synth("a", &[], 10, &cloud);
    a2.version = 2;
    let e2 = engine(vec![a2, synth("b", &["a"], 10, &cloud)], state.clone());
    let plan = e2.plan(&[], None).await.unwrap();
    assert_eq!(plan.action_of("a"), Some(Action::Update));
    assert_eq!(plan.action_of("b"), Some(Action::NoOp));
    // The reason names the changed key (recorded as a hash by the apply), not its value.
    let a = plan.changes.iter().find(|c| c.id == "a").unwrap();
    assert_eq!(a.reason, "configuration changed: version");
}

#[tokio::test(start_paused = true)]
async fn interrupted_run_resumes_without_recreating() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = SharedCloud::default();
    let backend: Arc<dyn StateBackend> = Arc::new(LocalBackend::new(dir.path(), "dev"));
    let state = StateHandle::new(StateDoc::new("dev"), backend.clone());
    let a = synth("a", &[], 10, &cloud);
    *a.crash_after_create.lock().unwrap() = true;
    let e = engine(vec![a, synth("b", &["a"], 10, &cloud)], state);
    let r = apply_all(&e, &RunOptions::default()).await;
    assert!(!r.success());
    // The journal on disk has a pending entry for a's resource, created in the cloud.
    let doc = backend.load().unwrap().unwrap();
    assert_eq!(doc.components["a"].resources["main"].status, ResourceStatus::Pending);
    assert_eq!(doc.unresolved(), vec![("a", "main")]);
    assert_eq!(cloud.lock().unwrap().creates, 1);

    // A new process: load state from disk and run again.
    let state = StateHandle::new(backend.load().unwrap().unwrap(), backend.clone());
    let e = engine(vec![synth("a", &[], 10, &cloud), synth("b", &["a"], 10, &cloud)], state);
    let plan = e.plan(&[], None).await.unwrap();
    assert_eq!(plan.action_of("a"), Some(Action::Update), "pending component is resumed");
    let r = e.apply(&plan, &RunOptions::default()).await;
    assert!(r.success(), "{r:?}");
    assert_eq!(cloud.lock().unwrap().creates, 2, "a adopted (not re-created), b created");
    let doc = backend.load().unwrap().unwrap();
    assert_eq!(doc.components["a"].resources["main"].status, ResourceStatus::Done);
    assert_eq!(doc.components["a"].resources["main"].id.as_deref(), Some("res-a-1"));
    assert!(doc.unresolved().is_empty());
}

#[tokio::test(start_paused = true)]
async fn destroy_walks_the_graph_in_reverse_and_second_destroy_is_a_no_op() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let mk = |cloud: &SharedCloud| vec![synth("a", &[], 10, cloud), synth("b", &["a"], 10, cloud), synth("c", &["b"], 10, cloud)];
    let e = engine(mk(&cloud), state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    cloud.lock().unwrap().log.clear();
    let plan = e.plan_destroy(&[]).unwrap();
    let r = e.destroy(&plan, &RunOptions::default()).await;
    assert!(r.success(), "{r:?}");
    let order: Vec<String> = cloud.lock().unwrap().log.iter().map(|(i, _, _)| i.clone()).collect();
    assert_eq!(order, vec!["c", "b", "a"]);
    assert!(state.snapshot().components.is_empty());
    assert!(cloud.lock().unwrap().resources.is_empty());
    let plan = e.plan_destroy(&[]).unwrap();
    assert!(plan.changes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn destroy_failure_keeps_dependencies() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let e = engine(vec![synth("a", &[], 10, &cloud), synth("b", &["a"], 10, &cloud)], state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    let mut b = synth("b", &["a"], 10, &cloud);
    b.fail = true;
    let e = engine(vec![synth("a", &[], 10, &cloud), b], state.clone());
    let r = e.destroy(&e.plan_destroy(&[]).unwrap(), &RunOptions::default()).await;
    assert!(r.get("b").unwrap().outcome.is_failure());
    assert!(matches!(&r.get("a").unwrap().outcome, Outcome::Skipped { reason } if reason.contains("b")));
    assert!(cloud.lock().unwrap().resources.contains_key("a"));
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_scheduling_and_lets_in_flight_finish() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let e = engine(vec![synth("a", &[], 100, &cloud), synth("b", &["a"], 100, &cloud)], state.clone());
    let cancel = CancelFlag::default();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        c2.cancel();
    });
    let r = apply_all(&e, &RunOptions { cancel, ..Default::default() }).await;
    assert!(r.interrupted);
    assert_eq!(r.get("a").unwrap().outcome, Outcome::Created, "in-flight component finished");
    assert_eq!(r.get("b").unwrap().outcome, Outcome::NotStarted);
    assert_eq!(state.snapshot().components["a"].status, ComponentStatus::Applied, "state saved");
}

#[tokio::test(start_paused = true)]
async fn targets_apply_only_the_target_and_its_dependencies() {
    let cloud = SharedCloud::default();
    let e = engine(vec![synth("a", &[], 10, &cloud), synth("b", &["a"], 10, &cloud), synth("c", &[], 10, &cloud)], mem_state());
    let plan = e.plan(&["b".to_string()], None).await.unwrap();
    let ids: Vec<&str> = plan.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b"]);
    assert!(e.plan(&["nope".to_string()], None).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn refresh_detects_resources_deleted_out_of_band() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let e = engine(vec![synth("a", &[], 10, &cloud)], state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    cloud.lock().unwrap().resources.clear();
    let drift = e.refresh(4).await;
    let plan = e.plan(&[], Some(&drift)).await.unwrap();
    assert_eq!(plan.action_of("a"), Some(Action::Create));
}

struct Bare(&'static str, Vec<&'static str>);

#[async_trait::async_trait]
impl Component for Bare {
    fn id(&self) -> &str {
        self.0
    }
    fn kind(&self) -> &'static str {
        "bare"
    }
    fn placement(&self) -> Placement {
        Placement::Global
    }
    fn region(&self) -> &str {
        "us-east-1"
    }
    fn dependencies(&self) -> Vec<String> {
        self.1.iter().map(|s| s.to_string()).collect()
    }
    fn output_type(&self) -> OutputType {
        OutputType::of::<XOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn desired(&self) -> Desired {
        Desired::default()
    }
    async fn apply(&self, _ctx: &Ctx) -> Result<Outputs, ComponentError> {
        Ok(Outputs::new())
    }
    async fn destroy(&self, _ctx: &Ctx) -> Result<(), ComponentError> {
        Ok(())
    }
    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        Ok(Drift::InSync)
    }
}

fn bare(v: Vec<Bare>) -> Vec<Arc<dyn Component>> {
    v.into_iter().map(|b| Arc::new(b) as Arc<dyn Component>).collect()
}

#[test]
fn cycle_error_names_the_cycle_path() {
    let err = Graph::build(bare(vec![Bare("a", vec!["c"]), Bare("b", vec!["a"]), Bare("c", vec!["b"]), Bare("d", vec![])])).err().unwrap();
    match &err {
        GraphError::Cycle(path) => {
            assert_eq!(path.first(), path.last());
            assert_eq!(path.len(), 4, "{path:?}");
            for id in ["a", "b", "c"] {
                assert!(path.iter().any(|p| p == id), "{path:?}");
            }
            assert!(!path.iter().any(|p| p == "d"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(" -> "));
}

#[test]
fn unknown_dependency_names_both_ends() {
    let err = Graph::build(bare(vec![Bare("api", vec!["functon-primary"])])).err().unwrap();
    let s = err.to_string();
    assert!(s.contains("api") && s.contains("functon-primary"), "{s}");
}

#[test]
fn duplicate_ids_are_rejected() {
    assert_eq!(Graph::build(bare(vec![Bare("a", vec![]), Bare("a", vec![])])).err(), Some(GraphError::DuplicateId("a".into())));
}

#[tokio::test]
async fn missing_declared_outputs_fail_the_component() {
    let e = Engine::new(bare(vec![Bare("a", vec![])]), mem_state()).unwrap();
    let r = apply_all(&e, &RunOptions::default()).await;
    assert!(matches!(&r.get("a").unwrap().outcome, Outcome::Failed { error } if error.contains("declared outputs (XOutputs): missing field `x`")), "{:?}", r.get("a").unwrap().outcome);
}

#[test]
fn output_type_checks_names_and_types() {
    let t = OutputType::of::<XOutputs>();
    assert_eq!(t.short_name(), "XOutputs");
    assert!(t.check(&Outputs::from([("x".to_string(), json!(3))])).is_ok());
    let wrong = t.check(&Outputs::from([("x".to_string(), json!("three"))])).unwrap_err().to_string();
    assert!(wrong.contains("invalid type"), "{wrong}");
    assert!(t.check(&Outputs::new()).unwrap_err().to_string().contains("missing field `x`"));
}

#[test]
fn graph_renders_dot_and_mermaid() {
    let g = Graph::build(bare(vec![Bare("a", vec![]), Bare("b", vec!["a"])])).unwrap();
    assert!(g.to_dot().contains("\"a\" -> \"b\""));
    assert!(g.to_mermaid().contains("a --> b"));
}

// ---- a region that does not answer (DR.md, "The CLI during an outage") ----

/// The two-region shape the outage tests use: p1 -> p2 in us-east-1, s1 -> s2 in us-east-2,
/// and s2 also depends on p1 (as aurora-secondary depends on aurora-primary).
fn two_regions(cloud: &SharedCloud) -> Vec<Synth> {
    vec![
        synth("p1", &[], 10, cloud),
        synth("p2", &["p1"], 10, cloud),
        in_region(synth("s1", &[], 10, cloud), "us-east-2"),
        in_region(synth("s2", &["s1", "p1"], 10, cloud), "us-east-2"),
    ]
}

#[tokio::test(start_paused = true)]
async fn a_region_known_down_is_not_started_and_unchanged_dependencies_let_others_run() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let e = engine(two_regions(&cloud), state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    let before = state.snapshot();

    // Version 2 everywhere: every component has an update planned, except p1 (unchanged).
    let mut comps = two_regions(&cloud);
    for c in comps.iter_mut().filter(|c| c.id != "p1") {
        c.version = 2;
    }
    let calls: Vec<(String, Arc<Mutex<usize>>)> = comps.iter().map(|c| (c.id.clone(), c.calls.clone())).collect();
    let e = engine(comps, state.clone());
    let plan = e.plan(&[], None).await.unwrap();
    assert_eq!(plan.action_of("p1"), Some(Action::NoOp));
    assert_eq!(plan.action_of("p2"), Some(Action::Update));
    let opts = RunOptions { unreachable: ["us-east-1".to_string()].into(), ..Default::default() };
    let r = e.apply(&plan, &opts).await;

    assert!(!r.success(), "a region left undone is not a success: {r:?}");
    assert_eq!(r.get("p1").unwrap().outcome, Outcome::Unreachable { region: "us-east-1".into() });
    assert_eq!(r.get("p2").unwrap().outcome, Outcome::Unreachable { region: "us-east-1".into() });
    // p1 had nothing to change: its recorded outputs stand, so s2 (which needs them) runs.
    assert_eq!(r.get("s1").unwrap().outcome, Outcome::Updated);
    assert_eq!(r.get("s2").unwrap().outcome, Outcome::Updated);
    assert_eq!(r.unreachable(), BTreeMap::from([("us-east-1".to_string(), vec!["p1".to_string(), "p2".to_string()])]));
    for (id, n) in &calls {
        let expected = usize::from(id.starts_with('s'));
        assert_eq!(*n.lock().unwrap(), expected, "calls into {id}");
    }
    // The unreachable region's records are exactly as they were (a later run picks them up).
    let after = state.snapshot();
    for id in ["p1", "p2"] {
        assert_eq!(after.components[id].update_hash, before.components[id].update_hash, "{id}");
        assert_eq!(after.components[id].status, ComponentStatus::Applied, "{id}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_dependency_with_a_change_in_a_region_down_skips_its_dependents_elsewhere() {
    let cloud = SharedCloud::default();
    let e = engine(two_regions(&cloud), mem_state());
    let plan = e.plan(&[], None).await.unwrap();
    let opts = RunOptions { unreachable: ["us-east-1".to_string()].into(), ..Default::default() };
    let r = e.apply(&plan, &opts).await;
    assert_eq!(r.get("p1").unwrap().outcome, Outcome::Unreachable { region: "us-east-1".into() });
    assert_eq!(r.get("s1").unwrap().outcome, Outcome::Created);
    assert!(
        matches!(&r.get("s2").unwrap().outcome, Outcome::Skipped { reason } if reason == "dependency p1 is in us-east-1, which does not answer"),
        "{r:?}"
    );
    assert_eq!(cloud.lock().unwrap().creates, 1, "only s1 was created");
}

#[tokio::test(start_paused = true)]
async fn the_first_call_without_answer_stops_the_rest_of_its_region() {
    let cloud = SharedCloud::default();
    // p1 gets no answer; p-later (independent, ready only after p-slow) must not start.
    let mut p1 = synth("p1", &[], 10, &cloud);
    p1.no_answer = true;
    let p_slow = synth("p-slow", &[], 100, &cloud);
    let p_later = synth("p-later", &["p-slow"], 10, &cloud);
    let later_calls = p_later.calls.clone();
    let s1 = in_region(synth("s1", &[], 10, &cloud), "us-east-2");
    let s2 = in_region(synth("s2", &["s1"], 200, &cloud), "us-east-2");
    let e = engine(vec![p1, p_slow, p_later, s1, s2], mem_state());
    let r = apply_all(&e, &RunOptions::default()).await;

    assert!(matches!(&r.get("p1").unwrap().outcome, Outcome::Failed { error } if error.contains("DispatchFailure")), "{r:?}");
    // Already in flight when the region was found down: it finishes on its own.
    assert_eq!(r.get("p-slow").unwrap().outcome, Outcome::Created);
    assert_eq!(r.get("p-later").unwrap().outcome, Outcome::Unreachable { region: "us-east-1".into() });
    assert_eq!(*later_calls.lock().unwrap(), 0, "p-later never started");
    assert_eq!(r.get("s1").unwrap().outcome, Outcome::Created);
    assert_eq!(r.get("s2").unwrap().outcome, Outcome::Created);
    assert!(!r.success());
}

#[tokio::test(start_paused = true)]
async fn destroy_with_a_region_down_deletes_the_other_region_and_keeps_the_records() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let e = engine(two_regions(&cloud), state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    let plan = e.plan_destroy(&[]).unwrap();
    let opts = RunOptions { unreachable: ["us-east-1".to_string()].into(), ..Default::default() };
    let r = e.destroy(&plan, &opts).await;
    assert_eq!(r.get("s2").unwrap().outcome, Outcome::Deleted);
    assert_eq!(r.get("s1").unwrap().outcome, Outcome::Deleted);
    assert_eq!(r.get("p2").unwrap().outcome, Outcome::Unreachable { region: "us-east-1".into() });
    // p1 is in the region down too: reported as such, not as skipped because of p2.
    assert_eq!(r.get("p1").unwrap().outcome, Outcome::Unreachable { region: "us-east-1".into() });
    let doc = state.snapshot();
    assert!(doc.components.contains_key("p1") && doc.components.contains_key("p2"), "records of the region down are kept");
    assert!(!doc.components.contains_key("s1") && !doc.components.contains_key("s2"));
    assert_eq!(cloud.lock().unwrap().resources.len(), 2, "p1 and p2 still exist");
}

#[tokio::test(start_paused = true)]
async fn refresh_does_not_read_a_region_down() {
    let cloud = SharedCloud::default();
    let e = engine(two_regions(&cloud), mem_state());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    let drift = e.refresh_reachable(4, &["us-east-1".to_string()].into()).await;
    assert_eq!(drift.keys().cloned().collect::<Vec<_>>(), vec!["s1".to_string(), "s2".to_string()]);
}

// ---- schedules and estimates (crate::schedule) ----

#[tokio::test(start_paused = true)]
async fn the_simulated_schedule_is_what_the_executor_does() {
    use tandem_core::schedule::{critical_path, level_by_level, serial, simulate};
    let cloud = SharedCloud::default();
    // a(10) -> c(10); b(500); d(200) -> e(250) -> f(20), f also after a.
    let shape = |cloud: &SharedCloud| {
        vec![
            synth("a", &[], 10, cloud),
            synth("b", &[], 500, cloud),
            synth("c", &["a"], 10, cloud),
            synth("d", &[], 200, cloud),
            synth("e", &["d"], 250, cloud),
            synth("f", &["e", "a"], 20, cloud),
        ]
    };
    let e = engine(shape(&cloud), mem_state());
    let g = e.graph();
    let dur = |i: usize| g.component(i).expected_duration();
    let (cp, path) = critical_path(g, true, dur);
    assert_eq!(cp, Duration::from_millis(500));
    let names: Vec<&str> = path.iter().map(|&i| g.component(i).id()).collect();
    assert!(names == vec!["b"] || names == vec!["d", "e", "f"], "{names:?}");
    assert_eq!(simulate(g, true, dur, None), cp, "unbounded: the critical path");
    assert_eq!(simulate(g, true, dur, Some(1)), serial(g, dur), "one at a time: serial");
    assert_eq!(serial(g, dur), Duration::from_millis(990));
    // Levels: {a, b, d} 500, then {c, e} 250, then {f} 20.
    assert_eq!(level_by_level(g, dur), Duration::from_millis(770));

    // The executor, with the same durations, takes what the simulation says.
    for p in [None, Some(1), Some(2)] {
        let cloud = SharedCloud::default();
        let e = engine(shape(&cloud), mem_state());
        let g = e.graph();
        let predicted = simulate(g, true, |i| g.component(i).expected_duration(), p);
        let r = apply_all(&e, &RunOptions { parallelism: p, ..Default::default() }).await;
        assert!(r.success());
        assert_eq!(r.wall, predicted, "parallelism {p:?}");
    }
}

#[tokio::test]
async fn the_estimate_counts_only_what_the_plan_changes_and_names_the_critical_path() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let comps = || vec![synth("net", &[], 45_000, &cloud), synth("db", &["net"], 1_500_000, &cloud), synth("dash", &["net"], 5_000, &cloud)];
    let e = engine(comps(), state.clone());
    let plan = e.plan(&[], None).await.unwrap();
    let est = e.estimate(&plan, false, Some(16));
    assert_eq!(est.unbounded, Duration::from_millis(1_545_000));
    let ids: Vec<&str> = est.critical_path.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec!["net", "db"]);
    assert_eq!(est.bounded.as_ref().map(|b| b.makespan), Some(Duration::from_millis(1_545_000)));

    // Destroy runs the other way: db and dash first, then net.
    let destroy = Plan {
        changes: plan.changes.iter().map(|c| PlannedChange { action: Action::Delete, ..c.clone() }).collect(),
        estimate: None,
    };
    let est = e.estimate(&destroy, true, None);
    assert_eq!(est.critical_path.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["db", "net"]);

    // Only dash changes: the estimate is dash alone.
    let only_dash = Plan {
        changes: plan.changes.iter().map(|c| PlannedChange { action: if c.id == "dash" { Action::Update } else { Action::NoOp }, ..c.clone() }).collect(),
        estimate: None,
    };
    let est = e.estimate(&only_dash, false, None);
    assert_eq!(est.unbounded, Duration::from_millis(5_000));
    assert_eq!(est.critical_path.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["dash"]);
}

// ---- data safety (tandem_core::protection) ----

fn holding(mut c: Synth, what: &str) -> Synth {
    c.holds = Some(what.into());
    c
}

fn regenerated(mut c: Synth) -> Synth {
    c.generation = 2;
    c
}

/// A stack applied once: `db` holds data, `cache` holds none; both depend on nothing.
async fn applied_stack(cloud: &SharedCloud, state: &StateHandle) {
    let e = engine(vec![holding(synth("db", &[], 10, cloud), "the rows of db"), synth("cache", &[], 10, cloud)], state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
}

#[tokio::test(start_paused = true)]
async fn replacing_a_component_that_holds_data_is_refused_unless_allowed() {
    use tandem_core::protection::{data_loss_refusals, ALLOW_FLAG};
    let cloud = SharedCloud::default();
    let state = mem_state();
    applied_stack(&cloud, &state).await;
    // Both components change a replace-forcing attribute.
    let db = holding(regenerated(synth("db", &[], 10, &cloud)), "the rows of db");
    let db_calls = db.calls.clone();
    let e = engine(vec![db, regenerated(synth("cache", &[], 10, &cloud))], state.clone());
    let plan = e.plan(&[], None).await.unwrap();
    assert_eq!(plan.action_of("db"), Some(Action::Replace));
    assert_eq!(plan.action_of("cache"), Some(Action::Replace));

    let refused = data_loss_refusals(&plan, e.graph(), &[]);
    assert_eq!(refused.len(), 1, "only the component holding data is refused: {refused:?}");
    let r = &refused[0];
    assert_eq!((r.id.as_str(), r.action), ("db", Action::Replace));
    assert_eq!(r.reason, "an attribute that forces replacement changed: generation", "the planner's reason, naming the key");
    assert_eq!(r.holds, "the rows of db");
    assert_eq!(r.allow_with, format!("{ALLOW_FLAG} db"));
    let msg = r.message();
    assert!(msg.contains("replace") && msg.contains("generation") && msg.contains("the rows of db") && msg.contains("--allow-data-loss db"), "{msg}");

    // Named: allowed. Another id does not allow it.
    assert!(data_loss_refusals(&plan, e.graph(), &["db".to_string()]).is_empty());
    assert_eq!(data_loss_refusals(&plan, e.graph(), &["cache".to_string()]).len(), 1);
    // The check itself ran nothing.
    assert_eq!(*db_calls.lock().unwrap(), 0, "checking a plan makes no call");
    assert_eq!(cloud.lock().unwrap().creates, 2, "nothing re-created");
}

#[tokio::test(start_paused = true)]
async fn updates_creates_and_no_ops_of_data_holders_are_never_refused() {
    use tandem_core::protection::data_loss_refusals;
    let cloud = SharedCloud::default();
    let state = mem_state();
    // Create: nothing to lose yet.
    let e = engine(vec![holding(synth("db", &[], 10, &cloud), "the rows of db")], state.clone());
    let plan = e.plan(&[], None).await.unwrap();
    assert_eq!(plan.action_of("db"), Some(Action::Create));
    assert!(data_loss_refusals(&plan, e.graph(), &[]).is_empty());
    assert!(e.apply(&plan, &RunOptions::default()).await.success());
    // An in-place update: allowed.
    let mut db = holding(synth("db", &[], 10, &cloud), "the rows of db");
    db.version = 2;
    let e = engine(vec![db], state.clone());
    let plan = e.plan(&[], None).await.unwrap();
    assert_eq!(plan.action_of("db"), Some(Action::Update));
    assert!(data_loss_refusals(&plan, e.graph(), &[]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn deleting_an_unwanted_data_holder_is_refused_and_destroy_plans_are_not_checked_by_apply() {
    use tandem_core::protection::data_loss_refusals;
    struct Unwanted(Synth);
    #[async_trait::async_trait]
    impl Component for Unwanted {
        fn id(&self) -> &str { self.0.id() }
        fn kind(&self) -> &'static str { self.0.kind() }
        fn placement(&self) -> Placement { self.0.placement() }
        fn region(&self) -> &str { self.0.region() }
        fn dependencies(&self) -> Vec<String> { self.0.dependencies() }
        fn output_type(&self) -> OutputType { self.0.output_type() }
        fn expected_duration(&self) -> Duration { self.0.expected_duration() }
        fn desired(&self) -> Desired { self.0.desired() }
        fn wanted(&self) -> bool { false }
        fn holds_data(&self) -> Option<String> { self.0.holds_data() }
        async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> { self.0.apply(ctx).await }
        async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> { self.0.destroy(ctx).await }
        async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> { self.0.read(ctx).await }
    }
    let cloud = SharedCloud::default();
    let state = mem_state();
    applied_stack(&cloud, &state).await;
    let db: Arc<dyn Component> = Arc::new(Unwanted(holding(synth("db", &[], 10, &cloud), "the rows of db")));
    let e = Engine::new(vec![db, Arc::new(synth("cache", &[], 10, &cloud))], state.clone()).unwrap();
    let plan = e.plan(&[], None).await.unwrap();
    assert_eq!(plan.action_of("db"), Some(Action::Delete));
    let refused = data_loss_refusals(&plan, e.graph(), &[]);
    assert_eq!(refused.iter().map(|r| (r.id.as_str(), r.action)).collect::<Vec<_>>(), vec![("db", Action::Delete)]);
    assert_eq!(refused[0].reason, "no longer configured");
    assert!(refused[0].message().starts_with("refusing to delete db"), "{}", refused[0].message());
}

#[tokio::test(start_paused = true)]
async fn allow_data_loss_accepts_only_ids_of_components_that_hold_data() {
    use tandem_core::protection::{data_holders, unknown_allowed};
    let cloud = SharedCloud::default();
    let e = engine(
        vec![holding(synth("db", &[], 10, &cloud), "rows"), synth("cache", &[], 10, &cloud), holding(synth("bucket", &["db"], 10, &cloud), "objects")],
        mem_state(),
    );
    assert_eq!(data_holders(e.graph()), vec!["db".to_string(), "bucket".to_string()]);
    let given = ["db", "cache", "dbb"].map(String::from);
    assert_eq!(unknown_allowed(e.graph(), &given), vec!["cache".to_string(), "dbb".to_string()]);
    assert!(unknown_allowed(e.graph(), &given[..1]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn destroy_data_summaries_come_in_plan_order_and_a_failed_count_is_reported_not_fatal() {
    let cloud = SharedCloud::default();
    let state = mem_state();
    let mut db = holding(synth("db", &[], 10, &cloud), "rows");
    db.summary = Some(Ok("42 rows".into()));
    let mut bucket = holding(synth("bucket", &["db"], 10, &cloud), "objects");
    bucket.summary = Some(Err("AccessDenied".into()));
    let mut quiet = holding(synth("quiet", &[], 10, &cloud), "nothing to count");
    quiet.summary = None;
    let mut cache = synth("cache", &[], 10, &cloud);
    cache.summary = Some(Ok("never asked: holds no data".into()));
    let mut east2 = in_region(holding(synth("east2", &[], 10, &cloud), "rows"), "us-east-2");
    east2.summary = Some(Ok("never asked: region down".into()));
    let e = engine(vec![db, bucket, quiet, cache, east2], state.clone());
    assert!(apply_all(&e, &RunOptions::default()).await.success());
    let plan = e.plan_destroy(&[]).unwrap();
    let down = std::collections::BTreeSet::from(["us-east-2".to_string()]);
    let s = e.data_summaries(&plan, Duration::from_secs(30), &down).await;
    let ids: Vec<&str> = s.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, vec!["bucket", "db"], "destroy order (dependents first), only data holders with something to say");
    assert_eq!(s[1].1, Ok("42 rows".to_string()));
    assert!(s[0].1.as_ref().is_err_and(|e| e.contains("AccessDenied")), "{:?}", s[0].1);
    // Nothing was deleted by counting.
    assert_eq!(cloud.lock().unwrap().deletes, 0);
}
