//! The customer-managed KMS key of the alert topic `alerts-{role}-{s}`, owned by the
//! `alerts-{role}` component ([`crate::sns::Alerts`]): create, adopt, check, delete.
//!
//! Why not the AWS-managed key `alias/aws/sns`: its key policy cannot be edited, so
//! CloudWatch alarms and EventBridge cannot obtain `kms:GenerateDataKey*` on it, and AWS
//! drops their publishes to a topic encrypted with it. One key per region (a topic can only
//! use a key of its own region).
//!
//! The key:
//! - symmetric (`SYMMETRIC_DEFAULT`, `ENCRYPT_DECRYPT`), automatic yearly rotation enabled,
//!   tagged `tandem:stack=<s>` and `Name=alerts-{role}-{s}`, with a description naming the
//!   stack, topic and region, and the alias `alias/alerts-{role}-{s}`;
//! - key policy ([`key_policy`], least privilege, no `"Action": "*"` and no `kms:*`): the
//!   account root gets an explicit list of administration actions ([`ADMIN_ACTIONS`]: what
//!   is needed to manage, re-apply and delete the key; IAM policies then decide which
//!   principals of the account may use them); principals of the account may use the key
//!   for `kms:GenerateDataKey*` / `kms:Decrypt` only through SNS of this region
//!   (`kms:ViaService = sns.<region>.amazonaws.com`); `cloudwatch.amazonaws.com` and
//!   `events.amazonaws.com` get only `kms:GenerateDataKey*` / `kms:Decrypt`, conditioned
//!   on `aws:SourceAccount` = this account. (`"Resource": "*"` in a key policy means "this
//!   key".)
//!
//! The account id comes from AWS responses, never from configuration: before a create,
//! from the ARN of an alias of the region (ListAliases always lists the predefined
//! `alias/aws/*` aliases, so the key is created with its final policy); for an existing key,
//! from its metadata (`AWSAccountId`). Should ListAliases return no alias at all, the key
//! is created with the default policy, which is replaced at once by [`key_policy`]
//! (PutKeyPolicy) before the alias exists and before any topic uses the key.
//!
//! Apply (ensure): ListAliases → the key recorded in the journal/state, else the key behind
//! the alias (adopt), else, if a previous run crashed between CreateKey and recording it,
//! the key tagged with this stack and name; only then CreateKey (journaled: `kms-key` holds
//! the key ARN) → (key `Disabled`: EnableKey; `PendingDeletion`: CancelKeyDeletion +
//! EnableKey) → GetKeyPolicy, PutKeyPolicy only when it differs → CreateAlias (or
//! UpdateAlias when it points elsewhere) → GetKeyRotationStatus, EnableKeyRotation when off.
//! Over an existing, healthy key no mutating call is made.
//!
//! Destroy (after the topic is deleted): DeleteAlias → ScheduleKeyDeletion with
//! PendingWindowInDays = 7 (the minimum). A key already `PendingDeletion` or gone is
//! success; a second destroy is a no-op.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};

use tandem_core::aws::{poll_until, retry, Poll};
use tandem_core::state::ResourceStatus;
use tandem_core::{naming, AwsError, AwsResultExt, ComponentError, Ctx, How, Key, Placement, Rule};

use crate::clients::{AliasInfo, KeyInfo, KmsApi};

/// Journal key of the KMS key (id: the key ARN).
pub const KEY_KMS: Key = Key::new("kms-key");
/// Journal key of the alias (id: the alias name).
pub const KEY_ALIAS: Key = Key::new("kms-alias");
/// Journal key of the key-policy update (id: the key id).
pub const KEY_KEY_POLICY: Key = Key::new("kms-key-policy");
/// Journal key of the rotation setting (id: the key id).
pub const KEY_ROTATION: Key = Key::new("kms-key-rotation");
/// Journal key of a key-state repair (EnableKey / CancelKeyDeletion; id: the key id).
pub const KEY_STATE: Key = Key::new("kms-key-state");

/// Waiting period of ScheduleKeyDeletion (the minimum KMS allows).
pub const DELETION_WINDOW_DAYS: i32 = 7;

/// What the account root may do on the key: manage it, re-apply it and delete it. No
/// cryptographic operation (those go through SNS only), no grant creation.
pub const ADMIN_ACTIONS: &[&str] = &[
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:ListKeyRotations",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
];

/// What SNS needs on the key, on behalf of a publisher.
pub const USE_ACTIONS: &[&str] = &["kms:GenerateDataKey*", "kms:Decrypt"];

/// The service principals that publish alerts (alarms, EventBridge rules).
pub const PUBLISHER_SERVICES: &[&str] = &["cloudwatch.amazonaws.com", "events.amazonaws.com"];

