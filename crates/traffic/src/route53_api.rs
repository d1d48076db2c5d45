//! The Route 53 client trait (health checks, record changes), its aws-sdk implementation,
//! and the value types it speaks. Route 53 is global; Tandem calls it in us-east-1.

use tandem_core::paging::PageTokens;
use aws_sdk_route53 as r53;
use serde::{Deserialize, Serialize};
use tandem_core::AwsError;

use crate::common::build_error;

/// `CLOUDWATCH_METRIC`: the check follows a CloudWatch alarm.
pub const CLOUDWATCH_METRIC: &str = "CLOUDWATCH_METRIC";
/// `CALCULATED`: the check counts its healthy children.
pub const CALCULATED: &str = "CALCULATED";

/// The CloudWatch alarm a CLOUDWATCH_METRIC check watches (Route 53's `AlarmIdentifier`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmRef {
    /// The alarm's region (Route 53 `CloudWatchRegion`).
    pub region: String,
    pub name: String,
}

/// The configuration of a health check (what Tandem creates and compares).
///
/// Endpoint checks (`HTTPS`, `TCP`) use `fqdn` .. `failure_threshold`; a
/// `CLOUDWATCH_METRIC` check uses `alarm` and `insufficient_data_health_status`; a
/// `CALCULATED` check `child_health_checks` and `health_threshold`. What a type does not
/// use is empty / zero / `None` (so read back from Route 53 too, see `spec_of`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckSpec {
    /// `HTTPS`, `TCP`, [`CLOUDWATCH_METRIC`] or [`CALCULATED`]; immutable after creation.
    pub check_type: String,
    pub fqdn: String,
    pub port: i32,
    pub resource_path: Option<String>,
    pub enable_sni: bool,
    /// 10 or 30 seconds; immutable after creation.
    pub request_interval: i32,
    pub failure_threshold: i32,
    #[serde(default)]
    pub alarm: Option<AlarmRef>,
    /// `Healthy`, `Unhealthy` or `LastKnownStatus`.
    #[serde(default)]
    pub insufficient_data_health_status: Option<String>,
    #[serde(default)]
    pub child_health_checks: Vec<String>,
    /// How many children must be healthy.
    #[serde(default)]
    pub health_threshold: Option<i32>,
}

impl HealthCheckSpec {
    /// Whether the check probes an endpoint (HTTP(S)/TCP), as opposed to an alarm or children.
    pub fn is_endpoint(&self) -> bool {
        self.check_type != CLOUDWATCH_METRIC && self.check_type != CALCULATED
    }
}

/// A health check as Route 53 describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckInfo {
    pub id: String,
    pub caller_reference: String,
    pub spec: HealthCheckSpec,
}

/// An alias target of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasTarget {
    pub hosted_zone_id: String,
    pub dns_name: String,
    pub evaluate_target_health: bool,
}

/// A resource record set (the subset Tandem writes: failover aliases and CNAMEs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    pub name: String,
    /// `A`, `CNAME`, ...
    pub record_type: String,
    pub set_identifier: Option<String>,
    /// `PRIMARY` or `SECONDARY`.
    pub failover: Option<String>,
    pub health_check_id: Option<String>,
    pub alias: Option<AliasTarget>,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
}

impl RecordSet {
    /// A simple CNAME record.
    pub fn cname(name: &str, value: &str, ttl: i64) -> Self {
        Self {
            name: name.to_string(),
            record_type: "CNAME".into(),
            set_identifier: None,
            failover: None,
            health_check_id: None,
            alias: None,
            ttl: Some(ttl),
            values: vec![value.to_string()],
        }
    }
}

/// `UPSERT`, `DELETE` or `CREATE`.
pub const UPSERT: &str = "UPSERT";
pub const DELETE: &str = "DELETE";
/// Change status once propagated.
pub const INSYNC: &str = "INSYNC";

