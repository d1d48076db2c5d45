//! S3 state backend: `s3://<bucket>/<prefix><stack>/state.json`, with a lock object created
//! by a conditional write (`If-None-Match: *`), so two runs on two machines cannot hold it
//! at once, and state writes guarded by `If-Match` on the last ETag we saw, so a run never
//! overwrites a document someone else wrote.

use std::sync::Mutex;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::state::{hostname, now, LockGuard, LockInfo, StateBackend, StateDoc, StateError};

pub struct S3Backend {
    client: Client,
    bucket: String,
    prefix: String,
    stack: String,
    etag: Mutex<Option<String>>,
}

impl S3Backend {
    pub fn new(client: Client, bucket: &str, prefix: &str, stack: &str) -> Self {
        Self { client, bucket: bucket.into(), prefix: prefix.into(), stack: stack.into(), etag: Mutex::new(None) }
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
                    serde_json::from_slice(&bytes).map(Some).map_err(|e| StateError::Corrupt {
                        path: self.key("state.json").into(),
                        message: e.to_string(),
                    })
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

    fn lock(&self, stack: &str) -> Result<LockGuard, StateError> {
        let key = self.key("lock");
        let info = LockInfo { pid: std::process::id(), host: hostname(), since: now() };
        let body = serde_json::to_vec(&info).map_err(|e| StateError::Backend(e.to_string()))?;
        Self::block_on(async {
            let r = self.client.put_object().bucket(&self.bucket).key(&key).if_none_match("*").body(ByteStream::from(body)).send().await;
            match r {
                Ok(_) => {
                    let client = self.client.clone();
                    let bucket = self.bucket.clone();
                    Ok(LockGuard::new(move || {
                        let release = async move {
                            let _ = client.delete_object().bucket(bucket).key(key).send().await;
                        };
                        Self::block_on(release);
                    }))
                }
                Err(e) => match code(&e) {
                    (_, Some(412)) | (_, Some(409)) => {
                        let holder: Option<LockInfo> = match self.client.get_object().bucket(&self.bucket).key(&key).send().await {
                            Ok(o) => o.body.collect().await.ok().and_then(|b| serde_json::from_slice(&b.into_bytes()).ok()),
                            Err(_) => None,
                        };
                        let h = holder.unwrap_or(LockInfo { pid: 0, host: "unknown".into(), since: 0 });
                        Err(StateError::Locked {
                            stack: stack.into(),
                            pid: h.pid,
                            host: h.host,
                            since: format!("unix {}", h.since),
                            path: format!("s3://{}/{key}", self.bucket).into(),
                        })
                    }
                    _ => Err(self.err("lock PutObject", aws_smithy_types::error::display::DisplayErrorContext(&e))),
                },
            }
        })
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
}
