//! Service quotas: what the profile needs (`requirements`), what the account has (`live`), and
//! increase requests (`increase`). Nothing here knows about the terminal.

pub mod increase;
pub mod live;
pub mod requirements;

use serde::Serialize;

pub use requirements::{derive, Requirement};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// The current value is below what the profile needs.
    Short,
    /// The quota could not be found in the account's list.
    Unknown,
    /// Left out with `--ignore`.
    Ignored,
}

/// One requirement against the account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub quota: &'static str,
    pub service: &'static str,
    /// The Service Quotas code (found by name where it is not fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub required: f64,
    pub current: Option<f64>,
    pub default: Option<f64>,
    /// Whether Service Quotas takes increase requests for it.
    pub adjustable: Option<bool>,
    pub status: Status,
    /// Where `current` came from.
    pub source: String,
    pub why: String,
}

/// The calls a check makes for these requirements, as IAM actions with their arguments: what
/// an offline run says it would read, and the permissions a user needs.
pub fn reads(requirements: &[Requirement]) -> Vec<String> {
    let mut out = Vec::new();
    for r in requirements {
        if let Some(v) = r.account_value {
            let call = match v {
                requirements::AccountValue::LambdaConcurrency
                | requirements::AccountValue::LambdaUnreserved => "lambda:GetAccountSettings",
                _ => "dynamodb:DescribeLimits",
            };
            out.push(call.to_string());
        }
        match r.code {
            Some(code) => out.push(format!(
                "servicequotas:GetServiceQuota and GetAWSDefaultServiceQuota {} {code}",
                r.service
            )),
            None if !r.keywords.is_empty() => out.push(format!(
                "servicequotas:ListServiceQuotas and ListAWSDefaultServiceQuotas {}",
                r.service
            )),
            None => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Mark the checks named in `ignore` (ids, any case) as ignored; ids that match nothing.
pub fn apply_ignore(checks: &mut [Check], ignore: &[String]) -> Vec<String> {
    let mut unknown = Vec::new();
    for id in ignore {
        let mut hit = false;
        for c in checks.iter_mut().filter(|c| c.id.eq_ignore_ascii_case(id)) {
            c.status = Status::Ignored;
            hit = true;
        }
        if !hit {
            unknown.push(id.clone());
        }
    }
    unknown
}

/// Whether every check passes (or is ignored).
pub fn passed(checks: &[Check]) -> bool {
    checks
        .iter()
        .all(|c| matches!(c.status, Status::Pass | Status::Ignored))
}
