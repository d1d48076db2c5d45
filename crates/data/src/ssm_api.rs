//! The Parameter Store calls of the `parameters` component ([`SsmApi`]), implemented for
//! [`aws_sdk_ssm::Client`] and mocked with `MockSsmApi` (feature `mocks`).
//!
//! [`Parameter`] may carry a decrypted SecureString value: its `Debug` output redacts it, and
//! nothing in this crate logs or stores it.

use tandem_core::paging::PageTokens;
use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use tandem_core::AwsError;

/// Bound of every paginated listing (GetParametersByPath: 10 a page, DescribeParameters: 50).
pub const MAX_PAGES: usize = 1000;

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
#[derive(Clone)]
pub struct Parameter {
    pub name: String,
    pub kind: ParamKind,
    pub value: String,
    /// When it was last written (Parameter Store's `LastModifiedDate`, Unix milliseconds), when
    /// read from AWS; `None` for a parameter built to be written. Not part of equality: two
    /// parameters are equal when name, type and value are.
    pub modified_ms: Option<i64>,
}

impl Parameter {
    /// A parameter to write (no modification time).
    pub fn new(name: impl Into<String>, kind: ParamKind, value: impl Into<String>) -> Self {
        Self { name: name.into(), kind, value: value.into(), modified_ms: None }
    }
}

impl PartialEq for Parameter {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

impl Eq for Parameter {}

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
    /// GetParameter WithDecryption; `None` when it does not exist.
    async fn get_parameter(&self, name: &str) -> Result<Option<Parameter>, AwsError>;
    /// PutParameter without overwrite, with tags (fails with ParameterAlreadyExists).
    async fn create_parameter(&self, parameter: &Parameter, description: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    /// PutParameter with Overwrite (no tags: AWS refuses tags with overwrite).
    async fn overwrite_parameter(&self, parameter: &Parameter) -> Result<(), AwsError>;
    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError>;
    /// AddTagsToResource on a parameter (the way to tag one that PutParameter overwrites).
    async fn add_tags(&self, name: &str, tags: Vec<(String, String)>) -> Result<(), AwsError>;
    /// Names of the parameters under `path` (recursive) tagged `tag_key` = `tag_value`
    /// (DescribeParameters with a Path and a `tag:` filter, paginated); no value is read.
    async fn names_tagged(&self, path: &str, tag_key: &str, tag_value: &str) -> Result<Vec<String>, AwsError>;
}

fn sdk_tags(tags: Vec<(String, String)>) -> Result<Vec<Tag>, AwsError> {
    tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_err)).collect()
}

fn too_many_pages(operation: &str, path: &str) -> AwsError {
    AwsError::other("TooManyPages", format!("{operation} of {path} did not end within {MAX_PAGES} pages"))
}

/// The hierarchy as the APIs want it: without a trailing slash.
fn hierarchy(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

fn build_err(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("building the request: {e}"))
}

#[async_trait]
impl SsmApi for aws_sdk_ssm::Client {
    async fn get_parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, AwsError> {
        let path = hierarchy(path);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("GetParametersByPath", path);
        for _ in 0..MAX_PAGES {
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
                    modified_ms: p.last_modified_date().and_then(|d| d.to_millis().ok()),
                })
            }));
            match pages.next(page.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
        Err(too_many_pages("GetParametersByPath", path))
    }

    async fn get_parameter(&self, name: &str) -> Result<Option<Parameter>, AwsError> {
        match self.get_parameter().name(name).with_decryption(true).send().await.map_err(AwsError::from_sdk) {
            Ok(o) => Ok(o.parameter().map(|p| Parameter {
                name: p.name().unwrap_or(name).to_string(),
                kind: ParamKind::from_sdk(p.r#type()),
                value: p.value().unwrap_or_default().to_string(),
                modified_ms: p.last_modified_date().and_then(|d| d.to_millis().ok()),
            })),
            Err(e) if e.is_not_found() || e.code == "ParameterNotFound" => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_parameter(&self, parameter: &Parameter, description: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        let tags = sdk_tags(tags)?;
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

    async fn add_tags(&self, name: &str, tags: Vec<(String, String)>) -> Result<(), AwsError> {
        self.add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(sdk_tags(tags)?))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn names_tagged(&self, path: &str, tag_key: &str, tag_value: &str) -> Result<Vec<String>, AwsError> {
        let path = hierarchy(path);
        let filters = vec![
            ParameterStringFilter::builder().key("Path").option("Recursive").values(path).build().map_err(build_err)?,
            ParameterStringFilter::builder()
                .key(format!("tag:{tag_key}"))
                .option("Equals")
                .values(tag_value)
                .build()
                .map_err(build_err)?,
        ];
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("DescribeParameters", path);
        for _ in 0..MAX_PAGES {
            let page = self
                .describe_parameters()
                .set_parameter_filters(Some(filters.clone()))
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            out.extend(page.parameters().iter().filter_map(|p| p.name().map(str::to_string)));
            match pages.next(page.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
        Err(too_many_pages("DescribeParameters", path))
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_token_ends_the_listing_with_an_error() {
        let page = r#"{"Parameters":[{"Name":"/tandem/dev/x"}],"NextToken":"t1"}"#;
        let http = Replay::repeat((200u16, &[][..], page), 5);
        let ssm = aws_sdk_ssm::Client::new(&http.sdk_config());
        let e = SsmApi::names_tagged(&ssm, "/tandem/dev", "k", "v").await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert_eq!(http.requests().len(), 2);
    }
}
