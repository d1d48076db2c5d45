//! The resource protocol: how the core creates, adopts, updates and deletes one resource.
//!
//! A component describes *what* a resource is (how to look it up, how to create it, how to
//! delete a spare one); [`Ctx::ensure`], [`Ctx::update`] and [`Ctx::delete`] decide *how*:
//! they journal every step, retry, and never re-send a create blindly after an ambiguous
//! failure (the answer was lost, the call timed out, AWS answered 5xx after acting, or AWS
//! says the resource already exists). Each resource follows the cheapest safe [`Rule`]:
//!
//! 1. [`Rule::Token`]: AWS deduplicates creates carrying the same idempotency token
//!    (`ClientToken`, `CallerReference`, `IdempotencyToken`). The token is derived when the
//!    create is first journaled and reused by every retry and by a resumed run.
//! 2. [`Rule::Name`]: the name is unique; after "already exists" the resource is looked up by
//!    name, checked to be this stack's (the lookup returns only this stack's), and adopted.
//! 3. [`Rule::Tag`]: no name, no token (VPC, subnet, route table, KMS key, REST API, ...).
//!    The resource is tagged in the create call itself; after an ambiguous failure it is
//!    looked up by tag before it is created again. One found twice is reported and the
//!    spare deleted ([`Ensure::discard`]), never left behind.
//!
//! Components never write journal entries themselves: the journal's state machine
//! ([`crate::state::check_transition`]) rejects a `done` that follows no `pending`.
//!
//! The SDK's own retry stays on for reads and idempotent calls; a create of a
//! [`Rule::Tag`] resource is sent with [`crate::aws::single_attempt`], so the loop here is
//! its only retry.

use std::future::Future;

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::aws::{backoff_delay, retry, RetryPolicy};
use crate::component::{Ctx, Key};
use crate::error::{AwsError, AwsResultExt, ComponentError};
use crate::state::{Op, ResourceStatus};

/// How a create is made safe to repeat (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The create carries the journal's idempotency token.
    Token,
    /// The resource has a unique name; "already exists" means: look it up and adopt it.
    Name,
    /// Tagged at creation; looked up by tag after an ambiguous failure; spares deleted.
    Tag,
}

/// The idempotency token of one create, as journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How [`Ensure`] came by the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Already journaled done with this id, and still there.
    Existing,
    /// Found by id, name or tag and taken into the journal (an interrupted run's create,
    /// or a create whose answer was lost).
    Adopted,
    /// Created by this call.
    Created,
}

/// The result of [`Ensure::outcome`].
#[derive(Debug)]
pub struct Ensured<T> {
    pub value: T,
    pub how: How,
    /// Ids of spare copies found and deleted.
    pub discarded: Vec<String>,
}

/// How many create attempts one [`Ensure`] makes before it gives up (the entry stays
/// `pending` with its token, so the next run resumes it).
pub const MAX_CREATE_ATTEMPTS: u32 = 6;
/// Lookups after an "already exists" answer that find nothing of this stack's before the
/// name is reported as taken by someone else (covers read-after-write lag).
const CONFLICT_LOOKUPS: u32 = 3;

type FindFn<'a, T> = Box<dyn FnMut(Option<String>) -> BoxFuture<'a, Result<Vec<T>, AwsError>> + Send + 'a>;
type CreateFn<'a, T> = Box<dyn FnMut(Token) -> BoxFuture<'a, Result<T, AwsError>> + Send + 'a>;
type DiscardFn<'a> = Box<dyn FnMut(String) -> BoxFuture<'a, Result<(), AwsError>> + Send + 'a>;
type IdFn<'a, T> = Box<dyn Fn(&T) -> String + Send + Sync + 'a>;

/// One resource to ensure: built by [`Ctx::ensure`], described with [`Ensure::find`],
/// [`Ensure::create`], [`Ensure::discard`] and [`Ensure::id`], run by [`Ensure::run`].
#[must_use = "an Ensure does nothing until run"]
pub struct Ensure<'a, T> {
    ctx: &'a Ctx,
    key: Key,
    resource: String,
    rule: Rule,
    find: Option<FindFn<'a, T>>,
    create: Option<CreateFn<'a, T>>,
    discard: Option<DiscardFn<'a>>,
    id: Option<IdFn<'a, T>>,
    retry: RetryPolicy,
    known_absent: bool,
}

