//! The CLI's commands: config → stack → engine, with exit codes 0 / 1 / 2.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use tandem_core::config::{self, AccountId, Config};
use tandem_core::executor::{orphaned_ids, Plan, RunOptions};
use tandem_core::protection::{self, Refusal};
use tandem_core::aws::{AwsContext, CallProfile, ROUTE53_REGION};
use tandem_core::state::{self as st, LocalBackend, LockGuard, OperationRecord, PendingOperations, StateBackend, StateDoc, StateError, StateHandle};
use tandem_core::state_s3::S3Backend;
use tandem_core::{CancelFlag, Component, Engine};

use crate::identity;
use tandem_compute::package::PackageError;
use crate::render::{self, Progress};
use crate::stack;
use crate::failover::{self as fo, LockPlan};
use crate::status::{self, CloudWatchProbe, RegionProbe};
use crate::{Cli, Command, DrillLayer, Exit, GraphFormat, PolicyFor, Role};

fn state_dir(cfg: &Config) -> PathBuf {
    cfg.state.dir.clone()
}

pub(crate) struct Opened {
    backend: Arc<dyn StateBackend>,
    pub(crate) state: StateHandle,
    _lock: Option<LockGuard>,
}

/// The stack's state backend; an S3 client is built with `profile`'s timeouts.
async fn backend(cfg: &Config, profile: CallProfile) -> Arc<dyn StateBackend> {
    let suffix = &cfg.environment_suffix;
    match (cfg.state.backend.as_str(), &cfg.state.bucket) {
        ("s3", Some(bucket)) => {
            let aws = AwsContext::load_with(profile).await;
            let sdk = aws.config(cfg.state.region.as_deref().unwrap_or(&cfg.primary_region));
            let client = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk).force_path_style(aws.endpoint_overridden()).build(),
            );
            let expiry = std::time::Duration::from_secs(u64::from(cfg.state.lock_expiry_minutes) * 60);
            Arc::new(S3Backend::new(client, bucket, &cfg.state.prefix, suffix).with_lock_expiry(expiry))
        }
        _ => Arc::new(LocalBackend::new(&state_dir(cfg), suffix)),
    }
}

async fn take_lock(backend: &Arc<dyn StateBackend>, suffix: &str) -> Result<LockGuard, StateError> {
    let (b, s) = (backend.clone(), suffix.to_string());
    let guard = tokio::task::spawn_blocking(move || b.lock(&s)).await.map_err(|e| StateError::Backend(format!("lock task: {e}")))??;
    if let Some(t) = guard.took_over() {
        eprintln!("warning: {t}");
    }
    Ok(guard)
}

/// Takes the stack's lock before any other work (the Lambda build, the region probes, the
/// plan) and opens the state under it; a state bucket in a region that does not answer is
/// refused first (exit 1), so the lock is never waited for there. The lock is released
/// when the returned value is dropped, on every path.
async fn open_locked(cfg: &Config) -> anyhow::Result<Result<Opened, Exit>> {
    if let Some((_, region)) = fo::state_bucket(cfg) {
        let regions: BTreeSet<String> = [region].into();
        let aws = AwsContext::load_with(CallProfile::OutageProof).await;
        let probe: Arc<dyn RegionProbe> = Arc::new(CloudWatchProbe::new(&aws, regions.iter().map(String::as_str)));
        let down: BTreeSet<String> = status::probe_regions(probe, &regions, status::PROBE_LIMIT).await.into_keys().collect();
        if let Err(code) = state_region_down(cfg, &down) {
            return Ok(Err(code));
        }
    }
    Ok(Ok(open_state(cfg, true).await?))
}

pub(crate) async fn open_state(cfg: &Config, lock: bool) -> anyhow::Result<Opened> {
    open_state_with(cfg, lock, CallProfile::Standard).await
}

async fn open_state_with(cfg: &Config, lock: bool, profile: CallProfile) -> anyhow::Result<Opened> {
    let suffix = &cfg.environment_suffix;
    let backend = backend(cfg, profile).await;
    let guard = if lock { Some(take_lock(&backend, suffix).await?) } else { None };
    let b = backend.clone();
    let (doc, warnings) = tokio::task::spawn_blocking(move || b.load_checked()).await??;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let doc = doc.unwrap_or_else(|| StateDoc::new(suffix));
    let state = StateHandle::new(doc, backend.clone() as Arc<dyn StateBackend>);
    if guard.is_some() {
        record_pending(cfg, &state).await;
    }
    Ok(Opened { backend, state, _lock: guard })
}

/// The local file of operations that ran while the state could not be reached.
fn pending_operations(cfg: &Config) -> PendingOperations {
    PendingOperations::new(&state_dir(cfg), &cfg.environment_suffix)
}

