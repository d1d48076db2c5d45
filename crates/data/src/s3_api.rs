//! The S3 calls the bucket components make ([`S3Api`]), implemented for
//! [`aws_sdk_s3::Client`] and mocked with `MockS3Api` (feature `mocks`).
//!
//! Getters of optional bucket settings return `None` when the setting is absent
//! (`NoSuchBucketPolicy`, `ServerSideEncryptionConfigurationNotFoundError`, ...), but a
//! missing bucket (`NoSuchBucket`) stays an error.

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, Metrics,
    MetricsStatus, ObjectIdentifier, PublicAccessBlockConfiguration, ReplicationConfiguration, ReplicationRule,
    ReplicationRuleFilter, ReplicationRuleStatus, ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};
use tandem_core::AwsError;

/// The four public access block flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// Every flag on.
    pub fn all() -> Self {
        Self { block_public_acls: true, ignore_public_acls: true, block_public_policy: true, restrict_public_buckets: true }
    }
}

/// A one-rule replication configuration, as Tandem manages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSpec {
    pub role_arn: String,
    pub rule_id: String,
    /// ARN of the destination bucket.
    pub destination_bucket_arn: String,
    /// Delete markers are replicated.
    pub delete_marker_replication: bool,
    /// Replication Time Control (15 minutes).
    pub replication_time: bool,
    /// Replication metrics (15 minutes threshold).
    pub metrics: bool,
}

/// One object version or delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: Option<String>,
}

/// One page of ListObjectVersions: versions AND delete markers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionsPage {
    pub entries: Vec<ObjectVersion>,
    /// Markers of the next page; `None` when this page is the last.
    pub next: Option<(String, Option<String>)>,
}

/// The S3 calls of the bucket components.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait S3Api: Send + Sync {
    /// HeadBucket: true when the bucket exists and is ours; false on 404.
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, AwsError>;
    /// CreateBucket; `location` is the LocationConstraint (None in us-east-1).
    async fn create_bucket(&self, bucket: &str, location: Option<String>) -> Result<(), AwsError>;
    async fn get_bucket_tagging(&self, bucket: &str) -> Result<Vec<(String, String)>, AwsError>;
    async fn put_bucket_tagging(&self, bucket: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    /// The versioning status (`Enabled`, `Suspended`), None when never set.
    async fn get_bucket_versioning(&self, bucket: &str) -> Result<Option<String>, AwsError>;
    async fn enable_versioning(&self, bucket: &str) -> Result<(), AwsError>;
    /// The default encryption algorithm (`AES256`, `aws:kms`), None when absent.
    async fn get_bucket_encryption(&self, bucket: &str) -> Result<Option<String>, AwsError>;
    /// Default encryption SSE-S3 (AES256) with bucket keys.
    async fn put_bucket_encryption(&self, bucket: &str) -> Result<(), AwsError>;
    async fn get_public_access_block(&self, bucket: &str) -> Result<Option<PublicAccessBlock>, AwsError>;
    async fn put_public_access_block(&self, bucket: &str, block: PublicAccessBlock) -> Result<(), AwsError>;
    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, AwsError>;
    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), AwsError>;
    async fn delete_bucket_policy(&self, bucket: &str) -> Result<(), AwsError>;
    async fn get_bucket_replication(&self, bucket: &str) -> Result<Option<ReplicationSpec>, AwsError>;
    async fn put_bucket_replication(&self, bucket: &str, spec: &ReplicationSpec) -> Result<(), AwsError>;
    async fn delete_bucket_replication(&self, bucket: &str) -> Result<(), AwsError>;
    /// One page of versions and delete markers, starting after `marker` (key, version id).
    async fn list_object_versions(&self, bucket: &str, marker: Option<(String, Option<String>)>) -> Result<VersionsPage, AwsError>;
    /// DeleteObjects (at most 1000); fails when any object could not be deleted.
    async fn delete_objects(&self, bucket: &str, objects: Vec<ObjectVersion>) -> Result<(), AwsError>;
    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError>;
}

/// The SDK implementation of [`S3Api`]: every call on an existing bucket carries
/// `ExpectedBucketOwner` (the stack's account), so a bucket of the same name owned by another
/// account answers 403 instead of being read, adopted, emptied or deleted.
#[derive(Clone, Debug)]
pub struct S3Client {
    client: aws_sdk_s3::Client,
    owner: Option<String>,
}

