//! `rmdeploy plan`: render the stack for a profile, check it and show what it holds.

use std::process::ExitCode;

use miette::miette;

use super::common::{ProfileArgs, TemplateArgs};
use crate::cli::EXIT_OK;
use crate::output::{print_json, thousands, OutputFormat, Style};
use crate::plan::{self, OfflinePlan};
use crate::render;

/// Show what the profile deploys: resources by service and by feature, template size, checks and
/// warnings. Offline: it needs no AWS account.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    /// Also list every resource with its type and the feature that produced it.
    #[arg(long)]
    pub resources: bool,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let rendered = render::render(&resolved, args.templates.templates.as_deref())?;
    let plan = plan::offline(&resolved, &rendered);
    match output {
        OutputFormat::Json => print_json(&plan),
        OutputFormat::Human => print_human(&plan, args.resources),
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
    Ok(ExitCode::from(EXIT_OK))
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
    println!(
        "  {}",
        s.dim("offline: rendered and checked here; no AWS account was read")
    );
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
