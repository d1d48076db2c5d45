//! `events-primary` / `events-secondary`: the custom event bus `bus-{s}` (same name in both
//! regions, as a global endpoint requires), the rule `events-{role}-{s}` on it matching every
//! event of the bus, its target (the region's event processor), and the Lambda permission
//! letting `events.amazonaws.com` invoke the processor from that rule only.
//!
//! Destroy: RemoveTargets → DeleteRule → DeleteEventBus, then the Lambda permission.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{ignore_not_found, retry, retry_if};
use tandem_core::contracts::{ids, EventBusOutputs, FunctionsOutputs};
use tandem_core::{naming, to_outputs, AwsResultExt, Component, ComponentError, Ctx, Desired, Drift, Outputs, Placement};

use crate::events_api::EventsApi;
use crate::lambda_api::{policy_has_sid, policy_has_statement, LambdaApi};

/// Matches every event put on the bus (every event has a `source`).
pub const MATCH_ALL_PATTERN: &str = r#"{"source":[{"prefix":""}]}"#;
/// Target id of the event processor on the rule.
pub const TARGET_ID: &str = "processor";
/// Principal of the Lambda permission.
pub const EVENTS_PRINCIPAL: &str = "events.amazonaws.com";

/// Bus name: `bus-{s}` in both regions.
pub fn bus_name(suffix: &str) -> String {
    naming::name("bus", Placement::Global, suffix)
}

fn same_pattern(a: Option<&str>, b: &str) -> bool {
    match (a.and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok()), serde_json::from_str::<serde_json::Value>(b).ok()) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The events component of one region.
pub struct EventBus {
    placement: Placement,
    suffix: String,
    region: String,
    id: String,
    events: Arc<dyn EventsApi>,
    lambda: Arc<dyn LambdaApi>,
}

impl EventBus {
    pub fn new(cfg: &tandem_core::Config, placement: Placement, events: Arc<dyn EventsApi>, lambda: Arc<dyn LambdaApi>) -> Self {
        Self {
            placement,
            suffix: cfg.environment_suffix.clone(),
            region: cfg.region_of(placement).to_string(),
            id: ids::event_bus(placement),
            events,
            lambda,
        }
    }

    fn bus(&self) -> String {
        bus_name(&self.suffix)
    }

    /// Rule name, also the Lambda permission's statement id.
    fn rule(&self) -> String {
        naming::name("events", self.placement, &self.suffix)
    }

    async fn ensure_bus(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        let bus = self.bus();
        if let Some(arn) = retry(|| self.events.describe_event_bus(&bus)).await.at(&bus, &self.region)? {
            if ctx.resource_id("bus").await.as_deref() != Some(arn.as_str()) {
                ctx.done("bus", &arn).await?;
            }
            return Ok(arn);
        }
        ctx.journaled("bus", "create", || async {
            match retry(|| self.events.create_event_bus(&bus, naming::tags(&self.suffix, &bus))).await {
                Ok(arn) => Ok(arn),
                // Created meanwhile (concurrent or interrupted run): adopt it.
                Err(e) if e.is_code("ResourceAlreadyExistsException") => retry(|| self.events.describe_event_bus(&bus))
                    .await
                    .at(&bus, &self.region)?
                    .ok_or_else(|| ComponentError::aws(&bus, &self.region, e)),
                Err(e) => Err(ComponentError::aws(&bus, &self.region, e)),
            }
        })
        .await
    }

