//! `rmdeploy quota-check`: does the account's quota cover what the profile needs?

use std::process::ExitCode;

use miette::miette;
use serde::Serialize;

use super::common::{block_on, confirm, Answer, ProfileArgs};
use crate::aws::{AwsArgs, Clients};
use crate::cli::{EXIT_ATTENTION, EXIT_OK};
use crate::deploy::interrupt::Interrupt;
use crate::output::{print_json, thousands, OutputFormat, Style};
use crate::quotas::{self, increase, Check, Requirement, Status};

/// Check the account's service quotas against what the profile needs: Lambda concurrency (and
/// what reserved concurrency leaves), DynamoDB table- and account-level capacity units, IoT Core
/// connect and publish rates and connections (from the capacity figures), API Gateway throttling,
/// Cognito user pools. Each check has a stable id (Q001 ...) and says why the profile needs that
/// much. Exit 0 when all pass, 2 when any falls short or cannot be read, 1 on error.
///
/// Without an AWS account (or with --offline) it lists the requirements and the calls it would
/// make.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Leave out checks by id, for example `--ignore Q011,Q012`.
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// File a Service Quotas increase request for each adjustable shortfall (after a
    /// confirmation; `--yes`), skipping quotas with a request already open, and list the open
    /// requests.
    #[arg(long)]
    pub request_increase: bool,
    /// Do not ask before filing increase requests.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Do not contact AWS: list the requirements and what would be read.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Serialize)]
struct Offline<'a> {
    mode: &'static str,
    region: &'a str,
    requirements: &'a [Requirement],
    /// Ids left out with `--ignore`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ignored: Vec<&'static str>,
    /// The calls a live check makes (the IAM permissions it needs).
    reads: Vec<String>,
}

