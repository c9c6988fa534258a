//! What a plan says about a rendered stack without an AWS account: its resources by service and
//! by the feature that produced them, its size and how it reaches CloudFormation, the checks and
//! the warnings.

pub mod show;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::checks::{self, Check};
use crate::profile::Resolved;
use crate::render::{Rendered, Template, INLINE_TEMPLATE_LIMIT};

#[derive(Debug, Clone, Serialize)]
pub struct OfflinePlan {
    pub profile: String,
    pub stack_name: String,
    pub region: String,
    pub variant: &'static str,
    pub partition: &'static str,
    pub architecture: &'static str,
    pub identity: &'static str,
    /// `offline`: rendered and checked here; nothing was read from an account.
    pub mode: &'static str,
    pub resources: ResourceSummary,
    pub template: TemplateSize,
    pub checks: Vec<Check>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceSummary {
    pub total: usize,
    pub limit: usize,
    /// Count per AWS service (`IAM`, `Lambda`, ...), sorted by name.
    pub by_service: BTreeMap<String, usize>,
    /// Count per producing feature (`core`, `webhooks`, `identity_cognito`, ...).
    pub by_feature: BTreeMap<String, usize>,
    pub items: Vec<PlannedResource>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedResource {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub feature: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateSize {
    /// Bytes of the compact JSON CloudFormation receives.
    pub bytes: usize,
    pub inline_limit: usize,
    /// Over the inline limit: `apply` uploads it to the artifacts bucket first.
    pub via_s3: bool,
    pub bootstrap_bytes: usize,
}

impl OfflinePlan {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The producing feature recorded in a resource's `Metadata.rmdeploy.feature`.
pub fn feature_of(resource: &Value) -> &str {
    resource
        .pointer("/Metadata/rmdeploy/feature")
        .and_then(Value::as_str)
        .unwrap_or("unlabelled")
}

/// Resources of a template in template order.
pub fn resources(template: &Template) -> Vec<PlannedResource> {
    template
        .document
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(id, r)| PlannedResource {
            logical_id: id.clone(),
            kind: r
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string(),
            feature: feature_of(r).to_string(),
        })
        .collect()
}

/// `AWS::Lambda::Function` → `Lambda`.
pub fn service_of(kind: &str) -> &str {
    kind.split("::").nth(1).unwrap_or(kind)
}

pub fn offline(resolved: &Resolved, rendered: &Rendered) -> OfflinePlan {
    let items = resources(&rendered.stack);
    let mut by_service = BTreeMap::new();
    let mut by_feature = BTreeMap::new();
    for r in &items {
        *by_service
            .entry(service_of(&r.kind).to_string())
            .or_insert(0) += 1;
        *by_feature.entry(r.feature.clone()).or_insert(0) += 1;
    }
    let bytes = rendered.stack.to_json().len();
    let mut checks = checks::run(&rendered.stack);
    for extra in checks::run(&rendered.bootstrap) {
        if let Some(same) = checks.iter_mut().find(|c| c.id == extra.id) {
            same.passed &= extra.passed;
            same.findings.extend(extra.findings);
        }
    }
    let mut warnings = resolved.warnings.clone();
    if by_feature.contains_key("unlabelled") {
        warnings.push("some resources carry no Metadata.rmdeploy.feature; plan cannot say which feature made them".into());
    }
    OfflinePlan {
        profile: resolved.source.name.clone(),
        stack_name: resolved.profile.stack_name.clone(),
        region: resolved.region.clone(),
        variant: resolved.variant.as_str(),
        partition: resolved.variant.partition(),
        architecture: resolved.architecture.as_str(),
        identity: resolved.identity.as_str(),
        mode: "offline",
        resources: ResourceSummary {
            total: items.len(),
            limit: checks::MAX_RESOURCES,
            by_service,
            by_feature,
            items,
        },
        template: TemplateSize {
            bytes,
            inline_limit: INLINE_TEMPLATE_LIMIT,
            via_s3: checks::needs_s3(bytes),
            bootstrap_bytes: rendered.bootstrap.to_json().len(),
        },
        checks,
        warnings,
    }
}
