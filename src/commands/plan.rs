//! `rmdeploy plan`: render the stack for a profile, check it and show what it holds.

use std::process::ExitCode;

use miette::miette;

use super::common::{block_on, ProfileArgs, TemplateArgs};
use crate::artifacts::build;
use crate::aws::{AwsArgs, Clients};
use crate::cli::{EXIT_ATTENTION, EXIT_OK};
use crate::deploy::live::{self, LivePlan};
use crate::output::{print_json, thousands, OutputFormat, Style};
use crate::plan::{self, OfflinePlan};
use crate::render;

/// Show what the profile deploys: resources by service and by feature, template size, checks,
/// warnings and the estimated monthly cost (see `rmdeploy cost`).
///
/// The plan goes live (reads the account and makes a CloudFormation change set, deleted
/// afterwards, to show what would change) when an account is configured: AWS credentials in the
/// environment, AWS_PROFILE or --aws-profile, ~/.aws/config or ~/.aws/credentials, or
/// --endpoint-url / AWS_ENDPOINT_URL. `--offline` never contacts AWS.
///
/// Exit 2 (attention) when the estimate is over the profile's `budget.monthly` (unless
/// --ignore-budget), and with --detailed-exitcode when the live plan has changes.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Also list every resource with its type and the feature that produced it.
    #[arg(long)]
    pub resources: bool,
    /// Do not contact AWS even when an account is configured.
    #[arg(long)]
    pub offline: bool,
    /// Exit with 2 when the live plan has changes (0: no changes, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Go on when the cost estimate is over the profile's `budget.monthly` (exit 0, not 2).
    #[arg(long)]
    pub ignore_budget: bool,
    /// The firmware manifest the profile's `firmware.images` are checked against [default: the
    /// profile's `firmware.manifest`].
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<std::path::PathBuf>,
    /// Cargo target folder of the Lambda builds whose artifacts the plan uses.
    #[arg(long, value_name = "DIR", env = "RMDEPLOY_LAMBDA_TARGET")]
    pub target_dir: Option<std::path::PathBuf>,
}

/// The live part of a plan, or why there is none.
#[derive(Debug, serde::Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    offline: &'a OfflinePlan,
    /// The estimated monthly cost (see `rmdeploy cost`).
    cost: &'a crate::cost::Estimate,
    live: Option<&'a LivePlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    live_skipped: Option<String>,
    /// The quota check of a live plan (see `quota-check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    quotas: Option<&'a QuotaVerdict>,
}

