//! `tandem`: plan, apply and destroy the two-region disaster-recovery stack.

mod commands;
mod drill;
mod failover;
mod iam_policy;
mod identity;
mod render;
mod stack;
mod status;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "tandem", version, about = "Deploy, operate and tear down a two-region disaster-recovery stack on AWS")]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = "tandem.toml")]
    pub config: PathBuf,
    /// Stack suffix (overrides environment_suffix).
    #[arg(long, global = true)]
    pub stack: Option<String>,
    /// Refuse to run unless the AWS credentials belong to this account (12 digits); the
    /// same as `account_id` in the configuration, which this flag overrides.
    #[arg(long, global = true, value_name = "ACCOUNT_ID", value_parser = parse_account)]
    pub expect_account: Option<tandem_core::config::AccountId>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the least-privilege IAM policy (JSON) a person or CI role needs to run a command
    /// on this stack.
    IamPolicy {
        /// The command the policy is for.
        #[arg(long = "for", value_enum, default_value_t = PolicyFor::Apply)]
        purpose: PolicyFor,
    },
    /// Show what apply would change.
    Plan {
        /// Read the live resources first and plan drift corrections.
        #[arg(long)]
        refresh: bool,
        #[arg(long)]
        json: bool,
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Plan as if this component (one that holds data) may be replaced or deleted
        /// (repeatable); without it such lines are marked REFUSED.
        #[arg(long = "allow-data-loss", value_name = "ID")]
        allow_data_loss: Vec<String>,
    },
    /// Create or update the stack.
    Apply {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Apply only these components (and what they depend on).
        /// Read every deployed resource first and repair drift: drifted or missing
        /// components are applied again, in-sync ones are not touched.
        #[arg(long)]
        refresh: bool,
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Maximum components in flight (>= 1).
        #[arg(long, default_value_t = DEFAULT_PARALLELISM, value_parser = parse_parallelism)]
        parallelism: usize,
        #[arg(long)]
        json: bool,
        /// Allow this apply to replace or delete this component although it holds data
        /// (Aurora clusters, the DynamoDB table, S3 buckets, Backup vaults); repeatable.
        /// Without it such a plan is refused (exit 2) before any change.
        #[arg(long = "allow-data-loss", value_name = "ID")]
        allow_data_loss: Vec<String>,
        /// Write a Gantt chart of the run (SVG) to this file.
        #[arg(long, value_name = "FILE.svg")]
        timeline: Option<std::path::PathBuf>,
    },
    /// Delete everything the stack created, in both regions.
    Destroy {
        #[arg(long)]
        yes: bool,
        /// Destroy only these components (and what depends on them).
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Maximum components in flight (>= 1).
        #[arg(long, default_value_t = DEFAULT_PARALLELISM, value_parser = parse_parallelism)]
        parallelism: usize,
        #[arg(long)]
        json: bool,
        /// Write a Gantt chart of the run (SVG) to this file.
        #[arg(long, value_name = "FILE.svg")]
        timeline: Option<std::path::PathBuf>,
    },
    /// Print the outputs recorded in state.
    Outputs {
        #[arg(long)]
        json: bool,
    },
    /// Print the dependency graph.
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Live state of every deployed component in both regions (drift, health).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration and exit (no AWS call).
    Validate,
    /// Move the stack to the secondary region: the Aurora writer (planned switchover, or
    /// with --unplanned a failover that allows data loss and works with the primary region
    /// down) and the "primary down" decision that DNS and events follow.
    Failover {
        /// Unplanned failover (allows data loss; works with the primary region unreachable)
        /// instead of a planned switchover.
        #[arg(long)]
        unplanned: bool,
        #[arg(long)]
        yes: bool,
    },
    /// Planned, no-data-loss move of the Aurora writer to a region (the fail-back path);
    /// needs both regions and every member healthy.
    Switchover {
        /// The region that becomes the writer.
        #[arg(long, value_enum)]
        to: Role,
        #[arg(long)]
        yes: bool,
    },
    /// A measured game day (DR.md, "The drill"): data replication, the "primary down"
    /// decision through DNS, events and the accelerator, and (with --database) a planned
    /// database switchover and back; every change journaled and put back.
    Drill {
        #[arg(long)]
        json: bool,
        /// Also drill the database: a planned switchover to the secondary and back (asks
        /// for confirmation unless --yes).
        #[arg(long)]
        database: bool,
        /// Drill one layer only.
        #[arg(long, value_enum)]
        only: Option<DrillLayer>,
        /// Put back everything an interrupted drill changed (its journal), then stop.
        #[arg(long, conflicts_with_all = ["database", "only"])]
        restore: bool,
        #[arg(long)]
        yes: bool,
    },
}

/// `iam-policy --for`.
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum PolicyFor {
    Apply,
    Destroy,
    Status,
    Failover,
}

/// `drill --only`.
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum DrillLayer {
    Data,
    Traffic,
    Database,
}

/// A region of the stack by its role.
#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum Role {
    Primary,
    Secondary,
}

impl Role {
    pub fn placement(self) -> tandem_core::Placement {
        match self {
            Role::Primary => tandem_core::Placement::Primary,
            Role::Secondary => tandem_core::Placement::Secondary,
        }
    }
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Components in flight at once unless `--parallelism` says otherwise.
pub const DEFAULT_PARALLELISM: usize = 16;

/// `--parallelism`: a positive number (0 would start nothing).
fn parse_parallelism(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (expected a positive number of components)")),
    }
}