/// `--ignore` ids that name no requirement: an error naming the valid ones.
fn unknown_ignored(requirements: &[Requirement], ignore: &[String]) -> miette::Result<()> {
    let unknown: Vec<&str> = ignore
        .iter()
        .filter(|id| !requirements.iter().any(|r| r.id.eq_ignore_ascii_case(id)))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = requirements.iter().map(|r| r.id).collect();
    Err(miette!(
        help = format!("this profile's checks are {}", ids.join(", ")),
        "--ignore names no check: {}",
        unknown.join(", ")
    ))
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

/// Read and compare; `--ignore` ids that match no check are an error naming the valid ones.
pub async fn run_checks(
    clients: &Clients,
    requirements: &[Requirement],
    ignore: &[String],
) -> miette::Result<Vec<Check>> {
    unknown_ignored(requirements, ignore)?;
    let mut checks = quotas::live::check(clients, requirements).await?;
    quotas::apply_ignore(&mut checks, ignore);
    Ok(checks)
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let requirements = quotas::derive(&resolved);
    if args.offline || !args.aws.account_configured() {
        if !args.offline {
            eprintln!("no AWS account is configured (credentials, --aws-profile or --endpoint-url): listing the requirements only");
        }
        unknown_ignored(&requirements, &args.ignore)?;
        let ignored = |r: &Requirement| args.ignore.iter().any(|id| r.id.eq_ignore_ascii_case(id));
        let kept: Vec<Requirement> = requirements
            .iter()
            .filter(|r| !ignored(r))
            .cloned()
            .collect();
        let offline = Offline {
            mode: "offline",
            region: &resolved.region,
            requirements: &kept,
            ignored: requirements
                .iter()
                .filter(|r| ignored(r))
                .map(|r| r.id)
                .collect(),
            reads: quotas::reads(&kept),
        };
        match output {
            OutputFormat::Json => print_json(&offline),
            OutputFormat::Human => print_offline(&offline),
        }
        return Ok(ExitCode::from(EXIT_OK));
    }
    let report = block_on(async {
        let clients = Clients::connect(&args.aws, &resolved.region).await;
        clients.require_credentials().await?;
        eprintln!("reading the quotas of the account in {}", resolved.region);
        let checks = run_checks(&clients, &requirements, &args.ignore).await?;
        let requests = if args.request_increase {
            Some(file_requests(&clients, &checks, args.yes).await?)
        } else {
            None
        };
        Ok::<_, miette::Report>(Report {
            region: resolved.region.clone(),
            passed: quotas::passed(&checks),
            checks,
            requests,
        })
    })?;
    match output {
        OutputFormat::Json => print_json(&report),
        OutputFormat::Human => {
            print_checks(&report.checks, Style::stdout());
            if let Some(r) = &report.requests {
                print_requests(r);
            }
        }
    }
    Ok(ExitCode::from(if report.passed {
        EXIT_OK
    } else {
        EXIT_ATTENTION
    }))
}

async fn file_requests(clients: &Clients, checks: &[Check], yes: bool) -> miette::Result<Requests> {
    let open = increase::open_requests(clients, checks).await?;
    let wanted = increase::to_request(checks, &open);
    let mut filed = Vec::new();
    if !wanted.is_empty() {
        let list: Vec<String> = wanted
            .iter()
            .map(|c| format!("{} {} to {}", c.id, c.quota, thousands(c.required as usize)))
            .collect();
        if !yes {
            match confirm(
                &format!("Request increases: {}?", list.join("; ")),
                &Interrupt::never(),
            )
            .await
            {
                Answer::Yes => {}
                Answer::NoTerminal => {
                    return Err(miette!(
                        help = "run with --yes to file them without asking",
                        "there is no terminal to confirm the increase requests on; none was filed"
                    ))
                }
                _ => {
                    eprintln!("no request was filed");
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

fn value(v: Option<f64>) -> String {
    v.map(|v| thousands(v.round() as usize))
        .unwrap_or_else(|| "?".into())
}

/// The table of checks, then why each shortfall matters.
pub fn print_checks(checks: &[Check], s: Style) {
    let w = checks.iter().map(|c| c.quota.len()).max().unwrap_or(0);
    println!(
        "{}",
        s.bold(&format!(
            "{:<5} {:<w$} {:>10} {:>10} {:>10} {:<10} status",
            "check", "quota", "required", "current", "default", "adjustable"
        ))
    );
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
        println!(
            "{:<5} {:<w$} {:>10} {:>10} {:>10} {:<10} {status}",
            c.id,
            c.quota,
            value(Some(c.required)),
            value(c.current),
            value(c.default),
            adjustable
        );
    }
    for c in checks {
        println!("  {} {}", s.dim(&format!("{}:", c.id)), c.why);
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
        println!("{}", s.green("All quotas cover the profile."));
    }
    for c in short {
        let how = if c.adjustable == Some(true) {
            "request an increase (`rmdeploy quota-check --request-increase`)".to_string()
        } else {
            "not adjustable by request: change the profile".to_string()
        };
        println!(
            "{} {} {}: needs {}, has {}: {how}",
            s.red("short:"),
            c.id,
            c.quota,
            value(Some(c.required)),
            value(c.current)
        );
    }
    for c in unknown {
        println!(
            "{} {} {}: not found in the account's quota list ({}), so it could not be checked",
            s.yellow("unknown:"),
            c.id,
            c.quota,
            c.service
        );
    }
}

fn print_requests(r: &Requests) {
    let s = Style::stdout();
    for f in &r.filed {
        println!(
            "{} {} {} to {} ({})",
            s.bold("requested:"),
            f.service,
            f.quota,
            thousands(f.desired as usize),
            f.status
        );
    }
    if r.open.is_empty() && r.filed.is_empty() {
        println!("no increase request is open");
    }
    for o in &r.open {
        println!(
            "{} {} {} to {} ({})",
            s.bold("open request:"),
            o.service,
            o.quota,
            thousands(o.desired as usize),
            o.status
        );
    }
}

fn print_offline(o: &Offline) {
    let s = Style::stdout();
    println!(
        "{} in {} (offline: nothing was read)",
        s.bold("Quota requirements"),
        o.region
    );
    let w = o
        .requirements
        .iter()
        .map(|r| r.quota.len())
        .max()
        .unwrap_or(0);
    for r in o.requirements {
        println!(
            "  {} {:<w$} {:>10}  {}",
            r.id,
            r.quota,
            value(Some(r.required)),
            r.why
        );
    }
    if !o.ignored.is_empty() {
        println!("  {} {}", s.dim("ignored:"), o.ignored.join(", "));
    }
    println!("{}", s.bold("A live check reads:"));
    for call in &o.reads {
        println!("  {call}");
    }
}
