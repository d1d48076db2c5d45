//! Inventories both regions with the aws-sdk clients directly: what must exist after apply,
//! and that nothing named or tagged with the suffix remains after destroy.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;
use tandem_tests::Moto;

use crate::{Deployment, PRIMARY, SECONDARY};

fn role(region: &str) -> &'static str {
    if region == PRIMARY {
        "primary"
    } else {
        "secondary"
    }
}

fn stack_filter(suffix: &str) -> Filter {
    Filter::builder().name("tag:tandem:stack").values(suffix).build()
}

pub async fn check_deployed(moto: &Moto, d: &Deployment) {
    let s = &d.suffix;
    check_role_trust(moto, s).await;
    let mut vpc_ids = Vec::new();
    let mut cidrs = Vec::new();
    let mut api_hosts = BTreeSet::new();
    let mut nlb_dns = BTreeSet::new();
    for region in [PRIMARY, SECONDARY] {
        let sdk = moto.sdk(region).await;
        let r = role(region);

        // Network: VPC, subnets in >= 2 AZs, peering routes.
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpcs = ec2.describe_vpcs().filters(stack_filter(s)).send().await.expect("vpcs");
        let vpcs = vpcs.vpcs();
        assert_eq!(vpcs.len(), 1, "{region}: one VPC tagged with the stack");
        let vpc = &vpcs[0];
        let vpc_id = vpc.vpc_id().unwrap_or_default().to_string();
        let name = vpc.tags().iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value()).unwrap_or_default();
        assert_eq!(name, format!("vpc-{r}-{s}"));
        cidrs.push(vpc.cidr_block().unwrap_or_default().to_string());
        let subnets = ec2
            .describe_subnets()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
            .expect("subnets");
        let azs: BTreeSet<&str> = subnets.subnets().iter().filter_map(|s| s.availability_zone()).collect();
        assert!(azs.len() >= 2, "{region}: subnets in >= 2 AZs, got {azs:?}");
        assert!(subnets.subnets().len() >= 4, "{region}: public and private subnets");
        vpc_ids.push(vpc_id);

        // Load balancing: NLB, TCP 443 listener, non-empty targets.
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        let lbs = elb.describe_load_balancers().names(format!("nlb-{r}-{s}")).send().await.expect("nlb");
        let nlb = &lbs.load_balancers()[0];
        assert_eq!(nlb.r#type().map(|t| t.as_str()), Some("network"));
        assert_eq!(nlb.scheme().map(|t| t.as_str()), Some("internet-facing"));
        nlb_dns.insert(nlb.dns_name().unwrap_or_default().to_string());
        let listeners = elb.describe_listeners().load_balancer_arn(nlb.load_balancer_arn().unwrap_or_default()).send().await.expect("listeners");
        assert!(listeners.listeners().iter().any(|l| l.port() == Some(443) && l.protocol().map(|p| p.as_str()) == Some("TCP")), "{region}: TCP 443 listener");
        let tgs = elb.describe_target_groups().load_balancer_arn(nlb.load_balancer_arn().unwrap_or_default()).send().await.expect("tgs");
        assert!(!tgs.target_groups().is_empty(), "{region}: NLB has a target group");
        for tg in tgs.target_groups() {
            let health = elb.describe_target_health().target_group_arn(tg.target_group_arn().unwrap_or_default()).send().await.expect("target health");
            assert!(!health.target_health_descriptions().is_empty(), "{region}: NLB target group {:?} has targets", tg.target_group_name());
        }

        // API Gateway: API, stage, custom domain.
        let apigw = aws_sdk_apigateway::Client::new(&sdk);
        let apis = apigw.get_rest_apis().send().await.expect("apis");
        let api = apis.items().iter().find(|a| a.name() == Some(&format!("api-{r}-{s}"))).unwrap_or_else(|| panic!("{region}: api-{r}-{s}"));
        let api_id = api.id().unwrap_or_default();
        api_hosts.insert(format!("{api_id}.execute-api.{region}.amazonaws.com"));
        let stages = apigw.get_stages().rest_api_id(api_id).send().await.expect("stages");
        assert!(stages.item().iter().any(|st| st.stage_name() == Some("live")), "{region}: stage live");
        let domain = if region == PRIMARY { &d.primary_domain } else { &d.secondary_domain };
        apigw.get_domain_name().domain_name(domain).send().await.unwrap_or_else(|e| panic!("{region}: custom domain {domain}: {e:?}"));

        // SSM parameters.
        // (compared across regions below)

        // Lambda: identical code and configuration in both regions (compared below).
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let f = lambda.get_function().function_name(format!("api-{r}-{s}")).send().await.expect("api function");
        assert!(f.configuration().and_then(|c| c.code_sha256()).is_some());

        // EventBridge bus of the same name.
        let eb = aws_sdk_eventbridge::Client::new(&sdk);
        eb.describe_event_bus().name(format!("bus-{s}")).send().await.unwrap_or_else(|e| panic!("{region}: bus-{s}: {e:?}"));

        // SNS topic.
        let sns = aws_sdk_sns::Client::new(&sdk);
        let topics = sns.list_topics().send().await.expect("topics");
        assert!(topics.topics().iter().any(|t| t.topic_arn().unwrap_or_default().ends_with(&format!(":alerts-{r}-{s}"))), "{region}: SNS topic");

        // S3 bucket, versioned.
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        let v = s3.get_bucket_versioning().bucket(format!("bucket-{r}-{s}-123456789012")).send().await.unwrap_or_else(|e| panic!("{region}: versioning: {e:?}"));
        let status = v.status().map(|s| s.as_str().to_string());
        assert_eq!(status.as_deref(), Some("Enabled"), "{region}: bucket versioned");

        // Backup vault.
        let backup = aws_sdk_backup::Client::new(&sdk);
        backup.describe_backup_vault().backup_vault_name(format!("vault-{r}-{s}")).send().await.unwrap_or_else(|e| panic!("{region}: vault: {e:?}"));
    }

    // Peering active, routes both ways.
    let ec2p = aws_sdk_ec2::Client::new(&moto.sdk(PRIMARY).await);
    let peerings = ec2p
        .describe_vpc_peering_connections()
        .filters(Filter::builder().name("requester-vpc-info.vpc-id").values(&vpc_ids[0]).build())
        .send()
        .await
        .expect("peering");
    let pcx = peerings
        .vpc_peering_connections()
        .iter()
        .find(|p| p.status().and_then(|s| s.code()).map(|c| c.as_str()) == Some("active"))
        .expect("an active peering connection");
    let pcx_id = pcx.vpc_peering_connection_id().unwrap_or_default().to_string();
    for (i, region) in [PRIMARY, SECONDARY].into_iter().enumerate() {
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk(region).await);
        let peer_cidr = &cidrs[1 - i];
        let rts = ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(&vpc_ids[i]).build())
            .send()
            .await
            .expect("route tables");
        let with_route = rts
            .route_tables()
            .iter()
            .filter(|rt| rt.routes().iter().any(|r| r.destination_cidr_block() == Some(peer_cidr) && r.vpc_peering_connection_id() == Some(&pcx_id)))
            .count();
        assert!(with_route >= 2, "{region}: routes to {peer_cidr} via {pcx_id} (got {with_route} tables)");
    }

    // Route 53 health checks target the created execute-api hosts and NLB DNS names.
    let r53 = aws_sdk_route53::Client::new(&moto.sdk(PRIMARY).await);
    let checks = r53.list_health_checks().send().await.expect("health checks");
    let targets: BTreeSet<String> = checks
        .health_checks()
        .iter()
        .filter_map(|c| c.health_check_config().and_then(|c| c.fully_qualified_domain_name()).map(str::to_string))
        .collect();
    for h in api_hosts.iter().chain(nlb_dns.iter()) {
        assert!(targets.contains(h), "a health check targets {h}; have {targets:?}");
    }
    let api_check = checks
        .health_checks()
        .iter()
        .find(|c| c.health_check_config().and_then(|c| c.fully_qualified_domain_name()).is_some_and(|f| api_hosts.contains(f)))
        .expect("api check");
    let cfg = api_check.health_check_config().expect("config");
    assert_eq!(cfg.resource_path(), Some("/live/health"));
    assert_eq!(cfg.request_interval(), Some(10));
    assert_eq!(cfg.failure_threshold(), Some(3));

    // Failover records.
    let records = r53.list_resource_record_sets().hosted_zone_id(&d.zone_id).send().await.expect("records");
    let failover: Vec<_> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().trim_end_matches('.') == d.record_name && r.failover().is_some())
        .collect();
    assert_eq!(failover.len(), 2, "PRIMARY and SECONDARY records for {}", d.record_name);
    assert!(failover.iter().all(|r| r.health_check_id().is_some()));

    // SSM parameters present in both regions with equal values.
    let mut params = Vec::new();
    for region in [PRIMARY, SECONDARY] {
        let ssm = aws_sdk_ssm::Client::new(&moto.sdk(region).await);
        let mut all = std::collections::BTreeMap::new();
        let mut token = None;
        loop {
            let page = ssm
                .get_parameters_by_path()
                .path(format!("/tandem/{}/", d.suffix))
                .recursive(true)
                .with_decryption(true)
                .set_next_token(token)
                .send()
                .await
                .expect("parameters");
            for p in page.parameters() {
                all.insert(p.name().unwrap_or_default().to_string(), p.value().unwrap_or_default().to_string());
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        params.push(all);
    }
    assert!(params[0].len() >= 5, "parameters in the primary: {:?}", params[0].keys());
    assert_eq!(params[0], params[1], "secondary parameters equal the primary's");

    // S3 replication with RTC and metrics at 15 minutes.
    let sdk = moto.sdk(PRIMARY).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let repl = s3.get_bucket_replication().bucket(format!("bucket-primary-{s}-123456789012")).send().await.expect("replication");
    let rule = &repl.replication_configuration().expect("config").rules()[0];
    let dest = rule.destination().expect("destination");
    assert!(dest.bucket().contains(&format!("bucket-secondary-{s}-123456789012")));
    let rtc = dest.replication_time().expect("RTC");
    assert_eq!(rtc.status().as_str(), "Enabled");
    assert_eq!(rtc.time().and_then(|t| t.minutes()), Some(15));
    let metrics = dest.metrics().expect("metrics");
    assert_eq!(metrics.status().as_str(), "Enabled");
    assert_eq!(metrics.event_threshold().and_then(|t| t.minutes()), Some(15));

    // DynamoDB table.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let t = ddb.describe_table().table_name(format!("table-{s}")).send().await.expect("table");
    let table = t.table().expect("table");
    assert_eq!(table.stream_specification().map(|s| s.stream_enabled()), Some(true));

    // Aurora global cluster: one member per region, Serverless v2.
    let rds = aws_sdk_rds::Client::new(&sdk);
    let g = rds.describe_global_clusters().global_cluster_identifier(format!("aurora-global-{s}")).send().await.expect("global cluster");
    let members = g.global_clusters()[0].global_cluster_members();
    let regions: BTreeSet<String> =
        members.iter().filter_map(|m| m.db_cluster_arn()).filter_map(|a| a.split(':').nth(3)).map(str::to_string).collect();
    assert!(
        members.iter().any(|m| m.is_writer() == Some(true) && m.db_cluster_arn().is_some_and(|a| a.contains(&format!(":{PRIMARY}:")))),
        "the primary cluster is the global writer: {members:?}"
    );
    // The secondary cluster exists in the secondary region, Serverless v2, a reader member of
    // the same global cluster (seen from the secondary region too), which has a global writer
    // endpoint.
    let rds_s = aws_sdk_rds::Client::new(&moto.sdk(SECONDARY).await);
    let sc = rds_s.describe_db_clusters().db_cluster_identifier(format!("aurora-secondary-{s}")).send().await.expect("secondary cluster");
    let sc = &sc.db_clusters()[0];
    assert!(sc.serverless_v2_scaling_configuration().is_some(), "secondary cluster is Serverless v2");
    assert!(
        members.iter().any(|m| m.is_writer() == Some(false) && m.db_cluster_arn() == sc.db_cluster_arn()),
        "the secondary cluster is a reader member: {members:?}"
    );
    assert!(g.global_clusters()[0].endpoint().is_some_and(|e| e.ends_with(".global.rds.amazonaws.com")), "global writer endpoint");
    let gs = rds_s.describe_global_clusters().global_cluster_identifier(format!("aurora-global-{s}")).send().await.expect("global cluster from us-east-2");
    assert_eq!(gs.global_clusters()[0].global_cluster_members().len(), 2, "both members seen from the secondary region");
    assert_eq!(regions, BTreeSet::from([PRIMARY.to_string(), SECONDARY.to_string()]), "one member per region: {members:?}");
    let primary_cluster_arn = members
        .iter()
        .filter_map(|m| m.db_cluster_arn())
        .find(|a| a.contains(&format!(":{PRIMARY}:")))
        .expect("primary member")
        .to_string();
    let c = rds.describe_db_clusters().db_cluster_identifier(format!("aurora-primary-{s}")).send().await.expect("cluster");
    let sv2 = c.db_clusters()[0].serverless_v2_scaling_configuration().expect("serverless v2");
    assert_eq!((sv2.min_capacity(), sv2.max_capacity()), (Some(0.5), Some(4.0)));

    // Backup plan whose rule copies to the secondary vault.
    let backup = aws_sdk_backup::Client::new(&sdk);
    let plans = backup.list_backup_plans().send().await.expect("plans");
    let plan = plans.backup_plans_list().iter().find(|p| p.backup_plan_name() == Some(&format!("backup-plan-{s}"))).expect("plan");
    let full = backup.get_backup_plan().backup_plan_id(plan.backup_plan_id().unwrap_or_default()).send().await.expect("plan detail");
    let copies = full.backup_plan().map(|p| p.rules()[0].copy_actions().to_vec()).unwrap_or_default();
    assert!(copies.iter().any(|c| c.destination_backup_vault_arn().contains(&format!("vault-secondary-{s}"))), "copy to the secondary vault");
    // ... and its selection of the primary cluster.
    let plan_id = plan.backup_plan_id().unwrap_or_default();
    let selections = backup.list_backup_selections().backup_plan_id(plan_id).send().await.expect("selections");
    let selections = selections.backup_selections_list();
    assert_eq!(selections.len(), 1, "one selection");
    let sel = backup
        .get_backup_selection()
        .backup_plan_id(plan_id)
        .selection_id(selections[0].selection_id().unwrap_or_default())
        .send()
        .await
        .expect("selection");
    assert_eq!(sel.backup_selection().map(|b| b.resources().to_vec()), Some(vec![primary_cluster_arn.clone()]), "the selection is the primary cluster");

    // The DynamoDB replica is a table in the secondary region, listed ACTIVE by the primary.
    let replicas: Vec<(Option<&str>, Option<&str>)> =
        table.replicas().iter().map(|r| (r.region_name(), r.replica_status().map(|x| x.as_str()))).collect();
    assert_eq!(replicas, vec![(Some(SECONDARY), Some("ACTIVE"))]);
    let ddb_s = aws_sdk_dynamodb::Client::new(&moto.sdk(SECONDARY).await);
    let rt = ddb_s.describe_table().table_name(format!("table-{s}")).send().await.expect("replica table in the secondary region");
    assert!(rt.table().and_then(|t| t.table_arn()).is_some_and(|a| a.contains(&format!(":{SECONDARY}:"))));

    // Global Accelerator (us-west-2): a TCP listener on 443 and an endpoint group per region
    // holding that region's NLB.
    let ga = aws_sdk_globalaccelerator::Client::new(&moto.sdk("us-west-2").await);
    let accs = ga.list_accelerators().send().await.expect("accelerators");
    let acc = accs.accelerators().iter().find(|a| a.name() == Some(&format!("accelerator-{s}"))).expect("accelerator");
    assert_eq!((acc.enabled(), acc.status().map(|x| x.as_str())), (Some(true), Some("DEPLOYED")));
    let listeners = ga.list_listeners().accelerator_arn(acc.accelerator_arn().unwrap_or_default()).send().await.expect("listeners");
    let listeners = listeners.listeners();
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].port_ranges().iter().map(|p| (p.from_port(), p.to_port())).collect::<Vec<_>>(), vec![(Some(443), Some(443))]);
    let groups = ga.list_endpoint_groups().listener_arn(listeners[0].listener_arn().unwrap_or_default()).send().await.expect("endpoint groups");
    let mut by_region = std::collections::BTreeMap::new();
    for g in groups.endpoint_groups() {
        let ids: Vec<String> = g.endpoint_descriptions().iter().filter_map(|e| e.endpoint_id().map(str::to_string)).collect();
        by_region.insert(g.endpoint_group_region().unwrap_or_default().to_string(), ids);
    }
    let mut nlbs = std::collections::BTreeMap::new();
    for region in [PRIMARY, SECONDARY] {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk(region).await);
        let lbs = elb.describe_load_balancers().names(format!("nlb-{}-{s}", role(region))).send().await.expect("nlb");
        nlbs.insert(region.to_string(), vec![lbs.load_balancers()[0].load_balancer_arn().unwrap_or_default().to_string()]);
    }
    assert_eq!(by_region, nlbs, "an endpoint group per region holding its NLB");

    // The EventBridge global endpoint: the two buses, failing over on the primary API's
    // health check to the secondary region.
    let eb = aws_sdk_eventbridge::Client::new(&sdk);
    let ep = eb.describe_endpoint().name(format!("endpoint-{s}")).send().await.expect("global endpoint");
    assert_eq!(ep.state().map(|x| x.as_str()), Some("ACTIVE"));
    let buses: BTreeSet<String> = ep.event_buses().iter().map(|b| b.event_bus_arn().to_string()).collect();
    let mut want_buses = BTreeSet::new();
    for region in [PRIMARY, SECONDARY] {
        let eb = aws_sdk_eventbridge::Client::new(&moto.sdk(region).await);
        let bus = eb.describe_event_bus().name(format!("bus-{s}")).send().await.expect("bus");
        want_buses.insert(bus.arn().unwrap_or_default().to_string());
    }
    assert_eq!(buses, want_buses, "the endpoint routes between the two buses");
    let failover = ep.routing_config().and_then(|r| r.failover_config()).expect("failover config");
    assert_eq!(failover.secondary().map(|x| x.route()), Some(SECONDARY));
    let api_check_arn = failover.primary().map(|p| p.health_check().to_string()).unwrap_or_default();
    let api_check_id = api_check_arn.rsplit('/').next().unwrap_or_default().to_string();
    let r53 = aws_sdk_route53::Client::new(&sdk);
    // One decision (DR.md): the endpoint fails over on the CALCULATED check = the primary
    // API check AND the CLOUDWATCH_METRIC check on the decision alarm in the secondary.
    let hc = r53.get_health_check().health_check_id(&api_check_id).send().await.expect("the endpoint's health check exists");
    let conf = hc.health_check().and_then(|h| h.health_check_config()).cloned().expect("check config");
    assert_eq!(conf.r#type().as_str(), "CALCULATED", "the endpoint's check: {conf:?}");
    assert_eq!(conf.health_threshold(), Some(2));
    let mut kinds = Vec::new();
    for child in conf.child_health_checks() {
        let c = r53.get_health_check().health_check_id(child).send().await.expect("child check");
        let h = c.health_check().cloned().expect("child");
        let cc = h.health_check_config().cloned().expect("child config");
        match cc.r#type().as_str() {
            "CLOUDWATCH_METRIC" => {
                let alarm = h.cloud_watch_alarm_configuration().map(|a| a.metric_name().to_string());
                assert_eq!(alarm.as_deref(), Some("PrimaryDown"), "{h:?}");
                let id = cc.alarm_identifier().expect("alarm identifier");
                assert_eq!((id.region().as_str(), id.name()), (SECONDARY, format!("alarm-primary-down-secondary-{s}").as_str()));
            }
            "HTTPS" => {
                let fqdn = cc.fully_qualified_domain_name().unwrap_or_default();
                assert!(fqdn.contains(&format!(".execute-api.{PRIMARY}.")), "the primary API's check: {fqdn}");
            }
            other => panic!("unexpected child check type {other}"),
        }
        kinds.push(cc.r#type().as_str().to_string());
    }
    kinds.sort();
    assert_eq!(kinds, vec!["CLOUDWATCH_METRIC".to_string(), "HTTPS".to_string()]);

    // Lambda functions identical in both regions.
    let mut confs = Vec::new();
    for region in [PRIMARY, SECONDARY] {
        let lambda = aws_sdk_lambda::Client::new(&moto.sdk(region).await);
        let f = lambda.get_function().function_name(format!("api-{}-{s}", role(region))).send().await.expect("function");
        let c = f.configuration().expect("configuration");
        confs.push((c.code_sha256().map(str::to_string), c.runtime().map(|r| r.as_str().to_string()), c.handler().map(str::to_string), c.memory_size(), c.timeout()));
    }
    assert_eq!(confs[0], confs[1], "identical code hash and configuration");

    // The failover controller lives in the secondary region only (DR.md): probe on a
    // one-minute schedule, failover handler with reserved concurrency 1, the decision alarm
    // invoking the handler, and the alerts that survive the primary.
    let sec = moto.sdk(SECONDARY).await;
    let prim = moto.sdk(PRIMARY).await;
    let lambda2 = aws_sdk_lambda::Client::new(&sec);
    let probe = lambda2.get_function().function_name(format!("probe-secondary-{s}")).send().await.expect("probe function");
    let env = probe.configuration().and_then(|c| c.environment()).and_then(|e| e.variables()).cloned().unwrap_or_default();
    assert!(env.get("PRIMARY_HEALTH_URL").is_some_and(|u| u.contains(&format!(".execute-api.{PRIMARY}.")) && u.ends_with("/health")), "{env:?}");
    let handler = lambda2.get_function().function_name(format!("failover-secondary-{s}")).send().await.expect("failover function");
    assert_eq!(handler.concurrency().and_then(|c| c.reserved_concurrent_executions()), Some(1));
    let handler_arn = handler.configuration().and_then(|c| c.function_arn()).unwrap_or_default().to_string();
    for name in [format!("probe-secondary-{s}"), format!("failover-secondary-{s}")] {
        let none = aws_sdk_lambda::Client::new(&prim).get_function().function_name(&name).send().await;
        assert!(none.is_err(), "{name} must not exist in the primary region");
    }
    let api_env = aws_sdk_lambda::Client::new(&prim).get_function().function_name(format!("api-primary-{s}")).send().await.expect("api");
    let api_env = api_env.configuration().and_then(|c| c.environment()).and_then(|e| e.variables()).cloned().unwrap_or_default();
    assert_eq!(api_env.get("DB_CLUSTER_ID"), Some(&format!("aurora-primary-{s}")), "/health checks the database writer");
    let eb2 = aws_sdk_eventbridge::Client::new(&sec);
    let rule = eb2.describe_rule().name(format!("probe-schedule-{s}")).send().await.expect("probe schedule");
    assert_eq!(rule.schedule_expression(), Some("rate(1 minute)"));
    let cw2 = aws_sdk_cloudwatch::Client::new(&sec);
    let alarms = cw2.describe_alarms().alarm_name_prefix("alarm-").send().await.expect("alarms");
    let named = |n: String| alarms.metric_alarms().iter().find(|a| a.alarm_name() == Some(n.as_str())).cloned();
    let decision = named(format!("alarm-primary-down-secondary-{s}")).expect("the decision alarm in the secondary region");
    assert!(decision.alarm_actions().contains(&handler_arn), "{:?}", decision.alarm_actions());
    assert!(decision.alarm_actions().iter().any(|a| a.starts_with(&format!("arn:aws:sns:{SECONDARY}:"))), "{:?}", decision.alarm_actions());
    assert!(named(format!("alarm-controller-blind-secondary-{s}")).is_some(), "blind alarm");
    assert!(named(format!("alarm-failed-over-secondary-{s}")).is_some(), "failed-over alarm");

    // Dashboard naming both regions.
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let dash = cw.get_dashboard().dashboard_name(format!("dashboard-{s}")).send().await.expect("dashboard");
    let body = dash.dashboard_body().unwrap_or_default();
    assert!(body.contains(PRIMARY) && body.contains(SECONDARY), "dashboard names both regions");
}

