//! CLI contract tests that need no AWS: exit codes, config errors, confirmation, graph.

use std::time::Duration;

use tandem_tests::{tandem, tandem_bin, tandem_bounded};

fn write(dir: &std::path::Path, body: &str) -> String {
    let p = dir.join("tandem.toml");
    std::fs::write(&p, body).expect("write config");
    p.display().to_string()
}

#[test]
fn bad_config_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(
        dir.path(),
        "environment_suffix = \"Bad_Suffix\"\nsecondary_region = \"us-east-9\"\nsimulate = [\"glob\"]\n[network]\naz_count = 1\nprimary_cidr = \"10.0.0.0/16\"\nsecondary_cidr = \"10.0.0.0/16\"\n[databse]\nmin_capacity = 1\n",
    );
    // No AWS endpoint at all: validation must not need one.
    let env = vec![("AWS_ENDPOINT_URL".to_string(), "http://127.0.0.1:9".to_string())];
    for cmd in [vec!["validate"], vec!["plan"], vec!["apply", "--yes"]] {
        let mut args = vec!["--config", cfg.as_str()];
        args.extend(cmd.iter());
        let run = tandem(&tandem_bin(), &args, &env, dir.path());
        assert_eq!(run.code, 2, "{cmd:?}: {run:?}");
        for key in ["environment_suffix", "secondary_region", "simulate", "network.az_count", "network.secondary_cidr", "databse"] {
            assert!(run.stderr.contains(key), "{cmd:?} should name {key}:\n{}", run.stderr);
        }
        assert!(run.stderr.contains("did you mean `database`"), "{}", run.stderr);
        assert!(run.stderr.contains("scripts/local-aws"), "the removed `simulate` key points at the emulator:\n{}", run.stderr);
    }
}

#[test]
fn missing_config_file_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = tandem(&tandem_bin(), &["--config", "nope.toml", "validate"], &[], dir.path());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not found"), "{}", run.stderr);
}

#[test]
fn unknown_flag_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = tandem(&tandem_bin(), &["apply", "--yolo"], &[], dir.path());
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn valid_config_validates_and_graph_renders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(dir.path(), "environment_suffix = \"dev\"\n");
    let bin = tandem_bin();
    let run = tandem(&bin, &["--config", &cfg, "validate"], &[], dir.path());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("valid"));
    let run = tandem(&bin, &["--config", &cfg, "graph", "--format", "mermaid"], &[], dir.path());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("flowchart LR"));
    assert!(run.stdout.contains("network_primary --> peering"), "{}", run.stdout);
    let run = tandem(&bin, &["--config", &cfg, "graph"], &[], dir.path());
    assert!(run.stdout.contains("digraph tandem"));
}

#[test]
fn destroy_refuses_without_yes_off_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(dir.path(), "environment_suffix = \"dev\"\n");
    // Give it something in state so destroy has work to confirm.
    let state_dir = dir.path().join(".tandem/dev");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    std::fs::write(
        state_dir.join("state.json"),
        r#"{"version":1,"stack":"dev","serial":1,"components":{"network-primary":{"status":"applied","kind":"vpc","placement":"primary","region":"us-east-1","replace_hash":"x","update_hash":"y","outputs":{},"resources":{},"updated_at":0}}}"#,
    )
    .expect("state");
    // Credentials and an endpoint that refuses connections: the preflight finds no region
    // answering (an outage, not a credential problem) and the confirmation is what stops it.
    let run = tandem(&tandem_bin(), &["--config", &cfg, "destroy"], &offline_env("http://127.0.0.1:9"), dir.path());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
}

#[test]
fn held_lock_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(dir.path(), "environment_suffix = \"dev\"\n");
    let state_dir = dir.path().join(".tandem/dev");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    // Held by this (live) test process.
    let host = std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    std::fs::write(state_dir.join("lock"), format!(r#"{{"pid":{},"host":"{host}","since":1}}"#, std::process::id())).expect("lock");
    let run = tandem(&tandem_bin(), &["--config", &cfg, "destroy", "--yes"], &offline_env("http://127.0.0.1:9"), dir.path());
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("locked by pid"), "{}", run.stderr);
}

