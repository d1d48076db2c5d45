//! The CloudWatch Logs calls of this crate (the functions' log groups), as a trait
//! implemented for [`aws_sdk_cloudwatchlogs::Client`] and mocked with `MockLogsApi`
//! (feature `mocks`).

use tandem_core::paging::PageTokens;
use async_trait::async_trait;
use tandem_core::AwsError;

/// What DescribeLogGroups reports about one log group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogGroupInfo {
    pub name: String,
    pub arn: String,
    pub retention_days: Option<i32>,
}

/// CloudWatch Logs API surface used by the functions component.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LogsApi: Send + Sync {
    /// The log group named exactly `name`, or `None`.
    async fn describe_log_group(&self, name: &str) -> Result<Option<LogGroupInfo>, AwsError>;
    async fn create_log_group(&self, name: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    async fn put_retention_policy(&self, name: &str, days: i32) -> Result<(), AwsError>;
    async fn delete_log_group(&self, name: &str) -> Result<(), AwsError>;
}

#[async_trait]
impl LogsApi for aws_sdk_cloudwatchlogs::Client {
    async fn describe_log_group(&self, name: &str) -> Result<Option<LogGroupInfo>, AwsError> {
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("DescribeLogGroups", name);
        loop {
            let out = self
                .describe_log_groups()
                .log_group_name_prefix(name)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            if let Some(g) = out.log_groups().iter().find(|g| g.log_group_name() == Some(name)) {
                return Ok(Some(LogGroupInfo {
                    name: name.to_string(),
                    arn: g.arn().unwrap_or_default().trim_end_matches(":*").to_string(),
                    retention_days: g.retention_in_days(),
                }));
            }
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(None),
            }
        }
    }

    async fn create_log_group(&self, name: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        self.create_log_group()
            .log_group_name(name)
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn put_retention_policy(&self, name: &str, days: i32) -> Result<(), AwsError> {
        self.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_log_group(&self, name: &str) -> Result<(), AwsError> {
        self.delete_log_group().log_group_name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_token_ends_the_search_with_an_error() {
        let page = r#"{"logGroups":[{"logGroupName":"/aws/lambda/other"}],"nextToken":"t1"}"#;
        let http = Replay::repeat((200u16, &[][..], page), 5);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&http.sdk_config());
        let e = LogsApi::describe_log_group(&logs, "/aws/lambda/mine").await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert!(e.message.contains("DescribeLogGroups of /aws/lambda/mine"), "{e}");
        assert_eq!(http.requests().len(), 2);
    }
}
