//! S3: the regional buckets (`bucket-secondary`, then `bucket-primary`), the replication
//! role `s3-replication-{s}` and the cross-region replication configuration with RTC.
//!
//! Each bucket is versioned, encrypted by default (SSE-S3, AES256, bucket keys), has every
//! public access block flag on and a bucket policy denying any request not made over TLS.
//! The primary bucket replicates every object (empty prefix filter) and its delete markers to
//! the secondary bucket with Replication Time Control (15 min) and replication metrics.
//!
//! `apply` reads each setting and writes only what differs; `destroy` removes replication,
//! then the bucket policy (an emulator reached over plain HTTP enforces the TLS-only policy
//! and would deny our own object calls), empties every version and delete marker (batches of
//! at most 1000), deletes the bucket and, for the primary, the replication role.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{ignore_not_found, poll_until, retry, retry_if, AwsContext, Poll};
use tandem_core::contracts::{ids, BucketOutputs};
use tandem_core::iam::same_json;
use tandem_core::paging::PageTokens;
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Key, Outputs,
    Placement, Rule,
};

use crate::iam::{self, IamApi, RoleSpec};

#[path = "s3_api.rs"]
mod api;
pub use api::*;

/// Most ListObjectVersions pages a destroy's data summary reads.
const COUNT_PAGES: usize = 100;

/// Id of the single replication rule on the primary bucket.
pub const REPLICATION_RULE_ID: &str = "replicate-all";
/// Name of the replication role's inline policy.
pub const REPLICATION_POLICY_NAME: &str = "s3-replication";

/// Journal keys.
mod keys {
    use tandem_core::Key;
    pub const BUCKET: Key = Key::new("bucket");
    pub const TAGS: Key = Key::new("tags");
    pub const VERSIONING: Key = Key::new("versioning");
    pub const ENCRYPTION: Key = Key::new("encryption");
    pub const PUBLIC_ACCESS_BLOCK: Key = Key::new("public-access-block");
    pub const POLICY: Key = Key::new("policy");
    pub const ROLE: Key = Key::new("role");
    pub const REPLICATION: Key = Key::new("replication");
    /// The bucket settings, updated in place.
    pub const SETTINGS: [Key; 5] = [TAGS, VERSIONING, ENCRYPTION, PUBLIC_ACCESS_BLOCK, POLICY];
}

/// The bucket components of the stack: secondary first (the primary depends on it).
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let s3_client = |region: &str| -> Arc<dyn S3Api> {
        let sdk = aws.config(region);
        let conf = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(aws.endpoint_overridden()).build();
        Arc::new(api::S3Client::new(aws_sdk_s3::Client::from_conf(conf), cfg.account_id.as_ref().map(|a| a.as_str().to_string())))
    };
    let iam_client: Arc<dyn IamApi> = Arc::new(aws_sdk_iam::Client::new(&aws.config(&cfg.primary_region)));
    vec![
        Arc::new(BucketComponent::secondary(cfg, s3_client(&cfg.secondary_region))),
        Arc::new(BucketComponent::primary(cfg, s3_client(&cfg.primary_region), iam_client)),
    ]
}

/// ARN of a bucket.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The bucket policy: deny every request not made over TLS.
pub fn tls_only_policy(bucket: &str) -> String {
    let arn = bucket_arn(bucket);
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } }
        }]
    })
    .to_string()
}

