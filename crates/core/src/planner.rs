//! The planner: compares each component's desired configuration (stable hashes) with state.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::component::{Action, Desired};
use crate::state::{ComponentState, ComponentStatus};

/// Stable SHA-256 of a JSON value (serde_json objects are key-sorted maps).
pub fn stable_hash(v: &serde_json::Value) -> String {
    stable_hash_of(v)
}

/// [`stable_hash`] of anything that serialises to the same JSON, without building a
/// `serde_json::Value` first (a `BTreeMap` of values gives the bytes of the equal object).
pub fn stable_hash_of<T: serde::Serialize + ?Sized>(v: &T) -> String {
    /// Feeds the compact JSON straight into the hasher (no intermediate buffer).
    struct Feed(Sha256);
    impl std::io::Write for Feed {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut feed = Feed(Sha256::new());
    // serde_json's Map is a BTreeMap without the preserve_order feature: keys are sorted.
    // Serialising into a hasher cannot fail for these types; a failure hashes what was fed.
    let _ = serde_json::to_writer(&mut feed, v);
    hex::encode(&feed.0.finalize()[..16])
}

/// The hash of each top-level key of an object (a non-object counts as one key, `""`).
/// Recorded in state so the planner can name the keys that changed, never their values.
pub fn key_hashes(v: &serde_json::Value) -> BTreeMap<String, String> {
    match v {
        serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), stable_hash(v))).collect(),
        other => BTreeMap::from([(String::new(), stable_hash(other))]),
    }
}

