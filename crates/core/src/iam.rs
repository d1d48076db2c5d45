//! IAM roles, shared by the components that own one (S3 replication and Backup roles in
//! `tandem-data`, Lambda execution and event-replication roles in `tandem-compute`). IAM is
//! global; callers build the client for the primary region's endpoint.
//!
//! [`IamApi`] is the client trait (implemented for [`aws_sdk_iam::Client`], mocked with
//! `MockIamApi` behind the `mocks` feature). [`delete_role`] removes inline and attached
//! policies before the role itself, as IAM requires, and treats a missing role as already
//! deleted. Creation helpers live with their components: each journals differently.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use crate::aws::{ignore_not_found, none_if_not_found, retry, retry_if};
use crate::AwsError;

/// The IAM calls Tandem's components make. Implemented for [`aws_sdk_iam::Client`];
/// mocked with `MockIamApi` (feature `mocks`).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IamApi: Send + Sync {
    /// The role's ARN, or `None` when it does not exist.
    async fn get_role(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// Creates the role; returns its ARN.
    async fn create_role(&self, name: &str, trust_policy: &str, tags: Vec<(String, String)>) -> Result<String, AwsError>;
    /// The inline policy document (URL-decoded JSON), or `None` when absent.
    async fn get_role_policy(&self, role: &str, policy_name: &str) -> Result<Option<String>, AwsError>;
    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<(), AwsError>;
    async fn list_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError>;
    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), AwsError>;
    async fn list_attached_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError>;
    /// The role's trust policy (URL-decoded JSON), or `None` when the role does not exist.
    async fn get_role_trust_policy(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// Replaces the role's trust policy.
    async fn update_assume_role_policy(&self, name: &str, document: &str) -> Result<(), AwsError>;
    async fn attach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError>;
    async fn detach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError>;
    async fn delete_role(&self, name: &str) -> Result<(), AwsError>;
}

#[async_trait]
impl IamApi for aws_sdk_iam::Client {
    async fn get_role(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.get_role().role_name(name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|out| out.role().map(|r| r.arn().to_string())))
    }

    async fn create_role(&self, name: &str, trust_policy: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        let tags: Vec<Tag> = tags
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let out = self
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.role()
            .map(|r| r.arn().to_string())
            .ok_or_else(|| AwsError::other("MissingRole", "CreateRole returned no role"))
    }

    async fn get_role_policy(&self, role: &str, policy_name: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.get_role_policy().role_name(role).policy_name(policy_name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.map(|out| url_decode(out.policy_document())))
    }

    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<(), AwsError> {
        self.put_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError> {
        let out = self.list_role_policies().role_name(role).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.policy_names().to_vec())
    }

    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), AwsError> {
        self.delete_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_attached_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(out.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect())
    }

    async fn attach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.attach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn detach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.detach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        self.delete_role().role_name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_role_trust_policy(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.get_role().role_name(name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|out| out.role().and_then(|r| r.assume_role_policy_document().map(url_decode))))
    }

    async fn update_assume_role_policy(&self, name: &str, document: &str) -> Result<(), AwsError> {
        self.update_assume_role_policy().role_name(name).policy_document(document).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986).
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(()) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Trust policy JSON for one AWS service principal, scoped against the confused deputy
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html): the service may
/// assume the role only on behalf of `account` (`aws:SourceAccount`) and, when given, of
/// the resource `source_arn` (`aws:SourceArn`). `account` None (not known yet: unit tests,
/// a plan without credentials) gives the unscoped policy.
pub fn scoped_trust_policy(service: &str, account: Option<&str>, source_arn: Option<&str>) -> String {
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole"
    });
    if let Some(account) = account {
        let mut condition = serde_json::json!({ "StringEquals": { "aws:SourceAccount": account } });
        if let Some(arn) = source_arn {
            condition["ArnLike"] = serde_json::json!({ "aws:SourceArn": arn });
        }
        statement["Condition"] = condition;
    }
    serde_json::json!({ "Version": "2012-10-17", "Statement": [statement] }).to_string()
}

