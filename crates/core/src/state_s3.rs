//! S3 state backend: `s3://<bucket>/<prefix><stack>/state.json`, with a lock object created
//! by a conditional write (`If-None-Match: *`), so two runs on two machines cannot hold it
//! at once, and state writes guarded by `If-Match` on the last ETag we saw, so a run never
//! overwrites a document someone else wrote.

use std::sync::Mutex;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use std::time::Duration;

use crate::state::{hostname, now, parse_doc, LockGuard, LockInfo, StateBackend, StateDoc, StateError, TakenOver};

/// How old a lock object must be to be taken over, unless configured
/// (`[state] lock_expiry_minutes`).
pub const DEFAULT_LOCK_EXPIRY: Duration = Duration::from_secs(60 * 60);

pub struct S3Backend {
    client: Client,
    bucket: String,
    prefix: String,
    stack: String,
    etag: Mutex<Option<String>>,
    lock_expiry: Duration,
}

impl S3Backend {
    pub fn new(client: Client, bucket: &str, prefix: &str, stack: &str) -> Self {
        Self { client, bucket: bucket.into(), prefix: prefix.into(), stack: stack.into(), etag: Mutex::new(None), lock_expiry: DEFAULT_LOCK_EXPIRY }
    }

    /// A lock older than `expiry` is taken over (default [`DEFAULT_LOCK_EXPIRY`]).
    pub fn with_lock_expiry(mut self, expiry: Duration) -> Self {
        self.lock_expiry = expiry;
        self
    }

    fn key(&self, name: &str) -> String {
        format!("{}{}/{name}", self.prefix, self.stack)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        match tokio::runtime::Handle::try_current() {
            Ok(h) => tokio::task::block_in_place(|| h.block_on(f)),
            Err(_) => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(f),
                Err(e) => panic!("no runtime for the S3 state backend: {e}"),
            },
        }
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> StateError {
        StateError::Backend(format!("s3://{}/{}: {what}: {e}", self.bucket, self.key("state.json")))
    }
}

fn code<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>) -> (Option<String>, Option<u16>) {
    use aws_smithy_runtime_api::client::result::SdkError;
    match e {
        SdkError::ServiceError(se) => (se.err().code().map(str::to_string), Some(se.raw().status().as_u16())),
        _ => (None, None),
    }
}

impl StateBackend for S3Backend {
    fn load(&self) -> Result<Option<StateDoc>, StateError> {
        Self::block_on(async {
            match self.client.get_object().bucket(&self.bucket).key(self.key("state.json")).send().await {
                Ok(out) => {
                    *self.etag.lock().unwrap_or_else(|p| p.into_inner()) = out.e_tag().map(str::to_string);
                    let bytes = out.body.collect().await.map_err(|e| self.err("read", e))?.into_bytes();
                    let path = std::path::PathBuf::from(self.describe());
                    match parse_doc(&path, &bytes) {
                        Ok(doc) => Ok(Some(doc)),
                        Err(Ok(refused)) => Err(refused),
                        Err(Err(message)) => Err(StateError::Corrupt { path, message }),
                    }
                }
                Err(e) => match code(&e) {
                    (Some(c), _) if c == "NoSuchKey" => Ok(None),
                    (_, Some(404)) => Ok(None),
                    _ => Err(self.err("GetObject", aws_smithy_types::error::display::DisplayErrorContext(&e))),
                },
            }
        })
    }

