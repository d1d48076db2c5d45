//! The AWS Backup calls of the backup components ([`BackupApi`]), implemented for
//! [`aws_sdk_backup::Client`] and mocked with `MockBackupApi` (feature `mocks`).

use tandem_core::paging::PageTokens;
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_backup::types::{
    BackupPlanInput, BackupRuleInput, BackupSelection, CopyAction, Lifecycle,
};
use tandem_core::aws::none_if_not_found;
use tandem_core::AwsError;

/// A backup vault.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VaultInfo {
    pub name: String,
    pub arn: String,
    /// KMS key encrypting the vault (AWS Backup's default key when none is given).
    pub encryption_key_arn: Option<String>,
}

/// One rule of a backup plan as read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleInfo {
    pub rule_name: String,
    pub target_vault: String,
    pub schedule: Option<String>,
    pub delete_after_days: Option<i64>,
    /// (destination vault ARN, delete after days).
    pub copy_actions: Vec<(String, Option<i64>)>,
}

/// A backup plan as read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanInfo {
    pub id: String,
    pub arn: String,
    pub version_id: String,
    pub name: String,
    pub rules: Vec<RuleInfo>,
}

/// The backup plan as Tandem wants it: one rule, copied to the other region's vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSpec {
    pub name: String,
    pub rule_name: String,
    pub target_vault: String,
    pub schedule: String,
    pub delete_after_days: i64,
    pub copy_to_vault_arn: String,
    pub copy_delete_after_days: i64,
}

impl PlanSpec {
    /// True when `plan` has exactly this rule.
    pub fn matches(&self, plan: &PlanInfo) -> bool {
        match plan.rules.as_slice() {
            [r] => {
                r.rule_name == self.rule_name
                    && r.target_vault == self.target_vault
                    && r.schedule.as_deref() == Some(self.schedule.as_str())
                    && r.delete_after_days == Some(self.delete_after_days)
                    && r.copy_actions
                        == vec![(
                            self.copy_to_vault_arn.clone(),
                            Some(self.copy_delete_after_days),
                        )]
            }
            _ => false,
        }
    }
}

/// A backup selection.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SelectionInfo {
    pub id: String,
    pub name: String,
    pub role_arn: String,
    /// Resource ARNs (empty in list results).
    pub resources: Vec<String>,
}

/// The AWS Backup calls of the backup components, for one region.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BackupApi: Send + Sync {
    /// DescribeBackupVault; None when it does not exist.
    async fn describe_vault(&self, name: &str) -> Result<Option<VaultInfo>, AwsError>;
    /// CreateBackupVault encrypted with AWS Backup's default key, tagged.
    async fn create_vault(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<VaultInfo, AwsError>;
    async fn delete_vault(&self, name: &str) -> Result<(), AwsError>;
    /// ARNs of the recovery points in the vault (all pages).
    async fn list_recovery_points(&self, vault: &str) -> Result<Vec<String>, AwsError>;
    /// How many recovery points the vault holds, counted up to `limit`
    /// (ListRecoveryPointsByBackupVault, pages of up to 1000): `(count, more)`, `more` when
    /// it stopped at the limit with pages left.
    async fn count_recovery_points(&self, vault: &str, limit: usize) -> Result<(usize, bool), AwsError>;
    async fn delete_recovery_point(
        &self,
        vault: &str,
        recovery_point_arn: &str,
    ) -> Result<(), AwsError>;

    /// The live (not deleted) plan named `name`, if any.
    async fn find_plan(&self, name: &str) -> Result<Option<PlanInfo>, AwsError>;
    /// GetBackupPlan; None when it does not exist or was deleted.
    async fn get_plan(&self, id: &str) -> Result<Option<PlanInfo>, AwsError>;
    /// CreateBackupPlan with `request_id` as its CreatorRequestId (idempotency token).
    async fn create_plan(
        &self,
        spec: &PlanSpec,
        tags: Vec<(String, String)>,
        request_id: &str,
    ) -> Result<PlanInfo, AwsError>;
    async fn update_plan(&self, id: &str, spec: &PlanSpec) -> Result<PlanInfo, AwsError>;
    async fn delete_plan(&self, id: &str) -> Result<(), AwsError>;

    /// The plan's selections (id, name, role; no resources).
    async fn list_selections(&self, plan_id: &str) -> Result<Vec<SelectionInfo>, AwsError>;
    /// GetBackupSelection; None when it does not exist.
    async fn get_selection(
        &self,
        plan_id: &str,
        selection_id: &str,
    ) -> Result<Option<SelectionInfo>, AwsError>;
    /// CreateBackupSelection with `request_id` as its CreatorRequestId (idempotency token);
    /// returns the selection id.
    async fn create_selection(
        &self,
        plan_id: &str,
        name: &str,
        role_arn: &str,
        resources: Vec<String>,
        request_id: &str,
    ) -> Result<String, AwsError>;
    async fn delete_selection(&self, plan_id: &str, selection_id: &str) -> Result<(), AwsError>;

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError>;
    async fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), AwsError>;
}

fn build_err(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("building the request: {e}"))
}

