//! The firmware manifest (`device-fw/manifest.yaml`): per image its file, chip, version, project
//! and rollout limits. Loading it checks every rule and reads and validates every image, so a bad
//! manifest or image is refused before anything is uploaded.

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::image::{self, Image};
use crate::yaml::text::{self, NotText};
use crate::yaml::{
    problems_at, yaml_problem, Issue, Problem as ProfileProblem, Source, MANIFEST_CODE,
};

/// Where the manifest is unless `--manifest` says otherwise.
pub const DEFAULT_PATH: &str = "device-fw/manifest.yaml";

/// Device firmware that rmdeploy publishes for over-the-air updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The images; profiles name the ones to publish (`firmware.images`).
    pub images: Vec<ManifestImage>,
}

/// One firmware image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestImage {
    /// The name profiles and commands use for it (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// The ESP32 application image, relative to the manifest's folder.
    pub file: String,
    /// The chip it runs on: esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c5, esp32c6, esp32h2,
    /// esp32p4 (and the newer esp32c61, esp32h21, esp32h4, esp32e22, esp32s31). Must match the
    /// image header's chip id.
    pub chip: String,
    /// Must match the image's app descriptor (`esp_app_desc_t.version`).
    pub version: String,
    /// Must match the image's app descriptor (`esp_app_desc_t.project_name`); nodes report it
    /// in their config, and OTA offers an image to the nodes of its project and chip.
    pub project: String,
    /// How the update rolls out.
    #[serde(default)]
    pub rollout: Rollout,
}

/// Rollout limits (seed 004: too many parallel OTA sessions take a Thread mesh down).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// At most this many OTA sessions at once per network (1 to 10000).
    #[serde(default = "default_parallel")]
    pub max_parallel_per_network: i64,
    /// At most this many devices started per minute (1 to 1000).
    #[serde(default = "default_per_minute")]
    pub max_per_minute: i64,
    /// Stop the rollout when this share of finished sessions failed, in percent (1 to 100).
    #[serde(default = "default_abort")]
    pub abort_threshold_percent: i64,
    /// A session without news for this long counts as failed and frees its slot (1 to 10080).
    #[serde(default = "default_timeout")]
    pub timeout_minutes: i64,
    /// Offer the image to nodes on a newer version too (a rollback); by default only nodes on an
    /// older version get it, versions compared as ESP-IDF versions (docs/firmware.md).
    #[serde(default)]
    pub allow_downgrade: bool,
}

fn default_parallel() -> i64 {
    10
}
fn default_per_minute() -> i64 {
    60
}
fn default_abort() -> i64 {
    20
}
fn default_timeout() -> i64 {
    60
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            max_parallel_per_network: default_parallel(),
            max_per_minute: default_per_minute(),
            abort_threshold_percent: default_abort(),
            timeout_minutes: default_timeout(),
            allow_downgrade: false,
        }
    }
}

/// Loading the manifest or one of its images failed.
#[derive(Debug, Error, Diagnostic)]
pub enum FirmwareError {
    #[error("cannot read the firmware manifest {path}: {source}")]
    #[diagnostic(
        code(rmdeploy::firmware::read),
        help("give its path with --manifest; {DEFAULT_PATH} is the default, and `rmdeploy firmware schema` prints what it holds")
    )]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read the firmware manifest {path}: {reason}")]
    #[diagnostic(code(rmdeploy::firmware::encoding))]
    NotText {
        path: String,
        reason: String,
        #[help]
        help: String,
    },

    #[error("{file} is not a valid firmware manifest: {count} problem(s)")]
    #[diagnostic(
        code(rmdeploy::firmware::invalid),
        help("fix each problem below; nothing was uploaded")
    )]
    Invalid {
        file: String,
        count: usize,
        #[related]
        problems: Vec<ProfileProblem>,
    },

    #[error("the firmware manifest {manifest} has no image named `{name}`")]
    #[diagnostic(code(rmdeploy::firmware::unknown_image))]
    UnknownImage {
        manifest: String,
        name: String,
        #[help]
        help: String,
    },
}

