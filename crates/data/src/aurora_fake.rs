//! Simulated Aurora global failover (`simulate = ["rds-global-failover"]`) for emulators
//! that lack it.
//!
//! moto 5.2 has no SwitchoverGlobalCluster / FailoverGlobalCluster, and it keeps global
//! clusters in one region's backend: a secondary cluster created in another region becomes a
//! member that RemoveFromGlobalCluster cannot detach (the call answers 200 and changes
//! nothing), so DeleteGlobalCluster then fails for ever with "is not empty".
//!
//! [`SimulatedGlobalFailover`] implements the same [`RdsApi`] over the real (emulator)
//! client of its region and forwards every call, except:
//! - a **secondary** cluster (a credential-less CreateDBCluster naming a global cluster that
//!   already has a writer) is created in the emulator without a real membership, and its
//!   membership is simulated with the tag `tandem:simulated-global-member=<global id>`;
//! - DescribeGlobalClusters adds the simulated members and reports the simulated writer;
//! - RemoveFromGlobalCluster of a simulated member removes the tag;
//! - SwitchoverGlobalCluster / FailoverGlobalCluster swap the writer/reader roles, recorded
//!   with the tag `tandem:simulated-global-writer=true` on the simulated member that became
//!   writer, so the swap survives the process (the CLI runs switchover in its own process).
//!
//! State lives in the emulator's tags, so every process sees the same roles.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tandem_core::AwsError;

use super::api::{
    ClusterInfo, ClusterSpec, GlobalClusterInfo, GlobalMember, InstanceInfo, RdsApi,
    SubnetGroupInfo,
};

/// Marks a cluster whose global-cluster membership is simulated; value: global cluster id.
pub const SIM_MEMBER_TAG: &str = "tandem:simulated-global-member";
/// Marks the simulated member that is currently the writer (after a switchover/failover).
pub const SIM_WRITER_TAG: &str = "tandem:simulated-global-writer";

/// An [`RdsApi`] that simulates cross-region global membership and failover over the real
/// client of its region. `regions` holds the real clients of every region of the stack.
pub struct SimulatedGlobalFailover {
    region: String,
    regions: BTreeMap<String, Arc<dyn RdsApi>>,
}

impl SimulatedGlobalFailover {
    /// `region` must be a key of `regions`.
    pub fn new(region: &str, regions: BTreeMap<String, Arc<dyn RdsApi>>) -> Self {
        Self {
            region: region.to_string(),
            regions,
        }
    }

    fn local(&self) -> Result<&Arc<dyn RdsApi>, AwsError> {
        self.client_for(&self.region)
    }

    fn client_for(&self, region: &str) -> Result<&Arc<dyn RdsApi>, AwsError> {
        self.regions.get(region).ok_or_else(|| {
            AwsError::other(
                "InvalidParameterValue",
                format!("no simulated RDS client for region {region}"),
            )
        })
    }

    /// The clusters (in every region) whose membership of `global_id` is simulated.
    async fn simulated_members(&self, global_id: &str) -> Result<Vec<ClusterInfo>, AwsError> {
        let mut out = Vec::new();
        for client in self.regions.values() {
            for c in client.list_clusters().await? {
                if c.tag(SIM_MEMBER_TAG) == Some(global_id) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// The region and cluster identifier in a cluster ARN `arn:aws:rds:<region>:<acct>:cluster:<id>`.
    fn parse_arn(arn: &str) -> Option<(String, String)> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", _, "rds", region, _, "cluster", id] => {
                Some((region.to_string(), id.to_string()))
            }
            _ => None,
        }
    }

    async fn set_writer(&self, global_id: &str, target_arn: &str) -> Result<(), AwsError> {
        let g = self
            .describe_global_cluster(global_id)
            .await?
            .ok_or_else(|| {
                AwsError::not_found(
                    "GlobalClusterNotFoundFault",
                    format!("global cluster {global_id} not found"),
                )
            })?;
        if g.member(target_arn).is_none() {
            return Err(AwsError::other(
                "InvalidParameterValue",
                format!("{target_arn} is not a member of global cluster {global_id}"),
            ));
        }
        for m in self.simulated_members(global_id).await? {
            let client = Self::parse_arn(&m.arn)
                .map(|(r, _)| r)
                .unwrap_or_else(|| self.region.clone());
            let client = self.client_for(&client)?;
            if m.arn == target_arn {
                client
                    .add_tags(
                        &m.arn,
                        vec![(SIM_WRITER_TAG.to_string(), "true".to_string())],
                    )
                    .await?;
            } else if m.tag(SIM_WRITER_TAG).is_some() {
                client
                    .remove_tags(&m.arn, vec![SIM_WRITER_TAG.to_string()])
                    .await?;
            }
        }
        tracing::info!(
            global_cluster = global_id,
            writer = target_arn,
            "simulated global failover: roles swapped"
        );
        Ok(())
    }

    /// Reports the simulated membership on a cluster described by the emulator.
    fn overlay(mut c: ClusterInfo) -> ClusterInfo {
        match c.tag(SIM_MEMBER_TAG).map(str::to_string) {
            Some(g) => c.global_cluster_id = Some(g),
            // Created detached by this fake (its global identifier is the ARN) and since removed.
            None if c
                .global_cluster_id
                .as_deref()
                .is_some_and(|g| g.starts_with("arn:")) =>
            {
                c.global_cluster_id = None
            }
            None => {}
        }
        c
    }
}

