//! `functions-primary` / `functions-secondary`: the region's three Lambda functions
//! (`api-{role}-{s}`, `processor-{role}-{s}`, `replicator-{role}-{s}`) and their log groups
//! `/aws/lambda/<fn>` (30-day retention, created before the functions so Lambda does not
//! create them without retention).
//!
//! Functions run the `bootstrap` binary of the package (runtime `provided.al2023`,
//! `x86_64`, 256 MB, 10 s) and dispatch on `TANDEM_HANDLER`. Apply compares the deployed
//! `CodeSha256` with the package's base64 SHA-256 and calls UpdateFunctionCode only when
//! they differ; UpdateFunctionConfiguration only when role, runtime, handler, memory,
//! timeout or environment differ. Creates are retried while IAM has not yet propagated the
//! new role ("cannot be assumed by Lambda"), and every create/update waits for the function
//! to be `Active` with a `Successful` last update.
//!
//! Every resource follows the core's resource protocol with [`Rule::Name`] (Lambda and
//! CloudWatch Logs have no idempotency token; the names are unique and carry the stack's
//! suffix): after a lost answer ("already exists") the resource is looked up and adopted.
//!
//! Destroy: the functions, then the log groups (by name, through [`Ctx::delete`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{poll_base_interval, poll_until, retry, retry_if, Poll};
use tandem_core::contracts::{ids, FunctionsOutputs, LambdaRolesOutputs};
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Ctx, Desired, Drift, How, Key, Outputs, Placement, Rule,
};

use crate::iam::{function_name, FUNCTION_KINDS};
use tandem_clients::lambda::{FunctionInfo, FunctionSpec, LambdaApi};
use crate::logs_api::{LogGroupInfo, LogsApi};
use crate::package::{Package, ARCHITECTURE, BOOTSTRAP, RUNTIME};

pub const MEMORY_MB: i32 = 256;
pub const TIMEOUT_SECS: i32 = 10;
pub const LOG_RETENTION_DAYS: i32 = 30;
/// Bound on waiting for a function to become Active / finish an update.
pub const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound on retrying a create while IAM propagates a new role.
pub const ROLE_PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// True for the error Lambda (and EventBridge) return while a new role is not yet usable.
pub fn is_role_propagation(e: &AwsError) -> bool {
    (e.code == "InvalidParameterValueException" || e.code == "ValidationException" || e.code == "AccessDeniedException")
        && (e.message.contains("cannot be assumed") || e.message.contains("not authorized to perform: sts:AssumeRole"))
}

/// Calls `f` (itself retried on throttling) until it stops failing with an IAM propagation
/// error, for at most [`ROLE_PROPAGATION_TIMEOUT`].
pub async fn with_role_propagation<T, F, Fut>(resource: &str, region: &str, f: F) -> Result<T, ComponentError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let f = &f;
    poll_until(resource, region, "IAM role propagation", ROLE_PROPAGATION_TIMEOUT, move || async move {
        match retry(f).await {
            Ok(v) => Ok(Poll::Ready(v)),
            Err(e) if is_role_propagation(&e) => Ok(Poll::Pending(format!("role not assumable yet: {}", e.message))),
            Err(e) => Err(e),
        }
    })
    .await
}

