//! Arguments shared by the commands that read a profile.

use std::path::PathBuf;

use crate::profile::{self, Resolved};

#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// Profile to use: a shipped one by name (global, china, dev) or a path to a YAML file.
    /// Default: `global`, or `china` when --region is in AWS China.
    #[arg(long, short = 'p', value_name = "NAME|PATH", env = "RMDEPLOY_PROFILE")]
    pub profile: Option<String>,

    /// AWS region, overriding the profile's; a `cn-*` region selects the China variant.
    #[arg(long, short = 'r', value_name = "REGION")]
    pub region: Option<String>,
}

impl ProfileArgs {
    pub fn load(&self) -> miette::Result<Resolved> {
        Ok(profile::load(
            self.profile.as_deref(),
            self.region.as_deref(),
        )?)
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct TemplateArgs {
    /// Folder of Tera templates that replace the embedded ones of the same relative path
    /// (for example `stack/api.yaml.tera`).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// Run an async command body on a runtime made for it.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(future)
}

/// Listen for Ctrl-C: the first press is handed to the deploy engine as a stop request (cancel
/// an update, discard a change set); the second leaves at once with status 130, saying where the
/// stack was last seen. Call inside the runtime.
pub fn ctrl_c(last_seen: LastSeen) -> crate::deploy::interrupt::Interrupt {
    let (trigger, interrupt) = crate::deploy::interrupt::Interrupt::new();
    // Registered here, before returning, so no Ctrl-C after this call is missed.
    let mut signals = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .expect("the SIGINT handler installs");
    tokio::spawn(async move {
        while signals.recv().await.is_some() {
            if trigger.fire() == 1 {
                eprintln!("stopping at the next safe point (Ctrl-C again to leave at once)");
                continue;
            }
            let seen = last_seen.get();
            eprintln!(
                "leaving at once{}; CloudFormation carries on: follow it with `rmdeploy status`",
                seen.map(|s| format!(": the stack was last seen {s}"))
                    .unwrap_or_default()
            );
            std::process::exit(i32::from(crate::cli::EXIT_INTERRUPTED));
        }
    });
    interrupt
}

/// The stack status last shown, shared with the Ctrl-C listener.
#[derive(Debug, Clone, Default)]
pub struct LastSeen(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl LastSeen {
    pub fn set(&self, status: &str) {
        *self.0.lock().expect("never poisoned") = Some(status.to_string());
    }
    pub fn get(&self) -> Option<String> {
        self.0.lock().expect("never poisoned").clone()
    }
}

/// The user's answer to a yes/no question on the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// stdin is not a terminal: nobody can answer.
    NoTerminal,
    Interrupted,
}

/// Ask on stderr, read the answer from the terminal; Ctrl-C while waiting is `Interrupted`.
pub async fn confirm(question: &str, interrupt: &crate::deploy::interrupt::Interrupt) -> Answer {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Answer::NoTerminal;
    }
    eprint!("{question} [y/N] ");
    let read = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    });
    tokio::select! {
        answer = read => match answer {
            Ok(Ok(line)) if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") => Answer::Yes,
            _ => Answer::No,
        },
        _ = interrupt.next() => {
            eprintln!();
            Answer::Interrupted
        }
    }
}
