//! SSM Parameter Store: the `parameters` component and the two-region reconcile.
//!
//! Parameters under `/tandem/<suffix>/` in the primary region:
//!
//! | name | type | value |
//! |---|---|---|
//! | `db/writer-endpoint` | String | Aurora global writer endpoint (follows the writer) |
//! | `db/reader-endpoint` | String | Aurora primary reader endpoint |
//! | `db/secondary-reader-endpoint` | String | Aurora secondary reader endpoint |
//! | `db/port` | String | database port |
//! | `dynamodb/table-name` | String | global table name |
//! | `s3/primary-bucket`, `s3/secondary-bucket` | String | bucket names |
//! | `feature-flags` | String (JSON) | defaults on creation; operators own it afterwards |
//! | `api-key` | SecureString | random, generated once, never rotated by apply |
//! | `api-key-sha256` | String | lowercase hex SHA-256 of `api-key` (follows it) |
//!
//! The API key is what clients send in `x-api-key`: API Gateway's usage plan holds it as an
//! API key (`api-{role}` reads it at apply time), and the API Lambda compares the SHA-256 of
//! the presented header with `api-key-sha256`, the only parameter its role may read (no
//! SecureString, no `kms:Decrypt`). Rotating the key = writing a new `api-key` in the
//! primary, then `apply --refresh` (the refresh reports the hash and both regions' API
//! Gateway keys as drifted: the hash follows, the keys are re-created).
//!
//! Secrets are SecureStrings encrypted with the region's AWS managed key `alias/aws/ssm`;
//! names, endpoints and flags are not secret and are plain `String` parameters (encrypted at
//! rest by Parameter Store's service-side storage, not with KMS).
//!
//! `db/writer-endpoint` is the Aurora global writer endpoint (`DescribeGlobalClusters` →
//! `Endpoint`): it resolves to whichever cluster is the writer, so nothing is rewritten after
//! a switchover or failover.
//!
//! After the primary is right, `apply` reconciles the secondary region: every parameter under
//! the path (including ones other components own, such as the Aurora master password) is
//! copied there, SecureStrings decrypted and re-encrypted with the secondary region's key. The
//! replicator Lambda keeps the copies in sync afterwards (`ssm_replication`). Values are never
//! logged, journaled or put in outputs.
//!
//! Copies carry the marker tag [`REPLICATED_FROM_TAG`] = the primary region: set at creation
//! (PutParameter without Overwrite takes tags), and with AddTagsToResource on a copy that
//! lacks it (one the replicator made; PutParameter refuses tags with Overwrite, and an
//! overwrite keeps a parameter's tags). The reconcile deletes in the secondary only what it
//! put there itself: a parameter under the path that the primary no longer has is deleted
//! when it carries the marker, and only after the primary was read successfully and that
//! read holds every one of this component's parameters (a failed or partial read of the
//! primary never leads to a delete). A parameter that exists only in the secondary without
//! the marker was written there, e.g. while the primary was unreachable: it is kept, reported
//! with a warning (not as drift), and never copied back to the primary automatically (copy it
//! by hand if it should live on there). A parameter present in both regions whose value in
//! the secondary was written after the primary's (Parameter Store's `LastModifiedDate`), e.g.
//! a flag changed there while the primary was down, is kept too (DR.md: nothing written during
//! the outage is undone): not overwritten, not drift, reported with a warning until someone
//! writes the value they want in the primary (newer again: copied) or in both. Limit:
//! `destroy` deletes everything under the path in the secondary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{retry, AwsContext};
use tandem_core::contracts::{api_key, ids, AuroraOutputs, BucketOutputs, ParametersOutputs, TableOutputs};
use tandem_core::{
    naming, to_outputs, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, How, Key,
    Outputs, Placement, Rule,
};

#[path = "ssm_api.rs"]
mod api;
pub use api::*;

/// Default feature flags written when the parameter is created.
pub fn default_feature_flags() -> serde_json::Value {
    json!({ "maintenance_mode": false, "read_only": false, "failover_drills": false })
}

/// Journal key of one of the component's own parameters (primary region).
fn own_key(name: &str) -> Key {
    Key::owned(format!("param:{name}"))
}

/// Journal key of a parameter's copy in the secondary region.
fn secondary_key(name: &str) -> Key {
    Key::owned(format!("secondary:{name}"))
}

/// Length of the generated API key.
pub const API_KEY_LEN: usize = 48;

/// True when `secondary` (same name, same type) holds another value than `primary` and was
/// written after it: someone wrote it in the secondary region after the primary's value was
/// set (during an outage of the primary, typically), so a copy of the primary's would undo
/// that write. Unknown times never count as later.
fn written_after(secondary: &Parameter, primary: &Parameter) -> bool {
    secondary.kind == primary.kind
        && secondary.value != primary.value
        && matches!((secondary.modified_ms, primary.modified_ms), (Some(s), Some(p)) if s > p)
}

/// The tag on every copy the reconcile puts in the secondary region; its value is the
/// primary region. Only parameters carrying it are ever deleted by the reconcile.
pub const REPLICATED_FROM_TAG: &str = "tandem:replicated-from";

/// The `parameters` component (both regions' SSM clients).
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let primary: Arc<dyn SsmApi> = Arc::new(aws_sdk_ssm::Client::new(&aws.config(&cfg.primary_region)));
    let secondary: Arc<dyn SsmApi> = Arc::new(aws_sdk_ssm::Client::new(&aws.config(&cfg.secondary_region)));
    vec![Arc::new(ParametersComponent::new(cfg, primary, secondary))]
}

/// A Parameter Store client of `region` (e.g. the CLI's failover flag in the secondary).
pub fn client(aws: &AwsContext, region: &str) -> Arc<dyn SsmApi> {
    Arc::new(aws_sdk_ssm::Client::new(&aws.config(region)))
}

/// The lowercase hex SHA-256 of an API key: the value of `api-key-sha256`.
pub fn api_key_sha256(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

/// A random API key (alphanumeric).
fn generate_api_key() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), API_KEY_LEN)
}

/// How `apply` manages one of the component's own parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Managed {
    /// The value follows the inputs: overwritten when it differs.
    Value,
    /// Written once with an initial value, then left alone (operator-owned, or a secret that
    /// must not rotate on every apply).
    Once,
}

/// What [`ParametersComponent::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Present with the wanted value: adopted, no call.
    Unchanged,
    /// Overwritten in place, or found by a create attempt (a lost answer, the replicator)
    /// and adopted.
    Changed,
    /// Created by this call (with its tags).
    Created,
}

/// One of the component's own parameters, with its desired value.
struct Own {
    param: Parameter,
    description: &'static str,
    managed: Managed,
}

/// `parameters`: SSM parameters of the stack and their copy in the secondary region.
pub struct ParametersComponent {
    primary_region: String,
    secondary_region: String,
    suffix: String,
    path: String,
    primary: Arc<dyn SsmApi>,
    secondary: Arc<dyn SsmApi>,
}

