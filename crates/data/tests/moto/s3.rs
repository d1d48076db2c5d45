//! The bucket components against moto: both buckets, the replication role and the CRR
//! configuration; apply twice, destroy (with versions and delete markers in the bucket),
//! check gone, destroy again.

use tandem_core::aws::AwsContext;
use tandem_core::contracts::BucketOutputs;
use tandem_core::{from_outputs, Config, Drift};
use tandem_data::s3::{self, tls_only_policy, REPLICATION_POLICY_NAME, REPLICATION_RULE_ID};

use super::{apply_again_is_a_no_op, assert_declared_outputs, ctx_for, setup, state_after, suffix};

fn s3_client(aws: &AwsContext, region: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&aws.config(region)).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn check_bucket(aws: &AwsContext, region: &str, out: &BucketOutputs, suffix: &str) {
    let c = s3_client(aws, region);
    let b = out.bucket_name.as_str();
    assert_eq!(out.bucket_arn, format!("arn:aws:s3:::{b}"));
    let v = c.get_bucket_versioning().bucket(b).send().await.unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"), "{b} versioned");
    let e = c.get_bucket_encryption().bucket(b).send().await.unwrap();
    let algo = e
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_string());
    assert_eq!(algo.as_deref(), Some("AES256"), "{b} encrypted");
    let pab = c.get_public_access_block().bucket(b).send().await.unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (pab.block_public_acls(), pab.ignore_public_acls(), pab.block_public_policy(), pab.restrict_public_buckets()),
        (Some(true), Some(true), Some(true), Some(true)),
        "{b} public access blocked"
    );
    let p = c.get_bucket_policy().bucket(b).send().await.unwrap();
    let live: serde_json::Value = serde_json::from_str(p.policy().unwrap()).unwrap();
    let want: serde_json::Value = serde_json::from_str(&tls_only_policy(b)).unwrap();
    assert_eq!(live, want, "{b} TLS-only policy");
    let t = c.get_bucket_tagging().bucket(b).send().await.unwrap();
    assert!(t.tag_set().iter().any(|t| t.key() == "tandem:stack" && t.value() == suffix), "{b} tagged");
    assert!(t.tag_set().iter().any(|t| t.key() == "Name" && t.value() == b), "{b} named");
    let loc = c.get_bucket_location().bucket(b).send().await.unwrap();
    let loc = loc.location_constraint().map(|l| l.as_str().to_string()).unwrap_or_default();
    if region == "us-east-1" {
        assert!(loc.is_empty() || loc == "us-east-1", "{b}: {loc}");
    } else {
        assert_eq!(loc, region, "{b} in {region}");
    }
}

/// moto's default account: the credentials' account, which the CLI would have asked STS.
const MOTO_ACCOUNT: &str = "123456789012";

fn config(sfx: &str) -> Config {
    let mut cfg = Config::example(sfx);
    cfg.account_id = Some(MOTO_ACCOUNT.parse().expect("account id"));
    cfg
}

/// A bucket already named like the stack's, owned by another account (moto serves several:
/// `x-moto-account-id`), is refused (ExpectedBucketOwner → 403), never adopted, tagged,
/// emptied or deleted; without the account in the name and the header it was adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_of_another_account_with_the_stacks_name_is_never_adopted() {
    setup();
    let aws = tandem_core::testing::moto_context().await;
    let sfx = suffix("s3own");
    let cfg = config(&sfx);
    let name = format!("bucket-secondary-{sfx}-{MOTO_ACCOUNT}");
    let foreign = s3_client(&aws, "us-east-2");
    foreign
        .create_bucket()
        .bucket(&name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsEast2)
                .build(),
        )
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-moto-account-id", "999988887777");
        })
        .send()
        .await
        .expect("the other account's bucket");
    let all = s3::components(&cfg, &aws);
    let sec = all[0].as_ref();
    let ctx = ctx_for(sec, &[], None);
    let e = sec.apply(&ctx).await.expect_err("another account's bucket is not ours");
    let text = e.to_string();
    assert!(text.contains(&name) && text.contains("us-east-2") && text.contains("403"), "{text}");
    assert!(sec.destroy(&ctx).await.is_err(), "nor is it emptied or deleted");
    let tags = s3_client(&aws, "us-east-2")
        .get_bucket_tagging()
        .bucket(&name)
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-moto-account-id", "999988887777");
        })
        .send()
        .await;
    assert!(tags.map(|t| t.tag_set().is_empty()).unwrap_or(true), "not tagged as the stack's");
    assert!(!bucket_gone(&aws, "us-east-2", &name).await, "still there");
}

