//! `event-endpoint`: the EventBridge global endpoint `endpoint-{s}` (API in the primary
//! region) over the two `bus-{s}` buses, failing over to the secondary region when the
//! primary API's Route 53 health check fails, with event replication enabled through the
//! IAM role `events-replication-{s}` (trusts `events.amazonaws.com`, may only
//! `events:PutEvents` on the two buses).
//!
//! Apply: role → inline policy → CreateEndpoint (or UpdateEndpoint when the routing,
//! buses, replication or role differ) → poll until `ACTIVE` (EventBridge has no waiter).
//! Destroy: DeleteEndpoint → poll until gone → delete the role.
//!
//! With `simulate = ["eventbridge-endpoints"]` the endpoint calls go to
//! [`crate::endpoint_fake::SimulatedEndpoints`] and the outputs say `simulated: true`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{ignore_not_found, poll_until, retry, retry_if, Poll};
use tandem_core::contracts::{ids, EventBusOutputs, EventEndpointOutputs, HealthOutputs};
use tandem_core::{naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Ctx, Desired, Drift, Outputs, Placement};

use crate::events_api::{EndpointInfo, EndpointSpec, EventsApi};
use crate::functions::with_role_propagation;
use crate::iam::{delete_role, ensure_inline_policy, ensure_role, trust_policy, POLICY_NAME};
use tandem_core::iam::IamApi;

/// Bound on CREATING/UPDATING → ACTIVE and on DELETING → gone.
pub const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(900);

/// Replication role policy: PutEvents on the two buses only.
pub fn replication_policy(bus_arns: &[String]) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReplicateEvents",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": bus_arns,
        }]
    })
    .to_string()
}

/// The `event-endpoint` component.
pub struct EventEndpoint {
    suffix: String,
    primary_region: String,
    secondary_region: String,
    events: Arc<dyn EventsApi>,
    iam: Arc<dyn IamApi>,
    simulated: bool,
}

impl EventEndpoint {
    /// `events` is the primary region's EventBridge client (or the simulated endpoints
    /// wrapping it, with `simulated = true`).
    pub fn new(cfg: &tandem_core::Config, events: Arc<dyn EventsApi>, iam: Arc<dyn IamApi>, simulated: bool) -> Self {
        Self {
            suffix: cfg.environment_suffix.clone(),
            primary_region: cfg.primary_region.clone(),
            secondary_region: cfg.secondary_region.clone(),
            events,
            iam,
            simulated,
        }
    }

    fn name(&self) -> String {
        naming::name("endpoint", Placement::Global, &self.suffix)
    }

    fn role_name(&self) -> String {
        naming::name("events-replication", Placement::Global, &self.suffix)
    }

    fn spec(&self, buses: Vec<String>, health_check_arn: &str, role_arn: &str) -> EndpointSpec {
        EndpointSpec {
            name: self.name(),
            description: format!("Tandem {}: events fail over to {} when the primary API is unhealthy", self.suffix, self.secondary_region),
            health_check_arn: health_check_arn.to_string(),
            secondary_region: self.secondary_region.clone(),
            replication_enabled: true,
            event_bus_arns: buses,
            role_arn: role_arn.to_string(),
        }
    }

    async fn wait_active(&self, name: &str) -> Result<EndpointInfo, ComponentError> {
        poll_until(name, &self.primary_region, "endpoint ACTIVE", ENDPOINT_TIMEOUT, || async {
            match self.events.describe_endpoint(name).await? {
                None => Ok(Poll::Pending("not visible yet".into())),
                Some(e) if e.state == "ACTIVE" => Ok(Poll::Ready(e)),
                Some(e) if e.state.ends_with("_FAILED") => Err(AwsError::other(
                    format!("Endpoint{}", e.state),
                    e.state_reason.unwrap_or_else(|| format!("endpoint entered {}", e.state)),
                )),
                Some(e) => Ok(Poll::Pending(e.state)),
            }
        })
        .await
    }

    async fn wait_gone(&self, name: &str) -> Result<(), ComponentError> {
        poll_until(name, &self.primary_region, "endpoint deleted", ENDPOINT_TIMEOUT, || async {
            match self.events.describe_endpoint(name).await {
                Ok(None) => Ok(Poll::Ready(())),
                Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                Err(e) => Err(e),
                Ok(Some(e)) if e.state == "DELETE_FAILED" => Err(AwsError::other(
                    "EndpointDELETE_FAILED",
                    e.state_reason.unwrap_or_else(|| "endpoint deletion failed".into()),
                )),
                Ok(Some(e)) => Ok(Poll::Pending(e.state)),
            }
        })
        .await
    }

