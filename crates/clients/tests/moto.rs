//! The shared clients against a real moto server: every SDK call of [`LambdaApi`] and of
//! [`EventsApi`] (endpoints apart: moto answers CreateEndpoint with HTTP 500; their
//! request shaping is covered by the unit tests) through create → describe → update →
//! delete → describe-is-gone, including the "missing reads as None" mapping.

use std::collections::BTreeMap;

use tandem_clients::events::{EventsApi, TargetInfo, DEFAULT_BUS};
use tandem_clients::lambda::{policy_has_sid, policy_has_statement, FunctionSpec, LambdaApi, PermissionStatement};
use tandem_core::testing::moto_context;

const REGION: &str = "us-east-1";

fn suffix(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{tag}{}", nanos % 1_000_000)
}

/// An empty zip archive (the end-of-central-directory record alone): moto never runs it.
fn empty_zip() -> Vec<u8> {
    let mut z = b"PK\x05\x06".to_vec();
    z.extend_from_slice(&[0u8; 18]);
    z
}

async fn lambda_role(iam: &aws_sdk_iam::Client, name: &str) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let out = iam.create_role().role_name(name).assume_role_policy_document(trust).send().await.expect("CreateRole on moto");
    out.role().map(|r| r.arn().to_string()).expect("CreateRole returned a role")
}

#[tokio::test]
async fn lambda_function_and_permission_lifecycle() {
    let aws = moto_context().await;
    let sdk = aws.config(REGION);
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let s = suffix("cl");
    let role_arn = lambda_role(&iam, &format!("clients-test-{s}")).await;
    let name = format!("clients-fn-{s}");
    let mut spec = FunctionSpec {
        name: name.clone(),
        role_arn: role_arn.clone(),
        runtime: "provided.al2023".into(),
        handler: "bootstrap".into(),
        architecture: "arm64".into(),
        memory_mb: 128,
        timeout_secs: 5,
        environment: BTreeMap::from([("STACK".to_string(), s.clone())]),
        tags: BTreeMap::from([("tandem:stack".to_string(), s.clone())]),
    };

    assert_eq!(LambdaApi::get_function(&lambda, &name).await.unwrap(), None, "absent before create");
    let arn = LambdaApi::create_function(&lambda, &spec, &empty_zip()).await.unwrap();
    assert!(arn.ends_with(&format!(":function:{name}")), "{arn}");

    let info = LambdaApi::get_function(&lambda, &name).await.unwrap().expect("function after create");
    assert_eq!(info.arn, arn);
    assert!(info.config_matches(&spec), "{:?}", info.config_diff(&spec));
    assert_eq!(info.architectures, vec!["arm64".to_string()]);
    assert!(!info.code_sha256.is_empty());

    spec.memory_mb = 256;
    spec.environment.insert("MORE".into(), "1".into());
    LambdaApi::update_function_configuration(&lambda, &spec).await.unwrap();
    LambdaApi::update_function_code(&lambda, &name, "arm64", &empty_zip()).await.unwrap();
    let info = LambdaApi::get_function(&lambda, &name).await.unwrap().expect("function after update");
    assert_eq!(info.memory_mb, 256);
    assert!(info.config_matches(&spec), "{:?}", info.config_diff(&spec));

    // Resource policy: none yet, then one invoke statement, then none again.
    assert_eq!(LambdaApi::get_policy(&lambda, &name).await.unwrap(), None);
    assert!(LambdaApi::permission_statements(&lambda, &name).await.unwrap().is_empty());
    let sid = format!("events-{s}");
    let rule_arn = format!("arn:aws:events:{REGION}:123456789012:rule/bus-{s}/rule-{s}");
    LambdaApi::add_permission(&lambda, &name, &sid, "events.amazonaws.com", &rule_arn).await.unwrap();
    let policy = LambdaApi::get_policy(&lambda, &name).await.unwrap().expect("policy after AddPermission");
    assert!(policy_has_statement(&policy, &sid, &rule_arn), "{policy}");
    assert!(policy_has_sid(&policy, &sid), "{policy}");
    let statements = LambdaApi::permission_statements(&lambda, &name).await.unwrap();
    assert_eq!(
        statements,
        vec![PermissionStatement { sid: sid.clone(), principal: "events.amazonaws.com".into(), source_arn: Some(rule_arn.clone()) }]
    );
    LambdaApi::remove_permission(&lambda, &name, &sid).await.unwrap();
    let policy = LambdaApi::get_policy(&lambda, &name).await.unwrap();
    assert!(!policy.as_deref().is_some_and(|p| policy_has_sid(p, &sid)), "{policy:?}");
    let gone = LambdaApi::remove_permission(&lambda, &name, &sid).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");

    LambdaApi::delete_function(&lambda, &name).await.unwrap();
    assert_eq!(LambdaApi::get_function(&lambda, &name).await.unwrap(), None, "absent after delete");
    let err = LambdaApi::delete_function(&lambda, &name).await.unwrap_err();
    assert!(err.is_not_found(), "deleting twice is NotFound: {err}");
    iam.delete_role().role_name(format!("clients-test-{s}")).send().await.expect("DeleteRole on moto");
}