/// A manifest read from a file.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: Source,
    /// The folder image files are relative to.
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// An image that passed every check, with its bytes and digests.
#[derive(Debug, Clone)]
pub struct Checked {
    pub spec: ManifestImage,
    pub path: PathBuf,
    pub bytes: std::sync::Arc<Vec<u8>>,
    pub image: Image,
    pub sha256: String,
    pub md5: String,
}

/// Read and parse the manifest; rules are checked by [`check`].
pub fn load(path: &Path) -> Result<Loaded, FirmwareError> {
    let name = path.display().to_string();
    let text = text::read(path).map_err(|e| match e {
        text::ReadError::Io(source) => FirmwareError::Read {
            path: name.clone(),
            source,
        },
        text::ReadError::NotText(why) => not_text(&name, &why),
    })?;
    let source = Source {
        name: name.clone(),
        text,
        shipped: None,
    };
    let manifest: Manifest = serde_yaml::from_str(&source.text).map_err(|e| {
        let mut p = yaml_problem(&source, &e, allowed_range);
        p.code = MANIFEST_CODE;
        if p.message.contains("missing field") {
            p.help = Some("every image needs name, file, chip, version and project; `rmdeploy firmware schema` lists them".into());
        }
        FirmwareError::Invalid {
            file: name.clone(),
            count: 1,
            problems: vec![p],
        }
    })?;
    Ok(Loaded {
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        source,
        manifest,
    })
}

fn not_text(path: &str, why: &NotText) -> FirmwareError {
    FirmwareError::NotText {
        path: path.to_string(),
        reason: why.reason(),
        help: why.help("firmware manifest"),
    }
}

/// The rollout limits and the largest value of each (the smallest is 1).
const ROLLOUT_LIMITS: [(&str, i64); 4] = [
    ("max_parallel_per_network", 10_000),
    ("max_per_minute", 1_000),
    ("abort_threshold_percent", 100),
    ("timeout_minutes", 10_080),
];

