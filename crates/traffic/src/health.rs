//! The `health-{role}` components: Route 53 health checks of one region.
//!
//! Two checks per region, both built only from the outputs of the components that created
//! their targets (never by looking targets up by name):
//! - `health-api-{role}-{s}`: HTTPS on the REST API's execute-api host
//!   (`api-{role}` → `execute_api_host`), path `/<stage>/health`, port 443, SNI;
//! - `health-nlb-{role}-{s}`: TCP 443 on the NLB DNS name (`loadbalancer-{role}`).
//!
//! Route 53 is global; the calls go to us-east-1 ([`ROUTE53_REGION`]). The request interval
//! (10 or 30 s) cannot change after creation, so it forces replacement; the failure
//! threshold, target and path are updated in place.
//!
//! Resource protocol: a check is created with [`Rule::Token`]: its `CallerReference` is the
//! journal's token, reused by every retry and by a resumed run, so Route 53 answers a
//! repeated create with the same check. After an ambiguous failure the check is looked up
//! by that reference before anything is sent again. Checks of older runs (references
//! `<name>-<random>`, or the `Name`/`tandem:stack` tags) are still adopted. Route 53 takes no
//! tags in CreateHealthCheck: they are written right after, through `ctx.update`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{retry, retry_if, ROUTE53_REGION};
use tandem_core::contracts::{ids, ApiOutputs, HealthOutputs, LoadBalancerOutputs};
use tandem_core::naming;
use tandem_core::{to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, How, Key, Outputs, Placement, Rule};
use tracing::Instrument;

use crate::common::{has_stack_tag, tag_value};
use crate::route53_api::{HealthCheckInfo, HealthCheckSpec, Route53Api};

/// The port both checks probe.
pub const CHECK_PORT: i32 = 443;

const KEY_API: Key = Key::new("api-check");
const KEY_NLB: Key = Key::new("nlb-check");
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
    client: Arc<dyn Route53Api>,
}

/// Which of the two checks.
#[derive(Clone, Copy)]
enum Which {
    Api,
    Nlb,
}

impl Which {
    fn key(self) -> Key {
        match self {
            Which::Api => KEY_API,
            Which::Nlb => KEY_NLB,
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
            client,
        }
    }

    fn check_name(&self, which: Which) -> String {
        match which {
            Which::Api => naming::name("health-api", self.role, &self.suffix),
            Which::Nlb => naming::name("health-nlb", self.role, &self.suffix),
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
        }
    }

