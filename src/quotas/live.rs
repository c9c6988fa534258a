//! Reading the account's current quotas, all at once: Service Quotas (the applied value, else the
//! AWS default), Lambda GetAccountSettings, DynamoDB DescribeLimits, and quotas found by name
//! where their codes are not fixed (IoT Core, Cognito).

use std::collections::BTreeMap;

use aws_sdk_servicequotas::types::ServiceQuota;

use super::requirements::{AccountValue, Requirement};
use super::{Check, Status};
use crate::aws::AwsError;
use crate::aws::Clients;

/// A quota as Service Quotas describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub code: String,
    pub name: String,
    /// The value in force: applied, else the default.
    pub value: Option<f64>,
    pub default: Option<f64>,
    pub adjustable: bool,
}

fn quota_of(q: &ServiceQuota) -> Quota {
    Quota {
        code: q.quota_code().unwrap_or_default().to_string(),
        name: q.quota_name().unwrap_or_default().to_string(),
        value: q.value(),
        default: None,
        adjustable: q.adjustable(),
    }
}

fn no_applied_value<E: std::error::Error>(err: &E) -> bool {
    let text = crate::aws::describe(err);
    text.contains("NoSuchResource")
}

/// One quota by code: the applied value, else (no applied value) the AWS default.
pub async fn by_code(clients: &Clients, service: &str, code: &str) -> Result<Quota, AwsError> {
    let default = clients
        .quotas
        .get_aws_default_service_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
        .map_err(|e| AwsError::call("servicequotas:GetAWSDefaultServiceQuota", &e))?
        .quota
        .as_ref()
        .map(quota_of);
    let applied = match clients
        .quotas
        .get_service_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
    {
        Ok(out) => out.quota.as_ref().map(quota_of),
        Err(err) if no_applied_value(&err) => None,
        Err(err) => return Err(AwsError::call("servicequotas:GetServiceQuota", &err)),
    };
    let base = applied
        .clone()
        .or_else(|| default.clone())
        .unwrap_or(Quota {
            code: code.to_string(),
            name: String::new(),
            value: None,
            default: None,
            adjustable: false,
        });
    Ok(Quota {
        value: applied
            .as_ref()
            .and_then(|q| q.value)
            .or(default.as_ref().and_then(|q| q.value)),
        default: default.as_ref().and_then(|q| q.value),
        ..base
    })
}

/// Every quota of a service: the AWS defaults, with the applied values over them.
pub async fn list(clients: &Clients, service: &str) -> Result<Vec<Quota>, AwsError> {
    let mut by_code: BTreeMap<String, Quota> = BTreeMap::new();
    let mut defaults = clients
        .quotas
        .list_aws_default_service_quotas()
        .service_code(service)
        .into_paginator()
        .send();
    while let Some(page) = defaults.next().await {
        let out =
            page.map_err(|e| AwsError::call("servicequotas:ListAWSDefaultServiceQuotas", &e))?;
        for q in out.quotas() {
            let mut quota = quota_of(q);
            quota.default = quota.value;
            by_code.insert(quota.code.clone(), quota);
        }
    }
    let mut applied = clients
        .quotas
        .list_service_quotas()
        .service_code(service)
        .into_paginator()
        .send();
    while let Some(page) = applied.next().await {
        let out = page.map_err(|e| AwsError::call("servicequotas:ListServiceQuotas", &e))?;
        for q in out.quotas() {
            let applied = quota_of(q);
            let entry = by_code
                .entry(applied.code.clone())
                .or_insert(applied.clone());
            entry.value = applied.value.or(entry.value);
            entry.adjustable = applied.adjustable;
        }
    }
    Ok(by_code.into_values().collect())
}

/// The quota whose lower-case name holds every keyword.
pub fn find<'a>(quotas: &'a [Quota], keywords: &[&str]) -> Option<&'a Quota> {
    quotas.iter().find(|q| {
        let name = q.name.to_lowercase();
        keywords.iter().all(|k| name.contains(k))
    })
}

/// The values the services' own APIs report.
#[derive(Debug, Clone, Default)]
pub struct AccountValues {
    pub lambda_concurrency: Option<f64>,
    pub lambda_unreserved: Option<f64>,
    pub dynamo: Option<[Option<f64>; 4]>,
}

impl AccountValues {
    fn get(&self, which: AccountValue) -> Option<f64> {
        let d = |i: usize| self.dynamo.and_then(|v| v[i]);
        match which {
            AccountValue::LambdaConcurrency => self.lambda_concurrency,
            AccountValue::LambdaUnreserved => self.lambda_unreserved,
            AccountValue::DynamoTableRead => d(0),
            AccountValue::DynamoTableWrite => d(1),
            AccountValue::DynamoAccountRead => d(2),
            AccountValue::DynamoAccountWrite => d(3),
        }
    }
}

