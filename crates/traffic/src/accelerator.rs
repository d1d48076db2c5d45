//! The `accelerator` component: AWS Global Accelerator in front of both regions' NLBs.
//!
//! An accelerator by itself only owns two anycast static IPs and a DNS name; a listener
//! only says which ports and protocol it accepts. Neither has a destination: traffic
//! arriving on the listener is dropped until an **endpoint group** exists. The endpoint
//! groups are what make the accelerator route anything: one per AWS region, each listing
//! that region's endpoints (here the regional NLB ARN), a traffic dial (100 % in both
//! regions: active-active) and health-check settings. Global Accelerator sends each client
//! to the nearest region whose endpoints are healthy, and shifts traffic to the other
//! region when one becomes unhealthy. For NLB endpoints health itself comes from the load
//! balancer's target-group health checks; the endpoint-group settings (TCP 443, interval
//! and threshold from `[health]`) are recorded for completeness and for other endpoint
//! types.
//!
//! The control plane lives only in us-west-2 ([`GLOBAL_ACCELERATOR_REGION`]). Create order:
//! accelerator (IdempotencyToken, tags) → wait `DEPLOYED` → TCP 443 listener → wait →
//! endpoint group per region → wait after each. Delete order: endpoint groups → wait →
//! listener → wait → `UpdateAccelerator{Enabled:false}` → wait `DEPLOYED` → delete (any
//! other order fails with AssociatedListenerFoundException / AcceleratorNotDisabledException).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{poll_until, retry, Poll, GLOBAL_ACCELERATOR_REGION};
use tandem_core::contracts::{ids, AcceleratorOutputs, LoadBalancerOutputs};
use tandem_core::naming;
use tandem_core::{to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, How, Key, Outputs, Placement, Rule};
use tracing::Instrument;

use crate::common::has_stack_tag;
use crate::ga_api::{AcceleratorInfo, EndpointGroupInfo, EndpointGroupSpec, GlobalAcceleratorApi, ListenerInfo, DEPLOYED};

/// The listener port (the NLBs listen on TCP 443).
pub const LISTENER_PORT: i32 = 443;
/// Active-active: both regions take their share.
pub const TRAFFIC_DIAL: f32 = 100.0;
/// Bound of each wait for `DEPLOYED`.
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(15 * 60);

const KEY_ACCELERATOR: Key = Key::new("accelerator");
const KEY_LISTENER: Key = Key::new("listener");

fn group_key(region: &str) -> Key {
    Key::owned(format!("endpoint-group:{region}"))
}

/// The Global Accelerator component.
pub struct AcceleratorComponent {
    suffix: String,
    primary_region: String,
    secondary_region: String,
    health_interval: i32,
    failure_threshold: i32,
    client: Arc<dyn GlobalAcceleratorApi>,
}

impl AcceleratorComponent {
    /// `client` must be a us-west-2 client.
    pub fn new(cfg: &Config, client: Arc<dyn GlobalAcceleratorApi>) -> Self {
        Self {
            suffix: cfg.environment_suffix.clone(),
            primary_region: cfg.primary_region.clone(),
            secondary_region: cfg.secondary_region.clone(),
            health_interval: cfg.health.request_interval as i32,
            failure_threshold: cfg.health.failure_threshold as i32,
            client,
        }
    }

    /// `accelerator-{suffix}`.
    pub fn name(&self) -> String {
        naming::name("accelerator", Placement::Global, &self.suffix)
    }

    fn spec(&self, region: &str, nlb_arn: &str) -> EndpointGroupSpec {
        EndpointGroupSpec {
            region: region.to_string(),
            endpoint_ids: vec![nlb_arn.to_string()],
            health_check_protocol: "TCP".into(),
            health_check_port: LISTENER_PORT,
            health_check_interval: self.health_interval,
            threshold_count: self.failure_threshold,
            traffic_dial: TRAFFIC_DIAL,
        }
    }

    fn regions(&self) -> [&str; 2] {
        [self.primary_region.as_str(), self.secondary_region.as_str()]
    }

