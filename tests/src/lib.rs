//! Helpers for Tandem's workspace-level tests: a dedicated moto server per test binary,
//! SDK configurations pointing at it, the `tandem` binary, and moto's request recorder
//! (to prove a run made no mutating call), bounded and killable runs of the CLI, the seeds
//! of the resilience tests, and a fault-injecting proxy ([`fault_proxy`]).

pub mod fault_proxy;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A moto server owned by the test (killed on drop).
pub struct Moto {
    pub endpoint: String,
    child: Child,
    pub recording: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `moto_server` (from `.venv`, else `PATH`) on a free loopback port.
    pub fn start(workdir: &Path) -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
        let recording = workdir.join("moto_recording.jsonl");
        let child = tandem_core::testing::emulator_command()
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ACM_VALIDATION_WAIT", "1")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(workdir.join("moto.log")).expect("moto log")))
            .spawn()
            .expect("the emulator (run scripts/local-aws install)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { endpoint, child, recording }
    }

    fn post(&self, path: &str) {
        let status = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-X", "POST", &format!("{}{path}", self.endpoint)])
            .status();
        if status.map(|s| !s.success()).unwrap_or(true) {
            // Fall back to Python when curl is absent.
            let py = format!("import urllib.request; urllib.request.urlopen(urllib.request.Request('{}{path}', method='POST'))", self.endpoint);
            let _ = Command::new("python3").args(["-c", &py]).status();
        }
    }

    pub fn start_recording(&self) {
        self.post("/moto-api/recorder/reset-recording");
        self.post("/moto-api/recorder/start-recording");
    }

    /// Stops recording and returns the requests made meanwhile that were not reads.
    pub fn stop_recording_mutations(&self) -> Vec<String> {
        self.stop_recording().mutations
    }

    /// Stops recording and returns every request made meanwhile, reads and mutations apart.
    pub fn stop_recording(&self) -> Recorded {
        self.post("/moto-api/recorder/stop-recording");
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        let mut recorded = Recorded::default();
        for e in text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()) {
            match mutation(&e) {
                Some(m) => recorded.mutations.push(m),
                None => recorded.reads.push(operation(&e)),
            }
        }
        recorded
    }

    /// SDK configuration for `region` on this server.
    pub async fn sdk(&self, region: &str) -> aws_config::SdkConfig {
        let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "tests");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(creds)
            .load()
            .await
    }
}

/// Describes a recorded request if it is not a read (Describe/Get/List/...), else None.
/// The requests a recording saw.
#[derive(Debug, Default)]
pub struct Recorded {
    pub reads: Vec<String>,
    pub mutations: Vec<String>,
}

/// What a recorded request did: `<X-Amz-Target> <url>`, `<Action> <url>` or `<METHOD> <url>`
/// (REST APIs, e.g. S3 and API Gateway).
/// The recorded body as text: moto's recorder stores form bodies base64-encoded
/// (`"body_encoded": true`).
fn body_text(e: &serde_json::Value) -> String {
    let raw = e["body"].as_str().unwrap_or("");
    if e["body_encoded"].as_bool() == Some(true) {
        if let Ok(bytes) = aws_smithy_types::base64::decode(raw) {
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    raw.to_string()
}

fn operation(e: &serde_json::Value) -> String {
    let url = e["url"].as_str().unwrap_or("");
    let headers = &e["headers"];
    if let Some(t) = headers.get("X-Amz-Target").or_else(|| headers.get("x-amz-target")).and_then(|v| v.as_str()) {
        return format!("{t} {url}");
    }
    let body = body_text(e);
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return format!("{action} {url}");
    }
    format!("{} {url}", e["method"].as_str().unwrap_or(""))
}

fn mutation(e: &serde_json::Value) -> Option<String> {
    let method = e["method"].as_str().unwrap_or("");
    let url = e["url"].as_str().unwrap_or("");
    let body = body_text(e);
    let headers = &e["headers"];
    let target = headers.get("X-Amz-Target").or_else(|| headers.get("x-amz-target")).and_then(|v| v.as_str());
    let read_prefixes = ["Describe", "Get", "List", "Query", "Scan", "BatchGet", "Head", "Lookup"];
    if let Some(t) = target {
        let op = t.rsplit('.').next().unwrap_or(t);
        return (!read_prefixes.iter().any(|p| op.starts_with(p))).then(|| format!("{t} {url}"));
    }
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return (!read_prefixes.iter().any(|p| action.starts_with(p))).then(|| format!("{action} {url}"));
    }
    if matches!(method, "GET" | "HEAD") {
        return None;
    }
    Some(format!("{method} {url}"))
}

