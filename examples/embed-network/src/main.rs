//! `embed-network [--destroy] [--suffix NAME] [--state-dir DIR]`: applies (or destroys) a
//! VPC in each region and their peering with Tandem's components, then prints the outputs.
//! The AWS endpoint and credentials come from the usual AWS environment (`AWS_ENDPOINT_URL`
//! for the local emulator: see `scripts/local-aws env`).

use std::path::PathBuf;

use anyhow::Context;
use tandem_core::aws::AwsContext;
use tandem_core::Config;
use tandem_example_embed::Stack;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut destroy, mut suffix, mut state_dir) = (false, "embed".to_string(), PathBuf::from(".tandem"));
    while let Some(a) = args.next() {
        match a.as_str() {
            "--destroy" => destroy = true,
            "--suffix" => suffix = args.next().context("--suffix needs a value")?,
            "--state-dir" => state_dir = args.next().context("--state-dir needs a value")?.into(),
            other => anyhow::bail!("unknown argument {other}; usage: embed-network [--destroy] [--suffix NAME] [--state-dir DIR]"),
        }
    }
    let cfg = Config::example(&suffix);
    let aws = AwsContext::load().await;
    let stack = Stack::new(&cfg, &aws, &state_dir)?;
    if destroy {
        let report = stack.destroy().await?;
        println!("destroyed {} components in {:.1} s", report.outcomes.len(), report.wall.as_secs_f64());
        return Ok(());
    }
    let out = stack.apply().await?;
    println!("{} vpc {} ({})", cfg.primary_region, out.primary.vpc_id, out.primary.cidr);
    println!("{} vpc {} ({})", cfg.secondary_region, out.secondary.vpc_id, out.secondary.cidr);
    println!("peering {}", out.peering.peering_connection_id);
    Ok(())
}