/// Calls `f` (a create run by [`Ctx::ensure`]) until it stops failing with an IAM
/// propagation error, for at most [`ROLE_PROPAGATION_TIMEOUT`]. Every other error,
/// ambiguous ones included, is returned at once: the protocol looks the resource up before
/// it sends the create again.
pub async fn until_role_assumable<T, F, Fut>(f: F) -> Result<T, AwsError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = tokio::time::Instant::now();
    let mut delay = poll_base_interval();
    loop {
        match f().await {
            Err(e) if is_role_propagation(&e) => {
                if start.elapsed() + delay > ROLE_PROPAGATION_TIMEOUT {
                    return Err(AwsError::other(
                        "RolePropagationTimeout",
                        format!("timed out after {} s waiting for IAM role propagation: {}", start.elapsed().as_secs(), e.message),
                    ));
                }
                tracing::info!(error = %e.message, "role not assumable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
            other => return other,
        }
    }
}

/// True while Lambda refuses a mutation because another one is in progress.
fn is_conflict(e: &AwsError) -> bool {
    e.code == "ResourceConflictException"
}

/// True when `arn` is the unqualified ARN of function `name` in `region` (the name carries
/// the stack's suffix: a function of that name in this region is this stack's).
pub fn is_stack_function(arn: &str, region: &str, name: &str) -> bool {
    let fields: Vec<&str> = arn.splitn(7, ':').collect();
    matches!(fields.as_slice(), ["arn", _, "lambda", r, _, "function", n] if *r == region && *n == name)
}

/// The ids [`Ctx::delete`] deletes for a resource deleted by name: the recorded id, else
/// the name (one whose create answer was lost has no recorded id, and goes too).
pub(crate) async fn by_name(recorded: Option<String>, name: &str) -> Result<Vec<String>, AwsError> {
    Ok(vec![recorded.unwrap_or_else(|| name.to_string())])
}

/// Journal keys: one child per function kind (`function-api`, `log-group-api`, ...).
const KEY_FUNCTION: Key = Key::new("function");
const KEY_LOG_GROUP: Key = Key::new("log-group");

/// Log group name of a function.
pub fn log_group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// The functions component of one region.
pub struct Functions {
    placement: Placement,
    suffix: String,
    region: String,
    other_region: String,
    id: String,
    lambda: Arc<dyn LambdaApi>,
    logs: Arc<dyn LogsApi>,
    package: Package,
    /// `[api] public_reads`: the api function's `PUBLIC_READS`.
    public_reads: bool,
}

impl Functions {
    pub fn new(cfg: &tandem_core::Config, placement: Placement, lambda: Arc<dyn LambdaApi>, logs: Arc<dyn LogsApi>, package: Package) -> Self {
        let (region, other) = match placement {
            Placement::Secondary => (cfg.secondary_region.clone(), cfg.primary_region.clone()),
            _ => (cfg.primary_region.clone(), cfg.secondary_region.clone()),
        };
        Self {
            placement,
            suffix: cfg.environment_suffix.clone(),
            region,
            other_region: other,
            id: ids::functions(placement),
            lambda,
            logs,
            package,
            public_reads: cfg.api.public_reads,
        }
    }

    fn name(&self, kind: &str) -> String {
        function_name(kind, self.placement, &self.suffix)
    }

    fn environment(&self, kind: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::from([
            ("TANDEM_HANDLER".to_string(), kind.to_string()),
            ("TABLE_NAME".to_string(), naming::name("table", Placement::Global, &self.suffix)),
            ("PARAMETER_PATH".to_string(), naming::parameter_path(&self.suffix)),
            ("TANDEM_ROLE".to_string(), self.placement.to_string()),
            ("DEST_REGION".to_string(), self.other_region.clone()),
        ]);
        if kind == "api" {
            // This region's Aurora cluster: `/health` reports its `database_writer` check,
            // which the failover controller's probe requires. Named, not read from the
            // aurora component's outputs, so the API does not wait for the database chain.
            env.insert("DB_CLUSTER_ID".to_string(), naming::name("aurora", self.placement, &self.suffix));
            // `GET /items/{id}` without the API key only when configured (the function
            // checks the key on every path: the NLB path bypasses API Gateway).
            env.insert("PUBLIC_READS".to_string(), self.public_reads.to_string());
        }
        env
    }

    /// The desired configuration of function `kind` with execution role `role_arn`.
    pub fn spec(&self, kind: &str, role_arn: &str) -> FunctionSpec {
        let name = self.name(kind);
        FunctionSpec {
            tags: naming::tags(&self.suffix, &name).into_iter().collect(),
            name,
            role_arn: role_arn.to_string(),
            runtime: RUNTIME.to_string(),
            handler: BOOTSTRAP.to_string(),
            architecture: ARCHITECTURE.to_string(),
            memory_mb: MEMORY_MB,
            timeout_secs: TIMEOUT_SECS,
            environment: self.environment(kind),
        }
    }


    /// The log group of function `kind` ([`ensure_log_group`]).
    async fn ensure_log_group(&self, ctx: &Ctx, kind: &str) -> Result<String, ComponentError> {
        ensure_log_group(ctx, self.logs.as_ref(), &KEY_LOG_GROUP.child(kind), &self.name(kind), &self.suffix, &self.region).await
    }

    /// Function `kind` ([`ensure_function`]).
    async fn ensure_function(&self, ctx: &Ctx, kind: &str, role_arn: &str, zip: &mut Option<Vec<u8>>) -> Result<String, ComponentError> {
        let spec = self.spec(kind, role_arn);
        ensure_function(ctx, self.lambda.as_ref(), &KEY_FUNCTION.child(kind), &spec, &self.package, &self.region, zip).await
    }
}

/// Waits until the function is Active and no update is in progress.
pub(crate) async fn wait_ready(lambda: &dyn LambdaApi, name: &str, region: &str) -> Result<FunctionInfo, ComponentError> {
    poll_until(name, region, "function Active", ACTIVE_TIMEOUT, || async {
        match lambda.get_function(name).await? {
            None => Ok(Poll::Pending("not visible yet".into())),
            Some(f) if f.state == "Failed" || f.last_update_status == "Failed" => Err(AwsError::other(
                "FunctionFailed",
                f.state_reason.or(f.last_update_reason).unwrap_or_else(|| "function entered state Failed".into()),
            )),
            Some(f) if (f.state == "Active" || f.state.is_empty()) && f.last_update_status != "InProgress" => Ok(Poll::Ready(f)),
            Some(f) => Ok(Poll::Pending(format!("{} / {}", f.state, f.last_update_status))),
        }
    })
    .await
}

/// The log group `/aws/lambda/<function>`, journaled under `key`: ensured with
/// [`Rule::Name`] (a `ResourceAlreadyExistsException` after a lost answer is looked up and
/// adopted), its retention set through [`Ctx::update`] only when it differs.
pub(crate) async fn ensure_log_group(
    ctx: &Ctx,
    logs: &dyn LogsApi,
    key: &Key,
    function: &str,
    suffix: &str,
    region: &str,
) -> Result<String, ComponentError> {
    let name = log_group_name(function);
    let tags = naming::tags(suffix, &name);
    let (n, tags) = (name.as_str(), &tags);
    let group = ctx
        .ensure::<LogGroupInfo>(key, n, Rule::Name)
        .find_one(move |_recorded| async move { Ok(logs.describe_log_group(n).await?.filter(|g| g.name == n)) })
        .create(move |_token| async move {
            logs.create_log_group(n, tags.clone()).await?;
            Ok(LogGroupInfo { name: n.to_string(), ..Default::default() })
        })
        .id(|g| g.name.clone())
        .run()
        .await?;
    if group.retention_days != Some(LOG_RETENTION_DAYS) {
        ctx.update(key, || async { retry(|| logs.put_retention_policy(n, LOG_RETENTION_DAYS)).await.at(n, region) }).await?;
    }
    Ok(name)
}

/// The function `spec`, journaled under `key`: ensured with [`Rule::Name`] (Lambda has no
/// idempotency token; a `ResourceConflictException: Function already exist` after a lost
/// answer is looked up and adopted), then code and configuration updated through
/// [`Ctx::update`] only when they differ. `zip` caches the package's bytes across calls.
pub(crate) async fn ensure_function(
    ctx: &Ctx,
    lambda: &dyn LambdaApi,
    key: &Key,
    spec: &FunctionSpec,
    package: &Package,
    region: &str,
    zip: &mut Option<Vec<u8>>,
) -> Result<String, ComponentError> {
    let name = spec.name.clone();
    let n = name.as_str();
    let ensured = ctx
        .ensure::<FunctionInfo>(key, n, Rule::Name)
        .find_one(move |_recorded| async move {
            Ok(lambda.get_function(n).await?.filter(|f| is_stack_function(&f.arn, region, n)))
        })
        .create(move |_token| async move {
            let bytes = package.read().map_err(|e| AwsError::other("PackageUnreadable", e.to_string()))?;
            let arn = until_role_assumable(|| lambda.create_function(spec, &bytes)).await?;
            Ok(FunctionInfo { arn, name: n.to_string(), ..Default::default() })
        })
        .id(|f| f.arn.clone())
        .outcome()
        .await?;
    if ensured.how == How::Created {
        wait_ready(lambda, n, region).await?;
        return Ok(ensured.value.arn);
    }
    let mut info = ensured.value;
    if info.state == "Pending" || info.last_update_status == "InProgress" {
        info = wait_ready(lambda, n, region).await?;
    }
    let code_differs = info.code_sha256 != package.base64_sha256 || info.architectures != vec![spec.architecture.clone()];
    if code_differs {
        if zip.is_none() {
            *zip = Some(package.read().map_err(|e| ComponentError::invalid(package.path.display().to_string(), region, e.to_string()))?);
        }
        let bytes = zip.clone().unwrap_or_default();
        tracing::info!(function = %name, deployed = %info.code_sha256, package = %package.base64_sha256, "updating code");
        ctx.update(key, || async {
            retry_if(|| lambda.update_function_code(n, &spec.architecture, &bytes), is_conflict).await.at(n, region)
        })
        .await?;
        wait_ready(lambda, n, region).await?;
    }
    if !info.config_matches(spec) {
        tracing::info!(function = %name, diff = ?info.config_diff(spec), "updating configuration");
        ctx.update(key, || async {
            with_role_propagation(n, region, || async { retry_if(|| lambda.update_function_configuration(spec), is_conflict).await }).await
        })
        .await?;
        wait_ready(lambda, n, region).await?;
    }
    Ok(info.arn)
}

#[async_trait]
impl Component for Functions {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "lambda"
    }
    fn placement(&self) -> Placement {
        self.placement
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        vec![ids::LAMBDA_ROLES.to_string()]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::FunctionsOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Mostly IAM propagation retries on CreateFunction (AWS-NOTES.md), then Pending →
        // Active, "after a few seconds" for functions outside a VPC (Lambda Developer Guide,
        // "Lambda function states").
        Duration::from_secs(60)
    }
    fn desired(&self) -> Desired {
        let functions: Vec<String> = FUNCTION_KINDS.iter().map(|k| self.name(k)).collect();
        let env: BTreeMap<&str, BTreeMap<String, String>> = FUNCTION_KINDS.iter().map(|k| (*k, self.environment(k))).collect();
        Desired::new(
            json!({ "functions": functions, "region": self.region }),
            json!({
                "code_sha256": self.package.sha256,
                "runtime": RUNTIME,
                "handler": BOOTSTRAP,
                "architecture": ARCHITECTURE,
                "memory_mb": MEMORY_MB,
                "timeout_secs": TIMEOUT_SECS,
                "environment": env,
                "log_retention_days": LOG_RETENTION_DAYS,
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        if self.package.is_unbuilt() {
            return Err(ComponentError::invalid(
                &self.id,
                &self.region,
                "no Lambda package was built for this run; functions cannot be created or updated from an unbuilt package",
            ));
        }
        let roles: LambdaRolesOutputs = ctx.input(ids::LAMBDA_ROLES)?;
        let role_of = |kind: &str| match kind {
            "api" => roles.api_role_arn.clone(),
            "processor" => roles.processor_role_arn.clone(),
            _ => roles.replicator_role_arn.clone(),
        };
        let mut zip = None;
        let mut arns = Vec::new();
        for kind in FUNCTION_KINDS {
            ctx.check_cancelled()?;
            self.ensure_log_group(ctx, kind).await?;
            arns.push(self.ensure_function(ctx, kind, &role_of(kind), &mut zip).await?);
        }
        let [api, processor, replicator]: [String; 3] =
            arns.try_into().map_err(|_| ComponentError::invalid(&self.id, &self.region, "expected three functions"))?;
        Ok(to_outputs(&FunctionsOutputs {
            api_function_name: self.name("api"),
            api_function_arn: api,
            processor_function_name: self.name("processor"),
            processor_function_arn: processor,
            replicator_function_name: self.name("replicator"),
            replicator_function_arn: replicator,
            code_sha256: self.package.sha256.clone(),
        }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        // Deleted by name (a function whose create answer was lost has no recorded ARN).
        let lambda = self.lambda.as_ref();
        for kind in FUNCTION_KINDS {
            let name = self.name(kind);
            let n = name.as_str();
            ctx.delete(&KEY_FUNCTION.child(kind), n, |recorded| by_name(recorded, n), move |_arn| {
                retry_if(move || lambda.delete_function(n), is_conflict)
            })
            .await?;
        }
        let logs = self.logs.as_ref();
        for kind in FUNCTION_KINDS {
            let name = log_group_name(&self.name(kind));
            let n = name.as_str();
            ctx.delete(&KEY_LOG_GROUP.child(kind), n, |recorded| by_name(recorded, n), move |_| logs.delete_log_group(n)).await?;
        }
        Ok(())
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let roles: Option<LambdaRolesOutputs> = ctx.input_opt(ids::LAMBDA_ROLES);
        let mut missing = Vec::new();
        let mut drifted = Vec::new();
        for kind in FUNCTION_KINDS {
            let name = self.name(kind);
            match retry(|| self.lambda.get_function(&name)).await.at(&name, &self.region)? {
                None => missing.push(format!("function {name} is missing")),
                Some(info) => {
                    let role = match (&roles, kind) {
                        (Some(r), "api") => r.api_role_arn.clone(),
                        (Some(r), "processor") => r.processor_role_arn.clone(),
                        (Some(r), _) => r.replicator_role_arn.clone(),
                        (None, _) => info.role_arn.clone(),
                    };
                    drifted.extend(info.config_diff(&self.spec(kind, &role)));
                    if !self.package.is_unbuilt() && info.code_sha256 != self.package.base64_sha256 {
                        drifted.push(format!("{name}: code {} differs from the package {}", info.code_sha256, self.package.base64_sha256));
                    }
                }
            }
            let group = log_group_name(&name);
            match retry(|| self.logs.describe_log_group(&group)).await.at(&group, &self.region)? {
                None => drifted.push(format!("log group {group} is missing")),
                Some(g) if g.retention_days != Some(LOG_RETENTION_DAYS) => {
                    drifted.push(format!("log group {group}: retention {:?} days (want {LOG_RETENTION_DAYS})", g.retention_days))
                }
                Some(_) => {}
            }
        }
        Ok(Drift::from_findings(missing, drifted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_clients::lambda::MockLambdaApi;
    use crate::logs_api::{LogGroupInfo, MockLogsApi};
    use mockall::predicate::eq;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;
    use tandem_core::Config;

    const ACCOUNT: &str = "123456789012";

    fn roles() -> LambdaRolesOutputs {
        LambdaRolesOutputs {
            api_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/lambda-api-dev"),
            processor_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/lambda-processor-dev"),
            replicator_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/lambda-replicator-dev"),
            probe_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/lambda-probe-dev"),
            failover_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/lambda-failover-dev"),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        package: Package,
    }

    fn package(bytes: &[u8]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tandem-lambda.zip");
        std::fs::write(&path, bytes).unwrap();
        let package = Package::from_file(&path).unwrap();
        Fixture { _dir: dir, package }
    }

    fn component(placement: Placement, lambda: MockLambdaApi, logs: MockLogsApi, package: &Package) -> Functions {
        Functions::new(&Config::example("dev"), placement, Arc::new(lambda), Arc::new(logs), package.clone())
    }

    fn ctx(placement: Placement) -> Ctx {
        let region = if placement == Placement::Secondary { "us-east-2" } else { "us-east-1" };
        Ctx::standalone(ids::functions(placement), region).with_input(ids::LAMBDA_ROLES, &roles())
    }

    fn arn(region: &str, name: &str) -> String {
        format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{name}")
    }

    /// What GetFunction returns for a function deployed exactly as `c` wants.
    fn deployed(c: &Functions, kind: &str) -> FunctionInfo {
        let roles = roles();
        let role = match kind {
            "api" => roles.api_role_arn,
            "processor" => roles.processor_role_arn,
            _ => roles.replicator_role_arn,
        };
        let spec = c.spec(kind, &role);
        FunctionInfo {
            arn: arn(&c.region, &spec.name),
            name: spec.name,
            role_arn: spec.role_arn,
            runtime: spec.runtime,
            handler: spec.handler,
            architectures: vec![spec.architecture],
            memory_mb: spec.memory_mb,
            timeout_secs: spec.timeout_secs,
            environment: spec.environment,
            code_sha256: c.package.base64_sha256.clone(),
            state: "Active".into(),
            last_update_status: "Successful".into(),
            last_modified: "2024-01-01T00:00:00.000+0000".into(),
            ..Default::default()
        }
    }

    fn group(name: &str) -> LogGroupInfo {
        LogGroupInfo { name: name.into(), arn: format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"), retention_days: Some(30) }
    }

    #[test]
    fn spec_follows_the_contract() {
        let f = package(b"zip");
        let c = component(Placement::Secondary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        let s = c.spec("processor", "arn:role");
        assert_eq!(s.name, "processor-secondary-dev");
        assert_eq!((s.runtime.as_str(), s.handler.as_str(), s.architecture.as_str()), ("provided.al2023", "bootstrap", "x86_64"));
        assert_eq!((s.memory_mb, s.timeout_secs), (256, 10));
        assert_eq!(s.environment["TANDEM_HANDLER"], "processor");
        assert_eq!(s.environment["TABLE_NAME"], "table-dev");
        assert_eq!(s.environment["PARAMETER_PATH"], "/tandem/dev/");
        assert_eq!(s.environment["TANDEM_ROLE"], "secondary");
        assert_eq!(s.environment["DEST_REGION"], "us-east-1");
        assert_eq!(s.tags["tandem:stack"], "dev");
        assert_eq!(s.tags["Name"], "processor-secondary-dev");
        assert_eq!(c.region(), "us-east-2");
        assert_eq!(c.id(), "functions-secondary");
        // The package hash drives updates.
        assert_eq!(c.desired().update_on["code_sha256"], f.package.sha256);
    }

    #[tokio::test(start_paused = true)]
    async fn creates_log_group_then_function_then_waits_active_in_order() {
        let f = package(b"zip-bytes");
        let mut lambda = MockLambdaApi::new();
        let mut logs = MockLogsApi::new();
        let mut seq = Sequence::new();
        for kind in FUNCTION_KINDS {
            let name = format!("{kind}-primary-dev");
            let group_name = log_group_name(&name);
            logs.expect_describe_log_group().with(eq(group_name.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
            let g = group_name.clone();
            logs.expect_create_log_group()
                .withf(move |n, tags| n == g && tags.contains(&("tandem:stack".to_string(), "dev".to_string())))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _| Ok(()));
            logs.expect_put_retention_policy()
                .with(eq(group_name.clone()), eq(30))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _| Ok(()));
            lambda.expect_get_function().with(eq(name.clone())).times(1).in_sequence(&mut seq).returning(|_| Ok(None));
            let n = name.clone();
            let k = kind.to_string();
            lambda
                .expect_create_function()
                .withf(move |spec, zip| spec.name == n && spec.environment["TANDEM_HANDLER"] == k && zip == b"zip-bytes" && spec.role_arn.contains(&k))
                .times(1)
                .in_sequence(&mut seq)
                .returning(|spec, _| Ok(arn("us-east-1", &spec.name)));
            // First poll: still Pending; second: Active.
            let n = name.clone();
            lambda.expect_get_function().with(eq(name.clone())).times(1).in_sequence(&mut seq).returning(move |_| {
                Ok(Some(FunctionInfo { name: n.clone(), state: "Pending".into(), last_update_status: "InProgress".into(), ..Default::default() }))
            });
            let n = name.clone();
            lambda.expect_get_function().with(eq(name.clone())).times(1).in_sequence(&mut seq).returning(move |_| {
                Ok(Some(FunctionInfo { name: n.clone(), state: "Active".into(), last_update_status: "Successful".into(), ..Default::default() }))
            });
        }
        let c = ctx(Placement::Primary);
        let out = component(Placement::Primary, lambda, logs, &f.package).apply(&c).await.unwrap();
        let out: FunctionsOutputs = tandem_core::from_outputs(&out).unwrap();
        assert_eq!(out.api_function_arn, arn("us-east-1", "api-primary-dev"));
        assert_eq!(out.replicator_function_name, "replicator-primary-dev");
        assert_eq!(out.code_sha256, f.package.sha256);
        let j = c.journal_entries().await;
        assert_eq!(j["function-processor"].id.as_deref(), Some(arn("us-east-1", "processor-primary-dev").as_str()));
        assert_eq!(j["log-group-api"].id.as_deref(), Some("/aws/lambda/api-primary-dev"));
    }

    #[tokio::test]
    async fn unchanged_code_and_config_make_no_mutating_call() {
        let f = package(b"same");
        let probe = component(Placement::Primary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        let infos: BTreeMap<String, FunctionInfo> = FUNCTION_KINDS.iter().map(|k| (probe.name(k), deployed(&probe, k))).collect();
        let mut lambda = MockLambdaApi::new();
        lambda.expect_get_function().returning(move |n| Ok(infos.get(n).cloned()));
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        // No expectation on create/update/put_retention: any such call fails the test.
        let prior = ComponentState::new("lambda", Placement::Primary, "us-east-1")
            .with_resource("function-api", &arn("us-east-1", "api-primary-dev"));
        let c = ctx(Placement::Primary).with_prior(prior);
        component(Placement::Primary, lambda, logs, &f.package).apply(&c).await.unwrap();
    }

    #[tokio::test]
    async fn pending_entry_of_an_interrupted_run_is_resolved_by_adoption() {
        let f = package(b"same");
        let probe = component(Placement::Primary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        let infos: BTreeMap<String, FunctionInfo> = FUNCTION_KINDS.iter().map(|k| (probe.name(k), deployed(&probe, k))).collect();
        let mut lambda = MockLambdaApi::new();
        lambda.expect_get_function().returning(move |n| Ok(infos.get(n).cloned()));
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        let comp = component(Placement::Primary, lambda, logs, &f.package);
        // The previous run died between "pending" and the create's answer.
        let c = ctx(Placement::Primary).with_prior(crate::interrupted_state(&comp, &["function-api", "log-group-api"]));
        comp.apply(&c).await.unwrap();
        let j = c.journal_entries().await;
        assert_eq!(j["function-api"].status, tandem_core::state::ResourceStatus::Done);
        assert_eq!(j["function-api"].id.as_deref(), Some(arn("us-east-1", "api-primary-dev").as_str()));
        assert_eq!(j["log-group-api"].status, tandem_core::state::ResourceStatus::Done);
    }

    #[tokio::test]
    async fn changed_code_updates_code_only() {
        let f = package(b"new code");
        let probe = component(Placement::Primary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        let mut infos: BTreeMap<String, FunctionInfo> = FUNCTION_KINDS.iter().map(|k| (probe.name(k), deployed(&probe, k))).collect();
        for i in infos.values_mut() {
            i.code_sha256 = "b2xkIGNvZGU=".into();
        }
        let mut lambda = MockLambdaApi::new();
        let mut seq = Sequence::new();
        for kind in FUNCTION_KINDS {
            let name = probe.name(kind);
            let before = infos[&name].clone();
            lambda.expect_get_function().with(eq(name.clone())).times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(before.clone())));
            lambda
                .expect_update_function_code()
                .withf(move |n, a, z| n == name && a == "x86_64" && z == b"new code")
                .times(1)
                .in_sequence(&mut seq)
                .returning(|_, _, _| Ok(()));
            let after = deployed(&probe, kind);
            lambda.expect_get_function().times(1).in_sequence(&mut seq).returning(move |_| Ok(Some(after.clone())));
        }
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        component(Placement::Primary, lambda, logs, &f.package).apply(&ctx(Placement::Primary)).await.unwrap();
    }

    #[tokio::test]
    async fn changed_config_updates_configuration_only() {
        let f = package(b"code");
        let probe = component(Placement::Secondary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        let mut lambda = MockLambdaApi::new();
        let mut before = deployed(&probe, "api");
        before.memory_mb = 128;
        let others: BTreeMap<String, FunctionInfo> =
            ["processor", "replicator"].iter().map(|k| (probe.name(k), deployed(&probe, k))).collect();
        let mut calls = 0;
        let after = deployed(&probe, "api");
        lambda.expect_get_function().returning(move |n| {
            if n == "api-secondary-dev" {
                calls += 1;
                Ok(Some(if calls == 1 { before.clone() } else { after.clone() }))
            } else {
                Ok(others.get(n).cloned())
            }
        });
        lambda
            .expect_update_function_configuration()
            .withf(|s| s.name == "api-secondary-dev" && s.memory_mb == 256)
            .times(1)
            .returning(|_| Ok(()));
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        component(Placement::Secondary, lambda, logs, &f.package).apply(&ctx(Placement::Secondary)).await.unwrap();
    }

    /// The three functions as `f`'s package deploys them in the primary region.
    fn deployed_all(f: &Fixture) -> BTreeMap<String, FunctionInfo> {
        let probe = component(Placement::Primary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        FUNCTION_KINDS.iter().map(|k| (probe.name(k), deployed(&probe, k))).collect()
    }

    /// A Lambda whose functions (`infos`) exist only once `create_function` acted: `answer(n)` is what
    /// the n-th create (1-based, all functions) answers after acting (`None`: it does not act
    /// and answers the error of `refuse(n)`). Returns the mock and the created names.
    fn lambda_world(
        infos: BTreeMap<String, FunctionInfo>,
        answer: impl Fn(u32) -> Option<Result<(), AwsError>> + Send + 'static,
        refuse: impl Fn(u32) -> AwsError + Send + 'static,
    ) -> (MockLambdaApi, Arc<std::sync::Mutex<Vec<String>>>) {
        let created: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let mut lambda = MockLambdaApi::new();
        let seen = created.clone();
        lambda.expect_get_function().returning(move |n| Ok(infos.get(n).filter(|_| seen.lock().unwrap().iter().any(|c| c == n)).cloned()));
        let made = created.clone();
        let mut calls = 0;
        lambda.expect_create_function().returning(move |spec, _| {
            calls += 1;
            let mut made = made.lock().unwrap();
            if made.contains(&spec.name) {
                return Err(AwsError::other("ResourceConflictException", format!("Function already exist: {}", spec.name)));
            }
            match answer(calls) {
                None => Err(refuse(calls)),
                Some(r) => {
                    made.push(spec.name.clone());
                    r.map(|()| arn("us-east-1", &spec.name))
                }
            }
        });
        (lambda, created)
    }

    fn logs_in_place() -> MockLogsApi {
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        logs
    }

    #[tokio::test(start_paused = true)]
    async fn create_is_retried_while_the_role_propagates_and_on_throttling() {
        let f = package(b"zip");
        // 1: role not assumable yet, 2: throttled (neither acts), then created.
        let (lambda, created) = lambda_world(
            deployed_all(&f),
            |n| (n > 2).then_some(Ok(())),
            |n| {
                if n == 1 {
                    AwsError::other("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
                } else {
                    AwsError::throttling()
                }
            },
        );
        component(Placement::Primary, lambda, logs_in_place(), &f.package).apply(&ctx(Placement::Primary)).await.unwrap();
        assert_eq!(created.lock().unwrap().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_are_adopted_one_function_each() {
        let f = package(b"zip");
        for lost in [
            AwsError::new("ServiceException", "internal error", Some(500)),
            AwsError::new("ServiceUnavailable", "connection reset", Some(503)),
            // The case: the SDK re-sent the create whose answer was lost.
            AwsError::other("ResourceConflictException", "Function already exist: api-primary-dev"),
        ] {
            let answer = lost.clone();
            let (lambda, created) = lambda_world(deployed_all(&f), move |_| Some(Err(answer.clone())), |_| AwsError::throttling());
            let c = ctx(Placement::Primary);
            component(Placement::Primary, lambda, logs_in_place(), &f.package).apply(&c).await.unwrap_or_else(|e| panic!("{lost}: {e}"));
            let mut names = created.lock().unwrap().clone();
            names.sort();
            assert_eq!(names, vec!["api-primary-dev", "processor-primary-dev", "replicator-primary-dev"], "{lost}");
            let j = c.journal_entries().await;
            for kind in FUNCTION_KINDS {
                let e = &j[&format!("function-{kind}")];
                assert_eq!(e.status, tandem_core::state::ResourceStatus::Done, "{lost}");
                assert_eq!(e.id.as_deref(), Some(arn("us-east-1", &format!("{kind}-primary-dev")).as_str()), "{lost}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_run_adopts_the_function_an_interrupted_create_made() {
        let f = package(b"zip");
        let (lambda, created) = lambda_world(deployed_all(&f), |_| Some(Ok(())), |_| AwsError::throttling());
        // The interrupted run created api-primary-dev but never journaled its answer.
        created.lock().unwrap().push("api-primary-dev".into());
        let comp = component(Placement::Primary, lambda, logs_in_place(), &f.package);
        let c = ctx(Placement::Primary).with_prior(crate::interrupted_state(&comp, &["function-api"]));
        comp.apply(&c).await.unwrap();
        assert_eq!(created.lock().unwrap().iter().filter(|n| *n == "api-primary-dev").count(), 1);
        let e = &c.journal_entries().await["function-api"];
        assert_eq!(e.status, tandem_core::state::ResourceStatus::Done);
        assert_eq!(e.id.as_deref(), Some(arn("us-east-1", "api-primary-dev").as_str()));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_log_group_answer_is_adopted() {
        let f = package(b"same");
        let probe = component(Placement::Primary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        let infos: BTreeMap<String, FunctionInfo> = FUNCTION_KINDS.iter().map(|k| (probe.name(k), deployed(&probe, k))).collect();
        let mut lambda = MockLambdaApi::new();
        lambda.expect_get_function().returning(move |n| Ok(infos.get(n).cloned()));
        let groups: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let mut logs = MockLogsApi::new();
        let seen = groups.clone();
        logs.expect_describe_log_group()
            .returning(move |n| Ok(seen.lock().unwrap().iter().any(|g| g == n).then(|| LogGroupInfo { name: n.into(), arn: String::new(), retention_days: None })));
        let made = groups.clone();
        logs.expect_create_log_group().times(3).returning(move |n, _| {
            made.lock().unwrap().push(n.to_string());
            Err(AwsError::new("ServiceUnavailableException", "reset", Some(503)))
        });
        logs.expect_put_retention_policy().times(3).returning(|_, _| Ok(()));
        let c = ctx(Placement::Primary);
        component(Placement::Primary, lambda, logs, &f.package).apply(&c).await.unwrap();
        assert_eq!(groups.lock().unwrap().len(), 3);
        let e = &c.journal_entries().await["log-group-api"];
        assert_eq!((e.status, e.id.as_deref()), (tandem_core::state::ResourceStatus::Done, Some("/aws/lambda/api-primary-dev")));
    }

    #[tokio::test(start_paused = true)]
    async fn role_never_propagating_times_out_naming_function_and_region() {
        let f = package(b"zip");
        let mut lambda = MockLambdaApi::new();
        lambda.expect_get_function().returning(|_| Ok(None));
        lambda.expect_create_function().returning(|_, _| {
            Err(AwsError::other("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."))
        });
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        let e = component(Placement::Primary, lambda, logs, &f.package).apply(&ctx(Placement::Primary)).await.unwrap_err();
        let s = e.to_string();
        assert!(s.contains("api-primary-dev") && s.contains("us-east-1") && s.contains("IAM role propagation"), "{s}");
    }

    #[tokio::test]
    async fn errors_name_function_and_region() {
        let f = package(b"zip");
        let mut lambda = MockLambdaApi::new();
        lambda.expect_get_function().returning(|_| Ok(None));
        lambda.expect_create_function().returning(|_, _| Err(AwsError::other("CodeStorageExceededException", "too much code")));
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        let c = ctx(Placement::Secondary);
        let e = component(Placement::Secondary, lambda, logs, &f.package).apply(&c).await.unwrap_err().to_string();
        assert!(e.contains("api-secondary-dev") && e.contains("us-east-2") && e.contains("CodeStorageExceeded"), "{e}");
    }

    #[tokio::test]
    async fn unbuilt_package_is_refused() {
        // No expectations at all: not a single AWS call may be made.
        let c = component(Placement::Primary, MockLambdaApi::new(), MockLogsApi::new(), &Package::unbuilt());
        let e = c.apply(&ctx(Placement::Primary)).await.unwrap_err();
        assert!(matches!(e, ComponentError::Invalid { .. }), "{e}");
        assert!(e.to_string().contains("unbuilt"), "{e}");
    }

    #[tokio::test]
    async fn destroy_deletes_functions_then_log_groups_and_treats_missing_as_done() {
        let f = package(b"zip");
        let mut lambda = MockLambdaApi::new();
        let mut logs = MockLogsApi::new();
        let mut seq = Sequence::new();
        for kind in FUNCTION_KINDS {
            let name = format!("{kind}-primary-dev");
            let missing = kind == "processor";
            lambda.expect_delete_function().with(eq(name)).times(1).in_sequence(&mut seq).returning(move |n| {
                if missing {
                    Err(AwsError::not_found("ResourceNotFoundException", format!("Function not found: {n}")))
                } else {
                    Ok(())
                }
            });
        }
        for kind in FUNCTION_KINDS {
            let name = log_group_name(&format!("{kind}-primary-dev"));
            logs.expect_delete_log_group().with(eq(name)).times(1).in_sequence(&mut seq).returning(|_| {
                Err(AwsError::not_found("ResourceNotFoundException", "The specified log group does not exist."))
            });
        }
        let prior = ComponentState::new("lambda", Placement::Primary, "us-east-1")
            .with_resource("function-api", &arn("us-east-1", "api-primary-dev"))
            .with_resource("log-group-api", "/aws/lambda/api-primary-dev");
        let c = ctx(Placement::Primary).with_prior(prior);
        component(Placement::Primary, lambda, logs, &f.package).destroy(&c).await.unwrap();
        assert!(c.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_delete_is_retried() {
        let f = package(b"zip");
        let mut lambda = MockLambdaApi::new();
        let mut n = 0;
        lambda.expect_delete_function().times(4).returning(move |_| {
            n += 1;
            if n == 1 {
                Err(AwsError::throttling())
            } else {
                Ok(())
            }
        });
        let mut logs = MockLogsApi::new();
        logs.expect_delete_log_group().times(3).returning(|_| Ok(()));
        component(Placement::Primary, lambda, logs, &f.package).destroy(&ctx(Placement::Primary)).await.unwrap();
    }

    #[tokio::test]
    async fn read_reports_code_drift_and_missing_functions() {
        let f = package(b"code");
        let probe = component(Placement::Primary, MockLambdaApi::new(), MockLogsApi::new(), &f.package);
        let mut infos: BTreeMap<String, FunctionInfo> = FUNCTION_KINDS.iter().map(|k| (probe.name(k), deployed(&probe, k))).collect();
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        let mut lambda = MockLambdaApi::new();
        let all = infos.clone();
        lambda.expect_get_function().returning(move |n| Ok(all.get(n).cloned()));
        let c = component(Placement::Primary, lambda, logs, &f.package);
        assert_eq!(c.read(&ctx(Placement::Primary)).await.unwrap(), Drift::InSync);

        if let Some(i) = infos.get_mut("api-primary-dev") {
            i.code_sha256 = "other".into();
        }
        infos.remove("replicator-primary-dev");
        let mut lambda = MockLambdaApi::new();
        lambda.expect_get_function().returning(move |n| Ok(infos.get(n).cloned()));
        let mut logs = MockLogsApi::new();
        logs.expect_describe_log_group().returning(|n| Ok(Some(group(n))));
        let c = component(Placement::Primary, lambda, logs, &f.package);
        match c.read(&ctx(Placement::Primary)).await.unwrap() {
            Drift::Missing { details } => {
                assert!(details.iter().any(|d| d.contains("replicator-primary-dev is missing")), "{details:?}");
                assert!(details.iter().any(|d| d.contains("api-primary-dev: code")), "{details:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
