//! `tandem status`: live health and replication lag of both regions, read from AWS using
//! the ids recorded in the stack's outputs (Route 53 health checks, CloudWatch metrics).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use serde::Serialize;
use tandem_core::aws::{AwsContext, ROUTE53_REGION};
use tandem_core::config::Config;
use tandem_core::contracts::{ids, AuroraOutputs, BucketOutputs, HealthOutputs, TableOutputs};
use tandem_core::state::StateDoc;
use tandem_core::{from_outputs, Placement};

#[derive(Debug, Serialize)]
pub struct Health {
    pub region: String,
    pub check: String,
    pub health_check_id: String,
    /// Share of Route 53 checkers reporting healthy, or an error.
    pub status: String,
    pub healthy: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Lag {
    pub what: String,
    pub region: String,
    pub metric: String,
    /// Latest average over the last 15 minutes, or None when there is no datapoint yet.
    pub value: Option<f64>,
    pub unit: String,
}

#[derive(Debug, Serialize, Default)]
pub struct Live {
    pub health: Vec<Health>,
    pub replication: Vec<Lag>,
}

fn outputs<T: serde::de::DeserializeOwned>(doc: &StateDoc, id: &str) -> Option<T> {
    doc.components.get(id).and_then(|c| from_outputs(&c.outputs).ok())
}

/// Reads health-check status and replication lag. Errors are reported per item.
pub async fn live(cfg: &Config, aws: &AwsContext, doc: &StateDoc) -> Live {
    let mut live = Live::default();
    let r53 = aws_sdk_route53::Client::new(&aws.config(ROUTE53_REGION));
    for p in [Placement::Primary, Placement::Secondary] {
        let region = cfg.region_of(p).to_string();
        let Some(h) = outputs::<HealthOutputs>(doc, &ids::health(p)) else { continue };
        for (check, id) in [("api", h.api_check_id), ("nlb", h.nlb_check_id)] {
            let (status, healthy) = match r53.get_health_check_status().health_check_id(&id).send().await {
                Ok(out) => {
                    let obs = out.health_check_observations();
                    let ok = obs
                        .iter()
                        .filter(|o| o.status_report().and_then(|r| r.status()).is_some_and(|s| s.starts_with("Success")))
                        .count();
                    if obs.is_empty() {
                        ("no observations yet".to_string(), None)
                    } else {
                        (format!("{ok}/{} checkers healthy", obs.len()), Some(ok * 2 > obs.len()))
                    }
                }
                Err(e) => (format!("error: {}", aws_smithy_types::error::display::DisplayErrorContext(&e)), None),
            };
            live.health.push(Health { region: region.clone(), check: check.into(), health_check_id: id, status, healthy });
        }
    }
    let secondary = cfg.secondary_region.clone();
    let primary = cfg.primary_region.clone();
    // (what, region, namespace, metric, dimensions, unit)
    type Metric<'a> = (String, String, &'a str, &'a str, Vec<(&'a str, String)>, &'a str);
    let mut metrics: Vec<Metric> = Vec::new();
    if let Some(a) = outputs::<AuroraOutputs>(doc, &ids::aurora(Placement::Secondary)) {
        metrics.push(("aurora".into(), secondary.clone(), "AWS/RDS", "AuroraGlobalDBReplicationLag", vec![("DBClusterIdentifier", a.cluster_id)], "ms"));
    }
    if let Some(t) = outputs::<TableOutputs>(doc, ids::TABLE) {
        metrics.push(("dynamodb".into(), primary.clone(), "AWS/DynamoDB", "ReplicationLatency", vec![("TableName", t.table_name), ("ReceivingRegion", secondary.clone())], "ms"));
    }
    if let (Some(src), Some(dst)) = (outputs::<BucketOutputs>(doc, &ids::bucket(Placement::Primary)), outputs::<BucketOutputs>(doc, &ids::bucket(Placement::Secondary))) {
        if let Some(rule) = src.replication_rule_id.clone() {
            metrics.push((
                "s3".into(),
                primary.clone(),
                "AWS/S3",
                "ReplicationLatency",
                vec![("SourceBucket", src.bucket_name), ("DestinationBucket", dst.bucket_name), ("RuleId", rule)],
                "s",
            ));
        }
    }
    let mut clients: BTreeMap<String, aws_sdk_cloudwatch::Client> = BTreeMap::new();
    let end = SystemTime::now();
    let start = end - Duration::from_secs(900);
    for (what, region, ns, name, dims, unit) in metrics {
        let cw = clients.entry(region.clone()).or_insert_with(|| aws_sdk_cloudwatch::Client::new(&aws.config(&region))).clone();
        let mut req = cw
            .get_metric_statistics()
            .namespace(ns)
            .metric_name(name)
            .start_time(start.into())
            .end_time(end.into())
            .period(60)
            .statistics(Statistic::Average);
        for (k, v) in dims {
            req = req.dimensions(Dimension::builder().name(k).value(v).build());
        }
        let value = match req.send().await {
            Ok(out) => {
                let mut dps = out.datapoints().to_vec();
                dps.sort_by_key(|d| d.timestamp().map(|t| t.secs()));
                dps.last().and_then(|d| d.average())
            }
            Err(e) => {
                tracing::warn!(metric = name, region = %region, error = %aws_smithy_types::error::display::DisplayErrorContext(&e), "cannot read metric");
                None
            }
        };
        live.replication.push(Lag { what, region, metric: name.into(), value, unit: unit.into() });
    }
    live
}

pub fn print(live: &Live) {
    if !live.health.is_empty() {
        println!("\nHealth (Route 53):");
        for h in &live.health {
            let mark = match h.healthy {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "?",
            };
            println!("  {mark} {:<10} {:<4} {} ({})", h.region, h.check, h.status, h.health_check_id);
        }
    }
    if !live.replication.is_empty() {
        println!("\nReplication lag (last 15 min):");
        for l in &live.replication {
            let v = l.value.map(|v| format!("{v:.1} {}", l.unit)).unwrap_or_else(|| "no data yet".into());
            println!("  {:<9} {:<10} {:<30} {v}", l.what, l.region, l.metric);
        }
    }
}
