//! The traffic components against the local AWS emulator (moto 5.2): API Gateway in both
//! regions (with real Lambda functions for the permissions), ACM certificates validated
//! through a hosted zone (covering the failover record name as a SAN), a custom domain
//! named like the failover record in BOTH regions (API Gateway routes by Host header), Route
//! 53 health checks and failover records aliasing those domains, and the Global
//! Accelerator (served by the emulator's extension, emulator/globalaccelerator.py, in
//! us-west-2). Apply, check with the real
//! aws-sdk clients, apply again (nothing changes), destroy, check gone, destroy again.
//!
//! The primary's "one decision" checks (a CLOUDWATCH_METRIC check on the decision alarm in
//! the secondary region, and the CALCULATED check of it AND the API check) are created over
//! a real alarm in us-east-2; `decision_alarm_turns_the_calculated_check_unhealthy` drives
//! that alarm with metric data and watches Route 53's verdict (emulator/route53.py).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::contracts::{
    failover_alarms, failover_metrics, ids, AcceleratorOutputs, ApiOutputs, CertificateOutputs, DecisionOutputs, FailoverOutputs,
    FunctionsOutputs, HealthOutputs, LoadBalancerOutputs, ParametersOutputs,
};
use tandem_core::state::ComponentState;
use tandem_core::{from_outputs, Component, Config, Ctx, Drift, Outputs};

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-east-2";

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("tr{:x}{:x}", std::process::id() % 4096, nanos % 65536)
}

fn bootstrap_zip() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("bootstrap", zip::write::SimpleFileOptions::default()).expect("zip entry");
    w.write_all(b"#!/bin/sh\necho ok\n").expect("zip write");
    w.finish().expect("zip finish").into_inner()
}

/// Creates a minimal Lambda function (and its role) so AddPermission has a target.
async fn create_function(aws: &AwsContext, region: &str, name: &str, role_arn: &str) -> FunctionsOutputs {
    let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
    let f = lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role_arn)
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new(bootstrap_zip())).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("create function {name} in {region}: {e:?}"));
    let arn = f.function_arn().expect("function arn").to_string();
    FunctionsOutputs {
        api_function_name: name.to_string(),
        api_function_arn: arn.clone(),
        processor_function_name: name.to_string(),
        processor_function_arn: arn.clone(),
        replicator_function_name: name.to_string(),
        replicator_function_arn: arn,
        code_sha256: f.code_sha256().unwrap_or_default().to_string(),
    }
}

fn fake_lb(region: &str, s: &str) -> LoadBalancerOutputs {
    LoadBalancerOutputs {
        nlb_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/net/nlb-{s}/0123456789abcdef"),
        nlb_dns_name: format!("nlb-{s}-0123456789.elb.{region}.amazonaws.com"),
        nlb_zone_id: "Z26RNL4JYFTOTI".into(),
        nlb_target_group_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:targetgroup/tg-{s}/1"),
        alb_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/app/alb-{s}/1"),
        alb_dns_name: format!("alb-{s}.{region}.elb.amazonaws.com"),
        alb_target_group_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:targetgroup/tgl-{s}/1"),
    }
}

/// The "primary down" decision alarm as `failover-alarms` makes it (in the secondary region:
/// `Tandem/Failover` `PrimaryDown` >= 1, missing data not breaching), and its outputs.
async fn decision_alarm(aws: &AwsContext, s: &str) -> DecisionOutputs {
    let cw = aws_sdk_cloudwatch::Client::new(&aws.config(SECONDARY));
    let name = failover_alarms::decision(s);
    cw.put_metric_alarm()
        .alarm_name(&name)
        .namespace(failover_metrics::NAMESPACE)
        .metric_name(failover_metrics::PRIMARY_DOWN)
        .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name(failover_metrics::DIMENSION).value(s).build())
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .send()
        .await
        .unwrap_or_else(|e| panic!("put decision alarm {name} in {SECONDARY}: {e:?}"));
    DecisionOutputs {
        region: SECONDARY.into(),
        decision_alarm_name: name,
        blind_alarm_name: failover_alarms::blind(s),
        failed_over_alarm_name: failover_alarms::failed_over(s),
    }
}

/// A little engine: the recorded state and outputs of every component, by id.
#[derive(Default)]
struct Run {
    state: BTreeMap<String, ComponentState>,
    external: BTreeMap<String, Outputs>,
}

