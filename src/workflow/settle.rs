//! Bringing a stack into a state a change set can be made on: wait for an operation under way,
//! remove leftovers, recover failed states (with consent).

use crate::aws::Clients;
use crate::deploy::interrupt::Interrupt;
use crate::deploy::state::{self, Inspection, State};
use crate::deploy::watch::Outcome;
use crate::deploy::{stacks, DeployError};

use super::{Answer, Observer, Prompter};

/// What recovery may do without asking, and how.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// Recover without asking (`--yes`).
    pub yes: bool,
    /// Refuse instead of waiting for an operation under way.
    pub no_wait: bool,
    /// Resources a continued rollback skips.
    pub skip_resources: Vec<String>,
}

/// The stack as [`settle`] first finds it, read without changing anything (so it may be read
/// while other things are under way): its state and, when it is ready for an update, the change
/// sets earlier runs left on it.
#[derive(Debug)]
pub struct Found {
    pub inspection: Inspection,
    leftovers: Vec<String>,
}

impl Found {
    pub async fn read(clients: &Clients, stack: &str) -> Result<Found, DeployError> {
        let inspection = state::inspect(clients, stack).await?;
        let leftovers = match inspection.state {
            State::Ready => state::leftover_change_sets(clients, stack).await?,
            _ => Vec::new(),
        };
        Ok(Found {
            inspection,
            leftovers,
        })
    }
}

/// Settle `stack`, starting from how it was `found` (read here when `None`); what was done, as
/// notes.
pub async fn settle(
    clients: &Clients,
    stack: &str,
    found: Option<Found>,
    recovery: &Recovery,
    ui: &mut (impl Observer + Prompter),
    interrupt: &Interrupt,
) -> Result<(Inspection, Vec<String>), DeployError> {
    let mut done = Vec::new();
    let mut found = found;
    loop {
        let Found {
            inspection,
            leftovers,
        } = match found.take() {
            Some(f) => f,
            None => Found::read(clients, stack).await?,
        };
        let status = inspection.status().unwrap_or_default().to_string();
        let cause = |failure: &Option<crate::deploy::events::Failure>| {
            failure
                .as_ref()
                .map(|f| format!(": {f}"))
                .unwrap_or_default()
        };
        match &inspection.state {
            State::Missing => return Ok((inspection, done)),
            State::Ready => {
                state::delete_change_sets(clients, stack, &leftovers).await?;
                for set in leftovers {
                    done.push(format!("deleted the change set {set} an earlier run left"));
                }
                return Ok((inspection, done));
            }
            State::InProgress => {
                if recovery.no_wait {
                    return Err(DeployError::StackState {
                        stack: stack.into(),
                        status,
                        explanation: "another operation is under way".into(),
                        help: Some("wait for it to end (`rmdeploy status`), or run apply without --no-wait to wait for it".into()),
                    });
                }
                ui.step(&format!(
                    "stack {stack} is {status}: waiting for that operation to end"
                ));
                stacks::wait_settled(clients, stack).await?;
            }
            State::Review => {
                ui.step(&format!("stack {stack} is a leftover REVIEW_IN_PROGRESS (a create that never ran): removing it"));
                state::remove_review(clients, stack).await?;
                done.push("removed a leftover REVIEW_IN_PROGRESS stack".into());
            }
            State::FailedCreate { failure } => {
                let cause = cause(failure);
                let question =
                    format!("Stack {stack} is {status}{cause}. Delete it and create it again?");
                if !consent(recovery, ui, &question, interrupt).await {
                    return Err(DeployError::StackState {
                        stack: stack.into(),
                        status,
                        explanation: format!("its first creation failed and was rolled back, so it holds nothing and cannot be updated{cause}"),
                        help: Some("fix the cause, then run `rmdeploy apply --yes` to delete the stack and create it again".into()),
                    });
                }
                ui.step(&format!(
                    "stack {stack} is {status}{cause}\ndeleting it to create it again"
                ));
                ui.begin(0);
                let outcome = state::delete(clients, &inspection, &[], ui, interrupt).await;
                ui.end();
                let outcome = outcome?;
                if !outcome.succeeded {
                    return Err(failed_recovery("deletion", stack, &outcome, None));
                }
                done.push(format!(
                    "deleted the stack left {status} by a failed creation"
                ));
            }
            State::RollbackFailed { failure } => {
                let cause = cause(failure);
                let question = format!(
                    "Stack {stack} is UPDATE_ROLLBACK_FAILED{cause}. Continue the rollback?"
                );
                if !consent(recovery, ui, &question, interrupt).await {
                    return Err(DeployError::StackState {
                        stack: stack.into(),
                        status,
                        explanation: format!("an update failed and so did its rollback{cause}"),
                        help: Some(rollback_help(
                            failure.as_ref().map(|f| f.logical_id.as_str()),
                        )),
                    });
                }
                ui.step(&format!("continuing the rollback of {stack}"));
                ui.begin(0);
                let outcome = state::continue_rollback(
                    clients,
                    stack,
                    &recovery.skip_resources,
                    ui,
                    interrupt,
                )
                .await;
                ui.end();
                let outcome = outcome?;
                if !outcome.succeeded {
                    let help =
                        rollback_help(outcome.failure.as_ref().map(|f| f.logical_id.as_str()));
                    return Err(failed_recovery("rollback", stack, &outcome, Some(help)));
                }
                done.push(format!(
                    "continued the failed rollback{}",
                    if recovery.skip_resources.is_empty() {
                        String::new()
                    } else {
                        format!(", skipping {}", recovery.skip_resources.join(", "))
                    }
                ));
            }
            State::DeleteFailed { failure } => {
                return Err(DeployError::StackState {
                    stack: stack.into(),
                    status,
                    explanation: format!("a delete failed{}", cause(failure)),
                    help: Some("finish the delete with `rmdeploy destroy` (with `--retain <LogicalId>` for a resource that cannot be deleted), then apply again".into()),
                });
            }
        }
        if interrupt.requested() {
            return Ok((state::inspect(clients, stack).await?, done));
        }
    }
}

fn rollback_help(resource: Option<&str>) -> String {
    let example = resource.unwrap_or("<LogicalId>");
    format!("fix what stops the rollback, or skip the resource that cannot roll back: `rmdeploy apply --yes --skip-resource {example}` (the skipped resource is then out of step with the template until the next update)")
}

fn failed_recovery(
    what: &str,
    stack: &str,
    outcome: &Outcome,
    help: Option<String>,
) -> DeployError {
    DeployError::OperationFailed {
        operation: what.into(),
        stack: stack.into(),
        status: outcome.status.clone(),
        cause: outcome.cause(),
        help,
    }
}

/// `--yes`, or a yes from the prompter.
async fn consent(
    recovery: &Recovery,
    prompter: &mut impl Prompter,
    question: &str,
    interrupt: &Interrupt,
) -> bool {
    recovery.yes || prompter.confirm(question, interrupt).await == Answer::Yes
}
