//! Quota increase requests: filed for adjustable shortfalls, never twice for the same quota, and
//! the requests still open.

use serde::Serialize;

use super::{Check, Status};
use crate::aws::AwsError;
use crate::aws::Clients;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub id: Option<String>,
    pub service: String,
    pub code: String,
    pub quota: String,
    pub desired: f64,
    /// `PENDING`, `CASE_OPENED`, `APPROVED`, `DENIED`, ...
    pub status: String,
}

/// Shortfalls that Service Quotas takes a request for.
pub fn adjustable_shortfalls(checks: &[Check]) -> Vec<&Check> {
    checks
        .iter()
        .filter(|c| c.status == Status::Short && c.adjustable == Some(true) && c.code.is_some())
        .collect()
}

/// The adjustable shortfalls without a request already open: what `--request-increase` files.
pub fn to_request<'a>(checks: &'a [Check], open: &[Request]) -> Vec<&'a Check> {
    adjustable_shortfalls(checks)
        .into_iter()
        .filter(|c| !open.iter().any(|o| Some(&o.code) == c.code.as_ref()))
        .collect()
}

/// Open requests (pending or with a case open) of the services of these checks.
pub async fn open_requests(clients: &Clients, checks: &[Check]) -> Result<Vec<Request>, AwsError> {
    let mut services: Vec<&str> = checks.iter().map(|c| c.service).collect();
    services.sort();
    services.dedup();
    let mut out = Vec::new();
    for service in services {
        let mut pages = clients
            .quotas
            .list_requested_service_quota_change_history()
            .service_code(service)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                AwsError::call("servicequotas:ListRequestedServiceQuotaChangeHistory", &e)
            })?;
            for r in page.requested_quotas() {
                let status = r
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                if matches!(status.as_str(), "PENDING" | "CASE_OPENED") {
                    out.push(Request {
                        id: r.id().map(str::to_string),
                        service: service.to_string(),
                        code: r.quota_code().unwrap_or_default().to_string(),
                        quota: r.quota_name().unwrap_or_default().to_string(),
                        desired: r.desired_value().unwrap_or_default(),
                        status,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// File one increase request to the required value.
pub async fn request(clients: &Clients, check: &Check) -> Result<Request, AwsError> {
    let code = check.code.clone().unwrap_or_default();
    let out = clients
        .quotas
        .request_service_quota_increase()
        .service_code(check.service)
        .quota_code(&code)
        .desired_value(check.required)
        .send()
        .await
        .map_err(|e| AwsError::call("servicequotas:RequestServiceQuotaIncrease", &e))?;
    let r = out.requested_quota();
    Ok(Request {
        id: r.and_then(|r| r.id().map(str::to_string)),
        service: check.service.to_string(),
        code,
        quota: check.quota.to_string(),
        desired: check.required,
        status: r
            .and_then(|r| r.status().map(|s| s.as_str().to_string()))
            .unwrap_or_else(|| "PENDING".into()),
    })
}
