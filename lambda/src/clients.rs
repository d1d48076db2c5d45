//! The AWS calls the functions make, behind small traits so the handlers are unit-tested
//! with mockall mocks. Implemented for the real aws-sdk clients.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssm::types::ParameterType;

/// An AWS call failed: the service's error code (or the SDK's failure kind) and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CallError {
    pub code: String,
    pub message: String,
}

impl CallError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    fn from_sdk<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match err.as_service_error() {
            Some(service) => Self::new(
                service.code().unwrap_or("Unknown"),
                service.message().unwrap_or_default(),
            ),
            None => Self::new(
                "SdkError",
                aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string(),
            ),
        }
    }
}

/// A stored item of the small JSON API, or an event record: string attributes only.
pub type Item = BTreeMap<String, String>;

/// DynamoDB access on the stack's table (key `pk` + `sk`, both strings).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TableApi: Send + Sync {
    /// DescribeTable: the table exists and answers.
    async fn describe(&self, table: &str) -> Result<(), CallError>;
    async fn get_item(&self, table: &str, pk: &str, sk: &str) -> Result<Option<Item>, CallError>;
    async fn put_item(&self, table: &str, item: Item) -> Result<(), CallError>;
    /// Returns whether an item was deleted.
    async fn delete_item(&self, table: &str, pk: &str, sk: &str) -> Result<bool, CallError>;
}

/// A parameter as read from Parameter Store (value decrypted).
#[derive(Clone, PartialEq)]
pub struct Parameter {
    pub value: String,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
}

impl std::fmt::Debug for Parameter {
    // Never print a parameter's value: it may be a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameter")
            .field("kind", &self.kind)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// Parameter Store access in one region.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ParameterApi: Send + Sync {
    /// GetParametersByPath (one page, one result): the path is readable.
    async fn check_path(&self, path: &str) -> Result<(), CallError>;
    /// GetParameter WithDecryption; `None` when it does not exist.
    async fn get(&self, name: &str) -> Result<Option<Parameter>, CallError>;
    /// PutParameter Overwrite (SecureString encrypted with the region's default key).
    async fn put(&self, name: &str, parameter: &Parameter) -> Result<(), CallError>;
    /// DeleteParameter; `false` when it did not exist.
    async fn delete(&self, name: &str) -> Result<bool, CallError>;
}

#[async_trait]
impl TableApi for aws_sdk_dynamodb::Client {
    async fn describe(&self, table: &str) -> Result<(), CallError> {
        self.describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }

    async fn get_item(&self, table: &str, pk: &str, sk: &str) -> Result<Option<Item>, CallError> {
        let out = self
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.to_string()))
            .key("sk", AttributeValue::S(sk.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(out.item().map(|item| {
            item.iter()
                .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone())))
                .collect()
        }))
    }

    async fn put_item(&self, table: &str, item: Item) -> Result<(), CallError> {
        let item = item
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect();
        self.put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(())
    }

    async fn delete_item(&self, table: &str, pk: &str, sk: &str) -> Result<bool, CallError> {
        let out = self
            .delete_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.to_string()))
            .key("sk", AttributeValue::S(sk.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(CallError::from_sdk)?;
        Ok(out.attributes().is_some())
    }
}

fn ssm_error<E, R>(err: aws_sdk_ssm::error::SdkError<E, R>) -> CallError
where
    E: aws_sdk_ssm::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => CallError::new(
            service.code().unwrap_or("Unknown"),
            service.message().unwrap_or_default(),
        ),
        None => CallError::new(
            "SdkError",
            aws_sdk_ssm::error::DisplayErrorContext(&err).to_string(),
        ),
    }
}

#[async_trait]
impl ParameterApi for aws_sdk_ssm::Client {
    async fn check_path(&self, path: &str) -> Result<(), CallError> {
        // `/tandem/s` (no trailing slash): the form IAM policies name as the path's ARN.
        let trimmed = path.trim_end_matches('/');
        self.get_parameters_by_path()
            .path(if trimmed.is_empty() { "/" } else { trimmed })
            .max_results(1)
            .send()
            .await
            .map_err(ssm_error)?;
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Option<Parameter>, CallError> {
        match self
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => Ok(out.parameter().map(|p| Parameter {
                value: p.value().unwrap_or_default().to_string(),
                kind: p
                    .r#type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_else(|| "String".into()),
            })),
            Err(e) => {
                let e = ssm_error(e);
                if e.code == "ParameterNotFound" {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn put(&self, name: &str, parameter: &Parameter) -> Result<(), CallError> {
        self.put_parameter()
            .name(name)
            .value(&parameter.value)
            .r#type(ParameterType::from(parameter.kind.as_str()))
            .overwrite(true)
            .send()
            .await
            .map_err(ssm_error)?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<bool, CallError> {
        match self.delete_parameter().name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = ssm_error(e);
                if e.code == "ParameterNotFound" {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_debug_never_shows_the_value() {
        let p = Parameter {
            value: "s3cr3t".into(),
            kind: "SecureString".into(),
        };
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("SecureString"),
            "{shown}"
        );
    }
}
