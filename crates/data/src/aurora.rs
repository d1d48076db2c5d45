//! Aurora Global Database (Serverless v2, `aurora-postgresql`, port 5432): the
//! `aurora-primary` and `aurora-secondary` components, and the switchover / failover
//! operations the CLI offers.
//!
//! Primary: global cluster `aurora-global-{s}` (encrypted) → DB subnet group
//! `aurora-primary-{s}` → master password generated and written ONLY to the SSM SecureString
//! `/tandem/{s}/db/master-password` → CreateDBCluster `aurora-primary-{s}` (member of the
//! global cluster, Serverless v2 scaling, encrypted, no deletion protection) → wait
//! available → CreateDBInstance `aurora-primary-{s}-1` (`db.serverless`) → wait available.
//!
//! Secondary: subnet group `aurora-secondary-{s}` → CreateDBCluster in the secondary region
//! with the global cluster id, no credentials, encrypted with `alias/aws/rds` of its region →
//! instance.
//!
//! Outputs: each cluster's own endpoints and the global writer endpoint
//! (`DescribeGlobalClusters` → `Endpoint`), which always resolves to the current writer; the
//! `parameters` component publishes it as `db/writer-endpoint`.
//!
//! Either cluster may be the writer. After a switchover or a failover the secondary is a
//! legitimate writer: `apply` and `read` look at each cluster's own configuration and its
//! membership of the global cluster, never at which member writes. So `read` reports no
//! drift, `apply` never moves the role back (only `tandem switchover` does) and a second
//! apply is a no-op; the global writer endpoint in the outputs does not change.
//!
//! Destroy (secondary first, by dependency order): secondary instance → wait gone →
//! RemoveFromGlobalCluster → wait not a member → delete cluster (SkipFinalSnapshot) → wait
//! gone → subnet group. Primary: instance → wait gone → (RemoveFromGlobalCluster when still a
//! member: AWS refuses to delete a cluster that is part of a global database) → delete
//! cluster → wait gone → DeleteGlobalCluster (retried while "not empty", up to 5 min) →
//! subnet group → password parameter. NotFound is success everywhere; waits poll (the SDK's
//! cluster-deleted waiter fails fast on transitional states).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tandem_core::aws::{ignore_not_found, none_if_not_found, poll_until, retry, retry_if, AwsContext, Poll};
use tandem_core::config::DatabaseConfig;
use tandem_core::contracts::{ids, AuroraOutputs, NetworkOutputs};
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired,
    Drift, How, Outputs, Placement, Rule,
};

use crate::until_accepted;

#[path = "rds_api.rs"]
mod api;
pub use api::*;

/// Database engine of the global cluster.
pub const ENGINE: &str = "aurora-postgresql";
/// PostgreSQL port.
pub const PORT: u16 = 5432;
/// Master user of the primary cluster.
pub const MASTER_USERNAME: &str = "tandem";
/// Serverless v2 instance class.
pub const INSTANCE_CLASS: &str = "db.serverless";
/// The AWS managed RDS key alias, valid in every region (secondary storage encryption).
pub const SECONDARY_KMS_KEY: &str = "alias/aws/rds";
/// Length of the generated master password.
pub const PASSWORD_LEN: usize = 32;

/// Bound of every create/delete wait of clusters and instances.
const WAIT: Duration = Duration::from_secs(60 * 60);
/// Bound of the DeleteGlobalCluster retries while AWS still counts a member.
const GLOBAL_DELETE_WAIT: Duration = Duration::from_secs(5 * 60);
/// Bound of a switchover / failover.
const FAILOVER_WAIT: Duration = Duration::from_secs(30 * 60);
/// Bound of the wait for the global cluster's writer endpoint to be published.
const ENDPOINT_WAIT: Duration = Duration::from_secs(10 * 60);

/// `aurora-global-{s}`.
pub fn global_cluster_id(suffix: &str) -> String {
    naming::name("aurora-global", Placement::Global, suffix)
}

/// `aurora-{role}-{s}`: the cluster and its subnet group.
pub fn cluster_id(placement: Placement, suffix: &str) -> String {
    naming::name("aurora", placement, suffix)
}

/// `aurora-{role}-{s}-1`.
pub fn instance_id(placement: Placement, suffix: &str) -> String {
    format!("{}-1", cluster_id(placement, suffix))
}

/// `/tandem/{s}/db/master-password`.
pub fn password_parameter(suffix: &str) -> String {
    format!("{}db/master-password", naming::parameter_path(suffix))
}

/// A random master password: [`PASSWORD_LEN`] characters from a CSPRNG, without the
/// characters RDS rejects (`/`, `@`, `"`, space).
pub fn generate_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%^&*()-_=+[]{}:,.?~";
    let mut rng = rand::rng();
    (0..PASSWORD_LEN)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// Where the master password is kept: an SSM SecureString (default `aws/ssm` key).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordStore: Send + Sync {
    /// PutParameter SecureString with Overwrite, then tags it. The value is never logged.
    async fn put_secure(
        &self,
        name: &str,
        value: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), AwsError>;
    /// The parameter's type (`SecureString`, ...) without decrypting it; None when absent.
    async fn parameter_type(&self, name: &str) -> Result<Option<String>, AwsError>;
    async fn delete(&self, name: &str) -> Result<(), AwsError>;
}

#[async_trait]
impl PasswordStore for aws_sdk_ssm::Client {
    async fn put_secure(
        &self,
        name: &str,
        value: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), AwsError> {
        use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging, Tag};
        self.put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .description("Tandem Aurora master password")
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        let tags: Vec<Tag> = tags
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        self.add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }

    async fn parameter_type(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = none_if_not_found(self.get_parameter().name(name).with_decryption(false).send().await.map_err(AwsError::from_sdk))?;
        Ok(out.and_then(|out| out.parameter().and_then(|p| p.r#type()).map(|t| t.as_str().to_string())))
    }

    async fn delete(&self, name: &str) -> Result<(), AwsError> {
        self.delete_parameter()
            .name(name)
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        Ok(())
    }
}

/// The RDS clients of both regions (primary, secondary).
pub fn rds_clients(cfg: &Config, aws: &AwsContext) -> (Arc<dyn RdsApi>, Arc<dyn RdsApi>) {
    let p: Arc<dyn RdsApi> = Arc::new(aws_sdk_rds::Client::new(&aws.config(&cfg.primary_region)));
    let s: Arc<dyn RdsApi> = Arc::new(aws_sdk_rds::Client::new(&aws.config(&cfg.secondary_region)));
    (p, s)
}

/// `aurora-primary` and `aurora-secondary` with real clients.
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let (p, s) = rds_clients(cfg, aws);
    let ssm: Arc<dyn PasswordStore> =
        Arc::new(aws_sdk_ssm::Client::new(&aws.config(&cfg.primary_region)));
    vec![
        Arc::new(AuroraComponent::primary(cfg, p, ssm).with_secondary_client(cfg, s.clone())),
        Arc::new(AuroraComponent::secondary(cfg, s)),
    ]
}

/// Journal keys.
mod keys {
    use tandem_core::Key;
    pub const GLOBAL: Key = Key::new("global_cluster");
    pub const SUBNET_GROUP: Key = Key::new("subnet_group");
    pub const PASSWORD: Key = Key::new("master_password");
    pub const CLUSTER: Key = Key::new("cluster");
    pub const INSTANCE: Key = Key::new("instance");
}

/// How long a create or delete refused because a cluster, instance, subnet group or global
/// cluster is still settling is sent again.
const SETTLE_WAIT: Duration = Duration::from_secs(10 * 60);

/// `aurora-primary` / `aurora-secondary`: one cluster of the global database, its instance
/// and subnet group (the primary also owns the global cluster and the password parameter).
pub struct AuroraComponent {
    id: String,
    placement: Placement,
    region: String,
    suffix: String,
    db: DatabaseConfig,
    global_id: String,
    cluster_id: String,
    instance_id: String,
    rds: Arc<dyn RdsApi>,
    /// Primary only.
    passwords: Option<Arc<dyn PasswordStore>>,
    /// Primary only: the secondary region's client, so that a minor engine upgrade does the
    /// reader before the writer (AWS: upgrade the secondary clusters of a global database
    /// before its primary). Without it each component upgrades only its own cluster.
    peer: Option<Peer>,
}

/// The other member cluster of the global database, as the primary component sees it.
struct Peer {
    rds: Arc<dyn RdsApi>,
    cluster_id: String,
    region: String,
}

/// What moving a cluster from its running engine version to the configured one takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionChange {
    Same,
    /// Same major version, newer: ModifyDBCluster on each member, in place.
    Minor,
    /// Newer major version: ModifyGlobalCluster with AllowMajorVersionUpgrade.
    Major,
    /// Older: Aurora has no in-place downgrade.
    Downgrade,
}

/// Compares two Aurora PostgreSQL engine versions (`16.6` → `16.8` is minor, `16.6` →
/// `17.4` major, `16.8` → `16.6` a downgrade). The major version is the first number.
pub fn version_change(running: &str, wanted: &str) -> Result<VersionChange, String> {
    fn parse(v: &str) -> Result<Vec<u64>, String> {
        v.trim()
            .split('.')
            .map(|p| p.parse::<u64>().map_err(|_| format!("engine version '{v}' is not numbers separated by dots (e.g. 16.6)")))
            .collect()
    }
    let (a, b) = (parse(running)?, parse(wanted)?);
    Ok(if a == b {
        VersionChange::Same
    } else if b < a {
        VersionChange::Downgrade
    } else if a.first() != b.first() {
        VersionChange::Major
    } else {
        VersionChange::Minor
    })
}

impl AuroraComponent {
    /// `aurora-primary` in `cfg.primary_region`.
    pub fn primary(cfg: &Config, rds: Arc<dyn RdsApi>, passwords: Arc<dyn PasswordStore>) -> Self {
        Self::new(cfg, Placement::Primary, rds, Some(passwords))
    }

    /// `aurora-secondary` in `cfg.secondary_region`.
    pub fn secondary(cfg: &Config, rds: Arc<dyn RdsApi>) -> Self {
        Self::new(cfg, Placement::Secondary, rds, None)
    }

    fn new(
        cfg: &Config,
        placement: Placement,
        rds: Arc<dyn RdsApi>,
        passwords: Option<Arc<dyn PasswordStore>>,
    ) -> Self {
        let suffix = cfg.environment_suffix.clone();
        Self {
            id: ids::aurora(placement),
            placement,
            region: cfg.region_of(placement).to_string(),
            global_id: global_cluster_id(&suffix),
            cluster_id: cluster_id(placement, &suffix),
            instance_id: instance_id(placement, &suffix),
            db: cfg.database.clone(),
            suffix,
            rds,
            passwords,
            peer: None,
        }
    }

