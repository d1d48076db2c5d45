//! AWS Backup against the emulator (selections and recovery points served by its extension):
//! vaults in both regions, plan with copy to the secondary vault, IAM role, selection of the
//! Aurora cluster; apply twice, destroy, check gone, destroy again.

use std::sync::Arc;

use tandem_core::contracts::{ids, AuroraOutputs, BackupPlanOutputs, BackupVaultOutputs};
use tandem_core::{from_outputs, AwsError, Component, Config, Ctx, Drift, Placement};
use tandem_data::backup::{self, BackupApi};

fn suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("bk{:06x}", (nanos ^ std::process::id()) & 0xff_ffff)
}

fn find(components: &[Arc<dyn Component>], id: &str) -> Arc<dyn Component> {
    components
        .iter()
        .find(|c| c.id() == id)
        .cloned()
        .unwrap_or_else(|| panic!("no component {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_vaults_plan_and_selection_lifecycle() {
    crate::aurora::moto_env();
    let aws = tandem_core::testing::moto_context().await;
    let s = suffix();
    let mut cfg = Config::example(&s);
    let state_dir = tempfile::tempdir().expect("tempdir");
    cfg.state.dir = state_dir.path().to_path_buf();
    let iam = aws_sdk_iam::Client::new(&aws.config("us-east-1"));
    assert!(
        iam.get_policy().policy_arn(backup::BACKUP_POLICY_ARN).send().await.is_ok(),
        "this moto server has no AWS managed IAM policies: start it with MOTO_IAM_LOAD_MANAGED_POLICIES=true"
    );
    let comps = backup::components(&cfg, &aws);
    let vault_p = find(&comps, "backup-vault-primary");
    let vault_s = find(&comps, "backup-vault-secondary");
    let plan = find(&comps, "backup-plan");

    let aurora = AuroraOutputs {
        global_cluster_id: format!("aurora-global-{s}"),
        cluster_id: format!("aurora-primary-{s}"),
        cluster_arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-{s}"),
        writer_endpoint: "w".into(),
        reader_endpoint: "r".into(),
        instance_id: format!("aurora-primary-{s}-1"),
        port: 5432,
        password_parameter: None,
        global_writer_endpoint: "g".into(),
    };
    let ctx_vp = Ctx::standalone("backup-vault-primary", "us-east-1");
    let ctx_vs = Ctx::standalone("backup-vault-secondary", "us-east-2");
    let out_vp: BackupVaultOutputs =
        from_outputs(&vault_p.apply(&ctx_vp).await.expect("vault p")).expect("outputs");
    let out_vs: BackupVaultOutputs =
        from_outputs(&vault_s.apply(&ctx_vs).await.expect("vault s")).expect("outputs");
    assert_eq!(out_vp.vault_name, format!("vault-primary-{s}"));
    assert_eq!(out_vs.vault_name, format!("vault-secondary-{s}"));
    assert!(out_vs.vault_arn.contains(":us-east-2:"));
    let ctx_plan = Ctx::standalone("backup-plan", "us-east-1")
        .with_input(&ids::backup_vault(Placement::Primary), &out_vp)
        .with_input(&ids::backup_vault(Placement::Secondary), &out_vs)
        .with_input(&ids::aurora(Placement::Primary), &aurora);
    let out: BackupPlanOutputs =
        from_outputs(&plan.apply(&ctx_plan).await.expect("plan")).expect("outputs");
    assert!(!out.selection_id.is_empty());
    assert!(
        out.role_arn.ends_with(&format!("role/backup-{s}")),
        "{}",
        out.role_arn
    );

    // Real clients.
    let bk_p = aws_sdk_backup::Client::new(&aws.config("us-east-1"));
    let bk_s = aws_sdk_backup::Client::new(&aws.config("us-east-2"));
    bk_p.describe_backup_vault()
        .backup_vault_name(&out_vp.vault_name)
        .send()
        .await
        .expect("primary vault");
    bk_s.describe_backup_vault()
        .backup_vault_name(&out_vs.vault_name)
        .send()
        .await
        .expect("secondary vault");
    let got = bk_p
        .get_backup_plan()
        .backup_plan_id(&out.plan_id)
        .send()
        .await
        .expect("plan");
    let bp = got.backup_plan().expect("plan body");
    assert_eq!(bp.backup_plan_name(), format!("backup-plan-{s}"));
    let rule = &bp.rules()[0];
    assert_eq!(rule.schedule_expression(), Some("cron(0 5 * * ? *)"));
    assert_eq!(rule.target_backup_vault_name(), out_vp.vault_name);
    assert_eq!(
        rule.lifecycle().and_then(|l| l.delete_after_days()),
        Some(35)
    );
    assert_eq!(
        rule.copy_actions()[0].destination_backup_vault_arn(),
        out_vs.vault_arn
    );
    assert_eq!(
        rule.copy_actions()[0]
            .lifecycle()
            .and_then(|l| l.delete_after_days()),
        Some(35)
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(format!("backup-{s}"))
        .send()
        .await
        .expect("role");
    assert!(attached.attached_policies().iter().any(|p| p.policy_arn()
        == Some("arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")));
    // The selection, inventoried with the raw SDK (the emulator's extension serves it).
    let sel = bk_p
        .get_backup_selection()
        .backup_plan_id(&out.plan_id)
        .selection_id(&out.selection_id)
        .send()
        .await
        .expect("get selection");
    let body = sel.backup_selection().expect("selection body");
    assert_eq!(body.selection_name(), format!("aurora-{s}"));
    assert_eq!(body.resources(), std::slice::from_ref(&aurora.cluster_arn));
    assert_eq!(body.iam_role_arn(), out.role_arn);
    assert_eq!(plan.read(&ctx_plan).await.expect("read"), Drift::InSync);

    // Apply again: same outputs, journal untouched.
    let before = (
        ctx_vp.journal_entries().await,
        ctx_vs.journal_entries().await,
        ctx_plan.journal_entries().await,
    );
    let again: BackupPlanOutputs =
        from_outputs(&plan.apply(&ctx_plan).await.expect("plan again")).expect("outputs");
    let again_vp: BackupVaultOutputs =
        from_outputs(&vault_p.apply(&ctx_vp).await.expect("vault again")).expect("outputs");
    assert_eq!((again, again_vp), (out.clone(), out_vp.clone()));
    let after = (
        ctx_vp.journal_entries().await,
        ctx_vs.journal_entries().await,
        ctx_plan.journal_entries().await,
    );
    assert_eq!(after, before);

    // Destroy: plan (selection, plan, role), then the vaults.
    plan.destroy(&ctx_plan).await.expect("destroy plan");
    vault_s.destroy(&ctx_vs).await.expect("destroy vault s");
    vault_p.destroy(&ctx_vp).await.expect("destroy vault p");
    let gone = |r: Result<(), AwsError>| r.err().is_some_and(|e| e.is_not_found());
    let e = bk_p
        .describe_backup_vault()
        .backup_vault_name(&out_vp.vault_name)
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    assert!(gone(e), "primary vault still there");
    let e = bk_s
        .describe_backup_vault()
        .backup_vault_name(&out_vs.vault_name)
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    assert!(gone(e), "secondary vault still there");
    let plans = bk_p.list_backup_plans().send().await.expect("plans");
    assert!(
        !plans
            .backup_plans_list()
            .iter()
            .any(|p| p.backup_plan_id() == Some(out.plan_id.as_str())),
        "plan still listed"
    );
    let e = iam
        .get_role()
        .role_name(format!("backup-{s}"))
        .send()
        .await
        .map(|_| ())
        .map_err(AwsError::from_sdk);
    assert!(gone(e), "role still there");
    assert!(ctx_plan.journal_entries().await.is_empty());
    assert!(matches!(
        plan.read(&ctx_plan).await.expect("read"),
        Drift::Missing { .. }
    ));

    // A second destroy is a no-op.
    plan.destroy(&ctx_plan).await.expect("second destroy plan");
    vault_p
        .destroy(&ctx_vp)
        .await
        .expect("second destroy vault");
    vault_s
        .destroy(&ctx_vs)
        .await
        .expect("second destroy vault");
}

/// Recovery points (made by backup jobs in the emulator) are deleted before the vault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_destroy_deletes_recovery_points_first() {
    crate::aurora::moto_env();
    let aws = tandem_core::testing::moto_context().await;
    let s = suffix();
    let cfg = Config::example(&s);
    let sdk = aws_sdk_backup::Client::new(&aws.config("us-east-2"));
    let api: Arc<dyn BackupApi> = Arc::new(sdk.clone());
    let vault = backup::BackupVaultComponent::new(&cfg, Placement::Secondary, api.clone());
    let ctx = Ctx::standalone("backup-vault-secondary", "us-east-2");
    vault.apply(&ctx).await.expect("apply");
    let name = format!("vault-secondary-{s}");
    for job in 1..=2 {
        sdk.start_backup_job()
            .backup_vault_name(&name)
            .resource_arn(format!("arn:aws:rds:us-east-2:123456789012:cluster:aurora-{s}-{job}"))
            .iam_role_arn(format!("arn:aws:iam::123456789012:role/backup-{s}"))
            .send()
            .await
            .expect("start backup job");
    }
    assert_eq!(api.list_recovery_points(&name).await.expect("points").len(), 2);
    assert!(api.delete_vault(&name).await.is_err(), "a vault with recovery points must refuse deletion");
    vault.destroy(&ctx).await.expect("destroy");
    assert!(api.describe_vault(&name).await.expect("describe").is_none());
    assert!(api.list_recovery_points(&name).await.is_err_and(|e| e.is_not_found()));
}
