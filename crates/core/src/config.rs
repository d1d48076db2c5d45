//! Configuration: `tandem.toml` plus `TANDEM_*` environment overrides (through the `config`
//! crate), validated up front. [`load`] reports every problem at once, each with its key and
//! how to fix it, and never makes an AWS call.
//!
//! Environment overrides use `__` between sections: `TANDEM_ENVIRONMENT_SUFFIX=dev`,
//! `TANDEM_NETWORK__AZ_COUNT=3`.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Keys earlier releases read and this one refuses, each with why and what to do instead
/// (a removed key must not be silently ignored: it changed what was deployed).
pub const REMOVED_KEYS: &[(&str, &str, &str)] = &[(
    "simulate",
    "is no longer read: Tandem has no built-in fakes any more; the local emulator \
     (scripts/local-aws) now serves Global Accelerator, EventBridge global endpoints, DynamoDB \
     replicas, Aurora global switchover/failover and Backup selections itself",
    "delete the `simulate` line: the same configuration works against the emulator and against AWS",
)];

/// Real AWS commercial region names.
pub const AWS_REGIONS: &[&str] = &[
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-7", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ca-central-1", "ca-west-1",
    "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2",
    "eu-north-1", "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
];

/// The longest fixed part of any name the suffix goes into: `nlb-secondary-` (and
/// `alb-secondary-`) in load balancer names, which AWS limits to 32 characters.
pub const LONGEST_NAME_PREFIX: &str = "nlb-secondary-";
/// AWS limit on load balancer and target group names.
pub const ELB_NAME_LIMIT: usize = 32;
/// Maximum suffix length: ELB limit minus the longest prefix.
pub const MAX_SUFFIX_LEN: usize = ELB_NAME_LIMIT - LONGEST_NAME_PREFIX.len();

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub environment_suffix: String,
    #[serde(default = "default_primary")]
    pub primary_region: String,
    #[serde(default = "default_secondary")]
    pub secondary_region: String,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub dns: DnsConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub lambda: LambdaConfig,
    #[serde(default)]
    pub failover: FailoverConfig,
    #[serde(default)]
    pub state: StateConfig,
    /// The AWS account this stack lives in: when set, every command that changes AWS refuses
    /// credentials of any other account (`--expect-account` does the same per run).
    #[serde(default)]
    pub account_id: Option<AccountId>,
}

/// A 12-digit AWS account id, parsed once (config `account_id`, `--expect-account`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for AccountId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(AccountId(s.to_string()))
        } else {
            Err(format!("{s:?} is not an AWS account id (12 digits)"))
        }
    }
}

impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn default_primary() -> String {
    "us-east-1".into()
}
fn default_secondary() -> String {
    "us-east-2".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    #[serde(default = "d_primary_cidr")]
    pub primary_cidr: String,
    #[serde(default = "d_secondary_cidr")]
    pub secondary_cidr: String,
    #[serde(default = "d_az_count")]
    pub az_count: u32,
}
fn d_primary_cidr() -> String {
    "10.10.0.0/16".into()
}
fn d_secondary_cidr() -> String {
    "10.20.0.0/16".into()
}
fn d_az_count() -> u32 {
    2
}
impl Default for NetworkConfig {
    fn default() -> Self {
        Self { primary_cidr: d_primary_cidr(), secondary_cidr: d_secondary_cidr(), az_count: d_az_count() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiConfig {
    #[serde(default)]
    pub primary_domain: Option<String>,
    #[serde(default)]
    pub secondary_domain: Option<String>,
    #[serde(default)]
    pub primary_certificate_arn: Option<String>,
    #[serde(default)]
    pub secondary_certificate_arn: Option<String>,
    #[serde(default = "d_stage")]
    pub stage_name: String,
    /// `GET /items/{id}` without the API key (writes always need it). Default false.
    #[serde(default)]
    pub public_reads: bool,
    /// The usage plan's steady-state request rate (requests per second, per region).
    #[serde(default = "d_rate_limit")]
    pub throttle_rate_limit: f64,
    /// The usage plan's burst (requests, per region).
    #[serde(default = "d_burst_limit")]
    pub throttle_burst_limit: i32,
}
fn d_stage() -> String {
    "live".into()
}
fn d_rate_limit() -> f64 {
    50.0
}
fn d_burst_limit() -> i32 {
    100
}
impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            primary_domain: None,
            secondary_domain: None,
            primary_certificate_arn: None,
            secondary_certificate_arn: None,
            stage_name: d_stage(),
            public_reads: false,
            throttle_rate_limit: d_rate_limit(),
            throttle_burst_limit: d_burst_limit(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsConfig {
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    #[serde(default)]
    pub record_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthConfig {
    #[serde(default = "d_interval")]
    pub request_interval: u32,
    #[serde(default = "d_threshold")]
    pub failure_threshold: u32,
}
fn d_interval() -> u32 {
    10
}
fn d_threshold() -> u32 {
    3
}
impl Default for HealthConfig {
    fn default() -> Self {
        Self { request_interval: d_interval(), failure_threshold: d_threshold() }
    }
}

/// `[failover]`: the failover controller in the secondary region (see `DR.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverConfig {
    /// The controller fails the Aurora global database over on its own (default). `false`
    /// turns the decision into an alert that names `tandem failover --unplanned`.
    #[serde(default = "d_automatic")]
    pub automatic: bool,
    /// Consecutive minutes the probe must find the primary down (with Aurora's replication
    /// stalled) before the decision alarm fires.
    #[serde(default = "d_probe_failures")]
    pub probe_failures: u32,
    /// A third-region observer probe. Not deployed by this release: a value is refused.
    #[serde(default)]
    pub observer_region: Option<String>,
}
fn d_automatic() -> bool {
    true
}
fn d_probe_failures() -> u32 {
    3
}
impl Default for FailoverConfig {
    fn default() -> Self {
        Self { automatic: d_automatic(), probe_failures: d_probe_failures(), observer_region: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseConfig {
    #[serde(default = "d_engine_version")]
    pub engine_version: String,
    #[serde(default = "d_min")]
    pub min_capacity: f64,
    #[serde(default = "d_max")]
    pub max_capacity: f64,
}
fn d_engine_version() -> String {
    "16.6".into()
}
fn d_min() -> f64 {
    0.5
}
fn d_max() -> f64 {
    4.0
}
impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { engine_version: d_engine_version(), min_capacity: d_min(), max_capacity: d_max() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsConfig {
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LambdaConfig {
    #[serde(default)]
    pub package: Option<PathBuf>,
    /// How the package is built from `lambda/` when `package` is not set.
    #[serde(default)]
    pub build: LambdaBuild,
}

/// `[lambda] build`: the cargo profile of the Lambda package built from `lambda/`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LambdaBuild {
    /// `release` against AWS, `dev` when every call goes to a loopback endpoint (a local
    /// emulator, which never runs the code).
    #[default]
    Auto,
    /// The workspace's `lambda` profile (optimized, LTO, stripped): what AWS runs.
    Release,
    /// The `dev` profile, reusing what `cargo build` already compiled (stripped of symbols).
    Dev,
}

impl LambdaBuild {
    /// The values `[lambda] build` accepts.
    pub const NAMES: &'static [&'static str] = &["auto", "release", "dev"];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateConfig {
    /// `local` (default) or `s3`.
    #[serde(default = "d_backend")]
    pub backend: String,
    /// Directory of the local backend (default `.tandem`).
    #[serde(default = "d_state_dir")]
    pub dir: PathBuf,
    /// Bucket of the S3 backend.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Key prefix of the S3 backend (default `tandem/`).
    #[serde(default = "d_prefix")]
    pub prefix: String,
    /// Region of the S3 backend's bucket (default: primary_region).
    #[serde(default)]
    pub region: Option<String>,
    /// S3 backend: a lock older than this is taken over (its run is presumed dead).
    #[serde(default = "d_lock_expiry_minutes")]
    pub lock_expiry_minutes: u32,
}
fn d_lock_expiry_minutes() -> u32 {
    60
}
fn d_backend() -> String {
    "local".into()
}
fn d_prefix() -> String {
    "tandem/".into()
}
fn d_state_dir() -> PathBuf {
    PathBuf::from(".tandem")
}
impl Default for StateConfig {
    fn default() -> Self {
        Self { backend: d_backend(), dir: d_state_dir(), bucket: None, prefix: d_prefix(), region: None, lock_expiry_minutes: d_lock_expiry_minutes() }
    }
}

impl Config {
    /// The region of a placement (global components return the primary region).
    pub fn region_of(&self, p: crate::component::Placement) -> &str {
        match p {
            crate::component::Placement::Secondary => &self.secondary_region,
            _ => &self.primary_region,
        }
    }

    /// A minimal valid configuration (for tests and examples).
    pub fn example(suffix: &str) -> Self {
        Self {
            environment_suffix: suffix.to_string(),
            primary_region: default_primary(),
            secondary_region: default_secondary(),
            network: NetworkConfig::default(),
            api: ApiConfig::default(),
            dns: DnsConfig::default(),
            health: HealthConfig::default(),
            database: DatabaseConfig::default(),
            alerts: AlertsConfig::default(),
            lambda: LambdaConfig::default(),
            failover: FailoverConfig::default(),
            state: StateConfig::default(),
            account_id: None,
        }
    }
}

/// One configuration problem: the key, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub key: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.key, self.message, self.fix)
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} has {} problem(s):", self.source_name, self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Str,
    Int,
    Num,
    Bool,
    Table,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Str => "a string",
            Ty::Int => "an integer",
            Ty::Num => "a number",
            Ty::Bool => "true or false",
            Ty::Table => "a table",
        }
    }
}

const SCHEMA: &[(&str, Ty)] = &[
    ("environment_suffix", Ty::Str),
    ("account_id", Ty::Str),
    ("primary_region", Ty::Str),
    ("secondary_region", Ty::Str),
    ("network", Ty::Table),
    ("network.primary_cidr", Ty::Str),
    ("network.secondary_cidr", Ty::Str),
    ("network.az_count", Ty::Int),
    ("api", Ty::Table),
    ("api.primary_domain", Ty::Str),
    ("api.secondary_domain", Ty::Str),
    ("api.primary_certificate_arn", Ty::Str),
    ("api.secondary_certificate_arn", Ty::Str),
    ("api.stage_name", Ty::Str),
    ("api.public_reads", Ty::Bool),
    ("api.throttle_rate_limit", Ty::Num),
    ("api.throttle_burst_limit", Ty::Int),
    ("dns", Ty::Table),
    ("dns.hosted_zone_id", Ty::Str),
    ("dns.record_name", Ty::Str),
    ("health", Ty::Table),
    ("health.request_interval", Ty::Int),
    ("health.failure_threshold", Ty::Int),
    ("database", Ty::Table),
    ("database.engine_version", Ty::Str),
    ("database.min_capacity", Ty::Num),
    ("database.max_capacity", Ty::Num),
    ("alerts", Ty::Table),
    ("alerts.email", Ty::Str),
    ("lambda", Ty::Table),
    ("lambda.package", Ty::Str),
    ("lambda.build", Ty::Str),
    ("failover", Ty::Table),
    ("failover.automatic", Ty::Bool),
    ("failover.probe_failures", Ty::Int),
    ("failover.observer_region", Ty::Str),
    ("state", Ty::Table),
    ("state.dir", Ty::Str),
    ("state.backend", Ty::Str),
    ("state.bucket", Ty::Str),
    ("state.prefix", Ty::Str),
    ("state.region", Ty::Str),
    ("state.lock_expiry_minutes", Ty::Int),
];

/// Loads `path` (which must exist) with `TANDEM_*` overrides, and validates it.
/// `suffix_override` is the CLI's `--stack`.
pub fn load(path: &Path, suffix_override: Option<&str>) -> Result<Config, ConfigError> {
    let source_name = path.display().to_string();
    let fail = |key: &str, message: String, fix: &str| ConfigError {
        source_name: source_name.clone(),
        problems: vec![Problem { key: key.into(), message, fix: fix.into() }],
    };
    if !path.exists() {
        return Err(fail(
            "(file)",
            format!("configuration file {} not found", path.display()),
            "create it (see examples/local.toml) or pass --config FILE",
        ));
    }
    let builder = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix("TANDEM")
                .source(Some(config_env()))
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true),
        );
    let built = builder.build().map_err(|e| fail("(file)", format!("cannot parse: {e}"), "fix the TOML syntax at the position shown"))?;
    let mut value: Value = built
        .try_deserialize()
        .map_err(|e| fail("(file)", format!("cannot read: {e}"), "fix the TOML syntax at the position shown"))?;
    if let (Some(s), Some(obj)) = (suffix_override, value.as_object_mut()) {
        obj.insert("environment_suffix".into(), Value::String(s.to_string()));
    }
    // `TANDEM_ACCOUNT_ID=012345678901` arrives parsed as a number: an account id is a
    // string of 12 digits, leading zeros included.
    if let Some(obj) = value.as_object_mut() {
        if let Some(n) = obj.get("account_id").and_then(Value::as_u64).filter(|n| *n < 1_000_000_000_000) {
            obj.insert("account_id".into(), Value::String(format!("{n:012}")));
        }
    }
    validate_value(&value, &source_name)
}

/// Environment variables that are settings of the tool, its test harness or the Lambda
/// functions it deploys, not configuration keys (they are not read as overrides).
pub const RESERVED_ENV: &[&str] = &[
    "TANDEM_LOG",
    "TANDEM_POLL_INTERVAL_MS",
    "TANDEM_STATE_DIR",
    "TANDEM_MOTO_ENDPOINT",
    "TANDEM_HANDLER",
    "TANDEM_ROLE",
    "TANDEM_BIN",
];

fn config_env() -> std::collections::HashMap<String, String> {
    std::env::vars().filter(|(k, _)| k.starts_with("TANDEM_") && !RESERVED_ENV.contains(&k.as_str())).collect()
}

/// Validates an already-parsed TOML/JSON tree (used by [`load`] and by tests).
pub fn validate_value(value: &Value, source_name: &str) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    check_schema(value, "", &mut problems);
    if problems.is_empty() {
        match serde_json::from_value::<Config>(normalise(value.clone())) {
            Ok(cfg) => problems.extend(validate(&cfg)),
            Err(e) => problems.push(Problem {
                key: "(file)".into(),
                message: e.to_string(),
                fix: "set environment_suffix and check value types".into(),
            }),
        }
    } else {
        // Still report semantic problems of the keys that are well-typed.
        if let Ok(cfg) = serde_json::from_value::<Config>(normalise(strip_bad(value, &problems))) {
            problems.extend(validate(&cfg));
        }
    }
    if problems.is_empty() {
        serde_json::from_value::<Config>(normalise(value.clone())).map_err(|e| ConfigError {
            source_name: source_name.into(),
            problems: vec![Problem { key: "(file)".into(), message: e.to_string(), fix: "check value types".into() }],
        })
    } else {
        problems.sort_by(|a, b| a.key.cmp(&b.key));
        problems.dedup();
        Err(ConfigError { source_name: source_name.into(), problems })
    }
}

/// Integer-valued capacities are numbers too; env overrides of numbers arrive parsed.
fn normalise(v: Value) -> Value {
    v
}

fn strip_bad(value: &Value, problems: &[Problem]) -> Value {
    let mut v = value.clone();
    for p in problems {
        let parts: Vec<&str> = p.key.split('.').collect();
        remove_path(&mut v, &parts);
    }
    if v.get("environment_suffix").is_none() {
        if let Some(o) = v.as_object_mut() {
            o.insert("environment_suffix".into(), Value::String("placeholder".into()));
        }
    }
    v
}

fn remove_path(v: &mut Value, parts: &[&str]) {
    if let Some(obj) = v.as_object_mut() {
        if parts.len() == 1 {
            obj.remove(parts[0]);
        } else if let Some(child) = obj.get_mut(parts[0]) {
            remove_path(child, &parts[1..]);
        }
    }
}

fn check_schema(value: &Value, prefix: &str, problems: &mut Vec<Problem>) {
    let Some(obj) = value.as_object() else { return };
    for (k, v) in obj {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        if let Some((_, message, fix)) = REMOVED_KEYS.iter().find(|(name, _, _)| *name == key) {
            problems.push(Problem { key, message: (*message).into(), fix: (*fix).into() });
            continue;
        }
        match SCHEMA.iter().find(|(name, _)| *name == key) {
            None => {
                let candidates: Vec<&str> = SCHEMA
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| n.matches('.').count() == key.matches('.').count())
                    .collect();
                let best = candidates
                    .iter()
                    .map(|c| (strsim::jaro_winkler(c, &key), *c))
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .filter(|(s, _)| *s > 0.75);
                let fix = match best {
                    Some((_, c)) => format!("did you mean `{c}`?"),
                    None => "remove it; see the README for the keys".to_string(),
                };
                problems.push(Problem { key, message: "unknown key".into(), fix });
            }
            Some((_, ty)) => {
                let ok = match ty {
                    Ty::Str => v.is_string(),
                    Ty::Int => v.is_u64() || v.is_i64(),
                    Ty::Num => v.is_number(),
                    Ty::Bool => v.is_boolean(),
                    Ty::Table => v.is_object(),
                };
                if !ok {
                    problems.push(Problem {
                        key: key.clone(),
                        message: format!("must be {}, got {}", ty.name(), describe(v)),
                        fix: format!("write {} for {key}", ty.name()),
                    });
                } else if *ty == Ty::Table {
                    check_schema(v, &key, problems);
                } else if key == "lambda.build" {
                    if let Some(other) = v.as_str().filter(|b| !LambdaBuild::NAMES.contains(b)) {
                        problems.push(Problem {
                            key,
                            message: format!("unknown build {other:?}"),
                            fix: "use \"auto\" (release against AWS, dev against a loopback emulator), \"release\" or \"dev\"".into(),
                        });
                    }
                } else if key == "account_id" {
                    if let Some(Err(message)) = v.as_str().map(str::parse::<AccountId>) {
                        problems.push(Problem { key, message, fix: "write the 12-digit account id as a string, e.g. account_id = \"123456789012\"".into() });
                    }
                }
            }
        }
    }
    if prefix.is_empty() && obj.get("environment_suffix").is_none() {
        problems.push(Problem {
            key: "environment_suffix".into(),
            message: "is required".into(),
            fix: "set environment_suffix = \"dev\" (lowercase letters, digits, hyphens) or pass --stack".into(),
        });
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a table".into(),
    }
}

