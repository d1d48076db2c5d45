//! The event processor: target of the rules on the stack's event bus in both regions. Each
//! event is recorded in the DynamoDB table (`pk = event#<source>`, `sk = <time>#<id>`) with
//! its detail-type, region and detail (JSON), and logged (without its detail).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::clients::{CallError, Item, TableApi};
use crate::Settings;

pub struct Processor {
    pub settings: Settings,
    pub table: Arc<dyn TableApi>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("bad EventBridge event: {0}")]
    BadEvent(String),
    #[error("recording event {id} in table {table} failed: {source}")]
    Record {
        id: String,
        table: String,
        source: CallError,
    },
}

/// The error reported to Lambda, with a short `errorType` per failure kind.
impl From<ProcessorError> for lambda_runtime::Diagnostic {
    fn from(e: ProcessorError) -> Self {
        let kind = match &e {
            ProcessorError::BadEvent(_) => "Processor.BadEvent",
            ProcessorError::Record { .. } => "Processor.RecordFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.into(),
            error_message: e.to_string(),
        }
    }
}

fn field<'a>(event: &'a Value, key: &'static str) -> Result<&'a str, ProcessorError> {
    event
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ProcessorError::BadEvent(format!("missing string field `{key}`")))
}

impl Processor {
    pub async fn handle(&self, event: Value) -> Result<Value, ProcessorError> {
        let result = self.record(&event).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "event not recorded");
        }
        result
    }

    async fn record(&self, event: &Value) -> Result<Value, ProcessorError> {
        if !event.is_object() {
            return Err(ProcessorError::BadEvent(
                "event is not a JSON object".into(),
            ));
        }
        let id = field(event, "id")?;
        let source = field(event, "source")?;
        let time = field(event, "time")?;
        let detail_type = field(event, "detail-type")?;
        let region = event
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or(&self.settings.region);
        let detail = event.get("detail").cloned().unwrap_or(Value::Null);
        let pk = format!("event#{source}");
        let sk = format!("{time}#{id}");
        let item = Item::from([
            ("pk".to_string(), pk.clone()),
            ("sk".to_string(), sk.clone()),
            ("detail_type".to_string(), detail_type.to_string()),
            ("event_region".to_string(), region.to_string()),
            ("recorded_in".to_string(), self.settings.region.clone()),
            ("detail".to_string(), detail.to_string()),
        ]);
        self.table
            .put_item(&self.settings.table_name, item)
            .await
            .map_err(|e| ProcessorError::Record {
                id: id.to_string(),
                table: self.settings.table_name.clone(),
                source: e,
            })?;
        tracing::info!(event_id = %id, source = %source, detail_type = %detail_type, "event recorded");
        Ok(json!({ "recorded": { "pk": pk, "sk": sk } }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::MockTableApi;

    fn settings() -> Settings {
        Settings {
            region: "us-east-1".into(),
            role: "primary".into(),
            table_name: "table-t".into(),
            parameter_path: "/tandem/t/".into(),
            dest_region: "us-east-2".into(),
            db_cluster_id: None,
            public_reads: false,
        }
    }

    fn event() -> Value {
        json!({ "version": "0", "id": "abc-1", "source": "tandem.orders", "detail-type": "OrderPlaced",
                "time": "2026-11-25T07:00:00Z", "region": "us-east-2", "detail": { "order": 7 } })
    }

    #[tokio::test]
    async fn records_the_event_with_its_keys() {
        let mut table = MockTableApi::new();
        table
            .expect_put_item()
            .withf(|t, item| {
                t == "table-t"
                    && item["pk"] == "event#tandem.orders"
                    && item["sk"] == "2026-11-25T07:00:00Z#abc-1"
                    && item["event_region"] == "us-east-2"
                    && item["detail"] == r#"{"order":7}"#
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let p = Processor {
            settings: settings(),
            table: Arc::new(table),
        };
        let out = p.handle(event()).await.unwrap();
        assert_eq!(out["recorded"]["pk"], "event#tandem.orders");
    }

    #[tokio::test]
    async fn bad_events_are_errors_and_never_reach_the_table() {
        let p = Processor {
            settings: settings(),
            table: Arc::new(MockTableApi::new()),
        };
        let mut no_id = event();
        no_id.as_object_mut().unwrap().remove("id");
        let mut wrong_type = event();
        wrong_type["time"] = json!(12);
        for bad in [json!(null), json!("x"), no_id, wrong_type] {
            assert!(
                matches!(
                    p.handle(bad.clone()).await,
                    Err(ProcessorError::BadEvent(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn table_failure_names_event_and_table() {
        let mut table = MockTableApi::new();
        table
            .expect_put_item()
            .returning(|_, _| Err(CallError::new("ResourceNotFoundException", "gone")));
        let p = Processor {
            settings: settings(),
            table: Arc::new(table),
        };
        let err = p.handle(event()).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("abc-1") && msg.contains("table-t") && msg.contains("ResourceNotFound"),
            "{msg}"
        );
        let d: lambda_runtime::Diagnostic = err.into();
        assert_eq!(
            (d.error_type.as_str(), d.error_message),
            ("Processor.RecordFailed", msg)
        );
    }
}
