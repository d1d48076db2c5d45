//! The interfaces between components of different crates: well-known component ids and the
//! typed outputs each one publishes. A component reads a dependency's outputs with
//! `ctx.input::<T>(id)`; the producing crate returns `to_outputs(&T)`. Keeping these here lets
//! crates land in any order and lets users wire their own components into the stack.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::component::Placement;

/// Well-known component ids. Regional ones take the placement.
pub mod ids {
    use super::Placement;

    fn regional(base: &str, p: Placement) -> String {
        match p.role() {
            Some(r) => format!("{base}-{r}"),
            None => base.to_string(),
        }
    }

    pub fn network(p: Placement) -> String {
        regional("network", p)
    }
    pub const PEERING: &str = "peering";
    pub fn load_balancer(p: Placement) -> String {
        regional("loadbalancer", p)
    }
    pub const ACCELERATOR: &str = "accelerator";
    pub fn certificate(p: Placement) -> String {
        regional("certificate", p)
    }
    pub fn api(p: Placement) -> String {
        regional("api", p)
    }
    pub fn health(p: Placement) -> String {
        regional("health", p)
    }
    pub const DNS_FAILOVER: &str = "dns-failover";
    pub const TABLE: &str = "table";
    pub fn bucket(p: Placement) -> String {
        regional("bucket", p)
    }
    pub fn aurora(p: Placement) -> String {
        regional("aurora", p)
    }
    pub fn backup_vault(p: Placement) -> String {
        regional("backup-vault", p)
    }
    pub const BACKUP_PLAN: &str = "backup-plan";
    pub const PARAMETERS: &str = "parameters";
    pub const PARAMETER_REPLICATION: &str = "parameter-replication";
    pub const LAMBDA_ROLES: &str = "lambda-roles";
    pub fn functions(p: Placement) -> String {
        regional("functions", p)
    }
    pub fn event_bus(p: Placement) -> String {
        regional("events", p)
    }
    pub const EVENT_ENDPOINT: &str = "event-endpoint";
    pub fn alerts(p: Placement) -> String {
        regional("alerts", p)
    }
    pub fn alarms(p: Placement) -> String {
        regional("alarms", p)
    }
    pub const DASHBOARD: &str = "dashboard";
    /// The failover controller's functions and schedule (secondary region, see `DR.md`).
    pub const CONTROLLER: &str = "failover-controller";
    /// The controller's alarms: decision, blind, failed-over (secondary region).
    pub const FAILOVER_ALARMS: &str = "failover-alarms";
}

/// The failover controller's CloudWatch metrics (namespace, names, dimension), shared by the
/// controller component, the CLI's manual lever and the drill. The Lambda handlers carry
/// the same strings (a test in `lambda/` compares them with these).
pub mod failover_metrics {
    /// Namespace of every controller metric.
    pub const NAMESPACE: &str = "Tandem/Failover";
    /// The one dimension: `Stack = <environment suffix>`.
    pub const DIMENSION: &str = "Stack";
    /// The probe's raw signal (a): 1 when the primary's API and NLB answer, else 0.
    pub const PRIMARY_HEALTHY: &str = "PrimaryHealthy";
    /// The decision input: 1 when the probe fails AND Aurora's replication from the primary
    /// is stalled (signal b), or when an operator forced the decision; else 0. The decision
    /// alarm fires when it is 1 for `[failover] probe_failures` consecutive minutes. One
    /// metric, because Route 53's CLOUDWATCH_METRIC checks accept single-metric alarms only.
    pub const PRIMARY_DOWN: &str = "PrimaryDown";
    /// 1 when the controller (or `tandem failover`) moved the Aurora writer.
    pub const FAILED_OVER: &str = "FailedOver";
}

/// SSM parameters (secondary region) the controller reads.
pub mod failover_flags {
    /// `true`: the failover handler holds (drills).
    pub fn suppressed(suffix: &str) -> String {
        format!("/tandem/{suffix}/failover/suppressed")
    }
    /// `true`: the probe reports the primary down whatever it finds (set by
    /// `tandem failover`, cleared by `tandem switchover --to primary`).
    pub fn forced(suffix: &str) -> String {
        format!("/tandem/{suffix}/failover/forced")
    }
}

