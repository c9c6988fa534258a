//! `firmware validate`: each image checked on its own (as `esptool image-info` reads it) and, when
//! the manifest lists it, against its entry.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::image;
use super::manifest::{self, Checked, FirmwareError, Loaded};
use crate::output::Style;

/// The images validated.
#[derive(Debug, Serialize)]
pub struct Validation {
    pub images: Vec<Validated>,
}

#[derive(Debug, Serialize)]
pub struct Validated {
    pub file: String,
    pub valid: bool,
    /// The manifest entry it was compared with.
    pub manifest_image: Option<String>,
    pub chip: Option<String>,
    pub version: Option<String>,
    pub project: Option<String>,
    pub bytes: usize,
    pub sha256: Option<String>,
    pub problems: Vec<String>,
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Validate `files` (against the manifest at `manifest` when it lists them), or with no files
/// every image of the manifest. `explicit`: the manifest was named, so it must be readable.
pub fn validate(
    files: &[PathBuf],
    manifest: &Path,
    explicit: bool,
) -> Result<Validation, FirmwareError> {
    let images = if files.is_empty() {
        let loaded = manifest::load(manifest)?;
        let checked = manifest::check(&loaded, None)?;
        checked.iter().map(from_checked).collect()
    } else {
        // The manifest is optional here: without one, images are checked on their own.
        let loaded: Option<Loaded> = match manifest::load(manifest) {
            Ok(l) => Some(l),
            Err(FirmwareError::Read { .. }) if !explicit => None,
            Err(e) => return Err(e),
        };
        files.iter().map(|f| file(f, loaded.as_ref())).collect()
    };
    Ok(Validation { images })
}

impl Validation {
    /// The images that failed, as an error naming each; `None` when all passed.
    pub fn failure(&self) -> Option<ValidationFailed> {
        let failed: Vec<FailedImage> = self
            .images
            .iter()
            .filter(|r| !r.valid)
            .map(|r| FailedImage {
                file: r.file.clone(),
                defect: match r.problems.as_slice() {
                    [] => "failed validation".into(),
                    [one] => one.clone(),
                    [first, rest @ ..] => format!("{first} (and {} more problem(s))", rest.len()),
                },
            })
            .collect();
        if failed.is_empty() {
            return None;
        }
        Some(ValidationFailed {
            failed: failed.len(),
            total: self.images.len(),
            images: failed,
        })
    }
}

/// Images that failed `firmware validate`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{failed} of {total} image(s) failed validation")]
#[diagnostic(
    code(rmdeploy::firmware::validate),
    help("fix or rebuild those images (`esptool image-info FILE` shows what an image holds)")
)]
pub struct ValidationFailed {
    pub failed: usize,
    pub total: usize,
    #[related]
    pub images: Vec<FailedImage>,
}

/// One image that failed, with its (first) defect.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{file}: {defect}")]
#[diagnostic(code(rmdeploy::firmware::image))]
pub struct FailedImage {
    pub file: String,
    pub defect: String,
}

fn from_checked(c: &Checked) -> Validated {
    Validated {
        file: c.path.display().to_string(),
        valid: true,
        manifest_image: Some(c.spec.name.clone()),
        chip: image::chip_name(c.image.chip_id).map(str::to_string),
        version: Some(c.image.app.version.clone()),
        project: Some(c.image.app.project_name.clone()),
        bytes: c.bytes.len(),
        sha256: Some(c.sha256.clone()),
        problems: Vec::new(),
    }
}

pub fn file(file: &Path, loaded: Option<&Loaded>) -> Validated {
    let mut v = Validated {
        file: file.display().to_string(),
        valid: false,
        manifest_image: None,
        chip: None,
        version: None,
        project: None,
        bytes: 0,
        sha256: None,
        problems: Vec::new(),
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            v.problems.push(format!("cannot read it: {e}"));
            return v;
        }
    };
    v.bytes = bytes.len();
    v.sha256 = Some(super::sha256_hex(&bytes));
    let parsed = match image::parse(&bytes) {
        Ok(p) => p,
        Err(defect) => {
            v.problems.push(defect.to_string());
            return v;
        }
    };
    v.chip = Some(
        image::chip_name(parsed.chip_id)
            .map(str::to_string)
            .unwrap_or_else(|| format!("chip id {}", parsed.chip_id)),
    );
    v.version = Some(parsed.app.version.clone());
    v.project = Some(parsed.app.project_name.clone());
    if let Some(l) = loaded {
        if let Some(spec) = l
            .manifest
            .images
            .iter()
            .find(|i| same_file(&l.dir.join(&i.file), file))
        {
            v.manifest_image = Some(spec.name.clone());
            v.problems.extend(
                manifest::image_issues(spec, &parsed)
                    .into_iter()
                    .map(|(_, m)| m),
            );
        }
    }
    v.valid = v.problems.is_empty();
    v
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (results, s) = (&self.images, Style::of(f));
        for r in results {
            let mark = if r.valid {
                s.green("ok")
            } else {
                s.red("FAILED")
            };
            let facts = match (&r.chip, &r.version, &r.project) {
                (Some(c), Some(v), Some(p)) => format!("{c}, {p} {v}, {} bytes", r.bytes),
                _ => format!("{} bytes", r.bytes),
            };
            let against = match &r.manifest_image {
                Some(n) => format!(" (manifest image `{n}`)"),
                None => " (not in the manifest: chip, version and project not compared)".into(),
            };
            writeln!(f, "{mark} {}: {facts}{against}", r.file)?;
            for p in &r.problems {
                writeln!(f, "    {p}")?;
            }
        }
        Ok(())
    }
}
