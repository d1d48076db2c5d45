//! Human and JSON output: plans, live progress, summaries, outputs, status.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use crate::identity::Caller;
use tandem_core::config::Config;
use tandem_core::executor::{Outcome, Plan, Progress as Event, Report};
use tandem_core::protection::Refusal;
use tandem_core::schedule::{human, Estimate};
use tandem_core::state::{OperationRecord, StateDoc};
use tandem_core::{Action, Drift};

use crate::status::{Live, Report as StatusReport, Unreachable};


/// What `--refresh` read: per component with state, its drift or the read error.
pub type DriftMap = BTreeMap<String, Result<Drift, String>>;

/// The JSON value of one component's drift (or read error).
fn drift_value(d: &Result<Drift, String>) -> serde_json::Value {
    match d {
        Ok(d) => serde_json::to_value(d).unwrap_or_default(),
        Err(e) => json!({"status": "error", "error": e}),
    }
}

fn drift_map_value(drift: &DriftMap) -> serde_json::Value {
    serde_json::Value::Object(drift.iter().map(|(id, d)| (id.clone(), drift_value(d))).collect())
}

/// The plan as a JSON document (`plan --json`).
pub fn plan_json(cfg: &Config, caller: Option<&Caller>, plan: &Plan, drift: Option<&DriftMap>, refused: &[Refusal]) -> serde_json::Value {
    let mut v = json!({
        "stack": cfg.environment_suffix,
        "caller": caller,
        "primary_region": cfg.primary_region,
        "secondary_region": cfg.secondary_region,
        "changes": plan.changes,
        "summary": counts(plan),
        "estimate": plan.estimate,
        "refused": refused,
    });
    if let (Some(d), Some(obj)) = (drift, v.as_object_mut()) {
        obj.insert("refresh".into(), drift_map_value(d));
    }
    v
}

/// The Terraform-like plan as text: one line per change (symbol, id, kind, region, reason),
/// then the counts.
pub fn plan_text(cfg: &Config, caller: Option<&Caller>, plan: &Plan, verb: &str, refused: &[Refusal]) -> String {
    let mut out = format!(
        "Tandem will {verb} stack '{}' ({} primary, {} secondary):\n",
        cfg.environment_suffix, cfg.primary_region, cfg.secondary_region
    );
    match caller {
        Some(c) => out.push_str(&format!("Account {}, as {}\n\n", c.account, c.arn)),
        None => out.push_str("Account: unknown (the credentials' identity could not be read)\n\n"),
    }
    let w = plan.changes.iter().map(|c| c.id.len()).max().unwrap_or(10);
    let k = plan.changes.iter().map(|c| c.kind.len()).max().unwrap_or(6);
    for c in &plan.changes {
        if c.action == Action::NoOp {
            continue;
        }
        let mark = refused
            .iter()
            .find(|r| r.id == c.id)
            .map(|r| format!("  REFUSED without {}", r.allow_with))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {:>3} {:<w$}  {:<k$}  {:<10}  {}{mark}\n",
            c.action.symbol(),
            c.id,
            c.kind,
            c.region,
            c.reason,
        ));
    }
    let s = counts(plan);
    out.push_str(&format!(
        "\nPlan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged.\n",
        s["create"], s["update"], s["replace"], s["delete"], s["unchanged"]
    ));
    if let Some(e) = plan.estimate.as_ref().filter(|_| plan.has_changes()) {
        out.push_str(&estimate_text(e));
    }
    out.push_str(&refusals_text(refused));
    out
}

/// The changes an `apply` refuses because they would lose data: each with the planner's
/// reason, what would be lost and the flag that allows it. Empty when nothing is refused.
pub fn refusals_text(refused: &[Refusal]) -> String {
    if refused.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{} change{} would lose data and {} refused:\n",
        refused.len(),
        if refused.len() == 1 { "" } else { "s" },
        if refused.len() == 1 { "is" } else { "are" }
    );
    for r in refused {
        out.push_str(&format!("  ✗ {}\n", r.message()));
    }
    let flags: Vec<&str> = refused.iter().map(|r| r.allow_with.as_str()).collect();
    out.push_str(&format!(
        "Nothing was changed. To accept the loss, run: tandem apply {}\n",
        flags.join(" ")
    ));
    out
}

/// What `destroy` will delete, said before it asks: one line per component that holds data
/// (its count, or why it could not be counted). Empty when there is nothing to say.
pub fn data_summary_text(summaries: &[(String, Result<String, String>)]) -> String {
    if summaries.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nData this destroy deletes (no backup or final snapshot is kept):\n");
    let w = summaries.iter().map(|(id, _)| id.len()).max().unwrap_or(10);
    for (id, s) in summaries {
        let line = match s {
            Ok(s) => s.clone(),
            Err(e) => format!("could not count: {e}"),
        };
        out.push_str(&format!("  {id:<w$}  {line}\n"));
    }
    out
}

/// "Expected on AWS: about 52 min (--parallelism 16); critical path: a (45 s) → b (25 min)".
pub fn estimate_text(e: &Estimate) -> String {
    let total = match &e.bounded {
        Some(b) if b.makespan > e.unbounded => format!(
            "about {} with --parallelism {} (critical path alone: {})",
            human(b.makespan),
            b.parallelism,
            human(e.unbounded)
        ),
        Some(b) => format!("about {} (--parallelism {} does not lengthen it)", human(b.makespan), b.parallelism),
        None => format!("about {}", human(e.unbounded)),
    };
    let path: Vec<String> = e.critical_path.iter().map(|p| format!("{} ({})", p.id, human(p.expected))).collect();
    format!(
        "Expected on AWS: {total}; critical path: {}.\n  (typical durations per component, an update counted as long as a create; the emulator is faster)\n",
        path.join(" → ")
    )
}

