//! Stack events: read as they arrive during a deployment, and the earliest real failure among
//! them, followed into nested stacks, so a failed deploy names the resource and reason that
//! started it rather than the cascade of cancellations after it.

use aws_sdk_cloudformation::types::StackEvent as SdkEvent;
use serde::Serialize;

use super::DeployError;
use crate::aws::{AwsError, Clients};

/// One stack event, oldest first wherever a list of them is returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackEvent {
    #[serde(skip)]
    pub id: String,
    /// ISO 8601, as CloudFormation gives it.
    pub timestamp: String,
    pub stack: String,
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub physical_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl StackEvent {
    fn from_sdk(e: &SdkEvent) -> StackEvent {
        StackEvent {
            id: e.event_id().unwrap_or_default().to_string(),
            timestamp: e
                .timestamp()
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                .unwrap_or_default(),
            stack: e.stack_name().unwrap_or_default().to_string(),
            logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: e.resource_type().unwrap_or_default().to_string(),
            physical_id: e.physical_resource_id().unwrap_or_default().to_string(),
            status: e
                .resource_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: e
                .resource_status_reason()
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }
    }

    /// The event of the stack itself, not of one of its resources.
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack" && self.logical_id == self.stack
    }

    pub fn is_failure(&self) -> bool {
        self.status.ends_with("_FAILED")
    }

    /// A failure that only follows another one (CloudFormation cancels the rest of the work).
    fn is_consequence(&self) -> bool {
        self.reason.as_deref().is_some_and(|r| {
            r.contains("cancelled") || r.contains("The following resource(s) failed")
        })
    }
}

/// Where reading back through a stack's events stops.
enum End {
    /// Keep this event and stop.
    With,
    /// Stop without this event.
    Before,
}

/// Read a stack's events newest first, page after page, until `end` says where to stop (or the
/// events run out); oldest first.
async fn read_back(
    clients: &Clients,
    stack: &str,
    mut end: impl FnMut(&StackEvent) -> Option<End>,
) -> Result<Vec<StackEvent>, DeployError> {
    let mut found = Vec::new();
    // Pages are read lazily: the walk stops reading where `end` says.
    let mut pages = clients
        .cfn
        .describe_stack_events()
        .stack_name(stack)
        .into_paginator()
        .send();
    'pages: while let Some(page) = pages.next().await {
        let out = page.map_err(|e| AwsError::call("DescribeStackEvents", &e))?;
        for e in out.stack_events() {
            let event = StackEvent::from_sdk(e);
            match end(&event) {
                Some(End::Before) => break 'pages,
                Some(End::With) => {
                    found.push(event);
                    break 'pages;
                }
                None => found.push(event),
            }
        }
    }
    found.reverse();
    Ok(found)
}

/// The events of `stack` newer than the event `after` (all of them when `None`), oldest first.
pub async fn since(
    clients: &Clients,
    stack: &str,
    after: Option<&str>,
) -> Result<Vec<StackEvent>, DeployError> {
    read_back(clients, stack, |e| {
        (after == Some(e.id.as_str())).then_some(End::Before)
    })
    .await
}

/// The `count` newest events of a stack, oldest first.
pub async fn recent(
    clients: &Clients,
    stack: &str,
    count: usize,
) -> Result<Vec<StackEvent>, DeployError> {
    let mut seen = 0;
    read_back(clients, stack, |_| {
        seen += 1;
        (seen > count).then_some(End::Before)
    })
    .await
}

/// The id of the newest event of a stack: the mark after which a deployment's events begin.
pub async fn newest(clients: &Clients, stack: &str) -> Result<Option<String>, DeployError> {
    Ok(recent(clients, stack, 1).await?.pop().map(|e| e.id))
}

/// Stack statuses that begin an operation.
const OPERATION_STARTS: &[&str] = &[
    "CREATE_IN_PROGRESS",
    "UPDATE_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
];

/// The events of the stack's last operation (back to the stack event that began it), oldest
/// first; older pages are not read.
pub async fn last_operation(
    clients: &Clients,
    stack: &str,
) -> Result<Vec<StackEvent>, DeployError> {
    read_back(clients, stack, |e| {
        (e.is_stack() && OPERATION_STARTS.contains(&e.status.as_str())).then_some(End::With)
    })
    .await
}

