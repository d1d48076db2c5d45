//! The credential and account preflight (issue 14, finding 8): before `apply`, `destroy`,
//! `failover`, `switchover` or `drill` touches anything (no lock taken, no state read, no
//! component started), the credentials are resolved once and `sts:GetCallerIdentity` is asked
//! in every region of the stack, at once, with the outage-proof profile.
//!
//! - No credentials, expired credentials, credentials AWS rejects, or no access: one message
//!   saying which and how to fix it, exit 2.
//! - A region that does not answer is *not* a credential problem: it is an outage, which the
//!   commands handle themselves (DR.md, "The CLI during an outage"); the preflight passes on
//!   the regions that answered.
//! - `account_id` in the configuration or `--expect-account` refuses any other account.
//!
//! `plan` runs the same check but only to name the account and caller in its header: it
//! reads no live resource, so it goes on (saying why) when the identity cannot be read.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use serde::Serialize;
use tandem_core::aws::AwsContext;
use tandem_core::config::AccountId;

/// Who the credentials belong to, as STS says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "account {} as {}", self.account, self.arn)
    }
}

/// Why AWS will not let these credentials work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing in the credential chain (environment, profile, SSO, IMDS) gave credentials.
    NoCredentials,
    /// The credentials (or the SSO token behind them) have expired.
    Expired,
    /// AWS does not recognise the credentials (wrong key, wrong secret, region not enabled).
    Invalid,
    /// The credentials are valid but may not call `sts:GetCallerIdentity` (an SCP).
    NoAccess,
}

/// What one region said to `GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Caller(Caller),
    Refused(Refusal, String),
    /// No answer (timeout, connection refused, throttled): an outage, not a credential problem.
    Unreachable(String),
}

/// The credential chain and STS, behind a trait so the preflight's decisions are tested
/// without AWS.
#[async_trait]
pub trait IdentityApi: Send + Sync {
    /// Resolves the credentials once (no AWS call unless the chain itself makes one).
    async fn credentials(&self) -> Result<(), (Refusal, String)>;
    /// `sts:GetCallerIdentity` in `region`.
    async fn caller(&self, region: &str) -> Answer;
}

/// Why the preflight stops a command (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "no AWS credentials found. Set AWS_PROFILE to a configured profile (and run `aws sso login` for an SSO profile), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.\n  the credential chain said: {0}"
    )]
    NoCredentials(String),
    #[error(
        "the AWS credentials have expired ({region}: {detail}). Run `aws sso login` for an SSO profile, or get new session credentials (AWS_SESSION_TOKEN) and run again."
    )]
    Expired { region: String, detail: String },
    #[error(
        "AWS rejected the credentials in {region} ({detail}). Check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE; an opt-in region not enabled for the account answers the same way."
    )]
    Invalid { region: String, detail: String },
    #[error(
        "the credentials may not call sts:GetCallerIdentity in {region} ({detail}). A service control policy or permissions boundary denies it: use a role that allows it (see `tandem iam-policy`)."
    )]
    NoAccess { region: String, detail: String },
    #[error(
        "the credentials are for account {actual} ({arn}), but this stack expects account {expected} ({said_by}). Switch AWS_PROFILE to the right account, or correct `account_id` / --expect-account."
    )]
    WrongAccount { expected: AccountId, actual: String, arn: String, said_by: &'static str },
    #[error("the regions answered different accounts ({0}). Check the credential configuration per region.")]
    AccountsDiffer(String),
    #[error(
        "account {expected} ({said_by}) cannot be confirmed: no region answered sts:GetCallerIdentity ({why})."
    )]
    Unconfirmed { expected: AccountId, said_by: &'static str, why: String },
}

/// The account the user requires, and where they said so (for the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub account: AccountId,
    pub said_by: &'static str,
}

