//! `alerts-{role}`: the region's SNS alert topic `alerts-{role}-{s}` and what feeds it.
//!
//! - Topic encrypted at rest with the region's customer-managed KMS key
//!   `alias/alerts-{role}-{s}` (see [`crate::kms`]: symmetric, rotation enabled, tagged; its
//!   key policy lets `cloudwatch.amazonaws.com` and `events.amazonaws.com` of this account
//!   use it for `kms:GenerateDataKey*` / `kms:Decrypt`, which publishing to an encrypted
//!   topic needs), tagged. The key belongs to this component: its ARN is recorded in the
//!   component's resources (`kms-key`), it is not an output.
//! - Topic policy: only `cloudwatch.amazonaws.com` and `events.amazonaws.com`, acting for
//!   this account (`aws:SourceAccount`), may `sns:Publish`, to this topic only; requests
//!   without TLS are denied.
//! - Optional e-mail subscription (`[alerts] email`). E-mail subscriptions stay
//!   `PendingConfirmation` until the recipient confirms; such subscriptions cannot be
//!   unsubscribed and disappear with the topic.
//! - EventBridge rule `rds-failover-{s}` on the default bus, matching Aurora global
//!   database failover/switchover events, targeting the topic. It is created in BOTH
//!   regions: the events are emitted by the clusters of the region where they happen and
//!   during a regional outage only the surviving region can deliver them.
//!
//! The AWS-managed key `alias/aws/sns` is not used: its key policy cannot be edited, so
//! CloudWatch alarms and EventBridge could not publish to the topic (AWS drops such
//! messages).
//!
//! Apply order: KMS key (adopted by record or alias, else CreateKey with its policy) →
//! CreateAlias → EnableKeyRotation → CreateTopic (`KmsMasterKeyId` = key ARN) →
//! SetTopicAttributes(Policy) → Subscribe → PutRule → PutTargets.
//! Destroy order: RemoveTargets → DeleteRule → Unsubscribe (confirmed) → DeleteTopic →
//! DeleteAlias → ScheduleKeyDeletion (7 days, the minimum).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tandem_core::aws::retry;
use tandem_core::contracts::{ids, AlertsOutputs};
use tandem_core::{naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Key, Outputs, Placement, Rule};

use crate::clients::{KeyInfo, KmsApi, SnsApi};
use tandem_clients::events::{EventsApi, TargetInfo, DEFAULT_BUS};
use crate::kms::TopicKey;

/// The topic attribute naming the encryption key.
pub const KMS_MASTER_KEY_ID: &str = "KmsMasterKeyId";
/// Id of the rule's target.
pub const RULE_TARGET_ID: &str = "alerts-topic";
/// Aurora global database events (category `global-failover`): switchover started (0181)
/// and finished (0185) or cancelled (0186); failover started (0238) and completed (0239).
pub const FAILOVER_EVENT_IDS: &[&str] =
    &["RDS-EVENT-0181", "RDS-EVENT-0185", "RDS-EVENT-0186", "RDS-EVENT-0238", "RDS-EVENT-0239"];

// Journal keys (strings kept from earlier releases: state compatibility).
const KEY_TOPIC: Key = Key::new("topic");
const KEY_ENCRYPTION: Key = Key::new("topic-encryption");
const KEY_POLICY: Key = Key::new("topic-policy");
const KEY_SUBSCRIPTION: Key = Key::new("subscription");
const KEY_RULE: Key = Key::new("rule");
const KEY_TARGET: Key = Key::new("rule-target");

type Topic = (String, BTreeMap<String, String>);

/// The EventBridge pattern of the failover rule.
pub fn failover_pattern() -> Value {
    json!({
        "source": ["aws.rds"],
        "detail-type": ["RDS DB Cluster Event"],
        "detail": { "EventID": FAILOVER_EVENT_IDS }
    })
}

/// The topic policy: publish by CloudWatch and EventBridge of `account` to `topic_arn`
/// only, and no request without TLS.
pub fn topic_policy(topic_arn: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": format!("{topic_arn}/policy"),
        "Statement": [
            {
                "Sid": "AllowCloudWatchAlarms",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": { "StringEquals": { "aws:SourceAccount": account } }
            },
            {
                "Sid": "AllowEventBridgeRules",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": { "StringEquals": { "aws:SourceAccount": account } }
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": { "Bool": { "aws:SecureTransport": "false" } }
            }
        ]
    })
}

/// The account id of an ARN (`arn:aws:sns:<region>:<account>:<name>`).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The `alerts-{role}` component.
pub struct Alerts {
    id: String,
    placement: Placement,
    region: String,
    suffix: String,
    topic_name: String,
    rule_name: String,
    email: Option<String>,
    key: TopicKey,
    sns: Arc<dyn SnsApi>,
    events: Arc<dyn EventsApi>,
}

impl Alerts {
    pub fn new(
        cfg: &Config,
        placement: Placement,
        sns: Arc<dyn SnsApi>,
        events: Arc<dyn EventsApi>,
        kms: Arc<dyn KmsApi>,
    ) -> Self {
        let suffix = cfg.environment_suffix.clone();
        let region = cfg.region_of(placement).to_string();
        Self {
            id: ids::alerts(placement),
            placement,
            key: TopicKey::new(placement, &region, &suffix, kms),
            region,
            topic_name: naming::name("alerts", placement, &suffix),
            rule_name: naming::name("rds-failover", Placement::Global, &suffix),
            email: cfg.alerts.email.clone().filter(|e| !e.trim().is_empty()),
            suffix,
            sns,
            events,
        }
    }

    pub fn topic_name(&self) -> &str {
        &self.topic_name
    }

