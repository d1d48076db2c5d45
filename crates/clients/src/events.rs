//! EventBridge: event buses, rules and their targets (on any bus: the default one is
//! [`DEFAULT_BUS`]) and global endpoints. [`EventsApi`] is implemented for
//! [`aws_sdk_eventbridge::Client`] and mocked with `MockEventsApi` (feature `mocks`).

use tandem_core::paging::PageTokens;
use async_trait::async_trait;
use aws_sdk_eventbridge::types::{
    EndpointEventBus, FailoverConfig, Primary, ReplicationConfig, ReplicationState, RoutingConfig, RuleState, Secondary, Tag,
    Target,
};
use tandem_core::aws::none_if_not_found;
use tandem_core::AwsError;

use crate::{build_err, too_many_pages, MAX_PAGES};

/// The name of the account's default event bus (AWS service events land there).
pub const DEFAULT_BUS: &str = "default";

/// What DescribeRule reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub arn: String,
    /// None for a schedule rule.
    pub event_pattern: Option<String>,
    /// `rate(1 minute)`, ...; None for a pattern rule.
    pub schedule_expression: Option<String>,
    /// `ENABLED`, `DISABLED`, ...
    pub state: String,
}

/// One target of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInfo {
    pub id: String,
    pub arn: String,
}

impl TargetInfo {
    pub fn new(id: impl Into<String>, arn: impl Into<String>) -> Self {
        Self { id: id.into(), arn: arn.into() }
    }
}

/// The desired global endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSpec {
    pub name: String,
    pub description: String,
    /// Route 53 health check ARN deciding failover.
    pub health_check_arn: String,
    /// Region events go to when the health check fails.
    pub secondary_region: String,
    pub replication_enabled: bool,
    /// Exactly two buses of the same name, in the two regions.
    pub event_bus_arns: Vec<String>,
    /// Role EventBridge uses to replicate events (required with replication).
    pub role_arn: String,
}

/// What DescribeEndpoint reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointInfo {
    pub name: String,
    pub arn: String,
    pub endpoint_id: String,
    pub endpoint_url: String,
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, `CREATE_FAILED`, ...
    pub state: String,
    pub state_reason: Option<String>,
    pub health_check_arn: String,
    pub secondary_region: String,
    pub replication_enabled: bool,
    pub event_bus_arns: Vec<String>,
    pub role_arn: String,
}

impl EndpointInfo {
    /// Configuration differences with `spec` (empty when in sync).
    pub fn diff(&self, spec: &EndpointSpec) -> Vec<String> {
        let mut d = Vec::new();
        if self.health_check_arn != spec.health_check_arn {
            d.push(format!("{}: health check {} (want {})", self.name, self.health_check_arn, spec.health_check_arn));
        }
        if self.secondary_region != spec.secondary_region {
            d.push(format!("{}: secondary route {} (want {})", self.name, self.secondary_region, spec.secondary_region));
        }
        if self.replication_enabled != spec.replication_enabled {
            d.push(format!("{}: replication enabled {} (want {})", self.name, self.replication_enabled, spec.replication_enabled));
        }
        let mut have = self.event_bus_arns.clone();
        let mut want = spec.event_bus_arns.clone();
        have.sort();
        want.sort();
        if have != want {
            d.push(format!("{}: event buses {have:?} (want {want:?})", self.name));
        }
        if self.role_arn != spec.role_arn {
            d.push(format!("{}: role {} (want {})", self.name, self.role_arn, spec.role_arn));
        }
        d
    }
}

