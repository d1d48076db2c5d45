//! Internet gateway and route tables: one public route table (default route to the IGW)
//! associated with the public subnets, and one private route table per AZ associated with
//! that AZ's private subnet. There is no NAT gateway: nothing in the private subnets needs
//! outbound internet access (Aurora does not; the Lambda functions are not VPC-attached), and
//! the per-AZ tables are where a NAT route per AZ would go. The VPC peering component adds
//! routes to the peer CIDR in every one of these tables.

use tandem_core::aws::{ignore_not_found, retry, retry_if};
use tandem_core::{AwsError, AwsResultExt, ComponentError};

use crate::common::{is_ours, record, recorded_id, tag, tag_filters, Scope};
use crate::ec2_api::{filters, InternetGatewayInfo, RouteTableInfo, RouteTarget, SubnetInfo};

pub const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// Ensures the internet gateway exists and is attached to the VPC; returns its id.
pub(crate) async fn ensure_internet_gateway(
    sc: &Scope<'_>,
    vpc_id: &str,
) -> Result<String, ComponentError> {
    let name = sc.name("igw");
    let mut found: Option<InternetGatewayInfo> = None;
    if let Some(id) = recorded_id(sc.ctx, "igw").await {
        found = retry(|| {
            sc.ec2
                .describe_internet_gateways(filters(&[("internet-gateway-id", &id)]))
        })
        .await
        .at(&name, sc.region)?
        .into_iter()
        .next();
    }
    if found.is_none() {
        found = retry(|| {
            sc.ec2
                .describe_internet_gateways(filters(&[("attachment.vpc-id", vpc_id)]))
        })
        .await
        .at(&name, sc.region)?
        .into_iter()
        .next();
    }
    if found.is_none() {
        found = retry(|| {
            sc.ec2
                .describe_internet_gateways(tag_filters(&name, sc.suffix))
        })
        .await
        .at(&name, sc.region)?
        .into_iter()
        .find(|g| is_ours(&g.tags, &name, sc.suffix));
    }
    let igw = match found {
        Some(g) => {
            record(sc.ctx, "igw", &g.id).await?;
            g
        }
        None => {
            tracing::info!(igw = %name, region = sc.region, "creating internet gateway");
            let id = sc
                .ctx
                .journaled("igw", "create", || async {
                    retry(|| sc.ec2.create_internet_gateway(sc.tags(&name)))
                        .await
                        .at(&name, sc.region)
                })
                .await?;
            InternetGatewayInfo {
                id,
                attached_vpcs: Vec::new(),
                tags: sc.tags(&name),
            }
        }
    };
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
        sc.ctx
            .journaled("igw-attachment", "attach", || async {
                // A just-created gateway may not be visible yet.
                retry_if(
                    || {
                        sc.ec2
                            .attach_internet_gateway(igw.id.clone(), vpc_id.to_string())
                    },
                    |e| e.is_not_found(),
                )
                .await
                .at(&name, sc.region)?;
                Ok(format!("{}:{vpc_id}", igw.id))
            })
            .await?;
    }
    Ok(igw.id)
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
    let public_rt = ensure_table(sc, &mut tables, "rtb-public", &public_name, vpc_id).await?;
    ensure_route(
        sc,
        &public_rt,
        &public_name,
        "route-public-default",
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
            &format!("assoc-public-{i}"),
            &s.id,
        )
        .await?;
    }

    let mut private_ids = Vec::new();
    for (i, (az, s)) in azs.iter().zip(private).enumerate() {
        let name = sc.name(&format!("rtb-private-{az}"));
        let rt = ensure_table(sc, &mut tables, &format!("rtb-private-{i}"), &name, vpc_id).await?;
        ensure_association(
            sc,
            &tables,
            &rt.id,
            &name,
            &format!("assoc-private-{i}"),
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
    key: &str,
    name: &str,
    vpc_id: &str,
) -> Result<RouteTableInfo, ComponentError> {
    let recorded = recorded_id(sc.ctx, key).await;
    let found = recorded
        .and_then(|id| tables.iter().find(|t| t.id == id))
        .or_else(|| {
            tables
                .iter()
                .find(|t| !t.is_main() && is_ours(&t.tags, name, sc.suffix))
        });
    if let Some(t) = found {
        record(sc.ctx, key, &t.id).await?;
        return Ok(t.clone());
    }
    tracing::info!(
        route_table = name,
        region = sc.region,
        "creating route table"
    );
    let id = sc
        .ctx
        .journaled(key, "create", || async {
            retry(|| sc.ec2.create_route_table(vpc_id.to_string(), sc.tags(name)))
                .await
                .at(name, sc.region)
        })
        .await?;
    let t = RouteTableInfo {
        id,
        vpc_id: vpc_id.to_string(),
        tags: sc.tags(name),
        ..Default::default()
    };
    tables.push(t.clone());
    Ok(t)
}

/// Ensures `destination` routes to `target` in `table` (creates it, or replaces a route that
/// points elsewhere or is a blackhole). Journaled under `key` with id `<table>|<destination>`.
pub(crate) async fn ensure_route(
    sc: &Scope<'_>,
    table: &RouteTableInfo,
    table_name: &str,
    key: &str,
    destination: &str,
    target: RouteTarget,
) -> Result<(), ComponentError> {
    let route_id = format!("{}|{destination}", table.id);
    match table.route_to(destination) {
        Some(r) => {
            let same = match &target {
                RouteTarget::Gateway(g) => r.gateway_id.as_deref() == Some(g.as_str()),
                RouteTarget::Peering(p) => r.peering_connection_id.as_deref() == Some(p.as_str()),
            };
            if same && r.state != "blackhole" {
                record(sc.ctx, key, &route_id).await?;
                return Ok(());
            }
            tracing::info!(
                route_table = table_name,
                destination,
                ?target,
                region = sc.region,
                "replacing route"
            );
            sc.ctx
                .journaled(key, "replace", || async {
                    retry(|| {
                        sc.ec2.replace_route(
                            table.id.clone(),
                            destination.to_string(),
                            target.clone(),
                        )
                    })
                    .await
                    .at(table_name, sc.region)?;
                    Ok(route_id.clone())
                })
                .await?;
        }
        None => {
            tracing::info!(
                route_table = table_name,
                destination,
                ?target,
                region = sc.region,
                "creating route"
            );
            sc.ctx
                .journaled(key, "create", || async {
                    // A just-created gateway or peering connection may not be visible yet.
                    retry_if(
                        || {
                            sc.ec2.create_route(
                                table.id.clone(),
                                destination.to_string(),
                                target.clone(),
                            )
                        },
                        |e| e.is_not_found(),
                    )
                    .await
                    .at(table_name, sc.region)?;
                    Ok(route_id.clone())
                })
                .await?;
        }
    }
    Ok(())
}

async fn ensure_association(
    sc: &Scope<'_>,
    tables: &[RouteTableInfo],
    table_id: &str,
    table_name: &str,
    key: &str,
    subnet_id: &str,
) -> Result<(), ComponentError> {
    let mut current: Option<(String, String)> = None;
    for t in tables {
        for a in &t.associations {
            if a.subnet_id.as_deref() == Some(subnet_id) {
                current = Some((t.id.clone(), a.id.clone()));
            }
        }
    }
    match current {
        Some((t, assoc)) if t == table_id => {
            record(sc.ctx, key, &assoc).await?;
            return Ok(());
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
    sc.ctx
        .journaled(key, "associate", || async {
            // A just-created route table or subnet may not be visible yet.
            retry_if(
                || {
                    sc.ec2
                        .associate_route_table(table_id.to_string(), subnet_id.to_string())
                },
                |e| e.is_not_found(),
            )
            .await
            .at(table_name, sc.region)
        })
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
    if let Some(id) = recorded_id(sc.ctx, "igw").await {
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