async fn bucket_gone(aws: &AwsContext, region: &str, bucket: &str) -> bool {
    match s3_client(aws, region).head_bucket().bucket(bucket).send().await {
        Ok(_) => false,
        Err(e) => e.raw_response().map(|r| r.status().as_u16()) == Some(404),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_with_replication_lifecycle() {
    setup();
    let aws = tandem_core::testing::moto_context().await;
    let sfx = suffix("s3");
    let cfg = config(&sfx);
    let all = s3::components(&cfg, &aws);
    let (sec, pri) = (all[0].as_ref(), all[1].as_ref());
    assert_eq!((sec.id(), pri.id()), ("bucket-secondary", "bucket-primary"));
    assert_eq!(pri.dependencies(), vec!["bucket-secondary".to_string()]);

    // Apply: secondary, then primary with the secondary's outputs.
    let ctx_s = ctx_for(sec, &[], None);
    let out_s = sec.apply(&ctx_s).await.unwrap();
    assert_declared_outputs(sec, &out_s);
    let state_s = state_after(sec, &ctx_s, &out_s).await;
    let inputs = [("bucket-secondary", &out_s)];
    let ctx_p = ctx_for(pri, &inputs, None);
    let out_p = pri.apply(&ctx_p).await.unwrap();
    assert_declared_outputs(pri, &out_p);
    let state_p = state_after(pri, &ctx_p, &out_p).await;

    let bs: BucketOutputs = from_outputs(&out_s).unwrap();
    let bp: BucketOutputs = from_outputs(&out_p).unwrap();
    assert_eq!(bs.bucket_name, format!("bucket-secondary-{sfx}-{MOTO_ACCOUNT}"));
    assert_eq!(bp.bucket_name, format!("bucket-primary-{sfx}-{MOTO_ACCOUNT}"));
    check_bucket(&aws, "us-east-2", &bs, &sfx).await;
    check_bucket(&aws, "us-east-1", &bp, &sfx).await;

    // Replication: role scoped to the two buckets, rule with RTC and metrics.
    let role_name = format!("s3-replication-{sfx}");
    let iam = aws_sdk_iam::Client::new(&aws.config("us-east-1"));
    let role = iam.get_role().role_name(&role_name).send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(Some(role.arn()), bp.replication_role_arn.as_deref());
    let trust = urlencoding_decode(role.assume_role_policy_document().unwrap_or_default());
    assert!(trust.contains("s3.amazonaws.com") && trust.contains(r#""aws:SourceAccount":"123456789012""#), "{trust}");
    assert!(trust.contains(&format!(r#""aws:SourceArn":"{}""#, bp.bucket_arn)), "only for the primary bucket's replication: {trust}");
    let doc = iam.get_role_policy().role_name(&role_name).policy_name(REPLICATION_POLICY_NAME).send().await.unwrap();
    let doc = urlencoding_decode(doc.policy_document());
    assert!(doc.contains(&bs.bucket_arn) && doc.contains(&bp.bucket_arn) && !doc.contains("\"*\""), "{doc}");
    let rep = s3_client(&aws, "us-east-1").get_bucket_replication().bucket(&bp.bucket_name).send().await.unwrap();
    let rep = rep.replication_configuration().unwrap();
    assert_eq!(rep.role(), role.arn());
    let rule = &rep.rules()[0];
    assert_eq!(rule.id(), Some(REPLICATION_RULE_ID));
    assert_eq!(bp.replication_rule_id.as_deref(), Some(REPLICATION_RULE_ID));
    let dest = rule.destination().unwrap();
    assert_eq!(dest.bucket(), bs.bucket_arn);
    assert_eq!(dest.replication_time().map(|t| t.status().as_str()), Some("Enabled"));
    assert_eq!(dest.replication_time().and_then(|t| t.time()).and_then(|t| t.minutes()), Some(15));
    assert_eq!(dest.metrics().map(|m| m.status().as_str()), Some("Enabled"));

    // Second apply: nothing to do.
    apply_again_is_a_no_op(sec, &[], state_s.clone()).await;
    apply_again_is_a_no_op(pri, &inputs, state_p.clone()).await;
    assert_eq!(pri.read(&ctx_for(pri, &inputs, Some(state_p.clone()))).await.unwrap(), Drift::InSync);

    // Versions and a delete marker in the primary bucket. moto enforces the TLS-only policy on
    // object calls over plain HTTP, so the objects are written with the policy lifted (destroy
    // lifts it first for the same reason).
    let c = s3_client(&aws, "us-east-1");
    c.delete_bucket_policy().bucket(&bp.bucket_name).send().await.unwrap();
    for body in ["one", "two"] {
        c.put_object().bucket(&bp.bucket_name).key("k").body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    c.delete_object().bucket(&bp.bucket_name).key("k").send().await.unwrap();
    let versions = c.list_object_versions().bucket(&bp.bucket_name).send().await.unwrap();
    assert_eq!((versions.versions().len(), versions.delete_markers().len()), (2, 1));

    // Destroy in reverse order: primary (with its role), then secondary (policy still on).
    pri.destroy(&ctx_for(pri, &inputs, Some(state_p.clone()))).await.unwrap();
    sec.destroy(&ctx_for(sec, &[], Some(state_s.clone()))).await.unwrap();
    assert!(bucket_gone(&aws, "us-east-1", &bp.bucket_name).await, "primary bucket deleted");
    assert!(bucket_gone(&aws, "us-east-2", &bs.bucket_name).await, "secondary bucket deleted");
    assert!(iam.get_role().role_name(&role_name).send().await.is_err(), "replication role deleted");
    assert!(matches!(sec.read(&ctx_for(sec, &[], None)).await.unwrap(), Drift::Missing { .. }));

    // Destroy again: no-op.
    pri.destroy(&ctx_for(pri, &inputs, None)).await.unwrap();
    sec.destroy(&ctx_for(sec, &[], None)).await.unwrap();
}

/// IAM documents come back URL-encoded.
fn urlencoding_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

