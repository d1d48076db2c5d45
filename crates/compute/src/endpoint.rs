//! `event-endpoint`: the EventBridge global endpoint `endpoint-{s}` (API in the primary
//! region) over the two `bus-{s}` buses, failing over to the secondary region when the
//! primary's Route 53 CALCULATED check fails (`health-primary` → `failover_check_arn`: the
//! API check AND "not decided down", the same decision as the PRIMARY DNS record and the
//! database, see `DR.md` "One decision"; the API check for state of an older release),
//! with event replication enabled through the
//! IAM role `events-replication-{s}` (trusts `events.amazonaws.com`, may only
//! `events:PutEvents` on the two buses).
//!
//! Apply: role → inline policy → CreateEndpoint (or UpdateEndpoint when the routing,
//! buses, replication or role differ) → poll until `ACTIVE` (EventBridge has no waiter).
//! Destroy: DeleteEndpoint → poll until gone → delete the role.
//!
//! Role and endpoint follow the core's resource protocol with [`Rule::Name`] (neither API
//! has an idempotency token; both names are unique and carry the stack's suffix): after a
//! lost answer ("already exists") they are looked up and adopted. Updates go through
//! [`Ctx::update`], deletes through [`Ctx::delete`].


use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{poll_until, retry, retry_if, Poll};
use tandem_core::contracts::{ids, EventBusOutputs, EventEndpointOutputs, HealthOutputs};
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Ctx, Desired, Drift, Ensured, How, Key, Outputs, Placement,
    Rule,
};

use tandem_clients::events::{EndpointInfo, EndpointSpec, EventsApi};
use crate::functions::{by_name, until_role_assumable, with_role_propagation};
use crate::iam::{delete_role, forget_legacy, POLICY_NAME};
use tandem_core::iam::{ensure_role, scoped_trust_policy, IamApi, RoleSpec};

/// Journal keys: the endpoint, and the replication role (its inline policy is an update of it).
const KEY_ENDPOINT: Key = Key::new("endpoint");
const KEY_ROLE: Key = Key::new("role");
/// The inline policy's own key before the resource protocol (forgotten by destroy).
const LEGACY_KEY_ROLE_POLICY: Key = Key::new("role-policy");

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
    /// The replication role's `aws:SourceAccount` (None: not known yet, unscoped).
    account: Option<String>,
    events: Arc<dyn EventsApi>,
    iam: Arc<dyn IamApi>,
}

