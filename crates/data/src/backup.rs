//! AWS Backup: `backup-vault-primary` / `backup-vault-secondary` (vaults `vault-{role}-{s}`,
//! encrypted with AWS Backup's default key) and `backup-plan` (plan `backup-plan-{s}` with a
//! daily rule into the primary vault, 35-day lifecycle, copied to the secondary vault with a
//! 35-day lifecycle; IAM role `backup-{s}` trusting backup.amazonaws.com with the AWS managed
//! backup policy; selection `aurora-{s}` of the primary Aurora cluster).
//!
//! Destroy: selection → plan (retried while AWS still counts the selection) → role; vaults:
//! list and delete recovery points until none remain (copy jobs can add points late) →
//! delete vault. NotFound is success.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{poll_until, retry, AwsContext, Poll};
use tandem_core::contracts::{ids, AuroraOutputs, BackupPlanOutputs, BackupVaultOutputs};
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired,
    Drift, Outputs, Placement, Rule,
};

use crate::iam::{self, IamApi, RoleSpec};

#[path = "backup_api.rs"]
mod api;
pub use api::*;

/// The AWS managed policy of the backup role.
pub const BACKUP_POLICY_ARN: &str =
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup";
/// Daily at 05:00 UTC.
pub const SCHEDULE: &str = "cron(0 5 * * ? *)";
/// Retention of recovery points, in both regions.
pub const RETENTION_DAYS: i64 = 35;
/// Name of the plan's rule.
pub const RULE_NAME: &str = "daily";

const VAULT_EMPTY_WAIT: Duration = Duration::from_secs(30 * 60);
const PLAN_DELETE_WAIT: Duration = Duration::from_secs(5 * 60);
const IAM_PROPAGATION_WAIT: Duration = Duration::from_secs(3 * 60);

/// `vault-{role}-{s}`.
pub fn vault_name(placement: Placement, suffix: &str) -> String {
    naming::name("vault", placement, suffix)
}

/// `backup-plan-{s}`.
pub fn plan_name(suffix: &str) -> String {
    naming::name("backup-plan", Placement::Global, suffix)
}

/// `backup-{s}`: the IAM role AWS Backup assumes.
pub fn role_name(suffix: &str) -> String {
    naming::name("backup", Placement::Global, suffix)
}

/// `aurora-{s}`: the selection of the primary Aurora cluster.
pub fn selection_name(suffix: &str) -> String {
    naming::name("aurora", Placement::Global, suffix)
}

/// The three backup components with real clients.
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let client = |region: &str| -> Arc<dyn BackupApi> { Arc::new(aws_sdk_backup::Client::new(&aws.config(region))) };
    let primary = client(&cfg.primary_region);
    let secondary = client(&cfg.secondary_region);
    let iam: Arc<dyn IamApi> = Arc::new(aws_sdk_iam::Client::new(&aws.config(&cfg.primary_region)));
    vec![
        Arc::new(BackupVaultComponent::new(
            cfg,
            Placement::Primary,
            primary.clone(),
        )),
        Arc::new(BackupVaultComponent::new(
            cfg,
            Placement::Secondary,
            secondary,
        )),
        Arc::new(BackupPlanComponent::new(cfg, primary, iam)),
    ]
}

/// Journal keys.
mod keys {
    use tandem_core::Key;
    pub const VAULT: Key = Key::new("vault");
    pub const ROLE: Key = Key::new("role");
    pub const PLAN: Key = Key::new("plan");
    pub const SELECTION: Key = Key::new("selection");
}

use crate::until_accepted;

// ---------------------------------------------------------------------------------------
// Vaults
// ---------------------------------------------------------------------------------------

/// `backup-vault-{role}`.
pub struct BackupVaultComponent {
    id: String,
    placement: Placement,
    region: String,
    suffix: String,
    name: String,
    backup: Arc<dyn BackupApi>,
}

impl BackupVaultComponent {
    pub fn new(cfg: &Config, placement: Placement, backup: Arc<dyn BackupApi>) -> Self {
        Self {
            id: ids::backup_vault(placement),
            placement,
            region: cfg.region_of(placement).to_string(),
            suffix: cfg.environment_suffix.clone(),
            name: vault_name(placement, &cfg.environment_suffix),
            backup,
        }
    }

