//! `rmdeploy quota-check`: does the account's quota cover what the profile needs?

use std::process::ExitCode;

use super::args::{AwsArgs, ProfileArgs};
use super::terminal::{block_on, LastSeen, Ui};
use crate::exit::{EXIT_ATTENTION, EXIT_OK};
use crate::output::{emit, OutputFormat};
use crate::workflow::quotas;

/// Check the account's service quotas against what the profile needs: Lambda concurrency (and
/// what reserved concurrency leaves), DynamoDB table- and account-level capacity units, IoT Core
/// connect and publish rates and connections (from the capacity figures), API Gateway throttling,
/// Cognito user pools. Each check has a stable id (Q001 ...) and says why the profile needs that
/// much. Exit 0 when all pass, 2 when any falls short or cannot be read, 1 on error.
///
/// Without an AWS account (or with --offline) it lists the requirements and the calls it would
/// make.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Leave out checks by id, for example `--ignore Q011,Q012`.
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// File a Service Quotas increase request for each adjustable shortfall (after a
    /// confirmation; `--yes`), skipping quotas with a request already open, and list the open
    /// requests.
    #[arg(long)]
    pub request_increase: bool,
    /// Do not ask before filing increase requests.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Do not contact AWS: list the requirements and what would be read.
    #[arg(long)]
    pub offline: bool,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    if args.offline || !args.aws.access().account_configured() {
        if !args.offline {
            eprintln!("no AWS account is configured (credentials, --aws-profile or --endpoint-url): listing the requirements only");
        }
        emit(output, &quotas::offline(&resolved, &args.ignore)?);
        return Ok(ExitCode::from(EXIT_OK));
    }
    let report = block_on(async {
        let clients = args.aws.connect(&resolved.region).await?;
        let mut ui = Ui::new(output, LastSeen::default());
        let report = quotas::check(
            &resolved,
            &clients,
            &args.ignore,
            args.request_increase,
            args.yes,
            &mut ui,
        )
        .await?;
        Ok::<_, miette::Report>(report)
    })?;
    emit(output, &report);
    Ok(ExitCode::from(if report.passed {
        EXIT_OK
    } else {
        EXIT_ATTENTION
    }))
}
