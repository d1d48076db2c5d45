//! End-to-end: the `tandem` CLI against a moto server, inventoried with the aws-sdk clients
//! directly (not through Tandem's state).

mod api_auth;
mod census;
mod cli;
mod dr_cli;
mod drill;
mod inventory;
mod outage;
mod resilience;

use std::path::PathBuf;

use tandem_tests::{tandem, tandem_bin, Moto, Run};

pub const PRIMARY: &str = "us-east-1";
pub const SECONDARY: &str = "us-east-2";

pub struct Deployment {
    pub suffix: String,
    pub zone_id: String,
    pub primary_domain: String,
    pub secondary_domain: String,
    pub record_name: String,
    pub env: Vec<(String, String)>,
    pub config: PathBuf,
}

impl Deployment {
    /// The deployment of `examples/local.toml` with stack suffix `suffix`: a hosted zone
    /// `<suffix>.tandem-test.test` created directly on `moto`, domains under it, state in
    /// `work`, and the CLI's AWS endpoint `endpoint` (moto itself, or a proxy in front of it).
    pub async fn new(moto: &Moto, suffix: &str, work: &std::path::Path, endpoint: &str) -> Deployment {
        let domain = format!("{suffix}.tandem-test.test");
        let r53 = aws_sdk_route53::Client::new(&moto.sdk(PRIMARY).await);
        let zone = r53
            .create_hosted_zone()
            .name(format!("{domain}."))
            .caller_reference(format!("e2e-{suffix}"))
            .send()
            .await
            .expect("hosted zone");
        let zone_id = zone.hosted_zone().map(|z| z.id().trim_start_matches("/hostedzone/").to_string()).expect("zone id");
        Deployment {
            suffix: suffix.to_string(),
            zone_id: zone_id.clone(),
            primary_domain: format!("primary.api.{domain}"),
            secondary_domain: format!("secondary.api.{domain}"),
            record_name: format!("api.{domain}"),
            env: vec![
                ("AWS_ENDPOINT_URL".into(), endpoint.to_string()),
                ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
                ("AWS_REGION".into(), PRIMARY.into()),
                ("TANDEM_POLL_INTERVAL_MS".into(), "50".into()),
                ("TANDEM_STATE_DIR".into(), work.join(".tandem").display().to_string()),
                ("TANDEM_ENVIRONMENT_SUFFIX".into(), suffix.to_string()),
                ("TANDEM_DNS__HOSTED_ZONE_ID".into(), zone_id),
                ("TANDEM_DNS__RECORD_NAME".into(), format!("api.{domain}")),
                ("TANDEM_API__PRIMARY_DOMAIN".into(), format!("primary.api.{domain}")),
                ("TANDEM_API__SECONDARY_DOMAIN".into(), format!("secondary.api.{domain}")),
            ],
            config: tandem_tests::root().join("examples/local.toml"),
        }
    }

    /// The local state file of this deployment (`TANDEM_STATE_DIR/<suffix>/state.json`).
    pub fn state_file(&self) -> PathBuf {
        let dir = self.env.iter().find(|(k, _)| k == "TANDEM_STATE_DIR").map(|(_, v)| PathBuf::from(v)).unwrap_or_default();
        dir.join(&self.suffix).join("state.json")
    }
}