    /// Gives the primary component the secondary region's client (`components()` does):
    /// a minor engine upgrade then upgrades the reader cluster before the writer.
    pub fn with_secondary_client(mut self, cfg: &Config, rds: Arc<dyn RdsApi>) -> Self {
        if self.is_primary() {
            self.peer = Some(Peer {
                rds,
                cluster_id: cluster_id(Placement::Secondary, &cfg.environment_suffix),
                region: cfg.secondary_region.clone(),
            });
        }
        self
    }

    fn is_primary(&self) -> bool {
        self.placement == Placement::Primary
    }

    fn tags(&self, name: &str) -> Vec<(String, String)> {
        naming::tags(&self.suffix, name)
    }

    fn password_store(&self) -> Result<&Arc<dyn PasswordStore>, ComponentError> {
        self.passwords.as_ref().ok_or_else(|| {
            ComponentError::invalid(
                &self.cluster_id,
                &self.region,
                "no password store for the primary cluster",
            )
        })
    }

    // ---- global cluster (primary) ----

    /// The global cluster, [`Rule::Name`]: its id carries the stack's suffix.
    /// `GlobalClusterAlreadyExistsFault` (a lost answer) makes the core look it up and adopt
    /// it; one of another engine is not this stack's and is reported.
    async fn ensure_global(&self, ctx: &Ctx) -> Result<GlobalClusterInfo, ComponentError> {
        let (rds, gid, r) = (&self.rds, self.global_id.as_str(), self.region.as_str());
        if let Some(g) = retry(|| rds.describe_global_cluster(gid)).await.at(gid, r)? {
            if g.engine != ENGINE {
                return Err(ComponentError::invalid(
                    gid,
                    r,
                    format!("global cluster exists with engine {} (want {ENGINE}); destroy it first", g.engine),
                ));
            }
        }
        let version = self.db.engine_version.as_str();
        let g = ctx
            .ensure::<GlobalClusterInfo>(&keys::GLOBAL, gid, Rule::Name)
            .find_one(move |_recorded| async move {
                Ok(rds.describe_global_cluster(gid).await?.filter(|g| g.engine == ENGINE))
            })
            .create(move |_token| async move {
                tracing::info!(global_cluster = %gid, region = %r, "creating global cluster");
                rds.create_global_cluster(gid, ENGINE, version).await
            })
            .id(|g| g.arn.clone())
            .run()
            .await?;
        if g.status == "available" || g.status.is_empty() {
            return Ok(g);
        }
        poll_until(
            gid,
            &self.region,
            "global cluster available",
            WAIT,
            || async {
                match self.rds.describe_global_cluster(gid).await? {
                    Some(g) if g.status == "available" => Ok(Poll::Ready(g)),
                    Some(g) => Ok(Poll::Pending(g.status)),
                    None => Ok(Poll::Pending("not visible yet".into())),
                }
            },
        )
        .await
    }

    // ---- subnet group ----

    /// The DB subnet group, [`Rule::Name`] (named after the cluster).
    async fn ensure_subnet_group(
        &self,
        ctx: &Ctx,
        subnet_ids: &[String],
    ) -> Result<SubnetGroupInfo, ComponentError> {
        let (rds, name, r) = (&self.rds, self.cluster_id.as_str(), self.region.as_str());
        let tags = self.tags(name);
        let tags = &tags;
        let g = ctx
            .ensure::<SubnetGroupInfo>(&keys::SUBNET_GROUP, name, Rule::Name)
            .find_one(move |_recorded| async move { rds.describe_subnet_group(name).await })
            .create(move |_token| async move {
                tracing::info!(subnet_group = %name, region = %r, "creating DB subnet group");
                rds.create_subnet_group(name, subnet_ids.to_vec(), tags.clone()).await
            })
            .id(|g| g.name.clone())
            .run()
            .await?;
        let (mut have, mut want) = (g.subnet_ids.clone(), subnet_ids.to_vec());
        have.sort();
        want.sort();
        if have != want {
            tracing::warn!(subnet_group = %name, region = %r, ?have, ?want, "DB subnet group subnets differ from the network's private subnets");
        }
        Ok(g)
    }

    // ---- cluster ----

    async fn wait_cluster_available(&self) -> Result<ClusterInfo, ComponentError> {
        let id = &self.cluster_id;
        poll_until(id, &self.region, "cluster available", WAIT, || async {
            match self.rds.describe_cluster(id).await? {
                Some(c) if c.status == "available" => Ok(Poll::Ready(c)),
                Some(c) => Ok(Poll::Pending(c.status)),
                None => Ok(Poll::Pending("not visible yet".into())),
            }
        })
        .await
    }

    async fn wait_cluster_gone(&self) -> Result<(), ComponentError> {
        let id = &self.cluster_id;
        poll_until(id, &self.region, "cluster deleted", WAIT, || async {
            match self.rds.describe_cluster(id).await? {
                None => Ok(Poll::Ready(())),
                Some(c) => Ok(Poll::Pending(c.status)),
            }
        })
        .await
    }

    /// The cluster, [`Rule::Name`]: its id carries the stack's suffix.
    /// `DBClusterAlreadyExistsFault` (a lost answer) makes the core look it up and adopt it.
    /// The primary's master password is written (PutParameter with Overwrite, journaled as an
    /// in-place change) only when the cluster is about to be created, once per apply, so
    /// every create attempt of this apply carries the password the parameter holds.
    /// Scaling is changed in place.
    async fn ensure_cluster(
        &self,
        ctx: &Ctx,
        global_id: &str,
        subnet_group: &str,
        security_group_id: &str,
    ) -> Result<ClusterInfo, ComponentError> {
        let (rds, id, r) = (&self.rds, self.cluster_id.as_str(), self.region.as_str());
        let mut existing = retry(|| rds.describe_cluster(id)).await.at(id, r)?;
        if existing.as_ref().is_some_and(|c| c.status == "deleting") {
            tracing::info!(cluster = %id, region = %r, "cluster is being deleted; waiting before re-creating it");
            self.wait_cluster_gone().await?;
            existing = None;
        }

        let master = if self.is_primary() && existing.is_none() {
            // The password exists only here, in the SecureString, and in the create call.
            let password = generate_password();
            let param = password_parameter(&self.suffix);
            let store = self.password_store()?;
            // PutParameter with Overwrite: sending it again (same value) is harmless, which is
            // all Rule::Token asks of a create; there is no token to carry and nothing to find.
            {
                let (store, param, password) = (store.as_ref(), param.as_str(), password.as_str());
                let tags = self.tags(param);
                let tags = &tags;
                ctx.ensure::<String>(&keys::PASSWORD, param, Rule::Token)
                    .create(move |_token| async move { store.put_secure(param, password, tags.clone()).await.map(|()| param.to_string()) })
                    .id(|p| p.clone())
                    .run()
                    .await?;
            }
            Some(MasterCredentials {
                username: MASTER_USERNAME.to_string(),
                password,
            })
        } else {
            None
        };
        let spec = ClusterSpec {
            id: id.to_string(),
            global_cluster_id: global_id.to_string(),
            engine: ENGINE.to_string(),
            engine_version: self.db.engine_version.clone(),
            subnet_group: subnet_group.to_string(),
            security_group_ids: vec![security_group_id.to_string()],
            min_capacity: self.db.min_capacity,
            max_capacity: self.db.max_capacity,
            port: PORT,
            master,
            kms_key_id: if self.is_primary() {
                None
            } else {
                Some(SECONDARY_KMS_KEY.to_string())
            },
            tags: self.tags(id),
        };
        let spec = &spec;
        let c = ctx
            .ensure::<ClusterInfo>(&keys::CLUSTER, id, Rule::Name)
            .find_one(move |_recorded| async move { Ok(rds.describe_cluster(id).await?.filter(|c| c.status != "deleting")) })
            .create(move |_token| async move {
                if spec.master.is_none() && self.is_primary() {
                    // Seen by the first lookup, gone by this create: without the password
                    // written for it, the next apply creates it.
                    return Err(AwsError::other("DBClusterNotFoundFault", "the cluster disappeared during apply; apply again"));
                }
                tracing::info!(cluster = %id, region = %r, global_cluster = %global_id, "creating DB cluster");
                // IAM/KMS propagation and a global cluster still settling surface as these.
                until_accepted(SETTLE_WAIT, || rds.create_cluster(spec), |e| {
                    e.is_code("InvalidGlobalClusterStateFault") || e.is_code("InvalidDBSubnetGroupStateFault")
                })
                .await
            })
            .id(|c| c.arn.clone())
            .outcome()
            .await?;
        let created = c.how == How::Created;
        let c = c.value;
        if existing.is_some() && c.global_cluster_id.as_deref() != Some(global_id) {
            tracing::warn!(cluster = %id, region = %r, global_cluster = %global_id, "cluster is not a member of the global cluster; destroy and re-apply to re-attach it");
        }
        let want = (Some(self.db.min_capacity), Some(self.db.max_capacity));
        if (c.min_capacity, c.max_capacity) != want {
            tracing::info!(cluster = %id, region = %r, min = self.db.min_capacity, max = self.db.max_capacity, "updating Serverless v2 scaling");
            ctx.update(&keys::CLUSTER, || async {
                retry_if(
                    || rds.modify_cluster_scaling(id, self.db.min_capacity, self.db.max_capacity),
                    |e| e.is_code("InvalidDBClusterStateFault"),
                )
                .await
                .at(id, r)
            })
            .await?;
        }
        if !created && c.status == "available" {
            return Ok(c);
        }
        self.wait_cluster_available().await
    }

    // ---- engine version ----

