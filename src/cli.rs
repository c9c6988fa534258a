//! The command line: global options and the subcommands.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::output::OutputFormat;

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status for an error: bad input, failed checks, an AWS failure.
pub const EXIT_ERROR: u8 = 1;
/// Exit status for "changes present" (`plan --detailed-exitcode`) and a quota shortfall.
pub const EXIT_ATTENTION: u8 = 2;
/// Exit status when the user stopped a run with Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Deploy a self-hosted ESP RainMaker-style IoT cloud (AWS IoT Core, Rust Lambdas, DynamoDB, S3,
/// API Gateway, Cognito or OAuth2) into your own AWS account, in global regions or AWS China.
///
/// Exit status: 0 success; 1 error; 2 changes present (`plan --detailed-exitcode`) or a failed
/// quota check; 130 stopped with Ctrl-C.
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
    Bootstrap(commands::bootstrap::Args),
    Build(commands::build::Args),
    Render(commands::render::Args),
    #[command(subcommand)]
    Profile(commands::profile::Command),
    #[command(subcommand)]
    Firmware(commands::firmware::Command),
}

impl Cli {
    pub fn run(self) -> miette::Result<ExitCode> {
        match self.command {
            Command::Plan(args) => commands::plan::run(args, self.output),
            Command::Apply(args) => commands::apply::run(args, self.output),
            Command::Status(args) => commands::status::run(args, self.output),
            Command::Destroy(args) => commands::destroy::run(args, self.output),
            Command::QuotaCheck(args) => commands::quota_check::run(args, self.output),
            Command::Bootstrap(args) => commands::bootstrap::run(args, self.output),
            Command::Build(args) => commands::build::run(args, self.output),
            Command::Render(args) => commands::render::run(args, self.output),
            Command::Profile(cmd) => commands::profile::run(cmd, self.output),
            Command::Firmware(cmd) => commands::firmware::run(cmd, self.output),
        }
    }
}
