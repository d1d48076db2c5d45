//! The handlers over the REAL aws-sdk clients (the `clients.rs` implementations) against a
//! moto server: the API's health and item routes on DynamoDB + SSM, the replicator copying
//! between two regions, the processor writing to the table. Each test uses its own suffix.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_ssm::types::ParameterType;
use serde_json::{json, Value};
use tandem_core::aws::AwsContext;
use tandem_lambda::api::Api;
use tandem_lambda::clients::{Parameter, ParameterApi, TableApi};
use tandem_lambda::processor::Processor;
use tandem_lambda::replicator::Replicator;
use tandem_lambda::Settings;

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-east-2";

fn suffix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "lm{}{}{}",
        test,
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn settings(s: &str, region: &str, dest: &str, role: &str) -> Settings {
    Settings {
        region: region.into(),
        role: role.into(),
        table_name: format!("table-{s}"),
        parameter_path: format!("/tandem/{s}/"),
        dest_region: dest.into(),
        db_cluster_id: None,
        public_reads: false,
    }
}

async fn context() -> AwsContext {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
    tandem_core::testing::moto_context().await
}

fn dynamodb(aws: &AwsContext, region: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&aws.config(region))
}

fn ssm(aws: &AwsContext, region: &str) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&aws.config(region))
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .send()
        .await
        .unwrap();
}

/// The API key the moto API test stores (as its hash) and sends.
const API_KEY: &str = "moto-key-0123456789abcdefghijklmnopqrstuv";

fn apigw(method: &str, path: &str, body: Option<&str>) -> Value {
    json!({ "httpMethod": method, "path": path, "body": body, "isBase64Encoded": false,
            "headers": { "x-api-key": API_KEY }, "requestContext": { "stage": "v1" } })
}

