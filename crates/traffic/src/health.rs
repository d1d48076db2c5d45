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
//! threshold, target and path are updated in place. Every creation uses a fresh
//! `CallerReference` (`<name>-<random>`: the reference of a deleted check can never be
//! reused), and existing checks are adopted on resume by that prefix or by their
//! `Name`/`tandem:stack` tags.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{ignore_not_found, retry, retry_if, ROUTE53_REGION};
use tandem_core::contracts::{ids, ApiOutputs, HealthOutputs, LoadBalancerOutputs};
use tandem_core::naming;
use tandem_core::{to_outputs, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Outputs, Placement};
use tracing::Instrument;

use crate::common::{has_stack_tag, journal_entry, journal_keys, known_id, random_token, tag_value};
use crate::route53_api::{HealthCheckInfo, HealthCheckSpec, Route53Api};

/// The port both checks probe.
pub const CHECK_PORT: i32 = 443;

const KEY_API: &str = "api-check";
const KEY_NLB: &str = "nlb-check";

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
    fn key(self) -> &'static str {
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

    /// Finds a check of this stack by caller-reference prefix or by tags (resume/adopt).
    async fn adopt(&self, name: &str) -> Result<Option<HealthCheckInfo>, ComponentError> {
        let all = retry(|| self.client.list_health_checks()).await.at(name, ROUTE53_REGION)?;
        let prefix = format!("{name}-");
        if let Some(c) = all.iter().find(|c| c.caller_reference.starts_with(&prefix)) {
            return Ok(Some(c.clone()));
        }
        for c in &all {
            let tags = match retry(|| self.client.list_health_check_tags(&c.id)).await {
                Ok(t) => t,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e).at(name, ROUTE53_REGION),
            };
            if has_stack_tag(&tags, &self.suffix) && tag_value(&tags, "Name") == Some(name) {
                return Ok(Some(c.clone()));
            }
        }
        Ok(None)
    }

    async fn tag(&self, ctx: &Ctx, which: Which, id: &str) -> Result<(), ComponentError> {
        let name = self.check_name(which);
        let key = format!("{}-tags", which.key());
        ctx.pending(&key, "tag").await?;
        retry(|| self.client.tag_health_check(id, naming::tags(&self.suffix, &name))).await.at(&name, ROUTE53_REGION)?;
        ctx.done(&key, id).await
    }

    async fn create(&self, ctx: &Ctx, which: Which, spec: &HealthCheckSpec) -> Result<HealthCheckInfo, ComponentError> {
        let name = self.check_name(which);
        let caller_reference = format!("{name}-{}", random_token(12));
        ctx.pending(which.key(), "create").await?;
        match retry(|| self.client.create_health_check(&caller_reference, spec.clone())).await {
            Ok(c) => {
                ctx.done(which.key(), &c.id).await?;
                tracing::info!(check = %name, id = %c.id, "health check created");
                self.tag(ctx, which, &c.id).await?;
                Ok(c)
            }
            Err(e) => {
                ctx.failed(which.key(), "create").await?;
                Err(e).at(&name, ROUTE53_REGION)
            }
        }
    }

    async fn delete_check(&self, name: &str, id: &str) -> Result<(), ComponentError> {
        // A record or EventBridge endpoint that used the check may take a moment to let go.
        ignore_not_found(retry_if(|| self.client.delete_health_check(id), |e| e.is_code("HealthCheckInUse")).await).at(name, ROUTE53_REGION)
    }

    async fn ensure(&self, ctx: &Ctx, which: Which, spec: HealthCheckSpec) -> Result<HealthCheckInfo, ComponentError> {
        let name = self.check_name(which);
        let mut current = None;
        let known = match known_id(ctx, which.key()).await {
            Some(id) => Some(id),
            None => Self::prior_id(ctx, which),
        };
        if let Some(id) = known.filter(|i| !i.is_empty()) {
            match retry(|| self.client.get_health_check(&id)).await {
                Ok(c) => current = Some(c),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e).at(&name, ROUTE53_REGION),
            }
        }
        if current.is_none() {
            if let Some(c) = self.adopt(&name).await? {
                tracing::info!(check = %name, id = %c.id, "adopting existing health check");
                ctx.done(which.key(), &c.id).await?;
                current = Some(c);
            }
        }
        let Some(c) = current else {
            return self.create(ctx, which, &spec).await;
        };
        // Tags: written once per check (a crash between create and tag is resumed here).
        let tags_key = format!("{}-tags", which.key());
        if known_id(ctx, &tags_key).await.as_deref() != Some(c.id.as_str()) {
            let tags = retry(|| self.client.list_health_check_tags(&c.id)).await.at(&name, ROUTE53_REGION)?;
            if has_stack_tag(&tags, &self.suffix) && tag_value(&tags, "Name") == Some(name.as_str()) {
                ctx.done(&tags_key, &c.id).await?;
            } else {
                self.tag(ctx, which, &c.id).await?;
            }
        }
        if c.spec.check_type != spec.check_type || c.spec.request_interval != spec.request_interval {
            // Type and interval are immutable: create the new check, then retire the old one.
            tracing::info!(check = %name, old = %c.id, "replacing health check (type or interval changed)");
            let new = self.create(ctx, which, &spec).await?;
            let retired = format!("retired:{}", c.id);
            ctx.pending(&retired, "delete").await?;
            match self.delete_check(&name, &c.id).await {
                Ok(()) => ctx.removed(&retired).await?,
                Err(e) => {
                    // Still referenced (failover records are updated after this component):
                    // the next apply or destroy deletes it.
                    tracing::warn!(check = %name, old = %c.id, error = %e, "old health check still in use; will retry");
                    ctx.done(&retired, &c.id).await?;
                }
            }
            return Ok(new);
        }
        if !same_mutable(&c.spec, &spec) {
            tracing::info!(check = %name, id = %c.id, "updating health check");
            ctx.pending(which.key(), "update").await?;
            let updated = retry(|| self.client.update_health_check(&c.id, spec.clone())).await.at(&name, ROUTE53_REGION)?;
            ctx.done(which.key(), &updated.id).await?;
            return Ok(updated);
        }
        Ok(c)
    }

    /// Deletes checks retired by a replacement once they are no longer in use.
    async fn delete_retired(&self, ctx: &Ctx, fail: bool) -> Result<(), ComponentError> {
        for key in journal_keys(ctx).await {
            let Some(old) = key.strip_prefix("retired:") else { continue };
            let old = journal_entry(ctx, &key).await.and_then(|e| e.id).unwrap_or_else(|| old.to_string());
            match self.delete_check(&key, &old).await {
                Ok(()) => ctx.removed(&key).await?,
                Err(e) if fail => return Err(e),
                Err(e) => tracing::warn!(id = %old, error = %e, "retired health check still in use"),
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
        }))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        for which in [Which::Api, Which::Nlb] {
            let name = self.check_name(which);
            let journal = journal_entry(ctx, which.key()).await;
            let mut id = journal.as_ref().and_then(|e| e.id.clone()).or_else(|| Self::prior_id(ctx, which)).filter(|i| !i.is_empty());
            if id.is_none() && journal.is_some() {
                // A create was interrupted before its id was journaled: find it.
                id = self.adopt(&name).await?.map(|c| c.id);
            }
            if let Some(id) = id {
                ctx.pending(which.key(), "delete").await?;
                self.delete_check(&name, &id).await?;
                tracing::info!(check = %name, id = %id, "health check deleted");
            }
            ctx.removed(which.key()).await?;
            ctx.removed(&format!("{}-tags", which.key())).await?;
        }
        self.delete_retired(ctx, true).await
    }

    async fn read_inner(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let mut missing = Vec::new();
        let mut drift = Vec::new();
        for which in [Which::Api, Which::Nlb] {
            let name = self.check_name(which);
            let Some(id) = Self::prior_id(ctx, which).or(known_id(ctx, which.key()).await) else {
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
        }
    }

    #[tokio::test(start_paused = true)]
    async fn creates_both_checks_from_the_inputs_and_tags_them() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        m.expect_list_health_checks().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        m.expect_create_health_check()
            .withf(|caller, spec| caller.starts_with("health-api-primary-t-") && *spec == api_spec())
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
            .withf(|caller, spec| caller.starts_with("health-nlb-primary-t-") && *spec == nlb_spec())
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
