//! `tandem-data`: the stack's data layer in both regions.
//!
//! One file per AWS resource family:
//! - [`s3`]: regional buckets, the replication role and the CRR configuration with RTC.
//! - [`dynamodb`]: the DynamoDB global table (2019.11.21) and its replica.
//! - [`aurora`]: the Aurora Global Database (Serverless v2) and the switchover/failover
//!   operations.
//! - [`aurora_failover`]: the writer moves `tandem failover` / `tandem switchover` run.
//! - [`backup`]: AWS Backup vaults, plan with cross-region copy, selection.
//! - [`ssm`]: Parameter Store parameters and the two-region reconcile.
//! - [`ssm_replication`]: the EventBridge rule that drives the replicator Lambda.
//! - [`iam`]: IAM role helpers shared by S3 replication and Backup.

use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::{Component, Config};

pub mod aurora;
pub mod aurora_failover;
pub mod backup;
pub mod dynamodb;
pub mod iam;
pub mod s3;
pub mod ssm;
pub mod ssm_replication;

pub use aurora_failover::{fail_over_to_secondary, switch_over, WriterMove};

/// Sends `call` until AWS accepts it or answers something else than what `wait_on` matches
/// (a refusal meaning "not yet": a fresh IAM role, a busy table or cluster, a vault with late
/// recovery points), for at most `timeout`, with a doubling pause (the poll interval up to
/// 15 s). A refused request did nothing, so sending it again is safe; any other answer,
/// ambiguous ones included, goes back to the caller (the core's protocol).
pub(crate) async fn until_accepted<T, F, Fut, W>(timeout: std::time::Duration, mut call: F, wait_on: W) -> Result<T, tandem_core::AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tandem_core::AwsError>>,
    W: Fn(&tandem_core::AwsError) -> bool,
{
    let start = tokio::time::Instant::now();
    let mut delay = tandem_core::aws::poll_base_interval();
    loop {
        match call().await {
            Err(e) if wait_on(&e) && start.elapsed() + delay <= timeout => {
                tracing::info!(code = %e.code, message = %e.message, "not accepted yet; waiting");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(15));
            }
            other => return other,
        }
    }
}

/// How far a destroy's data summary counts objects or recovery points before it stops and
/// says "10,000+" (counting is listing: bounded in pages and time).
pub(crate) const COUNT_LIMIT: usize = 10_000;

/// `12345` → `12,345`.
pub(crate) fn thousands(n: impl Into<i64>) -> String {
    let n: i64 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// A count that stopped at [`COUNT_LIMIT`]: `10,000+` when `more`, else the number.
pub(crate) fn bounded_count(n: usize, more: bool) -> String {
    let n = thousands(i64::try_from(n).unwrap_or(i64::MAX));
    if more {
        format!("{n}+")
    } else {
        n
    }
}

/// `3145728` → `3.0 MiB`.
pub(crate) fn human_bytes(b: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Every data component of the stack, with real clients.
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let mut all: Vec<Arc<dyn Component>> = Vec::new();
    all.extend(s3::components(cfg, aws));
    all.extend(dynamodb::components(cfg, aws));
    all.extend(aurora::components(cfg, aws));
    all.extend(backup::components(cfg, aws));
    all.extend(ssm::components(cfg, aws));
    all.extend(ssm_replication::components(cfg, aws));
    all
}

#[cfg(test)]
mod count_tests {
    use super::*;

    #[test]
    fn counts_and_sizes_read_like_a_person_would_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1234), "-1,234");
        assert_eq!(bounded_count(10_000, true), "10,000+");
        assert_eq!(bounded_count(7, false), "7");
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