/// The failure that started a failed operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// Logical ids of the nested stacks it happened in, outermost first (empty: the stack itself).
    pub nested_in: Vec<String>,
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut path = self.nested_in.clone();
        path.push(self.logical_id.clone());
        write!(
            f,
            "{} ({}) {}: {}",
            path.join(" › "),
            self.resource_type,
            self.status,
            self.reason
        )
    }
}

/// The earliest failed resource among `events` (oldest first), skipping the cancellations that
/// follow a failure; the stack's own event when no resource failed.
pub fn earliest_failure(events: &[StackEvent]) -> Option<&StackEvent> {
    let failed = || events.iter().filter(|e| e.is_failure());
    failed()
        .find(|e| !e.is_stack() && !e.is_consequence())
        .or_else(|| failed().find(|e| !e.is_stack()))
        .or_else(|| failed().next())
}

/// How deep nested stacks are followed.
const MAX_NESTING: usize = 5;

/// The failure that started a failed operation, following a failed nested stack into its own
/// events.
pub async fn failure(
    clients: &Clients,
    events: &[StackEvent],
) -> Result<Option<Failure>, DeployError> {
    let Some(first) = earliest_failure(events) else {
        return Ok(None);
    };
    let mut nested_in = Vec::new();
    let mut current = first.clone();
    while current.resource_type == "AWS::CloudFormation::Stack"
        && !current.is_stack()
        && !current.physical_id.is_empty()
        && nested_in.len() < MAX_NESTING
    {
        let inner = since(clients, &current.physical_id, None).await?;
        match earliest_failure(&inner).filter(|e| !e.is_stack()) {
            Some(e) => {
                nested_in.push(current.logical_id.clone());
                current = e.clone();
            }
            None => break,
        }
    }
    Ok(Some(Failure {
        nested_in,
        logical_id: current.logical_id,
        resource_type: current.resource_type,
        status: current.status,
        reason: current
            .reason
            .unwrap_or_else(|| "CloudFormation gave no reason".into()),
    }))
}

/// One event as a line: time, status, logical id, type, reason.
pub fn event_line(e: &StackEvent, s: crate::output::Style) -> String {
    let time = e.timestamp.get(11..19).unwrap_or(&e.timestamp);
    let status = format!("{:<28}", e.status);
    let status = if e.is_failure() {
        s.red(&status)
    } else if e.status.ends_with("_COMPLETE") && !e.status.contains("ROLLBACK") {
        s.green(&status)
    } else {
        status
    };
    let reason = e
        .reason
        .as_deref()
        .map(|r| format!("  {r}"))
        .unwrap_or_default();
    format!(
        "  {time} {status} {}  {}{reason}",
        e.logical_id, e.resource_type
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(logical: &str, kind: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            id: format!("{logical}-{status}"),
            timestamp: String::new(),
            stack: "rainmaker".into(),
            logical_id: logical.into(),
            resource_type: kind.into(),
            physical_id: String::new(),
            status: status.into(),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn the_first_real_failure_wins_over_cancellations_and_the_stack_summary() {
        let events = vec![
            event(
                "rainmaker",
                "AWS::CloudFormation::Stack",
                "CREATE_IN_PROGRESS",
                None,
            ),
            event(
                "Table",
                "AWS::DynamoDB::Table",
                "CREATE_FAILED",
                Some("Resource creation cancelled"),
            ),
            event(
                "Role",
                "AWS::IAM::Role",
                "CREATE_FAILED",
                Some("Policy has invalid action"),
            ),
            event(
                "Queue",
                "AWS::SQS::Queue",
                "CREATE_FAILED",
                Some("Internal failure"),
            ),
            event(
                "rainmaker",
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                Some("The following resource(s) failed to create: [Role, Table]"),
            ),
        ];
        let first = earliest_failure(&events).unwrap();
        assert_eq!(first.logical_id, "Role");
        assert_eq!(first.reason.as_deref(), Some("Policy has invalid action"));
    }

    #[test]
    fn without_a_resource_failure_the_stack_event_is_shown() {
        let events = vec![event(
            "rainmaker",
            "AWS::CloudFormation::Stack",
            "UPDATE_ROLLBACK_FAILED",
            Some("Export in use"),
        )];
        assert_eq!(earliest_failure(&events).unwrap().logical_id, "rainmaker");
        assert!(earliest_failure(&events[..0]).is_none());
        let ok = vec![event("Role", "AWS::IAM::Role", "CREATE_COMPLETE", None)];
        assert!(earliest_failure(&ok).is_none());
    }
}
