//! An in-memory EventBridge global-endpoint service, for emulators that lack it (moto
//! answers CreateEndpoint with HTTP 500). Enabled by `simulate = ["eventbridge-endpoints"]`.
//!
//! [`SimulatedEndpoints`] implements [`EventsApi`]: the endpoint calls (Create, Describe,
//! Update, Delete) are served from memory with AWS's validation and life cycle
//! (`CREATING` → `ACTIVE`, `UPDATING` → `ACTIVE`, `DELETING` → gone, one step per
//! DescribeEndpoint), while bus, rule and target calls go to the wrapped real client. With a
//! file path the endpoints survive across runs (the CLI is one process per command), so a
//! second `apply` finds what the first created and `destroy` deletes it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tandem_core::AwsError;

use tandem_clients::events::{EndpointInfo, EndpointSpec, EventsApi, RuleInfo, TargetInfo};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    arn: String,
    endpoint_id: String,
    url: String,
    state: String,
    description: String,
    health_check_arn: String,
    secondary_region: String,
    replication_enabled: bool,
    event_bus_arns: Vec<String>,
    role_arn: String,
}

/// Global endpoints in memory; everything else forwarded to `inner`.
pub struct SimulatedEndpoints {
    inner: Arc<dyn EventsApi>,
    region: String,
    endpoints: Mutex<BTreeMap<String, Record>>,
    file: Option<PathBuf>,
}

impl SimulatedEndpoints {
    /// A fake for `region` (the endpoint's home region) wrapping the real client `inner`.
    /// With `file`, endpoints are loaded from and saved to that JSON file.
    pub fn new(inner: Arc<dyn EventsApi>, region: &str, file: Option<PathBuf>) -> Self {
        let endpoints = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self { inner, region: region.to_string(), endpoints: Mutex::new(endpoints), file }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        self.endpoints.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, map: &BTreeMap<String, Record>) -> Result<(), AwsError> {
        let Some(file) = &self.file else { return Ok(()) };
        let fail = |e: String| AwsError::other("SimulationStateError", format!("{}: {e}", file.display()));
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let body = serde_json::to_vec_pretty(map).map_err(|e| fail(e.to_string()))?;
        let tmp = file.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(|e| fail(e.to_string()))?;
        std::fs::rename(&tmp, file).map_err(|e| fail(e.to_string()))
    }

    fn validate(&self, spec: &EndpointSpec) -> Result<String, AwsError> {
        let invalid = |m: String| AwsError::other("ValidationException", m);
        if spec.name.is_empty() || spec.name.len() > 64 || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
            return Err(invalid(format!("invalid endpoint name {:?}", spec.name)));
        }
        if spec.event_bus_arns.len() != 2 {
            return Err(invalid(format!("EventBuses must hold exactly 2 buses, got {}", spec.event_bus_arns.len())));
        }
        let parsed: Vec<(String, String, String)> = spec
            .event_bus_arns
            .iter()
            .map(|arn| {
                let f: Vec<&str> = arn.splitn(6, ':').collect();
                match (f.as_slice(), f.get(5).and_then(|r| r.strip_prefix("event-bus/"))) {
                    ([_, _, "events", region, account, _], Some(name)) => Ok((region.to_string(), account.to_string(), name.to_string())),
                    _ => Err(invalid(format!("{arn} is not an event bus ARN"))),
                }
            })
            .collect::<Result<_, _>>()?;
        let (a, b) = (&parsed[0], &parsed[1]);
        if a.2 != b.2 {
            return Err(invalid(format!("event buses must have the same name ({} != {})", a.2, b.2)));
        }
        if a.0 == b.0 {
            return Err(invalid("event buses must be in two different regions".into()));
        }
        if ![&a.0, &b.0].contains(&&spec.secondary_region) || spec.secondary_region == self.region {
            return Err(invalid(format!("secondary route {} must be the other bus region", spec.secondary_region)));
        }
        if !spec.health_check_arn.starts_with("arn:aws:route53:::healthcheck/") {
            return Err(invalid(format!("{} is not a Route 53 health check ARN", spec.health_check_arn)));
        }
        if spec.replication_enabled && spec.role_arn.is_empty() {
            return Err(invalid("RoleArn is required when replication is enabled".into()));
        }
        Ok(a.1.clone())
    }

    fn info(name: &str, r: &Record) -> EndpointInfo {
        EndpointInfo {
            name: name.to_string(),
            arn: r.arn.clone(),
            endpoint_id: r.endpoint_id.clone(),
            endpoint_url: r.url.clone(),
            state: r.state.clone(),
            state_reason: None,
            health_check_arn: r.health_check_arn.clone(),
            secondary_region: r.secondary_region.clone(),
            replication_enabled: r.replication_enabled,
            event_bus_arns: r.event_bus_arns.clone(),
            role_arn: r.role_arn.clone(),
        }
    }
}

