//! Human and JSON output: plans, live progress, summaries, outputs, status.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use tandem_core::config::Config;
use tandem_core::executor::{Outcome, Plan, Progress as Event, Report};
use tandem_core::state::StateDoc;
use tandem_core::{Action, Drift};

fn sim(s: bool) -> &'static str {
    if s {
        "  [simulated]"
    } else {
        ""
    }
}

/// Terraform-like plan.
pub fn plan(cfg: &Config, plan: &Plan, as_json: bool, verb: &str) {
    if as_json {
        let v = json!({
            "stack": cfg.environment_suffix,
            "primary_region": cfg.primary_region,
            "secondary_region": cfg.secondary_region,
            "changes": plan.changes,
            "summary": counts(plan),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!(
        "Tandem will {verb} stack '{}' ({} primary, {} secondary):\n",
        cfg.environment_suffix, cfg.primary_region, cfg.secondary_region
    );
    let w = plan.changes.iter().map(|c| c.id.len()).max().unwrap_or(10);
    let k = plan.changes.iter().map(|c| c.kind.len()).max().unwrap_or(6);
    for c in &plan.changes {
        if c.action == Action::NoOp {
            continue;
        }
        println!(
            "  {:>3} {:<w$}  {:<k$}  {:<10}  {}{}",
            c.action.symbol(),
            c.id,
            c.kind,
            c.region,
            c.reason,
            sim(c.simulated),
        );
    }
    let s = counts(plan);
    println!(
        "\nPlan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.",
        s["create"], s["update"], s["replace"], s["delete"], s["unchanged"]
    );
    let simulated: Vec<&str> = plan.changes.iter().filter(|c| c.simulated).map(|c| c.id.as_str()).collect();
    if !simulated.is_empty() {
        println!("Simulated (built-in in-memory fakes, not AWS): {}", simulated.join(", "));
    }
}

fn counts(plan: &Plan) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("create", plan.count(Action::Create)),
        ("update", plan.count(Action::Update)),
        ("replace", plan.count(Action::Replace)),
        ("delete", plan.count(Action::Delete)),
        ("unchanged", plan.count(Action::NoOp)),
    ])
}

/// Live progress: spinners on a terminal, plain timestamped lines otherwise.
pub struct Progress {
    inner: Arc<Mutex<ProgressInner>>,
}

struct ProgressInner {
    multi: Option<MultiProgress>,
    bars: HashMap<String, ProgressBar>,
    start: Instant,
    to_stderr: bool,
}

impl Progress {
    pub fn new(json: bool) -> Self {
        let tty = if json { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
        let multi = tty.then(|| {
            MultiProgress::with_draw_target(if json { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::stdout() })
        });
        println_to(json, "");
        Self { inner: Arc::new(Mutex::new(ProgressInner { multi, bars: HashMap::new(), start: Instant::now(), to_stderr: json })) }
    }

    pub fn callback(&self) -> Arc<dyn Fn(Event) + Send + Sync> {
        let inner = self.inner.clone();
        Arc::new(move |e| {
            let mut p = inner.lock().unwrap_or_else(|x| x.into_inner());
            p.event(e);
        })
    }

    pub fn finish(&self) {
        let p = self.inner.lock().unwrap_or_else(|x| x.into_inner());
        if let Some(m) = &p.multi {
            let _ = m.clear();
        }
    }
}

fn println_to(stderr: bool, s: &str) {
    if stderr {
        eprintln!("{s}");
    } else {
        println!("{s}");
    }
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::NoOp => "checking",
    }
}

fn done_line(id: &str, o: &Outcome, elapsed: Duration) -> String {
    let t = format!("{:.1}s", elapsed.as_secs_f64());
    match o {
        Outcome::Created => format!("✓ {id}: created in {t}"),
        Outcome::Updated => format!("✓ {id}: updated in {t}"),
        Outcome::Replaced => format!("✓ {id}: replaced in {t}"),
        Outcome::Deleted => format!("✓ {id}: deleted in {t}"),
        Outcome::Unchanged => format!("· {id}: unchanged"),
        Outcome::Failed { error } => format!("✗ {id}: FAILED after {t}: {error}"),
        Outcome::Skipped { reason } => format!("- {id}: skipped ({reason})"),
        Outcome::NotStarted => format!("- {id}: not started"),
    }
}

impl ProgressInner {
    fn event(&mut self, e: Event) {
        let at = self.start.elapsed().as_secs_f64();
        match e {
            Event::Started { id, action, region, simulated } => {
                let msg = format!("{} {id} ({region}){}: {}…", action.symbol(), sim(simulated), verb(action));
                match &self.multi {
                    Some(m) => {
                        let bar = m.add(ProgressBar::new_spinner());
                        bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed:>4}] {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
                        bar.set_message(msg);
                        bar.enable_steady_tick(Duration::from_millis(120));
                        self.bars.insert(id, bar);
                    }
                    None => println_to(self.to_stderr, &format!("[{at:7.1}s] {msg}")),
                }
            }
            Event::Finished { id, outcome, elapsed } => {
                if matches!(outcome, Outcome::Unchanged) {
                    if let Some(b) = self.bars.remove(&id) {
                        b.finish_and_clear();
                    }
                    return;
                }
                let line = done_line(&id, &outcome, elapsed);
                match (self.bars.remove(&id), &self.multi) {
                    (Some(b), Some(m)) => {
                        b.finish_and_clear();
                        let _ = m.println(line);
                    }
                    (None, Some(m)) => {
                        let _ = m.println(line);
                    }
                    _ => println_to(self.to_stderr, &format!("[{at:7.1}s] {line}")),
                }
            }
        }
    }
}

