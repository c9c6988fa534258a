use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum DeployError {
    #[error("no AWS credentials: {reason}")]
    #[diagnostic(
        code(rmdeploy::aws::credentials),
        help("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a profile with --aws-profile (or AWS_PROFILE) from ~/.aws/config, or run where an instance or SSO role is available")
    )]
    NoCredentials { reason: String },

    #[error("{operation} failed: {message}")]
    #[diagnostic(code(rmdeploy::aws::call))]
    Aws {
        operation: String,
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("change set {name} of stack {stack} failed: {reason}")]
    #[diagnostic(
        code(rmdeploy::deploy::changeset),
        help("the reason comes from CloudFormation; fix the template or profile and run again (the failed change set was deleted)")
    )]
    ChangeSetFailed {
        stack: String,
        name: String,
        reason: String,
    },

    #[error("{operation} of stack {stack} failed, it is now {status}{cause}")]
    #[diagnostic(code(rmdeploy::deploy::failed))]
    OperationFailed {
        operation: String,
        stack: String,
        status: String,
        /// `: <the earliest failure>` or empty.
        cause: String,
        #[help]
        help: Option<String>,
    },

    #[error("stack {stack} is {status}: {explanation}")]
    #[diagnostic(code(rmdeploy::deploy::state))]
    StackState {
        stack: String,
        status: String,
        explanation: String,
        #[help]
        help: Option<String>,
    },
}

impl DeployError {
    /// An AWS call failed: keep the service's code and message, and say what to do where we can.
    pub fn aws<E: std::error::Error>(operation: &str, err: &E) -> Self {
        let message = crate::aws::describe(err);
        let help = if message.contains("AccessDenied") || message.contains("not authorized") {
            Some(format!("the credentials in use lack the IAM permission for {operation}; grant it or use another --aws-profile"))
        } else if message.contains("ExpiredToken") || message.contains("InvalidClientTokenId") {
            Some("the credentials are expired or invalid: refresh them (for example `aws sso login`)".to_string())
        } else if message.contains("dispatch failure")
            || message.contains("error trying to connect")
        {
            Some("the AWS endpoint could not be reached: check the network, the region and --endpoint-url".to_string())
        } else if message.contains("error parsing XML")
            || message.contains("has not been implemented")
            || message.contains("InvalidAction")
        {
            Some(format!("the endpoint does not implement {operation}: local emulators lack some operations; against AWS this works"))
        } else {
            None
        };
        DeployError::Aws {
            operation: operation.to_string(),
            message,
            help,
        }
    }
}
