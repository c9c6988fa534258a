//! `rmdeploy apply`: deploy the profile's stack, safely and repeatably.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::StackArgs;
use super::terminal::{block_on, ctrl_c, LastSeen, Ui};
use crate::output::{emit, OutputFormat};
use crate::workflow::apply::{self, Applied, Lambdas, Options};
use crate::workflow::settle::Recovery;

/// Deploy the profile's stack: build the bundled Lambdas, make sure the bootstrap stack (the
/// artifacts bucket) exists, upload the artifacts the bucket lacks, show the change set, ask, then
/// execute it with live progress and print the outputs. Running it again with nothing changed
/// uploads nothing and ends with "No changes".
///
/// Ctrl-C during an update cancels it (CloudFormation rolls back); a second Ctrl-C leaves at once.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Do not ask: deploy, and recover a stack whose first creation failed (delete and create it
    /// again) or whose update rollback failed (ContinueUpdateRollback). Required without a
    /// terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Use the Lambda artifacts of the last build instead of building them now.
    #[arg(long)]
    pub no_build: bool,
    /// Folder of the bundled Lambda crates. Default: `lambdas/` of the rmdeploy source tree.
    #[arg(long, value_name = "DIR")]
    pub lambdas: Option<PathBuf>,
    /// Cargo target folder of the Lambda builds. Default: `~/.cache/rmdeploy/lambda-target`.
    #[arg(long, value_name = "DIR", env = "RMDEPLOY_LAMBDA_TARGET")]
    pub target_dir: Option<PathBuf>,
    /// For a stack in UPDATE_ROLLBACK_FAILED: a resource (logical id) the rollback skips because
    /// it cannot return to its old state. Repeat for several.
    #[arg(long, value_name = "LOGICAL_ID")]
    pub skip_resource: Vec<String>,
    /// Refuse, instead of waiting, when another operation on the stack is under way.
    #[arg(long)]
    pub no_wait: bool,
    /// Deploy even when the account's quotas fall short of what the profile needs (see
    /// `rmdeploy quota-check`), or cannot be read.
    #[arg(long)]
    pub skip_quota_check: bool,
    /// Quota checks to leave out, as for `quota-check --ignore`.
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub ignore_quota: Vec<String>,
    /// Deploy even when the cost estimate is over the profile's `budget.monthly`.
    #[arg(long)]
    pub ignore_budget: bool,
    /// The firmware manifest the profile's `firmware.images` come from [default: the profile's
    /// `firmware.manifest`].
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let session = args.stack.session()?;
    let options = Options {
        yes: args.yes,
        recovery: Recovery {
            yes: args.yes,
            no_wait: args.no_wait,
            skip_resources: args.skip_resource,
        },
        skip_quota_check: args.skip_quota_check,
        ignore_quota: args.ignore_quota,
        ignore_budget: args.ignore_budget,
        manifest: args.manifest,
        lambdas: Lambdas {
            no_build: args.no_build,
            sources: args.lambdas,
            target: crate::artifacts::build::target_dir(args.target_dir)?,
        },
    };
    let access = args.stack.aws.access();
    let applied = block_on(async {
        let last_seen = LastSeen::default();
        let interrupt = ctrl_c(last_seen.clone());
        let mut ui = Ui::new(output, last_seen);
        apply::apply(&session, &access, &options, &mut ui, &interrupt).await
    })?;
    match &applied {
        Applied::Done(report) => emit(output, report.as_ref()),
        other => eprintln!("{}", other.message().unwrap_or_default()),
    }
    Ok(ExitCode::from(applied.exit_code()))
}
