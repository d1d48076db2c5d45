//! The [`Component`] trait and the [`Ctx`] a component receives when it runs.
//!
//! A component owns a small family of AWS resources (a VPC with its subnets, an Aurora
//! cluster with its instance, ...). It declares its id, its placement (primary, secondary
//! or global), the ids it depends on, the outputs it produces, its expected duration (used
//! by the critical-path scheduler) and its desired configuration (hashed by the planner).
//!
//! `apply` is "ensure": given what the state recorded, it checks what exists, adopts what it
//! finds by name or tag, and creates only what is missing. Every mutation is journaled
//! through [`Ctx::pending`] / [`Ctx::done`] before and after the call, so an interrupted run
//! is resumed without duplicates or orphans.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ComponentError;
use crate::state::{ComponentState, ResourceEntry, ResourceStatus, StateHandle};

/// Outputs of a component: a JSON object keyed by output name.
pub type Outputs = BTreeMap<String, serde_json::Value>;

/// Serializes a typed output struct into [`Outputs`].
pub fn to_outputs<T: Serialize>(value: &T) -> Outputs {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
        _ => Outputs::new(),
    }
}

/// Deserializes [`Outputs`] into a typed struct.
pub fn from_outputs<T: DeserializeOwned>(outputs: &Outputs) -> Result<T, serde_json::Error> {
    let map: serde_json::Map<String, serde_json::Value> = outputs.clone().into_iter().collect();
    serde_json::from_value(serde_json::Value::Object(map))
}

/// Where a component lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    Primary,
    Secondary,
    Global,
}

impl Placement {
    /// The role name used in resource names (`vpc-primary-dev`); none for global.
    pub fn role(self) -> Option<&'static str> {
        match self {
            Placement::Primary => Some("primary"),
            Placement::Secondary => Some("secondary"),
            Placement::Global => None,
        }
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Placement::Primary => "primary",
            Placement::Secondary => "secondary",
            Placement::Global => "global",
        })
    }
}

/// The desired configuration of a component, split by what a change implies.
///
/// A change in `replace_on` (immutable attributes: names, CIDRs, engine) means destroy and
/// re-create; a change in `update_on` means an in-place update. Neither may hold a secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Desired {
    pub replace_on: serde_json::Value,
    pub update_on: serde_json::Value,
}

impl Desired {
    pub fn new(replace_on: serde_json::Value, update_on: serde_json::Value) -> Self {
        Self { replace_on, update_on }
    }
}

/// What the planner decided for one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    /// Terraform-like symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }

    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }
}

/// Drift reported by [`Component::read`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Drift {
    /// Everything recorded exists and matches.
    InSync,
    /// Something differs; each entry says what.
    Drifted { details: Vec<String> },
    /// The component's main resource is gone.
    Missing { details: Vec<String> },
}

/// A deployable unit of the stack.
#[async_trait::async_trait]
pub trait Component: Send + Sync {
    /// Stable id, unique in the stack (e.g. `network-primary`).
    fn id(&self) -> &str;
    /// Short resource-family label shown in plans (e.g. `vpc`, `aurora`).
    fn kind(&self) -> &'static str;
    /// Where it lives.
    fn placement(&self) -> Placement;
    /// The AWS region its API calls go to (`us-west-2` for Global Accelerator, ...).
    fn region(&self) -> &str;
    /// Ids of the components whose outputs it needs.
    fn dependencies(&self) -> Vec<String>;
    /// Names of the outputs `apply` returns (checked by the engine).
    fn outputs(&self) -> Vec<&'static str>;
    /// Expected duration of a create on real AWS, for critical-path scheduling.
    fn expected_duration(&self) -> Duration;
    /// Desired configuration (no secret values).
    fn desired(&self) -> Desired;
    /// False when configuration says this component should not exist (e.g. no hosted zone:
    /// no failover records). An unwanted component with state is deleted.
    fn wanted(&self) -> bool {
        true
    }
    /// True when the component talks to a built-in in-memory fake instead of AWS.
    fn simulated(&self) -> bool {
        false
    }
    /// Decides the action for this component from its prior state. The default compares
    /// the hashes of [`Component::desired`] with those recorded in state.
    async fn plan(&self, prior: Option<&ComponentState>) -> (Action, String) {
        crate::planner::diff_component(self.wanted(), &self.desired(), prior)
    }
    /// Creates or updates the resources and returns the declared outputs.
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError>;
    /// Deletes everything the component created. Deleting what is already gone succeeds.
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError>;
    /// Reads the live resources and reports drift against the recorded state.
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError>;
}

/// Cooperative cancellation flag (Ctrl-C): the executor stops scheduling; components may
/// check it between long waits.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<(AtomicBool, tokio::sync::Notify)>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }
    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }
    /// Resolves once [`CancelFlag::cancel`] has been called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// What a component sees when it runs: its region, its dependencies' outputs (typed), its
/// prior state, and the journal.
pub struct Ctx {
    id: String,
    region: String,
    action: Action,
    inputs: BTreeMap<String, Outputs>,
    prior: Option<ComponentState>,
    state: StateHandle,
    simulated: bool,
    cancel: CancelFlag,
}

