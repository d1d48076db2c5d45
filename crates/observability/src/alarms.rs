//! `alarms-{role}`: the region's CloudWatch metric alarms, each named
//! `alarm-<what>-{role}-{s}` and sending ALARM and OK notifications to the region's alert
//! topic (`alerts-{role}`; alarm actions must be in the alarm's region).
//!
//! | alarm | metric (namespace, dimensions) | rule |
//! |---|---|---|
//! | `alarm-health-api-{r}` / `alarm-health-nlb-{r}` | `AWS/Route53 HealthCheckStatus` (HealthCheckId) | Minimum < 1 for 2 of 2 minutes; missing data breaches |
//! | `alarm-aurora-lag-secondary` | `AWS/RDS AuroraGlobalDBReplicationLag` (DBClusterIdentifier of the secondary cluster) | Maximum > 1000 ms in 3 of 5 minutes |
//! | `alarm-table-lag-{role}` | `AWS/DynamoDB ReplicationLatency` (TableName, ReceivingRegion = the other region) | Average > 5000 ms in 3 of 5 minutes |
//! | `alarm-bucket-lag-primary` | `AWS/S3 ReplicationLatency` (SourceBucket, DestinationBucket, RuleId) | Maximum > 900 s (the 15-minute RTC objective) in 3 of 5 minutes |
//! | `alarm-api-errors-{role}` | `AWS/Lambda Errors` (FunctionName of the API handler) | Sum > 0 in a minute |
//! | `alarm-api-5xx-{role}` | `AWS/ApiGateway 5XXError` (ApiName = `api-{role}-{s}`, Stage) | Sum > 0 in a minute |
//!
//! Where each alarm lives:
//! - Route 53 publishes `HealthCheckStatus` in us-east-1 only, so the four health-check
//!   alarms (both regions' API and NLB checks) belong to the alarms component whose region
//!   is us-east-1 (the primary with the default regions); the role in their names is the
//!   role of the checked region. If neither region is us-east-1 no health alarm is made (an
//!   alarm's SNS action must be in its own region and no alert topic exists in us-east-1).
//! - Aurora reports `AuroraGlobalDBReplicationLag` on the secondary cluster: secondary only.
//! - DynamoDB reports `ReplicationLatency` in the sending region, per receiving region: both
//!   regions (the table is active-active).
//! - S3 reports replication metrics in the source region: primary only, and only when the
//!   bucket has a replication rule id.
//!
//! Error and lag metrics are published only when there is traffic, so missing data does
//! not breach; a health check always reports, so a missing status breaches.
//!
//! Apply describes the alarms (DescribeAlarms) and calls PutMetricAlarm only for missing or
//! differing ones; alarms recorded by a previous run and no longer wanted are deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{retry, ROUTE53_REGION};
use tandem_core::contracts::{
    failover_alarms, ids, AlarmsOutputs, AlertsOutputs, ApiOutputs, AuroraOutputs, BucketOutputs, ControllerOutputs,
    DecisionOutputs, FunctionsOutputs, HealthOutputs, TableOutputs,
};
use tandem_core::{naming, to_outputs, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Key, Outputs, Placement, Rule};

use crate::clients::{AlarmSpec, CloudWatchApi};
/// Journal keys are `alarm:<name>` (kept from earlier releases: state compatibility).
const KEY_PREFIX: &str = "alarm:";

/// The journal key of alarm `name`.
fn alarm_key(name: &str) -> Key {
    Key::owned(format!("{KEY_PREFIX}{name}"))
}

/// The thresholds (documented in the module header).
pub mod thresholds {
    /// Aurora global replication lag, milliseconds.
    pub const AURORA_LAG_MS: f64 = 1000.0;
    /// DynamoDB global table replication latency, milliseconds.
    pub const TABLE_LAG_MS: f64 = 5000.0;
    /// S3 replication latency, seconds (Replication Time Control objective: 15 minutes).
    pub const BUCKET_LAG_S: f64 = 900.0;
}

/// Everything the alarms are built from (the dependencies' outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmInputs {
    pub suffix: String,
    pub placement: Placement,
    /// The region the alarms live in.
    pub region: String,
    /// The other region of the stack.
    pub other_region: String,
    pub topic_arn: String,
    pub api_function_name: String,
    /// REST API name (`api-{role}-{s}`) and stage.
    pub api_name: String,
    pub stage_name: String,
    /// Health checks by role, when this component owns the health alarms.
    pub health: Vec<(Placement, HealthOutputs)>,
    /// The secondary Aurora cluster id (secondary only).
    pub aurora_cluster_id: Option<String>,
    pub table_name: Option<String>,
    /// (source bucket, destination bucket, rule id) (primary only).
    pub bucket_replication: Option<(String, String, String)>,
}

/// The alarm name `alarm-<what>-{role}-{s}`.
pub fn alarm_name(what: &str, role: Placement, suffix: &str) -> String {
    naming::name(&format!("alarm-{what}"), role, suffix)
}

struct Metric<'a> {
    what: &'a str,
    role: Placement,
    description: String,
    namespace: &'a str,
    metric: &'a str,
    dimensions: Vec<(&'a str, String)>,
    statistic: &'a str,
    comparison: &'a str,
    threshold: f64,
    evaluation_periods: i32,
    datapoints: i32,
    missing: &'a str,
}