impl Expected {
    /// `--expect-account` wins over the configuration's `account_id`.
    pub fn of(flag: Option<&AccountId>, config: Option<&AccountId>) -> Option<Self> {
        match (flag, config) {
            (Some(a), _) => Some(Expected { account: a.clone(), said_by: "--expect-account" }),
            (None, Some(a)) => Some(Expected { account: a.clone(), said_by: "account_id in the configuration" }),
            (None, None) => None,
        }
    }
}

/// A passed preflight: the caller (None when no region answered and no account was
/// required) and the regions that did not answer, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub caller: Option<Caller>,
    pub unreachable: BTreeMap<String, String>,
}

/// The preflight: credentials once, then every region at once.
pub async fn check(api: &dyn IdentityApi, regions: &[String], expected: Option<&Expected>) -> Result<Verified, PreflightError> {
    if let Err((refusal, detail)) = api.credentials().await {
        return Err(refused(refusal, "credential chain", detail));
    }
    let answers = futures::future::join_all(regions.iter().map(|r| api.caller(r))).await;
    let mut callers: BTreeMap<String, Caller> = BTreeMap::new();
    let mut unreachable = BTreeMap::new();
    for (region, answer) in regions.iter().zip(answers) {
        match answer {
            Answer::Caller(c) => {
                callers.insert(region.clone(), c);
            }
            Answer::Refused(refusal, detail) => return Err(refused(refusal, region, detail)),
            Answer::Unreachable(why) => {
                unreachable.insert(region.clone(), why);
            }
        }
    }
    let mut accounts: Vec<&str> = callers.values().map(|c| c.account.as_str()).collect();
    accounts.dedup();
    if accounts.len() > 1 {
        let list: Vec<String> = callers.iter().map(|(r, c)| format!("{r}: {}", c.account)).collect();
        return Err(PreflightError::AccountsDiffer(list.join(", ")));
    }
    let caller = callers.into_values().next();
    if let Some(e) = expected {
        match &caller {
            Some(c) if c.account != e.account.as_str() => {
                return Err(PreflightError::WrongAccount {
                    expected: e.account.clone(),
                    actual: c.account.clone(),
                    arn: c.arn.clone(),
                    said_by: e.said_by,
                })
            }
            Some(_) => {}
            None => {
                let why: Vec<String> = unreachable.iter().map(|(r, w)| format!("{r}: {w}")).collect();
                return Err(PreflightError::Unconfirmed { expected: e.account.clone(), said_by: e.said_by, why: why.join("; ") });
            }
        }
    }
    Ok(Verified { caller, unreachable })
}

fn refused(refusal: Refusal, region: &str, detail: String) -> PreflightError {
    let region = region.to_string();
    match refusal {
        Refusal::NoCredentials => PreflightError::NoCredentials(detail),
        Refusal::Expired => PreflightError::Expired { region, detail },
        Refusal::Invalid => PreflightError::Invalid { region, detail },
        Refusal::NoAccess => PreflightError::NoAccess { region, detail },
    }
}

/// The refusal an STS error code means, if it is one (other codes are treated as "did not
/// answer": throttling and 5xx are not the credentials' fault).
pub fn refusal_of_code(code: &str) -> Option<Refusal> {
    match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => Some(Refusal::Expired),
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException" | "IncompleteSignature" | "InvalidToken" | "AuthFailure" => {
            Some(Refusal::Invalid)
        }
        "AccessDenied" | "AccessDeniedException" => Some(Refusal::NoAccess),
        _ => None,
    }
}

/// The refusal a credential-chain error means. An SSO token that has expired is reported by
/// its provider as a provider error naming the expiry.
pub fn refusal_of_credentials_error(e: &CredentialsError) -> Refusal {
    let text = error_chain(e).to_ascii_lowercase();
    if text.contains("expired") || text.contains("sso session") && text.contains("refresh") {
        Refusal::Expired
    } else {
        Refusal::NoCredentials
    }
}

/// An error and its sources on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    let mut n = 0;
    while let Some(s) = cur {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = s.source();
        n += 1;
        if n > 8 {
            break;
        }
    }
    out
}

