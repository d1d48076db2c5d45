//! The `dns-failover` component: Route 53 PRIMARY/SECONDARY failover records.
//!
//! Wanted only when `dns.hosted_zone_id` is set. Two alias records named
//! `dns.record_name` (SetIdentifier `primary` / `secondary`) point at each region's custom
//! domain NAMED `dns.record_name` (`api-{role}` → `failover_regional_domain_name`,
//! `failover_regional_hosted_zone_id`). The PRIMARY record is tied to the primary's
//! CALCULATED check (`health-primary` → `failover_check_id`: the API check AND "not decided
//! down", see `DR.md` "One decision"; the API check for state of an older release), the
//! SECONDARY record to the secondary's API check (`health-secondary` → `api_check_id`).
//!
//! Not at the regional domains (`api.<role>_domain`): API Gateway picks the custom domain
//! of a request by its Host header, and a client that resolved `dns.record_name` sends
//! `Host: <record_name>`. Aliased to a domain of another name, every request would get 403
//! Forbidden and failover would serve nothing. So each region's API component creates a
//! custom domain of the record's name (AWS's multi-region API Gateway pattern), and these
//! records alias its regional target names. Route 53 answers with the primary while its check is
//! healthy and with the secondary otherwise. Changes are UPSERTs (safe to repeat, journaled
//! with `ctx.update`), then the change is polled until INSYNC. Destroy deletes exactly the
//! records found in the zone (`ctx.delete`; a record already gone is success); records go
//! before the health checks because they depend on them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{poll_until, retry, Poll, ROUTE53_REGION};
use tandem_core::contracts::{ids, ApiOutputs, FailoverOutputs, HealthOutputs};
use tandem_core::{to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Key, Outputs, Placement};
use tracing::Instrument;

use crate::common::update_together;
use crate::route53_api::{dns_eq, AliasTarget, RecordSet, Route53Api, DELETE, INSYNC, UPSERT};

/// Bound of the wait for a change to reach INSYNC.
pub const INSYNC_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The journal key of the failover record with set identifier `set` (`primary`/`secondary`).
fn record_key(set: &str) -> Key {
    Key::owned(format!("record:{set}"))
}

const ROLES: [(Placement, &str, &str); 2] = [(Placement::Primary, "primary", "PRIMARY"), (Placement::Secondary, "secondary", "SECONDARY")];

/// Waits until a Route 53 change is INSYNC.
pub async fn wait_insync(client: &dyn Route53Api, resource: &str, change_id: &str) -> Result<(), ComponentError> {
    if change_id.is_empty() {
        return Ok(());
    }
    poll_until(resource, ROUTE53_REGION, "Route 53 change INSYNC", INSYNC_TIMEOUT, || async {
        let status = client.get_change_status(change_id).await?;
        Ok(if status == INSYNC { Poll::Ready(()) } else { Poll::Pending(status) })
    })
    .await
}

/// True for the InvalidChangeBatch Route 53 returns when deleting a record that is gone.
pub fn is_record_gone(e: &AwsError) -> bool {
    e.is_not_found() || (e.code == "InvalidChangeBatch" && e.message.to_ascii_lowercase().contains("not found"))
}

/// The failover records.
pub struct FailoverComponent {
    hosted_zone_id: Option<String>,
    record_name: Option<String>,
    client: Arc<dyn Route53Api>,
}

impl FailoverComponent {
    pub fn new(cfg: &Config, client: Arc<dyn Route53Api>) -> Self {
        Self { hosted_zone_id: cfg.dns.hosted_zone_id.clone(), record_name: cfg.dns.record_name.clone(), client }
    }

    fn resource_name(&self) -> String {
        format!("failover records {}", self.record_name.as_deref().unwrap_or("(unset)"))
    }