    /// Deletes every recovery point and waits until the vault reports none.
    async fn empty_vault(&self) -> Result<(), ComponentError> {
        poll_until(&self.name, &self.region, "recovery points deleted", VAULT_EMPTY_WAIT, || async {
            let points = match self.backup.list_recovery_points(&self.name).await {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Ok(Poll::Ready(())),
                Err(e) => return Err(e),
            };
            if points.is_empty() {
                return Ok(Poll::Ready(()));
            }
            tracing::info!(vault = %self.name, region = %self.region, count = points.len(), "deleting recovery points");
            for p in &points {
                // A point still being created/copied refuses deletion: the next poll retries it.
                match retry(|| self.backup.delete_recovery_point(&self.name, p)).await {
                    Ok(()) => {}
                    Err(e) if e.is_not_found() || e.is_code("InvalidResourceStateException") => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(Poll::Pending(format!("{} recovery points being deleted", points.len())))
        })
        .await
    }
}

#[async_trait]
impl Component for BackupVaultComponent {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "backup-vault"
    }
    fn placement(&self) -> Placement {
        self.placement
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        Vec::new()
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::BackupVaultOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Synchronous CreateBackupVault in each region.
        Duration::from_secs(10)
    }
    fn holds_data(&self) -> Option<String> {
        Some(format!("the recovery points (backups) in vault {}", self.name))
    }
    async fn data_summary(&self, _ctx: &Ctx) -> Result<Option<String>, ComponentError> {
        let (b, v) = (&self.backup, self.name.as_str());
        match retry(|| b.count_recovery_points(v, crate::COUNT_LIMIT)).await {
            Ok((n, more)) => Ok(Some(format!("{} recovery points in vault {v}", crate::bounded_count(n, more)))),
            Err(e) if e.is_not_found() => Ok(Some(format!("vault {v} does not exist: nothing to delete"))),
            Err(e) => Err(ComponentError::aws(v, &self.region, e)),
        }
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "vault_name": self.name, "region": self.region, "encryption": "aws/backup" }),
            json!({}),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        // Rule::Name: vault names are unique per region and carry the stack's suffix;
        // AlreadyExistsException (a lost answer) makes the core look it up and adopt it.
        let (b, name, r) = (&self.backup, self.name.as_str(), self.region.as_str());
        let tags = naming::tags(&self.suffix, name);
        let tags = &tags;
        let vault = ctx
            .ensure::<VaultInfo>(&keys::VAULT, name, Rule::Name)
            .find_one(move |_recorded| async move { b.describe_vault(name).await })
            .create(move |_token| async move {
                tracing::info!(vault = %name, region = %r, "creating backup vault");
                b.create_vault(name, tags.clone()).await
            })
            .id(|v| v.arn.clone())
            .run()
            .await?;
        Ok(to_outputs(&BackupVaultOutputs {
            vault_name: vault.name,
            vault_arn: vault.arn,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (b, name, r) = (&self.backup, self.name.as_str(), self.region.as_str());
        let live = retry(|| b.describe_vault(name)).await.at(name, r)?;
        if live.is_some() {
            self.empty_vault().await?;
            ctx.check_cancelled()?;
            tracing::info!(vault = %name, region = %r, "deleting backup vault");
        }
        let arn = live.map(|v| v.arn);
        ctx.delete(
            &keys::VAULT,
            name,
            move |_recorded| {
                let arn = arn.clone();
                async move { Ok(arn.into_iter().collect()) }
            },
            |_| async move {
                // A copy job landing after the emptying makes the delete fail: empty again.
                let not_empty = |e: &AwsError| e.is_code("InvalidRequestException") && e.message.contains("recovery point");
                until_accepted(
                    VAULT_EMPTY_WAIT,
                    || async {
                        let r = b.delete_vault(name).await;
                        if r.as_ref().is_err_and(not_empty) {
                            for p in b.list_recovery_points(name).await.unwrap_or_default() {
                                let _ = b.delete_recovery_point(name, &p).await;
                            }
                        }
                        r
                    },
                    not_empty,
                )
                .await
            },
        )
        .await?;
        Ok(())
    }

    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        Ok(
            match retry(|| self.backup.describe_vault(&self.name))
                .await
                .at(&self.name, &self.region)?
            {
                Some(_) => Drift::InSync,
                None => Drift::Missing {
                    details: vec![format!(
                        "backup vault {} not found in {}",
                        self.name, self.region
                    )],
                },
            },
        )
    }
}

// ---------------------------------------------------------------------------------------
// Plan, role, selection
// ---------------------------------------------------------------------------------------

/// `backup-plan`: the plan, its IAM role and the selection of the primary Aurora cluster.
pub struct BackupPlanComponent {
    region: String,
    suffix: String,
    plan_name: String,
    role_name: String,
    selection_name: String,
    /// The trust policy's `aws:SourceAccount` (None: not known yet, unscoped).
    account: Option<String>,
    backup: Arc<dyn BackupApi>,
    iam: Arc<dyn IamApi>,
}

impl BackupPlanComponent {
    /// `backup` is the primary region's client.
    pub fn new(cfg: &Config, backup: Arc<dyn BackupApi>, iam: Arc<dyn IamApi>) -> Self {
        let s = &cfg.environment_suffix;
        Self {
            region: cfg.primary_region.clone(),
            suffix: s.clone(),
            plan_name: plan_name(s),
            role_name: role_name(s),
            selection_name: selection_name(s),
            account: cfg.account_id.as_ref().map(|a| a.as_str().to_string()),
            backup,
            iam,
        }
    }

    fn role_spec(&self) -> RoleSpec {
        RoleSpec {
            name: self.role_name.clone(),
            // AWS Backup may assume it only on behalf of this account.
            trust_policy: iam::scoped_trust_policy("backup.amazonaws.com", self.account.as_deref(), None),
            inline: Vec::new(),
            managed: vec![BACKUP_POLICY_ARN.to_string()],
            tags: naming::tags(&self.suffix, &self.role_name),
        }
    }

    fn plan_spec(&self, primary_vault: &str, secondary_vault_arn: &str) -> PlanSpec {
        PlanSpec {
            name: self.plan_name.clone(),
            rule_name: RULE_NAME.to_string(),
            target_vault: primary_vault.to_string(),
            schedule: SCHEDULE.to_string(),
            delete_after_days: RETENTION_DAYS,
            copy_to_vault_arn: secondary_vault_arn.to_string(),
            copy_delete_after_days: RETENTION_DAYS,
        }
    }

