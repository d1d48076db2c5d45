//! `peering`: the cross-region VPC peering connection, requested from the primary region
//! with `PeerRegion`, accepted by a call in the secondary region, and routes to the peer CIDR
//! in every route table (public and private) of both VPCs.
//!
//! Overlapping CIDRs are rejected by config validation before any call; should AWS still
//! fail the request, the `failed` state is reported with AWS's message.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{ignore_not_found, poll_until, retry, retry_if, Poll};
use tandem_core::contracts::{ids, NetworkOutputs, PeeringOutputs};
use tandem_core::{
    to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift,
    Key, Outputs, Placement, Rule,
};

use crate::common::{is_ours, Scope};
use crate::ec2_api::{filters, Ec2Api, PeeringInfo, RouteTarget};
use crate::routing::ensure_route;

const ACTIVE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Journal keys (strings kept from earlier releases: state compatibility).
const PEERING: Key = Key::new("peering");
const PEERING_ACCEPT: Key = Key::new("peering-accept");
/// `route-primary-<i>`, `route-secondary-<i>`.
const ROUTE_PRIMARY: Key = Key::new("route-primary");
const ROUTE_SECONDARY: Key = Key::new("route-secondary");

/// The VPC peering connection between the primary and secondary networks.
pub struct PeeringComponent {
    suffix: String,
    primary_region: String,
    secondary_region: String,
    primary_cidr: String,
    secondary_cidr: String,
    primary: Arc<dyn Ec2Api>,
    secondary: Arc<dyn Ec2Api>,
}

/// Which side of the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Primary,
    Secondary,
}

impl Side {
    fn placement(self) -> Placement {
        match self {
            Side::Primary => Placement::Primary,
            Side::Secondary => Placement::Secondary,
        }
    }
}

fn route_key(side: Side) -> Key {
    match side {
        Side::Primary => ROUTE_PRIMARY,
        Side::Secondary => ROUTE_SECONDARY,
    }
}

impl PeeringComponent {
    /// `primary` and `secondary` are EC2 clients of the primary and secondary regions: the
    /// request and the primary routes go to the first, the acceptance and the secondary
    /// routes to the second.
    pub fn new(cfg: &Config, primary: Arc<dyn Ec2Api>, secondary: Arc<dyn Ec2Api>) -> Self {
        Self {
            suffix: cfg.environment_suffix.clone(),
            primary_region: cfg.primary_region.clone(),
            secondary_region: cfg.secondary_region.clone(),
            primary_cidr: cfg.network.primary_cidr.clone(),
            secondary_cidr: cfg.network.secondary_cidr.clone(),
            primary,
            secondary,
        }
    }

    fn name(&self) -> String {
        tandem_core::naming::name("peering", Placement::Global, &self.suffix)
    }

    fn client(&self, side: Side) -> &dyn Ec2Api {
        match side {
            Side::Primary => self.primary.as_ref(),
            Side::Secondary => self.secondary.as_ref(),
        }
    }

    fn region(&self, side: Side) -> &str {
        match side {
            Side::Primary => &self.primary_region,
            Side::Secondary => &self.secondary_region,
        }
    }

