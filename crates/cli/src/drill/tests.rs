//! The drill against an in-memory world with programmed delays, in paused tokio time: the
//! measured times are exact, every change is put back, and the journal ends empty.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tandem_core::config::Config;
use tandem_core::contracts::*;
use tandem_core::{AwsError, Placement};
use tandem_data::aurora_failover::WriterMove;
use tokio::time::Instant;

use super::journal::{Change, Journal};
use super::report::{self, Figure, Layer, Outcome, Verdict};
use super::world::{AlarmView, StatusMinute, World};
use super::*;
use crate::failover::Datum;
use crate::status::Writer;

const P: &str = "us-east-1";
const S: &str = "us-east-2";
const NLB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/p/1";
const GROUP: &str = "arn:aws:globalaccelerator::1:accelerator/a/listener/l/endpoint-group/p";
const ACC: &str = "arn:aws:globalaccelerator::1:accelerator/a";
const ALARM: &str = "alarm-primary-down-secondary-t1";

/// Delays of the fake world, from the change that starts them.
#[derive(Clone)]
struct Delays {
    item: Duration,
    /// None: the object never reaches the secondary.
    object: Option<Duration>,
    health: Duration,
    events: Duration,
    accelerator: Duration,
    alarm_ok: Duration,
    writer: Duration,
}

impl Default for Delays {
    fn default() -> Self {
        Delays {
            item: Duration::from_secs(2),
            object: Some(Duration::from_secs(7)),
            health: Duration::from_secs(30),
            events: Duration::from_secs(45),
            accelerator: Duration::from_secs(20),
            alarm_ok: Duration::from_secs(10),
            writer: Duration::from_secs(60),
        }
    }
}

#[derive(Default)]
struct State {
    items: BTreeMap<String, Instant>,
    items_gone: BTreeSet<(String, String)>,
    objects: BTreeMap<String, Instant>,
    objects_gone: BTreeSet<(String, String)>,
    params: BTreeMap<(String, String), String>,
    /// The last PrimaryDown value published, and when.
    decision: Option<(f64, Instant)>,
    actions_enabled: BTreeMap<String, bool>,
    watches: BTreeSet<(String, String)>,
    arrived: Vec<(String, String)>,
    weights: Vec<(String, i32)>,
    weights_changed: Option<Instant>,
    writer: Option<(Placement, Instant)>,
    calls: Vec<String>,
}

struct Fake {
    custom: Option<String>,
    d: Delays,
    s: Mutex<State>,
}

impl Fake {
    fn new(d: Delays) -> Self {
        let mut st = State { weights: vec![(NLB.to_string(), 128), ("arn:nlb/s".to_string(), 128)], ..Default::default() };
        st.actions_enabled.insert(ALARM.into(), true);
        st.actions_enabled.insert("alarm-failed-over-secondary-t1".into(), true);
        Fake { custom: Some("http://127.0.0.1:9".into()), d, s: Mutex::new(st) }
    }
    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.s.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn call(&self, c: String) {
        self.st().calls.push(c);
    }
    /// The decision in force for `delay`: Some(true) primary down, Some(false) up.
    fn down_for(&self, delay: Duration) -> bool {
        match self.st().decision {
            Some((v, at)) if v >= 1.0 => at.elapsed() >= delay,
            Some((_, at)) => at.elapsed() < delay,
            None => false,
        }
    }
}