fn not_found(name: &str) -> AwsError {
    AwsError::not_found("ResourceNotFoundException", format!("Endpoint {name} does not exist."))
}

#[async_trait]
impl EventsApi for SimulatedEndpoints {
    async fn describe_event_bus(&self, name: &str) -> Result<Option<String>, AwsError> {
        self.inner.describe_event_bus(name).await
    }
    async fn create_event_bus(&self, name: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        self.inner.create_event_bus(name, tags).await
    }
    async fn delete_event_bus(&self, name: &str) -> Result<(), AwsError> {
        // AWS refuses to delete a bus an endpoint still uses.
        let used = self.lock().values().any(|r| r.event_bus_arns.iter().any(|a| a.ends_with(&format!("event-bus/{name}"))));
        if used {
            return Err(AwsError::other("ValidationException", format!("Event bus {name} is used by a global endpoint")));
        }
        self.inner.delete_event_bus(name).await
    }
    async fn describe_rule(&self, name: &str, bus: &str) -> Result<Option<RuleInfo>, AwsError> {
        self.inner.describe_rule(name, bus).await
    }
    async fn put_rule(&self, name: &str, bus: &str, pattern: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        self.inner.put_rule(name, bus, pattern, description, tags).await
    }
    async fn delete_rule(&self, name: &str, bus: &str) -> Result<(), AwsError> {
        self.inner.delete_rule(name, bus).await
    }
    async fn list_targets(&self, rule: &str, bus: &str) -> Result<Vec<TargetInfo>, AwsError> {
        self.inner.list_targets(rule, bus).await
    }
    async fn put_target(&self, rule: &str, bus: &str, target_id: &str, target_arn: &str) -> Result<(), AwsError> {
        self.inner.put_target(rule, bus, target_id, target_arn).await
    }
    async fn remove_targets(&self, rule: &str, bus: &str, ids: Vec<String>) -> Result<(), AwsError> {
        self.inner.remove_targets(rule, bus, ids).await
    }

    async fn describe_endpoint(&self, name: &str) -> Result<Option<EndpointInfo>, AwsError> {
        let mut map = self.lock();
        let Some(r) = map.get_mut(name) else { return Ok(None) };
        let info = Self::info(name, r);
        // Advance the life cycle one step per describe.
        match r.state.as_str() {
            "CREATING" | "UPDATING" => r.state = "ACTIVE".into(),
            "DELETING" => {
                map.remove(name);
            }
            _ => return Ok(Some(info)),
        }
        self.save(&map)?;
        Ok(Some(info))
    }

    async fn create_endpoint(&self, spec: &EndpointSpec) -> Result<String, AwsError> {
        let account = self.validate(spec)?;
        let mut map = self.lock();
        if map.contains_key(&spec.name) {
            return Err(AwsError::other("ResourceAlreadyExistsException", format!("Endpoint {} already exists.", spec.name)));
        }
        let digest = hex::encode(Sha256::digest(format!("{account}/{}/{}", self.region, spec.name)));
        let endpoint_id = format!("{}.{}", &digest[..5], &digest[5..8]);
        let arn = format!("arn:aws:events:{}:{account}:endpoint/{}", self.region, spec.name);
        map.insert(
            spec.name.clone(),
            Record {
                arn: arn.clone(),
                url: format!("https://{endpoint_id}.endpoint.events.amazonaws.com"),
                endpoint_id,
                state: "CREATING".into(),
                description: spec.description.clone(),
                health_check_arn: spec.health_check_arn.clone(),
                secondary_region: spec.secondary_region.clone(),
                replication_enabled: spec.replication_enabled,
                event_bus_arns: spec.event_bus_arns.clone(),
                role_arn: spec.role_arn.clone(),
            },
        );
        self.save(&map)?;
        Ok(arn)
    }

    async fn update_endpoint(&self, spec: &EndpointSpec) -> Result<(), AwsError> {
        self.validate(spec)?;
        let mut map = self.lock();
        let r = map.get_mut(&spec.name).ok_or_else(|| not_found(&spec.name))?;
        if r.state != "ACTIVE" && r.state != "UPDATE_FAILED" {
            return Err(AwsError::other("ConcurrentModificationException", format!("Endpoint {} is {}", spec.name, r.state)));
        }
        r.state = "UPDATING".into();
        r.description = spec.description.clone();
        r.health_check_arn = spec.health_check_arn.clone();
        r.secondary_region = spec.secondary_region.clone();
        r.replication_enabled = spec.replication_enabled;
        r.event_bus_arns = spec.event_bus_arns.clone();
        r.role_arn = spec.role_arn.clone();
        self.save(&map)?;
        Ok(())
    }

    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        let mut map = self.lock();
        let r = map.get_mut(name).ok_or_else(|| not_found(name))?;
        r.state = "DELETING".into();
        self.save(&map)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_clients::events::MockEventsApi;

