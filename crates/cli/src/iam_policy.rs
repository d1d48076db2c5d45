//! `tandem iam-policy [--for apply|destroy|status|failover]`: the IAM policy a person or a
//! CI role needs to run Tandem on this stack (issue 14, "the operator's own permissions").
//!
//! [`OPERATIONS`] lists every AWS operation Tandem's own code calls (the `tandem` binary and
//! the crates it links; the Lambda functions' code has its own roles, `lambda-roles`), with
//! the IAM actions it needs and what it is used for. The test
//! `every_sdk_operation_the_code_calls_is_granted` reads the SDK crates' operation lists
//! (through `cargo metadata`) and every source file, and fails when the code calls an
//! operation this table does not grant, so the policy cannot fall behind the code.
//!
//! Resources: writes are scoped by the stack's names where the resource's name is known
//! before it exists (buckets, roles, functions, the table, parameters, log groups, topics,
//! event buses, alarms, dashboards, Aurora clusters); reads, and the services whose
//! resources are named by AWS (EC2, load balancers, Global Accelerator, Route 53, ACM, API
//! Gateway, KMS, Backup), get `*` (most of their actions have no resource-level permission
//! before the resource exists). `sts:GetCallerIdentity` needs no permission and is listed
//! for clarity.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// What a command does with an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Describe/Get/List/Head: every command that reads live state.
    Read,
    /// Create/Put/Update/Modify/...: `apply`.
    Write,
    /// Delete/Remove/Detach/...: `apply` (replacements, unwanted resources) and `destroy`.
    Delete,
}

/// One SDK operation: its service (the `aws-sdk-*` crate suffix), the operation (the
/// fluent method's name), the IAM actions it needs, its use, and whether `failover` /
/// `switchover` call it.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub service: &'static str,
    pub name: &'static str,
    pub actions: &'static [&'static str],
    pub used_as: Use,
    pub failover: bool,
}

const fn op(service: &'static str, name: &'static str, actions: &'static [&'static str], used_as: Use, failover: bool) -> Operation {
    Operation { service, name, actions, used_as, failover }
}

/// The commands a policy can be printed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Apply,
    Destroy,
    Status,
    Failover,
}

/// Operations a `destroy` calls although they are not deletes (turning things off before
/// deleting them, the state file and its lock).
const DESTROY_WRITES: &[(&str, &str)] = &[
    ("globalaccelerator", "update_accelerator"),
    ("globalaccelerator", "update_endpoint_group"),
    ("rds", "modify_db_cluster"),
    ("rds", "modify_global_cluster"),
    ("s3", "put_object"),
    ("cloudwatch", "disable_alarm_actions"),
    ("kms", "schedule_key_deletion"),
];

impl Operation {
    /// Whether a command run for `purpose` may call this operation.
    pub fn granted_for(&self, purpose: Purpose) -> bool {
        match purpose {
            Purpose::Apply => true,
            Purpose::Status => self.used_as == Use::Read || self.service == "sts",
            Purpose::Failover => self.failover || self.service == "sts",
            Purpose::Destroy => {
                self.used_as != Use::Write || DESTROY_WRITES.contains(&(self.service, self.name))
            }
        }
    }
}

/// The stack a policy is printed for.
pub struct Scope<'a> {
    pub suffix: &'a str,
    /// The account id, or None: the policy then says `${aws:PrincipalAccount}`.
    pub account: Option<&'a str>,
    /// The S3 state bucket, when the state is kept in S3.
    pub state_bucket: Option<&'a str>,
}

/// The resources the writes of `service` are limited to (`*` where AWS names them).
fn write_resources(service: &str, scope: &Scope) -> Vec<String> {
    let s = scope.suffix;
    let a = scope.account.unwrap_or("${aws:PrincipalAccount}");
    match service {
        "s3" => {
            let mut out = vec![format!("arn:aws:s3:::bucket-*-{s}-{a}"), format!("arn:aws:s3:::bucket-*-{s}-{a}/*")];
            if let Some(b) = scope.state_bucket {
                out.push(format!("arn:aws:s3:::{b}"));
                out.push(format!("arn:aws:s3:::{b}/*"));
            }
            out
        }
        "iam" => vec![format!("arn:aws:iam::{a}:role/*-{s}")],
        "lambda" => vec![format!("arn:aws:lambda:*:{a}:function:*-{s}")],
        "dynamodb" => vec![format!("arn:aws:dynamodb:*:{a}:table/table-{s}"), format!("arn:aws:dynamodb:*:{a}:table/table-{s}/*")],
        "ssm" => vec![format!("arn:aws:ssm:*:{a}:parameter/tandem/{s}/*")],
        "logs" => vec![format!("arn:aws:logs:*:{a}:log-group:/aws/lambda/*-{s}:*"), format!("arn:aws:logs:*:{a}:log-group:/tandem/{s}/*")],
        "sns" => vec![format!("arn:aws:sns:*:{a}:*-{s}")],
        "events" => vec![
            format!("arn:aws:events:*:{a}:event-bus/*-{s}"),
            format!("arn:aws:events:*:{a}:rule/*-{s}/*"),
            format!("arn:aws:events:*:{a}:rule/*-{s}"),
            format!("arn:aws:events:*:{a}:endpoint/*-{s}"),
        ],
        _ => vec!["*".to_string()],
    }
}

