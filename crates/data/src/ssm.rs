//! SSM Parameter Store: the `parameters` component and the two-region reconcile.
//!
//! Parameters under `/tandem/<suffix>/` in the primary region:
//!
//! | name | type | value |
//! |---|---|---|
//! | `db/writer-endpoint` | String | Aurora primary writer endpoint |
//! | `db/reader-endpoint` | String | Aurora primary reader endpoint |
//! | `db/secondary-reader-endpoint` | String | Aurora secondary reader endpoint |
//! | `db/port` | String | database port |
//! | `dynamodb/table-name` | String | global table name |
//! | `s3/primary-bucket`, `s3/secondary-bucket` | String | bucket names |
//! | `feature-flags` | String (JSON) | defaults on creation; operators own it afterwards |
//! | `api-key` | SecureString | random, generated once, never rotated by apply |
//!
//! Secrets are SecureStrings encrypted with the region's AWS managed key `alias/aws/ssm`;
//! names, endpoints and flags are not secret and are plain `String` parameters (encrypted at
//! rest by Parameter Store's service-side storage, not with KMS).
//!
//! After the primary is right, `apply` reconciles the secondary region: every parameter under
//! the path (including ones other components own, such as the Aurora master password) is
//! copied there, SecureStrings decrypted and re-encrypted with the secondary region's key, and
//! parameters under the path that no longer exist in the primary are deleted. The replicator
//! Lambda keeps the copies in sync afterwards (`ssm_replication`). Values are never logged,
//! journaled or put in outputs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{retry, AwsContext};
use tandem_core::contracts::{ids, AuroraOutputs, BucketOutputs, ParametersOutputs, TableOutputs};
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

