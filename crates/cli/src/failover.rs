//! `tandem failover [--unplanned]` and `tandem switchover --to primary|secondary`
//! (DR.md, "The CLI during an outage").
//!
//! `failover` moves the stack to the secondary region and works with the primary region
//! unreachable: the regions are probed first (outage-proof timeouts), the global cluster is
//! found by name through the secondary region, no lock stored in a region that does not
//! answer is taken, the writer moves (unplanned: `FailoverGlobalCluster` with the secondary
//! cluster's ARN and `AllowDataLoss=true` through the secondary's RDS endpoint; planned: a
//! switchover), and the "primary down" decision is set by hand so DNS and events follow
//! through the health checks, with no Route 53 API call: in the SECONDARY region it sets the
//! SSM flag `/tandem/<suffix>/failover/forced` = `true` (the probe then keeps publishing
//! `PrimaryDown` = 1) and publishes `Tandem/Failover PrimaryDown` = 1 for each of the last
//! `[failover] probe_failures` minutes in one `PutMetricData` (so the decision alarm, N of N
//! one-minute periods, fires at its next evaluation instead of N minutes later), plus
//! `FailedOver` = 1 when the writer moved. It then says what it did, how long it took and
//! what it could not do.
//!
//! `switchover --to` is the planned, no-data-loss move (the fail-back path): both regions
//! must answer and every member be available. `--to primary` clears the forced flag once
//! the writer is back, so the probe reports what it measures again.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use tandem_core::aws::{global_control_planes, GLOBAL_ACCELERATOR_REGION, IAM_CONTROL_PLANE_REGION, ROUTE53_REGION};
use tandem_core::config::Config;
use tandem_core::contracts::{failover_flags, failover_metrics};
use tandem_core::{AwsError, Placement};
use tandem_data::aurora::RdsApi;
use tandem_data::ssm::{ParamKind, Parameter, SsmApi};
use tandem_data::{fail_over_to_secondary, switch_over};

/// PutMetricData accepts at most 1000 datums a call; `probe_failures` is validated to
/// 1..=60, this bounds the backfill whatever the configuration says.
pub const MAX_BACKFILL_MINUTES: u32 = 60;

/// One datapoint of a controller metric (`Tandem/Failover`, `Stack=<suffix>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub metric: &'static str,
    pub value: f64,
    pub at: SystemTime,
}

/// Where the "primary down" decision is set by hand (CloudWatch of the secondary region).
#[async_trait]
pub trait DecisionMetric: Send + Sync {
    /// ONE `PutMetricData` of every datum, namespace `Tandem/Failover`, dimension
    /// `Stack=<stack>`, into the client's region.
    async fn put_decision(&self, stack: &str, data: &[Datum]) -> Result<(), AwsError>;
}

#[async_trait]
impl DecisionMetric for aws_sdk_cloudwatch::Client {
    async fn put_decision(&self, stack: &str, data: &[Datum]) -> Result<(), AwsError> {
        let mut call = self.put_metric_data().namespace(failover_metrics::NAMESPACE);
        for d in data {
            call = call.metric_data(
                MetricDatum::builder()
                    .metric_name(d.metric)
                    .dimensions(Dimension::builder().name(failover_metrics::DIMENSION).value(stack).build())
                    .value(d.value)
                    .unit(StandardUnit::None)
                    .storage_resolution(60)
                    .timestamp(d.at.into())
                    .build(),
            );
        }
        call.send().await.map(|_| ()).map_err(AwsError::from_sdk)
    }
}

