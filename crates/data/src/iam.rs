//! IAM roles used by the data components: the S3 replication role (`s3.rs`) and the AWS
//! Backup role (`backup.rs`). The client trait, `delete_role` and `trust_policy` are shared
//! with `tandem-compute` and live in [`tandem_core::iam`]; they are re-exported here.
//!
//! [`ensure_role`] follows the core's resource protocol: the role is ensured with
//! [`Rule::Name`] (its name is unique; "EntityAlreadyExists" means: look it up and adopt it
//! when it is this stack's), then its policies are brought in line with one journaled
//! [`Ctx::update`] (inline policies re-put only when their document differs, managed
//! policies attached only when not attached; nothing journaled when nothing differs).

use tandem_core::aws::{retry, retry_if};
use tandem_core::iam::same_json;
use tandem_core::{AwsError, AwsResultExt, ComponentError, Ctx, Key, Rule};

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

/// True when `arn` is the ARN of the role `name` as this stack creates it: the default path
/// `/` (`...:role/<name>`). The name carries the stack's suffix; a role of that name under
/// another path is someone else's. (The client trait reads no role tags.)
pub fn is_stack_role(arn: &str, name: &str) -> bool {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.rsplit_once(":role/"))
        .is_some_and(|(_, path_and_name)| path_and_name == name)
}

