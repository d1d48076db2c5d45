//! Simulated global-table replicas (`simulate = ["dynamodb-replicas"]`).
//!
//! The local emulator (moto 5.2) accepts `UpdateTable` with `ReplicaUpdates` but creates
//! nothing and never reports `Replicas` in `DescribeTable`. [`SimulatedReplicas`] wraps the
//! real client: every table call is forwarded to it, and replicas are simulated on top:
//! `create_replica` records the replica as a tag on the real table
//! (`tandem:simulated-replica:<region>`, so a later run or another process sees it too),
//! reports it `CREATING` on the next describe and `ACTIVE` after that; `delete_replica`
//! removes the tag and reports it `DELETING` once before it disappears.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tandem_core::AwsError;

use super::api::{DynamoApi, ReplicaInfo, TableInfo, TableSpec};

/// Tag key prefix marking a simulated replica on the real table.
pub const REPLICA_TAG_PREFIX: &str = "tandem:simulated-replica:";

/// A [`DynamoApi`] that forwards table calls and simulates replicas.
pub struct SimulatedReplicas {
    inner: Arc<dyn DynamoApi>,
    /// (table, region) → transitional status still to report once.
    transitions: Mutex<HashMap<(String, String), String>>,
}

impl SimulatedReplicas {
    pub fn new(inner: Arc<dyn DynamoApi>) -> Self {
        Self { inner, transitions: Mutex::new(HashMap::new()) }
    }

    fn transitions(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), String>> {
        self.transitions.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn existing(&self, name: &str) -> Result<TableInfo, AwsError> {
        self.inner.describe_table(name).await?.ok_or_else(|| {
            AwsError::not_found("ResourceNotFoundException", format!("Requested resource not found: Table: {name} not found"))
        })
    }

    fn replica_regions(tags: &[(String, String)]) -> Vec<String> {
        tags.iter().filter_map(|(k, _)| k.strip_prefix(REPLICA_TAG_PREFIX).map(str::to_string)).collect()
    }
}

#[async_trait]
impl DynamoApi for SimulatedReplicas {
    async fn describe_table(&self, name: &str) -> Result<Option<TableInfo>, AwsError> {
        let Some(mut info) = self.inner.describe_table(name).await? else {
            return Ok(None);
        };
        let tags = self.inner.list_tags(&info.arn).await?;
        let regions = Self::replica_regions(&tags);
        let mut transitions = self.transitions();
        let mut replicas: Vec<ReplicaInfo> = regions
            .iter()
            .map(|region| {
                let status = transitions.remove(&(name.to_string(), region.clone())).unwrap_or_else(|| "ACTIVE".into());
                ReplicaInfo { region: region.clone(), status }
            })
            .collect();
        // Replicas being deleted: their tag is gone; report DELETING once.
        let deleting: Vec<(String, String)> = transitions
            .iter()
            .filter(|((t, r), s)| t == name && s.as_str() == "DELETING" && !regions.contains(r))
            .map(|(k, _)| k.clone())
            .collect();
        for key in deleting {
            transitions.remove(&key);
            replicas.push(ReplicaInfo { region: key.1, status: "DELETING".into() });
        }
        info.replicas = replicas;
        Ok(Some(info))
    }

    async fn create_table(&self, spec: &TableSpec) -> Result<TableInfo, AwsError> {
        self.inner.create_table(spec).await
    }

    async fn pitr_enabled(&self, name: &str) -> Result<bool, AwsError> {
        self.inner.pitr_enabled(name).await
    }

    async fn enable_pitr(&self, name: &str) -> Result<(), AwsError> {
        self.inner.enable_pitr(name).await
    }

    async fn create_replica(&self, name: &str, region: &str) -> Result<(), AwsError> {
        let table = self.existing(name).await?;
        let tags = self.inner.list_tags(&table.arn).await?;
        if Self::replica_regions(&tags).iter().any(|r| r == region) {
            return Err(AwsError::other("ValidationException", format!("Failed to create a the new replica of table with name: '{name}' because one or more replicas already existed as tables.")));
        }
        self.inner.tag_resource(&table.arn, vec![(format!("{REPLICA_TAG_PREFIX}{region}"), "ACTIVE".into())]).await?;
        self.transitions().insert((name.to_string(), region.to_string()), "CREATING".into());
        tracing::info!(table = name, region, "simulated replica created");
        Ok(())
    }

