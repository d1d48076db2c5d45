//! The AWS calls of this crate, one trait per client: [`CloudWatchApi`] (alarms and
//! dashboards), [`SnsApi`] (alert topics and subscriptions) and [`KmsApi`] (the
//! customer-managed key of the alert topic); the RDS failover rule on the default bus goes
//! through the shared [`tandem_clients::EventsApi`]. Each is implemented for the real
//! aws-sdk client and mocked with `MockCloudWatchApi` / `MockSnsApi` / `MockKmsApi`
//! (feature `mocks`).
//!
//! Methods take plain arguments and return small structs so that mocks are easy to set.
//! "Describe" methods return `Ok(None)` / an empty list when the resource does not exist.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tandem_core::paging::PageTokens;
use tandem_core::AwsError;

// ---------------------------------------------------------------------------------------
// CloudWatch
// ---------------------------------------------------------------------------------------

/// A metric alarm, as desired (PutMetricAlarm) or as described (DescribeAlarms).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric_name: String,
    /// (name, value) pairs, in the order given.
    pub dimensions: Vec<(String, String)>,
    /// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`.
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub threshold: f64,
    /// `GreaterThanThreshold`, `LessThanThreshold`, ...
    pub comparison_operator: String,
    /// `breaching`, `notBreaching`, `ignore`, `missing`.
    pub treat_missing_data: String,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    /// Applied on creation only (CloudWatch ignores tags on updates).
    pub tags: Vec<(String, String)>,
}

impl AlarmSpec {
    /// Differences between the live alarm `self` and the desired `want` (tags excluded:
    /// they are set at creation). Empty when in sync.
    pub fn diff(&self, want: &AlarmSpec) -> Vec<String> {
        let mut d = Vec::new();
        let n = &want.name;
        let mut check = |what: &str, have: String, wanted: String| {
            if have != wanted {
                d.push(format!("{n}: {what} is {have} (want {wanted})"));
            }
        };
        check("description", self.description.clone(), want.description.clone());
        check("namespace", self.namespace.clone(), want.namespace.clone());
        check("metric", self.metric_name.clone(), want.metric_name.clone());
        let sorted = |v: &[(String, String)]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        check("dimensions", format!("{:?}", sorted(&self.dimensions)), format!("{:?}", sorted(&want.dimensions)));
        check("statistic", self.statistic.clone(), want.statistic.clone());
        check("period", self.period.to_string(), want.period.to_string());
        check("evaluation periods", self.evaluation_periods.to_string(), want.evaluation_periods.to_string());
        check("datapoints to alarm", self.datapoints_to_alarm.to_string(), want.datapoints_to_alarm.to_string());
        check("threshold", self.threshold.to_string(), want.threshold.to_string());
        check("comparison", self.comparison_operator.clone(), want.comparison_operator.clone());
        check("treat missing data", self.treat_missing_data.clone(), want.treat_missing_data.clone());
        let sorted_s = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        check("alarm actions", format!("{:?}", sorted_s(&self.alarm_actions)), format!("{:?}", sorted_s(&want.alarm_actions)));
        check("OK actions", format!("{:?}", sorted_s(&self.ok_actions)), format!("{:?}", sorted_s(&want.ok_actions)));
        d
    }
}

/// A dashboard as GetDashboard reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardInfo {
    pub arn: String,
    pub body: String,
}

/// CloudWatch API surface used by the alarms and dashboard components.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CloudWatchApi: Send + Sync {
    /// The metric alarms among `names` that exist (absent names are simply not returned).
    async fn describe_alarms(&self, names: Vec<String>) -> Result<Vec<AlarmSpec>, AwsError>;
    /// Creates or updates a metric alarm.
    async fn put_metric_alarm(&self, spec: &AlarmSpec) -> Result<(), AwsError>;
    /// Deletes alarms (up to 100 names per call).
    async fn delete_alarms(&self, names: Vec<String>) -> Result<(), AwsError>;
    /// The dashboard, or `None` when it does not exist.
    async fn get_dashboard(&self, name: &str) -> Result<Option<DashboardInfo>, AwsError>;
    /// Creates or replaces a dashboard; returns the validation messages (warnings).
    async fn put_dashboard(&self, name: &str, body: &str) -> Result<Vec<String>, AwsError>;
    async fn delete_dashboard(&self, name: &str) -> Result<(), AwsError>;
}