/// Normalises a DNS name for comparison: lowercase, no trailing dot.
pub fn dns_eq(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Route 53 calls used by the health, failover and certificate components.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait Route53Api: Send + Sync {
    async fn create_health_check(&self, caller_reference: &str, spec: HealthCheckSpec) -> Result<HealthCheckInfo, AwsError>;
    async fn get_health_check(&self, id: &str) -> Result<HealthCheckInfo, AwsError>;
    /// All health checks of the account (every page).
    async fn list_health_checks(&self) -> Result<Vec<HealthCheckInfo>, AwsError>;
    /// Updates the mutable settings: FQDN, port, path, SNI, failure threshold (endpoint
    /// checks); alarm and InsufficientDataHealthStatus (CLOUDWATCH_METRIC); children and
    /// HealthThreshold (CALCULATED). The type and request interval cannot change.
    async fn update_health_check(&self, id: &str, spec: HealthCheckSpec) -> Result<HealthCheckInfo, AwsError>;
    async fn delete_health_check(&self, id: &str) -> Result<(), AwsError>;
    async fn tag_health_check(&self, id: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    async fn list_health_check_tags(&self, id: &str) -> Result<Vec<(String, String)>, AwsError>;

    /// Submits one change batch of `(action, record)` pairs; returns the change id.
    async fn change_record_sets(&self, hosted_zone_id: &str, changes: Vec<(String, RecordSet)>) -> Result<String, AwsError>;
    /// `PENDING` or `INSYNC`.
    async fn get_change_status(&self, change_id: &str) -> Result<String, AwsError>;
    /// The record sets named `name` (any type, any set identifier).
    async fn list_record_sets_named(&self, hosted_zone_id: &str, name: &str) -> Result<Vec<RecordSet>, AwsError>;
}

/// The real client (region us-east-1).
pub struct Route53Client(pub r53::Client);

fn spec_of(c: &r53::types::HealthCheckConfig) -> HealthCheckSpec {
    let check_type = c.r#type().as_str().to_string();
    match check_type.as_str() {
        CLOUDWATCH_METRIC => HealthCheckSpec {
            alarm: c.alarm_identifier().map(|a| AlarmRef { region: a.region().as_str().to_string(), name: a.name().to_string() }),
            insufficient_data_health_status: c.insufficient_data_health_status().map(|s| s.as_str().to_string()),
            check_type,
            ..Default::default()
        },
        CALCULATED => HealthCheckSpec {
            child_health_checks: c.child_health_checks().to_vec(),
            health_threshold: c.health_threshold(),
            check_type,
            ..Default::default()
        },
        _ => HealthCheckSpec {
            check_type,
            fqdn: c.fully_qualified_domain_name().unwrap_or_default().to_string(),
            port: c.port().unwrap_or(0),
            resource_path: c.resource_path().map(str::to_string),
            enable_sni: c.enable_sni().unwrap_or(false),
            request_interval: c.request_interval().unwrap_or(30),
            failure_threshold: c.failure_threshold().unwrap_or(3),
            ..Default::default()
        },
    }
}

fn info_of(h: &r53::types::HealthCheck) -> HealthCheckInfo {
    HealthCheckInfo {
        id: h.id().to_string(),
        caller_reference: h.caller_reference().to_string(),
        spec: h.health_check_config().map(spec_of).unwrap_or_default(),
    }
}

fn alarm_identifier(spec: &HealthCheckSpec) -> Result<Option<r53::types::AlarmIdentifier>, AwsError> {
    spec.alarm
        .as_ref()
        .map(|a| {
            r53::types::AlarmIdentifier::builder()
                .region(r53::types::CloudWatchRegion::from(a.region.as_str()))
                .name(&a.name)
                .build()
                .map_err(build_error)
        })
        .transpose()
}

/// The CreateHealthCheck configuration of `spec`: only the members its type uses.
fn sdk_config(spec: &HealthCheckSpec) -> Result<r53::types::HealthCheckConfig, AwsError> {
    let b = r53::types::HealthCheckConfig::builder().r#type(r53::types::HealthCheckType::from(spec.check_type.as_str()));
    let b = match spec.check_type.as_str() {
        CLOUDWATCH_METRIC => b.set_alarm_identifier(alarm_identifier(spec)?).set_insufficient_data_health_status(
            spec.insufficient_data_health_status.as_deref().map(r53::types::InsufficientDataHealthStatus::from),
        ),
        CALCULATED => b.set_child_health_checks(Some(spec.child_health_checks.clone())).set_health_threshold(spec.health_threshold),
        _ => b
            .fully_qualified_domain_name(&spec.fqdn)
            .port(spec.port)
            .set_resource_path(spec.resource_path.clone())
            .set_enable_sni(if spec.check_type == "TCP" { None } else { Some(spec.enable_sni) })
            .request_interval(spec.request_interval)
            .failure_threshold(spec.failure_threshold),
    };
    b.build().map_err(build_error)
}

fn record_of(r: &r53::types::ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: r.name().to_string(),
        record_type: r.r#type().as_str().to_string(),
        set_identifier: r.set_identifier().map(str::to_string),
        failover: r.failover().map(|f| f.as_str().to_string()),
        health_check_id: r.health_check_id().map(str::to_string),
        alias: r.alias_target().map(|a| AliasTarget {
            hosted_zone_id: a.hosted_zone_id().to_string(),
            dns_name: a.dns_name().to_string(),
            evaluate_target_health: a.evaluate_target_health(),
        }),
        ttl: r.ttl(),
        values: r.resource_records().iter().map(|v| v.value().to_string()).collect(),
    }
}

fn sdk_record(r: &RecordSet) -> Result<r53::types::ResourceRecordSet, AwsError> {
    let mut b = r53::types::ResourceRecordSet::builder()
        .name(&r.name)
        .r#type(r53::types::RrType::from(r.record_type.as_str()))
        .set_set_identifier(r.set_identifier.clone())
        .set_failover(r.failover.as_deref().map(r53::types::ResourceRecordSetFailover::from))
        .set_health_check_id(r.health_check_id.clone())
        .set_ttl(r.ttl);
    if let Some(a) = &r.alias {
        b = b.alias_target(
            r53::types::AliasTarget::builder()
                .hosted_zone_id(&a.hosted_zone_id)
                .dns_name(&a.dns_name)
                .evaluate_target_health(a.evaluate_target_health)
                .build()
                .map_err(build_error)?,
        );
    }
    for v in &r.values {
        b = b.resource_records(r53::types::ResourceRecord::builder().value(v).build().map_err(build_error)?);
    }
    b.build().map_err(build_error)
}

#[async_trait::async_trait]
impl Route53Api for Route53Client {
    async fn create_health_check(&self, caller_reference: &str, spec: HealthCheckSpec) -> Result<HealthCheckInfo, AwsError> {
        let config = sdk_config(&spec)?;
        let out = self
            .0
            .create_health_check()
            .caller_reference(caller_reference)
            .health_check_config(config)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.health_check().map(info_of).ok_or_else(|| AwsError::other("InvalidResponse", "CreateHealthCheck returned no health check"))
    }

    async fn get_health_check(&self, id: &str) -> Result<HealthCheckInfo, AwsError> {
        let out = self.0.get_health_check().health_check_id(id).send().await.map_err(AwsError::from_sdk)?;
        out.health_check().map(info_of).ok_or_else(|| AwsError::not_found("NoSuchHealthCheck", format!("health check {id}")))
    }

    async fn list_health_checks(&self) -> Result<Vec<HealthCheckInfo>, AwsError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        let mut pages = PageTokens::new("ListHealthChecks", "the account");
        loop {
            let out = self.0.list_health_checks().set_marker(marker.take()).send().await.map_err(AwsError::from_sdk)?;
            all.extend(out.health_checks().iter().map(info_of));
            match pages.next(out.next_marker().filter(|_| out.is_truncated()))? {
                Some(m) => marker = Some(m),
                None => return Ok(all),
            }
        }
    }

    async fn update_health_check(&self, id: &str, spec: HealthCheckSpec) -> Result<HealthCheckInfo, AwsError> {
        let b = self.0.update_health_check().health_check_id(id);
        let b = match spec.check_type.as_str() {
            CLOUDWATCH_METRIC => b.set_alarm_identifier(alarm_identifier(&spec)?).set_insufficient_data_health_status(
                spec.insufficient_data_health_status.as_deref().map(r53::types::InsufficientDataHealthStatus::from),
            ),
            // ChildHealthChecks replaces the whole list.
            CALCULATED => b.set_child_health_checks(Some(spec.child_health_checks.clone())).set_health_threshold(spec.health_threshold),
            _ => b
                .fully_qualified_domain_name(&spec.fqdn)
                .port(spec.port)
                .set_resource_path(spec.resource_path.clone())
                .set_enable_sni(if spec.check_type == "TCP" { None } else { Some(spec.enable_sni) })
                .failure_threshold(spec.failure_threshold),
        };
        let out = b.send().await.map_err(AwsError::from_sdk)?;
        out.health_check().map(info_of).ok_or_else(|| AwsError::other("InvalidResponse", "UpdateHealthCheck returned no health check"))
    }

    async fn delete_health_check(&self, id: &str) -> Result<(), AwsError> {
        self.0.delete_health_check().health_check_id(id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn tag_health_check(&self, id: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        let tags = tags.into_iter().map(|(k, v)| r53::types::Tag::builder().key(k).value(v).build()).collect();
        self.0
            .change_tags_for_resource()
            .resource_type(r53::types::TagResourceType::Healthcheck)
            .resource_id(id)
            .set_add_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_health_check_tags(&self, id: &str) -> Result<Vec<(String, String)>, AwsError> {
        let out = self
            .0
            .list_tags_for_resource()
            .resource_type(r53::types::TagResourceType::Healthcheck)
            .resource_id(id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(out
            .resource_tag_set()
            .map(|s| s.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect())
            .unwrap_or_default())
    }

    async fn change_record_sets(&self, hosted_zone_id: &str, changes: Vec<(String, RecordSet)>) -> Result<String, AwsError> {
        let mut batch = r53::types::ChangeBatch::builder();
        for (action, record) in &changes {
            batch = batch.changes(
                r53::types::Change::builder()
                    .action(r53::types::ChangeAction::from(action.as_str()))
                    .resource_record_set(sdk_record(record)?)
                    .build()
                    .map_err(build_error)?,
            );
        }
        let out = self
            .0
            .change_resource_record_sets()
            .hosted_zone_id(hosted_zone_id)
            .change_batch(batch.build().map_err(build_error)?)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(out.change_info().map(|c| c.id().to_string()).unwrap_or_default())
    }

    async fn get_change_status(&self, change_id: &str) -> Result<String, AwsError> {
        let out = self.0.get_change().id(change_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.change_info().map(|c| c.status().as_str().to_string()).unwrap_or_default())
    }

    async fn list_record_sets_named(&self, hosted_zone_id: &str, name: &str) -> Result<Vec<RecordSet>, AwsError> {
        let mut found = Vec::new();
        let mut start: (Option<String>, Option<r53::types::RrType>, Option<String>) = (Some(name.to_string()), None, None);
        let mut pages = PageTokens::new("ListResourceRecordSets", format!("{name} in {hosted_zone_id}"));
        loop {
            let out = self
                .0
                .list_resource_record_sets()
                .hosted_zone_id(hosted_zone_id)
                .set_start_record_name(start.0.take())
                .set_start_record_type(start.1.take())
                .set_start_record_identifier(start.2.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            let mut past = false;
            for r in out.resource_record_sets() {
                if dns_eq(r.name(), name) {
                    found.push(record_of(r));
                } else if !found.is_empty() {
                    past = true;
                }
            }
            if past || !out.is_truncated() {
                return Ok(found);
            }
            match out.next_record_name() {
                Some(n) if dns_eq(n, name) => {
                    let next_type = out.next_record_type().cloned();
                    let next_id = out.next_record_identifier().map(str::to_string);
                    // The page token is the (name, type, identifier) triple.
                    let token = format!("{n}\u{0}{}\u{0}{}", next_type.as_ref().map(|t| t.as_str()).unwrap_or_default(), next_id.as_deref().unwrap_or_default());
                    pages.next(Some(&token))?;
                    start = (Some(n.to_string()), next_type, next_id);
                }
                _ => return Ok(found),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_compare_without_trailing_dot_or_case() {
        assert!(dns_eq("Api.Example.com.", "api.example.com"));
        assert!(!dns_eq("api.example.com", "www.example.com"));
    }

    #[test]
    fn sdk_record_carries_failover_alias_and_health_check() {
        let r = RecordSet {
            name: "api.example.com".into(),
            record_type: "A".into(),
            set_identifier: Some("primary".into()),
            failover: Some("PRIMARY".into()),
            health_check_id: Some("hc-1".into()),
            alias: Some(AliasTarget { hosted_zone_id: "Z1".into(), dns_name: "d-1.example".into(), evaluate_target_health: false }),
            ttl: None,
            values: vec![],
        };
        let s = sdk_record(&r).expect("record builds");
        assert_eq!(s.failover().map(|f| f.as_str()), Some("PRIMARY"));
        assert_eq!(s.health_check_id(), Some("hc-1"));
        assert_eq!(s.alias_target().map(|a| a.dns_name()), Some("d-1.example"));
        assert_eq!(record_of(&s), r);
    }

    #[test]
    fn a_cloudwatch_metric_check_carries_only_its_alarm_and_insufficient_data_status() {
        let spec = HealthCheckSpec {
            check_type: CLOUDWATCH_METRIC.into(),
            alarm: Some(AlarmRef { region: "us-east-2".into(), name: "alarm-primary-down-secondary-t".into() }),
            insufficient_data_health_status: Some("Healthy".into()),
            ..Default::default()
        };
        let c = sdk_config(&spec).expect("config builds");
        assert_eq!(c.r#type().as_str(), "CLOUDWATCH_METRIC");
        assert_eq!(c.alarm_identifier().map(|a| (a.region().as_str(), a.name())), Some(("us-east-2", "alarm-primary-down-secondary-t")));
        assert_eq!(c.insufficient_data_health_status().map(|s| s.as_str()), Some("Healthy"));
        assert_eq!((c.port(), c.request_interval(), c.fully_qualified_domain_name()), (None, None, None), "no endpoint member");
        assert_eq!(spec_of(&c), spec);
    }

    #[test]
    fn a_calculated_check_carries_only_its_children_and_threshold() {
        let spec = HealthCheckSpec {
            check_type: CALCULATED.into(),
            child_health_checks: vec!["hc-api".into(), "hc-decision".into()],
            health_threshold: Some(2),
            ..Default::default()
        };
        let c = sdk_config(&spec).expect("config builds");
        assert_eq!(c.r#type().as_str(), "CALCULATED");
        assert_eq!(c.child_health_checks(), ["hc-api".to_string(), "hc-decision".to_string()]);
        assert_eq!(c.health_threshold(), Some(2));
        assert_eq!((c.port(), c.failure_threshold(), c.alarm_identifier()), (None, None, None));
        assert_eq!(spec_of(&c), spec);
    }

    #[test]
    fn endpoint_fields_an_emulator_answers_for_other_types_are_not_read() {
        // moto answers Port 80, RequestInterval 30 and FailureThreshold 3 for every type but
        // CALCULATED: a CLOUDWATCH_METRIC check read back still equals what was asked.
        let c = r53::types::HealthCheckConfig::builder()
            .r#type(r53::types::HealthCheckType::CloudwatchMetric)
            .port(80)
            .request_interval(30)
            .failure_threshold(3)
            .build()
            .expect("config builds");
        let s = spec_of(&c);
        assert_eq!((s.port, s.request_interval, s.failure_threshold), (0, 0, 0));
        assert!(!s.is_endpoint());
    }

    #[test]
    fn an_endpoint_check_sends_no_alarm_or_children() {
        let spec = HealthCheckSpec {
            check_type: "HTTPS".into(),
            fqdn: "abc.execute-api.us-east-1.amazonaws.com".into(),
            port: 443,
            resource_path: Some("/live/health".into()),
            enable_sni: true,
            request_interval: 10,
            failure_threshold: 3,
            ..Default::default()
        };
        let c = sdk_config(&spec).expect("config builds");
        assert!(c.alarm_identifier().is_none() && c.child_health_checks().is_empty() && c.health_threshold().is_none());
        assert_eq!(spec_of(&c), spec);
        assert!(spec.is_endpoint());
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_marker_ends_the_listing_with_an_error() {
        let page = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListHealthChecksResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HealthChecks></HealthChecks><Marker></Marker><IsTruncated>true</IsTruncated><NextMarker>m1</NextMarker><MaxItems>100</MaxItems></ListHealthChecksResponse>"#;
        let http = Replay::repeat((200u16, &[("content-type", "text/xml")][..], page), 5);
        let r53c = Route53Client(r53::Client::new(&http.sdk_config()));
        let e = r53c.list_health_checks().await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert_eq!(http.requests().len(), 2);
    }
}
