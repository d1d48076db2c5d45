//! The CLI during a regional outage (DR.md, "The CLI during an outage"), with the emulator's
//! region switch: deploy, cut us-east-1 (`scripts/local-aws outage`), then
//! - `status` answers within 60 s, names us-east-1 once as unreachable, exits 1;
//! - `failover --unplanned --yes` exits 0; the secondary cluster is the writer (read with the
//!   raw SDK through us-east-2), `PrimaryDown` = 1 is backfilled for the last
//!   `[failover] probe_failures` minutes in us-east-2's CloudWatch (`FailedOver` = 1 too) and
//!   the forced flag `/tandem/<suffix>/failover/forced` is `true` in us-east-2.
//!
//! Then restore, `switchover --to primary --yes` puts the writer back in the primary and
//! deletes the forced flag, and `destroy` leaves nothing. The measured times are printed
//! (stderr).

use std::time::{Duration, Instant, SystemTime};

use tandem_core::contracts::{failover_flags, failover_metrics};
use tandem_tests::{tandem, tandem_bin, Moto, Run};

use crate::outage::local_aws;
use crate::{check, inventory, rand_u32, Deployment, PRIMARY, SECONDARY};

/// The writer's cluster ARN and the `FailoverState` status, read through `region`.
async fn writer(moto: &Moto, region: &str, global_id: &str) -> (Option<String>, Option<String>) {
    let rds = aws_sdk_rds::Client::new(&moto.sdk(region).await);
    let out = rds.describe_global_clusters().global_cluster_identifier(global_id).send().await.expect("DescribeGlobalClusters");
    let g = out.global_clusters().first().expect("the global cluster");
    let w = g.global_cluster_members().iter().find(|m| m.is_writer() == Some(true)).and_then(|m| m.db_cluster_arn()).map(str::to_string);
    let state = g.failover_state().and_then(|f| f.status()).map(|s| s.as_str().to_string());
    (w, state)
}

/// The one-minute `Maximum` datapoints of a controller metric (`Tandem/Failover`,
/// `Stack=<suffix>`) of the last 10 minutes in `region`.
async fn controller_maxima(moto: &Moto, region: &str, suffix: &str, metric: &str) -> Vec<f64> {
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk(region).await);
    let now = SystemTime::now();
    let stats = cw
        .get_metric_statistics()
        .namespace(failover_metrics::NAMESPACE)
        .metric_name(metric)
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name(failover_metrics::DIMENSION).value(suffix).build())
        .start_time(aws_smithy_types::DateTime::from(now - Duration::from_secs(600)))
        .end_time(aws_smithy_types::DateTime::from(now + Duration::from_secs(60)))
        .period(60)
        .statistics(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .send()
        .await
        .expect("GetMetricStatistics");
    stats.datapoints().iter().filter_map(|d| d.maximum()).collect()
}

/// The forced flag's value in `region` (None: absent).
async fn forced_flag(moto: &Moto, region: &str, suffix: &str) -> Option<String> {
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk(region).await);
    match ssm.get_parameter().name(failover_flags::forced(suffix)).send().await {
        Ok(out) => out.parameter().and_then(|p| p.value()).map(str::to_string),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => None,
        Err(e) => panic!("GetParameter: {e:?}"),
    }
}

