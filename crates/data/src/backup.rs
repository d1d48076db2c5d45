//! AWS Backup: `backup-vault-primary` / `backup-vault-secondary` (vaults `vault-{role}-{s}`,
//! encrypted with AWS Backup's default key) and `backup-plan` (plan `backup-plan-{s}` with a
//! daily rule into the primary vault, 35-day lifecycle, copied to the secondary vault with a
//! 35-day lifecycle; IAM role `backup-{s}` trusting backup.amazonaws.com with the AWS managed
//! backup policy; selection `aurora-{s}` of the primary Aurora cluster).
//!
//! Destroy: selection → plan (retried while AWS still counts the selection) → role; vaults:
//! list and delete recovery points until none remain (copy jobs can add points late) →
//! delete vault. NotFound is success.
//!
//! With `simulate = ["backup-selections"]` the clients are wrapped in
//! [`fake::SimulatedSelections`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{ignore_not_found, poll_until, retry, AwsContext, Poll};
use tandem_core::contracts::{ids, AuroraOutputs, BackupPlanOutputs, BackupVaultOutputs};
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired,
    Drift, Outputs, Placement,
};

use crate::iam::{self, IamApi, RoleSpec};

#[path = "backup_api.rs"]
mod api;
pub use api::*;

/// Simulated selections and recovery points for emulators that lack them.
#[path = "backup_fake.rs"]
pub mod fake;

/// The `simulate` entry that serves backup selections and recovery points from a fake.
pub const SIMULATE_SELECTIONS: &str = "backup-selections";

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

/// The three backup components with real clients (or the simulated selections).
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let simulated = cfg.simulates(SIMULATE_SELECTIONS);
    let store = fake::SelectionStore::persistent(cfg.simulation_file(SIMULATE_SELECTIONS));
    let client = |region: &str| -> Arc<dyn BackupApi> {
        let real: Arc<dyn BackupApi> = Arc::new(aws_sdk_backup::Client::new(&aws.config(region)));
        if simulated {
            Arc::new(fake::SimulatedSelections::with_store(real, store.clone()))
        } else {
            real
        }
    };
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
        Arc::new(BackupPlanComponent::new(cfg, primary, iam, simulated)),
    ]
}

/// Journal keys.
mod keys {
    use tandem_core::Key;
    #[allow(dead_code)] // migrated next
    pub const VAULT: Key = Key::new("vault");
    pub const ROLE: Key = Key::new("role");
    #[allow(dead_code)]
    pub const PLAN: Key = Key::new("plan");
    #[allow(dead_code)]
    pub const SELECTION: Key = Key::new("selection");
}

/// The id recorded for `key` in this run's journal or in the prior state.
async fn recorded_id(ctx: &Ctx, key: &str) -> Option<String> {
    match ctx.resource_id(key).await {
        Some(id) => Some(id),
        None => ctx
            .prior()
            .and_then(|p| p.resources.get(key))
            .and_then(|r| r.id.clone()),
    }
}

