//! Progress of a stack operation on stderr: a bar on a terminal, one plain line per event
//! otherwise (CI logs), failures always on their own line.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::deploy::events::{event_line, StackEvent};
use crate::deploy::watch::Observer;
use crate::output::Style;

pub struct Progress {
    /// The bar of the operation under way, on a terminal.
    bar: Option<ProgressBar>,
    terminal: bool,
    style: Style,
    last_seen: Option<LastSeen>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            bar: None,
            terminal: std::io::stderr().is_terminal()
                && std::env::var("TERM").map_or(true, |t| t != "dumb"),
            style: Style::stderr(),
            last_seen: None,
        }
    }

    /// Also record each status of the stack itself (for the Ctrl-C listener).
    pub fn tracking(mut self, last_seen: LastSeen) -> Progress {
        self.last_seen = Some(last_seen);
        self
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Observer for Progress {
    fn event(&mut self, e: &StackEvent) {
        if let (Some(seen), true) = (&self.last_seen, e.is_stack()) {
            seen.set(&e.status);
        }
        match &self.bar {
            Some(bar) => {
                if !e.is_stack() && e.status.ends_with("_COMPLETE") {
                    bar.inc(1);
                }
                bar.set_message(format!("{} {}", e.status, e.logical_id));
                if e.is_failure() || e.is_stack() {
                    bar.println(event_line(e, self.style));
                }
            }
            None => eprintln!("{}", event_line(e, self.style)),
        }
    }

    fn note(&mut self, message: &str) {
        self.line(format!("{} {message}", self.style.yellow("!")));
    }

    fn failure(&mut self, message: &str) {
        self.line(format!("{} {message}", self.style.red("first failure:")));
    }

    fn step(&mut self, message: &str) {
        self.line(message.to_string());
    }

    /// A bar on a terminal; without a known total (a delete, a rollback), a spinner and a count.
    fn begin(&mut self, total: usize) {
        self.finish();
        if !self.terminal {
            return;
        }
        let (bar, template) = if total == 0 {
            (
                ProgressBar::new_spinner(),
                "{spinner} [{elapsed_precise}] {pos} resources done  {wide_msg}",
            )
        } else {
            (
                ProgressBar::new(total as u64),
                "{spinner} [{elapsed_precise}] {pos}/{len} resources  {wide_msg}",
            )
        };
        bar.set_style(ProgressStyle::with_template(template).expect("the template is valid"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        self.bar = Some(bar);
    }

    fn end(&mut self) {
        self.finish();
    }

    /// A bar of `total` on a terminal; otherwise a line at each tenth (and at the end).
    fn tally(&mut self, done: usize, total: usize, what: &str) {
        if !self.terminal {
            let step = (total / 10).max(1);
            if done == total || done % step == 0 {
                eprintln!("{done}/{total} {what}");
            }
            return;
        }
        if self.bar.is_none() {
            let bar = ProgressBar::new(total as u64);
            let template = format!("{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what}  {{per_sec}}  eta {{eta}}");
            bar.set_style(ProgressStyle::with_template(&template).expect("the template is valid"));
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }
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
