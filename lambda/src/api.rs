//! The regional API handler, behind API Gateway (REST, Lambda proxy integration) and behind
//! the ALB of the NLB path. Both event shapes carry `httpMethod`, `path` and `body`; the ALB
//! one has `requestContext.elb` and wants a `statusDescription` in the response.
//!
//! Routes:
//! - `GET /health` (also `/<stage>/health`), no key: 200 `{region, role, status: "ok", checks}`
//!   when the DynamoDB table answers DescribeTable, the API key's hash parameter
//!   (`api-key-sha256`, the one parameter this function may read) is readable and (when
//!   `DB_CLUSTER_ID` is set) this region's Aurora cluster is `available`; 503 with
//!   `status: "unhealthy"` and `failed` naming the failing checks otherwise. `checks` maps
//!   each check (`table`, `parameters`, `database_writer`) to `"ok"` or `"failed"`: never
//!   an AWS error text (it can name the role ARN and account), which goes to the log.
//!   Route 53 health checks, the NLB's target group and the failover probe use this path.
//!
//!   `database_writer` (the failover probe relies on `checks.database_writer == "ok"`):
//!   DescribeDBClusters of `DB_CLUSTER_ID` in this region reports `Status = available`
//!   (in the primary region that cluster holds the global writer; in the secondary it is
//!   the one that takes over). It is a control-plane view, cheap and honest about what it
//!   proves: the cluster is up and the region's RDS answers; it does not open a SQL
//!   connection (this function has no database credentials). The answer is cached per
//!   execution environment for [`WRITER_CHECK_TTL`] so health-check traffic (Route 53's
//!   checkers, the ALB, the probe) costs at most one DescribeDBClusters per environment
//!   per 10 s.
//! - `GET /items/{id}`, `PUT /items/{id}` (JSON body stored as-is), `DELETE /items/{id}`: a
//!   small JSON API on the stack's DynamoDB table (key `pk = item#<id>`, `sk = item`).
//! - anything else: 404; a body that is not JSON: 400.
//!
//! The API key: `/items/{id}` needs the header `x-api-key` (every method, or only `PUT` and
//! `DELETE` when `PUBLIC_READS=true`), whichever way the request came: API Gateway checks it
//! too (usage plan), but the NLB → ALB path (and Global Accelerator on it) reaches this
//! function directly. No header: 401; a wrong key: 403. The function never sees the key:
//! it compares the SHA-256 of the presented header, in constant time, with the String
//! parameter `api-key-sha256` (read once per [`KEY_HASH_TTL`] per environment; unreadable
//! → 503, never open).

use std::sync::Arc;

use serde_json::{json, Value};
use sha2::Digest;

use crate::clients::{AuroraApi, Item, ParameterApi, TableApi};
use crate::contract::API_KEY_HEADER;
use crate::Settings;

const ITEM_SK: &str = "item";

/// How long a `database_writer` answer is reused.
pub const WRITER_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// How long the API key's hash is reused (a rotated key is accepted at most this late).
pub const KEY_HASH_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The cached API key hash (lowercase hex) and when it was read.
#[derive(Default)]
pub struct KeyHashCache(tokio::sync::Mutex<Option<(tokio::time::Instant, String)>>);

/// The cached `database_writer` answer: when it was taken, and ok or the failure.
#[derive(Default)]
pub struct WriterCache(tokio::sync::Mutex<Option<(tokio::time::Instant, Result<(), String>)>>);

/// The API handler with its clients.
pub struct Api {
    pub settings: Settings,
    pub table: Arc<dyn TableApi>,
    pub parameters: Arc<dyn ParameterApi>,
    /// RDS in this region, for the `database_writer` check; the check is only made when
    /// `settings.db_cluster_id` is set.
    pub database: Option<Arc<dyn AuroraApi>>,
    pub writer_cache: WriterCache,
    pub key_cache: KeyHashCache,
}

/// An HTTP request, from either event shape. (`Debug` redacts the key.)
#[derive(Clone, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub from_alb: bool,
    /// The `x-api-key` header (any case; the first value of a repeated header).
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ApiKeyRedacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(<redacted>)" } else { "None" })
    }
}

/// Debug of a presented key: never its value.
struct ApiKeyRedacted<'a>(&'a Option<String>);

