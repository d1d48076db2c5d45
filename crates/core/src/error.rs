//! Typed errors of the engine and of components.
//!
//! Every AWS failure is carried as an [`AwsError`] (code, message, HTTP status, and a
//! classification used by retries and by "NotFound on delete is success"). Components wrap
//! it in a [`ComponentError`] that names the component, the resource and the region.

use std::fmt;

/// How an AWS error should be treated by callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AwsErrorKind {
    /// Throttling: retry with backoff.
    Throttling,
    /// 5xx, timeouts, connection failures: retry with backoff.
    Transient,
    /// The resource does not exist (any service's NotFound / NoSuch* code).
    NotFound,
    /// Anything else: surfaced to the user.
    Other,
}

/// An error returned by an AWS API, reduced to what callers need.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
    pub kind: AwsErrorKind,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "{} (HTTP {}): {}", self.code, s, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
    "LimitExceededException",
];

impl AwsError {
    /// Builds an error from a code and message, classifying it by code and status.
    pub fn new(code: impl Into<String>, message: impl Into<String>, status: Option<u16>) -> Self {
        let code = code.into();
        let kind = classify(&code, status);
        Self { code, message: message.into(), status, kind }
    }

    /// A throttling error (for tests and fakes).
    pub fn throttling() -> Self {
        Self::new("ThrottlingException", "Rate exceeded", Some(400))
    }

    /// A NotFound error with a service-specific code (for tests and fakes).
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(code, message, Some(404));
        e.kind = AwsErrorKind::NotFound;
        e
    }

    /// An error that is neither retryable nor NotFound.
    pub fn other(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(code, message, Some(400));
        e.kind = AwsErrorKind::Other;
        e
    }

    /// Converts any aws-sdk error, keeping its code, message and HTTP status.
    pub fn from_sdk<E, R>(err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug + HttpStatus,
    {
        use aws_smithy_runtime_api::client::result::SdkError;
        match &err {
            SdkError::ServiceError(se) => {
                let status = se.raw().status_code();
                let e = se.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let message = e.message().map(str::to_string).unwrap_or_else(|| format!("{e}"));
                Self::new(code, message, status)
            }
            SdkError::TimeoutError(_) => {
                let mut e = Self::new("Timeout", format!("{}", DisplayChain(&err)), None);
                e.kind = AwsErrorKind::Transient;
                e
            }
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
                let mut e = Self::new("DispatchFailure", format!("{}", DisplayChain(&err)), None);
                e.kind = AwsErrorKind::Transient;
                e
            }
            _ => Self::new("SdkError", format!("{}", DisplayChain(&err)), None),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Throttling | AwsErrorKind::Transient)
    }

    /// An "it already exists" answer to a create (`EntityAlreadyExists`,
    /// `InvalidGroup.Duplicate`, `RouteAlreadyExists`, `ResourceConflictException`,
    /// `BucketAlreadyOwnedByYou`, ...). After a lost answer, the resource this stack asked
    /// for may be the one that exists: look it up before anything else.
    pub fn is_conflict(&self) -> bool {
        let c = self.code.as_str();
        c.contains("AlreadyExist")
            || c.contains("Duplicate")
            || c.contains("Conflict")
            || c.contains("AlreadyOwnedByYou")
            || c == "ResourceInUseException"
    }

    /// True when a create that failed this way may nevertheless have happened (the answer
    /// was lost: timeout, connection reset, 5xx after sending; or AWS says it exists), or
    /// may succeed if tried again (throttling). Such a create is never re-sent blindly.
    pub fn is_ambiguous(&self) -> bool {
        self.is_retryable() || self.is_conflict()
    }

    /// True when the error code is `code` (exact match).
    pub fn is_code(&self, code: &str) -> bool {
        self.code == code
    }
}

