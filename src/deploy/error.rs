//! What can go wrong deploying a stack, beyond a failed AWS call ([`crate::aws::AwsError`]).

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum DeployError {
    /// An AWS call failed, or no credentials were found.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] crate::aws::AwsError),

    #[error("stack {stack} is still {status} {seconds} s after its change set was executed: the execution did not start")]
    #[diagnostic(
        code(rmdeploy::deploy::not_started),
        help("see the stack with `rmdeploy status`; the next `rmdeploy apply` removes the leftover and starts again")
    )]
    NotStarted {
        stack: String,
        status: String,
        seconds: u64,
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
