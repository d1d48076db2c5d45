//! Security groups: the database group (PostgreSQL 5432 from both VPC CIDRs only: a security
//! group cannot reference a group across a cross-region peering, so the peer is allowed by
//! CIDR) and the load balancer group used by the ALB behind the NLB (HTTPS 443 from
//! anywhere). Apply converges ingress: missing rules are authorized and IPv4 rules that are
//! not desired are revoked, so nothing can quietly widen access to the database.

use std::sync::atomic::{AtomicBool, Ordering};

use tandem_core::aws::{ignore_not_found, retry, retry_if};
use tandem_core::{AwsError, AwsResultExt, ComponentError, Key, Rule};

use crate::common::{tag, until_accepted, Scope};
use crate::ec2_api::{filters, IngressRule, SecurityGroupInfo};

/// One security group to ensure.
pub(crate) struct GroupSpec<'a> {
    pub key: &'a Key,
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
    let key = spec.key;
    // Group names are unique within a VPC: InvalidGroup.Duplicate means look it up by name.
    let mut snapshot = Some(existing.to_vec());
    let group = sc
        .ctx
        .ensure::<SecurityGroupInfo>(key, name, Rule::Name)
        .find(move |recorded| {
            let first = snapshot.take();
            async move {
                let all = match first {
                    Some(list) => list,
                    None => {
                        retry(|| sc.ec2.describe_security_groups(filters(&[("vpc-id", vpc_id), ("group-name", name)])))
                            .await?
                    }
                };
                let by_id = recorded.and_then(|id| all.iter().find(|g| g.id == id).cloned());
                Ok(by_id.or_else(|| all.iter().find(|g| g.name == name && g.vpc_id == vpc_id).cloned()).into_iter().collect())
            }
        })
        .create(|_token| async {
            tracing::info!(security_group = name, region = sc.region, "creating security group");
            let id = sc
                .ec2
                .create_security_group(vpc_id.to_string(), name.to_string(), spec.description.clone(), sc.tags(name))
                .await?;
            Ok(SecurityGroupInfo { id, name: name.to_string(), vpc_id: vpc_id.to_string(), ..Default::default() })
        })
        .id(|g: &SecurityGroupInfo| g.id.clone())
        .run()
        .await?;
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
        // Revoking is idempotent (a rule already gone answers NotFound).
        sc.ctx
            .update(key, || async {
                retry(|| async { ignore_not_found(sc.ec2.revoke_ingress(group.id.clone(), extra.clone()).await) })
                    .await
                    .at(name, sc.region)
            })
            .await?;
    }
    if !missing.is_empty() {
        tracing::info!(security_group = name, region = sc.region, rules = ?missing, "authorizing ingress");
        let desired = &spec.rules;
        let group_id = group.id.as_str();
        let known_rules = &group.ingress;
        let found_once = AtomicBool::new(false);
        let created_once = AtomicBool::new(false);
        let (found_once, created_once) = (&found_once, &created_once);
        sc.ctx
            .ensure::<String>(&key.child("ingress"), name, Rule::Name)
            .find(move |_| async move {
                if !found_once.swap(true, Ordering::SeqCst) {
                    return Ok(Vec::new()); // just read: some rules are missing
                }
                let live = live_rules(sc, group_id).await?;
                Ok(if desired.iter().all(|r| live.contains(r)) { vec![group_id.to_string()] } else { Vec::new() })
            })
            .create(move |_token| async move {
                // Authorize what is still missing (InvalidPermission.Duplicate fails the whole
                // call: a lost answer's rules are already there and must not be re-sent).
                let live = if !created_once.swap(true, Ordering::SeqCst) {
                    known_rules.clone()
                } else {
                    live_rules(sc, group_id).await?
                };
                let todo: Vec<IngressRule> = desired.iter().filter(|r| !live.contains(r)).cloned().collect();
                if !todo.is_empty() {
                    // A just-created group may not be visible yet (a definite rejection).
                    until_accepted(|| sc.ec2.authorize_ingress(group_id.to_string(), todo.clone()), AwsError::is_not_found).await?;
                }
                Ok(group_id.to_string())
            })
            .id(|g: &String| g.clone())
            .run()
            .await?;
    }
    Ok(group.id)
}

/// The IPv4 ingress rules of group `group_id` (fresh read).
async fn live_rules(sc: &Scope<'_>, group_id: &str) -> Result<Vec<IngressRule>, AwsError> {
    let groups = retry(|| sc.ec2.describe_security_groups(filters(&[("group-id", group_id)]))).await?;
    Ok(groups.into_iter().find(|g| g.id == group_id).map(|g| g.ingress).unwrap_or_default())
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