/// Least-privilege policy of the replication role: only these two buckets.
pub fn replication_role_policy(source: &str, destination: &str) -> String {
    let src = bucket_arn(source);
    let dst = bucket_arn(destination);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SourceBucket",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": [src.clone()]
            },
            {
                "Sid": "SourceObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
                "Resource": [format!("{src}/*")]
            },
            {
                "Sid": "DestinationObjects",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": [format!("{dst}/*")]
            }
        ]
    })
    .to_string()
}

/// Does the live configuration match the desired one (role, rule, destination, delete-marker
/// replication, Replication Time Control and metrics)?
fn replication_matches(live: &ReplicationSpec, want: &ReplicationSpec) -> bool {
    live.role_arn == want.role_arn
        && live.rule_id == want.rule_id
        && live.destination_bucket_arn == want.destination_bucket_arn
        && live.delete_marker_replication == want.delete_marker_replication
        && live.replication_time == want.replication_time
        && live.metrics == want.metrics
}

/// Replication setup of the primary bucket.
struct Replication {
    iam: Arc<dyn IamApi>,
    role_name: String,
    secondary_id: String,
}

/// `bucket-{role}`: one regional bucket; the primary one also owns the replication role and
/// configuration.
pub struct BucketComponent {
    id: String,
    placement: Placement,
    region: String,
    suffix: String,
    /// `bucket-{role}-{suffix}-{account}`; the account is known once the CLI has asked STS
    /// (or read it from the state): until then the bucket cannot be named, and nothing is
    /// touched ([`BucketComponent::named`]).
    bucket: String,
    account: Option<String>,
    s3: Arc<dyn S3Api>,
    replication: Option<Replication>,
}

/// The account part of a bucket name while the account is unknown (never sent to AWS).
pub const UNKNOWN_ACCOUNT: &str = "unknown-account";

fn bucket_name(cfg: &Config, p: Placement) -> (String, Option<String>) {
    let account = cfg.account_id.as_ref().map(|a| a.as_str().to_string());
    (naming::bucket(p, &cfg.environment_suffix, account.as_deref().unwrap_or(UNKNOWN_ACCOUNT)), account)
}

impl BucketComponent {
    /// `bucket-secondary`.
    pub fn secondary(cfg: &Config, s3: Arc<dyn S3Api>) -> Self {
        let p = Placement::Secondary;
        let (bucket, account) = bucket_name(cfg, p);
        Self {
            id: ids::bucket(p),
            placement: p,
            region: cfg.secondary_region.clone(),
            suffix: cfg.environment_suffix.clone(),
            bucket,
            account,
            s3,
            replication: None,
        }
    }

    /// `bucket-primary`, replicating to `bucket-secondary`.
    pub fn primary(cfg: &Config, s3: Arc<dyn S3Api>, iam: Arc<dyn IamApi>) -> Self {
        let p = Placement::Primary;
        let (bucket, account) = bucket_name(cfg, p);
        Self {
            id: ids::bucket(p),
            placement: p,
            region: cfg.primary_region.clone(),
            suffix: cfg.environment_suffix.clone(),
            bucket,
            account,
            s3,
            replication: Some(Replication {
                iam,
                role_name: naming::name("s3-replication", Placement::Global, &cfg.environment_suffix),
                secondary_id: ids::bucket(Placement::Secondary),
            }),
        }
    }

    /// The bucket name.
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    fn location(&self) -> Option<String> {
        (self.region != "us-east-1").then(|| self.region.clone())
    }

    /// Refuses any AWS call while the account (part of the name) is unknown.
    fn named(&self) -> Result<(), ComponentError> {
        if self.account.is_some() {
            Ok(())
        } else {
            Err(ComponentError::invalid(
                &self.bucket,
                &self.region,
                "the AWS account is unknown (no region answered sts:GetCallerIdentity and the state records none), so the bucket's name is not known; run again when AWS answers",
            ))
        }
    }

    fn err(&self, e: AwsError) -> ComponentError {
        ComponentError::aws(&self.bucket, &self.region, e)
    }

    /// Runs one journaled, idempotent in-place change of a bucket setting.
    async fn mutate<F, Fut>(&self, ctx: &Ctx, key: &Key, call: F) -> Result<(), ComponentError>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = Result<(), AwsError>> + Send,
    {
        ctx.update(key, || async move { retry(call).await.map_err(|e| self.err(e)) }).await
    }

    /// The bucket, [`Rule::Name`]: bucket names are global and this one carries the stack's
    /// suffix. `BucketAlreadyOwnedByYou` (a lost answer, an interrupted run) is ours and
    /// adopted; `BucketAlreadyExists` is someone else's, which the lookup (HeadBucket) does
    /// not find, and the core reports it.
    async fn ensure_bucket(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (s3, b, r) = (&self.s3, self.bucket.as_str(), self.region.as_str());
        let location = self.location();
        let ensured = ctx
            .ensure::<String>(&keys::BUCKET, b, Rule::Name)
            .find_one(move |_recorded| async move { Ok(s3.bucket_exists(b).await?.then(|| b.to_string())) })
            .create(move |_token| {
                let location = location.clone();
                async move {
                    tracing::info!(bucket = b, region = r, "creating bucket");
                    s3.create_bucket(b, location).await.map(|()| b.to_string())
                }
            })
            .id(|b| b.clone())
            .outcome()
            .await?;
        if ensured.how == tandem_core::How::Created {
            // S3 is eventually consistent: wait until the bucket answers.
            poll_until(b, r, "bucket to exist", Duration::from_secs(120), || async {
                Ok(if s3.bucket_exists(b).await? { Poll::Ready(()) } else { Poll::Pending("creating".into()) })
            })
            .await?;
        }
        Ok(())
    }

    async fn ensure_settings(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (s3, b, r) = (&self.s3, self.bucket.as_str(), self.region.as_str());

        let want_tags = naming::tags(&self.suffix, b);
        let live_tags = retry(|| s3.get_bucket_tagging(b)).await.at(b, r)?;
        if !want_tags.iter().all(|t| live_tags.contains(t)) {
            let mut merged: Vec<(String, String)> =
                live_tags.into_iter().filter(|(k, _)| !want_tags.iter().any(|(wk, _)| wk == k)).collect();
            merged.extend(want_tags.iter().cloned());
            self.mutate(ctx, &keys::TAGS, || s3.put_bucket_tagging(b, merged.clone())).await?;
        }

        if retry(|| s3.get_bucket_versioning(b)).await.at(b, r)?.as_deref() != Some("Enabled") {
            self.mutate(ctx, &keys::VERSIONING, || s3.enable_versioning(b)).await?;
        }

        if retry(|| s3.get_bucket_encryption(b)).await.at(b, r)?.is_none() {
            self.mutate(ctx, &keys::ENCRYPTION, || s3.put_bucket_encryption(b)).await?;
        }

        if retry(|| s3.get_public_access_block(b)).await.at(b, r)? != Some(PublicAccessBlock::all()) {
            self.mutate(ctx, &keys::PUBLIC_ACCESS_BLOCK, || s3.put_public_access_block(b, PublicAccessBlock::all()))
                .await?;
        }

        let policy = tls_only_policy(b);
        let live = retry(|| s3.get_bucket_policy(b)).await.at(b, r)?;
        if !live.as_deref().is_some_and(|l| same_json(l, &policy)) {
            self.mutate(ctx, &keys::POLICY, || s3.put_bucket_policy(b, &policy)).await?;
        }
        Ok(())
    }

    /// Ensures the replication role and configuration; returns (role ARN, rule id).
    async fn ensure_replication(&self, ctx: &Ctx, rep: &Replication) -> Result<(String, String), ComponentError> {
        let (s3, b, r) = (&self.s3, self.bucket.as_str(), self.region.as_str());
        let dest: BucketOutputs = ctx.input(&rep.secondary_id)?;
        let spec = RoleSpec {
            name: rep.role_name.clone(),
            // S3 may assume it only for this account's replication of this bucket.
            trust_policy: iam::scoped_trust_policy("s3.amazonaws.com", self.account.as_deref(), Some(&bucket_arn(b))),
            inline: vec![(REPLICATION_POLICY_NAME.to_string(), replication_role_policy(b, &dest.bucket_name))],
            managed: vec![],
            tags: naming::tags(&self.suffix, &rep.role_name),
        };
        let role_arn = iam::ensure_role(ctx, rep.iam.as_ref(), &keys::ROLE, &spec).await?;

        let want = ReplicationSpec {
            role_arn: role_arn.clone(),
            rule_id: REPLICATION_RULE_ID.to_string(),
            destination_bucket_arn: bucket_arn(&dest.bucket_name),
            delete_marker_replication: true,
            replication_time: true,
            metrics: true,
        };
        let live = retry(|| s3.get_bucket_replication(b)).await.at(b, r)?;
        if !live.as_ref().is_some_and(|l| replication_matches(l, &want)) {
            tracing::info!(bucket = b, region = r, destination = %dest.bucket_name, "configuring replication");
            ctx.update(&keys::REPLICATION, || async {
                // Versioning of the destination may still be settling; a fresh role may not be
                // visible yet.
                retry_if(
                    || s3.put_bucket_replication(b, &want),
                    |e| {
                        e.is_code("NoSuchBucket")
                            || (e.is_code("InvalidRequest") && e.message.to_lowercase().contains("versioning"))
                            || e.message.contains("role")
                    },
                )
                .await
                .at(b, r)
            })
            .await?;
        }
        Ok((role_arn, REPLICATION_RULE_ID.to_string()))
    }

    /// Counts object versions and delete markers, page by page, up to [`crate::COUNT_LIMIT`]
    /// (and at most [`COUNT_PAGES`] pages): `(count, more)`, `more` when it stopped early.
    /// None when the bucket does not exist.
    async fn count_versions(&self) -> Result<Option<(usize, bool)>, ComponentError> {
        let (s3, b) = (&self.s3, self.bucket.as_str());
        let mut marker: Option<(String, Option<String>)> = None;
        let mut n = 0usize;
        let mut pages = PageTokens::new("ListObjectVersions", b);
        for _ in 0..COUNT_PAGES {
            let page = match retry(|| s3.list_object_versions(b, marker.clone())).await {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(self.err(e)),
            };
            n += page.entries.len();
            match page.next {
                None => return Ok(Some((n, false))),
                Some(_) if n >= crate::COUNT_LIMIT => return Ok(Some((n, true))),
                Some(next) => {
                    pages.next(Some(&version_marker(&next))).map_err(|e| self.err(e))?;
                    marker = Some(next)
                }
            }
        }
        Ok(Some((n, true)))
    }

    /// Deletes every object version and delete marker, page by page (≤ 1000 per call).
    async fn empty_bucket(&self) -> Result<(), ComponentError> {
        let (s3, b, r) = (&self.s3, self.bucket.as_str(), self.region.as_str());
        let mut deleted = 0usize;
        // Passes over the whole bucket: a second pass catches what arrived meanwhile.
        for _pass in 0..5 {
            let mut marker: Option<(String, Option<String>)> = None;
            let mut seen = 0usize;
            let mut pages = PageTokens::new("ListObjectVersions", b);
            loop {
                let page = match retry(|| s3.list_object_versions(b, marker.clone())).await {
                    Ok(p) => p,
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(self.err(e)),
                };
                seen += page.entries.len();
                for chunk in page.entries.chunks(1000) {
                    ignore_not_found(retry(|| s3.delete_objects(b, chunk.to_vec())).await).at(b, r)?;
                    deleted += chunk.len();
                }
                match page.next {
                    Some(next) => {
                        pages.next(Some(&version_marker(&next))).at(b, r)?;
                        marker = Some(next)
                    }
                    None => break,
                }
            }
            if seen == 0 {
                tracing::info!(bucket = b, region = r, deleted, "bucket emptied");
                return Ok(());
            }
        }
        Err(ComponentError::invalid(b, r, "objects keep arriving while emptying the bucket"))
    }
}

/// The page token of a versions listing: its (key, version id) marker pair.
fn version_marker((key, version): &(String, Option<String>)) -> String {
    format!("{key}\u{0}{}", version.as_deref().unwrap_or_default())
}

#[async_trait::async_trait]
impl Component for BucketComponent {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "s3-bucket"
    }
    fn placement(&self) -> Placement {
        self.placement
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        self.replication.as_ref().map(|r| vec![r.secondary_id.clone()]).unwrap_or_default()
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::BucketOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Synchronous calls plus brief NoSuchBucket / "Versioning must be Enabled" retries
        // (AWS-NOTES.md); terraform-provider-aws bounds that propagation at 1 min.
        Duration::from_secs(if self.replication.is_some() { 30 } else { 15 })
    }
    fn holds_data(&self) -> Option<String> {
        Some(format!("the objects of S3 bucket {} (every version)", self.bucket))
    }
    async fn data_summary(&self, _ctx: &Ctx) -> Result<Option<String>, ComponentError> {
        self.named()?;
        Ok(Some(match self.count_versions().await? {
            None => format!("bucket {} does not exist: nothing to delete", self.bucket),
            Some((n, more)) => format!("{} object versions and delete markers in bucket {}", crate::bounded_count(n, more), self.bucket),
        }))
    }
    fn desired(&self) -> Desired {
        let mut update = json!({
            "versioning": "Enabled",
            "encryption": "AES256",
            "public_access_block": "all",
            "policy": "tls-only",
            "tags": naming::tags(&self.suffix, &self.bucket),
        });
        if let Some(rep) = &self.replication {
            update["replication"] = json!({
                "role": rep.role_name,
                "rule": REPLICATION_RULE_ID,
                "filter": "",
                "delete_markers": true,
                "rtc_minutes": 15,
                "metrics_minutes": 15,
            });
        }
        Desired::new(json!({ "bucket": self.bucket, "region": self.region }), update)
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        self.named()?;
        self.ensure_bucket(ctx).await?;
        self.ensure_settings(ctx).await?;
        let (role, rule) = match &self.replication {
            Some(rep) => {
                let (a, b) = self.ensure_replication(ctx, rep).await?;
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        Ok(to_outputs(&BucketOutputs {
            bucket_name: self.bucket.clone(),
            bucket_arn: bucket_arn(&self.bucket),
            replication_role_arn: role,
            replication_rule_id: rule,
        }))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        self.named()?;
        let (s3, b, r) = (&self.s3, self.bucket.as_str(), self.region.as_str());
        let exists = retry(|| s3.bucket_exists(b)).await.at(b, r)?;
        // The settings live and die with the bucket: every delete below is keyed by its name.
        let live = move |_recorded: Option<String>| async move { Ok(if exists { vec![b.to_string()] } else { Vec::new() }) };
        if self.replication.is_some() {
            ctx.delete(&keys::REPLICATION, b, live, |_| async move { ignore_not_found(s3.delete_bucket_replication(b).await) })
                .await?;
        }
        // The TLS-only policy first: it would deny our own calls over plain HTTP.
        ctx.delete(&keys::POLICY, b, live, |_| async move { ignore_not_found(s3.delete_bucket_policy(b).await) }).await?;
        // Emptied, then deleted; objects landing meanwhile (replication) make it BucketNotEmpty.
        for attempt in 0..=3 {
            if exists {
                self.empty_bucket().await?;
            }
            match ctx.delete(&keys::BUCKET, b, live, |_| async move { s3.delete_bucket(b).await }).await {
                Ok(_) => break,
                Err(e) if attempt < 3 && e.aws_error().is_some_and(|e| e.is_code("BucketNotEmpty")) => {}
                Err(e) => return Err(e),
            }
        }
        if exists {
            tracing::info!(bucket = b, region = r, "bucket deleted");
        }
        for key in &keys::SETTINGS {
            ctx.forget(key).await?;
        }
        if let Some(rep) = &self.replication {
            let (iam, name) = (rep.iam.as_ref(), rep.role_name.as_str());
            ctx.delete(
                &keys::ROLE,
                name,
                |_recorded| async move { Ok(iam.get_role(name).await?.filter(|arn| iam::is_stack_role(arn, name)).into_iter().collect()) },
                |_arn| async move { iam::delete_role(iam, name).await },
            )
            .await?;
        }
        Ok(())
    }

    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        self.named()?;
        let (s3, b, r) = (&self.s3, self.bucket.as_str(), self.region.as_str());
        if !retry(|| s3.bucket_exists(b)).await.at(b, r)? {
            return Ok(Drift::Missing { details: vec![format!("bucket {b} does not exist in {r}")] });
        }
        let mut details = Vec::new();
        if retry(|| s3.get_bucket_versioning(b)).await.at(b, r)?.as_deref() != Some("Enabled") {
            details.push(format!("{b}: versioning is not Enabled"));
        }
        if retry(|| s3.get_bucket_encryption(b)).await.at(b, r)?.is_none() {
            details.push(format!("{b}: no default encryption"));
        }
        if retry(|| s3.get_public_access_block(b)).await.at(b, r)? != Some(PublicAccessBlock::all()) {
            details.push(format!("{b}: public access block is not fully on"));
        }
        if !retry(|| s3.get_bucket_policy(b)).await.at(b, r)?.is_some_and(|p| same_json(&p, &tls_only_policy(b))) {
            details.push(format!("{b}: bucket policy is not the TLS-only policy"));
        }
        if let Some(rep) = &self.replication {
            if retry(|| rep.iam.get_role(&rep.role_name)).await.at(&rep.role_name, r)?.is_none() {
                details.push(format!("replication role {} is missing", rep.role_name));
            }
            match retry(|| s3.get_bucket_replication(b)).await.at(b, r)? {
                None => details.push(format!("{b}: no replication configuration")),
                Some(live) => {
                    if live.rule_id != REPLICATION_RULE_ID || !live.replication_time || !live.metrics {
                        details.push(format!("{b}: replication rule differs (RTC and metrics must be enabled)"));
                    }
                }
            }
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::MockIamApi;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;

    const SUFFIX: &str = "t1";
    const ACCOUNT: &str = "123456789012";

    fn cfg() -> Config {
        let mut c = Config::example(SUFFIX);
        c.account_id = Some(ACCOUNT.parse().expect("account id"));
        c
    }

    fn secondary_outputs() -> BucketOutputs {
        BucketOutputs {
            bucket_name: "bucket-secondary-t1-123456789012".into(),
            bucket_arn: "arn:aws:s3:::bucket-secondary-t1-123456789012".into(),
            replication_role_arn: None,
            replication_rule_id: None,
        }
    }

    fn primary_ctx() -> Ctx {
        Ctx::standalone("bucket-primary", "us-east-1").with_input("bucket-secondary", &secondary_outputs())
    }

    /// A bucket that exists with every setting as desired.
    fn healthy(s3: &mut MockS3Api, bucket: &'static str) {
        s3.expect_bucket_exists().returning(|_| Ok(true));
        s3.expect_get_bucket_tagging().returning(move |_| Ok(naming::tags(SUFFIX, bucket)));
        s3.expect_get_bucket_versioning().returning(|_| Ok(Some("Enabled".into())));
        s3.expect_get_bucket_encryption().returning(|_| Ok(Some("AES256".into())));
        s3.expect_get_public_access_block().returning(|_| Ok(Some(PublicAccessBlock::all())));
        s3.expect_get_bucket_policy().returning(move |_| Ok(Some(tls_only_policy(bucket))));
    }

    fn replication_trust() -> String {
        iam::scoped_trust_policy("s3.amazonaws.com", Some(ACCOUNT), Some(&bucket_arn("bucket-primary-t1-123456789012")))
    }

    fn healthy_iam(iam: &mut MockIamApi) {
        iam.expect_get_role().returning(|_| Ok(Some("arn:aws:iam::123456789012:role/s3-replication-t1".into())));
        iam.expect_get_role_trust_policy().returning(|_| Ok(Some(replication_trust())));
        iam.expect_list_role_policies().returning(|_| Ok(vec![REPLICATION_POLICY_NAME.to_string()]));
        iam.expect_list_attached_role_policies().returning(|_| Ok(vec![]));
        iam.expect_get_role_policy().returning(|_, _| {
            Ok(Some(replication_role_policy("bucket-primary-t1-123456789012", "bucket-secondary-t1-123456789012")))
        });
    }

    fn want_replication() -> ReplicationSpec {
        ReplicationSpec {
            role_arn: "arn:aws:iam::123456789012:role/s3-replication-t1".into(),
            rule_id: REPLICATION_RULE_ID.into(),
            destination_bucket_arn: "arn:aws:s3:::bucket-secondary-t1-123456789012".into(),
            delete_marker_replication: true,
            replication_time: true,
            metrics: true,
        }
    }

    #[tokio::test]
    async fn secondary_create_order_and_location_constraint() {
        let mut s3 = MockS3Api::new();
        let mut seq = Sequence::new();
        s3.expect_bucket_exists().times(1).in_sequence(&mut seq).returning(|_| Ok(false));
        s3.expect_create_bucket()
            .withf(|b, loc| b == "bucket-secondary-t1-123456789012" && loc.as_deref() == Some("us-east-2"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s3.expect_bucket_exists().times(1).in_sequence(&mut seq).returning(|_| Ok(true));
        s3.expect_get_bucket_tagging().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        s3.expect_put_bucket_tagging()
            .withf(|_, t| t.contains(&("tandem:stack".into(), "t1".into())) && t.contains(&("Name".into(), "bucket-secondary-t1-123456789012".into())))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s3.expect_get_bucket_versioning().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_enable_versioning().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        s3.expect_get_bucket_encryption().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_put_bucket_encryption().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        s3.expect_get_public_access_block().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_put_public_access_block()
            .withf(|_, p| *p == PublicAccessBlock::all())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s3.expect_get_bucket_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_put_bucket_policy()
            .withf(|_, p| p.contains("aws:SecureTransport") && p.contains("\"Deny\""))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let ctx = Ctx::standalone("bucket-secondary", "us-east-2");
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["bucket_name"], "bucket-secondary-t1-123456789012");
        assert_eq!(out["bucket_arn"], "arn:aws:s3:::bucket-secondary-t1-123456789012");
        assert!(out["replication_role_arn"].is_null());
        c.output_type().check(&out).expect("declared outputs");
        assert_eq!(ctx.recorded_id(&keys::BUCKET).await.as_deref(), Some("bucket-secondary-t1-123456789012"));
    }

    #[tokio::test]
    async fn us_east_1_omits_location_constraint_and_primary_configures_replication_last() {
        let mut s3 = MockS3Api::new();
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        s3.expect_bucket_exists().times(1).in_sequence(&mut seq).returning(|_| Ok(false));
        s3.expect_create_bucket()
            .withf(|b, loc| b == "bucket-primary-t1-123456789012" && loc.is_none())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s3.expect_bucket_exists().times(1).in_sequence(&mut seq).returning(|_| Ok(true));
        s3.expect_get_bucket_tagging().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        s3.expect_put_bucket_tagging().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        s3.expect_get_bucket_versioning().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_enable_versioning().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        s3.expect_get_bucket_encryption().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_put_bucket_encryption().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        s3.expect_get_public_access_block().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_put_public_access_block().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        s3.expect_get_bucket_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_put_bucket_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        iam.expect_get_role().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        iam.expect_create_role()
            .withf(|n, trust, tags| {
                n == "s3-replication-t1" && trust.contains("s3.amazonaws.com") && tags.iter().any(|(k, _)| k == "tandem:stack")
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok("arn:aws:iam::123456789012:role/s3-replication-t1".into()));
        iam.expect_get_role_trust_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(replication_trust())));
        iam.expect_get_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_put_role_policy()
            .withf(|_, name, doc| {
                name == REPLICATION_POLICY_NAME
                    && doc.contains("arn:aws:s3:::bucket-primary-t1-123456789012")
                    && doc.contains("arn:aws:s3:::bucket-secondary-t1-123456789012/*")
                    && !doc.contains("\"s3:*\"")
                    && !doc.contains("\"Resource\":\"*\"")
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        s3.expect_get_bucket_replication().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        s3.expect_put_bucket_replication()
            .withf(|b, spec| b == "bucket-primary-t1-123456789012" && *spec == want_replication())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let c = BucketComponent::primary(&cfg(), Arc::new(s3), Arc::new(iam));
        assert_eq!(c.dependencies(), vec!["bucket-secondary".to_string()]);
        let ctx = primary_ctx();
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["replication_role_arn"], "arn:aws:iam::123456789012:role/s3-replication-t1");
        assert_eq!(out["replication_rule_id"], REPLICATION_RULE_ID);
        let journal = ctx.journal_entries().await;
        assert!(journal.contains_key("bucket") && journal.contains_key("role") && journal.contains_key("replication"));
    }

    #[tokio::test]
    async fn while_the_account_is_unknown_nothing_is_called() {
        // A mock with no expectation: any S3 call fails the test.
        let c = BucketComponent::secondary(&Config::example(SUFFIX), Arc::new(MockS3Api::new()));
        assert_eq!(c.bucket_name(), "bucket-secondary-t1-unknown-account");
        let ctx = Ctx::standalone("bucket-secondary", "us-east-2");
        for e in [c.apply(&ctx).await.err(), c.destroy(&ctx).await.err(), c.read(&ctx).await.err(), c.data_summary(&ctx).await.err()] {
            let e = e.expect("refused").to_string();
            assert!(e.contains("account is unknown"), "{e}");
        }
    }

    #[tokio::test]
    async fn apply_over_healthy_buckets_makes_no_mutating_call() {
        let mut s3 = MockS3Api::new();
        healthy(&mut s3, "bucket-primary-t1-123456789012");
        s3.expect_get_bucket_replication().returning(|_| Ok(Some(want_replication())));
        let mut iam = MockIamApi::new();
        healthy_iam(&mut iam);
        // No expectation for any create/put: a mutating call would panic.
        let c = BucketComponent::primary(&cfg(), Arc::new(s3), Arc::new(iam));
        let prior = ComponentState::new("s3-bucket", Placement::Primary, "us-east-1")
            .with_resource("bucket", "bucket-primary-t1-123456789012")
            .with_resource("role", "arn:aws:iam::123456789012:role/s3-replication-t1");
        let ctx = primary_ctx().with_prior(prior);
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["bucket_name"], "bucket-primary-t1-123456789012");
        assert_eq!(c.read(&ctx).await.unwrap(), Drift::InSync);
    }

    #[test]
    fn disabled_delete_marker_replication_is_drift() {
        let want = want_replication();
        assert!(replication_matches(&want, &want));
        let live = ReplicationSpec { delete_marker_replication: false, ..want_replication() };
        assert!(!replication_matches(&live, &want));
    }

    #[tokio::test]
    async fn primary_destroy_order() {
        let mut s3 = MockS3Api::new();
        let mut iam = MockIamApi::new();
        let mut seq = Sequence::new();
        s3.expect_bucket_exists().times(1).in_sequence(&mut seq).returning(|_| Ok(true));
        s3.expect_delete_bucket_replication().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        s3.expect_delete_bucket_policy().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        // Two pages: 1000 versions, then 1 delete marker; then a confirming empty pass.
        s3.expect_list_object_versions()
            .withf(|_, m| m.is_none())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| {
                Ok(VersionsPage {
                    entries: (0..1000).map(|i| ObjectVersion { key: format!("k{i}"), version_id: Some("v1".into()) }).collect(),
                    next: Some(("k999".into(), Some("v1".into()))),
                })
            });
        s3.expect_delete_objects().withf(|_, o| o.len() == 1000).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        s3.expect_list_object_versions()
            .withf(|_, m| m.as_ref().is_some_and(|(k, _)| k == "k999"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| {
                Ok(VersionsPage { entries: vec![ObjectVersion { key: "gone".into(), version_id: Some("dm".into()) }], next: None })
            });
        s3.expect_delete_objects().withf(|_, o| o.len() == 1).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        s3.expect_list_object_versions().times(1).in_sequence(&mut seq).returning(|_, _| Ok(VersionsPage::default()));
        s3.expect_delete_bucket().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        iam.expect_get_role().times(1).in_sequence(&mut seq).returning(|_| Ok(Some("arn:aws:iam::123456789012:role/s3-replication-t1".into())));
        iam.expect_list_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![REPLICATION_POLICY_NAME.into()]));
        iam.expect_delete_role_policy().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        iam.expect_list_attached_role_policies().times(1).in_sequence(&mut seq).returning(|_| Ok(vec![]));
        iam.expect_delete_role().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        let c = BucketComponent::primary(&cfg(), Arc::new(s3), Arc::new(iam));
        let prior = ComponentState::new("s3-bucket", Placement::Primary, "us-east-1").with_resource("bucket", "bucket-primary-t1-123456789012");
        let ctx = primary_ctx().with_prior(prior);
        c.destroy(&ctx).await.unwrap();
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test]
    async fn destroy_of_missing_bucket_and_role_is_a_no_op() {
        let mut s3 = MockS3Api::new();
        s3.expect_bucket_exists().returning(|_| Ok(false));
        let mut iam = MockIamApi::new();
        iam.expect_get_role().returning(|_| Ok(None));
        // Nothing found: no delete call (none is expected).
        let c = BucketComponent::primary(&cfg(), Arc::new(s3), Arc::new(iam));
        c.destroy(&primary_ctx()).await.unwrap();
        c.destroy(&primary_ctx()).await.unwrap();
    }

    /// A page of `n` versions, with a next marker (a new one at each call) when `next`.
    fn versions(n: usize, next: bool) -> VersionsPage {
        static PAGE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let page = PAGE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        VersionsPage {
            entries: (0..n).map(|i| ObjectVersion { key: format!("k{i}"), version_id: Some("v1".into()) }).collect(),
            next: next.then(|| (format!("k-{page}"), Some("v".to_string()))),
        }
    }

    #[tokio::test]
    async fn a_repeated_versions_marker_is_an_error_not_a_loop() {
        let same = || VersionsPage { entries: vec![ObjectVersion { key: "a".into(), version_id: Some("1".into()) }], next: Some(("a".into(), Some("1".into()))) };
        let mut s3 = MockS3Api::new();
        s3.expect_list_object_versions().times(2).returning(move |_, _| Ok(same()));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let e = c.data_summary(&Ctx::standalone("bucket-secondary", "us-east-2")).await.expect_err("a repeated marker").to_string();
        assert!(e.contains("RepeatedPageToken") && e.contains("ListObjectVersions"), "{e}");
    }

    #[tokio::test]
    async fn destroy_summary_counts_versions_page_by_page() {
        let mut s3 = MockS3Api::new();
        let mut seq = Sequence::new();
        s3.expect_list_object_versions()
            .withf(|b, m| b == "bucket-secondary-t1-123456789012" && m.is_none())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(versions(1000, true)));
        s3.expect_list_object_versions()
            .withf(|_, m| m.as_ref().is_some_and(|(k, v)| k.starts_with("k-") && v.as_deref() == Some("v")))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(versions(234, false)));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        assert!(c.holds_data().is_some_and(|h| h.contains("bucket-secondary-t1-123456789012")));
        let s = c.data_summary(&Ctx::standalone("bucket-secondary", "us-east-2")).await.unwrap();
        assert_eq!(s.as_deref(), Some("1,234 object versions and delete markers in bucket bucket-secondary-t1-123456789012"));
    }

    #[tokio::test]
    async fn destroy_summary_stops_counting_at_ten_thousand() {
        let mut s3 = MockS3Api::new();
        // Ten full pages, then it stops: the 11th page is never asked for.
        s3.expect_list_object_versions().times(10).returning(|_, _| Ok(versions(1000, true)));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let s = c.data_summary(&Ctx::standalone("bucket-secondary", "us-east-2")).await.unwrap();
        assert_eq!(s.as_deref(), Some("10,000+ object versions and delete markers in bucket bucket-secondary-t1-123456789012"));
    }

    #[tokio::test]
    async fn destroy_summary_of_a_missing_bucket_and_a_refused_listing() {
        let mut s3 = MockS3Api::new();
        s3.expect_list_object_versions().times(1).returning(|_, _| Err(AwsError::not_found("NoSuchBucket", "gone")));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let s = c.data_summary(&Ctx::standalone("bucket-secondary", "us-east-2")).await.unwrap();
        assert_eq!(s.as_deref(), Some("bucket bucket-secondary-t1-123456789012 does not exist: nothing to delete"));

        let mut s3 = MockS3Api::new();
        s3.expect_list_object_versions().returning(|_, _| Err(AwsError::new("AccessDenied", "no s3:ListBucketVersions", Some(403))));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let e = c.data_summary(&Ctx::standalone("bucket-secondary", "us-east-2")).await.expect_err("refused").to_string();
        assert!(e.contains("bucket-secondary-t1-123456789012") && e.contains("us-east-2") && e.contains("AccessDenied"), "{e}");
    }

    #[tokio::test]
    async fn not_found_during_delete_is_success() {
        let mut s3 = MockS3Api::new();
        s3.expect_bucket_exists().returning(|_| Ok(true));
        s3.expect_delete_bucket_policy().returning(|_| Err(AwsError::not_found("NoSuchBucketPolicy", "none")));
        s3.expect_list_object_versions().returning(|_, _| Err(AwsError::not_found("NoSuchBucket", "gone")));
        s3.expect_delete_bucket().returning(|_| Err(AwsError::not_found("NoSuchBucket", "gone")));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        c.destroy(&Ctx::standalone("bucket-secondary", "us-east-2")).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_create_is_retried() {
        let mut s3 = MockS3Api::new();
        let mut seq = Sequence::new();
        s3.expect_bucket_exists().times(1).in_sequence(&mut seq).returning(|_| Ok(false));
        s3.expect_create_bucket().times(1).in_sequence(&mut seq).returning(|_, _| Err(AwsError::throttling()));
        // Looked up before it is sent again.
        s3.expect_bucket_exists().times(1).in_sequence(&mut seq).returning(|_| Ok(false));
        s3.expect_create_bucket().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        s3.expect_bucket_exists().returning(|_| Ok(true));
        s3.expect_get_bucket_tagging().returning(|_| Ok(naming::tags(SUFFIX, "bucket-secondary-t1-123456789012")));
        s3.expect_get_bucket_versioning().returning(|_| Ok(Some("Enabled".into())));
        s3.expect_get_bucket_encryption().returning(|_| Ok(Some("AES256".into())));
        s3.expect_get_public_access_block().returning(|_| Ok(Some(PublicAccessBlock::all())));
        s3.expect_get_bucket_policy().returning(|_| Ok(Some(tls_only_policy("bucket-secondary-t1-123456789012"))));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        c.apply(&Ctx::standalone("bucket-secondary", "us-east-2")).await.unwrap();
    }

    /// A bucket that exists (after `create_bucket` acted) with every setting as desired.
    fn healthy_after(s3: &mut MockS3Api, created: Arc<std::sync::atomic::AtomicBool>, bucket: &'static str) {
        s3.expect_bucket_exists().returning(move |_| Ok(created.load(std::sync::atomic::Ordering::SeqCst)));
        s3.expect_get_bucket_tagging().returning(move |_| Ok(naming::tags(SUFFIX, bucket)));
        s3.expect_get_bucket_versioning().returning(|_| Ok(Some("Enabled".into())));
        s3.expect_get_bucket_encryption().returning(|_| Ok(Some("AES256".into())));
        s3.expect_get_public_access_block().returning(|_| Ok(Some(PublicAccessBlock::all())));
        s3.expect_get_bucket_policy().returning(move |_| Ok(Some(tls_only_policy(bucket))));
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answer_adopts_the_bucket_with_exactly_one_create() {
        let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut s3 = MockS3Api::new();
        healthy_after(&mut s3, created.clone(), "bucket-secondary-t1-123456789012");
        let acted = created.clone();
        s3.expect_create_bucket().times(1).returning(move |_, _| {
            acted.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(AwsError::new("InternalError", "x", Some(500)))
        });
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let ctx = Ctx::standalone("bucket-secondary", "us-east-2");
        c.apply(&ctx).await.unwrap();
        let e = ctx.entry(&keys::BUCKET).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status), (Some("bucket-secondary-t1-123456789012"), tandem_core::state::ResourceStatus::Done));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_already_owned_by_you_is_adopted() {
        let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut s3 = MockS3Api::new();
        healthy_after(&mut s3, created.clone(), "bucket-secondary-t1-123456789012");
        // The SDK's own retry re-sent a create whose first answer was lost.
        let acted = created.clone();
        s3.expect_create_bucket().times(1).returning(move |_, _| {
            acted.store(true, std::sync::atomic::Ordering::SeqCst);
            Err(AwsError::new("BucketAlreadyOwnedByYou", "yours already", Some(409)))
        });
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let ctx = Ctx::standalone("bucket-secondary", "us-east-2");
        c.apply(&ctx).await.unwrap();
        assert_eq!(ctx.recorded_id(&keys::BUCKET).await.as_deref(), Some("bucket-secondary-t1-123456789012"));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_name_bucket_and_region() {
        let mut s3 = MockS3Api::new();
        s3.expect_bucket_exists().returning(|_| Ok(false));
        s3.expect_create_bucket().returning(|_, _| Err(AwsError::other("BucketAlreadyExists", "taken by another account")));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        let ctx = Ctx::standalone("bucket-secondary", "us-east-2");
        let msg = c.apply(&ctx).await.unwrap_err().to_string();
        assert!(msg.contains("bucket-secondary-t1-123456789012") && msg.contains("us-east-2") && msg.contains("BucketAlreadyExists"), "{msg}");
        let entry = ctx.entry(&keys::BUCKET).await.unwrap();
        assert_eq!(entry.status, tandem_core::state::ResourceStatus::Failed);
    }

    #[tokio::test]
    async fn read_reports_missing_and_drift() {
        let mut s3 = MockS3Api::new();
        s3.expect_bucket_exists().returning(|_| Ok(false));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        assert!(matches!(c.read(&Ctx::standalone("bucket-secondary", "us-east-2")).await.unwrap(), Drift::Missing { .. }));

        let mut s3 = MockS3Api::new();
        s3.expect_bucket_exists().returning(|_| Ok(true));
        s3.expect_get_bucket_versioning().returning(|_| Ok(Some("Suspended".into())));
        s3.expect_get_bucket_encryption().returning(|_| Ok(Some("AES256".into())));
        s3.expect_get_public_access_block().returning(|_| Ok(Some(PublicAccessBlock::all())));
        s3.expect_get_bucket_policy().returning(|_| Ok(None));
        let c = BucketComponent::secondary(&cfg(), Arc::new(s3));
        match c.read(&Ctx::standalone("bucket-secondary", "us-east-2")).await.unwrap() {
            Drift::Drifted { details } => assert_eq!(details.len(), 2, "{details:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn desired_names_and_policies() {
        let c = BucketComponent::secondary(&cfg(), Arc::new(MockS3Api::new()));
        assert_eq!(c.bucket_name(), "bucket-secondary-t1-123456789012");
        let d = c.desired();
        assert_eq!(d.replace_on["bucket"], "bucket-secondary-t1-123456789012");
        let p: serde_json::Value = serde_json::from_str(&tls_only_policy("b")).unwrap();
        assert_eq!(p["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(p["Statement"][0]["Resource"][1], "arn:aws:s3:::b/*");
    }
}
