//! `rmdeploy profile`: the profile format and the effective profile.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use super::args::ProfileArgs;
use crate::exit::EXIT_OK;
use crate::output::{print_json, OutputFormat};
use crate::profile::{embedded, Profile};

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
        Command::Show(args) => {
            let resolved = args.profile.load()?;
            match output {
                OutputFormat::Json => print_json(&resolved.profile),
                OutputFormat::Human => {
                    println!("# effective profile from {}", resolved.source.name);
                    print!(
                        "{}",
                        serde_yaml::to_string(&resolved.profile).expect("a profile serializes")
                    );
                }
            }
        }
        Command::List => {
            let names = embedded::names();
            match output {
                OutputFormat::Json => print_json(&json!({ "profiles": names })),
                OutputFormat::Human => {
                    for name in names {
                        let about = embedded::get(name)
                            .and_then(|t| t.lines().next())
                            .and_then(|l| l.strip_prefix('#'))
                            .unwrap_or("")
                            .trim();
                        println!("{name:<8} {about}");
                    }
                }
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The JSON Schema of the profile format.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Profile)).expect("schema serializes")
}
