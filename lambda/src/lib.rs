//! The functions Tandem deploys, in one `bootstrap` binary for `provided.al2023` (x86_64):
//! the environment variable `TANDEM_HANDLER` picks the function, so every function in both
//! regions runs byte-identical code (one CodeSha256, one package to build and compare).
//!
//! - [`api`]: the regional API (`/health`, `/items/{id}`) behind API Gateway and the ALB.
//! - [`replicator`]: copies Parameter Store changes to the other region.
//! - [`processor`]: records EventBridge events in the DynamoDB table.
//! - [`probe`]: the failover controller's probe (secondary region, every minute): checks
//!   the primary's regional API and NLB, publishes `PrimaryHealthy` and the decision input
//!   `PrimaryDown`, re-invokes the failover handler while the decision alarm stays in ALARM.
//! - [`failover`]: the failover controller's handler (secondary region, the decision
//!   alarm's Lambda action): re-checks, then fails the Aurora global database over and
//!   publishes `FailedOver`.
//! - [`replication`]: the replication-stall rule both share; [`contract`]: the metric and
//!   flag names shared with `tandem_core::contracts`.
//!
//! Handler logic is plain async code over the traits of [`clients`], unit-tested with
//! mockall; `main.rs` only wires the real aws-sdk clients into `lambda_runtime`.

pub mod api;
pub mod clients;
pub mod contract;
pub mod entry;
pub mod failover;
pub mod probe;
pub mod processor;
pub mod replication;
pub mod replicator;

/// Which function this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Api,
    Replicator,
    Processor,
    Probe,
    Failover,
}

impl std::str::FromStr for Handler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "api" => Ok(Handler::Api),
            "replicator" => Ok(Handler::Replicator),
            "processor" => Ok(Handler::Processor),
            "probe" => Ok(Handler::Probe),
            "failover" => Ok(Handler::Failover),
            other => Err(format!(
                "TANDEM_HANDLER={other:?} is not one of api, replicator, processor, probe, failover"
            )),
        }
    }
}

/// Reads environment variables through a lookup, collecting every missing or invalid one
/// so a misconfigured function says everything that is wrong at once.
struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    missing: Vec<&'static str>,
    invalid: Vec<String>,
}

impl<'a> Env<'a> {
    fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            get,
            missing: Vec::new(),
            invalid: Vec::new(),
        }
    }

    fn optional(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    fn required(&mut self, name: &'static str) -> String {
        match self.optional(name) {
            Some(v) => v,
            None => {
                self.missing.push(name);
                String::new()
            }
        }
    }

    /// An optional variable parsed as `T`, `default` when unset.
    fn parsed<T: std::str::FromStr>(&mut self, name: &'static str, default: T, what: &str) -> T {
        match self.optional(name) {
            None => default,
            Some(v) => match v.trim().parse() {
                Ok(t) => t,
                Err(_) => {
                    self.invalid.push(format!("{name}={v:?} (expected {what})"));
                    default
                }
            },
        }
    }

    fn finish<T>(self, value: T) -> Result<T, String> {
        let mut problems = Vec::new();
        if !self.missing.is_empty() {
            problems.push(format!(
                "missing environment variables: {}",
                self.missing.join(", ")
            ));
        }
        if !self.invalid.is_empty() {
            problems.push(format!(
                "invalid environment variables: {}",
                self.invalid.join(", ")
            ));
        }
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The settings of the `api`, `replicator` and `processor` functions, from the environment
/// the compute component sets.
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
    /// This region's Aurora cluster (`DB_CLUSTER_ID`, optional): when set, the API's
    /// `/health` reports the `database_writer` check (see [`api`]).
    pub db_cluster_id: Option<String>,
    /// `GET /items/{id}` without the API key (`PUBLIC_READS=true`, `[api] public_reads`);
    /// writes always need it.
    pub public_reads: bool,
}

impl Settings {
    /// The String parameter holding the API key's SHA-256 (hex): the only parameter the
    /// API function reads.
    pub fn api_key_sha256_parameter(&self) -> String {
        format!(
            "{}/{}",
            self.parameter_path.trim_end_matches('/'),
            contract::API_KEY_SHA256_LEAF
        )
    }

    /// Reads the settings through `get` (the process environment in `main`); lists every
    /// missing variable at once.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut env = Env::new(&get);
        let settings = Settings {
            region: env.required("AWS_REGION"),
            role: env.required("TANDEM_ROLE"),
            table_name: env.required("TABLE_NAME"),
            parameter_path: env.required("PARAMETER_PATH"),
            dest_region: env.required("DEST_REGION"),
            db_cluster_id: env.optional("DB_CLUSTER_ID"),
            public_reads: env.parsed("PUBLIC_READS", false, "true or false"),
        };
        env.finish(settings)
    }
}

