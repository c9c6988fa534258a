//! The live part of `plan`: the stack's parameters as `apply` would pass them, and the change set
//! CloudFormation makes of the rendered template, read in full and then discarded.

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;

use super::changeset::{self, Kind, PlannedChange, Request, TemplateSource};
use super::{bootstrap, stacks, DeployError};
use crate::artifacts::build::Built;
use crate::aws::{AwsError, Clients};
use crate::render::Template;

/// Placeholder bucket for a plan made before the bootstrap stack exists.
pub const PENDING_BUCKET: &str = "rmdeploy-artifacts-pending";

#[derive(Debug, Clone, Serialize)]
pub struct LivePlan {
    pub stack: String,
    /// `create` (no stack yet) or `update`.
    pub kind: Kind,
    /// The stack's status before the plan, when it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_status: Option<String>,
    pub changes: Vec<PlannedChange>,
    /// The parameters `apply` would pass, by name.
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Where parameter values came from, where that matters.
    pub notes: Vec<String>,
}

/// The stack's parameters: the bootstrap bucket, the IoT data endpoint and a code key per
/// function, from the artifacts built last, else the stack's current values.
pub async fn parameters(
    clients: &Clients,
    template: &Template,
    existing: Option<&Stack>,
    bucket: Option<&str>,
    built: &[Built],
    endpoint: &Endpoint,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, String)>, DeployError> {
    let previous = |key: &str| -> Option<String> {
        existing?
            .parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value().map(str::to_string))
    };
    let names: Vec<String> = template
        .document
        .get("Parameters")
        .and_then(|p| p.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut values = Vec::new();
    for name in names {
        let value = match name.as_str() {
            "ArtifactsBucket" => match bucket {
                Some(b) => b.to_string(),
                None => previous(&name).unwrap_or_else(|| PENDING_BUCKET.into()),
            },
            // The endpoint of an account does not change: keep the deployed one.
            "IotDataEndpoint" => match previous(&name) {
                Some(v) => v,
                None => endpoint.get(clients).await?,
            },
            key => {
                match built.iter().find(|b| b.parameter == key) {
                    Some(b) => b.key.clone(),
                    None => match previous(key) {
                        Some(v) => {
                            notes.push(format!("{key}: not built here, the deployed code is kept"));
                            v
                        }
                        None => {
                            let prefix = key.trim_end_matches("CodeKey");
                            let function = crate::catalog::FUNCTIONS
                                .iter()
                                .find(|f| f.prefix == prefix)
                                .map_or(prefix, |f| f.name);
                            notes.push(format!("{key}: the {function} function has no built code yet; apply needs it"));
                            format!("lambda/{function}/not-built.zip")
                        }
                    },
                }
            }
        };
        values.push((name, value));
    }
    Ok(values)
}

/// The account's IoT data endpoint, asked at most once per run however many steps need it (the
/// stack's parameters, the outputs) and possibly ahead of them ([`Endpoint::prefetch`]). A failed
/// answer is not kept: the step that needs the endpoint asks again and reports that error.
#[derive(Debug, Clone, Default)]
pub struct Endpoint(std::sync::Arc<tokio::sync::OnceCell<Option<String>>>);

impl Endpoint {
    /// Ask now, in the background, so the answer is there when a step needs it.
    pub fn prefetch(&self, clients: &Clients) {
        let (this, clients) = (self.clone(), clients.clone());
        tokio::spawn(async move {
            this.get(&clients).await.ok();
        });
    }

    /// The endpoint: the answer already given (or under way), else asked now.
    pub async fn get(&self, clients: &Clients) -> Result<String, DeployError> {
        let cached = self
            .0
            .get_or_init(|| async { iot_data_endpoint(clients).await.ok() })
            .await;
        match cached {
            Some(endpoint) => Ok(endpoint.clone()),
            None => iot_data_endpoint(clients).await,
        }
    }
}

/// The account's IoT data endpoint (`iot:Data-ATS`), never built by hand: its shape differs
/// between regions, China's two among them.
pub async fn iot_data_endpoint(clients: &Clients) -> Result<String, DeployError> {
    let address = clients
        .iot
        .describe_endpoint("iot:Data-ATS")
        .await
        .map_err(|mut f| {
            f.operation = "iot:DescribeEndpoint";
            AwsError::from(f)
        })?;
    match address.is_empty() {
        false => Ok(address),
        true => Err(AwsError::Call {
            operation: "iot:DescribeEndpoint".into(),
            message: "the answer held no endpoint address".into(),
            help: None,
        }
        .into()),
    }
}

/// The artifacts bucket of the bootstrap stack, when there is one.
pub async fn bootstrap_bucket(clients: &Clients) -> Result<Option<String>, DeployError> {
    match stacks::describe(clients, bootstrap::STACK_NAME).await? {
        Some(boot)
            if stacks::status(&boot).ends_with("_COMPLETE")
                && !stacks::status(&boot).contains("ROLLBACK") =>
        {
            stacks::output_or_resource(clients, &boot, "ArtifactsBucketName", "ArtifactsBucket")
                .await
        }
        _ => Ok(None),
    }
}

/// The HTTPS URL CloudFormation reads an object of a bucket from.
pub fn s3_url(bucket: &str, region: &str, key: &str) -> String {
    let suffix = crate::profile::regions::variant_of(region)
        .unwrap_or(crate::profile::Variant::Global)
        .url_suffix();
    format!("https://{bucket}.s3.{region}.{suffix}/{key}")
}