    fn prior_id(ctx: &Ctx, which: Which) -> Option<String> {
        ctx.prior_outputs::<HealthOutputs>().map(|o| match which {
            Which::Api => o.api_check_id,
            Which::Nlb => o.nlb_check_id,
        })
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
        if c.spec.check_type != spec.check_type || c.spec.request_interval != spec.request_interval {
            // Type and interval are immutable: retire the old check, create the new one, then
            // delete the old one (kept journaled while a failover record still uses it).
            tracing::info!(check = %name, old = %c.id, "replacing health check (type or interval changed)");
            let retired = retired_key(&c.id);
            ctx.adopt(&retired, &c.id).await?;
            ctx.forget(&key).await?;
            let new = self.ensure_check(ctx, which, &spec).await?;
            if let Err(e) = ctx.delete_recorded(&retired, &name, |id| async move { self.delete_check(&id).await }).await {
                // Still referenced (failover records are updated after this component):
                // the next apply or destroy deletes it.
                tracing::warn!(check = %name, old = %c.id, error = %e, "old health check still in use; will retry");
            }
            return Ok(new);
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
        self.delete_retired(ctx, false).await?;
        let api_check = self.ensure(ctx, Which::Api, self.spec_api(&api)).await?;
        let nlb_check = self.ensure(ctx, Which::Nlb, self.spec_nlb(&lb)).await?;
        Ok(to_outputs(&HealthOutputs {
            api_check_arn: health_check_arn(&api_check.id),
            api_check_id: api_check.id,
            nlb_check_arn: health_check_arn(&nlb_check.id),
            nlb_check_id: nlb_check.id,
            ..Default::default()
        }))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        for which in [Which::Api, Which::Nlb] {
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
        for which in [Which::Api, Which::Nlb] {
            let name = self.check_name(which);
            let Some(id) = Self::prior_id(ctx, which).or(ctx.recorded_id(&which.key()).await) else {
                missing.push(format!("{name}: not recorded"));
                continue;
            };
            match retry(|| self.client.get_health_check(&id)).await {
                Ok(c) => {
                    if c.spec.request_interval != self.interval {
                        drift.push(format!("{name}: interval {} s (want {} s)", c.spec.request_interval, self.interval));
                    }
                    if c.spec.failure_threshold != self.threshold {
                        drift.push(format!("{name}: failure threshold {} (want {})", c.spec.failure_threshold, self.threshold));
                    }
                }
                Err(e) if e.is_not_found() => missing.push(format!("{name} ({id}) is gone")),
                Err(e) => return Err(e).at(&name, ROUTE53_REGION),
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
    let https = want.check_type != "TCP";
    crate::route53_api::dns_eq(&have.fqdn, &want.fqdn)
        && have.port == want.port
        && have.failure_threshold == want.failure_threshold
        && (!https || (have.resource_path == want.resource_path && have.enable_sni == want.enable_sni))
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
        vec![ids::api(self.role), ids::load_balancer(self.role)]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::HealthOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        Duration::from_secs(20)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({
                "names": [self.check_name(Which::Api), self.check_name(Which::Nlb)],
                "request_interval": self.interval,
                "types": ["HTTPS", "TCP"],
            }),
            json!({ "failure_threshold": self.threshold, "port": CHECK_PORT, "enable_sni": true }),
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

    fn component(m: MockRoute53Api) -> HealthComponent {
        HealthComponent::new(&cfg(), Placement::Primary, Arc::new(m))
    }

    fn ctx() -> Ctx {
        Ctx::standalone("health-primary", ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "abc123", false))
            .with_input("loadbalancer-primary", &lb("us-east-1"))
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
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn creates_both_checks_from_the_inputs_and_tags_them() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        m.expect_list_health_checks().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        m.expect_create_health_check()
            .withf(|caller, spec| caller.len() == 32 && *spec == api_spec())
            .times(1)
            .in_sequence(&mut s)
            .returning(|c, spec| Ok(info("hc-api", c, spec)));
        m.expect_tag_health_check()
            .withf(|id, tags| id == "hc-api" && *tags == naming::tags("t", "health-api-primary-t"))
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok(()));
        m.expect_list_health_checks().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        m.expect_create_health_check()
            .withf(|caller, spec| caller.len() == 32 && *spec == nlb_spec())
            .times(1)
            .in_sequence(&mut s)
            .returning(|c, spec| Ok(info("hc-nlb", c, spec)));
        m.expect_tag_health_check().withf(|id, _| id == "hc-nlb").times(1).in_sequence(&mut s).returning(|_, _| Ok(()));
        let c = component(m);
        let out: HealthOutputs = from_outputs(&c.apply(&ctx()).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
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
        v.sort();
        v.dedup();
        assert_eq!(v.len(), n, "every CallerReference differs");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_existing_checks_makes_no_mutating_call() {
        let mut m = MockRoute53Api::new();
        m.expect_get_health_check().withf(|id| id == "hc-api").returning(|id| Ok(info(id, "health-api-primary-t-x", api_spec())));
        m.expect_get_health_check().withf(|id| id == "hc-nlb").returning(|id| Ok(info(id, "health-nlb-primary-t-x", nlb_spec())));
        m.expect_list_health_check_tags().withf(|id| id == "hc-api").returning(|_| Ok(naming::tags("t", "health-api-primary-t")));
        m.expect_list_health_check_tags().withf(|id| id == "hc-nlb").returning(|_| Ok(naming::tags("t", "health-nlb-primary-t")));
        let c = component(m);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[("api-check", "hc-api"), ("nlb-check", "hc-nlb")]));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
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
        m.expect_list_health_check_tags().returning(|id| {
            Ok(naming::tags("t", if id == "hc-api" { "health-api-primary-t" } else { "health-nlb-primary-t" }))
        });
        m.expect_update_health_check().withf(|id, s| id == "hc-api" && *s == api_spec()).times(1).returning(|id, s| Ok(info(id, "r", s)));
        m.expect_update_health_check().withf(|id, s| id == "hc-nlb" && *s == nlb_spec()).times(1).returning(|id, s| Ok(info(id, "r", s)));
        let c = component(m);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[]));
        c.apply(&ctx).await.expect("apply");
    }

    #[tokio::test(start_paused = true)]
    async fn resume_adopts_a_check_by_caller_reference_and_tags_it() {
        let mut m = MockRoute53Api::new();
        m.expect_list_health_checks().returning(|| {
            Ok(vec![info("hc-other", "someone-else-1", nlb_spec()), info("hc-api", "health-api-primary-t-abc", api_spec()), info("hc-nlb", "health-nlb-primary-t-def", nlb_spec())])
        });
        m.expect_list_health_check_tags().returning(|_| Ok(vec![]));
        m.expect_tag_health_check().times(2).returning(|_, _| Ok(()));
        let c = component(m);
        let ctx = ctx().with_prior(pending_state(&c, "api-check"));
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_both_and_not_found_is_success() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        m.expect_delete_health_check().withf(|id| id == "hc-api").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        m.expect_delete_health_check()
            .withf(|id| id == "hc-nlb")
            .times(1)
            .in_sequence(&mut s)
            .returning(|id| Err(AwsError::not_found("NoSuchHealthCheck", id.to_string())));
        let c = component(m);
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[("api-check", "hc-api"), ("nlb-check", "hc-nlb")]));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn check_in_use_and_throttling_are_retried_on_delete() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        m.expect_delete_health_check().times(1).in_sequence(&mut s).returning(|_| Err(AwsError::other("HealthCheckInUse", "used by a record")));
        m.expect_delete_health_check().times(1).in_sequence(&mut s).returning(|_| Err(AwsError::throttling()));
        m.expect_delete_health_check().times(2).in_sequence(&mut s).returning(|_| Ok(()));
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
        let c = component(m);
        let ctx = Ctx::standalone("health-primary", ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]));
        match c.read(&ctx).await.expect("read") {
            Drift::Missing { details } => assert_eq!(details.len(), 2, "{details:?}"),
            other => panic!("expected Missing, got {other:?}"),
        }
    }

    /// A Route 53 that deduplicates CallerReferences (as AWS does) and loses the answer of
    /// the first `lose` creates; its list shows the checks only when `visible`.
    struct LossyRoute53 {
        checks: std::sync::Mutex<Vec<HealthCheckInfo>>,
        references: std::sync::Mutex<Vec<String>>,
        lose: std::sync::atomic::AtomicUsize,
        visible: std::sync::atomic::AtomicBool,
    }

    fn lossy(lose: usize, visible: bool) -> Arc<LossyRoute53> {
        Arc::new(LossyRoute53 {
            checks: std::sync::Mutex::new(Vec::new()),
            references: std::sync::Mutex::new(Vec::new()),
            lose: std::sync::atomic::AtomicUsize::new(lose),
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
                    let c = info(&format!("hc-{}", checks.len() + 1), caller, spec);
                    checks.push(c.clone());
                    c
                }
            };
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
        // The first create of each check succeeds on Route 53 but its answer is lost.
        let w = lossy(1, true);
        let c = component(mock_of(&w));
        let ctx = ctx();
        let out: HealthOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        let checks = w.checks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(checks.len(), 2, "one check per target: {checks:?}");
        assert_eq!(w.references.lock().unwrap_or_else(|p| p.into_inner()).len(), 2, "each create sent once (the second found by reference)");
        assert_eq!(ctx.recorded_id(&KEY_API).await.as_deref(), Some(out.api_check_id.as_str()));
        assert_eq!(ctx.entry(&KEY_API).await.map(|e| e.status), Some(tandem_core::state::ResourceStatus::Done));
        assert_eq!(ctx.recorded_id(&KEY_NLB).await.as_deref(), Some(out.nlb_check_id.as_str()));
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

    #[test]
    fn interval_forces_replacement_and_dependencies_are_the_region_api_and_nlb() {
        let c = component(MockRoute53Api::new());
        assert_eq!(c.desired().replace_on["request_interval"], 10);
        assert_eq!(c.dependencies(), vec!["api-primary".to_string(), "loadbalancer-primary".to_string()]);
        assert_eq!(c.region(), "us-east-1");
        assert_eq!(c.output_type().short_name(), "HealthOutputs");
        c.output_type().check(&tandem_core::to_outputs(&outputs())).expect("declared outputs");
    }
}