/// Moves the operations that ran while the state was unreachable (a failover during an
/// outage of the state bucket's region) into the state, under the lock the caller holds.
/// A failure is a warning: the records stay in their file for the next command.
async fn record_pending(cfg: &Config, state: &StateHandle) {
    let pending = pending_operations(cfg);
    let ops = match pending.load() {
        Ok(ops) if ops.is_empty() => return,
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("warning: cannot read the operations waiting to be recorded ({e})");
            return;
        }
    };
    let commands: Vec<String> = ops.iter().map(|o| o.command.clone()).collect();
    let at = st::now();
    let r = state
        .update(move |doc| {
            for mut op in ops {
                op.recorded_late_at = Some(at);
                doc.record_operation(op);
            }
        })
        .await;
    match r.and_then(|()| pending.clear()) {
        Ok(()) => eprintln!(
            "Recorded in the state {} operation(s) that ran while it was unreachable: {}.",
            commands.len(),
            commands.join(", ")
        ),
        Err(e) => eprintln!("warning: the operations in {} could not be recorded in the state ({e}); the next command tries again", pending.path().display()),
    }
}

/// Records an operation in the state (`state`: opened under the lock this command holds), or,
/// when there is none to write to, in the local pending file; says where.
async fn record_operation(cfg: &Config, state: Option<&StateHandle>, op: OperationRecord) {
    if let Some(state) = state {
        let kept = op.clone();
        match state.update(move |doc| doc.record_operation(kept)).await {
            Ok(()) => {
                println!("Recorded in the state.");
                return;
            }
            Err(e) => eprintln!("warning: cannot record this operation in the state ({e})"),
        }
    }
    let pending = pending_operations(cfg);
    match pending.add(op) {
        Ok(()) => println!(
            "Recorded in {}: it goes into the state at the next apply, destroy or switchover that can reach it.",
            pending.path().display()
        ),
        Err(e) => eprintln!("warning: this operation could not be recorded anywhere ({e})"),
    }
}

fn confirm(what: &str, yes: bool) -> Result<bool, Exit> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("error: refusing to {what} without --yes when not on a terminal (fix: add --yes)");
        return Err(Exit::BadInput);
    }
    print!("\nDo you want to {what}? Only 'yes' will be accepted: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return Ok(false);
    }
    Ok(line.trim() == "yes")
}

fn cancel_on_ctrl_c() -> CancelFlag {
    let cancel = CancelFlag::default();
    let c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupt: no new component will start; waiting for in-flight calls to finish and saving state (Ctrl-C again to abort at once)");
            c.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    cancel
}

/// Components read at once by `plan --refresh`.
const REFRESH_PARALLELISM: usize = 8;

/// Refuses unknown `--target` ids (bad input) before any AWS call, naming the known ids.
fn check_targets(engine: &Engine, targets: &[String]) -> Result<(), Exit> {
    let unknown = unknown_targets(engine.graph().components().iter().map(|c| c.id()), targets);
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = engine.graph().components().iter().map(|c| c.id()).collect();
    eprintln!(
        "error: unknown --target {} (fix: use a component id of this stack: {})",
        unknown.join(", "),
        known.join(", ")
    );
    Err(Exit::BadInput)
}

/// Refuses `--allow-data-loss` ids that name no component holding data (bad input), before
/// any AWS call, naming the ids it accepts.
fn check_allowed(engine: &Engine, allowed: &[String]) -> Result<(), Exit> {
    let unknown = protection::unknown_allowed(engine.graph(), allowed);
    if unknown.is_empty() {
        return Ok(());
    }
    eprintln!(
        "error: {} {}: not a component of this stack that holds data (fix: use one of: {})",
        protection::ALLOW_FLAG,
        unknown.join(", "),
        protection::data_holders(engine.graph()).join(", ")
    );
    Err(Exit::BadInput)
}

/// Budget of each component's data count before `destroy` asks.
const SUMMARY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// The targets that name no component.
fn unknown_targets<'a>(known: impl Iterator<Item = &'a str>, targets: &'a [String]) -> Vec<&'a str> {
    let known: std::collections::BTreeSet<&str> = known.collect();
    targets.iter().map(String::as_str).filter(|t| !known.contains(t)).collect()
}

/// `--refresh`: reads every component recorded in state, except those of the regions that
/// did not answer the probe (`down`: said once already). A component that cannot be read
/// stops the command (exit 1) before anything changes: drift it cannot see, it cannot
/// repair, and planning it as in sync would hide the problem.
async fn refresh_all(engine: &Engine, parallelism: usize, json: bool, down: &BTreeSet<String>) -> Result<render::DriftMap, Exit> {
    let drift = engine.refresh_reachable(parallelism, down).await;
    render::refresh(&drift, json);
    if render::refresh_errors(&drift).is_empty() {
        Ok(drift)
    } else {
        Err(Exit::Failed)
    }
}

