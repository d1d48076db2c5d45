//! `tandem drill` against the emulator (DR.md, "The drill"):
//! - a full drill, `--database` included: every step the emulator can serve is measured,
//!   the others say "not measurable here"; the JSON report is checked field by field; the
//!   stack is left exactly as before (a snapshot of everything the drill touches, read with
//!   the raw SDK, before == after);
//! - a drill killed (SIGKILL) during the traffic step, then during the database step: the
//!   journal names what is not put back, `status` says so, a new drill refuses, and
//!   `drill --restore` leaves the stack as before.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tandem_core::contracts::failover_alarms;
use tandem_tests::{tandem, tandem_bin, tandem_killed_when, Moto, Run};

use crate::{check, rand_u32, Deployment, PRIMARY, SECONDARY};

fn show(run: &Run) -> String {
    format!("exit {}\n--- stdout\n{}\n--- stderr\n{}", run.code, run.stdout, run.stderr)
}

/// Everything the drill changes or creates, read with the raw SDK, as `what → value`.
async fn snapshot(moto: &Moto, d: &Deployment) -> BTreeMap<String, String> {
    let s = &d.suffix;
    let mut out = BTreeMap::new();
    for region in [PRIMARY, SECONDARY] {
        let sdk = moto.sdk(region).await;
        // Parameters (the controller's flags, markers) under the stack's path.
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let mut token = None;
        for _ in 0..50 {
            let page = ssm.get_parameters_by_path().path(format!("/tandem/{s}/")).recursive(true).set_next_token(token.clone()).send().await.expect("GetParametersByPath");
            for p in page.parameters() {
                let value = if p.r#type().map(|t| t.as_str()) == Some("SecureString") { "(secure)" } else { p.value().unwrap_or_default() };
                out.insert(format!("ssm {region} {}", p.name().unwrap_or_default()), value.to_string());
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        // Items of the table.
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let items = ddb.scan().table_name(format!("table-{s}")).send().await.expect("Scan");
        out.insert(format!("dynamodb {region} items"), items.count().to_string());
        // Object versions and delete markers of the bucket.
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        let role = if region == PRIMARY { "primary" } else { "secondary" };
        let versions = s3.list_object_versions().bucket(format!("bucket-{role}-{s}-123456789012")).send().await.expect("ListObjectVersions");
        out.insert(format!("s3 {region} versions"), format!("{} versions, {} delete markers", versions.versions().len(), versions.delete_markers().len()));
        // Rules on the stack's bus, log groups and log resource policies.
        let eb = aws_sdk_eventbridge::Client::new(&sdk);
        let rules = eb.list_rules().event_bus_name(format!("bus-{s}")).send().await.expect("ListRules");
        let names: Vec<&str> = rules.rules().iter().filter_map(|r| r.name()).collect();
        out.insert(format!("events {region} rules"), names.join(","));
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let groups = logs.describe_log_groups().send().await.expect("DescribeLogGroups");
        let names: Vec<&str> = groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
        out.insert(format!("logs {region} groups"), names.join(","));
        let policies = logs.describe_resource_policies().send().await.expect("DescribeResourcePolicies");
        let names: Vec<&str> = policies.resource_policies().iter().filter_map(|p| p.policy_name()).collect();
        out.insert(format!("logs {region} resource policies"), names.join(","));
    }
    // Alarm actions (the state of an alarm is not configuration; whether it acts is).
    for region in [PRIMARY, SECONDARY] {
        let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk(region).await);
        let alarms = cw.describe_alarms().send().await.expect("DescribeAlarms");
        for a in alarms.metric_alarms() {
            out.insert(format!("alarm {region} {} actions", a.alarm_name().unwrap_or_default()), format!("{:?}", a.actions_enabled()));
        }
    }
    // Accelerator endpoint weights.
    let ga = aws_sdk_globalaccelerator::Client::new(&moto.sdk("us-west-2").await);
    let accs = ga.list_accelerators().send().await.expect("ListAccelerators");
    for a in accs.accelerators() {
        let listeners = ga.list_listeners().accelerator_arn(a.accelerator_arn().unwrap_or_default()).send().await.expect("ListListeners");
        for l in listeners.listeners() {
            let groups = ga.list_endpoint_groups().listener_arn(l.listener_arn().unwrap_or_default()).send().await.expect("ListEndpointGroups");
            for g in groups.endpoint_groups() {
                for e in g.endpoint_descriptions() {
                    out.insert(format!("ga {} {}", g.endpoint_group_region().unwrap_or_default(), e.endpoint_id().unwrap_or_default()), format!("weight {:?}", e.weight()));
                }
            }
        }
    }
    // The Aurora writer.
    let rds = aws_sdk_rds::Client::new(&moto.sdk(SECONDARY).await);
    let g = rds.describe_global_clusters().global_cluster_identifier(format!("aurora-global-{s}")).send().await.expect("DescribeGlobalClusters");
    for m in g.global_clusters().first().map(|g| g.global_cluster_members()).unwrap_or_default() {
        out.insert(format!("aurora member {}", m.db_cluster_arn().unwrap_or_default()), format!("writer {:?}", m.is_writer()));
    }
    out
}

fn diff(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| before.get(*k) != after.get(*k)).map(|k| format!("{k}: {:?} → {:?}", before.get(k), after.get(k))).collect()
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"].as_array().and_then(|s| s.iter().find(|x| x["id"] == id)).unwrap_or_else(|| panic!("no step {id} in {report:#}"))
}

async fn deployed(moto: &Moto, work: &std::path::Path, prefix: &str) -> Deployment {
    let suffix = format!("{prefix}{:06x}", rand_u32() & 0xffffff);
    let d = Deployment::new(moto, &suffix, work, &moto.endpoint).await;
    let cfg = d.config.display().to_string();
    check(&tandem(&tandem_bin(), &["--config", &cfg, "apply", "--yes"], &d.env, &tandem_tests::root()), "apply");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_drill_measures_what_the_emulator_serves_and_leaves_the_stack_as_it_was() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(work.path());
    let d = deployed(&moto, work.path(), "dr").await;
    let (bin, root, cfg) = (tandem_bin(), tandem_tests::root(), d.config.display().to_string());
    let before = snapshot(&moto, &d).await;
    let started = std::time::Instant::now();
    let run = tandem(&bin, &["--config", &cfg, "drill", "--database", "--yes", "--json"], &d.env, &root);
    eprintln!("drill --database took {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(run.code, 0, "{}", show(&run));
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("JSON report: {e}\n{}", show(&run)));
    assert_eq!(report["stack"], d.suffix.as_str());
    assert_eq!(report["endpoint"], moto.endpoint.as_str());
    assert_eq!(report["verdict"], "passed_with_gaps", "{report:#}");
    // Measured here: a number of seconds, bounded.
    for id in [
        "data.dynamodb",
        "data.s3",
        "traffic.health",
        "traffic.events",
        "accelerator.deployed",
        "accelerator.deployed-back",
        "traffic.health-back",
        "traffic.events-back",
        "database.writer",
        "database.writer-back",
    ] {
        let s = step(&report, id);
        assert_eq!(s["result"], "passed", "{id}: {s:#}");
        let secs = s["secs"].as_f64().unwrap_or_else(|| panic!("{id} has no time: {s:#}"));
        assert!((0.0..300.0).contains(&secs), "{id}: {secs} s");
        eprintln!("{id}: {secs:.1} s");
    }
    // Not measurable on the emulator, each with its reason, never a number.
    for (id, why) in [
        ("data.ssm", "runs no Lambda"),
        ("traffic.dns", "serves no DNS"),
        ("accelerator.lands", "serves no anycast addresses"),
        ("database.controller", "runs no Lambda"),
        ("database.endpoint", "serves no DNS"),
        ("database.lag", "no AuroraGlobalDBReplicationLag datapoint"),
    ] {
        let s = step(&report, id);
        assert_eq!(s["result"], "not_measurable", "{id}: {s:#}");
        assert!(s["why"].as_str().is_some_and(|w| w.contains(why)), "{id}: {s:#}");
        assert!(s.get("secs").is_none(), "{id} carries no number: {s:#}");
    }
    // The preflight passed, naming the blind alarm it tolerated here.
    let alarms = step(&report, "preflight.alarms");
    assert_eq!(alarms["result"], "passed");
    assert!(alarms["what"].as_str().is_some_and(|w| w.contains(&failover_alarms::blind(&d.suffix))), "{alarms:#}");
    // Every change put back, as steps of the run.
    for s in report["steps"].as_array().expect("steps") {
        assert_ne!(s["result"], "failed", "{s:#}");
    }
    // Per layer: data RPO and traffic RTO are lower bounds (a part is not measurable here).
    let layers = report["layers"].as_array().expect("layers");
    let layer = |name: &str| layers.iter().find(|l| l["layer"] == name).unwrap_or_else(|| panic!("no layer {name}"));
    assert_eq!(layer("data")["rpo"]["kind"], "at_least");
    assert_eq!(layer("data")["rto"]["kind"], "not_applicable");
    assert_eq!(layer("traffic")["rto"]["kind"], "at_least");
    assert!(layer("traffic")["rto"]["secs"].as_f64().is_some());
    assert_eq!(layer("database")["rpo"]["kind"], "unknown");
    assert!(report["verdict_line"].as_str().is_some_and(|l| l.starts_with("DRILL PASSED with gaps")));
    // The stack is exactly as before, and no journal is left.
    let after = snapshot(&moto, &d).await;
    assert!(diff(&before, &after).is_empty(), "the drill changed the stack:\n{}", diff(&before, &after).join("\n"));
    assert!(!d.state_file().with_file_name("drill-journal.json").exists());
    // `status` has nothing to say about a drill.
    let status = tandem(&bin, &["--config", &cfg, "status"], &d.env, &root);
    assert!(!status.stderr.contains("drill"), "{}", show(&status));
}

/// Kills `drill` once its journal holds an entry `"change": "<change>"`.
fn drill_killed_at(d: &Deployment, args: &[&str], change: &str) -> tandem_tests::KilledRun {
    let journal = d.state_file().with_file_name("drill-journal.json");
    let needle = format!("\"change\": \"{change}\"");
    let cfg = d.config.display().to_string();
    let mut all = vec!["--config", cfg.as_str(), "drill"];
    all.extend_from_slice(args);
    tandem_killed_when(&tandem_bin(), &all, &d.env, &tandem_tests::root(), Duration::from_secs(240), || {
        std::fs::read_to_string(&journal).is_ok_and(|j| j.contains(&needle))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_killed_during_traffic_or_database_is_put_back_by_restore() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(work.path());
    let d = deployed(&moto, work.path(), "dk").await;
    let (bin, root, cfg) = (tandem_bin(), tandem_tests::root(), d.config.display().to_string());
    let journal = d.state_file().with_file_name("drill-journal.json");
    let before = snapshot(&moto, &d).await;
    for (args, change) in [(&["--yes"][..], "decision"), (&["--only", "database", "--yes"][..], "writer")] {
        let killed = drill_killed_at(&d, args, change);
        assert!(killed.killed, "the drill ended before reaching {change}: {}", show(&killed.run));
        eprintln!("drill {args:?} killed at its {change} entry after {:.1} s", killed.after.as_secs_f64());
        assert!(journal.exists());
        // Changed: the stack is not as before while the journal holds the changes.
        assert!(!diff(&before, &snapshot(&moto, &d).await).is_empty(), "a kill at {change} left nothing changed");
        let status = tandem(&bin, &["--config", &cfg, "status"], &d.env, &root);
        assert!(status.stderr.contains("not yet put back") && status.stderr.contains("tandem drill --restore"), "{}", show(&status));
        let again = tandem(&bin, &["--config", &cfg, "drill", "--yes"], &d.env, &root);
        assert_eq!(again.code, 1, "{}", show(&again));
        assert!(again.stderr.contains("Run `tandem drill --restore` first"), "{}", show(&again));
        let restored = tandem(&bin, &["--config", &cfg, "drill", "--restore", "--json"], &d.env, &root);
        assert_eq!(restored.code, 0, "{}", show(&restored));
        let report: Value = serde_json::from_str(&restored.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", show(&restored)));
        let steps = report["steps"].as_array().expect("steps");
        assert!(!steps.is_empty() && steps.iter().all(|s| s["result"] == "passed" && s["layer"] == "restore"), "{report:#}");
        assert!(!journal.exists(), "the journal is removed once everything is put back");
        let after = snapshot(&moto, &d).await;
        assert!(diff(&before, &after).is_empty(), "after --restore of a kill at {change}:\n{}", diff(&before, &after).join("\n"));
    }
    let nothing = tandem(&bin, &["--config", &cfg, "drill", "--restore"], &d.env, &root);
    assert_eq!(nothing.code, 0, "{}", show(&nothing));
    assert!(nothing.stdout.contains("nothing to restore"), "{}", show(&nothing));
}
