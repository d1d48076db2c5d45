//! The [`Component`] trait and the [`Ctx`] a component receives when it runs.
//!
//! A component owns a small family of AWS resources (a VPC with its subnets, an Aurora
//! cluster with its instance, ...). It declares its id, its placement (primary, secondary
//! or global), the ids it depends on, the outputs it produces, its expected duration (used
//! by the critical-path scheduler) and its desired configuration (hashed by the planner).
//!
//! `apply` is "ensure": given what the state recorded, it checks what exists, adopts what it
//! finds by name or tag, and creates only what is missing. Every mutation goes through the
//! resource protocol ([`Ctx::ensure`], [`Ctx::update`], [`Ctx::delete`], [`Ctx::adopt`],
//! see [`crate::protocol`]), which journals it before and after the call, so an interrupted
//! run is resumed without duplicates or orphans.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ComponentError;
use crate::state::{ComponentState, Op, ResourceEntry, ResourceStatus, StateHandle};

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

/// The typed outputs a component declares ([`Component::output_type`]): the struct its
/// `apply` serializes with [`to_outputs`] and its dependants read with [`Ctx::input`]. The
/// engine checks every apply's outputs against it (they must deserialize into the struct),
/// so a component cannot record outputs its dependants cannot read.
#[derive(Clone, Copy)]
pub struct OutputType {
    name: &'static str,
    check: fn(&Outputs) -> Result<(), serde_json::Error>,
}

impl OutputType {
    /// The output type `T` (one of the structs of [`crate::contracts`], or your own).
    pub fn of<T: DeserializeOwned>() -> Self {
        fn check<T: DeserializeOwned>(o: &Outputs) -> Result<(), serde_json::Error> {
            from_outputs::<T>(o).map(|_| ())
        }
        OutputType { name: std::any::type_name::<T>(), check: check::<T> }
    }

    /// The Rust type's name (`tandem_core::contracts::NetworkOutputs`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The short type name (`NetworkOutputs`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit("::").next().unwrap_or(self.name)
    }

    /// Whether `outputs` deserialize into the declared type; the serde error names the
    /// missing or mistyped field.
    pub fn check(&self, outputs: &Outputs) -> Result<(), serde_json::Error> {
        (self.check)(outputs)
    }
}

impl std::fmt::Debug for OutputType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OutputType").field(&self.name).finish()
    }
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