/// The header `name` (case-insensitive) of an API Gateway or ALB event: `headers`, else the
/// first of `multiValueHeaders`.
fn header(obj: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    let single = obj.get("headers").and_then(Value::as_object).and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    });
    let multi = || {
        obj.get("multiValueHeaders")
            .and_then(Value::as_object)
            .and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.as_array()?.first()?.as_str())
            })
    };
    single.or_else(multi).map(str::to_string)
}

/// Constant-time equality of two byte strings of the same length (the hashes' hex).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The lowercase hex SHA-256 of a presented key.
pub fn key_sha256(key: &str) -> String {
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body", &self.body)
            .field("from_alb", &self.from_alb)
            .field("api_key", &ApiKeyRedacted(&self.api_key))
            .finish()
    }
}

/// Why an event is not an HTTP request we can answer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BadRequest {
    #[error("event is not a JSON object")]
    NotAnObject,
    #[error("event has no string field `{0}`")]
    Missing(&'static str),
    #[error("body is base64 but not valid base64")]
    Base64,
}

impl Request {
    /// Parses an API Gateway REST proxy or ALB event.
    pub fn parse(event: &Value) -> Result<Self, BadRequest> {
        let obj = event.as_object().ok_or(BadRequest::NotAnObject)?;
        let method = obj
            .get("httpMethod")
            .and_then(Value::as_str)
            .ok_or(BadRequest::Missing("httpMethod"))?
            .to_ascii_uppercase();
        let raw_path = obj
            .get("path")
            .and_then(Value::as_str)
            .ok_or(BadRequest::Missing("path"))?;
        let context = obj.get("requestContext");
        let from_alb = context.and_then(|c| c.get("elb")).is_some();
        let stage = context.and_then(|c| c.get("stage")).and_then(Value::as_str);
        let path = strip_stage(raw_path, stage);
        let base64 = obj
            .get("isBase64Encoded")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let body = match obj.get("body").and_then(Value::as_str) {
            Some(b) if base64 => Some(decode_base64(b).ok_or(BadRequest::Base64)?),
            Some(b) => Some(b.to_string()),
            None => None,
        };
        Ok(Self {
            method,
            path,
            body,
            from_alb,
            api_key: header(obj, API_KEY_HEADER),
        })
    }
}

/// API Gateway strips the stage from `path`, but a request through the raw execute-api
/// host can still show it (and the ALB never does): accept both.
fn strip_stage(path: &str, stage: Option<&str>) -> String {
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    if let Some(stage) = stage {
        let prefix = format!("/{stage}");
        if let Some(rest) = trimmed.strip_prefix(&prefix) {
            if rest.is_empty() {
                return "/".into();
            }
            if rest.starts_with('/') {
                return rest.to_string();
            }
        }
    }
    trimmed.to_string()
}

