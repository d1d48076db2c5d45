//! The Lambda deployment package: a deterministic zip holding the `bootstrap` binary of
//! package `tandem-lambda` (the `lambda/` directory of the workspace).
//!
//! Like CDK bundling at synth time, [`ensure_package`] builds the zip when it is missing or
//! older than its sources (every file under `lambda/src`, `lambda/Cargo.toml`, and the
//! workspace `Cargo.lock`), unless `[lambda] package` names a prebuilt zip.
//!
//! # Build target
//!
//! The binary is built for the **host target, `x86_64-unknown-linux-gnu`** (the toolchain
//! here has no other target installed, and cross-compiling to musl or aarch64 would need a
//! linker that is not present), with the workspace's `lambda` profile (opt-level `s`, LTO,
//! one codegen unit, stripped). The functions are therefore created with
//! `Architectures = [x86_64]` and runtime `provided.al2023`. A glibc-linked binary only
//! runs on Lambda if it needs no symbol version newer than the runtime's glibc: Amazon
//! Linux 2023 ships **glibc 2.34**.
//!
//! # The development build (`[lambda] build`)
//!
//! A local emulator never runs the functions' code, yet the release build above compiles the
//! whole AWS SDK a second time, optimized, with LTO: minutes on a small machine. So when every
//! call goes to a loopback endpoint (`[lambda] build = "auto"`, the default) or with
//! `build = "dev"`, the package is built with the **`dev` profile** instead
//! ([`DEV_BUILD_COMMAND`]): it reuses the dependencies `cargo build` already compiled with
//! the same features (most of them; the rest are compiled once), and
//! its symbols are stripped (a link-time option, so the dependencies stay reusable) to keep
//! the zip small. It goes to `target/lambda-dev/`, apart from the release zip; its code hash
//! still decides updates, and it passes the same [`check_package`]. `build = "release"`
//! forces the release build against any endpoint.
//!
//! # The check before deploy
//!
//! Every package [`ensure_package`] and [`ensure_installed_package`] return has passed
//! [`check_package`]: its `bootstrap` entry exists, is executable, is a 64-bit x86-64 ELF
//! file, and needs no `GLIBC_x.y` symbol version newer than 2.34 (read from the ELF's
//! `SHT_GNU_VERNEED` section with the `object` crate; a static binary needs none). A package
//! that fails is refused with [`PackageError::Unfit`], naming what is wrong and the fix
//! (build on a host with glibc ≤ 2.34, or set `[lambda] package`); the CLI exits 2 before
//! any AWS call. Without it, a binary built on a newer host deploys fine, crashes on its
//! first invoke in both regions, and every health check fails over to an equally broken
//! region.
//!
//! # Determinism
//!
//! The zip has one entry, `bootstrap`, Unix mode 0o755, the fixed DOS timestamp
//! 1980-01-01 00:00:00, deflate at the default level and no extra fields: the same binary
//! always gives the same bytes, hence the same SHA-256. The hex SHA-256 goes into the
//! functions' desired state (so the planner sees code changes), and the base64 SHA-256 is
//! compared with what Lambda reports as `CodeSha256` (so apply skips UpdateFunctionCode
//! when the code is unchanged).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::io::Read;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tandem_core::Config;

/// Package (crate) name of the Lambda code.
pub const LAMBDA_PACKAGE: &str = "tandem-lambda";
/// Binary name inside the zip (what `provided.al2023` runs).
pub const BOOTSTRAP: &str = "bootstrap";
/// Cargo profile used for the Lambda build (defined in the workspace Cargo.toml).
pub const PROFILE: &str = "lambda";
/// Zip file name, under `target/lambda/` (release) or `target/lambda-dev/` (development).
pub const ZIP_NAME: &str = "tandem-lambda.zip";
/// Directory of the development build's zip, under `target/`.
pub const DEV_ZIP_DIR: &str = "lambda-dev";
/// The development build, as a shell command (`scripts/test` runs exactly this before the
/// end-to-end tests, so their first `tandem plan` finds the build done).
pub const DEV_BUILD_COMMAND: &str = "CARGO_PROFILE_DEV_STRIP=symbols cargo build -p tandem-lambda --bin bootstrap";

/// How the package is built from `lambda/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// `cargo build --profile lambda`: optimized, LTO, stripped; what AWS runs.
    Release,
    /// [`DEV_BUILD_COMMAND`]: the `dev` profile, reusing the workspace's compiled
    /// dependencies; for a loopback emulator, which never runs the code.
    Dev,
}

impl Build {
    /// The build `[lambda] build` asks for: `auto` is `Dev` when every call goes to a
    /// loopback endpoint, else `Release`.
    pub fn resolve(choice: tandem_core::config::LambdaBuild, loopback_endpoint: bool) -> Self {
        use tandem_core::config::LambdaBuild;
        match choice {
            LambdaBuild::Release => Build::Release,
            LambdaBuild::Dev => Build::Dev,
            LambdaBuild::Auto if loopback_endpoint => Build::Dev,
            LambdaBuild::Auto => Build::Release,
        }
    }

    /// The cargo command this build runs (for messages).
    pub fn command(self) -> String {
        match self {
            Build::Release => format!("cargo build --profile {PROFILE} -p {LAMBDA_PACKAGE} --bin {BOOTSTRAP}"),
            Build::Dev => DEV_BUILD_COMMAND.to_string(),
        }
    }

    /// Where this build's zip goes under `workspace_root`.
    pub fn zip_path(self, workspace_root: &Path) -> PathBuf {
        match self {
            Build::Release => zip_path(workspace_root),
            Build::Dev => workspace_root.join("target").join(DEV_ZIP_DIR).join(ZIP_NAME),
        }
    }
}

