//! The Global Accelerator client trait (control plane in us-west-2), its aws-sdk
//! implementation, and the small value types it speaks. The in-memory fake in
//! [`crate::accelerator_fake`] implements the same trait.

use tandem_core::paging::PageTokens;
use aws_sdk_globalaccelerator as ga;
use serde::{Deserialize, Serialize};
use tandem_core::AwsError;

use crate::common::build_error;

/// `Status` of an accelerator.
pub const DEPLOYED: &str = "DEPLOYED";
pub const IN_PROGRESS: &str = "IN_PROGRESS";

/// What Tandem needs to know about an accelerator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceleratorInfo {
    pub arn: String,
    pub name: String,
    pub enabled: bool,
    /// `DEPLOYED` or `IN_PROGRESS`.
    pub status: String,
    pub dns_name: String,
    pub static_ips: Vec<String>,
}

/// A listener (TCP port ranges).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerInfo {
    pub arn: String,
    pub protocol: String,
    pub port_ranges: Vec<(i32, i32)>,
}

/// The settings of an endpoint group (used to create, update and compare).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointGroupSpec {
    pub region: String,
    /// Endpoint ids (NLB ARNs).
    pub endpoint_ids: Vec<String>,
    /// `TCP`, `HTTP` or `HTTPS`.
    pub health_check_protocol: String,
    pub health_check_port: i32,
    /// 10 or 30.
    pub health_check_interval: i32,
    /// 1..=10.
    pub threshold_count: i32,
    /// 0..=100.
    pub traffic_dial: f32,
}

/// An endpoint group as described by the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointGroupInfo {
    pub arn: String,
    pub spec: EndpointGroupSpec,
}

/// Global Accelerator calls used by the accelerator component.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait GlobalAcceleratorApi: Send + Sync {
    async fn create_accelerator(&self, name: &str, idempotency_token: &str, tags: Vec<(String, String)>) -> Result<AcceleratorInfo, AwsError>;
    async fn describe_accelerator(&self, arn: &str) -> Result<AcceleratorInfo, AwsError>;
    /// All accelerators of the account (every page).
    async fn list_accelerators(&self) -> Result<Vec<AcceleratorInfo>, AwsError>;
    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError>;
    async fn set_accelerator_enabled(&self, arn: &str, enabled: bool) -> Result<AcceleratorInfo, AwsError>;
    async fn delete_accelerator(&self, arn: &str) -> Result<(), AwsError>;

    async fn create_listener(&self, accelerator_arn: &str, port: i32, idempotency_token: &str) -> Result<ListenerInfo, AwsError>;
    async fn describe_listener(&self, arn: &str) -> Result<ListenerInfo, AwsError>;
    async fn list_listeners(&self, accelerator_arn: &str) -> Result<Vec<ListenerInfo>, AwsError>;
    async fn delete_listener(&self, arn: &str) -> Result<(), AwsError>;

    async fn create_endpoint_group(&self, listener_arn: &str, spec: EndpointGroupSpec, idempotency_token: &str) -> Result<EndpointGroupInfo, AwsError>;
    async fn update_endpoint_group(&self, arn: &str, spec: EndpointGroupSpec) -> Result<EndpointGroupInfo, AwsError>;
    async fn describe_endpoint_group(&self, arn: &str) -> Result<EndpointGroupInfo, AwsError>;
    async fn list_endpoint_groups(&self, listener_arn: &str) -> Result<Vec<EndpointGroupInfo>, AwsError>;
    async fn delete_endpoint_group(&self, arn: &str) -> Result<(), AwsError>;
}

/// The real client. Build it from `aws.config(GLOBAL_ACCELERATOR_REGION)`.
pub struct GaClient(pub ga::Client);

fn accelerator_info(a: &ga::types::Accelerator) -> AcceleratorInfo {
    AcceleratorInfo {
        arn: a.accelerator_arn().unwrap_or_default().to_string(),
        name: a.name().unwrap_or_default().to_string(),
        enabled: a.enabled().unwrap_or(false),
        status: a.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        dns_name: a.dns_name().unwrap_or_default().to_string(),
        static_ips: a.ip_sets().iter().flat_map(|s| s.ip_addresses().iter().cloned()).collect(),
    }
}