#[async_trait]
impl World for Fake {
    fn custom_endpoint(&self) -> Option<String> {
        self.custom.clone()
    }
    fn regions(&self) -> Vec<String> {
        vec![S.into(), P.into()]
    }
    async fn put_item(&self, region: &str, _: &str, key: &str, _: i64) -> Result<(), AwsError> {
        assert_eq!(region, P);
        self.st().items.insert(key.into(), Instant::now());
        Ok(())
    }
    async fn item_exists(&self, region: &str, _: &str, key: &str) -> Result<bool, AwsError> {
        let st = self.st();
        Ok(!st.items_gone.contains(&(region.into(), key.into())) && st.items.get(key).is_some_and(|t| t.elapsed() >= self.d.item))
    }
    async fn delete_item(&self, region: &str, _: &str, key: &str) -> Result<(), AwsError> {
        self.st().items_gone.insert((region.into(), key.into()));
        Ok(())
    }
    async fn put_object(&self, _: &str, _: &str, key: &str, _: Vec<u8>) -> Result<(), AwsError> {
        self.st().objects.insert(key.into(), Instant::now());
        Ok(())
    }
    async fn object_exists(&self, region: &str, _: &str, key: &str) -> Result<bool, AwsError> {
        let st = self.st();
        Ok(!st.objects_gone.contains(&(region.into(), key.into())) && st.objects.get(key).is_some_and(|t| self.d.object.is_some_and(|d| t.elapsed() >= d)))
    }
    async fn delete_object_versions(&self, region: &str, _: &str, key: &str) -> Result<usize, AwsError> {
        self.st().objects_gone.insert((region.into(), key.into()));
        Ok(1)
    }
    async fn get_parameter(&self, region: &str, name: &str) -> Result<Option<String>, AwsError> {
        Ok(self.st().params.get(&(region.into(), name.into())).cloned())
    }
    async fn put_parameter(&self, region: &str, name: &str, value: &str) -> Result<(), AwsError> {
        self.call(format!("put {name}={value}"));
        self.st().params.insert((region.into(), name.into()), value.into());
        Ok(())
    }
    async fn delete_parameter(&self, region: &str, name: &str) -> Result<(), AwsError> {
        self.call(format!("delete {name}"));
        self.st().params.remove(&(region.into(), name.into()));
        Ok(())
    }
    async fn put_decision(&self, region: &str, _: &str, data: &[Datum]) -> Result<(), AwsError> {
        assert_eq!(region, S, "the decision lives in the secondary region");
        let v = data.iter().filter(|d| d.metric == failover_metrics::PRIMARY_DOWN).map(|d| d.value).fold(0.0, f64::max);
        self.call(format!("decision {v}"));
        self.st().decision = Some((v, Instant::now()));
        Ok(())
    }
    async fn health_status(&self, _: &str, _: SystemTime) -> Result<Vec<StatusMinute>, AwsError> {
        let v = if self.down_for(self.d.health) { 0.0 } else { 1.0 };
        Ok(vec![StatusMinute { at: SystemTime::now() + Duration::from_secs(3600), minimum: v, maximum: v }])
    }
    async fn alarms(&self, _: &str, names: &[String]) -> Result<Vec<AlarmView>, AwsError> {
        let state = if self.down_for(self.d.alarm_ok) { "ALARM" } else { "OK" };
        let st = self.st();
        Ok(names.iter().map(|n| AlarmView { name: n.clone(), state: state.into(), actions_enabled: st.actions_enabled.get(n).copied().unwrap_or(true) }).collect())
    }
    async fn alarms_in_alarm(&self, _: &str) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }
    async fn set_alarm_actions(&self, _: &str, names: &[String], enabled: bool) -> Result<(), AwsError> {
        self.call(format!("actions {enabled}"));
        let mut st = self.st();
        for n in names {
            st.actions_enabled.insert(n.clone(), enabled);
        }
        Ok(())
    }
    async fn latest_average(&self, _: &str, _: &str, _: &str, _: &[(&str, String)]) -> Result<Option<f64>, AwsError> {
        Ok(Some(850.0))
    }
    async fn endpoint_id(&self, _: &str, _: &str) -> Result<Option<String>, AwsError> {
        Ok(Some("ep.id".into()))
    }
    async fn create_watch(&self, region: &str, _: &str, name: &str) -> Result<(), AwsError> {
        self.st().watches.insert((region.into(), name.into()));
        Ok(())
    }
    async fn watch_seen(&self, region: &str, _: &str, marker: &str) -> Result<bool, AwsError> {
        Ok(self.st().arrived.contains(&(region.into(), marker.into())))
    }
    async fn delete_watch(&self, region: &str, _: &str, name: &str) -> Result<(), AwsError> {
        self.st().watches.remove(&(region.to_string(), name.to_string()));
        Ok(())
    }
    async fn send_event(&self, _: &str, _: &str, marker: &str) -> Result<(), AwsError> {
        let to = if self.down_for(self.d.events) { S } else { P };
        self.st().arrived.push((to.into(), marker.into()));
        Ok(())
    }
    async fn endpoint_weights(&self, _: &str) -> Result<Vec<(String, i32)>, AwsError> {
        Ok(self.st().weights.clone())
    }
    async fn set_endpoint_weights(&self, _: &str, weights: &[(String, i32)]) -> Result<(), AwsError> {
        self.call(format!("weights {weights:?}"));
        let mut st = self.st();
        st.weights = weights.to_vec();
        st.weights_changed = Some(Instant::now());
        Ok(())
    }
    async fn accelerator_status(&self, _: &str) -> Result<Option<String>, AwsError> {
        let deployed = self.st().weights_changed.is_none_or(|t| t.elapsed() >= self.d.accelerator);
        Ok(Some(if deployed { "DEPLOYED" } else { "IN_PROGRESS" }.into()))
    }
    async fn resolve(&self, host: &str) -> Result<Vec<std::net::IpAddr>, AwsError> {
        assert!(self.custom.is_none(), "no DNS on a custom endpoint: resolve({host}) must not be called");
        let (p, s): (std::net::IpAddr, std::net::IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        Ok(match host {
            "d-p.execute-api.us-east-1.amazonaws.com" => vec![[10, 1, 0, 1].into()],
            "d-s.execute-api.us-east-2.amazonaws.com" => vec![[10, 1, 0, 2].into()],
            "primary.cluster" => vec![p],
            "secondary.cluster" => vec![s],
            // The global writer endpoint follows 5 s after the switchover completes.
            "g" => match self.st().writer {
                Some((Placement::Secondary, at)) if at.elapsed() >= self.d.writer + Duration::from_secs(5) => vec![s],
                _ => vec![p],
            },
            other => panic!("unexpected host {other}"),
        })
    }
    async fn zone_name_servers(&self, zone: &str) -> Result<Vec<String>, AwsError> {
        assert!(self.custom.is_none(), "no DNS on a custom endpoint");
        assert_eq!(zone, "Z1");
        Ok(vec!["ns-1.awsdns-01.org".into()])
    }
    async fn authoritative_a(&self, server: &str, name: &str) -> Result<Vec<std::net::IpAddr>, AwsError> {
        assert_eq!((server, name), ("ns-1.awsdns-01.org", "api.example.test"));
        // The zone answers with the secondary 50 s after the decision (health + TTL).
        let to_secondary = self.down_for(Duration::from_secs(50));
        Ok(vec![if to_secondary { [10, 1, 0, 2].into() } else { [10, 1, 0, 1].into() }])
    }
    async fn https_get_via(&self, url: &str, via: &str) -> Result<(u16, String), AwsError> {
        assert!(self.custom.is_none(), "no anycast on a custom endpoint: GET {url} must not be called");
        assert_eq!((url, via), ("https://api.example.test/health", "a.awsglobalaccelerator.com"));
        // New connections land in the secondary 3 s after the accelerator deployed the drain.
        let st = self.st();
        let drained = st.weights.iter().any(|(id, w)| id == NLB && *w == 0) && st.weights_changed.is_some_and(|t| t.elapsed() >= self.d.accelerator + Duration::from_secs(3));
        Ok((200, serde_json::json!({"region": if drained { S } else { P }, "status": "ok"}).to_string()))
    }
    async fn writer(&self, region: &str) -> Result<Option<Writer>, AwsError> {
        let (role, state) = match self.st().writer {
            None => ("primary", None),
            Some((to, at)) if at.elapsed() < self.d.writer => (if to == Placement::Primary { "secondary" } else { "primary" }, Some("switching-over".to_string())),
            Some((to, _)) => (if to == Placement::Primary { "primary" } else { "secondary" }, None),
        };
        Ok(Some(Writer { global_cluster: "g".into(), writer: Some(format!("arn:{role}")), role: Some(role.into()), failover_state: state, read_through: region.into() }))
    }
    async fn switch_over(&self, to: Placement) -> Result<WriterMove, String> {
        self.call(format!("switchover {to:?}"));
        self.st().writer = Some((to, Instant::now()));
        Ok(WriterMove { global_cluster: "g".into(), from: None, to: format!("{to:?}"), through_region: S.into(), planned: true, changed: true })
    }
    async fn controller_dry_run(&self, _: &str, _: &str) -> Result<(String, String), AwsError> {
        Ok(("hold:alarm-not-in-alarm".into(), "the decision alarm is OK".into()))
    }
}

