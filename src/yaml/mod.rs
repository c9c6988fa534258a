//! YAML files rmdeploy reads (profiles, the firmware manifest): their text (UTF-8 checked), the
//! line and column of a key path, and problems located there with a help that says what to do.
//! Shared by `profile` and `firmware`; knows nothing of either's format.

pub mod locate;
pub mod text;

use std::fmt::Display;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode, SourceSpan};
use thiserror::Error;

/// The diagnostic code of a problem in a profile.
pub const PROFILE_CODE: &str = "rmdeploy::profile";
/// The diagnostic code of a problem in the firmware manifest.
pub const MANIFEST_CODE: &str = "rmdeploy::firmware::manifest";

/// One problem at one place of a profile (or of another YAML file: the firmware manifest).
#[derive(Debug, Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    pub source_code: NamedSource<String>,
    pub span: SourceSpan,
    /// The diagnostic code: [`PROFILE_CODE`] or [`MANIFEST_CODE`].
    pub code: &'static str,
}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source_code)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("here".into()),
            self.span,
        ))))
    }
}

/// A YAML file's text and where it came from (a profile, the firmware manifest).
#[derive(Debug, Clone)]
pub struct Source {
    /// How errors name the file: a path, or `profiles/NAME.yaml (embedded)`.
    pub name: String,
    pub text: String,
    /// The shipped profile's name, when it is one.
    pub shipped: Option<String>,
}

/// A problem at a key path, before its position is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub path: Vec<String>,
    pub message: String,
    pub help: String,
}

impl Issue {
    pub fn new(path: &[&str], message: impl Into<String>, help: impl Into<String>) -> Self {
        Issue {
            path: path.iter().map(|s| s.to_string()).collect(),
            message: message.into(),
            help: help.into(),
        }
    }
}

/// A YAML file's duplicate key, at the key given again.
pub(crate) fn duplicate_problem(source: &Source, message: &str, d: &locate::Duplicate) -> Problem {
    problem(
        source,
        d.again.line,
        d.again.column,
        d.again.offset,
        format!(
            "{message} (first given at {}:{})",
            d.first.line, d.first.column
        ),
        Some(format!(
            "keep `{}` once: remove this one or the one at {}:{}",
            d.key, d.first.line, d.first.column
        )),
    )
}

/// serde_yaml appends "at line N column M" (sometimes twice); the problem line names the place.
pub(crate) fn strip_locations(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " at line ".len()..];
        let skip = tail
            .find(|c: char| !(c.is_ascii_digit() || c == ' ' || "column".contains(c)))
            .unwrap_or(tail.len());
        rest = &tail[skip..];
    }
    out.push_str(rest);
    out
}

fn yaml_error_help(message: &str) -> String {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        let field = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = rest
            .split("expected ")
            .nth(1)
            .unwrap_or_default()
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        if let Some(near) = crate::suggest::closest(field, expected.iter().copied()) {
            return format!("did you mean `{near}`? Remove or rename the key");
        }
        return "remove or rename the key; the message lists the keys allowed here".into();
    }
    if message.contains("unknown variant") {
        return "use one of the values the message lists".into();
    }
    if message.contains("expected struct Profile") {
        return "a profile is a YAML mapping of keys (stack_name, region, lambda, ...) to values"
            .into();
    }
    if message.contains("invalid type") {
        return "give a value of the type the message names (quote text, write numbers bare)"
            .into();
    }
    if message.contains("missing field") {
        return "add the key; `rmdeploy profile show` prints a complete profile to start from"
            .into();
    }
    "the file must be YAML: a mapping of keys to values, indented with spaces".into()
}

/// Issues of any YAML file (a profile, the firmware manifest), placed at their line and column.
pub fn problems_at(source: &Source, issues: Vec<Issue>) -> Vec<Problem> {
    issues
        .into_iter()
        .map(|issue| {
            let path: Vec<&str> = issue.path.iter().map(String::as_str).collect();
            let pos = locate::locate(&source.text, &path);
            problem(
                source,
                pos.line,
                pos.column,
                pos.offset,
                issue.message,
                Some(issue.help),
            )
        })
        .collect()
}

