//! The observability components against a real moto server, with synthetic outputs for
//! the dependencies that live in other crates (function names, API, health checks, Aurora
//! clusters, table, buckets).
//!
//! Apply (alerts of both regions, then alarms of both regions and the dashboard), check
//! with the real aws-sdk clients, apply again (no mutating call: the clients are wrapped in
//! counters), read (in sync), destroy, check gone, destroy again (no mutating call).
//! The alert topics are encrypted with a customer-managed KMS key per region: checked
//! after apply (rotation, alias, policy, topic attribute) and after destroy (the key is
//! PendingDeletion, the alias is gone).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tandem_core::contracts::{
    ids, AlarmsOutputs, AlertsOutputs, ApiOutputs, AuroraOutputs, BucketOutputs, DashboardOutputs, FunctionsOutputs,
    HealthOutputs, TableOutputs,
};
use tandem_core::state::ComponentState;
use tandem_core::{from_outputs, to_outputs, AwsError, Component, Config, Ctx, Drift, Outputs, Placement};
use tandem_observability::alarms::Alarms;
use tandem_clients::events::{EndpointInfo, EndpointSpec, EventsApi, RuleInfo, TargetInfo};
use tandem_observability::clients::{AlarmSpec, AliasInfo, CloudWatchApi, DashboardInfo, KeyInfo, KmsApi, SnsApi, SubscriptionInfo};
use tandem_observability::dashboard::Dashboard;
use tandem_observability::sns::{Alerts, RULE_TARGET_ID};

const EMAIL: &str = "ops@example.com";

fn suffix(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{tag}{}", nanos % 1_000_000)
}

/// Counts the mutating calls that go through it, delegating everything to the real client.
struct Counting<T> {
    inner: T,
    mutations: Arc<AtomicUsize>,
}

