//! Aurora Global Database against the emulator: apply both clusters, check them with the real
//! RDS and SSM clients (the global cluster's membership from both regions), apply again (no
//! change), switch over and fail over (served by the emulator's extension, emulator/rds.py),
//! destroy (secondary first), check gone, destroy again.

use std::sync::Arc;

use tandem_core::aws::AwsContext;
use tandem_core::contracts::{ids, AuroraOutputs, NetworkOutputs};
use tandem_core::{from_outputs, Component, Config, Ctx, Drift, Placement};
use tandem_data::aurora;

fn unique(prefix: &str) -> String {
    format!("{prefix}{:06x}", rand_suffix())
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ std::process::id()) & 0xff_ffff
}

/// A VPC with two private subnets in two AZs and a DB security group, made directly with EC2
/// (moto's CreateDBSubnetGroup checks that the subnets exist).
pub async fn network(aws: &AwsContext, region: &str, cidr_prefix: &str) -> NetworkOutputs {
    let ec2 = aws_sdk_ec2::Client::new(&aws.config(region));
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("{cidr_prefix}.0.0/16"))
        .send()
        .await
        .expect("vpc");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    let mut azs = Vec::new();
    for (i, az) in ["a", "b"].iter().enumerate() {
        let az = format!("{region}{az}");
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("{cidr_prefix}.{}.0/24", i + 10))
            .availability_zone(&az)
            .send()
            .await
            .expect("subnet");
        subnets.push(
            s.subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string(),
        );
        azs.push(az);
    }
    let sg = ec2
        .create_security_group()
        .group_name(format!("db-{}", rand_suffix()))
        .description("db")
        .vpc_id(&vpc_id)
        .send()
        .await
        .expect("sg");
    NetworkOutputs {
        vpc_id,
        cidr: format!("{cidr_prefix}.0.0/16"),
        azs,
        public_subnet_ids: Vec::new(),
        private_subnet_ids: subnets,
        internet_gateway_id: "igw-test".into(),
        public_route_table_id: "rtb-test".into(),
        private_route_table_ids: Vec::new(),
        db_security_group_id: sg.group_id().expect("sg id").to_string(),
        lb_security_group_id: "sg-lb".into(),
    }
}

/// Environment of the moto server this process starts: fast polls, and AWS managed IAM
/// policies loaded (the backup role attaches `AWSBackupServiceRolePolicyForBackup`; moto only
/// knows AWS managed policies with `MOTO_IAM_LOAD_MANAGED_POLICIES=true`).
pub fn moto_env() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
    std::env::set_var("MOTO_IAM_LOAD_MANAGED_POLICIES", "true");
}

pub fn config(suffix: &str) -> Config {
    Config::example(suffix)
}

fn find(components: &[Arc<dyn Component>], id: &str) -> Arc<dyn Component> {
    components
        .iter()
        .find(|c| c.id() == id)
        .cloned()
        .unwrap_or_else(|| panic!("no component {id}"))
}

/// Applies both Aurora components; returns (primary outputs, secondary outputs, contexts).
pub async fn apply_aurora(
    aws: &AwsContext,
    cfg: &Config,
) -> (
    AuroraOutputs,
    AuroraOutputs,
    Ctx,
    Ctx,
    Vec<Arc<dyn Component>>,
) {
    let net_p = network(aws, &cfg.primary_region, "10.61").await;
    let net_s = network(aws, &cfg.secondary_region, "10.62").await;
    let comps = aurora::components(cfg, aws);
    let primary = find(&comps, "aurora-primary");
    let secondary = find(&comps, "aurora-secondary");
    let ctx_p = Ctx::standalone("aurora-primary", &cfg.primary_region)
        .with_input(&ids::network(Placement::Primary), &net_p);
    let out_p: AuroraOutputs =
        from_outputs(&primary.apply(&ctx_p).await.expect("apply primary")).expect("outputs");
    let ctx_s = Ctx::standalone("aurora-secondary", &cfg.secondary_region)
        .with_input(&ids::network(Placement::Secondary), &net_s)
        .with_input(&ids::aurora(Placement::Primary), &out_p);
    let out_s: AuroraOutputs =
        from_outputs(&secondary.apply(&ctx_s).await.expect("apply secondary")).expect("outputs");
    (out_p, out_s, ctx_p, ctx_s, comps)
}

