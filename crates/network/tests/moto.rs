//! The network components against a real moto server: both networks, the cross-region
//! peering and both load balancers (NLB → ALB → Lambda): apply, check with the SDK, apply
//! again (same resources, nothing duplicated), read (in sync), destroy, check gone, destroy
//! again (no-op).

use std::io::Write;
use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::contracts::{
    ids, FunctionsOutputs, LoadBalancerOutputs, NetworkOutputs, PeeringOutputs,
};
use tandem_core::state::ComponentState;
use tandem_core::{from_outputs, Component, Config, Ctx, Drift, Outputs, Placement};

fn suffix(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}{}", nanos % 100_000)
}

fn setup() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
}

/// A context for `c` with the given inputs and (optionally) the state of a previous run.
fn ctx_for(c: &dyn Component, inputs: &[(&str, &Outputs)], prior: Option<ComponentState>) -> Ctx {
    let mut ctx = Ctx::standalone(c.id(), c.region());
    for (dep, out) in inputs {
        ctx = ctx.with_input(dep, *out);
    }
    if let Some(p) = prior {
        ctx = ctx.with_prior(p);
    }
    ctx
}

/// The state a run leaves: journal + outputs.
async fn state_after(c: &dyn Component, ctx: &Ctx, outputs: &Outputs) -> ComponentState {
    let mut st =
        ComponentState::new(c.kind(), c.placement(), c.region()).with_outputs(outputs.clone());
    st.resources = ctx.journal_entries().await;
    st
}

/// A minimal Lambda function in moto (the load balancer needs a real function for the
/// permission and the lambda target).
async fn create_function(aws: &AwsContext, region: &str, name: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&aws.config("us-east-1"));
    let role_name = format!("role-{name}");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role_arn = match iam
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(trust)
        .send()
        .await
    {
        Ok(r) => r.role().map(|r| r.arn().to_string()).unwrap(),
        Err(_) => iam
            .get_role()
            .role_name(&role_name)
            .send()
            .await
            .unwrap()
            .role()
            .unwrap()
            .arn()
            .to_string(),
    };
    let mut buf = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut buf));
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        zip.start_file("bootstrap", opts).unwrap();
        zip.write_all(b"#!/bin/sh\necho ok\n").unwrap();
        zip.finish().unwrap();
    }
    let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
    let out = lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role_arn)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(buf))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.function_arn().unwrap().to_string()
}

fn functions_outputs(name: &str, arn: &str) -> Outputs {
    tandem_core::to_outputs(&FunctionsOutputs {
        api_function_name: name.to_string(),
        api_function_arn: arn.to_string(),
        processor_function_name: "unused".into(),
        processor_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:unused".into(),
        replicator_function_name: "unused".into(),
        replicator_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:unused".into(),
        code_sha256: "0".into(),
    })
}

fn by_id<'a>(all: &'a [Arc<dyn Component>], id: &str) -> &'a dyn Component {
    all.iter()
        .find(|c| c.id() == id)
        .map(|c| c.as_ref())
        .unwrap_or_else(|| panic!("no component {id}"))
}