    fn spec() -> EndpointSpec {
        EndpointSpec {
            name: "endpoint-dev".into(),
            description: "d".into(),
            health_check_arn: "arn:aws:route53:::healthcheck/abc".into(),
            secondary_region: "us-east-2".into(),
            replication_enabled: true,
            event_bus_arns: vec![
                "arn:aws:events:us-east-1:123456789012:event-bus/bus-dev".into(),
                "arn:aws:events:us-east-2:123456789012:event-bus/bus-dev".into(),
            ],
            role_arn: "arn:aws:iam::123456789012:role/events-replication-dev".into(),
        }
    }

    #[tokio::test]
    async fn life_cycle_create_active_update_delete() {
        let fake = SimulatedEndpoints::new(Arc::new(MockEventsApi::new()), "us-east-1", None);
        assert_eq!(fake.describe_endpoint("endpoint-dev").await.unwrap(), None);
        let arn = fake.create_endpoint(&spec()).await.unwrap();
        assert_eq!(arn, "arn:aws:events:us-east-1:123456789012:endpoint/endpoint-dev");
        let e = fake.create_endpoint(&spec()).await.unwrap_err();
        assert_eq!(e.code, "ResourceAlreadyExistsException");
        let first = fake.describe_endpoint("endpoint-dev").await.unwrap().unwrap();
        assert_eq!(first.state, "CREATING");
        let second = fake.describe_endpoint("endpoint-dev").await.unwrap().unwrap();
        assert_eq!(second.state, "ACTIVE");
        assert!(second.endpoint_url.starts_with("https://") && second.endpoint_url.ends_with(".endpoint.events.amazonaws.com"));
        assert_eq!(second.diff(&spec()), Vec::<String>::new());

        let mut changed = spec();
        changed.replication_enabled = false;
        fake.update_endpoint(&changed).await.unwrap();
        assert_eq!(fake.describe_endpoint("endpoint-dev").await.unwrap().unwrap().state, "UPDATING");
        let after = fake.describe_endpoint("endpoint-dev").await.unwrap().unwrap();
        assert_eq!((after.state.as_str(), after.replication_enabled), ("ACTIVE", false));

        fake.delete_endpoint("endpoint-dev").await.unwrap();
        assert_eq!(fake.describe_endpoint("endpoint-dev").await.unwrap().unwrap().state, "DELETING");
        assert_eq!(fake.describe_endpoint("endpoint-dev").await.unwrap(), None);
        assert!(fake.delete_endpoint("endpoint-dev").await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn validates_like_aws() {
        let fake = SimulatedEndpoints::new(Arc::new(MockEventsApi::new()), "us-east-1", None);
        let mut s = spec();
        s.event_bus_arns[1] = "arn:aws:events:us-east-2:123456789012:event-bus/other".into();
        assert!(fake.create_endpoint(&s).await.unwrap_err().message.contains("same name"));
        let mut s = spec();
        s.event_bus_arns.pop();
        assert!(fake.create_endpoint(&s).await.unwrap_err().message.contains("exactly 2"));
        let mut s = spec();
        s.role_arn.clear();
        assert!(fake.create_endpoint(&s).await.unwrap_err().message.contains("RoleArn"));
        let mut s = spec();
        s.health_check_arn = "abc".into();
        assert!(fake.create_endpoint(&s).await.unwrap_err().message.contains("health check"));
        let mut s = spec();
        s.secondary_region = "us-east-1".into();
        assert!(fake.create_endpoint(&s).await.unwrap_err().message.contains("secondary route"));
    }

    #[tokio::test]
    async fn forwards_bus_calls_and_protects_buses_in_use() {
        let mut inner = MockEventsApi::new();
        inner.expect_describe_event_bus().times(1).returning(|_| Ok(Some("arn:bus".into())));
        inner.expect_delete_event_bus().times(1).returning(|_| Ok(()));
        let fake = SimulatedEndpoints::new(Arc::new(inner), "us-east-1", None);
        assert_eq!(fake.describe_event_bus("bus-dev").await.unwrap().as_deref(), Some("arn:bus"));
        fake.create_endpoint(&spec()).await.unwrap();
        assert!(fake.delete_event_bus("bus-dev").await.is_err());
        fake.delete_endpoint("endpoint-dev").await.unwrap();
        fake.describe_endpoint("endpoint-dev").await.unwrap();
        fake.delete_event_bus("bus-dev").await.unwrap();
    }

    #[tokio::test]
    async fn persists_across_instances_when_given_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sim/endpoints.json");
        let a = SimulatedEndpoints::new(Arc::new(MockEventsApi::new()), "us-east-1", Some(file.clone()));
        a.create_endpoint(&spec()).await.unwrap();
        a.describe_endpoint("endpoint-dev").await.unwrap();
        let b = SimulatedEndpoints::new(Arc::new(MockEventsApi::new()), "us-east-1", Some(file));
        let got = b.describe_endpoint("endpoint-dev").await.unwrap().unwrap();
        assert_eq!(got.state, "ACTIVE");
    }
}