impl S3Client {
    /// `owner`: the account the stack's buckets must belong to (None: not checked, only
    /// for callers that never touch a bucket of the stack).
    pub fn new(client: aws_sdk_s3::Client, owner: Option<String>) -> Self {
        S3Client { client, owner }
    }
}

fn build_err(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("building the request: {e}"))
}

/// Absent setting → None; a missing bucket stays an error.
fn absent<T>(e: AwsError) -> Result<Option<T>, AwsError> {
    if e.is_not_found() && e.code != "NoSuchBucket" {
        Ok(None)
    } else {
        Err(e)
    }
}

#[async_trait]
impl S3Api for S3Client {
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, AwsError> {
        match self.client.head_bucket().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() || e.status == Some(404) {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn create_bucket(&self, bucket: &str, location: Option<String>) -> Result<(), AwsError> {
        let mut req = self.client.create_bucket().bucket(bucket);
        if let Some(loc) = location {
            req = req.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(loc.as_str()))
                    .build(),
            );
        }
        req.send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_bucket_tagging(&self, bucket: &str) -> Result<Vec<(String, String)>, AwsError> {
        match self.client.get_bucket_tagging().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await {
            Ok(out) => Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
            Err(e) => Ok(absent(AwsError::from_sdk(e))?.unwrap_or_default()),
        }
    }

    async fn put_bucket_tagging(&self, bucket: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        let tags = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        let tagging = Tagging::builder().set_tag_set(Some(tags)).build().map_err(build_err)?;
        self.client.put_bucket_tagging().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).tagging(tagging).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_bucket_versioning(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let out = self.client.get_bucket_versioning().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.status().map(|s| s.as_str().to_string()))
    }

    async fn enable_versioning(&self, bucket: &str) -> Result<(), AwsError> {
        self.client.put_bucket_versioning()
            .bucket(bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_bucket_encryption(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        match self.client.get_bucket_encryption().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await {
            Ok(out) => Ok(out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_string())),
            Err(e) => absent(AwsError::from_sdk(e)),
        }
    }

    async fn put_bucket_encryption(&self, bucket: &str) -> Result<(), AwsError> {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(build_err)?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .bucket_key_enabled(true)
            .build();
        let config = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build_err)?;
        self.client.put_bucket_encryption()
            .bucket(bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .server_side_encryption_configuration(config)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_public_access_block(&self, bucket: &str) -> Result<Option<PublicAccessBlock>, AwsError> {
        match self.client.get_public_access_block().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await {
            Ok(out) => Ok(out.public_access_block_configuration().map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })),
            Err(e) => absent(AwsError::from_sdk(e)),
        }
    }