/// The API key: who generates it (`parameters`), who enforces it (API Gateway's usage plan
/// in `api-{role}`, the API Lambda on every path) and the header clients send it in.
pub mod api_key {
    /// The header a client sends the key in (API Gateway's and the Lambda's).
    pub const HEADER: &str = "x-api-key";
    /// Leaf of the SecureString holding the key (secret: never readable by the API role).
    pub const LEAF: &str = "api-key";
    /// Leaf of the String holding the lowercase hex SHA-256 of the key (not secret): the
    /// only parameter the API Lambda reads.
    pub const SHA256_LEAF: &str = "api-key-sha256";
    /// `/tandem/<suffix>/api-key`.
    pub fn parameter(suffix: &str) -> String {
        format!("{}{LEAF}", crate::naming::parameter_path(suffix))
    }
    /// `/tandem/<suffix>/api-key-sha256`.
    pub fn sha256_parameter(suffix: &str) -> String {
        format!("{}{SHA256_LEAF}", crate::naming::parameter_path(suffix))
    }
}

/// `failover-controller` (secondary region): the probe and failover functions and the
/// probe's one-minute schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControllerOutputs {
    /// The region every controller resource lives in (the secondary).
    pub region: String,
    pub probe_function_name: String,
    pub probe_function_arn: String,
    pub failover_function_name: String,
    pub failover_function_arn: String,
    pub schedule_rule_name: String,
    /// `[failover] automatic`.
    pub automatic: bool,
}

/// `failover-alarms` (secondary region): the controller's alarms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionOutputs {
    /// The region the alarms live in (the secondary).
    pub region: String,
    /// The "primary down" decision alarm (single metric: `Tandem/Failover PrimaryDown`):
    /// its actions are the failover function and the secondary's alert topic; Route 53's
    /// CLOUDWATCH_METRIC check of the PRIMARY record watches it.
    pub decision_alarm_name: String,
    /// Fires when the probe stops reporting.
    pub blind_alarm_name: String,
    /// Fires when the writer moved.
    pub failed_over_alarm_name: String,
}

/// Names of the controller's alarms (deterministic, so the failover function's invoke
/// permission and the roles can name the decision alarm before it exists).
pub mod failover_alarms {
    use crate::component::Placement;
    use crate::naming;

    /// `alarm-primary-down-secondary-{s}`.
    pub fn decision(suffix: &str) -> String {
        naming::name("alarm-primary-down", Placement::Secondary, suffix)
    }
    /// `alarm-controller-blind-secondary-{s}`.
    pub fn blind(suffix: &str) -> String {
        naming::name("alarm-controller-blind", Placement::Secondary, suffix)
    }
    /// `alarm-failed-over-secondary-{s}`.
    pub fn failed_over(suffix: &str) -> String {
        naming::name("alarm-failed-over", Placement::Secondary, suffix)
    }
    /// The ARN of alarm `name` in `region` of `account`.
    pub fn arn(region: &str, account: &str, name: &str) -> String {
        format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
    }
}

/// `network-{role}`: VPC, subnets, routing, security groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkOutputs {
    pub vpc_id: String,
    pub cidr: String,
    pub azs: Vec<String>,
    pub public_subnet_ids: Vec<String>,
    pub private_subnet_ids: Vec<String>,
    pub internet_gateway_id: String,
    pub public_route_table_id: String,
    pub private_route_table_ids: Vec<String>,
    /// Open only to both VPC CIDRs on the database port.
    pub db_security_group_id: String,
    /// Load balancer side (ALB behind the NLB).
    pub lb_security_group_id: String,
}

/// `peering`: the cross-region VPC peering connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeeringOutputs {
    pub peering_connection_id: String,
}

/// `loadbalancer-{role}`: NLB (TCP 443) fronting an ALB whose target is the API Lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerOutputs {
    pub nlb_arn: String,
    pub nlb_dns_name: String,
    pub nlb_zone_id: String,
    pub nlb_target_group_arn: String,
    pub alb_arn: String,
    pub alb_dns_name: String,
    pub alb_target_group_arn: String,
}

