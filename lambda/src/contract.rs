//! The names the failover controller shares with the rest of Tandem: its CloudWatch
//! metrics (namespace, metric names, dimension) and the SSM flags it reads. The deploying
//! side (`crates/compute`, the CLI) takes them from `tandem_core::contracts::{failover_metrics,
//! failover_flags}`; this crate does not depend on the core, so it spells them here and a
//! unit test (with `tandem-core` as a dev-dependency) keeps both equal.

/// Namespace of every controller metric.
pub const NAMESPACE: &str = "Tandem/Failover";
/// The header clients send the API key in.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Leaf (under the stack's parameter path) of the String holding the API key's SHA-256.
pub const API_KEY_SHA256_LEAF: &str = "api-key-sha256";

/// The one dimension of every controller metric: `Stack = <environment suffix>`.
pub const DIMENSION: &str = "Stack";
/// The probe's raw signal (a): 1 when the primary's API and NLB answer, else 0.
pub const PRIMARY_HEALTHY: &str = "PrimaryHealthy";
/// The decision input the decision alarm watches: 1 when the probe fails AND the secondary
/// cluster's replication shows the primary stalled, or when the forced flag is `true`.
pub const PRIMARY_DOWN: &str = "PrimaryDown";
/// 1 when the failover handler moved the Aurora writer to the secondary.
pub const FAILED_OVER: &str = "FailedOver";

/// `/tandem/<stack>/failover/suppressed` (this region): `true` makes the failover handler
/// hold (drills).
pub fn suppressed_flag(stack: &str) -> String {
    format!("/tandem/{stack}/failover/suppressed")
}

/// `/tandem/<stack>/failover/forced` (this region): `true` makes the probe report
/// `PrimaryDown` = 1 whatever it measures (set by `tandem failover`, cleared by
/// `tandem switchover --to primary`).
pub fn forced_flag(stack: &str) -> String {
    format!("/tandem/{stack}/failover/forced")
}

/// The `Stack` dimension of a controller metric.
pub fn dimensions(stack: &str) -> Vec<(String, String)> {
    vec![(DIMENSION.to_string(), stack.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::contracts::{failover_flags, failover_metrics};

    #[test]
    fn the_lambda_names_are_the_cores_contract() {
        assert_eq!(NAMESPACE, failover_metrics::NAMESPACE);
        assert_eq!(DIMENSION, failover_metrics::DIMENSION);
        assert_eq!(PRIMARY_HEALTHY, failover_metrics::PRIMARY_HEALTHY);
        assert_eq!(PRIMARY_DOWN, failover_metrics::PRIMARY_DOWN);
        assert_eq!(FAILED_OVER, failover_metrics::FAILED_OVER);
        assert_eq!(API_KEY_HEADER, tandem_core::contracts::api_key::HEADER);
        assert_eq!(API_KEY_SHA256_LEAF, tandem_core::contracts::api_key::SHA256_LEAF);
        for stack in ["t", "dev", "prod-1"] {
            assert_eq!(suppressed_flag(stack), failover_flags::suppressed(stack));
            assert_eq!(forced_flag(stack), failover_flags::forced(stack));
        }
        assert_eq!(
            dimensions("dev"),
            vec![(failover_metrics::DIMENSION.to_string(), "dev".to_string())]
        );
    }
}
