//! The `table` component against the emulator: the table in us-east-1 and its 2019.11.21
//! replica in us-east-2 (served by the emulator's extension, emulator/dynamodb.py), each
//! inventoried with the raw SDK in its own region, an item written in one region read in the
//! other, then destroy (replica first) leaving neither.

use tandem_core::contracts::TableOutputs;
use tandem_core::{from_outputs, Config, Drift};
use tandem_data::dynamodb;

use super::{apply_again_is_a_no_op, assert_declared_outputs, ctx_for, setup, state_after, suffix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_table_with_replica_lifecycle() {
    setup();
    let aws = tandem_core::testing::moto_context().await;
    let sfx = suffix("ddb");
    let cfg = Config::example(&sfx);
    let all = dynamodb::components(&cfg, &aws);
    let table = all[0].as_ref();
    assert_eq!(table.id(), "table");

    let ctx = ctx_for(table, &[], None);
    let out = table.apply(&ctx).await.unwrap();
    assert_declared_outputs(table, &out);
    let state = state_after(table, &ctx, &out).await;
    let t: TableOutputs = from_outputs(&out).unwrap();
    assert_eq!(t.table_name, format!("table-{sfx}"));
    assert_eq!(t.replica_regions, vec!["us-east-2".to_string()]);
    assert!(!t.stream_arn.is_empty());

    let ddb = aws_sdk_dynamodb::Client::new(&aws.config("us-east-1"));
    let d = ddb.describe_table().table_name(&t.table_name).send().await.unwrap();
    let d = d.table().unwrap();
    assert_eq!(d.table_arn(), Some(t.table_arn.as_str()));
    assert_eq!(d.table_status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(d.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str()), Some("PAY_PER_REQUEST"));
    let stream = d.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type().map(|v| v.as_str()), Some("NEW_AND_OLD_IMAGES"));
    assert_eq!(d.latest_stream_arn(), Some(t.stream_arn.as_str()));
    assert_eq!(d.sse_description().and_then(|s| s.status()).map(|s| s.as_str()), Some("ENABLED"));
    assert_ne!(d.deletion_protection_enabled(), Some(true));
    let mut keys: Vec<(String, String)> =
        d.key_schema().iter().map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string())).collect();
    keys.sort();
    assert_eq!(keys, vec![("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]);
    let pitr = ddb.describe_continuous_backups().table_name(&t.table_name).send().await.unwrap();
    let pitr = pitr
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_string());
    assert_eq!(pitr.as_deref(), Some("ENABLED"));
    let tags = ddb.list_tags_of_resource().resource_arn(&t.table_arn).send().await.unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&("tandem:stack", sfx.as_str())), "{tags:?}");
    assert!(tags.contains(&("Name", t.table_name.as_str())), "{tags:?}");
    let replicas: Vec<(Option<&str>, Option<&str>)> =
        d.replicas().iter().map(|r| (r.region_name(), r.replica_status().map(|s| s.as_str()))).collect();
    assert_eq!(replicas, vec![(Some("us-east-2"), Some("ACTIVE"))], "the primary lists its replica");

    // The replica is a real table in us-east-2, and items written in either region are read
    // in the other.
    let ddb2 = aws_sdk_dynamodb::Client::new(&aws.config("us-east-2"));
    let r = ddb2.describe_table().table_name(&t.table_name).send().await.expect("replica table in us-east-2");
    let r = r.table().expect("replica description");
    assert_eq!(r.table_status().map(|s| s.as_str()), Some("ACTIVE"));
    assert!(r.table_arn().is_some_and(|a| a.contains(":us-east-2:")), "{:?}", r.table_arn());
    use aws_sdk_dynamodb::types::AttributeValue;
    let item = |pk: &str| [("pk".to_string(), AttributeValue::S(pk.into())), ("sk".to_string(), AttributeValue::S("v".into()))].into_iter().collect::<std::collections::HashMap<_, _>>();
    ddb.put_item().table_name(&t.table_name).set_item(Some(item("from-primary"))).send().await.expect("put in us-east-1");
    ddb2.put_item().table_name(&t.table_name).set_item(Some(item("from-secondary"))).send().await.expect("put in us-east-2");
    let read = |client: aws_sdk_dynamodb::Client, pk: &'static str| {
        let name = t.table_name.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let got = client.get_item().table_name(&name).set_key(Some(item(pk))).consistent_read(true).send().await.expect("get item");
                if got.item().is_some() || std::time::Instant::now() > deadline {
                    return got.item().is_some();
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    assert!(read(ddb2.clone(), "from-primary").await, "an item written in us-east-1 is read in us-east-2");
    assert!(read(ddb.clone(), "from-secondary").await, "an item written in us-east-2 is read in us-east-1");

    // Second apply (a new process).
    let fresh = dynamodb::components(&cfg, &aws);
    apply_again_is_a_no_op(fresh[0].as_ref(), &[], state.clone()).await;
    assert_eq!(fresh[0].read(&ctx_for(table, &[], Some(state.clone()))).await.unwrap(), Drift::InSync);

    // Destroy: replica, then table.
    table.destroy(&ctx_for(table, &[], Some(state.clone()))).await.unwrap();
    let e = ddb.describe_table().table_name(&t.table_name).send().await.unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    let e = ddb2.describe_table().table_name(&t.table_name).send().await.unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception(), "the replica is gone too");
    assert!(matches!(table.read(&ctx_for(table, &[], None)).await.unwrap(), Drift::Missing { .. }));
    table.destroy(&ctx_for(table, &[], None)).await.unwrap();
}