/// `accelerator`: Global Accelerator with endpoint groups in both regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceleratorOutputs {
    pub accelerator_arn: String,
    pub dns_name: String,
    pub static_ips: Vec<String>,
    pub listener_arn: String,
    /// Region -> endpoint group ARN.
    pub endpoint_group_arns: BTreeMap<String, String>,
}

/// `certificate-{role}`: the ACM certificate of a region's custom domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateOutputs {
    pub certificate_arn: String,
    pub domain_name: String,
    /// ACM status (`ISSUED`, `PENDING_VALIDATION`, ...), or `CONFIGURED` for a given ARN.
    pub status: String,
    /// Validation CNAMEs (name, value) to create when no hosted zone is configured.
    pub validation_records: Vec<(String, String)>,
}

/// `api-{role}`: regional REST API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiOutputs {
    pub rest_api_id: String,
    pub stage_name: String,
    pub invoke_url: String,
    /// `<id>.execute-api.<region>.amazonaws.com`
    pub execute_api_host: String,
    /// `/<stage>/health`
    pub health_path: String,
    pub custom_domain: Option<String>,
    pub regional_domain_name: Option<String>,
    pub regional_hosted_zone_id: Option<String>,
    pub certificate_arn: Option<String>,
    /// The custom domain named `dns.record_name` in this region (API Gateway routes by Host
    /// header, so the failover records must alias a domain of that very name).
    #[serde(default)]
    pub failover_domain: Option<String>,
    #[serde(default)]
    pub failover_regional_domain_name: Option<String>,
    #[serde(default)]
    pub failover_regional_hosted_zone_id: Option<String>,
}

/// `health-{role}`: Route 53 health checks of a region (API and NLB; for the primary also
/// the "primary down" decision and the CALCULATED check of both, see `DR.md` "One decision").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthOutputs {
    pub api_check_id: String,
    pub api_check_arn: String,
    pub nlb_check_id: String,
    pub nlb_check_arn: String,
    /// Primary only: the CLOUDWATCH_METRIC check on the decision alarm
    /// ([`DecisionOutputs::decision_alarm_name`], in the secondary region). `None` for the
    /// secondary, and in state written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_check_id: Option<String>,
    /// Primary only: the CALCULATED check "API check AND not decided down" (children: the
    /// API and decision checks, HealthThreshold 2) behind the PRIMARY failover record and
    /// the EventBridge global endpoint. `None` for the secondary / older state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_check_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_check_arn: Option<String>,
}

impl HealthOutputs {
    /// The check that routes DNS and events for this region: the CALCULATED check when
    /// there is one (primary), else the API check (secondary, or state of older releases).
    pub fn routing_check_id(&self) -> &str {
        self.failover_check_id.as_deref().filter(|s| !s.is_empty()).unwrap_or(&self.api_check_id)
    }

    /// The ARN of [`HealthOutputs::routing_check_id`].
    pub fn routing_check_arn(&self) -> &str {
        self.failover_check_arn.as_deref().filter(|s| !s.is_empty()).unwrap_or(&self.api_check_arn)
    }
}

/// `dns-failover`: PRIMARY/SECONDARY records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverOutputs {
    pub hosted_zone_id: String,
    pub record_name: String,
}

/// `table`: DynamoDB global table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableOutputs {
    pub table_name: String,
    pub table_arn: String,
    pub stream_arn: String,
    pub replica_regions: Vec<String>,
}

/// `bucket-{role}`: S3 bucket (primary carries the replication role).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketOutputs {
    pub bucket_name: String,
    pub bucket_arn: String,
    pub replication_role_arn: Option<String>,
    pub replication_rule_id: Option<String>,
}

