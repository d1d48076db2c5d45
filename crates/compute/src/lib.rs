//! tandem-compute: the stack's Lambda functions and EventBridge resources.
//!
//! Components (ids from [`tandem_core::contracts::ids`]):
//! - `lambda-roles` ([`iam::LambdaRoles`]): IAM execution roles, least privilege.
//! - `functions-primary` / `functions-secondary`: log groups and the three functions.
//! - `events-primary` / `events-secondary`: custom bus, rule to the event processor.
//! - `event-endpoint`: EventBridge global endpoint with failover and replication.
//! - `failover-controller` ([`controller::Controller`], secondary region): the probe and
//!   failover functions of the failover controller and the probe's one-minute schedule.
//!
//! [`package`] builds the Lambda zip. Service calls go through the traits of
//! [`tandem_clients::lambda`], [`tandem_core::iam`], [`tandem_clients::events`] (shared with
//! the other crates) and [`logs_api`] (mocks behind the `mocks` feature).

pub mod controller;
pub mod endpoint;
pub mod events;
pub mod functions;
pub mod iam;
pub mod logs_api;
pub mod package;

use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::{Component, Config, Placement};

pub use package::{ensure_package, Package, PackageError};

/// Every component of this crate, with real clients:
/// `lambda-roles`, `functions-{primary,secondary}`, `events-{primary,secondary}` and
/// `event-endpoint`. `package` is the Lambda zip ([`Package::unbuilt`] for commands that
/// neither plan nor apply).
pub fn components(cfg: &Config, aws: &AwsContext, package: &Package) -> Vec<Arc<dyn Component>> {
    let iam: Arc<dyn tandem_core::iam::IamApi> = Arc::new(aws_sdk_iam::Client::new(&aws.config(&cfg.primary_region)));
    let mut out: Vec<Arc<dyn Component>> = vec![Arc::new(iam::LambdaRoles::new(cfg, iam.clone()))];
    let mut primary_events: Option<Arc<dyn tandem_clients::EventsApi>> = None;
    for placement in [Placement::Primary, Placement::Secondary] {
        let sdk = aws.config(cfg.region_of(placement));
        let lambda: Arc<dyn tandem_clients::LambdaApi> = Arc::new(aws_sdk_lambda::Client::new(&sdk));
        let logs: Arc<dyn logs_api::LogsApi> = Arc::new(aws_sdk_cloudwatchlogs::Client::new(&sdk));
        let events: Arc<dyn tandem_clients::EventsApi> = Arc::new(aws_sdk_eventbridge::Client::new(&sdk));
        out.push(Arc::new(functions::Functions::new(cfg, placement, lambda.clone(), logs, package.clone())));
        out.push(Arc::new(events::EventBus::new(cfg, placement, events.clone(), lambda.clone())));
        if placement == Placement::Primary {
            primary_events = Some(events);
        } else {
            let logs: Arc<dyn logs_api::LogsApi> = Arc::new(aws_sdk_cloudwatchlogs::Client::new(&sdk));
            let events: Arc<dyn tandem_clients::EventsApi> = Arc::new(aws_sdk_eventbridge::Client::new(&sdk));
            out.push(Arc::new(controller::Controller::new(cfg, lambda, logs, events, package.clone())));
        }
    }
    let endpoint_events = primary_events
        .unwrap_or_else(|| Arc::new(aws_sdk_eventbridge::Client::new(&aws.config(&cfg.primary_region))));
    out.push(Arc::new(endpoint::EventEndpoint::new(cfg, endpoint_events, iam)));
    out
}

/// The state a run interrupted between journaling the creates of `keys` and their answers
/// leaves for component `c` (tests of resumed runs).
#[cfg(test)]
pub(crate) fn interrupted_state(c: &dyn Component, keys: &[&str]) -> tandem_core::state::ComponentState {
    use tandem_core::state::ComponentState;
    let mut s = ComponentState::new(c.kind(), c.placement(), c.region());
    for (i, key) in keys.iter().enumerate() {
        s = s.with_pending_create(key, Some(&format!("interrupted-{i}")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::contracts::ids;

    fn aws() -> AwsContext {
        let sdk = aws_types::SdkConfig::builder()
            .behavior_version(aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest())
            .build();
        AwsContext::from_base(sdk, false)
    }

    #[test]
    fn builds_every_component_with_its_region_and_dependencies() {
        let mut cfg = Config::example("dev");
        cfg.secondary_region = "us-west-1".into();
        let cs = components(&cfg, &aws(), &Package::unbuilt());
        let got: Vec<(&str, &str, Vec<String>)> = cs.iter().map(|c| (c.id(), c.region(), c.dependencies())).collect();
        assert_eq!(
            got,
            vec![
                ("lambda-roles", "us-east-1", vec![]),
                ("functions-primary", "us-east-1", vec![ids::LAMBDA_ROLES.to_string()]),
                ("events-primary", "us-east-1", vec!["functions-primary".to_string()]),
                ("functions-secondary", "us-west-1", vec![ids::LAMBDA_ROLES.to_string()]),
                ("events-secondary", "us-west-1", vec!["functions-secondary".to_string()]),
                (
                    "failover-controller",
                    "us-west-1",
                    vec![
                        ids::LAMBDA_ROLES.to_string(),
                        "api-primary".to_string(),
                        "loadbalancer-primary".to_string(),
                        "aurora-primary".to_string(),
                        "aurora-secondary".to_string(),
                        "alerts-secondary".to_string(),
                    ],
                ),
                (
                    "event-endpoint",
                    "us-east-1",
                    vec!["events-primary".to_string(), "events-secondary".to_string(), "health-primary".to_string()],
                ),
            ]
        );
        assert_eq!(cs[5].placement(), Placement::Secondary);
        assert_eq!(cs[6].placement(), Placement::Global);
    }

    #[test]
    fn desired_never_carries_secrets_and_changes_with_the_package() {
        let cfg = Config::example("dev");
        let a = components(&cfg, &aws(), &Package::from_bytes(std::path::Path::new("a.zip"), b"a"));
        let b = components(&cfg, &aws(), &Package::from_bytes(std::path::Path::new("b.zip"), b"b"));
        for (x, y) in a.iter().zip(b.iter()) {
            let (dx, dy) = (x.desired(), y.desired());
            assert_eq!(dx.replace_on, dy.replace_on, "{}", x.id());
            let changed = dx.update_on != dy.update_on;
            assert_eq!(changed, x.id().starts_with("functions-") || x.id() == ids::CONTROLLER, "{}", x.id());
            let text = serde_json::to_string(&dx).unwrap().to_lowercase();
            assert!(!text.contains("password") && !text.contains("secret"), "{}", x.id());
        }
    }
}
