//! Internet gateway and route tables: one public route table (default route to the IGW)
//! associated with the public subnets, and one private route table per AZ associated with
//! that AZ's private subnet. There is no NAT gateway: nothing in the private subnets needs
//! outbound internet access (Aurora does not; the Lambda functions are not VPC-attached), and
//! the per-AZ tables are where a NAT route per AZ would go. The VPC peering component adds
//! routes to the peer CIDR in every one of these tables.

use tandem_core::aws::{ignore_not_found, retry, retry_if};
use tandem_core::{AwsError, AwsResultExt, ComponentError, Key, Rule};

use crate::common::{is_ours, tag, tag_filters, until_accepted, Scope};
use crate::vpc::IGW;

/// Journal keys (strings kept from earlier releases: state compatibility).
const IGW_ATTACHMENT: Key = Key::new("igw-attachment");
const RTB_PUBLIC: Key = Key::new("rtb-public");
/// `rtb-private-<i>`.
const RTB_PRIVATE: Key = Key::new("rtb-private");
const ROUTE_PUBLIC_DEFAULT: Key = Key::new("route-public-default");
/// `assoc-public-<i>`, `assoc-private-<i>`.
const ASSOC_PUBLIC: Key = Key::new("assoc-public");
const ASSOC_PRIVATE: Key = Key::new("assoc-private");
use crate::ec2_api::{filters, InternetGatewayInfo, RouteTableInfo, RouteTarget, SubnetInfo};

pub const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// This stack's internet gateways: the recorded one if it exists, the one attached to the
/// VPC, and those tagged with our name and stack.
async fn lookup_gateways(
    sc: &Scope<'_>,
    vpc_id: &str,
    recorded: Option<String>,
) -> Result<Vec<InternetGatewayInfo>, AwsError> {
    let name = sc.name("igw");
    let mut found = Vec::new();
    if let Some(id) = recorded {
        found.extend(retry(|| sc.ec2.describe_internet_gateways(filters(&[("internet-gateway-id", &id)]))).await?);
    }
    found.extend(retry(|| sc.ec2.describe_internet_gateways(filters(&[("attachment.vpc-id", vpc_id)]))).await?);
    found.extend(
        retry(|| sc.ec2.describe_internet_gateways(tag_filters(&name, sc.suffix)))
            .await?
            .into_iter()
            .filter(|g| is_ours(&g.tags, &name, sc.suffix)),
    );
    let mut out: Vec<InternetGatewayInfo> = Vec::new();
    for g in found {
        if !out.iter().any(|o| o.id == g.id) {
            out.push(g);
        }
    }
    Ok(out)
}

/// Ensures the internet gateway exists and is attached to the VPC; returns its id.
pub(crate) async fn ensure_internet_gateway(
    sc: &Scope<'_>,
    vpc_id: &str,
) -> Result<String, ComponentError> {
    let name = sc.name("igw");
    let igw = sc
        .ctx
        .ensure::<InternetGatewayInfo>(&IGW, &name, Rule::Tag)
        .find(|recorded| lookup_gateways(sc, vpc_id, recorded))
        .create(|_token| {
            tracing::info!(igw = %name, region = sc.region, "creating internet gateway");
            let tags = sc.tags(&name);
            async move {
                let id = sc.ec2.create_internet_gateway(tags.clone()).await?;
                Ok(InternetGatewayInfo { id, attached_vpcs: Vec::new(), tags })
            }
        })
        .discard(|id| async move { ignore_not_found(sc.ec2.delete_internet_gateway(id).await) })
        .id(|g: &InternetGatewayInfo| g.id.clone())
        .run()
        .await?;
    if !igw.attached_vpcs.iter().any(|v| v == vpc_id) {
        if let Some(other) = igw.attached_vpcs.first() {
            return Err(ComponentError::invalid(
                &name,
                sc.region,
                format!(
                    "internet gateway {} is attached to {other}, not {vpc_id}",
                    igw.id
                ),
            ));
        }
        let attachment = format!("{}:{vpc_id}", igw.id);
        sc.ctx
            .ensure::<String>(&IGW_ATTACHMENT, &name, Rule::Name)
            .find(|_| async {
                let attached = retry(|| sc.ec2.describe_internet_gateways(filters(&[("internet-gateway-id", &igw.id)])))
                    .await?
                    .iter()
                    .any(|g| g.attached_vpcs.iter().any(|v| v == vpc_id));
                Ok(if attached { vec![attachment.clone()] } else { Vec::new() })
            })
            .create(|_token| async {
                // A just-created gateway may not be visible yet (a definite rejection).
                let r = until_accepted(
                    || sc.ec2.attach_internet_gateway(igw.id.clone(), vpc_id.to_string()),
                    AwsError::is_not_found,
                )
                .await;
                already_exists_if(r, "Resource.AlreadyAssociated").map(|()| attachment.clone())
            })
            .id(|a: &String| a.clone())
            .run()
            .await?;
    }
    Ok(igw.id)
}