/// `aurora-{role}`: Aurora cluster of the global database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuroraOutputs {
    pub global_cluster_id: String,
    pub cluster_id: String,
    pub cluster_arn: String,
    /// This cluster's own (cluster) endpoint: it accepts writes only while this cluster is
    /// the global database's writer.
    pub writer_endpoint: String,
    pub reader_endpoint: String,
    pub instance_id: String,
    pub port: u16,
    /// SSM SecureString parameter holding the master password (primary only).
    pub password_parameter: Option<String>,
    /// The global database's writer endpoint (`DescribeGlobalClusters` → `Endpoint`,
    /// `<global id>.global-<id>.global.rds.amazonaws.com`): it always resolves to the current
    /// writer, whichever region holds it, so nothing needs rewriting after a failover. The
    /// same value in both components' outputs. Empty only in outputs recorded before the
    /// field existed.
    #[serde(default)]
    pub global_writer_endpoint: String,
}

/// `backup-vault-{role}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupVaultOutputs {
    pub vault_name: String,
    pub vault_arn: String,
}

/// `backup-plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupPlanOutputs {
    pub plan_id: String,
    pub plan_arn: String,
    pub selection_id: String,
    pub role_arn: String,
}

/// `parameters`: SSM parameters under `/tandem/<suffix>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParametersOutputs {
    pub path: String,
    pub names: Vec<String>,
    /// Name (never the value) of the API key SecureString.
    pub api_key_parameter: String,
    /// Name of the String parameter holding the key's SHA-256 (hex); empty in outputs
    /// recorded before it existed.
    #[serde(default)]
    pub api_key_sha256_parameter: String,
}

/// `parameter-replication`: the EventBridge rule feeding the replicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterReplicationOutputs {
    pub rule_name: String,
    pub rule_arn: String,
}

/// `lambda-roles`: IAM execution roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaRolesOutputs {
    pub api_role_arn: String,
    pub processor_role_arn: String,
    pub replicator_role_arn: String,
    /// The failover controller's roles (empty in state written by earlier releases).
    #[serde(default)]
    pub probe_role_arn: String,
    #[serde(default)]
    pub failover_role_arn: String,
}

/// `functions-{role}`: the region's Lambda functions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionsOutputs {
    pub api_function_name: String,
    pub api_function_arn: String,
    pub processor_function_name: String,
    pub processor_function_arn: String,
    pub replicator_function_name: String,
    pub replicator_function_arn: String,
    pub code_sha256: String,
}

/// `events-{role}`: custom event bus and its rule to the event processor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBusOutputs {
    pub bus_name: String,
    pub bus_arn: String,
    pub rule_arn: String,
}

/// `event-endpoint`: EventBridge global endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEndpointOutputs {
    pub endpoint_name: String,
    pub endpoint_arn: String,
    pub endpoint_url: String,
}

/// `alerts-{role}`: SNS topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsOutputs {
    pub topic_arn: String,
    pub topic_name: String,
}

/// `alarms-{role}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmsOutputs {
    pub alarm_names: Vec<String>,
}

/// `dashboard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardOutputs {
    pub dashboard_name: String,
    pub dashboard_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_outputs_of_earlier_releases_load_and_route_through_the_api_check() {
        let old = serde_json::json!({
            "api_check_id": "hc-api", "api_check_arn": "arn:aws:route53:::healthcheck/hc-api",
            "nlb_check_id": "hc-nlb", "nlb_check_arn": "arn:aws:route53:::healthcheck/hc-nlb",
        });
        let h: HealthOutputs = serde_json::from_value(old.clone()).expect("older state loads");
        assert_eq!((h.decision_check_id.as_deref(), h.failover_check_id.as_deref()), (None, None));
        assert_eq!((h.routing_check_id(), h.routing_check_arn()), ("hc-api", "arn:aws:route53:::healthcheck/hc-api"));
        // Without the new checks (secondary) the outputs are exactly what they were.
        assert_eq!(serde_json::to_value(&h).expect("serializes"), old);
    }

    #[test]
    fn health_outputs_route_through_the_calculated_check_when_present() {
        let h = HealthOutputs {
            api_check_id: "hc-api".into(),
            decision_check_id: Some("hc-decision".into()),
            failover_check_id: Some("hc-failover".into()),
            failover_check_arn: Some("arn:aws:route53:::healthcheck/hc-failover".into()),
            ..Default::default()
        };
        assert_eq!((h.routing_check_id(), h.routing_check_arn()), ("hc-failover", "arn:aws:route53:::healthcheck/hc-failover"));
    }
}
