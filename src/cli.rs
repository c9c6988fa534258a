//! The command line: global options and the subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::output::OutputFormat;

pub use crate::exit::{EXIT_ATTENTION, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};

/// Deploy a self-hosted ESP RainMaker-style IoT cloud (AWS IoT Core, Rust Lambdas, DynamoDB, S3,
/// API Gateway, Cognito or OAuth2) into your own AWS account, in global regions or AWS China.
///
/// Exit status: 0 success; 1 error; 2 attention: changes present (`plan --detailed-exitcode`),
/// a failed quota check, or an estimate over the profile's budget; 130 stopped with Ctrl-C.
///
/// Environment: AWS_PROFILE, AWS_REGION and the standard AWS variables; AWS_ENDPOINT_URL (an
/// emulator); AWS_MAX_ATTEMPTS (attempts per call, default 8); RMDEPLOY_READ_TIMEOUT_MS (how long
/// an answer may take to start, default 60000); RMDEPLOY_POLL_MS (stack polling interval);
/// RMDEPLOY_PROFILE (as --profile); RMDEPLOY_LAMBDA_TARGET (the Lambda build folder);
/// RMDEPLOY_TOOLS (where rmdeploy installs cargo-lambda); XDG_CACHE_HOME (the cache folder,
/// default ~/.cache); NO_COLOR (no colour).
#[derive(Debug, Parser)]
#[command(name = "rmdeploy", version, propagate_version = true)]
pub struct Cli {
    /// Output format of results on stdout; progress and logs go to stderr.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Human, global = true)]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Plan(commands::plan::Args),
    Apply(commands::apply::Args),
    Status(commands::status::Args),
    Destroy(commands::destroy::Args),
    QuotaCheck(commands::quota_check::Args),
    Cost(commands::cost::Args),
    Bootstrap(commands::bootstrap::Args),
    Build(commands::build::Args),
    Render(commands::render::Args),
    #[command(subcommand)]
    Profile(commands::profile::Command),
    #[command(subcommand)]
    Firmware(commands::firmware::Command),
    #[command(subcommand)]
    Nodes(commands::nodes::Command),
}

impl Cli {
    pub fn run(self) -> miette::Result<ExitCode> {
        match self.command {
            Command::Plan(args) => commands::plan::run(args, self.output),
            Command::Apply(args) => commands::apply::run(args, self.output),
            Command::Status(args) => commands::status::run(args, self.output),
            Command::Destroy(args) => commands::destroy::run(args, self.output),
            Command::QuotaCheck(args) => commands::quota_check::run(args, self.output),
            Command::Cost(args) => commands::cost::run(args, self.output),
            Command::Bootstrap(args) => commands::bootstrap::run(args, self.output),
            Command::Build(args) => commands::build::run(args, self.output),
            Command::Render(args) => commands::render::run(args, self.output),
            Command::Profile(cmd) => commands::profile::run(cmd, self.output),
            Command::Firmware(cmd) => commands::firmware::run(cmd, self.output),
            Command::Nodes(cmd) => commands::nodes::run(cmd, self.output),
        }
    }
}
