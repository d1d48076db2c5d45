//! `apply --timeline FILE.svg` / `destroy --timeline FILE.svg`: a Gantt chart of the run just
//! made, drawn with the `svg` crate. One row per component (its region beside its id), in
//! the order the components started: a pale bar while it waited (for its dependencies, then
//! for a parallelism slot), a solid bar while it ran, coloured by outcome (failures red);
//! the run's critical path (the chain of components that decided when the run ended) marked
//! with ★ and a dark outline; a time axis in seconds. Components that did not run are listed
//! at the bottom with why.

use std::collections::BTreeMap;
use std::time::Duration;

use svg::node::element::{Line, Rectangle, Text, Title};
use svg::Document;
use tandem_core::executor::{ComponentOutcome, Outcome, Report};

/// One row's facts: the component's id, region, and the ids it waits for in this run
/// (dependencies for apply, dependents for destroy).
pub struct Row {
    pub id: String,
    pub region: String,
    pub upstream: Vec<String>,
}

const ROW_H: f64 = 18.0;
const LABEL_W: f64 = 300.0;
const CHART_W: f64 = 760.0;
const TOP: f64 = 40.0;

fn colour(o: &Outcome) -> &'static str {
    match o {
        Outcome::Created | Outcome::Updated | Outcome::Replaced => "#2e8b57",
        Outcome::Deleted => "#4169e1",
        Outcome::Unchanged => "#9e9e9e",
        Outcome::Failed { .. } => "#d32f2f",
        Outcome::Skipped { .. } | Outcome::NotStarted | Outcome::Unreachable { .. } => "#bdbdbd",
    }
}

fn what(o: &Outcome) -> String {
    match o {
        Outcome::Created => "created".into(),
        Outcome::Updated => "updated".into(),
        Outcome::Replaced => "replaced".into(),
        Outcome::Deleted => "deleted".into(),
        Outcome::Unchanged => "unchanged".into(),
        Outcome::Failed { error } => format!("FAILED: {error}"),
        Outcome::Skipped { reason } => format!("skipped: {reason}"),
        Outcome::NotStarted => "not started".into(),
        Outcome::Unreachable { region } => format!("not run: {region} does not answer"),
    }
}

