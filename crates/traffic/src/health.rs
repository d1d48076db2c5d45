//! The `health-{role}` components: Route 53 health checks of one region.
//!
//! Two checks per region, both built only from the outputs of the components that created
//! their targets (never by looking targets up by name):
//! - `health-api-{role}-{s}`: HTTPS on the REST API's execute-api host
//!   (`api-{role}` → `execute_api_host`), path `/<stage>/health`, port 443, SNI;
//! - `health-nlb-{role}-{s}`: TCP 443 on the NLB DNS name (`loadbalancer-{role}`).
//!
//! The primary also makes the "one decision" of `DR.md` (DNS, events and the database move
//! together):
//! - `health-decision-primary-{s}`: CLOUDWATCH_METRIC on the "primary down" decision alarm
//!   (`failover-alarms` → `DecisionOutputs`: its name and region, the secondary), with
//!   `InsufficientDataHealthStatus = Healthy`: an alarm Route 53 cannot read (the
//!   secondary's CloudWatch unreachable, no data) does not declare the primary down;
//! - `health-failover-primary-{s}`: CALCULATED, children the API check and the decision
//!   check, `HealthThreshold = 2`: healthy only while the API answers AND the primary is not
//!   decided down. The PRIMARY failover record (`dns-failover`) and the EventBridge global
//!   endpoint (`event-endpoint`) use it (`HealthOutputs::routing_check_id`); the SECONDARY
//!   record keeps the secondary's API check.
//!
//! Route 53 is global; the calls go to us-east-1 ([`ROUTE53_REGION`]). The request interval
//! (10 or 30 s) of the endpoint checks cannot change after creation, so it forces
//! replacement (nor can a check's type); the failure threshold, target and path, a metric
//! check's alarm and InsufficientDataHealthStatus, a calculated check's children and
//! HealthThreshold are updated in place (UpdateHealthCheck). A replaced check is journaled
//! `retired:<id>` and deleted at the end of the apply, once the calculated check no longer
//! names it (else by the next apply or destroy).
//!
//! Resource protocol: a check is created with [`Rule::Token`]: its `CallerReference` is the
//! journal's token, reused by every retry and by a resumed run, so Route 53 answers a
//! repeated create with the same check. After an ambiguous failure the check is looked up
//! by that reference before anything is sent again. Checks of older runs (references
//! `<name>-<random>`, or the `Name`/`tandem:stack` tags) are still adopted. Route 53 takes no
//! tags in CreateHealthCheck: they are written right after, through `ctx.update`.
//!
//! Destroy: the calculated check first (it names the others; `dns-failover` and
//! `event-endpoint`, which use it, are destroyed before this component), then the decision,
//! API and NLB checks. `HealthCheckInUse` is retried (bounded).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{retry, retry_if, ROUTE53_REGION};
use tandem_core::contracts::{failover_alarms, ids, ApiOutputs, DecisionOutputs, HealthOutputs, LoadBalancerOutputs};
use tandem_core::naming;
use tandem_core::{to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, How, Key, Outputs, Placement, Rule};
use tracing::Instrument;

use crate::common::{has_stack_tag, tag_value};
use crate::route53_api::{AlarmRef, HealthCheckInfo, HealthCheckSpec, Route53Api, CALCULATED, CLOUDWATCH_METRIC};

/// The port both endpoint checks probe.
pub const CHECK_PORT: i32 = 443;
/// The decision check's status while its alarm has no data: not a failure.
pub const DECISION_INSUFFICIENT_DATA: &str = "Healthy";
/// The calculated check's children (API, decision) that must be healthy: both.
pub const FAILOVER_HEALTH_THRESHOLD: i32 = 2;

const KEY_API: Key = Key::new("api-check");
const KEY_NLB: Key = Key::new("nlb-check");
const KEY_DECISION: Key = Key::new("decision-check");
const KEY_FAILOVER: Key = Key::new("failover-check");
const RETIRED_PREFIX: &str = "retired:";

/// The journal key of a check retired by a replacement (deleted once nothing uses it).
fn retired_key(id: &str) -> Key {
    Key::owned(format!("{RETIRED_PREFIX}{id}"))
}

/// ARN of a Route 53 health check.
pub fn health_check_arn(id: &str) -> String {
    format!("arn:aws:route53:::healthcheck/{id}")
}

/// The health checks of one region.
pub struct HealthComponent {
    id: String,
    role: Placement,
    suffix: String,
    interval: i32,
    threshold: i32,
    /// Where the decision alarm lives (the secondary region), for `desired` and `read`.
    secondary_region: String,
    client: Arc<dyn Route53Api>,
}

/// Which of the checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Api,
    Nlb,
    /// Primary only: CLOUDWATCH_METRIC on the decision alarm.
    Decision,
    /// Primary only: CALCULATED, API AND decision.
    Failover,
}

impl Which {
    fn key(self) -> Key {
        match self {
            Which::Api => KEY_API,
            Which::Nlb => KEY_NLB,
            Which::Decision => KEY_DECISION,
            Which::Failover => KEY_FAILOVER,
        }
    }
}

impl HealthComponent {
    /// `role` is the region's placement (Primary or Secondary); `client` a Route 53 client.
    pub fn new(cfg: &Config, role: Placement, client: Arc<dyn Route53Api>) -> Self {
        Self {
            id: ids::health(role),
            role,
            suffix: cfg.environment_suffix.clone(),
            interval: cfg.health.request_interval as i32,
            threshold: cfg.health.failure_threshold as i32,
            secondary_region: cfg.secondary_region.clone(),
            client,
        }
    }

    /// Whether this region's checks carry the failover decision (the primary's).
    fn decides(&self) -> bool {
        self.role == Placement::Primary
    }