/// Terraform-like plan (or its JSON document).
pub fn plan(cfg: &Config, caller: Option<&Caller>, plan: &Plan, as_json: bool, verb: &str, drift: Option<&DriftMap>, refused: &[Refusal]) {
    if as_json {
        println!("{}", serde_json::to_string_pretty(&plan_json(cfg, caller, plan, drift, refused)).unwrap_or_default());
    } else {
        print!("{}", plan_text(cfg, caller, plan, verb, refused));
    }
}

/// One line saying what `--refresh` found.
pub fn refresh_line(drift: &DriftMap) -> String {
    let n = |f: fn(&Result<Drift, String>) -> bool| drift.values().filter(|d| f(d)).count();
    format!(
        "Refreshed {} components: {} in sync, {} drifted, {} missing, {} unreadable.",
        drift.len(),
        n(|d| matches!(d, Ok(Drift::InSync))),
        n(|d| matches!(d, Ok(Drift::Drifted { .. }))),
        n(|d| matches!(d, Ok(Drift::Missing { .. }))),
        n(|d| d.is_err()),
    )
}

/// The components `--refresh` could not read, with why.
pub fn refresh_errors(drift: &DriftMap) -> Vec<String> {
    drift.iter().filter_map(|(id, d)| d.as_ref().err().map(|e| format!("{id}: {e}"))).collect()
}

/// Prints what `--refresh` found (to stderr with `--json`, so stdout stays one document).
pub fn refresh(drift: &DriftMap, as_json: bool) {
    println_to(as_json, &refresh_line(drift));
    let errors = refresh_errors(drift);
    if !errors.is_empty() {
        eprintln!("error: cannot read the live state of {} component(s), so their drift cannot be repaired:", errors.len());
        for e in &errors {
            eprintln!("  ✗ {e}");
        }
        eprintln!("Nothing was changed. Fix access to these resources (region reachable, permissions) and run again, or apply without --refresh.");
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
        Outcome::Unreachable { region } => format!("- {id}: not run ({region} does not answer)"),
    }
}

