//! Lambda: functions (create, describe, update code and configuration, delete) and the
//! resource policy that lets another service invoke a function (get, add, remove
//! `lambda:InvokeFunction` statements). [`LambdaApi`] is implemented for
//! [`aws_sdk_lambda::Client`] and mocked with `MockLambdaApi` (feature `mocks`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};
use aws_smithy_types::Blob;
use tandem_core::aws::none_if_not_found;
use tandem_core::AwsError;

/// Everything a function is created or configured with (code apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub name: String,
    pub role_arn: String,
    pub runtime: String,
    pub handler: String,
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_secs: i32,
    pub environment: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// What GetFunction reports about a function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub role_arn: String,
    pub runtime: String,
    pub handler: String,
    pub architectures: Vec<String>,
    pub memory_mb: i32,
    pub timeout_secs: i32,
    pub environment: BTreeMap<String, String>,
    /// Base64 SHA-256 of the deployed zip.
    pub code_sha256: String,
    /// `Pending`, `Active`, `Inactive`, `Failed`.
    pub state: String,
    pub state_reason: Option<String>,
    /// `InProgress`, `Successful`, `Failed`.
    pub last_update_status: String,
    pub last_update_reason: Option<String>,
    pub last_modified: String,
}

impl FunctionInfo {
    /// True when the function's configuration matches `spec` (tags apart).
    pub fn config_matches(&self, spec: &FunctionSpec) -> bool {
        self.role_arn == spec.role_arn
            && self.runtime == spec.runtime
            && self.handler == spec.handler
            && self.memory_mb == spec.memory_mb
            && self.timeout_secs == spec.timeout_secs
            && self.environment == spec.environment
    }

    /// The configuration differences with `spec`, for drift reports.
    pub fn config_diff(&self, spec: &FunctionSpec) -> Vec<String> {
        let mut d = Vec::new();
        if self.role_arn != spec.role_arn {
            d.push(format!("{}: role {} (want {})", self.name, self.role_arn, spec.role_arn));
        }
        if self.runtime != spec.runtime {
            d.push(format!("{}: runtime {} (want {})", self.name, self.runtime, spec.runtime));
        }
        if self.handler != spec.handler {
            d.push(format!("{}: handler {} (want {})", self.name, self.handler, spec.handler));
        }
        if self.memory_mb != spec.memory_mb {
            d.push(format!("{}: memory {} MB (want {})", self.name, self.memory_mb, spec.memory_mb));
        }
        if self.timeout_secs != spec.timeout_secs {
            d.push(format!("{}: timeout {} s (want {})", self.name, self.timeout_secs, spec.timeout_secs));
        }
        if self.environment != spec.environment {
            let keys: Vec<&String> = spec
                .environment
                .keys()
                .chain(self.environment.keys())
                .filter(|k| self.environment.get(*k) != spec.environment.get(*k))
                .collect();
            d.push(format!("{}: environment differs on {keys:?}", self.name));
        }
        d
    }
}

/// One statement of a function's resource policy, reduced to what components check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PermissionStatement {
    pub sid: String,
    /// The service principal (`events.amazonaws.com`, ...) or the plain principal string.
    pub principal: String,
    /// The `AWS:SourceArn` of an `ArnLike` / `ArnEquals` condition.
    pub source_arn: Option<String>,
}

/// Reserved concurrency and asynchronous-invocation limits of a function (`None`: not set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InvokeLimits {
    /// GetFunctionConcurrency's `ReservedConcurrentExecutions`.
    pub reserved_concurrency: Option<i32>,
    /// GetFunctionEventInvokeConfig's `MaximumEventAgeInSeconds`.
    pub max_event_age_secs: Option<i32>,
    /// GetFunctionEventInvokeConfig's `MaximumRetryAttempts`.
    pub max_retry_attempts: Option<i32>,
}

