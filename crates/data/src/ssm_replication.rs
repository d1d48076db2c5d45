//! `parameter-replication`: keeps the secondary region's parameters in sync after `apply`
//! exits. An EventBridge rule `ssm-replication-{s}` on the primary region's default bus
//! (where `aws.ssm` events land) matches Parameter Store changes under `/tandem/<s>/`:
//!
//! ```json
//! {"source": ["aws.ssm"], "detail-type": ["Parameter Store Change"],
//!  "detail": {"operation": ["Create", "Update", "Delete"], "name": [{"prefix": "/tandem/<s>/"}]}}
//! ```
//!
//! and targets the SSM replicator Lambda (built by the compute crate), which is allowed to be
//! invoked by `events.amazonaws.com` for this rule's ARN only.
//!
//! Create: PutRule → AddPermission → PutTargets (the permission exists before the first
//! event can arrive). Destroy: RemoveTargets → DeleteRule → RemovePermission.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{ignore_not_found, retry, AwsContext};
use tandem_core::contracts::{ids, FunctionsOutputs, ParameterReplicationOutputs, ParametersOutputs};
use tandem_core::iam::same_json;
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Outputs,
    Placement, Rule,
};

use tandem_clients::events::{EventsApi, RuleInfo, DEFAULT_BUS};
use tandem_clients::lambda::LambdaApi;

/// Journal keys.
mod keys {
    use tandem_core::Key;
    pub const RULE: Key = Key::new("rule");
    pub const PERMISSION: Key = Key::new("permission");
    pub const TARGET: Key = Key::new("target");
}

/// How long PutTargets is sent again while the fresh rule is not visible (NotFound).
const RULE_VISIBLE_WAIT: Duration = Duration::from_secs(60);

/// Id of the rule's target.
pub const TARGET_ID: &str = "ssm-replicator";
/// Service principal allowed to invoke the replicator.
pub const EVENTS_PRINCIPAL: &str = "events.amazonaws.com";

/// The `parameter-replication` component (EventBridge and Lambda clients of the primary).
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let sdk = aws.config(&cfg.primary_region);
    vec![Arc::new(ParameterReplication::new(
        cfg,
        Arc::new(aws_sdk_eventbridge::Client::new(&sdk)),
        Arc::new(aws_sdk_lambda::Client::new(&sdk)),
    ))]
}

/// The rule's event pattern for parameters under `path`.
pub fn event_pattern(path: &str) -> String {
    json!({
        "source": ["aws.ssm"],
        "detail-type": ["Parameter Store Change"],
        "detail": {
            "operation": ["Create", "Update", "Delete"],
            "name": [{ "prefix": path }]
        }
    })
    .to_string()
}

/// Does the function policy hold statement `sid` granting `principal` invoke for `source_arn`?
fn policy_grants(policy: &str, sid: &str, principal: &str, source_arn: &str) -> Option<bool> {
    let doc: serde_json::Value = serde_json::from_str(policy).ok()?;
    let statements = doc.get("Statement")?.as_array()?;
    let st = statements.iter().find(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid))?;
    let service_ok = match st.pointer("/Principal/Service") {
        Some(serde_json::Value::String(s)) => s == principal,
        Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(principal)),
        _ => false,
    };
    let arn_ok = st
        .get("Condition")
        .and_then(|c| c.as_object())
        .map(|c| {
            c.values().any(|ops| {
                ops.as_object().is_some_and(|o| {
                    o.iter().any(|(k, v)| k.eq_ignore_ascii_case("AWS:SourceArn") && v.as_str() == Some(source_arn))
                })
            })
        })
        .unwrap_or(false);
    Some(service_ok && arn_ok)
}

/// `parameter-replication`: EventBridge rule → SSM replicator Lambda.
pub struct ParameterReplication {
    region: String,
    suffix: String,
    rule_name: String,
    events: Arc<dyn EventsApi>,
    lambda: Arc<dyn LambdaApi>,
}

impl ParameterReplication {
    pub fn new(cfg: &Config, events: Arc<dyn EventsApi>, lambda: Arc<dyn LambdaApi>) -> Self {
        Self {
            region: cfg.primary_region.clone(),
            suffix: cfg.environment_suffix.clone(),
            rule_name: naming::name("ssm-replication", Placement::Global, &cfg.environment_suffix),
            events,
            lambda,
        }
    }

