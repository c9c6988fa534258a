//! `rmdeploy bootstrap`: create or reuse the deployment-artifacts bucket of an account and region.

use std::process::ExitCode;

use super::args::StackArgs;
use super::terminal::block_on;
use crate::deploy::bootstrap;
use crate::exit::EXIT_OK;
use crate::output::{emit, OutputFormat};

/// Create the bootstrap stack (the deployment-artifacts bucket) of an account and region, or find
/// and reuse it. `apply` does this on its own; run it alone to prepare an account.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let session = args.stack.session()?;
    let result = block_on(async {
        let clients = args.stack.connect(&session).await?;
        eprintln!(
            "checking the bootstrap stack {} in {}",
            bootstrap::STACK_NAME,
            session.region()
        );
        Ok::<_, miette::Report>(
            bootstrap::ensure(&clients, &session.rendered.bootstrap.to_json()).await?,
        )
    })?;
    emit(output, &result);
    Ok(ExitCode::from(EXIT_OK))
}
