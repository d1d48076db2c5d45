//! The Lambda client trait (resource-policy permissions only: the API component lets API
//! Gateway invoke the API function), and its aws-sdk implementation.

use aws_sdk_lambda as lambda;
use tandem_core::AwsError;

/// Lambda permission calls used by the API component.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait LambdaPermissionsApi: Send + Sync {
    /// AddPermission `lambda:InvokeFunction` for `principal`, limited to `source_arn`.
    async fn add_permission(&self, function: &str, statement_id: &str, principal: &str, source_arn: &str) -> Result<(), AwsError>;
    /// The function's resource policy (JSON), or None when it has none.
    async fn get_policy(&self, function: &str) -> Result<Option<String>, AwsError>;
    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AwsError>;
}

/// The real client of one region.
pub struct LambdaClient(pub lambda::Client);

#[async_trait::async_trait]
impl LambdaPermissionsApi for LambdaClient {
    async fn add_permission(&self, function: &str, statement_id: &str, principal: &str, source_arn: &str) -> Result<(), AwsError> {
        self.0
            .add_permission()
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

    async fn get_policy(&self, function: &str) -> Result<Option<String>, AwsError> {
        match self.0.get_policy().function_name(function).send().await.map_err(AwsError::from_sdk) {
            Ok(out) => Ok(out.policy().map(str::to_string)),
            // A function without a resource policy answers ResourceNotFoundException; a missing
            // function surfaces in the AddPermission that follows.
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AwsError> {
        self.0.remove_permission().function_name(function).statement_id(statement_id).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

/// True when the policy JSON holds a statement with id `sid`.
pub fn policy_has_statement(policy: &str, sid: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(policy)
        .ok()
        .and_then(|v| v.get("Statement").and_then(|s| s.as_array()).cloned())
        .is_some_and(|stmts| stmts.iter().any(|s| s.get("Sid").and_then(|x| x.as_str()) == Some(sid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_statement_by_sid() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigateway-abc","Effect":"Allow"}]}"#;
        assert!(policy_has_statement(p, "apigateway-abc"));
        assert!(!policy_has_statement(p, "apigateway-xyz"));
        assert!(!policy_has_statement("not json", "apigateway-abc"));
    }
}