fn plan_input(spec: &PlanSpec) -> Result<BackupPlanInput, AwsError> {
    let lifecycle = |days: i64| Lifecycle::builder().delete_after_days(days).build();
    let copy = CopyAction::builder()
        .destination_backup_vault_arn(&spec.copy_to_vault_arn)
        .lifecycle(lifecycle(spec.copy_delete_after_days))
        .build()
        .map_err(build_err)?;
    let rule = BackupRuleInput::builder()
        .rule_name(&spec.rule_name)
        .target_backup_vault_name(&spec.target_vault)
        .schedule_expression(&spec.schedule)
        .lifecycle(lifecycle(spec.delete_after_days))
        .copy_actions(copy)
        .build()
        .map_err(build_err)?;
    BackupPlanInput::builder()
        .backup_plan_name(&spec.name)
        .rules(rule)
        .build()
        .map_err(build_err)
}

fn plan_info(
    id: &str,
    arn: &str,
    version: &str,
    plan: Option<&aws_sdk_backup::types::BackupPlan>,
) -> PlanInfo {
    PlanInfo {
        id: id.to_string(),
        arn: arn.to_string(),
        version_id: version.to_string(),
        name: plan
            .map(|p| p.backup_plan_name().to_string())
            .unwrap_or_default(),
        rules: plan
            .map(|p| {
                p.rules()
                    .iter()
                    .map(|r| RuleInfo {
                        rule_name: r.rule_name().to_string(),
                        target_vault: r.target_backup_vault_name().to_string(),
                        schedule: r.schedule_expression().map(str::to_string),
                        delete_after_days: r.lifecycle().and_then(|l| l.delete_after_days()),
                        copy_actions: r
                            .copy_actions()
                            .iter()
                            .map(|c| {
                                (
                                    c.destination_backup_vault_arn().to_string(),
                                    c.lifecycle().and_then(|l| l.delete_after_days()),
                                )
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[async_trait]
impl BackupApi for aws_sdk_backup::Client {
    async fn describe_vault(&self, name: &str) -> Result<Option<VaultInfo>, AwsError> {
        let r = self
            .describe_backup_vault()
            .backup_vault_name(name)
            .send()
            .await
            .map_err(AwsError::from_sdk);
        Ok(none_if_not_found(r)?.map(|o| VaultInfo {
            name: o.backup_vault_name().unwrap_or(name).to_string(),
            arn: o.backup_vault_arn().unwrap_or_default().to_string(),
            encryption_key_arn: o.encryption_key_arn().map(str::to_string),
        }))
    }

    async fn create_vault(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<VaultInfo, AwsError> {
        let out = self
            .create_backup_vault()
            .backup_vault_name(name)
            .set_backup_vault_tags(Some(tags.into_iter().collect::<HashMap<_, _>>()))
            .creator_request_id(format!("tandem-{name}"))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(VaultInfo {
            name: out.backup_vault_name().unwrap_or(name).to_string(),
            arn: out.backup_vault_arn().unwrap_or_default().to_string(),
            encryption_key_arn: None,
        })
    }

    async fn delete_vault(&self, name: &str) -> Result<(), AwsError> {
        self.delete_backup_vault()
            .backup_vault_name(name)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_recovery_points(&self, vault: &str) -> Result<Vec<String>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListRecoveryPointsByBackupVault", vault);
        loop {
            let out = self
                .list_recovery_points_by_backup_vault()
                .backup_vault_name(vault)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(
                out.recovery_points()
                    .iter()
                    .filter_map(|p| p.recovery_point_arn().map(str::to_string)),
            );
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn count_recovery_points(&self, vault: &str, limit: usize) -> Result<(usize, bool), AwsError> {
        let mut n = 0usize;
        let mut token: Option<String> = None;
        // Pages of up to 1000: the limit is reached in limit/1000 pages; the page bound
        // holds even if the service answers smaller pages.
        for _ in 0..(limit / 1000 + 100) {
            let out = self
                .list_recovery_points_by_backup_vault()
                .backup_vault_name(vault)
                .max_results(1000)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            n += out.recovery_points().len();
            match out.next_token() {
                Some(t) if !t.is_empty() && Some(t) == token.as_deref() => {
                    return Err(AwsError::other("RepeatedPageToken", format!("ListRecoveryPointsByBackupVault of {vault} answered the same NextToken twice")));
                }
                Some(t) if !t.is_empty() => {
                    if n >= limit {
                        return Ok((n, true));
                    }
                    token = Some(t.to_string());
                }
                _ => return Ok((n, false)),
            }
        }
        Ok((n, true))
    }

    async fn delete_recovery_point(
        &self,
        vault: &str,
        recovery_point_arn: &str,
    ) -> Result<(), AwsError> {
        self.delete_recovery_point()
            .backup_vault_name(vault)
            .recovery_point_arn(recovery_point_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn find_plan(&self, name: &str) -> Result<Option<PlanInfo>, AwsError> {
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListBackupPlans", "the region");
        loop {
            let out = self
                .list_backup_plans()
                .include_deleted(false)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            let found = out
                .backup_plans_list()
                .iter()
                .find(|p| p.backup_plan_name() == Some(name) && p.deletion_date().is_none())
                .and_then(|p| p.backup_plan_id().map(str::to_string));
            if let Some(id) = found {
                return self.get_plan(&id).await;
            }
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(None),
            }
        }
    }

    async fn get_plan(&self, id: &str) -> Result<Option<PlanInfo>, AwsError> {
        let r = self
            .get_backup_plan()
            .backup_plan_id(id)
            .send()
            .await
            .map_err(AwsError::from_sdk);
        Ok(none_if_not_found(r)?
            .filter(|o| o.deletion_date().is_none())
            .map(|o| {
                plan_info(
                    o.backup_plan_id().unwrap_or(id),
                    o.backup_plan_arn().unwrap_or_default(),
                    o.version_id().unwrap_or_default(),
                    o.backup_plan(),
                )
            }))
    }

    async fn create_plan(
        &self,
        spec: &PlanSpec,
        tags: Vec<(String, String)>,
        request_id: &str,
    ) -> Result<PlanInfo, AwsError> {
        let out = self
            .create_backup_plan()
            .backup_plan(plan_input(spec)?)
            .set_backup_plan_tags(Some(tags.into_iter().collect::<HashMap<_, _>>()))
            .creator_request_id(request_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        let id = out.backup_plan_id().unwrap_or_default().to_string();
        match self.get_plan(&id).await? {
            Some(p) => Ok(p),
            None => Ok(PlanInfo {
                id,
                arn: out.backup_plan_arn().unwrap_or_default().to_string(),
                version_id: out.version_id().unwrap_or_default().to_string(),
                name: spec.name.clone(),
                rules: Vec::new(),
            }),
        }
    }

    async fn update_plan(&self, id: &str, spec: &PlanSpec) -> Result<PlanInfo, AwsError> {
        self.update_backup_plan()
            .backup_plan_id(id)
            .backup_plan(plan_input(spec)?)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        self.get_plan(id).await?.ok_or_else(|| {
            AwsError::not_found("ResourceNotFoundException", format!("backup plan {id}"))
        })
    }

    async fn delete_plan(&self, id: &str) -> Result<(), AwsError> {
        self.delete_backup_plan()
            .backup_plan_id(id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_selections(&self, plan_id: &str) -> Result<Vec<SelectionInfo>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListBackupSelections", plan_id);
        loop {
            let out = self
                .list_backup_selections()
                .backup_plan_id(plan_id)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(out.backup_selections_list().iter().map(|s| SelectionInfo {
                id: s.selection_id().unwrap_or_default().to_string(),
                name: s.selection_name().unwrap_or_default().to_string(),
                role_arn: s.iam_role_arn().unwrap_or_default().to_string(),
                resources: Vec::new(),
            }));
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn get_selection(
        &self,
        plan_id: &str,
        selection_id: &str,
    ) -> Result<Option<SelectionInfo>, AwsError> {
        let r = self
            .get_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(selection_id)
            .send()
            .await
            .map_err(AwsError::from_sdk);
        Ok(none_if_not_found(r)?.map(|o| SelectionInfo {
            id: o.selection_id().unwrap_or(selection_id).to_string(),
            name: o
                .backup_selection()
                .map(|s| s.selection_name().to_string())
                .unwrap_or_default(),
            role_arn: o
                .backup_selection()
                .map(|s| s.iam_role_arn().to_string())
                .unwrap_or_default(),
            resources: o
                .backup_selection()
                .map(|s| s.resources().to_vec())
                .unwrap_or_default(),
        }))
    }

    async fn create_selection(
        &self,
        plan_id: &str,
        name: &str,
        role_arn: &str,
        resources: Vec<String>,
        request_id: &str,
    ) -> Result<String, AwsError> {
        let selection = BackupSelection::builder()
            .selection_name(name)
            .iam_role_arn(role_arn)
            .set_resources(Some(resources))
            .build()
            .map_err(build_err)?;
        let out = self
            .create_backup_selection()
            .backup_plan_id(plan_id)
            .backup_selection(selection)
            .creator_request_id(request_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.selection_id().map(str::to_string).ok_or_else(|| {
            AwsError::other(
                "MissingField",
                "CreateBackupSelection returned no SelectionId",
            )
        })
    }

    async fn delete_selection(&self, plan_id: &str, selection_id: &str) -> Result<(), AwsError> {
        self.delete_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(selection_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        let out = self
            .list_tags()
            .resource_arn(arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        let mut tags: Vec<(String, String)> = out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    async fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        self.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.into_iter().collect::<HashMap<_, _>>()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), AwsError> {
        self.untag_resource()
            .resource_arn(arn)
            .set_tag_key_list(Some(keys))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_token_is_an_error_not_a_short_listing() {
        let page = r#"{"RecoveryPoints":[{"RecoveryPointArn":"arn:rp1"}],"NextToken":"t1"}"#;
        let http = Replay::repeat((200u16, &[][..], page), 5);
        let backup = aws_sdk_backup::Client::new(&http.sdk_config());
        let e = BackupApi::list_recovery_points(&backup, "vault").await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert_eq!(http.requests().len(), 2);
    }
}
