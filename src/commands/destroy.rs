//! `rmdeploy destroy`: delete the profile's stack.

use std::process::ExitCode;

use super::args::StackArgs;
use super::terminal::{block_on, ctrl_c, LastSeen, Ui};
use crate::output::{emit, OutputFormat};
use crate::workflow::destroy::{self, Destroyed, Options};

/// Delete the profile's stack after a confirmation (`--yes` skips it; without a terminal it is
/// required). Data the profile retains (`retain_data`: tables, firmware bucket, user pool) stays
/// in the account, and the bootstrap stack stays for other stacks of the account.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
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

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let session = args.stack.session()?;
    let options = Options {
        yes: args.yes,
        disable_termination_protection: args.disable_termination_protection,
        retain: args.retain,
    };
    let destroyed = block_on(async {
        let clients = args.stack.connect(&session).await?;
        let last_seen = LastSeen::default();
        let interrupt = ctrl_c(last_seen.clone());
        let mut ui = Ui::new(output, last_seen);
        Ok::<_, miette::Report>(
            destroy::destroy(&session, &clients, &options, &mut ui, &interrupt).await?,
        )
    })?;
    match &destroyed {
        Destroyed::Done(report) => emit(output, report),
        other => eprintln!("{}", other.message()),
    }
    Ok(ExitCode::from(destroyed.exit_code()))
}