impl Run {
    fn ctx(&self, c: &dyn Component) -> Ctx {
        let mut ctx = Ctx::standalone(c.id(), c.region());
        for dep in c.dependencies() {
            let outputs = self
                .state
                .get(&dep)
                .map(|s| s.outputs.clone())
                .or_else(|| self.external.get(&dep).cloned())
                .unwrap_or_else(|| panic!("{} needs {dep}", c.id()));
            ctx = ctx.with_input(&dep, &outputs);
        }
        if let Some(p) = self.state.get(c.id()) {
            ctx = ctx.with_prior(p.clone());
        }
        ctx
    }

    async fn apply(&mut self, c: &dyn Component) -> Outputs {
        let ctx = self.ctx(c);
        let out = c.apply(&ctx).await.unwrap_or_else(|e| panic!("apply {}: {e}", c.id()));
        if let Err(e) = c.output_type().check(&out) {
            panic!("{}: outputs are not a {}: {e}", c.id(), c.output_type().short_name());
        }
        let mut st = self.state.remove(c.id()).unwrap_or_else(|| ComponentState::new(c.kind(), c.placement(), c.region()));
        st = st.with_outputs(out.clone());
        st.resources.extend(ctx.journal_entries().await);
        self.state.insert(c.id().to_string(), st);
        out
    }

