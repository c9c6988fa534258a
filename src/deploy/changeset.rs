//! Change sets: what CloudFormation would do, read in full, then executed or discarded. An empty
//! change set is "no changes", never an error, and no change set is left behind by a plan.

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};
use serde::Serialize;

use super::interrupt::Interrupt;
use super::watch::{self, Observer, OnStop, Outcome};
use super::{events, stacks, DeployError};
use crate::aws::{AwsError, Clients};

/// Where CloudFormation reads the template from.
#[derive(Debug, Clone)]
pub enum TemplateSource {
    Body(String),
    /// An S3 URL, for templates over 51,200 bytes.
    Url(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// No stack yet: the change set creates it.
    Create,
    Update,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub stack: String,
    pub template: TemplateSource,
    pub parameters: Vec<(String, String)>,
    pub kind: Kind,
    pub description: String,
}

/// One resource change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedChange {
    /// `Add`, `Modify`, `Remove`, `Import` or `Dynamic`.
    pub action: String,
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// For `Modify`: `True`, `False` or `Conditional`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// Changed properties (and other scopes such as tags), sorted.
    pub changed: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub stack: String,
    /// The change set's ARN once CloudFormation gave it, else its name: calls name exactly the
    /// change set this run made.
    pub name: String,
    /// The stack's ARN from CloudFormation's answer (followed on execution), when known.
    pub stack_id: Option<String>,
    pub kind: Kind,
    /// Empty: nothing would change (the change set is already deleted then).
    pub changes: Vec<PlannedChange>,
}

