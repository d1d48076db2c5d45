//! The `tandem drill` command: lock, preflight, the layers asked for, the way back, the
//! report; `--restore` for an interrupted drill.

use std::collections::BTreeMap;
use std::time::Instant;

use tandem_core::aws::{AwsContext, CallProfile, ROUTE53_REGION};
use tandem_core::config::Config;

use super::journal::Journal;
use super::report::{self, Layer, Outcome, Step, Verdict};
use super::world::{SdkWorld, World};
use super::{preflight, restore, Drill, Only, Targets, Timeouts};
use crate::{stack, status, Exit};

pub struct Args {
    pub json: bool,
    pub database: bool,
    pub only: Option<Only>,
    pub restore: bool,
}

fn journal_path(cfg: &Config) -> std::path::PathBuf {
    Journal::path_for(&cfg.state.dir, &cfg.environment_suffix)
}

/// What `status` says about a drill in progress (or interrupted): None when there is none.
pub fn in_progress(cfg: &Config) -> Option<String> {
    match Journal::load(&journal_path(cfg)) {
        Ok(Some(j)) => {
            let pending: Vec<String> = j.pending().into_iter().filter_map(|i| j.entries.get(i)).map(|e| e.change.describe()).collect();
            Some(format!(
                "A drill started at {} (pid {}) has {} change(s) not yet put back: {}. If it is no longer running, `tandem drill --restore` puts them back.",
                crate::render::when(j.started_at),
                j.pid,
                pending.len(),
                pending.join("; ")
            ))
        }
        Ok(None) => None,
        Err(e) => Some(format!("warning: {e}")),
    }
}

fn print(r: &report::Report, json: bool) {
    if json {
        match serde_json::to_string_pretty(r) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot render the report: {e}"),
        }
    } else {
        print!("{}", report::text(r));
    }
}

fn endpoint_name(world: &dyn World, cfg: &Config) -> String {
    world.custom_endpoint().unwrap_or_else(|| format!("AWS ({} / {})", cfg.primary_region, cfg.secondary_region))
}

pub async fn run(cfg: &Config, args: Args) -> anyhow::Result<Exit> {
    let started = Instant::now();
    let path = journal_path(cfg);
    // The stack's lock (a failover never waits for it).
    let opened = crate::commands::open_state(cfg, true).await?;
    let aws = AwsContext::load().await;
    let world = SdkWorld::new(cfg, aws);
    let t = Timeouts::aws();
    let endpoint = endpoint_name(&world, cfg);
    let existing = Journal::load(&path)?;
    if args.restore {
        let Some(journal) = existing else {
            println!("No unfinished drill for stack '{}': nothing to restore.", cfg.environment_suffix);
            return Ok(Exit::Ok);
        };
        let (steps, complete) = restore(&world, journal, &t).await;
        let r = report::build(&cfg.environment_suffix, &endpoint, steps, started.elapsed().as_secs_f64());
        print(&r, args.json);
        if complete {
            eprintln!("Every change of the interrupted drill is put back; its journal is removed.");
            return Ok(Exit::Ok);
        }
        eprintln!("Some changes could not be put back (above); the journal {} keeps them: run `tandem drill --restore` again.", path.display());
        return Ok(Exit::Failed);
    }
    if let Some(j) = existing {
        eprintln!(
            "error: a drill started at {} (pid {}) did not finish: {} change(s) are not put back. Run `tandem drill --restore` first.",
            crate::render::when(j.started_at),
            j.pid,
            j.pending().len()
        );
        return Ok(Exit::Failed);
    }

    // Preflight: what `status` reads (outage-proof), plus the alarms in ALARM.
    let doc = opened.state.snapshot();
    let probe_aws = AwsContext::load_with(CallProfile::OutageProof).await;
    let s = stack::Stack::load_with(cfg, false, &probe_aws)?;
    let st = status::check(cfg, &probe_aws, &s.components, &doc).await;
    let mut in_alarm = BTreeMap::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut regions = vec![cfg.primary_region.clone(), cfg.secondary_region.clone(), ROUTE53_REGION.to_string()];
    regions.dedup();
    for r in regions {
        match world.alarms_in_alarm(&r).await {
            Ok(names) => {
                in_alarm.insert(r, names);
            }
            Err(e) => steps.push(Step { layer: Layer::Preflight, id: format!("preflight.alarms-{r}"), what: format!("read the alarms of {r}"), outcome: Outcome::Failed { secs: None, reason: e.to_string() } }),
        }
    }
    steps.extend(preflight(cfg, &doc, &st, &in_alarm, world.custom_endpoint().as_deref()));
    if steps.iter().any(|s| s.outcome.failed()) {
        let r = report::build(&cfg.environment_suffix, &endpoint, steps, started.elapsed().as_secs_f64());
        print(&r, args.json);
        return Ok(Exit::Failed);
    }

    let journal = Journal::start(&path, &cfg.environment_suffix)?;
    let mut drill = Drill { cfg, world: &world, targets: Targets::from_state(&doc), t: t.clone(), journal, steps };
    let wants = |o: Only| args.only.is_none_or(|x| x == o);
    let run_layers = async {
        if wants(Only::Data) {
            drill.data().await;
        }
        if wants(Only::Traffic) {
            drill.traffic().await;
        }
        if args.database || args.only == Some(Only::Database) {
            drill.database().await;
        } else {
            drill.steps.push(Step {
                layer: Layer::Database,
                id: "database.writer".into(),
                what: "planned switchover and back".into(),
                outcome: Outcome::Skipped { why: "not asked for (--database)".into() },
            });
        }
    };
    let interrupted = tokio::select! {
        () = run_layers => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    let mut steps = std::mem::take(&mut drill.steps);
    if interrupted {
        eprintln!("\ninterrupt: the drill stops here and puts back what it changed (Ctrl-C again to leave it to `tandem drill --restore`)");
        steps.push(Step { layer: Layer::Restore, id: "interrupted".into(), what: "the drill was interrupted (Ctrl-C)".into(), outcome: Outcome::Failed { secs: None, reason: "interrupted".into() } });
    }
    let journal = drill.journal;
    let complete = if journal.pending().is_empty() {
        journal.finish().map(|()| true).unwrap_or(false)
    } else {
        let undo = restore(&world, journal, &t);
        let (more, complete) = tokio::select! {
            r = undo => r,
            _ = tokio::signal::ctrl_c() => (Vec::new(), false),
        };
        steps.extend(more);
        complete
    };
    let r = report::build(&cfg.environment_suffix, &endpoint, steps, started.elapsed().as_secs_f64());
    print(&r, args.json);
    if !complete {
        eprintln!("Some changes are not put back; the journal {} keeps them: run `tandem drill --restore`.", path.display());
        return Ok(Exit::Failed);
    }
    Ok(match r.verdict {
        Verdict::Passed | Verdict::PassedWithGaps => Exit::Ok,
        Verdict::Failed | Verdict::NotStarted => Exit::Failed,
    })
}
