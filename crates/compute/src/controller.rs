//! `failover-controller` (secondary region, `../shared/DR.md` "The failover controller"):
//! the two Lambda functions of the controller and the probe's schedule.
//!
//! - `probe-secondary-{s}` (`TANDEM_HANDLER=probe`, 30 s timeout): every minute (EventBridge
//!   schedule rule `probe-schedule-{s}` on the secondary's default bus, `rate(1 minute)`)
//!   it calls the primary's regional API `/health` and the primary NLB, publishes
//!   `Tandem/Failover PrimaryHealthy` and the decision input `PrimaryDown`, and re-invokes
//!   the failover handler while the decision alarm stays in ALARM.
//! - `failover-secondary-{s}` (`TANDEM_HANDLER=failover`, 300 s timeout, reserved concurrency
//!   1, asynchronous events older than 5 minutes dropped, one retry): invoked by the decision
//!   alarm (`lambda.alarms.cloudwatch.amazonaws.com`, restricted to that alarm's ARN) and by
//!   the probe; re-checks and runs `FailoverGlobalCluster` (see `lambda/README.md`).
//!
//! Both run the stack's one Lambda package and log to `/aws/lambda/<fn>` (30 days). Their
//! roles (`lambda-probe-{s}`, `lambda-failover-{s}`) come from `lambda-roles`. Their
//! environment is built only from the outputs of the components that created the targets
//! (the primary API and NLB, both Aurora clusters, the secondary alert topic).
//!
//! Reserved concurrency: an account whose concurrency quota leaves less than 10 unreserved
//! executions refuses any reservation (new accounts have a quota of 10). Then the function
//! runs unreserved (the handler is idempotent: a second failover call answers "invalid
//! state", which it treats as under way), and a warning is logged; the rest applies.
//!
//! Resource protocol: every resource is ensured with [`Rule::Name`] (unique names carrying
//! the suffix; a lost answer is settled by the lookup). Destroy: schedule target, rule, the
//! two permissions, the functions, the log groups.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{ignore_not_found, retry};
use tandem_core::contracts::{
    failover_alarms, ids, AlertsOutputs, ApiOutputs, AuroraOutputs, ControllerOutputs, LambdaRolesOutputs, LoadBalancerOutputs,
};
use tandem_core::{naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Outputs, Placement, Rule};

use crate::events::{ensure_invoke_permission, ensure_target};
use crate::functions::{by_name, ensure_function, ensure_log_group, log_group_name, LOG_RETENTION_DAYS, MEMORY_MB};
use crate::iam::function_name;
use crate::logs_api::LogsApi;
use crate::package::{Package, ARCHITECTURE, BOOTSTRAP, RUNTIME};
use tandem_clients::events::{EventsApi, RuleInfo, DEFAULT_BUS};
use tandem_clients::lambda::{policy_has_statement, FunctionSpec, InvokeLimits, LambdaApi};

/// The probe's schedule.
pub const SCHEDULE: &str = "rate(1 minute)";
/// Probe timeout: two 5 s GETs with one retry each, then CloudWatch, RDS and Lambda calls.
pub const PROBE_TIMEOUT_SECS: i32 = 30;
/// Failover timeout: the handler waits up to `FAILOVER_WAIT_SECS` (120) for the writer to
/// move, then copies the snapshot and alerts.
pub const FAILOVER_TIMEOUT_SECS: i32 = 300;
/// One failover handler at a time.
pub const FAILOVER_RESERVED_CONCURRENCY: i32 = 1;
/// An alarm event older than this is dropped (the probe re-invokes every minute anyway).
pub const FAILOVER_MAX_EVENT_AGE_SECS: i32 = 300;
/// Lambda's own retries of a failed asynchronous invocation.
pub const FAILOVER_MAX_RETRIES: i32 = 1;
/// Principal of CloudWatch alarm Lambda actions.
pub const ALARMS_PRINCIPAL: &str = "lambda.alarms.cloudwatch.amazonaws.com";
/// Principal of EventBridge rule targets.
pub const EVENTS_PRINCIPAL: &str = "events.amazonaws.com";
/// Id of the schedule rule's target.
pub const TARGET_ID: &str = "probe";

mod keys {
    use tandem_core::Key;
    pub const FUNCTION: Key = Key::new("function");
    pub const LOG_GROUP: Key = Key::new("log-group");
    pub const RULE: Key = Key::new("rule");
    pub const TARGET: Key = Key::new("target");
    pub const SCHEDULE_PERMISSION: Key = Key::new("permission-schedule");
    pub const ALARM_PERMISSION: Key = Key::new("permission-alarm");
}

/// What the controller's functions are built from (the dependencies' outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerInputs {
    pub probe_role_arn: String,
    pub failover_role_arn: String,
    /// `https://<execute-api host><health path>` of the primary's regional API.
    pub primary_health_url: String,
    /// The NLB path to the same API (see [`nlb_probe`]).
    pub primary_nlb_url: String,
    pub primary_nlb_address: Option<String>,
    pub global_cluster_id: String,
    pub primary_cluster_arn: String,
    pub secondary_cluster_arn: String,
    pub alert_topic_arn: String,
}

/// The probe's NLB URL and connect address: with a custom domain the NLB forwards TLS to
/// the ALB whose certificate names that domain, so the URL is `https://<domain>/health` and
/// the connection goes to the NLB's address; without one the ALB listens plain HTTP on 443.
pub fn nlb_probe(api: &ApiOutputs, lb: &LoadBalancerOutputs) -> (String, Option<String>) {
    match &api.custom_domain {
        Some(domain) => (format!("https://{domain}/health"), Some(lb.nlb_dns_name.clone())),
        None => (format!("http://{}:443/health", lb.nlb_dns_name), None),
    }
}

