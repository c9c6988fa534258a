//! The offline plan as `plan` shows it.

use std::collections::BTreeMap;
use std::fmt;

use super::OfflinePlan;
use crate::output::{thousands, Style};

/// An offline plan in human form; `resources`: also list every resource.
pub struct Shown<'a> {
    pub plan: &'a OfflinePlan,
    pub resources: bool,
}

fn rows(f: &mut fmt::Formatter<'_>, title: &str, map: &BTreeMap<String, usize>) -> fmt::Result {
    writeln!(f, "  {title}")?;
    let width = map.keys().map(String::len).max().unwrap_or(0);
    for (name, n) in map {
        writeln!(f, "    {name:<width$}  {n:>4}")?;
    }
    Ok(())
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (plan, list, s) = (self.plan, self.resources, Style::of(f));
        writeln!(
            f,
            "{} {} · profile {}",
            s.bold("Plan for stack"),
            s.bold(&plan.stack_name),
            plan.profile
        )?;
        writeln!(
            f,
            "  region {} · variant {} (partition {}) · Lambda {} · identity {}",
            plan.region, plan.variant, plan.partition, plan.architecture, plan.identity
        )?;
        writeln!(f, "  {}", s.dim("rendered and checked here, without AWS"))?;
        writeln!(f)?;
        writeln!(
            f,
            "{} {} (CloudFormation allows {})",
            s.bold("Resources:"),
            plan.resources.total,
            plan.resources.limit
        )?;
        rows(f, "by service", &plan.resources.by_service)?;
        rows(f, "by feature", &plan.resources.by_feature)?;
        if list {
            writeln!(f, "  resources")?;
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
                writeln!(
                    f,
                    "    {:<w1$}  {:<w2$}  {}",
                    r.logical_id, r.kind, r.feature
                )?;
            }
        }
        writeln!(f)?;
        let t = &plan.template;
        let how = if t.via_s3 {
            format!(
                "over the {}-byte inline limit: apply uploads it to the artifacts bucket",
                thousands(t.inline_limit)
            )
        } else {
            format!("within the {}-byte inline limit", thousands(t.inline_limit))
        };
        writeln!(
            f,
            "{} {} bytes as JSON, {how}",
            s.bold("Template:"),
            thousands(t.bytes)
        )?;
        let passed = plan.checks.iter().filter(|c| c.passed).count();
        let ids: Vec<&str> = plan.checks.iter().map(|c| c.id).collect();
        if plan.passed() {
            writeln!(
                f,
                "{} {} ({})",
                s.bold("Checks:"),
                s.green(&format!("{passed} passed")),
                ids.join(", ")
            )?;
        } else {
            writeln!(
                f,
                "{} {}",
                s.bold("Checks:"),
                s.red(&format!("{} failed", plan.checks.len() - passed))
            )?;
            for c in plan.checks.iter().filter(|c| !c.passed) {
                writeln!(f, "  {} {}", s.red("✗"), c.description)?;
                for finding in &c.findings {
                    writeln!(f, "      {finding}")?;
                }
            }
        }
        if !plan.warnings.is_empty() {
            writeln!(f, "{}", s.bold("Warnings:"))?;
            for w in &plan.warnings {
                writeln!(f, "  {} {w}", s.yellow("!"))?;
            }
        }
        Ok(())
    }
}