/// Dummy credentials and an endpoint: no test here may reach AWS.
fn offline_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn apply_takes_the_lock_before_building_the_lambda_package() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(dir.path(), "environment_suffix = \"dev\"\n");
    // A `lambda/` here makes tandem build the package from this directory (and fail, it is
    // not a crate): it must not get that far while another run holds the lock.
    std::fs::create_dir_all(dir.path().join("lambda/src")).expect("lambda dir");
    std::fs::write(dir.path().join("lambda/Cargo.toml"), "[package]\nname = \"not-a-lambda\"\n").expect("manifest");
    let state_dir = dir.path().join(".tandem/dev");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    let host = std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    std::fs::write(state_dir.join("lock"), format!(r#"{{"pid":{},"host":"{host}","since":1}}"#, std::process::id())).expect("lock");
    let run = tandem_bounded(&tandem_bin(), &["--config", &cfg, "apply", "--yes"], &offline_env("http://127.0.0.1:9"), dir.path(), Duration::from_secs(120));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("locked by pid"), "{}", run.stderr);
    assert!(!run.stderr.contains("Lambda package"), "no build before the lock: {}", run.stderr);
}

#[test]
fn two_applies_started_together_exactly_one_runs() {
    // An endpoint that accepts connections and never answers: the run that gets the lock
    // holds it while its region probes wait, long after the other has tried.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let endpoint = format!("http://{}", blackhole.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in blackhole.incoming().flatten() {
            held.push(c);
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    tandem_tests::static_package(dir.path());
    let cfg = write(dir.path(), "environment_suffix = \"dev\"\n[lambda]\npackage = \"package.zip\"\n");
    let env = offline_env(&endpoint);
    let bin = tandem_bin();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (bin, cfg, env, cwd) = (bin.clone(), cfg.clone(), env.clone(), dir.path().to_path_buf());
            std::thread::spawn(move || tandem_bounded(&bin, &["--config", &cfg, "apply", "--yes"], &env, &cwd, Duration::from_secs(120)))
        })
        .collect();
    let runs: Vec<_> = runs.into_iter().map(|t| t.join().expect("run")).collect();
    let locked: Vec<_> = runs.iter().filter(|r| r.stderr.contains("locked by pid")).collect();
    assert_eq!(locked.len(), 1, "exactly one is refused: {runs:#?}");
    assert_eq!(locked[0].code, 1, "{runs:#?}");
    assert!(locked[0].stdout.is_empty(), "the refused one did nothing: {runs:#?}");
    let ran = runs.iter().find(|r| !r.stderr.contains("locked by pid")).expect("the other ran");
    assert!(ran.stdout.contains("UNREACHABLE") || ran.stderr.contains("UNREACHABLE"), "the other one ran (and found no AWS): {ran:?}");
    assert!(!dir.path().join(".tandem/dev/lock").exists(), "the lock is released");
}

