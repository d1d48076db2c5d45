//! Security groups: the database group (PostgreSQL 5432 from both VPC CIDRs only: a security
//! group cannot reference a group across a cross-region peering, so the peer is allowed by
//! CIDR) and the load balancer group used by the ALB behind the NLB (HTTPS 443 from
//! anywhere). Apply converges ingress: missing rules are authorized and IPv4 rules that are
//! not desired are revoked, so nothing can quietly widen access to the database.

use tandem_core::aws::{ignore_not_found, retry, retry_if};
use tandem_core::{AwsResultExt, ComponentError};

use crate::common::{journaled_with, record, recorded_id, tag, Scope};
use crate::ec2_api::{filters, IngressRule, SecurityGroupInfo};

/// One security group to ensure.
pub(crate) struct GroupSpec<'a> {
    pub key: &'a str,
    pub name: String,
    pub description: String,
    pub rules: Vec<IngressRule>,
}

pub(crate) async fn describe_groups(
    sc: &Scope<'_>,
    vpc_id: &str,
) -> Result<Vec<SecurityGroupInfo>, ComponentError> {
    retry(|| {
        sc.ec2
            .describe_security_groups(filters(&[("vpc-id", vpc_id)]))
    })
    .await
    .at(&sc.name("vpc"), sc.region)
}

/// Ensures the group and exactly its ingress rules; returns its id.
pub(crate) async fn ensure_group(
    sc: &Scope<'_>,
    existing: &[SecurityGroupInfo],
    vpc_id: &str,
    spec: GroupSpec<'_>,
) -> Result<String, ComponentError> {
    let name = spec.name.as_str();
    let recorded = recorded_id(sc.ctx, spec.key).await;
    // Group names are unique within a VPC.
    let found = recorded
        .and_then(|id| existing.iter().find(|g| g.id == id))
        .or_else(|| existing.iter().find(|g| g.name == name));
    let group = match found {
        Some(g) => {
            record(sc.ctx, spec.key, &g.id).await?;
            g.clone()
        }
        None => {
            tracing::info!(
                security_group = name,
                region = sc.region,
                "creating security group"
            );
            let id = journaled_with(
                sc.ctx,
                spec.key,
                "create",
                |id: &String| id.clone(),
                || async {
                    retry(|| {
                        sc.ec2.create_security_group(
                            vpc_id.to_string(),
                            name.to_string(),
                            spec.description.clone(),
                            sc.tags(name),
                        )
                    })
                    .await
                    .at(name, sc.region)
                },
            )
            .await?;
            SecurityGroupInfo {
                id,
                name: name.to_string(),
                vpc_id: vpc_id.to_string(),
                ..Default::default()
            }
        }
    };
    let missing: Vec<IngressRule> = spec
        .rules
        .iter()
        .filter(|r| !group.ingress.contains(r))
        .cloned()
        .collect();
    let extra: Vec<IngressRule> = group
        .ingress
        .iter()
        .filter(|r| !spec.rules.contains(r))
        .cloned()
        .collect();
    if !group.other_ingress.is_empty() {
        tracing::warn!(security_group = name, region = sc.region, rules = ?group.other_ingress, "security group has ingress rules Tandem does not manage");
    }
    if !extra.is_empty() {
        tracing::info!(security_group = name, region = sc.region, rules = ?extra, "revoking ingress rules not in the configuration");
        let key = format!("{}-revoke", spec.key);
        sc.ctx
            .journaled(&key, "revoke", || async {
                retry(|| sc.ec2.revoke_ingress(group.id.clone(), extra.clone()))
                    .await
                    .at(name, sc.region)?;
                Ok(group.id.clone())
            })
            .await?;
        sc.ctx.removed(&key).await?;
    }
    if !missing.is_empty() {
        tracing::info!(security_group = name, region = sc.region, rules = ?missing, "authorizing ingress");
        sc.ctx
            .journaled(&format!("{}-ingress", spec.key), "authorize", || async {
                // A just-created group may not be visible yet.
                retry_if(
                    || sc.ec2.authorize_ingress(group.id.clone(), missing.clone()),
                    |e| e.is_not_found(),
                )
                .await
                .at(name, sc.region)?;
                Ok(group.id.clone())
            })
            .await?;
    }
    Ok(group.id)
}

/// Deletes every non-default security group of the VPC (DependencyViolation is retried
/// while network interfaces are released).
pub(crate) async fn delete_groups(sc: &Scope<'_>, vpc_id: &str) -> Result<(), ComponentError> {
    let groups = describe_groups(sc, vpc_id).await?;
    for g in groups.iter().filter(|g| g.name != "default") {
        let label = tag(&g.tags, "Name").unwrap_or(&g.name).to_string();
        retry_if(
            || async { ignore_not_found(sc.ec2.delete_security_group(g.id.clone()).await) },
            |e| e.is_code("DependencyViolation"),
        )
        .await
        .at(&label, sc.region)?;
    }
    Ok(())
}

/// Differences between a group's live ingress and the desired rules (for drift reports).
pub fn ingress_drift(group: &SecurityGroupInfo, desired: &[IngressRule]) -> Vec<String> {
    let mut out = Vec::new();
    for r in desired.iter().filter(|r| !group.ingress.contains(r)) {
        out.push(format!(
            "{}: missing ingress {} {}-{} from {}",
            group.name, r.protocol, r.from_port, r.to_port, r.cidr
        ));
    }
    for r in group.ingress.iter().filter(|r| !desired.contains(r)) {
        out.push(format!(
            "{}: unexpected ingress {} {}-{} from {}",
            group.name, r.protocol, r.from_port, r.to_port, r.cidr
        ));
    }
    for o in &group.other_ingress {
        out.push(format!("{}: unexpected ingress {o}", group.name));
    }
    out
}
