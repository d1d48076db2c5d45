//! `dashboard`: one CloudWatch dashboard `dashboard-{s}` with both regions' metrics.
//!
//! Dashboards are global but are created through a region's API: this one is created in
//! the primary region. Every metric widget names its region in `properties.region`, so one
//! dashboard shows metrics of both regions (and Route 53's, which live in us-east-1).
//!
//! The body is built by the pure [`build_body`] from the dependencies' outputs (function
//! names, API names and stage, table name, buckets and replication rule id, Aurora cluster
//! ids, health check ids); nothing is hard-coded. Apply compares the stored body
//! (GetDashboard) with the wanted one and calls PutDashboard only when they differ.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tandem_core::aws::{retry, ROUTE53_REGION};
use tandem_core::contracts::{
    ids, ApiOutputs, AuroraOutputs, BucketOutputs, DashboardOutputs, FunctionsOutputs, HealthOutputs, TableOutputs,
};
use tandem_core::{naming, to_outputs, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Key, Outputs, Placement, Rule};

use crate::clients::CloudWatchApi;
/// Journal key (string kept from earlier releases: state compatibility).
const KEY_DASHBOARD: Key = Key::new("dashboard");
const WIDTH: i64 = 12;
const HEIGHT: i64 = 6;
const PERIOD: i64 = 60;

/// The metrics of one region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionMetrics {
    pub role: Placement,
    pub region: String,
    /// The region the table replicates to from here.
    pub other_region: String,
    /// (label, function name) of the functions to chart.
    pub functions: Vec<(String, String)>,
    /// REST API name (`api-{role}-{s}`) and stage.
    pub api_name: String,
    pub stage_name: String,
    pub aurora_cluster_id: String,
    pub health: HealthOutputs,
}

/// Everything the dashboard body is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardInputs {
    /// Primary first, then secondary.
    pub regions: Vec<RegionMetrics>,
    pub table_name: String,
    /// Region, source bucket, destination bucket, rule id: S3 replication metrics live in
    /// the source region.
    pub bucket_replication: Option<(String, String, String, String)>,
}

fn widget(title: String, region: &str, stat: &str, metrics: Vec<Value>) -> Value {
    json!({
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stacked": false,
            "period": PERIOD,
            "stat": stat,
            "metrics": metrics,
        }
    })
}

/// `[namespace, metric, dim1, value1, ..., {options}]`.
fn metric(namespace: &str, name: &str, dims: &[(&str, &str)], options: Value) -> Value {
    let mut m = vec![json!(namespace), json!(name)];
    for (k, v) in dims {
        m.push(json!(k));
        m.push(json!(v));
    }
    m.push(options);
    Value::Array(m)
}