/// Before a run (`apply`, `destroy`, `plan --refresh`): probes every region the stack's
/// components live in, at once, with the outage-proof profile (a region that does not answer
/// costs seconds, not minutes of retries per call). Each region that does not answer is said
/// once; the run then leaves its components as they are (DR.md, "The CLI during an outage").
async fn probe_stack(cfg: &Config, components: &[Arc<dyn Component>], json: bool) -> BTreeSet<String> {
    let mut regions: BTreeSet<String> = components.iter().map(|c| c.region().to_string()).collect();
    if let Some((_, r)) = fo::state_bucket(cfg) {
        regions.insert(r);
    }
    let aws = AwsContext::load_with(CallProfile::OutageProof).await;
    let probe: Arc<dyn RegionProbe> = Arc::new(CloudWatchProbe::new(&aws, regions.iter().map(String::as_str)));
    let down = status::probe_regions(probe, &regions, status::PROBE_LIMIT).await;
    for (region, why) in &down {
        let n = components.iter().filter(|c| c.region() == region).count();
        let line = format!(
            "{region} is UNREACHABLE ({why}): its {n} component{} will not be touched by this run; their state is kept as it is.",
            if n == 1 { "" } else { "s" }
        );
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    down.into_keys().collect()
}

/// The stack with its Lambda package built (or reused) and checked: a package that cannot
/// run on Lambda (glibc newer than the runtime's, another architecture) is bad input, said
/// with its fix before any AWS call (exit 2).
async fn load_with_package(cfg: &Config) -> anyhow::Result<Result<stack::Stack, Exit>> {
    match stack::Stack::load(cfg, true).await {
        Ok(s) => Ok(Ok(s)),
        Err(e) if e.chain().any(|c| matches!(c.downcast_ref::<PackageError>(), Some(PackageError::Unfit { .. }))) => {
            eprintln!("error: {e:#}");
            Ok(Err(Exit::BadInput))
        }
        Err(e) => Err(e),
    }
}

/// The account the stack's names use (its buckets: `bucket-{role}-{suffix}-{account}`):
/// `account_id` / `--expect-account`, else the caller's, else the one the state records. A
/// caller of another account than the state's is refused (exit 2): that state is not this
/// account's stack.
fn settle_account(cfg: &mut Config, caller: Option<&identity::Caller>, doc: &StateDoc) -> Result<(), Exit> {
    if let (Some(c), Some(recorded)) = (caller, doc.account.as_deref()) {
        if c.account != recorded {
            eprintln!(
                "error: the state of stack '{}' was applied in account {recorded}, but the credentials are for account {} ({}). Switch AWS_PROFILE to account {recorded}, or use another stack suffix or state directory for this account.\nNothing was started.",
                cfg.environment_suffix, c.account, c.arn
            );
            return Err(Exit::BadInput);
        }
    }
    if cfg.account_id.is_none() {
        cfg.account_id = caller.map(|c| c.account.as_str()).or(doc.account.as_deref()).and_then(|a| a.parse().ok());
    }
    Ok(())
}

/// Records the caller's account in the state the first time a run changes the stack.
async fn record_account(opened: &Opened, caller: Option<&identity::Caller>) -> anyhow::Result<()> {
    if let Some(c) = caller {
        if opened.state.snapshot().account.is_none() {
            let account = c.account.clone();
            opened.state.update(move |d| d.account = Some(account)).await?;
        }
    }
    Ok(())
}

/// The regions a command's preflight asks: the stack's two and the state bucket's.
fn preflight_regions(cfg: &Config) -> Vec<String> {
    let mut regions: BTreeSet<String> = [cfg.primary_region.clone(), cfg.secondary_region.clone()].into();
    if let Some((_, r)) = fo::state_bucket(cfg) {
        regions.insert(r);
    }
    regions.into_iter().collect()
}

/// The credential and account preflight (identity.rs) of a command that changes AWS: on a
/// problem, says it with how to fix it and returns exit 2 before anything is touched (no
/// lock, no state, no component).
async fn preflight(cfg: &Config, expect: Option<&AccountId>) -> Result<identity::Verified, Exit> {
    let api = identity::SdkIdentity::new(AwsContext::load_with(CallProfile::OutageProof).await);
    let expected = identity::Expected::of(expect, cfg.account_id.as_ref());
    identity::check(&api, &preflight_regions(cfg), expected.as_ref()).await.map_err(|e| {
        eprintln!("error: {e}\nNothing was started: no lock taken, the state untouched, no component run.");
        Exit::BadInput
    })
}

/// `plan`'s identity: only to name the account in the header. A plan reads no live
/// resource, so a credential problem is a warning there, and only another account than the
/// one required stops it (exit 2).
async fn plan_identity(cfg: &Config, expect: Option<&AccountId>) -> Result<Option<identity::Caller>, Exit> {
    let api = identity::SdkIdentity::new(AwsContext::load_with(CallProfile::OutageProof).await);
    let expected = identity::Expected::of(expect, cfg.account_id.as_ref());
    match identity::check(&api, &preflight_regions(cfg), expected.as_ref()).await {
        Ok(v) => Ok(v.caller),
        Err(e @ (identity::PreflightError::WrongAccount { .. } | identity::PreflightError::AccountsDiffer(_))) => {
            eprintln!("error: {e}");
            Err(Exit::BadInput)
        }
        Err(e) => {
            eprintln!("warning: {e}");
            Ok(None)
        }
    }
}

/// Refuses a run whose state is stored in a region that does not answer: `apply` and
/// `destroy` need their state and its lock (only `failover` proceeds without them).
fn state_region_down(cfg: &Config, down: &BTreeSet<String>) -> Result<(), Exit> {
    match fo::state_bucket(cfg) {
        Some((bucket, region)) if down.contains(&region) => {
            eprintln!(
                "error: the state bucket s3://{bucket} is in {region}, which does not answer: this command needs the state and its lock. During an outage, `tandem failover --unplanned` works without them; `status` reads what it can."
            );
            Err(Exit::Failed)
        }
        _ => Ok(()),
    }
}

/// The components of the plan in regions that did not answer, by region.
fn planned_in(plan: &Plan, down: &BTreeSet<String>) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for c in plan.changes.iter().filter(|c| down.contains(&c.region)) {
        out.entry(c.region.clone()).or_default().push(c.id.clone());
    }
    out
}

