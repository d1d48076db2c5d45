//! A region cut off on the deployed stack, the way the outage tests of Tandem's failover work
//! will do it: `scripts/local-aws outage REGION` (the emulator drops every request signed
//! for REGION without an HTTP answer), then the data planes Tandem observes, read with the
//! raw SDK from the regions still up, and `scripts/local-aws restore REGION`.
//!
//! Observed, as AWS would show them:
//! - a call signed for the cut region gets no HTTP answer (the SDK's dispatch failure);
//! - Route 53 `GetHealthCheckStatus` of the checks on the cut region's API and NLB fails at
//!   every checker, and their `AWS/Route53 HealthCheckStatus` metric drops to 0;
//! - the CloudWatch alarm on that metric (`alarm-health-api-<role>-<s>`, Minimum < 1 for 2 of
//!   2 minutes) goes to ALARM, evaluated by the emulator from the data put to it;
//! - Global Accelerator reports the cut region's endpoint UNHEALTHY, the other HEALTHY;
//! - after `restore`, the checks succeed again and the endpoint is HEALTHY.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use tandem_tests::Moto;

use crate::{Deployment, PRIMARY, SECONDARY};

/// `scripts/local-aws outage|restore REGION` against this test's emulator.
pub(crate) fn local_aws(moto: &Moto, verb: &str, region: &str) -> String {
    let out = Command::new(tandem_tests::root().join("scripts/local-aws"))
        .args([verb, region])
        .env("LOCAL_AWS_ENDPOINT", &moto.endpoint)
        .output()
        .expect("scripts/local-aws");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scripts/local-aws {verb} {region}: {text}");
    text
}

/// Polls `f` until it returns `Some`, for at most `limit`.
async fn within<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not observed within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The statuses the Route 53 checkers report for `check_id` (`Success: ...` / `Failure: ...`).
async fn observations(r53: &aws_sdk_route53::Client, check_id: &str) -> Vec<String> {
    let s = r53.get_health_check_status().health_check_id(check_id).send().await.expect("GetHealthCheckStatus");
    s.health_check_observations().iter().filter_map(|o| o.status_report().and_then(|r| r.status()).map(str::to_string)).collect()
}

/// The health state of each endpoint group's endpoints, by region.
async fn accelerator_health(ga: &aws_sdk_globalaccelerator::Client, suffix: &str) -> Vec<(String, String)> {
    let accs = ga.list_accelerators().send().await.expect("accelerators");
    let acc = accs.accelerators().iter().find(|a| a.name() == Some(&format!("accelerator-{suffix}"))).expect("accelerator");
    let listeners = ga.list_listeners().accelerator_arn(acc.accelerator_arn().unwrap_or_default()).send().await.expect("listeners");
    let mut out = Vec::new();
    for l in listeners.listeners() {
        let groups = ga.list_endpoint_groups().listener_arn(l.listener_arn().unwrap_or_default()).send().await.expect("groups");
        for g in groups.endpoint_groups() {
            for e in g.endpoint_descriptions() {
                let state = e.health_state().map(|h| h.as_str().to_string()).unwrap_or_default();
                out.push((g.endpoint_group_region().unwrap_or_default().to_string(), state));
            }
        }
    }
    out.sort();
    out
}

/// The smallest `HealthCheckStatus` Route 53 published for `check_id` in the last minute.
async fn latest_status_minimum(cw: &aws_sdk_cloudwatch::Client, check_id: &str) -> Option<f64> {
    let now = SystemTime::now();
    let stats = cw
        .get_metric_statistics()
        .namespace("AWS/Route53")
        .metric_name("HealthCheckStatus")
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("HealthCheckId").value(check_id).build())
        .start_time(aws_smithy_types::DateTime::from(now - Duration::from_secs(30)))
        .end_time(aws_smithy_types::DateTime::from(now + Duration::from_secs(5)))
        .period(60)
        .statistics(aws_sdk_cloudwatch::types::Statistic::Minimum)
        .send()
        .await
        .expect("GetMetricStatistics");
    stats.datapoints().iter().filter_map(|d| d.minimum()).reduce(f64::min)
}

