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

fn apigw(method: &str, path: &str, body: Option<&str>) -> Value {
    json!({ "httpMethod": method, "path": path, "body": body, "isBase64Encoded": false,
            "requestContext": { "stage": "v1" } })
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
    params.check_path(&format!("/tandem/{s}/")).await.unwrap();
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
    };

    // No table yet: 503 naming the table check.
    let r = api.handle(apigw("GET", "/health", None)).await;
    assert_eq!(r["statusCode"], 503, "{r}");
    assert!(
        body(&r)["failed"]["table"]
            .as_str()
            .unwrap()
            .contains("ResourceNotFound"),
        "{r}"
    );

    create_table(&ddb, &format!("table-{s}")).await;
    let r = api.handle(apigw("GET", "/v1/health", None)).await;
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(
        body(&r),
        json!({ "region": SECONDARY, "role": "secondary", "status": "ok" })
    );

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