/// The allowed range of a whole number of the manifest, by key path.
fn allowed_range(path: &[&str]) -> Option<(i64, i64)> {
    match path {
        ["images", _, "rollout", key] => ROLLOUT_LIMITS
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, max)| (1, *max)),
        _ => None,
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The rules of the manifest's own values (not its images' bytes).
fn rule_issues(m: &Manifest) -> Vec<Issue> {
    let mut out = Vec::new();
    if m.images.is_empty() {
        out.push(Issue::new(
            &["images"],
            "the manifest lists no image",
            "add an image (name, file, chip, version, project) or remove the manifest",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, img) in m.images.iter().enumerate() {
        let index = i.to_string();
        let at = |key: &'static str| -> Vec<&str> { vec!["images", index.as_str(), key] };
        if !valid_name(&img.name) {
            out.push(Issue::new(
                &at("name"),
                format!("image name `{}` is not a valid name", img.name),
                "use 1 to 64 letters, digits, `-`, `_` or `.`",
            ));
        } else if !seen.insert(img.name.as_str()) {
            out.push(Issue::new(
                &at("name"),
                format!("image `{}` is listed twice", img.name),
                "give each image its own name",
            ));
        }
        if image::chip_id(&img.chip).is_none() {
            // No "did you mean": chip names differ by a character (esp32c3, esp32c6), and a
            // near one is often another chip (esp8266).
            let chips: Vec<&str> = image::chip_names().collect();
            let help = format!("use one of {}", chips.join(", "));
            out.push(Issue::new(
                &at("chip"),
                format!("chip `{}` is not an ESP32 chip rmdeploy knows", img.chip),
                help,
            ));
        }
        for (key, value) in [("version", &img.version), ("project", &img.project)] {
            if value.trim().is_empty() || value.len() > 31 {
                out.push(Issue::new(
                    &at(key),
                    format!("{key} `{value}` must be 1 to 31 characters"),
                    "the app descriptor holds at most 31 characters; use the value the image was built with",
                ));
            }
        }
        let rollout_at =
            |key: &'static str| -> Vec<&str> { vec!["images", index.as_str(), "rollout", key] };
        let r = &img.rollout;
        let values = [
            r.max_parallel_per_network,
            r.max_per_minute,
            r.abort_threshold_percent,
            r.timeout_minutes,
        ];
        for ((key, max), value) in ROLLOUT_LIMITS.into_iter().zip(values) {
            if !(1..=max).contains(&value) {
                out.push(Issue::new(
                    &rollout_at(key),
                    format!("rollout.{key} is {value}, outside 1 to {max}"),
                    format!("give a whole number from 1 to {max}"),
                ));
            }
        }
    }
    out
}

/// What an image's bytes say against what the manifest says of it: the manifest key that
/// disagrees, and how.
pub fn image_issues(spec: &ManifestImage, image: &Image) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(want) = image::chip_id(&spec.chip) {
        if image.chip_id != want {
            out.push((
                "chip",
                format!(
                    "the image is built for {} (chip id {}), the manifest says {} (chip id {want})",
                    image::chip_name(image.chip_id).unwrap_or("an unknown chip"),
                    image.chip_id,
                    spec.chip
                ),
            ));
        }
    }
    if image.app.version != spec.version {
        out.push((
            "version",
            format!(
                "the image's version is `{}`, the manifest says `{}`",
                image.app.version, spec.version
            ),
        ));
    }
    if image.app.project_name != spec.project {
        out.push((
            "project",
            format!(
                "the image's project is `{}`, the manifest says `{}`",
                image.app.project_name, spec.project
            ),
        ));
    }
    out
}

/// Check the manifest's rules and every image it lists (or only `names`), reading and parsing
/// each file: all images that pass, or every problem found.
pub fn check(loaded: &Loaded, names: Option<&[String]>) -> Result<Vec<Checked>, FirmwareError> {
    let m = &loaded.manifest;
    if let Some(names) = names {
        for name in names {
            if !m.images.iter().any(|i| &i.name == name) {
                let known: Vec<&str> = m.images.iter().map(|i| i.name.as_str()).collect();
                let help = match crate::suggest::closest(name, known.iter().copied()) {
                    Some(near) => format!(
                        "did you mean `{near}`? The manifest lists: {}",
                        known.join(", ")
                    ),
                    None => format!("the manifest lists: {}", known.join(", ")),
                };
                return Err(FirmwareError::UnknownImage {
                    manifest: loaded.source.name.clone(),
                    name: name.clone(),
                    help,
                });
            }
        }
    }
    let mut issues = rule_issues(m);
    let mut checked = Vec::new();
    for (i, spec) in m.images.iter().enumerate() {
        if names.is_some_and(|n| !n.contains(&spec.name)) {
            continue;
        }
        let index = i.to_string();
        let path = loaded.dir.join(&spec.file);
        let at: Vec<&str> = vec!["images", index.as_str(), "file"];
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                issues.push(Issue::new(
                    &at,
                    format!("cannot read image {}: {e}", path.display()),
                    "the path is relative to the manifest's folder; check it",
                ));
                continue;
            }
        };
        match image::parse(&bytes) {
            Err(defect) => issues.push(Issue::new(
                &at,
                format!("{} is not a valid ESP32 app image: {defect}", path.display()),
                "rebuild the image (idf.py build / espflash save-image); `esptool image-info` shows what it holds",
            )),
            Ok(parsed) => {
                let mismatches = image_issues(spec, &parsed);
                for (key, mismatch) in &mismatches {
                    issues.push(Issue::new(
                        &["images", index.as_str(), key],
                        format!("{}: {mismatch}", path.display()),
                        "publish the image the manifest describes, or correct the manifest",
                    ));
                }
                if mismatches.is_empty() {
                    checked.push(Checked {
                        sha256: crate::artifacts::package::sha256_hex(&bytes),
                        md5: format!("{:x}", md5::compute(&bytes)),
                        spec: spec.clone(),
                        path,
                        image: parsed,
                        bytes: std::sync::Arc::new(bytes),
                    });
                }
            }
        }
    }
    if issues.is_empty() {
        return Ok(checked);
    }
    let mut problems = problems_at(&loaded.source, issues);
    for p in &mut problems {
        p.code = MANIFEST_CODE;
    }
    Err(FirmwareError::Invalid {
        file: loaded.source.name.clone(),
        count: problems.len(),
        problems,
    })
}