/// The quota verdict shown with a live plan; a check that cannot be made is reported, not fatal.
#[derive(Debug, serde::Serialize)]
struct QuotaVerdict {
    passed: bool,
    checks: Vec<crate::quotas::Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    // The firmware the profile lists, checked as `apply` checks it before deploying.
    super::firmware::profile_images(&resolved, args.manifest.as_ref())?;
    let rendered = render::render(&resolved, args.templates.templates.as_deref())?;
    let plan = plan::offline(&resolved, &rendered);
    let estimate = crate::cost::estimate(&resolved, &rendered.stack.document);
    let mut verdict: Option<QuotaVerdict> = None;
    let (live, skipped) = if !plan.passed() || args.offline {
        (None, None)
    } else if !args.aws.account_configured() {
        (
            None,
            Some(
                "no AWS account is configured (credentials, --aws-profile or --endpoint-url)"
                    .to_string(),
            ),
        )
    } else {
        let functions = crate::stack::deployed_functions(&resolved);
        let built = super::build::target_dir(args.target_dir.clone())
            .ok()
            .and_then(|target| build::collect(&target, &functions, resolved.architecture).ok())
            .unwrap_or_default();
        let stack = resolved.profile.stack_name.clone();
        block_on(async {
            let clients = Clients::connect(&args.aws, &resolved.region).await;
            if let Err(e) = clients.require_credentials().await {
                return Ok::<_, miette::Report>((
                    None,
                    Some(format!("{e}: showing the offline plan")),
                ));
            }
            eprintln!(
                "making a change set for stack {stack} in {}",
                resolved.region
            );
            let requirements = crate::quotas::derive(&resolved);
            let (live, checks) = tokio::join!(
                live::plan(&clients, &stack, &rendered.stack, &built),
                crate::quotas::live::check(&clients, &requirements)
            );
            verdict = Some(match checks {
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
            Ok((Some(live?), None))
        })?
    };
    match output {
        OutputFormat::Json => print_json(&Output {
            offline: &plan,
            cost: &estimate,
            live: live.as_ref(),
            live_skipped: skipped.clone(),
            quotas: verdict.as_ref(),
        }),
        OutputFormat::Human => {
            print_human(&plan, args.resources);
            println!();
            print!("{}", Summary(&estimate));
            match (&live, &skipped) {
                (Some(l), _) => {
                    print_live(l);
                    if let Some(v) = &verdict {
                        print_verdict(v);
                    }
                }
                (None, Some(why)) => eprintln!("live plan skipped: {why}"),
                _ => {}
            }
        }
    }
    if !plan.passed() {
        let failed: Vec<&str> = plan
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.id)
            .collect();
        return Err(miette!(
            help = "the findings above name the template and resource; fix the template (or the --templates override)",
            "template checks failed: {}",
            failed.join(", ")
        ));
    }
    let over = super::cost::budget_exit(&estimate, args.ignore_budget);
    if over != ExitCode::from(EXIT_OK) {
        return Ok(over);
    }
    let changed = live.as_ref().is_some_and(|l| !l.changes.is_empty());
    Ok(ExitCode::from(if args.detailed_exitcode && changed {
        EXIT_ATTENTION
    } else {
        EXIT_OK
    }))
}

/// The estimate's summary (total, by service and feature, assumptions), as a plan shows it.
pub struct Summary<'a>(pub &'a crate::cost::Estimate);

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.summary(f)
    }
}

fn print_verdict(v: &QuotaVerdict) {
    let s = Style::stdout();
    println!();
    match &v.error {
        Some(e) => println!(
            "{} could not be checked: {e} (apply stops on this unless --skip-quota-check)",
            s.bold("Quotas:")
        ),
        None if v.passed => println!(
            "{} {}",
            s.bold("Quotas:"),
            s.green(&format!("all {} checks pass", v.checks.len()))
        ),
        None => {
            println!(
                "{} {} (apply refuses until they are raised; `rmdeploy quota-check` for details)",
                s.bold("Quotas:"),
                s.red("short")
            );
            for c in v
                .checks
                .iter()
                .filter(|c| c.status != crate::quotas::Status::Pass)
            {
                println!(
                    "  {} {} needs {}, has {}",
                    c.id,
                    c.quota,
                    thousands(c.required as usize),
                    c.current
                        .map(|v| thousands(v as usize))
                        .unwrap_or_else(|| "?".into())
                );
            }
        }
    }
}

fn print_live(live: &LivePlan) {
    let s = Style::stdout();
    println!();
    let state = match &live.stack_status {
        Some(status) => format!("stack {} ({status})", live.stack),
        None => format!("stack {} (new)", live.stack),
    };
    println!("{} {state}", s.bold("Live plan:"));
    if live.changes.is_empty() {
        println!("  {}", s.green("No changes."));
    } else {
        print_change_list(&live.changes, s);
    }
    for note in &live.notes {
        println!("  {} {note}", s.dim("note:"));
    }
}

