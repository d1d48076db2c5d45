//! The resource protocol under injected faults: an in-memory cloud that can lose the answer
//! to a call after acting on it (timeout, connection reset, 5xx), answer "already exists",
//! hide fresh resources from lookups for a while (read-after-write lag), and a run killed
//! in the middle of a create. For every rule and every ambiguous failure: exactly one
//! resource exists afterwards and the journal records it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_core::aws::RetryPolicy;
use tandem_core::state::{check_transition, ComponentState, Op, ResourceEntry, ResourceStatus};
use tandem_core::{AwsError, AwsErrorKind, ComponentError, Ctx, How, Key, Placement, Rule};

const KEY: Key = Key::new("thing");
const STACK: &str = "t1";

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The call acted, then its answer was lost this way.
    After(Lost),
    /// The call never reached the service (it failed this way before acting).
    Before(Lost),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    Timeout,
    Reset,
    Http500,
    Throttled,
}

const AMBIGUOUS: [Lost; 4] = [Lost::Timeout, Lost::Reset, Lost::Http500, Lost::Throttled];

fn error_of(l: Lost) -> AwsError {
    match l {
        Lost::Timeout => {
            let mut e = AwsError::new("Timeout", "operation attempt timeout", None);
            e.kind = AwsErrorKind::Transient;
            e
        }
        Lost::Reset => {
            let mut e = AwsError::new("DispatchFailure", "connection reset by peer", None);
            e.kind = AwsErrorKind::Transient;
            e
        }
        Lost::Http500 => AwsError::new("InternalError", "We encountered an internal error", Some(500)),
        Lost::Throttled => AwsError::throttling(),
    }
}

#[derive(Debug, Clone)]
struct Res {
    id: String,
    name: String,
    stack: String,
    /// Lookups that still cannot see it (read-after-write lag).
    hidden_for: u32,
}

#[derive(Default)]
struct Inner {
    live: Vec<Res>,
    next: u32,
    tokens: BTreeMap<String, String>,
    faults: Vec<Fault>,
    lag: u32,
    creates: u32,
    tokens_seen: Vec<String>,
}

/// The fake service. Faults are consumed one per mutating call, in order.
#[derive(Clone, Default)]
struct Cloud(Arc<Mutex<Inner>>);

