//! `loadbalancer-{role}`: the regional entry point. An internet-facing Network Load Balancer
//! in the public subnets listens on TCP 443 and forwards to a target group of type `alb`
//! whose only target is an internal Application Load Balancer (`alb-{role}-{s}`, private
//! subnets, security group `lb_security_group_id`). The ALB listens on 443 and forwards to a
//! target group of type `lambda` holding the regional API function, which Elastic Load
//! Balancing may invoke thanks to a `lambda:InvokeFunction` permission scoped to that target
//! group's ARN.
//!
//! The ALB listener is HTTPS with the region's certificate when there is one (configured
//! `api.*_certificate_arn`, else the `certificate-{role}` component's output when a domain is
//! set). Without a domain (no-domain/local mode) it is plain HTTP on port 443: traffic is
//! still only reachable through the NLB, but it is not encrypted in transit; configure a
//! domain to get TLS.
//!
//! The NLB target group health-checks `/health` through the ALB and the function, so Global
//! Accelerator and Route 53 see the whole regional path.
//!
//! Teardown (AWS-NOTES): NLB (its listener goes with it) → wait gone → its target group
//! (ResourceInUse retried) → ALB → wait gone → its target group → Lambda permission → wait
//! until the `ELB net/…` and `ELB app/…` network interfaces are released.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{ignore_not_found, poll_until, retry, retry_if, Poll};
use tandem_core::contracts::{
    ids, CertificateOutputs, FunctionsOutputs, LoadBalancerOutputs, NetworkOutputs,
};
use tandem_core::{
    to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift,
    Key, Outputs, Placement, Rule,
};

use crate::common::{until_accepted, wait_enis_gone, HTTPS_PORT};
use crate::ec2_api::{filters, Ec2Api};
use crate::elb_api::{
    ElbApi, ListenerInfo, ListenerSpec, LoadBalancerInfo, LoadBalancerSpec, TargetGroupInfo,
    TargetGroupSpec,
};
use tandem_clients::lambda::{LambdaApi, PermissionStatement};

/// Path the NLB health check requests through the ALB.
pub const HEALTH_PATH: &str = "/health";
/// TLS policy of the HTTPS listener (TLS 1.3 and 1.2 only).
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Principal allowed to invoke the API function.
pub const ELB_PRINCIPAL: &str = "elasticloadbalancing.amazonaws.com";

const ACTIVE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const ENI_TIMEOUT: Duration = Duration::from_secs(10 * 60);

// Journal keys (strings kept from earlier releases: state compatibility).
const NLB: Key = Key::new("nlb");
const ALB: Key = Key::new("alb");
const NLB_TARGET_GROUP: Key = Key::new("nlb-target-group");
const ALB_TARGET_GROUP: Key = Key::new("alb-target-group");
const NLB_TARGET: Key = Key::new("nlb-target");
const ALB_TARGET: Key = Key::new("alb-target");
const NLB_LISTENER: Key = Key::new("nlb-listener");
const ALB_LISTENER: Key = Key::new("alb-listener");
const LAMBDA_PERMISSION: Key = Key::new("lambda-permission");

/// Where the ALB listener's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// `api.{role}_certificate_arn`.
    Configured(String),
    /// The `certificate-{role}` component (a domain is set, no ARN configured).
    Component(String),
    /// No domain: HTTP on port 443.
    None,
}

impl CertificateSource {
    /// As configuration decides it for `placement` (the rule that also decides whether
    /// `certificate-{role}` is wanted).
    pub fn from_config(cfg: &Config, placement: Placement) -> Self {
        let (domain, arn) = match placement {
            Placement::Secondary => (
                &cfg.api.secondary_domain,
                &cfg.api.secondary_certificate_arn,
            ),
            _ => (&cfg.api.primary_domain, &cfg.api.primary_certificate_arn),
        };
        match (domain, arn) {
            (_, Some(arn)) => Self::Configured(arn.clone()),
            (Some(_), None) => Self::Component(ids::certificate(placement)),
            (None, None) => Self::None,
        }
    }
}

/// Names of the resources of one region's load balancer component.
#[derive(Debug, Clone)]
struct Names {
    nlb: String,
    alb: String,
    nlb_tg: String,
    alb_tg: String,
    statement_id: String,
}

/// The NLB → ALB → Lambda chain of one region.
pub struct LoadBalancerComponent {
    id: String,
    placement: Placement,
    region: String,
    suffix: String,
    certificate: CertificateSource,
    names: Names,
    elb: Arc<dyn ElbApi>,
    lambda: Arc<dyn LambdaApi>,
    ec2: Arc<dyn Ec2Api>,
}

impl LoadBalancerComponent {
    /// Clients must be of the placement's region.
    pub fn new(
        cfg: &Config,
        placement: Placement,
        elb: Arc<dyn ElbApi>,
        lambda: Arc<dyn LambdaApi>,
        ec2: Arc<dyn Ec2Api>,
    ) -> Self {
        let s = &cfg.environment_suffix;
        let n = |k: &str| tandem_core::naming::name(k, placement, s);
        let alb_tg = n("tgl");
        Self {
            id: ids::load_balancer(placement),
            placement,
            region: cfg.region_of(placement).to_string(),
            suffix: s.clone(),
            certificate: CertificateSource::from_config(cfg, placement),
            names: Names {
                nlb: n("nlb"),
                alb: n("alb"),
                nlb_tg: n("tg"),
                statement_id: format!("elb-invoke-{alb_tg}"),
                alb_tg,
            },
            elb,
            lambda,
            ec2,
        }
    }

    fn tags(&self, name: &str) -> Vec<(String, String)> {
        tandem_core::naming::tags(&self.suffix, name)
    }

    /// The certificate ARN for the ALB listener, or None for HTTP.
    fn certificate_arn(&self, ctx: &Ctx) -> Result<Option<String>, ComponentError> {
        match &self.certificate {
            CertificateSource::Configured(arn) => Ok(Some(arn.clone())),
            CertificateSource::None => Ok(None),
            CertificateSource::Component(dep) => {
                let cert: CertificateOutputs = ctx.input(dep)?;
                if cert.status == "ISSUED" || cert.status == "CONFIGURED" {
                    Ok(Some(cert.certificate_arn))
                } else {
                    Err(ComponentError::invalid(
                        &self.names.alb,
                        &self.region,
                        format!(
                            "certificate {} for {} is {}; the HTTPS listener needs an ISSUED certificate (create the validation records, or set api.{}_certificate_arn)",
                            cert.certificate_arn,
                            cert.domain_name,
                            cert.status,
                            self.placement
                        ),
                    ))
                }
            }
        }
    }

