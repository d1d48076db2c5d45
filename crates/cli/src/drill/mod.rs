//! `tandem drill`: the game day of DR.md ("The drill"), measured.
//!
//! 1. **preflight** (`preflight`, pure over what `status` read plus the alarms in ALARM):
//!    nothing unreachable, every component in sync, the PRIMARY and SECONDARY records' API
//!    checks healthy, replication lag within bounds, the writer in the primary with no
//!    failover running, no forced decision, no alarm of the stack in ALARM. Otherwise the
//!    drill stops before touching anything.
//! 2. **data**: a marker item (with a `ttl` attribute), object and parameter written in the
//!    primary, each timed until visible in the secondary; then removed everywhere (every S3
//!    version, both buckets).
//! 3. **traffic**: the "primary down" decision set through the metric path an outage takes
//!    (drill suppression flag so the handler holds, the forced flag so the probe keeps
//!    reporting it, `PrimaryDown` = 1 backfilled): timed until the PRIMARY record's check's
//!    `HealthCheckStatus` drops, until the zone answers with the secondary, and until a
//!    marker event sent through the global endpoint arrives on the secondary bus. Global
//!    Accelerator separately: the primary NLB endpoint's weight set to 0, timed until
//!    `DEPLOYED` and until new connections land in the secondary. Then everything is put
//!    back, and the way back is timed too.
//! 4. **database** (`--database`): the controller's alarm actions disabled, a planned
//!    switchover to the secondary timed until it is the writer, then back; the controller's
//!    decision exercised in dry-run.
//! 5. the report (`report.rs`).
//!
//! Every change is journaled with its prior value before it is made (`journal.rs`); the way
//! back and `--restore` use the same undo.

pub mod command;
pub mod dns;
pub mod journal;
pub mod report;
pub mod world;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use tandem_core::config::Config;
use tandem_core::contracts::{
    failover_alarms, failover_flags, failover_metrics, ids, AcceleratorOutputs, AuroraOutputs, BucketOutputs, ControllerOutputs, EventBusOutputs,
    EventEndpointOutputs, FailoverOutputs, HealthOutputs, LoadBalancerOutputs, TableOutputs,
};
use tandem_core::state::StateDoc;
use tandem_core::{from_outputs, AwsError, Drift, Placement};
use tokio::time::Instant;

use crate::failover::{decision_data, Datum};
use crate::status;
use journal::{Change, Journal, Store};
use report::{Layer, Outcome, Step};
use world::World;

/// Which layers to drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Only {
    Data,
    Traffic,
    Database,
}

/// How long each wait may take (AWS figures; tests shorten them).
#[derive(Debug, Clone)]
pub struct Timeouts {
    pub item: Duration,
    /// S3 Replication Time Control promises 15 minutes.
    pub object: Duration,
    pub parameter: Duration,
    pub health: Duration,
    pub events: Duration,
    pub accelerator: Duration,
    pub alarm_ok: Duration,
    pub writer: Duration,
    pub poll: Duration,
}

impl Timeouts {
    pub fn aws() -> Self {
        Timeouts {
            item: Duration::from_secs(300),
            object: Duration::from_secs(15 * 60 + 60),
            parameter: Duration::from_secs(300),
            health: Duration::from_secs(600),
            events: Duration::from_secs(600),
            accelerator: Duration::from_secs(900),
            alarm_ok: Duration::from_secs(600),
            writer: Duration::from_secs(30 * 60),
            poll: Duration::from_secs(1),
        }
    }
}

/// Replication lag above which the drill does not start (the stack is not healthy).
pub const LAG_BOUNDS: &[(&str, f64)] = &[("aurora", 1_000.0), ("dynamodb", 60_000.0), ("s3", 900.0)];

/// What the drill needs from the state: the deployed resources' outputs.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub table: Option<TableOutputs>,
    pub buckets: Option<(BucketOutputs, BucketOutputs)>,
    pub parameters_path: Option<String>,
    pub health_primary: Option<HealthOutputs>,
    pub dns: Option<FailoverOutputs>,
    /// The targets the PRIMARY and SECONDARY failover records alias (each API's custom domain
    /// named `dns.record_name`: `d-….execute-api.<region>.amazonaws.com`).
    pub api_targets: Option<(String, String)>,
    pub endpoint: Option<EventEndpointOutputs>,
    pub buses: Option<(EventBusOutputs, EventBusOutputs)>,
    pub accelerator: Option<AcceleratorOutputs>,
    pub nlb_primary: Option<LoadBalancerOutputs>,
    pub aurora: Option<(AuroraOutputs, AuroraOutputs)>,
    pub controller: Option<ControllerOutputs>,
    pub decision_alarm: Option<String>,
}

fn out<T: serde::de::DeserializeOwned>(doc: &StateDoc, id: &str) -> Option<T> {
    doc.components.get(id).and_then(|c| from_outputs(&c.outputs).ok())
}

impl Targets {
    pub fn from_state(doc: &StateDoc) -> Self {
        let both = |p: String, s: String| -> Option<(String, String)> { Some((p, s)) };
        let (pb, sb) = both(ids::bucket(Placement::Primary), ids::bucket(Placement::Secondary)).unwrap_or_default();
        let (pe, se) = (ids::event_bus(Placement::Primary), ids::event_bus(Placement::Secondary));
        let (pa, sa) = (ids::aurora(Placement::Primary), ids::aurora(Placement::Secondary));
        Targets {
            table: out(doc, ids::TABLE),
            buckets: out(doc, &pb).zip(out(doc, &sb)),
            parameters_path: out::<tandem_core::contracts::ParametersOutputs>(doc, ids::PARAMETERS).map(|p| p.path),
            health_primary: out(doc, &ids::health(Placement::Primary)),
            dns: out(doc, ids::DNS_FAILOVER),
            api_targets: out::<tandem_core::contracts::ApiOutputs>(doc, &ids::api(Placement::Primary))
                .and_then(|a| a.failover_regional_domain_name)
                .zip(out::<tandem_core::contracts::ApiOutputs>(doc, &ids::api(Placement::Secondary)).and_then(|a| a.failover_regional_domain_name)),
            endpoint: out(doc, ids::EVENT_ENDPOINT),
            buses: out(doc, &pe).zip(out(doc, &se)),
            accelerator: out(doc, ids::ACCELERATOR),
            nlb_primary: out(doc, &ids::load_balancer(Placement::Primary)),
            aurora: out(doc, &pa).zip(out(doc, &sa)),
            controller: out(doc, ids::CONTROLLER),
            decision_alarm: out::<tandem_core::contracts::DecisionOutputs>(doc, ids::FAILOVER_ALARMS).map(|d| d.decision_alarm_name),
        }
    }
}

