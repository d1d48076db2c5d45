//! `events-primary` / `events-secondary`: the custom event bus `bus-{s}` (same name in both
//! regions, as a global endpoint requires), the rule `events-{role}-{s}` on it matching every
//! event of the bus, its target (the region's event processor), and the Lambda permission
//! letting `events.amazonaws.com` invoke the processor from that rule only.
//!
//! Each follows the core's resource protocol with [`Rule::Name`] (EventBridge and Lambda
//! permissions have no idempotency token; bus, rule, target id and statement id are unique):
//! after a lost answer the resource is looked up and adopted. In-place changes go through
//! [`Ctx::update`], deletes through [`Ctx::delete`].
//!
//! Destroy: RemoveTargets → DeleteRule → DeleteEventBus, then the Lambda permission.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{backoff_delay, ignore_not_found, retry, retry_if, RetryPolicy};
use tandem_core::contracts::{ids, EventBusOutputs, FunctionsOutputs};
use tandem_core::{naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Ctx, Desired, Drift, Key, Outputs, Placement, Rule};

use tandem_clients::events::{EventsApi, RuleInfo, TargetInfo};
use crate::functions::by_name;
use tandem_clients::lambda::{policy_has_sid, policy_has_statement, LambdaApi};

/// Matches every event put on the bus (every event has a `source`).
pub const MATCH_ALL_PATTERN: &str = r#"{"source":[{"prefix":""}]}"#;
/// Target id of the event processor on the rule.
pub const TARGET_ID: &str = "processor";
/// Principal of the Lambda permission.
pub const EVENTS_PRINCIPAL: &str = "events.amazonaws.com";

/// Journal keys.
const KEY_BUS: Key = Key::new("bus");
const KEY_RULE: Key = Key::new("rule");
const KEY_TARGET: Key = Key::new("target");
const KEY_PERMISSION: Key = Key::new("permission");