/// The EventBridge calls of every crate: custom buses and endpoints (compute), rules and
/// targets on a custom bus (compute) or on [`DEFAULT_BUS`] (data, observability).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventsApi: Send + Sync {
    /// The bus ARN, or `None` when the bus does not exist.
    async fn describe_event_bus(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// Creates the bus; returns its ARN.
    async fn create_event_bus(&self, name: &str, tags: Vec<(String, String)>) -> Result<String, AwsError>;
    async fn delete_event_bus(&self, name: &str) -> Result<(), AwsError>;
    /// The rule on `bus`, or `None`.
    async fn describe_rule(&self, name: &str, bus: &str) -> Result<Option<RuleInfo>, AwsError>;
    /// Creates or updates an enabled pattern rule on `bus`; returns its ARN. Tags apply
    /// when the rule is created (PutRule ignores them on an update).
    async fn put_rule(&self, name: &str, bus: &str, pattern: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError>;
    async fn delete_rule(&self, name: &str, bus: &str) -> Result<(), AwsError>;
    /// Creates or replaces (PutRule) an enabled schedule rule on the default bus (the only
    /// bus that takes schedules); returns its ARN.
    async fn put_schedule_rule(&self, name: &str, schedule: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError>;
    /// The targets of the rule (every page).
    async fn list_targets(&self, rule: &str, bus: &str) -> Result<Vec<TargetInfo>, AwsError>;
    /// PutTargets with one target; a failed entry is an error.
    async fn put_target(&self, rule: &str, bus: &str, target_id: &str, target_arn: &str) -> Result<(), AwsError>;
    /// RemoveTargets (nothing sent when `ids` is empty); a failed entry is an error.
    async fn remove_targets(&self, rule: &str, bus: &str, ids: Vec<String>) -> Result<(), AwsError>;
    /// The global endpoint, or `None`.
    async fn describe_endpoint(&self, name: &str) -> Result<Option<EndpointInfo>, AwsError>;
    /// Creates the global endpoint; returns its ARN.
    async fn create_endpoint(&self, spec: &EndpointSpec) -> Result<String, AwsError>;
    async fn update_endpoint(&self, spec: &EndpointSpec) -> Result<(), AwsError>;
    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError>;
}

fn tags(tags: Vec<(String, String)>) -> Result<Vec<Tag>, AwsError> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err)).collect()
}

fn routing(spec: &EndpointSpec) -> Result<RoutingConfig, AwsError> {
    let primary = Primary::builder().health_check(&spec.health_check_arn).build().map_err(build_err)?;
    let secondary = Secondary::builder().route(&spec.secondary_region).build().map_err(build_err)?;
    Ok(RoutingConfig::builder()
        .failover_config(FailoverConfig::builder().primary(primary).secondary(secondary).build())
        .build())
}

fn replication(spec: &EndpointSpec) -> ReplicationConfig {
    let state = if spec.replication_enabled { ReplicationState::Enabled } else { ReplicationState::Disabled };
    ReplicationConfig::builder().state(state).build()
}

fn buses(spec: &EndpointSpec) -> Result<Vec<EndpointEventBus>, AwsError> {
    spec.event_bus_arns
        .iter()
        .map(|arn| EndpointEventBus::builder().event_bus_arn(arn).build().map_err(build_err))
        .collect()
}