fn statistic(s: &str) -> aws_sdk_cloudwatch::types::Statistic {
    aws_sdk_cloudwatch::types::Statistic::from(s)
}

fn comparison(s: &str) -> aws_sdk_cloudwatch::types::ComparisonOperator {
    aws_sdk_cloudwatch::types::ComparisonOperator::from(s)
}

fn alarm_from_sdk(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> AlarmSpec {
    AlarmSpec {
        name: a.alarm_name().unwrap_or_default().to_string(),
        description: a.alarm_description().unwrap_or_default().to_string(),
        namespace: a.namespace().unwrap_or_default().to_string(),
        metric_name: a.metric_name().unwrap_or_default().to_string(),
        dimensions: a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string()))
            .collect(),
        statistic: a.statistic().map(|s| s.as_str().to_string()).unwrap_or_default(),
        period: a.period().unwrap_or_default(),
        evaluation_periods: a.evaluation_periods().unwrap_or_default(),
        // AWS omits DatapointsToAlarm when it equals EvaluationPeriods.
        datapoints_to_alarm: a.datapoints_to_alarm().or(a.evaluation_periods()).unwrap_or_default(),
        threshold: a.threshold().unwrap_or_default(),
        comparison_operator: a.comparison_operator().map(|c| c.as_str().to_string()).unwrap_or_default(),
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
        alarm_actions: a.alarm_actions().to_vec(),
        ok_actions: a.ok_actions().to_vec(),
        tags: Vec::new(),
    }
}

