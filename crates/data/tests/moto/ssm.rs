//! `parameters` and `parameter-replication` against moto, with synthetic dependency outputs
//! (Aurora, table, buckets) and a real (moto) replicator function.

use tandem_core::aws::AwsContext;
use tandem_core::contracts::{
    AuroraOutputs, BucketOutputs, FunctionsOutputs, ParameterReplicationOutputs, ParametersOutputs, TableOutputs,
};
use tandem_core::{from_outputs, to_outputs, Config, Drift, Outputs};
use tandem_data::{ssm, ssm_replication};

use super::{apply_again_is_a_no_op, assert_declared_outputs, ctx_for, setup, state_after, suffix};

fn aurora(role: &str, sfx: &str) -> Outputs {
    to_outputs(&AuroraOutputs {
        global_cluster_id: format!("aurora-global-{sfx}"),
        cluster_id: format!("aurora-{role}-{sfx}"),
        cluster_arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:aurora-{role}-{sfx}"),
        writer_endpoint: format!("aurora-{role}-{sfx}.cluster-x.us-east-1.rds.amazonaws.com"),
        reader_endpoint: format!("aurora-{role}-{sfx}.cluster-ro-x.us-east-1.rds.amazonaws.com"),
        instance_id: format!("aurora-{role}-{sfx}-1"),
        port: 5432,
        password_parameter: (role == "primary").then(|| format!("/tandem/{sfx}/db/master-password")),
        global_writer_endpoint: format!("aurora-global-{sfx}.global-x.global.rds.amazonaws.com"),
    })
}

fn bucket(role: &str, sfx: &str) -> Outputs {
    to_outputs(&BucketOutputs {
        bucket_name: format!("bucket-{role}-{sfx}"),
        bucket_arn: format!("arn:aws:s3:::bucket-{role}-{sfx}"),
        replication_role_arn: None,
        replication_rule_id: None,
    })
}

fn table(sfx: &str) -> Outputs {
    to_outputs(&TableOutputs {
        table_name: format!("table-{sfx}"),
        table_arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/table-{sfx}"),
        stream_arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/table-{sfx}/stream/x"),
        replica_regions: vec!["us-east-2".into()],
    })
}