impl Ctx {
    #[allow(clippy::too_many_arguments)] // crate-private; called from the executor only
    pub(crate) fn new(
        id: String,
        region: String,
        action: Action,
        inputs: BTreeMap<String, Outputs>,
        prior: Option<ComponentState>,
        state: StateHandle,
        simulated: bool,
        cancel: CancelFlag,
    ) -> Self {
        Self { id, region, action, inputs, prior, state, simulated, cancel }
    }

    /// A context for unit tests and for embedding one component in your own tool: an
    /// in-memory state, no prior state, no inputs.
    pub fn standalone(id: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            region: region.into(),
            action: Action::Create,
            inputs: BTreeMap::new(),
            prior: None,
            state: StateHandle::in_memory(),
            simulated: false,
            cancel: CancelFlag::default(),
        }
    }

    /// Adds a dependency's outputs (builder style, for tests and embedding).
    pub fn with_input<T: Serialize>(mut self, dep: &str, outputs: &T) -> Self {
        self.inputs.insert(dep.to_string(), to_outputs(outputs));
        self
    }

    /// Sets the prior state (builder style).
    pub fn with_prior(mut self, prior: ComponentState) -> Self {
        self.prior = Some(prior);
        self
    }

    /// Sets the planned action (builder style).
    pub fn with_action(mut self, action: Action) -> Self {
        self.action = action;
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn action(&self) -> Action {
        self.action
    }

    pub fn simulated(&self) -> bool {
        self.simulated
    }

    pub fn cancel_flag(&self) -> &CancelFlag {
        &self.cancel
    }

    /// The typed outputs of dependency `dep`.
    pub fn input<T: DeserializeOwned>(&self, dep: &str) -> Result<T, ComponentError> {
        let outputs = self
            .inputs
            .get(dep)
            .ok_or_else(|| ComponentError::MissingInput(format!("{} needs the outputs of {dep}", self.id)))?;
        from_outputs(outputs).map_err(|e| ComponentError::MissingInput(format!("{} reading outputs of {dep}: {e}", self.id)))
    }

    /// The typed outputs of `dep`, or None when the dependency is absent (optional inputs).
    pub fn input_opt<T: DeserializeOwned>(&self, dep: &str) -> Option<T> {
        self.inputs.get(dep).and_then(|o| from_outputs(o).ok())
    }

    /// Raw outputs of all inputs.
    pub fn inputs(&self) -> &BTreeMap<String, Outputs> {
        &self.inputs
    }

    /// The component's state as recorded before this run.
    pub fn prior(&self) -> Option<&ComponentState> {
        self.prior.as_ref()
    }

    /// The prior outputs, typed.
    pub fn prior_outputs<T: DeserializeOwned>(&self) -> Option<T> {
        self.prior.as_ref().and_then(|p| from_outputs(&p.outputs).ok())
    }

    /// The journal entry of resource `key` as it stands now (this run included).
    pub async fn resource(&self, key: &str) -> Option<ResourceEntry> {
        self.state.resource(&self.id, key).await
    }

    /// The id recorded for resource `key` (done entries only).
    pub async fn resource_id(&self, key: &str) -> Option<String> {
        match self.resource(key).await {
            Some(ResourceEntry { id: Some(id), status: ResourceStatus::Done, .. }) => Some(id),
            _ => None,
        }
    }

    /// Journals that a mutation of `key` is about to happen. Durable before it returns.
    pub async fn pending(&self, key: &str, op: &str) -> Result<(), ComponentError> {
        self.state.journal(&self.id, key, op, None, ResourceStatus::Pending, self.simulated).await
    }

    /// Journals that the mutation of `key` succeeded, with the resource's id or ARN.
    pub async fn done(&self, key: &str, resource_id: &str) -> Result<(), ComponentError> {
        self.state.journal(&self.id, key, "done", Some(resource_id.to_string()), ResourceStatus::Done, self.simulated).await
    }

    /// Journals that the mutation of `key` failed.
    pub async fn failed(&self, key: &str, op: &str) -> Result<(), ComponentError> {
        self.state.journal(&self.id, key, op, None, ResourceStatus::Failed, self.simulated).await
    }

    /// Removes `key` from the journal once the resource is deleted.
    pub async fn removed(&self, key: &str) -> Result<(), ComponentError> {
        self.state.forget(&self.id, key).await
    }

    /// Journals `pending`, runs `create`, then journals `done` with the id it returns (or
    /// `failed`). The usual wrapper around a create call.
    pub async fn journaled<F, Fut>(&self, key: &str, op: &str, create: F) -> Result<String, ComponentError>
    where
        F: FnOnce() -> Fut + Send,
        Fut: std::future::Future<Output = Result<String, ComponentError>> + Send,
    {
        self.pending(key, op).await?;
        match create().await {
            Ok(id) => {
                self.done(key, &id).await?;
                Ok(id)
            }
            Err(e) => {
                self.failed(key, op).await?;
                Err(e)
            }
        }
    }

    /// The resources journaled for this component so far (for tests and diagnostics).
    pub async fn journal_entries(&self) -> BTreeMap<String, ResourceEntry> {
        self.state.resources(&self.id).await
    }

    /// Fails with [`ComponentError::Interrupted`] once Ctrl-C was pressed.
    pub fn check_cancelled(&self) -> Result<(), ComponentError> {
        if self.cancel.is_cancelled() {
            Err(ComponentError::Interrupted)
        } else {
            Ok(())
        }
    }
}
