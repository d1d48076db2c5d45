//! The `certificate-{role}` components: the ACM certificate of a region's API custom domains.
//!
//! Wanted only when the region has a domain (`api.<role>_domain`) and no certificate ARN is
//! configured. The certificate is requested in the API's own region (a regional custom
//! domain needs a certificate in the same region) with DNS validation and the stack tags,
//! through the core's protocol with [`Rule::Token`]: the IdempotencyToken is the journal's
//! token, reused by every retry and by a resumed run (ACM returns the same certificate).
//!
//! It covers the region's domain and, when `dns.record_name` is set, the failover name as a
//! SubjectAlternativeName. Why: API Gateway picks the custom domain of a request by its Host
//! header. A client that resolves the failover record (`api.example.com`) reaches the
//! regional endpoint with `Host: api.example.com`; only a custom domain of that very name
//! in that region can serve it (any other answers 403 Forbidden). So each region's API
//! component also creates a custom domain named `dns.record_name`, and that domain needs a
//! certificate of the same region covering the name. The SAN set is part of `replace_on`:
//! changing it requests a new certificate (ACM cannot add a name to an existing one).
//!
//! ACM publishes one validation CNAME per name a few seconds later; then:
//! - with `dns.hosted_zone_id`, the CNAMEs are UPSERTed in that zone (Route 53), and the
//!   component waits (bounded, 45 min) until the certificate is ISSUED;
//! - without a zone, the component stops with a message naming the CNAMEs to create; the
//!   rest of the stack is applied, and the next apply picks up from there.
//!
//! Destroy deletes the validation records it created, then the certificate (retrying
//! ResourceInUseException while the API Gateway domain that used it is going away). When
//! the engine replaces the certificate (new SAN set) while API Gateway domains still use
//! it, the old certificate is not deleted then (that would wait for nothing: the domains
//! move to the new certificate only after it is issued): it is journaled as `retired:<arn>`
//! and deleted by a later apply once nothing uses it, or by `destroy`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{poll_base_interval, poll_until, retry, retry_if, Poll, ROUTE53_REGION};
use tandem_core::contracts::{ids, CertificateOutputs};
use tandem_core::naming;
use tandem_core::{
    to_outputs, Action, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, How, Key, Outputs, Placement, Rule,
};
use tracing::Instrument;

use crate::acm_api::{AcmApi, CertificateInfo};
use crate::common::{has_stack_tag, update_together};
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

const KEY_CERT: Key = Key::new("certificate");
const VALIDATION_PREFIX: &str = "validation:";
const RETIRED_PREFIX: &str = "retired:";

/// The journal key of the validation CNAME `name`.
fn validation_key(name: &str) -> Key {
    Key::owned(format!("{VALIDATION_PREFIX}{name}"))
}

/// The journal key of a certificate retired by a replacement.
fn retired_key(arn: &str) -> Key {
    Key::owned(format!("{RETIRED_PREFIX}{arn}"))
}

