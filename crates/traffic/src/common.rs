//! Small helpers shared by the traffic components: tags, SDK build errors, journaled
//! change batches.

use std::future::Future;
use std::pin::Pin;

use tandem_core::{AwsError, ComponentError, Ctx, Key};

/// Maps an SDK builder error (a required field missing) to an [`AwsError`].
pub fn build_error(e: impl std::fmt::Display) -> AwsError {
    AwsError::other("InvalidRequest", format!("request could not be built: {e}"))
}

/// True when `tags` carry `tandem:stack=<suffix>`.
pub fn has_stack_tag(tags: &[(String, String)], suffix: &str) -> bool {
    tags.iter().any(|(k, v)| k == tandem_core::naming::STACK_TAG && v == suffix)
}

/// The value of tag `key`.
pub fn tag_value<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A boxed change of [`update_together`].
type Change<'a, T> = Pin<Box<dyn Future<Output = Result<T, ComponentError>> + Send + 'a>>;

/// Journals one idempotent change that acts on several resources at once (a Route 53
/// change batch of several records): each key is journaled `pending` update (with `ids`,
/// the record each key stands for) before `change` runs, and `done` / `failed` after.
pub async fn update_together<'a, T, F, Fut>(ctx: &'a Ctx, keys: &'a [(Key, String)], change: F) -> Result<T, ComponentError>
where
    T: Send + 'a,
    F: FnOnce() -> Fut + Send + 'a,
    Fut: Future<Output = Result<T, ComponentError>> + Send + 'a,
{
    fn nest<'a, T: Send + 'a>(ctx: &'a Ctx, keys: &'a [(Key, String)], change: Box<dyn FnOnce() -> Change<'a, T> + Send + 'a>) -> Change<'a, T> {
        match keys.split_first() {
            None => change(),
            Some(((key, id), rest)) => Box::pin(async move {
                if ctx.recorded_id(key).await.as_deref() != Some(id.as_str()) {
                    ctx.adopt(key, id).await?;
                }
                ctx.update(key, || nest(ctx, rest, change)).await
            }),
        }
    }
    nest(ctx, keys, Box::new(move || Box::pin(change()))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn update_together_journals_every_key_around_one_change() {
        let ctx = Ctx::standalone("c", "us-east-1");
        let keys = vec![(Key::new("record:a"), "z|a".to_string()), (Key::new("record:b"), "z|b".to_string())];
        let v = update_together(&ctx, &keys, || async { Ok::<_, ComponentError>(7) }).await.expect("change");
        assert_eq!(v, 7);
        for (k, id) in &keys {
            let e = ctx.entry(k).await.expect("journaled");
            assert_eq!(e.status, tandem_core::state::ResourceStatus::Done);
            assert_eq!(e.id.as_deref(), Some(id.as_str()));
        }
        let failed = update_together(&ctx, &keys, || async { Err::<(), _>(ComponentError::invalid("r", "us-east-1", "boom")) }).await;
        assert!(failed.is_err());
        for (k, id) in &keys {
            let e = ctx.entry(k).await.expect("journaled");
            assert_eq!(e.status, tandem_core::state::ResourceStatus::Failed, "{k}");
            assert_eq!(e.id.as_deref(), Some(id.as_str()), "the id is kept");
        }
    }

    #[test]
    fn stack_tag_lookup() {
        let tags = tandem_core::naming::tags("dev", "x-dev");
        assert!(has_stack_tag(&tags, "dev"));
        assert!(!has_stack_tag(&tags, "prod"));
        assert_eq!(tag_value(&tags, "Name"), Some("x-dev"));
    }
}
