//! The SSM replicator: target of the EventBridge rule on "Parameter Store Change" events for
//! the stack's path. It copies each change to the other region (`DEST_REGION`):
//! - `Create` / `Update`: read the parameter in the event's region (decrypted), write it
//!   to the destination with the same type (a SecureString is re-encrypted there with that
//!   region's default `aws/ssm` key); skipped when the destination already holds the value.
//! - `Delete`: delete it in the destination (already gone is fine).
//! - anything else (label changes, ...) and names outside the stack's path: ignored.
//!
//! Idempotent: replaying an event leaves the destination unchanged. Values are never logged.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::clients::{CallError, ParameterApi};
use crate::Settings;

pub struct Replicator {
    pub settings: Settings,
    /// Parameter Store in the region the events come from.
    pub source: Arc<dyn ParameterApi>,
    /// Parameter Store in `settings.dest_region`.
    pub dest: Arc<dyn ParameterApi>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicatorError {
    #[error("bad Parameter Store change event: {0}")]
    BadEvent(String),
    #[error("reading {name} in the source region failed: {source}")]
    Read { name: String, source: CallError },
    #[error("writing {name} in {region} failed: {source}")]
    Write {
        name: String,
        region: String,
        source: CallError,
    },
}

/// The error reported to Lambda: a short `errorType` per failure kind (EventBridge retries
/// failed async invocations; the message names the parameter and region, never a value).
impl From<ReplicatorError> for lambda_runtime::Diagnostic {
    fn from(e: ReplicatorError) -> Self {
        let kind = match &e {
            ReplicatorError::BadEvent(_) => "Replicator.BadEvent",
            ReplicatorError::Read { .. } => "Replicator.ReadFailed",
            ReplicatorError::Write { .. } => "Replicator.WriteFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.into(),
            error_message: e.to_string(),
        }
    }
}

/// What the replicator did with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Copied,
    Unchanged,
    Deleted,
    AlreadyDeleted,
    /// Source no longer has it (deleted since the event): nothing to copy.
    SourceGone,
    Ignored(String),
}

impl Action {
    fn label(&self) -> String {
        match self {
            Action::Copied => "copied".into(),
            Action::Unchanged => "unchanged".into(),
            Action::Deleted => "deleted".into(),
            Action::AlreadyDeleted => "already-deleted".into(),
            Action::SourceGone => "source-gone".into(),
            Action::Ignored(why) => format!("ignored: {why}"),
        }
    }
}

fn field<'a>(event: &'a Value, pointer: &'static str) -> Result<&'a str, ReplicatorError> {
    event
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| ReplicatorError::BadEvent(format!("missing string field {pointer}")))
}

