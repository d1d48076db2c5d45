//! Aurora's own view of the primary (signal (b) of `../shared/DR.md`): the secondary
//! cluster's replication metrics, published by Aurora in the secondary region, show the
//! primary stalled. One rule, shared by the probe (`PrimaryDown`, see [`crate::probe`]) and
//! the failover handler (row 6 of its decision, see [`crate::failover`]).
//!
//! The rule ([`replication_evidence`]), over the last [`STALL_WINDOW_SECS`] of one-minute
//! datapoints of the secondary cluster (`AWS/RDS`, `DBClusterIdentifier = <secondary>`):
//! the newest [`STALL_POINTS`] `AuroraGlobalDBReplicationLag` maxima all at or above the
//! lag threshold (`STALL_LAG_MS`, default [`DEFAULT_STALL_LAG_MS`]), or the newest
//! [`STALL_POINTS`] `AuroraGlobalDBReplicatedWriteIO` sums all zero. Fewer datapoints than
//! that is no evidence (missing data is not a stall); a growing lag below the threshold is
//! not one either.

use crate::clients::{CallError, MetricQuery, MetricsApi, Point};

/// Consecutive one-minute datapoints a stall needs.
pub const STALL_POINTS: usize = 3;
/// The replication metrics' look-back window.
pub const STALL_WINDOW_SECS: i64 = 600;
/// Replication lag (ms) that counts as a stall unless `STALL_LAG_MS` says otherwise.
pub const DEFAULT_STALL_LAG_MS: f64 = 60_000.0;
/// Namespace of Aurora's metrics.
pub const RDS_NAMESPACE: &str = "AWS/RDS";
/// The metrics' cluster dimension.
pub const CLUSTER_DIMENSION: &str = "DBClusterIdentifier";
/// Replication lag of the secondary behind the primary (ms), read as `Maximum`.
pub const LAG_METRIC: &str = "AuroraGlobalDBReplicationLag";
/// Write I/O replicated to the secondary, read as `Sum`.
pub const WRITES_METRIC: &str = "AuroraGlobalDBReplicatedWriteIO";

/// What the replication metrics say.
#[derive(Debug, Clone, PartialEq)]
pub enum Replication {
    /// Evidence the primary stalled.
    Stalled(String),
    /// No evidence (replication flowing, or no data: missing data is not a stall).
    NoStall(String),
}

impl Replication {
    pub fn stalled(&self) -> bool {
        matches!(self, Replication::Stalled(_))
    }

    /// The evidence or its absence, in words.
    pub fn describe(&self) -> &str {
        match self {
            Replication::Stalled(e) | Replication::NoStall(e) => e,
        }
    }
}

/// The stall rule over the datapoints (any order); see the module documentation.
pub fn replication_evidence(lag: &[Point], writes: &[Point], lag_threshold_ms: f64) -> Replication {
    fn newest(points: &[Point]) -> Vec<Point> {
        let mut p = points.to_vec();
        p.sort_by_key(|p| p.at);
        p.into_iter().rev().take(STALL_POINTS).collect()
    }
    let lag = newest(lag);
    let writes = newest(writes);
    if lag.len() == STALL_POINTS && lag.iter().all(|p| p.value >= lag_threshold_ms) {
        return Replication::Stalled(format!(
            "{LAG_METRIC} >= {lag_threshold_ms} ms for the last {STALL_POINTS} minutes (newest {} ms)",
            lag[0].value
        ));
    }
    if writes.len() == STALL_POINTS && writes.iter().all(|p| p.value == 0.0) {
        return Replication::Stalled(format!(
            "no {WRITES_METRIC} for the last {STALL_POINTS} minutes"
        ));
    }
    let describe = |name: &str, p: &[Point]| match p.first() {
        None => format!("no {name} datapoints"),
        Some(newest) => format!("{name} newest {}", newest.value),
    };
    Replication::NoStall(format!(
        "{}; {}",
        describe(LAG_METRIC, &lag),
        describe(WRITES_METRIC, &writes)
    ))
}

/// The two GetMetricStatistics queries of the rule for `cluster_id` (the secondary
/// cluster's identifier), ending at `now` (epoch seconds): lag (Maximum), writes (Sum).
pub fn queries(cluster_id: &str, now: i64) -> (MetricQuery, MetricQuery) {
    let query = |metric: &str, statistic: &str| MetricQuery {
        namespace: RDS_NAMESPACE.into(),
        metric: metric.into(),
        dimensions: vec![(CLUSTER_DIMENSION.into(), cluster_id.to_string())],
        statistic: statistic.into(),
        period_secs: 60,
        start: now - STALL_WINDOW_SECS,
        end: now,
    };
    (query(LAG_METRIC, "Maximum"), query(WRITES_METRIC, "Sum"))
}