#[async_trait]
impl CloudWatchApi for aws_sdk_cloudwatch::Client {
    async fn describe_alarms(&self, names: Vec<String>) -> Result<Vec<AlarmSpec>, AwsError> {
        let mut out = Vec::new();
        for chunk in names.chunks(100) {
            let mut token: Option<String> = None;
            let mut pages = PageTokens::new("DescribeAlarms", chunk.join(","));
            loop {
                let resp = self
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(AwsError::from_sdk)?;
                out.extend(resp.metric_alarms().iter().map(alarm_from_sdk));
                token = pages.next(resp.next_token())?;
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn put_metric_alarm(&self, spec: &AlarmSpec) -> Result<(), AwsError> {
        use aws_sdk_cloudwatch::types::{Dimension, Tag};
        self.put_metric_alarm()
            .alarm_name(&spec.name)
            .alarm_description(&spec.description)
            .actions_enabled(true)
            .namespace(&spec.namespace)
            .metric_name(&spec.metric_name)
            .set_dimensions(Some(
                spec.dimensions.iter().map(|(n, v)| Dimension::builder().name(n).value(v).build()).collect(),
            ))
            .statistic(statistic(&spec.statistic))
            .period(spec.period)
            .evaluation_periods(spec.evaluation_periods)
            .datapoints_to_alarm(spec.datapoints_to_alarm)
            .threshold(spec.threshold)
            .comparison_operator(comparison(&spec.comparison_operator))
            .treat_missing_data(&spec.treat_missing_data)
            .set_alarm_actions(Some(spec.alarm_actions.clone()))
            .set_ok_actions(Some(spec.ok_actions.clone()))
            .set_tags(Some(spec.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_alarms(&self, names: Vec<String>) -> Result<(), AwsError> {
        for chunk in names.chunks(100) {
            self.delete_alarms().set_alarm_names(Some(chunk.to_vec())).send().await.map_err(AwsError::from_sdk)?;
        }
        Ok(())
    }

    async fn get_dashboard(&self, name: &str) -> Result<Option<DashboardInfo>, AwsError> {
        match self.get_dashboard().dashboard_name(name).send().await.map_err(AwsError::from_sdk) {
            Ok(resp) => Ok(Some(DashboardInfo {
                arn: resp.dashboard_arn().unwrap_or_default().to_string(),
                body: resp.dashboard_body().unwrap_or_default().to_string(),
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_dashboard(&self, name: &str, body: &str) -> Result<Vec<String>, AwsError> {
        let resp = self.put_dashboard().dashboard_name(name).dashboard_body(body).send().await.map_err(AwsError::from_sdk)?;
        Ok(resp
            .dashboard_validation_messages()
            .iter()
            .map(|m| format!("{}: {}", m.data_path().unwrap_or_default(), m.message().unwrap_or_default()))
            .collect())
    }

    async fn delete_dashboard(&self, name: &str) -> Result<(), AwsError> {
        self.delete_dashboards().dashboard_names(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// SNS
// ---------------------------------------------------------------------------------------

/// One subscription of a topic. `arn` is `PendingConfirmation` until an e-mail
/// subscription is confirmed (such subscriptions cannot be unsubscribed; they disappear
/// with the topic, or after 3 days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
}

impl SubscriptionInfo {
    /// True when the subscription has a real ARN (confirmed), so it can be unsubscribed.
    pub fn confirmed(&self) -> bool {
        self.arn.starts_with("arn:")
    }
}

/// SNS API surface used by the alerts component.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SnsApi: Send + Sync {
    /// Creates the topic (idempotent by name on AWS); returns its ARN.
    async fn create_topic(
        &self,
        name: &str,
        attributes: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<String, AwsError>;
    /// The topic's attributes, or `None` when it does not exist.
    async fn get_topic_attributes(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError>;
    /// ARNs of every topic of the region (all pages).
    async fn list_topics(&self) -> Result<Vec<String>, AwsError>;
    async fn set_topic_attribute(&self, arn: &str, name: &str, value: &str) -> Result<(), AwsError>;
    async fn delete_topic(&self, arn: &str) -> Result<(), AwsError>;
    async fn list_subscriptions(&self, topic_arn: &str) -> Result<Vec<SubscriptionInfo>, AwsError>;
    /// Subscribes; returns the subscription ARN (or `pending confirmation`).
    async fn subscribe(&self, topic_arn: &str, protocol: &str, endpoint: &str) -> Result<String, AwsError>;
    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), AwsError>;
}

fn build_err(e: aws_smithy_types::error::operation::BuildError) -> AwsError {
    AwsError::other("InvalidRequest", e.to_string())
}

#[async_trait]
impl SnsApi for aws_sdk_sns::Client {
    async fn create_topic(
        &self,
        name: &str,
        attributes: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<String, AwsError> {
        let tags = tags
            .into_iter()
            .map(|(k, v)| aws_sdk_sns::types::Tag::builder().key(k).value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        let resp = self
            .create_topic()
            .name(name)
            .set_attributes(Some(attributes.into_iter().collect()))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        resp.topic_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingTopicArn", format!("CreateTopic {name} returned no ARN")))
    }

    async fn get_topic_attributes(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        match self.get_topic_attributes().topic_arn(arn).send().await.map_err(AwsError::from_sdk) {
            Ok(resp) => Ok(Some(
                resp.attributes().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
            )),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_topics(&self) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListTopics", "the region");
        loop {
            let resp = self.list_topics().set_next_token(token.clone()).send().await.map_err(AwsError::from_sdk)?;
            out.extend(resp.topics().iter().filter_map(|t| t.topic_arn().map(str::to_string)));
            token = pages.next(resp.next_token())?;
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn set_topic_attribute(&self, arn: &str, name: &str, value: &str) -> Result<(), AwsError> {
        self.set_topic_attributes()
            .topic_arn(arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_topic(&self, arn: &str) -> Result<(), AwsError> {
        self.delete_topic().topic_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_subscriptions(&self, topic_arn: &str) -> Result<Vec<SubscriptionInfo>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListSubscriptionsByTopic", topic_arn);
        loop {
            let resp = self
                .list_subscriptions_by_topic()
                .topic_arn(topic_arn)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            out.extend(resp.subscriptions().iter().map(|s| SubscriptionInfo {
                arn: s.subscription_arn().unwrap_or_default().to_string(),
                protocol: s.protocol().unwrap_or_default().to_string(),
                endpoint: s.endpoint().unwrap_or_default().to_string(),
            }));
            token = pages.next(resp.next_token())?;
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn subscribe(&self, topic_arn: &str, protocol: &str, endpoint: &str) -> Result<String, AwsError> {
        let resp = self
            .subscribe()
            .topic_arn(topic_arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(resp.subscription_arn().unwrap_or("pending confirmation").to_string())
    }

    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), AwsError> {
        self.unsubscribe().subscription_arn(subscription_arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// KMS
// ---------------------------------------------------------------------------------------

/// A KMS key, as CreateKey / DescribeKey report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key_id: String,
    pub arn: String,
    /// The owning account (`AWSAccountId`).
    pub account: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `Creating`, ...
    pub state: String,
    pub description: String,
}

impl KeyInfo {
    pub fn enabled(&self) -> bool {
        self.state == "Enabled"
    }

    pub fn pending_deletion(&self) -> bool {
        matches!(self.state.as_str(), "PendingDeletion" | "PendingReplicaDeletion")
    }
}

/// One alias of the region, as ListAliases reports it. Predefined AWS aliases
/// (`alias/aws/...`) may have no target yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasInfo {
    pub name: String,
    pub arn: String,
    pub target_key_id: Option<String>,
}

/// KMS API surface used by the alerts component (its topic key). Key ids may be given as
/// key id or key ARN unless stated otherwise.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait KmsApi: Send + Sync {
    /// Every alias of the region (all pages), predefined AWS aliases included.
    async fn list_aliases(&self) -> Result<Vec<AliasInfo>, AwsError>;
    /// The key (id, ARN or alias name), or `None` when it does not exist.
    async fn describe_key(&self, key: &str) -> Result<Option<KeyInfo>, AwsError>;
    /// Creates a symmetric encryption key (`SYMMETRIC_DEFAULT`, `ENCRYPT_DECRYPT`) with
    /// `policy` (the AWS default key policy when `None`), description and tags.
    async fn create_key(
        &self,
        description: &str,
        policy: Option<String>,
        tags: Vec<(String, String)>,
    ) -> Result<KeyInfo, AwsError>;
    /// The key policy named `default` (the only one KMS supports).
    async fn get_key_policy(&self, key_id: &str) -> Result<String, AwsError>;
    async fn put_key_policy(&self, key_id: &str, policy: &str) -> Result<(), AwsError>;
    async fn create_alias(&self, alias: &str, key_id: &str) -> Result<(), AwsError>;
    async fn update_alias(&self, alias: &str, key_id: &str) -> Result<(), AwsError>;
    async fn delete_alias(&self, alias: &str) -> Result<(), AwsError>;
    async fn get_key_rotation_status(&self, key_id: &str) -> Result<bool, AwsError>;
    async fn enable_key_rotation(&self, key_id: &str) -> Result<(), AwsError>;
    async fn enable_key(&self, key_id: &str) -> Result<(), AwsError>;
    /// Cancels a scheduled deletion (the key is then `Disabled`).
    async fn cancel_key_deletion(&self, key_id: &str) -> Result<(), AwsError>;
    /// Schedules the deletion of the key (raw key id) after `pending_days` (7..=30).
    async fn schedule_key_deletion(&self, key_id: &str, pending_days: i32) -> Result<(), AwsError>;
    /// Ids of every key of the region (all pages).
    async fn list_keys(&self) -> Result<Vec<String>, AwsError>;
    /// The tags of a key (all pages).
    async fn list_resource_tags(&self, key_id: &str) -> Result<Vec<(String, String)>, AwsError>;
}

fn key_from_sdk(m: &aws_sdk_kms::types::KeyMetadata) -> KeyInfo {
    KeyInfo {
        key_id: m.key_id().to_string(),
        arn: m.arn().unwrap_or_default().to_string(),
        account: m.aws_account_id().unwrap_or_default().to_string(),
        state: m.key_state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        description: m.description().unwrap_or_default().to_string(),
    }
}

#[async_trait]
impl KmsApi for aws_sdk_kms::Client {
    async fn list_aliases(&self) -> Result<Vec<AliasInfo>, AwsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut pages = PageTokens::new("ListAliases", "the region");
        loop {
            let resp = self.list_aliases().set_marker(marker.clone()).send().await.map_err(AwsError::from_sdk)?;
            out.extend(resp.aliases().iter().map(|a| AliasInfo {
                name: a.alias_name().unwrap_or_default().to_string(),
                arn: a.alias_arn().unwrap_or_default().to_string(),
                target_key_id: a.target_key_id().map(str::to_string),
            }));
            marker = pages.next(resp.next_marker().filter(|_| resp.truncated()))?;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn describe_key(&self, key: &str) -> Result<Option<KeyInfo>, AwsError> {
        match self.describe_key().key_id(key).send().await.map_err(AwsError::from_sdk) {
            Ok(resp) => Ok(resp.key_metadata().map(key_from_sdk)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_key(
        &self,
        description: &str,
        policy: Option<String>,
        tags: Vec<(String, String)>,
    ) -> Result<KeyInfo, AwsError> {
        let tags = tags
            .into_iter()
            .map(|(k, v)| aws_sdk_kms::types::Tag::builder().tag_key(k).tag_value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        let resp = self
            .create_key()
            .description(description)
            .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
            .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
            .set_policy(policy)
            .set_tags(Some(tags))
            // No name, no token: a re-sent CreateKey makes a second key. Sent once; the
            // core's protocol looks the key up by its tags before trying again.
            .customize()
            .config_override(aws_sdk_kms::config::Builder::default().retry_config(tandem_core::aws::single_attempt()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        resp.key_metadata()
            .map(key_from_sdk)
            .ok_or_else(|| AwsError::other("MissingKeyMetadata", "CreateKey returned no key metadata"))
    }

    async fn get_key_policy(&self, key_id: &str) -> Result<String, AwsError> {
        let resp =
            self.get_key_policy().key_id(key_id).policy_name("default").send().await.map_err(AwsError::from_sdk)?;
        Ok(resp.policy().unwrap_or_default().to_string())
    }

    async fn put_key_policy(&self, key_id: &str, policy: &str) -> Result<(), AwsError> {
        self.put_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .policy(policy)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_alias(&self, alias: &str, key_id: &str) -> Result<(), AwsError> {
        self.create_alias().alias_name(alias).target_key_id(key_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn update_alias(&self, alias: &str, key_id: &str) -> Result<(), AwsError> {
        self.update_alias().alias_name(alias).target_key_id(key_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_alias(&self, alias: &str) -> Result<(), AwsError> {
        self.delete_alias().alias_name(alias).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_key_rotation_status(&self, key_id: &str) -> Result<bool, AwsError> {
        let resp = self.get_key_rotation_status().key_id(key_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(resp.key_rotation_enabled())
    }

    async fn enable_key_rotation(&self, key_id: &str) -> Result<(), AwsError> {
        self.enable_key_rotation().key_id(key_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn enable_key(&self, key_id: &str) -> Result<(), AwsError> {
        self.enable_key().key_id(key_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn cancel_key_deletion(&self, key_id: &str) -> Result<(), AwsError> {
        self.cancel_key_deletion().key_id(key_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn schedule_key_deletion(&self, key_id: &str, pending_days: i32) -> Result<(), AwsError> {
        self.schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(pending_days)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_keys(&self) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut pages = PageTokens::new("ListKeys", "the region");
        loop {
            let resp = self.list_keys().set_marker(marker.clone()).send().await.map_err(AwsError::from_sdk)?;
            out.extend(resp.keys().iter().filter_map(|k| k.key_id().map(str::to_string)));
            marker = pages.next(resp.next_marker().filter(|_| resp.truncated()))?;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn list_resource_tags(&self, key_id: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut pages = PageTokens::new("ListResourceTags", key_id);
        loop {
            let resp =
                self.list_resource_tags().key_id(key_id).set_marker(marker.clone()).send().await.map_err(AwsError::from_sdk)?;
            out.extend(resp.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())));
            marker = pages.next(resp.next_marker().filter(|_| resp.truncated()))?;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_kms_marker_ends_the_listing_with_an_error() {
        let page = r#"{"Keys":[{"KeyId":"k1"}],"NextMarker":"m1","Truncated":true}"#;
        let http = Replay::repeat((200u16, &[][..], page), 5);
        let kms = aws_sdk_kms::Client::new(&http.sdk_config());
        let e = KmsApi::list_keys(&kms).await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert!(e.message.contains("ListKeys"), "{e}");
        assert_eq!(http.requests().len(), 2, "stops at the first repeat");
    }

    #[tokio::test]
    async fn kms_pages_are_followed_to_the_end() {
        let http = Replay::new(vec![
            (200u16, &[][..], r#"{"Keys":[{"KeyId":"k1"}],"NextMarker":"m1","Truncated":true}"#),
            (200u16, &[][..], r#"{"Keys":[{"KeyId":"k2"}],"Truncated":false}"#),
        ]);
        let kms = aws_sdk_kms::Client::new(&http.sdk_config());
        assert_eq!(KmsApi::list_keys(&kms).await.unwrap(), vec!["k1".to_string(), "k2".to_string()]);
    }
}
