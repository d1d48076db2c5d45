//! The ACM client trait, its aws-sdk implementation, and the value types it speaks.

use tandem_core::paging::PageTokens;
use aws_sdk_acm as acm;
use serde::{Deserialize, Serialize};
use tandem_core::AwsError;

use crate::common::build_error;

/// A DNS validation record ACM asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationRecord {
    pub domain_name: String,
    pub name: String,
    pub record_type: String,
    pub value: String,
}

/// What Tandem needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub arn: String,
    pub domain_name: String,
    /// Every name the certificate covers (ACM lists the domain name itself here too).
    pub subject_alternative_names: Vec<String>,
    /// `PENDING_VALIDATION`, `ISSUED`, `FAILED`, `VALIDATION_TIMED_OUT`, ...
    pub status: String,
    /// Validation records published so far (ACM fills them in a few seconds after the request).
    pub validation_records: Vec<ValidationRecord>,
    /// Domain validation entries still without a resource record.
    pub pending_validation_options: usize,
    pub in_use_by: Vec<String>,
}

/// A certificate in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSummary {
    pub arn: String,
    pub domain_name: String,
    pub status: String,
}

/// ACM calls used by the certificate component.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait AcmApi: Send + Sync {
    /// RequestCertificate with DNS validation, covering `domain_name` and the additional
    /// `subject_alternative_names`; returns the ARN.
    async fn request_certificate(
        &self,
        domain_name: &str,
        subject_alternative_names: Vec<String>,
        idempotency_token: &str,
        tags: Vec<(String, String)>,
    ) -> Result<String, AwsError>;
    async fn describe_certificate(&self, arn: &str) -> Result<CertificateInfo, AwsError>;
    /// Certificates of the region (every page, every status Tandem can adopt).
    async fn list_certificates(&self) -> Result<Vec<CertificateSummary>, AwsError>;
    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError>;
    async fn delete_certificate(&self, arn: &str) -> Result<(), AwsError>;
}

/// The real client of one region.
pub struct AcmClient(pub acm::Client);

fn info_of(c: &acm::types::CertificateDetail) -> CertificateInfo {
    let opts = c.domain_validation_options();
    CertificateInfo {
        arn: c.certificate_arn().unwrap_or_default().to_string(),
        domain_name: c.domain_name().unwrap_or_default().to_string(),
        subject_alternative_names: c.subject_alternative_names().to_vec(),
        status: c.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        validation_records: opts
            .iter()
            .filter_map(|o| {
                o.resource_record().map(|r| ValidationRecord {
                    domain_name: o.domain_name().to_string(),
                    name: r.name().to_string(),
                    record_type: r.r#type().as_str().to_string(),
                    value: r.value().to_string(),
                })
            })
            .collect(),
        pending_validation_options: opts.iter().filter(|o| o.resource_record().is_none()).count(),
        in_use_by: c.in_use_by().to_vec(),
    }
}

#[async_trait::async_trait]
impl AcmApi for AcmClient {
    async fn request_certificate(
        &self,
        domain_name: &str,
        subject_alternative_names: Vec<String>,
        idempotency_token: &str,
        tags: Vec<(String, String)>,
    ) -> Result<String, AwsError> {
        let mut req = self
            .0
            .request_certificate()
            .domain_name(domain_name)
            // Additional names only: ACM puts the domain name in the SAN extension itself.
            .set_subject_alternative_names(if subject_alternative_names.is_empty() { None } else { Some(subject_alternative_names) })
            .validation_method(acm::types::ValidationMethod::Dns)
            .idempotency_token(idempotency_token);
        for (k, v) in tags {
            req = req.tags(acm::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
        }
        let out = req.send().await.map_err(AwsError::from_sdk)?;
        out.certificate_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::other("InvalidResponse", "RequestCertificate returned no ARN"))
    }

    async fn describe_certificate(&self, arn: &str) -> Result<CertificateInfo, AwsError> {
        let out = self.0.describe_certificate().certificate_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        out.certificate().map(info_of).ok_or_else(|| AwsError::not_found("ResourceNotFoundException", format!("certificate {arn}")))
    }

    async fn list_certificates(&self) -> Result<Vec<CertificateSummary>, AwsError> {
        use acm::types::CertificateStatus as S;
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = PageTokens::new("ListCertificates", "the region");
        loop {
            let out = self
                .0
                .list_certificates()
                .certificate_statuses(S::PendingValidation)
                .certificate_statuses(S::Issued)
                .certificate_statuses(S::Inactive)
                .certificate_statuses(S::Failed)
                .certificate_statuses(S::ValidationTimedOut)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(AwsError::from_sdk)?;
            all.extend(out.certificate_summary_list().iter().map(|s| CertificateSummary {
                arn: s.certificate_arn().unwrap_or_default().to_string(),
                domain_name: s.domain_name().unwrap_or_default().to_string(),
                status: s.status().map(|x| x.as_str().to_string()).unwrap_or_default(),
            }));
            match pages.next(out.next_token())? {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
    }

    async fn list_tags(&self, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        let out = self.0.list_tags_for_certificate().certificate_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(out.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect())
    }

    async fn delete_certificate(&self, arn: &str) -> Result<(), AwsError> {
        self.0.delete_certificate().certificate_arn(arn).send().await.map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use tandem_core::paging::REPEATED_PAGE_TOKEN;
    use tandem_core::testing::replay::Replay;

    #[tokio::test]
    async fn a_repeated_acm_token_ends_the_listing_with_an_error() {
        let page = r#"{"CertificateSummaryList":[{"CertificateArn":"arn:c","DomainName":"a.test"}],"NextToken":"t1"}"#;
        let http = Replay::repeat((200u16, &[][..], page), 5);
        let acm = AcmClient(acm::Client::new(&http.sdk_config()));
        let e = acm.list_certificates().await.unwrap_err();
        assert_eq!(e.code, REPEATED_PAGE_TOKEN, "{e}");
        assert!(e.message.contains("ListCertificates"), "{e}");
        assert_eq!(http.requests().len(), 2);
    }
}
