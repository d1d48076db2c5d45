//! `tandem status`: the live state of both regions, built to answer during a regional
//! outage (DR.md, "The CLI during an outage").
//!
//! 1. Every region the stack uses is probed at once (one cheap CloudWatch read each, with
//!    the outage-proof call profile). A region that does not answer is reported ONCE as
//!    unreachable: its components are not read (no per-component error), and the global
//!    control planes it hosts are named.
//! 2. The components of the regions that answered are read (drift) concurrently, under one
//!    deadline; a read that fails for want of an answer from some region adds that region
//!    to the unreachable ones instead of printing its own error.
//! 3. At the same time, the live part: Route 53 health-check status, replication lag
//!    (CloudWatch) and the Aurora global writer, each read only from reachable regions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use serde::Serialize;
use tandem_core::aws::{global_control_planes, is_unreachable, AwsContext, ROUTE53_REGION};
use tandem_core::config::Config;
use tandem_core::contracts::{failover_alarms, failover_flags, ids, AuroraOutputs, BucketOutputs, HealthOutputs, TableOutputs};
use tandem_core::state::StateDoc;
use tandem_core::{from_outputs, Action, AwsError, Component, ComponentError, Ctx, Drift, Placement};
use tandem_data::aurora::{global_cluster_id, RdsApi};
use tandem_data::aurora_failover::arn_region;

use crate::render::DriftMap;

/// How long the component reads of `status` may take in all.
pub const READ_DEADLINE: Duration = Duration::from_secs(30);
/// How long one region probe may take (above the SDK's own operation timeout).
pub const PROBE_LIMIT: Duration = Duration::from_secs(15);
/// Components read at once.
const READ_PARALLELISM: usize = 16;

#[derive(Debug, Serialize)]
pub struct Health {
    pub region: String,
    pub check: String,
    pub health_check_id: String,
    /// Share of Route 53 checkers reporting healthy, or an error.
    pub status: String,
    pub healthy: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Lag {
    pub what: String,
    pub region: String,
    pub metric: String,
    /// Latest average over the last 15 minutes, or None when there is no datapoint yet.
    pub value: Option<f64>,
    pub unit: String,
}

/// The Aurora global database's writer, as the reachable regions see it.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Writer {
    pub global_cluster: String,
    /// The writer's cluster ARN (None: no writer, e.g. during a failover).
    pub writer: Option<String>,
    /// The writer's role in the stack: "primary" / "secondary" (by region).
    pub role: Option<String>,
    /// `FailoverState` while a failover or switchover runs.
    pub failover_state: Option<String>,
    /// The region it was read through.
    pub read_through: String,
}

/// The failover controller's state, read in the secondary region (DR.md, "The failover
/// controller"): its alarms, the operator's forced flag, and whether it may act alone.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Controller {
    pub region: String,
    /// (what, alarm name, state: OK / ALARM / INSUFFICIENT_DATA, or None when not found).
    pub alarms: Vec<(String, String, Option<String>)>,
    /// The forced flag (`tandem failover` sets it): Some(true) set, Some(false) absent, None
    /// when it could not be read.
    pub forced: Option<bool>,
    /// `[failover] automatic`.
    pub automatic: bool,
}

#[derive(Debug, Serialize, Default)]
pub struct Live {
    pub health: Vec<Health>,
    pub replication: Vec<Lag>,
    pub writer: Option<Writer>,
    pub controller: Option<Controller>,
    /// What could not be read, per region that did not answer (e.g. "Route 53 health-check
    /// status (4 checks)").
    #[serde(skip)]
    pub not_read: BTreeMap<String, Vec<String>>,
}

/// A region that did not answer: reported once, with what could not be checked.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Unreachable {
    pub region: String,
    /// The first failure seen (dispatch failure, timeout).
    pub reason: String,
    /// The components of this region that could not be checked.
    pub components: Vec<String>,
    /// Live readings that could not be made (health checks, metrics, ...).
    pub not_read: Vec<String>,
    /// The global control planes hosted there, unavailable while it is down.
    pub control_planes: Vec<&'static str>,
}

/// Everything `status` found.
#[derive(Debug, Default)]
pub struct Report {
    pub drift: DriftMap,
    pub unreachable: Vec<Unreachable>,
    pub live: Live,
    pub elapsed: Duration,
}