/// The policy document for `purpose`.
pub fn policy(purpose: Purpose, scope: &Scope) -> Value {
    // service -> (reads, writes)
    let mut by_service: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for o in OPERATIONS.iter().filter(|o| o.granted_for(purpose)) {
        let entry = by_service.entry(o.service).or_default();
        let set = if o.used_as == Use::Read { &mut entry.0 } else { &mut entry.1 };
        set.extend(o.actions.iter().copied());
    }
    let mut statements = Vec::new();
    for (service, (reads, writes)) in &by_service {
        let sid: String = service.split(|c: char| !c.is_ascii_alphanumeric()).map(capitalise).collect();
        if !reads.is_empty() {
            statements.push(json!({ "Sid": format!("{sid}Read"), "Effect": "Allow", "Action": reads, "Resource": "*" }));
        }
        if !writes.is_empty() {
            statements.push(json!({ "Sid": format!("{sid}Write"), "Effect": "Allow", "Action": writes, "Resource": write_resources(service, scope) }));
        }
    }
    if purpose == Purpose::Apply {
        // Handing the stack's roles to Lambda, S3, Backup and EventBridge.
        let a = scope.account.unwrap_or("${aws:PrincipalAccount}");
        statements.push(json!({
            "Sid": "PassStackRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [format!("arn:aws:iam::{a}:role/*-{}", scope.suffix)],
            "Condition": { "StringEquals": { "iam:PassedToService": ["lambda.amazonaws.com", "s3.amazonaws.com", "backup.amazonaws.com", "events.amazonaws.com"] } },
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

/// Every AWS operation Tandem's own code calls (see the module docs and the test).
pub const OPERATIONS: &[Operation] = &[
    op("acm", "delete_certificate", &["acm:DeleteCertificate"], Use::Delete, false),
    op("acm", "describe_certificate", &["acm:DescribeCertificate"], Use::Read, false),
    op("acm", "list_certificates", &["acm:ListCertificates"], Use::Read, false),
    op("acm", "list_tags_for_certificate", &["acm:ListTagsForCertificate"], Use::Read, false),
    op("acm", "request_certificate", &["acm:RequestCertificate"], Use::Write, false),
    op("apigateway", "create_api_key", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "create_usage_plan", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "create_usage_plan_key", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "delete_api_key", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "delete_method", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "delete_resource", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "delete_usage_plan", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "delete_usage_plan_key", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "get_api_key", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_api_keys", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_usage_plan", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_usage_plan_keys", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_usage_plans", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "update_usage_plan", &["apigateway:PATCH"], Use::Write, false),
    op("apigateway", "create_base_path_mapping", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "create_deployment", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "create_domain_name", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "create_resource", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "create_rest_api", &["apigateway:POST"], Use::Write, false),
    op("apigateway", "delete_base_path_mapping", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "delete_domain_name", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "delete_rest_api", &["apigateway:DELETE"], Use::Delete, false),
    op("apigateway", "get_base_path_mappings", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_domain_name", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_method", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_resources", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_rest_api", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_rest_apis", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "get_stage", &["apigateway:GET"], Use::Read, false),
    op("apigateway", "put_integration", &["apigateway:PUT"], Use::Write, false),
    op("apigateway", "put_method", &["apigateway:PUT"], Use::Write, false),
    op("apigateway", "update_domain_name", &["apigateway:PATCH"], Use::Write, false),
    op("backup", "create_backup_plan", &["backup:CreateBackupPlan"], Use::Write, false),
    op("backup", "create_backup_selection", &["backup:CreateBackupSelection"], Use::Write, false),
    op("backup", "create_backup_vault", &["backup:CreateBackupVault"], Use::Write, false),
    op("backup", "delete_backup_plan", &["backup:DeleteBackupPlan"], Use::Delete, false),
    op("backup", "delete_backup_selection", &["backup:DeleteBackupSelection"], Use::Delete, false),
    op("backup", "delete_backup_vault", &["backup:DeleteBackupVault"], Use::Delete, false),
    op("backup", "delete_recovery_point", &["backup:DeleteRecoveryPoint"], Use::Delete, false),
    op("backup", "describe_backup_vault", &["backup:DescribeBackupVault"], Use::Read, false),
    op("backup", "get_backup_plan", &["backup:GetBackupPlan"], Use::Read, false),
    op("backup", "get_backup_selection", &["backup:GetBackupSelection"], Use::Read, false),
    op("backup", "list_backup_plans", &["backup:ListBackupPlans"], Use::Read, false),
    op("backup", "list_backup_selections", &["backup:ListBackupSelections"], Use::Read, false),
    op("backup", "list_recovery_points_by_backup_vault", &["backup:ListRecoveryPointsByBackupVault"], Use::Read, false),
    op("backup", "list_tags", &["backup:ListTags"], Use::Read, false),
    op("backup", "tag_resource", &["backup:TagResource"], Use::Write, false),
    op("backup", "untag_resource", &["backup:UntagResource"], Use::Delete, false),
    op("backup", "update_backup_plan", &["backup:UpdateBackupPlan"], Use::Write, false),
    op("cloudwatch", "delete_alarms", &["cloudwatch:DeleteAlarms"], Use::Delete, false),
    op("cloudwatch", "delete_dashboards", &["cloudwatch:DeleteDashboards"], Use::Delete, false),
    op("cloudwatch", "describe_alarms", &["cloudwatch:DescribeAlarms"], Use::Read, true),
    op("cloudwatch", "disable_alarm_actions", &["cloudwatch:DisableAlarmActions"], Use::Write, false),
    op("cloudwatch", "enable_alarm_actions", &["cloudwatch:EnableAlarmActions"], Use::Write, false),
    op("cloudwatch", "get_dashboard", &["cloudwatch:GetDashboard"], Use::Read, false),
    op("cloudwatch", "get_metric_statistics", &["cloudwatch:GetMetricStatistics"], Use::Read, true),
    op("cloudwatch", "put_dashboard", &["cloudwatch:PutDashboard"], Use::Write, false),
    op("cloudwatch", "put_metric_alarm", &["cloudwatch:PutMetricAlarm"], Use::Write, false),
    op("cloudwatch", "put_metric_data", &["cloudwatch:PutMetricData"], Use::Write, true),
    op("cloudwatchlogs", "create_log_group", &["logs:CreateLogGroup"], Use::Write, false),
    op("cloudwatchlogs", "delete_log_group", &["logs:DeleteLogGroup"], Use::Delete, false),
    op("cloudwatchlogs", "delete_resource_policy", &["logs:DeleteResourcePolicy"], Use::Delete, false),
    op("cloudwatchlogs", "describe_log_groups", &["logs:DescribeLogGroups"], Use::Read, false),
    op("cloudwatchlogs", "filter_log_events", &["logs:FilterLogEvents"], Use::Read, false),
    op("cloudwatchlogs", "put_resource_policy", &["logs:PutResourcePolicy"], Use::Write, false),
    op("cloudwatchlogs", "put_retention_policy", &["logs:PutRetentionPolicy"], Use::Write, false),
    op("dynamodb", "create_table", &["dynamodb:CreateTable"], Use::Write, false),
    op("dynamodb", "delete_item", &["dynamodb:DeleteItem"], Use::Delete, false),
    op("dynamodb", "delete_resource_policy", &["dynamodb:DeleteResourcePolicy"], Use::Delete, false),
    op("dynamodb", "delete_table", &["dynamodb:DeleteTable"], Use::Delete, false),
    op("dynamodb", "describe_continuous_backups", &["dynamodb:DescribeContinuousBackups"], Use::Read, false),
    op("dynamodb", "describe_table", &["dynamodb:DescribeTable"], Use::Read, false),
    op("dynamodb", "get_item", &["dynamodb:GetItem"], Use::Read, false),
    op("dynamodb", "list_tags_of_resource", &["dynamodb:ListTagsOfResource"], Use::Read, false),
    op("dynamodb", "put_item", &["dynamodb:PutItem"], Use::Write, false),
    op("dynamodb", "put_resource_policy", &["dynamodb:PutResourcePolicy"], Use::Write, false),
    op("dynamodb", "tag_resource", &["dynamodb:TagResource"], Use::Write, false),
    op("dynamodb", "untag_resource", &["dynamodb:UntagResource"], Use::Delete, false),
    op("dynamodb", "update_continuous_backups", &["dynamodb:UpdateContinuousBackups"], Use::Write, false),
    op("dynamodb", "update_table", &["dynamodb:UpdateTable"], Use::Write, false),
    op("ec2", "accept_vpc_peering_connection", &["ec2:AcceptVpcPeeringConnection"], Use::Write, false),
    op("ec2", "associate_route_table", &["ec2:AssociateRouteTable"], Use::Write, false),
    op("ec2", "attach_internet_gateway", &["ec2:AttachInternetGateway"], Use::Write, false),
    op("ec2", "authorize_security_group_ingress", &["ec2:AuthorizeSecurityGroupIngress"], Use::Write, false),
    op("ec2", "create_internet_gateway", &["ec2:CreateInternetGateway"], Use::Write, false),
    op("ec2", "create_route", &["ec2:CreateRoute"], Use::Write, false),
    op("ec2", "create_route_table", &["ec2:CreateRouteTable"], Use::Write, false),
    op("ec2", "create_security_group", &["ec2:CreateSecurityGroup"], Use::Write, false),
    op("ec2", "create_subnet", &["ec2:CreateSubnet"], Use::Write, false),
    op("ec2", "create_vpc", &["ec2:CreateVpc"], Use::Write, false),
    op("ec2", "create_vpc_peering_connection", &["ec2:CreateVpcPeeringConnection"], Use::Write, false),
    op("ec2", "delete_internet_gateway", &["ec2:DeleteInternetGateway"], Use::Delete, false),
    op("ec2", "delete_route", &["ec2:DeleteRoute"], Use::Delete, false),
    op("ec2", "delete_route_table", &["ec2:DeleteRouteTable"], Use::Delete, false),
    op("ec2", "delete_security_group", &["ec2:DeleteSecurityGroup"], Use::Delete, false),
    op("ec2", "delete_subnet", &["ec2:DeleteSubnet"], Use::Delete, false),
    op("ec2", "delete_vpc", &["ec2:DeleteVpc"], Use::Delete, false),
    op("ec2", "delete_vpc_peering_connection", &["ec2:DeleteVpcPeeringConnection"], Use::Delete, false),
    op("ec2", "describe_availability_zones", &["ec2:DescribeAvailabilityZones"], Use::Read, false),
    op("ec2", "describe_internet_gateways", &["ec2:DescribeInternetGateways"], Use::Read, false),
    op("ec2", "describe_network_interfaces", &["ec2:DescribeNetworkInterfaces"], Use::Read, false),
    op("ec2", "describe_route_tables", &["ec2:DescribeRouteTables"], Use::Read, false),
    op("ec2", "describe_security_groups", &["ec2:DescribeSecurityGroups"], Use::Read, false),
    op("ec2", "describe_subnets", &["ec2:DescribeSubnets"], Use::Read, false),
    op("ec2", "describe_vpc_attribute", &["ec2:DescribeVpcAttribute"], Use::Read, false),
    op("ec2", "describe_vpc_peering_connections", &["ec2:DescribeVpcPeeringConnections"], Use::Read, false),
    op("ec2", "describe_vpcs", &["ec2:DescribeVpcs"], Use::Read, false),
    op("ec2", "detach_internet_gateway", &["ec2:DetachInternetGateway"], Use::Delete, false),
    op("ec2", "disassociate_route_table", &["ec2:DisassociateRouteTable"], Use::Delete, false),
    op("ec2", "modify_subnet_attribute", &["ec2:ModifySubnetAttribute"], Use::Write, false),
    op("ec2", "modify_vpc_attribute", &["ec2:ModifyVpcAttribute"], Use::Write, false),
    op("ec2", "replace_route", &["ec2:ReplaceRoute"], Use::Write, false),
    op("ec2", "revoke_security_group_ingress", &["ec2:RevokeSecurityGroupIngress"], Use::Delete, false),
    op("elasticloadbalancingv2", "create_listener", &["elasticloadbalancing:CreateListener"], Use::Write, false),
    op("elasticloadbalancingv2", "create_load_balancer", &["elasticloadbalancing:CreateLoadBalancer"], Use::Write, false),
    op("elasticloadbalancingv2", "create_target_group", &["elasticloadbalancing:CreateTargetGroup"], Use::Write, false),
    op("elasticloadbalancingv2", "delete_load_balancer", &["elasticloadbalancing:DeleteLoadBalancer"], Use::Delete, false),
    op("elasticloadbalancingv2", "delete_target_group", &["elasticloadbalancing:DeleteTargetGroup"], Use::Delete, false),
    op("elasticloadbalancingv2", "deregister_targets", &["elasticloadbalancing:DeregisterTargets"], Use::Delete, false),
    op("elasticloadbalancingv2", "describe_listeners", &["elasticloadbalancing:DescribeListeners"], Use::Read, false),
    op("elasticloadbalancingv2", "describe_load_balancers", &["elasticloadbalancing:DescribeLoadBalancers"], Use::Read, false),
    op("elasticloadbalancingv2", "describe_target_groups", &["elasticloadbalancing:DescribeTargetGroups"], Use::Read, false),
    op("elasticloadbalancingv2", "describe_target_health", &["elasticloadbalancing:DescribeTargetHealth"], Use::Read, false),
    op("elasticloadbalancingv2", "modify_listener", &["elasticloadbalancing:ModifyListener"], Use::Write, false),
    op("elasticloadbalancingv2", "register_targets", &["elasticloadbalancing:RegisterTargets"], Use::Write, false),
    op("eventbridge", "create_endpoint", &["events:CreateEndpoint"], Use::Write, false),
    op("eventbridge", "create_event_bus", &["events:CreateEventBus"], Use::Write, false),
    op("eventbridge", "delete_endpoint", &["events:DeleteEndpoint"], Use::Delete, false),
    op("eventbridge", "delete_event_bus", &["events:DeleteEventBus"], Use::Delete, false),
    op("eventbridge", "delete_rule", &["events:DeleteRule"], Use::Delete, false),
    op("eventbridge", "describe_endpoint", &["events:DescribeEndpoint"], Use::Read, false),
    op("eventbridge", "describe_event_bus", &["events:DescribeEventBus"], Use::Read, false),
    op("eventbridge", "describe_rule", &["events:DescribeRule"], Use::Read, false),
    op("eventbridge", "list_targets_by_rule", &["events:ListTargetsByRule"], Use::Read, false),
    op("eventbridge", "put_events", &["events:PutEvents"], Use::Write, false),
    op("eventbridge", "put_rule", &["events:PutRule"], Use::Write, false),
    op("eventbridge", "put_targets", &["events:PutTargets"], Use::Write, false),
    op("eventbridge", "remove_targets", &["events:RemoveTargets"], Use::Delete, false),
    op("eventbridge", "update_endpoint", &["events:UpdateEndpoint"], Use::Write, false),
    op("globalaccelerator", "create_accelerator", &["globalaccelerator:CreateAccelerator"], Use::Write, false),
    op("globalaccelerator", "create_endpoint_group", &["globalaccelerator:CreateEndpointGroup"], Use::Write, false),
    op("globalaccelerator", "create_listener", &["globalaccelerator:CreateListener"], Use::Write, false),
    op("globalaccelerator", "delete_accelerator", &["globalaccelerator:DeleteAccelerator"], Use::Delete, false),
    op("globalaccelerator", "delete_endpoint_group", &["globalaccelerator:DeleteEndpointGroup"], Use::Delete, false),
    op("globalaccelerator", "delete_listener", &["globalaccelerator:DeleteListener"], Use::Delete, false),
    op("globalaccelerator", "describe_accelerator", &["globalaccelerator:DescribeAccelerator"], Use::Read, false),
    op("globalaccelerator", "describe_endpoint_group", &["globalaccelerator:DescribeEndpointGroup"], Use::Read, false),
    op("globalaccelerator", "describe_listener", &["globalaccelerator:DescribeListener"], Use::Read, false),
    op("globalaccelerator", "list_accelerators", &["globalaccelerator:ListAccelerators"], Use::Read, false),
    op("globalaccelerator", "list_endpoint_groups", &["globalaccelerator:ListEndpointGroups"], Use::Read, false),
    op("globalaccelerator", "list_listeners", &["globalaccelerator:ListListeners"], Use::Read, false),
    op("globalaccelerator", "list_tags_for_resource", &["globalaccelerator:ListTagsForResource"], Use::Read, false),
    op("globalaccelerator", "update_accelerator", &["globalaccelerator:UpdateAccelerator"], Use::Write, false),
    op("globalaccelerator", "update_endpoint_group", &["globalaccelerator:UpdateEndpointGroup"], Use::Write, false),
    op("iam", "attach_role_policy", &["iam:AttachRolePolicy"], Use::Write, false),
    op("iam", "create_role", &["iam:CreateRole"], Use::Write, false),
    op("iam", "delete_role", &["iam:DeleteRole"], Use::Delete, false),
    op("iam", "delete_role_policy", &["iam:DeleteRolePolicy"], Use::Delete, false),
    op("iam", "detach_role_policy", &["iam:DetachRolePolicy"], Use::Delete, false),
    op("iam", "get_role", &["iam:GetRole"], Use::Read, false),
    op("iam", "get_role_policy", &["iam:GetRolePolicy"], Use::Read, false),
    op("iam", "list_attached_role_policies", &["iam:ListAttachedRolePolicies"], Use::Read, false),
    op("iam", "list_role_policies", &["iam:ListRolePolicies"], Use::Read, false),
    op("iam", "put_role_policy", &["iam:PutRolePolicy"], Use::Write, false),
    op("iam", "update_assume_role_policy", &["iam:UpdateAssumeRolePolicy"], Use::Write, false),
    op("kms", "cancel_key_deletion", &["kms:CancelKeyDeletion"], Use::Delete, false),
    op("kms", "create_alias", &["kms:CreateAlias"], Use::Write, false),
    op("kms", "create_key", &["kms:CreateKey"], Use::Write, false),
    op("kms", "delete_alias", &["kms:DeleteAlias"], Use::Delete, false),
    op("kms", "describe_key", &["kms:DescribeKey"], Use::Read, false),
    op("kms", "enable_key", &["kms:EnableKey"], Use::Write, false),
    op("kms", "enable_key_rotation", &["kms:EnableKeyRotation"], Use::Write, false),
    op("kms", "get_key_policy", &["kms:GetKeyPolicy"], Use::Read, false),
    op("kms", "get_key_rotation_status", &["kms:GetKeyRotationStatus"], Use::Read, false),
    op("kms", "list_aliases", &["kms:ListAliases"], Use::Read, false),
    op("kms", "list_keys", &["kms:ListKeys"], Use::Read, false),
    op("kms", "list_resource_tags", &["kms:ListResourceTags"], Use::Read, false),
    op("kms", "put_key_policy", &["kms:PutKeyPolicy"], Use::Write, false),
    op("kms", "schedule_key_deletion", &["kms:ScheduleKeyDeletion"], Use::Delete, false),
    op("kms", "update_alias", &["kms:UpdateAlias"], Use::Write, false),
    op("lambda", "add_permission", &["lambda:AddPermission"], Use::Write, false),
    op("lambda", "create_function", &["lambda:CreateFunction"], Use::Write, false),
    op("lambda", "delete_function", &["lambda:DeleteFunction"], Use::Delete, false),
    op("lambda", "delete_resource_policy", &["lambda:DeleteResourcePolicy"], Use::Delete, false),
    op("lambda", "get_function", &["lambda:GetFunction"], Use::Read, false),
    op("lambda", "get_function_concurrency", &["lambda:GetFunctionConcurrency"], Use::Read, false),
    op("lambda", "get_function_event_invoke_config", &["lambda:GetFunctionEventInvokeConfig"], Use::Read, false),
    op("lambda", "get_policy", &["lambda:GetPolicy"], Use::Read, false),
    op("lambda", "invoke", &["lambda:InvokeFunction"], Use::Write, false),
    op("lambda", "put_function_concurrency", &["lambda:PutFunctionConcurrency"], Use::Write, false),
    op("lambda", "put_function_event_invoke_config", &["lambda:PutFunctionEventInvokeConfig"], Use::Write, false),
    op("lambda", "put_resource_policy", &["lambda:PutResourcePolicy"], Use::Write, false),
    op("lambda", "remove_permission", &["lambda:RemovePermission"], Use::Delete, false),
    op("lambda", "update_function_code", &["lambda:UpdateFunctionCode"], Use::Write, false),
    op("lambda", "update_function_configuration", &["lambda:UpdateFunctionConfiguration"], Use::Write, false),
    op("rds", "add_tags_to_resource", &["rds:AddTagsToResource"], Use::Write, true),
    op("rds", "create_db_cluster", &["rds:CreateDBCluster"], Use::Write, false),
    op("rds", "create_db_instance", &["rds:CreateDBInstance"], Use::Write, false),
    op("rds", "create_db_subnet_group", &["rds:CreateDBSubnetGroup"], Use::Write, false),
    op("rds", "create_global_cluster", &["rds:CreateGlobalCluster"], Use::Write, false),
    op("rds", "delete_db_cluster", &["rds:DeleteDBCluster"], Use::Delete, false),
    op("rds", "delete_db_instance", &["rds:DeleteDBInstance"], Use::Delete, false),
    op("rds", "delete_db_subnet_group", &["rds:DeleteDBSubnetGroup"], Use::Delete, false),
    op("rds", "delete_global_cluster", &["rds:DeleteGlobalCluster"], Use::Delete, false),
    op("rds", "describe_db_clusters", &["rds:DescribeDBClusters"], Use::Read, true),
    op("rds", "describe_db_instances", &["rds:DescribeDBInstances"], Use::Read, false),
    op("rds", "describe_db_subnet_groups", &["rds:DescribeDBSubnetGroups"], Use::Read, false),
    op("rds", "describe_global_clusters", &["rds:DescribeGlobalClusters"], Use::Read, true),
    op("rds", "failover_global_cluster", &["rds:FailoverGlobalCluster"], Use::Write, true),
    op("rds", "modify_db_cluster", &["rds:ModifyDBCluster"], Use::Write, false),
    op("rds", "modify_global_cluster", &["rds:ModifyGlobalCluster"], Use::Write, false),
    op("rds", "remove_from_global_cluster", &["rds:RemoveFromGlobalCluster"], Use::Delete, false),
    op("rds", "remove_tags_from_resource", &["rds:RemoveTagsFromResource"], Use::Delete, false),
    op("rds", "switchover_global_cluster", &["rds:SwitchoverGlobalCluster"], Use::Write, true),
    op("route53", "change_resource_record_sets", &["route53:ChangeResourceRecordSets"], Use::Write, false),
    op("route53", "change_tags_for_resource", &["route53:ChangeTagsForResource"], Use::Write, false),
    op("route53", "create_health_check", &["route53:CreateHealthCheck"], Use::Write, false),
    op("route53", "delete_health_check", &["route53:DeleteHealthCheck"], Use::Delete, false),
    op("route53", "get_change", &["route53:GetChange"], Use::Read, false),
    op("route53", "get_health_check", &["route53:GetHealthCheck"], Use::Read, false),
    op("route53", "get_health_check_status", &["route53:GetHealthCheckStatus"], Use::Read, false),
    op("route53", "get_hosted_zone", &["route53:GetHostedZone"], Use::Read, false),
    op("route53", "list_health_checks", &["route53:ListHealthChecks"], Use::Read, false),
    op("route53", "list_resource_record_sets", &["route53:ListResourceRecordSets"], Use::Read, false),
    op("route53", "list_tags_for_resource", &["route53:ListTagsForResource"], Use::Read, false),
    op("route53", "update_health_check", &["route53:UpdateHealthCheck"], Use::Write, false),
    op("s3", "create_bucket", &["s3:CreateBucket"], Use::Write, false),
    op("s3", "delete_bucket", &["s3:DeleteBucket"], Use::Delete, false),
    op("s3", "delete_bucket_policy", &["s3:DeleteBucketPolicy"], Use::Delete, false),
    op("s3", "delete_bucket_replication", &["s3:PutReplicationConfiguration"], Use::Delete, false),
    op("s3", "delete_object", &["s3:DeleteObject", "s3:DeleteObjectVersion"], Use::Delete, true),
    op("s3", "delete_objects", &["s3:DeleteObject", "s3:DeleteObjectVersion"], Use::Delete, false),
    op("s3", "get_bucket_encryption", &["s3:GetEncryptionConfiguration"], Use::Read, false),
    op("s3", "get_bucket_policy", &["s3:GetBucketPolicy"], Use::Read, false),
    op("s3", "get_bucket_replication", &["s3:GetReplicationConfiguration"], Use::Read, false),
    op("s3", "get_bucket_tagging", &["s3:GetBucketTagging"], Use::Read, false),
    op("s3", "get_bucket_versioning", &["s3:GetBucketVersioning"], Use::Read, false),
    op("s3", "get_object", &["s3:GetObject", "s3:GetObjectVersion"], Use::Read, true),
    op("s3", "get_public_access_block", &["s3:GetBucketPublicAccessBlock"], Use::Read, false),
    op("s3", "head_bucket", &["s3:ListBucket"], Use::Read, false),
    op("s3", "head_object", &["s3:GetObject"], Use::Read, true),
    op("s3", "list_object_versions", &["s3:ListBucketVersions"], Use::Read, false),
    op("s3", "put_bucket_encryption", &["s3:PutEncryptionConfiguration"], Use::Write, false),
    op("s3", "put_bucket_policy", &["s3:PutBucketPolicy"], Use::Write, false),
    op("s3", "put_bucket_replication", &["s3:PutReplicationConfiguration"], Use::Write, false),
    op("s3", "put_bucket_tagging", &["s3:PutBucketTagging"], Use::Write, false),
    op("s3", "put_bucket_versioning", &["s3:PutBucketVersioning"], Use::Write, false),
    op("s3", "put_object", &["s3:PutObject"], Use::Write, true),
    op("s3", "put_public_access_block", &["s3:PutBucketPublicAccessBlock"], Use::Write, false),
    op("sns", "create_topic", &["sns:CreateTopic"], Use::Write, false),
    op("sns", "delete_topic", &["sns:DeleteTopic"], Use::Delete, false),
    op("sns", "get_topic_attributes", &["sns:GetTopicAttributes"], Use::Read, false),
    op("sns", "list_subscriptions_by_topic", &["sns:ListSubscriptionsByTopic"], Use::Read, false),
    op("sns", "list_topics", &["sns:ListTopics"], Use::Read, false),
    op("sns", "set_topic_attributes", &["sns:SetTopicAttributes"], Use::Write, false),
    op("sns", "subscribe", &["sns:Subscribe"], Use::Write, false),
    op("sns", "unsubscribe", &["sns:Unsubscribe"], Use::Delete, false),
    op("ssm", "add_tags_to_resource", &["ssm:AddTagsToResource"], Use::Write, true),
    op("ssm", "delete_parameter", &["ssm:DeleteParameter"], Use::Delete, true),
    op("ssm", "delete_resource_policy", &["ssm:DeleteResourcePolicy"], Use::Delete, false),
    op("ssm", "describe_parameters", &["ssm:DescribeParameters"], Use::Read, false),
    op("ssm", "get_parameter", &["ssm:GetParameter"], Use::Read, true),
    op("ssm", "get_parameters_by_path", &["ssm:GetParametersByPath"], Use::Read, false),
    op("ssm", "put_parameter", &["ssm:PutParameter"], Use::Write, true),
    op("ssm", "put_resource_policy", &["ssm:PutResourcePolicy"], Use::Write, false),
    op("sts", "get_caller_identity", &["sts:GetCallerIdentity"], Use::Read, true),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
    }

    /// (service, operation) of every operation method of the SDK crates the workspace uses,
    /// from their sources (`src/client/<operation>.rs`), located through `cargo metadata`.
    /// The packages for this host only: `--offline` cannot download another platform's
    /// crates (anstyle-wincon, ...), which a machine that only ever built here lacks.
    fn sdk_operations() -> BTreeMap<String, BTreeSet<String>> {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let version = std::process::Command::new(rustc).arg("-vV").output().expect("rustc -vV");
        let version = String::from_utf8_lossy(&version.stdout).into_owned();
        let host = version.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc -vV names the host");
        let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", host])
            .current_dir(workspace())
            .output()
            .expect("cargo metadata");
        assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
        let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
        let mut ops = BTreeMap::new();
        for p in meta["packages"].as_array().expect("packages") {
            let name = p["name"].as_str().unwrap_or_default();
            let Some(service) = name.strip_prefix("aws-sdk-") else { continue };
            if ["sso", "ssooidc"].contains(&service) {
                continue; // the credential chain's own clients
            }
            let dir = Path::new(p["manifest_path"].as_str().unwrap_or_default()).with_file_name("src").join("client");
            let names: BTreeSet<String> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_string))
                .filter(|n| n != "customize")
                .collect();
            ops.insert(service.to_string(), names);
        }
        ops
    }

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The operations the code of `crates/*/src` calls: `.operation()` in a file that uses
    /// that SDK crate (unit-test modules left out).
    fn called() -> BTreeMap<(String, String), Vec<String>> {
        let sdk = sdk_operations();
        let mut files = Vec::new();
        for c in std::fs::read_dir(workspace().join("crates")).expect("crates").flatten() {
            let src = c.path().join("src");
            if src.is_dir() {
                sources(&src, &mut files);
            }
        }
        let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("source");
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
            for (service, names) in &sdk {
                let uses = code.contains(&format!("aws_sdk_{service}")) || (service == "s3" && code.contains("S3Client"));
                if !uses {
                    continue;
                }
                for (i, _) in code.match_indices("()") {
                    let start = code[..i].rfind(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')).map(|p| p + 1).unwrap_or(0);
                    if start == 0 || code.as_bytes()[start - 1] != b'.' {
                        continue;
                    }
                    let name = &code[start..i];
                    if names.contains(name) {
                        found.entry((service.clone(), name.to_string())).or_default().push(f.display().to_string());
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_sdk_operation_the_code_calls_is_granted() {
        let called = called();
        assert!(called.len() > 100, "the scan finds the code's calls: {}", called.len());
        let missing: Vec<String> = called
            .iter()
            .filter(|((service, name), _)| !OPERATIONS.iter().any(|o| o.service == service && o.name == name))
            .map(|((service, name), files)| format!("{service}::{name} (called in {})", files[0]))
            .collect();
        assert!(missing.is_empty(), "operations the code calls that `tandem iam-policy` does not grant (add them to OPERATIONS):\n{}", missing.join("\n"));
    }

    #[test]
    fn status_is_read_only_and_failover_is_small() {
        let scope = Scope { suffix: "dev", account: Some("123456789012"), state_bucket: None };
        let status = policy(Purpose::Status, &scope).to_string();
        for w in ["Create", "Delete", "Put", "Update", "Modify"] {
            assert!(!status.contains(&format!(":{w}")), "status grants a {w}: {status}");
        }
        let failover = policy(Purpose::Failover, &scope);
        let actions: Vec<&str> = failover["Statement"].as_array().unwrap().iter().flat_map(|s| s["Action"].as_array().unwrap()).filter_map(Value::as_str).collect();
        for a in ["rds:FailoverGlobalCluster", "rds:SwitchoverGlobalCluster", "ssm:PutParameter", "cloudwatch:PutMetricData"] {
            assert!(actions.contains(&a), "failover needs {a}: {actions:?}");
        }
        assert!(!actions.iter().any(|a| a.starts_with("ec2:") || a.contains(":Create")), "{actions:?}");
    }

    #[test]
    fn writes_are_scoped_by_the_stacks_names_and_pass_role_by_service() {
        let scope = Scope { suffix: "dev", account: Some("123456789012"), state_bucket: Some("my-state") };
        let p = policy(Purpose::Apply, &scope);
        let st = |sid: &str| p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).cloned().unwrap_or_else(|| panic!("{sid}: {p}"));
        assert_eq!(st("S3Write")["Resource"], json!(["arn:aws:s3:::bucket-*-dev-123456789012", "arn:aws:s3:::bucket-*-dev-123456789012/*", "arn:aws:s3:::my-state", "arn:aws:s3:::my-state/*"]));
        assert_eq!(st("IamWrite")["Resource"], json!(["arn:aws:iam::123456789012:role/*-dev"]));
        assert_eq!(st("PassStackRoles")["Condition"]["StringEquals"]["iam:PassedToService"].as_array().unwrap().len(), 4);
        let destroy = policy(Purpose::Destroy, &Scope { account: None, ..scope }).to_string();
        assert!(destroy.contains("${aws:PrincipalAccount}") && !destroy.contains("s3:CreateBucket"), "{destroy}");
    }
}