impl ParametersComponent {
    pub fn new(cfg: &Config, primary: Arc<dyn SsmApi>, secondary: Arc<dyn SsmApi>) -> Self {
        Self {
            primary_region: cfg.primary_region.clone(),
            secondary_region: cfg.secondary_region.clone(),
            suffix: cfg.environment_suffix.clone(),
            path: naming::parameter_path(&cfg.environment_suffix),
            primary,
            secondary,
        }
    }

    /// Full name of a parameter under the stack's path.
    pub fn param_name(&self, leaf: &str) -> String {
        format!("{}{leaf}", self.path)
    }

    /// Name of the API key SecureString.
    pub fn api_key_name(&self) -> String {
        self.param_name(api_key::LEAF)
    }

    /// Name of the String holding the API key's SHA-256.
    pub fn api_key_sha256_name(&self) -> String {
        self.param_name(api_key::SHA256_LEAF)
    }

    /// Leaf names and kinds of the component's own parameters.
    fn own_layout() -> [(&'static str, ParamKind); 10] {
        [
            ("db/writer-endpoint", ParamKind::String),
            ("db/reader-endpoint", ParamKind::String),
            ("db/secondary-reader-endpoint", ParamKind::String),
            ("db/port", ParamKind::String),
            ("dynamodb/table-name", ParamKind::String),
            ("s3/primary-bucket", ParamKind::String),
            ("s3/secondary-bucket", ParamKind::String),
            ("feature-flags", ParamKind::String),
            (api_key::LEAF, ParamKind::SecureString),
            (api_key::SHA256_LEAF, ParamKind::String),
        ]
    }

    /// Sorted names of the component's own parameters.
    pub fn own_names(&self) -> Vec<String> {
        let mut v: Vec<String> = Self::own_layout().iter().map(|(l, _)| self.param_name(l)).collect();
        v.sort();
        v
    }

    /// The component's own parameters; `key` is the API key's current value (the hash's).
    fn own_parameters(&self, ctx: &Ctx, key: &str) -> Result<Vec<Own>, ComponentError> {
        let aurora_p: AuroraOutputs = ctx.input(&ids::aurora(Placement::Primary))?;
        let aurora_s: AuroraOutputs = ctx.input(&ids::aurora(Placement::Secondary))?;
        let table: TableOutputs = ctx.input(ids::TABLE)?;
        let bucket_p: BucketOutputs = ctx.input(&ids::bucket(Placement::Primary))?;
        let bucket_s: BucketOutputs = ctx.input(&ids::bucket(Placement::Secondary))?;
        if aurora_p.global_writer_endpoint.is_empty() {
            // Outputs recorded before the field existed: the aurora components re-apply first.
            return Err(ComponentError::invalid(
                "db/writer-endpoint",
                &self.primary_region,
                "aurora-primary's outputs carry no global writer endpoint; apply aurora-primary first",
            ));
        }
        let global_writer = aurora_p.global_writer_endpoint.clone();
        let s = |leaf: &str, value: String, description: &'static str| Own {
            param: Parameter::new(self.param_name(leaf), ParamKind::String, value),
            description,
            managed: Managed::Value,
        };
        Ok(vec![
            s("db/writer-endpoint", global_writer, "Aurora global writer endpoint (follows the writer across regions)"),
            s("db/reader-endpoint", aurora_p.reader_endpoint, "Aurora reader endpoint (primary region)"),
            s("db/secondary-reader-endpoint", aurora_s.reader_endpoint, "Aurora reader endpoint (secondary region)"),
            s("db/port", aurora_p.port.to_string(), "Aurora port"),
            s("dynamodb/table-name", table.table_name, "DynamoDB global table name"),
            s("s3/primary-bucket", bucket_p.bucket_name, "S3 bucket (primary region)"),
            s("s3/secondary-bucket", bucket_s.bucket_name, "S3 bucket (secondary region)"),
            Own {
                param: Parameter::new(self.param_name("feature-flags"), ParamKind::String, default_feature_flags().to_string()),
                description: "Feature flags (JSON); initial defaults, operator-owned afterwards",
                managed: Managed::Once,
            },
            Own {
                param: Parameter::new(self.api_key_name(), ParamKind::SecureString, String::new()),
                description: "API key (SecureString, generated once)",
                managed: Managed::Once,
            },
            s(api_key::SHA256_LEAF, api_key_sha256(key), "SHA-256 (hex) of the API key: what the API function compares"),
        ])
    }

    /// Creates or updates one parameter in `client`; says what it did.
    ///
    /// The parameter is [`Rule::Name`]: its name lies under the stack's path, so one that
    /// exists is this stack's. `ParameterAlreadyExists` (a lost answer, an interrupted run,
    /// the replicator) makes the core look it up and adopt it; an adopted parameter whose
    /// value differs is then overwritten when `overwrite_adopted` (values that follow the
    /// inputs), kept otherwise (operator-owned flags, a generated key). A type change is a
    /// delete, then a create. Values changes are in place ([`Ctx::update`]).
    #[allow(clippy::too_many_arguments)]
    async fn put(
        &self,
        ctx: &Ctx,
        client: &dyn SsmApi,
        region: &str,
        key: &Key,
        want: &Parameter,
        live: Option<&Parameter>,
        description: &str,
        overwrite_adopted: bool,
    ) -> Result<Written, ComponentError> {
        let n = want.name.as_str();
        let overwrite = || async { retry(|| client.overwrite_parameter(want)).await.at(n, region) };
        match live {
            Some(l) if l.kind == want.kind && l.value == want.value => {
                ctx.adopt(key, n).await?;
                return Ok(Written::Unchanged);
            }
            Some(l) if l.kind == want.kind => {
                // Ours (under the stack's path): recorded, then changed in place.
                ctx.adopt(key, n).await?;
                ctx.update(key, overwrite).await?;
                return Ok(Written::Changed);
            }
            // The type of a parameter cannot be changed in place: delete, then create.
            Some(_) => {
                let name = n.to_string();
                ctx.delete(
                    key,
                    &self.label(ctx, n, region),
                    move |_recorded| {
                        let name = name.clone();
                        async move { Ok(vec![name]) }
                    },
                    |_| async move { client.delete_parameter(n).await },
                )
                .await?;
            }
            None => {}
        }
        let path = self.path.as_str();
        let tags = self.tags_for(n, region);
        let tags = &tags;
        let label = self.label(ctx, n, region);
        let ensured = ctx
            .ensure::<Parameter>(key, label, Rule::Name)
            .find_one(move |_recorded| async move {
                Ok(client.get_parameters_by_path(path).await?.into_iter().find(|p| p.name == n))
            })
            .create(move |_token| async move { client.create_parameter(want, description, tags.clone()).await.map(|()| want.clone()) })
            .id(|p| p.name.clone())
            .outcome()
            .await?;
        if ensured.how != How::Created && overwrite_adopted && ensured.value != *want {
            // Adopted with another value (the replicator, an older run): the inputs rule.
            // (A copy of another type is replaced by the next apply, which sees the type differ.)
            ctx.update(key, overwrite).await?;
        }
        Ok(if ensured.how == How::Created { Written::Created } else { Written::Changed })
    }