/// One cheap regional call: it answers, or the region is unreachable.
#[async_trait]
pub trait RegionProbe: Send + Sync {
    async fn probe(&self, region: &str) -> Result<(), AwsError>;
}

/// The probe `status` and `failover` use: CloudWatch `DescribeAlarms` (one record) in the
/// region, with the context's (outage-proof) timeouts.
pub struct CloudWatchProbe {
    clients: BTreeMap<String, aws_sdk_cloudwatch::Client>,
}

impl CloudWatchProbe {
    pub fn new<'a>(aws: &AwsContext, regions: impl IntoIterator<Item = &'a str>) -> Self {
        let clients = regions.into_iter().map(|r| (r.to_string(), aws_sdk_cloudwatch::Client::new(&aws.config(r)))).collect();
        Self { clients }
    }
}

#[async_trait]
impl RegionProbe for CloudWatchProbe {
    async fn probe(&self, region: &str) -> Result<(), AwsError> {
        let Some(cw) = self.clients.get(region) else {
            return Err(AwsError::other("NoClient", format!("no probe client for {region}")));
        };
        cw.describe_alarms().max_records(1).send().await.map(|_| ()).map_err(AwsError::from_sdk)
    }
}

/// Probes every region at once; answers the ones that did not answer, with why. A region
/// that answers with an error (access denied, throttling) is reachable.
pub async fn probe_regions(probe: Arc<dyn RegionProbe>, regions: &BTreeSet<String>, limit: Duration) -> BTreeMap<String, String> {
    let checks = regions.iter().map(|r| {
        let probe = probe.clone();
        async move {
            match tokio::time::timeout(limit, probe.probe(r)).await {
                Err(_) => Some((r.clone(), format!("no answer within {} s", limit.as_secs()))),
                Ok(Err(e)) if is_unreachable(&e) => Some((r.clone(), e.to_string())),
                Ok(_) => None,
            }
        }
    });
    futures::future::join_all(checks).await.into_iter().flatten().collect()
}

/// The outcome of reading one component.
#[derive(Debug)]
pub enum ReadOutcome {
    /// Read (drift), or failed with an answer from AWS.
    Read(Result<Drift, String>),
    /// Not read: its region did not answer the probe.
    Skipped,
    /// The read got no answer from `region`.
    NoAnswer { region: String, reason: String },
    /// The read did not finish before the deadline.
    TimedOut,
}

/// The region that did not answer, when that is why a read failed.
pub fn unreachable_region(e: &ComponentError) -> Option<(String, String)> {
    match e {
        ComponentError::Aws { region, source, .. } if is_unreachable(source) => Some((region.clone(), source.to_string())),
        _ => None,
    }
}

/// Reads every component recorded in state whose region answered, concurrently, all under
/// `deadline`.
pub async fn read_components(components: &[Arc<dyn Component>], doc: &StateDoc, skip: &BTreeMap<String, String>, deadline: Duration) -> BTreeMap<String, ReadOutcome> {
    let sem = Arc::new(tokio::sync::Semaphore::new(READ_PARALLELISM));
    let until = tokio::time::Instant::now() + deadline;
    let reads = components.iter().filter_map(|c| {
        let prior = doc.components.get(c.id())?;
        let c = c.clone();
        let prior = tandem_core::state::ComponentState::clone(prior);
        let sem = sem.clone();
        let skipped = skip.contains_key(c.region());
        Some(async move {
            let id = c.id().to_string();
            if skipped {
                return (id, ReadOutcome::Skipped);
            }
            let read = async {
                let _permit = sem.acquire_owned().await;
                let ctx = Ctx::standalone(c.id(), c.region()).with_prior(prior).with_action(Action::NoOp);
                c.read(&ctx).await
            };
            let outcome = match tokio::time::timeout_at(until, read).await {
                Err(_) => ReadOutcome::TimedOut,
                Ok(Ok(d)) => ReadOutcome::Read(Ok(d)),
                Ok(Err(e)) => match unreachable_region(&e) {
                    Some((region, reason)) => ReadOutcome::NoAnswer { region, reason },
                    None => ReadOutcome::Read(Err(e.to_string())),
                },
            };
            (id, outcome)
        })
    });
    futures::future::join_all(reads).await.into_iter().collect()
}

