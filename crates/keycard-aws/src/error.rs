//! SDK errors → one domain error with a classification the state machine can act on.
//!
//! Step Functions retries on error *names*, so what matters about an AWS failure is not its
//! exact type but whether trying again later can help: throttling and server-side failures
//! can, a missing stack or a denied permission cannot. Every adapter in this crate returns
//! [`AwsError`]; the Lambda edge turns its [`ErrorKind`] into a stable error name.

use std::fmt;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What kind of failure an AWS call ended in, as far as a caller's next move is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The service asked us to slow down (Throttling, TooManyRequests, SlowDown, …).
    Throttling,
    /// A network failure, a timeout or a 5xx: the same request may succeed later.
    Transient,
    /// A service quota was hit (Access Analyzer: one running policy generation per account,
    /// 50 per day). Waiting may help for the first, not for the second.
    QuotaExceeded,
    /// The thing asked for does not exist (stack, role, object, job).
    NotFound,
    /// Missing permission, or credentials that were rejected.
    AccessDenied,
    /// The request itself was wrong (validation errors, bad parameters).
    InvalidRequest,
    /// The request conflicts with the resource's state (e.g. drift detection already running).
    Conflict,
    /// The response was not what the API documents (missing required fields, bad encoding).
    Malformed,
    /// Anything else the service reported.
    Other,
}

impl ErrorKind {
    /// Whether the same call may succeed if simply tried again after a pause.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Throttling | ErrorKind::Transient)
    }
}

