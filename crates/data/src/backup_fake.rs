//! Simulated backup selections and recovery points (`simulate = ["backup-selections"]`) for
//! emulators that lack them: moto 5.2 answers CreateBackupSelection with HTTP 500 and
//! ListRecoveryPointsByBackupVault with HTTP 404.
//!
//! [`SimulatedSelections`] implements the same [`BackupApi`] over the real (emulator) client
//! and forwards vault, plan and tag calls. Selections are served from a [`SelectionStore`]
//! keyed by plan id and checked against the emulator's plan (a selection of a deleted plan is
//! gone). The CLI uses a persistent store (`<state.dir>/<suffix>/simulated/backup-selections.json`,
//! see [`tandem_core::Config::simulation_file`]) so that an apply and a later destroy — separate
//! processes — see the same simulated selection. (Plan tags cannot carry them: moto 5.2's
//! ListTags reads the ARN from the wrong path segment of the Rust SDK's `/tags/{arn}` request
//! and always answers `{}`.) Recovery points are kept in memory per client (none exist until
//! [`SimulatedSelections::add_recovery_point`] adds one); listing them checks that the vault
//! exists in the emulator.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tandem_core::AwsError;

use super::api::{BackupApi, PlanInfo, PlanSpec, SelectionInfo, VaultInfo};

type Table = BTreeMap<String, Vec<SelectionInfo>>;

/// The simulated selections (plan id -> selections), shared by the clients of both regions,
/// optionally saved to a JSON file after every change.
#[derive(Default)]
pub struct SelectionStore {
    table: Mutex<Table>,
    path: Option<PathBuf>,
}

impl SelectionStore {
    /// A store that lives as long as the process.
    pub fn in_memory() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A store loaded from and saved to `path` (an unreadable or missing file is an empty
    /// store; the file is written atomically).
    pub fn persistent(path: impl Into<PathBuf>) -> Arc<Self> {
        let path = path.into();
        let table = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Arc::new(Self { table: Mutex::new(table), path: Some(path) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `f` to the table and saves it.
    fn update<R>(&self, f: impl FnOnce(&mut Table) -> R) -> Result<R, AwsError> {
        let mut table = self.lock();
        let r = f(&mut table);
        self.save(&table)?;
        Ok(r)
    }

    fn save(&self, table: &Table) -> Result<(), AwsError> {
        let Some(path) = &self.path else { return Ok(()) };
        let io = |e: std::io::Error| AwsError::other("SimulationStateError", format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let body = serde_json::to_vec_pretty(table)
            .map_err(|e| AwsError::other("SimulationStateError", format!("{}: {e}", path.display())))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// A [`BackupApi`] whose selections and recovery points are simulated.
pub struct SimulatedSelections {
    inner: Arc<dyn BackupApi>,
    store: Arc<SelectionStore>,
    recovery_points: Mutex<BTreeMap<String, Vec<String>>>,
}

impl SimulatedSelections {
    /// Simulated selections in a store of their own (tests).
    pub fn new(inner: Arc<dyn BackupApi>) -> Self {
        Self::with_store(inner, SelectionStore::in_memory())
    }

    /// Simulated selections kept in `store` (shared by the clients of both regions).
    pub fn with_store(inner: Arc<dyn BackupApi>, store: Arc<SelectionStore>) -> Self {
        Self { inner, store, recovery_points: Mutex::new(BTreeMap::new()) }
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
            self.store.update(|t| t.remove(plan_id))?;
            return Err(AwsError::not_found(
                "ResourceNotFoundException",
                format!("backup plan {plan_id} not found"),
            ));
        }
        Ok(self.store.lock().get(plan_id).cloned().unwrap_or_default())
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
        request_id: &str,
    ) -> Result<PlanInfo, AwsError> {
        self.inner.create_plan(spec, tags, request_id).await
    }

    async fn update_plan(&self, id: &str, spec: &PlanSpec) -> Result<PlanInfo, AwsError> {
        self.inner.update_plan(id, spec).await
    }

    async fn delete_plan(&self, id: &str) -> Result<(), AwsError> {
        // AWS refuses to delete a plan that still has selections.
        let selected = self.store.lock().get(id).is_some_and(|v| !v.is_empty());
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
        _request_id: &str,
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
        let selection = SelectionInfo {
            id: id.clone(),
            name: name.to_string(),
            role_arn: role_arn.to_string(),
            resources,
        };
        self.store.update(|t| t.entry(plan_id.to_string()).or_default().push(selection))?;
        Ok(id)
    }

    async fn delete_selection(&self, plan_id: &str, selection_id: &str) -> Result<(), AwsError> {
        self.selections_of(plan_id).await?;
        let removed = self.store.update(|t| {
            let list = t.entry(plan_id.to_string()).or_default();
            let before = list.len();
            list.retain(|s| s.id != selection_id);
            list.len() != before
        })?;
        if !removed {
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