impl<T> Counting<T> {
    fn bump(&self) {
        self.mutations.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl<T: CloudWatchApi> CloudWatchApi for Counting<T> {
    async fn describe_alarms(&self, names: Vec<String>) -> Result<Vec<AlarmSpec>, AwsError> {
        self.inner.describe_alarms(names).await
    }
    async fn put_metric_alarm(&self, spec: &AlarmSpec) -> Result<(), AwsError> {
        self.bump();
        self.inner.put_metric_alarm(spec).await
    }
    async fn delete_alarms(&self, names: Vec<String>) -> Result<(), AwsError> {
        self.bump();
        self.inner.delete_alarms(names).await
    }
    async fn get_dashboard(&self, name: &str) -> Result<Option<DashboardInfo>, AwsError> {
        self.inner.get_dashboard(name).await
    }
    async fn put_dashboard(&self, name: &str, body: &str) -> Result<Vec<String>, AwsError> {
        self.bump();
        self.inner.put_dashboard(name, body).await
    }
    async fn delete_dashboard(&self, name: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.delete_dashboard(name).await
    }
}

#[async_trait]
impl<T: SnsApi> SnsApi for Counting<T> {
    async fn create_topic(&self, name: &str, attributes: Vec<(String, String)>, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        self.bump();
        self.inner.create_topic(name, attributes, tags).await
    }
    async fn get_topic_attributes(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        self.inner.get_topic_attributes(arn).await
    }
    async fn list_topics(&self) -> Result<Vec<String>, AwsError> {
        self.inner.list_topics().await
    }
    async fn set_topic_attribute(&self, arn: &str, name: &str, value: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.set_topic_attribute(arn, name, value).await
    }
    async fn delete_topic(&self, arn: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.delete_topic(arn).await
    }
    async fn list_subscriptions(&self, topic_arn: &str) -> Result<Vec<SubscriptionInfo>, AwsError> {
        self.inner.list_subscriptions(topic_arn).await
    }
    async fn subscribe(&self, topic_arn: &str, protocol: &str, endpoint: &str) -> Result<String, AwsError> {
        self.bump();
        self.inner.subscribe(topic_arn, protocol, endpoint).await
    }
    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.unsubscribe(subscription_arn).await
    }
}

#[async_trait]
impl<T: EventsApi> EventsApi for Counting<T> {
    async fn describe_event_bus(&self, name: &str) -> Result<Option<String>, AwsError> {
        self.inner.describe_event_bus(name).await
    }
    async fn create_event_bus(&self, name: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        self.bump();
        self.inner.create_event_bus(name, tags).await
    }
    async fn delete_event_bus(&self, name: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.delete_event_bus(name).await
    }
    async fn describe_rule(&self, name: &str, bus: &str) -> Result<Option<RuleInfo>, AwsError> {
        self.inner.describe_rule(name, bus).await
    }
    async fn put_rule(&self, name: &str, bus: &str, pattern: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        self.bump();
        self.inner.put_rule(name, bus, pattern, description, tags).await
    }
    async fn delete_rule(&self, name: &str, bus: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.delete_rule(name, bus).await
    }
    async fn put_schedule_rule(&self, name: &str, schedule: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        self.bump();
        self.inner.put_schedule_rule(name, schedule, description, tags).await
    }
    async fn list_targets(&self, rule: &str, bus: &str) -> Result<Vec<TargetInfo>, AwsError> {
        self.inner.list_targets(rule, bus).await
    }
    async fn put_target(&self, rule: &str, bus: &str, id: &str, arn: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.put_target(rule, bus, id, arn).await
    }
    async fn remove_targets(&self, rule: &str, bus: &str, ids: Vec<String>) -> Result<(), AwsError> {
        self.bump();
        self.inner.remove_targets(rule, bus, ids).await
    }
    async fn describe_endpoint(&self, name: &str) -> Result<Option<EndpointInfo>, AwsError> {
        self.inner.describe_endpoint(name).await
    }
    async fn create_endpoint(&self, spec: &EndpointSpec) -> Result<String, AwsError> {
        self.bump();
        self.inner.create_endpoint(spec).await
    }
    async fn update_endpoint(&self, spec: &EndpointSpec) -> Result<(), AwsError> {
        self.bump();
        self.inner.update_endpoint(spec).await
    }
    async fn delete_endpoint(&self, name: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.delete_endpoint(name).await
    }
}

#[async_trait]
impl<T: KmsApi> KmsApi for Counting<T> {
    async fn list_aliases(&self) -> Result<Vec<AliasInfo>, AwsError> {
        self.inner.list_aliases().await
    }
    async fn describe_key(&self, key: &str) -> Result<Option<KeyInfo>, AwsError> {
        self.inner.describe_key(key).await
    }
    async fn create_key(&self, description: &str, policy: Option<String>, tags: Vec<(String, String)>) -> Result<KeyInfo, AwsError> {
        self.bump();
        self.inner.create_key(description, policy, tags).await
    }
    async fn get_key_policy(&self, key_id: &str) -> Result<String, AwsError> {
        self.inner.get_key_policy(key_id).await
    }
    async fn put_key_policy(&self, key_id: &str, policy: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.put_key_policy(key_id, policy).await
    }
    async fn create_alias(&self, alias: &str, key_id: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.create_alias(alias, key_id).await
    }
    async fn update_alias(&self, alias: &str, key_id: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.update_alias(alias, key_id).await
    }
    async fn delete_alias(&self, alias: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.delete_alias(alias).await
    }
    async fn get_key_rotation_status(&self, key_id: &str) -> Result<bool, AwsError> {
        self.inner.get_key_rotation_status(key_id).await
    }
    async fn enable_key_rotation(&self, key_id: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.enable_key_rotation(key_id).await
    }
    async fn enable_key(&self, key_id: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.enable_key(key_id).await
    }
    async fn cancel_key_deletion(&self, key_id: &str) -> Result<(), AwsError> {
        self.bump();
        self.inner.cancel_key_deletion(key_id).await
    }
    async fn schedule_key_deletion(&self, key_id: &str, pending_days: i32) -> Result<(), AwsError> {
        self.bump();
        self.inner.schedule_key_deletion(key_id, pending_days).await
    }
    async fn list_keys(&self) -> Result<Vec<String>, AwsError> {
        self.inner.list_keys().await
    }
    async fn list_resource_tags(&self, key_id: &str) -> Result<Vec<(String, String)>, AwsError> {
        self.inner.list_resource_tags(key_id).await
    }
}

/// The real SDK clients of one region.
struct Sdk {
    sns: aws_sdk_sns::Client,
    events: aws_sdk_eventbridge::Client,
    cw: aws_sdk_cloudwatch::Client,
    kms: aws_sdk_kms::Client,
}

impl Sdk {
    fn new(aws: &tandem_core::aws::AwsContext, region: &str) -> Self {
        let c = aws.config(region);
        Self {
            sns: aws_sdk_sns::Client::new(&c),
            events: aws_sdk_eventbridge::Client::new(&c),
            cw: aws_sdk_cloudwatch::Client::new(&c),
            kms: aws_sdk_kms::Client::new(&c),
        }
    }
}

/// The five components, built like `components()` but over counting clients.
struct Stack {
    order: Vec<Arc<dyn Component>>,
    mutations: Arc<AtomicUsize>,
}

impl Stack {
    fn new(cfg: &Config, aws: &tandem_core::aws::AwsContext) -> Self {
        let mutations = Arc::new(AtomicUsize::new(0));
        let mut alerts: Vec<Arc<dyn Component>> = Vec::new();
        let mut alarms: Vec<Arc<dyn Component>> = Vec::new();
        let mut dashboard: Vec<Arc<dyn Component>> = Vec::new();
        for p in [Placement::Primary, Placement::Secondary] {
            let sdk = Sdk::new(aws, cfg.region_of(p));
            let m = mutations.clone();
            let sns = Arc::new(Counting { inner: sdk.sns, mutations: m.clone() });
            let events = Arc::new(Counting { inner: sdk.events, mutations: m.clone() });
            let kms = Arc::new(Counting { inner: sdk.kms, mutations: m.clone() });
            let cw: Arc<dyn CloudWatchApi> = Arc::new(Counting { inner: sdk.cw, mutations: m });
            alerts.push(Arc::new(Alerts::new(cfg, p, sns, events, kms)));
            alarms.push(Arc::new(Alarms::new(cfg, p, cw.clone())));
            if p == Placement::Primary {
                dashboard.push(Arc::new(Dashboard::new(cfg, cw)));
            } else {
                alarms.push(Arc::new(Alarms::controller(cfg, cw)));
            }
        }
        let order = alerts.into_iter().chain(alarms).chain(dashboard).collect();
        Self { order, mutations }
    }