fn no_changes_message(refreshed: bool) -> &'static str {
    if refreshed {
        "No changes. The stack matches the configuration and the live resources match the state."
    } else {
        "No changes. The stack matches the configuration."
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let mut cfg = match config::load(&cli.config, cli.stack.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("error: {e}");
            return Ok(Exit::BadInput);
        }
    };
    // `TANDEM_STATE_DIR` moves everything kept locally: the state and its lock.
    if let Some(dir) = std::env::var_os("TANDEM_STATE_DIR") {
        cfg.state.dir = PathBuf::from(dir);
    }
    match cli.command {
        Command::Validate => {
            println!(
                "{} is valid: stack '{}', primary {}, secondary {}",
                cli.config.display(),
                cfg.environment_suffix,
                cfg.primary_region,
                cfg.secondary_region,
            );
            Ok(Exit::Ok)
        }
        Command::Graph { format } => {
            let s = stack::Stack::load(&cfg, false).await?;
            let engine = Engine::new(s.components, StateHandle::in_memory())?;
            match format {
                GraphFormat::Dot => print!("{}", engine.graph().to_dot()),
                GraphFormat::Mermaid => print!("{}", engine.graph().to_mermaid()),
            }
            Ok(Exit::Ok)
        }
        Command::IamPolicy { purpose } => {
            use crate::iam_policy::{policy, Purpose, Scope};
            let purpose = match purpose {
                PolicyFor::Apply => Purpose::Apply,
                PolicyFor::Destroy => Purpose::Destroy,
                PolicyFor::Status => Purpose::Status,
                PolicyFor::Failover => Purpose::Failover,
            };
            let account = cli.expect_account.as_ref().or(cfg.account_id.as_ref()).map(|a| a.as_str().to_string());
            let state_bucket = fo::state_bucket(&cfg).map(|(b, _)| b);
            let scope = Scope { suffix: &cfg.environment_suffix, account: account.as_deref(), state_bucket: state_bucket.as_deref() };
            println!("{}", serde_json::to_string_pretty(&policy(purpose, &scope)).unwrap_or_default());
            Ok(Exit::Ok)
        }
        Command::Outputs { json } => {
            let opened = open_state(&cfg, false).await?;
            render::outputs(&opened.state.snapshot(), json);
            Ok(Exit::Ok)
        }
        Command::Plan { refresh, json, targets, allow_data_loss } => {
            let caller = match plan_identity(&cfg, cli.expect_account.as_ref()).await {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let opened = open_state(&cfg, false).await?;
            if let Err(code) = settle_account(&mut cfg, caller.as_ref(), &opened.state.snapshot()) {
                return Ok(code);
            }
            let s = match load_with_package(&cfg).await? {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            // Without --refresh a plan reads no live resource, so it has no region to probe.
            let down = if refresh { probe_stack(&cfg, &s.components, json).await } else { BTreeSet::new() };
            if let Err(code) = state_region_down(&cfg, &down) {
                return Ok(code);
            }
            let engine = Engine::new(s.components, opened.state.clone())?;
            if let Err(code) = check_targets(&engine, &targets).and_then(|()| check_allowed(&engine, &allow_data_loss)) {
                return Ok(code);
            }
            let drift = if refresh {
                match refresh_all(&engine, REFRESH_PARALLELISM, json, &down).await {
                    Ok(d) => Some(d),
                    Err(code) => return Ok(code),
                }
            } else {
                None
            };
            let mut plan = match engine.plan(&targets, drift.as_ref()).await {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(Exit::BadInput);
                }
            };
            plan.estimate = Some(engine.estimate(&plan, false, Some(crate::DEFAULT_PARALLELISM)));
            let refused = protection::data_loss_refusals(&plan, engine.graph(), &allow_data_loss);
            render::plan(&cfg, caller.as_ref(), &plan, json, "apply", drift.as_ref(), &refused);
            Ok(Exit::Ok)
        }
        Command::Apply { yes, refresh, targets, parallelism, json, allow_data_loss, timeline } => {
            // Credentials and account before anything: no lock, no state, no component.
            let who = match preflight(&cfg, cli.expect_account.as_ref()).await {
                Ok(v) => v,
                Err(code) => return Ok(code),
            };
            let caller = who.caller.as_ref();
            // The lock first: two applies started together never both build or plan.
            let opened = match open_locked(&cfg).await? {
                Ok(o) => o,
                Err(code) => return Ok(code),
            };
            if let Err(code) = settle_account(&mut cfg, caller, &opened.state.snapshot()) {
                return Ok(code);
            }
            let s = match load_with_package(&cfg).await? {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let down = probe_stack(&cfg, &s.components, json).await;
            if let Err(code) = state_region_down(&cfg, &down) {
                return Ok(code);
            }
            let engine = Engine::new(s.components, opened.state.clone())?;
            if let Err(code) = check_targets(&engine, &targets).and_then(|()| check_allowed(&engine, &allow_data_loss)) {
                return Ok(code);
            }
            // `--refresh`: read every deployed component first; the plan then re-applies
            // the drifted and missing ones and leaves the in-sync ones alone.
            let drift = if refresh {
                match refresh_all(&engine, parallelism, json, &down).await {
                    Ok(d) => Some(d),
                    Err(code) => return Ok(code),
                }
            } else {
                None
            };
            let mut plan = match engine.plan(&targets, drift.as_ref()).await {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(Exit::BadInput);
                }
            };
            plan.estimate = Some(engine.estimate(&plan, false, Some(parallelism)));
            // Data safety: a replace or delete of a component holding data that the user did
            // not name is refused here, before confirmation and before the engine runs.
            let refused = protection::data_loss_refusals(&plan, engine.graph(), &allow_data_loss);
            if !refused.is_empty() {
                return Ok(refuse(&cfg, caller, &plan, &refused, json, &opened, drift.as_ref()));
            }
            if !json {
                render::plan(&cfg, caller, &plan, false, "apply", None, &[]);
            }
            if !plan.has_changes() {
                if json {
                    render::report_json(&cfg, caller, &plan, None, &opened.state.snapshot(), drift.as_ref(), &[]);
                } else {
                    println!("\n{}", no_changes_message(refresh));
                    render::outputs(&opened.state.snapshot(), false);
                }
                if down.is_empty() {
                    return Ok(Exit::Ok);
                }
                // Nothing to change as far as the configuration goes, but a region could not
                // be reached: say which components were left unchecked, exit 1.
                let text = render::unreachable_run_text(&planned_in(&plan, &down), "checked");
                if json {
                    eprint!("{text}");
                } else {
                    print!("{text}");
                }
                return Ok(Exit::Failed);
            }
            match confirm("apply these changes", yes) {
                Ok(true) => {}
                Ok(false) => {
                    println!("Apply cancelled.");
                    return Ok(Exit::Ok);
                }
                Err(code) => return Ok(code),
            }
            record_account(&opened, caller).await?;
            execute(&cfg, caller, &engine, &plan, parallelism, json, false, &opened, drift.as_ref(), down, timeline.as_deref()).await
        }
        Command::Destroy { yes, targets, parallelism, json, timeline } => {
            let who = match preflight(&cfg, cli.expect_account.as_ref()).await {
                Ok(v) => v,
                Err(code) => return Ok(code),
            };
            let caller = who.caller.as_ref();
            let opened = match open_locked(&cfg).await? {
                Ok(o) => o,
                Err(code) => return Ok(code),
            };
            if let Err(code) = settle_account(&mut cfg, caller, &opened.state.snapshot()) {
                return Ok(code);
            }
            let s = stack::Stack::load(&cfg, false).await?;
            let down = probe_stack(&cfg, &s.components, json).await;
            if let Err(code) = state_region_down(&cfg, &down) {
                return Ok(code);
            }
            let engine = Engine::new(s.components, opened.state.clone())?;
            let orphans = orphaned_ids(engine.graph(), &opened.state.snapshot());
            if !orphans.is_empty() {
                eprintln!("warning: state has components this version of Tandem does not know: {}", orphans.join(", "));
            }
            let mut plan = match engine.plan_destroy(&targets) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(Exit::BadInput);
                }
            };
            plan.estimate = Some(engine.estimate(&plan, true, Some(parallelism)));
            if plan.changes.is_empty() {
                if json {
                    render::report_json(&cfg, caller, &plan, None, &opened.state.snapshot(), None, &[]);
                } else {
                    println!("Nothing to destroy: stack '{}' has no resources in state.", cfg.environment_suffix);
                }
                return Ok(Exit::Ok);
            }
            if !json {
                render::plan(&cfg, caller, &plan, false, "destroy", None, &[]);
            }
            // What is about to be lost, counted where cheap; a failed count is said, never fatal.
            let summaries = engine.data_summaries(&plan, SUMMARY_DEADLINE, &down).await;
            let text = render::data_summary_text(&summaries);
            if json {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            match confirm("destroy every resource listed above, in both regions", yes) {
                Ok(true) => {}
                Ok(false) => {
                    println!("Destroy cancelled.");
                    return Ok(Exit::Ok);
                }
                Err(code) => return Ok(code),
            }
            execute(&cfg, caller, &engine, &plan, parallelism, json, true, &opened, None, down, timeline.as_deref()).await
        }
        Command::Status { json } => {
            // Outage-proof: short timeouts, few retries; a region that does not answer is
            // reported once (status.rs).
            let aws = AwsContext::load_with(CallProfile::OutageProof).await;
            let opened = open_state_with(&cfg, false, CallProfile::OutageProof).await?;
            let doc = opened.state.snapshot();
            // Status asks no STS (it must work during an outage): the account the state records.
            if let Err(code) = settle_account(&mut cfg, None, &doc) {
                return Ok(code);
            }
            let s = stack::Stack::load_with(&cfg, false, &aws)?;
            let report = status::check(&cfg, &aws, &s.components, &doc).await;
            let ok = render::status(&doc, &report, json);
            if let Ok(pending) = pending_operations(&cfg).load() {
                if !pending.is_empty() {
                    let commands: Vec<&str> = pending.iter().map(|o| o.command.as_str()).collect();
                    eprintln!(
                        "{} operation(s) not yet in the state (it was unreachable when they ran): {}; kept in {} until the next apply, destroy or switchover",
                        pending.len(),
                        commands.join(", "),
                        pending_operations(&cfg).path().display()
                    );
                }
            }
            if let Some(drill) = crate::drill::command::in_progress(&cfg) {
                eprintln!("{drill}");
            }
            Ok(if ok { Exit::Ok } else { Exit::Failed })
        }
        Command::Drill { json, database, only, restore, yes } => {
            if (database || matches!(only, Some(DrillLayer::Database))) && !restore {
                match confirm("drill the database: a planned switchover of the Aurora writer to the secondary region and back", yes) {
                    Ok(true) => {}
                    Ok(false) => return Ok(Exit::Ok),
                    Err(code) => return Ok(code),
                }
            }
            let only = only.map(|o| match o {
                DrillLayer::Data => crate::drill::Only::Data,
                DrillLayer::Traffic => crate::drill::Only::Traffic,
                DrillLayer::Database => crate::drill::Only::Database,
            });
            match preflight(&cfg, cli.expect_account.as_ref()).await {
                Ok(who) if cfg.account_id.is_none() => cfg.account_id = who.caller.and_then(|c| c.account.parse().ok()),
                Ok(_) => {}
                Err(code) => return Ok(code),
            }
            crate::drill::command::run(&cfg, crate::drill::command::Args { json, database, only, restore }).await
        }
        Command::Failover { unplanned, yes } => {
            let what = if unplanned {
                "fail the stack over to the secondary region (unplanned: Aurora may lose the writes not yet replicated)"
            } else {
                "switch the stack over to the secondary region (planned, no data loss)"
            };
            match confirm(what, yes) {
                Ok(true) => {}
                Ok(false) => return Ok(Exit::Ok),
                Err(code) => return Ok(code),
            }
            run_failover(&cfg, unplanned, cli.expect_account.as_ref()).await
        }
        Command::Switchover { to, yes } => {
            let what = format!("switch the Aurora writer over to the {} region (planned, no data loss)", role_name(to));
            match confirm(&what, yes) {
                Ok(true) => {}
                Ok(false) => return Ok(Exit::Ok),
                Err(code) => return Ok(code),
            }
            if let Err(code) = preflight(&cfg, cli.expect_account.as_ref()).await {
                return Ok(code);
            }
            run_switchover(&cfg, to).await
        }
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Primary => "primary",
        Role::Secondary => "secondary",
    }
}