fn show(run: &Run) -> String {
    format!("exit {}\n--- stdout\n{}\n--- stderr\n{}", run.code, run.stdout, run.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_during_a_primary_outage_status_failover_switchover() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(work.path());
    let suffix = format!("dr{:06x}", rand_u32() & 0xffffff);
    let d = Deployment::new(&moto, &suffix, work.path(), &moto.endpoint).await;
    let root = tandem_tests::root();
    let bin = tandem_bin();
    let cfg = d.config.display().to_string();
    let global_id = format!("aurora-global-{suffix}");
    let primary_arn = |arn: &str| arn.contains(&format!(":{PRIMARY}:")) && arn.ends_with(&format!(":cluster:aurora-primary-{suffix}"));
    let secondary_arn = |arn: &str| arn.contains(&format!(":{SECONDARY}:")) && arn.ends_with(&format!(":cluster:aurora-secondary-{suffix}"));

    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes"], &d.env, &root);
    check(&run, "apply");
    let (w, _) = writer(&moto, SECONDARY, &global_id).await;
    assert!(w.as_deref().is_some_and(primary_arn), "the primary writes after apply: {w:?}");

    // Healthy: status exits 0 and names no region as unreachable.
    let t = Instant::now();
    let run = tandem(&bin, &["--config", &cfg, "status"], &d.env, &root);
    let healthy_status = t.elapsed();
    eprintln!("--- tandem status (healthy, exit {}):\n{}", run.code, run.stdout);
    assert!(!run.stdout.contains("UNREACHABLE"), "{}", show(&run));
    assert!(run.stdout.contains("Aurora writer: primary"), "{}", show(&run));
    assert!(run.stdout.contains(&format!("Failover controller ({SECONDARY}, automatic failover on):")), "{}", show(&run));
    assert!(run.stdout.contains(&format!("(alarm-primary-down-secondary-{suffix})")) && run.stdout.contains("forced flag: not set"), "{}", show(&run));

    // ---- cut the primary ----
    local_aws(&moto, "outage", PRIMARY);

    let t = Instant::now();
    let run = tandem(&bin, &["--config", &cfg, "status"], &d.env, &root);
    let outage_status = t.elapsed();
    eprintln!("--- tandem status with {PRIMARY} cut:\n{}", run.stdout);
    assert_eq!(run.code, 1, "status exits 1 with a region unreachable: {}", show(&run));
    assert!(outage_status < Duration::from_secs(60), "status took {outage_status:?}: {}", show(&run));
    let named: Vec<&str> = run.stdout.lines().filter(|l| l.contains("UNREACHABLE")).collect();
    assert_eq!(named.len(), 1, "the region is named once: {}", show(&run));
    assert!(named[0].contains(&format!("{PRIMARY} is UNREACHABLE")) && named[0].contains("components not checked"), "{}", show(&run));
    assert!(run.stdout.contains("unavailable while it is down: Route 53 control plane"), "{}", show(&run));
    assert!(!run.stdout.contains("DispatchFailure") || named[0].contains("DispatchFailure"), "no per-component dispatch failure: {}", show(&run));
    assert!(!run.stdout.lines().any(|l| l.contains("ERROR") && l.contains("dispatch")), "{}", show(&run));
    assert!(run.stdout.lines().any(|l| l.trim_start().starts_with("network-secondary") && l.ends_with("in sync")), "the rest is reported: {}", show(&run));

    let t = Instant::now();
    let run = tandem(&bin, &["--config", &cfg, "failover", "--unplanned", "--yes"], &d.env, &root);
    let failover = t.elapsed();
    eprintln!("--- tandem failover --unplanned with {PRIMARY} cut:\n{}", run.stdout);
    check(&run, "failover --unplanned with us-east-1 cut");
    assert!(run.stdout.contains("Failover (unplanned) finished"), "{}", show(&run));
    assert!(run.stdout.contains(&format!("Route 53 changes are impossible while {PRIMARY} is down")), "{}", show(&run));
    let (w, state) = writer(&moto, SECONDARY, &global_id).await;
    assert!(w.as_deref().is_some_and(secondary_arn), "the secondary writes after the failover: {w:?}");
    assert_eq!(state, None, "FailoverState is empty");
    // The decision: PrimaryDown = 1 for each of the last probe_failures (default 3) minutes.
    let down = controller_maxima(&moto, SECONDARY, &suffix, failover_metrics::PRIMARY_DOWN).await;
    assert!(down.len() >= 3 && down.iter().all(|v| *v == 1.0), "PrimaryDown=1 for 3 minutes in {SECONDARY}: {down:?}");
    let failed_over = controller_maxima(&moto, SECONDARY, &suffix, failover_metrics::FAILED_OVER).await;
    assert_eq!(failed_over, vec![1.0], "FailedOver=1 in {SECONDARY}");
    assert_eq!(forced_flag(&moto, SECONDARY, &suffix).await.as_deref(), Some("true"), "the forced flag in {SECONDARY}");
    assert!(run.stdout.contains("forced flag") && run.stdout.contains("PrimaryDown=1 for the last 3 minute(s)"), "{}", show(&run));
    assert!(run.stdout.contains("Recorded in the state."), "the local state answers: {}", show(&run));

    // Still cut: status shows the secondary as the writer, read through it.
    let run = tandem(&bin, &["--config", &cfg, "status"], &d.env, &root);
    assert_eq!(run.code, 1, "{}", show(&run));
    assert!(run.stdout.contains("Aurora writer: secondary") && run.stdout.contains(&format!("read through {SECONDARY}")), "{}", show(&run));
    assert!(run.stdout.contains("Recent operations:\n  ✓ failover --unplanned at "), "{}", show(&run));
    assert!(run.stdout.contains("forced flag: SET"), "the controller's view is read through {SECONDARY}: {}", show(&run));

    // Still cut: `apply --refresh` reads what answers. The secondary (now the writer) is not
    // drift and nothing changes there; us-east-1 is named once, its components left alone.
    let state_before = std::fs::read(d.state_file()).expect("state file");
    let t = Instant::now();
    moto.start_recording();
    let run = tandem(&bin, &["--config", &cfg, "apply", "--refresh", "--yes"], &d.env, &root);
    let mutations = moto.stop_recording_mutations();
    let outage_apply = t.elapsed();
    eprintln!("--- tandem apply --refresh with {PRIMARY} cut ({:.1}s):\n{}", outage_apply.as_secs_f64(), run.stdout);
    assert_eq!(run.code, 1, "a region left unchecked is not a success: {}", show(&run));
    let named: Vec<&str> = run.stdout.lines().filter(|l| l.contains("UNREACHABLE")).collect();
    assert_eq!(named.len(), 1, "the region is named once: {}", show(&run));
    assert!(named[0].starts_with(&format!("{PRIMARY} is UNREACHABLE")) && named[0].contains("will not be touched"), "{}", show(&run));
    assert!(run.stdout.contains("No changes."), "no change to the secondary after the failover: {}", show(&run));
    assert!(run.stdout.contains(&format!("✗ {PRIMARY} did not answer:")) && run.stdout.contains("not checked"), "{}", show(&run));
    assert!(!run.stdout.contains("DispatchFailure") || named[0].contains("DispatchFailure"), "no per-component dispatch failure: {}", show(&run));
    assert!(outage_apply < Duration::from_secs(120), "apply with a region cut took {outage_apply:?}");
    assert_eq!(std::fs::read(d.state_file()).expect("state file"), state_before, "the state is untouched");
    assert!(mutations.is_empty(), "apply with {PRIMARY} cut made mutating calls: {mutations:#?}");

    // A switchover cannot run while a region is cut.
    let run = tandem(&bin, &["--config", &cfg, "switchover", "--to", "primary", "--yes"], &d.env, &root);
    assert_eq!(run.code, 1, "{}", show(&run));
    assert!(run.stdout.contains("switchover refused") && run.stdout.contains("failover --unplanned"), "{}", show(&run));

    // ---- restore, then fail back ----
    local_aws(&moto, "restore", PRIMARY);
    let t = Instant::now();
    let run = tandem(&bin, &["--config", &cfg, "switchover", "--to", "primary", "--yes"], &d.env, &root);
    let switchover = t.elapsed();
    eprintln!("--- tandem switchover --to primary:\n{}", run.stdout);
    check(&run, "switchover --to primary after restore");
    let (w, state) = writer(&moto, PRIMARY, &global_id).await;
    assert!(w.as_deref().is_some_and(primary_arn), "the primary writes again: {w:?}");
    assert_eq!(state, None);
    assert!(run.stdout.contains(&format!("forced flag {} deleted in {SECONDARY}", failover_flags::forced(&suffix))), "{}", show(&run));
    assert_eq!(forced_flag(&moto, SECONDARY, &suffix).await, None, "the forced flag is cleared");

    // Back to normal: an apply that reads every live resource changes nothing.
    let run = tandem(&bin, &["--config", &cfg, "apply", "--refresh", "--yes"], &d.env, &root);
    check(&run, "apply --refresh after the switchover back");
    assert!(run.stdout.contains("No changes. The stack matches the configuration and the live resources match the state."), "{}", show(&run));
    assert!(!run.stdout.contains("UNREACHABLE"), "{}", show(&run));

    eprintln!(
        "dr-cli measured: status (healthy) {:.1}s; status with {PRIMARY} cut {:.1}s; failover --unplanned {:.1}s; apply --refresh with {PRIMARY} cut {:.1}s; switchover --to primary {:.1}s",
        healthy_status.as_secs_f64(),
        outage_status.as_secs_f64(),
        failover.as_secs_f64(),
        outage_apply.as_secs_f64(),
        switchover.as_secs_f64()
    );

    let run = tandem(&bin, &["--config", &cfg, "destroy", "--yes"], &d.env, &root);
    check(&run, "destroy");
    inventory::check_gone(&moto, &d).await;
}

/// DR.md: `failover` "takes no lock stored in the failed region, and records what it did in
/// state once reachable". The state lives in an S3 bucket of us-east-1; with us-east-1 cut,
/// `failover --unplanned` proceeds without the lock and keeps its record in the local
/// pending file; once the region answers, the next command holding the lock (here a
/// switchover) moves it into the state. Nothing needs to be deployed for this: the failover
/// finds no global cluster (exit 1) and is recorded as the failure it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_run_without_its_state_is_recorded_once_the_state_answers() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(work.path());
    let suffix = format!("rl{:06x}", rand_u32() & 0xffffff);
    let d = Deployment::new(&moto, &suffix, work.path(), &moto.endpoint).await;
    let root = tandem_tests::root();
    let bin = tandem_bin();
    let cfg = d.config.display().to_string();
    let bucket = format!("state-{suffix}");
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&moto.sdk(PRIMARY).await).force_path_style(true).build());
    s3.create_bucket().bucket(&bucket).send().await.expect("state bucket");
    let mut env = d.env.clone();
    env.extend([
        ("TANDEM_STATE__BACKEND".to_string(), "s3".to_string()),
        ("TANDEM_STATE__BUCKET".to_string(), bucket.clone()),
        ("TANDEM_STATE__PREFIX".to_string(), "tandem/".to_string()),
        ("TANDEM_STATE__REGION".to_string(), PRIMARY.to_string()),
    ]);
    let pending = work.path().join(".tandem").join(&suffix).join("pending-operations.json");

    local_aws(&moto, "outage", PRIMARY);
    let run = tandem(&bin, &["--config", &cfg, "failover", "--unplanned", "--yes"], &env, &root);
    eprintln!("--- failover with the state bucket's region cut:\n{}", show(&run));
    assert_eq!(run.code, 1, "nothing deployed: the writer cannot move: {}", show(&run));
    assert!(run.stdout.contains(&format!("Proceeding WITHOUT the state lock: its bucket s3://{bucket} is in {PRIMARY}")), "{}", show(&run));
    assert!(run.stdout.contains(&format!("Recorded in {}", pending.display())), "{}", show(&run));
    let kept: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&pending).expect("pending file")).expect("pending JSON");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["command"], "failover --unplanned");
    assert_eq!(kept[0]["ok"], false);
    assert!(kept[0]["not_done"].as_array().is_some_and(|n| !n.is_empty()), "{kept:?}");

    // Still cut: apply refuses at once, naming the state's region.
    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes"], &env, &root);
    assert_eq!(run.code, 1, "{}", show(&run));
    assert!(run.stderr.contains(&format!("the state bucket s3://{bucket} is in {PRIMARY}, which does not answer")), "{}", show(&run));

    local_aws(&moto, "restore", PRIMARY);
    let run = tandem(&bin, &["--config", &cfg, "switchover", "--to", "primary", "--yes"], &env, &root);
    eprintln!("--- switchover once the state answers:\n{}", show(&run));
    assert!(run.stderr.contains("Recorded in the state 1 operation(s) that ran while it was unreachable: failover --unplanned."), "{}", show(&run));
    assert!(!pending.exists(), "the pending file is gone once its records are in the state");
    let obj = s3.get_object().bucket(&bucket).key(format!("tandem/{suffix}/state.json")).send().await.expect("state object");
    let bytes = obj.body.collect().await.expect("state body").into_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("state JSON");
    let ops = doc["operations"].as_array().cloned().unwrap_or_default();
    let commands: Vec<&str> = ops.iter().filter_map(|o| o["command"].as_str()).collect();
    assert_eq!(commands, vec!["failover --unplanned", "switchover --to primary"], "{doc}");
    assert!(ops[0]["recorded_late_at"].as_u64().is_some_and(|t| t >= ops[0]["started_at"].as_u64().unwrap_or(u64::MAX)), "{doc}");
    assert!(ops[1].get("recorded_late_at").is_none(), "{doc}");
}