fn p(key: &str, message: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem { key: key.into(), message: message.into(), fix: fix.into() }
}

/// Semantic checks of a typed configuration.
pub fn validate(cfg: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let s = &cfg.environment_suffix;
    if s.is_empty() {
        out.push(p("environment_suffix", "must not be empty", "set a short name such as \"dev\""));
    } else {
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            out.push(p("environment_suffix", format!("{s:?} has characters other than a-z, 0-9 and -"), "use lowercase letters, digits and hyphens only"));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) || s.ends_with('-') || s.contains("--") {
            out.push(p("environment_suffix", format!("{s:?} must start with a letter, not end with a hyphen, and have no double hyphen (RDS and S3 naming rules)"), "e.g. \"dev\" or \"team-a\""));
        }
        if s.len() > MAX_SUFFIX_LEN {
            out.push(p(
                "environment_suffix",
                format!("{s:?} is {} characters; load balancer names (`{LONGEST_NAME_PREFIX}<suffix>`) are limited to {ELB_NAME_LIMIT}", s.len()),
                format!("use at most {MAX_SUFFIX_LEN} characters"),
            ));
        }
    }
    if !(cfg.api.throttle_rate_limit.is_finite() && cfg.api.throttle_rate_limit > 0.0) {
        out.push(p("api.throttle_rate_limit", format!("{} is not a positive number of requests per second", cfg.api.throttle_rate_limit), "e.g. 50"));
    }
    if cfg.api.throttle_burst_limit < 1 {
        out.push(p("api.throttle_burst_limit", format!("{} is not a positive number of requests", cfg.api.throttle_burst_limit), "e.g. 100"));
    }
    for (key, r) in [("primary_region", &cfg.primary_region), ("secondary_region", &cfg.secondary_region)] {
        if !AWS_REGIONS.contains(&r.as_str()) {
            let best = AWS_REGIONS.iter().map(|c| (strsim::jaro_winkler(c, r), *c)).max_by(|a, b| a.0.total_cmp(&b.0));
            let fix = best.map(|(_, c)| format!("use a real AWS region name, e.g. {c}")).unwrap_or_default();
            out.push(p(key, format!("{r:?} is not an AWS region"), fix));
        }
    }
    if cfg.primary_region == cfg.secondary_region {
        out.push(p("secondary_region", "must differ from primary_region", "pick another region, e.g. us-east-2"));
    }
    let az = cfg.network.az_count;
    if az < 2 {
        out.push(p("network.az_count", format!("must be at least 2 (got {az})"), "set az_count = 2 or more"));
    } else if az > 6 {
        out.push(p("network.az_count", format!("must be at most 6 (got {az})"), "no region used here has more than 6 AZs; set az_count <= 6"));
    }
    let mut nets = Vec::new();
    for (key, c) in [("network.primary_cidr", &cfg.network.primary_cidr), ("network.secondary_cidr", &cfg.network.secondary_cidr)] {
        match c.parse::<Ipv4Net>() {
            Err(_) => out.push(p(key, format!("{c:?} is not an IPv4 CIDR"), "write it like 10.10.0.0/16")),
            Ok(n) if n.network() != n.addr() => {
                out.push(p(key, format!("{c:?} has host bits set"), format!("use {}", n.trunc())))
            }
            Ok(n) if n.prefix_len() < 16 || n.prefix_len() > 24 => out.push(p(
                key,
                format!("{c:?}: AWS VPCs are /16 to /28, and Tandem carves {} subnets of /prefix+4 (at least /28), so the VPC must be /16 to /24", 2 * az.max(2)),
                "use a /16 to /24 block",
            )),
            Ok(n) => {
                if !is_private(n.addr()) {
                    out.push(p(key, format!("{c:?} is not in a private (RFC 1918) range"), "use 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"));
                }
                nets.push(n)
            }
        }
    }
    if nets.len() == 2 && (nets[0].contains(&nets[1].network()) || nets[1].contains(&nets[0].network())) {
        out.push(p("network.secondary_cidr", format!("{} overlaps primary_cidr {}: VPC peering needs disjoint ranges", nets[1], nets[0]), "pick a disjoint block, e.g. 10.20.0.0/16"));
    }
    let (min, max) = (cfg.database.min_capacity, cfg.database.max_capacity);
    for (key, v) in [("database.min_capacity", min), ("database.max_capacity", max)] {
        if !(0.0..=256.0).contains(&v) || (v * 2.0).fract() != 0.0 {
            out.push(p(key, format!("{v} ACUs is outside Serverless v2's range 0 to 256 in steps of 0.5"), "use a multiple of 0.5 between 0 and 256"));
        }
    }
    if max < 1.0 {
        out.push(p("database.max_capacity", format!("{max} is below Serverless v2's minimum maximum of 1 ACU"), "set max_capacity >= 1"));
    }
    if min > max {
        out.push(p("database.min_capacity", format!("{min} is above max_capacity {max}"), "make min_capacity <= max_capacity"));
    }
    if cfg.database.engine_version.trim().is_empty() {
        out.push(p("database.engine_version", "must not be empty", "e.g. \"16.6\" (aurora-postgresql)"));
    }
    for (key, d) in [("api.primary_domain", &cfg.api.primary_domain), ("api.secondary_domain", &cfg.api.secondary_domain), ("dns.record_name", &cfg.dns.record_name)] {
        if let Some(d) = d {
            if !valid_hostname(d) {
                out.push(p(key, format!("{d:?} is not a valid DNS host name"), "use labels of a-z, 0-9 and - separated by dots, e.g. api.example.com"));
            }
        }
    }
    if cfg.api.primary_domain.is_some() != cfg.api.secondary_domain.is_some() {
        out.push(p("api.secondary_domain", "primary_domain and secondary_domain must be set together", "set both, or neither"));
    }
    if cfg.api.primary_domain.is_some() && cfg.api.primary_domain == cfg.api.secondary_domain {
        out.push(p("api.secondary_domain", "must differ from primary_domain (each region has its own custom domain)", "e.g. api-east.example.com and api-west.example.com"));
    }
    for (key, arn, region, domain) in [
        ("api.primary_certificate_arn", &cfg.api.primary_certificate_arn, &cfg.primary_region, &cfg.api.primary_domain),
        ("api.secondary_certificate_arn", &cfg.api.secondary_certificate_arn, &cfg.secondary_region, &cfg.api.secondary_domain),
    ] {
        if let Some(arn) = arn {
            match acm_arn_region(arn) {
                None => out.push(p(key, format!("{arn:?} is not an ACM certificate ARN"), "arn:aws:acm:<region>:<account>:certificate/<id>")),
                Some(r) if r != region.as_str() => out.push(p(key, format!("certificate is in {r}, but a regional API custom domain needs it in {region}"), format!("use a certificate issued in {region}"))),
                _ => {}
            }
            if domain.is_none() {
                out.push(p(key, "a certificate without a domain is unused", "set the matching api.*_domain"));
            }
        }
    }
    if !cfg.api.stage_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') || cfg.api.stage_name.is_empty() {
        out.push(p("api.stage_name", format!("{:?} is not a valid stage name", cfg.api.stage_name), "use letters, digits, - and _"));
    }
    if let Some(z) = &cfg.dns.hosted_zone_id {
        if z.is_empty() || !z.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push(p("dns.hosted_zone_id", format!("{z:?} is not a Route 53 zone id"), "e.g. Z0123456789ABCDEFGHIJ (without /hostedzone/)"));
        }
        if cfg.dns.record_name.is_none() {
            out.push(p("dns.record_name", "is required when hosted_zone_id is set", "set the failover record's name, e.g. api.example.com"));
        }
        if cfg.api.primary_domain.is_none() {
            out.push(p("api.primary_domain", "failover records alias the regional custom domains, so domains are required with dns.hosted_zone_id", "set api.primary_domain and api.secondary_domain"));
        }
    }
    if ![10, 30].contains(&cfg.health.request_interval) {
        out.push(p("health.request_interval", format!("{} s: Route 53 allows 10 or 30", cfg.health.request_interval), "set 10 or 30"));
    }
    if !(1..=10).contains(&cfg.health.failure_threshold) {
        out.push(p("health.failure_threshold", format!("{} is outside 1..=10", cfg.health.failure_threshold), "set a value from 1 to 10"));
    }
    if !(1..=60).contains(&cfg.failover.probe_failures) {
        out.push(p(
            "failover.probe_failures",
            format!("{} is outside 1..=60 (minutes)", cfg.failover.probe_failures),
            "set the number of consecutive failed minutes before the controller acts, e.g. 3",
        ));
    }
    if let Some(r) = &cfg.failover.observer_region {
        out.push(p(
            "failover.observer_region",
            format!("{r:?}: a third-region observer probe is not deployed by this release"),
            "remove the key; the controller's two signals both live in the secondary region",
        ));
    }
    if let Some(e) = &cfg.alerts.email {
        if !valid_email(e) {
            out.push(p("alerts.email", format!("{e:?} is not an e-mail address"), "e.g. oncall@example.com"));
        }
    }
    if let Some(pkg) = &cfg.lambda.package {
        if !pkg.exists() {
            out.push(p("lambda.package", format!("{} does not exist", pkg.display()), "build it (see README) or remove the key to build from lambda/"));
        }
    }
    match cfg.state.backend.as_str() {
        "local" => {}
        "s3" => {
            if cfg.state.bucket.as_deref().is_none_or(str::is_empty) {
                out.push(p("state.bucket", "is required with backend = \"s3\"", "name an existing, versioned S3 bucket for the state"));
            }
            if let Some(r) = &cfg.state.region {
                if !AWS_REGIONS.contains(&r.as_str()) {
                    out.push(p("state.region", format!("{r:?} is not an AWS region"), "use the bucket's region, e.g. us-east-1"));
                }
            }
        }
        other => out.push(p("state.backend", format!("unknown backend {other:?}"), "use \"local\" or \"s3\"")),
    }
    if !(MIN_LOCK_EXPIRY_MINUTES..=MAX_LOCK_EXPIRY_MINUTES).contains(&cfg.state.lock_expiry_minutes) {
        out.push(p(
            "state.lock_expiry_minutes",
            format!("{} is outside {MIN_LOCK_EXPIRY_MINUTES}..={MAX_LOCK_EXPIRY_MINUTES} (minutes)", cfg.state.lock_expiry_minutes),
            "longer than your longest apply (an apply can take an hour); the default is 60",
        ));
    }
    out
}