/// The Lambda binary's name when installed beside `tandem` (`cargo install --path lambda
/// --profile lambda --bin tandem-lambda`): an installed `tandem` packages it instead of
/// building from sources it does not have.
pub const INSTALLED_BINARY: &str = "tandem-lambda";
/// Lambda runtime of the functions.
pub const RUNTIME: &str = "provided.al2023";
/// Lambda architecture matching the host build.
pub const ARCHITECTURE: &str = "x86_64";
/// Newest glibc symbol version allowed (Amazon Linux 2023).
pub const MAX_GLIBC: (u32, u32) = (2, 34);

/// A Lambda deployment package on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Path of the zip (empty for [`Package::unbuilt`]).
    pub path: PathBuf,
    /// Hex SHA-256 of the zip.
    pub sha256: String,
    /// Base64 SHA-256 of the zip (what Lambda reports as `CodeSha256`).
    pub base64_sha256: String,
}

/// Why the package could not be found or built.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("Lambda package {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configured Lambda package {0} does not exist; fix [lambda] package in tandem.toml or remove it to build from lambda/")]
    MissingConfigured(PathBuf),
    #[error("no Lambda sources at {0}: run tandem from the workspace root, or set [lambda] package to a prebuilt zip")]
    NoSources(PathBuf),
    #[error("building the Lambda package failed ({command}): {stderr}")]
    Build { command: String, stderr: String },
    #[error("zipping {path}: {message}")]
    Zip { path: PathBuf, message: String },
    #[error(
        "Lambda package {path} cannot run on Lambda ({RUNTIME}, {ARCHITECTURE}, glibc {}.{}): {}. Fix: build it on a host whose glibc is at most {}.{} (e.g. in an Amazon Linux 2023 container) or as a static binary, or set [lambda] package to a zip built there",
        MAX_GLIBC.0, MAX_GLIBC.1, problems.join("; "), MAX_GLIBC.0, MAX_GLIBC.1
    )]
    Unfit { path: PathBuf, problems: Vec<String> },
}

/// What a `bootstrap` executable needs from the machine that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryNeeds {
    /// ELF `e_machine` (62: x86-64, 183: aarch64).
    pub machine: u16,
    /// Every `GLIBC_x.y[.z]` version it needs, as (x, y), sorted, deduplicated.
    pub glibc: Vec<(u32, u32)>,
}

/// Reads what an ELF executable needs: its machine and its glibc symbol versions.
pub fn binary_needs(elf: &[u8]) -> Result<BinaryNeeds, String> {
    use object::read::elf::FileHeader;
    if !elf.starts_with(b"\x7fELF") {
        return Err("`bootstrap` is not an ELF executable (a script or another format)".into());
    }
    if elf.get(4) != Some(&2) {
        return Err("`bootstrap` is a 32-bit ELF file; Lambda runs 64-bit executables".into());
    }
    let bad = |e: object::read::Error| format!("`bootstrap` is not a readable ELF file: {e}");
    let header = object::elf::FileHeader64::<object::Endianness>::parse(elf).map_err(bad)?;
    let endian = header.endian().map_err(bad)?;
    let machine = header.e_machine(endian);
    let sections = header.sections(endian, elf).map_err(bad)?;
    let mut glibc = Vec::new();
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, elf).map_err(bad)? {
        let strings = sections.strings(endian, elf, link).map_err(bad)?;
        // Bounded: an ELF names at most a few hundred needed versions.
        for _ in 0..10_000 {
            let Some((_, mut aux)) = needs.next().map_err(bad)? else { break };
            for _ in 0..10_000 {
                let Some(a) = aux.next().map_err(bad)? else { break };
                if let Some(v) = a.name(endian, strings).map_err(bad)?.strip_prefix(b"GLIBC_") {
                    glibc.extend(parse_version(&String::from_utf8_lossy(v)));
                }
            }
        }
    }
    glibc.sort_unstable();
    glibc.dedup();
    Ok(BinaryNeeds { machine, glibc })
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// What keeps `needs` from running on the functions' runtime (empty: it runs).
pub fn unfit(needs: &BinaryNeeds) -> Vec<String> {
    let mut out = Vec::new();
    if needs.machine != object::elf::EM_X86_64 {
        let arch = match needs.machine {
            object::elf::EM_AARCH64 => "aarch64".to_string(),
            m => format!("ELF machine {m}"),
        };
        out.push(format!("`bootstrap` is built for {arch}; the functions run on {ARCHITECTURE}"));
    }
    let newer: Vec<String> = needs.glibc.iter().filter(|v| **v > MAX_GLIBC).map(|(a, b)| format!("GLIBC_{a}.{b}")).collect();
    if !newer.is_empty() {
        out.push(format!("`bootstrap` needs {} (newer than Amazon Linux 2023's {}.{})", newer.join(", "), MAX_GLIBC.0, MAX_GLIBC.1));
    }
    out
}

/// The check before deploy: the package's `bootstrap` exists, is executable and can run on
/// the functions' runtime.
pub fn check_package(package: &Package) -> Result<(), PackageError> {
    let path = package.path.clone();
    let unfit_with = |problems: Vec<String>| PackageError::Unfit { path: path.clone(), problems };
    let bytes = package.read()?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unfit_with(vec![format!("not a zip file ({e})")]))?;
    let mut entry = archive.by_name(BOOTSTRAP).map_err(|_| unfit_with(vec![format!("it has no `{BOOTSTRAP}` entry at its root")]))?;
    let mut problems = Vec::new();
    if entry.unix_mode().is_some_and(|m| m & 0o111 == 0) {
        problems.push("`bootstrap` is not executable (zip mode without x bits)".to_string());
    }
    let mut elf = Vec::new();
    entry.read_to_end(&mut elf).map_err(|e| unfit_with(vec![format!("`bootstrap` cannot be read ({e})")]))?;
    match binary_needs(&elf) {
        Ok(needs) => problems.extend(unfit(&needs)),
        Err(e) => problems.push(e),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(unfit_with(problems))
    }
}

