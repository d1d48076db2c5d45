//! tandem-observability: alerting and monitoring of the two-region stack.
//!
//! Components (ids from [`tandem_core::contracts::ids`]):
//! - `alerts-primary` / `alerts-secondary` ([`sns::Alerts`]): SNS topic `alerts-{role}-{s}`
//!   encrypted with the region's customer-managed KMS key `alias/alerts-{role}-{s}`
//!   ([`kms::TopicKey`]: rotation on, key policy letting CloudWatch and EventBridge of this
//!   account use it), publish allowed to CloudWatch and EventBridge of this account only,
//!   optional e-mail subscription, and the EventBridge rule
//!   `rds-failover-{s}` routing Aurora global failover/switchover events to the topic.
//! - `alarms-primary` / `alarms-secondary` ([`alarms::Alarms`]): CloudWatch alarms
//!   `alarm-<what>-{role}-{s}` on health checks, replication lag, Lambda errors and API 5xx,
//!   with the region's topic as alarm and OK action.
//! - `failover-alarms` ([`alarms::Alarms::controller`], secondary region): the failover
//!   controller's "primary down" decision alarm (actions: the failover handler and the
//!   secondary's topic), its "controller blind" and "failed over" alarms: the alerts that
//!   survive the primary region ([`alarms::controller_alarms`]).
//! - `dashboard` ([`dashboard::Dashboard`]): one dashboard `dashboard-{s}` (created in the
//!   primary region) with both regions' metrics; its body is built by the pure
//!   [`dashboard::build_body`].
//!
//! Service calls go through the traits of [`clients`] and the shared
//! [`tandem_clients::EventsApi`] (mocks behind the `mocks` feature).
//! The local emulator serves all of it: CloudWatch (awsQuery, hence the
//! aws-sdk-cloudwatch pin), SNS, EventBridge rules and KMS.

pub mod alarms;
pub mod clients;
pub mod dashboard;
pub mod kms;
pub mod sns;

use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::{Component, Config, Placement};

