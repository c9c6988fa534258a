//! One session per command: the profile resolved, its stacks rendered, and (for the commands that
//! reach the account) the clients connected, with credentials required or not.

use std::path::Path;

use miette::Diagnostic;
use thiserror::Error;

use crate::aws::{Access, AwsError, Clients};
use crate::profile::{ProfileError, Resolved};
use crate::render::{RenderError, Rendered};

/// Whether a command needs credentials before it goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Fail with a message that says how to provide them.
    Required,
    /// The command decides (a plan falls back to offline).
    Optional,
}

#[derive(Debug, Error, Diagnostic)]
pub enum SessionError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Render(#[from] RenderError),
}

/// A resolved profile and the stacks it renders to.
#[derive(Debug)]
pub struct Session {
    pub resolved: Resolved,
    pub rendered: Rendered,
}

impl Session {
    /// Resolve the profile (`selection`: a shipped name or a path; `region` overrides the
    /// profile's) and render its stacks (`templates`: a folder of overriding templates).
    pub fn load(
        selection: Option<&str>,
        region: Option<&str>,
        templates: Option<&Path>,
    ) -> Result<Session, SessionError> {
        let resolved = crate::profile::load(selection, region)?;
        let rendered = crate::render::render(&resolved, templates)?;
        Ok(Session { resolved, rendered })
    }

    /// The name of the profile's stack.
    pub fn stack(&self) -> &str {
        &self.resolved.profile.stack_name
    }

    pub fn region(&self) -> &str {
        &self.resolved.region
    }

    /// The clients of the profile's region.
    pub async fn connect(
        &self,
        access: &Access,
        credentials: Credentials,
    ) -> Result<Clients, AwsError> {
        let clients = Clients::connect(access, &self.resolved.region).await;
        if credentials == Credentials::Required {
            clients.require_credentials().await?;
        }
        Ok(clients)
    }
}
