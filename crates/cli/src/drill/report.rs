//! The drill's report: each step's measured time, pass/fail and reason; per layer the
//! recovery time (RTO: detection + switch) and the replication delay (RPO); a one-line
//! verdict. Built from the steps alone (pure), printed as a table or as JSON.
//!
//! Nothing here invents a figure: a step that could not be measured on the current endpoint
//! is `NotMeasurable` with why, and a layer figure that depends on it says so instead of a
//! number.

use serde::Serialize;

/// The layers of the stack the drill exercises (DR.md, "Layer by layer").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Preflight,
    Data,
    Traffic,
    Accelerator,
    Database,
    Restore,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Preflight => "preflight",
            Layer::Data => "data",
            Layer::Traffic => "traffic",
            Layer::Accelerator => "accelerator",
            Layer::Database => "database",
            Layer::Restore => "restore",
        }
    }
}

/// What one step found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Done (and, for a timed step, how long it took, from the step's start).
    Passed { secs: Option<f64> },
    /// Not done or not in time: why, and how long it was waited for.
    Failed { secs: Option<f64>, reason: String },
    /// The current endpoint cannot serve this measurement.
    NotMeasurable { why: String },
    /// Not run (a step it depends on failed, or not asked for).
    Skipped { why: String },
}

impl Outcome {
    pub fn secs(&self) -> Option<f64> {
        match self {
            Outcome::Passed { secs } | Outcome::Failed { secs, .. } => *secs,
            _ => None,
        }
    }
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed { .. })
    }
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// One step of the drill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub layer: Layer,
    /// A stable machine name (`data.dynamodb`, `traffic.health`, ...).
    pub id: String,
    /// What was done and measured, in words.
    pub what: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A layer's recovery figure: a number only when every part it adds up was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figure {
    /// Seconds, and the steps they come from.
    Measured { secs: f64, from: Vec<String> },
    /// Some parts measured, others not: the figure is at least `secs` (the worst measured
    /// part); `missing` says which parts are not in it and why.
    AtLeast { secs: f64, from: Vec<String>, missing: Vec<String> },
    /// Why there is no number (a part failed or could not be measured here).
    Unknown { why: String },
    /// The layer has no such figure (e.g. active-active data has no switch).
    NotApplicable { why: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerFigures {
    pub layer: Layer,
    /// Recovery time: detection + switch.
    pub rto: Figure,
    /// Replication delay: what was at risk.
    pub rpo: Figure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every step passed or was skipped because not asked for; none not measurable.
    Passed,
    /// Nothing failed, but some steps could not be measured here.
    PassedWithGaps,
    Failed,
    /// The preflight stopped the drill before anything was touched.
    NotStarted,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub stack: String,
    pub endpoint: String,
    pub steps: Vec<Step>,
    pub layers: Vec<LayerFigures>,
    pub verdict: Verdict,
    pub verdict_line: String,
    pub elapsed_secs: f64,
}

fn step<'a>(steps: &'a [Step], id: &str) -> Option<&'a Step> {
    steps.iter().find(|s| s.id == id)
}

/// A figure from one step's time, or why there is none.
fn from_step(steps: &[Step], id: &str) -> Figure {
    match step(steps, id).map(|s| &s.outcome) {
        Some(Outcome::Passed { secs: Some(secs) }) => Figure::Measured { secs: *secs, from: vec![id.to_string()] },
        Some(Outcome::Passed { secs: None }) => Figure::Unknown { why: format!("{id} passed but was not timed") },
        Some(Outcome::Failed { reason, .. }) => Figure::Unknown { why: format!("{id} failed: {reason}") },
        Some(Outcome::NotMeasurable { why }) => Figure::Unknown { why: format!("{id} not measurable here: {why}") },
        Some(Outcome::Skipped { why }) => Figure::Unknown { why: format!("{id} skipped: {why}") },
        None => Figure::Unknown { why: format!("{id} did not run") },
    }
}