    /// Brings the cluster to `database.engine_version` in place, never by re-creating it.
    /// Minor (same major): ModifyDBCluster EngineVersion on each member, the reader first and
    /// the writer last (AWS's order for a global database), each waited until `available`
    /// at the new version. Major: the primary sends ModifyGlobalCluster with
    /// AllowMajorVersionUpgrade (every member at once) and waits; the secondary waits for its
    /// cluster. A downgrade is refused (Aurora cannot). Journaled as an update of the cluster.
    async fn ensure_engine_version(&self, ctx: &Ctx, cluster: ClusterInfo, global_id: &str) -> Result<ClusterInfo, ComponentError> {
        let want = self.db.engine_version.as_str();
        let (id, r) = (self.cluster_id.as_str(), self.region.as_str());
        if cluster.engine_version.is_empty() || cluster.engine_version == want {
            return Ok(cluster);
        }
        let running = cluster.engine_version.clone();
        match version_change(&running, want).map_err(|m| ComponentError::invalid(id, r, m))? {
            VersionChange::Same => Ok(cluster),
            VersionChange::Downgrade => Err(ComponentError::invalid(
                id,
                r,
                format!(
                    "database.engine_version {want} is older than the running {running}: Aurora cannot downgrade a cluster in place (fix: set database.engine_version = \"{running}\" or newer; to run an older version, restore a snapshot into a new stack)"
                ),
            )),
            VersionChange::Minor => {
                ctx.update(&keys::CLUSTER, || async {
                    let own = (self.rds.as_ref(), id, r);
                    let mut members = vec![own];
                    if let Some(peer) = &self.peer {
                        let peer = (peer.rds.as_ref(), peer.cluster_id.as_str(), peer.region.as_str());
                        let g = retry(|| self.rds.describe_global_cluster(global_id)).await.at(global_id, r)?;
                        // Unknown writer (no global info): the primary is the writer.
                        let own_writes = g.as_ref().and_then(|g| g.writer()).is_none_or(|w| w == cluster.arn);
                        if own_writes {
                            members.insert(0, peer);
                        } else {
                            members.push(peer);
                        }
                    }
                    let mut mine = None;
                    for (rds, member, region) in members {
                        ctx.check_cancelled()?;
                        let c = upgrade_member(rds, member, region, want).await?;
                        if member == id {
                            mine = Some(c);
                        }
                    }
                    mine.ok_or_else(|| ComponentError::invalid(id, r, "cluster not upgraded"))
                })
                .await
            }
            VersionChange::Major if self.is_primary() => {
                ctx.update(&keys::CLUSTER, || async {
                    let rds = self.rds.as_ref();
                    let g = retry(|| rds.describe_global_cluster(global_id))
                        .await
                        .at(global_id, r)?
                        .ok_or_else(|| ComponentError::invalid(global_id, r, "global cluster not found; cannot upgrade its engine"))?;
                    // A resumed run finds the upgrade already asked for: it only waits.
                    if g.engine_version != want {
                        tracing::info!(global_cluster = %global_id, from = %running, to = %want, "major engine upgrade of the global database");
                        retry_if(|| rds.modify_global_cluster_engine_version(global_id, want), |e| {
                            e.is_code("InvalidGlobalClusterStateFault") || e.is_code("InvalidDBClusterStateFault")
                        })
                        .await
                        .at(global_id, r)?;
                    }
                    poll_until(global_id, r, "global cluster engine upgrade", WAIT, || async {
                        match rds.describe_global_cluster(global_id).await? {
                            Some(g) if g.status == "available" && g.engine_version == want => Ok(Poll::Ready(())),
                            Some(g) => Ok(Poll::Pending(format!("{} at {}", g.status, g.engine_version))),
                            None => Ok(Poll::Pending("not visible".into())),
                        }
                    })
                    .await?;
                    wait_engine_version(rds, id, r, want).await
                })
                .await
            }
            VersionChange::Major => {
                // The primary component upgrades the whole global database; this member waits
                // for it, unless nobody asked for it.
                let g = retry(|| self.rds.describe_global_cluster(global_id)).await.at(global_id, r)?;
                if g.is_some_and(|g| g.engine_version != want) {
                    return Err(ComponentError::invalid(
                        id,
                        r,
                        format!("a major engine upgrade ({running} to {want}) goes through the global cluster {global_id}, which aurora-primary upgrades: apply aurora-primary first"),
                    ));
                }
                wait_engine_version(self.rds.as_ref(), id, r, want).await
            }
        }
    }

    // ---- instance ----

    /// The cluster's instance, [`Rule::Name`]: its id carries the stack's suffix.
    /// `DBInstanceAlreadyExists` (a lost answer) makes the core look it up and adopt it.
    async fn ensure_instance(&self, ctx: &Ctx) -> Result<InstanceInfo, ComponentError> {
        let (rds, id, r, cluster) = (&self.rds, self.instance_id.as_str(), self.region.as_str(), self.cluster_id.as_str());
        if retry(|| rds.describe_instance(id)).await.at(id, r)?.is_some_and(|i| i.status == "deleting") {
            self.wait_instance_gone().await?;
        }
        let tags = self.tags(id);
        let tags = &tags;
        let i = ctx
            .ensure::<InstanceInfo>(&keys::INSTANCE, id, Rule::Name)
            .find_one(move |_recorded| async move { Ok(rds.describe_instance(id).await?.filter(|i| i.status != "deleting")) })
            .create(move |_token| async move {
                tracing::info!(instance = %id, region = %r, "creating DB instance");
                until_accepted(
                    SETTLE_WAIT,
                    || rds.create_instance(id, cluster, INSTANCE_CLASS, ENGINE, tags.clone()),
                    |e| e.is_code("InvalidDBClusterStateFault"),
                )
                .await
            })
            .id(|i| i.arn.clone())
            .outcome()
            .await?;
        // A create's answer is not yet what a describe shows: wait on the describe.
        if i.how != How::Created && i.value.status == "available" {
            return Ok(i.value);
        }
        poll_until(id, r, "instance available", WAIT, || async {
            match rds.describe_instance(id).await? {
                Some(i) if i.status == "available" => Ok(Poll::Ready(i)),
                Some(i) => Ok(Poll::Pending(i.status)),
                None => Ok(Poll::Pending("not visible yet".into())),
            }
        })
        .await
    }

    async fn wait_instance_gone(&self) -> Result<(), ComponentError> {
        let id = &self.instance_id;
        poll_until(id, &self.region, "instance deleted", WAIT, || async {
            match self.rds.describe_instance(id).await? {
                None => Ok(Poll::Ready(())),
                Some(i) => Ok(Poll::Pending(i.status)),
            }
        })
        .await
    }

    // ---- destroy steps ----

    async fn delete_instance(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (rds, id, r) = (&self.rds, self.instance_id.as_str(), self.region.as_str());
        let live = retry(|| rds.describe_instance(id)).await.at(id, r)?;
        let to_delete: Vec<String> = live.iter().filter(|i| i.status != "deleting").map(|i| i.arn.clone()).collect();
        ctx.delete(
            &keys::INSTANCE,
            id,
            move |_recorded| {
                let ids = to_delete.clone();
                async move { Ok(ids) }
            },
            |_| async move {
                tracing::info!(instance = %id, region = %r, "deleting DB instance");
                until_accepted(SETTLE_WAIT, || rds.delete_instance(id), |e| {
                    e.is_code("InvalidDBInstanceState") || e.is_code("InvalidDBClusterStateFault")
                })
                .await
            },
        )
        .await?;
        if live.is_some() {
            self.wait_instance_gone().await?;
        }
        Ok(())
    }

    /// Detaches this cluster from the global cluster and waits until it is no longer a member.
    async fn detach_from_global(&self, cluster: &ClusterInfo) -> Result<(), ComponentError> {
        let gid = &self.global_id;
        let Some(g) = retry(|| self.rds.describe_global_cluster(gid))
            .await
            .at(gid, &self.region)?
        else {
            return Ok(());
        };
        let Some(member) = g.member(&cluster.arn) else {
            return Ok(());
        };
        if member.is_writer && !self.is_primary() {
            // After a switchover the secondary is the writer: hand the role back first.
            if let Some(other) = g.members.iter().find(|m| m.cluster_arn != cluster.arn) {
                tracing::info!(global_cluster = %gid, to = %other.cluster_arn, "secondary is the writer; switching over back before removing it");
                switchover(self.rds.as_ref(), gid, &other.cluster_arn, &self.region).await?;
            }
        }
        tracing::info!(cluster = %cluster.id, region = %self.region, global_cluster = %gid, "removing cluster from the global cluster");
        ignore_not_found(
            retry_if(
                || self.rds.remove_from_global_cluster(gid, &cluster.arn),
                |e| {
                    e.is_code("InvalidGlobalClusterStateFault")
                        || e.is_code("InvalidDBClusterStateFault")
                },
            )
            .await,
        )
        .at(&cluster.id, &self.region)?;
        poll_until(
            &cluster.id,
            &self.region,
            "removal from the global cluster",
            WAIT,
            || async {
                match self.rds.describe_global_cluster(gid).await? {
                    Some(g) if g.member(&cluster.arn).is_some() => {
                        Ok(Poll::Pending("still a member".into()))
                    }
                    _ => Ok(Poll::Ready(())),
                }
            },
        )
        .await
    }

    async fn delete_cluster(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (rds, id, r) = (&self.rds, self.cluster_id.as_str(), self.region.as_str());
        let live = retry(|| rds.describe_cluster(id)).await.at(id, r)?;
        let mut to_delete = Vec::new();
        if let Some(c) = live.as_ref().filter(|c| c.status != "deleting") {
            self.detach_from_global(c).await?;
            ctx.check_cancelled()?;
            to_delete.push(c.arn.clone());
        }
        ctx.delete(
            &keys::CLUSTER,
            id,
            move |_recorded| {
                let ids = to_delete.clone();
                async move { Ok(ids) }
            },
            |_| async move {
                tracing::info!(cluster = %id, region = %r, "deleting DB cluster (skip final snapshot)");
                // The cluster refuses deletion while an instance or the detach is still settling.
                until_accepted(WAIT, || rds.delete_cluster(id), |e| e.is_code("InvalidDBClusterStateFault")).await
            },
        )
        .await?;
        if live.is_some() {
            self.wait_cluster_gone().await?;
        }
        Ok(())
    }

    async fn delete_global(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (rds, gid, r) = (&self.rds, self.global_id.as_str(), self.region.as_str());
        let live = retry(|| rds.describe_global_cluster(gid)).await.at(gid, r)?;
        let to_delete: Vec<String> = live.iter().map(|g| g.arn.clone()).collect();
        ctx.delete(
            &keys::GLOBAL,
            gid,
            move |_recorded| {
                let ids = to_delete.clone();
                async move { Ok(ids) }
            },
            |_| async move {
                tracing::info!(global_cluster = %gid, region = %r, "deleting global cluster");
                until_accepted(GLOBAL_DELETE_WAIT, || rds.delete_global_cluster(gid), |e| {
                    e.is_code("InvalidGlobalClusterStateFault") || e.message.contains("is not empty")
                })
                .await
            },
        )
        .await?;
        if live.is_some() {
            poll_until(gid, r, "global cluster deleted", WAIT, || async {
                match rds.describe_global_cluster(gid).await? {
                    None => Ok(Poll::Ready(())),
                    Some(g) => Ok(Poll::Pending(g.status)),
                }
            })
            .await?;
        }
        Ok(())
    }