/// The `tandem` binary under test: `TANDEM_BIN` when set (`scripts/test` builds the whole
/// workspace with `--all-targets` first, the same feature set as the test build, and points
/// it at `target/debug/tandem`), else built here with `cargo build -p tandem` (convenient
/// when running one test from an IDE; it may recompile dependencies with other features).
pub fn tandem_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TANDEM_BIN") {
        return PathBuf::from(bin);
    }
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        // Without this test's CARGO_MANIFEST_DIR & co., which would rebuild ring and above.
        let status = tandem_compute::package::cargo_command(env!("CARGO"))
            .args(["build", "-q", "-p", "tandem"])
            .current_dir(root())
            .status()
            .expect("cargo build -p tandem");
        assert!(status.success(), "building tandem failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    target.join("debug/tandem")
}

/// Result of running `tandem`.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Prefixes of the resilience tests' knobs (`TANDEM_FAULT_SEEDS`, ...). They are removed
/// from the CLI's environment: the CLI reads every other `TANDEM_*` variable as a
/// configuration override and refuses unknown keys.
pub const HARNESS_ENV_PREFIXES: &[&str] = &["TANDEM_FAULT_", "TANDEM_KILL_", "TANDEM_RESILIENCE_"];

/// A `tandem` command with the harness's knobs removed from its environment.
fn tandem_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let name = k.to_string_lossy();
        if HARNESS_ENV_PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// Writes `dir/package.zip`: a Lambda package that passes the package check (a static
/// x86-64 ELF `bootstrap`) without building the real one; for runs that never invoke it.
pub fn static_package(dir: &Path) -> PathBuf {
    write_package(dir, &tandem_compute::package::static_elf_for_tests())
}

/// Writes `dir/package.zip` holding `bootstrap` = `elf`.
pub fn write_package(dir: &Path, elf: &[u8]) -> PathBuf {
    let bin = dir.join("bootstrap");
    std::fs::write(&bin, elf).expect("bootstrap");
    let zip = dir.join("package.zip");
    tandem_compute::package::write_zip(&bin, &zip).expect("package zip");
    zip
}