/// An "already associated/attached" answer as a conflict, so the protocol looks the
/// association up (a lost answer's SDK retry gets it) instead of failing.
fn already_exists_if<T>(r: Result<T, AwsError>, code: &str) -> Result<T, AwsError> {
    match r {
        Err(e) if e.is_code(code) => Err(AwsError::new(format!("{code}.AlreadyExists"), e.message, e.status)),
        other => other,
    }
}

/// Ensures the public route table (with its default route) and the private ones; returns
/// (public id, private ids in AZ order).
pub(crate) async fn ensure_route_tables(
    sc: &Scope<'_>,
    vpc_id: &str,
    igw_id: &str,
    azs: &[String],
    public: &[SubnetInfo],
    private: &[SubnetInfo],
) -> Result<(String, Vec<String>), ComponentError> {
    let vpc_name = sc.name("vpc");
    let mut tables = retry(|| sc.ec2.describe_route_tables(filters(&[("vpc-id", vpc_id)])))
        .await
        .at(&vpc_name, sc.region)?;

    let public_name = sc.name("rtb-public");
    let public_rt = ensure_table(sc, &mut tables, &RTB_PUBLIC, &public_name, vpc_id).await?;
    ensure_route(
        sc,
        &public_rt,
        &public_name,
        &ROUTE_PUBLIC_DEFAULT,
        DEFAULT_ROUTE,
        RouteTarget::Gateway(igw_id.to_string()),
    )
    .await?;
    for (i, s) in public.iter().enumerate() {
        ensure_association(
            sc,
            &tables,
            &public_rt.id,
            &public_name,
            &ASSOC_PUBLIC.child(i),
            &s.id,
        )
        .await?;
    }

    let mut private_ids = Vec::new();
    for (i, (az, s)) in azs.iter().zip(private).enumerate() {
        let name = sc.name(&format!("rtb-private-{az}"));
        let rt = ensure_table(sc, &mut tables, &RTB_PRIVATE.child(i), &name, vpc_id).await?;
        ensure_association(
            sc,
            &tables,
            &rt.id,
            &name,
            &ASSOC_PRIVATE.child(i),
            &s.id,
        )
        .await?;
        private_ids.push(rt.id);
    }
    Ok((public_rt.id, private_ids))
}

async fn ensure_table(
    sc: &Scope<'_>,
    tables: &mut Vec<RouteTableInfo>,
    key: &Key,
    name: &str,
    vpc_id: &str,
) -> Result<RouteTableInfo, ComponentError> {
    let mut snapshot = Some(tables.clone());
    let ours = |all: Vec<RouteTableInfo>, recorded: Option<String>| -> Vec<RouteTableInfo> {
        all.into_iter()
            .filter(|t| recorded.as_deref() == Some(t.id.as_str()) || (!t.is_main() && is_ours(&t.tags, name, sc.suffix)))
            .collect()
    };
    let t = sc
        .ctx
        .ensure::<RouteTableInfo>(key, name, Rule::Token)
        .find(move |recorded| {
            let first = snapshot.take();
            async move {
                let all = match first {
                    Some(list) => list,
                    None => retry(|| sc.ec2.describe_route_tables(filters(&[("vpc-id", vpc_id)]))).await?,
                };
                Ok(ours(all, recorded))
            }
        })
        .create(|token| async move {
            tracing::info!(route_table = name, region = sc.region, "creating route table");
            let id = sc
                .ec2
                .create_route_table(vpc_id.to_string(), sc.tags(name), token.as_str().to_string())
                .await?;
            Ok(RouteTableInfo { id, vpc_id: vpc_id.to_string(), tags: sc.tags(name), ..Default::default() })
        })
        .discard(|id| async move { ignore_not_found(sc.ec2.delete_route_table(id).await) })
        .id(|t: &RouteTableInfo| t.id.clone())
        .run()
        .await?;
    if !tables.iter().any(|x| x.id == t.id) {
        tables.push(t.clone());
    }
    Ok(t)
}

