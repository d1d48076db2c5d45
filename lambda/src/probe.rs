//! The failover controller's probe: runs in the SECONDARY region on a one-minute
//! EventBridge schedule (see `../shared/DR.md`, "The failover controller").
//!
//! 1. GETs the primary's regional API `/health` (the execute-api invoke URL, never the
//!    failover name or the accelerator) and the primary NLB's `/health`, concurrently,
//!    each with a 5 s timeout and one retry. Healthy = both answer 2xx AND the API's body
//!    says `{"checks": {"database_writer": "ok"}}` (the API handler's writer check, see
//!    [`crate::api`]; a body without it counts as unhealthy: every API function runs this
//!    same binary, so a missing check means a misconfigured primary, not an old one). The
//!    NLB's answer only needs to be 2xx: it checks the network path to the same API.
//! 2. Publishes `PrimaryHealthy` = 1 or 0 (namespace `Tandem/Failover`, dimension
//!    `Stack=<suffix>`, standard resolution) in its own region.
//! 3. Publishes the decision input `PrimaryDown` (same namespace and dimension), the ONE
//!    metric the decision alarm watches (Route 53's CLOUDWATCH_METRIC checks accept only
//!    single-metric alarms, so both signals of `DR.md` are combined here), by
//!    [`primary_down`]:
//!    - 1 when the SSM parameter `/tandem/<stack>/failover/forced` (this region) is `true`
//!      (set by `tandem failover`), whatever the probe found;
//!    - 1 when the probe failed AND the secondary cluster's replication metrics show the
//!      primary stalled (the failover handler's own rule, [`crate::replication`]);
//!    - 0 when the probe succeeded, or failed without a stall;
//!    - nothing (logged) when the probe failed and the replication metrics could not be
//!      read: missing data is not a failure, and the alarm treats it as not breaching.
//!
//!    A flag that cannot be read counts as not forced (logged). The replication metrics are
//!    only read when the probe failed and the flag is not set.
//! 4. Alarm actions fire only on transitions: while the decision alarm stays in ALARM and
//!    the global cluster's writer is still the primary, it invokes the failover handler
//!    again (asynchronously, event `{"source":"probe"}`); the handler re-checks everything.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::clients::{
    AlarmState, AuroraApi, CallError, FunctionApi, GlobalClusterView, HttpAnswer, HttpGet,
    MetricsApi, Parameter, ParameterApi,
};
use crate::contract;
use crate::replication::{now_epoch, read_replication, Replication, StallReadError};
use crate::{ClusterArn, PrimaryEndpoints, ProbeSettings};
/// The field of the API's `/health` body under `checks` that the probe relies on.
pub const WRITER_CHECK: &str = "database_writer";
/// Per-GET timeout.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// GET attempts per endpoint (1 retry).
pub const HTTP_ATTEMPTS: u32 = 2;
/// Pause before the retry.
pub const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// One endpoint's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Ok,
    Failed(String),
}

impl Check {
    pub fn is_ok(&self) -> bool {
        matches!(self, Check::Ok)
    }

    fn label(&self) -> String {
        match self {
            Check::Ok => "ok".into(),
            Check::Failed(why) => why.clone(),
        }
    }
}

/// The verdict on the primary: both endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    pub api: Check,
    pub nlb: Check,
}

impl ProbeResult {
    pub fn healthy(&self) -> bool {
        self.api.is_ok() && self.nlb.is_ok()
    }

    /// One line for logs and alerts, e.g. `api: ok; nlb: Timeout: ...`.
    pub fn summary(&self) -> String {
        format!("api: {}; nlb: {}", self.api.label(), self.nlb.label())
    }

    pub fn to_json(&self) -> Value {
        json!({ "healthy": self.healthy(), "api": self.api.label(), "nlb": self.nlb.label() })
    }
}

/// The API's answer: 2xx and `checks.database_writer == "ok"`.
pub fn judge_api(answer: &HttpAnswer) -> Check {
    if !(200..300).contains(&answer.status) {
        return Check::Failed(format!("HTTP {}", answer.status));
    }
    let body: Value = match serde_json::from_str(&answer.body) {
        Ok(v) => v,
        Err(_) => return Check::Failed("body is not JSON".into()),
    };
    match body.pointer(&format!("/checks/{WRITER_CHECK}")) {
        Some(Value::String(s)) if s == "ok" => Check::Ok,
        Some(other) => Check::Failed(format!("{WRITER_CHECK}: {}", plain(other))),
        None => Check::Failed(format!("body has no checks.{WRITER_CHECK}")),
    }
}

