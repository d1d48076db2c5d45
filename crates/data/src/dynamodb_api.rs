//! The DynamoDB calls of the `table` component ([`DynamoApi`]), implemented for
//! [`aws_sdk_dynamodb::Client`] and mocked with `MockDynamoApi` (feature `mocks`).

use tandem_core::paging::PageTokens;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateReplicationGroupMemberAction, DeleteReplicationGroupMemberAction,
    KeySchemaElement, KeyType, PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, ReplicationGroupUpdate,
    ScalarAttributeType, SseSpecification, SseStatus, StreamSpecification, StreamViewType, Tag,
};
use tandem_core::aws::none_if_not_found;
use tandem_core::AwsError;

/// What the component needs to know about a table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableInfo {
    pub name: String,
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, ...
    pub status: String,
    pub stream_arn: Option<String>,
    /// `NEW_AND_OLD_IMAGES`, ... (None when streams are off).
    pub stream_view_type: Option<String>,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: Option<String>,
    pub sse_enabled: bool,
    pub deletion_protection: bool,
    pub replicas: Vec<ReplicaInfo>,
    /// `ItemCount`: approximate, refreshed by DynamoDB about every six hours.
    pub item_count: Option<i64>,
    /// `TableSizeBytes`: approximate, same refresh.
    pub size_bytes: Option<i64>,
}

impl TableInfo {
    /// The replica in `region`, if any.
    pub fn replica(&self, region: &str) -> Option<&ReplicaInfo> {
        self.replicas.iter().find(|r| r.region == region)
    }
}

/// One replica of a global table (2019.11.21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    pub region: String,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, ...
    pub status: String,
}

/// The table as Tandem creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    /// Partition key (type S).
    pub partition_key: String,
    /// Sort key (type S).
    pub sort_key: String,
    pub tags: Vec<(String, String)>,
}

/// The DynamoDB calls of the `table` component.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DynamoApi: Send + Sync {
    /// DescribeTable; None when the table does not exist.
    async fn describe_table(&self, name: &str) -> Result<Option<TableInfo>, AwsError>;
    /// CreateTable: on-demand, streams NEW_AND_OLD_IMAGES, SSE enabled (AWS managed KMS key),
    /// no deletion protection, tagged.
    async fn create_table(&self, spec: &TableSpec) -> Result<TableInfo, AwsError>;
    /// Is point-in-time recovery enabled?
    async fn pitr_enabled(&self, name: &str) -> Result<bool, AwsError>;
    async fn enable_pitr(&self, name: &str) -> Result<(), AwsError>;
    /// UpdateTable ReplicaUpdates Create (global tables 2019.11.21).
    async fn create_replica(&self, name: &str, region: &str) -> Result<(), AwsError>;
    /// UpdateTable ReplicaUpdates Delete.
    async fn delete_replica(&self, name: &str, region: &str) -> Result<(), AwsError>;
    async fn delete_table(&self, name: &str) -> Result<(), AwsError>;
    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError>;
    async fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), AwsError>;
}

fn build_err(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("building the request: {e}"))
}

fn tags_of(tags: Vec<(String, String)>) -> Result<Vec<Tag>, AwsError> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err)).collect()
}

fn info_of(t: &aws_sdk_dynamodb::types::TableDescription) -> TableInfo {
    TableInfo {
        name: t.table_name().unwrap_or_default().to_string(),
        arn: t.table_arn().unwrap_or_default().to_string(),
        status: t.table_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        stream_arn: t.latest_stream_arn().map(str::to_string),
        stream_view_type: t
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_string()),
        billing_mode: t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str().to_string()),
        sse_enabled: t.sse_description().and_then(|s| s.status()).is_some_and(|s| *s == SseStatus::Enabled),
        deletion_protection: t.deletion_protection_enabled().unwrap_or(false),
        replicas: t
            .replicas()
            .iter()
            .map(|r| ReplicaInfo {
                region: r.region_name().unwrap_or_default().to_string(),
                status: r.replica_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            })
            .collect(),
        item_count: t.item_count(),
        size_bytes: t.table_size_bytes(),
    }
}

#[async_trait]
impl DynamoApi for aws_sdk_dynamodb::Client {
    async fn describe_table(&self, name: &str) -> Result<Option<TableInfo>, AwsError> {
        let out = none_if_not_found(self.describe_table().table_name(name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|out| out.table().map(info_of)))
    }

    async fn create_table(&self, spec: &TableSpec) -> Result<TableInfo, AwsError> {
        let attr = |n: &str| {
            AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().map_err(build_err)
        };
        let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().map_err(build_err);
        let out = self
            .create_table()
            .table_name(&spec.name)
            .attribute_definitions(attr(&spec.partition_key)?)
            .attribute_definitions(attr(&spec.sort_key)?)
            .key_schema(key(&spec.partition_key, KeyType::Hash)?)
            .key_schema(key(&spec.sort_key, KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(build_err)?,
            )
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .deletion_protection_enabled(false)
            .set_tags(Some(tags_of(spec.tags.clone())?))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.table_description()
            .map(info_of)
            .ok_or_else(|| AwsError::other("MissingTable", "CreateTable returned no table description"))
    }

    async fn pitr_enabled(&self, name: &str) -> Result<bool, AwsError> {
        let out = self.describe_continuous_backups().table_name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(out
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .is_some_and(|s| *s == PointInTimeRecoveryStatus::Enabled))
    }

    async fn enable_pitr(&self, name: &str) -> Result<(), AwsError> {
        self.update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(true).build().map_err(build_err)?,
            )
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_replica(&self, name: &str, region: &str) -> Result<(), AwsError> {
        let action = CreateReplicationGroupMemberAction::builder().region_name(region).build().map_err(build_err)?;
        self.update_table()
            .table_name(name)
            .replica_updates(ReplicationGroupUpdate::builder().create(action).build())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_replica(&self, name: &str, region: &str) -> Result<(), AwsError> {
        let action = DeleteReplicationGroupMemberAction::builder().region_name(region).build().map_err(build_err)?;
        self.update_table()
            .table_name(name)
            .replica_updates(ReplicationGroupUpdate::builder().delete(action).build())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_table(&self, name: &str) -> Result<(), AwsError> {
        self.delete_table().table_name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut tags = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListTagsOfResource", arn);
        loop {
            let out = self
                .list_tags_of_resource()
                .resource_arn(arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            tags.extend(out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())));
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(tags),
            }
        }
    }

    async fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        self.tag_resource().resource_arn(arn).set_tags(Some(tags_of(tags)?)).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), AwsError> {
        self.untag_resource().resource_arn(arn).set_tag_keys(Some(keys)).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_token_ends_the_tag_listing_with_an_error() {
        let page = r#"{"Tags":[{"Key":"k","Value":"v"}],"NextToken":"t1"}"#;
        let http = Replay::repeat((200u16, &[][..], page), 5);
        let ddb = aws_sdk_dynamodb::Client::new(&http.sdk_config());
        let e = DynamoApi::list_tags(&ddb, "arn:aws:dynamodb:us-east-1:1:table/t").await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert_eq!(http.requests().len(), 2);
    }
}
