//! Helpers shared by the network components: tag matching, the wait for definite
//! rejections to clear, and the ENI wait used before tearing down subnets.

use std::time::Duration;

use tandem_core::aws::{backoff_delay, poll_until, Poll, RetryPolicy};
use tandem_core::{AwsError, ComponentError, Ctx};

use crate::ec2_api::{Ec2Api, Filters, Tags};

/// Port of the database engine (aurora-postgresql).
pub const DB_PORT: i32 = 5432;
/// Port of the load balancers' listeners.
pub const HTTPS_PORT: i32 = 443;

/// Value of tag `key`.
pub fn tag<'a>(tags: &'a Tags, key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// True when the tags carry `Name=name` and `tandem:stack=suffix`.
pub fn is_ours(tags: &Tags, name: &str, suffix: &str) -> bool {
    tag(tags, "Name") == Some(name) && tag(tags, tandem_core::naming::STACK_TAG) == Some(suffix)
}

/// Filters on the standard tags of a resource.
pub fn tag_filters(name: &str, suffix: &str) -> Filters {
    vec![
        ("tag:Name".to_string(), name.to_string()),
        (
            format!("tag:{}", tandem_core::naming::STACK_TAG),
            suffix.to_string(),
        ),
    ]
}

/// Waits until no network interface matches `filters` (ENIs of deleted load balancers,
/// Lambda, Aurora, Global Accelerator linger for minutes and block subnet/SG/VPC deletion).
pub async fn wait_enis_gone(
    ec2: &dyn Ec2Api,
    resource: &str,
    region: &str,
    filters: Filters,
    timeout: Duration,
) -> Result<(), ComponentError> {
    poll_until(
        resource,
        region,
        "network interfaces to be released",
        timeout,
        || {
            let f = filters.clone();
            async move {
                let enis = ec2.describe_network_interfaces(f).await?;
                if enis.is_empty() {
                    Ok(Poll::Ready(()))
                } else {
                    let list: Vec<String> = enis
                        .iter()
                        .map(|e| format!("{} ({}, {})", e.id, e.description, e.status))
                        .collect();
                    Ok(Poll::Pending(format!(
                        "{} left: {}",
                        enis.len(),
                        list.join("; ")
                    )))
                }
            }
        },
    )
    .await
}

/// Calls `f` again while it fails with an error `again` accepts, at most `UNTIL_ATTEMPTS`
/// times with backoff. Only for *definite* rejections (the call did not act): NotFound of a
/// resource that is not visible yet, AccessDenied while a permission propagates. Every other
/// error (transient, ambiguous) is returned at once, so a create is never re-sent blindly:
/// the core's protocol decides.
pub async fn until_accepted<T, F, Fut>(
    mut f: F,
    again: impl Fn(&AwsError) -> bool,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let policy = RetryPolicy::default();
    let mut attempt = 0;
    loop {
        match f().await {
            Err(e) if again(&e) && !e.is_ambiguous() && attempt + 1 < policy.max_attempts => {
                tokio::time::sleep(backoff_delay(&policy, attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Everything a network helper needs: client, context, region, naming.
pub(crate) struct Scope<'a> {
    pub ec2: &'a dyn Ec2Api,
    pub ctx: &'a Ctx,
    pub region: &'a str,
    pub suffix: &'a str,
    pub placement: tandem_core::Placement,
}

impl Scope<'_> {
    pub fn name(&self, kind: &str) -> String {
        tandem_core::naming::name(kind, self.placement, self.suffix)
    }

    pub fn tags(&self, name: &str) -> Tags {
        tandem_core::naming::tags(self.suffix, name)
    }
}
