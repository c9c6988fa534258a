//! Reading and waiting for CloudFormation stacks.

use aws_sdk_cloudformation::types::Stack;

use super::DeployError;
use crate::aws::{AwsError, Clients};

/// The stack of that name, or `None` when there is none.
pub async fn describe(clients: &Clients, name: &str) -> Result<Option<Stack>, DeployError> {
    match clients.cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks.unwrap_or_default().into_iter().next()),
        Err(err) => {
            let text = crate::aws::describe(&err);
            if text.contains("does not exist") {
                Ok(None)
            } else {
                Err(AwsError::call("DescribeStacks", &err).into())
            }
        }
    }
}

/// The template a stack was deployed with (as submitted), or `None` when there is no stack.
pub async fn template(
    clients: &Clients,
    name: &str,
) -> Result<Option<serde_json::Value>, DeployError> {
    match clients.cfn.get_template().stack_name(name).send().await {
        Ok(out) => Ok(out.template_body().and_then(|b| {
            serde_json::from_str(b)
                .ok()
                .or_else(|| serde_yaml::from_str(b).ok())
        })),
        Err(err) if crate::aws::describe(&err).contains("does not exist") => Ok(None),
        Err(err) => Err(AwsError::call("GetTemplate", &err).into()),
    }
}

pub fn status(stack: &Stack) -> &str {
    stack
        .stack_status
        .as_ref()
        .map(|s| s.as_str())
        .unwrap_or("UNKNOWN")
}

/// Poll until the stack leaves every `*_IN_PROGRESS` state; its final description.
pub async fn wait_settled(clients: &Clients, name: &str) -> Result<Option<Stack>, DeployError> {
    let mut backoff = super::poll::Backoff::new(clients.poll);
    loop {
        let stack = describe(clients, name).await?;
        match &stack {
            Some(s) if status(s).ends_with("_IN_PROGRESS") => backoff.wait().await,
            _ => return Ok(stack),
        }
    }
}

/// The physical id of one resource of a stack.
pub async fn physical_id(
    clients: &Clients,
    stack: &str,
    logical_id: &str,
) -> Result<Option<String>, DeployError> {
    let out = clients
        .cfn
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
        .map_err(|e| AwsError::call("DescribeStackResource", &e))?;
    Ok(out
        .stack_resource_detail
        .and_then(|d| d.physical_resource_id))
}

/// An output of a stack, or the physical id of the resource it names: stacks created through a
/// change set on some emulators carry no outputs.
pub async fn output_or_resource(
    clients: &Clients,
    stack: &Stack,
    output: &str,
    logical_id: &str,
) -> Result<Option<String>, DeployError> {
    let from_outputs = stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(output))
        .and_then(|o| o.output_value().map(str::to_string));
    match from_outputs {
        Some(v) => Ok(Some(v)),
        None => physical_id(clients, stack.stack_name().unwrap_or_default(), logical_id).await,
    }
}
