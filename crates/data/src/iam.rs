//! IAM roles used by the data components: the S3 replication role (`s3.rs`) and the AWS
//! Backup role (`backup.rs`). The client trait, `delete_role` and `trust_policy` are shared
//! with `tandem-compute` and live in [`tandem_core::iam`]; they are re-exported here.
//!
//! [`ensure_role`] (in `tandem_core::iam`, shared with `tandem-compute`) follows the core's
//! resource protocol: the role is ensured with `Rule::Name` (its name is unique;
//! "EntityAlreadyExists" means: look it up and adopt it when it is this stack's), then its
//! trust policy and policies are reconciled with one journaled `Ctx::update` (trust replaced
//! when it differs, inline policies re-put when their document differs and deleted when
//! not wanted, managed policies attached/detached; nothing journaled when nothing differs).

#[cfg(any(test, feature = "mocks"))]
pub use tandem_core::iam::MockIamApi;
pub use tandem_core::iam::{delete_role, ensure_role, is_stack_role, scoped_trust_policy, trust_policy, IamApi, RoleSpec};

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tandem_core::{AwsError, Ctx, Key};
    use tandem_core::state::{Op, ResourceStatus};

    const KEY: Key = Key::new("role");
    const ARN: &str = "arn:aws:iam::123:role/s3-replication-t";

    fn spec() -> RoleSpec {
        RoleSpec {
            name: "s3-replication-t".into(),
            trust_policy: scoped_trust_policy("s3.amazonaws.com", Some("123456789012"), Some("arn:aws:s3:::bucket-primary-t-123456789012")),
            inline: vec![("replication".into(), r#"{"Version":"2012-10-17","Statement":[]}"#.into())],
            managed: vec!["arn:aws:iam::aws:policy/Managed".into()],
            tags: vec![("tandem:stack".into(), "t".into())],
        }
    }

    fn ctx() -> Ctx {
        Ctx::standalone("bucket-primary", "us-east-1")
    }

    fn healthy_policies(iam: &mut MockIamApi) {
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(spec().trust_policy)));
        iam.expect_list_role_policies().returning(|_| Ok(vec!["replication".into()]));
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
        iam.expect_get_role_trust_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(spec().trust_policy)));
        iam.expect_get_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
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

    #[tokio::test]
    async fn an_adopted_role_loses_its_foreign_trust_and_extra_policies() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(Some(ARN.into())));
        // Someone else's trust (any account's S3 may assume it), a policy we never wrote, a
        // managed policy we never attached.
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(trust_policy("s3.amazonaws.com"))));
        iam.expect_get_role_policy().returning(|_, _| Ok(Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into())));
        iam.expect_list_role_policies().returning(|_| Ok(vec!["replication".into(), "admin".into()]));
        iam.expect_list_attached_role_policies()
            .returning(|_| Ok(vec!["arn:aws:iam::aws:policy/Managed".into(), "arn:aws:iam::aws:policy/AdministratorAccess".into()]));
        let mut seq = Sequence::new();
        iam.expect_update_assume_role_policy()
            .withf(|n, d| n == "s3-replication-t" && d.contains("aws:SourceAccount") && d.contains("aws:SourceArn"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        iam.expect_delete_role_policy().with(eq("s3-replication-t"), eq("admin")).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        iam.expect_detach_role_policy()
            .with(eq("s3-replication-t"), eq("arn:aws:iam::aws:policy/AdministratorAccess"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let ctx = ctx();
        assert_eq!(ensure_role(&ctx, &iam, &KEY, &spec()).await.unwrap(), ARN);
        assert_eq!(ctx.entry(&KEY).await.unwrap().op, Op::Update, "the reconcile is journaled");
    }

    #[test]
    fn scoped_trust_names_the_account_and_the_source() {
        let t: serde_json::Value = serde_json::from_str(&spec().trust_policy).unwrap();
        let st = &t["Statement"][0];
        assert_eq!(st["Principal"]["Service"], "s3.amazonaws.com");
        assert_eq!(st["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert_eq!(st["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws:s3:::bucket-primary-t-123456789012");
        let unscoped: serde_json::Value = serde_json::from_str(&scoped_trust_policy("backup.amazonaws.com", None, None)).unwrap();
        assert!(unscoped["Statement"][0].get("Condition").is_none());
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
