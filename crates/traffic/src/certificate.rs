//! The `certificate-{role}` components: the ACM certificate of a region's API custom domain.
//!
//! Wanted only when the region has a domain (`api.<role>_domain`) and no certificate ARN is
//! configured. The certificate is requested in the API's own region (a regional custom
//! domain needs a certificate in the same region) with DNS validation, an idempotency token
//! and the stack tags. ACM publishes the validation CNAME a few seconds later; then:
//! - with `dns.hosted_zone_id`, the CNAME is UPSERTed in that zone (Route 53), and the
//!   component waits (bounded, 45 min) until the certificate is ISSUED;
//! - without a zone, the component stops with a message naming the CNAME to create; the
//!   rest of the stack is applied, and the next apply picks up from there.
//!
//! Destroy deletes the validation records it created, then the certificate (retrying
//! ResourceInUseException while the API Gateway domain that used it is going away).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{poll_until, retry, Poll, ROUTE53_REGION};
use tandem_core::contracts::{ids, CertificateOutputs};
use tandem_core::naming;
use tandem_core::{to_outputs, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Outputs, Placement};
use tracing::Instrument;

use crate::acm_api::{AcmApi, CertificateInfo};
use crate::common::{has_stack_tag, journal_entry, journal_keys, known_id, random_token};
use crate::failover::{is_record_gone, wait_insync};
use crate::route53_api::{dns_eq, RecordSet, Route53Api, DELETE, UPSERT};

/// Bound of the wait for ISSUED once the validation record exists (AWS: usually minutes).
pub const ISSUE_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// Bound of the wait for ACM to publish the validation record.
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Bound of the wait for the certificate to be released by API Gateway on delete.
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// TTL of the validation CNAMEs.
pub const VALIDATION_TTL: i64 = 300;

const KEY_CERT: &str = "certificate";
const VALIDATION_PREFIX: &str = "validation:";

/// Statuses of a certificate that can still become (or is) usable.
fn usable(status: &str) -> bool {
    matches!(status, "PENDING_VALIDATION" | "ISSUED")
}

/// The certificate of one region's custom domain.
pub struct CertificateComponent {
    id: String,
    role: Placement,
    region: String,
    suffix: String,
    domain: Option<String>,
    configured_arn: Option<String>,
    hosted_zone_id: Option<String>,
    acm: Arc<dyn AcmApi>,
    route53: Arc<dyn Route53Api>,
}

impl CertificateComponent {
    /// `acm` is a client of the region of `role`; `route53` the (global) Route 53 client.
    pub fn new(cfg: &Config, role: Placement, acm: Arc<dyn AcmApi>, route53: Arc<dyn Route53Api>) -> Self {
        let (domain, configured_arn) = match role {
            Placement::Secondary => (cfg.api.secondary_domain.clone(), cfg.api.secondary_certificate_arn.clone()),
            _ => (cfg.api.primary_domain.clone(), cfg.api.primary_certificate_arn.clone()),
        };
        Self {
            id: ids::certificate(role),
            role,
            region: cfg.region_of(role).to_string(),
            suffix: cfg.environment_suffix.clone(),
            domain,
            configured_arn,
            hosted_zone_id: cfg.dns.hosted_zone_id.clone(),
            acm,
            route53,
        }
    }

    /// True when the configuration asks Tandem for a certificate in this region.
    pub fn is_wanted(cfg: &Config, role: Placement) -> bool {
        match role {
            Placement::Secondary => cfg.api.secondary_domain.is_some() && cfg.api.secondary_certificate_arn.is_none(),
            _ => cfg.api.primary_domain.is_some() && cfg.api.primary_certificate_arn.is_none(),
        }
    }

    fn domain_or_err(&self) -> Result<&str, ComponentError> {
        self.domain.as_deref().ok_or_else(|| {
            ComponentError::invalid(self.id.clone(), &self.region, format!("api.{}_domain is not set", self.role))
        })
    }

    fn tag_name(&self) -> String {
        naming::name("certificate", self.role, &self.suffix)
    }

