//! `tandem failover [--unplanned]` and `tandem switchover --to primary|secondary`
//! (DR.md, "The CLI during an outage").
//!
//! `failover` moves the stack to the secondary region and works with the primary region
//! unreachable: the regions are probed first (outage-proof timeouts), the global cluster is
//! found by name through the secondary region, no lock stored in a region that does not
//! answer is taken, the writer moves (unplanned: `FailoverGlobalCluster` with the secondary
//! cluster's ARN and `AllowDataLoss=true` through the secondary's RDS endpoint; planned: a
//! switchover), and the "primary down" decision is set by hand (`PutMetricData`
//! `PrimaryHealthy`=0 into the secondary region's CloudWatch) so DNS and events follow
//! through the health checks: no Route 53 API call. It then says what it did, how long it
//! took and what it could not do.
//!
//! `switchover --to` is the planned, no-data-loss move (the fail-back path): both regions
//! must answer and every member be available.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use tandem_core::aws::{global_control_planes, GLOBAL_ACCELERATOR_REGION, IAM_CONTROL_PLANE_REGION, ROUTE53_REGION};
use tandem_core::config::Config;
use tandem_core::{AwsError, Placement};
use tandem_data::aurora::RdsApi;
use tandem_data::{fail_over_to_secondary, switch_over};

/// Namespace of the "primary down" decision metric (read by the controller's decision alarm).
pub const DECISION_NAMESPACE: &str = "Tandem/Failover";
/// The decision metric: 1 the primary is healthy, 0 it is down.
pub const DECISION_METRIC: &str = "PrimaryHealthy";
/// The decision metric's dimension, valued with the stack suffix.
pub const DECISION_DIMENSION: &str = "Stack";

/// Where the "primary down" decision is set by hand.
#[async_trait]
pub trait DecisionMetric: Send + Sync {
    /// `PutMetricData` of `PrimaryHealthy` = `value` for `stack` (into the client's region).
    async fn put_primary_healthy(&self, stack: &str, value: f64) -> Result<(), AwsError>;
}

