//! The full stack: every crate's components, built from one configuration and one shared
//! per-region AWS context.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use tandem_core::aws::AwsContext;
use tandem_core::config::Config;
use tandem_core::Component;

pub struct Stack {
    pub components: Vec<Arc<dyn Component>>,
}

/// The workspace root (where `lambda/` lives) for building the Lambda package: the current
/// directory if it has `lambda/`, else the directory of this binary's source tree.
fn workspace_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if cwd.join("lambda/Cargo.toml").exists() {
        return cwd;
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built.join("lambda/Cargo.toml").exists() {
        return built;
    }
    cwd
}

impl Stack {
    /// Builds every component. `with_package` builds (or reuses) the Lambda package so its
    /// SHA-256 takes part in planning; commands that do not plan skip the build.
    pub async fn load(cfg: &Config, with_package: bool) -> anyhow::Result<Self> {
        let aws = AwsContext::load().await;
        Self::load_with(cfg, with_package, &aws)
    }

    /// [`Stack::load`] with the components' clients built from `aws` (e.g. the outage-proof
    /// context of `status`).
    pub fn load_with(cfg: &Config, with_package: bool, aws: &AwsContext) -> anyhow::Result<Self> {
        let package = if with_package {
            // The build can take minutes (release, LTO): say so on stderr, so a first run is
            // not a silent pause and `--json` output stays clean.
            let mut started = None;
            let package = tandem_compute::package::ensure_package_announcing(cfg, &workspace_root(), || {
                eprintln!(
                    "Building the Lambda package (cargo build --profile lambda -p tandem-lambda); the first build takes a few minutes…"
                );
                started = Some(std::time::Instant::now());
            })
            .context("building the Lambda package")?;
            if let Some(t) = started {
                eprintln!(
                    "Lambda package {} built in {:.0}s (sha256 {})",
                    package.path.display(),
                    t.elapsed().as_secs_f64(),
                    package.sha256
                );
            }
            package
        } else {
            tandem_compute::package::Package::unbuilt()
        };
        let mut components: Vec<Arc<dyn Component>> = Vec::new();
        components.extend(tandem_network::components(cfg, aws));
        components.extend(tandem_traffic::components(cfg, aws));
        components.extend(tandem_data::components(cfg, aws));
        components.extend(tandem_compute::components(cfg, aws, &package));
        components.extend(tandem_observability::components(cfg, aws));
        Ok(Self { components })
    }
}