/// Makes the role match `spec`, journaled under `key`: the role itself through
/// [`Ctx::ensure`] with [`Rule::Name`], its policies through [`Ctx::update`] (only when
/// something differs). Returns the role's ARN.
pub async fn ensure_role(ctx: &Ctx, iam: &dyn IamApi, key: &Key, spec: &RoleSpec) -> Result<String, ComponentError> {
    let name = spec.name.as_str();
    let region = ctx.region().to_string();
    let arn = ctx
        .ensure::<String>(key, name, Rule::Name)
        .find_one(move |_recorded| async move {
            Ok(iam.get_role(name).await?.filter(|arn| is_stack_role(arn, name)))
        })
        .create(move |_token| async move { iam.create_role(name, &spec.trust_policy, spec.tags.clone()).await })
        .id(|arn| arn.clone())
        .run()
        .await?;

    let mut stale_inline = Vec::new();
    for (policy_name, document) in &spec.inline {
        let current = retry(|| iam.get_role_policy(name, policy_name)).await.at(name, &region)?;
        if !current.as_deref().is_some_and(|c| same_json(c, document)) {
            stale_inline.push((policy_name.as_str(), document.as_str()));
        }
    }
    let mut missing_managed = Vec::new();
    if !spec.managed.is_empty() {
        let attached = retry(|| iam.list_attached_role_policies(name)).await.at(name, &region)?;
        missing_managed.extend(spec.managed.iter().filter(|p| !attached.contains(p)).map(String::as_str));
    }
    if !stale_inline.is_empty() || !missing_managed.is_empty() {
        ctx.update(key, || async {
            for (policy_name, document) in &stale_inline {
                // A freshly created role can take a moment to be visible to PutRolePolicy.
                retry_if(|| iam.put_role_policy(name, policy_name, document), AwsError::is_not_found)
                    .await
                    .at(name, &region)?;
            }
            for policy_arn in &missing_managed {
                retry_if(|| iam.attach_role_policy(name, policy_arn), AwsError::is_not_found).await.at(name, &region)?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tandem_core::state::{Op, ResourceStatus};

    const KEY: Key = Key::new("role");
    const ARN: &str = "arn:aws:iam::123:role/s3-replication-t";

    fn spec() -> RoleSpec {
        RoleSpec {
            name: "s3-replication-t".into(),
            trust_policy: trust_policy("s3.amazonaws.com"),
            inline: vec![("replication".into(), r#"{"Version":"2012-10-17","Statement":[]}"#.into())],
            managed: vec!["arn:aws:iam::aws:policy/Managed".into()],
            tags: vec![("tandem:stack".into(), "t".into())],
        }
    }

    fn ctx() -> Ctx {
        Ctx::standalone("bucket-primary", "us-east-1")
    }

    fn healthy_policies(iam: &mut MockIamApi) {
        iam.expect_get_role_policy().returning(|_, _| Ok(Some(r#"{ "Version": "2012-10-17", "Statement": [] }"#.into())));
        iam.expect_list_attached_role_policies().returning(|_| Ok(vec!["arn:aws:iam::aws:policy/Managed".into()]));
    }

    #[test]
    fn stack_roles_are_recognised_by_path_and_name() {
        assert!(is_stack_role(ARN, "s3-replication-t"));
        assert!(!is_stack_role("arn:aws:iam::123:role/other/s3-replication-t", "s3-replication-t"));
        assert!(!is_stack_role("arn:aws:iam::123:role/s3-replication-tx", "s3-replication-t"));
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
            .returning(|_, _, _| Ok(ARN.into()));
        iam.expect_get_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_put_role_policy().times(1).in_sequence(&mut seq).returning(|_, _, _| Ok(()));
        iam.expect_attach_role_policy()
            .with(eq("s3-replication-t"), eq("arn:aws:iam::aws:policy/Managed"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let ctx = ctx();
        assert_eq!(ensure_role(&ctx, &iam, &KEY, &spec()).await.unwrap(), ARN);
        let e = ctx.entry(&KEY).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status, e.op), (Some(ARN), ResourceStatus::Done, Op::Update));
    }

    #[tokio::test]
    async fn existing_role_with_same_policies_makes_no_mutation() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(Some(ARN.into())));
        healthy_policies(&mut iam);
        // No expectation for create/put/attach: any such call fails the test.
        let ctx = ctx();
        assert_eq!(ensure_role(&ctx, &iam, &KEY, &spec()).await.unwrap(), ARN);
        let e = ctx.entry(&KEY).await.unwrap();
        assert_eq!((e.id.as_deref(), e.op), (Some(ARN), Op::Adopt));
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_create_is_looked_up_then_sent_again() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().times(2).returning(|_| Ok(None));
        let mut calls = 0;
        iam.expect_create_role().times(2).returning(move |_, _, _| {
            calls += 1;
            if calls == 1 {
                Err(AwsError::throttling())
            } else {
                Ok(ARN.into())
            }
        });
        healthy_policies(&mut iam);
        assert_eq!(ensure_role(&ctx(), &iam, &KEY, &spec()).await.unwrap(), ARN);
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answer_adopts_the_role_without_a_second_create() {
        let created = Arc::new(AtomicBool::new(false));
        let mut iam = MockIamApi::new();
        let seen = created.clone();
        iam.expect_get_role().returning(move |_| Ok(seen.load(Ordering::SeqCst).then(|| ARN.to_string())));
        let acted = created.clone();
        iam.expect_create_role().times(1).returning(move |_, _, _| {
            acted.store(true, Ordering::SeqCst);
            Err(AwsError::new("InternalError", "x", Some(500)))
        });
        healthy_policies(&mut iam);
        let ctx = ctx();
        assert_eq!(ensure_role(&ctx, &iam, &KEY, &spec()).await.unwrap(), ARN);
        let e = ctx.entry(&KEY).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status), (Some(ARN), ResourceStatus::Done));
    }

    #[tokio::test(start_paused = true)]
    async fn a_role_of_that_name_under_another_path_is_not_adopted() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(Some("arn:aws:iam::123:role/other/s3-replication-t".into())));
        iam.expect_create_role()
            .returning(|_, _, _| Err(AwsError::new("EntityAlreadyExists", "Role with name s3-replication-t already exists.", Some(409))));
        let ctx = ctx();
        let err = ensure_role(&ctx, &iam, &KEY, &spec()).await.unwrap_err().to_string();
        assert!(err.contains("not this stack's"), "{err}");
        assert_ne!(ctx.entry(&KEY).await.map(|e| e.status), Some(ResourceStatus::Done));
    }
}
