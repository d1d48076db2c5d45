//! Test support (feature `mocks`): a moto server shared by a test process, and an
//! [`AwsContext`] pointing at it with static test credentials.
//!
//! `moto()` uses `TANDEM_MOTO_ENDPOINT` when set (CI starts one server for the whole run
//! with `scripts/test`), else starts `moto_server` (from the project's `.venv`, then
//! `PATH`) on a free loopback port, once per process; it is killed when the process exits.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::aws::AwsContext;

pub mod replay;

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static CHILD: Mutex<Option<Child>> = Mutex::new(None);

fn workspace_root() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join(".ci").exists() && !dir.join("Cargo.lock").exists() {
        if !dir.pop() {
            break;
        }
    }
    dir
}

/// The local emulator: moto with the project's extension module (`emulator/`), run as
/// `python -m emulator` with the workspace root on `PYTHONPATH`.
pub fn emulator_command() -> Command {
    let root = workspace_root();
    let venv = root.join(".venv/bin/python");
    let python = if venv.exists() { venv } else { PathBuf::from("python3") };
    let mut cmd = Command::new(python);
    let path = match std::env::var_os("PYTHONPATH") {
        Some(p) if !p.is_empty() => {
            let mut v = root.clone().into_os_string();
            v.push(":");
            v.push(p);
            v
        }
        _ => root.into_os_string(),
    };
    cmd.arg("-m").arg("emulator").env("PYTHONPATH", path);
    cmd
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| e.to_string())
}

fn wait_until_up(endpoint: &str) -> Result<(), String> {
    let addr = endpoint.trim_start_matches("http://");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("moto did not answer on {endpoint} within 30 s"))
}

extern "C" fn kill_child() {
    if let Ok(mut g) = CHILD.lock() {
        if let Some(c) = g.as_mut() {
            let _ = c.kill();
        }
    }
}

extern "C" {
    fn atexit(cb: extern "C" fn()) -> i32;
}

/// The endpoint of a running moto server (started on first use).
pub fn moto_endpoint() -> Result<String, String> {
    SERVER
        .get_or_init(|| {
            if let Ok(e) = std::env::var("TANDEM_MOTO_ENDPOINT") {
                wait_until_up(&e)?;
                return Ok(e);
            }
            let port = free_port()?;
            let child = emulator_command()
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ACM_VALIDATION_WAIT", "1")
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start the emulator ({e}); run scripts/local-aws install"))?;
            *CHILD.lock().map_err(|e| e.to_string())? = Some(child);
            // SAFETY: registering a plain extern "C" callback with libc's atexit.
            unsafe {
                atexit(kill_child);
            }
            let endpoint = format!("http://127.0.0.1:{port}");
            wait_until_up(&endpoint)?;
            Ok(endpoint)
        })
        .clone()
}

/// An [`AwsContext`] on moto with static credentials (account 123456789012).
pub async fn moto_context() -> AwsContext {
    let endpoint = moto_endpoint().unwrap_or_else(|e| panic!("moto: {e}"));
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "tandem-tests");
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    AwsContext::from_base(base, true)
}
