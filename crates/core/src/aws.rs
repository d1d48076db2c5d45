//! Per-region AWS configuration, built once and shared, plus the retry and polling helpers
//! every component uses.
//!
//! The [`AwsContext`] loads one `SdkConfig` per region from aws-config's standard chain
//! (`AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...), with the SDK's standard retry mode (jittered
//! exponential backoff on throttling and 5xx) and timeouts. Components build their service
//! clients from it; clients of one region share its connection pool. Its [`CallProfile`] is
//! `Standard` (apply, destroy: a slow AWS is waited for) or `OutageProof` (status, failover,
//! switchover: a region that does not answer fails fast, see [`is_unreachable`] and
//! [`global_control_planes`]).
//!
//! Above the SDK, [`retry`] retries throttling and transient errors once more with jittered
//! backoff (so mocked clients exercise the same path), and [`poll_until`] is the bounded
//! waiter for APIs without an SDK waiter.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::error::{AwsError, ComponentError};

/// Region of the Global Accelerator control plane.
pub const GLOBAL_ACCELERATOR_REGION: &str = "us-west-2";
/// Region where Route 53 (a global service) is called and where its metrics live.
pub const ROUTE53_REGION: &str = "us-east-1";
/// Region of IAM's control plane (role and policy changes).
pub const IAM_CONTROL_PLANE_REGION: &str = "us-east-1";

/// The global control planes hosted in `region`, which become unavailable while it is down
/// (DR.md, "Static stability"). Their data planes (DNS answers, health checkers, anycast
/// routing, IAM authorization) keep working.
pub fn global_control_planes(region: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if region == ROUTE53_REGION {
        out.push("Route 53 control plane (record and health-check changes)");
        out.push("Route 53 health-check status (GetHealthCheckStatus, HealthCheckStatus metrics)");
    }
    if region == IAM_CONTROL_PLANE_REGION {
        out.push("IAM control plane (role and policy changes)");
    }
    if region == GLOBAL_ACCELERATOR_REGION {
        out.push("Global Accelerator control plane");
    }
    out
}

/// True when `e` means the region did not answer at all (no HTTP response: connection
/// refused or closed, DNS failure, connect or attempt timeout), as opposed to an answer
/// that refused the request. The SDK maps these to `DispatchFailure` / `Timeout`.
pub fn is_unreachable(e: &AwsError) -> bool {
    e.status.is_none() && matches!(e.code.as_str(), "DispatchFailure" | "Timeout")
}

/// How patient the SDK calls of a context are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallProfile {
    /// `apply`, `destroy`, `plan`: long timeouts and 5 attempts; a slow AWS is waited for.
    Standard,
    /// `status`, `failover`, `switchover`: the commands run during a regional outage. A
    /// region that does not answer must fail fast (connect 3 s, 5 s per attempt, 2 attempts,
    /// 12 s per operation) so it is reported as unreachable instead of retried for minutes.
    OutageProof,
}

impl CallProfile {
    /// The SDK retry configuration of this profile.
    pub fn retry_config(self) -> RetryConfig {
        match self {
            CallProfile::Standard => RetryConfig::standard().with_max_attempts(5).with_initial_backoff(Duration::from_millis(200)),
            CallProfile::OutageProof => RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(200)),
        }
    }

    /// The SDK timeout configuration of this profile.
    pub fn timeout_config(self) -> TimeoutConfig {
        let (connect, attempt, operation) = match self {
            CallProfile::Standard => (10, 60, 300),
            CallProfile::OutageProof => (3, 5, 12),
        };
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(connect))
            .operation_attempt_timeout(Duration::from_secs(attempt))
            .operation_timeout(Duration::from_secs(operation))
            .build()
    }

    /// The longest one SDK operation of this profile may take (its operation timeout).
    pub fn operation_timeout(self) -> Duration {
        self.timeout_config().operation_timeout().unwrap_or(Duration::from_secs(300))
    }
}

/// Shared per-region AWS configuration.
#[derive(Debug)]
pub struct AwsContext {
    base: SdkConfig,
    configs: Mutex<BTreeMap<String, SdkConfig>>,
    endpoint_overridden: bool,
}

impl AwsContext {
    /// Loads the standard credential chain once; region-specific configs are derived from it.
    /// Standard profile (long timeouts, 5 attempts): the one `apply` and `destroy` use.
    pub async fn load() -> Self {
        Self::load_with(CallProfile::Standard).await
    }