/// Cuts the secondary, observes, restores; then cuts the primary and observes what the
/// regions still up report (Route 53's API is signed for us-east-1, so it is cut with it).
pub async fn check_outage(moto: &Moto, d: &Deployment, outputs: &serde_json::Value) {
    let s = &d.suffix;
    let check = |role: &str, key: &str| outputs[format!("health-{role}")][key].as_str().unwrap_or_default().to_string();
    let (api_check, nlb_check) = (check("secondary", "api_check_id"), check("secondary", "nlb_check_id"));
    assert!(!api_check.is_empty() && !nlb_check.is_empty(), "health-secondary outputs: {outputs}");
    let r53 = aws_sdk_route53::Client::new(&moto.sdk(PRIMARY).await);
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk(PRIMARY).await);
    let ga = aws_sdk_globalaccelerator::Client::new(&moto.sdk("us-west-2").await);
    let ddb_s = aws_sdk_dynamodb::Client::new(&moto.sdk(SECONDARY).await);
    let alarm = format!("alarm-health-api-secondary-{s}");

    // Before: everything healthy.
    assert!(observations(&r53, &api_check).await.iter().all(|o| o.starts_with("Success")));
    assert_eq!(accelerator_health(&ga, s).await, vec![(PRIMARY.into(), "HEALTHY".into()), (SECONDARY.into(), "HEALTHY".into())]);

    // ---- cut the secondary ----
    let said = local_aws(moto, "outage", SECONDARY);
    assert!(said.contains(SECONDARY), "{said}");
    let e = ddb_s.describe_table().table_name(format!("table-{s}")).send().await.expect_err("a call signed for the cut region fails");
    assert!(e.raw_response().is_none(), "no HTTP answer from a cut region: {e:?}");
    for id in [&api_check, &nlb_check] {
        let obs = observations(&r53, id).await;
        assert!(!obs.is_empty() && obs.iter().all(|o| o.starts_with("Failure")), "checker observations of {id}: {obs:?}");
    }
    assert_eq!(accelerator_health(&ga, s).await, vec![(PRIMARY.into(), "HEALTHY".into()), (SECONDARY.into(), "UNHEALTHY".into())]);
    let low = within(Duration::from_secs(60), "HealthCheckStatus 0", || async {
        latest_status_minimum(&cw, &api_check).await.filter(|m| *m < 1.0)
    })
    .await;
    assert_eq!(low, 0.0);
    // Minimum < 1 for 2 of 2 one-minute periods: at most ~2 minutes of failing data.
    within(Duration::from_secs(180), "the health alarm in ALARM", || async {
        let a = cw.describe_alarms().alarm_names(&alarm).send().await.expect("describe alarms");
        a.metric_alarms().first().and_then(|m| m.state_value()).filter(|v| v.as_str() == "ALARM").map(|_| ())
    })
    .await;

    // ---- restore ----
    local_aws(moto, "restore", SECONDARY);
    ddb_s.describe_table().table_name(format!("table-{s}")).send().await.expect("the region answers again");
    assert!(observations(&r53, &api_check).await.iter().all(|o| o.starts_with("Success")));
    assert_eq!(accelerator_health(&ga, s).await, vec![(PRIMARY.into(), "HEALTHY".into()), (SECONDARY.into(), "HEALTHY".into())]);
    within(Duration::from_secs(60), "HealthCheckStatus back to 1", || async {
        latest_status_minimum(&cw, &api_check).await.filter(|m| *m >= 1.0)
    })
    .await;

    // ---- cut the primary: the secondary and the accelerator's control plane still answer ----
    local_aws(moto, "outage", PRIMARY);
    ddb_s.describe_table().table_name(format!("table-{s}")).send().await.expect("the secondary answers while the primary is cut");
    assert_eq!(accelerator_health(&ga, s).await, vec![(PRIMARY.into(), "UNHEALTHY".into()), (SECONDARY.into(), "HEALTHY".into())]);
    let e = r53.list_health_checks().send().await.expect_err("Route 53's API is signed for us-east-1");
    assert!(e.raw_response().is_none(), "{e:?}");
    local_aws(moto, "restore", PRIMARY);
    assert_eq!(accelerator_health(&ga, s).await, vec![(PRIMARY.into(), "HEALTHY".into()), (SECONDARY.into(), "HEALTHY".into())]);
}
