//! `tandem`: plan, apply and destroy the two-region disaster-recovery stack.

mod commands;
mod render;
mod stack;
mod status;

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
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what apply would change.
    Plan {
        /// Read the live resources first and plan drift corrections.
        #[arg(long)]
        refresh: bool,
        #[arg(long)]
        json: bool,
        #[arg(long = "target")]
        targets: Vec<String>,
    },
    /// Create or update the stack.
    Apply {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Apply only these components (and what they depend on).
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Maximum components in flight.
        #[arg(long, default_value_t = 16)]
        parallelism: usize,
        #[arg(long)]
        json: bool,
    },
    /// Delete everything the stack created, in both regions.
    Destroy {
        #[arg(long)]
        yes: bool,
        /// Destroy only these components (and what depends on them).
        #[arg(long = "target")]
        targets: Vec<String>,
        #[arg(long, default_value_t = 16)]
        parallelism: usize,
        #[arg(long)]
        json: bool,
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
    /// Aurora global database: planned switchover (no data loss) or unplanned failover.
    Failover {
        /// Unplanned failover (allows data loss) instead of a planned switchover.
        #[arg(long)]
        unplanned: bool,
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Exit codes: 0 success, 1 failure during a run, 2 bad input.
pub enum Exit {
    Ok,
    Failed,
    BadInput,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TANDEM_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
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
    match rt.block_on(commands::run(cli)) {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(Exit::Failed) => ExitCode::from(1),
        Ok(Exit::BadInput) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}