    /// The live plan: by `recorded` id first, else by name.
    async fn lookup_plan(&self, recorded: Option<String>) -> Result<Option<PlanInfo>, AwsError> {
        if let Some(id) = recorded {
            if let Some(p) = self.backup.get_plan(&id).await? {
                return Ok(Some(p));
            }
        }
        self.backup.find_plan(&self.plan_name).await
    }

    /// The live plan (by the journal's id, else by name).
    async fn existing_plan(&self, ctx: &Ctx) -> Result<Option<PlanInfo>, ComponentError> {
        let recorded = ctx.recorded_id(&keys::PLAN).await;
        retry(|| self.lookup_plan(recorded.clone())).await.at(&self.plan_name, &self.region)
    }

    async fn ensure_role(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        iam::ensure_role(ctx, self.iam.as_ref(), &keys::ROLE, &self.role_spec()).await
    }

    /// The plan, [`Rule::Token`]: CreateBackupPlan carries the journal's token as its
    /// CreatorRequestId (looked up by id or name first). A rule that drifted is updated in
    /// place.
    async fn ensure_plan(&self, ctx: &Ctx, spec: &PlanSpec) -> Result<PlanInfo, ComponentError> {
        let (b, name, r) = (&self.backup, self.plan_name.as_str(), self.region.as_str());
        let tags = naming::tags(&self.suffix, name);
        let tags = &tags;
        let plan = ctx
            .ensure::<PlanInfo>(&keys::PLAN, name, Rule::Token)
            .find_one(move |recorded| self.lookup_plan(recorded))
            .create(move |token| async move {
                tracing::info!(plan = %name, region = %r, "creating backup plan");
                b.create_plan(spec, tags.clone(), token.as_str()).await
            })
            .id(|p| p.id.clone())
            .run()
            .await?;
        if spec.matches(&plan) {
            return Ok(plan);
        }
        tracing::info!(plan = %name, region = %r, "updating backup plan rule");
        ctx.update(&keys::PLAN, || async { retry(|| b.update_plan(&plan.id, spec)).await.at(name, r) }).await
    }

    /// The selection named `aurora-{s}` of plan `plan_id` (with its resources).
    async fn lookup_selection(&self, plan_id: &str) -> Result<Option<SelectionInfo>, AwsError> {
        let listed = self.backup.list_selections(plan_id).await?;
        let Some(s) = listed.into_iter().find(|s| s.name == self.selection_name) else {
            return Ok(None);
        };
        self.backup.get_selection(plan_id, &s.id).await
    }

    async fn find_selection(&self, plan_id: &str) -> Result<Option<SelectionInfo>, ComponentError> {
        retry(|| self.lookup_selection(plan_id)).await.at(&self.selection_name, &self.region)
    }