/// Sorts the reads into the drift of what was checked and one entry per region that did not
/// answer (`probed`: the regions the probe found unreachable, with why; `regions`: each
/// component's region).
pub fn sort_out(reads: BTreeMap<String, ReadOutcome>, regions: &BTreeMap<String, String>, probed: &BTreeMap<String, String>, deadline: Duration) -> (DriftMap, Vec<Unreachable>) {
    let mut drift = DriftMap::new();
    let mut down: BTreeMap<String, Unreachable> = probed
        .iter()
        .map(|(r, why)| {
            (r.clone(), Unreachable { region: r.clone(), reason: why.clone(), components: Vec::new(), not_read: Vec::new(), control_planes: global_control_planes(r) })
        })
        .collect();
    for (id, outcome) in reads {
        let (region, reason) = match outcome {
            ReadOutcome::Read(r) => {
                drift.insert(id, r);
                continue;
            }
            ReadOutcome::TimedOut => {
                drift.insert(id, Err(format!("not checked: no answer within {} s", deadline.as_secs())));
                continue;
            }
            ReadOutcome::Skipped => (regions.get(&id).cloned().unwrap_or_default(), String::new()),
            ReadOutcome::NoAnswer { region, reason } => (region, reason),
        };
        let entry = down.entry(region.clone()).or_insert_with(|| Unreachable {
            region: region.clone(),
            reason: reason.clone(),
            components: Vec::new(),
            not_read: Vec::new(),
            control_planes: global_control_planes(&region),
        });
        entry.components.push(id);
    }
    (drift, down.into_values().collect())
}

fn outputs<T: serde::de::DeserializeOwned>(doc: &StateDoc, id: &str) -> Option<T> {
    doc.components.get(id).and_then(|c| from_outputs(&c.outputs).ok())
}

/// The regions `status` needs: the stack's two, and every region a component recorded in
/// state lives in (Route 53's and the accelerator's included when deployed).
pub fn regions_to_probe(cfg: &Config, components: &[Arc<dyn Component>], doc: &StateDoc) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = [cfg.primary_region.clone(), cfg.secondary_region.clone()].into();
    for c in components {
        if doc.components.contains_key(c.id()) {
            out.insert(c.region().to_string());
        }
    }
    out
}

/// Reads the live part (health checks, replication lag, Aurora writer) from the regions not
/// in `down`; what cannot be read is listed under its region.
pub async fn live(cfg: &Config, aws: &AwsContext, doc: &StateDoc, down: &BTreeSet<String>) -> Live {
    let ((health, not_read_health), (replication, not_read_lag), writer, controller) =
        tokio::join!(health(aws, cfg, doc, down), replication(aws, cfg, doc, down), writer(aws, cfg, doc, down), controller(aws, cfg, doc, down));
    let mut not_read: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (region, what) in not_read_health.into_iter().chain(not_read_lag) {
        not_read.entry(region).or_default().push(what);
    }
    Live { health, replication, writer, controller, not_read }
}

/// The controller's alarms and forced flag, when it is deployed and its region answers.
async fn controller(aws: &AwsContext, cfg: &Config, doc: &StateDoc, down: &BTreeSet<String>) -> Option<Controller> {
    let region = cfg.secondary_region.clone();
    if !doc.components.contains_key(ids::FAILOVER_ALARMS) || down.contains(&region) {
        return None;
    }
    let s = &cfg.environment_suffix;
    let names = [
        ("decision (primary down)", failover_alarms::decision(s)),
        ("controller blind", failover_alarms::blind(s)),
        ("failed over", failover_alarms::failed_over(s)),
    ];
    let cw = aws_sdk_cloudwatch::Client::new(&aws.config(&region));
    let flags = tandem_data::ssm::client(aws, &region);
    let flag = failover_flags::forced(s);
    let flag_dir = flag.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
    let (alarms, params) = tokio::join!(
        cw.describe_alarms().set_alarm_names(Some(names.iter().map(|(_, n)| n.clone()).collect())).send(),
        flags.get_parameters_by_path(&flag_dir)
    );
    let states: BTreeMap<String, String> = match alarms {
        Ok(out) => out
            .metric_alarms()
            .iter()
            .filter_map(|a| Some((a.alarm_name()?.to_string(), a.state_value()?.as_str().to_string())))
            .collect(),
        Err(e) => {
            tracing::warn!(region = %region, error = %AwsError::from_sdk(e), "cannot read the controller's alarms");
            BTreeMap::new()
        }
    };
    let forced = match params {
        Ok(ps) => Some(ps.iter().any(|p| p.name == flag && p.value == "true")),
        Err(e) => {
            tracing::warn!(region = %region, error = %e, "cannot read the forced flag");
            None
        }
    };
    Some(Controller {
        region,
        alarms: names.into_iter().map(|(what, n)| (what.to_string(), n.clone(), states.get(&n).cloned())).collect(),
        forced,
        automatic: cfg.failover.automatic,
    })
}