    /// This stack's live connections: the recorded one if it is alive, and those between
    /// the two VPCs tagged with this stack's name (a create whose answer was lost, a spare).
    async fn lookup(
        &self,
        recorded: Option<String>,
        vpcs: Option<(&str, &str)>,
    ) -> Result<Vec<PeeringInfo>, AwsError> {
        let mut out = Vec::new();
        if let Some(id) = recorded {
            if let Some(p) = retry(|| self.primary.describe_vpc_peering_connection(id.clone())).await? {
                if !p.is_dead() {
                    out.push(p);
                }
            }
        }
        let Some((requester, accepter)) = vpcs else {
            return Ok(out);
        };
        let name = self.name();
        let found = retry(|| {
            self.primary
                .find_vpc_peering_connections(requester.to_string(), accepter.to_string())
        })
        .await?;
        for p in found {
            if !p.is_dead() && is_ours(&p.tags, &name, &self.suffix) && !out.iter().any(|o| o.id == p.id) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The live connections (recorded first, then found by tag).
    async fn find(
        &self,
        ctx: &Ctx,
        vpcs: Option<(&str, &str)>,
    ) -> Result<Vec<PeeringInfo>, ComponentError> {
        let recorded = ctx.recorded_id(&PEERING).await;
        self.lookup(recorded, vpcs).await.at(&self.name(), &self.primary_region)
    }

    async fn accept(&self, ctx: &Ctx, peering: &PeeringInfo) -> Result<(), ComponentError> {
        let name = self.name();
        let region = &self.secondary_region;
        // The request shows up in the accepter region after a delay: wait for it there.
        let seen = poll_until(
            &name,
            region,
            "peering request to reach the accepter region",
            ACTIVE_TIMEOUT,
            || async {
                match self
                    .secondary
                    .describe_vpc_peering_connection(peering.id.clone())
                    .await?
                {
                    Some(p) if p.status == "initiating-request" => Ok(Poll::Pending(p.status)),
                    Some(p) => Ok(Poll::Ready(p)),
                    None => Ok(Poll::Pending("not visible yet".into())),
                }
            },
        )
        .await?;
        if seen.status != "pending-acceptance" {
            return Ok(());
        }
        tracing::info!(peering = %peering.id, region = %region, "accepting VPC peering connection");
        // Accepting is idempotent (an accepted connection is not pending-acceptance any more,
        // and a resumed run re-reads the status above).
        ctx.update(&PEERING_ACCEPT, || async {
            let accepted = retry_if(
                || {
                    self.secondary
                        .accept_vpc_peering_connection(peering.id.clone())
                },
                |e| e.is_not_found(),
            )
            .await;
            match accepted {
                // An accept whose answer was lost went through: the retry finds the
                // connection no longer pending-acceptance. Accepted is what was wanted.
                Err(e) if e.is_code("InvalidStateTransition") => {
                    let now = retry(|| self.secondary.describe_vpc_peering_connection(peering.id.clone())).await.at(&name, region)?;
                    match now {
                        Some(p) if matches!(p.status.as_str(), "active" | "provisioning") => Ok(()),
                        _ => Err(e).at(&name, region),
                    }
                }
                other => other.at(&name, region),
            }
        })
        .await?;
        ctx.adopt(&PEERING_ACCEPT, &peering.id).await
    }

    /// Waits until `side` sees the connection active (each region has its own view).
    async fn wait_active(
        &self,
        side: Side,
        peering_id: &str,
    ) -> Result<PeeringInfo, ComponentError> {
        let name = self.name();
        poll_until(
            &name,
            self.region(side),
            "VPC peering connection active",
            ACTIVE_TIMEOUT,
            || async {
                match self
                    .client(side)
                    .describe_vpc_peering_connection(peering_id.to_string())
                    .await?
                {
                    Some(p) if p.status == "active" => Ok(Poll::Ready(p)),
                    Some(p) if p.is_dead() => Err(tandem_core::AwsError::other(
                        "VpcPeeringFailed",
                        format!(
                            "peering connection {} is {}: {}",
                            p.id, p.status, p.status_message
                        ),
                    )),
                    Some(p) => Ok(Poll::Pending(p.status)),
                    None => Ok(Poll::Pending("not visible yet".into())),
                }
            },
        )
        .await
    }

    /// Routes to the peer CIDR in every route table of one side.
    async fn ensure_routes(
        &self,
        ctx: &Ctx,
        side: Side,
        net: &NetworkOutputs,
        peer_cidr: &str,
        peering_id: &str,
    ) -> Result<(), ComponentError> {
        let region = self.region(side);
        let sc = Scope {
            ec2: self.client(side),
            ctx,
            region,
            suffix: &self.suffix,
            placement: side.placement(),
        };
        let vpc_name = sc.name("vpc");
        let tables = retry(|| {
            sc.ec2
                .describe_route_tables(filters(&[("vpc-id", &net.vpc_id)]))
        })
        .await
        .at(&vpc_name, region)?;
        let mut wanted = vec![net.public_route_table_id.clone()];
        wanted.extend(net.private_route_table_ids.iter().cloned());
        for (i, rt_id) in wanted.iter().enumerate() {
            let Some(table) = tables.iter().find(|t| &t.id == rt_id) else {
                return Err(ComponentError::invalid(
                    &vpc_name,
                    region,
                    format!(
                        "route table {rt_id} of {} is gone; apply {} first",
                        net.vpc_id,
                        ids::network(side.placement())
                    ),
                ));
            };
            let table_name = crate::common::tag(&table.tags, "Name")
                .unwrap_or(rt_id)
                .to_string();
            ensure_route(
                &sc,
                table,
                &table_name,
                &route_key(side).child(i),
                peer_cidr,
                RouteTarget::Peering(peering_id.to_string()),
            )
            .await?;
        }
        Ok(())
    }

    /// Deletes the routes this component journaled, and any other route to the connection
    /// in the networks' route tables.
    async fn delete_routes(
        &self,
        ctx: &Ctx,
        peering_id: Option<&str>,
    ) -> Result<(), ComponentError> {
        for key in ctx.keys().await {
            let side = if key.as_str().starts_with(&format!("{ROUTE_PRIMARY}-")) {
                Side::Primary
            } else if key.as_str().starts_with(&format!("{ROUTE_SECONDARY}-")) {
                Side::Secondary
            } else {
                continue;
            };
            let region = self.region(side);
            let client = self.client(side);
            // The id is `<table>|<destination>`.
            ctx.delete_recorded(&key, &format!("route {key} in {region}"), |id| async move {
                match id.split_once('|') {
                    Some((table, destination)) => ignore_not_found(
                        client
                            .delete_route(table.to_string(), destination.to_string())
                            .await,
                    ),
                    None => Ok(()),
                }
            })
            .await?;
        }
        // Routes not in the journal (adopted connection, journal lost): find them by target.
        let Some(pcx) = peering_id else { return Ok(()) };
        for (side, dep) in [
            (Side::Primary, ids::network(Placement::Primary)),
            (Side::Secondary, ids::network(Placement::Secondary)),
        ] {
            let Some(net) = ctx.input_opt::<NetworkOutputs>(&dep) else {
                continue;
            };
            let region = self.region(side);
            let tables = retry(|| {
                self.client(side)
                    .describe_route_tables(filters(&[("vpc-id", &net.vpc_id)]))
            })
            .await
            .at(&net.vpc_id, region)?;
            for t in tables {
                for r in t
                    .routes
                    .iter()
                    .filter(|r| r.peering_connection_id.as_deref() == Some(pcx))
                {
                    retry(|| async {
                        ignore_not_found(
                            self.client(side)
                                .delete_route(t.id.clone(), r.destination.clone())
                                .await,
                        )
                    })
                    .await
                    .at(&t.id, region)?;
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Component for PeeringComponent {
    fn id(&self) -> &str {
        ids::PEERING
    }

    fn kind(&self) -> &'static str {
        "vpc-peering"
    }

    fn placement(&self) -> Placement {
        Placement::Global
    }

    /// Requested (and mostly described) in the primary region; accepted in the secondary.
    fn region(&self) -> &str {
        &self.primary_region
    }

    fn dependencies(&self) -> Vec<String> {
        vec![
            ids::network(Placement::Primary),
            ids::network(Placement::Secondary),
        ]
    }

    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::PeeringOutputs>()
    }

    fn expected_duration(&self) -> Duration {
        // Request, accept in the other region (retrying NotFound while the request propagates,
        // AWS-NOTES.md), routes on both sides. AWS documents no time; terraform-provider-aws
        // gives `aws_vpc_peering_connection` a 1 min create timeout.
        Duration::from_secs(40)
    }

    fn desired(&self) -> Desired {
        Desired::new(
            json!({
                "name": self.name(),
                "requester_region": self.primary_region,
                "accepter_region": self.secondary_region,
                "requester_cidr": self.primary_cidr,
                "accepter_cidr": self.secondary_cidr,
            }),
            json!({ "routes": "all route tables of both VPCs" }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = "peering", region = %self.primary_region, peer_region = %self.secondary_region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let primary: NetworkOutputs = ctx.input(&ids::network(Placement::Primary))?;
        let secondary: NetworkOutputs = ctx.input(&ids::network(Placement::Secondary))?;
        let name = self.name();
        let vpcs = (primary.vpc_id.as_str(), secondary.vpc_id.as_str());
        // No name, no token: tagged in the create itself (sent once), looked up by tag after
        // an ambiguous failure, a spare copy deleted.
        let peering = ctx
            .ensure::<PeeringInfo>(&PEERING, &name, Rule::Tag)
            .find(|recorded| self.lookup(recorded, Some(vpcs)))
            .create(|_token| {
                tracing::info!(peering = %name, requester = %primary.vpc_id, accepter = %secondary.vpc_id, "requesting VPC peering connection");
                self.primary.create_vpc_peering_connection(
                    primary.vpc_id.clone(),
                    secondary.vpc_id.clone(),
                    self.secondary_region.clone(),
                    tandem_core::naming::tags(&self.suffix, &name),
                )
            })
            .discard(|id| async move {
                ignore_not_found(self.primary.delete_vpc_peering_connection(id).await)
            })
            .id(|p: &PeeringInfo| p.id.clone())
            .run()
            .await?;
        if peering.status != "active" {
            self.accept(ctx, &peering).await?;
            self.wait_active(Side::Primary, &peering.id).await?;
            // Routes in the accepter region need the connection active there too.
            self.wait_active(Side::Secondary, &peering.id).await?;
        }
        ctx.check_cancelled()?;
        self.ensure_routes(ctx, Side::Primary, &primary, &secondary.cidr, &peering.id)
            .await?;
        self.ensure_routes(ctx, Side::Secondary, &secondary, &primary.cidr, &peering.id)
            .await?;
        Ok(to_outputs(&PeeringOutputs {
            peering_connection_id: peering.id,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = "peering", region = %self.primary_region, peer_region = %self.secondary_region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let name = self.name();
        let vpcs = match (
            ctx.input_opt::<NetworkOutputs>(&ids::network(Placement::Primary)),
            ctx.input_opt::<NetworkOutputs>(&ids::network(Placement::Secondary)),
        ) {
            (Some(p), Some(s)) => Some((p.vpc_id, s.vpc_id)),
            _ => None,
        };
        let copies = self
            .find(ctx, vpcs.as_ref().map(|(p, s)| (p.as_str(), s.as_str())))
            .await?;
        let peering = copies.first();
        self.delete_routes(ctx, peering.map(|p| p.id.as_str()))
            .await?;
        let found: Vec<String> = copies.iter().map(|p| p.id.clone()).collect();
        ctx.delete(
            &PEERING,
            &name,
            |_recorded| {
                let found = found.clone();
                async move { Ok(found) }
            },
            |id| {
                tracing::info!(peering = %id, region = %self.primary_region, "deleting VPC peering connection");
                async move { ignore_not_found(self.primary.delete_vpc_peering_connection(id).await) }
            },
        )
        .await?;
        for id in &found {
            poll_until(
                &name,
                &self.primary_region,
                "VPC peering connection deleted",
                DELETE_TIMEOUT,
                || async {
                    match self
                        .primary
                        .describe_vpc_peering_connection(id.clone())
                        .await
                    {
                        Ok(None) => Ok(Poll::Ready(())),
                        Ok(Some(x))
                            if matches!(
                                x.status.as_str(),
                                "deleted" | "rejected" | "failed" | "expired"
                            ) =>
                        {
                            Ok(Poll::Ready(()))
                        }
                        Ok(Some(x)) => Ok(Poll::Pending(x.status)),
                        Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        }
        ctx.forget_all().await
    }

    #[tracing::instrument(skip_all, fields(component = "peering", region = %self.primary_region))]
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let primary = ctx.input_opt::<NetworkOutputs>(&ids::network(Placement::Primary));
        let secondary = ctx.input_opt::<NetworkOutputs>(&ids::network(Placement::Secondary));
        let vpcs = primary
            .as_ref()
            .zip(secondary.as_ref())
            .map(|(p, s)| (p.vpc_id.as_str(), s.vpc_id.as_str()));
        let Some(peering) = self.find(ctx, vpcs).await?.into_iter().next() else {
            return Ok(Drift::Missing {
                details: vec![format!("VPC peering connection {} not found", self.name())],
            });
        };
        let mut details = Vec::new();
        if peering.status != "active" {
            details.push(format!(
                "peering connection {} is {}",
                peering.id, peering.status
            ));
        }
        for (side, net, peer) in [
            (Side::Primary, &primary, &secondary),
            (Side::Secondary, &secondary, &primary),
        ] {
            let (Some(net), Some(peer)) = (net, peer) else {
                continue;
            };
            let region = self.region(side);
            let tables = retry(|| {
                self.client(side)
                    .describe_route_tables(filters(&[("vpc-id", &net.vpc_id)]))
            })
            .await
            .at(&net.vpc_id, region)?;
            let mut wanted = vec![net.public_route_table_id.clone()];
            wanted.extend(net.private_route_table_ids.iter().cloned());
            for rt in wanted {
                let ok = tables
                    .iter()
                    .find(|t| t.id == rt)
                    .and_then(|t| t.route_to(&peer.cidr))
                    .is_some_and(|r| {
                        r.peering_connection_id.as_deref() == Some(peering.id.as_str())
                            && r.state != "blackhole"
                    });
                if !ok {
                    details.push(format!(
                        "{region}: route table {rt} has no route to {} via {}",
                        peer.cidr, peering.id
                    ));
                }
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
    use crate::ec2_api::{MockEc2Api, RouteInfo, RouteTableInfo};
    use crate::test_support::*;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;
    use tandem_core::{from_outputs, AwsError};

    fn component(primary: MockEc2Api, secondary: MockEc2Api) -> PeeringComponent {
        PeeringComponent::new(&cfg(), Arc::new(primary), Arc::new(secondary))
    }

    fn ctx() -> Ctx {
        Ctx::standalone("peering", REGION)
            .with_input(
                &ids::network(Placement::Primary),
                &network_outputs("primary"),
            )
            .with_input(
                &ids::network(Placement::Secondary),
                &network_outputs("secondary"),
            )
    }

    fn pcx(status: &str) -> PeeringInfo {
        PeeringInfo {
            id: "pcx-1".into(),
            status: status.into(),
            status_message: String::new(),
            requester_vpc_id: "vpc-1".into(),
            accepter_vpc_id: "vpc-2".into(),
            accepter_region: REGION2.into(),
            tags: tags("peering-dev"),
        }
    }

    /// Route tables of one side (`p` or `s`), optionally with the peer route in place.
    fn tables(side: &str, peer_cidr: &str, peered: bool) -> Vec<RouteTableInfo> {
        ["pub", "xa", "xb"]
            .iter()
            .map(|t| RouteTableInfo {
                id: format!("rtb-{side}{t}"),
                vpc_id: if side == "p" {
                    "vpc-1".into()
                } else {
                    "vpc-2".into()
                },
                routes: if peered {
                    vec![RouteInfo {
                        destination: peer_cidr.into(),
                        gateway_id: None,
                        peering_connection_id: Some("pcx-1".into()),
                        state: "active".into(),
                    }]
                } else {
                    vec![]
                },
                ..Default::default()
            })
            .collect()
    }

    fn prior() -> ComponentState {
        let mut st = ComponentState::new("vpc-peering", Placement::Global, REGION)
            .with_resource("peering", "pcx-1");
        for (i, t) in ["pub", "xa", "xb"].iter().enumerate() {
            st = st
                .with_resource(
                    &format!("route-primary-{i}"),
                    &format!("rtb-p{t}|10.20.0.0/16"),
                )
                .with_resource(
                    &format!("route-secondary-{i}"),
                    &format!("rtb-s{t}|10.10.0.0/16"),
                );
        }
        st
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_primary_accepts_in_secondary_and_routes_both_ways() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        let mut seq = Sequence::new();
        primary
            .expect_find_vpc_peering_connections()
            .with(eq("vpc-1".to_string()), eq("vpc-2".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vec![]));
        primary
            .expect_create_vpc_peering_connection()
            .withf(|v, p, r, t| {
                v == "vpc-1" && p == "vpc-2" && r == "us-east-2" && name_tag(t) == "peering-dev"
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(pcx("initiating-request")));
        // Not yet visible in the accepter region, then pending acceptance.
        secondary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        secondary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("pending-acceptance"))));
        // Accept goes to the SECONDARY client (the primary mock has no accept expectation);
        // NotFound while the request propagates is retried.
        secondary
            .expect_accept_vpc_peering_connection()
            .with(eq("pcx-1".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Err(AwsError::not_found(
                    "InvalidVpcPeeringConnectionID.NotFound",
                    "not yet",
                ))
            });
        secondary
            .expect_accept_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        primary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("provisioning"))));
        primary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("active"))));
        secondary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("active"))));
        primary
            .expect_describe_route_tables()
            .withf(|f| filter(f, "vpc-id") == Some("vpc-1"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(tables("p", "10.20.0.0/16", false)));
        for t in ["rtb-ppub", "rtb-pxa", "rtb-pxb"] {
            primary
                .expect_create_route()
                .with(
                    eq(t.to_string()),
                    eq("10.20.0.0/16".to_string()),
                    eq(RouteTarget::Peering("pcx-1".into())),
                )
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _, _| Ok(()));
        }
        secondary
            .expect_describe_route_tables()
            .withf(|f| filter(f, "vpc-id") == Some("vpc-2"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(tables("s", "10.10.0.0/16", false)));
        for t in ["rtb-spub", "rtb-sxa", "rtb-sxb"] {
            secondary
                .expect_create_route()
                .with(
                    eq(t.to_string()),
                    eq("10.10.0.0/16".to_string()),
                    eq(RouteTarget::Peering("pcx-1".into())),
                )
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _, _| Ok(()));
        }
        let ctx = ctx();
        let out: PeeringOutputs =
            from_outputs(&component(primary, secondary).apply(&ctx).await.unwrap()).unwrap();
        assert_eq!(out.peering_connection_id, "pcx-1");
        let journal = ctx.journal_entries().await;
        assert_eq!(
            journal["route-secondary-2"].id.as_deref(),
            Some("rtb-sxb|10.10.0.0/16")
        );
        assert_eq!(journal["peering-accept"].id.as_deref(), Some("pcx-1"));
    }

    /// The secondary side of an accept whose first answer was lost: the retry is refused
    /// with InvalidStateTransition; what the connection is now decides.
    fn accept_retried(after_error: &'static str) -> MockEc2Api {
        let mut secondary = MockEc2Api::new();
        let mut seq = Sequence::new();
        secondary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("pending-acceptance"))));
        secondary
            .expect_accept_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Err(AwsError::new(
                    "InvalidStateTransition",
                    "VpcPeeringConnectionID pcx-1 is not in the correct state for the request.",
                    Some(400),
                ))
            });
        secondary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| Ok(Some(pcx(after_error))));
        secondary
    }

    #[tokio::test(start_paused = true)]
    async fn accept_whose_answer_was_lost_is_taken_as_accepted() {
        let c = component(MockEc2Api::new(), accept_retried("active"));
        let ctx = ctx();
        c.accept(&ctx, &pcx("pending-acceptance")).await.expect("accepted");
        assert_eq!(ctx.recorded_id(&PEERING_ACCEPT).await.as_deref(), Some("pcx-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn accept_refused_on_a_connection_still_pending_is_an_error() {
        let c = component(MockEc2Api::new(), accept_retried("pending-acceptance"));
        let err = c.accept(&ctx(), &pcx("pending-acceptance")).await.expect_err("refused");
        assert_eq!(err.aws_error().map(|e| e.is_code("InvalidStateTransition")), Some(true), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_active_peering_makes_no_mutating_call() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        primary
            .expect_describe_vpc_peering_connection()
            .with(eq("pcx-1".to_string()))
            .returning(|_| Ok(Some(pcx("active"))));
        primary
            .expect_find_vpc_peering_connections()
            .returning(|_, _| Ok(vec![pcx("active")]));
        primary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("p", "10.20.0.0/16", true)));
        secondary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("s", "10.10.0.0/16", true)));
        let out = component(primary, secondary)
            .apply(&ctx().with_prior(prior()))
            .await
            .unwrap();
        assert_eq!(out["peering_connection_id"], "pcx-1");
    }

    #[tokio::test(start_paused = true)]
    async fn blackhole_route_is_replaced() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        primary
            .expect_describe_vpc_peering_connection()
            .returning(|_| Ok(Some(pcx("active"))));
        primary
            .expect_find_vpc_peering_connections()
            .returning(|_, _| Ok(vec![pcx("active")]));
        primary.expect_describe_route_tables().returning(|_| {
            let mut t = tables("p", "10.20.0.0/16", true);
            t[1].routes[0].peering_connection_id = Some("pcx-old".into());
            t[1].routes[0].state = "blackhole".into();
            Ok(t)
        });
        primary
            .expect_replace_route()
            .with(
                eq("rtb-pxa".to_string()),
                eq("10.20.0.0/16".to_string()),
                eq(RouteTarget::Peering("pcx-1".into())),
            )
            .times(1)
            .returning(|_, _, _| Ok(()));
        secondary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("s", "10.10.0.0/16", true)));
        component(primary, secondary)
            .apply(&ctx().with_prior(prior()))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn failed_peering_reports_the_aws_reason() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        primary
            .expect_find_vpc_peering_connections()
            .returning(|_, _| Ok(vec![]));
        primary
            .expect_create_vpc_peering_connection()
            .returning(|_, _, _, _| Ok(pcx("initiating-request")));
        secondary
            .expect_describe_vpc_peering_connection()
            .returning(|_| {
                let mut p = pcx("failed");
                p.status_message = "Overlapping CIDR range".into();
                Ok(Some(p))
            });
        primary
            .expect_describe_vpc_peering_connection()
            .returning(|_| {
                let mut p = pcx("failed");
                p.status_message = "Overlapping CIDR range".into();
                Ok(Some(p))
            });
        let e = component(primary, secondary)
            .apply(&ctx())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("peering-dev") && e.contains("us-east-1") && e.contains("Overlapping CIDR"),
            "{e}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_routes_on_both_sides_then_the_connection() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        let mut seq = Sequence::new();
        primary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("active"))));
        primary
            .expect_find_vpc_peering_connections()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vec![pcx("active")]));
        // Journal keys are visited in order: route-primary-0..2, then route-secondary-0..2.
        for t in ["rtb-ppub", "rtb-pxa", "rtb-pxb"] {
            primary
                .expect_delete_route()
                .with(eq(t.to_string()), eq("10.20.0.0/16".to_string()))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _| Ok(()));
        }
        for t in ["rtb-spub", "rtb-sxa", "rtb-sxb"] {
            secondary
                .expect_delete_route()
                .with(eq(t.to_string()), eq("10.10.0.0/16".to_string()))
                .times(1)
                .in_sequence(&mut seq)
                // The secondary route table is already gone: NotFound is success.
                .returning(|_, _| Err(AwsError::not_found("InvalidRoute.NotFound", "no route")));
        }
        primary
            .expect_describe_route_tables()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(tables("p", "", false)));
        secondary
            .expect_describe_route_tables()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(tables("s", "", false)));
        primary
            .expect_delete_vpc_peering_connection()
            .with(eq("pcx-1".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        primary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("deleting"))));
        primary
            .expect_describe_vpc_peering_connection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(pcx("deleted"))));
        let ctx = ctx().with_prior(prior());
        component(primary, secondary).destroy(&ctx).await.unwrap();
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn second_destroy_is_a_noop_and_not_found_delete_is_success() {
        // Nothing recorded, no live connection between the VPCs: lookups only.
        let mut primary = MockEc2Api::new();
        primary
            .expect_find_vpc_peering_connections()
            .times(1)
            .returning(|_, _| Ok(vec![pcx("deleted")]));
        component(primary, MockEc2Api::new())
            .destroy(&ctx())
            .await
            .unwrap();

        let mut primary = MockEc2Api::new();
        primary
            .expect_find_vpc_peering_connections()
            .returning(|_, _| Ok(vec![pcx("active")]));
        primary
            .expect_describe_route_tables()
            .returning(|_| Ok(vec![]));
        primary
            .expect_delete_vpc_peering_connection()
            .times(1)
            .returning(|_| {
                Err(AwsError::not_found(
                    "InvalidVpcPeeringConnectionID.NotFound",
                    "gone",
                ))
            });
        primary
            .expect_describe_vpc_peering_connection()
            .returning(|_| Ok(None));
        let mut secondary = MockEc2Api::new();
        secondary
            .expect_describe_route_tables()
            .returning(|_| Ok(vec![]));
        component(primary, secondary).destroy(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_create_is_retried() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        primary
            .expect_find_vpc_peering_connections()
            .returning(|_, _| Ok(vec![]));
        let mut n = 0;
        primary
            .expect_create_vpc_peering_connection()
            .times(2)
            .returning(move |_, _, _, _| {
                n += 1;
                if n == 1 {
                    Err(AwsError::new(
                        "RequestLimitExceeded",
                        "slow down",
                        Some(503),
                    ))
                } else {
                    Ok(pcx("active"))
                }
            });
        // After the ambiguous failure, the created copy is looked up by id and tag (spares).
        primary
            .expect_describe_vpc_peering_connection()
            .returning(|_| Ok(Some(pcx("active"))));
        primary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("p", "10.20.0.0/16", true)));
        secondary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("s", "10.10.0.0/16", true)));
        component(primary, secondary).apply(&ctx()).await.unwrap();
    }

    fn pending_peering() -> ComponentState {
        let prior = ComponentState::new("vpc-peering", Placement::Global, REGION).with_pending_create(PEERING.as_str(), Some("t"));
        prior
    }

    fn peered_route_tables(primary: &mut MockEc2Api, secondary: &mut MockEc2Api) {
        primary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("p", "10.20.0.0/16", true)));
        secondary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("s", "10.10.0.0/16", true)));
    }

    /// CreateVpcPeeringConnection acts but its answer is lost (500): the connection is found
    /// by tag between the two VPCs and adopted; the create is sent once.
    #[tokio::test(start_paused = true)]
    async fn lost_create_answer_is_found_by_tag_with_one_create() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let made = Arc::new(AtomicBool::new(false));
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        let m = made.clone();
        primary
            .expect_find_vpc_peering_connections()
            .returning(move |_, _| Ok(if m.load(Ordering::SeqCst) { vec![pcx("active")] } else { vec![] }));
        let m = made.clone();
        primary
            .expect_create_vpc_peering_connection()
            .times(1)
            .returning(move |_, _, _, _| {
                m.store(true, Ordering::SeqCst);
                Err(AwsError::new("InternalError", "answer lost", Some(500)))
            });
        peered_route_tables(&mut primary, &mut secondary);
        let ctx = ctx();
        component(primary, secondary).apply(&ctx).await.unwrap();
        let e = ctx.entry(&PEERING).await.unwrap();
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some("pcx-1")));
    }

    /// A resumed run finds two tagged connections (the lost answer's and a retry's): it keeps
    /// one, deletes the spare, and creates nothing.
    #[tokio::test(start_paused = true)]
    async fn resumed_run_keeps_one_tagged_connection_and_deletes_the_spare() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        primary.expect_find_vpc_peering_connections().returning(|_, _| {
            let mut spare = pcx("pending-acceptance");
            spare.id = "pcx-2".into();
            Ok(vec![pcx("active"), spare])
        });
        primary
            .expect_delete_vpc_peering_connection()
            .with(eq("pcx-2".to_string()))
            .times(1)
            .returning(|_| Ok(()));
        // No create expectation: a create panics.
        peered_route_tables(&mut primary, &mut secondary);
        let ctx = ctx().with_prior(pending_peering());
        let out = component(primary, secondary).apply(&ctx).await.unwrap();
        assert_eq!(out["peering_connection_id"], "pcx-1");
        let e = ctx.entry(&PEERING).await.unwrap();
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some("pcx-1")));
    }

    #[tokio::test(start_paused = true)]
    async fn read_reports_missing_routes() {
        let mut primary = MockEc2Api::new();
        let mut secondary = MockEc2Api::new();
        primary
            .expect_describe_vpc_peering_connection()
            .returning(|_| Ok(Some(pcx("active"))));
        primary
            .expect_find_vpc_peering_connections()
            .returning(|_, _| Ok(vec![pcx("active")]));
        primary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("p", "10.20.0.0/16", true)));
        secondary
            .expect_describe_route_tables()
            .returning(|_| Ok(tables("s", "10.10.0.0/16", false)));
        match component(primary, secondary)
            .read(&ctx().with_prior(prior()))
            .await
            .unwrap()
        {
            Drift::Drifted { details } => assert_eq!(details.len(), 3, "{details:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn is_global_and_depends_on_both_networks() {
        let c = component(MockEc2Api::new(), MockEc2Api::new());
        assert_eq!(c.placement(), Placement::Global);
        assert_eq!(Component::region(&c), REGION);
        assert_eq!(
            c.dependencies(),
            vec![
                "network-primary".to_string(),
                "network-secondary".to_string()
            ]
        );
        assert_eq!(c.output_type().short_name(), "PeeringOutputs");
    }
}
