//! Data safety: an `apply` never replaces or deletes a component that holds user data
//! ([`Component::holds_data`]) unless the user named it (`tandem apply --allow-data-loss ID`).
//!
//! The check is a pure function over the plan and the graph ([`data_loss_refusals`]), run
//! right after planning and before anything is confirmed or executed; it lists every problem
//! (each refused change with the planner's reason and the flag that would allow it). The CLI
//! only prints what it returns. `destroy` is not checked: it deletes everything by design,
//! and says how much data it deletes first ([`Component::data_summary`]).

use serde::Serialize;

use crate::component::Action;
use crate::executor::Plan;
use crate::graph::Graph;

/// The flag that allows an `apply` to replace or delete a component that holds data.
pub const ALLOW_FLAG: &str = "--allow-data-loss";

/// One planned change an `apply` refuses: it would replace or delete a component that holds
/// user data, and the user did not name it with [`ALLOW_FLAG`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The component's id.
    pub id: String,
    /// `replace` or `delete`.
    pub action: Action,
    /// Why the planner wants to replace or delete it (e.g. which replace-forcing key changed).
    pub reason: String,
    /// What user data it holds, from [`crate::Component::holds_data`].
    pub holds: String,
    /// The flag that would allow the change (`--allow-data-loss <id>`).
    pub allow_with: String,
}

impl Refusal {
    /// One line: what is refused, why the planner wants it, what it would lose, the fix.
    pub fn message(&self) -> String {
        let verb = match self.action {
            Action::Replace => "replace (delete and re-create)",
            _ => "delete",
        };
        format!(
            "refusing to {verb} {}: {}; it holds {}, which would be lost (to allow it: tandem apply {})",
            self.id, self.reason, self.holds, self.allow_with
        )
    }
}

/// The changes of `plan` that would lose user data and are not allowed: a `Replace` or
/// `Delete` of a component whose [`crate::Component::holds_data`] is `Some`, unless its id is
/// in `allowed`. In plan order; empty when the plan is safe.
pub fn data_loss_refusals(plan: &Plan, graph: &Graph, allowed: &[String]) -> Vec<Refusal> {
    plan.changes
        .iter()
        .filter(|c| matches!(c.action, Action::Replace | Action::Delete))
        .filter(|c| !allowed.iter().any(|a| a == &c.id))
        .filter_map(|c| {
            let i = graph.index_of(&c.id)?;
            let holds = graph.component(i).holds_data()?;
            Some(Refusal {
                id: c.id.clone(),
                action: c.action,
                reason: c.reason.clone(),
                holds,
                allow_with: format!("{ALLOW_FLAG} {}", c.id),
            })
        })
        .collect()
}

/// The ids of the components that hold user data, in graph order: the only ids
/// [`ALLOW_FLAG`] accepts.
pub fn data_holders(graph: &Graph) -> Vec<String> {
    graph
        .topological()
        .iter()
        .map(|&i| graph.component(i))
        .filter(|c| c.holds_data().is_some())
        .map(|c| c.id().to_string())
        .collect()
}

/// The ids given to [`ALLOW_FLAG`] that name no component holding data (an unknown id, or
/// one that holds none): bad input, refused before any AWS call.
pub fn unknown_allowed(graph: &Graph, allowed: &[String]) -> Vec<String> {
    let holders = data_holders(graph);
    let mut out: Vec<String> = allowed.iter().filter(|a| !holders.contains(a)).cloned().collect();
    out.dedup();
    out
}
