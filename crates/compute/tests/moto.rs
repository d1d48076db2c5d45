//! The compute components against a real moto server: Lambda roles, the functions and
//! event buses of both regions, and the global endpoint (served by the built-in fake, as
//! moto answers CreateEndpoint with HTTP 500). Apply, check with the real SDK clients,
//! apply again (no code or configuration update: LastModified unchanged, and no mutating
//! Lambda call at all), read (in sync), new code (UpdateFunctionCode only), destroy, check
//! gone, destroy again (no-op).
//!
//! moto never moves a function's LastModified on UpdateFunctionCode/Configuration, so the
//! Lambda client of the functions and events components is wrapped in a recorder that
//! forwards every call to moto and lists the mutating ones: that is the proof that the
//! second apply made no UpdateFunctionCode.
//!
//! The functions are deployed from a small deterministic test zip made by the crate's own
//! zipper (`package::write_zip`), not from the `lambda/` build: moto never runs the code, and
//! the real build is covered by the package tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tandem_compute::events::EventBus;
use tandem_compute::functions::Functions;
use tandem_clients::lambda::{FunctionInfo, FunctionSpec, LambdaApi};
use tandem_compute::package::{write_zip, Package};
use tandem_core::AwsError;
use tandem_core::aws::AwsContext;
use tandem_core::contracts::{ids, EventBusOutputs, EventEndpointOutputs, FunctionsOutputs, HealthOutputs, LambdaRolesOutputs};
use tandem_core::state::ComponentState;
use tandem_core::{from_outputs, to_outputs, Component, Config, Ctx, Drift, Outputs, Placement};

fn suffix(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{tag}{}", nanos % 1_000_000)
}

fn ctx_for(c: &dyn Component, inputs: &[(String, Outputs)], prior: Option<ComponentState>) -> Ctx {
    let mut ctx = Ctx::standalone(c.id(), c.region());
    for (dep, out) in inputs {
        ctx = ctx.with_input(dep, out);
    }
    if let Some(p) = prior {
        ctx = ctx.with_prior(p);
    }
    ctx
}

async fn state_after(c: &dyn Component, ctx: &Ctx, outputs: &Outputs) -> ComponentState {
    let mut st = ComponentState::new(c.kind(), c.placement(), c.region()).with_outputs(outputs.clone());
    st.resources = ctx.journal_entries().await;
    st
}

/// The test package: a one-file zip with an executable `bootstrap` script.
fn test_package(dir: &std::path::Path, body: &str) -> Package {
    let bin = dir.join("bootstrap");
    std::fs::write(&bin, body).unwrap();
    let zip = dir.join("tandem-lambda.zip");
    write_zip(&bin, &zip).unwrap();
    Package::from_file(&zip).unwrap()
}

