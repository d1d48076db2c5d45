//! The state document of a stack, its journal, and its backends.
//!
//! One JSON document per stack holds, per component, its status, the hashes the planner
//! compares, its outputs and a journal of the resources it manages (`pending` before each
//! mutation, `done` with the id/ARN after it, `failed` on error). A run killed at any point
//! leaves `pending` entries; the next run's component adopts the resource by name/tag if it
//! exists, else creates it.
//!
//! Writes go through [`StateHandle`]: mutations are applied in memory at once, then
//! persisted by whoever holds the write lock (serialised, coalesced: one write covers every
//! mutation made before it). Only the task that journals waits for its write; the executor
//! loop never does. The local backend writes `state.json.tmp`, fsyncs, keeps the previous
//! version as `state.json.bak` and renames atomically.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::component::{Outputs, Placement};
use crate::error::ComponentError;

pub const STATE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state of stack '{stack}' is locked by pid {pid} on {host} since {since} ({path}); wait for that run to finish, or delete the lock file if no tandem process is running")]
    Locked { stack: String, pid: u32, host: String, since: String, path: PathBuf },
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt and has no readable backup: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("state {path} was written by a newer tandem (version {found}, this one reads up to {supported}): upgrade tandem")]
    NewerVersion { path: PathBuf, found: u64, supported: u32 },
    #[error("state {path} is not a tandem state document: {message}")]
    NotState { path: PathBuf, message: String },
    #[error("state backend: {0}")]
    Backend(String),
}

/// Something wrong with the state that did not stop the load, for the CLI to print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateWarning {
    #[error("state file {path} is unreadable ({error}; a torn write?): using its backup {backup}, which may miss the last changes of the run that wrote it")]
    UsedBackup { path: PathBuf, backup: PathBuf, error: String },
}

/// Parses a state document, checking its `version` first: a document of a newer version
/// than [`STATE_VERSION`] is refused (its meaning may have changed), older ones load.
/// `Err(Ok(e))` is a refusal to pass on as is; `Err(Err(msg))` is an unparseable document.
pub(crate) fn parse_doc(path: &Path, bytes: &[u8]) -> Result<StateDoc, Result<StateError, String>> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Err(e.to_string()))?;
    match value.get("version").map(serde_json::Value::as_u64) {
        Some(Some(v)) if v > u64::from(STATE_VERSION) => {
            return Err(Ok(StateError::NewerVersion { path: path.to_path_buf(), found: v, supported: STATE_VERSION }));
        }
        Some(Some(_)) => {}
        Some(None) => return Err(Ok(StateError::NotState { path: path.to_path_buf(), message: "`version` is not a number".into() })),
        None => return Err(Ok(StateError::NotState { path: path.to_path_buf(), message: "it has no `version`".into() })),
    }
    serde_json::from_value(value).map_err(|e| Err(e.to_string()))
}

/// Creates (truncating) a file readable and writable by its owner only (0600 from its
/// creation on, not after the write).
pub(crate) fn create_private(path: &Path, new: bool) -> std::io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true);
    if new {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Writes `bytes` to `path` through a private temp file and an atomic rename.
fn write_private_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = create_private(&tmp, false)?;
        // A temp file left by an older tandem keeps its mode on truncation: narrow it.
        set_private(&f)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

fn set_private(f: &fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    let _ = f;
    Ok(())
}

/// Status of a component in state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentStatus {
    /// An apply started and has not finished (interrupted runs leave this).
    Pending,
    /// Applied successfully; outputs are valid.
    Applied,
    /// The last apply failed.
    Failed,
    /// A destroy started and has not finished.
    Destroying,
}

/// Status of one journaled resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceStatus {
    Pending,
    Done,
    Failed,
}

/// The operation a journal entry records.
///
/// Written as lowercase strings; older state files wrote free-form verbs (`upsert`,
/// `modify`, `put-policy`, ...), which read as [`Op::Update`], and `done`, which reads as
/// [`Op::Recorded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A create call (or a resumed one: the entry keeps its idempotency token).
    #[serde(alias = "replace", alias = "register", alias = "peering-accept")]
    Create,
    /// An in-place change of an existing resource.
    #[serde(
        alias = "upsert",
        alias = "modify",
        alias = "put",
        alias = "tag",
        alias = "tags",
        alias = "revoke",
        alias = "update-config",
        alias = "update-code",
        alias = "put-retention",
        alias = "put-policy",
        alias = "pitr"
    )]
    Update,
    /// A delete call.
    Delete,
    /// A resource found by id, name or tag and taken into the journal without a call.
    Adopt,
    /// Written by state files older than typed ops (`done`), or an unknown verb.
    #[serde(other)]
    Recorded,
}

