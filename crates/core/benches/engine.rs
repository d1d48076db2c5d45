//! Engine benchmark (`cargo bench -p tandem-core --bench engine`), printing:
//! 1. plan time and peak memory for a 10,000-component synthetic graph (all in state, so the
//!    planner hashes and compares every component);
//! 2. executor makespan / critical-path length for a synthetic graph with per-component
//!    durations (real sleeps), with --parallelism 10 and unbounded.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tandem_core::state::{ComponentState, ComponentStatus, MemoryBackend, StateDoc, StateHandle};
use tandem_core::{Component, ComponentError, Ctx, Desired, Drift, Engine, OutputType, Outputs, Placement, RunOptions};

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct BenchOutputs {
    id: String,
}

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

struct Node {
    id: String,
    deps: Vec<String>,
    dur: Duration,
}

#[async_trait::async_trait]
impl Component for Node {
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
        "us-east-1"
    }
    fn dependencies(&self) -> Vec<String> {
        self.deps.clone()
    }
    fn output_type(&self) -> OutputType {
        OutputType::of::<BenchOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        self.dur
    }
    fn desired(&self) -> Desired {
        Desired::new(json!({"name": self.id, "cidr": "10.0.0.0/16"}), json!({"size": 3, "tags": {"tandem:stack": "bench"}}))
    }
    async fn apply(&self, _ctx: &Ctx) -> Result<Outputs, ComponentError> {
        tokio::time::sleep(self.dur).await;
        Ok(BTreeMap::from([("id".to_string(), json!(self.id))]))
    }
    async fn destroy(&self, _ctx: &Ctx) -> Result<(), ComponentError> {
        Ok(())
    }
    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        Ok(Drift::InSync)
    }
}

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn graph(n: usize, max_deps: u64, durs: (u64, u64), seed: u64) -> Vec<Node> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let k = if i == 0 { 0 } else { rng.below(max_deps + 1) };
            let mut deps: Vec<String> = (0..k).map(|_| format!("c{}", rng.below(i as u64))).collect();
            deps.sort();
            deps.dedup();
            Node { id: format!("c{i}"), deps, dur: Duration::from_millis(durs.0 + rng.below(durs.1 - durs.0 + 1)) }
        })
        .collect()
}

fn critical_path(nodes: &[Node]) -> Duration {
    let index: BTreeMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut finish = vec![Duration::ZERO; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let start = n.deps.iter().map(|d| finish[index[d.as_str()]]).max().unwrap_or(Duration::ZERO);
        finish[i] = start + n.dur;
    }
    finish.into_iter().max().unwrap_or(Duration::ZERO)
}

fn to_components(nodes: Vec<Node>) -> Vec<Arc<dyn Component>> {
    nodes.into_iter().map(|n| Arc::new(n) as Arc<dyn Component>).collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");

    // 1. Plan of 10,000 components, all recorded in state with matching hashes.
    let nodes = graph(10_000, 3, (1, 5), 42);
    let mut doc = StateDoc::new("bench");
    for n in &nodes {
        let d = n.desired();
        let mut s = ComponentState::new("synthetic", Placement::Primary, "us-east-1");
        s.status = ComponentStatus::Applied;
        s.replace_hash = tandem_core::planner::stable_hash(&d.replace_on);
        s.update_hash = tandem_core::planner::stable_hash(&d.update_on);
        s.outputs.insert("id".into(), json!(n.id));
        doc.insert_component(&n.id, s);
    }
    let components = to_components(nodes);
    let state = StateHandle::new(doc, Arc::new(MemoryBackend::default()));
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let t = Instant::now();
    let engine = Engine::new(components, state).expect("graph");
    let plan = rt.block_on(engine.plan(&[], None)).expect("plan");
    let elapsed = t.elapsed();
    let peak = PEAK.load(Ordering::SeqCst) - base;
    assert_eq!(plan.changes.len(), 10_000);
    println!("plan: 10000 components (graph build + plan): {:.1} ms, peak memory {:.1} MB above baseline (goal < 100 ms, < 50 MB); {} changes",
        elapsed.as_secs_f64() * 1000.0, peak as f64 / 1e6, plan.changes.iter().filter(|c| c.action.is_change()).count());
    drop(engine);

    // 2. Makespan vs critical path.
    for (label, parallelism) in [("unbounded", None), ("--parallelism 10", Some(10))] {
        let nodes = graph(300, 3, (20, 200), 7);
        let cp = critical_path(&nodes);
        let total: Duration = nodes.iter().map(|n| n.dur).sum();
        let shape: Vec<(String, Vec<String>, Duration)> = nodes.iter().map(|n| (n.id.clone(), n.deps.clone(), n.dur)).collect();
        let engine = Engine::new(to_components(nodes), StateHandle::in_memory()).expect("graph");
        let report = rt.block_on(async {
            let plan = engine.plan(&[], None).await.expect("plan");
            engine.apply(&plan, &RunOptions { parallelism, ..Default::default() }).await
        });
        assert!(report.success());
        let lower = cp.max(if let Some(p) = parallelism { total / p as u32 } else { Duration::ZERO });
        println!(
            "executor {label}: 300 components, critical path {:.3} s, sum of durations {:.1} s, makespan {:.3} s, makespan / critical path = {:.3} (lower bound max(cp, sum/p) gives {:.3})",
            cp.as_secs_f64(),
            total.as_secs_f64(),
            report.wall.as_secs_f64(),
            report.wall.as_secs_f64() / cp.as_secs_f64(),
            report.wall.as_secs_f64() / lower.as_secs_f64(),
        );
        if parallelism.is_none() {
            overhead(&shape, &report);
        }
    }
}

/// Where the unbounded run loses time against the critical path: per component, the delay
/// from its last dependency's end to its own start (scheduling), and its run time beyond
/// its own sleep (state journal writes before and after, timer granularity).
fn overhead(shape: &[(String, Vec<String>, Duration)], report: &tandem_core::Report) {
    let at: BTreeMap<&str, (Duration, Duration)> = report
        .outcomes
        .iter()
        .filter_map(|o| Some((o.id.as_str(), (o.started_at?, o.ended_at?))))
        .collect();
    let (mut start_delay, mut overrun) = (Vec::new(), Vec::new());
    for (id, deps, dur) in shape {
        let Some(&(started, ended)) = at.get(id.as_str()) else { continue };
        let ready = deps.iter().filter_map(|d| at.get(d.as_str()).map(|x| x.1)).max().unwrap_or(Duration::ZERO);
        start_delay.push(started.saturating_sub(ready));
        overrun.push((ended - started).saturating_sub(*dur));
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() * 1000.0 / v.len().max(1) as f64;
    let max = |v: &[Duration]| v.iter().max().copied().unwrap_or_default().as_secs_f64() * 1000.0;
    println!(
        "  per component: start after last dependency ended {:.2} ms mean ({:.2} max); run beyond its own duration {:.2} ms mean ({:.2} max)",
        mean(&start_delay),
        max(&start_delay),
        mean(&overrun),
        max(&overrun)
    );
}