fn is_empty_reason(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// Create a change set, wait for it, and read every page of it. A change set with no changes,
/// or one that failed, is deleted before returning (with the REVIEW_IN_PROGRESS stack a failed
/// CREATE leaves).
pub async fn create(clients: &Clients, req: &Request) -> Result<ChangeSet, DeployError> {
    let name = format!(
        "rmdeploy-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    );
    let parameters: Vec<Parameter> = req
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let mut call = clients
        .cfn
        .create_change_set()
        .stack_name(&req.stack)
        .change_set_name(&name)
        .description(&req.description)
        .change_set_type(match req.kind {
            Kind::Create => ChangeSetType::Create,
            Kind::Update => ChangeSetType::Update,
        })
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam);
    call = match &req.template {
        TemplateSource::Body(body) => call.template_body(body),
        TemplateSource::Url(url) => call.template_url(url),
    };
    // The name doubles as the idempotency token: a retry of a call CloudFormation carried out
    // but whose answer was lost makes no second change set.
    let (id, stack_id) = match call.client_token(&name).send().await {
        Ok(out) => (
            out.id().map(str::to_string),
            out.stack_id().map(str::to_string),
        ),
        // The name is this run's own: the first attempt went through.
        Err(e) if e.code() == Some("AlreadyExistsException") => (None, None),
        Err(e) => return Err(AwsError::call("CreateChangeSet", &e).into()),
    };

    let mut set = ChangeSet {
        stack: req.stack.clone(),
        name: id.unwrap_or(name),
        stack_id,
        kind: req.kind,
        changes: Vec::new(),
    };
    let name = set.name.clone();
    // Poll the first page until the change set is made, then read the rest of its pages.
    let mut backoff = super::poll::Backoff::new(clients.poll);
    loop {
        let mut pages = clients
            .cfn
            .describe_change_set()
            .stack_name(&req.stack)
            .change_set_name(&name)
            .into_paginator()
            .send();
        let Some(first) = pages.next().await else {
            break;
        };
        let out = first.map_err(|e| AwsError::call("DescribeChangeSet", &e))?;
        match out.status() {
            Some(ChangeSetStatus::CreatePending) | Some(ChangeSetStatus::CreateInProgress) => {
                backoff.wait().await;
                continue;
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = out.status_reason().unwrap_or("no reason given").to_string();
                discard(clients, &set).await?;
                if is_empty_reason(&reason) {
                    return Ok(set);
                }
                return Err(DeployError::ChangeSetFailed {
                    stack: req.stack.clone(),
                    name,
                    reason,
                });
            }
            _ => {}
        }
        set.changes.extend(out.changes().iter().filter_map(planned));
        while let Some(page) = pages.next().await {
            let out = page.map_err(|e| AwsError::call("DescribeChangeSet", &e))?;
            set.changes.extend(out.changes().iter().filter_map(planned));
        }
        break;
    }
    if set.changes.is_empty() {
        discard(clients, &set).await?;
    }
    Ok(set)
}

fn planned(change: &aws_sdk_cloudformation::types::Change) -> Option<PlannedChange> {
    let rc = change.resource_change()?;
    let mut changed: Vec<String> = rc
        .details()
        .iter()
        .filter_map(|d| {
            let target = d.target()?;
            Some(match target.name() {
                Some(name) => name.to_string(),
                None => target
                    .attribute()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
            })
        })
        .filter(|s| !s.is_empty())
        .collect();
    changed.sort();
    changed.dedup();
    Some(PlannedChange {
        action: rc
            .action()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
        logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
        resource_type: rc.resource_type().unwrap_or_default().to_string(),
        replacement: rc.replacement().map(|r| r.as_str().to_string()),
        changed,
    })
}

/// Delete a change set that will not be executed; for a CREATE, also the empty
/// REVIEW_IN_PROGRESS stack that holds it.
pub async fn discard(clients: &Clients, set: &ChangeSet) -> Result<(), DeployError> {
    let deleted = clients
        .cfn
        .delete_change_set()
        .stack_name(&set.stack)
        .change_set_name(&set.name)
        .send()
        .await;
    match deleted {
        Ok(_) => {}
        // Gone already: a retry after a lost answer to the call that deleted it.
        Err(e) if e.code() == Some("ChangeSetNotFound") => {}
        Err(e) => return Err(AwsError::call("DeleteChangeSet", &e).into()),
    }
    if set.kind == Kind::Create {
        clients
            .cfn
            .delete_stack()
            .stack_name(&set.stack)
            .send()
            .await
            .map_err(|e| AwsError::call("DeleteStack", &e))?;
    }
    Ok(())
}

/// Execute the change set and follow the stack to its end; a stop request cancels an update.
pub async fn execute(
    clients: &Clients,
    set: &ChangeSet,
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<Outcome, DeployError> {
    execute_after(clients, set, None, observer, interrupt).await
}

/// The stack id a change set's execution is followed by: the ARN CloudFormation gave, else the
/// stack's as described, else its name.
pub async fn stack_id(clients: &Clients, set: &ChangeSet) -> Result<String, DeployError> {
    Ok(match &set.stack_id {
        Some(id) => id.clone(),
        None => stacks::describe(clients, &set.stack)
            .await?
            .and_then(|s| s.stack_id().map(str::to_string))
            .unwrap_or_else(|| set.stack.clone()),
    })
}

/// [`execute`], with the newest event of the stack before the execution (`Some(mark)`) already
/// read by the caller, or read here (`None`). An update's change set makes no stack event, so
/// the mark of an update may be read while its change set is being made.
pub async fn execute_after(
    clients: &Clients,
    set: &ChangeSet,
    mark: Option<Option<String>>,
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<Outcome, DeployError> {
    let id = stack_id(clients, set).await?;
    let mark = match mark {
        Some(mark) => mark,
        None => events::newest(clients, &id).await?,
    };
    let executed = clients
        .cfn
        .execute_change_set()
        .stack_name(&set.stack)
        .change_set_name(&set.name)
        .client_request_token(execution_token(&set.name))
        .send()
        .await;
    if let Err(e) = executed {
        // A retry after a lost answer finds the change set executing or executed: follow it.
        if !already_executed(clients, set).await {
            return Err(AwsError::call("ExecuteChangeSet", &e).into());
        }
    }
    let (expected, on_stop) = match set.kind {
        Kind::Create => ("CREATE_COMPLETE", OnStop::Continue),
        Kind::Update => ("UPDATE_COMPLETE", OnStop::CancelUpdate),
    };
    watch::follow(clients, &id, mark, expected, on_stop, observer, interrupt).await
}

/// ExecuteChangeSet's idempotency token for a change set (name or ARN): letters, digits and
/// dashes, starting with a letter, at most 128 characters.
fn execution_token(change_set: &str) -> String {
    let name = change_set
        .rsplit(':')
        .next()
        .unwrap_or(change_set)
        .replace('/', "-");
    let token: String = format!("exec-{name}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    token.chars().take(128).collect()
}

/// Whether CloudFormation already took the change set for execution.
async fn already_executed(clients: &Clients, set: &ChangeSet) -> bool {
    use aws_sdk_cloudformation::types::ExecutionStatus;
    let described = clients
        .cfn
        .describe_change_set()
        .stack_name(&set.stack)
        .change_set_name(&set.name)
        .send()
        .await;
    matches!(
        described.ok().and_then(|d| d.execution_status().cloned()),
        Some(
            ExecutionStatus::ExecuteInProgress
                | ExecutionStatus::ExecuteComplete
                | ExecutionStatus::ExecuteFailed
        )
    )
}

/// A change set's changes as the plan and apply show them: a count, then one line each.
pub struct ChangeList<'a>(pub &'a [PlannedChange]);

impl std::fmt::Display for ChangeList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = crate::output::Style::of(f);
        let changes = self.0;
        let count = |action: &str| changes.iter().filter(|c| c.action == action).count();
        writeln!(
            f,
            "  {} changes: {} to add, {} to modify, {} to remove",
            changes.len(),
            count("Add"),
            count("Modify"),
            count("Remove")
        )?;
        let w1 = changes
            .iter()
            .map(|c| c.logical_id.len())
            .max()
            .unwrap_or(0);
        let w2 = changes
            .iter()
            .map(|c| c.resource_type.len())
            .max()
            .unwrap_or(0);
        for c in changes {
            let mark = match c.action.as_str() {
                "Add" => s.green("+ Add   "),
                "Remove" => s.red("- Remove"),
                "Modify" => s.yellow("~ Modify"),
                other => format!("? {other:<6}"),
            };
            let mut extra = String::new();
            if let Some(r) = &c.replacement {
                if r != "False" {
                    extra.push_str(&s.red(&format!(" replacement: {r}")));
                }
            }
            if !c.changed.is_empty() {
                extra.push_str(&format!(" ({})", c.changed.join(", ")));
            }
            let line = format!(
                "  {mark} {:<w1$}  {:<w2$}{extra}",
                c.logical_id, c.resource_type
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{
        Change, ChangeAction, Replacement, ResourceAttribute, ResourceChange, ResourceChangeDetail,
        ResourceTargetDefinition,
    };

    fn detail(attribute: ResourceAttribute, name: Option<&str>) -> ResourceChangeDetail {
        let mut target = ResourceTargetDefinition::builder().attribute(attribute);
        if let Some(n) = name {
            target = target.name(n);
        }
        ResourceChangeDetail::builder()
            .target(target.build())
            .build()
    }

    #[test]
    fn modify_changes_keep_replacement_and_changed_properties() {
        let change = Change::builder()
            .resource_change(
                ResourceChange::builder()
                    .action(ChangeAction::Modify)
                    .logical_resource_id("ParamsFunction")
                    .resource_type("AWS::Lambda::Function")
                    .replacement(Replacement::Conditional)
                    .details(detail(ResourceAttribute::Properties, Some("Environment")))
                    .details(detail(ResourceAttribute::Properties, Some("Code")))
                    .details(detail(ResourceAttribute::Properties, Some("Code")))
                    .details(detail(ResourceAttribute::Tags, None))
                    .build(),
            )
            .build();
        let planned = planned(&change).unwrap();
        assert_eq!(planned.action, "Modify");
        assert_eq!(planned.replacement.as_deref(), Some("Conditional"));
        assert_eq!(planned.changed, vec!["Code", "Environment", "Tags"]);
    }

    #[test]
    fn execution_tokens_are_valid_for_names_and_arns() {
        assert_eq!(execution_token("rmdeploy-17955"), "exec-rmdeploy-17955");
        let arn = "arn:aws-cn:cloudformation:cn-north-1:123456789012:changeSet/rmdeploy-17955/e23084a0-f09e-4063-94e6-1d7ddea8a7b0";
        let token = execution_token(arn);
        assert_eq!(
            token,
            "exec-changeSet-rmdeploy-17955-e23084a0-f09e-4063-94e6-1d7ddea8a7b0"
        );
        assert!(token.len() <= 128);
        assert!(token.starts_with(|c: char| c.is_ascii_alphabetic()));
    }

    #[test]
    fn empty_change_set_reasons_are_recognised() {
        assert!(is_empty_reason("The submitted information didn't contain changes. Submit different information to create a change set."));
        assert!(is_empty_reason("No updates are to be performed."));
        assert!(!is_empty_reason(
            "Template format error: Unresolved resource dependencies"
        ));
    }
}