async fn check_network(
    aws: &AwsContext,
    region: &str,
    out: &NetworkOutputs,
    cfg: &Config,
    own_cidr: &str,
) {
    let ec2 = aws_sdk_ec2::Client::new(&aws.config(region));
    let vpc = ec2
        .describe_vpcs()
        .vpc_ids(&out.vpc_id)
        .send()
        .await
        .unwrap();
    let vpc = &vpc.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some(own_cidr));
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let a = ec2
            .describe_vpc_attribute()
            .vpc_id(&out.vpc_id)
            .attribute(attr.clone())
            .send()
            .await
            .unwrap();
        let v = a
            .enable_dns_support()
            .or(a.enable_dns_hostnames())
            .and_then(|b| b.value());
        assert_eq!(v, Some(true), "{attr:?}");
    }
    assert!(vpc
        .tags()
        .iter()
        .any(|t| t.key() == Some("tandem:stack")
            && t.value() == Some(cfg.environment_suffix.as_str())));
    assert_eq!(out.azs.len(), 2);
    let subnets = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&out.vpc_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        subnets.subnets().len(),
        4,
        "2 public + 2 private subnets, no duplicates"
    );
    for (i, id) in out
        .public_subnet_ids
        .iter()
        .chain(&out.private_subnet_ids)
        .enumerate()
    {
        let s = subnets
            .subnets()
            .iter()
            .find(|s| s.subnet_id() == Some(id.as_str()))
            .unwrap();
        assert_eq!(s.availability_zone(), Some(out.azs[i % 2].as_str()));
    }
    let igw = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&out.internet_gateway_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        igw.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(out.vpc_id.as_str())
    );
    let rts = ec2
        .describe_route_tables()
        .route_table_ids(&out.public_route_table_id)
        .send()
        .await
        .unwrap();
    let public = &rts.route_tables()[0];
    assert!(public
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
            && r.gateway_id() == Some(out.internet_gateway_id.as_str())));
    let assoc: Vec<&str> = public
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    for s in &out.public_subnet_ids {
        assert!(assoc.contains(&s.as_str()), "public subnet {s} associated");
    }
    assert_eq!(out.private_route_table_ids.len(), 2);
    let sgs = ec2
        .describe_security_groups()
        .group_ids(&out.db_security_group_id)
        .send()
        .await
        .unwrap();
    let db = &sgs.security_groups()[0];
    let mut cidrs: Vec<(i32, String)> = db
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges().iter().map(move |r| {
                (
                    p.from_port().unwrap_or(-1),
                    r.cidr_ip().unwrap_or_default().to_string(),
                )
            })
        })
        .collect();
    cidrs.sort();
    let mut expected = vec![
        (5432, cfg.network.primary_cidr.clone()),
        (5432, cfg.network.secondary_cidr.clone()),
    ];
    expected.sort();
    assert_eq!(
        cidrs, expected,
        "database SG open only to both VPC CIDRs on 5432"
    );
    let sgs = ec2
        .describe_security_groups()
        .group_ids(&out.lb_security_group_id)
        .send()
        .await
        .unwrap();
    let lb = &sgs.security_groups()[0];
    assert_eq!(lb.ip_permissions().len(), 1);
    assert_eq!(lb.ip_permissions()[0].from_port(), Some(443));
    assert_eq!(
        lb.ip_permissions()[0].ip_ranges()[0].cidr_ip(),
        Some("0.0.0.0/0")
    );
}

async fn check_peer_routes(
    aws: &AwsContext,
    region: &str,
    net: &NetworkOutputs,
    peer_cidr: &str,
    pcx: &str,
) {
    let ec2 = aws_sdk_ec2::Client::new(&aws.config(region));
    let mut ids = vec![net.public_route_table_id.clone()];
    ids.extend(net.private_route_table_ids.clone());
    let rts = ec2
        .describe_route_tables()
        .set_route_table_ids(Some(ids))
        .send()
        .await
        .unwrap();
    assert_eq!(rts.route_tables().len(), 3);
    for t in rts.route_tables() {
        assert!(
            t.routes()
                .iter()
                .any(|r| r.destination_cidr_block() == Some(peer_cidr)
                    && r.vpc_peering_connection_id() == Some(pcx)),
            "{region}: {:?} routes {peer_cidr} via {pcx}",
            t.route_table_id()
        );
    }
}

