//! IAM roles used by the data components: the S3 replication role (`s3.rs`) and the AWS
//! Backup role (`backup.rs`). IAM is global; calls go to the primary region's endpoint.
//!
//! [`ensure_role`] is idempotent: it reads the role first and only creates what is missing
//! (inline policies are re-put only when their document differs, managed policies attached
//! only when not attached). [`delete_role`] removes inline and attached policies before the
//! role itself, as IAM requires, and treats a missing role as already deleted.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use tandem_core::aws::{ignore_not_found, retry, retry_if};
use tandem_core::AwsError;

/// The IAM calls the data components make. Implemented for [`aws_sdk_iam::Client`];
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
    async fn attach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError>;
    async fn detach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError>;
    async fn delete_role(&self, name: &str) -> Result<(), AwsError>;
}

#[async_trait]
impl IamApi for aws_sdk_iam::Client {
    async fn get_role(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role().map(|r| r.arn().to_string())),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
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
        match self.get_role_policy().role_name(role).policy_name(policy_name).send().await {
            Ok(out) => Ok(Some(url_decode(out.policy_document()))),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
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
}

/// IAM returns policy documents URL-encoded (RFC 3986).
fn url_decode(s: &str) -> String {
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

/// A role as the data components want it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub name: String,
    /// Trust policy JSON.
    pub trust_policy: String,
    /// Inline policies: (policy name, document JSON).
    pub inline: Vec<(String, String)>,
    /// Managed policy ARNs to attach.
    pub managed: Vec<String>,
    pub tags: Vec<(String, String)>,
}

/// Trust policy JSON for one AWS service principal (e.g. `s3.amazonaws.com`).
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

/// Outcome of [`ensure_role`].
#[derive(Debug, Clone, PartialEq)]
pub struct EnsuredRole {
    pub arn: String,
    /// True when any mutating call was made (role created, policy put or attached).
    pub changed: bool,
}

/// Makes the role match `spec`, creating only what is missing. Mutations are retried on
/// throttling; callers journal around this call (`ctx.pending`/`ctx.done`).
pub async fn ensure_role(iam: &dyn IamApi, spec: &RoleSpec) -> Result<EnsuredRole, AwsError> {
    let mut changed = false;
    let arn = match retry(|| iam.get_role(&spec.name)).await? {
        Some(arn) => arn,
        None => {
            changed = true;
            retry(|| iam.create_role(&spec.name, &spec.trust_policy, spec.tags.clone())).await?
        }
    };
    for (policy_name, document) in &spec.inline {
        let current = retry(|| iam.get_role_policy(&spec.name, policy_name)).await?;
        let same = current
            .as_deref()
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            .zip(serde_json::from_str::<serde_json::Value>(document).ok())
            .map(|(a, b)| a == b)
            .unwrap_or(false);
        if !same {
            changed = true;
            // A freshly created role can take a moment to be visible to PutRolePolicy.
            retry_if(|| iam.put_role_policy(&spec.name, policy_name, document), |e| e.is_not_found()).await?;
        }
    }
    if !spec.managed.is_empty() {
        let attached = retry(|| iam.list_attached_role_policies(&spec.name)).await?;
        for policy_arn in &spec.managed {
            if !attached.contains(policy_arn) {
                changed = true;
                retry_if(|| iam.attach_role_policy(&spec.name, policy_arn), |e| e.is_not_found()).await?;
            }
        }
    }
    Ok(EnsuredRole { arn, changed })
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
    use mockall::predicate::eq;
    use mockall::Sequence;

    fn spec() -> RoleSpec {
        RoleSpec {
            name: "s3-replication-t".into(),
            trust_policy: trust_policy("s3.amazonaws.com"),
            inline: vec![("replication".into(), r#"{"Version":"2012-10-17","Statement":[]}"#.into())],
            managed: vec!["arn:aws:iam::aws:policy/Managed".into()],
            tags: vec![("tandem:stack".into(), "t".into())],
        }
    }

    #[tokio::test]
    async fn creates_missing_role_then_policies_in_order() {
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        iam.expect_get_role().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        iam.expect_create_role()
            .withf(|n, t, _| n == "s3-replication-t" && t.contains("s3.amazonaws.com"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok("arn:aws:iam::123:role/s3-replication-t".into()));
        iam.expect_get_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        iam.expect_put_role_policy().times(1).in_sequence(&mut seq).returning(|_, _, _| Ok(()));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_attach_role_policy()
            .with(eq("s3-replication-t"), eq("arn:aws:iam::aws:policy/Managed"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let r = ensure_role(&iam, &spec()).await.unwrap();
        assert!(r.changed);
        assert_eq!(r.arn, "arn:aws:iam::123:role/s3-replication-t");
    }

    #[tokio::test]
    async fn existing_role_with_same_policies_makes_no_mutation() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(Some("arn:aws:iam::123:role/s3-replication-t".into())));
        // Same JSON, different whitespace: still equal.
        iam.expect_get_role_policy()
            .returning(|_, _| Ok(Some(r#"{ "Version": "2012-10-17", "Statement": [] }"#.into())));
        iam.expect_list_attached_role_policies()
            .returning(|_| Ok(vec!["arn:aws:iam::aws:policy/Managed".into()]));
        // No expectation for create/put/attach: any such call fails the test.
        let r = ensure_role(&iam, &spec()).await.unwrap();
        assert!(!r.changed);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_create_is_retried() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(None));
        let mut calls = 0;
        iam.expect_create_role().times(2).returning(move |_, _, _| {
            calls += 1;
            if calls == 1 {
                Err(AwsError::throttling())
            } else {
                Ok("arn".into())
            }
        });
        iam.expect_get_role_policy().returning(|_, _| Ok(None));
        iam.expect_put_role_policy().returning(|_, _, _| Ok(()));
        iam.expect_list_attached_role_policies().returning(|_| Ok(vec![]));
        iam.expect_attach_role_policy().returning(|_, _| Ok(()));
        assert_eq!(ensure_role(&iam, &spec()).await.unwrap().arn, "arn");
    }

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