    pub fn rule_name(&self) -> &str {
        &self.rule_name
    }

    /// The alias of the topic's KMS key, `alias/alerts-{role}-{s}`.
    pub fn key_alias(&self) -> &str {
        self.key.alias()
    }

    /// The topic (ARN and attributes): the recorded ARN if it still exists, else the one
    /// named `alerts-{role}-{s}` (a create whose answer was lost).
    async fn lookup_topic(&self, recorded: Option<String>) -> Result<Option<Topic>, AwsError> {
        if let Some(arn) = recorded {
            if let Some(attrs) = retry(|| self.sns.get_topic_attributes(&arn)).await? {
                return Ok(Some((arn, attrs)));
            }
        }
        let wanted = format!(":{}", self.topic_name);
        let topics = retry(|| self.sns.list_topics()).await?;
        if let Some(arn) = topics.into_iter().find(|a| a.ends_with(&wanted)) {
            if let Some(attrs) = retry(|| self.sns.get_topic_attributes(&arn)).await? {
                return Ok(Some((arn, attrs)));
            }
        }
        Ok(None)
    }

    async fn find_topic(&self, ctx: &Ctx) -> Result<Option<Topic>, ComponentError> {
        let recorded = ctx.recorded_id(&KEY_TOPIC).await;
        self.lookup_topic(recorded).await.at(&self.topic_name, &self.region)
    }

    async fn ensure_topic(&self, ctx: &Ctx, key: &KeyInfo) -> Result<String, ComponentError> {
        let (name, region) = (self.topic_name.as_str(), self.region.as_str());
        // CreateTopic is idempotent by name: "already exists" (other attributes) or a lost
        // answer looks the name up and adopts it.
        let (arn, attrs) = ctx
            .ensure::<Topic>(&KEY_TOPIC, name, Rule::Name)
            .find_one(|recorded| self.lookup_topic(recorded))
            .create(|_token| async {
                let attrs = vec![(KMS_MASTER_KEY_ID.to_string(), key.arn.clone())];
                let arn = self.sns.create_topic(name, attrs.clone(), naming::tags(&self.suffix, name)).await?;
                tracing::info!(topic = %name, region, "created alert topic");
                Ok((arn, attrs.into_iter().collect()))
            })
            .id(|t: &Topic| t.0.clone())
            .run()
            .await?;
        if !self.key.encrypts_with(attrs.get(KMS_MASTER_KEY_ID).map(String::as_str), key) {
            ctx.update(&KEY_ENCRYPTION, || async {
                retry(|| self.sns.set_topic_attribute(&arn, KMS_MASTER_KEY_ID, &key.arn)).await.at(name, region)
            })
            .await?;
            ctx.adopt(&KEY_ENCRYPTION, &key.arn).await?;
        }
        let account = account_of(&arn)
            .ok_or_else(|| ComponentError::invalid(name, region, format!("cannot read the account of topic ARN {arn}")))?;
        let policy = topic_policy(&arn, account);
        let current: Option<Value> = attrs.get("Policy").and_then(|p| serde_json::from_str(p).ok());
        if current.as_ref() != Some(&policy) {
            let text = policy.to_string();
            ctx.update(&KEY_POLICY, || async {
                retry(|| self.sns.set_topic_attribute(&arn, "Policy", &text)).await.at(name, region)
            })
            .await?;
            ctx.adopt(&KEY_POLICY, &arn).await?;
        }
        Ok(arn)
    }

    async fn ensure_subscription(&self, ctx: &Ctx, topic_arn: &str) -> Result<(), ComponentError> {
        let (name, region) = (self.topic_name.as_str(), self.region.as_str());
        let recorded = ctx.recorded_id(&KEY_SUBSCRIPTION).await;
        if self.email.is_none() && recorded.is_none() {
            return Ok(());
        }
        let subs = retry(|| self.sns.list_subscriptions(topic_arn)).await.at(name, region)?;
        // The recorded subscription of a previous address (or of no address any more).
        if let Some(old) = recorded.as_deref() {
            let stale = subs.iter().find(|s| s.arn == old).filter(|s| {
                self.email.as_deref().is_none_or(|e| !s.endpoint.eq_ignore_ascii_case(e))
            });
            if let Some(s) = stale {
                // Unconfirmed subscriptions cannot be unsubscribed (they go with the topic).
                let confirmed = s.confirmed().then(|| s.arn.clone());
                ctx.delete(
                    &KEY_SUBSCRIPTION,
                    name,
                    |_recorded| {
                        let confirmed = confirmed.clone();
                        async move { Ok(confirmed.into_iter().collect()) }
                    },
                    |arn| async move { self.sns.unsubscribe(&arn).await },
                )
                .await?;
            }
        }
        let Some(email) = self.email.as_deref() else {
            return Ok(());
        };
        let matching = |subs: Vec<crate::clients::SubscriptionInfo>| {
            subs.into_iter()
                .filter(|s| s.protocol == "email" && s.endpoint.eq_ignore_ascii_case(email))
                .map(|s| s.arn)
                .collect::<Vec<_>>()
        };
        // One subscription per topic, protocol and endpoint (Subscribe again answers the same
        // one): after a lost answer it is looked up.
        let mut first = Some(subs);
        ctx.ensure::<String>(&KEY_SUBSCRIPTION, name, Rule::Name)
            .find(|_| {
                let snapshot = first.take();
                async {
                    Ok(matching(match snapshot {
                        Some(s) => s,
                        None => self.sns.list_subscriptions(topic_arn).await?,
                    })
                    .into_iter()
                    .take(1)
                    .collect())
                }
            })
            .create(|_token| async {
                let arn = self.sns.subscribe(topic_arn, "email", email).await?;
                tracing::info!(topic = %name, region, "e-mail subscription requested (the recipient must confirm it)");
                Ok(arn)
            })
            .id(|a: &String| a.clone())
            .run()
            .await?;
        Ok(())
    }