    /// The checks of this region, in creation order (destroy goes the other way for the
    /// calculated check: see `destroy_inner`).
    fn checks(&self) -> &'static [Which] {
        if self.decides() {
            &[Which::Api, Which::Nlb, Which::Decision, Which::Failover]
        } else {
            &[Which::Api, Which::Nlb]
        }
    }

    fn check_name(&self, which: Which) -> String {
        let base = match which {
            Which::Api => "health-api",
            Which::Nlb => "health-nlb",
            Which::Decision => "health-decision",
            Which::Failover => "health-failover",
        };
        naming::name(base, self.role, &self.suffix)
    }

    /// The decision alarm when `failover-alarms` has not published it (a read without
    /// inputs): its deterministic name in the secondary region.
    fn default_alarm(&self) -> AlarmRef {
        AlarmRef { region: self.secondary_region.clone(), name: failover_alarms::decision(&self.suffix) }
    }

    fn spec_decision(&self, alarm: AlarmRef) -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: CLOUDWATCH_METRIC.into(),
            alarm: Some(alarm),
            insufficient_data_health_status: Some(DECISION_INSUFFICIENT_DATA.into()),
            ..Default::default()
        }
    }

    fn spec_failover(&self, api_check_id: &str, decision_check_id: &str) -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: CALCULATED.into(),
            child_health_checks: vec![api_check_id.to_string(), decision_check_id.to_string()],
            health_threshold: Some(FAILOVER_HEALTH_THRESHOLD),
            ..Default::default()
        }
    }

    fn spec_api(&self, api: &ApiOutputs) -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: "HTTPS".into(),
            fqdn: api.execute_api_host.clone(),
            port: CHECK_PORT,
            resource_path: Some(api.health_path.clone()),
            enable_sni: true,
            request_interval: self.interval,
            failure_threshold: self.threshold,
            ..Default::default()
        }
    }

    fn spec_nlb(&self, lb: &LoadBalancerOutputs) -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: "TCP".into(),
            fqdn: lb.nlb_dns_name.clone(),
            port: CHECK_PORT,
            resource_path: None,
            enable_sni: false,
            request_interval: self.interval,
            failure_threshold: self.threshold,
            ..Default::default()
        }
    }

    fn prior_id(ctx: &Ctx, which: Which) -> Option<String> {
        ctx.prior_outputs::<HealthOutputs>()
            .and_then(|o| match which {
                Which::Api => Some(o.api_check_id),
                Which::Nlb => Some(o.nlb_check_id),
                Which::Decision => o.decision_check_id,
                Which::Failover => o.failover_check_id,
            })
            .filter(|i| !i.is_empty())
    }

    /// Ids of the checks retired by a replacement (never adopted again).
    async fn retired_ids(ctx: &Ctx) -> Vec<String> {
        let mut ids = Vec::new();
        for key in ctx.keys().await {
            if key.as_str().starts_with(RETIRED_PREFIX) {
                if let Some(id) = ctx.recorded_id(&key).await {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// The stack's check `which`: the recorded id (else the prior outputs'), else the check
    /// whose CallerReference is the journal's token (a create whose answer was lost), else
    /// one of an older run (`<name>-<random>` reference, or the stack's tags).
    async fn find_check(&self, ctx: &Ctx, which: Which, recorded: Option<String>) -> Result<Option<HealthCheckInfo>, AwsError> {
        let name = self.check_name(which);
        let retired = Self::retired_ids(ctx).await;
        let known = recorded.or_else(|| Self::prior_id(ctx, which)).filter(|i| !i.is_empty() && !retired.contains(i));
        if let Some(id) = known {
            match retry(|| self.client.get_health_check(&id)).await {
                Ok(c) => return Ok(Some(c)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let token = ctx.entry(&which.key()).await.and_then(|e| e.token);
        let all: Vec<HealthCheckInfo> =
            retry(|| self.client.list_health_checks()).await?.into_iter().filter(|c| !retired.contains(&c.id)).collect();
        if let Some(c) = token.and_then(|t| all.iter().find(|c| c.caller_reference == t)) {
            return Ok(Some(c.clone()));
        }
        let prefix = format!("{name}-");
        let legacy = |r: &str| r.strip_prefix(&prefix).is_some_and(|rest| !rest.is_empty() && !rest.contains('-'));
        if let Some(c) = all.iter().find(|c| legacy(&c.caller_reference)) {
            return Ok(Some(c.clone()));
        }
        for c in &all {
            let tags = match retry(|| self.client.list_health_check_tags(&c.id)).await {
                Ok(t) => t,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            if has_stack_tag(&tags, &self.suffix) && tag_value(&tags, "Name") == Some(name.as_str()) {
                return Ok(Some(c.clone()));
            }
        }
        Ok(None)
    }

    /// Writes the check's `Name` and `tandem:stack` tags (idempotent).
    async fn tag(&self, ctx: &Ctx, which: Which, id: &str) -> Result<(), ComponentError> {
        let name = self.check_name(which);
        ctx.update(&which.key(), || async {
            retry(|| self.client.tag_health_check(id, naming::tags(&self.suffix, &name))).await.at(&name, ROUTE53_REGION)
        })
        .await
    }

    /// Deletes a check, waiting (bounded) while a record or endpoint still uses it.
    async fn delete_check(&self, id: &str) -> Result<(), AwsError> {
        retry_if(|| self.client.delete_health_check(id), |e| e.is_code("HealthCheckInUse")).await
    }

    /// The check `which` through the protocol (found, adopted or created), tagged.
    async fn ensure_check(&self, ctx: &Ctx, which: Which, spec: &HealthCheckSpec) -> Result<HealthCheckInfo, ComponentError> {
        let name = self.check_name(which);
        let e = ctx
            .ensure::<HealthCheckInfo>(&which.key(), &name, Rule::Token)
            .find_one(|recorded| self.find_check(ctx, which, recorded))
            .create(|token| {
                let spec = spec.clone();
                async move { self.client.create_health_check(token.as_str(), spec).await }
            })
            .id(|c| c.id.clone())
            .outcome()
            .await?;
        let c = e.value;
        if e.how == How::Created {
            self.tag(ctx, which, &c.id).await?;
            return Ok(c);
        }
        let tags = retry(|| self.client.list_health_check_tags(&c.id)).await.at(&name, ROUTE53_REGION)?;
        if !(has_stack_tag(&tags, &self.suffix) && tag_value(&tags, "Name") == Some(name.as_str())) {
            self.tag(ctx, which, &c.id).await?;
        }
        Ok(c)
    }

    async fn ensure(&self, ctx: &Ctx, which: Which, spec: HealthCheckSpec) -> Result<HealthCheckInfo, ComponentError> {
        let name = self.check_name(which);
        let key = which.key();
        let c = self.ensure_check(ctx, which, &spec).await?;
        if c.spec.check_type != spec.check_type || (spec.is_endpoint() && c.spec.request_interval != spec.request_interval) {
            // Type and interval are immutable: retire the old check and create the new one.
            // The old one is deleted at the end of the apply (`delete_retired`), once the
            // calculated check names the new one; while a failover record still uses it,
            // by the next apply or destroy.
            tracing::info!(check = %name, old = %c.id, "replacing health check (type or interval changed)");
            let retired = retired_key(&c.id);
            ctx.adopt(&retired, &c.id).await?;
            ctx.forget(&key).await?;
            return self.ensure_check(ctx, which, &spec).await;
        }
        if !same_mutable(&c.spec, &spec) {
            tracing::info!(check = %name, id = %c.id, "updating health check");
            return ctx
                .update(&key, || async { retry(|| self.client.update_health_check(&c.id, spec.clone())).await.at(&name, ROUTE53_REGION) })
                .await;
        }
        Ok(c)
    }

    /// Deletes checks retired by a replacement once they are no longer in use.
    async fn delete_retired(&self, ctx: &Ctx, fail: bool) -> Result<(), ComponentError> {
        for key in ctx.keys().await {
            if !key.as_str().starts_with(RETIRED_PREFIX) {
                continue;
            }
            match ctx.delete_recorded(&key, key.as_str(), |id| async move { self.delete_check(&id).await }).await {
                Ok(_) => {}
                Err(e) if fail => return Err(e),
                Err(e) => tracing::warn!(key = %key, error = %e, "retired health check still in use"),
            }
        }
        Ok(())
    }

    async fn apply_inner(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let api: ApiOutputs = ctx.input(&ids::api(self.role))?;
        let lb: LoadBalancerOutputs = ctx.input(&ids::load_balancer(self.role))?;
        let decision = if self.decides() { Some(ctx.input::<DecisionOutputs>(ids::FAILOVER_ALARMS)?) } else { None };
        self.delete_retired(ctx, false).await?;
        let api_check = self.ensure(ctx, Which::Api, self.spec_api(&api)).await?;
        let nlb_check = self.ensure(ctx, Which::Nlb, self.spec_nlb(&lb)).await?;
        let mut out = HealthOutputs {
            api_check_arn: health_check_arn(&api_check.id),
            api_check_id: api_check.id.clone(),
            nlb_check_arn: health_check_arn(&nlb_check.id),
            nlb_check_id: nlb_check.id,
            ..Default::default()
        };
        if let Some(d) = decision {
            let alarm = AlarmRef { region: d.region, name: d.decision_alarm_name };
            let decision_check = self.ensure(ctx, Which::Decision, self.spec_decision(alarm)).await?;
            let failover_check = self.ensure(ctx, Which::Failover, self.spec_failover(&api_check.id, &decision_check.id)).await?;
            out.decision_check_id = Some(decision_check.id);
            out.failover_check_arn = Some(health_check_arn(&failover_check.id));
            out.failover_check_id = Some(failover_check.id);
        }
        // A check replaced above is no longer a child of the calculated check: delete it.
        self.delete_retired(ctx, false).await?;
        Ok(to_outputs(&out))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        // The calculated check before its children (Route 53 refuses to delete a child of a
        // calculated check); on the secondary, or state of an older release, the decision
        // and calculated checks are neither recorded nor pending: nothing is sent for them.
        for which in [Which::Failover, Which::Decision, Which::Api, Which::Nlb] {
            let name = self.check_name(which);
            let key = which.key();
            let pending = ctx.entry(&key).await.is_some();
            let n = ctx
                .delete(
                    &key,
                    &name,
                    |recorded| async move {
                        if let Some(id) = recorded.or_else(|| Self::prior_id(ctx, which)).filter(|i| !i.is_empty()) {
                            return Ok(vec![id]);
                        }
                        // A create was interrupted before its id was journaled: find it.
                        Ok(if pending { self.find_check(ctx, which, None).await?.map(|c| c.id).into_iter().collect() } else { Vec::new() })
                    },
                    |id| async move { self.delete_check(&id).await },
                )
                .await?;
            if n > 0 {
                tracing::info!(check = %name, "health check deleted");
            }
        }
        self.delete_retired(ctx, true).await?;
        ctx.forget_all().await
    }

    async fn read_inner(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let mut missing = Vec::new();
        let mut drift = Vec::new();
        let mut found = std::collections::BTreeMap::new();
        for &which in self.checks() {
            let name = self.check_name(which);
            let Some(id) = Self::prior_id(ctx, which).or(ctx.recorded_id(&which.key()).await) else {
                missing.push(format!("{name}: not recorded"));
                continue;
            };
            found.insert(which.key().as_str().to_string(), id.clone());
            let c = match retry(|| self.client.get_health_check(&id)).await {
                Ok(c) => c,
                Err(e) if e.is_not_found() => {
                    missing.push(format!("{name} ({id}) is gone"));
                    continue;
                }
                Err(e) => return Err(e).at(&name, ROUTE53_REGION),
            };
            match which {
                Which::Api | Which::Nlb => {
                    if c.spec.request_interval != self.interval {
                        drift.push(format!("{name}: interval {} s (want {} s)", c.spec.request_interval, self.interval));
                    }
                    if c.spec.failure_threshold != self.threshold {
                        drift.push(format!("{name}: failure threshold {} (want {})", c.spec.failure_threshold, self.threshold));
                    }
                }
                Which::Decision => {
                    let want = ctx
                        .input_opt::<DecisionOutputs>(ids::FAILOVER_ALARMS)
                        .map(|d| AlarmRef { region: d.region, name: d.decision_alarm_name })
                        .unwrap_or_else(|| self.default_alarm());
                    drift.extend(spec_drift(&name, &c.spec, &self.spec_decision(want)));
                }
                Which::Failover => {
                    let child = |w: Which| found.get(w.key().as_str()).cloned().unwrap_or_default();
                    drift.extend(spec_drift(&name, &c.spec, &self.spec_failover(&child(Which::Api), &child(Which::Decision))));
                }
            }
        }
        Ok(if !missing.is_empty() {
            Drift::Missing { details: missing.into_iter().chain(drift).collect() }
        } else if !drift.is_empty() {
            Drift::Drifted { details: drift }
        } else {
            Drift::InSync
        })
    }
}

/// Compares what UpdateHealthCheck can change.
fn same_mutable(have: &HealthCheckSpec, want: &HealthCheckSpec) -> bool {
    match want.check_type.as_str() {
        CLOUDWATCH_METRIC => have.alarm == want.alarm && have.insufficient_data_health_status == want.insufficient_data_health_status,
        CALCULATED => same_children(&have.child_health_checks, &want.child_health_checks) && have.health_threshold == want.health_threshold,
        _ => {
            let https = want.check_type != "TCP";
            crate::route53_api::dns_eq(&have.fqdn, &want.fqdn)
                && have.port == want.port
                && have.failure_threshold == want.failure_threshold
                && (!https || (have.resource_path == want.resource_path && have.enable_sni == want.enable_sni))
        }
    }
}

/// The same children in any order (Route 53 answers them as it stores them).
fn same_children(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// What differs between the decision or calculated check Route 53 has and the one wanted.
fn spec_drift(name: &str, have: &HealthCheckSpec, want: &HealthCheckSpec) -> Vec<String> {
    let mut out = Vec::new();
    if have.check_type != want.check_type {
        out.push(format!("{name}: type {} (want {})", have.check_type, want.check_type));
        return out;
    }
    let alarm = |a: &Option<AlarmRef>| a.as_ref().map_or("none".to_string(), |a| format!("{} in {}", a.name, a.region));
    if have.alarm != want.alarm {
        out.push(format!("{name}: alarm {} (want {})", alarm(&have.alarm), alarm(&want.alarm)));
    }
    if have.insufficient_data_health_status != want.insufficient_data_health_status {
        let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "unset".into());
        out.push(format!(
            "{name}: insufficient data is {} (want {})",
            s(&have.insufficient_data_health_status),
            s(&want.insufficient_data_health_status)
        ));
    }
    if !same_children(&have.child_health_checks, &want.child_health_checks) {
        out.push(format!("{name}: children [{}] (want [{}])", have.child_health_checks.join(", "), want.child_health_checks.join(", ")));
    }
    if have.health_threshold != want.health_threshold {
        let t = |v: Option<i32>| v.map_or("unset".to_string(), |v| v.to_string());
        out.push(format!("{name}: health threshold {} (want {})", t(have.health_threshold), t(want.health_threshold)));
    }
    out
}

#[async_trait::async_trait]
impl Component for HealthComponent {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "health-check"
    }
    fn placement(&self) -> Placement {
        Placement::Global
    }
    fn region(&self) -> &str {
        ROUTE53_REGION
    }
    fn dependencies(&self) -> Vec<String> {
        let mut deps = vec![ids::api(self.role), ids::load_balancer(self.role)];
        if self.decides() {
            deps.push(ids::FAILOVER_ALARMS.to_string());
        }
        deps
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::HealthOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // CreateHealthCheck is synchronous (no waiter); a new check counts as healthy until the
        // checkers have data (Route 53 Developer Guide), so nothing is waited for.
        Duration::from_secs(20)
    }
    fn desired(&self) -> Desired {
        let mut update = json!({ "failure_threshold": self.threshold, "port": CHECK_PORT, "enable_sni": true });
        if self.decides() {
            // Updatable keys: state of a release without these checks plans an update (which
            // creates them), never a replacement of the API and NLB checks.
            let alarm = self.default_alarm();
            update["decision"] = json!({
                "name": self.check_name(Which::Decision),
                "type": CLOUDWATCH_METRIC,
                "alarm": alarm.name,
                "alarm_region": alarm.region,
                "insufficient_data": DECISION_INSUFFICIENT_DATA,
            });
            update["failover"] = json!({
                "name": self.check_name(Which::Failover),
                "type": CALCULATED,
                "children": ["api", "decision"],
                "health_threshold": FAILOVER_HEALTH_THRESHOLD,
            });
        }
        Desired::new(
            json!({
                "names": [self.check_name(Which::Api), self.check_name(Which::Nlb)],
                "request_interval": self.interval,
                "types": ["HTTPS", "TCP"],
            }),
            update,
        )
    }
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let span = tracing::info_span!("apply", component = %self.id, region = ROUTE53_REGION);
        self.apply_inner(ctx).instrument(span).await
    }
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let span = tracing::info_span!("destroy", component = %self.id, region = ROUTE53_REGION);
        self.destroy_inner(ctx).instrument(span).await
    }
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let span = tracing::info_span!("read", component = %self.id, region = ROUTE53_REGION);
        self.read_inner(ctx).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53_api::MockRoute53Api;
    use crate::test_support::{api, cfg, lb, pending_state, prior};
    use mockall::Sequence;
    use tandem_core::{from_outputs, AwsError};

    const ALARM: &str = "alarm-primary-down-secondary-t";

    fn component(m: MockRoute53Api) -> HealthComponent {
        HealthComponent::new(&cfg(), Placement::Primary, Arc::new(m))
    }

    fn decision() -> DecisionOutputs {
        DecisionOutputs {
            region: "us-east-2".into(),
            decision_alarm_name: ALARM.into(),
            blind_alarm_name: "alarm-controller-blind-secondary-t".into(),
            failed_over_alarm_name: "alarm-failed-over-secondary-t".into(),
        }
    }

    fn ctx() -> Ctx {
        Ctx::standalone("health-primary", ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "abc123", false))
            .with_input("loadbalancer-primary", &lb("us-east-1"))
            .with_input(ids::FAILOVER_ALARMS, &decision())
    }

    fn api_spec() -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: "HTTPS".into(),
            fqdn: "abc123.execute-api.us-east-1.amazonaws.com".into(),
            port: 443,
            resource_path: Some("/live/health".into()),
            enable_sni: true,
            request_interval: 10,
            failure_threshold: 3,
            ..Default::default()
        }
    }

    fn nlb_spec() -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: "TCP".into(),
            fqdn: lb("us-east-1").nlb_dns_name,
            port: 443,
            resource_path: None,
            enable_sni: false,
            request_interval: 10,
            failure_threshold: 3,
            ..Default::default()
        }
    }

    fn decision_spec() -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: "CLOUDWATCH_METRIC".into(),
            alarm: Some(AlarmRef { region: "us-east-2".into(), name: ALARM.into() }),
            insufficient_data_health_status: Some("Healthy".into()),
            ..Default::default()
        }
    }

    fn failover_spec(api: &str, decision: &str) -> HealthCheckSpec {
        HealthCheckSpec {
            check_type: "CALCULATED".into(),
            child_health_checks: vec![api.into(), decision.into()],
            health_threshold: Some(2),
            ..Default::default()
        }
    }

    fn info(id: &str, caller: &str, spec: HealthCheckSpec) -> HealthCheckInfo {
        HealthCheckInfo { id: id.into(), caller_reference: caller.into(), spec }
    }

    fn outputs() -> HealthOutputs {
        HealthOutputs {
            api_check_id: "hc-api".into(),
            api_check_arn: "arn:aws:route53:::healthcheck/hc-api".into(),
            nlb_check_id: "hc-nlb".into(),
            nlb_check_arn: "arn:aws:route53:::healthcheck/hc-nlb".into(),
            decision_check_id: Some("hc-decision".into()),
            failover_check_id: Some("hc-failover".into()),
            failover_check_arn: Some("arn:aws:route53:::healthcheck/hc-failover".into()),
        }
    }

    /// The four checks as Route 53 has them after a good apply, by id.
    fn healthy_world(m: &mut MockRoute53Api) {
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| Ok(info(id, "health-api-primary-t-x", api_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| Ok(info(id, "health-nlb-primary-t-x", nlb_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-decision").returning(|id| Ok(info(id, "r", decision_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-failover").returning(|id| Ok(info(id, "r", failover_spec("hc-api", "hc-decision"))));
    }

    fn tags_of(id: &str) -> Vec<(String, String)> {
        let name = match id {
            "hc-api" => "health-api-primary-t",
            "hc-nlb" => "health-nlb-primary-t",
            "hc-decision" => "health-decision-primary-t",
            _ => "health-failover-primary-t",
        };
        naming::tags("t", name)
    }

    fn all_recorded() -> [(&'static str, &'static str); 4] {
        [("api-check", "hc-api"), ("nlb-check", "hc-nlb"), ("decision-check", "hc-decision"), ("failover-check", "hc-failover")]
    }

    #[tokio::test(start_paused = true)]
    async fn creates_api_nlb_decision_then_calculated_check_and_tags_them() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        let steps: [(&str, &str, HealthCheckSpec); 4] = [
            ("hc-api", "health-api-primary-t", api_spec()),
            ("hc-nlb", "health-nlb-primary-t", nlb_spec()),
            ("hc-decision", "health-decision-primary-t", decision_spec()),
            ("hc-failover", "health-failover-primary-t", failover_spec("hc-api", "hc-decision")),
        ];
        for (id, name, want) in steps {
            m.expect_list_health_checks().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
            m.expect_create_health_check()
                .withf(move |caller, spec| caller.len() == 32 && *spec == want)
                .times(1)
                .in_sequence(&mut s)
                .returning(move |c, spec| Ok(info(id, c, spec)));
            m.expect_tag_health_check()
                .withf(move |i, tags| i == id && *tags == naming::tags("t", name))
                .times(1)
                .in_sequence(&mut s)
                .returning(|_, _| Ok(()));
        }
        let c = component(m);
        let out: HealthOutputs = from_outputs(&c.apply(&ctx()).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
        assert_eq!(out.routing_check_id(), "hc-failover");
    }

    #[tokio::test(start_paused = true)]
    async fn the_secondary_makes_only_its_api_and_nlb_checks() {
        let mut m = MockRoute53Api::new();
        m.expect_list_health_checks().returning(|| Ok(vec![]));
        m.expect_create_health_check()
            .withf(|_, spec| spec.check_type == "HTTPS" || spec.check_type == "TCP")
            .times(2)
            .returning(|c, spec| Ok(info(if spec.check_type == "TCP" { "hc-nlb-s" } else { "hc-api-s" }, c, spec)));
        m.expect_tag_health_check().times(2).returning(|_, _| Ok(()));
        let c = HealthComponent::new(&cfg(), Placement::Secondary, Arc::new(m));
        assert_eq!(c.dependencies(), vec!["api-secondary".to_string(), "loadbalancer-secondary".to_string()]);
        assert!(c.desired().update_on.get("decision").is_none(), "the secondary's desired configuration is unchanged");
        let ctx = Ctx::standalone("health-secondary", ROUTE53_REGION)
            .with_input("api-secondary", &api("us-east-2", "def456", false))
            .with_input("loadbalancer-secondary", &lb("us-east-2"));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!((out.decision_check_id, out.failover_check_id, out.failover_check_arn), (None, None, None));
        assert_eq!(out.api_check_id, "hc-api-s");
    }

    #[tokio::test(start_paused = true)]
    async fn the_primary_needs_the_decision_alarm() {
        let c = component(MockRoute53Api::new());
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "abc123", false))
            .with_input("loadbalancer-primary", &lb("us-east-1"));
        let msg = c.apply(&ctx).await.expect_err("no failover-alarms outputs").to_string();
        assert!(msg.contains("failover-alarms"), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn caller_references_are_unique_per_creation() {
        let refs = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        for _ in 0..2 {
            let mut m = MockRoute53Api::new();
            m.expect_list_health_checks().returning(|| Ok(vec![]));
            let r = refs.clone();
            m.expect_create_health_check().returning(move |c, spec| {
                r.lock().unwrap_or_else(|p| p.into_inner()).push(c.to_string());
                Ok(info("hc", c, spec))
            });
            m.expect_tag_health_check().returning(|_, _| Ok(()));
            component(m).apply(&ctx()).await.expect("apply");
        }
        let mut v = refs.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let n = v.len();
        assert_eq!(n, 8, "four checks per run");
        v.sort();
        v.dedup();
        assert_eq!(v.len(), n, "every CallerReference differs");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_existing_checks_makes_no_mutating_call() {
        let mut m = MockRoute53Api::new();
        healthy_world(&mut m);
        m.expect_list_health_check_tags().returning(|id| Ok(tags_of(id)));
        let c = component(m);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &all_recorded()));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
    }

    #[tokio::test(start_paused = true)]
    async fn state_of_an_earlier_release_gets_the_decision_and_calculated_checks() {
        // health-primary as an earlier release left it: API and NLB checks only.
        let mut m = MockRoute53Api::new();
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| Ok(info(id, "r", api_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| Ok(info(id, "r", nlb_spec())));
        m.expect_list_health_check_tags().returning(|id| Ok(tags_of(id)));
        m.expect_list_health_checks().times(2).returning(|| Ok(vec![]));
        m.expect_create_health_check()
            .withf(|_, spec| *spec == decision_spec())
            .times(1)
            .returning(|c, spec| Ok(info("hc-decision", c, spec)));
        m.expect_create_health_check()
            .withf(|_, spec| *spec == failover_spec("hc-api", "hc-decision"))
            .times(1)
            .returning(|c, spec| Ok(info("hc-failover", c, spec)));
        m.expect_tag_health_check().times(2).returning(|_, _| Ok(()));
        let c = component(m);
        let older = HealthOutputs { decision_check_id: None, failover_check_id: None, failover_check_arn: None, ..outputs() };
        let ctx = ctx().with_prior(prior(&c, &older, &[("api-check", "hc-api"), ("nlb-check", "hc-nlb")]));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
        // The planner sees an update (updatable keys), never a replacement of the API check.
        let mut before = c.desired();
        if let Some(o) = before.update_on.as_object_mut() {
            o.remove("decision");
            o.remove("failover");
        }
        let mut state = tandem_core::state::ComponentState::new(c.kind(), c.placement(), c.region()).with_outputs(to_outputs(&older));
        state.replace_hash = tandem_core::planner::stable_hash(&before.replace_on);
        state.replace_keys = tandem_core::planner::key_hashes(&before.replace_on);
        state.update_hash = tandem_core::planner::stable_hash(&before.update_on);
        state.update_keys = tandem_core::planner::key_hashes(&before.update_on);
        state.status = tandem_core::state::ComponentStatus::Applied;
        let (action, reason) = c.plan(Some(&state)).await;
        assert_eq!(action, tandem_core::Action::Update, "{reason}");
        assert!(reason.contains("decision") && reason.contains("failover"), "{reason}");
    }

    #[tokio::test(start_paused = true)]
    async fn changed_threshold_or_target_is_updated_in_place() {
        let mut m = MockRoute53Api::new();
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| {
            let mut s = api_spec();
            s.fqdn = "old.execute-api.us-east-1.amazonaws.com".into();
            Ok(info(id, "r", s))
        });
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| {
            let mut s = nlb_spec();
            s.failure_threshold = 5;
            Ok(info(id, "r", s))
        });
        m.expect_get_health_check().withf(|id| id == "hc-decision").returning(|id| Ok(info(id, "r", decision_spec())));
        // Same children in another order: no update.
        m.expect_get_health_check().withf(|id| id == "hc-failover").returning(|id| Ok(info(id, "r", failover_spec("hc-decision", "hc-api"))));
        m.expect_list_health_check_tags().returning(|id| Ok(tags_of(id)));
        m.expect_update_health_check().withf(|id, s| id == "hc-api" && *s == api_spec()).times(1).returning(|id, s| Ok(info(id, "r", s)));
        m.expect_update_health_check().withf(|id, s| id == "hc-nlb" && *s == nlb_spec()).times(1).returning(|id, s| Ok(info(id, "r", s)));
        let c = component(m);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[]));
        c.apply(&ctx).await.expect("apply");
    }

    #[tokio::test(start_paused = true)]
    async fn changed_alarm_insufficient_data_children_or_threshold_are_updated_in_place() {
        let mut m = MockRoute53Api::new();
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| Ok(info(id, "r", api_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| Ok(info(id, "r", nlb_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-decision").returning(|id| {
            let mut s = decision_spec();
            s.alarm = Some(AlarmRef { region: "us-west-2".into(), name: "someone-elses".into() });
            s.insufficient_data_health_status = Some("LastKnownStatus".into());
            Ok(info(id, "r", s))
        });
        m.expect_get_health_check().withf(|id| id == "hc-failover").returning(|id| {
            let mut s = failover_spec("hc-api", "hc-gone");
            s.health_threshold = Some(1);
            Ok(info(id, "r", s))
        });
        m.expect_list_health_check_tags().returning(|id| Ok(tags_of(id)));
        let mut s = Sequence::new();
        m.expect_update_health_check()
            .withf(|id, s| id == "hc-decision" && *s == decision_spec())
            .times(1)
            .in_sequence(&mut s)
            .returning(|id, s| Ok(info(id, "r", s)));
        m.expect_update_health_check()
            .withf(|id, s| id == "hc-failover" && *s == failover_spec("hc-api", "hc-decision"))
            .times(1)
            .in_sequence(&mut s)
            .returning(|id, s| Ok(info(id, "r", s)));
        let c = component(m);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &all_recorded()));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_api_check_leaves_the_calculated_check_before_it_is_deleted() {
        // The request interval changed (immutable): a new API check is created, the calculated
        // check is re-pointed at it, and only then is the old one deleted.
        let mut m = MockRoute53Api::new();
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| {
            let mut s = api_spec();
            s.request_interval = 30;
            Ok(info(id, "health-api-primary-t-x", s))
        });
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| Ok(info(id, "r", nlb_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-decision").returning(|id| Ok(info(id, "r", decision_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-failover").returning(|id| Ok(info(id, "r", failover_spec("hc-api", "hc-decision"))));
        m.expect_list_health_check_tags().returning(|id| Ok(tags_of(id)));
        m.expect_list_health_checks().returning(|| {
            let mut old = api_spec();
            old.request_interval = 30;
            Ok(vec![info("hc-api", "health-api-primary-t-x", old)])
        });
        m.expect_create_health_check().withf(|_, s| *s == api_spec()).times(1).returning(|c, s| Ok(info("hc-api2", c, s)));
        m.expect_tag_health_check().withf(|id, _| id == "hc-api2").times(1).returning(|_, _| Ok(()));
        let mut s = Sequence::new();
        m.expect_update_health_check()
            .withf(|id, s| id == "hc-failover" && *s == failover_spec("hc-api2", "hc-decision"))
            .times(1)
            .in_sequence(&mut s)
            .returning(|id, s| Ok(info(id, "r", s)));
        m.expect_delete_health_check().withf(|id| id == "hc-api").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        let mut cfg10 = cfg();
        cfg10.health.request_interval = 10;
        let c = HealthComponent::new(&cfg10, Placement::Primary, Arc::new(m));
        let ctx = ctx().with_prior(prior(&c, &outputs(), &all_recorded()));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out.api_check_id, "hc-api2");
        assert_eq!(out.failover_check_id.as_deref(), Some("hc-failover"), "the calculated check keeps its id");
        assert!(ctx.keys().await.iter().all(|k| !k.as_str().starts_with(RETIRED_PREFIX)), "the retired check is deleted and forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn resume_adopts_a_check_by_caller_reference_and_tags_it() {
        let mut m = MockRoute53Api::new();
        m.expect_list_health_checks().returning(|| {
            Ok(vec![
                info("hc-other", "someone-else-1", nlb_spec()),
                info("hc-api", "health-api-primary-t-abc", api_spec()),
                info("hc-nlb", "health-nlb-primary-t-def", nlb_spec()),
                info("hc-decision", "health-decision-primary-t-ghi", decision_spec()),
                info("hc-failover", "health-failover-primary-t-jkl", failover_spec("hc-api", "hc-decision")),
            ])
        });
        m.expect_list_health_check_tags().returning(|_| Ok(vec![]));
        m.expect_tag_health_check().times(4).returning(|_, _| Ok(()));
        let c = component(m);
        let ctx = ctx().with_prior(pending_state(&c, "api-check"));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_the_calculated_check_first_and_not_found_is_success() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        for id in ["hc-failover", "hc-decision", "hc-api"] {
            m.expect_delete_health_check().withf(move |i| i == id).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        }
        m.expect_delete_health_check()
            .withf(|id| id == "hc-nlb")
            .times(1)
            .in_sequence(&mut s)
            .returning(|id| Err(AwsError::not_found("NoSuchHealthCheck", id.to_string())));
        let c = component(m);
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &outputs(), &all_recorded()));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_of_state_without_the_new_checks_deletes_the_two() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        for id in ["hc-api", "hc-nlb"] {
            m.expect_delete_health_check().withf(move |i| i == id).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        }
        let c = component(m);
        let older = HealthOutputs { decision_check_id: None, failover_check_id: None, failover_check_arn: None, ..outputs() };
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &older, &[("api-check", "hc-api"), ("nlb-check", "hc-nlb")]));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn check_in_use_and_throttling_are_retried_on_delete() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        m.expect_delete_health_check().times(1).in_sequence(&mut s).returning(|_| Err(AwsError::other("HealthCheckInUse", "used by a record")));
        m.expect_delete_health_check().times(1).in_sequence(&mut s).returning(|_| Err(AwsError::throttling()));
        m.expect_delete_health_check().times(4).in_sequence(&mut s).returning(|_| Ok(()));
        let c = component(m);
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]));
        c.destroy(&ctx).await.expect("destroy after retries");
    }

    #[tokio::test(start_paused = true)]
    async fn errors_name_the_check_and_region() {
        let mut m = MockRoute53Api::new();
        m.expect_list_health_checks().returning(|| Ok(vec![]));
        m.expect_create_health_check().returning(|_, _| Err(AwsError::other("InvalidInput", "bad fqdn")));
        let msg = component(m).apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains("health-api-primary-t") && msg.contains("us-east-1") && msg.contains("InvalidInput"), "{msg}");
        // The decision check's create failing names it (e.g. the alarm does not exist yet).
        let mut m = MockRoute53Api::new();
        m.expect_list_health_checks().returning(|| Ok(vec![]));
        m.expect_create_health_check().withf(|_, s| s.is_endpoint()).returning(|c, s| Ok(info(&format!("hc-{}", s.check_type), c, s)));
        m.expect_create_health_check().returning(|_, _| Err(AwsError::other("InvalidInput", "no such alarm")));
        m.expect_tag_health_check().returning(|_, _| Ok(()));
        let msg = component(m).apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains("health-decision-primary-t") && msg.contains("no such alarm"), "{msg}");
    }

    #[tokio::test]
    async fn read_reports_missing_and_drift() {
        let mut m = MockRoute53Api::new();
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| Err(AwsError::not_found("NoSuchHealthCheck", id.to_string())));
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| {
            let mut s = nlb_spec();
            s.failure_threshold = 7;
            Ok(info(id, "r", s))
        });
        m.expect_get_health_check().withf(|id| id == "hc-decision").returning(|id| Ok(info(id, "r", decision_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-failover").returning(|id| Ok(info(id, "r", failover_spec("hc-api", "hc-decision"))));
        let c = component(m);
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]));
        match c.read(&ctx).await.expect("read") {
            Drift::Missing { details } => assert_eq!(details.len(), 2, "{details:?}"),
            other => panic!("expected Missing, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn read_reports_drift_of_the_decision_and_calculated_checks() {
        let mut m = MockRoute53Api::new();
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| Ok(info(id, "r", api_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| Ok(info(id, "r", nlb_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-decision").returning(|id| {
            let mut s = decision_spec();
            s.insufficient_data_health_status = Some("Unhealthy".into());
            Ok(info(id, "r", s))
        });
        m.expect_get_health_check().withf(|id| id == "hc-failover").returning(|id| {
            let mut s = failover_spec("hc-api", "hc-other");
            s.health_threshold = Some(1);
            Ok(info(id, "r", s))
        });
        let c = component(m);
        // No inputs (a refresh): the alarm wanted is the deterministic one in the secondary.
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]));
        match c.read(&ctx).await.expect("read") {
            Drift::Drifted { details } => {
                assert_eq!(details.len(), 3, "{details:?}");
                assert!(details[0].contains("health-decision-primary-t") && details[0].contains("Unhealthy"), "{details:?}");
                assert!(details[1].contains("health-failover-primary-t") && details[1].contains("hc-other"), "{details:?}");
                assert!(details[2].contains("health threshold 1 (want 2)"), "{details:?}");
            }
            other => panic!("expected Drifted, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn read_in_sync_and_older_state_misses_the_new_checks() {
        let mut m = MockRoute53Api::new();
        healthy_world(&mut m);
        let c = component(m);
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]));
        assert_eq!(c.read(&ctx).await.expect("read"), Drift::InSync);
        let older = HealthOutputs { decision_check_id: None, failover_check_id: None, failover_check_arn: None, ..outputs() };
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &older, &[]));
        match c.read(&ctx).await.expect("read") {
            Drift::Missing { details } => {
                assert_eq!(details, vec!["health-decision-primary-t: not recorded", "health-failover-primary-t: not recorded"])
            }
            other => panic!("expected Missing, got {other:?}"),
        }
    }

    /// A Route 53 that deduplicates CallerReferences (as AWS does) and loses the answer of
    /// the first `lose` creates (and of the first create of each type in `lose_types`); its
    /// list shows the checks only when `visible`.
    struct LossyRoute53 {
        checks: std::sync::Mutex<Vec<HealthCheckInfo>>,
        references: std::sync::Mutex<Vec<String>>,
        lose: std::sync::atomic::AtomicUsize,
        lose_types: std::sync::Mutex<Vec<String>>,
        visible: std::sync::atomic::AtomicBool,
    }

    fn lossy(lose: usize, visible: bool) -> Arc<LossyRoute53> {
        Arc::new(LossyRoute53 {
            checks: std::sync::Mutex::new(Vec::new()),
            references: std::sync::Mutex::new(Vec::new()),
            lose: std::sync::atomic::AtomicUsize::new(lose),
            lose_types: std::sync::Mutex::new(Vec::new()),
            visible: std::sync::atomic::AtomicBool::new(visible),
        })
    }

    fn mock_of(w: &Arc<LossyRoute53>) -> MockRoute53Api {
        use std::sync::atomic::Ordering::SeqCst;
        let mut m = MockRoute53Api::new();
        let (a, b, c) = (w.clone(), w.clone(), w.clone());
        m.expect_create_health_check().returning(move |caller, spec| {
            a.references.lock().unwrap_or_else(|p| p.into_inner()).push(caller.to_string());
            let mut checks = a.checks.lock().unwrap_or_else(|p| p.into_inner());
            let check = match checks.iter().find(|c| c.caller_reference == caller) {
                Some(c) => c.clone(),
                None => {
                    let c = info(&format!("hc-{}", checks.len() + 1), caller, spec.clone());
                    checks.push(c.clone());
                    c
                }
            };
            let mut types = a.lose_types.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = types.iter().position(|t| *t == spec.check_type) {
                types.remove(i);
                return Err(AwsError::new("InternalError", "connection reset", Some(500)));
            }
            if a.lose.load(SeqCst) > 0 {
                a.lose.fetch_sub(1, SeqCst);
                return Err(AwsError::new("InternalError", "connection reset", Some(500)));
            }
            Ok(check)
        });
        m.expect_list_health_checks().returning(move || {
            Ok(if b.visible.load(SeqCst) { b.checks.lock().unwrap_or_else(|p| p.into_inner()).clone() } else { Vec::new() })
        });
        m.expect_get_health_check().returning(move |id| {
            c.checks.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|x| x.id == id).cloned().ok_or_else(|| AwsError::not_found("NoSuchHealthCheck", id.to_string()))
        });
        m.expect_list_health_check_tags().returning(|_| Ok(vec![]));
        m.expect_tag_health_check().returning(|_, _| Ok(()));
        m
    }

    fn state_of(c: &HealthComponent, journal: std::collections::BTreeMap<String, tandem_core::state::ResourceEntry>) -> tandem_core::state::ComponentState {
        let mut s = tandem_core::state::ComponentState::new(c.kind(), c.placement(), c.region());
        s.resources = journal;
        s
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_create_answer_is_found_by_its_caller_reference_not_created_again() {
        // The first create succeeds on Route 53 but its answer is lost.
        let w = lossy(1, true);
        let c = component(mock_of(&w));
        let ctx = ctx();
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        let checks = w.checks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(checks.len(), 4, "one check per target: {checks:?}");
        assert_eq!(w.references.lock().unwrap_or_else(|p| p.into_inner()).len(), 4, "each create sent once (the lost one found by reference)");
        assert_eq!(ctx.recorded_id(&KEY_API).await.as_deref(), Some(out.api_check_id.as_str()));
        assert_eq!(ctx.entry(&KEY_API).await.map(|e| e.status), Some(tandem_core::state::ResourceStatus::Done));
        assert_eq!(ctx.recorded_id(&KEY_NLB).await.as_deref(), Some(out.nlb_check_id.as_str()));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_of_the_decision_and_calculated_checks_are_adopted() {
        let w = lossy(0, true);
        *w.lose_types.lock().unwrap_or_else(|p| p.into_inner()) = vec!["CLOUDWATCH_METRIC".into(), "CALCULATED".into()];
        let c = component(mock_of(&w));
        let ctx = ctx();
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        let checks = w.checks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(checks.len(), 4, "no duplicate: {checks:?}");
        assert_eq!(w.references.lock().unwrap_or_else(|p| p.into_inner()).len(), 4, "no create sent twice");
        let decision = checks.iter().find(|x| x.spec.check_type == "CLOUDWATCH_METRIC").map(|x| x.id.clone());
        let calculated = checks.iter().find(|x| x.spec.check_type == "CALCULATED").cloned().expect("calculated check");
        assert_eq!(out.decision_check_id, decision);
        assert_eq!(ctx.recorded_id(&KEY_DECISION).await, decision);
        assert_eq!(ctx.recorded_id(&KEY_FAILOVER).await.as_deref(), Some(calculated.id.as_str()));
        assert_eq!(ctx.entry(&KEY_FAILOVER).await.map(|e| e.status), Some(tandem_core::state::ResourceStatus::Done));
        assert_eq!(out.failover_check_id.as_deref(), Some(calculated.id.as_str()));
        assert_eq!(calculated.spec.child_health_checks, vec![out.api_check_id.clone(), decision.unwrap_or_default()]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_ambiguous_create_is_resumed_with_the_same_caller_reference() {
        // Run 1: every answer is lost and the list lags: the run gives up, the entry stays
        // pending with its token. Route 53 deduplicates the retries: one check.
        let w = lossy(usize::MAX, false);
        let c = component(mock_of(&w));
        let ctx1 = ctx();
        c.apply(&ctx1).await.expect_err("ambiguous until the end");
        let entry = ctx1.entry(&KEY_API).await.expect("journaled");
        assert_eq!(entry.status, tandem_core::state::ResourceStatus::Pending);
        let token = entry.token.clone().expect("token kept");
        let refs = w.references.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(refs.len() > 1 && refs.iter().all(|r| *r == token), "every retry carries the journal's token: {refs:?}");
        assert_eq!(w.checks.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
        // Run 2 (resumed from the journal): the check is found by its CallerReference.
        w.lose.store(0, std::sync::atomic::Ordering::SeqCst);
        w.visible.store(true, std::sync::atomic::Ordering::SeqCst);
        let ctx2 = ctx().with_prior(state_of(&c, ctx1.journal_entries().await));
        c.apply(&ctx2).await.expect("resumed apply");
        let checks = w.checks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(checks.iter().filter(|x| x.spec.check_type == "HTTPS").count(), 1, "exactly one API check: {checks:?}");
        let api = checks.iter().find(|x| x.spec.check_type == "HTTPS").map(|x| x.id.clone());
        assert_eq!(ctx2.recorded_id(&KEY_API).await, api, "the journal records it");
        assert_eq!(w.references.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|r| **r == token).count(), refs.len(), "not sent again");
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_finds_a_check_whose_create_answer_was_lost() {
        let w = lossy(usize::MAX, false);
        let c = component(mock_of(&w));
        let ctx1 = ctx();
        c.apply(&ctx1).await.expect_err("ambiguous");
        w.visible.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut m = mock_of(&w);
        let w2 = w.clone();
        m.expect_delete_health_check().times(1).returning(move |id| {
            w2.checks.lock().unwrap_or_else(|p| p.into_inner()).retain(|x| x.id != id);
            Ok(())
        });
        let c = component(m);
        let d = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(state_of(&c, ctx1.journal_entries().await));
        c.destroy(&d).await.expect("destroy");
        assert!(w.checks.lock().unwrap_or_else(|p| p.into_inner()).is_empty(), "the orphan is deleted");
        assert!(d.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_finds_a_calculated_check_whose_create_answer_was_lost() {
        // Run 1: the calculated check's create answer is lost for good (list lagging): the
        // entry stays pending. Destroy finds it by its CallerReference and deletes it first.
        let w = lossy(0, false);
        *w.lose_types.lock().unwrap_or_else(|p| p.into_inner()) = vec!["CALCULATED".into(); 100];
        let c = component(mock_of(&w));
        let ctx1 = ctx();
        c.apply(&ctx1).await.expect_err("ambiguous");
        assert_eq!(ctx1.entry(&KEY_FAILOVER).await.map(|e| e.status), Some(tandem_core::state::ResourceStatus::Pending));
        w.visible.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut m = mock_of(&w);
        let w2 = w.clone();
        let order = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let o = order.clone();
        m.expect_delete_health_check().times(4).returning(move |id| {
            let mut checks = w2.checks.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(x) = checks.iter().find(|x| x.id == id) {
                o.lock().unwrap_or_else(|p| p.into_inner()).push(x.spec.check_type.clone());
            }
            checks.retain(|x| x.id != id);
            Ok(())
        });
        let c = component(m);
        let d = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(state_of(&c, ctx1.journal_entries().await));
        c.destroy(&d).await.expect("destroy");
        assert!(w.checks.lock().unwrap_or_else(|p| p.into_inner()).is_empty(), "every check deleted");
        assert_eq!(*order.lock().unwrap_or_else(|p| p.into_inner()), vec!["CALCULATED", "CLOUDWATCH_METRIC", "HTTPS", "TCP"]);
    }

    #[test]
    fn interval_forces_replacement_and_dependencies_are_the_region_api_nlb_and_decision() {
        let c = component(MockRoute53Api::new());
        assert_eq!(c.desired().replace_on["request_interval"], 10);
        assert_eq!(c.desired().update_on["decision"]["alarm"], ALARM);
        assert_eq!(c.desired().update_on["decision"]["alarm_region"], "us-east-2");
        assert_eq!(c.desired().update_on["failover"]["health_threshold"], 2);
        assert_eq!(c.dependencies(), vec!["api-primary".to_string(), "loadbalancer-primary".to_string(), "failover-alarms".to_string()]);
        assert_eq!(c.region(), "us-east-1");
        assert_eq!(c.output_type().short_name(), "HealthOutputs");
        c.output_type().check(&tandem_core::to_outputs(&outputs())).expect("declared outputs");
    }
}
