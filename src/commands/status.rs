//! `rmdeploy status`: where the profile's stack stands.

use std::process::ExitCode;

use serde::Serialize;

use super::common::{block_on, ProfileArgs, TemplateArgs};
use super::progress::event_line;
use crate::aws::{AwsArgs, Clients};
use crate::cli::EXIT_OK;
use crate::deploy::drift::{self, Drift};
use crate::deploy::events::{self, Failure, StackEvent};
use crate::deploy::outputs::{self, StackOutput};
use crate::deploy::state::{self, State};
use crate::output::{print_json, OutputFormat, Style};
use crate::render;

/// Show the profile's stack: its status (and what caused a failed one), termination protection,
/// the last events and the outputs; with `--drift`, which resources differ from the template.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How many of the newest events to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub events: usize,
    /// Also run CloudFormation drift detection and list the resources that differ.
    #[arg(long)]
    pub drift: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    stack: String,
    region: String,
    exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<Failure>,
    termination_protection: bool,
    events: Vec<StackEvent>,
    outputs: Vec<StackOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<Drift>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let rendered = render::render(&resolved, args.templates.templates.as_deref())?;
    let stack = resolved.profile.stack_name.clone();
    let report = block_on(async {
        let clients = Clients::connect(&args.aws, &resolved.region).await;
        clients.require_credentials().await?;
        let inspection = state::inspect(&clients, &stack).await?;
        let mut report = Report {
            stack: stack.clone(),
            region: resolved.region.clone(),
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
            return Ok::<_, miette::Report>(report);
        };
        let id = found.stack_id().unwrap_or(&stack).to_string();
        report.events = events::recent(&clients, &id, args.events).await?;
        if matches!(inspection.state, State::Ready) {
            report.outputs = outputs::read(&clients, found, &rendered.stack).await?;
            if args.drift {
                eprintln!("detecting drift of {stack}");
                report.drift = Some(drift::detect(&clients, &id).await?);
            }
        }
        Ok(report)
    })?;
    match output {
        OutputFormat::Json => print_json(&report),
        OutputFormat::Human => print_human(&report),
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn print_human(r: &Report) {
    let s = Style::stdout();
    let Some(status) = &r.status else {
        println!(
            "{} {} in {}: not deployed (run `rmdeploy apply`)",
            s.bold("Stack"),
            r.stack,
            r.region
        );
        return;
    };
    println!(
        "{} {} in {}: {}",
        s.bold("Stack"),
        r.stack,
        r.region,
        if status.ends_with("_FAILED") || status.contains("ROLLBACK") {
            s.red(status)
        } else {
            s.green(status)
        }
    );
    if let Some(reason) = &r.status_reason {
        println!("  reason: {reason}");
    }
    if let Some(f) = &r.failure {
        println!("  {} {f}", s.red("first failure:"));
    }
    println!(
        "  termination protection {}",
        if r.termination_protection {
            "on"
        } else {
            "off"
        }
    );
    if !r.events.is_empty() {
        println!("{}", s.bold("Last events:"));
        for e in &r.events {
            println!("{}", event_line(e, s));
        }
    }
    if !r.outputs.is_empty() {
        println!("{}", s.bold("Outputs:"));
        let width = r.outputs.iter().map(|o| o.key.len()).max().unwrap_or(0);
        for o in &r.outputs {
            println!("  {:<width$}  {}", o.key, o.value);
        }
    }
    if let Some(d) = &r.drift {
        println!("{} {}", s.bold("Drift:"), d.status);
        for x in &d.drifted {
            println!(
                "  {} {}  {}  {}",
                x.status,
                x.logical_id,
                x.resource_type,
                x.properties.join(", ")
            );
        }
    }
}
