//! tandem-traffic: how traffic reaches the two regions.
//!
//! - [`accelerator`]: Global Accelerator (us-west-2 control plane) with endpoint groups on
//!   both regions' NLBs.
//! - [`certificate`]: ACM certificates of the regional custom domains (DNS validation).
//! - [`api`]: regional REST APIs (Lambda proxy), stage, custom domains (the regional one and
//!   one named like the failover record: API Gateway routes by Host header), base path mappings.
//! - [`health`]: Route 53 health checks on each region's API and NLB.
//! - [`failover`]: Route 53 PRIMARY/SECONDARY failover records.
//!
//! Each AWS client is behind a trait ([`ga_api`], [`route53_api`], [`apigw_api`],
//! [`acm_api`], and the shared [`tandem_clients::LambdaApi`]) with the aws-sdk implementation
//! and, with the `mocks` feature, a mockall mock.

use std::sync::Arc;

use tandem_core::aws::{AwsContext, GLOBAL_ACCELERATOR_REGION, ROUTE53_REGION};
use tandem_core::{Component, Config, Placement};

pub mod accelerator;
pub mod acm_api;
pub mod api;
pub mod apigw_api;
pub mod certificate;
pub mod common;
pub mod failover;
pub mod ga_api;
pub mod health;
pub mod route53_api;
#[cfg(test)]
mod test_support;

pub use accelerator::AcceleratorComponent;
pub use api::ApiComponent;
pub use certificate::CertificateComponent;
pub use failover::FailoverComponent;
pub use health::HealthComponent;

/// Every component of the crate, built with real clients: `certificate-{role}` (their `wanted()` decides whether they exist), `api-{role}`,
/// `health-{role}`, `dns-failover` and `accelerator`. Route 53 is called in us-east-1 and
/// Global Accelerator in us-west-2 whatever the stack's regions.
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let mut out: Vec<Arc<dyn Component>> = Vec::new();
    let route53: Arc<dyn route53_api::Route53Api> =
        Arc::new(route53_api::Route53Client(aws_sdk_route53::Client::new(&aws.config(ROUTE53_REGION))));
    for role in [Placement::Primary, Placement::Secondary] {
        let sdk = aws.config(cfg.region_of(role));
        let acm: Arc<dyn acm_api::AcmApi> = Arc::new(acm_api::AcmClient(aws_sdk_acm::Client::new(&sdk)));
        let apigw: Arc<dyn apigw_api::ApiGatewayApi> = Arc::new(apigw_api::ApiGatewayClient(aws_sdk_apigateway::Client::new(&sdk)));
        let lambda: Arc<dyn tandem_clients::LambdaApi> = Arc::new(aws_sdk_lambda::Client::new(&sdk));
        out.push(Arc::new(CertificateComponent::new(cfg, role, acm.clone(), route53.clone())));
        let ssm = tandem_data::ssm::client(aws, cfg.region_of(role));
        out.push(Arc::new(ApiComponent::new(cfg, role, apigw, lambda, acm.clone(), ssm)));
        out.push(Arc::new(HealthComponent::new(cfg, role, route53.clone())));
    }
    out.push(Arc::new(FailoverComponent::new(cfg, route53)));
    let ga: Arc<dyn ga_api::GlobalAcceleratorApi> =
        Arc::new(ga_api::GaClient(aws_sdk_globalaccelerator::Client::new(&global_accelerator_config(aws))));
    out.push(Arc::new(AcceleratorComponent::new(cfg, ga)));
    out
}

/// The SDK configuration of the Global Accelerator client: always us-west-2, where the
/// service's control plane lives, whatever the stack's regions.
pub fn global_accelerator_config(aws: &AwsContext) -> aws_types::SdkConfig {
    aws.config(GLOBAL_ACCELERATOR_REGION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws() -> AwsContext {
        AwsContext::from_base(
            aws_types::SdkConfig::builder()
                .behavior_version(aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest())
                .build(),
            false,
        )
    }

    #[test]
    fn components_cover_the_crate_with_the_right_regions() {
        let mut cfg = Config::example("t");
        cfg.api.primary_domain = Some("p.example.com".into());
        cfg.api.secondary_domain = Some("s.example.com".into());
        cfg.api.secondary_certificate_arn = Some("arn:aws:acm:us-east-2:123456789012:certificate/x".into());
        cfg.dns.hosted_zone_id = Some("Z1".into());
        cfg.dns.record_name = Some("api.example.com".into());
        let aws = aws();
        let comps = components(&cfg, &aws);
        let find = |id: &str| comps.iter().find(|c| c.id() == id).unwrap_or_else(|| panic!("{id} missing"));
        let ids: Vec<&str> = comps.iter().map(|c| c.id()).collect();
        assert_eq!(
            ids,
            vec![
                "certificate-primary",
                "api-primary",
                "health-primary",
                "certificate-secondary",
                "api-secondary",
                "health-secondary",
                "dns-failover",
                "accelerator"
            ]
        );
        let acc = find("accelerator");
        assert_eq!(acc.region(), "us-west-2");
        assert_eq!(global_accelerator_config(&aws).region().map(|r| r.as_ref().to_string()).as_deref(), Some("us-west-2"));
        assert_eq!(find("health-primary").region(), "us-east-1");
        assert_eq!(find("health-secondary").region(), "us-east-1");
        assert_eq!(find("dns-failover").region(), "us-east-1");
        assert!(find("dns-failover").wanted());
        assert_eq!(find("api-secondary").region(), "us-east-2");
        assert_eq!(find("certificate-secondary").region(), "us-east-2");
        assert!(find("certificate-primary").wanted());
        assert!(!find("certificate-secondary").wanted(), "configured certificate: nothing to request");
        assert!(find("api-primary").dependencies().contains(&"certificate-primary".to_string()));
        assert!(!find("api-secondary").dependencies().contains(&"certificate-secondary".to_string()));
    }
}
