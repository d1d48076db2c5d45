//! Simulated backup selections and recovery points (`simulate = ["backup-selections"]`) for
//! emulators that lack them: moto 5.2 answers CreateBackupSelection with HTTP 500 and
//! ListRecoveryPointsByBackupVault with HTTP 404.
//!
//! [`SimulatedSelections`] implements the same [`BackupApi`] over the real (emulator) client
//! and forwards vault, plan and tag calls. Selections are served by the fake from a
//! process-wide in-memory table keyed by plan id (every client of the process sees them);
//! they are checked against the emulator's plan (a selection of a deleted plan is gone).
//! They do not outlive the process: moto 5.2's ListTags reads the ARN from the wrong path
//! segment for the Rust SDK's `/tags/{arn}` request and always answers `{}`, so plan tags
//! cannot carry them. A later process therefore re-creates the simulated selection on apply
//! (new id) and finds none on destroy. Recovery points are kept in memory per client (none
//! exist until [`SimulatedSelections::add_recovery_point`] adds one); listing them checks that
//! the vault exists in the emulator.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use tandem_core::AwsError;

use super::api::{BackupApi, PlanInfo, PlanSpec, SelectionInfo, VaultInfo};

/// Simulated selections of the process: plan id -> selections.
static SELECTIONS: OnceLock<Mutex<BTreeMap<String, Vec<SelectionInfo>>>> = OnceLock::new();

