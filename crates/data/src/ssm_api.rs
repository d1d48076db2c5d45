//! The Parameter Store calls of the `parameters` component ([`SsmApi`]), implemented for
//! [`aws_sdk_ssm::Client`] and mocked with `MockSsmApi` (feature `mocks`).
//!
//! [`Parameter`] may carry a decrypted SecureString value: its `Debug` output redacts it, and
//! nothing in this crate logs or stores it.

use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterType, Tag};
use tandem_core::AwsError;

/// Parameter Store types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    StringList,
    /// Encrypted with the region's AWS managed key `alias/aws/ssm`.
    SecureString,
}

impl ParamKind {
    fn sdk(self) -> ParameterType {
        match self {
            ParamKind::String => ParameterType::String,
            ParamKind::StringList => ParameterType::StringList,
            ParamKind::SecureString => ParameterType::SecureString,
        }
    }

    fn from_sdk(t: Option<&ParameterType>) -> Self {
        match t {
            Some(ParameterType::SecureString) => ParamKind::SecureString,
            Some(ParameterType::StringList) => ParamKind::StringList,
            _ => ParamKind::String,
        }
    }
}

/// A parameter with its (decrypted) value.
#[derive(Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub kind: ParamKind,
    pub value: String,
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.kind == ParamKind::SecureString { "<redacted>" } else { self.value.as_str() };
        f.debug_struct("Parameter").field("name", &self.name).field("kind", &self.kind).field("value", &value).finish()
    }
}

/// The Parameter Store calls of the `parameters` component (one client per region).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SsmApi: Send + Sync {
    /// Every parameter under `path` (recursive, paginated), SecureStrings decrypted.
    async fn get_parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, AwsError>;
    /// PutParameter without overwrite, with tags (fails with ParameterAlreadyExists).
    async fn create_parameter(&self, parameter: &Parameter, description: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    /// PutParameter with Overwrite (no tags: AWS refuses tags with overwrite).
    async fn overwrite_parameter(&self, parameter: &Parameter) -> Result<(), AwsError>;
    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError>;
}

fn build_err(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("building the request: {e}"))
}

#[async_trait]
impl SsmApi for aws_sdk_ssm::Client {
    async fn get_parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, AwsError> {
        // The API wants the hierarchy without a trailing slash.
        let path = match path.trim_end_matches('/') {
            "" => "/",
            p => p,
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .get_parameters_by_path()
                .path(path)
                .recursive(true)
                .with_decryption(true)
                .max_results(10)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            out.extend(page.parameters().iter().filter_map(|p| {
                Some(Parameter {
                    name: p.name()?.to_string(),
                    kind: ParamKind::from_sdk(p.r#type()),
                    value: p.value().unwrap_or_default().to_string(),
                })
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn create_parameter(&self, parameter: &Parameter, description: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        let tags = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err))
            .collect::<Result<Vec<_>, _>>()?;
        self.put_parameter()
            .name(&parameter.name)
            .value(&parameter.value)
            .r#type(parameter.kind.sdk())
            .description(description)
            .overwrite(false)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn overwrite_parameter(&self, parameter: &Parameter) -> Result<(), AwsError> {
        self.put_parameter()
            .name(&parameter.name)
            .value(&parameter.value)
            .r#type(parameter.kind.sdk())
            .overwrite(true)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        self.delete_parameter().name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}