async fn lambda_settings(clients: &Clients) -> Result<(Option<f64>, Option<f64>), AwsError> {
    let c = clients.lambda.concurrency().await?;
    Ok((c.limit, c.unreserved))
}

async fn dynamo_limits(clients: &Clients) -> Result<[Option<f64>; 4], AwsError> {
    let out = clients
        .dynamodb
        .describe_limits()
        .send()
        .await
        .map_err(|e| AwsError::call("dynamodb:DescribeLimits", &e))?;
    let f = |v: Option<i64>| v.map(|v| v as f64);
    Ok([
        f(out.table_max_read_capacity_units()),
        f(out.table_max_write_capacity_units()),
        f(out.account_max_read_capacity_units()),
        f(out.account_max_write_capacity_units()),
    ])
}

/// Read what every requirement needs, in parallel, and compare.
pub async fn check(
    clients: &Clients,
    requirements: &[Requirement],
) -> Result<Vec<Check>, AwsError> {
    let wants =
        |f: fn(AccountValue) -> bool| requirements.iter().any(|r| r.account_value.is_some_and(f));
    let lambda = async {
        if wants(|v| {
            matches!(
                v,
                AccountValue::LambdaConcurrency | AccountValue::LambdaUnreserved
            )
        }) {
            lambda_settings(clients).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let dynamo = async {
        if wants(|v| {
            matches!(
                v,
                AccountValue::DynamoTableRead
                    | AccountValue::DynamoTableWrite
                    | AccountValue::DynamoAccountRead
                    | AccountValue::DynamoAccountWrite
            )
        }) {
            dynamo_limits(clients).await.map(Some)
        } else {
            Ok(None)
        }
    };
    // Quotas by code, and whole services for those found by name.
    let mut tasks = tokio::task::JoinSet::new();
    let mut listed: Vec<&'static str> = requirements
        .iter()
        .filter(|r| r.code.is_none() && !r.keywords.is_empty())
        .map(|r| r.service)
        .collect();
    listed.sort();
    listed.dedup();
    for service in listed {
        let c = clients.clone();
        tasks.spawn(async move { (service, None, list(&c, service).await) });
    }
    for r in requirements {
        if let Some(code) = r.code {
            let c = clients.clone();
            let service = r.service;
            tasks.spawn(async move {
                (
                    service,
                    Some(code),
                    by_code(&c, service, code).await.map(|q| vec![q]),
                )
            });
        }
    }
    let quotas = async {
        let mut found: BTreeMap<(String, Option<&'static str>), Vec<Quota>> = BTreeMap::new();
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let (service, code, result) = joined.expect("quota reads do not panic");
            match result {
                Ok(q) => {
                    found.insert((service.to_string(), code), q);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(found),
        }
    };
    let (lambda, dynamo, quotas) = tokio::try_join!(lambda, dynamo, quotas)?;
    let account = AccountValues {
        lambda_concurrency: lambda.and_then(|l| l.0),
        lambda_unreserved: lambda.and_then(|l| l.1),
        dynamo,
    };
    Ok(requirements
        .iter()
        .map(|r| {
            let quota = match r.code {
                Some(code) => quotas
                    .get(&(r.service.to_string(), Some(code)))
                    .and_then(|q| q.first()),
                None if !r.keywords.is_empty() => quotas
                    .get(&(r.service.to_string(), None))
                    .and_then(|list| find(list, r.keywords)),
                None => None,
            };
            let from_account = r.account_value.and_then(|v| account.get(v));
            let (current, source) = match (from_account, quota.and_then(|q| q.value)) {
                (Some(v), _) => (Some(v), account_source(r.account_value)),
                (None, Some(v)) => (Some(v), "Service Quotas".to_string()),
                (None, None) => (None, "not found".to_string()),
            };
            let status = match current {
                Some(v) if v >= r.required => Status::Pass,
                Some(_) => Status::Short,
                None => Status::Unknown,
            };
            Check {
                id: r.id,
                quota: r.quota,
                service: r.service,
                code: quota.map(|q| q.code.clone()).or(r.code.map(str::to_string)),
                required: r.required,
                current,
                default: quota.and_then(|q| q.default),
                adjustable: quota.map(|q| q.adjustable),
                status,
                source,
                why: r.why.clone(),
            }
        })
        .collect())
}

fn account_source(v: Option<AccountValue>) -> String {
    match v {
        Some(AccountValue::LambdaConcurrency | AccountValue::LambdaUnreserved) => {
            "lambda:GetAccountSettings".into()
        }
        Some(_) => "dynamodb:DescribeLimits".into(),
        None => String::new(),
    }
}
