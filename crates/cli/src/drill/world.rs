//! What the drill does to a deployed stack and reads back, as one port (`World`): each
//! method is one observation or one change, named by what the drill means by it. `SdkWorld`
//! implements it over the AWS SDK clients of the stack's regions; the drill's unit tests use
//! an in-memory world with programmed delays.
//!
//! This is not a client trait (those stay one per service, owned by the components): it is
//! the drill's narrow view across services, like `failover::DecisionMetric` and
//! `status::RegionProbe`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use tandem_core::aws::{AwsContext, ROUTE53_REGION};
use tandem_core::config::Config;
use tandem_core::{AwsError, Placement};
use tandem_data::aurora::RdsApi;
use tandem_data::aurora_failover::WriterMove;

use crate::failover::{Datum, DecisionMetric};
use crate::status::Writer;

/// One alarm as the drill sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmView {
    pub name: String,
    pub state: String,
    pub actions_enabled: bool,
}

/// One minute of the `AWS/Route53 HealthCheckStatus` metric of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusMinute {
    /// Start of the one-minute period.
    pub at: SystemTime,
    pub minimum: f64,
    pub maximum: f64,
}

#[async_trait]
pub trait World: Send + Sync {
    /// The custom endpoint every call goes to (`AWS_ENDPOINT_URL`), None on AWS itself.
    fn custom_endpoint(&self) -> Option<String>;
    /// The regions the global cluster's writer is read through, in order (secondary, primary).
    fn regions(&self) -> Vec<String>;

    // Data: markers.
    async fn put_item(&self, region: &str, table: &str, key: &str, expires_at: i64) -> Result<(), AwsError>;
    async fn item_exists(&self, region: &str, table: &str, key: &str) -> Result<bool, AwsError>;
    async fn delete_item(&self, region: &str, table: &str, key: &str) -> Result<(), AwsError>;
    async fn put_object(&self, region: &str, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError>;
    async fn object_exists(&self, region: &str, bucket: &str, key: &str) -> Result<bool, AwsError>;
    /// Deletes every version and delete marker of `key`; answers how many.
    async fn delete_object_versions(&self, region: &str, bucket: &str, key: &str) -> Result<usize, AwsError>;
    async fn get_parameter(&self, region: &str, name: &str) -> Result<Option<String>, AwsError>;
    /// A String parameter, overwritten if present.
    async fn put_parameter(&self, region: &str, name: &str, value: &str) -> Result<(), AwsError>;
    /// Missing is fine.
    async fn delete_parameter(&self, region: &str, name: &str) -> Result<(), AwsError>;

    // Metrics and alarms.
    async fn put_decision(&self, region: &str, stack: &str, data: &[Datum]) -> Result<(), AwsError>;
    /// `HealthCheckStatus` of `check_id` (us-east-1), one-minute periods from `since`.
    async fn health_status(&self, check_id: &str, since: SystemTime) -> Result<Vec<StatusMinute>, AwsError>;
    async fn alarms(&self, region: &str, names: &[String]) -> Result<Vec<AlarmView>, AwsError>;
    /// Every metric alarm in ALARM in `region`.
    async fn alarms_in_alarm(&self, region: &str) -> Result<Vec<String>, AwsError>;
    async fn set_alarm_actions(&self, region: &str, names: &[String], enabled: bool) -> Result<(), AwsError>;
    /// The latest one-minute average of a metric over the last 15 minutes (None: no data).
    async fn latest_average(&self, region: &str, namespace: &str, metric: &str, dims: &[(&str, String)]) -> Result<Option<f64>, AwsError>;

    // Events.
    /// The global endpoint's `EndpointId` (DescribeEndpoint in its home region).
    async fn endpoint_id(&self, home_region: &str, name: &str) -> Result<Option<String>, AwsError>;
    /// A log group, its resource policy, and a rule on `bus` matching the drill's events,
    /// targeting the log group.
    async fn create_watch(&self, region: &str, bus: &str, name: &str) -> Result<(), AwsError>;
    /// Whether an event carrying `marker` reached the watch's log group.
    async fn watch_seen(&self, region: &str, name: &str, marker: &str) -> Result<bool, AwsError>;
    /// Everything `create_watch` made; missing parts are fine.
    async fn delete_watch(&self, region: &str, bus: &str, name: &str) -> Result<(), AwsError>;
    /// PutEvents through the global endpoint to `bus` (the bus of the same name in either
    /// region).
    async fn send_event(&self, endpoint_id: &str, bus: &str, marker: &str) -> Result<(), AwsError>;

    // Global Accelerator.
    async fn endpoint_weights(&self, group_arn: &str) -> Result<Vec<(String, i32)>, AwsError>;
    async fn set_endpoint_weights(&self, group_arn: &str, weights: &[(String, i32)]) -> Result<(), AwsError>;
    async fn accelerator_status(&self, accelerator_arn: &str) -> Result<Option<String>, AwsError>;

    // DNS and connections (AWS only: the drill says "not measurable here" on a custom
    // endpoint before calling these).
    /// The addresses `host` resolves to (the system resolver).
    async fn resolve(&self, host: &str) -> Result<Vec<std::net::IpAddr>, AwsError>;
    /// The hosted zone's authoritative name servers (Route 53 `GetHostedZone`, read only).
    async fn zone_name_servers(&self, zone_id: &str) -> Result<Vec<String>, AwsError>;
    /// The A addresses `server` (a name server's host name) itself answers for `name`.
    async fn authoritative_a(&self, server: &str, name: &str) -> Result<Vec<std::net::IpAddr>, AwsError>;
    /// `GET url` over a new HTTPS connection to `connect_to` (the certificate verified for
    /// the URL's host): status and body.
    async fn https_get_via(&self, url: &str, connect_to: &str) -> Result<(u16, String), AwsError>;

    // Database.
    /// The global cluster's writer, read through `region`.
    async fn writer(&self, region: &str) -> Result<Option<Writer>, AwsError>;
    async fn switch_over(&self, to: Placement) -> Result<WriterMove, String>;
    /// Invokes the failover handler with `{"dry_run": true}`: its decision label and reason.
    async fn controller_dry_run(&self, region: &str, function: &str) -> Result<(String, String), AwsError>;
}

/// The world of the stack's regions, over the SDK.
pub struct SdkWorld {
    cfg: Config,
    aws: AwsContext,
    rds: BTreeMap<String, Arc<dyn RdsApi>>,
}

impl SdkWorld {
    pub fn new(cfg: &Config, aws: AwsContext) -> Self {
        let (p, s) = tandem_data::aurora::rds_clients(cfg, &aws);
        let rds = [(cfg.primary_region.clone(), p), (cfg.secondary_region.clone(), s)].into_iter().collect();
        Self { cfg: cfg.clone(), aws, rds }
    }

