//! The drill's journal: every change the drill makes is recorded, with the prior value,
//! BEFORE it is made (write-ahead), in `.tandem/<suffix>/drill-journal.json` (0600, written
//! to a temporary file then renamed). Each undo is idempotent (setting a prior value again,
//! deleting what is already gone), so `tandem drill --restore` after a kill at any point puts
//! back exactly what the journal names, in reverse order, and removes the file once every
//! entry is undone.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a marker was written to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Store {
    /// DynamoDB item (key `pk`) in the global table.
    Item,
    /// S3 object (every version) in the replicated buckets.
    Object,
    /// SSM parameter.
    Parameter,
}

/// One change the drill made (or was about to make), with what undoes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A marker written in the first place and replicated to the others: removed from every
    /// place, (region, table or bucket name; empty for a parameter).
    Marker { store: Store, places: Vec<(String, String)>, key: String },
    /// A parameter (the controller's flags) set: its prior value, None when absent.
    Flag { region: String, name: String, prior: Option<String> },
    /// The "primary down" decision published at `published_at` (epoch seconds): undone by
    /// publishing `PrimaryDown` = 0 in a later minute and waiting for the decision alarm to
    /// leave ALARM.
    Decision { region: String, stack: String, alarm: String, published_at: u64 },
    /// A temporary watch on a bus (log group, rule, target) for the marker events.
    Watch { region: String, bus: String, name: String },
    /// Global Accelerator endpoint weights of one endpoint group before the drill.
    Weights { group_arn: String, prior: Vec<(String, i32)> },
    /// Alarm actions disabled: enabled again.
    AlarmActions { region: String, alarms: Vec<String> },
    /// The Aurora writer moved by a planned switchover: moved back (`back_to`: "primary").
    Writer { back_to: String },
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Change::Marker { store, places, key } => {
                let at: Vec<String> = places.iter().map(|(r, c)| if c.is_empty() { r.clone() } else { format!("{c} in {r}") }).collect();
                format!("{} marker {key} ({})", format!("{store:?}").to_lowercase(), at.join(", "))
            }
            Change::Flag { region, name, prior } => format!("parameter {name} in {region} (prior: {})", prior.as_deref().unwrap_or("absent")),
            Change::Decision { region, alarm, .. } => format!("\"primary down\" decision in {region} (alarm {alarm})"),
            Change::Watch { region, bus, name } => format!("watch {name} on bus {bus} in {region}"),
            Change::Weights { group_arn, prior } => {
                let w: Vec<String> = prior.iter().map(|(id, w)| format!("{}={w}", id.rsplit('/').next().unwrap_or(id))).collect();
                format!("endpoint weights of {group_arn} (prior: {})", w.join(", "))
            }
            Change::AlarmActions { region, alarms } => format!("alarm actions of {} in {region}", alarms.join(", ")),
            Change::Writer { back_to } => format!("Aurora writer (back to the {back_to})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub change: Change,
    /// Set once undone (restore skips it).
    pub undone: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub stack: String,
    /// Epoch seconds.
    pub started_at: u64,
    pub pid: u32,
    pub entries: Vec<Entry>,
    #[serde(skip)]
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the drill journal {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot read the drill journal {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the drill journal {path} is not readable JSON ({source}); it was not changed: inspect it and remove it once the stack is checked")]
    Corrupt { path: String, source: serde_json::Error },
}

impl Journal {
    pub fn path_for(state_dir: &Path, suffix: &str) -> PathBuf {
        state_dir.join(suffix).join("drill-journal.json")
    }

    /// The journal of an unfinished drill, if any.
    pub fn load(path: &Path) -> Result<Option<Journal>, JournalError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(JournalError::Read { path: path.display().to_string(), source }),
        };
        let mut j: Journal = serde_json::from_str(&text).map_err(|source| JournalError::Corrupt { path: path.display().to_string(), source })?;
        j.path = path.to_path_buf();
        Ok(Some(j))
    }

    /// A new journal, written at once (its existence marks a drill in progress).
    pub fn start(path: &Path, stack: &str) -> Result<Journal, JournalError> {
        let j = Journal { stack: stack.to_string(), started_at: tandem_core::state::now(), pid: std::process::id(), entries: Vec::new(), path: path.to_path_buf() };
        j.save()?;
        Ok(j)
    }

    /// Records a change before it is made; answers its index.
    pub fn record(&mut self, change: Change) -> Result<usize, JournalError> {
        self.entries.push(Entry { change, undone: false });
        self.save()?;
        Ok(self.entries.len() - 1)
    }

    pub fn mark_undone(&mut self, index: usize) -> Result<(), JournalError> {
        if let Some(e) = self.entries.get_mut(index) {
            e.undone = true;
        }
        self.save()
    }

    /// The indexes still to undo, last change first.
    pub fn pending(&self) -> Vec<usize> {
        (0..self.entries.len()).rev().filter(|i| !self.entries[*i].undone).collect()
    }

    /// Removes the file (every change undone).
    pub fn finish(self) -> Result<(), JournalError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(JournalError::Write { path: self.path.display().to_string(), source }),
        }
    }

    fn save(&self) -> Result<(), JournalError> {
        let err = |source| JournalError::Write { path: self.path.display().to_string(), source };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(err)?;
        f.write_all(&body).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_reload_and_are_undone_last_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Journal::path_for(dir.path(), "t1");
        let mut j = Journal::start(&path, "t1").expect("start");
        j.record(Change::Flag { region: "us-east-2".into(), name: "/tandem/t1/failover/suppressed".into(), prior: None }).expect("record");
        j.record(Change::Weights { group_arn: "arn:g".into(), prior: vec![("arn:nlb/p".into(), 128)] }).expect("record");
        j.record(Change::Writer { back_to: "primary".into() }).expect("record");
        j.mark_undone(2).expect("undo");
        let again = Journal::load(&path).expect("load").expect("present");
        assert_eq!(again.entries, j.entries);
        assert_eq!(again.pending(), vec![1, 0]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        again.finish().expect("finish");
        assert!(Journal::load(&path).expect("load").is_none());
    }

    #[test]
    fn a_corrupt_journal_is_an_error_naming_the_file_never_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Journal::path_for(dir.path(), "t1");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, b"{\"stack\": \"t1\", \"entr").expect("write");
        match Journal::load(&path) {
            Err(JournalError::Corrupt { path: p, .. }) => assert!(p.ends_with("drill-journal.json")),
            other => panic!("expected corrupt, got {other:?}"),
        }
    }
}
