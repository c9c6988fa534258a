//! `status`: where the profile's stack stands: status, first failure, last events, outputs, drift.

use std::fmt;

use serde::Serialize;

use super::{Observer, Session};
use crate::aws::Clients;
use crate::deploy::drift::{self, Drift};
use crate::deploy::events::{self, event_line, Failure, StackEvent};
use crate::deploy::outputs::{self, StackOutput};
use crate::deploy::state::{self, State};
use crate::deploy::DeployError;
use crate::output::{nested, Style};

#[derive(Debug, Serialize)]
pub struct Report {
    pub stack: String,
    pub region: String,
    pub exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub termination_protection: bool,
    pub events: Vec<StackEvent>,
    pub outputs: Vec<StackOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
}

/// Read the stack's state, its `event_count` newest events, its outputs and, `with_drift`, its drift.
pub async fn status(
    session: &Session,
    clients: &Clients,
    event_count: usize,
    with_drift: bool,
    observer: &mut dyn Observer,
) -> Result<Report, DeployError> {
    let stack = session.stack();
    let inspection = state::inspect(clients, stack).await?;
    let mut report = Report {
        stack: stack.to_string(),
        region: session.region().to_string(),
        exists: inspection.stack.is_some(),
        status: inspection.status().map(str::to_string),
        status_reason: inspection
            .stack
            .as_ref()
            .and_then(|s| s.stack_status_reason().map(str::to_string)),
        failure: match &inspection.state {
            State::FailedCreate { failure }
            | State::RollbackFailed { failure }
            | State::DeleteFailed { failure } => failure.clone(),
            _ => None,
        },
        termination_protection: inspection.termination_protection(),
        events: Vec::new(),
        outputs: Vec::new(),
        drift: None,
    };
    let Some(found) = &inspection.stack else {
        return Ok(report);
    };
    let id = found.stack_id().unwrap_or(stack).to_string();
    report.events = events::recent(clients, &id, event_count).await?;
    if matches!(inspection.state, State::Ready) {
        report.outputs = outputs::read(clients, found, &session.rendered.stack).await?;
        if with_drift {
            observer.step(&format!("detecting drift of {stack}"));
            report.drift = Some(drift::detect(clients, &id).await?);
        }
    }
    Ok(report)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, s) = (self, Style::of(f));
        let Some(status) = &r.status else {
            writeln!(
                f,
                "{} {} in {}: not deployed (run `rmdeploy apply`)",
                s.bold("Stack"),
                r.stack,
                r.region
            )?;
            return Ok(());
        };
        writeln!(
            f,
            "{} {} in {}: {}",
            s.bold("Stack"),
            r.stack,
            r.region,
            if status.ends_with("_FAILED") || status.contains("ROLLBACK") {
                s.red(status)
            } else {
                s.green(status)
            }
        )?;
        if let Some(reason) = &r.status_reason {
            writeln!(f, "  reason: {reason}")?;
        }
        if let Some(failure) = &r.failure {
            writeln!(f, "  {} {failure}", s.red("first failure:"))?;
        }
        writeln!(
            f,
            "  termination protection {}",
            if r.termination_protection {
                "on"
            } else {
                "off"
            }
        )?;
        if !r.events.is_empty() {
            writeln!(f, "{}", s.bold("Last events:"))?;
            for e in &r.events {
                writeln!(f, "{}", event_line(e, s))?;
            }
        }
        if !r.outputs.is_empty() {
            writeln!(f, "{}", s.bold("Outputs:"))?;
            nested(f, &outputs::OutputList(&r.outputs))?;
        }
        if let Some(d) = &r.drift {
            writeln!(f, "{} {}", s.bold("Drift:"), d.status)?;
            for x in &d.drifted {
                writeln!(
                    f,
                    "  {} {}  {}  {}",
                    x.status,
                    x.logical_id,
                    x.resource_type,
                    x.properties.join(", ")
                )?;
            }
        }
        Ok(())
    }
}