/// What the probe and the failover handler both check: the primary region's endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimaryEndpoints {
    /// The primary's regional API URL + `/health` (execute-api invoke URL; never the
    /// failover name or the accelerator) (`PRIMARY_HEALTH_URL`).
    pub health_url: String,
    /// The primary NLB's `/health` URL (`PRIMARY_NLB_URL`).
    pub nlb_url: String,
    /// Optional (`PRIMARY_NLB_ADDRESS`): the NLB's DNS name to connect to when
    /// `nlb_url` names the API's domain (so its certificate verifies) instead of the NLB.
    pub nlb_address: Option<String>,
}

/// The `probe` function's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    /// `AWS_REGION` (the secondary region).
    pub region: String,
    /// The stack's suffix (`TANDEM_STACK`): the metric's `Stack` dimension.
    pub stack: String,
    pub primary: PrimaryEndpoints,
    /// The decision alarm's name (`DECISION_ALARM`).
    pub decision_alarm: String,
    /// The Aurora global cluster identifier (`GLOBAL_CLUSTER_ID`).
    pub global_cluster_id: String,
    /// The primary cluster's ARN (`PRIMARY_CLUSTER_ARN`).
    pub primary_cluster_arn: String,
    /// The failover handler's function name or ARN (`FAILOVER_FUNCTION`).
    pub failover_function: String,
    /// `SECONDARY_CLUSTER_ARN` (the same variable as the failover handler's): its
    /// identifier names the replication metrics' `DBClusterIdentifier` for `PrimaryDown`.
    pub secondary_cluster_arn: String,
    /// Replication lag that counts as a stall (`STALL_LAG_MS`, default 60000; the same
    /// variable and default as the failover handler's).
    pub stall_lag_ms: f64,
}

/// Lists a variable that must be a DB cluster ARN but is not.
fn check_cluster_arns(env: &mut Env<'_>, arns: &[(&str, &str)]) {
    for (name, arn) in arns {
        if !arn.is_empty() && ClusterArn::parse(arn).is_none() {
            env.invalid.push(format!(
                "{name}={arn:?} (expected arn:aws:rds:<region>:<account>:cluster:<id>)"
            ));
        }
    }
}

impl ProbeSettings {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut env = Env::new(&get);
        let settings = ProbeSettings {
            region: env.required("AWS_REGION"),
            stack: env.required("TANDEM_STACK"),
            primary: PrimaryEndpoints {
                health_url: env.required("PRIMARY_HEALTH_URL"),
                nlb_url: env.required("PRIMARY_NLB_URL"),
                nlb_address: env.optional("PRIMARY_NLB_ADDRESS"),
            },
            decision_alarm: env.required("DECISION_ALARM"),
            global_cluster_id: env.required("GLOBAL_CLUSTER_ID"),
            primary_cluster_arn: env.required("PRIMARY_CLUSTER_ARN"),
            failover_function: env.required("FAILOVER_FUNCTION"),
            secondary_cluster_arn: env.required("SECONDARY_CLUSTER_ARN"),
            stall_lag_ms: env.parsed(
                "STALL_LAG_MS",
                replication::DEFAULT_STALL_LAG_MS,
                "milliseconds",
            ),
        };
        check_cluster_arns(
            &mut env,
            &[("SECONDARY_CLUSTER_ARN", &settings.secondary_cluster_arn)],
        );
        env.finish(settings)
    }
}

