//! tandem-network: the network layer of a Tandem stack.
//!
//! Components (ids from `tandem_core::contracts::ids`):
//! - `network-primary`, `network-secondary` ([`vpc::NetworkComponent`]): VPC, public and
//!   private subnets, internet gateway, route tables, database and load balancer security
//!   groups → `NetworkOutputs`.
//! - `peering` ([`peering::PeeringComponent`]): cross-region VPC peering, requested in the
//!   primary region and accepted in the secondary, routes both ways → `PeeringOutputs`.
//! - `loadbalancer-primary`, `loadbalancer-secondary`
//!   ([`load_balancer::LoadBalancerComponent`]): internet-facing NLB (TCP 443) → ALB → API
//!   Lambda → `LoadBalancerOutputs`.
//!
//! AWS is reached through the per-service traits [`ec2_api::Ec2Api`], [`elb_api::ElbApi`] and
//! [`tandem_clients::LambdaApi`] (shared with the other crates), implemented for the aws-sdk
//! clients and mocked (feature `mocks`: `MockEc2Api`, `MockElbApi`,
//! `tandem_clients::MockLambdaApi`) so the components can be tested or embedded without AWS.

use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::{Component, Config, Placement};

mod common;
pub mod ec2_api;
pub mod elb_api;
pub mod load_balancer;
pub mod peering;
mod routing;
mod security_groups;
pub mod subnets;
#[cfg(test)]
mod test_support;
pub mod vpc;

pub use load_balancer::{CertificateSource, LoadBalancerComponent};
pub use peering::PeeringComponent;
pub use vpc::NetworkComponent;

/// Every component of the crate, with real aws-sdk clients of the right regions.
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let ec2 = |region: &str| -> Arc<dyn ec2_api::Ec2Api> {
        Arc::new(aws_sdk_ec2::Client::new(&aws.config(region)))
    };
    let elb = |region: &str| -> Arc<dyn elb_api::ElbApi> {
        Arc::new(aws_sdk_elasticloadbalancingv2::Client::new(
            &aws.config(region),
        ))
    };
    let lambda = |region: &str| -> Arc<dyn tandem_clients::LambdaApi> {
        Arc::new(aws_sdk_lambda::Client::new(&aws.config(region)))
    };
    let primary_ec2 = ec2(&cfg.primary_region);
    let secondary_ec2 = ec2(&cfg.secondary_region);
    vec![
        Arc::new(NetworkComponent::new(
            cfg,
            Placement::Primary,
            primary_ec2.clone(),
        )),
        Arc::new(NetworkComponent::new(
            cfg,
            Placement::Secondary,
            secondary_ec2.clone(),
        )),
        Arc::new(PeeringComponent::new(
            cfg,
            primary_ec2.clone(),
            secondary_ec2.clone(),
        )),
        Arc::new(LoadBalancerComponent::new(
            cfg,
            Placement::Primary,
            elb(&cfg.primary_region),
            lambda(&cfg.primary_region),
            primary_ec2,
        )),
        Arc::new(LoadBalancerComponent::new(
            cfg,
            Placement::Secondary,
            elb(&cfg.secondary_region),
            lambda(&cfg.secondary_region),
            secondary_ec2,
        )),
    ]
}
