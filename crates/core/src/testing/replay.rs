//! A replaying HTTP client for request-shaping tests of the SDK implementations: answers
//! each request with the next canned response (status, headers, body) and records what the
//! SDK sent. Any crate's client: `aws_sdk_x::Client::new(&replay.sdk_config())`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::{http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;

/// One request as the SDK sent it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: String,
    pub uri: String,
    /// `X-Amz-Target` (JSON protocols name the operation there).
    pub target: Option<String>,
    pub body: String,
}

type Canned = (u16, Vec<(String, String)>, String);

#[derive(Debug, Clone)]
pub struct Replay {
    answers: Arc<Mutex<VecDeque<Canned>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

/// A canned answer: HTTP status, headers, body.
pub type Answer<'a> = (u16, &'a [(&'a str, &'a str)], &'a str);

impl HttpConnector for Replay {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push(Sent {
            method: request.method().to_string(),
            uri: request.uri().to_string(),
            target: request.headers().get("x-amz-target").map(str::to_string),
            body: request.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(),
        });
        let (status, headers, body) = self
            .answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .unwrap_or_else(|| (599, Vec::new(), "test: no canned answer left".to_string()));
        let mut resp = HttpResponse::new(StatusCode::try_from(status).unwrap_or_else(|_| panic!("bad status {status}")), SdkBody::from(body));
        for (k, v) in headers {
            resp.headers_mut().insert(k, v);
        }
        HttpConnectorFuture::ready(Ok(resp))
    }
}

impl Replay {
    pub fn new(answers: Vec<Answer<'_>>) -> Self {
        let answers = answers
            .into_iter()
            .map(|(s, h, b)| (s, h.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), b.to_string()))
            .collect();
        Self { answers: Arc::new(Mutex::new(answers)), sent: Arc::new(Mutex::new(Vec::new())) }
    }

    /// The same answer `n` times.
    pub fn repeat(answer: Answer<'_>, n: usize) -> Self {
        Self::new(vec![answer; n])
    }

    pub fn requests(&self) -> Vec<Sent> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn http_client(&self) -> SharedHttpClient {
        let me = self.clone();
        http_client_fn(move |_, _| SharedHttpConnector::new(me.clone()))
    }

    /// An SDK configuration (us-east-1, static credentials, no retries) whose every
    /// request goes to this replay.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new("testing", "testing", None, None, "test")))
            .retry_config(RetryConfig::disabled())
            .http_client(self.http_client())
            .build()
    }
}
