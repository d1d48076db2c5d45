//! `bootstrap`: the Lambda entry point for all three functions (see the library docs).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tandem_lambda::api::Api;
use tandem_lambda::processor::Processor;
use tandem_lambda::replicator::Replicator;
use tandem_lambda::{Handler, Settings};

/// Variables the Lambda service always sets; `lambda_runtime` panics without them, so they
/// are checked first to fail with a message instead (e.g. when run by hand).
const RUNTIME_VARS: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

#[tokio::main]
async fn main() -> Result<(), Error> {
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
    let settings = Settings::from_lookup(|k| std::env::var(k).ok())?;
    let sdk = aws_config::load_from_env().await;

    match handler {
        Handler::Api => {
            let api = Arc::new(Api {
                settings,
                table: Arc::new(aws_sdk_dynamodb::Client::new(&sdk)),
                parameters: Arc::new(aws_sdk_ssm::Client::new(&sdk)),
            });
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let api = api.clone();
                async move { Ok::<Value, Error>(api.handle(event.payload).await) }
            }))
            .await
        }
        Handler::Replicator => {
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
    }
}