/// The key policy of the topic key of `account` in `region` (`partition` is `aws` outside
/// China and GovCloud).
pub fn key_policy(partition: &str, account: &str, region: &str) -> Value {
    let root = format!("arn:{partition}:iam::{account}:root");
    let mut statements = vec![
        json!({
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Principal": { "AWS": root },
            "Action": ADMIN_ACTIONS,
            "Resource": "*"
        }),
        json!({
            "Sid": "AccountUseThroughSns",
            "Effect": "Allow",
            "Principal": { "AWS": root },
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": format!("sns.{region}.amazonaws.com"),
                    "kms:CallerAccount": account
                }
            }
        }),
    ];
    for (sid, service) in [("CloudWatchAlarmsPublish", PUBLISHER_SERVICES[0]), ("EventBridgeRulesPublish", PUBLISHER_SERVICES[1])] {
        statements.push(json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:SourceAccount": account } }
        }));
    }
    json!({ "Version": "2012-10-17", "Id": "tandem-alerts-topic-key", "Statement": statements })
}

/// (partition, account) of an ARN (`arn:<partition>:<service>:<region>:<account>:...`).
pub fn arn_owner(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    if parts.next()? != "arn" {
        return None;
    }
    let partition = parts.next().filter(|p| !p.is_empty())?;
    let account = parts.nth(2).filter(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()))?;
    Some((partition, account))
}

/// The region's topic key, as owned by `alerts-{role}`.
pub struct TopicKey {
    alias: String,
    name: String,
    description: String,
    region: String,
    suffix: String,
    kms: Arc<dyn KmsApi>,
}

impl TopicKey {
    /// The key of topic `topic_name` (`alerts-{role}-{s}`).
    pub fn new(placement: Placement, region: &str, suffix: &str, kms: Arc<dyn KmsApi>) -> Self {
        let name = naming::name("alerts", placement, suffix);
        Self {
            alias: format!("alias/{name}"),
            description: format!("Tandem stack {suffix}: encrypts the SNS alert topic {name} in {region}"),
            name,
            region: region.to_string(),
            suffix: suffix.to_string(),
            kms,
        }
    }

    /// `alias/alerts-{role}-{s}`.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// True when the topic attribute `KmsMasterKeyId` designates `key` (SNS accepts the key
    /// id, key ARN, alias name or alias ARN).
    pub fn encrypts_with(&self, kms_master_key_id: Option<&str>, key: &KeyInfo) -> bool {
        let Some(v) = kms_master_key_id else { return false };
        v == key.arn || v == key.key_id || v == self.alias || v.ends_with(&format!(":{}", self.alias))
    }

    /// The desired key policy for an existing key.
    fn policy_for(&self, key: &KeyInfo) -> Value {
        let partition = arn_owner(&key.arn).map(|(p, _)| p).unwrap_or("aws");
        key_policy(partition, &key.account, &self.region)
    }

    async fn aliases(&self) -> Result<Vec<AliasInfo>, ComponentError> {
        retry(|| self.kms.list_aliases()).await.at(&self.alias, &self.region)
    }

    /// True when a previous run journaled a key create without recording its id (crash
    /// between CreateKey and the journal write, or every answer lost).
    async fn unresolved_create(&self, ctx: &Ctx) -> bool {
        ctx.entry(&KEY_KMS).await.is_some_and(|e| e.status != ResourceStatus::Done && e.op == tandem_core::state::Op::Create)
    }

    /// The keys tagged with this stack and name, not pending deletion.
    async fn find_by_tags(&self) -> Result<Vec<KeyInfo>, AwsError> {
        let ids = retry(|| self.kms.list_keys()).await?;
        let mut out = Vec::new();
        for id in ids {
            // Keys we may not read (other teams', AWS-managed) are not ours.
            let tags = match retry(|| self.kms.list_resource_tags(&id)).await {
                Ok(t) => t,
                Err(e) if e.is_retryable() => return Err(e),
                Err(_) => continue,
            };
            let ours = tags.iter().any(|(k, v)| k == naming::STACK_TAG && *v == self.suffix)
                && tags.iter().any(|(k, v)| k == "Name" && *v == self.name);
            if ours {
                if let Some(k) = retry(|| self.kms.describe_key(&id)).await?.filter(|k| !k.pending_deletion()) {
                    tracing::info!(key = %k.arn, region = %self.region, "found a key of this stack by its tags");
                    out.push(k);
                }
            }
        }
        Ok(out)
    }

    /// The protocol's lookup: the recorded key (if it still exists), else the alias target;
    /// with `scan` (a create may have acted without its answer), also every key tagged with
    /// this stack and name.
    async fn lookup(&self, recorded: Option<String>, alias_target: Option<&str>, scan: bool) -> Result<Vec<KeyInfo>, AwsError> {
        let mut out: Vec<KeyInfo> = Vec::new();
        if let Some(arn) = recorded {
            out.extend(retry(|| self.kms.describe_key(&arn)).await?);
        }
        if out.is_empty() {
            if let Some(target) = alias_target {
                out.extend(retry(|| self.kms.describe_key(target)).await?);
            }
        }
        if scan {
            for k in self.find_by_tags().await? {
                if !out.iter().any(|o| o.key_id == k.key_id) {
                    out.push(k);
                }
            }
        }
        Ok(out)
    }