    async fn wait_deployed(&self, arn: &str, after: &str) -> Result<AcceleratorInfo, ComponentError> {
        let name = self.name();
        poll_until(&name, GLOBAL_ACCELERATOR_REGION, &format!("accelerator DEPLOYED after {after}"), DEPLOY_TIMEOUT, || async {
            let a = self.client.describe_accelerator(arn).await?;
            Ok(if a.status == DEPLOYED { Poll::Ready(a) } else { Poll::Pending(a.status) })
        })
        .await
    }

    /// Finds the stack's accelerator: `recorded` ARN (else the prior outputs') first, then
    /// by name and stack tag.
    async fn find_accelerator(&self, ctx: &Ctx, recorded: Option<String>) -> Result<Option<AcceleratorInfo>, AwsError> {
        let name = self.name();
        let known = recorded.or_else(|| ctx.prior_outputs::<AcceleratorOutputs>().map(|o| o.accelerator_arn));
        if let Some(arn) = known.filter(|a| !a.is_empty()) {
            match retry(|| self.client.describe_accelerator(&arn)).await {
                Ok(a) => return Ok(Some(a)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let all = retry(|| self.client.list_accelerators()).await?;
        for a in all.into_iter().filter(|a| a.name == name) {
            let tags = retry(|| self.client.list_tags(&a.arn)).await?;
            if has_stack_tag(&tags, &self.suffix) {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    async fn ensure_accelerator(&self, ctx: &Ctx) -> Result<AcceleratorInfo, ComponentError> {
        let name = self.name();
        let region = GLOBAL_ACCELERATOR_REGION;
        let tags = naming::tags(&self.suffix, &name);
        let a = ctx
            .ensure::<AcceleratorInfo>(&KEY_ACCELERATOR, &name, Rule::Token)
            .find_one(|recorded| self.find_accelerator(ctx, recorded))
            .create(|token| {
                let (name, tags) = (name.clone(), tags.clone());
                async move { self.client.create_accelerator(&name, token.as_str(), tags).await }
            })
            .id(|a| a.arn.clone())
            .run()
            .await?;
        if !a.enabled {
            // A destroy interrupted after disabling: enable it again.
            return ctx
                .update(&KEY_ACCELERATOR, || async { retry(|| self.client.set_accelerator_enabled(&a.arn, true)).await.at(&name, region) })
                .await;
        }
        Ok(a)
    }

    async fn find_listener(&self, ctx: &Ctx, acc: &str, recorded: Option<String>) -> Result<Option<ListenerInfo>, AwsError> {
        let known = recorded.or_else(|| ctx.prior_outputs::<AcceleratorOutputs>().map(|o| o.listener_arn));
        if let Some(arn) = known.filter(|a| a.starts_with(acc)) {
            match retry(|| self.client.describe_listener(&arn)).await {
                Ok(l) => return Ok(Some(l)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let listeners = retry(|| self.client.list_listeners(acc)).await?;
        Ok(listeners.into_iter().find(|l| l.protocol == "TCP" && l.port_ranges.iter().any(|(f, t)| *f <= LISTENER_PORT && LISTENER_PORT <= *t)))
    }

    async fn ensure_listener(&self, ctx: &Ctx, acc: &str) -> Result<(ListenerInfo, bool), ComponentError> {
        let name = self.name();
        let e = ctx
            .ensure::<ListenerInfo>(&KEY_LISTENER, &name, Rule::Token)
            .find_one(|recorded| self.find_listener(ctx, acc, recorded))
            .create(|token| async move { self.client.create_listener(acc, LISTENER_PORT, token.as_str()).await })
            .id(|l| l.arn.clone())
            .outcome()
            .await?;
        Ok((e.value, e.how == How::Created))
    }

    /// Ensures the endpoint group of `spec.region`; returns it and whether it changed.
    /// `existing` is the listener's groups as listed before; a lookup after a failed create
    /// lists them again.
    async fn ensure_group(
        &self,
        ctx: &Ctx,
        listener: &str,
        existing: &[EndpointGroupInfo],
        spec: EndpointGroupSpec,
    ) -> Result<(EndpointGroupInfo, bool), ComponentError> {
        let name = self.name();
        let region = GLOBAL_ACCELERATOR_REGION;
        let key = group_key(&spec.region);
        let want_region = spec.region.clone();
        let mut listed: Option<Vec<EndpointGroupInfo>> = Some(existing.to_vec());
        let e = ctx
            .ensure::<EndpointGroupInfo>(&key, &name, Rule::Token)
            .find_one(move |recorded| {
                let snapshot = listed.take();
                let want_region = want_region.clone();
                async move {
                    let groups = match snapshot {
                        Some(g) => g,
                        None => retry(|| self.client.list_endpoint_groups(listener)).await?,
                    };
                    if let Some(g) = groups.into_iter().find(|g| g.spec.region == want_region) {
                        return Ok(Some(g));
                    }
                    let known = recorded.or_else(|| {
                        ctx.prior_outputs::<AcceleratorOutputs>().and_then(|o| o.endpoint_group_arns.get(&want_region).cloned())
                    });
                    if let Some(arn) = known.filter(|a| a.starts_with(listener)) {
                        match retry(|| self.client.describe_endpoint_group(&arn)).await {
                            Ok(g) => return Ok(Some(g)),
                            Err(e) if e.is_not_found() => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(None)
                }
            })
            .create(|token| {
                let spec = spec.clone();
                async move { self.client.create_endpoint_group(listener, spec, token.as_str()).await }
            })
            .id(|g| g.arn.clone())
            .outcome()
            .await?;
        if e.how == How::Created {
            return Ok((e.value, true));
        }
        let g = e.value;
        if same_group(&g.spec, &spec) {
            return Ok((g, false));
        }
        tracing::info!(endpoint_group = %g.arn, "updating endpoint group settings");
        let updated = ctx
            .update(&key, || async { retry(|| self.client.update_endpoint_group(&g.arn, spec.clone())).await.at(&name, region) })
            .await?;
        Ok((updated, true))
    }

    /// Deletes the endpoint group `arn` journaled under `key`.
    async fn delete_group(&self, ctx: &Ctx, key: &Key, arn: &str) -> Result<(), ComponentError> {
        ctx.delete(key, &self.name(), |_| async { Ok(vec![arn.to_string()]) }, |id| async move { self.client.delete_endpoint_group(&id).await })
            .await
            .map(|_| ())
    }

    async fn apply_inner(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let name = self.name();
        let region = GLOBAL_ACCELERATOR_REGION;
        let lb_primary: LoadBalancerOutputs = ctx.input(&ids::load_balancer(Placement::Primary))?;
        let lb_secondary: LoadBalancerOutputs = ctx.input(&ids::load_balancer(Placement::Secondary))?;

        let acc = self.ensure_accelerator(ctx).await?;
        let mut acc = self.wait_deployed(&acc.arn, "accelerator").await?;
        ctx.check_cancelled()?;

        let (listener, created) = self.ensure_listener(ctx, &acc.arn).await?;
        if created {
            acc = self.wait_deployed(&acc.arn, "listener").await?;
        }

        let existing = retry(|| self.client.list_endpoint_groups(&listener.arn)).await.at(&name, region)?;
        let mut groups = BTreeMap::new();
        for (r, nlb) in [(&self.primary_region, &lb_primary.nlb_arn), (&self.secondary_region, &lb_secondary.nlb_arn)] {
            ctx.check_cancelled()?;
            let (g, changed) = self.ensure_group(ctx, &listener.arn, &existing, self.spec(r, nlb)).await?;
            if changed {
                acc = self.wait_deployed(&acc.arn, &format!("endpoint group {r}")).await?;
            }
            groups.insert(r.clone(), g.arn);
        }
        // Endpoint groups in regions the stack no longer uses.
        for g in existing.iter().filter(|g| !self.regions().contains(&g.spec.region.as_str())) {
            self.delete_group(ctx, &group_key(&g.spec.region), &g.arn).await?;
            acc = self.wait_deployed(&acc.arn, "endpoint group removal").await?;
        }

        Ok(to_outputs(&AcceleratorOutputs {
            accelerator_arn: acc.arn,
            dns_name: acc.dns_name,
            static_ips: acc.static_ips,
            listener_arn: listener.arn,
            endpoint_group_arns: groups,
        }))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let name = self.name();
        let region = GLOBAL_ACCELERATOR_REGION;
        let recorded = ctx.recorded_id(&KEY_ACCELERATOR).await;
        let Some(acc) = self.find_accelerator(ctx, recorded).await.at(&name, region)? else {
            return ctx.forget_all().await;
        };
        let listeners = match retry(|| self.client.list_listeners(&acc.arn)).await {
            Err(e) if e.is_not_found() => Vec::new(),
            other => other.at(&name, region)?,
        };
        for l in &listeners {
            let groups = match retry(|| self.client.list_endpoint_groups(&l.arn)).await {
                Err(e) if e.is_not_found() => Vec::new(),
                other => other.at(&name, region)?,
            };
            for g in &groups {
                self.delete_group(ctx, &group_key(&g.spec.region), &g.arn).await?;
            }
            if !groups.is_empty() {
                self.wait_deployed(&acc.arn, "endpoint group deletion").await?;
            }
            let arn = l.arn.clone();
            ctx.delete(&KEY_LISTENER, &name, |_| async { Ok(vec![arn.clone()]) }, |id| async move { self.client.delete_listener(&id).await }).await?;
            self.wait_deployed(&acc.arn, "listener deletion").await?;
        }
        if acc.enabled {
            let disabled = ctx.update(&KEY_ACCELERATOR, || async { Ok(retry(|| self.client.set_accelerator_enabled(&acc.arn, false)).await) }).await?;
            match disabled {
                Err(e) if e.is_not_found() => return ctx.forget_all().await,
                other => other.at(&name, region)?,
            };
        }
        match self.wait_deployed(&acc.arn, "disable").await {
            Err(ComponentError::Aws { source, .. }) if source.is_not_found() => {}
            other => {
                other?;
            }
        }
        let arn = acc.arn.clone();
        ctx.delete(&KEY_ACCELERATOR, &name, |_| async { Ok(vec![arn.clone()]) }, |id| async move { self.client.delete_accelerator(&id).await }).await?;
        ctx.forget_all().await?;
        tracing::info!(arn = %acc.arn, "accelerator deleted");
        Ok(())
    }

    async fn read_inner(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let name = self.name();
        let region = GLOBAL_ACCELERATOR_REGION;
        let Some(prior) = ctx.prior_outputs::<AcceleratorOutputs>() else {
            return Ok(Drift::Missing { details: vec![format!("{name}: no recorded accelerator")] });
        };
        let acc = match retry(|| self.client.describe_accelerator(&prior.accelerator_arn)).await {
            Ok(a) => a,
            Err(e) if e.is_not_found() => return Ok(Drift::Missing { details: vec![format!("accelerator {} is gone", prior.accelerator_arn)] }),
            Err(e) => return Err(e).at(&name, region),
        };
        let mut details = Vec::new();
        if !acc.enabled {
            details.push(format!("{name} is disabled"));
        }
        match retry(|| self.client.describe_listener(&prior.listener_arn)).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => details.push(format!("listener {} is gone", prior.listener_arn)),
            Err(e) => return Err(e).at(&name, region),
        }
        for (r, arn) in &prior.endpoint_group_arns {
            match retry(|| self.client.describe_endpoint_group(arn)).await {
                Ok(g) => {
                    if g.spec.endpoint_ids.is_empty() {
                        details.push(format!("endpoint group {r} has no endpoints"));
                    }
                    if g.spec.traffic_dial != TRAFFIC_DIAL {
                        details.push(format!("endpoint group {r}: traffic dial {} (want {TRAFFIC_DIAL})", g.spec.traffic_dial));
                    }
                    if g.spec.health_check_interval != self.health_interval || g.spec.threshold_count != self.failure_threshold {
                        details.push(format!("endpoint group {r}: health check settings changed"));
                    }
                }
                Err(e) if e.is_not_found() => details.push(format!("endpoint group {r} is gone")),
                Err(e) => return Err(e).at(&name, region),
            }
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

fn same_group(have: &EndpointGroupSpec, want: &EndpointGroupSpec) -> bool {
    let mut a = have.endpoint_ids.clone();
    let mut b = want.endpoint_ids.clone();
    a.sort();
    b.sort();
    a == b
        && have.health_check_protocol == want.health_check_protocol
        && have.health_check_port == want.health_check_port
        && have.health_check_interval == want.health_check_interval
        && have.threshold_count == want.threshold_count
        && (have.traffic_dial - want.traffic_dial).abs() < f32::EPSILON
}

#[async_trait::async_trait]
impl Component for AcceleratorComponent {
    fn id(&self) -> &str {
        ids::ACCELERATOR
    }
    fn kind(&self) -> &'static str {
        "accelerator"
    }
    fn placement(&self) -> Placement {
        Placement::Global
    }
    fn region(&self) -> &str {
        GLOBAL_ACCELERATOR_REGION
    }
    fn dependencies(&self) -> Vec<String> {
        vec![ids::load_balancer(Placement::Primary), ids::load_balancer(Placement::Secondary)]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::AcceleratorOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Accelerator to DEPLOYED, then the listener and two endpoint groups, each waited to
        // DEPLOYED (AWS-NOTES.md). AWS documents no time; users report more than 5 and more
        // than 10 minutes (hashicorp/terraform-provider-aws#14161, #17048), after which the
        // provider raised its create timeout to 30 min (#17112).
        Duration::from_secs(600)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "name": self.name() }),
            json!({
                "listener": { "protocol": "TCP", "port": LISTENER_PORT },
                "regions": self.regions(),
                "health_check": { "protocol": "TCP", "port": LISTENER_PORT, "interval": self.health_interval, "threshold": self.failure_threshold },
                "traffic_dial": TRAFFIC_DIAL,
            }),
        )
    }
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let span = tracing::info_span!("apply", component = ids::ACCELERATOR, region = GLOBAL_ACCELERATOR_REGION);
        self.apply_inner(ctx).instrument(span).await
    }
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let span = tracing::info_span!("destroy", component = ids::ACCELERATOR, region = GLOBAL_ACCELERATOR_REGION);
        self.destroy_inner(ctx).instrument(span).await
    }
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let span = tracing::info_span!("read", component = ids::ACCELERATOR, region = GLOBAL_ACCELERATOR_REGION);
        self.read_inner(ctx).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ga_api::{MockGlobalAcceleratorApi, IN_PROGRESS};
    use crate::test_support::{cfg, lb, prior};
    use mockall::Sequence;
    use tandem_core::{from_outputs, AwsError};

    const ACC: &str = "arn:aws:globalaccelerator::123456789012:accelerator/a1";
    const LIS: &str = "arn:aws:globalaccelerator::123456789012:accelerator/a1/listener/l1";

    fn acc(status: &str, enabled: bool) -> AcceleratorInfo {
        AcceleratorInfo {
            arn: ACC.into(),
            name: "accelerator-t".into(),
            enabled,
            status: status.into(),
            dns_name: "a1.awsglobalaccelerator.com".into(),
            static_ips: vec!["192.0.2.1".into(), "192.0.2.2".into()],
        }
    }

    fn listener() -> ListenerInfo {
        ListenerInfo { arn: LIS.into(), protocol: "TCP".into(), port_ranges: vec![(443, 443)] }
    }

    fn group(region: &str) -> EndpointGroupInfo {
        EndpointGroupInfo {
            arn: format!("{LIS}/endpoint-group/{region}"),
            spec: EndpointGroupSpec {
                region: region.into(),
                endpoint_ids: vec![lb(region).nlb_arn],
                health_check_protocol: "TCP".into(),
                health_check_port: 443,
                health_check_interval: 10,
                threshold_count: 3,
                traffic_dial: 100.0,
            },
        }
    }

    fn ctx() -> Ctx {
        Ctx::standalone(ids::ACCELERATOR, GLOBAL_ACCELERATOR_REGION)
            .with_input(&ids::load_balancer(Placement::Primary), &lb("us-east-1"))
            .with_input(&ids::load_balancer(Placement::Secondary), &lb("us-east-2"))
    }

    fn component(m: MockGlobalAcceleratorApi) -> AcceleratorComponent {
        AcceleratorComponent::new(&cfg(), Arc::new(m))
    }

    fn outputs() -> AcceleratorOutputs {
        AcceleratorOutputs {
            accelerator_arn: ACC.into(),
            dns_name: "a1.awsglobalaccelerator.com".into(),
            static_ips: vec!["192.0.2.1".into(), "192.0.2.2".into()],
            listener_arn: LIS.into(),
            endpoint_group_arns: [("us-east-1", group("us-east-1").arn), ("us-east-2", group("us-east-2").arn)]
                .into_iter()
                .map(|(r, a)| (r.to_string(), a))
                .collect(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn create_runs_in_order_and_waits_after_each_step() {
        let mut m = MockGlobalAcceleratorApi::new();
        let mut s = Sequence::new();
        m.expect_list_accelerators().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        m.expect_create_accelerator()
            .withf(|name, token, tags| {
                name == "accelerator-t"
                    && token.len() == 32
                    && tags.contains(&("tandem:stack".to_string(), "t".to_string()))
                    && tags.contains(&("Name".to_string(), "accelerator-t".to_string()))
            })
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _| Ok(acc(IN_PROGRESS, true)));
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(IN_PROGRESS, true)));
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_listeners().times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        m.expect_create_listener().withf(|a, port, _| a == ACC && *port == 443).times(1).in_sequence(&mut s).returning(|_, _, _| Ok(listener()));
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_endpoint_groups().times(1).in_sequence(&mut s).returning(|_| Ok(vec![]));
        for region in ["us-east-1", "us-east-2"] {
            let want = group(region).spec;
            m.expect_create_endpoint_group()
                .withf(move |l, spec, _| l == LIS && *spec == want)
                .times(1)
                .in_sequence(&mut s)
                .returning(move |_, _, _| Ok(group(region)));
            m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(DEPLOYED, true)));
        }
        let c = component(m);
        let ctx = ctx();
        let out: AcceleratorOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
        let journal = ctx.journal_entries().await;
        assert_eq!(journal.get("accelerator").and_then(|e| e.id.clone()).as_deref(), Some(ACC));
        assert_eq!(journal.get("endpoint-group:us-east-2").and_then(|e| e.id.clone()), Some(group("us-east-2").arn));
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_removes_groups_then_listener_then_disables_waits_and_deletes() {
        let mut m = MockGlobalAcceleratorApi::new();
        let mut s = Sequence::new();
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_listeners().times(1).in_sequence(&mut s).returning(|_| Ok(vec![listener()]));
        m.expect_list_endpoint_groups().times(1).in_sequence(&mut s).returning(|_| Ok(vec![group("us-east-1"), group("us-east-2")]));
        m.expect_delete_endpoint_group().withf(|a| a.ends_with("us-east-1")).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        m.expect_delete_endpoint_group().withf(|a| a.ends_with("us-east-2")).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_delete_listener().withf(|a| a == LIS).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_set_accelerator_enabled().withf(|a, e| a == ACC && !*e).times(1).in_sequence(&mut s).returning(|_, _| Ok(acc(IN_PROGRESS, false)));
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(IN_PROGRESS, false)));
        m.expect_describe_accelerator().times(1).in_sequence(&mut s).returning(|_| Ok(acc(DEPLOYED, false)));
        m.expect_delete_accelerator().withf(|a| a == ACC).times(1).in_sequence(&mut s).returning(|_| Ok(()));
        let c = component(m);
        let ctx = Ctx::standalone(ids::ACCELERATOR, GLOBAL_ACCELERATOR_REGION).with_prior(prior(&c, &outputs(), &[("accelerator", ACC), ("listener", LIS)]));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty(), "journal cleared");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_existing_resources_makes_no_mutating_call() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_describe_listener().returning(|_| Ok(listener()));
        m.expect_list_endpoint_groups().returning(|_| Ok(vec![group("us-east-1"), group("us-east-2")]));
        // No create/update/delete expectation: any such call panics.
        let c = component(m);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[("accelerator", ACC), ("listener", LIS)]));
        let out: AcceleratorOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
    }

    #[tokio::test(start_paused = true)]
    async fn changed_nlb_updates_the_endpoint_group_in_place() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_describe_listener().returning(|_| Ok(listener()));
        m.expect_list_endpoint_groups().returning(|_| {
            let mut old = group("us-east-2");
            old.spec.endpoint_ids = vec!["arn:old-nlb".into()];
            Ok(vec![group("us-east-1"), old])
        });
        m.expect_update_endpoint_group()
            .withf(|arn, spec| arn.ends_with("us-east-2") && spec.endpoint_ids == vec![lb("us-east-2").nlb_arn])
            .times(1)
            .returning(|_, _| Ok(group("us-east-2")));
        let c = component(m);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[("accelerator", ACC), ("listener", LIS)]));
        c.apply(&ctx).await.expect("apply");
    }

    #[tokio::test(start_paused = true)]
    async fn resume_adopts_accelerator_by_name_and_tag() {
        let mut m = MockGlobalAcceleratorApi::new();
        let mut other = acc(DEPLOYED, true);
        other.arn = "arn:other".into();
        m.expect_list_accelerators().returning(move || Ok(vec![other.clone(), acc(DEPLOYED, true)]));
        m.expect_list_tags().withf(|a| a == "arn:other").returning(|_| Ok(vec![("tandem:stack".into(), "someone-else".into())]));
        m.expect_list_tags().withf(|a| a == ACC).returning(|_| Ok(tandem_core::naming::tags("t", "accelerator-t")));
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_listeners().returning(|_| Ok(vec![listener()]));
        m.expect_list_endpoint_groups().returning(|_| Ok(vec![group("us-east-1"), group("us-east-2")]));
        let c = component(m);
        let ctx = ctx().with_prior(crate::test_support::pending_state(&c, "accelerator"));
        let out: AcceleratorOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out.accelerator_arn, ACC);
        assert_eq!(ctx.recorded_id(&KEY_ACCELERATOR).await.as_deref(), Some(ACC), "pending entry resolved");
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_of_missing_accelerator_succeeds() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_describe_accelerator().returning(|a| Err(AwsError::not_found("AcceleratorNotFoundException", a.to_string())));
        m.expect_list_accelerators().returning(|| Ok(vec![]));
        let c = component(m);
        let ctx = Ctx::standalone(ids::ACCELERATOR, GLOBAL_ACCELERATOR_REGION).with_prior(prior(&c, &outputs(), &[("accelerator", ACC)]));
        c.destroy(&ctx).await.expect("destroy of a missing accelerator is a no-op");
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_while_deleting_children_is_success() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, false)));
        m.expect_list_listeners().returning(|_| Ok(vec![listener()]));
        m.expect_list_endpoint_groups().returning(|_| Ok(vec![group("us-east-1")]));
        m.expect_delete_endpoint_group().returning(|a| Err(AwsError::not_found("EndpointGroupNotFoundException", a.to_string())));
        m.expect_delete_listener().returning(|a| Err(AwsError::not_found("ListenerNotFoundException", a.to_string())));
        m.expect_delete_accelerator().returning(|a| Err(AwsError::not_found("AcceleratorNotFoundException", a.to_string())));
        let c = component(m);
        let ctx = Ctx::standalone(ids::ACCELERATOR, GLOBAL_ACCELERATOR_REGION).with_prior(prior(&c, &outputs(), &[("accelerator", ACC)]));
        c.destroy(&ctx).await.expect("NotFound is success");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_then_succeeds() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_list_accelerators().returning(|| Ok(vec![]));
        let mut s = Sequence::new();
        m.expect_create_accelerator().times(2).in_sequence(&mut s).returning(|_, _, _| Err(AwsError::throttling()));
        m.expect_create_accelerator().times(1).in_sequence(&mut s).returning(|_, _, _| Ok(acc(DEPLOYED, true)));
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_listeners().returning(|_| Ok(vec![listener()]));
        m.expect_list_endpoint_groups().returning(|_| Ok(vec![group("us-east-1"), group("us-east-2")]));
        let c = component(m);
        c.apply(&ctx()).await.expect("apply after throttling");
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_idempotency_token_is_used_for_every_retry() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_list_accelerators().returning(|| Ok(vec![]));
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen2 = seen.clone();
        m.expect_create_accelerator().times(3).returning(move |_, t, _| {
            let mut v = seen2.lock().unwrap_or_else(|p| p.into_inner());
            v.push(t.to_string());
            if v.len() < 3 { Err(AwsError::new("InternalServiceErrorException", "boom", Some(500))) } else { Ok(acc(DEPLOYED, true)) }
        });
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_listeners().returning(|_| Ok(vec![listener()]));
        m.expect_list_endpoint_groups().returning(|_| Ok(vec![group("us-east-1"), group("us-east-2")]));
        component(m).apply(&ctx()).await.expect("apply");
        let v = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(v.iter().all(|t| *t == v[0]), "{v:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn errors_name_the_accelerator_and_us_west_2() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_list_accelerators().returning(|| Ok(vec![]));
        m.expect_create_accelerator().returning(|_, _, _| Err(AwsError::other("AccessDeniedException", "not allowed")));
        let c = component(m);
        let ctx = ctx();
        let msg = c.apply(&ctx).await.unwrap_err().to_string();
        assert!(msg.contains("accelerator-t") && msg.contains("us-west-2") && msg.contains("AccessDeniedException"), "{msg}");
        assert_eq!(ctx.entry(&KEY_ACCELERATOR).await.map(|e| e.status), Some(tandem_core::state::ResourceStatus::Failed));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answer_is_found_by_name_and_tag_and_not_created_again() {
        let mut m = MockGlobalAcceleratorApi::new();
        let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c1, c2) = (created.clone(), created.clone());
        m.expect_list_accelerators().returning(move || Ok(if c1.load(std::sync::atomic::Ordering::SeqCst) { vec![acc(DEPLOYED, true)] } else { vec![] }));
        m.expect_list_tags().withf(|a| a == ACC).returning(|_| Ok(tandem_core::naming::tags("t", "accelerator-t")));
        // The accelerator is created, but the answer is lost.
        m.expect_create_accelerator().times(1).returning(move |_, _, _| {
            c2.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(AwsError::new("InternalError", "x", Some(500)))
        });
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_listeners().returning(|_| Ok(vec![listener()]));
        m.expect_list_endpoint_groups().returning(|_| Ok(vec![group("us-east-1"), group("us-east-2")]));
        let c = component(m);
        let ctx = ctx();
        let out: AcceleratorOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out.accelerator_arn, ACC);
        let entry = ctx.entry(&KEY_ACCELERATOR).await.expect("journaled");
        assert_eq!(entry.status, tandem_core::state::ResourceStatus::Done);
        assert_eq!(entry.id.as_deref(), Some(ACC), "the found accelerator is journaled");
    }

    #[tokio::test(start_paused = true)]
    async fn lost_listener_answer_resends_the_same_token() {
        let mut m = MockGlobalAcceleratorApi::new();
        m.expect_describe_accelerator().returning(|_| Ok(acc(DEPLOYED, true)));
        m.expect_list_listeners().returning(|_| Ok(vec![]));
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen2 = seen.clone();
        m.expect_create_listener().times(2).returning(move |_, _, t| {
            let mut v = seen2.lock().unwrap_or_else(|p| p.into_inner());
            v.push(t.to_string());
            if v.len() == 1 { Err(AwsError::new("InternalError", "x", Some(500))) } else { Ok(listener()) }
        });
        m.expect_list_endpoint_groups().returning(|_| Ok(vec![group("us-east-1"), group("us-east-2")]));
        let c = component(m);
        let state = tandem_core::state::ComponentState::new("accelerator", Placement::Global, GLOBAL_ACCELERATOR_REGION).with_resource("accelerator", ACC);
        let ctx = ctx().with_prior(state);
        c.apply(&ctx).await.expect("apply");
        let v = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], v[1], "the retry carries the journal's token");
        assert_eq!(v[0].len(), 32);
        assert_eq!(ctx.recorded_id(&KEY_LISTENER).await.as_deref(), Some(LIS));
    }

    #[test]
    fn declares_outputs_and_dependencies() {
        let c = component(MockGlobalAcceleratorApi::new());
        assert_eq!(c.region(), "us-west-2");
        assert_eq!(c.placement(), Placement::Global);
        assert_eq!(c.dependencies(), vec!["loadbalancer-primary".to_string(), "loadbalancer-secondary".to_string()]);
        assert_eq!(c.output_type().short_name(), "AcceleratorOutputs");
        c.output_type().check(&to_outputs(&outputs())).expect("declared outputs");
    }
}