fn body(r: &Value) -> Value {
    serde_json::from_str(r["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn real_clients_map_not_found_and_round_trip() {
    let aws = context().await;
    let s = suffix("c");
    let ddb = dynamodb(&aws, PRIMARY);
    let table = format!("table-{s}");

    // The trait methods (the aws-sdk clients have inherent methods of the same names).
    let t: &dyn TableApi = &ddb;
    let err = t.describe(&table).await.unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException", "{err}");
    create_table(&ddb, &table).await;
    t.describe(&table).await.unwrap();
    assert_eq!(t.get_item(&table, "item#1", "item").await.unwrap(), None);
    let item = [("pk", "item#1"), ("sk", "item"), ("data", "{}")]
        .map(|(k, v)| (k.to_string(), v.to_string()));
    t.put_item(&table, item.clone().into()).await.unwrap();
    assert_eq!(
        t.get_item(&table, "item#1", "item").await.unwrap(),
        Some(item.into())
    );
    assert!(t.delete_item(&table, "item#1", "item").await.unwrap());
    assert!(
        !t.delete_item(&table, "item#1", "item").await.unwrap(),
        "second delete reports nothing deleted"
    );

    let client = ssm(&aws, PRIMARY);
    let params: &dyn ParameterApi = &client;
    let name = format!("/tandem/{s}/api-key");
    assert_eq!(params.get(&name).await.unwrap(), None);
    let secret = Parameter {
        value: "s3cr3t".into(),
        kind: "SecureString".into(),
    };
    params.put(&name, &secret).await.unwrap();
    params.put(&name, &secret).await.unwrap(); // Overwrite: a second put is fine
    assert_eq!(
        params.get(&name).await.unwrap(),
        Some(secret),
        "decrypted value and type"
    );
    assert!(params.delete(&name).await.unwrap());
    assert!(
        !params.delete(&name).await.unwrap(),
        "ParameterNotFound on delete is reported as absent"
    );
}

#[tokio::test]
async fn api_health_and_items_over_moto() {
    let aws = context().await;
    let s = suffix("a");
    let ddb = dynamodb(&aws, SECONDARY);
    let api = Api {
        settings: settings(&s, SECONDARY, PRIMARY, "secondary"),
        table: Arc::new(ddb.clone()),
        parameters: Arc::new(ssm(&aws, SECONDARY)),
        database: None,
        writer_cache: Default::default(),
        key_cache: Default::default(),
    };

    // No table yet: 503 naming the table check.
    let r = api.handle(apigw("GET", "/health", None)).await;
    assert_eq!(r["statusCode"], 503, "{r}");
    assert_eq!(body(&r)["failed"]["table"], "failed", "{r}");
    assert_eq!(body(&r)["checks"]["parameters"], "failed", "no hash parameter yet: {r}");
    assert!(!r.to_string().contains("ResourceNotFound"), "no AWS error text: {r}");

    create_table(&ddb, &format!("table-{s}")).await;
    // The key's hash, as `parameters` writes it (a plain String, the only one the API reads).
    ssm(&aws, SECONDARY)
        .put_parameter()
        .name(format!("/tandem/{s}/api-key-sha256"))
        .value(tandem_lambda::api::key_sha256(API_KEY))
        .r#type(ParameterType::String)
        .send()
        .await
        .unwrap();
    let r = api.handle(apigw("GET", "/v1/health", None)).await;
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(
        body(&r),
        json!({ "region": SECONDARY, "role": "secondary", "status": "ok",
                "checks": { "table": "ok", "parameters": "ok" } })
    );

    // With DB_CLUSTER_ID the answer carries the database_writer check the failover probe
    // relies on (DescribeDBClusters of this region's cluster): missing cluster -> 503.
    let with_db = Api {
        settings: Settings {
            db_cluster_id: Some(format!("aurora-secondary-{s}")),
            ..settings(&s, SECONDARY, PRIMARY, "secondary")
        },
        table: Arc::new(ddb.clone()),
        parameters: Arc::new(ssm(&aws, SECONDARY)),
        database: Some(Arc::new(aws_sdk_rds::Client::new(&aws.config(SECONDARY)))),
        writer_cache: Default::default(),
        key_cache: Default::default(),
    };
    let r = with_db.handle(apigw("GET", "/health", None)).await;
    assert_eq!(r["statusCode"], 503, "{r}");
    assert_eq!(body(&r)["failed"]["database_writer"], "failed");

    // Without the key, or with another one, no item call reaches the table.
    let mut no_key = apigw("PUT", "/items/7", Some(r#"{"colour":"red"}"#));
    no_key["headers"] = json!({});
    assert_eq!(api.handle(no_key).await["statusCode"], 401);
    let mut wrong = apigw("PUT", "/items/7", Some(r#"{"colour":"red"}"#));
    wrong["headers"] = json!({ "x-api-key": "not-the-key" });
    assert_eq!(api.handle(wrong).await["statusCode"], 403);

    let r = api
        .handle(apigw("PUT", "/items/7", Some(r#"{"colour":"blue"}"#)))
        .await;
    assert_eq!(r["statusCode"], 200, "{r}");
    let r = api.handle(apigw("GET", "/items/7", None)).await;
    assert_eq!(body(&r)["data"], json!({ "colour": "blue" }), "{r}");
    // The item is really in the table.
    let raw = ddb
        .get_item()
        .table_name(format!("table-{s}"))
        .key("pk", AttributeValue::S("item#7".into()))
        .key("sk", AttributeValue::S("item".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.item().unwrap()["data"].as_s().unwrap(),
        r#"{"colour":"blue"}"#
    );
    assert_eq!(
        api.handle(apigw("DELETE", "/items/7", None)).await["statusCode"],
        200
    );
    assert_eq!(
        api.handle(apigw("GET", "/items/7", None)).await["statusCode"],
        404
    );
    assert_eq!(
        api.handle(apigw("PUT", "/items/7", Some("nope"))).await["statusCode"],
        400
    );
}

fn change(name: &str, operation: &str) -> Value {
    json!({ "version": "0", "id": "e1", "source": "aws.ssm", "detail-type": "Parameter Store Change",
            "region": PRIMARY, "time": "2026-11-25T07:00:00Z",
            "detail": { "name": name, "operation": operation, "type": "SecureString" } })
}

#[tokio::test]
async fn replicator_copies_between_regions_over_moto() {
    let aws = context().await;
    let s = suffix("r");
    let (source, dest) = (ssm(&aws, PRIMARY), ssm(&aws, SECONDARY));
    let r = Replicator {
        settings: settings(&s, PRIMARY, SECONDARY, "primary"),
        source: Arc::new(source.clone()),
        dest: Arc::new(dest.clone()),
    };
    let name = format!("/tandem/{s}/api-key");
    source
        .put_parameter()
        .name(&name)
        .value("k1")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    assert_eq!(
        r.handle(change(&name, "Create")).await.unwrap()["action"],
        "copied"
    );
    let copy = dest
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let p = copy.parameter().unwrap();
    assert_eq!(
        (p.value(), p.r#type()),
        (Some("k1"), Some(&ParameterType::SecureString))
    );
    assert_eq!(
        r.handle(change(&name, "Update")).await.unwrap()["action"],
        "unchanged",
        "replay is a no-op"
    );

    source
        .put_parameter()
        .name(&name)
        .value("k2")
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.handle(change(&name, "Update")).await.unwrap()["action"],
        "copied"
    );
    let copy = dest
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.parameter().unwrap().value(), Some("k2"));

    // Outside the path: ignored, nothing written in the destination.
    let outside = format!("/other/{s}");
    source
        .put_parameter()
        .name(&outside)
        .value("x")
        .r#type(ParameterType::String)
        .send()
        .await
        .unwrap();
    assert!(
        r.handle(change(&outside, "Create")).await.unwrap()["action"]
            .as_str()
            .unwrap()
            .starts_with("ignored")
    );
    assert!(dest.get_parameter().name(&outside).send().await.is_err());

    source.delete_parameter().name(&name).send().await.unwrap();
    assert_eq!(
        r.handle(change(&name, "Delete")).await.unwrap()["action"],
        "deleted"
    );
    assert!(
        dest.get_parameter().name(&name).send().await.is_err(),
        "gone in the destination"
    );
    assert_eq!(
        r.handle(change(&name, "Delete")).await.unwrap()["action"],
        "already-deleted"
    );
}

#[tokio::test]
async fn processor_records_events_over_moto() {
    let aws = context().await;
    let s = suffix("p");
    let ddb = dynamodb(&aws, PRIMARY);
    let table = format!("table-{s}");
    create_table(&ddb, &table).await;
    let p = Processor {
        settings: settings(&s, PRIMARY, SECONDARY, "primary"),
        table: Arc::new(ddb.clone()),
    };
    let event = json!({ "version": "0", "id": "ev-9", "source": "tandem.orders", "detail-type": "OrderPlaced",
                        "time": "2026-11-25T07:00:00Z", "region": PRIMARY, "detail": { "order": 9 } });
    p.handle(event).await.unwrap();
    let item = ddb
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("event#tandem.orders".into()))
        .key("sk", AttributeValue::S("2026-11-25T07:00:00Z#ev-9".into()))
        .send()
        .await
        .unwrap();
    let item = item.item().expect("event recorded");
    assert_eq!(item["detail"].as_s().unwrap(), r#"{"order":9}"#);
    assert_eq!(item["detail_type"].as_s().unwrap(), "OrderPlaced");
}

// ---- the failover controller over the emulator's Aurora global failover and CloudWatch ----

/// A URL that refuses connections at once (nothing listens on it): the primary is "down".
fn dead_url() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    format!("http://127.0.0.1:{port}/health")
}

/// The failover handler and the probe over the real aws-sdk clients: the decision alarm
/// (`PrimaryDown`, Maximum >= 1 for 3 of 3 minutes, missing data not breaching) in ALARM
/// from 3 backfilled minutes of PrimaryDown = 1 in one PutMetricData (as `tandem failover`
/// sends them), no replicated writes for 3 minutes, the primary's URLs refusing
/// connections: the handler fails the global cluster over (FailoverGlobalCluster,
/// AllowDataLoss), the writer moves and FailedOver = 1 is published; the lost-writes
/// snapshot is copied (then or on the `snapshot` follow-up) and a second follow-up finds
/// the copy; the probe then publishes PrimaryHealthy = 0 and PrimaryDown = 1 (probe failing
/// + the stall), reads the forced flag through the real SSM client, and does not re-invoke
/// (the writer moved).
#[tokio::test]
async fn failover_handler_fails_over_on_the_emulator() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, Statistic};
    use std::time::{Duration, SystemTime};
    use tandem_lambda::clients::{AuroraApi, MetricsApi, ProbeHttp};
    use tandem_lambda::failover::Failover;
    use tandem_lambda::probe::Probe;
    use tandem_lambda::{FailoverSettings, PrimaryEndpoints, ProbeSettings};

    let aws = context().await;
    let s = suffix("f");
    let rds1 = aws_sdk_rds::Client::new(&aws.config(PRIMARY));
    let rds2 = aws_sdk_rds::Client::new(&aws.config(SECONDARY));
    let cw = aws_sdk_cloudwatch::Client::new(&aws.config(SECONDARY));
    let sns = aws_sdk_sns::Client::new(&aws.config(SECONDARY));
    let ssm2 = ssm(&aws, SECONDARY);

    let global = format!("aurora-global-{s}");
    rds1.create_global_cluster()
        .global_cluster_identifier(&global)
        .engine("aurora-postgresql")
        .engine_version("16.6")
        .send()
        .await
        .unwrap();
    let cluster = |client: &aws_sdk_rds::Client, id: String, master: bool| {
        let mut req = client
            .create_db_cluster()
            .db_cluster_identifier(id)
            .global_cluster_identifier(&global)
            .engine("aurora-postgresql")
            .engine_version("16.6")
            .engine_mode("provisioned");
        if master {
            req = req
                .master_username("tandem")
                .master_user_password("not-a-secret-123");
        }
        req.send()
    };
    let primary_arn = cluster(&rds1, format!("aurora-primary-{s}"), true)
        .await
        .unwrap()
        .db_cluster()
        .and_then(|c| c.db_cluster_arn())
        .unwrap()
        .to_string();
    let secondary_id = format!("aurora-secondary-{s}");
    let secondary_arn = cluster(&rds2, secondary_id.clone(), false)
        .await
        .unwrap()
        .db_cluster()
        .and_then(|c| c.db_cluster_arn())
        .unwrap()
        .to_string();
    let view = AuroraApi::describe_global_cluster(&rds2, &global)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view.writer_arn.as_deref(),
        Some(primary_arn.as_str()),
        "{view:?}"
    );
    assert_eq!(view.failover_status, None);
    assert_eq!(
        AuroraApi::cluster_status(&rds1, &format!("aurora-primary-{s}"))
            .await
            .unwrap()
            .as_deref(),
        Some("available")
    );
    assert_eq!(
        AuroraApi::cluster_status(&rds1, "no-such-cluster")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        AuroraApi::describe_global_cluster(&rds2, "no-such-global")
            .await
            .unwrap(),
        None
    );

    // The decision alarm: PrimaryDown (Maximum) >= 1 for 3 of 3 minutes.
    let alarm = format!("tandem-{s}-failover-decision");
    let stack_dim = Dimension::builder().name("Stack").value(&s).build();
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace("Tandem/Failover")
        .metric_name("PrimaryDown")
        .dimensions(stack_dim.clone())
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(3)
        .datapoints_to_alarm(3)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .send()
        .await
        .unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let at = |secs_ago: i64| aws_smithy_types::DateTime::from_secs(now - secs_ago);
    for ago in [20, 80, 140, 200] {
        cw.put_metric_data()
            .namespace("AWS/RDS")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("AuroraGlobalDBReplicatedWriteIO")
                    .dimensions(
                        Dimension::builder()
                            .name("DBClusterIdentifier")
                            .value(&secondary_id)
                            .build(),
                    )
                    .value(0.0)
                    .timestamp(at(ago))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    // PrimaryDown = 1 for now, now - 1 min, now - 2 min in one call (the CLI's backfill).
    let mut backfill = cw.put_metric_data().namespace("Tandem/Failover");
    for minutes_ago in [2, 1, 0] {
        backfill = backfill.metric_data(
            MetricDatum::builder()
                .metric_name("PrimaryDown")
                .dimensions(stack_dim.clone())
                .value(1.0)
                .timestamp(at(60 * minutes_ago))
                .build(),
        );
    }
    backfill.send().await.unwrap();
    let state = MetricsApi::alarm_state(&cw, &alarm).await.unwrap().unwrap();
    assert_eq!(state.value, "ALARM", "{state:?}");
    assert!(now - state.since < 120, "{state:?}");
    assert_eq!(
        MetricsApi::alarm_state(&cw, "no-such-alarm").await.unwrap(),
        None
    );

    let topic_arn = sns
        .create_topic()
        .name(format!("tandem-{s}-alerts"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let primary = PrimaryEndpoints {
        health_url: dead_url(),
        nlb_url: dead_url(),
        nlb_address: None,
    };
    let failover = Failover {
        settings: FailoverSettings {
            region: SECONDARY.into(),
            stack: s.clone(),
            primary: primary.clone(),
            decision_alarm: alarm.clone(),
            global_cluster_id: global.clone(),
            primary_cluster_arn: primary_arn.clone(),
            secondary_cluster_arn: secondary_arn.clone(),
            alert_topic_arn: topic_arn,
            automatic: true,
            alarm_max_age_secs: 900,
            stall_lag_ms: 60_000.0,
            failover_wait_secs: 30,
        },
        api_http: Arc::new(ProbeHttp::new(Duration::from_secs(2), None)),
        nlb_http: Arc::new(ProbeHttp::new(Duration::from_secs(2), None)),
        metrics: Arc::new(cw.clone()),
        aurora: Arc::new(rds2.clone()),
        primary_aurora: Arc::new(rds1.clone()),
        parameters: Arc::new(ssm2.clone()),
        topic: Arc::new(sns.clone()),
    };

    // A dry run decides and changes nothing.
    let out = failover.handle(json!({"dry_run": true})).await.unwrap();
    assert_eq!(out["decision"], "fail-over", "{out}");
    let view = AuroraApi::describe_global_cluster(&rds2, &global)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.writer_arn.as_deref(), Some(primary_arn.as_str()));

    let out = failover
        .handle(json!({"source": "aws.cloudwatch", "alarmData": {"alarmName": alarm, "state": {"value": "ALARM"}}}))
        .await
        .unwrap();
    assert_eq!(out["decision"], "fail-over", "{out}");
    assert_eq!(out["failover"], "started", "{out}");
    assert_eq!(out["writer_moved"], true, "{out}");
    assert_eq!(out["failed_over_metric"], "FailedOver=1 published", "{out}");
    let view = AuroraApi::describe_global_cluster(&rds2, &global)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        view.writer_arn.as_deref(),
        Some(secondary_arn.as_str()),
        "{view:?}"
    );

    // The follow-up copies the lost-writes snapshot (if the failover run did not yet) and
    // finds the copy the second time.
    let mut copied = out["snapshot"]
        .as_str()
        .unwrap_or_default()
        .contains("copied to the manual");
    for _ in 0..2 {
        let out = failover
            .handle(json!({"source": "snapshot"}))
            .await
            .unwrap();
        assert_eq!(out["decision"], "hold:already-failed-over", "{out}");
        let said = out["snapshot"].as_str().unwrap().to_string();
        if copied {
            assert!(said.contains("already copied"), "{said}");
        }
        copied |= said.contains("copied to the manual");
    }
    assert!(copied);
    let manual: Vec<String> = AuroraApi::cluster_snapshots(&rds1, &format!("aurora-primary-{s}"))
        .await
        .unwrap()
        .into_iter()
        .map(|snap| snap.id)
        .collect();
    assert!(
        manual
            .iter()
            .any(|id| id.starts_with(&format!("tandem-{s}-lost-writes-"))),
        "{manual:?}"
    );

    // The probe: the primary still refuses connections -> PrimaryHealthy 0, and with the
    // seeded stall PrimaryDown 1; the alarm is still ALARM but the writer moved: no
    // re-invocation (so no Lambda function is needed here).
    let probe = Probe {
        settings: ProbeSettings {
            region: SECONDARY.into(),
            stack: s.clone(),
            primary,
            decision_alarm: alarm.clone(),
            global_cluster_id: global.clone(),
            primary_cluster_arn: primary_arn.clone(),
            failover_function: format!("tandem-{s}-failover"),
            secondary_cluster_arn: secondary_arn.clone(),
            stall_lag_ms: 60_000.0,
        },
        api_http: Arc::new(ProbeHttp::new(Duration::from_secs(2), None)),
        nlb_http: Arc::new(ProbeHttp::new(Duration::from_secs(2), None)),
        metrics: Arc::new(cw.clone()),
        aurora: Arc::new(rds2.clone()),
        functions: Arc::new(aws_sdk_lambda::Client::new(&aws.config(SECONDARY))),
        parameters: Arc::new(ssm2.clone()),
    };
    let out = probe.handle(json!({})).await.unwrap();
    assert_eq!(out["primary_healthy"], 0, "{out}");
    assert_eq!(out["primary_down"], 1, "{out}");
    assert_eq!(out["forced"], false, "{out}");
    assert!(
        out["reinvoked"].as_str().unwrap().contains("already"),
        "{out}"
    );
    // The forced flag, read through the real SSM client in this region.
    ssm2.put_parameter()
        .name(format!("/tandem/{s}/failover/forced"))
        .value("true")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let out = probe.handle(json!({})).await.unwrap();
    assert_eq!(out["forced"], true, "{out}");
    assert_eq!(out["primary_down"], 1, "{out}");

    let series = |metric: &'static str| {
        let cw = cw.clone();
        let s = s.clone();
        async move {
            MetricsApi::metric_points(
                &cw,
                &tandem_lambda::clients::MetricQuery {
                    namespace: "Tandem/Failover".into(),
                    metric: metric.into(),
                    dimensions: vec![("Stack".into(), s)],
                    statistic: "Maximum".into(),
                    period_secs: 60,
                    start: now - 600,
                    end: now + 120,
                },
            )
            .await
            .unwrap()
        }
    };
    let healthy = series("PrimaryHealthy").await;
    assert!(
        !healthy.is_empty() && healthy.iter().all(|p| p.value == 0.0),
        "{healthy:?}"
    );
    let down = series("PrimaryDown").await;
    assert!(
        down.len() >= 3 && down.iter().all(|p| p.value == 1.0),
        "{down:?}"
    );
    let failed_over = series("FailedOver").await;
    assert!(
        !failed_over.is_empty() && failed_over.iter().all(|p| p.value == 1.0),
        "{failed_over:?}"
    );
}
