//! Small helpers shared by the traffic components: tokens, tags, SDK build errors.

use tandem_core::state::{ResourceEntry, ResourceStatus};
use tandem_core::{AwsError, Ctx};

/// A random alphanumeric token of `len` characters (idempotency tokens, caller references).
/// One token is generated per creation and reused by every retry of that creation, so the
/// service can deduplicate a retried request.
pub fn random_token(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| CHARS[rand::random_range(0..CHARS.len())] as char).collect()
}

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

/// The journal entry of `key`: this run's, else the one recorded in the prior state.
pub async fn journal_entry(ctx: &Ctx, key: &str) -> Option<ResourceEntry> {
    match ctx.resource(key).await {
        Some(e) => Some(e),
        None => ctx.prior().and_then(|p| p.resources.get(key)).cloned(),
    }
}

/// The id journaled (done) for `key`, this run or in the prior state.
pub async fn known_id(ctx: &Ctx, key: &str) -> Option<String> {
    match journal_entry(ctx, key).await {
        Some(ResourceEntry { id: Some(id), status: ResourceStatus::Done, .. }) if !id.is_empty() => Some(id),
        _ => None,
    }
}

/// Every journal key of the component (this run and prior state).
pub async fn journal_keys(ctx: &Ctx) -> Vec<String> {
    let mut keys: Vec<String> = ctx.journal_entries().await.into_keys().collect();
    if let Some(p) = ctx.prior() {
        keys.extend(p.resources.keys().cloned());
    }
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_alphanumeric() {
        let a = random_token(24);
        let b = random_token(24);
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn stack_tag_lookup() {
        let tags = tandem_core::naming::tags("dev", "x-dev");
        assert!(has_stack_tag(&tags, "dev"));
        assert!(!has_stack_tag(&tags, "prod"));
        assert_eq!(tag_value(&tags, "Name"), Some("x-dev"));
    }
}
