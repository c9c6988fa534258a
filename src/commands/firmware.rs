//! `rmdeploy firmware`: validate ESP32 app images, publish them for OTA, list what is published.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use miette::miette;
use serde::Serialize;

use super::common::{block_on, ProfileArgs};
use crate::aws::{AwsArgs, Clients};
use crate::cli::EXIT_OK;
use crate::firmware::manifest::{self, Checked, Loaded, Manifest};
use crate::firmware::{image, publish};
use crate::output::{print_json, OutputFormat, Style};
use crate::profile::{Issue, Resolved};

/// Validate, publish and list device firmware for over-the-air updates.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check ESP32 app images: magic, segment count and bounds, checksum, appended SHA-256, app
    /// descriptor, and chip, version and project against the manifest. With no FILE, every image
    /// of the manifest. Exit status 1 when any image fails.
    Validate(ValidateArgs),
    /// Upload images to the deployed stack's firmware bucket (content-addressed, skipped when
    /// already there) and register their OTA jobs (and AWS IoT Jobs when the profile sets
    /// `firmware.iot_jobs`). Every image is checked first: a bad one stops it before anything
    /// is uploaded.
    Publish(PublishArgs),
    /// Show the published images and each job's progress.
    List(ListArgs),
    /// Print a JSON Schema of the manifest format (`device-fw/manifest.yaml`).
    Schema,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Image files; an image the manifest lists is also checked against its entry.
    pub files: Vec<PathBuf>,
    /// The firmware manifest [default: device-fw/manifest.yaml].
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Images to publish, by manifest name (repeatable). Default: the profile's
    /// `firmware.images`.
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,
    /// The firmware manifest [default: the profile's `firmware.manifest`].
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(cmd: Command, output: OutputFormat) -> miette::Result<ExitCode> {
    match cmd {
        Command::Validate(args) => validate(args, output),
        Command::Publish(args) => publish_cmd(args, output),
        Command::List(args) => list(args, output),
        Command::Schema => {
            print_json(&schema());
            Ok(ExitCode::from(EXIT_OK))
        }
    }
}

/// The JSON Schema of the manifest format.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Manifest)).expect("schema serializes")
}

#[derive(Debug, Serialize)]
struct Validated {
    file: String,
    valid: bool,
    /// The manifest entry it was compared with.
    manifest_image: Option<String>,
    chip: Option<String>,
    version: Option<String>,
    project: Option<String>,
    bytes: usize,
    sha256: Option<String>,
    problems: Vec<String>,
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn validate(args: ValidateArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let path = args
        .manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from(manifest::DEFAULT_PATH));
    let results: Vec<Validated> = if args.files.is_empty() {
        let loaded = manifest::load(&path)?;
        let checked = manifest::check(&loaded, None)?;
        checked.iter().map(from_checked).collect()
    } else {
        // The manifest is optional here: without one, images are checked on their own.
        let loaded: Option<Loaded> = match manifest::load(&path) {
            Ok(l) => Some(l),
            Err(manifest::FirmwareError::Read { .. }) if args.manifest.is_none() => None,
            Err(e) => return Err(e.into()),
        };
        args.files
            .iter()
            .map(|f| validate_file(f, loaded.as_ref()))
            .collect()
    };
    let failed = results.iter().filter(|r| !r.valid).count();
    match output {
        OutputFormat::Json => print_json(&serde_json::json!({ "images": results })),
        OutputFormat::Human => print_validated(&results),
    }
    if failed > 0 {
        // Named here as well as in the report on stdout, which may be JSON or go to a file.
        return Err(ValidationFailed {
            failed,
            total: results.len(),
            images: results
                .iter()
                .filter(|r| !r.valid)
                .map(|r| FailedImage {
                    file: r.file.clone(),
                    defect: match r.problems.as_slice() {
                        [] => "failed validation".into(),
                        [one] => one.clone(),
                        [first, rest @ ..] => {
                            format!("{first} (and {} more problem(s))", rest.len())
                        }
                    },
                })
                .collect(),
        }
        .into());
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Images that failed `firmware validate`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{failed} of {total} image(s) failed validation")]
#[diagnostic(
    code(rmdeploy::firmware::validate),
    help("fix or rebuild those images (`esptool image-info FILE` shows what an image holds)")
)]
struct ValidationFailed {
    failed: usize,
    total: usize,
    #[related]
    images: Vec<FailedImage>,
}

