//! The Lambda entry point for every function: the `bootstrap` and `tandem-lambda`
//! binaries call [`run`].

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use crate::api::Api;
use crate::clients::ProbeHttp;
use crate::failover::Failover;
use crate::probe::{Probe, HTTP_TIMEOUT};
use crate::processor::Processor;
use crate::replicator::Replicator;
use crate::{ClusterArn, FailoverSettings, Handler, ProbeSettings, Settings};

/// The controller's AWS calls: short timeouts and few retries (its own handler-level
/// retries are explicit), in `region` or the function's own region.
async fn controller_sdk(region: Option<String>) -> aws_config::SdkConfig {
    let mut loader = aws_config::from_env()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(25))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2));
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

/// Variables the Lambda service always sets; `lambda_runtime` panics without them, so they
/// are checked first to fail with a message instead (e.g. when run by hand).
const RUNTIME_VARS: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Runs the handler the environment names (`TANDEM_HANDLER`) under the Lambda runtime.
pub async fn run() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .without_time() // CloudWatch Logs timestamps every line
        .with_target(false)
        .init();

    let missing: Vec<&str> = RUNTIME_VARS
        .iter()
        .copied()
        .filter(|v| std::env::var(v).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "not running inside AWS Lambda (missing {}); this binary is the `bootstrap` of a provided.al2023 function",
            missing.join(", ")
        )
        .into());
    }
    let handler: Handler = std::env::var("TANDEM_HANDLER")
        .unwrap_or_default()
        .parse()?;
    let env = |k: &str| std::env::var(k).ok();

    match handler {
        Handler::Api => {
            let settings = Settings::from_lookup(env)?;
            let sdk = aws_config::load_from_env().await;
            let database: Option<Arc<dyn crate::clients::AuroraApi>> =
                match settings.db_cluster_id {
                    Some(_) => Some(Arc::new(aws_sdk_rds::Client::new(
                        &controller_sdk(None).await,
                    ))),
                    None => None,
                };
            let api = Arc::new(Api {
                settings,
                table: Arc::new(aws_sdk_dynamodb::Client::new(&sdk)),
                parameters: Arc::new(aws_sdk_ssm::Client::new(&sdk)),
                database,
                writer_cache: Default::default(),
                key_cache: Default::default(),
            });
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let api = api.clone();
                async move { Ok::<Value, Error>(api.handle(event.payload).await) }
            }))
            .await
        }
        Handler::Replicator => {
            let settings = Settings::from_lookup(env)?;
            let sdk = aws_config::load_from_env().await;
            let dest_sdk = aws_config::from_env()
                .region(aws_config::Region::new(settings.dest_region.clone()))
                .load()
                .await;
            let replicator = Arc::new(Replicator {
                settings,
                source: Arc::new(aws_sdk_ssm::Client::new(&sdk)),
                dest: Arc::new(aws_sdk_ssm::Client::new(&dest_sdk)),
            });
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let replicator = replicator.clone();
                async move { replicator.handle(event.payload).await }
            }))
            .await
        }
        Handler::Processor => {
            let settings = Settings::from_lookup(env)?;
            let sdk = aws_config::load_from_env().await;
            let processor = Arc::new(Processor {
                settings,
                table: Arc::new(aws_sdk_dynamodb::Client::new(&sdk)),
            });
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let processor = processor.clone();
                async move { processor.handle(event.payload).await }
            }))
            .await
        }
        Handler::Probe => {
            let settings = ProbeSettings::from_lookup(env)?;
            let sdk = controller_sdk(None).await;
            let nlb_address = settings.primary.nlb_address.clone();
            let probe = Arc::new(Probe {
                settings,
                api_http: Arc::new(ProbeHttp::new(HTTP_TIMEOUT, None)),
                nlb_http: Arc::new(ProbeHttp::new(HTTP_TIMEOUT, nlb_address)),
                metrics: Arc::new(aws_sdk_cloudwatch::Client::new(&sdk)),
                aurora: Arc::new(aws_sdk_rds::Client::new(&sdk)),
                functions: Arc::new(aws_sdk_lambda::Client::new(&sdk)),
                parameters: Arc::new(aws_sdk_ssm::Client::new(&sdk)),
            });
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let probe = probe.clone();
                async move { probe.handle(event.payload).await }
            }))
            .await
        }
        Handler::Failover => {
            let settings = FailoverSettings::from_lookup(env)?;
            let sdk = controller_sdk(None).await;
            // The lost-writes snapshot lives in the old primary's region (from its ARN).
            let primary_region = ClusterArn::parse(&settings.primary_cluster_arn).map(|a| a.region);
            let primary_sdk = controller_sdk(primary_region).await;
            let nlb_address = settings.primary.nlb_address.clone();
            let failover = Arc::new(Failover {
                settings,
                api_http: Arc::new(ProbeHttp::new(HTTP_TIMEOUT, None)),
                nlb_http: Arc::new(ProbeHttp::new(HTTP_TIMEOUT, nlb_address)),
                metrics: Arc::new(aws_sdk_cloudwatch::Client::new(&sdk)),
                aurora: Arc::new(aws_sdk_rds::Client::new(&sdk)),
                primary_aurora: Arc::new(aws_sdk_rds::Client::new(&primary_sdk)),
                parameters: Arc::new(aws_sdk_ssm::Client::new(&sdk)),
                topic: Arc::new(aws_sdk_sns::Client::new(&sdk)),
            });
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let failover = failover.clone();
                async move { failover.handle(event.payload).await }
            }))
            .await
        }
    }
}