/// A role as a component wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub name: String,
    /// Trust policy JSON.
    pub trust_policy: String,
    /// Inline policies: (policy name, document JSON). Any other inline policy is removed.
    pub inline: Vec<(String, String)>,
    /// Managed policy ARNs to attach. Any other attached policy is detached.
    pub managed: Vec<String>,
    pub tags: Vec<(String, String)>,
}

/// True when `arn` is the ARN of the role `name` as this stack creates it: the default path
/// `/` (`...:role/<name>`). The name carries the stack's suffix; a role of that name under
/// another path is someone else's. (The client trait reads no role tags.)
pub fn is_stack_role(arn: &str, name: &str) -> bool {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.rsplit_once(":role/"))
        .is_some_and(|(_, path_and_name)| path_and_name == name)
}

/// What differs between a live role and its [`RoleSpec`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleChanges {
    pub trust: bool,
    pub put_inline: Vec<(String, String)>,
    pub delete_inline: Vec<String>,
    pub attach: Vec<String>,
    pub detach: Vec<String>,
}

impl RoleChanges {
    pub fn is_empty(&self) -> bool {
        *self == RoleChanges::default()
    }
}

/// Makes the role match `spec`, journaled under `key`: the role itself through
/// [`Ctx::ensure`](crate::Ctx::ensure) with [`Rule::Name`](crate::Rule::Name) (a role of
/// that name left by a lost answer is adopted), then everything about it reconciled in one
/// [`Ctx::update`](crate::Ctx::update), only when something differs: the trust policy
/// (an adopted role keeps no foreign trust), inline policies put when their document
/// differs and deleted when not in `spec`, managed policies attached when missing and
/// detached when not in `spec`. Returns the role's ARN.
pub async fn ensure_role(ctx: &crate::Ctx, iam: &dyn IamApi, key: &crate::Key, spec: &RoleSpec) -> Result<String, crate::ComponentError> {
    let name = spec.name.as_str();
    let arn = ctx
        .ensure::<String>(key, name, crate::Rule::Name)
        .find_one(move |_recorded| async move { Ok(iam.get_role(name).await?.filter(|arn| is_stack_role(arn, name))) })
        .create(move |_token| async move { iam.create_role(name, &spec.trust_policy, spec.tags.clone()).await })
        .id(|arn| arn.clone())
        .run()
        .await?;
    reconcile_role(ctx, iam, key, spec).await?;
    Ok(arn)
}

/// The reconcile half of [`ensure_role`], for a role that exists: whatever differs from
/// `spec` (trust, inline and managed policies) is put right in one journaled
/// [`Ctx::update`](crate::Ctx::update) of `key`; nothing is journaled when nothing differs.
/// Returns true when something was changed.
pub async fn reconcile_role(ctx: &crate::Ctx, iam: &dyn IamApi, key: &crate::Key, spec: &RoleSpec) -> Result<bool, crate::ComponentError> {
    use crate::AwsResultExt;
    let name = spec.name.as_str();
    let region = ctx.region().to_string();
    let changes = role_changes(iam, spec).await.at(name, &region)?;
    if changes.is_empty() {
        return Ok(false);
    }
    tracing::info!(role = name, ?changes, "reconciling role");
    ctx.update(key, || async {
        // A freshly created role can take a moment to be visible to the calls below.
        if changes.trust {
            retry_if(|| iam.update_assume_role_policy(name, &spec.trust_policy), AwsError::is_not_found).await.at(name, &region)?;
        }
        for (policy_name, document) in &changes.put_inline {
            retry_if(|| iam.put_role_policy(name, policy_name, document), AwsError::is_not_found).await.at(name, &region)?;
        }
        for policy_name in &changes.delete_inline {
            ignore_not_found(retry(|| iam.delete_role_policy(name, policy_name)).await).at(name, &region)?;
        }
        for policy_arn in &changes.attach {
            retry_if(|| iam.attach_role_policy(name, policy_arn), AwsError::is_not_found).await.at(name, &region)?;
        }
        for policy_arn in &changes.detach {
            ignore_not_found(retry(|| iam.detach_role_policy(name, policy_arn)).await).at(name, &region)?;
        }
        Ok(())
    })
    .await?;
    Ok(true)
}