fn spec(i: &AlarmInputs, m: Metric<'_>) -> AlarmSpec {
    let name = alarm_name(m.what, m.role, &i.suffix);
    AlarmSpec {
        tags: naming::tags(&i.suffix, &name),
        name,
        description: m.description,
        namespace: m.namespace.to_string(),
        metric_name: m.metric.to_string(),
        dimensions: m.dimensions.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        statistic: m.statistic.to_string(),
        period: 60,
        evaluation_periods: m.evaluation_periods,
        datapoints_to_alarm: m.datapoints,
        threshold: m.threshold,
        comparison_operator: m.comparison.to_string(),
        treat_missing_data: m.missing.to_string(),
        alarm_actions: vec![i.topic_arn.clone()],
        ok_actions: vec![i.topic_arn.clone()],
    }
}

/// The alarms of one region, built from its inputs (pure).
pub fn desired_alarms(i: &AlarmInputs) -> Vec<AlarmSpec> {
    let mut out = Vec::new();
    let s = i.suffix.as_str();
    for (role, h) in &i.health {
        for (what, check, target) in [("health-api", &h.api_check_id, "API"), ("health-nlb", &h.nlb_check_id, "NLB")] {
            out.push(spec(
                i,
                Metric {
                    what,
                    role: *role,
                    description: format!("Route 53 health check of the {role} {target} of stack {s} is failing"),
                    namespace: "AWS/Route53",
                    metric: "HealthCheckStatus",
                    dimensions: vec![("HealthCheckId", check.clone())],
                    statistic: "Minimum",
                    comparison: "LessThanThreshold",
                    threshold: 1.0,
                    evaluation_periods: 2,
                    datapoints: 2,
                    missing: "breaching",
                },
            ));
        }
    }
    if let Some(cluster) = &i.aurora_cluster_id {
        out.push(spec(
            i,
            Metric {
                what: "aurora-lag",
                role: i.placement,
                description: format!("Aurora global replication lag of {cluster} above {} ms", thresholds::AURORA_LAG_MS),
                namespace: "AWS/RDS",
                metric: "AuroraGlobalDBReplicationLag",
                dimensions: vec![("DBClusterIdentifier", cluster.clone())],
                statistic: "Maximum",
                comparison: "GreaterThanThreshold",
                threshold: thresholds::AURORA_LAG_MS,
                evaluation_periods: 5,
                datapoints: 3,
                missing: "notBreaching",
            },
        ));
    }
    if let Some(table) = &i.table_name {
        out.push(spec(
            i,
            Metric {
                what: "table-lag",
                role: i.placement,
                description: format!(
                    "DynamoDB replication latency of {table} from {} to {} above {} ms",
                    i.region,
                    i.other_region,
                    thresholds::TABLE_LAG_MS
                ),
                namespace: "AWS/DynamoDB",
                metric: "ReplicationLatency",
                dimensions: vec![("TableName", table.clone()), ("ReceivingRegion", i.other_region.clone())],
                statistic: "Average",
                comparison: "GreaterThanThreshold",
                threshold: thresholds::TABLE_LAG_MS,
                evaluation_periods: 5,
                datapoints: 3,
                missing: "notBreaching",
            },
        ));
    }
    if let Some((src, dst, rule)) = &i.bucket_replication {
        out.push(spec(
            i,
            Metric {
                what: "bucket-lag",
                role: i.placement,
                description: format!("S3 replication latency of {src} to {dst} above {} s (RTC objective)", thresholds::BUCKET_LAG_S),
                namespace: "AWS/S3",
                metric: "ReplicationLatency",
                dimensions: vec![("SourceBucket", src.clone()), ("DestinationBucket", dst.clone()), ("RuleId", rule.clone())],
                statistic: "Maximum",
                comparison: "GreaterThanThreshold",
                threshold: thresholds::BUCKET_LAG_S,
                evaluation_periods: 5,
                datapoints: 3,
                missing: "notBreaching",
            },
        ));
    }
    out.push(spec(
        i,
        Metric {
            what: "api-errors",
            role: i.placement,
            description: format!("Lambda function {} reports errors", i.api_function_name),
            namespace: "AWS/Lambda",
            metric: "Errors",
            dimensions: vec![("FunctionName", i.api_function_name.clone())],
            statistic: "Sum",
            comparison: "GreaterThanThreshold",
            threshold: 0.0,
            evaluation_periods: 1,
            datapoints: 1,
            missing: "notBreaching",
        },
    ));
    out.push(spec(
        i,
        Metric {
            what: "api-5xx",
            role: i.placement,
            description: format!("REST API {} stage {} returns 5xx errors", i.api_name, i.stage_name),
            namespace: "AWS/ApiGateway",
            metric: "5XXError",
            dimensions: vec![("ApiName", i.api_name.clone()), ("Stage", i.stage_name.clone())],
            statistic: "Sum",
            comparison: "GreaterThanThreshold",
            threshold: 0.0,
            evaluation_periods: 1,
            datapoints: 1,
            missing: "notBreaching",
        },
    ));
    out
}