/// `tandem` with an environment holding nothing but `env`: no credentials anywhere (no
/// variables; HOME is `cwd`, so no `~/.aws` profile files).
fn run_bare(args: &[&str], env: &[(&str, &str)], cwd: &std::path::Path) -> tandem_tests::Run {
    let out = std::process::Command::new(tandem_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd)
        .envs(env.iter().copied())
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tandem");
    tandem_tests::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn without_credentials_apply_destroy_failover_and_drill_exit_2_and_touch_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write(dir.path(), "environment_suffix = \"dev\"\n");
    let env = [("AWS_EC2_METADATA_DISABLED", "true"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:9")];
    for args in [
        vec!["apply", "--yes"],
        vec!["destroy", "--yes"],
        vec!["failover", "--yes"],
        vec!["switchover", "--to", "secondary", "--yes"],
        vec!["drill", "--yes"],
    ] {
        let mut all = vec!["--config", cfg.as_str()];
        all.extend(args.iter().copied());
        let run = run_bare(&all, &env, dir.path());
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: no AWS credentials found.") && first.contains("AWS_PROFILE") && first.contains("aws sso login"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("Nothing was started"), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("WARN"), "one message, no provider warnings: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(!dir.path().join(".tandem").exists(), "{args:?}: no state, no lock");
    }
    // A plan reads no live resource: it says the account is unknown and goes on.
    let run = run_bare(&["--config", &cfg, "plan"], &env, dir.path());
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.starts_with("warning: no AWS credentials found."), "{}", run.stderr);
    assert!(run.stdout.lines().nth(1).is_some_and(|l| l.starts_with("Account: unknown")), "{}", run.stdout);
}

#[test]
fn against_the_emulator_the_plan_names_the_account_and_another_account_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = tandem_tests::Moto::start(work.path());
    let env = offline_env(&moto.endpoint);
    let bin = tandem_bin();
    // A package given in the configuration: no Lambda build in this test.
    let config = |dir: &std::path::Path, extra: &str| {
        tandem_tests::static_package(dir);
        write(dir, &format!("environment_suffix = \"dev\"\n{extra}[lambda]\npackage = \"package.zip\"\n"))
    };

    let refused = tempfile::tempdir().expect("tempdir");
    let cfg = config(refused.path(), "");
    moto.start_recording();
    let run = tandem(&bin, &["--config", &cfg, "--expect-account", "111122223333", "apply", "--yes"], &env, refused.path());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("the credentials are for account 123456789012") && run.stderr.contains("expects account 111122223333 (--expect-account)"), "{}", run.stderr);
    assert!(run.stderr.contains("Nothing was started"), "{}", run.stderr);
    let cfg_other = config(refused.path(), "account_id = \"111122223333\"\n");
    let run = tandem(&bin, &["--config", &cfg_other, "destroy", "--yes"], &env, refused.path());
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("(account_id in the configuration)"), "{}", run.stderr);
    let run = tandem(&bin, &["--config", &cfg_other, "plan"], &env, refused.path());
    assert_eq!(run.code, 2, "a plan for another account is refused too: {run:?}");
    assert_eq!(moto.stop_recording_mutations(), Vec::<String>::new(), "nothing was changed");
    assert!(!refused.path().join(".tandem").exists(), "no state, no lock");

    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "account_id = \"111122223333\"\n");
    let run = tandem(&bin, &["--config", &cfg, "--expect-account", "123456789012", "plan"], &env, dir.path());
    assert_eq!(run.code, 0, "the flag overrides the configuration: {run:?}");
    assert_eq!(run.stdout.lines().nth(1), Some("Account 123456789012, as arn:aws:sts::123456789012:user/moto"), "{}", run.stdout);
    let run = tandem(&bin, &["--config", &cfg, "--expect-account", "123456789012", "plan", "--json"], &env, dir.path());
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan json");
    assert_eq!(v["caller"]["account"], "123456789012", "{v}");
}

#[test]
fn a_package_that_cannot_run_on_lambda_is_refused_before_any_aws_call() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = tandem_tests::Moto::start(work.path());
    let dir = tempfile::tempdir().expect("tempdir");
    // An aarch64 executable: Lambda would create the functions, then fail every invoke.
    let mut elf = tandem_compute::package::static_elf_for_tests();
    elf[18..20].copy_from_slice(&183u16.to_le_bytes());
    tandem_tests::write_package(dir.path(), &elf);
    let cfg = write(dir.path(), "environment_suffix = \"dev\"\n[lambda]\npackage = \"package.zip\"\n");
    moto.start_recording();
    for args in [vec!["apply", "--yes"], vec!["plan"]] {
        let mut all = vec!["--config", cfg.as_str()];
        all.extend(args.iter().copied());
        let run = tandem(&tandem_bin(), &all, &offline_env(&moto.endpoint), dir.path());
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("cannot run on Lambda") && run.stderr.contains("built for aarch64; the functions run on x86_64"), "{}", run.stderr);
        assert!(run.stderr.contains("Fix: build it on a host whose glibc is at most 2.34"), "{}", run.stderr);
    }
    assert_eq!(moto.stop_recording_mutations(), Vec::<String>::new(), "nothing was created");
    assert!(!dir.path().join(".tandem/dev/state.json").exists(), "no state written");
}
