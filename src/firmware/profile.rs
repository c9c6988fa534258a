//! What a profile asks of the firmware (`firmware.images`, `firmware.manifest`): its images,
//! checked against the manifest before anything is deployed, and its rollout limits.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use super::manifest::{self, Checked, FirmwareError};
use super::publish::Overrides;
use crate::profile::{located, Issue, ProfileError, Resolved};

/// A profile's images could not be taken: a name the manifest lacks (located in the profile), or
/// an image that fails its checks.
#[derive(Debug, Error, Diagnostic)]
pub enum ImagesError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Firmware(#[from] FirmwareError),
}

/// The manifest a profile uses, or the one given.
pub fn manifest_path(given: Option<&PathBuf>, resolved: &Resolved) -> PathBuf {
    given
        .cloned()
        .unwrap_or_else(|| PathBuf::from(&resolved.profile.firmware.manifest))
}

/// Load and check the images to publish; nothing is uploaded when any fails.
pub fn named(
    resolved: &Resolved,
    manifest: Option<&PathBuf>,
    names: &[String],
) -> Result<Vec<Checked>, FirmwareError> {
    let loaded = manifest::load(&manifest_path(manifest, resolved))?;
    manifest::check(&loaded, Some(names))
}

/// The images the profile lists (`firmware.images`), checked against its manifest as `apply`
/// checks them before deploying: each name must be in the manifest (else a located error in the
/// profile), and each image file must pass. `manifest` overrides the profile's
/// `firmware.manifest`. None when the profile lists none.
pub fn images(
    resolved: &Resolved,
    manifest: Option<&PathBuf>,
) -> Result<Vec<Checked>, ImagesError> {
    let firmware = &resolved.profile.firmware;
    if firmware.images.is_empty() {
        return Ok(Vec::new());
    }
    let path = manifest_path(manifest, resolved);
    let loaded = match manifest::load(&path) {
        Ok(loaded) => loaded,
        Err(manifest::FirmwareError::Read { path, source }) if manifest.is_none() => {
            return Err(located(
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
        return Err(located(&resolved.source, issues).into());
    }
    let names: Vec<String> = firmware.images.iter().map(|i| i.name.clone()).collect();
    Ok(manifest::check(&loaded, Some(&names))?)
}

/// The profile's rollout limits over the manifest's, by image name.
pub fn overrides(resolved: &Resolved) -> Overrides {
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