/// The SDK implementation (outage-proof profile: a region that does not answer costs
/// seconds).
pub struct SdkIdentity {
    aws: AwsContext,
}

impl SdkIdentity {
    pub fn new(aws: AwsContext) -> Self {
        SdkIdentity { aws }
    }
}

#[async_trait]
impl IdentityApi for SdkIdentity {
    async fn credentials(&self) -> Result<(), (Refusal, String)> {
        let Some(provider) = self.aws.config("us-east-1").credentials_provider() else {
            return Err((Refusal::NoCredentials, "no credential provider is configured".into()));
        };
        match provider.provide_credentials().await {
            Ok(c) => match c.expiry() {
                Some(t) if t <= std::time::SystemTime::now() => {
                    Err((Refusal::Expired, "the credentials the chain gave have expired".to_string()))
                }
                _ => Ok(()),
            },
            Err(e) => Err((refusal_of_credentials_error(&e), error_chain(&e))),
        }
    }

    async fn caller(&self, region: &str) -> Answer {
        let sts = aws_sdk_sts::Client::new(&self.aws.config(region));
        match sts.get_caller_identity().send().await {
            Ok(out) => match (out.account, out.arn) {
                (Some(account), Some(arn)) => Answer::Caller(Caller { account, arn }),
                _ => Answer::Unreachable("GetCallerIdentity answered without an account or ARN".into()),
            },
            Err(SdkError::ServiceError(se)) => {
                let e = se.err();
                let code = e.code().unwrap_or("unknown");
                let detail = format!("{code}: {}", e.message().unwrap_or("no message"));
                match refusal_of_code(code) {
                    Some(r) => Answer::Refused(r, detail),
                    None => Answer::Unreachable(detail),
                }
            }
            Err(e) => Answer::Unreachable(error_chain(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Fake {
        creds: Result<(), (Refusal, String)>,
        answers: BTreeMap<&'static str, Answer>,
        asked: Mutex<Vec<String>>,
    }

    fn caller(account: &str) -> Answer {
        Answer::Caller(Caller { account: account.into(), arn: format!("arn:aws:iam::{account}:user/ops") })
    }

    fn fake(answers: &[(&'static str, Answer)]) -> Fake {
        Fake { creds: Ok(()), answers: answers.iter().cloned().collect(), asked: Mutex::new(vec![]) }
    }

    #[async_trait]
    impl IdentityApi for Fake {
        async fn credentials(&self) -> Result<(), (Refusal, String)> {
            self.creds.clone()
        }
        async fn caller(&self, region: &str) -> Answer {
            self.asked.lock().unwrap().push(region.to_string());
            self.answers.get(region).cloned().unwrap_or(Answer::Unreachable("not programmed".into()))
        }
    }

    fn regions() -> Vec<String> {
        vec!["us-east-1".into(), "us-east-2".into()]
    }

    fn acct(s: &str) -> AccountId {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn both_regions_answering_the_same_account_pass_and_name_the_caller() {
        let f = fake(&[("us-east-1", caller("111122223333")), ("us-east-2", caller("111122223333"))]);
        let v = check(&f, &regions(), None).await.unwrap();
        assert_eq!(v.caller.unwrap().arn, "arn:aws:iam::111122223333:user/ops");
        assert!(v.unreachable.is_empty());
        assert_eq!(f.asked.lock().unwrap().len(), 2, "one GetCallerIdentity per region");
    }

    #[tokio::test]
    async fn no_credentials_stop_before_any_aws_call() {
        let mut f = fake(&[("us-east-1", caller("111122223333"))]);
        f.creds = Err((Refusal::NoCredentials, "no providers in chain provided credentials".into()));
        let e = check(&f, &regions(), None).await.unwrap_err();
        assert!(matches!(e, PreflightError::NoCredentials(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("AWS_PROFILE") && text.contains("aws sso login") && text.contains("AWS_ACCESS_KEY_ID"), "{text}");
        assert!(f.asked.lock().unwrap().is_empty(), "no STS call without credentials");
    }

    #[tokio::test]
    async fn expired_invalid_and_denied_are_each_named_with_their_region() {
        for (refusal, says) in [(Refusal::Expired, "have expired"), (Refusal::Invalid, "rejected the credentials"), (Refusal::NoAccess, "may not call")] {
            let f = fake(&[("us-east-1", caller("111122223333")), ("us-east-2", Answer::Refused(refusal, "Code: why".into()))]);
            let e = check(&f, &regions(), None).await.unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("us-east-2") && e.contains("Code: why"), "{e}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_region_is_an_outage_not_a_credential_problem() {
        let f = fake(&[("us-east-1", Answer::Unreachable("timeout".into())), ("us-east-2", caller("111122223333"))]);
        let v = check(&f, &regions(), Some(&Expected::of(Some(&acct("111122223333")), None).unwrap())).await.unwrap();
        assert_eq!(v.caller.unwrap().account, "111122223333");
        assert_eq!(v.unreachable.get("us-east-1").map(String::as_str), Some("timeout"));
    }

    #[tokio::test]
    async fn another_account_is_refused_naming_both_and_the_source() {
        let f = fake(&[("us-east-1", caller("999988887777")), ("us-east-2", caller("999988887777"))]);
        let e = check(&f, &regions(), Expected::of(None, Some(&acct("111122223333"))).as_ref()).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("account 999988887777") && text.contains("expects account 111122223333"), "{text}");
        assert!(text.contains("account_id in the configuration"), "{text}");
        let e = check(&f, &regions(), Expected::of(Some(&acct("111122223333")), Some(&acct("999988887777"))).as_ref()).await.unwrap_err();
        assert!(e.to_string().contains("--expect-account"), "the flag wins over the configuration: {e}");
    }

    #[tokio::test]
    async fn a_required_account_no_region_confirms_is_refused_otherwise_the_run_goes_on() {
        let f = fake(&[]);
        let e = check(&f, &regions(), Expected::of(Some(&acct("111122223333")), None).as_ref()).await.unwrap_err();
        assert!(matches!(e, PreflightError::Unconfirmed { .. }), "{e:?}");
        let v = check(&f, &regions(), None).await.unwrap();
        assert_eq!((v.caller, v.unreachable.len()), (None, 2));
    }

    #[tokio::test]
    async fn regions_answering_different_accounts_are_refused() {
        let f = fake(&[("us-east-1", caller("111122223333")), ("us-east-2", caller("999988887777"))]);
        assert!(matches!(check(&f, &regions(), None).await.unwrap_err(), PreflightError::AccountsDiffer(_)));
    }

    #[test]
    fn sts_codes_map_to_refusals_and_the_rest_to_no_answer() {
        assert_eq!(refusal_of_code("ExpiredToken"), Some(Refusal::Expired));
        assert_eq!(refusal_of_code("InvalidClientTokenId"), Some(Refusal::Invalid));
        assert_eq!(refusal_of_code("SignatureDoesNotMatch"), Some(Refusal::Invalid));
        assert_eq!(refusal_of_code("AccessDenied"), Some(Refusal::NoAccess));
        assert_eq!(refusal_of_code("Throttling"), None);
        assert_eq!(refusal_of_code("InternalFailure"), None);
    }

    #[test]
    fn credential_chain_errors_say_expired_or_missing() {
        let missing = CredentialsError::not_loaded("no providers in chain provided credentials");
        assert_eq!(refusal_of_credentials_error(&missing), Refusal::NoCredentials);
        let sso = CredentialsError::provider_error("the SSO session has expired or is invalid");
        assert_eq!(refusal_of_credentials_error(&sso), Refusal::Expired);
        assert!(error_chain(&sso).contains("SSO session has expired"));
    }
}
