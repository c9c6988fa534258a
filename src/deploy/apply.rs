//! The steps of `apply` that touch the account: the artifact uploads, the change set, and its
//! execution. Deciding (confirmation, recovery) is the caller's.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;
use serde_json::Value;

use super::bootstrap::Bootstrap;
use super::changeset::{self, ChangeSet, Kind, Request};
use super::live::{self, Endpoint};
use super::{events, stacks, DeployError};

pub use super::changeset::{execute, execute_after};
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
    /// For an update: the stack's newest event before the change set, read while it was made
    /// (`None`: not read; [`execute_after`] reads it).
    pub mark: Option<Option<String>>,
    /// For an update: the template the stack was deployed with (`Err`: why it could not be read).
    pub deployed: Result<Option<Value>, String>,
    pub parameters: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

/// Upload the artifacts the bucket lacks (several at once) and, meanwhile, make the change set of
/// `template` for `stack`: its parameters, its template upload, and (for an update) the deployed
/// template and the stack's newest event are read at the same time. The uploads end before this
/// returns: a change set is only ever executed with every artifact in the bucket, and one whose
/// uploads failed is deleted.
#[allow(clippy::too_many_arguments)]
pub async fn prepare(
    clients: &Clients,
    stack: &str,
    kind: Kind,
    existing: Option<&Stack>,
    template: &Template,
    bootstrap: Bootstrap,
    built: &[Built],
    endpoint: &Endpoint,
) -> Result<Prepared, DeployError> {
    let bucket = bootstrap.bucket.as_str();
    let mut unique: BTreeMap<&str, &Built> = BTreeMap::new();
    for b in built {
        unique.entry(b.key.as_str()).or_insert(b);
    }
    let objects = unique
        .values()
        .map(|b| (b.key.clone(), b.zip.clone()))
        .collect();
    let uploads = store::put_all(clients, bucket, objects);
    let mut notes = Vec::new();
    let change = async {
        let parameters = live::parameters(
            clients,
            template,
            existing,
            Some(bucket),
            built,
            endpoint,
            &mut notes,
        );
        let source = live::template_source(clients, stack, template.to_json(), Some(bucket));
        let deployed = async {
            match kind {
                Kind::Create => Ok(None),
                Kind::Update => stacks::template(clients, stack)
                    .await
                    .map_err(|e| e.to_string()),
            }
        };
        let (parameters, source, deployed) = tokio::join!(parameters, source, deployed);
        let (parameters, source) = (parameters?, source?);
        let request = Request {
            stack: stack.to_string(),
            template: source.expect("a bucket is given, so the template always has a source"),
            parameters: parameters.clone(),
            kind,
            description: "rmdeploy apply".into(),
        };
        // An update's change set makes no stack event: the mark the execution is followed from
        // can be read meanwhile. A failed read is left to the execution to make again.
        let mark = async {
            match (kind, existing.and_then(|s| s.stack_id())) {
                (Kind::Update, Some(id)) => events::newest(clients, id).await.ok(),
                _ => None,
            }
        };
        let (set, mark) = tokio::join!(changeset::create(clients, &request), mark);
        Ok::<_, DeployError>((parameters, set?, mark, deployed))
    };
    let (artifacts, change) = tokio::join!(uploads, change);
    let artifacts = match (artifacts, &change) {
        (Ok(artifacts), _) => artifacts,
        (Err(e), Ok((_, set, _, _))) => {
            if !set.changes.is_empty() {
                // Never executed without its artifacts. Should this fail too, the next apply
                // removes the change set as a leftover; the upload's failure is the one to tell.
                let _ = changeset::discard(clients, set).await;
            }
            return Err(e.into());
        }
        (Err(e), _) => return Err(e.into()),
    };
    let (parameters, set, mark, deployed) = change?;
    Ok(Prepared {
        bootstrap,
        artifacts,
        set,
        mark,
        deployed,
        parameters: parameters.into_iter().collect(),
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