/// Bounds of `[state] lock_expiry_minutes`: shorter than a run would let another run take
/// over a live lock; a week is as good as never.
pub const MIN_LOCK_EXPIRY_MINUTES: u32 = 10;
pub const MAX_LOCK_EXPIRY_MINUTES: u32 = 7 * 24 * 60;

fn is_private(a: Ipv4Addr) -> bool {
    a.is_private()
}

fn acm_arn_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("certificate/")
    {
        Some(parts[3])
    } else {
        None
    }
}

/// RFC 1123 host name with at least two labels.
pub fn valid_hostname(h: &str) -> bool {
    let h = h.strip_suffix('.').unwrap_or(h);
    let labels: Vec<&str> = h.split('.').collect();
    h.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().any(|c| c.is_ascii_lowercase()))
}

fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !local.contains(char::is_whitespace) && !domain.contains('@') && valid_hostname(&domain.to_ascii_lowercase())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(e: &ConfigError) -> Vec<&str> {
        e.problems.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn minimal_config_is_valid_with_defaults() {
        let cfg = validate_value(&json!({"environment_suffix": "dev"}), "t").unwrap();
        assert_eq!(cfg.primary_region, "us-east-1");
        assert_eq!(cfg.secondary_region, "us-east-2");
        assert_eq!(cfg.network.az_count, 2);
    }

    #[test]
    fn lists_every_problem_at_once() {
        let v = json!({
            "environment_suffix": "Dev_Env-that-is-far-too-long",
            "primary_region": "us-east-1",
            "secondary_region": "us-east-1",
            "network": {"primary_cidr": "10.0.0.0/16", "secondary_cidr": "10.0.128.0/17", "az_count": 1},
            "database": {"min_capacity": 8, "max_capacity": 2},
            "api": {"primary_domain": "api.example.com", "secondary_domain": "bad_domain", "primary_certificate_arn": "arn:aws:acm:us-west-2:123456789012:certificate/abc"},
            "alerts": {"email": "not-an-email"},
            "health": {"request_interval": 15},
        });
        let e = validate_value(&v, "tandem.toml").unwrap_err();
        let k = keys(&e);
        for expected in [
            "environment_suffix",
            "secondary_region",
            "network.az_count",
            "network.secondary_cidr",
            "database.min_capacity",
            "api.secondary_domain",
            "api.primary_certificate_arn",
            "alerts.email",
            "health.request_interval",
        ] {
            assert!(k.contains(&expected), "missing {expected} in {k:?}\n{e}");
        }
        let text = e.to_string();
        assert!(text.contains("fix:"), "{text}");
    }

    #[test]
    fn lambda_build_is_parsed_once_into_its_enum() {
        assert_eq!(validate_value(&json!({"environment_suffix": "dev"}), "t").unwrap().lambda.build, LambdaBuild::Auto);
        for (name, build) in [("auto", LambdaBuild::Auto), ("release", LambdaBuild::Release), ("dev", LambdaBuild::Dev)] {
            let cfg = validate_value(&json!({"environment_suffix": "dev", "lambda": {"build": name}}), "t").unwrap();
            assert_eq!(cfg.lambda.build, build);
        }
        let e = validate_value(&json!({"environment_suffix": "dev", "lambda": {"build": "debug"}}), "t").unwrap_err();
        assert_eq!(keys(&e), vec!["lambda.build"], "{e}");
        assert!(e.to_string().contains("\"release\" or \"dev\""), "{e}");
    }

    #[test]
    fn account_id_is_twelve_digits_parsed_once() {
        let cfg = validate_value(&json!({"environment_suffix": "dev", "account_id": "012345678901"}), "t").unwrap();
        assert_eq!(cfg.account_id.as_ref().map(AccountId::as_str), Some("012345678901"));
        assert_eq!(validate_value(&json!({"environment_suffix": "dev"}), "t").unwrap().account_id, None);
        for bad in [json!("12345"), json!("12345678901a"), json!("1234567890123")] {
            let e = validate_value(&json!({"environment_suffix": "dev", "account_id": bad}), "t").unwrap_err();
            assert_eq!(keys(&e), vec!["account_id"], "{e}");
            assert!(e.to_string().contains("12 digits"), "{e}");
        }
        assert!("123456789012".parse::<AccountId>().is_ok() && "x".parse::<AccountId>().is_err());
    }

    #[test]
    fn removed_simulate_key_is_refused_naming_the_emulator() {
        let e = validate_value(&json!({"environment_suffix": "dev", "simulate": ["globalaccelerator"]}), "tandem.toml").unwrap_err();
        assert_eq!(keys(&e), vec!["simulate"]);
        let text = e.to_string();
        assert!(text.contains("no longer read") && text.contains("scripts/local-aws") && text.contains("delete the `simulate` line"), "{text}");
        // Even empty: the key is gone, and saying so once is cheaper than a silent difference.
        assert!(validate_value(&json!({"environment_suffix": "dev", "simulate": []}), "t").is_err());
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let e = validate_value(&json!({"environment_suffix": "dev", "network": {"az_cuont": 2}, "primary_regoin": "us-east-1"}), "t").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("network.az_cuont") && text.contains("did you mean `network.az_count`"), "{text}");
        assert!(text.contains("did you mean `primary_region`"), "{text}");
    }

    #[test]
    fn wrong_types_are_reported_with_other_problems() {
        let e = validate_value(&json!({"environment_suffix": "dev", "network": {"az_count": "two"}, "secondary_region": "mars-1"}), "t").unwrap_err();
        let k = keys(&e);
        assert!(k.contains(&"network.az_count") && k.contains(&"secondary_region"), "{k:?}");
    }

    #[test]
    fn suffix_length_bounded_by_elb_names() {
        let ok = "a".repeat(MAX_SUFFIX_LEN);
        assert!(validate_value(&json!({"environment_suffix": ok}), "t").is_ok());
        assert_eq!(format!("{LONGEST_NAME_PREFIX}{ok}").len(), 32);
        let bad = "a".repeat(MAX_SUFFIX_LEN + 1);
        assert!(validate_value(&json!({"environment_suffix": bad}), "t").is_err());
    }

    #[test]
    fn missing_suffix_and_file() {
        let e = validate_value(&json!({}), "t").unwrap_err();
        assert_eq!(keys(&e), vec!["environment_suffix"]);
        let e = load(Path::new("/nonexistent/tandem.toml"), None).unwrap_err();
        assert!(e.to_string().contains("not found"));
    }

    #[test]
    fn unparsable_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tandem.toml");
        std::fs::write(&f, "environment_suffix = \"dev\"\n[network\naz_count = 2\n").unwrap();
        let e = load(&f, None).unwrap_err();
        assert!(e.to_string().contains("cannot parse"), "{e}");
    }

    #[test]
    fn loads_file_with_stack_override() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tandem.toml");
        std::fs::write(&f, "environment_suffix = \"dev\"\n[network]\naz_count = 3\n[database]\nmin_capacity = 1\nmax_capacity = 2.5\n").unwrap();
        let cfg = load(&f, Some("other")).unwrap();
        assert_eq!(cfg.environment_suffix, "other");
        assert_eq!(cfg.network.az_count, 3);
        assert_eq!(cfg.database.max_capacity, 2.5);
    }

    #[test]
    fn state_lock_expiry_defaults_to_an_hour_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tandem.toml");
        std::fs::write(&f, "environment_suffix = \"dev\"\n").unwrap();
        assert_eq!(load(&f, None).unwrap().state.lock_expiry_minutes, 60);
        std::fs::write(&f, "environment_suffix = \"dev\"\n[state]\nlock_expiry_minutes = 120\n").unwrap();
        assert_eq!(load(&f, None).unwrap().state.lock_expiry_minutes, 120);
        for bad in ["1", "20000"] {
            std::fs::write(&f, format!("environment_suffix = \"dev\"\n[state]\nlock_expiry_minutes = {bad}\n")).unwrap();
            let e = load(&f, None).unwrap_err().to_string();
            assert!(e.contains("state.lock_expiry_minutes") && e.contains("outside 10..=10080"), "{e}");
        }
        std::fs::write(&f, "environment_suffix = \"dev\"\n[state]\nlock_expiry_minutes = \"soon\"\n").unwrap();
        assert!(load(&f, None).unwrap_err().to_string().contains("state.lock_expiry_minutes"));
    }

    #[test]
    fn failover_section_parses_defaults_and_refuses_what_is_not_deployed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tandem.toml");
        std::fs::write(&f, "environment_suffix = \"dev\"\n").unwrap();
        let cfg = load(&f, None).unwrap();
        assert_eq!((cfg.failover.automatic, cfg.failover.probe_failures, cfg.failover.observer_region.as_deref()), (true, 3, None));
        std::fs::write(&f, "environment_suffix = \"dev\"\n[failover]\nautomatic = false\nprobe_failures = 5\n").unwrap();
        let cfg = load(&f, None).unwrap();
        assert_eq!((cfg.failover.automatic, cfg.failover.probe_failures), (false, 5));
        std::fs::write(&f, "environment_suffix = \"dev\"\n[failover]\nautomatic = \"yes\"\nprobe_failures = 0\nobserver_region = \"us-west-2\"\n").unwrap();
        let e = load(&f, None).unwrap_err();
        let mut keys: Vec<&str> = e.problems.iter().map(|p| p.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, vec!["failover.automatic", "failover.observer_region", "failover.probe_failures"], "every problem at once: {e}");
        std::fs::write(&f, "environment_suffix = \"dev\"\n[failover]\nprobe_failures = 0\nobserver_region = \"us-west-2\"\n").unwrap();
        let e = load(&f, None).unwrap_err();
        let mut keys: Vec<&str> = e.problems.iter().map(|p| p.key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, vec!["failover.observer_region", "failover.probe_failures"], "{e}");
    }

    #[test]
    fn environment_overrides_keep_their_types() {
        // Strings stay strings (a list separator with no list key once turned every value
        // into a list) and numbers are parsed. Keys no other test asserts, since `cargo test`
        // shares the process environment.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tandem.toml");
        std::fs::write(&f, "environment_suffix = \"dev\"\n").unwrap();
        std::env::set_var("TANDEM_API__STAGE_NAME", "v2");
        std::env::set_var("TANDEM_HEALTH__FAILURE_THRESHOLD", "4");
        let loaded = load(&f, None);
        std::env::remove_var("TANDEM_API__STAGE_NAME");
        std::env::remove_var("TANDEM_HEALTH__FAILURE_THRESHOLD");
        let cfg = loaded.unwrap();
        assert_eq!(cfg.api.stage_name, "v2");
        assert_eq!(cfg.health.failure_threshold, 4);
    }

    #[test]
    fn api_key_settings_load_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tandem.toml");
        std::fs::write(&f, "environment_suffix = \"dev\"\n").unwrap();
        let cfg = load(&f, None).unwrap();
        assert!(!cfg.api.public_reads, "reads need the key by default");
        assert_eq!((cfg.api.throttle_rate_limit, cfg.api.throttle_burst_limit), (50.0, 100));
        std::fs::write(
            &f,
            "environment_suffix = \"dev\"\n[api]\npublic_reads = true\nthrottle_rate_limit = 5\nthrottle_burst_limit = 10\n",
        )
        .unwrap();
        let cfg = load(&f, None).unwrap();
        assert!(cfg.api.public_reads);
        assert_eq!((cfg.api.throttle_rate_limit, cfg.api.throttle_burst_limit), (5.0, 10));
        let mut bad = Config::example("dev");
        bad.api.throttle_rate_limit = 0.0;
        bad.api.throttle_burst_limit = 0;
        let keys: Vec<String> = validate(&bad).into_iter().map(|p| p.key).collect();
        assert!(keys.contains(&"api.throttle_rate_limit".to_string()) && keys.contains(&"api.throttle_burst_limit".to_string()), "{keys:?}");
    }

    #[test]
    fn hosted_zone_requires_record_and_domains() {
        let e = validate_value(&json!({"environment_suffix": "dev", "dns": {"hosted_zone_id": "Z123"}}), "t").unwrap_err();
        let k = keys(&e);
        assert!(k.contains(&"dns.record_name") && k.contains(&"api.primary_domain"), "{k:?}");
    }

    #[test]
    fn hostnames() {
        assert!(valid_hostname("api.example.com"));
        assert!(!valid_hostname("localhost"));
        assert!(!valid_hostname("-a.example.com"));
        assert!(!valid_hostname("a_b.example.com"));
    }
}
