//! Resilience: every create is safe to repeat. Two end-to-end proofs against moto, each
//! deterministic per seed (seeds printed; a failure names the seed, the duplicates/orphans
//! and the errors, and keeps its working directory with moto's log, the proxy's decision
//! log and Tandem's state):
//!
//! - `apply_and_destroy_converge_under_injected_faults`: the CLI talks to moto through a
//!   loopback proxy ([`tandem_tests::fault_proxy`]) that fails a seeded fraction of the
//!   requests: half before moto sees them (503 or connection reset), half after moto acted
//!   (the answer is lost). One `apply --yes` must succeed, the census of both regions (raw
//!   SDK, straight to moto) must hold exactly what the stack owns; one `destroy --yes` under
//!   the same faults must succeed and leave nothing.
//! - `apply_and_destroy_converge_after_kill_9`: `apply` SIGKILLed twice at seeded moments,
//!   then a normal `apply` must succeed with exactly what the stack owns; `destroy` killed
//!   once, then a normal `destroy` must leave nothing.
//!
//! Knobs (environment):
//! - `TANDEM_FAULT_SEEDS` (list, `1,2,3`) or `TANDEM_FAULT_SEED` (one); default 1..=5.
//! - `TANDEM_FAULT_RATE`: fraction of requests faulted, default 0.2.
//! - `TANDEM_FAULT_PARALLEL`: how many seeds run at once, default 3 (each has its own moto,
//!   proxy and stack; a seed mostly waits out retry backoffs).
//! - `TANDEM_KILL_SEEDS` / `TANDEM_KILL_SEED`; default 1..=3.
//! - `TANDEM_KILL_APPLY_WINDOW_MS` / `TANDEM_KILL_DESTROY_WINDOW_MS`: `min-max` of the kill
//!   delays, defaults `300-8000` and `200-2500`.
//! - `TANDEM_RESILIENCE_RUN_TIMEOUT_S`: bound on one CLI run, default 180 (a fault-free apply
//!   takes ~10 s on moto).
//!
//! Each seed gets its own moto server (so the census sees only that seed's stack) and its
//! own stack suffix derived from the seed.

use std::path::Path;
use std::time::{Duration, Instant};

use tandem_tests::fault_proxy::{mix, unit, FaultPlan, FaultProxy};
use tandem_tests::{env_number, seeds, tandem_bin, tandem_bounded, tandem_killed_after, KeptDir, Moto, Run};

use crate::census;
use crate::Deployment;

fn run_limit() -> Duration {
    Duration::from_secs(env_number("TANDEM_RESILIENCE_RUN_TIMEOUT_S", 180u64))
}

/// `line` without ANSI colour sequences.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... final byte in @..~
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) && d != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The lines of a run's output that say what failed (not the warnings of retries that
/// worked, nor the components skipped because of a failure).
fn errors_of(run: &Run) -> String {
    let mut lines: Vec<String> = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .map(plain)
        .filter(|l| l.contains('✗') || l.contains("FAILED") || l.contains("[harness]") || l.trim_start().to_ascii_lowercase().starts_with("error"))
        .collect();
    lines.dedup();
    if lines.is_empty() {
        let all: Vec<String> = run.stderr.lines().map(plain).collect();
        return all[all.len().saturating_sub(15)..].join("\n");
    }
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Runs the CLI off the async runtime (the proxy lives on it), bounded.
async fn cli(d: &Deployment, args: &[&str]) -> Run {
    let bin = tandem_bin();
    let cfg = d.config.display().to_string();
    let mut full: Vec<String> = vec!["--config".into(), cfg];
    full.extend(args.iter().map(|a| a.to_string()));
    let env = d.env.clone();
    let limit = run_limit();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = full.iter().map(String::as_str).collect();
        tandem_bounded(&bin, &args, &env, &tandem_tests::root(), limit)
    })
    .await
    .expect("CLI runner")
}

/// One seed's outcome, for the final report.
struct SeedReport {
    seed: u64,
    lines: Vec<String>,
    failed: bool,
}

impl SeedReport {
    fn new(seed: u64, suffix: &str) -> SeedReport {
        SeedReport { seed, lines: vec![format!("seed {seed} (stack {suffix})")], failed: false }
    }
    fn note(&mut self, line: impl Into<String>) {
        let line = line.into();
        eprintln!("  seed {}: {line}", self.seed);
        self.lines.push(format!("  {line}"));
    }
    fn fail(&mut self, line: impl Into<String>) {
        self.failed = true;
        self.note(format!("FAIL {}", line.into()));
    }
}