/// A minimal static x86-64 ELF executable header (no dynamic section: it needs no glibc),
/// for tests that need a package passing [`check_package`] without building the real one.
#[cfg(any(test, feature = "mocks"))]
pub fn static_elf_for_tests() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little endian
    h[6] = 1; // version
    h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h[18..20].copy_from_slice(&object::elf::EM_X86_64.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    h[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    h
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io { path: path.to_path_buf(), source }
}

impl Package {
    /// A package that was not built (commands that never plan or apply). Its hashes are
    /// empty; the functions component refuses to create or update code from it.
    pub fn unbuilt() -> Self {
        Self { path: PathBuf::new(), sha256: String::new(), base64_sha256: String::new() }
    }

    /// True for [`Package::unbuilt`].
    pub fn is_unbuilt(&self) -> bool {
        self.sha256.is_empty()
    }

    /// Reads a zip from disk and hashes it.
    pub fn from_file(path: &Path) -> Result<Self, PackageError> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        Ok(Self::from_bytes(path, &bytes))
    }

    /// A package for `bytes` stored at `path`.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            path: path.to_path_buf(),
            sha256: hex::encode(digest),
            base64_sha256: aws_smithy_types::base64::encode(digest),
        }
    }

    /// The zip's bytes, checked against the recorded SHA-256 (the file must not have
    /// changed since the plan).
    pub fn read(&self) -> Result<Vec<u8>, PackageError> {
        let bytes = std::fs::read(&self.path).map_err(io(&self.path))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha != self.sha256 {
            return Err(PackageError::Zip {
                path: self.path.clone(),
                message: format!("changed since it was hashed (expected sha256 {}, found {sha}); run apply again", self.sha256),
            });
        }
        Ok(bytes)
    }
}

/// The package to deploy: `cfg.lambda.package` when set, else `target/lambda/tandem-lambda.zip`
/// under `workspace_root`, (re)built when missing or older than the Lambda sources.
pub fn ensure_package(cfg: &Config, workspace_root: &Path) -> Result<Package, PackageError> {
    ensure_package_announcing(cfg, workspace_root, || ())
}

/// [`ensure_package`], calling `before_build` just before a build starts (only when one is
/// needed), so a front end can say that it may take minutes.
pub fn ensure_package_announcing(
    cfg: &Config,
    workspace_root: &Path,
    before_build: impl FnOnce(),
) -> Result<Package, PackageError> {
    ensure_package_built(cfg, workspace_root, Build::Release, before_build)
}

/// [`ensure_package_announcing`] with the given [`Build`]: each build has its own zip, rebuilt
/// when missing or older than the Lambda sources.
pub fn ensure_package_built(
    cfg: &Config,
    workspace_root: &Path,
    build: Build,
    before_build: impl FnOnce(),
) -> Result<Package, PackageError> {
    if let Some(p) = &cfg.lambda.package {
        let path = if p.is_absolute() { p.clone() } else { workspace_root.join(p) };
        if !path.exists() {
            return Err(PackageError::MissingConfigured(path));
        }
        let package = Package::from_file(&path)?;
        check_package(&package)?;
        return Ok(package);
    }
    let zip = build.zip_path(workspace_root);
    if is_stale(workspace_root, &zip)? {
        tracing::info!(zip = %zip.display(), ?build, "building the Lambda package");
        before_build();
        let binary = match build {
            Build::Release => build_binary(workspace_root)?,
            Build::Dev => build_dev_binary(workspace_root)?,
        };
        write_zip(&binary, &zip)?;
    }
    let package = Package::from_file(&zip)?;
    check_package(&package)?;
    Ok(package)
}

/// The package of an installed Lambda binary (`tandem-lambda` beside the `tandem`
/// executable): zipped as `bootstrap` into `cache_dir/tandem-lambda.zip` when the zip is
/// missing or older than the binary. Deterministic: the same binary gives the same hash.
pub fn ensure_installed_package(binary: &Path, cache_dir: &Path) -> Result<Package, PackageError> {
    let zip = cache_dir.join(ZIP_NAME);
    if !zip.exists() || mtime(binary)? > mtime(&zip)? {
        tracing::info!(binary = %binary.display(), zip = %zip.display(), "packaging the installed Lambda binary");
        write_zip(binary, &zip)?;
    }
    let package = Package::from_file(&zip)?;
    check_package(&package)?;
    Ok(package)
}

/// `<root>/target/lambda/tandem-lambda.zip`.
pub fn zip_path(workspace_root: &Path) -> PathBuf {
    workspace_root.join("target").join(PROFILE).join(ZIP_NAME)
}

/// `<root>/target/lambda/bootstrap`.
pub fn binary_path(workspace_root: &Path) -> PathBuf {
    workspace_root.join("target").join(PROFILE).join(BOOTSTRAP)
}

/// The source files whose changes require a rebuild.
pub fn source_files(workspace_root: &Path) -> Result<Vec<PathBuf>, PackageError> {
    let lambda = workspace_root.join("lambda");
    let manifest = lambda.join("Cargo.toml");
    if !manifest.exists() {
        return Err(PackageError::NoSources(lambda));
    }
    let mut files = vec![manifest, workspace_root.join("Cargo.lock")];
    let mut dirs = vec![lambda.join("src")];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(PackageError::Io { path: dir, source: e }),
        };
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let ft = entry.file_type().map_err(io(&path))?;
            if ft.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.retain(|f| f.exists());
    files.sort();
    Ok(files)
}