#[async_trait]
impl EventsApi for aws_sdk_eventbridge::Client {
    #[tracing::instrument(level = "debug", skip(self))]
    async fn describe_event_bus(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.describe_event_bus().name(name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|o| o.arn().map(str::to_string)))
    }

    #[tracing::instrument(level = "debug", skip(self, t))]
    async fn create_event_bus(&self, name: &str, t: Vec<(String, String)>) -> Result<String, AwsError> {
        let out = self
            .create_event_bus()
            .name(name)
            .set_tags(Some(tags(t)?))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.event_bus_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingArn", "CreateEventBus returned no EventBusArn"))
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn delete_event_bus(&self, name: &str) -> Result<(), AwsError> {
        self.delete_event_bus().name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn describe_rule(&self, name: &str, bus: &str) -> Result<Option<RuleInfo>, AwsError> {
        let out = none_if_not_found(
            self.describe_rule().name(name).event_bus_name(bus).send().await.map_err(AwsError::from_sdk),
        )?;
        Ok(out.map(|o| RuleInfo {
            name: o.name().unwrap_or(name).to_string(),
            arn: o.arn().unwrap_or_default().to_string(),
            event_pattern: o.event_pattern().map(str::to_string),
            schedule_expression: o.schedule_expression().map(str::to_string),
            state: o.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        }))
    }

    #[tracing::instrument(level = "debug", skip(self, pattern, description, t))]
    async fn put_rule(&self, name: &str, bus: &str, pattern: &str, description: &str, t: Vec<(String, String)>) -> Result<String, AwsError> {
        let out = self
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern)
            .description(description)
            .state(RuleState::Enabled)
            .set_tags(Some(tags(t)?))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.rule_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingArn", "PutRule returned no RuleArn"))
    }

    #[tracing::instrument(level = "debug", skip(self, description, t))]
    async fn put_schedule_rule(&self, name: &str, schedule: &str, description: &str, t: Vec<(String, String)>) -> Result<String, AwsError> {
        let out = self
            .put_rule()
            .name(name)
            .event_bus_name(DEFAULT_BUS)
            .schedule_expression(schedule)
            .description(description)
            .state(RuleState::Enabled)
            .set_tags(Some(tags(t)?))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.rule_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingArn", "PutRule returned no RuleArn"))
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn delete_rule(&self, name: &str, bus: &str) -> Result<(), AwsError> {
        self.delete_rule().name(name).event_bus_name(bus).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn list_targets(&self, rule: &str, bus: &str) -> Result<Vec<TargetInfo>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListTargetsByRule", rule);
        for _ in 0..MAX_PAGES {
            let out = self
                .list_targets_by_rule()
                .rule(rule)
                .event_bus_name(bus)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(out.targets().iter().map(|t| TargetInfo::new(t.id(), t.arn())));
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
        Err(too_many_pages("ListTargetsByRule", rule))
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn put_target(&self, rule: &str, bus: &str, target_id: &str, target_arn: &str) -> Result<(), AwsError> {
        let target = Target::builder().id(target_id).arn(target_arn).build().map_err(build_err)?;
        let out = self
            .put_targets()
            .rule(rule)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        if let Some(f) = out.failed_entries().first() {
            return Err(AwsError::other(
                f.error_code().unwrap_or("PutTargetsFailed"),
                f.error_message().unwrap_or("PutTargets reported a failed entry"),
            ));
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn remove_targets(&self, rule: &str, bus: &str, ids: Vec<String>) -> Result<(), AwsError> {
        if ids.is_empty() {
            return Ok(());
        }
        let out = self
            .remove_targets()
            .rule(rule)
            .event_bus_name(bus)
            .set_ids(Some(ids))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        if let Some(f) = out.failed_entries().first() {
            return Err(AwsError::other(
                f.error_code().unwrap_or("RemoveTargetsFailed"),
                f.error_message().unwrap_or("RemoveTargets reported a failed entry"),
            ));
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn describe_endpoint(&self, name: &str) -> Result<Option<EndpointInfo>, AwsError> {
        let out = none_if_not_found(self.describe_endpoint().name(name).send().await.map_err(AwsError::from_sdk))?;
        let Some(o) = out else { return Ok(None) };
        let failover = o.routing_config().and_then(|r| r.failover_config());
        Ok(Some(EndpointInfo {
            name: o.name().unwrap_or(name).to_string(),
            arn: o.arn().unwrap_or_default().to_string(),
            endpoint_id: o.endpoint_id().unwrap_or_default().to_string(),
            endpoint_url: o.endpoint_url().unwrap_or_default().to_string(),
            state: o.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
            state_reason: o.state_reason().map(str::to_string),
            health_check_arn: failover.and_then(|f| f.primary()).map(|p| p.health_check().to_string()).unwrap_or_default(),
            secondary_region: failover.and_then(|f| f.secondary()).map(|s| s.route().to_string()).unwrap_or_default(),
            replication_enabled: o.replication_config().and_then(|r| r.state()) != Some(&ReplicationState::Disabled),
            event_bus_arns: o.event_buses().iter().map(|b| b.event_bus_arn().to_string()).collect(),
            role_arn: o.role_arn().unwrap_or_default().to_string(),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(endpoint = %spec.name))]
    async fn create_endpoint(&self, spec: &EndpointSpec) -> Result<String, AwsError> {
        let out = self
            .create_endpoint()
            .name(&spec.name)
            .description(&spec.description)
            .routing_config(routing(spec)?)
            .replication_config(replication(spec))
            .set_event_buses(Some(buses(spec)?))
            .role_arn(&spec.role_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingArn", "CreateEndpoint returned no Arn"))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(endpoint = %spec.name))]
    async fn update_endpoint(&self, spec: &EndpointSpec) -> Result<(), AwsError> {
        self.update_endpoint()
            .name(&spec.name)
            .description(&spec.description)
            .routing_config(routing(spec)?)
            .replication_config(replication(spec))
            .set_event_buses(Some(buses(spec)?))
            .role_arn(&spec.role_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        self.delete_endpoint().name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::{json_body, Replay};

    #[tokio::test]
    async fn put_rule_names_the_bus_enables_and_tags() {
        let http = Replay::new(vec![(200, &[], r#"{"RuleArn":"arn:aws:events:us-east-1:1:rule/r"}"#)]);
        let arn = EventsApi::put_rule(&http.events(), "r", DEFAULT_BUS, r#"{"source":["aws.rds"]}"#, "d", vec![("tandem:stack".into(), "t1".into())])
            .await
            .unwrap();
        assert_eq!(arn, "arn:aws:events:us-east-1:1:rule/r");
        let reqs = http.requests();
        assert_eq!(reqs[0].target.as_deref(), Some("AWSEvents.PutRule"));
        let b = json_body(&reqs[0]);
        assert_eq!(b["Name"], "r");
        assert_eq!(b["EventBusName"], "default");
        assert_eq!(b["EventPattern"], r#"{"source":["aws.rds"]}"#);
        assert_eq!(b["Description"], "d");
        assert_eq!(b["State"], "ENABLED");
        assert_eq!(b["Tags"], serde_json::json!([{"Key": "tandem:stack", "Value": "t1"}]));
    }

    #[tokio::test]
    async fn put_rule_without_arn_in_the_answer_is_an_error() {
        let http = Replay::new(vec![(200, &[], "{}")]);
        let err = EventsApi::put_rule(&http.events(), "r", "bus", "{}", "d", vec![]).await.unwrap_err();
        assert_eq!(err.code, "MissingArn");
    }

    #[tokio::test]
    async fn missing_rule_bus_and_endpoint_read_as_none_and_other_errors_keep_their_code() {
        let nf = r#"{"__type":"ResourceNotFoundException","message":"Rule r does not exist."}"#;
        let denied = r#"{"__type":"AccessDeniedException","message":"no"}"#;
        let http = Replay::new(vec![(400, &[], nf), (400, &[], nf), (400, &[], nf), (400, &[], denied)]);
        let client = http.events();
        assert_eq!(EventsApi::describe_rule(&client, "r", "bus-t1").await.unwrap(), None);
        assert_eq!(EventsApi::describe_event_bus(&client, "bus-t1").await.unwrap(), None);
        assert_eq!(EventsApi::describe_endpoint(&client, "ep").await.unwrap(), None);
        let err = EventsApi::describe_rule(&client, "r", DEFAULT_BUS).await.unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        assert_eq!(err.status, Some(400));
        let b = json_body(&http.requests()[0]);
        assert_eq!(b["EventBusName"], "bus-t1");
    }

    #[tokio::test]
    async fn list_targets_follows_every_page_on_the_bus() {
        let http = Replay::new(vec![
            (200, &[], r#"{"Targets":[{"Id":"a","Arn":"arn:a"}],"NextToken":"p2"}"#),
            (200, &[], r#"{"Targets":[{"Id":"b","Arn":"arn:b"}],"NextToken":""}"#),
        ]);
        let t = EventsApi::list_targets(&http.events(), "r", "bus-t1").await.unwrap();
        assert_eq!(t, vec![TargetInfo::new("a", "arn:a"), TargetInfo::new("b", "arn:b")]);
        let reqs = http.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].target.as_deref(), Some("AWSEvents.ListTargetsByRule"));
        assert_eq!(json_body(&reqs[0])["EventBusName"], "bus-t1");
        assert!(json_body(&reqs[0]).get("NextToken").is_none());
        assert_eq!(json_body(&reqs[1])["NextToken"], "p2");
    }

    #[tokio::test]
    async fn list_targets_gives_up_after_max_pages() {
        let pages: Vec<String> = (0..=MAX_PAGES).map(|i| format!(r#"{{"Targets":[],"NextToken":"p{i}"}}"#)).collect();
        let http = Replay::new(pages.iter().map(|page| (200u16, &[][..], page.as_str())).collect());
        let err = EventsApi::list_targets(&http.events(), "r", DEFAULT_BUS).await.unwrap_err();
        assert_eq!(err.code, "TooManyPages");
        assert_eq!(http.requests().len(), MAX_PAGES);
    }

    #[tokio::test]
    async fn list_targets_ends_with_an_error_on_a_repeated_token() {
        let page = r#"{"Targets":[{"Id":"a","Arn":"arn:a"}],"NextToken":"again"}"#;
        let http = Replay::new((0..5).map(|_| (200u16, &[][..], page)).collect());
        let err = EventsApi::list_targets(&http.events(), "r", DEFAULT_BUS).await.unwrap_err();
        assert_eq!(err.code, tandem_core::paging::REPEATED_PAGE_TOKEN, "{err}");
        assert!(err.message.contains("ListTargetsByRule of r"), "{err}");
        assert_eq!(http.requests().len(), 2);
    }

    #[tokio::test]
    async fn failed_target_entries_are_errors() {
        let failed = r#"{"FailedEntryCount":1,"FailedEntries":[{"TargetId":"t","ErrorCode":"ConcurrentModificationException","ErrorMessage":"busy"}]}"#;
        let http = Replay::new(vec![(200, &[], failed), (200, &[], failed)]);
        let client = http.events();
        let err = EventsApi::put_target(&client, "r", "bus-t1", "t", "arn:fn").await.unwrap_err();
        assert_eq!((err.code.as_str(), err.message.as_str()), ("ConcurrentModificationException", "busy"));
        let err = EventsApi::remove_targets(&client, "r", "bus-t1", vec!["t".into()]).await.unwrap_err();
        assert_eq!(err.code, "ConcurrentModificationException");
        let reqs = http.requests();
        let put = json_body(&reqs[0]);
        assert_eq!(put["Rule"], "r");
        assert_eq!(put["EventBusName"], "bus-t1");
        assert_eq!(put["Targets"], serde_json::json!([{"Id": "t", "Arn": "arn:fn"}]));
        let rm = json_body(&reqs[1]);
        assert_eq!(rm["Ids"], serde_json::json!(["t"]));
        assert_eq!(rm["EventBusName"], "bus-t1");
    }

    #[tokio::test]
    async fn removing_no_target_sends_nothing() {
        let http = Replay::new(vec![]);
        EventsApi::remove_targets(&http.events(), "r", DEFAULT_BUS, vec![]).await.unwrap();
        assert!(http.requests().is_empty());
    }

    fn endpoint_spec() -> EndpointSpec {
        EndpointSpec {
            name: "ep-t1".into(),
            description: "tandem t1".into(),
            health_check_arn: "arn:aws:route53:::healthcheck/h".into(),
            secondary_region: "us-east-2".into(),
            replication_enabled: true,
            event_bus_arns: vec!["arn:bus1".into(), "arn:bus2".into()],
            role_arn: "arn:role".into(),
        }
    }

    #[tokio::test]
    async fn endpoint_requests_carry_failover_replication_and_buses() {
        let http = Replay::new(vec![(200, &[], r#"{"Arn":"arn:ep"}"#), (200, &[], "{}")]);
        let client = http.events();
        assert_eq!(EventsApi::create_endpoint(&client, &endpoint_spec()).await.unwrap(), "arn:ep");
        let off = EndpointSpec { replication_enabled: false, ..endpoint_spec() };
        EventsApi::update_endpoint(&client, &off).await.unwrap();
        let reqs = http.requests();
        assert_eq!(reqs[0].target.as_deref(), Some("AWSEvents.CreateEndpoint"));
        let c = json_body(&reqs[0]);
        assert_eq!(c["Name"], "ep-t1");
        assert_eq!(c["RoutingConfig"]["FailoverConfig"]["Primary"]["HealthCheck"], "arn:aws:route53:::healthcheck/h");
        assert_eq!(c["RoutingConfig"]["FailoverConfig"]["Secondary"]["Route"], "us-east-2");
        assert_eq!(c["ReplicationConfig"]["State"], "ENABLED");
        assert_eq!(c["EventBuses"], serde_json::json!([{"EventBusArn": "arn:bus1"}, {"EventBusArn": "arn:bus2"}]));
        assert_eq!(c["RoleArn"], "arn:role");
        assert_eq!(reqs[1].target.as_deref(), Some("AWSEvents.UpdateEndpoint"));
        assert_eq!(json_body(&reqs[1])["ReplicationConfig"]["State"], "DISABLED");
    }

    #[tokio::test]
    async fn describe_endpoint_maps_failover_and_replication() {
        let body = r#"{"Name":"ep-t1","Arn":"arn:ep","EndpointId":"abc.xyz","EndpointUrl":"https://abc.xyz.endpoint.events.amazonaws.com",
            "State":"ACTIVE","RoutingConfig":{"FailoverConfig":{"Primary":{"HealthCheck":"arn:hc"},"Secondary":{"Route":"us-east-2"}}},
            "ReplicationConfig":{"State":"DISABLED"},"EventBuses":[{"EventBusArn":"arn:bus1"},{"EventBusArn":"arn:bus2"}],"RoleArn":"arn:role"}"#;
        let http = Replay::new(vec![(200, &[], body)]);
        let info = EventsApi::describe_endpoint(&http.events(), "ep-t1").await.unwrap().unwrap();
        assert_eq!(info.endpoint_id, "abc.xyz");
        assert_eq!(info.state, "ACTIVE");
        assert_eq!(info.health_check_arn, "arn:hc");
        assert_eq!(info.secondary_region, "us-east-2");
        assert!(!info.replication_enabled);
        let spec = EndpointSpec { health_check_arn: "arn:hc".into(), event_bus_arns: vec!["arn:bus2".into(), "arn:bus1".into()], ..endpoint_spec() };
        assert_eq!(info.diff(&spec), vec!["ep-t1: replication enabled false (want true)".to_string()]);
    }

    #[tokio::test]
    async fn mock_matches_bus_arguments() {
        use mockall::predicate::eq;
        let mut m = MockEventsApi::new();
        m.expect_describe_rule()
            .with(eq("r"), eq(DEFAULT_BUS))
            .times(1)
            .returning(|_, _| Ok(Some(RuleInfo { arn: "arn:r".into(), ..Default::default() })));
        m.expect_list_targets().withf(|r, bus| r == "r" && bus == "default").times(1).returning(|_, _| Ok(vec![TargetInfo::new("t", "arn:t")]));
        assert_eq!(m.describe_rule("r", DEFAULT_BUS).await.unwrap().map(|r| r.arn), Some("arn:r".to_string()));
        assert_eq!(m.list_targets("r", DEFAULT_BUS).await.unwrap(), vec![TargetInfo::new("t", "arn:t")]);
    }
}