async fn check_load_balancer(
    aws: &AwsContext,
    region: &str,
    out: &LoadBalancerOutputs,
    net: &NetworkOutputs,
    function_arn: &str,
) {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.config(region));
    let lbs = elb
        .describe_load_balancers()
        .load_balancer_arns(&out.nlb_arn)
        .load_balancer_arns(&out.alb_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(lbs.load_balancers().len(), 2);
    for lb in lbs.load_balancers() {
        assert_eq!(lb.vpc_id(), Some(net.vpc_id.as_str()));
        if lb.load_balancer_arn() == Some(out.nlb_arn.as_str()) {
            assert_eq!(lb.r#type().map(|t| t.as_str()), Some("network"));
            assert_eq!(lb.scheme().map(|t| t.as_str()), Some("internet-facing"));
            assert_eq!(lb.dns_name(), Some(out.nlb_dns_name.as_str()));
        } else {
            assert_eq!(lb.r#type().map(|t| t.as_str()), Some("application"));
            assert_eq!(
                lb.security_groups(),
                std::slice::from_ref(&net.lb_security_group_id)
            );
        }
    }
    let nlb_listeners = elb
        .describe_listeners()
        .load_balancer_arn(&out.nlb_arn)
        .send()
        .await
        .unwrap();
    let l = &nlb_listeners.listeners()[0];
    assert_eq!(
        (l.port(), l.protocol().map(|p| p.as_str())),
        (Some(443), Some("TCP"))
    );
    assert_eq!(
        l.default_actions()[0].target_group_arn(),
        Some(out.nlb_target_group_arn.as_str())
    );
    let alb_listeners = elb
        .describe_listeners()
        .load_balancer_arn(&out.alb_arn)
        .send()
        .await
        .unwrap();
    let l = &alb_listeners.listeners()[0];
    assert_eq!(
        (l.port(), l.protocol().map(|p| p.as_str())),
        (Some(443), Some("HTTP")),
        "no-domain mode: HTTP on 443"
    );
    assert_eq!(
        l.default_actions()[0].target_group_arn(),
        Some(out.alb_target_group_arn.as_str())
    );
    let tgs = elb
        .describe_target_groups()
        .target_group_arns(&out.nlb_target_group_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tgs.target_groups()[0].target_type().map(|t| t.as_str()),
        Some("alb")
    );
    let targets = elb
        .describe_target_health()
        .target_group_arn(&out.nlb_target_group_arn)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = targets
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target().and_then(|t| t.id()))
        .collect();
    assert_eq!(
        ids,
        vec![out.alb_arn.as_str()],
        "the NLB target group holds the ALB"
    );
    let tgs = elb
        .describe_target_groups()
        .target_group_arns(&out.alb_target_group_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tgs.target_groups()[0].target_type().map(|t| t.as_str()),
        Some("lambda")
    );
    let targets = elb
        .describe_target_health()
        .target_group_arn(&out.alb_target_group_arn)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = targets
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target().and_then(|t| t.id()))
        .collect();
    assert_eq!(
        ids,
        vec![function_arn],
        "the ALB target group holds the API function"
    );
    let lambda = aws_sdk_lambda::Client::new(&aws.config(region));
    let policy = lambda
        .get_policy()
        .function_name(function_arn)
        .send()
        .await
        .unwrap();
    let policy = policy.policy().unwrap();
    assert!(
        policy.contains("elasticloadbalancing.amazonaws.com")
            && policy.contains(&out.alb_target_group_arn),
        "{policy}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_lifecycle_in_both_regions() {
    setup();
    let aws = tandem_core::testing::moto_context().await;
    let s = suffix("nw");
    let cfg = Config::example(&s);
    let all = tandem_network::components(&cfg, &aws);
    assert_eq!(all.len(), 5);

    let np = by_id(&all, &ids::network(Placement::Primary));
    let ns = by_id(&all, &ids::network(Placement::Secondary));
    let pc = by_id(&all, ids::PEERING);
    let lp = by_id(&all, &ids::load_balancer(Placement::Primary));
    let ls = by_id(&all, &ids::load_balancer(Placement::Secondary));
    assert_eq!(
        lp.dependencies(),
        vec![
            ids::network(Placement::Primary),
            ids::functions(Placement::Primary)
        ],
        "no certificate without a domain"
    );

    let fn_p_name = format!("api-primary-{s}");
    let fn_s_name = format!("api-secondary-{s}");
    let fn_p = create_function(&aws, &cfg.primary_region, &fn_p_name).await;
    let fn_s = create_function(&aws, &cfg.secondary_region, &fn_s_name).await;
    let funcs_p = functions_outputs(&fn_p_name, &fn_p);
    let funcs_s = functions_outputs(&fn_s_name, &fn_s);

    // ---- apply
    let ctx_np = ctx_for(np, &[], None);
    let ctx_ns = ctx_for(ns, &[], None);
    let (out_np, out_ns) = tokio::join!(np.apply(&ctx_np), ns.apply(&ctx_ns));
    let (out_np, out_ns) = (out_np.unwrap(), out_ns.unwrap());
    np.output_type().check(&out_np).expect("declared outputs");
    let net_p: NetworkOutputs = from_outputs(&out_np).unwrap();
    let net_s: NetworkOutputs = from_outputs(&out_ns).unwrap();
    check_network(
        &aws,
        &cfg.primary_region,
        &net_p,
        &cfg,
        &cfg.network.primary_cidr,
    )
    .await;
    check_network(
        &aws,
        &cfg.secondary_region,
        &net_s,
        &cfg,
        &cfg.network.secondary_cidr,
    )
    .await;

    let np_id = ids::network(Placement::Primary);
    let ns_id = ids::network(Placement::Secondary);
    let peering_inputs = [(np_id.as_str(), &out_np), (ns_id.as_str(), &out_ns)];
    let ctx_pc = ctx_for(pc, &peering_inputs, None);
    let out_pc = pc.apply(&ctx_pc).await.unwrap();
    let peering: PeeringOutputs = from_outputs(&out_pc).unwrap();
    let ec2_p = aws_sdk_ec2::Client::new(&aws.config(&cfg.primary_region));
    let pcx = ec2_p
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(&peering.peering_connection_id)
        .send()
        .await
        .unwrap();
    let pcx = pcx
        .vpc_peering_connections()
        .iter()
        .find(|p| p.vpc_peering_connection_id() == Some(peering.peering_connection_id.as_str()))
        .unwrap();
    assert_eq!(
        pcx.status().and_then(|s| s.code()).map(|c| c.as_str()),
        Some("active")
    );
    assert_eq!(
        pcx.accepter_vpc_info().and_then(|i| i.region()),
        Some(cfg.secondary_region.as_str())
    );
    assert_eq!(
        pcx.accepter_vpc_info().and_then(|i| i.vpc_id()),
        Some(net_s.vpc_id.as_str())
    );
    check_peer_routes(
        &aws,
        &cfg.primary_region,
        &net_p,
        &cfg.network.secondary_cidr,
        &peering.peering_connection_id,
    )
    .await;
    check_peer_routes(
        &aws,
        &cfg.secondary_region,
        &net_s,
        &cfg.network.primary_cidr,
        &peering.peering_connection_id,
    )
    .await;

    let fp_id = ids::functions(Placement::Primary);
    let fs_id = ids::functions(Placement::Secondary);
    let lb_p_inputs = [(np_id.as_str(), &out_np), (fp_id.as_str(), &funcs_p)];
    let lb_s_inputs = [(ns_id.as_str(), &out_ns), (fs_id.as_str(), &funcs_s)];
    let ctx_lp = ctx_for(lp, &lb_p_inputs, None);
    let ctx_ls = ctx_for(ls, &lb_s_inputs, None);
    let (out_lp, out_ls) = tokio::join!(lp.apply(&ctx_lp), ls.apply(&ctx_ls));
    let (out_lp, out_ls) = (out_lp.unwrap(), out_ls.unwrap());
    let lb_p: LoadBalancerOutputs = from_outputs(&out_lp).unwrap();
    let lb_s: LoadBalancerOutputs = from_outputs(&out_ls).unwrap();
    check_load_balancer(&aws, &cfg.primary_region, &lb_p, &net_p, &fn_p).await;
    check_load_balancer(&aws, &cfg.secondary_region, &lb_s, &net_s, &fn_s).await;

    // ---- apply again with the recorded state: same resources, nothing new
    let st_np = state_after(np, &ctx_np, &out_np).await;
    let st_ns = state_after(ns, &ctx_ns, &out_ns).await;
    let st_pc = state_after(pc, &ctx_pc, &out_pc).await;
    let st_lp = state_after(lp, &ctx_lp, &out_lp).await;
    let st_ls = state_after(ls, &ctx_ls, &out_ls).await;
    let again_np = np
        .apply(&ctx_for(np, &[], Some(st_np.clone())))
        .await
        .unwrap();
    let again_ns = ns
        .apply(&ctx_for(ns, &[], Some(st_ns.clone())))
        .await
        .unwrap();
    assert_eq!(again_np, out_np);
    assert_eq!(again_ns, out_ns);
    let again_pc = pc
        .apply(&ctx_for(pc, &peering_inputs, Some(st_pc.clone())))
        .await
        .unwrap();
    assert_eq!(again_pc, out_pc);
    let again_lp = lp
        .apply(&ctx_for(lp, &lb_p_inputs, Some(st_lp.clone())))
        .await
        .unwrap();
    assert_eq!(again_lp, out_lp);
    // Without any state (journal lost): everything is adopted by name/tag, nothing duplicated.
    let adopted_ns = ns.apply(&ctx_for(ns, &[], None)).await.unwrap();
    assert_eq!(adopted_ns, out_ns);
    let adopted_ls = ls.apply(&ctx_for(ls, &lb_s_inputs, None)).await.unwrap();
    assert_eq!(adopted_ls, out_ls);
    let adopted_pc = pc.apply(&ctx_for(pc, &peering_inputs, None)).await.unwrap();
    assert_eq!(adopted_pc, out_pc);
    check_network(
        &aws,
        &cfg.primary_region,
        &net_p,
        &cfg,
        &cfg.network.primary_cidr,
    )
    .await;
    check_network(
        &aws,
        &cfg.secondary_region,
        &net_s,
        &cfg,
        &cfg.network.secondary_cidr,
    )
    .await;
    let vpcs = ec2_p
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:tandem:stack")
                .values(&s)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        vpcs.vpcs().len(),
        1,
        "one VPC of the stack in the primary region"
    );

    // ---- read: in sync
    assert_eq!(
        np.read(&ctx_for(np, &[], Some(st_np.clone())))
            .await
            .unwrap(),
        Drift::InSync
    );
    assert_eq!(
        pc.read(&ctx_for(pc, &peering_inputs, Some(st_pc.clone())))
            .await
            .unwrap(),
        Drift::InSync
    );
    assert_eq!(
        lp.read(&ctx_for(lp, &lb_p_inputs, Some(st_lp.clone())))
            .await
            .unwrap(),
        Drift::InSync
    );

    // ---- destroy (dependents first), then everything is gone
    let (c1, c2) = (
        ctx_for(lp, &lb_p_inputs, Some(st_lp.clone())),
        ctx_for(ls, &lb_s_inputs, Some(st_ls.clone())),
    );
    let (a, b) = tokio::join!(lp.destroy(&c1), ls.destroy(&c2));
    a.unwrap();
    b.unwrap();
    pc.destroy(&ctx_for(pc, &peering_inputs, Some(st_pc.clone())))
        .await
        .unwrap();
    let (c1, c2) = (
        ctx_for(np, &[], Some(st_np.clone())),
        ctx_for(ns, &[], Some(st_ns.clone())),
    );
    let (a, b) = tokio::join!(np.destroy(&c1), ns.destroy(&c2));
    a.unwrap();
    b.unwrap();

    for (region, lb) in [(&cfg.primary_region, &lb_p), (&cfg.secondary_region, &lb_s)] {
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.config(region));
        assert!(
            elb.describe_load_balancers()
                .load_balancer_arns(&lb.nlb_arn)
                .send()
                .await
                .is_err(),
            "NLB gone"
        );
        assert!(
            elb.describe_load_balancers()
                .load_balancer_arns(&lb.alb_arn)
                .send()
                .await
                .is_err(),
            "ALB gone"
        );
        assert!(
            elb.describe_target_groups()
                .target_group_arns(&lb.nlb_target_group_arn)
                .send()
                .await
                .is_err(),
            "target group gone"
        );
        assert!(
            elb.describe_target_groups()
                .target_group_arns(&lb.alb_target_group_arn)
                .send()
                .await
                .is_err(),
            "target group gone"
        );
    }
    let lambda = aws_sdk_lambda::Client::new(&aws.config(&cfg.primary_region));
    let policy = lambda
        .get_policy()
        .function_name(&fn_p)
        .send()
        .await
        .ok()
        .and_then(|p| p.policy().map(str::to_string))
        .unwrap_or_default();
    assert!(
        !policy.contains(&lb_p.alb_target_group_arn),
        "invoke permission removed: {policy}"
    );
    let pcx = ec2_p
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(&peering.peering_connection_id)
        .send()
        .await;
    if let Ok(p) = pcx {
        for x in p.vpc_peering_connections().iter().filter(|p| {
            p.vpc_peering_connection_id() == Some(peering.peering_connection_id.as_str())
        }) {
            assert_eq!(
                x.status().and_then(|s| s.code()).map(|c| c.as_str()),
                Some("deleted")
            );
        }
    }
    for region in [&cfg.primary_region, &cfg.secondary_region] {
        let ec2 = aws_sdk_ec2::Client::new(&aws.config(region));
        let tag = aws_sdk_ec2::types::Filter::builder()
            .name("tag:tandem:stack")
            .values(&s)
            .build();
        assert!(
            ec2.describe_vpcs()
                .filters(tag.clone())
                .send()
                .await
                .unwrap()
                .vpcs()
                .is_empty(),
            "{region}: VPC gone"
        );
        assert!(
            ec2.describe_subnets()
                .filters(tag.clone())
                .send()
                .await
                .unwrap()
                .subnets()
                .is_empty(),
            "{region}: subnets gone"
        );
        assert!(
            ec2.describe_internet_gateways()
                .filters(tag.clone())
                .send()
                .await
                .unwrap()
                .internet_gateways()
                .is_empty(),
            "{region}: IGW gone"
        );
        assert!(
            ec2.describe_route_tables()
                .filters(tag.clone())
                .send()
                .await
                .unwrap()
                .route_tables()
                .is_empty(),
            "{region}: route tables gone"
        );
        assert!(
            ec2.describe_security_groups()
                .filters(tag)
                .send()
                .await
                .unwrap()
                .security_groups()
                .is_empty(),
            "{region}: SGs gone"
        );
    }

    // ---- destroy again: no-op, no error (no state, nothing left)
    lp.destroy(&ctx_for(lp, &lb_p_inputs, None)).await.unwrap();
    pc.destroy(&ctx_for(pc, &peering_inputs, None))
        .await
        .unwrap();
    np.destroy(&ctx_for(np, &[], None)).await.unwrap();
    ns.destroy(&ctx_for(ns, &[], Some(st_ns))).await.unwrap();
    assert_eq!(
        np.read(&ctx_for(np, &[], None)).await.unwrap(),
        Drift::Missing {
            details: vec![format!("VPC vpc-primary-{s} not found in us-east-1")]
        }
    );
}

