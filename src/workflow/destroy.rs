//! `destroy` end to end: wait for an operation under way, refuse a protected stack, list what is
//! kept, confirm, turn protection off when asked, delete.

use std::fmt;

use miette::Diagnostic;
use serde::Serialize;
use thiserror::Error;

use super::{Answer, Observer, Prompter, Session};
use crate::aws::Clients;
use crate::deploy::interrupt::Interrupt;
use crate::deploy::state::{self, State};
use crate::deploy::{outputs, stacks, DeployError};
use crate::exit::{EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
use crate::output::Style;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Delete without asking.
    pub yes: bool,
    /// Turn termination protection off first.
    pub disable_termination_protection: bool,
    /// Resources a failed delete keeps.
    pub retain: Vec<String>,
}

#[derive(Debug, Error, Diagnostic)]
pub enum DestroyError {
    #[error("there is no terminal to confirm the deletion on, and --yes was not given; nothing was deleted")]
    #[diagnostic(
        code(rmdeploy::destroy::no_terminal),
        help("run `rmdeploy destroy --yes` to delete without asking")
    )]
    NoTerminal,
    #[error(transparent)]
    #[diagnostic(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] crate::aws::AwsError),
}

/// How a `destroy` ended.
#[derive(Debug)]
pub enum Destroyed {
    Done(Report),
    /// The user said no.
    Declined,
    /// The user stopped the run at the question.
    Stopped,
}

impl Destroyed {
    pub fn exit_code(&self) -> u8 {
        match self {
            Destroyed::Done(_) => EXIT_OK,
            // As when apply is declined.
            Destroyed::Declined => EXIT_ERROR,
            Destroyed::Stopped => EXIT_INTERRUPTED,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Destroyed::Done(_) => "",
            Destroyed::Declined => "not deleted",
            Destroyed::Stopped => "nothing was deleted",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub stack: String,
    pub region: String,
    /// `deleted` or `absent`.
    pub action: &'static str,
    pub status: String,
    /// Resources kept by their DeletionPolicy (logical id, physical id).
    pub retained: Vec<(String, String)>,
}

/// Delete the session's stack.
pub async fn destroy(
    session: &Session,
    clients: &Clients,
    options: &Options,
    ui: &mut (impl Observer + Prompter),
    interrupt: &Interrupt,
) -> Result<Destroyed, DestroyError> {
    let stack = session.stack();
    let mut inspection = state::inspect(clients, stack).await?;
    if inspection.state == State::InProgress {
        let status = inspection.status().unwrap_or_default();
        ui.step(&format!(
            "stack {stack} is {status}: waiting for that operation to end"
        ));
        stacks::wait_settled(clients, stack).await?;
        inspection = state::inspect(clients, stack).await?;
    }
    let mut report = Report {
        stack: stack.to_string(),
        region: session.region().to_string(),
        action: "absent",
        status: "DELETE_COMPLETE".into(),
        retained: Vec::new(),
    };
    if inspection.state == State::Missing {
        return Ok(Destroyed::Done(report));
    }
    if inspection.termination_protection() && !options.disable_termination_protection {
        return Err(DeployError::StackState {
            stack: stack.to_string(),
            status: inspection.status().unwrap_or_default().to_string(),
            explanation: "termination protection is on".into(),
            help: Some("if the stack really is to go, run `rmdeploy destroy --disable-termination-protection`".into()),
        }
        .into());
    }
    let ids = outputs::physical_ids(clients, inspection.id().unwrap_or(stack)).await?;
    report.retained = retained(&session.rendered.stack.document)
        .into_iter()
        .filter_map(|k| ids.get(&k).map(|p| (k, p.clone())))
        .collect();
    if !options.yes {
        let kept = match report.retained.len() {
            0 => String::new(),
            n => format!(", {n} of them kept"),
        };
        let question = format!(
            "Delete stack {stack} in {} ({} resources{kept})?",
            session.region(),
            ids.len()
        );
        match ui.confirm(&question, interrupt).await {
            Answer::Yes => {}
            Answer::No => return Ok(Destroyed::Declined),
            Answer::Interrupted => return Ok(Destroyed::Stopped),
            Answer::NoTerminal => return Err(DestroyError::NoTerminal),
        }
    }
    if inspection.termination_protection() {
        if let Some(s) = &inspection.stack {
            state::set_termination_protection(clients, s, false).await?;
            ui.step("termination protection turned off");
        }
    }
    ui.step(&format!("deleting stack {stack}"));
    ui.begin(ids.len());
    let outcome = state::delete(clients, &inspection, &options.retain, ui, interrupt).await;
    ui.end();
    let outcome = outcome?;
    if !outcome.succeeded {
        return Err(DeployError::OperationFailed {
            operation: "deletion".into(),
            stack: stack.to_string(),
            cause: outcome.cause(),
            status: outcome.status,
            help: Some("fix the cause (often a bucket that still holds objects it may not delete), or keep that resource: `rmdeploy destroy --retain <LogicalId>`".into()),
        }
        .into());
    }
    report.action = "deleted";
    report.status = outcome.status;
    Ok(Destroyed::Done(report))
}

/// What the stack keeps when deleted: the resources whose DeletionPolicy is Retain.
fn retained(template: &serde_json::Value) -> Vec<String> {
    template
        .get("Resources")
        .and_then(|r| r.as_object())
        .map(|r| {
            r.iter()
                .filter(|(_, v)| v["DeletionPolicy"] == "Retain")
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = Style::of(f);
        match self.action {
            "absent" => writeln!(
                f,
                "{} stack {} does not exist in {}: nothing to delete",
                s.bold("Result:"),
                self.stack,
                self.region
            )?,
            _ => writeln!(
                f,
                "{} stack {} deleted from {} ({})",
                s.bold("Result:"),
                self.stack,
                self.region,
                self.status
            )?,
        }
        if !self.retained.is_empty() {
            writeln!(f, "{} (DeletionPolicy Retain)", s.bold("Kept:"))?;
            for (logical, physical) in &self.retained {
                writeln!(f, "  {logical}  {physical}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{emit_to, OutputFormat};

    fn shown(report: &Report, format: OutputFormat, color: bool) -> String {
        let mut out = Vec::new();
        emit_to(&mut out, format, report, color).expect("writes to memory");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_report_reads_the_same_in_process_as_on_the_terminal() {
        let report = Report {
            stack: "rainmaker".into(),
            region: "eu-west-1".into(),
            action: "deleted",
            status: "DELETE_COMPLETE".into(),
            retained: vec![("NodesTable".into(), "rainmaker-nodes".into())],
        };
        assert_eq!(
            shown(&report, OutputFormat::Human, false),
            "Result: stack rainmaker deleted from eu-west-1 (DELETE_COMPLETE)\n\
             Kept: (DeletionPolicy Retain)\n  NodesTable  rainmaker-nodes\n"
        );
        let colored = shown(&report, OutputFormat::Human, true);
        assert!(
            colored.starts_with("\x1b[1mResult:\x1b[0m stack rainmaker"),
            "{colored:?}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&shown(&report, OutputFormat::Json, true)).expect("JSON");
        assert_eq!(json["retained"][0][1], "rainmaker-nodes");
        assert!(!shown(&report, OutputFormat::Json, true).contains('\x1b'));
    }

    #[test]
    fn declining_and_stopping_exit_as_apply_does() {
        assert_eq!(Destroyed::Declined.exit_code(), EXIT_ERROR);
        assert_eq!(Destroyed::Stopped.exit_code(), EXIT_INTERRUPTED);
        assert_eq!(Destroyed::Stopped.message(), "nothing was deleted");
    }
}