/// Ensures `destination` routes to `target` in `table` (creates it, or replaces a route that
/// points elsewhere or is a blackhole). Journaled under `key` with id `<table>|<destination>`.
pub(crate) async fn ensure_route(
    sc: &Scope<'_>,
    table: &RouteTableInfo,
    table_name: &str,
    key: &Key,
    destination: &str,
    target: RouteTarget,
) -> Result<(), ComponentError> {
    let route_id = format!("{}|{destination}", table.id);
    let points_there = |t: &RouteTableInfo| {
        t.route_to(destination).is_some_and(|r| {
            r.state != "blackhole"
                && match &target {
                    RouteTarget::Gateway(g) => r.gateway_id.as_deref() == Some(g.as_str()),
                    RouteTarget::Peering(p) => r.peering_connection_id.as_deref() == Some(p.as_str()),
                }
        })
    };
    if table.route_to(destination).is_some() && !points_there(table) {
        tracing::info!(route_table = table_name, destination, ?target, region = sc.region, "replacing route");
        sc.ctx
            .update(key, || async {
                retry(|| sc.ec2.replace_route(table.id.clone(), destination.to_string(), target.clone()))
                    .await
                    .at(table_name, sc.region)
            })
            .await?;
        return sc.ctx.adopt(key, &route_id).await;
    }
    // A destination is unique in a table: RouteAlreadyExists means look it up.
    let mut snapshot = Some(table.clone());
    sc.ctx
        .ensure::<String>(key, table_name, Rule::Name)
        .find(|_| {
            let first = snapshot.take();
            async {
                let t = match first {
                    Some(t) => Some(t),
                    None => retry(|| sc.ec2.describe_route_tables(filters(&[("route-table-id", &table.id)])))
                        .await?
                        .into_iter()
                        .find(|t| t.id == table.id),
                };
                Ok(if t.as_ref().is_some_and(&points_there) { vec![route_id.clone()] } else { Vec::new() })
            }
        })
        .create(|_token| async {
            tracing::info!(route_table = table_name, destination, ?target, region = sc.region, "creating route");
            // A just-created gateway or peering connection may not be visible yet.
            until_accepted(
                || sc.ec2.create_route(table.id.clone(), destination.to_string(), target.clone()),
                AwsError::is_not_found,
            )
            .await
            .map(|()| route_id.clone())
        })
        .id(|r: &String| r.clone())
        .run()
        .await?;
    Ok(())
}

/// The association of `subnet_id` in `tables`: (table id, association id).
fn association_of(tables: &[RouteTableInfo], subnet_id: &str) -> Option<(String, String)> {
    tables.iter().find_map(|t| {
        t.associations
            .iter()
            .find(|a| a.subnet_id.as_deref() == Some(subnet_id))
            .map(|a| (t.id.clone(), a.id.clone()))
    })
}