    fn save(&self, doc: &StateDoc) -> Result<(), StateError> {
        let body = serde_json::to_vec_pretty(doc).map_err(|e| StateError::Backend(e.to_string()))?;
        Self::block_on(async {
            let etag = self.etag.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let mut put = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(self.key("state.json"))
                .content_type("application/json")
                .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                .body(ByteStream::from(body));
            put = match etag {
                Some(t) => put.if_match(t),
                None => put.if_none_match("*"),
            };
            match put.send().await {
                Ok(out) => {
                    *self.etag.lock().unwrap_or_else(|p| p.into_inner()) = out.e_tag().map(str::to_string);
                    Ok(())
                }
                Err(e) => match code(&e) {
                    (_, Some(412)) | (_, Some(409)) => Err(self.err("PutObject", "the state was changed by another run (precondition failed); re-run after it finishes")),
                    _ => Err(self.err("PutObject", aws_smithy_types::error::display::DisplayErrorContext(&e))),
                },
            }
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key("state.json"))
    }

    /// Takes the lock object, created only if absent (`If-None-Match: *`). A lock older than
    /// the expiry is taken over by a write conditional on its ETag (so of two runs taking
    /// over one expired lock, one wins); a younger one is a [`StateError::Locked`]. The guard
    /// deletes the object only while it is still ours (its ETag unchanged, `If-Match`).
    fn lock(&self, stack: &str) -> Result<LockGuard, StateError> {
        let key = self.key("lock");
        let info = LockInfo { pid: std::process::id(), host: hostname(), since: now() };
        let body = serde_json::to_vec(&info).map_err(|e| StateError::Backend(e.to_string()))?;
        let url = format!("s3://{}/{key}", self.bucket);
        Self::block_on(async {
            for _ in 0..3 {
                let r = self.client.put_object().bucket(&self.bucket).key(&key).if_none_match("*").body(ByteStream::from(body.clone())).send().await;
                let e = match r {
                    Ok(out) => return Ok(self.guard(&key, out.e_tag(), None)),
                    Err(e) => e,
                };
                if !matches!(code(&e), (_, Some(412)) | (_, Some(409))) {
                    return Err(self.err("lock PutObject", aws_smithy_types::error::display::DisplayErrorContext(&e)));
                }
                let (holder, etag) = match self.client.get_object().bucket(&self.bucket).key(&key).send().await {
                    Ok(o) => {
                        let etag = o.e_tag().map(str::to_string);
                        let holder: Option<LockInfo> = o.body.collect().await.ok().and_then(|b| serde_json::from_slice(&b.into_bytes()).ok());
                        (holder, etag)
                    }
                    // Released between our write and our read: try again.
                    Err(e) if matches!(code(&e), (Some(c), _) if c == "NoSuchKey") || code(&e).1 == Some(404) => continue,
                    Err(e) => return Err(self.err("lock GetObject", aws_smithy_types::error::display::DisplayErrorContext(&e))),
                };
                let h = holder.unwrap_or(LockInfo { pid: 0, host: "unknown".into(), since: 0 });
                let age = now().saturating_sub(h.since);
                let locked = |h: LockInfo| StateError::Locked {
                    stack: stack.into(),
                    pid: h.pid,
                    host: h.host,
                    since: format!("unix {}", h.since),
                    path: url.clone().into(),
                };
                // `since == 0`: an unreadable lock body; its age is unknown, never expired.
                let (Some(etag), true) = (etag, h.since > 0 && age >= self.lock_expiry.as_secs()) else {
                    return Err(locked(h));
                };
                let taken = self
                    .client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .if_match(&etag)
                    .body(ByteStream::from(body.clone()))
                    .send()
                    .await;
                match taken {
                    Ok(out) => {
                        let t = TakenOver {
                            pid: h.pid,
                            host: h.host,
                            age_secs: age,
                            why: format!("older than [state] lock_expiry_minutes = {}", self.lock_expiry.as_secs() / 60),
                        };
                        return Ok(self.guard(&key, out.e_tag(), Some(t)));
                    }
                    // Another run took it over (or its holder released it) first.
                    Err(e) if matches!(code(&e), (_, Some(412)) | (_, Some(409)) | (_, Some(404))) => continue,
                    Err(e) => return Err(self.err("lock takeover PutObject", aws_smithy_types::error::display::DisplayErrorContext(&e))),
                }
            }
            Err(StateError::Backend(format!("could not take lock {url}: it changed hands on every attempt")))
        })
    }
}

impl S3Backend {
    /// The guard of a lock object we wrote with ETag `etag`: its release deletes the object
    /// only if it is still the one we wrote (a run that took it over keeps it).
    fn guard(&self, key: &str, etag: Option<&str>, took_over: Option<TakenOver>) -> LockGuard {
        let (client, bucket, key, etag) = (self.client.clone(), self.bucket.clone(), key.to_string(), etag.map(str::to_string));
        let g = LockGuard::new(move || {
            let release = async move {
                let Some(etag) = etag else { return };
                // S3 honours `If-Match` on DeleteObject; the read first also covers a store
                // that ignores it.
                let current = client.head_object().bucket(&bucket).key(&key).send().await;
                if current.ok().and_then(|o| o.e_tag().map(str::to_string)).as_deref() != Some(etag.as_str()) {
                    tracing::warn!(key = %key, "the state lock is no longer ours (taken over after its expiry?): left in place");
                    return;
                }
                let _ = client.delete_object().bucket(&bucket).key(&key).if_match(&etag).send().await;
            };
            Self::block_on(release);
        });
        match took_over {
            Some(t) => g.with_takeover(t),
            None => g,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Placement;
    use crate::state::ComponentState;

    async fn backend(stack: &str) -> S3Backend {
        let aws = crate::testing::moto_context().await;
        let sdk = aws.config("us-east-1");
        let client = Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        let bucket = format!("tandem-state-{stack}");
        let _ = client.create_bucket().bucket(&bucket).send().await;
        S3Backend::new(client, &bucket, "stacks/", stack)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn round_trips_and_locks_on_moto() {
        let b = backend("s3rt").await;
        assert_eq!(b.load().unwrap(), None);
        let mut doc = StateDoc::new("s3rt");
        doc.insert_component("a", ComponentState::new("x", Placement::Primary, "us-east-1").with_resource("r", "id-1"));
        b.save(&doc).unwrap();
        doc.serial = 2;
        b.save(&doc).unwrap();
        assert_eq!(b.load().unwrap(), Some(doc));
        let g = b.lock("s3rt").unwrap();
        let e = b.lock("s3rt").unwrap_err().to_string();
        assert!(e.contains("locked by pid") && e.contains(&std::process::id().to_string()), "{e}");
        drop(g);
        let _g = b.lock("s3rt").unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_to_overwrite_a_document_written_by_another_run() {
        let b1 = backend("s3cas").await;
        let b2 = backend("s3cas").await;
        let doc = StateDoc::new("s3cas");
        b1.save(&doc).unwrap();
        b2.load().unwrap();
        let mut d2 = doc.clone();
        d2.serial = 5;
        b2.save(&d2).unwrap();
        let e = b1.save(&doc).unwrap_err().to_string();
        assert!(e.contains("changed by another run"), "{e}");
    }

    async fn put_lock(b: &S3Backend, pid: u32, host: &str, since: u64) {
        let body = serde_json::to_vec(&LockInfo { pid, host: host.into(), since }).unwrap();
        b.client.put_object().bucket(&b.bucket).key(b.key("lock")).body(ByteStream::from(body)).send().await.unwrap();
    }

    async fn lock_holder(b: &S3Backend) -> Option<u32> {
        let o = b.client.get_object().bucket(&b.bucket).key(b.key("lock")).send().await.ok()?;
        let info: LockInfo = serde_json::from_slice(&o.body.collect().await.unwrap().into_bytes()).unwrap();
        Some(info.pid)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_lock_is_taken_over_and_a_young_one_refused() {
        let b = backend("s3exp").await.with_lock_expiry(Duration::from_secs(30 * 60));
        put_lock(&b, 4242, "ci-runner-7", now() - 2 * 3600).await;
        let g = b.lock("s3exp").unwrap();
        let t = g.took_over().expect("a takeover is reported").to_string();
        assert!(t.contains("pid 4242") && t.contains("ci-runner-7") && t.contains("2h0m") && t.contains("lock_expiry_minutes = 30"), "{t}");
        assert_eq!(lock_holder(&b).await, Some(std::process::id()));
        drop(g);
        assert_eq!(lock_holder(&b).await, None, "released");

        put_lock(&b, 4242, "ci-runner-7", now() - 5 * 60).await;
        let e = b.lock("s3exp").unwrap_err();
        assert!(matches!(&e, StateError::Locked { pid: 4242, host, .. } if host == "ci-runner-7"), "{e:?}");
        assert_eq!(lock_holder(&b).await, Some(4242), "a young lock is left alone");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_taken_over_by_another_run_is_not_released_by_its_old_holder() {
        let b = backend("s3rel").await;
        let g = b.lock("s3rel").unwrap();
        // Another run took it over (after its expiry) while this one still ran.
        put_lock(&b, 777, "elsewhere", now()).await;
        drop(g);
        assert_eq!(lock_holder(&b).await, Some(777), "the other run's lock stays");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_state_of_a_newer_version_is_refused() {
        let b = backend("s3ver").await;
        let mut doc = serde_json::to_value(StateDoc::new("s3ver")).unwrap();
        doc["version"] = serde_json::json!(crate::state::STATE_VERSION + 1);
        b.client.put_object().bucket(&b.bucket).key(b.key("state.json")).body(ByteStream::from(serde_json::to_vec(&doc).unwrap())).send().await.unwrap();
        let e = b.load().unwrap_err().to_string();
        assert!(e.contains("written by a newer tandem") && e.contains("upgrade tandem") && e.contains("s3://"), "{e}");
    }
}
