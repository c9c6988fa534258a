//! Progress of a stack operation on stderr: a bar on a terminal, one plain line per event
//! otherwise (CI logs), failures always on their own line.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::deploy::events::StackEvent;
use crate::deploy::watch::Observer;
use crate::output::Style;

pub struct Progress {
    bar: Option<ProgressBar>,
    style: Style,
    last_seen: Option<super::common::LastSeen>,
}

impl Progress {
    /// `total`: the resources the operation touches, when known.
    pub fn new(total: usize) -> Progress {
        let terminal =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        let bar = terminal.then(|| {
            // Without a known total (a delete, a rollback): a spinner and a count.
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
            bar
        });
        Progress {
            bar,
            style: Style::stderr(),
            last_seen: None,
        }
    }

    /// Also record each status of the stack itself (for the Ctrl-C listener).
    pub fn tracking(mut self, last_seen: super::common::LastSeen) -> Progress {
        self.last_seen = Some(last_seen);
        self
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One event as a line: time, status, logical id, type, reason.
pub fn event_line(e: &StackEvent, s: Style) -> String {
    let time = e.timestamp.get(11..19).unwrap_or(&e.timestamp);
    let status = format!("{:<28}", e.status);
    let status = if e.is_failure() {
        s.red(&status)
    } else if e.status.ends_with("_COMPLETE") && !e.status.contains("ROLLBACK") {
        s.green(&status)
    } else {
        status
    };
    let reason = e
        .reason
        .as_deref()
        .map(|r| format!("  {r}"))
        .unwrap_or_default();
    format!(
        "  {time} {status} {}  {}{reason}",
        e.logical_id, e.resource_type
    )
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
}
