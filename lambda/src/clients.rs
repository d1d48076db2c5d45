//! The AWS calls the functions make, behind small traits so the handlers are unit-tested
//! with mockall mocks. Implemented for the real aws-sdk clients.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssm::types::ParameterType;

/// An AWS call failed: the service's error code (or the SDK's failure kind) and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CallError {
    pub code: String,
    pub message: String,
}

impl CallError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// From any aws-sdk error (every aws-sdk crate re-exports the same `SdkError`): the
    /// service's error code, or `SdkError` with the dispatch/timeout failure.
    pub(crate) fn from_sdk<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match err.as_service_error() {
            Some(service) => Self::new(
                service.code().unwrap_or("Unknown"),
                service.message().unwrap_or_default(),
            ),
            None => Self::new(
                "SdkError",
                aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string(),
            ),
        }
    }

    /// Throttled by the service: worth a bounded retry with backoff.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "RequestThrottledException"
        )
    }
}

/// A stored item of the small JSON API, or an event record: string attributes only.
pub type Item = BTreeMap<String, String>;

/// DynamoDB access on the stack's table (key `pk` + `sk`, both strings).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TableApi: Send + Sync {
    /// DescribeTable: the table exists and answers.
    async fn describe(&self, table: &str) -> Result<(), CallError>;
    async fn get_item(&self, table: &str, pk: &str, sk: &str) -> Result<Option<Item>, CallError>;
    async fn put_item(&self, table: &str, item: Item) -> Result<(), CallError>;
    /// Returns whether an item was deleted.
    async fn delete_item(&self, table: &str, pk: &str, sk: &str) -> Result<bool, CallError>;
}

/// A parameter as read from Parameter Store (value decrypted).
#[derive(Clone, PartialEq)]
pub struct Parameter {
    pub value: String,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
}

impl std::fmt::Debug for Parameter {
    // Never print a parameter's value: it may be a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameter")
            .field("kind", &self.kind)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// Parameter Store access in one region.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ParameterApi: Send + Sync {
    /// GetParameter WithDecryption; `None` when it does not exist.
    async fn get(&self, name: &str) -> Result<Option<Parameter>, CallError>;
    /// PutParameter Overwrite (SecureString encrypted with the region's default key).
    async fn put(&self, name: &str, parameter: &Parameter) -> Result<(), CallError>;
    /// DeleteParameter; `false` when it did not exist.
    async fn delete(&self, name: &str) -> Result<bool, CallError>;
}

#[async_trait]
impl TableApi for aws_sdk_dynamodb::Client {
    async fn describe(&self, table: &str) -> Result<(), CallError> {
        self.describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }

    async fn get_item(&self, table: &str, pk: &str, sk: &str) -> Result<Option<Item>, CallError> {
        let out = self
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.to_string()))
            .key("sk", AttributeValue::S(sk.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(out.item().map(|item| {
            item.iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone())))
                .collect()
        }))
    }

    async fn put_item(&self, table: &str, item: Item) -> Result<(), CallError> {
        let item = item
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect();
        self.put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }

    async fn delete_item(&self, table: &str, pk: &str, sk: &str) -> Result<bool, CallError> {
        let out = self
            .delete_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.to_string()))
            .key("sk", AttributeValue::S(sk.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(out.attributes().is_some())
    }
}

fn ssm_error<E, R>(err: aws_sdk_ssm::error::SdkError<E, R>) -> CallError
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => CallError::new(
            service.code().unwrap_or("Unknown"),
            service.message().unwrap_or_default(),
        ),
        None => CallError::new(
            "SdkError",
            aws_sdk_ssm::error::DisplayErrorContext(&err).to_string(),
        ),
    }
}

