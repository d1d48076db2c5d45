//! Shared fixtures of the unit tests.

use tandem_core::contracts::{ApiOutputs, FunctionsOutputs, LoadBalancerOutputs};
use tandem_core::state::ComponentState;
use tandem_core::{to_outputs, Component, Config};

pub const SUFFIX: &str = "t";

pub fn cfg() -> Config {
    Config::example(SUFFIX)
}

pub fn lb(region: &str) -> LoadBalancerOutputs {
    LoadBalancerOutputs {
        nlb_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/net/nlb-{region}/abc"),
        nlb_dns_name: format!("nlb-{region}.elb.{region}.amazonaws.com"),
        nlb_zone_id: "ZNLB".into(),
        nlb_target_group_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:targetgroup/tg/1"),
        alb_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/app/alb/1"),
        alb_dns_name: format!("alb-{region}.elb.amazonaws.com"),
        alb_target_group_arn: format!("arn:aws:elasticloadbalancing:{region}:123456789012:targetgroup/tgl/1"),
    }
}

pub fn api(region: &str, id: &str, domain: bool) -> ApiOutputs {
    ApiOutputs {
        rest_api_id: id.into(),
        stage_name: "live".into(),
        invoke_url: format!("https://{id}.execute-api.{region}.amazonaws.com/live"),
        execute_api_host: format!("{id}.execute-api.{region}.amazonaws.com"),
        health_path: "/live/health".into(),
        custom_domain: domain.then(|| format!("{id}.api.example.com")),
        regional_domain_name: domain.then(|| format!("d-{id}.execute-api.{region}.amazonaws.com")),
        regional_hosted_zone_id: domain.then(|| format!("Z{id}")),
        certificate_arn: domain.then(|| format!("arn:aws:acm:{region}:123456789012:certificate/{id}")),
        failover_domain: domain.then(|| "api.example.com".to_string()),
        failover_regional_domain_name: domain.then(|| format!("d-f{id}.execute-api.{region}.amazonaws.com")),
        failover_regional_hosted_zone_id: domain.then(|| format!("ZF{id}")),
    }
}

pub fn functions(region: &str) -> FunctionsOutputs {
    FunctionsOutputs {
        api_function_name: "api-primary-t".into(),
        api_function_arn: format!("arn:aws:lambda:{region}:123456789012:function:api-primary-t"),
        processor_function_name: "processor-primary-t".into(),
        processor_function_arn: format!("arn:aws:lambda:{region}:123456789012:function:processor-primary-t"),
        replicator_function_name: "replicator-primary-t".into(),
        replicator_function_arn: format!("arn:aws:lambda:{region}:123456789012:function:replicator-primary-t"),
        code_sha256: "abc".into(),
    }
}

/// The state an earlier successful apply would have recorded.
pub fn prior<T: serde::Serialize>(c: &dyn Component, outputs: &T, resources: &[(&str, &str)]) -> ComponentState {
    let mut s = ComponentState::new(c.kind(), c.placement(), c.region()).with_outputs(to_outputs(outputs));
    for (k, id) in resources {
        s = s.with_resource(k, id);
    }
    s
}

/// A state with a `pending` journal entry (an interrupted create).
pub fn pending_state(c: &dyn Component, key: &str) -> ComponentState {
    ComponentState::new(c.kind(), c.placement(), c.region()).with_pending_create(key, None)
}