/// Access to an HTTP status on the raw response type of an [`SdkError`].
pub trait HttpStatus {
    fn status_code(&self) -> Option<u16>;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

fn classify(code: &str, status: Option<u16>) -> AwsErrorKind {
    if THROTTLING_CODES.contains(&code) {
        return AwsErrorKind::Throttling;
    }
    if code.contains("NotFound") || code.starts_with("NoSuch") || code.ends_with("NotFoundFault") {
        return AwsErrorKind::NotFound;
    }
    if matches!(code, "InternalError" | "InternalFailure" | "ServiceUnavailable" | "InternalServerError" | "InternalServiceError") {
        return AwsErrorKind::Transient;
    }
    match status {
        Some(s) if s >= 500 => AwsErrorKind::Transient,
        Some(429) => AwsErrorKind::Throttling,
        _ => AwsErrorKind::Other,
    }
}

struct DisplayChain<'a>(&'a dyn std::error::Error);

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut src = self.0.source();
        while let Some(s) = src {
            write!(f, ": {s}")?;
            src = s.source();
        }
        Ok(())
    }
}

/// A component's failure: which component, which resource, which region, and why.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    #[error("{resource} in {region}: {source}")]
    Aws {
        resource: String,
        region: String,
        #[source]
        source: AwsError,
    },
    #[error("{resource} in {region}: timed out after {waited_secs}s waiting for {waiting_for}")]
    Timeout { resource: String, region: String, waiting_for: String, waited_secs: u64 },
    #[error("missing input: {0}")]
    MissingInput(String),
    #[error("{resource} in {region}: {message}")]
    Invalid { resource: String, region: String, message: String },
    #[error("state journal: {0}")]
    Journal(String),
    #[error("interrupted")]
    Interrupted,
}

impl ComponentError {
    pub fn aws(resource: impl Into<String>, region: impl Into<String>, source: AwsError) -> Self {
        Self::Aws { resource: resource.into(), region: region.into(), source }
    }

    pub fn invalid(resource: impl Into<String>, region: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { resource: resource.into(), region: region.into(), message: message.into() }
    }

    /// The AWS error behind this failure, if any.
    pub fn aws_error(&self) -> Option<&AwsError> {
        match self {
            Self::Aws { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Helper to attach resource and region to an AWS result.
pub trait AwsResultExt<T> {
    fn at(self, resource: &str, region: &str) -> Result<T, ComponentError>;
}

impl<T> AwsResultExt<T> for Result<T, AwsError> {
    fn at(self, resource: &str, region: &str) -> Result<T, ComponentError> {
        self.map_err(|e| ComponentError::aws(resource, region, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert_eq!(AwsError::new("InvalidVpcID.NotFound", "x", Some(400)).kind, AwsErrorKind::NotFound);
        assert_eq!(AwsError::new("NoSuchBucket", "x", Some(404)).kind, AwsErrorKind::NotFound);
        assert_eq!(AwsError::new("DBClusterNotFoundFault", "x", Some(404)).kind, AwsErrorKind::NotFound);
        assert_eq!(AwsError::new("Throttling", "x", Some(400)).kind, AwsErrorKind::Throttling);
        assert_eq!(AwsError::new("Whatever", "x", Some(503)).kind, AwsErrorKind::Transient);
        assert_eq!(AwsError::new("InvalidParameterValue", "x", Some(400)).kind, AwsErrorKind::Other);
    }

    #[test]
    fn conflicts_and_ambiguity() {
        for code in ["EntityAlreadyExists", "InvalidGroup.Duplicate", "RouteAlreadyExists", "InvalidPermission.Duplicate", "ResourceConflictException", "BucketAlreadyOwnedByYou", "DBClusterAlreadyExistsFault", "ResourceInUseException"] {
            let e = AwsError::new(code, "x", Some(400));
            assert!(e.is_conflict() && e.is_ambiguous(), "{code}");
        }
        assert!(AwsError::new("Whatever", "x", Some(503)).is_ambiguous());
        assert!(!AwsError::new("ValidationError", "x", Some(400)).is_ambiguous());
        assert!(!AwsError::not_found("NoSuchEntity", "x").is_ambiguous());
    }

    #[test]
    fn component_error_names_resource_and_region() {
        let e = ComponentError::aws("vpc-primary-dev", "us-east-1", AwsError::other("UnauthorizedOperation", "denied"));
        let s = e.to_string();
        assert!(s.contains("vpc-primary-dev") && s.contains("us-east-1") && s.contains("UnauthorizedOperation"), "{s}");
    }
}