    fn wanted_records(&self, ctx: &Ctx, record_name: &str) -> Result<Vec<RecordSet>, ComponentError> {
        let mut out = Vec::new();
        for (role, set_id, failover) in ROLES {
            let api: ApiOutputs = ctx.input(&ids::api(role))?;
            let health: HealthOutputs = ctx.input(&ids::health(role))?;
            let named_ok = api.failover_domain.as_deref().is_some_and(|d| dns_eq(d, record_name));
            let (true, Some(target), Some(zone)) =
                (named_ok, api.failover_regional_domain_name.clone(), api.failover_regional_hosted_zone_id.clone())
            else {
                return Err(ComponentError::invalid(
                    self.resource_name(),
                    ROUTE53_REGION,
                    format!(
                        "{} has no custom domain named {record_name} to alias (API Gateway routes by Host header): \
                         set api.{set_id}_domain so the region has a certificate, and apply {} again",
                        ids::api(role),
                        ids::api(role)
                    ),
                ));
            };
            out.push(RecordSet {
                name: record_name.to_string(),
                record_type: "A".into(),
                set_identifier: Some(set_id.to_string()),
                failover: Some(failover.to_string()),
                health_check_id: Some(match role {
                    // "One decision" (DR.md): the primary answers while its API answers AND it
                    // is not decided down (the CALCULATED check; the API check in state of an
                    // older release).
                    Placement::Primary => health.routing_check_id().to_string(),
                    _ => health.api_check_id.clone(),
                }),
                alias: Some(AliasTarget { hosted_zone_id: zone, dns_name: target, evaluate_target_health: false }),
                ttl: None,
                values: vec![],
            });
        }
        Ok(out)
    }

    fn zone_and_name(&self, ctx: &Ctx) -> Option<(String, String)> {
        if let Some(p) = ctx.prior_outputs::<FailoverOutputs>() {
            return Some((p.hosted_zone_id, p.record_name));
        }
        match (&self.hosted_zone_id, &self.record_name) {
            (Some(z), Some(n)) => Some((z.clone(), n.clone())),
            _ => None,
        }
    }

    async fn apply_inner(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let name = self.resource_name();
        let (Some(zone), Some(record_name)) = (self.hosted_zone_id.clone(), self.record_name.clone()) else {
            return Err(ComponentError::invalid(name, ROUTE53_REGION, "dns.hosted_zone_id and dns.record_name must both be set"));
        };
        let wanted = self.wanted_records(ctx, &record_name)?;
        let existing = retry(|| self.client.list_record_sets_named(&zone, &record_name)).await.at(&name, ROUTE53_REGION)?;
        let mut changes = Vec::new();
        for want in &wanted {
            let have = existing.iter().find(|r| r.set_identifier == want.set_identifier && r.record_type == want.record_type);
            if !have.is_some_and(|h| same_record(h, want)) {
                changes.push((UPSERT.to_string(), want.clone()));
            }
        }
        if !changes.is_empty() {
            // UPSERTs are safe to repeat: the batch is journaled as an in-place change of
            // each record it writes (ctx.update), retried as a whole.
            let keys: Vec<(Key, String)> = changes
                .iter()
                .map(|(_, r)| {
                    let set = r.set_identifier.as_deref().unwrap_or_default();
                    (record_key(set), format!("{record_name}|{set}"))
                })
                .collect();
            let change_id = update_together(ctx, &keys, || async {
                retry(|| self.client.change_record_sets(&zone, changes.clone())).await.at(&name, ROUTE53_REGION)
            })
            .await?;
            tracing::info!(record = %record_name, count = changes.len(), "failover records upserted");
            wait_insync(self.client.as_ref(), &name, &change_id).await?;
        }
        Ok(to_outputs(&FailoverOutputs { hosted_zone_id: zone, record_name }))
    }

    async fn destroy_inner(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let Some((zone, record_name)) = self.zone_and_name(ctx) else {
            return Ok(());
        };
        let name = format!("failover records {record_name}");
        let existing = match retry(|| self.client.list_record_sets_named(&zone, &record_name)).await {
            // The zone itself is gone: so are its records.
            Err(e) if e.is_not_found() => Vec::new(),
            other => other.at(&name, ROUTE53_REGION)?,
        };
        // One DELETE per record found (by name and set identifier: a lost answer of an
        // UPSERT leaves a record the journal may not know), then wait for the last change.
        let last_change = std::sync::Mutex::new(String::new());
        let zone = zone.as_str();
        for (_, set, _) in ROLES {
            let record = existing.iter().find(|r| r.failover.is_some() && r.set_identifier.as_deref() == Some(set)).cloned();
            let id = format!("{record_name}|{set}");
            ctx.delete(
                &record_key(set),
                &name,
                |_| {
                    let found = record.as_ref().map(|_| id.clone());
                    async move { Ok(found.into_iter().collect()) }
                },
                |_| {
                    let change = record.clone().map(|r| vec![(DELETE.to_string(), r)]).unwrap_or_default();
                    let last_change = &last_change;
                    async move {
                        match self.client.change_record_sets(zone, change).await {
                            Ok(change_id) => {
                                *last_change.lock().unwrap_or_else(|p| p.into_inner()) = change_id;
                                Ok(())
                            }
                            Err(e) if is_record_gone(&e) => Ok(()),
                            Err(e) => Err(e),
                        }
                    }
                },
            )
            .await?;
        }
        let change_id = last_change.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if !change_id.is_empty() {
            wait_insync(self.client.as_ref(), &name, &change_id).await?;
            tracing::info!(record = %record_name, "failover records deleted");
        }
        ctx.forget_all().await
    }

