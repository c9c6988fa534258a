//! `rmdeploy destroy`: delete the profile's stack.

use std::process::ExitCode;

use miette::miette;
use serde::Serialize;

use super::common::{block_on, confirm, ctrl_c, Answer, LastSeen, ProfileArgs, TemplateArgs};
use super::progress::Progress;
use crate::aws::{AwsArgs, Clients};
use crate::cli::{EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
use crate::deploy::state::{self, State};
use crate::deploy::{outputs, stacks, DeployError};
use crate::output::{print_json, OutputFormat, Style};
use crate::render;

/// Delete the profile's stack after a confirmation (`--yes` skips it; without a terminal it is
/// required). Data the profile retains (`retain_data`: tables, firmware bucket, user pool) stays
/// in the account, and the bootstrap stack stays for other stacks of the account.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Do not ask.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Turn the stack's termination protection off first; without it a protected stack is
    /// refused.
    #[arg(long)]
    pub disable_termination_protection: bool,
    /// For a stack in DELETE_FAILED: a resource (logical id) to keep instead of deleting. Repeat
    /// for several.
    #[arg(long, value_name = "LOGICAL_ID")]
    pub retain: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    stack: String,
    region: String,
    /// `deleted` or `absent`.
    action: &'static str,
    status: String,
    /// Resources kept by their DeletionPolicy (logical id, physical id).
    retained: Vec<(String, String)>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let rendered = render::render(&resolved, args.templates.templates.as_deref())?;
    let stack = resolved.profile.stack_name.clone();
    let report = block_on(async {
        let clients = Clients::connect(&args.aws, &resolved.region).await;
        clients.require_credentials().await?;
        let interrupt = ctrl_c(LastSeen::default());
        let mut inspection = state::inspect(&clients, &stack).await?;
        if inspection.state == State::InProgress {
            eprintln!(
                "stack {stack} is {}: waiting for that operation to end",
                inspection.status().unwrap_or_default()
            );
            stacks::wait_settled(&clients, &stack).await?;
            inspection = state::inspect(&clients, &stack).await?;
        }
        let mut report = Report {
            stack: stack.clone(),
            region: resolved.region.clone(),
            action: "absent",
            status: "DELETE_COMPLETE".into(),
            retained: Vec::new(),
        };
        if inspection.state == State::Missing {
            return Ok::<_, miette::Report>(Ok(report));
        }
        if inspection.termination_protection() && !args.disable_termination_protection {
            return Err(DeployError::StackState {
                stack: stack.clone(),
                status: inspection.status().unwrap_or_default().to_string(),
                explanation: "termination protection is on".into(),
                help: Some("if the stack really is to go, run `rmdeploy destroy --disable-termination-protection`".into()),
            }
            .into());
        }
        // What the stack keeps when deleted: resources whose DeletionPolicy is Retain.
        let keep: Vec<String> = rendered
            .stack
            .document
            .get("Resources")
            .and_then(|r| r.as_object())
            .map(|r| {
                r.iter()
                    .filter(|(_, v)| v["DeletionPolicy"] == "Retain")
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let ids = outputs::physical_ids(&clients, inspection.id().unwrap_or(&stack)).await?;
        report.retained = keep
            .iter()
            .filter_map(|k| ids.get(k).map(|p| (k.clone(), p.clone())))
            .collect();
        if !args.yes {
            let question = format!(
                "Delete stack {stack} in {} ({} resources{})?",
                resolved.region,
                ids.len(),
                if report.retained.is_empty() {
                    String::new()
                } else {
                    format!(", {} of them kept", report.retained.len())
                }
            );
            match confirm(&question, &interrupt).await {
                Answer::Yes => {}
                Answer::No => {
                    eprintln!("not deleted");
                    return Ok(Err(EXIT_ERROR));
                }
                Answer::Interrupted => {
                    eprintln!("nothing was deleted");
                    return Ok(Err(EXIT_INTERRUPTED));
                }
                Answer::NoTerminal => {
                    return Err(miette!(
                        help = "run `rmdeploy destroy --yes` to delete without asking",
                        "there is no terminal to confirm the deletion on, and --yes was not given; nothing was deleted"
                    ))
                }
            }
        }
        if inspection.termination_protection() {
            if let Some(s) = &inspection.stack {
                state::set_termination_protection(&clients, s, false).await?;
                eprintln!("termination protection turned off");
            }
        }
        eprintln!("deleting stack {stack}");
        let mut progress = Progress::new(ids.len());
        let outcome = state::delete(
            &clients,
            &inspection,
            &args.retain,
            &mut progress,
            &interrupt,
        )
        .await?;
        progress.finish();
        if !outcome.succeeded {
            return Err(DeployError::OperationFailed {
                operation: "deletion".into(),
                stack: stack.clone(),
                status: outcome.status,
                cause: outcome.failure.map(|f| format!(": {f}")).unwrap_or_default(),
                help: Some("fix the cause (often a bucket that still holds objects it may not delete), or keep that resource: `rmdeploy destroy --retain <LogicalId>`".into()),
            }
            .into());
        }
        report.action = "deleted";
        report.status = outcome.status;
        Ok(Ok(report))
    })?;
    // Declined: 1, as when apply is declined; stopped with Ctrl-C: 130.
    let report = match report {
        Ok(report) => report,
        Err(code) => return Ok(ExitCode::from(code)),
    };
    match output {
        OutputFormat::Json => print_json(&report),
        OutputFormat::Human => {
            let s = Style::stdout();
            match report.action {
                "absent" => println!(
                    "{} stack {} does not exist in {}: nothing to delete",
                    s.bold("Result:"),
                    report.stack,
                    report.region
                ),
                _ => println!(
                    "{} stack {} deleted from {} ({})",
                    s.bold("Result:"),
                    report.stack,
                    report.region,
                    report.status
                ),
            }
            if !report.retained.is_empty() {
                println!("{} (DeletionPolicy Retain)", s.bold("Kept:"));
                for (logical, physical) in &report.retained {
                    println!("  {logical}  {physical}");
                }
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
