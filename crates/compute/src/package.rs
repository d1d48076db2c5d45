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
//! Linux 2023 ships **glibc 2.34**. The test `package_needs_glibc_at_most_2_34` reads the
//! dynamic symbol table (`objdump -T`) of the built binary and fails on any `GLIBC_x.y`
//! newer than 2.34. (Build on a host with an old enough glibc, or pass a prebuilt zip.)
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
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tandem_core::Config;

/// Package (crate) name of the Lambda code.
pub const LAMBDA_PACKAGE: &str = "tandem-lambda";
/// Binary name inside the zip (what `provided.al2023` runs).
pub const BOOTSTRAP: &str = "bootstrap";
/// Cargo profile used for the Lambda build (defined in the workspace Cargo.toml).
pub const PROFILE: &str = "lambda";
/// Zip file name, under `target/lambda/`.
pub const ZIP_NAME: &str = "tandem-lambda.zip";
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
    if let Some(p) = &cfg.lambda.package {
        let path = if p.is_absolute() { p.clone() } else { workspace_root.join(p) };
        if !path.exists() {
            return Err(PackageError::MissingConfigured(path));
        }
        return Package::from_file(&path);
    }
    let zip = zip_path(workspace_root);
    if is_stale(workspace_root, &zip)? {
        tracing::info!(zip = %zip.display(), "building the Lambda package");
        before_build();
        let binary = build_binary(workspace_root)?;
        write_zip(&binary, &zip)?;
    }
    Package::from_file(&zip)
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
    Package::from_file(&zip)
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

/// Runs `cargo build --profile lambda -p tandem-lambda --bin bootstrap` and returns the
/// binary's path.
pub fn build_binary(workspace_root: &Path) -> Result<PathBuf, PackageError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target_dir = workspace_root.join("target");
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root)
        .args(["build", "--profile", PROFILE, "-p", LAMBDA_PACKAGE, "--bin", BOOTSTRAP, "--target-dir"])
        .arg(&target_dir);
    let command = format!(
        "{cargo} build --profile {PROFILE} -p {LAMBDA_PACKAGE} --bin {BOOTSTRAP} --target-dir {}",
        target_dir.display()
    );
    let out = cmd.output().map_err(|e| PackageError::Build { command: command.clone(), stderr: e.to_string() })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The end of cargo's output holds the error.
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(PackageError::Build { command, stderr: tail.join("\n") });
    }
    let binary = binary_path(workspace_root);
    if !binary.exists() {
        return Err(PackageError::Build { command, stderr: format!("{} was not produced", binary.display()) });
    }
    Ok(binary)
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

/// The `GLIBC_x.y` versions a binary's dynamic symbols need, parsed from `objdump -T`.
pub fn glibc_versions_needed(binary: &Path) -> Result<Vec<(u32, u32)>, PackageError> {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .map_err(|e| PackageError::Build { command: "objdump -T".into(), stderr: e.to_string() })?;
    if !out.status.success() {
        return Err(PackageError::Build {
            command: format!("objdump -T {}", binary.display()),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(parse_glibc_versions(&String::from_utf8_lossy(&out.stdout)))
}

/// Extracts every `GLIBC_x.y[.z]` version (as (major, minor)) from `objdump -T` output,
/// sorted and deduplicated.
pub fn parse_glibc_versions(objdump: &str) -> Vec<(u32, u32)> {
    let mut versions: Vec<(u32, u32)> = objdump
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|tok| tok.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            Some((major, minor))
        })
        .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
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
        std::fs::write(&bin, b"\x7fELF one").unwrap();
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
        std::fs::write(&bin, b"\x7fELF two").unwrap();
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
        std::fs::write(&zip, b"prebuilt").unwrap();
        let mut cfg = Config::example("pkg");
        cfg.lambda.package = Some(zip.clone());
        let p = ensure_package(&cfg, dir.path()).unwrap();
        assert_eq!(p.path, zip);
        assert_eq!(p, Package::from_bytes(&zip, b"prebuilt"));
        assert_eq!(p.read().unwrap(), b"prebuilt");

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

    #[test]
    fn parses_glibc_versions_from_objdump() {
        let sample = "\
DYNAMIC SYMBOL TABLE:
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.2.5) free
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.34) __libc_start_main
0000000000000000  w   DF *UND*	0000000000000000  GLIBC_2.28  statx
0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.3.4) __memcpy_chk
0000000000000000      DO *UND*	0000000000000000 (GLIBC_PRIVATE) _rtld_global
";
        assert_eq!(parse_glibc_versions(sample), vec![(2, 2), (2, 3), (2, 28), (2, 34)]);
    }

    /// A miniature workspace shaped like this one (package `tandem-lambda`, bin `bootstrap`,
    /// the same `lambda` profile): builds it for real with cargo, twice from scratch, and
    /// checks the zip's SHA-256 is identical, the build is skipped when fresh and redone
    /// when a source is newer, and the binary's glibc needs are within Amazon Linux 2023.
    #[test]
    fn builds_a_workspace_package_deterministically() {
        let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
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
        let cfg = Config::example("pkg");

        let mut announced = 0;
        let first = ensure_package_announcing(&cfg, root, || announced += 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(announced, 1, "a build is announced");
        assert_eq!(first.path, zip_path(root));
        let newest = glibc_versions_needed(&binary_path(root)).unwrap().into_iter().max().unwrap_or((0, 0));
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

    /// Builds the real package from `lambda/` (a release build with LTO: minutes the first
    /// time, then reused), checks the binary's glibc needs, and that the zip is stable.
    #[test]
    fn package_needs_glibc_at_most_2_34() {
        let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        let root = workspace_root();
        let cfg = Config::example("pkg");
        let p = ensure_package(&cfg, &root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.path, zip_path(&root));
        let versions = glibc_versions_needed(&binary_path(&root)).unwrap();
        assert!(!versions.is_empty(), "the binary is dynamically linked against glibc");
        let newest = versions.iter().max().copied().unwrap_or((0, 0));
        assert!(newest <= MAX_GLIBC, "binary needs GLIBC_{}.{} > 2.34 (Amazon Linux 2023): {versions:?}", newest.0, newest.1);
        // The zip holds an executable bootstrap.
        let mut archive = zip::ZipArchive::new(Cursor::new(p.read().unwrap())).unwrap();
        let f = archive.by_name(BOOTSTRAP).unwrap();
        assert_eq!(f.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    /// Two builds of the same sources give the same SHA-256: the second `ensure_package`
    /// reuses the build, and re-zipping the binary from scratch gives identical bytes.
    #[test]
    fn two_builds_give_the_same_sha256() {
        let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        let root = workspace_root();
        let cfg = Config::example("pkg");
        let first = ensure_package(&cfg, &root).unwrap_or_else(|e| panic!("{e}"));
        let second = ensure_package(&cfg, &root).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.sha256, second.sha256);
        // Rebuild the zip from the binary (as a fresh build would) into another file.
        let dir = tempfile::tempdir().unwrap();
        let again = dir.path().join(ZIP_NAME);
        write_zip(&binary_path(&root), &again).unwrap();
        assert_eq!(Package::from_file(&again).unwrap().sha256, first.sha256);
    }
}
