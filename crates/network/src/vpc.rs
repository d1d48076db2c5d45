//! `network-{role}`: the regional VPC (DNS support and hostnames on), its public and private
//! subnets in `az_count` AZs (names from DescribeAvailabilityZones), internet gateway, route
//! tables and security groups. There is deliberately no NAT gateway (see [`crate::routing`]).
//!
//! Teardown follows AWS-NOTES: wait until no network interface is left in the VPC (load
//! balancers, Aurora, accelerators release theirs minutes after deletion) → security groups
//! → non-main route tables (disassociated first) → detach and delete the IGW → subnets → VPC.
//! The peering component depends on both networks, so it is destroyed before them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{ignore_not_found, poll_until, retry, retry_if, Poll};
use tandem_core::contracts::{ids, NetworkOutputs};
use tandem_core::{
    to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift,
    Key, Outputs, Placement, Rule,
};

use crate::common::{is_ours, tag_filters, wait_enis_gone, Scope, DB_PORT, HTTPS_PORT};
use crate::ec2_api::{filters, Ec2Api, IngressRule, VpcDnsAttribute, VpcInfo};
use crate::routing::{
    delete_internet_gateways, delete_route_tables, ensure_internet_gateway, ensure_route_tables,
    DEFAULT_ROUTE,
};
use crate::security_groups::{
    delete_groups, describe_groups, ensure_group, ingress_drift, GroupSpec,
};
use crate::subnets::{delete_subnets, ensure_subnets, subnet_name};

/// How long teardown waits for network interfaces left by other services to go.
const ENI_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const VPC_AVAILABLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Journal keys (strings kept from earlier releases: state compatibility).
pub(crate) const VPC: Key = Key::new("vpc");
pub(crate) const IGW: Key = Key::new("igw");
const VPC_DNS_SUPPORT: Key = Key::new("vpc-dns-support");
const VPC_DNS_HOSTNAMES: Key = Key::new("vpc-dns-hostnames");
const SG_DB: Key = Key::new("sg-db");
const SG_LB: Key = Key::new("sg-lb");

/// The VPC and everything directly in it, for one region.
pub struct NetworkComponent {
    id: String,
    placement: Placement,
    region: String,
    suffix: String,
    cidr: String,
    peer_cidr: String,
    az_count: usize,
    ec2: Arc<dyn Ec2Api>,
}

impl NetworkComponent {
    /// The network of `placement` (Primary or Secondary), calling EC2 through `ec2` (a client
    /// of that placement's region).
    pub fn new(cfg: &Config, placement: Placement, ec2: Arc<dyn Ec2Api>) -> Self {
        let (cidr, peer_cidr) = match placement {
            Placement::Secondary => (
                cfg.network.secondary_cidr.clone(),
                cfg.network.primary_cidr.clone(),
            ),
            _ => (
                cfg.network.primary_cidr.clone(),
                cfg.network.secondary_cidr.clone(),
            ),
        };
        Self {
            id: ids::network(placement),
            placement,
            region: cfg.region_of(placement).to_string(),
            suffix: cfg.environment_suffix.clone(),
            cidr,
            peer_cidr,
            az_count: cfg.network.az_count as usize,
            ec2,
        }
    }

    fn scope<'a>(&'a self, ctx: &'a Ctx) -> Scope<'a> {
        Scope {
            ec2: self.ec2.as_ref(),
            ctx,
            region: &self.region,
            suffix: &self.suffix,
            placement: self.placement,
        }
    }

    fn vpc_name(&self) -> String {
        tandem_core::naming::name("vpc", self.placement, &self.suffix)
    }

    fn db_group_name(&self) -> String {
        tandem_core::naming::name("secgroup-db", self.placement, &self.suffix)
    }

    fn lb_group_name(&self) -> String {
        tandem_core::naming::name("secgroup-lb", self.placement, &self.suffix)
    }

    /// PostgreSQL from both VPC CIDRs.
    pub fn db_rules(&self) -> Vec<IngressRule> {
        let mut cidrs = vec![self.cidr.clone(), self.peer_cidr.clone()];
        cidrs.sort();
        cidrs
            .into_iter()
            .map(|c| IngressRule::tcp(DB_PORT, &c, "aurora-postgresql from the stack's VPCs"))
            .collect()
    }

    /// HTTPS from anywhere (the ALB sits behind the internet-facing NLB).
    pub fn lb_rules(&self) -> Vec<IngressRule> {
        vec![IngressRule::tcp(
            HTTPS_PORT,
            "0.0.0.0/0",
            "HTTPS from the NLB and clients",
        )]
    }

