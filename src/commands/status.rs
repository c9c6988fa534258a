//! `rmdeploy status`: where the profile's stack stands.

use std::process::ExitCode;

use super::args::StackArgs;
use super::progress::Progress;
use super::terminal::block_on;
use crate::exit::EXIT_OK;
use crate::output::{emit, OutputFormat};
use crate::workflow::status;

/// Show the profile's stack: its status (and what caused a failed one), termination protection,
/// the last events and the outputs; with `--drift`, which resources differ from the template.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// How many of the newest events to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub events: usize,
    /// Also run CloudFormation drift detection and list the resources that differ.
    #[arg(long)]
    pub drift: bool,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let session = args.stack.session()?;
    let report = block_on(async {
        let clients = args.stack.connect(&session).await?;
        let mut progress = Progress::new();
        let report =
            status::status(&session, &clients, args.events, args.drift, &mut progress).await?;
        Ok::<_, miette::Report>(report)
    })?;
    emit(output, &report);
    Ok(ExitCode::from(EXIT_OK))
}