/// The `failover` function's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FailoverSettings {
    /// `AWS_REGION` (the secondary region).
    pub region: String,
    /// The stack's suffix (`TANDEM_STACK`): names the suppression parameter
    /// `/tandem/<stack>/failover/suppressed` and the copied snapshot.
    pub stack: String,
    pub primary: PrimaryEndpoints,
    /// `DECISION_ALARM`.
    pub decision_alarm: String,
    /// `GLOBAL_CLUSTER_ID`.
    pub global_cluster_id: String,
    /// `PRIMARY_CLUSTER_ARN`: its region and identifier locate the lost-writes snapshot.
    pub primary_cluster_arn: String,
    /// `SECONDARY_CLUSTER_ARN`: the failover target; its identifier names the replication
    /// metrics' `DBClusterIdentifier`.
    pub secondary_cluster_arn: String,
    /// The alert topic in this region (`ALERT_TOPIC_ARN`).
    pub alert_topic_arn: String,
    /// `[failover] automatic` (`AUTOMATIC`, `true`/`false`, default true): when false
    /// the handler only alerts, naming `tandem failover --unplanned`.
    pub automatic: bool,
    /// How recent the alarm's change to ALARM must be (`ALARM_MAX_AGE_SECS`, default 900).
    pub alarm_max_age_secs: i64,
    /// Replication lag that counts as a stall (`STALL_LAG_MS`, default 60000).
    pub stall_lag_ms: f64,
    /// How long to wait for the writer to move after FailoverGlobalCluster
    /// (`FAILOVER_WAIT_SECS`, default 120).
    pub failover_wait_secs: u64,
}

impl FailoverSettings {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut env = Env::new(&get);
        let settings = FailoverSettings {
            region: env.required("AWS_REGION"),
            stack: env.required("TANDEM_STACK"),
            primary: PrimaryEndpoints {
                health_url: env.required("PRIMARY_HEALTH_URL"),
                nlb_url: env.required("PRIMARY_NLB_URL"),
                nlb_address: env.optional("PRIMARY_NLB_ADDRESS"),
            },
            decision_alarm: env.required("DECISION_ALARM"),
            global_cluster_id: env.required("GLOBAL_CLUSTER_ID"),
            primary_cluster_arn: env.required("PRIMARY_CLUSTER_ARN"),
            secondary_cluster_arn: env.required("SECONDARY_CLUSTER_ARN"),
            alert_topic_arn: env.required("ALERT_TOPIC_ARN"),
            automatic: env.parsed("AUTOMATIC", true, "true or false"),
            alarm_max_age_secs: env.parsed("ALARM_MAX_AGE_SECS", 900, "seconds"),
            stall_lag_ms: env.parsed(
                "STALL_LAG_MS",
                replication::DEFAULT_STALL_LAG_MS,
                "milliseconds",
            ),
            failover_wait_secs: env.parsed("FAILOVER_WAIT_SECS", 120, "seconds"),
        };
        check_cluster_arns(
            &mut env,
            &[
                ("PRIMARY_CLUSTER_ARN", &settings.primary_cluster_arn),
                ("SECONDARY_CLUSTER_ARN", &settings.secondary_cluster_arn),
            ],
        );
        env.finish(settings)
    }
}

/// The parts of a DB cluster ARN, `arn:<partition>:rds:<region>:<account>:cluster:<id>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterArn {
    pub region: String,
    pub cluster_id: String,
}

