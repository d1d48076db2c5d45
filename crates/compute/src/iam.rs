//! `lambda-roles`: the IAM execution roles of the Lambda functions (IAM is global; the
//! calls go to the primary region's endpoint), plus the role helpers the event endpoint's
//! replication role uses too, on the core's resource protocol: each role is ensured with
//! [`Rule::Name`] (`EntityAlreadyExists` after a lost answer: looked up by name and path,
//! adopted), its inline policy put through [`Ctx::update`] only when it differs.
//!
//! Five roles, `lambda-api-{s}`, `lambda-processor-{s}`, `lambda-replicator-{s}` and the
//! failover controller's `lambda-probe-{s}`, `lambda-failover-{s}`, trust
//! `lambda.amazonaws.com` for this account only (`aws:SourceAccount`) and carry one inline
//! policy each and nothing else (an adopted role's other trust, inline and attached
//! policies are replaced or removed: `tandem_core::iam::reconcile_role`), scoped to this
//! stack:
//! - all: `logs:CreateLogStream`/`logs:PutLogEvents` on their own functions' log groups in
//!   both regions;
//! - api: DynamoDB item reads/writes on `table/table-{s}` (any region: it is a global
//!   table), `ssm:GetParameter` on exactly `/tandem/{s}/api-key-sha256` (a plain String: the
//!   API key's hash, for the key check and the `/health` parameters check) in both regions,
//!   no other parameter (never `api-key` or `db/master-password`) and no `kms:Decrypt`, and
//!   `rds:DescribeDBClusters` on the two Aurora clusters (the `/health` writer check);
//! - processor: `dynamodb:PutItem` on the table;
//! - replicator: SSM get/put/delete/tag under `/tandem/{s}/` in both regions, and
//!   `kms:Decrypt`/`kms:Encrypt` only via SSM in those regions (the `aws/ssm` keys);
//! - probe (secondary region): `cloudwatch:PutMetricData` in namespace `Tandem/Failover`
//!   only, `cloudwatch:GetMetricStatistics` (no resource-level permission exists),
//!   `cloudwatch:DescribeAlarms` on the decision alarm, `rds:DescribeGlobalClusters` on this
//!   global cluster, `lambda:InvokeFunction` on the failover function, `ssm:GetParameter` on
//!   the forced-decision flag;
//! - failover (secondary region): the same CloudWatch reads and puts,
//!   `rds:DescribeGlobalClusters`/`rds:FailoverGlobalCluster` on this global cluster and its
//!   two clusters, `rds:DescribeDBClusterSnapshots`/`rds:CopyDBClusterSnapshot`/
//!   `rds:AddTagsToResource` on the old primary's `rds:unplanned-global-failover-*` and
//!   `tandem-{s}-lost-writes-*` snapshots, `ssm:GetParameter` on the drill suppression flag,
//!   `sns:Publish` on the secondary alert topic and its KMS key via SNS only.
//!
//! The account id comes from the role ARN IAM returns (no STS call needed).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;
use tandem_core::aws::retry;
use tandem_core::contracts::{ids, LambdaRolesOutputs};
use tandem_core::iam::same_json;
use tandem_core::{naming, to_outputs, AwsResultExt, Component, ComponentError, Ctx, Desired, Drift, Key, Outputs, Placement, Rule};

/// The three function kinds deployed in both regions.
pub const FUNCTION_KINDS: [&str; 3] = ["api", "processor", "replicator"];

/// The failover controller's function kinds (secondary region only, see `controller.rs`).
pub const CONTROLLER_KINDS: [&str; 2] = ["probe", "failover"];

/// Every role kind: one role per function kind.
pub const ROLE_KINDS: [&str; 5] = ["api", "processor", "replicator", "probe", "failover"];

/// Actions that take no resource-level permission: their statements name resource `*`
/// (always with a condition where AWS offers one, e.g. `cloudwatch:namespace`).
pub const NO_RESOURCE_LEVEL: [&str; 2] = ["cloudwatch:PutMetricData", "cloudwatch:GetMetricStatistics"];

/// Inline policy name on every role of this crate.
pub const POLICY_NAME: &str = "tandem";

pub use tandem_core::iam::{trust_policy, IamApi};

/// The account id in an ARN (`arn:aws:iam::123456789012:role/x` → `123456789012`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Role name of a function kind: `lambda-{kind}-{s}`.
pub fn role_name(kind: &str, suffix: &str) -> String {
    naming::name(&format!("lambda-{kind}"), Placement::Global, suffix)
}

/// Function name of a kind in a region: `{kind}-{role}-{s}`.
pub fn function_name(kind: &str, placement: Placement, suffix: &str) -> String {
    naming::name(kind, placement, suffix)
}

