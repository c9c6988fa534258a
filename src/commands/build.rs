//! `rmdeploy build`: build, check and package the bundled Lambdas for the profile.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::common::ProfileArgs;
use crate::artifacts::build;
use crate::cli::EXIT_OK;
use crate::output::{print_json, thousands, OutputFormat, Style};

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

/// The Lambda build folder: the flag, else `RMDEPLOY_LAMBDA_TARGET`, else the user's cache; never
/// the shared temporary folder.
pub fn target_dir(arg: Option<PathBuf>) -> Result<PathBuf, crate::artifacts::dirs::DirError> {
    crate::artifacts::dirs::folder(
        arg.or_else(|| std::env::var_os("RMDEPLOY_LAMBDA_TARGET").map(PathBuf::from)),
        crate::artifacts::dirs::LAMBDA_TARGET,
    )
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
        &target_dir(args.target_dir)?,
        &functions,
        resolved.architecture,
    )?;
    let missing: Vec<&str> = functions
        .iter()
        .filter(|f| !f.bundled())
        .map(|f| f.name)
        .collect();
    match output {
        OutputFormat::Json => print_json(&json!({
            "architecture": resolved.architecture.as_str(),
            "built": built,
            "not_bundled_yet": missing,
        })),
        OutputFormat::Human => {
            let s = Style::stdout();
            println!(
                "{} for {}",
                s.bold("Lambda artifacts"),
                resolved.architecture.as_str()
            );
            for b in &built {
                println!(
                    "  {:<18} {:<8} {:>10} bytes  glibc {:<5} {}",
                    b.function,
                    b.binary,
                    thousands(b.zip_bytes),
                    b.glibc.as_deref().unwrap_or("none"),
                    b.key
                );
            }
            if !missing.is_empty() {
                println!(
                    "  {} {} (they run `pending`, which fails every invocation with a message naming the function)",
                    s.yellow("handler not bundled yet:"),
                    missing.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
