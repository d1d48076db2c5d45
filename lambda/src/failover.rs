//! The failover controller's handler: runs in the SECONDARY region, invoked by the decision
//! alarm's Lambda action (CloudWatch's alarm event, `{"source":"aws.cloudwatch",
//! "alarmData":{"alarmName":..,"state":{"value":"ALARM"}}}`) or again by the probe
//! (`{"source":"probe"}`) while the alarm stays in ALARM (alarm actions fire only on
//! transitions). See `../shared/DR.md`, "The failover controller".
//!
//! The event is only a trigger: before acting the handler re-reads every fact and decides
//! with the pure function [`decide`]:
//!
//! | order | fact | when it fails |
//! |---|---|---|
//! | 1 | global cluster exists and its writer is the primary cluster | writer is the secondary: `already failed over` (then only the lost-writes snapshot follow-up); other/none: hold |
//! | 2 | `FailoverState` empty | `failover in progress` |
//! | 3 | no drill suppression: SSM parameter `/tandem/<stack>/failover/suppressed` is not `true` | `suppressed` |
//! | 4 | the decision alarm exists, is ALARM, and changed state less than `ALARM_MAX_AGE_SECS` (900 s) ago | hold |
//! | 5 | a fresh probe (the probe's exact check) still fails | `primary healthy` |
//! | 6 | the secondary cluster's replication metrics show the primary stalled (the rule shared with the probe: [`crate::replication`]) | `no replication stall` |
//! | 7 | `AUTOMATIC` (default true) | `alert only`: an alert naming `tandem failover --unplanned` |
//!
//! Then `FailoverGlobalCluster` through this (the secondary) region's RDS endpoint with
//! `TargetDbClusterIdentifier` = the secondary cluster's ARN and `AllowDataLoss = true`.
//! `InvalidGlobalClusterStateFault` means a failover is already under way: success.
//! Throttling is retried (4 attempts, 1/2/4 s backoff). It then waits (bounded,
//! `FAILOVER_WAIT_SECS`) for the writer to move, publishes `Tandem/Failover FailedOver` = 1
//! (`Stack=<stack>`: the failed-over alarm's metric) once it moved, looks for the old primary's
//! `rds:unplanned-global-failover-…` snapshot in the primary region and copies it to a
//! manual snapshot (it holds the writes that were lost), and publishes a "failed over"
//! alert to `ALERT_TOPIC_ARN`. It never fails back.
//!
//! The event `{"source":"snapshot"}` (or any invocation that finds the writer already in
//! the secondary) only runs the snapshot follow-up: the snapshot only appears once the old
//! primary region is back. `{"dry_run": true}` decides and reports, and does nothing.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::clients::{
    AlarmState, AuroraApi, CallError, ClusterSnapshot, GlobalClusterView, HttpGet, MetricsApi,
    ParameterApi, TopicApi,
};
use crate::contract;
use crate::probe::{probe_primary, ProbeResult};
use crate::replication::{now_epoch, read_replication};
/// The stall rule (row 6), shared with the probe: see [`crate::replication`].
pub use crate::replication::{replication_evidence, Replication, STALL_POINTS, STALL_WINDOW_SECS};
use crate::{ClusterArn, FailoverSettings};

/// FailoverGlobalCluster attempts when throttled.
pub const FAILOVER_ATTEMPTS: u32 = 4;
/// First backoff after a throttled call (doubles).
pub const FAILOVER_BACKOFF: Duration = Duration::from_secs(1);
/// Poll interval while waiting for the writer to move.
pub const WRITER_POLL: Duration = Duration::from_secs(10);
/// Prefix of the system snapshot Aurora takes of the old primary.
pub const UNPLANNED_SNAPSHOT_PREFIX: &str = "rds:unplanned-global-failover-";

/// The facts the handler re-reads before acting.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// Epoch seconds.
    pub now: i64,
    pub alarm: Option<AlarmState>,
    pub cluster: Option<GlobalClusterView>,
    pub suppressed: bool,
    pub probe: ProbeResult,
    pub replication: Replication,
}

/// The configuration the decision depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub primary_cluster_arn: String,
    pub secondary_cluster_arn: String,
    pub automatic: bool,
    pub alarm_max_age_secs: i64,
}

/// Why the handler does not fail over.
#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    /// The writer is already the secondary cluster.
    AlreadyFailedOver,
    NoGlobalCluster,
    /// The writer is neither configured cluster, or there is none.
    WriterUnknown(Option<String>),
    /// `FailoverState.Status` is set.
    FailoverInProgress(String),
    /// The drill suppression flag is set.
    Suppressed,
    NoAlarm,
    AlarmNotInAlarm(String),
    /// ALARM, but the state change is older than the policy allows (seconds).
    AlarmStale(i64),
    /// The fresh probe found the primary healthy.
    PrimaryHealthy,
    NoReplicationStall(String),
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every check holds: fail over. Carries the evidence, for the alert.
    FailOver(String),
    /// Every check holds but `[failover] automatic = false`: alert only.
    AlertOnly(String),
    Hold(Hold),
}

impl Decision {
    /// A short machine label (`fail-over`, `alert-only`, `hold:<case>`).
    pub fn label(&self) -> &'static str {
        match self {
            Decision::FailOver(_) => "fail-over",
            Decision::AlertOnly(_) => "alert-only",
            Decision::Hold(h) => match h {
                Hold::AlreadyFailedOver => "hold:already-failed-over",
                Hold::NoGlobalCluster => "hold:no-global-cluster",
                Hold::WriterUnknown(_) => "hold:writer-unknown",
                Hold::FailoverInProgress(_) => "hold:failover-in-progress",
                Hold::Suppressed => "hold:suppressed",
                Hold::NoAlarm => "hold:no-alarm",
                Hold::AlarmNotInAlarm(_) => "hold:alarm-not-in-alarm",
                Hold::AlarmStale(_) => "hold:alarm-stale",
                Hold::PrimaryHealthy => "hold:primary-healthy",
                Hold::NoReplicationStall(_) => "hold:no-replication-stall",
            },
        }
    }

    /// The reason in words.
    pub fn reason(&self) -> String {
        match self {
            Decision::FailOver(e) => format!("primary down and stalled: {e}"),
            Decision::AlertOnly(e) => format!(
                "primary down and stalled ({e}), but automatic failover is off: run `tandem failover --unplanned`"
            ),
            Decision::Hold(h) => match h {
                Hold::AlreadyFailedOver => "the writer is already the secondary cluster".into(),
                Hold::NoGlobalCluster => "the global cluster does not exist".into(),
                Hold::WriterUnknown(Some(w)) => {
                    format!("the writer {w} is neither configured cluster")
                }
                Hold::WriterUnknown(None) => "the global cluster reports no writer".into(),
                Hold::FailoverInProgress(s) => format!("a failover is in progress ({s})"),
                Hold::Suppressed => "suppressed by the drill flag".into(),
                Hold::NoAlarm => "the decision alarm does not exist".into(),
                Hold::AlarmNotInAlarm(s) => format!("the decision alarm is {s}"),
                Hold::AlarmStale(age) => format!(
                    "the decision alarm has been in ALARM for {age} s, longer than the automatic window: run `tandem failover --unplanned` if the primary is down"
                ),
                Hold::PrimaryHealthy => "a fresh probe finds the primary healthy".into(),
                Hold::NoReplicationStall(e) => format!("no evidence of a replication stall: {e}"),
            },
        }
    }
}