/// What the failover controller's alarms are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerAlarmInputs {
    pub suffix: String,
    /// The secondary region's alert topic.
    pub topic_arn: String,
    /// The failover handler (the decision alarm's Lambda action).
    pub failover_function_arn: String,
    /// `[failover] probe_failures`: consecutive minutes of `PrimaryDown` = 1.
    pub probe_failures: u32,
}

/// The controller's three alarms (secondary region, `DR.md`):
/// - decision `alarm-primary-down-secondary-{s}`: `Tandem/Failover PrimaryDown` (Stack),
///   Maximum ≥ 1 in each of `probe_failures` one-minute periods; missing data is not a
///   failure. A single-metric, standard-resolution alarm with a Route 53-supported
///   statistic, so the PRIMARY record's CLOUDWATCH_METRIC check can watch it. Actions: the
///   failover handler and the topic ("primary down"); OK: the topic.
/// - blind `alarm-controller-blind-secondary-{s}`: `PrimaryHealthy` SampleCount < 1 in 3
///   consecutive minutes, missing data breaching (the probe stopped reporting).
/// - failed over `alarm-failed-over-secondary-{s}`: `FailedOver` Maximum ≥ 1 in a minute.
pub fn controller_alarms(i: &ControllerAlarmInputs) -> Vec<AlarmSpec> {
    use tandem_core::contracts::{failover_alarms, failover_metrics as m};
    let s = i.suffix.as_str();
    let topic = vec![i.topic_arn.clone()];
    let dims = vec![(m::DIMENSION.to_string(), s.to_string())];
    let alarm = |name: String, description: String, metric: &str, statistic: &str, comparison: &str, threshold: f64, periods: i32, missing: &str| {
        AlarmSpec {
            tags: naming::tags(s, &name),
            name,
            description,
            namespace: m::NAMESPACE.to_string(),
            metric_name: metric.to_string(),
            dimensions: dims.clone(),
            statistic: statistic.to_string(),
            period: 60,
            evaluation_periods: periods,
            datapoints_to_alarm: periods,
            threshold,
            comparison_operator: comparison.to_string(),
            treat_missing_data: missing.to_string(),
            alarm_actions: topic.clone(),
            ok_actions: topic.clone(),
        }
    };
    let n = i.probe_failures.max(1) as i32;
    let mut decision = alarm(
        failover_alarms::decision(s),
        format!("PRIMARY DOWN (stack {s}): the probe failed and Aurora replication from the primary stalled for {n} consecutive minutes, or an operator set the decision. DNS and events move to the secondary; the failover controller moves the database."),
        m::PRIMARY_DOWN,
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1.0,
        n,
        "notBreaching",
    );
    decision.alarm_actions = vec![i.failover_function_arn.clone(), i.topic_arn.clone()];
    let blind = alarm(
        failover_alarms::blind(s),
        format!("CONTROLLER BLIND (stack {s}): the failover probe has not reported for 3 minutes; no automatic failover can happen"),
        m::PRIMARY_HEALTHY,
        "SampleCount",
        "LessThanThreshold",
        1.0,
        3,
        "breaching",
    );
    let mut failed_over = alarm(
        failover_alarms::failed_over(s),
        format!("FAILED OVER (stack {s}): the Aurora writer moved to the secondary region"),
        m::FAILED_OVER,
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1.0,
        1,
        "notBreaching",
    );
    failed_over.ok_actions = Vec::new();
    vec![decision, blind, failed_over]
}

/// Which alarms an [`Alarms`] component manages.
#[derive(Debug, Clone, PartialEq)]
enum AlarmSet {
    /// `alarms-{role}`: the region's health, lag and error alarms.
    Regional,
    /// `failover-alarms`: the failover controller's alarms (secondary region).
    Controller { probe_failures: u32 },
}

/// The `alarms-{role}` component.
pub struct Alarms {
    id: String,
    placement: Placement,
    region: String,
    other_region: String,
    suffix: String,
    stage_name: String,
    set: AlarmSet,
    cw: Arc<dyn CloudWatchApi>,
}

impl Alarms {
    pub fn new(cfg: &Config, placement: Placement, cw: Arc<dyn CloudWatchApi>) -> Self {
        let other = if placement == Placement::Secondary { Placement::Primary } else { Placement::Secondary };
        Self {
            id: ids::alarms(placement),
            placement,
            region: cfg.region_of(placement).to_string(),
            other_region: cfg.region_of(other).to_string(),
            suffix: cfg.environment_suffix.clone(),
            stage_name: cfg.api.stage_name.clone(),
            set: AlarmSet::Regional,
            cw,
        }
    }

    /// The `failover-alarms` component: the controller's decision, blind and failed-over
    /// alarms in the secondary region ([`controller_alarms`]).
    pub fn controller(cfg: &Config, cw: Arc<dyn CloudWatchApi>) -> Self {
        let mut a = Self::new(cfg, Placement::Secondary, cw);
        a.id = ids::FAILOVER_ALARMS.to_string();
        a.set = AlarmSet::Controller { probe_failures: cfg.failover.probe_failures };
        a
    }