#[async_trait]
impl RdsApi for SimulatedGlobalFailover {
    async fn describe_global_cluster(
        &self,
        id: &str,
    ) -> Result<Option<GlobalClusterInfo>, AwsError> {
        let Some(mut g) = self.local()?.describe_global_cluster(id).await? else {
            return Ok(None);
        };
        let sims = self.simulated_members(id).await?;
        let sim_writer = sims.iter().any(|c| c.tag(SIM_WRITER_TAG) == Some("true"));
        if sim_writer {
            for m in &mut g.members {
                m.is_writer = false;
            }
        }
        for c in sims {
            if g.member(&c.arn).is_none() {
                g.members.push(GlobalMember {
                    is_writer: c.tag(SIM_WRITER_TAG) == Some("true"),
                    cluster_arn: c.arn,
                });
            }
        }
        // Simulated switchovers complete at once.
        g.failover = None;
        Ok(Some(g))
    }

    async fn create_global_cluster(
        &self,
        id: &str,
        engine: &str,
        engine_version: &str,
    ) -> Result<GlobalClusterInfo, AwsError> {
        self.local()?
            .create_global_cluster(id, engine, engine_version)
            .await
    }

    async fn delete_global_cluster(&self, id: &str) -> Result<(), AwsError> {
        self.local()?.delete_global_cluster(id).await
    }

    async fn remove_from_global_cluster(
        &self,
        global_id: &str,
        cluster_arn: &str,
    ) -> Result<(), AwsError> {
        if let Some((region, id)) = Self::parse_arn(cluster_arn) {
            if let Ok(client) = self.client_for(&region) {
                if let Some(c) = client.describe_cluster(&id).await? {
                    if c.tag(SIM_MEMBER_TAG) == Some(global_id) {
                        if c.tag(SIM_WRITER_TAG) == Some("true") {
                            return Err(AwsError::other(
                                "InvalidGlobalClusterStateFault",
                                format!(
                                    "{cluster_arn} is the writer of {global_id}; switch over first"
                                ),
                            ));
                        }
                        tracing::info!(cluster = %cluster_arn, global_cluster = global_id, "simulated: removing from global cluster");
                        return client
                            .remove_tags(
                                cluster_arn,
                                vec![SIM_MEMBER_TAG.to_string(), SIM_WRITER_TAG.to_string()],
                            )
                            .await;
                    }
                }
            }
        }
        self.local()?
            .remove_from_global_cluster(global_id, cluster_arn)
            .await
    }

    async fn switchover_global_cluster(
        &self,
        global_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), AwsError> {
        self.set_writer(global_id, target_cluster_arn).await
    }

    async fn failover_global_cluster(
        &self,
        global_id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), AwsError> {
        self.set_writer(global_id, target_cluster_arn).await
    }

    async fn describe_subnet_group(&self, name: &str) -> Result<Option<SubnetGroupInfo>, AwsError> {
        self.local()?.describe_subnet_group(name).await
    }

    async fn create_subnet_group(
        &self,
        name: &str,
        subnet_ids: Vec<String>,
        tags: Vec<(String, String)>,
    ) -> Result<SubnetGroupInfo, AwsError> {
        self.local()?
            .create_subnet_group(name, subnet_ids, tags)
            .await
    }

    async fn delete_subnet_group(&self, name: &str) -> Result<(), AwsError> {
        self.local()?.delete_subnet_group(name).await
    }

    async fn describe_cluster(&self, id: &str) -> Result<Option<ClusterInfo>, AwsError> {
        Ok(self.local()?.describe_cluster(id).await?.map(Self::overlay))
    }

    async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, AwsError> {
        Ok(self
            .local()?
            .list_clusters()
            .await?
            .into_iter()
            .map(Self::overlay)
            .collect())
    }

    async fn create_cluster(&self, spec: &ClusterSpec) -> Result<ClusterInfo, AwsError> {
        let global = self
            .local()?
            .describe_global_cluster(&spec.global_cluster_id)
            .await?;
        let secondary =
            spec.master.is_none() && global.as_ref().is_some_and(|g| g.writer().is_some());
        let Some(g) = global.filter(|_| secondary) else {
            return self.local()?.create_cluster(spec).await;
        };
        // A credential-less secondary: the emulator accepts it when a global identifier is
        // given, and registers no (undetachable) membership when that identifier is the ARN.
        let mut detached = spec.clone();
        detached.global_cluster_id = g.arn.clone();
        detached
            .tags
            .push((SIM_MEMBER_TAG.to_string(), spec.global_cluster_id.clone()));
        tracing::info!(cluster = %spec.id, global_cluster = %spec.global_cluster_id, "simulated: secondary membership of the global cluster");
        let mut c = self.local()?.create_cluster(&detached).await?;
        c.global_cluster_id = Some(spec.global_cluster_id.clone());
        Ok(c)
    }

    async fn modify_cluster_scaling(
        &self,
        id: &str,
        min_capacity: f64,
        max_capacity: f64,
    ) -> Result<(), AwsError> {
        self.local()?
            .modify_cluster_scaling(id, min_capacity, max_capacity)
            .await
    }

    async fn delete_cluster(&self, id: &str) -> Result<(), AwsError> {
        self.local()?.delete_cluster(id).await
    }

    async fn add_tags(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        self.local()?.add_tags(arn, tags).await
    }

    async fn remove_tags(&self, arn: &str, keys: Vec<String>) -> Result<(), AwsError> {
        self.local()?.remove_tags(arn, keys).await
    }

    async fn describe_instance(&self, id: &str) -> Result<Option<InstanceInfo>, AwsError> {
        self.local()?.describe_instance(id).await
    }

    async fn create_instance(
        &self,
        id: &str,
        cluster_id: &str,
        class: &str,
        engine: &str,
        tags: Vec<(String, String)>,
    ) -> Result<InstanceInfo, AwsError> {
        self.local()?
            .create_instance(id, cluster_id, class, engine, tags)
            .await
    }

    async fn delete_instance(&self, id: &str) -> Result<(), AwsError> {
        self.local()?.delete_instance(id).await
    }
}