    async fn delete_replica(&self, name: &str, region: &str) -> Result<(), AwsError> {
        let table = self.existing(name).await?;
        let tags = self.inner.list_tags(&table.arn).await?;
        if !Self::replica_regions(&tags).iter().any(|r| r == region) {
            return Err(AwsError::not_found("ReplicaNotFoundException", format!("Replica of {name} in {region} not found")));
        }
        self.inner.untag_resource(&table.arn, vec![format!("{REPLICA_TAG_PREFIX}{region}")]).await?;
        self.transitions().insert((name.to_string(), region.to_string()), "DELETING".into());
        tracing::info!(table = name, region, "simulated replica deleted");
        Ok(())
    }

    async fn delete_table(&self, name: &str) -> Result<(), AwsError> {
        self.inner.delete_table(name).await?;
        self.transitions().retain(|(t, _), _| t != name);
        Ok(())
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        self.inner.list_tags(arn).await
    }

    async fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        self.inner.tag_resource(arn, tags).await
    }

    async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), AwsError> {
        self.inner.untag_resource(arn, keys).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::api::MockDynamoApi;
    use super::*;

    type Tags = Arc<Mutex<Vec<(String, String)>>>;

    /// A mock "real" table whose tags live in a shared vector.
    fn backing() -> (MockDynamoApi, Tags) {
        let tags = Arc::new(Mutex::new(vec![("Name".to_string(), "table-t".to_string())]));
        let mut m = MockDynamoApi::new();
        m.expect_describe_table().returning(|n| {
            Ok(Some(TableInfo { name: n.into(), arn: format!("arn:aws:dynamodb:us-east-1:1:table/{n}"), status: "ACTIVE".into(), ..Default::default() }))
        });
        let t = tags.clone();
        m.expect_list_tags().returning(move |_| Ok(t.lock().unwrap().clone()));
        let t = tags.clone();
        m.expect_tag_resource().returning(move |_, new| {
            t.lock().unwrap().extend(new);
            Ok(())
        });
        let t = tags.clone();
        m.expect_untag_resource().returning(move |_, keys| {
            t.lock().unwrap().retain(|(k, _)| !keys.contains(k));
            Ok(())
        });
        (m, tags)
    }

    #[tokio::test]
    async fn replica_goes_creating_active_then_deleting_gone() {
        let (m, tags) = backing();
        let fake = SimulatedReplicas::new(Arc::new(m));
        assert!(fake.describe_table("table-t").await.unwrap().unwrap().replicas.is_empty());
        fake.create_replica("table-t", "us-east-2").await.unwrap();
        assert!(tags.lock().unwrap().iter().any(|(k, _)| k == "tandem:simulated-replica:us-east-2"));
        let r = fake.describe_table("table-t").await.unwrap().unwrap().replicas;
        assert_eq!(r, vec![ReplicaInfo { region: "us-east-2".into(), status: "CREATING".into() }]);
        let r = fake.describe_table("table-t").await.unwrap().unwrap().replicas;
        assert_eq!(r[0].status, "ACTIVE");
        assert!(fake.create_replica("table-t", "us-east-2").await.is_err(), "duplicate replica is refused");

        fake.delete_replica("table-t", "us-east-2").await.unwrap();
        let r = fake.describe_table("table-t").await.unwrap().unwrap().replicas;
        assert_eq!(r[0].status, "DELETING");
        assert!(fake.describe_table("table-t").await.unwrap().unwrap().replicas.is_empty());
        assert!(fake.delete_replica("table-t", "us-east-2").await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn replica_state_survives_a_new_process() {
        let (m, tags) = backing();
        tags.lock().unwrap().push(("tandem:simulated-replica:us-east-2".into(), "ACTIVE".into()));
        let fake = SimulatedReplicas::new(Arc::new(m));
        let r = fake.describe_table("table-t").await.unwrap().unwrap().replicas;
        assert_eq!(r, vec![ReplicaInfo { region: "us-east-2".into(), status: "ACTIVE".into() }]);
    }

    #[tokio::test]
    async fn replica_of_missing_table_is_not_found() {
        let mut m = MockDynamoApi::new();
        m.expect_describe_table().returning(|_| Ok(None));
        let fake = SimulatedReplicas::new(Arc::new(m));
        assert!(fake.create_replica("nope", "us-east-2").await.unwrap_err().is_not_found());
        assert!(fake.describe_table("nope").await.unwrap().is_none());
    }
}