    /// The desired alarms, from the dependencies' outputs.
    pub fn specs(&self, ctx: &Ctx) -> Result<Vec<AlarmSpec>, ComponentError> {
        match self.set {
            AlarmSet::Regional => Ok(desired_alarms(&self.inputs(ctx)?)),
            AlarmSet::Controller { probe_failures } => {
                let alerts: AlertsOutputs = ctx.input(&ids::alerts(Placement::Secondary))?;
                let controller: ControllerOutputs = ctx.input(ids::CONTROLLER)?;
                Ok(controller_alarms(&ControllerAlarmInputs {
                    suffix: self.suffix.clone(),
                    topic_arn: alerts.topic_arn,
                    failover_function_arn: controller.failover_function_arn,
                    probe_failures,
                }))
            }
        }
    }

    fn outputs(&self, names: Vec<String>) -> Outputs {
        match self.set {
            AlarmSet::Regional => to_outputs(&AlarmsOutputs { alarm_names: names }),
            AlarmSet::Controller { .. } => to_outputs(&DecisionOutputs {
                region: self.region.clone(),
                decision_alarm_name: failover_alarms::decision(&self.suffix),
                blind_alarm_name: failover_alarms::blind(&self.suffix),
                failed_over_alarm_name: failover_alarms::failed_over(&self.suffix),
            }),
        }
    }

    /// True when this component creates the Route 53 health-check alarms (its region is
    /// where Route 53 publishes metrics).
    pub fn owns_health_alarms(&self) -> bool {
        self.set == AlarmSet::Regional && self.region == ROUTE53_REGION
    }

    fn label(&self) -> String {
        format!("alarms-{}-{}", self.placement, self.suffix)
    }

    /// Every alarm name this component may create, whatever its inputs (for destroy).
    pub fn candidate_names(&self) -> Vec<String> {
        let s = &self.suffix;
        if let AlarmSet::Controller { .. } = self.set {
            return vec![failover_alarms::decision(s), failover_alarms::blind(s), failover_alarms::failed_over(s)];
        }
        let mut names = Vec::new();
        if self.owns_health_alarms() {
            for role in [Placement::Primary, Placement::Secondary] {
                names.push(alarm_name("health-api", role, s));
                names.push(alarm_name("health-nlb", role, s));
            }
        }
        for what in ["aurora-lag", "table-lag", "bucket-lag", "api-errors", "api-5xx"] {
            names.push(alarm_name(what, self.placement, s));
        }
        names
    }

    /// Reads the dependencies' outputs into [`AlarmInputs`].
    pub fn inputs(&self, ctx: &Ctx) -> Result<AlarmInputs, ComponentError> {
        let p = self.placement;
        let alerts: AlertsOutputs = ctx.input(&ids::alerts(p))?;
        let functions: FunctionsOutputs = ctx.input(&ids::functions(p))?;
        let api: ApiOutputs = ctx.input(&ids::api(p))?;
        let health = if self.owns_health_alarms() {
            vec![
                (Placement::Primary, ctx.input::<HealthOutputs>(&ids::health(Placement::Primary))?),
                (Placement::Secondary, ctx.input::<HealthOutputs>(&ids::health(Placement::Secondary))?),
            ]
        } else {
            Vec::new()
        };
        let aurora_cluster_id = if p == Placement::Secondary {
            Some(ctx.input::<AuroraOutputs>(&ids::aurora(Placement::Secondary))?.cluster_id)
        } else {
            None
        };
        let table: TableOutputs = ctx.input(ids::TABLE)?;
        let bucket_replication = if p == Placement::Primary {
            let src: BucketOutputs = ctx.input(&ids::bucket(Placement::Primary))?;
            let dst: BucketOutputs = ctx.input(&ids::bucket(Placement::Secondary))?;
            src.replication_rule_id.map(|rule| (src.bucket_name, dst.bucket_name, rule))
        } else {
            None
        };
        Ok(AlarmInputs {
            suffix: self.suffix.clone(),
            placement: p,
            region: self.region.clone(),
            other_region: self.other_region.clone(),
            topic_arn: alerts.topic_arn,
            api_function_name: functions.api_function_name,
            api_name: naming::name("api", p, &self.suffix),
            stage_name: if api.stage_name.is_empty() { self.stage_name.clone() } else { api.stage_name },
            health,
            aurora_cluster_id,
            table_name: Some(table.table_name),
            bucket_replication,
        })
    }

    async fn describe(&self, names: Vec<String>) -> Result<BTreeMap<String, AlarmSpec>, ComponentError> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let label = self.label();
        let live = retry(|| self.cw.describe_alarms(names.clone())).await.at(&label, &self.region)?;
        Ok(live.into_iter().map(|a| (a.name.clone(), a)).collect())
    }

    /// Deletes `names` (those that exist, read in one call), each through the protocol.
    async fn delete(&self, ctx: &Ctx, names: Vec<String>) -> Result<(), ComponentError> {
        let live = self.describe(names.clone()).await?;
        for n in &names {
            let exists = live.contains_key(n);
            ctx.delete(
                &alarm_key(n),
                n,
                |_recorded| async move { Ok(if exists { vec![n.clone()] } else { Vec::new() }) },
                |name| self.cw.delete_alarms(vec![name]),
            )
            .await?;
        }
        if !live.is_empty() {
            tracing::info!(count = live.len(), region = %self.region, "deleted alarms");
        }
        Ok(())
    }

    async fn recorded_names(&self, ctx: &Ctx) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = ctx
            .keys()
            .await
            .into_iter()
            .filter_map(|k| k.as_str().strip_prefix(KEY_PREFIX).map(str::to_string))
            .collect();
        if let Some(prior) = ctx.prior_outputs::<AlarmsOutputs>() {
            names.extend(prior.alarm_names);
        }
        names
    }
}