    /// The stack's certificate for `domain`: recorded ARN, else adopted by domain and tag.
    async fn find(&self, ctx: &Ctx, domain: &str) -> Result<Option<CertificateInfo>, ComponentError> {
        let region = self.region.as_str();
        let known = match known_id(ctx, KEY_CERT).await {
            Some(a) => Some(a),
            None => ctx.prior_outputs::<CertificateOutputs>().map(|o| o.certificate_arn),
        };
        if let Some(arn) = known.filter(|a| !a.is_empty()) {
            match retry(|| self.acm.describe_certificate(&arn)).await {
                Ok(c) => return Ok(Some(c)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e).at(domain, region),
            }
        }
        let all = retry(|| self.acm.list_certificates()).await.at(domain, region)?;
        for s in all.iter().filter(|s| dns_eq(&s.domain_name, domain)) {
            let tags = match retry(|| self.acm.list_tags(&s.arn)).await {
                Ok(t) => t,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e).at(domain, region),
            };
            if has_stack_tag(&tags, &self.suffix) {
                let c = retry(|| self.acm.describe_certificate(&s.arn)).await.at(domain, region)?;
                tracing::info!(arn = %c.arn, status = %c.status, "adopting existing certificate");
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    async fn delete_certificate(&self, ctx: &Ctx, domain: &str, arn: &str) -> Result<(), ComponentError> {
        ctx.pending(KEY_CERT, "delete").await?;
        poll_until(domain, &self.region, "certificate released by its users (ResourceInUse)", RELEASE_TIMEOUT, || async {
            match self.acm.delete_certificate(arn).await {
                Ok(()) => Ok(Poll::Ready(())),
                Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                Err(e) if e.is_code("ResourceInUseException") => Ok(Poll::Pending("in use".into())),
                Err(e) => Err(e),
            }
        })
        .await?;
        ctx.removed(KEY_CERT).await
    }

    async fn ensure(&self, ctx: &Ctx, domain: &str) -> Result<CertificateInfo, ComponentError> {
        if let Some(c) = self.find(ctx, domain).await? {
            if usable(&c.status) {
                ctx.done(KEY_CERT, &c.arn).await?;
                return Ok(c);
            }
            tracing::warn!(arn = %c.arn, status = %c.status, "certificate can no longer be issued: requesting a new one");
            self.delete_certificate(ctx, domain, &c.arn).await?;
        }
        let token = random_token(32);
        let tags = naming::tags(&self.suffix, &self.tag_name());
        ctx.pending(KEY_CERT, "create").await?;
        match retry(|| self.acm.request_certificate(domain, &token, tags.clone())).await {
            Ok(arn) => {
                ctx.done(KEY_CERT, &arn).await?;
                tracing::info!(arn = %arn, domain, "certificate requested");
                retry(|| self.acm.describe_certificate(&arn)).await.at(domain, &self.region)
            }
            Err(e) => {
                ctx.failed(KEY_CERT, "create").await?;
                Err(e).at(domain, &self.region)
            }
        }
    }

    /// UPSERTs the validation CNAMEs that are not in the zone yet.
    async fn ensure_validation_records(&self, ctx: &Ctx, zone: &str, cert: &CertificateInfo) -> Result<(), ComponentError> {
        let mut changes = Vec::new();
        for v in &cert.validation_records {
            let existing = retry(|| self.route53.list_record_sets_named(zone, &v.name)).await.at(&v.name, ROUTE53_REGION)?;
            let present = existing.iter().any(|r| r.record_type == "CNAME" && r.values.iter().any(|x| dns_eq(x, &v.value)));
            if !present {
                changes.push((UPSERT.to_string(), RecordSet::cname(&v.name, &v.value, VALIDATION_TTL)));
            } else {
                let key = format!("{VALIDATION_PREFIX}{}", v.name);
                if journal_entry(ctx, &key).await.is_some() && known_id(ctx, &key).await.is_none() {
                    // Journaled pending: an earlier run crashed after its UPSERT. Ours.
                    ctx.done(&key, &format!("{zone}|{}", v.name)).await?;
                }
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        for (_, r) in &changes {
            ctx.pending(&format!("{VALIDATION_PREFIX}{}", r.name), "upsert").await?;
        }
        let first = changes[0].1.name.clone();
        let change_id = retry(|| self.route53.change_record_sets(zone, changes.clone())).await.at(&first, ROUTE53_REGION)?;
        for (_, r) in &changes {
            ctx.done(&format!("{VALIDATION_PREFIX}{}", r.name), &format!("{zone}|{}", r.name)).await?;
        }
        tracing::info!(zone, records = changes.len(), "validation records created");
        wait_insync(self.route53.as_ref(), &first, &change_id).await
    }

    async fn apply_inner(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let domain = self.domain_or_err()?.to_string();
        let region = self.region.clone();
        let cert = self.ensure(ctx, &domain).await?;
        // ACM publishes the validation record a few seconds after the request.
        let cert = if cert.status == "ISSUED" || (!cert.validation_records.is_empty() && cert.pending_validation_options == 0) {
            cert
        } else {
            poll_until(&domain, &region, "ACM DNS validation record", RECORD_TIMEOUT, || async {
                let c = self.acm.describe_certificate(&cert.arn).await?;
                Ok(if c.status == "ISSUED" || (!c.validation_records.is_empty() && c.pending_validation_options == 0) {
                    Poll::Ready(c)
                } else {
                    Poll::Pending(c.status)
                })
            })
            .await?
        };
        let records: Vec<(String, String)> = cert.validation_records.iter().map(|v| (v.name.clone(), v.value.clone())).collect();
        let cert = match &self.hosted_zone_id {
            Some(zone) => {
                // Kept in the zone even once issued: ACM renews through the same record.
                self.ensure_validation_records(ctx, zone, &cert).await?;
                if cert.status == "ISSUED" {
                    cert
                } else {
                    poll_until(&domain, &region, "certificate ISSUED (DNS validation)", ISSUE_TIMEOUT, || async {
                        let c = self.acm.describe_certificate(&cert.arn).await?;
                        match c.status.as_str() {
                            "ISSUED" => Ok(Poll::Ready(c)),
                            "PENDING_VALIDATION" => Ok(Poll::Pending(c.status)),
                            other => Err(tandem_core::AwsError::other(
                                "CertificateNotIssued",
                                format!("certificate {} is {other}: check the validation record in zone {zone}", c.arn),
                            )),
                        }
                    })
                    .await?
                }
            }
            None if cert.status == "ISSUED" => cert,
            None => {
                let list = records.iter().map(|(n, v)| format!("CNAME {n} -> {v}")).collect::<Vec<_>>().join(", ");
                return Err(ComponentError::invalid(
                    domain.clone(),
                    region,
                    format!(
                        "certificate {} is {}: create the DNS validation record {list} in the zone that serves {domain}, \
                         then run apply again (or set dns.hosted_zone_id so Tandem creates it, or set api.{}_certificate_arn \
                         to an issued certificate)",
                        cert.arn, cert.status, self.role
                    ),
                ));
            }
        };
        Ok(to_outputs(&CertificateOutputs { certificate_arn: cert.arn, domain_name: domain, status: cert.status, validation_records: records }))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        // 1. The validation records this component created.
        for key in journal_keys(ctx).await {
            let Some(record_name) = key.strip_prefix(VALIDATION_PREFIX) else { continue };
            let zone = journal_entry(ctx, &key)
                .await
                .and_then(|e| e.id)
                .and_then(|id| id.split_once('|').map(|(z, _)| z.to_string()))
                .or_else(|| self.hosted_zone_id.clone());
            if let Some(zone) = zone {
                let existing = match retry(|| self.route53.list_record_sets_named(&zone, record_name)).await {
                    Err(e) if e.is_not_found() => Vec::new(),
                    other => other.at(record_name, ROUTE53_REGION)?,
                };
                let ours: Vec<(String, RecordSet)> =
                    existing.into_iter().filter(|r| r.record_type == "CNAME").map(|r| (DELETE.to_string(), r)).collect();
                if !ours.is_empty() {
                    ctx.pending(&key, "delete").await?;
                    match retry(|| self.route53.change_record_sets(&zone, ours.clone())).await {
                        Ok(_) => tracing::info!(record = record_name, "validation record deleted"),
                        Err(e) if is_record_gone(&e) => {}
                        Err(e) => return Err(e).at(record_name, ROUTE53_REGION),
                    }
                }
            }
            ctx.removed(&key).await?;
        }
        // 2. The certificate.
        let domain = self.domain.clone().or_else(|| ctx.prior_outputs::<CertificateOutputs>().map(|o| o.domain_name));
        let recorded = known_id(ctx, KEY_CERT).await.or_else(|| ctx.prior_outputs::<CertificateOutputs>().map(|o| o.certificate_arn));
        let arn = match (recorded, &domain) {
            (Some(a), _) => Some(a),
            (None, Some(d)) if journal_entry(ctx, KEY_CERT).await.is_some() => self.find(ctx, d).await?.map(|c| c.arn),
            _ => None,
        };
        if let Some(arn) = arn {
            let label = domain.clone().unwrap_or_else(|| arn.clone());
            self.delete_certificate(ctx, &label, &arn).await?;
            tracing::info!(arn = %arn, "certificate deleted");
        }
        ctx.removed(KEY_CERT).await
    }

    async fn read_inner(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let Some(prior) = ctx.prior_outputs::<CertificateOutputs>() else {
            return Ok(Drift::Missing { details: vec![format!("{}: no recorded certificate", self.id)] });
        };
        match retry(|| self.acm.describe_certificate(&prior.certificate_arn)).await {
            Ok(c) if c.status == "ISSUED" => Ok(Drift::InSync),
            Ok(c) if usable(&c.status) => Ok(Drift::Drifted { details: vec![format!("certificate {} is {}", c.arn, c.status)] }),
            Ok(c) => Ok(Drift::Missing { details: vec![format!("certificate {} is {}", c.arn, c.status)] }),
            Err(e) if e.is_not_found() => Ok(Drift::Missing { details: vec![format!("certificate {} is gone", prior.certificate_arn)] }),
            Err(e) => Err(e).at(&prior.domain_name, &self.region),
        }
    }
}

#[async_trait::async_trait]
impl Component for CertificateComponent {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "certificate"
    }
    fn placement(&self) -> Placement {
        self.role
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<&'static str> {
        vec!["certificate_arn", "domain_name", "status", "validation_records"]
    }
    fn expected_duration(&self) -> Duration {
        // Request, validation record, then DNS validation: typically a few minutes.
        Duration::from_secs(300)
    }
    fn desired(&self) -> Desired {
        Desired::new(json!({ "domain": self.domain, "validation": "DNS" }), json!({ "hosted_zone_id": self.hosted_zone_id }))
    }
    fn wanted(&self) -> bool {
        self.domain.is_some() && self.configured_arn.is_none()
    }
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let span = tracing::info_span!("apply", component = %self.id, region = %self.region);
        self.apply_inner(ctx).instrument(span).await
    }
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let span = tracing::info_span!("destroy", component = %self.id, region = %self.region);
        self.destroy_inner(ctx).instrument(span).await
    }
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let span = tracing::info_span!("read", component = %self.id, region = %self.region);
        self.read_inner(ctx).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acm_api::{CertificateSummary, MockAcmApi, ValidationRecord};
    use crate::route53_api::{MockRoute53Api, INSYNC};
    use crate::test_support::{cfg, pending_state, prior};
    use mockall::Sequence;
    use tandem_core::{from_outputs, AwsError};

    const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/c1";
    const DOMAIN: &str = "primary.api.example.com";
    const CNAME: &str = "_x1.primary.api.example.com.";
    const VALUE: &str = "_y1.acm-validations.aws.";

    fn config(zone: bool) -> Config {
        let mut c = cfg();
        c.api.primary_domain = Some(DOMAIN.into());
        c.api.secondary_domain = Some("secondary.api.example.com".into());
        if zone {
            c.dns.hosted_zone_id = Some("ZONE1".into());
            c.dns.record_name = Some("api.example.com".into());
        }
        c
    }

    fn cert(status: &str, records: bool) -> CertificateInfo {
        CertificateInfo {
            arn: ARN.into(),
            domain_name: DOMAIN.into(),
            status: status.into(),
            validation_records: if records {
                vec![ValidationRecord { domain_name: DOMAIN.into(), name: CNAME.into(), record_type: "CNAME".into(), value: VALUE.into() }]
            } else {
                vec![]
            },
            pending_validation_options: usize::from(!records),
            in_use_by: vec![],
        }
    }

    fn component(cfg: &Config, acm: MockAcmApi, r53: MockRoute53Api) -> CertificateComponent {
        CertificateComponent::new(cfg, Placement::Primary, Arc::new(acm), Arc::new(r53))
    }

    fn ctx() -> Ctx {
        Ctx::standalone("certificate-primary", "us-east-1")
    }

    fn outputs() -> CertificateOutputs {
        CertificateOutputs {
            certificate_arn: ARN.into(),
            domain_name: DOMAIN.into(),
            status: "ISSUED".into(),
            validation_records: vec![(CNAME.into(), VALUE.into())],
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_validates_in_the_zone_and_waits_for_issued() {
        let mut acm = MockAcmApi::new();
        let mut r53 = MockRoute53Api::new();
        let mut s = Sequence::new();
        acm.expect_list_certificates().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        acm.expect_request_certificate()
            .withf(|d, token, tags| d == DOMAIN && token.len() == 32 && tags.contains(&("tandem:stack".into(), "t".into())))
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _| Ok(ARN.into()));
        acm.expect_describe_certificate().times(1).in_sequence(&mut s).returning(|_| Ok(cert("PENDING_VALIDATION", false)));
        acm.expect_describe_certificate().times(1).in_sequence(&mut s).returning(|_| Ok(cert("PENDING_VALIDATION", true)));
        r53.expect_list_record_sets_named().withf(|z, n| z == "ZONE1" && n == CNAME).times(1).in_sequence(&mut s).returning(|_, _| Ok(vec![]));
        r53.expect_change_record_sets()
            .withf(|z, ch| z == "ZONE1" && ch.len() == 1 && ch[0].0 == UPSERT && ch[0].1 == RecordSet::cname(CNAME, VALUE, VALIDATION_TTL))
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok("C1".into()));
        r53.expect_get_change_status().times(1).in_sequence(&mut s).returning(|_| Ok(INSYNC.into()));
        acm.expect_describe_certificate().times(1).in_sequence(&mut s).returning(|_| Ok(cert("PENDING_VALIDATION", true)));
        acm.expect_describe_certificate().times(1).in_sequence(&mut s).returning(|_| Ok(cert("ISSUED", true)));
        let c = component(&config(true), acm, r53);
        assert!(c.wanted());
        let ctx = ctx();
        let out: CertificateOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
        assert!(ctx.resource_id(&format!("validation:{CNAME}")).await.is_some(), "validation record journaled");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_zone_it_stops_naming_the_cname_to_create() {
        let mut acm = MockAcmApi::new();
        acm.expect_list_certificates().returning(|| Ok(vec![]));
        acm.expect_request_certificate().returning(|_, _, _| Ok(ARN.into()));
        acm.expect_describe_certificate().returning(|_| Ok(cert("PENDING_VALIDATION", true)));
        let c = component(&config(false), acm, MockRoute53Api::new());
        let e = c.apply(&ctx()).await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ComponentError::Invalid { .. }), "{msg}");
        assert!(msg.contains(CNAME) && msg.contains(VALUE) && msg.contains("us-east-1") && msg.contains(DOMAIN), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_an_issued_certificate_makes_no_mutating_call() {
        let mut acm = MockAcmApi::new();
        acm.expect_describe_certificate().returning(|_| Ok(cert("ISSUED", true)));
        let mut r53 = MockRoute53Api::new();
        r53.expect_list_record_sets_named().returning(|_, _| Ok(vec![RecordSet::cname(CNAME, VALUE, 300)]));
        let c = component(&config(true), acm, r53);
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[("certificate", ARN)]));
        let out: CertificateOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out, outputs());
    }

    #[tokio::test(start_paused = true)]
    async fn resume_adopts_the_stack_certificate_by_domain_and_tag() {
        let mut acm = MockAcmApi::new();
        acm.expect_list_certificates().returning(|| {
            Ok(vec![
                CertificateSummary { arn: "arn:other".into(), domain_name: DOMAIN.into(), status: "ISSUED".into() },
                CertificateSummary { arn: ARN.into(), domain_name: DOMAIN.into(), status: "ISSUED".into() },
            ])
        });
        acm.expect_list_tags().withf(|a| a == "arn:other").returning(|_| Ok(vec![("tandem:stack".into(), "prod".into())]));
        acm.expect_list_tags().withf(|a| a == ARN).returning(|_| Ok(naming::tags("t", "certificate-primary-t")));
        acm.expect_describe_certificate().withf(|a| a == ARN).returning(|_| Ok(cert("ISSUED", true)));
        let c = component(&config(false), acm, MockRoute53Api::new());
        let ctx = ctx().with_prior(pending_state(&c, "certificate"));
        let out: CertificateOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(out.certificate_arn, ARN);
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_validation_records_then_the_certificate_retrying_in_use() {
        let mut acm = MockAcmApi::new();
        let mut r53 = MockRoute53Api::new();
        let mut s = Sequence::new();
        r53.expect_list_record_sets_named().times(1).in_sequence(&mut s).returning(|_, _| Ok(vec![RecordSet::cname(CNAME, VALUE, 300)]));
        r53.expect_change_record_sets()
            .withf(|z, ch| z == "ZONE1" && ch.len() == 1 && ch[0].0 == DELETE)
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok("C".into()));
        acm.expect_delete_certificate()
            .times(1)
            .in_sequence(&mut s)
            .returning(|_| Err(AwsError::other("ResourceInUseException", "in use by API Gateway")));
        acm.expect_delete_certificate().times(1).in_sequence(&mut s).returning(|_| Ok(()));
        let c = component(&config(true), acm, r53);
        let validation_key = format!("validation:{CNAME}");
        let validation_id = format!("ZONE1|{CNAME}");
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[("certificate", ARN), (validation_key.as_str(), validation_id.as_str())]));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_when_everything_is_gone_succeeds() {
        let mut acm = MockAcmApi::new();
        acm.expect_delete_certificate().returning(|a| Err(AwsError::not_found("ResourceNotFoundException", a.to_string())));
        let mut r53 = MockRoute53Api::new();
        r53.expect_list_record_sets_named().returning(|_, _| Ok(vec![]));
        let c = component(&config(true), acm, r53);
        let validation_key = format!("validation:{CNAME}");
        let ctx = ctx().with_prior(prior(&c, &outputs(), &[("certificate", ARN), (validation_key.as_str(), "ZONE1|x")]));
        c.destroy(&ctx).await.expect("destroy");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_and_errors_name_domain_and_region() {
        let mut acm = MockAcmApi::new();
        let mut s = Sequence::new();
        acm.expect_list_certificates().times(1).in_sequence(&mut s).returning(|| Err(AwsError::throttling()));
        acm.expect_list_certificates().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        acm.expect_request_certificate().returning(|_, _, _| Err(AwsError::other("LimitExceededException2", "quota")));
        let c = component(&config(true), acm, MockRoute53Api::new());
        let msg = c.apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains(DOMAIN) && msg.contains("us-east-1") && msg.contains("quota"), "{msg}");
    }

    #[test]
    fn wanted_only_with_a_domain_and_no_configured_certificate() {
        let c = component(&cfg(), MockAcmApi::new(), MockRoute53Api::new());
        assert!(!c.wanted());
        let mut with_arn = config(false);
        with_arn.api.primary_certificate_arn = Some("arn:aws:acm:us-east-1:1:certificate/x".into());
        assert!(!component(&with_arn, MockAcmApi::new(), MockRoute53Api::new()).wanted());
        let secondary = CertificateComponent::new(&config(false), Placement::Secondary, Arc::new(MockAcmApi::new()), Arc::new(MockRoute53Api::new()));
        assert!(secondary.wanted());
        assert_eq!(secondary.region(), "us-east-2");
        assert_eq!(secondary.id(), "certificate-secondary");
    }
}
