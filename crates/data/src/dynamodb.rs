//! DynamoDB: the `table` component, a global table (version 2019.11.21) `table-{s}` in the
//! primary region with its replica in the secondary region.
//!
//! Create: CreateTable (on-demand, streams NEW_AND_OLD_IMAGES, SSE with the AWS managed
//! key, no deletion protection, key `pk`/`sk` strings) → wait ACTIVE → tags → PITR →
//! UpdateTable ReplicaUpdates Create in the source region → poll until the replica is
//! ACTIVE. Destroy: ReplicaUpdates Delete → wait until the replica is gone → DeleteTable →
//! wait until the table is gone; ResourceInUse and "simultaneous" LimitExceeded are retried.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tandem_core::aws::{poll_until, retry, retry_if, AwsContext, Poll};
use tandem_core::contracts::{ids, TableOutputs};
use tandem_core::{
    naming, to_outputs, AwsError, AwsResultExt, Component, ComponentError, Config, Ctx, Desired, Drift, Outputs,
    Placement, Rule,
};

#[path = "dynamodb_api.rs"]
mod api;
pub use api::*;

/// Partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// Sort key attribute.
pub const SORT_KEY: &str = "sk";

/// Journal keys.
mod keys {
    use tandem_core::Key;
    pub const TABLE: Key = Key::new("table");
    pub const TAGS: Key = Key::new("tags");
    pub const PITR: Key = Key::new("pitr");
    pub const REPLICA: Key = Key::new("replica");
}

const TABLE_WAIT: Duration = Duration::from_secs(30 * 60);
const REPLICA_WAIT: Duration = Duration::from_secs(60 * 60);
/// How long a create refused because the table is busy is sent again.
const TABLE_BUSY_WAIT: Duration = Duration::from_secs(5 * 60);

/// The `table` component, with the primary region's client.
pub fn components(cfg: &Config, aws: &AwsContext) -> Vec<Arc<dyn Component>> {
    let client: Arc<dyn DynamoApi> = Arc::new(aws_sdk_dynamodb::Client::new(&aws.config(&cfg.primary_region)));
    vec![Arc::new(TableComponent::new(cfg, client))]
}

/// A replica delete answered "not part of the global table": the replica is already gone or
/// being deleted (AWS's answer to a Delete sent again after its first answer was lost, e.g.
/// by the SDK's own retry), which for a delete is success.
fn replica_not_a_member(e: AwsError) -> AwsError {
    if e.is_code("ValidationException") && e.message.contains("not part of the global table") {
        AwsError::not_found("ReplicaNotFound", e.message)
    } else {
        e
    }
}

/// ResourceInUse (table or replica busy) and "simultaneous" LimitExceeded are worth retrying.
fn busy(e: &AwsError) -> bool {
    e.is_code("ResourceInUseException") || e.is_code("LimitExceededException")
}

/// `table`: the DynamoDB global table.
pub struct TableComponent {
    region: String,
    replica_region: String,
    suffix: String,
    name: String,
    ddb: Arc<dyn DynamoApi>,
}

impl TableComponent {
    /// `ddb` is the primary region's client.
    pub fn new(cfg: &Config, ddb: Arc<dyn DynamoApi>) -> Self {
        Self {
            region: cfg.primary_region.clone(),
            replica_region: cfg.secondary_region.clone(),
            suffix: cfg.environment_suffix.clone(),
            name: naming::name("table", Placement::Global, &cfg.environment_suffix),
            ddb,
        }
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        &self.name
    }

    fn err(&self, e: AwsError) -> ComponentError {
        ComponentError::aws(&self.name, &self.region, e)
    }

    async fn describe(&self) -> Result<Option<TableInfo>, ComponentError> {
        retry(|| self.ddb.describe_table(&self.name)).await.map_err(|e| self.err(e))
    }

    /// Polls until the table and every replica of it are ACTIVE (and `replica` exists).
    async fn wait_active(&self, waiting_for: &str, replica: Option<&str>, timeout: Duration) -> Result<TableInfo, ComponentError> {
        poll_until(&self.name, &self.region, waiting_for, timeout, || async {
            let Some(t) = self.ddb.describe_table(&self.name).await? else {
                return Ok(Poll::Pending("not visible yet".into()));
            };
            if t.status != "ACTIVE" {
                return Ok(Poll::Pending(format!("table {}", t.status)));
            }
            if let Some(region) = replica {
                match t.replica(region) {
                    Some(r) if r.status == "ACTIVE" => {}
                    Some(r) => return Ok(Poll::Pending(format!("replica in {region} {}", r.status))),
                    None => return Ok(Poll::Pending(format!("replica in {region} not listed yet"))),
                }
            }
            Ok(Poll::Ready(t))
        })
        .await
    }