fn listener_info(l: &ga::types::Listener) -> ListenerInfo {
    ListenerInfo {
        arn: l.listener_arn().unwrap_or_default().to_string(),
        protocol: l.protocol().map(|p| p.as_str().to_string()).unwrap_or_default(),
        port_ranges: l.port_ranges().iter().map(|p| (p.from_port().unwrap_or(0), p.to_port().unwrap_or(0))).collect(),
    }
}

fn endpoint_group_info(g: &ga::types::EndpointGroup) -> EndpointGroupInfo {
    EndpointGroupInfo {
        arn: g.endpoint_group_arn().unwrap_or_default().to_string(),
        spec: EndpointGroupSpec {
            region: g.endpoint_group_region().unwrap_or_default().to_string(),
            endpoint_ids: g.endpoint_descriptions().iter().filter_map(|d| d.endpoint_id().map(str::to_string)).collect(),
            health_check_protocol: g.health_check_protocol().map(|p| p.as_str().to_string()).unwrap_or_default(),
            health_check_port: g.health_check_port().unwrap_or(0),
            health_check_interval: g.health_check_interval_seconds().unwrap_or(0),
            threshold_count: g.threshold_count().unwrap_or(0),
            traffic_dial: g.traffic_dial_percentage().unwrap_or(0.0),
        },
    }
}

fn missing(what: &str) -> AwsError {
    AwsError::other("InvalidResponse", format!("Global Accelerator returned no {what}"))
}

fn endpoint_configurations(spec: &EndpointGroupSpec) -> Vec<ga::types::EndpointConfiguration> {
    spec.endpoint_ids
        .iter()
        .map(|id| ga::types::EndpointConfiguration::builder().endpoint_id(id).weight(128).build())
        .collect()
}

