//! `rmdeploy profile`: the profile format and the effective profile.

use std::process::ExitCode;

use std::fmt;

use clap::Subcommand;
use serde::Serialize;
use serde_json::json;

use super::args::ProfileArgs;
use crate::exit::EXIT_OK;
use crate::output::{emit, print_json, OutputFormat};
use crate::profile::{embedded, Profile, Resolved};

/// Inspect profiles.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a JSON Schema of the profile format, for editors (for example yaml-language-server).
    Schema,
    /// Print the effective profile, every default filled in, as YAML (JSON with --output json).
    Show(ShowArgs),
    /// List the shipped profiles.
    List,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
}

pub fn run(cmd: Command, output: OutputFormat) -> miette::Result<ExitCode> {
    match cmd {
        Command::Schema => print_json(&schema()),
        Command::Show(args) => emit(output, &Effective(&args.profile.load()?)),
        Command::List => emit(output, &Shipped(embedded::names())),
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The effective profile: YAML under a comment naming its source, or its JSON.
struct Effective<'a>(&'a Resolved);

impl Serialize for Effective<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.profile.serialize(s)
    }
}

impl fmt::Display for Effective<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# effective profile from {}", self.0.source.name)?;
        let yaml = serde_yaml::to_string(&self.0.profile).map_err(|_| fmt::Error)?;
        write!(f, "{yaml}")
    }
}

/// The shipped profiles, each with the first line of its comment.
#[derive(Serialize)]
struct Shipped(#[serde(serialize_with = "as_profiles")] Vec<&'static str>);

fn as_profiles<S: serde::Serializer>(names: &[&'static str], s: S) -> Result<S::Ok, S::Error> {
    json!({ "profiles": names }).serialize(s)
}

impl fmt::Display for Shipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for name in &self.0 {
            let about = embedded::get(name)
                .and_then(|t| t.lines().next())
                .and_then(|l| l.strip_prefix('#'))
                .unwrap_or("")
                .trim();
            writeln!(f, "{name:<8} {about}")?;
        }
        Ok(())
    }
}

/// The JSON Schema of the profile format.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Profile)).expect("schema serializes")
}