/// The changes of a change set: a count by action, then one line per resource with the action,
/// logical id, type, replacement and changed properties.
pub fn print_change_list(changes: &[crate::deploy::changeset::PlannedChange], s: Style) {
    let count = |action: &str| changes.iter().filter(|c| c.action == action).count();
    println!(
        "  {} changes: {} to add, {} to modify, {} to remove",
        changes.len(),
        count("Add"),
        count("Modify"),
        count("Remove")
    );
    let w1 = changes
        .iter()
        .map(|c| c.logical_id.len())
        .max()
        .unwrap_or(0);
    let w2 = changes
        .iter()
        .map(|c| c.resource_type.len())
        .max()
        .unwrap_or(0);
    for c in changes {
        let mark = match c.action.as_str() {
            "Add" => s.green("+ Add   "),
            "Remove" => s.red("- Remove"),
            "Modify" => s.yellow("~ Modify"),
            other => format!("? {other:<6}"),
        };
        let mut extra = String::new();
        if let Some(r) = &c.replacement {
            if r != "False" {
                extra.push_str(&s.red(&format!(" replacement: {r}")));
            }
        }
        if !c.changed.is_empty() {
            extra.push_str(&format!(" ({})", c.changed.join(", ")));
        }
        let line = format!(
            "  {mark} {:<w1$}  {:<w2$}{extra}",
            c.logical_id, c.resource_type
        );
        println!("{}", line.trim_end());
    }
}

fn print_human(plan: &OfflinePlan, list: bool) {
    let s = Style::stdout();
    println!(
        "{} {} · profile {}",
        s.bold("Plan for stack"),
        s.bold(&plan.stack_name),
        plan.profile
    );
    println!(
        "  region {} · variant {} (partition {}) · Lambda {} · identity {}",
        plan.region, plan.variant, plan.partition, plan.architecture, plan.identity
    );
    println!("  {}", s.dim("rendered and checked here, without AWS"));
    println!();
    println!(
        "{} {} (CloudFormation allows {})",
        s.bold("Resources:"),
        plan.resources.total,
        plan.resources.limit
    );
    let rows = |title: &str, map: &std::collections::BTreeMap<String, usize>| {
        println!("  {title}");
        let width = map.keys().map(String::len).max().unwrap_or(0);
        for (name, n) in map {
            println!("    {name:<width$}  {n:>4}");
        }
    };
    rows("by service", &plan.resources.by_service);
    rows("by feature", &plan.resources.by_feature);
    if list {
        println!("  resources");
        let w1 = plan
            .resources
            .items
            .iter()
            .map(|r| r.logical_id.len())
            .max()
            .unwrap_or(0);
        let w2 = plan
            .resources
            .items
            .iter()
            .map(|r| r.kind.len())
            .max()
            .unwrap_or(0);
        for r in &plan.resources.items {
            println!("    {:<w1$}  {:<w2$}  {}", r.logical_id, r.kind, r.feature);
        }
    }
    println!();
    let t = &plan.template;
    let how = if t.via_s3 {
        format!(
            "over the {}-byte inline limit: apply uploads it to the artifacts bucket",
            thousands(t.inline_limit)
        )
    } else {
        format!("within the {}-byte inline limit", thousands(t.inline_limit))
    };
    println!(
        "{} {} bytes as JSON, {how}",
        s.bold("Template:"),
        thousands(t.bytes)
    );
    let passed = plan.checks.iter().filter(|c| c.passed).count();
    let ids: Vec<&str> = plan.checks.iter().map(|c| c.id).collect();
    if plan.passed() {
        println!(
            "{} {} ({})",
            s.bold("Checks:"),
            s.green(&format!("{passed} passed")),
            ids.join(", ")
        );
    } else {
        println!(
            "{} {}",
            s.bold("Checks:"),
            s.red(&format!("{} failed", plan.checks.len() - passed))
        );
        for c in plan.checks.iter().filter(|c| !c.passed) {
            println!("  {} {}", s.red("✗"), c.description);
            for f in &c.findings {
                println!("      {f}");
            }
        }
    }
    if !plan.warnings.is_empty() {
        println!("{}", s.bold("Warnings:"));
        for w in &plan.warnings {
            println!("  {} {w}", s.yellow("!"));
        }
    }
}
