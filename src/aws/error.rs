//! The one error type of AWS calls: what failed, the service's code and message, and what to do.

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum AwsError {
    #[error("no AWS credentials: {reason}")]
    #[diagnostic(
        code(rmdeploy::aws::credentials),
        help("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with --aws-profile (or AWS_PROFILE) from ~/.aws/config, or run where an instance or SSO role is available")
    )]
    NoCredentials { reason: String },

    #[error("{operation} failed: {message}")]
    #[diagnostic(code(rmdeploy::aws::call))]
    Call {
        operation: String,
        message: String,
        #[help]
        help: Option<String>,
    },
}

impl AwsError {
    /// An AWS call failed: keep the service's code and message, and say what to do where we can.
    pub fn call<E>(operation: &str, err: &E) -> Self
    where
        E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata,
    {
        let message = match (err.code(), err.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_string(),
            _ => super::describe(err),
        };
        Self::message(operation, message)
    }

    /// A request to AWS could not even be built (a missing required field): its text.
    pub fn build<E: std::error::Error>(operation: &str, err: &E) -> Self {
        Self::message(operation, super::describe(err))
    }

    pub(crate) fn message(operation: &str, message: String) -> Self {
        let help = if message.contains("AccessDenied") || message.contains("not authorized") {
            Some(format!("the credentials in use lack the IAM permission for {operation}; grant it or use another --aws-profile"))
        } else if message.contains("ExpiredToken") || message.contains("InvalidClientTokenId") {
            Some("the credentials are expired or invalid: refresh them (for example `aws sso login`)".to_string())
        } else if unreachable(&message) {
            Some("the AWS endpoint could not be reached: check the network, the region and --endpoint-url".to_string())
        } else if message.contains("error parsing XML")
            || message.contains("has not been implemented")
            || message.contains("InvalidAction")
        {
            Some(format!("the endpoint does not implement {operation}: local emulators lack some operations; against AWS this works"))
        } else if transient(&message) {
            Some(format!(
                "AWS kept failing or throttling this call through {} attempts: run the command again later (it starts from what is already done), or allow more attempts with AWS_MAX_ATTEMPTS",
                crate::settings::Settings::get().max_attempts
            ))
        } else {
            None
        };
        AwsError::Call {
            operation: operation.to_string(),
            message,
            help,
        }
    }
}

/// The endpoint could not be reached at all (no answer to the connection).
fn unreachable(message: &str) -> bool {
    let m = message.to_lowercase();
    [
        "error trying to connect",
        "connection refused",
        "tcp connect error",
        "dns error",
        "failed to lookup address",
    ]
    .iter()
    .any(|t| m.contains(t))
}

/// Errors that retrying later may cure: throttling, server errors, timeouts, lost connections.
fn transient(message: &str) -> bool {
    [
        "Throttl",
        "SlowDown",
        "TooManyRequests",
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "timeout",
        "timed out",
        "dispatch failure",
        "connection closed",
        "response error",
    ]
    .iter()
    .any(|t| message.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help_of(message: &str) -> String {
        match AwsError::message("DescribeStacks", message.to_string()) {
            AwsError::Call { help, .. } => help.unwrap_or_default(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn helps_say_what_to_do_for_each_kind_of_failure() {
        let cases = [
            (
                "dispatch failure: io error: tcp connect error: Connection refused (os error 111)",
                "could not be reached",
            ),
            (
                "dispatch failure: io error: dns error: failed to lookup address information",
                "could not be reached",
            ),
            ("ThrottlingException: Rate exceeded", "AWS_MAX_ATTEMPTS"),
            (
                "dispatch failure: timeout: HTTP read timeout occurred after 3s",
                "AWS_MAX_ATTEMPTS",
            ),
            (
                "AccessDenied: User is not authorized",
                "IAM permission for DescribeStacks",
            ),
            (
                "ExpiredToken: The security token included in the request is expired",
                "refresh them",
            ),
        ];
        for (message, wanted) in cases {
            assert!(
                help_of(message).contains(wanted),
                "{message}: {}",
                help_of(message)
            );
        }
        assert_eq!(
            help_of("ValidationError: Stack with id x does not exist"),
            ""
        );
    }
}