/// The failover-controller component.
pub struct Controller {
    suffix: String,
    region: String,
    automatic: bool,
    lambda: Arc<dyn LambdaApi>,
    logs: Arc<dyn LogsApi>,
    events: Arc<dyn EventsApi>,
    package: Package,
}

impl Controller {
    pub fn new(cfg: &Config, lambda: Arc<dyn LambdaApi>, logs: Arc<dyn LogsApi>, events: Arc<dyn EventsApi>, package: Package) -> Self {
        Self {
            suffix: cfg.environment_suffix.clone(),
            region: cfg.secondary_region.clone(),
            automatic: cfg.failover.automatic,
            lambda,
            logs,
            events,
            package,
        }
    }

    /// `probe-secondary-{s}` / `failover-secondary-{s}`.
    pub fn function(&self, kind: &str) -> String {
        function_name(kind, Placement::Secondary, &self.suffix)
    }

    /// `probe-schedule-{s}`.
    pub fn rule_name(&self) -> String {
        naming::name("probe-schedule", Placement::Global, &self.suffix)
    }

    fn inputs(&self, ctx: &Ctx) -> Result<ControllerInputs, ComponentError> {
        let roles: LambdaRolesOutputs = ctx.input(ids::LAMBDA_ROLES)?;
        let api: ApiOutputs = ctx.input(&ids::api(Placement::Primary))?;
        let lb: LoadBalancerOutputs = ctx.input(&ids::load_balancer(Placement::Primary))?;
        let primary: AuroraOutputs = ctx.input(&ids::aurora(Placement::Primary))?;
        let secondary: AuroraOutputs = ctx.input(&ids::aurora(Placement::Secondary))?;
        let alerts: AlertsOutputs = ctx.input(&ids::alerts(Placement::Secondary))?;
        if roles.probe_role_arn.is_empty() || roles.failover_role_arn.is_empty() {
            return Err(ComponentError::invalid(
                ids::CONTROLLER,
                &self.region,
                "lambda-roles has no probe/failover role yet (state of an earlier release): apply lambda-roles first",
            ));
        }
        let (primary_nlb_url, primary_nlb_address) = nlb_probe(&api, &lb);
        Ok(ControllerInputs {
            probe_role_arn: roles.probe_role_arn,
            failover_role_arn: roles.failover_role_arn,
            primary_health_url: format!("https://{}{}", api.execute_api_host, api.health_path),
            primary_nlb_url,
            primary_nlb_address,
            global_cluster_id: primary.global_cluster_id,
            primary_cluster_arn: primary.cluster_arn,
            secondary_cluster_arn: secondary.cluster_arn,
            alert_topic_arn: alerts.topic_arn,
        })
    }