fn mtime(path: &Path) -> Result<SystemTime, PackageError> {
    std::fs::metadata(path).and_then(|m| m.modified()).map_err(io(path))
}

/// True when the zip is missing or older than any source file.
pub fn is_stale(workspace_root: &Path, zip: &Path) -> Result<bool, PackageError> {
    let sources = source_files(workspace_root)?;
    if !zip.exists() {
        return Ok(true);
    }
    let built = mtime(zip)?;
    for f in &sources {
        if mtime(f)? > built {
            tracing::debug!(source = %f.display(), "Lambda source newer than the package");
            return Ok(true);
        }
    }
    Ok(false)
}

/// Variables cargo sets for one crate's build script, compilation, test or `cargo run`
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, `OUT_DIR`, ...). They describe the crate of
/// whatever started `tandem` (a test, `cargo run -p tandem`), not the Lambda build, and a
/// build script that tracks one (`ring` reruns on `CARGO_MANIFEST_DIR`) would otherwise make
/// the child cargo rebuild `ring` and everything above it (3 minutes on 2 cores) each time
/// the caller changes.
pub fn is_crate_scoped_cargo_var(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    const PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_CFG_", "CARGO_FEATURE_", "DEP_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `cargo` as a child of this process, without the crate-scoped variables of
/// [`is_crate_scoped_cargo_var`] this process may have inherited.
pub fn cargo_command(cargo: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_crate_scoped_cargo_var) {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// Runs `cargo build --profile lambda -p tandem-lambda --bin bootstrap` and returns the
/// binary's path.
pub fn build_binary(workspace_root: &Path) -> Result<PathBuf, PackageError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target_dir = workspace_root.join("target");
    let mut cmd = cargo_command(&cargo);
    cmd.current_dir(workspace_root)
        .args(["build", "--profile", PROFILE, "-p", LAMBDA_PACKAGE, "--bin", BOOTSTRAP, "--target-dir"])
        .arg(&target_dir);
    let command = format!(
        "{cargo} build --profile {PROFILE} -p {LAMBDA_PACKAGE} --bin {BOOTSTRAP} --target-dir {}",
        target_dir.display()
    );
    let out = cmd.output().map_err(|e| PackageError::Build { command: command.clone(), stderr: e.to_string() })?;
    if !out.status.success() {
        return Err(PackageError::Build { command, stderr: stderr_tail(&out.stderr) });
    }
    let binary = binary_path(workspace_root);
    if !binary.exists() {
        return Err(PackageError::Build { command, stderr: format!("{} was not produced", binary.display()) });
    }
    Ok(binary)
}

/// Runs [`DEV_BUILD_COMMAND`] in `workspace_root` (in cargo's own target directory, so the
/// dependencies the workspace build compiled are reused) and returns the binary's path, as
/// cargo reports it.
pub fn build_dev_binary(workspace_root: &Path) -> Result<PathBuf, PackageError> {
    build_dev_binary_into(workspace_root, None)
}

/// [`build_dev_binary`] into `target_dir` instead of cargo's own (tests of a scratch
/// workspace keep out of the real one's).
fn build_dev_binary_into(workspace_root: &Path, target_dir: Option<&Path>) -> Result<PathBuf, PackageError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let command = Build::Dev.command();
    let mut cmd = cargo_command(&cargo);
    cmd.current_dir(workspace_root)
        .env("CARGO_PROFILE_DEV_STRIP", "symbols")
        .args(["build", "-p", LAMBDA_PACKAGE, "--bin", BOOTSTRAP, "--message-format=json-render-diagnostics"]);
    if let Some(dir) = target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    let out = cmd
        .output()
        .map_err(|e| PackageError::Build { command: command.clone(), stderr: e.to_string() })?;
    if !out.status.success() {
        return Err(PackageError::Build { command, stderr: stderr_tail(&out.stderr) });
    }
    executable_of(&String::from_utf8_lossy(&out.stdout), BOOTSTRAP)
        .filter(|p| p.is_file())
        .ok_or_else(|| PackageError::Build { command, stderr: format!("cargo reported no executable `{BOOTSTRAP}`") })
}

/// The `executable` of the last `compiler-artifact` message for binary `name` in cargo's
/// JSON output.
fn executable_of(cargo_json: &str, name: &str) -> Option<PathBuf> {
    cargo_json
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
}

/// The end of cargo's output (where the error is).
fn stderr_tail(stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// The deterministic zip of `binary`: one entry `bootstrap`, mode 0o755, 1980-01-01.
pub fn zip_bytes(binary: &Path) -> Result<Vec<u8>, PackageError> {
    let data = std::fs::read(binary).map_err(io(binary))?;
    let zerr = |e: zip::result::ZipError| PackageError::Zip { path: binary.to_path_buf(), message: e.to_string() };
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755)
        .large_file(false);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(BOOTSTRAP, options).map_err(zerr)?;
    w.write_all(&data).map_err(io(binary))?;
    let cursor = w.finish().map_err(zerr)?;
    Ok(cursor.into_inner())
}

