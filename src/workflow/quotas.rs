//! `quota-check`: the requirements of a profile offline, or the account's quotas against them,
//! with increase requests filed on request.

use std::fmt;

use miette::Diagnostic;
use serde::Serialize;
use thiserror::Error;

use super::{Answer, Observer, Prompter};
use crate::aws::{AwsError, Clients};
use crate::deploy::interrupt::Interrupt;
use crate::output::{nested, thousands, Style};
use crate::profile::Resolved;
use crate::quotas::{self, increase, Check, CheckError, CheckList, Requirement};

#[derive(Debug, Error, Diagnostic)]
pub enum QuotaError {
    #[error("there is no terminal to confirm the increase requests on; none was filed")]
    #[diagnostic(
        code(rmdeploy::quotas::no_terminal),
        help("run with --yes to file them without asking")
    )]
    NoTerminal,
    #[error(transparent)]
    #[diagnostic(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
}

#[derive(Debug, Serialize)]
pub struct Offline {
    pub mode: &'static str,
    pub region: String,
    pub requirements: Vec<Requirement>,
    /// Ids left out with `--ignore`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<&'static str>,
    /// The calls a live check makes (the IAM permissions it needs).
    pub reads: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub region: String,
    pub passed: bool,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<Requests>,
}

#[derive(Debug, Serialize)]
pub struct Requests {
    pub filed: Vec<increase::Request>,
    pub open: Vec<increase::Request>,
}

/// What the profile needs, without an account; `ignore`: ids left out.
pub fn offline(resolved: &Resolved, ignore: &[String]) -> Result<Offline, QuotaError> {
    let requirements = quotas::derive(resolved);
    quotas::unknown_ignored(&requirements, ignore)?;
    let ignored = |r: &Requirement| ignore.iter().any(|id| r.id.eq_ignore_ascii_case(id));
    let (left_out, kept): (Vec<Requirement>, Vec<Requirement>) =
        requirements.into_iter().partition(ignored);
    Ok(Offline {
        mode: "offline",
        region: resolved.region.clone(),
        reads: quotas::reads(&kept),
        requirements: kept,
        ignored: left_out.iter().map(|r| r.id).collect(),
    })
}

/// The account's quotas against the profile's needs; with `request_increase`, file a request for
/// each adjustable shortfall (asking first unless `yes`).
pub async fn check(
    resolved: &Resolved,
    clients: &Clients,
    ignore: &[String],
    request_increase: bool,
    yes: bool,
    ui: &mut (impl Observer + Prompter),
) -> Result<Report, QuotaError> {
    ui.step(&format!(
        "reading the quotas of the account in {}",
        resolved.region
    ));
    let requirements = quotas::derive(resolved);
    let checks = quotas::check_account(clients, &requirements, ignore).await?;
    let requests = if request_increase {
        Some(file_requests(clients, &checks, yes, ui).await?)
    } else {
        None
    };
    Ok(Report {
        region: resolved.region.clone(),
        passed: quotas::passed(&checks),
        checks,
        requests,
    })
}

async fn file_requests(
    clients: &Clients,
    checks: &[Check],
    yes: bool,
    ui: &mut (impl Observer + Prompter),
) -> Result<Requests, QuotaError> {
    let open = increase::open_requests(clients, checks).await?;
    let wanted = increase::to_request(checks, &open);
    let mut filed = Vec::new();
    if !wanted.is_empty() {
        let list: Vec<String> = wanted
            .iter()
            .map(|c| format!("{} {} to {}", c.id, c.quota, thousands(c.required as usize)))
            .collect();
        if !yes {
            let question = format!("Request increases: {}?", list.join("; "));
            match ui.confirm(&question, &Interrupt::never()).await {
                Answer::Yes => {}
                Answer::NoTerminal => return Err(QuotaError::NoTerminal),
                _ => {
                    ui.step("no request was filed");
                    return Ok(Requests { filed, open });
                }
            }
        }
        for c in wanted {
            filed.push(increase::request(clients, c).await?);
        }
    }
    Ok(Requests { filed, open })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        nested(f, &CheckList(&self.checks))?;
        if let Some(r) = &self.requests {
            nested(f, r)?;
        }
        Ok(())
    }
}

impl fmt::Display for Requests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, s) = (self, Style::of(f));
        for filed in &r.filed {
            writeln!(
                f,
                "{} {} {} to {} ({})",
                s.bold("requested:"),
                filed.service,
                filed.quota,
                thousands(filed.desired as usize),
                filed.status
            )?;
        }
        if r.open.is_empty() && r.filed.is_empty() {
            writeln!(f, "no increase request is open")?;
        }
        for o in &r.open {
            writeln!(
                f,
                "{} {} {} to {} ({})",
                s.bold("open request:"),
                o.service,
                o.quota,
                thousands(o.desired as usize),
                o.status
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Offline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (o, s) = (self, Style::of(f));
        writeln!(
            f,
            "{} in {} (offline: nothing was read)",
            s.bold("Quota requirements"),
            o.region
        )?;
        let w = o
            .requirements
            .iter()
            .map(|r| r.quota.len())
            .max()
            .unwrap_or(0);
        for r in &o.requirements {
            writeln!(
                f,
                "  {} {:<w$} {:>10}  {}",
                r.id,
                r.quota,
                thousands(r.required.round() as usize),
                r.why
            )?;
        }
        if !o.ignored.is_empty() {
            writeln!(f, "  {} {}", s.dim("ignored:"), o.ignored.join(", "))?;
        }
        writeln!(f, "{}", s.bold("A live check reads:"))?;
        for call in &o.reads {
            writeln!(f, "  {call}")?;
        }
        Ok(())
    }
}