impl Ctx {
    /// Ensures the resource journaled under `key` exists (named `resource` in errors and
    /// logs), following `rule`.
    pub fn ensure<'a, T: Send + 'a>(&'a self, key: &Key, resource: impl Into<String>, rule: Rule) -> Ensure<'a, T> {
        Ensure {
            ctx: self,
            key: key.clone(),
            resource: resource.into(),
            rule,
            find: None,
            create: None,
            discard: None,
            id: None,
            retry: RetryPolicy::default(),
            known_absent: false,
        }
    }

    /// Journals an in-place change of the resource under `key` around `change`: `pending`
    /// (the id kept), then `done` or `failed`. The change itself must be idempotent (it is
    /// re-run as a whole by the next run if this one is interrupted).
    pub async fn update<T, F, Fut>(&self, key: &Key, change: F) -> Result<T, ComponentError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ComponentError>>,
    {
        self.write(key, Op::Update, None, ResourceStatus::Pending).await?;
        match change().await {
            Ok(v) => {
                self.write(key, Op::Update, None, ResourceStatus::Done).await?;
                Ok(v)
            }
            Err(e) => {
                self.write(key, Op::Update, None, ResourceStatus::Failed).await?;
                Err(e)
            }
        }
    }

    /// Deletes every live copy of the resource under `key`, then forgets the key.
    ///
    /// `lookup` gets the recorded id (if any) and returns the ids of the live copies: the
    /// recorded one if it still exists, and any found by name or tag (a create whose answer
    /// was lost has no recorded id). Each is journaled `pending` delete, deleted (retried;
    /// NotFound is success), and the key forgotten at the end. Returns how many were deleted.
    pub async fn delete<L, LF, D, DF>(&self, key: &Key, resource: &str, mut lookup: L, mut delete: D) -> Result<usize, ComponentError>
    where
        L: FnMut(Option<String>) -> LF,
        LF: Future<Output = Result<Vec<String>, AwsError>>,
        D: FnMut(String) -> DF,
        DF: Future<Output = Result<(), AwsError>>,
    {
        let region = self.region().to_string();
        let recorded = self.recorded_id(key).await;
        let mut ids = retry(|| lookup(recorded.clone())).await.at(resource, &region)?;
        ids.sort();
        ids.dedup();
        for id in &ids {
            self.write(key, Op::Delete, Some(id.clone()), ResourceStatus::Pending).await?;
            let result = retry(|| delete(id.clone())).await;
            match result {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    self.write(key, Op::Delete, None, ResourceStatus::Failed).await?;
                    return Err(ComponentError::aws(resource, &region, e));
                }
            }
        }
        if self.entry(key).await.is_some() {
            self.forget(key).await?;
        }
        Ok(ids.len())
    }

    /// [`Ctx::delete`] of the recorded id only (resources whose id is always journaled
    /// before they can exist, or that a lookup by name cannot find).
    pub async fn delete_recorded<D, DF>(&self, key: &Key, resource: &str, delete: D) -> Result<usize, ComponentError>
    where
        D: FnMut(String) -> DF,
        DF: Future<Output = Result<(), AwsError>>,
    {
        self.delete(key, resource, |recorded| async move { Ok(recorded.into_iter().collect()) }, delete).await
    }
}

