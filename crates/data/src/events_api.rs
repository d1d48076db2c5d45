//! The EventBridge and Lambda calls of the `parameter-replication` component:
//! [`EventsApi`] (rule and targets on the default bus) and [`LambdaPermissionApi`] (the
//! resource policy of the replicator function), implemented for the aws-sdk clients and
//! mocked with `MockEventsApi` / `MockLambdaPermissionApi` (feature `mocks`).

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use tandem_core::aws::none_if_not_found;
use tandem_core::AwsError;

/// What the component needs to know about a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleInfo {
    pub arn: String,
    pub event_pattern: Option<String>,
    /// `ENABLED`, `DISABLED`, ...
    pub state: String,
}

/// EventBridge rule calls (default event bus).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventsApi: Send + Sync {
    /// DescribeRule; None when the rule does not exist.
    async fn describe_rule(&self, name: &str) -> Result<Option<RuleInfo>, AwsError>;
    /// PutRule (ENABLED); tags apply when the rule is created. Returns the rule ARN.
    async fn put_rule(&self, name: &str, event_pattern: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError>;
    /// ListTargetsByRule: (target id, target ARN).
    async fn list_targets(&self, rule: &str) -> Result<Vec<(String, String)>, AwsError>;
    /// PutTargets with one target; fails when the entry failed.
    async fn put_target(&self, rule: &str, id: &str, arn: &str) -> Result<(), AwsError>;
    async fn remove_targets(&self, rule: &str, ids: Vec<String>) -> Result<(), AwsError>;
    async fn delete_rule(&self, name: &str) -> Result<(), AwsError>;
}

/// Lambda resource-policy calls.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LambdaPermissionApi: Send + Sync {
    /// The function's resource policy JSON, None when it has none.
    async fn get_policy(&self, function: &str) -> Result<Option<String>, AwsError>;
    /// AddPermission lambda:InvokeFunction for `principal`, scoped to `source_arn`.
    async fn add_permission(&self, function: &str, statement_id: &str, principal: &str, source_arn: &str) -> Result<(), AwsError>;
    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AwsError>;
}

fn build_err(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("building the request: {e}"))
}

#[async_trait]
impl EventsApi for aws_sdk_eventbridge::Client {
    async fn describe_rule(&self, name: &str) -> Result<Option<RuleInfo>, AwsError> {
        let out = none_if_not_found(self.describe_rule().name(name).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.map(|out| RuleInfo {
            arn: out.arn().unwrap_or_default().to_string(),
            event_pattern: out.event_pattern().map(str::to_string),
            state: out.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        }))
    }

    async fn put_rule(&self, name: &str, event_pattern: &str, description: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        let tags = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .put_rule()
            .name(name)
            .event_pattern(event_pattern)
            .description(description)
            .state(RuleState::Enabled)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.rule_arn().map(str::to_string).ok_or_else(|| AwsError::other("MissingRuleArn", "PutRule returned no ARN"))
    }

    async fn list_targets(&self, rule: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .list_targets_by_rule()
                .rule(rule)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(out.targets().iter().map(|t| (t.id().to_string(), t.arn().to_string())));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(all),
            }
        }
    }

    async fn put_target(&self, rule: &str, id: &str, arn: &str) -> Result<(), AwsError> {
        let target = Target::builder().id(id).arn(arn).build().map_err(build_err)?;
        let out = self.put_targets().rule(rule).targets(target).send().await.map_err(AwsError::from_sdk)?;
        if let Some(f) = out.failed_entries().first() {
            return Err(AwsError::other(
                f.error_code().unwrap_or("PutTargetsFailed"),
                f.error_message().unwrap_or("target was not added").to_string(),
            ));
        }
        Ok(())
    }

    async fn remove_targets(&self, rule: &str, ids: Vec<String>) -> Result<(), AwsError> {
        let out = self.remove_targets().rule(rule).set_ids(Some(ids)).send().await.map_err(AwsError::from_sdk)?;
        if let Some(f) = out.failed_entries().first() {
            return Err(AwsError::other(
                f.error_code().unwrap_or("RemoveTargetsFailed"),
                f.error_message().unwrap_or("target was not removed").to_string(),
            ));
        }
        Ok(())
    }

    async fn delete_rule(&self, name: &str) -> Result<(), AwsError> {
        self.delete_rule().name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[async_trait]
impl LambdaPermissionApi for aws_sdk_lambda::Client {
    async fn get_policy(&self, function: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.get_policy().function_name(function).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|out| out.policy().map(str::to_string)))
    }

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

    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AwsError> {
        self.remove_permission()
            .function_name(function)
            .statement_id(statement_id)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }
}
