//! The steps of `apply` that touch the account: the bootstrap stack, the artifact uploads, the
//! change set, and its execution. Deciding (confirmation, recovery) is the caller's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::bootstrap::{self, Bootstrap};
use super::changeset::{self, ChangeSet, Kind, Request};
use super::{live, DeployError};

pub use super::changeset::execute;
use crate::artifacts::build::Built;
use crate::artifacts::store::{self, Stored};
use crate::aws::Clients;
use crate::render::Template;

/// Everything up to the decision to execute.
#[derive(Debug)]
pub struct Prepared {
    pub bootstrap: Bootstrap,
    /// One entry per distinct artifact; `uploaded` is false for those already in the bucket.
    pub artifacts: Vec<Stored>,
    /// The change set, still to be executed or discarded; no changes: already deleted.
    pub set: ChangeSet,
    pub parameters: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

/// Make sure the bootstrap stack exists, upload the artifacts it lacks (several at once), and
/// make the change set of `template` for `stack`.
pub async fn prepare(
    clients: &Clients,
    stack: &str,
    kind: Kind,
    existing: Option<&aws_sdk_cloudformation::types::Stack>,
    template: &Template,
    bootstrap_template: &str,
    built: &[Built],
) -> Result<Prepared, DeployError> {
    let bootstrap = bootstrap::ensure(clients, bootstrap_template).await?;
    let mut unique: BTreeMap<&str, &Built> = BTreeMap::new();
    for b in built {
        unique.entry(b.key.as_str()).or_insert(b);
    }
    let objects = unique
        .values()
        .map(|b| (b.key.clone(), b.zip.as_ref().clone()))
        .collect();
    // Artifacts, parameters and the template upload at once: they do not depend on each other.
    let mut notes = Vec::new();
    let uploads =
        async { Ok::<_, DeployError>(store::put_all(clients, &bootstrap.bucket, objects).await?) };
    let parameters = live::parameters(
        clients,
        template,
        existing,
        Some(&bootstrap.bucket),
        built,
        &mut notes,
    );
    let source = live::template_source(clients, stack, template.to_json(), Some(&bootstrap.bucket));
    let (artifacts, parameters, source) = tokio::try_join!(uploads, parameters, source)?;
    let source = source.expect("a bucket is given, so the template always has a source");
    let shown = parameters.iter().cloned().collect();
    let set = changeset::create(
        clients,
        &Request {
            stack: stack.to_string(),
            template: source,
            parameters,
            kind,
            description: "rmdeploy apply".into(),
        },
    )
    .await?;
    Ok(Prepared {
        bootstrap,
        artifacts,
        set,
        parameters: shown,
        notes,
    })
}

/// What `apply` did, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
}
