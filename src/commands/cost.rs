//! `rmdeploy cost`: what the profile's stack costs a month, offline.

use std::process::ExitCode;

use super::args::{ProfileArgs, TemplateArgs};
use crate::cost::{self, Estimate};
use crate::exit::{EXIT_ATTENTION, EXIT_OK};
use crate::output::{emit, OutputFormat};
use crate::render;

/// Estimate the stack's monthly cost, offline: by service and by feature, per device and year,
/// every line with its quantity and price, and every assumption. The quantities come from the
/// rendered template (what the profile deploys) and the profile's `capacity` figures; the prices
/// from rmdeploy's table of list prices for the region (`rmdeploy cost --output json` names the
/// source and date of each). Exit 2 when the estimate is over the profile's `budget.monthly`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let rendered = render::render(&resolved, args.templates.templates.as_deref())?;
    let estimate = cost::estimate(&resolved, &rendered.stack.document);
    emit(output, &estimate);
    Ok(budget_exit(&estimate, false))
}

/// Exit 2 when the estimate is over the budget (and it is not ignored), saying so on stderr.
pub fn budget_exit(estimate: &Estimate, ignore: bool) -> ExitCode {
    match estimate.budget_message() {
        Some(over) if !ignore => {
            eprintln!("{over}");
            ExitCode::from(EXIT_ATTENTION)
        }
        _ => ExitCode::from(EXIT_OK),
    }
}