/// The `parameters` component (both regions' SSM clients).
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let primary: Arc<dyn SsmApi> = Arc::new(aws_sdk_ssm::Client::new(&aws.config(&cfg.primary_region)));
    let secondary: Arc<dyn SsmApi> = Arc::new(aws_sdk_ssm::Client::new(&aws.config(&cfg.secondary_region)));
    vec![Arc::new(ParametersComponent::new(cfg, primary, secondary))]
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
        self.param_name("api-key")
    }

    /// Leaf names and kinds of the component's own parameters.
    fn own_layout() -> [(&'static str, ParamKind); 9] {
        [
            ("db/writer-endpoint", ParamKind::String),
            ("db/reader-endpoint", ParamKind::String),
            ("db/secondary-reader-endpoint", ParamKind::String),
            ("db/port", ParamKind::String),
            ("dynamodb/table-name", ParamKind::String),
            ("s3/primary-bucket", ParamKind::String),
            ("s3/secondary-bucket", ParamKind::String),
            ("feature-flags", ParamKind::String),
            ("api-key", ParamKind::SecureString),
        ]
    }

    /// Sorted names of the component's own parameters.
    pub fn own_names(&self) -> Vec<String> {
        let mut v: Vec<String> = Self::own_layout().iter().map(|(l, _)| self.param_name(l)).collect();
        v.sort();
        v
    }

    fn own_parameters(&self, ctx: &Ctx) -> Result<Vec<Own>, ComponentError> {
        let aurora_p: AuroraOutputs = ctx.input(&ids::aurora(Placement::Primary))?;
        let aurora_s: AuroraOutputs = ctx.input(&ids::aurora(Placement::Secondary))?;
        let table: TableOutputs = ctx.input(ids::TABLE)?;
        let bucket_p: BucketOutputs = ctx.input(&ids::bucket(Placement::Primary))?;
        let bucket_s: BucketOutputs = ctx.input(&ids::bucket(Placement::Secondary))?;
        let s = |leaf: &str, value: String, description: &'static str| Own {
            param: Parameter { name: self.param_name(leaf), kind: ParamKind::String, value },
            description,
            managed: Managed::Value,
        };
        Ok(vec![
            s("db/writer-endpoint", aurora_p.writer_endpoint, "Aurora global database writer endpoint (primary region)"),
            s("db/reader-endpoint", aurora_p.reader_endpoint, "Aurora reader endpoint (primary region)"),
            s("db/secondary-reader-endpoint", aurora_s.reader_endpoint, "Aurora reader endpoint (secondary region)"),
            s("db/port", aurora_p.port.to_string(), "Aurora port"),
            s("dynamodb/table-name", table.table_name, "DynamoDB global table name"),
            s("s3/primary-bucket", bucket_p.bucket_name, "S3 bucket (primary region)"),
            s("s3/secondary-bucket", bucket_s.bucket_name, "S3 bucket (secondary region)"),
            Own {
                param: Parameter {
                    name: self.param_name("feature-flags"),
                    kind: ParamKind::String,
                    value: default_feature_flags().to_string(),
                },
                description: "Feature flags (JSON); initial defaults, operator-owned afterwards",
                managed: Managed::Once,
            },
            Own {
                param: Parameter { name: self.api_key_name(), kind: ParamKind::SecureString, value: String::new() },
                description: "API key (SecureString, generated once)",
                managed: Managed::Once,
            },
        ])
    }

    /// Creates or updates one parameter in `client`; returns true when a call was made.
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
    ) -> Result<bool, ComponentError> {
        let n = want.name.as_str();
        let overwrite = || async { retry(|| client.overwrite_parameter(want)).await.at(n, region) };
        match live {
            Some(l) if l.kind == want.kind && l.value == want.value => {
                ctx.adopt(key, n).await?;
                return Ok(false);
            }
            Some(l) if l.kind == want.kind => {
                // Ours (under the stack's path): recorded, then changed in place.
                ctx.adopt(key, n).await?;
                ctx.update(key, overwrite).await?;
                return Ok(true);
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
        let tags = naming::tags(&self.suffix, n);
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
        Ok(true)
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

    /// Copies every primary parameter under the path to the secondary and deletes extras
    /// there. Returns the number of changes.
    async fn reconcile(&self, ctx: &Ctx) -> Result<usize, ComponentError> {
        let sr = self.secondary_region.as_str();
        let source = self.list(self.primary.as_ref(), &self.primary_region).await?;
        let target = self.list(self.secondary.as_ref(), sr).await?;
        let mut changes = 0;
        for (name, p) in &source {
            let key = secondary_key(name);
            if self.put(ctx, self.secondary.as_ref(), sr, &key, p, target.get(name), "Replica of the primary region's parameter", true).await? {
                changes += 1;
            }
        }
        for name in target.keys().filter(|n| !source.contains_key(*n)) {
            self.delete_param(ctx, self.secondary.as_ref(), &secondary_key(name), name, sr).await?;
            changes += 1;
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
        let own = self.own_parameters(ctx)?;
        let live = self.list(self.primary.as_ref(), &pr).await?;
        for o in own {
            let name = o.param.name.clone();
            let current = live.get(&name);
            let want = match (o.managed, current) {
                // Present: keep the operator's flags and the existing key (same type).
                (Managed::Once, Some(c)) if c.kind == o.param.kind => {
                    // Ours (under the stack's path); resolves a create whose answer was lost.
                    ctx.adopt(&own_key(&name), &name).await?;
                    continue;
                }
                (Managed::Once, _) if name == self.api_key_name() => {
                    Parameter { value: generate_api_key(), ..o.param }
                }
                _ => o.param,
            };
            let key = own_key(&name);
            let overwrite_adopted = o.managed == Managed::Value;
            if self.put(ctx, self.primary.as_ref(), &pr, &key, &want, current, o.description, overwrite_adopted).await? {
                tracing::info!(parameter = %name, region = %pr, "parameter written");
            }
        }
        self.reconcile(ctx).await?;
        Ok(to_outputs(&ParametersOutputs {
            path: self.path.clone(),
            names: self.own_names(),
            api_key_parameter: self.api_key_name(),
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
        if let Ok(own) = self.own_parameters(ctx) {
            for o in own.iter().filter(|o| o.managed == Managed::Value) {
                if source.get(&o.param.name).is_some_and(|l| l.value != o.param.value) {
                    details.push(format!("{} differs from the stack's value", o.param.name));
                }
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
                Some(t) if t.kind != p.kind || t.value != p.value => {
                    details.push(format!("{name} differs in {}", self.secondary_region))
                }
                Some(_) => {}
            }
        }
        for name in target.keys().filter(|n| !source.contains_key(*n)) {
            details.push(format!("{name} exists only in {}", self.secondary_region));
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

    /// An in-memory Parameter Store region behind a mock, recording mutations.
    #[derive(Clone, Default)]
    struct Store {
        params: Arc<Mutex<BTreeMap<String, Parameter>>>,
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
                params.insert(p.name.clone(), p.clone());
                s.mutations.lock().unwrap().push(format!("create {}", p.name));
                if s.lose_create_answers.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(AwsError::new("InternalServerError", "answer lost", Some(500)));
                }
                Ok(())
            });
            let s = self.clone();
            m.expect_overwrite_parameter().returning(move |p| {
                s.params.lock().unwrap().insert(p.name.clone(), p.clone());
                s.mutations.lock().unwrap().push(format!("overwrite {}", p.name));
                Ok(())
            });
            let s = self.clone();
            m.expect_delete_parameter().returning(move |n| {
                s.mutations.lock().unwrap().push(format!("delete {n}"));
                match s.params.lock().unwrap().remove(n) {
                    Some(_) => Ok(()),
                    None => Err(AwsError::not_found("ParameterNotFound", n.to_string())),
                }
            });
            m
        }
        fn get(&self, name: &str) -> Option<Parameter> {
            self.params.lock().unwrap().get(name).cloned()
        }
        fn insert(&self, name: &str, kind: ParamKind, value: &str) {
            self.params.lock().unwrap().insert(name.into(), Parameter { name: name.into(), kind, value: value.into() });
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
        // Stale copy in the secondary, must go.
        s.insert("/tandem/t1/old", ParamKind::String, "x");
        let c = component(&p, &s);
        let ctx = ctx();
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["path"], "/tandem/t1/");
        assert_eq!(out["api_key_parameter"], "/tandem/t1/api-key");
        assert_eq!(out["names"].as_array().unwrap().len(), 9);
        assert_eq!(p.get("/tandem/t1/db/writer-endpoint").unwrap().value, "aurora-primary-t1.cluster-abc.rds.amazonaws.com");
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
        assert_eq!(creates.len(), 9, "{creates:?}");
        assert!(creates.iter().all(|m| m.starts_with("create ")), "{creates:?}");
        assert_eq!(s.take_mutations().len(), 9);
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
        assert!(!p.take_mutations().iter().any(|m| m.contains("api-key")));
        assert_eq!(p.get("/tandem/t1/api-key").unwrap().value, "k-from-the-lost-run");
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
        let c2 = ParametersComponent::new(&Config::example("t1"), Arc::new(p.mock()), Arc::new(sm));
        let ctx = ctx();
        c2.apply(&ctx).await.unwrap();
        assert_eq!(s.get("/tandem/t1/db/port").unwrap().value, "5432");
        assert_eq!(s.params.lock().unwrap().len(), 9);
    }

    #[tokio::test]
    async fn changed_inputs_overwrite_only_what_differs_in_both_regions() {
        let (p, s) = (Store::default(), Store::default());
        let c = component(&p, &s);
        c.apply(&ctx()).await.unwrap();
        p.take_mutations();
        s.take_mutations();
        let mut a = aurora("primary");
        a.writer_endpoint = "new-writer".into();
        c.apply(&ctx().with_input("aurora-primary", &a)).await.unwrap();
        assert_eq!(p.take_mutations(), vec!["overwrite /tandem/t1/db/writer-endpoint".to_string()]);
        assert_eq!(s.take_mutations(), vec!["overwrite /tandem/t1/db/writer-endpoint".to_string()]);
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
        p.expect_delete_parameter().times(9).in_sequence(&mut seq).returning(|_| Ok(()));
        s.expect_get_parameters_by_path().times(1).in_sequence(&mut seq).returning(|_| {
            Ok(vec![Parameter { name: "/tandem/t1/api-key".into(), kind: ParamKind::SecureString, value: "k".into() }])
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
        assert_eq!(s.params.lock().unwrap().len(), 9);
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
        let p = Parameter { name: "/tandem/t1/api-key".into(), kind: ParamKind::SecureString, value: "hunter2".into() };
        assert!(!format!("{p:?}").contains("hunter2"));
        assert_eq!(ParametersComponent::own_layout().len(), 9);
    }
}
