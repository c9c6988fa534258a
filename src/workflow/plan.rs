//! `plan`: what the profile deploys and costs, offline; with an account, also the change set
//! and the quota verdict.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::{Credentials, Observer, Session};
use crate::artifacts::build;
use crate::aws::{Access, AwsError};
use crate::cost::Estimate;
use crate::deploy::changeset::ChangeList;
use crate::deploy::live::{self, LivePlan};
use crate::deploy::DeployError;
use crate::output::{nested, thousands, Style};
use crate::plan::OfflinePlan;

/// What `plan` found.
#[derive(Debug, Serialize)]
pub struct Planned {
    #[serde(flatten)]
    pub offline: OfflinePlan,
    /// The estimated monthly cost (see `rmdeploy cost`).
    pub cost: Estimate,
    pub live: Option<LivePlan>,
    /// Why there is no live plan, when one was wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_skipped: Option<String>,
    /// The quota check of a live plan (see `quota-check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quotas: Option<QuotaVerdict>,
    /// List every resource in the human form.
    #[serde(skip)]
    pub list_resources: bool,
}

/// The quota verdict shown with a live plan; a check that cannot be made is reported, not fatal.
#[derive(Debug, Serialize)]
pub struct QuotaVerdict {
    pub passed: bool,
    pub checks: Vec<crate::quotas::Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the plan may look.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The account to plan against; `None`: offline.
    pub access: Option<Access>,
    /// Why the plan stays offline when `access` is `None` and a live plan was wanted.
    pub offline_because: Option<String>,
    /// The Lambda build folder whose artifacts the live plan uses.
    pub lambda_target: Option<PathBuf>,
    pub list_resources: bool,
}

impl Planned {
    pub fn changed(&self) -> bool {
        self.live.as_ref().is_some_and(|l| !l.changes.is_empty())
    }
}

/// Plan the session's stack.
pub async fn plan(
    session: &Session,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<Planned, DeployError> {
    let (resolved, rendered) = (&session.resolved, &session.rendered);
    let offline = crate::plan::offline(resolved, rendered);
    let mut planned = Planned {
        cost: crate::cost::estimate(resolved, &rendered.stack.document),
        live: None,
        live_skipped: None,
        quotas: None,
        list_resources: options.list_resources,
        offline,
    };
    let Some(access) = options.access.as_ref().filter(|_| planned.offline.passed()) else {
        planned.live_skipped = options
            .offline_because
            .clone()
            .filter(|_| planned.offline.passed());
        return Ok(planned);
    };
    let clients = match session.connect(access, Credentials::Required).await {
        Ok(clients) => clients,
        Err(e @ AwsError::NoCredentials { .. }) => {
            planned.live_skipped = Some(format!("{e}: showing the offline plan"));
            return Ok(planned);
        }
        Err(e) => return Err(e.into()),
    };
    let functions = crate::stack::deployed_functions(resolved);
    let built = build::target_dir(options.lambda_target.clone())
        .ok()
        .and_then(|target| build::collect(&target, &functions, resolved.architecture).ok())
        .unwrap_or_default();
    let stack = session.stack();
    observer.step(&format!(
        "making a change set for stack {stack} in {}",
        session.region()
    ));
    let requirements = crate::quotas::derive(resolved);
    let (live, checks) = tokio::join!(
        live::plan(&clients, stack, &rendered.stack, &built),
        crate::quotas::live::check(&clients, &requirements)
    );
    planned.quotas = Some(match checks {
        Ok(checks) => QuotaVerdict {
            passed: crate::quotas::passed(&checks),
            checks,
            error: None,
        },
        Err(e) => QuotaVerdict {
            passed: false,
            checks: Vec::new(),
            error: Some(e.to_string()),
        },
    });
    planned.live = Some(live?);
    Ok(planned)
}

impl fmt::Display for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        nested(
            f,
            &crate::plan::show::Shown {
                plan: &self.offline,
                resources: self.list_resources,
            },
        )?;
        writeln!(f)?;
        self.cost.summary(f)?;
        if let Some(live) = &self.live {
            nested(f, &LiveShown(live))?;
            if let Some(v) = &self.quotas {
                nested(f, v)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for QuotaVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (v, s) = (self, Style::of(f));
        writeln!(f)?;
        match &v.error {
            Some(e) => writeln!(
                f,
                "{} could not be checked: {e} (apply stops on this unless --skip-quota-check)",
                s.bold("Quotas:")
            )?,
            None if v.passed => writeln!(
                f,
                "{} {}",
                s.bold("Quotas:"),
                s.green(&format!("all {} checks pass", v.checks.len()))
            )?,
            None => {
                writeln!(f,
                "{} {} (apply refuses until they are raised; `rmdeploy quota-check` for details)",
                s.bold("Quotas:"),
                s.red("short")
            )?;
                for c in v
                    .checks
                    .iter()
                    .filter(|c| c.status != crate::quotas::Status::Pass)
                {
                    writeln!(
                        f,
                        "  {} {} needs {}, has {}",
                        c.id,
                        c.quota,
                        thousands(c.required as usize),
                        c.current
                            .map(|v| thousands(v as usize))
                            .unwrap_or_else(|| "?".into())
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// A live plan in human form.
struct LiveShown<'a>(&'a LivePlan);

impl fmt::Display for LiveShown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (live, s) = (self.0, Style::of(f));
        writeln!(f)?;
        let state = match &live.stack_status {
            Some(status) => format!("stack {} ({status})", live.stack),
            None => format!("stack {} (new)", live.stack),
        };
        writeln!(f, "{} {state}", s.bold("Live plan:"))?;
        if live.changes.is_empty() {
            writeln!(f, "  {}", s.green("No changes."))?;
        } else {
            nested(f, &ChangeList(&live.changes))?;
        }
        for note in &live.notes {
            writeln!(f, "  {} {note}", s.dim("note:"))?;
        }
        Ok(())
    }
}