    /// The table, [`Rule::Name`]: the name carries the stack's suffix, so a table of that
    /// name is this stack's. `ResourceInUseException` (it exists: a lost answer, an interrupted
    /// run) makes the core look it up and adopt it.
    async fn ensure_table(&self, ctx: &Ctx) -> Result<TableInfo, ComponentError> {
        if let Some(t) = self.describe().await? {
            if t.status == "DELETING" {
                tracing::info!(table = %self.name, "table is being deleted; waiting before re-creating it");
                self.wait_gone().await?;
            }
        }
        let spec = TableSpec {
            name: self.name.clone(),
            partition_key: PARTITION_KEY.into(),
            sort_key: SORT_KEY.into(),
            tags: naming::tags(&self.suffix, &self.name),
        };
        let (ddb, n, r, spec) = (&self.ddb, self.name.as_str(), self.region.as_str(), &spec);
        ctx.ensure::<TableInfo>(&keys::TABLE, n, Rule::Name)
            .find_one(move |_recorded| async move { Ok(ddb.describe_table(n).await?.filter(|t| t.status != "DELETING")) })
            .create(move |_token| async move {
                tracing::info!(table = n, region = r, "creating table");
                ddb.create_table(spec).await
            })
            .id(|t| t.arn.clone())
            .run()
            .await?;
        self.wait_active("table ACTIVE", None, TABLE_WAIT).await
    }

    async fn wait_gone(&self) -> Result<(), ComponentError> {
        poll_until(&self.name, &self.region, "table deleted", TABLE_WAIT, || async {
            Ok(match self.ddb.describe_table(&self.name).await? {
                None => Poll::Ready(()),
                Some(t) => Poll::Pending(format!("table {}", t.status)),
            })
        })
        .await
    }

    fn outputs_of(&self, t: &TableInfo) -> Outputs {
        to_outputs(&TableOutputs {
            table_name: self.name.clone(),
            table_arn: t.arn.clone(),
            stream_arn: t.stream_arn.clone().unwrap_or_default(),
            replica_regions: t.replicas.iter().map(|r| r.region.clone()).collect(),
        })
    }
}