fn decode_base64(input: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for &c in input.as_bytes().iter().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Builds the proxy response; the ALB wants `statusDescription`, API Gateway rejects
/// unknown fields in some configurations, so it is only added for ALB events.
pub fn response(status: u16, body: &Value, from_alb: bool) -> Value {
    let mut r = json!({
        "statusCode": status,
        "headers": { "content-type": "application/json" },
        "body": body.to_string(),
        "isBase64Encoded": false,
    });
    if from_alb {
        r["statusDescription"] = Value::String(format!("{status} {}", reason(status)));
    }
    r
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

impl Api {
    /// Handles one invocation; never fails: bad events become 400 responses (logged).
    pub async fn handle(&self, event: Value) -> Value {
        let request = match Request::parse(&event) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "rejecting malformed API event");
                let from_alb = event.pointer("/requestContext/elb").is_some();
                return response(400, &json!({ "error": e.to_string() }), from_alb);
            }
        };
        let (status, body) = self.route(&request).await;
        tracing::info!(method = %request.method, path = %request.path, status, "request");
        response(status, &body, request.from_alb)
    }

    async fn route(&self, req: &Request) -> (u16, Value) {
        let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("GET" | "HEAD", ["health"]) => self.health().await,
            (method, ["items", id]) => match self.authorize(req).await {
                Ok(()) => self.item(method, id, req.body.as_deref()).await,
                Err(denied) => denied,
            },
            (_, ["health"]) => (405, json!({ "error": "method not allowed" })),
            _ => (
                404,
                json!({ "error": format!("no route for {} {}", req.method, req.path) }),
            ),
        }
    }

    /// Whether `req` may reach `/items/{id}`: `Err` is the 401 / 403 / 503 answer.
    async fn authorize(&self, req: &Request) -> Result<(), (u16, Value)> {
        if self.settings.public_reads && matches!(req.method.as_str(), "GET" | "HEAD") {
            return Ok(());
        }
        let Some(presented) = req.api_key.as_deref().filter(|k| !k.is_empty()) else {
            tracing::warn!(method = %req.method, path = %req.path, from_alb = req.from_alb, "rejected: no API key");
            return Err((
                401,
                json!({ "error": format!("missing API key: send it in the {API_KEY_HEADER} header") }),
            ));
        };
        let expected = match self.key_hash().await {
            Some(h) => h,
            None => return Err((503, json!({ "error": "API key check unavailable" }))),
        };
        if constant_time_eq(key_sha256(presented).as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            tracing::warn!(method = %req.method, path = %req.path, from_alb = req.from_alb, "rejected: wrong API key");
            Err((403, json!({ "error": "invalid API key" })))
        }
    }

    /// The stored hash (lowercase hex), cached for [`KEY_HASH_TTL`]; `None` when it cannot
    /// be read (logged): the caller refuses, never lets through.
    async fn key_hash(&self) -> Option<String> {
        let mut cache = self.key_cache.0.lock().await;
        if let Some((at, hash)) = cache.as_ref() {
            if at.elapsed() < KEY_HASH_TTL {
                return Some(hash.clone());
            }
        }
        let name = self.settings.api_key_sha256_parameter();
        match self.parameters.get(&name).await {
            Ok(Some(p)) if !p.value.trim().is_empty() => {
                let hash = p.value.trim().to_ascii_lowercase();
                *cache = Some((tokio::time::Instant::now(), hash.clone()));
                Some(hash)
            }
            Ok(_) => {
                tracing::error!(parameter = %name, "API key hash parameter is missing or empty: refusing keyed requests");
                None
            }
            Err(e) => {
                tracing::error!(parameter = %name, error = %e, "API key hash parameter unreadable: refusing keyed requests");
                None
            }
        }
    }

    /// The `parameters` check: the key hash parameter (the only one this role may read).
    async fn parameter_check(&self) -> Result<(), String> {
        let name = self.settings.api_key_sha256_parameter();
        match self.parameters.get(&name).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(format!("parameter {name} not found")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// 200 when every dependency answers, 503 naming the failed checks otherwise. The body
    /// says `"ok"` or `"failed"` per check; the detail goes to the log only.
    pub async fn health(&self) -> (u16, Value) {
        let s = &self.settings;
        let (table, parameters, writer) = tokio::join!(
            self.table.describe(&s.table_name),
            self.parameter_check(),
            self.writer_check()
        );
        let mut checks = serde_json::Map::new();
        let mut failed = serde_json::Map::new();
        if let Err(e) = &table {
            tracing::warn!(table = %s.table_name, error = %e, "health: table check failed");
        }
        if let Err(e) = &parameters {
            tracing::warn!(error = %e, "health: parameter check failed");
        }
        let results = [
            ("table", table.map_err(|e| e.to_string())),
            ("parameters", parameters),
        ];
        for (name, result) in results
            .into_iter()
            .chain(writer.map(|w| ("database_writer", w)))
        {
            let status = if result.is_ok() { "ok" } else { "failed" };
            checks.insert(name.into(), Value::String(status.into()));
            if result.is_err() {
                failed.insert(name.into(), Value::String(status.into()));
            }
        }
        if failed.is_empty() {
            (
                200,
                json!({ "region": s.region, "role": s.role, "status": "ok", "checks": checks }),
            )
        } else {
            (
                503,
                json!({ "region": s.region, "role": s.role, "status": "unhealthy", "checks": checks, "failed": failed }),
            )
        }
    }

    /// The `database_writer` check (see the module docs); `None` when not configured.
    async fn writer_check(&self) -> Option<Result<(), String>> {
        let cluster = self.settings.db_cluster_id.as_deref()?;
        let database = self.database.as_ref()?;
        let mut cache = self.writer_cache.0.lock().await;
        if let Some((at, result)) = cache.as_ref() {
            if at.elapsed() < WRITER_CHECK_TTL {
                return Some(result.clone());
            }
        }
        let result = match database.cluster_status(cluster).await {
            Ok(Some(status)) if status == "available" => Ok(()),
            Ok(Some(status)) => Err(format!("cluster {cluster} is {status}")),
            Ok(None) => Err(format!("cluster {cluster} not found")),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = &result {
            tracing::warn!(cluster, error = %e, "health: database_writer check failed");
        }
        *cache = Some((tokio::time::Instant::now(), result.clone()));
        Some(result)
    }

    async fn item(&self, method: &str, id: &str, body: Option<&str>) -> (u16, Value) {
        let table = &self.settings.table_name;
        let pk = format!("item#{id}");
        match method {
            "GET" => match self.table.get_item(table, &pk, ITEM_SK).await {
                Ok(Some(item)) => {
                    let data = item
                        .get("data")
                        .and_then(|d| serde_json::from_str::<Value>(d).ok())
                        .unwrap_or(Value::Null);
                    (
                        200,
                        json!({ "id": id, "data": data, "region": self.settings.region }),
                    )
                }
                Ok(None) => (404, json!({ "error": format!("item {id} not found") })),
                Err(e) => internal(&e),
            },
            "PUT" => {
                let data: Value = match body.map(serde_json::from_str) {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => {
                        return (400, json!({ "error": format!("body is not JSON: {e}") }))
                    }
                    None => return (400, json!({ "error": "PUT needs a JSON body" })),
                };
                let mut item = Item::new();
                item.insert("pk".into(), pk);
                item.insert("sk".into(), ITEM_SK.into());
                item.insert("data".into(), data.to_string());
                item.insert("written_in".into(), self.settings.region.clone());
                match self.table.put_item(table, item).await {
                    Ok(()) => (200, json!({ "id": id, "data": data })),
                    Err(e) => internal(&e),
                }
            }
            "DELETE" => match self.table.delete_item(table, &pk, ITEM_SK).await {
                Ok(true) => (200, json!({ "id": id, "deleted": true })),
                Ok(false) => (404, json!({ "error": format!("item {id} not found") })),
                Err(e) => internal(&e),
            },
            _ => (405, json!({ "error": "method not allowed" })),
        }
    }
}

fn internal(e: &crate::clients::CallError) -> (u16, Value) {
    tracing::error!(error = %e, "table call failed");
    (
        502,
        json!({ "error": format!("table unavailable: {}", e.code) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{CallError, MockAuroraApi, MockParameterApi, MockTableApi, Parameter};

    const KEY: &str = "k3y-0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
    const HASH_PARAM: &str = "/tandem/t/api-key-sha256";

    /// Parameter Store holding the key's hash (as `parameters` writes it).
    fn keyed_params() -> MockParameterApi {
        let mut params = MockParameterApi::new();
        params
            .expect_get()
            .withf(|n| n == HASH_PARAM)
            .returning(|_| {
                Ok(Some(Parameter {
                    value: key_sha256(KEY),
                    kind: "String".into(),
                }))
            });
        params
    }

    fn settings() -> Settings {
        Settings {
            region: "us-east-2".into(),
            role: "secondary".into(),
            table_name: "table-t".into(),
            parameter_path: "/tandem/t/".into(),
            dest_region: "us-east-1".into(),
            db_cluster_id: None,
            public_reads: false,
        }
    }

    fn api(table: MockTableApi, parameters: MockParameterApi) -> Api {
        Api {
            settings: settings(),
            table: Arc::new(table),
            parameters: Arc::new(parameters),
            database: None,
            writer_cache: WriterCache::default(),
            key_cache: KeyHashCache::default(),
        }
    }

    fn api_with_db(database: MockAuroraApi) -> Api {
        let mut table = MockTableApi::new();
        table.expect_describe().returning(|_| Ok(()));
        let params = keyed_params();
        Api {
            settings: Settings {
                db_cluster_id: Some("aurora-secondary-t".into()),
                ..settings()
            },
            database: Some(Arc::new(database)),
            ..api(table, params)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn health_reports_the_database_writer_check_and_caches_it() {
        let mut db = MockAuroraApi::new();
        // Two /health calls within the TTL, one after it: two DescribeDBClusters.
        db.expect_cluster_status()
            .withf(|c| c == "aurora-secondary-t")
            .times(2)
            .returning(|_| Ok(Some("available".into())));
        let a = api_with_db(db);
        let r = a.handle(apigw("GET", "/health", None)).await;
        assert_eq!(r["statusCode"], 200);
        assert_eq!(body(&r)["checks"]["database_writer"], "ok");
        a.handle(apigw("GET", "/health", None)).await;
        tokio::time::advance(WRITER_CHECK_TTL + std::time::Duration::from_secs(1)).await;
        let r = a.handle(apigw("GET", "/health", None)).await;
        assert_eq!(body(&r)["checks"]["database_writer"], "ok");
    }

    #[tokio::test]
    async fn health_is_503_when_the_cluster_is_not_available() {
        let mut db = MockAuroraApi::new();
        db.expect_cluster_status()
            .returning(|_| Ok(Some("failing-over".into())));
        let r = api_with_db(db).handle(apigw("GET", "/health", None)).await;
        assert_eq!(r["statusCode"], 503);
        let b = body(&r);
        assert_eq!(b["failed"]["database_writer"], "failed");
        assert_eq!(b["checks"]["database_writer"], "failed");
        assert!(!b.to_string().contains("failing-over"), "{b}");
        assert_eq!(b["checks"]["table"], "ok");

        let mut db = MockAuroraApi::new();
        db.expect_cluster_status()
            .returning(|_| Err(CallError::new("SdkError", "dispatch failure")));
        let r = api_with_db(db).handle(apigw("GET", "/health", None)).await;
        assert_eq!(r["statusCode"], 503);
    }

    /// An API Gateway event carrying the right key (API Gateway forwards the header).
    fn apigw(method: &str, path: &str, body: Option<&str>) -> Value {
        apigw_with(method, path, body, Some(KEY))
    }

    fn apigw_with(method: &str, path: &str, body: Option<&str>, key: Option<&str>) -> Value {
        let headers = match key {
            Some(k) => json!({ "X-Api-Key": k, "Host": "x" }),
            None => json!({ "Host": "x" }),
        };
        json!({ "httpMethod": method, "path": path, "body": body, "isBase64Encoded": false,
                "headers": headers, "requestContext": { "stage": "v1" } })
    }

    fn alb(method: &str, path: &str) -> Value {
        json!({ "httpMethod": method, "path": path, "body": "", "isBase64Encoded": false,
                "requestContext": { "elb": { "targetGroupArn": "arn" } } })
    }

    fn body(r: &Value) -> Value {
        serde_json::from_str(r["body"].as_str().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn health_is_200_with_region_and_role_when_dependencies_answer() {
        let mut table = MockTableApi::new();
        table
            .expect_describe()
            .withf(|t| t == "table-t")
            .times(1)
            .returning(|_| Ok(()));
        let mut params = MockParameterApi::new();
        params
            .expect_get()
            .withf(|p| p == HASH_PARAM)
            .times(1)
            .returning(|_| {
                Ok(Some(Parameter {
                    value: "h".into(),
                    kind: "String".into(),
                }))
            });
        let r = api(table, params)
            .handle(apigw("GET", "/health", None))
            .await;
        assert_eq!(r["statusCode"], 200);
        assert_eq!(
            body(&r),
            json!({ "region": "us-east-2", "role": "secondary", "status": "ok",
                    "checks": { "table": "ok", "parameters": "ok" } })
        );
        assert!(
            r.get("statusDescription").is_none(),
            "API Gateway responses carry no statusDescription"
        );
    }

    #[tokio::test]
    async fn health_is_503_naming_the_failed_check() {
        let mut table = MockTableApi::new();
        table
            .expect_describe()
            .returning(|_| Err(CallError::new("ResourceNotFoundException", "no table")));
        let r = api(table, keyed_params()).handle(alb("GET", "/health")).await;
        assert_eq!(r["statusCode"], 503);
        assert_eq!(r["statusDescription"], "503 Service Unavailable");
        let b = body(&r);
        assert_eq!(b["failed"]["table"], "failed");
        assert!(b["failed"].get("parameters").is_none());
    }

    #[tokio::test]
    async fn stage_prefixed_health_path_is_accepted() {
        let mut table = MockTableApi::new();
        table.expect_describe().returning(|_| Ok(()));
        let r = api(table, keyed_params())
            .handle(apigw_with("GET", "/v1/health/", None, None))
            .await;
        assert_eq!(r["statusCode"], 200);
    }

    #[tokio::test]
    async fn put_then_get_an_item() {
        let mut table = MockTableApi::new();
        table
            .expect_put_item()
            .withf(|t, item| {
                t == "table-t"
                    && item.get("pk").map(String::as_str) == Some("item#42")
                    && item.get("data").map(String::as_str) == Some(r#"{"a":1}"#)
            })
            .times(1)
            .returning(|_, _| Ok(()));
        table
            .expect_get_item()
            .withf(|_, pk, sk| pk == "item#42" && sk == "item")
            .returning(|_, _, _| {
                Ok(Some(Item::from([(
                    "data".to_string(),
                    r#"{"a":1}"#.to_string(),
                )])))
            });
        let a = api(table, keyed_params());
        let r = a
            .handle(apigw("PUT", "/items/42", Some(r#"{"a":1}"#)))
            .await;
        assert_eq!(r["statusCode"], 200);
        let r = a.handle(apigw("GET", "/items/42", None)).await;
        assert_eq!(body(&r)["data"], json!({ "a": 1 }));
    }

    #[tokio::test]
    async fn missing_item_is_404_and_bad_json_is_400() {
        let mut table = MockTableApi::new();
        table.expect_get_item().returning(|_, _, _| Ok(None));
        table.expect_delete_item().returning(|_, _, _| Ok(false));
        let a = api(table, keyed_params());
        assert_eq!(
            a.handle(apigw("GET", "/items/9", None)).await["statusCode"],
            404
        );
        assert_eq!(
            a.handle(apigw("DELETE", "/items/9", None)).await["statusCode"],
            404
        );
        // No expectation for put_item: a bad body never reaches the table.
        assert_eq!(
            a.handle(apigw("PUT", "/items/9", Some("{not json"))).await["statusCode"],
            400
        );
    }

    #[tokio::test]
    async fn unknown_route_is_404_and_table_errors_are_502() {
        let mut table = MockTableApi::new();
        table.expect_get_item().returning(|_, _, _| {
            Err(CallError::new(
                "ProvisionedThroughputExceededException",
                "slow down",
            ))
        });
        let a = api(table, keyed_params());
        assert_eq!(
            a.handle(apigw("GET", "/nope", None)).await["statusCode"],
            404
        );
        let r = a.handle(apigw("GET", "/items/1", None)).await;
        assert_eq!(r["statusCode"], 502);
        assert!(body(&r)["error"]
            .as_str()
            .unwrap()
            .contains("ProvisionedThroughputExceededException"));
    }

    #[tokio::test]
    async fn malformed_events_are_400_not_panics() {
        let a = api(MockTableApi::new(), MockParameterApi::new());
        for event in [
            json!("just a string"),
            json!({ "path": "/health" }),
            json!({ "httpMethod": 5, "path": "/x" }),
            json!({ "httpMethod": "GET", "path": ["x"] }),
            json!(null),
        ] {
            let r = a.handle(event.clone()).await;
            assert_eq!(r["statusCode"], 400, "{event}");
        }
    }

    #[test]
    fn parses_base64_bodies() {
        let event = json!({ "httpMethod": "put", "path": "/items/1", "body": "eyJhIjoxfQ==", "isBase64Encoded": true });
        let r = Request::parse(&event).unwrap();
        assert_eq!(r.method, "PUT");
        assert_eq!(r.body.as_deref(), Some(r#"{"a":1}"#));
        let bad = json!({ "httpMethod": "PUT", "path": "/items/1", "body": "!!!", "isBase64Encoded": true });
        assert_eq!(Request::parse(&bad), Err(BadRequest::Base64));
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;
    use crate::clients::{CallError, MockParameterApi, MockTableApi, Parameter};

    const KEY: &str = "k3y-0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

    fn settings(public_reads: bool) -> Settings {
        Settings {
            region: "us-east-1".into(),
            role: "primary".into(),
            table_name: "table-t".into(),
            parameter_path: "/tandem/t/".into(),
            dest_region: "us-east-2".into(),
            db_cluster_id: None,
            public_reads,
        }
    }

    /// An API whose table answers every item call, so only the key decides.
    fn api(public_reads: bool) -> Api {
        let mut table = MockTableApi::new();
        table.expect_get_item().returning(|_, _, _| Ok(None));
        table.expect_put_item().returning(|_, _| Ok(()));
        table.expect_delete_item().returning(|_, _, _| Ok(true));
        table.expect_describe().returning(|_| Ok(()));
        let mut params = MockParameterApi::new();
        params
            .expect_get()
            .withf(|n| n == "/tandem/t/api-key-sha256")
            .returning(|_| {
                Ok(Some(Parameter {
                    value: key_sha256(KEY).to_ascii_uppercase(),
                    kind: "String".into(),
                }))
            });
        Api {
            settings: settings(public_reads),
            table: Arc::new(table),
            parameters: Arc::new(params),
            database: None,
            writer_cache: WriterCache::default(),
            key_cache: KeyHashCache::default(),
        }
    }

    fn apigw(method: &str, path: &str, key: Option<&str>) -> Value {
        let mut e = json!({ "httpMethod": method, "path": path, "body": "{}", "isBase64Encoded": false,
                            "requestContext": { "stage": "live" } });
        if let Some(k) = key {
            e["headers"] = json!({ "X-API-Key": k });
        }
        e
    }

    fn alb(method: &str, path: &str, key: Option<&str>, multi: bool) -> Value {
        let mut e = json!({ "httpMethod": method, "path": path, "body": "{}", "isBase64Encoded": false,
                            "headers": { "host": "api.example.com" },
                            "requestContext": { "elb": { "targetGroupArn": "arn" } } });
        match (key, multi) {
            (Some(k), true) => e["multiValueHeaders"] = json!({ "x-api-key": [k] }),
            (Some(k), false) => e["headers"]["x-api-key"] = json!(k),
            (None, _) => {}
        }
        e
    }

    fn status(r: &Value) -> u64 {
        r["statusCode"].as_u64().unwrap_or(0)
    }

    #[tokio::test]
    async fn writes_without_the_key_are_401_on_both_paths() {
        let a = api(false);
        for method in ["PUT", "DELETE"] {
            let r = a.handle(alb(method, "/items/1", None, false)).await;
            assert_eq!(status(&r), 401, "{method} via ALB: {r}");
            assert_eq!(r["statusDescription"], "401 Unauthorized");
            assert!(r["body"].as_str().unwrap().contains("x-api-key"), "{r}");
            let r = a.handle(apigw(method, "/items/1", None)).await;
            assert_eq!(status(&r), 401, "{method} via API Gateway: {r}");
            let r = a.handle(apigw(method, "/items/1", Some(""))).await;
            assert_eq!(status(&r), 401, "{method} with an empty key: {r}");
        }
    }

    #[tokio::test]
    async fn a_wrong_key_is_403_on_both_paths() {
        let a = api(false);
        for method in ["PUT", "DELETE", "GET"] {
            for event in [
                alb(method, "/items/1", Some("wrong"), false),
                alb(method, "/items/1", Some(&KEY[1..]), true),
                apigw(method, "/items/1", Some(&format!("{KEY}x"))),
            ] {
                let r = a.handle(event).await;
                assert_eq!(status(&r), 403, "{method}: {r}");
            }
        }
    }

    #[tokio::test]
    async fn the_right_key_passes_on_both_paths() {
        let a = api(false);
        assert_eq!(status(&a.handle(alb("PUT", "/items/1", Some(KEY), false)).await), 200);
        assert_eq!(status(&a.handle(alb("DELETE", "/items/1", Some(KEY), true)).await), 200);
        assert_eq!(status(&a.handle(apigw("PUT", "/live/items/1", Some(KEY))).await), 200);
        assert_eq!(status(&a.handle(apigw("GET", "/items/1", Some(KEY))).await), 404, "reached the table: no item");
    }

    #[tokio::test]
    async fn reads_need_the_key_unless_public_reads() {
        let closed = api(false);
        assert_eq!(status(&closed.handle(alb("GET", "/items/1", None, false)).await), 401);
        assert_eq!(status(&closed.handle(apigw("GET", "/items/1", None)).await), 401);
        let open = api(true);
        assert_eq!(status(&open.handle(alb("GET", "/items/1", None, false)).await), 404, "reached the table");
        assert_eq!(status(&open.handle(apigw("GET", "/items/1", None)).await), 404);
        // Writes still need it.
        assert_eq!(status(&open.handle(alb("PUT", "/items/1", None, false)).await), 401);
        assert_eq!(status(&open.handle(alb("DELETE", "/items/1", Some("wrong"), false)).await), 403);
    }

    #[tokio::test]
    async fn health_needs_no_key() {
        let a = api(false);
        assert_eq!(status(&a.handle(alb("GET", "/health", None, false)).await), 200);
        assert_eq!(status(&a.handle(apigw("GET", "/health", None)).await), 200);
    }

    #[tokio::test]
    async fn an_unreadable_key_hash_refuses_with_503_and_is_not_cached() {
        let mut params = MockParameterApi::new();
        let mut seq = mockall::Sequence::new();
        params
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(CallError::new("AccessDeniedException", "arn:aws:iam::123456789012:role/x is not authorized")));
        params.expect_get().times(1).in_sequence(&mut seq).returning(|_| Ok(None));
        params.expect_get().times(1).in_sequence(&mut seq).returning(|_| {
            Ok(Some(Parameter { value: key_sha256(KEY), kind: "String".into() }))
        });
        let mut table = MockTableApi::new();
        table.expect_put_item().times(1).returning(|_, _| Ok(()));
        let a = Api { parameters: Arc::new(params), table: Arc::new(table), ..api(false) };
        let r = a.handle(alb("PUT", "/items/1", Some(KEY), false)).await;
        assert_eq!(status(&r), 503, "{r}");
        assert!(!r.to_string().contains("123456789012"), "no AWS error text: {r}");
        assert_eq!(status(&a.handle(alb("PUT", "/items/1", Some(KEY), false)).await), 503, "missing parameter");
        assert_eq!(status(&a.handle(alb("PUT", "/items/1", Some(KEY), false)).await), 200);
    }

    #[tokio::test]
    async fn health_body_carries_no_aws_error_text() {
        let secret_text = "User: arn:aws:sts::123456789012:assumed-role/lambda-api-t/api is not authorized";
        let mut table = MockTableApi::new();
        table.expect_describe().returning(move |_| Err(CallError::new("AccessDeniedException", secret_text)));
        let mut params = MockParameterApi::new();
        params.expect_get().returning(move |_| Err(CallError::new("AccessDeniedException", secret_text)));
        let mut db = crate::clients::MockAuroraApi::new();
        db.expect_cluster_status().returning(move |_| Err(CallError::new("AccessDenied", secret_text)));
        let a = Api {
            settings: Settings { db_cluster_id: Some("aurora-primary-t".into()), ..settings(false) },
            table: Arc::new(table),
            parameters: Arc::new(params),
            database: Some(Arc::new(db)),
            writer_cache: WriterCache::default(),
            key_cache: KeyHashCache::default(),
        };
        for event in [alb("GET", "/health", None, false), apigw("GET", "/health", None)] {
            let r = a.handle(event).await;
            assert_eq!(status(&r), 503);
            let text = r.to_string();
            for leak in ["123456789012", "arn:aws", "AccessDenied", "not authorized", "aurora-primary-t"] {
                assert!(!text.contains(leak), "{leak} in {text}");
            }
            let b: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            assert_eq!(
                b["checks"],
                json!({ "table": "failed", "parameters": "failed", "database_writer": "failed" })
            );
        }
    }

    #[test]
    fn the_presented_key_never_shows_in_debug() {
        let r = Request::parse(&apigw("PUT", "/items/1", Some(KEY))).unwrap();
        assert_eq!(r.api_key.as_deref(), Some(KEY));
        assert!(!format!("{r:?}").contains(KEY));
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert_eq!(key_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