/// With a configured certificate the ALB listener is HTTPS (TLS 1.2/1.3 policy) with that
/// certificate and the NLB health check is HTTPS; destroy releases the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listener_with_configured_certificate() {
    setup();
    let aws = tandem_core::testing::moto_context().await;
    let s = suffix("tls");
    let acm = aws_sdk_acm::Client::new(&aws.config("us-east-1"));
    let cert = acm
        .request_certificate()
        .domain_name(format!("api-{s}.example.com"))
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let mut cfg = Config::example(&s);
    cfg.api.primary_domain = Some(format!("api-{s}.example.com"));
    cfg.api.primary_certificate_arn = Some(cert.clone());
    let all = tandem_network::components(&cfg, &aws);
    let np = by_id(&all, &ids::network(Placement::Primary));
    let lp = by_id(&all, &ids::load_balancer(Placement::Primary));
    assert_eq!(
        lp.dependencies().len(),
        2,
        "a configured certificate needs no certificate component"
    );

    let fn_name = format!("api-primary-{s}");
    let fn_arn = create_function(&aws, &cfg.primary_region, &fn_name).await;
    let funcs = functions_outputs(&fn_name, &fn_arn);
    let ctx_np = ctx_for(np, &[], None);
    let out_np = np.apply(&ctx_np).await.unwrap();
    let np_id = ids::network(Placement::Primary);
    let fp_id = ids::functions(Placement::Primary);
    let inputs = [(np_id.as_str(), &out_np), (fp_id.as_str(), &funcs)];
    let ctx_lp = ctx_for(lp, &inputs, None);
    let out: LoadBalancerOutputs = from_outputs(&lp.apply(&ctx_lp).await.unwrap()).unwrap();

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.config(&cfg.primary_region));
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&out.alb_arn)
        .send()
        .await
        .unwrap();
    let l = &listeners.listeners()[0];
    assert_eq!(l.protocol().map(|p| p.as_str()), Some("HTTPS"));
    assert_eq!(
        l.ssl_policy(),
        Some(tandem_network::load_balancer::SSL_POLICY)
    );
    assert_eq!(l.certificates()[0].certificate_arn(), Some(cert.as_str()));
    let tg = elb
        .describe_target_groups()
        .target_group_arns(&out.nlb_target_group_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tg.target_groups()[0]
            .health_check_protocol()
            .map(|p| p.as_str()),
        Some("HTTPS")
    );
    assert_eq!(tg.target_groups()[0].health_check_path(), Some("/health"));

    // Second apply: nothing to change.
    let st = state_after(lp, &ctx_lp, &tandem_core::to_outputs(&out)).await;
    let again: LoadBalancerOutputs = from_outputs(
        &lp.apply(&ctx_for(lp, &inputs, Some(st.clone())))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again, out);

    lp.destroy(&ctx_for(lp, &inputs, Some(st))).await.unwrap();
    let st_np = state_after(np, &ctx_np, &out_np).await;
    np.destroy(&ctx_for(np, &[], Some(st_np))).await.unwrap();
    assert!(
        elb.describe_load_balancers()
            .names(format!("alb-primary-{s}"))
            .send()
            .await
            .is_err(),
        "ALB gone"
    );
}
