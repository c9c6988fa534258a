//! Terminal output: formats, colour (only on a terminal, never with NO_COLOR) and the error
//! reporter.

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Readable text.
    Human,
    /// One JSON document.
    Json,
}

/// Whether colour may be used on stdout.
pub fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Install miette's reporter: colour and Unicode only on a terminal.
pub fn install_error_reporter() {
    let _ = miette::set_hook(Box::new(|_| {
        let tty = std::io::stderr().is_terminal();
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color_stderr())
                .unicode(tty)
                .terminal_links(false)
                .wrap_lines(false)
                .build(),
        )
    }));
}

/// Print a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("output values serialize")
    );
}

/// A command's result on stdout: human text (its `Display`, in colour on a terminal) or JSON (its
/// `Serialize`). The one way results are printed.
pub fn emit<T: Serialize + std::fmt::Display>(format: OutputFormat, value: &T) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`rmdeploy plan | head`) ends the process through SIGPIPE; nothing to do.
    let _ = emit_to(&mut out, format, value, color_stdout());
}

/// [`emit`] to any writer; `color`: ANSI styling of the human form.
pub fn emit_to<T: Serialize + std::fmt::Display>(
    out: &mut dyn std::io::Write,
    format: OutputFormat,
    value: &T,
    color: bool,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(value).expect("output values serialize")
        ),
        OutputFormat::Human if color => write!(out, "{value:#}"),
        OutputFormat::Human => write!(out, "{value}"),
    }
}

/// Write `value` with the formatter's styling: `{:#}` (colour) stays `{:#}` down the tree.
pub fn nested(f: &mut std::fmt::Formatter<'_>, value: &dyn std::fmt::Display) -> std::fmt::Result {
    if f.alternate() {
        write!(f, "{value:#}")
    } else {
        write!(f, "{value}")
    }
}

/// Small ANSI styling that is a no-op without colour.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    pub fn stdout() -> Self {
        Style { on: color_stdout() }
    }
    pub fn stderr() -> Self {
        Style { on: color_stderr() }
    }
    /// The styling a `Display` implementation was asked for: colour with `{:#}`.
    pub fn of(f: &std::fmt::Formatter<'_>) -> Self {
        Style { on: f.alternate() }
    }
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// `61234` → `61,234`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