#[async_trait]
impl ParameterApi for aws_sdk_ssm::Client {
    async fn get(&self, name: &str) -> Result<Option<Parameter>, CallError> {
        match self
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => Ok(out.parameter().map(|p| Parameter {
                value: p.value().unwrap_or_default().to_string(),
                kind: p
                    .r#type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(|| "String".into()),
            })),
            Err(e) => {
                let e = ssm_error(e);
                if e.code == "ParameterNotFound" {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn put(&self, name: &str, parameter: &Parameter) -> Result<(), CallError> {
        self.put_parameter()
            .name(name)
            .value(&parameter.value)
            .r#type(ParameterType::from(parameter.kind.as_str()))
            .overwrite(true)
            .send()
            .await
            .map_err(ssm_error)?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<bool, CallError> {
        match self.delete_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = ssm_error(e);
                if e.code == "ParameterNotFound" {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The failover controller's clients (probe and failover handler, secondary region).
// ---------------------------------------------------------------------------------------

/// One metric datapoint: its timestamp (epoch seconds) and the requested statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: i64,
    pub value: f64,
}

/// A GetMetricStatistics query for one statistic (`Maximum`, `Sum`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
    pub period_secs: i32,
    /// Epoch seconds.
    pub start: i64,
    pub end: i64,
}

/// An alarm's state as DescribeAlarms reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmState {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub value: String,
    /// When the alarm last changed state (epoch seconds): `StateTransitionedTimestamp`,
    /// else `StateUpdatedTimestamp`.
    pub since: i64,
}

/// CloudWatch in one region.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait MetricsApi: Send + Sync {
    /// PutMetricData: one value, standard resolution, unit `None`.
    async fn put_metric(
        &self,
        namespace: &str,
        metric: &str,
        dimensions: &[(String, String)],
        value: f64,
    ) -> Result<(), CallError>;
    /// DescribeAlarms by name (metric and composite alarms); `None` when there is none.
    async fn alarm_state(&self, name: &str) -> Result<Option<AlarmState>, CallError>;
    /// GetMetricStatistics: the datapoints, oldest first.
    async fn metric_points(&self, query: &MetricQuery) -> Result<Vec<Point>, CallError>;
}

/// What DescribeGlobalClusters says about the global cluster.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GlobalClusterView {
    /// ARN of the member with `IsWriter`, if any.
    pub writer_arn: Option<String>,
    /// ARNs of every member.
    pub members: Vec<String>,
    /// `FailoverState.Status` (`pending`, `failing-over`, `cancelling`); `None` when
    /// `FailoverState` is empty.
    pub failover_status: Option<String>,
}

/// One DB cluster snapshot (DescribeDBClusterSnapshots).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSnapshot {
    pub id: String,
    pub cluster_id: String,
    /// `SnapshotCreateTime`, epoch seconds.
    pub created: Option<i64>,
    /// `available`, `creating`, ...
    pub status: String,
    /// `automated`, `manual`, ...
    pub kind: String,
}

/// RDS (Aurora) in one region.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait AuroraApi: Send + Sync {
    /// DescribeGlobalClusters for one identifier; `None` when it does not exist.
    async fn describe_global_cluster(
        &self,
        id: &str,
    ) -> Result<Option<GlobalClusterView>, CallError>;
    /// FailoverGlobalCluster with `TargetDbClusterIdentifier = target_cluster_arn` and
    /// `AllowDataLoss = true` set explicitly (unset would mean a switchover).
    async fn failover_global_cluster(
        &self,
        id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CallError>;
    /// DescribeDBClusterSnapshots of one cluster (the default types: automated and
    /// manual; bounded to 10 pages).
    async fn cluster_snapshots(&self, cluster_id: &str) -> Result<Vec<ClusterSnapshot>, CallError>;
    /// CopyDBClusterSnapshot in this region (tags copied).
    async fn copy_cluster_snapshot(
        &self,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), CallError>;
    /// DescribeDBClusters for one cluster: its `Status`; `None` when it does not exist.
    async fn cluster_status(&self, cluster_id: &str) -> Result<Option<String>, CallError>;
}

/// SNS in one region.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TopicApi: Send + Sync {
    /// Publish; `subject` is cut to SNS's 100 characters by the implementation.
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str)
        -> Result<(), CallError>;
}

/// Lambda in one region.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait FunctionApi: Send + Sync {
    /// Invoke with `InvocationType = Event` (asynchronous).
    async fn invoke_async(&self, function: &str, payload: &str) -> Result<(), CallError>;
}