fn parse_account(s: &str) -> Result<tandem_core::config::AccountId, String> {
    s.parse()
}

/// Exit codes: 0 success, 1 failure during a run, 2 bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Failed,
    BadInput,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::BadInput => 2,
        }
    }
}

/// The process exit code of a command's result: an error raised during the run is a run
/// failure (1).
fn exit_code(result: &anyhow::Result<Exit>) -> u8 {
    match result {
        Ok(exit) => exit.code(),
        Err(_) => Exit::Failed.code(),
    }
}

/// The exit code of a command line clap refused (bad flags: 2) or answered itself
/// (`--help`, `--version`: 0).
fn parse_error_code(e: &clap::Error) -> u8 {
    if e.use_stderr() {
        Exit::BadInput.code()
    } else {
        Exit::Ok.code()
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = parse_error_code(&e);
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG")
                // The credential chain's own warnings (one per provider tried) repeat what
                // the preflight says once, with the fix.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,aws_config=error")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(commands::run(cli));
    if let Err(e) = &result {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
    ExitCode::from(exit_code(&result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tandem").chain(args.iter().copied()))
    }

    #[test]
    fn exit_codes_are_0_ok_1_failed_2_bad_input() {
        assert_eq!(exit_code(&Ok(Exit::Ok)), 0);
        assert_eq!(exit_code(&Ok(Exit::Failed)), 1);
        assert_eq!(exit_code(&Ok(Exit::BadInput)), 2);
        assert_eq!(exit_code(&Err(anyhow::anyhow!("moto refused the connection"))), 1, "an error raised during a run is a run failure");
    }

    #[test]
    fn bad_flags_exit_2_and_help_exits_0() {
        for bad in [
            &["apply", "--yolo"][..],
            &["apply", "--parallelism", "0"],
            &["apply", "--parallelism", "many"],
            &["destroy", "--parallelism", "0"],
            &["plan", "--refresh=maybe"],
            &["graph", "--format", "png"],
            &["switchover"],
            &["switchover", "--to", "tertiary"],
            &["frobnicate"],
        ] {
            let e = parse(bad).expect_err(&format!("{bad:?} must be refused"));
            assert_eq!(parse_error_code(&e), 2, "{bad:?}: {e}");
        }
        for info in [&["--help"][..], &["apply", "--help"], &["--version"]] {
            let e = parse(info).expect_err("clap answers --help/--version itself");
            assert_eq!(parse_error_code(&e), 0, "{info:?}");
        }
    }

    #[test]
    fn failover_and_switchover_flags_parse() {
        match parse(&["failover", "--unplanned", "--yes"]).expect("parses").command {
            Command::Failover { unplanned, yes } => assert!(unplanned && yes),
            other => panic!("expected failover, got {other:?}"),
        }
        match parse(&["switchover", "--to", "primary", "--yes"]).expect("parses").command {
            Command::Switchover { to, yes } => {
                assert_eq!(to, Role::Primary);
                assert_eq!(to.placement(), tandem_core::Placement::Primary);
                assert!(yes);
            }
            other => panic!("expected switchover, got {other:?}"),
        }
    }

    #[test]
    fn allow_data_loss_is_repeatable_and_takes_an_id() {
        match parse(&["apply", "--allow-data-loss", "aurora-primary", "--allow-data-loss", "table"]).expect("parses").command {
            Command::Apply { allow_data_loss, .. } => assert_eq!(allow_data_loss, vec!["aurora-primary".to_string(), "table".to_string()]),
            other => panic!("expected apply, got {other:?}"),
        }
        match parse(&["plan", "--allow-data-loss", "table"]).expect("parses").command {
            Command::Plan { allow_data_loss, .. } => assert_eq!(allow_data_loss, vec!["table".to_string()]),
            other => panic!("expected plan, got {other:?}"),
        }
        let e = parse(&["apply", "--allow-data-loss"]).expect_err("an id is required");
        assert_eq!(parse_error_code(&e), 2);
    }

    #[test]
    fn parallelism_zero_names_the_problem() {
        let e = parse(&["apply", "--parallelism", "0"]).expect_err("refused");
        assert!(e.to_string().contains("must be at least 1"), "{e}");
    }

    #[test]
    fn apply_refresh_flags_parse() {
        let cli = parse(&["--config", "x.toml", "apply", "--refresh", "--yes", "--target", "dashboard", "--parallelism", "3", "--json"]).expect("parses");
        assert_eq!(cli.config, PathBuf::from("x.toml"));
        match cli.command {
            Command::Apply { yes, refresh, targets, parallelism, json, allow_data_loss, timeline } => {
                assert!(yes && refresh && json);
                assert_eq!(timeline, None, "no timeline unless asked");
                assert_eq!(targets, vec!["dashboard".to_string()]);
                assert_eq!(parallelism, 3);
                assert!(allow_data_loss.is_empty(), "no data loss allowed unless named");
            }
            other => panic!("expected apply, got {other:?}"),
        }
        match parse(&["destroy", "--timeline", "run.svg"]).expect("parses").command {
            Command::Destroy { timeline, .. } => assert_eq!(timeline, Some(PathBuf::from("run.svg"))),
            other => panic!("expected destroy, got {other:?}"),
        }
        match parse(&["apply"]).expect("parses").command {
            Command::Apply { yes, refresh, parallelism, .. } => {
                assert!(!yes && !refresh, "--yes and --refresh are off by default");
                assert_eq!(parallelism, 16);
            }
            other => panic!("expected apply, got {other:?}"),
        }
    }
}