/// Probes the regions `failover` / `switchover` need at once; prints each one that does not
/// answer, once.
async fn probe(cfg: &Config, aws: &AwsContext) -> std::collections::BTreeMap<String, String> {
    let down = probe_quietly(cfg, aws).await;
    say_down(&down);
    down
}

fn say_down(down: &std::collections::BTreeMap<String, String>) {
    for (region, why) in down {
        println!("{region} is UNREACHABLE ({why}).");
    }
}

async fn probe_quietly(cfg: &Config, aws: &AwsContext) -> std::collections::BTreeMap<String, String> {
    let mut regions: std::collections::BTreeSet<String> = [cfg.primary_region.clone(), cfg.secondary_region.clone(), ROUTE53_REGION.to_string()].into();
    if let Some((_, r)) = fo::state_bucket(cfg) {
        regions.insert(r);
    }
    let probe: Arc<dyn RegionProbe> = Arc::new(CloudWatchProbe::new(aws, regions.iter().map(String::as_str)));
    status::probe_regions(probe, &regions, status::PROBE_LIMIT).await
}

/// Takes the stack's lock for `failover`, never one in a region that does not answer, and
/// never waits for one: a held lock (an apply, a drill) does not block a failover.
async fn failover_lock(cfg: &Config, down: &std::collections::BTreeMap<String, String>) -> Option<LockGuard> {
    match fo::lock_plan(cfg, down) {
        LockPlan::Skip { bucket, region } => {
            println!(
                "Proceeding WITHOUT the state lock: its bucket s3://{bucket} is in {region}, which does not answer. This failover is recorded locally and goes into the state once it is reachable; nothing else in the state changes."
            );
            None
        }
        LockPlan::Take => {
            let backend = backend(cfg, CallProfile::OutageProof).await;
            match take_lock(&backend, &cfg.environment_suffix).await {
                Ok(guard) => Some(guard),
                Err(e @ StateError::Locked { .. }) => {
                    eprintln!("warning: {e}\nwarning: a failover does not wait for the lock; proceeding.");
                    None
                }
                Err(e) => {
                    eprintln!("warning: cannot take the state lock ({e}); proceeding without it.");
                    None
                }
            }
        }
    }
}

