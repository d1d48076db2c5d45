//! An exact census of a moto server that holds one stack and nothing else: every resource
//! of every family Tandem creates, in both regions and the global services, listed with the
//! raw aws-sdk clients (not through Tandem's state), minus what moto itself provides (the
//! default VPC and what lives in it, the default event bus, AWS-managed keys and aliases,
//! the zone's NS/SOA records).
//!
//! [`expected_deployed`] says how many of each the stack of `examples/local.toml` owns;
//! [`compare`] names the extra resources (duplicates or orphans) and the missing ones.

use std::collections::{BTreeMap, BTreeSet};

use tandem_tests::Moto;

use crate::{PRIMARY, SECONDARY};

/// `kind` (e.g. `us-east-1 ec2 vpc`) → one line per resource found.
pub type Census = BTreeMap<String, Vec<String>>;

fn name_tag(tags: &[aws_sdk_ec2::types::Tag]) -> String {
    tags.iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value()).unwrap_or("-").to_string()
}

/// Lists every non-default resource of the families Tandem manages. Errors of the listing
/// calls themselves are returned (a census must not silently skip a family).
pub async fn take(moto: &Moto, zone_id: &str) -> Result<Census, String> {
    let mut c: Census = BTreeMap::new();
    let mut add = |kind: String, item: String| c.entry(kind).or_default().push(item);
    for region in [PRIMARY, SECONDARY] {
        let sdk = moto.sdk(region).await;
        let e = |what: &str| {
            let what = format!("{region} {what}");
            move |err: &dyn std::fmt::Debug| format!("census: listing {what}: {err:?}")
        };

        // EC2: everything outside the default VPC.
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpcs = ec2.describe_vpcs().send().await.map_err(|x| e("vpcs")(&x))?;
        let default_vpcs: BTreeSet<String> =
            vpcs.vpcs().iter().filter(|v| v.is_default() == Some(true)).filter_map(|v| v.vpc_id().map(str::to_string)).collect();
        let outside_default = |vpc: Option<&str>| vpc.is_none_or(|v| !default_vpcs.contains(v));
        for v in vpcs.vpcs().iter().filter(|v| v.is_default() != Some(true)) {
            add(format!("{region} ec2 vpc"), format!("{} {} {}", v.vpc_id().unwrap_or("?"), v.cidr_block().unwrap_or("?"), name_tag(v.tags())));
        }
        for x in ec2.describe_subnets().send().await.map_err(|x| e("subnets")(&x))?.subnets() {
            if outside_default(x.vpc_id()) {
                add(format!("{region} ec2 subnet"), format!("{} {} {}", x.subnet_id().unwrap_or("?"), x.cidr_block().unwrap_or("?"), name_tag(x.tags())));
            }
        }
        for x in ec2.describe_route_tables().send().await.map_err(|x| e("route tables")(&x))?.route_tables() {
            if outside_default(x.vpc_id()) {
                let main = x.associations().iter().any(|a| a.main() == Some(true));
                let kind = if main { "ec2 main route table" } else { "ec2 route table" };
                add(format!("{region} {kind}"), format!("{} {} {}", x.route_table_id().unwrap_or("?"), x.vpc_id().unwrap_or("?"), name_tag(x.tags())));
            }
        }
        for x in ec2.describe_internet_gateways().send().await.map_err(|x| e("igws")(&x))?.internet_gateways() {
            let vpc = x.attachments().first().and_then(|a| a.vpc_id());
            if vpc.is_none_or(|v| !default_vpcs.contains(v)) {
                add(format!("{region} ec2 internet gateway"), format!("{} attached to {vpc:?} {}", x.internet_gateway_id().unwrap_or("?"), name_tag(x.tags())));
            }
        }
        for x in ec2.describe_security_groups().send().await.map_err(|x| e("security groups")(&x))?.security_groups() {
            if outside_default(x.vpc_id()) {
                let kind = if x.group_name() == Some("default") { "ec2 default security group" } else { "ec2 security group" };
                add(format!("{region} {kind}"), format!("{} {} {}", x.group_id().unwrap_or("?"), x.group_name().unwrap_or("?"), x.vpc_id().unwrap_or("?")));
            }
        }
        for x in ec2.describe_vpc_peering_connections().send().await.map_err(|x| e("peerings")(&x))?.vpc_peering_connections() {
            let code = x.status().and_then(|s| s.code()).map(|c| c.as_str().to_string()).unwrap_or_default();
            if !matches!(code.as_str(), "deleted" | "rejected" | "failed" | "expired") {
                add(format!("{region} ec2 peering connection"), format!("{} {code}", x.vpc_peering_connection_id().unwrap_or("?")));
            }
        }

        // Load balancing.
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        for lb in elb.describe_load_balancers().send().await.map_err(|x| e("load balancers")(&x))?.load_balancers() {
            let kind = lb.r#type().map(|t| t.as_str().to_string()).unwrap_or_default();
            add(format!("{region} elb {kind} load balancer"), lb.load_balancer_name().unwrap_or("?").to_string());
            let arn = lb.load_balancer_arn().unwrap_or_default();
            for l in elb.describe_listeners().load_balancer_arn(arn).send().await.map_err(|x| e("listeners")(&x))?.listeners() {
                add(format!("{region} elb listener"), format!("{} {:?} {:?}", lb.load_balancer_name().unwrap_or("?"), l.port(), l.protocol()));
            }
        }
        for tg in elb.describe_target_groups().send().await.map_err(|x| e("target groups")(&x))?.target_groups() {
            add(format!("{region} elb target group"), tg.target_group_name().unwrap_or("?").to_string());
        }

        // API Gateway.
        let apigw = aws_sdk_apigateway::Client::new(&sdk);
        for api in apigw.get_rest_apis().limit(500).send().await.map_err(|x| e("rest apis")(&x))?.items() {
            let id = api.id().unwrap_or_default();
            add(format!("{region} apigateway rest api"), format!("{} {id}", api.name().unwrap_or("?")));
            for r in apigw.get_resources().rest_api_id(id).limit(500).send().await.map_err(|x| e("api resources")(&x))?.items() {
                add(format!("{region} apigateway resource"), format!("{} {}", api.name().unwrap_or("?"), r.path().unwrap_or("?")));
            }
            for st in apigw.get_stages().rest_api_id(id).send().await.map_err(|x| e("stages")(&x))?.item() {
                add(format!("{region} apigateway stage"), format!("{} {}", api.name().unwrap_or("?"), st.stage_name().unwrap_or("?")));
            }
        }
        for k in apigw.get_api_keys().limit(500).send().await.map_err(|x| e("api keys")(&x))?.items() {
            add(format!("{region} apigateway api key"), k.name().unwrap_or("?").to_string());
        }
        for p in apigw.get_usage_plans().limit(500).send().await.map_err(|x| e("usage plans")(&x))?.items() {
            let id = p.id().unwrap_or_default();
            add(format!("{region} apigateway usage plan"), p.name().unwrap_or("?").to_string());
            for k in apigw.get_usage_plan_keys().usage_plan_id(id).limit(500).send().await.map_err(|x| e("usage plan keys")(&x))?.items() {
                add(format!("{region} apigateway usage plan key"), format!("{} {}", p.name().unwrap_or("?"), k.name().unwrap_or("?")));
            }
        }
        for d in apigw.get_domain_names().limit(500).send().await.map_err(|x| e("domain names")(&x))?.items() {
            let name = d.domain_name().unwrap_or_default();
            add(format!("{region} apigateway domain name"), name.to_string());
            // moto answers 500 on a domain that never had a mapping: none to count then.
            if let Ok(m) = apigw.get_base_path_mappings().domain_name(name).send().await {
                for bp in m.items() {
                    add(format!("{region} apigateway base path mapping"), format!("{name} {:?} -> {:?}", bp.base_path(), bp.rest_api_id()));
                }
            }
        }

        // ACM.
        let acm = aws_sdk_acm::Client::new(&sdk);
        for x in acm.list_certificates().send().await.map_err(|x| e("certificates")(&x))?.certificate_summary_list() {
            add(format!("{region} acm certificate"), format!("{} {:?}", x.domain_name().unwrap_or("?"), x.status()));
        }

        // Lambda and its log groups.
        let lambda = aws_sdk_lambda::Client::new(&sdk);
        for x in lambda.list_functions().max_items(1000).send().await.map_err(|x| e("functions")(&x))?.functions() {
            add(format!("{region} lambda function"), x.function_name().unwrap_or("?").to_string());
        }
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        for x in logs.describe_log_groups().send().await.map_err(|x| e("log groups")(&x))?.log_groups() {
            add(format!("{region} logs log group"), x.log_group_name().unwrap_or("?").to_string());
        }

        // EventBridge: custom buses, rules (and targets) on every bus.
        let eb = aws_sdk_eventbridge::Client::new(&sdk);
        let buses = eb.list_event_buses().send().await.map_err(|x| e("buses")(&x))?;
        for bus in buses.event_buses() {
            let name = bus.name().unwrap_or("default");
            if name != "default" {
                add(format!("{region} events bus"), name.to_string());
            }
            for rule in eb.list_rules().event_bus_name(name).send().await.map_err(|x| e("rules")(&x))?.rules() {
                let rule_name = rule.name().unwrap_or_default();
                add(format!("{region} events rule"), format!("{name}/{rule_name}"));
                let targets = eb.list_targets_by_rule().rule(rule_name).event_bus_name(name).send().await.map_err(|x| e("targets")(&x))?;
                for t in targets.targets() {
                    add(format!("{region} events target"), format!("{name}/{rule_name} {}", t.id()));
                }
            }
        }

        // SNS.
        let sns = aws_sdk_sns::Client::new(&sdk);
        for x in sns.list_topics().send().await.map_err(|x| e("topics")(&x))?.topics() {
            add(format!("{region} sns topic"), x.topic_arn().unwrap_or("?").to_string());
        }
        for x in sns.list_subscriptions().send().await.map_err(|x| e("subscriptions")(&x))?.subscriptions() {
            add(format!("{region} sns subscription"), format!("{} {}", x.topic_arn().unwrap_or("?"), x.endpoint().unwrap_or("?")));
        }

        // KMS: customer keys that are usable (a key pending deletion is being destroyed).
        let kms = aws_sdk_kms::Client::new(&sdk);
        let aliases = kms.list_aliases().limit(1000).send().await.map_err(|x| e("aliases")(&x))?;
        // moto creates the AWS-managed keys (aws/dynamodb, aws/ssm...) with KeyManager
        // CUSTOMER: recognise them by their alias/aws/ alias or moto's description.
        let aws_managed: BTreeSet<String> = aliases
            .aliases()
            .iter()
            .filter(|a| a.alias_name().is_some_and(|n| n.starts_with("alias/aws/")))
            .filter_map(|a| a.target_key_id().map(str::to_string))
            .collect();
        for k in kms.list_keys().limit(1000).send().await.map_err(|x| e("keys")(&x))?.keys() {
            let id = k.key_id().unwrap_or_default();
            let meta = kms.describe_key().key_id(id).send().await.map_err(|x| e("key")(&x))?;
            let Some(meta) = meta.key_metadata() else { continue };
            let customer = meta.key_manager().map(|m| m.as_str()) == Some("CUSTOMER");
            let state = meta.key_state().map(|s| s.as_str().to_string()).unwrap_or_default();
            let moto_managed = aws_managed.contains(id) || meta.description().is_some_and(|d| d.starts_with("Default master key that protects my"));
            if customer && !moto_managed && state != "PendingDeletion" {
                add(format!("{region} kms key"), format!("{id} {state} {:?}", meta.description()));
            }
        }
        for a in aliases.aliases() {
            let name = a.alias_name().unwrap_or_default();
            if !name.starts_with("alias/aws/") {
                add(format!("{region} kms alias"), format!("{name} -> {:?}", a.target_key_id()));
            }
        }

        // SSM parameters.
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let mut token = None;
        for _page in 0..200 {
            let page = ssm.describe_parameters().max_results(50).set_next_token(token).send().await.map_err(|x| e("parameters")(&x))?;
            for p in page.parameters() {
                add(format!("{region} ssm parameter"), p.name().unwrap_or("?").to_string());
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }

        // DynamoDB.
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        for t in ddb.list_tables().send().await.map_err(|x| e("tables")(&x))?.table_names() {
            add(format!("{region} dynamodb table"), t.clone());
        }

        // RDS.
        let rds = aws_sdk_rds::Client::new(&sdk);
        for x in rds.describe_global_clusters().send().await.map_err(|x| e("global clusters")(&x))?.global_clusters() {
            add(format!("{region} rds global cluster"), x.global_cluster_identifier().unwrap_or("?").to_string());
        }
        for x in rds.describe_db_clusters().send().await.map_err(|x| e("db clusters")(&x))?.db_clusters() {
            add(format!("{region} rds cluster"), x.db_cluster_identifier().unwrap_or("?").to_string());
        }
        for x in rds.describe_db_instances().send().await.map_err(|x| e("db instances")(&x))?.db_instances() {
            add(format!("{region} rds instance"), x.db_instance_identifier().unwrap_or("?").to_string());
        }
        for x in rds.describe_db_subnet_groups().send().await.map_err(|x| e("db subnet groups")(&x))?.db_subnet_groups() {
            add(format!("{region} rds subnet group"), x.db_subnet_group_name().unwrap_or("?").to_string());
        }

        // Backup.
        let backup = aws_sdk_backup::Client::new(&sdk);
        for x in backup.list_backup_vaults().send().await.map_err(|x| e("vaults")(&x))?.backup_vault_list() {
            add(format!("{region} backup vault"), x.backup_vault_name().unwrap_or("?").to_string());
        }
        for x in backup.list_backup_plans().send().await.map_err(|x| e("plans")(&x))?.backup_plans_list() {
            add(format!("{region} backup plan"), x.backup_plan_name().unwrap_or("?").to_string());
            let plan_id = x.backup_plan_id().unwrap_or_default();
            let selections = backup.list_backup_selections().backup_plan_id(plan_id).send().await.map_err(|x| e("selections")(&x))?;
            for sel in selections.backup_selections_list() {
                add(format!("{region} backup selection"), format!("{plan_id} {}", sel.selection_name().unwrap_or("?")));
            }
        }

        // EventBridge global endpoints (buses and rules are listed with Lambda above).
        let eb = aws_sdk_eventbridge::Client::new(&sdk);
        for x in eb.list_endpoints().send().await.map_err(|x| e("global endpoints")(&x))?.endpoints() {
            add(format!("{region} events global endpoint"), x.name().unwrap_or("?").to_string());
        }

        // CloudWatch.
        let cw = aws_sdk_cloudwatch::Client::new(&sdk);
        for x in cw.describe_alarms().max_records(100).send().await.map_err(|x| e("alarms")(&x))?.metric_alarms() {
            add(format!("{region} cloudwatch alarm"), x.alarm_name().unwrap_or("?").to_string());
        }
        for x in cw.list_dashboards().send().await.map_err(|x| e("dashboards")(&x))?.dashboard_entries() {
            add(format!("{region} cloudwatch dashboard"), x.dashboard_name().unwrap_or("?").to_string());
        }
    }

    // Global services, listed once.
    let e = |what: &'static str| move |err: &dyn std::fmt::Debug| format!("census: listing {what}: {err:?}");
    let ga = aws_sdk_globalaccelerator::Client::new(&moto.sdk("us-west-2").await);
    for a in ga.list_accelerators().send().await.map_err(|x| e("accelerators")(&x))?.accelerators() {
        add("globalaccelerator accelerator".into(), a.name().unwrap_or("?").to_string());
        let arn = a.accelerator_arn().unwrap_or_default();
        for l in ga.list_listeners().accelerator_arn(arn).send().await.map_err(|x| e("listeners")(&x))?.listeners() {
            add("globalaccelerator listener".into(), format!("{} {:?}", a.name().unwrap_or("?"), l.port_ranges().first().and_then(|p| p.from_port())));
            let groups = ga.list_endpoint_groups().listener_arn(l.listener_arn().unwrap_or_default()).send().await.map_err(|x| e("endpoint groups")(&x))?;
            for g in groups.endpoint_groups() {
                add("globalaccelerator endpoint group".into(), format!("{} {}", a.name().unwrap_or("?"), g.endpoint_group_region().unwrap_or("?")));
            }
        }
    }
    let sdk = moto.sdk(PRIMARY).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    for r in iam.list_roles().max_items(1000).send().await.map_err(|x| e("roles")(&x))?.roles() {
        add("iam role".into(), r.role_name().to_string());
        let inline = iam.list_role_policies().role_name(r.role_name()).send().await.map_err(|x| e("role policies")(&x))?;
        for p in inline.policy_names() {
            add("iam inline role policy".into(), format!("{} {p}", r.role_name()));
        }
        let attached = iam.list_attached_role_policies().role_name(r.role_name()).send().await.map_err(|x| e("attached policies")(&x))?;
        for p in attached.attached_policies() {
            add("iam attached role policy".into(), format!("{} {}", r.role_name(), p.policy_name().unwrap_or("?")));
        }
    }
    let local = aws_sdk_iam::types::PolicyScopeType::Local;
    for p in iam.list_policies().scope(local).max_items(1000).send().await.map_err(|x| e("policies")(&x))?.policies() {
        add("iam customer managed policy".into(), p.policy_name().unwrap_or("?").to_string());
    }
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    for b in s3.list_buckets().send().await.map_err(|x| e("buckets")(&x))?.buckets() {
        add("s3 bucket".into(), b.name().unwrap_or("?").to_string());
    }
    let r53 = aws_sdk_route53::Client::new(&sdk);
    for z in r53.list_hosted_zones().send().await.map_err(|x| e("hosted zones")(&x))?.hosted_zones() {
        add("route53 hosted zone".into(), z.name().to_string());
    }
    let records = r53.list_resource_record_sets().hosted_zone_id(zone_id).max_items(1000).send().await.map_err(|x| e("records")(&x))?;
    for r in records.resource_record_sets() {
        let t = r.r#type().as_str();
        if !matches!(t, "NS" | "SOA") {
            let kind = if r.failover().is_some() { "route53 failover record" } else { "route53 record" };
            add(kind.into(), format!("{} {t} {:?}", r.name(), r.set_identifier()));
        }
    }
    for h in r53.list_health_checks().max_items(1000).send().await.map_err(|x| e("health checks")(&x))?.health_checks() {
        let cfg = h.health_check_config();
        add(
            "route53 health check".into(),
            format!("{} {:?} {:?}", h.id(), cfg.map(|c| c.r#type().as_str().to_string()), cfg.and_then(|c| c.fully_qualified_domain_name())),
        );
    }
    Ok(c)
}

/// What the deployed stack of `examples/local.toml` (two AZs, a hosted zone, domains,
/// an alert e-mail) owns, per census kind. Everything else in
/// the census is extra. (Counts checked against a fault-free apply on moto 5.2.5.)
pub fn expected_deployed() -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for region in [PRIMARY, SECONDARY] {
        let primary = region == PRIMARY;
        let per_region: &[(&str, usize)] = &[
            ("ec2 vpc", 1),
            ("ec2 subnet", 4),             // 2 public + 2 private (az_count = 2)
            ("ec2 main route table", 1),   // the VPC's own
            ("ec2 route table", 3),        // 1 public + 1 private per AZ
            ("ec2 internet gateway", 1),
            ("ec2 default security group", 1),
            ("ec2 security group", 2),     // database + load balancer
            ("ec2 peering connection", 1), // one connection, seen from both sides
            ("elb network load balancer", 1),
            ("elb application load balancer", 1),
            ("elb listener", 2),           // NLB TCP 443, ALB 443
            ("elb target group", 2),       // tg- (NLB -> ALB) + tgl- (ALB -> Lambda)
            ("apigateway rest api", 1),
            ("apigateway resource", 4),    // /, /health, /items, /items/{id}
            ("apigateway stage", 1),
            ("apigateway api key", 1),
            ("apigateway usage plan", 1),
            ("apigateway usage plan key", 1),
            ("apigateway domain name", 2), // the region's domain + the failover record name
            ("apigateway base path mapping", 2),
            ("acm certificate", 1),
            // api, processor, replicator; the failover controller's probe and handler (secondary)
            ("lambda function", if primary { 3 } else { 5 }),
            ("logs log group", if primary { 3 } else { 5 }),
            ("events bus", 1),
            // bus rule + rds-failover (both regions) + ssm-replication (primary) + the
            // controller's probe schedule (secondary)
            ("events rule", 3),
            ("events target", 3),
            ("sns topic", 1),
            ("sns subscription", 1),       // the alert e-mail
            ("kms key", 1),                // the topic's customer-managed key
            ("kms alias", 1),
            ("ssm parameter", 11),         // /tandem/<s>/..., replicated to the secondary
            ("rds global cluster", 1),     // moto lists the global cluster in every region
            ("rds cluster", 1),
            ("rds instance", 1),
            ("rds subnet group", 1),
            ("backup vault", 1),
            ("backup plan", usize::from(primary)),
            ("backup selection", usize::from(primary)),
            ("events global endpoint", usize::from(primary)),
            // secondary: 4 + the controller's decision, blind and failed-over alarms
            ("cloudwatch alarm", if primary { 8 } else { 7 }),
            ("cloudwatch dashboard", usize::from(primary)),
            ("dynamodb table", 1),         // the table, and its replica in the secondary
        ];
        for (kind, n) in per_region {
            if *n > 0 {
                m.insert(format!("{region} {kind}"), *n);
            }
        }
    }
    let global: &[(&str, usize)] = &[
        ("s3 bucket", 2),
        // lambda-{api,processor,replicator,probe,failover}, s3-replication, backup,
        // events-replication
        ("iam role", 8),
        ("iam inline role policy", 7),   // all but backup's
        ("iam attached role policy", 1), // backup: AWSBackupServiceRolePolicyForBackup
        ("route53 hosted zone", 1),      // created by the test
        ("route53 record", 3),           // ACM validation CNAMEs (api., primary.api., secondary.api.)
        ("route53 failover record", 2),
        // api + nlb per region, and the primary's decision (CLOUDWATCH_METRIC) and
        // CALCULATED (api AND decision) checks
        ("route53 health check", 6),
        ("globalaccelerator accelerator", 1),
        ("globalaccelerator listener", 1),
        ("globalaccelerator endpoint group", 2), // one per region
    ];
    for (kind, n) in global {
        m.insert(kind.to_string(), *n);
    }
    m
}

/// What remains after destroy: only the hosted zone the test created (its NS/SOA records are
/// not counted; KMS keys pending deletion are not counted).
pub fn expected_destroyed() -> BTreeMap<String, usize> {
    BTreeMap::from([("route53 hosted zone".to_string(), 1)])
}

/// The extra (duplicate/orphan) and missing resources of `census` against `expected`.
pub fn compare(census: &Census, expected: &BTreeMap<String, usize>) -> (Vec<String>, Vec<String>) {
    let mut extra = Vec::new();
    let mut missing = Vec::new();
    let kinds: BTreeSet<&String> = census.keys().chain(expected.keys()).collect();
    for kind in kinds {
        let found = census.get(kind).map(Vec::as_slice).unwrap_or(&[]);
        let want = expected.get(kind).copied().unwrap_or(0);
        if found.len() > want {
            extra.push(format!("{kind}: {} found, {want} expected: {}", found.len(), found.join(" | ")));
        } else if found.len() < want {
            missing.push(format!("{kind}: {} found, {want} expected: {}", found.len(), found.join(" | ")));
        }
    }
    (extra, missing)
}

/// Renders a census, one kind per line with its count.
pub fn render(census: &Census) -> String {
    census.iter().map(|(k, v)| format!("{k} = {}: {}", v.len(), v.join(" | "))).collect::<Vec<_>>().join("\n")
}