fn check(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what} failed (exit {}):\n--- stdout\n{}\n--- stderr\n{}", run.code, run.stdout, run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_stack_apply_idempotent_destroy() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(work.path());
    let suffix = format!("e2e{:06x}", rand_u32() & 0xffffff);
    let d = Deployment::new(&moto, &suffix, work.path(), &moto.endpoint).await;
    let root = tandem_tests::root();
    let bin = tandem_bin();
    let cfg = d.config.display().to_string();

    // 1. apply creates the full stack.
    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes"], &d.env, &root);
    check(&run, "first apply");
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    assert!(run.stdout.lines().nth(1).is_some_and(|l| l.starts_with("Account 123456789012, as ")), "the plan header names the account: {}", run.stdout);
    inventory::check_deployed(&moto, &d).await;
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.state_file()).expect("state")).expect("state JSON");
    assert_eq!(state["account"], "123456789012", "apply records the account its buckets are named with");
    inventory::check_api_auth(&moto, &d, false).await;

    // 4. outputs --json carries every SPEC output.
    let run = tandem(&bin, &["--config", &cfg, "outputs", "--json"], &d.env, &root);
    check(&run, "outputs");
    let outputs: serde_json::Value = serde_json::from_str(&run.stdout).expect("outputs JSON");
    inventory::check_outputs(&outputs, &d);

    // 2. A second apply reports no changes and makes no mutating AWS call.
    moto.start_recording();
    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes"], &d.env, &root);
    let mutations = moto.stop_recording_mutations();
    check(&run, "second apply");
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
    assert!(mutations.is_empty(), "second apply made mutating calls: {mutations:#?}");

    // 2b. `apply --refresh` on the unchanged stack reads every component (the recorder
    // must see those reads, or it proves nothing) and changes nothing.
    moto.start_recording();
    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes", "--refresh"], &d.env, &root);
    let recorded = moto.stop_recording();
    check(&run, "apply --refresh on an unchanged stack");
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
    assert!(recorded.mutations.is_empty(), "apply --refresh made mutating calls: {:#?}", recorded.mutations);
    for read in ["DescribeVpcs", "GetDashboard", "DescribeTable", "DescribeDBClusters"] {
        assert!(
            recorded.reads.iter().any(|r| r.contains(read)),
            "apply --refresh did not read {read}; it recorded {} reads: {:#?}",
            recorded.reads.len(),
            recorded.reads
        );
    }

    // 2c. A resource deleted out of band is re-created by `apply --refresh`.
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk(PRIMARY).await);
    let dashboard = format!("dashboard-{suffix}");
    cw.delete_dashboards().dashboard_names(&dashboard).send().await.expect("delete the dashboard out of band");
    let gone = cw.get_dashboard().dashboard_name(&dashboard).send().await.expect_err("the dashboard is gone");
    assert_eq!(gone.as_service_error().and_then(|e| e.meta().code()), Some("ResourceNotFound"), "{gone:?}");
    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes", "--refresh"], &d.env, &root);
    check(&run, "apply --refresh after an out-of-band delete");
    assert!(run.stdout.contains("dashboard"), "the plan names the missing dashboard:\n{}", run.stdout);
    cw.get_dashboard().dashboard_name(&dashboard).send().await.expect("apply --refresh re-created the dashboard");

    // 2c'. Moving the secondary region would re-create its data holders (empty): refused
    // before anything changes, each named with the flag that would allow it (exit 2).
    let mut moved = d.env.clone();
    moved.push(("TANDEM_SECONDARY_REGION".into(), "us-west-1".into()));
    moto.start_recording();
    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes"], &moved, &root);
    let mutations = moto.stop_recording_mutations();
    assert_eq!(run.code, 2, "a change that loses data is refused:\n{}\n{}", run.stdout, run.stderr);
    for id in ["aurora-secondary", "bucket-secondary", "backup-vault-secondary"] {
        assert!(run.stdout.contains(&format!("REFUSED without --allow-data-loss {id}")), "{id}:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("Nothing was changed. To accept the loss, run: tandem apply --allow-data-loss"), "{}", run.stdout);
    assert!(mutations.is_empty(), "a refused apply made mutating calls: {mutations:#?}");

    // 2d. A region cut off (scripts/local-aws outage), observed from the regions still up.
    outage::check_outage(&moto, &d, &outputs).await;

    // 3. destroy removes everything; a second destroy is a no-op.
    let run = tandem(&bin, &["--config", &cfg, "destroy", "--yes"], &d.env, &root);
    check(&run, "destroy");
    inventory::check_gone(&moto, &d).await;
    let run = tandem(&bin, &["--config", &cfg, "destroy", "--yes"], &d.env, &root);
    check(&run, "second destroy");
    assert!(run.stdout.contains("Nothing to destroy"), "{}", run.stdout);
}

pub fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(7);
    t ^ std::process::id().rotate_left(16)
}

/// An installed `tandem` (the binary alone in a directory, with `tandem-lambda` beside it, as
/// `cargo install` leaves them), run from an empty directory holding only its config: it
/// packages the installed Lambda binary (no build, no sources), plans, applies and destroys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_tandem_runs_from_an_empty_directory() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(work.path());
    let suffix = format!("in{:06x}", rand_u32() & 0xffffff);
    let d = Deployment::new(&moto, &suffix, work.path(), &moto.endpoint).await;
    let bin_dir = work.path().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("bin dir");
    let installed = bin_dir.join("tandem");
    std::fs::copy(tandem_bin(), &installed).expect("install tandem");
    // What `cargo install --path lambda --profile lambda --bin tandem-lambda` puts beside it
    // (an x86-64 ELF that passes the package check; the emulator runs no code).
    std::fs::write(bin_dir.join("tandem-lambda"), tandem_compute::package::static_elf_for_tests()).expect("install tandem-lambda");
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).expect("empty dir");
    std::fs::copy(&d.config, empty.join("tandem.toml")).expect("config");

    let run = tandem(&installed, &["plan"], &d.env, &empty);
    check(&run, "plan from an empty directory");
    assert!(run.stdout.contains("Plan: ") && run.stdout.contains(" to create, 0 to update"), "{}", run.stdout);
    assert!(!run.stderr.contains("Building the Lambda package"), "nothing is built: {}", run.stderr);
    let zip = work.path().join(".tandem").join("lambda").join("tandem-lambda.zip");
    assert!(zip.is_file(), "the installed binary is packaged into the state directory");

    let run = tandem(&installed, &["apply", "--yes"], &d.env, &empty);
    check(&run, "apply from an empty directory");
    assert!(run.stdout.contains("Apply complete: "), "{}", run.stdout);
    let run = tandem(&installed, &["destroy", "--yes"], &d.env, &empty);
    check(&run, "destroy from an empty directory");
    inventory::check_gone(&moto, &d).await;
}
