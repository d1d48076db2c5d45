//! The embedding example against the emulator: apply builds one VPC per region and an
//! active peering between them (checked with the raw SDK), a second apply changes nothing,
//! destroy leaves none of them.

use aws_sdk_ec2::types::Filter;
use tandem_core::Config;
use tandem_example_embed::Stack;

async fn tagged_vpcs(ec2: &aws_sdk_ec2::Client, suffix: &str) -> Vec<String> {
    let out = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("tag:tandem:stack").values(suffix).build())
        .send()
        .await
        .expect("DescribeVpcs on the emulator");
    out.vpcs().iter().filter_map(|v| v.vpc_id().map(str::to_string)).collect()
}

#[tokio::test]
async fn embeds_two_networks_and_their_peering() {
    std::env::set_var("TANDEM_POLL_INTERVAL_MS", "50");
    let aws = tandem_core::testing::moto_context().await;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let suffix = format!("emb{}", nanos % 100_000);
    let cfg = Config::example(&suffix);
    let dir = tempfile::tempdir().expect("temp dir");
    let primary = aws_sdk_ec2::Client::new(&aws.config(&cfg.primary_region));
    let secondary = aws_sdk_ec2::Client::new(&aws.config(&cfg.secondary_region));

    let stack = Stack::new(&cfg, &aws, dir.path()).expect("stack");
    let out = stack.apply().await.expect("apply");
    assert_eq!(tagged_vpcs(&primary, &suffix).await, vec![out.primary.vpc_id.clone()]);
    assert_eq!(tagged_vpcs(&secondary, &suffix).await, vec![out.secondary.vpc_id.clone()]);
    let peering = primary
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(&out.peering.peering_connection_id)
        .send()
        .await
        .expect("DescribeVpcPeeringConnections");
    let pcx = peering.vpc_peering_connections().first().expect("the peering exists");
    assert_eq!(pcx.status().and_then(|s| s.code()).map(|c| c.as_str()), Some("active"));
    assert_eq!(pcx.requester_vpc_info().and_then(|v| v.vpc_id()), Some(out.primary.vpc_id.as_str()));
    assert_eq!(pcx.accepter_vpc_info().and_then(|v| v.vpc_id()), Some(out.secondary.vpc_id.as_str()));

    // A second apply over the same state: same resources, nothing new.
    let again = stack.apply().await.expect("second apply");
    assert_eq!(again.peering.peering_connection_id, out.peering.peering_connection_id);
    assert_eq!(tagged_vpcs(&primary, &suffix).await.len(), 1);

    stack.destroy().await.expect("destroy");
    assert!(tagged_vpcs(&primary, &suffix).await.is_empty(), "primary VPC left");
    assert!(tagged_vpcs(&secondary, &suffix).await.is_empty(), "secondary VPC left");
    let gone = primary
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(&out.peering.peering_connection_id)
        .send()
        .await
        .expect("DescribeVpcPeeringConnections after destroy");
    let status = gone.vpc_peering_connections().first().and_then(|p| p.status()).and_then(|s| s.code()).map(|c| c.as_str().to_string());
    assert!(matches!(status.as_deref(), None | Some("deleted")), "peering still {status:?}");
}
