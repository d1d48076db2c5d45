//! The Lambda calls of the load balancer component: only the resource-based permission that
//! lets Elastic Load Balancing invoke the API function from one target group.

use tandem_core::AwsError;

/// One statement of a function's resource policy, reduced to what the component checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PermissionStatement {
    pub sid: String,
    pub principal: String,
    pub source_arn: Option<String>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait LambdaApi: Send + Sync {
    /// The statements of the function's resource policy (empty when it has none).
    async fn permission_statements(
        &self,
        function: String,
    ) -> Result<Vec<PermissionStatement>, AwsError>;
    /// `lambda:InvokeFunction` for `principal`, scoped to `source_arn`.
    async fn add_permission(
        &self,
        function: String,
        statement_id: String,
        principal: String,
        source_arn: String,
    ) -> Result<(), AwsError>;
    async fn remove_permission(
        &self,
        function: String,
        statement_id: String,
    ) -> Result<(), AwsError>;
}

/// Parses a Lambda resource policy document into statements.
pub fn parse_policy(policy: &str) -> Vec<PermissionStatement> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(v @ serde_json::Value::Object(_)) => vec![v.clone()],
        _ => Vec::new(),
    };
    statements
        .iter()
        .map(|st| {
            let principal = match st.get("Principal") {
                Some(serde_json::Value::String(p)) => p.clone(),
                Some(serde_json::Value::Object(o)) => o
                    .get("Service")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                _ => String::new(),
            };
            let source_arn = st
                .get("Condition")
                .and_then(|c| c.get("ArnLike").or_else(|| c.get("ArnEquals")))
                .and_then(|c| c.get("AWS:SourceArn"))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            PermissionStatement {
                sid: st
                    .get("Sid")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                principal,
                source_arn,
            }
        })
        .collect()
}

#[async_trait::async_trait]
impl LambdaApi for aws_sdk_lambda::Client {
    async fn permission_statements(
        &self,
        function: String,
    ) -> Result<Vec<PermissionStatement>, AwsError> {
        match self
            .get_policy()
            .function_name(function)
            .send()
            .await
            .map_err(AwsError::from_sdk)
        {
            Ok(out) => Ok(out.policy().map(parse_policy).unwrap_or_default()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn add_permission(
        &self,
        function: String,
        statement_id: String,
        principal: String,
        source_arn: String,
    ) -> Result<(), AwsError> {
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

    async fn remove_permission(
        &self,
        function: String,
        statement_id: String,
    ) -> Result<(), AwsError> {
        self.remove_permission()
            .function_name(function)
            .statement_id(statement_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_service_principal_and_source_arn() {
        let p = r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"elb-tgl","Effect":"Allow","Principal":{"Service":"elasticloadbalancing.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:tg"}}}]}"#;
        let st = parse_policy(p);
        assert_eq!(
            st,
            vec![PermissionStatement {
                sid: "elb-tgl".into(),
                principal: "elasticloadbalancing.amazonaws.com".into(),
                source_arn: Some("arn:tg".into())
            }]
        );
        assert!(parse_policy("not json").is_empty());
    }
}
