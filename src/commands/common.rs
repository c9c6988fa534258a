//! Arguments shared by the commands that read a profile.

use std::path::PathBuf;

use crate::profile::{self, Resolved};

#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// Profile to use: a shipped one by name (global, china, dev) or a path to a YAML file.
    /// Default: `global`, or `china` when --region is in AWS China.
    #[arg(long, short = 'p', value_name = "NAME|PATH", env = "RMDEPLOY_PROFILE")]
    pub profile: Option<String>,

    /// AWS region, overriding the profile's; a `cn-*` region selects the China variant.
    #[arg(long, short = 'r', value_name = "REGION")]
    pub region: Option<String>,
}

impl ProfileArgs {
    pub fn load(&self) -> miette::Result<Resolved> {
        Ok(profile::load(
            self.profile.as_deref(),
            self.region.as_deref(),
        )?)
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct TemplateArgs {
    /// Folder of Tera templates that replace the embedded ones of the same relative path
    /// (for example `stack/api.yaml.tera`).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// Run an async command body on a runtime made for it.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(future)
}