#[async_trait::async_trait]
impl Component for TableComponent {
    fn id(&self) -> &str {
        ids::TABLE
    }
    fn kind(&self) -> &'static str {
        "dynamodb-global-table"
    }
    fn placement(&self) -> Placement {
        Placement::Primary
    }
    fn region(&self) -> &str {
        &self.region
    }
    fn dependencies(&self) -> Vec<String> {
        Vec::new()
    }
    fn output_type(&self) -> tandem_core::OutputType {
        tandem_core::OutputType::of::<tandem_core::contracts::TableOutputs>()
    }
    fn expected_duration(&self) -> Duration {
        // Table ~30 s, the replica of an empty table a few minutes. AWS documents no figure;
        // terraform-provider-aws acceptance runs of table + replica + destroy take 7-11 min
        // (PR #47143), create being about half.
        Duration::from_secs(300)
    }
    fn holds_data(&self) -> Option<String> {
        Some(format!("the items of DynamoDB table {} and of its replica in {}", self.name, self.replica_region))
    }
    async fn data_summary(&self, _ctx: &Ctx) -> Result<Option<String>, ComponentError> {
        let Some(t) = self.describe().await? else {
            return Ok(Some(format!("table {} does not exist: nothing to delete", self.name)));
        };
        let size = t.size_bytes.map(|b| format!(" ({})", crate::human_bytes(b))).unwrap_or_default();
        let items = t.item_count.map(crate::thousands).unwrap_or_else(|| "an unknown number of".into());
        Ok(Some(format!(
            "~{items} items{size} in table {} and its replica in {} (DynamoDB's count, refreshed about every 6 hours)",
            self.name, self.replica_region
        )))
    }
    fn desired(&self) -> Desired {
        Desired::new(
            json!({
                "table": self.name,
                "region": self.region,
                "key": { "partition": [PARTITION_KEY, "S"], "sort": [SORT_KEY, "S"] },
            }),
            json!({
                "billing_mode": "PAY_PER_REQUEST",
                "stream": "NEW_AND_OLD_IMAGES",
                "sse": true,
                "point_in_time_recovery": true,
                "deletion_protection": false,
                "replicas": [self.replica_region],
                "tags": naming::tags(&self.suffix, &self.name),
            }),
        )
    }

    #[tracing::instrument(skip_all, fields(component = "table", region = %self.region))]
    async fn apply(&self, ctx: &Ctx) -> Result<Outputs, ComponentError> {
        let (ddb, n, r) = (&self.ddb, self.name.as_str(), self.region.as_str());
        let table = self.ensure_table(ctx).await?;

        let want_tags = naming::tags(&self.suffix, n);
        let live_tags = retry(|| ddb.list_tags(&table.arn)).await.at(n, r)?;
        let missing: Vec<(String, String)> = want_tags.into_iter().filter(|t| !live_tags.contains(t)).collect();
        if !missing.is_empty() {
            ctx.update(&keys::TAGS, || async { retry(|| ddb.tag_resource(&table.arn, missing.clone())).await.at(n, r) })
                .await?;
        }

        if !retry(|| ddb.pitr_enabled(n)).await.at(n, r)? {
            ctx.update(&keys::PITR, || async {
                // PITR can be briefly unavailable right after the table is created.
                retry_if(|| ddb.enable_pitr(n), |e| e.is_code("ContinuousBackupsUnavailableException") || busy(e))
                    .await
                    .at(n, r)
            })
            .await?;
        }

        let rr = self.replica_region.as_str();
        if table.replica(rr).is_some_and(|x| x.status == "DELETING") {
            self.wait_replica_gone(rr).await?;
        }
        self.ensure_replica(ctx, rr).await?;
        let table = self.wait_active("replica ACTIVE", Some(rr), REPLICA_WAIT).await?;
        Ok(self.outputs_of(&table))
    }

    #[tracing::instrument(skip_all, fields(component = "table", region = %self.region))]
    async fn destroy(&self, ctx: &Ctx) -> Result<(), ComponentError> {
        let (ddb, n) = (&self.ddb, self.name.as_str());
        let table = self.describe().await?;
        let replicas: Vec<String> = table.iter().flat_map(|t| t.replicas.iter().map(|x| x.region.clone())).collect();
        // Replicas first: a table with replicas is not deleted as a whole.
        let live_replicas: Vec<String> = table
            .iter()
            .flat_map(|t| t.replicas.iter().filter(|x| x.status != "DELETING").map(|x| replica_id(n, &x.region)))
            .collect();
        ctx.delete(
            &keys::REPLICA,
            n,
            move |_recorded| {
                let ids = live_replicas.clone();
                async move { Ok(ids) }
            },
            |id| async move {
                let region = id.rsplit_once('@').map(|(_, r)| r.to_string()).unwrap_or_default();
                tracing::info!(table = n, replica_region = %region, "deleting replica");
                retry_if(|| ddb.delete_replica(n, &region), busy).await.map_err(replica_not_a_member)
            },
        )
        .await?;
        for region in &replicas {
            self.wait_replica_gone(region).await?;
        }

        let exists = table.is_some();
        ctx.delete(
            &keys::TABLE,
            n,
            move |recorded| async move {
                Ok(if exists { vec![recorded.unwrap_or_else(|| n.to_string())] } else { Vec::new() })
            },
            |_| async move {
                tracing::info!(table = n, "deleting table");
                retry_if(|| ddb.delete_table(n), busy).await
            },
        )
        .await?;
        if exists {
            self.wait_gone().await?;
        }
        for key in [&keys::PITR, &keys::TAGS] {
            ctx.forget(key).await?;
        }
        Ok(())
    }

    async fn read(&self, _ctx: &Ctx) -> Result<Drift, ComponentError> {
        let (ddb, n, r) = (&self.ddb, self.name.as_str(), self.region.as_str());
        let Some(t) = self.describe().await? else {
            return Ok(Drift::Missing { details: vec![format!("table {n} does not exist in {r}")] });
        };
        let mut details = Vec::new();
        if t.status != "ACTIVE" {
            details.push(format!("table status {}", t.status));
        }
        if t.billing_mode.as_deref().is_some_and(|b| b != "PAY_PER_REQUEST") {
            details.push(format!("billing mode {:?} (want PAY_PER_REQUEST)", t.billing_mode));
        }
        if t.stream_view_type.as_deref() != Some("NEW_AND_OLD_IMAGES") {
            details.push(format!("stream {:?} (want NEW_AND_OLD_IMAGES)", t.stream_view_type));
        }
        if !t.sse_enabled {
            details.push("server-side encryption is not ENABLED".into());
        }
        if t.deletion_protection {
            details.push("deletion protection is on".into());
        }
        if !retry(|| ddb.pitr_enabled(n)).await.at(n, r)? {
            details.push("point-in-time recovery is off".into());
        }
        match t.replica(&self.replica_region) {
            Some(x) if x.status == "ACTIVE" => {}
            Some(x) => details.push(format!("replica in {} is {}", self.replica_region, x.status)),
            None => details.push(format!("no replica in {}", self.replica_region)),
        }
        Ok(if details.is_empty() { Drift::InSync } else { Drift::Drifted { details } })
    }
}

