//! Moving the writer of the stack's Aurora global database, as `tandem failover` and
//! `tandem switchover` run it (DR.md, "The CLI during an outage").
//!
//! - [`fail_over_to_secondary`]: the unplanned failover of a regional outage. Only the
//!   secondary region is called: the global cluster is found by name there (global clusters
//!   are answered in every member region), then `FailoverGlobalCluster` with the secondary
//!   cluster's ARN and `AllowDataLoss=true`, polled until the secondary is the writer and
//!   `FailoverState` is empty. A no-op when the secondary already is the writer.
//! - [`switch_over`]: the planned, no-data-loss move (`SwitchoverGlobalCluster`), sent
//!   through the current writer's region, refused unless every member answers and is
//!   available and no operation is under way. It is the fail-back path, never an outage tool.

use tandem_core::aws::{is_unreachable, retry};
use tandem_core::{AwsError, AwsResultExt, ComponentError, Config, Placement};

use crate::aurora::{cluster_id, failover, global_cluster_id, switchover, GlobalClusterInfo, RdsApi};

/// What a writer move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterMove {
    /// The global cluster's identifier.
    pub global_cluster: String,
    /// The writer's ARN before the move (None when the global cluster had no writer).
    pub from: Option<String>,
    /// The ARN of the cluster that is the writer now.
    pub to: String,
    /// The region whose RDS endpoint the move was sent to.
    pub through_region: String,
    /// Planned switchover (no data loss) or unplanned failover (data loss allowed).
    pub planned: bool,
    /// False when the target already was the writer: nothing was sent.
    pub changed: bool,
}

impl WriterMove {
    /// One line for the CLI.
    pub fn summary(&self) -> String {
        let what = if self.planned { "switchover" } else { "failover" };
        if self.changed {
            format!(
                "{what} of {}: writer moved from {} to {} (through {})",
                self.global_cluster,
                self.from.as_deref().unwrap_or("(none)"),
                self.to,
                self.through_region
            )
        } else {
            format!("{what} of {}: {} already is the writer; nothing to do", self.global_cluster, self.to)
        }
    }
}

/// The region of a cluster ARN (`arn:aws:rds:<region>:<account>:cluster:<id>`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The member of `g` that is the stack's cluster of `placement`: by cluster identifier
/// (`aurora-{role}-{s}`), else the member in that placement's region.
pub fn member_arn(g: &GlobalClusterInfo, cfg: &Config, placement: Placement) -> Option<String> {
    let id = cluster_id(placement, &cfg.environment_suffix);
    let suffix = format!(":cluster:{id}");
    g.members
        .iter()
        .find(|m| m.cluster_arn.ends_with(&suffix))
        .or_else(|| g.members.iter().find(|m| arn_region(&m.cluster_arn) == Some(cfg.region_of(placement))))
        .map(|m| m.cluster_arn.clone())
}

/// The placement of a member ARN of this stack (by region).
fn placement_of(cfg: &Config, arn: &str) -> Option<Placement> {
    match arn_region(arn) {
        Some(r) if r == cfg.primary_region => Some(Placement::Primary),
        Some(r) if r == cfg.secondary_region => Some(Placement::Secondary),
        _ => None,
    }
}

async fn describe(rds: &dyn RdsApi, gid: &str, region: &str) -> Result<GlobalClusterInfo, ComponentError> {
    retry(|| rds.describe_global_cluster(gid))
        .await
        .at(gid, region)?
        .ok_or_else(|| ComponentError::invalid(gid, region, format!("global cluster not found through {region}; run apply first")))
}

/// Unplanned failover to the secondary cluster through the secondary region only (see the
/// module documentation). The primary region is never called.
pub async fn fail_over_to_secondary(cfg: &Config, secondary: &dyn RdsApi) -> Result<WriterMove, ComponentError> {
    let gid = global_cluster_id(&cfg.environment_suffix);
    let region = cfg.secondary_region.as_str();
    let g = describe(secondary, &gid, region).await?;
    let target = member_arn(&g, cfg, Placement::Secondary).ok_or_else(|| {
        ComponentError::invalid(&gid, region, format!("the global cluster has no member in {region} to promote"))
    })?;
    let from = g.writer().map(str::to_string);
    let changed = from.as_deref() != Some(target.as_str()) || g.failover.is_some();
    failover(secondary, &gid, &target, region).await?;
    Ok(WriterMove { global_cluster: gid, from, to: target, through_region: region.to_string(), planned: false, changed })
}