    /// The key: recorded first (if it still exists), then the alias target, then (after a
    /// crashed create) by tags. Read-only.
    async fn find(&self, ctx: &Ctx, alias: Option<&AliasInfo>) -> Result<Option<KeyInfo>, ComponentError> {
        let recorded = ctx.recorded_id(&KEY_KMS).await;
        let scan = self.unresolved_create(ctx).await;
        let found = self.lookup(recorded, alias.and_then(|a| a.target_key_id.as_deref()), scan).await;
        Ok(found.at(&self.alias, &self.region)?.into_iter().next())
    }

    /// Schedules the deletion of `key_id`; a key already pending deletion (a concurrent
    /// deletion) is success.
    async fn schedule_deletion(&self, key_id: &str) -> Result<(), AwsError> {
        match self.kms.schedule_key_deletion(key_id, DELETION_WINDOW_DAYS).await {
            Err(e) if e.is_code("KMSInvalidStateException") => {
                match self.kms.describe_key(key_id).await? {
                    Some(now) if !now.pending_deletion() => Err(e),
                    _ => Ok(()),
                }
            }
            other => other,
        }
    }

    /// Waits until a new key is `Enabled` (CreateKey normally returns it so).
    async fn wait_enabled(&self, key: KeyInfo) -> Result<KeyInfo, ComponentError> {
        if key.state != "Creating" {
            return Ok(key);
        }
        let id = key.key_id.clone();
        poll_until(&self.alias, &self.region, "KMS key Enabled", Duration::from_secs(120), || async {
            match self.kms.describe_key(&id).await? {
                Some(k) if k.state != "Creating" => Ok(Poll::Ready(k)),
                Some(k) => Ok(Poll::Pending(k.state)),
                None => Ok(Poll::Pending("not visible yet".into())),
            }
        })
        .await
    }

    /// The key, found (recorded, alias target, or tagged after a lost create) or created
    /// (Rule::Tag: tagged in CreateKey itself, sent once; spares scheduled for deletion).
    /// Returns the key, whether it was created, and whether it got its final policy.
    async fn ensure_key(&self, ctx: &Ctx, aliases: &[AliasInfo]) -> Result<(KeyInfo, bool, bool), ComponentError> {
        let region = self.region.as_str();
        let owner = aliases.iter().find_map(|a| arn_owner(&a.arn));
        let policy = owner.map(|(partition, account)| key_policy(partition, account, region).to_string());
        let tags = naming::tags(&self.suffix, &self.name);
        let target = aliases.iter().find(|a| a.name == self.alias).and_then(|a| a.target_key_id.clone());
        let scan = AtomicBool::new(self.unresolved_create(ctx).await);
        let (scan, target) = (&scan, target.as_deref());
        let ensured = ctx
            .ensure::<KeyInfo>(&KEY_KMS, &self.alias, Rule::Tag)
            .find(move |recorded| async move { self.lookup(recorded, target, scan.load(Ordering::SeqCst)).await })
            .create(|_token| {
                // From now on a lookup must also search by tags: this create may act
                // without its answer arriving.
                scan.store(true, Ordering::SeqCst);
                let (policy, tags) = (policy.clone(), tags.clone());
                async move { self.kms.create_key(&self.description, policy, tags).await }
            })
            .discard(|key_id| async move { self.schedule_deletion(&key_id).await })
            .id(|k| k.arn.clone())
            .outcome()
            .await?;
        if ensured.how == How::Created {
            tracing::info!(key = %ensured.value.arn, region, "created the alert topic KMS key");
            let key = self.wait_enabled(ensured.value).await?;
            return Ok((key, true, policy.is_some()));
        }
        Ok((ensured.value, false, false))
    }

    /// Brings a disabled or deletion-scheduled key back to `Enabled`.
    async fn repair_state(&self, ctx: &Ctx, mut key: KeyInfo) -> Result<KeyInfo, ComponentError> {
        let (alias, region) = (self.alias.as_str(), self.region.as_str());
        if key.pending_deletion() {
            setting(ctx, &KEY_STATE, &key.key_id, || async {
                match retry(|| self.kms.cancel_key_deletion(&key.key_id)).await {
                    // A lost answer re-sent: the deletion is already cancelled.
                    Err(e) if e.is_code("KMSInvalidStateException") => {
                        match retry(|| self.kms.describe_key(&key.key_id)).await.at(alias, region)? {
                            Some(now) if !now.pending_deletion() => Ok(()),
                            _ => Err(ComponentError::aws(alias, region, e)),
                        }
                    }
                    other => other.at(alias, region),
                }
            })
            .await?;
            tracing::warn!(key = %key.arn, region, "cancelled the scheduled deletion of the alert topic key");
            key.state = "Disabled".into();
        }
        if key.state == "Disabled" {
            setting(ctx, &KEY_STATE, &key.key_id, || async {
                retry(|| self.kms.enable_key(&key.key_id)).await.at(alias, region)
            })
            .await?;
            key.state = "Enabled".into();
        }
        if !key.enabled() {
            return Err(ComponentError::invalid(
                alias,
                region,
                format!("KMS key {} is {} and cannot encrypt the topic; fix or delete it and apply again", key.arn, key.state),
            ));
        }
        Ok(key)
    }