/// The Lambda calls of every crate: functions (compute) and resource-policy permissions
/// (compute, data, traffic, network).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LambdaApi: Send + Sync {
    /// The function, or `None` when it does not exist.
    async fn get_function(&self, name: &str) -> Result<Option<FunctionInfo>, AwsError>;
    /// Creates the function from zip bytes; returns its ARN.
    async fn create_function(&self, spec: &FunctionSpec, zip: &[u8]) -> Result<String, AwsError>;
    /// Replaces the code (and architecture).
    async fn update_function_code(&self, name: &str, architecture: &str, zip: &[u8]) -> Result<(), AwsError>;
    /// Replaces role, runtime, handler, memory, timeout and environment.
    async fn update_function_configuration(&self, spec: &FunctionSpec) -> Result<(), AwsError>;
    async fn delete_function(&self, name: &str) -> Result<(), AwsError>;
    /// The function's resource policy document (JSON), or `None` when it has none
    /// (Lambda answers ResourceNotFoundException both for a function without a policy and
    /// for a missing function; a missing function surfaces in the AddPermission that follows).
    async fn get_policy(&self, function: &str) -> Result<Option<String>, AwsError>;
    /// The statements of the function's resource policy (empty when it has none):
    /// [`LambdaApi::get_policy`] parsed by [`parse_policy`].
    async fn permission_statements(&self, function: &str) -> Result<Vec<PermissionStatement>, AwsError> {
        Ok(self.get_policy(function).await?.as_deref().map(parse_policy).unwrap_or_default())
    }
    /// AddPermission `lambda:InvokeFunction` for `principal`, restricted to `source_arn`.
    async fn add_permission(&self, function: &str, statement_id: &str, principal: &str, source_arn: &str) -> Result<(), AwsError>;
    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AwsError>;
    /// Reserved concurrency and asynchronous-invocation limits (absent settings are `None`).
    async fn get_invoke_limits(&self, name: &str) -> Result<InvokeLimits, AwsError>;
    /// PutFunctionConcurrency.
    async fn put_reserved_concurrency(&self, name: &str, reserved: i32) -> Result<(), AwsError>;
    /// PutFunctionEventInvokeConfig (maximum event age and retry attempts of asynchronous
    /// invocations).
    async fn put_async_limits(&self, name: &str, max_event_age_secs: i32, max_retry_attempts: i32) -> Result<(), AwsError>;
}

fn environment(vars: &BTreeMap<String, String>) -> Environment {
    Environment::builder().set_variables(Some(vars.clone().into_iter().collect())).build()
}

#[async_trait]
impl LambdaApi for aws_sdk_lambda::Client {
    #[tracing::instrument(level = "debug", skip(self))]
    async fn get_function(&self, name: &str) -> Result<Option<FunctionInfo>, AwsError> {
        let out = none_if_not_found(self.get_function().function_name(name).send().await.map_err(AwsError::from_sdk))?;
        let Some(out) = out else { return Ok(None) };
        let Some(c) = out.configuration() else { return Ok(None) };
        Ok(Some(FunctionInfo {
            name: c.function_name().unwrap_or(name).to_string(),
            arn: c.function_arn().unwrap_or_default().to_string(),
            role_arn: c.role().unwrap_or_default().to_string(),
            runtime: c.runtime().map(|r| r.as_str().to_string()).unwrap_or_default(),
            handler: c.handler().unwrap_or_default().to_string(),
            architectures: c.architectures().iter().map(|a| a.as_str().to_string()).collect(),
            memory_mb: c.memory_size().unwrap_or_default(),
            timeout_secs: c.timeout().unwrap_or_default(),
            environment: c
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            code_sha256: c.code_sha256().unwrap_or_default().to_string(),
            state: c.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
            state_reason: c.state_reason().map(str::to_string),
            last_update_status: c.last_update_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            last_update_reason: c.last_update_status_reason().map(str::to_string),
            last_modified: c.last_modified().unwrap_or_default().to_string(),
        }))
    }