/// Compares the census with what the stack should own after apply (`deployed`) or destroy.
/// The whole census is written to `<dir>/census <when>.txt`.
async fn census_check(moto: &Moto, d: &Deployment, deployed: bool, when: &str, dir: &Path, report: &mut SeedReport) {
    let expected = if deployed { census::expected_deployed() } else { census::expected_destroyed() };
    match census::take(moto, &d.zone_id).await {
        Err(e) => report.fail(format!("{when}: {e}")),
        Ok(c) => {
            let _ = std::fs::write(dir.join(format!("census {when}.txt")), census::render(&c));
            let (extra, missing) = census::compare(&c, &expected);
            if extra.is_empty() && missing.is_empty() {
                report.note(format!("{when}: census exact ({} kinds)", c.len()));
            }
            for x in extra {
                report.fail(format!("{when}: DUPLICATE/ORPHAN {x}"));
            }
            if !missing.is_empty() {
                // Usually the consequence of a failed run: one line, kinds and counts only.
                let kinds: Vec<&str> = missing.iter().map(|m| m.split(" expected").next().unwrap_or(m)).collect();
                report.fail(format!("{when}: MISSING {} kinds: {}", missing.len(), kinds.join("; ")));
            }
        }
    }
}

/// Stack suffix of a seed (deterministic, valid, short).
fn suffix(prefix: &str, seed: u64) -> String {
    format!("{prefix}{:06x}", mix(seed) & 0xff_ffff)
}

/// Fails the test with every seed's report if any seed failed.
fn conclude(test: &str, reports: Vec<SeedReport>, started: Instant) {
    let failed: Vec<u64> = reports.iter().filter(|r| r.failed).map(|r| r.seed).collect();
    let text: Vec<String> = reports.iter().map(|r| r.lines.join("\n")).collect();
    eprintln!("{test}: {} seeds in {:.0?}; failed seeds: {failed:?}\n{}", reports.len(), started.elapsed(), text.join("\n"));
    assert!(failed.is_empty(), "{test}: seeds {failed:?} failed (rerun one with TANDEM_*_SEED=<seed>):\n{}", text.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_destroy_converge_under_injected_faults() {
    let seeds = seeds("TANDEM_FAULT_SEED", 5);
    let rate: f64 = env_number("TANDEM_FAULT_RATE", 0.2);
    assert!((0.0..=1.0).contains(&rate), "TANDEM_FAULT_RATE must be in [0, 1], got {rate}");
    // Seeds are independent (each its own moto, proxy and stack) and mostly wait out retry
    // backoffs, so a few run at once.
    let parallel: usize = env_number("TANDEM_FAULT_PARALLEL", 1usize).max(1);
    eprintln!("fault injection: seeds {seeds:?}, rate {rate}, {parallel} at a time (TANDEM_FAULT_SEEDS / TANDEM_FAULT_RATE / TANDEM_FAULT_PARALLEL)");
    let started = Instant::now();
    use futures::StreamExt as _;
    let mut reports: Vec<SeedReport> =
        futures::stream::iter(seeds).map(|seed| fault_seed(seed, rate)).buffer_unordered(parallel).collect().await;
    reports.sort_by_key(|r| r.seed);
    conclude("fault injection", reports, started);
}

/// One seed of the fault-injection run: its own moto, proxy and stack; apply, census,
/// destroy, census.
async fn fault_seed(seed: u64, rate: f64) -> SeedReport {
    let s = suffix("fi", seed);
    let mut report = SeedReport::new(seed, &s);
    eprintln!("seed {seed}: stack {s}");
    let work = KeptDir::new(Path::new(env!("CARGO_TARGET_TMPDIR")), &format!("faults-seed{seed}"));
    let workdir = work.path.clone();
    let moto = tokio::task::spawn_blocking(move || Moto::start(&workdir)).await.expect("moto start");
    let proxy = FaultProxy::start(&moto.endpoint, FaultPlan { seed, rate }, &work.path.join("proxy.log")).await.expect("fault proxy");
    let d = Deployment::new(&moto, &s, &work.path, &proxy.endpoint).await;

    for (command, deployed) in [("apply", true), ("destroy", false)] {
        proxy.phase(command);
        let t = Instant::now();
        let run = cli(&d, &[command, "--yes"]).await;
        let stats = proxy.take_stats();
        report.note(format!("{command}: exit {} in {:.0?}; {stats}", run.code, t.elapsed()));
        if run.code != 0 {
            report.fail(format!("{command} did not converge in one run (exit {}):\n{}", run.code, errors_of(&run)));
        }
        if stats.proxy_errors > 0 {
            report.fail(format!("the proxy itself failed {} times in {command} (see {})", stats.proxy_errors, proxy.log_path.display()));
        }
        census_check(&moto, &d, deployed, &format!("after {command}"), &work.path, &mut report).await;
    }

    drop(proxy);
    drop(moto);
    if report.failed {
        report.note(format!("kept for inspection: {} (proxy.log, moto.log, .tandem/)", work.path.display()));
    } else {
        work.success();
    }
    report
}

/// `(min, max)` of the kill delays, from `var` (`<min>-<max>` in ms) or `default`.
fn kill_window(var: &str, default: &str) -> (u64, u64) {
    let v = std::env::var(var).unwrap_or_else(|_| default.into());
    let parsed = v.split_once('-').and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)));
    match parsed {
        Some((a, b)) if a <= b => (a, b),
        _ => panic!("{var}={v:?}: expected <min>-<max> in milliseconds"),
    }
}