/// The run's critical path: from the component that ended last, back through the upstream
/// component that ended last before it started, to one that waited for nothing.
pub fn run_critical_path(report: &Report, rows: &[Row]) -> Vec<String> {
    let ran: BTreeMap<&str, (Duration, Duration)> =
        report.outcomes.iter().filter_map(|o| Some((o.id.as_str(), (o.started_at?, o.ended_at?)))).collect();
    let upstream: BTreeMap<&str, &[String]> = rows.iter().map(|r| (r.id.as_str(), r.upstream.as_slice())).collect();
    let Some((mut at, _)) = ran.iter().max_by_key(|(id, (_, end))| (*end, std::cmp::Reverse(**id))).map(|(id, t)| (*id, *t)) else {
        return Vec::new();
    };
    let mut path = vec![at.to_string()];
    // Bounded: each step moves to a component that ended earlier, so at most one per component.
    for _ in 0..ran.len() {
        let start = ran[at].0;
        let before = upstream
            .get(at)
            .into_iter()
            .flat_map(|u| u.iter())
            .filter_map(|u| ran.get(u.as_str()).map(|t| (u.as_str(), *t)))
            .filter(|(_, (_, end))| *end <= start)
            .max_by_key(|(id, (_, end))| (*end, std::cmp::Reverse(*id)));
        match before {
            Some((u, _)) => {
                path.push(u.to_string());
                at = u;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

/// A round step for the time axis of a run of `total`.
fn tick_step(total: f64) -> f64 {
    let raw = (total / 8.0).max(0.001);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag)
}

/// The chart of `report` as an SVG document.
pub fn svg(report: &Report, rows: &[Row], title: &str) -> String {
    let region: BTreeMap<&str, &str> = rows.iter().map(|r| (r.id.as_str(), r.region.as_str())).collect();
    let mut ran: Vec<&ComponentOutcome> = report.outcomes.iter().filter(|o| o.started_at.is_some() && o.ended_at.is_some()).collect();
    ran.sort_by_key(|o| (o.started_at, o.id.clone()));
    let idle: Vec<&ComponentOutcome> = report.outcomes.iter().filter(|o| o.started_at.is_none()).collect();
    let critical = run_critical_path(report, rows);
    let total = report.wall.as_secs_f64().max(ran.iter().filter_map(|o| o.ended_at).map(|d| d.as_secs_f64()).fold(0.0, f64::max)).max(0.001);
    let x = |t: f64| LABEL_W + t / total * CHART_W;
    let height = TOP + ROW_H * (ran.len() + idle.len()) as f64 + 50.0;
    let width = LABEL_W + CHART_W + 20.0;

    let mut doc = Document::new()
        .set("viewBox", (0, 0, width, height))
        .set("width", width)
        .set("height", height)
        .set("font-family", "Helvetica, Arial, sans-serif")
        .set("font-size", 11);
    doc = doc.add(Rectangle::new().set("width", "100%").set("height", "100%").set("fill", "white"));
    doc = doc.add(
        Text::new(format!("{title}: {:.1} s; ★ critical path ({} components)", total, critical.len()))
            .set("x", 10)
            .set("y", 18)
            .set("font-size", 13)
            .set("font-weight", "bold"),
    );

    // Time axis with grid lines.
    let step = tick_step(total);
    let axis_y = TOP + ROW_H * ran.len() as f64 + 4.0;
    let mut t = 0.0;
    for _ in 0..=20 {
        if t > total + 1e-9 {
            break;
        }
        doc = doc
            .add(Line::new().set("x1", x(t)).set("x2", x(t)).set("y1", TOP - 4.0).set("y2", axis_y).set("stroke", "#e0e0e0"))
            .add(Text::new(if step >= 1.0 { format!("{t:.0} s") } else { format!("{t:.1} s") }).set("x", x(t)).set("y", axis_y + 14.0).set("text-anchor", "middle").set("fill", "#616161"));
        t += step;
    }

    for (n, o) in ran.iter().enumerate() {
        let y = TOP + ROW_H * n as f64;
        let (start, end) = (o.started_at.unwrap_or_default().as_secs_f64(), o.ended_at.unwrap_or_default().as_secs_f64());
        let on_path = critical.iter().any(|c| c == &o.id);
        let label = format!("{}{} ({})", if on_path { "★ " } else { "" }, o.id, region.get(o.id.as_str()).copied().unwrap_or("?"));
        doc = doc.add(Text::new(label).set("x", 10).set("y", y + 13.0).set("font-weight", if on_path { "bold" } else { "normal" }));
        // Waiting: from the start of the run (dependencies, then a parallelism slot).
        if start > 0.0 {
            doc = doc.add(
                Rectangle::new()
                    .set("x", x(0.0))
                    .set("y", y + 4.0)
                    .set("width", x(start) - x(0.0))
                    .set("height", ROW_H - 8.0)
                    .set("fill", "#eceff1")
                    .add(Title::new(format!("{}: waiting {:.1} s", o.id, start))),
            );
        }
        let mut bar = Rectangle::new()
            .set("x", x(start))
            .set("y", y + 2.0)
            .set("width", (x(end) - x(start)).max(1.0))
            .set("height", ROW_H - 4.0)
            .set("fill", colour(&o.outcome))
            .add(Title::new(format!("{}: {} after {:.1} s (ran {:.1}–{:.1} s)", o.id, what(&o.outcome), end - start, start, end)));
        if on_path {
            bar = bar.set("stroke", "#212121").set("stroke-width", 1.5);
        }
        doc = doc.add(bar);
    }

    let below = axis_y + 34.0;
    for (n, o) in idle.iter().enumerate() {
        doc = doc.add(
            Text::new(format!("{} ({}): {}", o.id, region.get(o.id.as_str()).copied().unwrap_or("?"), what(&o.outcome)))
                .set("x", 10)
                .set("y", below + ROW_H * n as f64)
                .set("fill", "#757575"),
        );
    }
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(id: &str, outcome: Outcome, start_ms: u64, end_ms: u64) -> ComponentOutcome {
        ComponentOutcome {
            id: id.into(),
            outcome,
            elapsed: Duration::from_millis(end_ms - start_ms),
            started_at: Some(Duration::from_millis(start_ms)),
            ended_at: Some(Duration::from_millis(end_ms)),
        }
    }

    fn row(id: &str, region: &str, upstream: &[&str]) -> Row {
        Row { id: id.into(), region: region.into(), upstream: upstream.iter().map(|s| s.to_string()).collect() }
    }

    fn sample() -> (Report, Vec<Row>) {
        let report = Report {
            outcomes: vec![
                ran("network-primary", Outcome::Created, 0, 2_000),
                ran("aurora-primary", Outcome::Created, 2_000, 9_000),
                ran("dashboard", Outcome::Failed { error: "AccessDenied <&>".into() }, 0, 500),
                ran("aurora-secondary", Outcome::Created, 9_000, 15_000),
                ran("table", Outcome::Created, 100, 3_000),
                ComponentOutcome {
                    id: "alarms".into(),
                    outcome: Outcome::Skipped { reason: "dependency dashboard failed".into() },
                    elapsed: Duration::ZERO,
                    started_at: None,
                    ended_at: None,
                },
            ],
            wall: Duration::from_millis(15_050),
            interrupted: false,
        };
        let rows = vec![
            row("network-primary", "us-east-1", &[]),
            row("aurora-primary", "us-east-1", &["network-primary"]),
            row("aurora-secondary", "us-east-2", &["aurora-primary", "table"]),
            row("table", "us-east-1", &[]),
            row("dashboard", "us-east-1", &[]),
            row("alarms", "us-east-1", &["dashboard"]),
        ];
        (report, rows)
    }

    #[test]
    fn the_critical_path_is_the_chain_that_ended_last() {
        let (report, rows) = sample();
        assert_eq!(run_critical_path(&report, &rows), vec!["network-primary", "aurora-primary", "aurora-secondary"]);
        assert!(run_critical_path(&Report { outcomes: vec![], wall: Duration::ZERO, interrupted: false }, &rows).is_empty());
    }

    #[test]
    fn the_chart_has_a_row_per_component_failures_in_red_and_the_path_marked() {
        let (report, rows) = sample();
        let s = svg(&report, &rows, "apply of stack 't1'");
        assert!(s.starts_with("<svg"), "{s}");
        assert!(s.contains("★ critical path (3 components)"), "{s}");
        for (id, region) in [("aurora-primary", "us-east-1"), ("aurora-secondary", "us-east-2")] {
            assert!(s.contains(&format!("★ {id} ({region})")), "{id}: {s}");
        }
        assert!(s.contains("\ntable (us-east-1)\n"), "not on the path: {s}");
        assert_eq!(s.matches("fill=\"#d32f2f\"").count(), 1, "one failure in red: {s}");
        assert_eq!(s.matches("fill=\"#2e8b57\"").count(), 4, "four created: {s}");
        assert!(s.contains("FAILED: AccessDenied &lt;&amp;&gt;"), "escaped tooltip: {s}");
        assert!(s.contains("alarms (us-east-1): skipped: dependency dashboard failed"), "{s}");
        // Waiting bars for the components that did not start at once, and a time axis.
        assert!(s.contains("aurora-secondary: waiting 9.0 s"), "{s}");
        assert!(s.contains("\n0 s\n") && s.contains("\n10 s\n"), "axis: {s}");
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(tick_step(15.0), 2.0);
        assert_eq!(tick_step(3000.0), 500.0);
        assert_eq!(tick_step(0.5), 0.1);
    }
}