    /// Ensures the key, its policy, alias and rotation; returns the key (Enabled).
    pub async fn ensure(&self, ctx: &Ctx) -> Result<KeyInfo, ComponentError> {
        let (alias, region) = (self.alias.as_str(), self.region.as_str());
        let aliases = self.aliases().await?;
        let current_alias = aliases.iter().find(|a| a.name == self.alias);
        let (key, fresh, policy_set) = match self.ensure_key(ctx, &aliases).await? {
            (k, true, policy_set) => (k, true, policy_set),
            (k, false, _) => (self.repair_state(ctx, k).await?, false, false),
        };

        // Key policy: PutKeyPolicy only when it differs (or the key got the default one).
        if !policy_set {
            let want = self.policy_for(&key);
            let have: Option<Value> = if fresh {
                None
            } else {
                let text = retry(|| self.kms.get_key_policy(&key.key_id)).await.at(alias, region)?;
                serde_json::from_str(&text).ok()
            };
            if have.as_ref() != Some(&want) {
                let text = want.to_string();
                setting(ctx, &KEY_KEY_POLICY, &key.key_id, || async {
                    retry(|| self.kms.put_key_policy(&key.key_id, &text)).await.at(alias, region)
                })
                .await?;
            }
        }

        // Alias (unique name: after a lost CreateAlias answer, "already exists" adopts it).
        match current_alias {
            Some(a) if a.target_key_id.as_deref() == Some(key.key_id.as_str()) => ctx.adopt(&KEY_ALIAS, alias).await?,
            Some(_) => {
                setting(ctx, &KEY_ALIAS, alias, || async {
                    retry(|| self.kms.update_alias(alias, &key.key_id)).await.at(alias, region)
                })
                .await?;
            }
            None => {
                // The first lookup is the listing just made (the alias is absent).
                let mut listed = Some(Vec::new());
                ctx.ensure::<String>(&KEY_ALIAS, alias, Rule::Name)
                    .find(move |_| {
                        let known = listed.take();
                        async move {
                            match known {
                                Some(v) => Ok(v),
                                None => Ok(self.kms.list_aliases().await?.into_iter().filter(|a| a.name == alias).map(|a| a.name).collect()),
                            }
                        }
                    })
                    .create(|_| async { self.kms.create_alias(alias, &key.key_id).await.map(|()| alias.to_string()) })
                    .id(|a| a.clone())
                    .run()
                    .await?;
            }
        }

        // Rotation (a new key has it off).
        let rotating = !fresh && retry(|| self.kms.get_key_rotation_status(&key.key_id)).await.at(alias, region)?;
        if rotating {
            ctx.adopt(&KEY_ROTATION, &key.key_id).await?;
        } else {
            setting(ctx, &KEY_ROTATION, &key.key_id, || async {
                retry(|| self.kms.enable_key_rotation(&key.key_id)).await.at(alias, region)
            })
            .await?;
        }
        Ok(key)
    }

    /// Drift of the key; returns the key when it exists.
    pub async fn drift(&self, ctx: &Ctx, details: &mut Vec<String>) -> Result<Option<KeyInfo>, ComponentError> {
        let (alias, region) = (self.alias.as_str(), self.region.as_str());
        let aliases = self.aliases().await?;
        let current_alias = aliases.iter().find(|a| a.name == self.alias);
        let Some(key) = self.find(ctx, current_alias).await? else {
            details.push(format!("KMS key {alias} does not exist in {region}"));
            return Ok(None);
        };
        if !key.enabled() {
            details.push(format!("KMS key {alias} ({}) is {}", key.key_id, key.state));
        }
        match current_alias.and_then(|a| a.target_key_id.as_deref()) {
            None => details.push(format!("KMS alias {alias} missing")),
            Some(t) if t != key.key_id => details.push(format!("KMS alias {alias} points to {t}, not {}", key.key_id)),
            Some(_) => {}
        }
        if key.pending_deletion() {
            // Policy and rotation of a key pending deletion cannot be read.
            return Ok(Some(key));
        }
        let text = retry(|| self.kms.get_key_policy(&key.key_id)).await.at(alias, region)?;
        if serde_json::from_str::<Value>(&text).ok() != Some(self.policy_for(&key)) {
            details.push(format!("KMS key {alias}: key policy differs"));
        }
        if !retry(|| self.kms.get_key_rotation_status(&key.key_id)).await.at(alias, region)? {
            details.push(format!("KMS key {alias}: automatic rotation disabled"));
        }
        Ok(Some(key))
    }