    async fn read_inner(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let Some((zone, record_name)) = self.zone_and_name(ctx) else {
            return Ok(Drift::Missing { details: vec!["no hosted zone configured".into()] });
        };
        let name = format!("failover records {record_name}");
        let existing = match retry(|| self.client.list_record_sets_named(&zone, &record_name)).await {
            Err(e) if e.is_not_found() => return Ok(Drift::Missing { details: vec![format!("hosted zone {zone} is gone")] }),
            other => other.at(&name, ROUTE53_REGION)?,
        };
        let missing: Vec<String> = ROLES
            .iter()
            .filter(|(_, s, f)| !existing.iter().any(|r| r.set_identifier.as_deref() == Some(*s) && r.failover.as_deref() == Some(*f)))
            .map(|(_, s, _)| format!("{record_name} ({s}) is gone"))
            .collect();
        Ok(match missing.len() {
            0 => Drift::InSync,
            2 => Drift::Missing { details: missing },
            _ => Drift::Drifted { details: missing },
        })
    }
}

fn same_record(have: &RecordSet, want: &RecordSet) -> bool {
    let alias_eq = match (&have.alias, &want.alias) {
        (Some(a), Some(b)) => {
            a.hosted_zone_id == b.hosted_zone_id && dns_eq(&a.dns_name, &b.dns_name) && a.evaluate_target_health == b.evaluate_target_health
        }
        (None, None) => true,
        _ => false,
    };
    alias_eq && dns_eq(&have.name, &want.name) && have.failover == want.failover && have.health_check_id == want.health_check_id
}