/// Why a planned switchover cannot run now, if it cannot: an operation under way, a global
/// cluster or member that is not available, or a member that does not answer.
pub fn switchover_refusal(g: &GlobalClusterInfo, members: &[(String, Result<Option<String>, AwsError>)]) -> Option<String> {
    if let Some(f) = &g.failover {
        return Some(format!(
            "a failover or switchover is already under way (FailoverState {}); wait until it ends (tandem status)",
            f.status
        ));
    }
    if !g.status.is_empty() && g.status != "available" {
        return Some(format!("the global cluster is {}, not available", g.status));
    }
    for (arn, status) in members {
        let region = arn_region(arn).unwrap_or("?");
        match status {
            Ok(Some(s)) if s == "available" => {}
            Ok(Some(s)) => return Some(format!("member {arn} is {s}, not available (after a failover the old primary rebuilds first: minutes to hours)")),
            Ok(None) => return Some(format!("member {arn} does not exist in {region}")),
            Err(e) if is_unreachable(e) => {
                return Some(format!(
                    "{region} does not answer ({e}); a switchover needs every member healthy. During an outage use `tandem failover --unplanned`"
                ))
            }
            Err(e) => return Some(format!("cannot read member {arn} in {region}: {e}")),
        }
    }
    None
}

/// Planned switchover (no data loss) of the stack's global cluster to its cluster of `to`,
/// sent through the current writer's region. Refused with the reason when a member is not
/// healthy (see [`switchover_refusal`]). A no-op when `to` already is the writer.
pub async fn switch_over(cfg: &Config, primary: &dyn RdsApi, secondary: &dyn RdsApi, to: Placement) -> Result<WriterMove, ComponentError> {
    let gid = global_cluster_id(&cfg.environment_suffix);
    let client = |p: Placement| -> (&dyn RdsApi, &str) {
        match p {
            Placement::Secondary => (secondary, cfg.secondary_region.as_str()),
            _ => (primary, cfg.primary_region.as_str()),
        }
    };
    // Read through the target's region (it must answer anyway).
    let (reader, reader_region) = client(to);
    let g = describe(reader, &gid, reader_region).await?;
    let from = g.writer().map(str::to_string);
    let target = member_arn(&g, cfg, to)
        .ok_or_else(|| ComponentError::invalid(&gid, reader_region, format!("the global cluster has no member in {}", cfg.region_of(to))))?;
    if from.as_deref() == Some(target.as_str()) && g.failover.is_none() {
        return Ok(WriterMove { global_cluster: gid, from, to: target, through_region: reader_region.to_string(), planned: true, changed: false });
    }
    // Every member must answer and be available.
    let mut members = Vec::new();
    for m in &g.members {
        let status = match placement_of(cfg, &m.cluster_arn) {
            Some(p) => {
                let (rds, _) = client(p);
                let id = m.cluster_arn.rsplit(':').next().unwrap_or_default().to_string();
                retry(|| rds.describe_cluster(&id)).await.map(|c| c.map(|c| c.status))
            }
            None => Err(AwsError::other("UnknownRegion", format!("{} is in neither configured region", m.cluster_arn))),
        };
        members.push((m.cluster_arn.clone(), status));
    }
    if let Some(why) = switchover_refusal(&g, &members) {
        return Err(ComponentError::invalid(&gid, reader_region, format!("switchover refused: {why}")));
    }
    let writer_placement = from.as_deref().and_then(|a| placement_of(cfg, a)).unwrap_or(Placement::Primary);
    let (rds, region) = client(writer_placement);
    switchover(rds, &gid, &target, region).await.map_err(|e| match e.aws_error() {
        Some(a) if a.is_code("InvalidGlobalClusterStateFault") => ComponentError::invalid(
            &gid,
            region,
            format!("AWS refused the switchover ({}): a member may still be resynchronizing after a failover; wait and run it again", a.message),
        ),
        _ => e,
    })?;
    Ok(WriterMove { global_cluster: gid, from, to: target, through_region: region.to_string(), planned: true, changed: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aurora::{ClusterInfo, FailoverInfo, GlobalMember, MockRdsApi};
    use mockall::Sequence;

    const P_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-dev";
    const S_ARN: &str = "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-dev";

    fn cfg() -> Config {
        Config::example("dev")
    }

    fn global(members: &[(&str, bool)]) -> GlobalClusterInfo {
        GlobalClusterInfo {
            id: "aurora-global-dev".into(),
            arn: "arn:aws:rds::123456789012:global-cluster:aurora-global-dev".into(),
            status: "available".into(),
            members: members.iter().map(|(a, w)| GlobalMember { cluster_arn: a.to_string(), is_writer: *w }).collect(),
            ..Default::default()
        }
    }

    fn under_way(members: &[(&str, bool)], status: &str) -> GlobalClusterInfo {
        let mut g = global(members);
        g.failover = Some(FailoverInfo { status: status.into(), from_cluster_arn: Some(P_ARN.into()), to_cluster_arn: Some(S_ARN.into()) });
        g
    }

    fn cluster(status: &str) -> ClusterInfo {
        ClusterInfo { status: status.into(), ..Default::default() }
    }

    fn dispatch_failure() -> AwsError {
        AwsError::new("DispatchFailure", "dispatch failure: connection closed", None)
    }

    #[test]
    fn members_are_found_by_cluster_id_then_region() {
        let g = global(&[(P_ARN, true), (S_ARN, false)]);
        assert_eq!(member_arn(&g, &cfg(), Placement::Secondary).as_deref(), Some(S_ARN));
        assert_eq!(member_arn(&g, &cfg(), Placement::Primary).as_deref(), Some(P_ARN));
        let renamed = global(&[("arn:aws:rds:us-east-2:1:cluster:other", false)]);
        assert_eq!(member_arn(&renamed, &cfg(), Placement::Secondary).as_deref(), Some("arn:aws:rds:us-east-2:1:cluster:other"));
        assert_eq!(member_arn(&renamed, &cfg(), Placement::Primary), None);
        assert_eq!(arn_region(S_ARN), Some("us-east-2"));
    }

    #[tokio::test(start_paused = true)]
    async fn unplanned_failover_calls_only_the_secondary_with_its_cluster_arn() {
        // The primary region is down: no primary client is even passed.
        let mut s = MockRdsApi::new();
        let mut seq = Sequence::new();
        // Found by name through the secondary, then change_writer's own read.
        s.expect_describe_global_cluster()
            .withf(|id| id == "aurora-global-dev")
            .times(2)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        s.expect_failover_global_cluster()
            .withf(|g, t| g == "aurora-global-dev" && t == S_ARN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(under_way(&[(P_ARN, true), (S_ARN, false)], "failing-over"))));
        s.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        let m = fail_over_to_secondary(&cfg(), &s).await.unwrap();
        assert_eq!(m.to, S_ARN);
        assert_eq!(m.from.as_deref(), Some(P_ARN));
        assert_eq!(m.through_region, "us-east-2");
        assert!(m.changed && !m.planned);
        assert!(m.summary().starts_with("failover of aurora-global-dev: writer moved from"), "{}", m.summary());
    }

    #[tokio::test(start_paused = true)]
    async fn unplanned_failover_is_a_no_op_when_the_secondary_already_writes() {
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().times(2).returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        s.expect_failover_global_cluster().never();
        let m = fail_over_to_secondary(&cfg(), &s).await.unwrap();
        assert!(!m.changed);
        assert!(m.summary().contains("already is the writer"), "{}", m.summary());
    }

    #[tokio::test(start_paused = true)]
    async fn unplanned_failover_without_a_global_cluster_says_run_apply() {
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().times(1).returning(|_| Ok(None));
        let e = fail_over_to_secondary(&cfg(), &s).await.unwrap_err().to_string();
        assert!(e.contains("not found through us-east-2") && e.contains("run apply"), "{e}");
    }

    #[test]
    fn switchover_is_refused_unless_every_member_is_healthy() {
        let g = global(&[(P_ARN, false), (S_ARN, true)]);
        let ok = |s: &str| Ok(Some(s.to_string()));
        assert_eq!(switchover_refusal(&g, &[(P_ARN.into(), ok("available")), (S_ARN.into(), ok("available"))]), None);
        let why = switchover_refusal(&g, &[(P_ARN.into(), Err(dispatch_failure())), (S_ARN.into(), ok("available"))]).unwrap();
        assert!(why.contains("us-east-1 does not answer") && why.contains("failover --unplanned"), "{why}");
        let why = switchover_refusal(&g, &[(P_ARN.into(), ok("backing-up")), (S_ARN.into(), ok("available"))]).unwrap();
        assert!(why.contains("is backing-up, not available"), "{why}");
        let why = switchover_refusal(&g, &[(P_ARN.into(), Ok(None))]).unwrap();
        assert!(why.contains("does not exist in us-east-1"), "{why}");
        let why = switchover_refusal(&under_way(&[(P_ARN, true), (S_ARN, false)], "switching-over"), &[]).unwrap();
        assert!(why.contains("already under way (FailoverState switching-over)"), "{why}");
        let mut modifying = g.clone();
        modifying.status = "modifying".into();
        assert!(switchover_refusal(&modifying, &[]).unwrap().contains("modifying"));
    }

    #[tokio::test(start_paused = true)]
    async fn switchover_back_to_the_primary_goes_through_the_writers_region() {
        // After a failover the secondary writes: the switchover is sent through us-east-2.
        let mut p = MockRdsApi::new();
        let mut s = MockRdsApi::new();
        p.expect_describe_global_cluster().times(1).returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        p.expect_describe_cluster().withf(|id| id == "aurora-primary-dev").times(1).returning(|_| Ok(Some(cluster("available"))));
        s.expect_describe_cluster().withf(|id| id == "aurora-secondary-dev").times(1).returning(|_| Ok(Some(cluster("available"))));
        let mut seq = Sequence::new();
        s.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        s.expect_switchover_global_cluster()
            .withf(|g, t| g == "aurora-global-dev" && t == P_ARN)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        s.expect_describe_global_cluster()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        p.expect_switchover_global_cluster().never();
        let m = switch_over(&cfg(), &p, &s, Placement::Primary).await.unwrap();
        assert_eq!((m.to.as_str(), m.through_region.as_str(), m.planned, m.changed), (P_ARN, "us-east-2", true, true));
    }

    #[tokio::test(start_paused = true)]
    async fn switchover_with_a_member_unreachable_is_refused_before_any_change() {
        let mut p = MockRdsApi::new();
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().times(1).returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        p.expect_describe_cluster().returning(|_| Err(dispatch_failure()));
        s.expect_describe_cluster().returning(|_| Ok(Some(cluster("available"))));
        p.expect_switchover_global_cluster().never();
        s.expect_switchover_global_cluster().never();
        let e = switch_over(&cfg(), &p, &s, Placement::Secondary).await.unwrap_err().to_string();
        assert!(e.contains("switchover refused") && e.contains("us-east-1 does not answer"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn switchover_to_the_writer_is_a_no_op_and_aws_refusal_is_explained() {
        let p = MockRdsApi::new();
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().times(1).returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        let m = switch_over(&cfg(), &p, &s, Placement::Secondary).await.unwrap();
        assert!(!m.changed);

        // AWS refuses (a member still pending-resync): the message says why.
        let mut p = MockRdsApi::new();
        let mut s = MockRdsApi::new();
        p.expect_describe_global_cluster().times(1).returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        p.expect_describe_cluster().returning(|_| Ok(Some(cluster("available"))));
        s.expect_describe_cluster().returning(|_| Ok(Some(cluster("available"))));
        s.expect_describe_global_cluster().returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        s.expect_switchover_global_cluster()
            .returning(|_, _| Err(AwsError::other("InvalidGlobalClusterStateFault", "member is pending-resync")));
        let e = switch_over(&cfg(), &p, &s, Placement::Primary).await.unwrap_err().to_string();
        assert!(e.contains("AWS refused the switchover (member is pending-resync)") && e.contains("resynchronizing"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn planned_switchover_to_the_secondary_goes_through_the_primary() {
        let mut p = MockRdsApi::new();
        let mut s = MockRdsApi::new();
        s.expect_describe_global_cluster().times(1).returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        p.expect_describe_cluster().returning(|_| Ok(Some(cluster("available"))));
        s.expect_describe_cluster().returning(|_| Ok(Some(cluster("available"))));
        let mut seq = Sequence::new();
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global(&[(P_ARN, true), (S_ARN, false)]))));
        p.expect_switchover_global_cluster().withf(|_, t| t == S_ARN).times(1).in_sequence(&mut seq).returning(|_, _| Ok(()));
        p.expect_describe_global_cluster().times(1).in_sequence(&mut seq).returning(|_| Ok(Some(global(&[(P_ARN, false), (S_ARN, true)]))));
        let m = switch_over(&cfg(), &p, &s, Placement::Secondary).await.unwrap();
        assert_eq!((m.to.as_str(), m.through_region.as_str()), (S_ARN, "us-east-1"));
    }
}