    fn mutations(&self) -> usize {
        self.mutations.load(Ordering::SeqCst)
    }
}

/// Synthetic outputs of the components of other crates.
fn foreign_inputs(s: &str) -> Vec<(String, Outputs)> {
    let mut v = vec![(
        ids::TABLE.to_string(),
        to_outputs(&TableOutputs {
            table_name: format!("table-{s}"),
            table_arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/table-{s}"),
            stream_arn: "stream".into(),
            replica_regions: vec!["us-east-2".into()],
        }),
    )];
    v.push((
        ids::CONTROLLER.to_string(),
        to_outputs(&tandem_core::contracts::ControllerOutputs {
            region: "us-east-2".into(),
            probe_function_name: format!("probe-secondary-{s}"),
            probe_function_arn: format!("arn:aws:lambda:us-east-2:123456789012:function:probe-secondary-{s}"),
            failover_function_name: format!("failover-secondary-{s}"),
            failover_function_arn: format!("arn:aws:lambda:us-east-2:123456789012:function:failover-secondary-{s}"),
            schedule_rule_name: format!("probe-schedule-{s}"),
            automatic: true,
        }),
    ));
    for p in [Placement::Primary, Placement::Secondary] {
        v.push((
            ids::functions(p),
            to_outputs(&FunctionsOutputs {
                api_function_name: format!("api-{p}-{s}"),
                api_function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:api-{p}-{s}"),
                processor_function_name: format!("processor-{p}-{s}"),
                processor_function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:processor-{p}-{s}"),
                replicator_function_name: format!("replicator-{p}-{s}"),
                replicator_function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:replicator-{p}-{s}"),
                code_sha256: "sha".into(),
            }),
        ));
        v.push((
            ids::api(p),
            to_outputs(&ApiOutputs {
                rest_api_id: format!("api{p}"),
                stage_name: "live".into(),
                invoke_url: format!("https://api{p}.execute-api.us-east-1.amazonaws.com/live"),
                execute_api_host: format!("api{p}.execute-api.us-east-1.amazonaws.com"),
                health_path: "/live/health".into(),
                custom_domain: None,
                regional_domain_name: None,
                regional_hosted_zone_id: None,
                certificate_arn: None,
                failover_domain: None,
                failover_regional_domain_name: None,
                failover_regional_hosted_zone_id: None,
            }),
        ));
        v.push((
            ids::health(p),
            to_outputs(&HealthOutputs {
                api_check_id: format!("hc-api-{p}-{s}"),
                api_check_arn: format!("arn:aws:route53:::healthcheck/hc-api-{p}-{s}"),
                nlb_check_id: format!("hc-nlb-{p}-{s}"),
                nlb_check_arn: format!("arn:aws:route53:::healthcheck/hc-nlb-{p}-{s}"),
                ..Default::default()
            }),
        ));
        v.push((
            ids::aurora(p),
            to_outputs(&AuroraOutputs {
                global_cluster_id: format!("aurora-global-{s}"),
                cluster_id: format!("aurora-{p}-{s}"),
                cluster_arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:aurora-{p}-{s}"),
                writer_endpoint: "w".into(),
                reader_endpoint: "r".into(),
                instance_id: format!("aurora-{p}-{s}-1"),
                port: 5432,
                password_parameter: None,
                global_writer_endpoint: format!("aurora-global-{s}.global-x.global.rds.amazonaws.com"),
            }),
        ));
        v.push((
            ids::bucket(p),
            to_outputs(&BucketOutputs {
                bucket_name: format!("bucket-{p}-{s}"),
                bucket_arn: format!("arn:aws:s3:::bucket-{p}-{s}"),
                replication_role_arn: None,
                replication_rule_id: (p == Placement::Primary).then(|| "replicate-all".to_string()),
            }),
        ));
    }
    v
}

fn ctx_for(c: &dyn Component, inputs: &BTreeMap<String, Outputs>, prior: Option<&ComponentState>) -> Ctx {
    let mut ctx = Ctx::standalone(c.id(), c.region());
    for dep in c.dependencies() {
        if let Some(out) = inputs.get(&dep) {
            ctx = ctx.with_input(&dep, out);
        }
    }
    if let Some(p) = prior {
        ctx = ctx.with_prior(p.clone());
    }
    ctx
}

/// Applies every component in dependency order; returns outputs and recorded states.
async fn apply_all(
    stack: &Stack,
    inputs: &mut BTreeMap<String, Outputs>,
    prior: &BTreeMap<String, ComponentState>,
) -> BTreeMap<String, ComponentState> {
    let mut states = BTreeMap::new();
    for c in &stack.order {
        let ctx = ctx_for(c.as_ref(), inputs, prior.get(c.id()));
        let out = c.apply(&ctx).await.unwrap_or_else(|e| panic!("apply {}: {e}", c.id()));
        c.output_type().check(&out).unwrap_or_else(|e| panic!("outputs of {}: {e}", c.id()));
        let mut st = ComponentState::new(c.kind(), c.placement(), c.region()).with_outputs(out.clone());
        st.resources = ctx.journal_entries().await;
        if let Some(p) = prior.get(c.id()) {
            for (k, v) in &p.resources {
                st.resources.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        inputs.insert(c.id().to_string(), out);
        states.insert(c.id().to_string(), st);
    }
    states
}

async fn destroy_all(stack: &Stack, inputs: &BTreeMap<String, Outputs>, states: &BTreeMap<String, ComponentState>) {
    for c in stack.order.iter().rev() {
        let ctx = ctx_for(c.as_ref(), inputs, states.get(c.id()));
        c.destroy(&ctx).await.unwrap_or_else(|e| panic!("destroy {}: {e}", c.id()));
        assert!(ctx.journal_entries().await.is_empty(), "{} left journal entries", c.id());
    }
}

/// The target key id of `alias` in the region, if the alias exists.
async fn alias_target(sdk: &Sdk, alias: &str) -> Option<String> {
    let resp = sdk.kms.list_aliases().send().await.expect("list aliases");
    resp.aliases().iter().find(|a| a.alias_name() == Some(alias)).and_then(|a| a.target_key_id().map(str::to_string))
}

async fn topic_arns(sdk: &Sdk) -> Vec<String> {
    let resp = sdk.sns.list_topics().send().await.expect("list topics");
    resp.topics().iter().filter_map(|t| t.topic_arn().map(str::to_string)).collect()
}

async fn alarms_named(sdk: &Sdk, prefix: &str) -> Vec<aws_sdk_cloudwatch::types::MetricAlarm> {
    let resp = sdk.cw.describe_alarms().alarm_name_prefix(prefix).send().await.expect("describe alarms");
    resp.metric_alarms().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observability_lifecycle_on_moto() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
    let aws = tandem_core::testing::moto_context().await;
    let s = suffix("obs");
    let mut cfg = Config::example(&s);
    cfg.alerts.email = Some(EMAIL.to_string());

    // The crate's entry point builds the five components in their regions.
    let built = tandem_observability::components(&cfg, &aws);
    let placed: BTreeSet<(String, String)> = built.iter().map(|c| (c.id().to_string(), c.region().to_string())).collect();
    let want: BTreeSet<(String, String)> = [
        ("alerts-primary", "us-east-1"),
        ("alerts-secondary", "us-east-2"),
        ("alarms-primary", "us-east-1"),
        ("alarms-secondary", "us-east-2"),
        ("failover-alarms", "us-east-2"),
        ("dashboard", "us-east-1"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(placed, want);

    let stack = Stack::new(&cfg, &aws);
    let east1 = Sdk::new(&aws, "us-east-1");
    let east2 = Sdk::new(&aws, "us-east-2");
    let mut inputs: BTreeMap<String, Outputs> = foreign_inputs(&s).into_iter().collect();

    // --- apply -----------------------------------------------------------------------
    let states = apply_all(&stack, &mut inputs, &BTreeMap::new()).await;
    let created = stack.mutations();
    assert!(created > 0);

    // Topics in both regions: encrypted, tagged, with a scoped policy and the subscription.
    let mut topics = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for (p, sdk, region) in [(Placement::Primary, &east1, "us-east-1"), (Placement::Secondary, &east2, "us-east-2")] {
        let out: AlertsOutputs = from_outputs(&inputs[&ids::alerts(p)]).expect("alerts outputs");
        assert_eq!(out.topic_name, format!("alerts-{p}-{s}"));
        assert!(out.topic_arn.starts_with(&format!("arn:aws:sns:{region}:")), "{}", out.topic_arn);
        assert!(topic_arns(sdk).await.contains(&out.topic_arn));
        let attrs = sdk.sns.get_topic_attributes().topic_arn(&out.topic_arn).send().await.expect("attributes");
        let attrs = attrs.attributes().cloned().unwrap_or_default();
        // The customer-managed key: enabled, rotating, tagged, behind the alias, with the
        // least-privilege policy, and the topic's KmsMasterKeyId.
        let alias = format!("alias/alerts-{p}-{s}");
        let key_id = alias_target(sdk, &alias).await.unwrap_or_else(|| panic!("alias {alias} missing in {region}"));
        let key = sdk.kms.describe_key().key_id(&key_id).send().await.expect("describe key");
        let meta = key.key_metadata().expect("key metadata");
        assert_eq!(meta.key_state().map(|s| s.as_str()), Some("Enabled"));
        assert_eq!(meta.key_spec().map(|s| s.as_str()), Some("SYMMETRIC_DEFAULT"));
        assert!(meta.description().unwrap_or_default().contains(&s));
        let key_arn = meta.arn().expect("key arn").to_string();
        assert!(key_arn.starts_with(&format!("arn:aws:kms:{region}:")), "{key_arn}");
        let rotation = sdk.kms.get_key_rotation_status().key_id(&key_id).send().await.expect("rotation");
        assert!(rotation.key_rotation_enabled(), "rotation disabled on {key_arn}");
        let key_tags = sdk.kms.list_resource_tags().key_id(&key_id).send().await.expect("key tags");
        assert!(key_tags.tags().iter().any(|t| t.tag_key() == "tandem:stack" && t.tag_value() == s));
        let kp = sdk.kms.get_key_policy().key_id(&key_id).policy_name("default").send().await.expect("key policy");
        let kp: Value = serde_json::from_str(kp.policy().unwrap_or("{}")).expect("key policy json");
        assert_eq!(kp, tandem_observability::kms::key_policy("aws", "123456789012", region));
        assert!(!kp.to_string().contains("\"kms:*\""));
        assert_eq!(attrs.get("KmsMasterKeyId"), Some(&key_arn));
        keys.insert(p, (key_id, alias));
        let policy: Value = serde_json::from_str(attrs.get("Policy").map(String::as_str).unwrap_or("{}")).expect("policy json");
        let text = policy.to_string();
        assert!(text.contains("cloudwatch.amazonaws.com") && text.contains("events.amazonaws.com") && text.contains("aws:SourceAccount"));
        let tags = sdk.sns.list_tags_for_resource().resource_arn(&out.topic_arn).send().await.expect("tags");
        assert!(tags.tags().iter().any(|t| t.key() == "tandem:stack" && t.value() == s));
        let subs = sdk.sns.list_subscriptions_by_topic().topic_arn(&out.topic_arn).send().await.expect("subs");
        assert!(subs.subscriptions().iter().any(|x| x.protocol() == Some("email") && x.endpoint() == Some(EMAIL)));
        // The failover rule on the default bus, targeting the topic.
        let rule = sdk.events.describe_rule().name(format!("rds-failover-{s}")).send().await.expect("rule");
        let pattern: Value = serde_json::from_str(rule.event_pattern().unwrap_or("{}")).expect("pattern");
        assert_eq!(pattern["source"], serde_json::json!(["aws.rds"]));
        let targets = sdk.events.list_targets_by_rule().rule(format!("rds-failover-{s}")).send().await.expect("targets");
        assert!(targets.targets().iter().any(|t| t.id() == RULE_TARGET_ID && t.arn() == out.topic_arn));
        topics.insert(p, out.topic_arn);
    }

    // Alarms: 8 in us-east-1 (incl. both regions' health checks), 4 + the controller's 3 in
    // us-east-2.
    let a1 = alarms_named(&east1, "alarm-").await;
    let a1: Vec<_> = a1.into_iter().filter(|a| a.alarm_name().unwrap_or_default().ends_with(&s)).collect();
    let a2 = alarms_named(&east2, "alarm-").await;
    let a2: Vec<_> = a2.into_iter().filter(|a| a.alarm_name().unwrap_or_default().ends_with(&s)).collect();
    assert_eq!(a1.len(), 8, "{:?}", a1.iter().map(|a| a.alarm_name()).collect::<Vec<_>>());
    assert_eq!(a2.len(), 7, "{:?}", a2.iter().map(|a| a.alarm_name()).collect::<Vec<_>>());
    // The controller's alarms survive the primary: all in us-east-2, to its topic; the
    // decision alarm also invokes the failover handler and is a single-metric alarm (what
    // Route 53's CLOUDWATCH_METRIC checks accept).
    let failover_fn = format!("arn:aws:lambda:us-east-2:123456789012:function:failover-secondary-{s}");
    let decision = a2.iter().find(|a| a.alarm_name() == Some(&format!("alarm-primary-down-secondary-{s}"))).expect("decision alarm");
    assert_eq!(decision.namespace(), Some("Tandem/Failover"));
    assert_eq!(decision.metric_name(), Some("PrimaryDown"));
    assert_eq!(decision.evaluation_periods(), Some(3));
    assert_eq!(decision.datapoints_to_alarm(), Some(3));
    assert_eq!(decision.treat_missing_data(), Some("notBreaching"));
    assert!(decision.metrics().is_empty(), "metric math is not accepted by Route 53");
    let mut acts = decision.alarm_actions().to_vec();
    acts.sort();
    let mut want_acts = vec![failover_fn.clone(), topics[&Placement::Secondary].clone()];
    want_acts.sort();
    assert_eq!(acts, want_acts);
    let blind = a2.iter().find(|a| a.alarm_name() == Some(&format!("alarm-controller-blind-secondary-{s}"))).expect("blind alarm");
    assert_eq!((blind.metric_name(), blind.treat_missing_data()), (Some("PrimaryHealthy"), Some("breaching")));
    let decided: tandem_core::contracts::DecisionOutputs =
        from_outputs(&inputs[ids::FAILOVER_ALARMS]).expect("decision outputs");
    assert_eq!((decided.region.as_str(), decided.decision_alarm_name.as_str()), ("us-east-2", format!("alarm-primary-down-secondary-{s}").as_str()));
    for a in &a1 {
        assert_eq!(a.alarm_actions(), [topics[&Placement::Primary].clone()]);
        assert_eq!(a.ok_actions(), [topics[&Placement::Primary].clone()]);
    }
    for a in &a2 {
        assert!(a.alarm_actions().contains(&topics[&Placement::Secondary]), "{:?}", a.alarm_name());
    }
    let health = a1.iter().find(|a| a.alarm_name() == Some(&format!("alarm-health-api-secondary-{s}"))).expect("health alarm");
    assert_eq!(health.namespace(), Some("AWS/Route53"));
    assert_eq!(health.dimensions()[0].value(), Some(format!("hc-api-secondary-{s}").as_str()));
    let lag = a2.iter().find(|a| a.alarm_name() == Some(&format!("alarm-aurora-lag-secondary-{s}"))).expect("aurora alarm");
    assert_eq!(lag.dimensions()[0].value(), Some(format!("aurora-secondary-{s}").as_str()));
    let outs: AlarmsOutputs = from_outputs(&inputs[&ids::alarms(Placement::Primary)]).expect("alarms outputs");
    assert_eq!(outs.alarm_names.len(), 8);

    // Dashboard: one body naming both regions and the inputs' ids.
    let d: DashboardOutputs = from_outputs(&inputs[ids::DASHBOARD]).expect("dashboard outputs");
    assert_eq!(d.dashboard_name, format!("dashboard-{s}"));
    assert!(d.dashboard_url.contains("region=us-east-1") && d.dashboard_url.ends_with(&format!("name=dashboard-{s}")));
    let got = east1.cw.get_dashboard().dashboard_name(&d.dashboard_name).send().await.expect("dashboard");
    let body: Value = serde_json::from_str(got.dashboard_body().unwrap_or("{}")).expect("body json");
    let regions: BTreeSet<String> = body["widgets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|w| w["properties"]["region"].as_str().map(str::to_string).expect("every widget has a region"))
        .collect();
    assert!(regions.contains("us-east-1") && regions.contains("us-east-2"), "{regions:?}");
    let text = body.to_string();
    for id in [format!("aurora-secondary-{s}"), format!("api-secondary-{s}"), format!("hc-nlb-primary-{s}"), format!("table-{s}")] {
        assert!(text.contains(&id), "{id} missing from the dashboard");
    }

    // --- apply again: nothing changes ---------------------------------------------------
    let states2 = apply_all(&stack, &mut inputs, &states).await;
    assert_eq!(stack.mutations(), created, "second apply made mutating calls");
    for c in &stack.order {
        assert_eq!(states2[c.id()].outputs, states[c.id()].outputs, "outputs of {} changed", c.id());
        let ctx = ctx_for(c.as_ref(), &inputs, states2.get(c.id()));
        assert_eq!(c.read(&ctx).await.expect("read"), Drift::InSync, "{} drifted", c.id());
    }

    // --- destroy ---------------------------------------------------------------------
    destroy_all(&stack, &inputs, &states2).await;
    let after_destroy = stack.mutations();
    for (p, sdk) in [(Placement::Primary, &east1), (Placement::Secondary, &east2)] {
        assert!(!topic_arns(sdk).await.contains(&topics[&p]), "topic {p} still exists");
        let rule = sdk.events.describe_rule().name(format!("rds-failover-{s}")).send().await;
        assert!(rule.is_err(), "rule still exists in {p}");
        let (key_id, alias) = &keys[&p];
        assert_eq!(alias_target(sdk, alias).await, None, "alias {alias} still exists");
        let key = sdk.kms.describe_key().key_id(key_id).send().await.expect("describe key after destroy");
        let meta = key.key_metadata().expect("key metadata");
        assert_eq!(meta.key_state().map(|s| s.as_str()), Some("PendingDeletion"), "key {key_id} in {p}");
        let left: Vec<_> = alarms_named(sdk, "alarm-").await.into_iter().filter(|a| a.alarm_name().unwrap_or_default().ends_with(&s)).collect();
        assert!(left.is_empty(), "alarms left: {:?}", left.iter().map(|a| a.alarm_name()).collect::<Vec<_>>());
    }
    assert!(east1.cw.get_dashboard().dashboard_name(format!("dashboard-{s}")).send().await.is_err(), "dashboard still exists");
    for c in &stack.order {
        let ctx = ctx_for(c.as_ref(), &inputs, None);
        assert!(matches!(c.read(&ctx).await.expect("read"), Drift::Missing { .. }), "{} not missing", c.id());
    }

    // --- destroy again: no-op ------------------------------------------------------------
    destroy_all(&stack, &inputs, &BTreeMap::new()).await;
    assert_eq!(stack.mutations(), after_destroy, "second destroy made mutating calls");
}