    /// Tags of parameter `name` in `region`: the stack's, plus the marker on a copy in the
    /// secondary.
    fn tags_for(&self, name: &str, region: &str) -> Vec<(String, String)> {
        let mut tags = naming::tags(&self.suffix, name);
        if region != self.primary_region {
            tags.push((REPLICATED_FROM_TAG.to_string(), self.primary_region.clone()));
        }
        tags
    }

    /// Names under the path in the secondary that carry the marker (copies Tandem put there).
    async fn marked(&self) -> Result<BTreeSet<String>, ComponentError> {
        let sr = self.secondary_region.as_str();
        let names = retry(|| self.secondary.names_tagged(&self.path, REPLICATED_FROM_TAG, &self.primary_region))
            .await
            .at(&self.path, sr)?;
        Ok(names.into_iter().collect())
    }

    /// How errors name parameter `name` of `region` (the component's journal is in the
    /// primary region; a copy in the secondary says so).
    fn label(&self, ctx: &Ctx, name: &str, region: &str) -> String {
        if region == ctx.region() {
            name.to_string()
        } else {
            format!("{name} ({region})")
        }
    }

    /// Deletes parameter `name` (known to exist, or journaled) and forgets `key`.
    async fn delete_param(&self, ctx: &Ctx, client: &dyn SsmApi, key: &Key, name: &str, region: &str) -> Result<(), ComponentError> {
        ctx.delete(key, &self.label(ctx, name, region), |_| async move { Ok(vec![name.to_string()]) }, |_| async move { client.delete_parameter(name).await })
            .await
            .map(|_| ())
    }

    async fn list(&self, client: &dyn SsmApi, region: &str) -> Result<BTreeMap<String, Parameter>, ComponentError> {
        let all = retry(|| client.get_parameters_by_path(&self.path)).await.at(&self.path, region)?;
        Ok(all.into_iter().map(|p| (p.name.clone(), p)).collect())
    }

    /// Copies every primary parameter under the path to the secondary (marked), and deletes
    /// there the marked copies of parameters the primary no longer has; keeps (and reports)
    /// the unmarked ones. Returns the number of changes.
    async fn reconcile(&self, ctx: &Ctx) -> Result<usize, ComponentError> {
        let sr = self.secondary_region.as_str();
        // The primary first: if it cannot be read, nothing in the secondary changes.
        let source = self.list(self.primary.as_ref(), &self.primary_region).await?;
        let target = self.list(self.secondary.as_ref(), sr).await?;
        let marked = self.marked().await?;
        let mut changes = 0;
        let mut unmarked = Vec::new();
        for (name, p) in &source {
            let key = secondary_key(name);
            if let Some(live) = target.get(name).filter(|l| written_after(l, p)) {
                // Written in the secondary after the primary's value: an outage write, kept.
                ctx.adopt(&key, name).await?;
                tracing::warn!(
                    parameter = %name,
                    region = sr,
                    primary_region = %self.primary_region,
                    "the secondary's value was written after the primary's (e.g. during an outage of the primary): \
                     kept, not overwritten; write the wanted value in the primary to end the difference"
                );
                if !marked.contains(name) && live.kind == p.kind {
                    unmarked.push(name);
                }
                continue;
            }
            let written = self.put(ctx, self.secondary.as_ref(), sr, &key, p, target.get(name), "Replica of the primary region's parameter", true).await?;
            if written != Written::Unchanged {
                changes += 1;
            }
            if written != Written::Created && !marked.contains(name) {
                unmarked.push(name);
            }
        }
        // A copy this run did not create (the replicator's, an older run's) may lack the marker
        // it would have been created with: read the markers again (an adopted create carries
        // them) and tag the rest, once.
        if !unmarked.is_empty() {
            let now = self.marked().await?;
            for name in unmarked.into_iter().filter(|n| !now.contains(*n)) {
                let tags = self.tags_for(name, sr);
                let client = self.secondary.as_ref();
                let label = self.label(ctx, name, sr);
                ctx.update(&secondary_key(name), || async { retry(|| client.add_tags(name, tags.clone())).await.at(&label, sr) })
                    .await?;
                changes += 1;
            }
        }
        // Only a complete read of the primary may decide that a parameter is gone from it.
        let complete = self.own_names().iter().all(|n| source.contains_key(n));
        for name in target.keys().filter(|n| !source.contains_key(*n)) {
            if !marked.contains(name) {
                tracing::warn!(
                    parameter = %name,
                    region = sr,
                    "parameter exists only in the secondary region and was not put there by Tandem \
                     (written there, e.g. during an outage of the primary): kept, not copied back"
                );
            } else if !complete {
                tracing::warn!(
                    parameter = %name,
                    region = sr,
                    primary_region = %self.primary_region,
                    "the primary's listing lacks the stack's own parameters: stale copy not deleted"
                );
            } else {
                self.delete_param(ctx, self.secondary.as_ref(), &secondary_key(name), name, sr).await?;
                changes += 1;
            }
        }
        if changes > 0 {
            tracing::info!(path = %self.path, region = sr, changes, "secondary parameters reconciled");
        }
        Ok(changes)
    }
}