#[async_trait::async_trait]
impl Component for FailoverComponent {
    fn id(&self) -> &str {
        ids::DNS_FAILOVER
    }
    fn kind(&self) -> &'static str {
        "dns-failover"
    }
    fn placement(&self) -> Placement {
        Placement::Global
    }
    fn region(&self) -> &str {
        ROUTE53_REGION
    }
    fn dependencies(&self) -> Vec<String> {
        vec![ids::api(Placement::Primary), ids::api(Placement::Secondary), ids::health(Placement::Primary), ids::health(Placement::Secondary)]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::FailoverOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // UPSERT then INSYNC: "within 60 seconds under normal conditions" (Route 53 FAQ); the
        // SDK waiter polls every 30 s, so 30 or 60 s is what is observed.
        Duration::from_secs(60)
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "hosted_zone_id": self.hosted_zone_id, "record_name": self.record_name }),
            json!({ "type": "A", "alias": true, "set_identifiers": ["primary", "secondary"] }),
        )
    }
    fn wanted(&self) -> bool {
        self.hosted_zone_id.is_some()
    }
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let span = tracing::info_span!("apply", component = ids::DNS_FAILOVER, region = ROUTE53_REGION);
        self.apply_inner(ctx).instrument(span).await
    }
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let span = tracing::info_span!("destroy", component = ids::DNS_FAILOVER, region = ROUTE53_REGION);
        self.destroy_inner(ctx).instrument(span).await
    }
    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let span = tracing::info_span!("read", component = ids::DNS_FAILOVER, region = ROUTE53_REGION);
        self.read_inner(ctx).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53_api::MockRoute53Api;
    use crate::test_support::{api, cfg, prior};
    use mockall::Sequence;

    fn config() -> Config {
        let mut c = cfg();
        c.dns.hosted_zone_id = Some("ZONE1".into());
        c.dns.record_name = Some("api.example.com".into());
        c
    }

    /// A region's checks as an earlier release wrote them (API and NLB only).
    fn health_api_only(id: &str) -> HealthOutputs {
        HealthOutputs {
            api_check_id: format!("hc-api-{id}"),
            api_check_arn: format!("arn:aws:route53:::healthcheck/hc-api-{id}"),
            nlb_check_id: format!("hc-nlb-{id}"),
            nlb_check_arn: format!("arn:aws:route53:::healthcheck/hc-nlb-{id}"),
            ..Default::default()
        }
    }

    /// The primary carries the decision and the calculated check, the secondary does not.
    fn health(id: &str) -> HealthOutputs {
        let mut h = health_api_only(id);
        if id == "p" {
            h.decision_check_id = Some("hc-decision-p".into());
            h.failover_check_id = Some("hc-failover-p".into());
            h.failover_check_arn = Some("arn:aws:route53:::healthcheck/hc-failover-p".into());
        }
        h
    }

    fn ctx() -> Ctx {
        Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "p1", true))
            .with_input("api-secondary", &api("us-east-2", "s1", true))
            .with_input("health-primary", &health("p"))
            .with_input("health-secondary", &health("s"))
    }

    fn record(set: &str, failover: &str, target: &str, zone: &str, check: &str) -> RecordSet {
        RecordSet {
            name: "api.example.com.".into(),
            record_type: "A".into(),
            set_identifier: Some(set.into()),
            failover: Some(failover.into()),
            health_check_id: Some(check.into()),
            alias: Some(AliasTarget { hosted_zone_id: zone.into(), dns_name: format!("{target}."), evaluate_target_health: false }),
            ttl: None,
            values: vec![],
        }
    }

    fn existing() -> Vec<RecordSet> {
        vec![
            record("primary", "PRIMARY", "d-fp1.execute-api.us-east-1.amazonaws.com", "ZFp1", "hc-failover-p"),
            record("secondary", "SECONDARY", "d-fs1.execute-api.us-east-2.amazonaws.com", "ZFs1", "hc-api-s"),
        ]
    }

    fn outputs() -> FailoverOutputs {
        FailoverOutputs { hosted_zone_id: "ZONE1".into(), record_name: "api.example.com".into() }
    }

    #[tokio::test(start_paused = true)]
    async fn upserts_primary_and_secondary_then_waits_insync() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        m.expect_list_record_sets_named().withf(|z, n| z == "ZONE1" && n == "api.example.com").times(1).in_sequence(&mut s).returning(|_, _| Ok(vec![]));
        m.expect_change_record_sets()
            .withf(|z, changes| {
                z == "ZONE1"
                    && changes.len() == 2
                    && changes.iter().all(|(a, _)| a == UPSERT)
                    && same_record(&changes[0].1, &existing()[0])
                    && same_record(&changes[1].1, &existing()[1])
            })
            .times(1)
            .in_sequence(&mut s)
            .returning(|_, _| Ok("/change/C1".into()));
        m.expect_get_change_status().times(1).in_sequence(&mut s).returning(|_| Ok("PENDING".into()));
        m.expect_get_change_status().times(1).in_sequence(&mut s).returning(|_| Ok(INSYNC.into()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        assert!(c.wanted());
        let out = c.apply(&ctx()).await.expect("apply");
        assert_eq!(out, to_outputs(&outputs()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_primary_record_moves_from_the_api_check_to_the_calculated_check() {
        // Records written by an earlier release tie PRIMARY to the API check: the upgrade
        // re-points it at the calculated check (API AND not decided down); SECONDARY stays.
        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().returning(|_, _| {
            let mut e = existing();
            e[0].health_check_id = Some("hc-api-p".into());
            Ok(e)
        });
        m.expect_change_record_sets()
            .withf(|_, ch| {
                ch.len() == 1
                    && ch[0].1.set_identifier.as_deref() == Some("primary")
                    && ch[0].1.health_check_id.as_deref() == Some("hc-failover-p")
            })
            .times(1)
            .returning(|_, _| Ok("C4".into()));
        m.expect_get_change_status().returning(|_| Ok(INSYNC.into()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        c.apply(&ctx()).await.expect("apply");
    }

    #[test]
    fn primary_record_uses_the_calculated_check_secondary_its_api_check_older_state_the_api_check() {
        let c = FailoverComponent::new(&config(), Arc::new(MockRoute53Api::new()));
        let checks = |ctx: &Ctx| -> Vec<Option<String>> {
            c.wanted_records(ctx, "api.example.com").expect("records").into_iter().map(|r| r.health_check_id).collect()
        };
        assert_eq!(checks(&ctx()), vec![Some("hc-failover-p".to_string()), Some("hc-api-s".to_string())]);
        let older = Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "p1", true))
            .with_input("api-secondary", &api("us-east-2", "s1", true))
            .with_input("health-primary", &health_api_only("p"))
            .with_input("health-secondary", &health_api_only("s"));
        assert_eq!(checks(&older), vec![Some("hc-api-p".to_string()), Some("hc-api-s".to_string())]);
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_existing_records_makes_no_change() {
        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().returning(|_, _| Ok(existing()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        c.apply(&ctx().with_prior(prior(&c, &outputs(), &[]))).await.expect("apply");
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_changed_record_is_upserted() {
        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().returning(|_, _| {
            let mut e = existing();
            e[1].health_check_id = Some("hc-old".into());
            Ok(e)
        });
        m.expect_change_record_sets()
            .withf(|_, ch| ch.len() == 1 && ch[0].1.set_identifier.as_deref() == Some("secondary"))
            .times(1)
            .returning(|_, _| Ok("C2".into()));
        m.expect_get_change_status().returning(|_| Ok(INSYNC.into()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        c.apply(&ctx()).await.expect("apply");
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_deletes_exactly_the_two_records() {
        let mut m = MockRoute53Api::new();
        let mut s = Sequence::new();
        m.expect_list_record_sets_named().times(1).in_sequence(&mut s).returning(|_, _| {
            let mut e = existing();
            e.push(RecordSet::cname("api.example.com", "unrelated", 60));
            Ok(e)
        });
        for set in ["primary", "secondary"] {
            m.expect_change_record_sets()
                .withf(move |_, ch| ch.len() == 1 && ch[0].0 == DELETE && ch[0].1.failover.is_some() && ch[0].1.set_identifier.as_deref() == Some(set))
                .times(1)
                .in_sequence(&mut s)
                .returning(|_, _| Ok("C3".into()));
        }
        m.expect_get_change_status().times(1).in_sequence(&mut s).returning(|_| Ok(INSYNC.into()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        let ctx = Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION)
            .with_prior(prior(&c, &outputs(), &[("record:primary", "api.example.com|primary"), ("record:secondary", "api.example.com|secondary")]));
        c.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty(), "journal cleared");
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_of_gone_records_is_a_no_op() {
        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().times(1).returning(|_, _| Ok(existing()));
        m.expect_change_record_sets().times(2).returning(|_, _| {
            Err(AwsError::other("InvalidChangeBatch", "Tried to delete resource record set [name='api.example.com.', type='A'] but it was not found"))
        });
        let c = FailoverComponent::new(&config(), Arc::new(m));
        c.destroy(&Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]))).await.expect("destroy");

        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().times(1).returning(|_, _| Ok(vec![]));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        c.destroy(&Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]))).await.expect("second destroy");
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_change_is_retried_and_errors_name_record_and_region() {
        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().returning(|_, _| Ok(vec![]));
        let mut s = Sequence::new();
        m.expect_change_record_sets().times(1).in_sequence(&mut s).returning(|_, _| Err(AwsError::new("PriorRequestNotComplete", "busy", Some(400))));
        m.expect_change_record_sets().times(1).in_sequence(&mut s).returning(|_, _| Err(AwsError::other("InvalidChangeBatch", "alias target invalid")));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        let msg = c.apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains("api.example.com") && msg.contains("us-east-1") && msg.contains("alias target invalid"), "{msg}");
    }

    #[tokio::test]
    async fn not_wanted_without_zone_and_needs_custom_domains() {
        let c = FailoverComponent::new(&cfg(), Arc::new(MockRoute53Api::new()));
        assert!(!c.wanted());
        let c = FailoverComponent::new(&config(), Arc::new(MockRoute53Api::new()));
        let ctx = Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "p1", false))
            .with_input("api-secondary", &api("us-east-2", "s1", false))
            .with_input("health-primary", &health("p"))
            .with_input("health-secondary", &health("s"));
        let e = c.apply(&ctx).await.unwrap_err();
        assert!(matches!(e, ComponentError::Invalid { .. }) && e.to_string().contains("primary_domain"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn records_alias_the_record_name_domain_not_the_regional_domains() {
        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().returning(|_, _| Ok(vec![]));
        m.expect_change_record_sets()
            .withf(|_, ch| {
                let targets: Vec<(&str, &str, Option<&str>)> = ch
                    .iter()
                    .filter_map(|(_, r)| r.alias.as_ref().map(|a| (a.dns_name.as_str(), a.hosted_zone_id.as_str(), r.health_check_id.as_deref())))
                    .collect();
                targets
                    == vec![
                        ("d-fp1.execute-api.us-east-1.amazonaws.com", "ZFp1", Some("hc-failover-p")),
                        ("d-fs1.execute-api.us-east-2.amazonaws.com", "ZFs1", Some("hc-api-s")),
                    ]
                    && ch.iter().all(|(_, r)| r.name == "api.example.com")
            })
            .times(1)
            .returning(|_, _| Ok("C1".into()));
        m.expect_get_change_status().returning(|_| Ok(INSYNC.into()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        // The regional domains (d-p1 / d-s1) are in the inputs too: they must not be used.
        let p: ApiOutputs = ctx().input("api-primary").expect("input");
        assert_eq!(p.regional_domain_name.as_deref(), Some("d-p1.execute-api.us-east-1.amazonaws.com"));
        c.apply(&ctx()).await.expect("apply");
    }

    #[tokio::test]
    async fn an_api_without_the_record_name_domain_is_an_error() {
        let c = FailoverComponent::new(&config(), Arc::new(MockRoute53Api::new()));
        let mut secondary = api("us-east-2", "s1", true);
        secondary.failover_domain = None;
        secondary.failover_regional_domain_name = None;
        secondary.failover_regional_hosted_zone_id = None;
        let ctx = Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "p1", true))
            .with_input("api-secondary", &secondary)
            .with_input("health-primary", &health("p"))
            .with_input("health-secondary", &health("s"));
        let e = c.apply(&ctx).await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ComponentError::Invalid { .. }), "{msg}");
        assert!(msg.contains("api-secondary") && msg.contains("named api.example.com") && msg.contains("Host header"), "{msg}");
        // A domain of another name is not accepted either.
        let mut other = api("us-east-2", "s1", true);
        other.failover_domain = Some("www.example.com".into());
        let ctx = Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION)
            .with_input("api-primary", &api("us-east-1", "p1", true))
            .with_input("api-secondary", &other)
            .with_input("health-primary", &health("p"))
            .with_input("health-secondary", &health("s"));
        assert!(c.apply(&ctx).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_upsert_answer_is_retried_and_the_records_journaled_once() {
        // The first change batch is applied by Route 53 but its answer is lost: the UPSERT is
        // sent again (safe to repeat), the records exist once, the journal records both.
        let zone: Arc<std::sync::Mutex<Vec<RecordSet>>> = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut m = MockRoute53Api::new();
        let (z1, z2, n) = (zone.clone(), zone.clone(), sent.clone());
        m.expect_list_record_sets_named().returning(move |_, _| Ok(z1.lock().unwrap_or_else(|p| p.into_inner()).clone()));
        m.expect_change_record_sets().returning(move |_, changes| {
            let mut z = z2.lock().unwrap_or_else(|p| p.into_inner());
            for (_, r) in changes {
                z.retain(|x| x.set_identifier != r.set_identifier);
                z.push(r);
            }
            if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                return Err(AwsError::new("InternalError", "connection reset", Some(500)));
            }
            Ok("C1".into())
        });
        m.expect_get_change_status().returning(|_| Ok(INSYNC.into()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        let first = ctx();
        c.apply(&first).await.expect("apply");
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2, "sent again after the lost answer");
        assert_eq!(zone.lock().unwrap_or_else(|p| p.into_inner()).len(), 2, "one record per region");
        for set in ["primary", "secondary"] {
            let e = first.entry(&record_key(set)).await.expect("journaled");
            assert_eq!(e.status, tandem_core::state::ResourceStatus::Done);
            assert_eq!(e.id, Some(format!("api.example.com|{set}")));
        }
        // Resumed (a second run over the same zone): nothing is sent.
        let again = ctx().with_prior(prior(&c, &outputs(), &[]));
        c.apply(&again).await.expect("second apply");
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2, "no mutating call over healthy records");
    }

    #[tokio::test]
    async fn read_detects_a_missing_record() {
        let mut m = MockRoute53Api::new();
        m.expect_list_record_sets_named().returning(|_, _| Ok(existing()[..1].to_vec()));
        let c = FailoverComponent::new(&config(), Arc::new(m));
        let d = c.read(&Ctx::standalone(ids::DNS_FAILOVER, ROUTE53_REGION).with_prior(prior(&c, &outputs(), &[]))).await.expect("read");
        assert!(matches!(d, Drift::Drifted { .. }), "{d:?}");
    }
}