/// The journaled id of the replica of table `name` in `region`.
fn replica_id(name: &str, region: &str) -> String {
    format!("{name}@{region}")
}

impl TableComponent {
    /// The replica in `rr`, [`Rule::Name`]: one replica per region. The create is an
    /// UpdateTable that AWS refuses when the replica exists; that answer (a lost one, an
    /// interrupted run) is reported to the core as a conflict, so it looks the replica up.
    async fn ensure_replica(&self, ctx: &Ctx, rr: &str) -> Result<(), ComponentError> {
        let (ddb, n, r) = (&self.ddb, self.name.as_str(), self.region.as_str());
        ctx.ensure::<String>(&keys::REPLICA, n, Rule::Name)
            .find_one(move |_recorded| async move {
                let t = ddb.describe_table(n).await?;
                Ok(t.and_then(|t| t.replica(rr).filter(|x| x.status != "DELETING").map(|_| replica_id(n, rr))))
            })
            .create(move |_token| async move {
                tracing::info!(table = n, region = r, replica_region = rr, "creating replica");
                // ResourceInUse here is the table being busy (an update in progress), not the
                // replica existing: the request was refused, so it is sent again after a
                // while (bounded). Any other failure goes back to the core.
                let busy = |e: &AwsError| e.is_code("ResourceInUseException");
                match crate::until_accepted(TABLE_BUSY_WAIT, || ddb.create_replica(n, rr), busy).await {
                    Ok(()) => Ok(replica_id(n, rr)),
                    Err(e) if e.is_code("ValidationException") && e.to_string().contains("already exist") => {
                        Err(AwsError::new("ReplicaAlreadyExists", e.to_string(), Some(400)))
                    }
                    Err(e) => Err(e),
                }
            })
            .id(|id| id.clone())
            .run()
            .await?;
        Ok(())
    }