    async fn delete_subnet_group(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (rds, name, r) = (&self.rds, self.cluster_id.as_str(), self.region.as_str());
        let live = retry(|| rds.describe_subnet_group(name)).await.at(name, r)?;
        let exists = live.is_some();
        ctx.delete(
            &keys::SUBNET_GROUP,
            name,
            move |_recorded| async move { Ok(if exists { vec![name.to_string()] } else { Vec::new() }) },
            |_| async move {
                tracing::info!(subnet_group = %name, region = %r, "deleting DB subnet group");
                // Still "in use" for a moment after the cluster is gone.
                until_accepted(SETTLE_WAIT, || rds.delete_subnet_group(name), |e| e.is_code("InvalidDBSubnetGroupStateFault")).await
            },
        )
        .await?;
        Ok(())
    }

    async fn delete_password(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let param = password_parameter(&self.suffix);
        let store = self.password_store()?;
        let name = param.as_str();
        ctx.delete(
            &keys::PASSWORD,
            name,
            move |_recorded| async move { Ok(vec![name.to_string()]) },
            |_| async move { store.delete(name).await },
        )
        .await?;
        Ok(())
    }

    /// The global writer endpoint: `known` when set (the primary's describe of the global
    /// cluster, or the secondary's input from the primary), else read through this
    /// component's region until RDS publishes it (bounded by [`ENDPOINT_WAIT`]).
    async fn global_writer_endpoint(&self, global_id: &str, known: String) -> Result<String, ComponentError> {
        if !known.is_empty() {
            return Ok(known);
        }
        poll_until(global_id, &self.region, "global writer endpoint", ENDPOINT_WAIT, || async {
            match self.rds.describe_global_cluster(global_id).await? {
                Some(g) if !g.endpoint.is_empty() => Ok(Poll::Ready(g.endpoint)),
                Some(_) => Ok(Poll::Pending("no writer endpoint yet".into())),
                None => Ok(Poll::Pending("global cluster not visible yet".into())),
            }
        })
        .await
    }

    fn outputs_of(&self, cluster: &ClusterInfo, global_id: &str, global_writer: &str) -> Outputs {
        to_outputs(&AuroraOutputs {
            global_cluster_id: global_id.to_string(),
            cluster_id: cluster.id.clone(),
            cluster_arn: cluster.arn.clone(),
            writer_endpoint: cluster.endpoint.clone(),
            reader_endpoint: cluster.reader_endpoint.clone(),
            instance_id: self.instance_id.clone(),
            port: if cluster.port == 0 {
                PORT
            } else {
                cluster.port
            },
            password_parameter: self.is_primary().then(|| password_parameter(&self.suffix)),
            global_writer_endpoint: global_writer.to_string(),
        })
    }
}