    async fn put_public_access_block(&self, bucket: &str, block: PublicAccessBlock) -> Result<(), AwsError> {
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(block.block_public_acls)
            .ignore_public_acls(block.ignore_public_acls)
            .block_public_policy(block.block_public_policy)
            .restrict_public_buckets(block.restrict_public_buckets)
            .build();
        self.client.put_public_access_block()
            .bucket(bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .public_access_block_configuration(config)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_bucket_policy(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        match self.client.get_bucket_policy().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await {
            Ok(out) => Ok(out.policy().map(str::to_string)),
            Err(e) => absent(AwsError::from_sdk(e)),
        }
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), AwsError> {
        self.client.put_bucket_policy().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).policy(policy).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_bucket_policy(&self, bucket: &str) -> Result<(), AwsError> {
        self.client.delete_bucket_policy().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_bucket_replication(&self, bucket: &str) -> Result<Option<ReplicationSpec>, AwsError> {
        let out = match self.client.get_bucket_replication().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await {
            Ok(out) => out,
            Err(e) => return absent(AwsError::from_sdk(e)),
        };
        let Some(config) = out.replication_configuration() else { return Ok(None) };
        let Some(rule) = config.rules().first() else { return Ok(None) };
        let dest = rule.destination();
        Ok(Some(ReplicationSpec {
            role_arn: config.role().to_string(),
            rule_id: rule.id().unwrap_or_default().to_string(),
            destination_bucket_arn: dest.map(|d| d.bucket().to_string()).unwrap_or_default(),
            delete_marker_replication: rule
                .delete_marker_replication()
                .and_then(|d| d.status())
                .is_some_and(|s| *s == DeleteMarkerReplicationStatus::Enabled),
            replication_time: dest
                .and_then(|d| d.replication_time())
                .is_some_and(|t| *t.status() == ReplicationTimeStatus::Enabled),
            metrics: dest.and_then(|d| d.metrics()).is_some_and(|m| *m.status() == MetricsStatus::Enabled),
        }))
    }

    async fn put_bucket_replication(&self, bucket: &str, spec: &ReplicationSpec) -> Result<(), AwsError> {
        let fifteen = || ReplicationTimeValue::builder().minutes(15).build();
        let mut dest = Destination::builder().bucket(&spec.destination_bucket_arn);
        if spec.replication_time {
            dest = dest.replication_time(
                ReplicationTime::builder()
                    .status(ReplicationTimeStatus::Enabled)
                    .time(fifteen())
                    .build()
                    .map_err(build_err)?,
            );
        }
        if spec.metrics {
            dest = dest.metrics(
                Metrics::builder().status(MetricsStatus::Enabled).event_threshold(fifteen()).build().map_err(build_err)?,
            );
        }
        let marker_status = if spec.delete_marker_replication {
            DeleteMarkerReplicationStatus::Enabled
        } else {
            DeleteMarkerReplicationStatus::Disabled
        };
        let rule = ReplicationRule::builder()
            .id(&spec.rule_id)
            .priority(1)
            .status(ReplicationRuleStatus::Enabled)
            .filter(ReplicationRuleFilter::builder().prefix("").build())
            .delete_marker_replication(DeleteMarkerReplication::builder().status(marker_status).build())
            .destination(dest.build().map_err(build_err)?)
            .build()
            .map_err(build_err)?;
        let config = ReplicationConfiguration::builder().role(&spec.role_arn).rules(rule).build().map_err(build_err)?;
        self.client.put_bucket_replication()
            .bucket(bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .replication_configuration(config)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_bucket_replication(&self, bucket: &str) -> Result<(), AwsError> {
        self.client.delete_bucket_replication().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_object_versions(&self, bucket: &str, marker: Option<(String, Option<String>)>) -> Result<VersionsPage, AwsError> {
        let mut req = self.client.list_object_versions().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).max_keys(1000);
        if let Some((key, version)) = marker {
            req = req.key_marker(key).set_version_id_marker(version);
        }
        let out = req.send().await.map_err(AwsError::from_sdk)?;
        let mut entries: Vec<ObjectVersion> = out
            .versions()
            .iter()
            .filter_map(|v| v.key().map(|k| ObjectVersion { key: k.to_string(), version_id: v.version_id().map(str::to_string) }))
            .collect();
        entries.extend(out.delete_markers().iter().filter_map(|m| {
            m.key().map(|k| ObjectVersion { key: k.to_string(), version_id: m.version_id().map(str::to_string) })
        }));
        let next = if out.is_truncated().unwrap_or(false) {
            out.next_key_marker()
                .map(|k| (k.to_string(), out.next_version_id_marker().map(str::to_string)))
        } else {
            None
        };
        Ok(VersionsPage { entries, next })
    }

    async fn delete_objects(&self, bucket: &str, objects: Vec<ObjectVersion>) -> Result<(), AwsError> {
        if objects.is_empty() {
            return Ok(());
        }
        let ids = objects
            .into_iter()
            .map(|o| ObjectIdentifier::builder().key(o.key).set_version_id(o.version_id).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        let delete = Delete::builder().set_objects(Some(ids)).quiet(true).build().map_err(build_err)?;
        let out = self.client.delete_objects().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).delete(delete).send().await.map_err(AwsError::from_sdk)?;
        if let Some(first) = out.errors().first() {
            return Err(AwsError::new(
                first.code().unwrap_or("DeleteObjectsFailed"),
                format!(
                    "{} object(s) not deleted, first {}: {}",
                    out.errors().len(),
                    first.key().unwrap_or("?"),
                    first.message().unwrap_or("")
                ),
                None,
            ));
        }
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        self.client.delete_bucket().bucket(bucket).set_expected_bucket_owner(self.owner.clone()).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_settings_but_not_missing_buckets() {
        assert_eq!(absent::<()>(AwsError::not_found("NoSuchBucketPolicy", "none")), Ok(None));
        assert!(absent::<()>(AwsError::not_found("NoSuchBucket", "gone")).is_err());
    }
}