/// The decision, from the facts alone (every case is a unit test).
pub fn decide(facts: &Facts, policy: &Policy) -> Decision {
    let Some(cluster) = &facts.cluster else {
        return Decision::Hold(Hold::NoGlobalCluster);
    };
    match cluster.writer_arn.as_deref() {
        Some(w) if w == policy.secondary_cluster_arn => {
            return Decision::Hold(Hold::AlreadyFailedOver)
        }
        Some(w) if w == policy.primary_cluster_arn => {}
        other => return Decision::Hold(Hold::WriterUnknown(other.map(str::to_string))),
    }
    if let Some(status) = &cluster.failover_status {
        return Decision::Hold(Hold::FailoverInProgress(status.clone()));
    }
    if facts.suppressed {
        return Decision::Hold(Hold::Suppressed);
    }
    match &facts.alarm {
        None => return Decision::Hold(Hold::NoAlarm),
        Some(a) if a.value != "ALARM" => {
            return Decision::Hold(Hold::AlarmNotInAlarm(a.value.clone()))
        }
        Some(a) => {
            let age = facts.now - a.since;
            if age > policy.alarm_max_age_secs {
                return Decision::Hold(Hold::AlarmStale(age));
            }
        }
    }
    if facts.probe.healthy() {
        return Decision::Hold(Hold::PrimaryHealthy);
    }
    let evidence = match &facts.replication {
        Replication::NoStall(why) => return Decision::Hold(Hold::NoReplicationStall(why.clone())),
        Replication::Stalled(e) => format!("probe: {}; replication: {e}", facts.probe.summary()),
    };
    if policy.automatic {
        Decision::FailOver(evidence)
    } else {
        Decision::AlertOnly(evidence)
    }
}

/// What invoked the handler.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// The decision alarm's Lambda action (a state transition).
    Alarm { name: String, state: String },
    /// The probe, while the alarm stays in ALARM.
    Probe,
    /// Only the lost-writes snapshot follow-up.
    Snapshot,
    /// Anything else (a manual invoke).
    Other,
}

impl Trigger {
    pub fn parse(event: &Value) -> Self {
        match event.get("source").and_then(Value::as_str) {
            Some("aws.cloudwatch") => Trigger::Alarm {
                name: event
                    .pointer("/alarmData/alarmName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                state: event
                    .pointer("/alarmData/state/value")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            },
            Some("probe") => Trigger::Probe,
            Some("snapshot") => Trigger::Snapshot,
            _ => Trigger::Other,
        }
    }
}

/// The outcome of the FailoverGlobalCluster call.
#[derive(Debug, Clone, PartialEq)]
pub enum FailoverCall {
    Started,
    /// `InvalidGlobalClusterStateFault`: a failover is already under way.
    AlreadyUnderway,
}

/// The outcome of the lost-writes snapshot step.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotOutcome {
    Copied {
        source: String,
        target: String,
    },
    AlreadyCopied {
        source: String,
        target: String,
    },
    /// Not there (yet) or not available yet: copy later.
    NotYet(String),
    /// The primary region did not answer, or the copy failed.
    Failed(String),
}