impl ClusterArn {
    pub fn parse(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        match parts.as_slice() {
            ["arn", _, "rds", region, _, "cluster", id] if !region.is_empty() && !id.is_empty() => {
                Some(Self {
                    region: region.to_string(),
                    cluster_id: id.to_string(),
                })
            }
            _ => None,
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
    fn old_handlers_do_not_need_the_controller_variables() {
        let env: HashMap<&str, &str> = HashMap::from([
            ("AWS_REGION", "us-east-1"),
            ("TANDEM_ROLE", "primary"),
            ("TABLE_NAME", "table-t"),
            ("PARAMETER_PATH", "/tandem/t/"),
            ("DEST_REGION", "us-east-2"),
        ]);
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.db_cluster_id, None);
        assert!(!s.public_reads, "reads need the key unless configured");
        assert_eq!(s.api_key_sha256_parameter(), "/tandem/t/api-key-sha256");
        let mut public = env.clone();
        public.insert("PUBLIC_READS", "true");
        assert!(Settings::from_lookup(|k| public.get(k).map(|v| v.to_string())).unwrap().public_reads);
        public.insert("PUBLIC_READS", "yes");
        let err = Settings::from_lookup(|k| public.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(err.contains("PUBLIC_READS"), "{err}");
    }

    fn failover_env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("AWS_REGION", "us-east-2"),
            ("TANDEM_STACK", "t"),
            (
                "PRIMARY_HEALTH_URL",
                "https://abc.execute-api.us-east-1.amazonaws.com/v1/health",
            ),
            (
                "PRIMARY_NLB_URL",
                "https://nlb-1.elb.us-east-1.amazonaws.com/health",
            ),
            ("DECISION_ALARM", "tandem-t-failover-decision"),
            ("GLOBAL_CLUSTER_ID", "aurora-global-t"),
            (
                "PRIMARY_CLUSTER_ARN",
                "arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-t",
            ),
            (
                "SECONDARY_CLUSTER_ARN",
                "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-t",
            ),
            (
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:us-east-2:123456789012:tandem-t-alerts",
            ),
        ])
    }

    #[test]
    fn failover_settings_defaults_and_every_problem_listed() {
        let env = failover_env();
        let s = FailoverSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert!(s.automatic);
        assert_eq!(s.alarm_max_age_secs, 900);
        assert_eq!(s.primary.nlb_address, None);

        let mut env = failover_env();
        env.remove("ALERT_TOPIC_ARN");
        env.remove("GLOBAL_CLUSTER_ID");
        env.insert("AUTOMATIC", "maybe");
        env.insert("SECONDARY_CLUSTER_ARN", "aurora-secondary-t");
        let err = FailoverSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        for needle in [
            "ALERT_TOPIC_ARN",
            "GLOBAL_CLUSTER_ID",
            "AUTOMATIC=\"maybe\"",
            "SECONDARY_CLUSTER_ARN",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }

        let mut env = failover_env();
        env.insert("AUTOMATIC", "false");
        let s = FailoverSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert!(!s.automatic);
    }

    #[test]
    fn probe_settings_list_every_missing_variable() {
        let env = failover_env();
        let err = ProbeSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err, "missing environment variables: FAILOVER_FUNCTION");

        let mut env = failover_env();
        env.insert("FAILOVER_FUNCTION", "tandem-t-failover");
        let s = ProbeSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            s.secondary_cluster_arn,
            "arn:aws:rds:us-east-2:123456789012:cluster:aurora-secondary-t"
        );
        assert_eq!(s.stall_lag_ms, 60_000.0);

        // The probe needs the secondary cluster (the same variable as the failover handler).
        env.remove("SECONDARY_CLUSTER_ARN");
        let err = ProbeSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err, "missing environment variables: SECONDARY_CLUSTER_ARN");
        env.insert("SECONDARY_CLUSTER_ARN", "aurora-secondary-t");
        env.insert("STALL_LAG_MS", "soon");
        let err = ProbeSettings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(
            err.contains("SECONDARY_CLUSTER_ARN=\"aurora-secondary-t\"")
                && err.contains("STALL_LAG_MS=\"soon\""),
            "{err}"
        );
    }

    #[test]
    fn cluster_arns_parse() {
        assert_eq!(
            ClusterArn::parse("arn:aws:rds:us-east-1:123456789012:cluster:aurora-primary-t"),
            Some(ClusterArn {
                region: "us-east-1".into(),
                cluster_id: "aurora-primary-t".into()
            })
        );
        assert_eq!(ClusterArn::parse("arn:aws:rds:us-east-1:1:db:x"), None);
        assert_eq!(ClusterArn::parse("aurora-primary-t"), None);
    }

    #[test]
    fn handler_names() {
        assert_eq!("api".parse::<Handler>(), Ok(Handler::Api));
        assert_eq!("processor".parse::<Handler>(), Ok(Handler::Processor));
        assert_eq!("probe".parse::<Handler>(), Ok(Handler::Probe));
        assert_eq!("failover".parse::<Handler>(), Ok(Handler::Failover));
        assert!("x"
            .parse::<Handler>()
            .unwrap_err()
            .contains("api, replicator, processor, probe, failover"));
    }
}