/// Reads the role and says what differs from `spec` (see [`ensure_role`]).
pub async fn role_changes(iam: &dyn IamApi, spec: &RoleSpec) -> Result<RoleChanges, AwsError> {
    let name = spec.name.as_str();
    let mut changes = RoleChanges::default();
    let trust = retry(|| iam.get_role_trust_policy(name)).await?;
    changes.trust = !trust.as_deref().is_some_and(|t| same_json(t, &spec.trust_policy));
    for (policy_name, document) in &spec.inline {
        let current = retry(|| iam.get_role_policy(name, policy_name)).await?;
        if !current.as_deref().is_some_and(|c| same_json(c, document)) {
            changes.put_inline.push((policy_name.clone(), document.clone()));
        }
    }
    let inline = retry(|| iam.list_role_policies(name)).await?;
    changes.delete_inline = inline.into_iter().filter(|p| !spec.inline.iter().any(|(n, _)| n == p)).collect();
    let attached = retry(|| iam.list_attached_role_policies(name)).await?;
    changes.attach = spec.managed.iter().filter(|p| !attached.contains(p)).cloned().collect();
    changes.detach = attached.into_iter().filter(|p| !spec.managed.contains(p)).collect();
    Ok(changes)
}

/// Trust policy JSON for one AWS service principal (e.g. `s3.amazonaws.com`), unscoped;
/// prefer [`scoped_trust_policy`].
pub fn trust_policy(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// Deletes the role: inline policies, attached policies, then the role. A missing role (or
/// policy) counts as deleted, so a second call is a no-op.
pub async fn delete_role(iam: &dyn IamApi, name: &str) -> Result<(), AwsError> {
    let inline = match retry(|| iam.list_role_policies(name)).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for policy in &inline {
        ignore_not_found(retry(|| iam.delete_role_policy(name, policy)).await)?;
    }
    let attached = match retry(|| iam.list_attached_role_policies(name)).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for policy_arn in &attached {
        ignore_not_found(retry(|| iam.detach_role_policy(name, policy_arn)).await)?;
    }
    // DeleteConflict can linger briefly after the last detach.
    ignore_not_found(retry_if(|| iam.delete_role(name), |e| e.is_code("DeleteConflict")).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::Sequence;

    #[tokio::test]
    async fn delete_detaches_everything_before_the_role() {
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec!["p".into()]));
        iam.expect_delete_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        iam.expect_list_attached_role_policies()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec!["arn:m".into()]));
        iam.expect_detach_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        iam.expect_delete_role().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        delete_role(&iam, "r").await.unwrap();
    }

    #[tokio::test]
    async fn delete_of_missing_role_is_a_no_op() {
        let mut iam = MockIamApi::new();
        iam.expect_list_role_policies()
            .returning(|_| Err(AwsError::not_found("NoSuchEntity", "role r not found")));
        delete_role(&iam, "r").await.unwrap();
    }

    #[test]
    fn decodes_iam_documents() {
        assert_eq!(url_decode("%7B%22a%22%3A1%7D"), r#"{"a":1}"#);
        assert_eq!(url_decode("100%"), "100%");
    }
}

/// True when two JSON documents (IAM, key, bucket or topic policies) are equal as values:
/// key order and whitespace do not matter, and AWS answers them URL-decoded or re-ordered.
/// A document that does not parse is never equal to anything.
pub fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod same_json_tests {
    #[test]
    fn compares_values_not_text() {
        assert!(super::same_json(r#"{"a":1,"b":[2]}"#, r#"{ "b": [2], "a": 1 }"#));
        assert!(!super::same_json(r#"{"a":1}"#, r#"{"a":2}"#));
        assert!(!super::same_json("not json", "not json"));
    }
}