/// Every component of this crate with real clients: `alerts-{primary,secondary}`,
/// `alarms-{primary,secondary}` and `dashboard`.
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let mut out: Vec<Arc<dyn Component>> = Vec::new();
    let mut primary_cw: Option<Arc<dyn clients::CloudWatchApi>> = None;
    for placement in [Placement::Primary, Placement::Secondary] {
        let sdk = aws.config(cfg.region_of(placement));
        let sns: Arc<dyn clients::SnsApi> = Arc::new(aws_sdk_sns::Client::new(&sdk));
        let events: Arc<dyn tandem_clients::EventsApi> = Arc::new(aws_sdk_eventbridge::Client::new(&sdk));
        let cw: Arc<dyn clients::CloudWatchApi> = Arc::new(aws_sdk_cloudwatch::Client::new(&sdk));
        let kms: Arc<dyn clients::KmsApi> = Arc::new(aws_sdk_kms::Client::new(&sdk));
        out.push(Arc::new(sns::Alerts::new(cfg, placement, sns, events, kms)));
        out.push(Arc::new(alarms::Alarms::new(cfg, placement, cw.clone())));
        if placement == Placement::Primary {
            primary_cw = Some(cw);
        } else {
            out.push(Arc::new(alarms::Alarms::controller(cfg, cw)));
        }
    }
    let cw = primary_cw
        .unwrap_or_else(|| Arc::new(aws_sdk_cloudwatch::Client::new(&aws.config(&cfg.primary_region))));
    out.push(Arc::new(dashboard::Dashboard::new(cfg, cw)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::contracts::ids;

    fn offline_aws() -> AwsContext {
        let sdk = aws_types::SdkConfig::builder()
            .behavior_version(aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("us-east-1"))
            .build();
        AwsContext::from_base(sdk, false)
    }

    #[test]
    fn components_are_placed_in_their_regions() {
        let mut cfg = Config::example("t1");
        cfg.primary_region = "us-west-2".into();
        cfg.secondary_region = "us-east-1".into();
        let comps = components(&cfg, &offline_aws());
        let got: Vec<(String, Placement, String)> =
            comps.iter().map(|c| (c.id().to_string(), c.placement(), c.region().to_string())).collect();
        let want = vec![
            (ids::alerts(Placement::Primary), Placement::Primary, "us-west-2".to_string()),
            (ids::alarms(Placement::Primary), Placement::Primary, "us-west-2".to_string()),
            (ids::alerts(Placement::Secondary), Placement::Secondary, "us-east-1".to_string()),
            (ids::alarms(Placement::Secondary), Placement::Secondary, "us-east-1".to_string()),
            (ids::FAILOVER_ALARMS.to_string(), Placement::Secondary, "us-east-1".to_string()),
            (ids::DASHBOARD.to_string(), Placement::Global, "us-west-2".to_string()),
        ];
        assert_eq!(got, want);
        for c in &comps {
            assert!(c.expected_duration().as_secs() > 0);
            // No secret and no e-mail placeholder leaks into desired.
            let d = serde_json::to_string(&c.desired()).unwrap_or_default();
            assert!(!d.to_lowercase().contains("password"), "{d}");
        }
        let dash = comps.iter().find(|c| c.id() == ids::DASHBOARD).map(|c| c.dependencies()).unwrap_or_default();
        for p in [Placement::Primary, Placement::Secondary] {
            for dep in [ids::functions(p), ids::api(p), ids::health(p), ids::bucket(p), ids::aurora(p)] {
                assert!(dash.contains(&dep), "dashboard misses {dep}");
            }
        }
        assert!(dash.contains(&ids::TABLE.to_string()));
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixtures shared by the unit tests: a config and synthetic dependency outputs.
    use tandem_core::contracts::{
        ids, AlertsOutputs, ApiOutputs, AuroraOutputs, BucketOutputs, FunctionsOutputs, HealthOutputs, TableOutputs,
    };
    use tandem_core::{Config, Ctx, Placement};

    use crate::clients::{AliasInfo, KeyInfo, MockKmsApi};

    pub const SUFFIX: &str = "t1";

    pub fn cfg() -> Config {
        Config::example(SUFFIX)
    }

    pub fn topic_arn(p: Placement) -> String {
        let region = if p == Placement::Secondary { "us-east-2" } else { "us-east-1" };
        format!("arn:aws:sns:{region}:123456789012:alerts-{p}-{SUFFIX}")
    }

    pub fn region(p: Placement) -> &'static str {
        if p == Placement::Secondary {
            "us-east-2"
        } else {
            "us-east-1"
        }
    }

    /// The raw id of the topic key of `p`.
    pub fn key_id(p: Placement) -> String {
        if p == Placement::Secondary {
            "2222aaaa-bbbb-cccc-dddd-eeeeffff0000".into()
        } else {
            "1111aaaa-bbbb-cccc-dddd-eeeeffff0000".into()
        }
    }

    /// The topic key of `p`, enabled.
    pub fn key(p: Placement) -> KeyInfo {
        KeyInfo {
            key_id: key_id(p),
            arn: format!("arn:aws:kms:{}:123456789012:key/{}", region(p), key_id(p)),
            account: "123456789012".into(),
            state: "Enabled".into(),
            description: format!("Tandem stack {SUFFIX}: encrypts the SNS alert topic alerts-{p}-{SUFFIX} in {}", region(p)),
        }
    }

    /// The predefined aliases ListAliases always returns (no target yet).
    pub fn aws_aliases(p: Placement) -> Vec<AliasInfo> {
        vec![AliasInfo {
            name: "alias/aws/sns".into(),
            arn: format!("arn:aws:kms:{}:123456789012:alias/aws/sns", region(p)),
            target_key_id: None,
        }]
    }

    /// The predefined aliases plus `alias/alerts-{role}-{s}` pointing to the topic key.
    pub fn aliases_with_ours(p: Placement) -> Vec<AliasInfo> {
        let mut v = aws_aliases(p);
        v.push(AliasInfo {
            name: format!("alias/alerts-{p}-{SUFFIX}"),
            arn: format!("arn:aws:kms:{}:123456789012:alias/alerts-{p}-{SUFFIX}", region(p)),
            target_key_id: Some(key_id(p)),
        });
        v
    }

    /// A KMS mock for an existing, healthy topic key (apply and read make no mutating call).
    pub fn kms_in_sync(p: Placement) -> MockKmsApi {
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(move || Ok(aliases_with_ours(p)));
        kms.expect_describe_key().returning(move |k| {
            Ok((k == key_id(p) || k == key(p).arn || k == format!("alias/alerts-{p}-{SUFFIX}")).then(|| key(p)))
        });
        kms.expect_get_key_policy()
            .returning(move |_| Ok(crate::kms::key_policy("aws", "123456789012", region(p)).to_string()));
        kms.expect_get_key_rotation_status().returning(|_| Ok(true));
        kms
    }

    pub fn alerts(p: Placement) -> AlertsOutputs {
        AlertsOutputs { topic_arn: topic_arn(p), topic_name: format!("alerts-{p}-{SUFFIX}") }
    }

    pub fn functions(p: Placement) -> FunctionsOutputs {
        FunctionsOutputs {
            api_function_name: format!("api-{p}-{SUFFIX}"),
            api_function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:api-{p}-{SUFFIX}"),
            processor_function_name: format!("processor-{p}-{SUFFIX}"),
            processor_function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:processor-{p}-{SUFFIX}"),
            replicator_function_name: format!("replicator-{p}-{SUFFIX}"),
            replicator_function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:replicator-{p}-{SUFFIX}"),
            code_sha256: "abc".into(),
        }
    }

    pub fn api(p: Placement) -> ApiOutputs {
        let id = if p == Placement::Primary { "restapi111" } else { "restapi222" };
        ApiOutputs {
            rest_api_id: id.into(),
            stage_name: "live".into(),
            invoke_url: format!("https://{id}.execute-api.us-east-1.amazonaws.com/live"),
            execute_api_host: format!("{id}.execute-api.us-east-1.amazonaws.com"),
            health_path: "/live/health".into(),
            custom_domain: None,
            regional_domain_name: None,
            regional_hosted_zone_id: None,
            certificate_arn: None,
            failover_domain: None,
            failover_regional_domain_name: None,
            failover_regional_hosted_zone_id: None,
        }
    }

    pub fn health(p: Placement) -> HealthOutputs {
        HealthOutputs {
            api_check_id: format!("hc-api-{p}"),
            api_check_arn: format!("arn:aws:route53:::healthcheck/hc-api-{p}"),
            nlb_check_id: format!("hc-nlb-{p}"),
            nlb_check_arn: format!("arn:aws:route53:::healthcheck/hc-nlb-{p}"),
            ..Default::default()
        }
    }

    pub fn aurora(p: Placement) -> AuroraOutputs {
        AuroraOutputs {
            global_cluster_id: format!("aurora-global-{SUFFIX}"),
            cluster_id: format!("aurora-{p}-{SUFFIX}"),
            cluster_arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:aurora-{p}-{SUFFIX}"),
            writer_endpoint: "w".into(),
            reader_endpoint: "r".into(),
            instance_id: format!("aurora-{p}-{SUFFIX}-1"),
            port: 5432,
            password_parameter: None,
            global_writer_endpoint: format!("aurora-global-{SUFFIX}.global-x.global.rds.amazonaws.com"),
        }
    }

    pub fn table() -> TableOutputs {
        TableOutputs {
            table_name: format!("table-{SUFFIX}"),
            table_arn: format!("arn:aws:dynamodb:us-east-1:123456789012:table/table-{SUFFIX}"),
            stream_arn: "s".into(),
            replica_regions: vec!["us-east-2".into()],
        }
    }

    pub fn bucket(p: Placement) -> BucketOutputs {
        BucketOutputs {
            bucket_name: format!("bucket-{p}-{SUFFIX}"),
            bucket_arn: format!("arn:aws:s3:::bucket-{p}-{SUFFIX}"),
            replication_role_arn: (p == Placement::Primary).then(|| "arn:aws:iam::123456789012:role/r".to_string()),
            replication_rule_id: (p == Placement::Primary).then(|| "replicate-all".to_string()),
        }
    }

    /// A context with every dependency of this crate's components.
    pub fn ctx_with_inputs(id: &str, region: &str) -> Ctx {
        let mut ctx = Ctx::standalone(id, region).with_input(ids::TABLE, &table());
        for p in [Placement::Primary, Placement::Secondary] {
            ctx = ctx
                .with_input(&ids::alerts(p), &alerts(p))
                .with_input(&ids::functions(p), &functions(p))
                .with_input(&ids::api(p), &api(p))
                .with_input(&ids::health(p), &health(p))
                .with_input(&ids::aurora(p), &aurora(p))
                .with_input(&ids::bucket(p), &bucket(p));
        }
        ctx
    }
}