async fn health(aws: &AwsContext, cfg: &Config, doc: &StateDoc, down: &BTreeSet<String>) -> (Vec<Health>, Vec<(String, String)>) {
    let mut checks = Vec::new();
    for p in [Placement::Primary, Placement::Secondary] {
        if let Some(h) = outputs::<HealthOutputs>(doc, &ids::health(p)) {
            let region = cfg.region_of(p).to_string();
            checks.push((region.clone(), "api", h.api_check_id));
            checks.push((region, "nlb", h.nlb_check_id));
        }
    }
    if checks.is_empty() {
        return (Vec::new(), Vec::new());
    }
    if down.contains(ROUTE53_REGION) {
        return (Vec::new(), vec![(ROUTE53_REGION.to_string(), format!("Route 53 health-check status ({} checks)", checks.len()))]);
    }
    let r53 = aws_sdk_route53::Client::new(&aws.config(ROUTE53_REGION));
    let reads = checks.into_iter().map(|(region, check, id)| {
        let r53 = r53.clone();
        async move {
            let (status, healthy) = match r53.get_health_check_status().health_check_id(&id).send().await {
                Ok(out) => {
                    let obs = out.health_check_observations();
                    let ok = obs.iter().filter(|o| o.status_report().and_then(|r| r.status()).is_some_and(|s| s.starts_with("Success"))).count();
                    if obs.is_empty() {
                        ("no observations yet".to_string(), None)
                    } else {
                        (format!("{ok}/{} checkers healthy", obs.len()), Some(ok * 2 > obs.len()))
                    }
                }
                Err(e) => (format!("error: {}", AwsError::from_sdk(e)), None),
            };
            Health { region, check: check.into(), health_check_id: id, status, healthy }
        }
    });
    (futures::future::join_all(reads).await, Vec::new())
}

