//! Subnets: the VPC CIDR is carved into `/(prefix+4)` blocks, the first `az_count` public
//! (one per AZ), the next `az_count` private. Public subnets do not auto-assign public IPs:
//! only the internet-facing NLB lives there, and it gets its own addresses.

use std::str::FromStr;

use ipnet::Ipv4Net;
use tandem_core::aws::{ignore_not_found, retry, retry_if};
use tandem_core::{AwsError, AwsResultExt, ComponentError, Key, Rule};

use crate::common::{is_ours, until_accepted, Scope};

/// Journal key families `subnet-public-<i>`, `subnet-private-<i>`.
const SUBNET_PUBLIC: Key = Key::new("subnet-public");
const SUBNET_PRIVATE: Key = Key::new("subnet-private");
use crate::ec2_api::{filters, SubnetInfo};

/// The public and private subnet CIDRs of a VPC: `/(prefix+4)` blocks in order.
pub fn carve(cidr: &str, az_count: usize) -> Result<(Vec<String>, Vec<String>), String> {
    let net = Ipv4Net::from_str(cidr).map_err(|e| format!("{cidr:?} is not an IPv4 CIDR: {e}"))?;
    let new_prefix = net.prefix_len() + 4;
    if new_prefix > 28 {
        return Err(format!(
            "{cidr} is too small: subnets would be /{new_prefix}, AWS allows /28 at most"
        ));
    }
    let blocks: Vec<String> = net
        .subnets(new_prefix)
        .map_err(|e| format!("cannot carve {cidr} into /{new_prefix}: {e}"))?
        .take(2 * az_count)
        .map(|n| n.to_string())
        .collect();
    if blocks.len() < 2 * az_count {
        return Err(format!(
            "{cidr} holds {} /{new_prefix} blocks, {} are needed",
            blocks.len(),
            2 * az_count
        ));
    }
    let private = blocks[az_count..].to_vec();
    let public = blocks[..az_count].to_vec();
    Ok((public, private))
}

/// Name of the subnet of `tier` (`public`/`private`) in `az`.
pub(crate) fn subnet_name(sc: &Scope<'_>, tier: &str, az: &str) -> String {
    sc.name(&format!("subnet-{tier}-{az}"))
}

/// Ensures the public and private subnets; returns them in AZ order.
pub(crate) async fn ensure_subnets(
    sc: &Scope<'_>,
    vpc_id: &str,
    azs: &[String],
    cidr: &str,
) -> Result<(Vec<SubnetInfo>, Vec<SubnetInfo>), ComponentError> {
    let vpc_name = sc.name("vpc");
    let (public_cidrs, private_cidrs) =
        carve(cidr, azs.len()).map_err(|m| ComponentError::invalid(&vpc_name, sc.region, m))?;
    let existing = retry(|| sc.ec2.describe_subnets(filters(&[("vpc-id", vpc_id)])))
        .await
        .at(&vpc_name, sc.region)?;
    let mut public = Vec::new();
    let mut private = Vec::new();
    for (i, az) in azs.iter().enumerate() {
        public.push(
            ensure_subnet(
                sc,
                &existing,
                &SUBNET_PUBLIC.child(i),
                &subnet_name(sc, "public", az),
                vpc_id,
                &public_cidrs[i],
                az,
            )
            .await?,
        );
    }
    for (i, az) in azs.iter().enumerate() {
        private.push(
            ensure_subnet(
                sc,
                &existing,
                &SUBNET_PRIVATE.child(i),
                &subnet_name(sc, "private", az),
                vpc_id,
                &private_cidrs[i],
                az,
            )
            .await?,
        );
    }
    Ok((public, private))
}