/// Forwards to moto's Lambda and records every mutating call.
struct Recording {
    inner: aws_sdk_lambda::Client,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

#[async_trait::async_trait]
impl LambdaApi for Recording {
    async fn get_function(&self, name: &str) -> Result<Option<FunctionInfo>, AwsError> {
        LambdaApi::get_function(&self.inner, name).await
    }
    async fn create_function(&self, spec: &FunctionSpec, zip: &[u8]) -> Result<String, AwsError> {
        self.record(format!("CreateFunction {}", spec.name));
        LambdaApi::create_function(&self.inner, spec, zip).await
    }
    async fn update_function_code(&self, name: &str, architecture: &str, zip: &[u8]) -> Result<(), AwsError> {
        self.record(format!("UpdateFunctionCode {name}"));
        LambdaApi::update_function_code(&self.inner, name, architecture, zip).await
    }
    async fn update_function_configuration(&self, spec: &FunctionSpec) -> Result<(), AwsError> {
        self.record(format!("UpdateFunctionConfiguration {}", spec.name));
        LambdaApi::update_function_configuration(&self.inner, spec).await
    }
    async fn delete_function(&self, name: &str) -> Result<(), AwsError> {
        self.record(format!("DeleteFunction {name}"));
        LambdaApi::delete_function(&self.inner, name).await
    }
    async fn get_policy(&self, name: &str) -> Result<Option<String>, AwsError> {
        LambdaApi::get_policy(&self.inner, name).await
    }
    async fn add_permission(&self, name: &str, sid: &str, principal: &str, source_arn: &str) -> Result<(), AwsError> {
        self.record(format!("AddPermission {name} {sid}"));
        LambdaApi::add_permission(&self.inner, name, sid, principal, source_arn).await
    }
    async fn remove_permission(&self, name: &str, sid: &str) -> Result<(), AwsError> {
        self.record(format!("RemovePermission {name} {sid}"));
        LambdaApi::remove_permission(&self.inner, name, sid).await
    }
    async fn get_invoke_limits(&self, name: &str) -> Result<tandem_clients::lambda::InvokeLimits, AwsError> {
        LambdaApi::get_invoke_limits(&self.inner, name).await
    }
    async fn put_reserved_concurrency(&self, name: &str, reserved: i32) -> Result<(), AwsError> {
        self.record(format!("PutFunctionConcurrency {name} {reserved}"));
        LambdaApi::put_reserved_concurrency(&self.inner, name, reserved).await
    }
    async fn put_async_limits(&self, name: &str, age: i32, retries: i32) -> Result<(), AwsError> {
        self.record(format!("PutFunctionEventInvokeConfig {name} {age} {retries}"));
        LambdaApi::put_async_limits(&self.inner, name, age, retries).await
    }
}

struct Stack {
    by_id: BTreeMap<String, Arc<dyn Component>>,
    lambda_calls: Arc<Mutex<Vec<String>>>,
    suffix: String,
}

impl Stack {
    /// The crate's components as `components()` builds them, with the functions and events
    /// components rebuilt over the recording Lambda client.
    fn new(cfg: &Config, aws: &AwsContext, package: &Package) -> Self {
        let mut by_id: BTreeMap<String, Arc<dyn Component>> =
            tandem_compute::components(cfg, aws, package).into_iter().map(|c| (c.id().to_string(), c)).collect();
        let lambda_calls = Arc::new(Mutex::new(Vec::new()));
        for placement in [Placement::Primary, Placement::Secondary] {
            let sdk = aws.config(cfg.region_of(placement));
            let lambda: Arc<dyn LambdaApi> =
                Arc::new(Recording { inner: aws_sdk_lambda::Client::new(&sdk), calls: lambda_calls.clone() });
            let logs = Arc::new(aws_sdk_cloudwatchlogs::Client::new(&sdk));
            let events = Arc::new(aws_sdk_eventbridge::Client::new(&sdk));
            by_id.insert(ids::functions(placement), Arc::new(Functions::new(cfg, placement, lambda.clone(), logs, package.clone())));
            by_id.insert(ids::event_bus(placement), Arc::new(EventBus::new(cfg, placement, events.clone(), lambda.clone())));
            if placement == Placement::Secondary {
                let logs = Arc::new(aws_sdk_cloudwatchlogs::Client::new(&sdk));
                by_id.insert(ids::CONTROLLER.to_string(), Arc::new(tandem_compute::controller::Controller::new(cfg, lambda, logs, events, package.clone())));
            }
        }
        Self { by_id, lambda_calls, suffix: cfg.environment_suffix.clone() }
    }
    fn get(&self, id: &str) -> &dyn Component {
        self.by_id.get(id).map(|c| c.as_ref()).unwrap_or_else(|| panic!("no component {id}"))
    }
    fn lambda_mutations(&self) -> Vec<String> {
        let mut v = self.lambda_calls.lock().unwrap().clone();
        v.sort();
        v
    }
}

/// Apply order (dependencies first) and each component's inputs.
fn order() -> Vec<String> {
    vec![
        ids::LAMBDA_ROLES.to_string(),
        ids::functions(Placement::Primary),
        ids::functions(Placement::Secondary),
        ids::event_bus(Placement::Primary),
        ids::event_bus(Placement::Secondary),
        ids::EVENT_ENDPOINT.to_string(),
        ids::CONTROLLER.to_string(),
    ]
}

/// The outputs of the other crates' components the controller reads (well-formed stand-ins).
fn controller_inputs(s: &str) -> Vec<(String, Outputs)> {
    use tandem_core::contracts::{AlertsOutputs, ApiOutputs, AuroraOutputs, LoadBalancerOutputs};
    let mut v = vec![
        (
            ids::api(Placement::Primary),
            to_outputs(&ApiOutputs {
                rest_api_id: "abc123".into(),
                stage_name: "live".into(),
                invoke_url: "https://abc123.execute-api.us-east-1.amazonaws.com/live".into(),
                execute_api_host: "abc123.execute-api.us-east-1.amazonaws.com".into(),
                health_path: "/live/health".into(),
                custom_domain: None,
                regional_domain_name: None,
                regional_hosted_zone_id: None,
                certificate_arn: None,
                failover_domain: None,
                failover_regional_domain_name: None,
                failover_regional_hosted_zone_id: None,
            }),
        ),
        (
            ids::load_balancer(Placement::Primary),
            to_outputs(&LoadBalancerOutputs {
                nlb_arn: "arn:nlb".into(),
                nlb_dns_name: format!("nlb-primary-{s}.elb.us-east-1.amazonaws.com"),
                nlb_zone_id: "Z1".into(),
                nlb_target_group_arn: "arn:tg".into(),
                alb_arn: "arn:alb".into(),
                alb_dns_name: "alb".into(),
                alb_target_group_arn: "arn:atg".into(),
            }),
        ),
        (
            ids::alerts(Placement::Secondary),
            to_outputs(&AlertsOutputs {
                topic_arn: format!("arn:aws:sns:us-east-2:123456789012:alerts-secondary-{s}"),
                topic_name: format!("alerts-secondary-{s}"),
            }),
        ),
    ];
    for (p, region) in [(Placement::Primary, "us-east-1"), (Placement::Secondary, "us-east-2")] {
        v.push((
            ids::aurora(p),
            to_outputs(&AuroraOutputs {
                global_cluster_id: format!("aurora-global-{s}"),
                cluster_id: format!("aurora-{p}-{s}"),
                cluster_arn: format!("arn:aws:rds:{region}:123456789012:cluster:aurora-{p}-{s}"),
                writer_endpoint: "w".into(),
                reader_endpoint: "r".into(),
                instance_id: format!("aurora-{p}-{s}-1"),
                port: 5432,
                password_parameter: None,
                global_writer_endpoint: "g".into(),
            }),
        ));
    }
    v
}

/// Applies every component in order; returns outputs and states.
async fn apply_all(
    stack: &Stack,
    health: &Outputs,
    prior: &BTreeMap<String, ComponentState>,
) -> (BTreeMap<String, Outputs>, BTreeMap<String, ComponentState>) {
    let mut outputs: BTreeMap<String, Outputs> = BTreeMap::new();
    outputs.insert(ids::health(Placement::Primary), health.clone());
    outputs.extend(controller_inputs(&stack.suffix));
    let mut states = BTreeMap::new();
    for id in order() {
        let c = stack.get(&id);
        let inputs: Vec<(String, Outputs)> = c.dependencies().into_iter().map(|d| (d.clone(), outputs[&d].clone())).collect();
        let ctx = ctx_for(c, &inputs, prior.get(&id).cloned());
        let out = c.apply(&ctx).await.unwrap_or_else(|e| panic!("apply {id}: {e}"));
        c.output_type().check(&out).unwrap_or_else(|e| panic!("{id} outputs: {e}"));
        states.insert(id.clone(), state_after(c, &ctx, &out).await);
        outputs.insert(id, out);
    }
    (outputs, states)
}

async fn destroy_all(stack: &Stack, states: &BTreeMap<String, ComponentState>) {
    for id in order().into_iter().rev() {
        let c = stack.get(&id);
        let ctx = ctx_for(c, &[], states.get(&id).cloned());
        c.destroy(&ctx).await.unwrap_or_else(|e| panic!("destroy {id}: {e}"));
        assert!(ctx.journal_entries().await.is_empty(), "{id} journal not empty after destroy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_stack_lifecycle_on_moto() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
    let aws = tandem_core::testing::moto_context().await;
    let s = suffix("cmp");
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::example(&s);
    cfg.state.dir = dir.path().join("state");
    let package = test_package(dir.path(), "#!/bin/sh\necho v1\n");
    let stack = Stack::new(&cfg, &aws, &package);
    assert_eq!(stack.by_id.len(), 7);

    // The primary API health check comes from the traffic crate; a well-formed ARN stands in.
    let health = to_outputs(&HealthOutputs {
        api_check_id: format!("hc-{s}"),
        api_check_arn: format!("arn:aws:route53:::healthcheck/hc-{s}"),
        nlb_check_id: format!("nlb-{s}"),
        nlb_check_arn: format!("arn:aws:route53:::healthcheck/nlb-{s}"),
        ..Default::default()
    });

    // ---- apply ----
    let (outputs, states) = apply_all(&stack, &health, &BTreeMap::new()).await;
    let first = stack.lambda_mutations();
    // Three functions per region, the controller's two; the processors' rule permissions,
    // the probe's schedule permission and the decision alarm's permission on the failover
    // handler, whose limits are set once.
    assert_eq!(first.iter().filter(|c| c.starts_with("CreateFunction ")).count(), 8, "{first:?}");
    assert_eq!(first.iter().filter(|c| c.starts_with("AddPermission ")).count(), 4, "{first:?}");
    assert!(first.contains(&format!("PutFunctionConcurrency failover-secondary-{s} 1")), "{first:?}");
    assert!(first.contains(&format!("PutFunctionEventInvokeConfig failover-secondary-{s} 300 1")), "{first:?}");
    assert_eq!(first.len(), 14, "{first:?}");

    let iam = aws_sdk_iam::Client::new(&aws.config("us-east-1"));
    let roles: LambdaRolesOutputs = from_outputs(&outputs[ids::LAMBDA_ROLES]).unwrap();
    for kind in ["api", "processor", "replicator"] {
        let name = format!("lambda-{kind}-{s}");
        let role = iam.get_role().role_name(&name).send().await.unwrap();
        let role = role.role().unwrap();
        assert!(role.arn().ends_with(&format!("role/{name}")));
        let trust = tandem_core::iam::url_decode(role.assume_role_policy_document().unwrap_or_default());
        assert!(trust.contains("lambda.amazonaws.com"), "{trust}");
        let policy = iam.get_role_policy().role_name(&name).policy_name("tandem").send().await.unwrap();
        let doc = tandem_core::iam::url_decode(policy.policy_document());
        assert!(tandem_compute::iam::least_privilege_violations(&doc).is_empty(), "{doc}");
        assert!(doc.contains(&format!("/aws/lambda/{kind}-primary-{s}")), "{doc}");
    }
    assert!(roles.api_role_arn.contains(&format!("lambda-api-{s}")));

    let mut last_modified = BTreeMap::new();
    for (placement, region, other) in [(Placement::Primary, "us-east-1", "us-east-2"), (Placement::Secondary, "us-east-2", "us-east-1")] {
        let role = placement.to_string();
        let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
        let logs = aws_sdk_cloudwatchlogs::Client::new(&aws.config(region));
        let f: FunctionsOutputs = from_outputs(&outputs[&ids::functions(placement)]).unwrap();
        assert_eq!(f.code_sha256, package.sha256);
        for kind in ["api", "processor", "replicator"] {
            let name = format!("{kind}-{role}-{s}");
            let got = lambda.get_function().function_name(&name).send().await.unwrap();
            let c = got.configuration().unwrap();
            assert_eq!(c.runtime().map(|r| r.as_str()), Some("provided.al2023"));
            assert_eq!(c.handler(), Some("bootstrap"));
            assert_eq!(c.memory_size(), Some(256));
            assert_eq!(c.timeout(), Some(10));
            assert_eq!(c.code_sha256(), Some(package.base64_sha256.as_str()));
            assert!(c.architectures().iter().all(|a| a.as_str() == "x86_64"));
            let env = c.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
            assert_eq!(env.get("TANDEM_HANDLER").map(String::as_str), Some(kind));
            assert_eq!(env.get("TABLE_NAME"), Some(&format!("table-{s}")));
            assert_eq!(env.get("PARAMETER_PATH"), Some(&format!("/tandem/{s}/")));
            assert_eq!(env.get("TANDEM_ROLE"), Some(&role));
            assert_eq!(env.get("DEST_REGION").map(String::as_str), Some(other));
            assert_eq!(got.tags().and_then(|t| t.get("tandem:stack")), Some(&s));
            last_modified.insert(name.clone(), c.last_modified().unwrap_or_default().to_string());

            let groups = logs.describe_log_groups().log_group_name_prefix(format!("/aws/lambda/{name}")).send().await.unwrap();
            let g = groups.log_groups().iter().find(|g| g.log_group_name() == Some(&format!("/aws/lambda/{name}"))).unwrap();
            assert_eq!(g.retention_in_days(), Some(30));
        }

        let events = aws_sdk_eventbridge::Client::new(&aws.config(region));
        let bus: EventBusOutputs = from_outputs(&outputs[&ids::event_bus(placement)]).unwrap();
        assert_eq!(bus.bus_name, format!("bus-{s}"));
        let described = events.describe_event_bus().name(&bus.bus_name).send().await.unwrap();
        assert_eq!(described.arn(), Some(bus.bus_arn.as_str()));
        assert!(bus.bus_arn.contains(region));
        let rule_name = format!("events-{role}-{s}");
        let rule = events.describe_rule().name(&rule_name).event_bus_name(&bus.bus_name).send().await.unwrap();
        assert_eq!(rule.arn(), Some(bus.rule_arn.as_str()));
        assert_eq!(rule.state().map(|s| s.as_str()), Some("ENABLED"));
        let targets = events.list_targets_by_rule().rule(&rule_name).event_bus_name(&bus.bus_name).send().await.unwrap();
        assert_eq!(targets.targets().len(), 1);
        assert_eq!(targets.targets()[0].arn(), f.processor_function_arn);
        let policy = lambda.get_policy().function_name(&f.processor_function_name).send().await.unwrap();
        let policy = policy.policy().unwrap_or_default();
        assert!(tandem_clients::lambda::policy_has_statement(policy, &rule_name, &bus.rule_arn), "{policy}");
    }

    let endpoint: EventEndpointOutputs = from_outputs(&outputs[ids::EVENT_ENDPOINT]).unwrap();
    assert_eq!(endpoint.endpoint_name, format!("endpoint-{s}"));
    assert!(endpoint.endpoint_url.starts_with("https://") && endpoint.endpoint_url.ends_with(".endpoint.events.amazonaws.com"));
    // The global endpoint, inventoried with the raw SDK in its home region (the emulator's
    // extension serves it): ACTIVE, failing over on the primary API's health check to the
    // secondary region, replicating between the two buses.
    let described = aws_sdk_eventbridge::Client::new(&aws.config("us-east-1"))
        .describe_endpoint()
        .name(&endpoint.endpoint_name)
        .send()
        .await
        .expect("describe endpoint");
    assert_eq!(described.state().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(described.arn(), Some(endpoint.endpoint_arn.as_str()));
    let failover = described.routing_config().and_then(|r| r.failover_config()).expect("failover config");
    assert_eq!(failover.primary().map(|p| p.health_check()), Some(format!("arn:aws:route53:::healthcheck/hc-{s}").as_str()));
    assert_eq!(failover.secondary().map(|p| p.route()), Some("us-east-2"));
    assert_eq!(described.replication_config().and_then(|r| r.state()).map(|s| s.as_str()), Some("ENABLED"));
    let mut buses: Vec<&str> = described.event_buses().iter().map(|b| b.event_bus_arn()).collect();
    buses.sort();
    let mut want: Vec<String> = [Placement::Primary, Placement::Secondary]
        .iter()
        .map(|p| from_outputs::<EventBusOutputs>(&outputs[&ids::event_bus(*p)]).map(|o| o.bus_arn))
        .collect::<Result<_, _>>()
        .expect("bus outputs");
    want.sort();
    assert_eq!(buses, want.iter().map(String::as_str).collect::<Vec<_>>());
    let rrole = iam.get_role().role_name(format!("events-replication-{s}")).send().await.unwrap();
    let trust = tandem_core::iam::url_decode(rrole.role().unwrap().assume_role_policy_document().unwrap_or_default());
    assert!(trust.contains("events.amazonaws.com"));

    // ---- read: in sync ----
    for id in order() {
        let c = stack.get(&id);
        let inputs: Vec<(String, Outputs)> = c.dependencies().into_iter().map(|d| {
            let o = if d == ids::health(Placement::Primary) { health.clone() } else { outputs[&d].clone() };
            (d, o)
        }).collect();
        let ctx = ctx_for(c, &inputs, states.get(&id).cloned());
        assert_eq!(c.read(&ctx).await.unwrap(), Drift::InSync, "{id}");
    }

    // ---- the failover controller, inventoried with the raw SDK (us-east-2 only) ----
    let ctl: tandem_core::contracts::ControllerOutputs = from_outputs(&outputs[ids::CONTROLLER]).unwrap();
    assert_eq!((ctl.region.as_str(), ctl.automatic), ("us-east-2", true));
    let lambda2 = aws_sdk_lambda::Client::new(&aws.config("us-east-2"));
    let probe = lambda2.get_function().function_name(format!("probe-secondary-{s}")).send().await.unwrap();
    let probe = probe.configuration().unwrap();
    assert_eq!(probe.timeout(), Some(30));
    assert_eq!(probe.role(), Some(roles.probe_role_arn.as_str()));
    let env = probe.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    assert_eq!(env.get("TANDEM_HANDLER").map(String::as_str), Some("probe"));
    assert_eq!(env.get("PRIMARY_HEALTH_URL").map(String::as_str), Some("https://abc123.execute-api.us-east-1.amazonaws.com/live/health"));
    assert_eq!(env.get("PRIMARY_NLB_URL"), Some(&format!("http://nlb-primary-{s}.elb.us-east-1.amazonaws.com:443/health")));
    assert_eq!(env.get("FAILOVER_FUNCTION"), Some(&format!("failover-secondary-{s}")));
    assert_eq!(env.get("DECISION_ALARM"), Some(&format!("alarm-primary-down-secondary-{s}")));
    let failover = lambda2.get_function().function_name(format!("failover-secondary-{s}")).send().await.unwrap();
    assert_eq!(failover.concurrency().and_then(|c| c.reserved_concurrent_executions()), Some(1));
    let fconf = failover.configuration().unwrap();
    assert_eq!(fconf.timeout(), Some(300));
    let env = fconf.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    assert_eq!(env.get("SECONDARY_CLUSTER_ARN"), Some(&format!("arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-{s}")));
    assert_eq!(env.get("AUTOMATIC").map(String::as_str), Some("true"));
    let age = lambda2.get_function_event_invoke_config().function_name(format!("failover-secondary-{s}")).send().await.unwrap();
    assert_eq!((age.maximum_event_age_in_seconds(), age.maximum_retry_attempts()), (Some(300), Some(1)));
    let policy = lambda2.get_policy().function_name(format!("failover-secondary-{s}")).send().await.unwrap();
    let policy = policy.policy().unwrap_or_default().to_string();
    assert!(policy.contains("lambda.alarms.cloudwatch.amazonaws.com") && policy.contains(&format!("alarm:alarm-primary-down-secondary-{s}")), "{policy}");
    let events2 = aws_sdk_eventbridge::Client::new(&aws.config("us-east-2"));
    let rule = events2.describe_rule().name(format!("probe-schedule-{s}")).send().await.unwrap();
    assert_eq!(rule.schedule_expression(), Some("rate(1 minute)"));
    let targets = events2.list_targets_by_rule().rule(format!("probe-schedule-{s}")).send().await.unwrap();
    assert_eq!(targets.targets().iter().map(|t| t.arn()).collect::<Vec<_>>(), vec![ctl.probe_function_arn.as_str()]);
    for kind in ["probe", "failover"] {
        let name = format!("lambda-{kind}-{s}");
        let policy = iam.get_role_policy().role_name(&name).policy_name("tandem").send().await.unwrap();
        let doc = tandem_core::iam::url_decode(policy.policy_document());
        assert!(tandem_compute::iam::least_privilege_violations(&doc).is_empty(), "{doc}");
    }

    // ---- apply again: same outputs, no code/configuration update ----
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let stack2 = Stack::new(&cfg, &aws, &package);
    let (outputs2, states2) = apply_all(&stack2, &health, &states).await;
    assert_eq!(outputs2, outputs);
    assert_eq!(stack2.lambda_mutations(), Vec::<String>::new(), "second apply must make no mutating Lambda call");
    for (placement, region) in [(Placement::Primary, "us-east-1"), (Placement::Secondary, "us-east-2")] {
        let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
        for kind in ["api", "processor", "replicator"] {
            let name = format!("{kind}-{placement}-{s}");
            let got = lambda.get_function().function_name(&name).send().await.unwrap();
            assert_eq!(got.configuration().unwrap().last_modified().unwrap_or_default(), last_modified[&name], "{name} was modified");
        }
    }

    // ---- new code: only UpdateFunctionCode, LastModified moves ----
    let dir2 = tempfile::tempdir().unwrap();
    let package2 = test_package(dir2.path(), "#!/bin/sh\necho v2\n");
    assert_ne!(package2.sha256, package.sha256);
    let stack3 = Stack::new(&cfg, &aws, &package2);
    let (outputs3, states3) = apply_all(&stack3, &health, &states2).await;
    let f3: FunctionsOutputs = from_outputs(&outputs3[&ids::functions(Placement::Primary)]).unwrap();
    assert_eq!(f3.code_sha256, package2.sha256);
    let lambda = aws_sdk_lambda::Client::new(&aws.config("us-east-1"));
    let got = lambda.get_function().function_name(format!("api-primary-{s}")).send().await.unwrap();
    assert_eq!(got.configuration().unwrap().code_sha256(), Some(package2.base64_sha256.as_str()));
    let mut expected: Vec<String> = ["api", "processor", "replicator"]
        .iter()
        .flat_map(|k| [format!("UpdateFunctionCode {k}-primary-{s}"), format!("UpdateFunctionCode {k}-secondary-{s}")])
        .collect();
    // The controller's two functions run the same package.
    expected.extend(["probe", "failover"].map(|k| format!("UpdateFunctionCode {k}-secondary-{s}")));
    expected.sort();
    assert_eq!(stack3.lambda_mutations(), expected, "new code: UpdateFunctionCode only, once per function");

    // ---- destroy, check gone, destroy again ----
    destroy_all(&stack3, &states3).await;
    for (placement, region) in [(Placement::Primary, "us-east-1"), (Placement::Secondary, "us-east-2")] {
        let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
        let logs = aws_sdk_cloudwatchlogs::Client::new(&aws.config(region));
        for kind in ["api", "processor", "replicator"] {
            let name = format!("{kind}-{placement}-{s}");
            assert!(lambda.get_function().function_name(&name).send().await.is_err(), "{name} still exists");
            let groups = logs.describe_log_groups().log_group_name_prefix(format!("/aws/lambda/{name}")).send().await.unwrap();
            assert!(groups.log_groups().is_empty(), "log group of {name} still exists");
        }
        let events = aws_sdk_eventbridge::Client::new(&aws.config(region));
        assert!(events.describe_event_bus().name(format!("bus-{s}")).send().await.is_err(), "bus still exists in {region}");
    }
    let lambda2 = aws_sdk_lambda::Client::new(&aws.config("us-east-2"));
    for name in [format!("probe-secondary-{s}"), format!("failover-secondary-{s}")] {
        assert!(lambda2.get_function().function_name(&name).send().await.is_err(), "{name} still exists");
    }
    let events2 = aws_sdk_eventbridge::Client::new(&aws.config("us-east-2"));
    assert!(events2.describe_rule().name(format!("probe-schedule-{s}")).send().await.is_err(), "schedule rule still exists");
    for role in ["lambda-api", "lambda-processor", "lambda-replicator", "lambda-probe", "lambda-failover", "events-replication"] {
        assert!(iam.get_role().role_name(format!("{role}-{s}")).send().await.is_err(), "{role} still exists");
    }
    let endpoint_c = stack3.get(ids::EVENT_ENDPOINT);
    assert!(matches!(endpoint_c.read(&ctx_for(endpoint_c, &[], None)).await.unwrap(), Drift::Missing { .. }));

    let empty: BTreeMap<String, ComponentState> = BTreeMap::new();
    destroy_all(&Stack::new(&cfg, &aws, &package2), &empty).await;
}