    /// The selection, [`Rule::Token`]: CreateBackupSelection carries the journal's token as
    /// its CreatorRequestId. Selections are immutable: one that differs is deleted first.
    async fn ensure_selection(
        &self,
        ctx: &Ctx,
        plan_id: &str,
        role_arn: &str,
        cluster_arn: &str,
    ) -> Result<String, ComponentError> {
        let (b, name, r) = (&self.backup, self.selection_name.as_str(), self.region.as_str());
        let resources = vec![cluster_arn.to_string()];
        let wanted = move |s: &SelectionInfo| s.role_arn == role_arn && s.resources.len() == 1 && s.resources[0] == cluster_arn;
        if let Some(s) = self.find_selection(plan_id).await? {
            if !wanted(&s) {
                tracing::info!(selection = %name, region = %r, "backup selection differs; replacing it");
                let id = s.id.clone();
                ctx.delete(
                    &keys::SELECTION,
                    name,
                    move |_recorded| {
                        let id = id.clone();
                        async move { Ok(vec![id]) }
                    },
                    |id| async move { b.delete_selection(plan_id, &id).await },
                )
                .await?;
            }
        }
        let resources = &resources;
        let selection = ctx
            .ensure::<SelectionInfo>(&keys::SELECTION, name, Rule::Token)
            .find_one(move |_recorded| async move { Ok(self.lookup_selection(plan_id).await?.filter(wanted)) })
            .create(move |token| async move {
                tracing::info!(selection = %name, region = %r, "creating backup selection");
                // A new role is not assumable by AWS Backup for a few seconds.
                let id = until_accepted(
                    IAM_PROPAGATION_WAIT,
                    || b.create_selection(plan_id, name, role_arn, resources.clone(), token.as_str()),
                    iam_propagation,
                )
                .await?;
                Ok(SelectionInfo { id, name: name.to_string(), role_arn: role_arn.to_string(), resources: resources.clone() })
            })
            .id(|s| s.id.clone())
            .run()
            .await?;
        Ok(selection.id)
    }
}

/// "role cannot be assumed"-style errors of a fresh IAM role.
fn iam_propagation(e: &AwsError) -> bool {
    let m = e.message.to_ascii_lowercase();
    (e.is_code("InvalidParameterValueException") || e.is_code("InvalidRequestException"))
        && (m.contains("role") || m.contains("assume"))
}

#[async_trait]
impl Component for BackupPlanComponent {
    fn id(&self) -> &str {
        ids::BACKUP_PLAN
    }
    fn kind(&self) -> &'static str {
        "backup-plan"
    }
    fn placement(&self) -> Placement {
        Placement::Primary
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        vec![
            ids::backup_vault(Placement::Primary),
            ids::backup_vault(Placement::Secondary),
            ids::aurora(Placement::Primary),
        ]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::BackupPlanOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Synchronous Backup calls; IAM role propagation dominates (AWS-NOTES.md: retry "role
        // cannot be assumed"; terraform-provider-aws bounds IAM propagation at 2 min).
        Duration::from_secs(30)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({
                "plan_name": self.plan_name,
                "role_name": self.role_name,
                "selection_name": self.selection_name,
                "region": self.region,
            }),
            json!({
                "rule": RULE_NAME,
                "schedule": SCHEDULE,
                "delete_after_days": RETENTION_DAYS,
                "copy_delete_after_days": RETENTION_DAYS,
                "managed_policy": BACKUP_POLICY_ARN,
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = ids::BACKUP_PLAN, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let primary: BackupVaultOutputs = ctx.input(&ids::backup_vault(Placement::Primary))?;
        let secondary: BackupVaultOutputs = ctx.input(&ids::backup_vault(Placement::Secondary))?;
        let aurora: AuroraOutputs = ctx.input(&ids::aurora(Placement::Primary))?;
        let role_arn = self.ensure_role(ctx).await?;
        ctx.check_cancelled()?;
        let plan = self
            .ensure_plan(
                ctx,
                &self.plan_spec(&primary.vault_name, &secondary.vault_arn),
            )
            .await?;
        ctx.check_cancelled()?;
        let selection_id = self
            .ensure_selection(ctx, &plan.id, &role_arn, &aurora.cluster_arn)
            .await?;
        Ok(to_outputs(&BackupPlanOutputs {
            plan_id: plan.id,
            plan_arn: plan.arn,
            selection_id,
            role_arn,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = ids::BACKUP_PLAN, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (b, r) = (&self.backup, self.region.as_str());
        let plan = self.existing_plan(ctx).await?;
        if let Some(plan) = &plan {
            let plan_id = plan.id.as_str();
            let selections = match retry(|| b.list_selections(plan_id)).await {
                Ok(s) => s,
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(ComponentError::aws(&self.selection_name, r, e)),
            };
            let ids: Vec<String> = selections.iter().map(|s| s.id.clone()).collect();
            ctx.delete(
                &keys::SELECTION,
                &self.selection_name,
                move |_recorded| {
                    let ids = ids.clone();
                    async move { Ok(ids) }
                },
                |id| async move {
                    tracing::info!(selection = %id, region = %r, "deleting backup selection");
                    b.delete_selection(plan_id, &id).await
                },
            )
            .await?;
        }
        ctx.forget(&keys::SELECTION).await?;
        let plan_id = plan.map(|p| p.id);
        let name = self.plan_name.as_str();
        ctx.delete(
            &keys::PLAN,
            name,
            move |_recorded| {
                let id = plan_id.clone();
                async move { Ok(id.into_iter().collect()) }
            },
            |id| async move {
                tracing::info!(plan = %name, region = %r, "deleting backup plan");
                // AWS still counts a selection deleted a moment ago.
                until_accepted(
                    PLAN_DELETE_WAIT,
                    || b.delete_plan(&id),
                    |e| e.message.to_ascii_lowercase().contains("selections must be deleted"),
                )
                .await
            },
        )
        .await?;
        let (iam, role) = (self.iam.as_ref(), self.role_name.as_str());
        ctx.delete(
            &keys::ROLE,
            role,
            |_recorded| async move { Ok(iam.get_role(role).await?.filter(|arn| iam::is_stack_role(arn, role)).into_iter().collect()) },
            |_arn| async move {
                tracing::info!(role = %role, "deleting backup IAM role");
                iam::delete_role(iam, role).await
            },
        )
        .await?;
        Ok(())
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let Some(plan) = self.existing_plan(ctx).await? else {
            return Ok(Drift::Missing {
                details: vec![format!(
                    "backup plan {} not found in {}",
                    self.plan_name, self.region
                )],
            });
        };
        let mut details = Vec::new();
        match plan.rules.as_slice() {
            [r] if r.schedule.as_deref() == Some(SCHEDULE)
                && r.delete_after_days == Some(RETENTION_DAYS)
                && r.copy_actions.len() == 1
                && r.copy_actions[0].1 == Some(RETENTION_DAYS) => {}
            _ => details.push(format!(
                "backup plan {} rule differs from the daily 35-day rule with copy",
                self.plan_name
            )),
        }
        if self.find_selection(&plan.id).await?.is_none() {
            details.push(format!("selection {} not found", self.selection_name));
        }
        if retry(|| self.iam.get_role(&self.role_name))
            .await
            .at(&self.role_name, &self.region)?
            .is_none()
        {
            details.push(format!("IAM role {} not found", self.role_name));
        }
        Ok(if details.is_empty() {
            Drift::InSync
        } else {
            Drift::Drifted { details }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::MockIamApi;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;

    const PV_ARN: &str = "arn:aws:backup:us-east-1:123456789012:backup-vault:vault-primary-dev";
    const SV_ARN: &str = "arn:aws:backup:us-east-2:123456789012:backup-vault:vault-secondary-dev";
    const CLUSTER_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-dev";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/backup-dev";

    fn cfg() -> Config {
        Config::example("dev")
    }

    fn plan_info() -> PlanInfo {
        PlanInfo {
            id: "plan-1".into(),
            arn: "arn:aws:backup:us-east-1:123456789012:backup-plan:plan-1".into(),
            version_id: "v1".into(),
            name: "backup-plan-dev".into(),
            rules: vec![RuleInfo {
                rule_name: RULE_NAME.into(),
                target_vault: "vault-primary-dev".into(),
                schedule: Some(SCHEDULE.into()),
                delete_after_days: Some(35),
                copy_actions: vec![(SV_ARN.into(), Some(35))],
            }],
        }
    }

    fn selection() -> SelectionInfo {
        SelectionInfo {
            id: "sel-1".into(),
            name: "aurora-dev".into(),
            role_arn: ROLE_ARN.into(),
            resources: vec![CLUSTER_ARN.into()],
        }
    }

    #[tokio::test]
    async fn vault_destroy_summary_counts_recovery_points_bounded() {
        let mut b = MockBackupApi::new();
        b.expect_count_recovery_points()
            .withf(|v, limit| v == "vault-primary-dev" && *limit == crate::COUNT_LIMIT)
            .times(1)
            .returning(|_, _| Ok((3, false)));
        let c = BackupVaultComponent::new(&cfg(), Placement::Primary, Arc::new(b));
        assert!(c.holds_data().is_some_and(|h| h.contains("vault-primary-dev")));
        let ctx = Ctx::standalone("backup-vault-primary", "us-east-1");
        assert_eq!(c.data_summary(&ctx).await.unwrap().as_deref(), Some("3 recovery points in vault vault-primary-dev"));

        let mut b = MockBackupApi::new();
        b.expect_count_recovery_points().returning(|_, _| Ok((10_000, true)));
        let c = BackupVaultComponent::new(&cfg(), Placement::Primary, Arc::new(b));
        assert_eq!(c.data_summary(&ctx).await.unwrap().as_deref(), Some("10,000+ recovery points in vault vault-primary-dev"));

        let mut b = MockBackupApi::new();
        b.expect_count_recovery_points().returning(|_, _| Err(AwsError::not_found("ResourceNotFoundException", "no vault")));
        let c = BackupVaultComponent::new(&cfg(), Placement::Primary, Arc::new(b));
        assert_eq!(c.data_summary(&ctx).await.unwrap().as_deref(), Some("vault vault-primary-dev does not exist: nothing to delete"));

        let mut b = MockBackupApi::new();
        b.expect_count_recovery_points().returning(|_, _| Err(AwsError::new("AccessDeniedException", "no backup:ListRecoveryPointsByBackupVault", Some(403))));
        let c = BackupVaultComponent::new(&cfg(), Placement::Primary, Arc::new(b));
        let e = c.data_summary(&ctx).await.expect_err("refused").to_string();
        assert!(e.contains("vault-primary-dev") && e.contains("us-east-1") && e.contains("AccessDenied"), "{e}");
        // The plan holds no data of its own.
        let plan = BackupPlanComponent::new(&cfg(), Arc::new(MockBackupApi::new()), Arc::new(MockIamApi::new()));
        assert!(plan.holds_data().is_none());
    }

    fn plan_ctx() -> Ctx {
        Ctx::standalone("backup-plan", "us-east-1")
            .with_input(
                "backup-vault-primary",
                &BackupVaultOutputs {
                    vault_name: "vault-primary-dev".into(),
                    vault_arn: PV_ARN.into(),
                },
            )
            .with_input(
                "backup-vault-secondary",
                &BackupVaultOutputs {
                    vault_name: "vault-secondary-dev".into(),
                    vault_arn: SV_ARN.into(),
                },
            )
            .with_input(
                "aurora-primary",
                &AuroraOutputs {
                    global_cluster_id: "aurora-global-dev".into(),
                    cluster_id: "aurora-primary-dev".into(),
                    cluster_arn: CLUSTER_ARN.into(),
                    writer_endpoint: "w".into(),
                    reader_endpoint: "r".into(),
                    instance_id: "aurora-primary-dev-1".into(),
                    port: 5432,
                    password_parameter: None,
                    global_writer_endpoint: "g".into(),
                },
            )
    }

    fn plan_component(b: MockBackupApi, iam: MockIamApi) -> BackupPlanComponent {
        BackupPlanComponent::new(&cfg(), Arc::new(b), Arc::new(iam))
    }

    #[test]
    fn names_ids_outputs() {
        assert_eq!(
            vault_name(Placement::Secondary, "dev"),
            "vault-secondary-dev"
        );
        assert_eq!(
            (plan_name("dev"), role_name("dev"), selection_name("dev")),
            (
                "backup-plan-dev".into(),
                "backup-dev".into(),
                "aurora-dev".into()
            )
        );
        let p = plan_component(MockBackupApi::new(), MockIamApi::new());
        assert_eq!(
            p.dependencies(),
            vec![
                "backup-vault-primary".to_string(),
                "backup-vault-secondary".to_string(),
                "aurora-primary".to_string()
            ]
        );
        let sample = to_outputs(&BackupPlanOutputs {
            plan_id: String::new(),
            plan_arn: String::new(),
            selection_id: String::new(),
            role_arn: String::new(),
        });
        assert_eq!(p.output_type().short_name(), "BackupPlanOutputs");
        p.output_type().check(&sample).expect("declared outputs");
        let v =
            BackupVaultComponent::new(&cfg(), Placement::Secondary, Arc::new(MockBackupApi::new()));
        assert_eq!(
            (v.id(), v.region()),
            ("backup-vault-secondary", "us-east-2")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn vault_create_is_tagged_and_journaled() {
        let mut b = MockBackupApi::new();
        let mut seq = Sequence::new();
        b.expect_describe_vault()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        b.expect_create_vault()
            .withf(|n, tags| {
                n == "vault-primary-dev"
                    && tags.contains(&("tandem:stack".into(), "dev".into()))
                    && tags.contains(&("Name".into(), "vault-primary-dev".into()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|n, _| {
                Ok(VaultInfo {
                    name: n.into(),
                    arn: PV_ARN.into(),
                    encryption_key_arn: None,
                })
            });
        let v = BackupVaultComponent::new(&cfg(), Placement::Primary, Arc::new(b));
        let ctx = Ctx::standalone("backup-vault-primary", "us-east-1");
        let out: BackupVaultOutputs =
            tandem_core::from_outputs(&v.apply(&ctx).await.unwrap()).unwrap();
        assert_eq!(out.vault_arn, PV_ARN);
        assert_eq!(ctx.recorded_id(&keys::VAULT).await.as_deref(), Some(PV_ARN));
    }

    #[tokio::test(start_paused = true)]
    async fn vault_destroy_empties_then_deletes_and_not_found_is_success() {
        let mut b = MockBackupApi::new();
        let mut seq = Sequence::new();
        b.expect_describe_vault()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|n| {
                Ok(Some(VaultInfo {
                    name: n.into(),
                    arn: SV_ARN.into(),
                    encryption_key_arn: None,
                }))
            });
        b.expect_list_recovery_points()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec!["rp-1".into(), "rp-2".into()]));
        b.expect_delete_recovery_point()
            .withf(|v, rp| v == "vault-secondary-dev" && rp == "rp-1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        b.expect_delete_recovery_point()
            .withf(|_, rp| rp == "rp-2")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(AwsError::not_found("ResourceNotFoundException", "gone")));
        b.expect_list_recovery_points()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        b.expect_delete_vault()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Err(AwsError::not_found(
                    "ResourceNotFoundException",
                    "already gone",
                ))
            });
        let v = BackupVaultComponent::new(&cfg(), Placement::Secondary, Arc::new(b));
        v.destroy(&Ctx::standalone("backup-vault-secondary", "us-east-2"))
            .await
            .unwrap();
        // Second destroy: vault gone, nothing else called.
        let mut b = MockBackupApi::new();
        b.expect_describe_vault().times(1).returning(|_| Ok(None));
        BackupVaultComponent::new(&cfg(), Placement::Secondary, Arc::new(b))
            .destroy(&Ctx::standalone("backup-vault-secondary", "us-east-2"))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn plan_create_order_role_plan_selection() {
        let mut b = MockBackupApi::new();
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        // Once: the protocol's lookup before the create.
        iam.expect_get_role()
            .withf(|n| n == "backup-dev")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        iam.expect_create_role()
            .withf(|n, trust, _| n == "backup-dev" && trust.contains("backup.amazonaws.com"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(ROLE_ARN.into()));
        iam.expect_get_role_trust_policy()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(iam::scoped_trust_policy("backup.amazonaws.com", None, None))));
        iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_list_attached_role_policies()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        iam.expect_attach_role_policy()
            .withf(|_, p| p == BACKUP_POLICY_ARN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        b.expect_find_plan()
            .withf(|n| n == "backup-plan-dev")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        b.expect_create_plan()
            .withf(|spec, tags, _| {
                spec.target_vault == "vault-primary-dev"
                    && spec.schedule == "cron(0 5 * * ? *)"
                    && spec.delete_after_days == 35
                    && spec.copy_to_vault_arn == SV_ARN
                    && spec.copy_delete_after_days == 35
                    && tags.contains(&("tandem:stack".into(), "dev".into()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(plan_info()));
        // The check for a selection to replace, then the protocol's lookup.
        b.expect_list_selections()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        // A fresh role is not assumable yet: retried.
        b.expect_create_selection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _, _| {
                Err(AwsError::other(
                    "InvalidParameterValueException",
                    "IAM Role arn cannot be assumed by AWS Backup",
                ))
            });
        b.expect_create_selection()
            .withf(|plan, name, role, res, _| {
                plan == "plan-1"
                    && name == "aurora-dev"
                    && role == ROLE_ARN
                    && res == &vec![CLUSTER_ARN.to_string()]
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _, _| Ok("sel-1".into()));
        let ctx = plan_ctx();
        let out: BackupPlanOutputs =
            tandem_core::from_outputs(&plan_component(b, iam).apply(&ctx).await.unwrap()).unwrap();
        assert_eq!(
            out,
            BackupPlanOutputs {
                plan_id: "plan-1".into(),
                plan_arn: plan_info().arn,
                selection_id: "sel-1".into(),
                role_arn: ROLE_ARN.into(),
            }
        );
        for key in [&keys::ROLE, &keys::PLAN, &keys::SELECTION] {
            let e = ctx.entry(key).await.unwrap();
            assert_eq!(e.status, tandem_core::state::ResourceStatus::Done, "{key} not journaled");
        }
        assert_eq!(ctx.recorded_id(&keys::SELECTION).await.as_deref(), Some("sel-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn plan_apply_over_existing_makes_no_mutating_call() {
        let mut b = MockBackupApi::new();
        let mut iam = MockIamApi::new();
        iam.expect_get_role()
            .returning(|_| Ok(Some(ROLE_ARN.into())));
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(iam::scoped_trust_policy("backup.amazonaws.com", None, None))));
        iam.expect_list_role_policies().returning(|_| Ok(vec![]));
        iam.expect_list_attached_role_policies()
            .returning(|_| Ok(vec![BACKUP_POLICY_ARN.into()]));
        b.expect_get_plan()
            .withf(|id| id == "plan-1")
            .returning(|_| Ok(Some(plan_info())));
        b.expect_list_selections().returning(|_| {
            Ok(vec![SelectionInfo {
                resources: vec![],
                ..selection()
            }])
        });
        b.expect_get_selection()
            .returning(|_, _| Ok(Some(selection())));
        let prior = ComponentState::new("backup-plan", Placement::Primary, "us-east-1")
            .with_resource("role", ROLE_ARN)
            .with_resource("plan", "plan-1")
            .with_resource("selection", "sel-1");
        let out: BackupPlanOutputs = tandem_core::from_outputs(
            &plan_component(b, iam)
                .apply(&plan_ctx().with_prior(prior))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(out.selection_id, "sel-1");
    }

    #[tokio::test(start_paused = true)]
    async fn plan_destroy_order_selection_plan_role() {
        let mut b = MockBackupApi::new();
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        b.expect_find_plan()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(plan_info())));
        b.expect_list_selections()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![selection()]));
        b.expect_delete_selection()
            .withf(|p, s| p == "plan-1" && s == "sel-1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        b.expect_delete_plan()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Err(AwsError::other(
                    "InvalidRequestException",
                    "Related backup plan selections must be deleted prior to backup plan deletion",
                ))
            });
        b.expect_delete_plan()
            .withf(|id| id == "plan-1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        iam.expect_get_role()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(ROLE_ARN.into())));
        iam.expect_list_role_policies()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        iam.expect_list_attached_role_policies()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![BACKUP_POLICY_ARN.into()]));
        iam.expect_detach_role_policy()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        iam.expect_delete_role()
            .withf(|n| n == "backup-dev")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        let prior = ComponentState::new("backup-plan", Placement::Primary, "us-east-1").with_resource("plan", "plan-1");
        let ctx = plan_ctx().with_prior(prior);
        // The journaled id is looked up first; this one is gone, so the name lookup finds it.
        let mut b2 = b;
        b2.expect_get_plan().returning(|_| Ok(None));
        plan_component(b2, iam).destroy(&ctx).await.unwrap();
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn plan_second_destroy_is_a_no_op() {
        let mut b = MockBackupApi::new();
        let mut iam = MockIamApi::new();
        b.expect_find_plan().returning(|_| Ok(None));
        iam.expect_get_role().returning(|_| Ok(None));
        plan_component(b, iam).destroy(&plan_ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_retried_and_errors_name_resource_and_region() {
        let mut b = MockBackupApi::new();
        let mut seq = Sequence::new();
        b.expect_describe_vault()
            .times(3)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::throttling()));
        b.expect_describe_vault()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        b.expect_create_vault()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Err(AwsError::other("AccessDeniedException", "denied")));
        let v = BackupVaultComponent::new(&cfg(), Placement::Secondary, Arc::new(b));
        let ctx = Ctx::standalone("backup-vault-secondary", "us-east-2");
        let err = v.apply(&ctx).await.unwrap_err().to_string();
        assert!(
            err.contains("vault-secondary-dev")
                && err.contains("us-east-2")
                && err.contains("AccessDeniedException"),
            "{err}"
        );
    }

    /// A Backup region behind a mock whose creates act and then lose their answer (a 500);
    /// a create re-sent with the same CreatorRequestId returns the first result, as AWS does.
    #[derive(Default, Clone)]
    struct LossyBackup {
        vault: Arc<std::sync::Mutex<Option<VaultInfo>>>,
        plan: Arc<std::sync::Mutex<Option<(String, PlanInfo)>>>,
        selection: Arc<std::sync::Mutex<Option<(String, SelectionInfo)>>>,
        creates: Arc<std::sync::atomic::AtomicU32>,
    }

    impl LossyBackup {
        fn mock(&self) -> MockBackupApi {
            use std::sync::atomic::Ordering;
            fn lost<T>() -> Result<T, AwsError> {
                Err(AwsError::new("InternalFailure", "answer lost", Some(500)))
            }
            let mut b = MockBackupApi::new();
            let s = self.clone();
            b.expect_describe_vault().returning(move |_| Ok(s.vault.lock().unwrap().clone()));
            let s = self.clone();
            b.expect_create_vault().returning(move |n, _| {
                s.creates.fetch_add(1, Ordering::SeqCst);
                let mut v = s.vault.lock().unwrap();
                if v.is_some() {
                    return Err(AwsError::other("AlreadyExistsException", "vault exists"));
                }
                *v = Some(VaultInfo { name: n.into(), arn: PV_ARN.into(), encryption_key_arn: None });
                lost()
            });
            let s = self.clone();
            b.expect_find_plan().returning(move |_| Ok(s.plan.lock().unwrap().as_ref().map(|(_, p)| p.clone())));
            let s = self.clone();
            b.expect_get_plan().returning(move |id| Ok(s.plan.lock().unwrap().as_ref().map(|(_, p)| p.clone()).filter(|p| p.id == id)));
            let s = self.clone();
            b.expect_create_plan().returning(move |_, _, token| {
                let mut p = s.plan.lock().unwrap();
                match p.as_ref() {
                    Some((t, plan)) if t == token => return Ok(plan.clone()),
                    Some(_) => return Err(AwsError::other("AlreadyExistsException", "plan exists")),
                    None => {}
                }
                s.creates.fetch_add(1, Ordering::SeqCst);
                *p = Some((token.to_string(), plan_info()));
                lost()
            });
            let s = self.clone();
            b.expect_list_selections().returning(move |_| {
                Ok(s.selection.lock().unwrap().iter().map(|(_, x)| SelectionInfo { resources: vec![], ..x.clone() }).collect())
            });
            let s = self.clone();
            b.expect_get_selection().returning(move |_, id| {
                Ok(s.selection.lock().unwrap().as_ref().map(|(_, x)| x.clone()).filter(|x| x.id == id))
            });
            let s = self.clone();
            b.expect_create_selection().returning(move |_, _, _, _, token| {
                let mut sel = s.selection.lock().unwrap();
                match sel.as_ref() {
                    Some((t, x)) if t == token => return Ok(x.id.clone()),
                    Some(_) => return Err(AwsError::other("AlreadyExistsException", "selection exists")),
                    None => {}
                }
                s.creates.fetch_add(1, Ordering::SeqCst);
                *sel = Some((token.to_string(), selection()));
                lost()
            });
            b
        }
    }

    fn healthy_role() -> MockIamApi {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(Some(ROLE_ARN.into())));
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(iam::scoped_trust_policy("backup.amazonaws.com", None, None))));
        iam.expect_list_role_policies().returning(|_| Ok(vec![]));
        iam.expect_list_attached_role_policies().returning(|_| Ok(vec![BACKUP_POLICY_ARN.into()]));
        iam
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_end_with_one_vault_plan_and_selection_journaled() {
        let aws = LossyBackup::default();
        let v = BackupVaultComponent::new(&cfg(), Placement::Primary, Arc::new(aws.mock()));
        let vctx = Ctx::standalone("backup-vault-primary", "us-east-1");
        v.apply(&vctx).await.unwrap();
        assert_eq!(vctx.recorded_id(&keys::VAULT).await.as_deref(), Some(PV_ARN));

        let c = BackupPlanComponent::new(&cfg(), Arc::new(aws.mock()), Arc::new(healthy_role()));
        let ctx = plan_ctx();
        let out: BackupPlanOutputs = tandem_core::from_outputs(&c.apply(&ctx).await.unwrap()).unwrap();
        assert_eq!((out.plan_id.as_str(), out.selection_id.as_str()), ("plan-1", "sel-1"));
        // One create of each acted; the lost answers were settled by lookups, not new creates.
        assert_eq!(aws.creates.load(std::sync::atomic::Ordering::SeqCst), 3);
        for (key, id) in [(&keys::PLAN, "plan-1"), (&keys::SELECTION, "sel-1")] {
            let e = ctx.entry(key).await.unwrap();
            assert_eq!((e.id.as_deref(), e.status), (Some(id), tandem_core::state::ResourceStatus::Done));
        }
        // Second apply over it: no create at all.
        c.apply(&ctx).await.unwrap();
        v.apply(&vctx).await.unwrap();
        assert_eq!(aws.creates.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_plan_create_resends_the_journaled_token() {
        use tandem_core::state::ResourceStatus;
        let aws = LossyBackup::default();
        // The previous run journaled the plan's create with its token, sent it, and died
        // before the answer; AWS has the plan, not yet visible to the lookup by name.
        *aws.plan.lock().unwrap() = Some(("tok-1".into(), plan_info()));
        let mut b = MockBackupApi::new();
        let mut seq = Sequence::new();
        b.expect_find_plan().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        let s = aws.clone();
        b.expect_create_plan()
            .withf(|_, _, token| token == "tok-1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _, _| Ok(s.plan.lock().unwrap().as_ref().unwrap().1.clone()));
        b.expect_list_selections().returning(|_| Ok(vec![SelectionInfo { resources: vec![], ..selection() }]));
        b.expect_get_selection().returning(|_, _| Ok(Some(selection())));
        let prior = ComponentState::new("backup-plan", Placement::Primary, "us-east-1").with_resource("role", ROLE_ARN).with_pending_create("plan", Some("tok-1"));
        let c = BackupPlanComponent::new(&cfg(), Arc::new(b), Arc::new(healthy_role()));
        let ctx = plan_ctx().with_prior(prior);
        c.apply(&ctx).await.unwrap();
        let e = ctx.entry(&keys::PLAN).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status), (Some("plan-1"), ResourceStatus::Done));
    }
}