async fn ensure_association(
    sc: &Scope<'_>,
    tables: &[RouteTableInfo],
    table_id: &str,
    table_name: &str,
    key: &Key,
    subnet_id: &str,
) -> Result<(), ComponentError> {
    match association_of(tables, subnet_id) {
        Some((t, assoc)) if t == table_id => {
            return sc.ctx.adopt(key, &assoc).await;
        }
        Some((other, assoc)) => {
            tracing::info!(subnet = subnet_id, from = %other, to = table_id, region = sc.region, "moving subnet association");
            retry(|| async {
                ignore_not_found(sc.ec2.disassociate_route_table(assoc.clone()).await)
            })
            .await
            .at(table_name, sc.region)?;
        }
        None => {}
    }
    // A subnet has one association: after a lost answer it is looked up, not re-sent.
    sc.ctx
        .ensure::<String>(key, table_name, Rule::Name)
        .known_absent()
        .find(|_| {
            async move {
                let live = retry(|| sc.ec2.describe_route_tables(filters(&[("association.subnet-id", subnet_id)]))).await?;
                Ok(association_of(&live, subnet_id)
                    .filter(|(t, _)| t == table_id)
                    .map(|(_, a)| a)
                    .into_iter()
                    .collect())
            }
        })
        .create(|_token| async {
            // A just-created route table or subnet may not be visible yet.
            let r = until_accepted(
                || sc.ec2.associate_route_table(table_id.to_string(), subnet_id.to_string()),
                AwsError::is_not_found,
            )
            .await;
            already_exists_if(r, "Resource.AlreadyAssociated")
        })
        .id(|a: &String| a.clone())
        .run()
        .await?;
    Ok(())
}

/// Deletes every non-main route table of the VPC, disassociating subnets first.
pub(crate) async fn delete_route_tables(
    sc: &Scope<'_>,
    vpc_id: &str,
) -> Result<(), ComponentError> {
    let vpc_name = sc.name("vpc");
    let tables = retry(|| sc.ec2.describe_route_tables(filters(&[("vpc-id", vpc_id)])))
        .await
        .at(&vpc_name, sc.region)?;
    for t in tables.iter().filter(|t| !t.is_main()) {
        let label = tag(&t.tags, "Name").unwrap_or(&t.id).to_string();
        for a in t.associations.iter().filter(|a| !a.main) {
            retry(|| async {
                ignore_not_found(sc.ec2.disassociate_route_table(a.id.clone()).await)
            })
            .await
            .at(&label, sc.region)?;
        }
        retry_if(
            || async { ignore_not_found(sc.ec2.delete_route_table(t.id.clone()).await) },
            |e| e.is_code("DependencyViolation"),
        )
        .await
        .at(&label, sc.region)?;
    }
    Ok(())
}

/// Detaches and deletes the VPC's internet gateways (and a recorded one left unattached).
pub(crate) async fn delete_internet_gateways(
    sc: &Scope<'_>,
    vpc_id: &str,
) -> Result<(), ComponentError> {
    let name = sc.name("igw");
    let mut gateways = retry(|| {
        sc.ec2
            .describe_internet_gateways(filters(&[("attachment.vpc-id", vpc_id)]))
    })
    .await
    .at(&name, sc.region)?;
    if let Some(id) = sc.ctx.recorded_id(&IGW).await {
        if !gateways.iter().any(|g| g.id == id) {
            gateways.extend(
                retry(|| {
                    sc.ec2
                        .describe_internet_gateways(filters(&[("internet-gateway-id", &id)]))
                })
                .await
                .at(&name, sc.region)?,
            );
        }
    }
    for g in gateways {
        for v in &g.attached_vpcs {
            retry_if(
                || async {
                    ignore_detached(
                        sc.ec2
                            .detach_internet_gateway(g.id.clone(), v.clone())
                            .await,
                    )
                },
                |e| e.is_code("DependencyViolation"),
            )
            .await
            .at(&name, sc.region)?;
        }
        retry_if(
            || async { ignore_not_found(sc.ec2.delete_internet_gateway(g.id.clone()).await) },
            |e| e.is_code("DependencyViolation"),
        )
        .await
        .at(&name, sc.region)?;
    }
    Ok(())
}

fn ignore_detached(r: Result<(), AwsError>) -> Result<(), AwsError> {
    match r {
        Err(e) if e.is_not_found() || e.is_code("Gateway.NotAttached") => Ok(()),
        other => other,
    }
}