    fn dynamo(&self, region: &str) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.aws.config(region))
    }
    fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let sdk = self.aws.config(region);
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(self.aws.endpoint_overridden()).build())
    }
    fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.aws.config(region))
    }
    fn cw(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.aws.config(region))
    }
    fn events(&self, region: &str) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.aws.config(region))
    }
    fn logs(&self, region: &str) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.aws.config(region))
    }
    fn ga(&self) -> aws_sdk_globalaccelerator::Client {
        aws_sdk_globalaccelerator::Client::new(&tandem_traffic::global_accelerator_config(&self.aws))
    }
    fn rds(&self, region: &str) -> Result<&Arc<dyn RdsApi>, AwsError> {
        self.rds.get(region).ok_or_else(|| AwsError::other("NoClient", format!("no RDS client for {region}")))
    }
    fn log_group(name: &str) -> String {
        format!("/tandem/drill/{name}")
    }
}

/// The event pattern of the drill's marker events.
pub const EVENT_SOURCE: &str = "tandem.drill";
pub const EVENT_DETAIL_TYPE: &str = "Tandem drill marker";

fn item_key(key: &str) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    [(tandem_data::dynamodb::PARTITION_KEY.to_string(), A::S(key.to_string())), (tandem_data::dynamodb::SORT_KEY.to_string(), A::S("drill".to_string()))].into()
}

#[async_trait]
impl World for SdkWorld {
    fn regions(&self) -> Vec<String> {
        vec![self.cfg.secondary_region.clone(), self.cfg.primary_region.clone()]
    }