async fn replication(aws: &AwsContext, cfg: &Config, doc: &StateDoc, down: &BTreeSet<String>) -> (Vec<Lag>, Vec<(String, String)>) {
    let secondary = cfg.secondary_region.clone();
    let primary = cfg.primary_region.clone();
    // (what, region, namespace, metric, dimensions, unit)
    type Metric<'a> = (String, String, &'a str, &'a str, Vec<(&'a str, String)>, &'a str);
    let mut metrics: Vec<Metric> = Vec::new();
    if let Some(a) = outputs::<AuroraOutputs>(doc, &ids::aurora(Placement::Secondary)) {
        metrics.push(("aurora".into(), secondary.clone(), "AWS/RDS", "AuroraGlobalDBReplicationLag", vec![("DBClusterIdentifier", a.cluster_id)], "ms"));
    }
    if let Some(t) = outputs::<TableOutputs>(doc, ids::TABLE) {
        metrics.push(("dynamodb".into(), primary.clone(), "AWS/DynamoDB", "ReplicationLatency", vec![("TableName", t.table_name), ("ReceivingRegion", secondary.clone())], "ms"));
    }
    if let (Some(src), Some(dst)) = (outputs::<BucketOutputs>(doc, &ids::bucket(Placement::Primary)), outputs::<BucketOutputs>(doc, &ids::bucket(Placement::Secondary))) {
        if let Some(rule) = src.replication_rule_id.clone() {
            metrics.push((
                "s3".into(),
                primary.clone(),
                "AWS/S3",
                "ReplicationLatency",
                vec![("SourceBucket", src.bucket_name), ("DestinationBucket", dst.bucket_name), ("RuleId", rule)],
                "s",
            ));
        }
    }
    let mut not_read = Vec::new();
    let end = SystemTime::now();
    let start = end - Duration::from_secs(900);
    let mut reads = Vec::new();
    for (what, region, ns, name, dims, unit) in metrics {
        if down.contains(&region) {
            not_read.push((region, format!("{what} replication lag ({name})")));
            continue;
        }
        let cw = aws_sdk_cloudwatch::Client::new(&aws.config(&region));
        reads.push(async move {
            let mut req = cw.get_metric_statistics().namespace(ns).metric_name(name).start_time(start.into()).end_time(end.into()).period(60).statistics(Statistic::Average);
            for (k, v) in dims {
                req = req.dimensions(Dimension::builder().name(k).value(v).build());
            }
            let value = match req.send().await {
                Ok(out) => {
                    let mut dps = out.datapoints().to_vec();
                    dps.sort_by_key(|d| d.timestamp().map(|t| t.secs()));
                    dps.last().and_then(|d| d.average())
                }
                Err(e) => {
                    tracing::warn!(metric = name, region = %region, error = %AwsError::from_sdk(e), "cannot read metric");
                    None
                }
            };
            Lag { what, region, metric: name.into(), value, unit: unit.into() }
        });
    }
    (futures::future::join_all(reads).await, not_read)
}

/// The Aurora global writer, read through the secondary region (else the primary) when the
/// stack has a global database.
async fn writer(aws: &AwsContext, cfg: &Config, doc: &StateDoc, down: &BTreeSet<String>) -> Option<Writer> {
    outputs::<AuroraOutputs>(doc, &ids::aurora(Placement::Primary)).or_else(|| outputs::<AuroraOutputs>(doc, &ids::aurora(Placement::Secondary)))?;
    let (p, s) = tandem_data::aurora::rds_clients(cfg, aws);
    let through = [(s, cfg.secondary_region.as_str()), (p, cfg.primary_region.as_str())].into_iter().find(|(_, r)| !down.contains(*r))?;
    read_writer(cfg, through.0.as_ref(), through.1).await
}

/// The writer of the stack's global cluster through `rds` (of `region`).
pub async fn read_writer(cfg: &Config, rds: &dyn RdsApi, region: &str) -> Option<Writer> {
    let gid = global_cluster_id(&cfg.environment_suffix);
    match rds.describe_global_cluster(&gid).await {
        Ok(Some(g)) => {
            let writer = g.writer().map(str::to_string);
            let role = writer.as_deref().and_then(arn_region).and_then(|r| {
                if r == cfg.primary_region {
                    Some("primary".to_string())
                } else if r == cfg.secondary_region {
                    Some("secondary".to_string())
                } else {
                    None
                }
            });
            Some(Writer { global_cluster: gid, writer, role, failover_state: g.failover.map(|f| f.status), read_through: region.to_string() })
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(global_cluster = %gid, region, error = %e, "cannot read the Aurora global cluster");
            None
        }
    }
}

