//! The AWS calls of this crate, one trait per client: [`CloudWatchApi`] (alarms and
//! dashboards), [`SnsApi`] (alert topics and subscriptions) and [`EventsApi`] (the RDS
//! failover rule on the default bus). Each is implemented for the real aws-sdk client and
//! mocked with `MockCloudWatchApi` / `MockSnsApi` / `MockEventsApi` (feature `mocks`).
//!
//! Methods take plain arguments and return small structs so that mocks are easy to set.
//! "Describe" methods return `Ok(None)` / an empty list when the resource does not exist.

use std::collections::BTreeMap;

use async_trait::async_trait;
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
                token = resp.next_token().map(str::to_string);
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
        loop {
            let resp = self.list_topics().set_next_token(token.clone()).send().await.map_err(AwsError::from_sdk)?;
            out.extend(resp.topics().iter().filter_map(|t| t.topic_arn().map(str::to_string)));
            token = resp.next_token().map(str::to_string);
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
            token = resp.next_token().map(str::to_string);
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
// EventBridge
// ---------------------------------------------------------------------------------------

/// A rule of the default event bus, as DescribeRule reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub arn: String,
    pub event_pattern: String,
    /// `ENABLED`, `DISABLED`, ...
    pub state: String,
}

/// EventBridge API surface used by the alerts component (default bus only).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventsApi: Send + Sync {
    /// The rule, or `None` when it does not exist.
    async fn describe_rule(&self, name: &str) -> Result<Option<RuleInfo>, AwsError>;
    /// Creates or updates an enabled pattern rule; returns its ARN.
    async fn put_rule(
        &self,
        name: &str,
        pattern: &str,
        description: &str,
        tags: Vec<(String, String)>,
    ) -> Result<String, AwsError>;
    /// (target id, target ARN) pairs of the rule.
    async fn list_targets(&self, rule: &str) -> Result<Vec<(String, String)>, AwsError>;
    async fn put_target(&self, rule: &str, id: &str, arn: &str) -> Result<(), AwsError>;
    async fn remove_targets(&self, rule: &str, ids: Vec<String>) -> Result<(), AwsError>;
    async fn delete_rule(&self, name: &str) -> Result<(), AwsError>;
}

#[async_trait]
impl EventsApi for aws_sdk_eventbridge::Client {
    async fn describe_rule(&self, name: &str) -> Result<Option<RuleInfo>, AwsError> {
        match self.describe_rule().name(name).send().await.map_err(AwsError::from_sdk) {
            Ok(r) => Ok(Some(RuleInfo {
                arn: r.arn().unwrap_or_default().to_string(),
                event_pattern: r.event_pattern().unwrap_or_default().to_string(),
                state: r.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_rule(
        &self,
        name: &str,
        pattern: &str,
        description: &str,
        tags: Vec<(String, String)>,
    ) -> Result<String, AwsError> {
        let tags = tags
            .into_iter()
            .map(|(k, v)| aws_sdk_eventbridge::types::Tag::builder().key(k).value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        let resp = self
            .put_rule()
            .name(name)
            .event_pattern(pattern)
            .description(description)
            .state(aws_sdk_eventbridge::types::RuleState::Enabled)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(resp.rule_arn().unwrap_or_default().to_string())
    }

    async fn list_targets(&self, rule: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let resp = self
                .list_targets_by_rule()
                .rule(rule)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            out.extend(resp.targets().iter().map(|t| (t.id().to_string(), t.arn().to_string())));
            token = resp.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn put_target(&self, rule: &str, id: &str, arn: &str) -> Result<(), AwsError> {
        let target = aws_sdk_eventbridge::types::Target::builder().id(id).arn(arn).build().map_err(build_err)?;
        let resp = self.put_targets().rule(rule).targets(target).send().await.map_err(AwsError::from_sdk)?;
        if let Some(f) = resp.failed_entries().first() {
            return Err(AwsError::other(
                f.error_code().unwrap_or("PutTargetsFailed"),
                f.error_message().unwrap_or("PutTargets reported a failed entry").to_string(),
            ));
        }
        Ok(())
    }

    async fn remove_targets(&self, rule: &str, ids: Vec<String>) -> Result<(), AwsError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.remove_targets().rule(rule).set_ids(Some(ids)).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_rule(&self, name: &str) -> Result<(), AwsError> {
        self.delete_rule().name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}