    async fn destroy(&mut self, c: &dyn Component) {
        let mut ctx = Ctx::standalone(c.id(), c.region());
        if let Some(p) = self.state.get(c.id()) {
            ctx = ctx.with_prior(p.clone());
        }
        c.destroy(&ctx).await.unwrap_or_else(|e| panic!("destroy {}: {e}", c.id()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traffic_stack_on_moto() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
    let aws = tandem_core::testing::moto_context().await;
    let s = unique_suffix();
    let state_dir = std::env::temp_dir().join(format!("tandem-traffic-moto-{s}"));

    // A hosted zone for certificate validation and failover records.
    let zone_name = format!("{s}.tandem-test.example");
    let r53 = aws_sdk_route53::Client::new(&aws.config(PRIMARY));
    let zone = r53
        .create_hosted_zone()
        .name(&zone_name)
        .caller_reference(format!("zone-{s}"))
        .send()
        .await
        .expect("create hosted zone");
    let zone_id = zone.hosted_zone().map(|z| z.id().trim_start_matches("/hostedzone/").to_string()).expect("zone id");

    // Lambda functions the APIs integrate with.
    let iam = aws_sdk_iam::Client::new(&aws.config(PRIMARY));
    let role = iam
        .create_role()
        .role_name(format!("lambda-{s}"))
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("create role");
    let role_arn = role.role().map(|r| r.arn().to_string()).expect("role arn");
    let fn_primary = create_function(&aws, PRIMARY, &format!("api-primary-{s}"), &role_arn).await;
    let fn_secondary = create_function(&aws, SECONDARY, &format!("api-secondary-{s}"), &role_arn).await;

    let mut cfg = Config::example(&s);
    cfg.api.primary_domain = Some(format!("primary.{zone_name}"));
    cfg.api.secondary_domain = Some(format!("secondary.{zone_name}"));
    cfg.dns.hosted_zone_id = Some(zone_id.clone());
    let record_name = format!("api.{zone_name}");
    cfg.dns.record_name = Some(record_name.clone());
    cfg.state.dir = state_dir.clone();

    let comps: Vec<Arc<dyn Component>> = tandem_traffic::components(&cfg, &aws);
    let by_id: BTreeMap<String, Arc<dyn Component>> = comps.iter().map(|c| (c.id().to_string(), c.clone())).collect();
    let order = [
        "certificate-primary",
        "certificate-secondary",
        "api-primary",
        "api-secondary",
        "health-primary",
        "health-secondary",
        "dns-failover",
        "accelerator",
    ];
    for id in order {
        assert!(by_id[id].wanted(), "{id} is wanted with domains and a zone");
    }

    let mut run = Run::default();
    run.external.insert("functions-primary".into(), tandem_core::to_outputs(&fn_primary));
    run.external.insert("functions-secondary".into(), tandem_core::to_outputs(&fn_secondary));
    run.external.insert("loadbalancer-primary".into(), tandem_core::to_outputs(&fake_lb(PRIMARY, &s)));
    run.external.insert("loadbalancer-secondary".into(), tandem_core::to_outputs(&fake_lb(SECONDARY, &s)));
    let decision = decision_alarm(&aws, &s).await;
    run.external.insert(ids::FAILOVER_ALARMS.into(), tandem_core::to_outputs(&decision));
    // The API key as `parameters` leaves it: a SecureString in both regions.
    let key_name = format!("/tandem/{s}/api-key");
    let key_value = format!("moto-key-{s}-0123456789abcdefghij");
    for region in [PRIMARY, SECONDARY] {
        aws_sdk_ssm::Client::new(&aws.config(region))
            .put_parameter()
            .name(&key_name)
            .value(&key_value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("api-key parameter");
    }
    run.external.insert(
        ids::PARAMETERS.into(),
        tandem_core::to_outputs(&ParametersOutputs {
            path: format!("/tandem/{s}/"),
            names: vec![],
            api_key_parameter: key_name.clone(),
            api_key_sha256_parameter: format!("/tandem/{s}/api-key-sha256"),
        }),
    );

    // ---- apply ----
    let mut first = BTreeMap::new();
    for id in order {
        first.insert(id, run.apply(by_id[id].as_ref()).await);
    }

    // Certificates: issued, validation CNAMEs in the zone.
    for (id, region) in [("certificate-primary", PRIMARY), ("certificate-secondary", SECONDARY)] {
        let out: CertificateOutputs = from_outputs(&first[id]).expect("certificate outputs");
        assert_eq!(out.status, "ISSUED", "{id}");
        let acm = aws_sdk_acm::Client::new(&aws.config(region));
        let d = acm.describe_certificate().certificate_arn(&out.certificate_arn).send().await.expect("describe certificate");
        assert_eq!(d.certificate().and_then(|c| c.status()).map(|x| x.as_str()), Some("ISSUED"));
        let tags = acm.list_tags_for_certificate().certificate_arn(&out.certificate_arn).send().await.expect("cert tags");
        assert!(tags.tags().iter().any(|t| t.key() == "tandem:stack" && t.value() == Some(s.as_str())), "{id} tagged");
        assert!(!out.validation_records.is_empty(), "{id} has validation records");
        // The failover record name is a SubjectAlternativeName (the record_name custom
        // domain of the region uses this certificate).
        let sans = d.certificate().map(|c| c.subject_alternative_names().to_vec()).unwrap_or_default();
        assert!(sans.iter().any(|n| n == &record_name), "{id} covers {record_name}: {sans:?}");
        assert!(
            out.validation_records.iter().any(|(n, _)| n.trim_end_matches('.').ends_with(record_name.as_str())),
            "{id}: validation record of {record_name}: {:?}",
            out.validation_records
        );
    }
    let records = r53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let cnames = records.resource_record_sets().iter().filter(|r| r.r#type().as_str() == "CNAME").count();
    assert!(cnames >= 2, "validation CNAMEs created: {:?}", records.resource_record_sets());

    // APIs: REST API, stage, routes, permission, custom domains and mappings.
    let mut failover_targets: Vec<(String, String)> = Vec::new();
    for (id, region, fname) in [("api-primary", PRIMARY, &fn_primary.api_function_name), ("api-secondary", SECONDARY, &fn_secondary.api_function_name)] {
        let out: ApiOutputs = from_outputs(&first[id]).expect("api outputs");
        let gw = aws_sdk_apigateway::Client::new(&aws.config(region));
        let api = gw.get_rest_api().rest_api_id(&out.rest_api_id).send().await.expect("get rest api");
        assert_eq!(api.name(), Some(format!("{id}-{s}").as_str()));
        assert_eq!(out.execute_api_host, format!("{}.execute-api.{region}.amazonaws.com", out.rest_api_id));
        assert_eq!(out.health_path, "/live/health");
        gw.get_stage().rest_api_id(&out.rest_api_id).stage_name("live").send().await.expect("stage live");
        let res = gw.get_resources().rest_api_id(&out.rest_api_id).send().await.expect("resources");
        let paths: Vec<&str> = res.items().iter().filter_map(|r| r.path()).collect();
        assert!(paths.contains(&"/health") && paths.contains(&"/items/{id}") && !paths.contains(&"/{proxy+}"), "{paths:?}");
        // Writes and reads need the key, /health does not.
        let rid = |p: &str| res.items().iter().find(|r| r.path() == Some(p)).and_then(|r| r.id()).unwrap_or_default().to_string();
        for (path, method, key) in [("/health", "GET", false), ("/items/{id}", "GET", true), ("/items/{id}", "PUT", true), ("/items/{id}", "DELETE", true)] {
            let m = gw.get_method().rest_api_id(&out.rest_api_id).resource_id(rid(path)).http_method(method).send().await.expect("method");
            assert_eq!(m.api_key_required(), Some(key), "{id}: {method} {path}");
            assert_eq!(m.method_integration().and_then(|i| i.r#type()).map(|t| t.as_str()), Some("AWS_PROXY"), "{id}: {method} {path}");
        }
        // A throttled usage plan on the stage holding the key whose value is the parameter's.
        let plans = gw.get_usage_plans().send().await.expect("usage plans");
        let plan = plans.items().iter().find(|p| p.name() == Some(format!("usage-plan-{}-{s}", &id[4..]).as_str())).expect("usage plan");
        assert!(plan.api_stages().iter().any(|st| st.api_id() == Some(out.rest_api_id.as_str()) && st.stage() == Some("live")), "{plan:?}");
        assert_eq!(plan.throttle().map(|t| (t.rate_limit(), t.burst_limit())), Some((50.0, 100)), "{plan:?}");
        let keys = gw.get_usage_plan_keys().usage_plan_id(plan.id().unwrap_or_default()).send().await.expect("plan keys");
        assert_eq!(keys.items().len(), 1, "{id}: one key on the plan");
        let key = gw.get_api_key().api_key(keys.items()[0].id().unwrap_or_default()).include_value(true).send().await.expect("key");
        assert!(key.value() == Some(key_value.as_str()) && key.enabled(), "{id}: the key is the parameter's value");
        let domain = out.custom_domain.clone().expect("custom domain");
        let d = gw.get_domain_name().domain_name(&domain).send().await.expect("domain");
        assert_eq!(d.regional_certificate_arn(), out.certificate_arn.as_deref());
        let maps = gw.get_base_path_mappings().domain_name(&domain).send().await.expect("mappings");
        assert!(maps.items().iter().any(|m| m.rest_api_id() == Some(out.rest_api_id.as_str())), "mapping to the API");
        let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
        let policy = lambda.get_policy().function_name(fname).send().await.expect("policy");
        assert!(policy.policy().unwrap_or_default().contains(&format!("apigateway-{}", out.rest_api_id)), "permission granted");
        // A custom domain NAMED record_name in this region (API Gateway routes by Host).
        assert_eq!(out.failover_domain.as_deref(), Some(record_name.as_str()), "{id}");
        let f = gw.get_domain_name().domain_name(&record_name).send().await.unwrap_or_else(|e| panic!("{id}: {record_name} domain in {region}: {e:?}"));
        assert_eq!(f.domain_name(), Some(record_name.as_str()));
        assert_eq!(f.regional_certificate_arn(), out.certificate_arn.as_deref(), "{id}: the region's certificate");
        assert_eq!(f.regional_domain_name(), out.failover_regional_domain_name.as_deref());
        assert_eq!(f.regional_hosted_zone_id(), out.failover_regional_hosted_zone_id.as_deref());
        assert_eq!(f.security_policy().map(|p| p.as_str()), Some("TLS_1_2"));
        assert!(
            f.endpoint_configuration().is_some_and(|e| e.types().iter().any(|t| t.as_str() == "REGIONAL")),
            "{id}: {record_name} is REGIONAL"
        );
        assert!(f.tags().is_some_and(|t| t.get("tandem:stack").map(String::as_str) == Some(s.as_str())), "{id}: {record_name} tagged");
        let fmaps = gw.get_base_path_mappings().domain_name(&record_name).send().await.expect("failover mappings");
        assert!(
            fmaps.items().iter().any(|m| m.rest_api_id() == Some(out.rest_api_id.as_str()) && m.stage() == Some("live")),
            "{id}: {record_name} maps to the API"
        );
        failover_targets.push((
            out.failover_regional_domain_name.clone().expect("failover target"),
            out.failover_regional_hosted_zone_id.clone().expect("failover zone"),
        ));
    }

    // Health checks: on the created API hosts and the NLB names, tagged.
    let mut check_ids = Vec::new();
    for (id, api_id, lb_region) in [("health-primary", "api-primary", PRIMARY), ("health-secondary", "api-secondary", SECONDARY)] {
        let out: HealthOutputs = from_outputs(&first[id]).expect("health outputs");
        let api: ApiOutputs = from_outputs(&first[api_id]).expect("api outputs");
        let c = r53.get_health_check().health_check_id(&out.api_check_id).send().await.expect("api check");
        let conf = c.health_check().and_then(|h| h.health_check_config()).expect("config");
        assert_eq!(conf.fully_qualified_domain_name(), Some(api.execute_api_host.as_str()));
        assert_eq!(conf.resource_path(), Some("/live/health"));
        assert_eq!(conf.r#type().as_str(), "HTTPS");
        assert_eq!(conf.request_interval(), Some(10));
        assert_eq!(conf.failure_threshold(), Some(3));
        let n = r53.get_health_check().health_check_id(&out.nlb_check_id).send().await.expect("nlb check");
        let nconf = n.health_check().and_then(|h| h.health_check_config()).expect("config");
        assert_eq!(nconf.fully_qualified_domain_name(), Some(fake_lb(lb_region, &s).nlb_dns_name.as_str()));
        assert_eq!(nconf.r#type().as_str(), "TCP");
        let tags = r53
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Healthcheck)
            .resource_id(&out.api_check_id)
            .send()
            .await
            .expect("check tags");
        assert!(tags.resource_tag_set().is_some_and(|t| t.tags().iter().any(|t| t.value() == Some(s.as_str()))), "{id} tagged");
        assert_eq!(out.api_check_arn, format!("arn:aws:route53:::healthcheck/{}", out.api_check_id));
        if id == "health-primary" {
            // The decision: CLOUDWATCH_METRIC on the alarm in the secondary region, missing
            // data healthy; and the CALCULATED check "API AND not decided down".
            let decision_id = out.decision_check_id.clone().expect("primary decision check");
            let d = r53.get_health_check().health_check_id(&decision_id).send().await.expect("decision check");
            let dconf = d.health_check().and_then(|h| h.health_check_config()).expect("config");
            assert_eq!(dconf.r#type().as_str(), "CLOUDWATCH_METRIC");
            let alarm = dconf.alarm_identifier().expect("alarm identifier");
            assert_eq!((alarm.region().as_str(), alarm.name()), (SECONDARY, decision.decision_alarm_name.as_str()));
            assert_eq!(dconf.insufficient_data_health_status().map(|x| x.as_str()), Some("Healthy"));
            let failover_id = out.failover_check_id.clone().expect("primary calculated check");
            let f = r53.get_health_check().health_check_id(&failover_id).send().await.expect("calculated check");
            let fconf = f.health_check().and_then(|h| h.health_check_config()).expect("config");
            assert_eq!(fconf.r#type().as_str(), "CALCULATED");
            let mut children = fconf.child_health_checks().to_vec();
            children.sort();
            let mut want = vec![out.api_check_id.clone(), decision_id.clone()];
            want.sort();
            assert_eq!(children, want);
            assert_eq!(fconf.health_threshold(), Some(2));
            assert_eq!(out.failover_check_arn.as_deref(), Some(format!("arn:aws:route53:::healthcheck/{failover_id}").as_str()));
            check_ids.push(decision_id);
            check_ids.push(failover_id);
        } else {
            assert_eq!((out.decision_check_id.as_deref(), out.failover_check_id.as_deref()), (None, None), "{id}");
        }
        check_ids.push(out.api_check_id);
        check_ids.push(out.nlb_check_id);
    }

    // Failover records.
    let failover: FailoverOutputs = from_outputs(&first["dns-failover"]).expect("failover outputs");
    let records = r53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let fo: Vec<_> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().trim_end_matches('.') == failover.record_name && r.failover().is_some())
        .collect();
    assert_eq!(fo.len(), 2, "PRIMARY and SECONDARY: {fo:?}");
    assert!(fo.iter().all(|r| r.health_check_id().is_some_and(|h| check_ids.contains(&h.to_string()))));
    // PRIMARY on the calculated check (one decision), SECONDARY on the secondary's API check.
    let primary_health: HealthOutputs = from_outputs(&first["health-primary"]).expect("health outputs");
    let secondary_health: HealthOutputs = from_outputs(&first["health-secondary"]).expect("health outputs");
    for (kind, check) in [("PRIMARY", primary_health.failover_check_id.clone()), ("SECONDARY", Some(secondary_health.api_check_id.clone()))] {
        let r = fo.iter().find(|r| r.failover().map(|f| f.as_str()) == Some(kind)).expect("record");
        assert_eq!(r.health_check_id().map(str::to_string), check, "{kind} record's health check");
    }
    assert!(fo.iter().all(|r| r.alias_target().is_some()));
    // Aliased to the record_name domains (not the regional domains), PRIMARY → primary.
    for (failover_kind, (target, target_zone)) in ["PRIMARY", "SECONDARY"].into_iter().zip(&failover_targets) {
        let r = fo.iter().find(|r| r.failover().map(|f| f.as_str()) == Some(failover_kind)).expect("record");
        let a = r.alias_target().expect("alias");
        assert_eq!(a.dns_name().trim_end_matches('.'), target.trim_end_matches('.'), "{failover_kind} alias target");
        assert_eq!(a.hosted_zone_id(), target_zone, "{failover_kind} alias zone");
    }

    // Accelerator, inventoried with the raw SDK in us-west-2: enabled and deployed, one TCP
    // listener on 443, an endpoint group per region holding that region's NLB.
    let acc: AcceleratorOutputs = from_outputs(&first["accelerator"]).expect("accelerator outputs");
    assert_eq!(acc.endpoint_group_arns.len(), 2);
    assert!(acc.dns_name.ends_with(".awsglobalaccelerator.com"));
    let ga = aws_sdk_globalaccelerator::Client::new(&tandem_traffic::global_accelerator_config(&aws));
    let a = ga.describe_accelerator().accelerator_arn(&acc.accelerator_arn).send().await.expect("describe accelerator");
    let a = a.accelerator().expect("accelerator");
    assert_eq!((a.name(), a.enabled()), (Some(format!("accelerator-{s}").as_str()), Some(true)));
    assert_eq!(a.ip_sets().iter().flat_map(|i| i.ip_addresses()).count(), 2, "two static IPs");
    let listeners = ga.list_listeners().accelerator_arn(&acc.accelerator_arn).send().await.expect("listeners");
    let listeners = listeners.listeners();
    assert_eq!(listeners.len(), 1);
    let ports: Vec<(Option<i32>, Option<i32>)> = listeners[0].port_ranges().iter().map(|p| (p.from_port(), p.to_port())).collect();
    assert_eq!(ports, vec![(Some(443), Some(443))]);
    assert_eq!(listeners[0].protocol().map(|p| p.as_str()), Some("TCP"));
    let groups = ga.list_endpoint_groups().listener_arn(&acc.listener_arn).send().await.expect("groups");
    let mut by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in groups.endpoint_groups() {
        let ids = g.endpoint_descriptions().iter().filter_map(|e| e.endpoint_id().map(str::to_string)).collect();
        by_region.insert(g.endpoint_group_region().unwrap_or_default().to_string(), ids);
    }
    assert_eq!(
        by_region,
        BTreeMap::from([
            (PRIMARY.to_string(), vec![fake_lb(PRIMARY, &s).nlb_arn]),
            (SECONDARY.to_string(), vec![fake_lb(SECONDARY, &s).nlb_arn]),
        ])
    );

    // ---- apply again: nothing changes ----
    let apis_before = aws_sdk_apigateway::Client::new(&aws.config(PRIMARY)).get_rest_apis().send().await.expect("apis").items().len();
    let checks_before = r53.list_health_checks().send().await.expect("checks").health_checks().len();
    for id in order {
        let out = run.apply(by_id[id].as_ref()).await;
        assert_eq!(out, first[id], "{id}: second apply returns the same outputs");
    }
    let apis_after = aws_sdk_apigateway::Client::new(&aws.config(PRIMARY)).get_rest_apis().send().await.expect("apis").items().len();
    assert_eq!(apis_before, apis_after, "no new REST API");
    assert_eq!(checks_before, r53.list_health_checks().send().await.expect("checks").health_checks().len(), "no new health check");
    for id in order {
        let c = by_id[id].as_ref();
        let drift = c.read(&run.ctx(c)).await.unwrap_or_else(|e| panic!("read {id}: {e}"));
        assert_eq!(drift, Drift::InSync, "{id}");
    }

    // ---- destroy (reverse order), twice ----
    for _ in 0..2 {
        for id in order.iter().rev() {
            run.destroy(by_id[*id].as_ref()).await;
        }
    }

    // Everything is gone.
    for (id, region) in [("api-primary", PRIMARY), ("api-secondary", SECONDARY)] {
        let out: ApiOutputs = from_outputs(&first[id]).expect("api outputs");
        let gw = aws_sdk_apigateway::Client::new(&aws.config(region));
        let plans = gw.get_usage_plans().send().await.expect("usage plans");
        assert!(!plans.items().iter().any(|p| p.name().unwrap_or_default().contains(&s)), "{id}: usage plan deleted");
        let keys = gw.get_api_keys().send().await.expect("api keys");
        assert!(!keys.items().iter().any(|k| k.name().unwrap_or_default().contains(&s)), "{id}: API key deleted");
        assert!(gw.get_rest_api().rest_api_id(&out.rest_api_id).send().await.is_err(), "{id} REST API deleted");
        let domain = out.custom_domain.clone().expect("domain");
        assert!(gw.get_domain_name().domain_name(&domain).send().await.is_err(), "{domain} deleted");
        assert!(gw.get_domain_name().domain_name(&record_name).send().await.is_err(), "{id}: {record_name} deleted in {region}");
        let fname = if region == PRIMARY { &fn_primary.api_function_name } else { &fn_secondary.api_function_name };
        let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
        let policy = lambda.get_policy().function_name(fname).send().await.ok().and_then(|p| p.policy().map(str::to_string)).unwrap_or_default();
        assert!(!policy.contains(&format!("apigateway-{}", out.rest_api_id)), "{id}: permission removed");
    }
    for (id, region) in [("certificate-primary", PRIMARY), ("certificate-secondary", SECONDARY)] {
        let out: CertificateOutputs = from_outputs(&first[id]).expect("certificate outputs");
        let acm = aws_sdk_acm::Client::new(&aws.config(region));
        assert!(acm.describe_certificate().certificate_arn(&out.certificate_arn).send().await.is_err(), "{id} deleted");
    }
    let remaining = r53.list_health_checks().send().await.expect("checks");
    for id in &check_ids {
        assert!(!remaining.health_checks().iter().any(|h| h.id() == id), "health check {id} deleted");
    }
    let records = r53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    let left: Vec<String> = records
        .resource_record_sets()
        .iter()
        .filter(|r| !matches!(r.r#type().as_str(), "NS" | "SOA"))
        .map(|r| format!("{} {}", r.name(), r.r#type().as_str()))
        .collect();
    assert!(left.is_empty(), "records left in the zone: {left:?}");
    let acc_component = by_id["accelerator"].as_ref();
    let drift = acc_component.read(&run.ctx(acc_component)).await.expect("read accelerator");
    assert!(matches!(drift, Drift::Missing { .. }), "accelerator gone: {drift:?}");
    assert!(ga.describe_accelerator().accelerator_arn(&acc.accelerator_arn).send().await.is_err(), "accelerator deleted");

    let _ = r53.delete_hosted_zone().id(&zone_id).send().await;
    let _ = aws_sdk_cloudwatch::Client::new(&aws.config(SECONDARY)).delete_alarms().alarm_names(&decision.decision_alarm_name).send().await;
    let _ = std::fs::remove_dir_all(state_dir);
}

/// Puts one `Tandem/Failover PrimaryDown` datapoint (now) into the secondary region, the
/// path the controller's probe and `tandem failover` take.
async fn put_primary_down(cw: &aws_sdk_cloudwatch::Client, s: &str, value: f64) {
    cw.put_metric_data()
        .namespace(failover_metrics::NAMESPACE)
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name(failover_metrics::PRIMARY_DOWN)
                .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name(failover_metrics::DIMENSION).value(s).build())
                .value(value)
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now()))
                .build(),
        )
        .send()
        .await
        .expect("put PrimaryDown");
}

/// Waits (bounded: 60 s) until the alarm is in `state`.
async fn wait_alarm(cw: &aws_sdk_cloudwatch::Client, name: &str, state: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        let out = cw.describe_alarms().alarm_names(name).send().await.expect("describe alarms");
        last = out.metric_alarms().first().and_then(|a| a.state_value()).map(|v| v.as_str().to_string()).unwrap_or_default();
        if last == state {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("alarm {name} never reached {state} within 60 s (last {last})");
}

/// The statuses (1 healthy, 0 not) Route 53 published for `check` (the `AWS/Route53`
/// `HealthCheckStatus` metric, us-east-1) stamped at or after `since`, waiting (bounded:
/// 60 s) until there is at least one. The way to read a CALCULATED check's status:
/// GetHealthCheckStatus refuses calculated checks, on AWS as in the emulator.
async fn statuses_since(cw: &aws_sdk_cloudwatch::Client, check: &str, since: std::time::SystemTime) -> (f64, f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let out = cw
            .get_metric_statistics()
            .namespace("AWS/Route53")
            .metric_name("HealthCheckStatus")
            .dimensions(aws_sdk_cloudwatch::types::Dimension::builder().name("HealthCheckId").value(check).build())
            .start_time(aws_sdk_cloudwatch::primitives::DateTime::from(since))
            .end_time(aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now() + std::time::Duration::from_secs(60)))
            .period(60)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Minimum)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Maximum)
            .send()
            .await
            .expect("get HealthCheckStatus");
        let points = out.datapoints();
        if !points.is_empty() {
            let min = points.iter().filter_map(|p| p.minimum()).fold(f64::INFINITY, f64::min);
            let max = points.iter().filter_map(|p| p.maximum()).fold(f64::NEG_INFINITY, f64::max);
            return (min, max);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("no HealthCheckStatus of {check} published within 60 s");
}

/// The next whole second from now: Route 53's published datapoints carry whole seconds, so
/// one stamped at or after this instant was published after now.
fn next_second() -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    let since_epoch = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(since_epoch.as_secs() + 1)
}

/// What every checker of `check` reports (GetHealthCheckStatus).
async fn observations(r53: &aws_sdk_route53::Client, check: &str) -> Vec<String> {
    let out = r53.get_health_check_status().health_check_id(check).send().await.unwrap_or_else(|e| panic!("status of {check}: {e:?}"));
    out.health_check_observations().iter().filter_map(|o| o.status_report().and_then(|r| r.status()).map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decision_alarm_turns_the_calculated_check_unhealthy() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
    let aws = tandem_core::testing::moto_context().await;
    let s = unique_suffix();
    let cw_secondary = aws_sdk_cloudwatch::Client::new(&aws.config(SECONDARY));
    let cw_route53 = aws_sdk_cloudwatch::Client::new(&aws.config(PRIMARY));
    let r53 = aws_sdk_route53::Client::new(&aws.config(PRIMARY));

    // The decision alarm in us-east-2, OK: the probe reports the primary up.
    let decision = decision_alarm(&aws, &s).await;
    put_primary_down(&cw_secondary, &s, 0.0).await;
    wait_alarm(&cw_secondary, &decision.decision_alarm_name, "OK").await;

    // health-primary over synthetic inputs (an API host and an NLB name in us-east-1).
    let cfg = Config::example(&s);
    let comps = tandem_traffic::components(&cfg, &aws);
    let health = comps.iter().find(|c| c.id() == "health-primary").expect("health-primary").clone();
    let rest_api_id = format!("a{s}");
    let api = ApiOutputs {
        rest_api_id: rest_api_id.clone(),
        stage_name: "live".into(),
        invoke_url: format!("https://{rest_api_id}.execute-api.{PRIMARY}.amazonaws.com/live"),
        execute_api_host: format!("{rest_api_id}.execute-api.{PRIMARY}.amazonaws.com"),
        health_path: "/live/health".into(),
        custom_domain: None,
        regional_domain_name: None,
        regional_hosted_zone_id: None,
        certificate_arn: None,
        failover_domain: None,
        failover_regional_domain_name: None,
        failover_regional_hosted_zone_id: None,
    };
    let ctx = Ctx::standalone(health.id(), health.region())
        .with_input(&ids::api(tandem_core::Placement::Primary), &api)
        .with_input(&ids::load_balancer(tandem_core::Placement::Primary), &fake_lb(PRIMARY, &s))
        .with_input(ids::FAILOVER_ALARMS, &decision);
    let out: HealthOutputs = from_outputs(&health.apply(&ctx).await.expect("apply health-primary")).expect("health outputs");
    let decision_check = out.decision_check_id.clone().expect("decision check");
    let calculated = out.failover_check_id.clone().expect("calculated check");
    assert_eq!(out.routing_check_id(), calculated);
    assert_eq!(health.read(&ctx).await.expect("read"), Drift::InSync);

    // Healthy: the API answers and the primary is not decided down.
    let since = next_second();
    assert!(observations(&r53, &out.api_check_id).await.iter().all(|o| o.starts_with("Success")));
    assert!(observations(&r53, &decision_check).await.iter().all(|o| o.starts_with("Success")));
    let err = r53.get_health_check_status().health_check_id(&calculated).send().await.expect_err("calculated: no checker status");
    assert_eq!(tandem_core::AwsError::from_sdk(err).code, "InvalidInput");
    assert_eq!(statuses_since(&cw_route53, &calculated, since).await, (1.0, 1.0), "the calculated check is healthy");

    // The decision: PrimaryDown = 1 puts the alarm in ALARM; Route 53 turns the metric check
    // and with it the calculated check unhealthy while the API check stays healthy.
    put_primary_down(&cw_secondary, &s, 1.0).await;
    wait_alarm(&cw_secondary, &decision.decision_alarm_name, "ALARM").await;
    let since = next_second();
    let reports = observations(&r53, &decision_check).await;
    assert!(!reports.is_empty() && reports.iter().all(|o| o.starts_with("Failure")), "{reports:?}");
    assert!(observations(&r53, &out.api_check_id).await.iter().all(|o| o.starts_with("Success")), "the API still answers");
    assert_eq!(statuses_since(&cw_route53, &calculated, since).await, (0.0, 0.0), "decided down: the calculated check is unhealthy");

    // Destroy: every check gone (the calculated one first), a second destroy is a no-op.
    let mut prior = tandem_core::state::ComponentState::new(health.kind(), health.placement(), health.region())
        .with_outputs(tandem_core::to_outputs(&out));
    prior.resources.extend(ctx.journal_entries().await);
    for _ in 0..2 {
        let d = Ctx::standalone(health.id(), health.region()).with_prior(prior.clone());
        health.destroy(&d).await.expect("destroy health-primary");
        prior = tandem_core::state::ComponentState::new(health.kind(), health.placement(), health.region());
    }
    for id in [&out.api_check_id, &out.nlb_check_id, &decision_check, &calculated] {
        let err = r53.get_health_check().health_check_id(id.as_str()).send().await.expect_err("deleted");
        assert_eq!(tandem_core::AwsError::from_sdk(err).code, "NoSuchHealthCheck", "health check {id} deleted");
    }
    let _ = cw_secondary.delete_alarms().alarm_names(&decision.decision_alarm_name).send().await;
}