    /// The environment of function `kind` (see `lambda/README.md`).
    pub fn environment(&self, kind: &str, i: &ControllerInputs) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([
            ("TANDEM_HANDLER".to_string(), kind.to_string()),
            ("TANDEM_STACK".to_string(), self.suffix.clone()),
            ("PRIMARY_HEALTH_URL".to_string(), i.primary_health_url.clone()),
            ("PRIMARY_NLB_URL".to_string(), i.primary_nlb_url.clone()),
            ("DECISION_ALARM".to_string(), failover_alarms::decision(&self.suffix)),
            ("GLOBAL_CLUSTER_ID".to_string(), i.global_cluster_id.clone()),
            ("PRIMARY_CLUSTER_ARN".to_string(), i.primary_cluster_arn.clone()),
            ("SECONDARY_CLUSTER_ARN".to_string(), i.secondary_cluster_arn.clone()),
        ]);
        if let Some(a) = &i.primary_nlb_address {
            env.insert("PRIMARY_NLB_ADDRESS".to_string(), a.clone());
        }
        if kind == "probe" {
            env.insert("FAILOVER_FUNCTION".to_string(), self.function("failover"));
        } else {
            env.insert("ALERT_TOPIC_ARN".to_string(), i.alert_topic_arn.clone());
            env.insert("AUTOMATIC".to_string(), self.automatic.to_string());
        }
        env
    }

    /// The desired configuration of function `kind`.
    pub fn spec(&self, kind: &str, i: &ControllerInputs) -> FunctionSpec {
        let name = self.function(kind);
        let (role, timeout) = match kind {
            "probe" => (i.probe_role_arn.clone(), PROBE_TIMEOUT_SECS),
            _ => (i.failover_role_arn.clone(), FAILOVER_TIMEOUT_SECS),
        };
        FunctionSpec {
            tags: naming::tags(&self.suffix, &name).into_iter().collect(),
            name,
            role_arn: role,
            runtime: RUNTIME.to_string(),
            handler: BOOTSTRAP.to_string(),
            architecture: ARCHITECTURE.to_string(),
            memory_mb: MEMORY_MB,
            timeout_secs: timeout,
            environment: self.environment(kind, i),
        }
    }

    /// The failover handler's limits: reserved concurrency 1, short event age, one retry;
    /// put through [`Ctx::update`] only when they differ.
    async fn ensure_limits(&self, ctx: &Ctx, function: &str) -> Result<(), ComponentError> {
        let (l, r) = (self.lambda.as_ref(), self.region.as_str());
        let have = retry(|| l.get_invoke_limits(function)).await.at(function, r)?;
        if have.max_event_age_secs != Some(FAILOVER_MAX_EVENT_AGE_SECS) || have.max_retry_attempts != Some(FAILOVER_MAX_RETRIES) {
            ctx.update(&keys::FUNCTION.child("failover"), || async {
                retry(|| l.put_async_limits(function, FAILOVER_MAX_EVENT_AGE_SECS, FAILOVER_MAX_RETRIES)).await.at(function, r)
            })
            .await?;
        }
        if have.reserved_concurrency != Some(FAILOVER_RESERVED_CONCURRENCY) {
            match retry(|| l.put_reserved_concurrency(function, FAILOVER_RESERVED_CONCURRENCY)).await {
                Ok(()) => {}
                Err(e) if is_concurrency_quota(&e) => {
                    tracing::warn!(function, region = r, error = %e.message,
                        "the account's concurrency quota leaves no room to reserve 1 execution: the failover handler runs unreserved (it is idempotent)");
                }
                Err(e) => return Err(ComponentError::aws(function, r, e)),
            }
        }
        Ok(())
    }

    /// The schedule rule, [`Rule::Name`]; put again through [`Ctx::update`] when its
    /// schedule or state drifted.
    async fn ensure_rule(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        let rule = self.rule_name();
        let (ev, n, r) = (self.events.as_ref(), rule.as_str(), self.region.as_str());
        let description = format!("Tandem {}: runs the failover controller's probe every minute", self.suffix);
        let tags = naming::tags(&self.suffix, n);
        let (d, t) = (description.as_str(), &tags);
        let info = ctx
            .ensure::<RuleInfo>(&keys::RULE, n, Rule::Name)
            .find_one(move |_recorded| async move { ev.describe_rule(n, DEFAULT_BUS).await })
            .create(move |_token| async move {
                let arn = ev.put_schedule_rule(n, SCHEDULE, d, t.clone()).await?;
                Ok(RuleInfo { name: n.to_string(), arn, schedule_expression: Some(SCHEDULE.into()), state: "ENABLED".into(), ..Default::default() })
            })
            .id(|rule| rule.arn.clone())
            .run()
            .await?;
        if info.state == "ENABLED" && info.schedule_expression.as_deref() == Some(SCHEDULE) {
            return Ok(info.arn);
        }
        ctx.update(&keys::RULE, || async { retry(|| ev.put_schedule_rule(n, SCHEDULE, d, t.clone())).await.at(n, r) }).await
    }

    /// Deletes function `kind` and its log group (by name: a function whose create answer
    /// was lost has no recorded ARN).
    async fn delete_function(&self, ctx: &Ctx, kind: &str) -> Result<(), ComponentError> {
        let name = self.function(kind);
        let (lambda, n) = (self.lambda.as_ref(), name.as_str());
        ctx.delete(&keys::FUNCTION.child(kind), n, |recorded| by_name(recorded, n), move |_| lambda.delete_function(n)).await?;
        let group = log_group_name(n);
        let (logs, g) = (self.logs.as_ref(), group.as_str());
        ctx.delete(&keys::LOG_GROUP.child(kind), g, |recorded| by_name(recorded, g), move |_| logs.delete_log_group(g)).await?;
        Ok(())
    }
}

/// True for Lambda's refusal to reserve concurrency below the unreserved minimum.
fn is_concurrency_quota(e: &AwsError) -> bool {
    e.code == "InvalidParameterValueException" && e.message.contains("UnreservedConcurrentExecution")
}