    async fn ensure_rule(&self, ctx: &Ctx, topic_arn: &str) -> Result<(), ComponentError> {
        let (rule, region) = (self.rule_name.as_str(), self.region.as_str());
        let pattern = failover_pattern();
        let existing = retry(|| self.events.describe_rule(rule, DEFAULT_BUS)).await.at(rule, region)?;
        let in_sync = existing.as_ref().is_some_and(|r| {
            r.state == "ENABLED" && serde_json::from_str::<Value>(r.event_pattern.as_deref().unwrap_or_default()).ok().as_ref() == Some(&pattern)
        });
        let text = pattern.to_string();
        let description = format!("Aurora global failover/switchover events of stack {} to {}", self.suffix, self.topic_name);
        // PutRule is an idempotent put by name.
        let put = || self.events.put_rule(rule, DEFAULT_BUS, &text, &description, naming::tags(&self.suffix, rule));
        match existing {
            Some(r) if in_sync => ctx.adopt(&KEY_RULE, &r.arn).await?,
            Some(_) => {
                let arn = ctx.update(&KEY_RULE, || async { retry(put).await.at(rule, region) }).await?;
                ctx.adopt(&KEY_RULE, &arn).await?;
            }
            None => {
                ctx.ensure::<String>(&KEY_RULE, rule, Rule::Name)
                    .known_absent()
                    .find_one(|_| {
                        // Runs after an ambiguous create only (known_absent: the read above was the first look).
                        async move {
                            Ok(self.events.describe_rule(rule, DEFAULT_BUS).await?.map(|r| r.arn))
                        }
                    })
                    .create(|_token| put())
                    .id(|a: &String| a.clone())
                    .run()
                    .await?;
            }
        }
        // A target id is unique in its rule; PutTargets again replaces it with itself.
        let ours = |targets: Vec<TargetInfo>| {
            targets
                .into_iter()
                .filter(|t| t.id == RULE_TARGET_ID && t.arn == topic_arn)
                .map(|t| t.id)
                .collect::<Vec<_>>()
        };
        let mut first = Some(retry(|| self.events.list_targets(rule, DEFAULT_BUS)).await.at(rule, region)?);
        ctx.ensure::<String>(&KEY_TARGET, rule, Rule::Name)
            .find(|_| {
                let snapshot = first.take();
                async {
                    Ok(ours(match snapshot {
                        Some(t) => t,
                        None => self.events.list_targets(rule, DEFAULT_BUS).await?,
                    }))
                }
            })
            .create(|_token| async {
                self.events.put_target(rule, DEFAULT_BUS, RULE_TARGET_ID, topic_arn).await.map(|()| RULE_TARGET_ID.to_string())
            })
            .id(|t: &String| t.clone())
            .run()
            .await?;
        Ok(())
    }

    async fn destroy_rule(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (rule, region) = (self.rule_name.as_str(), self.region.as_str());
        // The rule has a unique name: found by name whatever the journal says.
        let arn = retry(|| self.events.describe_rule(rule, DEFAULT_BUS)).await.at(rule, region)?.map(|r| r.arn);
        let targets: Vec<String> = match &arn {
            None => Vec::new(),
            Some(_) => match retry(|| self.events.list_targets(rule, DEFAULT_BUS)).await {
                Err(e) if e.is_not_found() => Vec::new(),
                other => other.at(rule, region)?.into_iter().map(|t| t.id).collect(),
            },
        };
        ctx.delete(
            &KEY_TARGET,
            rule,
            |_recorded| {
                let targets = targets.clone();
                async move { Ok(targets) }
            },
            |id| async move { self.events.remove_targets(rule, DEFAULT_BUS, vec![id]).await },
        )
        .await?;
        ctx.delete(
            &KEY_RULE,
            rule,
            |_recorded| {
                let arn = arn.clone();
                async move { Ok(arn.into_iter().collect()) }
            },
            |_arn| async move { self.events.delete_rule(rule, DEFAULT_BUS).await },
        )
        .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Component for Alerts {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "sns-topic"
    }

    fn placement(&self) -> Placement {
        self.placement
    }

    fn region(&self) -> &str {
        &self.region
    }

    fn dependencies(&self) -> Vec<String> {
        Vec::new()
    }

    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::AlertsOutputs>()
    }

    fn expected_duration(&self) -> Duration {
        // Synchronous SNS calls (topic, policy, subscription).
        Duration::from_secs(15)
    }