impl ProgressInner {
    fn event(&mut self, e: Event) {
        let at = self.start.elapsed().as_secs_f64();
        match e {
            Event::Started { id, action, region } => {
                let msg = format!("{} {id} ({region}): {}…", action.symbol(), verb(action));
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
                // A region that does not answer is said once, in the summary, not per component.
                if matches!(outcome, Outcome::Unchanged | Outcome::Unreachable { .. }) {
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

/// Summary after a run, as text.
pub fn summary_text(report: &Report, destroy: bool, state_path: &str) -> String {
    let c = |f: fn(&Outcome) -> bool| report.count(f);
    let failed = c(|o| matches!(o, Outcome::Failed { .. }));
    let skipped = c(|o| matches!(o, Outcome::Skipped { .. }));
    let not_started = c(|o| matches!(o, Outcome::NotStarted));
    let down = report.unreachable();
    let head = if report.interrupted {
        "Interrupted"
    } else if failed > 0 || !down.is_empty() {
        "Finished with errors"
    } else if destroy {
        "Destroy complete"
    } else {
        "Apply complete"
    };
    let mut out = format!(
        "\n{head}: {} created, {} updated, {} replaced, {} deleted, {} unchanged, {failed} failed, {skipped} skipped, {not_started} not started in {:.1}s.\n",
        c(|o| matches!(o, Outcome::Created)),
        c(|o| matches!(o, Outcome::Updated)),
        c(|o| matches!(o, Outcome::Replaced)),
        c(|o| matches!(o, Outcome::Deleted)),
        c(|o| matches!(o, Outcome::Unchanged)),
        report.wall.as_secs_f64()
    );
    out.push_str(&unreachable_run_text(&down, if destroy { "destroyed" } else { "applied" }));
    for f in report.failures() {
        if let Outcome::Failed { error } = &f.outcome {
            out.push_str(&format!("  ✗ {}: {error}\n", f.id));
        }
    }
    if report.interrupted || failed > 0 || !down.is_empty() {
        out.push_str(&format!("State saved to {state_path}; run the same command again to resume.\n"));
    }
    out
}

/// One block per region a run could not reach: named once, with the components left as they
/// were and the global control planes that are down with it.
pub fn unreachable_run_text(down: &std::collections::BTreeMap<String, Vec<String>>, verb: &str) -> String {
    let mut out = String::new();
    for (region, ids) in down {
        let n = ids.len();
        out.push_str(&format!(
            "  ✗ {region} did not answer: {n} component{} not {verb}, their state kept as it was ({})\n",
            if n == 1 { "" } else { "s" },
            ids.join(", ")
        ));
        let planes = tandem_core::aws::global_control_planes(region);
        if !planes.is_empty() {
            out.push_str(&format!("      unavailable while it is down: {}\n", planes.join("; ")));
        }
    }
    out
}

/// Summary after a run.
pub fn summary(report: &Report, destroy: bool, state_path: &str) {
    print!("{}", summary_text(report, destroy, state_path));
}

fn outputs_value(doc: &StateDoc) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (id, c) in &doc.components {
        let mut o: serde_json::Map<String, serde_json::Value> = c.outputs.clone().into_iter().collect();
        o.insert("region".into(), json!(c.region));
        map.insert(id.clone(), serde_json::Value::Object(o));
    }
    serde_json::Value::Object(map)
}

/// Outputs recorded in state, as text.
pub fn outputs_text(doc: &StateDoc) -> String {
    if doc.components.is_empty() {
        return format!("\nNo outputs: stack '{}' has nothing in state.\n", doc.stack);
    }
    let mut out = String::from("\nOutputs:\n");
    for (id, c) in &doc.components {
        out.push_str(&format!("  {id} ({})\n", c.region));
        for (k, v) in &c.outputs {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("    {k} = {v}\n"));
        }
    }
    out
}

/// Outputs recorded in state.
pub fn outputs(doc: &StateDoc, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string_pretty(&outputs_value(doc)).unwrap_or_default());
    } else {
        print!("{}", outputs_text(doc));
    }
}

/// JSON document of a run (or of a no-op run).
pub fn report_value(cfg: &Config, caller: Option<&Caller>, plan: &Plan, report: Option<&Report>, doc: &StateDoc, drift: Option<&DriftMap>, refused: &[Refusal]) -> serde_json::Value {
    let mut v = json!({
        "stack": cfg.environment_suffix,
        "caller": caller,
        "changes": plan.changes,
        "summary": counts(plan),
        "refused": refused,
        "report": report,
        "success": refused.is_empty() && report.map(|r| r.success()).unwrap_or(true),
        "outputs": outputs_value(doc),
    });
    if let (Some(d), Some(obj)) = (drift, v.as_object_mut()) {
        obj.insert("refresh".into(), drift_map_value(d));
    }
    v
}

/// Prints the JSON document of a run (or of a no-op run).
pub fn report_json(cfg: &Config, caller: Option<&Caller>, plan: &Plan, report: Option<&Report>, doc: &StateDoc, drift: Option<&DriftMap>, refused: &[Refusal]) {
    println!("{}", serde_json::to_string_pretty(&report_value(cfg, caller, plan, report, doc, drift, refused)).unwrap_or_default());
}

/// True when every region answered, every component is in sync and no health check reports
/// unhealthy.
pub fn status_ok(r: &StatusReport) -> bool {
    r.unreachable.is_empty() && r.drift.values().all(|d| matches!(d, Ok(Drift::InSync))) && r.live.health.iter().all(|h| h.healthy != Some(false))
}

/// `status --json`: the stack, overall health, the regions that did not answer, each checked
/// component's region and drift, live health, replication lag and the Aurora writer.
pub fn status_value(doc: &StateDoc, r: &StatusReport) -> serde_json::Value {
    let v: BTreeMap<&str, serde_json::Value> = r
        .drift
        .iter()
        .map(|(id, d)| {
            let region = doc.components.get(id).map(|c| c.region.clone()).unwrap_or_default();
            (id.as_str(), json!({"region": region, "drift": drift_value(d)}))
        })
        .collect();
    json!({
        "stack": doc.stack,
        "healthy": status_ok(r),
        "unreachable": r.unreachable,
        "components": v,
        "health": r.live.health,
        "replication": r.live.replication,
        "writer": r.live.writer,
        "controller": r.live.controller,
        "operations": doc.operations.iter().rev().take(RECENT_OPERATIONS).collect::<Vec<_>>(),
        "elapsed_secs": (r.elapsed.as_secs_f64() * 10.0).round() / 10.0,
    })
}

/// One block per region that did not answer: named once, with what could not be checked
/// and the global control planes that are down with it.
pub fn unreachable_text(down: &[Unreachable]) -> String {
    let mut out = String::new();
    for u in down {
        let n = u.components.len();
        out.push_str(&format!(
            "  ✗ {} is UNREACHABLE ({}): {n} component{} not checked
",
            u.region,
            u.reason,
            if n == 1 { "" } else { "s" }
        ));
        if !u.not_read.is_empty() {
            out.push_str(&format!("      also not read: {}
", u.not_read.join("; ")));
        }
        if !u.control_planes.is_empty() {
            out.push_str(&format!("      unavailable while it is down: {}
", u.control_planes.join("; ")));
        }
    }
    out
}

/// `status`'s per-component lines (the components that were checked).
pub fn status_text(doc: &StateDoc, r: &StatusReport) -> String {
    if r.drift.is_empty() && r.unreachable.is_empty() {
        return format!("Stack '{}' has nothing deployed.\n", doc.stack);
    }
    let mut out = unreachable_text(&r.unreachable);
    if !r.unreachable.is_empty() && !r.drift.is_empty() {
        out.push('\n');
    }
    for (id, d) in &r.drift {
        let region = doc.components.get(id).map(|c| c.region.as_str()).unwrap_or("");
        let line = match d {
            Ok(Drift::InSync) => "in sync".to_string(),
            Ok(Drift::Drifted { details }) => format!("DRIFTED: {}", details.join("; ")),
            Ok(Drift::Missing { details }) => format!("MISSING: {}", details.join("; ")),
            Err(e) => format!("ERROR: {e}"),
        };
        out.push_str(&format!("  {id:<24} {region:<10} {line}\n"));
    }
    out
}

/// The live part: health checks, replication lag, the Aurora writer.
pub fn live_text(live: &Live) -> String {
    let mut out = String::new();
    if !live.health.is_empty() {
        out.push_str("\nHealth (Route 53):\n");
        for h in &live.health {
            let mark = match h.healthy {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "?",
            };
            out.push_str(&format!("  {mark} {:<10} {:<4} {} ({})\n", h.region, h.check, h.status, h.health_check_id));
        }
    }
    if !live.replication.is_empty() {
        out.push_str("\nReplication lag (last 15 min):\n");
        for l in &live.replication {
            let v = l.value.map(|v| format!("{v:.1} {}", l.unit)).unwrap_or_else(|| "no data yet".into());
            out.push_str(&format!("  {:<9} {:<10} {:<30} {v}\n", l.what, l.region, l.metric));
        }
    }
    if let Some(w) = &live.writer {
        let who = match (&w.writer, &w.role) {
            (Some(arn), Some(role)) => format!("{role} ({arn})"),
            (Some(arn), None) => arn.clone(),
            (None, _) => "none".to_string(),
        };
        out.push_str(&format!("\nAurora writer: {who}, read through {}\n", w.read_through));
        if let Some(f) = &w.failover_state {
            out.push_str(&format!("  a failover or switchover is under way (FailoverState {f})\n"));
        }
        if w.role.as_deref() == Some("secondary") {
            out.push_str("  The database stays in the secondary until `tandem switchover --to primary` (once the primary has rejoined); DNS, the accelerator and events return to the primary on their own once it is healthy.\n");
        }
    }
    if let Some(c) = &live.controller {
        out.push_str(&controller_text(c));
    }
    out
}

/// The failover controller's alarms and flag, as `status` shows them.
pub fn controller_text(c: &crate::status::Controller) -> String {
    let mut out = format!(
        "\nFailover controller ({}, automatic failover {}):\n",
        c.region,
        if c.automatic { "on" } else { "off: it alerts, an operator runs `tandem failover --unplanned`" }
    );
    for (what, name, state) in &c.alarms {
        let (mark, state) = match state.as_deref() {
            Some("OK") => ("✓", "OK"),
            Some("ALARM") => ("✗", "ALARM"),
            Some(other) => ("?", other),
            None => ("?", "not found"),
        };
        out.push_str(&format!("  {mark} {what:<24} {state:<17} ({name})\n"));
    }
    out.push_str(match c.forced {
        Some(true) => "  forced flag: SET (`tandem failover` holds the \"primary down\" decision until `tandem switchover --to primary`)\n",
        Some(false) => "  forced flag: not set\n",
        None => "  forced flag: could not be read\n",
    });
    out
}

/// Live status of every deployed component; false when something is wrong (a region did
/// not answer, drift, an unhealthy check).
pub fn status(doc: &StateDoc, r: &StatusReport, as_json: bool) -> bool {
    if as_json {
        println!("{}", serde_json::to_string_pretty(&status_value(doc, r)).unwrap_or_default());
        return status_ok(r);
    }
    print!("{}", status_text(doc, r));
    if !r.drift.is_empty() || !r.unreachable.is_empty() {
        print!("{}", live_text(&r.live));
        print!("{}", operations_text(&doc.operations, tandem_core::state::now()));
        println!("\nChecked in {:.1}s.", r.elapsed.as_secs_f64());
    }
    status_ok(r)
}

/// How many operation records `status` shows.
const RECENT_OPERATIONS: usize = 3;

pub fn when(unix: u64) -> String {
    aws_smithy_types::DateTime::from_secs(i64::try_from(unix).unwrap_or(i64::MAX))
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| unix.to_string())
}

/// The last failovers and switchovers recorded in the state, newest first.
pub fn operations_text(ops: &[OperationRecord], now: u64) -> String {
    if ops.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nRecent operations:\n");
    for op in ops.iter().rev().take(RECENT_OPERATIONS) {
        let ago = now.saturating_sub(op.started_at) / 60;
        out.push_str(&format!(
            "  {} {} at {} ({ago} min ago){}\n",
            if op.ok { "✓" } else { "✗" },
            op.command,
            when(op.started_at),
            op.recorded_late_at.map(|t| format!(", recorded {} once the state was reachable", when(t))).unwrap_or_default()
        ));
        for n in &op.not_done {
            out.push_str(&format!("      not done: {n}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tandem_core::executor::{ComponentOutcome, PlannedChange};
    use tandem_core::state::ComponentState;
    use tandem_core::Placement;

    use crate::status::{Health, Lag, Writer};

    fn change(id: &str, kind: &str, region: &str, action: Action, reason: &str) -> PlannedChange {
        PlannedChange {
            id: id.into(),
            kind: kind.into(),
            placement: Placement::Primary,
            region: region.into(),
            action,
            reason: reason.into(),
        }
    }

    fn sample_plan() -> Plan {
        Plan {
            changes: vec![
                change("network-primary", "vpc", "us-east-1", Action::NoOp, "up to date"),
                change("dashboard", "dashboard", "us-east-1", Action::Create, "deleted outside Tandem: dashboard dashboard-t1 does not exist"),
                change("alarms-primary", "alarms", "us-east-1", Action::Update, "drifted: alarm alarm-x missing"),
                change("table", "dynamodb", "us-east-1", Action::Replace, "replace-forcing change: billing"),
                change("accelerator", "accelerator", "us-west-2", Action::Delete, "no longer wanted"),
            ],
            estimate: None,
        }
    }

    fn outcome(id: &str, o: Outcome) -> ComponentOutcome {
        ComponentOutcome { id: id.into(), outcome: o, elapsed: Duration::from_millis(1500), started_at: None, ended_at: None }
    }

    fn doc() -> StateDoc {
        let mut d = StateDoc::new("t1");
        let net = ComponentState::new("vpc", Placement::Primary, "us-east-1")
            .with_outputs(BTreeMap::from([("vpc_id".to_string(), json!("vpc-123")), ("public_subnet_ids".to_string(), json!(["subnet-a", "subnet-b"]))]));
        let acc = ComponentState::new("accelerator", Placement::Global, "us-west-2")
            .with_outputs(BTreeMap::from([("dns_name".to_string(), json!("a1.awsglobalaccelerator.com"))]));
        d.components.insert("network-primary".into(), Arc::new(net));
        d.components.insert("accelerator".into(), Arc::new(acc));
        d
    }

    fn drift() -> DriftMap {
        BTreeMap::from([
            ("network-primary".to_string(), Ok(Drift::InSync)),
            ("dashboard".to_string(), Ok(Drift::Missing { details: vec!["dashboard dashboard-t1 does not exist".into()] })),
            ("alarms-primary".to_string(), Ok(Drift::Drifted { details: vec!["alarm a missing".into(), "alarm b: threshold 3 != 5".into()] })),
            ("accelerator".to_string(), Err("us-west-2 unreachable".to_string())),
        ])
    }

    fn line_of<'a>(text: &'a str, id: &str) -> &'a str {
        text.lines().find(|l| l.split_whitespace().nth(1) == Some(id)).unwrap_or_else(|| panic!("no line for {id} in:\n{text}"))
    }

    #[test]
    fn plan_text_shows_symbol_id_kind_region_and_reason_per_change() {
        let text = plan_text(&Config::example("t1"), None, &sample_plan(), "apply", &[]);
        assert!(text.starts_with("Tandem will apply stack 't1' (us-east-1 primary, us-east-2 secondary):"), "{text}");
        let l = line_of(&text, "dashboard");
        assert!(l.trim_start().starts_with("+ dashboard"), "{l}");
        assert!(l.contains("us-east-1") && l.ends_with("deleted outside Tandem: dashboard dashboard-t1 does not exist"), "{l}");
        assert!(line_of(&text, "alarms-primary").trim_start().starts_with("~ alarms-primary"));
        assert!(line_of(&text, "alarms-primary").contains("drifted: alarm alarm-x missing"));
        assert!(text.lines().any(|l| l.trim_start().starts_with("-/+ table") && l.contains("replace-forcing change: billing")), "{text}");
        let del = line_of(&text, "accelerator");
        assert!(del.trim_start().starts_with("- accelerator") && del.ends_with("no longer wanted"), "{del}");
        assert!(!text.contains("network-primary"), "no-op components are not listed:\n{text}");
        assert!(text.contains("\nPlan: 1 to create, 1 to update, 1 to replace, 1 to delete, 1 unchanged.\n"), "{text}");
    }

    #[test]
    fn plan_header_names_the_account_and_the_caller() {
        let who = Caller { account: "111122223333".into(), arn: "arn:aws:sts::111122223333:assumed-role/ops/alice".into() };
        let text = plan_text(&Config::example("t1"), Some(&who), &sample_plan(), "apply", &[]);
        assert_eq!(text.lines().nth(1), Some("Account 111122223333, as arn:aws:sts::111122223333:assumed-role/ops/alice"), "{text}");
        let unknown = plan_text(&Config::example("t1"), None, &sample_plan(), "apply", &[]);
        assert!(unknown.lines().nth(1).is_some_and(|l| l.starts_with("Account: unknown")), "{unknown}");
        let v = plan_json(&Config::example("t1"), Some(&who), &sample_plan(), None, &[]);
        assert_eq!(v["caller"], json!({"account": "111122223333", "arn": "arn:aws:sts::111122223333:assumed-role/ops/alice"}));
        let r = report_value(&Config::example("t1"), Some(&who), &sample_plan(), None, &doc(), None, &[]);
        assert_eq!(r["caller"]["account"], "111122223333");
    }

    #[test]
    fn plan_text_of_destroy_uses_the_verb() {
        let plan = Plan { changes: vec![change("table", "dynamodb", "us-east-1", Action::Delete, "destroy")], estimate: None };
        let text = plan_text(&Config::example("t1"), None, &plan, "destroy", &[]);
        assert!(text.starts_with("Tandem will destroy stack 't1'"), "{text}");
        assert!(text.contains("Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 0 unchanged."), "{text}");
    }

    fn table_refused() -> Refusal {
        Refusal {
            id: "table".into(),
            action: Action::Replace,
            reason: "replace-forcing change: billing".into(),
            holds: "the items of DynamoDB table table-t1".into(),
            allow_with: "--allow-data-loss table".into(),
        }
    }

    #[test]
    fn a_refused_change_is_marked_on_its_line_and_explained_with_the_flag() {
        let text = plan_text(&Config::example("t1"), None, &sample_plan(), "apply", &[table_refused()]);
        let l = text.lines().find(|l| l.trim_start().starts_with("-/+ table")).expect("table line");
        assert!(l.ends_with("replace-forcing change: billing  REFUSED without --allow-data-loss table"), "{l}");
        assert!(!line_of(&text, "dashboard").contains("REFUSED"));
        assert!(text.contains("1 change would lose data and is refused:"), "{text}");
        assert!(text.contains("✗ refusing to replace (delete and re-create) table: replace-forcing change: billing; it holds the items of DynamoDB table table-t1"), "{text}");
        assert!(text.contains("Nothing was changed. To accept the loss, run: tandem apply --allow-data-loss table\n"), "{text}");
        assert!(refusals_text(&[]).is_empty());

        let cfg = Config::example("t1");
        let v = plan_json(&cfg, None, &sample_plan(), None, &[table_refused()]);
        assert_eq!(v["refused"][0]["id"], "table");
        assert_eq!(v["refused"][0]["action"], "replace");
        assert_eq!(v["refused"][0]["allow_with"], "--allow-data-loss table");
        let r = report_value(&cfg, None, &sample_plan(), None, &doc(), None, &[table_refused()]);
        assert_eq!(r["success"], false, "a refused apply is not a success");
        assert_eq!(r["refused"][0]["reason"], "replace-forcing change: billing");
        assert_eq!(report_value(&cfg, None, &sample_plan(), None, &doc(), None, &[])["refused"], json!([]));
    }

    #[test]
    fn destroy_says_how_much_data_it_deletes_and_what_it_could_not_count() {
        let text = data_summary_text(&[
            ("bucket-primary".into(), Ok("10,000+ object versions".into())),
            ("table".into(), Err("table in us-east-1: AccessDenied".into())),
        ]);
        assert!(text.contains("Data this destroy deletes"), "{text}");
        assert!(text.contains("  bucket-primary  10,000+ object versions\n"), "{text}");
        assert!(text.contains("  table           could not count: table in us-east-1: AccessDenied\n"), "{text}");
        assert!(data_summary_text(&[]).is_empty());
    }

    #[test]
    fn plan_json_carries_changes_summary_and_refresh() {
        let cfg = Config::example("t1");
        let v = plan_json(&cfg, None, &sample_plan(), None, &[]);
        assert_eq!(v["stack"], "t1");
        assert_eq!(v["secondary_region"], "us-east-2");
        assert_eq!(v["summary"], json!({"create": 1, "update": 1, "replace": 1, "delete": 1, "unchanged": 1}));
        assert_eq!(v["changes"][1]["id"], "dashboard");
        assert_eq!(v["changes"][1]["action"], serde_json::to_value(Action::Create).expect("action"));
        assert_eq!(v["changes"][4]["id"], "accelerator");
        assert!(v.get("refresh").is_none(), "no refresh key without --refresh");
        let v = plan_json(&cfg, None, &sample_plan(), Some(&drift()), &[]);
        assert_eq!(v["refresh"]["network-primary"], json!({"status": "insync"}));
        assert_eq!(v["refresh"]["dashboard"], json!({"status": "missing", "details": ["dashboard dashboard-t1 does not exist"]}));
        assert_eq!(v["refresh"]["accelerator"], json!({"status": "error", "error": "us-west-2 unreachable"}));
    }

    #[test]
    fn refresh_line_counts_and_errors_name_the_component() {
        assert_eq!(refresh_line(&drift()), "Refreshed 4 components: 1 in sync, 1 drifted, 1 missing, 1 unreadable.");
        assert_eq!(refresh_errors(&drift()), vec!["accelerator: us-west-2 unreachable".to_string()]);
        let clean: DriftMap = BTreeMap::from([("table".to_string(), Ok(Drift::InSync))]);
        assert!(refresh_errors(&clean).is_empty());
    }

    #[test]
    fn summary_counts_outcomes_and_lists_failures() {
        let report = Report {
            outcomes: vec![
                outcome("dashboard", Outcome::Created),
                outcome("alarms-primary", Outcome::Updated),
                outcome("table", Outcome::Unchanged),
                outcome("api-primary", Outcome::Failed { error: "BadRequestException: no such stage".into() }),
                outcome("health-primary", Outcome::Skipped { reason: "dependency api-primary failed".into() }),
            ],
            wall: Duration::from_millis(12_340),
            interrupted: false,
        };
        let text = summary_text(&report, false, ".tandem/t1/state.json");
        assert!(
            text.contains("Finished with errors: 1 created, 1 updated, 0 replaced, 0 deleted, 1 unchanged, 1 failed, 1 skipped, 0 not started in 12.3s."),
            "{text}"
        );
        assert!(text.contains("  ✗ api-primary: BadRequestException: no such stage\n"), "{text}");
        assert!(text.contains("State saved to .tandem/t1/state.json; run the same command again to resume."), "{text}");

        let ok = Report { outcomes: vec![outcome("table", Outcome::Deleted)], wall: Duration::from_secs(2), interrupted: false };
        let text = summary_text(&ok, true, "x");
        assert!(text.contains("Destroy complete: 0 created, 0 updated, 0 replaced, 1 deleted,"), "{text}");
        assert!(!text.contains("State saved"), "{text}");
        let text = summary_text(&Report { interrupted: true, ..ok }, false, "x");
        assert!(text.contains("\nInterrupted: "), "{text}");
        assert!(text.contains("State saved to x"), "{text}");
    }

    #[test]
    fn a_region_down_is_said_once_with_its_components_and_control_planes() {
        let down = |id: &str| outcome(id, Outcome::Unreachable { region: "us-east-1".into() });
        let report = Report {
            outcomes: vec![down("network-primary"), down("dns"), outcome("table", Outcome::Unchanged), outcome("alarms-secondary", Outcome::Updated)],
            wall: Duration::from_secs(3),
            interrupted: false,
        };
        let text = summary_text(&report, false, "x");
        assert!(text.contains("\nFinished with errors: 0 created, 1 updated,"), "{text}");
        let named: Vec<&str> = text.lines().filter(|l| l.contains("us-east-1")).collect();
        assert_eq!(
            named,
            vec!["  ✗ us-east-1 did not answer: 2 components not applied, their state kept as it was (network-primary, dns)"],
            "{text}"
        );
        assert!(text.contains("      unavailable while it is down: Route 53 control plane"), "{text}");
        assert!(text.contains("State saved to x; run the same command again"), "{text}");
        assert_eq!(done_line("dns", &Outcome::Unreachable { region: "us-east-1".into() }, Duration::ZERO), "- dns: not run (us-east-1 does not answer)");
        // JSON: the outcome names the region.
        let v = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(v["outcomes"][0]["outcome"], "unreachable");
        assert_eq!(v["outcomes"][0]["region"], "us-east-1");
    }

    #[test]
    fn recent_operations_newest_first_with_late_records_said() {
        let op = |command: &str, at: u64, late: Option<u64>| OperationRecord {
            command: command.into(),
            started_at: at,
            ok: true,
            done: vec!["x".into()],
            not_done: vec![],
            recorded_late_at: late,
        };
        let ops = vec![
            op("switchover --to secondary", 1_000, None),
            op("failover --unplanned", 1_798_000_000, Some(1_798_003_600)),
            op("switchover --to primary", 1_798_007_200, None),
            OperationRecord { ok: false, not_done: vec!["the writer did not move".into()], ..op("failover", 1_798_007_300, None) },
        ];
        let text = operations_text(&ops, 1_798_007_300 + 600);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(lines[0], "Recent operations:", "{text}");
        assert_eq!(lines[1], "  ✗ failover at 2026-12-23T06:28:20Z (10 min ago)", "{text}");
        assert_eq!(lines[2], "      not done: the writer did not move", "{text}");
        assert!(lines[3].starts_with("  ✓ switchover --to primary at "), "{text}");
        assert!(lines[4].starts_with("  ✓ failover --unplanned at ") && lines[4].ends_with(", recorded 2026-12-23T05:26:40Z once the state was reachable"), "{text}");
        assert_eq!(lines.len(), 5, "the last three only: {text}");
        assert_eq!(operations_text(&[], 0), "");
    }

    #[test]
    fn the_controller_shows_its_alarms_and_the_forced_flag() {
        let c = crate::status::Controller {
            region: "us-east-2".into(),
            alarms: vec![
                ("decision (primary down)".into(), "alarm-primary-down-secondary-t1".into(), Some("ALARM".into())),
                ("controller blind".into(), "alarm-controller-blind-secondary-t1".into(), Some("OK".into())),
                ("failed over".into(), "alarm-failed-over-secondary-t1".into(), None),
            ],
            forced: Some(true),
            automatic: true,
        };
        let text = controller_text(&c);
        assert!(text.contains("\nFailover controller (us-east-2, automatic failover on):\n"), "{text}");
        assert!(text.contains("  ✗ decision (primary down)  ALARM             (alarm-primary-down-secondary-t1)\n"), "{text}");
        assert!(text.contains("  ✓ controller blind"), "{text}");
        assert!(text.contains("  ? failed over              not found"), "{text}");
        assert!(text.contains("forced flag: SET"), "{text}");
        let off = controller_text(&crate::status::Controller { automatic: false, forced: None, ..c });
        assert!(off.contains("automatic failover off") && off.contains("forced flag: could not be read"), "{off}");
    }

    #[test]
    fn the_plan_says_what_it_will_take_and_why() {
        use tandem_core::schedule::{Bounded, PathStep};
        let step = |id: &str, s: u64| PathStep { id: id.into(), expected: Duration::from_secs(s) };
        let e = Estimate {
            unbounded: Duration::from_secs(3045),
            bounded: Some(Bounded { parallelism: 16, makespan: Duration::from_secs(3045) }),
            critical_path: vec![step("network-primary", 45), step("aurora-primary", 1500), step("aurora-secondary", 1500)],
        };
        assert_eq!(
            estimate_text(&e).lines().next(),
            Some("Expected on AWS: about 51 min (--parallelism 16 does not lengthen it); critical path: network-primary (45 s) → aurora-primary (25 min) → aurora-secondary (25 min).")
        );
        let slow = Estimate { bounded: Some(Bounded { parallelism: 1, makespan: Duration::from_secs(4000) }), ..e.clone() };
        assert!(estimate_text(&slow).starts_with("Expected on AWS: about 1 h 07 min with --parallelism 1 (critical path alone: 51 min)"));
        let mut plan = sample_plan();
        plan.estimate = Some(e);
        let cfg = Config::example("t1");
        assert!(plan_text(&cfg, None, &plan, "apply", &[]).contains("\nExpected on AWS: about 51 min"));
        let v = plan_json(&cfg, None, &plan, None, &[]);
        assert_eq!(v["estimate"]["unbounded"], 3045);
        assert_eq!(v["estimate"]["bounded"]["parallelism"], 16);
        assert_eq!(v["estimate"]["critical_path"][1], json!({"id": "aurora-primary", "expected": 1500}));
        // Nothing to do: no estimate line.
        let idle = Plan { changes: vec![change("table", "dynamodb", "us-east-1", Action::NoOp, "up to date")], estimate: plan.estimate.clone() };
        assert!(!plan_text(&cfg, None, &idle, "apply", &[]).contains("Expected on AWS"));
    }

    #[test]
    fn done_lines_say_what_happened() {
        let t = Duration::from_millis(2500);
        assert_eq!(done_line("dashboard", &Outcome::Created, t), "✓ dashboard: created in 2.5s");
        assert_eq!(done_line("table", &Outcome::Unchanged, t), "· table: unchanged");
        assert_eq!(done_line("api", &Outcome::Failed { error: "boom".into() }, t), "✗ api: FAILED after 2.5s: boom");
        assert_eq!(done_line("dns", &Outcome::Skipped { reason: "dependency failed".into() }, t), "- dns: skipped (dependency failed)");
    }

    #[test]
    fn outputs_text_and_json() {
        let d = doc();
        let text = outputs_text(&d);
        assert!(text.contains("\n  network-primary (us-east-1)\n    public_subnet_ids = [\"subnet-a\",\"subnet-b\"]\n    vpc_id = vpc-123\n"), "{text}");
        assert!(text.contains("\n  accelerator (us-west-2)\n    dns_name = a1.awsglobalaccelerator.com\n"), "{text}");
        let v = outputs_value(&d);
        assert_eq!(v["network-primary"], json!({"vpc_id": "vpc-123", "public_subnet_ids": ["subnet-a", "subnet-b"], "region": "us-east-1"}));
        assert_eq!(v["accelerator"]["region"], "us-west-2");
        assert_eq!(outputs_text(&StateDoc::new("t1")), "\nNo outputs: stack 't1' has nothing in state.\n");
    }

    #[test]
    fn report_value_of_a_no_op_run_succeeds_and_carries_refresh() {
        let cfg = Config::example("t1");
        let plan = Plan { changes: vec![change("table", "dynamodb", "us-east-1", Action::NoOp, "up to date")], estimate: None };
        let v = report_value(&cfg, None, &plan, None, &doc(), Some(&drift()), &[]);
        assert_eq!(v["success"], true);
        assert_eq!(v["report"], serde_json::Value::Null);
        assert_eq!(v["summary"]["unchanged"], 1);
        assert_eq!(v["outputs"]["network-primary"]["vpc_id"], "vpc-123");
        assert_eq!(v["refresh"]["alarms-primary"]["status"], "drifted");
        let failed = Report { outcomes: vec![outcome("table", Outcome::Failed { error: "x".into() })], wall: Duration::ZERO, interrupted: false };
        let v = report_value(&cfg, None, &plan, Some(&failed), &doc(), None, &[]);
        assert_eq!(v["success"], false);
        assert_eq!(v["report"]["outcomes"][0], json!({"id": "table", "outcome": "failed", "error": "x", "elapsed": 1.5}));
        assert!(v.get("refresh").is_none());
    }

    fn live(healthy: Option<bool>) -> Live {
        Live {
            health: vec![Health {
                region: "us-east-1".into(),
                check: "api".into(),
                health_check_id: "hc-1".into(),
                status: "2/3 checkers healthy".into(),
                healthy,
            }],
            replication: vec![Lag { what: "dynamodb".into(), region: "us-east-1".into(), metric: "ReplicationLatency".into(), value: Some(12.5), unit: "ms".into() }],
            ..Default::default()
        }
    }

    fn report(drift: DriftMap, live: Live) -> StatusReport {
        StatusReport { drift, unreachable: Vec::new(), live, elapsed: Duration::from_millis(2345) }
    }

    fn east_down() -> Unreachable {
        Unreachable {
            region: "us-east-1".into(),
            reason: "DispatchFailure: dispatch failure: connection closed".into(),
            components: (0..22).map(|i| format!("c{i}")).collect(),
            not_read: vec!["Route 53 health-check status (4 checks)".into(), "dynamodb replication lag (ReplicationLatency)".into()],
            control_planes: tandem_core::aws::global_control_planes("us-east-1"),
        }
    }

    #[test]
    fn status_json_shape() {
        let d = doc();
        let v = status_value(&d, &report(drift(), live(Some(true))));
        assert_eq!(v["stack"], "t1");
        assert_eq!(v["healthy"], false, "drift makes the stack unhealthy");
        assert_eq!(v["components"]["network-primary"], json!({"region": "us-east-1", "drift": {"status": "insync"}}));
        assert_eq!(v["components"]["accelerator"], json!({"region": "us-west-2", "drift": {"status": "error", "error": "us-west-2 unreachable"}}));
        assert_eq!(v["components"]["alarms-primary"]["drift"]["details"][1], "alarm b: threshold 3 != 5");
        assert_eq!(v["health"][0], json!({"region": "us-east-1", "check": "api", "health_check_id": "hc-1", "status": "2/3 checkers healthy", "healthy": true}));
        assert_eq!(v["replication"][0], json!({"what": "dynamodb", "region": "us-east-1", "metric": "ReplicationLatency", "value": 12.5, "unit": "ms"}));
        assert_eq!(v["unreachable"], json!([]));
        assert_eq!(v["elapsed_secs"], 2.3);

        let in_sync: DriftMap = BTreeMap::from([("network-primary".to_string(), Ok(Drift::InSync))]);
        assert_eq!(status_value(&d, &report(in_sync.clone(), live(Some(true))))["healthy"], true);
        assert_eq!(status_value(&d, &report(in_sync.clone(), live(None)))["healthy"], true, "no observation yet is not unhealthy");
        assert_eq!(status_value(&d, &report(in_sync.clone(), live(Some(false))))["healthy"], false, "a failing health check is unhealthy");
        let mut down = report(in_sync, live(Some(true)));
        down.unreachable = vec![east_down()];
        let v = status_value(&d, &down);
        assert_eq!(v["healthy"], false, "an unreachable region is unhealthy");
        assert_eq!(v["unreachable"][0]["region"], "us-east-1");
        assert_eq!(v["unreachable"][0]["components"].as_array().map(Vec::len), Some(22));
    }

    #[test]
    fn status_text_lines() {
        let text = status_text(&doc(), &report(drift(), Live::default()));
        assert!(text.lines().any(|l| l.trim_start().starts_with("network-primary") && l.contains("us-east-1") && l.ends_with("in sync")), "{text}");
        assert!(text.contains("MISSING: dashboard dashboard-t1 does not exist"), "{text}");
        assert!(text.contains("DRIFTED: alarm a missing; alarm b: threshold 3 != 5"), "{text}");
        assert!(text.lines().any(|l| l.contains("accelerator") && l.ends_with("ERROR: us-west-2 unreachable")), "{text}");
        assert_eq!(status_text(&StateDoc::new("t1"), &report(BTreeMap::new(), Live::default())), "Stack 't1' has nothing deployed.\n");
    }

    #[test]
    fn an_unreachable_region_is_named_once_with_counts_and_control_planes() {
        let in_sync: DriftMap = BTreeMap::from([("network-secondary".to_string(), Ok(Drift::InSync))]);
        let mut r = report(in_sync, Live::default());
        r.unreachable = vec![east_down()];
        let text = status_text(&doc(), &r);
        let named: Vec<&str> = text.lines().filter(|l| l.contains("UNREACHABLE")).collect();
        assert_eq!(named.len(), 1, "{text}");
        assert!(named[0].contains("us-east-1 is UNREACHABLE") && named[0].ends_with("22 components not checked"), "{text}");
        assert!(text.contains("also not read: Route 53 health-check status (4 checks); dynamodb replication lag"), "{text}");
        assert!(text.contains("unavailable while it is down: Route 53 control plane"), "{text}");
        assert!(text.contains("IAM control plane"), "{text}");
        assert!(!text.contains("ERROR"), "no per-component error for the unreachable region:\n{text}");
        assert!(text.contains("network-secondary"), "{text}");
        assert!(!status_ok(&r));
        // Only the region that did not answer: nothing deployed there is still reported.
        let only_down = StatusReport { unreachable: vec![east_down()], ..Default::default() };
        assert!(status_text(&StateDoc::new("t1"), &only_down).contains("UNREACHABLE"));
    }

    #[test]
    fn live_text_shows_the_writer_and_the_fail_back_mismatch() {
        let mut l = live(Some(true));
        l.writer = Some(Writer {
            global_cluster: "aurora-global-t1".into(),
            writer: Some("arn:aws:rds:us-east-2:1:cluster:aurora-secondary-t1".into()),
            role: Some("secondary".into()),
            failover_state: None,
            read_through: "us-east-2".into(),
        });
        let text = live_text(&l);
        assert!(text.contains("Aurora writer: secondary (arn:aws:rds:us-east-2:1:cluster:aurora-secondary-t1), read through us-east-2"), "{text}");
        assert!(text.contains("switchover --to primary"), "{text}");
        assert!(text.contains("  ✓ us-east-1  api  2/3 checkers healthy (hc-1)"), "{text}");
        assert!(text.contains("ReplicationLatency") && text.contains("12.5 ms"), "{text}");
    }
}