impl Drift {
    /// The verdict of a read that collected what is `missing` and what `drifted`: Missing
    /// (with both lists) when anything is missing, else Drifted, else InSync.
    pub fn from_findings(mut missing: Vec<String>, drifted: Vec<String>) -> Self {
        if !missing.is_empty() {
            missing.extend(drifted);
            Drift::Missing { details: missing }
        } else if !drifted.is_empty() {
            Drift::Drifted { details: drifted }
        } else {
            Drift::InSync
        }
    }
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
    /// The typed outputs `apply` returns (checked by the engine after every apply).
    fn output_type(&self) -> OutputType;
    /// Expected duration of a create on real AWS, for critical-path scheduling.
    fn expected_duration(&self) -> Duration;
    /// Desired configuration (no secret values).
    fn desired(&self) -> Desired;
    /// False when configuration says this component should not exist (e.g. no hosted zone:
    /// no failover records). An unwanted component with state is deleted.
    fn wanted(&self) -> bool {
        true
    }
    /// What user data this component holds, in a few words ("the items of DynamoDB table
    /// table-dev"), or None (the default) when it holds none that a re-creation would lose.
    /// An `apply` never replaces or deletes a component that holds data unless the user
    /// names it (`--allow-data-loss ID`, see [`crate::protection`]).
    fn holds_data(&self) -> Option<String> {
        None
    }
    /// How much data a destroy would delete, counted where it is cheap (items, objects,
    /// recovery points; bounded), said before `destroy` asks for confirmation. None (the
    /// default) when there is nothing to say. A failure is shown, never blocks the destroy.
    async fn data_summary(&self, _ctx: &Ctx) -> Result<Option<String>, ComponentError> {
        Ok(None)
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

/// A resource's slot in its component's journal. Components declare their keys as
/// constants (`const VPC: Key = Key::new("vpc");`) or derive them from a name for
/// families of resources (`Key::owned(format!("param:{name}"))`); the protocol operations
/// of [`Ctx`] take nothing else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(std::borrow::Cow<'static, str>);

impl Key {
    pub const fn new(key: &'static str) -> Self {
        Key(std::borrow::Cow::Borrowed(key))
    }

    /// A key computed at run time (one per parameter, per route, ...).
    pub fn owned(key: impl Into<String>) -> Self {
        Key(std::borrow::Cow::Owned(key.into()))
    }

    /// `<self>-<part>`: one key per member of a family (`subnet-public-0`).
    pub fn child(&self, part: impl std::fmt::Display) -> Self {
        Key::owned(format!("{}-{part}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
    cancel: CancelFlag,
}

impl Ctx {
    pub(crate) fn new(
        id: String,
        region: String,
        action: Action,
        inputs: BTreeMap<String, Outputs>,
        prior: Option<ComponentState>,
        state: StateHandle,
        cancel: CancelFlag,
    ) -> Self {
        Self { id, region, action, inputs, prior, state, cancel }
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
            cancel: CancelFlag::default(),
        }
    }

    /// Adds a dependency's outputs (builder style, for tests and embedding).
    pub fn with_input<T: Serialize>(mut self, dep: &str, outputs: &T) -> Self {
        self.inputs.insert(dep.to_string(), to_outputs(outputs));
        self
    }

    /// Sets the prior state (builder style). The journal is seeded with it: the prior state
    /// and the journal are one source of truth, as when the engine runs the component.
    pub fn with_prior(mut self, prior: ComponentState) -> Self {
        let id = self.id.clone();
        let seeded = prior.clone();
        self.state.mutate(|doc| doc.insert_component(&id, seeded));
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

    /// The journal entry of resource `key` as it stands now: the prior state's, updated by
    /// this run's writes (one source of truth).
    pub async fn resource(&self, key: &str) -> Option<ResourceEntry> {
        self.state.resource(&self.id, key).await
    }

    /// The journal entry of `key` (typed key).
    pub async fn entry(&self, key: &Key) -> Option<ResourceEntry> {
        self.state.resource(&self.id, key.as_str()).await
    }

    /// The id recorded for `key`, whatever the entry's status (a pending update or delete
    /// keeps the id of the resource it acts on). None for an unknown key, or a create whose
    /// answer never came (then only a lookup by name or tag can tell).
    pub async fn recorded_id(&self, key: &Key) -> Option<String> {
        self.entry(key).await.and_then(|e| e.known_id().map(str::to_string))
    }

    /// The id recorded for resource `key` (done entries only).
    pub async fn resource_id(&self, key: &str) -> Option<String> {
        match self.resource(key).await {
            Some(ResourceEntry { id: Some(id), status: ResourceStatus::Done, .. }) => Some(id),
            _ => None,
        }
    }

    /// Every journal key of this component.
    pub async fn keys(&self) -> Vec<Key> {
        self.state.resources(&self.id).await.into_keys().map(Key::owned).collect()
    }

    pub(crate) async fn write(&self, key: &Key, op: Op, id: Option<String>, status: ResourceStatus) -> Result<ResourceEntry, ComponentError> {
        self.state.journal(&self.id, key.as_str(), op, id, status).await
    }

    /// Records a resource found by id, name or tag (no AWS call), unless the journal already
    /// has it done with this id. Also resolves a `pending` entry left by an interrupted run.
    pub async fn adopt(&self, key: &Key, id: &str) -> Result<(), ComponentError> {
        match self.entry(key).await {
            Some(e) if e.status == ResourceStatus::Done && e.id.as_deref() == Some(id) => Ok(()),
            _ => self.write(key, Op::Adopt, Some(id.to_string()), ResourceStatus::Done).await.map(|_| ()),
        }
    }

    /// Removes `key` from the journal once its resource is deleted.
    pub async fn forget(&self, key: &Key) -> Result<(), ComponentError> {
        self.state.forget(&self.id, key.as_str()).await
    }

    /// Forgets every journal key of this component (after a complete destroy).
    pub async fn forget_all(&self) -> Result<(), ComponentError> {
        for key in self.keys().await {
            self.forget(&key).await?;
        }
        Ok(())
    }

    // The raw journal writes below exist for the engine's own fault tests (a process killed
    // between an AWS create and its `done`); components never call them: they describe
    // resources to `ensure` / `update` / `delete` / `adopt`, which own the journal.

    /// Raw journal write: `key` is about to be mutated (engine fault tests only).
    #[doc(hidden)]
    #[deprecated(note = "components use Ctx::ensure / update / delete / adopt, which own the journal")]
    pub async fn pending(&self, key: &str, op: &str) -> Result<(), ComponentError> {
        self.state.journal(&self.id, key, Op::parse(op), None, ResourceStatus::Pending).await.map(|_| ())
    }

    /// Raw journal write: the mutation of `key` succeeded (engine fault tests only).
    #[doc(hidden)]
    #[deprecated(note = "components use Ctx::ensure / update / delete / adopt, which own the journal")]
    pub async fn done(&self, key: &str, resource_id: &str) -> Result<(), ComponentError> {
        let op = match self.resource(key).await {
            Some(e) if e.status == ResourceStatus::Pending => e.op,
            _ => Op::Adopt,
        };
        self.state.journal(&self.id, key, op, Some(resource_id.to_string()), ResourceStatus::Done).await.map(|_| ())
    }

    /// Raw journal write: `key` is deleted (engine fault tests only).
    #[doc(hidden)]
    #[deprecated(note = "components use Ctx::delete, which owns the journal")]
    pub async fn removed(&self, key: &str) -> Result<(), ComponentError> {
        self.state.forget(&self.id, key).await
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

#[cfg(test)]
mod drift_tests {
    use super::Drift;

    #[test]
    fn findings_make_the_verdict_missing_first() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(Drift::from_findings(vec![], vec![]), Drift::InSync);
        assert_eq!(Drift::from_findings(vec![], s(&["b"])), Drift::Drifted { details: s(&["b"]) });
        assert_eq!(Drift::from_findings(s(&["a"]), s(&["b"])), Drift::Missing { details: s(&["a", "b"]) });
    }
}