    async fn availability_zones(&self) -> Result<Vec<String>, ComponentError> {
        let all = retry(|| self.ec2.describe_availability_zones())
            .await
            .at(&self.vpc_name(), &self.region)?;
        if all.len() < self.az_count {
            return Err(ComponentError::invalid(
                self.vpc_name(),
                &self.region,
                format!(
                    "network.az_count is {} but {} has only {} available AZs ({})",
                    self.az_count,
                    self.region,
                    all.len(),
                    all.join(", ")
                ),
            ));
        }
        Ok(all.into_iter().take(self.az_count).collect())
    }

    /// This stack's VPCs: the ones tagged with our name and stack, and the recorded one if
    /// it still exists (a copy left by a lost create shows up as a second entry).
    async fn lookup_vpcs(&self, recorded: Option<String>) -> Result<Vec<VpcInfo>, AwsError> {
        let name = self.vpc_name();
        let mut ours: Vec<VpcInfo> = retry(|| self.ec2.find_vpcs(tag_filters(&name, &self.suffix)))
            .await?
            .into_iter()
            .filter(|v| is_ours(&v.tags, &name, &self.suffix))
            .collect();
        if let Some(id) = recorded {
            if !ours.iter().any(|v| v.id == id) {
                if let Some(v) = retry(|| self.ec2.describe_vpc(id.clone())).await? {
                    ours.insert(0, v);
                }
            }
        }
        Ok(ours)
    }

    /// The recorded VPC if it still exists, else the one tagged with our name and stack.
    async fn find_vpc(&self, ctx: &Ctx) -> Result<Option<VpcInfo>, ComponentError> {
        let name = self.vpc_name();
        let recorded = ctx.recorded_id(&VPC).await;
        let mut found = self.lookup_vpcs(recorded.clone()).await.at(&name, &self.region)?;
        let pos = recorded
            .and_then(|r| found.iter().position(|v| v.id == r))
            .unwrap_or(0);
        Ok(if found.is_empty() { None } else { Some(found.swap_remove(pos)) })
    }

    async fn ensure_vpc(&self, ctx: &Ctx) -> Result<VpcInfo, ComponentError> {
        let name = self.vpc_name();
        let ensured = ctx
            .ensure::<VpcInfo>(&VPC, &name, Rule::Tag)
            .find(|recorded| self.lookup_vpcs(recorded))
            .create(|_token| {
                tracing::info!(vpc = %name, cidr = %self.cidr, region = %self.region, "creating VPC");
                self.ec2
                    .create_vpc(self.cidr.clone(), tandem_core::naming::tags(&self.suffix, &name))
            })
            .discard(|id| async move {
                ignore_not_found(self.ec2.delete_vpc(id).await)
            })
            .id(|v: &VpcInfo| v.id.clone())
            .run()
            .await?;
        let vpc = if ensured.state == "available" {
            ensured
        } else {
            poll_until(
                &name,
                &self.region,
                "VPC available",
                VPC_AVAILABLE_TIMEOUT,
                || async {
                    match self.ec2.describe_vpc(ensured.id.clone()).await? {
                        Some(v) if v.state == "available" => Ok(Poll::Ready(v)),
                        Some(v) => Ok(Poll::Pending(v.state)),
                        None => Ok(Poll::Pending("not visible yet".into())),
                    }
                },
            )
            .await?
        };
        if vpc.cidr != self.cidr {
            return Err(ComponentError::invalid(
                &name,
                &self.region,
                format!("VPC {} has CIDR {}, the configuration says {}; a VPC's CIDR cannot change: destroy and re-apply", vpc.id, vpc.cidr, self.cidr),
            ));
        }
        // DNS hostnames require DNS support: support first.
        for (attr, key) in [
            (VpcDnsAttribute::Support, VPC_DNS_SUPPORT),
            (VpcDnsAttribute::Hostnames, VPC_DNS_HOSTNAMES),
        ] {
            let on = retry(|| self.ec2.vpc_dns_attribute(vpc.id.clone(), attr))
                .await
                .at(&name, &self.region)?;
            if !on {
                ctx.update(&key, || async {
                    retry(|| self.ec2.set_vpc_dns_attribute(vpc.id.clone(), attr, true))
                        .await
                        .at(&name, &self.region)
                })
                .await?;
            }
        }
        Ok(vpc)
    }

    /// Deletes what is in the VPC, in the AWS teardown order (the VPC itself is deleted by
    /// the protocol's delete).
    async fn empty_vpc(&self, sc: &Scope<'_>, vpc: &VpcInfo) -> Result<(), ComponentError> {
        let name = self.vpc_name();
        wait_enis_gone(
            self.ec2.as_ref(),
            &name,
            &self.region,
            filters(&[("vpc-id", &vpc.id)]),
            ENI_TIMEOUT,
        )
        .await?;
        delete_groups(sc, &vpc.id).await?;
        delete_route_tables(sc, &vpc.id).await?;
        delete_internet_gateways(sc, &vpc.id).await?;
        delete_subnets(sc, &vpc.id).await
    }
}

