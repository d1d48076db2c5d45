//! The planner: compares each component's desired configuration (stable hashes) with state.

use sha2::{Digest, Sha256};

use crate::component::{Action, Desired};
use crate::state::{ComponentState, ComponentStatus};

/// Stable SHA-256 of a JSON value (serde_json objects are key-sorted maps).
pub fn stable_hash(v: &serde_json::Value) -> String {
    let mut h = Sha256::new();
    // serde_json's Map is a BTreeMap without the preserve_order feature: keys are sorted.
    h.update(serde_json::to_vec(v).unwrap_or_default());
    hex::encode(&h.finalize()[..16])
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
                return (Action::Replace, "an attribute that forces replacement changed".into());
            }
            if stable_hash(&desired.update_on) != p.update_hash {
                return (Action::Update, "configuration changed".into());
            }
            (Action::NoOp, "up to date".into())
        }
    }
}
