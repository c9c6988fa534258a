//! Argument groups shared by the commands, and the session they open.

use std::path::PathBuf;

use crate::aws::{Access, Clients};
use crate::profile::{self, Resolved};
use crate::workflow::{Credentials, Session};

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

/// How rmdeploy reaches AWS (or an endpoint that speaks its API).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// Named profile of the AWS config and credentials files.
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub aws_profile: Option<String>,

    /// Send every AWS call to this endpoint, for example a local emulator.
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn access(&self) -> Access {
        Access {
            aws_profile: self.aws_profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            credentials: None,
        }
    }

    /// The clients of `region`, credentials required.
    pub async fn connect(&self, region: &str) -> miette::Result<Clients> {
        let clients = Clients::connect(&self.access(), region).await;
        clients.require_credentials().await?;
        Ok(clients)
    }
}

/// The arguments of every command that works on the profile's stack: which profile, which
/// templates, which account.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl TemplateArgs {
    /// The profile resolved and its stacks rendered with these templates.
    pub fn session(&self, profile: &ProfileArgs) -> miette::Result<Session> {
        Ok(Session::load(
            profile.profile.as_deref(),
            profile.region.as_deref(),
            self.templates.as_deref(),
        )?)
    }
}

impl StackArgs {
    /// The profile resolved and its stacks rendered.
    pub fn session(&self) -> miette::Result<Session> {
        self.templates.session(&self.profile)
    }

    /// The session's clients, credentials required.
    pub async fn connect(&self, session: &Session) -> miette::Result<Clients> {
        Ok(session
            .connect(&self.aws.access(), Credentials::Required)
            .await?)
    }
}