    /// The target group named in `spec` (a unique name: after "already exists" or a lost
    /// answer it is looked up by name and adopted), checked to be of the wanted kind.
    async fn ensure_target_group(
        &self,
        ctx: &Ctx,
        key: &Key,
        spec: TargetGroupSpec,
    ) -> Result<TargetGroupInfo, ComponentError> {
        let name = spec.name.clone();
        let tg = ctx
            .ensure::<TargetGroupInfo>(key, &name, Rule::Name)
            .find_one(|_| self.elb.describe_target_group(name.clone()))
            .create(|_token| {
                tracing::info!(target_group = %name, target_type = %spec.target_type, region = %self.region, "creating target group");
                self.elb.create_target_group(spec.clone())
            })
            .id(|t: &TargetGroupInfo| t.arn.clone())
            .run()
            .await?;
        if tg.target_type != spec.target_type || tg.port != spec.port || tg.protocol != spec.protocol {
            return Err(ComponentError::invalid(
                &name,
                &self.region,
                format!(
                    "existing target group {} is {} {:?}:{:?}, expected {} {:?}:{:?}; destroy and re-apply to re-create it",
                    tg.arn, tg.target_type, tg.protocol, tg.port, spec.target_type, spec.protocol, spec.port
                ),
            ));
        }
        Ok(tg)
    }

    /// The load balancer named in `spec` (unique name, like target groups).
    async fn ensure_load_balancer(
        &self,
        ctx: &Ctx,
        key: &Key,
        spec: LoadBalancerSpec,
    ) -> Result<LoadBalancerInfo, ComponentError> {
        let name = spec.name.clone();
        let lb = ctx
            .ensure::<LoadBalancerInfo>(key, &name, Rule::Name)
            .find_one(|_| self.elb.describe_load_balancer(name.clone()))
            .create(|_token| {
                tracing::info!(load_balancer = %name, lb_type = %spec.lb_type, region = %self.region, "creating load balancer");
                self.elb.create_load_balancer(spec.clone())
            })
            .id(|l: &LoadBalancerInfo| l.arn.clone())
            .run()
            .await?;
        if lb.lb_type != spec.lb_type || lb.scheme != spec.scheme {
            return Err(ComponentError::invalid(
                &name,
                &self.region,
                format!(
                    "existing load balancer {} is {} {}, expected {} {}; destroy and re-apply",
                    lb.arn, lb.scheme, lb.lb_type, spec.scheme, spec.lb_type
                ),
            ));
        }
        if lb.state == "failed" {
            return Err(ComponentError::invalid(
                &name,
                &self.region,
                format!("load balancer {} is in state failed; destroy and re-apply", lb.arn),
            ));
        }
        Ok(lb)
    }

    async fn wait_active(&self, name: &str) -> Result<LoadBalancerInfo, ComponentError> {
        poll_until(
            name,
            &self.region,
            "load balancer active",
            ACTIVE_TIMEOUT,
            || async {
                match self.elb.describe_load_balancer(name.to_string()).await? {
                    Some(lb) if lb.state == "active" || lb.state == "active_impaired" => {
                        Ok(Poll::Ready(lb))
                    }
                    Some(lb) if lb.state == "failed" => Err(AwsError::other(
                        "LoadBalancerFailed",
                        format!("load balancer {} failed to provision", lb.arn),
                    )),
                    Some(lb) => Ok(Poll::Pending(lb.state)),
                    None => Ok(Poll::Pending("not visible yet".into())),
                }
            },
        )
        .await
    }

    /// Ensures exactly `target_id` is registered in the target group. A target is unique in
    /// its group and registering it again is harmless: after a lost answer it is looked up.
    async fn ensure_target(
        &self,
        ctx: &Ctx,
        key: &Key,
        tg: &TargetGroupInfo,
        target_id: &str,
        port: Option<i32>,
    ) -> Result<(), ComponentError> {
        let registered = retry(|| self.elb.registered_targets(tg.arn.clone()))
            .await
            .at(&tg.name, &self.region)?;
        if registered.iter().any(|t| t == target_id) {
            ctx.adopt(key, target_id).await?;
        } else {
            ctx.ensure::<String>(key, &tg.name, Rule::Name)
                .known_absent()
                .find(|_| {
                    // Runs after an ambiguous create only (known_absent: the read above was the first look).
                    async move {
                        let now = self.elb.registered_targets(tg.arn.clone()).await?;
                        Ok(now.into_iter().filter(|t| t == target_id).collect())
                    }
                })
                .create(|_token| async {
                    tracing::info!(target_group = %tg.name, target = target_id, region = %self.region, "registering target");
                    // Lambda targets need the invoke permission, which takes a moment to
                    // propagate (AccessDenied: a definite rejection).
                    until_accepted(
                        || self.elb.register_target(tg.arn.clone(), target_id.to_string(), port),
                        |e| e.is_code("AccessDenied"),
                    )
                    .await
                    .map(|()| target_id.to_string())
                })
                .id(|t: &String| t.clone())
                .run()
                .await?;
        }
        for stale in registered.iter().filter(|t| *t != target_id) {
            tracing::info!(target_group = %tg.name, target = %stale, region = %self.region, "deregistering stale target");
            retry(|| async {
                ignore_not_found(
                    self.elb
                        .deregister_target(tg.arn.clone(), stale.clone())
                        .await,
                )
            })
            .await
            .at(&tg.name, &self.region)?;
        }
        Ok(())
    }

    /// Ensures ELB may invoke the function from the ALB's target group (and only from it).
    /// The statement id is unique in the function's policy: "already exists" (a lost answer
    /// of an earlier AddPermission) looks the statement up and adopts it.
    async fn ensure_permission(
        &self,
        ctx: &Ctx,
        function_arn: &str,
        tg: &TargetGroupInfo,
    ) -> Result<(), ComponentError> {
        let sid = &self.names.statement_id;
        let fname = function_arn.to_string();
        let statements = retry(|| self.lambda.permission_statements(&fname))
            .await
            .at(function_arn, &self.region)?;
        let ours = |s: &PermissionStatement| {
            &s.sid == sid && s.principal == ELB_PRINCIPAL && s.source_arn.as_deref() == Some(tg.arn.as_str())
        };
        match statements.iter().find(|s| &s.sid == sid) {
            Some(s) if ours(s) => return ctx.adopt(&LAMBDA_PERMISSION, function_arn).await,
            Some(_) => {
                tracing::info!(function = function_arn, sid = %sid, region = %self.region, "replacing outdated invoke permission");
                retry(|| async {
                    ignore_not_found(
                        self.lambda
                            .remove_permission(&fname, sid)
                            .await,
                    )
                })
                .await
                .at(function_arn, &self.region)?;
            }
            None => {}
        }
        ctx.ensure::<String>(&LAMBDA_PERMISSION, sid, Rule::Name)
            .known_absent()
            .find(|_| {
                let fname = fname.clone();
                async move {
                    let now = self.lambda.permission_statements(&fname).await?;
                    Ok(if now.iter().any(ours) { vec![fname] } else { Vec::new() })
                }
            })
            .create(|_token| {
                let added = self.lambda.add_permission(&fname, sid, ELB_PRINCIPAL, &tg.arn);
                let fname = fname.clone();
                async move { added.await.map(|()| fname) }
            })
            .id(|_| fname.clone())
            .run()
            .await
            .map(|_| ())
    }