async fn run_failover(cfg: &Config, unplanned: bool, expect: Option<&AccountId>) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let started_at = st::now();
    let aws = AwsContext::load_with(CallProfile::OutageProof).await;
    // The preflight and the region probe at once: both read only, and during an outage each
    // waits out the region that does not answer.
    // A failed preflight (no credentials: known at once) does not wait for the probe.
    let (pre, probing) = (preflight(cfg, expect), probe_quietly(cfg, &aws));
    futures::pin_mut!(pre, probing);
    let down = match futures::future::select(pre, probing).await {
        futures::future::Either::Left((Err(code), _)) => return Ok(code),
        futures::future::Either::Left((Ok(_), probing)) => probing.await,
        futures::future::Either::Right((down, pre)) => match pre.await {
            Err(code) => return Ok(code),
            Ok(_) => down,
        },
    };
    say_down(&down);
    let lock = failover_lock(cfg, &down).await;
    let (p, s) = tandem_data::aurora::rds_clients(cfg, &aws);
    let cw = aws_sdk_cloudwatch::Client::new(&aws.config(&cfg.secondary_region));
    let flags = tandem_data::ssm::client(&aws, &cfg.secondary_region);
    let outcome = fo::fail_over(cfg, unplanned, &down, p.as_ref(), s.as_ref(), &cw, flags.as_ref()).await;
    let what = if unplanned { "Failover (unplanned)" } else { "Failover (planned switchover)" };
    print!("{}", fo::outcome_text(what, &outcome, started.elapsed()));
    // Into the state when this command holds its lock (it never waits for one), else into the
    // local pending file that the next locked command moves into the state.
    let command = if unplanned { "failover --unplanned" } else { "failover" };
    let opened = match &lock {
        Some(_) => open_state_with(cfg, false, CallProfile::OutageProof).await.ok(),
        None => None,
    };
    record_operation(cfg, opened.as_ref().map(|o| &o.state), fo::record(command, started_at, &outcome)).await;
    drop(lock);
    Ok(if outcome.ok { Exit::Ok } else { Exit::Failed })
}

