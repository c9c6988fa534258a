//! `rmdeploy build`: build, check and package the bundled Lambdas for the profile.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::ProfileArgs;
use crate::artifacts::build;
use crate::exit::EXIT_OK;
use crate::output::{emit, OutputFormat};

/// Build the bundled Rust Lambdas with cargo-lambda for the profile's architecture (arm64, or
/// x86_64 in China), refuse a `bootstrap` the runtime could not run (wrong CPU, glibc newer than
/// 2.34), and zip each deterministically under its SHA-256 key. Functions whose handler is not
/// bundled yet run the `pending` binary, which fails every invocation with a clear message.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Folder of the bundled Lambda crates. Default: `lambdas/` of the rmdeploy source tree.
    #[arg(long, value_name = "DIR")]
    pub lambdas: Option<PathBuf>,
    /// Cargo target folder of the Lambda builds. Default: `~/.cache/rmdeploy/lambda-target`.
    #[arg(long, value_name = "DIR", env = "RMDEPLOY_LAMBDA_TARGET")]
    pub target_dir: Option<PathBuf>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let functions = crate::stack::deployed_functions(&resolved);
    let sources = args.lambdas.unwrap_or_else(build::default_sources);
    eprintln!(
        "building the bundled functions for {}",
        resolved.architecture.as_str()
    );
    let built = build::build(
        &sources,
        &crate::artifacts::build::target_dir(args.target_dir)?,
        &functions,
        resolved.architecture,
    )?;
    let report = build::Report {
        architecture: resolved.architecture.as_str(),
        not_bundled_yet: functions
            .iter()
            .filter(|f| !f.bundled())
            .map(|f| f.name)
            .collect(),
        built,
    };
    emit(output, &report);
    Ok(ExitCode::from(EXIT_OK))
}