impl Cloud {
    fn with_faults(faults: Vec<Fault>) -> Self {
        let c = Cloud::default();
        c.0.lock().unwrap().faults = faults;
        c
    }
    fn lag(self, lookups: u32) -> Self {
        self.0.lock().unwrap().lag = lookups;
        self
    }
    fn next_fault(&self) -> Option<Fault> {
        let mut g = self.0.lock().unwrap();
        if g.faults.is_empty() {
            None
        } else {
            Some(g.faults.remove(0))
        }
    }
    fn insert(&self, name: &str, stack: &str) -> String {
        let mut g = self.0.lock().unwrap();
        g.next += 1;
        let id = format!("res-{}", g.next);
        let hidden_for = g.lag;
        g.live.push(Res { id: id.clone(), name: name.into(), stack: stack.into(), hidden_for });
        id
    }
    /// Runs a mutation under the next fault.
    fn call<T>(&self, act: impl FnOnce(&Cloud) -> Result<T, AwsError>) -> Result<T, AwsError> {
        match self.next_fault() {
            Some(Fault::Before(l)) => Err(error_of(l)),
            Some(Fault::After(l)) => {
                let _ = act(self);
                Err(error_of(l))
            }
            None => act(self),
        }
    }
    /// A create without token or unique name: every call makes a new resource.
    async fn create_tagged(&self, name: &str) -> Result<String, AwsError> {
        self.0.lock().unwrap().creates += 1;
        self.call(|c| Ok(c.insert(name, STACK)))
    }
    /// A create of a uniquely named resource.
    async fn create_named(&self, name: &str) -> Result<String, AwsError> {
        self.0.lock().unwrap().creates += 1;
        self.call(|c| {
            if c.0.lock().unwrap().live.iter().any(|r| r.name == name) {
                return Err(AwsError::new("EntityAlreadyExists", format!("{name} already exists"), Some(409)));
            }
            Ok(c.insert(name, STACK))
        })
    }
    /// A create deduplicated by idempotency token.
    async fn create_with_token(&self, name: &str, token: &str) -> Result<String, AwsError> {
        {
            let mut g = self.0.lock().unwrap();
            g.creates += 1;
            g.tokens_seen.push(token.to_string());
        }
        self.call(|c| {
            if let Some(id) = c.0.lock().unwrap().tokens.get(token) {
                return Ok(id.clone());
            }
            let id = c.insert(name, STACK);
            c.0.lock().unwrap().tokens.insert(token.to_string(), id.clone());
            Ok(id)
        })
    }
    /// This stack's copies named `name` (a lookup by tag or name), honouring the lag.
    async fn find(&self, name: &str) -> Result<Vec<String>, AwsError> {
        let mut g = self.0.lock().unwrap();
        let mut out = Vec::new();
        for r in g.live.iter_mut().filter(|r| r.name == name && r.stack == STACK) {
            if r.hidden_for > 0 {
                r.hidden_for -= 1;
            } else {
                out.push(r.id.clone());
            }
        }
        Ok(out)
    }
    async fn describe(&self, id: &str) -> Result<Option<String>, AwsError> {
        Ok(self.0.lock().unwrap().live.iter().find(|r| r.id == id).map(|r| r.id.clone()))
    }
    async fn delete(&self, id: &str) -> Result<(), AwsError> {
        self.call(|c| {
            let mut g = c.0.lock().unwrap();
            let before = g.live.len();
            g.live.retain(|r| r.id != id);
            if g.live.len() == before {
                Err(AwsError::not_found("NoSuchThing", format!("{id} not found")))
            } else {
                Ok(())
            }
        })
    }
    fn live(&self) -> Vec<Res> {
        self.0.lock().unwrap().live.clone()
    }
    fn creates(&self) -> u32 {
        self.0.lock().unwrap().creates
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy { max_attempts: 6, base: Duration::from_millis(1), max_delay: Duration::from_millis(2) }
}

fn ctx() -> Ctx {
    Ctx::standalone("thing-component", "us-east-1")
}

/// The component's journal, as the next run's prior state.
async fn resumed(from: &Ctx) -> Ctx {
    let mut prior = ComponentState::new("thing", Placement::Primary, "us-east-1");
    prior.resources = from.journal_entries().await;
    ctx().with_prior(prior)
}

/// Ensures `name` following `rule` against `cloud`.
async fn ensure(ctx: &Ctx, cloud: &Cloud, rule: Rule, name: &str) -> Result<(String, How), ComponentError> {
    let e = ctx
        .ensure::<String>(&KEY, name, rule)
        .id(|id| id.clone())
        .backoff(fast())
        .create(move |token| {
            let cloud = cloud.clone();
            let name = name.to_string();
            async move {
                match rule {
                    Rule::Token => cloud.create_with_token(&name, token.as_str()).await,
                    Rule::Name => cloud.create_named(&name).await,
                    Rule::Tag => cloud.create_tagged(&name).await,
                }
            }
        })
        .discard(move |id| {
            let cloud = cloud.clone();
            async move { cloud.delete(&id).await }
        });
    let e = if rule == Rule::Token {
        e
    } else {
        e.find(move |recorded| {
            let cloud = cloud.clone();
            let name = name.to_string();
            async move {
                if let Some(id) = recorded {
                    if let Some(id) = cloud.describe(&id).await? {
                        return Ok(vec![id]);
                    }
                }
                cloud.find(&name).await
            }
        })
    };
    e.outcome().await.map(|o| (o.value, o.how))
}

async fn assert_one_recorded(ctx: &Ctx, cloud: &Cloud, what: &str) -> String {
    let live = cloud.live();
    assert_eq!(live.len(), 1, "{what}: exactly one resource must exist, found {live:?}");
    let entry = ctx.entry(&KEY).await.unwrap_or_else(|| panic!("{what}: no journal entry"));
    assert_eq!(entry.status, ResourceStatus::Done, "{what}: {entry:?}");
    assert_eq!(entry.id.as_deref(), Some(live[0].id.as_str()), "{what}: the journal records the live resource");
    live[0].id.clone()
}

#[tokio::test]
async fn lost_answer_then_retry_in_the_same_run_leaves_exactly_one() {
    for rule in [Rule::Token, Rule::Name, Rule::Tag] {
        for lost in AMBIGUOUS {
            let what = format!("{rule:?}/{lost:?}");
            let cloud = Cloud::with_faults(vec![Fault::After(lost), Fault::After(lost)]);
            let c = ctx();
            let (id, how) = ensure(&c, &cloud, rule, "thing-t1").await.unwrap_or_else(|e| panic!("{what}: {e}"));
            let live = assert_one_recorded(&c, &cloud, &what).await;
            assert_eq!(id, live, "{what}");
            // Tag and name: the lookup after the lost answer finds the first copy; token:
            // the service hands back the resource of the token.
            assert!(matches!(how, How::Adopted | How::Created), "{what}: {how:?}");
        }
    }
}

#[tokio::test]
async fn failure_before_the_call_acted_is_retried_and_creates_one() {
    for rule in [Rule::Token, Rule::Name, Rule::Tag] {
        for lost in AMBIGUOUS {
            let what = format!("{rule:?}/{lost:?} before");
            let cloud = Cloud::with_faults(vec![Fault::Before(lost), Fault::Before(lost)]);
            let c = ctx();
            let (_, how) = ensure(&c, &cloud, rule, "thing-t1").await.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(how, How::Created, "{what}");
            assert_one_recorded(&c, &cloud, &what).await;
            assert_eq!(cloud.creates(), 3, "{what}: two failed attempts, then the create");
        }
    }
}

#[tokio::test]
async fn every_answer_lost_then_the_run_is_resumed() {
    for lost in AMBIGUOUS {
        // The token rule has no lookup: every attempt re-sends the same token, and a
        // resumed run sends it once more. The service deduplicates all of them.
        let what = format!("Token/{lost:?}");
        let cloud = Cloud::with_faults(vec![Fault::After(lost); tandem_core::protocol::MAX_CREATE_ATTEMPTS as usize]);
        let first = ctx();
        let err = ensure(&first, &cloud, Rule::Token, "thing-t1").await.expect_err("every answer lost");
        assert!(err.to_string().contains("thing-t1"), "{what}: {err}");
        let entry = first.entry(&KEY).await.expect("journaled");
        assert_eq!(entry.status, ResourceStatus::Pending, "{what}: an ambiguous create stays pending");
        let token = entry.token.clone().expect("a token is journaled");
        let next = resumed(&first).await;
        ensure(&next, &cloud, Rule::Token, "thing-t1").await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_one_recorded(&next, &cloud, &what).await;
        let seen = cloud.0.lock().unwrap().tokens_seen.clone();
        assert!(seen.iter().all(|t| *t == token), "{what}: every attempt and the resumed run reuse the journaled token: {seen:?}");
        assert_eq!(seen.len(), tandem_core::protocol::MAX_CREATE_ATTEMPTS as usize + 1, "{what}");
    }
}

#[tokio::test]
async fn a_run_killed_after_the_create_acted_is_resumed_without_a_duplicate() {
    for rule in [Rule::Token, Rule::Name, Rule::Tag] {
        let what = format!("{rule:?}/killed");
        let cloud = Cloud::default();
        let first = ctx();
        // kill -9 right after the service acted: the create future never completes, so the
        // journal keeps the pending entry (and its token), with no id.
        {
            let created = cloud.clone();
            let killed = first
                .ensure::<String>(&KEY, "thing-t1", rule)
                .id(|id| id.clone())
                .find(|_| async { Ok(Vec::new()) })
                .discard(|_| async { Ok(()) })
                .create(move |token| {
                    let cloud = created.clone();
                    async move {
                        let _ = cloud.create_with_token("thing-t1", token.as_str()).await;
                        futures::future::pending::<Result<String, AwsError>>().await
                    }
                })
                .run();
            let r = tokio::time::timeout(Duration::from_millis(50), killed).await;
            assert!(r.is_err(), "{what}: the create never answers");
        }
        let entry = first.entry(&KEY).await.expect("journaled");
        assert_eq!((entry.status, entry.id.clone()), (ResourceStatus::Pending, None), "{what}");
        let next = resumed(&first).await;
        let (_, how) = ensure(&next, &cloud, rule, "thing-t1").await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_one_recorded(&next, &cloud, &what).await;
        if rule != Rule::Token {
            assert_eq!(how, How::Adopted, "{what}: found by its lookup, not created again");
        }
        assert_eq!(cloud.creates(), 1 + u32::from(rule == Rule::Token), "{what}: only the token rule re-sends (deduplicated)");
    }
}

#[tokio::test]
async fn a_copy_the_lookup_could_not_see_yet_is_found_after_the_create_and_deleted() {
    // Read-after-write lag: the lookup after the lost answer cannot see the first copy, so
    // a second is created; the check after that create sees both and deletes the spare.
    let cloud = Cloud::with_faults(vec![Fault::After(Lost::Reset)]).lag(1);
    let c = ctx();
    let outcome = c
        .ensure::<String>(&KEY, "thing-t1", Rule::Tag)
        .id(|id| id.clone())
        .backoff(fast())
        .find(|recorded| {
            let cloud = cloud.clone();
            async move {
                let mut found = cloud.find("thing-t1").await?;
                if let Some(r) = recorded {
                    if !found.contains(&r) && cloud.describe(&r).await?.is_some() {
                        found.push(r);
                    }
                }
                Ok(found)
            }
        })
        .create(|_| {
            let cloud = cloud.clone();
            async move { cloud.create_tagged("thing-t1").await }
        })
        .discard(|id| {
            let cloud = cloud.clone();
            async move { cloud.delete(&id).await }
        })
        .outcome()
        .await
        .expect("ensure");
    assert_eq!(outcome.how, How::Created);
    assert_eq!(outcome.discarded.len(), 1, "the spare is reported: {outcome:?}");
    let id = assert_one_recorded(&c, &cloud, "lag").await;
    assert_eq!(id, outcome.value, "the copy kept is the one journaled");
}

#[tokio::test]
async fn a_copy_found_twice_by_a_later_run_is_reported_and_the_spare_deleted() {
    let cloud = Cloud::default();
    cloud.insert("thing-t1", STACK);
    cloud.insert("thing-t1", STACK);
    let c = ctx();
    let (_, how) = ensure(&c, &cloud, Rule::Tag, "thing-t1").await.expect("ensure");
    assert_eq!(how, How::Adopted);
    assert_one_recorded(&c, &cloud, "found twice").await;
    assert_eq!(cloud.creates(), 0);
}

#[tokio::test]
async fn a_definite_failure_is_not_retried_and_journaled_failed() {
    for rule in [Rule::Token, Rule::Name, Rule::Tag] {
        let cloud = Cloud::default();
        let c = ctx();
        let err = c
            .ensure::<String>(&KEY, "thing-t1", rule)
            .id(|id| id.clone())
            .find(|_| async { Ok(Vec::new()) })
            .discard(|_| async { Ok(()) })
            .create(|_| {
                let cloud = cloud.clone();
                async move {
                    cloud.0.lock().unwrap().creates += 1;
                    Err::<String, _>(AwsError::other("InvalidParameterValue", "cidr is not valid"))
                }
            })
            .run()
            .await
            .expect_err("validation error");
        assert!(err.to_string().contains("InvalidParameterValue") && err.to_string().contains("us-east-1"), "{err}");
        assert_eq!(cloud.creates(), 1, "{rule:?}: not retried");
        assert_eq!(c.entry(&KEY).await.map(|e| e.status), Some(ResourceStatus::Failed));
    }
}

#[tokio::test]
async fn a_name_taken_by_someone_else_is_reported_not_adopted() {
    let cloud = Cloud::default();
    cloud.insert("thing-t1", "another-stack");
    let c = ctx();
    let err = ensure(&c, &cloud, Rule::Name, "thing-t1").await.expect_err("taken");
    let msg = err.to_string();
    assert!(msg.contains("EntityAlreadyExists") && msg.contains("not this stack's"), "{msg}");
    assert_eq!(cloud.live().len(), 1, "nothing created, nothing deleted");
    assert_eq!(c.entry(&KEY).await.map(|e| e.status), Some(ResourceStatus::Failed));
}

#[tokio::test]
async fn misuse_is_reported() {
    let c = ctx();
    let err = c
        .ensure::<String>(&KEY, "thing-t1", Rule::Tag)
        .id(|id| id.clone())
        .find(|_| async { Ok(Vec::new()) })
        .create(|_| async { Ok("x".to_string()) })
        .run()
        .await
        .expect_err("a tag rule without discard");
    assert!(err.to_string().contains("discard"), "{err}");
    assert!(c.entry(&KEY).await.is_none(), "nothing journaled");
}

#[tokio::test]
async fn delete_finds_the_orphan_of_a_lost_create_and_survives_a_lost_answer() {
    // A create whose answer was lost: pending, no id; the resource exists.
    let cloud = Cloud::default();
    let first = ctx();
    let _ = tokio::time::timeout(
        Duration::from_millis(20),
        first
            .ensure::<String>(&KEY, "thing-t1", Rule::Tag)
            .id(|id| id.clone())
            .find(|_| async { Ok(Vec::new()) })
            .discard(|_| async { Ok(()) })
            .create(|_| {
                let cloud = cloud.clone();
                async move {
                    let _ = cloud.create_tagged("thing-t1").await;
                    futures::future::pending::<Result<String, AwsError>>().await
                }
            })
            .run(),
    )
    .await;
    assert_eq!(cloud.live().len(), 1);
    let next = resumed(&first).await;
    cloud.0.lock().unwrap().faults = vec![Fault::After(Lost::Reset)];
    let deleted = next
        .delete(
            &KEY,
            "thing-t1",
            |recorded| {
                let cloud = cloud.clone();
                async move {
                    assert_eq!(recorded, None, "no id was ever recorded");
                    cloud.find("thing-t1").await
                }
            },
            |id| {
                let cloud = cloud.clone();
                async move { cloud.delete(&id).await }
            },
        )
        .await
        .expect("delete");
    assert_eq!(deleted, 1);
    assert!(cloud.live().is_empty(), "the orphan is gone");
    assert!(next.entry(&KEY).await.is_none(), "the key is forgotten");
}

#[tokio::test]
async fn update_keeps_the_id_and_journals_the_result() {
    let mut prior = ComponentState::new("thing", Placement::Primary, "us-east-1");
    prior = prior.with_resource("thing", "res-9");
    let c = ctx().with_prior(prior);
    assert_eq!(c.recorded_id(&KEY).await.as_deref(), Some("res-9"), "the prior state seeds the journal");
    c.update(&KEY, || async { Ok::<_, ComponentError>(()) }).await.expect("update");
    let e = c.entry(&KEY).await.expect("entry");
    assert_eq!((e.status, e.op, e.id.as_deref()), (ResourceStatus::Done, Op::Update, Some("res-9")));
    let err = c.update(&KEY, || async { Err::<(), _>(ComponentError::invalid("thing", "us-east-1", "refused")) }).await;
    assert!(err.is_err());
    let e = c.entry(&KEY).await.expect("entry");
    assert_eq!((e.status, e.id.as_deref()), (ResourceStatus::Failed, Some("res-9")));
}

#[test]
fn the_journal_state_machine_rejects_illegal_transitions() {
    let entry = |status| ResourceEntry { id: Some("x".into()), status, op: Op::Create, token: None, at: 0 };
    let pending = entry(ResourceStatus::Pending);
    let done = entry(ResourceStatus::Done);
    let failed = entry(ResourceStatus::Failed);
    // Legal.
    assert!(check_transition(None, ResourceStatus::Pending, Op::Create).is_ok());
    assert!(check_transition(Some(&pending), ResourceStatus::Done, Op::Create).is_ok());
    assert!(check_transition(Some(&pending), ResourceStatus::Failed, Op::Create).is_ok());
    assert!(check_transition(Some(&done), ResourceStatus::Pending, Op::Delete).is_ok());
    assert!(check_transition(None, ResourceStatus::Done, Op::Adopt).is_ok());
    assert!(check_transition(Some(&failed), ResourceStatus::Done, Op::Adopt).is_ok());
    // Illegal: a result without the pending entry that announced it.
    assert!(check_transition(None, ResourceStatus::Done, Op::Create).is_err());
    assert!(check_transition(Some(&done), ResourceStatus::Done, Op::Update).is_err());
    assert!(check_transition(None, ResourceStatus::Failed, Op::Create).is_err());
    assert!(check_transition(Some(&done), ResourceStatus::Failed, Op::Delete).is_err());
    assert!(check_transition(Some(&failed), ResourceStatus::Failed, Op::Create).is_err());
}

#[test]
fn legacy_verbs_read_as_typed_ops() {
    for (verb, op) in [("create", Op::Create), ("upsert", Op::Update), ("put-policy", Op::Update), ("delete", Op::Delete), ("done", Op::Recorded), ("adopt", Op::Adopt)] {
        assert_eq!(Op::parse(verb), op, "{verb}");
    }
    let old: ResourceEntry = serde_json::from_str(r#"{"id":"vpc-1","status":"done","op":"done","at":1}"#).expect("old entry");
    assert_eq!((old.op, old.token), (Op::Recorded, None));
}

#[tokio::test]
async fn known_absent_skips_only_the_first_lookup() {
    // The caller has just read and found nothing: no second read before the first create,
    // but after a lost answer the lookup runs and adopts the copy the create made.
    for rule in [Rule::Name, Rule::Tag] {
        let what = format!("{rule:?}");
        let cloud = Cloud::with_faults(vec![Fault::After(Lost::Http500)]);
        let lookups = Arc::new(Mutex::new(0u32));
        let c = ctx();
        let (l, cl) = (lookups.clone(), cloud.clone());
        let out = c
            .ensure::<String>(&KEY, "thing-t1", rule)
            .known_absent()
            .find(move |_| {
                let (l, cl) = (l.clone(), cl.clone());
                async move {
                    *l.lock().unwrap() += 1;
                    cl.find("thing-t1").await
                }
            })
            .create(|_| {
                let cloud = cloud.clone();
                async move { if rule == Rule::Name { cloud.create_named("thing-t1").await } else { cloud.create_tagged("thing-t1").await } }
            })
            .discard(|id| {
                let cloud = cloud.clone();
                async move { cloud.delete(&id).await }
            })
            .id(|id| id.clone())
            .backoff(fast())
            .outcome()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(out.how, How::Adopted, "{what}");
        assert_eq!(cloud.creates(), 1, "{what}: one create");
        assert_eq!(*lookups.lock().unwrap(), 1, "{what}: only the lookup after the lost answer ran");
        assert_one_recorded(&c, &cloud, &what).await;
    }
}