impl SnapshotOutcome {
    pub fn describe(&self) -> String {
        match self {
            SnapshotOutcome::Copied { source, target } => format!(
                "the lost writes are kept: snapshot {source} copied to the manual snapshot {target}"
            ),
            SnapshotOutcome::AlreadyCopied { source, target } => format!(
                "the lost writes are kept: snapshot {source} was already copied to {target}"
            ),
            SnapshotOutcome::NotYet(why) | SnapshotOutcome::Failed(why) => format!(
                "the lost-writes snapshot is not copied yet ({why}); Aurora takes it when the old primary region recovers: then invoke this function with {{\"source\":\"snapshot\"}} to copy it"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    #[error("reading {what} in {region} failed: {source}")]
    Read {
        what: String,
        region: String,
        source: CallError,
    },
    #[error("FailoverGlobalCluster {global_cluster} to {target} in {region} failed: {source}")]
    Failover {
        global_cluster: String,
        target: String,
        region: String,
        source: CallError,
    },
}

impl From<FailoverError> for lambda_runtime::Diagnostic {
    fn from(e: FailoverError) -> Self {
        let kind = match &e {
            FailoverError::Read { .. } => "Failover.ReadFailed",
            FailoverError::Failover { .. } => "Failover.CallFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.into(),
            error_message: e.to_string(),
        }
    }
}

/// The failover handler with its clients.
pub struct Failover {
    pub settings: FailoverSettings,
    pub api_http: Arc<dyn HttpGet>,
    pub nlb_http: Arc<dyn HttpGet>,
    /// CloudWatch in this (the secondary) region.
    pub metrics: Arc<dyn MetricsApi>,
    /// RDS in this (the secondary) region: describe and fail over.
    pub aurora: Arc<dyn AuroraApi>,
    /// RDS in the primary region (short timeouts): the lost-writes snapshot.
    pub primary_aurora: Arc<dyn AuroraApi>,
    /// Parameter Store in this region: the suppression flag.
    pub parameters: Arc<dyn ParameterApi>,
    /// SNS in this region.
    pub topic: Arc<dyn TopicApi>,
}

/// The manual copy's identifier: letters, digits and single hyphens, at most 63
/// characters, deterministic per source snapshot (so a second copy is "already exists").
pub fn lost_writes_snapshot_id(stack: &str, source: &ClusterSnapshot) -> String {
    let stamp = match source.created {
        Some(t) => aws_smithy_types::DateTime::from_secs(t)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_else(|_| t.to_string()),
        None => source.id.clone(),
    };
    let raw = format!("tandem-{stack}-lost-writes-{stamp}").to_ascii_lowercase();
    let mut id = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (id.is_empty() || id.ends_with('-')) {
            continue;
        }
        id.push(c);
    }
    // Keep the (distinguishing) timestamp: cut the stack part if too long.
    if id.len() > 63 {
        let tail: String = id[id.len() - 40..].to_string();
        id = format!("tandem-{}", tail.trim_start_matches('-'));
        id.truncate(63);
    }
    id.trim_end_matches('-').to_string()
}

impl Failover {
    fn policy(&self) -> Policy {
        Policy {
            primary_cluster_arn: self.settings.primary_cluster_arn.clone(),
            secondary_cluster_arn: self.settings.secondary_cluster_arn.clone(),
            automatic: self.settings.automatic,
            alarm_max_age_secs: self.settings.alarm_max_age_secs,
        }
    }

    fn read_error(&self, what: String) -> impl FnOnce(CallError) -> FailoverError + '_ {
        move |source| FailoverError::Read {
            what,
            region: self.settings.region.clone(),
            source,
        }
    }

    /// Re-reads every fact (concurrently).
    pub async fn gather(&self) -> Result<Facts, FailoverError> {
        let s = &self.settings;
        let secondary_id = ClusterArn::parse(&s.secondary_cluster_arn)
            .map(|a| a.cluster_id)
            .unwrap_or_default();
        let now = now_epoch();
        let flag = contract::suppressed_flag(&s.stack);
        let (cluster, alarm, suppressed, probe, replication) = tokio::join!(
            self.aurora.describe_global_cluster(&s.global_cluster_id),
            self.metrics.alarm_state(&s.decision_alarm),
            self.parameters.get(&flag),
            probe_primary(&*self.api_http, &*self.nlb_http, &s.primary),
            read_replication(&*self.metrics, &secondary_id, now, s.stall_lag_ms),
        );
        let cluster =
            cluster.map_err(self.read_error(format!("global cluster {}", s.global_cluster_id)))?;
        let alarm = alarm.map_err(self.read_error(format!("alarm {}", s.decision_alarm)))?;
        let suppressed = suppressed
            .map_err(self.read_error(format!("parameter {flag}")))?
            .is_some_and(|p| p.value.trim().eq_ignore_ascii_case("true"));
        let replication = replication.map_err(|e| FailoverError::Read {
            what: e.what,
            region: s.region.clone(),
            source: e.source,
        })?;
        Ok(Facts {
            now,
            alarm,
            cluster,
            suppressed,
            probe,
            replication,
        })
    }

    /// One invocation.
    pub async fn handle(&self, event: Value) -> Result<Value, FailoverError> {
        let trigger = Trigger::parse(&event);
        let dry_run = event.get("dry_run").and_then(Value::as_bool) == Some(true);
        tracing::info!(?trigger, dry_run, "failover handler invoked");

        let facts = self.gather().await?;
        let decision = decide(&facts, &self.policy());
        tracing::warn!(decision = decision.label(), reason = %decision.reason(), "decision");
        let mut out = json!({
            "decision": decision.label(),
            "reason": decision.reason(),
            "probe": facts.probe.to_json(),
            "dry_run": dry_run,
        });
        if dry_run {
            return Ok(out);
        }
        if trigger == Trigger::Snapshot && decision != Decision::Hold(Hold::AlreadyFailedOver) {
            out["snapshot"] = json!("not failed over: no lost-writes snapshot to copy");
            return Ok(out);
        }

        match &decision {
            Decision::FailOver(evidence) => {
                let result = self.fail_over(evidence).await;
                if let Err(e) = &result {
                    self.alert(
                        "automatic failover FAILED",
                        &format!(
                            "The primary region looks down ({evidence}), and the automatic failover of the Aurora global database {} failed:\n\n{e}\n\nRun `tandem failover --unplanned` now.",
                            self.settings.global_cluster_id
                        ),
                    )
                    .await;
                }
                let (call, moved, snapshot, metric) = result?;
                out["failover"] = json!(match call {
                    FailoverCall::Started => "started",
                    FailoverCall::AlreadyUnderway => "already-underway",
                });
                out["writer_moved"] = json!(moved);
                out["failed_over_metric"] = json!(match metric {
                    Some(Ok(())) => format!("{}=1 published", contract::FAILED_OVER),
                    Some(Err(e)) => format!("{} not published: {e}", contract::FAILED_OVER),
                    None => format!(
                        "{} not published: the writer has not moved yet",
                        contract::FAILED_OVER
                    ),
                });
                if let Some(s) = &snapshot {
                    out["snapshot"] = json!(s.describe());
                }
            }
            Decision::AlertOnly(_) => {
                // Alert on the alarm's transition (or a manual invoke), not on each of the
                // probe's one-minute re-invocations.
                if trigger != Trigger::Probe {
                    self.alert(
                        "primary down: automatic failover is off",
                        &format!(
                            "{}\n\nGlobal cluster: {}\nTarget (secondary) cluster: {}\n\nThe command: tandem failover --unplanned",
                            decision.reason(),
                            self.settings.global_cluster_id,
                            self.settings.secondary_cluster_arn
                        ),
                    )
                    .await;
                    out["alerted"] = json!(true);
                }
            }
            Decision::Hold(Hold::AlreadyFailedOver) => {
                let outcome = self.copy_lost_writes().await;
                if matches!(outcome, SnapshotOutcome::Copied { .. }) {
                    self.alert("lost-writes snapshot copied", &outcome.describe())
                        .await;
                }
                out["snapshot"] = json!(outcome.describe());
            }
            Decision::Hold(_) => {}
        }
        Ok(out)
    }

    /// FailoverGlobalCluster, the wait for the writer, `FailedOver` = 1 once it moved, the
    /// snapshot copy and the alert. The last element: the `FailedOver` publication (`None`:
    /// not attempted, the writer has not moved).
    #[allow(clippy::type_complexity)]
    async fn fail_over(
        &self,
        evidence: &str,
    ) -> Result<
        (
            FailoverCall,
            bool,
            Option<SnapshotOutcome>,
            Option<Result<(), CallError>>,
        ),
        FailoverError,
    > {
        let s = &self.settings;
        let call = self.call_failover().await?;
        tracing::warn!(?call, global_cluster = %s.global_cluster_id, target = %s.secondary_cluster_arn, "FailoverGlobalCluster (AllowDataLoss=true)");
        let moved = self.wait_for_writer().await;
        let metric = if moved {
            Some(self.publish_failed_over().await)
        } else {
            None
        };
        let snapshot = if moved {
            Some(self.copy_lost_writes().await)
        } else {
            None
        };
        let (subject, status) = if moved {
            (
                "failed over: the Aurora writer is now in the secondary region",
                format!(
                    "The Aurora global database {} failed over to {} (AllowDataLoss=true): it is the writer now.",
                    s.global_cluster_id, s.secondary_cluster_arn
                ),
            )
        } else {
            (
                "failing over: the Aurora writer has not moved yet",
                format!(
                    "FailoverGlobalCluster {} to {} (AllowDataLoss=true) {}, but the writer had not moved after {} s. Check with `tandem status`.",
                    s.global_cluster_id,
                    s.secondary_cluster_arn,
                    match call {
                        FailoverCall::Started => "was accepted",
                        FailoverCall::AlreadyUnderway => "found a failover already under way",
                    },
                    s.failover_wait_secs
                ),
            )
        };
        let snapshot_line = match &snapshot {
            Some(o) => o.describe(),
            None => SnapshotOutcome::NotYet("the writer has not moved yet".into()).describe(),
        };
        self.alert(
            subject,
            &format!(
                "{status}\n\nWhy: {evidence}\n\nLost writes: {snapshot_line}\n\nThe old primary ({}) rejoins as a secondary by itself once its region recovers (minutes to hours); parameter groups and alarms are not inherited by the new writer. Nothing fails back on its own: once it has rebuilt, `tandem switchover --to primary` is the planned way back.",
                s.primary_cluster_arn
            ),
        )
        .await;
        Ok((call, moved, snapshot, metric))
    }

    /// Publishes `FailedOver` = 1 (`Tandem/Failover`, `Stack=<stack>`, this region): the
    /// failed-over alarm's metric. A failure is logged and reported in the result; the
    /// failover itself stands (the alert still goes out).
    async fn publish_failed_over(&self) -> Result<(), CallError> {
        let s = &self.settings;
        let result = self
            .metrics
            .put_metric(
                contract::NAMESPACE,
                contract::FAILED_OVER,
                &contract::dimensions(&s.stack),
                1.0,
            )
            .await;
        match &result {
            Ok(()) => {
                tracing::warn!(metric = contract::FAILED_OVER, stack = %s.stack, "published FailedOver=1")
            }
            Err(e) => {
                tracing::error!(metric = contract::FAILED_OVER, region = %s.region, error = %e, "publishing FailedOver=1 failed: the failed-over alarm will not fire for this failover")
            }
        }
        result
    }

    /// FailoverGlobalCluster with bounded retries on throttling.
    pub async fn call_failover(&self) -> Result<FailoverCall, FailoverError> {
        let s = &self.settings;
        let mut backoff = FAILOVER_BACKOFF;
        let mut attempt = 1;
        loop {
            match self
                .aurora
                .failover_global_cluster(&s.global_cluster_id, &s.secondary_cluster_arn)
                .await
            {
                Ok(()) => return Ok(FailoverCall::Started),
                Err(e) if e.code == "InvalidGlobalClusterStateFault" => {
                    tracing::warn!(error = %e, "a failover is already under way");
                    return Ok(FailoverCall::AlreadyUnderway);
                }
                Err(e) if e.is_throttling() && attempt < FAILOVER_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "FailoverGlobalCluster throttled; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(source) => {
                    return Err(FailoverError::Failover {
                        global_cluster: s.global_cluster_id.clone(),
                        target: s.secondary_cluster_arn.clone(),
                        region: s.region.clone(),
                        source,
                    })
                }
            }
        }
    }