/// An HTTP answer: status and body (as text, lossy).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
}

/// One HTTP GET with the implementation's timeout. Errors: `Timeout` or `Http` (connect,
/// TLS, protocol).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait HttpGet: Send + Sync {
    async fn get(&self, url: &str) -> Result<HttpAnswer, CallError>;
}

fn epoch(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.map(|t| t.secs())
}

#[async_trait]
impl MetricsApi for aws_sdk_cloudwatch::Client {
    async fn put_metric(
        &self,
        namespace: &str,
        metric: &str,
        dimensions: &[(String, String)],
        value: f64,
    ) -> Result<(), CallError> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let mut datum = MetricDatum::builder()
            .metric_name(metric)
            .value(value)
            .unit(StandardUnit::None)
            .storage_resolution(60);
        for (name, value) in dimensions {
            datum = datum.dimensions(Dimension::builder().name(name).value(value).build());
        }
        self.put_metric_data()
            .namespace(namespace)
            .metric_data(datum.build())
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }

    async fn alarm_state(&self, name: &str) -> Result<Option<AlarmState>, CallError> {
        use aws_sdk_cloudwatch::types::AlarmType;
        let out = self
            .describe_alarms()
            .alarm_names(name)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        let metric = out
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name))
            .map(|a| {
                (
                    a.state_value().map(|v| v.as_str().to_string()),
                    epoch(a.state_transitioned_timestamp()).or(epoch(a.state_updated_timestamp())),
                )
            });
        let composite = out
            .composite_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name))
            .map(|a| {
                (
                    a.state_value().map(|v| v.as_str().to_string()),
                    epoch(a.state_transitioned_timestamp()).or(epoch(a.state_updated_timestamp())),
                )
            });
        Ok(metric.or(composite).map(|(value, since)| AlarmState {
            value: value.unwrap_or_else(|| "INSUFFICIENT_DATA".into()),
            since: since.unwrap_or(0),
        }))
    }

    async fn metric_points(&self, q: &MetricQuery) -> Result<Vec<Point>, CallError> {
        use aws_sdk_cloudwatch::types::{Dimension, Statistic};
        use aws_smithy_types::DateTime;
        let mut req = self
            .get_metric_statistics()
            .namespace(&q.namespace)
            .metric_name(&q.metric)
            .start_time(DateTime::from_secs(q.start))
            .end_time(DateTime::from_secs(q.end))
            .period(q.period_secs)
            .statistics(Statistic::from(q.statistic.as_str()));
        for (name, value) in &q.dimensions {
            req = req.dimensions(Dimension::builder().name(name).value(value).build());
        }
        let out = req.send().await.map_err(CallError::from_sdk)?;
        let mut points: Vec<Point> = out
            .datapoints()
            .iter()
            .filter_map(|d| {
                let value = match q.statistic.as_str() {
                    "Maximum" => d.maximum(),
                    "Minimum" => d.minimum(),
                    "Sum" => d.sum(),
                    "SampleCount" => d.sample_count(),
                    _ => d.average(),
                }?;
                Some(Point {
                    at: epoch(d.timestamp())?,
                    value,
                })
            })
            .collect();
        points.sort_by_key(|p| p.at);
        Ok(points)
    }
}