/// Writes the deterministic zip of `binary` to `zip` (atomically: temp file + rename).
pub fn write_zip(binary: &Path, zip: &Path) -> Result<(), PackageError> {
    let bytes = zip_bytes(binary)?;
    if let Some(dir) = zip.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let tmp = zip.with_extension(format!("zip.{}.{nanos}.tmp", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, zip).map_err(io(zip))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The tests that build the real package run one at a time.
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn workspace_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_default()
    }

    #[test]
    fn unbuilt_package_has_empty_hashes() {
        let p = Package::unbuilt();
        assert!(p.is_unbuilt());
        assert_eq!(p.sha256, "");
        assert_eq!(p.base64_sha256, "");
        assert!(p.read().is_err());
    }

    #[test]
    fn hashes_are_hex_and_base64_of_the_same_digest() {
        let p = Package::from_bytes(Path::new("x.zip"), b"abc");
        assert_eq!(p.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(p.base64_sha256, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }

    #[test]
    fn an_installed_binary_is_zipped_once_and_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join(INSTALLED_BINARY);
        std::fs::write(&bin, [static_elf_for_tests(), b"one".to_vec()].concat()).unwrap();
        let cache = dir.path().join("cache");
        let first = ensure_installed_package(&bin, &cache).unwrap();
        assert_eq!(first.path, cache.join(ZIP_NAME));
        let entry = zip::ZipArchive::new(std::fs::File::open(&first.path).unwrap()).unwrap().by_index(0).unwrap().name().to_string();
        assert_eq!(entry, BOOTSTRAP);
        // Unchanged binary: the same zip, not rewritten.
        let written = std::fs::metadata(&first.path).unwrap().modified().unwrap();
        let again = ensure_installed_package(&bin, &cache).unwrap();
        assert_eq!(again, first);
        assert_eq!(std::fs::metadata(&first.path).unwrap().modified().unwrap(), written);
        // A newer binary (a reinstall): zipped again, another hash.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&bin, [static_elf_for_tests(), b"two".to_vec()].concat()).unwrap();
        let newer = ensure_installed_package(&bin, &cache).unwrap();
        assert_ne!(newer.sha256, first.sha256);
        assert!(matches!(ensure_installed_package(&dir.path().join("missing"), &cache), Err(PackageError::Io { .. })));
    }

    #[test]
    fn zip_is_deterministic_with_one_executable_entry() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bootstrap");
        std::fs::write(&bin, b"#!/bin/sh\necho hello\n").unwrap();
        let a = zip_bytes(&bin).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = zip_bytes(&bin).unwrap();
        assert_eq!(a, b, "same input must give the same bytes");

        let mut archive = zip::ZipArchive::new(Cursor::new(a)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut f = archive.by_index(0).unwrap();
        assert_eq!(f.name(), "bootstrap");
        assert_eq!(f.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
        let t = f.last_modified().unwrap();
        assert_eq!((t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second()), (1980, 1, 1, 0, 0, 0));
        let mut content = String::new();
        f.read_to_string(&mut content).unwrap();
        assert_eq!(content, "#!/bin/sh\necho hello\n");
    }

    #[test]
    fn configured_package_is_used_as_is() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("prebuilt.zip");
        let bin = dir.path().join("bootstrap");
        std::fs::write(&bin, static_elf_for_tests()).unwrap();
        let prebuilt = zip_bytes(&bin).unwrap();
        std::fs::write(&zip, &prebuilt).unwrap();
        let mut cfg = Config::example("pkg");
        cfg.lambda.package = Some(zip.clone());
        let p = ensure_package(&cfg, dir.path()).unwrap();
        assert_eq!(p.path, zip);
        assert_eq!(p, Package::from_bytes(&zip, &prebuilt));
        assert_eq!(p.read().unwrap(), prebuilt);

        cfg.lambda.package = Some(dir.path().join("missing.zip"));
        let e = ensure_package(&cfg, dir.path()).unwrap_err();
        assert!(matches!(e, PackageError::MissingConfigured(_)), "{e}");
    }

    #[test]
    fn read_rejects_a_zip_changed_after_hashing() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("p.zip");
        std::fs::write(&zip, b"one").unwrap();
        let p = Package::from_file(&zip).unwrap();
        std::fs::write(&zip, b"two").unwrap();
        assert!(p.read().unwrap_err().to_string().contains("changed"));
    }

    #[test]
    fn staleness_follows_source_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("lambda/src")).unwrap();
        std::fs::write(root.join("lambda/Cargo.toml"), "[package]").unwrap();
        std::fs::write(root.join("lambda/src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(root.join("Cargo.lock"), "").unwrap();
        let zip = zip_path(root);
        assert!(is_stale(root, &zip).unwrap(), "missing zip is stale");
        std::fs::create_dir_all(zip.parent().unwrap()).unwrap();
        std::fs::write(&zip, b"z").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(3600);
        for f in source_files(root).unwrap() {
            std::fs::File::options().write(true).open(&f).unwrap().set_modified(old).unwrap();
        }
        // The zip a minute old, so a file written now is strictly newer whatever the
        // filesystem's timestamp granularity (written in the same tick, they were equal).
        std::fs::File::options().write(true).open(&zip).unwrap().set_modified(SystemTime::now() - std::time::Duration::from_secs(60)).unwrap();
        assert!(!is_stale(root, &zip).unwrap(), "zip newer than sources is fresh");
        std::fs::create_dir_all(root.join("lambda/src/handlers")).unwrap();
        std::fs::write(root.join("lambda/src/handlers/api.rs"), "// new").unwrap();
        assert!(is_stale(root, &zip).unwrap(), "a newer nested source makes it stale");
        assert!(matches!(is_stale(&root.join("nowhere"), &zip), Err(PackageError::NoSources(_))));
    }

    /// A 64-bit little-endian ELF with a `.dynstr` and a `SHT_GNU_VERNEED` section needing
    /// `versions` from libc.so.6, for `machine`.
    fn elf_needing(machine: u16, versions: &[&str]) -> Vec<u8> {
        let mut dynstr = b"\0libc.so.6\0".to_vec();
        let mut names = Vec::new();
        for v in versions {
            names.push(dynstr.len() as u32);
            dynstr.extend_from_slice(v.as_bytes());
            dynstr.push(0);
        }
        let mut verneed = Vec::new();
        verneed.extend_from_slice(&1u16.to_le_bytes()); // vn_version
        verneed.extend_from_slice(&(versions.len() as u16).to_le_bytes()); // vn_cnt
        verneed.extend_from_slice(&1u32.to_le_bytes()); // vn_file: "libc.so.6"
        verneed.extend_from_slice(&16u32.to_le_bytes()); // vn_aux
        verneed.extend_from_slice(&0u32.to_le_bytes()); // vn_next: last
        for (i, name) in names.iter().enumerate() {
            verneed.extend_from_slice(&0u32.to_le_bytes()); // vna_hash
            verneed.extend_from_slice(&0u16.to_le_bytes()); // vna_flags
            verneed.extend_from_slice(&(i as u16 + 2).to_le_bytes()); // vna_other
            verneed.extend_from_slice(&name.to_le_bytes()); // vna_name
            let next: u32 = if i + 1 < names.len() { 16 } else { 0 };
            verneed.extend_from_slice(&next.to_le_bytes());
        }
        let mut elf = static_elf_for_tests();
        elf[18..20].copy_from_slice(&machine.to_le_bytes());
        let dynstr_off = elf.len() as u64;
        elf.extend_from_slice(&dynstr);
        while !elf.len().is_multiple_of(8) {
            elf.push(0);
        }
        let verneed_off = elf.len() as u64;
        elf.extend_from_slice(&verneed);
        let shstrtab_off = elf.len() as u64;
        elf.push(0); // .shstrtab: the empty name only
        while !elf.len().is_multiple_of(8) {
            elf.push(0);
        }
        let shoff = elf.len() as u64;
        let shdr = |ty: u32, off: u64, size: u64, link: u32, info: u32| {
            let mut h = Vec::with_capacity(64);
            h.extend_from_slice(&0u32.to_le_bytes()); // sh_name
            h.extend_from_slice(&ty.to_le_bytes());
            h.extend_from_slice(&0u64.to_le_bytes()); // sh_flags
            h.extend_from_slice(&0u64.to_le_bytes()); // sh_addr
            h.extend_from_slice(&off.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&link.to_le_bytes());
            h.extend_from_slice(&info.to_le_bytes());
            h.extend_from_slice(&8u64.to_le_bytes()); // sh_addralign
            h.extend_from_slice(&0u64.to_le_bytes()); // sh_entsize
            h
        };
        elf.extend(shdr(0, 0, 0, 0, 0));
        elf.extend(shdr(object::elf::SHT_STRTAB, dynstr_off, dynstr.len() as u64, 0, 0));
        elf.extend(shdr(object::elf::SHT_GNU_VERNEED, verneed_off, verneed.len() as u64, 1, 1));
        elf.extend(shdr(object::elf::SHT_STRTAB, shstrtab_off, 1, 0, 0));
        elf[40..48].copy_from_slice(&shoff.to_le_bytes()); // e_shoff
        elf[60..62].copy_from_slice(&4u16.to_le_bytes()); // e_shnum
        elf[62..64].copy_from_slice(&3u16.to_le_bytes()); // e_shstrndx
        elf
    }

    fn package_of(dir: &Path, elf: &[u8], mode_exec: bool) -> Package {
        let bin = dir.join("bootstrap");
        std::fs::write(&bin, elf).unwrap();
        let mut bytes = zip_bytes(&bin).unwrap();
        if !mode_exec {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
            let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
            w.start_file(BOOTSTRAP, options).unwrap();
            w.write_all(elf).unwrap();
            bytes = w.finish().unwrap().into_inner();
        }
        let zip = dir.join("p.zip");
        std::fs::write(&zip, &bytes).unwrap();
        Package::from_file(&zip).unwrap()
    }

    #[test]
    fn reads_the_machine_and_glibc_versions_an_elf_needs() {
        let elf = elf_needing(object::elf::EM_X86_64, &["GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.3.4", "GLIBC_2.28", "GLIBC_PRIVATE"]);
        let needs = binary_needs(&elf).unwrap();
        assert_eq!(needs, BinaryNeeds { machine: 62, glibc: vec![(2, 2), (2, 3), (2, 28), (2, 34)] });
        assert!(unfit(&needs).is_empty());
        assert_eq!(binary_needs(&static_elf_for_tests()).unwrap().glibc, vec![], "a static binary needs no glibc");
    }

    #[test]
    fn a_package_needing_a_newer_glibc_or_another_arch_is_refused_naming_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let ok = package_of(dir.path(), &elf_needing(object::elf::EM_X86_64, &["GLIBC_2.17", "GLIBC_2.34"]), true);
        check_package(&ok).unwrap();

        let newer = package_of(dir.path(), &elf_needing(object::elf::EM_X86_64, &["GLIBC_2.34", "GLIBC_2.39"]), true);
        let e = check_package(&newer).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, PackageError::Unfit { .. }), "{e:?}");
        assert!(text.contains("needs GLIBC_2.39 (newer than Amazon Linux 2023's 2.34)"), "{text}");
        assert!(text.contains("glibc is at most 2.34") && text.contains("[lambda] package"), "the fix: {text}");

        let arm = package_of(dir.path(), &elf_needing(object::elf::EM_AARCH64, &["GLIBC_2.17"]), true);
        assert!(check_package(&arm).unwrap_err().to_string().contains("built for aarch64; the functions run on x86_64"));

        let script = package_of(dir.path(), b"#!/bin/sh\nexec ./app\n", true);
        assert!(check_package(&script).unwrap_err().to_string().contains("not an ELF executable"));

        let mut elf32 = static_elf_for_tests();
        elf32[4] = 1;
        assert!(check_package(&package_of(dir.path(), &elf32, true)).unwrap_err().to_string().contains("32-bit"));

        let not_exec = package_of(dir.path(), &static_elf_for_tests(), false);
        assert!(check_package(&not_exec).unwrap_err().to_string().contains("not executable"));

        let junk = dir.path().join("junk.zip");
        std::fs::write(&junk, b"PK not a zip").unwrap();
        assert!(check_package(&Package::from_file(&junk).unwrap()).unwrap_err().to_string().contains("not a zip file"));
    }

    #[test]
    fn a_configured_package_is_checked_before_it_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let newer = package_of(dir.path(), &elf_needing(object::elf::EM_X86_64, &["GLIBC_2.38"]), true);
        let mut cfg = Config::example("pkg");
        cfg.lambda.package = Some(newer.path.clone());
        assert!(matches!(ensure_package(&cfg, dir.path()), Err(PackageError::Unfit { .. })));
        let installed = dir.path().join(INSTALLED_BINARY);
        std::fs::write(&installed, elf_needing(object::elf::EM_X86_64, &["GLIBC_2.38"])).unwrap();
        assert!(matches!(ensure_installed_package(&installed, &dir.path().join("cache")), Err(PackageError::Unfit { .. })));
    }

    /// A miniature workspace shaped like this one: package `tandem-lambda`, bin `bootstrap`,
    /// the same `lambda` profile.
    fn mini_workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("lambda/src")).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nresolver = \"2\"\nmembers = [\"lambda\"]\n\n[profile.lambda]\ninherits = \"release\"\nopt-level = \"s\"\nlto = true\ncodegen-units = 1\npanic = \"abort\"\nstrip = true\n",
        )
        .unwrap();
        std::fs::write(
            root.join("lambda/Cargo.toml"),
            "[package]\nname = \"tandem-lambda\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bin]]\nname = \"bootstrap\"\npath = \"src/main.rs\"\n",
        )
        .unwrap();
        std::fs::write(root.join("lambda/src/main.rs"), "fn main() { println!(\"{:?}\", std::env::var(\"TANDEM_HANDLER\")); }\n").unwrap();
        dir
    }

    /// A miniature workspace shaped like this one (package `tandem-lambda`, bin `bootstrap`,
    /// the same `lambda` profile): builds it for real with cargo, twice from scratch, and
    /// checks the zip's SHA-256 is identical, the build is skipped when fresh and redone
    /// when a source is newer, and the binary's glibc needs are within Amazon Linux 2023.
    #[test]
    fn builds_a_workspace_package_deterministically() {
        let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        let dir = mini_workspace();
        let root = dir.path();
        let cfg = Config::example("pkg");

        let mut announced = 0;
        let first = ensure_package_announcing(&cfg, root, || announced += 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(announced, 1, "a build is announced");
        assert_eq!(first.path, zip_path(root));
        let newest = binary_needs(&std::fs::read(binary_path(root)).unwrap()).unwrap().glibc.into_iter().max().unwrap_or((0, 0));
        assert!(newest <= MAX_GLIBC, "needs GLIBC_{}.{}", newest.0, newest.1);
        let built_at = mtime(&first.path).unwrap();

        // Fresh: no rebuild (and nothing announced), same file.
        let again = ensure_package_announcing(&cfg, root, || announced += 1).unwrap();
        assert_eq!(announced, 1);
        assert_eq!(again, first);
        assert_eq!(mtime(&again.path).unwrap(), built_at);

        // A second build from scratch gives the same bytes.
        std::fs::remove_dir_all(root.join("target")).unwrap();
        let rebuilt = ensure_package(&cfg, root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rebuilt.sha256, first.sha256, "two builds must give the same SHA-256");

        // A newer source makes it stale: rebuilt (same code, so same hash again).
        let future = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options().write(true).open(root.join("lambda/src/main.rs")).unwrap().set_modified(future).unwrap();
        assert!(is_stale(root, &zip_path(root)).unwrap());
        let after_touch = ensure_package(&cfg, root).unwrap();
        assert_eq!(after_touch.sha256, first.sha256);
    }

    /// The development build of the miniature workspace: `dev` profile, symbols stripped,
    /// the executable found from cargo's own report, fit for Lambda.
    #[test]
    fn the_dev_build_is_stripped_and_found_where_cargo_put_it() {
        let dir = mini_workspace();
        let root = dir.path();
        let binary = build_dev_binary_into(root, Some(&root.join("target"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(binary, root.join("target/debug/bootstrap"));
        let bytes = std::fs::read(&binary).unwrap();
        use object::{Object, ObjectSection};
        let elf = object::File::parse(&*bytes).unwrap();
        assert!(elf.section_by_name(".symtab").is_none(), "symbols are stripped");
        assert!(elf.sections().any(|s| s.name() == Ok(".text")));
        let zip = Build::Dev.zip_path(root);
        write_zip(&binary, &zip).unwrap();
        check_package(&Package::from_file(&zip).unwrap()).unwrap_or_else(|e| panic!("{e}"));
    }

    /// `ensure_package_built` keeps each build's zip apart and rebuilds neither while fresh.
    #[test]
    fn each_build_has_its_own_zip_reused_while_fresh() {
        let dir = mini_workspace();
        let root = dir.path();
        let cfg = Config::example("pkg");
        assert_ne!(Build::Dev.zip_path(root), Build::Release.zip_path(root));
        assert_eq!(Build::Release.zip_path(root), zip_path(root));
        // A fresh development zip (newer than every source): used as is, nothing built.
        write_zip_of(root, &static_elf_for_tests(), &Build::Dev.zip_path(root));
        let future = SystemTime::now() + std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(Build::Dev.zip_path(root)).unwrap().set_modified(future).unwrap();
        let mut announced = 0;
        let p = ensure_package_built(&cfg, root, Build::Dev, || announced += 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((announced, p.path), (0, Build::Dev.zip_path(root)));
        assert!(!zip_path(root).exists(), "the release zip is neither built nor touched");
        // A configured package wins over either build.
        let configured = root.join("configured.zip");
        write_zip_of(root, &static_elf_for_tests(), &configured);
        let mut cfg = cfg;
        cfg.lambda.package = Some(configured.clone());
        assert_eq!(ensure_package_built(&cfg, root, Build::Dev, || announced += 1).unwrap().path, configured);
        assert_eq!(announced, 0);
    }

    fn write_zip_of(dir: &Path, elf: &[u8], zip: &Path) {
        let bin = dir.join("elf-for-zip");
        std::fs::write(&bin, elf).unwrap();
        write_zip(&bin, zip).unwrap();
    }

    #[test]
    fn auto_builds_dev_only_for_a_loopback_endpoint() {
        use tandem_core::config::LambdaBuild;
        assert_eq!(Build::resolve(LambdaBuild::Auto, true), Build::Dev);
        assert_eq!(Build::resolve(LambdaBuild::Auto, false), Build::Release);
        assert_eq!(Build::resolve(LambdaBuild::Release, true), Build::Release);
        assert_eq!(Build::resolve(LambdaBuild::Dev, false), Build::Dev);
        assert!(Build::Release.command().contains("--profile lambda"));
    }

    #[test]
    fn the_executable_is_read_from_cargos_json_report() {
        let report = concat!(
            "{\"reason\":\"compiler-artifact\",\"target\":{\"name\":\"serde\"},\"executable\":null}\n",
            "not json\n",
            "{\"reason\":\"compiler-artifact\",\"target\":{\"name\":\"bootstrap\"},\"executable\":\"/t/debug/bootstrap\"}\n",
            "{\"reason\":\"build-finished\",\"success\":true}\n",
        );
        assert_eq!(executable_of(report, BOOTSTRAP), Some(PathBuf::from("/t/debug/bootstrap")));
        assert_eq!(executable_of(report, "other"), None);
    }

    /// Under `cargo test` this process carries this crate's `CARGO_MANIFEST_DIR` and
    /// `CARGO_PKG_*`: the Lambda build's cargo must not inherit them (ring's build script
    /// reruns on `CARGO_MANIFEST_DIR`, and everything above it recompiles), while what
    /// configures cargo itself passes through.
    #[test]
    fn the_lambda_build_does_not_inherit_the_callers_crate_variables() {
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some(), "run under cargo, which sets it");
        let cmd = cargo_command("cargo");
        let removed: Vec<String> =
            cmd.get_envs().filter(|(_, v)| v.is_none()).map(|(k, _)| k.to_string_lossy().into_owned()).collect();
        for name in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_PKG_VERSION"] {
            assert!(removed.iter().any(|r| r == name), "{name} is removed: {removed:?}");
        }
        for kept in ["CARGO", "CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_INCREMENTAL", "CARGO_PROFILE_DEV_STRIP", "CARGO_BUILD_JOBS", "RUSTFLAGS", "PATH"] {
            assert!(!is_crate_scoped_cargo_var(kept), "{kept} configures cargo and is kept");
        }
        for scoped in ["OUT_DIR", "CARGO_BIN_EXE_tandem", "CARGO_CFG_TARGET_OS", "CARGO_FEATURE_STD", "DEP_RING_INCLUDE"] {
            assert!(is_crate_scoped_cargo_var(scoped), "{scoped} is crate-scoped");
        }
    }

    /// `scripts/test` prebuilds exactly what `tandem` builds against the emulator, so the
    /// end-to-end tests find it done (a different command would compile another variant).
    #[test]
    fn scripts_test_prebuilds_the_dev_package_with_the_same_command() {
        let script = std::fs::read_to_string(workspace_root().join("scripts/test")).unwrap();
        assert!(script.contains(DEV_BUILD_COMMAND), "scripts/test must run `{DEV_BUILD_COMMAND}`");
    }

    /// Builds the real package from `lambda/` once (a release build with LTO: minutes the
    /// first time, then reused) and checks what AWS would run: the binary's glibc needs, an
    /// executable `bootstrap` in the zip, a second `ensure_package` that reuses the build, and
    /// a zip rebuilt from the binary from scratch with the same SHA-256.
    #[test]
    fn the_release_package_fits_lambda_and_zips_the_same_twice() {
        let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        let root = workspace_root();
        let cfg = Config::example("pkg");
        let p = ensure_package(&cfg, &root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.path, zip_path(&root));
        let versions = binary_needs(&std::fs::read(binary_path(&root)).unwrap()).unwrap().glibc;
        assert!(!versions.is_empty(), "the binary is dynamically linked against glibc");
        let newest = versions.iter().max().copied().unwrap_or((0, 0));
        assert!(newest <= MAX_GLIBC, "binary needs GLIBC_{}.{} > 2.34 (Amazon Linux 2023): {versions:?}", newest.0, newest.1);
        // The zip holds an executable bootstrap.
        let mut archive = zip::ZipArchive::new(Cursor::new(p.read().unwrap())).unwrap();
        let f = archive.by_name(BOOTSTRAP).unwrap();
        assert_eq!(f.unix_mode().map(|m| m & 0o777), Some(0o755));
        drop(f);
        // A second call reuses the build.
        let built_at = mtime(&p.path).unwrap();
        let second = ensure_package(&cfg, &root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((second.sha256.as_str(), mtime(&second.path).unwrap()), (p.sha256.as_str(), built_at));
        // Rebuild the zip from the binary (as a fresh build would) into another file.
        let dir = tempfile::tempdir().unwrap();
        let again = dir.path().join(ZIP_NAME);
        write_zip(&binary_path(&root), &again).unwrap();
        assert_eq!(Package::from_file(&again).unwrap().sha256, p.sha256);
    }
}