/// `status`: probe, read, live; see the module documentation.
pub async fn check(cfg: &Config, aws: &AwsContext, components: &[Arc<dyn Component>], doc: &StateDoc) -> Report {
    let started = Instant::now();
    let regions = regions_to_probe(cfg, components, doc);
    let probe: Arc<dyn RegionProbe> = Arc::new(CloudWatchProbe::new(aws, regions.iter().map(String::as_str)));
    let probed = probe_regions(probe, &regions, PROBE_LIMIT).await;
    let down: BTreeSet<String> = probed.keys().cloned().collect();
    let component_regions: BTreeMap<String, String> = components.iter().map(|c| (c.id().to_string(), c.region().to_string())).collect();
    let (reads, mut live) = tokio::join!(
        read_components(components, doc, &probed, READ_DEADLINE),
        async { tokio::time::timeout(READ_DEADLINE, live(cfg, aws, doc, &down)).await.unwrap_or_default() }
    );
    let (drift, mut unreachable) = sort_out(reads, &component_regions, &probed, READ_DEADLINE);
    for u in &mut unreachable {
        if let Some(what) = live.not_read.remove(&u.region) {
            u.not_read = what;
        }
    }
    Report { drift, unreachable, live, elapsed: started.elapsed() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct FakeProbe {
        down: Vec<&'static str>,
        hang: Vec<&'static str>,
        refused: Vec<&'static str>,
        calls: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl RegionProbe for FakeProbe {
        async fn probe(&self, region: &str) -> Result<(), AwsError> {
            self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(region.to_string());
            if self.hang.contains(&region) {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if self.down.contains(&region) {
                return Err(AwsError::new("DispatchFailure", "dispatch failure: io error: connection closed before message completed", None));
            }
            if self.refused.contains(&region) {
                return Err(AwsError::other("AccessDenied", "not allowed"));
            }
            Ok(())
        }
    }

    fn regions(r: &[&str]) -> BTreeSet<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn probes_name_only_the_regions_without_an_answer() {
        let probe = Arc::new(FakeProbe { down: vec!["us-east-1"], hang: vec!["us-west-2"], refused: vec!["eu-west-1"], calls: Mutex::default() });
        let started = tokio::time::Instant::now();
        let down = probe_regions(probe.clone(), &regions(&["us-east-1", "us-east-2", "us-west-2", "eu-west-1"]), PROBE_LIMIT).await;
        assert_eq!(down.keys().cloned().collect::<Vec<_>>(), vec!["us-east-1".to_string(), "us-west-2".to_string()]);
        assert!(down["us-east-1"].contains("DispatchFailure"), "{down:?}");
        assert_eq!(down["us-west-2"], "no answer within 15 s");
        assert!(started.elapsed() <= PROBE_LIMIT + Duration::from_secs(1), "probes run at once, not one after the other");
        assert_eq!(probe.calls.lock().unwrap_or_else(|p| p.into_inner()).len(), 4);
    }

    fn dispatch(region: &str) -> ComponentError {
        ComponentError::aws("table-x", region, AwsError::new("DispatchFailure", "dispatch failure: connection closed", None))
    }

    #[test]
    fn an_unreachable_region_is_one_entry_with_its_components_and_control_planes() {
        let probed = BTreeMap::from([("us-east-1".to_string(), "DispatchFailure: connection closed".to_string())]);
        let mut reads = BTreeMap::new();
        let mut where_ = BTreeMap::new();
        for i in 0..22 {
            reads.insert(format!("primary-{i:02}"), ReadOutcome::Skipped);
            where_.insert(format!("primary-{i:02}"), "us-east-1".to_string());
        }
        reads.insert("network-secondary".into(), ReadOutcome::Read(Ok(Drift::InSync)));
        reads.insert("alarms-secondary".into(), ReadOutcome::Read(Err("AccessDenied: no".into())));
        reads.insert("slow".into(), ReadOutcome::TimedOut);
        let (n, e) = unreachable_region(&dispatch("us-west-2")).expect("a dispatch failure names its region");
        reads.insert("accelerator".into(), ReadOutcome::NoAnswer { region: n, reason: e });
        let (drift, down) = sort_out(reads, &where_, &probed, READ_DEADLINE);
        assert_eq!(down.len(), 2, "{down:?}");
        let east = &down[0];
        assert_eq!(east.region, "us-east-1");
        assert_eq!(east.components.len(), 22);
        assert!(east.reason.contains("DispatchFailure"));
        assert!(east.control_planes.iter().any(|c| c.contains("Route 53")) && east.control_planes.iter().any(|c| c.contains("IAM")));
        let west = &down[1];
        assert_eq!((west.region.as_str(), west.components.clone()), ("us-west-2", vec!["accelerator".to_string()]));
        assert_eq!(west.control_planes, vec!["Global Accelerator control plane"]);
        // What was read stays in the drift; no skipped component appears there.
        assert_eq!(drift.len(), 3);
        assert!(matches!(drift["network-secondary"], Ok(Drift::InSync)));
        assert_eq!(drift["alarms-secondary"], Err("AccessDenied: no".to_string()), "an answer that refuses is an error, not an outage");
        assert_eq!(drift["slow"], Err("not checked: no answer within 30 s".to_string()));
        // Only connectivity failures name a region.
        assert!(unreachable_region(&ComponentError::aws("x", "us-east-1", AwsError::other("AccessDenied", "no"))).is_none());
        assert!(unreachable_region(&ComponentError::invalid("x", "us-east-1", "bad")).is_none());
    }

    /// A component whose read hangs (`None`) or fails with a dispatch failure in its region.
    struct Probe(&'static str, &'static str, Option<()>);

    #[async_trait]
    impl Component for Probe {
        fn id(&self) -> &str {
            self.0
        }
        fn kind(&self) -> &'static str {
            "test"
        }
        fn placement(&self) -> Placement {
            Placement::Primary
        }
        fn region(&self) -> &str {
            self.1
        }
        fn dependencies(&self) -> Vec<String> {
            Vec::new()
        }
        fn output_type(&self) -> tandem_core::OutputType {
            tandem_core::OutputType::of::<tandem_core::contracts::NetworkOutputs>()
        }
        fn expected_duration(&self) -> Duration {
            Duration::from_secs(1)
        }
        fn desired(&self) -> tandem_core::Desired {
            tandem_core::Desired::new(serde_json::json!({}), serde_json::json!({}))
        }
        async fn apply(&self, _ctx: &Ctx) -> Result<tandem_core::Outputs, ComponentError> {
            Err(ComponentError::invalid(self.0, self.1, "not in this test"))
        }
        async fn destroy(&self, _ctx: &Ctx) -> Result<(), ComponentError> {
            Ok(())
        }
        async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
            if self.2.is_none() {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(Drift::InSync);
            }
            Err(dispatch(self.1))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reads_skip_unreachable_regions_and_stop_at_the_deadline() {
        let components: Vec<Arc<dyn Component>> = vec![
            Arc::new(Probe("slow", "us-east-2", None)),
            Arc::new(Probe("table", "us-east-1", Some(()))),
            Arc::new(Probe("dash", "eu-west-1", Some(()))),
            Arc::new(Probe("not-deployed", "us-east-2", Some(()))),
        ];
        let mut doc = StateDoc::new("t1");
        for id in ["slow", "table", "dash"] {
            doc.insert_component(id, tandem_core::state::ComponentState::new("test", Placement::Primary, "r"));
        }
        let skip = BTreeMap::from([("us-east-1".to_string(), "DispatchFailure".to_string())]);
        let started = tokio::time::Instant::now();
        let reads = read_components(&components, &doc, &skip, READ_DEADLINE).await;
        assert!(started.elapsed() <= READ_DEADLINE + Duration::from_secs(1));
        assert_eq!(reads.len(), 3, "components without state are not read: {reads:?}");
        assert!(matches!(reads["table"], ReadOutcome::Skipped));
        assert!(matches!(reads["slow"], ReadOutcome::TimedOut));
        assert!(matches!(&reads["dash"], ReadOutcome::NoAnswer { region, .. } if region == "eu-west-1"));
    }

    #[tokio::test]
    async fn the_writer_and_its_role_come_from_the_global_cluster() {
        use tandem_data::aurora::{FailoverInfo, GlobalClusterInfo, GlobalMember, MockRdsApi};
        let cfg = Config::example("dev");
        let mut rds = MockRdsApi::new();
        rds.expect_describe_global_cluster().withf(|id| id == "aurora-global-dev").returning(|_| {
            Ok(Some(GlobalClusterInfo {
                members: vec![
                    GlobalMember { cluster_arn: "arn:aws:rds:us-east-1:1:cluster:aurora-primary-dev".into(), is_writer: false },
                    GlobalMember { cluster_arn: "arn:aws:rds:us-east-2:1:cluster:aurora-secondary-dev".into(), is_writer: true },
                ],
                failover: Some(FailoverInfo { status: "failing-over".into(), from_cluster_arn: None, to_cluster_arn: None }),
                ..Default::default()
            }))
        });
        let w = read_writer(&cfg, &rds, "us-east-2").await.expect("a writer");
        assert_eq!(w.role.as_deref(), Some("secondary"));
        assert_eq!(w.failover_state.as_deref(), Some("failing-over"));
        assert_eq!(w.read_through, "us-east-2");
    }
}