    async fn ensure_rule(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        let (bus, rule) = (self.bus(), self.rule());
        let current = retry(|| self.events.describe_rule(&rule, &bus)).await.at(&rule, &self.region)?;
        if let Some(r) = current.as_ref().filter(|r| same_pattern(r.event_pattern.as_deref(), MATCH_ALL_PATTERN) && r.state == "ENABLED") {
            if ctx.resource_id("rule").await.as_deref() != Some(r.arn.as_str()) {
                ctx.done("rule", &r.arn).await?;
            }
            return Ok(r.arn.clone());
        }
        let op = if current.is_some() { "update" } else { "create" };
        ctx.journaled("rule", op, || async {
            retry(|| {
                self.events.put_rule(
                    &rule,
                    &bus,
                    MATCH_ALL_PATTERN,
                    "Every event of the bus to the event processor",
                    naming::tags(&self.suffix, &rule),
                )
            })
            .await
            .at(&rule, &self.region)
        })
        .await
    }

    async fn ensure_target(&self, ctx: &Ctx, processor_arn: &str) -> Result<(), ComponentError> {
        let (bus, rule) = (self.bus(), self.rule());
        let targets = retry(|| self.events.list_targets(&rule, &bus)).await.at(&rule, &self.region)?;
        let id = format!("{rule}/{TARGET_ID}");
        if targets.iter().any(|t| t.id == TARGET_ID && t.arn == processor_arn) {
            if ctx.resource_id("target").await.as_deref() != Some(id.as_str()) {
                ctx.done("target", &id).await?;
            }
            return Ok(());
        }
        ctx.journaled("target", "put", || async {
            retry(|| self.events.put_target(&rule, &bus, TARGET_ID, processor_arn)).await.at(&rule, &self.region)?;
            Ok(id.clone())
        })
        .await?;
        Ok(())
    }