#[async_trait]
impl Component for AuroraComponent {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "aurora"
    }
    fn placement(&self) -> Placement {
        self.placement
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        match self.placement {
            Placement::Secondary => vec![
                ids::aurora(Placement::Primary),
                ids::network(Placement::Secondary),
            ],
            _ => vec![ids::network(Placement::Primary)],
        }
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::AuroraOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // The cluster takes minutes and the Serverless v2 instance most of the time. AWS
        // documents no figure (AWS-NOTES.md: "10-20 min each, unverified"); terraform-provider-
        // aws acceptance runs take ~1.5-4 min for a cluster alone, ~18 min for a cluster and an
        // instance, ~28 min for a cross-region replica pair, each including the destroy
        // (PRs #12867, #40333). The secondary attaches to the global storage and is slower.
        Duration::from_secs(if self.is_primary() { 1200 } else { 1500 })
    }
    fn holds_data(&self) -> Option<String> {
        Some(if self.is_primary() {
            format!("the databases of Aurora cluster {} (global database {})", self.cluster_id, self.global_id)
        } else {
            format!("the databases of Aurora cluster {} (the global database's copy in {}; its writer after a failover)", self.cluster_id, self.region)
        })
    }
    async fn data_summary(&self, _ctx: &Ctx) -> Result<Option<String>, ComponentError> {
        let id = self.cluster_id.as_str();
        let c = retry(|| self.rds.describe_cluster(id)).await.at(id, &self.region)?;
        Ok(Some(match c {
            None => format!("cluster {id} does not exist: nothing to delete"),
            Some(c) => format!(
                "cluster {id} ({ENGINE} {}, {}) and every database in it, with NO final snapshot and its automated backups",
                c.engine_version, c.status
            ),
        }))
    }
    fn desired(&self) -> Desired {
        // engine_version is updatable: a new version is an in-place upgrade (minor per
        // member, major through the global cluster), never a re-creation. State recorded when
        // it forced replacement plans an update (`planner::retired_keys`).
        Desired::new(
            json!({
                "global_cluster_id": self.global_id,
                "cluster_id": self.cluster_id,
                "instance_id": self.instance_id,
                "engine": ENGINE,
                "instance_class": INSTANCE_CLASS,
                "port": PORT,
                "region": self.region,
                "master_username": self.is_primary().then_some(MASTER_USERNAME),
                "kms_key_id": (!self.is_primary()).then_some(SECONDARY_KMS_KEY),
            }),
            // "publishes": what the outputs carry beyond the cluster's own endpoints (added
            // with the global writer endpoint: a stack applied before re-applies once).
            json!({
                "engine_version": self.db.engine_version,
                "min_capacity": self.db.min_capacity,
                "max_capacity": self.db.max_capacity,
                "publishes": ["global_writer_endpoint"],
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let network: NetworkOutputs = ctx.input(&ids::network(self.placement))?;
        let (global_id, known_endpoint) = if self.is_primary() {
            let g = self.ensure_global(ctx).await?;
            (g.id, g.endpoint)
        } else {
            let primary: AuroraOutputs = ctx.input(&ids::aurora(Placement::Primary))?;
            (primary.global_cluster_id, primary.global_writer_endpoint)
        };
        ctx.check_cancelled()?;
        let group = self
            .ensure_subnet_group(ctx, &network.private_subnet_ids)
            .await?;
        ctx.check_cancelled()?;
        let cluster = self
            .ensure_cluster(ctx, &global_id, &group.name, &network.db_security_group_id)
            .await?;
        ctx.check_cancelled()?;
        let cluster = self.ensure_engine_version(ctx, cluster, &global_id).await?;
        ctx.check_cancelled()?;
        self.ensure_instance(ctx).await?;
        let global_writer = self.global_writer_endpoint(&global_id, known_endpoint).await?;
        tracing::info!(cluster = %cluster.id, endpoint = %cluster.endpoint, global_writer = %global_writer, "Aurora cluster ready");
        Ok(self.outputs_of(&cluster, &global_id, &global_writer))
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        self.delete_instance(ctx).await?;
        ctx.check_cancelled()?;
        self.delete_cluster(ctx).await?;
        ctx.check_cancelled()?;
        if self.is_primary() {
            self.delete_global(ctx).await?;
        }
        self.delete_subnet_group(ctx).await?;
        if self.is_primary() {
            self.delete_password(ctx).await?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(component = %self.id, region = %self.region))]
    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        let id = &self.cluster_id;
        let Some(c) = retry(|| self.rds.describe_cluster(id))
            .await
            .at(id, &self.region)?
        else {
            return Ok(Drift::Missing {
                details: vec![format!("cluster {id} not found in {}", self.region)],
            });
        };
        let mut details = Vec::new();
        if c.status != "available" {
            details.push(format!("cluster {id} is {}", c.status));
        }
        if c.global_cluster_id.as_deref() != Some(self.global_id.as_str()) {
            details.push(format!(
                "cluster {id} is not a member of {}",
                self.global_id
            ));
        }
        if (c.min_capacity, c.max_capacity)
            != (Some(self.db.min_capacity), Some(self.db.max_capacity))
        {
            details.push(format!(
                "scaling {:?}-{:?} ACU, want {}-{}",
                c.min_capacity, c.max_capacity, self.db.min_capacity, self.db.max_capacity
            ));
        }
        if !c.storage_encrypted {
            details.push(format!("cluster {id} storage is not encrypted"));
        }
        if c.deletion_protection {
            details.push(format!("cluster {id} has deletion protection on"));
        }
        let inst = &self.instance_id;
        match retry(|| self.rds.describe_instance(inst))
            .await
            .at(inst, &self.region)?
        {
            None => details.push(format!("instance {inst} not found")),
            Some(i) if i.status != "available" => {
                details.push(format!("instance {inst} is {}", i.status))
            }
            Some(_) => {}
        }
        if retry(|| self.rds.describe_subnet_group(id))
            .await
            .at(id, &self.region)?
            .is_none()
        {
            details.push(format!("DB subnet group {id} not found"));
        }
        if self.is_primary() {
            let gid = &self.global_id;
            match retry(|| self.rds.describe_global_cluster(gid))
                .await
                .at(gid, &self.region)?
            {
                None => details.push(format!("global cluster {gid} not found")),
                Some(g) if g.member(&c.arn).is_none() => {
                    details.push(format!("{id} is not listed in {gid}"))
                }
                Some(_) => {}
            }
            let param = password_parameter(&self.suffix);
            let store = self.password_store()?;
            match retry(|| store.parameter_type(&param))
                .await
                .at(&param, &self.region)?
            {
                Some(t) if t == "SecureString" => {}
                Some(t) => details.push(format!("{param} is a {t}, not a SecureString")),
                None => details.push(format!("{param} not found")),
            }
        }
        Ok(if details.is_empty() {
            Drift::InSync
        } else {
            Drift::Drifted { details }
        })
    }
}

/// Waits until cluster `id` is `available` at engine version `want`.
async fn wait_engine_version(rds: &dyn RdsApi, id: &str, region: &str, want: &str) -> Result<ClusterInfo, ComponentError> {
    poll_until(id, region, "engine upgrade", WAIT, || async {
        match rds.describe_cluster(id).await? {
            Some(c) if c.status == "available" && c.engine_version == want => Ok(Poll::Ready(c)),
            Some(c) => Ok(Poll::Pending(format!("{} at {}", c.status, c.engine_version))),
            None => Ok(Poll::Pending("not visible".into())),
        }
    })
    .await
}

/// The in-place minor upgrade of one member cluster: ModifyDBCluster EngineVersion (applied
/// immediately), then wait. A member already at `want` is left alone (a resumed run).
async fn upgrade_member(rds: &dyn RdsApi, id: &str, region: &str, want: &str) -> Result<ClusterInfo, ComponentError> {
    let c = retry(|| rds.describe_cluster(id))
        .await
        .at(id, region)?
        .ok_or_else(|| ComponentError::invalid(id, region, "cluster not found; cannot upgrade its engine"))?;
    if c.engine_version == want && c.status == "available" {
        return Ok(c);
    }
    if c.engine_version != want {
        match version_change(&c.engine_version, want).map_err(|m| ComponentError::invalid(id, region, m))? {
            VersionChange::Minor => {}
            other => {
                return Err(ComponentError::invalid(
                    id,
                    region,
                    format!("runs {} and cannot move to {want} by a minor upgrade ({other:?})", c.engine_version),
                ))
            }
        }
        tracing::info!(cluster = %id, region = %region, from = %c.engine_version, to = %want, "minor engine upgrade");
        retry_if(|| rds.modify_cluster_engine_version(id, want), |e| e.is_code("InvalidDBClusterStateFault"))
            .await
            .at(id, region)?;
    }
    wait_engine_version(rds, id, region, want).await
}

// ---- failover operations ----

fn in_progress(g: &GlobalClusterInfo) -> Option<String> {
    g.failover
        .as_ref()
        .filter(|f| {
            matches!(
                f.status.as_str(),
                "pending" | "failing-over" | "switching-over" | "cancelling"
            )
        })
        .map(|f| format!("failover state {}", f.status))
}

async fn change_writer(
    rds: &dyn RdsApi,
    global_id: &str,
    target_cluster_arn: &str,
    region: &str,
    planned: bool,
) -> Result<(), ComponentError> {
    let g = retry(|| rds.describe_global_cluster(global_id))
        .await
        .at(global_id, region)?
        .ok_or_else(|| ComponentError::invalid(global_id, region, "global cluster not found"))?;
    match g.member(target_cluster_arn) {
        None => {
            return Err(ComponentError::invalid(
                global_id,
                region,
                format!("{target_cluster_arn} is not a member of the global cluster"),
            ))
        }
        Some(m) if m.is_writer && in_progress(&g).is_none() => {
            tracing::info!(
                global_cluster = global_id,
                writer = target_cluster_arn,
                "already the writer; nothing to do"
            );
            return Ok(());
        }
        Some(_) => {}
    }
    if in_progress(&g).is_none() {
        tracing::info!(
            global_cluster = global_id,
            target = target_cluster_arn,
            planned,
            region,
            "starting global cluster {}",
            if planned { "switchover" } else { "failover" }
        );
        let r = if planned {
            retry(|| rds.switchover_global_cluster(global_id, target_cluster_arn)).await
        } else {
            retry(|| rds.failover_global_cluster(global_id, target_cluster_arn)).await
        };
        r.at(global_id, region)?;
    }
    poll_until(
        global_id,
        region,
        "writer role to move",
        FAILOVER_WAIT,
        || async {
            let Some(g) = rds.describe_global_cluster(global_id).await? else {
                return Err(AwsError::not_found(
                    "GlobalClusterNotFoundFault",
                    format!("{global_id} disappeared"),
                ));
            };
            if let Some(state) = in_progress(&g) {
                return Ok(Poll::Pending(state));
            }
            match g.member(target_cluster_arn) {
                Some(m) if m.is_writer => Ok(Poll::Ready(())),
                _ => Ok(Poll::Pending("target not yet the writer".into())),
            }
        },
    )
    .await
}

/// Planned switchover (SwitchoverGlobalCluster, no data loss) of `global_id` to
/// `target_cluster_arn`, polling until the target is the writer. A no-op when it already is.
pub async fn switchover(
    rds: &dyn RdsApi,
    global_id: &str,
    target_cluster_arn: &str,
    region: &str,
) -> Result<(), ComponentError> {
    change_writer(rds, global_id, target_cluster_arn, region, true).await
}

/// Unplanned failover (FailoverGlobalCluster, AllowDataLoss=true) of `global_id` to
/// `target_cluster_arn`, polling until the target is the writer. Call it with a client of
/// the target's region (the old primary region may be down).
pub async fn failover(
    rds: &dyn RdsApi,
    global_id: &str,
    target_cluster_arn: &str,
    region: &str,
) -> Result<(), ComponentError> {
    change_writer(rds, global_id, target_cluster_arn, region, false).await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;

    const P_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-dev";
    const S_ARN: &str = "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-dev";
    const G_ARN: &str = "arn:aws:rds::123456789012:global-cluster:aurora-global-dev";
    const GLOBAL_ENDPOINT: &str = "aurora-global-dev.global-abcdef123456.global.rds.amazonaws.com";

    fn cfg() -> Config {
        Config::example("dev")
    }

    fn net(prefix: &str) -> NetworkOutputs {
        NetworkOutputs {
            vpc_id: format!("vpc-{prefix}"),
            cidr: "10.0.0.0/16".into(),
            azs: vec!["a".into(), "b".into()],
            public_subnet_ids: vec![],
            private_subnet_ids: vec![format!("subnet-{prefix}1"), format!("subnet-{prefix}2")],
            internet_gateway_id: "igw".into(),
            public_route_table_id: "rtb".into(),
            private_route_table_ids: vec![],
            db_security_group_id: format!("sg-{prefix}db"),
            lb_security_group_id: "sg-lb".into(),
        }
    }

    fn global(members: &[(&str, bool)]) -> GlobalClusterInfo {
        GlobalClusterInfo {
            id: "aurora-global-dev".into(),
            arn: G_ARN.into(),
            status: "available".into(),
            engine: ENGINE.into(),
            engine_version: "16.6".into(),
            storage_encrypted: true,
            members: members
                .iter()
                .map(|(a, w)| GlobalMember {
                    cluster_arn: a.to_string(),
                    is_writer: *w,
                })
                .collect(),
            failover: None,
            endpoint: GLOBAL_ENDPOINT.into(),
        }
    }

    fn cluster(p: Placement, status: &str) -> ClusterInfo {
        let (id, arn) = match p {
            Placement::Secondary => ("aurora-secondary-dev", S_ARN),
            _ => ("aurora-primary-dev", P_ARN),
        };
        ClusterInfo {
            id: id.into(),
            arn: arn.into(),
            status: status.into(),
            endpoint: format!("{id}.cluster-x.rds.amazonaws.com"),
            reader_endpoint: format!("{id}.cluster-ro-x.rds.amazonaws.com"),
            port: 5432,
            engine: ENGINE.into(),
            engine_version: "16.6".into(),
            global_cluster_id: Some("aurora-global-dev".into()),
            storage_encrypted: true,
            deletion_protection: false,
            min_capacity: Some(0.5),
            max_capacity: Some(4.0),
            instance_ids: vec![format!("{id}-1")],
            tags: naming::tags("dev", id),
        }
    }

    fn instance(p: Placement, status: &str) -> InstanceInfo {
        InstanceInfo {
            id: instance_id(p, "dev"),
            arn: format!("arn:aws:rds:x:1:db:{}", instance_id(p, "dev")),
            status: status.into(),
            class: INSTANCE_CLASS.into(),
            cluster_id: Some(cluster_id(p, "dev")),
        }
    }

    fn group(p: Placement) -> SubnetGroupInfo {
        let prefix = if p == Placement::Primary { "p" } else { "s" };
        SubnetGroupInfo {
            name: cluster_id(p, "dev"),
            arn: "arn:subgrp".into(),
            subnet_ids: net(prefix).private_subnet_ids,
        }
    }

    fn primary_outputs() -> AuroraOutputs {
        AuroraOutputs {
            global_cluster_id: "aurora-global-dev".into(),
            cluster_id: "aurora-primary-dev".into(),
            cluster_arn: P_ARN.into(),
            writer_endpoint: "w".into(),
            reader_endpoint: "r".into(),
            instance_id: "aurora-primary-dev-1".into(),
            port: 5432,
            password_parameter: Some(password_parameter("dev")),
            global_writer_endpoint: GLOBAL_ENDPOINT.into(),
        }
    }

    fn primary(rds: MockRdsApi, pw: MockPasswordStore) -> AuroraComponent {
        AuroraComponent::primary(&cfg(), Arc::new(rds), Arc::new(pw))
    }

    fn secondary(rds: MockRdsApi) -> AuroraComponent {
        AuroraComponent::secondary(&cfg(), Arc::new(rds))
    }

    fn ctx_primary() -> Ctx {
        Ctx::standalone("aurora-primary", "us-east-1").with_input("network-primary", &net("p"))
    }

    fn ctx_secondary() -> Ctx {
        Ctx::standalone("aurora-secondary", "us-east-2")
            .with_input("network-secondary", &net("s"))
            .with_input("aurora-primary", &primary_outputs())
    }

    #[test]
    fn names_ids_and_dependencies() {
        assert_eq!(global_cluster_id("dev"), "aurora-global-dev");
        assert_eq!(
            cluster_id(Placement::Secondary, "dev"),
            "aurora-secondary-dev"
        );
        assert_eq!(
            instance_id(Placement::Primary, "dev"),
            "aurora-primary-dev-1"
        );
        assert_eq!(password_parameter("dev"), "/tandem/dev/db/master-password");
        let p = primary(MockRdsApi::new(), MockPasswordStore::new());
        let s = secondary(MockRdsApi::new());
        assert_eq!((p.id(), p.region()), ("aurora-primary", "us-east-1"));
        assert_eq!((s.id(), s.region()), ("aurora-secondary", "us-east-2"));
        assert_eq!(p.dependencies(), vec!["network-primary".to_string()]);
        assert_eq!(
            s.dependencies(),
            vec![
                "aurora-primary".to_string(),
                "network-secondary".to_string()
            ]
        );
        assert_eq!(p.output_type().short_name(), "AuroraOutputs");
        p.output_type().check(&to_outputs(&primary_outputs())).expect("declared outputs");
    }

    #[test]
    fn generated_passwords_are_long_random_and_allowed() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert_ne!(a, b);
        for p in [&a, &b] {
            assert!(!p.contains(['/', '@', '"', ' ']), "{p}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn primary_create_order_and_password_only_in_ssm() {
        let mut rds = MockRdsApi::new();
        let mut pw = MockPasswordStore::new();
        let mut seq = Sequence::new();
        let captured = Arc::new(Mutex::new(String::new()));
        // The engine check, then the protocol's lookup.
        rds.expect_describe_global_cluster()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_create_global_cluster()
            .withf(|id, engine, version| {
                id == "aurora-global-dev" && engine == ENGINE && version == "16.6"
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(global(&[])));
        rds.expect_describe_subnet_group()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_create_subnet_group()
            .withf(|name, subnets, tags| {
                name == "aurora-primary-dev"
                    && subnets == &vec!["subnet-p1".to_string(), "subnet-p2".to_string()]
                    && tags.contains(&("tandem:stack".into(), "dev".into()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(group(Placement::Primary)));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        let cap = captured.clone();
        pw.expect_put_secure()
            .withf(|name, _, tags| {
                name == "/tandem/dev/db/master-password"
                    && tags.contains(&("tandem:stack".into(), "dev".into()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, v, _| {
                *cap.lock().unwrap() = v.to_string();
                Ok(())
            });
        // The protocol's lookup before the create.
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        let cap = captured.clone();
        rds.expect_create_cluster()
            .withf(move |s| {
                s.id == "aurora-primary-dev"
                    && s.global_cluster_id == "aurora-global-dev"
                    && s.engine == ENGINE
                    && s.subnet_group == "aurora-primary-dev"
                    && s.security_group_ids == vec!["sg-pdb".to_string()]
                    && (s.min_capacity, s.max_capacity) == (0.5, 4.0)
                    && s.port == 5432
                    && s.kms_key_id.is_none()
                    && s.master.as_ref().is_some_and(|m| {
                        m.username == "tandem" && m.password == *cap.lock().unwrap()
                    })
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(cluster(Placement::Primary, "creating")));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cluster(Placement::Primary, "creating"))));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        rds.expect_describe_instance()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_create_instance()
            .withf(|id, cluster, class, engine, _| {
                id == "aurora-primary-dev-1"
                    && cluster == "aurora-primary-dev"
                    && class == "db.serverless"
                    && engine == ENGINE
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _, _| Ok(instance(Placement::Primary, "creating")));
        rds.expect_describe_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(instance(Placement::Primary, "available"))));

        let c = primary(rds, pw);
        let ctx = ctx_primary();
        let out: AuroraOutputs = tandem_core::from_outputs(&c.apply(&ctx).await.unwrap()).unwrap();
        assert_eq!(out.cluster_arn, P_ARN);
        assert_eq!(
            out.writer_endpoint,
            "aurora-primary-dev.cluster-x.rds.amazonaws.com"
        );
        assert_eq!(
            out.password_parameter.as_deref(),
            Some("/tandem/dev/db/master-password")
        );
        let journal = ctx.journal_entries().await;
        assert_eq!(
            journal
                .get("master_password")
                .and_then(|e| e.id.clone())
                .as_deref(),
            Some("/tandem/dev/db/master-password")
        );
        assert!(
            journal.contains_key("global_cluster")
                && journal.contains_key("cluster")
                && journal.contains_key("instance")
        );
        let password = captured.lock().unwrap().clone();
        assert_eq!(password.len(), PASSWORD_LEN);
        let everything = format!("{:?} {:?} {:?}", to_outputs(&out), c.desired(), journal);
        assert!(
            !everything.contains(&password),
            "the master password leaked"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn secondary_create_has_no_credentials_and_uses_regional_kms_key() {
        let mut rds = MockRdsApi::new();
        let mut seq = Sequence::new();
        rds.expect_describe_subnet_group()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_create_subnet_group()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(group(Placement::Secondary)));
        rds.expect_describe_cluster()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_create_cluster()
            .withf(|s| {
                s.id == "aurora-secondary-dev"
                    && s.global_cluster_id == "aurora-global-dev"
                    && s.master.is_none()
                    && s.kms_key_id.as_deref() == Some("alias/aws/rds")
                    && s.security_group_ids == vec!["sg-sdb".to_string()]
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(cluster(Placement::Secondary, "creating")));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cluster(Placement::Secondary, "available"))));
        rds.expect_describe_instance()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_create_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _, _| Ok(instance(Placement::Secondary, "available")));
        rds.expect_describe_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(instance(Placement::Secondary, "available"))));
        let out: AuroraOutputs =
            tandem_core::from_outputs(&secondary(rds).apply(&ctx_secondary()).await.unwrap())
                .unwrap();
        assert_eq!(out.cluster_arn, S_ARN);
        assert_eq!(out.global_cluster_id, "aurora-global-dev");
        assert_eq!(out.password_parameter, None);
    }

    #[tokio::test(start_paused = true)]
    async fn apply_over_existing_resources_makes_no_mutating_call() {
        // No create/modify/put expectation: any mutating call would panic.
        let mut rds = MockRdsApi::new();
        rds.expect_describe_global_cluster()
            .returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        rds.expect_describe_subnet_group()
            .returning(|_| Ok(Some(group(Placement::Primary))));
        rds.expect_describe_cluster()
            .returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        rds.expect_describe_instance()
            .returning(|_| Ok(Some(instance(Placement::Primary, "available"))));
        let prior = ComponentState::new("aurora", Placement::Primary, "us-east-1")
            .with_resource("global_cluster", G_ARN)
            .with_resource("subnet_group", "aurora-primary-dev")
            .with_resource("cluster", P_ARN)
            .with_resource("instance", &instance(Placement::Primary, "available").arn);
        let ctx = ctx_primary().with_prior(prior);
        let out: AuroraOutputs = tandem_core::from_outputs(
            &primary(rds, MockPasswordStore::new())
                .apply(&ctx)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(out.cluster_id, "aurora-primary-dev");
    }

    /// Both regions' RDS after a failover (or switchover) to the secondary: the global
    /// cluster lists the secondary as the writer. Read-only expectations: any mutating call
    /// (create, modify, switchover, failover, remove) would panic.
    fn failed_over_region(p: Placement) -> MockRdsApi {
        let mut rds = MockRdsApi::new();
        rds.expect_describe_global_cluster()
            .returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        rds.expect_describe_subnet_group().returning(move |_| Ok(Some(group(p))));
        rds.expect_describe_cluster().returning(move |_| Ok(Some(cluster(p, "available"))));
        rds.expect_describe_instance().returning(move |_| Ok(Some(instance(p, "available"))));
        rds
    }

    fn prior_of(p: Placement) -> ComponentState {
        let (region, arn, global) = match p {
            Placement::Secondary => ("us-east-2", S_ARN, false),
            _ => ("us-east-1", P_ARN, true),
        };
        let st = ComponentState::new("aurora", p, region);
        let st = if global { st.with_resource("global_cluster", G_ARN).with_resource("master_password", &password_parameter("dev")) } else { st };
        st.with_resource("subnet_group", &cluster_id(p, "dev"))
            .with_resource("cluster", arn)
            .with_resource("instance", &instance(p, "available").arn)
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_failover_the_secondary_is_a_legitimate_writer() {
        let secure = || {
            let mut pw = MockPasswordStore::new();
            pw.expect_parameter_type().returning(|_| Ok(Some("SecureString".into())));
            pw
        };
        // read: both components in sync, whichever cluster writes.
        let p = primary(failed_over_region(Placement::Primary), secure());
        let s = secondary(failed_over_region(Placement::Secondary));
        let ctx_p = ctx_primary().with_prior(prior_of(Placement::Primary));
        let ctx_s = ctx_secondary().with_prior(prior_of(Placement::Secondary));
        assert_eq!(p.read(&ctx_p).await.unwrap(), Drift::InSync);
        assert_eq!(s.read(&ctx_s).await.unwrap(), Drift::InSync);
        // apply: no mutating call (the mocks have none), nothing journaled, roles untouched.
        let (before_p, before_s) = (ctx_p.journal_entries().await, ctx_s.journal_entries().await);
        let out_p: AuroraOutputs = tandem_core::from_outputs(&p.apply(&ctx_p).await.unwrap()).unwrap();
        let out_s: AuroraOutputs = tandem_core::from_outputs(&s.apply(&ctx_s).await.unwrap()).unwrap();
        assert_eq!(ctx_p.journal_entries().await, before_p);
        assert_eq!(ctx_s.journal_entries().await, before_s);
        // Each cluster keeps its own endpoints; both publish the global writer endpoint.
        assert_eq!((out_p.cluster_arn.as_str(), out_s.cluster_arn.as_str()), (P_ARN, S_ARN));
        assert_eq!(out_p.global_writer_endpoint, GLOBAL_ENDPOINT);
        assert_eq!(out_s.global_writer_endpoint, GLOBAL_ENDPOINT);
        // A second apply over the first's outputs is the same no-op.
        let ctx_s2 = ctx_secondary().with_input("aurora-primary", &out_p).with_prior(prior_of(Placement::Secondary));
        let again: AuroraOutputs = tandem_core::from_outputs(&s.apply(&ctx_s2).await.unwrap()).unwrap();
        assert_eq!(again, out_s);
        assert_eq!(ctx_s2.journal_entries().await, before_s);
    }

    #[tokio::test(start_paused = true)]
    async fn global_writer_endpoint_is_read_until_published() {
        // The global cluster answers without an endpoint at first (as right after its
        // creation); the primary reads it again until RDS publishes it.
        let mut rds = MockRdsApi::new();
        let calls = Arc::new(Mutex::new(0usize));
        let n = calls.clone();
        rds.expect_describe_global_cluster().returning(move |_| {
            let mut n = n.lock().unwrap();
            *n += 1;
            let mut g = global(&[(P_ARN, true)]);
            if *n <= 3 {
                g.endpoint.clear();
            }
            Ok(Some(g))
        });
        rds.expect_describe_subnet_group().returning(|_| Ok(Some(group(Placement::Primary))));
        rds.expect_describe_cluster().returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        rds.expect_describe_instance().returning(|_| Ok(Some(instance(Placement::Primary, "available"))));
        let ctx = ctx_primary().with_prior(prior_of(Placement::Primary));
        let out: AuroraOutputs =
            tandem_core::from_outputs(&primary(rds, MockPasswordStore::new()).apply(&ctx).await.unwrap()).unwrap();
        assert_eq!(out.global_writer_endpoint, GLOBAL_ENDPOINT);
        assert!(*calls.lock().unwrap() > 3);
        // The secondary takes it from the primary's outputs: no global cluster call.
        let mut rds = MockRdsApi::new();
        rds.expect_describe_subnet_group().returning(|_| Ok(Some(group(Placement::Secondary))));
        rds.expect_describe_cluster().returning(|_| Ok(Some(cluster(Placement::Secondary, "available"))));
        rds.expect_describe_instance().returning(|_| Ok(Some(instance(Placement::Secondary, "available"))));
        let out: AuroraOutputs = tandem_core::from_outputs(
            &secondary(rds).apply(&ctx_secondary().with_prior(prior_of(Placement::Secondary))).await.unwrap(),
        )
        .unwrap();
        assert_eq!(out.global_writer_endpoint, GLOBAL_ENDPOINT);
    }

    /// One region's RDS behind a mock: every create acts, then its answer is lost (a 500);
    /// sent again, it is answered "already exists", as RDS does.
    #[derive(Default, Clone)]
    struct LossyRds {
        global: Arc<Mutex<Option<GlobalClusterInfo>>>,
        group: Arc<Mutex<Option<SubnetGroupInfo>>>,
        cluster: Arc<Mutex<Option<ClusterInfo>>>,
        instance: Arc<Mutex<Option<InstanceInfo>>>,
        creates: Arc<Mutex<Vec<&'static str>>>,
    }

    impl LossyRds {
        fn mock(&self, p: Placement) -> MockRdsApi {
            fn act<T: Clone>(slot: &Mutex<Option<T>>, log: &Mutex<Vec<&'static str>>, what: &'static str, fault: &str, v: T) -> Result<T, AwsError> {
                let mut slot = slot.lock().unwrap();
                if slot.is_some() {
                    return Err(AwsError::other(fault, format!("{what} already exists")));
                }
                *slot = Some(v);
                log.lock().unwrap().push(what);
                Err(AwsError::new("InternalFailure", "answer lost", Some(500)))
            }
            let mut rds = MockRdsApi::new();
            let s = self.clone();
            rds.expect_describe_global_cluster().returning(move |_| Ok(s.global.lock().unwrap().clone()));
            let s = self.clone();
            rds.expect_create_global_cluster()
                .returning(move |_, _, _| act(&s.global, &s.creates, "global", "GlobalClusterAlreadyExistsFault", global(&[])));
            let s = self.clone();
            rds.expect_describe_subnet_group().returning(move |_| Ok(s.group.lock().unwrap().clone()));
            let s = self.clone();
            rds.expect_create_subnet_group()
                .returning(move |_, _, _| act(&s.group, &s.creates, "subnet_group", "DBSubnetGroupAlreadyExists", group(p)));
            let s = self.clone();
            rds.expect_describe_cluster().returning(move |_| Ok(s.cluster.lock().unwrap().clone()));
            let s = self.clone();
            rds.expect_create_cluster()
                .returning(move |_| act(&s.cluster, &s.creates, "cluster", "DBClusterAlreadyExistsFault", cluster(p, "available")));
            let s = self.clone();
            rds.expect_describe_instance().returning(move |_| Ok(s.instance.lock().unwrap().clone()));
            let s = self.clone();
            rds.expect_create_instance().returning(move |_, _, _, _, _| {
                act(&s.instance, &s.creates, "instance", "DBInstanceAlreadyExists", instance(p, "available"))
            });
            rds
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_end_with_one_of_each_resource_journaled() {
        let aws = LossyRds::default();
        let mut pw = MockPasswordStore::new();
        // Written once, before the only cluster create.
        pw.expect_put_secure().times(1).returning(|_, _, _| Ok(()));
        let ctx = ctx_primary();
        primary(aws.mock(Placement::Primary), pw).apply(&ctx).await.unwrap();
        assert_eq!(*aws.creates.lock().unwrap(), vec!["global", "subnet_group", "cluster", "instance"]);
        for (key, id) in [
            (&keys::GLOBAL, G_ARN.to_string()),
            (&keys::SUBNET_GROUP, "aurora-primary-dev".to_string()),
            (&keys::CLUSTER, P_ARN.to_string()),
            (&keys::INSTANCE, instance(Placement::Primary, "available").arn),
            (&keys::PASSWORD, password_parameter("dev")),
        ] {
            let e = ctx.entry(key).await.unwrap();
            assert_eq!((e.id.as_deref(), e.status), (Some(id.as_str()), tandem_core::state::ResourceStatus::Done), "{key}");
        }
        // Again over the healthy resources: nothing is created, no password is written.
        primary(aws.mock(Placement::Primary), MockPasswordStore::new()).apply(&ctx).await.unwrap();
        assert_eq!(aws.creates.lock().unwrap().len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_run_adopts_the_cluster_an_interrupted_create_made() {
        use tandem_core::state::ResourceStatus;
        let aws = LossyRds::default();
        // The previous run created subnet group and cluster and died before the cluster's
        // answer: its entry is a pending create.
        *aws.group.lock().unwrap() = Some(group(Placement::Secondary));
        *aws.cluster.lock().unwrap() = Some(cluster(Placement::Secondary, "available"));
        let prior = ComponentState::new("aurora", Placement::Secondary, "us-east-2").with_resource("subnet_group", "aurora-secondary-dev").with_pending_create("cluster", None);
        let ctx = ctx_secondary().with_prior(prior);
        secondary(aws.mock(Placement::Secondary)).apply(&ctx).await.unwrap();
        assert_eq!(*aws.creates.lock().unwrap(), vec!["instance"]);
        let e = ctx.entry(&keys::CLUSTER).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status), (Some(S_ARN), ResourceStatus::Done));
    }

    #[tokio::test(start_paused = true)]
    async fn changed_scaling_is_an_in_place_update() {
        let mut rds = MockRdsApi::new();
        rds.expect_describe_subnet_group()
            .returning(|_| Ok(Some(group(Placement::Secondary))));
        rds.expect_describe_cluster().returning(|_| {
            let mut c = cluster(Placement::Secondary, "available");
            c.max_capacity = Some(2.0);
            Ok(Some(c))
        });
        rds.expect_modify_cluster_scaling()
            .withf(|id, min, max| id == "aurora-secondary-dev" && (*min, *max) == (0.5, 4.0))
            .times(1)
            .returning(|_, _, _| Ok(()));
        rds.expect_describe_instance()
            .returning(|_| Ok(Some(instance(Placement::Secondary, "available"))));
        secondary(rds).apply(&ctx_secondary()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn secondary_destroy_order_detaches_before_deleting() {
        let mut rds = MockRdsApi::new();
        let mut seq = Sequence::new();
        rds.expect_describe_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(instance(Placement::Secondary, "available"))));
        rds.expect_delete_instance()
            .withf(|id| id == "aurora-secondary-dev-1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        rds.expect_describe_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(instance(Placement::Secondary, "deleting"))));
        rds.expect_describe_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cluster(Placement::Secondary, "available"))));
        rds.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        rds.expect_remove_from_global_cluster()
            .withf(|g, arn| g == "aurora-global-dev" && arn == S_ARN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        rds.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        rds.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, true)]))));
        rds.expect_delete_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Err(AwsError::other(
                    "InvalidDBClusterStateFault",
                    "cluster is busy",
                ))
            });
        rds.expect_delete_cluster()
            .withf(|id| id == "aurora-secondary-dev")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_describe_subnet_group()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(group(Placement::Secondary))));
        rds.expect_delete_subnet_group()
            .withf(|n| n == "aurora-secondary-dev")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        let prior = ComponentState::new("aurora", Placement::Secondary, "us-east-2").with_resource("cluster", S_ARN);
        let ctx = ctx_secondary().with_prior(prior);
        secondary(rds).destroy(&ctx).await.unwrap();
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn primary_destroy_order_global_retried_until_empty_and_not_found_is_success() {
        let mut rds = MockRdsApi::new();
        let mut pw = MockPasswordStore::new();
        let mut seq = Sequence::new();
        rds.expect_describe_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(instance(Placement::Primary, "available"))));
        // Deleted concurrently: NotFound is success.
        rds.expect_delete_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::not_found("DBInstanceNotFound", "gone")));
        rds.expect_describe_instance()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        rds.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, true)]))));
        rds.expect_remove_from_global_cluster()
            .withf(|_, arn| arn == P_ARN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        rds.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[]))));
        rds.expect_delete_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cluster(Placement::Primary, "deleting"))));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[]))));
        rds.expect_delete_global_cluster()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| {
                Err(AwsError::other(
                    "InvalidGlobalClusterStateFault",
                    "Global Cluster is not empty",
                ))
            });
        rds.expect_delete_global_cluster()
            .withf(|g| g == "aurora-global-dev")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        rds.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        rds.expect_describe_subnet_group()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        pw.expect_delete()
            .withf(|n| n == "/tandem/dev/db/master-password")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::not_found("ParameterNotFound", "gone")));
        primary(rds, pw).destroy(&ctx_primary()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn second_destroy_is_a_no_op() {
        let mut rds = MockRdsApi::new();
        rds.expect_describe_instance().returning(|_| Ok(None));
        rds.expect_describe_cluster().returning(|_| Ok(None));
        rds.expect_describe_subnet_group().returning(|_| Ok(None));
        secondary(rds).destroy(&ctx_secondary()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_retried_then_succeeds() {
        let mut rds = MockRdsApi::new();
        let mut seq = Sequence::new();
        rds.expect_describe_cluster()
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::throttling()));
        rds.expect_describe_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(cluster(Placement::Secondary, "available"))));
        rds.expect_describe_instance()
            .returning(|_| Ok(Some(instance(Placement::Secondary, "available"))));
        rds.expect_describe_subnet_group()
            .returning(|_| Ok(Some(group(Placement::Secondary))));
        assert_eq!(
            secondary(rds).read(&ctx_secondary()).await.unwrap(),
            Drift::InSync
        );
    }

    #[tokio::test(start_paused = true)]
    async fn errors_name_resource_and_region() {
        let mut rds = MockRdsApi::new();
        rds.expect_describe_subnet_group().returning(|_| Ok(None));
        rds.expect_create_subnet_group()
            .returning(|_, _, _| Err(AwsError::other("AccessDenied", "not allowed")));
        let err = secondary(rds)
            .apply(&ctx_secondary())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("aurora-secondary-dev")
                && err.contains("us-east-2")
                && err.contains("AccessDenied"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn read_reports_missing_and_drift() {
        let mut rds = MockRdsApi::new();
        rds.expect_describe_cluster()
            .times(1)
            .returning(|_| Ok(None));
        assert!(matches!(
            secondary(rds).read(&ctx_secondary()).await.unwrap(),
            Drift::Missing { .. }
        ));
        let mut rds = MockRdsApi::new();
        rds.expect_describe_cluster().returning(|_| {
            let mut c = cluster(Placement::Secondary, "available");
            c.global_cluster_id = None;
            Ok(Some(c))
        });
        rds.expect_describe_instance().returning(|_| Ok(None));
        rds.expect_describe_subnet_group()
            .returning(|_| Ok(Some(group(Placement::Secondary))));
        match secondary(rds).read(&ctx_secondary()).await.unwrap() {
            Drift::Drifted { details } => {
                assert!(
                    details.iter().any(|d| d.contains("not a member")),
                    "{details:?}"
                );
                assert!(
                    details.iter().any(|d| d.contains("instance")),
                    "{details:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failover_allows_data_loss_and_is_a_no_op_when_already_writer() {
        let mut s = MockRdsApi::new();
        let mut seq = Sequence::new();
        s.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        s.expect_failover_global_cluster()
            .withf(|_, t| t == S_ARN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        failover(&s, "aurora-global-dev", S_ARN, "us-east-2")
            .await
            .unwrap();
        // Already the writer: no call.
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster()
            .times(1)
            .returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        switchover(&s, "aurora-global-dev", S_ARN, "us-east-2")
            .await
            .unwrap();
    }


    // ---- data safety and engine upgrades ----

    fn at(mut c: ClusterInfo, version: &str) -> ClusterInfo {
        c.engine_version = version.into();
        c
    }

    fn global_at(members: &[(&str, bool)], status: &str, version: &str) -> GlobalClusterInfo {
        GlobalClusterInfo { status: status.into(), engine_version: version.into(), ..global(members) }
    }

    fn cfg_at(version: &str) -> Config {
        let mut c = cfg();
        c.database.engine_version = version.into();
        c
    }

    fn primary_with_peer(cfg: &Config, p: MockRdsApi, s: MockRdsApi) -> AuroraComponent {
        AuroraComponent::primary(cfg, Arc::new(p), Arc::new(MockPasswordStore::new())).with_secondary_client(cfg, Arc::new(s))
    }

    #[test]
    fn version_changes_are_minor_major_or_downgrades() {
        assert_eq!(version_change("16.6", "16.6"), Ok(VersionChange::Same));
        assert_eq!(version_change("16.6", "16.8"), Ok(VersionChange::Minor));
        assert_eq!(version_change("16.6", "16.10"), Ok(VersionChange::Minor), "numeric, not lexical");
        assert_eq!(version_change("16.6", "17.4"), Ok(VersionChange::Major));
        assert_eq!(version_change("9.6", "10.1"), Ok(VersionChange::Major));
        assert_eq!(version_change("16.8", "16.6"), Ok(VersionChange::Downgrade));
        assert_eq!(version_change("17.1", "16.8"), Ok(VersionChange::Downgrade));
        assert!(version_change("16.6", "latest").is_err_and(|e| e.contains("latest")));
    }

    #[test]
    fn engine_version_is_updatable_and_old_state_plans_an_update_not_a_replacement() {
        use tandem_core::planner::{diff_component, key_hashes, stable_hash};
        use tandem_core::state::ComponentStatus;
        let c = primary(MockRdsApi::new(), MockPasswordStore::new());
        let d = c.desired();
        assert!(d.replace_on.get("engine_version").is_none(), "a version change never forces a replacement");
        assert_eq!(d.update_on["engine_version"], "16.6");
        // State written when engine_version was replace-forcing, then a new version.
        let mut old_replace = d.replace_on.clone();
        old_replace["engine_version"] = json!("16.6");
        let mut old_update = d.update_on.clone();
        old_update.as_object_mut().unwrap().remove("engine_version");
        let mut prior = ComponentState::new("aurora", Placement::Primary, "us-east-1");
        prior.status = ComponentStatus::Applied;
        prior.replace_hash = stable_hash(&old_replace);
        prior.update_hash = stable_hash(&old_update);
        prior.replace_keys = key_hashes(&old_replace);
        prior.update_keys = key_hashes(&old_update);
        let newer = AuroraComponent::primary(&cfg_at("16.8"), Arc::new(MockRdsApi::new()), Arc::new(MockPasswordStore::new()));
        let (action, reason) = diff_component(true, &newer.desired(), Some(&prior));
        assert_eq!(action, tandem_core::Action::Update, "{reason}");
        // Recorded the new way, a version change is a configuration change.
        prior.replace_hash = stable_hash(&d.replace_on);
        prior.replace_keys = key_hashes(&d.replace_on);
        prior.update_hash = stable_hash(&d.update_on);
        prior.update_keys = key_hashes(&d.update_on);
        assert_eq!(diff_component(true, &newer.desired(), Some(&prior)), (tandem_core::Action::Update, "configuration changed: engine_version".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn minor_upgrade_does_the_reader_then_the_writer_each_waited_available() {
        let cfg = cfg_at("16.8");
        let (mut p, mut s) = (MockRdsApi::new(), MockRdsApi::new());
        let mut seq = Sequence::new();
        // Who writes: the primary.
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        // The secondary (reader) first.
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(cluster(Placement::Secondary, "available"))));
        s.expect_modify_cluster_engine_version()
            .withf(|id, v| id == "aurora-secondary-dev" && v == "16.8")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(cluster(Placement::Secondary, "upgrading"))));
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Secondary, "available"), "16.8"))));
        // Then the primary (writer).
        p.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        p.expect_modify_cluster_engine_version()
            .withf(|id, v| id == "aurora-primary-dev" && v == "16.8")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        p.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Primary, "available"), "16.8"))));
        let c = primary_with_peer(&cfg, p, s);
        let ctx = ctx_primary();
        let out = c.ensure_engine_version(&ctx, cluster(Placement::Primary, "available"), "aurora-global-dev").await.unwrap();
        assert_eq!((out.id.as_str(), out.engine_version.as_str()), ("aurora-primary-dev", "16.8"));
        let e = ctx.journal_entries().await;
        assert_eq!(e.get("cluster").map(|e| e.status), Some(tandem_core::state::ResourceStatus::Done), "journaled as an update of the cluster");
    }

    #[tokio::test(start_paused = true)]
    async fn minor_upgrade_after_a_failover_does_the_primary_first_as_it_is_the_reader() {
        let cfg = cfg_at("16.8");
        let (mut p, mut s) = (MockRdsApi::new(), MockRdsApi::new());
        let mut seq = Sequence::new();
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        p.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        p.expect_modify_cluster_engine_version().withf(|id, _| id == "aurora-primary-dev").times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        p.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Primary, "available"), "16.8"))));
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(cluster(Placement::Secondary, "available"))));
        s.expect_modify_cluster_engine_version().withf(|id, _| id == "aurora-secondary-dev").times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Secondary, "available"), "16.8"))));
        let c = primary_with_peer(&cfg, p, s);
        c.ensure_engine_version(&ctx_primary(), cluster(Placement::Primary, "available"), "aurora-global-dev").await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn minor_upgrade_resumed_skips_the_member_already_upgraded_and_the_secondary_then_has_nothing_to_do() {
        let cfg = cfg_at("16.8");
        let (mut p, mut s) = (MockRdsApi::new(), MockRdsApi::new());
        let mut seq = Sequence::new();
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Secondary, "available"), "16.8"))));
        p.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        p.expect_modify_cluster_engine_version().times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        p.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Primary, "available"), "16.8"))));
        let c = primary_with_peer(&cfg, p, s);
        c.ensure_engine_version(&ctx_primary(), cluster(Placement::Primary, "available"), "aurora-global-dev").await.unwrap();
        // The secondary component, its cluster already upgraded: no call at all.
        let sec = AuroraComponent::secondary(&cfg, Arc::new(MockRdsApi::new()));
        let out = sec.ensure_engine_version(&ctx_secondary(), at(cluster(Placement::Secondary, "available"), "16.8"), "aurora-global-dev").await.unwrap();
        assert_eq!(out.engine_version, "16.8");
    }

    #[tokio::test(start_paused = true)]
    async fn major_upgrade_goes_through_the_global_cluster_and_never_modifies_a_member() {
        let cfg = cfg_at("17.4");
        let mut p = MockRdsApi::new();
        let mut seq = Sequence::new();
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        p.expect_modify_global_cluster_engine_version()
            .withf(|g, v| g == "aurora-global-dev" && v == "17.4")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global_at(&[(P_ARN, true), (S_ARN, false)], "upgrading", "16.6"))));
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global_at(&[(P_ARN, true), (S_ARN, false)], "available", "17.4"))));
        p.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Primary, "available"), "17.4"))));
        // No expectation on the secondary's client nor on modify_cluster_engine_version: a call panics.
        let c = primary_with_peer(&cfg, p, MockRdsApi::new());
        let out = c.ensure_engine_version(&ctx_primary(), cluster(Placement::Primary, "available"), "aurora-global-dev").await.unwrap();
        assert_eq!(out.engine_version, "17.4");

        // The secondary waits for its cluster to reach the version.
        let mut s = MockRdsApi::new();
        let mut seq = Sequence::new();
        s.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global_at(&[], "available", "17.4"))));
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(cluster(Placement::Secondary, "upgrading"))));
        s.expect_describe_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(at(cluster(Placement::Secondary, "available"), "17.4"))));
        let sec = AuroraComponent::secondary(&cfg, Arc::new(s));
        sec.ensure_engine_version(&ctx_secondary(), cluster(Placement::Secondary, "available"), "aurora-global-dev").await.unwrap();

        // ... and refuses to wait for an upgrade nobody asked for.
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().returning(|_| Ok(Some(global(&[]))));
        let sec = AuroraComponent::secondary(&cfg, Arc::new(s));
        let e = sec.ensure_engine_version(&ctx_secondary(), cluster(Placement::Secondary, "available"), "aurora-global-dev").await.expect_err("no upgrade under way").to_string();
        assert!(e.contains("aurora-primary first") && e.contains("us-east-2"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_downgrade_is_refused_with_the_fix_and_makes_no_call() {
        let cfg = cfg_at("16.4");
        // Mocks without expectations: any call panics.
        let c = primary_with_peer(&cfg, MockRdsApi::new(), MockRdsApi::new());
        let ctx = ctx_primary();
        let e = c.ensure_engine_version(&ctx, cluster(Placement::Primary, "available"), "aurora-global-dev").await.expect_err("downgrade").to_string();
        assert!(e.contains("aurora-primary-dev") && e.contains("us-east-1"), "{e}");
        assert!(e.contains("16.4") && e.contains("16.6") && e.contains("cannot downgrade") && e.contains("database.engine_version = \"16.6\""), "{e}");
        assert!(ctx.journal_entries().await.is_empty(), "nothing journaled");
    }

    #[tokio::test]
    async fn clusters_hold_data_and_their_destroy_summary_says_no_final_snapshot() {
        let mut p = MockRdsApi::new();
        p.expect_describe_cluster().times(1).returning(|_| Ok(Some(cluster(Placement::Primary, "available"))));
        let c = primary(p, MockPasswordStore::new());
        assert!(c.holds_data().is_some_and(|h| h.contains("aurora-primary-dev") && h.contains("aurora-global-dev")));
        let s = c.data_summary(&ctx_primary()).await.unwrap().unwrap();
        assert_eq!(s, "cluster aurora-primary-dev (aurora-postgresql 16.6, available) and every database in it, with NO final snapshot and its automated backups");

        let mut s = MockRdsApi::new();
        s.expect_describe_cluster().times(1).returning(|_| Ok(None));
        let c = secondary(s);
        assert!(c.holds_data().is_some_and(|h| h.contains("aurora-secondary-dev")));
        assert_eq!(c.data_summary(&ctx_secondary()).await.unwrap().as_deref(), Some("cluster aurora-secondary-dev does not exist: nothing to delete"));

        let mut s = MockRdsApi::new();
        s.expect_describe_cluster().returning(|_| Err(AwsError::new("AccessDenied", "no rds:DescribeDBClusters", Some(403))));
        let e = secondary(s).data_summary(&ctx_secondary()).await.expect_err("refused").to_string();
        assert!(e.contains("aurora-secondary-dev") && e.contains("us-east-2") && e.contains("AccessDenied"), "{e}");
    }
}