impl Op {
    /// Parses a legacy free-form verb.
    pub fn parse(verb: &str) -> Op {
        serde_json::from_value(serde_json::Value::String(verb.to_string())).unwrap_or(Op::Recorded)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Adopt => "adopt",
            Op::Recorded => "recorded",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One journaled resource of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceEntry {
    /// Id or ARN once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub status: ResourceStatus,
    /// The operation journaled.
    pub op: Op,
    /// The idempotency token of a create, derived when the create is first journaled and
    /// kept (by every retry, and by a resumed run) until the create is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Unix seconds.
    pub at: u64,
}

impl ResourceEntry {
    /// The recorded id, if any and not empty.
    pub fn known_id(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| !id.is_empty())
    }
}

/// A journal write that the protocol forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal journal transition for {component}/{key}: {from} -> {to:?} ({op})")]
pub struct IllegalTransition {
    pub component: String,
    pub key: String,
    /// `none` or the previous status.
    pub from: String,
    pub to: ResourceStatus,
    pub op: Op,
}

/// The journal's state machine: what may follow what.
///
/// - anything (or nothing) may become `pending` (a mutation is about to happen);
/// - `done` and `failed` follow a `pending` entry (the mutation's result);
/// - `done` without a `pending` entry only for [`Op::Adopt`] (a resource found, no call).
pub fn check_transition(prev: Option<&ResourceEntry>, to: ResourceStatus, op: Op) -> Result<(), String> {
    let from = prev.map(|p| p.status);
    match (from, to) {
        (_, ResourceStatus::Pending) => Ok(()),
        (Some(ResourceStatus::Pending), ResourceStatus::Done | ResourceStatus::Failed) => Ok(()),
        (_, ResourceStatus::Done) if op == Op::Adopt => Ok(()),
        (from, to) => Err(format!(
            "{} -> {to:?} ({op}): a {to:?} entry must follow a pending one{}",
            from.map(|f| format!("{f:?}")).unwrap_or_else(|| "none".into()),
            if to == ResourceStatus::Done { " (or be an adoption)" } else { "" }
        )),
    }
}

/// The recorded state of one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentState {
    pub status: ComponentStatus,
    pub kind: String,
    pub placement: Placement,
    pub region: String,
    /// Hash of the desired configuration's replace-forcing part.
    pub replace_hash: String,
    /// Hash of the desired configuration's updatable part.
    pub update_hash: String,
    /// Per top-level key of the replace-forcing part, its hash (so a plan can name what
    /// changed without state holding the values). Absent in state written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replace_keys: BTreeMap<String, String>,
    /// Per top-level key of the updatable part, its hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub update_keys: BTreeMap<String, String>,
    /// Hash of the dependency outputs consumed by the last apply.
    #[serde(default)]
    pub inputs_hash: String,
    #[serde(default)]
    pub outputs: Outputs,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub updated_at: u64,
}

impl ComponentState {
    /// A fresh record (for tests and for the engine).
    pub fn new(kind: &str, placement: Placement, region: &str) -> Self {
        Self {
            status: ComponentStatus::Pending,
            kind: kind.to_string(),
            placement,
            region: region.to_string(),
            replace_hash: String::new(),
            update_hash: String::new(),
            replace_keys: BTreeMap::new(),
            update_keys: BTreeMap::new(),
            inputs_hash: String::new(),
            outputs: Outputs::new(),
            resources: BTreeMap::new(),
            error: None,
            updated_at: now(),
        }
    }

    /// Adds a done resource (builder style, for tests).
    pub fn with_resource(mut self, key: &str, id: &str) -> Self {
        self.resources.insert(
            key.to_string(),
            ResourceEntry { id: Some(id.to_string()), status: ResourceStatus::Done, op: Op::Create, token: None, at: now() },
        );
        self
    }

    /// Adds a `pending` create of `key` with no id (builder style, for tests): what a run
    /// killed after sending the create, before its answer, leaves in the journal.
    pub fn with_pending_create(mut self, key: &str, token: Option<&str>) -> Self {
        self.resources.insert(
            key.to_string(),
            ResourceEntry { id: None, status: ResourceStatus::Pending, op: Op::Create, token: token.map(str::to_string), at: 0 },
        );
        self
    }

    /// Sets outputs (builder style, for tests).
    pub fn with_outputs(mut self, outputs: Outputs) -> Self {
        self.outputs = outputs;
        self.status = ComponentStatus::Applied;
        self
    }
}

/// The whole state of a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDoc {
    pub version: u32,
    pub stack: String,
    /// Incremented on every mutation.
    pub serial: u64,
    /// Shared records: copying the document (for every write, and for each plan) copies
    /// pointers, and a mutation copies only the record it changes (`Arc::make_mut`).
    pub components: BTreeMap<String, Arc<ComponentState>>,
    /// The operations run on the stack outside apply/destroy (failover, switchover), oldest
    /// first, at most [`MAX_OPERATIONS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationRecord>,
    /// The AWS account the stack was applied in (recorded by `apply`): credentials of another
    /// account are refused, and commands that cannot ask STS name the stack's buckets with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// How many operation records the state keeps (the oldest are dropped).
pub const MAX_OPERATIONS: usize = 50;

/// What an operation outside apply/destroy did (`failover`, `switchover`): the history an
/// operator reads after an outage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationRecord {
    /// The command, e.g. `failover --unplanned`, `switchover --to primary`.
    pub command: String,
    /// When it started (Unix seconds).
    pub started_at: u64,
    pub ok: bool,
    /// What it did and what it could not do, one line each.
    pub done: Vec<String>,
    pub not_done: Vec<String>,
    /// When it went into the state, if later than it ran (its state was unreachable then,
    /// see [`PendingOperations`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_late_at: Option<u64>,
}