fn targets() -> Targets {
    Targets {
        table: Some(TableOutputs { table_name: "table-t1".into(), table_arn: "arn:t".into(), stream_arn: "arn:s".into(), replica_regions: vec![S.into()] }),
        buckets: Some((
            BucketOutputs { bucket_name: "bucket-primary-t1".into(), bucket_arn: "arn:bp".into(), replication_role_arn: None, replication_rule_id: None },
            BucketOutputs { bucket_name: "bucket-secondary-t1".into(), bucket_arn: "arn:bs".into(), replication_role_arn: None, replication_rule_id: None },
        )),
        parameters_path: Some("/tandem/t1/".into()),
        health_primary: Some(HealthOutputs {
            api_check_id: "hc-api".into(),
            api_check_arn: "arn:hc-api".into(),
            nlb_check_id: "hc-nlb".into(),
            nlb_check_arn: "arn:hc-nlb".into(),
            decision_check_id: Some("hc-decision".into()),
            failover_check_id: Some("hc-failover".into()),
            failover_check_arn: None,
        }),
        dns: Some(FailoverOutputs { hosted_zone_id: "Z1".into(), record_name: "api.example.test".into() }),
        api_targets: Some(("d-p.execute-api.us-east-1.amazonaws.com".into(), "d-s.execute-api.us-east-2.amazonaws.com".into())),
        endpoint: Some(EventEndpointOutputs { endpoint_name: "ep-t1".into(), endpoint_arn: "arn:ep".into(), endpoint_url: "https://ep".into() }),
        buses: Some((
            EventBusOutputs { bus_name: "bus-t1".into(), bus_arn: "arn:b1".into(), rule_arn: "arn:r1".into() },
            EventBusOutputs { bus_name: "bus-t1".into(), bus_arn: "arn:b2".into(), rule_arn: "arn:r2".into() },
        )),
        accelerator: Some(AcceleratorOutputs {
            accelerator_arn: ACC.into(),
            dns_name: "a.awsglobalaccelerator.com".into(),
            static_ips: vec!["192.0.2.1".into()],
            listener_arn: "arn:l".into(),
            endpoint_group_arns: [(P.to_string(), GROUP.to_string())].into(),
        }),
        nlb_primary: Some(serde_json::from_value(serde_json::json!({
            "nlb_arn": NLB, "nlb_dns_name": "n", "nlb_zone_id": "z", "nlb_target_group_arn": "t",
            "alb_arn": "a", "alb_dns_name": "d", "alb_target_group_arn": "g"
        })).expect("lb outputs")),
        aurora: Some((aurora("primary"), aurora("secondary"))),
        controller: Some(serde_json::from_value(serde_json::json!({
            "region": S, "probe_function_name": "probe", "probe_function_arn": "arn:probe",
            "failover_function_name": "failover-secondary-t1", "failover_function_arn": "arn:f",
            "schedule_rule_name": "probe-schedule-t1", "automatic": true
        })).expect("controller outputs")),
        decision_alarm: Some(ALARM.into()),
    }
}