/// All parameters under `path` in `region`: name → (type, decrypted value).
async fn params(aws: &AwsContext, region: &str, path: &str) -> std::collections::BTreeMap<String, (String, String)> {
    let c = aws_sdk_ssm::Client::new(&aws.config(region));
    let mut out = std::collections::BTreeMap::new();
    let mut token = None;
    loop {
        let page = c
            .get_parameters_by_path()
            .path(path.trim_end_matches('/'))
            .recursive(true)
            .with_decryption(true)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        for p in page.parameters() {
            out.insert(
                p.name().unwrap().to_string(),
                (p.r#type().unwrap().as_str().to_string(), p.value().unwrap().to_string()),
            );
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_and_replication_rule_lifecycle() {
    setup();
    let aws = tandem_core::testing::moto_context().await;
    let sfx = suffix("ssm");
    let cfg = Config::example(&sfx);
    let path = format!("/tandem/{sfx}/");
    let ssm_p = aws_sdk_ssm::Client::new(&aws.config("us-east-1"));
    let ssm_s = aws_sdk_ssm::Client::new(&aws.config("us-east-2"));

    // What aurora-primary writes, and a stale copy in the secondary.
    let password = format!("{sfx}-Secret-Value");
    ssm_p
        .put_parameter()
        .name(format!("{path}db/master-password"))
        .value(&password)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    // In the secondary: a stale copy Tandem put there (it carries the marker), and a parameter
    // written there during an outage of the primary (no marker).
    ssm_s
        .put_parameter()
        .name(format!("{path}stale"))
        .value("x")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .tags(aws_sdk_ssm::types::Tag::builder().key(ssm::REPLICATED_FROM_TAG).value("us-east-1").build().unwrap())
        .send()
        .await
        .unwrap();
    let outage_write = format!("{path}outage/order-cutoff");
    ssm_s.put_parameter().name(&outage_write).value("2024-06-01").r#type(aws_sdk_ssm::types::ParameterType::String).send().await.unwrap();

    let comps = ssm::components(&cfg, &aws);
    let pc = comps[0].as_ref();
    assert_eq!(pc.id(), "parameters");
    let (ap, asec, t, bp, bs) = (aurora("primary", &sfx), aurora("secondary", &sfx), table(&sfx), bucket("primary", &sfx), bucket("secondary", &sfx));
    let inputs = [
        ("aurora-primary", &ap),
        ("aurora-secondary", &asec),
        ("table", &t),
        ("bucket-primary", &bp),
        ("bucket-secondary", &bs),
    ];
    let ctx = ctx_for(pc, &inputs, None);
    let out = pc.apply(&ctx).await.unwrap();
    assert_declared_outputs(pc, &out);
    let state = state_after(pc, &ctx, &out).await;
    let po: ParametersOutputs = from_outputs(&out).unwrap();
    assert_eq!(po.path, path);
    assert_eq!(po.api_key_parameter, format!("{path}api-key"));

    let primary = params(&aws, "us-east-1", &path).await;
    for name in &po.names {
        assert!(primary.contains_key(name), "{name} in the primary");
    }
    // The global writer endpoint, not the primary cluster's own.
    assert_eq!(primary[&format!("{path}db/writer-endpoint")], ("String".into(), format!("aurora-global-{sfx}.global-x.global.rds.amazonaws.com")));
    assert_eq!(primary[&format!("{path}db/port")].1, "5432");
    assert_eq!(primary[&format!("{path}dynamodb/table-name")].1, format!("table-{sfx}"));
    assert_eq!(primary[&format!("{path}s3/primary-bucket")].1, format!("bucket-primary-{sfx}"));
    let (kind, key) = &primary[&po.api_key_parameter];
    assert_eq!(kind, "SecureString");
    assert_eq!(key.len(), ssm::API_KEY_LEN);
    let flags: serde_json::Value = serde_json::from_str(&primary[&format!("{path}feature-flags")].1).unwrap();
    assert_eq!(flags, ssm::default_feature_flags());
    // The secondary holds the same parameters (SecureStrings re-encrypted there), the stale
    // marked copy is gone, and the outage write is kept (and not copied to the primary).
    let mut secondary = params(&aws, "us-east-2", &path).await;
    assert_eq!(secondary.remove(&outage_write), Some(("String".into(), "2024-06-01".into())), "outage write kept");
    assert!(!primary.contains_key(&outage_write), "never copied back");
    assert_eq!(secondary, primary, "secondary reconciled");
    assert_eq!(secondary[&format!("{path}db/master-password")], ("SecureString".into(), password.clone()));
    // Every copy carries the marker, through the raw SDK; the primary's parameters do not.
    for name in primary.keys() {
        assert_eq!(replicated_from(&ssm_s, name).await.as_deref(), Some("us-east-1"), "{name}");
        assert_eq!(replicated_from(&ssm_p, name).await, None, "{name}");
    }
    assert_eq!(replicated_from(&ssm_s, &outage_write).await, None);
    // No secret in outputs or journal.
    let recorded = format!("{out:?} {:?} {:?}", state.resources, pc.desired());
    assert!(!recorded.contains(key.as_str()) && !recorded.contains(&password), "{recorded}");

    apply_again_is_a_no_op(pc, &inputs, state.clone()).await;
    assert_eq!(pc.read(&ctx_for(pc, &inputs, Some(state.clone()))).await.unwrap(), Drift::InSync);

    // A copy the replicator made (PutParameter with Overwrite: no tags) is marked by the next
    // apply; once its original is deleted from the primary, the copy goes, the outage write
    // stays.
    let later = format!("{path}app/setting");
    for c in [&ssm_p, &ssm_s] {
        c.put_parameter().name(&later).value("v").r#type(aws_sdk_ssm::types::ParameterType::String).overwrite(true).send().await.unwrap();
    }
    let ctx2 = ctx_for(pc, &inputs, Some(state.clone()));
    assert_eq!(pc.apply(&ctx2).await.unwrap(), out);
    assert_eq!(replicated_from(&ssm_s, &later).await.as_deref(), Some("us-east-1"));
    ssm_p.delete_parameter().name(&later).send().await.unwrap();
    assert!(matches!(pc.read(&ctx2).await.unwrap(), Drift::Drifted { .. }), "stale copy is drift");
    assert_eq!(pc.apply(&ctx2).await.unwrap(), out);
    let secondary = params(&aws, "us-east-2", &path).await;
    assert!(!secondary.contains_key(&later), "stale marked copy deleted");
    assert!(secondary.contains_key(&outage_write), "outage write still kept");
    assert_eq!(pc.read(&ctx2).await.unwrap(), Drift::InSync);

    // During an outage of the primary, an operator changes a flag the primary also holds, in
    // the secondary: the next apply keeps it (LastModifiedDate later than the primary's), and
    // it is not drift. Once the wanted value is written in the primary, it is copied again.
    let flags_name = format!("{path}feature-flags");
    let outage_flags = r#"{"read_only":true}"#;
    ssm_s.put_parameter().name(&flags_name).value(outage_flags).r#type(aws_sdk_ssm::types::ParameterType::String).overwrite(true).send().await.unwrap();
    assert_eq!(pc.apply(&ctx2).await.unwrap(), out);
    assert_eq!(params(&aws, "us-east-2", &path).await[&flags_name].1, outage_flags, "the outage write to an existing parameter is kept");
    assert_eq!(pc.read(&ctx2).await.unwrap(), Drift::InSync, "a kept outage write is not drift");
    let decided = r#"{"read_only":false}"#;
    ssm_p.put_parameter().name(&flags_name).value(decided).r#type(aws_sdk_ssm::types::ParameterType::String).overwrite(true).send().await.unwrap();
    assert_eq!(pc.apply(&ctx2).await.unwrap(), out);
    assert_eq!(params(&aws, "us-east-2", &path).await[&flags_name].1, decided, "the primary's newer value is copied");

    // The replication rule, targeting a real (moto) replicator function.
    let function_name = format!("replicator-primary-{sfx}");
    let function_arn = create_function(&aws, "us-east-1", &function_name).await;
    let fo = to_outputs(&FunctionsOutputs {
        api_function_name: "unused".into(),
        api_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:unused".into(),
        processor_function_name: "unused".into(),
        processor_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:unused".into(),
        replicator_function_name: function_name.clone(),
        replicator_function_arn: function_arn.clone(),
        code_sha256: "0".into(),
    });
    let rc = ssm_replication::components(&cfg, &aws);
    let rc = rc[0].as_ref();
    assert_eq!(rc.dependencies(), vec!["functions-primary".to_string(), "parameters".to_string()]);
    let rinputs = [("functions-primary", &fo), ("parameters", &out)];
    let rctx = ctx_for(rc, &rinputs, None);
    let rout = rc.apply(&rctx).await.unwrap();
    assert_declared_outputs(rc, &rout);
    let rstate = state_after(rc, &rctx, &rout).await;
    let ro: ParameterReplicationOutputs = from_outputs(&rout).unwrap();
    assert_eq!(ro.rule_name, format!("ssm-replication-{sfx}"));

    let events = aws_sdk_eventbridge::Client::new(&aws.config("us-east-1"));
    let rule = events.describe_rule().name(&ro.rule_name).send().await.unwrap();
    assert_eq!(rule.arn(), Some(ro.rule_arn.as_str()));
    assert_eq!(rule.state().map(|s| s.as_str()), Some("ENABLED"));
    let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
    assert_eq!(pattern["source"], serde_json::json!(["aws.ssm"]));
    assert_eq!(pattern["detail-type"], serde_json::json!(["Parameter Store Change"]));
    assert_eq!(pattern["detail"]["operation"], serde_json::json!(["Create", "Update", "Delete"]));
    assert_eq!(pattern["detail"]["name"], serde_json::json!([{ "prefix": path }]));
    let targets = events.list_targets_by_rule().rule(&ro.rule_name).send().await.unwrap();
    assert_eq!(targets.targets().len(), 1);
    assert_eq!(targets.targets()[0].arn(), function_arn);
    let lambda = aws_sdk_lambda::Client::new(&aws.config("us-east-1"));
    let policy = lambda.get_policy().function_name(&function_arn).send().await.unwrap();
    let policy = policy.policy().unwrap();
    assert!(policy.contains("events.amazonaws.com") && policy.contains(&ro.rule_arn) && policy.contains(&ro.rule_name), "{policy}");

    apply_again_is_a_no_op(rc, &rinputs, rstate.clone()).await;
    assert_eq!(rc.read(&ctx_for(rc, &rinputs, Some(rstate.clone()))).await.unwrap(), Drift::InSync);

    // Destroy in reverse dependency order: the rule, then the parameters.
    rc.destroy(&ctx_for(rc, &rinputs, Some(rstate.clone()))).await.unwrap();
    assert!(events.describe_rule().name(&ro.rule_name).send().await.is_err(), "rule deleted");
    let policy = lambda.get_policy().function_name(&function_arn).send().await;
    assert!(policy.map(|p| !p.policy().unwrap_or_default().contains(&ro.rule_name)).unwrap_or(true), "permission removed");
    rc.destroy(&ctx_for(rc, &rinputs, None)).await.unwrap();

    pc.destroy(&ctx_for(pc, &inputs, Some(state.clone()))).await.unwrap();
    let left = params(&aws, "us-east-1", &path).await;
    assert_eq!(left.keys().cloned().collect::<Vec<_>>(), vec![format!("{path}db/master-password")], "only aurora's parameter stays");
    assert!(params(&aws, "us-east-2", &path).await.is_empty(), "every secondary copy deleted");
    pc.destroy(&ctx_for(pc, &inputs, None)).await.unwrap();

    ssm_p.delete_parameter().name(format!("{path}db/master-password")).send().await.unwrap();
    lambda.delete_function().function_name(&function_name).send().await.unwrap();
}

/// The marker tag's value on parameter `name` (ListTagsForResource).
async fn replicated_from(c: &aws_sdk_ssm::Client, name: &str) -> Option<String> {
    let out = c
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .unwrap();
    out.tag_list().iter().find(|t| t.key() == ssm::REPLICATED_FROM_TAG).map(|t| t.value().to_string())
}

/// A minimal Lambda function in moto (its resource policy is what the component manages).
async fn create_function(aws: &AwsContext, region: &str, name: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&aws.config("us-east-1"));
    let role_name = format!("role-{name}");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role_arn = match iam.create_role().role_name(&role_name).assume_role_policy_document(trust).send().await {
        Ok(r) => r.role().map(|r| r.arn().to_string()).unwrap(),
        Err(_) => iam.get_role().role_name(&role_name).send().await.unwrap().role().unwrap().arn().to_string(),
    };
    let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
    let out = lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role_arn)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(stored_zip("bootstrap", b"#!/bin/sh\necho ok\n")))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.function_arn().unwrap().to_string()
}

/// A one-file ZIP archive (stored, no compression), written by hand.
fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let crc = crc32(data);
    let (n, len) = (name.len() as u16, data.len() as u32);
    let mut out = Vec::new();
    let common = |v: &mut Vec<u8>| {
        v.extend(20u16.to_le_bytes()); // version needed
        v.extend(0u16.to_le_bytes()); // flags
        v.extend(0u16.to_le_bytes()); // stored
        v.extend(0u16.to_le_bytes()); // time
        v.extend(0x21u16.to_le_bytes()); // date 1980-01-01
        v.extend(crc.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend(len.to_le_bytes());
        v.extend(n.to_le_bytes());
        v.extend(0u16.to_le_bytes()); // extra
    };
    out.extend(0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend(name.as_bytes());
    out.extend(data);
    let cd_offset = out.len() as u32;
    let mut cd = Vec::new();
    cd.extend(0x0201_4b50u32.to_le_bytes());
    cd.extend((3u16 << 8 | 20).to_le_bytes()); // made by unix
    common(&mut cd);
    cd.extend(0u16.to_le_bytes()); // comment
    cd.extend(0u16.to_le_bytes()); // disk
    cd.extend(0u16.to_le_bytes()); // internal attrs
    cd.extend((0o100_755u32 << 16).to_le_bytes()); // external attrs: -rwxr-xr-x
    cd.extend(0u32.to_le_bytes()); // local header offset
    cd.extend(name.as_bytes());
    let cd_len = cd.len() as u32;
    out.extend(cd);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(cd_len.to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}