    async fn create(&self, ctx: &Ctx, spec: &EndpointSpec) -> Result<EndpointInfo, ComponentError> {
        let name = spec.name.clone();
        ctx.journaled("endpoint", "create", || async {
            // The new replication role may not be usable by EventBridge yet.
            with_role_propagation(&name, &self.primary_region, || async {
                match self.events.create_endpoint(spec).await {
                    // Created by an interrupted run meanwhile: adopt it.
                    Err(e) if e.is_code("ResourceAlreadyExistsException") => {
                        self.events.describe_endpoint(&name).await?.map(|i| i.arn).ok_or(e)
                    }
                    other => other,
                }
            })
            .await
        })
        .await?;
        self.wait_active(&name).await
    }
}

#[async_trait]
impl Component for EventEndpoint {
    fn id(&self) -> &str {
        ids::EVENT_ENDPOINT
    }
    fn kind(&self) -> &'static str {
        "event-endpoint"
    }
    fn placement(&self) -> Placement {
        Placement::Global
    }
    fn region(&self) -> &str {
        &self.primary_region
    }
    fn dependencies(&self) -> Vec<String> {
        vec![ids::event_bus(Placement::Primary), ids::event_bus(Placement::Secondary), ids::health(Placement::Primary)]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::EventEndpointOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        Duration::from_secs(120)
    }
    fn simulated(&self) -> bool {
        self.simulated
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "endpoint": self.name(), "home_region": self.primary_region, "simulated": self.simulated }),
            json!({
                "secondary_region": self.secondary_region,
                "replication": "ENABLED",
                "role": self.role_name(),
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = ids::EVENT_ENDPOINT, region = %self.primary_region, simulated = self.simulated))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let primary: EventBusOutputs = ctx.input(&ids::event_bus(Placement::Primary))?;
        let secondary: EventBusOutputs = ctx.input(&ids::event_bus(Placement::Secondary))?;
        let health: HealthOutputs = ctx.input(&ids::health(Placement::Primary))?;
        let buses = vec![primary.bus_arn.clone(), secondary.bus_arn.clone()];

        let role = self.role_name();
        let role_arn =
            ensure_role(ctx, self.iam.as_ref(), "role", &role, &trust_policy("events.amazonaws.com"), naming::tags(&self.suffix, &role)).await?;
        ensure_inline_policy(ctx, self.iam.as_ref(), "role-policy", &role, POLICY_NAME, &replication_policy(&buses)).await?;

        let spec = self.spec(buses, &health.api_check_arn, &role_arn);
        let name = spec.name.clone();
        let current = retry(|| self.events.describe_endpoint(&name)).await.at(&name, &self.primary_region)?;
        let info = match current {
            None => self.create(ctx, &spec).await?,
            Some(existing) => {
                let mut existing = existing;
                if matches!(existing.state.as_str(), "CREATING" | "UPDATING") {
                    existing = self.wait_active(&name).await?;
                }
                if existing.state == "CREATE_FAILED" {
                    tracing::warn!(endpoint = %name, reason = ?existing.state_reason, "endpoint creation had failed; re-creating");
                    ctx.pending("endpoint", "delete").await?;
                    ignore_not_found(retry(|| self.events.delete_endpoint(&name)).await).at(&name, &self.primary_region)?;
                    self.wait_gone(&name).await?;
                    self.create(ctx, &spec).await?
                } else if !existing.diff(&spec).is_empty() || existing.state == "UPDATE_FAILED" {
                    tracing::info!(endpoint = %name, diff = ?existing.diff(&spec), "updating endpoint");
                    let arn = existing.arn.clone();
                    ctx.journaled("endpoint", "update", || async {
                        with_role_propagation(&name, &self.primary_region, || async {
                            retry_if(|| self.events.update_endpoint(&spec), |e| e.is_code("ConcurrentModificationException")).await
                        })
                        .await?;
                        Ok(arn)
                    })
                    .await?;
                    self.wait_active(&name).await?
                } else {
                    if ctx.resource_id("endpoint").await.as_deref() != Some(existing.arn.as_str()) {
                        ctx.done("endpoint", &existing.arn).await?;
                    }
                    existing
                }
            }
        };
        Ok(to_outputs(&EventEndpointOutputs {
            endpoint_name: name,
            endpoint_arn: info.arn,
            endpoint_url: info.endpoint_url,
            simulated: self.simulated,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = ids::EVENT_ENDPOINT, region = %self.primary_region, simulated = self.simulated))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let name = self.name();
        ctx.pending("endpoint", "delete").await?;
        ignore_not_found(
            retry_if(|| self.events.delete_endpoint(&name), |e| e.is_code("ConcurrentModificationException")).await,
        )
        .at(&name, &self.primary_region)?;
        self.wait_gone(&name).await?;
        ctx.removed("endpoint").await?;

        let role = self.role_name();
        ctx.pending("role", "delete").await?;
        delete_role(self.iam.as_ref(), &role, &self.primary_region).await?;
        ctx.removed("role-policy").await?;
        ctx.removed("role").await?;
        Ok(())
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let name = self.name();
        let Some(info) = retry(|| self.events.describe_endpoint(&name)).await.at(&name, &self.primary_region)? else {
            return Ok(Drift::Missing { details: vec![format!("endpoint {name} is missing")] });
        };
        let mut drift = Vec::new();
        if info.state != "ACTIVE" {
            drift.push(format!("endpoint {name} is {}", info.state));
        }
        let primary: Option<EventBusOutputs> = ctx.input_opt(&ids::event_bus(Placement::Primary));
        let secondary: Option<EventBusOutputs> = ctx.input_opt(&ids::event_bus(Placement::Secondary));
        let health: Option<HealthOutputs> = ctx.input_opt(&ids::health(Placement::Primary));
        if let (Some(p), Some(s), Some(h)) = (primary, secondary, health) {
            let role_name = self.role_name();
            let role = retry(|| self.iam.get_role(&role_name)).await.at(&role_name, &self.primary_region)?;
            match role {
                None => drift.push(format!("role {role_name} is missing")),
                Some(role_arn) => drift.extend(info.diff(&self.spec(vec![p.bus_arn, s.bus_arn], &h.api_check_arn, &role_arn))),
            }
        }
        Ok(if drift.is_empty() { Drift::InSync } else { Drift::Drifted { details: drift } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint_fake::SimulatedEndpoints;
    use crate::events_api::MockEventsApi;
    use crate::iam::least_privilege_violations;
    use tandem_core::iam::MockIamApi;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;
    use tandem_core::Config;

    const ACCOUNT: &str = "123456789012";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/events-replication-dev";
    const CHECK: &str = "arn:aws:route53:::healthcheck/0f1e2d";

    fn bus(region: &str, role: &str) -> EventBusOutputs {
        EventBusOutputs {
            bus_name: "bus-dev".into(),
            bus_arn: format!("arn:aws:events:{region}:{ACCOUNT}:event-bus/bus-dev"),
            rule_arn: format!("arn:aws:events:{region}:{ACCOUNT}:rule/bus-dev/events-{role}-dev"),
        }
    }

    fn health() -> HealthOutputs {
        HealthOutputs { api_check_id: "0f1e2d".into(), api_check_arn: CHECK.into(), nlb_check_id: "n".into(), nlb_check_arn: "arn:n".into() }
    }

    fn ctx() -> Ctx {
        Ctx::standalone(ids::EVENT_ENDPOINT, "us-east-1")
            .with_input(&ids::event_bus(Placement::Primary), &bus("us-east-1", "primary"))
            .with_input(&ids::event_bus(Placement::Secondary), &bus("us-east-2", "secondary"))
            .with_input(&ids::health(Placement::Primary), &health())
    }

    fn buses() -> Vec<String> {
        vec![bus("us-east-1", "primary").bus_arn, bus("us-east-2", "secondary").bus_arn]
    }

    /// IAM with the role and its policy in place.
    fn iam_in_place() -> MockIamApi {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(Some(ROLE_ARN.into())));
        iam.expect_get_role_policy().returning(|_, _| Ok(Some(replication_policy(&buses()))));
        iam
    }

    fn active(spec: &EndpointSpec) -> EndpointInfo {
        EndpointInfo {
            name: spec.name.clone(),
            arn: format!("arn:aws:events:us-east-1:{ACCOUNT}:endpoint/endpoint-dev"),
            endpoint_id: "abcde.fgh".into(),
            endpoint_url: "https://abcde.fgh.endpoint.events.amazonaws.com".into(),
            state: "ACTIVE".into(),
            state_reason: None,
            health_check_arn: spec.health_check_arn.clone(),
            secondary_region: spec.secondary_region.clone(),
            replication_enabled: spec.replication_enabled,
            event_bus_arns: spec.event_bus_arns.clone(),
            role_arn: spec.role_arn.clone(),
        }
    }

    fn component(events: impl EventsApi + 'static, iam: MockIamApi, simulated: bool) -> EventEndpoint {
        EventEndpoint::new(&Config::example("dev"), Arc::new(events), Arc::new(iam), simulated)
    }

    #[test]
    fn replication_policy_is_least_privilege() {
        let doc = replication_policy(&buses());
        assert_eq!(least_privilege_violations(&doc), Vec::<String>::new());
        assert!(doc.contains("events:PutEvents") && doc.contains("event-bus/bus-dev") && !doc.contains("\"*\""));
    }

    #[tokio::test(start_paused = true)]
    async fn creates_role_policy_endpoint_then_polls_active_in_order() {
        let mut iam = MockIamApi::new();
        let mut events = MockEventsApi::new();
        let mut seq = Sequence::new();
        iam.expect_get_role().with(eq("events-replication-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        iam.expect_create_role()
            .withf(|n, trust, _| n == "events-replication-dev" && trust.contains("events.amazonaws.com"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(ROLE_ARN.into()));
        iam.expect_get_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        iam.expect_put_role_policy()
            .withf(|r, p, doc| r == "events-replication-dev" && p == POLICY_NAME && doc == replication_policy(&buses()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        events
            .expect_create_endpoint()
            .withf(|s| {
                s.name == "endpoint-dev"
                    && s.health_check_arn == CHECK
                    && s.secondary_region == "us-east-2"
                    && s.replication_enabled
                    && s.event_bus_arns == buses()
                    && s.role_arn == ROLE_ARN
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(format!("arn:aws:events:us-east-1:{ACCOUNT}:endpoint/endpoint-dev")));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(|n| {
            Ok(Some(EndpointInfo { name: n.into(), state: "CREATING".into(), ..Default::default() }))
        });
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(|_| {
            let c = EventEndpoint::new(&Config::example("dev"), Arc::new(MockEventsApi::new()), Arc::new(MockIamApi::new()), false);
            Ok(Some(active(&c.spec(buses(), CHECK, ROLE_ARN))))
        });
        let c = ctx();
        let out = component(events, iam, false).apply(&c).await.unwrap();
        let out: EventEndpointOutputs = tandem_core::from_outputs(&out).unwrap();
        assert_eq!(out.endpoint_name, "endpoint-dev");
        assert_eq!(out.endpoint_url, "https://abcde.fgh.endpoint.events.amazonaws.com");
        assert!(!out.simulated);
        assert_eq!(c.journal_entries().await["endpoint"].id.as_deref(), Some(out.endpoint_arn.as_str()));
    }

    #[tokio::test]
    async fn existing_active_endpoint_makes_no_mutating_call() {
        let probe = component(MockEventsApi::new(), MockIamApi::new(), false);
        let info = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let mut events = MockEventsApi::new();
        events.expect_describe_endpoint().returning(move |_| Ok(Some(info.clone())));
        // No create/update/put expectations.
        let prior = ComponentState::new("event-endpoint", Placement::Global, "us-east-1").with_resource("endpoint", "arn:x");
        let c = ctx().with_prior(prior);
        let comp = component(events, iam_in_place(), false);
        comp.apply(&c).await.unwrap();
        assert_eq!(comp.read(&c).await.unwrap(), Drift::InSync);
    }

    #[tokio::test(start_paused = true)]
    async fn changed_health_check_updates_the_endpoint() {
        let probe = component(MockEventsApi::new(), MockIamApi::new(), false);
        let mut old = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        old.health_check_arn = "arn:aws:route53:::healthcheck/old".into();
        let new = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let mut events = MockEventsApi::new();
        let mut seq = Sequence::new();
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(old.clone())));
        events.expect_update_endpoint().withf(|s| s.health_check_arn == CHECK).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(new.clone())));
        component(events, iam_in_place(), false).apply(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn create_retries_throttling_and_role_propagation() {
        let probe = component(MockEventsApi::new(), MockIamApi::new(), false);
        let info = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let mut events = MockEventsApi::new();
        let mut described = 0;
        events.expect_describe_endpoint().returning(move |_| {
            described += 1;
            Ok(if described == 1 { None } else { Some(info.clone()) })
        });
        let mut n = 0;
        events.expect_create_endpoint().times(3).returning(move |_| {
            n += 1;
            match n {
                1 => Err(AwsError::throttling()),
                2 => Err(AwsError::other("ValidationException", "Role arn:... cannot be assumed by EventBridge")),
                _ => Ok("arn:endpoint".into()),
            }
        });
        component(events, iam_in_place(), false).apply(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn failed_creation_is_deleted_and_recreated() {
        let probe = component(MockEventsApi::new(), MockIamApi::new(), false);
        let good = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let mut failed = good.clone();
        failed.state = "CREATE_FAILED".into();
        failed.state_reason = Some("health check not found".into());
        let mut events = MockEventsApi::new();
        let mut seq = Sequence::new();
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(failed.clone())));
        events.expect_delete_endpoint().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        events.expect_create_endpoint().times(1).in_sequence(&mut seq).returning(|_| Ok("arn:new".into()));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(good.clone())));
        component(events, iam_in_place(), false).apply(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn endpoint_failing_while_creating_surfaces_the_reason() {
        let mut events = MockEventsApi::new();
        let mut n = 0;
        events.expect_describe_endpoint().returning(move |name| {
            n += 1;
            Ok(if n == 1 {
                None
            } else {
                Some(EndpointInfo {
                    name: name.into(),
                    state: "CREATE_FAILED".into(),
                    state_reason: Some("Role cannot be assumed".into()),
                    ..Default::default()
                })
            })
        });
        events.expect_create_endpoint().returning(|_| Ok("arn:x".into()));
        let e = component(events, iam_in_place(), false).apply(&ctx()).await.unwrap_err().to_string();
        assert!(e.contains("endpoint-dev") && e.contains("us-east-1") && e.contains("CREATE_FAILED"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_endpoint_waits_then_deletes_role() {
        let mut events = MockEventsApi::new();
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        events.expect_delete_endpoint().with(eq("endpoint-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(|n| {
            Ok(Some(EndpointInfo { name: n.into(), state: "DELETING".into(), ..Default::default() }))
        });
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![POLICY_NAME.into()]));
        iam.expect_delete_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_delete_role().with(eq("events-replication-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        let c = ctx();
        component(events, iam, false).destroy(&c).await.unwrap();
        assert!(c.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn second_destroy_is_a_no_op() {
        let mut events = MockEventsApi::new();
        events.expect_delete_endpoint().returning(|n| Err(AwsError::not_found("ResourceNotFoundException", format!("{n} not found"))));
        events.expect_describe_endpoint().returning(|_| Ok(None));
        let mut iam = MockIamApi::new();
        iam.expect_list_role_policies().returning(|_| Err(AwsError::not_found("NoSuchEntity", "gone")));
        component(events, iam, false).destroy(&ctx()).await.unwrap();
    }

    #[tokio::test]
    async fn errors_name_endpoint_and_region() {
        let mut events = MockEventsApi::new();
        events.expect_describe_endpoint().returning(|_| Err(AwsError::other("AccessDeniedException", "no events:DescribeEndpoint")));
        let e = component(events, iam_in_place(), false).apply(&ctx()).await.unwrap_err().to_string();
        assert!(e.contains("endpoint-dev") && e.contains("us-east-1") && e.contains("AccessDenied"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn simulated_endpoint_runs_the_same_component_code() {
        let fake = SimulatedEndpoints::new(Arc::new(MockEventsApi::new()), "us-east-1", None);
        let comp = component(fake, iam_in_place(), true);
        assert!(comp.simulated());
        let c = ctx();
        let out: EventEndpointOutputs = tandem_core::from_outputs(&comp.apply(&c).await.unwrap()).unwrap();
        assert!(out.simulated);
        assert!(out.endpoint_url.ends_with(".endpoint.events.amazonaws.com"));
        assert_eq!(out.endpoint_arn, format!("arn:aws:events:us-east-1:{ACCOUNT}:endpoint/endpoint-dev"));
        // Second apply: found ACTIVE, nothing to change.
        let again: EventEndpointOutputs = tandem_core::from_outputs(&comp.apply(&c).await.unwrap()).unwrap();
        assert_eq!(again, out);
        assert_eq!(comp.read(&c).await.unwrap(), Drift::InSync);
    }
}
