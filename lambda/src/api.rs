//! The regional API handler, behind API Gateway (REST, Lambda proxy integration) and behind
//! the ALB of the NLB path. Both event shapes carry `httpMethod`, `path` and `body`; the ALB
//! one has `requestContext.elb` and wants a `statusDescription` in the response.
//!
//! Routes:
//! - `GET /health` (also `/<stage>/health`): 200 `{region, role, status: "ok", checks}`
//!   when the DynamoDB table answers DescribeTable, the stack's parameter path is readable
//!   and (when `DB_CLUSTER_ID` is set) this region's Aurora cluster is `available`; 503 with
//!   `status: "unhealthy"` and `failed` naming the failing checks otherwise. `checks` maps
//!   each check (`table`, `parameters`, `database_writer`) to `"ok"` or its error. Route 53
//!   health checks, the NLB's target group and the failover probe use this path.
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

use std::sync::Arc;

use serde_json::{json, Value};

use crate::clients::{AuroraApi, Item, ParameterApi, TableApi};
use crate::Settings;

const ITEM_SK: &str = "item";

/// How long a `database_writer` answer is reused.
pub const WRITER_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(10);

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
}

/// An HTTP request, from either event shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub from_alb: bool,
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
            (method, ["items", id]) => self.item(method, id, req.body.as_deref()).await,
            (_, ["health"]) => (405, json!({ "error": "method not allowed" })),
            _ => (
                404,
                json!({ "error": format!("no route for {} {}", req.method, req.path) }),
            ),
        }
    }

    /// 200 when every dependency answers, 503 naming the failed checks otherwise.
    pub async fn health(&self) -> (u16, Value) {
        let s = &self.settings;
        let (table, parameters, writer) = tokio::join!(
            self.table.describe(&s.table_name),
            self.parameters.check_path(&s.parameter_path),
            self.writer_check()
        );
        let mut checks = serde_json::Map::new();
        let mut failed = serde_json::Map::new();
        if let Err(e) = &table {
            tracing::warn!(table = %s.table_name, error = %e, "health: table check failed");
        }
        if let Err(e) = &parameters {
            tracing::warn!(path = %s.parameter_path, error = %e, "health: parameter check failed");
        }
        let results = [
            ("table", table.map_err(|e| e.to_string())),
            ("parameters", parameters.map_err(|e| e.to_string())),
        ];
        for (name, result) in results
            .into_iter()
            .chain(writer.map(|w| ("database_writer", w)))
        {
            match result {
                Ok(()) => {
                    checks.insert(name.into(), Value::String("ok".into()));
                }
                Err(e) => {
                    checks.insert(name.into(), Value::String(e.clone()));
                    failed.insert(name.into(), Value::String(e));
                }
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
    use crate::clients::{CallError, MockAuroraApi, MockParameterApi, MockTableApi};

    fn settings() -> Settings {
        Settings {
            region: "us-east-2".into(),
            role: "secondary".into(),
            table_name: "table-t".into(),
            parameter_path: "/tandem/t/".into(),
            dest_region: "us-east-1".into(),
            db_cluster_id: None,
        }
    }

    fn api(table: MockTableApi, parameters: MockParameterApi) -> Api {
        Api {
            settings: settings(),
            table: Arc::new(table),
            parameters: Arc::new(parameters),
            database: None,
            writer_cache: WriterCache::default(),
        }
    }

    fn api_with_db(database: MockAuroraApi) -> Api {
        let mut table = MockTableApi::new();
        table.expect_describe().returning(|_| Ok(()));
        let mut params = MockParameterApi::new();
        params.expect_check_path().returning(|_| Ok(()));
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
        assert_eq!(
            b["failed"]["database_writer"],
            "cluster aurora-secondary-t is failing-over"
        );
        assert_eq!(
            b["checks"]["database_writer"],
            "cluster aurora-secondary-t is failing-over"
        );
        assert_eq!(b["checks"]["table"], "ok");

        let mut db = MockAuroraApi::new();
        db.expect_cluster_status()
            .returning(|_| Err(CallError::new("SdkError", "dispatch failure")));
        let r = api_with_db(db).handle(apigw("GET", "/health", None)).await;
        assert_eq!(r["statusCode"], 503);
    }

    fn apigw(method: &str, path: &str, body: Option<&str>) -> Value {
        json!({ "httpMethod": method, "path": path, "body": body, "isBase64Encoded": false,
                "requestContext": { "stage": "v1" } })
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
            .expect_check_path()
            .withf(|p| p == "/tandem/t/")
            .times(1)
            .returning(|_| Ok(()));
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
        let mut params = MockParameterApi::new();
        params.expect_check_path().returning(|_| Ok(()));
        let r = api(table, params).handle(alb("GET", "/health")).await;
        assert_eq!(r["statusCode"], 503);
        assert_eq!(r["statusDescription"], "503 Service Unavailable");
        let b = body(&r);
        assert!(
            b["failed"]["table"]
                .as_str()
                .unwrap()
                .contains("ResourceNotFoundException"),
            "{b}"
        );
        assert!(b["failed"].get("parameters").is_none());
    }

    #[tokio::test]
    async fn stage_prefixed_health_path_is_accepted() {
        let mut table = MockTableApi::new();
        table.expect_describe().returning(|_| Ok(()));
        let mut params = MockParameterApi::new();
        params.expect_check_path().returning(|_| Ok(()));
        let r = api(table, params)
            .handle(apigw("GET", "/v1/health/", None))
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
        let a = api(table, MockParameterApi::new());
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
        let a = api(table, MockParameterApi::new());
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
        let a = api(table, MockParameterApi::new());
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