/// Records `id` for `key` unless the journal already has it (adoption).
async fn adopt(ctx: &Ctx, key: &str, id: &str) -> Result<(), ComponentError> {
    if ctx.resource_id(key).await.as_deref() != Some(id) {
        tracing::info!(resource = key, id, "adopting existing resource");
        ctx.done(key, id).await?;
    }
    Ok(())
}

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
        Duration::from_secs(10)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "vault_name": self.name, "region": self.region, "encryption": "aws/backup" }),
            json!({}),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let name = &self.name;
        let vault = match retry(|| self.backup.describe_vault(name))
            .await
            .at(name, &self.region)?
        {
            Some(v) => {
                adopt(ctx, "vault", &v.arn).await?;
                v
            }
            None => {
                tracing::info!(vault = %name, region = %self.region, "creating backup vault");
                let mut created = None;
                ctx.journaled("vault", "create", || async {
                    let v = match retry(|| {
                        self.backup
                            .create_vault(name, naming::tags(&self.suffix, name))
                    })
                    .await
                    {
                        Ok(v) => v,
                        Err(e) if e.is_code("AlreadyExistsException") => {
                            retry(|| self.backup.describe_vault(name))
                                .await
                                .at(name, &self.region)?
                                .ok_or_else(|| ComponentError::aws(name, &self.region, e))?
                        }
                        Err(e) => return Err(ComponentError::aws(name, &self.region, e)),
                    };
                    let arn = v.arn.clone();
                    created = Some(v);
                    Ok(arn)
                })
                .await?;
                created.ok_or_else(|| {
                    ComponentError::invalid(
                        name,
                        &self.region,
                        "CreateBackupVault returned nothing",
                    )
                })?
            }
        };
        Ok(to_outputs(&BackupVaultOutputs {
            vault_name: vault.name,
            vault_arn: vault.arn,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let name = &self.name;
        if retry(|| self.backup.describe_vault(name))
            .await
            .at(name, &self.region)?
            .is_some()
        {
            self.empty_vault().await?;
            ctx.check_cancelled()?;
            tracing::info!(vault = %name, region = %self.region, "deleting backup vault");
            ctx.pending("vault", "delete").await?;
            // A copy job landing after the emptying makes the delete fail: empty again, retry.
            poll_until(
                name,
                &self.region,
                "vault deletion accepted",
                VAULT_EMPTY_WAIT,
                || async {
                    match self.backup.delete_vault(name).await {
                        Ok(()) => Ok(Poll::Ready(())),
                        Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                        Err(e)
                            if e.is_code("InvalidRequestException")
                                && e.message.contains("recovery point") =>
                        {
                            for p in self
                                .backup
                                .list_recovery_points(name)
                                .await
                                .unwrap_or_default()
                            {
                                let _ = self.backup.delete_recovery_point(name, &p).await;
                            }
                            Ok(Poll::Pending(e.message))
                        }
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        }
        ctx.removed("vault").await
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
    backup: Arc<dyn BackupApi>,
    iam: Arc<dyn IamApi>,
    simulated: bool,
}

impl BackupPlanComponent {
    /// `backup` is the primary region's client; `simulated`: selections are simulated.
    pub fn new(
        cfg: &Config,
        backup: Arc<dyn BackupApi>,
        iam: Arc<dyn IamApi>,
        simulated: bool,
    ) -> Self {
        let s = &cfg.environment_suffix;
        Self {
            region: cfg.primary_region.clone(),
            suffix: s.clone(),
            plan_name: plan_name(s),
            role_name: role_name(s),
            selection_name: selection_name(s),
            backup,
            iam,
            simulated,
        }
    }

    fn role_spec(&self) -> RoleSpec {
        RoleSpec {
            name: self.role_name.clone(),
            trust_policy: iam::trust_policy("backup.amazonaws.com"),
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

    /// The live plan: by recorded id first, else by name.
    async fn existing_plan(&self, ctx: &Ctx) -> Result<Option<PlanInfo>, ComponentError> {
        let name = &self.plan_name;
        if let Some(id) = recorded_id(ctx, "plan").await {
            if let Some(p) = retry(|| self.backup.get_plan(&id))
                .await
                .at(name, &self.region)?
            {
                return Ok(Some(p));
            }
        }
        retry(|| self.backup.find_plan(name))
            .await
            .at(name, &self.region)
    }

    async fn ensure_role(&self, ctx: &Ctx) -> Result<String, ComponentError> {
        iam::ensure_role(ctx, self.iam.as_ref(), &keys::ROLE, &self.role_spec()).await
    }

    async fn ensure_plan(&self, ctx: &Ctx, spec: &PlanSpec) -> Result<PlanInfo, ComponentError> {
        let name = &self.plan_name;
        match self.existing_plan(ctx).await? {
            Some(p) if spec.matches(&p) => {
                adopt(ctx, "plan", &p.id).await?;
                Ok(p)
            }
            Some(p) => {
                tracing::info!(plan = %name, region = %self.region, "updating backup plan rule");
                ctx.pending("plan", "update").await?;
                let updated = retry(|| self.backup.update_plan(&p.id, spec))
                    .await
                    .at(name, &self.region)?;
                ctx.done("plan", &updated.id).await?;
                Ok(updated)
            }
            None => {
                tracing::info!(plan = %name, region = %self.region, "creating backup plan");
                let mut created = None;
                ctx.journaled("plan", "create", || async {
                    let p = match retry(|| {
                        self.backup
                            .create_plan(spec, naming::tags(&self.suffix, name))
                    })
                    .await
                    {
                        Ok(p) => p,
                        Err(e) if e.is_code("AlreadyExistsException") => {
                            retry(|| self.backup.find_plan(name))
                                .await
                                .at(name, &self.region)?
                                .ok_or_else(|| ComponentError::aws(name, &self.region, e))?
                        }
                        Err(e) => return Err(ComponentError::aws(name, &self.region, e)),
                    };
                    let id = p.id.clone();
                    created = Some(p);
                    Ok(id)
                })
                .await?;
                created.ok_or_else(|| {
                    ComponentError::invalid(name, &self.region, "CreateBackupPlan returned nothing")
                })
            }
        }
    }

    async fn find_selection(&self, plan_id: &str) -> Result<Option<SelectionInfo>, ComponentError> {
        let name = &self.selection_name;
        let listed = retry(|| self.backup.list_selections(plan_id))
            .await
            .at(name, &self.region)?;
        let Some(s) = listed.into_iter().find(|s| &s.name == name) else {
            return Ok(None);
        };
        retry(|| self.backup.get_selection(plan_id, &s.id))
            .await
            .at(name, &self.region)
    }

    async fn ensure_selection(
        &self,
        ctx: &Ctx,
        plan_id: &str,
        role_arn: &str,
        cluster_arn: &str,
    ) -> Result<String, ComponentError> {
        let name = &self.selection_name;
        let resources = vec![cluster_arn.to_string()];
        if let Some(s) = self.find_selection(plan_id).await? {
            if s.role_arn == role_arn && s.resources == resources {
                adopt(ctx, "selection", &s.id).await?;
                return Ok(s.id);
            }
            // Selections are immutable: replace it.
            tracing::info!(selection = %name, region = %self.region, "backup selection differs; replacing it");
            ctx.pending("selection", "delete").await?;
            ignore_not_found(retry(|| self.backup.delete_selection(plan_id, &s.id)).await)
                .at(name, &self.region)?;
            ctx.removed("selection").await?;
        }
        tracing::info!(selection = %name, region = %self.region, "creating backup selection");
        ctx.journaled("selection", "create", || async {
            // A new role is not assumable by AWS Backup for a few seconds.
            poll_until(
                name,
                &self.region,
                "IAM role usable by AWS Backup",
                IAM_PROPAGATION_WAIT,
                || async {
                    match retry(|| {
                        self.backup
                            .create_selection(plan_id, name, role_arn, resources.clone())
                    })
                    .await
                    {
                        Ok(id) => Ok(Poll::Ready(id)),
                        Err(e) if iam_propagation(&e) => Ok(Poll::Pending(e.message)),
                        Err(e) => Err(e),
                    }
                },
            )
            .await
        })
        .await
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
        // IAM role propagation dominates.
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
    fn simulated(&self) -> bool {
        self.simulated
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
            selection_simulated: self.simulated,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = ids::BACKUP_PLAN, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        if let Some(plan) = self.existing_plan(ctx).await? {
            let name = &self.plan_name;
            let selections = match retry(|| self.backup.list_selections(&plan.id)).await {
                Ok(s) => s,
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(ComponentError::aws(&self.selection_name, &self.region, e)),
            };
            for s in &selections {
                tracing::info!(selection = %s.name, region = %self.region, "deleting backup selection");
                ctx.pending("selection", "delete").await?;
                ignore_not_found(retry(|| self.backup.delete_selection(&plan.id, &s.id)).await)
                    .at(&s.name, &self.region)?;
            }
            ctx.removed("selection").await?;
            tracing::info!(plan = %name, region = %self.region, "deleting backup plan");
            ctx.pending("plan", "delete").await?;
            poll_until(
                name,
                &self.region,
                "backup plan deletion accepted",
                PLAN_DELETE_WAIT,
                || async {
                    match self.backup.delete_plan(&plan.id).await {
                        Ok(()) => Ok(Poll::Ready(())),
                        Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                        Err(e)
                            if e.message
                                .to_ascii_lowercase()
                                .contains("selections must be deleted") =>
                        {
                            Ok(Poll::Pending(e.message))
                        }
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        }
        ctx.removed("selection").await?;
        ctx.removed("plan").await?;
        if retry(|| self.iam.get_role(&self.role_name))
            .await
            .at(&self.role_name, &self.region)?
            .is_some()
        {
            tracing::info!(role = %self.role_name, "deleting backup IAM role");
            ctx.pending("role", "delete").await?;
            iam::delete_role(self.iam.as_ref(), &self.role_name)
                .await
                .at(&self.role_name, &self.region)?;
        }
        ctx.removed("role").await
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
                },
            )
    }

    fn plan_component(b: MockBackupApi, iam: MockIamApi) -> BackupPlanComponent {
        BackupPlanComponent::new(&cfg(), Arc::new(b), Arc::new(iam), false)
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
            selection_simulated: false,
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
        assert_eq!(ctx.resource_id("vault").await.as_deref(), Some(PV_ARN));
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
            .withf(|spec, tags| {
                spec.target_vault == "vault-primary-dev"
                    && spec.schedule == "cron(0 5 * * ? *)"
                    && spec.delete_after_days == 35
                    && spec.copy_to_vault_arn == SV_ARN
                    && spec.copy_delete_after_days == 35
                    && tags.contains(&("tandem:stack".into(), "dev".into()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(plan_info()));
        b.expect_list_selections()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![]));
        // A fresh role is not assumable yet: retried.
        b.expect_create_selection()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| {
                Err(AwsError::other(
                    "InvalidParameterValueException",
                    "IAM Role arn cannot be assumed by AWS Backup",
                ))
            });
        b.expect_create_selection()
            .withf(|plan, name, role, res| {
                plan == "plan-1"
                    && name == "aurora-dev"
                    && role == ROLE_ARN
                    && res == &vec![CLUSTER_ARN.to_string()]
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok("sel-1".into()));
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
                selection_simulated: false
            }
        );
        for key in ["role", "plan", "selection"] {
            assert!(ctx.resource_id(key).await.is_some(), "{key} not journaled");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn plan_apply_over_existing_makes_no_mutating_call() {
        let mut b = MockBackupApi::new();
        let mut iam = MockIamApi::new();
        iam.expect_get_role()
            .returning(|_| Ok(Some(ROLE_ARN.into())));
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
        let ctx = plan_ctx();
        ctx.done("plan", "plan-1").await.unwrap();
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

    #[tokio::test]
    async fn fake_serves_selections_and_refuses_plan_delete_while_selected() {
        let mut inner = MockBackupApi::new();
        inner.expect_get_plan().returning(|id| {
            Ok((id == "fake-plan-1").then(|| PlanInfo {
                id: id.into(),
                ..plan_info()
            }))
        });
        inner.expect_delete_plan().times(1).returning(|_| Ok(()));
        let f = fake::SimulatedSelections::new(Arc::new(inner));
        let id = f
            .create_selection(
                "fake-plan-1",
                "aurora-dev",
                ROLE_ARN,
                vec![CLUSTER_ARN.into()],
            )
            .await
            .unwrap();
        assert!(f
            .create_selection("fake-plan-1", "aurora-dev", ROLE_ARN, vec![])
            .await
            .is_err_and(|e| e.is_code("AlreadyExistsException")));
        let listed = f.list_selections("fake-plan-1").await.unwrap();
        assert_eq!((listed.len(), listed[0].id.as_str()), (1, id.as_str()));
        assert_eq!(
            f.get_selection("fake-plan-1", &id)
                .await
                .unwrap()
                .unwrap()
                .resources,
            vec![CLUSTER_ARN.to_string()]
        );
        let e = f.delete_plan("fake-plan-1").await.unwrap_err();
        assert!(e.message.contains("selections must be deleted"));
        f.delete_selection("fake-plan-1", &id).await.unwrap();
        assert!(f
            .delete_selection("fake-plan-1", &id)
            .await
            .is_err_and(|e| e.is_not_found()));
        f.delete_plan("fake-plan-1").await.unwrap();
    }

    #[tokio::test]
    async fn persistent_selections_survive_a_new_process() {
        let dir = std::env::temp_dir().join(format!("tandem-backup-fake-{}", std::process::id()));
        let path = dir.join("backup-selections.json");
        let inner = || {
            let mut m = MockBackupApi::new();
            m.expect_get_plan().returning(|id| Ok(Some(PlanInfo { id: id.into(), ..plan_info() })));
            Arc::new(m)
        };
        let first = fake::SimulatedSelections::with_store(inner(), fake::SelectionStore::persistent(&path));
        let id = first.create_selection("plan-1", "aurora-dev", ROLE_ARN, vec![CLUSTER_ARN.into()]).await.unwrap();
        drop(first);
        // A later run (destroy) sees the selection apply created, and can delete it.
        let second = fake::SimulatedSelections::with_store(inner(), fake::SelectionStore::persistent(&path));
        let found = second.get_selection("plan-1", &id).await.unwrap().unwrap();
        assert_eq!((found.name.as_str(), found.resources.clone()), ("aurora-dev", vec![CLUSTER_ARN.to_string()]));
        second.delete_selection("plan-1", &id).await.unwrap();
        let third = fake::SimulatedSelections::with_store(inner(), fake::SelectionStore::persistent(&path));
        assert!(third.list_selections("plan-1").await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