    /// Polls DescribeGlobalClusters until the secondary is the writer (bounded by
    /// `failover_wait_secs`); read errors are retried until then.
    async fn wait_for_writer(&self) -> bool {
        let s = &self.settings;
        let polls = (s.failover_wait_secs / WRITER_POLL.as_secs()).max(1);
        for poll in 0..=polls {
            match self
                .aurora
                .describe_global_cluster(&s.global_cluster_id)
                .await
            {
                Ok(Some(c))
                    if c.writer_arn.as_deref() == Some(s.secondary_cluster_arn.as_str()) =>
                {
                    return true
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "DescribeGlobalClusters failed while waiting"),
            }
            if poll < polls {
                tokio::time::sleep(WRITER_POLL).await;
            }
        }
        false
    }

    /// Finds the old primary's newest `rds:unplanned-global-failover-…` snapshot in the
    /// primary region and copies it to a manual snapshot there. Idempotent.
    pub async fn copy_lost_writes(&self) -> SnapshotOutcome {
        let s = &self.settings;
        let Some(primary) = ClusterArn::parse(&s.primary_cluster_arn) else {
            return SnapshotOutcome::Failed(format!(
                "PRIMARY_CLUSTER_ARN {} is not a cluster ARN",
                s.primary_cluster_arn
            ));
        };
        let snapshots = match self
            .primary_aurora
            .cluster_snapshots(&primary.cluster_id)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                return SnapshotOutcome::Failed(format!(
                    "DescribeDBClusterSnapshots of {} in {}: {e}",
                    primary.cluster_id, primary.region
                ))
            }
        };
        let Some(source) = snapshots
            .into_iter()
            .filter(|snap| snap.id.starts_with(UNPLANNED_SNAPSHOT_PREFIX))
            .max_by_key(|snap| snap.created.unwrap_or(0))
        else {
            return SnapshotOutcome::NotYet(format!(
                "no {UNPLANNED_SNAPSHOT_PREFIX}… snapshot of {} in {} yet",
                primary.cluster_id, primary.region
            ));
        };
        if source.status != "available" {
            return SnapshotOutcome::NotYet(format!("{} is {}", source.id, source.status));
        }
        let target = lost_writes_snapshot_id(&s.stack, &source);
        match self
            .primary_aurora
            .copy_cluster_snapshot(&source.id, &target)
            .await
        {
            Ok(()) => SnapshotOutcome::Copied {
                source: source.id,
                target,
            },
            Err(e) if e.code == "DBClusterSnapshotAlreadyExistsFault" => {
                SnapshotOutcome::AlreadyCopied {
                    source: source.id,
                    target,
                }
            }
            Err(e) => SnapshotOutcome::Failed(format!(
                "CopyDBClusterSnapshot {} to {target} in {}: {e}",
                source.id, primary.region
            )),
        }
    }

    /// Publishes to the alert topic; a failure is logged (the failover itself stands).
    async fn alert(&self, subject: &str, message: &str) {
        let s = &self.settings;
        let subject = format!("[tandem {}] {subject}", s.stack);
        if let Err(e) = self
            .topic
            .publish(&s.alert_topic_arn, &subject, message)
            .await
        {
            tracing::error!(topic = %s.alert_topic_arn, region = %s.region, error = %e, "publishing the alert failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{
        HttpAnswer, MockAuroraApi, MockHttpGet, MockMetricsApi, MockParameterApi, MockTopicApi,
        Parameter, Point,
    };
    use crate::probe::Check;
    use crate::PrimaryEndpoints;
    use std::sync::Mutex;

    const PRIMARY_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-t";
    const SECONDARY_ARN: &str = "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-t";
    const NOW: i64 = 1_700_000_000;

    fn policy(automatic: bool) -> Policy {
        Policy {
            primary_cluster_arn: PRIMARY_ARN.into(),
            secondary_cluster_arn: SECONDARY_ARN.into(),
            automatic,
            alarm_max_age_secs: 900,
        }
    }

    fn cluster(writer: &str, failover_status: Option<&str>) -> GlobalClusterView {
        GlobalClusterView {
            writer_arn: Some(writer.into()),
            members: vec![PRIMARY_ARN.into(), SECONDARY_ARN.into()],
            failover_status: failover_status.map(str::to_string),
        }
    }

    fn down() -> ProbeResult {
        ProbeResult {
            api: Check::Failed("Timeout: no answer within 5s".into()),
            nlb: Check::Failed("Timeout: no answer within 5s".into()),
        }
    }

    fn one_failure() -> ProbeResult {
        ProbeResult {
            api: Check::Failed("HTTP 503".into()),
            nlb: Check::Ok,
        }
    }

    fn up() -> ProbeResult {
        ProbeResult {
            api: Check::Ok,
            nlb: Check::Ok,
        }
    }

    fn stalled() -> Replication {
        Replication::Stalled("no AuroraGlobalDBReplicatedWriteIO for the last 3 minutes".into())
    }

    /// Every check holds: quorum (alarm ALARM, 2 minutes ago), primary down, stall.
    fn outage() -> Facts {
        Facts {
            now: NOW,
            alarm: Some(AlarmState {
                value: "ALARM".into(),
                since: NOW - 120,
            }),
            cluster: Some(cluster(PRIMARY_ARN, None)),
            suppressed: false,
            probe: down(),
            replication: stalled(),
        }
    }

    // ---- the pure decision, case by case ----

    #[test]
    fn healthy_primary_holds() {
        let facts = Facts {
            alarm: Some(AlarmState {
                value: "OK".into(),
                since: NOW - 3600,
            }),
            probe: up(),
            replication: Replication::NoStall("AuroraGlobalDBReplicationLag newest 12".into()),
            ..outage()
        };
        assert_eq!(
            decide(&facts, &policy(true)),
            Decision::Hold(Hold::AlarmNotInAlarm("OK".into()))
        );
        // Even with the alarm in ALARM, a fresh probe that passes holds.
        let facts = Facts {
            probe: up(),
            ..outage()
        };
        assert_eq!(
            decide(&facts, &policy(true)),
            Decision::Hold(Hold::PrimaryHealthy)
        );
    }

    #[test]
    fn one_failure_without_quorum_holds() {
        let facts = Facts {
            alarm: Some(AlarmState {
                value: "OK".into(),
                since: NOW - 3600,
            }),
            probe: one_failure(),
            ..outage()
        };
        assert_eq!(
            decide(&facts, &policy(true)),
            Decision::Hold(Hold::AlarmNotInAlarm("OK".into()))
        );
    }

    #[test]
    fn quorum_without_the_replication_stall_holds() {
        let facts = Facts {
            replication: Replication::NoStall("AuroraGlobalDBReplicationLag newest 40".into()),
            ..outage()
        };
        assert!(matches!(
            decide(&facts, &policy(true)),
            Decision::Hold(Hold::NoReplicationStall(_))
        ));
    }

    #[test]
    fn quorum_with_the_replication_stall_fails_over() {
        let d = decide(&outage(), &policy(true));
        assert!(
            matches!(&d, Decision::FailOver(e) if e.contains("ReplicatedWriteIO") && e.contains("Timeout")),
            "{d:?}"
        );
        // One endpoint failing is enough for "still fails".
        let facts = Facts {
            probe: one_failure(),
            ..outage()
        };
        assert!(matches!(
            decide(&facts, &policy(true)),
            Decision::FailOver(_)
        ));
    }

    #[test]
    fn already_failed_over_holds_whatever_else_is_true() {
        let facts = Facts {
            cluster: Some(cluster(SECONDARY_ARN, None)),
            ..outage()
        };
        assert_eq!(
            decide(&facts, &policy(true)),
            Decision::Hold(Hold::AlreadyFailedOver)
        );
    }

    #[test]
    fn failover_in_progress_holds() {
        let facts = Facts {
            cluster: Some(cluster(PRIMARY_ARN, Some("failing-over"))),
            ..outage()
        };
        assert_eq!(
            decide(&facts, &policy(true)),
            Decision::Hold(Hold::FailoverInProgress("failing-over".into()))
        );
    }

    #[test]
    fn automatic_off_alerts_only() {
        let d = decide(&outage(), &policy(false));
        assert!(matches!(&d, Decision::AlertOnly(_)), "{d:?}");
        assert!(d.reason().contains("tandem failover --unplanned"));
    }

    #[test]
    fn drill_suppression_holds() {
        let facts = Facts {
            suppressed: true,
            ..outage()
        };
        assert_eq!(
            decide(&facts, &policy(true)),
            Decision::Hold(Hold::Suppressed)
        );
    }

    #[test]
    fn stale_missing_or_unknown_facts_hold() {
        let stale = Facts {
            alarm: Some(AlarmState {
                value: "ALARM".into(),
                since: NOW - 901,
            }),
            ..outage()
        };
        assert_eq!(
            decide(&stale, &policy(true)),
            Decision::Hold(Hold::AlarmStale(901))
        );
        let no_alarm = Facts {
            alarm: None,
            ..outage()
        };
        assert_eq!(
            decide(&no_alarm, &policy(true)),
            Decision::Hold(Hold::NoAlarm)
        );
        let no_cluster = Facts {
            cluster: None,
            ..outage()
        };
        assert_eq!(
            decide(&no_cluster, &policy(true)),
            Decision::Hold(Hold::NoGlobalCluster)
        );
        let no_writer = Facts {
            cluster: Some(GlobalClusterView::default()),
            ..outage()
        };
        assert_eq!(
            decide(&no_writer, &policy(true)),
            Decision::Hold(Hold::WriterUnknown(None))
        );
    }

    #[test]
    fn triggers_parse() {
        let alarm_event = json!({
            "source": "aws.cloudwatch",
            "alarmArn": "arn:aws:cloudwatch:us-east-2:123456789012:alarm:tandem-t-failover-decision",
            "accountId": "123456789012",
            "time": "2024-01-01T00:00:00.000+0000",
            "region": "us-east-2",
            "alarmData": {
                "alarmName": "tandem-t-failover-decision",
                "state": { "value": "ALARM", "reason": "x", "timestamp": "2024-01-01T00:00:00.000+0000" },
                "previousState": { "value": "OK" },
                "configuration": {}
            }
        });
        assert_eq!(
            Trigger::parse(&alarm_event),
            Trigger::Alarm {
                name: "tandem-t-failover-decision".into(),
                state: "ALARM".into()
            }
        );
        assert_eq!(Trigger::parse(&json!({"source": "probe"})), Trigger::Probe);
        assert_eq!(
            Trigger::parse(&json!({"source": "snapshot"})),
            Trigger::Snapshot
        );
        assert_eq!(Trigger::parse(&json!(null)), Trigger::Other);
    }

    #[test]
    fn lost_writes_snapshot_ids_are_valid_and_deterministic() {
        let snap = |id: &str| ClusterSnapshot {
            id: id.into(),
            cluster_id: "aurora-primary-t".into(),
            created: Some(NOW),
            status: "available".into(),
            kind: "automated".into(),
        };
        let id = lost_writes_snapshot_id("t", &snap("rds:unplanned-global-failover-x"));
        assert_eq!(id, "tandem-t-lost-writes-2023-11-14t22-13-20z");
        let long = lost_writes_snapshot_id(&"s".repeat(80), &snap("x"));
        assert!(
            long.len() <= 63 && long.ends_with("2023-11-14t22-13-20z"),
            "{long}"
        );
        assert!(
            long.starts_with("tandem-") && !long.contains("--"),
            "{long}"
        );
    }

    // ---- the handler over mocks ----

    fn settings(automatic: bool) -> FailoverSettings {
        FailoverSettings {
            region: "us-east-2".into(),
            stack: "t".into(),
            primary: PrimaryEndpoints {
                health_url: "https://abc.execute-api.us-east-1.amazonaws.com/v1/health".into(),
                nlb_url: "https://nlb-1.elb.us-east-1.amazonaws.com/health".into(),
                nlb_address: None,
            },
            decision_alarm: "tandem-t-failover-decision".into(),
            global_cluster_id: "aurora-global-t".into(),
            primary_cluster_arn: PRIMARY_ARN.into(),
            secondary_cluster_arn: SECONDARY_ARN.into(),
            alert_topic_arn: "arn:aws:sns:us-east-2:123456789012:tandem-t-alerts".into(),
            automatic,
            alarm_max_age_secs: 900,
            stall_lag_ms: 60_000.0,
            failover_wait_secs: 30,
        }
    }

    fn http_down() -> MockHttpGet {
        let mut m = MockHttpGet::new();
        m.expect_get()
            .returning(|_| Err(CallError::new("Timeout", "no answer within 5s")));
        m
    }

    fn http_up() -> MockHttpGet {
        let mut m = MockHttpGet::new();
        m.expect_get().returning(|_| {
            Ok(HttpAnswer {
                status: 200,
                body: r#"{"status":"ok","checks":{"database_writer":"ok"}}"#.into(),
            })
        });
        m
    }

    /// The metrics published: (namespace, metric, dimensions, value).
    type Puts = Arc<Mutex<Vec<(String, String, Vec<(String, String)>, f64)>>>;

    /// CloudWatch: the alarm in ALARM since 2 minutes; replicated writes stopped;
    /// PutMetricData accepted (and dropped).
    fn metrics_outage() -> MockMetricsApi {
        metrics_outage_recording(Puts::default(), None)
    }

    /// [`metrics_outage`] recording every PutMetricData into `puts`; `fail` makes them fail.
    fn metrics_outage_recording(puts: Puts, fail: Option<CallError>) -> MockMetricsApi {
        let mut m = MockMetricsApi::new();
        m.expect_put_metric().returning(move |ns, metric, dims, v| {
            puts.lock()
                .unwrap()
                .push((ns.to_string(), metric.to_string(), dims.to_vec(), v));
            match &fail {
                Some(e) => Err(e.clone()),
                None => Ok(()),
            }
        });
        m.expect_alarm_state()
            .withf(|n| n == "tandem-t-failover-decision")
            .returning(|_| {
                Ok(Some(AlarmState {
                    value: "ALARM".into(),
                    since: now_epoch() - 120,
                }))
            });
        m.expect_metric_points().returning(|q| {
            assert_eq!(q.namespace, "AWS/RDS");
            assert_eq!(
                q.dimensions,
                vec![(
                    "DBClusterIdentifier".to_string(),
                    "aurora-secondary-t".to_string()
                )]
            );
            let value = if q.metric == "AuroraGlobalDBReplicatedWriteIO" {
                0.0
            } else {
                500.0
            };
            Ok((1..=5)
                .map(|i| Point {
                    at: q.end - 60 * i,
                    value,
                })
                .collect())
        });
        m
    }

    fn params(suppressed: bool) -> MockParameterApi {
        let mut m = MockParameterApi::new();
        m.expect_get()
            .withf(|n| n == "/tandem/t/failover/suppressed")
            .returning(move |_| {
                Ok(suppressed.then(|| Parameter {
                    value: "true".into(),
                    kind: "String".into(),
                }))
            });
        m
    }

    /// An RDS mock whose DescribeGlobalClusters answers from a shared writer cell.
    fn aurora_with_writer(
        writer: Arc<Mutex<String>>,
        status: Option<&'static str>,
    ) -> MockAuroraApi {
        let mut m = MockAuroraApi::new();
        m.expect_describe_global_cluster()
            .withf(|id| id == "aurora-global-t")
            .returning(move |_| Ok(Some(cluster(&writer.lock().unwrap(), status))));
        m
    }

    struct Alerts(Arc<Mutex<Vec<(String, String)>>>);

    fn topic() -> (MockTopicApi, Alerts) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut m = MockTopicApi::new();
        let s = sent.clone();
        m.expect_publish()
            .withf(|t, _, _| t == "arn:aws:sns:us-east-2:123456789012:tandem-t-alerts")
            .returning(move |_, subject, message| {
                s.lock()
                    .unwrap()
                    .push((subject.to_string(), message.to_string()));
                Ok(())
            });
        (m, Alerts(sent))
    }

    #[allow(clippy::too_many_arguments)]
    fn handler(
        automatic: bool,
        http: fn() -> MockHttpGet,
        metrics: MockMetricsApi,
        aurora: MockAuroraApi,
        primary_aurora: MockAuroraApi,
        parameters: MockParameterApi,
        topic: MockTopicApi,
    ) -> Failover {
        Failover {
            settings: settings(automatic),
            api_http: Arc::new(http()),
            nlb_http: Arc::new(http()),
            metrics: Arc::new(metrics),
            aurora: Arc::new(aurora),
            primary_aurora: Arc::new(primary_aurora),
            parameters: Arc::new(parameters),
            topic: Arc::new(topic),
        }
    }

    fn unplanned_snapshot(status: &str) -> ClusterSnapshot {
        ClusterSnapshot {
            id: "rds:unplanned-global-failover-aurora-primary-t-2023-11-14-22-13".into(),
            cluster_id: "aurora-primary-t".into(),
            created: Some(NOW),
            status: status.into(),
            kind: "automated".into(),
        }
    }

    /// The secondary-region RDS mock for a failover: the writer moves to the secondary
    /// when FailoverGlobalCluster succeeds; the first `throttles` calls are throttled.
    fn aurora_failing_over(throttles: usize, calls: Arc<Mutex<usize>>) -> MockAuroraApi {
        let writer = Arc::new(Mutex::new(PRIMARY_ARN.to_string()));
        let mut m = aurora_with_writer(writer.clone(), None);
        m.expect_failover_global_cluster()
            .withf(|id, target| id == "aurora-global-t" && target == SECONDARY_ARN)
            .times(throttles + 1)
            .returning(move |_, _| {
                let mut n = calls.lock().unwrap();
                *n += 1;
                if *n <= throttles {
                    Err(CallError::new("Throttling", "Rate exceeded"))
                } else {
                    *writer.lock().unwrap() = SECONDARY_ARN.to_string();
                    Ok(())
                }
            });
        m
    }

    #[tokio::test(start_paused = true)]
    async fn outage_fails_over_copies_the_snapshot_and_alerts() {
        let calls = Arc::new(Mutex::new(0));
        let mut primary = MockAuroraApi::new();
        primary
            .expect_cluster_snapshots()
            .withf(|c| c == "aurora-primary-t")
            .times(1)
            .returning(|_| {
                Ok(vec![
                    ClusterSnapshot {
                        id: "rds:aurora-primary-t-2023-11-13-03-00".into(),
                        ..unplanned_snapshot("available")
                    },
                    unplanned_snapshot("available"),
                ])
            });
        primary
            .expect_copy_cluster_snapshot()
            .withf(|src, dst| {
                src == "rds:unplanned-global-failover-aurora-primary-t-2023-11-14-22-13"
                    && dst == "tandem-t-lost-writes-2023-11-14t22-13-20z"
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let (topic, alerts) = topic();
        let puts = Puts::default();
        let out = handler(
            true,
            http_down,
            metrics_outage_recording(puts.clone(), None),
            aurora_failing_over(0, calls.clone()),
            primary,
            params(false),
            topic,
        )
        .handle(json!({"source": "aws.cloudwatch", "alarmData": {"alarmName": "tandem-t-failover-decision", "state": {"value": "ALARM"}}}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "fail-over", "{out}");
        assert_eq!(out["failover"], "started");
        assert_eq!(out["writer_moved"], true);
        assert_eq!(out["failed_over_metric"], "FailedOver=1 published");
        assert_eq!(*calls.lock().unwrap(), 1);
        // Once the writer moved: FailedOver = 1, once, in the controller's namespace.
        assert_eq!(
            *puts.lock().unwrap(),
            vec![(
                "Tandem/Failover".to_string(),
                "FailedOver".to_string(),
                vec![("Stack".to_string(), "t".to_string())],
                1.0
            )]
        );
        let alerts = alerts.0.lock().unwrap();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let (subject, message) = &alerts[0];
        assert!(subject.starts_with("[tandem t] failed over"), "{subject}");
        assert!(
            message.contains("tandem-t-lost-writes-2023-11-14t22-13-20z")
                && message.contains("AllowDataLoss=true")
                && message.contains("ReplicatedWriteIO"),
            "{message}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_then_retried_then_succeeding() {
        let calls = Arc::new(Mutex::new(0));
        let mut primary = MockAuroraApi::new();
        // The old primary's region is still down: the snapshot is reported for later.
        primary
            .expect_cluster_snapshots()
            .returning(|_| Err(CallError::new("SdkError", "dispatch failure: timeout")));
        let (topic, alerts) = topic();
        let out = handler(
            true,
            http_down,
            metrics_outage(),
            aurora_failing_over(2, calls.clone()),
            primary,
            params(false),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["failover"], "started", "{out}");
        assert_eq!(
            *calls.lock().unwrap(),
            3,
            "two throttled calls, then success"
        );
        let alerts = alerts.0.lock().unwrap();
        assert!(
            alerts[0].1.contains("not copied yet")
                && alerts[0].1.contains("\"source\":\"snapshot\""),
            "{alerts:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_every_time_gives_up_after_the_bound_and_alerts() {
        let mut aurora = aurora_with_writer(Arc::new(Mutex::new(PRIMARY_ARN.into())), None);
        aurora
            .expect_failover_global_cluster()
            .times(FAILOVER_ATTEMPTS as usize)
            .returning(|_, _| Err(CallError::new("Throttling", "Rate exceeded")));
        let (topic, alerts) = topic();
        let err = handler(
            true,
            http_down,
            metrics_outage(),
            aurora,
            MockAuroraApi::new(),
            params(false),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap_err();
        assert!(matches!(err, FailoverError::Failover { .. }), "{err}");
        let alerts = alerts.0.lock().unwrap();
        assert!(alerts[0].0.contains("FAILED"), "{alerts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_failed_over_publish_is_reported_and_the_failover_stands() {
        let calls = Arc::new(Mutex::new(0));
        let mut primary = MockAuroraApi::new();
        primary
            .expect_cluster_snapshots()
            .returning(|_| Ok(Vec::new()));
        let (topic, alerts) = topic();
        let puts = Puts::default();
        let out = handler(
            true,
            http_down,
            metrics_outage_recording(
                puts.clone(),
                Some(CallError::new("SdkError", "dispatch failure: timeout")),
            ),
            aurora_failing_over(0, calls.clone()),
            primary,
            params(false),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["failover"], "started", "{out}");
        assert_eq!(out["writer_moved"], true, "{out}");
        assert_eq!(
            out["failed_over_metric"],
            "FailedOver not published: SdkError: dispatch failure: timeout"
        );
        assert_eq!(puts.lock().unwrap().len(), 1);
        assert!(alerts.0.lock().unwrap()[0].0.contains("failed over"));
    }

    #[tokio::test(start_paused = true)]
    async fn no_failed_over_metric_while_the_writer_has_not_moved() {
        // FailoverGlobalCluster is accepted but the writer never moves within the wait.
        let mut aurora = aurora_with_writer(Arc::new(Mutex::new(PRIMARY_ARN.into())), None);
        aurora
            .expect_failover_global_cluster()
            .times(1)
            .returning(|_, _| Ok(()));
        let (topic, alerts) = topic();
        let puts = Puts::default();
        let out = handler(
            true,
            http_down,
            metrics_outage_recording(puts.clone(), None),
            aurora,
            MockAuroraApi::new(),
            params(false),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["writer_moved"], false, "{out}");
        assert_eq!(
            out["failed_over_metric"],
            "FailedOver not published: the writer has not moved yet"
        );
        assert!(puts.lock().unwrap().is_empty());
        assert!(alerts.0.lock().unwrap()[0].0.contains("not moved yet"));
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_global_cluster_state_is_a_failover_under_way() {
        let writer = Arc::new(Mutex::new(PRIMARY_ARN.to_string()));
        let mut aurora = aurora_with_writer(writer.clone(), None);
        aurora
            .expect_failover_global_cluster()
            .times(1)
            .returning(move |_, _| {
                // Someone else's failover moves the writer meanwhile.
                *writer.lock().unwrap() = SECONDARY_ARN.to_string();
                Err(CallError::new(
                    "InvalidGlobalClusterStateFault",
                    "The global cluster is in the middle of a failover",
                ))
            });
        let mut primary = MockAuroraApi::new();
        primary
            .expect_cluster_snapshots()
            .returning(|_| Ok(vec![unplanned_snapshot("creating")]));
        let (topic, alerts) = topic();
        let out = handler(
            true,
            http_down,
            metrics_outage(),
            aurora,
            primary,
            params(false),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["failover"], "already-underway", "{out}");
        assert!(
            out["snapshot"].as_str().unwrap().contains("is creating"),
            "{out}"
        );
        assert_eq!(alerts.0.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn failover_in_progress_does_nothing() {
        // No failover_global_cluster expectation: a call would panic.
        let aurora = aurora_with_writer(
            Arc::new(Mutex::new(PRIMARY_ARN.into())),
            Some("failing-over"),
        );
        let (topic, alerts) = topic();
        let out = handler(
            true,
            http_down,
            metrics_outage(),
            aurora,
            MockAuroraApi::new(),
            params(false),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "hold:failover-in-progress");
        assert!(alerts.0.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn suppressed_does_nothing() {
        let aurora = aurora_with_writer(Arc::new(Mutex::new(PRIMARY_ARN.into())), None);
        let (topic, alerts) = topic();
        let out = handler(
            true,
            http_down,
            metrics_outage(),
            aurora,
            MockAuroraApi::new(),
            params(true),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "hold:suppressed");
        assert!(alerts.0.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn healthy_fresh_probe_does_nothing() {
        let aurora = aurora_with_writer(Arc::new(Mutex::new(PRIMARY_ARN.into())), None);
        let (topic, _alerts) = topic();
        let out = handler(
            true,
            http_up,
            metrics_outage(),
            aurora,
            MockAuroraApi::new(),
            params(false),
            topic,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "hold:primary-healthy");
    }

    #[tokio::test(start_paused = true)]
    async fn automatic_off_alerts_on_the_alarm_not_on_each_probe() {
        let aurora = || aurora_with_writer(Arc::new(Mutex::new(PRIMARY_ARN.into())), None);
        let (topic1, alerts) = topic();
        let out = handler(
            false,
            http_down,
            metrics_outage(),
            aurora(),
            MockAuroraApi::new(),
            params(false),
            topic1,
        )
        .handle(json!({"source": "aws.cloudwatch", "alarmData": {"alarmName": "x", "state": {"value": "ALARM"}}}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "alert-only");
        {
            let alerts = alerts.0.lock().unwrap();
            assert_eq!(alerts.len(), 1);
            assert!(
                alerts[0].1.contains("tandem failover --unplanned"),
                "{alerts:?}"
            );
        }
        let (topic2, alerts2) = topic();
        let out = handler(
            false,
            http_down,
            metrics_outage(),
            aurora(),
            MockAuroraApi::new(),
            params(false),
            topic2,
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "alert-only");
        assert!(alerts2.0.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn already_failed_over_only_copies_the_snapshot_once() {
        let aurora = aurora_with_writer(Arc::new(Mutex::new(SECONDARY_ARN.into())), None);
        let mut primary = MockAuroraApi::new();
        primary
            .expect_cluster_snapshots()
            .returning(|_| Ok(vec![unplanned_snapshot("available")]));
        primary
            .expect_copy_cluster_snapshot()
            .times(1)
            .returning(|_, _| {
                Err(CallError::new(
                    "DBClusterSnapshotAlreadyExistsFault",
                    "already exists",
                ))
            });
        let (topic, alerts) = topic();
        let out = handler(
            true,
            http_up,
            metrics_outage(),
            aurora,
            primary,
            params(false),
            topic,
        )
        .handle(json!({"source": "snapshot"}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "hold:already-failed-over");
        assert!(
            out["snapshot"].as_str().unwrap().contains("already copied"),
            "{out}"
        );
        assert!(
            alerts.0.lock().unwrap().is_empty(),
            "no alert for an old copy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dry_run_decides_and_does_nothing() {
        // No failover expectation, no topic expectation: any action would panic.
        let aurora = aurora_with_writer(Arc::new(Mutex::new(PRIMARY_ARN.into())), None);
        let puts = Puts::default();
        let out = handler(
            true,
            http_down,
            metrics_outage_recording(puts.clone(), None),
            aurora,
            MockAuroraApi::new(),
            params(false),
            MockTopicApi::new(),
        )
        .handle(json!({"dry_run": true}))
        .await
        .unwrap();
        assert_eq!(out["decision"], "fail-over");
        assert_eq!(out["dry_run"], true);
        assert!(puts.lock().unwrap().is_empty(), "no metric in a dry run");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_read_is_an_error_and_no_action() {
        let mut aurora = MockAuroraApi::new();
        aurora
            .expect_describe_global_cluster()
            .returning(|_| Err(CallError::new("SdkError", "timeout")));
        let err = handler(
            true,
            http_down,
            metrics_outage(),
            aurora,
            MockAuroraApi::new(),
            params(false),
            MockTopicApi::new(),
        )
        .handle(json!({"source": "probe"}))
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("global cluster aurora-global-t"),
            "{err}"
        );
    }
}