/// Calls `f` again (bounded, with backoff) only while it fails with an error `again` accepts
/// (one saying the call did nothing, e.g. "an update is in progress"); every other error,
/// ambiguous ones included, is returned at once for the protocol to look the resource up.
async fn retry_only<T, F, Fut, P>(mut f: F, again: P) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
    P: Fn(&AwsError) -> bool,
{
    let policy = RetryPolicy::default();
    let mut attempt = 0;
    loop {
        match f().await {
            Err(e) if again(&e) && attempt + 1 < policy.max_attempts => {
                tokio::time::sleep(backoff_delay(&policy, attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

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

    /// The bus, with [`Rule::Name`] (`ResourceAlreadyExistsException` after a lost answer:
    /// looked up and adopted).
    async fn ensure_bus(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        let bus = self.bus();
        let tags = naming::tags(&self.suffix, &bus);
        let (events, b, region, tags) = (self.events.as_ref(), bus.as_str(), self.region.as_str(), &tags);
        ctx.ensure::<String>(&KEY_BUS, b, Rule::Name)
            .find_one(move |_recorded| async move {
                Ok(events.describe_event_bus(b).await?.filter(|arn| is_stack_arn(arn, region, &format!("event-bus/{b}"))))
            })
            .create(move |_token| async move { events.create_event_bus(b, tags.clone()).await })
            .id(|arn| arn.clone())
            .run()
            .await
    }

    /// The rule, with [`Rule::Name`] (PutRule is an upsert); its pattern and state put again
    /// through [`Ctx::update`] only when they differ.
    async fn ensure_rule(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        let (bus, rule) = (self.bus(), self.rule());
        let tags = naming::tags(&self.suffix, &rule);
        let (events, b, r, tags) = (self.events.as_ref(), bus.as_str(), rule.as_str(), &tags);
        let put = move || events.put_rule(r, b, MATCH_ALL_PATTERN, "Every event of the bus to the event processor", tags.clone());
        let info = ctx
            .ensure::<RuleInfo>(&KEY_RULE, r, Rule::Name)
            .find_one(move |_recorded| async move { Ok(events.describe_rule(r, b).await?.filter(|i| i.name == r)) })
            .create(move |_token| async move {
                let arn = put().await?;
                Ok(RuleInfo { name: r.to_string(), arn, event_pattern: Some(MATCH_ALL_PATTERN.to_string()), state: "ENABLED".into(), ..Default::default() })
            })
            .id(|i| i.arn.clone())
            .run()
            .await?;
        if same_pattern(info.event_pattern.as_deref(), MATCH_ALL_PATTERN) && info.state == "ENABLED" {
            return Ok(info.arn);
        }
        ctx.update(&KEY_RULE, || async { retry(put).await.at(r, &self.region) }).await
    }

    /// The processor target of the rule ([`ensure_target`]).
    async fn ensure_target(&self, ctx: &Ctx, processor_arn: &str) -> Result<(), ComponentError> {
        ensure_target(ctx, self.events.as_ref(), &KEY_TARGET, &self.bus(), &self.rule(), TARGET_ID, processor_arn, &self.region).await
    }

    /// The processor's invoke permission for the rule ([`ensure_invoke_permission`]).
    async fn ensure_permission(&self, ctx: &Ctx, processor: &str, rule_arn: &str) -> Result<(), ComponentError> {
        ensure_invoke_permission(ctx, self.lambda.as_ref(), &KEY_PERMISSION, processor, &self.rule(), EVENTS_PRINCIPAL, rule_arn, &self.region)
            .await
    }
}

/// Target `target_id` → `arn` of rule `rule` on `bus`, journaled under `key` with
/// [`Rule::Name`] (its id is unique on the rule; PutTargets is an upsert); pointed again
/// through [`Ctx::update`] when it points elsewhere.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn ensure_target(
    ctx: &Ctx,
    events: &dyn EventsApi,
    key: &Key,
    bus: &str,
    rule: &str,
    target_id: &str,
    arn: &str,
    region: &str,
) -> Result<(), ComponentError> {
    let id = format!("{rule}/{target_id}");
    let (b, r, id) = (bus, rule, id.as_str());
    let target = ctx
        .ensure::<TargetInfo>(key, id, Rule::Name)
        .find_one(move |_recorded| async move { Ok(events.list_targets(r, b).await?.into_iter().find(|t| t.id == target_id)) })
        .create(move |_token| async move {
            events.put_target(r, b, target_id, arn).await?;
            Ok(TargetInfo { id: target_id.to_string(), arn: arn.to_string() })
        })
        .id(move |_| id.to_string())
        .run()
        .await?;
    if target.arn != arn {
        ctx.update(key, || async { retry(|| events.put_target(r, b, target_id, arn)).await.at(r, region) }).await?;
    }
    Ok(())
}

/// `principal`'s permission to invoke `function` from `source_arn` only, statement id
/// `sid`, journaled under `key` with [`Rule::Name`] (the statement id is unique in the
/// function's policy; "already exists" after a lost answer: looked up and adopted); replaced
/// through [`Ctx::update`] when its source is another ARN.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn ensure_invoke_permission(
    ctx: &Ctx,
    lambda: &dyn LambdaApi,
    key: &Key,
    function: &str,
    sid: &str,
    principal: &str,
    source_arn: &str,
    region: &str,
) -> Result<(), ComponentError> {
    let id = format!("{function}/{sid}");
    let s = sid;
    let add = move || retry_only(move || lambda.add_permission(function, s, principal, source_arn), is_busy);
    let statement = ctx
        .ensure::<Statement>(key, &id, Rule::Name)
        .find_one(move |_recorded| async move {
            let policy = lambda.get_policy(function).await?;
            Ok(policy
                .filter(|p| policy_has_sid(p, s))
                .map(|p| Statement { from_rule: policy_has_statement(&p, s, source_arn) }))
        })
        .create(move |_token| async move { add().await.map(|()| Statement { from_rule: true }) })
        .id(|_| id.clone())
        .run()
        .await?;
    if !statement.from_rule {
        // Same statement id, other source: replace it.
        ctx.update(key, || async {
            ignore_not_found(retry(|| lambda.remove_permission(function, s)).await).at(function, region)?;
            match retry_if(add, is_busy).await {
                // Added meanwhile: the lookup of the next run checks its source.
                Err(e) if e.is_conflict() => Ok(()),
                other => other.at(function, region),
            }
        })
        .await?;
    }
    Ok(())
}

/// What the lookup of the invoke permission found: whether the statement allows this rule.
struct Statement {
    from_rule: bool,
}

/// True while Lambda refuses a policy change because another change of the function is in
/// progress (ResourceConflictException that is not "already exists").
fn is_busy(e: &AwsError) -> bool {
    e.is_code("ResourceConflictException") && !e.message.contains("already exists")
}

/// True when `arn` is in `region` and ends with `/<resource>` or `:<resource>` (the names
/// carry the stack's suffix: one of that name in this region is this stack's).
pub(crate) fn is_stack_arn(arn: &str, region: &str, resource: &str) -> bool {
    arn.split(':').nth(3) == Some(region) && arn.rsplit_once(':').is_some_and(|(_, tail)| tail == resource)
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
        // Synchronous EventBridge calls (no asynchronous state).
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
        let (events, b, r) = (self.events.as_ref(), bus.as_str(), rule.as_str());
        ctx.delete(
            &KEY_TARGET,
            r,
            move |_recorded| async move {
                match events.list_targets(r, b).await {
                    Ok(t) => Ok(t.into_iter().map(|t| t.id).collect()),
                    Err(e) if e.is_not_found() => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            },
            move |id| events.remove_targets(r, b, vec![id]),
        )
        .await?;
        ctx.delete(&KEY_RULE, r, |recorded| by_name(recorded, r), move |_| events.delete_rule(r, b)).await?;
        ctx.delete(&KEY_BUS, b, |recorded| by_name(recorded, b), move |_| events.delete_event_bus(b)).await?;

        // The permission lives on the processor function (destroyed after this component).
        let processor = naming::name("processor", self.placement, &self.suffix);
        let (lambda, p) = (self.lambda.as_ref(), processor.as_str());
        ctx.delete(&KEY_PERMISSION, p, |recorded| by_name(recorded, r), move |_| lambda.remove_permission(p, r)).await?;
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
    use tandem_clients::events::{MockEventsApi, RuleInfo, TargetInfo};
    use tandem_clients::lambda::MockLambdaApi;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::state::{ComponentState, Op, ResourceStatus};
    use tandem_core::Config;

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
                ..Default::default()
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

    /// EventBridge and Lambda whose bus and permission exist only once their create acted;
    /// each create acts and then answers `lost` (the answer never arrived), and answers
    /// "already exists" when sent again. Rule and target are upserts and answer normally.
    /// Returns the mocks and how many buses / statements exist.
    fn world_losing_answers(lost: AwsError) -> (MockEventsApi, MockLambdaApi, Arc<std::sync::Mutex<(u32, u32)>>) {
        let made: Arc<std::sync::Mutex<(u32, u32)>> = Arc::default();
        let mut events = MockEventsApi::new();
        let seen = made.clone();
        events.expect_describe_event_bus().returning(move |_| Ok((seen.lock().unwrap().0 > 0).then(|| bus_arn("us-east-1"))));
        let acted = made.clone();
        let answer = lost.clone();
        events.expect_create_event_bus().returning(move |n, _| {
            let mut m = acted.lock().unwrap();
            if m.0 > 0 {
                return Err(AwsError::other("ResourceAlreadyExistsException", format!("Event bus {n} already exists.")));
            }
            m.0 += 1;
            Err(answer.clone())
        });
        events.expect_describe_rule().returning(|_, _| Ok(None));
        events.expect_put_rule().returning(|_, _, _, _, _| Ok(rule_arn("us-east-1", "primary")));
        events.expect_list_targets().returning(|_, _| Ok(vec![]));
        events.expect_put_target().returning(|_, _, _, _| Ok(()));
        let mut lambda = MockLambdaApi::new();
        let seen = made.clone();
        lambda.expect_get_policy().returning(move |_| Ok((seen.lock().unwrap().1 > 0).then(|| policy("us-east-1", "primary"))));
        let acted = made.clone();
        lambda.expect_add_permission().returning(move |_, sid, _, _| {
            let mut m = acted.lock().unwrap();
            if m.1 > 0 {
                return Err(AwsError::other("ResourceConflictException", format!("The statement id ({sid}) provided already exists.")));
            }
            m.1 += 1;
            Err(lost.clone())
        });
        (events, lambda, made)
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_are_adopted_one_resource_each() {
        for lost in [
            AwsError::new("InternalException", "x", Some(500)),
            AwsError::throttling(),
            AwsError::other("ResourceAlreadyExistsException", "already exists"),
        ] {
            let (events, lambda, made) = world_losing_answers(lost.clone());
            let c = ctx(Placement::Primary);
            component(Placement::Primary, events, lambda).apply(&c).await.unwrap_or_else(|e| panic!("{lost}: {e}"));
            assert_eq!(*made.lock().unwrap(), (1, 1), "{lost}: one bus, one statement");
            let j = c.journal_entries().await;
            assert_eq!((j["bus"].status, j["bus"].id.as_deref()), (ResourceStatus::Done, Some(bus_arn("us-east-1").as_str())), "{lost}");
            assert_eq!(j["permission"].status, ResourceStatus::Done, "{lost}");
            assert_eq!(j["permission"].id.as_deref(), Some("processor-primary-dev/events-primary-dev"), "{lost}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_run_adopts_what_an_interrupted_run_created() {
        let (events, lambda, made) = world_losing_answers(AwsError::throttling());
        // The interrupted run created bus and statement but journaled neither answer.
        *made.lock().unwrap() = (1, 1);
        let comp = component(Placement::Primary, events, lambda);
        let c = ctx(Placement::Primary).with_prior(crate::interrupted_state(&comp, &["bus", "permission"]));
        comp.apply(&c).await.unwrap();
        assert_eq!(*made.lock().unwrap(), (1, 1));
        let j = c.journal_entries().await;
        assert_eq!((j["bus"].status, j["bus"].op), (ResourceStatus::Done, Op::Adopt));
        assert_eq!((j["permission"].status, j["permission"].op), (ResourceStatus::Done, Op::Adopt));
    }

    #[test]
    fn pattern_matches_all_events() {
        let p: serde_json::Value = serde_json::from_str(MATCH_ALL_PATTERN).unwrap();
        assert_eq!(p, json!({"source": [{"prefix": ""}]}));
    }
}