/// This stack's copies of one subnet in `subnets`: tagged with its name, the recorded one,
/// or the one with its exact CIDR in our VPC (CIDRs cannot overlap: it can only be ours).
fn ours(subnets: &[SubnetInfo], recorded: Option<&str>, name: &str, suffix: &str, cidr: &str) -> Vec<SubnetInfo> {
    let mut found: Vec<SubnetInfo> = subnets
        .iter()
        .filter(|s| recorded == Some(s.id.as_str()) || is_ours(&s.tags, name, suffix) || s.cidr == cidr)
        .cloned()
        .collect();
    found.dedup_by(|a, b| a.id == b.id);
    found
}

async fn ensure_subnet(
    sc: &Scope<'_>,
    existing: &[SubnetInfo],
    key: &Key,
    name: &str,
    vpc_id: &str,
    cidr: &str,
    az: &str,
) -> Result<SubnetInfo, ComponentError> {
    // The first lookup reads the list just described; later ones (after an ambiguous
    // create) describe again.
    let mut snapshot = Some(existing.to_vec());
    let s = sc
        .ctx
        .ensure::<SubnetInfo>(key, name, Rule::Tag)
        .find(move |recorded| {
            let first = snapshot.take();
            async move {
                let all = match first {
                    Some(list) => list,
                    None => retry(|| sc.ec2.describe_subnets(filters(&[("vpc-id", vpc_id)]))).await?,
                };
                Ok(ours(&all, recorded.as_deref(), name, sc.suffix, cidr))
            }
        })
        .create(|_token| {
            tracing::info!(subnet = name, cidr, az, region = sc.region, "creating subnet");
            // A just-created VPC may not be visible yet (a definite rejection).
            until_accepted(
                || sc.ec2.create_subnet(vpc_id.to_string(), cidr.to_string(), az.to_string(), sc.tags(name)),
                AwsError::is_not_found,
            )
        })
        .discard(|id| async move { ignore_not_found(sc.ec2.delete_subnet(id).await) })
        .id(|s: &SubnetInfo| s.id.clone())
        .run()
        .await?;
    if s.cidr != cidr || s.az != az {
        return Err(ComponentError::invalid(
            name,
            sc.region,
            format!("existing subnet {} is {} in {}, expected {cidr} in {az}; destroy and re-apply to re-create it", s.id, s.cidr, s.az),
        ));
    }
    Ok(s)
}

/// Deletes every subnet of the VPC (retrying DependencyViolation while ENIs are released).
pub(crate) async fn delete_subnets(sc: &Scope<'_>, vpc_id: &str) -> Result<(), ComponentError> {
    let vpc_name = sc.name("vpc");
    let subnets = retry(|| sc.ec2.describe_subnets(filters(&[("vpc-id", vpc_id)])))
        .await
        .at(&vpc_name, sc.region)?;
    for s in subnets {
        let label = crate::common::tag(&s.tags, "Name")
            .unwrap_or(&s.id)
            .to_string();
        retry_if(
            || async { ignore_not_found(sc.ec2.delete_subnet(s.id.clone()).await) },
            |e| e.is_code("DependencyViolation"),
        )
        .await
        .at(&label, sc.region)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carves_public_then_private_blocks() {
        let (public, private) = carve("10.10.0.0/16", 2).unwrap();
        assert_eq!(public, vec!["10.10.0.0/20", "10.10.16.0/20"]);
        assert_eq!(private, vec!["10.10.32.0/20", "10.10.48.0/20"]);
        let (public, private) = carve("10.20.0.0/24", 3).unwrap();
        assert_eq!(
            public,
            vec!["10.20.0.0/28", "10.20.0.16/28", "10.20.0.32/28"]
        );
        assert_eq!(
            private,
            vec!["10.20.0.48/28", "10.20.0.64/28", "10.20.0.80/28"]
        );
    }

    #[test]
    fn rejects_what_cannot_be_carved() {
        assert!(carve("10.0.0.0/25", 2).unwrap_err().contains("too small"));
        assert!(carve("nonsense", 2).is_err());
        // 6 AZs need 12 of the 16 blocks: fine; 9 would not fit.
        assert!(carve("10.0.0.0/16", 6).is_ok());
        assert!(carve("10.0.0.0/16", 9).is_err());
    }
}