fn step(layer: Layer, id: &str, what: impl Into<String>, outcome: Outcome) -> Step {
    Step { layer, id: id.to_string(), what: what.into(), outcome }
}

fn passed(secs: f64) -> Outcome {
    Outcome::Passed { secs: Some(secs) }
}

fn failed(secs: Option<f64>, reason: impl Into<String>) -> Outcome {
    Outcome::Failed { secs, reason: reason.into() }
}

/// The preflight, from what `status` read and the alarms in ALARM per region. Pure.
pub fn preflight(cfg: &Config, doc: &StateDoc, report: &status::Report, in_alarm: &BTreeMap<String, Vec<String>>, custom_endpoint: Option<&str>) -> Vec<Step> {
    let l = Layer::Preflight;
    let mut steps = Vec::new();
    if doc.components.is_empty() {
        steps.push(step(l, "preflight.deployed", "the stack is deployed", failed(None, format!("stack '{}' has nothing in its state: run `tandem apply` first", cfg.environment_suffix))));
        return steps;
    }
    steps.push(step(
        l,
        "preflight.regions",
        "every region answers",
        if report.unreachable.is_empty() {
            Outcome::Passed { secs: None }
        } else {
            let names: Vec<String> = report.unreachable.iter().map(|u| format!("{} ({})", u.region, u.reason)).collect();
            failed(None, format!("unreachable: {}", names.join(", ")))
        },
    ));
    let not_in_sync: Vec<String> = report
        .drift
        .iter()
        .filter_map(|(id, d)| match d {
            Ok(Drift::InSync) => None,
            Ok(Drift::Drifted { details }) | Ok(Drift::Missing { details }) => Some(format!("{id} ({})", details.join("; "))),
            Err(e) => Some(format!("{id} (not read: {e})")),
        })
        .collect();
    steps.push(step(
        l,
        "preflight.sync",
        "every component in sync with its configuration",
        if not_in_sync.is_empty() { Outcome::Passed { secs: None } } else { failed(None, format!("not in sync: {}; run `tandem apply --refresh` first", not_in_sync.join(", "))) },
    ));
    let check = |role: &str| report.live.health.iter().find(|h| h.check == "api" && h.region == cfg.region_of(if role == "primary" { Placement::Primary } else { Placement::Secondary }));
    for role in ["primary", "secondary"] {
        let outcome = match check(role) {
            Some(h) if h.healthy == Some(true) => Outcome::Passed { secs: None },
            Some(h) => failed(None, format!("the {role} API check {} is not healthy: {}", h.health_check_id, h.status)),
            None => failed(None, format!("no {role} API health check in the state")),
        };
        steps.push(step(l, &format!("preflight.health-{role}"), format!("the {role} record's API check is healthy"), outcome));
    }
    let over: Vec<String> = report
        .live
        .replication
        .iter()
        .filter_map(|lag| {
            let bound = LAG_BOUNDS.iter().find(|(w, _)| *w == lag.what)?.1;
            let v = lag.value?;
            (v > bound).then(|| format!("{} {} = {v:.0} {} (bound {bound:.0})", lag.what, lag.metric, lag.unit))
        })
        .collect();
    steps.push(step(
        l,
        "preflight.lag",
        "replication lag within bounds (no datapoint is not a failure)",
        if over.is_empty() { Outcome::Passed { secs: None } } else { failed(None, over.join(", ")) },
    ));
    let writer = match &report.live.writer {
        Some(w) if w.failover_state.is_some() => failed(None, format!("a failover or switchover is running ({})", w.failover_state.as_deref().unwrap_or_default())),
        Some(w) if w.role.as_deref() != Some("primary") => failed(None, format!("the writer is {} (the {}): switch over to the primary first", w.writer.as_deref().unwrap_or("none"), w.role.as_deref().unwrap_or("unknown"))),
        _ => Outcome::Passed { secs: None },
    };
    steps.push(step(l, "preflight.writer", "the Aurora writer is the primary, no failover running", writer));
    if let Some(c) = &report.live.controller {
        if c.forced == Some(true) {
            steps.push(step(
                l,
                "preflight.forced",
                "no forced \"primary down\" decision",
                failed(None, format!("{} is set: the stack is failed over; `tandem switchover --to primary` clears it", failover_flags::forced(&cfg.environment_suffix))),
            ));
        }
    }
    // Alarms of this stack in ALARM. On an endpoint that runs no Lambda the controller's
    // probe never reports, so its blind alarm is in ALARM by construction: said, not fatal.
    let suffix = format!("-{}", cfg.environment_suffix);
    let blind = failover_alarms::blind(&cfg.environment_suffix);
    let mut firing = Vec::new();
    let mut tolerated = Vec::new();
    for (region, names) in in_alarm {
        for n in names.iter().filter(|n| n.ends_with(&suffix)) {
            if *n == blind && custom_endpoint.is_some() {
                tolerated.push(n.clone());
            } else {
                firing.push(format!("{n} ({region})"));
            }
        }
    }
    let what = match (tolerated.is_empty(), custom_endpoint) {
        (false, Some(e)) => format!("no alarm of the stack in ALARM ({} ignored: {e} runs no Lambda, so the probe never reports)", tolerated.join(", ")),
        _ => "no alarm of the stack in ALARM".to_string(),
    };
    steps.push(step(l, "preflight.alarms", what, if firing.is_empty() { Outcome::Passed { secs: None } } else { failed(None, format!("in ALARM: {}", firing.join(", "))) }));
    steps
}