    /// The rule name (also the permission's statement id).
    pub fn rule_name(&self) -> &str {
        &self.rule_name
    }

    fn path(&self, ctx: &Ctx) -> String {
        ctx.input_opt::<ParametersOutputs>(ids::PARAMETERS)
            .map(|p| p.path)
            .unwrap_or_else(|| naming::parameter_path(&self.suffix))
    }

    /// The replicator's ARN: from the input, else from the journal (destroy after the input
    /// is gone).
    async fn function_arn(&self, ctx: &Ctx) -> Option<String> {
        if let Some(f) = ctx.input_opt::<FunctionsOutputs>(&ids::functions(Placement::Primary)) {
            return Some(f.replicator_function_arn);
        }
        ctx.recorded_id(&keys::PERMISSION).await.and_then(|id| id.split_once('#').map(|(f, _)| f.to_string()))
    }

    /// The rule, [`Rule::Name`]: PutRule creates or updates the rule of that name (the name
    /// carries the stack's suffix), so a lost answer is settled by the lookup. A rule whose
    /// pattern or state drifted is put again in place.
    async fn ensure_rule(&self, ctx: &Ctx, pattern: &str) -> Result<String, ComponentError> {
        let (ev, n, r) = (&self.events, self.rule_name.as_str(), self.region.as_str());
        let description = format!("Replicates SSM parameters under {} to the secondary region", self.path(ctx));
        let (description, tags) = (description.as_str(), naming::tags(&self.suffix, n));
        let tags = &tags;
        let rule = ctx
            .ensure::<RuleInfo>(&keys::RULE, n, Rule::Name)
            .find_one(move |_recorded| async move { ev.describe_rule(n, DEFAULT_BUS).await })
            .create(move |_token| async move {
                tracing::info!(rule = n, region = r, "creating rule");
                let arn = ev.put_rule(n, DEFAULT_BUS, pattern, description, tags.clone()).await?;
                Ok(RuleInfo { name: n.to_string(), arn, event_pattern: Some(pattern.to_string()), state: "ENABLED".into(), ..Default::default() })
            })
            .id(|rule| rule.arn.clone())
            .run()
            .await?;
        if rule.state == "ENABLED" && rule.event_pattern.as_deref().is_some_and(|p| same_json(p, pattern)) {
            return Ok(rule.arn);
        }
        tracing::info!(rule = n, region = r, "updating rule pattern/state");
        ctx.update(&keys::RULE, || async {
            retry(|| ev.put_rule(n, DEFAULT_BUS, pattern, description, tags.clone())).await.at(n, r)
        })
        .await
    }

    /// The invoke permission, [`Rule::Name`]: its statement id is the rule's name. AddPermission
    /// answers `ResourceConflictException` when the statement exists (a lost answer): the
    /// core looks it up in the function's policy and adopts it. A statement of that id that
    /// grants another principal or source is deleted first.
    async fn ensure_permission(&self, ctx: &Ctx, function: &str, rule_arn: &str) -> Result<(), ComponentError> {
        let (l, sid, r) = (&self.lambda, self.rule_name.as_str(), self.region.as_str());
        let id = format!("{function}#{sid}");
        let grants = move || async move {
            let policy = l.get_policy(function).await?;
            Ok::<_, AwsError>(policy.as_deref().and_then(|p| policy_grants(p, sid, EVENTS_PRINCIPAL, rule_arn)))
        };
        if retry(grants).await.at(function, r)? == Some(false) {
            // Same statement id, wrong principal or source: replace it.
            let stale = id.clone();
            ctx.delete(
                &keys::PERMISSION,
                function,
                move |_recorded| {
                    let stale = stale.clone();
                    async move { Ok(vec![stale]) }
                },
                |_| async move { l.remove_permission(function, sid).await },
            )
            .await?;
        }
        let id = id.as_str();
        ctx.ensure::<String>(&keys::PERMISSION, function, Rule::Name)
            .find_one(move |_recorded| async move { Ok((grants().await? == Some(true)).then(|| id.to_string())) })
            .create(move |_token| async move { l.add_permission(function, sid, EVENTS_PRINCIPAL, rule_arn).await.map(|()| id.to_string()) })
            .id(|id| id.clone())
            .run()
            .await?;
        Ok(())
    }