/// Pass the template inline, or (over 51,200 bytes) through the artifacts bucket under its
/// SHA-256, uploaded only when absent.
pub async fn template_source(
    clients: &Clients,
    stack: &str,
    body: String,
    bucket: Option<&str>,
) -> Result<Option<TemplateSource>, DeployError> {
    if !crate::checks::needs_s3(body.len()) {
        return Ok(Some(TemplateSource::Body(body)));
    }
    let Some(bucket) = bucket else {
        return Ok(None);
    };
    let sha = crate::artifacts::package::sha256_hex(body.as_bytes());
    let key = format!("templates/{stack}/{sha}.json");
    crate::artifacts::store::put_if_absent(clients, bucket, &key, body.into_bytes()).await?;
    Ok(Some(TemplateSource::Url(s3_url(
        bucket,
        &clients.region,
        &key,
    ))))
}

/// Every resource of the template as an addition: the plan of a create no change set can show.
fn adds_from(template: &Template) -> Vec<PlannedChange> {
    crate::plan::resources(template)
        .into_iter()
        .map(|r| PlannedChange {
            action: "Add".into(),
            logical_id: r.logical_id,
            resource_type: r.kind,
            replacement: None,
            changed: Vec::new(),
        })
        .collect()
}

/// Make the change set of `template` for `stack`, read it and discard it.
pub async fn plan(
    clients: &Clients,
    stack_name: &str,
    template: &Template,
    built: &[Built],
) -> Result<LivePlan, DeployError> {
    let existing = stacks::wait_settled(clients, stack_name).await?;
    let status = existing.as_ref().map(|s| stacks::status(s).to_string());
    match status.as_deref() {
        Some("UPDATE_ROLLBACK_FAILED") => {
            return Err(DeployError::StackState {
                stack: stack_name.into(),
                status: "UPDATE_ROLLBACK_FAILED".into(),
                explanation: "an update failed and so did its rollback; no change set can be made until the rollback is finished".into(),
                help: Some("`rmdeploy status` names the resource; `rmdeploy apply` continues the rollback (with `--skip-resource <LogicalId>` for one that cannot roll back), then updates".into()),
            })
        }
        Some("DELETE_FAILED") => {
            return Err(DeployError::StackState {
                stack: stack_name.into(),
                status: "DELETE_FAILED".into(),
                explanation: "a delete failed; the stack cannot be updated".into(),
                help: Some("finish the delete with `rmdeploy destroy` (`--retain <LogicalId>` for a resource that cannot be deleted), then plan again".into()),
            })
        }
        _ => {}
    }
    // A failed first creation holds nothing: apply deletes it and creates the stack again.
    let failed_create = matches!(
        status.as_deref(),
        Some("ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED")
    );
    let existing = existing
        .filter(|s| stacks::status(s) != "REVIEW_IN_PROGRESS")
        .filter(|_| !failed_create);
    let kind = if existing.is_some() {
        Kind::Update
    } else {
        Kind::Create
    };
    let mut notes = Vec::new();
    let bucket = bootstrap_bucket(clients).await?;
    if bucket.is_none() {
        notes.push(format!(
            "no bootstrap stack in {} yet: apply creates it first",
            clients.region
        ));
    }
    let parameters = parameters(
        clients,
        template,
        existing.as_ref(),
        bucket.as_deref(),
        built,
        &Endpoint::default(),
        &mut notes,
    )
    .await?;
    let shown = parameters.iter().cloned().collect();
    if failed_create {
        notes.push(format!(
            "the stack is {} after a failed first creation: apply (with --yes, or a yes) deletes it and creates it again; the changes are read from the template",
            status.as_deref().unwrap_or_default()
        ));
        return Ok(LivePlan {
            stack: stack_name.to_string(),
            kind,
            stack_status: status,
            changes: adds_from(template),
            parameters: shown,
            notes,
        });
    }
    let Some(source) =
        template_source(clients, stack_name, template.to_json(), bucket.as_deref()).await?
    else {
        if existing.is_some() {
            return Err(DeployError::StackState {
                stack: bootstrap::STACK_NAME.into(),
                status: "missing".into(),
                explanation: format!("stack {stack_name} exists but the bootstrap stack that holds its artifacts does not"),
                help: Some("run `rmdeploy bootstrap` to make it again".into()),
            });
        }
        notes.push("the template is over 51,200 bytes and there is no artifacts bucket to pass it through: the changes are read from the template, and CloudFormation checks it on apply".into());
        return Ok(LivePlan {
            stack: stack_name.to_string(),
            kind,
            stack_status: None,
            changes: adds_from(template),
            parameters: shown,
            notes,
        });
    };
    let request = Request {
        stack: stack_name.to_string(),
        template: source,
        parameters,
        kind,
        description: "rmdeploy plan".into(),
    };
    let set = changeset::create(clients, &request).await?;
    if !set.changes.is_empty() {
        changeset::discard(clients, &set).await?;
    }
    Ok(LivePlan {
        stack: stack_name.to_string(),
        kind,
        stack_status: existing.as_ref().map(|s| stacks::status(s).to_string()),
        changes: set.changes,
        parameters: shown,
        notes,
    })
}
