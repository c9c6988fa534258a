//! Rendering: the Tera templates (embedded, or overridden from a folder) filled from the stack
//! model, parsed back into CloudFormation documents.

mod deployment;

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use miette::Diagnostic;
use serde_json::Value;
use thiserror::Error;

use crate::profile::Resolved;
use crate::stack::{self, StackModel};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The root template: the IoT backend stack.
pub const STACK_TEMPLATE: &str = "stack.yaml.tera";
/// The per-account, per-region bootstrap stack with the artifacts bucket.
pub const BOOTSTRAP_TEMPLATE: &str = "bootstrap.yaml.tera";

/// CloudFormation's limit on a template passed in the request body; above it, through S3.
pub const INLINE_TEMPLATE_LIMIT: usize = 51_200;
/// CloudFormation's limit on a template read from S3.
pub const S3_TEMPLATE_LIMIT: usize = 1_000_000;

#[derive(Debug, Error, Diagnostic)]
pub enum RenderError {
    #[error("cannot read the template folder {path}: {source}")]
    #[diagnostic(
        code(rmdeploy::render::read),
        help("--templates must name a folder of .tera files laid out like templates/ in the rmdeploy repository")
    )]
    ReadOverrides {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {name} does not render: {detail}")]
    #[diagnostic(
        code(rmdeploy::render::tera),
        help("fix the template's Tera syntax; `rmdeploy render` on the shipped templates shows a working layout")
    )]
    Tera { name: String, detail: String },
    #[error("template {name} rendered text that is not valid YAML: {detail}")]
    #[diagnostic(
        code(rmdeploy::render::yaml),
        help("check the indentation of the template around that line; write the output with `rmdeploy render --out DIR` to read it")
    )]
    Yaml { name: String, detail: String },
}

/// One rendered CloudFormation template.
#[derive(Debug, Clone)]
pub struct Template {
    /// File name the template is written as (`stack.yaml`).
    pub file_name: String,
    pub document: Value,
}

impl Template {
    /// The template as CloudFormation receives it: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.document).expect("a JSON value serializes")
    }
    /// The template as readable YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(&self.document).expect("a JSON value serializes as YAML")
    }
}

/// Everything rendered for one profile.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub stack: Template,
    pub bootstrap: Template,
}

/// The template source set: embedded templates, each replaced by a file of the same relative
/// path under `overrides` when one exists.
pub fn engine(overrides: Option<&Path>) -> Result<tera::Tera, RenderError> {
    let mut sources: Vec<(String, String)> = Vec::new();
    collect_embedded(&TEMPLATES, &mut sources);
    if let Some(dir) = overrides {
        collect_dir(dir, dir, &mut sources)?;
    }
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_templates(sources)
        .map_err(|e| RenderError::Tera {
            name: "templates".into(),
            detail: tera_detail(&e),
        })?;
    Ok(tera)
}

fn collect_embedded(dir: &Dir<'static>, out: &mut Vec<(String, String)>) {
    for file in dir.files() {
        if let (Some(path), Some(text)) = (file.path().to_str(), file.contents_utf8()) {
            if path.ends_with(".tera") {
                out.push((path.to_string(), text.to_string()));
            }
        }
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

fn collect_dir(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, String)>,
) -> Result<(), RenderError> {
    let read_err = |source| RenderError::ReadOverrides {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect_dir(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "tera") {
            let text =
                std::fs::read_to_string(&path).map_err(|source| RenderError::ReadOverrides {
                    path: path.clone(),
                    source,
                })?;
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.retain(|(n, _)| *n != name);
            out.push((name, text));
        }
    }
    Ok(())
}

fn tera_detail(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// Render every template of a resolved profile.
pub fn render(resolved: &Resolved, overrides: Option<&Path>) -> Result<Rendered, RenderError> {
    let tera = engine(overrides)?;
    let model = stack::build(resolved);
    render_with(&tera, &model)
}

/// Render with a prepared engine and model (benchmarks reuse both).
pub fn render_with(tera: &tera::Tera, model: &StackModel) -> Result<Rendered, RenderError> {
    let context = tera::Context::from_serialize(model).map_err(|e| RenderError::Tera {
        name: STACK_TEMPLATE.into(),
        detail: tera_detail(&e),
    })?;
    let mut stack = render_one(tera, STACK_TEMPLATE, &context)?;
    deployment::name_by_content(&mut stack.document);
    let bootstrap = render_one(tera, BOOTSTRAP_TEMPLATE, &context)?;
    Ok(Rendered { stack, bootstrap })
}

fn render_one(
    tera: &tera::Tera,
    name: &str,
    context: &tera::Context,
) -> Result<Template, RenderError> {
    let text = tera.render(name, context).map_err(|e| RenderError::Tera {
        name: name.into(),
        detail: tera_detail(&e),
    })?;
    let document: Value = serde_yaml::from_str(&text).map_err(|e| RenderError::Yaml {
        name: name.into(),
        detail: e.to_string(),
    })?;
    Ok(Template {
        file_name: name.trim_end_matches(".tera").to_string(),
        document,
    })
}
