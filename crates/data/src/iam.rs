//! IAM roles used by the data components: the S3 replication role (`s3.rs`) and the AWS
//! Backup role (`backup.rs`). The client trait, `delete_role` and `trust_policy` are shared
//! with `tandem-compute` and live in [`tandem_core::iam`]; they are re-exported here.
//!
//! [`ensure_role`] is idempotent: it reads the role first and only creates what is missing
//! (inline policies are re-put only when their document differs, managed policies attached
//! only when not attached).

use tandem_core::aws::{retry, retry_if};
use tandem_core::AwsError;

#[cfg(any(test, feature = "mocks"))]
pub use tandem_core::iam::MockIamApi;
pub use tandem_core::iam::{delete_role, trust_policy, IamApi};

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
}
