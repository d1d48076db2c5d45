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
use tandem_core::aws::{ignore_not_found, retry, AwsContext};
use tandem_core::contracts::{ids, AuroraOutputs, BucketOutputs, ParametersOutputs, TableOutputs};
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Outputs,
    Placement,
};

#[path = "ssm_api.rs"]
mod api;
pub use api::*;

/// Default feature flags written when the parameter is created.
pub fn default_feature_flags() -> serde_json::Value {
    json!({ "maintenance_mode": false, "read_only": false, "failover_drills": false })
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

    fn err_p(&self, name: &str, e: AwsError) -> ComponentError {
        ComponentError::aws(name, &self.primary_region, e)
    }

    /// Creates or updates one parameter in `client`; returns true when a call was made.
    #[allow(clippy::too_many_arguments)]
    async fn put(
        &self,
        ctx: &Ctx,
        client: &dyn SsmApi,
        region: &str,
        key: &str,
        want: &Parameter,
        live: Option<&Parameter>,
        description: &str,
    ) -> Result<bool, ComponentError> {
        let n = want.name.as_str();
        match live {
            Some(l) if l.kind == want.kind && l.value == want.value => Ok(false),
            Some(l) if l.kind != want.kind => {
                // The type of a parameter cannot be changed in place: delete, then create.
                ctx.journaled(key, "replace", || async {
                    ignore_not_found(retry(|| client.delete_parameter(n)).await).at(n, region)?;
                    retry(|| client.create_parameter(want, description, naming::tags(&self.suffix, n))).await.at(n, region)?;
                    Ok(n.to_string())
                })
                .await?;
                Ok(true)
            }
            Some(_) => {
                ctx.journaled(key, "update", || async {
                    retry(|| client.overwrite_parameter(want)).await.at(n, region)?;
                    Ok(n.to_string())
                })
                .await?;
                Ok(true)
            }
            None => {
                ctx.journaled(key, "create", || async {
                    match retry(|| client.create_parameter(want, description, naming::tags(&self.suffix, n))).await {
                        Ok(()) => {}
                        // Created meanwhile (interrupted run, or the replicator): overwrite.
                        Err(e) if e.is_code("ParameterAlreadyExists") => {
                            retry(|| client.overwrite_parameter(want)).await.at(n, region)?
                        }
                        Err(e) => return Err(ComponentError::aws(n, region, e)),
                    }
                    Ok(n.to_string())
                })
                .await?;
                Ok(true)
            }
        }
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
            let key = format!("secondary:{name}");
            if self.put(ctx, self.secondary.as_ref(), sr, &key, p, target.get(name), "Replica of the primary region's parameter").await? {
                changes += 1;
            }
        }
        for name in target.keys().filter(|n| !source.contains_key(*n)) {
            let key = format!("secondary:{name}");
            ctx.pending(&key, "delete").await?;
            ignore_not_found(retry(|| self.secondary.delete_parameter(name)).await).at(name, sr)?;
            ctx.removed(&key).await?;
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
                (Managed::Once, Some(c)) if c.kind == o.param.kind => continue,
                (Managed::Once, _) if name == self.api_key_name() => {
                    Parameter { value: generate_api_key(), ..o.param }
                }
                _ => o.param,
            };
            let key = format!("param:{name}");
            if self.put(ctx, self.primary.as_ref(), &pr, &key, &want, current, o.description).await? {
                tracing::info!(parameter = %name, region = %pr, "parameter written");
            } else if recorded_id(ctx, &key).await.is_none() {
                ctx.done(&key, &name).await?;
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
            let key = format!("param:{name}");
            ctx.pending(&key, "delete").await?;
            ignore_not_found(retry(|| self.primary.delete_parameter(&name)).await).map_err(|e| self.err_p(&name, e))?;
            ctx.removed(&key).await?;
        }
        // Every copy in the secondary (including those of parameters other components own).
        let sr = self.secondary_region.as_str();
        for name in self.list(self.secondary.as_ref(), sr).await?.into_keys() {
            let key = format!("secondary:{name}");
            ctx.pending(&key, "delete").await?;
            ignore_not_found(retry(|| self.secondary.delete_parameter(&name)).await).at(&name, sr)?;
            ctx.removed(&key).await?;
        }
        for (key, _) in ctx.journal_entries().await {
            ctx.removed(&key).await?;
        }
        Ok(())
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

/// The id of resource `key` from this run's journal, else from the prior state.
async fn recorded_id(ctx: &Ctx, key: &str) -> Option<String> {
    match ctx.resource_id(key).await {
        Some(id) => Some(id),
        None => ctx.prior().and_then(|p| p.resources.get(key)).and_then(|r| r.id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::Sequence;
    use std::sync::Mutex;
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
                    replica_simulated: false,
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