pub fn check_outputs(outputs: &serde_json::Value, d: &Deployment) {
    let get = |component: &str, key: &str| -> serde_json::Value {
        outputs.get(component).and_then(|c| c.get(key)).cloned().unwrap_or_else(|| panic!("outputs: {component}.{key} missing"))
    };
    for r in ["primary", "secondary"] {
        get(&format!("network-{r}"), "vpc_id");
        get(&format!("network-{r}"), "public_subnet_ids");
        get(&format!("network-{r}"), "private_subnet_ids");
        get(&format!("loadbalancer-{r}"), "nlb_arn");
        get(&format!("loadbalancer-{r}"), "nlb_dns_name");
        get(&format!("health-{r}"), "api_check_id");
        get(&format!("health-{r}"), "nlb_check_id");
        get(&format!("api-{r}"), "rest_api_id");
        get(&format!("api-{r}"), "invoke_url");
        get(&format!("api-{r}"), "regional_domain_name");
        get(&format!("certificate-{r}"), "certificate_arn");
        get(&format!("certificate-{r}"), "status");
        get(&format!("bucket-{r}"), "bucket_arn");
        get(&format!("aurora-{r}"), "writer_endpoint");
        get(&format!("aurora-{r}"), "cluster_arn");
        get(&format!("backup-vault-{r}"), "vault_arn");
        get(&format!("functions-{r}"), "api_function_arn");
        get(&format!("events-{r}"), "bus_arn");
        get(&format!("alerts-{r}"), "topic_arn");
    }
    get("peering", "peering_connection_id");
    for k in ["accelerator_arn", "dns_name", "static_ips", "endpoint_group_arns"] {
        get("accelerator", k);
    }
    get("table", "table_arn");
    get("backup-plan", "plan_arn");
    get("parameters", "names");
    get("event-endpoint", "endpoint_url");
    get("dashboard", "dashboard_url");
    assert_eq!(get("dns-failover", "record_name"), serde_json::json!(d.record_name));
    // No secret value anywhere in outputs.
    let text = outputs.to_string();
    assert!(!text.to_lowercase().contains("password\":\""), "no password value in outputs");
}

