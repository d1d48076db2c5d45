//! The Lambda calls of this crate, as a trait implemented for [`aws_sdk_lambda::Client`]
//! and mocked with `MockLambdaApi` (feature `mocks`).

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

/// Lambda API surface used by the functions and events components.
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
    /// The resource policy document, or `None` when the function has none.
    async fn get_policy(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// Adds a `lambda:InvokeFunction` statement for `principal` restricted to `source_arn`.
    async fn add_permission(&self, name: &str, statement_id: &str, principal: &str, source_arn: &str) -> Result<(), AwsError>;
    async fn remove_permission(&self, name: &str, statement_id: &str) -> Result<(), AwsError>;
}

fn environment(vars: &BTreeMap<String, String>) -> Environment {
    Environment::builder().set_variables(Some(vars.clone().into_iter().collect())).build()
}

#[async_trait]
impl LambdaApi for aws_sdk_lambda::Client {
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

    async fn delete_function(&self, name: &str) -> Result<(), AwsError> {
        self.delete_function().function_name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn get_policy(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.get_policy().function_name(name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|o| o.policy().map(str::to_string)))
    }

    async fn add_permission(&self, name: &str, statement_id: &str, principal: &str, source_arn: &str) -> Result<(), AwsError> {
        self.add_permission()
            .function_name(name)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal(principal)
            .source_arn(source_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn remove_permission(&self, name: &str, statement_id: &str) -> Result<(), AwsError> {
        self.remove_permission().function_name(name).statement_id(statement_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

/// True when the resource policy `policy` (JSON) has a statement `sid` whose source ARN
/// condition is `source_arn`.
pub fn policy_has_statement(policy: &str, sid: &str, source_arn: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else { return false };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    statements.iter().any(|s| {
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
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else { return false };
    match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().any(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid)),
        Some(s) => s.get("Sid").and_then(|v| v.as_str()) == Some(sid),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!policy_has_sid("not json", "x"));
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
}
