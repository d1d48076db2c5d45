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

/// Where the Lambda package comes from.
enum LambdaSource {
    /// A workspace with `lambda/`: built with cargo (the current directory, else this
    /// binary's source tree when it still exists).
    Workspace(PathBuf),
    /// `tandem-lambda` installed beside this executable: zipped as it is.
    Installed(PathBuf),
}

/// The current directory if it has `lambda/` (working in the repository), else the
/// `tandem-lambda` installed beside this executable, else this binary's source tree.
fn lambda_source() -> Option<LambdaSource> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if cwd.join("lambda/Cargo.toml").exists() {
        return Some(LambdaSource::Workspace(cwd));
    }
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(tandem_compute::package::INSTALLED_BINARY)))
        .filter(|p| p.is_file());
    if let Some(bin) = installed {
        return Some(LambdaSource::Installed(bin));
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    built.join("lambda/Cargo.toml").exists().then_some(LambdaSource::Workspace(built))
}

/// The workspace root (where `lambda/` lives) for building the Lambda package, or the
/// current directory when there is none (for resolving a configured `[lambda] package`).
fn workspace_root() -> PathBuf {
    match lambda_source() {
        Some(LambdaSource::Workspace(root)) => root,
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

/// What the CLI says before a Lambda build starts (stderr), so a first run is not a silent
/// pause.
fn build_announcement(build: tandem_compute::package::Build) -> String {
    match build {
        tandem_compute::package::Build::Release => format!(
            "Building the Lambda package ({}); the first build takes a few minutes…",
            build.command()
        ),
        tandem_compute::package::Build::Dev => format!(
            "Building the Lambda package for the local emulator ({}: the dev profile, reusing what cargo already compiled; [lambda] build = \"release\" builds what AWS runs)…",
            build.command()
        ),
    }
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
            if cfg.lambda.package.is_none() {
                match lambda_source() {
                    Some(LambdaSource::Installed(bin)) => {
                        let cache = cfg.state.dir.join("lambda");
                        let package = tandem_compute::package::ensure_installed_package(&bin, &cache)
                            .with_context(|| format!("packaging the installed Lambda binary {}", bin.display()))?;
                        return Ok(Self::components_with(cfg, aws, &package));
                    }
                    Some(LambdaSource::Workspace(_)) => {}
                    None => anyhow::bail!(
                        "no Lambda code found: run tandem from the repository root (it builds lambda/), install the Lambda binary beside tandem (`cargo install --path lambda --profile lambda --bin {}`), or set [lambda] package to a prebuilt zip",
                        tandem_compute::package::INSTALLED_BINARY
                    ),
                }
            }
            // Against a loopback emulator (which never runs the code) the cheap development
            // build, else the release build AWS runs (`[lambda] build`).
            let build = tandem_compute::package::Build::resolve(cfg.lambda.build, aws.endpoint_is_loopback());
            let package = tandem_compute::package::ensure_package_built(cfg, &workspace_root(), build, || {
                eprintln!("{}", build_announcement(build));
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
        Ok(Self::components_with(cfg, aws, &package))
    }

    fn components_with(cfg: &Config, aws: &AwsContext, package: &tandem_compute::package::Package) -> Self {
        let mut components: Vec<Arc<dyn Component>> = Vec::new();
        components.extend(tandem_network::components(cfg, aws));
        components.extend(tandem_traffic::components(cfg, aws));
        components.extend(tandem_data::components(cfg, aws));
        components.extend(tandem_compute::components(cfg, aws, package));
        components.extend(tandem_observability::components(cfg, aws));
        Self { components }
    }
}
