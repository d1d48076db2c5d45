//! `tandem-data`: the stack's data layer in both regions.
//!
//! One file per AWS resource family:
//! - [`s3`]: regional buckets, the replication role and the CRR configuration with RTC.
//! - [`dynamodb`]: the DynamoDB global table (2019.11.21) and its replica;
//!   `dynamodb_fake` simulates the replica where the emulator lacks it.
//! - [`aurora`]: the Aurora Global Database (Serverless v2) and the switchover/failover
//!   operations; `aurora_fake` simulates global failover where the emulator lacks it.
//! - [`backup`]: AWS Backup vaults, plan with cross-region copy, selection;
//!   `backup_fake` simulates selections and recovery points where the emulator lacks them.
//! - [`ssm`]: Parameter Store parameters and the two-region reconcile.
//! - [`ssm_replication`]: the EventBridge rule that drives the replicator Lambda.
//! - [`iam`]: IAM role helpers shared by S3 replication and Backup.

use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::{Component, Config};

pub mod aurora;
pub mod backup;
pub mod dynamodb;
pub mod iam;
pub mod s3;
pub mod ssm;
pub mod ssm_replication;

pub use aurora::aurora_switchover;

/// Every data component of the stack, with real clients (or the simulated fakes listed in
/// `cfg.simulate`).
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
