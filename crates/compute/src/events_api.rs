//! The EventBridge calls of this crate (buses, rules, targets, global endpoints), as a
//! trait implemented for [`aws_sdk_eventbridge::Client`] and mocked with `MockEventsApi`
//! (feature `mocks`). [`crate::endpoint_fake::SimulatedEndpoints`] implements the same
//! trait for emulators without global endpoints.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{
    EndpointEventBus, FailoverConfig, Primary, ReplicationConfig, ReplicationState, RoutingConfig, RuleState, Secondary, Tag,
    Target,
};
use tandem_core::aws::none_if_not_found;
use tandem_core::AwsError;

/// What DescribeRule reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: String,
    pub arn: String,
    pub event_pattern: Option<String>,
    /// `ENABLED`, `DISABLED`, ...
    pub state: String,
}

/// One target of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInfo {
    pub id: String,
    pub arn: String,
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

/// EventBridge API surface used by the events and endpoint components.
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
    /// Creates or updates an enabled pattern rule on `bus`; returns its ARN.
    async fn put_rule(&self, name: &str, bus: &str, pattern: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError>;
    async fn delete_rule(&self, name: &str, bus: &str) -> Result<(), AwsError>;
    async fn list_targets(&self, rule: &str, bus: &str) -> Result<Vec<TargetInfo>, AwsError>;
    async fn put_target(&self, rule: &str, bus: &str, target_id: &str, target_arn: &str) -> Result<(), AwsError>;
    async fn remove_targets(&self, rule: &str, bus: &str, ids: Vec<String>) -> Result<(), AwsError>;
    /// The global endpoint, or `None`.
    async fn describe_endpoint(&self, name: &str) -> Result<Option<EndpointInfo>, AwsError>;
    /// Creates the global endpoint; returns its ARN.
    async fn create_endpoint(&self, spec: &EndpointSpec) -> Result<String, AwsError>;
    async fn update_endpoint(&self, spec: &EndpointSpec) -> Result<(), AwsError>;
    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError>;
}

fn tags(tags: Vec<(String, String)>) -> Vec<Tag> {
    tags.into_iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect()
}

fn build_err(e: aws_smithy_types::error::operation::BuildError) -> AwsError {
    AwsError::other("InvalidRequest", e.to_string())
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
    async fn describe_event_bus(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.describe_event_bus().name(name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|o| o.arn().map(str::to_string)))
    }

    async fn create_event_bus(&self, name: &str, t: Vec<(String, String)>) -> Result<String, AwsError> {
        let out = self
            .create_event_bus()
            .name(name)
            .set_tags(Some(tags(t)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.event_bus_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingArn", "CreateEventBus returned no EventBusArn"))
    }

    async fn delete_event_bus(&self, name: &str) -> Result<(), AwsError> {
        self.delete_event_bus().name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn describe_rule(&self, name: &str, bus: &str) -> Result<Option<RuleInfo>, AwsError> {
        let out = none_if_not_found(
            self.describe_rule().name(name).event_bus_name(bus).send().await.map_err(AwsError::from_sdk),
        )?;
        Ok(out.map(|o| RuleInfo {
            name: o.name().unwrap_or(name).to_string(),
            arn: o.arn().unwrap_or_default().to_string(),
            event_pattern: o.event_pattern().map(str::to_string),
            state: o.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        }))
    }

    async fn put_rule(&self, name: &str, bus: &str, pattern: &str, description: &str, t: Vec<(String, String)>) -> Result<String, AwsError> {
        let out = self
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern)
            .description(description)
            .state(RuleState::Enabled)
            .set_tags(Some(tags(t)))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.rule_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingArn", "PutRule returned no RuleArn"))
    }

    async fn delete_rule(&self, name: &str, bus: &str) -> Result<(), AwsError> {
        self.delete_rule().name(name).event_bus_name(bus).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_targets(&self, rule: &str, bus: &str) -> Result<Vec<TargetInfo>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .list_targets_by_rule()
                .rule(rule)
                .event_bus_name(bus)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(out.targets().iter().map(|t| TargetInfo { id: t.id().to_string(), arn: t.arn().to_string() }));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

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

    async fn remove_targets(&self, rule: &str, bus: &str, ids: Vec<String>) -> Result<(), AwsError> {
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

    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        self.delete_endpoint().name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}