    fn custom_endpoint(&self) -> Option<String> {
        if self.aws.endpoint_overridden() {
            Some(std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "a custom endpoint".into()))
        } else {
            None
        }
    }

    async fn put_item(&self, region: &str, table: &str, key: &str, expires_at: i64) -> Result<(), AwsError> {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        let mut item = item_key(key);
        item.insert("ttl".into(), A::N(expires_at.to_string()));
        item.insert("kind".into(), A::S("tandem-drill-marker".into()));
        self.dynamo(region).put_item().table_name(table).set_item(Some(item)).send().await.map(|_| ()).map_err(AwsError::from_sdk)
    }

    async fn item_exists(&self, region: &str, table: &str, key: &str) -> Result<bool, AwsError> {
        let out = self.dynamo(region).get_item().table_name(table).set_key(Some(item_key(key))).consistent_read(true).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.item().is_some())
    }

    async fn delete_item(&self, region: &str, table: &str, key: &str) -> Result<(), AwsError> {
        self.dynamo(region).delete_item().table_name(table).set_key(Some(item_key(key))).send().await.map(|_| ()).map_err(AwsError::from_sdk)
    }

    async fn put_object(&self, region: &str, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.s3(region)
            .put_object()
            .bucket(bucket)
            .set_expected_bucket_owner(self.owner())
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
    }

    async fn object_exists(&self, region: &str, bucket: &str, key: &str) -> Result<bool, AwsError> {
        match self.s3(region).head_object().bucket(bucket).set_expected_bucket_owner(self.owner()).key(key).send().await {
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

    async fn delete_object_versions(&self, region: &str, bucket: &str, key: &str) -> Result<usize, AwsError> {
        let s3 = self.s3(region);
        let mut deleted = 0;
        // Bounded: each round deletes what one listing shows; a marker has a few versions.
        for _ in 0..20 {
            let out = s3.list_object_versions().bucket(bucket).set_expected_bucket_owner(self.owner()).prefix(key).send().await.map_err(AwsError::from_sdk)?;
            let mut ids: Vec<String> = out.versions().iter().filter(|v| v.key() == Some(key)).filter_map(|v| v.version_id().map(str::to_string)).collect();
            ids.extend(out.delete_markers().iter().filter(|m| m.key() == Some(key)).filter_map(|m| m.version_id().map(str::to_string)));
            if ids.is_empty() {
                return Ok(deleted);
            }
            for id in ids {
                match s3.delete_object().bucket(bucket).set_expected_bucket_owner(self.owner()).key(key).version_id(&id).send().await {
                    Ok(_) => deleted += 1,
                    Err(e) => {
                        let e = AwsError::from_sdk(e);
                        if !e.is_not_found() {
                            return Err(e);
                        }
                    }
                }
            }
        }
        Err(AwsError::other("TooManyVersions", format!("s3://{bucket}/{key} still has versions after 20 rounds of deletion")))
    }

    async fn get_parameter(&self, region: &str, name: &str) -> Result<Option<String>, AwsError> {
        match self.ssm(region).get_parameter().name(name).send().await {
            Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() || e.is_code("ParameterNotFound") {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn put_parameter(&self, region: &str, name: &str, value: &str) -> Result<(), AwsError> {
        self.ssm(region)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map(|_| ())
            .map_err(AwsError::from_sdk)
    }

    async fn delete_parameter(&self, region: &str, name: &str) -> Result<(), AwsError> {
        match self.ssm(region).delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() || e.is_code("ParameterNotFound") {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn put_decision(&self, region: &str, stack: &str, data: &[Datum]) -> Result<(), AwsError> {
        self.cw(region).put_decision(stack, data).await
    }

    async fn health_status(&self, check_id: &str, since: SystemTime) -> Result<Vec<StatusMinute>, AwsError> {
        let start = since.checked_sub(Duration::from_secs(60)).unwrap_or(since);
        let end = SystemTime::now() + Duration::from_secs(60);
        let out = self
            .cw(ROUTE53_REGION)
            .get_metric_statistics()
            .namespace("AWS/Route53")
            .metric_name("HealthCheckStatus")
            .dimensions(Dimension::builder().name("HealthCheckId").value(check_id).build())
            .start_time(start.into())
            .end_time(end.into())
            .period(60)
            .statistics(Statistic::Minimum)
            .statistics(Statistic::Maximum)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        let mut minutes: Vec<StatusMinute> = out
            .datapoints()
            .iter()
            .filter_map(|d| {
                let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(d.timestamp()?.secs()).ok()?);
                Some(StatusMinute { at, minimum: d.minimum()?, maximum: d.maximum()? })
            })
            .collect();
        minutes.sort_by_key(|m| m.at);
        Ok(minutes)
    }

    async fn alarms(&self, region: &str, names: &[String]) -> Result<Vec<AlarmView>, AwsError> {
        let out = self.cw(region).describe_alarms().set_alarm_names(Some(names.to_vec())).send().await.map_err(AwsError::from_sdk)?;
        Ok(out
            .metric_alarms()
            .iter()
            .filter_map(|a| {
                Some(AlarmView {
                    name: a.alarm_name()?.to_string(),
                    state: a.state_value()?.as_str().to_string(),
                    actions_enabled: a.actions_enabled().unwrap_or(true),
                })
            })
            .collect())
    }

    async fn alarms_in_alarm(&self, region: &str) -> Result<Vec<String>, AwsError> {
        let cw = self.cw(region);
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..50 {
            let out = cw
                .describe_alarms()
                .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            names.extend(out.metric_alarms().iter().filter_map(|a| a.alarm_name().map(str::to_string)));
            names.extend(out.composite_alarms().iter().filter_map(|a| a.alarm_name().map(str::to_string)));
            match out.next_token() {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_string()),
                Some(_) => return Err(AwsError::other("RepeatedToken", "DescribeAlarms returned the same NextToken twice")),
                None => return Ok(names),
            }
        }
        Err(AwsError::other("TooManyPages", "DescribeAlarms did not end within 50 pages"))
    }

    async fn set_alarm_actions(&self, region: &str, names: &[String], enabled: bool) -> Result<(), AwsError> {
        let cw = self.cw(region);
        if enabled {
            cw.enable_alarm_actions().set_alarm_names(Some(names.to_vec())).send().await.map(|_| ()).map_err(AwsError::from_sdk)
        } else {
            cw.disable_alarm_actions().set_alarm_names(Some(names.to_vec())).send().await.map(|_| ()).map_err(AwsError::from_sdk)
        }
    }

    async fn latest_average(&self, region: &str, namespace: &str, metric: &str, dims: &[(&str, String)]) -> Result<Option<f64>, AwsError> {
        let end = SystemTime::now();
        let mut req = self
            .cw(region)
            .get_metric_statistics()
            .namespace(namespace)
            .metric_name(metric)
            .start_time((end - Duration::from_secs(900)).into())
            .end_time(end.into())
            .period(60)
            .statistics(Statistic::Average);
        for (k, v) in dims {
            req = req.dimensions(Dimension::builder().name(*k).value(v).build());
        }
        let out = req.send().await.map_err(AwsError::from_sdk)?;
        let mut dps = out.datapoints().to_vec();
        dps.sort_by_key(|d| d.timestamp().map(|t| t.secs()));
        Ok(dps.last().and_then(|d| d.average()))
    }

    async fn endpoint_id(&self, home_region: &str, name: &str) -> Result<Option<String>, AwsError> {
        match self.events(home_region).describe_endpoint().name(name).send().await {
            Ok(out) => Ok(out.endpoint_id().map(str::to_string)),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn create_watch(&self, region: &str, bus: &str, name: &str) -> Result<(), AwsError> {
        let logs = self.logs(region);
        let group = Self::log_group(name);
        match logs.create_log_group().log_group_name(&group).send().await {
            Ok(_) => {}
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if !e.is_code("ResourceAlreadyExistsException") {
                    return Err(e);
                }
            }
        }
        // One day is the shortest retention: the group is deleted at the end anyway.
        logs.put_retention_policy().log_group_name(&group).retention_in_days(1).send().await.map_err(AwsError::from_sdk)?;
        let account = self.aws_account(region).await?;
        let group_arn = format!("arn:aws:logs:{region}:{account}:log-group:{group}");
        let rule_arn = format!("arn:aws:events:{region}:{account}:rule/{bus}/{name}");
        // EventBridge writes to the log group only with a resource policy naming it, limited
        // to this rule (least privilege).
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TandemDrillEvents",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": format!("{group_arn}:*"),
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
            }]
        });
        logs.put_resource_policy().policy_name(name).policy_document(policy.to_string()).send().await.map_err(AwsError::from_sdk)?;
        let events = self.events(region);
        let pattern = serde_json::json!({"source": [EVENT_SOURCE]});
        events
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .state(aws_sdk_eventbridge::types::RuleState::Enabled)
            .description("tandem drill: marker events (removed when the drill ends)")
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("drill-log")
            .arn(&group_arn)
            .build()
            .map_err(|e| AwsError::other("BuildError", e.to_string()))?;
        let out = events.put_targets().rule(name).event_bus_name(bus).targets(target).send().await.map_err(AwsError::from_sdk)?;
        if out.failed_entry_count() > 0 {
            return Err(AwsError::other("PutTargetsFailed", format!("{:?}", out.failed_entries())));
        }
        Ok(())
    }

    async fn watch_seen(&self, region: &str, name: &str, marker: &str) -> Result<bool, AwsError> {
        let logs = self.logs(region);
        let out = logs.filter_log_events().log_group_name(Self::log_group(name)).limit(1000).send().await;
        match out {
            Ok(out) => Ok(out.events().iter().any(|e| e.message().is_some_and(|m| m.contains(marker)))),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() || e.is_code("ResourceNotFoundException") {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn delete_watch(&self, region: &str, bus: &str, name: &str) -> Result<(), AwsError> {
        let events = self.events(region);
        let gone = |e: &AwsError| e.is_not_found() || e.is_code("ResourceNotFoundException");
        if let Err(e) = events.remove_targets().rule(name).event_bus_name(bus).ids("drill-log").send().await {
            let e = AwsError::from_sdk(e);
            if !gone(&e) {
                return Err(e);
            }
        }
        if let Err(e) = events.delete_rule().name(name).event_bus_name(bus).send().await {
            let e = AwsError::from_sdk(e);
            if !gone(&e) {
                return Err(e);
            }
        }
        let logs = self.logs(region);
        if let Err(e) = logs.delete_resource_policy().policy_name(name).send().await {
            let e = AwsError::from_sdk(e);
            if !gone(&e) {
                return Err(e);
            }
        }
        if let Err(e) = logs.delete_log_group().log_group_name(Self::log_group(name)).send().await {
            let e = AwsError::from_sdk(e);
            if !gone(&e) {
                return Err(e);
            }
        }
        Ok(())
    }

    async fn send_event(&self, endpoint_id: &str, bus: &str, marker: &str) -> Result<(), AwsError> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(EVENT_DETAIL_TYPE)
            .detail(serde_json::json!({"marker": marker}).to_string())
            .event_bus_name(bus)
            .build();
        // The endpoint decides the region; the client's own region only signs (SigV4a).
        let out = self
            .events(&self.cfg.primary_region)
            .put_events()
            .endpoint_id(endpoint_id)
            .entries(entry)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        if out.failed_entry_count() > 0 {
            return Err(AwsError::other("PutEventsFailed", format!("{:?}", out.entries())));
        }
        Ok(())
    }

    async fn endpoint_weights(&self, group_arn: &str) -> Result<Vec<(String, i32)>, AwsError> {
        let out = self.ga().describe_endpoint_group().endpoint_group_arn(group_arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(out
            .endpoint_group()
            .map(|g| g.endpoint_descriptions().iter().filter_map(|d| Some((d.endpoint_id()?.to_string(), d.weight().unwrap_or(128)))).collect())
            .unwrap_or_default())
    }

    async fn set_endpoint_weights(&self, group_arn: &str, weights: &[(String, i32)]) -> Result<(), AwsError> {
        let configs = weights
            .iter()
            .map(|(id, w)| aws_sdk_globalaccelerator::types::EndpointConfiguration::builder().endpoint_id(id).weight(*w).build())
            .collect();
        self.ga().update_endpoint_group().endpoint_group_arn(group_arn).set_endpoint_configurations(Some(configs)).send().await.map(|_| ()).map_err(AwsError::from_sdk)
    }

    async fn accelerator_status(&self, accelerator_arn: &str) -> Result<Option<String>, AwsError> {
        let out = self.ga().describe_accelerator().accelerator_arn(accelerator_arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.accelerator().and_then(|a| a.status()).map(|s| s.as_str().to_string()))
    }

    async fn resolve(&self, host: &str) -> Result<Vec<std::net::IpAddr>, AwsError> {
        let addrs = tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host((host, 0)))
            .await
            .map_err(|_| AwsError::other("DnsTimeout", format!("{host}: no answer within 10 s")))?
            .map_err(|e| AwsError::other("DnsError", format!("{host}: {e}")))?;
        let mut ips: Vec<std::net::IpAddr> = addrs.map(|a| a.ip()).collect();
        ips.sort();
        ips.dedup();
        Ok(ips)
    }

    async fn zone_name_servers(&self, zone_id: &str) -> Result<Vec<String>, AwsError> {
        let r53 = aws_sdk_route53::Client::new(&self.aws.config(ROUTE53_REGION));
        let out = r53.get_hosted_zone().id(zone_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.delegation_set().map(|d| d.name_servers().to_vec()).unwrap_or_default())
    }

    async fn authoritative_a(&self, server: &str, name: &str) -> Result<Vec<std::net::IpAddr>, AwsError> {
        let ip = self.resolve(server).await?.into_iter().next().ok_or_else(|| AwsError::other("DnsError", format!("{server} has no address")))?;
        let fqdn = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
        super::dns::ask((ip, 53).into(), &fqdn, Duration::from_secs(5)).await.map_err(|e| AwsError::other("DnsError", format!("{server}: {e}")))
    }

    async fn https_get_via(&self, url: &str, connect_to: &str) -> Result<(u16, String), AwsError> {
        use tandem_lambda::clients::{HttpGet, ProbeHttp};
        let http = ProbeHttp::new(Duration::from_secs(10), Some(connect_to.to_string()));
        http.get(url).await.map(|a| (a.status, a.body)).map_err(|e| AwsError::other(e.code, e.message))
    }

    async fn writer(&self, region: &str) -> Result<Option<Writer>, AwsError> {
        let rds = self.rds(region)?;
        Ok(crate::status::read_writer(&self.cfg, rds.as_ref(), region).await)
    }

    async fn switch_over(&self, to: Placement) -> Result<WriterMove, String> {
        let (p, s) = (self.rds(&self.cfg.primary_region).map_err(|e| e.to_string())?, self.rds(&self.cfg.secondary_region).map_err(|e| e.to_string())?);
        tandem_data::switch_over(&self.cfg, p.as_ref(), s.as_ref(), to).await.map_err(|e| e.to_string())
    }

    async fn controller_dry_run(&self, region: &str, function: &str) -> Result<(String, String), AwsError> {
        let lambda = aws_sdk_lambda::Client::new(&self.aws.config(region));
        let payload = serde_json::json!({"source": "drill", "dry_run": true}).to_string();
        let out = lambda
            .invoke()
            .function_name(function)
            .payload(aws_smithy_types::Blob::new(payload.into_bytes()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        if let Some(err) = out.function_error() {
            return Err(AwsError::other("FunctionError", format!("{err}: {}", out.payload().map(|p| String::from_utf8_lossy(p.as_ref()).into_owned()).unwrap_or_default())));
        }
        let body: serde_json::Value = out.payload().and_then(|p| serde_json::from_slice(p.as_ref()).ok()).unwrap_or_default();
        let label = body.get("decision").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let reason = body.get("reason").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        if label.is_empty() {
            return Err(AwsError::other("UnexpectedAnswer", format!("the handler's answer names no decision: {body}")));
        }
        Ok((label, reason))
    }
}

impl SdkWorld {
    /// The stack's account (settled by the preflight): the expected owner of every bucket
    /// call, as in `tandem_data::s3_api::S3Client`.
    fn owner(&self) -> Option<String> {
        self.cfg.account_id.as_ref().map(|a| a.as_str().to_string())
    }

    /// The account for ARNs the drill builds: the one the preflight settled, else the
    /// caller's in `region` (STS GetCallerIdentity).
    async fn aws_account(&self, region: &str) -> Result<String, AwsError> {
        if let Some(a) = self.owner() {
            return Ok(a);
        }
        let sts = aws_sdk_sts::Client::new(&self.aws.config(region));
        let out = sts.get_caller_identity().send().await.map_err(AwsError::from_sdk)?;
        out.account().map(str::to_string).ok_or_else(|| AwsError::other("NoAccount", "GetCallerIdentity named no account"))
    }
}
