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
//! 3. Alarm actions fire only on transitions: while the decision alarm stays in ALARM and
//!    the global cluster's writer is still the primary, it invokes the failover handler
//!    again (asynchronously, event `{"source":"probe"}`); the handler re-checks everything.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::clients::{
    AlarmState, AuroraApi, CallError, FunctionApi, GlobalClusterView, HttpAnswer, HttpGet,
    MetricsApi,
};
use crate::{PrimaryEndpoints, ProbeSettings};

/// CloudWatch namespace of the probe's metric.
pub const NAMESPACE: &str = "Tandem/Failover";
/// The probe's metric: 1 healthy, 0 not.
pub const METRIC: &str = "PrimaryHealthy";
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

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("publishing {NAMESPACE}/{METRIC} in {region} failed: {source}")]
    Publish { region: String, source: CallError },
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
    pub metrics: Arc<dyn MetricsApi>,
    pub aurora: Arc<dyn AuroraApi>,
    pub functions: Arc<dyn FunctionApi>,
}

impl Probe {
    /// One scheduled run (the event's content is not used).
    pub async fn handle(&self, _event: Value) -> Result<Value, ProbeError> {
        let s = &self.settings;
        let result = probe_primary(&*self.api_http, &*self.nlb_http, &s.primary).await;
        let value = if result.healthy() { 1.0 } else { 0.0 };
        if result.healthy() {
            tracing::info!(summary = %result.summary(), "primary healthy");
        } else {
            tracing::warn!(summary = %result.summary(), "primary unhealthy");
        }
        self.metrics
            .put_metric(
                NAMESPACE,
                METRIC,
                &[("Stack".to_string(), s.stack.clone())],
                value,
            )
            .await
            .map_err(|source| ProbeError::Publish {
                region: s.region.clone(),
                source,
            })?;

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
            "probe": result.to_json(),
            "reinvoked": reinvoked,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{MockAuroraApi, MockFunctionApi, MockHttpGet, MockMetricsApi};

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

    /// Metrics mock expecting exactly one PutMetricData of `value`, and the alarm in
    /// `alarm_value` state.
    fn metrics(value: f64, alarm_value: &'static str) -> MockMetricsApi {
        let mut m = MockMetricsApi::new();
        m.expect_put_metric()
            .withf(move |ns, metric, dims, v| {
                ns == "Tandem/Failover"
                    && metric == "PrimaryHealthy"
                    && dims == [("Stack".to_string(), "t".to_string())]
                    && *v == value
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        m.expect_alarm_state()
            .withf(|n| n == "tandem-t-failover-decision")
            .times(1)
            .returning(move |_| {
                Ok(Some(AlarmState {
                    value: alarm_value.into(),
                    since: 0,
                }))
            });
        m
    }

    fn probe(api: MockHttpGet, nlb: MockHttpGet, metrics: MockMetricsApi) -> Probe {
        probe_with(
            api,
            nlb,
            metrics,
            MockAuroraApi::new(),
            MockFunctionApi::new(),
        )
    }

    fn probe_with(
        api: MockHttpGet,
        nlb: MockHttpGet,
        metrics: MockMetricsApi,
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
        }
    }

    #[tokio::test(start_paused = true)]
    async fn both_healthy_publishes_1() {
        // Each endpoint answered on the first try: exactly one GET each.
        let mut api = MockHttpGet::new();
        api.expect_get().times(1).returning(|_| ok(&healthy_body()));
        let mut nlb = MockHttpGet::new();
        nlb.expect_get().times(1).returning(|_| ok("{}"));
        let out = probe(api, nlb, metrics(1.0, "OK"))
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_healthy"], 1);
        assert_eq!(out["reinvoked"], "the decision alarm is OK");
    }

    #[tokio::test(start_paused = true)]
    async fn api_down_publishes_0_after_one_retry() {
        let mut api = MockHttpGet::new();
        api.expect_get()
            .times(2)
            .returning(|_| Err(CallError::new("Timeout", "no answer within 5s")));
        let out = probe(api, http(NLB_URL, ok("{}")), metrics(0.0, "OK"))
            .handle(json!({}))
            .await
            .unwrap();
        assert_eq!(out["primary_healthy"], 0);
        assert!(
            out["probe"]["api"].as_str().unwrap().contains("Timeout"),
            "{out}"
        );
        assert_eq!(out["probe"]["nlb"], "ok");
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
        let out = probe(api, http(NLB_URL, ok("{}")), metrics(1.0, "OK"))
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
        let out = probe(
            http(HEALTH_URL, ok(&healthy_body())),
            http(NLB_URL, answer),
            metrics(0.0, "OK"),
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
        let out = probe(
            http(HEALTH_URL, ok(&body)),
            http(NLB_URL, ok("{}")),
            metrics(0.0, "OK"),
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
        let out = probe_with(
            api,
            http(NLB_URL, ok("{}")),
            metrics(0.0, "ALARM"),
            aurora,
            functions,
        )
        .handle(json!({}))
        .await
        .unwrap();
        assert_eq!(out["reinvoked"], true);
    }

    #[tokio::test(start_paused = true)]
    async fn no_reinvoke_once_the_writer_moved() {
        let mut aurora = MockAuroraApi::new();
        aurora
            .expect_describe_global_cluster()
            .times(1)
            .returning(|_| Ok(Some(cluster(SECONDARY_ARN))));
        // No expectation on the function mock: an invoke would panic.
        let out = probe_with(
            http(HEALTH_URL, ok(&healthy_body())),
            http(NLB_URL, ok("{}")),
            metrics(1.0, "ALARM"),
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
    async fn a_failed_publish_is_an_error() {
        let mut m = MockMetricsApi::new();
        m.expect_put_metric()
            .returning(|_, _, _, _| Err(CallError::new("Throttling", "slow down")));
        let err = probe(
            http(HEALTH_URL, ok(&healthy_body())),
            http(NLB_URL, ok("{}")),
            m,
        )
        .handle(json!({}))
        .await
        .unwrap_err();
        assert!(matches!(err, ProbeError::Publish { .. }), "{err}");
    }
}