/// Issue 14: in both regions the REST API's writes (and reads, unless `public_reads`) need
/// the API key, `/health` does not, the `{proxy+}` route is gone; a throttled usage plan on
/// the stage holds the key, whose value is the SSM SecureString `api-key` (compared here,
/// never printed); and the api role's policy names no secret parameter and no kms:Decrypt.
pub async fn check_api_auth(moto: &Moto, d: &Deployment, public_reads: bool) {
    let s = &d.suffix;
    for (region, r) in [(PRIMARY, "primary"), (SECONDARY, "secondary")] {
        let sdk = moto.sdk(region).await;
        let apigw = aws_sdk_apigateway::Client::new(&sdk);
        let apis = apigw.get_rest_apis().send().await.expect("apis");
        let api = apis.items().iter().find(|a| a.name() == Some(&format!("api-{r}-{s}"))).unwrap_or_else(|| panic!("{region}: api-{r}-{s}"));
        let api_id = api.id().unwrap_or_default();
        let resources = apigw.get_resources().rest_api_id(api_id).limit(500).send().await.expect("resources");
        let id_of = |path: &str| {
            resources.items().iter().find(|x| x.path() == Some(path)).and_then(|x| x.id()).map(str::to_string).unwrap_or_else(|| panic!("{region}: resource {path}"))
        };
        assert!(resources.items().iter().all(|x| x.path() != Some("/{proxy+}")), "{region}: the open proxy route is gone");
        let required = |path: String, method: &'static str| {
            let apigw = apigw.clone();
            async move {
                let m = apigw.get_method().rest_api_id(api_id).resource_id(path).http_method(method).send().await.expect("method");
                assert_eq!(m.authorization_type(), Some("NONE"));
                m.api_key_required().unwrap_or(false)
            }
        };
        assert!(!required(id_of("/health"), "GET").await, "{region}: /health needs no key");
        assert!(required(id_of("/items/{id}"), "PUT").await, "{region}: PUT needs the key");
        assert!(required(id_of("/items/{id}"), "DELETE").await, "{region}: DELETE needs the key");
        assert_eq!(required(id_of("/items/{id}"), "GET").await, !public_reads, "{region}: GET per [api] public_reads");

        let plans = apigw.get_usage_plans().send().await.expect("usage plans");
        let plan = plans.items().iter().find(|p| p.name() == Some(&format!("usage-plan-{r}-{s}"))).unwrap_or_else(|| panic!("{region}: usage plan"));
        assert!(
            plan.api_stages().iter().any(|st| st.api_id() == Some(api_id) && st.stage() == Some("live")),
            "{region}: the plan is on the stage: {plan:?}"
        );
        let throttle = plan.throttle().unwrap_or_else(|| panic!("{region}: the plan throttles"));
        assert!(throttle.rate_limit() > 0.0 && throttle.burst_limit() > 0, "{region}: {throttle:?}");
        let keys = apigw.get_usage_plan_keys().usage_plan_id(plan.id().unwrap_or_default()).send().await.expect("plan keys");
        assert_eq!(keys.items().len(), 1, "{region}: one key on the plan");
        let key_id = keys.items()[0].id().unwrap_or_default();
        let key = apigw.get_api_key().api_key(key_id).include_value(true).send().await.expect("api key");
        assert_eq!(key.name(), Some(format!("api-key-{r}-{s}").as_str()));
        assert!(key.enabled(), "{region}: the key is enabled");
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let param = ssm.get_parameter().name(format!("/tandem/{s}/api-key")).with_decryption(true).send().await.expect("api-key parameter");
        let param = param.parameter().expect("parameter");
        assert_eq!(param.r#type(), Some(&aws_sdk_ssm::types::ParameterType::SecureString));
        assert!(key.value().is_some() && key.value() == param.value(), "{region}: the API key's value is the SecureString's (values not shown)");
        let hash = ssm.get_parameter().name(format!("/tandem/{s}/api-key-sha256")).send().await.expect("api-key-sha256 parameter");
        let hash = hash.parameter().expect("hash parameter");
        assert_eq!(hash.r#type(), Some(&aws_sdk_ssm::types::ParameterType::String), "{region}: the hash is not secret");
        assert_eq!(hash.value().map(str::len), Some(64), "{region}: SHA-256 hex");
        assert_ne!(hash.value(), param.value());
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        let f = lambda.get_function().function_name(format!("api-{r}-{s}")).send().await.expect("api function");
        let env = f.configuration().and_then(|c| c.environment()).and_then(|e| e.variables()).cloned().unwrap_or_default();
        assert_eq!(env.get("PUBLIC_READS").map(String::as_str), Some(if public_reads { "true" } else { "false" }), "{region}: {env:?}");
    }
    let iam = aws_sdk_iam::Client::new(&moto.sdk(PRIMARY).await);
    let role = format!("lambda-api-{s}");
    let names = iam.list_role_policies().role_name(&role).send().await.expect("role policies");
    assert!(!names.policy_names().is_empty(), "{role} has an inline policy");
    for name in names.policy_names() {
        let p = iam.get_role_policy().role_name(&role).policy_name(name).send().await.expect("role policy");
        let doc = tandem_core::iam::url_decode(p.policy_document());
        assert_eq!(tandem_compute::iam::secret_access_violations(&doc, s), Vec::<String>::new(), "{role}/{name}: {doc}");
        assert!(!doc.contains("kms:Decrypt") && !doc.contains("master-password") && !doc.contains(&format!("/tandem/{s}/api-key\"")), "{doc}");
        assert!(doc.contains(&format!("/tandem/{s}/api-key-sha256")), "{doc}");
    }
    let attached = iam.list_attached_role_policies().role_name(&role).send().await.expect("attached");
    assert!(attached.attached_policies().is_empty(), "{role}: no managed policy: {attached:?}");
}

pub async fn check_gone(moto: &Moto, d: &Deployment) {
    let s = d.suffix.as_str();
    let mut leftovers: Vec<String> = Vec::new();
    for region in [PRIMARY, SECONDARY] {
        let sdk = moto.sdk(region).await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        for v in ec2.describe_vpcs().filters(stack_filter(s)).send().await.expect("vpcs").vpcs() {
            leftovers.push(format!("{region} vpc {:?}", v.vpc_id()));
        }
        for x in ec2.describe_subnets().filters(stack_filter(s)).send().await.expect("subnets").subnets() {
            leftovers.push(format!("{region} subnet {:?}", x.subnet_id()));
        }
        for x in ec2.describe_security_groups().filters(stack_filter(s)).send().await.expect("sgs").security_groups() {
            leftovers.push(format!("{region} sg {:?}", x.group_id()));
        }
        for x in ec2.describe_internet_gateways().filters(stack_filter(s)).send().await.expect("igws").internet_gateways() {
            leftovers.push(format!("{region} igw {:?}", x.internet_gateway_id()));
        }
        for x in ec2.describe_route_tables().filters(stack_filter(s)).send().await.expect("rts").route_tables() {
            leftovers.push(format!("{region} route table {:?}", x.route_table_id()));
        }
        for x in ec2.describe_vpc_peering_connections().filters(stack_filter(s)).send().await.expect("pcx").vpc_peering_connections() {
            let code = x.status().and_then(|st| st.code()).map(|c| c.as_str().to_string()).unwrap_or_default();
            if code != "deleted" {
                leftovers.push(format!("{region} peering {:?} {code}", x.vpc_peering_connection_id()));
            }
        }
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        for x in elb.describe_load_balancers().send().await.expect("lbs").load_balancers() {
            if x.load_balancer_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} lb {:?}", x.load_balancer_name()));
            }
        }
        for x in elb.describe_target_groups().send().await.expect("tgs").target_groups() {
            if x.target_group_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} tg {:?}", x.target_group_name()));
            }
        }
        let apigw = aws_sdk_apigateway::Client::new(&sdk);
        for x in apigw.get_rest_apis().send().await.expect("apis").items() {
            if x.name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} api {:?}", x.name()));
            }
        }
        for x in apigw.get_usage_plans().send().await.expect("usage plans").items() {
            if x.name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} usage plan {:?}", x.name()));
            }
        }
        for x in apigw.get_api_keys().send().await.expect("api keys").items() {
            if x.name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} api key {:?}", x.name()));
            }
        }
        for x in apigw.get_domain_names().send().await.expect("domains").items() {
            if x.domain_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} domain {:?}", x.domain_name()));
            }
        }
        let acm = aws_sdk_acm::Client::new(&sdk);
        for x in acm.list_certificates().send().await.expect("certs").certificate_summary_list() {
            if x.domain_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} certificate {:?}", x.domain_name()));
            }
        }
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        for x in ssm.get_parameters_by_path().path(format!("/tandem/{s}/")).recursive(true).send().await.expect("params").parameters() {
            leftovers.push(format!("{region} parameter {:?}", x.name()));
        }
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        for x in s3.list_buckets().send().await.expect("buckets").buckets() {
            if x.name().unwrap_or_default().contains(s) {
                leftovers.push(format!("bucket {:?}", x.name()));
            }
        }
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        for x in ddb.list_tables().send().await.expect("tables").table_names() {
            if x.contains(s) {
                leftovers.push(format!("{region} table {x}"));
            }
        }
        let rds = aws_sdk_rds::Client::new(&sdk);
        for x in rds.describe_db_clusters().send().await.expect("clusters").db_clusters() {
            if x.db_cluster_identifier().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} db cluster {:?}", x.db_cluster_identifier()));
            }
        }
        for x in rds.describe_db_instances().send().await.expect("instances").db_instances() {
            if x.db_instance_identifier().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} db instance {:?}", x.db_instance_identifier()));
            }
        }
        for x in rds.describe_global_clusters().send().await.expect("global").global_clusters() {
            if x.global_cluster_identifier().unwrap_or_default().contains(s) {
                leftovers.push(format!("global cluster {:?}", x.global_cluster_identifier()));
            }
        }
        for x in rds.describe_db_subnet_groups().send().await.expect("subnet groups").db_subnet_groups() {
            if x.db_subnet_group_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} db subnet group {:?}", x.db_subnet_group_name()));
            }
        }
        let backup = aws_sdk_backup::Client::new(&sdk);
        for x in backup.list_backup_vaults().send().await.expect("vaults").backup_vault_list() {
            if x.backup_vault_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} vault {:?}", x.backup_vault_name()));
            }
        }
        for x in backup.list_backup_plans().send().await.expect("plans").backup_plans_list() {
            if x.backup_plan_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} backup plan {:?}", x.backup_plan_name()));
            }
        }
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        for x in lambda.list_functions().send().await.expect("functions").functions() {
            if x.function_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} function {:?}", x.function_name()));
            }
        }
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        for x in logs.describe_log_groups().send().await.expect("log groups").log_groups() {
            if x.log_group_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} log group {:?}", x.log_group_name()));
            }
        }
        let eb = aws_sdk_eventbridge::Client::new(&sdk);
        for x in eb.list_event_buses().send().await.expect("buses").event_buses() {
            if x.name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} bus {:?}", x.name()));
            }
        }
        for x in eb.list_rules().send().await.expect("rules").rules() {
            if x.name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} rule {:?}", x.name()));
            }
        }
        for x in eb.list_endpoints().send().await.expect("endpoints").endpoints() {
            if x.name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} global endpoint {:?}", x.name()));
            }
        }
        let sns = aws_sdk_sns::Client::new(&sdk);
        for x in sns.list_topics().send().await.expect("topics").topics() {
            if x.topic_arn().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} topic {:?}", x.topic_arn()));
            }
        }
        let cw = aws_sdk_cloudwatch::Client::new(&sdk);
        for x in cw.describe_alarms().send().await.expect("alarms").metric_alarms() {
            if x.alarm_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} alarm {:?}", x.alarm_name()));
            }
        }
        for x in cw.list_dashboards().send().await.expect("dashboards").dashboard_entries() {
            if x.dashboard_name().unwrap_or_default().contains(s) {
                leftovers.push(format!("{region} dashboard {:?}", x.dashboard_name()));
            }
        }
    }
    let ga = aws_sdk_globalaccelerator::Client::new(&moto.sdk("us-west-2").await);
    for x in ga.list_accelerators().send().await.expect("accelerators").accelerators() {
        if x.name().unwrap_or_default().contains(s) {
            leftovers.push(format!("accelerator {:?}", x.name()));
        }
    }
    let sdk = moto.sdk(PRIMARY).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    for x in iam.list_roles().send().await.expect("roles").roles() {
        if x.role_name().contains(s) {
            leftovers.push(format!("iam role {}", x.role_name()));
        }
    }
    let r53 = aws_sdk_route53::Client::new(&sdk);
    let records = r53.list_resource_record_sets().hosted_zone_id(&d.zone_id).send().await.expect("records");
    for x in records.resource_record_sets() {
        if !matches!(x.r#type().as_str(), "NS" | "SOA") {
            leftovers.push(format!("record {} {}", x.name(), x.r#type().as_str()));
        }
    }
    for x in r53.list_health_checks().send().await.expect("checks").health_checks() {
        let fqdn = x.health_check_config().and_then(|c| c.fully_qualified_domain_name()).unwrap_or_default();
        let tags = r53
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Healthcheck)
            .resource_id(x.id())
            .send()
            .await
            .ok()
            .and_then(|t| t.resource_tag_set().map(|set| set.tags().iter().any(|t| t.value() == Some(s))))
            .unwrap_or(false);
        if tags || fqdn.contains(s) {
            leftovers.push(format!("health check {} {fqdn}", x.id()));
        }
    }
    assert!(leftovers.is_empty(), "after destroy, resources of stack {s} remain:\n{}", leftovers.join("\n"));
}

/// Every role of the stack trusts its service for this account only (aws:SourceAccount),
/// the S3 replication role only for the primary bucket (aws:SourceArn).
async fn check_role_trust(moto: &Moto, s: &str) {
    let iam = aws_sdk_iam::Client::new(&moto.sdk(PRIMARY).await);
    let roles = iam.list_roles().send().await.expect("roles");
    let ours: Vec<_> = roles.roles().iter().filter(|r| r.role_name().ends_with(&format!("-{s}"))).collect();
    assert!(ours.len() >= 8, "lambda x5, s3 replication, backup, event replication: {:?}", ours.iter().map(|r| r.role_name()).collect::<Vec<_>>());
    for r in ours {
        let doc = r.assume_role_policy_document().map(tandem_core::iam::url_decode).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap_or_else(|e| panic!("{}: {e}: {doc}", r.role_name()));
        let st = &v["Statement"][0];
        assert_eq!(st["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012", "{}: {doc}", r.role_name());
        if r.role_name().starts_with("s3-replication-") {
            assert_eq!(st["Condition"]["ArnLike"]["aws:SourceArn"], format!("arn:aws:s3:::bucket-primary-{s}-123456789012"), "{doc}");
        }
    }
}