#[tokio::test]
async fn event_bus_rule_and_target_lifecycle() {
    let aws = moto_context().await;
    let events = aws_sdk_eventbridge::Client::new(&aws.config(REGION));
    let s = suffix("ev");
    let bus = format!("bus-{s}");
    let rule = format!("rule-{s}");
    let tags = vec![("tandem:stack".to_string(), s.clone())];
    let pattern = r#"{"source":["tandem.test"]}"#;
    let target_arn = format!("arn:aws:lambda:{REGION}:123456789012:function:processor-{s}");

    assert_eq!(EventsApi::describe_event_bus(&events, &bus).await.unwrap(), None, "absent before create");
    let bus_arn = EventsApi::create_event_bus(&events, &bus, tags.clone()).await.unwrap();
    assert!(bus_arn.ends_with(&format!(":event-bus/{bus}")), "{bus_arn}");
    assert_eq!(EventsApi::describe_event_bus(&events, &bus).await.unwrap(), Some(bus_arn.clone()));

    assert_eq!(EventsApi::describe_rule(&events, &rule, &bus).await.unwrap(), None);
    let rule_arn = EventsApi::put_rule(&events, &rule, &bus, pattern, "clients test", tags.clone()).await.unwrap();
    let info = EventsApi::describe_rule(&events, &rule, &bus).await.unwrap().expect("rule after PutRule");
    assert_eq!(info.name, rule);
    assert_eq!(info.arn, rule_arn);
    assert_eq!(info.state, "ENABLED");
    let got: serde_json::Value = serde_json::from_str(info.event_pattern.as_deref().expect("pattern")).unwrap();
    assert_eq!(got, serde_json::from_str::<serde_json::Value>(pattern).unwrap());
    assert_eq!(EventsApi::describe_rule(&events, &rule, DEFAULT_BUS).await.unwrap(), None, "the rule is on the custom bus only");

    assert!(EventsApi::list_targets(&events, &rule, &bus).await.unwrap().is_empty());
    EventsApi::put_target(&events, &rule, &bus, "processor", &target_arn).await.unwrap();
    assert_eq!(EventsApi::list_targets(&events, &rule, &bus).await.unwrap(), vec![TargetInfo::new("processor", target_arn.clone())]);
    EventsApi::remove_targets(&events, &rule, &bus, vec!["processor".into()]).await.unwrap();
    assert!(EventsApi::list_targets(&events, &rule, &bus).await.unwrap().is_empty());
    EventsApi::remove_targets(&events, &rule, &bus, vec![]).await.unwrap();

    EventsApi::delete_rule(&events, &rule, &bus).await.unwrap();
    assert_eq!(EventsApi::describe_rule(&events, &rule, &bus).await.unwrap(), None, "rule absent after delete");
    EventsApi::delete_event_bus(&events, &bus).await.unwrap();
    assert_eq!(EventsApi::describe_event_bus(&events, &bus).await.unwrap(), None, "bus absent after delete");
}

#[tokio::test]
async fn default_bus_rule_lifecycle() {
    let aws = moto_context().await;
    let events = aws_sdk_eventbridge::Client::new(&aws.config(REGION));
    let s = suffix("db");
    let rule = format!("failover-{s}");
    let pattern = r#"{"source":["aws.rds"],"detail-type":["RDS DB Cluster Event"]}"#;
    let topic = format!("arn:aws:sns:{REGION}:123456789012:alerts-{s}");

    let arn = EventsApi::put_rule(&events, &rule, DEFAULT_BUS, pattern, "default bus", vec![]).await.unwrap();
    assert!(arn.ends_with(&format!(":rule/{rule}")), "a default-bus rule ARN has no bus segment: {arn}");
    let info = EventsApi::describe_rule(&events, &rule, DEFAULT_BUS).await.unwrap().expect("rule on the default bus");
    assert_eq!(info.arn, arn);
    EventsApi::put_target(&events, &rule, DEFAULT_BUS, "sns", &topic).await.unwrap();
    assert_eq!(EventsApi::list_targets(&events, &rule, DEFAULT_BUS).await.unwrap(), vec![TargetInfo::new("sns", topic)]);
    EventsApi::remove_targets(&events, &rule, DEFAULT_BUS, vec!["sns".into()]).await.unwrap();
    EventsApi::delete_rule(&events, &rule, DEFAULT_BUS).await.unwrap();
    assert_eq!(EventsApi::describe_rule(&events, &rule, DEFAULT_BUS).await.unwrap(), None);
}