/// The worst (largest) of several figures when every one of them is measured; the measured
/// ones are still named when some are missing, so the reader sees what is known.
fn worst(parts: Vec<Figure>) -> Figure {
    let mut secs: Option<f64> = None;
    let mut from = Vec::new();
    let mut missing = Vec::new();
    for p in parts {
        match p {
            Figure::Measured { secs: s, from: f } => {
                secs = Some(secs.map_or(s, |m: f64| m.max(s)));
                from.extend(f);
            }
            Figure::AtLeast { secs: s, from: f, missing: m } => {
                secs = Some(secs.map_or(s, |x: f64| x.max(s)));
                from.extend(f);
                missing.extend(m);
            }
            Figure::Unknown { why } | Figure::NotApplicable { why } => missing.push(why),
        }
    }
    match (secs, missing.is_empty()) {
        (Some(secs), true) => Figure::Measured { secs, from },
        (Some(secs), false) => Figure::AtLeast { secs, from, missing },
        (None, _) => Figure::Unknown { why: missing.join("; ") },
    }
}

/// Per layer, from the steps (see the module doc of `drill` for what each step measures).
pub fn layer_figures(steps: &[Step]) -> Vec<LayerFigures> {
    let ran = |prefix: &str| steps.iter().any(|s| s.id.starts_with(prefix) && !matches!(s.outcome, Outcome::Skipped { .. }));
    let mut out = Vec::new();
    if ran("data.") {
        out.push(LayerFigures {
            layer: Layer::Data,
            rto: Figure::NotApplicable { why: "active-active: the secondary copies already serve reads and writes".into() },
            rpo: worst(vec![from_step(steps, "data.dynamodb"), from_step(steps, "data.s3"), from_step(steps, "data.ssm")]),
        });
    }
    if ran("traffic.") {
        // Detection: the decision set until the PRIMARY record's check reports unhealthy.
        // Switch: every path measured from the same instant (the decision), so each path's
        // time already includes detection; the layer's RTO is the slowest path.
        out.push(LayerFigures {
            layer: Layer::Traffic,
            rto: worst(vec![from_step(steps, "traffic.health"), from_step(steps, "traffic.dns"), from_step(steps, "traffic.events")]),
            rpo: Figure::NotApplicable { why: "routing holds no data".into() },
        });
    }
    if ran("accelerator.") {
        out.push(LayerFigures {
            layer: Layer::Accelerator,
            rto: worst(vec![from_step(steps, "accelerator.deployed"), from_step(steps, "accelerator.lands")]),
            rpo: Figure::NotApplicable { why: "routing holds no data".into() },
        });
    }
    if ran("database.") {
        out.push(LayerFigures {
            layer: Layer::Database,
            rto: worst(vec![from_step(steps, "database.writer"), from_step(steps, "database.endpoint")]),
            rpo: from_step(steps, "database.lag"),
        });
    }
    out
}

/// The verdict and its one line.
pub fn verdict(steps: &[Step]) -> (Verdict, String) {
    let failed: Vec<&Step> = steps.iter().filter(|s| s.outcome.failed()).collect();
    let gaps = steps.iter().filter(|s| matches!(s.outcome, Outcome::NotMeasurable { .. })).count();
    let measured = steps.iter().filter(|s| s.outcome.passed() && s.outcome.secs().is_some()).count();
    let preflight_failed = failed.iter().any(|s| s.layer == Layer::Preflight);
    if preflight_failed {
        let why: Vec<String> = failed.iter().filter(|s| s.layer == Layer::Preflight).map(|s| s.outcome_reason()).collect();
        return (Verdict::NotStarted, format!("DRILL NOT STARTED: the preflight failed ({}); nothing was changed", why.join("; ")));
    }
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|s| s.id.as_str()).collect();
        return (Verdict::Failed, format!("DRILL FAILED: {} step(s) failed: {}", failed.len(), names.join(", ")));
    }
    if gaps > 0 {
        return (Verdict::PassedWithGaps, format!("DRILL PASSED with gaps: {measured} measurement(s) passed, {gaps} not measurable on this endpoint"));
    }
    (Verdict::Passed, format!("DRILL PASSED: {measured} measurement(s), every layer recovered"))
}