/// Reads and applies both Aurora components over their previous run (the secondary still
/// given the primary's first outputs, as the engine would from state) and checks: in sync,
/// the same outputs, journals unchanged, and the writer (raw SDK) still `writer_arn`.
async fn apply_changes_nothing(
    both: &[(&Arc<dyn Component>, &Ctx, &AuroraOutputs); 2],
    rds: &aws_sdk_rds::Client,
    writer_arn: &str,
) {
    for (c, ctx, out) in both {
        assert_eq!(c.read(ctx).await.expect("read"), Drift::InSync, "{} after the writer moved", c.id());
        let before = ctx.journal_entries().await;
        let again: AuroraOutputs = from_outputs(&c.apply(ctx).await.expect("apply")).expect("outputs");
        assert_eq!(&again, *out, "{}: outputs stable after the writer moved", c.id());
        assert_eq!(ctx.journal_entries().await, before, "{}: apply changed something", c.id());
    }
    let g = rds
        .describe_global_clusters()
        .global_cluster_identifier(&both[0].2.global_cluster_id)
        .send()
        .await
        .expect("describe global clusters");
    let g = &g.global_clusters()[0];
    let writers: Vec<&str> = g
        .global_cluster_members()
        .iter()
        .filter(|m| m.is_writer() == Some(true))
        .filter_map(|m| m.db_cluster_arn())
        .collect();
    assert_eq!(writers, vec![writer_arn], "apply left the writer where it was");
    assert_eq!(g.endpoint(), Some(both[0].2.global_writer_endpoint.as_str()), "the global writer endpoint is stable");
    assert!(g.failover_state().is_none(), "no switchover or failover started by apply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_global_database_lifecycle() {
    moto_env();
    let aws = tandem_core::testing::moto_context().await;
    let suffix = unique("au");
    let cfg = config(&suffix);
    let (out_p, out_s, ctx_p, ctx_s, comps) = apply_aurora(&aws, &cfg).await;
    let primary = find(&comps, "aurora-primary");
    let secondary = find(&comps, "aurora-secondary");

    // Outputs and names.
    assert_eq!(out_p.global_cluster_id, format!("aurora-global-{suffix}"));
    assert_eq!(out_p.cluster_id, format!("aurora-primary-{suffix}"));
    assert_eq!(out_p.instance_id, format!("aurora-primary-{suffix}-1"));
    assert_eq!(out_s.cluster_id, format!("aurora-secondary-{suffix}"));
    assert_eq!(out_s.global_cluster_id, out_p.global_cluster_id);
    assert_eq!(out_p.port, 5432);
    assert!(out_p.cluster_arn.contains(":us-east-1:") && out_s.cluster_arn.contains(":us-east-2:"));
    assert!(!out_p.writer_endpoint.is_empty() && !out_p.reader_endpoint.is_empty());
    assert_eq!(
        out_p.password_parameter.as_deref(),
        Some(format!("/tandem/{suffix}/db/master-password").as_str())
    );
    assert_eq!(out_s.password_parameter, None);

    // Real clients: what SPEC says exists.
    let rds_p = aws_sdk_rds::Client::new(&aws.config("us-east-1"));
    let rds_s = aws_sdk_rds::Client::new(&aws.config("us-east-2"));
    let c = rds_p
        .describe_db_clusters()
        .db_cluster_identifier(&out_p.cluster_id)
        .send()
        .await
        .expect("cluster");
    let c = &c.db_clusters()[0];
    assert_eq!(c.engine(), Some("aurora-postgresql"));
    assert_eq!(c.storage_encrypted(), Some(true));
    assert_eq!(c.deletion_protection(), Some(false));
    assert_eq!(c.master_username(), Some("tandem"));
    assert_eq!(
        c.global_cluster_identifier(),
        Some(out_p.global_cluster_id.as_str())
    );
    let scaling = c
        .serverless_v2_scaling_configuration()
        .expect("serverless v2");
    assert_eq!(
        (scaling.min_capacity(), scaling.max_capacity()),
        (Some(0.5), Some(4.0))
    );
    assert!(c
        .tag_list()
        .iter()
        .any(|t| t.key() == Some("tandem:stack") && t.value() == Some(suffix.as_str())));
    let i = rds_p
        .describe_db_instances()
        .db_instance_identifier(&out_p.instance_id)
        .send()
        .await
        .expect("instance");
    assert_eq!(
        i.db_instances()[0].db_instance_class(),
        Some("db.serverless")
    );
    let cs = rds_s
        .describe_db_clusters()
        .db_cluster_identifier(&out_s.cluster_id)
        .send()
        .await
        .expect("secondary");
    assert_eq!(cs.db_clusters()[0].storage_encrypted(), Some(true));
    rds_s
        .describe_db_instances()
        .db_instance_identifier(&out_s.instance_id)
        .send()
        .await
        .expect("secondary instance");
    rds_s
        .describe_db_subnet_groups()
        .db_subnet_group_name(&out_s.cluster_id)
        .send()
        .await
        .expect("secondary subnet group");
    let g = rds_p
        .describe_global_clusters()
        .send()
        .await
        .expect("global");
    let g = g
        .global_clusters()
        .iter()
        .find(|g| g.global_cluster_identifier() == Some(out_p.global_cluster_id.as_str()))
        .expect("global cluster");
    assert_eq!(g.storage_encrypted(), Some(true));
    // The password is a 32-character SecureString, present only in SSM.
    let ssm = aws_sdk_ssm::Client::new(&aws.config("us-east-1"));
    let param = out_p.password_parameter.clone().expect("param");
    let p = ssm
        .get_parameter()
        .name(&param)
        .with_decryption(true)
        .send()
        .await
        .expect("password parameter");
    let p = p.parameter().expect("parameter");
    assert_eq!(p.r#type().map(|t| t.as_str()), Some("SecureString"));
    let password = p.value().expect("value").to_string();
    assert_eq!(password.len(), 32);
    assert!(!password.contains(['/', '@', '"', ' ']));
    for (outs, ctx, comp) in [(&out_p, &ctx_p, &primary), (&out_s, &ctx_s, &secondary)] {
        let all = format!(
            "{outs:?} {:?} {:?}",
            ctx.journal_entries().await,
            comp.desired()
        );
        assert!(!all.contains(&password), "password leaked");
    }

    // Membership, with the raw SDK from both regions: one global cluster, the primary the
    // writer, the secondary a reader member, and a global writer endpoint.
    for rds in [&rds_p, &rds_s] {
        let g = rds
            .describe_global_clusters()
            .global_cluster_identifier(&out_p.global_cluster_id)
            .send()
            .await
            .expect("describe global clusters");
        let g = &g.global_clusters()[0];
        let mut members: Vec<(&str, bool)> = g
            .global_cluster_members()
            .iter()
            .map(|m| (m.db_cluster_arn().unwrap_or_default(), m.is_writer().unwrap_or(false)))
            .collect();
        members.sort();
        let mut want = vec![(out_p.cluster_arn.as_str(), true), (out_s.cluster_arn.as_str(), false)];
        want.sort();
        assert_eq!(members, want);
        assert!(g.endpoint().is_some_and(|e| e.ends_with(".global.rds.amazonaws.com")), "{:?}", g.endpoint());
        // Both components publish the global writer endpoint, as RDS answers it.
        assert_eq!(g.endpoint(), Some(out_p.global_writer_endpoint.as_str()));
        assert_eq!(g.endpoint(), Some(out_s.global_writer_endpoint.as_str()));
    }
    assert_ne!(out_p.global_writer_endpoint, out_p.writer_endpoint, "not the primary cluster's endpoint");
    let (view_p, _) = aurora::rds_clients(&cfg, &aws);
    let gi = view_p
        .describe_global_cluster(&out_p.global_cluster_id)
        .await
        .expect("describe")
        .expect("global");
    assert_eq!(gi.writer(), Some(out_p.cluster_arn.as_str()));
    assert!(gi.member(&out_s.cluster_arn).is_some_and(|m| !m.is_writer));
    assert_eq!(primary.read(&ctx_p).await.expect("read"), Drift::InSync);
    assert_eq!(secondary.read(&ctx_s).await.expect("read"), Drift::InSync);

    // Apply again: same outputs, no journal change (no mutating call journaled).
    let before_p = ctx_p.journal_entries().await;
    let before_s = ctx_s.journal_entries().await;
    let again_p: AuroraOutputs =
        from_outputs(&primary.apply(&ctx_p).await.expect("re-apply")).expect("outputs");
    let again_s: AuroraOutputs =
        from_outputs(&secondary.apply(&ctx_s).await.expect("re-apply")).expect("outputs");
    assert_eq!((again_p, again_s), (out_p.clone(), out_s.clone()));
    assert_eq!(ctx_p.journal_entries().await, before_p);
    assert_eq!(ctx_s.journal_entries().await, before_s);
    // The password was not rotated by the second apply.
    let p2 = ssm
        .get_parameter()
        .name(&param)
        .with_decryption(true)
        .send()
        .await
        .expect("password parameter");
    assert_eq!(
        p2.parameter().and_then(|p| p.value()),
        Some(password.as_str())
    );

    // Planned switchover to the secondary, back to the primary, then an unplanned failover
    // to the secondary (through the secondary region only). After each move, whichever
    // cluster writes: read is in sync, apply makes no change (same outputs, journals
    // untouched, roles left as they are).
    let (rp, rs) = tandem_data::aurora::rds_clients(&cfg, &aws);
    let writer = |g: Option<tandem_data::aurora::GlobalClusterInfo>| g.and_then(|g| g.writer().map(str::to_string));
    let both = [(&primary, &ctx_p, &out_p), (&secondary, &ctx_s, &out_s)];
    let m = tandem_data::switch_over(&cfg, rp.as_ref(), rs.as_ref(), Placement::Secondary)
        .await
        .expect("switchover");
    assert_eq!(m.to, out_s.cluster_arn, "{m:?}");
    let gi = view_p.describe_global_cluster(&out_p.global_cluster_id).await.expect("describe");
    assert_eq!(writer(gi).as_deref(), Some(out_s.cluster_arn.as_str()));
    apply_changes_nothing(&both, &rds_s, &out_s.cluster_arn).await;
    let m = tandem_data::switch_over(&cfg, rp.as_ref(), rs.as_ref(), Placement::Primary)
        .await
        .expect("switchover back");
    assert!(m.changed && m.planned && m.through_region == cfg.secondary_region, "{m:?}");
    let gi = view_p.describe_global_cluster(&out_p.global_cluster_id).await.expect("describe");
    assert_eq!(writer(gi).as_deref(), Some(out_p.cluster_arn.as_str()));
    apply_changes_nothing(&both, &rds_s, &out_p.cluster_arn).await;
    let m = tandem_data::fail_over_to_secondary(&cfg, rs.as_ref())
        .await
        .expect("failover");
    assert!(m.summary().starts_with("failover") && m.to == out_s.cluster_arn, "{m:?}");
    apply_changes_nothing(&both, &rds_s, &out_s.cluster_arn).await;
    apply_changes_nothing(&both, &rds_s, &out_s.cluster_arn).await;

    // Destroy, secondary first (it is the writer now: destroy hands the role back first).
    secondary.destroy(&ctx_s).await.expect("destroy secondary");
    primary.destroy(&ctx_p).await.expect("destroy primary");
    let gone = |r: Result<(), tandem_core::AwsError>| r.err().is_some_and(|e| e.is_not_found());
    let e = rds_p
        .describe_db_clusters()
        .db_cluster_identifier(&out_p.cluster_id)
        .send()
        .await
        .map(|_| ())
        .map_err(tandem_core::AwsError::from_sdk);
    assert!(gone(e), "primary cluster still there");
    let e = rds_s
        .describe_db_clusters()
        .db_cluster_identifier(&out_s.cluster_id)
        .send()
        .await
        .map(|_| ())
        .map_err(tandem_core::AwsError::from_sdk);
    assert!(gone(e), "secondary cluster still there");
    let e = rds_p
        .describe_db_instances()
        .db_instance_identifier(&out_p.instance_id)
        .send()
        .await
        .map(|_| ())
        .map_err(tandem_core::AwsError::from_sdk);
    assert!(gone(e), "primary instance still there");
    let e = rds_s
        .describe_db_subnet_groups()
        .db_subnet_group_name(&out_s.cluster_id)
        .send()
        .await
        .map(|_| ())
        .map_err(tandem_core::AwsError::from_sdk);
    assert!(gone(e), "secondary subnet group still there");
    let e = rds_p
        .describe_db_subnet_groups()
        .db_subnet_group_name(&out_p.cluster_id)
        .send()
        .await
        .map(|_| ())
        .map_err(tandem_core::AwsError::from_sdk);
    assert!(gone(e), "primary subnet group still there");
    let g = rds_p
        .describe_global_clusters()
        .send()
        .await
        .expect("global");
    assert!(!g
        .global_clusters()
        .iter()
        .any(|g| g.global_cluster_identifier() == Some(out_p.global_cluster_id.as_str())));
    let e = ssm
        .get_parameter()
        .name(&param)
        .send()
        .await
        .map(|_| ())
        .map_err(tandem_core::AwsError::from_sdk);
    assert!(gone(e), "password parameter still there");
    assert!(
        ctx_p.journal_entries().await.is_empty(),
        "{:?}",
        ctx_p.journal_entries().await
    );
    assert!(ctx_s.journal_entries().await.is_empty());
    assert!(matches!(
        primary.read(&ctx_p).await.expect("read"),
        Drift::Missing { .. }
    ));

    // A second destroy is a no-op.
    secondary
        .destroy(&ctx_s)
        .await
        .expect("second destroy secondary");
    primary
        .destroy(&ctx_p)
        .await
        .expect("second destroy primary");
}

/// The engine version of `cluster` (raw SDK).
async fn engine_version_of(rds: &aws_sdk_rds::Client, cluster: &str) -> (String, String) {
    let out = rds.describe_db_clusters().db_cluster_identifier(cluster).send().await.expect("describe cluster");
    let c = out.db_clusters().first().expect("cluster");
    (c.engine_version().unwrap_or_default().to_string(), c.db_cluster_arn().unwrap_or_default().to_string())
}

/// `database.engine_version` changes are upgrades in place: a minor one (ModifyDBCluster per
/// member, served by moto) and a major one (ModifyGlobalCluster, served by emulator/rds.py)
/// keep both clusters (same ARNs); a downgrade is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aurora_engine_upgrades_in_place_minor_then_major_and_refuses_a_downgrade() {
    moto_env();
    let aws = tandem_core::testing::moto_context().await;
    let mut cfg = config(&unique("up"));
    cfg.database.engine_version = "16.6".into();
    let (_out_p, _out_s, ctx_p, ctx_s, _comps) = apply_aurora(&aws, &cfg).await;
    let rds_p = aws_sdk_rds::Client::new(&aws.config(&cfg.primary_region));
    let rds_s = aws_sdk_rds::Client::new(&aws.config(&cfg.secondary_region));
    let (pid, sid) = (aurora::cluster_id(Placement::Primary, &cfg.environment_suffix), aurora::cluster_id(Placement::Secondary, &cfg.environment_suffix));
    let (v_p, arn_p) = engine_version_of(&rds_p, &pid).await;
    let (v_s, arn_s) = engine_version_of(&rds_s, &sid).await;
    assert_eq!((v_p.as_str(), v_s.as_str()), ("16.6", "16.6"));

    for version in ["16.8", "17.4"] {
        let mut next = cfg.clone();
        next.database.engine_version = version.into();
        let comps = aurora::components(&next, &aws);
        let primary = find(&comps, "aurora-primary");
        let secondary = find(&comps, "aurora-secondary");
        primary.apply(&ctx_p).await.unwrap_or_else(|e| panic!("upgrade to {version} (primary): {e}"));
        secondary.apply(&ctx_s).await.unwrap_or_else(|e| panic!("upgrade to {version} (secondary): {e}"));
        assert_eq!(engine_version_of(&rds_p, &pid).await, (version.to_string(), arn_p.clone()), "primary upgraded in place");
        assert_eq!(engine_version_of(&rds_s, &sid).await, (version.to_string(), arn_s.clone()), "secondary upgraded in place");
        assert_eq!(primary.read(&ctx_p).await.expect("read"), Drift::InSync);
    }
    let gid = aurora::global_cluster_id(&cfg.environment_suffix);
    let g = rds_p.describe_global_clusters().global_cluster_identifier(&gid).send().await.expect("global");
    assert_eq!(g.global_clusters().first().and_then(|g| g.engine_version()), Some("17.4"), "the major upgrade went through the global cluster");

    let mut older = cfg.clone();
    older.database.engine_version = "16.8".into();
    let comps = aurora::components(&older, &aws);
    let e = find(&comps, "aurora-primary").apply(&ctx_p).await.expect_err("a downgrade is refused").to_string();
    assert!(e.contains("cannot downgrade") && e.contains(&pid), "{e}");
    assert_eq!(engine_version_of(&rds_p, &pid).await.0, "17.4");

    let comps = aurora::components(&cfg, &aws);
    find(&comps, "aurora-secondary").destroy(&ctx_s).await.expect("destroy secondary");
    find(&comps, "aurora-primary").destroy(&ctx_p).await.expect("destroy primary");
}