    async fn ensure_permission(&self, ctx: &Ctx, processor: &str, rule_arn: &str) -> Result<(), ComponentError> {
        let sid = self.rule();
        let policy = retry(|| self.lambda.get_policy(processor)).await.at(processor, &self.region)?;
        let id = format!("{processor}/{sid}");
        if policy.as_deref().is_some_and(|p| policy_has_statement(p, &sid, rule_arn)) {
            if ctx.resource_id("permission").await.as_deref() != Some(id.as_str()) {
                ctx.done("permission", &id).await?;
            }
            return Ok(());
        }
        ctx.journaled("permission", "add", || async {
            if policy.as_deref().is_some_and(|p| policy_has_sid(p, &sid)) {
                // Same statement id, other source: replace it.
                ignore_not_found(retry(|| self.lambda.remove_permission(processor, &sid)).await).at(processor, &self.region)?;
            }
            match retry_if(|| self.lambda.add_permission(processor, &sid, EVENTS_PRINCIPAL, rule_arn), |e| {
                e.is_code("ResourceConflictException") && !e.message.contains("already exists")
            })
            .await
            {
                Err(e) if e.is_code("ResourceConflictException") && e.message.contains("already exists") => {}
                other => other.at(processor, &self.region)?,
            }
            Ok(id.clone())
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Component for EventBus {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "event-bus"
    }
    fn placement(&self) -> Placement {
        self.placement
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        vec![ids::functions(self.placement)]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::EventBusOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        Duration::from_secs(10)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "bus": self.bus(), "rule": self.rule(), "region": self.region }),
            json!({ "pattern": MATCH_ALL_PATTERN, "target": TARGET_ID, "principal": EVENTS_PRINCIPAL }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let functions: FunctionsOutputs = ctx.input(&ids::functions(self.placement))?;
        let bus_arn = self.ensure_bus(ctx).await?;
        let rule_arn = self.ensure_rule(ctx).await?;
        self.ensure_target(ctx, &functions.processor_function_arn).await?;
        self.ensure_permission(ctx, &functions.processor_function_name, &rule_arn).await?;
        Ok(to_outputs(&EventBusOutputs { bus_name: self.bus(), bus_arn, rule_arn }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (bus, rule) = (self.bus(), self.rule());
        ctx.pending("target", "delete").await?;
        let targets = match retry(|| self.events.list_targets(&rule, &bus)).await {
            Ok(t) => t,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(ComponentError::aws(&rule, &self.region, e)),
        };
        if !targets.is_empty() {
            let ids: Vec<String> = targets.into_iter().map(|t| t.id).collect();
            ignore_not_found(retry(|| self.events.remove_targets(&rule, &bus, ids.clone())).await).at(&rule, &self.region)?;
        }
        ctx.removed("target").await?;

        ctx.pending("rule", "delete").await?;
        ignore_not_found(retry(|| self.events.delete_rule(&rule, &bus)).await).at(&rule, &self.region)?;
        ctx.removed("rule").await?;

        ctx.pending("bus", "delete").await?;
        ignore_not_found(retry(|| self.events.delete_event_bus(&bus)).await).at(&bus, &self.region)?;
        ctx.removed("bus").await?;

        // The permission lives on the processor function (destroyed after this component).
        let processor = naming::name("processor", self.placement, &self.suffix);
        ctx.pending("permission", "delete").await?;
        ignore_not_found(retry(|| self.lambda.remove_permission(&processor, &rule)).await).at(&processor, &self.region)?;
        ctx.removed("permission").await?;
        Ok(())
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let (bus, rule) = (self.bus(), self.rule());
        if retry(|| self.events.describe_event_bus(&bus)).await.at(&bus, &self.region)?.is_none() {
            return Ok(Drift::Missing { details: vec![format!("event bus {bus} is missing")] });
        }
        let mut drift = Vec::new();
        let rule_info = retry(|| self.events.describe_rule(&rule, &bus)).await.at(&rule, &self.region)?;
        match &rule_info {
            None => drift.push(format!("rule {rule} is missing")),
            Some(r) => {
                if !same_pattern(r.event_pattern.as_deref(), MATCH_ALL_PATTERN) {
                    drift.push(format!("rule {rule}: pattern {:?} differs", r.event_pattern));
                }
                if r.state != "ENABLED" {
                    drift.push(format!("rule {rule}: state {}", r.state));
                }
                let functions: Option<FunctionsOutputs> = ctx.input_opt(&ids::functions(self.placement));
                let targets = retry(|| self.events.list_targets(&rule, &bus)).await.at(&rule, &self.region)?;
                let ok = targets
                    .iter()
                    .any(|t| t.id == TARGET_ID && functions.as_ref().is_none_or(|f| f.processor_function_arn == t.arn));
                if !ok {
                    drift.push(format!("rule {rule}: target {TARGET_ID} missing or pointing elsewhere"));
                }
                let processor = naming::name("processor", self.placement, &self.suffix);
                let policy = retry(|| self.lambda.get_policy(&processor)).await.at(&processor, &self.region)?;
                if !policy.as_deref().is_some_and(|p| policy_has_statement(p, &rule, &r.arn)) {
                    drift.push(format!("{processor}: permission {rule} for {EVENTS_PRINCIPAL} is missing"));
                }
            }
        }
        Ok(if drift.is_empty() { Drift::InSync } else { Drift::Drifted { details: drift } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events_api::{MockEventsApi, RuleInfo, TargetInfo};
    use crate::lambda_api::MockLambdaApi;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;
    use tandem_core::{AwsError, Config};

    const ACCOUNT: &str = "123456789012";

    fn functions(region: &str, role: &str) -> FunctionsOutputs {
        let arn = |k: &str| format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{k}-{role}-dev");
        FunctionsOutputs {
            api_function_name: format!("api-{role}-dev"),
            api_function_arn: arn("api"),
            processor_function_name: format!("processor-{role}-dev"),
            processor_function_arn: arn("processor"),
            replicator_function_name: format!("replicator-{role}-dev"),
            replicator_function_arn: arn("replicator"),
            code_sha256: "abc".into(),
        }
    }

    fn bus_arn(region: &str) -> String {
        format!("arn:aws:events:{region}:{ACCOUNT}:event-bus/bus-dev")
    }
    fn rule_arn(region: &str, role: &str) -> String {
        format!("arn:aws:events:{region}:{ACCOUNT}:rule/bus-dev/events-{role}-dev")
    }
    fn policy(region: &str, role: &str) -> String {
        json!({"Version":"2012-10-17","Statement":[{"Sid": format!("events-{role}-dev"),"Effect":"Allow",
            "Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction",
            "Resource": format!("arn:aws:lambda:{region}:{ACCOUNT}:function:processor-{role}-dev"),
            "Condition":{"ArnLike":{"AWS:SourceArn": rule_arn(region, role)}}}]})
        .to_string()
    }

    fn component(p: Placement, events: MockEventsApi, lambda: MockLambdaApi) -> EventBus {
        EventBus::new(&Config::example("dev"), p, Arc::new(events), Arc::new(lambda))
    }

    fn ctx(p: Placement) -> Ctx {
        let (region, role) = if p == Placement::Secondary { ("us-east-2", "secondary") } else { ("us-east-1", "primary") };
        Ctx::standalone(ids::event_bus(p), region).with_input(&ids::functions(p), &functions(region, role))
    }

    #[tokio::test]
    async fn creates_bus_rule_target_permission_in_order() {
        let mut events = MockEventsApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut seq = Sequence::new();
        events.expect_describe_event_bus().with(eq("bus-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        events
            .expect_create_event_bus()
            .withf(|n, tags| n == "bus-dev" && tags.contains(&("Name".to_string(), "bus-dev".to_string())))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(bus_arn("us-east-2")));
        events.expect_describe_rule().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        events
            .expect_put_rule()
            .withf(|n, b, p, _, _| n == "events-secondary-dev" && b == "bus-dev" && p == MATCH_ALL_PATTERN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _, _| Ok(rule_arn("us-east-2", "secondary")));
        events.expect_list_targets().times(1).in_sequence(&mut seq).returning(|_, _| Ok(vec![]));
        events
            .expect_put_target()
            .with(
                eq("events-secondary-dev"),
                eq("bus-dev"),
                eq(TARGET_ID),
                eq(format!("arn:aws:lambda:us-east-2:{ACCOUNT}:function:processor-secondary-dev")),
            )
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        lambda.expect_get_policy().with(eq("processor-secondary-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        lambda
            .expect_add_permission()
            .with(eq("processor-secondary-dev"), eq("events-secondary-dev"), eq(EVENTS_PRINCIPAL), eq(rule_arn("us-east-2", "secondary")))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        let c = ctx(Placement::Secondary);
        let out = component(Placement::Secondary, events, lambda).apply(&c).await.unwrap();
        let out: EventBusOutputs = tandem_core::from_outputs(&out).unwrap();
        assert_eq!(out, EventBusOutputs { bus_name: "bus-dev".into(), bus_arn: bus_arn("us-east-2"), rule_arn: rule_arn("us-east-2", "secondary") });
        assert_eq!(c.journal_entries().await.len(), 4);
    }

    #[tokio::test]
    async fn existing_resources_make_no_mutating_call() {
        let mut events = MockEventsApi::new();
        events.expect_describe_event_bus().returning(|_| Ok(Some(bus_arn("us-east-1"))));
        events.expect_describe_rule().returning(|_, _| {
            Ok(Some(RuleInfo {
                name: "events-primary-dev".into(),
                arn: rule_arn("us-east-1", "primary"),
                event_pattern: Some(r#"{ "source": [ { "prefix": "" } ] }"#.into()),
                state: "ENABLED".into(),
            }))
        });
        events.expect_list_targets().returning(|_, _| {
            Ok(vec![TargetInfo { id: TARGET_ID.into(), arn: format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:processor-primary-dev") }])
        });
        let mut lambda = MockLambdaApi::new();
        lambda.expect_get_policy().returning(|_| Ok(Some(policy("us-east-1", "primary"))));
        // No create/put/add expectations: any mutating call fails the test.
        let prior = ComponentState::new("event-bus", Placement::Primary, "us-east-1").with_resource("bus", &bus_arn("us-east-1"));
        let c = ctx(Placement::Primary).with_prior(prior);
        let comp = component(Placement::Primary, events, lambda);
        comp.apply(&c).await.unwrap();
        assert_eq!(comp.read(&c).await.unwrap(), Drift::InSync);
    }

    #[tokio::test]
    async fn destroy_removes_targets_then_rule_then_bus_then_permission() {
        let mut events = MockEventsApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut seq = Sequence::new();
        events
            .expect_list_targets()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vec![TargetInfo { id: TARGET_ID.into(), arn: "arn".into() }]));
        events
            .expect_remove_targets()
            .with(eq("events-primary-dev"), eq("bus-dev"), eq(vec![TARGET_ID.to_string()]))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        events.expect_delete_rule().with(eq("events-primary-dev"), eq("bus-dev")).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        events.expect_delete_event_bus().with(eq("bus-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        lambda
            .expect_remove_permission()
            .with(eq("processor-primary-dev"), eq("events-primary-dev"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let c = ctx(Placement::Primary);
        component(Placement::Primary, events, lambda).destroy(&c).await.unwrap();
        assert!(c.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn second_destroy_is_a_no_op_on_not_found() {
        let nf = || AwsError::not_found("ResourceNotFoundException", "does not exist");
        let mut events = MockEventsApi::new();
        events.expect_list_targets().returning(move |_, _| Err(nf()));
        events.expect_delete_rule().returning(move |_, _| Err(nf()));
        events.expect_delete_event_bus().returning(move |_| Err(nf()));
        // No remove_targets: there is nothing to remove.
        let mut lambda = MockLambdaApi::new();
        lambda.expect_remove_permission().returning(move |_, _| Err(nf()));
        component(Placement::Primary, events, lambda).destroy(&ctx(Placement::Primary)).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried() {
        let mut events = MockEventsApi::new();
        let mut n = 0;
        events.expect_describe_event_bus().times(2).returning(move |_| {
            n += 1;
            if n == 1 {
                Err(AwsError::throttling())
            } else {
                Ok(Some(bus_arn("us-east-1")))
            }
        });
        events.expect_describe_rule().returning(|_, _| Ok(None));
        events.expect_put_rule().returning(|_, _, _, _, _| Ok(rule_arn("us-east-1", "primary")));
        events.expect_list_targets().returning(|_, _| Ok(vec![]));
        events.expect_put_target().returning(|_, _, _, _| Ok(()));
        let mut lambda = MockLambdaApi::new();
        // A stale statement with the same id is replaced.
        lambda.expect_get_policy().returning(|_| Ok(Some(policy("us-east-1", "primary").replace("rule/bus-dev", "rule/old"))));
        let mut seq = Sequence::new();
        lambda.expect_remove_permission().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        lambda.expect_add_permission().times(1).in_sequence(&mut seq).returning(|_, _, _, _| Ok(()));
        component(Placement::Primary, events, lambda).apply(&ctx(Placement::Primary)).await.unwrap();
    }

    #[tokio::test]
    async fn errors_name_resource_and_region() {
        let mut events = MockEventsApi::new();
        events.expect_describe_event_bus().returning(|_| Ok(None));
        events.expect_create_event_bus().returning(|_, _| Err(AwsError::other("LimitExceededException2", "too many buses")));
        let e = component(Placement::Secondary, events, MockLambdaApi::new())
            .apply(&ctx(Placement::Secondary))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("bus-dev") && e.contains("us-east-2") && e.contains("too many buses"), "{e}");
    }

    #[test]
    fn pattern_matches_all_events() {
        let p: serde_json::Value = serde_json::from_str(MATCH_ALL_PATTERN).unwrap();
        assert_eq!(p, json!({"source": [{"prefix": ""}]}));
    }
}
