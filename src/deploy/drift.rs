//! Drift: which resources of a stack differ from its template, from CloudFormation's own drift
//! detection (DetectStackDrift, then the resources found MODIFIED or DELETED).

use serde::Serialize;

use super::DeployError;
use crate::aws::{AwsError, Clients};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// `IN_SYNC`, `DRIFTED`, `UNKNOWN` or `NOT_CHECKED`.
    pub status: String,
    pub drifted: Vec<DriftedResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftedResource {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `MODIFIED` or `DELETED`.
    pub status: String,
    /// Property paths that differ, sorted.
    pub properties: Vec<String>,
}

/// Run drift detection on the stack and wait for it.
pub async fn detect(clients: &Clients, stack: &str) -> Result<Drift, DeployError> {
    let id = clients
        .cfn
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| AwsError::call("DetectStackDrift", &e))?
        .stack_drift_detection_id
        .unwrap_or_default();
    let mut backoff = super::poll::Backoff::new(clients.poll);
    let status =
        loop {
            let out = clients
                .cfn
                .describe_stack_drift_detection_status()
                .stack_drift_detection_id(&id)
                .send()
                .await
                .map_err(|e| AwsError::call("DescribeStackDriftDetectionStatus", &e))?;
            match out.detection_status().map(|s| s.as_str()) {
                Some("DETECTION_IN_PROGRESS") => backoff.wait().await,
                Some("DETECTION_FAILED") => return Err(AwsError::Call {
                    operation: "DetectStackDrift".into(),
                    message: out
                        .detection_status_reason()
                        .unwrap_or("drift detection failed")
                        .to_string(),
                    help: Some(
                        "some resource types do not support drift detection; the reason names them"
                            .into(),
                    ),
                }
                .into()),
                _ => {
                    break out
                        .stack_drift_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "UNKNOWN".into())
                }
            }
        };
    let mut drifted = Vec::new();
    let mut pages = clients
        .cfn
        .describe_stack_resource_drifts()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let out = page.map_err(|e| AwsError::call("DescribeStackResourceDrifts", &e))?;
        for d in out.stack_resource_drifts() {
            let state = d.stack_resource_drift_status().map_or("", |s| s.as_str());
            if state != "MODIFIED" && state != "DELETED" {
                continue;
            }
            let mut properties: Vec<String> = d
                .property_differences()
                .iter()
                .filter_map(|p| p.property_path().map(str::to_string))
                .collect();
            properties.sort();
            drifted.push(DriftedResource {
                logical_id: d.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: d.resource_type().unwrap_or_default().to_string(),
                status: state.to_string(),
                properties,
            });
        }
    }
    drifted.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    Ok(Drift { status, drifted })
}