#[async_trait::async_trait]
impl Component for NetworkComponent {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "vpc"
    }

    fn placement(&self) -> Placement {
        self.placement
    }

    fn region(&self) -> &str {
        &self.region
    }

    fn dependencies(&self) -> Vec<String> {
        Vec::new()
    }

    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::NetworkOutputs>()
    }

    fn expected_duration(&self) -> Duration {
        // About a dozen synchronous EC2 calls (VPC, subnets, gateway, routes, security group)
        // plus eventual-consistency retries. AWS documents no provisioning time; the
        // terraform-provider-aws `aws_subnet` create timeout is 10 min (a bound).
        Duration::from_secs(45)
    }

    fn desired(&self) -> Desired {
        Desired::new(
            json!({
                "vpc": self.vpc_name(),
                "region": self.region,
                "cidr": self.cidr,
                "az_count": self.az_count,
            }),
            json!({
                "dns_support": true,
                "dns_hostnames": true,
                "db_security_group": {"name": self.db_group_name(), "port": DB_PORT, "cidrs": [self.cidr, self.peer_cidr]},
                "lb_security_group": {"name": self.lb_group_name(), "port": HTTPS_PORT, "cidrs": ["0.0.0.0/0"]},
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let sc = self.scope(ctx);
        let azs = self.availability_zones().await?;
        let vpc = self.ensure_vpc(ctx).await?;
        ctx.check_cancelled()?;
        let (public, private) = ensure_subnets(&sc, &vpc.id, &azs, &self.cidr).await?;
        ctx.check_cancelled()?;
        let igw = ensure_internet_gateway(&sc, &vpc.id).await?;
        let (public_rt, private_rts) =
            ensure_route_tables(&sc, &vpc.id, &igw, &azs, &public, &private).await?;
        ctx.check_cancelled()?;
        let groups = describe_groups(&sc, &vpc.id).await?;
        let db_sg = ensure_group(
            &sc,
            &groups,
            &vpc.id,
            GroupSpec {
                key: &SG_DB,
                name: self.db_group_name(),
                description: format!(
                    "Aurora PostgreSQL {DB_PORT} from the VPCs of stack {}",
                    self.suffix
                ),
                rules: self.db_rules(),
            },
        )
        .await?;
        let lb_sg = ensure_group(
            &sc,
            &groups,
            &vpc.id,
            GroupSpec {
                key: &SG_LB,
                name: self.lb_group_name(),
                description: format!(
                    "HTTPS {HTTPS_PORT} to the application load balancer of stack {}",
                    self.suffix
                ),
                rules: self.lb_rules(),
            },
        )
        .await?;
        Ok(to_outputs(&NetworkOutputs {
            vpc_id: vpc.id,
            cidr: self.cidr.clone(),
            azs,
            public_subnet_ids: public.into_iter().map(|s| s.id).collect(),
            private_subnet_ids: private.into_iter().map(|s| s.id).collect(),
            internet_gateway_id: igw,
            public_route_table_id: public_rt,
            private_route_table_ids: private_rts,
            db_security_group_id: db_sg,
            lb_security_group_id: lb_sg,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let sc = self.scope(ctx);
        let name = self.vpc_name();
        let recorded = ctx.recorded_id(&VPC).await;
        // Every copy: the recorded one and any tagged ours (the orphan of a lost create).
        let vpcs = self.lookup_vpcs(recorded).await.at(&name, &self.region)?;
        for vpc in &vpcs {
            self.empty_vpc(&sc, vpc).await?;
        }
        let ids: Vec<String> = vpcs.iter().map(|v| v.id.clone()).collect();
        if !ids.is_empty() {
            ctx.delete(
                &VPC,
                &name,
                |_| {
                    let ids = ids.clone();
                    async move { Ok(ids) }
                },
                |id| async move {
                    retry_if(
                        || async { ignore_not_found(self.ec2.delete_vpc(id.clone()).await) },
                        |e| e.is_code("DependencyViolation"),
                    )
                    .await
                },
            )
            .await?;
        } else {
            // VPC gone but a gateway was created (interrupted run): delete it.
            ctx.delete_recorded(&IGW, &sc.name("igw"), |igw| async move {
                ignore_not_found(self.ec2.delete_internet_gateway(igw).await)
            })
            .await?;
        }
        ctx.forget_all().await
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let name = self.vpc_name();
        let Some(vpc) = self.find_vpc(ctx).await? else {
            return Ok(Drift::Missing {
                details: vec![format!("VPC {name} not found in {}", self.region)],
            });
        };
        let sc = self.scope(ctx);
        let mut details = Vec::new();
        if vpc.cidr != self.cidr {
            details.push(format!(
                "VPC CIDR is {}, configured {}",
                vpc.cidr, self.cidr
            ));
        }
        for (attr, label) in [
            (VpcDnsAttribute::Support, "DNS support"),
            (VpcDnsAttribute::Hostnames, "DNS hostnames"),
        ] {
            if !retry(|| self.ec2.vpc_dns_attribute(vpc.id.clone(), attr))
                .await
                .at(&name, &self.region)?
            {
                details.push(format!("{label} is disabled"));
            }
        }
        let subnets = retry(|| self.ec2.describe_subnets(filters(&[("vpc-id", &vpc.id)])))
            .await
            .at(&name, &self.region)?;
        let azs: Vec<String> = match self.prior_azs(ctx) {
            Some(a) => a,
            None => self.availability_zones().await?,
        };
        for az in &azs {
            for tier in ["public", "private"] {
                let n = subnet_name(&sc, tier, az);
                if !subnets.iter().any(|s| is_ours(&s.tags, &n, &self.suffix)) {
                    details.push(format!("subnet {n} missing"));
                }
            }
        }
        let gateways = retry(|| {
            self.ec2
                .describe_internet_gateways(filters(&[("attachment.vpc-id", &vpc.id)]))
        })
        .await
        .at(&name, &self.region)?;
        if gateways.is_empty() {
            details.push("no internet gateway attached".into());
        }
        let tables = retry(|| {
            self.ec2
                .describe_route_tables(filters(&[("vpc-id", &vpc.id)]))
        })
        .await
        .at(&name, &self.region)?;
        let public_name = sc.name("rtb-public");
        match tables
            .iter()
            .find(|t| is_ours(&t.tags, &public_name, &self.suffix))
        {
            None => details.push(format!("route table {public_name} missing")),
            Some(t) => {
                let ok = t.route_to(DEFAULT_ROUTE).is_some_and(|r| {
                    r.state != "blackhole"
                        && r.gateway_id
                            .as_deref()
                            .is_some_and(|g| g.starts_with("igw-"))
                });
                if !ok {
                    details.push(format!(
                        "{public_name}: default route to the internet gateway missing"
                    ));
                }
            }
        }
        for az in &azs {
            let n = sc.name(&format!("rtb-private-{az}"));
            if !tables.iter().any(|t| is_ours(&t.tags, &n, &self.suffix)) {
                details.push(format!("route table {n} missing"));
            }
        }
        let groups = describe_groups(&sc, &vpc.id).await?;
        for (gname, rules) in [
            (self.db_group_name(), self.db_rules()),
            (self.lb_group_name(), self.lb_rules()),
        ] {
            match groups.iter().find(|g| g.name == gname) {
                None => details.push(format!("security group {gname} missing")),
                Some(g) => details.extend(ingress_drift(g, &rules)),
            }
        }
        Ok(if details.is_empty() {
            Drift::InSync
        } else {
            Drift::Drifted { details }
        })
    }
}

impl NetworkComponent {
    fn prior_azs(&self, ctx: &Ctx) -> Option<Vec<String>> {
        ctx.prior_outputs::<NetworkOutputs>()
            .map(|o| o.azs)
            .filter(|a| a.len() == self.az_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2_api::{IngressRule, MockEc2Api, NetworkInterfaceInfo, RouteTarget, SubnetInfo};
    use crate::test_support::*;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::contracts::NetworkOutputs;
    use tandem_core::{from_outputs, AwsError};

    fn component(ec2: MockEc2Api) -> NetworkComponent {
        NetworkComponent::new(&cfg(), Placement::Primary, Arc::new(ec2))
    }

    fn ctx() -> Ctx {
        Ctx::standalone("network-primary", REGION)
    }

    /// Expectations for the read-only calls of an apply over the healthy world.
    fn expect_healthy_world(ec2: &mut MockEc2Api) {
        ec2.expect_find_vpcs().returning(|_| Ok(vec![vpc("available")]));
        ec2.expect_describe_availability_zones()
            .returning(|| Ok(azs()));
        ec2.expect_describe_vpc()
            .with(eq("vpc-1".to_string()))
            .returning(|_| Ok(Some(vpc("available"))));
        ec2.expect_vpc_dns_attribute().returning(|_, _| Ok(true));
        ec2.expect_describe_subnets().returning(|_| Ok(subnets()));
        ec2.expect_describe_internet_gateways()
            .withf(|f| {
                filter(f, "internet-gateway-id") == Some("igw-1")
                    || filter(f, "attachment.vpc-id") == Some("vpc-1")
                    || filter(f, "tag:Name") == Some("igw-primary-dev")
            })
            .returning(|_| Ok(vec![igw(true)]));
        ec2.expect_describe_route_tables()
            .returning(|_| Ok(route_tables()));
        ec2.expect_describe_security_groups()
            .returning(|_| Ok(security_groups()));
    }

    #[tokio::test(start_paused = true)]
    async fn create_makes_every_resource_in_order() {
        let mut ec2 = MockEc2Api::new();
        let mut seq = Sequence::new();
        ec2.expect_describe_availability_zones()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(azs()));
        ec2.expect_find_vpcs()
            .withf(|f| {
                filter(f, "tag:Name") == Some("vpc-primary-dev")
                    && filter(f, "tag:tandem:stack") == Some("dev")
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        ec2.expect_create_vpc()
            .withf(|cidr, t| {
                cidr == "10.10.0.0/16"
                    && name_tag(t) == "vpc-primary-dev"
                    && t.contains(&("tandem:stack".into(), "dev".into()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vpc("pending")));
        ec2.expect_describe_vpc()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(vpc("available"))));
        ec2.expect_vpc_dns_attribute()
            .with(eq("vpc-1".to_string()), eq(VpcDnsAttribute::Support))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(true));
        ec2.expect_vpc_dns_attribute()
            .with(eq("vpc-1".to_string()), eq(VpcDnsAttribute::Hostnames))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(false));
        ec2.expect_set_vpc_dns_attribute()
            .with(
                eq("vpc-1".to_string()),
                eq(VpcDnsAttribute::Hostnames),
                eq(true),
            )
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        ec2.expect_describe_subnets()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        for s in subnets() {
            let s2 = s.clone();
            ec2.expect_create_subnet()
                .withf(move |v, c, az, t| {
                    v == "vpc-1" && c == &s.cidr && az == &s.az && name_tag(t) == name_tag(&s.tags)
                })
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_, _, _, _| Ok(s2.clone()));
        }
        ec2.expect_describe_internet_gateways()
            .withf(|f| filter(f, "attachment.vpc-id") == Some("vpc-1"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        ec2.expect_describe_internet_gateways()
            .withf(|f| filter(f, "tag:Name") == Some("igw-primary-dev"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        ec2.expect_create_internet_gateway()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok("igw-1".into()));
        ec2.expect_describe_internet_gateways()
            .withf(|f| filter(f, "internet-gateway-id") == Some("igw-1"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![igw(false)]));
        ec2.expect_attach_internet_gateway()
            .with(eq("igw-1".to_string()), eq("vpc-1".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        ec2.expect_describe_route_tables()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![main_table()]));
        ec2.expect_create_route_table()
            .withf(|_, t, tok| tok.len() == 32 && name_tag(t) == "rtb-public-primary-dev")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok("rtb-pub".into()));
        ec2.expect_create_route()
            .with(
                eq("rtb-pub".to_string()),
                eq("0.0.0.0/0".to_string()),
                eq(RouteTarget::Gateway("igw-1".into())),
            )
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        for (rt, subnet) in [("rtb-pub", "subnet-pa"), ("rtb-pub", "subnet-pb")] {
            ec2.expect_associate_route_table()
                .with(eq(rt.to_string()), eq(subnet.to_string()))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, s| Ok(format!("a-{s}")));
        }
        for (rt, az, subnet) in [
            ("rtb-xa", "us-east-1a", "subnet-xa"),
            ("rtb-xb", "us-east-1b", "subnet-xb"),
        ] {
            let name = format!("rtb-private-{az}-primary-dev");
            ec2.expect_create_route_table()
                .withf(move |_, t, tok| tok.len() == 32 && name_tag(t) == name)
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_, _, _| Ok(rt.to_string()));
            ec2.expect_associate_route_table()
                .with(eq(rt.to_string()), eq(subnet.to_string()))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, s| Ok(format!("a-{s}")));
        }
        ec2.expect_describe_security_groups()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        for (name, id, rules) in [
            ("secgroup-db-primary-dev", "sg-db", db_rules()),
            ("secgroup-lb-primary-dev", "sg-lb", lb_rules()),
        ] {
            ec2.expect_create_security_group()
                .withf(move |v, n, _, t| v == "vpc-1" && n == name && name_tag(t) == name)
                .times(1)
                .in_sequence(&mut seq)
                .returning(move |_, _, _, _| Ok(id.to_string()));
            ec2.expect_authorize_ingress()
                .withf(move |g, r| g == id && *r == rules)
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _| Ok(()));
        }

        let ctx = ctx();
        let out: NetworkOutputs = from_outputs(&component(ec2).apply(&ctx).await.unwrap()).unwrap();
        assert_eq!(
            out,
            NetworkOutputs {
                vpc_id: "vpc-1".into(),
                cidr: "10.10.0.0/16".into(),
                azs: vec!["us-east-1a".into(), "us-east-1b".into()],
                public_subnet_ids: vec!["subnet-pa".into(), "subnet-pb".into()],
                private_subnet_ids: vec!["subnet-xa".into(), "subnet-xb".into()],
                internet_gateway_id: "igw-1".into(),
                public_route_table_id: "rtb-pub".into(),
                private_route_table_ids: vec!["rtb-xa".into(), "rtb-xb".into()],
                db_security_group_id: "sg-db".into(),
                lb_security_group_id: "sg-lb".into(),
            }
        );
        let journal = ctx.journal_entries().await;
        assert_eq!(journal["vpc"].id.as_deref(), Some("vpc-1"));
        assert_eq!(journal["subnet-private-1"].id.as_deref(), Some("subnet-xb"));
        assert_eq!(
            journal["route-public-default"].id.as_deref(),
            Some("rtb-pub|0.0.0.0/0")
        );
        assert!(journal
            .values()
            .all(|e| e.status == tandem_core::state::ResourceStatus::Done));
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_healthy_resources_makes_no_mutating_call() {
        let mut ec2 = MockEc2Api::new();
        expect_healthy_world(&mut ec2);
        // No create/modify/associate/authorize expectation: any such call panics.
        let ctx = ctx().with_prior(network_prior());
        let out: NetworkOutputs = from_outputs(&component(ec2).apply(&ctx).await.unwrap()).unwrap();
        assert_eq!(out.vpc_id, "vpc-1");
        assert_eq!(
            out.private_route_table_ids,
            vec!["rtb-xa".to_string(), "rtb-xb".to_string()]
        );
        assert_eq!(out.db_security_group_id, "sg-db");
    }

    #[tokio::test(start_paused = true)]
    async fn pending_journal_entry_is_resolved_by_adopting_the_tagged_vpc() {
        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_availability_zones()
            .returning(|| Ok(azs()));
        // The interrupted run created the VPC but never journaled its id.
        ec2.expect_find_vpcs()
            .times(1)
            .returning(|_| Ok(vec![vpc("available")]));
        ec2.expect_vpc_dns_attribute().returning(|_, _| Ok(true));
        ec2.expect_describe_subnets().returning(|_| Ok(subnets()));
        ec2.expect_describe_internet_gateways().returning(|f| {
            Ok(if filter(&f, "attachment.vpc-id").is_some() {
                vec![igw(true)]
            } else {
                vec![]
            })
        });
        ec2.expect_describe_route_tables()
            .returning(|_| Ok(route_tables()));
        ec2.expect_describe_security_groups()
            .returning(|_| Ok(security_groups()));
        // The interrupted run's journal: the VPC's create pending, with its token.
        let prior = tandem_core::state::ComponentState::new("vpc", Placement::Primary, REGION).with_pending_create(VPC.as_str(), Some("t"));
        let ctx = ctx().with_prior(prior);
        component(ec2).apply(&ctx).await.unwrap();
        let journal = ctx.journal_entries().await;
        assert_eq!(
            journal["vpc"].status,
            tandem_core::state::ResourceStatus::Done
        );
        assert_eq!(journal["vpc"].id.as_deref(), Some("vpc-1"));
        assert_eq!(journal["igw"].id.as_deref(), Some("igw-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn converges_security_group_ingress() {
        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_availability_zones()
            .returning(|| Ok(azs()));
        ec2.expect_describe_vpc()
            .returning(|_| Ok(Some(vpc("available"))));
        ec2.expect_find_vpcs().returning(|_| Ok(vec![vpc("available")]));
        ec2.expect_vpc_dns_attribute().returning(|_, _| Ok(true));
        ec2.expect_describe_subnets().returning(|_| Ok(subnets()));
        ec2.expect_describe_internet_gateways()
            .returning(|_| Ok(vec![igw(true)]));
        ec2.expect_describe_route_tables()
            .returning(|_| Ok(route_tables()));
        ec2.expect_describe_security_groups().returning(|_| {
            let mut g = security_groups();
            // Someone opened the database to the world and removed the peer CIDR.
            g[1].ingress = vec![
                IngressRule::tcp(5432, "10.10.0.0/16", "x"),
                IngressRule::tcp(5432, "0.0.0.0/0", "x"),
            ];
            Ok(g)
        });
        let mut seq = Sequence::new();
        ec2.expect_revoke_ingress()
            .withf(|g, r| g == "sg-db" && *r == vec![IngressRule::tcp(5432, "0.0.0.0/0", "")])
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        ec2.expect_authorize_ingress()
            .withf(|g, r| g == "sg-db" && *r == vec![IngressRule::tcp(5432, "10.20.0.0/16", "")])
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        component(ec2)
            .apply(&ctx().with_prior(network_prior()))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_follows_the_aws_teardown_order() {
        let mut ec2 = MockEc2Api::new();
        let mut seq = Sequence::new();
        ec2.expect_find_vpcs()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![vpc("available")]));
        // An ENI of a deleted NLB lingers for one poll.
        ec2.expect_describe_network_interfaces()
            .withf(|f| filter(f, "vpc-id") == Some("vpc-1"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Ok(vec![NetworkInterfaceInfo {
                    id: "eni-1".into(),
                    description: "ELB net/nlb-primary-dev/abc".into(),
                    status: "in-use".into(),
                }])
            });
        ec2.expect_describe_network_interfaces()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        ec2.expect_describe_security_groups()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(security_groups()));
        for g in ["sg-db", "sg-lb"] {
            ec2.expect_delete_security_group()
                .with(eq(g.to_string()))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Ok(()));
        }
        ec2.expect_describe_route_tables()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(route_tables()));
        for (assocs, rt) in [
            (vec!["a-pa", "a-pb"], "rtb-pub"),
            (vec!["a-xa"], "rtb-xa"),
            (vec!["a-xb"], "rtb-xb"),
        ] {
            for a in assocs {
                ec2.expect_disassociate_route_table()
                    .with(eq(a.to_string()))
                    .times(1)
                    .in_sequence(&mut seq)
                    .returning(|_| Ok(()));
            }
            ec2.expect_delete_route_table()
                .with(eq(rt.to_string()))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Ok(()));
        }
        ec2.expect_describe_internet_gateways()
            .withf(|f| filter(f, "attachment.vpc-id") == Some("vpc-1"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![igw(true)]));
        ec2.expect_detach_internet_gateway()
            .with(eq("igw-1".to_string()), eq("vpc-1".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        ec2.expect_delete_internet_gateway()
            .with(eq("igw-1".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        ec2.expect_describe_subnets()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(subnets()));
        for s in subnets() {
            ec2.expect_delete_subnet()
                .with(eq(s.id))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Ok(()));
        }
        ec2.expect_delete_vpc()
            .with(eq("vpc-1".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));

        let ctx = ctx().with_prior(network_prior());
        component(ec2).destroy(&ctx).await.unwrap();
        assert!(
            ctx.journal_entries().await.is_empty(),
            "journal forgotten after destroy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_on_delete_is_success_and_second_destroy_is_a_noop() {
        let mut ec2 = MockEc2Api::new();
        ec2.expect_find_vpcs()
            .times(1)
            .returning(|_| Ok(vec![vpc("available")]));
        ec2.expect_describe_network_interfaces()
            .returning(|_| Ok(vec![]));
        ec2.expect_describe_security_groups()
            .returning(|_| Ok(security_groups()));
        ec2.expect_delete_security_group().returning(|id| {
            Err(AwsError::not_found(
                "InvalidGroup.NotFound",
                format!("{id} does not exist"),
            ))
        });
        ec2.expect_describe_route_tables()
            .returning(|_| Ok(vec![main_table()]));
        ec2.expect_describe_internet_gateways()
            .returning(|_| Ok(vec![igw(true)]));
        ec2.expect_detach_internet_gateway()
            .returning(|_, _| Err(AwsError::other("Gateway.NotAttached", "not attached")));
        ec2.expect_delete_internet_gateway().returning(|_| {
            Err(AwsError::not_found(
                "InvalidInternetGatewayID.NotFound",
                "gone",
            ))
        });
        ec2.expect_describe_subnets().returning(|_| Ok(subnets()));
        ec2.expect_delete_subnet()
            .times(4)
            .returning(|_| Err(AwsError::not_found("InvalidSubnetID.NotFound", "gone")));
        ec2.expect_delete_vpc()
            .times(1)
            .returning(|_| Err(AwsError::not_found("InvalidVpcID.NotFound", "gone")));
        let c = component(ec2);
        c.destroy(&ctx().with_prior(network_prior())).await.unwrap();

        // Second destroy: nothing recorded, nothing tagged: only lookups.
        let mut ec2 = MockEc2Api::new();
        ec2.expect_find_vpcs().times(1).returning(|_| Ok(vec![]));
        component(ec2).destroy(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_then_succeeds() {
        let mut ec2 = MockEc2Api::new();
        let mut calls = 0;
        ec2.expect_describe_availability_zones()
            .times(3)
            .returning(move || {
                calls += 1;
                if calls < 3 {
                    Err(AwsError::throttling())
                } else {
                    Ok(azs())
                }
            });
        ec2.expect_describe_vpc()
            .returning(|_| Ok(Some(vpc("available"))));
        ec2.expect_find_vpcs().returning(|_| Ok(vec![vpc("available")]));
        ec2.expect_vpc_dns_attribute().returning(|_, _| Ok(true));
        ec2.expect_describe_subnets().returning(|_| Ok(subnets()));
        ec2.expect_describe_internet_gateways()
            .returning(|_| Ok(vec![igw(true)]));
        ec2.expect_describe_route_tables()
            .returning(|_| Ok(route_tables()));
        ec2.expect_describe_security_groups()
            .returning(|_| Ok(security_groups()));
        component(ec2)
            .apply(&ctx().with_prior(network_prior()))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn aws_error_names_resource_and_region() {
        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_availability_zones()
            .returning(|| Ok(azs()));
        ec2.expect_find_vpcs().returning(|_| Ok(vec![]));
        ec2.expect_create_vpc().times(1).returning(|_, _| {
            Err(AwsError::other(
                "VpcLimitExceeded",
                "The maximum number of VPCs has been reached.",
            ))
        });
        let ctx = ctx();
        let e = component(ec2).apply(&ctx).await.unwrap_err().to_string();
        assert!(
            e.contains("vpc-primary-dev")
                && e.contains("us-east-1")
                && e.contains("VpcLimitExceeded"),
            "{e}"
        );
        assert_eq!(
            ctx.journal_entries().await["vpc"].status,
            tandem_core::state::ResourceStatus::Failed
        );
    }

    #[tokio::test(start_paused = true)]
    async fn too_few_azs_is_a_clear_error() {
        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_availability_zones()
            .returning(|| Ok(vec!["us-east-1a".into()]));
        let e = component(ec2).apply(&ctx()).await.unwrap_err().to_string();
        assert!(e.contains("az_count is 2") && e.contains("only 1"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn adopted_subnet_in_wrong_az_is_reported() {
        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_availability_zones()
            .returning(|| Ok(azs()));
        ec2.expect_describe_vpc()
            .returning(|_| Ok(Some(vpc("available"))));
        ec2.expect_find_vpcs().returning(|_| Ok(vec![vpc("available")]));
        ec2.expect_vpc_dns_attribute().returning(|_, _| Ok(true));
        ec2.expect_describe_subnets().returning(|_| {
            let mut s: Vec<SubnetInfo> = subnets();
            s[0].az = "us-east-1c".into();
            Ok(s)
        });
        let e = component(ec2)
            .apply(&ctx().with_prior(network_prior()))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("subnet-public-us-east-1a-primary-dev") && e.contains("us-east-1c"),
            "{e}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn read_reports_drift_and_missing() {
        let mut ec2 = MockEc2Api::new();
        expect_healthy_world(&mut ec2);
        let c = component(ec2);
        assert_eq!(
            c.read(&ctx().with_prior(network_prior())).await.unwrap(),
            Drift::InSync
        );

        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_availability_zones()
            .returning(|| Ok(azs()));
        ec2.expect_describe_vpc()
            .returning(|_| Ok(Some(vpc("available"))));
        ec2.expect_find_vpcs().returning(|_| Ok(vec![vpc("available")]));
        ec2.expect_vpc_dns_attribute()
            .returning(|_, a| Ok(a == VpcDnsAttribute::Support));
        ec2.expect_describe_subnets()
            .returning(|_| Ok(subnets()[..3].to_vec()));
        ec2.expect_describe_internet_gateways()
            .returning(|_| Ok(vec![igw(true)]));
        ec2.expect_describe_route_tables()
            .returning(|_| Ok(route_tables()));
        ec2.expect_describe_security_groups()
            .returning(|_| Ok(security_groups()));
        match component(ec2)
            .read(&ctx().with_prior(network_prior()))
            .await
            .unwrap()
        {
            Drift::Drifted { details } => {
                assert!(
                    details.iter().any(|d| d.contains("DNS hostnames")),
                    "{details:?}"
                );
                assert!(
                    details
                        .iter()
                        .any(|d| d.contains("subnet-private-us-east-1b-primary-dev missing")),
                    "{details:?}"
                );
            }
            other => panic!("expected drift, got {other:?}"),
        }

        let mut ec2 = MockEc2Api::new();
        ec2.expect_describe_vpc().returning(|_| Ok(None));
        ec2.expect_find_vpcs().returning(|_| Ok(vec![]));
        assert!(matches!(
            component(ec2)
                .read(&ctx().with_prior(network_prior()))
                .await
                .unwrap(),
            Drift::Missing { .. }
        ));
    }

    #[test]
    fn declares_outputs_of_the_contract_and_no_dependencies() {
        let c = component(MockEc2Api::new());
        let sample = tandem_core::to_outputs(&network_outputs("primary"));
        assert_eq!(c.output_type().short_name(), "NetworkOutputs");
        c.output_type().check(&sample).expect("declared outputs");
        assert!(c.dependencies().is_empty());
        assert_eq!(c.id(), "network-primary");
        let d = c.desired();
        assert_eq!(d.replace_on["cidr"], "10.10.0.0/16");
        let secondary =
            NetworkComponent::new(&cfg(), Placement::Secondary, Arc::new(MockEc2Api::new()));
        assert_eq!(secondary.region(), "us-east-2");
        assert_eq!(secondary.db_rules(), db_rules(), "both CIDRs on both sides");
    }
}
