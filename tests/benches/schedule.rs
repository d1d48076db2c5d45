//! Full-stack schedule benchmark (`cargo bench -p tandem-tests --bench schedule`).
//!
//! Builds the real stack's graph (`Config::example`: every component of every crate, with
//! its real id, dependencies and `expected_duration`), replaces each component by synthetic
//! work of its expected duration scaled down 1000× (1 s on AWS = 1 ms here), and prints, in
//! one run, the makespan against the critical path of:
//! - Tandem's executor, unbounded and with `--parallelism 10` (real runs: tokio sleeps,
//!   journaled state in memory);
//! - a level-by-level schedule (each level of the graph starts when the previous one has
//!   finished: what a wave-based tool does) and a serial one (computed from the same durations).
//!
//! Goal: ≤ 1.03 × the critical path with `--parallelism 10`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::AwsContext;
use tandem_core::schedule::{critical_path, human, level_by_level, serial, simulate};
use tandem_core::state::StateHandle;
use tandem_core::{Component, ComponentError, Config, Ctx, Desired, Drift, Engine, OutputType, Outputs, Placement, RunOptions};

/// 1 s of expected duration on AWS is this long here.
const SCALE: u32 = 1000;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct NodeOutputs {
    id: String,
}

/// A real component's place in the graph, with synthetic work of its (scaled) duration.
struct Node {
    id: String,
    region: String,
    deps: Vec<String>,
    expected: Duration,
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
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        self.deps.clone()
    }
    fn output_type(&self) -> OutputType {
        OutputType::of::<NodeOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        self.expected / SCALE
    }
    fn desired(&self) -> Desired {
        Desired::new(json!({"id": self.id}), json!({}))
    }
    async fn apply(&self, _ctx: &Ctx) -> Result<Outputs, ComponentError> {
        tokio::time::sleep(self.expected / SCALE).await;
        Ok(BTreeMap::from([("id".to_string(), json!(self.id))]))
    }
    async fn destroy(&self, _ctx: &Ctx) -> Result<(), ComponentError> {
        Ok(())
    }
    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        Ok(Drift::InSync)
    }
}

/// The real stack's components (no AWS call is made: building them only reads the config).
fn real_stack() -> Vec<Arc<dyn Component>> {
    let cfg = Config::example("bench");
    let sdk = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
    let aws = AwsContext::from_base(sdk, false);
    let package = tandem_compute::package::Package::unbuilt();
    let mut out: Vec<Arc<dyn Component>> = Vec::new();
    out.extend(tandem_network::components(&cfg, &aws));
    out.extend(tandem_traffic::components(&cfg, &aws));
    out.extend(tandem_data::components(&cfg, &aws));
    out.extend(tandem_compute::components(&cfg, &aws, &package));
    out.extend(tandem_observability::components(&cfg, &aws));
    out
}

fn nodes() -> Vec<Arc<dyn Component>> {
    real_stack()
        .iter()
        .map(|c| {
            Arc::new(Node { id: c.id().to_string(), region: c.region().to_string(), deps: c.dependencies(), expected: c.expected_duration() })
                as Arc<dyn Component>
        })
        .collect()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let probe = Engine::new(nodes(), StateHandle::in_memory()).expect("the real stack's graph");
    let g = probe.graph();
    let dur = |i: usize| g.component(i).expected_duration();
    let (cp, path) = critical_path(g, true, dur);
    let aws = |d: Duration| human(d * SCALE);
    let names: Vec<String> = path.iter().map(|&i| format!("{} ({})", g.component(i).id(), aws(dur(i)))).collect();
    println!(
        "full stack: {} components; critical path {} on AWS ({:.3} s here, 1/{SCALE} scale): {}",
        g.len(),
        aws(cp),
        cp.as_secs_f64(),
        names.join(" → ")
    );
    println!("{:<34} {:>12} {:>10} {:>22}", "schedule", "makespan", "on AWS", "makespan / crit. path");
    let line = |label: &str, m: Duration| {
        println!("{label:<34} {:>10.3} s {:>10} {:>22.3}", m.as_secs_f64(), aws(m), m.as_secs_f64() / cp.as_secs_f64());
    };
    let mut ratio_p10 = f64::NAN;
    for (label, parallelism) in [("tandem executor, unbounded", None), ("tandem executor, --parallelism 10", Some(10))] {
        let engine = Engine::new(nodes(), StateHandle::in_memory()).expect("graph");
        let report = rt.block_on(async {
            let plan = engine.plan(&[], None).await.expect("plan");
            engine.apply(&plan, &RunOptions { parallelism, ..Default::default() }).await
        });
        assert!(report.success(), "{report:?}");
        line(label, report.wall);
        if parallelism.is_some() {
            ratio_p10 = report.wall.as_secs_f64() / cp.as_secs_f64();
        }
    }
    line("simulated executor, --parallelism 10", simulate(g, true, dur, Some(10)));
    line("level by level (waves)", level_by_level(g, dur));
    line("serial", serial(g, dur));
    println!(
        "goal: --parallelism 10 ≤ 1.03 × critical path: {} ({ratio_p10:.3})",
        if ratio_p10 <= 1.03 { "met" } else { "NOT met" }
    );
}
