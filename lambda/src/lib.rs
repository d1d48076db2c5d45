//! The functions Tandem deploys, in one `bootstrap` binary for `provided.al2023` (x86_64):
//! the environment variable `TANDEM_HANDLER` picks the function, so every function in both
//! regions runs byte-identical code (one CodeSha256, one package to build and compare).
//!
//! - [`api`]: the regional API (`/health`, `/items/{id}`) behind API Gateway and the ALB.
//! - [`replicator`]: copies Parameter Store changes to the other region.
//! - [`processor`]: records EventBridge events in the DynamoDB table.
//!
//! Handler logic is plain async code over the traits of [`clients`], unit-tested with
//! mockall; `main.rs` only wires the real aws-sdk clients into `lambda_runtime`.

pub mod api;
pub mod clients;
pub mod processor;
pub mod replicator;

/// Which function this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Api,
    Replicator,
    Processor,
}

impl std::str::FromStr for Handler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "api" => Ok(Handler::Api),
            "replicator" => Ok(Handler::Replicator),
            "processor" => Ok(Handler::Processor),
            other => Err(format!(
                "TANDEM_HANDLER={other:?} is not one of api, replicator, processor"
            )),
        }
    }
}

/// The function's settings, from the environment the compute component sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The region the function runs in (`AWS_REGION`).
    pub region: String,
    /// `primary` or `secondary` (`TANDEM_ROLE`).
    pub role: String,
    /// The DynamoDB global table (`TABLE_NAME`).
    pub table_name: String,
    /// The stack's parameter path, e.g. `/tandem/dev/` (`PARAMETER_PATH`).
    pub parameter_path: String,
    /// The other region (`DEST_REGION`): where the replicator writes.
    pub dest_region: String,
}

impl Settings {
    /// Reads the settings through `get` (the process environment in `main`); lists every
    /// missing variable at once.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut missing = Vec::new();
        let mut var = |name: &'static str| match get(name).filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => {
                missing.push(name);
                String::new()
            }
        };
        let settings = Settings {
            region: var("AWS_REGION"),
            role: var("TANDEM_ROLE"),
            table_name: var("TABLE_NAME"),
            parameter_path: var("PARAMETER_PATH"),
            dest_region: var("DEST_REGION"),
        };
        if missing.is_empty() {
            Ok(settings)
        } else {
            Err(format!(
                "missing environment variables: {}",
                missing.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn settings_list_every_missing_variable() {
        let env: HashMap<&str, &str> =
            HashMap::from([("AWS_REGION", "us-east-1"), ("TABLE_NAME", "table-t")]);
        let err = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(
            err.contains("TANDEM_ROLE")
                && err.contains("PARAMETER_PATH")
                && err.contains("DEST_REGION"),
            "{err}"
        );
        assert!(!err.contains("TABLE_NAME"));
    }

    #[test]
    fn handler_names() {
        assert_eq!("api".parse::<Handler>(), Ok(Handler::Api));
        assert_eq!("processor".parse::<Handler>(), Ok(Handler::Processor));
        assert!("x"
            .parse::<Handler>()
            .unwrap_err()
            .contains("api, replicator, processor"));
    }
}