    async fn wait_replica_gone(&self, region: &str) -> Result<(), ComponentError> {
        poll_until(&self.name, &self.region, &format!("replica in {region} deleted"), REPLICA_WAIT, || async {
            Ok(match self.ddb.describe_table(&self.name).await? {
                None => Poll::Ready(()),
                Some(t) => match t.replica(region) {
                    None => Poll::Ready(()),
                    Some(x) => Poll::Pending(format!("replica {}", x.status)),
                },
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::Sequence;
    use tandem_core::state::ComponentState;

    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/table-t1";

    fn cfg() -> Config {
        Config::example("t1")
    }

    fn table(status: &str, replicas: &[(&str, &str)]) -> TableInfo {
        TableInfo {
            name: "table-t1".into(),
            arn: ARN.into(),
            status: status.into(),
            stream_arn: Some(format!("{ARN}/stream/2024")),
            stream_view_type: Some("NEW_AND_OLD_IMAGES".into()),
            billing_mode: Some("PAY_PER_REQUEST".into()),
            sse_enabled: true,
            deletion_protection: false,
            replicas: replicas.iter().map(|(r, s)| ReplicaInfo { region: r.to_string(), status: s.to_string() }).collect(),
            item_count: None,
            size_bytes: None,
        }
    }

    #[test]
    fn the_table_holds_data_naming_it_and_its_replica() {
        let c = TableComponent::new(&cfg(), Arc::new(MockDynamoApi::new()));
        let holds = c.holds_data().expect("the table holds data");
        assert!(holds.contains("table-t1") && holds.contains("us-east-2"), "{holds}");
    }

    #[tokio::test]
    async fn destroy_summary_says_the_approximate_item_count_and_size() {
        let mut d = MockDynamoApi::new();
        d.expect_describe_table().times(1).returning(|_| {
            let mut t = table("ACTIVE", &[("us-east-2", "ACTIVE")]);
            t.item_count = Some(12345);
            t.size_bytes = Some(3 * 1024 * 1024);
            Ok(Some(t))
        });
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let s = c.data_summary(&ctx()).await.expect("counted").expect("something to say");
        assert_eq!(s, "~12,345 items (3.0 MiB) in table table-t1 and its replica in us-east-2 (DynamoDB's count, refreshed about every 6 hours)");
    }

    #[tokio::test]
    async fn destroy_summary_of_a_missing_table_and_a_failed_describe() {
        let mut d = MockDynamoApi::new();
        d.expect_describe_table().times(1).returning(|_| Ok(None));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        assert_eq!(c.data_summary(&ctx()).await.expect("ok"), Some("table table-t1 does not exist: nothing to delete".into()));

        let mut d = MockDynamoApi::new();
        d.expect_describe_table().returning(|_| Err(AwsError::new("AccessDeniedException", "not allowed: dynamodb:DescribeTable", Some(400))));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let e = c.data_summary(&ctx()).await.expect_err("a failed count is an error for the CLI to show");
        let e = e.to_string();
        assert!(e.contains("table-t1") && e.contains("us-east-1") && e.contains("AccessDenied"), "{e}");
    }

    fn ctx() -> Ctx {
        Ctx::standalone("table", "us-east-1")
    }

    #[tokio::test]
    async fn create_order_table_pitr_then_replica() {
        let mut d = MockDynamoApi::new();
        let mut seq = Sequence::new();
        // Before ensure, then its lookup.
        d.expect_describe_table().times(2).in_sequence(&mut seq).returning(|_| Ok(None));
        d.expect_create_table()
            .withf(|s| {
                s.name == "table-t1"
                    && s.partition_key == "pk"
                    && s.sort_key == "sk"
                    && s.tags.contains(&("tandem:stack".into(), "t1".into()))
                    && s.tags.contains(&("Name".into(), "table-t1".into()))
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(table("CREATING", &[])));
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(table("ACTIVE", &[]))));
        d.expect_list_tags().times(1).in_sequence(&mut seq).returning(|_| Ok(naming::tags("t1", "table-t1")));
        d.expect_pitr_enabled().times(1).in_sequence(&mut seq).returning(|_| Ok(false));
        d.expect_enable_pitr().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        // The replica's lookup.
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(table("ACTIVE", &[]))));
        d.expect_create_replica()
            .withf(|n, r| n == "table-t1" && r == "us-east-2")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        d.expect_describe_table()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(table("UPDATING", &[("us-east-2", "CREATING")]))));
        d.expect_describe_table()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(table("ACTIVE", &[("us-east-2", "ACTIVE")]))));
        std::env::set_var("TANDEM_POLL_INTERVAL_MS", "1");
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let ctx = ctx();
        let out = c.apply(&ctx).await.unwrap();
        assert_eq!(out["table_name"], "table-t1");
        assert_eq!(out["table_arn"], ARN);
        assert_eq!(out["stream_arn"], format!("{ARN}/stream/2024"));
        assert_eq!(out["replica_regions"], json!(["us-east-2"]));
        c.output_type().check(&out).expect("declared outputs");
        assert_eq!(ctx.recorded_id(&keys::TABLE).await.as_deref(), Some(ARN));
        assert_eq!(ctx.recorded_id(&keys::REPLICA).await.as_deref(), Some("table-t1@us-east-2"));
    }

    #[tokio::test]
    async fn apply_over_healthy_table_makes_no_mutating_call() {
        let mut d = MockDynamoApi::new();
        d.expect_describe_table().returning(|_| Ok(Some(table("ACTIVE", &[("us-east-2", "ACTIVE")]))));
        d.expect_list_tags().returning(|_| Ok(naming::tags("t1", "table-t1")));
        d.expect_pitr_enabled().returning(|_| Ok(true));
        // No create/update/tag expectations: any mutating call panics.
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let prior = ComponentState::new("dynamodb-global-table", Placement::Primary, "us-east-1")
            .with_resource("table", ARN)
            .with_resource("replica", "table-t1@us-east-2");
        let ctx = ctx().with_prior(prior);
        c.apply(&ctx).await.unwrap();
        assert_eq!(c.read(&ctx).await.unwrap(), Drift::InSync);
    }

    #[tokio::test]
    async fn destroy_removes_replica_waits_then_deletes_table_and_waits() {
        std::env::set_var("TANDEM_POLL_INTERVAL_MS", "1");
        let mut d = MockDynamoApi::new();
        let mut seq = Sequence::new();
        d.expect_describe_table()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(table("ACTIVE", &[("us-east-2", "ACTIVE")]))));
        d.expect_delete_replica()
            .withf(|n, r| n == "table-t1" && r == "us-east-2")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        d.expect_describe_table()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(table("UPDATING", &[("us-east-2", "DELETING")]))));
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(table("ACTIVE", &[]))));
        d.expect_delete_table().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(table("DELETING", &[]))));
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let prior = ComponentState::new("dynamodb-global-table", Placement::Primary, "us-east-1")
            .with_resource("table", ARN)
            .with_resource("replica", "table-t1@us-east-2");
        let ctx = ctx().with_prior(prior);
        c.destroy(&ctx).await.unwrap();
        assert!(ctx.journal_entries().await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn destroy_retries_resource_in_use_and_treats_not_found_as_success() {
        let mut d = MockDynamoApi::new();
        let mut seq = Sequence::new();
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(table("ACTIVE", &[]))));
        d.expect_delete_table()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::other("ResourceInUseException", "table is being updated")));
        d.expect_delete_table()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(AwsError::not_found("ResourceNotFoundException", "gone")));
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        c.destroy(&ctx()).await.unwrap();
    }

    #[tokio::test]
    async fn replica_delete_sent_again_after_a_lost_answer_is_success() {
        std::env::set_var("TANDEM_POLL_INTERVAL_MS", "1");
        let mut d = MockDynamoApi::new();
        let mut seq = Sequence::new();
        d.expect_describe_table()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(table("ACTIVE", &[("us-east-2", "ACTIVE")]))));
        // The first Delete's answer was lost and the SDK sent it again: AWS answers that the
        // replica is no member any more.
        d.expect_delete_replica().times(1).in_sequence(&mut seq).returning(|_, _| {
            Err(AwsError::other(
                "ValidationException",
                "Update global table operation failed because one or more replicas were not part of the global table. Please retry the request without these replicas: [us-east-2].",
            ))
        });
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(table("ACTIVE", &[]))));
        d.expect_delete_table().times(1).in_sequence(&mut seq).returning(|_| Ok(()));
        d.expect_describe_table().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        c.destroy(&ctx()).await.unwrap();
        // Any other validation error still fails the destroy.
        let mut d = MockDynamoApi::new();
        d.expect_describe_table().returning(|_| Ok(Some(table("ACTIVE", &[("us-east-2", "ACTIVE")]))));
        d.expect_delete_replica().returning(|_, _| Err(AwsError::other("ValidationException", "deletion protection is enabled")));
        let e = TableComponent::new(&cfg(), Arc::new(d)).destroy(&ctx()).await.unwrap_err().to_string();
        assert!(e.contains("deletion protection"), "{e}");
    }

    #[tokio::test]
    async fn second_destroy_is_a_no_op() {
        let mut d = MockDynamoApi::new();
        d.expect_describe_table().returning(|_| Ok(None));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        c.destroy(&ctx()).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_describe_is_retried() {
        let mut d = MockDynamoApi::new();
        let mut seq = Sequence::new();
        d.expect_describe_table().times(2).in_sequence(&mut seq).returning(|_| Err(AwsError::throttling()));
        d.expect_describe_table().returning(|_| Ok(Some(table("ACTIVE", &[("us-east-2", "ACTIVE")]))));
        d.expect_list_tags().returning(|_| Ok(naming::tags("t1", "table-t1")));
        d.expect_pitr_enabled().returning(|_| Ok(true));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        c.apply(&ctx()).await.unwrap();
    }

    #[tokio::test]
    async fn errors_name_table_and_region() {
        let mut d = MockDynamoApi::new();
        d.expect_describe_table().returning(|_| Ok(None));
        d.expect_create_table().returning(|_| Err(AwsError::other("AccessDeniedException", "not allowed")));
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let msg = c.apply(&ctx()).await.unwrap_err().to_string();
        assert!(msg.contains("table-t1") && msg.contains("us-east-1") && msg.contains("AccessDeniedException"), "{msg}");
    }

    /// A table store behind a mock: `create_table` and `create_replica` act, then their
    /// answer is lost (a 500, then on the retry AWS says the resource exists).
    fn lossy_store() -> (MockDynamoApi, Arc<std::sync::Mutex<Option<TableInfo>>>, Arc<std::sync::atomic::AtomicU32>) {
        use std::sync::atomic::{AtomicU32, Ordering};
        let live: Arc<std::sync::Mutex<Option<TableInfo>>> = Arc::default();
        let creates = Arc::new(AtomicU32::new(0));
        let mut d = MockDynamoApi::new();
        let l = live.clone();
        d.expect_describe_table().returning(move |_| Ok(l.lock().unwrap().clone()));
        let (l, c) = (live.clone(), creates.clone());
        d.expect_create_table().returning(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            let mut t = l.lock().unwrap();
            if t.is_some() {
                return Err(AwsError::other("ResourceInUseException", "Table already exists: table-t1"));
            }
            *t = Some(table("ACTIVE", &[]));
            Err(AwsError::new("InternalServerError", "answer lost", Some(500)))
        });
        let (l, c) = (live.clone(), creates.clone());
        d.expect_create_replica().returning(move |_, region| {
            c.fetch_add(1, Ordering::SeqCst);
            let mut guard = l.lock().unwrap();
            let t = guard.as_mut().expect("table exists");
            if t.replica(region).is_some() {
                return Err(AwsError::other("ValidationException", "Failed to create the new replica: it already exists"));
            }
            t.replicas.push(ReplicaInfo { region: region.to_string(), status: "ACTIVE".into() });
            Err(AwsError::new("ServiceUnavailable", "answer lost", Some(503)))
        });
        d.expect_list_tags().returning(|_| Ok(naming::tags("t1", "table-t1")));
        d.expect_pitr_enabled().returning(|_| Ok(true));
        (d, live, creates)
    }

    #[tokio::test(start_paused = true)]
    async fn lost_create_answers_adopt_table_and_replica_exactly_once() {
        let (d, live, creates) = lossy_store();
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let ctx = ctx();
        c.apply(&ctx).await.unwrap();
        // One create of each: after the lost answer the core looked them up instead of resending.
        assert_eq!(creates.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(live.lock().unwrap().as_ref().unwrap().replicas.len(), 1);
        let e = ctx.entry(&keys::TABLE).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status), (Some(ARN), tandem_core::state::ResourceStatus::Done));
        assert_eq!(ctx.recorded_id(&keys::REPLICA).await.as_deref(), Some("table-t1@us-east-2"));
    }

    #[tokio::test(start_paused = true)]
    async fn resumed_run_after_a_lost_answer_adopts_instead_of_creating() {
        let (d, live, creates) = lossy_store();
        // The previous run sent CreateTable (it acted) and died before the answer: the journal
        // holds a pending create.
        *live.lock().unwrap() = Some(table("ACTIVE", &[]));
        let prior = ComponentState::new("dynamodb-global-table", Placement::Primary, "us-east-1").with_pending_create("table", None);
        let c = TableComponent::new(&cfg(), Arc::new(d));
        let ctx = ctx().with_prior(prior);
        c.apply(&ctx).await.unwrap();
        // Only the replica was created (its answer lost, then adopted).
        assert_eq!(creates.load(std::sync::atomic::Ordering::SeqCst), 1);
        let e = ctx.entry(&keys::TABLE).await.unwrap();
        assert_eq!((e.id.as_deref(), e.status), (Some(ARN), tandem_core::state::ResourceStatus::Done));
    }
}
