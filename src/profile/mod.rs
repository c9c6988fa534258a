//! Profiles: YAML files that say what to deploy. Loading, defaults and validation live here;
//! nothing here knows about the terminal.

pub mod embedded;
pub mod error;
pub mod model;
pub mod regions;
mod validate;

use std::path::Path;

use miette::NamedSource;

pub use crate::yaml::{locate, text, Issue, Problem as ProfileProblem, Source, PROFILE_CODE};
pub use error::ProfileError;

use crate::yaml::{duplicate_problem, problem, problems_at, strip_locations, yaml_problem};
pub use model::*;
pub use validate::{allowed_range, display_path, placeholder_features};

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

fn invalid(source: &Source, problems: Vec<ProfileProblem>) -> ProfileError {
    ProfileError::Invalid {
        file: source.name.clone(),
        problems,
    }
}