    /// Deletes the alias and schedules the key's deletion (7 days). Call after the topic
    /// is deleted.
    pub async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let alias = self.alias.as_str();
        let aliases = self.aliases().await?;
        let current_alias = aliases.iter().find(|a| a.name == self.alias);
        let target = current_alias.and_then(|a| a.target_key_id.clone());
        let exists = current_alias.is_some();
        ctx.delete(
            &KEY_ALIAS,
            alias,
            |_| async move { Ok(if exists { vec![alias.to_string()] } else { Vec::new() }) },
            |a| async move { self.kms.delete_alias(&a).await },
        )
        .await?;
        // Every live copy: the recorded key or the alias target, and after an unresolved
        // create the keys tagged with this stack (the orphan of a lost answer). Keys already
        // pending deletion need nothing.
        let scan = self.unresolved_create(ctx).await;
        let target = target.as_deref();
        let n = ctx
            .delete(
                &KEY_KMS,
                alias,
                |recorded| async move {
                    let found = self.lookup(recorded, target, scan).await?;
                    // ScheduleKeyDeletion takes the raw key id (moto answers 500 to an ARN).
                    Ok(found.into_iter().filter(|k| !k.pending_deletion()).map(|k| k.key_id).collect())
                },
                |key_id| async move { self.schedule_deletion(&key_id).await },
            )
            .await?;
        if n > 0 {
            tracing::info!(alias, region = %self.region, keys = n, days = DELETION_WINDOW_DAYS, "scheduled the deletion of the alert topic key");
        }
        for key in [&KEY_ROTATION, &KEY_KEY_POLICY, &KEY_STATE] {
            ctx.forget(key).await?;
        }
        Ok(())
    }
}

