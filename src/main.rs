use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`rmdeploy plan | head`).
    #[cfg(unix)]
    // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
