//! What a deployed stack gives its users: its outputs (API URL, bucket names, ...) and the
//! account's IoT data endpoint, read live with DescribeEndpoint.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;
use serde_json::Value;

use super::DeployError;
use crate::aws::{AwsError, Clients};
use crate::render::Template;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackOutput {
    pub key: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Outputs as `apply` and `status` show them: one line each, keys aligned.
pub struct OutputList<'a>(pub &'a [StackOutput]);

impl std::fmt::Display for OutputList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self.0.iter().map(|o| o.key.len()).max().unwrap_or(0);
        for o in self.0 {
            writeln!(f, "  {:<width$}  {}", o.key, o.value)?;
        }
        Ok(())
    }
}

/// Physical ids of every resource of the stack, by logical id.
pub async fn physical_ids(
    clients: &Clients,
    stack: &str,
) -> Result<BTreeMap<String, String>, crate::aws::AwsError> {
    let mut ids = BTreeMap::new();
    let mut pages = clients
        .cfn
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let out = page.map_err(|e| AwsError::call("ListStackResources", &e))?;
        for r in out.stack_resource_summaries() {
            if let (Some(l), Some(p)) = (r.logical_resource_id(), r.physical_resource_id()) {
                ids.insert(l.to_string(), p.to_string());
            }
        }
    }
    Ok(ids)
}

/// The stack's outputs, then `IotDataEndpoint`. When the stack reports no outputs although the
/// template declares some (stacks made through change sets on some emulators), the simple ones
/// (`Ref` and `Fn::Sub`) are worked out from the stack's resources.
pub async fn read(
    clients: &Clients,
    stack: &Stack,
    template: &Template,
) -> Result<Vec<StackOutput>, DeployError> {
    read_with(clients, stack, template, &super::live::Endpoint::default()).await
}

/// [`read`], with the IoT data endpoint asked through `endpoint` (once per run, shared with the
/// stack's parameters).
pub async fn read_with(
    clients: &Clients,
    stack: &Stack,
    template: &Template,
    endpoint: &super::live::Endpoint,
) -> Result<Vec<StackOutput>, DeployError> {
    let mut outputs: Vec<StackOutput> = stack
        .outputs()
        .iter()
        .filter_map(|o| {
            Some(StackOutput {
                key: o.output_key()?.to_string(),
                value: o.output_value()?.to_string(),
                description: o.description().map(str::to_string),
            })
        })
        .collect();
    let declared = template
        .document
        .get("Outputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if outputs.is_empty() && !declared.is_empty() {
        let ids = physical_ids(clients, stack.stack_id().unwrap_or_default()).await?;
        for (key, spec) in &declared {
            if let Some(value) =
                resolve(&spec["Value"], &ids, &clients.region).filter(|v| !v.is_empty())
            {
                outputs.push(StackOutput {
                    key: key.clone(),
                    value,
                    description: spec["Description"].as_str().map(str::to_string),
                });
            }
        }
    }
    outputs.push(StackOutput {
        key: "IotDataEndpoint".into(),
        value: endpoint.get(clients).await?,
        description: Some("MQTT endpoint the nodes connect to (iot:Data-ATS)".into()),
    });
    Ok(outputs)
}

/// The value of a `Ref` or `Fn::Sub` output from physical ids and the region.
fn resolve(value: &Value, ids: &BTreeMap<String, String>, region: &str) -> Option<String> {
    if let Some(name) = value.get("Ref").and_then(Value::as_str) {
        return ids.get(name).cloned();
    }
    let text = value.get("Fn::Sub").and_then(Value::as_str)?;
    let variant =
        crate::profile::regions::variant_of(region).unwrap_or(crate::profile::Variant::Global);
    let (partition, suffix) = (variant.partition(), variant.url_suffix());
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let name = &rest[start + 2..end];
        out.push_str(match name {
            "AWS::Region" => region,
            "AWS::URLSuffix" => suffix,
            "AWS::Partition" => partition,
            other => ids.get(other)?,
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ref_and_sub_outputs_resolve_from_physical_ids_in_each_partition() {
        let ids: BTreeMap<String, String> = [("RestApi".to_string(), "abc123".to_string())].into();
        let sub = json!({"Fn::Sub": "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"});
        assert_eq!(
            resolve(&sub, &ids, "cn-north-1").unwrap(),
            "https://abc123.execute-api.cn-north-1.amazonaws.com.cn/v1"
        );
        assert_eq!(
            resolve(&sub, &ids, "eu-west-1").unwrap(),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
        );
        assert_eq!(
            resolve(&json!({"Ref": "RestApi"}), &ids, "eu-west-1").unwrap(),
            "abc123"
        );
        assert!(resolve(&json!({"Ref": "Missing"}), &ids, "eu-west-1").is_none());
        assert!(resolve(
            &json!({"Fn::GetAtt": ["RestApi", "Arn"]}),
            &ids,
            "eu-west-1"
        )
        .is_none());
    }
}
