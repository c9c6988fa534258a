//! `rmdeploy render`: print the rendered root template, or write every template.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use miette::{Context, IntoDiagnostic};
use serde::Serialize;
use serde_json::{json, Value};

use super::args::{ProfileArgs, TemplateArgs};
use crate::exit::EXIT_OK;
use crate::output::{emit, OutputFormat};
use crate::render::{Rendered, Template};

/// Render the CloudFormation for a profile. Prints the root template to stdout (YAML, or JSON
/// with `--output json`); `--out DIR` writes every template and a parameters file instead.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    /// Write stack, bootstrap and parameters files into this folder (made if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let session = args.templates.session(&args.profile)?;
    match &args.out {
        None => emit(output, &Root(&session.rendered.stack)),
        Some(dir) => emit(
            output,
            &Written {
                written: write_all(dir, &session.rendered, output)?,
            },
        ),
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The root template: YAML, or its JSON document.
struct Root<'a>(&'a Template);

impl Serialize for Root<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.document.serialize(s)
    }
}

impl fmt::Display for Root<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.to_yaml())
    }
}

/// The files `--out` wrote.
#[derive(Serialize)]
struct Written {
    written: Vec<String>,
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for path in &self.written {
            writeln!(f, "{path}")?;
        }
        Ok(())
    }
}

/// Write the templates (YAML, or JSON with `--output json`) and `parameters.json`.
fn write_all(dir: &Path, rendered: &Rendered, output: OutputFormat) -> miette::Result<Vec<String>> {
    std::fs::create_dir_all(dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create the output folder {}", dir.display()))?;
    let mut written = Vec::new();
    for template in [&rendered.stack, &rendered.bootstrap] {
        let (name, text) = match output {
            OutputFormat::Human => (template.file_name.clone(), template.to_yaml()),
            OutputFormat::Json => (
                template.file_name.replace(".yaml", ".json"),
                serde_json::to_string_pretty(&template.document).expect("JSON serializes") + "\n",
            ),
        };
        written.push(write(dir, &name, &text)?);
    }
    let params =
        serde_json::to_string_pretty(&parameters(&rendered.stack)).expect("JSON serializes") + "\n";
    written.push(write(dir, "parameters.json", &params)?);
    Ok(written)
}

fn write(dir: &Path, name: &str, text: &str) -> miette::Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, text)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot write {}", path.display()))?;
    Ok(path.display().to_string())
}

/// The stack's parameters and where `apply` takes each value from.
fn parameters(stack: &Template) -> Value {
    let params = stack
        .document
        .get("Parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let entries: serde_json::Map<String, Value> = params
        .keys()
        .map(|name| {
            let source = match name.as_str() {
                "ArtifactsBucket" => {
                    "output ArtifactsBucketName of the rmdeploy bootstrap stack".to_string()
                }
                "IotDataEndpoint" => {
                    "iot:DescribeEndpoint with endpointType iot:Data-ATS".to_string()
                }
                key => format!(
                    "SHA-256 content key of the {} zip, uploaded by apply",
                    key.trim_end_matches("CodeKey")
                ),
            };
            (
                name.clone(),
                json!({ "value": null, "set_by_apply_from": source }),
            )
        })
        .collect();
    json!({ "Parameters": entries })
}