/// Polls `check` every `poll` until it answers true (Some(seconds since `from`)) or `limit`
/// has passed since `from` (None). An error ends the wait with it.
pub async fn wait_until<F, Fut>(from: Instant, limit: Duration, poll: Duration, mut check: F) -> Result<Option<f64>, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, AwsError>>,
{
    let max_polls = (limit.as_millis() / poll.as_millis().max(1)) as u64 + 2;
    for _ in 0..max_polls {
        if check().await? {
            return Ok(Some(from.elapsed().as_secs_f64()));
        }
        if from.elapsed() >= limit {
            return Ok(None);
        }
        tokio::time::sleep(poll).await;
    }
    Ok(None)
}

/// A timed step's outcome from a wait.
fn timed(r: Result<Option<f64>, AwsError>, limit: Duration, what_missing: &str) -> Outcome {
    match r {
        Ok(Some(secs)) => passed(secs),
        Ok(None) => failed(Some(limit.as_secs_f64()), format!("{what_missing} within {} s", limit.as_secs())),
        Err(e) => failed(None, e.to_string()),
    }
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn minute_start(t: SystemTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(epoch(t) / 60 * 60)
}

/// A marker id: unique per drill and attempt.
pub fn marker_id() -> String {
    format!("tandem-drill-{}-{:08x}", tandem_core::state::now(), rand_u32())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(epoch(SystemTime::now()));
    h.write_u32(std::process::id());
    h.finish() as u32
}

/// Undoes one journaled change (idempotent). `t`: the waits of the way back.
pub async fn undo(world: &dyn World, change: &Change, t: &Timeouts) -> Result<String, String> {
    let e = |e: AwsError| e.to_string();
    match change {
        Change::Marker { store, places, key } => {
            let mut said = Vec::new();
            for (region, container) in places {
                match store {
                    Store::Item => world.delete_item(region, container, key).await.map_err(e)?,
                    Store::Object => {
                        let n = world.delete_object_versions(region, container, key).await.map_err(e)?;
                        said.push(format!("{n} version(s) in {container}"));
                    }
                    Store::Parameter => world.delete_parameter(region, key).await.map_err(e)?,
                }
            }
            Ok(if said.is_empty() { format!("removed {key} everywhere") } else { format!("removed {key}: {}", said.join(", ")) })
        }
        Change::Flag { region, name, prior } => {
            match prior {
                Some(v) => world.put_parameter(region, name, v).await.map_err(e)?,
                None => world.delete_parameter(region, name).await.map_err(e)?,
            }
            Ok(format!("{name} in {region} back to {}", prior.as_deref().unwrap_or("absent")))
        }
        Change::Decision { region, stack, alarm, published_at } => {
            // A minute after the last one set to 1 must report 0 so that the N-of-N alarm
            // leaves ALARM (CloudWatch aggregates per minute: a 0 in the same minute as a 1
            // is hidden by Maximum).
            let next = SystemTime::UNIX_EPOCH + Duration::from_secs((published_at / 60 + 1) * 60);
            if let Ok(wait) = next.duration_since(SystemTime::now()) {
                tokio::time::sleep(wait.min(Duration::from_secs(61))).await;
            }
            let datum = Datum { metric: failover_metrics::PRIMARY_DOWN, value: 0.0, at: SystemTime::now() };
            world.put_decision(region, stack, &[datum]).await.map_err(e)?;
            let names = vec![alarm.clone()];
            let from = Instant::now();
            let ok = wait_until(from, t.alarm_ok, t.poll, || async { Ok(world.alarms(region, &names).await?.iter().all(|a| a.state != "ALARM")) }).await.map_err(e)?;
            match ok {
                Some(secs) => Ok(format!("PrimaryDown=0 published in {region}; {alarm} left ALARM after {secs:.1} s")),
                None => Err(format!("PrimaryDown=0 published in {region}, but {alarm} is still in ALARM after {} s", t.alarm_ok.as_secs())),
            }
        }
        Change::Watch { region, bus, name } => {
            world.delete_watch(region, bus, name).await.map_err(e)?;
            Ok(format!("watch {name} on {bus} in {region} removed"))
        }
        Change::Weights { group_arn, prior } => {
            world.set_endpoint_weights(group_arn, prior).await.map_err(e)?;
            Ok(format!("endpoint weights of {group_arn} put back"))
        }
        Change::AlarmActions { region, alarms } => {
            world.set_alarm_actions(region, alarms, true).await.map_err(e)?;
            Ok(format!("alarm actions of {} enabled again", alarms.join(", ")))
        }
        Change::Writer { back_to } => {
            let to = if back_to == "secondary" { Placement::Secondary } else { Placement::Primary };
            // Wait for a running switchover to finish first (a kill can land mid-way).
            let from = Instant::now();
            let cfg_regions = world.regions();
            let idle = wait_until(from, t.writer, t.poll.max(Duration::from_secs(2)), || async {
                for r in &cfg_regions {
                    if let Ok(Some(w)) = world.writer(r).await {
                        return Ok(w.failover_state.is_none());
                    }
                }
                Ok(false)
            })
            .await
            .map_err(e)?;
            if idle.is_none() {
                return Err(format!("the global cluster is still switching after {} s", t.writer.as_secs()));
            }
            let m = world.switch_over(to).await?;
            let moved = m.summary();
            let back = wait_until(Instant::now(), t.writer, t.poll.max(Duration::from_secs(2)), || async {
                for r in &cfg_regions {
                    if let Ok(Some(w)) = world.writer(r).await {
                        return Ok(w.failover_state.is_none() && w.role.as_deref() == Some(back_to.as_str()));
                    }
                }
                Ok(false)
            })
            .await
            .map_err(e)?;
            match back {
                Some(_) => Ok(moved),
                None => Err(format!("{moved}, but the writer is not back in the {back_to} after {} s", t.writer.as_secs())),
            }
        }
    }
}

/// Runs the undo of journal entry `i` and marks it undone; the step reports it.
async fn undo_entry(world: &dyn World, journal: &mut Journal, i: usize, t: &Timeouts, layer: Layer, id: &str) -> Step {
    let Some(entry) = journal.entries.get(i).cloned() else {
        return step(layer, id, "undo", failed(None, "no such journal entry"));
    };
    let started = Instant::now();
    let what = format!("put back: {}", entry.change.describe());
    match undo(world, &entry.change, t).await {
        Ok(done) => match journal.mark_undone(i) {
            Ok(()) => step(layer, id, format!("{what}: {done}"), passed(started.elapsed().as_secs_f64())),
            Err(e) => step(layer, id, what, failed(None, format!("undone, but the journal could not record it: {e}"))),
        },
        Err(e) => step(layer, id, what, failed(Some(started.elapsed().as_secs_f64()), e)),
    }
}

/// `--restore`: undoes every entry the journal still has, last first.
pub async fn restore(world: &dyn World, mut journal: Journal, t: &Timeouts) -> (Vec<Step>, bool) {
    let mut steps = Vec::new();
    for (n, i) in journal.pending().into_iter().enumerate() {
        steps.push(undo_entry(world, &mut journal, i, t, Layer::Restore, &format!("restore.{}", n + 1)).await);
    }
    let complete = journal.pending().is_empty();
    if complete {
        if let Err(e) = journal.finish() {
            steps.push(step(Layer::Restore, "restore.journal", "remove the drill journal", failed(None, e.to_string())));
        }
    }
    (steps, complete)
}

/// One drill run after its preflight passed.
pub struct Drill<'a> {
    pub cfg: &'a Config,
    pub world: &'a dyn World,
    pub targets: Targets,
    pub t: Timeouts,
    pub journal: Journal,
    pub steps: Vec<Step>,
}