/// The datums `failover` publishes: `PrimaryDown` = 1 at now - (N-1) min, …, now - 1 min,
/// now (one per minute, oldest first; N = `[failover] probe_failures`, bounded by
/// [`MAX_BACKFILL_MINUTES`]), so the decision alarm (Maximum >= 1 for N of N one-minute
/// periods) finds N breaching periods at its next evaluation; CloudWatch accepts datapoints
/// up to two weeks old. Then `FailedOver` = 1 at now when the writer moved.
pub fn decision_data(probe_failures: u32, now: SystemTime, writer_moved: bool) -> Vec<Datum> {
    let n = probe_failures.clamp(1, MAX_BACKFILL_MINUTES);
    let mut data: Vec<Datum> = (0..n)
        .rev()
        .map(|minutes_ago| Datum {
            metric: failover_metrics::PRIMARY_DOWN,
            value: 1.0,
            at: now.checked_sub(Duration::from_secs(60 * u64::from(minutes_ago))).unwrap_or(now),
        })
        .collect();
    if writer_moved {
        data.push(Datum { metric: failover_metrics::FAILED_OVER, value: 1.0, at: now });
    }
    data
}

/// Sets the forced flag (`true`, String, Overwrite) through `flags` (the secondary region).
pub async fn set_forced(cfg: &Config, flags: &dyn SsmApi) -> Result<String, AwsError> {
    let name = failover_flags::forced(&cfg.environment_suffix);
    flags.overwrite_parameter(&Parameter::new(name.clone(), ParamKind::String, "true")).await?;
    Ok(name)
}

/// Deletes the forced flag through `flags` (the secondary region): `Ok(false)` when it was
/// not there (already gone is fine).
pub async fn clear_forced(cfg: &Config, flags: &dyn SsmApi) -> Result<bool, AwsError> {
    let name = failover_flags::forced(&cfg.environment_suffix);
    match flags.delete_parameter(&name).await {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// What `failover` does about the state lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockPlan {
    /// Take the stack's lock (local state, or an S3 bucket in a region that answers).
    Take,
    /// The S3 state bucket is in a region that does not answer: go on without the lock.
    Skip { bucket: String, region: String },
}

/// The state bucket's region (S3 backend), if the state lives in S3.
pub fn state_bucket(cfg: &Config) -> Option<(String, String)> {
    match (cfg.state.backend.as_str(), &cfg.state.bucket) {
        ("s3", Some(bucket)) => Some((bucket.clone(), cfg.state.region.clone().unwrap_or_else(|| cfg.primary_region.clone()))),
        _ => None,
    }
}

/// Decides the lock: never one stored in a region that does not answer.
pub fn lock_plan(cfg: &Config, down: &BTreeMap<String, String>) -> LockPlan {
    match state_bucket(cfg) {
        Some((bucket, region)) if down.contains_key(&region) => LockPlan::Skip { bucket, region },
        _ => LockPlan::Take,
    }
}

/// What a failover or switchover did and could not do.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<String>,
    /// What the operator should know about what was done (lost writes, ...).
    pub notes: Vec<String>,
    pub not_done: Vec<String>,
    pub ok: bool,
}

/// What cannot be done while the regions in `down` do not answer (global control planes),
/// as sentences for the operator.
pub fn impossible_while_down(cfg: &Config, down: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for region in down.keys() {
        if global_control_planes(region).is_empty() {
            continue;
        }
        if region == ROUTE53_REGION {
            out.push(format!(
                "Route 53 changes are impossible while {region} is down: no Route 53 API call was made; DNS follows the decision through the health checks (data plane)"
            ));
        }
        if region == IAM_CONTROL_PLANE_REGION {
            out.push(format!("IAM changes (roles, policies) are impossible while {region} is down"));
        }
        if region == GLOBAL_ACCELERATOR_REGION {
            out.push(format!(
                "Global Accelerator changes are impossible while {region} is down; it keeps routing by endpoint health"
            ));
        }
    }
    if down.contains_key(&cfg.primary_region) {
        out.push(format!(
            "{} was not contacted; its cluster rejoins the global database as a secondary by itself once the region recovers (rebuild: minutes to hours)",
            cfg.primary_region
        ));
    }
    out
}