#[async_trait]
impl DecisionMetric for aws_sdk_cloudwatch::Client {
    async fn put_primary_healthy(&self, stack: &str, value: f64) -> Result<(), AwsError> {
        let datum = MetricDatum::builder()
            .metric_name(DECISION_METRIC)
            .dimensions(Dimension::builder().name(DECISION_DIMENSION).value(stack).build())
            .value(value)
            .unit(StandardUnit::Count)
            .timestamp(std::time::SystemTime::now().into())
            .build();
        self.put_metric_data().namespace(DECISION_NAMESPACE).metric_data(datum).send().await.map(|_| ()).map_err(AwsError::from_sdk)
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
/// planned switchover), then sets the "primary down" decision in the secondary region.
/// `down`: the regions that did not answer the probe, with why.
pub async fn fail_over(
    cfg: &Config,
    unplanned: bool,
    down: &BTreeMap<String, String>,
    primary: &dyn RdsApi,
    secondary: &dyn RdsApi,
    decision: &dyn DecisionMetric,
) -> Outcome {
    let mut out = Outcome { ok: true, ..Default::default() };
    let s = cfg.secondary_region.as_str();
    if let Some(why) = down.get(s) {
        out.ok = false;
        out.not_done.push(format!("the secondary region {s} does not answer ({why}); the failover goes through it, so nothing was done"));
        return out;
    }
    let moved = if unplanned { fail_over_to_secondary(cfg, secondary).await } else { switch_over(cfg, primary, secondary, Placement::Secondary).await };
    match moved {
        Ok(m) => {
            out.done.push(m.summary());
            if unplanned && m.changed {
                out.notes.push(format!(
                    "writes the old primary had not replicated are not in the new writer; Aurora keeps them in the snapshot rds:unplanned-global-failover-{}-… in {}",
                    tandem_data::aurora::cluster_id(Placement::Primary, &cfg.environment_suffix),
                    cfg.primary_region
                ));
            }
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
    }
    match decision.put_primary_healthy(&cfg.environment_suffix, 0.0).await {
        Ok(()) => out.done.push(format!(
            "\"primary down\" decision set: {DECISION_METRIC}=0 ({DECISION_NAMESPACE}, {DECISION_DIMENSION}={}) in {s}; DNS and events follow through the health checks",
            cfg.environment_suffix
        )),
        Err(e) => {
            out.ok = false;
            out.not_done.push(format!("the \"primary down\" decision could not be set in {s} ({e}); run `tandem failover` again"));
        }
    }
    out.not_done.extend(impossible_while_down(cfg, down));
    out
}

/// The report `failover` / `switchover` print.
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

    const P_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-dev";
    const S_ARN: &str = "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-dev";

    #[derive(Default)]
    struct Recorder {
        puts: Mutex<Vec<(String, f64)>>,
        fail: bool,
    }

    #[async_trait]
    impl DecisionMetric for Recorder {
        async fn put_primary_healthy(&self, stack: &str, value: f64) -> Result<(), AwsError> {
            self.puts.lock().unwrap_or_else(|p| p.into_inner()).push((stack.to_string(), value));
            if self.fail {
                return Err(AwsError::new("DispatchFailure", "connection closed", None));
            }
            Ok(())
        }
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

    #[tokio::test(start_paused = true)]
    async fn unplanned_failover_with_the_primary_down_moves_the_writer_and_sets_the_decision() {
        let cfg = Config::example("dev");
        let mut p = MockRdsApi::new();
        p.expect_describe_global_cluster().never();
        p.expect_failover_global_cluster().never();
        let s = secondary_failing_over();
        let decision = Recorder::default();
        let o = fail_over(&cfg, true, &east_down(), &p, &s, &decision).await;
        assert!(o.ok, "{o:?}");
        assert_eq!(*decision.puts.lock().unwrap_or_else(|p| p.into_inner()), vec![("dev".to_string(), 0.0)]);
        assert!(o.done[0].contains("writer moved from") && o.done[0].contains("through us-east-2"), "{o:?}");
        assert!(o.notes.iter().any(|d| d.contains("rds:unplanned-global-failover-aurora-primary-dev")), "{o:?}");
        assert!(o.done.iter().any(|d| d.contains("PrimaryHealthy=0 (Tandem/Failover, Stack=dev) in us-east-2")), "{o:?}");
        let text = outcome_text("Failover (unplanned)", &o, Duration::from_millis(3400));
        assert!(text.contains("Failover (unplanned) finished in 3.4s."), "{text}");
        assert!(text.contains("Route 53 changes are impossible while us-east-1 is down"), "{text}");
        assert!(text.contains("IAM changes (roles, policies) are impossible while us-east-1 is down"), "{text}");
        assert!(text.contains("us-east-1 was not contacted; its cluster rejoins"), "{text}");
        assert!(text.contains("  note: writes the old primary had not replicated"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_done_when_the_secondary_does_not_answer() {
        let cfg = Config::example("dev");
        let p = MockRdsApi::new();
        let s = MockRdsApi::new();
        let decision = Recorder::default();
        let down = BTreeMap::from([("us-east-2".to_string(), "Timeout".to_string())]);
        let o = fail_over(&cfg, true, &down, &p, &s, &decision).await;
        assert!(!o.ok);
        assert!(o.not_done[0].contains("secondary region us-east-2 does not answer"), "{o:?}");
        assert!(decision.puts.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
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
        let o = fail_over(&cfg, false, &east_down(), &p, &s, &decision).await;
        assert!(!o.ok);
        assert!(o.not_done.iter().any(|n| n.contains("failover --unplanned")), "{o:?}");
        assert!(decision.puts.lock().unwrap_or_else(|p| p.into_inner()).is_empty(), "no decision without the database");
    }

    #[tokio::test(start_paused = true)]
    async fn a_decision_that_cannot_be_set_fails_the_command() {
        let cfg = Config::example("dev");
        let p = MockRdsApi::new();
        let s = secondary_failing_over();
        let decision = Recorder { fail: true, ..Default::default() };
        let o = fail_over(&cfg, true, &BTreeMap::new(), &p, &s, &decision).await;
        assert!(!o.ok);
        assert!(o.not_done.iter().any(|n| n.contains("decision could not be set in us-east-2")), "{o:?}");
        assert!(!o.not_done.iter().any(|n| n.contains("Route 53")), "nothing is impossible when every region answers: {o:?}");
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