    /// Ensures the 443 listener of `lb` forwards to `tg` with the given protocol/certificate.
    /// A listener is unique per load balancer and port: "DuplicateListener" (a lost answer)
    /// looks it up by port and adopts it; tagged in CreateListener.
    async fn ensure_listener(
        &self,
        ctx: &Ctx,
        key: &Key,
        lb: &LoadBalancerInfo,
        spec: ListenerSpec,
    ) -> Result<String, ComponentError> {
        let on_port = |ls: Vec<ListenerInfo>| ls.into_iter().filter(|l| l.port == spec.port).collect::<Vec<_>>();
        let mut first = Some(
            retry(|| self.elb.describe_listeners(lb.arn.clone()))
                .await
                .at(&lb.name, &self.region)?,
        );
        let listener = ctx
            .ensure::<ListenerInfo>(key, &lb.name, Rule::Name)
            .find(|_| {
                let snapshot = first.take();
                async {
                    Ok(on_port(match snapshot {
                        Some(ls) => ls,
                        None => self.elb.describe_listeners(lb.arn.clone()).await?,
                    }))
                }
            })
            .create(|_token| async {
                tracing::info!(load_balancer = %lb.name, port = spec.port, protocol = %spec.protocol, region = %self.region, "creating listener");
                // The target group may take a moment to be usable by a new listener.
                let arn = until_accepted(|| self.elb.create_listener(spec.clone()), AwsError::is_not_found).await?;
                Ok(ListenerInfo {
                    arn,
                    port: spec.port,
                    protocol: spec.protocol.clone(),
                    certificate_arns: spec.certificate_arn.iter().cloned().collect(),
                    target_group_arns: vec![spec.target_group_arn.clone()],
                })
            })
            .id(|l: &ListenerInfo| l.arn.clone())
            .run()
            .await?;
        if !listener_matches(&listener, &spec) {
            tracing::info!(load_balancer = %lb.name, listener = %listener.arn, protocol = %spec.protocol, region = %self.region, "updating listener");
            ctx.update(key, || async {
                retry(|| self.elb.modify_listener(listener.arn.clone(), spec.clone()))
                    .await
                    .at(&lb.name, &self.region)
            })
            .await?;
        }
        Ok(listener.arn)
    }

    /// Deletes the load balancer (recorded, or found by name: a create whose answer was
    /// lost) and waits until it is gone.
    async fn delete_load_balancer(&self, ctx: &Ctx, key: &Key, name: &str) -> Result<(), ComponentError> {
        let deleted = ctx
            .delete(
                key,
                name,
                |_recorded| async {
                    Ok(self.elb.describe_load_balancer(name.to_string()).await?.map(|lb| lb.arn).into_iter().collect())
                },
                |arn| {
                    tracing::info!(load_balancer = name, region = %self.region, "deleting load balancer");
                    self.elb.delete_load_balancer(arn)
                },
            )
            .await?;
        if deleted > 0 {
            poll_until(name, &self.region, "load balancer deleted", DELETE_TIMEOUT, || async {
                Ok(match self.elb.describe_load_balancer(name.to_string()).await? {
                    None => Poll::Ready(()),
                    Some(lb) => Poll::Pending(lb.state),
                })
            })
            .await?;
        }
        Ok(())
    }

    /// Deletes the target group (recorded, or found by name).
    async fn delete_target_group(&self, ctx: &Ctx, key: &Key, name: &str) -> Result<(), ComponentError> {
        ctx.delete(
            key,
            name,
            |_recorded| async {
                Ok(self.elb.describe_target_group(name.to_string()).await?.map(|tg| tg.arn).into_iter().collect())
            },
            |arn| {
                tracing::info!(target_group = name, region = %self.region, "deleting target group");
                // ResourceInUse until the load balancer using it is completely gone.
                retry_if(move || self.elb.delete_target_group(arn.clone()), |e| e.is_code("ResourceInUse"))
            },
        )
        .await?;
        Ok(())
    }
}

fn listener_matches(l: &ListenerInfo, spec: &ListenerSpec) -> bool {
    l.protocol == spec.protocol
        && l.target_group_arns == vec![spec.target_group_arn.clone()]
        && match &spec.certificate_arn {
            Some(c) => l.certificate_arns.iter().any(|x| x == c),
            None => true,
        }
}

