use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rmdeploy::cli::Cli::parse();
    rmdeploy::output::install_error_reporter();
    match cli.run() {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::from(rmdeploy::cli::EXIT_ERROR)
        }
    }
}