/// A DNS name in canonical form (lowercase, no trailing dot).
fn canonical(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// True when a certificate whose names (domain name and SubjectAlternativeNames) are
/// `names` is valid for host `host`: an exact name, or a wildcard `*.<parent>` where `host`
/// is exactly one label under `<parent>`.
pub fn certificate_covers(names: &[String], host: &str) -> bool {
    let host = canonical(host);
    names.iter().map(|n| canonical(n)).any(|n| match n.strip_prefix("*.") {
        Some(parent) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => n == host,
    })
}

/// The names a certificate covers: its domain name and its SubjectAlternativeNames.
fn names_of(c: &CertificateInfo) -> Vec<String> {
    let mut v: Vec<String> = std::iter::once(&c.domain_name).chain(&c.subject_alternative_names).map(|n| canonical(n)).collect();
    v.sort();
    v.dedup();
    v
}

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
    /// Additional names (the failover record name), canonical.
    subject_alternative_names: Vec<String>,
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
            subject_alternative_names: Self::subject_alternative_names(cfg, role),
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

    /// The names the certificate of `role` covers besides the region's domain: the failover
    /// record name (`dns.record_name`), which the API serves through a custom domain of that
    /// name in every region (API Gateway routes by Host header).
    pub fn subject_alternative_names(cfg: &Config, role: Placement) -> Vec<String> {
        let domain = match role {
            Placement::Secondary => cfg.api.secondary_domain.as_deref(),
            _ => cfg.api.primary_domain.as_deref(),
        };
        match (&cfg.dns.record_name, domain) {
            (Some(r), Some(d)) if !dns_eq(r, d) => vec![canonical(r)],
            _ => Vec::new(),
        }
    }

    /// The names the certificate must cover, canonical and sorted.
    fn wanted_names(&self, domain: &str) -> Vec<String> {
        let mut v: Vec<String> = std::iter::once(canonical(domain)).chain(self.subject_alternative_names.iter().cloned()).collect();
        v.sort();
        v.dedup();
        v
    }

    fn domain_or_err(&self) -> Result<&str, ComponentError> {
        self.domain.as_deref().ok_or_else(|| {
            ComponentError::invalid(self.id.clone(), &self.region, format!("api.{}_domain is not set", self.role))
        })
    }

    fn tag_name(&self) -> String {
        naming::name("certificate", self.role, &self.suffix)
    }

    /// The stack's certificate for `domain` covering the wanted names and still usable: the
    /// recorded ARN, else one found by domain and stack tag (a request whose answer was lost
    /// carries the tags: RequestCertificate takes them; a retired one covering exactly these
    /// names is taken back).
    async fn find(&self, domain: &str, recorded: Option<String>) -> Result<Option<CertificateInfo>, AwsError> {
        let wanted = self.wanted_names(domain);
        if let Some(arn) = recorded.filter(|a| !a.is_empty()) {
            match retry(|| self.acm.describe_certificate(&arn)).await {
                Ok(c) if names_of(&c) == wanted && usable(&c.status) => return Ok(Some(c)),
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let all = retry(|| self.acm.list_certificates()).await?;
        for s in all.iter().filter(|s| dns_eq(&s.domain_name, domain)) {
            let tags = match retry(|| self.acm.list_tags(&s.arn)).await {
                Ok(t) => t,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            if !has_stack_tag(&tags, &self.suffix) {
                continue;
            }
            let c = match retry(|| self.acm.describe_certificate(&s.arn)).await {
                Ok(c) => c,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            // An earlier certificate of the stack (other names), or one that failed.
            if names_of(&c) == wanted && usable(&c.status) {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Journals `arn` as retired: deleted by a later apply once nothing uses it, or by destroy.
    async fn retire(&self, ctx: &Ctx, arn: &str) -> Result<(), ComponentError> {
        ctx.adopt(&retired_key(arn), arn).await
    }

    /// DeleteCertificate, waiting (bounded) while API Gateway still uses it.
    async fn delete_released(&self, arn: &str) -> Result<(), AwsError> {
        let start = tokio::time::Instant::now();
        let mut delay = poll_base_interval();
        loop {
            match self.acm.delete_certificate(arn).await {
                Err(e) if e.is_code("ResourceInUseException") && start.elapsed() + delay <= RELEASE_TIMEOUT => {
                    tracing::info!(arn, "certificate still in use; waiting for its users to let go");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                other => return other,
            }
        }
    }

    /// Deletes the retired certificates nothing uses any more; keeps the others journaled.
    /// `wait`: wait (bounded) for the users to let go (destroy) instead of keeping it.
    async fn sweep_retired(&self, ctx: &Ctx, label: &str, wait: bool) -> Result<Vec<String>, ComponentError> {
        let mut kept = Vec::new();
        for key in ctx.keys().await {
            let Some(arn) = key.as_str().strip_prefix(RETIRED_PREFIX) else { continue };
            match retry(|| self.acm.describe_certificate(arn)).await {
                Err(e) if e.is_not_found() => ctx.forget(&key).await?,
                Err(e) => return Err(e).at(label, &self.region),
                Ok(c) if !c.in_use_by.is_empty() && !wait => {
                    tracing::info!(arn, in_use_by = ?c.in_use_by, "retired certificate still in use: kept for a later apply");
                    kept.push(arn.to_string());
                }
                Ok(_) => {
                    ctx.delete_recorded(&key, label, |arn| async move { self.delete_released(&arn).await }).await?;
                    tracing::info!(arn, "retired certificate deleted");
                }
            }
        }
        Ok(kept)
    }

    /// Deletes the certificate `arn` journaled under the certificate key.
    async fn delete_certificate(&self, ctx: &Ctx, label: &str, arn: &str) -> Result<(), ComponentError> {
        ctx.delete(&KEY_CERT, label, |_| async { Ok(vec![arn.to_string()]) }, |arn| async move { self.delete_released(&arn).await })
            .await
            .map(|_| ())
    }

    /// The certificate, [`Rule::Token`]: RequestCertificate carries the journal's token as
    /// its IdempotencyToken, so a retry or a resumed run gets the same certificate back.
    async fn ensure(&self, ctx: &Ctx, domain: &str) -> Result<CertificateInfo, ComponentError> {
        let wanted = self.wanted_names(domain);
        let recorded = ctx.recorded_id(&KEY_CERT).await.or_else(|| ctx.prior_outputs::<CertificateOutputs>().map(|o| o.certificate_arn));
        if let Some(arn) = recorded.filter(|a| !a.is_empty()) {
            match retry(|| self.acm.describe_certificate(&arn)).await {
                Ok(c) if names_of(&c) != wanted => {
                    // Recorded, but for another set of names (the configuration changed
                    // outside a replacement): keep it for deletion once unused.
                    tracing::info!(arn = %c.arn, names = ?names_of(&c), "recorded certificate covers other names: retired");
                    self.retire(ctx, &c.arn).await?;
                    if ctx.entry(&KEY_CERT).await.is_some() {
                        ctx.forget(&KEY_CERT).await?;
                    }
                }
                Ok(c) if !usable(&c.status) => {
                    tracing::warn!(arn = %c.arn, status = %c.status, "certificate can no longer be issued: requesting a new one");
                    self.delete_certificate(ctx, domain, &c.arn).await?;
                }
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e).at(domain, &self.region),
            }
        }
        let tags = naming::tags(&self.suffix, &self.tag_name());
        let sans = self.subject_alternative_names.clone();
        let e = ctx
            .ensure::<CertificateInfo>(&KEY_CERT, domain, Rule::Token)
            .find_one(|recorded| async move {
                let recorded = recorded.or_else(|| ctx.prior_outputs::<CertificateOutputs>().map(|o| o.certificate_arn));
                self.find(domain, recorded).await
            })
            .create(|token| {
                let (sans, tags) = (sans.clone(), tags.clone());
                async move {
                    let arn = self.acm.request_certificate(domain, sans, token.as_str(), tags).await?;
                    tracing::info!(arn = %arn, domain, "certificate requested");
                    // A certificate just requested may not be readable yet.
                    retry_if(|| self.acm.describe_certificate(&arn), AwsError::is_not_found).await
                }
            })
            .id(|c| c.arn.clone())
            .outcome()
            .await?;
        if e.how == How::Adopted {
            // Adopted by domain and tag (maybe one retired earlier): no longer retired.
            let retired = retired_key(&e.value.arn);
            if ctx.entry(&retired).await.is_some() {
                ctx.forget(&retired).await?;
            }
        }
        Ok(e.value)
    }

    /// UPSERTs the validation CNAMEs that are not in the zone yet (safe to repeat: journaled
    /// as in-place changes of each record).
    async fn ensure_validation_records(&self, ctx: &Ctx, zone: &str, cert: &CertificateInfo) -> Result<(), ComponentError> {
        let mut changes: Vec<(String, RecordSet)> = Vec::new();
        for v in &cert.validation_records {
            if changes.iter().any(|(_, r)| dns_eq(&r.name, &v.name)) {
                // Two names validated by the same record (e.g. a name and its wildcard).
                continue;
            }
            let existing = retry(|| self.route53.list_record_sets_named(zone, &v.name)).await.at(&v.name, ROUTE53_REGION)?;
            let present = existing.iter().any(|r| r.record_type == "CNAME" && r.values.iter().any(|x| dns_eq(x, &v.value)));
            if !present {
                changes.push((UPSERT.to_string(), RecordSet::cname(&v.name, &v.value, VALIDATION_TTL)));
            } else {
                let key = validation_key(&v.name);
                if ctx.entry(&key).await.is_some() {
                    // Journaled by an earlier run (maybe one that crashed after its UPSERT).
                    ctx.adopt(&key, &format!("{zone}|{}", v.name)).await?;
                }
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let keys: Vec<(Key, String)> = changes.iter().map(|(_, r)| (validation_key(&r.name), format!("{zone}|{}", r.name))).collect();
        let first = changes[0].1.name.clone();
        let change_id = update_together(ctx, &keys, || async {
            retry(|| self.route53.change_record_sets(zone, changes.clone())).await.at(&first, ROUTE53_REGION)
        })
        .await?;
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
        // Certificates retired by a replacement: gone once API Gateway let go of them.
        self.sweep_retired(ctx, &domain, false).await?;
        Ok(to_outputs(&CertificateOutputs { certificate_arn: cert.arn, domain_name: domain, status: cert.status, validation_records: records }))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        if ctx.action() == Action::Replace {
            return self.retire_for_replacement(ctx).await;
        }
        // 1. The validation records this component created.
        for key in ctx.keys().await {
            let Some(record_name) = key.as_str().strip_prefix(VALIDATION_PREFIX) else { continue };
            let zone = ctx
                .recorded_id(&key)
                .await
                .and_then(|id| id.split_once('|').map(|(z, _)| z.to_string()))
                .or_else(|| self.hosted_zone_id.clone());
            let Some(zone) = zone else {
                ctx.forget(&key).await?;
                continue;
            };
            let existing = match retry(|| self.route53.list_record_sets_named(&zone, record_name)).await {
                Err(e) if e.is_not_found() => Vec::new(),
                other => other.at(record_name, ROUTE53_REGION)?,
            };
            let ours: Vec<(String, RecordSet)> =
                existing.into_iter().filter(|r| r.record_type == "CNAME").map(|r| (DELETE.to_string(), r)).collect();
            let (zone, ours) = (zone.as_str(), &ours);
            ctx.delete(
                &key,
                record_name,
                |_| async move { Ok(if ours.is_empty() { Vec::new() } else { vec![format!("{zone}|{record_name}")] }) },
                |_| async move {
                    match self.route53.change_record_sets(zone, ours.clone()).await {
                        Ok(_) => Ok(()),
                        Err(e) if is_record_gone(&e) => Ok(()),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        }
        // 2. The certificates retired by earlier replacements, then the certificate.
        let domain = self.domain.clone().or_else(|| ctx.prior_outputs::<CertificateOutputs>().map(|o| o.domain_name));
        let label = domain.clone().unwrap_or_else(|| self.id.clone());
        self.sweep_retired(ctx, &label, true).await?;
        let prior_arn = ctx.prior_outputs::<CertificateOutputs>().map(|o| o.certificate_arn).filter(|a| !a.is_empty());
        let journaled = ctx.entry(&KEY_CERT).await.is_some();
        let (domain, prior_arn) = (domain.as_deref(), prior_arn.as_deref());
        let n = ctx
            .delete(
                &KEY_CERT,
                &label,
                |recorded| async move {
                    if let Some(arn) = recorded.as_deref().or(prior_arn) {
                        return Ok(vec![arn.to_string()]);
                    }
                    // A request whose answer was lost: found by domain and tag.
                    match (domain, journaled) {
                        (Some(d), true) => Ok(self.find(d, None).await?.map(|c| c.arn).into_iter().collect()),
                        _ => Ok(Vec::new()),
                    }
                },
                |arn| async move { self.delete_released(&arn).await },
            )
            .await?;
        if n > 0 {
            tracing::info!(domain = %label, "certificate deleted");
        }
        ctx.forget_all().await
    }

    /// The destroy half of a replacement (e.g. a new SAN set): the API Gateway domains still
    /// use the current certificate and move to the new one only after it is issued, so the
    /// certificate is retired rather than deleted (deleting would wait on ResourceInUse for
    /// nothing). The validation records are kept: ACM's validation CNAME of a name is the
    /// same for every certificate of the account, so the new certificate reuses them.
    async fn retire_for_replacement(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let label = self.domain.clone().unwrap_or_else(|| self.id.clone());
        let recorded = ctx.recorded_id(&KEY_CERT).await.or_else(|| ctx.prior_outputs::<CertificateOutputs>().map(|o| o.certificate_arn));
        if let Some(arn) = recorded.filter(|a| !a.is_empty()) {
            match retry(|| self.acm.describe_certificate(&arn)).await {
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e).at(&label, &self.region),
                Ok(c) if !c.in_use_by.is_empty() => {
                    tracing::info!(arn = %arn, in_use_by = ?c.in_use_by, "replaced certificate still in use: retired");
                    self.retire(ctx, &arn).await?;
                }
                Ok(_) => {
                    self.delete_certificate(ctx, &label, &arn).await?;
                    tracing::info!(arn = %arn, "replaced certificate deleted");
                }
            }
        }
        if ctx.entry(&KEY_CERT).await.is_some() {
            ctx.forget(&KEY_CERT).await?;
        }
        Ok(())
    }

    async fn read_inner(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let Some(prior) = ctx.prior_outputs::<CertificateOutputs>() else {
            return Ok(Drift::Missing { details: vec![format!("{}: no recorded certificate", self.id)] });
        };
        let wanted = self.domain.as_deref().map(|d| self.wanted_names(d));
        match retry(|| self.acm.describe_certificate(&prior.certificate_arn)).await {
            Ok(c) if wanted.as_ref().is_some_and(|w| *w != names_of(&c)) => {
                Ok(Drift::Drifted { details: vec![format!("certificate {} covers {:?}, not {:?}", c.arn, names_of(&c), wanted.unwrap_or_default())] })
            }
            Ok(c) if c.status == "ISSUED" => {
                // Certificates retired by a replacement wait for an apply to delete them.
                let retired: Vec<String> = ctx
                    .keys()
                    .await
                    .iter()
                    .filter_map(|k| k.as_str().strip_prefix(RETIRED_PREFIX).map(|a| format!("retired certificate {a} awaits deletion")))
                    .collect();
                Ok(if retired.is_empty() { Drift::InSync } else { Drift::Drifted { details: retired } })
            }
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
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::CertificateOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Request, the validation CNAME (INSYNC within 60 s, Route 53 FAQ), then ACM's own
        // validation. AWS documents only bounds ("up to several hours", gives up after 72 h);
        // reports with Route 53 say 5-15 min, and the SDK waiter polls every 60-120 s.
        Duration::from_secs(600)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "domain": self.domain, "subject_alternative_names": self.subject_alternative_names, "validation": "DNS" }),
            json!({ "hosted_zone_id": self.hosted_zone_id }),
        )
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
    /// The failover record name (`dns.record_name`), a SubjectAlternativeName.
    const RECORD: &str = "api.example.com";
    const CNAME2: &str = "_x2.api.example.com.";
    const VALUE2: &str = "_y2.acm-validations.aws.";

    fn config(zone: bool) -> Config {
        let mut c = cfg();
        c.api.primary_domain = Some(DOMAIN.into());
        c.api.secondary_domain = Some("secondary.api.example.com".into());
        c.dns.record_name = Some(RECORD.into());
        if zone {
            c.dns.hosted_zone_id = Some("ZONE1".into());
        }
        c
    }

    fn cert(status: &str, records: bool) -> CertificateInfo {
        CertificateInfo {
            arn: ARN.into(),
            domain_name: DOMAIN.into(),
            subject_alternative_names: vec![DOMAIN.into(), RECORD.into()],
            status: status.into(),
            validation_records: if records {
                vec![
                    ValidationRecord { domain_name: DOMAIN.into(), name: CNAME.into(), record_type: "CNAME".into(), value: VALUE.into() },
                    ValidationRecord { domain_name: RECORD.into(), name: CNAME2.into(), record_type: "CNAME".into(), value: VALUE2.into() },
                ]
            } else {
                vec![]
            },
            pending_validation_options: if records { 0 } else { 2 },
            in_use_by: vec![],
        }
    }

    /// A certificate of the stack for the domain only (before `dns.record_name` was set).
    fn old_cert(arn: &str, in_use: bool) -> CertificateInfo {
        CertificateInfo {
            arn: arn.into(),
            domain_name: DOMAIN.into(),
            subject_alternative_names: vec![DOMAIN.into()],
            status: "ISSUED".into(),
            validation_records: vec![ValidationRecord { domain_name: DOMAIN.into(), name: CNAME.into(), record_type: "CNAME".into(), value: VALUE.into() }],
            pending_validation_options: 0,
            in_use_by: if in_use { vec!["arn:aws:apigateway:us-east-1::/domainnames/primary.api.example.com".into()] } else { vec![] },
        }
    }

    fn zone_lookup(r53: &mut MockRoute53Api) {
        r53.expect_list_record_sets_named().returning(|_, n| {
            Ok(match n {
                CNAME => vec![RecordSet::cname(CNAME, VALUE, 300)],
                CNAME2 => vec![RecordSet::cname(CNAME2, VALUE2, 300)],
                _ => vec![],
            })
        });
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
            validation_records: vec![(CNAME.into(), VALUE.into()), (CNAME2.into(), VALUE2.into())],
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_with_the_record_name_as_san_validates_both_names_and_waits_for_issued() {
        let mut acm = MockAcmApi::new();
        let mut r53 = MockRoute53Api::new();
        let mut s = Sequence::new();
        acm.expect_list_certificates().times(1).in_sequence(&mut s).returning(|| Ok(vec![]));
        acm.expect_request_certificate()
            .withf(|d, sans, token, tags| {
                d == DOMAIN && *sans == vec![RECORD.to_string()] && token.len() == 32 && tags.contains(&("tandem:stack".into(), "t".into()))
            })
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _, _, _| Ok(ARN.into()));
        acm.expect_describe_certificate().times(1).in_sequence(&mut s).returning(|_| Ok(cert("PENDING_VALIDATION", false)));
        acm.expect_describe_certificate().times(1).in_sequence(&mut s).returning(|_| Ok(cert("PENDING_VALIDATION", true)));
        r53.expect_list_record_sets_named().withf(|z, n| z == "ZONE1" && n == CNAME).times(1).in_sequence(&mut s).returning(|_, _| Ok(vec![]));
        r53.expect_list_record_sets_named().withf(|z, n| z == "ZONE1" && n == CNAME2).times(1).in_sequence(&mut s).returning(|_, _| Ok(vec![]));
        r53.expect_change_record_sets()
            .withf(|z, ch| {
                z == "ZONE1"
                    && ch.len() == 2
                    && ch.iter().all(|(a, _)| a == UPSERT)
                    && ch[0].1 == RecordSet::cname(CNAME, VALUE, VALIDATION_TTL)
                    && ch[1].1 == RecordSet::cname(CNAME2, VALUE2, VALIDATION_TTL)
            })
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
        assert!(ctx.resource_id(&format!("validation:{CNAME2}")).await.is_some(), "SAN validation record journaled");
        assert_eq!(c.desired().replace_on["subject_alternative_names"], json!([RECORD]));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_zone_it_stops_naming_the_cname_to_create() {
        let mut acm = MockAcmApi::new();
        acm.expect_list_certificates().returning(|| Ok(vec![]));
        acm.expect_request_certificate().returning(|_, _, _, _| Ok(ARN.into()));
        acm.expect_describe_certificate().returning(|_| Ok(cert("PENDING_VALIDATION", true)));
        let c = component(&config(false), acm, MockRoute53Api::new());
        let e = c.apply(&ctx()).await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ComponentError::Invalid { .. }), "{msg}");
        assert!(msg.contains(CNAME) && msg.contains(VALUE) && msg.contains("us-east-1") && msg.contains(DOMAIN), "{msg}");
        assert!(msg.contains(CNAME2) && msg.contains(VALUE2), "the SAN's CNAME too: {msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_an_issued_certificate_makes_no_mutating_call() {
        let mut acm = MockAcmApi::new();
        acm.expect_describe_certificate().returning(|_| Ok(cert("ISSUED", true)));
        let mut r53 = MockRoute53Api::new();
        zone_lookup(&mut r53);
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
        acm.expect_request_certificate().returning(|_, _, _, _| Err(AwsError::other("LimitExceededException2", "quota")));
        let c = component(&config(true), acm, MockRoute53Api::new());
        let msg = c.apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains(DOMAIN) && msg.contains("us-east-1") && msg.contains("quota"), "{msg}");
    }

    /// An ACM that deduplicates IdempotencyTokens (as AWS does), loses the answer of the
    /// first `lose` requests, and lists its certificates only when `visible`.
    struct LossyAcm {
        certs: std::sync::Mutex<Vec<(String, CertificateInfo)>>,
        tokens: std::sync::Mutex<Vec<String>>,
        lose: std::sync::atomic::AtomicUsize,
        visible: std::sync::atomic::AtomicBool,
    }

    fn lossy_acm(lose: usize, visible: bool) -> (Arc<LossyAcm>, MockAcmApi) {
        use std::sync::atomic::Ordering::SeqCst;
        let w = Arc::new(LossyAcm {
            certs: std::sync::Mutex::new(Vec::new()),
            tokens: std::sync::Mutex::new(Vec::new()),
            lose: std::sync::atomic::AtomicUsize::new(lose),
            visible: std::sync::atomic::AtomicBool::new(visible),
        });
        let mut acm = MockAcmApi::new();
        let (a, b, c) = (w.clone(), w.clone(), w.clone());
        acm.expect_request_certificate().returning(move |_, _, token, _| {
            a.tokens.lock().unwrap_or_else(|p| p.into_inner()).push(token.to_string());
            let mut certs = a.certs.lock().unwrap_or_else(|p| p.into_inner());
            let arn = match certs.iter().find(|(t, _)| t == token) {
                Some((_, c)) => c.arn.clone(),
                None => {
                    let arn = format!("arn:aws:acm:us-east-1:123456789012:certificate/c{}", certs.len() + 1);
                    certs.push((token.to_string(), CertificateInfo { arn: arn.clone(), ..cert("ISSUED", true) }));
                    arn
                }
            };
            if a.lose.load(SeqCst) > 0 {
                a.lose.fetch_sub(1, SeqCst);
                return Err(AwsError::new("InternalFailure", "connection reset", Some(500)));
            }
            Ok(arn)
        });
        acm.expect_list_certificates().returning(move || {
            Ok(if b.visible.load(SeqCst) {
                b.certs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .map(|(_, c)| CertificateSummary { arn: c.arn.clone(), domain_name: DOMAIN.into(), status: c.status.clone() })
                    .collect()
            } else {
                Vec::new()
            })
        });
        acm.expect_list_tags().returning(|_| Ok(naming::tags("t", "certificate-primary-t")));
        acm.expect_describe_certificate().returning(move |arn| {
            c.certs.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(_, x)| x.arn == arn).map(|(_, x)| x.clone()).ok_or_else(|| {
                AwsError::not_found("ResourceNotFoundException", arn.to_string())
            })
        });
        (w, acm)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_request_answer_is_found_by_tag_not_requested_again() {
        let (w, acm) = lossy_acm(1, true);
        let c = component(&config(false), acm, MockRoute53Api::new());
        let ctx = ctx();
        let out: CertificateOutputs = from_outputs(&c.apply(&ctx).await.expect("apply")).expect("outputs");
        assert_eq!(w.tokens.lock().unwrap_or_else(|p| p.into_inner()).len(), 1, "requested once");
        let certs = w.certs.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(certs.len(), 1);
        assert_eq!(out.certificate_arn, certs[0].1.arn);
        let e = ctx.entry(&KEY_CERT).await.expect("journaled");
        assert_eq!((e.status, e.id), (tandem_core::state::ResourceStatus::Done, Some(certs[0].1.arn.clone())));
    }

    #[tokio::test(start_paused = true)]
    async fn an_ambiguous_request_is_resumed_with_the_same_idempotency_token() {
        // Run 1: every answer is lost and the list lags: the run gives up, the entry stays
        // pending with its token; ACM deduplicated the retries.
        let (w, acm) = lossy_acm(usize::MAX, false);
        let c = component(&config(false), acm, MockRoute53Api::new());
        let ctx1 = ctx();
        c.apply(&ctx1).await.expect_err("ambiguous until the end");
        let entry = ctx1.entry(&KEY_CERT).await.expect("journaled");
        assert_eq!(entry.status, tandem_core::state::ResourceStatus::Pending);
        let token = entry.token.clone().expect("token kept");
        let sent = w.tokens.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(sent.len() > 1 && sent.iter().all(|t| *t == token), "every retry carries the journal's token: {sent:?}");
        // Run 2, resumed: the list still lags; the request re-sends the same token and ACM
        // answers with the same certificate.
        w.lose.store(0, std::sync::atomic::Ordering::SeqCst);
        let mut state = tandem_core::state::ComponentState::new(c.kind(), c.placement(), c.region());
        state.resources = ctx1.journal_entries().await;
        let ctx2 = ctx().with_prior(state);
        let out: CertificateOutputs = from_outputs(&c.apply(&ctx2).await.expect("resumed apply")).expect("outputs");
        let certs = w.certs.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(certs.len(), 1, "exactly one certificate");
        assert_eq!(out.certificate_arn, certs[0].1.arn);
        assert_eq!(ctx2.recorded_id(&KEY_CERT).await, Some(certs[0].1.arn.clone()), "the journal records it");
        assert_eq!(w.tokens.lock().unwrap_or_else(|p| p.into_inner()).last(), Some(&token), "resumed with the journal's token");
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

    #[test]
    fn san_is_the_record_name_unless_it_is_the_domain() {
        assert_eq!(CertificateComponent::subject_alternative_names(&config(true), Placement::Primary), vec![RECORD.to_string()]);
        assert_eq!(CertificateComponent::subject_alternative_names(&config(true), Placement::Secondary), vec![RECORD.to_string()]);
        let mut same = config(true);
        same.dns.record_name = Some(format!("{}.", DOMAIN.to_uppercase()));
        assert!(CertificateComponent::subject_alternative_names(&same, Placement::Primary).is_empty());
        let mut none = config(true);
        none.dns.record_name = None;
        assert!(CertificateComponent::subject_alternative_names(&none, Placement::Primary).is_empty());
        // The SAN set forces replacement (ACM cannot add a name to a certificate).
        let with = component(&config(true), MockAcmApi::new(), MockRoute53Api::new()).desired();
        let without = component(&none, MockAcmApi::new(), MockRoute53Api::new()).desired();
        assert_ne!(with.replace_on, without.replace_on);
    }

    #[test]
    fn covers_exact_names_and_one_level_wildcards() {
        let names = vec!["primary.api.example.com".to_string(), "*.example.com".to_string()];
        assert!(certificate_covers(&names, "PRIMARY.api.example.com."));
        assert!(certificate_covers(&names, "api.example.com"));
        assert!(!certificate_covers(&names, "a.b.example.com"), "a wildcard covers one label only");
        assert!(!certificate_covers(&names, "example.com"));
        assert!(!certificate_covers(&["primary.api.example.com".to_string()], "api.example.com"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stack_certificate_without_the_san_is_not_adopted() {
        let mut acm = MockAcmApi::new();
        let mut r53 = MockRoute53Api::new();
        acm.expect_list_certificates()
            .returning(|| Ok(vec![CertificateSummary { arn: "arn:old".into(), domain_name: DOMAIN.into(), status: "ISSUED".into() }]));
        acm.expect_list_tags().returning(|_| Ok(naming::tags("t", "certificate-primary-t")));
        acm.expect_describe_certificate().withf(|a| a == "arn:old").returning(|a| Ok(old_cert(a, true)));
        acm.expect_request_certificate().withf(|_, sans, _, _| *sans == vec![RECORD.to_string()]).times(1).returning(|_, _, _, _| Ok(ARN.into()));
        acm.expect_describe_certificate().withf(|a| a == ARN).returning(|_| Ok(cert("ISSUED", true)));
        zone_lookup(&mut r53);
        let c = component(&config(true), acm, r53);
        let out: CertificateOutputs = from_outputs(&c.apply(&ctx()).await.expect("apply")).expect("outputs");
        assert_eq!(out.certificate_arn, ARN);
    }

    #[tokio::test(start_paused = true)]
    async fn replacement_retires_a_certificate_in_use_and_a_later_apply_deletes_it() {
        // Destroy half of a replacement (the SAN set changed): the old certificate is still
        // used by the API's custom domain, so it is retired, not deleted; records are kept.
        let mut acm = MockAcmApi::new();
        acm.expect_describe_certificate().withf(|a| a == "arn:old").times(1).returning(|a| Ok(old_cert(a, true)));
        let c = component(&config(true), acm, MockRoute53Api::new());
        let validation_key = format!("validation:{CNAME}");
        let validation_id = format!("ZONE1|{CNAME}");
        let old_outputs = CertificateOutputs { certificate_arn: "arn:old".into(), ..outputs() };
        let ctx = ctx()
            .with_prior(prior(&c, &old_outputs, &[("certificate", "arn:old"), (validation_key.as_str(), validation_id.as_str())]))
            .with_action(Action::Replace);
        c.destroy(&ctx).await.expect("replace: destroy half");
        assert_eq!(ctx.resource_id("retired:arn:old").await.as_deref(), Some("arn:old"));
        // Validation records kept: the Route 53 mock has no expectation, so no call was made.
        assert!(ctx.resource_id("certificate").await.is_none());

        // A later apply: the API domains moved to the new certificate, the old one is free.
        let mut acm = MockAcmApi::new();
        let mut s = Sequence::new();
        acm.expect_describe_certificate().withf(|a| a == ARN).returning(|_| Ok(cert("ISSUED", true)));
        acm.expect_describe_certificate().withf(|a| a == "arn:old").times(1).in_sequence(&mut s).returning(|a| Ok(old_cert(a, false)));
        acm.expect_delete_certificate().withf(|a| a == "arn:old").times(1).in_sequence(&mut s).returning(|_| Ok(()));
        let mut r53 = MockRoute53Api::new();
        zone_lookup(&mut r53);
        let c = component(&config(true), acm, r53);
        let later = Ctx::standalone("certificate-primary", "us-east-1").with_prior(prior(
            &c,
            &outputs(),
            &[("certificate", ARN), ("retired:arn:old", "arn:old"), (validation_key.as_str(), validation_id.as_str())],
        ));
        let mut reader = MockAcmApi::new();
        reader.expect_describe_certificate().returning(|_| Ok(cert("ISSUED", true)));
        let r = component(&config(true), reader, MockRoute53Api::new());
        let drift = r.read(&later).await.expect("read");
        assert!(matches!(&drift, Drift::Drifted { details } if details[0].contains("arn:old")), "plan --refresh sees the retired certificate: {drift:?}");
        c.apply(&later).await.expect("apply");
        assert!(later.resource("retired:arn:old").await.is_none(), "retired certificate forgotten once deleted");
    }
}