impl StateDoc {
    pub fn new(stack: &str) -> Self {
        Self { version: STATE_VERSION, stack: stack.to_string(), serial: 0, components: BTreeMap::new(), operations: Vec::new(), account: None }
    }

    /// Appends an operation record, keeping the last [`MAX_OPERATIONS`].
    pub fn record_operation(&mut self, op: OperationRecord) {
        self.operations.push(op);
        let extra = self.operations.len().saturating_sub(MAX_OPERATIONS);
        self.operations.drain(..extra);
    }

    /// The record of `id` for mutation (copied first if a snapshot still shares it).
    pub fn component_mut(&mut self, id: &str) -> Option<&mut ComponentState> {
        self.components.get_mut(id).map(Arc::make_mut)
    }

    /// The record of `id` for mutation, created by `new` when absent.
    pub fn component_or_insert(&mut self, id: &str, new: impl FnOnce() -> ComponentState) -> &mut ComponentState {
        Arc::make_mut(self.components.entry(id.to_string()).or_insert_with(|| Arc::new(new())))
    }

    /// Inserts (or replaces) the record of `id`.
    pub fn insert_component(&mut self, id: &str, state: ComponentState) {
        self.components.insert(id.to_string(), Arc::new(state));
    }

    /// Components whose journal has a pending or failed entry (an interrupted run).
    pub fn unresolved(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        for (cid, c) in &self.components {
            for (key, r) in &c.resources {
                if r.status != ResourceStatus::Done {
                    out.push((cid.as_str(), key.as_str()));
                }
            }
        }
        out
    }
}