/// Summary after a run.
pub fn summary(report: &Report, destroy: bool, state_path: &str) {
    let c = |f: fn(&Outcome) -> bool| report.count(f);
    let failed = c(|o| matches!(o, Outcome::Failed { .. }));
    let skipped = c(|o| matches!(o, Outcome::Skipped { .. }));
    let not_started = c(|o| matches!(o, Outcome::NotStarted));
    let head = if report.interrupted {
        "Interrupted"
    } else if failed > 0 {
        "Finished with errors"
    } else if destroy {
        "Destroy complete"
    } else {
        "Apply complete"
    };
    println!(
        "\n{head}: {} created, {} updated, {} replaced, {} deleted, {} unchanged, {failed} failed, {skipped} skipped, {not_started} not started in {:.1}s.",
        c(|o| matches!(o, Outcome::Created)),
        c(|o| matches!(o, Outcome::Updated)),
        c(|o| matches!(o, Outcome::Replaced)),
        c(|o| matches!(o, Outcome::Deleted)),
        c(|o| matches!(o, Outcome::Unchanged)),
        report.wall.as_secs_f64()
    );
    for f in report.failures() {
        if let Outcome::Failed { error } = &f.outcome {
            println!("  ✗ {}: {error}", f.id);
        }
    }
    if report.interrupted || failed > 0 {
        println!("State saved to {state_path}; run the same command again to resume.");
    }
}

fn outputs_value(doc: &StateDoc) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (id, c) in &doc.components {
        let mut o: serde_json::Map<String, serde_json::Value> = c.outputs.clone().into_iter().collect();
        o.insert("simulated".into(), json!(c.simulated));
        o.insert("region".into(), json!(c.region));
        map.insert(id.clone(), serde_json::Value::Object(o));
    }
    serde_json::Value::Object(map)
}

/// Outputs recorded in state.
pub fn outputs(doc: &StateDoc, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string_pretty(&outputs_value(doc)).unwrap_or_default());
        return;
    }
    if doc.components.is_empty() {
        println!("\nNo outputs: stack '{}' has nothing in state.", doc.stack);
        return;
    }
    println!("\nOutputs:");
    for (id, c) in &doc.components {
        println!("  {id} ({}){}", c.region, sim(c.simulated));
        for (k, v) in &c.outputs {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("    {k} = {v}");
        }
    }
}

/// JSON document of a run (or of a no-op run).
pub fn report_json(cfg: &Config, plan: &Plan, report: Option<&Report>, doc: &StateDoc) {
    let v = json!({
        "stack": cfg.environment_suffix,
        "changes": plan.changes,
        "summary": counts(plan),
        "report": report,
        "success": report.map(|r| r.success()).unwrap_or(true),
        "outputs": outputs_value(doc),
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// Live status (drift) of every deployed component; false when something is wrong.
pub fn status(doc: &StateDoc, drift: &BTreeMap<String, Result<Drift, String>>, as_json: bool, live: &crate::status::Live) -> bool {
    let ok = drift.values().all(|d| matches!(d, Ok(Drift::InSync))) && live.health.iter().all(|h| h.healthy != Some(false));
    if as_json {
        let v: BTreeMap<&str, serde_json::Value> = drift
            .iter()
            .map(|(id, d)| {
                let sim = doc.components.get(id).map(|c| c.simulated).unwrap_or(false);
                let region = doc.components.get(id).map(|c| c.region.clone()).unwrap_or_default();
                let status = match d {
                    Ok(d) => serde_json::to_value(d).unwrap_or_default(),
                    Err(e) => json!({"status": "error", "error": e}),
                };
                (id.as_str(), json!({"region": region, "simulated": sim, "drift": status}))
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({"stack": doc.stack, "healthy": ok, "components": v, "health": live.health, "replication": live.replication})).unwrap_or_default());
        return ok;
    }
    if drift.is_empty() {
        println!("Stack '{}' has nothing deployed.", doc.stack);
        return true;
    }
    for (id, d) in drift {
        let region = doc.components.get(id).map(|c| c.region.as_str()).unwrap_or("");
        let s = doc.components.get(id).map(|c| c.simulated).unwrap_or(false);
        let line = match d {
            Ok(Drift::InSync) => "in sync".to_string(),
            Ok(Drift::Drifted { details }) => format!("DRIFTED: {}", details.join("; ")),
            Ok(Drift::Missing { details }) => format!("MISSING: {}", details.join("; ")),
            Err(e) => format!("ERROR: {e}"),
        };
        println!("  {id:<24} {region:<10} {line}{}", sim(s));
    }
    crate::status::print(live);
    ok
}