#[async_trait::async_trait]
impl Component for LoadBalancerComponent {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "nlb"
    }

    fn placement(&self) -> Placement {
        self.placement
    }

    fn region(&self) -> &str {
        &self.region
    }

    fn dependencies(&self) -> Vec<String> {
        let mut deps = vec![ids::network(self.placement), ids::functions(self.placement)];
        if let CertificateSource::Component(dep) = &self.certificate {
            deps.push(dep.clone());
        }
        deps
    }

    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::LoadBalancerOutputs>()
    }

    fn expected_duration(&self) -> Duration {
        // ALB and NLB provisioning (`provisioning` → `active`), partly overlapped. AWS documents
        // no time; terraform-provider-aws `aws_lb` create timeout is 10 min, and users report
        // "no more than 5 minutes on most runs" (hashicorp/terraform#24799).
        Duration::from_secs(300)
    }

    fn desired(&self) -> Desired {
        let (protocol, certificate) = match &self.certificate {
            CertificateSource::Configured(arn) => ("HTTPS", json!({ "configured": arn })),
            CertificateSource::Component(dep) => ("HTTPS", json!({ "from": dep })),
            CertificateSource::None => ("HTTP", serde_json::Value::Null),
        };
        Desired::new(
            json!({
                "nlb": {"name": self.names.nlb, "scheme": "internet-facing", "listener": format!("TCP:{HTTPS_PORT}")},
                "nlb_target_group": {"name": self.names.nlb_tg, "target_type": "alb", "protocol": "TCP", "port": HTTPS_PORT},
                "alb": {"name": self.names.alb, "scheme": "internal"},
                "alb_target_group": {"name": self.names.alb_tg, "target_type": "lambda"},
            }),
            json!({
                "alb_listener": {"port": HTTPS_PORT, "protocol": protocol, "certificate": certificate, "ssl_policy": if protocol == "HTTPS" { Some(SSL_POLICY) } else { None }},
                "health_check": {"path": HEALTH_PATH},
                "invoke_permission": self.names.statement_id,
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let net: NetworkOutputs = ctx.input(&ids::network(self.placement))?;
        let functions: FunctionsOutputs = ctx.input(&ids::functions(self.placement))?;
        let certificate = self.certificate_arn(ctx)?;
        let https = certificate.is_some();
        let n = &self.names;

        // ALB side: lambda target group, invoke permission, the function as target.
        let alb_tg = self
            .ensure_target_group(
                ctx,
                &ALB_TARGET_GROUP,
                TargetGroupSpec {
                    name: n.alb_tg.clone(),
                    target_type: "lambda".into(),
                    health_check_enabled: false,
                    tags: self.tags(&n.alb_tg),
                    ..Default::default()
                },
            )
            .await?;
        self.ensure_permission(ctx, &functions.api_function_arn, &alb_tg)
            .await?;
        self.ensure_target(
            ctx,
            &ALB_TARGET,
            &alb_tg,
            &functions.api_function_arn,
            None,
        )
        .await?;
        ctx.check_cancelled()?;

        // Both load balancers (provisioning overlaps).
        let alb = self
            .ensure_load_balancer(
                ctx,
                &ALB,
                LoadBalancerSpec {
                    name: n.alb.clone(),
                    lb_type: "application".into(),
                    scheme: "internal".into(),
                    subnets: net.private_subnet_ids.clone(),
                    security_groups: vec![net.lb_security_group_id.clone()],
                    tags: self.tags(&n.alb),
                },
            )
            .await?;
        let nlb = self
            .ensure_load_balancer(
                ctx,
                &NLB,
                LoadBalancerSpec {
                    name: n.nlb.clone(),
                    lb_type: "network".into(),
                    scheme: "internet-facing".into(),
                    subnets: net.public_subnet_ids.clone(),
                    security_groups: Vec::new(),
                    tags: self.tags(&n.nlb),
                },
            )
            .await?;
        self.ensure_listener(
            ctx,
            &ALB_LISTENER,
            &alb,
            ListenerSpec {
                load_balancer_arn: alb.arn.clone(),
                protocol: if https { "HTTPS" } else { "HTTP" }.into(),
                port: HTTPS_PORT,
                ssl_policy: https.then(|| SSL_POLICY.to_string()),
                certificate_arn: certificate,
                target_group_arn: alb_tg.arn.clone(),
                tags: self.tags(&n.alb),
            },
        )
        .await?;
        let alb = if alb.state == "active" {
            alb
        } else {
            self.wait_active(&n.alb).await?
        };
        ctx.check_cancelled()?;

        // NLB side: target group of type alb, the ALB as its target, TCP listener.
        let nlb_tg = self
            .ensure_target_group(
                ctx,
                &NLB_TARGET_GROUP,
                TargetGroupSpec {
                    name: n.nlb_tg.clone(),
                    target_type: "alb".into(),
                    protocol: Some("TCP".into()),
                    port: Some(HTTPS_PORT),
                    vpc_id: Some(net.vpc_id.clone()),
                    health_check_enabled: true,
                    health_check_protocol: Some(if https { "HTTPS" } else { "HTTP" }.into()),
                    health_check_path: Some(HEALTH_PATH.into()),
                    matcher: Some("200-399".into()),
                    tags: self.tags(&n.nlb_tg),
                },
            )
            .await?;
        self.ensure_target(ctx, &NLB_TARGET, &nlb_tg, &alb.arn, Some(HTTPS_PORT))
            .await?;
        self.ensure_listener(
            ctx,
            &NLB_LISTENER,
            &nlb,
            ListenerSpec {
                load_balancer_arn: nlb.arn.clone(),
                protocol: "TCP".into(),
                port: HTTPS_PORT,
                certificate_arn: None,
                ssl_policy: None,
                target_group_arn: nlb_tg.arn.clone(),
                tags: self.tags(&n.nlb),
            },
        )
        .await?;
        let nlb = if nlb.state == "active" {
            nlb
        } else {
            self.wait_active(&n.nlb).await?
        };

        Ok(to_outputs(&LoadBalancerOutputs {
            nlb_arn: nlb.arn,
            nlb_dns_name: nlb.dns_name,
            nlb_zone_id: nlb.zone_id,
            nlb_target_group_arn: nlb_tg.arn,
            alb_arn: alb.arn,
            alb_dns_name: alb.dns_name,
            alb_target_group_arn: alb_tg.arn,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let n = &self.names;
        self.delete_load_balancer(ctx, &NLB, &n.nlb).await?;
        self.delete_target_group(ctx, &NLB_TARGET_GROUP, &n.nlb_tg).await?;
        self.delete_load_balancer(ctx, &ALB, &n.alb).await?;
        self.delete_target_group(ctx, &ALB_TARGET_GROUP, &n.alb_tg).await?;
        let input_function = ctx
            .input_opt::<FunctionsOutputs>(&ids::functions(self.placement))
            .map(|f| f.api_function_arn);
        ctx.delete(
            &LAMBDA_PERMISSION,
            &n.statement_id,
            |recorded| {
                let function = recorded.or_else(|| input_function.clone());
                async move {
                    let Some(f) = function else { return Ok(Vec::new()) };
                    let statements = self.lambda.permission_statements(&f).await?;
                    Ok(if statements.iter().any(|s| s.sid == n.statement_id) { vec![f] } else { Vec::new() })
                }
            },
            |f| {
                tracing::info!(function = %f, sid = %n.statement_id, region = %self.region, "removing invoke permission");
                async move { self.lambda.remove_permission(&f, &n.statement_id).await }
            },
        )
        .await?;
        for (lb, prefix) in [(&n.nlb, "net"), (&n.alb, "app")] {
            let description = format!("ELB {prefix}/{lb}/*");
            wait_enis_gone(
                self.ec2.as_ref(),
                lb,
                &self.region,
                filters(&[("description", &description)]),
                ENI_TIMEOUT,
            )
            .await?;
        }
        ctx.forget_all().await
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let n = &self.names;
        let Some(nlb) = retry(|| self.elb.describe_load_balancer(n.nlb.clone()))
            .await
            .at(&n.nlb, &self.region)?
        else {
            return Ok(Drift::Missing {
                details: vec![format!(
                    "load balancer {} not found in {}",
                    n.nlb, self.region
                )],
            });
        };
        let mut details = Vec::new();
        if nlb.state != "active" {
            details.push(format!("{} is {}", n.nlb, nlb.state));
        }
        let alb = retry(|| self.elb.describe_load_balancer(n.alb.clone()))
            .await
            .at(&n.alb, &self.region)?;
        if alb.is_none() {
            details.push(format!("load balancer {} missing", n.alb));
        }
        let nlb_tg = retry(|| self.elb.describe_target_group(n.nlb_tg.clone()))
            .await
            .at(&n.nlb_tg, &self.region)?;
        let alb_tg = retry(|| self.elb.describe_target_group(n.alb_tg.clone()))
            .await
            .at(&n.alb_tg, &self.region)?;
        match (&nlb_tg, &alb) {
            (None, _) => details.push(format!("target group {} missing", n.nlb_tg)),
            (Some(tg), Some(alb)) => {
                let targets = retry(|| self.elb.registered_targets(tg.arn.clone()))
                    .await
                    .at(&tg.name, &self.region)?;
                if !targets.contains(&alb.arn) {
                    details.push(format!("{} does not target {}", n.nlb_tg, n.alb));
                }
            }
            _ => {}
        }
        match &alb_tg {
            None => details.push(format!("target group {} missing", n.alb_tg)),
            Some(tg) => {
                let targets = retry(|| self.elb.registered_targets(tg.arn.clone()))
                    .await
                    .at(&tg.name, &self.region)?;
                if let Some(f) = ctx.input_opt::<FunctionsOutputs>(&ids::functions(self.placement))
                {
                    if !targets.contains(&f.api_function_arn) {
                        details.push(format!(
                            "{} does not target {}",
                            n.alb_tg, f.api_function_name
                        ));
                    }
                } else if targets.is_empty() {
                    details.push(format!("{} has no target", n.alb_tg));
                }
            }
        }
        for (lb, tg) in [(Some(&nlb), &nlb_tg), (alb.as_ref(), &alb_tg)] {
            let (Some(lb), Some(tg)) = (lb, tg) else {
                continue;
            };
            let listeners = retry(|| self.elb.describe_listeners(lb.arn.clone()))
                .await
                .at(&lb.name, &self.region)?;
            if !listeners
                .iter()
                .any(|l| l.port == HTTPS_PORT && l.target_group_arns.contains(&tg.arn))
            {
                details.push(format!(
                    "{}: no listener on {HTTPS_PORT} forwarding to {}",
                    lb.name, tg.name
                ));
            }
        }
        Ok(if details.is_empty() {
            Drift::InSync
        } else {
            Drift::Drifted { details }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2_api::MockEc2Api;
    use crate::elb_api::MockElbApi;
    use tandem_clients::lambda::MockLambdaApi;
    use crate::test_support::*;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::from_outputs;

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:api-primary-dev";
    const ALB: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/alb-primary-dev/1";
    const NLB: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/nlb-primary-dev/2";
    const TGL: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tgl-primary-dev/3";
    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-primary-dev/4";
    const SID: &str = "elb-invoke-tgl-primary-dev";

    fn functions() -> FunctionsOutputs {
        FunctionsOutputs {
            api_function_name: "api-primary-dev".into(),
            api_function_arn: FN.into(),
            processor_function_name: "processor-primary-dev".into(),
            processor_function_arn: "arn:p".into(),
            replicator_function_name: "replicator-primary-dev".into(),
            replicator_function_arn: "arn:r".into(),
            code_sha256: "abc".into(),
        }
    }

    fn ctx() -> Ctx {
        Ctx::standalone("loadbalancer-primary", REGION)
            .with_input(
                &ids::network(Placement::Primary),
                &network_outputs("primary"),
            )
            .with_input(&ids::functions(Placement::Primary), &functions())
    }

    fn component_with(
        cfg: &Config,
        elb: MockElbApi,
        lambda: MockLambdaApi,
        ec2: MockEc2Api,
    ) -> LoadBalancerComponent {
        LoadBalancerComponent::new(
            cfg,
            Placement::Primary,
            Arc::new(elb),
            Arc::new(lambda),
            Arc::new(ec2),
        )
    }

    fn component(elb: MockElbApi, lambda: MockLambdaApi, ec2: MockEc2Api) -> LoadBalancerComponent {
        component_with(&cfg(), elb, lambda, ec2)
    }

    fn lb(kind: &str, state: &str) -> LoadBalancerInfo {
        let (arn, name, t, scheme) = if kind == "alb" {
            (ALB, "alb-primary-dev", "application", "internal")
        } else {
            (NLB, "nlb-primary-dev", "network", "internet-facing")
        };
        LoadBalancerInfo {
            arn: arn.into(),
            name: name.into(),
            dns_name: format!("{name}.elb.amazonaws.com"),
            zone_id: "Z26RNL4JYFTOTI".into(),
            state: state.into(),
            lb_type: t.into(),
            scheme: scheme.into(),
            vpc_id: "vpc-1".into(),
            security_groups: if kind == "alb" {
                vec!["sg-plb".into()]
            } else {
                vec![]
            },
        }
    }

    fn tg(kind: &str) -> TargetGroupInfo {
        if kind == "lambda" {
            TargetGroupInfo {
                arn: TGL.into(),
                name: "tgl-primary-dev".into(),
                target_type: "lambda".into(),
                ..Default::default()
            }
        } else {
            TargetGroupInfo {
                arn: TG.into(),
                name: "tg-primary-dev".into(),
                target_type: "alb".into(),
                protocol: Some("TCP".into()),
                port: Some(443),
                vpc_id: Some("vpc-1".into()),
                health_check_protocol: Some("HTTP".into()),
                health_check_path: Some("/health".into()),
                load_balancer_arns: vec![NLB.into()],
            }
        }
    }

    fn listener(kind: &str) -> ListenerInfo {
        if kind == "alb" {
            ListenerInfo {
                arn: "arn:l-alb".into(),
                port: 443,
                protocol: "HTTP".into(),
                certificate_arns: vec![],
                target_group_arns: vec![TGL.into()],
            }
        } else {
            ListenerInfo {
                arn: "arn:l-nlb".into(),
                port: 443,
                protocol: "TCP".into(),
                certificate_arns: vec![],
                target_group_arns: vec![TG.into()],
            }
        }
    }

    fn permission() -> PermissionStatement {
        PermissionStatement {
            sid: SID.into(),
            principal: ELB_PRINCIPAL.into(),
            source_arn: Some(TGL.into()),
        }
    }

    /// Read-only expectations of an apply over the healthy chain.
    fn healthy(elb: &mut MockElbApi, lambda: &mut MockLambdaApi) {
        elb.expect_describe_target_group().returning(|n| {
            Ok(Some(tg(if n.starts_with("tgl") {
                "lambda"
            } else {
                "alb"
            })))
        });
        elb.expect_describe_load_balancer()
            .returning(|n| Ok(Some(lb(&n[..3], "active"))));
        elb.expect_registered_targets().returning(|arn| {
            Ok(vec![if arn == TGL {
                FN.to_string()
            } else {
                ALB.to_string()
            }])
        });
        elb.expect_describe_listeners()
            .returning(|arn| Ok(vec![listener(if arn == ALB { "alb" } else { "nlb" })]));
        lambda
            .expect_permission_statements()
            .returning(|_| Ok(vec![permission()]));
    }

    #[tokio::test(start_paused = true)]
    async fn create_builds_nlb_to_alb_to_lambda_in_order() {
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut seq = Sequence::new();
        elb.expect_describe_target_group()
            .with(eq("tgl-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        elb.expect_create_target_group()
            .withf(|s| {
                s.name == "tgl-primary-dev"
                    && s.target_type == "lambda"
                    && s.protocol.is_none()
                    && s.port.is_none()
                    && s.vpc_id.is_none()
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(tg("lambda")));
        lambda
            .expect_permission_statements()
            .with(eq(FN.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        lambda
            .expect_add_permission()
            .with(
                eq(FN.to_string()),
                eq(SID.to_string()),
                eq(ELB_PRINCIPAL.to_string()),
                eq(TGL.to_string()),
            )
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        elb.expect_registered_targets()
            .with(eq(TGL.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        elb.expect_register_target()
            .with(eq(TGL.to_string()), eq(FN.to_string()), eq(None))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        elb.expect_describe_load_balancer()
            .with(eq("alb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        elb.expect_create_load_balancer()
            .withf(|s| {
                s.name == "alb-primary-dev"
                    && s.lb_type == "application"
                    && s.scheme == "internal"
                    && s.subnets == vec!["subnet-pxa".to_string(), "subnet-pxb".to_string()]
                    && s.security_groups == vec!["sg-plb".to_string()]
                    && name_tag(&s.tags) == "alb-primary-dev"
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(lb("alb", "provisioning")));
        elb.expect_describe_load_balancer()
            .with(eq("nlb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        elb.expect_create_load_balancer()
            .withf(|s| {
                s.name == "nlb-primary-dev"
                    && s.lb_type == "network"
                    && s.scheme == "internet-facing"
                    && s.subnets == vec!["subnet-ppa".to_string(), "subnet-ppb".to_string()]
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(lb("nlb", "provisioning")));
        elb.expect_describe_listeners()
            .with(eq(ALB.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        elb.expect_create_listener()
            .withf(|s| {
                s.load_balancer_arn == ALB
                    && s.protocol == "HTTP"
                    && s.port == 443
                    && s.certificate_arn.is_none()
                    && s.target_group_arn == TGL
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok("arn:l-alb".into()));
        elb.expect_describe_load_balancer()
            .with(eq("alb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(lb("alb", "active"))));
        elb.expect_describe_target_group()
            .with(eq("tg-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        elb.expect_create_target_group()
            .withf(|s| {
                s.name == "tg-primary-dev"
                    && s.target_type == "alb"
                    && s.protocol.as_deref() == Some("TCP")
                    && s.port == Some(443)
                    && s.vpc_id.as_deref() == Some("vpc-1")
                    && s.health_check_protocol.as_deref() == Some("HTTP")
                    && s.health_check_path.as_deref() == Some("/health")
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(tg("alb")));
        elb.expect_registered_targets()
            .with(eq(TG.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        elb.expect_register_target()
            .with(eq(TG.to_string()), eq(ALB.to_string()), eq(Some(443)))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        elb.expect_describe_listeners()
            .with(eq(NLB.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        elb.expect_create_listener()
            .withf(|s| {
                s.load_balancer_arn == NLB
                    && s.protocol == "TCP"
                    && s.port == 443
                    && s.target_group_arn == TG
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok("arn:l-nlb".into()));
        elb.expect_describe_load_balancer()
            .with(eq("nlb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(lb("nlb", "active"))));

        let ctx = ctx();
        let out: LoadBalancerOutputs = from_outputs(
            &component(elb, lambda, MockEc2Api::new())
                .apply(&ctx)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            out,
            LoadBalancerOutputs {
                nlb_arn: NLB.into(),
                nlb_dns_name: "nlb-primary-dev.elb.amazonaws.com".into(),
                nlb_zone_id: "Z26RNL4JYFTOTI".into(),
                nlb_target_group_arn: TG.into(),
                alb_arn: ALB.into(),
                alb_dns_name: "alb-primary-dev.elb.amazonaws.com".into(),
                alb_target_group_arn: TGL.into(),
            }
        );
        let journal = ctx.journal_entries().await;
        assert_eq!(journal["lambda-permission"].id.as_deref(), Some(FN));
        assert_eq!(journal["nlb-target"].id.as_deref(), Some(ALB));
    }

    fn pending(key: &Key) -> tandem_core::state::ComponentState {
        tandem_core::state::ComponentState::new("nlb", Placement::Primary, REGION).with_pending_create(key.as_str(), Some("t"))
    }

    fn lambda_tg_spec() -> TargetGroupSpec {
        TargetGroupSpec {
            name: "tgl-primary-dev".into(),
            target_type: "lambda".into(),
            ..Default::default()
        }
    }

    /// CreateTargetGroup and CreateLoadBalancer act (the resource then exists) but their
    /// answers are lost with a 500: each is looked up by name and adopted, created once.
    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_of_target_group_and_nlb_are_adopted_by_name() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (tg_made, lb_made) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let mut elb = MockElbApi::new();
        let t = tg_made.clone();
        elb.expect_describe_target_group()
            .returning(move |_| Ok(t.load(Ordering::SeqCst).then(|| tg("lambda"))));
        let t = tg_made.clone();
        elb.expect_create_target_group().times(1).returning(move |_| {
            t.store(true, Ordering::SeqCst);
            Err(AwsError::new("InternalFailure", "answer lost", Some(500)))
        });
        let l = lb_made.clone();
        elb.expect_describe_load_balancer()
            .returning(move |_| Ok(l.load(Ordering::SeqCst).then(|| lb("nlb", "provisioning"))));
        let l = lb_made.clone();
        elb.expect_create_load_balancer().times(1).returning(move |_| {
            l.store(true, Ordering::SeqCst);
            Err(AwsError::new("ServiceUnavailable", "answer lost", Some(503)))
        });
        let c = component(elb, MockLambdaApi::new(), MockEc2Api::new());
        let ctx = ctx();
        let t = c.ensure_target_group(&ctx, &ALB_TARGET_GROUP, lambda_tg_spec()).await.unwrap();
        assert_eq!(t.arn, TGL);
        let spec = LoadBalancerSpec {
            name: "nlb-primary-dev".into(),
            lb_type: "network".into(),
            scheme: "internet-facing".into(),
            ..Default::default()
        };
        let l = c.ensure_load_balancer(&ctx, &super::NLB, spec).await.unwrap();
        assert_eq!(l.arn, NLB);
        for (key, id) in [(&ALB_TARGET_GROUP, TGL), (&super::NLB, NLB)] {
            let e = ctx.entry(key).await.unwrap();
            assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some(id)));
        }
    }

    /// A resumed run (the create left pending by an interrupted run) adopts the target group
    /// found by name and creates nothing.
    #[tokio::test(start_paused = true)]
    async fn resumed_pending_target_group_create_is_adopted_without_a_create() {
        let mut elb = MockElbApi::new();
        elb.expect_describe_target_group().returning(|_| Ok(Some(tg("lambda"))));
        // No create_target_group expectation: a create panics.
        let c = component(elb, MockLambdaApi::new(), MockEc2Api::new());
        let ctx = ctx().with_prior(pending(&ALB_TARGET_GROUP));
        c.ensure_target_group(&ctx, &ALB_TARGET_GROUP, lambda_tg_spec()).await.unwrap();
        let e = ctx.entry(&ALB_TARGET_GROUP).await.unwrap();
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some(TGL)));
    }

    /// CreateListener's answer was lost and the SDK's retry got "DuplicateListener": the
    /// listener on the port is looked up and adopted; one listener, journaled.
    #[tokio::test(start_paused = true)]
    async fn duplicate_listener_is_looked_up_by_port_and_adopted() {
        let mut elb = MockElbApi::new();
        let mut seq = Sequence::new();
        elb.expect_describe_listeners().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        elb.expect_create_listener()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::new("DuplicateListener", "A listener already exists on this port", Some(400))));
        elb.expect_describe_listeners().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![listener("alb")]));
        let c = component(elb, MockLambdaApi::new(), MockEc2Api::new());
        let ctx = ctx();
        let spec = ListenerSpec {
            load_balancer_arn: ALB.into(),
            protocol: "HTTP".into(),
            port: HTTPS_PORT,
            target_group_arn: TGL.into(),
            ..Default::default()
        };
        let arn = c.ensure_listener(&ctx, &ALB_LISTENER, &lb("alb", "active"), spec).await.unwrap();
        assert_eq!(arn, "arn:l-alb");
        let e = ctx.entry(&ALB_LISTENER).await.unwrap();
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some("arn:l-alb")));
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_healthy_chain_makes_no_mutating_call() {
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        healthy(&mut elb, &mut lambda);
        let out: LoadBalancerOutputs = from_outputs(
            &component(elb, lambda, MockEc2Api::new())
                .apply(&ctx())
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(out.nlb_arn, NLB);
        assert_eq!(out.alb_target_group_arn, TGL);
    }

    #[tokio::test(start_paused = true)]
    async fn new_function_replaces_the_old_target_and_permission() {
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        elb.expect_describe_target_group().returning(|n| {
            Ok(Some(tg(if n.starts_with("tgl") {
                "lambda"
            } else {
                "alb"
            })))
        });
        elb.expect_describe_load_balancer()
            .returning(|n| Ok(Some(lb(&n[..3], "active"))));
        elb.expect_describe_listeners()
            .returning(|arn| Ok(vec![listener(if arn == ALB { "alb" } else { "nlb" })]));
        elb.expect_registered_targets().returning(|arn| {
            Ok(vec![if arn == TGL {
                "arn:old-fn".to_string()
            } else {
                ALB.to_string()
            }])
        });
        lambda.expect_permission_statements().returning(|_| {
            Ok(vec![PermissionStatement {
                source_arn: Some("arn:other-tg".into()),
                ..permission()
            }])
        });
        let mut seq = Sequence::new();
        lambda
            .expect_remove_permission()
            .with(eq(FN.to_string()), eq(SID.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        lambda
            .expect_add_permission()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));
        elb.expect_register_target()
            .with(eq(TGL.to_string()), eq(FN.to_string()), eq(None))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        elb.expect_deregister_target()
            .with(eq(TGL.to_string()), eq("arn:old-fn".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        component(elb, lambda, MockEc2Api::new())
            .apply(&ctx())
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn configured_certificate_gives_an_https_listener() {
        let mut cfg = cfg();
        cfg.api.primary_domain = Some("api.example.com".into());
        cfg.api.primary_certificate_arn =
            Some("arn:aws:acm:us-east-1:123456789012:certificate/abc".into());
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        elb.expect_describe_target_group().returning(|n| {
            let mut t = tg(if n.starts_with("tgl") {
                "lambda"
            } else {
                "alb"
            });
            if t.target_type == "alb" {
                t.health_check_protocol = Some("HTTPS".into());
            }
            Ok(Some(t))
        });
        elb.expect_describe_load_balancer()
            .returning(|n| Ok(Some(lb(&n[..3], "active"))));
        elb.expect_registered_targets().returning(|arn| {
            Ok(vec![if arn == TGL {
                FN.to_string()
            } else {
                ALB.to_string()
            }])
        });
        elb.expect_describe_listeners()
            .returning(|arn| Ok(vec![listener(if arn == ALB { "alb" } else { "nlb" })]));
        lambda
            .expect_permission_statements()
            .returning(|_| Ok(vec![permission()]));
        // The existing HTTP listener is switched to HTTPS with the certificate.
        elb.expect_modify_listener()
            .withf(|arn, s| {
                arn == "arn:l-alb"
                    && s.protocol == "HTTPS"
                    && s.certificate_arn.as_deref()
                        == Some("arn:aws:acm:us-east-1:123456789012:certificate/abc")
                    && s.ssl_policy.as_deref() == Some(SSL_POLICY)
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let c = component_with(&cfg, elb, lambda, MockEc2Api::new());
        assert_eq!(
            c.dependencies(),
            vec![
                "network-primary".to_string(),
                "functions-primary".to_string()
            ]
        );
        c.apply(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn requested_certificate_is_a_dependency_and_must_be_issued() {
        let mut cfg = cfg();
        cfg.api.primary_domain = Some("api.example.com".into());
        let c = component_with(
            &cfg,
            MockElbApi::new(),
            MockLambdaApi::new(),
            MockEc2Api::new(),
        );
        assert_eq!(
            c.dependencies(),
            vec![
                "network-primary".to_string(),
                "functions-primary".to_string(),
                "certificate-primary".to_string()
            ]
        );
        let pending = CertificateOutputs {
            certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/new".into(),
            domain_name: "api.example.com".into(),
            status: "PENDING_VALIDATION".into(),
            validation_records: vec![],
        };
        let e = c
            .apply(&ctx().with_input("certificate-primary", &pending))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("PENDING_VALIDATION")
                && e.contains("alb-primary-dev")
                && e.contains("us-east-1"),
            "{e}"
        );
        let e = c.apply(&ctx()).await.unwrap_err().to_string();
        assert!(
            e.contains("certificate-primary"),
            "missing input is named: {e}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_lbs_then_target_groups_then_waits_for_enis() {
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut ec2 = MockEc2Api::new();
        let mut seq = Sequence::new();
        elb.expect_describe_load_balancer()
            .with(eq("nlb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(lb("nlb", "active"))));
        elb.expect_delete_load_balancer()
            .with(eq(NLB.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        elb.expect_describe_load_balancer()
            .with(eq("nlb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        elb.expect_describe_target_group()
            .with(eq("tg-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(tg("alb"))));
        elb.expect_delete_target_group()
            .with(eq(TG.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Err(AwsError::other(
                    "ResourceInUse",
                    "Target group is currently in use by a listener or a rule",
                ))
            });
        elb.expect_delete_target_group()
            .with(eq(TG.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        elb.expect_describe_load_balancer()
            .with(eq("alb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(lb("alb", "active"))));
        elb.expect_delete_load_balancer()
            .with(eq(ALB.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        elb.expect_describe_load_balancer()
            .with(eq("alb-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        elb.expect_describe_target_group()
            .with(eq("tgl-primary-dev".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(tg("lambda"))));
        elb.expect_delete_target_group()
            .with(eq(TGL.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        lambda
            .expect_permission_statements()
            .with(eq(FN.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![permission()]));
        lambda
            .expect_remove_permission()
            .with(eq(FN.to_string()), eq(SID.to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        ec2.expect_describe_network_interfaces()
            .withf(|f| filter(f, "description") == Some("ELB net/nlb-primary-dev/*"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Ok(vec![crate::ec2_api::NetworkInterfaceInfo {
                    id: "eni-1".into(),
                    description: "ELB net/nlb-primary-dev/2".into(),
                    status: "in-use".into(),
                }])
            });
        ec2.expect_describe_network_interfaces()
            .withf(|f| filter(f, "description") == Some("ELB net/nlb-primary-dev/*"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        ec2.expect_describe_network_interfaces()
            .withf(|f| filter(f, "description") == Some("ELB app/alb-primary-dev/*"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        let prior = tandem_core::state::ComponentState::new("nlb", Placement::Primary, REGION)
            .with_resource("lambda-permission", FN)
            .with_resource("nlb", NLB);
        let ctx = ctx().with_prior(prior);
        component(elb, lambda, ec2).destroy(&ctx).await.unwrap();
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_on_delete_is_success_and_second_destroy_is_a_noop() {
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        let mut ec2 = MockEc2Api::new();
        let mut nlb_described = false;
        elb.expect_describe_load_balancer().returning(move |n| {
            // The NLB is found once, then deleted by someone else before our call.
            if n.starts_with("nlb") && !nlb_described {
                nlb_described = true;
                Ok(Some(lb("nlb", "active")))
            } else {
                Ok(None)
            }
        });
        elb.expect_delete_load_balancer()
            .times(1)
            .returning(|_| Err(AwsError::not_found("LoadBalancerNotFound", "gone")));
        elb.expect_describe_target_group().returning(|_| Ok(None));
        lambda
            .expect_permission_statements()
            .returning(|_| Ok(vec![permission()]));
        lambda
            .expect_remove_permission()
            .times(1)
            .returning(|_, _| {
                Err(AwsError::not_found(
                    "ResourceNotFoundException",
                    "no policy",
                ))
            });
        ec2.expect_describe_network_interfaces()
            .returning(|_| Ok(vec![]));
        component(elb, lambda, ec2).destroy(&ctx()).await.unwrap();

        // Second destroy: everything already gone, no mutating call.
        let mut elb = MockElbApi::new();
        elb.expect_describe_load_balancer().returning(|_| Ok(None));
        elb.expect_describe_target_group().returning(|_| Ok(None));
        let mut lambda = MockLambdaApi::new();
        lambda
            .expect_permission_statements()
            .returning(|_| Ok(vec![]));
        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_network_interfaces()
            .returning(|_| Ok(vec![]));
        component(elb, lambda, ec2).destroy(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_create_is_retried_and_errors_name_resource_and_region() {
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        elb.expect_describe_target_group().returning(|n| {
            Ok(Some(tg(if n.starts_with("tgl") {
                "lambda"
            } else {
                "alb"
            })))
        });
        elb.expect_registered_targets().returning(|arn| {
            Ok(vec![if arn == TGL {
                FN.to_string()
            } else {
                ALB.to_string()
            }])
        });
        lambda
            .expect_permission_statements()
            .returning(|_| Ok(vec![permission()]));
        elb.expect_describe_load_balancer().returning(|n| {
            Ok(if n.starts_with("alb") {
                None
            } else {
                Some(lb("nlb", "active"))
            })
        });
        let mut n = 0;
        elb.expect_create_load_balancer()
            .times(3)
            .returning(move |_| {
                n += 1;
                match n {
                    1 => Err(AwsError::throttling()),
                    2 => Err(AwsError::new("ServiceUnavailable", "try later", Some(503))),
                    _ => Err(AwsError::other("TooManyLoadBalancers", "limit reached")),
                }
            });
        let e = component(elb, lambda, MockEc2Api::new())
            .apply(&ctx())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("alb-primary-dev")
                && e.contains("us-east-1")
                && e.contains("TooManyLoadBalancers"),
            "{e}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn read_reports_missing_target_and_missing_nlb() {
        let mut elb = MockElbApi::new();
        let mut lambda = MockLambdaApi::new();
        healthy(&mut elb, &mut lambda);
        assert_eq!(
            component(elb, lambda, MockEc2Api::new())
                .read(&ctx())
                .await
                .unwrap(),
            Drift::InSync
        );

        let mut elb = MockElbApi::new();
        elb.expect_describe_target_group().returning(|n| {
            Ok(Some(tg(if n.starts_with("tgl") {
                "lambda"
            } else {
                "alb"
            })))
        });
        elb.expect_describe_load_balancer()
            .returning(|n| Ok(Some(lb(&n[..3], "active"))));
        elb.expect_registered_targets().returning(|arn| {
            Ok(if arn == TGL {
                vec![]
            } else {
                vec![ALB.to_string()]
            })
        });
        elb.expect_describe_listeners()
            .returning(|arn| Ok(vec![listener(if arn == ALB { "alb" } else { "nlb" })]));
        match component(elb, MockLambdaApi::new(), MockEc2Api::new())
            .read(&ctx())
            .await
            .unwrap()
        {
            Drift::Drifted { details } => assert_eq!(
                details,
                vec!["tgl-primary-dev does not target api-primary-dev".to_string()]
            ),
            other => panic!("{other:?}"),
        }

        let mut elb = MockElbApi::new();
        elb.expect_describe_load_balancer().returning(|_| Ok(None));
        assert!(matches!(
            component(elb, MockLambdaApi::new(), MockEc2Api::new())
                .read(&ctx())
                .await
                .unwrap(),
            Drift::Missing { .. }
        ));
    }

    #[test]
    fn names_outputs_and_desired() {
        let c = component(MockElbApi::new(), MockLambdaApi::new(), MockEc2Api::new());
        assert_eq!(c.id(), "loadbalancer-primary");
        assert_eq!(c.kind(), "nlb");
        let sample = tandem_core::to_outputs(&LoadBalancerOutputs {
            nlb_arn: String::new(),
            nlb_dns_name: String::new(),
            nlb_zone_id: String::new(),
            nlb_target_group_arn: String::new(),
            alb_arn: String::new(),
            alb_dns_name: String::new(),
            alb_target_group_arn: String::new(),
        });
        assert_eq!(c.output_type().short_name(), "LoadBalancerOutputs");
        c.output_type().check(&sample).expect("declared outputs");
        let d = c.desired();
        assert_eq!(d.replace_on["nlb"]["name"], "nlb-primary-dev");
        assert_eq!(d.update_on["alb_listener"]["protocol"], "HTTP");
        let long = Config::example("abcdefghijklmnopqr");
        let c = component_with(
            &long,
            MockElbApi::new(),
            MockLambdaApi::new(),
            MockEc2Api::new(),
        );
        let Desired { replace_on, .. } = c.desired();
        for k in ["nlb", "alb", "nlb_target_group", "alb_target_group"] {
            let name = replace_on[k]["name"]
                .as_str()
                .unwrap()
                .replace("primary", "secondary");
            assert!(name.len() <= 32, "{name} fits the ELB limit");
        }
    }
}