    /// Like [`AwsContext::load`], with the timeouts and retries of `profile`
    /// ([`CallProfile::OutageProof`] for `status`, `failover`, `switchover`).
    pub async fn load_with(profile: CallProfile) -> Self {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .retry_config(profile.retry_config())
            .timeout_config(profile.timeout_config())
            .load()
            .await;
        let endpoint_overridden = base.endpoint_url().is_some();
        Self::from_base(base, endpoint_overridden)
    }

    /// Builds a context from an existing configuration (tests, embedding tools).
    pub fn from_base(base: SdkConfig, endpoint_overridden: bool) -> Self {
        Self { base, configs: Mutex::new(BTreeMap::new()), endpoint_overridden }
    }

    /// The configuration for `region`, built once and reused.
    pub fn config(&self, region: &str) -> SdkConfig {
        let mut map = self.configs.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(region.to_string())
            .or_insert_with(|| self.base.to_builder().region(Region::new(region.to_string())).build())
            .clone()
    }

    /// True when `AWS_ENDPOINT_URL` (or a profile endpoint) points the SDK at an emulator;
    /// S3 clients then use path-style addressing.
    pub fn endpoint_overridden(&self) -> bool {
        self.endpoint_overridden
    }

    /// True when every call goes to a custom endpoint on this machine's loopback interface
    /// (a local emulator, never AWS): the CLI then builds the Lambda package with the cheap
    /// development profile.
    pub fn endpoint_is_loopback(&self) -> bool {
        self.endpoint_overridden && self.base.endpoint_url().is_some_and(is_loopback_url)
    }
}

/// True when `url`'s host is `localhost` or a loopback address (`127.0.0.0/8`, `::1`).
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Retry policy for [`retry`]: attempts and base delay.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 6, base: Duration::from_millis(250), max_delay: Duration::from_secs(20) }
    }
}

/// Full-jitter exponential backoff delay for `attempt` (0-based).
pub fn backoff_delay(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base.saturating_mul(1u32 << attempt.min(16));
    let cap = exp.min(policy.max_delay);
    let millis = cap.as_millis().max(1) as u64;
    Duration::from_millis(rand::random_range(millis / 2..=millis))
}

/// Calls `f` until it succeeds, retrying throttling and transient errors with jittered
/// backoff. Other errors are returned at once.
pub async fn retry<T, F, Fut>(f: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry_if(f, |_| false).await
}

