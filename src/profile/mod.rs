//! Profiles: YAML files that say what to deploy. Loading, defaults and validation live here;
//! nothing here knows about the terminal.

pub mod embedded;
pub mod error;
pub mod locate;
pub mod model;
pub mod regions;
pub mod text;
mod validate;

use std::path::Path;

use miette::{NamedSource, SourceSpan};

pub use error::{ProfileError, ProfileProblem, MANIFEST_CODE, PROFILE_CODE};
pub use model::*;
pub use validate::{allowed_range, display_path, placeholder_features};

/// A profile's text and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// How errors name the file: a path, or `profiles/NAME.yaml (embedded)`.
    pub name: String,
    pub text: String,
    /// The shipped profile's name, when it is one.
    pub shipped: Option<String>,
}

/// A profile with every default filled in, checked, for one region.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub profile: Profile,
    pub source: Source,
    pub region: String,
    pub variant: Variant,
    pub architecture: Architecture,
    pub identity: IdentityProvider,
    /// Things worth saying that do not stop a deploy.
    pub warnings: Vec<String>,
}

/// Which profile to use: `--profile NAME|PATH`, else `global`, or `china` when the region flag
/// is in AWS China.
pub fn select(selection: Option<&str>, region_flag: Option<&str>) -> Result<Source, ProfileError> {
    let shipped = || embedded::names().join(", ");
    let name = match selection {
        Some(sel) => sel,
        None => match region_flag.and_then(regions::variant_of) {
            Some(Variant::China) => embedded::DEFAULT_CHINA,
            _ => embedded::DEFAULT_GLOBAL,
        },
    };
    let looks_like_path = name.contains('/')
        || name.contains(std::path::MAIN_SEPARATOR)
        || name.ends_with(".yaml")
        || name.ends_with(".yml");
    if looks_like_path || (embedded::get(name).is_none() && Path::new(name).is_file()) {
        let text = text::read(Path::new(name)).map_err(|e| match e {
            text::ReadError::Io(source) => ProfileError::Read {
                path: name.to_string(),
                shipped: shipped(),
                source,
            },
            text::ReadError::NotText(why) => ProfileError::NotText {
                path: name.to_string(),
                reason: why.reason(),
                help: why.help("profile"),
            },
        })?;
        return Ok(Source {
            name: name.to_string(),
            text,
            shipped: None,
        });
    }
    match embedded::get(name) {
        Some(text) => Ok(Source {
            name: format!("profiles/{name}.yaml (embedded)"),
            text: text.to_string(),
            shipped: Some(name.to_string()),
        }),
        None => Err(ProfileError::UnknownName {
            name: name.to_string(),
            shipped: shipped(),
        }),
    }
}