async fn run_switchover(cfg: &Config, to: Role) -> anyhow::Result<Exit> {
    let started = std::time::Instant::now();
    let started_at = st::now();
    let aws = AwsContext::load_with(CallProfile::OutageProof).await;
    let down = probe(cfg, &aws).await;
    let needed: Vec<&String> = [&cfg.primary_region, &cfg.secondary_region].into_iter().filter(|r| down.contains_key(*r)).collect();
    let outcome = if !needed.is_empty() {
        let mut outcome = fo::Outcome { ok: false, ..Default::default() };
        for r in needed {
            outcome.not_done.push(format!(
                "switchover refused: {r} does not answer; a switchover needs both regions and every member healthy. During an outage use `tandem failover --unplanned`"
            ));
        }
        outcome
    } else {
        let opened = open_state_with(cfg, true, CallProfile::OutageProof).await?;
        let (p, s) = tandem_data::aurora::rds_clients(cfg, &aws);
        // `--to primary` clears the forced flag, in the secondary region.
        let flags = tandem_data::ssm::client(&aws, &cfg.secondary_region);
        let outcome = fo::switch_over_to(cfg, to.placement(), p.as_ref(), s.as_ref(), flags.as_ref()).await;
        print!("{}", fo::outcome_text(&format!("Switchover to the {}", role_name(to)), &outcome, started.elapsed()));
        let command = format!("switchover --to {}", role_name(to));
        record_operation(cfg, Some(&opened.state), fo::record(&command, started_at, &outcome)).await;
        return Ok(if outcome.ok { Exit::Ok } else { Exit::Failed });
    };
    print!("{}", fo::outcome_text(&format!("Switchover to the {}", role_name(to)), &outcome, started.elapsed()));
    Ok(if outcome.ok { Exit::Ok } else { Exit::Failed })
}

