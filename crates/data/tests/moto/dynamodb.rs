//! The `table` component against moto with `simulate = ["dynamodb-replicas"]`: the table is
//! real (moto), the replica simulated (moto accepts ReplicaUpdates but creates nothing).

use tandem_core::contracts::TableOutputs;
use tandem_core::{from_outputs, Config, Drift};
use tandem_data::dynamodb;

use super::{apply_again_is_a_no_op, assert_declared_outputs, ctx_for, setup, state_after, suffix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_table_with_simulated_replica_lifecycle() {
    setup();
    let aws = tandem_core::testing::moto_context().await;
    let sfx = suffix("ddb");
    let mut cfg = Config::example(&sfx);
    cfg.simulate = vec!["dynamodb-replicas".into()];
    let all = dynamodb::components(&cfg, &aws);
    let table = all[0].as_ref();
    assert_eq!(table.id(), "table");
    assert!(table.simulated());

    let ctx = ctx_for(table, &[], None);
    let out = table.apply(&ctx).await.unwrap();
    assert_declared_outputs(table, &out);
    let state = state_after(table, &ctx, &out).await;
    let t: TableOutputs = from_outputs(&out).unwrap();
    assert_eq!(t.table_name, format!("table-{sfx}"));
    assert!(t.replica_simulated);
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
    assert!(tags.contains(&("tandem:simulated-replica:us-east-2", "ACTIVE")), "simulated replica recorded: {tags:?}");

    // Second apply (a new process: the fake reads the replica back from the table's tags).
    let fresh = dynamodb::components(&cfg, &aws);
    apply_again_is_a_no_op(fresh[0].as_ref(), &[], state.clone()).await;
    assert_eq!(fresh[0].read(&ctx_for(table, &[], Some(state.clone()))).await.unwrap(), Drift::InSync);

    // Destroy: replica, then table.
    table.destroy(&ctx_for(table, &[], Some(state.clone()))).await.unwrap();
    let e = ddb.describe_table().table_name(&t.table_name).send().await.unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    assert!(matches!(table.read(&ctx_for(table, &[], None)).await.unwrap(), Drift::Missing { .. }));
    table.destroy(&ctx_for(table, &[], None)).await.unwrap();
}