fn aurora(role: &str) -> AuroraOutputs {
    serde_json::from_value(serde_json::json!({
        "global_cluster_id": "aurora-global-t1", "cluster_id": format!("aurora-{role}-t1"), "cluster_arn": format!("arn:{role}"),
        "writer_endpoint": format!("{role}.cluster"), "reader_endpoint": "r", "instance_id": "i", "port": 5432, "password_parameter": null,
        "global_writer_endpoint": "g"
    }))
    .expect("aurora outputs")
}

fn short() -> Timeouts {
    Timeouts {
        item: Duration::from_secs(60),
        object: Duration::from_secs(120),
        parameter: Duration::from_secs(60),
        health: Duration::from_secs(300),
        events: Duration::from_secs(300),
        accelerator: Duration::from_secs(300),
        alarm_ok: Duration::from_secs(300),
        writer: Duration::from_secs(600),
        poll: Duration::from_secs(1),
    }
}

fn secs(steps: &[report::Step], id: &str) -> Option<f64> {
    steps.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("no step {id} in {steps:#?}")).outcome.secs()
}

fn outcome<'a>(steps: &'a [report::Step], id: &str) -> &'a Outcome {
    &steps.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("no step {id}")).outcome
}

#[tokio::test(start_paused = true)]
async fn on_aws_the_accelerator_landing_the_writer_endpoint_and_the_controller_are_measured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut world = Fake::new(Delays::default());
    world.custom = None;
    let (steps, journal) = full_drill(&world, dir.path()).await;
    let near = |id: &str, want: f64| {
        let got = secs(&steps, id).unwrap_or_else(|| panic!("{id} has no time: {:?}", outcome(&steps, id)));
        assert!((want..=want + 2.5).contains(&got), "{id}: {got} s, wanted about {want} s");
    };
    near("accelerator.lands", 23.0);
    near("traffic.dns", 50.0);
    // The way back: the decision's undo waits for the next minute, so only bounded here.
    assert!(outcome(&steps, "traffic.dns-back").passed(), "{:?}", outcome(&steps, "traffic.dns-back"));
    near("database.endpoint", 65.0);
    assert!(outcome(&steps, "database.controller").passed(), "{:?}", outcome(&steps, "database.controller"));
    assert!(journal.pending().is_empty());
    let r = report::build("t1", "AWS", steps, 0.0);
    let acc = r.layers.iter().find(|l| l.layer == Layer::Accelerator).expect("accelerator layer");
    assert!(matches!(&acc.rto, Figure::Measured { secs, .. } if (23.0..25.5).contains(secs)), "{:?}", acc.rto);
    let db = r.layers.iter().find(|l| l.layer == Layer::Database).expect("database layer");
    assert!(matches!(&db.rto, Figure::Measured { secs, .. } if (65.0..67.5).contains(secs)), "{:?}", db.rto);
}