    fn desired(&self) -> Desired {
        Desired::new(
            json!({ "topic_name": self.topic_name, "region": self.region }),
            json!({
                "kms_key_alias": self.key.alias(),
                "kms_key_rotation": true,
                "kms_key_deletion_window_days": crate::kms::DELETION_WINDOW_DAYS,
                "publishers": ["cloudwatch.amazonaws.com", "events.amazonaws.com"],
                "email": self.email,
                "rule_name": self.rule_name,
                "rule_pattern": failover_pattern(),
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let key = self.key.ensure(ctx).await?;
        let topic_arn = self.ensure_topic(ctx, &key).await?;
        self.ensure_subscription(ctx, &topic_arn).await?;
        self.ensure_rule(ctx, &topic_arn).await?;
        Ok(to_outputs(&AlertsOutputs { topic_arn, topic_name: self.topic_name.clone() }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (name, region) = (self.topic_name.as_str(), self.region.as_str());
        self.destroy_rule(ctx).await?;
        let topic = self.find_topic(ctx).await?;
        if let Some((arn, _)) = &topic {
            // Confirmed subscriptions first (unconfirmed ones go with the topic).
            ctx.delete(
                &KEY_SUBSCRIPTION,
                name,
                |_recorded| async {
                    match self.sns.list_subscriptions(arn).await {
                        Err(e) if e.is_not_found() => Ok(Vec::new()),
                        other => Ok(other?.into_iter().filter(|s| s.confirmed()).map(|s| s.arn).collect()),
                    }
                },
                |s| async move { self.sns.unsubscribe(&s).await },
            )
            .await?;
        }
        let found: Vec<String> = topic.into_iter().map(|(arn, _)| arn).collect();
        let deleted = ctx
            .delete(
                &KEY_TOPIC,
                name,
                |_recorded| {
                    let found = found.clone();
                    async move { Ok(found) }
                },
                |arn| async move { self.sns.delete_topic(&arn).await },
            )
            .await?;
        if deleted > 0 {
            tracing::info!(topic = %name, region, "deleted alert topic");
        }
        for key in [KEY_SUBSCRIPTION, KEY_POLICY, KEY_ENCRYPTION] {
            ctx.forget(&key).await?;
        }
        // The key last: nothing may still be encrypted with it.
        self.key.destroy(ctx).await
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let (name, region) = (self.topic_name.as_str(), self.region.as_str());
        let Some((arn, attrs)) = self.find_topic(ctx).await? else {
            return Ok(Drift::Missing { details: vec![format!("topic {name} does not exist in {region}")] });
        };
        let mut details = Vec::new();
        let key = self.key.drift(ctx, &mut details).await?;
        let kms_key_id = attrs.get(KMS_MASTER_KEY_ID).map(String::as_str);
        if !key.as_ref().is_some_and(|k| self.key.encrypts_with(kms_key_id, k)) {
            details.push(format!(
                "{name}: not encrypted with {} (KmsMasterKeyId {})",
                self.key.alias(),
                kms_key_id.unwrap_or("absent")
            ));
        }
        let policy: Option<Value> = attrs.get("Policy").and_then(|p| serde_json::from_str(p).ok());
        if account_of(&arn).map(|a| topic_policy(&arn, a)) != policy {
            details.push(format!("{name}: topic policy differs"));
        }
        if let Some(email) = self.email.as_deref() {
            let subs = retry(|| self.sns.list_subscriptions(&arn)).await.at(name, region)?;
            if !subs.iter().any(|s| s.protocol == "email" && s.endpoint.eq_ignore_ascii_case(email)) {
                details.push(format!("{name}: e-mail subscription missing"));
            }
        }
        let rule = self.rule_name.as_str();
        match retry(|| self.events.describe_rule(rule, DEFAULT_BUS)).await.at(rule, region)? {
            None => details.push(format!("rule {rule} missing")),
            Some(r) => {
                if serde_json::from_str::<Value>(r.event_pattern.as_deref().unwrap_or_default()).ok() != Some(failover_pattern()) {
                    details.push(format!("rule {rule}: event pattern differs"));
                }
                if r.state != "ENABLED" {
                    details.push(format!("rule {rule}: state {}", r.state));
                }
                let targets = retry(|| self.events.list_targets(rule, DEFAULT_BUS)).await.at(rule, region)?;
                if !targets.iter().any(|t| t.id == RULE_TARGET_ID && t.arn == arn) {
                    details.push(format!("rule {rule}: topic target missing"));
                }
            }
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{MockKmsApi, MockSnsApi, SubscriptionInfo};
    use tandem_clients::events::{MockEventsApi, RuleInfo};
    use crate::kms::{key_policy, KEY_ALIAS, KEY_KMS, KEY_ROTATION};
    use crate::test_support::{aliases_with_ours, aws_aliases, cfg, key, key_id, kms_in_sync, topic_arn, SUFFIX};
    use mockall::Sequence;
    use tandem_core::state::ComponentState;
    use tandem_core::{from_outputs, AwsError};

    const EMAIL: &str = "ops@example.com";

    fn cfg_with_email() -> Config {
        let mut c = cfg();
        c.alerts.email = Some(EMAIL.to_string());
        c
    }

    /// The component over an existing, healthy KMS key.
    fn component(c: &Config, p: Placement, sns: MockSnsApi, events: MockEventsApi) -> Alerts {
        component_with(c, p, sns, events, kms_in_sync(p))
    }

    fn component_with(c: &Config, p: Placement, sns: MockSnsApi, events: MockEventsApi, kms: MockKmsApi) -> Alerts {
        Alerts::new(c, p, Arc::new(sns), Arc::new(events), Arc::new(kms))
    }

    fn placement_of(topic_arn: &str) -> Placement {
        if topic_arn.contains("us-east-2") {
            Placement::Secondary
        } else {
            Placement::Primary
        }
    }

    fn in_sync_attrs(arn: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("KmsMasterKeyId".to_string(), key(placement_of(arn)).arn),
            ("Policy".to_string(), topic_policy(arn, "123456789012").to_string()),
        ])
    }

    fn in_sync_rule() -> RuleInfo {
        RuleInfo {
            arn: format!("arn:aws:events:us-east-1:123456789012:rule/rds-failover-{SUFFIX}"),
            event_pattern: Some(failover_pattern().to_string()),
            state: "ENABLED".into(),
            ..Default::default()
        }
    }

    #[test]
    fn policy_scopes_publish_to_the_topic_and_account() {
        let arn = topic_arn(Placement::Primary);
        let p = topic_policy(&arn, "123456789012");
        let statements = p["Statement"].as_array().cloned().unwrap_or_default();
        let allows: Vec<&Value> = statements.iter().filter(|s| s["Effect"] == "Allow").collect();
        assert_eq!(allows.len(), 2);
        for s in allows {
            assert_eq!(s["Action"], "sns:Publish");
            assert_eq!(s["Resource"], arn.as_str());
            assert_eq!(s["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        }
        let services: Vec<&Value> = statements.iter().map(|s| &s["Principal"]["Service"]).collect();
        assert!(services.contains(&&json!("cloudwatch.amazonaws.com")));
        assert!(services.contains(&&json!("events.amazonaws.com")));
        assert!(!p.to_string().contains("\"Action\":\"*\""));
    }

    #[test]
    fn pattern_matches_rds_global_failover_events() {
        let p = failover_pattern();
        assert_eq!(p["source"], json!(["aws.rds"]));
        assert_eq!(p["detail-type"], json!(["RDS DB Cluster Event"]));
        let ids = p["detail"]["EventID"].as_array().cloned().unwrap_or_default();
        for id in ["RDS-EVENT-0185", "RDS-EVENT-0186", "RDS-EVENT-0238", "RDS-EVENT-0239"] {
            assert!(ids.contains(&json!(id)), "{id}");
        }
    }

    #[tokio::test]
    async fn create_calls_in_order() {
        let arn = topic_arn(Placement::Primary);
        let mut seq = Sequence::new();
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        let mut kms = MockKmsApi::new();
        // KMS key first: no key recorded, no alias → CreateKey with its final policy (the
        // account comes from the ARN of a predefined alias) → CreateAlias → rotation.
        kms.expect_list_aliases().times(1).in_sequence(&mut seq).returning(|| Ok(aws_aliases(Placement::Primary)));
        kms.expect_create_key()
            .withf(|description, policy, tags| {
                description.contains("stack t1")
                    && description.contains("alerts-primary-t1")
                    && policy.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok())
                        == Some(key_policy("aws", "123456789012", "us-east-1"))
                    && tags.contains(&("tandem:stack".to_string(), SUFFIX.to_string()))
                    && tags.contains(&("Name".to_string(), "alerts-primary-t1".to_string()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(key(Placement::Primary)));
        kms.expect_create_alias()
            .withf(|alias, k| alias == "alias/alerts-primary-t1" && k == key_id(Placement::Primary))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        kms.expect_enable_key_rotation()
            .withf(|k| k == key_id(Placement::Primary))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        // No expectation for put_key_policy: the key was created with its policy.
        sns.expect_list_topics().times(1).in_sequence(&mut seq).returning(|| Ok(vec!["arn:aws:sns:us-east-1:123456789012:other".into()]));
        let a = arn.clone();
        sns.expect_create_topic()
            .withf(|name, attrs, tags| {
                name == "alerts-primary-t1"
                    && attrs.contains(&("KmsMasterKeyId".to_string(), key(Placement::Primary).arn))
                    && tags.contains(&("tandem:stack".to_string(), SUFFIX.to_string()))
                    && tags.contains(&("Name".to_string(), "alerts-primary-t1".to_string()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _, _| Ok(a.clone()));
        let a = arn.clone();
        sns.expect_set_topic_attribute()
            .withf(move |t, n, v| {
                t == a && n == "Policy" && serde_json::from_str::<Value>(v).ok() == Some(topic_policy(&a, "123456789012"))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        sns.expect_list_subscriptions().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        let a = arn.clone();
        sns.expect_subscribe()
            .withf(move |t, p, e| t == a && p == "email" && e == EMAIL)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok("arn:aws:sns:us-east-1:123456789012:alerts-primary-t1:sub-1".into()));
        ev.expect_describe_rule().withf(|n, bus| n == "rds-failover-t1" && bus == DEFAULT_BUS).times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        ev.expect_put_rule()
            .withf(|n, bus, p, _, tags| {
                n == "rds-failover-t1"
                    && bus == DEFAULT_BUS
                    && serde_json::from_str::<Value>(p).ok() == Some(failover_pattern())
                    && tags.contains(&("tandem:stack".to_string(), SUFFIX.to_string()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _, _| Ok("arn:aws:events:us-east-1:123456789012:rule/rds-failover-t1".into()));
        ev.expect_list_targets().times(1).in_sequence(&mut seq).returning(|_, _| Ok(vec![]));
        let a = arn.clone();
        ev.expect_put_target()
            .withf(move |r, bus, id, t| r == "rds-failover-t1" && bus == DEFAULT_BUS && id == RULE_TARGET_ID && t == a)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(()));

        let c = cfg_with_email();
        let comp = component_with(&c, Placement::Primary, sns, ev, kms);
        let ctx = Ctx::standalone("alerts-primary", "us-east-1");
        let out = comp.apply(&ctx).await.expect("apply");
        // The key is recorded in the component's resources (not an output).
        assert_eq!(ctx.recorded_id(&KEY_KMS).await, Some(key(Placement::Primary).arn));
        assert_eq!(ctx.recorded_id(&KEY_ALIAS).await.as_deref(), Some("alias/alerts-primary-t1"));
        assert_eq!(ctx.recorded_id(&KEY_ROTATION).await, Some(key_id(Placement::Primary)));
        let typed: AlertsOutputs = from_outputs(&out).expect("outputs");
        assert_eq!(typed, AlertsOutputs { topic_arn: arn.clone(), topic_name: "alerts-primary-t1".into() });
        comp.output_type().check(&out).expect("declared outputs");
        assert_eq!(ctx.recorded_id(&KEY_TOPIC).await.as_deref(), Some(arn.as_str()));
        assert!(ctx.recorded_id(&KEY_RULE).await.is_some());
        assert!(ctx.recorded_id(&KEY_SUBSCRIPTION).await.is_some());
    }

    #[tokio::test]
    async fn apply_over_existing_resources_makes_no_mutating_call() {
        let arn = topic_arn(Placement::Primary);
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        let a = arn.clone();
        sns.expect_get_topic_attributes().withf(move |t| t == a).returning(|t| Ok(Some(in_sync_attrs(t))));
        sns.expect_list_subscriptions().returning(|t| {
            Ok(vec![SubscriptionInfo { arn: "PendingConfirmation".into(), protocol: "email".into(), endpoint: EMAIL.into() }]
                .into_iter()
                .chain([SubscriptionInfo { arn: format!("{t}:x"), protocol: "lambda".into(), endpoint: "f".into() }])
                .collect())
        });
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        let a = arn.clone();
        ev.expect_list_targets().returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        // No expectation for create_topic, set_topic_attribute, subscribe, put_rule,
        // put_target: any such call fails the test.
        let c = cfg_with_email();
        let comp = component(&c, Placement::Primary, sns, ev);
        let prior = ComponentState::new("sns-topic", Placement::Primary, "us-east-1").with_resource(KEY_TOPIC.as_str(), &arn);
        let ctx = Ctx::standalone("alerts-primary", "us-east-1").with_prior(prior);
        let out = comp.apply(&ctx).await.expect("apply");
        assert_eq!(out["topic_arn"], json!(arn));
        // The existing key was adopted through its alias (kms_in_sync has no expectation
        // for create_key, put_key_policy, create_alias or enable_key_rotation).
        assert_eq!(ctx.recorded_id(&KEY_KMS).await, Some(key(Placement::Primary).arn));
        assert_eq!(comp.read(&ctx).await.expect("read"), Drift::InSync);
    }

    #[tokio::test]
    async fn adopts_topic_found_by_name_and_fixes_its_policy() {
        let arn = topic_arn(Placement::Secondary).replace("us-east-2", "us-east-1").replace("secondary", "primary");
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        let a = arn.clone();
        sns.expect_list_topics().returning(move || Ok(vec![a.clone()]));
        sns.expect_get_topic_attributes().returning(|_| {
            Ok(Some(BTreeMap::from([("KmsMasterKeyId".to_string(), "alias/alerts-primary-t1".to_string())])))
        });
        sns.expect_set_topic_attribute().withf(|_, n, _| n == "Policy").times(1).returning(|_, _, _| Ok(()));
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        let a = arn.clone();
        ev.expect_list_targets().returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        let comp = component(&cfg(), Placement::Primary, sns, ev);
        let ctx = Ctx::standalone("alerts-primary", "us-east-1");
        comp.apply(&ctx).await.expect("apply");
        assert_eq!(ctx.recorded_id(&KEY_TOPIC).await.as_deref(), Some(arn.as_str()));
    }

    #[tokio::test]
    async fn destroy_calls_in_order_and_skips_pending_subscriptions() {
        let arn = topic_arn(Placement::Secondary);
        let mut seq = Sequence::new();
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        ev.expect_describe_rule().times(1).in_sequence(&mut seq).returning(|_, _| Ok(Some(in_sync_rule())));
        let a = arn.clone();
        ev.expect_list_targets().times(1).in_sequence(&mut seq).returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        ev.expect_remove_targets()
            .withf(|r, bus, ids| r == "rds-failover-t1" && bus == DEFAULT_BUS && ids == &vec![RULE_TARGET_ID.to_string()])
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        ev.expect_delete_rule().withf(|r, bus| r == "rds-failover-t1" && bus == DEFAULT_BUS).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        sns.expect_get_topic_attributes().times(1).in_sequence(&mut seq).returning(|t| Ok(Some(in_sync_attrs(t))));
        sns.expect_list_subscriptions().times(1).in_sequence(&mut seq).returning(|t| {
            Ok(vec![
                SubscriptionInfo { arn: format!("{t}:confirmed"), protocol: "email".into(), endpoint: "a@example.com".into() },
                SubscriptionInfo { arn: "PendingConfirmation".into(), protocol: "email".into(), endpoint: "b@example.com".into() },
            ])
        });
        let a = arn.clone();
        sns.expect_unsubscribe()
            .withf(move |s| s == format!("{a}:confirmed"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        let a = arn.clone();
        sns.expect_delete_topic().withf(move |t| t == a).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        // Then the key: alias deleted, key scheduled for deletion after 7 days.
        let mut kms = MockKmsApi::new();
        let p = Placement::Secondary;
        kms.expect_list_aliases().times(1).in_sequence(&mut seq).returning(move || Ok(aliases_with_ours(p)));
        kms.expect_delete_alias()
            .withf(|a| a == "alias/alerts-secondary-t1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        kms.expect_describe_key()
            .withf(move |k| k == key(p).arn)
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| Ok(Some(key(p))));
        kms.expect_schedule_key_deletion()
            .withf(move |k, days| k == key(p).key_id && *days == 7)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let comp = component_with(&cfg(), Placement::Secondary, sns, ev, kms);
        let prior = ComponentState::new("sns-topic", Placement::Secondary, "us-east-2")
            .with_resource(KEY_TOPIC.as_str(), &arn)
            .with_resource(KEY_KMS.as_str(), &key(p).arn)
            .with_resource(KEY_ALIAS.as_str(), "alias/alerts-secondary-t1");
        let ctx = Ctx::standalone("alerts-secondary", "us-east-2").with_prior(prior);
        comp.destroy(&ctx).await.expect("destroy");
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn topic_on_the_aws_managed_key_is_switched_to_the_stack_key() {
        let arn = topic_arn(Placement::Primary);
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        sns.expect_get_topic_attributes().returning(|t| {
            let mut a = in_sync_attrs(t);
            a.insert("KmsMasterKeyId".into(), "alias/aws/sns".into());
            Ok(Some(a))
        });
        sns.expect_set_topic_attribute()
            .withf(|t, n, v| t == topic_arn(Placement::Primary) && n == KMS_MASTER_KEY_ID && v == key(Placement::Primary).arn)
            .times(1)
            .returning(|_, _, _| Ok(()));
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        let a = arn.clone();
        ev.expect_list_targets().returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        let comp = component(&cfg(), Placement::Primary, sns, ev);
        let prior = ComponentState::new("sns-topic", Placement::Primary, "us-east-1").with_resource(KEY_TOPIC.as_str(), &arn);
        let ctx = Ctx::standalone("alerts-primary", "us-east-1").with_prior(prior);
        comp.apply(&ctx).await.expect("apply");
        assert_eq!(ctx.recorded_id(&KEY_ENCRYPTION).await, Some(key(Placement::Primary).arn));
    }

    #[tokio::test]
    async fn read_reports_a_disabled_key_and_a_topic_not_encrypted_with_it() {
        let arn = topic_arn(Placement::Primary);
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        sns.expect_get_topic_attributes().returning(|t| {
            let mut a = in_sync_attrs(t);
            a.insert("KmsMasterKeyId".into(), "alias/aws/sns".into());
            Ok(Some(a))
        });
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        let a = arn.clone();
        ev.expect_list_targets().returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aliases_with_ours(Placement::Primary)));
        kms.expect_describe_key().returning(|_| Ok(Some(KeyInfo { state: "Disabled".into(), ..key(Placement::Primary) })));
        kms.expect_get_key_policy().returning(|_| Ok(key_policy("aws", "123456789012", "us-east-1").to_string()));
        kms.expect_get_key_rotation_status().returning(|_| Ok(true));
        let comp = component_with(&cfg(), Placement::Primary, sns, ev, kms);
        let prior = ComponentState::new("sns-topic", Placement::Primary, "us-east-1").with_resource(KEY_TOPIC.as_str(), &arn);
        let drift = comp.read(&Ctx::standalone("alerts-primary", "us-east-1").with_prior(prior)).await.expect("read");
        let Drift::Drifted { details } = drift else { panic!("expected drift, got {drift:?}") };
        assert!(details.iter().any(|d| d.contains("is Disabled")), "{details:?}");
        assert!(details.iter().any(|d| d.contains("not encrypted with alias/alerts-primary-t1")), "{details:?}");
    }

    #[tokio::test]
    async fn not_found_on_delete_is_success() {
        let arn = topic_arn(Placement::Primary);
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        ev.expect_list_targets().returning(|_, _| Err(AwsError::not_found("ResourceNotFoundException", "rule gone")));
        ev.expect_delete_rule().times(1).returning(|_, _| Err(AwsError::not_found("ResourceNotFoundException", "rule gone")));
        sns.expect_get_topic_attributes().returning(|t| Ok(Some(in_sync_attrs(t))));
        sns.expect_list_subscriptions().returning(|_| Err(AwsError::not_found("NotFound", "topic gone")));
        sns.expect_delete_topic().times(1).returning(|_| Err(AwsError::not_found("NotFound", "topic gone")));
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aliases_with_ours(Placement::Primary)));
        kms.expect_describe_key().returning(|_| Ok(Some(key(Placement::Primary))));
        kms.expect_delete_alias().times(1).returning(|_| Err(AwsError::not_found("NotFoundException", "alias gone")));
        kms.expect_schedule_key_deletion()
            .times(1)
            .returning(|_, _| Err(AwsError::not_found("NotFoundException", "key gone")));
        let comp = component_with(&cfg(), Placement::Primary, sns, ev, kms);
        let prior = ComponentState::new("sns-topic", Placement::Primary, "us-east-1").with_resource(KEY_TOPIC.as_str(), &arn);
        let ctx = Ctx::standalone("alerts-primary", "us-east-1").with_prior(prior);
        comp.destroy(&ctx).await.expect("NotFound on delete is success");
    }

    #[tokio::test]
    async fn second_destroy_is_a_no_op() {
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        ev.expect_describe_rule().times(1).returning(|_, _| Ok(None));
        sns.expect_list_topics().times(1).returning(|| Ok(vec![]));
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().times(1).returning(|| Ok(aws_aliases(Placement::Primary)));
        // No delete expectations: a delete call would fail the test.
        let comp = component_with(&cfg(), Placement::Primary, sns, ev, kms);
        comp.destroy(&Ctx::standalone("alerts-primary", "us-east-1")).await.expect("destroy");
    }

    /// An SNS mock whose CreateTopic acts (the topic then exists, in sync) and whose answer is
    /// always lost with a 500; `exists`: the topic exists from the start. Counts the creates.
    fn sns_with_acting_create(exists: bool) -> (MockSnsApi, Arc<std::sync::atomic::AtomicU32>) {
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        let arn = topic_arn(Placement::Primary);
        let created = Arc::new(AtomicBool::new(exists));
        let creates = Arc::new(AtomicU32::new(0));
        let mut sns = MockSnsApi::new();
        let (c, a) = (created.clone(), arn.clone());
        sns.expect_list_topics().returning(move || Ok(if c.load(Ordering::SeqCst) { vec![a.clone()] } else { vec![] }));
        let c = created.clone();
        sns.expect_get_topic_attributes().returning(move |t| Ok(c.load(Ordering::SeqCst).then(|| in_sync_attrs(t))));
        let n = creates.clone();
        sns.expect_create_topic().returning(move |_, _, _| {
            created.store(true, Ordering::SeqCst);
            n.fetch_add(1, Ordering::SeqCst);
            Err(AwsError::new("InternalError", "answer lost", Some(500)))
        });
        sns.expect_list_subscriptions().returning(|_| Ok(vec![]));
        (sns, creates)
    }

    fn events_in_sync() -> MockEventsApi {
        let mut ev = MockEventsApi::new();
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        let a = topic_arn(Placement::Primary);
        ev.expect_list_targets().returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        ev
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_create_topic_answer_is_looked_up_by_name_with_one_create() {
        let (sns, creates) = sns_with_acting_create(false);
        let comp = component(&cfg(), Placement::Primary, sns, events_in_sync());
        let ctx = Ctx::standalone("alerts-primary", "us-east-1");
        let out = comp.apply(&ctx).await.expect("apply");
        assert_eq!(creates.load(std::sync::atomic::Ordering::SeqCst), 1);
        let arn = topic_arn(Placement::Primary);
        assert_eq!(out["topic_arn"], json!(arn));
        let e = ctx.entry(&KEY_TOPIC).await.expect("journaled");
        assert_eq!((e.status, e.id), (tandem_core::state::ResourceStatus::Done, Some(arn)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_resumed_run_adopts_the_topic_of_a_pending_create_without_creating() {
        let (sns, creates) = sns_with_acting_create(true);
        let comp = component(&cfg(), Placement::Primary, sns, events_in_sync());
        let prior = ComponentState::new("sns-topic", Placement::Primary, "us-east-1").with_pending_create(KEY_TOPIC.as_str(), Some("t"));
        let ctx = Ctx::standalone("alerts-primary", "us-east-1").with_prior(prior);
        comp.apply(&ctx).await.expect("apply");
        assert_eq!(creates.load(std::sync::atomic::Ordering::SeqCst), 0);
        let e = ctx.entry(&KEY_TOPIC).await.expect("journaled");
        assert_eq!((e.status, e.id), (tandem_core::state::ResourceStatus::Done, Some(topic_arn(Placement::Primary))));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried() {
        let arn = topic_arn(Placement::Primary);
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        let mut calls = 0;
        sns.expect_list_topics().returning(|| Ok(vec![]));
        let a = arn.clone();
        sns.expect_create_topic().times(3).returning(move |_, _, _| {
            calls += 1;
            if calls < 3 {
                Err(AwsError::throttling())
            } else {
                Ok(a.clone())
            }
        });
        sns.expect_set_topic_attribute().times(1).returning(|_, _, _| Ok(()));
        sns.expect_list_subscriptions().returning(|_| Ok(vec![]));
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        let a = arn.clone();
        ev.expect_list_targets().returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        let comp = component(&cfg(), Placement::Primary, sns, ev);
        let out = comp.apply(&Ctx::standalone("alerts-primary", "us-east-1")).await.expect("apply");
        assert_eq!(out["topic_arn"], json!(arn));
    }

    #[tokio::test]
    async fn errors_name_resource_and_region() {
        let mut sns = MockSnsApi::new();
        let ev = MockEventsApi::new();
        sns.expect_list_topics().returning(|| Ok(vec![]));
        sns.expect_create_topic().returning(|_, _, _| Err(AwsError::other("AuthorizationError", "not allowed")));
        let comp = component(&cfg(), Placement::Secondary, sns, ev);
        let ctx = Ctx::standalone("alerts-secondary", "us-east-2");
        let err = comp.apply(&ctx).await.expect_err("must fail").to_string();
        assert!(err.contains("alerts-secondary-t1") && err.contains("us-east-2") && err.contains("AuthorizationError"), "{err}");
        // The failed create is journaled as failed, not done.
        assert!(ctx.recorded_id(&KEY_TOPIC).await.is_none());
    }

    #[tokio::test]
    async fn changed_email_unsubscribes_the_old_confirmed_subscription() {
        let arn = topic_arn(Placement::Primary);
        let old = format!("{arn}:old");
        let mut seq = Sequence::new();
        let mut sns = MockSnsApi::new();
        let mut ev = MockEventsApi::new();
        sns.expect_get_topic_attributes().returning(|t| Ok(Some(in_sync_attrs(t))));
        let o = old.clone();
        sns.expect_list_subscriptions().returning(move |_| {
            Ok(vec![SubscriptionInfo { arn: o.clone(), protocol: "email".into(), endpoint: "old@example.com".into() }])
        });
        let o = old.clone();
        sns.expect_unsubscribe().withf(move |s| s == o).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        sns.expect_subscribe().withf(|_, _, e| e == EMAIL).times(1).in_sequence(&mut seq).returning(|_, _, _| Ok("pending confirmation".into()));
        ev.expect_describe_rule().returning(|_, _| Ok(Some(in_sync_rule())));
        let a = arn.clone();
        ev.expect_list_targets().returning(move |_, _| Ok(vec![TargetInfo::new(RULE_TARGET_ID, a.clone())]));
        let comp = component(&cfg_with_email(), Placement::Primary, sns, ev);
        let prior = ComponentState::new("sns-topic", Placement::Primary, "us-east-1")
            .with_resource(KEY_TOPIC.as_str(), &arn)
            .with_resource(KEY_SUBSCRIPTION.as_str(), &old);
        comp.apply(&Ctx::standalone("alerts-primary", "us-east-1").with_prior(prior)).await.expect("apply");
    }
}