impl Replicator {
    /// Handles one event; returns a JSON summary (no values).
    pub async fn handle(&self, event: Value) -> Result<Value, ReplicatorError> {
        let (name, action) = match self.replicate(&event).await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "replication failed");
                return Err(e);
            }
        };
        tracing::info!(parameter = %name, action = %action.label(), dest = %self.settings.dest_region, "replicated");
        Ok(
            json!({ "parameter": name, "action": action.label(), "dest_region": self.settings.dest_region }),
        )
    }

    async fn replicate(&self, event: &Value) -> Result<(String, Action), ReplicatorError> {
        if !event.is_object() {
            return Err(ReplicatorError::BadEvent(
                "event is not a JSON object".into(),
            ));
        }
        let name = field(event, "/detail/name")?.to_string();
        let operation = field(event, "/detail/operation")?;
        if !name.starts_with(&self.settings.parameter_path) {
            return Ok((
                name,
                Action::Ignored("outside the stack's parameter path".into()),
            ));
        }
        if let Some(region) = event.get("region").and_then(Value::as_str) {
            // The source client reads in this function's region: a change elsewhere (e.g. our
            // own write in the destination) is not ours to copy and must not bounce back.
            if region != self.settings.region {
                return Ok((
                    name,
                    Action::Ignored(format!("event from {region}, not {}", self.settings.region)),
                ));
            }
        }
        let action = match operation {
            "Create" | "Update" => self.copy(&name).await?,
            "Delete" => {
                let deleted =
                    self.dest
                        .delete(&name)
                        .await
                        .map_err(|source| ReplicatorError::Write {
                            name: name.clone(),
                            region: self.settings.dest_region.clone(),
                            source,
                        })?;
                if deleted {
                    Action::Deleted
                } else {
                    Action::AlreadyDeleted
                }
            }
            other => Action::Ignored(format!("operation {other}")),
        };
        Ok((name, action))
    }

    async fn copy(&self, name: &str) -> Result<Action, ReplicatorError> {
        let read = |source| ReplicatorError::Read {
            name: name.to_string(),
            source,
        };
        let Some(parameter) = self.source.get(name).await.map_err(read)? else {
            return Ok(Action::SourceGone);
        };
        let current = self
            .dest
            .get(name)
            .await
            .map_err(|source| ReplicatorError::Write {
                name: name.to_string(),
                region: self.settings.dest_region.clone(),
                source,
            })?;
        if current.as_ref() == Some(&parameter) {
            return Ok(Action::Unchanged);
        }
        self.dest
            .put(name, &parameter)
            .await
            .map_err(|source| ReplicatorError::Write {
                name: name.to_string(),
                region: self.settings.dest_region.clone(),
                source,
            })?;
        Ok(Action::Copied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{MockParameterApi, Parameter};

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

    fn event(name: &str, op: &str) -> Value {
        json!({ "source": "aws.ssm", "detail-type": "Parameter Store Change", "region": "us-east-1",
                "detail": { "name": name, "operation": op, "type": "SecureString" } })
    }

    fn secret() -> Parameter {
        Parameter {
            value: "s3cr3t".into(),
            kind: "SecureString".into(),
        }
    }

    fn replicator(source: MockParameterApi, dest: MockParameterApi) -> Replicator {
        Replicator {
            settings: settings(),
            source: Arc::new(source),
            dest: Arc::new(dest),
        }
    }

    #[tokio::test]
    async fn create_copies_securestring_with_its_type() {
        let mut source = MockParameterApi::new();
        source
            .expect_get()
            .withf(|n| n == "/tandem/t/api-key")
            .returning(|_| Ok(Some(secret())));
        let mut dest = MockParameterApi::new();
        dest.expect_get().returning(|_| Ok(None));
        dest.expect_put()
            .withf(|n, p| {
                n == "/tandem/t/api-key" && p.kind == "SecureString" && p.value == "s3cr3t"
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let out = replicator(source, dest)
            .handle(event("/tandem/t/api-key", "Create"))
            .await
            .unwrap();
        assert_eq!(out["action"], "copied");
        assert!(
            !out.to_string().contains("s3cr3t"),
            "summary never carries the value"
        );
    }

    #[tokio::test]
    async fn update_reads_source_then_destination_then_writes_destination() {
        let mut seq = mockall::Sequence::new();
        let mut source = MockParameterApi::new();
        let mut dest = MockParameterApi::new();
        source
            .expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Ok(Some(Parameter {
                    value: "v2".into(),
                    kind: "String".into(),
                }))
            });
        dest.expect_get()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| {
                Ok(Some(Parameter {
                    value: "v1".into(),
                    kind: "String".into(),
                }))
            });
        dest.expect_put()
            .withf(|n, p| n == "/tandem/t/flags" && p.kind == "String" && p.value == "v2")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let out = replicator(source, dest)
            .handle(event("/tandem/t/flags", "Update"))
            .await
            .unwrap();
        assert_eq!(out["action"], "copied");
        assert_eq!(out["dest_region"], "us-east-2");
    }

    #[tokio::test]
    async fn replaying_an_update_is_a_no_op() {
        let mut source = MockParameterApi::new();
        source.expect_get().returning(|_| Ok(Some(secret())));
        let mut dest = MockParameterApi::new();
        dest.expect_get().returning(|_| Ok(Some(secret())));
        // No put expectation: writing would fail the test.
        let out = replicator(source, dest)
            .handle(event("/tandem/t/api-key", "Update"))
            .await
            .unwrap();
        assert_eq!(out["action"], "unchanged");
    }

    #[tokio::test]
    async fn delete_removes_from_destination_and_tolerates_absence() {
        let mut dest = MockParameterApi::new();
        let mut calls = 0;
        dest.expect_delete()
            .withf(|n| n == "/tandem/t/flags")
            .times(2)
            .returning(move |_| {
                calls += 1;
                Ok(calls == 1)
            });
        let r = replicator(MockParameterApi::new(), dest);
        assert_eq!(
            r.handle(event("/tandem/t/flags", "Delete")).await.unwrap()["action"],
            "deleted"
        );
        assert_eq!(
            r.handle(event("/tandem/t/flags", "Delete")).await.unwrap()["action"],
            "already-deleted"
        );
    }

    #[tokio::test]
    async fn ignores_other_paths_other_operations_and_its_own_region() {
        let r = replicator(MockParameterApi::new(), MockParameterApi::new());
        let out = r.handle(event("/other/x", "Create")).await.unwrap();
        assert!(out["action"].as_str().unwrap().starts_with("ignored"));
        let out = r
            .handle(event("/tandem/t/x", "LabelParameterVersion"))
            .await
            .unwrap();
        assert!(out["action"]
            .as_str()
            .unwrap()
            .contains("LabelParameterVersion"));
        let mut from_dest = event("/tandem/t/x", "Update");
        from_dest["region"] = json!("us-east-2");
        assert!(r.handle(from_dest).await.unwrap()["action"]
            .as_str()
            .unwrap()
            .starts_with("ignored"));
        let mut elsewhere = event("/tandem/t/x", "Create");
        elsewhere["region"] = json!("us-west-2");
        assert!(r.handle(elsewhere).await.unwrap()["action"]
            .as_str()
            .unwrap()
            .contains("us-west-2"));
    }

    #[tokio::test]
    async fn bad_events_are_errors_not_panics() {
        let r = replicator(MockParameterApi::new(), MockParameterApi::new());
        for bad in [
            json!(null),
            json!([1]),
            json!({ "detail": {} }),
            json!({ "detail": { "name": 3, "operation": "Create" } }),
            json!({ "detail": { "name": "/tandem/t/x" } }),
        ] {
            assert!(
                matches!(
                    r.handle(bad.clone()).await,
                    Err(ReplicatorError::BadEvent(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn destination_failure_names_parameter_and_region() {
        let mut source = MockParameterApi::new();
        source.expect_get().returning(|_| Ok(Some(secret())));
        let mut dest = MockParameterApi::new();
        dest.expect_get().returning(|_| Ok(None));
        dest.expect_put()
            .returning(|_, _| Err(CallError::new("AccessDeniedException", "no")));
        let err = replicator(source, dest)
            .handle(event("/tandem/t/api-key", "Create"))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/tandem/t/api-key")
                && msg.contains("us-east-2")
                && msg.contains("AccessDenied"),
            "{msg}"
        );
        assert!(!msg.contains("s3cr3t"));
    }

    #[test]
    fn errors_become_lambda_diagnostics_with_a_short_type() {
        let d: lambda_runtime::Diagnostic = ReplicatorError::Write {
            name: "/tandem/t/x".into(),
            region: "us-east-2".into(),
            source: CallError::new("AccessDeniedException", "no"),
        }
        .into();
        assert_eq!(d.error_type, "Replicator.WriteFailed");
        assert!(d.error_message.contains("/tandem/t/x") && d.error_message.contains("us-east-2"));
        let d: lambda_runtime::Diagnostic = ReplicatorError::BadEvent("x".into()).into();
        assert_eq!(d.error_type, "Replicator.BadEvent");
    }

    #[tokio::test]
    async fn source_gone_copies_nothing() {
        let mut source = MockParameterApi::new();
        source.expect_get().returning(|_| Ok(None));
        let out = replicator(source, MockParameterApi::new())
            .handle(event("/tandem/t/x", "Update"))
            .await
            .unwrap();
        assert_eq!(out["action"], "source-gone");
    }
}
