//! `rmdeploy firmware`: validate ESP32 app images, publish them for OTA, list what is published.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use miette::miette;

use super::args::{AwsArgs, ProfileArgs};
use super::terminal::block_on;
use crate::aws::Clients;
use crate::exit::EXIT_OK;
use crate::firmware::manifest::{self, Manifest};
use crate::firmware::{publish, validate};
use crate::output::{emit, print_json, OutputFormat};
use crate::profile::Resolved;

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

fn validate(args: ValidateArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let path = args
        .manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from(manifest::DEFAULT_PATH));
    let validation = validate::validate(&args.files, &path, args.manifest.is_some())?;
    emit(output, &validation);
    // Named here as well as in the report on stdout, which may be JSON or go to a file.
    match validation.failure() {
        Some(failed) => Err(failed.into()),
        None => Ok(ExitCode::from(EXIT_OK)),
    }
}

fn publish_cmd(args: PublishArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let images = if args.images.is_empty() {
        crate::firmware::profile::images(&resolved, args.manifest.as_ref())?
    } else {
        crate::firmware::profile::named(&resolved, args.manifest.as_ref(), &args.images)?
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
        let overrides = crate::firmware::profile::overrides(&resolved);
        Ok::<_, miette::Report>(publish::publish(&clients, &target, &images, &overrides).await?)
    })?;
    emit(output, &publish::PublishedReport { published });
    Ok(ExitCode::from(EXIT_OK))
}

/// The account's clients and where the stack keeps firmware.
async fn connect(aws: &AwsArgs, resolved: &Resolved) -> miette::Result<(Clients, publish::Target)> {
    let clients = aws.connect(&resolved.region).await?;
    let target = publish::target(
        &clients,
        &resolved.profile.stack_name,
        resolved.profile.firmware.iot_jobs,
    )
    .await?;
    Ok((clients, target))
}

fn list(args: ListArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let jobs = block_on(async {
        let (clients, target) = connect(&args.aws, &resolved).await?;
        Ok::<_, miette::Report>(publish::list(&clients, &target).await?)
    })?;
    emit(output, &publish::Jobs { jobs });
    Ok(ExitCode::from(EXIT_OK))
}