/// `failover`: moves the writer to the secondary (unplanned: data loss allowed; else a
/// planned switchover), then sets the "primary down" decision in the secondary region (the
/// forced flag through `flags`, the backfilled `PrimaryDown` through `decision`, both
/// clients of the secondary region). `down`: the regions that did not answer the probe,
/// with why.
pub async fn fail_over(
    cfg: &Config,
    unplanned: bool,
    down: &BTreeMap<String, String>,
    primary: &dyn RdsApi,
    secondary: &dyn RdsApi,
    decision: &dyn DecisionMetric,
    flags: &dyn SsmApi,
) -> Outcome {
    let mut out = Outcome { ok: true, ..Default::default() };
    let s = cfg.secondary_region.as_str();
    if let Some(why) = down.get(s) {
        out.ok = false;
        out.not_done.push(format!("the secondary region {s} does not answer ({why}); the failover goes through it, so nothing was done"));
        return out;
    }
    let moved = if unplanned { fail_over_to_secondary(cfg, secondary).await } else { switch_over(cfg, primary, secondary, Placement::Secondary).await };
    let writer_moved = match moved {
        Ok(m) => {
            out.done.push(m.summary());
            if unplanned && m.changed {
                out.notes.push(format!(
                    "writes the old primary had not replicated are not in the new writer; Aurora keeps them in the snapshot rds:unplanned-global-failover-{}-… in {}",
                    tandem_data::aurora::cluster_id(Placement::Primary, &cfg.environment_suffix),
                    cfg.primary_region
                ));
            }
            m.changed
        }
        Err(e) => {
            out.ok = false;
            out.not_done.push(format!("the database writer did not move: {e}"));
            if !unplanned && down.contains_key(&cfg.primary_region) {
                out.not_done.push(format!("{} does not answer: use `tandem failover --unplanned`", cfg.primary_region));
            }
            out.not_done.push("the \"primary down\" decision was not set (it follows the database)".into());
            out.not_done.extend(impossible_while_down(cfg, down));
            return out;
        }
    };
    let suffix = &cfg.environment_suffix;
    // (a) The flag first: it keeps the probe publishing PrimaryDown = 1 after the backfill.
    match set_forced(cfg, flags).await {
        Ok(name) => out.done.push(format!(
            "forced flag {name} = true in {s}: the probe reports the primary down until `tandem switchover --to primary` clears it"
        )),
        Err(e) => {
            out.ok = false;
            out.not_done.push(format!(
                "the forced flag {} could not be set in {s} ({e}): the decision lasts only the backfilled minutes; run `tandem failover` again",
                failover_flags::forced(suffix)
            ));
        }
    }
    // (b) PrimaryDown = 1 for the last N minutes: the decision alarm fires at its next evaluation.
    let data = decision_data(cfg.failover.probe_failures, SystemTime::now(), writer_moved);
    let minutes = data.iter().filter(|d| d.metric == failover_metrics::PRIMARY_DOWN).count();
    match decision.put_decision(suffix, &data).await {
        Ok(()) => {
            out.done.push(format!(
                "\"primary down\" decision set: {}=1 for the last {minutes} minute(s) ({}, {}={suffix}) in {s}; DNS and events follow through the health checks",
                failover_metrics::PRIMARY_DOWN,
                failover_metrics::NAMESPACE,
                failover_metrics::DIMENSION,
            ));
            if writer_moved {
                out.done.push(format!("{}=1 published in {s}", failover_metrics::FAILED_OVER));
            }
        }
        Err(e) => {
            out.ok = false;
            out.not_done.push(format!("the \"primary down\" decision could not be set in {s} ({e}); run `tandem failover` again"));
        }
    }
    out.not_done.extend(impossible_while_down(cfg, down));
    out
}

