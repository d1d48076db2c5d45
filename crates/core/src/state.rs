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
    #[error("state backend: {0}")]
    Backend(String),
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
        Self { version: STATE_VERSION, stack: stack.to_string(), serial: 0, components: BTreeMap::new(), operations: Vec::new() }
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
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&all).map_err(|e| StateError::Backend(e.to_string()))?;
        fs::write(&tmp, bytes).map_err(|e| self.io(e))?;
        fs::rename(&tmp, &self.path).map_err(|e| self.io(e))
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

    fn read(path: &Path) -> Result<Option<Result<StateDoc, String>>, StateError> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| e.to_string()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(path, e)),
        }
    }

    /// Takes the stack's lock: a file created exclusively, holding pid, host and time.
    /// A lock left by a dead process on this host is taken over with a warning.
    fn lock_file(&self, stack: &str) -> Result<LockGuard, StateError> {
        fs::create_dir_all(&self.dir).map_err(|e| Self::io(&self.dir, e))?;
        let path = self.dir.join("lock");
        let host = hostname();
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let info = LockInfo { pid: std::process::id(), host: host.clone(), since: now() };
                    let body = serde_json::to_vec(&info).map_err(|e| StateError::Backend(e.to_string()))?;
                    f.write_all(&body).map_err(|e| Self::io(&path, e))?;
                    f.sync_all().map_err(|e| Self::io(&path, e))?;
                    return Ok(LockGuard::new(move || {
                        let _ = fs::remove_file(&path);
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let info: LockInfo = fs::read(&path)
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .unwrap_or(LockInfo { pid: 0, host: "unknown".into(), since: 0 });
                    if info.host == host && info.pid != 0 && !pid_alive(info.pid) {
                        tracing::warn!(pid = info.pid, path = %path.display(), "removing stale state lock of a process that is gone");
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    return Err(StateError::Locked {
                        stack: stack.to_string(),
                        pid: info.pid,
                        host: info.host,
                        since: format!("unix {}", info.since),
                        path,
                    });
                }
                Err(e) => return Err(Self::io(&path, e)),
            }
        }
        Err(StateError::Backend(format!("could not take lock {}", path.display())))
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
}

impl LockGuard {
    pub fn new(release: impl FnOnce() + Send + 'static) -> Self {
        Self { release: Some(Box::new(release)) }
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
        let path = self.path();
        let bak = self.dir.join("state.json.bak");
        match Self::read(&path)? {
            None => Ok(None),
            Some(Ok(doc)) => Ok(Some(doc)),
            Some(Err(msg)) => match Self::read(&bak)? {
                Some(Ok(doc)) => {
                    tracing::warn!(path = %path.display(), error = %msg, "state file unreadable (torn write?); using the backup");
                    Ok(Some(doc))
                }
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
            let mut f = fs::File::create(&tmp).map_err(|e| Self::io(&tmp, e))?;
            f.write_all(&body).map_err(|e| Self::io(&tmp, e))?;
            f.sync_all().map_err(|e| Self::io(&tmp, e))?;
        }
        if path.exists() {
            // Keep the previous good version: a torn state.json then falls back to it.
            let _ = fs::copy(&path, &bak);
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
        let loaded = b.load().unwrap().unwrap();
        assert_eq!(loaded, first, "falls back to the last complete version");
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
        assert!(b.lock("dev").is_ok());
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