/// Builds the dashboard body (pure): a JSON object with the widgets, laid out two per row.
pub fn build_body(i: &DashboardInputs) -> Value {
    let mut widgets: Vec<Value> = Vec::new();
    // Database and table replication, per region.
    for r in &i.regions {
        widgets.push(widget(
            format!("Aurora global replication lag (ms), {} {}", r.role, r.region),
            &r.region,
            "Maximum",
            vec![metric(
                "AWS/RDS",
                "AuroraGlobalDBReplicationLag",
                &[("DBClusterIdentifier", &r.aurora_cluster_id)],
                json!({ "label": r.aurora_cluster_id }),
            )],
        ));
        widgets.push(widget(
            format!("DynamoDB replication latency (ms), {} to {}", r.region, r.other_region),
            &r.region,
            "Average",
            vec![metric(
                "AWS/DynamoDB",
                "ReplicationLatency",
                &[("TableName", &i.table_name), ("ReceivingRegion", &r.other_region)],
                json!({ "label": format!("{} to {}", i.table_name, r.other_region) }),
            )],
        ));
    }
    if let Some((region, src, dst, rule)) = &i.bucket_replication {
        let dims = [("SourceBucket", src.as_str()), ("DestinationBucket", dst.as_str()), ("RuleId", rule.as_str())];
        widgets.push(widget(
            format!("S3 replication {src} to {dst}, {region}"),
            region,
            "Maximum",
            vec![
                metric("AWS/S3", "ReplicationLatency", &dims, json!({ "label": "ReplicationLatency (s)" })),
                metric(
                    "AWS/S3",
                    "OperationsPendingReplication",
                    &dims,
                    json!({ "label": "OperationsPendingReplication", "yAxis": "right" }),
                ),
            ],
        ));
    }
    // Compute and API, per region.
    for r in &i.regions {
        let mut fm = Vec::new();
        for (label, f) in &r.functions {
            fm.push(metric("AWS/Lambda", "Invocations", &[("FunctionName", f)], json!({ "label": format!("{label} invocations") })));
            fm.push(metric("AWS/Lambda", "Errors", &[("FunctionName", f)], json!({ "label": format!("{label} errors") })));
        }
        widgets.push(widget(format!("Lambda invocations and errors, {} {}", r.role, r.region), &r.region, "Sum", fm));
        let dims = [("ApiName", r.api_name.as_str()), ("Stage", r.stage_name.as_str())];
        widgets.push(widget(
            format!("API {} requests, 5xx, latency, {} {}", r.api_name, r.role, r.region),
            &r.region,
            "Sum",
            vec![
                metric("AWS/ApiGateway", "Count", &dims, json!({ "label": "requests" })),
                metric("AWS/ApiGateway", "5XXError", &dims, json!({ "label": "5xx" })),
                metric("AWS/ApiGateway", "Latency", &dims, json!({ "label": "latency (ms)", "stat": "Average", "yAxis": "right" })),
            ],
        ));
    }
    // Route 53 health checks: their metrics are in us-east-1 whatever the stack's regions.
    let mut hm = Vec::new();
    for r in &i.regions {
        hm.push(metric(
            "AWS/Route53",
            "HealthCheckStatus",
            &[("HealthCheckId", &r.health.api_check_id)],
            json!({ "label": format!("{} API ({})", r.role, r.region) }),
        ));
        hm.push(metric(
            "AWS/Route53",
            "HealthCheckStatus",
            &[("HealthCheckId", &r.health.nlb_check_id)],
            json!({ "label": format!("{} NLB ({})", r.role, r.region) }),
        ));
    }
    widgets.push(widget("Route 53 health check status (1 = healthy)".to_string(), ROUTE53_REGION, "Minimum", hm));

    for (n, w) in widgets.iter_mut().enumerate() {
        let n = n as i64;
        w["x"] = json!((n % 2) * WIDTH);
        w["y"] = json!((n / 2) * HEIGHT);
    }
    json!({ "start": "-PT6H", "periodOverride": "inherit", "widgets": widgets })
}

/// The console URL of a dashboard.
pub fn dashboard_url(region: &str, name: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}")
}

/// The `dashboard` component.
pub struct Dashboard {
    region: String,
    primary_region: String,
    secondary_region: String,
    suffix: String,
    name: String,
    stage_name: String,
    cw: Arc<dyn CloudWatchApi>,
}