    // The spec is not logged: its environment may carry configuration values.
    #[tracing::instrument(level = "debug", skip_all, fields(function = %spec.name, zip_bytes = zip.len()))]
    async fn create_function(&self, spec: &FunctionSpec, zip: &[u8]) -> Result<String, AwsError> {
        let out = self
            .create_function()
            .function_name(&spec.name)
            .role(&spec.role_arn)
            .runtime(Runtime::from(spec.runtime.as_str()))
            .handler(&spec.handler)
            .architectures(Architecture::from(spec.architecture.as_str()))
            .memory_size(spec.memory_mb)
            .timeout(spec.timeout_secs)
            .environment(environment(&spec.environment))
            .set_tags(Some(spec.tags.clone().into_iter().collect()))
            .code(FunctionCode::builder().zip_file(Blob::new(zip.to_vec())).build())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.function_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("MissingArn", "CreateFunction returned no FunctionArn"))
    }

    #[tracing::instrument(level = "debug", skip(self, zip), fields(zip_bytes = zip.len()))]
    async fn update_function_code(&self, name: &str, architecture: &str, zip: &[u8]) -> Result<(), AwsError> {
        self.update_function_code()
            .function_name(name)
            .architectures(Architecture::from(architecture))
            .zip_file(Blob::new(zip.to_vec()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(function = %spec.name))]
    async fn update_function_configuration(&self, spec: &FunctionSpec) -> Result<(), AwsError> {
        self.update_function_configuration()
            .function_name(&spec.name)
            .role(&spec.role_arn)
            .runtime(Runtime::from(spec.runtime.as_str()))
            .handler(&spec.handler)
            .memory_size(spec.memory_mb)
            .timeout(spec.timeout_secs)
            .environment(environment(&spec.environment))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn delete_function(&self, name: &str) -> Result<(), AwsError> {
        self.delete_function().function_name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn get_policy(&self, function: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.get_policy().function_name(function).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|o| o.policy().map(str::to_string)))
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn add_permission(&self, function: &str, statement_id: &str, principal: &str, source_arn: &str) -> Result<(), AwsError> {
        self.add_permission()
            .function_name(function)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal(principal)
            .source_arn(source_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AwsError> {
        self.remove_permission()
            .function_name(function)
            .statement_id(statement_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn get_invoke_limits(&self, name: &str) -> Result<InvokeLimits, AwsError> {
        let concurrency = self.get_function_concurrency().function_name(name).send().await.map_err(AwsError::from_sdk)?;
        let config = none_if_not_found(
            self.get_function_event_invoke_config().function_name(name).send().await.map_err(AwsError::from_sdk),
        )?;
        Ok(InvokeLimits {
            reserved_concurrency: concurrency.reserved_concurrent_executions(),
            max_event_age_secs: config.as_ref().and_then(|c| c.maximum_event_age_in_seconds()),
            max_retry_attempts: config.as_ref().and_then(|c| c.maximum_retry_attempts()),
        })
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn put_reserved_concurrency(&self, name: &str, reserved: i32) -> Result<(), AwsError> {
        self.put_function_concurrency()
            .function_name(name)
            .reserved_concurrent_executions(reserved)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn put_async_limits(&self, name: &str, max_event_age_secs: i32, max_retry_attempts: i32) -> Result<(), AwsError> {
        self.put_function_event_invoke_config()
            .function_name(name)
            .maximum_event_age_in_seconds(max_event_age_secs)
            .maximum_retry_attempts(max_retry_attempts)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

/// The statements of a policy document: an array, or a single statement object.
fn statements(policy: &str) -> Vec<serde_json::Value> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else { return Vec::new() };
    match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Parses a Lambda resource policy document into statements (none when it is not JSON).
pub fn parse_policy(policy: &str) -> Vec<PermissionStatement> {
    statements(policy)
        .iter()
        .map(|st| {
            let principal = match st.get("Principal") {
                Some(serde_json::Value::String(p)) => p.clone(),
                Some(serde_json::Value::Object(o)) => o.get("Service").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                _ => String::new(),
            };
            let source_arn = st
                .get("Condition")
                .and_then(|c| c.get("ArnLike").or_else(|| c.get("ArnEquals")))
                .and_then(|c| c.get("AWS:SourceArn"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            PermissionStatement {
                sid: st.get("Sid").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
                principal,
                source_arn,
            }
        })
        .collect()
}

/// True when the resource policy `policy` (JSON) has a statement `sid` whose `ArnLike`
/// source ARN condition is `source_arn` (or that has no such condition).
pub fn policy_has_statement(policy: &str, sid: &str, source_arn: &str) -> bool {
    statements(policy).iter().any(|s| {
        s.get("Sid").and_then(|v| v.as_str()) == Some(sid)
            && s.get("Condition")
                .and_then(|c| c.get("ArnLike"))
                .and_then(|c| c.get("AWS:SourceArn"))
                .and_then(|v| v.as_str())
                .is_none_or(|arn| arn == source_arn)
    })
}

/// True when `policy` has a statement `sid` (whatever its condition).
pub fn policy_has_sid(policy: &str, sid: &str) -> bool {
    statements(policy).iter().any(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::{json_body, Replay};

    #[test]
    fn finds_statement_by_sid_and_source_arn() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Sid":"events-primary-dev","Effect":"Allow",
            "Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction",
            "Resource":"arn:aws:lambda:us-east-1:1:function:processor-primary-dev",
            "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:events:us-east-1:1:rule/bus-dev/events-primary-dev"}}}]}"#;
        assert!(policy_has_statement(p, "events-primary-dev", "arn:aws:events:us-east-1:1:rule/bus-dev/events-primary-dev"));
        assert!(!policy_has_statement(p, "events-primary-dev", "arn:aws:events:us-east-1:1:rule/other"));
        assert!(!policy_has_statement(p, "other", "arn:aws:events:us-east-1:1:rule/bus-dev/events-primary-dev"));
        assert!(policy_has_sid(p, "events-primary-dev"));
        assert!(!policy_has_sid(p, "other"));
        assert!(!policy_has_sid("not json", "x"));
    }

    #[test]
    fn finds_sid_in_a_single_statement_object() {
        let p = r#"{"Version":"2012-10-17","Statement":{"Sid":"apigateway-abc","Effect":"Allow"}}"#;
        assert!(policy_has_sid(p, "apigateway-abc"));
        assert!(!policy_has_sid(p, "apigateway-xyz"));
        assert!(policy_has_statement(p, "apigateway-abc", "arn:any"), "no condition: any source");
    }

    #[test]
    fn parses_service_principal_and_source_arn() {
        let p = r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"elb-tgl","Effect":"Allow","Principal":{"Service":"elasticloadbalancing.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:tg"}}},{"Sid":"plain","Principal":"*","Condition":{"ArnEquals":{"AWS:SourceArn":"arn:eq"}}}]}"#;
        assert_eq!(
            parse_policy(p),
            vec![
                PermissionStatement {
                    sid: "elb-tgl".into(),
                    principal: "elasticloadbalancing.amazonaws.com".into(),
                    source_arn: Some("arn:tg".into())
                },
                PermissionStatement { sid: "plain".into(), principal: "*".into(), source_arn: Some("arn:eq".into()) },
            ]
        );
        assert!(parse_policy("not json").is_empty());
        assert!(parse_policy(r#"{"Version":"2012-10-17"}"#).is_empty());
    }

    #[test]
    fn config_diff_names_what_differs() {
        let spec = FunctionSpec {
            name: "f".into(),
            role_arn: "r".into(),
            runtime: "provided.al2023".into(),
            handler: "bootstrap".into(),
            architecture: "x86_64".into(),
            memory_mb: 256,
            timeout_secs: 10,
            environment: BTreeMap::from([("A".to_string(), "1".to_string())]),
            tags: BTreeMap::new(),
        };
        let mut info = FunctionInfo {
            name: "f".into(),
            role_arn: "r".into(),
            runtime: "provided.al2023".into(),
            handler: "bootstrap".into(),
            memory_mb: 256,
            timeout_secs: 10,
            environment: spec.environment.clone(),
            ..Default::default()
        };
        assert!(info.config_matches(&spec));
        assert!(info.config_diff(&spec).is_empty());
        info.memory_mb = 128;
        info.environment.insert("A".into(), "2".into());
        assert!(!info.config_matches(&spec));
        let d = info.config_diff(&spec);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("memory 128"));
        assert!(d[1].contains("\"A\""));
    }

    fn spec() -> FunctionSpec {
        FunctionSpec {
            name: "api-primary-t1".into(),
            role_arn: "arn:aws:iam::123456789012:role/lambda-api-t1".into(),
            runtime: "provided.al2023".into(),
            handler: "bootstrap".into(),
            architecture: "arm64".into(),
            memory_mb: 256,
            timeout_secs: 10,
            environment: BTreeMap::from([("TABLE".to_string(), "table-t1".to_string())]),
            tags: BTreeMap::from([("tandem:stack".to_string(), "t1".to_string())]),
        }
    }

    #[tokio::test]
    async fn create_function_sends_the_whole_spec_and_returns_the_arn() {
        let http = Replay::new(vec![(201, &[], r#"{"FunctionName":"api-primary-t1","FunctionArn":"arn:fn"}"#)]);
        let client = http.lambda();
        let arn = LambdaApi::create_function(&client, &spec(), b"zipbytes").await.unwrap();
        assert_eq!(arn, "arn:fn");
        let reqs = http.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, "POST");
        assert!(reqs[0].uri.ends_with("/2015-03-31/functions"), "{}", reqs[0].uri);
        let b = json_body(&reqs[0]);
        assert_eq!(b["FunctionName"], "api-primary-t1");
        assert_eq!(b["Role"], "arn:aws:iam::123456789012:role/lambda-api-t1");
        assert_eq!(b["Runtime"], "provided.al2023");
        assert_eq!(b["Handler"], "bootstrap");
        assert_eq!(b["Architectures"], serde_json::json!(["arm64"]));
        assert_eq!(b["MemorySize"], 256);
        assert_eq!(b["Timeout"], 10);
        assert_eq!(b["Environment"]["Variables"]["TABLE"], "table-t1");
        assert_eq!(b["Tags"]["tandem:stack"], "t1");
        assert_eq!(b["Code"]["ZipFile"], "emlwYnl0ZXM=", "zip bytes, base64");
    }

    #[tokio::test]
    async fn create_function_without_arn_in_the_answer_is_an_error() {
        let http = Replay::new(vec![(201, &[], r#"{"FunctionName":"api-primary-t1"}"#)]);
        let err = LambdaApi::create_function(&http.lambda(), &spec(), b"z").await.unwrap_err();
        assert_eq!(err.code, "MissingArn");
    }

    #[tokio::test]
    async fn update_calls_send_code_and_configuration() {
        let http = Replay::new(vec![(200, &[], "{}"), (200, &[], "{}")]);
        let client = http.lambda();
        LambdaApi::update_function_code(&client, "api-primary-t1", "x86_64", b"zip").await.unwrap();
        LambdaApi::update_function_configuration(&client, &spec()).await.unwrap();
        let reqs = http.requests();
        assert_eq!(reqs[0].method, "PUT");
        assert!(reqs[0].uri.ends_with("/functions/api-primary-t1/code"), "{}", reqs[0].uri);
        let code = json_body(&reqs[0]);
        assert_eq!(code["Architectures"], serde_json::json!(["x86_64"]));
        assert_eq!(code["ZipFile"], "emlw");
        assert!(reqs[1].uri.ends_with("/functions/api-primary-t1/configuration"), "{}", reqs[1].uri);
        let conf = json_body(&reqs[1]);
        assert_eq!(conf["Role"], "arn:aws:iam::123456789012:role/lambda-api-t1");
        assert_eq!(conf["Environment"]["Variables"]["TABLE"], "table-t1");
        assert!(conf.get("Tags").is_none(), "tags are not part of UpdateFunctionConfiguration");
    }

    #[tokio::test]
    async fn get_function_maps_the_configuration() {
        let body = r#"{"Configuration":{"FunctionName":"f","FunctionArn":"arn:f","Role":"arn:r","Runtime":"provided.al2023",
            "Handler":"bootstrap","Architectures":["arm64"],"MemorySize":128,"Timeout":5,
            "Environment":{"Variables":{"A":"1"}},"CodeSha256":"abc=","State":"Active",
            "LastUpdateStatus":"Failed","LastUpdateStatusReason":"boom","LastModified":"2026-01-01T00:00:00.000+0000"}}"#;
        let http = Replay::new(vec![(200, &[], body)]);
        let info = LambdaApi::get_function(&http.lambda(), "f").await.unwrap().unwrap();
        assert_eq!(info.arn, "arn:f");
        assert_eq!(info.architectures, vec!["arm64".to_string()]);
        assert_eq!(info.memory_mb, 128);
        assert_eq!(info.environment, BTreeMap::from([("A".to_string(), "1".to_string())]));
        assert_eq!(info.state, "Active");
        assert_eq!(info.last_update_status, "Failed");
        assert_eq!(info.last_update_reason.as_deref(), Some("boom"));
        assert!(http.requests()[0].uri.ends_with("/2015-03-31/functions/f"), "{}", http.requests()[0].uri);
    }

    const NOT_FOUND: (u16, &[(&str, &str)], &str) = (
        404,
        &[("x-amzn-errortype", "ResourceNotFoundException")],
        r#"{"Type":"User","Message":"Function not found"}"#,
    );

    #[tokio::test]
    async fn missing_function_and_missing_policy_read_as_none() {
        let http = Replay::new(vec![NOT_FOUND, NOT_FOUND, NOT_FOUND]);
        let client = http.lambda();
        assert_eq!(LambdaApi::get_function(&client, "gone").await.unwrap(), None);
        assert_eq!(LambdaApi::get_policy(&client, "gone").await.unwrap(), None);
        assert!(LambdaApi::permission_statements(&client, "gone").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn other_errors_keep_code_and_status() {
        let http = Replay::new(vec![(
            409,
            &[("x-amzn-errortype", "ResourceConflictException")],
            r#"{"Type":"User","Message":"The statement id (s) provided already exists"}"#,
        )]);
        let err = LambdaApi::add_permission(&http.lambda(), "f", "s", "events.amazonaws.com", "arn:rule").await.unwrap_err();
        assert_eq!(err.code, "ResourceConflictException");
        assert_eq!(err.status, Some(409));
        assert!(err.is_conflict());
    }

    #[tokio::test]
    async fn permissions_are_invoke_only_and_scoped_to_the_source() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"s","Principal":{"Service":"events.amazonaws.com"},"Condition":{"ArnLike":{"AWS:SourceArn":"arn:rule"}}}]}"#;
        let answer = serde_json::json!({ "Policy": policy, "RevisionId": "1" }).to_string();
        let http = Replay::new(vec![(201, &[], r#"{"Statement":"{}"}"#), (200, &[], answer.as_str()), (204, &[], "")]);
        let client = http.lambda();
        LambdaApi::add_permission(&client, "f", "s", "events.amazonaws.com", "arn:rule").await.unwrap();
        let st = LambdaApi::permission_statements(&client, "f").await.unwrap();
        assert_eq!(
            st,
            vec![PermissionStatement { sid: "s".into(), principal: "events.amazonaws.com".into(), source_arn: Some("arn:rule".into()) }]
        );
        LambdaApi::remove_permission(&client, "f", "s").await.unwrap();
        let reqs = http.requests();
        assert!(reqs[0].uri.ends_with("/functions/f/policy"), "{}", reqs[0].uri);
        let add = json_body(&reqs[0]);
        assert_eq!(add["Action"], "lambda:InvokeFunction");
        assert_eq!(add["StatementId"], "s");
        assert_eq!(add["Principal"], "events.amazonaws.com");
        assert_eq!(add["SourceArn"], "arn:rule");
        assert_eq!(reqs[1].method, "GET");
        assert_eq!(reqs[2].method, "DELETE");
        assert!(reqs[2].uri.ends_with("/functions/f/policy/s"), "{}", reqs[2].uri);
    }

    #[tokio::test]
    async fn mock_default_method_is_mocked_and_str_arguments_match_string_predicates() {
        use mockall::predicate::eq;
        let mut m = MockLambdaApi::new();
        m.expect_permission_statements().with(eq("f".to_string())).times(1).returning(|_| Ok(vec![]));
        m.expect_add_permission()
            .with(eq("f"), eq("s".to_string()), eq("p"), eq("arn"))
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        m.expect_remove_permission().withf(|f, s| f == "f" && s == "s").times(1).returning(|_, _| Ok(()));
        assert!(m.permission_statements("f").await.unwrap().is_empty());
        m.add_permission("f", "s", "p", "arn").await.unwrap();
        m.remove_permission("f", "s").await.unwrap();
    }
}