    /// The rule's target, [`Rule::Name`]: PutTargets creates or replaces the target of that id.
    async fn ensure_target(&self, ctx: &Ctx, function: &str) -> Result<(), ComponentError> {
        let (ev, n) = (&self.events, self.rule_name.as_str());
        let id = format!("{n}#{TARGET_ID}");
        let id = id.as_str();
        ctx.ensure::<String>(&keys::TARGET, n, Rule::Name)
            .find_one(move |_recorded| async move {
                let targets = ev.list_targets(n, DEFAULT_BUS).await?;
                Ok(targets.iter().any(|t| t.id == TARGET_ID && t.arn == function).then(|| id.to_string()))
            })
            .create(move |_token| async move {
                // A fresh rule may not be visible yet (NotFound); PutTargets is an upsert.
                crate::until_accepted(RULE_VISIBLE_WAIT, || ev.put_target(n, DEFAULT_BUS, TARGET_ID, function), AwsError::is_not_found)
                    .await
                    .map(|()| id.to_string())
            })
            .id(|id| id.clone())
            .run()
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Component for ParameterReplication {
    fn id(&self) -> &str {
        ids::PARAMETER_REPLICATION
    }
    fn kind(&self) -> &'static str {
        "eventbridge-rule"
    }
    fn placement(&self) -> Placement {
        Placement::Primary
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        vec![ids::functions(Placement::Primary), ids::PARAMETERS.to_string()]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::ParameterReplicationOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Synchronous EventBridge PutRule / PutTargets and a Lambda permission.
        Duration::from_secs(10)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "rule": self.rule_name, "region": self.region }),
            json!({
                "event_pattern": event_pattern(&naming::parameter_path(&self.suffix)),
                "target": TARGET_ID,
                "permission": { "principal": EVENTS_PRINCIPAL, "action": "lambda:InvokeFunction" },
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = "parameter-replication", region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let functions: FunctionsOutputs = ctx.input(&ids::functions(Placement::Primary))?;
        let function = functions.replicator_function_arn;
        let pattern = event_pattern(&self.path(ctx));
        let rule_arn = self.ensure_rule(ctx, &pattern).await?;
        self.ensure_permission(ctx, &function, &rule_arn).await?;
        self.ensure_target(ctx, &function).await?;
        Ok(to_outputs(&ParameterReplicationOutputs { rule_name: self.rule_name.clone(), rule_arn }))
    }

    #[tracing::instrument(skip_all, fields(component = "parameter-replication", region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (ev, n, r) = (&self.events, self.rule_name.as_str(), self.region.as_str());
        let exists = retry(|| ev.describe_rule(n, DEFAULT_BUS)).await.at(n, r)?.is_some();
        let live = move |id: String| move |_recorded: Option<String>| {
            let id = id.clone();
            async move { Ok(if exists { vec![id] } else { Vec::new() }) }
        };
        ctx.delete(&keys::TARGET, n, live(format!("{n}#{TARGET_ID}")), |_| async move {
            ignore_not_found(ev.remove_targets(n, DEFAULT_BUS, vec![TARGET_ID.to_string()]).await)
        })
        .await?;
        ctx.delete(&keys::RULE, n, live(n.to_string()), |_| async move { ev.delete_rule(n, DEFAULT_BUS).await }).await?;
        if let Some(function) = self.function_arn(ctx).await {
            let (l, f) = (&self.lambda, function.as_str());
            ctx.delete(
                &keys::PERMISSION,
                f,
                move |_recorded| async move { Ok(vec![format!("{f}#{n}")]) },
                |_| async move { l.remove_permission(f, n).await },
            )
            .await?;
        }
        ctx.forget(&keys::PERMISSION).await?;
        Ok(())
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let (ev, n, r) = (&self.events, self.rule_name.as_str(), self.region.as_str());
        let Some(rule) = retry(|| ev.describe_rule(n, DEFAULT_BUS)).await.at(n, r)? else {
            return Ok(Drift::Missing { details: vec![format!("rule {n} does not exist in {r}")] });
        };
        let mut details = Vec::new();
        if rule.state != "ENABLED" {
            details.push(format!("rule {n} is {}", rule.state));
        }
        if !rule.event_pattern.as_deref().is_some_and(|p| same_json(p, &event_pattern(&self.path(ctx)))) {
            details.push(format!("rule {n} has a different event pattern"));
        }
        if let Some(function) = self.function_arn(ctx).await {
            let targets = retry(|| ev.list_targets(n, DEFAULT_BUS)).await.at(n, r)?;
            if !targets.iter().any(|t| t.id == TARGET_ID && t.arn == function) {
                details.push(format!("rule {n} does not target {function}"));
            }
            let policy = retry(|| self.lambda.get_policy(&function)).await.at(&function, r)?;
            if policy.as_deref().and_then(|p| policy_grants(p, n, EVENTS_PRINCIPAL, &rule.arn)) != Some(true) {
                details.push(format!("{function} does not allow {EVENTS_PRINCIPAL} to invoke it for {n}"));
            }
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::Sequence;
    use tandem_clients::events::{MockEventsApi, TargetInfo};
    use tandem_clients::lambda::MockLambdaApi;
    use tandem_core::state::ComponentState;

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:replicator-primary-t1";
    const RULE_ARN: &str = "arn:aws:events:us-east-1:123456789012:rule/ssm-replication-t1";

    fn functions() -> FunctionsOutputs {
        FunctionsOutputs {
            api_function_name: "api-primary-t1".into(),
            api_function_arn: "a".into(),
            processor_function_name: "processor-primary-t1".into(),
            processor_function_arn: "p".into(),
            replicator_function_name: "replicator-primary-t1".into(),
            replicator_function_arn: FN.into(),
            code_sha256: "x".into(),
        }
    }

    fn ctx() -> Ctx {
        Ctx::standalone("parameter-replication", "us-east-1").with_input("functions-primary", &functions()).with_input(
            "parameters",
            &ParametersOutputs { path: "/tandem/t1/".into(), names: vec![], api_key_parameter: "/tandem/t1/api-key".into(), api_key_sha256_parameter: "/tandem/t1/api-key-sha256".into() },
        )
    }

    fn policy() -> String {
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "ssm-replication-t1", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": FN,
            "Condition": {"ArnLike": {"AWS:SourceArn": RULE_ARN}}
        }]})
        .to_string()
    }

    fn component(ev: MockEventsApi, l: MockLambdaApi) -> ParameterReplication {
        ParameterReplication::new(&Config::example("t1"), Arc::new(ev), Arc::new(l))
    }

    #[test]
    fn pattern_matches_the_spec() {
        let p: serde_json::Value = serde_json::from_str(&event_pattern("/tandem/t1/")).unwrap();
        assert_eq!(p["source"], json!(["aws.ssm"]));
        assert_eq!(p["detail-type"], json!(["Parameter Store Change"]));
        assert_eq!(p["detail"]["operation"], json!(["Create", "Update", "Delete"]));
        assert_eq!(p["detail"]["name"], json!([{"prefix": "/tandem/t1/"}]));
    }

    #[tokio::test]
    async fn create_order_rule_permission_target() {
        let mut ev = MockEventsApi::new();
        let mut l = MockLambdaApi::new();
        let mut seq = Sequence::new();
        ev.expect_describe_rule()
            .withf(|n, bus| n == "ssm-replication-t1" && bus == DEFAULT_BUS)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(None));
        ev.expect_put_rule()
            .withf(|n, bus, p, _, tags| n == "ssm-replication-t1" && bus == DEFAULT_BUS && same_json(p, &event_pattern("/tandem/t1/")) && tags.iter().any(|(k, _)| k == "tandem:stack"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _, _| Ok(RULE_ARN.into()));
        // The drift check, then the lookup.
        l.expect_get_policy().times(2).in_sequence(&mut seq).returning(|_| Ok(None));
        l.expect_add_permission()
            .withf(|f, sid, principal, src| f == FN && sid == "ssm-replication-t1" && principal == "events.amazonaws.com" && src == RULE_ARN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        ev.expect_list_targets()
            .withf(|rule, bus| rule == "ssm-replication-t1" && bus == DEFAULT_BUS)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vec![]));
        ev.expect_put_target()
            .withf(|rule, bus, id, arn| rule == "ssm-replication-t1" && bus == DEFAULT_BUS && id == TARGET_ID && arn == FN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        let c = component(ev, l);
        let ctx = ctx();
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["rule_name"], "ssm-replication-t1");
        assert_eq!(out["rule_arn"], RULE_ARN);
        assert_eq!(ctx.recorded_id(&keys::PERMISSION).await, Some(format!("{FN}#ssm-replication-t1")));
    }

    #[tokio::test]
    async fn apply_over_existing_setup_makes_no_mutating_call() {
        let mut ev = MockEventsApi::new();
        let mut l = MockLambdaApi::new();
        ev.expect_describe_rule().returning(|_, _| {
            Ok(Some(RuleInfo { arn: RULE_ARN.into(), event_pattern: Some(event_pattern("/tandem/t1/")), state: "ENABLED".into(), ..Default::default() }))
        });
        l.expect_get_policy().returning(|_| Ok(Some(policy())));
        ev.expect_list_targets().returning(|_, _| Ok(vec![TargetInfo::new(TARGET_ID, FN)]));
        let c = component(ev, l);
        let prior = ComponentState::new("eventbridge-rule", Placement::Primary, "us-east-1").with_resource("rule", RULE_ARN);
        let ctx = ctx().with_prior(prior);
        c.apply(&ctx).await.unwrap();
        assert_eq!(c.read(&ctx).await.unwrap(), Drift::InSync);
    }

    #[tokio::test]
    async fn permission_for_another_source_is_replaced() {
        let mut ev = MockEventsApi::new();
        let mut l = MockLambdaApi::new();
        let mut seq = Sequence::new();
        ev.expect_describe_rule().returning(|_, _| {
            Ok(Some(RuleInfo { arn: RULE_ARN.into(), event_pattern: Some(event_pattern("/tandem/t1/")), state: "ENABLED".into(), ..Default::default() }))
        });
        l.expect_get_policy()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(policy().replace(RULE_ARN, "arn:aws:events:us-east-1:1:rule/other"))));
        l.expect_remove_permission().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        l.expect_get_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        l.expect_add_permission().times(1).in_sequence(&mut seq).returning(|_, _, _, _| Ok(()));
        ev.expect_list_targets().returning(|_, _| Ok(vec![TargetInfo::new(TARGET_ID, FN)]));
        component(ev, l).apply(&ctx()).await.unwrap();
    }

    #[tokio::test]
    async fn destroy_order_targets_rule_permission() {
        let mut ev = MockEventsApi::new();
        let mut l = MockLambdaApi::new();
        let mut seq = Sequence::new();
        ev.expect_describe_rule()
            .withf(|n, bus| n == "ssm-replication-t1" && bus == DEFAULT_BUS)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(Some(RuleInfo { arn: RULE_ARN.into(), event_pattern: None, state: "ENABLED".into(), ..Default::default() })));
        ev.expect_remove_targets()
            .withf(|r, bus, ids| r == "ssm-replication-t1" && bus == DEFAULT_BUS && ids == &vec![TARGET_ID.to_string()])
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        ev.expect_delete_rule()
            .withf(|n, bus| n == "ssm-replication-t1" && bus == DEFAULT_BUS)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        l.expect_remove_permission()
            .withf(|f, sid| f == FN && sid == "ssm-replication-t1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let c = component(ev, l);
        let prior = ComponentState::new("eventbridge-rule", Placement::Primary, "us-east-1").with_resource("rule", RULE_ARN);
        let ctx = ctx().with_prior(prior);
        c.destroy(&ctx).await.unwrap();
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn second_destroy_and_not_found_are_success() {
        let mut ev = MockEventsApi::new();
        let mut l = MockLambdaApi::new();
        ev.expect_describe_rule().returning(|_, _| Ok(None));
        l.expect_remove_permission()
            .returning(|_, _| Err(AwsError::not_found("ResourceNotFoundException", "no policy")));
        let c = component(ev, l);
        c.destroy(&ctx()).await.unwrap();
        c.destroy(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_put_rule_is_retried_and_errors_name_rule_and_region() {
        let mut ev = MockEventsApi::new();
        let mut seq = Sequence::new();
        ev.expect_describe_rule().returning(|_, _| Ok(None));
        ev.expect_put_rule().times(1).in_sequence(&mut seq).returning(|_, _, _, _, _| Err(AwsError::throttling()));
        ev.expect_put_rule().times(1).in_sequence(&mut seq).returning(|_, _, _, _, _| Ok(RULE_ARN.into()));
        let mut l = MockLambdaApi::new();
        l.expect_get_policy().returning(|_| Err(AwsError::other("AccessDeniedException", "no")));
        let msg = component(ev, l).apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains("replicator-primary-t1") && msg.contains("us-east-1") && msg.contains("AccessDeniedException"), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn lost_answers_of_rule_permission_and_target_are_adopted_with_one_call_each() {
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        let (rule, perm, target) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let calls = Arc::new(AtomicU32::new(0));
        let mut ev = MockEventsApi::new();
        let mut l = MockLambdaApi::new();
        let r = rule.clone();
        ev.expect_describe_rule().returning(move |_, _| {
            Ok(r.load(Ordering::SeqCst).then(|| RuleInfo {
                arn: RULE_ARN.into(),
                event_pattern: Some(event_pattern("/tandem/t1/")),
                state: "ENABLED".into(),
                ..Default::default()
            }))
        });
        let (r, c) = (rule.clone(), calls.clone());
        ev.expect_put_rule().returning(move |_, _, _, _, _| {
            c.fetch_add(1, Ordering::SeqCst);
            r.store(true, Ordering::SeqCst);
            Err(AwsError::new("InternalException", "answer lost", Some(500)))
        });
        let p = perm.clone();
        l.expect_get_policy().returning(move |_| Ok(p.load(Ordering::SeqCst).then(policy)));
        let (p, c) = (perm.clone(), calls.clone());
        l.expect_add_permission().returning(move |_, _, _, _| {
            c.fetch_add(1, Ordering::SeqCst);
            // Sent twice (the SDK retried a lost answer): AWS says the statement exists.
            if p.swap(true, Ordering::SeqCst) {
                return Err(AwsError::other("ResourceConflictException", "The statement id provided already exists"));
            }
            Err(AwsError::new("ServiceException", "answer lost", Some(503)))
        });
        let t = target.clone();
        ev.expect_list_targets().returning(move |_, _| Ok(if t.load(Ordering::SeqCst) { vec![TargetInfo::new(TARGET_ID, FN)] } else { vec![] }));
        let (t, c) = (target.clone(), calls.clone());
        ev.expect_put_target().returning(move |_, _, _, _| {
            c.fetch_add(1, Ordering::SeqCst);
            t.store(true, Ordering::SeqCst);
            Err(AwsError::new("InternalException", "answer lost", Some(500)))
        });
        let c = component(ev, l);
        let ctx = ctx();
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["rule_arn"], RULE_ARN);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(ctx.recorded_id(&keys::RULE).await.as_deref(), Some(RULE_ARN));
        assert_eq!(ctx.recorded_id(&keys::PERMISSION).await, Some(format!("{FN}#ssm-replication-t1")));
        assert_eq!(ctx.recorded_id(&keys::TARGET).await.as_deref(), Some("ssm-replication-t1#ssm-replicator"));
        // A second apply makes no call that mutates.
        c.apply(&ctx).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn resource_conflict_on_add_permission_is_looked_up_and_adopted() {
        let mut ev = MockEventsApi::new();
        let mut l = MockLambdaApi::new();
        let mut seq = Sequence::new();
        ev.expect_describe_rule().returning(|_, _| {
            Ok(Some(RuleInfo { arn: RULE_ARN.into(), event_pattern: Some(event_pattern("/tandem/t1/")), state: "ENABLED".into(), ..Default::default() }))
        });
        l.expect_get_policy().times(2).in_sequence(&mut seq).returning(|_| Ok(None));
        l.expect_add_permission()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Err(AwsError::other("ResourceConflictException", "exists")));
        l.expect_get_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(policy())));
        ev.expect_list_targets().returning(|_, _| Ok(vec![TargetInfo::new(TARGET_ID, FN)]));
        let ctx = ctx();
        component(ev, l).apply(&ctx).await.unwrap();
        let e = ctx.entry(&keys::PERMISSION).await.unwrap();
        assert_eq!(e.status, tandem_core::state::ResourceStatus::Done);
    }

    #[test]
    fn policy_parsing() {
        assert_eq!(policy_grants(&policy(), "ssm-replication-t1", EVENTS_PRINCIPAL, RULE_ARN), Some(true));
        assert_eq!(policy_grants(&policy(), "ssm-replication-t1", EVENTS_PRINCIPAL, "other"), Some(false));
        assert_eq!(policy_grants(&policy(), "nope", EVENTS_PRINCIPAL, RULE_ARN), None);
    }
}