/// Load, fill in and check the selected profile for the region flag (if any).
pub fn load(selection: Option<&str>, region_flag: Option<&str>) -> Result<Resolved, ProfileError> {
    let source = select(selection, region_flag)?;
    let profile = parse(&source)?;
    resolve(profile, source, region_flag)
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

/// Parse a profile's YAML, refusing unknown keys, wrong types and empty files.
pub fn parse(source: &Source) -> Result<Profile, ProfileError> {
    let blank = source
        .text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    if blank {
        return Err(invalid(
            source,
            vec![problem(
                source,
                1,
                1,
                0,
                "the profile is empty".into(),
                Some("a profile needs at least `stack_name` and `region`; start from `rmdeploy profile show > my.yaml`".into()),
            )],
        ));
    }
    let profile = serde_yaml::from_str::<Profile>(&source.text)
        .map_err(|e| invalid(source, every_type_problem(source, e)))?;
    // A key given twice in a map (`lambda.reserved_concurrency`, `dynamodb.tables`) would
    // silently take the last value; twice in a section, serde_yaml refuses it above.
    let duplicates = duplicate_problems(source);
    if !duplicates.is_empty() {
        return Err(invalid(source, duplicates));
    }
    Ok(profile)
}

/// Every problem serde reports of a file, not only the first: after each, the key it is about
/// (with what is nested under it) is blanked out and the text read again. Blanking keeps every
/// line and offset, so each problem is placed in the original text.
fn every_type_problem(source: &Source, first: serde_yaml::Error) -> Vec<ProfileProblem> {
    const MOST: usize = 50;
    let mut text = source.text.clone();
    let mut blanked: Vec<Vec<String>> = Vec::new();
    let mut error = first;
    let mut out = Vec::new();
    while out.len() < MOST {
        let message = strip_locations(&error.to_string());
        let missing = message
            .split("missing field `")
            .nth(1)
            .and_then(|r| r.split('`').next());
        // A key blanked here is missing now: that is not a problem of its own.
        if let Some(field) = missing {
            if blanked
                .iter()
                .any(|p| p.last().map(String::as_str) == Some(field))
            {
                break;
            }
        }
        let mut p = yaml_problem(
            &Source {
                text: text.clone(),
                ..source.clone()
            },
            &error,
            allowed_range,
        );
        p.source_code = NamedSource::new(source.name.clone(), source.text.clone());
        out.push(p);
        // Blanking works by lines ending in `\n`; a file with bare `\r` line breaks (which
        // YAML counts too) keeps its first problem only.
        let bare_cr = text
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'\r' && w[1] != b'\n')
            || text.ends_with('\r');
        if bare_cr {
            break;
        }
        let Some(path) = key_path(&message) else {
            break;
        };
        if path.is_empty() || blanked.contains(&path) {
            break;
        }
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        let at = locate::locate(&text, &keys);
        // Not found (the position of an ancestor or the start of the file): stop here.
        let last = keys.last().copied().unwrap_or_default();
        let line_text = text.lines().nth(at.line.saturating_sub(1)).unwrap_or("");
        if !line_text.contains(last) {
            break;
        }
        text = blank_block(&text, at.line);
        blanked.push(path);
        match serde_yaml::from_str::<Profile>(&text) {
            Ok(_) => break,
            Err(e) => error = e,
        }
    }
    out
}

/// The key a type error is about: `lambda.memory_mb: invalid type ...` is lambda.memory_mb,
/// `lambda: unknown field `x`, ...` is lambda.x. `None` for errors of the YAML itself.
fn key_path(message: &str) -> Option<Vec<String>> {
    let (prefix, rest) = match message.split_once(": ") {
        Some((p, r)) if !p.contains(' ') => (p, r),
        _ => ("", message),
    };
    let mut path: Vec<String> = prefix
        .split(['.', '['])
        .map(|k| k.trim_end_matches(']').to_string())
        .filter(|k| !k.is_empty())
        .collect();
    if let Some(field) = rest
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        path.push(field.to_string());
    } else if !(rest.starts_with("invalid type") || rest.starts_with("invalid value")) {
        return None;
    }
    Some(path)
}

/// The text with line `line` (1-based) and the more deeply indented lines after it replaced by
/// spaces, so every other line keeps its place and offsets.
fn blank_block(text: &str, line: usize) -> String {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = String::with_capacity(text.len());
    let mut depth: Option<usize> = None;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        let body = l.trim_end_matches(['\n', '\r']);
        let blank = if i + 1 == line {
            depth = Some(indent(body));
            true
        } else if let Some(d) = depth {
            let nested = body.trim().is_empty() || indent(body) > d;
            if !nested {
                depth = None;
            }
            nested
        } else {
            false
        };
        if blank {
            // One space a byte: offsets after it stay where they were.
            out.push_str(&" ".repeat(body.len()));
            out.push_str(&l[body.len()..]);
        } else {
            out.push_str(l);
        }
    }
    out
}

