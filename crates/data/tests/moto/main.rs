//! Moto integration tests of tandem-data: one binary, one module per family. Each test runs
//! components against a real moto server (started once per process by
//! `tandem_core::testing::moto_context`), checks the resources with the plain aws-sdk clients,
//! applies again (a second run over healthy resources journals nothing, i.e. makes no
//! mutating call), destroys, checks they are gone and destroys again (no-op).

mod aurora;
mod backup;
mod dynamodb;
mod s3;
mod ssm;

use tandem_core::state::ComponentState;
use tandem_core::{Component, Ctx, Outputs};

/// A unique stack suffix per test (lowercase letters and digits, short enough for every name).
pub fn suffix(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{tag}{}", nanos % 1_000_000)
}

/// Fast polling against the emulator.
pub fn setup() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
}

/// A context for `c` with the given inputs and (optionally) the state of a previous run.
pub fn ctx_for(c: &dyn Component, inputs: &[(&str, &Outputs)], prior: Option<ComponentState>) -> Ctx {
    let mut ctx = Ctx::standalone(c.id(), c.region());
    for (dep, out) in inputs {
        ctx = ctx.with_input(dep, *out);
    }
    if let Some(p) = prior {
        ctx = ctx.with_prior(p);
    }
    ctx
}

/// The state a run leaves: journal + outputs.
pub async fn state_after(c: &dyn Component, ctx: &Ctx, outputs: &Outputs) -> ComponentState {
    let mut st = ComponentState::new(c.kind(), c.placement(), c.region()).with_outputs(outputs.clone());
    st.resources = ctx.journal_entries().await;
    st
}

/// Applies `c` a second time over the state of the first run and asserts that nothing was
/// journaled (every mutation is journaled, so: no mutating call) and the outputs are equal.
pub async fn apply_again_is_a_no_op(c: &dyn Component, inputs: &[(&str, &Outputs)], prior: ComponentState) {
    let first = prior.outputs.clone();
    let recorded = prior.resources.clone();
    let ctx = ctx_for(c, inputs, Some(prior));
    let out = c.apply(&ctx).await.unwrap_or_else(|e| panic!("second apply of {}: {e}", c.id()));
    assert_eq!(out, first, "{}: same outputs on the second apply", c.id());
    // The journal is seeded with the prior state: a no-op apply leaves it as it was.
    let journal = ctx.journal_entries().await;
    assert_eq!(journal, recorded, "{}: the second apply changed something", c.id());
}

/// Checks the outputs the component returns are of its declared type.
pub fn assert_declared_outputs(c: &dyn Component, out: &Outputs) {
    if let Err(e) = c.output_type().check(out) {
        panic!("{}: outputs are not a {}: {e}", c.id(), c.output_type().short_name());
    }
}