impl Dashboard {
    pub fn new(cfg: &Config, cw: Arc<dyn CloudWatchApi>) -> Self {
        let suffix = cfg.environment_suffix.clone();
        Self {
            region: cfg.primary_region.clone(),
            primary_region: cfg.primary_region.clone(),
            secondary_region: cfg.secondary_region.clone(),
            name: naming::name("dashboard", Placement::Global, &suffix),
            stage_name: cfg.api.stage_name.clone(),
            suffix,
            cw,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads the dependencies' outputs into [`DashboardInputs`].
    pub fn inputs(&self, ctx: &Ctx) -> Result<DashboardInputs, ComponentError> {
        let mut regions = Vec::new();
        for (role, region, other) in [
            (Placement::Primary, &self.primary_region, &self.secondary_region),
            (Placement::Secondary, &self.secondary_region, &self.primary_region),
        ] {
            let f: FunctionsOutputs = ctx.input(&ids::functions(role))?;
            let api: ApiOutputs = ctx.input(&ids::api(role))?;
            let aurora: AuroraOutputs = ctx.input(&ids::aurora(role))?;
            let health: HealthOutputs = ctx.input(&ids::health(role))?;
            let mut functions = vec![("api".to_string(), f.api_function_name), ("processor".to_string(), f.processor_function_name)];
            if !f.replicator_function_name.is_empty() {
                functions.push(("replicator".to_string(), f.replicator_function_name));
            }
            regions.push(RegionMetrics {
                role,
                region: region.clone(),
                other_region: other.clone(),
                functions,
                api_name: naming::name("api", role, &self.suffix),
                stage_name: if api.stage_name.is_empty() { self.stage_name.clone() } else { api.stage_name },
                aurora_cluster_id: aurora.cluster_id,
                health,
            });
        }
        let table: TableOutputs = ctx.input(ids::TABLE)?;
        let src: BucketOutputs = ctx.input(&ids::bucket(Placement::Primary))?;
        let dst: BucketOutputs = ctx.input(&ids::bucket(Placement::Secondary))?;
        let bucket_replication =
            src.replication_rule_id.map(|rule| (self.primary_region.clone(), src.bucket_name, dst.bucket_name, rule));
        Ok(DashboardInputs { regions, table_name: table.table_name, bucket_replication })
    }

    fn outputs_value(&self) -> Outputs {
        to_outputs(&DashboardOutputs { dashboard_name: self.name.clone(), dashboard_url: dashboard_url(&self.region, &self.name) })
    }
}

#[async_trait::async_trait]
impl Component for Dashboard {
    fn id(&self) -> &str {
        ids::DASHBOARD
    }

    fn kind(&self) -> &'static str {
        "cloudwatch-dashboard"
    }

    fn placement(&self) -> Placement {
        Placement::Global
    }

    fn region(&self) -> &str {
        &self.region
    }

    fn dependencies(&self) -> Vec<String> {
        let mut deps = Vec::new();
        for p in [Placement::Primary, Placement::Secondary] {
            deps.push(ids::functions(p));
            deps.push(ids::api(p));
            deps.push(ids::health(p));
            deps.push(ids::bucket(p));
            deps.push(ids::aurora(p));
        }
        deps.push(ids::TABLE.to_string());
        deps
    }

    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::DashboardOutputs>()
    }