async fn full_drill(world: &Fake, dir: &std::path::Path) -> (Vec<report::Step>, Journal) {
    let cfg = Config::example("t1");
    let journal = Journal::start(&Journal::path_for(dir, "t1"), "t1").expect("journal");
    let mut drill = Drill { cfg: &cfg, world, targets: targets(), t: short(), journal, steps: Vec::new() };
    drill.data().await;
    drill.traffic().await;
    drill.database().await;
    (drill.steps, drill.journal)
}

#[tokio::test(start_paused = true)]
async fn every_layer_is_timed_exactly_and_everything_is_put_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = Fake::new(Delays::default());
    let (steps, journal) = full_drill(&world, dir.path()).await;
    // Each figure within one poll (1 s) of the programmed delay.
    let near = |id: &str, want: f64| {
        let got = secs(&steps, id).unwrap_or_else(|| panic!("{id} has no time: {:?}", outcome(&steps, id)));
        assert!((want..=want + 1.5).contains(&got), "{id}: {got} s, wanted about {want} s");
    };
    near("data.dynamodb", 2.0);
    near("data.s3", 7.0);
    near("traffic.health", 30.0);
    near("traffic.events", 45.0);
    near("accelerator.deployed", 20.0);
    near("accelerator.deployed-back", 20.0);
    near("database.writer", 60.0);
    assert_eq!(secs(&steps, "database.lag"), Some(0.85), "RPO from AuroraGlobalDBReplicationLag (ms → s)");
    // Not measurable on the custom endpoint: said, never a number.
    for id in ["data.ssm", "traffic.dns", "traffic.dns-back", "accelerator.lands", "database.controller", "database.endpoint"] {
        assert!(matches!(outcome(&steps, id), Outcome::NotMeasurable { .. }), "{id}: {:?}", outcome(&steps, id));
    }
    let r = report::build("t1", "http://127.0.0.1:9", steps.clone(), 0.0);
    assert_eq!(r.verdict, Verdict::PassedWithGaps, "{}", report::text(&r));
    let data = r.layers.iter().find(|l| l.layer == Layer::Data).expect("data layer");
    assert!(matches!(&data.rpo, Figure::AtLeast { secs, missing, .. } if (7.0..8.5).contains(secs) && missing.len() == 1), "{:?}", data.rpo);
    let db = r.layers.iter().find(|l| l.layer == Layer::Database).expect("database layer");
    assert_eq!(db.rpo, Figure::Measured { secs: 0.85, from: vec!["database.lag".into()] });
    // Everything put back: journal empty, flags absent, weights, actions, writer, watches.
    assert!(journal.pending().is_empty(), "{:?}", journal.entries);
    let st = world.st();
    assert!(st.params.is_empty(), "{:?}", st.params);
    assert_eq!(st.weights, vec![(NLB.to_string(), 128), ("arn:nlb/s".to_string(), 128)]);
    assert!(st.actions_enabled.values().all(|e| *e));
    assert!(st.watches.is_empty());
    assert!(matches!(st.writer, Some((Placement::Primary, _))));
    assert!(st.items_gone.contains(&(P.to_string(), st.items.keys().next().cloned().unwrap_or_default())));
    assert_eq!(st.objects_gone.len(), 2, "the object removed from both buckets");
    // Order: suppression before the decision, the decision before any way back, the forced
    // flag gone before PrimaryDown=0, the suppression flag last; actions disabled around
    // the switchover.
    let calls: Vec<&str> = st.calls.iter().map(String::as_str).collect();
    let pos = |c: &str| calls.iter().position(|x| x.starts_with(c)).unwrap_or_else(|| panic!("no call {c} in {calls:?}"));
    assert!(pos("put /tandem/t1/failover/suppressed=true") < pos("decision 1"));
    assert!(pos("put /tandem/t1/failover/forced=true") < pos("decision 1"));
    assert!(pos("decision 1") < pos("delete /tandem/t1/failover/forced"));
    assert!(pos("delete /tandem/t1/failover/forced") < pos("decision 0"));
    assert!(pos("decision 0") < pos("delete /tandem/t1/failover/suppressed"));
    assert!(pos("actions false") < pos("switchover Secondary"));
    assert!(pos("switchover Primary") < pos("actions true"));
}