#[async_trait::async_trait]
impl Component for ParametersComponent {
    fn id(&self) -> &str {
        ids::PARAMETERS
    }
    fn kind(&self) -> &'static str {
        "ssm-parameters"
    }
    fn placement(&self) -> Placement {
        Placement::Primary
    }
    fn region(&self) -> &str {
        &self.primary_region
    }
    fn dependencies(&self) -> Vec<String> {
        vec![
            ids::aurora(Placement::Primary),
            ids::aurora(Placement::Secondary),
            ids::TABLE.to_string(),
            ids::bucket(Placement::Primary),
            ids::bucket(Placement::Secondary),
        ]
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::ParametersOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // About ten synchronous PutParameter calls (no asynchronous state).
        Duration::from_secs(10)
    }
    fn desired(&self) -> Desired {
        let layout: BTreeMap<String, &str> = Self::own_layout()
            .iter()
            .map(|(l, k)| (self.param_name(l), if *k == ParamKind::SecureString { "SecureString" } else { "String" }))
            .collect();
        Desired::new(
            json!({ "path": self.path, "region": self.primary_region }),
            json!({
                "parameters": layout,
                "feature_flags_initial": default_feature_flags(),
                "replicated_to": self.secondary_region,
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = "parameters", region = %self.primary_region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let pr = self.primary_region.clone();
        // The inputs first: a missing one fails before any AWS call.
        self.own_parameters(ctx, "")?;
        let mut live = self.list(self.primary.as_ref(), &pr).await?;
        let key_name = self.api_key_name();
        let existing_key = live.get(&key_name).filter(|k| k.kind == ParamKind::SecureString).map(|k| k.value.clone());
        let key_written = existing_key.is_none();
        let key = existing_key.unwrap_or_else(generate_api_key);
        let own = self.own_parameters(ctx, &key)?;
        for o in own {
            let name = o.param.name.clone();
            if name == self.api_key_sha256_name() && key_written {
                // The key was written by this run: a create whose answer was lost may have
                // adopted another value, so the hash is taken from what Parameter Store holds.
                live = self.list(self.primary.as_ref(), &pr).await?;
                let stored = live.get(&key_name).map(|k| k.value.clone()).ok_or_else(|| {
                    ComponentError::invalid(&key_name, &pr, "the API key just written is not listed; run apply again")
                })?;
                let want = Parameter::new(name.clone(), ParamKind::String, api_key_sha256(&stored));
                let current = live.get(&name);
                if self.put(ctx, self.primary.as_ref(), &pr, &own_key(&name), &want, current, o.description, true).await? != Written::Unchanged {
                    tracing::info!(parameter = %name, region = %pr, "parameter written");
                }
                continue;
            }
            let current = live.get(&name);
            let want = match (o.managed, current) {
                // Present: keep the operator's flags and the existing key (same type).
                (Managed::Once, Some(c)) if c.kind == o.param.kind => {
                    // Ours (under the stack's path); resolves a create whose answer was lost.
                    ctx.adopt(&own_key(&name), &name).await?;
                    continue;
                }
                (Managed::Once, _) if name == key_name => Parameter { value: key.clone(), ..o.param },
                _ => o.param,
            };
            let key = own_key(&name);
            let overwrite_adopted = o.managed == Managed::Value;
            if self.put(ctx, self.primary.as_ref(), &pr, &key, &want, current, o.description, overwrite_adopted).await? != Written::Unchanged {
                tracing::info!(parameter = %name, region = %pr, "parameter written");
            }
        }
        self.reconcile(ctx).await?;
        Ok(to_outputs(&ParametersOutputs {
            path: self.path.clone(),
            names: self.own_names(),
            api_key_parameter: self.api_key_name(),
            api_key_sha256_parameter: self.api_key_sha256_name(),
        }))
    }

    #[tracing::instrument(skip_all, fields(component = "parameters", region = %self.primary_region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        for name in self.own_names() {
            self.delete_param(ctx, self.primary.as_ref(), &own_key(&name), &name, &self.primary_region).await?;
        }
        // Every copy in the secondary (including those of parameters other components own).
        let sr = self.secondary_region.as_str();
        for name in self.list(self.secondary.as_ref(), sr).await?.into_keys() {
            self.delete_param(ctx, self.secondary.as_ref(), &secondary_key(&name), &name, sr).await?;
        }
        ctx.forget_all().await
    }

    async fn read(&self, ctx: &Ctx) -> Result<Drift, ComponentError> {
        let source = self.list(self.primary.as_ref(), &self.primary_region).await?;
        let own = self.own_names();
        let missing: Vec<String> = own.iter().filter(|n| !source.contains_key(*n)).map(|n| format!("{n} is missing")).collect();
        if missing.len() == own.len() {
            return Ok(Drift::Missing { details: missing });
        }
        let mut details = missing;
        let key = source.get(&self.api_key_name()).map(|k| k.value.clone()).unwrap_or_default();
        if let Ok(own) = self.own_parameters(ctx, &key) {
            for o in own.iter().filter(|o| o.managed == Managed::Value) {
                if source.get(&o.param.name).is_some_and(|l| l.value != o.param.value) {
                    details.push(format!("{} differs from the stack's value", o.param.name));
                }
            }
        }
        // The hash follows the key even when the inputs are unknown (a refresh reads without
        // them): a rotated key shows here, named, never shown.
        if let (Some(k), Some(h)) = (source.get(&self.api_key_name()), source.get(&self.api_key_sha256_name())) {
            if h.value != api_key_sha256(&k.value) && !details.iter().any(|d| d.starts_with(&h.name)) {
                details.push(format!("{} does not match {} (rotated key): apply rewrites it", h.name, k.name));
            }
        }
        if source.get(&self.api_key_name()).is_some_and(|p| p.kind != ParamKind::SecureString) {
            details.push(format!("{} is not a SecureString", self.api_key_name()));
        }
        let target = self.list(self.secondary.as_ref(), &self.secondary_region).await?;
        for (name, p) in &source {
            match target.get(name) {
                None => details.push(format!("{name} is not copied to {}", self.secondary_region)),
                // Names only: never a value.
                // Written there after the primary's value (an outage write): kept, not drift.
                Some(t) if written_after(t, p) => {}
                Some(t) if t.kind != p.kind || t.value != p.value => {
                    details.push(format!("{name} differs in {}", self.secondary_region))
                }
                Some(_) => {}
            }
        }
        // A marked copy the primary no longer has is stale (apply deletes it); an unmarked
        // parameter was written in the secondary and is kept: not drift.
        let marked = self.marked().await?;
        for name in target.keys().filter(|n| !source.contains_key(*n) && marked.contains(*n)) {
            details.push(format!("{name} is a stale copy in {}", self.secondary_region));
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::Sequence;
    use std::sync::Mutex;
    use tandem_core::AwsError;
    use tandem_core::state::ComponentState;

    pub(crate) fn aurora(role: &str) -> AuroraOutputs {
        AuroraOutputs {
            global_cluster_id: "aurora-global-t1".into(),
            cluster_id: format!("aurora-{role}-t1"),
            cluster_arn: format!("arn:aws:rds:us-east-1:123456789012:cluster:aurora-{role}-t1"),
            writer_endpoint: format!("aurora-{role}-t1.cluster-abc.rds.amazonaws.com"),
            reader_endpoint: format!("aurora-{role}-t1.cluster-ro-abc.rds.amazonaws.com"),
            instance_id: format!("aurora-{role}-t1-1"),
            port: 5432,
            password_parameter: (role == "primary").then(|| "/tandem/t1/db/master-password".into()),
            global_writer_endpoint: "aurora-global-t1.global-abc.global.rds.amazonaws.com".into(),
        }
    }

    fn ctx() -> Ctx {
        let bucket = |role: &str| BucketOutputs {
            bucket_name: format!("bucket-{role}-t1"),
            bucket_arn: format!("arn:aws:s3:::bucket-{role}-t1"),
            replication_role_arn: None,
            replication_rule_id: None,
        };
        Ctx::standalone("parameters", "us-east-1")
            .with_input("aurora-primary", &aurora("primary"))
            .with_input("aurora-secondary", &aurora("secondary"))
            .with_input(
                "table",
                &TableOutputs {
                    table_name: "table-t1".into(),
                    table_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/table-t1".into(),
                    stream_arn: "s".into(),
                    replica_regions: vec!["us-east-2".into()],
                },
            )
            .with_input("bucket-primary", &bucket("primary"))
            .with_input("bucket-secondary", &bucket("secondary"))
    }

    /// A clock shared by every fake region: each write is later than every earlier one.
    static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_700_000_000_000);

    fn tick() -> Option<i64> {
        Some(CLOCK.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    }

    /// An in-memory Parameter Store region behind a mock, recording mutations. Every write
    /// stamps `modified_ms` from [`CLOCK`], as Parameter Store's `LastModifiedDate`.
    #[derive(Clone, Default)]
    struct Store {
        params: Arc<Mutex<BTreeMap<String, Parameter>>>,
        tags: Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>,
        mutations: Arc<Mutex<Vec<String>>>,
        /// Creates act, then their answer is lost (a 500).
        lose_create_answers: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Store {
        fn mock(&self) -> MockSsmApi {
            let mut m = MockSsmApi::new();
            let s = self.clone();
            m.expect_get_parameters_by_path().returning(move |path| {
                Ok(s.params.lock().unwrap().values().filter(|p| p.name.starts_with(path)).cloned().collect())
            });
            let s = self.clone();
            m.expect_create_parameter().returning(move |p, _, tags| {
                assert!(tags.iter().any(|(k, _)| k == "tandem:stack"));
                let mut params = s.params.lock().unwrap();
                if params.contains_key(&p.name) {
                    return Err(AwsError::other("ParameterAlreadyExists", "exists"));
                }
                params.insert(p.name.clone(), Parameter { modified_ms: tick(), ..p.clone() });
                s.tags.lock().unwrap().insert(p.name.clone(), tags.iter().cloned().collect());
                s.mutations.lock().unwrap().push(format!("create {}", p.name));
                if s.lose_create_answers.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(AwsError::new("InternalServerError", "answer lost", Some(500)));
                }
                Ok(())
            });
            let s = self.clone();
            m.expect_overwrite_parameter().returning(move |p| {
                s.params.lock().unwrap().insert(p.name.clone(), Parameter { modified_ms: tick(), ..p.clone() });
                s.mutations.lock().unwrap().push(format!("overwrite {}", p.name));
                Ok(())
            });
            let s = self.clone();
            m.expect_delete_parameter().returning(move |n| {
                s.mutations.lock().unwrap().push(format!("delete {n}"));
                s.tags.lock().unwrap().remove(n);
                match s.params.lock().unwrap().remove(n) {
                    Some(_) => Ok(()),
                    None => Err(AwsError::not_found("ParameterNotFound", n.to_string())),
                }
            });
            let s = self.clone();
            m.expect_add_tags().returning(move |n, tags| {
                if !s.params.lock().unwrap().contains_key(n) {
                    return Err(AwsError::not_found("InvalidResourceId", n.to_string()));
                }
                s.tags.lock().unwrap().entry(n.to_string()).or_default().extend(tags);
                s.mutations.lock().unwrap().push(format!("tag {n}"));
                Ok(())
            });
            let s = self.clone();
            m.expect_names_tagged().returning(move |path, key, value| {
                let params = s.params.lock().unwrap();
                let tags = s.tags.lock().unwrap();
                Ok(params
                    .keys()
                    .filter(|n| n.starts_with(path) && tags.get(*n).and_then(|t| t.get(key)).is_some_and(|v| v == value))
                    .cloned()
                    .collect())
            });
            m
        }
        fn tag(&self, name: &str) -> Option<String> {
            self.tags.lock().unwrap().get(name).and_then(|t| t.get(REPLICATED_FROM_TAG)).cloned()
        }
        /// A copy Tandem put in the secondary (carries the marker).
        fn insert_copy(&self, name: &str, kind: ParamKind, value: &str) {
            self.insert(name, kind, value);
            self.tags.lock().unwrap().entry(name.into()).or_default().insert(REPLICATED_FROM_TAG.into(), "us-east-1".into());
        }
        fn get(&self, name: &str) -> Option<Parameter> {
            self.params.lock().unwrap().get(name).cloned()
        }
        fn insert(&self, name: &str, kind: ParamKind, value: &str) {
            self.params.lock().unwrap().insert(name.into(), Parameter { modified_ms: tick(), ..Parameter::new(name, kind, value) });
        }
        fn take_mutations(&self) -> Vec<String> {
            std::mem::take(&mut *self.mutations.lock().unwrap())
        }
    }

    fn component(p: &Store, s: &Store) -> ParametersComponent {
        ParametersComponent::new(&Config::example("t1"), Arc::new(p.mock()), Arc::new(s.mock()))
    }

    #[tokio::test]
    async fn creates_parameters_and_copies_everything_to_the_secondary() {
        let (p, s) = (Store::default(), Store::default());
        // Owned by aurora-primary, must be copied too.
        p.insert("/tandem/t1/db/master-password", ParamKind::SecureString, "pw-secret");
        // A stale copy Tandem put in the secondary: must go.
        s.insert_copy("/tandem/t1/old", ParamKind::String, "x");
        let c = component(&p, &s);
        let ctx = ctx();
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["path"], "/tandem/t1/");
        assert_eq!(out["api_key_parameter"], "/tandem/t1/api-key");
        assert_eq!(out["names"].as_array().unwrap().len(), 10);
        // The global writer endpoint, not the primary cluster's.
        assert_eq!(p.get("/tandem/t1/db/writer-endpoint").unwrap().value, "aurora-global-t1.global-abc.global.rds.amazonaws.com");
        assert_eq!(p.get("/tandem/t1/db/secondary-reader-endpoint").unwrap().value, "aurora-secondary-t1.cluster-ro-abc.rds.amazonaws.com");
        assert_eq!(p.get("/tandem/t1/dynamodb/table-name").unwrap().value, "table-t1");
        assert_eq!(p.get("/tandem/t1/s3/secondary-bucket").unwrap().value, "bucket-secondary-t1");
        let key = p.get("/tandem/t1/api-key").unwrap();
        assert_eq!(key.kind, ParamKind::SecureString);
        assert_eq!(key.value.len(), API_KEY_LEN);
        let flags: serde_json::Value = serde_json::from_str(&p.get("/tandem/t1/feature-flags").unwrap().value).unwrap();
        assert_eq!(flags, default_feature_flags());
        // The secondary is a complete copy, SecureStrings stay SecureStrings.
        assert_eq!(s.params.lock().unwrap().clone(), p.params.lock().unwrap().clone());
        assert!(s.get("/tandem/t1/old").is_none());
        // Every copy carries the marker (the primary's parameters do not).
        for name in p.params.lock().unwrap().keys() {
            assert_eq!(s.tag(name).as_deref(), Some("us-east-1"), "{name}");
            assert_eq!(p.tag(name), None, "{name}");
        }
        assert_eq!(c.read(&ctx).await.unwrap(), Drift::InSync);

        // Secrets never reach outputs, desired, journal or Debug output.
        let secret = key.value.clone();
        let drift = c.read(&ctx).await.unwrap();
        let params = p.params.lock().unwrap().clone();
        let everything = format!(
            "{} {} {:?} {:?} {:?}",
            serde_json::to_string(&out).unwrap(),
            serde_json::to_string(&c.desired()).unwrap(),
            ctx.journal_entries().await,
            params,
            drift,
        );
        assert!(!everything.contains(&secret) && !everything.contains("pw-secret"), "{everything}");
    }

    #[tokio::test]
    async fn the_key_hash_is_a_plain_string_that_follows_the_key() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        let out = c.apply(&ctx()).await.unwrap();
        assert_eq!(out["api_key_sha256_parameter"], "/tandem/t1/api-key-sha256");
        let key = p.get("/tandem/t1/api-key").unwrap().value;
        let hash = p.get("/tandem/t1/api-key-sha256").unwrap();
        assert_eq!(hash.kind, ParamKind::String);
        assert_eq!(hash.value, api_key_sha256(&key));
        assert_eq!(hash.value.len(), 64);
        assert_ne!(hash.value, key);
        assert_eq!(s.get("/tandem/t1/api-key-sha256").unwrap().value, hash.value, "replicated");
        // Rotation: an operator writes a new key in the primary; apply keeps it and the hash follows.
        p.insert("/tandem/t1/api-key", ParamKind::SecureString, "rotated-key-0123456789abcdef");
        p.take_mutations();
        s.take_mutations();
        // A refresh (no inputs) sees the rotation, without showing either value.
        match c.read(&Ctx::standalone("parameters", "us-east-1")).await.unwrap() {
            Drift::Drifted { details } => {
                assert!(details.iter().any(|d| d.starts_with("/tandem/t1/api-key-sha256 does not match")), "{details:?}");
                assert!(!format!("{details:?}").contains("rotated-key-0123"), "{details:?}");
            }
            other => panic!("{other:?}"),
        }
        c.apply(&ctx()).await.unwrap();
        assert_eq!(p.get("/tandem/t1/api-key").unwrap().value, "rotated-key-0123456789abcdef");
        assert_eq!(p.get("/tandem/t1/api-key-sha256").unwrap().value, api_key_sha256("rotated-key-0123456789abcdef"));
        assert_eq!(p.take_mutations(), vec!["overwrite /tandem/t1/api-key-sha256".to_string()]);
        assert_eq!(s.get("/tandem/t1/api-key").unwrap().value, "rotated-key-0123456789abcdef");
        assert_eq!(c.read(&ctx()).await.unwrap(), Drift::InSync);
        // A known vector: the hash is SHA-256 in lowercase hex.
        assert_eq!(api_key_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[tokio::test]
    async fn second_apply_makes_no_mutating_call_and_keeps_the_key() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        let key = p.get("/tandem/t1/api-key").unwrap().value;
        p.take_mutations();
        s.take_mutations();
        // An operator changed a flag: apply keeps it.
        p.insert("/tandem/t1/feature-flags", ParamKind::String, r#"{"maintenance_mode":true}"#);
        s.insert("/tandem/t1/feature-flags", ParamKind::String, r#"{"maintenance_mode":true}"#);
        let prior = ComponentState::new("ssm-parameters", Placement::Primary, "us-east-1");
        c.apply(&ctx().with_prior(prior)).await.unwrap();
        assert_eq!(p.take_mutations(), Vec::<String>::new());
        assert_eq!(s.take_mutations(), Vec::<String>::new());
        assert_eq!(p.get("/tandem/t1/api-key").unwrap().value, key);
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_are_adopted_with_exactly_one_create_each() {
        let (p, s) = (Store::default(), Store::default());
        p.lose_create_answers.store(true, std::sync::atomic::Ordering::SeqCst);
        s.lose_create_answers.store(true, std::sync::atomic::Ordering::SeqCst);
        let c = component(&p, &s);
        let ctx = ctx();
        c.apply(&ctx).await.unwrap();
        let creates = p.take_mutations();
        assert_eq!(creates.len(), 10, "{creates:?}");
        assert!(creates.iter().all(|m| m.starts_with("create ")), "{creates:?}");
        let key = p.get("/tandem/t1/api-key").unwrap().value;
        assert_eq!(p.get("/tandem/t1/api-key-sha256").unwrap().value, api_key_sha256(&key));
        assert_eq!(s.take_mutations().len(), 10);
        for name in c.own_names() {
            let e = ctx.entry(&own_key(&name)).await.unwrap();
            assert_eq!((e.id.as_deref(), e.status), (Some(name.as_str()), tandem_core::state::ResourceStatus::Done));
            let e = ctx.entry(&secondary_key(&name)).await.unwrap();
            assert_eq!(e.status, tandem_core::state::ResourceStatus::Done);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_run_adopts_a_parameter_whose_create_answer_was_lost() {
        use tandem_core::state::ResourceStatus;
        let (p, s) = (Store::default(), Store::default());
        // The previous run created the API key and died before the answer came.
        p.insert("/tandem/t1/api-key", ParamKind::SecureString, "k-from-the-lost-run");
        let prior = ComponentState::new("ssm-parameters", Placement::Primary, "us-east-1").with_pending_create("param:/tandem/t1/api-key", None);
        let c = component(&p, &s);
        let ctx = ctx().with_prior(prior);
        c.apply(&ctx).await.unwrap();
        assert!(!p.take_mutations().iter().any(|m| m.ends_with("/api-key")));
        assert_eq!(p.get("/tandem/t1/api-key").unwrap().value, "k-from-the-lost-run");
        assert_eq!(p.get("/tandem/t1/api-key-sha256").unwrap().value, api_key_sha256("k-from-the-lost-run"), "the hash is the stored key's");
        let e = ctx.entry(&own_key("/tandem/t1/api-key")).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status), (Some("/tandem/t1/api-key"), ResourceStatus::Done));
    }

    #[tokio::test(start_paused = true)]
    async fn already_exists_from_the_replicator_is_adopted_then_overwritten() {
        let (p, s) = (Store::default(), Store::default());
        // Between the lookup and the create, the replicator writes a stale copy of the port.
        let mut sm = MockSsmApi::new();
        let mut seq = mockall::Sequence::new();
        let st = s.clone();
        sm.expect_get_parameters_by_path().returning(move |path| {
            Ok(st.params.lock().unwrap().values().filter(|p| p.name.starts_with(path)).cloned().collect())
        });
        let st = s.clone();
        sm.expect_create_parameter().returning(move |q, _, _| {
            let mut params = st.params.lock().unwrap();
            if q.name == "/tandem/t1/db/port" && !params.contains_key(&q.name) {
                params.insert(q.name.clone(), Parameter { value: "1".into(), ..q.clone() });
            }
            if params.contains_key(&q.name) {
                return Err(AwsError::other("ParameterAlreadyExists", "exists"));
            }
            params.insert(q.name.clone(), q.clone());
            Ok(())
        });
        let st = s.clone();
        sm.expect_overwrite_parameter().times(1).in_sequence(&mut seq).returning(move |q| {
            st.params.lock().unwrap().insert(q.name.clone(), q.clone());
            Ok(())
        });
        // Copies it created carry the marker; the replicator's (adopted) is tagged once.
        sm.expect_names_tagged().returning(|_, _, _| Ok(vec![]));
        sm.expect_add_tags()
            .withf(|n, tags| n == "/tandem/t1/db/port" && tags.contains(&(REPLICATED_FROM_TAG.into(), "us-east-1".into())))
            .times(1)
            .returning(|_, _| Ok(()));
        let c2 = ParametersComponent::new(&Config::example("t1"), Arc::new(p.mock()), Arc::new(sm));
        let ctx = ctx();
        c2.apply(&ctx).await.unwrap();
        assert_eq!(s.get("/tandem/t1/db/port").unwrap().value, "5432");
        assert_eq!(s.params.lock().unwrap().len(), 10);
    }

    #[tokio::test]
    async fn changed_inputs_overwrite_only_what_differs_in_both_regions() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        p.take_mutations();
        s.take_mutations();
        let mut a = aurora("primary");
        a.writer_endpoint = "the-cluster-endpoint-is-not-published".into();
        c.apply(&ctx().with_input("aurora-primary", &a)).await.unwrap();
        assert_eq!(p.take_mutations(), Vec::<String>::new());
        a.global_writer_endpoint = "new-writer".into();
        c.apply(&ctx().with_input("aurora-primary", &a)).await.unwrap();
        assert_eq!(p.take_mutations(), vec!["overwrite /tandem/t1/db/writer-endpoint".to_string()]);
        assert_eq!(s.take_mutations(), vec!["overwrite /tandem/t1/db/writer-endpoint".to_string()]);
    }

    #[tokio::test]
    async fn secondary_only_parameter_written_during_an_outage_is_kept() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        p.take_mutations();
        s.take_mutations();
        // Written in the secondary while the primary was away (no marker), of both types.
        s.insert("/tandem/t1/outage/order-cutoff", ParamKind::String, "2024-06-01");
        s.insert("/tandem/t1/outage/token", ParamKind::SecureString, "t0k3n");
        let prior = ComponentState::new("ssm-parameters", Placement::Primary, "us-east-1");
        let ctx = ctx().with_prior(prior);
        c.apply(&ctx).await.unwrap();
        // Kept, untouched, and not copied back to the primary.
        assert_eq!(s.take_mutations(), Vec::<String>::new());
        assert_eq!(p.take_mutations(), Vec::<String>::new());
        assert_eq!(s.get("/tandem/t1/outage/order-cutoff").unwrap().value, "2024-06-01");
        assert_eq!(s.get("/tandem/t1/outage/token").unwrap().value, "t0k3n");
        assert!(p.get("/tandem/t1/outage/order-cutoff").is_none() && p.get("/tandem/t1/outage/token").is_none());
        // Not drift either: apply would not change it, and a second apply stays a no-op.
        assert_eq!(c.read(&ctx).await.unwrap(), Drift::InSync);
        c.apply(&ctx).await.unwrap();
        assert_eq!(s.take_mutations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_value_written_in_the_secondary_during_an_outage_is_not_overwritten_until_the_primary_is_written_again() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        let flags = "/tandem/t1/feature-flags";
        let setting = "/tandem/t1/app/setting";
        p.insert(setting, ParamKind::String, "from-primary");
        c.apply(&ctx()).await.unwrap();
        assert_eq!(s.get(setting).map(|x| x.value).as_deref(), Some("from-primary"));
        p.take_mutations();
        s.take_mutations();

        // The primary is down; an operator changes both in the secondary (the copies keep their marker).
        s.insert(flags, ParamKind::String, r#"{"read_only":true}"#);
        s.insert(setting, ParamKind::String, "written-during-outage");
        c.apply(&ctx()).await.unwrap();
        assert_eq!(s.get(flags).map(|x| x.value).as_deref(), Some(r#"{"read_only":true}"#), "the outage write is kept");
        assert_eq!(s.get(setting).map(|x| x.value).as_deref(), Some("written-during-outage"));
        assert_eq!(s.take_mutations(), Vec::<String>::new(), "nothing written in the secondary");
        assert_eq!(p.take_mutations(), Vec::<String>::new(), "nothing copied back to the primary either");
        assert_eq!(c.read(&ctx()).await.unwrap(), Drift::InSync, "a kept outage write is not drift");

        // Someone writes the wanted value in the primary: newer again, so it is copied.
        p.insert(setting, ParamKind::String, "decided");
        c.apply(&ctx()).await.unwrap();
        assert_eq!(s.get(setting).map(|x| x.value).as_deref(), Some("decided"));
        assert_eq!(s.take_mutations(), vec![format!("overwrite {setting}")]);
        assert_eq!(s.get(flags).map(|x| x.value).as_deref(), Some(r#"{"read_only":true}"#), "the other outage write still stands");
    }

    #[test]
    fn only_a_later_different_value_counts_as_written_after() {
        let at = |v: &str, ms: Option<i64>| Parameter { modified_ms: ms, ..Parameter::new("/x", ParamKind::String, v) };
        assert!(written_after(&at("b", Some(2)), &at("a", Some(1))));
        assert!(!written_after(&at("b", Some(1)), &at("a", Some(2))), "older: the primary's value wins");
        assert!(!written_after(&at("a", Some(2)), &at("a", Some(1))), "same value: nothing to keep");
        assert!(!written_after(&at("b", None), &at("a", Some(1))), "unknown time never counts as later");
        assert!(!written_after(&at("b", Some(2)), &at("a", None)));
        let secure = Parameter { modified_ms: Some(3), ..Parameter::new("/x", ParamKind::SecureString, "b") };
        assert!(!written_after(&secure, &at("a", Some(1))), "another type is replaced, not kept");
    }

    #[tokio::test]
    async fn tandem_copy_of_a_parameter_removed_from_the_primary_is_deleted() {
        let (p, s) = (Store::default(), Store::default());
        // Another component's parameter, copied by the reconcile.
        p.insert("/tandem/t1/db/master-password", ParamKind::SecureString, "pw");
        let c = component(&p, &s);
        let ctx = ctx();
        c.apply(&ctx).await.unwrap();
        assert_eq!(s.tag("/tandem/t1/db/master-password").as_deref(), Some("us-east-1"));
        p.take_mutations();
        s.take_mutations();
        // Removed from the primary (its owner was destroyed): the copy is stale.
        p.params.lock().unwrap().remove("/tandem/t1/db/master-password");
        match c.read(&ctx).await.unwrap() {
            Drift::Drifted { details } => assert_eq!(details, vec!["/tandem/t1/db/master-password is a stale copy in us-east-2".to_string()]),
            other => panic!("{other:?}"),
        }
        c.apply(&ctx).await.unwrap();
        assert_eq!(s.take_mutations(), vec!["delete /tandem/t1/db/master-password".to_string()]);
        assert!(s.get("/tandem/t1/db/master-password").is_none());
        assert!(ctx.entry(&secondary_key("/tandem/t1/db/master-password")).await.is_none());
        assert_eq!(c.read(&ctx).await.unwrap(), Drift::InSync);
    }

    #[tokio::test]
    async fn copies_the_replicator_made_are_marked_once() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        // The replicator copied a parameter created later in the primary: no marker.
        p.insert("/tandem/t1/app/setting", ParamKind::String, "v");
        s.insert("/tandem/t1/app/setting", ParamKind::String, "v");
        p.take_mutations();
        s.take_mutations();
        let prior = ComponentState::new("ssm-parameters", Placement::Primary, "us-east-1");
        let ctx = ctx().with_prior(prior);
        c.apply(&ctx).await.unwrap();
        assert_eq!(s.take_mutations(), vec!["tag /tandem/t1/app/setting".to_string()]);
        assert_eq!(s.tag("/tandem/t1/app/setting").as_deref(), Some("us-east-1"));
        c.apply(&ctx).await.unwrap();
        assert_eq!(s.take_mutations(), Vec::<String>::new());
        // Once the primary drops it, the marked copy goes.
        p.params.lock().unwrap().remove("/tandem/t1/app/setting");
        c.apply(&ctx).await.unwrap();
        assert_eq!(s.take_mutations(), vec!["delete /tandem/t1/app/setting".to_string()]);
    }

    /// A primary region whose listing answers `first_ok` times, then fails with `error`.
    fn failing_primary(store: &Store, first_ok: usize, error: fn() -> AwsError) -> MockSsmApi {
        let mut m = MockSsmApi::new();
        let st = store.clone();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        m.expect_get_parameters_by_path().returning(move |path| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= first_ok {
                return Err(error());
            }
            Ok(st.params.lock().unwrap().values().filter(|p| p.name.starts_with(path)).cloned().collect())
        });
        m
    }

    #[tokio::test(start_paused = true)]
    async fn primary_read_failure_deletes_nothing_in_the_secondary() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        // A marked copy whose original is gone, and an outage write.
        s.insert_copy("/tandem/t1/stale", ParamKind::String, "x");
        s.insert("/tandem/t1/outage", ParamKind::String, "y");
        s.take_mutations();
        for error in [
            (|| AwsError::other("AccessDeniedException", "denied")) as fn() -> AwsError,
            || AwsError::new("InternalServerError", "unavailable", Some(500)),
            AwsError::throttling,
        ] {
            // The component's own read of the primary succeeds; the reconcile's fails.
            let c = ParametersComponent::new(&Config::example("t1"), Arc::new(failing_primary(&p, 1, error)), Arc::new(s.mock()));
            let err = c.apply(&ctx()).await.unwrap_err().to_string();
            assert!(err.contains("us-east-1"), "{err}");
            assert_eq!(s.take_mutations(), Vec::<String>::new());
            assert!(s.get("/tandem/t1/stale").is_some() && s.get("/tandem/t1/outage").is_some());
            // read fails too, rather than calling anything in the secondary stale.
            let c = ParametersComponent::new(&Config::example("t1"), Arc::new(failing_primary(&p, 0, error)), Arc::new(s.mock()));
            assert!(c.read(&ctx()).await.is_err());
        }
    }

    #[tokio::test]
    async fn incomplete_primary_listing_deletes_nothing() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        let ctx = ctx();
        c.apply(&ctx).await.unwrap();
        s.insert_copy("/tandem/t1/stale", ParamKind::String, "x");
        s.take_mutations();
        // The primary answers, but without the stack's own parameters (a wrong or partial
        // answer): nothing is decided from it.
        let empty = Store::default();
        let c = ParametersComponent::new(&Config::example("t1"), Arc::new(empty.mock()), Arc::new(s.mock()));
        c.reconcile(&ctx).await.unwrap();
        assert_eq!(s.take_mutations(), Vec::<String>::new());
        assert!(s.get("/tandem/t1/stale").is_some());
    }

    #[tokio::test]
    async fn outputs_recorded_without_the_global_writer_endpoint_are_refused() {
        let (p, s) = (Store::default(), Store::default());
        let mut a = aurora("primary");
        a.global_writer_endpoint.clear();
        let err = component(&p, &s).apply(&ctx().with_input("aurora-primary", &a)).await.unwrap_err().to_string();
        assert!(err.contains("global writer endpoint"), "{err}");
        assert_eq!(p.take_mutations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn type_change_is_delete_then_create() {
        let (p, s) = (Store::default(), Store::default());
        p.insert("/tandem/t1/db/master-password", ParamKind::SecureString, "pw");
        s.insert("/tandem/t1/db/master-password", ParamKind::String, "pw");
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        let m = s.take_mutations();
        let i = m.iter().position(|x| x == "delete /tandem/t1/db/master-password").unwrap();
        assert_eq!(m[i + 1], "create /tandem/t1/db/master-password");
        assert_eq!(s.get("/tandem/t1/db/master-password").unwrap().kind, ParamKind::SecureString);
    }

    #[tokio::test]
    async fn destroy_deletes_own_parameters_and_every_secondary_copy_then_is_a_no_op() {
        let (p, s) = (Store::default(), Store::default());
        p.insert("/tandem/t1/db/master-password", ParamKind::SecureString, "pw");
        let c = component(&p, &s);
        let ctx = ctx();
        c.apply(&ctx).await.unwrap();
        c.destroy(&ctx).await.unwrap();
        // The master password belongs to aurora-primary: left for it to delete.
        assert_eq!(p.params.lock().unwrap().keys().cloned().collect::<Vec<_>>(), vec!["/tandem/t1/db/master-password".to_string()]);
        assert!(s.params.lock().unwrap().is_empty());
        assert!(ctx.journal_entries().await.is_empty());
        // Second destroy: NotFound everywhere is success.
        c.destroy(&ctx).await.unwrap();
    }

    #[tokio::test]
    async fn destroy_order_primary_then_secondary() {
        let mut p = MockSsmApi::new();
        let mut s = MockSsmApi::new();
        let mut seq = Sequence::new();
        p.expect_delete_parameter().times(10).in_sequence(&mut seq).returning(|_| Ok(()));
        s.expect_get_parameters_by_path().times(1).in_sequence(&mut seq).returning(|_| {
            Ok(vec![Parameter::new("/tandem/t1/api-key", ParamKind::SecureString, "k")])
        });
        s.expect_delete_parameter().withf(|n| n == "/tandem/t1/api-key").times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        let c = ParametersComponent::new(&Config::example("t1"), Arc::new(p), Arc::new(s));
        c.destroy(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried() {
        let store = Store::default();
        let mut p = MockSsmApi::new();
        let mut seq = Sequence::new();
        p.expect_get_parameters_by_path().times(1).in_sequence(&mut seq).returning(|_| Err(AwsError::throttling()));
        let st = store.clone();
        p.expect_get_parameters_by_path().returning(move |_| Ok(st.params.lock().unwrap().values().cloned().collect()));
        let st = store.clone();
        p.expect_create_parameter().returning(move |q, _, _| {
            st.params.lock().unwrap().insert(q.name.clone(), q.clone());
            Ok(())
        });
        let s = Store::default();
        let c = ParametersComponent::new(&Config::example("t1"), Arc::new(p), Arc::new(s.mock()));
        c.apply(&ctx()).await.unwrap();
        assert_eq!(s.params.lock().unwrap().len(), 10);
    }

    #[tokio::test]
    async fn errors_name_parameter_and_region() {
        let mut p = MockSsmApi::new();
        p.expect_get_parameters_by_path().returning(|_| Ok(vec![]));
        p.expect_create_parameter().returning(|_, _, _| Err(AwsError::other("AccessDeniedException", "denied")));
        let c = ParametersComponent::new(&Config::example("t1"), Arc::new(p), Arc::new(MockSsmApi::new()));
        let msg = c.apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains("/tandem/t1/") && msg.contains("us-east-1") && msg.contains("AccessDeniedException"), "{msg}");
    }

    #[tokio::test]
    async fn missing_input_is_reported() {
        let c = ParametersComponent::new(&Config::example("t1"), Arc::new(MockSsmApi::new()), Arc::new(MockSsmApi::new()));
        let e = c.apply(&Ctx::standalone("parameters", "us-east-1")).await.unwrap_err();
        assert!(matches!(e, ComponentError::MissingInput(_)), "{e}");
    }

    #[test]
    fn debug_redacts_secure_strings() {
        let p = Parameter::new("/tandem/t1/api-key", ParamKind::SecureString, "hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
        assert_eq!(ParametersComponent::own_layout().len(), 10);
    }
}