/// The NLB's answer: 2xx.
pub fn judge_nlb(answer: &HttpAnswer) -> Check {
    if (200..300).contains(&answer.status) {
        Check::Ok
    } else {
        Check::Failed(format!("HTTP {}", answer.status))
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// GETs `url` up to [`HTTP_ATTEMPTS`] times until `judge` says ok.
async fn check(http: &dyn HttpGet, url: &str, judge: fn(&HttpAnswer) -> Check) -> Check {
    let mut last = Check::Failed("not attempted".into());
    for attempt in 1..=HTTP_ATTEMPTS {
        last = match http.get(url).await {
            Ok(answer) => judge(&answer),
            Err(e) => Check::Failed(e.to_string()),
        };
        if last.is_ok() {
            return last;
        }
        if attempt < HTTP_ATTEMPTS {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
    last
}

/// Checks both endpoints of the primary concurrently (the same check for the probe and
/// for the failover handler's fresh probe).
pub async fn probe_primary(
    api_http: &dyn HttpGet,
    nlb_http: &dyn HttpGet,
    primary: &PrimaryEndpoints,
) -> ProbeResult {
    let (api, nlb) = tokio::join!(
        check(api_http, &primary.health_url, judge_api),
        check(nlb_http, &primary.nlb_url, judge_nlb)
    );
    ProbeResult { api, nlb }
}

/// Whether the probe invokes the failover handler again.
#[derive(Debug, Clone, PartialEq)]
pub enum Reinvoke {
    Yes,
    No(String),
}

/// The re-invoke rule: the decision alarm is in ALARM and the writer is still the primary.
pub fn reinvoke_rule(
    alarm: Option<&AlarmState>,
    cluster: Option<&GlobalClusterView>,
    primary_cluster_arn: &str,
) -> Reinvoke {
    match alarm {
        None => return Reinvoke::No("the decision alarm does not exist".into()),
        Some(a) if a.value != "ALARM" => {
            return Reinvoke::No(format!("the decision alarm is {}", a.value))
        }
        Some(_) => {}
    }
    match cluster.and_then(|c| c.writer_arn.as_deref()) {
        Some(w) if w == primary_cluster_arn => Reinvoke::Yes,
        Some(w) => Reinvoke::No(format!("the writer is already {w}")),
        None if cluster.is_none() => Reinvoke::No("the global cluster does not exist".into()),
        None => Reinvoke::No("the global cluster reports no writer".into()),
    }
}

/// The forced flag (`/tandem/<stack>/failover/forced`) as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Forced {
    /// The value is `true` (any case, surrounding blanks ignored).
    Yes,
    /// Absent, or any other value.
    No,
    /// GetParameter failed: counts as not forced.
    Unreadable(String),
}

impl Forced {
    /// From GetParameter's answer.
    pub fn from_read(read: Result<Option<Parameter>, CallError>) -> Self {
        match read {
            Ok(Some(p)) if p.value.trim().eq_ignore_ascii_case("true") => Forced::Yes,
            Ok(_) => Forced::No,
            Err(e) => Forced::Unreadable(e.to_string()),
        }
    }
}

/// What the probe publishes as `PrimaryDown`, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum PrimaryDown {
    /// Publish 1.
    Down(String),
    /// Publish 0.
    NotDown(String),
    /// Publish nothing: the probe failed and the replication metrics could not be read.
    Unknown(String),
}

impl PrimaryDown {
    /// The value to publish, if any.
    pub fn value(&self) -> Option<f64> {
        match self {
            PrimaryDown::Down(_) => Some(1.0),
            PrimaryDown::NotDown(_) => Some(0.0),
            PrimaryDown::Unknown(_) => None,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            PrimaryDown::Down(r) | PrimaryDown::NotDown(r) | PrimaryDown::Unknown(r) => r,
        }
    }
}

/// The `PrimaryDown` rule (see the module documentation). `replication` is `None` when it
/// was not read (probe healthy, or forced).
pub fn primary_down(
    probe: &ProbeResult,
    forced: &Forced,
    replication: Option<&Result<Replication, StallReadError>>,
) -> PrimaryDown {
    let flag_note = match forced {
        Forced::Unreadable(e) => {
            format!("; the forced flag could not be read ({e}): treated as not forced")
        }
        _ => String::new(),
    };
    if *forced == Forced::Yes {
        return PrimaryDown::Down("the forced flag is set (`tandem failover`)".into());
    }
    if probe.healthy() {
        return PrimaryDown::NotDown(format!("the primary answers{flag_note}"));
    }
    match replication {
        Some(Ok(Replication::Stalled(e))) => PrimaryDown::Down(format!(
            "the probe fails ({}) and replication stalled: {e}{flag_note}",
            probe.summary()
        )),
        Some(Ok(Replication::NoStall(e))) => PrimaryDown::NotDown(format!(
            "the probe fails ({}) but replication shows no stall: {e}{flag_note}",
            probe.summary()
        )),
        Some(Err(e)) => PrimaryDown::Unknown(format!(
            "the probe fails ({}) but {e}: PrimaryDown not published (missing data is not a failure){flag_note}",
            probe.summary()
        )),
        None => PrimaryDown::Unknown(format!(
            "the probe fails ({}) and the replication metrics were not read: PrimaryDown not published{flag_note}",
            probe.summary()
        )),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("publishing {namespace}/{metric} in {region} failed: {source}", namespace = contract::NAMESPACE)]
    Publish {
        metric: &'static str,
        region: String,
        source: CallError,
    },
    #[error("reading {what} in {region} failed: {source}")]
    Read {
        what: String,
        region: String,
        source: CallError,
    },
    #[error("invoking {function} in {region} failed: {source}")]
    Invoke {
        function: String,
        region: String,
        source: CallError,
    },
}

impl From<ProbeError> for lambda_runtime::Diagnostic {
    fn from(e: ProbeError) -> Self {
        let kind = match &e {
            ProbeError::Publish { .. } => "Probe.PublishFailed",
            ProbeError::Read { .. } => "Probe.ReadFailed",
            ProbeError::Invoke { .. } => "Probe.InvokeFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.into(),
            error_message: e.to_string(),
        }
    }
}

/// The probe with its clients (all in the secondary region, except what the HTTP GETs
/// reach).
pub struct Probe {
    pub settings: ProbeSettings,
    /// GETs the API URL.
    pub api_http: Arc<dyn HttpGet>,
    /// GETs the NLB URL (connects to `PRIMARY_NLB_ADDRESS` when set).
    pub nlb_http: Arc<dyn HttpGet>,
    /// CloudWatch in this region: the metrics, the decision alarm, the replication metrics.
    pub metrics: Arc<dyn MetricsApi>,
    pub aurora: Arc<dyn AuroraApi>,
    pub functions: Arc<dyn FunctionApi>,
    /// Parameter Store in this region: the forced flag.
    pub parameters: Arc<dyn ParameterApi>,
}

impl Probe {
    /// The replication verdict for `PrimaryDown`: only read when the probe failed and the
    /// flag is not set.
    async fn replication(
        &self,
        probe: &ProbeResult,
        forced: &Forced,
    ) -> Option<Result<Replication, StallReadError>> {
        let s = &self.settings;
        if probe.healthy() || *forced == Forced::Yes {
            return None;
        }
        let Some(cluster) = ClusterArn::parse(&s.secondary_cluster_arn) else {
            // Checked at start (ProbeSettings); kept as a read failure, never as a stall.
            return Some(Err(StallReadError {
                what: "the replication metrics".into(),
                source: CallError::new(
                    "InvalidSetting",
                    format!(
                        "SECONDARY_CLUSTER_ARN {} is not a cluster ARN",
                        s.secondary_cluster_arn
                    ),
                ),
            }));
        };
        Some(
            read_replication(
                &*self.metrics,
                &cluster.cluster_id,
                now_epoch(),
                s.stall_lag_ms,
            )
            .await,
        )
    }

    /// PutMetricData of one controller metric in this region.
    async fn publish(&self, metric: &'static str, value: f64) -> Result<(), ProbeError> {
        let s = &self.settings;
        self.metrics
            .put_metric(
                contract::NAMESPACE,
                metric,
                &contract::dimensions(&s.stack),
                value,
            )
            .await
            .map_err(|source| ProbeError::Publish {
                metric,
                region: s.region.clone(),
                source,
            })
    }

    /// One scheduled run (the event's content is not used).
    pub async fn handle(&self, _event: Value) -> Result<Value, ProbeError> {
        let s = &self.settings;
        let flag = contract::forced_flag(&s.stack);
        let (result, forced) = tokio::join!(
            probe_primary(&*self.api_http, &*self.nlb_http, &s.primary),
            self.parameters.get(&flag)
        );
        let forced = Forced::from_read(forced);
        let value = if result.healthy() { 1.0 } else { 0.0 };
        if result.healthy() {
            tracing::info!(summary = %result.summary(), "primary healthy");
        } else {
            tracing::warn!(summary = %result.summary(), "primary unhealthy");
        }
        match &forced {
            Forced::Yes => {
                tracing::warn!(flag = %flag, "the forced flag is set: PrimaryDown=1 whatever the probe finds")
            }
            Forced::Unreadable(e) => {
                tracing::warn!(flag = %flag, error = %e, "reading the forced flag failed: treated as not forced")
            }
            Forced::No => {}
        }
        let replication = self.replication(&result, &forced).await;
        let down = primary_down(&result, &forced, replication.as_ref());
        match &down {
            PrimaryDown::Down(why) => tracing::warn!(reason = %why, "PrimaryDown=1"),
            PrimaryDown::NotDown(why) => tracing::info!(reason = %why, "PrimaryDown=0"),
            PrimaryDown::Unknown(why) => {
                tracing::warn!(reason = %why, "PrimaryDown not published")
            }
        }

        // Both metrics are attempted; the first failure fails the run.
        let healthy_put = self.publish(contract::PRIMARY_HEALTHY, value).await;
        let down_put = match down.value() {
            Some(v) => self.publish(contract::PRIMARY_DOWN, v).await,
            None => Ok(()),
        };
        healthy_put?;
        down_put?;

        let read = |what: &str, source| ProbeError::Read {
            what: what.to_string(),
            region: s.region.clone(),
            source,
        };
        let alarm = self
            .metrics
            .alarm_state(&s.decision_alarm)
            .await
            .map_err(|e| read(&format!("alarm {}", s.decision_alarm), e))?;
        // The global cluster is only read when the alarm is in ALARM (the common case
        // costs one DescribeAlarms).
        let cluster = match &alarm {
            Some(a) if a.value == "ALARM" => self
                .aurora
                .describe_global_cluster(&s.global_cluster_id)
                .await
                .map_err(|e| read(&format!("global cluster {}", s.global_cluster_id), e))?,
            _ => None,
        };
        let rule = reinvoke_rule(alarm.as_ref(), cluster.as_ref(), &s.primary_cluster_arn);
        let reinvoked = match &rule {
            Reinvoke::Yes => {
                tracing::warn!(function = %s.failover_function, alarm = %s.decision_alarm, "decision alarm still in ALARM and the writer is still the primary: invoking the failover handler");
                self.functions
                    .invoke_async(
                        &s.failover_function,
                        &json!({ "source": "probe" }).to_string(),
                    )
                    .await
                    .map_err(|source| ProbeError::Invoke {
                        function: s.failover_function.clone(),
                        region: s.region.clone(),
                        source,
                    })?;
                json!(true)
            }
            Reinvoke::No(why) => json!(why),
        };
        Ok(json!({
            "primary_healthy": value as u8,
            "primary_down": down.value().map(|v| v as u8),
            "primary_down_reason": down.reason(),
            "forced": forced == Forced::Yes,
            "probe": result.to_json(),
            "reinvoked": reinvoked,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{
        MockAuroraApi, MockFunctionApi, MockHttpGet, MockMetricsApi, MockParameterApi, Point,
    };
    use std::sync::Mutex;

    const PRIMARY_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-t";
    const SECONDARY_ARN: &str = "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-t";
    const HEALTH_URL: &str = "https://abc.execute-api.us-east-1.amazonaws.com/v1/health";
    const NLB_URL: &str = "https://nlb-1.elb.us-east-1.amazonaws.com/health";

    pub(crate) fn healthy_body() -> String {
        json!({ "region": "us-east-1", "role": "primary", "status": "ok",
                "checks": { "database_writer": "ok" } })
        .to_string()
    }

    fn settings() -> ProbeSettings {
        ProbeSettings {
            region: "us-east-2".into(),
            stack: "t".into(),
            primary: PrimaryEndpoints {
                health_url: HEALTH_URL.into(),
                nlb_url: NLB_URL.into(),
                nlb_address: None,
            },
            decision_alarm: "tandem-t-failover-decision".into(),
            global_cluster_id: "aurora-global-t".into(),
            primary_cluster_arn: PRIMARY_ARN.into(),
            failover_function: "tandem-t-failover".into(),
            secondary_cluster_arn: SECONDARY_ARN.into(),
            stall_lag_ms: 60_000.0,
        }
    }

    /// An HTTP mock answering `url` with `answer` every time (at most `HTTP_ATTEMPTS`).
    fn http(url: &'static str, answer: Result<HttpAnswer, CallError>) -> MockHttpGet {
        let mut m = MockHttpGet::new();
        m.expect_get()
            .withf(move |u| u == url)
            .times(1..=HTTP_ATTEMPTS as usize)
            .returning(move |_| answer.clone());
        m
    }

    fn ok(body: &str) -> Result<HttpAnswer, CallError> {
        Ok(HttpAnswer {
            status: 200,
            body: body.to_string(),
        })
    }

    fn up() -> (MockHttpGet, MockHttpGet) {
        (
            http(HEALTH_URL, ok(&healthy_body())),
            http(NLB_URL, ok("{}")),
        )
    }

    fn down() -> (MockHttpGet, MockHttpGet) {
        let refused = || Err(CallError::new("Http", "connection refused"));
        (http(HEALTH_URL, refused()), http(NLB_URL, refused()))
    }

    /// What the secondary cluster's replication metrics answer.
    #[derive(Clone, Copy)]
    enum Stall {
        /// Not expected to be read at all (a read panics).
        NotRead,
        /// Replicated writes flowing, lag small.
        Flowing,
        /// No replicated writes for the last 5 minutes.
        Stalled,
        /// GetMetricStatistics fails.
        Fails,
    }

    /// The metrics published: (metric, value) (namespace and dimension checked).
    type Puts = Arc<Mutex<Vec<(String, f64)>>>;

    /// CloudWatch: records every PutMetricData, the decision alarm in `alarm_value`, the
    /// replication metrics as `stall` says.
    fn metrics(alarm_value: &'static str, stall: Stall) -> (MockMetricsApi, Puts) {
        let puts = Puts::default();
        let mut m = MockMetricsApi::new();
        let p = puts.clone();
        m.expect_put_metric().returning(move |ns, metric, dims, v| {
            assert_eq!(ns, "Tandem/Failover");
            assert_eq!(dims, [("Stack".to_string(), "t".to_string())]);
            p.lock().unwrap().push((metric.to_string(), v));
            Ok(())
        });
        m.expect_alarm_state()
            .withf(|n| n == "tandem-t-failover-decision")
            .times(1)
            .returning(move |_| {
                Ok(Some(AlarmState {
                    value: alarm_value.into(),
                    since: 0,
                }))
            });
        let points = m.expect_metric_points();
        match stall {
            Stall::NotRead => {
                points.never();
            }
            Stall::Fails => {
                points.returning(|_| Err(CallError::new("SdkError", "dispatch failure: timeout")));
            }
            Stall::Flowing | Stall::Stalled => {
                let writes = if matches!(stall, Stall::Stalled) {
                    0.0
                } else {
                    12.0
                };
                points.times(2).returning(move |q| {
                    assert_eq!(q.namespace, "AWS/RDS");
                    assert_eq!(
                        q.dimensions,
                        vec![(
                            "DBClusterIdentifier".to_string(),
                            "aurora-secondary-t".to_string()
                        )]
                    );
                    let value = if q.metric == "AuroraGlobalDBReplicatedWriteIO" {
                        writes
                    } else {
                        250.0
                    };
                    Ok((1..=5)
                        .map(|i| Point {
                            at: q.end - 60 * i,
                            value,
                        })
                        .collect())
                });
            }
        }
        (m, puts)
    }

    /// The forced flag as Parameter Store answers it.
    fn flag(answer: Result<Option<&'static str>, CallError>) -> MockParameterApi {
        let mut m = MockParameterApi::new();
        m.expect_get()
            .withf(|n| n == "/tandem/t/failover/forced")
            .times(1)
            .returning(move |_| {
                answer.clone().map(|v| {
                    v.map(|v| Parameter {
                        value: v.into(),
                        kind: "String".into(),
                    })
                })
            });
        m
    }

    fn not_forced() -> MockParameterApi {
        flag(Ok(None))
    }

    fn probe(
        (api, nlb): (MockHttpGet, MockHttpGet),
        metrics: MockMetricsApi,
        parameters: MockParameterApi,
    ) -> Probe {
        probe_with(
            (api, nlb),
            metrics,
            parameters,
            MockAuroraApi::new(),
            MockFunctionApi::new(),
        )
    }

    fn probe_with(
        (api, nlb): (MockHttpGet, MockHttpGet),
        metrics: MockMetricsApi,
        parameters: MockParameterApi,
        aurora: MockAuroraApi,
        functions: MockFunctionApi,
    ) -> Probe {
        Probe {
            settings: settings(),
            api_http: Arc::new(api),
            nlb_http: Arc::new(nlb),
            metrics: Arc::new(metrics),
            aurora: Arc::new(aurora),
            functions: Arc::new(functions),
            parameters: Arc::new(parameters),
        }
    }

    fn published(puts: &Puts) -> Vec<(String, f64)> {
        puts.lock().unwrap().clone()
    }

    fn both(healthy: f64, down: f64) -> Vec<(String, f64)> {
        vec![
            ("PrimaryHealthy".to_string(), healthy),
            ("PrimaryDown".to_string(), down),
        ]
    }

    /// Collects what the code logs (tracing, this thread) while the guard lives.
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl Logs {
        fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let writer = buf.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .with_writer(move || LogWriter(writer.clone()))
                .finish();
            (Self(buf), tracing::subscriber::set_default(subscriber))
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    struct LogWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for LogWriter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    // ---- PrimaryHealthy and PrimaryDown, case by case ----

    #[tokio::test(start_paused = true)]
    async fn healthy_publishes_1_and_primary_down_0_without_reading_replication() {
        // Each endpoint answered on the first try: exactly one GET each.
        let mut api = MockHttpGet::new();
        api.expect_get().times(1).returning(|_| ok(&healthy_body()));
        let mut nlb = MockHttpGet::new();
        nlb.expect_get().times(1).returning(|_| ok("{}"));
        let (m, puts) = metrics("OK", Stall::NotRead);
        let out = probe((api, nlb), m, not_forced())
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_healthy"], 1);
        assert_eq!(out["primary_down"], 0);
        assert_eq!(out["forced"], false);
        assert_eq!(out["reinvoked"], "the decision alarm is OK");
        assert_eq!(published(&puts), both(1.0, 0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_without_a_stall_publishes_primary_down_0() {
        let (m, puts) = metrics("OK", Stall::Flowing);
        let out = probe(down(), m, not_forced())
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_healthy"], 0);
        assert_eq!(out["primary_down"], 0, "{out}");
        assert!(
            out["primary_down_reason"]
                .as_str()
                .unwrap()
                .contains("no stall"),
            "{out}"
        );
        assert_eq!(published(&puts), both(0.0, 0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_with_a_stall_publishes_primary_down_1() {
        let (m, puts) = metrics("OK", Stall::Stalled);
        let out = probe(down(), m, not_forced())
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_down"], 1, "{out}");
        assert!(
            out["primary_down_reason"]
                .as_str()
                .unwrap()
                .contains("no AuroraGlobalDBReplicatedWriteIO for the last 3 minutes"),
            "{out}"
        );
        assert_eq!(published(&puts), both(0.0, 1.0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_forced_flag_publishes_primary_down_1_even_when_healthy() {
        for value in ["true", " TRUE\n"] {
            let (m, puts) = metrics("OK", Stall::NotRead);
            let out = probe(up(), m, flag(Ok(Some(value))))
                .handle(json!({}))
                .await
                .unwrap();
            assert_eq!(out["primary_healthy"], 1);
            assert_eq!(out["primary_down"], 1, "{out}");
            assert_eq!(out["forced"], true);
            assert_eq!(published(&puts), both(1.0, 1.0));
        }
        // Forced while the primary is down: 1 without reading the replication metrics.
        let (m, puts) = metrics("OK", Stall::NotRead);
        probe(down(), m, flag(Ok(Some("true"))))
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(published(&puts), both(0.0, 1.0));
        // Any other value is not forced.
        let (m, puts) = metrics("OK", Stall::NotRead);
        probe(up(), m, flag(Ok(Some("false"))))
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(published(&puts), both(1.0, 0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_that_cannot_be_read_publishes_no_primary_down() {
        let (logs, _guard) = Logs::capture();
        let (m, puts) = metrics("OK", Stall::Fails);
        let out = probe(down(), m, not_forced())
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_healthy"], 0);
        assert_eq!(out["primary_down"], Value::Null, "{out}");
        // Only PrimaryHealthy: missing data is not a failure.
        assert_eq!(published(&puts), vec![("PrimaryHealthy".to_string(), 0.0)]);
        let logs = logs.text();
        assert!(
            logs.contains("PrimaryDown not published")
                && logs.contains("AWS/RDS AuroraGlobalDBReplication")
                && logs.contains("dispatch failure"),
            "{logs}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_flag_that_cannot_be_read_is_not_forced_and_says_so() {
        let (logs, _guard) = Logs::capture();
        // Healthy: 0.
        let (m, puts) = metrics("OK", Stall::NotRead);
        let out = probe(
            up(),
            m,
            flag(Err(CallError::new("AccessDeniedException", "not allowed"))),
        )
        .handle(json!({}))
        .await
        .unwrap();
        assert_eq!(out["forced"], false);
        assert_eq!(published(&puts), both(1.0, 0.0));
        assert!(
            out["primary_down_reason"]
                .as_str()
                .unwrap()
                .contains("treated as not forced"),
            "{out}"
        );
        // Down with a stall: the replication decides (1).
        let (m, puts) = metrics("OK", Stall::Stalled);
        probe(down(), m, flag(Err(CallError::new("SdkError", "timeout"))))
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(published(&puts), both(0.0, 1.0));
        let logs = logs.text();
        assert!(
            logs.contains("reading the forced flag failed: treated as not forced")
                && logs.contains("/tandem/t/failover/forced")
                && logs.contains("AccessDeniedException"),
            "{logs}"
        );
    }

    #[test]
    fn primary_down_rule_cases() {
        let healthy = ProbeResult {
            api: Check::Ok,
            nlb: Check::Ok,
        };
        let failed = ProbeResult {
            api: Check::Failed("HTTP 503".into()),
            nlb: Check::Ok,
        };
        let stalled = Ok(Replication::Stalled("lag".into()));
        let flowing = Ok(Replication::NoStall("flowing".into()));
        let unreadable = Err(StallReadError {
            what: "AWS/RDS AuroraGlobalDBReplicationLag of x".into(),
            source: CallError::new("Throttling", "slow down"),
        });
        let unread_flag = Forced::Unreadable("timeout".into());
        for (probe, forced, replication, want) in [
            (&healthy, &Forced::No, None, Some(0.0)),
            (&healthy, &Forced::Yes, None, Some(1.0)),
            (&healthy, &unread_flag, None, Some(0.0)),
            (&failed, &Forced::No, Some(&flowing), Some(0.0)),
            (&failed, &Forced::No, Some(&stalled), Some(1.0)),
            (&failed, &Forced::No, Some(&unreadable), None),
            (&failed, &Forced::Yes, None, Some(1.0)),
            (&failed, &Forced::Yes, Some(&unreadable), Some(1.0)),
            (&failed, &unread_flag, Some(&stalled), Some(1.0)),
            (&failed, &unread_flag, Some(&unreadable), None),
            // Never read while the probe fails: nothing, never 1.
            (&failed, &Forced::No, None, None),
        ] {
            let got = primary_down(probe, forced, replication);
            assert_eq!(
                got.value(),
                want,
                "{probe:?} {forced:?} {replication:?}: {got:?}"
            );
        }
        assert_eq!(
            Forced::from_read(Ok(Some(Parameter {
                value: "True".into(),
                kind: "String".into()
            }))),
            Forced::Yes
        );
        assert_eq!(Forced::from_read(Ok(None)), Forced::No);
    }

    // ---- the HTTP checks ----

    #[tokio::test(start_paused = true)]
    async fn api_down_publishes_0_after_one_retry() {
        let mut api = MockHttpGet::new();
        api.expect_get()
            .times(2)
            .returning(|_| Err(CallError::new("Timeout", "no answer within 5s")));
        let (m, puts) = metrics("OK", Stall::Flowing);
        let out = probe((api, http(NLB_URL, ok("{}"))), m, not_forced())
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_healthy"], 0);
        assert!(
            out["probe"]["api"].as_str().unwrap().contains("Timeout"),
            "{out}"
        );
        assert_eq!(out["probe"]["nlb"], "ok");
        assert_eq!(published(&puts), both(0.0, 0.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_then_success_on_retry_is_healthy() {
        let mut api = MockHttpGet::new();
        let mut n = 0;
        api.expect_get().times(2).returning(move |_| {
            n += 1;
            if n == 1 {
                Err(CallError::new("Http", "connection reset"))
            } else {
                ok(&healthy_body())
            }
        });
        let (m, _puts) = metrics("OK", Stall::NotRead);
        let out = probe((api, http(NLB_URL, ok("{}"))), m, not_forced())
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_healthy"], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn nlb_down_publishes_0() {
        let answer = Ok(HttpAnswer {
            status: 502,
            body: String::new(),
        });
        let (m, _puts) = metrics("OK", Stall::Flowing);
        let out = probe(
            (http(HEALTH_URL, ok(&healthy_body())), http(NLB_URL, answer)),
            m,
            not_forced(),
        )
        .handle(json!({}))
        .await
        .unwrap();
        assert_eq!(out["primary_healthy"], 0);
        assert_eq!(out["probe"]["nlb"], "HTTP 502");
    }

    #[tokio::test(start_paused = true)]
    async fn api_body_without_the_writer_check_is_unhealthy() {
        let body = json!({ "region": "us-east-1", "role": "primary", "status": "ok" }).to_string();
        let (m, _puts) = metrics("OK", Stall::Flowing);
        let out = probe(
            (http(HEALTH_URL, ok(&body)), http(NLB_URL, ok("{}"))),
            m,
            not_forced(),
        )
        .handle(json!({}))
        .await
        .unwrap();
        assert_eq!(out["primary_healthy"], 0);
        assert_eq!(out["probe"]["api"], "body has no checks.database_writer");
    }

    #[test]
    fn judge_api_cases() {
        let a = |status, body: &str| HttpAnswer {
            status,
            body: body.into(),
        };
        assert_eq!(judge_api(&a(200, &healthy_body())), Check::Ok);
        assert_eq!(
            judge_api(&a(
                200,
                r#"{"checks":{"database_writer":"cluster is failing-over"}}"#
            )),
            Check::Failed("database_writer: cluster is failing-over".into())
        );
        assert_eq!(
            judge_api(&a(503, &healthy_body())),
            Check::Failed("HTTP 503".into())
        );
        assert_eq!(
            judge_api(&a(200, "<html>")),
            Check::Failed("body is not JSON".into())
        );
    }

    // ---- the re-invoke rule ----

    fn cluster(writer: &str) -> GlobalClusterView {
        GlobalClusterView {
            writer_arn: Some(writer.into()),
            members: vec![PRIMARY_ARN.into(), SECONDARY_ARN.into()],
            failover_status: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reinvokes_the_handler_while_the_alarm_stays_in_alarm_and_the_primary_writes() {
        let mut aurora = MockAuroraApi::new();
        aurora
            .expect_describe_global_cluster()
            .withf(|id| id == "aurora-global-t")
            .times(1)
            .returning(|_| Ok(Some(cluster(PRIMARY_ARN))));
        let mut functions = MockFunctionApi::new();
        functions
            .expect_invoke_async()
            .withf(|f, payload| {
                f == "tandem-t-failover"
                    && serde_json::from_str::<Value>(payload).unwrap() == json!({"source": "probe"})
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let mut api = MockHttpGet::new();
        api.expect_get()
            .times(2)
            .returning(|_| Err(CallError::new("Timeout", "x")));
        let (m, puts) = metrics("ALARM", Stall::Stalled);
        let out = probe_with(
            (api, http(NLB_URL, ok("{}"))),
            m,
            not_forced(),
            aurora,
            functions,
        )
        .handle(json!({}))
        .await
        .unwrap();
        assert_eq!(out["reinvoked"], true);
        assert_eq!(published(&puts), both(0.0, 1.0));
    }

    #[tokio::test(start_paused = true)]
    async fn no_reinvoke_once_the_writer_moved() {
        let mut aurora = MockAuroraApi::new();
        aurora
            .expect_describe_global_cluster()
            .times(1)
            .returning(|_| Ok(Some(cluster(SECONDARY_ARN))));
        // No expectation on the function mock: an invoke would panic. The forced flag
        // keeps the decision (and so the alarm) up after `tandem failover`.
        let (m, puts) = metrics("ALARM", Stall::NotRead);
        let out = probe_with(
            up(),
            m,
            flag(Ok(Some("true"))),
            aurora,
            MockFunctionApi::new(),
        )
        .handle(json!({}))
        .await
        .unwrap();
        assert!(
            out["reinvoked"].as_str().unwrap().contains("already"),
            "{out}"
        );
        assert_eq!(published(&puts), both(1.0, 1.0));
    }

    #[test]
    fn reinvoke_rule_cases() {
        let alarm = |v: &str| AlarmState {
            value: v.into(),
            since: 0,
        };
        assert_eq!(
            reinvoke_rule(
                Some(&alarm("ALARM")),
                Some(&cluster(PRIMARY_ARN)),
                PRIMARY_ARN
            ),
            Reinvoke::Yes
        );
        for (a, c) in [
            (Some(alarm("OK")), Some(cluster(PRIMARY_ARN))),
            (Some(alarm("INSUFFICIENT_DATA")), Some(cluster(PRIMARY_ARN))),
            (None, Some(cluster(PRIMARY_ARN))),
            (Some(alarm("ALARM")), Some(cluster(SECONDARY_ARN))),
            (Some(alarm("ALARM")), None),
            (Some(alarm("ALARM")), Some(GlobalClusterView::default())),
        ] {
            assert!(
                matches!(
                    reinvoke_rule(a.as_ref(), c.as_ref(), PRIMARY_ARN),
                    Reinvoke::No(_)
                ),
                "{a:?} {c:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_publish_is_an_error_after_both_were_attempted() {
        let mut m = MockMetricsApi::new();
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let a = attempts.clone();
        m.expect_put_metric().returning(move |_, metric, _, _| {
            a.lock().unwrap().push(metric.to_string());
            Err(CallError::new("Throttling", "slow down"))
        });
        let err = probe(up(), m, not_forced())
            .handle(json!({}))
            .await
            .unwrap_err();
        assert!(matches!(err, ProbeError::Publish { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "publishing Tandem/Failover/PrimaryHealthy in us-east-2 failed: Throttling: slow down"
        );
        assert_eq!(*attempts.lock().unwrap(), ["PrimaryHealthy", "PrimaryDown"]);
    }
}