/// A failed AWS call: which service and operation, what kind of failure, and what AWS said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The AWS error code (`ThrottlingException`, `NoSuchKey`, …) when the service sent one.
    pub code: Option<String>,
    /// The HTTP status, when a response was received.
    pub status: Option<u16>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed", self.service, self.operation)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl AwsError {
    /// An error built by an adapter itself (a response missing a documented field, a body that
    /// is not UTF-8, …).
    pub fn malformed(
        service: &'static str,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            service,
            operation,
            kind: ErrorKind::Malformed,
            code: None,
            status: None,
            message: message.into(),
        }
    }

    /// Maps any SDK error. Service errors are classified by their code (and HTTP status when
    /// the code is unknown); failures before a response (timeouts, connection errors) and
    /// unparseable responses are transient; a request the SDK could not even build is not.
    pub fn from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let message = DisplayErrorContext(&err).to_string();
        let (kind, code, status) = match &err {
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                let code = ctx.err().code().map(str::to_owned);
                (classify(code.as_deref(), Some(status)), code, Some(status))
            }
            SdkError::ConstructionFailure(_) => (ErrorKind::InvalidRequest, None, None),
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                (ErrorKind::Transient, None, None)
            }
            SdkError::ResponseError(ctx) => {
                let status = ctx.raw().status().as_u16();
                (classify(None, Some(status)), None, Some(status))
            }
            _ => (ErrorKind::Other, None, None),
        };
        // Prefer the service's own message: DisplayErrorContext repeats the whole chain.
        let message = match &err {
            SdkError::ServiceError(ctx) => {
                ctx.err().message().map(str::to_owned).unwrap_or(message)
            }
            _ => message,
        };
        AwsError {
            service,
            operation,
            kind,
            code,
            status,
            message,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

/// Classifies an AWS error code, falling back to the HTTP status. The code lists are the codes
/// the SDKs' standard retry strategy treats as throttling/transient, plus the not-found and
/// access codes of the services keycard calls.
pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    if let Some(code) = code {
        match code {
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "LimitExceededException"
            | "RequestThrottled"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException" => return ErrorKind::Throttling,
            "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalError"
            | "InternalFailure"
            | "InternalServerError"
            | "InternalServerException"
            | "InternalServiceError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "ServiceFailure"
            | "ServiceFailureException"
            | "IDPCommunicationError" => return ErrorKind::Transient,
            "ServiceQuotaExceededException" | "ServiceQuotaExceeded" => {
                return ErrorKind::QuotaExceeded;
            }
            "NoSuchKey"
            | "NoSuchBucket"
            | "NotFound"
            | "NoSuchEntity"
            | "NoSuchEntityException"
            | "ResourceNotFoundException"
            | "StackNotFoundException"
            // CloudTrail: GetEventSelectors / GetTrailStatus of a trail that does not exist
            // (an HTTP 400, so the status alone would read as a bad request).
            | "TrailNotFoundException" => {
                return ErrorKind::NotFound;
            }
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch" => return ErrorKind::AccessDenied,
            "ValidationError"
            | "ValidationException"
            | "InvalidInput"
            | "InvalidInputException"
            | "InvalidParameterValue"
            | "InvalidParameterException"
            | "MalformedPolicyDocument"
            | "InvalidRequest" => return ErrorKind::InvalidRequest,
            "ConflictException" | "OperationInProgressException" => return ErrorKind::Conflict,
            _ => {}
        }
    }
    match status {
        Some(429) => ErrorKind::Throttling,
        Some(500..=599) => ErrorKind::Transient,
        Some(404) => ErrorKind::NotFound,
        Some(401 | 403) => ErrorKind::AccessDenied,
        Some(400) => ErrorKind::InvalidRequest,
        Some(409) => ErrorKind::Conflict,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_classified() {
        let cases: &[(Option<&str>, Option<u16>, ErrorKind)] = &[
            (
                Some("ThrottlingException"),
                Some(400),
                ErrorKind::Throttling,
            ),
            (Some("Throttling"), Some(400), ErrorKind::Throttling),
            (Some("SlowDown"), Some(503), ErrorKind::Throttling),
            (
                Some("TooManyRequestsException"),
                Some(429),
                ErrorKind::Throttling,
            ),
            (
                Some("InternalServerException"),
                Some(500),
                ErrorKind::Transient,
            ),
            (Some("ServiceUnavailable"), Some(503), ErrorKind::Transient),
            (
                Some("ServiceQuotaExceededException"),
                Some(402),
                ErrorKind::QuotaExceeded,
            ),
            (Some("NoSuchKey"), Some(404), ErrorKind::NotFound),
            (Some("NoSuchEntity"), Some(404), ErrorKind::NotFound),
            (
                Some("TrailNotFoundException"),
                Some(400),
                ErrorKind::NotFound,
            ),
            (
                Some("ResourceNotFoundException"),
                Some(404),
                ErrorKind::NotFound,
            ),
            (
                Some("AccessDeniedException"),
                Some(403),
                ErrorKind::AccessDenied,
            ),
            (
                Some("ValidationError"),
                Some(400),
                ErrorKind::InvalidRequest,
            ),
            (
                Some("ValidationException"),
                Some(400),
                ErrorKind::InvalidRequest,
            ),
            (Some("ConflictException"), Some(409), ErrorKind::Conflict),
            (Some("SomethingNew"), Some(502), ErrorKind::Transient),
            (Some("SomethingNew"), Some(400), ErrorKind::InvalidRequest),
            (None, Some(429), ErrorKind::Throttling),
            (None, Some(500), ErrorKind::Transient),
            (None, Some(404), ErrorKind::NotFound),
            (None, Some(403), ErrorKind::AccessDenied),
            (None, None, ErrorKind::Other),
        ];
        for (code, status, want) in cases {
            assert_eq!(classify(*code, *status), *want, "{code:?} {status:?}");
        }
    }

    #[test]
    fn only_throttling_and_transient_are_retryable() {
        let retryable: Vec<ErrorKind> = [
            ErrorKind::Throttling,
            ErrorKind::Transient,
            ErrorKind::QuotaExceeded,
            ErrorKind::NotFound,
            ErrorKind::AccessDenied,
            ErrorKind::InvalidRequest,
            ErrorKind::Conflict,
            ErrorKind::Malformed,
            ErrorKind::Other,
        ]
        .into_iter()
        .filter(|k| k.is_transient())
        .collect();
        assert_eq!(retryable, vec![ErrorKind::Throttling, ErrorKind::Transient]);
    }

    #[test]
    fn display_names_service_operation_and_code() {
        let e = AwsError {
            service: "accessanalyzer",
            operation: "StartPolicyGeneration",
            kind: ErrorKind::QuotaExceeded,
            code: Some("ServiceQuotaExceededException".into()),
            status: Some(402),
            message: "policy generation limit reached".into(),
        };
        assert_eq!(
            e.to_string(),
            "accessanalyzer StartPolicyGeneration failed (ServiceQuotaExceededException): policy generation limit reached"
        );
    }
}
