//! `rmdeploy plan`: render the stack for a profile, check it and show what it holds.

use std::process::ExitCode;

use miette::miette;

use super::args::StackArgs;
use super::progress::Progress;
use super::terminal::block_on;
use crate::exit::{EXIT_ATTENTION, EXIT_OK};
use crate::output::{emit, OutputFormat};
use crate::workflow::plan::{self, Options};

/// Show what the profile deploys: resources by service and by feature, template size, checks,
/// warnings and the estimated monthly cost (see `rmdeploy cost`).
///
/// The plan goes live (reads the account and makes a CloudFormation change set, deleted
/// afterwards, to show what would change) when an account is configured: AWS credentials in the
/// environment, AWS_PROFILE or --aws-profile, ~/.aws/config or ~/.aws/credentials, or
/// --endpoint-url / AWS_ENDPOINT_URL. `--offline` never contacts AWS.
///
/// Exit 2 (attention) when the estimate is over the profile's `budget.monthly` (unless
/// --ignore-budget), and with --detailed-exitcode when the live plan has changes.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Also list every resource with its type and the feature that produced it.
    #[arg(long)]
    pub resources: bool,
    /// Do not contact AWS even when an account is configured.
    #[arg(long)]
    pub offline: bool,
    /// Exit with 2 when the live plan has changes (0: no changes, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Go on when the cost estimate is over the profile's `budget.monthly` (exit 0, not 2).
    #[arg(long)]
    pub ignore_budget: bool,
    /// The firmware manifest the profile's `firmware.images` are checked against [default: the
    /// profile's `firmware.manifest`].
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<std::path::PathBuf>,
    /// Cargo target folder of the Lambda builds whose artifacts the plan uses.
    #[arg(long, value_name = "DIR", env = "RMDEPLOY_LAMBDA_TARGET")]
    pub target_dir: Option<std::path::PathBuf>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let session = args.stack.session()?;
    // The firmware the profile lists, checked as `apply` checks it before deploying.
    crate::firmware::profile::images(&session.resolved, args.manifest.as_ref())?;
    let access = args.stack.aws.access();
    let configured = access.account_configured();
    let options = Options {
        offline_because: (!args.offline && !configured).then(|| {
            "no AWS account is configured (credentials, --aws-profile or --endpoint-url)".into()
        }),
        access: (!args.offline && configured).then_some(access),
        lambda_target: args.target_dir,
        list_resources: args.resources,
    };
    let planned = block_on(plan::plan(&session, &options, &mut Progress::new()))?;
    emit(output, &planned);
    if let (OutputFormat::Human, None, Some(why)) = (output, &planned.live, &planned.live_skipped) {
        eprintln!("live plan skipped: {why}");
    }
    if !planned.offline.passed() {
        let failed: Vec<&str> = planned
            .offline
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.id)
            .collect();
        return Err(miette!(
            help = "the findings above name the template and resource; fix the template (or the --templates override)",
            "template checks failed: {}",
            failed.join(", ")
        ));
    }
    let over = super::cost::budget_exit(&planned.cost, args.ignore_budget);
    if over != ExitCode::from(EXIT_OK) {
        return Ok(over);
    }
    Ok(ExitCode::from(
        if args.detailed_exitcode && planned.changed() {
            EXIT_ATTENTION
        } else {
            EXIT_OK
        },
    ))
}