impl Drill<'_> {
    fn record(&mut self, change: Change) -> Result<usize, String> {
        self.journal.record(change).map_err(|e| e.to_string())
    }

    async fn put_back(&mut self, i: usize, layer: Layer, id: &str) -> bool {
        let s = undo_entry(self.world, &mut self.journal, i, &self.t, layer, id).await;
        let ok = !s.outcome.failed();
        self.steps.push(s);
        ok
    }

    fn custom(&self) -> Option<String> {
        self.world.custom_endpoint()
    }

    /// Step 2: data markers.
    pub async fn data(&mut self) {
        let l = Layer::Data;
        let (p, s) = (self.cfg.primary_region.clone(), self.cfg.secondary_region.clone());
        let marker = marker_id();
        // DynamoDB.
        match self.targets.table.clone() {
            None => self.steps.push(step(l, "data.dynamodb", "item replicated to the secondary", Outcome::Skipped { why: "no table in the state".into() })),
            Some(t) => {
                let places = vec![(p.clone(), t.table_name.clone()), (s.clone(), t.table_name.clone())];
                match self.record(Change::Marker { store: Store::Item, places, key: marker.clone() }) {
                    Err(e) => self.steps.push(step(l, "data.dynamodb", "journal", failed(None, e))),
                    Ok(i) => {
                        let expires = epoch(SystemTime::now()) as i64 + 3600;
                        let world = self.world;
                        let started = Instant::now();
                        let outcome = match world.put_item(&p, &t.table_name, &marker, expires).await {
                            Err(e) => failed(None, format!("PutItem in {p}: {e}")),
                            Ok(()) => timed(wait_until(started, self.t.item, self.t.poll, || world.item_exists(&s, &t.table_name, &marker)).await, self.t.item, "the item did not reach the secondary"),
                        };
                        self.steps.push(step(l, "data.dynamodb", format!("item {marker} written in {p}, visible in {s}"), outcome));
                        self.put_back(i, l, "data.dynamodb-removed").await;
                    }
                }
            }
        }
        // S3.
        match self.targets.buckets.clone() {
            None => self.steps.push(step(l, "data.s3", "object replicated to the secondary", Outcome::Skipped { why: "no buckets in the state".into() })),
            Some((pb, sb)) => {
                let key = format!("tandem-drill/{marker}");
                let places = vec![(p.clone(), pb.bucket_name.clone()), (s.clone(), sb.bucket_name.clone())];
                match self.record(Change::Marker { store: Store::Object, places, key: key.clone() }) {
                    Err(e) => self.steps.push(step(l, "data.s3", "journal", failed(None, e))),
                    Ok(i) => {
                        let world = self.world;
                        let started = Instant::now();
                        let outcome = match world.put_object(&p, &pb.bucket_name, &key, marker.clone().into_bytes()).await {
                            Err(e) => failed(None, format!("PutObject in {p}: {e}")),
                            Ok(()) => timed(
                                wait_until(started, self.t.object, self.t.poll, || world.object_exists(&s, &sb.bucket_name, &key)).await,
                                self.t.object,
                                "the object did not reach the secondary bucket",
                            ),
                        };
                        self.steps.push(step(l, "data.s3", format!("object {key} written to {}, visible in {}", pb.bucket_name, sb.bucket_name), outcome));
                        self.put_back(i, l, "data.s3-removed").await;
                    }
                }
            }
        }
        // SSM: copied by the replicator Lambda.
        match (self.targets.parameters_path.clone(), self.custom()) {
            (None, _) => self.steps.push(step(l, "data.ssm", "parameter replicated to the secondary", Outcome::Skipped { why: "no parameters in the state".into() })),
            (Some(_), Some(endpoint)) => self.steps.push(step(
                l,
                "data.ssm",
                "parameter replicated to the secondary",
                Outcome::NotMeasurable { why: format!("{endpoint} runs no Lambda, and parameters reach the secondary through the replicator function") },
            )),
            (Some(path), None) => {
                let name = format!("{}/drill/{marker}", path.trim_end_matches('/'));
                let places = vec![(p.clone(), String::new()), (s.clone(), String::new())];
                match self.record(Change::Marker { store: Store::Parameter, places, key: name.clone() }) {
                    Err(e) => self.steps.push(step(l, "data.ssm", "journal", failed(None, e))),
                    Ok(i) => {
                        let world = self.world;
                        let started = Instant::now();
                        let outcome = match world.put_parameter(&p, &name, &marker).await {
                            Err(e) => failed(None, format!("PutParameter in {p}: {e}")),
                            Ok(()) => timed(
                                wait_until(started, self.t.parameter, self.t.poll, || async { Ok(world.get_parameter(&s, &name).await?.is_some()) }).await,
                                self.t.parameter,
                                "the parameter did not reach the secondary",
                            ),
                        };
                        self.steps.push(step(l, "data.ssm", format!("parameter {name} written in {p}, visible in {s}"), outcome));
                        self.put_back(i, l, "data.ssm-removed").await;
                    }
                }
            }
        }
    }

    /// Sends marker events through the global endpoint until one reaches the watch in
    /// `region` (a new marker each attempt: events sent before the switch go elsewhere).
    async fn event_lands(&self, endpoint_id: &str, bus: &str, watch: &str, region: &str, from: Instant) -> Result<Option<f64>, AwsError> {
        let world = self.world;
        let sent = std::sync::Mutex::new(Vec::<String>::new());
        let poll = self.t.poll.max(Duration::from_secs(1));
        wait_until(from, self.t.events, poll, || async {
            let m = marker_id() + &format!("-{}", sent.lock().map(|s| s.len()).unwrap_or(0));
            world.send_event(endpoint_id, bus, &m).await.map_err(|e| AwsError::other(&e.code, format!("PutEvents through {endpoint_id}: {e}")))?;
            let markers: Vec<String> = {
                let mut s = sent.lock().unwrap_or_else(|p| p.into_inner());
                s.push(m);
                s.clone()
            };
            for m in markers.iter().rev() {
                if world.watch_seen(region, watch, m).await.map_err(|e| AwsError::other(&e.code, format!("FilterLogEvents in {region}: {e}")))? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
    }

    /// `HealthCheckStatus` of `check` reaches `healthy` in a minute that starts at or after
    /// `since`'s minute (drop: Minimum 0; back: Maximum 1).
    async fn health_turns(&self, check: &str, since: SystemTime, healthy: bool, from: Instant) -> Result<Option<f64>, AwsError> {
        let world = self.world;
        let floor = minute_start(since);
        wait_until(from, self.t.health, self.t.poll.max(Duration::from_secs(1)), || async {
            let minutes = world.health_status(check, since).await?;
            Ok(minutes.iter().any(|m| m.at >= floor && if healthy { m.maximum >= 1.0 } else { m.minimum < 1.0 }))
        })
        .await
    }

    /// Until the zone's authoritative name servers answer the failover name with the
    /// secondary's (or, `to_secondary` false, the primary's) API addresses only.
    async fn dns_answers(&self, to_secondary: bool, from: Instant) -> Outcome {
        let (dns, targets) = match (&self.targets.dns, &self.targets.api_targets, self.custom()) {
            (None, _, _) => return Outcome::Skipped { why: "no hosted zone configured ([dns] hosted_zone_id)".into() },
            (Some(_), _, Some(e)) => return Outcome::NotMeasurable { why: format!("{e} serves no DNS: the zone's authoritative name servers are AWS's") },
            (Some(_), None, None) => return Outcome::Skipped { why: "no regional custom domains (api.primary_domain / secondary_domain) to tell the answers apart".into() },
            (Some(d), Some(t), None) => (d.clone(), t.clone()),
        };
        let world = self.world;
        let servers = match world.zone_name_servers(&dns.hosted_zone_id).await {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => return failed(None, format!("the zone {} names no name servers", dns.hosted_zone_id)),
            Err(e) => return failed(None, format!("GetHostedZone {}: {e}", dns.hosted_zone_id)),
        };
        let (want, other) = if to_secondary { (targets.1, targets.0) } else { (targets.0, targets.1) };
        let last = std::sync::Mutex::new(String::new());
        let r = wait_until(from, self.t.health, self.t.poll.max(Duration::from_secs(2)), || async {
            // Fresh each time: the regional endpoints' addresses rotate.
            let (w, o) = (world.resolve(&want).await?, world.resolve(&other).await?);
            let mut answered = None;
            for ns in &servers {
                match world.authoritative_a(ns, &dns.record_name).await {
                    Ok(a) => {
                        answered = Some(a);
                        break;
                    }
                    Err(e) => {
                        if let Ok(mut l) = last.lock() {
                            *l = e.to_string();
                        }
                    }
                }
            }
            let Some(a) = answered else { return Ok(false) };
            if let Ok(mut l) = last.lock() {
                *l = format!("answer {a:?}");
            }
            Ok(!a.is_empty() && a.iter().all(|ip| w.contains(ip)) && !a.iter().any(|ip| o.contains(ip)))
        })
        .await;
        let seen = last.lock().map(|l| l.clone()).unwrap_or_default();
        timed(r, self.t.health, &format!("{} was not answered with {want}'s addresses (last: {seen})", dns.record_name))
    }

    /// Step 3: DNS, events and the accelerator.
    pub async fn traffic(&mut self) {
        let l = Layer::Traffic;
        let cfg = self.cfg;
        let suffix = cfg.environment_suffix.clone();
        let (p, s) = (cfg.primary_region.clone(), cfg.secondary_region.clone());
        let (Some(health), Some(alarm)) = (self.targets.health_primary.clone(), self.targets.decision_alarm.clone()) else {
            self.steps.push(step(l, "traffic.decision", "the \"primary down\" decision", Outcome::Skipped { why: "the stack has no decision path (health-primary / failover-alarms not in the state)".into() }));
            self.accelerator().await;
            return;
        };
        let routing_check = health.routing_check_id().to_string();
        // Watches on both buses first, so the very first events are seen.
        let watch = format!("tandem-drill-{suffix}");
        let mut watches = Vec::new();
        if let (Some(_), Some((pb, sb))) = (&self.targets.endpoint, self.targets.buses.clone()) {
            for (region, bus) in [(p.clone(), pb.bus_name.clone()), (s.clone(), sb.bus_name.clone())] {
                match self.record(Change::Watch { region: region.clone(), bus: bus.clone(), name: watch.clone() }) {
                    Ok(i) => {
                        if let Err(e) = self.world.create_watch(&region, &bus, &watch).await {
                            self.steps.push(step(l, "traffic.events", "event watch", failed(None, format!("cannot watch {bus} in {region}: {e}"))));
                        }
                        watches.push(i);
                    }
                    Err(e) => self.steps.push(step(l, "traffic.events", "journal", failed(None, e))),
                }
            }
        }
        let endpoint_id = match &self.targets.endpoint {
            Some(ep) => match self.world.endpoint_id(&p, &ep.endpoint_name).await {
                Ok(id) => id,
                Err(e) => {
                    self.steps.push(step(l, "traffic.events", "global endpoint", failed(None, format!("DescribeEndpoint {}: {e}", ep.endpoint_name))));
                    None
                }
            },
            None => None,
        };
        // The decision: handler suppressed, probe forced, PrimaryDown backfilled.
        let flags = [failover_flags::suppressed(&suffix), failover_flags::forced(&suffix)];
        let mut flag_entries = Vec::new();
        let mut decision_entry = None;
        let mut set = Ok(());
        for (n, name) in flags.iter().enumerate() {
            if n == 1 {
                // The decision is journaled between the two flags: undone after the forced
                // flag is gone (so the probe reports 0 again) and before the handler is
                // allowed to act again.
                match self.record(Change::Decision { region: s.clone(), stack: suffix.clone(), alarm: alarm.clone(), published_at: epoch(SystemTime::now()) }) {
                    Ok(i) => decision_entry = Some(i),
                    Err(e) => {
                        set = Err(e);
                        break;
                    }
                }
            }
            let prior = match self.world.get_parameter(&s, name).await {
                Ok(v) => v,
                Err(e) => {
                    set = Err(format!("GetParameter {name} in {s}: {e}"));
                    break;
                }
            };
            match self.record(Change::Flag { region: s.clone(), name: name.clone(), prior }) {
                Ok(i) => flag_entries.push(i),
                Err(e) => {
                    set = Err(e);
                    break;
                }
            }
            if let Err(e) = self.world.put_parameter(&s, name, "true").await {
                set = Err(format!("PutParameter {name} in {s}: {e}"));
                break;
            }
        }
        let decided_at = SystemTime::now();
        let from = Instant::now();
        if set.is_ok() {
            if let Err(e) = self.world.put_decision(&s, &suffix, &decision_data(cfg.failover.probe_failures, decided_at, false)).await {
                set = Err(format!("PutMetricData in {s}: {e}"));
            }
        }
        self.steps.push(step(
            l,
            "traffic.decision",
            format!(
                "\"primary down\" set by hand: {} = true, {} = true, {}=1 for the last {} minute(s) in {s} (no Route 53 call)",
                flags[0], flags[1], failover_metrics::PRIMARY_DOWN, cfg.failover.probe_failures
            ),
            match &set {
                Ok(()) => Outcome::Passed { secs: None },
                Err(e) => failed(None, e.clone()),
            },
        ));
        if set.is_ok() {
            let dns_what = "the zone's name servers answer the failover name with the secondary";
            let dns = self.dns_answers(true, from);
            let events = async {
                match (&endpoint_id, &self.targets.buses) {
                    (Some(id), Some((_, sb))) => timed(self.event_lands(id, &sb.bus_name, &watch, &s, from).await, self.t.events, "no marker event reached the secondary bus"),
                    _ => Outcome::Skipped { why: "no global endpoint or buses in the state".into() },
                }
            };
            let health_drop = async { timed(self.health_turns(&routing_check, decided_at, false, from).await, self.t.health, "HealthCheckStatus did not drop") };
            let (h, d, ev) = tokio::join!(health_drop, dns, events);
            self.steps.push(step(l, "traffic.health", format!("HealthCheckStatus of the PRIMARY record's check {routing_check} drops (us-east-1)"), h));
            self.steps.push(step(l, "traffic.dns", dns_what, d));
            self.steps.push(step(l, "traffic.events", format!("a marker event through the global endpoint lands on {} in {s}", self.targets.buses.as_ref().map(|b| b.1.bus_name.as_str()).unwrap_or("the bus")), ev));
        }
        // The accelerator is separate (target health, not Route 53).
        self.accelerator().await;
        // The way back: forced flag, decision, suppression flag (journal order, reversed).
        let back_from = Instant::now();
        let back_at = SystemTime::now();
        let mut back_ok = true;
        if let Some(&forced) = flag_entries.get(1) {
            back_ok &= self.put_back(forced, Layer::Restore, "traffic.back-forced").await;
        }
        if let Some(i) = decision_entry {
            back_ok &= self.put_back(i, Layer::Restore, "traffic.back-decision").await;
        }
        if let Some(&suppressed) = flag_entries.first() {
            back_ok &= self.put_back(suppressed, Layer::Restore, "traffic.back-suppressed").await;
        }
        if set.is_ok() && back_ok {
            let health_back = async { timed(self.health_turns(&routing_check, back_at, true, back_from).await, self.t.health, "HealthCheckStatus did not come back") };
            let events_back = async {
                match (&endpoint_id, &self.targets.buses) {
                    (Some(id), Some((pb, _))) => timed(self.event_lands(id, &pb.bus_name, &watch, &p, back_from).await, self.t.events, "no marker event reached the primary bus again"),
                    _ => Outcome::Skipped { why: "no global endpoint or buses in the state".into() },
                }
            };
            let (h, ev, d) = tokio::join!(health_back, events_back, self.dns_answers(false, back_from));
            self.steps.push(step(l, "traffic.health-back", format!("HealthCheckStatus of {routing_check} healthy again"), h));
            self.steps.push(step(l, "traffic.dns-back", "the zone's name servers answer the failover name with the primary again", d));
            self.steps.push(step(l, "traffic.events-back", "marker events land on the primary bus again", ev));
        }
        for i in watches.into_iter().rev() {
            self.put_back(i, Layer::Restore, "traffic.watch-removed").await;
        }
    }

    /// Global Accelerator: the primary NLB endpoint's weight to 0 and back.
    async fn accelerator(&mut self) {
        let l = Layer::Accelerator;
        let p = self.cfg.primary_region.clone();
        let (Some(acc), Some(nlb)) = (self.targets.accelerator.clone(), self.targets.nlb_primary.clone()) else {
            self.steps.push(step(l, "accelerator.deployed", "the accelerator drains the primary", Outcome::Skipped { why: "no accelerator in the state".into() }));
            return;
        };
        let Some(group) = acc.endpoint_group_arns.get(&p).cloned() else {
            self.steps.push(step(l, "accelerator.deployed", "the accelerator drains the primary", failed(None, format!("the accelerator has no endpoint group in {p}"))));
            return;
        };
        let prior = match self.world.endpoint_weights(&group).await {
            Ok(w) => w,
            Err(e) => {
                self.steps.push(step(l, "accelerator.deployed", "the accelerator drains the primary", failed(None, format!("DescribeEndpointGroup: {e}"))));
                return;
            }
        };
        if !prior.iter().any(|(id, _)| *id == nlb.nlb_arn) {
            self.steps.push(step(l, "accelerator.deployed", "the accelerator drains the primary", failed(None, format!("the primary NLB {} is not an endpoint of {group}", nlb.nlb_arn))));
            return;
        }
        let i = match self.record(Change::Weights { group_arn: group.clone(), prior: prior.clone() }) {
            Ok(i) => i,
            Err(e) => {
                self.steps.push(step(l, "accelerator.deployed", "journal", failed(None, e)));
                return;
            }
        };
        let drained: Vec<(String, i32)> = prior.iter().map(|(id, w)| (id.clone(), if *id == nlb.nlb_arn { 0 } else { *w })).collect();
        let from = Instant::now();
        let world = self.world;
        let deployed = || async { Ok(world.accelerator_status(&acc.accelerator_arn).await?.as_deref() == Some("DEPLOYED")) };
        let outcome = match world.set_endpoint_weights(&group, &drained).await {
            Err(e) => failed(None, format!("UpdateEndpointGroup: {e}")),
            Ok(()) => timed(wait_until(from, self.t.accelerator, self.t.poll, deployed).await, self.t.accelerator, "the accelerator was not DEPLOYED"),
        };
        let ok = outcome.passed();
        self.steps.push(step(l, "accelerator.deployed", format!("primary NLB endpoint weight 0 in {group}: accelerator DEPLOYED"), outcome));
        let lands = match (ok, self.custom(), &self.targets.dns) {
            (false, _, _) => Outcome::Skipped { why: "the accelerator did not deploy the change".into() },
            (true, Some(e), _) => Outcome::NotMeasurable { why: format!("{e} serves no anycast addresses ({} are documentation addresses)", acc.static_ips.join(", ")) },
            (true, None, None) => Outcome::Skipped { why: "no domain ([dns] record_name): the NLB's certificate names no host to verify /health for".into() },
            (true, None, Some(dns)) => {
                // New connections through the accelerator, TLS verified for the failover
                // name, until /health answers from the secondary.
                let url = format!("https://{}/health", dns.record_name);
                let s = self.cfg.secondary_region.clone();
                let last = std::sync::Mutex::new(String::new());
                let r = wait_until(from, self.t.accelerator, self.t.poll.max(Duration::from_secs(2)), || async {
                    match world.https_get_via(&url, &acc.dns_name).await {
                        Ok((status, body)) => {
                            let region = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v.get("region").and_then(|r| r.as_str()).map(str::to_string));
                            if let Ok(mut l) = last.lock() {
                                *l = format!("HTTP {status} from {}", region.as_deref().unwrap_or("an unnamed region"));
                            }
                            Ok(region.as_deref() == Some(s.as_str()))
                        }
                        Err(e) => {
                            if let Ok(mut l) = last.lock() {
                                *l = e.to_string();
                            }
                            Ok(false)
                        }
                    }
                })
                .await;
                let seen = last.lock().map(|l| l.clone()).unwrap_or_default();
                timed(r, self.t.accelerator, &format!("/health through {} did not answer from {s} (last: {seen})", acc.dns_name))
            }
        };
        self.steps.push(step(l, "accelerator.lands", "new connections through the accelerator land in the secondary (/health names its region)", lands));
        let back = Instant::now();
        if self.put_back(i, Layer::Restore, "accelerator.back-weights").await {
            let outcome = timed(wait_until(back, self.t.accelerator, self.t.poll, deployed).await, self.t.accelerator, "the accelerator was not DEPLOYED");
            self.steps.push(step(l, "accelerator.deployed-back", "weights put back: accelerator DEPLOYED", outcome));
        }
    }

    /// Step 4: the database (only with `--database`).
    pub async fn database(&mut self) {
        let l = Layer::Database;
        let cfg = self.cfg;
        let (p, s) = (cfg.primary_region.clone(), cfg.secondary_region.clone());
        let Some((_, sa)) = self.targets.aurora.clone() else {
            self.steps.push(step(l, "database.writer", "planned switchover", Outcome::Skipped { why: "no Aurora clusters in the state".into() }));
            return;
        };
        // RPO: the replication lag Aurora publishes.
        let lag = match self.world.latest_average(&s, "AWS/RDS", "AuroraGlobalDBReplicationLag", &[("DBClusterIdentifier", sa.cluster_id.clone())]).await {
            Ok(Some(ms)) => passed(ms / 1000.0),
            Ok(None) => Outcome::NotMeasurable { why: format!("no AuroraGlobalDBReplicationLag datapoint for {} in {s} in the last 15 minutes", sa.cluster_id) },
            Err(e) => failed(None, format!("GetMetricStatistics: {e}")),
        };
        self.steps.push(step(l, "database.lag", "replication lag to the secondary cluster (AuroraGlobalDBReplicationLag)", lag));
        // The controller stays out of the way: its alarm actions are disabled while it runs.
        let alarms: Vec<String> = self.targets.decision_alarm.iter().cloned().chain(self.targets.controller.as_ref().map(|_| failover_alarms::failed_over(&cfg.environment_suffix))).collect();
        let mut actions_entry = None;
        if !alarms.is_empty() {
            match self.record(Change::AlarmActions { region: s.clone(), alarms: alarms.clone() }) {
                Ok(i) => match self.world.set_alarm_actions(&s, &alarms, false).await {
                    Ok(()) => {
                        actions_entry = Some(i);
                        self.steps.push(step(l, "database.actions", format!("alarm actions of {} disabled in {s}", alarms.join(", ")), Outcome::Passed { secs: None }));
                    }
                    Err(e) => {
                        self.steps.push(step(l, "database.actions", "disable the controller's alarm actions", failed(None, e.to_string())));
                        self.put_back(i, Layer::Restore, "database.back-actions").await;
                        return;
                    }
                },
                Err(e) => {
                    self.steps.push(step(l, "database.actions", "journal", failed(None, e)));
                    return;
                }
            }
        }
        // The controller's decision in dry-run.
        let dry = match (&self.targets.controller, self.custom()) {
            (None, _) => Outcome::Skipped { why: "no failover controller in the state".into() },
            (Some(_), Some(e)) => Outcome::NotMeasurable { why: format!("{e} runs no Lambda") },
            (Some(c), None) => {
                let started = Instant::now();
                match self.world.controller_dry_run(&s, &c.failover_function_name).await {
                    Ok((label, _)) if label == "fail-over" => failed(None, "the controller would fail over a healthy stack (decision fail-over)"),
                    Ok(_) => passed(started.elapsed().as_secs_f64()),
                    Err(e) => failed(None, format!("Invoke {}: {e}", c.failover_function_name)),
                }
            }
        };
        self.steps.push(step(l, "database.controller", "the failover handler's decision in dry-run holds on a healthy stack", dry));
        // The planned switchover and back.
        let writer_entry = match self.record(Change::Writer { back_to: "primary".into() }) {
            Ok(i) => i,
            Err(e) => {
                self.steps.push(step(l, "database.writer", "journal", failed(None, e)));
                return;
            }
        };
        let from = Instant::now();
        let world = self.world;
        let poll = self.t.poll.max(Duration::from_secs(2));
        let outcome = match world.switch_over(Placement::Secondary).await {
            Err(e) => failed(None, e),
            Ok(_) => timed(
                wait_until(from, self.t.writer, poll, || async {
                    let w = world.writer(&s).await?;
                    Ok(w.is_some_and(|w| w.failover_state.is_none() && w.role.as_deref() == Some("secondary")))
                })
                .await,
                self.t.writer,
                "the secondary cluster did not become the writer",
            ),
        };
        let moved = outcome.passed();
        self.steps.push(step(l, "database.writer", format!("planned switchover: the secondary cluster in {s} is the writer"), outcome));
        self.steps.push(step(
            l,
            "database.endpoint",
            "the global writer endpoint follows the writer",
            match (moved, self.custom()) {
                (false, _) => Outcome::Skipped { why: "the writer did not move".into() },
                (true, Some(e)) => Outcome::NotMeasurable { why: format!("{e} serves no DNS for the global writer endpoint") },
                (true, None) => {
                    // The global writer endpoint resolves to the secondary cluster's endpoint.
                    let (global, cluster) = (sa.global_writer_endpoint.clone(), sa.writer_endpoint.clone());
                    timed(
                        wait_until(from, self.t.writer, poll, || async {
                            let (g, c) = (world.resolve(&global).await?, world.resolve(&cluster).await?);
                            Ok(!g.is_empty() && g.iter().all(|ip| c.contains(ip)))
                        })
                        .await,
                        self.t.writer,
                        "the global writer endpoint did not resolve to the secondary cluster",
                    )
                }
            },
        ));
        let back = Instant::now();
        if self.put_back(writer_entry, Layer::Restore, "database.back-writer").await {
            self.steps.push(step(l, "database.writer-back", format!("switched back: the primary cluster in {p} is the writer"), passed(back.elapsed().as_secs_f64())));
        }
        if let Some(i) = actions_entry {
            self.put_back(i, Layer::Restore, "database.back-actions").await;
        }
    }
}

#[cfg(test)]
mod tests;
