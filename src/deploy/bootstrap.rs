//! The bootstrap stack: one per account and region, holding the deployment-artifacts bucket.
//! Created on first use, found and reused afterwards, updated when rmdeploy's version of it
//! changes.

use serde::Serialize;

use super::changeset::{self, Kind, Request, TemplateSource};
use super::stacks;
use super::DeployError;
use crate::aws::Clients;

pub const STACK_NAME: &str = "rmdeploy-bootstrap";

#[derive(Debug, Clone, Serialize)]
pub struct Bootstrap {
    pub stack: String,
    pub region: String,
    /// `created`, `updated` or `unchanged`.
    pub action: &'static str,
    pub status: String,
    pub bucket: String,
}

impl std::fmt::Display for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = crate::output::Style::of(f);
        writeln!(
            f,
            "{} {} in {}: {} ({})",
            s.bold("Bootstrap stack"),
            self.stack,
            self.region,
            self.action,
            self.status
        )?;
        writeln!(f, "{} {}", s.bold("Artifacts bucket:"), self.bucket)
    }
}

/// Make sure the bootstrap stack exists and is current; its artifacts bucket.
pub async fn ensure(clients: &Clients, template_json: &str) -> Result<Bootstrap, DeployError> {
    let existing = stacks::wait_settled(clients, STACK_NAME).await?;
    let kind = match &existing {
        None => Kind::Create,
        Some(stack) => match stacks::status(stack) {
            "REVIEW_IN_PROGRESS" => {
                // A create that never ran: remove it so the next CREATE does not make a twin.
                super::state::remove_review(clients, STACK_NAME).await?;
                Kind::Create
            }
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "DELETE_FAILED" => {
                return Err(DeployError::StackState {
                    stack: STACK_NAME.into(),
                    status: stacks::status(stack).into(),
                    explanation: "its first creation failed and was rolled back, so it holds no bucket".into(),
                    help: Some(format!(
                        "read the failure in the CloudFormation console, then delete the stack (`aws cloudformation delete-stack --stack-name {STACK_NAME}`) and run again"
                    )),
                });
            }
            _ => Kind::Update,
        },
    };
    // The usual case: deployed and current. One GetTemplate instead of a change set.
    if let Some(stack) = &existing {
        if kind == Kind::Update
            && settled_ok(stacks::status(stack))
            && deployed_template_is(clients, template_json).await?
        {
            return finish(clients, stack, "unchanged").await;
        }
    }
    let request = Request {
        stack: STACK_NAME.into(),
        template: TemplateSource::Body(template_json.to_string()),
        parameters: Vec::new(),
        kind,
        description: "rmdeploy bootstrap".into(),
    };
    let set = changeset::create(clients, &request).await?;
    let action = match (kind, set.changes.is_empty()) {
        (_, true) => "unchanged",
        (Kind::Create, false) => "created",
        (Kind::Update, false) => "updated",
    };
    if !set.changes.is_empty() {
        changeset::execute(
            clients,
            &set,
            &mut super::watch::Quiet,
            &super::interrupt::Interrupt::never(),
        )
        .await?;
    }
    let stack = stacks::describe(clients, STACK_NAME)
        .await?
        .ok_or_else(|| DeployError::StackState {
            stack: STACK_NAME.into(),
            status: "DELETE_COMPLETE".into(),
            explanation: "the stack disappeared while it was being created".into(),
            help: None,
        })?;
    finish(clients, &stack, action).await
}

/// The bootstrap stack as it is, when it is deployed, settled and current (its deployed template
/// is `template_json`), read without changing anything: the usual case of [`ensure`], which has
/// work to do when this is `None`.
pub async fn current(
    clients: &Clients,
    template_json: &str,
) -> Result<Option<Bootstrap>, DeployError> {
    let Some(stack) = stacks::describe(clients, STACK_NAME).await? else {
        return Ok(None);
    };
    if !settled_ok(stacks::status(&stack)) || !deployed_template_is(clients, template_json).await? {
        return Ok(None);
    }
    finish(clients, &stack, "unchanged").await.map(Some)
}

fn settled_ok(status: &str) -> bool {
    status.ends_with("_COMPLETE") && !status.contains("ROLLBACK")
}

/// Whether the stack's deployed template is `template_json` (compared as JSON).
async fn deployed_template_is(clients: &Clients, template_json: &str) -> Result<bool, DeployError> {
    let deployed = stacks::template(clients, STACK_NAME).await?;
    let ours: Option<serde_json::Value> = serde_json::from_str(template_json).ok();
    Ok(deployed.is_some() && deployed == ours)
}

async fn finish(
    clients: &Clients,
    stack: &aws_sdk_cloudformation::types::Stack,
    action: &'static str,
) -> Result<Bootstrap, DeployError> {
    let status = stacks::status(stack).to_string();
    if !status.ends_with("_COMPLETE") || status.contains("ROLLBACK") {
        return Err(DeployError::StackState {
            stack: STACK_NAME.into(),
            status,
            explanation: "the bootstrap stack did not reach a complete state".into(),
            help: Some("see its events in the CloudFormation console".into()),
        });
    }
    let bucket =
        stacks::output_or_resource(clients, stack, "ArtifactsBucketName", "ArtifactsBucket")
            .await?
            .ok_or_else(|| DeployError::StackState {
                stack: STACK_NAME.into(),
                status: status.clone(),
                explanation: "it has no ArtifactsBucket resource".into(),
                help: Some(format!("delete the stack {STACK_NAME} and run again")),
            })?;
    Ok(Bootstrap {
        stack: STACK_NAME.into(),
        region: clients.region.clone(),
        action,
        status,
        bucket,
    })
}
