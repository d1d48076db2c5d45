//! Embedding Tandem: two of its components, the network of each region and the cross-region
//! VPC peering, applied and destroyed by a tool of one's own, with Tandem's engine (the
//! DAG, the journal, the resource protocol) and its state file, without the `tandem` CLI.
//!
//! ```no_run
//! # async fn f() -> anyhow::Result<()> {
//! let aws = tandem_core::aws::AwsContext::load().await;
//! let cfg = tandem_core::Config::example("demo");
//! let stack = tandem_example_embed::Stack::new(&cfg, &aws, std::path::Path::new(".tandem"))?;
//! let out = stack.apply().await?;
//! println!("peering {}", out.peering.peering_connection_id);
//! stack.destroy().await?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use tandem_core::aws::AwsContext;
use tandem_core::contracts::{ids, NetworkOutputs, PeeringOutputs};
use tandem_core::state::{LocalBackend, StateBackend, StateDoc, StateHandle};
use tandem_core::{from_outputs, Component, Config, Engine, Placement, Report, RunOptions};
use tandem_network::ec2_api::Ec2Api;
use tandem_network::{NetworkComponent, PeeringComponent};

/// What the embedded stack produced.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub primary: NetworkOutputs,
    pub secondary: NetworkOutputs,
    pub peering: PeeringOutputs,
}

/// Three Tandem components bound to a local state file.
pub struct Stack {
    engine: Engine,
    // Held for the life of the stack: a second process on the same state waits its turn.
    _lock: tandem_core::state::LockGuard,
}

impl Stack {
    /// The components with real aws-sdk EC2 clients of both regions of `cfg`; the state
    /// lives in `<state_dir>/<suffix>/state.json`, as the CLI keeps it.
    pub fn new(cfg: &Config, aws: &AwsContext, state_dir: &Path) -> anyhow::Result<Self> {
        let ec2 = |region: &str| -> Arc<dyn Ec2Api> { Arc::new(aws_sdk_ec2::Client::new(&aws.config(region))) };
        let (primary, secondary) = (ec2(&cfg.primary_region), ec2(&cfg.secondary_region));
        let components: Vec<Arc<dyn Component>> = vec![
            Arc::new(NetworkComponent::new(cfg, Placement::Primary, primary.clone())),
            Arc::new(NetworkComponent::new(cfg, Placement::Secondary, secondary.clone())),
            Arc::new(PeeringComponent::new(cfg, primary, secondary)),
        ];
        Self::with_components(components, &cfg.environment_suffix, state_dir)
    }

    /// The same with components of one's own making (mocked clients, for instance).
    pub fn with_components(components: Vec<Arc<dyn Component>>, suffix: &str, state_dir: &Path) -> anyhow::Result<Self> {
        let backend = Arc::new(LocalBackend::new(state_dir, suffix));
        let lock = backend.lock(suffix).with_context(|| format!("locking the state of {suffix}"))?;
        let doc = backend.load().with_context(|| format!("reading {}", backend.describe()))?.unwrap_or_else(|| StateDoc::new(suffix));
        let state = StateHandle::new(doc, backend as Arc<dyn StateBackend>);
        let engine = Engine::new(components, state).context("building the graph")?;
        Ok(Self { engine, _lock: lock })
    }

    /// Plans and applies; returns the typed outputs of the three components.
    pub async fn apply(&self) -> anyhow::Result<Outputs> {
        let plan = self.engine.plan(&[], None).await?;
        let report = self.engine.apply(&plan, &RunOptions::default()).await;
        check(&report, "apply")?;
        let doc = self.engine.state().snapshot();
        let outputs = |id: &str| -> anyhow::Result<&tandem_core::Outputs> {
            doc.components.get(id).map(|c| &c.outputs).with_context(|| format!("{id} has no state after apply"))
        };
        Ok(Outputs {
            primary: from_outputs(outputs(&ids::network(Placement::Primary))?)?,
            secondary: from_outputs(outputs(&ids::network(Placement::Secondary))?)?,
            peering: from_outputs(outputs(ids::PEERING)?)?,
        })
    }

    /// Destroys everything the state records, dependents first.
    pub async fn destroy(&self) -> anyhow::Result<Report> {
        let plan = self.engine.plan_destroy(&[])?;
        let report = self.engine.destroy(&plan, &RunOptions::default()).await;
        check(&report, "destroy")?;
        Ok(report)
    }
}

fn check(report: &Report, what: &str) -> anyhow::Result<()> {
    if report.success() {
        return Ok(());
    }
    let failures: Vec<String> = report.failures().iter().map(|f| format!("{}: {:?}", f.id, f.outcome)).collect();
    bail!("{what} failed: {}", failures.join("; "))
}
