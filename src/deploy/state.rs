//! What state a stack is in before a deployment, and the ways out of the states that block one:
//! a leftover REVIEW_IN_PROGRESS stack or change set, a failed first creation, a failed update
//! rollback, an operation still under way.

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;

use super::events::{self, Failure};
use super::interrupt::Interrupt;
use super::watch::{self, Observer, OnStop, Outcome};
use super::{stacks, DeployError};
use crate::aws::{AwsError, Clients};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// No stack: the deployment creates it.
    Missing,
    /// A create whose change set never ran: removed before a new one.
    Review,
    /// Settled and ready for an update.
    Ready,
    /// Another operation is under way.
    InProgress,
    /// The first creation failed (ROLLBACK_COMPLETE, ROLLBACK_FAILED, CREATE_FAILED): the stack
    /// holds nothing and can only be deleted and created again.
    FailedCreate { failure: Option<Failure> },
    /// UPDATE_ROLLBACK_FAILED: ContinueUpdateRollback, skipping resources that cannot roll back.
    RollbackFailed { failure: Option<Failure> },
    /// DELETE_FAILED: a resource could not be deleted.
    DeleteFailed { failure: Option<Failure> },
}

#[derive(Debug, Clone)]
pub struct Inspection {
    pub stack: Option<Stack>,
    pub state: State,
}

impl Inspection {
    pub fn status(&self) -> Option<&str> {
        self.stack.as_ref().map(stacks::status)
    }

    /// The stack's id (an ARN: still readable after a delete).
    pub fn id(&self) -> Option<&str> {
        self.stack.as_ref().and_then(|s| s.stack_id())
    }

    pub fn termination_protection(&self) -> bool {
        self.stack
            .as_ref()
            .and_then(|s| s.enable_termination_protection())
            .unwrap_or(false)
    }
}

/// Read the stack and classify it; for failed states, the failure that caused them.
pub async fn inspect(clients: &Clients, name: &str) -> Result<Inspection, DeployError> {
    let stack = stacks::describe(clients, name).await?;
    let Some(found) = &stack else {
        return Ok(Inspection {
            stack,
            state: State::Missing,
        });
    };
    let status = stacks::status(found);
    let failure = || async {
        let events = events::last_operation(clients, name).await?;
        events::failure(clients, &events).await
    };
    let state = match status {
        "REVIEW_IN_PROGRESS" => State::Review,
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => State::FailedCreate {
            failure: failure().await?,
        },
        "UPDATE_ROLLBACK_FAILED" => State::RollbackFailed {
            failure: failure().await?,
        },
        "DELETE_FAILED" => State::DeleteFailed {
            failure: failure().await?,
        },
        s if s.ends_with("_IN_PROGRESS") => State::InProgress,
        _ => State::Ready,
    };
    Ok(Inspection { stack, state })
}

/// Change sets rmdeploy made on the stack that were never executed (a plan or apply that was
/// killed): deleted; their names.
pub async fn remove_leftover_change_sets(
    clients: &Clients,
    name: &str,
) -> Result<Vec<String>, DeployError> {
    let found = leftover_change_sets(clients, name).await?;
    delete_change_sets(clients, name, &found).await?;
    Ok(found)
}

/// The names of the change sets rmdeploy made on the stack that were never executed.
pub async fn leftover_change_sets(
    clients: &Clients,
    name: &str,
) -> Result<Vec<String>, DeployError> {
    let mut found = Vec::new();
    let mut pages = clients
        .cfn
        .list_change_sets()
        .stack_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let out = page.map_err(|e| AwsError::call("ListChangeSets", &e))?;
        for summary in out.summaries() {
            let open = !matches!(
                summary.execution_status().map(|e| e.as_str()),
                Some("EXECUTE_COMPLETE" | "EXECUTE_IN_PROGRESS" | "EXECUTE_FAILED" | "OBSOLETE")
            );
            let Some(set) = summary.change_set_name() else {
                continue;
            };
            if open && set.starts_with("rmdeploy-") {
                found.push(set.to_string());
            }
        }
    }
    Ok(found)
}

/// Delete the named change sets of the stack.
pub async fn delete_change_sets(
    clients: &Clients,
    name: &str,
    sets: &[String],
) -> Result<(), DeployError> {
    for set in sets {
        clients
            .cfn
            .delete_change_set()
            .stack_name(name)
            .change_set_name(set)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteChangeSet", &e))?;
    }
    Ok(())
}

/// Remove a leftover REVIEW_IN_PROGRESS stack (a create whose change set never ran) with its
/// change sets, and wait until it is gone, so the next CREATE does not meet it.
pub async fn remove_review(clients: &Clients, name: &str) -> Result<(), DeployError> {
    remove_leftover_change_sets(clients, name).await?;
    clients
        .cfn
        .delete_stack()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| AwsError::call("DeleteStack", &e))?;
    stacks::wait_settled(clients, name).await?;
    Ok(())
}

/// Delete the stack and follow the delete to its end. `retain` names resources to keep (only
/// allowed for a stack in DELETE_FAILED).
pub async fn delete(
    clients: &Clients,
    inspection: &Inspection,
    retain: &[String],
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<Outcome, DeployError> {
    let id = inspection.id().unwrap_or_default().to_string();
    let mark = events::newest(clients, &id).await?;
    clients
        .cfn
        .delete_stack()
        .stack_name(&id)
        .set_retain_resources((!retain.is_empty()).then(|| retain.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::call("DeleteStack", &e))?;
    watch::follow(
        clients,
        &id,
        mark,
        "DELETE_COMPLETE",
        OnStop::Continue,
        observer,
        interrupt,
    )
    .await
}

/// Recover a stack in UPDATE_ROLLBACK_FAILED: ContinueUpdateRollback, skipping `skip` (logical
/// ids of resources that cannot return to their old state), to UPDATE_ROLLBACK_COMPLETE.
pub async fn continue_rollback(
    clients: &Clients,
    name: &str,
    skip: &[String],
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<Outcome, DeployError> {
    let mark = events::newest(clients, name).await?;
    clients
        .cfn
        .continue_update_rollback()
        .stack_name(name)
        .set_resources_to_skip((!skip.is_empty()).then(|| skip.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::call("ContinueUpdateRollback", &e))?;
    watch::follow(
        clients,
        name,
        mark,
        "UPDATE_ROLLBACK_COMPLETE",
        OnStop::Continue,
        observer,
        interrupt,
    )
    .await
}

/// Turn termination protection on or off when it differs from `wanted`; whether it changed.
pub async fn set_termination_protection(
    clients: &Clients,
    stack: &Stack,
    wanted: bool,
) -> Result<bool, DeployError> {
    if stack.enable_termination_protection().unwrap_or(false) == wanted {
        return Ok(false);
    }
    clients
        .cfn
        .update_termination_protection()
        .stack_name(stack.stack_id().or(stack.stack_name()).unwrap_or_default())
        .enable_termination_protection(wanted)
        .send()
        .await
        .map_err(|e| AwsError::call("UpdateTerminationProtection", &e))?;
    Ok(true)
}