impl EventEndpoint {
    /// `events` is the primary region's EventBridge client.
    pub fn new(cfg: &tandem_core::Config, events: Arc<dyn EventsApi>, iam: Arc<dyn IamApi>) -> Self {
        Self {
            suffix: cfg.environment_suffix.clone(),
            primary_region: cfg.primary_region.clone(),
            secondary_region: cfg.secondary_region.clone(),
            account: cfg.account_id.as_ref().map(|a| a.as_str().to_string()),
            events,
            iam,
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
            description: format!("Tandem {}: events fail over to {} when the primary is unhealthy or decided down", self.suffix, self.secondary_region),
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

    /// The endpoint, with [`Rule::Name`] (no idempotency token; the name is unique: a
    /// `ResourceAlreadyExistsException` after a lost answer is looked up and adopted).
    async fn ensure_endpoint(&self, ctx: &Ctx, spec: &EndpointSpec) -> Result<Ensured<EndpointInfo>, ComponentError> {
        let (events, n) = (self.events.as_ref(), spec.name.as_str());
        ctx.ensure::<EndpointInfo>(&KEY_ENDPOINT, n, Rule::Name)
            .find_one(move |_recorded| async move { Ok(events.describe_endpoint(n).await?.filter(|e| e.name == n)) })
            .create(move |_token| async move {
                // The new replication role may not be usable by EventBridge yet.
                let arn = until_role_assumable(|| events.create_endpoint(spec)).await?;
                Ok(EndpointInfo { name: n.to_string(), arn, state: "CREATING".into(), ..Default::default() })
            })
            .id(|e| e.arn.clone())
            .outcome()
            .await
    }

    /// Deletes the endpoint by name through [`Ctx::delete`], then waits until it is gone.
    async fn delete_endpoint(&self, ctx: &Ctx, name: &str) -> Result<(), ComponentError> {
        let events = self.events.as_ref();
        ctx.delete(&KEY_ENDPOINT, name, |recorded| by_name(recorded, name), move |_| {
            retry_if(move || events.delete_endpoint(name), |e| e.is_code("ConcurrentModificationException"))
        })
        .await?;
        self.wait_gone(name).await
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
        // Role, then CreateEndpoint (retrying IAM propagation) and CREATING → ACTIVE. AWS
        // documents no time; 120 s is terraform-provider-aws's hard-coded create wait
        // (internal/service/events/endpoint.go), a conservative figure.
        Duration::from_secs(120)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "endpoint": self.name(), "home_region": self.primary_region }),
            json!({
                "secondary_region": self.secondary_region,
                "replication": "ENABLED",
                "role": self.role_name(),
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = ids::EVENT_ENDPOINT, region = %self.primary_region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let primary: EventBusOutputs = ctx.input(&ids::event_bus(Placement::Primary))?;
        let secondary: EventBusOutputs = ctx.input(&ids::event_bus(Placement::Secondary))?;
        let health: HealthOutputs = ctx.input(&ids::health(Placement::Primary))?;
        let buses = vec![primary.bus_arn.clone(), secondary.bus_arn.clone()];

        let role = self.role_name();
        // EventBridge may assume it only on behalf of this account; an adopted role keeps no
        // foreign trust or extra policy (tandem_core::iam::ensure_role reconciles).
        let spec = RoleSpec {
            name: role.clone(),
            trust_policy: scoped_trust_policy("events.amazonaws.com", self.account.as_deref(), None),
            inline: vec![(POLICY_NAME.to_string(), replication_policy(&buses))],
            managed: vec![],
            tags: naming::tags(&self.suffix, &role),
        };
        let role_arn = ensure_role(ctx, self.iam.as_ref(), &KEY_ROLE, &spec).await?;
        forget_legacy(ctx, &LEGACY_KEY_ROLE_POLICY).await?;

        let spec = self.spec(buses, health.routing_check_arn(), &role_arn);
        let name = spec.name.clone();
        let mut ensured = self.ensure_endpoint(ctx, &spec).await?;
        if ensured.how != How::Created && ensured.value.state == "CREATE_FAILED" {
            tracing::warn!(endpoint = %name, reason = ?ensured.value.state_reason, "endpoint creation had failed; re-creating");
            self.delete_endpoint(ctx, &name).await?;
            ensured = self.ensure_endpoint(ctx, &spec).await?;
        }
        let mut info = ensured.value;
        if ensured.how == How::Created || matches!(info.state.as_str(), "CREATING" | "UPDATING") {
            info = self.wait_active(&name).await?;
        }
        if !info.diff(&spec).is_empty() || info.state == "UPDATE_FAILED" {
            tracing::info!(endpoint = %name, diff = ?info.diff(&spec), "updating endpoint");
            ctx.update(&KEY_ENDPOINT, || async {
                with_role_propagation(&name, &self.primary_region, || async {
                    retry_if(|| self.events.update_endpoint(&spec), |e| e.is_code("ConcurrentModificationException")).await
                })
                .await
            })
            .await?;
            info = self.wait_active(&name).await?;
        }
        Ok(to_outputs(&EventEndpointOutputs {
            endpoint_name: name,
            endpoint_arn: info.arn,
            endpoint_url: info.endpoint_url,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = ids::EVENT_ENDPOINT, region = %self.primary_region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let name = self.name();
        self.delete_endpoint(ctx, &name).await?;
        let role = self.role_name();
        delete_role(ctx, self.iam.as_ref(), &KEY_ROLE, &role).await?;
        forget_legacy(ctx, &LEGACY_KEY_ROLE_POLICY).await
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
                Some(role_arn) => drift.extend(info.diff(&self.spec(vec![p.bus_arn, s.bus_arn], h.routing_check_arn(), &role_arn))),
            }
        }
        Ok(if drift.is_empty() { Drift::InSync } else { Drift::Drifted { details: drift } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_clients::events::MockEventsApi;
    use crate::iam::least_privilege_violations;
    use tandem_core::iam::MockIamApi;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::state::{ComponentState, Op, ResourceStatus};
    use tandem_core::Config;

    const ACCOUNT: &str = "123456789012";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/events-replication-dev";
    /// The primary's CALCULATED check (API AND not decided down): what the endpoint uses.
    const CHECK: &str = "arn:aws:route53:::healthcheck/0f1e2d";
    /// The primary's API check (what an earlier release used).
    const API_CHECK: &str = "arn:aws:route53:::healthcheck/a9b8c7";

    fn bus(region: &str, role: &str) -> EventBusOutputs {
        EventBusOutputs {
            bus_name: "bus-dev".into(),
            bus_arn: format!("arn:aws:events:{region}:{ACCOUNT}:event-bus/bus-dev"),
            rule_arn: format!("arn:aws:events:{region}:{ACCOUNT}:rule/bus-dev/events-{role}-dev"),
        }
    }

    fn health() -> HealthOutputs {
        HealthOutputs {
            decision_check_id: Some("d1e2c3".into()),
            failover_check_id: Some("0f1e2d".into()),
            failover_check_arn: Some(CHECK.into()),
            ..health_api_only()
        }
    }

    /// `health-primary` as an earlier release wrote it: no decision, no calculated check.
    fn health_api_only() -> HealthOutputs {
        HealthOutputs {
            api_check_id: "a9b8c7".into(),
            api_check_arn: API_CHECK.into(),
            nlb_check_id: "n".into(),
            nlb_check_arn: "arn:n".into(),
            ..Default::default()
        }
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
        role_as_wanted(&mut iam);
        iam
    }

    /// The role's trust and policies as the component wants them.
    fn role_as_wanted(iam: &mut MockIamApi) {
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(scoped_trust_policy("events.amazonaws.com", None, None))));
        iam.expect_get_role_policy().returning(|_, _| Ok(Some(replication_policy(&buses()))));
        iam.expect_list_role_policies().returning(|_| Ok(vec![POLICY_NAME.to_string()]));
        iam.expect_list_attached_role_policies().returning(|_| Ok(vec![]));
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

    fn component(events: impl EventsApi + 'static, iam: MockIamApi) -> EventEndpoint {
        EventEndpoint::new(&Config::example("dev"), Arc::new(events), Arc::new(iam))
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
        iam.expect_get_role_trust_policy()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(scoped_trust_policy("events.amazonaws.com", None, None))));
        iam.expect_get_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
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
            let c = EventEndpoint::new(&Config::example("dev"), Arc::new(MockEventsApi::new()), Arc::new(MockIamApi::new()));
            Ok(Some(active(&c.spec(buses(), CHECK, ROLE_ARN))))
        });
        let c = ctx();
        let out = component(events, iam).apply(&c).await.unwrap();
        let out: EventEndpointOutputs = tandem_core::from_outputs(&out).unwrap();
        assert_eq!(out.endpoint_name, "endpoint-dev");
        assert_eq!(out.endpoint_url, "https://abcde.fgh.endpoint.events.amazonaws.com");
        assert_eq!(c.journal_entries().await["endpoint"].id.as_deref(), Some(out.endpoint_arn.as_str()));
    }

    #[tokio::test]
    async fn existing_active_endpoint_makes_no_mutating_call() {
        let probe = component(MockEventsApi::new(), MockIamApi::new());
        let info = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let mut events = MockEventsApi::new();
        events.expect_describe_endpoint().returning(move |_| Ok(Some(info.clone())));
        // No create/update/put expectations.
        let prior = ComponentState::new("event-endpoint", Placement::Global, "us-east-1").with_resource("endpoint", "arn:x");
        let c = ctx().with_prior(prior);
        let comp = component(events, iam_in_place());
        comp.apply(&c).await.unwrap();
        assert_eq!(comp.read(&c).await.unwrap(), Drift::InSync);
    }

    #[tokio::test(start_paused = true)]
    async fn changed_health_check_updates_the_endpoint() {
        // An endpoint of an earlier release routes on the API check: moved to the
        // calculated check (one decision for DNS, events and the database).
        let probe = component(MockEventsApi::new(), MockIamApi::new());
        let mut old = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        old.health_check_arn = API_CHECK.into();
        let new = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let mut events = MockEventsApi::new();
        let mut seq = Sequence::new();
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(old.clone())));
        events.expect_update_endpoint().withf(|s| s.health_check_arn == CHECK).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(new.clone())));
        component(events, iam_in_place()).apply(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn state_of_an_earlier_release_routes_on_the_api_check() {
        let probe = component(MockEventsApi::new(), MockIamApi::new());
        let info = active(&probe.spec(buses(), API_CHECK, ROLE_ARN));
        let mut events = MockEventsApi::new();
        events.expect_describe_endpoint().returning(move |_| Ok(Some(info.clone())));
        let c = ctx().with_input(&ids::health(Placement::Primary), &health_api_only());
        let comp = component(events, iam_in_place());
        comp.apply(&c).await.expect("no update: the API check is what it uses");
        assert_eq!(comp.read(&c).await.expect("read"), Drift::InSync);
        // With the calculated check published, the same endpoint has drifted.
        match comp.read(&ctx()).await.expect("read") {
            Drift::Drifted { details } => assert!(details.iter().any(|d| d.contains("0f1e2d")), "{details:?}"),
            other => panic!("expected drift, got {other:?}"),
        }
    }

    /// EventBridge whose endpoint exists only once `create_endpoint` acted: the n-th create
    /// (1-based) acts when `acts(n)` and then answers `answer(n)`; sent again after it acted,
    /// it answers "already exists". Returns the mock and how many endpoints exist.
    fn endpoint_world(
        acts: impl Fn(u32) -> bool + Send + 'static,
        answer: impl Fn(u32) -> Result<(), AwsError> + Send + 'static,
    ) -> (MockEventsApi, Arc<std::sync::Mutex<u32>>) {
        let probe = component(MockEventsApi::new(), MockIamApi::new());
        let info = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let made: Arc<std::sync::Mutex<u32>> = Arc::default();
        let mut events = MockEventsApi::new();
        let seen = made.clone();
        events.expect_describe_endpoint().returning(move |_| Ok((*seen.lock().unwrap() > 0).then(|| info.clone())));
        let acted = made.clone();
        let mut calls = 0;
        events.expect_create_endpoint().returning(move |s| {
            calls += 1;
            let mut m = acted.lock().unwrap();
            if *m > 0 {
                return Err(AwsError::other("ResourceAlreadyExistsException", format!("Endpoint {} already exists.", s.name)));
            }
            if acts(calls) {
                *m += 1;
            }
            answer(calls).map(|()| format!("arn:aws:events:us-east-1:{ACCOUNT}:endpoint/endpoint-dev"))
        });
        (events, made)
    }

    #[tokio::test(start_paused = true)]
    async fn create_retries_throttling_and_role_propagation() {
        // 1: throttled, 2: role not assumable yet (neither acts), 3: created.
        let (events, made) = endpoint_world(
            |n| n == 3,
            |n| match n {
                1 => Err(AwsError::throttling()),
                2 => Err(AwsError::other("ValidationException", "Role arn:... cannot be assumed by EventBridge")),
                _ => Ok(()),
            },
        );
        let c = ctx();
        component(events, iam_in_place()).apply(&c).await.unwrap();
        assert_eq!(*made.lock().unwrap(), 1);
        assert_eq!(c.journal_entries().await["endpoint"].op, Op::Create);
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answer_is_adopted_one_endpoint() {
        for lost in [
            AwsError::new("InternalException", "x", Some(500)),
            AwsError::new("ServiceUnavailable", "connection reset", Some(503)),
            AwsError::other("ResourceAlreadyExistsException", "Endpoint endpoint-dev already exists."),
        ] {
            let answer = lost.clone();
            let (events, made) = endpoint_world(|_| true, move |_| Err(answer.clone()));
            let c = ctx();
            let out = component(events, iam_in_place()).apply(&c).await.unwrap_or_else(|e| panic!("{lost}: {e}"));
            let out: EventEndpointOutputs = tandem_core::from_outputs(&out).unwrap();
            assert_eq!(*made.lock().unwrap(), 1, "{lost}: exactly one endpoint");
            let e = &c.journal_entries().await["endpoint"];
            assert_eq!((e.status, e.id.as_deref()), (ResourceStatus::Done, Some(out.endpoint_arn.as_str())), "{lost}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_run_adopts_the_endpoint_and_role_an_interrupted_run_created() {
        let (events, made) = endpoint_world(|_| true, |_| Ok(()));
        *made.lock().unwrap() = 1;
        // IAM answers "already exists" to any create: the role is found by name instead.
        let mut iam = iam_in_place();
        iam.expect_create_role().never();
        let comp = component(events, iam);
        let c = ctx().with_prior(crate::interrupted_state(&comp, &["endpoint", "role"]));
        comp.apply(&c).await.unwrap();
        assert_eq!(*made.lock().unwrap(), 1);
        let j = c.journal_entries().await;
        assert_eq!((j["endpoint"].status, j["endpoint"].op), (ResourceStatus::Done, Op::Adopt));
        assert_eq!((j["role"].status, j["role"].id.as_deref()), (ResourceStatus::Done, Some(ROLE_ARN)));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_role_answer_is_adopted() {
        // The case: CreateRole acted, the answer was lost, the retry got EntityAlreadyExists.
        let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut iam = MockIamApi::new();
        let seen = created.clone();
        iam.expect_get_role().returning(move |_| Ok(seen.load(std::sync::atomic::Ordering::SeqCst).then(|| ROLE_ARN.to_string())));
        let acted = created.clone();
        iam.expect_create_role().times(1).returning(move |n, _, _| {
            acted.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(AwsError::new("EntityAlreadyExists", format!("Role with name {n} already exists."), Some(409)))
        });
        role_as_wanted(&mut iam);
        let (events, _) = endpoint_world(|_| true, |_| Ok(()));
        let c = ctx();
        component(events, iam).apply(&c).await.unwrap();
        let e = &c.journal_entries().await["role"];
        assert_eq!((e.status, e.id.as_deref()), (ResourceStatus::Done, Some(ROLE_ARN)));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_creation_is_deleted_and_recreated() {
        let probe = component(MockEventsApi::new(), MockIamApi::new());
        let good = active(&probe.spec(buses(), CHECK, ROLE_ARN));
        let mut failed = good.clone();
        failed.state = "CREATE_FAILED".into();
        failed.state_reason = Some("health check not found".into());
        let mut events = MockEventsApi::new();
        let mut seq = Sequence::new();
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(failed.clone())));
        events.expect_delete_endpoint().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        // Gone (the wait), then not found by the lookup before the create.
        events.expect_describe_endpoint().times(2).in_sequence(&mut seq).returning(|_| Ok(None));
        events.expect_create_endpoint().times(1).in_sequence(&mut seq).returning(|_| Ok("arn:new".into()));
        events.expect_describe_endpoint().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(good.clone())));
        component(events, iam_in_place()).apply(&ctx()).await.unwrap();
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
        let e = component(events, iam_in_place()).apply(&ctx()).await.unwrap_err().to_string();
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
        component(events, iam).destroy(&c).await.unwrap();
        assert!(c.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn second_destroy_is_a_no_op() {
        let mut events = MockEventsApi::new();
        events.expect_delete_endpoint().returning(|n| Err(AwsError::not_found("ResourceNotFoundException", format!("{n} not found"))));
        events.expect_describe_endpoint().returning(|_| Ok(None));
        let mut iam = MockIamApi::new();
        iam.expect_list_role_policies().returning(|_| Err(AwsError::not_found("NoSuchEntity", "gone")));
        component(events, iam).destroy(&ctx()).await.unwrap();
    }

    #[tokio::test]
    async fn errors_name_endpoint_and_region() {
        let mut events = MockEventsApi::new();
        events.expect_describe_endpoint().returning(|_| Err(AwsError::other("AccessDeniedException", "no events:DescribeEndpoint")));
        let e = component(events, iam_in_place()).apply(&ctx()).await.unwrap_err().to_string();
        assert!(e.contains("endpoint-dev") && e.contains("us-east-1") && e.contains("AccessDenied"), "{e}");
    }
}
