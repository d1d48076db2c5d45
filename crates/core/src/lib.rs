//! tandem-core: the engine of Tandem.
//!
//! - [`component`]: the [`Component`] trait and the [`Ctx`] components run with.
//! - [`graph`]: the dependency DAG (petgraph), cycle and dangling-dependency errors.
//! - [`planner`]: desired-vs-state diff per component.
//! - [`executor`]: event-driven, bounded, critical-path-first apply and reverse destroy.
//! - [`protection`]: no `apply` replaces or deletes data unless the user names it.
//! - [`protocol`]: how one resource is created, adopted, updated and deleted (the
//!   journal is the core's; components describe resources).
//! - [`schedule`]: critical path, estimates and simulated schedules from expected durations.
//! - [`state`]: the state document, journal, local backend and lock.
//! - [`config`]: `tandem.toml` + `TANDEM_*` loading and validation.
//! - [`aws`]: per-region AWS configuration, retry and polling helpers.
//! - [`contracts`]: component ids and typed outputs shared between crates.
//! - [`paging`]: the guard of every paginated read (repeated token, page bound).
//! - [`iam`]: the IAM client trait and role deletion shared by the crates that own roles.

pub mod aws;
pub mod component;
pub mod config;
pub mod contracts;
pub mod error;
pub mod executor;
pub mod graph;
pub mod iam;
pub mod naming;
pub mod paging;
pub mod planner;
pub mod protection;
pub mod protocol;
pub mod schedule;
pub mod state;
pub mod state_s3;
#[cfg(any(test, feature = "mocks"))]
pub mod testing;

pub use component::{from_outputs, to_outputs, Action, CancelFlag, Component, Ctx, Desired, Drift, Key, OutputType, Outputs, Placement};
pub use protocol::{Ensured, How, Rule, Token};
pub use config::Config;
pub use executor::{Engine, Outcome, Plan, PlannedChange, Progress, Report, RunOptions};
pub use error::{AwsError, AwsErrorKind, AwsResultExt, ComponentError};