/// Like [`retry`], also retrying errors for which `also` returns true (e.g. IAM propagation,
/// "is not empty", ResourceInUse while a dependency is going away).
pub async fn retry_if<T, F, Fut, P>(mut f: F, also: P) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
    P: Fn(&AwsError) -> bool,
{
    let policy = RetryPolicy::default();
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if (e.is_retryable() || also(&e)) && attempt + 1 < policy.max_attempts => {
                let delay = backoff_delay(&policy, attempt);
                tracing::debug!(code = %e.code, attempt, ?delay, "retrying AWS call");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The retry configuration of a call that must be sent exactly once per attempt of the
/// core's protocol: a create without an idempotency token or unique name (VPC, subnet, KMS
/// key, REST API, ...). The SDK's own retry would re-send it after a lost answer and
/// create a second resource; [`crate::Ctx::ensure`] looks the resource up first instead.
/// Use it per operation: `.customize().config_override(<service>::config::Builder::default()
/// .retry_config(single_attempt()))`.
pub fn single_attempt() -> RetryConfig {
    RetryConfig::disabled()
}

/// Result of one poll of [`poll_until`].
pub enum Poll<T> {
    Ready(T),
    Pending(String),
}

/// Polls `check` with backoff (1 s doubling to 15 s; faster against a local emulator)
/// until it reports `Ready`, or fails with [`ComponentError::Timeout`] after `timeout`.
/// Retryable AWS errors count as "not ready yet".
pub async fn poll_until<T, F, Fut>(
    resource: &str,
    region: &str,
    waiting_for: &str,
    timeout: Duration,
    mut check: F,
) -> Result<T, ComponentError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, AwsError>>,
{
    let start = tokio::time::Instant::now();
    let mut delay = poll_base_interval();
    let max = Duration::from_secs(15);
    loop {
        match check().await {
            Ok(Poll::Ready(v)) => return Ok(v),
            Ok(Poll::Pending(state)) => {
                tracing::info!(resource, region, waiting_for, state = %state, "waiting");
            }
            Err(e) if e.is_retryable() => tracing::debug!(code = %e.code, "poll error, retrying"),
            Err(e) => return Err(ComponentError::aws(resource, region, e)),
        }
        if start.elapsed() + delay > timeout {
            return Err(ComponentError::Timeout {
                resource: resource.to_string(),
                region: region.to_string(),
                waiting_for: waiting_for.to_string(),
                waited_secs: start.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(max);
    }
}

/// Base poll interval: 1 s, or `TANDEM_POLL_INTERVAL_MS` (local emulators settle at once).
pub fn poll_base_interval() -> Duration {
    std::env::var("TANDEM_POLL_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(1))
}

/// NotFound as `None` (reads of resources that may not exist); other errors pass through.
pub fn none_if_not_found<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Treats NotFound as success (deletes of resources already gone).
pub fn ignore_not_found(r: Result<(), AwsError>) -> Result<(), AwsError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_urls_are_told_from_remote_ones() {
        for url in ["http://127.0.0.1:5000", "http://localhost:4566/", "https://LOCALHOST", "http://[::1]:8080/x", "http://127.8.9.10", "127.0.0.1:9"] {
            assert!(super::is_loopback_url(url), "{url}");
        }
        for url in ["https://ec2.us-east-1.amazonaws.com", "http://10.0.0.5:5000", "http://localhost.example.com", "http://[2001:db8::1]:80", "http://user@192.168.1.2", ""] {
            assert!(!super::is_loopback_url(url), "{url}");
        }
    }

    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_throttling_then_succeeds() {
        let calls = AtomicU32::new(0);
        let r = retry(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 2 { Err(AwsError::throttling()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_other_errors() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(AwsError::other("ValidationError", "bad")) }
        })
        .await;
        assert_eq!(r.unwrap_err().code, "ValidationError");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn poll_times_out_with_resource_and_region() {
        let r: Result<(), _> = poll_until("acc", "us-west-2", "DEPLOYED", Duration::from_secs(30), || async {
            Ok(Poll::Pending("IN_PROGRESS".into()))
        })
        .await;
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("acc") && msg.contains("us-west-2") && msg.contains("DEPLOYED"), "{msg}");
    }

    #[test]
    fn outage_proof_profile_fails_fast_and_standard_is_patient() {
        let fast = CallProfile::OutageProof;
        assert_eq!(fast.retry_config().max_attempts(), 2);
        let t = fast.timeout_config();
        assert_eq!(t.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(fast.operation_timeout(), Duration::from_secs(12));
        // Two attempts of 5 s plus the backoff fit in the operation timeout.
        assert!(Duration::from_secs(2 * 5) < fast.operation_timeout());
        let slow = CallProfile::Standard;
        assert_eq!(slow.retry_config().max_attempts(), 5);
        assert_eq!(slow.timeout_config().operation_attempt_timeout(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn control_planes_by_region() {
        let east = global_control_planes("us-east-1");
        assert!(east.iter().any(|c| c.contains("Route 53 control plane")), "{east:?}");
        assert!(east.iter().any(|c| c.contains("health-check status")), "{east:?}");
        assert!(east.iter().any(|c| c.contains("IAM")), "{east:?}");
        assert_eq!(global_control_planes("us-west-2"), vec!["Global Accelerator control plane"]);
        assert!(global_control_planes("us-east-2").is_empty());
    }

    #[test]
    fn unreachable_is_no_answer_not_a_refusal() {
        assert!(is_unreachable(&AwsError::new("DispatchFailure", "connection closed", None)));
        assert!(is_unreachable(&AwsError::new("Timeout", "connect timeout", None)));
        assert!(!is_unreachable(&AwsError::new("InternalError", "x", Some(500))));
        assert!(!is_unreachable(&AwsError::other("AccessDenied", "no")));
        assert!(!is_unreachable(&AwsError::throttling()));
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let p = RetryPolicy::default();
        for a in 0..20 {
            let d = backoff_delay(&p, a);
            assert!(d <= p.max_delay);
        }
    }

    #[test]
    fn not_found_maps_to_none_and_ignore_and_other_errors_pass() {
        assert_eq!(none_if_not_found(Ok::<_, AwsError>(3)).ok(), Some(Some(3)));
        assert_eq!(none_if_not_found::<u8>(Err(AwsError::not_found("NoSuchEntity", "gone"))).ok(), Some(None));
        let other = none_if_not_found::<u8>(Err(AwsError::other("AccessDenied", "no")));
        assert!(matches!(other, Err(e) if e.is_code("AccessDenied")));
        assert!(ignore_not_found(Err(AwsError::not_found("NotFound", "gone"))).is_ok());
        assert!(ignore_not_found(Err(AwsError::throttling())).is_err());
    }
}