/// Runs `tandem` with `args` and extra environment.
pub fn tandem(bin: &Path, args: &[&str], env: &[(String, String)], cwd: &Path) -> Run {
    let out: Output = tandem_command(bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run tandem");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `tandem` like [`tandem`], but kills it (SIGKILL) if it has not exited within `limit`
/// (the run is then reported with code -9 and a note on stderr).
pub fn tandem_bounded(bin: &Path, args: &[&str], env: &[(String, String)], cwd: &Path, limit: Duration) -> Run {
    let (mut child, out, err) = spawn_tandem(bin, args, env, cwd);
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    let mut run = collect(status.and_then(|s| s.code()).unwrap_or(-9), out, err);
    if timed_out {
        run.stderr.push_str(&format!("\n[harness] killed after {limit:?}: the run did not finish in time\n"));
    }
    run
}

/// What happened to a run killed on purpose.
#[derive(Debug)]
pub struct KilledRun {
    /// True when the process was still running when SIGKILL was sent.
    pub killed: bool,
    /// How long it had run when killed (or when it exited by itself).
    pub after: Duration,
    pub run: Run,
}

/// Runs `tandem` and sends it SIGKILL after `delay` (unless it exited before).
pub fn tandem_killed_after(bin: &Path, args: &[&str], env: &[(String, String)], cwd: &Path, delay: Duration) -> KilledRun {
    let start = Instant::now();
    tandem_killed_when(bin, args, env, cwd, delay, || start.elapsed() >= delay)
}

/// Runs `tandem` and sends it SIGKILL as soon as `now()` answers true (checked every 5 ms),
/// or once `limit` has passed, unless it exited before.
pub fn tandem_killed_when(bin: &Path, args: &[&str], env: &[(String, String)], cwd: &Path, limit: Duration, now: impl Fn() -> bool) -> KilledRun {
    let start = Instant::now();
    let (mut child, out, err) = spawn_tandem(bin, args, env, cwd);
    let deadline = start + limit;
    let (killed, status) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (false, Some(status)),
            Ok(None) if Instant::now() >= deadline || now() => {
                // std's Child::kill sends SIGKILL on Unix: no handler, no cleanup.
                let _ = child.kill();
                break (true, child.wait().ok());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break (false, None),
        }
    };
    let after = start.elapsed();
    let code = status.and_then(|s| s.code()).unwrap_or(-9);
    KilledRun { killed, after, run: collect(code, out, err) }
}

type Pipe = std::thread::JoinHandle<String>;

fn spawn_tandem(bin: &Path, args: &[&str], env: &[(String, String)], cwd: &Path) -> (Child, Pipe, Pipe) {
    let mut child = tandem_command(bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tandem");
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout piped")));
    let err = read(Box::new(child.stderr.take().expect("stderr piped")));
    (child, out, err)
}

fn collect(code: i32, out: Pipe, err: Pipe) -> Run {
    Run { code, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
}

/// The seeds of a resilience test: `<var>` (one seed) or `<var>S` (a comma- or
/// space-separated list) from the environment, else `default_count` seeds 1, 2, ...
/// Panics on a value that does not parse, naming the variable.
pub fn seeds(var: &str, default_count: u64) -> Vec<u64> {
    let parse = |name: &str, v: &str| -> Vec<u64> {
        v.split([',', ' '])
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?}: seeds are unsigned integers")))
            .collect()
    };
    let list = format!("{var}S");
    if let Ok(v) = std::env::var(&list) {
        return parse(&list, &v);
    }
    if let Ok(v) = std::env::var(var) {
        return parse(var, &v);
    }
    (1..=default_count).collect()
}

/// A number from the environment, else `default`. Panics on a value that does not parse.
pub fn env_number<T: std::str::FromStr>(var: &str, default: T) -> T {
    match std::env::var(var) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{var}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A working directory kept for inspection when the test fails (the failure message names
/// it), removed by [`KeptDir::success`].
pub struct KeptDir {
    pub path: PathBuf,
}

impl KeptDir {
    /// `<base>/<name>-<pid>`, emptied first. Tests pass `env!("CARGO_TARGET_TMPDIR")`.
    pub fn new(base: &Path, name: &str) -> KeptDir {
        let path = base.join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("work dir");
        KeptDir { path }
    }

    /// Removes the directory (nothing to inspect).
    pub fn success(self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod recorder_tests {
    use super::*;

    fn entry(body: &str, encoded: bool) -> serde_json::Value {
        let body = if encoded { aws_smithy_types::base64::encode(body) } else { body.to_string() };
        serde_json::json!({"method": "POST", "url": "http://127.0.0.1:1/", "headers": {}, "body": body, "body_encoded": encoded})
    }

    #[test]
    fn query_protocol_bodies_are_decoded_before_classifying() {
        // moto's recorder stores form bodies base64-encoded: a read must not count as a
        // mutation (and a mutation must be named by its action).
        assert_eq!(mutation(&entry("Action=DescribeVpcs&Version=2016-11-15", true)), None);
        assert_eq!(operation(&entry("Action=DescribeVpcs&Version=2016-11-15", true)), "DescribeVpcs http://127.0.0.1:1/");
        assert_eq!(mutation(&entry("Action=CreateVpc&CidrBlock=10.0.0.0%2F16", true)).as_deref(), Some("CreateVpc http://127.0.0.1:1/"));
        assert_eq!(mutation(&entry("Action=DeleteVpc&VpcId=vpc-1", false)).as_deref(), Some("DeleteVpc http://127.0.0.1:1/"));
        let json = serde_json::json!({"method": "POST", "url": "u", "headers": {"X-Amz-Target": "DynamoDB_20120810.DescribeTable"}, "body": ""});
        assert_eq!(mutation(&json), None);
    }
}