/// Every key given twice in one mapping of a YAML file, at its second place.
pub(crate) fn duplicate_problems(source: &Source) -> Vec<ProfileProblem> {
    locate::duplicates(&source.text)
        .into_iter()
        .map(|d| {
            let path: Vec<&str> = d.path.iter().map(String::as_str).collect();
            let at = if path.is_empty() {
                String::new()
            } else {
                format!("{}: ", display_path(&path))
            };
            duplicate_problem(source, &format!("{at}duplicate key `{}`", d.key), &d)
        })
        .collect()
}

/// A key given again, at its second place, naming the first.
fn duplicate_problem(source: &Source, message: &str, d: &locate::Duplicate) -> ProfileProblem {
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
fn strip_locations(raw: &str) -> String {
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

/// Fill defaults for the region (the flag wins over the profile's own) and check every rule.
pub fn resolve(
    mut profile: Profile,
    source: Source,
    region_flag: Option<&str>,
) -> Result<Resolved, ProfileError> {
    let region = region_flag.unwrap_or(&profile.region).to_string();
    let Some(variant) = regions::variant_of(&region) else {
        let help = regions::unknown_region_help(&region);
        if region_flag.is_some() {
            return Err(ProfileError::UnknownRegionFlag { region, help });
        }
        return Err(located(
            &source,
            vec![Issue::new(
                &["region"],
                format!("region `{region}` is not a region rmdeploy knows"),
                help,
            )],
        ));
    };
    let mut issues = Vec::new();
    if let Some(pinned) = profile.variant {
        if pinned != variant {
            let from = if region_flag.is_some() {
                "from --region"
            } else {
                "the profile's region"
            };
            issues.push(Issue::new(
                &["variant"],
                format!(
                    "variant is pinned to `{}` but region `{region}` ({from}) is in the {} partition ({})",
                    pinned.as_str(),
                    variant.as_str(),
                    variant.partition()
                ),
                format!(
                    "use a {} region, or remove `variant` and let the region choose",
                    pinned.as_str()
                ),
            ));
        }
    }
    profile.region = region.clone();
    issues.extend(validate::check(&profile, variant));
    if !issues.is_empty() {
        return Err(located(&source, issues));
    }

    let architecture = *profile.lambda.architecture.get_or_insert(match variant {
        Variant::Global => Architecture::Arm64,
        Variant::China => Architecture::X86_64,
    });
    let identity = profile.identity_provider(variant);
    profile.identity.provider = Some(identity);
    profile.variant = Some(variant);
    profile.dynamodb.default.fill_defaults();
    for capacity in profile.dynamodb.tables.values_mut() {
        capacity.fill_defaults();
    }
    let warnings = validate::warnings(&profile, variant, identity);
    Ok(Resolved {
        profile,
        source,
        region,
        variant,
        architecture,
        identity,
        warnings,
    })
}

/// Issues of a profile, placed at their line and column.
pub(crate) fn located(source: &Source, issues: Vec<Issue>) -> ProfileError {
    invalid(source, problems_at(source, issues))
}

/// Issues of any YAML file (a profile, the firmware manifest), placed at their line and column.
pub(crate) fn problems_at(source: &Source, issues: Vec<Issue>) -> Vec<ProfileProblem> {
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
pub(crate) fn yaml_problem(
    source: &Source,
    e: &serde_yaml::Error,
    ranges: fn(&[&str]) -> Option<(i64, i64)>,
) -> ProfileProblem {
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

fn invalid(source: &Source, problems: Vec<ProfileProblem>) -> ProfileError {
    ProfileError::Invalid {
        file: source.name.clone(),
        problems,
    }
}

fn problem(
    source: &Source,
    line: usize,
    column: usize,
    offset: usize,
    message: String,
    help: Option<String>,
) -> ProfileProblem {
    let offset = offset.min(source.text.len());
    let len = source.text[offset..]
        .find(['\n', ' '])
        .unwrap_or(source.text.len() - offset)
        .max(1)
        .min(source.text.len() - offset);
    ProfileProblem {
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