#[async_trait::async_trait]
impl Component for Alarms {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "cloudwatch-alarms"
    }

    fn placement(&self) -> Placement {
        self.placement
    }

    fn region(&self) -> &str {
        &self.region
    }

    fn dependencies(&self) -> Vec<String> {
        if let AlarmSet::Controller { .. } = self.set {
            return vec![ids::CONTROLLER.to_string(), ids::alerts(Placement::Secondary)];
        }
        let p = self.placement;
        let mut deps = vec![ids::alerts(p), ids::functions(p), ids::api(p), ids::TABLE.to_string()];
        if self.owns_health_alarms() {
            deps.push(ids::health(Placement::Primary));
            deps.push(ids::health(Placement::Secondary));
        }
        match p {
            Placement::Secondary => deps.push(ids::aurora(Placement::Secondary)),
            _ => {
                deps.push(ids::bucket(Placement::Primary));
                deps.push(ids::bucket(Placement::Secondary));
            }
        }
        deps
    }

    fn output_type(&self) -> tandem_core::OutputType {
        match self.set {
            AlarmSet::Regional => tandem_core::OutputType::of::<AlarmsOutputs>(),
            AlarmSet::Controller { .. } => tandem_core::OutputType::of::<DecisionOutputs>(),
        }
    }

    fn expected_duration(&self) -> Duration {
        // Synchronous PutMetricAlarm calls.
        Duration::from_secs(15)
    }

    fn desired(&self) -> Desired {
        if let AlarmSet::Controller { probe_failures } = self.set {
            return Desired::new(
                json!({ "region": self.region, "suffix": self.suffix }),
                json!({ "alarms": self.candidate_names(), "probe_failures": probe_failures }),
            );
        }
        Desired::new(
            json!({ "region": self.region, "suffix": self.suffix }),
            json!({
                "alarms": self.candidate_names(),
                "owns_health_alarms": self.owns_health_alarms(),
                "stage": self.stage_name,
                "thresholds": {
                    "aurora_lag_ms": thresholds::AURORA_LAG_MS,
                    "table_lag_ms": thresholds::TABLE_LAG_MS,
                    "bucket_lag_s": thresholds::BUCKET_LAG_S,
                },
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let specs = self.specs(ctx)?;
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let live = self.describe(names.clone()).await?;
        for spec in &specs {
            let key = alarm_key(&spec.name);
            let put = || async { self.cw.put_metric_alarm(spec).await.map(|()| spec.name.clone()) };
            match live.get(&spec.name) {
                // In sync: no call.
                Some(have) if have.diff(spec).is_empty() => ctx.adopt(&key, &spec.name).await?,
                // PutMetricAlarm is an idempotent put of the whole alarm.
                Some(have) => {
                    tracing::info!(alarm = %spec.name, changes = ?have.diff(spec), "updating alarm");
                    ctx.update(&key, || async { retry(put).await.at(&spec.name, &self.region) }).await?;
                    ctx.adopt(&key, &spec.name).await?;
                }
                // A unique name: after a lost answer it is looked up by name.
                None => {
                    ctx.ensure::<String>(&key, &spec.name, Rule::Name)
                        .known_absent()
                        .find(|_| {
                            // Runs after an ambiguous create only (known_absent: the read above was the first look).
                            async move {
                                let now = self.cw.describe_alarms(vec![spec.name.clone()]).await?;
                                Ok(now.into_iter().filter(|a| a.name == spec.name).map(|a| a.name).collect())
                            }
                        })
                        .create(|_token| put())
                        .id(|n: &String| n.clone())
                        .run()
                        .await?;
                }
            }
        }
        let wanted: BTreeSet<&String> = names.iter().collect();
        let stale: Vec<String> = self.recorded_names(ctx).await.into_iter().filter(|n| !wanted.contains(n)).collect();
        if !stale.is_empty() {
            self.delete(ctx, stale).await?;
        }
        Ok(self.outputs(names))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let mut names: BTreeSet<String> = self.candidate_names().into_iter().collect();
        names.extend(self.recorded_names(ctx).await);
        self.delete(ctx, names.into_iter().collect()).await
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        // With the inputs at hand, compare the full definitions; otherwise check that the
        // recorded alarms exist.
        let wanted: Vec<AlarmSpec> = self.specs(ctx).unwrap_or_default();
        let mut names: BTreeSet<String> = wanted.iter().map(|s| s.name.clone()).collect();
        if wanted.is_empty() {
            names.extend(self.recorded_names(ctx).await);
        }
        if names.is_empty() {
            return Ok(Drift::Missing { details: vec![format!("no alarm recorded for {}", self.id)] });
        }
        let live = self.describe(names.iter().cloned().collect()).await?;
        if live.is_empty() {
            return Ok(Drift::Missing { details: vec![format!("none of the alarms of {} exists in {}", self.id, self.region)] });
        }
        let mut details: Vec<String> = names.iter().filter(|n| !live.contains_key(*n)).map(|n| format!("alarm {n} missing")).collect();
        for spec in &wanted {
            if let Some(have) = live.get(&spec.name) {
                details.extend(have.diff(spec));
            }
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::MockCloudWatchApi;
    use crate::test_support::{cfg, ctx_with_inputs, topic_arn, SUFFIX};
    use mockall::Sequence;
    use std::sync::Mutex;
    use tandem_core::state::ComponentState;
    use tandem_core::{from_outputs, AwsError};

    fn component(c: &Config, p: Placement, cw: MockCloudWatchApi) -> Alarms {
        Alarms::new(c, p, Arc::new(cw))
    }

    fn primary_specs() -> Vec<AlarmSpec> {
        let comp = component(&cfg(), Placement::Primary, MockCloudWatchApi::new());
        desired_alarms(&comp.inputs(&ctx_with_inputs("alarms-primary", "us-east-1")).expect("inputs"))
    }

    #[test]
    fn primary_in_us_east_1_owns_health_alarms_of_both_regions() {
        let specs = primary_specs();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "alarm-health-api-primary-t1",
                "alarm-health-nlb-primary-t1",
                "alarm-health-api-secondary-t1",
                "alarm-health-nlb-secondary-t1",
                "alarm-table-lag-primary-t1",
                "alarm-bucket-lag-primary-t1",
                "alarm-api-errors-primary-t1",
                "alarm-api-5xx-primary-t1",
            ]
        );
        let topic = topic_arn(Placement::Primary);
        for s in &specs {
            assert_eq!(s.alarm_actions, vec![topic.clone()], "{}", s.name);
            assert_eq!(s.ok_actions, vec![topic.clone()], "{}", s.name);
            assert!(s.tags.contains(&("tandem:stack".to_string(), SUFFIX.to_string())));
        }
        let health = &specs[2];
        assert_eq!((health.namespace.as_str(), health.metric_name.as_str()), ("AWS/Route53", "HealthCheckStatus"));
        assert_eq!(health.dimensions, vec![("HealthCheckId".to_string(), "hc-api-secondary".to_string())]);
        assert_eq!((health.comparison_operator.as_str(), health.threshold), ("LessThanThreshold", 1.0));
        let table = &specs[4];
        assert_eq!(
            table.dimensions,
            vec![("TableName".to_string(), "table-t1".to_string()), ("ReceivingRegion".to_string(), "us-east-2".to_string())]
        );
        let bucket = &specs[5];
        assert_eq!(
            bucket.dimensions,
            vec![
                ("SourceBucket".to_string(), "bucket-primary-t1".to_string()),
                ("DestinationBucket".to_string(), "bucket-secondary-t1".to_string()),
                ("RuleId".to_string(), "replicate-all".to_string()),
            ]
        );
        assert_eq!(specs[6].dimensions, vec![("FunctionName".to_string(), "api-primary-t1".to_string())]);
        assert_eq!(
            specs[7].dimensions,
            vec![("ApiName".to_string(), "api-primary-t1".to_string()), ("Stage".to_string(), "live".to_string())]
        );
        assert_eq!((specs[7].metric_name.as_str(), specs[7].comparison_operator.as_str(), specs[7].threshold), ("5XXError", "GreaterThanThreshold", 0.0));
    }

    #[test]
    fn secondary_has_aurora_lag_and_no_health_alarms() {
        let comp = component(&cfg(), Placement::Secondary, MockCloudWatchApi::new());
        assert!(!comp.owns_health_alarms());
        assert!(!comp.dependencies().iter().any(|d| d.starts_with("health-")));
        assert!(comp.dependencies().contains(&"aurora-secondary".to_string()));
        let specs = desired_alarms(&comp.inputs(&ctx_with_inputs("alarms-secondary", "us-east-2")).expect("inputs"));
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["alarm-aurora-lag-secondary-t1", "alarm-table-lag-secondary-t1", "alarm-api-errors-secondary-t1", "alarm-api-5xx-secondary-t1"]
        );
        let aurora = &specs[0];
        assert_eq!(aurora.metric_name, "AuroraGlobalDBReplicationLag");
        assert_eq!(aurora.dimensions, vec![("DBClusterIdentifier".to_string(), "aurora-secondary-t1".to_string())]);
        assert_eq!(aurora.threshold, thresholds::AURORA_LAG_MS);
        assert_eq!(specs[1].dimensions[1], ("ReceivingRegion".to_string(), "us-east-1".to_string()));
        for s in &specs {
            assert_eq!(s.alarm_actions, vec![topic_arn(Placement::Secondary)]);
        }
    }

    #[test]
    fn secondary_in_us_east_1_owns_health_alarms() {
        let mut c = cfg();
        c.primary_region = "us-west-2".into();
        c.secondary_region = "us-east-1".into();
        let sec = component(&c, Placement::Secondary, MockCloudWatchApi::new());
        let pri = component(&c, Placement::Primary, MockCloudWatchApi::new());
        assert!(sec.owns_health_alarms() && !pri.owns_health_alarms());
        assert!(sec.dependencies().contains(&"health-primary".to_string()));
        assert!(!pri.dependencies().iter().any(|d| d.starts_with("health-")));
    }

    #[test]
    fn no_bucket_alarm_without_replication_rule() {
        let comp = component(&cfg(), Placement::Primary, MockCloudWatchApi::new());
        let mut b = crate::test_support::bucket(Placement::Primary);
        b.replication_rule_id = None;
        let ctx = ctx_with_inputs("alarms-primary", "us-east-1").with_input(&ids::bucket(Placement::Primary), &b);
        let specs = desired_alarms(&comp.inputs(&ctx).expect("inputs"));
        assert!(!specs.iter().any(|s| s.name.contains("bucket-lag")));
    }

    #[tokio::test]
    async fn create_describes_then_puts_every_alarm() {
        let expected: Vec<String> = primary_specs().into_iter().map(|s| s.name).collect();
        let mut seq = Sequence::new();
        let mut cw = MockCloudWatchApi::new();
        let names = expected.clone();
        cw.expect_describe_alarms().withf(move |n| *n == names).times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        for name in expected.clone() {
            cw.expect_put_metric_alarm().withf(move |s| s.name == name).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        }
        let comp = component(&cfg(), Placement::Primary, cw);
        let ctx = ctx_with_inputs("alarms-primary", "us-east-1");
        let out = comp.apply(&ctx).await.expect("apply");
        let typed: AlarmsOutputs = from_outputs(&out).expect("outputs");
        assert_eq!(typed.alarm_names, expected);
        comp.output_type().check(&out).expect("declared outputs");
        for n in &expected {
            assert_eq!(ctx.recorded_id(&alarm_key(n)).await.as_deref(), Some(n.as_str()));
        }
    }

    /// A CloudWatch mock whose PutMetricAlarm stores the alarm (it then exists) and loses
    /// the answer of the first put of `lost` with a 500. Returns the puts per name.
    fn cw_losing_one_answer(lost: String) -> (MockCloudWatchApi, Arc<Mutex<Vec<String>>>) {
        let alarms: Arc<Mutex<Vec<AlarmSpec>>> = Arc::default();
        let puts: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut cw = MockCloudWatchApi::new();
        let a1 = alarms.clone();
        cw.expect_describe_alarms().returning(move |names| {
            Ok(a1.lock().expect("lock").iter().filter(|a| names.contains(&a.name)).cloned().collect())
        });
        let (a2, p2) = (alarms, puts.clone());
        cw.expect_put_metric_alarm().returning(move |spec| {
            a2.lock().expect("lock").push(spec.clone());
            let mut p = p2.lock().expect("lock");
            p.push(spec.name.clone());
            if spec.name == lost && p.iter().filter(|n| **n == lost).count() == 1 {
                Err(AwsError::new("InternalServiceError", "answer lost", Some(500)))
            } else {
                Ok(())
            }
        });
        (cw, puts)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_put_answer_is_looked_up_by_name_not_put_twice() {
        let expected: Vec<String> = primary_specs().into_iter().map(|s| s.name).collect();
        let (cw, puts) = cw_losing_one_answer(expected[2].clone());
        let ctx = ctx_with_inputs("alarms-primary", "us-east-1");
        component(&cfg(), Placement::Primary, cw).apply(&ctx).await.expect("apply");
        let mut put = puts.lock().expect("lock").clone();
        put.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(put, want, "each alarm put exactly once");
        for n in &expected {
            let e = ctx.entry(&alarm_key(n)).await.expect("journaled");
            assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some(n.as_str())));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_resumed_run_adopts_the_alarm_of_a_pending_create() {
        let specs = primary_specs();
        let lost = specs[0].name.clone();
        let mut cw = MockCloudWatchApi::new();
        // The interrupted run's put acted for the first alarm only.
        let live = vec![specs[0].clone()];
        cw.expect_describe_alarms().returning(move |_| Ok(live.clone()));
        let l = lost.clone();
        cw.expect_put_metric_alarm().withf(move |s| s.name != l).times(specs.len() - 1).returning(|_| Ok(()));
        let prior = ComponentState::new("cloudwatch-alarms", Placement::Primary, "us-east-1").with_pending_create(alarm_key(&lost).as_str(), Some("t"));
        let ctx = ctx_with_inputs("alarms-primary", "us-east-1").with_prior(prior);
        component(&cfg(), Placement::Primary, cw).apply(&ctx).await.expect("apply");
        let e = ctx.entry(&alarm_key(&lost)).await.expect("journaled");
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some(lost.as_str())));
    }

    #[tokio::test]
    async fn apply_with_identical_alarms_makes_no_put() {
        let mut cw = MockCloudWatchApi::new();
        // DescribeAlarms returns the alarms as AWS does: no tags, dimensions in another order.
        let live: Vec<AlarmSpec> = primary_specs()
            .into_iter()
            .map(|mut s| {
                s.tags.clear();
                s.dimensions.reverse();
                s
            })
            .collect();
        cw.expect_describe_alarms().returning(move |_| Ok(live.clone()));
        // No put_metric_alarm / delete_alarms expectation.
        let comp = component(&cfg(), Placement::Primary, cw);
        let ctx = ctx_with_inputs("alarms-primary", "us-east-1");
        comp.apply(&ctx).await.expect("apply");
        assert_eq!(comp.read(&ctx).await.expect("read"), Drift::InSync);
    }

    #[tokio::test]
    async fn changed_alarm_is_updated_and_stale_alarm_deleted() {
        let mut cw = MockCloudWatchApi::new();
        let mut live = primary_specs();
        live[6].threshold = 5.0; // api-errors drifted
        let deleted = Arc::new(Mutex::new(Vec::new()));
        let d = deleted.clone();
        cw.expect_describe_alarms().returning(move |names| {
            let mut v: Vec<AlarmSpec> = live.iter().filter(|s| names.contains(&s.name)).cloned().collect();
            if names.contains(&"alarm-old-primary-t1".to_string()) {
                let mut old = live[0].clone();
                old.name = "alarm-old-primary-t1".into();
                v.push(old);
            }
            Ok(v)
        });
        cw.expect_put_metric_alarm()
            .withf(|s| s.name == "alarm-api-errors-primary-t1" && s.threshold == 0.0)
            .times(1)
            .returning(|_| Ok(()));
        cw.expect_delete_alarms().times(1).returning(move |n| {
            d.lock().map(|mut g| g.extend(n)).ok();
            Ok(())
        });
        let comp = component(&cfg(), Placement::Primary, cw);
        let prior = ComponentState::new("cloudwatch-alarms", Placement::Primary, "us-east-1")
            .with_resource("alarm:alarm-old-primary-t1", "alarm-old-primary-t1");
        let ctx = ctx_with_inputs("alarms-primary", "us-east-1").with_prior(prior);
        comp.apply(&ctx).await.expect("apply");
        assert_eq!(*deleted.lock().expect("lock"), vec!["alarm-old-primary-t1".to_string()]);
        assert!(ctx.resource("alarm:alarm-old-primary-t1").await.is_none());
    }

    #[tokio::test]
    async fn destroy_describes_then_deletes_existing_alarms() {
        let mut seq = Sequence::new();
        let mut cw = MockCloudWatchApi::new();
        let live: Vec<AlarmSpec> = primary_specs().into_iter().take(3).collect();
        let mut want: Vec<String> = live.iter().map(|s| s.name.clone()).collect();
        cw.expect_describe_alarms()
            .withf(|n| n.len() == 9 && n.contains(&"alarm-aurora-lag-primary-t1".to_string()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| Ok(live.clone()));
        // One journaled delete per existing alarm (the protocol deletes per key).
        let deleted: Arc<Mutex<Vec<String>>> = Arc::default();
        let d = deleted.clone();
        cw.expect_delete_alarms().times(3).in_sequence(&mut seq).returning(move |n| {
            d.lock().map(|mut g| g.extend(n)).ok();
            Ok(())
        });
        let comp = component(&cfg(), Placement::Primary, cw);
        let ctx = Ctx::standalone("alarms-primary", "us-east-1");
        comp.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
        let mut got = deleted.lock().expect("lock").clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn destroy_when_nothing_exists_is_a_no_op_and_not_found_is_success() {
        let mut cw = MockCloudWatchApi::new();
        cw.expect_describe_alarms().times(1).returning(|_| Ok(vec![]));
        let comp = component(&cfg(), Placement::Secondary, cw);
        comp.destroy(&Ctx::standalone("alarms-secondary", "us-east-2")).await.expect("destroy");

        let mut cw = MockCloudWatchApi::new();
        let live: Vec<AlarmSpec> = primary_specs().into_iter().take(1).collect();
        cw.expect_describe_alarms().returning(move |_| Ok(live.clone()));
        cw.expect_delete_alarms().times(1).returning(|_| Err(AwsError::not_found("ResourceNotFound", "gone")));
        let comp = component(&cfg(), Placement::Primary, cw);
        comp.destroy(&Ctx::standalone("alarms-primary", "us-east-1")).await.expect("NotFound is success");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried() {
        let mut cw = MockCloudWatchApi::new();
        let mut n = 0;
        cw.expect_describe_alarms().times(3).returning(move |_| {
            n += 1;
            if n < 3 {
                Err(AwsError::throttling())
            } else {
                Ok(vec![])
            }
        });
        cw.expect_put_metric_alarm().times(4).returning(|_| Ok(()));
        let comp = component(&cfg(), Placement::Secondary, cw);
        comp.apply(&ctx_with_inputs("alarms-secondary", "us-east-2")).await.expect("apply");
    }

    #[tokio::test]
    async fn errors_name_alarm_and_region() {
        let mut cw = MockCloudWatchApi::new();
        cw.expect_describe_alarms().returning(|_| Ok(vec![]));
        cw.expect_put_metric_alarm().returning(|_| Err(AwsError::other("LimitExceeded", "too many alarms")));
        let comp = component(&cfg(), Placement::Secondary, cw);
        let err = comp.apply(&ctx_with_inputs("alarms-secondary", "us-east-2")).await.expect_err("fails").to_string();
        assert!(err.contains("alarm-aurora-lag-secondary-t1") && err.contains("us-east-2") && err.contains("LimitExceeded"), "{err}");
    }

    #[tokio::test]
    async fn missing_input_is_reported() {
        let comp = component(&cfg(), Placement::Primary, MockCloudWatchApi::new());
        let err = comp.apply(&Ctx::standalone("alarms-primary", "us-east-1")).await.expect_err("fails").to_string();
        assert!(err.contains("alerts-primary"), "{err}");
    }
}