/// The inline policy of role `kind`.
pub fn lambda_policy(kind: &str, suffix: &str, primary: &str, secondary: &str, account: &str) -> String {
    let regions = [(primary, Placement::Primary), (secondary, Placement::Secondary)];
    let controller = CONTROLLER_KINDS.contains(&kind);
    let log_groups: Vec<String> = regions
        .iter()
        .filter(|(_, p)| !controller || *p == Placement::Secondary)
        .map(|(r, p)| format!("arn:aws:logs:{r}:{account}:log-group:/aws/lambda/{}:*", function_name(kind, *p, suffix)))
        .collect();
    let cluster = |p: Placement| format!("arn:aws:rds:{}:{account}:cluster:{}", if p == Placement::Secondary { secondary } else { primary }, naming::name("aurora", p, suffix));
    let global_cluster = format!("arn:aws:rds::{account}:global-cluster:{}", naming::name("aurora-global", Placement::Global, suffix));
    let decision_alarm = tandem_core::contracts::failover_alarms::arn(secondary, account, &tandem_core::contracts::failover_alarms::decision(suffix));
    let metrics_put = json!({
        "Sid": "PutControllerMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:PutMetricData"],
        "Resource": ["*"],
        "Condition": { "StringEquals": { "cloudwatch:namespace": tandem_core::contracts::failover_metrics::NAMESPACE } },
    });
    let metrics_read = json!({
        "Sid": "ReadReplicationMetrics",
        "Effect": "Allow",
        "Action": ["cloudwatch:GetMetricStatistics"],
        "Resource": ["*"],
    });
    let alarm_read = json!({
        "Sid": "ReadDecisionAlarm",
        "Effect": "Allow",
        "Action": ["cloudwatch:DescribeAlarms"],
        "Resource": [decision_alarm],
    });
    let flag = |name: String| format!("arn:aws:ssm:{secondary}:{account}:parameter{name}");
    let table = format!("arn:aws:dynamodb:*:{account}:table/{}", naming::name("table", Placement::Global, suffix));
    let path = naming::parameter_path(suffix);
    let path = path.trim_end_matches('/');
    let mut statements = vec![json!({
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": log_groups,
    })];
    match kind {
        "api" => {
            statements.push(json!({
                "Sid": "Table",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:DescribeTable"],
                "Resource": [table],
            }));
            // The one parameter the API code reads: the key's hash (a String, no KMS).
            let hash = tandem_core::contracts::api_key::sha256_parameter(suffix);
            statements.push(json!({
                "Sid": "ApiKeyHash",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": [
                    format!("arn:aws:ssm:{primary}:{account}:parameter{hash}"),
                    format!("arn:aws:ssm:{secondary}:{account}:parameter{hash}"),
                ],
            }));
            // The /health `database_writer` check of each region's own cluster.
            statements.push(json!({
                "Sid": "DatabaseWriterCheck",
                "Effect": "Allow",
                "Action": ["rds:DescribeDBClusters"],
                "Resource": [cluster(Placement::Primary), cluster(Placement::Secondary)],
            }));
        }
        "processor" => {
            statements.push(json!({
                "Sid": "Table",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem"],
                "Resource": [table],
            }));
        }
        "probe" => {
            statements.push(metrics_put);
            statements.push(metrics_read);
            statements.push(alarm_read);
            statements.push(json!({
                "Sid": "ReadGlobalCluster",
                "Effect": "Allow",
                "Action": ["rds:DescribeGlobalClusters"],
                "Resource": [global_cluster],
            }));
            statements.push(json!({
                "Sid": "InvokeFailoverHandler",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [format!("arn:aws:lambda:{secondary}:{account}:function:{}", function_name("failover", Placement::Secondary, suffix))],
            }));
            statements.push(json!({
                "Sid": "ReadForcedFlag",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": [flag(tandem_core::contracts::failover_flags::forced(suffix))],
            }));
        }
        "failover" => {
            statements.push(metrics_put);
            statements.push(metrics_read);
            statements.push(alarm_read);
            statements.push(json!({
                "Sid": "FailOverThisGlobalCluster",
                "Effect": "Allow",
                "Action": ["rds:DescribeGlobalClusters", "rds:FailoverGlobalCluster"],
                "Resource": [global_cluster, cluster(Placement::Primary), cluster(Placement::Secondary)],
            }));
            let snapshots = |pattern: &str| format!("arn:aws:rds:{primary}:{account}:cluster-snapshot:{pattern}");
            statements.push(json!({
                "Sid": "FindLostWritesSnapshot",
                "Effect": "Allow",
                "Action": ["rds:DescribeDBClusterSnapshots"],
                "Resource": [cluster(Placement::Primary), snapshots("*")],
            }));
            statements.push(json!({
                "Sid": "CopyLostWritesSnapshot",
                "Effect": "Allow",
                "Action": ["rds:CopyDBClusterSnapshot", "rds:AddTagsToResource"],
                "Resource": [snapshots("rds:unplanned-global-failover-*"), snapshots(&format!("tandem-{suffix}-lost-writes-*"))],
            }));
            statements.push(json!({
                "Sid": "ReadSuppressionFlag",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": [flag(tandem_core::contracts::failover_flags::suppressed(suffix))],
            }));
            statements.push(json!({
                "Sid": "Alert",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": [format!("arn:aws:sns:{secondary}:{account}:{}", naming::name("alerts", Placement::Secondary, suffix))],
            }));
            // The alert topic is encrypted with a customer-managed key: publishing needs it,
            // only through SNS in the secondary region.
            statements.push(json!({
                "Sid": "AlertTopicKeyViaSns",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": [format!("arn:aws:kms:{secondary}:{account}:key/*")],
                "Condition": { "StringEquals": { "kms:ViaService": [format!("sns.{secondary}.amazonaws.com")] } },
            }));
        }
        _ => {
            statements.push(json!({
                "Sid": "Parameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"],
                "Resource": [
                    format!("arn:aws:ssm:{primary}:{account}:parameter{path}/*"),
                    format!("arn:aws:ssm:{secondary}:{account}:parameter{path}/*"),
                ],
            }));
            statements.push(kms_via_ssm(&["kms:Decrypt", "kms:Encrypt"], primary, secondary, account));
        }
    }
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

/// KMS use restricted to calls SSM makes on the caller's behalf in the two regions (the
/// `aws/ssm` managed keys of SecureString parameters).
fn kms_via_ssm(actions: &[&str], primary: &str, secondary: &str, account: &str) -> serde_json::Value {
    json!({
        "Sid": "SecureStringViaSsm",
        "Effect": "Allow",
        "Action": actions,
        "Resource": [
            format!("arn:aws:kms:{primary}:{account}:key/*"),
            format!("arn:aws:kms:{secondary}:{account}:key/*"),
        ],
        "Condition": {
            "StringEquals": {
                "kms:ViaService": [format!("ssm.{primary}.amazonaws.com"), format!("ssm.{secondary}.amazonaws.com")]
            }
        }
    })
}

/// The SecureString parameters of stack `suffix` that only the replicator may read: the API
/// key and the database master password.
pub fn secret_parameters(suffix: &str) -> [String; 2] {
    [tandem_core::contracts::api_key::parameter(suffix), format!("{}db/master-password", naming::parameter_path(suffix))]
}

/// What in a policy document could read a secret of stack `suffix`: `kms:Decrypt` (or a
/// `kms:*`), any SSM read whose resource is a secret parameter or a wildcard covering one,
/// and `ssm:GetParametersByPath` on a path above them. Empty for the api role's policy.
pub fn secret_access_violations(document: &str, suffix: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(document) else {
        return vec!["not JSON".into()];
    };
    let list = |v: Option<&serde_json::Value>| -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => Vec::new(),
    };
    let secrets = secret_parameters(suffix);
    let mut problems = Vec::new();
    for st in statements.iter().filter(|st| st.get("Effect").and_then(|e| e.as_str()) != Some("Deny")) {
        let sid = st.get("Sid").and_then(|v| v.as_str()).unwrap_or("?");
        let actions = list(st.get("Action"));
        let lower: Vec<String> = actions.iter().map(|a| a.to_ascii_lowercase()).collect();
        if lower.iter().any(|a| a == "*" || a == "kms:*" || a == "kms:decrypt") {
            problems.push(format!("{sid}: allows kms:Decrypt"));
        }
        let reads_ssm = lower.iter().any(|a| a == "*" || a == "ssm:*" || a.starts_with("ssm:get"));
        if !reads_ssm {
            continue;
        }
        for r in list(st.get("Resource")) {
            // The parameter name part of `arn:aws:ssm:<region>:<account>:parameter/<name>`.
            let name = match r.split_once(":parameter") {
                Some((_, n)) => n.to_string(),
                None if r == "*" => "*".to_string(),
                None => continue,
            };
            let covers = |secret: &str| match name.strip_suffix('*') {
                Some(prefix) => secret.starts_with(prefix),
                None => name == secret,
            };
            for secret in &secrets {
                if covers(secret) {
                    problems.push(format!("{sid}: {r} covers secret parameter {secret}"));
                }
            }
            let by_path = lower.iter().any(|a| a == "*" || a == "ssm:*" || a == "ssm:getparametersbypath");
            if by_path && secrets.iter().any(|secret| secret.starts_with(&format!("{}/", name.trim_end_matches(['/', '*'])))) {
                problems.push(format!("{sid}: GetParametersByPath on {r} reads the secrets beneath it"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// Problems of a policy document against the least-privilege rules: no `*` action (or
/// `service:*`), no `*` resource, and a KMS wildcard key only under a `kms:ViaService`
/// condition.
pub fn least_privilege_violations(document: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(document) else {
        return vec!["not JSON".into()];
    };
    let as_list = |v: Option<&serde_json::Value>| -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => Vec::new(),
    };
    for s in statements {
        let sid = s.get("Sid").and_then(|v| v.as_str()).unwrap_or("?").to_string();
        let actions = as_list(s.get("Action"));
        if s.get("NotAction").is_some() || s.get("NotResource").is_some() {
            problems.push(format!("{sid}: NotAction/NotResource"));
        }
        for a in &actions {
            if a == "*" || a.ends_with(":*") {
                problems.push(format!("{sid}: wildcard action {a}"));
            }
        }
        for r in as_list(s.get("Resource")) {
            if r == "*" && !actions.iter().all(|a| NO_RESOURCE_LEVEL.contains(&a.as_str())) {
                problems.push(format!("{sid}: resource *"));
            }
            let fields: Vec<&str> = r.split(':').collect();
            // Account field wildcard.
            // (S3 ARNs have no account field.)
            if fields.len() > 4 && fields[2] != "s3" && (fields[4] == "*" || fields[4].is_empty()) {
                problems.push(format!("{sid}: resource {r} has no account"));
            }
            if r.ends_with(":key/*") && s.pointer("/Condition/StringEquals/kms:ViaService").is_none() {
                problems.push(format!("{sid}: KMS key wildcard without kms:ViaService"));
            }
        }
    }
    problems
}

/// True when `arn` is the ARN of the role `name` as this stack creates it: the default path
/// `/` (`...:role/<name>`). The name carries the stack's suffix; a role of that name under
/// another path is someone else's. (The client trait reads no role tags.)
pub fn is_stack_role(arn: &str, name: &str) -> bool {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.rsplit_once(":role/"))
        .is_some_and(|(_, path_and_name)| path_and_name == name)
}

/// Ensures role `name` exists, journaled under `key` through [`Ctx::ensure`] with
/// [`Rule::Name`]: looked up by name (and path), created otherwise; an
/// `EntityAlreadyExists` after a lost answer is looked up and adopted. Returns its ARN.
pub async fn ensure_role(
    ctx: &Ctx,
    iam: &dyn IamApi,
    key: &Key,
    name: &str,
    trust: &str,
    tags: Vec<(String, String)>,
) -> Result<String, ComponentError> {
    let tags = &tags;
    ctx.ensure::<String>(key, name, Rule::Name)
        .find_one(move |_recorded| async move { Ok(iam.get_role(name).await?.filter(|arn| is_stack_role(arn, name))) })
        .create(move |_token| async move { iam.create_role(name, trust, tags.clone()).await })
        .id(|arn| arn.clone())
        .run()
        .await
}

/// Deletes role `name` journaled under `key` through [`Ctx::delete`]
/// ([`tandem_core::iam::delete_role`]: inline policies, attached policies, then the role);
/// a missing role counts as deleted. The role is deleted by name, so one whose create answer
/// was lost (no recorded ARN) goes too. Errors name role and region.
pub async fn delete_role(ctx: &Ctx, iam: &dyn IamApi, key: &Key, name: &str) -> Result<(), ComponentError> {
    ctx.delete(
        key,
        name,
        |recorded| async move { Ok(vec![recorded.unwrap_or_else(|| name.to_string())]) },
        |_id| tandem_core::iam::delete_role(iam, name),
    )
    .await?;
    Ok(())
}

/// Forgets a journal key the resource protocol no longer uses (an inline policy journaled
/// apart from its role by an older version), if the journal has it.
pub async fn forget_legacy(ctx: &Ctx, key: &Key) -> Result<(), ComponentError> {
    if ctx.entry(key).await.is_some() {
        ctx.forget(key).await?;
    }
    Ok(())
}

/// The `lambda-roles` component.
pub struct LambdaRoles {
    suffix: String,
    primary_region: String,
    secondary_region: String,
    /// The account the CLI settled (None: not known yet; the roles' ARNs then say it).
    account: Option<String>,
    iam: Arc<dyn IamApi>,
}

/// The Lambda trust: `lambda.amazonaws.com`, for this account only (confused deputy).
pub fn lambda_trust(account: Option<&str>) -> String {
    tandem_core::iam::scoped_trust_policy("lambda.amazonaws.com", account, None)
}

impl LambdaRoles {
    pub fn new(cfg: &tandem_core::Config, iam: Arc<dyn IamApi>) -> Self {
        Self {
            suffix: cfg.environment_suffix.clone(),
            primary_region: cfg.primary_region.clone(),
            secondary_region: cfg.secondary_region.clone(),
            account: cfg.account_id.as_ref().map(|a| a.as_str().to_string()),
            iam,
        }
    }

    fn policy(&self, kind: &str, account: &str) -> String {
        lambda_policy(kind, &self.suffix, &self.primary_region, &self.secondary_region, account)
    }
}

/// Journal key of the role of function kind `kind` (its inline policy is an update of it).
fn role_key(kind: &str) -> Key {
    Key::owned(format!("role-{kind}"))
}

/// Journal key the inline policies had before the resource protocol (forgotten by destroy).
fn legacy_policy_key(kind: &str) -> Key {
    Key::owned(format!("policy-{kind}"))
}

#[async_trait]
impl Component for LambdaRoles {
    fn id(&self) -> &str {
        ids::LAMBDA_ROLES
    }
    fn kind(&self) -> &'static str {
        "iam-role"
    }
    fn placement(&self) -> Placement {
        Placement::Global
    }
    fn region(&self) -> &str {
        &self.primary_region
    }
    fn dependencies(&self) -> Vec<String> {
        Vec::new()
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::LambdaRolesOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Synchronous IAM calls (the roles' propagation is waited for by their users).
        Duration::from_secs(15)
    }
    fn desired(&self) -> Desired {
        let names: Vec<String> = ROLE_KINDS.iter().map(|k| role_name(k, &self.suffix)).collect();
        let policies: serde_json::Map<String, serde_json::Value> = ROLE_KINDS
            .iter()
            .map(|k| (k.to_string(), serde_json::Value::String(self.policy(k, "<account>"))))
            .collect();
        Desired::new(
            json!({ "roles": names, "trust": "lambda.amazonaws.com" }),
            json!({ "policies": policies }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = ids::LAMBDA_ROLES, region = %self.primary_region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let trust = lambda_trust(self.account.as_deref());
        let mut arns = Vec::new();
        for kind in ROLE_KINDS {
            ctx.check_cancelled()?;
            let name = role_name(kind, &self.suffix);
            let arn = ensure_role(ctx, self.iam.as_ref(), &role_key(kind), &name, &trust, naming::tags(&self.suffix, &name)).await?;
            let account = account_of(&arn)
                .ok_or_else(|| ComponentError::invalid(&name, &self.primary_region, format!("unexpected role ARN {arn}")))?
                .to_string();
            // The trust scoped to the role's own account and the one inline policy, nothing
            // else: an adopted role keeps no foreign trust or extra policy.
            let spec = tandem_core::iam::RoleSpec {
                name: name.clone(),
                trust_policy: lambda_trust(Some(&account)),
                inline: vec![(POLICY_NAME.to_string(), self.policy(kind, &account))],
                managed: vec![],
                tags: naming::tags(&self.suffix, &name),
            };
            tandem_core::iam::reconcile_role(ctx, self.iam.as_ref(), &role_key(kind), &spec).await?;
            forget_legacy(ctx, &legacy_policy_key(kind)).await?;
            arns.push(arn);
        }
        let [api, processor, replicator, probe, failover]: [String; 5] = arns
            .try_into()
            .map_err(|_| ComponentError::invalid(ids::LAMBDA_ROLES, &self.primary_region, "expected five roles"))?;
        Ok(to_outputs(&LambdaRolesOutputs {
            api_role_arn: api,
            processor_role_arn: processor,
            replicator_role_arn: replicator,
            probe_role_arn: probe,
            failover_role_arn: failover,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = ids::LAMBDA_ROLES, region = %self.primary_region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        for kind in ROLE_KINDS {
            let name = role_name(kind, &self.suffix);
            delete_role(ctx, self.iam.as_ref(), &role_key(kind), &name).await?;
            forget_legacy(ctx, &legacy_policy_key(kind)).await?;
        }
        Ok(())
    }

    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        let mut missing = Vec::new();
        let mut drifted = Vec::new();
        for kind in ROLE_KINDS {
            let name = role_name(kind, &self.suffix);
            let Some(arn) = retry(|| self.iam.get_role(&name)).await.at(&name, &self.primary_region)? else {
                missing.push(format!("role {name} is missing"));
                continue;
            };
            let account = account_of(&arn).unwrap_or_default().to_string();
            let current = retry(|| self.iam.get_role_policy(&name, POLICY_NAME)).await;
            let current = match current {
                Ok(c) => c,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(ComponentError::aws(&name, &self.primary_region, e)),
            };
            if !current.as_deref().is_some_and(|c| same_json(c, &self.policy(kind, &account))) {
                drifted.push(format!("role {name}: inline policy {POLICY_NAME} differs"));
            }
        }
        Ok(Drift::from_findings(missing, drifted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::iam::MockIamApi;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;
    use tandem_core::{AwsError, Config};

    const ACCOUNT: &str = "123456789012";

    fn arn(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }

    fn component(iam: MockIamApi) -> LambdaRoles {
        let mut cfg = Config::example("dev");
        cfg.account_id = Some(ACCOUNT.parse().unwrap());
        LambdaRoles::new(&cfg, Arc::new(iam))
    }

    /// Trust as wanted, the one inline policy, nothing attached.
    fn roles_as_created(iam: &mut MockIamApi) {
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(lambda_trust(Some(ACCOUNT)))));
        iam.expect_list_role_policies().returning(|_| Ok(vec![POLICY_NAME.to_string()]));
        iam.expect_list_attached_role_policies().returning(|_| Ok(vec![]));
    }

    fn ctx() -> Ctx {
        Ctx::standalone(ids::LAMBDA_ROLES, "us-east-1")
    }

    #[test]
    fn policies_are_least_privilege() {
        for kind in ROLE_KINDS {
            let doc = lambda_policy(kind, "dev", "us-east-1", "us-east-2", ACCOUNT);
            assert_eq!(least_privilege_violations(&doc), Vec::<String>::new(), "{kind}: {doc}");
            if FUNCTION_KINDS.contains(&kind) {
                assert!(!doc.contains("\"*\""), "{kind} has a bare * : {doc}");
            }
        }
        // `*` only for actions without resource-level permissions, never mixed with others.
        let mixed = r#"{"Statement":[{"Sid":"m","Effect":"Allow","Action":["cloudwatch:PutMetricData","sns:Publish"],"Resource":"*"}]}"#;
        assert_eq!(least_privilege_violations(mixed), vec!["m: resource *".to_string()]);
        // The checker itself catches the bad cases.
        let bad = r#"{"Statement":[{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"},
            {"Sid":"b","Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::x"]},
            {"Sid":"c","Effect":"Allow","Action":["kms:Decrypt"],"Resource":["arn:aws:kms:us-east-1:1:key/*"]},
            {"Sid":"d","Effect":"Allow","Action":["ssm:GetParameter"],"Resource":["arn:aws:ssm:*:*:parameter/x"]}]}"#;
        let v = least_privilege_violations(bad);
        assert_eq!(v.len(), 5, "{v:?}");
        assert!(v.iter().any(|p| p.contains("arn:aws:ssm:*:*:parameter/x has no account")), "{v:?}");
    }

    #[test]
    fn the_api_role_can_read_no_secret() {
        let api = lambda_policy("api", "dev", "us-east-1", "us-east-2", ACCOUNT);
        assert_eq!(secret_access_violations(&api, "dev"), Vec::<String>::new(), "{api}");
        assert!(!api.contains("kms:") && !api.contains("/tandem/dev/api-key\"") && !api.contains("master-password"), "{api}");
        assert!(!api.contains("GetParametersByPath") && !api.contains("parameter/tandem/dev/*"), "{api}");
        // The replicator copies every parameter: it must be able to (the checker sees it).
        let replicator = lambda_policy("replicator", "dev", "us-east-1", "us-east-2", ACCOUNT);
        assert!(!secret_access_violations(&replicator, "dev").is_empty());
    }

    #[test]
    fn the_secret_checker_flags_path_reads_wildcards_and_kms() {
        // The api policy before issue 14: the whole path plus kms:Decrypt.
        let old = r#"{"Statement":[
            {"Sid":"Parameters","Effect":"Allow","Action":["ssm:GetParameter","ssm:GetParameters","ssm:GetParametersByPath"],
             "Resource":["arn:aws:ssm:*:1:parameter/tandem/dev","arn:aws:ssm:*:1:parameter/tandem/dev/*"]},
            {"Sid":"Kms","Effect":"Allow","Action":["kms:Decrypt"],"Resource":["arn:aws:kms:us-east-1:1:key/*"]}]}"#;
        let v = secret_access_violations(old, "dev");
        assert!(v.iter().any(|p| p.starts_with("Kms: allows kms:Decrypt")), "{v:?}");
        assert!(v.iter().any(|p| p.contains("covers secret parameter /tandem/dev/api-key")), "{v:?}");
        assert!(v.iter().any(|p| p.contains("covers secret parameter /tandem/dev/db/master-password")), "{v:?}");
        assert!(v.iter().any(|p| p.contains("GetParametersByPath on arn:aws:ssm:*:1:parameter/tandem/dev ")), "{v:?}");
        // Exact secret names, and a prefix wildcard covering them.
        let exact = r#"{"Statement":{"Sid":"x","Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:1:parameter/tandem/dev/api-key"}}"#;
        assert_eq!(secret_access_violations(exact, "dev").len(), 1);
        let prefix = r#"{"Statement":{"Sid":"x","Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:1:parameter/tandem/dev/api*"}}"#;
        assert_eq!(secret_access_violations(prefix, "dev").len(), 1);
        // The hash itself, another stack's secrets, or a Deny: fine.
        let fine = r#"{"Statement":[
            {"Sid":"h","Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:1:parameter/tandem/dev/api-key-sha256"},
            {"Sid":"o","Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:1:parameter/tandem/prod/api-key"},
            {"Sid":"d","Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#;
        assert_eq!(secret_access_violations(fine, "dev"), Vec::<String>::new());
    }

    #[test]
    fn policies_are_scoped_to_the_stack() {
        let api: serde_json::Value = serde_json::from_str(&lambda_policy("api", "dev", "us-east-1", "us-east-2", ACCOUNT)).unwrap();
        let s = api.to_string();
        assert!(s.contains("arn:aws:dynamodb:*:123456789012:table/table-dev"));
        assert!(s.contains("arn:aws:ssm:us-east-1:123456789012:parameter/tandem/dev/api-key-sha256"), "{s}");
        assert!(s.contains("arn:aws:ssm:us-east-2:123456789012:parameter/tandem/dev/api-key-sha256"), "{s}");
        assert!(s.contains("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/api-primary-dev:*"));
        assert!(s.contains("arn:aws:logs:us-east-2:123456789012:log-group:/aws/lambda/api-secondary-dev:*"));
        let processor = lambda_policy("processor", "dev", "us-east-1", "us-east-2", ACCOUNT);
        assert!(processor.contains("dynamodb:PutItem") && !processor.contains("dynamodb:GetItem") && !processor.contains("ssm:"));
        let probe = lambda_policy("probe", "dev", "us-east-1", "us-east-2", ACCOUNT);
        assert!(probe.contains("arn:aws:cloudwatch:us-east-2:123456789012:alarm:alarm-primary-down-secondary-dev"), "{probe}");
        assert!(probe.contains("arn:aws:lambda:us-east-2:123456789012:function:failover-secondary-dev"), "{probe}");
        assert!(probe.contains("arn:aws:ssm:us-east-2:123456789012:parameter/tandem/dev/failover/forced"), "{probe}");
        assert!(!probe.contains("rds:FailoverGlobalCluster") && !probe.contains("sns:Publish"), "{probe}");
        assert!(!probe.contains("us-east-1:123456789012:log-group"), "the probe only runs in the secondary: {probe}");
        let failover = lambda_policy("failover", "dev", "us-east-1", "us-east-2", ACCOUNT);
        for want in [
            "rds:FailoverGlobalCluster",
            "arn:aws:rds::123456789012:global-cluster:aurora-global-dev",
            "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-dev",
            "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:unplanned-global-failover-*",
            "arn:aws:sns:us-east-2:123456789012:alerts-secondary-dev",
            "arn:aws:ssm:us-east-2:123456789012:parameter/tandem/dev/failover/suppressed",
            "sns.us-east-2.amazonaws.com",
        ] {
            assert!(failover.contains(want), "{want} missing: {failover}");
        }
        assert!(!failover.contains("lambda:InvokeFunction") && !failover.contains("dynamodb"), "{failover}");
        let api = lambda_policy("api", "dev", "us-east-1", "us-east-2", ACCOUNT);
        assert!(api.contains("rds:DescribeDBClusters") && api.contains("cluster:aurora-primary-dev") && !api.contains("rds:Failover"), "{api}");
        let replicator = lambda_policy("replicator", "dev", "us-east-1", "us-east-2", ACCOUNT);
        assert!(replicator.contains("arn:aws:ssm:us-east-2:123456789012:parameter/tandem/dev/*"));
        assert!(replicator.contains("ssm.us-east-2.amazonaws.com") && replicator.contains("kms:Encrypt"));
        assert!(!replicator.contains("dynamodb"));
    }

    #[tokio::test]
    async fn creates_roles_then_policies_in_order() {
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        for kind in ROLE_KINDS {
            let name = role_name(kind, "dev");
            iam.expect_get_role().with(eq(name.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
            let n = name.clone();
            iam.expect_create_role()
                .withf(move |rn, trust, tags| {
                    rn == n && trust.contains("lambda.amazonaws.com") && tags.contains(&("tandem:stack".to_string(), "dev".to_string()))
                })
                .times(1)
                .in_sequence(&mut seq)
                .returning(|n, _, _| Ok(arn(n)));
            iam.expect_get_role_trust_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(lambda_trust(Some(ACCOUNT)))));
            iam.expect_get_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
            iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
            iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
            let n = name.clone();
            iam.expect_put_role_policy()
                .withf(move |rn, p, doc| rn == n && p == POLICY_NAME && doc.contains(ACCOUNT))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _, _| Ok(()));
        }
        let c = ctx();
        let out = component(iam).apply(&c).await.unwrap();
        let out: LambdaRolesOutputs = tandem_core::from_outputs(&out).unwrap();
        assert_eq!(out.api_role_arn, arn("lambda-api-dev"));
        assert_eq!(out.processor_role_arn, arn("lambda-processor-dev"));
        assert_eq!(out.replicator_role_arn, arn("lambda-replicator-dev"));
        assert_eq!(out.probe_role_arn, arn("lambda-probe-dev"));
        assert_eq!(out.failover_role_arn, arn("lambda-failover-dev"));
        let journal = c.journal_entries().await;
        assert_eq!(journal["role-api"].id.as_deref(), Some(arn("lambda-api-dev").as_str()));
        // The inline policy is an update of its role's entry.
        assert_eq!(journal["role-api"].op, tandem_core::state::Op::Update);
        assert_eq!(journal.len(), 5);
    }

    /// IAM whose roles come to exist only through `create_role`, which acts and then answers
    /// `answer` for the first create of each role (a lost answer), `Ok` afterwards.
    fn iam_losing_first_answer(answer: AwsError) -> (MockIamApi, Arc<std::sync::Mutex<Vec<String>>>) {
        let roles: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let mut iam = MockIamApi::new();
        let seen = roles.clone();
        iam.expect_get_role()
            .returning(move |n| Ok(seen.lock().unwrap().iter().any(|r| r == n).then(|| arn(n))));
        let made = roles.clone();
        iam.expect_create_role().returning(move |n, _, _| {
            let mut made = made.lock().unwrap();
            if made.iter().any(|r| r == n) {
                return Err(AwsError::new("EntityAlreadyExists", format!("Role with name {n} already exists."), Some(409)));
            }
            made.push(n.to_string());
            Err(answer.clone())
        });
        let policy_of = |role: &str| {
            let kind = role.trim_start_matches("lambda-").trim_end_matches("-dev").to_string();
            lambda_policy(&kind, "dev", "us-east-1", "us-east-2", ACCOUNT)
        };
        iam.expect_get_role_policy().returning(move |role, _| Ok(Some(policy_of(role))));
        roles_as_created(&mut iam);
        (iam, roles)
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_are_adopted_one_role_each() {
        for answer in [
            AwsError::new("InternalFailure", "x", Some(500)),
            AwsError::new("ServiceUnavailable", "connection reset", Some(503)),
            // The issue's case: the SDK re-sent a create whose answer was lost.
            AwsError::new("EntityAlreadyExists", "Role with name already exists.", Some(409)),
        ] {
            let (iam, roles) = iam_losing_first_answer(answer.clone());
            let c = ctx();
            component(iam).apply(&c).await.unwrap_or_else(|e| panic!("{answer}: {e}"));
            assert_eq!(roles.lock().unwrap().len(), 5, "{answer}: exactly one role per kind");
            let j = c.journal_entries().await;
            for kind in ROLE_KINDS {
                let e = &j[&format!("role-{kind}")];
                assert_eq!(e.status, tandem_core::state::ResourceStatus::Done, "{answer}");
                assert_eq!(e.id.as_deref(), Some(arn(&role_name(kind, "dev")).as_str()), "{answer}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_run_adopts_the_role_an_interrupted_create_made() {
        let (iam, roles) = iam_losing_first_answer(AwsError::throttling());
        // The interrupted run created lambda-api-dev but never journaled its answer.
        roles.lock().unwrap().push("lambda-api-dev".into());
        let comp = component(iam);
        let c = ctx().with_prior(crate::interrupted_state(&comp, &["role-api"]));
        comp.apply(&c).await.unwrap();
        assert_eq!(roles.lock().unwrap().iter().filter(|r| *r == "lambda-api-dev").count(), 1);
        let e = &c.journal_entries().await["role-api"];
        assert_eq!((e.status, e.op), (tandem_core::state::ResourceStatus::Done, tandem_core::state::Op::Adopt));
    }

    #[tokio::test(start_paused = true)]
    async fn a_role_of_that_name_under_another_path_is_not_adopted() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|n| Ok(Some(format!("arn:aws:iam::{ACCOUNT}:role/other/{n}"))));
        iam.expect_create_role()
            .returning(|n, _, _| Err(AwsError::new("EntityAlreadyExists", format!("Role with name {n} already exists."), Some(409))));
        let e = component(iam).apply(&ctx()).await.unwrap_err().to_string();
        assert!(e.contains("not this stack's") && e.contains("lambda-api-dev"), "{e}");
    }

    #[tokio::test]
    async fn existing_roles_make_no_mutating_call() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|n| Ok(Some(arn(n))));
        iam.expect_get_role_policy().returning(|role, _| {
            let kind = role.trim_start_matches("lambda-").trim_end_matches("-dev").to_string();
            // Same document, serialized differently.
            let v: serde_json::Value = serde_json::from_str(&lambda_policy(&kind, "dev", "us-east-1", "us-east-2", ACCOUNT)).unwrap();
            Ok(Some(serde_json::to_string_pretty(&v).unwrap()))
        });
        roles_as_created(&mut iam);
        // No expectation on create_role/put_role_policy: any call fails the test.
        // State of an older version: the inline policy journaled under a key of its own.
        let prior = ComponentState::new("iam-role", Placement::Global, "us-east-1")
            .with_resource("role-api", &arn("lambda-api-dev"))
            .with_resource("policy-api", "lambda-api-dev/tandem");
        let c = ctx().with_prior(prior);
        component(iam).apply(&c).await.unwrap();
        let keys: Vec<String> = c.journal_entries().await.into_keys().collect();
        assert_eq!(keys, vec!["role-api", "role-failover", "role-probe", "role-processor", "role-replicator"]);
    }

    #[tokio::test]
    async fn changed_policy_is_put_again() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|n| Ok(Some(arn(n))));
        iam.expect_get_role_policy().returning(|_, _| Ok(Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into())));
        roles_as_created(&mut iam);
        iam.expect_put_role_policy().times(5).returning(|_, _, _| Ok(()));
        component(iam).apply(&ctx()).await.unwrap();
    }

    #[tokio::test]
    async fn adopted_roles_lose_foreign_trust_and_extra_policies() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|n| Ok(Some(arn(n))));
        iam.expect_get_role_policy().returning(|role, _| {
            let kind = role.trim_start_matches("lambda-").trim_end_matches("-dev").to_string();
            Ok(Some(lambda_policy(&kind, "dev", "us-east-1", "us-east-2", ACCOUNT)))
        });
        // Trust without the account condition, an extra inline policy, an extra managed one.
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(trust_policy("lambda.amazonaws.com"))));
        iam.expect_list_role_policies().returning(|_| Ok(vec![POLICY_NAME.to_string(), "legacy-admin".to_string()]));
        iam.expect_list_attached_role_policies().returning(|_| Ok(vec!["arn:aws:iam::aws:policy/AdministratorAccess".to_string()]));
        iam.expect_update_assume_role_policy()
            .withf(|_, d| d.contains(r#""aws:SourceAccount":"123456789012""#))
            .times(5)
            .returning(|_, _| Ok(()));
        iam.expect_delete_role_policy().withf(|_, p| p == "legacy-admin").times(5).returning(|_, _| Ok(()));
        iam.expect_detach_role_policy().withf(|_, p| p.ends_with("AdministratorAccess")).times(5).returning(|_, _| Ok(()));
        component(iam).apply(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_create_is_retried() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(None));
        let mut calls = 0;
        iam.expect_create_role().times(6).returning(move |n, _, _| {
            calls += 1;
            if calls == 1 {
                Err(AwsError::throttling())
            } else {
                Ok(arn(n))
            }
        });
        iam.expect_get_role_policy().returning(|_, _| Ok(None));
        roles_as_created(&mut iam);
        // A policy put right after creation can see the role as not yet there.
        let mut puts = 0;
        iam.expect_put_role_policy().times(6).returning(move |_, _, _| {
            puts += 1;
            if puts == 1 {
                Err(AwsError::not_found("NoSuchEntity", "role not found"))
            } else {
                Ok(())
            }
        });
        component(iam).apply(&ctx()).await.unwrap();
    }

    #[tokio::test]
    async fn errors_name_role_and_region() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(None));
        iam.expect_create_role().returning(|_, _, _| Err(AwsError::other("AccessDenied", "not allowed")));
        let c = ctx();
        let e = component(iam).apply(&c).await.unwrap_err().to_string();
        assert!(e.contains("lambda-api-dev") && e.contains("us-east-1") && e.contains("AccessDenied"), "{e}");
        let j = c.journal_entries().await;
        assert_eq!(j["role-api"].status, tandem_core::state::ResourceStatus::Failed);
    }

    #[tokio::test]
    async fn destroy_removes_policies_before_roles_and_tolerates_missing() {
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        // api: full delete.
        iam.expect_list_role_policies()
            .with(eq("lambda-api-dev"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(vec![POLICY_NAME.into()]));
        iam.expect_delete_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_delete_role().with(eq("lambda-api-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        // processor: already gone.
        iam.expect_list_role_policies()
            .with(eq("lambda-processor-dev"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::not_found("NoSuchEntity", "gone")));
        // replicator: role vanishes between calls.
        iam.expect_list_role_policies().with(eq("lambda-replicator-dev")).times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_delete_role()
            .with(eq("lambda-replicator-dev"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::not_found("NoSuchEntity", "gone")));
        // The controller's roles: already gone.
        for n in ["lambda-probe-dev", "lambda-failover-dev"] {
            iam.expect_list_role_policies()
                .with(eq(n))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_| Err(AwsError::not_found("NoSuchEntity", "gone")));
        }
        let prior = ComponentState::new("iam-role", Placement::Global, "us-east-1").with_resource("role-api", &arn("lambda-api-dev"));
        let c = ctx().with_prior(prior);
        component(iam).destroy(&c).await.unwrap();
        assert!(c.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn read_reports_missing_and_drift() {
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|n| if n == "lambda-api-dev" { Ok(None) } else { Ok(Some(arn(n))) });
        iam.expect_get_role_policy().returning(|_, _| Ok(Some("{}".into())));
        match component(iam).read(&ctx()).await.unwrap() {
            Drift::Missing { details } => {
                assert!(details[0].contains("lambda-api-dev"));
                assert_eq!(details.len(), 5, "{details:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
