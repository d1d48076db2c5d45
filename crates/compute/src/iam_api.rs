//! The IAM calls of this crate, as a trait implemented for [`aws_sdk_iam::Client`] and
//! mocked with `MockIamApi` (feature `mocks`). IAM is global: the client is built for the
//! primary region.

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use tandem_core::AwsError;

/// IAM API surface used by the roles of this crate.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IamApi: Send + Sync {
    /// The role's ARN, or `None` when it does not exist.
    async fn get_role(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// Creates the role; returns its ARN.
    async fn create_role(&self, name: &str, trust_policy: &str, tags: Vec<(String, String)>) -> Result<String, AwsError>;
    /// The inline policy document (URL-decoded JSON), or `None` when absent.
    async fn get_role_policy(&self, role: &str, policy_name: &str) -> Result<Option<String>, AwsError>;
    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<(), AwsError>;
    async fn list_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError>;
    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), AwsError>;
    async fn list_attached_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError>;
    async fn detach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError>;
    async fn delete_role(&self, name: &str) -> Result<(), AwsError>;
}

#[async_trait]
impl IamApi for aws_sdk_iam::Client {
    async fn get_role(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role().map(|r| r.arn().to_string())),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn create_role(&self, name: &str, trust_policy: &str, tags: Vec<(String, String)>) -> Result<String, AwsError> {
        let tags: Vec<Tag> = tags
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let out = self
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust_policy)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        out.role()
            .map(|r| r.arn().to_string())
            .ok_or_else(|| AwsError::other("MissingRole", "CreateRole returned no role"))
    }

    async fn get_role_policy(&self, role: &str, policy_name: &str) -> Result<Option<String>, AwsError> {
        match self.get_role_policy().role_name(role).policy_name(policy_name).send().await {
            Ok(out) => Ok(Some(url_decode(out.policy_document()))),
            Err(e) => {
                let e = AwsError::from_sdk(e);
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn put_role_policy(&self, role: &str, policy_name: &str, document: &str) -> Result<(), AwsError> {
        self.put_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError> {
        let out = self.list_role_policies().role_name(role).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.policy_names().to_vec())
    }

    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), AwsError> {
        self.delete_role_policy()
            .role_name(role)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn list_attached_role_policies(&self, role: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(out.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect())
    }

    async fn detach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.detach_role_policy()
            .role_name(role)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        self.delete_role().role_name(name).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986).
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(()) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_iam_documents() {
        assert_eq!(url_decode("%7B%22a%22%3A1%7D"), r#"{"a":1}"#);
        assert_eq!(url_decode("100%"), "100%");
    }
}
