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

/// Why the account's quotas could not be checked.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CheckError {
    #[error("--ignore names no check: {}", unknown.join(", "))]
    #[diagnostic(code(rmdeploy::quotas::ignore), help("this profile's checks are {}", ids.join(", ")))]
    UnknownIgnored {
        unknown: Vec<String>,
        ids: Vec<String>,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] crate::aws::AwsError),
}

/// `ignore` ids that name no requirement: an error naming the valid ones.
pub fn unknown_ignored(requirements: &[Requirement], ignore: &[String]) -> Result<(), CheckError> {
    let unknown: Vec<String> = ignore
        .iter()
        .filter(|id| !requirements.iter().any(|r| r.id.eq_ignore_ascii_case(id)))
        .cloned()
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(CheckError::UnknownIgnored {
        unknown,
        ids: requirements.iter().map(|r| r.id.to_string()).collect(),
    })
}

/// Read the account's quotas and compare them with `requirements`, leaving out `ignore`.
pub async fn check_account(
    clients: &crate::aws::Clients,
    requirements: &[Requirement],
    ignore: &[String],
) -> Result<Vec<Check>, CheckError> {
    unknown_ignored(requirements, ignore)?;
    let mut checks = live::check(clients, requirements).await?;
    apply_ignore(&mut checks, ignore);
    Ok(checks)
}

/// The ids of the checks that fell short (or could not be read).
pub fn failed(checks: &[Check]) -> Vec<&'static str> {
    checks
        .iter()
        .filter(|c| !matches!(c.status, Status::Pass | Status::Ignored))
        .map(|c| c.id)
        .collect()
}

/// The table of checks as `quota-check` and `apply` show them, then why each shortfall matters.
pub struct CheckList<'a>(pub &'a [Check]);

impl std::fmt::Display for CheckList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (checks, s) = (self.0, crate::output::Style::of(f));
        let w = checks.iter().map(|c| c.quota.len()).max().unwrap_or(0);
        writeln!(
            f,
            "{}",
            s.bold(&format!(
                "{:<5} {:<w$} {:>10} {:>10} {:>10} {:<10} status",
                "check", "quota", "required", "current", "default", "adjustable"
            ))
        )?;
        for c in checks {
            let status = match c.status {
                Status::Pass => s.green("pass"),
                Status::Short => s.red("SHORT"),
                Status::Unknown => s.yellow("unknown"),
                Status::Ignored => s.dim("ignored"),
            };
            let adjustable = match c.adjustable {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            writeln!(
                f,
                "{:<5} {:<w$} {:>10} {:>10} {:>10} {:<10} {status}",
                c.id,
                c.quota,
                shown(Some(c.required)),
                shown(c.current),
                shown(c.default),
                adjustable
            )?;
        }
        for c in checks {
            writeln!(f, "  {} {}", s.dim(&format!("{}:", c.id)), c.why)?;
        }
        let short: Vec<&Check> = checks
            .iter()
            .filter(|c| c.status == Status::Short)
            .collect();
        let unknown: Vec<&Check> = checks
            .iter()
            .filter(|c| c.status == Status::Unknown)
            .collect();
        if short.is_empty() && unknown.is_empty() {
            writeln!(f, "{}", s.green("All quotas cover the profile."))?;
        }
        for c in short {
            let how = if c.adjustable == Some(true) {
                "request an increase (`rmdeploy quota-check --request-increase`)".to_string()
            } else {
                "not adjustable by request: change the profile".to_string()
            };
            writeln!(
                f,
                "{} {} {}: needs {}, has {}: {how}",
                s.red("short:"),
                c.id,
                c.quota,
                shown(Some(c.required)),
                shown(c.current)
            )?;
        }
        for c in unknown {
            writeln!(
                f,
                "{} {} {}: not found in the account's quota list ({}), so it could not be checked",
                s.yellow("unknown:"),
                c.id,
                c.quota,
                c.service
            )?;
        }
        Ok(())
    }
}

fn shown(v: Option<f64>) -> String {
    v.map(|v| crate::output::thousands(v.round() as usize))
        .unwrap_or_else(|| "?".into())
}
