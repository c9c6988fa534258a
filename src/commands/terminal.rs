//! The terminal side of the workflows: the runtime, Ctrl-C, questions on the terminal.

use crate::deploy::interrupt::Interrupt;
use crate::workflow::{Answer, Prompter};

pub use super::progress::LastSeen;

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
pub fn ctrl_c(last_seen: LastSeen) -> Interrupt {
    two_presses(
        "stopping at the next safe point (Ctrl-C again to leave at once)",
        move || {
            let seen = last_seen.get();
            format!(
                "leaving at once{}; CloudFormation carries on: follow it with `rmdeploy status`",
                seen.map(|s| format!(": the stack was last seen {s}"))
                    .unwrap_or_default()
            )
        },
    )
}

/// Listen for Ctrl-C: the first press fires the returned interrupt, saying `first`; the second
/// says `leave()` and exits at once with status 130. Call inside the runtime.
pub fn two_presses(first: &'static str, leave: impl Fn() -> String + Send + 'static) -> Interrupt {
    let (trigger, interrupt) = Interrupt::new();
    // Registered here, before returning, so no Ctrl-C after this call is missed.
    let mut signals = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .expect("the SIGINT handler installs");
    tokio::spawn(async move {
        while signals.recv().await.is_some() {
            if trigger.fire() == 1 {
                eprintln!("{first}");
                continue;
            }
            eprintln!("{}", leave());
            std::process::exit(i32::from(crate::exit::EXIT_INTERRUPTED));
        }
    });
    interrupt
}

/// Ask on stderr, read the answer from the terminal; Ctrl-C while waiting is `Interrupted`.
pub async fn confirm(question: &str, interrupt: &Interrupt) -> Answer {
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

/// Questions asked on the terminal (stderr), answered on stdin.
#[derive(Debug, Default)]
pub struct Terminal;

impl Prompter for Terminal {
    async fn confirm(&mut self, question: &str, interrupt: &Interrupt) -> Answer {
        confirm(question, interrupt).await
    }
}

/// The workflows' user interface on a terminal: progress on stderr (a bar on a terminal), questions
/// on stderr answered on stdin, and what is shown before a question on stdout (human output only).
pub struct Ui {
    pub progress: super::progress::Progress,
    pub output: crate::output::OutputFormat,
}

impl Ui {
    pub fn new(output: crate::output::OutputFormat, last_seen: LastSeen) -> Ui {
        Ui {
            progress: super::progress::Progress::new().tracking(last_seen),
            output,
        }
    }

    /// Show `value` on stdout in human output; JSON output holds only the result.
    fn show(&self, value: &(impl serde::Serialize + std::fmt::Display)) {
        if self.output == crate::output::OutputFormat::Human {
            crate::output::emit(self.output, value);
        }
    }
}

impl crate::deploy::watch::Observer for Ui {
    fn event(&mut self, event: &crate::deploy::events::StackEvent) {
        self.progress.event(event)
    }
    fn note(&mut self, message: &str) {
        self.progress.note(message)
    }
    fn failure(&mut self, message: &str) {
        self.progress.failure(message)
    }
    fn step(&mut self, message: &str) {
        self.progress.step(message)
    }
    fn begin(&mut self, total: usize) {
        self.progress.begin(total)
    }
    fn end(&mut self) {
        self.progress.end()
    }
}

impl Prompter for Ui {
    async fn confirm(&mut self, question: &str, interrupt: &Interrupt) -> Answer {
        confirm(question, interrupt).await
    }
}

impl crate::workflow::apply::Ui for Ui {
    fn review(&mut self, review: &crate::workflow::apply::Review<'_>) {
        self.show(&Shown(review));
    }
    fn shortfall(&mut self, shortfall: &crate::workflow::apply::QuotaShortfall) {
        self.show(&Shown(&crate::quotas::CheckList(&shortfall.checks)));
    }
}

/// A value shown before a question: its human form only.
struct Shown<'a, T: std::fmt::Display>(&'a T);

impl<T: std::fmt::Display> std::fmt::Display for Shown<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::output::nested(f, self.0)
    }
}

impl<T: std::fmt::Display> serde::Serialize for Shown<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}