/// The keys whose value differs between `desired` and the recorded per-key hashes (added,
/// removed or changed), sorted. Empty when nothing was recorded (older state).
pub fn changed_keys(desired: &serde_json::Value, recorded: &BTreeMap<String, String>) -> Vec<String> {
    if recorded.is_empty() {
        return Vec::new();
    }
    let now = key_hashes(desired);
    let mut keys: Vec<String> = now
        .iter()
        .filter(|(k, h)| recorded.get(*k) != Some(*h))
        .map(|(k, _)| k.clone())
        .chain(recorded.keys().filter(|k| !now.contains_key(*k)).cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The replace-forcing keys recorded in state that `desired` no longer has, when they are the
/// only difference (every key `desired` has is recorded with the same hash). A key this
/// version of Tandem stopped recording (e.g. a flag of an earlier release's local fakes) is a
/// change of Tandem, not of the resource: it must never replace it (an accelerator replaced
/// gets new static IPs; a database replaced is empty). Empty otherwise, or for older state
/// with no per-key hashes.
pub fn retired_keys(desired: &serde_json::Value, recorded: &BTreeMap<String, String>) -> Vec<String> {
    if recorded.is_empty() {
        return Vec::new();
    }
    let now = key_hashes(desired);
    if now.iter().any(|(k, h)| recorded.get(k) != Some(h)) {
        return Vec::new();
    }
    recorded.keys().filter(|k| !now.contains_key(*k)).cloned().collect()
}

/// `base`, followed by the changed keys when they are known.
fn with_keys(base: &str, keys: Vec<String>) -> String {
    if keys.is_empty() {
        base.to_string()
    } else {
        format!("{base}: {}", keys.join(", "))
    }
}

/// Action and reason for one component, from its desired configuration and prior state.
pub fn diff_component(wanted: bool, desired: &Desired, prior: Option<&ComponentState>) -> (Action, String) {
    match (wanted, prior) {
        (false, None) => (Action::NoOp, "not configured".into()),
        (false, Some(_)) => (Action::Delete, "no longer configured".into()),
        (true, None) => (Action::Create, "not in state".into()),
        (true, Some(p)) => {
            if p.status == ComponentStatus::Pending {
                return (Action::Update, "interrupted run left it pending: resume (adopt what exists)".into());
            }
            if p.status == ComponentStatus::Failed {
                return (Action::Update, "last apply failed: retry".into());
            }
            if p.status == ComponentStatus::Destroying {
                return (Action::Create, "an interrupted destroy left it half-deleted: re-create".into());
            }
            if stable_hash(&desired.replace_on) != p.replace_hash {
                let retired = retired_keys(&desired.replace_on, &p.replace_keys);
                if !retired.is_empty() {
                    return (Action::Update, with_keys("this version of Tandem no longer records", retired));
                }
                let keys = changed_keys(&desired.replace_on, &p.replace_keys);
                return (Action::Replace, with_keys("an attribute that forces replacement changed", keys));
            }
            if stable_hash(&desired.update_on) != p.update_hash {
                return (Action::Update, with_keys("configuration changed", changed_keys(&desired.update_on, &p.update_keys)));
            }
            (Action::NoOp, "up to date".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Placement;
    use serde_json::json;

    #[test]
    fn hash_of_a_map_equals_hash_of_the_equal_value() {
        let v = json!({"b": {"y": [1, "x"], "a": null}, "a": 2.5});
        let map: BTreeMap<&str, serde_json::Value> = [("a", json!(2.5)), ("b", json!({"a": null, "y": [1, "x"]}))].into();
        assert_eq!(stable_hash_of(&map), stable_hash(&v));
        // The recorded format: first 16 bytes of SHA-256 of the compact JSON, in hex.
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&v).unwrap());
        assert_eq!(stable_hash(&v), hex::encode(&h.finalize()[..16]));
    }

    fn applied(desired: &Desired) -> ComponentState {
        let mut s = ComponentState::new("k", Placement::Primary, "us-east-1");
        s.status = ComponentStatus::Applied;
        s.replace_hash = stable_hash(&desired.replace_on);
        s.update_hash = stable_hash(&desired.update_on);
        s.replace_keys = key_hashes(&desired.replace_on);
        s.update_keys = key_hashes(&desired.update_on);
        s
    }

    #[test]
    fn a_key_tandem_no_longer_records_updates_and_never_replaces() {
        let before = Desired::new(json!({"name": "accelerator-dev", "legacy_flag": false}), json!({"port": 443}));
        let prior = applied(&before);
        let after = Desired::new(json!({"name": "accelerator-dev"}), json!({"port": 443}));
        assert_eq!(
            diff_component(true, &after, Some(&prior)),
            (Action::Update, "this version of Tandem no longer records: legacy_flag".into())
        );
        // A retired key beside a real change still replaces, naming both.
        let renamed = Desired::new(json!({"name": "accelerator-other"}), json!({"port": 443}));
        assert_eq!(
            diff_component(true, &renamed, Some(&prior)),
            (Action::Replace, "an attribute that forces replacement changed: legacy_flag, name".into())
        );
        // Once updated (hashes re-recorded) it is up to date.
        assert_eq!(diff_component(true, &after, Some(&applied(&after))), (Action::NoOp, "up to date".into()));
    }

    #[test]
    fn reasons_name_the_changed_keys_never_their_values() {
        let before = Desired::new(json!({"engine_version": "16.6", "port": 5432}), json!({"min": 0.5, "max": 4, "old": 1}));
        let prior = applied(&before);
        assert_eq!(diff_component(true, &before, Some(&prior)), (Action::NoOp, "up to date".into()));

        let update = Desired::new(before.replace_on.clone(), json!({"min": 1, "max": 4, "new": true}));
        let (action, reason) = diff_component(true, &update, Some(&prior));
        assert_eq!(action, Action::Update);
        assert_eq!(reason, "configuration changed: min, new, old");

        let replace = Desired::new(json!({"engine_version": "17.1", "port": 5432}), update.update_on.clone());
        let (action, reason) = diff_component(true, &replace, Some(&prior));
        assert_eq!(action, Action::Replace);
        assert_eq!(reason, "an attribute that forces replacement changed: engine_version");
        assert!(!reason.contains("17.1"));
    }

    #[test]
    fn state_without_key_hashes_gives_the_generic_reason() {
        let before = Desired::new(json!({"a": 1}), json!({"b": 1}));
        let mut prior = applied(&before);
        prior.update_keys.clear();
        let after = Desired::new(json!({"a": 1}), json!({"b": 2}));
        assert_eq!(diff_component(true, &after, Some(&prior)), (Action::Update, "configuration changed".into()));
        assert_eq!(changed_keys(&json!(3), &key_hashes(&json!(4))), vec![String::new()]);
    }
}