/// An idempotency token for a create of `component/key`: 32 hex characters (within every
/// AWS token's limits: ACM's `IdempotencyToken` is at most 32 word characters), derived from
/// the stack, the journal key and the journal's serial when the create was first journaled,
/// so two creates of one key (after a delete) never share a token.
pub fn derive_token(stack: &str, component: &str, key: &str, serial: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [stack, component, key, &serial.to_string(), &now_nanos().to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Operations that ran while their state could not be reached (its S3 bucket is in the
/// region that was down): kept in a local file, `<dir>/<stack>/pending-operations.json`,
/// until a command that holds the state's lock moves them into it
/// ([`PendingOperations::take`], then [`StateDoc::record_operation`]).
pub struct PendingOperations {
    path: PathBuf,
}

impl PendingOperations {
    pub fn new(root: &Path, stack: &str) -> Self {
        Self { path: root.join(stack).join("pending-operations.json") }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: std::io::Error) -> StateError {
        StateError::Backend(format!("{}: {e}", self.path.display()))
    }

    /// The records waiting to go into the state (none when the file does not exist).
    pub fn load(&self) -> Result<Vec<OperationRecord>, StateError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Backend(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Adds a record (atomic replace of the file).
    pub fn add(&self, op: OperationRecord) -> Result<(), StateError> {
        let mut all = self.load()?;
        all.push(op);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let bytes = serde_json::to_vec_pretty(&all).map_err(|e| StateError::Backend(e.to_string()))?;
        write_private_atomic(&self.path, &bytes).map_err(|e| self.io(e))
    }

    /// Removes the file once its records are durably in the state.
    pub fn clear(&self) -> Result<(), StateError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }
}

/// Where the state document lives.
pub trait StateBackend: Send + Sync {
    /// Reads the document, or None if the stack has no state yet.
    fn load(&self) -> Result<Option<StateDoc>, StateError>;
    /// [`StateBackend::load`], with what went wrong but did not stop it (a torn file read
    /// from its backup) for the caller to report.
    fn load_checked(&self) -> Result<(Option<StateDoc>, Vec<StateWarning>), StateError> {
        Ok((self.load()?, Vec::new()))
    }
    /// Durably replaces the document.
    fn save(&self, doc: &StateDoc) -> Result<(), StateError>;
    /// Human description (path or URL).
    fn describe(&self) -> String;
    /// Takes the stack's exclusive lock; a held lock is a [`StateError::Locked`].
    fn lock(&self, stack: &str) -> Result<LockGuard, StateError>;
}

/// Keeps the document in memory only (tests, `Ctx::standalone`).
#[derive(Default)]
pub struct MemoryBackend {
    doc: Mutex<Option<StateDoc>>,
    pub writes: AtomicU64,
}

impl StateBackend for MemoryBackend {
    fn load(&self) -> Result<Option<StateDoc>, StateError> {
        Ok(self.doc.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
    fn save(&self, doc: &StateDoc) -> Result<(), StateError> {
        *self.doc.lock().unwrap_or_else(|p| p.into_inner()) = Some(doc.clone());
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn lock(&self, _stack: &str) -> Result<LockGuard, StateError> {
        Ok(LockGuard::new(|| ()))
    }
}

/// `.tandem/<stack>/state.json` with atomic replace and a backup of the previous version.
pub struct LocalBackend {
    dir: PathBuf,
}

impl LocalBackend {
    pub fn new(root: &Path, stack: &str) -> Self {
        Self { dir: root.join(stack) }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn io(path: &Path, source: std::io::Error) -> StateError {
        StateError::Io { path: path.to_path_buf(), source }
    }

    /// `None`: no file; `Some(Err(msg))`: a file that does not parse (torn); a document of a
    /// newer version is an error.
    fn read(path: &Path) -> Result<Option<Result<StateDoc, String>>, StateError> {
        match fs::read(path) {
            Ok(bytes) => match parse_doc(path, &bytes) {
                Ok(doc) => Ok(Some(Ok(doc))),
                Err(Ok(refused)) => Err(refused),
                Err(Err(msg)) => Ok(Some(Err(msg))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(path, e)),
        }
    }

    /// Takes the stack's lock: a file created exclusively (mode 0600), holding pid, host and
    /// time. A lock left by a dead process on this host is taken over, atomically: only the
    /// process that creates `lock.takeover` (exclusively) may replace it, and it replaces it
    /// (by a rename over it) only if it still holds exactly what was judged stale. Two
    /// processes racing for one stale lock: exactly one gets it.
    fn lock_file(&self, stack: &str) -> Result<LockGuard, StateError> {
        fs::create_dir_all(&self.dir).map_err(|e| Self::io(&self.dir, e))?;
        let path = self.dir.join("lock");
        let host = hostname();
        let info = LockInfo { pid: std::process::id(), host: host.clone(), since: now() };
        let body = serde_json::to_vec(&info).map_err(|e| StateError::Backend(e.to_string()))?;
        let held = |path: PathBuf, took_over: Option<TakenOver>| {
            let mut g = LockGuard::new(move || {
                let _ = fs::remove_file(&path);
            });
            g.took_over = took_over;
            g
        };
        for _ in 0..3 {
            match create_private(&path, true) {
                Ok(mut f) => {
                    f.write_all(&body).map_err(|e| Self::io(&path, e))?;
                    f.sync_all().map_err(|e| Self::io(&path, e))?;
                    return Ok(held(path, None));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let seen = match fs::read(&path) {
                        Ok(b) => b,
                        // Released between our create and our read: try again.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(Self::io(&path, e)),
                    };
                    let holder: LockInfo =
                        serde_json::from_slice(&seen).unwrap_or(LockInfo { pid: 0, host: "unknown".into(), since: 0 });
                    if !(holder.host == host && holder.pid != 0 && !pid_alive(holder.pid)) {
                        return Err(StateError::Locked {
                            stack: stack.to_string(),
                            pid: holder.pid,
                            host: holder.host,
                            since: format!("unix {}", holder.since),
                            path,
                        });
                    }
                    match self.take_over(&path, &seen, &body)? {
                        Some(()) => {
                            let age = now().saturating_sub(holder.since);
                            return Ok(held(path, Some(TakenOver { pid: holder.pid, host: holder.host, age_secs: age, why: "its process is gone".into() })));
                        }
                        None => continue,
                    }
                }
                Err(e) => return Err(Self::io(&path, e)),
            }
        }
        Err(StateError::Backend(format!("could not take lock {}", path.display())))
    }

    /// Replaces the stale lock at `path` (whose bytes were `seen`) with `body`, under the
    /// takeover file. `Ok(None)`: the lock changed meanwhile (try again from the start); a
    /// takeover file held by another process is a [`StateError::Locked`].
    fn take_over(&self, path: &Path, seen: &[u8], body: &[u8]) -> Result<Option<()>, StateError> {
        let takeover = self.dir.join("lock.takeover");
        let mut t = match create_private(&takeover, true) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let other: LockInfo = fs::read(&takeover)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(LockInfo { pid: 0, host: "unknown".into(), since: 0 });
                return Err(StateError::Locked {
                    stack: self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                    pid: other.pid,
                    host: other.host,
                    since: format!("unix {} (taking over a stale lock; if no tandem process runs, delete this file)", other.since),
                    path: takeover,
                });
            }
            Err(e) => return Err(Self::io(&takeover, e)),
        };
        let result = (|| {
            t.write_all(body).map_err(|e| Self::io(&takeover, e))?;
            // Nobody else may remove or replace the lock while we hold the takeover file, and
            // nobody can create it while it exists: if it still holds what we judged stale,
            // the rename replaces exactly that lock, with no moment without one.
            match fs::read(path) {
                Ok(now_seen) if now_seen == seen => {}
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Self::io(path, e)),
            }
            let tmp = self.dir.join(format!("lock.{}.tmp", std::process::id()));
            {
                let mut f = create_private(&tmp, false).map_err(|e| Self::io(&tmp, e))?;
                f.write_all(body).map_err(|e| Self::io(&tmp, e))?;
                f.sync_all().map_err(|e| Self::io(&tmp, e))?;
            }
            fs::rename(&tmp, path).map_err(|e| Self::io(path, e))?;
            Ok(Some(()))
        })();
        let _ = fs::remove_file(&takeover);
        result
    }
}

/// A lock taken over from a holder that was gone (local: its process died; S3: older
/// than the configured expiry), for the CLI to say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenOver {
    pub pid: u32,
    pub host: String,
    pub age_secs: u64,
    pub why: String,
}

impl std::fmt::Display for TakenOver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "took over the state lock of pid {} on {}, taken {} ago: {}",
            self.pid,
            self.host,
            human_age(self.age_secs),
            self.why
        )
    }
}

/// `90` → `1m30s`, `7200` → `2h0m`.
pub fn human_age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct LockInfo {
    pub(crate) pid: u32,
    pub(crate) host: String,
    pub(crate) since: u64,
}

pub(crate) fn hostname() -> String {
    fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}

fn pid_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Releases the lock when dropped.
pub struct LockGuard {
    release: Option<Box<dyn FnOnce() + Send>>,
    took_over: Option<TakenOver>,
}

impl LockGuard {
    pub fn new(release: impl FnOnce() + Send + 'static) -> Self {
        Self { release: Some(Box::new(release)), took_over: None }
    }

    /// This lock, taken over from a holder judged gone.
    pub fn with_takeover(mut self, t: TakenOver) -> Self {
        self.took_over = Some(t);
        self
    }

    /// Whose lock this one replaced, if it was taken over (for the CLI to say so).
    pub fn took_over(&self) -> Option<&TakenOver> {
        self.took_over.as_ref()
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockGuard")
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(r) = self.release.take() {
            r();
        }
    }
}

impl StateBackend for LocalBackend {
    fn load(&self) -> Result<Option<StateDoc>, StateError> {
        let (doc, warnings) = self.load_checked()?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        Ok(doc)
    }

    /// A `state.json` that does not parse (a torn write) is reported and its `.bak` used,
    /// only then; a document of a newer version is refused, never replaced by the backup.
    fn load_checked(&self) -> Result<(Option<StateDoc>, Vec<StateWarning>), StateError> {
        let path = self.path();
        let bak = self.dir.join("state.json.bak");
        match Self::read(&path)? {
            None => Ok((None, Vec::new())),
            Some(Ok(doc)) => Ok((Some(doc), Vec::new())),
            Some(Err(msg)) => match Self::read(&bak)? {
                Some(Ok(doc)) => Ok((Some(doc), vec![StateWarning::UsedBackup { path, backup: bak, error: msg }])),
                _ => Err(StateError::Corrupt { path, message: msg }),
            },
        }
    }

    fn save(&self, doc: &StateDoc) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(|e| Self::io(&self.dir, e))?;
        let path = self.path();
        let tmp = self.dir.join("state.json.tmp");
        let bak = self.dir.join("state.json.bak");
        let body = serde_json::to_vec_pretty(doc).map_err(|e| StateError::Backend(e.to_string()))?;
        {
            let mut f = create_private(&tmp, false).map_err(|e| Self::io(&tmp, e))?;
            set_private(&f).map_err(|e| Self::io(&tmp, e))?;
            f.write_all(&body).map_err(|e| Self::io(&tmp, e))?;
            f.sync_all().map_err(|e| Self::io(&tmp, e))?;
        }
        // Keep the previous version, if it is a good one: a torn state.json then falls back
        // to it (a torn one is not copied over the last good backup).
        if let Ok(prev) = fs::read(&path) {
            if parse_doc(&path, &prev).is_ok() {
                let mut b = create_private(&bak, false).map_err(|e| Self::io(&bak, e))?;
                set_private(&b).map_err(|e| Self::io(&bak, e))?;
                b.write_all(&prev).map_err(|e| Self::io(&bak, e))?;
                b.sync_all().map_err(|e| Self::io(&bak, e))?;
            }
        }
        fs::rename(&tmp, &path).map_err(|e| Self::io(&path, e))?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.path().display().to_string()
    }

    fn lock(&self, stack: &str) -> Result<LockGuard, StateError> {
        self.lock_file(stack)
    }
}