    fn expected_duration(&self) -> Duration {
        // One synchronous PutDashboard.
        Duration::from_secs(5)
    }

    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "name": self.name, "region": self.region }),
            json!({ "regions": [self.primary_region, self.secondary_region], "stage": self.stage_name }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = ids::DASHBOARD, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let (name, region) = (self.name.as_str(), self.region.as_str());
        let body = build_body(&self.inputs(ctx)?);
        let current = retry(|| self.cw.get_dashboard(name)).await.at(name, region)?;
        let stored: Option<Value> = current.as_ref().and_then(|d| serde_json::from_str(&d.body).ok());
        let text = body.to_string();
        let put = || async {
            let warnings = self.cw.put_dashboard(name, &text).await?;
            for w in &warnings {
                tracing::warn!(dashboard = %name, region, warning = %w, "dashboard validation message");
            }
            Ok::<_, tandem_core::AwsError>(name.to_string())
        };
        match current {
            // In sync: no call.
            Some(_) if stored.as_ref() == Some(&body) => ctx.adopt(&KEY_DASHBOARD, name).await?,
            // PutDashboard is an idempotent put of the whole body.
            Some(_) => {
                ctx.update(&KEY_DASHBOARD, || async { retry(put).await.at(name, region) }).await?;
                ctx.adopt(&KEY_DASHBOARD, name).await?;
                tracing::info!(dashboard = %name, region, "dashboard updated");
            }
            // A unique name: after a lost answer it is looked up by name.
            None => {
                ctx.ensure::<String>(&KEY_DASHBOARD, name, Rule::Name)
                    .known_absent()
                    .find_one(|_| {
                        // Runs after an ambiguous create only (known_absent: the read above was the first look).
                        async move {
                            Ok(self.cw.get_dashboard(name).await?.map(|_| name.to_string()))
                        }
                    })
                    .create(|_token| put())
                    .id(|n: &String| n.clone())
                    .run()
                    .await?;
                tracing::info!(dashboard = %name, region, "dashboard created");
            }
        }
        Ok(self.outputs_value())
    }

    #[tracing::instrument(skip_all, fields(component = ids::DASHBOARD, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let name = self.name.as_str();
        ctx.delete(
            &KEY_DASHBOARD,
            name,
            |_recorded| async { Ok(self.cw.get_dashboard(name).await?.map(|_| name.to_string()).into_iter().collect()) },
            |n| async move {
                self.cw.delete_dashboard(&n).await?;
                tracing::info!(dashboard = %n, region = %self.region, "dashboard deleted");
                Ok(())
            },
        )
        .await?;
        Ok(())
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let (name, region) = (self.name.as_str(), self.region.as_str());
        let Some(current) = retry(|| self.cw.get_dashboard(name)).await.at(name, region)? else {
            return Ok(Drift::Missing { details: vec![format!("dashboard {name} does not exist")] });
        };
        if let Ok(inputs) = self.inputs(ctx) {
            let stored: Option<Value> = serde_json::from_str(&current.body).ok();
            if stored != Some(build_body(&inputs)) {
                return Ok(Drift::Drifted { details: vec![format!("dashboard {name}: body differs from the stack's metrics")] });
            }
        }
        Ok(Drift::InSync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{DashboardInfo, MockCloudWatchApi};
    use crate::test_support::{cfg, ctx_with_inputs};
    use mockall::Sequence;
    use tandem_core::{from_outputs, AwsError};

    fn component(cw: MockCloudWatchApi) -> Dashboard {
        Dashboard::new(&cfg(), Arc::new(cw))
    }

    fn body() -> Value {
        let d = component(MockCloudWatchApi::new());
        build_body(&d.inputs(&ctx_with_inputs("dashboard", "us-east-1")).expect("inputs"))
    }

    fn widgets(b: &Value) -> Vec<Value> {
        b["widgets"].as_array().cloned().unwrap_or_default()
    }

    fn metric_names(b: &Value, region: &str) -> Vec<String> {
        widgets(b)
            .iter()
            .filter(|w| w["properties"]["region"] == region)
            .flat_map(|w| w["properties"]["metrics"].as_array().cloned().unwrap_or_default())
            .map(|m| format!("{}/{}", m[0].as_str().unwrap_or_default(), m[1].as_str().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn every_widget_has_a_region_and_both_regions_appear() {
        let b = body();
        let ws = widgets(&b);
        assert!(ws.len() >= 10, "{}", ws.len());
        for w in &ws {
            assert_eq!(w["type"], "metric");
            let r = w["properties"]["region"].as_str().unwrap_or_default();
            assert!(r == "us-east-1" || r == "us-east-2", "widget without a valid region: {w}");
        }
        for region in ["us-east-1", "us-east-2"] {
            let m = metric_names(&b, region);
            for want in [
                "AWS/RDS/AuroraGlobalDBReplicationLag",
                "AWS/DynamoDB/ReplicationLatency",
                "AWS/Lambda/Invocations",
                "AWS/Lambda/Errors",
                "AWS/ApiGateway/Count",
                "AWS/ApiGateway/5XXError",
                "AWS/ApiGateway/Latency",
            ] {
                assert!(m.contains(&want.to_string()), "{want} missing in {region}");
            }
        }
        let primary = metric_names(&b, "us-east-1");
        assert!(primary.contains(&"AWS/S3/ReplicationLatency".to_string()));
        assert!(primary.contains(&"AWS/S3/OperationsPendingReplication".to_string()));
        assert!(primary.contains(&"AWS/Route53/HealthCheckStatus".to_string()));
    }

    #[test]
    fn ids_come_from_the_inputs() {
        let text = body().to_string();
        for id in [
            "aurora-primary-t1",
            "aurora-secondary-t1",
            "table-t1",
            "bucket-primary-t1",
            "bucket-secondary-t1",
            "replicate-all",
            "api-primary-t1",
            "api-secondary-t1",
            "processor-secondary-t1",
            "hc-api-primary",
            "hc-nlb-primary",
            "hc-api-secondary",
            "hc-nlb-secondary",
        ] {
            assert!(text.contains(&format!("\"{id}\"")), "{id} missing");
        }
        // A different input changes the body: nothing is hard-coded.
        let d = component(MockCloudWatchApi::new());
        let mut h = crate::test_support::health(Placement::Secondary);
        h.api_check_id = "other-check".into();
        let ctx = ctx_with_inputs("dashboard", "us-east-1").with_input(&ids::health(Placement::Secondary), &h);
        let other = build_body(&d.inputs(&ctx).expect("inputs")).to_string();
        assert!(other.contains("\"other-check\"") && !other.contains("\"hc-api-secondary\""));
    }

    #[test]
    fn widgets_do_not_overlap_and_fit_the_grid() {
        let ws = widgets(&body());
        let mut cells = std::collections::BTreeSet::new();
        for w in &ws {
            let (x, y) = (w["x"].as_i64().unwrap_or(-1), w["y"].as_i64().unwrap_or(-1));
            assert!(x >= 0 && x + w["width"].as_i64().unwrap_or(99) <= 24);
            assert!(cells.insert((x, y)), "overlap at {x},{y}");
        }
    }

    #[test]
    fn url_points_at_the_dashboard() {
        assert_eq!(
            dashboard_url("us-east-1", "dashboard-t1"),
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=dashboard-t1"
        );
    }

    #[tokio::test]
    async fn create_gets_then_puts() {
        let mut seq = Sequence::new();
        let mut cw = MockCloudWatchApi::new();
        cw.expect_get_dashboard().withf(|n| n == "dashboard-t1").times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        let want = body();
        cw.expect_put_dashboard()
            .withf(move |n, b| n == "dashboard-t1" && serde_json::from_str::<Value>(b).ok().as_ref() == Some(&want))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(vec!["/widgets/0: a warning".into()]));
        let d = component(cw);
        let ctx = ctx_with_inputs("dashboard", "us-east-1");
        let out = d.apply(&ctx).await.expect("apply");
        let typed: DashboardOutputs = from_outputs(&out).expect("outputs");
        assert_eq!(typed.dashboard_name, "dashboard-t1");
        assert_eq!(typed.dashboard_url, dashboard_url("us-east-1", "dashboard-t1"));
        assert_eq!(ctx.recorded_id(&KEY_DASHBOARD).await.as_deref(), Some("dashboard-t1"));
    }

    #[tokio::test]
    async fn equal_stored_body_skips_put() {
        let mut cw = MockCloudWatchApi::new();
        // Same content, other formatting: compared as JSON.
        let stored = serde_json::to_string_pretty(&body()).unwrap_or_default();
        cw.expect_get_dashboard().returning(move |_| Ok(Some(DashboardInfo { arn: "arn:d".into(), body: stored.clone() })));
        // No put_dashboard expectation.
        let d = component(cw);
        let ctx = ctx_with_inputs("dashboard", "us-east-1");
        d.apply(&ctx).await.expect("apply");
        assert_eq!(d.read(&ctx).await.expect("read"), Drift::InSync);
    }

    #[tokio::test]
    async fn different_stored_body_is_replaced() {
        let mut cw = MockCloudWatchApi::new();
        cw.expect_get_dashboard().returning(|_| Ok(Some(DashboardInfo { arn: "arn:d".into(), body: "{\"widgets\":[]}".into() })));
        cw.expect_put_dashboard().times(1).returning(|_, _| Ok(vec![]));
        let d = component(cw);
        d.apply(&ctx_with_inputs("dashboard", "us-east-1")).await.expect("apply");
    }

    #[tokio::test]
    async fn destroy_gets_then_deletes_and_not_found_is_success() {
        let mut seq = Sequence::new();
        let mut cw = MockCloudWatchApi::new();
        cw.expect_get_dashboard()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(DashboardInfo { arn: "arn:d".into(), body: "{}".into() })));
        cw.expect_delete_dashboard()
            .withf(|n| n == "dashboard-t1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::not_found("ResourceNotFound", "gone meanwhile")));
        let d = component(cw);
        let ctx = Ctx::standalone("dashboard", "us-east-1");
        d.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn second_destroy_is_a_no_op() {
        let mut cw = MockCloudWatchApi::new();
        cw.expect_get_dashboard().times(1).returning(|_| Ok(None));
        let d = component(cw);
        d.destroy(&Ctx::standalone("dashboard", "us-east-1")).await.expect("destroy");
        let mut cw = MockCloudWatchApi::new();
        cw.expect_get_dashboard().returning(|_| Ok(None));
        assert!(matches!(component(cw).read(&Ctx::standalone("dashboard", "us-east-1")).await, Ok(Drift::Missing { .. })));
    }

    /// A CloudWatch mock whose PutDashboard stores the body (the dashboard then exists) and
    /// whose first answer is lost with a 500.
    fn cw_losing_the_first_put_answer() -> (MockCloudWatchApi, Arc<std::sync::Mutex<u32>>) {
        let stored: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let puts: Arc<std::sync::Mutex<u32>> = Arc::default();
        let mut cw = MockCloudWatchApi::new();
        let s1 = stored.clone();
        cw.expect_get_dashboard().returning(move |_| {
            Ok(s1.lock().expect("lock").clone().map(|body| DashboardInfo { arn: "arn:d".into(), body }))
        });
        let (s2, p2) = (stored, puts.clone());
        cw.expect_put_dashboard().returning(move |_, b| {
            *s2.lock().expect("lock") = Some(b.to_string());
            let mut n = p2.lock().expect("lock");
            *n += 1;
            if *n == 1 {
                Err(AwsError::new("InternalServiceError", "answer lost", Some(500)))
            } else {
                Ok(vec![])
            }
        });
        (cw, puts)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_put_answer_is_looked_up_by_name_and_a_resumed_run_puts_nothing() {
        let (cw, puts) = cw_losing_the_first_put_answer();
        let d = component(cw);
        let ctx = ctx_with_inputs("dashboard", "us-east-1");
        d.apply(&ctx).await.expect("apply");
        assert_eq!(*puts.lock().expect("lock"), 1, "one PutDashboard: the lost answer was looked up, not re-sent");
        let e = ctx.entry(&KEY_DASHBOARD).await.expect("journaled");
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some("dashboard-t1")));

        // Resumed: an interrupted run's PutDashboard acted, its create is still pending.
        let mut cw = MockCloudWatchApi::new();
        let stored = body().to_string();
        cw.expect_get_dashboard().returning(move |_| Ok(Some(DashboardInfo { arn: "arn:d".into(), body: stored.clone() })));
        // No put_dashboard expectation: any put panics.
        let prior = tandem_core::state::ComponentState::new("dashboard", Placement::Global, "us-east-1").with_pending_create(KEY_DASHBOARD.as_str(), Some("t"));
        let ctx = ctx_with_inputs("dashboard", "us-east-1").with_prior(prior);
        component(cw).apply(&ctx).await.expect("resumed apply");
        let e = ctx.entry(&KEY_DASHBOARD).await.expect("journaled");
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some("dashboard-t1")));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried() {
        let mut cw = MockCloudWatchApi::new();
        cw.expect_get_dashboard().returning(|_| Ok(None));
        let mut n = 0;
        cw.expect_put_dashboard().times(2).returning(move |_, _| {
            n += 1;
            if n < 2 {
                Err(AwsError::throttling())
            } else {
                Ok(vec![])
            }
        });
        component(cw).apply(&ctx_with_inputs("dashboard", "us-east-1")).await.expect("apply");
    }

    #[tokio::test]
    async fn errors_name_dashboard_and_region() {
        let mut cw = MockCloudWatchApi::new();
        cw.expect_get_dashboard().returning(|_| Ok(None));
        cw.expect_put_dashboard().returning(|_, _| Err(AwsError::other("InvalidParameterInput", "bad body")));
        let err = component(cw).apply(&ctx_with_inputs("dashboard", "us-east-1")).await.expect_err("fails").to_string();
        assert!(err.contains("dashboard-t1") && err.contains("us-east-1") && err.contains("InvalidParameterInput"), "{err}");
    }
}