impl<'a, T: Send + 'a> Ensure<'a, T> {
    /// How to look the resource up: given the recorded id (if any), the live copies that are
    /// this stack's (by id, else by name or tag). Reads: retried on transient errors.
    pub fn find<F, Fut>(mut self, mut find: F) -> Self
    where
        F: FnMut(Option<String>) -> Fut + Send + 'a,
        Fut: Future<Output = Result<Vec<T>, AwsError>> + Send + 'a,
    {
        self.find = Some(Box::new(move |id| find(id).boxed()));
        self
    }

    /// [`Ensure::find`] for lookups that return at most one copy.
    pub fn find_one<F, Fut>(self, mut find: F) -> Self
    where
        F: FnMut(Option<String>) -> Fut + Send + 'a,
        Fut: Future<Output = Result<Option<T>, AwsError>> + Send + 'a,
    {
        self.find(move |id| find(id).map(|r| r.map(|o| o.into_iter().collect())))
    }

    /// How to create it, with the journal's token (pass it as the AWS idempotency token for
    /// [`Rule::Token`]; tag the resource in this very call for [`Rule::Tag`]). Called only
    /// when the lookup found nothing; never wrapped in a retry by the caller.
    pub fn create<F, Fut>(mut self, mut create: F) -> Self
    where
        F: FnMut(Token) -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, AwsError>> + Send + 'a,
    {
        self.create = Some(Box::new(move |t| create(t).boxed()));
        self
    }

    /// How to delete a spare copy (by id). Required for [`Rule::Tag`].
    pub fn discard<F, Fut>(mut self, mut discard: F) -> Self
    where
        F: FnMut(String) -> Fut + Send + 'a,
        Fut: Future<Output = Result<(), AwsError>> + Send + 'a,
    {
        self.discard = Some(Box::new(move |id| discard(id).boxed()));
        self
    }

    /// The id (or ARN) journaled for a copy.
    pub fn id<F>(mut self, id: F) -> Self
    where
        F: Fn(&T) -> String + Send + Sync + 'a,
    {
        self.id = Some(Box::new(id));
        self
    }

    /// The caller has just read the resource and found nothing: the first lookup is skipped
    /// (it would repeat that read); every later one, after an ambiguous create, runs.
    pub fn known_absent(mut self) -> Self {
        self.known_absent = true;
        self
    }

    /// The backoff between create attempts (API rate limits; tests).
    pub fn backoff(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Runs the protocol; the resource.
    pub async fn run(self) -> Result<T, ComponentError> {
        self.outcome().await.map(|e| e.value)
    }

    /// Runs the protocol; the resource and how it was come by.
    pub async fn outcome(mut self) -> Result<Ensured<T>, ComponentError> {
        let ctx = self.ctx;
        let region = ctx.region().to_string();
        let resource = self.resource.clone();
        let key = self.key.clone();
        let (Some(mut create), Some(id_of)) = (self.create.take(), self.id.take()) else {
            return Err(self.misuse("an ensure needs create and id"));
        };
        if self.rule != Rule::Token && self.find.is_none() {
            return Err(self.misuse("Rule::Name and Rule::Tag need a find"));
        }
        if self.rule == Rule::Tag && self.discard.is_none() {
            return Err(self.misuse("Rule::Tag needs a discard, so a spare copy is deleted"));
        }
        let mut find = self.find.take();
        let mut discard = self.discard.take();

        let started_done = matches!(ctx.entry(&key).await, Some(e) if e.status == ResourceStatus::Done);
        let mut last_ambiguous: Option<AwsError> = None;
        let mut conflicts_unresolved = 0u32;
        for attempt in 0..MAX_CREATE_ATTEMPTS {
            ctx.check_cancelled()?;
            let skip_lookup = attempt == 0 && self.known_absent;
            if let Some(find) = find.as_mut().filter(|_| !skip_lookup) {
                let recorded = ctx.recorded_id(&key).await;
                let found = retry(|| find(recorded.clone())).await.at(&resource, &region)?;
                if !found.is_empty() {
                    let (keep, discarded) =
                        keep_one(found, recorded.as_deref(), &id_of, discard.as_mut(), &resource, &region).await?;
                    let keep_id = id_of(&keep);
                    let how = if started_done && recorded.as_deref() == Some(keep_id.as_str()) { How::Existing } else { How::Adopted };
                    ctx.adopt(&key, &keep_id).await?;
                    if how == How::Adopted {
                        tracing::info!(resource = %resource, region = %region, id = %keep_id, "adopted");
                    }
                    return Ok(Ensured { value: keep, how, discarded });
                }
                if last_ambiguous.as_ref().is_some_and(AwsError::is_conflict) {
                    conflicts_unresolved += 1;
                    if conflicts_unresolved >= CONFLICT_LOOKUPS {
                        ctx.write(&key, Op::Create, None, ResourceStatus::Failed).await?;
                        let e = last_ambiguous.take().unwrap_or_else(|| AwsError::other("Conflict", "exists"));
                        return Err(ComponentError::invalid(
                            &resource,
                            &region,
                            format!("{e}; it exists but is not this stack's (no copy carries this stack's name and tags): rename it or remove it"),
                        ));
                    }
                }
            }
            let entry = ctx.write(&key, Op::Create, None, ResourceStatus::Pending).await?;
            let token = Token(entry.token.unwrap_or_default());
            match create(token).await {
                Ok(v) => {
                    let id = id_of(&v);
                    ctx.write(&key, Op::Create, Some(id.clone()), ResourceStatus::Done).await?;
                    let mut discarded = Vec::new();
                    if last_ambiguous.is_some() && self.rule == Rule::Tag {
                        // A lost answer may have created a copy the lookup could not see yet.
                        if let Some(find) = find.as_mut() {
                            let found = retry(|| find(Some(id.clone()))).await.at(&resource, &region)?;
                            if found.len() > 1 {
                                let (_, d) = keep_one(found, Some(&id), &id_of, discard.as_mut(), &resource, &region).await?;
                                discarded = d;
                            }
                        }
                    }
                    tracing::info!(resource = %resource, region = %region, id = %id, "created");
                    return Ok(Ensured { value: v, how: How::Created, discarded });
                }
                Err(e) if e.is_ambiguous() => {
                    tracing::warn!(resource = %resource, region = %region, error = %e, attempt, "create failed ambiguously; looking it up before trying again");
                    if e.is_conflict() && find.is_none() {
                        ctx.write(&key, Op::Create, None, ResourceStatus::Failed).await?;
                        return Err(ComponentError::aws(&resource, &region, e));
                    }
                    last_ambiguous = Some(e);
                    tokio::time::sleep(backoff_delay(&self.retry, attempt)).await;
                }
                Err(e) => {
                    ctx.write(&key, Op::Create, None, ResourceStatus::Failed).await?;
                    return Err(ComponentError::aws(&resource, &region, e));
                }
            }
        }
        // Still ambiguous: the entry stays pending with its token; the next run looks the
        // resource up (and re-sends the same token) before creating anything.
        let e = last_ambiguous.unwrap_or_else(|| AwsError::other("Unknown", "create did not complete"));
        Err(ComponentError::aws(&resource, &region, e))
    }

    fn misuse(&self, what: &str) -> ComponentError {
        ComponentError::invalid(&self.resource, self.ctx.region(), format!("protocol misuse ({}): {what}", self.key))
    }
}

/// Keeps the recorded copy (else the first found) and deletes the others with `discard`.
async fn keep_one<T>(
    mut found: Vec<T>,
    recorded: Option<&str>,
    id_of: &(dyn Fn(&T) -> String + Send + Sync + '_),
    discard: Option<&mut DiscardFn<'_>>,
    resource: &str,
    region: &str,
) -> Result<(T, Vec<String>), ComponentError> {
    let pos = recorded.and_then(|r| found.iter().position(|f| id_of(f) == r)).unwrap_or(0);
    let keep = found.swap_remove(pos);
    if found.is_empty() {
        return Ok((keep, Vec::new()));
    }
    let spares: Vec<String> = found.iter().map(id_of).collect();
    let Some(discard) = discard else {
        tracing::warn!(resource, region, keep = %id_of(&keep), spares = ?spares, "several copies found and no way to delete the spares; keeping one");
        return Ok((keep, Vec::new()));
    };
    tracing::warn!(resource, region, keep = %id_of(&keep), spares = ?spares, "several copies found; deleting the spares");
    for spare in &spares {
        let r = retry(|| discard(spare.clone())).await;
        match r {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(ComponentError::aws(resource, region, e)),
        }
    }
    Ok((keep, spares))
}