struct Inner {
    doc: Mutex<StateDoc>,
    backend: Arc<dyn StateBackend>,
    persisted: AtomicU64,
    write: tokio::sync::Mutex<()>,
}

/// Shared, serialised access to the state document.
#[derive(Clone)]
pub struct StateHandle {
    inner: Arc<Inner>,
}

impl StateHandle {
    pub fn new(doc: StateDoc, backend: Arc<dyn StateBackend>) -> Self {
        let serial = doc.serial;
        Self {
            inner: Arc::new(Inner {
                doc: Mutex::new(doc),
                backend,
                persisted: AtomicU64::new(serial),
                write: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A handle over an empty in-memory document.
    pub fn in_memory() -> Self {
        Self::new(StateDoc::new("memory"), Arc::new(MemoryBackend::default()))
    }

    /// A copy of the current document.
    pub fn snapshot(&self) -> StateDoc {
        self.lock_doc().clone()
    }

    fn lock_doc(&self) -> std::sync::MutexGuard<'_, StateDoc> {
        self.inner.doc.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `f` to the document in memory and returns the new serial.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut StateDoc) -> R) -> (R, u64) {
        let mut doc = self.lock_doc();
        let r = f(&mut doc);
        doc.serial += 1;
        (r, doc.serial)
    }

    /// Persists at least up to `serial`. Writes are serialised; a write that already covered
    /// `serial` makes this return at once.
    pub async fn persist(&self, serial: u64) -> Result<(), StateError> {
        let _g = self.inner.write.lock().await;
        if self.inner.persisted.load(Ordering::SeqCst) >= serial {
            return Ok(());
        }
        let snapshot = self.snapshot();
        let backend = self.inner.backend.clone();
        let s = snapshot.serial;
        tokio::task::spawn_blocking(move || backend.save(&snapshot))
            .await
            .map_err(|e| StateError::Backend(format!("state writer panicked: {e}")))??;
        self.inner.persisted.store(s, Ordering::SeqCst);
        Ok(())
    }

    /// Mutates and persists.
    pub async fn update<R>(&self, f: impl FnOnce(&mut StateDoc) -> R) -> Result<R, StateError> {
        let (r, serial) = self.mutate(f);
        self.persist(serial).await?;
        Ok(r)
    }

    /// Writes one journal entry, durable before it returns. Rejects writes the journal's
    /// state machine forbids ([`check_transition`]). A `pending` create keeps the token of
    /// a `pending` entry it follows (a retry or a resumed run), else derives a new one.
    pub(crate) async fn journal(
        &self,
        component: &str,
        key: &str,
        op: Op,
        id: Option<String>,
        status: ResourceStatus,
    ) -> Result<ResourceEntry, ComponentError> {
        let (written, serial) = self.mutate(|doc| {
            let stack = doc.stack.clone();
            let serial = doc.serial;
            let c = doc.component_or_insert(component, || ComponentState::new("unknown", Placement::Global, "unknown"));
            let prev = c.resources.get(key);
            if let Err(why) = check_transition(prev, status, op) {
                return Err(IllegalTransition {
                    component: component.to_string(),
                    key: key.to_string(),
                    from: why,
                    to: status,
                    op,
                });
            }
            let prev_id = prev.and_then(|r| r.id.clone());
            let token = match (status, prev) {
                (ResourceStatus::Pending, Some(p)) if p.status == ResourceStatus::Pending && p.token.is_some() => p.token.clone(),
                (ResourceStatus::Pending, _) if op == Op::Create => Some(derive_token(&stack, component, key, serial)),
                (ResourceStatus::Failed, Some(p)) => p.token.clone(),
                _ => None,
            };
            let entry = ResourceEntry { id: id.or(prev_id), status, op, token, at: now() };
            c.resources.insert(key.to_string(), entry.clone());
            c.updated_at = now();
            Ok(entry)
        });
        let entry = written.map_err(|e| ComponentError::Journal(e.to_string()))?;
        self.persist(serial).await.map_err(|e| ComponentError::Journal(e.to_string()))?;
        Ok(entry)
    }

    pub(crate) async fn forget(&self, component: &str, key: &str) -> Result<(), ComponentError> {
        self.update(|doc| {
            if let Some(c) = doc.component_mut(component) {
                c.resources.remove(key);
            }
        })
        .await
        .map_err(|e| ComponentError::Journal(e.to_string()))
    }

    /// A copy of one component's record (without copying the whole document).
    pub fn component(&self, id: &str) -> Option<ComponentState> {
        self.lock_doc().components.get(id).map(|c| ComponentState::clone(c))
    }

    pub async fn resource(&self, component: &str, key: &str) -> Option<ResourceEntry> {
        self.lock_doc().components.get(component).and_then(|c| c.resources.get(key).cloned())
    }

    pub async fn resources(&self, component: &str) -> BTreeMap<String, ResourceEntry> {
        self.lock_doc().components.get(component).map(|c| c.resources.clone()).unwrap_or_default()
    }

    pub fn backend(&self) -> &Arc<dyn StateBackend> {
        &self.inner.backend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_operations_are_kept_until_cleared_and_the_state_keeps_the_last_fifty() {
        let dir = tempfile::tempdir().unwrap();
        let p = PendingOperations::new(dir.path(), "dev");
        assert_eq!(p.load().unwrap(), Vec::<OperationRecord>::new(), "no file: nothing pending");
        let op = |n: u64| OperationRecord { command: format!("failover #{n}"), started_at: n, ok: true, done: vec![], not_done: vec![], recorded_late_at: None };
        p.add(op(1)).unwrap();
        p.add(op(2)).unwrap();
        assert_eq!(p.load().unwrap(), vec![op(1), op(2)]);
        assert!(p.path().ends_with("dev/pending-operations.json"));
        p.clear().unwrap();
        assert!(p.load().unwrap().is_empty());
        p.clear().unwrap();

        let mut doc = StateDoc::new("dev");
        for n in 0..(MAX_OPERATIONS as u64 + 5) {
            doc.record_operation(op(n));
        }
        assert_eq!(doc.operations.len(), MAX_OPERATIONS);
        assert_eq!(doc.operations[0].started_at, 5, "the oldest are dropped");
        // A document written before operations existed still loads; an empty list is not written.
        let old = serde_json::json!({"version": STATE_VERSION, "stack": "dev", "serial": 3, "components": {}});
        let loaded: StateDoc = serde_json::from_value(old).unwrap();
        assert!(loaded.operations.is_empty());
        assert!(!serde_json::to_string(&StateDoc::new("dev")).unwrap().contains("operations"));
    }

    fn sample() -> StateDoc {
        let mut doc = StateDoc::new("dev");
        let mut c = ComponentState::new("vpc", Placement::Primary, "us-east-1").with_resource("vpc", "vpc-123");
        c.outputs.insert("vpc_id".into(), serde_json::json!("vpc-123"));
        c.status = ComponentStatus::Applied;
        doc.insert_component("network-primary", c);
        doc.serial = 3;
        doc
    }

    #[test]
    fn round_trips_through_local_backend() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        assert_eq!(b.load().unwrap(), None);
        let doc = sample();
        b.save(&doc).unwrap();
        assert_eq!(b.load().unwrap(), Some(doc));
    }

    #[test]
    fn survives_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        let first = sample();
        b.save(&first).unwrap();
        let mut second = first.clone();
        second.serial = 4;
        b.save(&second).unwrap();
        // A crash mid-write on a filesystem without atomic rename: state.json is cut short.
        let full = fs::read(b.path()).unwrap();
        fs::write(b.path(), &full[..full.len() / 2]).unwrap();
        // And a half-written temp file lies around.
        fs::write(dir.path().join("dev/state.json.tmp"), b"{\"version\":").unwrap();
        let (loaded, warnings) = b.load_checked().unwrap();
        assert_eq!(loaded, Some(first.clone()), "falls back to the last complete version");
        // ... and says so: the file, the parse error, the backup used.
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = warnings[0].to_string();
        assert!(w.contains(&b.path().display().to_string()) && w.contains("EOF while parsing") && w.contains("state.json.bak"), "{w}");
        // A good state.json is read as is, with no warning, the backup untouched.
        b.save(&second).unwrap();
        let (loaded, warnings) = b.load_checked().unwrap();
        assert_eq!((loaded, warnings), (Some(second), vec![]));
    }

    #[test]
    fn a_torn_state_is_never_copied_over_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        let first = sample();
        b.save(&first).unwrap();
        b.save(&first).unwrap();
        fs::write(b.path(), b"{\"version\": 1, \"sta").unwrap();
        let mut next = first.clone();
        next.serial = 9;
        b.save(&next).unwrap();
        let bak: StateDoc = serde_json::from_slice(&fs::read(dir.path().join("dev/state.json.bak")).unwrap()).unwrap();
        assert_eq!(bak, first, "the backup keeps the last good version");
    }