/// One image that failed, with its (first) defect.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{file}: {defect}")]
#[diagnostic(code(rmdeploy::firmware::image))]
struct FailedImage {
    file: String,
    defect: String,
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

fn validate_file(file: &Path, loaded: Option<&Loaded>) -> Validated {
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
    v.sha256 = Some(crate::artifacts::package::sha256_hex(&bytes));
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

fn print_validated(results: &[Validated]) {
    let s = Style::stdout();
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
        println!("{mark} {}: {facts}{against}", r.file);
        for p in &r.problems {
            println!("    {p}");
        }
    }
}

/// The manifest a profile uses, or the one given.
fn manifest_path(given: Option<&PathBuf>, resolved: &Resolved) -> PathBuf {
    given
        .cloned()
        .unwrap_or_else(|| PathBuf::from(&resolved.profile.firmware.manifest))
}

/// Load and check the images to publish; nothing is uploaded when any fails.
pub fn checked_images(
    resolved: &Resolved,
    manifest: Option<&PathBuf>,
    names: &[String],
) -> miette::Result<Vec<Checked>> {
    let loaded = manifest::load(&manifest_path(manifest, resolved))?;
    Ok(manifest::check(&loaded, Some(names))?)
}

/// The images the profile lists (`firmware.images`), checked against its manifest as `apply`
/// checks them before deploying: each name must be in the manifest (else a located error in the
/// profile), and each image file must pass. `manifest` overrides the profile's
/// `firmware.manifest`. None when the profile lists none.
pub fn profile_images(
    resolved: &Resolved,
    manifest: Option<&PathBuf>,
) -> miette::Result<Vec<Checked>> {
    let firmware = &resolved.profile.firmware;
    if firmware.images.is_empty() {
        return Ok(Vec::new());
    }
    let path = manifest_path(manifest, resolved);
    let loaded = match manifest::load(&path) {
        Ok(loaded) => loaded,
        Err(manifest::FirmwareError::Read { path, source }) if manifest.is_none() => {
            return Err(crate::profile::located(
                &resolved.source,
                vec![Issue::new(
                    &["firmware", "manifest"],
                    format!("cannot read the firmware manifest {path}: {source}"),
                    "firmware.manifest is the manifest's path from the folder rmdeploy runs in: correct it, or remove firmware.images",
                )],
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let known: Vec<&str> = loaded
        .manifest
        .images
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    let issues: Vec<Issue> = firmware
        .images
        .iter()
        .enumerate()
        .filter(|(_, image)| !known.contains(&image.name.as_str()))
        .map(|(i, image)| {
            let near = crate::suggest::closest(&image.name, known.iter().copied())
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            Issue::new(
                &["firmware", "images", &i.to_string(), "name"],
                format!(
                    "the firmware manifest {} has no image named `{}`",
                    loaded.source.name, image.name
                ),
                format!(
                    "{near}The manifest lists: {}",
                    if known.is_empty() {
                        "no image".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
        .collect();
    if !issues.is_empty() {
        return Err(crate::profile::located(&resolved.source, issues).into());
    }
    let names: Vec<String> = firmware.images.iter().map(|i| i.name.clone()).collect();
    Ok(manifest::check(&loaded, Some(&names))?)
}

/// The profile's rollout limits over the manifest's, by image name.
pub fn overrides(resolved: &Resolved) -> publish::Overrides {
    resolved
        .profile
        .firmware
        .images
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                (i.max_parallel_per_network, i.max_per_minute),
            )
        })
        .collect()
}

fn publish_cmd(args: PublishArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let images = if args.images.is_empty() {
        profile_images(&resolved, args.manifest.as_ref())?
    } else {
        checked_images(&resolved, args.manifest.as_ref(), &args.images)?
    };
    if images.is_empty() {
        return Err(miette!(
            help = "name images with --image NAME, or list them in the profile's firmware.images",
            "no image to publish"
        ));
    }
    let published = block_on(async {
        let (clients, target) = connect(&args.aws, &resolved).await?;
        eprintln!(
            "publishing {} image(s) to bucket {} of stack {}",
            images.len(),
            target.bucket,
            target.stack
        );
        publish::publish(&clients, &target, &images, &overrides(&resolved)).await
    })?;
    match output {
        OutputFormat::Json => print_json(&serde_json::json!({ "published": published })),
        OutputFormat::Human => print_published(&published),
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The account's clients and where the stack keeps firmware.
async fn connect(
    aws: &AwsArgs,
    resolved: &Resolved,
) -> Result<(Clients, publish::Target), crate::deploy::DeployError> {
    let clients = Clients::connect(aws, &resolved.region).await;
    clients.require_credentials().await?;
    let target = publish::target(
        &clients,
        &resolved.profile.stack_name,
        resolved.profile.firmware.iot_jobs,
    )
    .await?;
    Ok((clients, target))
}

pub fn print_published(published: &[publish::Published]) {
    for p in published {
        println!(
            "{} {} {} ({}, {} bytes): {}, OTA job {} {}{}",
            p.name,
            p.project,
            p.version,
            p.chip,
            p.bytes,
            if p.uploaded {
                "uploaded"
            } else {
                "already in the bucket"
            },
            p.ota_job_id,
            if p.registered {
                "registered"
            } else {
                "already registered"
            },
            p.iot_job
                .as_ref()
                .map(|j| format!(", IoT job {j}"))
                .unwrap_or_default()
        );
        match (&p.offered_online, &p.offer_error) {
            (Some(true), _) => println!("  offered to the nodes online now"),
            (_, Some(why)) => println!(
                "  not offered to the nodes online now ({why}); they get it when they next ask"
            ),
            _ => {}
        }
    }
}

fn list(args: ListArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let jobs = block_on(async {
        let (clients, target) = connect(&args.aws, &resolved).await?;
        publish::list(&clients, &target).await
    })?;
    match output {
        OutputFormat::Json => print_json(&serde_json::json!({ "jobs": jobs })),
        OutputFormat::Human if jobs.is_empty() => println!("No firmware published."),
        OutputFormat::Human => {
            println!(
                "{:<40} {:<10} {:<10} {:<8} {:>9}  progress",
                "OTA job", "project", "version", "state", "bytes"
            );
            for j in &jobs {
                let progress: Vec<String> = j
                    .sessions
                    .iter()
                    .map(|(status, n)| format!("{n} {status}"))
                    .collect();
                let progress = if progress.is_empty() {
                    "no node yet".to_string()
                } else {
                    progress.join(", ")
                };
                let iot = j
                    .iot_job_status
                    .as_ref()
                    .map(|s| format!(" (IoT job {s})"))
                    .unwrap_or_default();
                println!(
                    "{:<40} {:<10} {:<10} {:<8} {:>9}  {progress}{iot}",
                    j.ota_job_id, j.project, j.version, j.state, j.bytes
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