impl Step {
    fn outcome_reason(&self) -> String {
        match &self.outcome {
            Outcome::Failed { reason, .. } => format!("{}: {reason}", self.id),
            _ => self.id.clone(),
        }
    }
}

pub fn build(stack: &str, endpoint: &str, steps: Vec<Step>, elapsed_secs: f64) -> Report {
    let layers = layer_figures(&steps);
    let (verdict, verdict_line) = verdict(&steps);
    Report { stack: stack.to_string(), endpoint: endpoint.to_string(), steps, layers, verdict, verdict_line, elapsed_secs }
}

fn secs_text(secs: Option<f64>) -> String {
    secs.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "-".into())
}

fn figure_text(f: &Figure) -> String {
    match f {
        Figure::Measured { secs, .. } => format!("{secs:.1} s"),
        Figure::AtLeast { secs, from, missing } => format!("at least {secs:.1} s (measured: {}; not in it: {})", from.join(", "), missing.join("; ")),
        Figure::Unknown { why } => format!("unknown ({why})"),
        Figure::NotApplicable { why } => format!("n/a ({why})"),
    }
}

/// The table for people.
pub fn text(r: &Report) -> String {
    let mut out = format!("\nDrill of stack '{}' against {} ({:.1} s)\n\n", r.stack, r.endpoint, r.elapsed_secs);
    let w_id = r.steps.iter().map(|s| s.id.len()).max().unwrap_or(4).max(4);
    out.push_str(&format!("  {:<w_id$}  {:<8}  {:>8}  {}\n", "step", "result", "time", "what"));
    for s in &r.steps {
        let (result, note) = match &s.outcome {
            Outcome::Passed { .. } => ("pass", String::new()),
            Outcome::Failed { reason, .. } => ("FAIL", format!(" — {reason}")),
            Outcome::NotMeasurable { why } => ("n/m", format!(" — not measurable here: {why}")),
            Outcome::Skipped { why } => ("skipped", format!(" — {why}")),
        };
        out.push_str(&format!("  {:<w_id$}  {:<8}  {:>8}  {}{note}\n", s.id, result, secs_text(s.outcome.secs()), s.what));
    }
    if !r.layers.is_empty() {
        out.push_str("\nPer layer:\n");
        for l in &r.layers {
            out.push_str(&format!("  {:<12} RTO {}\n  {:<12} RPO {}\n", l.layer.name(), figure_text(&l.rto), "", figure_text(&l.rpo)));
        }
    }
    out.push_str(&format!("\n{}\n", r.verdict_line));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(layer: Layer, id: &str, outcome: Outcome) -> Step {
        Step { layer, id: id.into(), what: id.into(), outcome }
    }
    fn pass(secs: f64) -> Outcome {
        Outcome::Passed { secs: Some(secs) }
    }

    #[test]
    fn the_rpo_of_data_is_the_slowest_store_and_names_every_store() {
        let steps = vec![s(Layer::Data, "data.dynamodb", pass(0.4)), s(Layer::Data, "data.s3", pass(12.0)), s(Layer::Data, "data.ssm", pass(3.0))];
        let l = layer_figures(&steps);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].rpo, Figure::Measured { secs: 12.0, from: vec!["data.dynamodb".into(), "data.s3".into(), "data.ssm".into()] });
        assert!(matches!(l[0].rto, Figure::NotApplicable { .. }));
        assert_eq!(verdict(&steps).0, Verdict::Passed);
    }

    #[test]
    fn a_store_not_measurable_here_leaves_the_rpo_unknown_and_says_why_never_a_number() {
        let steps = vec![
            s(Layer::Data, "data.dynamodb", pass(0.4)),
            s(Layer::Data, "data.s3", pass(2.0)),
            s(Layer::Data, "data.ssm", Outcome::NotMeasurable { why: "the endpoint runs no Lambda".into() }),
        ];
        let l = layer_figures(&steps);
        match &l[0].rpo {
            Figure::AtLeast { secs, from, missing } => {
                assert_eq!(*secs, 2.0);
                assert_eq!(from, &vec!["data.dynamodb".to_string(), "data.s3".to_string()]);
                assert_eq!(missing, &vec!["data.ssm not measurable here: the endpoint runs no Lambda".to_string()]);
            }
            other => panic!("expected a lower bound, got {other:?}"),
        }
        let t = text(&build("t1", "e", steps.clone(), 1.0));
        assert!(t.contains("RPO at least 2.0 s (measured: data.dynamodb, data.s3; not in it: data.ssm not measurable here"), "{t}");
        let (v, line) = verdict(&steps);
        assert_eq!(v, Verdict::PassedWithGaps);
        assert!(line.contains("2 measurement(s) passed, 1 not measurable"), "{line}");
    }

    #[test]
    fn the_traffic_rto_is_the_slowest_path_from_the_decision() {
        let steps = vec![
            s(Layer::Traffic, "traffic.decision", Outcome::Passed { secs: None }),
            s(Layer::Traffic, "traffic.health", pass(20.0)),
            s(Layer::Traffic, "traffic.dns", pass(95.0)),
            s(Layer::Traffic, "traffic.events", pass(31.0)),
        ];
        let l = layer_figures(&steps);
        assert_eq!(l[0].layer, Layer::Traffic);
        assert_eq!(l[0].rto, Figure::Measured { secs: 95.0, from: vec!["traffic.health".into(), "traffic.dns".into(), "traffic.events".into()] });
    }

    #[test]
    fn a_failed_step_fails_the_drill_and_its_layer_figure() {
        let steps = vec![
            s(Layer::Accelerator, "accelerator.deployed", Outcome::Failed { secs: Some(600.0), reason: "still IN_PROGRESS".into() }),
            s(Layer::Accelerator, "accelerator.lands", Outcome::Skipped { why: "the accelerator did not deploy".into() }),
        ];
        let l = layer_figures(&steps);
        assert!(matches!(&l[0].rto, Figure::Unknown { why } if why.contains("accelerator.deployed failed: still IN_PROGRESS")), "{:?}", l[0].rto);
        let (v, line) = verdict(&steps);
        assert_eq!(v, Verdict::Failed);
        assert!(line.contains("accelerator.deployed"), "{line}");
    }

    #[test]
    fn a_failed_preflight_is_not_started_and_says_nothing_changed() {
        let steps = vec![s(Layer::Preflight, "preflight.alarms", Outcome::Failed { secs: None, reason: "alarm-x is in ALARM".into() })];
        let (v, line) = verdict(&steps);
        assert_eq!(v, Verdict::NotStarted);
        assert!(line.contains("alarm-x is in ALARM") && line.contains("nothing was changed"), "{line}");
        assert!(layer_figures(&steps).is_empty());
    }

    #[test]
    fn layers_not_run_have_no_figures_and_the_table_names_every_step() {
        let steps = vec![
            s(Layer::Data, "data.dynamodb", pass(1.0)),
            s(Layer::Database, "database.writer", Outcome::Skipped { why: "not asked for (--database)".into() }),
        ];
        let r = build("t1", "http://127.0.0.1:5005", steps, 3.0);
        assert_eq!(r.layers.iter().map(|l| l.layer).collect::<Vec<_>>(), vec![Layer::Data]);
        let t = text(&r);
        assert!(t.contains("data.dynamodb") && t.contains("1.0 s") && t.contains("database.writer") && t.contains("skipped"), "{t}");
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["steps"][0]["result"], "passed");
        assert_eq!(json["steps"][0]["secs"], 1.0);
        assert_eq!(json["steps"][1]["result"], "skipped");
        assert_eq!(json["layers"][0]["rpo"]["kind"], "at_least");
        assert_eq!(json["layers"][0]["rpo"]["secs"], 1.0);
    }
}