    #[cfg(unix)]
    #[test]
    fn state_files_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        b.save(&sample()).unwrap();
        b.save(&sample()).unwrap();
        let _g = b.lock("dev").unwrap();
        let p = PendingOperations::new(dir.path(), "dev");
        p.add(OperationRecord { command: "failover".into(), started_at: 1, ok: true, done: vec![], not_done: vec![], recorded_late_at: None }).unwrap();
        for name in ["state.json", "state.json.bak", "lock", "pending-operations.json"] {
            let mode = fs::metadata(dir.path().join("dev").join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
        }
        // A state file left readable by an older tandem becomes private at the next write.
        fs::set_permissions(b.path(), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(dir.path().join("dev/state.json.tmp"), b"x").unwrap();
        fs::set_permissions(dir.path().join("dev/state.json.tmp"), fs::Permissions::from_mode(0o644)).unwrap();
        b.save(&sample()).unwrap();
        for name in ["state.json", "state.json.bak"] {
            let mode = fs::metadata(dir.path().join("dev").join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} has mode {mode:o} after a rewrite");
        }
    }

    #[test]
    fn a_state_of_a_newer_version_is_refused_and_older_ones_load() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        b.save(&sample()).unwrap();
        b.save(&sample()).unwrap();
        let mut newer = serde_json::to_value(sample()).unwrap();
        newer["version"] = serde_json::json!(STATE_VERSION + 1);
        newer["something_new"] = serde_json::json!({"x": 1});
        fs::write(b.path(), serde_json::to_vec(&newer).unwrap()).unwrap();
        let e = b.load().unwrap_err();
        assert!(matches!(e, StateError::NewerVersion { found, supported: STATE_VERSION, .. } if found == u64::from(STATE_VERSION) + 1), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("written by a newer tandem (version {}, this one reads up to {STATE_VERSION}): upgrade tandem", STATE_VERSION + 1)),
            "{msg}"
        );
        // An older version loads as today.
        let mut older = serde_json::to_value(sample()).unwrap();
        older["version"] = serde_json::json!(0);
        fs::write(b.path(), serde_json::to_vec(&older).unwrap()).unwrap();
        assert_eq!(b.load().unwrap().map(|d| d.serial), Some(3));
        // A document with no version is not taken for a state, nor replaced by the backup.
        fs::write(b.path(), b"{\"stack\": \"dev\"}").unwrap();
        assert!(matches!(b.load(), Err(StateError::NotState { .. })));
    }

    #[test]
    fn corrupt_without_backup_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        fs::create_dir_all(dir.path().join("dev")).unwrap();
        fs::write(b.path(), b"{not json").unwrap();
        let e = b.load().unwrap_err().to_string();
        assert!(e.contains("corrupt"), "{e}");
    }

    #[test]
    fn held_lock_is_a_clear_error_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        let g = b.lock("dev").unwrap();
        let e = b.lock("dev").unwrap_err().to_string();
        assert!(e.contains("locked by pid") && e.contains(&std::process::id().to_string()), "{e}");
        drop(g);
        let _g2 = b.lock("dev").unwrap();
    }

    #[test]
    fn stale_lock_of_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        fs::create_dir_all(dir.path().join("dev")).unwrap();
        let info = LockInfo { pid: 999_999_999, host: hostname(), since: 1 };
        fs::write(dir.path().join("dev/lock"), serde_json::to_vec(&info).unwrap()).unwrap();
        let g = b.lock("dev").unwrap();
        let t = g.took_over().expect("a takeover is reported").to_string();
        assert!(t.contains("pid 999999999") && t.contains(&hostname()) && t.contains("process is gone"), "{t}");
        let mine: LockInfo = serde_json::from_slice(&fs::read(dir.path().join("dev/lock")).unwrap()).unwrap();
        assert_eq!(mine.pid, std::process::id());
        assert!(!dir.path().join("dev/lock.takeover").exists(), "the takeover file is removed");
        drop(g);
        assert!(!dir.path().join("dev/lock").exists());
    }

    #[test]
    fn a_takeover_in_progress_is_not_raced() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "dev");
        fs::create_dir_all(dir.path().join("dev")).unwrap();
        let stale = LockInfo { pid: 999_999_999, host: hostname(), since: 1 };
        fs::write(dir.path().join("dev/lock"), serde_json::to_vec(&stale).unwrap()).unwrap();
        // Another process is taking this stale lock over.
        let other = LockInfo { pid: 1, host: hostname(), since: now() };
        fs::write(dir.path().join("dev/lock.takeover"), serde_json::to_vec(&other).unwrap()).unwrap();
        let e = b.lock("dev").unwrap_err();
        assert!(matches!(e, StateError::Locked { pid: 1, .. }), "{e:?}");
        let still: LockInfo = serde_json::from_slice(&fs::read(dir.path().join("dev/lock")).unwrap()).unwrap();
        assert_eq!(still.pid, 999_999_999, "the stale lock is left to the process taking it over");
    }

    /// The child side of [`two_processes_racing_for_one_stale_lock_one_wins`]: runs only when
    /// that test starts this test binary with `TANDEM_LOCK_RACE_DIR` set.
    #[test]
    fn lock_race_child() {
        let Some(root) = std::env::var_os("TANDEM_LOCK_RACE_DIR") else { return };
        let root = PathBuf::from(root);
        let go = root.join("go");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !go.exists() && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let b = LocalBackend::new(&root, "dev");
        let outcome = match b.lock("dev") {
            Ok(g) => {
                // Hold it long enough for every other racer to have tried.
                std::thread::sleep(std::time::Duration::from_millis(1500));
                drop(g);
                "won".to_string()
            }
            Err(StateError::Locked { .. }) => "locked".to_string(),
            Err(e) => format!("error {e}"),
        };
        fs::write(root.join(format!("result.{}", std::process::id())), outcome).unwrap();
    }

    #[test]
    fn two_processes_racing_for_one_stale_lock_one_wins() {
        let exe = std::env::current_exe().unwrap();
        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join("dev")).unwrap();
            let stale = LockInfo { pid: 999_999_999, host: hostname(), since: 1 };
            fs::write(dir.path().join("dev/lock"), serde_json::to_vec(&stale).unwrap()).unwrap();
            let children: Vec<_> = (0..4)
                .map(|_| {
                    std::process::Command::new(&exe)
                        .args(["--exact", "state::tests::lock_race_child", "--nocapture", "--test-threads", "1"])
                        .env("TANDEM_LOCK_RACE_DIR", dir.path())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect();
            // Let them all start and spin on the go file, then release them at once.
            std::thread::sleep(std::time::Duration::from_millis(700));
            fs::write(dir.path().join("go"), b"").unwrap();
            for mut c in children {
                assert!(c.wait().unwrap().success());
            }
            let mut results: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("result."))
                .map(|e| fs::read_to_string(e.path()).unwrap())
                .collect();
            results.sort();
            assert_eq!(results, vec!["locked", "locked", "locked", "won"], "round {round}");
            assert!(!dir.path().join("dev/lock").exists(), "the winner released the lock");
        }
    }

    #[tokio::test]
    async fn writes_are_coalesced_and_serialised() {
        let backend = Arc::new(MemoryBackend::default());
        let h = StateHandle::new(StateDoc::new("dev"), backend.clone());
        let mut tasks = Vec::new();
        for i in 0..50 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                h.journal(&format!("c{i}"), "r", Op::Adopt, Some(format!("id{i}")), ResourceStatus::Done).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let saved = backend.load().unwrap().unwrap();
        assert_eq!(saved.components.len(), 50);
        assert!(backend.writes.load(Ordering::SeqCst) <= 50);
    }
}