#[tokio::test(start_paused = true)]
async fn an_object_that_never_arrives_fails_after_the_timeout_and_is_still_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = Fake::new(Delays { object: None, ..Delays::default() });
    let cfg = Config::example("t1");
    let journal = Journal::start(&Journal::path_for(dir.path(), "t1"), "t1").expect("journal");
    let mut drill = Drill { cfg: &cfg, world: &world, targets: targets(), t: short(), journal, steps: Vec::new() };
    drill.data().await;
    match outcome(&drill.steps, "data.s3") {
        Outcome::Failed { secs, reason } => {
            assert_eq!(*secs, Some(120.0));
            assert!(reason.contains("did not reach the secondary bucket within 120 s"), "{reason}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(outcome(&drill.steps, "data.s3-removed").passed());
    assert!(drill.journal.pending().is_empty());
    let (v, _) = report::verdict(&drill.steps);
    assert_eq!(v, Verdict::Failed);
}

#[tokio::test(start_paused = true)]
async fn restore_puts_back_prior_values_of_an_interrupted_drill_last_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = Fake::new(Delays::default());
    // The operator had set the suppression flag to "false" before; the drill set it true,
    // drained the primary and moved the writer, then was killed.
    let flag = failover_flags::suppressed("t1");
    world.st().params.insert((S.into(), flag.clone()), "true".into());
    world.st().weights = vec![(NLB.to_string(), 0), ("arn:nlb/s".to_string(), 128)];
    world.st().writer = Some((Placement::Secondary, Instant::now()));
    world.st().actions_enabled.insert(ALARM.into(), false);
    let path = Journal::path_for(dir.path(), "t1");
    let mut j = Journal::start(&path, "t1").expect("journal");
    j.record(Change::Flag { region: S.into(), name: flag.clone(), prior: Some("false".into()) }).expect("record");
    j.record(Change::Weights { group_arn: GROUP.into(), prior: vec![(NLB.to_string(), 128), ("arn:nlb/s".to_string(), 128)] }).expect("record");
    j.record(Change::AlarmActions { region: S.into(), alarms: vec![ALARM.into()] }).expect("record");
    j.record(Change::Writer { back_to: "primary".into() }).expect("record");
    let loaded = Journal::load(&path).expect("load").expect("journal on disk");
    let (steps, complete) = restore(&world, loaded, &short()).await;
    assert!(complete, "{steps:#?}");
    assert_eq!(steps.len(), 4);
    assert!(steps.iter().all(|s| s.outcome.passed() && s.layer == Layer::Restore), "{steps:#?}");
    assert!(steps[0].what.contains("Aurora writer"), "last change first: {}", steps[0].what);
    let st = world.st();
    assert_eq!(st.params.get(&(S.to_string(), flag)).map(String::as_str), Some("false"), "the prior value, not a deletion");
    assert_eq!(st.weights[0].1, 128);
    assert_eq!(st.actions_enabled.get(ALARM), Some(&true));
    assert!(matches!(st.writer, Some((Placement::Primary, _))));
    drop(st);
    assert!(Journal::load(&path).expect("load").is_none(), "the journal is removed once everything is put back");
}

mod preflight_checks {
    use super::*;
    use crate::status::{Controller, Health, Lag, Live, Report as StatusReport, Unreachable};
    use tandem_core::state::{ComponentState, StateDoc};
    use tandem_core::Drift;

    fn doc() -> StateDoc {
        let mut d = StateDoc::new("t1");
        d.components.insert("table".into(), ComponentState::new("data", Placement::Primary, P).into());
        d
    }

    fn healthy() -> StatusReport {
        let h = |region: &str| Health { region: region.into(), check: "api".into(), health_check_id: format!("hc-{region}"), status: "8/8 checkers healthy".into(), healthy: Some(true) };
        StatusReport {
            drift: [("table".to_string(), Ok(Drift::InSync))].into(),
            live: Live {
                health: vec![h(P), h(S)],
                replication: vec![Lag { what: "s3".into(), region: P.into(), metric: "ReplicationLatency".into(), value: Some(12.0), unit: "s".into() }],
                writer: Some(Writer { global_cluster: "g".into(), writer: Some("arn:p".into()), role: Some("primary".into()), failover_state: None, read_through: S.into() }),
                controller: Some(Controller { region: S.into(), alarms: Vec::new(), forced: Some(false), automatic: true }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn failures(steps: &[report::Step]) -> Vec<String> {
        steps.iter().filter_map(|s| match &s.outcome {
            Outcome::Failed { reason, .. } => Some(format!("{}: {reason}", s.id)),
            _ => None,
        }).collect()
    }

    #[test]
    fn a_healthy_stack_passes() {
        let cfg = Config::example("t1");
        let steps = preflight(&cfg, &doc(), &healthy(), &BTreeMap::new(), None);
        assert!(failures(&steps).is_empty(), "{steps:#?}");
    }

    #[test]
    fn each_unhealthy_fact_is_named() {
        let cfg = Config::example("t1");
        let mut r = healthy();
        r.unreachable.push(Unreachable { region: S.into(), reason: "no answer".into(), components: Vec::new(), not_read: Vec::new(), control_planes: Vec::new() });
        r.drift.insert("dashboard".into(), Ok(Drift::Drifted { details: vec!["body differs".into()] }));
        r.live.health[1].healthy = Some(false);
        r.live.replication[0].value = Some(1200.0);
        if let Some(w) = r.live.writer.as_mut() {
            w.role = Some("secondary".into());
        }
        if let Some(c) = r.live.controller.as_mut() {
            c.forced = Some(true);
        }
        let alarms: BTreeMap<String, Vec<String>> = [(S.to_string(), vec!["alarm-errors-secondary-t1".to_string(), "someone-elses-alarm".to_string()])].into();
        let f = failures(&preflight(&cfg, &doc(), &r, &alarms, None));
        let all = f.join("\n");
        for want in ["preflight.regions: unreachable: us-east-2", "dashboard (body differs)", "preflight.health-secondary", "s3 ReplicationLatency = 1200 s (bound 900)", "switch over to the primary first", "failover/forced is set", "alarm-errors-secondary-t1 (us-east-2)"] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        assert!(!all.contains("someone-elses-alarm"), "alarms of other stacks are not ours: {all}");
    }

    #[test]
    fn the_blind_alarm_is_tolerated_only_where_no_lambda_runs() {
        let cfg = Config::example("t1");
        let blind = failover_alarms::blind("t1");
        let alarms: BTreeMap<String, Vec<String>> = [(S.to_string(), vec![blind.clone()])].into();
        assert!(failures(&preflight(&cfg, &doc(), &healthy(), &alarms, Some("http://127.0.0.1:5005"))).is_empty());
        let on_aws = failures(&preflight(&cfg, &doc(), &healthy(), &alarms, None));
        assert!(on_aws.iter().any(|f| f.contains(&blind)), "{on_aws:?}");
    }

    #[test]
    fn nothing_deployed_stops_at_once() {
        let cfg = Config::example("t1");
        let f = failures(&preflight(&cfg, &StateDoc::new("t1"), &healthy(), &BTreeMap::new(), None));
        assert_eq!(f.len(), 1);
        assert!(f[0].contains("run `tandem apply` first"), "{f:?}");
    }
}