#[async_trait]
impl Component for Controller {
    fn id(&self) -> &str {
        ids::CONTROLLER
    }
    fn kind(&self) -> &'static str {
        "failover-controller"
    }
    fn placement(&self) -> Placement {
        Placement::Secondary
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        vec![
            ids::LAMBDA_ROLES.to_string(),
            ids::api(Placement::Primary),
            ids::load_balancer(Placement::Primary),
            ids::aurora(Placement::Primary),
            ids::aurora(Placement::Secondary),
            ids::alerts(Placement::Secondary),
        ]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<ControllerOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Two functions (IAM propagation retries, then Pending → Active in seconds, as in
        // `functions-*`) and a schedule rule.
        Duration::from_secs(45)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "functions": [self.function("probe"), self.function("failover")], "rule": self.rule_name(), "region": self.region }),
            json!({
                "code_sha256": self.package.sha256,
                "runtime": RUNTIME,
                "architecture": ARCHITECTURE,
                "memory_mb": MEMORY_MB,
                "timeouts": { "probe": PROBE_TIMEOUT_SECS, "failover": FAILOVER_TIMEOUT_SECS },
                "failover_limits": {
                    "reserved_concurrency": FAILOVER_RESERVED_CONCURRENCY,
                    "max_event_age_secs": FAILOVER_MAX_EVENT_AGE_SECS,
                    "max_retries": FAILOVER_MAX_RETRIES,
                },
                "schedule": SCHEDULE,
                "automatic": self.automatic,
                "decision_alarm": failover_alarms::decision(&self.suffix),
                "log_retention_days": LOG_RETENTION_DAYS,
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = ids::CONTROLLER, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        if self.package.is_unbuilt() {
            return Err(ComponentError::invalid(ids::CONTROLLER, &self.region, "no Lambda package was built for this run"));
        }
        let inputs = self.inputs(ctx)?;
        let mut zip = None;
        let mut arns = BTreeMap::new();
        // The failover handler first: the probe's role and environment name it.
        for kind in ["failover", "probe"] {
            ctx.check_cancelled()?;
            let spec = self.spec(kind, &inputs);
            ensure_log_group(ctx, self.logs.as_ref(), &keys::LOG_GROUP.child(kind), &spec.name, &self.suffix, &self.region).await?;
            let arn = ensure_function(ctx, self.lambda.as_ref(), &keys::FUNCTION.child(kind), &spec, &self.package, &self.region, &mut zip).await?;
            arns.insert(kind, arn);
        }
        let (failover_arn, probe_arn) = match (arns.remove("failover"), arns.remove("probe")) {
            (Some(f), Some(p)) => (f, p),
            _ => return Err(ComponentError::invalid(ids::CONTROLLER, &self.region, "expected the probe and failover functions")),
        };
        let failover = self.function("failover");
        self.ensure_limits(ctx, &failover).await?;
        // The decision alarm may invoke the failover handler (the alarm itself is created
        // by `failover-alarms`, after this component; its ARN is known by name).
        let account = crate::iam::account_of(&failover_arn)
            .ok_or_else(|| ComponentError::invalid(&failover, &self.region, format!("unexpected function ARN {failover_arn}")))?
            .to_string();
        let decision = failover_alarms::decision(&self.suffix);
        let alarm_arn = failover_alarms::arn(&self.region, &account, &decision);
        ensure_invoke_permission(ctx, self.lambda.as_ref(), &keys::ALARM_PERMISSION, &failover, &decision, ALARMS_PRINCIPAL, &alarm_arn, &self.region)
            .await?;
        // Schedule: rule, permission (before the first event can arrive), target.
        let rule = self.rule_name();
        let rule_arn = self.ensure_rule(ctx).await?;
        let probe = self.function("probe");
        ensure_invoke_permission(ctx, self.lambda.as_ref(), &keys::SCHEDULE_PERMISSION, &probe, &rule, EVENTS_PRINCIPAL, &rule_arn, &self.region)
            .await?;
        ensure_target(ctx, self.events.as_ref(), &keys::TARGET, DEFAULT_BUS, &rule, TARGET_ID, &probe_arn, &self.region).await?;
        Ok(to_outputs(&ControllerOutputs {
            region: self.region.clone(),
            probe_function_name: probe,
            probe_function_arn: probe_arn,
            failover_function_name: failover,
            failover_function_arn: failover_arn,
            schedule_rule_name: rule,
            automatic: self.automatic,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = ids::CONTROLLER, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let rule = self.rule_name();
        let (ev, n) = (self.events.as_ref(), rule.as_str());
        ctx.delete(
            &keys::TARGET,
            n,
            move |_recorded| async move {
                match ev.list_targets(n, DEFAULT_BUS).await {
                    Ok(t) => Ok(t.into_iter().filter(|t| t.id == TARGET_ID).map(|t| t.id).collect()),
                    Err(e) if e.is_not_found() => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            },
            move |id| ev.remove_targets(n, DEFAULT_BUS, vec![id]),
        )
        .await?;
        ctx.delete(&keys::RULE, n, |recorded| by_name(recorded, n), move |_| ev.delete_rule(n, DEFAULT_BUS)).await?;
        // The permissions go with their functions; removed first so a kept function (a
        // failed delete) is not left invocable.
        let lambda = self.lambda.as_ref();
        for (key, kind, sid) in [
            (&keys::SCHEDULE_PERMISSION, "probe", rule.clone()),
            (&keys::ALARM_PERMISSION, "failover", failover_alarms::decision(&self.suffix)),
        ] {
            let function = self.function(kind);
            let (f, s) = (function.as_str(), sid.as_str());
            ctx.delete(key, f, |recorded| by_name(recorded, s), move |_| async move {
                ignore_not_found(lambda.remove_permission(f, s).await)
            })
            .await?;
        }
        for kind in ["probe", "failover"] {
            self.delete_function(ctx, kind).await?;
        }
        Ok(())
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let r = self.region.as_str();
        let inputs = self.inputs(ctx).ok();
        let mut missing = Vec::new();
        let mut drifted = Vec::new();
        for kind in ["probe", "failover"] {
            let name = self.function(kind);
            match retry(|| self.lambda.get_function(&name)).await.at(&name, r)? {
                None => missing.push(format!("function {name} is missing")),
                Some(info) => {
                    if let Some(i) = &inputs {
                        drifted.extend(info.config_diff(&self.spec(kind, i)));
                    }
                    if !self.package.is_unbuilt() && info.code_sha256 != self.package.base64_sha256 {
                        drifted.push(format!("{name}: code {} differs from the package {}", info.code_sha256, self.package.base64_sha256));
                    }
                }
            }
        }
        let failover = self.function("failover");
        if missing.is_empty() {
            let limits = retry(|| self.lambda.get_invoke_limits(&failover)).await.at(&failover, r)?;
            let want = InvokeLimits {
                reserved_concurrency: limits.reserved_concurrency,
                max_event_age_secs: Some(FAILOVER_MAX_EVENT_AGE_SECS),
                max_retry_attempts: Some(FAILOVER_MAX_RETRIES),
            };
            if limits != want {
                drifted.push(format!("{failover}: asynchronous limits {limits:?} (want {want:?})"));
            }
            let decision = failover_alarms::decision(&self.suffix);
            let policy = retry(|| self.lambda.get_policy(&failover)).await.at(&failover, r)?;
            if !policy.as_deref().is_some_and(|p| tandem_clients::lambda::policy_has_sid(p, &decision)) {
                drifted.push(format!("{failover} does not allow the decision alarm {decision} to invoke it"));
            }
        }
        let rule = self.rule_name();
        match retry(|| self.events.describe_rule(&rule, DEFAULT_BUS)).await.at(&rule, r)? {
            None => missing.push(format!("schedule rule {rule} is missing")),
            Some(info) => {
                if info.state != "ENABLED" || info.schedule_expression.as_deref() != Some(SCHEDULE) {
                    drifted.push(format!("rule {rule}: {} {:?} (want ENABLED {SCHEDULE})", info.state, info.schedule_expression));
                }
                let probe = self.function("probe");
                let targets = retry(|| self.events.list_targets(&rule, DEFAULT_BUS)).await.at(&rule, r)?;
                if !targets.iter().any(|t| t.id == TARGET_ID && t.arn.ends_with(&format!(":function:{probe}"))) {
                    drifted.push(format!("rule {rule} does not target {probe}"));
                }
                if missing.is_empty() {
                    let policy = retry(|| self.lambda.get_policy(&probe)).await.at(&probe, r)?;
                    if !policy.as_deref().is_some_and(|p| policy_has_statement(p, &rule, &info.arn)) {
                        drifted.push(format!("{probe} does not allow {rule} to invoke it"));
                    }
                }
            }
        }
        Ok(Drift::from_findings(missing, drifted))
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs_api::{LogGroupInfo, MockLogsApi};
    use mockall::predicate::eq;
    use mockall::Sequence;
    use std::sync::Mutex;
    use tandem_clients::events::{MockEventsApi, TargetInfo};
    use tandem_clients::lambda::{FunctionInfo, MockLambdaApi};
    use tandem_core::contracts::{AlertsOutputs, ApiOutputs, AuroraOutputs, LoadBalancerOutputs};

    const ACCOUNT: &str = "123456789012";
    const REGION: &str = "us-east-2";

    fn fn_arn(name: &str) -> String {
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    }
    fn rule_arn() -> String {
        format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/probe-schedule-dev")
    }
    fn alarm_arn() -> String {
        format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:alarm-primary-down-secondary-dev")
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        package: Package,
    }

    fn package() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tandem-lambda.zip");
        std::fs::write(&path, b"zip").unwrap();
        let package = Package::from_file(&path).unwrap();
        Fixture { _dir: dir, package }
    }

    fn api(domain: Option<&str>) -> ApiOutputs {
        ApiOutputs {
            rest_api_id: "abc".into(),
            stage_name: "live".into(),
            invoke_url: "https://abc.execute-api.us-east-1.amazonaws.com/live".into(),
            execute_api_host: "abc.execute-api.us-east-1.amazonaws.com".into(),
            health_path: "/live/health".into(),
            custom_domain: domain.map(str::to_string),
            regional_domain_name: None,
            regional_hosted_zone_id: None,
            certificate_arn: None,
            failover_domain: None,
            failover_regional_domain_name: None,
            failover_regional_hosted_zone_id: None,
        }
    }

    fn lb() -> LoadBalancerOutputs {
        LoadBalancerOutputs {
            nlb_arn: "arn:nlb".into(),
            nlb_dns_name: "nlb-primary-dev.elb.us-east-1.amazonaws.com".into(),
            nlb_zone_id: "Z".into(),
            nlb_target_group_arn: "arn:tg".into(),
            alb_arn: "arn:alb".into(),
            alb_dns_name: "alb".into(),
            alb_target_group_arn: "arn:atg".into(),
        }
    }

    fn aurora(p: Placement) -> AuroraOutputs {
        let region = if p == Placement::Secondary { "us-east-2" } else { "us-east-1" };
        AuroraOutputs {
            global_cluster_id: "aurora-global-dev".into(),
            cluster_id: format!("aurora-{p}-dev"),
            cluster_arn: format!("arn:aws:rds:{region}:{ACCOUNT}:cluster:aurora-{p}-dev"),
            writer_endpoint: "w".into(),
            reader_endpoint: "r".into(),
            instance_id: "i".into(),
            port: 5432,
            password_parameter: None,
            global_writer_endpoint: "g".into(),
        }
    }

    fn roles() -> LambdaRolesOutputs {
        let r = |k: &str| format!("arn:aws:iam::{ACCOUNT}:role/lambda-{k}-dev");
        LambdaRolesOutputs {
            api_role_arn: r("api"),
            processor_role_arn: r("processor"),
            replicator_role_arn: r("replicator"),
            probe_role_arn: r("probe"),
            failover_role_arn: r("failover"),
        }
    }

    fn ctx() -> Ctx {
        Ctx::standalone(ids::CONTROLLER, REGION)
            .with_input(ids::LAMBDA_ROLES, &roles())
            .with_input(&ids::api(Placement::Primary), &api(None))
            .with_input(&ids::load_balancer(Placement::Primary), &lb())
            .with_input(&ids::aurora(Placement::Primary), &aurora(Placement::Primary))
            .with_input(&ids::aurora(Placement::Secondary), &aurora(Placement::Secondary))
            .with_input(
                &ids::alerts(Placement::Secondary),
                &AlertsOutputs { topic_arn: format!("arn:aws:sns:{REGION}:{ACCOUNT}:alerts-secondary-dev"), topic_name: "alerts-secondary-dev".into() },
            )
    }

    fn component(lambda: MockLambdaApi, logs: MockLogsApi, events: MockEventsApi, package: &Package) -> Controller {
        Controller::new(&Config::example("dev"), Arc::new(lambda), Arc::new(logs), Arc::new(events), package.clone())
    }

    fn inputs() -> ControllerInputs {
        let (url, addr) = nlb_probe(&api(None), &lb());
        ControllerInputs {
            probe_role_arn: roles().probe_role_arn,
            failover_role_arn: roles().failover_role_arn,
            primary_health_url: "https://abc.execute-api.us-east-1.amazonaws.com/live/health".into(),
            primary_nlb_url: url,
            primary_nlb_address: addr,
            global_cluster_id: "aurora-global-dev".into(),
            primary_cluster_arn: aurora(Placement::Primary).cluster_arn,
            secondary_cluster_arn: aurora(Placement::Secondary).cluster_arn,
            alert_topic_arn: format!("arn:aws:sns:{REGION}:{ACCOUNT}:alerts-secondary-dev"),
        }
    }

    /// GetFunction of a function deployed as `c` wants.
    fn deployed(c: &Controller, kind: &str) -> FunctionInfo {
        let spec = c.spec(kind, &inputs());
        FunctionInfo {
            arn: fn_arn(&spec.name),
            name: spec.name,
            role_arn: spec.role_arn,
            runtime: spec.runtime,
            handler: spec.handler,
            architectures: vec![spec.architecture],
            memory_mb: spec.memory_mb,
            timeout_secs: spec.timeout_secs,
            environment: spec.environment,
            code_sha256: c.package.base64_sha256.clone(),
            state: "Active".into(),
            last_update_status: "Successful".into(),
            ..Default::default()
        }
    }

    fn policy(sid: &str, principal: &str, source: &str) -> String {
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": sid, "Effect": "Allow", "Principal": {"Service": principal}, "Action": "lambda:InvokeFunction",
            "Condition": {"ArnLike": {"AWS:SourceArn": source}}
        }]})
        .to_string()
    }

    #[test]
    fn environment_and_settings_follow_the_contract() {
        let f = package();
        let c = component(MockLambdaApi::new(), MockLogsApi::new(), MockEventsApi::new(), &f.package);
        let p = c.spec("probe", &inputs());
        assert_eq!((p.name.as_str(), p.timeout_secs, p.role_arn.as_str()), ("probe-secondary-dev", 30, roles().probe_role_arn.as_str()));
        assert_eq!(p.environment["TANDEM_HANDLER"], "probe");
        assert_eq!(p.environment["TANDEM_STACK"], "dev");
        assert_eq!(p.environment["PRIMARY_NLB_URL"], "http://nlb-primary-dev.elb.us-east-1.amazonaws.com:443/health");
        assert!(!p.environment.contains_key("PRIMARY_NLB_ADDRESS"));
        assert_eq!(p.environment["FAILOVER_FUNCTION"], "failover-secondary-dev");
        assert_eq!(p.environment["DECISION_ALARM"], "alarm-primary-down-secondary-dev");
        assert!(!p.environment.contains_key("ALERT_TOPIC_ARN"));
        let f2 = c.spec("failover", &inputs());
        assert_eq!((f2.timeout_secs, f2.role_arn.as_str()), (300, roles().failover_role_arn.as_str()));
        assert_eq!(f2.environment["SECONDARY_CLUSTER_ARN"], format!("arn:aws:rds:us-east-2:{ACCOUNT}:cluster:aurora-secondary-dev"));
        assert_eq!(f2.environment["PRIMARY_CLUSTER_ARN"], format!("arn:aws:rds:us-east-1:{ACCOUNT}:cluster:aurora-primary-dev"));
        assert_eq!(f2.environment["AUTOMATIC"], "true");
        assert!(!f2.environment.contains_key("FAILOVER_FUNCTION"));
        // With a custom domain: the certificate's name in the URL, the NLB as the address.
        let (url, addr) = nlb_probe(&api(Some("api-east.example.com")), &lb());
        assert_eq!(url, "https://api-east.example.com/health");
        assert_eq!(addr.as_deref(), Some("nlb-primary-dev.elb.us-east-1.amazonaws.com"));
        // `automatic = false` reaches the handler.
        let mut cfg = Config::example("dev");
        cfg.failover.automatic = false;
        let manual = Controller::new(&cfg, Arc::new(MockLambdaApi::new()), Arc::new(MockLogsApi::new()), Arc::new(MockEventsApi::new()), f.package.clone());
        assert_eq!(manual.spec("failover", &inputs()).environment["AUTOMATIC"], "false");
        assert_ne!(manual.desired().update_on, c.desired().update_on);
        assert_eq!((c.region(), c.placement()), ("us-east-2", Placement::Secondary));
    }

    #[tokio::test(start_paused = true)]
    async fn creates_functions_limits_permissions_rule_and_target_in_order() {
        let f = package();
        let mut lambda = MockLambdaApi::new();
        let mut logs = MockLogsApi::new();
        let mut events = MockEventsApi::new();
        let calls: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut seq = Sequence::new();
        for kind in ["failover", "probe"] {
            let name = format!("{kind}-secondary-dev");
            let group = log_group_name(&name);
            logs.expect_describe_log_group().with(eq(group.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
            logs.expect_create_log_group().with(eq(group.clone()), mockall::predicate::always()).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
            logs.expect_put_retention_policy().with(eq(group), eq(30)).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
            lambda.expect_get_function().with(eq(name.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
            let k = kind.to_string();
            lambda
                .expect_create_function()
                .withf(move |spec, _| spec.environment["TANDEM_HANDLER"] == k && spec.role_arn.ends_with(&format!("lambda-{k}-dev")))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|spec, _| Ok(fn_arn(&spec.name)));
            let n = name.clone();
            lambda.expect_get_function().with(eq(name)).times(1).in_sequence(&mut seq).returning(move |_| {
                Ok(Some(FunctionInfo { name: n.clone(), arn: fn_arn(&n), state: "Active".into(), last_update_status: "Successful".into(), ..Default::default() }))
            });
        }
        lambda.expect_get_invoke_limits().times(1).in_sequence(&mut seq).returning(|_| Ok(InvokeLimits::default()));
        lambda.expect_put_async_limits().with(eq("failover-secondary-dev"), eq(300), eq(1)).times(1).in_sequence(&mut seq).returning(|_, _, _| Ok(()));
        lambda.expect_put_reserved_concurrency().with(eq("failover-secondary-dev"), eq(1)).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        // The decision alarm's permission on the failover handler.
        lambda.expect_get_policy().with(eq("failover-secondary-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        lambda
            .expect_add_permission()
            .with(eq("failover-secondary-dev"), eq("alarm-primary-down-secondary-dev"), eq(ALARMS_PRINCIPAL), eq(alarm_arn()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        // The schedule: rule, permission, target.
        events.expect_describe_rule().with(eq("probe-schedule-dev"), eq(DEFAULT_BUS)).times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        events
            .expect_put_schedule_rule()
            .withf(|n, sched, _, tags| n == "probe-schedule-dev" && sched == "rate(1 minute)" && tags.contains(&("tandem:stack".to_string(), "dev".to_string())))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(rule_arn()));
        lambda.expect_get_policy().with(eq("probe-secondary-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        lambda
            .expect_add_permission()
            .with(eq("probe-secondary-dev"), eq("probe-schedule-dev"), eq(EVENTS_PRINCIPAL), eq(rule_arn()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        events.expect_list_targets().times(1).in_sequence(&mut seq).returning(|_, _| Ok(vec![]));
        let c2 = calls.clone();
        events
            .expect_put_target()
            .with(eq("probe-schedule-dev"), eq(DEFAULT_BUS), eq(TARGET_ID), eq(fn_arn("probe-secondary-dev")))
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _, _, _| {
                c2.lock().unwrap().push("target".into());
                Ok(())
            });
        let c = ctx();
        let out = component(lambda, logs, events, &f.package).apply(&c).await.unwrap();
        let out: ControllerOutputs = tandem_core::from_outputs(&out).unwrap();
        assert_eq!(out.failover_function_arn, fn_arn("failover-secondary-dev"));
        assert_eq!(out.probe_function_arn, fn_arn("probe-secondary-dev"));
        assert_eq!((out.schedule_rule_name.as_str(), out.region.as_str(), out.automatic), ("probe-schedule-dev", REGION, true));
        assert_eq!(calls.lock().unwrap().len(), 1);
        let j = c.journal_entries().await;
        for key in ["function-probe", "function-failover", "log-group-probe", "log-group-failover", "rule", "target", "permission-schedule", "permission-alarm"] {
            assert_eq!(j[key].status, tandem_core::state::ResourceStatus::Done, "{key}");
        }
    }

    /// A Lambda mock where everything exists as wanted; no mutating call is expected.
    fn lambda_in_sync(c: &Controller) -> MockLambdaApi {
        let mut lambda = MockLambdaApi::new();
        let (p, f) = (deployed(c, "probe"), deployed(c, "failover"));
        lambda.expect_get_function().returning(move |n| Ok(Some(if n == p.name { p.clone() } else { f.clone() })));
        lambda.expect_get_invoke_limits().returning(|_| {
            Ok(InvokeLimits { reserved_concurrency: Some(1), max_event_age_secs: Some(300), max_retry_attempts: Some(1) })
        });
        lambda.expect_get_policy().returning(|n| {
            Ok(Some(if n.starts_with("probe") {
                policy("probe-schedule-dev", EVENTS_PRINCIPAL, &rule_arn())
            } else {
                policy("alarm-primary-down-secondary-dev", ALARMS_PRINCIPAL, &alarm_arn())
            }))
        });
        lambda
    }

    fn events_in_sync() -> MockEventsApi {
        let mut events = MockEventsApi::new();
        events.expect_describe_rule().returning(|n, _| {
            Ok(Some(RuleInfo { name: n.into(), arn: rule_arn(), schedule_expression: Some(SCHEDULE.into()), state: "ENABLED".into(), ..Default::default() }))
        });
        events.expect_list_targets().returning(|_, _| Ok(vec![TargetInfo::new(TARGET_ID, fn_arn("probe-secondary-dev"))]));
        events
    }

    fn logs_in_sync() -> MockLogsApi {
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group()
            .returning(|n| Ok(Some(LogGroupInfo { name: n.into(), arn: format!("arn:{n}"), retention_days: Some(30) })));
        logs
    }

    #[tokio::test]
    async fn in_sync_controller_makes_no_mutating_call_and_reads_in_sync() {
        let f = package();
        let probe = component(MockLambdaApi::new(), MockLogsApi::new(), MockEventsApi::new(), &f.package);
        let c = component(lambda_in_sync(&probe), logs_in_sync(), events_in_sync(), &f.package);
        c.apply(&ctx()).await.unwrap();
        assert_eq!(c.read(&ctx()).await.unwrap(), Drift::InSync);
    }

    #[tokio::test]
    async fn read_reports_a_disabled_schedule_and_missing_limits() {
        let f = package();
        let probe = component(MockLambdaApi::new(), MockLogsApi::new(), MockEventsApi::new(), &f.package);
        let mut lambda = MockLambdaApi::new();
        let (p, fo) = (deployed(&probe, "probe"), deployed(&probe, "failover"));
        lambda.expect_get_function().returning(move |n| Ok(Some(if n == p.name { p.clone() } else { fo.clone() })));
        lambda.expect_get_invoke_limits().returning(|_| Ok(InvokeLimits::default()));
        lambda.expect_get_policy().returning(|_| Ok(None));
        let mut events = MockEventsApi::new();
        events.expect_describe_rule().returning(|n, _| {
            Ok(Some(RuleInfo { name: n.into(), arn: rule_arn(), schedule_expression: Some(SCHEDULE.into()), state: "DISABLED".into(), ..Default::default() }))
        });
        events.expect_list_targets().returning(|_, _| Ok(vec![]));
        let c = component(lambda, MockLogsApi::new(), events, &f.package);
        match c.read(&ctx()).await.unwrap() {
            Drift::Drifted { details } => {
                let text = details.join("\n");
                for want in ["DISABLED", "asynchronous limits", "does not allow the decision alarm", "does not target probe-secondary-dev", "does not allow probe-schedule-dev"] {
                    assert!(text.contains(want), "{want}: {text}");
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_concurrency_quota_refusal_leaves_the_handler_unreserved_other_errors_fail() {
        let f = package();
        let probe = component(MockLambdaApi::new(), MockLogsApi::new(), MockEventsApi::new(), &f.package);
        let quota = AwsError::new(
            "InvalidParameterValueException",
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [10].",
            Some(400),
        );
        for (error, ok) in [(quota, true), (AwsError::other("AccessDeniedException", "no"), false)] {
            let mut lambda = lambda_in_sync(&probe);
            lambda.checkpoint();
            let (p, fo) = (deployed(&probe, "probe"), deployed(&probe, "failover"));
            lambda.expect_get_function().returning(move |n| Ok(Some(if n == p.name { p.clone() } else { fo.clone() })));
            lambda.expect_get_invoke_limits().returning(|_| {
                Ok(InvokeLimits { reserved_concurrency: None, max_event_age_secs: Some(300), max_retry_attempts: Some(1) })
            });
            let e = error.clone();
            lambda.expect_put_reserved_concurrency().times(1).returning(move |_, _| Err(e.clone()));
            lambda.expect_get_policy().returning(|n| {
                Ok(Some(if n.starts_with("probe") {
                    policy("probe-schedule-dev", EVENTS_PRINCIPAL, &rule_arn())
                } else {
                    policy("alarm-primary-down-secondary-dev", ALARMS_PRINCIPAL, &alarm_arn())
                }))
            });
            let c = component(lambda, logs_in_sync(), events_in_sync(), &f.package);
            let got = c.apply(&ctx()).await;
            if ok {
                got.unwrap();
            } else {
                let e = got.unwrap_err().to_string();
                assert!(e.contains("failover-secondary-dev") && e.contains(REGION) && e.contains("AccessDenied"), "{e}");
            }
        }
    }

    #[tokio::test]
    async fn lambda_roles_of_an_earlier_release_are_refused_with_a_clear_message() {
        let f = package();
        let mut old = roles();
        old.probe_role_arn.clear();
        let c = component(MockLambdaApi::new(), MockLogsApi::new(), MockEventsApi::new(), &f.package);
        let e = c.apply(&ctx().with_input(ids::LAMBDA_ROLES, &old)).await.unwrap_err().to_string();
        assert!(e.contains("probe/failover role"), "{e}");
    }

    #[tokio::test]
    async fn destroy_removes_schedule_then_permissions_then_functions_and_tolerates_missing() {
        let f = package();
        let mut lambda = MockLambdaApi::new();
        let mut logs = MockLogsApi::new();
        let mut events = MockEventsApi::new();
        let mut seq = Sequence::new();
        events.expect_list_targets().times(1).in_sequence(&mut seq).returning(|_, _| Ok(vec![TargetInfo::new(TARGET_ID, "arn:x")]));
        events.expect_remove_targets().times(1).in_sequence(&mut seq).returning(|_, _, _| Ok(()));
        events.expect_delete_rule().with(eq("probe-schedule-dev"), eq(DEFAULT_BUS)).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        lambda.expect_remove_permission().with(eq("probe-secondary-dev"), eq("probe-schedule-dev")).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        lambda
            .expect_remove_permission()
            .with(eq("failover-secondary-dev"), eq("alarm-primary-down-secondary-dev"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(AwsError::not_found("ResourceNotFoundException", "gone")));
        for kind in ["probe", "failover"] {
            let name = format!("{kind}-secondary-dev");
            lambda.expect_delete_function().with(eq(name.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
            logs.expect_delete_log_group()
                .with(eq(log_group_name(&name)))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Err(AwsError::not_found("ResourceNotFoundException", "gone")));
        }
        let c = ctx();
        component(lambda, logs, events, &f.package).destroy(&c).await.unwrap();
        assert!(c.journal_entries().await.is_empty());
    }
}
