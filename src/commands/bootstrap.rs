//! `rmdeploy bootstrap`: create or reuse the deployment-artifacts bucket of an account and region.

use std::process::ExitCode;

use super::common::{block_on, ProfileArgs, TemplateArgs};
use crate::aws::{AwsArgs, Clients};
use crate::cli::EXIT_OK;
use crate::deploy::bootstrap;
use crate::output::{print_json, OutputFormat, Style};
use crate::render;

/// Create the bootstrap stack (the deployment-artifacts bucket) of an account and region, or find
/// and reuse it. `apply` does this on its own; run it alone to prepare an account.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let rendered = render::render(&resolved, args.templates.templates.as_deref())?;
    let result = block_on(async {
        let clients = Clients::connect(&args.aws, &resolved.region).await;
        clients.require_credentials().await?;
        eprintln!(
            "checking the bootstrap stack {} in {}",
            bootstrap::STACK_NAME,
            resolved.region
        );
        bootstrap::ensure(&clients, &rendered.bootstrap.to_json()).await
    })?;
    match output {
        OutputFormat::Json => print_json(&result),
        OutputFormat::Human => {
            let s = Style::stdout();
            println!(
                "{} {} in {}: {} ({})",
                s.bold("Bootstrap stack"),
                result.stack,
                result.region,
                result.action,
                result.status
            );
            println!("{} {}", s.bold("Artifacts bucket:"), result.bucket);
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