#[async_trait]
impl AuroraApi for aws_sdk_rds::Client {
    async fn describe_global_cluster(
        &self,
        id: &str,
    ) -> Result<Option<GlobalClusterView>, CallError> {
        let out = match self
            .describe_global_clusters()
            .global_cluster_identifier(id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = CallError::from_sdk(e);
                return if e.code == "GlobalClusterNotFoundFault" {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        Ok(out
            .global_clusters()
            .iter()
            .find(|g| g.global_cluster_identifier() == Some(id))
            .map(|g| GlobalClusterView {
                writer_arn: g
                    .global_cluster_members()
                    .iter()
                    .find(|m| m.is_writer() == Some(true))
                    .and_then(|m| m.db_cluster_arn())
                    .map(str::to_string),
                members: g
                    .global_cluster_members()
                    .iter()
                    .filter_map(|m| m.db_cluster_arn().map(str::to_string))
                    .collect(),
                failover_status: g
                    .failover_state()
                    .and_then(|f| f.status())
                    .map(|s| s.as_str().to_string())
                    .filter(|s| !s.is_empty()),
            }))
    }

    async fn failover_global_cluster(
        &self,
        id: &str,
        target_cluster_arn: &str,
    ) -> Result<(), CallError> {
        self.failover_global_cluster()
            .global_cluster_identifier(id)
            .target_db_cluster_identifier(target_cluster_arn)
            .allow_data_loss(true)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }

    async fn cluster_snapshots(&self, cluster_id: &str) -> Result<Vec<ClusterSnapshot>, CallError> {
        let mut snapshots = Vec::new();
        let mut marker: Option<String> = None;
        for _page in 0..10 {
            let out = self
                .describe_db_cluster_snapshots()
                .db_cluster_identifier(cluster_id)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(CallError::from_sdk)?;
            snapshots.extend(out.db_cluster_snapshots().iter().map(|s| {
                ClusterSnapshot {
                    id: s
                        .db_cluster_snapshot_identifier()
                        .unwrap_or_default()
                        .to_string(),
                    cluster_id: s.db_cluster_identifier().unwrap_or_default().to_string(),
                    created: epoch(s.snapshot_create_time()),
                    status: s.status().unwrap_or_default().to_string(),
                    kind: s.snapshot_type().unwrap_or_default().to_string(),
                }
            }));
            match out.marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(snapshots)
    }

    async fn copy_cluster_snapshot(
        &self,
        source_id: &str,
        target_id: &str,
    ) -> Result<(), CallError> {
        self.copy_db_cluster_snapshot()
            .source_db_cluster_snapshot_identifier(source_id)
            .target_db_cluster_snapshot_identifier(target_id)
            .copy_tags(true)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }

    async fn cluster_status(&self, cluster_id: &str) -> Result<Option<String>, CallError> {
        match self
            .describe_db_clusters()
            .db_cluster_identifier(cluster_id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .db_clusters()
                .first()
                .map(|c| c.status().unwrap_or("unknown").to_string())),
            Err(e) => {
                let e = CallError::from_sdk(e);
                if e.code == "DBClusterNotFoundFault" {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[async_trait]
impl TopicApi for aws_sdk_sns::Client {
    async fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> Result<(), CallError> {
        // SNS subjects: at most 100 printable ASCII characters, no line breaks.
        let subject: String = subject
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    ' '
                }
            })
            .take(100)
            .collect();
        self.publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }
}

#[async_trait]
impl FunctionApi for aws_sdk_lambda::Client {
    async fn invoke_async(&self, function: &str, payload: &str) -> Result<(), CallError> {
        self.invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_smithy_types::Blob::new(payload.as_bytes().to_vec()))
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }
}

/// The probe's HTTP client: the SDK's own hyper + rustls connector (certificates verified
/// against the system roots, never disabled), one overall timeout per GET.
///
/// `connect_to` sends the connection to another host than the URL's (like curl's
/// `--connect-to`): the NLB check asks `https://<api domain>/health` so the certificate is
/// verified for the name it was issued for, while the TCP connection goes to the NLB's
/// own DNS name. Without it the URL's host is resolved as usual.
pub struct ProbeHttp {
    connector: aws_smithy_http_client::Connector,
    timeout: std::time::Duration,
}

impl ProbeHttp {
    pub fn new(timeout: std::time::Duration, connect_to: Option<String>) -> Self {
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
        let builder = aws_smithy_http_client::Connector::builder()
            .pool_max_idle_per_host(0)
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        let connector = match connect_to {
            Some(host) => builder.build_with_resolver(ConnectTo(host)),
            None => builder.build(),
        };
        Self { connector, timeout }
    }
}

/// Resolves every name to the addresses of one host (see [`ProbeHttp`]).
#[derive(Debug, Clone)]
struct ConnectTo(String);

impl aws_smithy_runtime_api::client::dns::ResolveDns for ConnectTo {
    fn resolve_dns<'a>(
        &'a self,
        _name: &'a str,
    ) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDnsError};
        let host = self.0.clone();
        DnsFuture::new(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(ResolveDnsError::new)?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

#[async_trait]
impl HttpGet for ProbeHttp {
    async fn get(&self, url: &str) -> Result<HttpAnswer, CallError> {
        use aws_smithy_runtime_api::client::http::HttpConnector;
        use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
        let mut request =
            HttpRequest::get(url).map_err(|e| CallError::new("BadUrl", format!("{url}: {e}")))?;
        request
            .headers_mut()
            .insert("user-agent", "tandem-failover-probe");
        let call = async {
            let response = self
                .connector
                .call(request)
                .await
                .map_err(|e| CallError::new("Http", error_chain(&e)))?;
            let status = response.status().as_u16();
            let bytes = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|e| CallError::new("Http", error_chain(&e)))?
                .into_bytes();
            // /health answers are small; never keep more than 64 KiB of a body.
            let body = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
            Ok(HttpAnswer { status, body })
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(CallError::new(
                "Timeout",
                format!("no answer within {:?}", self.timeout),
            )),
        }
    }
}

/// An error and its sources on one line (hyper's Display alone says "client error").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    let mut depth = 0;
    while let (Some(s), true) = (source, depth < 8) {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
        depth += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_debug_never_shows_the_value() {
        let p = Parameter {
            value: "s3cr3t".into(),
            kind: "SecureString".into(),
        };
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("SecureString"),
            "{shown}"
        );
    }

    /// A one-shot HTTP/1.1 server on 127.0.0.1: answers one request with `response`,
    /// hands back the request it read.
    async fn serve_once(response: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut read = 0;
            while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf[read..]).await.unwrap();
                if n == 0 {
                    break;
                }
                read += n;
            }
            sock.write_all(response.as_bytes()).await.unwrap();
            sock.shutdown().await.ok();
            String::from_utf8_lossy(&buf[..read]).into_owned()
        });
        (port, task)
    }

    #[tokio::test]
    async fn probe_http_gets_status_and_body() {
        let body = r#"{"status":"ok","checks":{"database_writer":"ok"}}"#;
        let response: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (port, server) = serve_once(response).await;
        let http = ProbeHttp::new(std::time::Duration::from_secs(5), None);
        let answer = http
            .get(&format!("http://127.0.0.1:{port}/v1/health"))
            .await
            .unwrap();
        assert_eq!(
            answer,
            HttpAnswer {
                status: 200,
                body: body.into()
            }
        );
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /v1/health HTTP/1.1"), "{request}");
    }

    #[tokio::test]
    async fn probe_http_connect_to_keeps_the_urls_host() {
        let (port, server) = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        // The URL names a host that does not resolve; the connection goes to 127.0.0.1.
        let http = ProbeHttp::new(std::time::Duration::from_secs(5), Some("127.0.0.1".into()));
        let answer = http
            .get(&format!("http://api.primary.invalid:{port}/health"))
            .await
            .unwrap();
        assert_eq!(answer.status, 503);
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(
            request.contains(&format!("host: api.primary.invalid:{port}")),
            "{request}"
        );
    }

    #[tokio::test]
    async fn probe_http_times_out_and_reports_refused_connections() {
        // A listener that accepts and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _hold = tokio::spawn(async move {
            let _conn = listener.accept().await;
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        });
        let http = ProbeHttp::new(std::time::Duration::from_millis(300), None);
        let err = http
            .get(&format!("http://127.0.0.1:{port}/health"))
            .await
            .unwrap_err();
        assert_eq!(err.code, "Timeout", "{err}");

        // A port nobody listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = ProbeHttp::new(std::time::Duration::from_secs(5), None)
            .get(&format!("http://127.0.0.1:{port}/health"))
            .await
            .unwrap_err();
        assert_eq!(err.code, "Http", "{err}");
    }

    #[test]
    fn throttling_codes() {
        assert!(CallError::new("Throttling", "x").is_throttling());
        assert!(!CallError::new("InvalidGlobalClusterStateFault", "x").is_throttling());
    }
}