/// The `i`-th kill delay of `seed`.
fn kill_delay(seed: u64, i: u64, (min, max): (u64, u64)) -> Duration {
    let u = unit(mix(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ mix(i + 1)));
    Duration::from_millis(min + ((max - min) as f64 * u) as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_and_destroy_converge_after_kill_9() {
    let seeds = seeds("TANDEM_KILL_SEED", 3);
    // On moto a full apply takes ~10 s and a destroy ~3 s (one core's worth): kills are
    // spread over those spans. A run that ends before its kill is reported as such.
    let apply_window = kill_window("TANDEM_KILL_APPLY_WINDOW_MS", "300-8000");
    let destroy_window = kill_window("TANDEM_KILL_DESTROY_WINDOW_MS", "200-2500");
    eprintln!(
        "kill -9: seeds {seeds:?}, apply killed after {apply_window:?} ms, destroy after {destroy_window:?} ms \
         (TANDEM_KILL_SEEDS, TANDEM_KILL_APPLY_WINDOW_MS, TANDEM_KILL_DESTROY_WINDOW_MS)"
    );
    let started = Instant::now();
    let mut reports = Vec::new();
    for seed in seeds {
        let s = suffix("kl", seed);
        let mut report = SeedReport::new(seed, &s);
        eprintln!("seed {seed}: stack {s}");
        let work = KeptDir::new(Path::new(env!("CARGO_TARGET_TMPDIR")), &format!("kill-seed{seed}"));
        let moto = Moto::start(&work.path);
        let d = Deployment::new(&moto, &s, &work.path, &moto.endpoint).await;

        // `plan` first: it builds the Lambda package if needed (a cargo child a SIGKILL of the
        // CLI would orphan), so the kills below only ever hit the CLI's own work.
        let run = cli(&d, &["plan"]).await;
        if run.code != 0 {
            report.fail(format!("plan failed (exit {}):\n{}", run.code, errors_of(&run)));
        }

        let kill = |what: &'static str, i: u64, report: &mut SeedReport| {
            // The second apply resumes the first: it has less left to do, so its kill
            // comes within the first half of the window.
            let window = match (what, i) {
                ("apply", 0) => apply_window,
                ("apply", _) => (apply_window.0, apply_window.0.max(apply_window.1 / 2)),
                _ => destroy_window,
            };
            let delay = kill_delay(seed, i, window);
            let bin = tandem_bin();
            let cfg = d.config.display().to_string();
            let k = tandem_killed_after(&bin, &["--config", &cfg, what, "--yes"], &d.env, &tandem_tests::root(), delay);
            if k.killed {
                report.note(format!("{what} #{} SIGKILLed after {:.1?}", i + 1, k.after));
            } else {
                report.note(format!("{what} #{} finished (exit {}) before its kill at {delay:.1?}", i + 1, k.run.code));
            }
        };
        kill("apply", 0, &mut report);
        kill("apply", 1, &mut report);
        let t = Instant::now();
        let run = cli(&d, &["apply", "--yes"]).await;
        report.note(format!("apply after the kills: exit {} in {:.0?}", run.code, t.elapsed()));
        if run.code != 0 {
            report.fail(format!("apply after the kills failed (exit {}):\n{}", run.code, errors_of(&run)));
        }
        census_check(&moto, &d, true, "after apply", &work.path, &mut report).await;

        kill("destroy", 2, &mut report);
        let t = Instant::now();
        let run = cli(&d, &["destroy", "--yes"]).await;
        report.note(format!("destroy after the kill: exit {} in {:.0?}", run.code, t.elapsed()));
        if run.code != 0 {
            report.fail(format!("destroy after the kill failed (exit {}):\n{}", run.code, errors_of(&run)));
        }
        census_check(&moto, &d, false, "after destroy", &work.path, &mut report).await;

        drop(moto);
        if report.failed {
            report.note(format!("kept for inspection: {} (moto.log, .tandem/)", work.path.display()));
        } else {
            work.success();
        }
        reports.push(report);
    }
    conclude("kill -9", reports, started);
}

#[test]
fn kill_delays_are_seeded_and_inside_the_window() {
    let w = (1500, 25000);
    let a: Vec<Duration> = (0..3).map(|i| kill_delay(7, i, w)).collect();
    let b: Vec<Duration> = (0..3).map(|i| kill_delay(7, i, w)).collect();
    assert_eq!(a, b);
    assert_ne!(a, (0..3).map(|i| kill_delay(8, i, w)).collect::<Vec<_>>());
    for seed in 0..200 {
        for i in 0..3 {
            let d = kill_delay(seed, i, w).as_millis() as u64;
            assert!((w.0..=w.1).contains(&d), "{d}");
        }
    }
    assert!(suffix("fi", 1).len() <= 8 && suffix("fi", 1) != suffix("fi", 2));
}