fn selections() -> std::sync::MutexGuard<'static, BTreeMap<String, Vec<SelectionInfo>>> {
    SELECTIONS
        .get_or_init(|| Mutex::new(BTreeMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// A [`BackupApi`] whose selections and recovery points are simulated.
pub struct SimulatedSelections {
    inner: Arc<dyn BackupApi>,
    recovery_points: Mutex<BTreeMap<String, Vec<String>>>,
}

impl SimulatedSelections {
    pub fn new(inner: Arc<dyn BackupApi>) -> Self {
        Self {
            inner,
            recovery_points: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds a simulated recovery point to `vault` (tests, demos).
    pub fn add_recovery_point(&self, vault: &str, arn: &str) {
        let mut points = self
            .recovery_points
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        points
            .entry(vault.to_string())
            .or_default()
            .push(arn.to_string());
    }

    /// The simulated selections of a live plan (forgets those of a plan gone from the emulator).
    async fn selections_of(&self, plan_id: &str) -> Result<Vec<SelectionInfo>, AwsError> {
        if self.inner.get_plan(plan_id).await?.is_none() {
            selections().remove(plan_id);
            return Err(AwsError::not_found(
                "ResourceNotFoundException",
                format!("backup plan {plan_id} not found"),
            ));
        }
        Ok(selections().get(plan_id).cloned().unwrap_or_default())
    }
}

#[async_trait]
impl BackupApi for SimulatedSelections {
    async fn describe_vault(&self, name: &str) -> Result<Option<VaultInfo>, AwsError> {
        self.inner.describe_vault(name).await
    }

    async fn create_vault(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<VaultInfo, AwsError> {
        self.inner.create_vault(name, tags).await
    }

    async fn delete_vault(&self, name: &str) -> Result<(), AwsError> {
        let left = self
            .recovery_points
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .map_or(0, Vec::len);
        if left > 0 {
            return Err(AwsError::other(
                "InvalidRequestException",
                format!("Backup vault {name} cannot be deleted because it contains {left} recovery points"),
            ));
        }
        self.inner.delete_vault(name).await
    }

    async fn list_recovery_points(&self, vault: &str) -> Result<Vec<String>, AwsError> {
        if self.inner.describe_vault(vault).await?.is_none() {
            return Err(AwsError::not_found(
                "ResourceNotFoundException",
                format!("backup vault {vault} not found"),
            ));
        }
        Ok(self
            .recovery_points
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(vault)
            .cloned()
            .unwrap_or_default())
    }

    async fn delete_recovery_point(
        &self,
        vault: &str,
        recovery_point_arn: &str,
    ) -> Result<(), AwsError> {
        let mut points = self
            .recovery_points
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let list = points.entry(vault.to_string()).or_default();
        let before = list.len();
        list.retain(|p| p != recovery_point_arn);
        if list.len() == before {
            return Err(AwsError::not_found(
                "ResourceNotFoundException",
                format!("recovery point {recovery_point_arn} not found"),
            ));
        }
        Ok(())
    }

    async fn find_plan(&self, name: &str) -> Result<Option<PlanInfo>, AwsError> {
        self.inner.find_plan(name).await
    }

    async fn get_plan(&self, id: &str) -> Result<Option<PlanInfo>, AwsError> {
        self.inner.get_plan(id).await
    }

    async fn create_plan(
        &self,
        spec: &PlanSpec,
        tags: Vec<(String, String)>,
    ) -> Result<PlanInfo, AwsError> {
        self.inner.create_plan(spec, tags).await
    }

    async fn update_plan(&self, id: &str, spec: &PlanSpec) -> Result<PlanInfo, AwsError> {
        self.inner.update_plan(id, spec).await
    }

    async fn delete_plan(&self, id: &str) -> Result<(), AwsError> {
        // AWS refuses to delete a plan that still has selections.
        let selected = selections().get(id).is_some_and(|v| !v.is_empty());
        if selected && self.inner.get_plan(id).await?.is_some() {
            return Err(AwsError::other(
                "InvalidRequestException",
                "Related backup plan selections must be deleted prior to backup plan deletion",
            ));
        }
        self.inner.delete_plan(id).await
    }

    async fn list_selections(&self, plan_id: &str) -> Result<Vec<SelectionInfo>, AwsError> {
        Ok(self
            .selections_of(plan_id)
            .await?
            .into_iter()
            .map(|s| SelectionInfo {
                resources: Vec::new(),
                ..s
            })
            .collect())
    }

    async fn get_selection(
        &self,
        plan_id: &str,
        selection_id: &str,
    ) -> Result<Option<SelectionInfo>, AwsError> {
        match self.selections_of(plan_id).await {
            Ok(list) => Ok(list.into_iter().find(|s| s.id == selection_id)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_selection(
        &self,
        plan_id: &str,
        name: &str,
        role_arn: &str,
        resources: Vec<String>,
    ) -> Result<String, AwsError> {
        if self
            .selections_of(plan_id)
            .await?
            .iter()
            .any(|s| s.name == name)
        {
            return Err(AwsError::other(
                "AlreadyExistsException",
                format!("selection {name} already exists in plan {plan_id}"),
            ));
        }
        let id = format!("sim-{:016x}", rand::random::<u64>());
        tracing::info!(plan = plan_id, selection = name, id = %id, "simulated: creating backup selection");
        selections()
            .entry(plan_id.to_string())
            .or_default()
            .push(SelectionInfo {
                id: id.clone(),
                name: name.to_string(),
                role_arn: role_arn.to_string(),
                resources,
            });
        Ok(id)
    }

    async fn delete_selection(&self, plan_id: &str, selection_id: &str) -> Result<(), AwsError> {
        self.selections_of(plan_id).await?;
        let mut all = selections();
        let list = all.entry(plan_id.to_string()).or_default();
        let before = list.len();
        list.retain(|s| s.id != selection_id);
        if list.len() == before {
            return Err(AwsError::not_found(
                "ResourceNotFoundException",
                format!("selection {selection_id} not found"),
            ));
        }
        tracing::info!(
            plan = plan_id,
            selection = selection_id,
            "simulated: deleted backup selection"
        );
        Ok(())
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        self.inner.list_tags(arn).await
    }

    async fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        self.inner.tag_resource(arn, tags).await
    }

    async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<(), AwsError> {
        self.inner.untag_resource(arn, keys).await
    }
}
