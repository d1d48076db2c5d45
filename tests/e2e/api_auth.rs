//! Issue 14, findings 2 and 3, on the emulator: after `apply` the REST API's writes need the
//! API key (reads too unless `[api] public_reads`), a throttled usage plan on the stage holds
//! the key (the SSM SecureString's value), and the api role can read no secret; switching
//! `public_reads` on re-puts only the GET method; `destroy` leaves no key or plan behind.

use tandem_tests::{tandem, tandem_bin, Moto};

use crate::{check, inventory, rand_u32, Deployment};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_needs_the_key_and_the_api_role_reads_no_secret() {
    let work = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(work.path());
    let suffix = format!("ak{:06x}", rand_u32() & 0xffffff);
    let d = Deployment::new(&moto, &suffix, work.path(), &moto.endpoint).await;
    let root = tandem_tests::root();
    let bin = tandem_bin();
    let cfg = d.config.display().to_string();

    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes"], &d.env, &root);
    check(&run, "apply");
    inventory::check_api_auth(&moto, &d, false).await;
    // The key's value never reaches the CLI's output or the state file.
    let sdk = moto.sdk(crate::PRIMARY).await;
    let key = aws_sdk_ssm::Client::new(&sdk)
        .get_parameter()
        .name(format!("/tandem/{suffix}/api-key"))
        .with_decryption(true)
        .send()
        .await
        .expect("api-key");
    let key = key.parameter().and_then(|p| p.value()).unwrap_or_default().to_string();
    assert!(key.len() >= 20);
    let state = std::fs::read_to_string(d.state_file()).expect("state file");
    assert!(!state.contains(&key) && !run.stdout.contains(&key) && !run.stderr.contains(&key), "the key leaked");

    // Public reads: GET /items/{id} without the key; writes still need it.
    let mut public = d.env.clone();
    public.push(("TANDEM_API__PUBLIC_READS".into(), "true".into()));
    let run = tandem(&bin, &["--config", &cfg, "apply", "--yes"], &public, &root);
    check(&run, "apply with public reads");
    inventory::check_api_auth(&moto, &d, true).await;

    let run = tandem(&bin, &["--config", &cfg, "destroy", "--yes"], &public, &root);
    check(&run, "destroy");
    inventory::check_gone(&moto, &d).await;
}