/// `switchover --to <to>` once both regions answer: the planned move, then (to the
/// primary) the forced flag is cleared through `flags` (the secondary region) so the probe
/// reports what it measures again.
pub async fn switch_over_to(cfg: &Config, to: Placement, primary: &dyn RdsApi, secondary: &dyn RdsApi, flags: &dyn SsmApi) -> Outcome {
    let mut out = Outcome { ok: true, ..Default::default() };
    match switch_over(cfg, primary, secondary, to).await {
        Ok(m) => out.done.push(m.summary()),
        Err(e) => {
            out.ok = false;
            out.not_done.push(format!("the database writer did not move: {e}"));
            return out;
        }
    }
    if to != Placement::Primary {
        return out;
    }
    let name = failover_flags::forced(&cfg.environment_suffix);
    let s = &cfg.secondary_region;
    match clear_forced(cfg, flags).await {
        Ok(cleared) => {
            out.done.push(if cleared {
                format!("forced flag {name} deleted in {s}: the probe reports what it measures again")
            } else {
                format!("forced flag {name} was not set in {s}: nothing to clear")
            });
            out.done.push(
                "DNS, the accelerator and events return to the primary on their own once its health checks and probe report it healthy".into(),
            );
        }
        Err(e) => {
            out.ok = false;
            out.not_done.push(format!(
                "the forced flag {name} could not be deleted in {s} ({e}): the probe keeps reporting the primary down, so DNS and events stay in the secondary; run `tandem switchover --to primary` again"
            ));
        }
    }
    out
}

/// The report `failover` / `switchover` print.
/// The state's record of an operation: `command` as typed, when it started, what it did
/// (notes included) and what it could not do.
pub fn record(command: &str, started_at: u64, o: &Outcome) -> tandem_core::state::OperationRecord {
    tandem_core::state::OperationRecord {
        command: command.to_string(),
        started_at,
        ok: o.ok,
        done: o.done.iter().chain(o.notes.iter()).cloned().collect(),
        not_done: o.not_done.clone(),
        recorded_late_at: None,
    }
}