/// A YAML or type error of any YAML file, at its place, with a help that says what to do.
/// `ranges` gives the allowed range of a whole number by its key path (see [`allowed_range`]),
/// for a number too large to read.
pub fn yaml_problem(
    source: &Source,
    e: &serde_yaml::Error,
    ranges: fn(&[&str]) -> Option<(i64, i64)>,
) -> Problem {
    let (line, column, offset) = e
        .location()
        .map(|l| (l.line(), l.column(), l.index()))
        .unwrap_or((1, 1, 0));
    let message = strip_locations(&e.to_string());
    // Errors of libyaml's reader (a control character) name a byte offset, and are placed at
    // the start of the file.
    if let Some((what, at)) = at_byte(&message).filter(|_| (line, column) == (1, 1)) {
        let pos = locate::position_at(&source.text, at);
        let found = source.text[pos.offset..].chars().next();
        let (message, help) = match found {
            Some(c) if what.starts_with("control characters") => (
                format!("{what}: U+{:04X} here", u32::from(c)),
                "remove the control character; a YAML file is plain text (retype the value, or save the file as plain UTF-8 text)".to_string(),
            ),
            _ => (what.to_string(), yaml_error_help(what)),
        };
        return problem(
            source,
            pos.line,
            pos.column,
            pos.offset,
            message,
            Some(help),
        );
    }
    // serde_yaml places a duplicate field at its mapping; point at the key given again.
    if let Some(key) = message
        .split("duplicate field `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
    {
        if let Some(d) = locate::duplicate_of(&source.text, key, line, column) {
            return duplicate_problem(source, &message, &d);
        }
        let help = format!("keep `{key}` once: remove one of the keys");
        return problem(source, line, column, offset, message, Some(help));
    }
    if let Some((message, help)) = out_of_range(&message, ranges) {
        return problem(source, line, column, offset, message, Some(help));
    }
    let help = yaml_error_help(&message);
    problem(source, line, column, offset, message, Some(help))
}

/// A reader error's text and byte offset: `control characters are not allowed at position 55`.
fn at_byte(message: &str) -> Option<(&str, usize)> {
    let (what, at) = message.rsplit_once(" at position ")?;
    Some((what, at.trim().parse().ok()?))
}

/// The whole-number types serde_yaml names, and their ranges.
const INTEGER_TYPES: &[(&str, i128, i128)] = &[
    ("i8", i8::MIN as i128, i8::MAX as i128),
    ("i16", i16::MIN as i128, i16::MAX as i128),
    ("i32", i32::MIN as i128, i32::MAX as i128),
    ("i64", i64::MIN as i128, i64::MAX as i128),
    ("u8", 0, u8::MAX as i128),
    ("u16", 0, u16::MAX as i128),
    ("u32", 0, u32::MAX as i128),
    ("u64", 0, u64::MAX as i128),
];

/// A whole number outside what its key's type holds (`invalid type: integer
/// `99999999999999999999999` as u128, expected i64`): the message and help, saying it is too
/// large or too small and what is allowed (the key's own range when `ranges` knows it).
fn out_of_range(
    message: &str,
    ranges: fn(&[&str]) -> Option<(i64, i64)>,
) -> Option<(String, String)> {
    let (path, rest) = match message.split_once(": invalid ") {
        Some((path, rest)) => (path, rest),
        None => ("", message.strip_prefix("invalid ")?),
    };
    let rest = rest
        .strip_prefix("type: integer `")
        .or_else(|| rest.strip_prefix("value: integer `"))?;
    let (number, rest) = rest.split_once('`')?;
    let expected = rest.rsplit("expected ").next()?.trim();
    let (_, type_min, type_max) = INTEGER_TYPES.iter().find(|(t, ..)| *t == expected)?;
    let too_large = match number.parse::<i128>() {
        Ok(n) if n > *type_max => true,
        Ok(n) if n < *type_min => false,
        Ok(_) => return None,
        // Beyond i128: only u128 values are written.
        Err(_) => !number.starts_with('-'),
    };
    let keys: Vec<&str> = path
        .split(['.', '['])
        .map(|k| k.trim_end_matches(']'))
        .filter(|k| !k.is_empty())
        .collect();
    let (min, max) = ranges(&keys)
        .map(|(min, max)| (i128::from(min), i128::from(max)))
        .unwrap_or((*type_min, *type_max));
    let (min, max) = (min.max(*type_min), max.min(*type_max));
    let size = if too_large { "too large" } else { "too small" };
    let at = if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    };
    Some((
        format!("{at}{number} is {size}; allowed: {min} to {max}"),
        format!("write a whole number from {min} to {max}"),
    ))
}

pub(crate) fn problem(
    source: &Source,
    line: usize,
    column: usize,
    offset: usize,
    message: String,
    help: Option<String>,
) -> Problem {
    let offset = offset.min(source.text.len());
    let len = source.text[offset..]
        .find(['\n', ' '])
        .unwrap_or(source.text.len() - offset)
        .max(1)
        .min(source.text.len() - offset);
    Problem {
        file: source.name.clone(),
        line,
        column,
        message,
        help,
        source_code: NamedSource::new(source.name.clone(), source.text.clone()),
        span: SourceSpan::new(offset.into(), len),
        code: PROFILE_CODE,
    }
}