/// Journals an idempotent in-place setting `change` of the resource `id` under `key` (the
/// key records which resource the setting applies to).
pub(crate) async fn setting<F, Fut>(ctx: &Ctx, key: &Key, id: &str, change: F) -> Result<(), ComponentError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), ComponentError>>,
{
    if ctx.recorded_id(key).await.as_deref() != Some(id) {
        ctx.adopt(key, id).await?;
    }
    ctx.update(key, change).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::MockKmsApi;
    use crate::test_support::{aliases_with_ours, aws_aliases, key, key_id, kms_in_sync, SUFFIX};
    use mockall::Sequence;
    use tandem_core::state::ComponentState;
    use tandem_core::AwsError;

    const P: Placement = Placement::Primary;

    fn topic_key(kms: MockKmsApi) -> TopicKey {
        TopicKey::new(P, "us-east-1", SUFFIX, Arc::new(kms))
    }

    fn ctx() -> Ctx {
        Ctx::standalone("alerts-primary", "us-east-1")
    }

    fn actions(statement: &Value) -> Vec<String> {
        match &statement["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(v) => v.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn key_policy_is_least_privilege() {
        let policy = key_policy("aws", "123456789012", "us-east-1");
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 4);
        for s in &statements {
            assert_eq!(s["Effect"], "Allow");
            for a in actions(s) {
                assert!(a != "*" && a != "kms:*", "wildcard action {a}");
                assert!(a.starts_with("kms:"), "{a}");
                // The only wildcard is the documented GenerateDataKey* family.
                assert!(!a.contains('*') || a == "kms:GenerateDataKey*", "{a}");
            }
            assert_ne!(s["Principal"], json!("*"));
            assert_ne!(s["Principal"]["AWS"], json!("*"));
        }
        // Root: administration (incl. what destroy and re-apply need), no direct crypto.
        let root = json!({ "AWS": "arn:aws:iam::123456789012:root" });
        let admin = statements.iter().find(|s| s["Principal"] == root && s.get("Condition").is_none()).expect("admin statement");
        let admin_actions = actions(admin);
        for a in [
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:PutKeyPolicy",
            "kms:EnableKey",
            "kms:DisableKey",
            "kms:ScheduleKeyDeletion",
            "kms:CancelKeyDeletion",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:CreateAlias",
            "kms:DeleteAlias",
            "kms:UpdateAlias",
            "kms:EnableKeyRotation",
            "kms:GetKeyRotationStatus",
        ] {
            assert!(admin_actions.iter().any(|x| x == a), "root misses {a}");
        }
        assert!(!admin_actions.iter().any(|a| a.contains("Encrypt") || a.contains("Decrypt") || a.contains("GenerateDataKey")));
        // Account principals use the key only through SNS of this region.
        let via = statements.iter().find(|s| s["Principal"] == root && s.get("Condition").is_some()).expect("via statement");
        assert_eq!(actions(via), vec!["kms:GenerateDataKey*", "kms:Decrypt"]);
        assert_eq!(via["Condition"]["StringEquals"]["kms:ViaService"], "sns.us-east-1.amazonaws.com");
        assert_eq!(via["Condition"]["StringEquals"]["kms:CallerAccount"], "123456789012");
        // Publishing services: GenerateDataKey*/Decrypt, for this account only.
        for service in ["cloudwatch.amazonaws.com", "events.amazonaws.com"] {
            let s = statements.iter().find(|s| s["Principal"]["Service"] == service).expect(service);
            assert_eq!(actions(s), vec!["kms:GenerateDataKey*", "kms:Decrypt"]);
            assert_eq!(s["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        }
        let text = policy.to_string();
        assert!(!text.contains("\"Action\":\"*\"") && !text.contains("\"kms:*\""));
    }

    #[test]
    fn arn_owner_reads_partition_and_account() {
        assert_eq!(arn_owner("arn:aws:kms:us-east-1:123456789012:alias/aws/sns"), Some(("aws", "123456789012")));
        assert_eq!(arn_owner("arn:aws-cn:kms:cn-north-1:123456789012:key/k"), Some(("aws-cn", "123456789012")));
        assert_eq!(arn_owner("arn:aws:iam::123456789012:root"), Some(("aws", "123456789012")));
        assert_eq!(arn_owner("alias/aws/sns"), None);
        assert_eq!(arn_owner("arn:aws:s3:::bucket"), None);
    }

    #[tokio::test]
    async fn existing_key_found_by_alias_makes_no_mutating_call() {
        // kms_in_sync has no expectation for create_key, put_key_policy, create_alias,
        // update_alias, enable_key_rotation, enable_key: any such call fails the test.
        let k = topic_key(kms_in_sync(P));
        let c = ctx();
        let got = k.ensure(&c).await.expect("ensure");
        assert_eq!(got, key(P));
        assert_eq!(c.recorded_id(&KEY_KMS).await, Some(key(P).arn));
        assert_eq!(c.recorded_id(&KEY_ALIAS).await.as_deref(), Some("alias/alerts-primary-t1"));
        let mut details = Vec::new();
        k.drift(&c, &mut details).await.expect("drift");
        assert!(details.is_empty(), "{details:?}");
    }

    #[tokio::test]
    async fn differing_policy_and_disabled_rotation_are_fixed_and_nothing_else() {
        let mut kms = MockKmsApi::new();
        let mut seq = Sequence::new();
        kms.expect_list_aliases().returning(|| Ok(aliases_with_ours(P)));
        kms.expect_describe_key().returning(|_| Ok(Some(key(P))));
        kms.expect_get_key_policy().times(1).in_sequence(&mut seq).returning(|_| {
            Ok(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}).to_string())
        });
        kms.expect_put_key_policy()
            .withf(|k, p| k == key_id(P) && serde_json::from_str::<Value>(p).ok() == Some(key_policy("aws", "123456789012", "us-east-1")))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        kms.expect_get_key_rotation_status().times(1).in_sequence(&mut seq).returning(|_| Ok(false));
        kms.expect_enable_key_rotation().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        topic_key(kms).ensure(&ctx()).await.expect("ensure");
    }

    #[tokio::test]
    async fn without_any_alias_the_key_gets_its_policy_right_after_creation() {
        let mut kms = MockKmsApi::new();
        let mut seq = Sequence::new();
        kms.expect_list_aliases().times(1).in_sequence(&mut seq).returning(|| Ok(vec![]));
        kms.expect_create_key().withf(|_, p, _| p.is_none()).times(1).in_sequence(&mut seq).returning(|_, _, _| Ok(key(P)));
        kms.expect_put_key_policy()
            .withf(|k, p| k == key_id(P) && serde_json::from_str::<Value>(p).ok() == Some(key_policy("aws", "123456789012", "us-east-1")))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        kms.expect_create_alias().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        kms.expect_enable_key_rotation().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        topic_key(kms).ensure(&ctx()).await.expect("ensure");
    }

    #[tokio::test]
    async fn a_key_pending_deletion_is_restored_on_apply() {
        let mut kms = MockKmsApi::new();
        let mut seq = Sequence::new();
        kms.expect_list_aliases().returning(|| Ok(aliases_with_ours(P)));
        kms.expect_describe_key().returning(|_| Ok(Some(KeyInfo { state: "PendingDeletion".into(), ..key(P) })));
        kms.expect_cancel_key_deletion().withf(|k| k == key_id(P)).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        kms.expect_enable_key().withf(|k| k == key_id(P)).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        kms.expect_get_key_policy().returning(|_| Ok(key_policy("aws", "123456789012", "us-east-1").to_string()));
        kms.expect_get_key_rotation_status().returning(|_| Ok(true));
        let got = topic_key(kms).ensure(&ctx()).await.expect("ensure");
        assert!(got.enabled());
    }

    #[tokio::test]
    async fn an_interrupted_create_is_resolved_by_tags_without_a_second_key() {
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(P)));
        kms.expect_list_keys().times(1).returning(|| Ok(vec!["other-key".into(), key_id(P)]));
        kms.expect_list_resource_tags().returning(|k| {
            if k == key_id(P) {
                Ok(naming::tags(SUFFIX, "alerts-primary-t1"))
            } else {
                Err(AwsError::other("AccessDeniedException", "not yours"))
            }
        });
        kms.expect_describe_key().withf(|k| k == key_id(P)).returning(|_| Ok(Some(key(P))));
        kms.expect_get_key_policy().returning(|_| Ok(key_policy("aws", "123456789012", "us-east-1").to_string()));
        kms.expect_create_alias().withf(|a, k| a == "alias/alerts-primary-t1" && k == key_id(P)).times(1).returning(|_, _| Ok(()));
        kms.expect_get_key_rotation_status().returning(|_| Ok(false));
        kms.expect_enable_key_rotation().times(1).returning(|_| Ok(()));
        // No create_key expectation.
        let prior = ComponentState::new("sns-topic", P, "us-east-1").with_pending_create(KEY_KMS.as_str(), None);
        let c = ctx().with_prior(prior);
        topic_key(kms).ensure(&c).await.expect("ensure");
        assert_eq!(c.recorded_id(&KEY_KMS).await, Some(key(P).arn));
    }

    #[tokio::test]
    async fn destroy_of_a_key_already_pending_deletion_only_removes_the_alias() {
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aliases_with_ours(P)));
        kms.expect_describe_key().returning(|_| Ok(Some(KeyInfo { state: "PendingDeletion".into(), ..key(P) })));
        kms.expect_delete_alias().times(1).returning(|_| Ok(()));
        // No schedule_key_deletion expectation.
        let prior = ComponentState::new("sns-topic", P, "us-east-1").with_resource(KEY_KMS.as_str(), &key(P).arn);
        let c = ctx().with_prior(prior);
        topic_key(kms).destroy(&c).await.expect("destroy");
        assert!(c.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn destroy_treats_a_key_gone_and_a_concurrent_deletion_as_success() {
        // Recorded key gone: nothing to schedule.
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(P)));
        kms.expect_describe_key().returning(|_| Ok(None));
        let prior = ComponentState::new("sns-topic", P, "us-east-1").with_resource(KEY_KMS.as_str(), &key(P).arn);
        topic_key(kms).destroy(&ctx().with_prior(prior)).await.expect("destroy of a gone key");

        // ScheduleKeyDeletion races with another deletion: KMSInvalidStateException, then
        // the key is PendingDeletion.
        let mut kms = MockKmsApi::new();
        let mut described = 0;
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(P)));
        kms.expect_describe_key().times(2).returning(move |_| {
            described += 1;
            let state = if described == 1 { "Enabled" } else { "PendingDeletion" };
            Ok(Some(KeyInfo { state: state.into(), ..key(P) }))
        });
        kms.expect_schedule_key_deletion()
            .times(1)
            .returning(|_, _| Err(AwsError::other("KMSInvalidStateException", "is pending deletion")));
        let prior = ComponentState::new("sns-topic", P, "us-east-1").with_resource(KEY_KMS.as_str(), &key(P).arn);
        topic_key(kms).destroy(&ctx().with_prior(prior)).await.expect("destroy during a concurrent deletion");
    }

    #[tokio::test]
    async fn drift_reports_pending_deletion_and_missing_alias() {
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(P)));
        kms.expect_describe_key().returning(|_| Ok(Some(KeyInfo { state: "PendingDeletion".into(), ..key(P) })));
        let prior = ComponentState::new("sns-topic", P, "us-east-1").with_resource(KEY_KMS.as_str(), &key(P).arn);
        let mut details = Vec::new();
        topic_key(kms).drift(&ctx().with_prior(prior), &mut details).await.expect("drift");
        assert!(details.iter().any(|d| d.contains("PendingDeletion")), "{details:?}");
        assert!(details.iter().any(|d| d.contains("alias alias/alerts-primary-t1 missing")), "{details:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_create_key_is_retried() {
        let mut kms = MockKmsApi::new();
        let mut calls = 0;
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(P)));
        kms.expect_create_key().times(3).returning(move |_, _, _| {
            calls += 1;
            if calls < 3 {
                Err(AwsError::throttling())
            } else {
                Ok(key(P))
            }
        });
        // After each throttled attempt the key is looked up by its tags (none yet).
        kms.expect_list_keys().returning(|| Ok(vec![]));
        kms.expect_describe_key().returning(|_| Ok(Some(key(P))));
        kms.expect_create_alias().times(1).returning(|_, _| Ok(()));
        kms.expect_enable_key_rotation().times(1).returning(|_| Ok(()));
        let c = ctx();
        topic_key(kms).ensure(&c).await.expect("ensure");
        assert_eq!(c.recorded_id(&KEY_KMS).await, Some(key(P).arn));
    }

    #[tokio::test]
    async fn errors_name_the_key_and_region() {
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(Placement::Secondary)));
        kms.expect_create_key().returning(|_, _, _| Err(AwsError::other("AccessDeniedException", "not allowed")));
        let k = TopicKey::new(Placement::Secondary, "us-east-2", SUFFIX, Arc::new(kms));
        let c = Ctx::standalone("alerts-secondary", "us-east-2");
        let err = k.ensure(&c).await.expect_err("must fail").to_string();
        assert!(
            err.contains("alias/alerts-secondary-t1") && err.contains("us-east-2") && err.contains("AccessDeniedException"),
            "{err}"
        );
        assert!(c.recorded_id(&KEY_KMS).await.is_none());
        assert_eq!(c.entry(&KEY_KMS).await.map(|e| e.status), Some(ResourceStatus::Failed));
    }

    /// A KMS mock whose CreateKey acts (the key then exists, tagged) and whose answer is
    /// lost with a 500, `copies` times over across the keys given.
    fn kms_with_tagged_keys(keys: Vec<KeyInfo>) -> MockKmsApi {
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(P)));
        let ids: Vec<String> = keys.iter().map(|k| k.key_id.clone()).collect();
        kms.expect_list_keys().returning(move || Ok(ids.clone()));
        kms.expect_list_resource_tags().returning(|_| Ok(naming::tags(SUFFIX, "alerts-primary-t1")));
        kms.expect_describe_key()
            .returning(move |k| Ok(keys.iter().find(|x| x.key_id == k || x.arn == k).cloned()));
        kms.expect_get_key_policy().returning(|_| Ok(key_policy("aws", "123456789012", "us-east-1").to_string()));
        kms.expect_get_key_rotation_status().returning(|_| Ok(true));
        kms.expect_create_alias().times(1).returning(|_, _| Ok(()));
        kms
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_create_key_answer_is_resolved_by_tags_with_one_create() {
        // CreateKey acts, its answer is lost (500); the lookup by tags finds the key.
        let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut kms = MockKmsApi::new();
        kms.expect_list_aliases().returning(|| Ok(aws_aliases(P)));
        let c1 = created.clone();
        kms.expect_list_keys().returning(move || {
            Ok(if c1.load(std::sync::atomic::Ordering::SeqCst) { vec![key_id(P)] } else { vec![] })
        });
        kms.expect_list_resource_tags().returning(|_| Ok(naming::tags(SUFFIX, "alerts-primary-t1")));
        kms.expect_describe_key().returning(|k| Ok((k == key_id(P) || k == key(P).arn).then(|| key(P))));
        let c2 = created.clone();
        kms.expect_create_key().times(1).returning(move |_, _, _| {
            c2.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(AwsError::new("InternalError", "x", Some(500)))
        });
        kms.expect_get_key_policy().returning(|_| Ok(key_policy("aws", "123456789012", "us-east-1").to_string()));
        kms.expect_get_key_rotation_status().returning(|_| Ok(true));
        kms.expect_create_alias().withf(|_, k| k == key_id(P)).times(1).returning(|_, _| Ok(()));
        let c = ctx();
        topic_key(kms).ensure(&c).await.expect("ensure");
        let e = c.entry(&KEY_KMS).await.expect("journaled");
        assert_eq!((e.status, e.id), (ResourceStatus::Done, Some(key(P).arn)));
    }

    #[tokio::test]
    async fn two_tagged_keys_after_an_unresolved_create_keep_one_and_schedule_the_spare() {
        let spare = KeyInfo {
            key_id: "9999aaaa-bbbb-cccc-dddd-eeeeffff0000".into(),
            arn: "arn:aws:kms:us-east-1:123456789012:key/9999aaaa-bbbb-cccc-dddd-eeeeffff0000".into(),
            ..key(P)
        };
        let mut kms = kms_with_tagged_keys(vec![key(P), spare.clone()]);
        let spare_arn = spare.arn.clone();
        kms.expect_schedule_key_deletion()
            .withf(move |k, days| k == spare_arn && *days == DELETION_WINDOW_DAYS)
            .times(1)
            .returning(|_, _| Ok(()));
        // No create_key expectation.
        let prior = ComponentState::new("sns-topic", P, "us-east-1").with_pending_create(KEY_KMS.as_str(), Some("t"));
        let c = ctx().with_prior(prior);
        topic_key(kms).ensure(&c).await.expect("ensure");
        assert_eq!(c.recorded_id(&KEY_KMS).await, Some(key(P).arn));
    }
}