/// A replication metric could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("reading {what} failed: {source}")]
pub struct StallReadError {
    /// `AWS/RDS <metric> of <cluster>`.
    pub what: String,
    pub source: CallError,
}

/// Reads both metrics (concurrently, in the client's region) and applies the rule.
pub async fn read_replication(
    metrics: &dyn MetricsApi,
    cluster_id: &str,
    now: i64,
    lag_threshold_ms: f64,
) -> Result<Replication, StallReadError> {
    let (lag_q, writes_q) = queries(cluster_id, now);
    let (lag, writes) = tokio::join!(
        metrics.metric_points(&lag_q),
        metrics.metric_points(&writes_q)
    );
    let read = |q: &MetricQuery| {
        let what = format!("{RDS_NAMESPACE} {} of {cluster_id}", q.metric);
        move |source| StallReadError { what, source }
    };
    let lag = lag.map_err(read(&lag_q))?;
    let writes = writes.map_err(read(&writes_q))?;
    Ok(replication_evidence(&lag, &writes, lag_threshold_ms))
}

/// Seconds since the epoch (0 if the clock is before it).
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::MockMetricsApi;

    const NOW: i64 = 1_700_000_000;

    fn pts(values: &[f64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                at: NOW - 600 + 60 * i as i64,
                value: *v,
            })
            .collect()
    }

    #[test]
    fn replication_evidence_rules() {
        // Lag above the threshold for the newest 3 minutes.
        assert!(matches!(
            replication_evidence(&pts(&[10.0, 70_000.0, 130_000.0, 190_000.0]), &[], 60_000.0),
            Replication::Stalled(_)
        ));
        // Lag growing but below the threshold: no stall.
        assert!(matches!(
            replication_evidence(
                &pts(&[10.0, 20.0, 40.0, 80.0]),
                &pts(&[5.0, 5.0, 5.0]),
                60_000.0
            ),
            Replication::NoStall(_)
        ));
        // No replicated writes for the newest 3 minutes (older writes do not matter).
        assert!(matches!(
            replication_evidence(&[], &pts(&[9.0, 0.0, 0.0, 0.0]), 60_000.0),
            Replication::Stalled(_)
        ));
        // Two zero minutes are not enough; no data at all is no evidence.
        assert!(matches!(
            replication_evidence(&[], &pts(&[0.0, 0.0]), 60_000.0),
            Replication::NoStall(_)
        ));
        assert_eq!(
            replication_evidence(&[], &[], 60_000.0),
            Replication::NoStall(
                "no AuroraGlobalDBReplicationLag datapoints; no AuroraGlobalDBReplicatedWriteIO datapoints".into()
            )
        );
        // Order of the datapoints does not matter.
        let mut shuffled = pts(&[0.0, 0.0, 0.0, 9.0]);
        shuffled.reverse();
        assert!(matches!(
            replication_evidence(&[], &shuffled, 60_000.0),
            Replication::NoStall(_)
        ));
    }

    #[test]
    fn the_queries_read_the_secondary_clusters_last_ten_minutes() {
        let (lag, writes) = queries("aurora-secondary-t", NOW);
        for (q, metric, stat) in [
            (&lag, "AuroraGlobalDBReplicationLag", "Maximum"),
            (&writes, "AuroraGlobalDBReplicatedWriteIO", "Sum"),
        ] {
            assert_eq!(q.namespace, "AWS/RDS");
            assert_eq!(q.metric, metric);
            assert_eq!(q.statistic, stat);
            assert_eq!(
                q.dimensions,
                vec![(
                    "DBClusterIdentifier".to_string(),
                    "aurora-secondary-t".to_string()
                )]
            );
            assert_eq!((q.start, q.end, q.period_secs), (NOW - 600, NOW, 60));
        }
    }

    #[tokio::test]
    async fn read_replication_applies_the_rule_or_names_the_metric_it_could_not_read() {
        let mut m = MockMetricsApi::new();
        m.expect_metric_points().times(2).returning(|q| {
            Ok(if q.metric == WRITES_METRIC {
                pts(&[0.0, 0.0, 0.0])
            } else {
                Vec::new()
            })
        });
        let r = read_replication(&m, "aurora-secondary-t", NOW, 60_000.0)
            .await
            .unwrap();
        assert!(r.stalled(), "{r:?}");

        let mut m = MockMetricsApi::new();
        m.expect_metric_points().returning(|q| {
            if q.metric == LAG_METRIC {
                Err(CallError::new("Throttling", "Rate exceeded"))
            } else {
                Ok(Vec::new())
            }
        });
        let e = read_replication(&m, "aurora-secondary-t", NOW, 60_000.0)
            .await
            .unwrap_err();
        assert_eq!(
            e.what,
            "AWS/RDS AuroraGlobalDBReplicationLag of aurora-secondary-t"
        );
        assert_eq!(e.source.code, "Throttling");
    }
}