pub fn outcome_text(what: &str, o: &Outcome, elapsed: Duration) -> String {
    let mut out = format!(
        "\n{what} {} in {:.1}s.\n",
        if o.ok { "finished" } else { "FAILED" },
        elapsed.as_secs_f64()
    );
    for d in &o.done {
        out.push_str(&format!("  ✓ {d}\n"));
    }
    for n in &o.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    if !o.not_done.is_empty() {
        out.push_str("Not done:\n");
        for n in &o.not_done {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tandem_data::aurora::{GlobalClusterInfo, GlobalMember, MockRdsApi};
    use tandem_data::ssm::MockSsmApi;

    const P_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-dev";
    const S_ARN: &str = "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-dev";
    const FLAG: &str = "/tandem/dev/failover/forced";

    /// Records every PutMetricData call (stack, datums).
    #[derive(Default)]
    struct Recorder {
        puts: Mutex<Vec<(String, Vec<Datum>)>>,
        fail: bool,
    }

    impl Recorder {
        fn calls(&self) -> Vec<(String, Vec<Datum>)> {
            self.puts.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }
    }

    #[async_trait]
    impl DecisionMetric for Recorder {
        async fn put_decision(&self, stack: &str, data: &[Datum]) -> Result<(), AwsError> {
            self.puts.lock().unwrap_or_else(|p| p.into_inner()).push((stack.to_string(), data.to_vec()));
            if self.fail {
                return Err(AwsError::new("DispatchFailure", "connection closed", None));
            }
            Ok(())
        }
    }

    /// The secondary's Parameter Store: expects the forced flag set exactly once.
    fn flag_set(result: Result<(), AwsError>) -> MockSsmApi {
        let mut f = MockSsmApi::new();
        f.expect_overwrite_parameter()
            .withf(|p| p.name == FLAG && p.kind == ParamKind::String && p.value == "true")
            .times(1)
            .returning(move |_| result.clone());
        f
    }

    /// The secondary's Parameter Store: expects the forced flag deleted exactly once.
    fn flag_deleted(result: Result<(), AwsError>) -> MockSsmApi {
        let mut f = MockSsmApi::new();
        f.expect_delete_parameter().withf(|n| n == FLAG).times(1).returning(move |_| result.clone());
        f
    }

    fn global(primary_writes: bool) -> GlobalClusterInfo {
        GlobalClusterInfo {
            id: "aurora-global-dev".into(),
            status: "available".into(),
            members: vec![
                GlobalMember { cluster_arn: P_ARN.into(), is_writer: primary_writes },
                GlobalMember { cluster_arn: S_ARN.into(), is_writer: !primary_writes },
            ],
            ..Default::default()
        }
    }

    fn east_down() -> BTreeMap<String, String> {
        BTreeMap::from([("us-east-1".to_string(), "DispatchFailure: connection closed".to_string())])
    }

    /// The secondary's RDS: the primary writes until the failover call, then the secondary.
    fn secondary_failing_over() -> MockRdsApi {
        let moved = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut s = MockRdsApi::new();
        let m = moved.clone();
        s.expect_describe_global_cluster().returning(move |_| Ok(Some(global(!m.load(std::sync::atomic::Ordering::SeqCst)))));
        s.expect_failover_global_cluster().withf(|g, t| g == "aurora-global-dev" && t == S_ARN).times(1).returning(move |_, _| {
            moved.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        s
    }

    fn secs(t: SystemTime) -> i64 {
        t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn unplanned_failover_with_the_primary_down_moves_the_writer_and_sets_the_decision() {
        let cfg = Config::example("dev");
        assert_eq!(cfg.failover.probe_failures, 3);
        let mut p = MockRdsApi::new();
        p.expect_describe_global_cluster().never();
        p.expect_failover_global_cluster().never();
        let s = secondary_failing_over();
        let decision = Recorder::default();
        let before = SystemTime::now();
        let o = fail_over(&cfg, true, &east_down(), &p, &s, &decision, &flag_set(Ok(()))).await;
        assert!(o.ok, "{o:?}");
        // One PutMetricData: PrimaryDown = 1 at now - 2 min, now - 1 min, now; FailedOver = 1.
        let calls = decision.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (stack, data) = &calls[0];
        assert_eq!(stack, "dev");
        let names: Vec<(&str, f64)> = data.iter().map(|d| (d.metric, d.value)).collect();
        assert_eq!(names, [("PrimaryDown", 1.0), ("PrimaryDown", 1.0), ("PrimaryDown", 1.0), ("FailedOver", 1.0)]);
        let newest = secs(data[2].at);
        assert!((secs(before)..=secs(SystemTime::now())).contains(&newest), "{data:?}");
        assert_eq!((secs(data[0].at), secs(data[1].at)), (newest - 120, newest - 60));
        assert!(o.done[0].contains("writer moved from") && o.done[0].contains("through us-east-2"), "{o:?}");
        assert!(o.notes.iter().any(|d| d.contains("rds:unplanned-global-failover-aurora-primary-dev")), "{o:?}");
        assert!(o.done.iter().any(|d| d.contains("forced flag /tandem/dev/failover/forced = true in us-east-2")), "{o:?}");
        assert!(
            o.done.iter().any(|d| d.contains("PrimaryDown=1 for the last 3 minute(s) (Tandem/Failover, Stack=dev) in us-east-2")),
            "{o:?}"
        );
        assert!(o.done.iter().any(|d| d == "FailedOver=1 published in us-east-2"), "{o:?}");
        let text = outcome_text("Failover (unplanned)", &o, Duration::from_millis(3400));
        assert!(text.contains("Failover (unplanned) finished in 3.4s."), "{text}");
        assert!(text.contains("Route 53 changes are impossible while us-east-1 is down"), "{text}");
        assert!(text.contains("IAM changes (roles, policies) are impossible while us-east-1 is down"), "{text}");
        assert!(text.contains("us-east-1 was not contacted; its cluster rejoins"), "{text}");
        assert!(text.contains("  note: writes the old primary had not replicated"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_failover_sets_the_decision_again_without_failed_over() {
        // The secondary already writes: nothing is sent to RDS, the decision is set again.
        let cfg = Config::example("dev");
        let p = MockRdsApi::new();
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().returning(|_| Ok(Some(global(false))));
        s.expect_failover_global_cluster().never();
        let decision = Recorder::default();
        let o = fail_over(&cfg, true, &east_down(), &p, &s, &decision, &flag_set(Ok(()))).await;
        assert!(o.ok, "{o:?}");
        let calls = decision.calls();
        assert_eq!(calls[0].1.iter().map(|d| d.metric).collect::<Vec<_>>(), ["PrimaryDown"; 3]);
        assert!(!o.done.iter().any(|d| d.contains("FailedOver")), "{o:?}");
    }

    #[test]
    fn the_backfill_covers_the_last_probe_failures_minutes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let d = decision_data(5, now, false);
        assert_eq!(d.len(), 5);
        assert!(d.iter().all(|d| d.metric == failover_metrics::PRIMARY_DOWN && d.value == 1.0));
        let at: Vec<i64> = d.iter().map(|d| secs(d.at)).collect();
        assert_eq!(at, [1_700_000_000 - 240, 1_700_000_000 - 180, 1_700_000_000 - 120, 1_700_000_000 - 60, 1_700_000_000]);
        assert_eq!(decision_data(1, now, false).iter().map(|d| secs(d.at)).collect::<Vec<_>>(), [1_700_000_000]);
        // Bounded whatever the configuration says.
        assert_eq!(decision_data(0, now, false).len(), 1);
        assert_eq!(decision_data(100_000, now, false).len(), MAX_BACKFILL_MINUTES as usize);
        let moved = decision_data(3, now, true);
        assert_eq!(moved.last(), Some(&Datum { metric: failover_metrics::FAILED_OVER, value: 1.0, at: now }));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_done_when_the_secondary_does_not_answer() {
        let cfg = Config::example("dev");
        let p = MockRdsApi::new();
        let s = MockRdsApi::new();
        let decision = Recorder::default();
        let down = BTreeMap::from([("us-east-2".to_string(), "Timeout".to_string())]);
        // No expectation on the flags: a call would panic.
        let o = fail_over(&cfg, true, &down, &p, &s, &decision, &MockSsmApi::new()).await;
        assert!(!o.ok);
        assert!(o.not_done[0].contains("secondary region us-east-2 does not answer"), "{o:?}");
        assert!(decision.calls().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_planned_failover_with_the_primary_down_is_refused_and_names_unplanned() {
        let cfg = Config::example("dev");
        let mut p = MockRdsApi::new();
        p.expect_describe_cluster().returning(|_| Err(AwsError::new("DispatchFailure", "connection closed", None)));
        p.expect_switchover_global_cluster().never();
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().returning(|_| Ok(Some(global(true))));
        s.expect_describe_cluster().returning(|_| Ok(Some(tandem_data::aurora::ClusterInfo { status: "available".into(), ..Default::default() })));
        let decision = Recorder::default();
        let o = fail_over(&cfg, false, &east_down(), &p, &s, &decision, &MockSsmApi::new()).await;
        assert!(!o.ok);
        assert!(o.not_done.iter().any(|n| n.contains("failover --unplanned")), "{o:?}");
        assert!(decision.calls().is_empty(), "no decision without the database");
    }

    #[tokio::test(start_paused = true)]
    async fn a_decision_that_cannot_be_set_fails_the_command() {
        let cfg = Config::example("dev");
        let p = MockRdsApi::new();
        let s = secondary_failing_over();
        let decision = Recorder { fail: true, ..Default::default() };
        let o = fail_over(&cfg, true, &BTreeMap::new(), &p, &s, &decision, &flag_set(Ok(()))).await;
        assert!(!o.ok);
        assert!(o.not_done.iter().any(|n| n.contains("decision could not be set in us-east-2")), "{o:?}");
        assert!(!o.not_done.iter().any(|n| n.contains("Route 53")), "nothing is impossible when every region answers: {o:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flag_that_cannot_be_set_fails_the_command_but_the_decision_is_published() {
        let cfg = Config::example("dev");
        let p = MockRdsApi::new();
        let s = secondary_failing_over();
        let decision = Recorder::default();
        let flags = flag_set(Err(AwsError::other("AccessDeniedException", "not allowed")));
        let o = fail_over(&cfg, true, &BTreeMap::new(), &p, &s, &decision, &flags).await;
        assert!(!o.ok, "{o:?}");
        assert!(
            o.not_done.iter().any(|n| n.contains("forced flag /tandem/dev/failover/forced could not be set in us-east-2")
                && n.contains("AccessDeniedException")),
            "{o:?}"
        );
        assert_eq!(decision.calls().len(), 1, "the backfill still goes out");
        assert!(o.done.iter().any(|d| d.contains("PrimaryDown=1 for the last 3 minute(s)")), "{o:?}");
    }

    /// RDS clients where the primary already writes: `switch_over` to the primary is a
    /// no-op success read through the primary.
    fn primary_writes() -> (MockRdsApi, MockRdsApi) {
        let mut p = MockRdsApi::new();
        p.expect_describe_global_cluster().returning(|_| Ok(Some(global(true))));
        p.expect_switchover_global_cluster().never();
        let mut s = MockRdsApi::new();
        s.expect_switchover_global_cluster().never();
        (p, s)
    }

    #[tokio::test(start_paused = true)]
    async fn switchover_to_primary_clears_the_forced_flag_and_says_so() {
        let cfg = Config::example("dev");
        let (p, s) = primary_writes();
        let o = switch_over_to(&cfg, Placement::Primary, &p, &s, &flag_deleted(Ok(()))).await;
        assert!(o.ok, "{o:?}");
        assert!(o.done.iter().any(|d| d.contains("forced flag /tandem/dev/failover/forced deleted in us-east-2")), "{o:?}");
        assert!(o.done.iter().any(|d| d.contains("return to the primary on their own")), "{o:?}");

        // Already gone is fine.
        let (p, s) = primary_writes();
        let gone = flag_deleted(Err(AwsError::not_found("ParameterNotFound", "no such parameter")));
        let o = switch_over_to(&cfg, Placement::Primary, &p, &s, &gone).await;
        assert!(o.ok, "{o:?}");
        assert!(o.done.iter().any(|d| d.contains("forced flag /tandem/dev/failover/forced was not set in us-east-2")), "{o:?}");

        // A flag that cannot be deleted fails the command and says what it means.
        let (p, s) = primary_writes();
        let denied = flag_deleted(Err(AwsError::other("AccessDeniedException", "not allowed")));
        let o = switch_over_to(&cfg, Placement::Primary, &p, &s, &denied).await;
        assert!(!o.ok, "{o:?}");
        assert!(o.not_done.iter().any(|n| n.contains("could not be deleted") && n.contains("switchover --to primary")), "{o:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_flag_stays_when_the_switchover_fails_or_goes_to_the_secondary() {
        let cfg = Config::example("dev");
        let mut p = MockRdsApi::new();
        p.expect_describe_global_cluster().returning(|_| Err(AwsError::other("AccessDenied", "no")));
        let s = MockRdsApi::new();
        // No expectation on the flags: a delete would panic.
        let o = switch_over_to(&cfg, Placement::Primary, &p, &s, &MockSsmApi::new()).await;
        assert!(!o.ok);
        assert!(o.not_done[0].contains("the database writer did not move"), "{o:?}");

        let p = MockRdsApi::new();
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().returning(|_| Ok(Some(global(false))));
        let o = switch_over_to(&cfg, Placement::Secondary, &p, &s, &MockSsmApi::new()).await;
        assert!(o.ok, "{o:?}");
        assert!(!o.done.iter().any(|d| d.contains("forced flag")), "{o:?}");
    }

    #[test]
    fn no_lock_is_taken_in_a_region_that_does_not_answer() {
        let mut cfg = Config::example("dev");
        assert_eq!(lock_plan(&cfg, &east_down()), LockPlan::Take, "local state: the normal lock");
        cfg.state.backend = "s3".into();
        cfg.state.bucket = Some("tandem-state".into());
        assert_eq!(lock_plan(&cfg, &east_down()), LockPlan::Skip { bucket: "tandem-state".into(), region: "us-east-1".into() });
        assert_eq!(lock_plan(&cfg, &BTreeMap::new()), LockPlan::Take);
        cfg.state.region = Some("us-east-2".into());
        assert_eq!(lock_plan(&cfg, &east_down()), LockPlan::Take, "a bucket in the surviving region is locked as usual");
    }
}