/// An apply refused for data safety: the plan with the refused lines marked (or the JSON
/// report carrying them), why each is refused and the flag that allows it; nothing runs.
fn refuse(cfg: &Config, caller: Option<&identity::Caller>, plan: &Plan, refused: &[Refusal], json: bool, opened: &Opened, drift: Option<&render::DriftMap>) -> Exit {
    if json {
        render::report_json(cfg, caller, plan, None, &opened.state.snapshot(), drift, refused);
        eprint!("{}", render::refusals_text(refused));
    } else {
        render::plan(cfg, caller, plan, false, "apply", None, refused);
        eprintln!("error: apply refused: {} change(s) would lose data (see above); nothing was changed", refused.len());
    }
    Exit::BadInput
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    cfg: &Config,
    caller: Option<&identity::Caller>,
    engine: &Engine,
    plan: &Plan,
    parallelism: usize,
    json: bool,
    destroy: bool,
    opened: &Opened,
    drift: Option<&render::DriftMap>,
    unreachable: BTreeSet<String>,
    timeline: Option<&std::path::Path>,
) -> anyhow::Result<Exit> {
    let progress = Progress::new(json);
    let opts = RunOptions {
        parallelism: Some(parallelism.max(1)),
        targets: Vec::new(),
        cancel: cancel_on_ctrl_c(),
        progress: Some(progress.callback()),
        unreachable,
    };
    let report = if destroy { engine.destroy(plan, &opts).await } else { engine.apply(plan, &opts).await };
    progress.finish();
    let doc = opened.state.snapshot();
    if json {
        render::report_json(cfg, caller, plan, Some(&report), &doc, drift, &[]);
    } else {
        render::summary(&report, destroy, &opened.backend.describe());
        if !destroy {
            render::outputs(&doc, false);
        }
    }
    if let Some(path) = timeline {
        write_timeline(cfg, engine, &report, destroy, path, json);
    }
    Ok(if report.success() { Exit::Ok } else { Exit::Failed })
}

/// `--timeline FILE.svg`: the run's Gantt chart. A file that cannot be written is a warning
/// (the run itself is done and recorded).
fn write_timeline(cfg: &Config, engine: &Engine, report: &tandem_core::Report, destroy: bool, path: &std::path::Path, json: bool) {
    let g = engine.graph();
    let rows: Vec<crate::timeline::Row> = (0..g.len())
        .map(|i| {
            let up = if destroy { g.dependents(i) } else { g.dependencies(i) };
            crate::timeline::Row {
                id: g.component(i).id().to_string(),
                region: g.component(i).region().to_string(),
                upstream: up.into_iter().map(|u| g.component(u).id().to_string()).collect(),
            }
        })
        .collect();
    let title = format!("{} of stack '{}'", if destroy { "destroy" } else { "apply" }, cfg.environment_suffix);
    let said = match std::fs::write(path, crate::timeline::svg(report, &rows, &title)) {
        Ok(()) => format!("Timeline of this run written to {}", path.display()),
        Err(e) => format!("warning: cannot write the timeline to {}: {e}", path.display()),
    };
    if json {
        eprintln!("{said}");
    } else {
        println!("{said}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_comes_from_the_config_the_caller_or_the_state_and_another_than_the_states_is_refused() {
        let caller = |a: &str| identity::Caller { account: a.into(), arn: format!("arn:aws:iam::{a}:user/ops") };
        let mut doc = StateDoc::new("t1");
        let mut cfg = Config::example("t1");
        settle_account(&mut cfg, Some(&caller("111122223333")), &doc).unwrap();
        assert_eq!(cfg.account_id.as_ref().map(|a| a.as_str()), Some("111122223333"), "the caller's");
        doc.account = Some("444455556666".into());
        let mut cfg = Config::example("t1");
        settle_account(&mut cfg, None, &doc).unwrap();
        assert_eq!(cfg.account_id.as_ref().map(|a| a.as_str()), Some("444455556666"), "the state's, when STS is not asked");
        let mut cfg = Config::example("t1");
        assert_eq!(settle_account(&mut cfg, Some(&caller("111122223333")), &doc), Err(Exit::BadInput), "another account than the state's");
        assert_eq!(cfg.account_id, None);
        let mut cfg = Config::example("t1");
        cfg.account_id = Some("444455556666".parse().unwrap());
        settle_account(&mut cfg, Some(&caller("444455556666")), &doc).unwrap();
        assert_eq!(cfg.account_id.as_ref().map(|a| a.as_str()), Some("444455556666"), "the configured one stays");
    }

    #[test]
    fn unknown_targets_are_named() {
        let targets = vec!["dashboard".to_string(), "dashbord".to_string(), "table".to_string()];
        let known = ["dashboard", "table", "network-primary"];
        assert_eq!(unknown_targets(known.iter().copied(), &targets), vec!["dashbord"]);
        assert!(unknown_targets(known.iter().copied(), &targets[..1]).is_empty());
    }

    #[test]
    fn no_changes_message_says_whether_live_resources_were_read() {
        assert!(no_changes_message(true).contains("live resources match"));
        assert!(!no_changes_message(false).contains("live"));
    }
}