#[async_trait::async_trait]
impl GlobalAcceleratorApi for GaClient {
    async fn create_accelerator(&self, name: &str, idempotency_token: &str, tags: Vec<(String, String)>) -> Result<AcceleratorInfo, AwsError> {
        let mut req = self
            .0
            .create_accelerator()
            .name(name)
            .ip_address_type(ga::types::IpAddressType::Ipv4)
            .enabled(true)
            .idempotency_token(idempotency_token);
        for (k, v) in tags {
            req = req.tags(ga::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
        }
        let out = req.send().await.map_err(AwsError::from_sdk)?;
        out.accelerator().map(accelerator_info).ok_or_else(|| missing("accelerator"))
    }

    async fn describe_accelerator(&self, arn: &str) -> Result<AcceleratorInfo, AwsError> {
        let out = self.0.describe_accelerator().accelerator_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        out.accelerator().map(accelerator_info).ok_or_else(|| missing("accelerator"))
    }

    async fn list_accelerators(&self) -> Result<Vec<AcceleratorInfo>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListAccelerators", "the account");
        loop {
            let out = self.0.list_accelerators().set_next_token(token.take()).send().await.map_err(AwsError::from_sdk)?;
            all.extend(out.accelerators().iter().map(accelerator_info));
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        let out = self.0.list_tags_for_resource().resource_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
    }

    async fn set_accelerator_enabled(&self, arn: &str, enabled: bool) -> Result<AcceleratorInfo, AwsError> {
        let out = self.0.update_accelerator().accelerator_arn(arn).enabled(enabled).send().await.map_err(AwsError::from_sdk)?;
        out.accelerator().map(accelerator_info).ok_or_else(|| missing("accelerator"))
    }

    async fn delete_accelerator(&self, arn: &str) -> Result<(), AwsError> {
        self.0.delete_accelerator().accelerator_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_listener(&self, accelerator_arn: &str, port: i32, idempotency_token: &str) -> Result<ListenerInfo, AwsError> {
        let out = self
            .0
            .create_listener()
            .accelerator_arn(accelerator_arn)
            .protocol(ga::types::Protocol::Tcp)
            .port_ranges(ga::types::PortRange::builder().from_port(port).to_port(port).build())
            .client_affinity(ga::types::ClientAffinity::None)
            .idempotency_token(idempotency_token)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.listener().map(listener_info).ok_or_else(|| missing("listener"))
    }

    async fn describe_listener(&self, arn: &str) -> Result<ListenerInfo, AwsError> {
        let out = self.0.describe_listener().listener_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        out.listener().map(listener_info).ok_or_else(|| missing("listener"))
    }

    async fn list_listeners(&self, accelerator_arn: &str) -> Result<Vec<ListenerInfo>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListListeners", accelerator_arn);
        loop {
            let out = self
                .0
                .list_listeners()
                .accelerator_arn(accelerator_arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(out.listeners().iter().map(listener_info));
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn delete_listener(&self, arn: &str) -> Result<(), AwsError> {
        self.0.delete_listener().listener_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn create_endpoint_group(&self, listener_arn: &str, spec: EndpointGroupSpec, idempotency_token: &str) -> Result<EndpointGroupInfo, AwsError> {
        let out = self
            .0
            .create_endpoint_group()
            .listener_arn(listener_arn)
            .endpoint_group_region(&spec.region)
            .set_endpoint_configurations(Some(endpoint_configurations(&spec)))
            .health_check_protocol(ga::types::HealthCheckProtocol::from(spec.health_check_protocol.as_str()))
            .health_check_port(spec.health_check_port)
            .health_check_interval_seconds(spec.health_check_interval)
            .threshold_count(spec.threshold_count)
            .traffic_dial_percentage(spec.traffic_dial)
            .idempotency_token(idempotency_token)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.endpoint_group().map(endpoint_group_info).ok_or_else(|| missing("endpoint group"))
    }

    async fn update_endpoint_group(&self, arn: &str, spec: EndpointGroupSpec) -> Result<EndpointGroupInfo, AwsError> {
        let out = self
            .0
            .update_endpoint_group()
            .endpoint_group_arn(arn)
            .set_endpoint_configurations(Some(endpoint_configurations(&spec)))
            .health_check_protocol(ga::types::HealthCheckProtocol::from(spec.health_check_protocol.as_str()))
            .health_check_port(spec.health_check_port)
            .health_check_interval_seconds(spec.health_check_interval)
            .threshold_count(spec.threshold_count)
            .traffic_dial_percentage(spec.traffic_dial)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.endpoint_group().map(endpoint_group_info).ok_or_else(|| missing("endpoint group"))
    }

    async fn describe_endpoint_group(&self, arn: &str) -> Result<EndpointGroupInfo, AwsError> {
        let out = self.0.describe_endpoint_group().endpoint_group_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        out.endpoint_group().map(endpoint_group_info).ok_or_else(|| missing("endpoint group"))
    }

    async fn list_endpoint_groups(&self, listener_arn: &str) -> Result<Vec<EndpointGroupInfo>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListEndpointGroups", listener_arn);
        loop {
            let out = self
                .0
                .list_endpoint_groups()
                .listener_arn(listener_arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(out.endpoint_groups().iter().map(endpoint_group_info));
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn delete_endpoint_group(&self, arn: &str) -> Result<(), AwsError> {
        self.0.delete_endpoint_group().endpoint_group_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_token_seen_before_ends_the_listing_with_an_error() {
        // A cycle t1, t2, t1: not only the token just given is checked.
        let http = Replay::new(vec![
            (200u16, &[][..], r#"{"Accelerators":[],"NextToken":"t1"}"#),
            (200u16, &[][..], r#"{"Accelerators":[],"NextToken":"t2"}"#),
            (200u16, &[][..], r#"{"Accelerators":[],"NextToken":"t1"}"#),
            (200u16, &[][..], r#"{"Accelerators":[],"NextToken":"t2"}"#),
        ]);
        let ga = GaClient(ga::Client::new(&http.sdk_config()));
        let e = ga.list_accelerators().await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert_eq!(http.requests().len(), 3);
    }
}
