//! Following a stack operation to its end: every new event goes to an observer as it arrives, a
//! request to stop cancels an update, and a failure is traced to the event that started it.

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;

use super::events::{self, Failure, StackEvent};
use super::interrupt::Interrupt;
use super::poll::Backoff;
use super::{stacks, DeployError};
use crate::aws::{AwsError, Clients};

/// Where progress goes: the command layer shows it (a bar on a terminal, lines otherwise).
pub trait Observer {
    /// A new event of the stack operation being followed.
    fn event(&mut self, event: &StackEvent);
    /// Something the user should know (a warning, a recovery).
    fn note(&mut self, message: &str);
    /// The first failure of an operation that failed.
    fn failure(&mut self, message: &str) {
        self.note(message);
    }
    /// A stage of a workflow begins ("checking the account's quotas").
    fn step(&mut self, _message: &str) {}
    /// A stack operation touching about `total` resources (0: unknown) begins.
    fn begin(&mut self, _total: usize) {}
    /// The stack operation begun last has ended.
    fn end(&mut self) {}
    /// `done` of `total` `what` (nodes of a factory batch) are finished.
    fn tally(&mut self, _done: usize, _total: usize, _what: &str) {}
}

/// An observer that keeps nothing, for callers that only want the outcome.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: &StackEvent) {}
    fn note(&mut self, _: &str) {}
}

/// What a stop request does to the operation under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// CancelUpdateStack: CloudFormation rolls the update back.
    CancelUpdate,
    /// Nothing can stop it (a first creation, a delete, a rollback): keep following it.
    Continue,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub stack: String,
    /// The stack's status at the end.
    pub status: String,
    pub succeeded: bool,
    /// The user asked to stop and the update was cancelled.
    pub cancelled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Events of this operation, oldest first.
    pub events: usize,
    /// The stack as last read, with its final status (outputs, termination protection); `None`
    /// once deleted.
    #[serde(skip)]
    pub described: Option<Stack>,
}

impl Outcome {
    /// `: <the earliest failure>`, or empty: the tail of a message about the operation.
    pub fn cause(&self) -> String {
        self.failure
            .as_ref()
            .map(|f| format!(": {f}"))
            .unwrap_or_default()
    }
}

/// How long a stack may read REVIEW_IN_PROGRESS after ExecuteChangeSet before rmdeploy stops
/// waiting (CloudFormation starts an execution within seconds).
const NOT_STARTED_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

fn in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

/// Follow the operation on `stack` (its id, so a deleted stack can still be read) that began
/// after the event `mark`, until the stack settles. `expected` is the status of success.
///
/// Each poll reads the stack's status first, then the events since the last one seen: once the
/// status is final, that one read of events holds every event up to it. Polls come soon after
/// the start and further apart as the operation goes on ([`Backoff`]).
pub async fn follow(
    clients: &Clients,
    stack: &str,
    mark: Option<String>,
    expected: &str,
    on_stop: OnStop,
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<Outcome, DeployError> {
    let mut mark = mark;
    let mut seen: Vec<StackEvent> = Vec::new();
    let mut stop_handled = false;
    let mut cancelled = false;
    let mut backoff = Backoff::new(clients.poll);
    let started = std::time::Instant::now();
    let (status, described) = loop {
        let described = stacks::describe(clients, stack).await?;
        let status = described
            .as_ref()
            .map(|s| stacks::status(s).to_string())
            .unwrap_or_else(|| "DELETE_COMPLETE".into());
        let new = events::since(clients, stack, mark.as_deref()).await?;
        if let Some(last) = new.last() {
            mark = Some(last.id.clone());
        }
        for e in &new {
            observer.event(e);
        }
        seen.extend(new);
        // Right after ExecuteChangeSet a new stack may still read REVIEW_IN_PROGRESS.
        if !in_progress(&status) && status != "REVIEW_IN_PROGRESS" {
            break (status, described);
        }
        if status == "REVIEW_IN_PROGRESS" && started.elapsed() > NOT_STARTED_AFTER {
            return Err(DeployError::NotStarted {
                stack: stack.to_string(),
                status,
                seconds: started.elapsed().as_secs(),
            });
        }
        if interrupt.requested() && !stop_handled {
            stop_handled = true;
            match on_stop {
                OnStop::CancelUpdate if status == "UPDATE_IN_PROGRESS" => {
                    clients
                        .cfn
                        .cancel_update_stack()
                        .stack_name(stack)
                        .send()
                        .await
                        .map_err(|e| AwsError::call("CancelUpdateStack", &e))?;
                    cancelled = true;
                    observer.note("cancelling the update: CloudFormation rolls the stack back to where it was (Ctrl-C again to leave at once)");
                }
                _ => observer.note(&format!(
                    "the stack is {status}, which CloudFormation cannot cancel: following it to its end (Ctrl-C again to leave at once)"
                )),
            }
        }
        tokio::select! {
            _ = backoff.wait() => {}
            _ = interrupt.next(), if !stop_handled => {}
        }
    };
    let succeeded = status == expected;
    let failure = if succeeded {
        None
    } else {
        events::failure(clients, &seen).await?
    };
    Ok(Outcome {
        stack: stack.to_string(),
        succeeded,
        cancelled,
        failure,
        events: seen.len(),
        status,
        described,
    })
}
