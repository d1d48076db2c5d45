//! Helpers for Tandem's workspace-level tests: a dedicated moto server per test binary,
//! SDK configurations pointing at it, the `tandem` binary, and moto's request recorder
//! (to prove a run made no mutating call).

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
fn operation(e: &serde_json::Value) -> String {
    let url = e["url"].as_str().unwrap_or("");
    let headers = &e["headers"];
    if let Some(t) = headers.get("X-Amz-Target").or_else(|| headers.get("x-amz-target")).and_then(|v| v.as_str()) {
        return format!("{t} {url}");
    }
    let body = e["body"].as_str().unwrap_or("");
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return format!("{action} {url}");
    }
    format!("{} {url}", e["method"].as_str().unwrap_or(""))
}

fn mutation(e: &serde_json::Value) -> Option<String> {
    let method = e["method"].as_str().unwrap_or("");
    let url = e["url"].as_str().unwrap_or("");
    let body = e["body"].as_str().unwrap_or("");
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
        let status = Command::new(env!("CARGO"))
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

/// Runs `tandem` with `args` and extra environment.
pub fn tandem(bin: &Path, args: &[&str], env: &[(String, String)], cwd: &Path) -> Run {
    let out: Output = Command::new(bin)
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
