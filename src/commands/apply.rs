//! `rmdeploy apply`: deploy the profile's stack, safely and repeatably.

use std::path::PathBuf;
use std::process::ExitCode;

use miette::miette;
use serde::Serialize;

use super::common::{block_on, confirm, ctrl_c, Answer, LastSeen, ProfileArgs, TemplateArgs};
use super::progress::Progress;
use crate::artifacts::build::{self, Built};
use crate::artifacts::store::Stored;
use crate::aws::{AwsArgs, Clients};
use crate::cli::{EXIT_INTERRUPTED, EXIT_OK};
use crate::deploy::apply::{self, Action};
use crate::deploy::bootstrap::Bootstrap;
use crate::deploy::changeset::{self, Kind, PlannedChange};
use crate::deploy::interrupt::Interrupt;
use crate::deploy::outputs::{self, StackOutput};
use crate::deploy::state::{self, Inspection, State};
use crate::deploy::{stacks, DeployError};
use crate::output::{print_json, OutputFormat, Style};
use crate::profile::Resolved;
use crate::{plan, render};

/// Deploy the profile's stack: build the bundled Lambdas, make sure the bootstrap stack (the
/// artifacts bucket) exists, upload the artifacts the bucket lacks, show the change set, ask, then
/// execute it with live progress and print the outputs. Running it again with nothing changed
/// uploads nothing and ends with "No changes".
///
/// Ctrl-C during an update cancels it (CloudFormation rolls back); a second Ctrl-C leaves at once.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub templates: TemplateArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Do not ask: deploy, and recover a stack whose first creation failed (delete and create it
    /// again) or whose update rollback failed (ContinueUpdateRollback). Required without a
    /// terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Use the Lambda artifacts of the last build instead of building them now.
    #[arg(long)]
    pub no_build: bool,
    /// Folder of the bundled Lambda crates. Default: `lambdas/` of the rmdeploy source tree.
    #[arg(long, value_name = "DIR")]
    pub lambdas: Option<PathBuf>,
    /// Cargo target folder of the Lambda builds. Default: `~/.cache/rmdeploy/lambda-target`.
    #[arg(long, value_name = "DIR", env = "RMDEPLOY_LAMBDA_TARGET")]
    pub target_dir: Option<PathBuf>,
    /// For a stack in UPDATE_ROLLBACK_FAILED: a resource (logical id) the rollback skips because
    /// it cannot return to its old state. Repeat for several.
    #[arg(long, value_name = "LOGICAL_ID")]
    pub skip_resource: Vec<String>,
    /// Refuse, instead of waiting, when another operation on the stack is under way.
    #[arg(long)]
    pub no_wait: bool,
    /// Deploy even when the account's quotas fall short of what the profile needs (see
    /// `rmdeploy quota-check`), or cannot be read.
    #[arg(long)]
    pub skip_quota_check: bool,
    /// Quota checks to leave out, as for `quota-check --ignore`.
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub ignore_quota: Vec<String>,
    /// Deploy even when the cost estimate is over the profile's `budget.monthly`.
    #[arg(long)]
    pub ignore_budget: bool,
    /// The firmware manifest the profile's `firmware.images` come from [default: the profile's
    /// `firmware.manifest`].
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

/// The estimated monthly cost of the stack before and after the change (`rmdeploy cost`), under
/// the profile's capacity figures.
#[derive(Debug, Serialize)]
struct CostChange {
    currency: &'static str,
    /// The deployed stack's template priced the same way; `None` for a new stack, or when the
    /// deployed template could not be read.
    before: Option<f64>,
    after: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    stack: String,
    region: String,
    action: Action,
    status: String,
    bootstrap: Bootstrap,
    artifacts: Vec<Stored>,
    changes: Vec<PlannedChange>,
    /// The estimated monthly cost before and after the change.
    cost: CostChange,
    /// What was done to the stack before the deployment (leftovers removed, recovery).
    recovered: Vec<String>,
    notes: Vec<String>,
    termination_protection: bool,
    outputs: Vec<StackOutput>,
    /// The profile's firmware images, published after the stack (`firmware.images`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    firmware: Vec<crate::firmware::publish::Published>,
}

pub fn run(args: Args, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.profile.load()?;
    let rendered = render::render(&resolved, args.templates.templates.as_deref())?;
    let offline = plan::offline(&resolved, &rendered);
    if !offline.passed() {
        return Err(miette!(
            help = "run `rmdeploy plan` to see the findings; nothing was deployed",
            "the rendered template fails rmdeploy's checks"
        ));
    }
    // Firmware the profile lists is checked before anything is deployed or uploaded.
    let firmware = super::firmware::profile_images(&resolved, args.manifest.as_ref())?;
    let estimate = crate::cost::estimate(&resolved, &rendered.stack.document);
    let over = super::cost::budget_exit(&estimate, args.ignore_budget);
    if over != ExitCode::from(crate::cli::EXIT_OK) {
        eprintln!("not deployed: the estimate is over the budget");
        return Ok(over);
    }
    block_on(async {
        let clients = Clients::connect(&args.aws, &resolved.region).await;
        clients.require_credentials().await?;
        if !args.skip_quota_check {
            eprintln!("checking the account's quotas");
            let requirements = crate::quotas::derive(&resolved);
            let checks = super::quota_check::run_checks(&clients, &requirements, &args.ignore_quota)
                .await
                .map_err(|e| {
                    miette!(
                        help = "grant the permission named above, or deploy without the check: `rmdeploy apply --skip-quota-check`",
                        "the quota check could not be made: {e}"
                    )
                })?;
            if !crate::quotas::passed(&checks) {
                if output == OutputFormat::Human {
                    super::quota_check::print_checks(&checks, Style::stdout());
                }
                let failed: Vec<&str> = checks
                    .iter()
                    .filter(|c| {
                        !matches!(
                            c.status,
                            crate::quotas::Status::Pass | crate::quotas::Status::Ignored
                        )
                    })
                    .map(|c| c.id)
                    .collect();
                eprintln!(
                    "not deployed: the account's quotas fall short of the profile ({}); raise them (`rmdeploy quota-check --request-increase`), change the profile, or run with --skip-quota-check (or --ignore-quota {})",
                    failed.join(", "),
                    failed.join(",")
                );
                return Ok(ExitCode::from(crate::cli::EXIT_ATTENTION));
            }
        }
        let last_seen = LastSeen::default();
        let interrupt = ctrl_c(last_seen.clone());
        let built = match artifacts(&args, &resolved) {
            // Ctrl-C reaches the build's cargo too, which then fails: report the stop.
            Err(_) if interrupt.requested() => {
                return Ok(stopped("during the build; nothing was deployed"))
            }
            other => other?,
        };
        let stack = resolved.profile.stack_name.clone();

        eprintln!("reading stack {stack} in {}", resolved.region);
        let (inspection, recovered) = settle(&clients, &stack, &args, &interrupt).await?;
        if interrupt.requested() {
            return Ok(stopped("nothing was changed"));
        }
        let kind = match inspection.state {
            State::Missing => Kind::Create,
            _ => Kind::Update,
        };
        eprintln!("preparing: bootstrap stack, artifacts, change set");
        let prepared = apply::prepare(
            &clients,
            &stack,
            kind,
            inspection.stack.as_ref(),
            &rendered.stack,
            &rendered.bootstrap.to_json(),
            &built,
        )
        .await?;
        for a in &prepared.artifacts {
            eprintln!(
                "  artifact {}: {}",
                a.key,
                if a.uploaded {
                    "uploaded"
                } else {
                    "already in the bucket"
                }
            );
        }
        let changes = prepared.set.changes.clone();
        let before = match kind {
            Kind::Create => None,
            Kind::Update => match stacks::template(&clients, &stack).await {
                Ok(Some(deployed)) => Some(crate::cost::estimate(&resolved, &deployed).monthly),
                Ok(None) => None,
                Err(e) => {
                    eprintln!("the deployed template could not be read for the cost before the change: {e}");
                    None
                }
            },
        };
        let cost = CostChange {
            currency: estimate.currency,
            before,
            after: estimate.monthly,
        };
        let mut report = Report {
            stack: stack.clone(),
            region: resolved.region.clone(),
            action: Action::Unchanged,
            status: inspection.status().unwrap_or("").to_string(),
            bootstrap: prepared.bootstrap.clone(),
            artifacts: prepared.artifacts.clone(),
            changes: changes.clone(),
            cost,
            recovered,
            notes: prepared.notes.clone(),
            termination_protection: inspection.termination_protection(),
            outputs: Vec::new(),
            firmware: Vec::new(),
        };
        if !changes.is_empty() {
            if output == OutputFormat::Human {
                print_changes(&stack, kind, &changes, &report.cost);
            }
            let go = args.yes
                || match confirm(
                    &format!(
                        "Deploy {} change(s) to stack {stack} in {}?",
                        changes.len(),
                        resolved.region
                    ),
                    &interrupt,
                )
                .await
                {
                    Answer::Yes => true,
                    Answer::No => {
                        changeset::discard(&clients, &prepared.set).await?;
                        eprintln!("not deployed; the change set was deleted");
                        return Ok(ExitCode::from(crate::cli::EXIT_ERROR));
                    }
                    Answer::Interrupted => {
                        changeset::discard(&clients, &prepared.set).await?;
                        return Ok(stopped("the change set was deleted, nothing was deployed"));
                    }
                    Answer::NoTerminal => {
                        changeset::discard(&clients, &prepared.set).await?;
                        return Err(miette!(
                            help = "review the changes with `rmdeploy plan`, then run `rmdeploy apply --yes`",
                            "there is no terminal to confirm the deployment on, and --yes was not given; the change set was deleted, nothing was deployed"
                        ));
                    }
                };
            if go && interrupt.requested() {
                changeset::discard(&clients, &prepared.set).await?;
                return Ok(stopped("the change set was deleted, nothing was deployed"));
            }
            eprintln!("deploying stack {stack}");
            let mut progress = Progress::new(changes.len()).tracking(last_seen.clone());
            let outcome =
                apply::execute(&clients, &prepared.set, &mut progress, &interrupt).await?;
            progress.finish();
            if outcome.cancelled {
                eprintln!(
                    "the update was cancelled; stack {stack} is {}",
                    outcome.status
                );
                return Ok(ExitCode::from(EXIT_INTERRUPTED));
            }
            if !outcome.succeeded {
                let s = Style::stderr();
                if let Some(f) = &outcome.failure {
                    eprintln!("{} {f}", s.red("first failure:"));
                }
                return Err(DeployError::OperationFailed {
                    operation: match kind {
                        Kind::Create => "creation".into(),
                        Kind::Update => "update".into(),
                    },
                    stack: stack.clone(),
                    status: outcome.status.clone(),
                    cause: outcome
                        .failure
                        .as_ref()
                        .map(|f| format!(": {f}"))
                        .unwrap_or_default(),
                    help: Some(match kind {
                        Kind::Create => "fix the cause named above and run `rmdeploy apply --yes` again: it deletes the rolled-back stack and creates it anew".into(),
                        Kind::Update => "the stack was rolled back to its previous state; fix the cause named above and run `rmdeploy apply` again".into(),
                    }),
                }
                .into());
            }
            report.action = match kind {
                Kind::Create => Action::Created,
                Kind::Update => Action::Updated,
            };
        }
        let current = stacks::describe(&clients, &stack)
            .await?
            .ok_or_else(|| miette!("stack {stack} disappeared during the deployment"))?;
        if state::set_termination_protection(
            &clients,
            &current,
            resolved.profile.termination_protection,
        )
        .await?
        {
            eprintln!(
                "termination protection turned {}",
                if resolved.profile.termination_protection {
                    "on"
                } else {
                    "off"
                }
            );
        }
        report.termination_protection = resolved.profile.termination_protection;
        report.status = stacks::status(&current).to_string();
        report.outputs = outputs::read(&clients, &current, &rendered.stack).await?;
        if !firmware.is_empty() {
            let target = crate::firmware::publish::target(
                &clients,
                &stack,
                resolved.profile.firmware.iot_jobs,
            )
            .await?;
            eprintln!("publishing {} firmware image(s)", firmware.len());
            report.firmware = crate::firmware::publish::publish(
                &clients,
                &target,
                &firmware,
                &super::firmware::overrides(&resolved),
            )
            .await?;
        }
        match output {
            OutputFormat::Json => print_json(&report),
            OutputFormat::Human => print_report(&report),
        }
        Ok(ExitCode::from(EXIT_OK))
    })
}

fn stopped(what: &str) -> ExitCode {
    eprintln!("stopped: {what}");
    ExitCode::from(EXIT_INTERRUPTED)
}

/// Build the Lambdas (or collect the last build with --no-build), on a blocking thread.
fn artifacts(args: &Args, resolved: &Resolved) -> miette::Result<Vec<Built>> {
    let functions = crate::stack::deployed_functions(resolved);
    let target = super::build::target_dir(args.target_dir.clone())?;
    let arch = resolved.architecture;
    if args.no_build {
        return Ok(build::collect(&target, &functions, arch)?);
    }
    eprintln!("building the bundled functions for {}", arch.as_str());
    let sources = args.lambdas.clone().unwrap_or_else(build::default_sources);
    Ok(tokio::task::block_in_place(|| {
        build::build(&sources, &target, &functions, arch)
    })?)
}

/// Bring the stack into a state a change set can be made on: wait for an operation under way,
/// remove leftovers, recover failed states (with consent). What was done, as notes.
async fn settle(
    clients: &Clients,
    stack: &str,
    args: &Args,
    interrupt: &Interrupt,
) -> miette::Result<(Inspection, Vec<String>)> {
    let mut done = Vec::new();
    loop {
        let inspection = state::inspect(clients, stack).await?;
        let status = inspection.status().unwrap_or_default().to_string();
        match &inspection.state {
            State::Missing => return Ok((inspection, done)),
            State::Ready => {
                for set in state::remove_leftover_change_sets(clients, stack).await? {
                    done.push(format!("deleted the change set {set} an earlier run left"));
                }
                return Ok((inspection, done));
            }
            State::InProgress => {
                if args.no_wait {
                    return Err(DeployError::StackState {
                        stack: stack.into(),
                        status,
                        explanation: "another operation is under way".into(),
                        help: Some("wait for it to end (`rmdeploy status`), or run apply without --no-wait to wait for it".into()),
                    }
                    .into());
                }
                eprintln!("stack {stack} is {status}: waiting for that operation to end");
                stacks::wait_settled(clients, stack).await?;
            }
            State::Review => {
                eprintln!("stack {stack} is a leftover REVIEW_IN_PROGRESS (a create that never ran): removing it");
                state::remove_review(clients, stack).await?;
                done.push("removed a leftover REVIEW_IN_PROGRESS stack".into());
            }
            State::FailedCreate { failure } => {
                let cause = failure
                    .as_ref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default();
                let explanation = format!("its first creation failed and was rolled back, so it holds nothing and cannot be updated{cause}");
                if !consent(
                    args,
                    &format!("Stack {stack} is {status}{cause}. Delete it and create it again?"),
                    interrupt,
                )
                .await
                {
                    return Err(DeployError::StackState {
                        stack: stack.into(),
                        status,
                        explanation,
                        help: Some("fix the cause, then run `rmdeploy apply --yes` to delete the stack and create it again".into()),
                    }
                    .into());
                }
                eprintln!("stack {stack} is {status}{cause}\ndeleting it to create it again");
                let mut progress = Progress::new(0);
                let outcome =
                    state::delete(clients, &inspection, &[], &mut progress, interrupt).await?;
                progress.finish();
                if !outcome.succeeded {
                    return Err(failed_recovery("deletion", stack, &outcome).into());
                }
                done.push(format!(
                    "deleted the stack left {status} by a failed creation"
                ));
            }
            State::RollbackFailed { failure } => {
                let cause = failure
                    .as_ref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default();
                if !consent(
                    args,
                    &format!(
                        "Stack {stack} is UPDATE_ROLLBACK_FAILED{cause}. Continue the rollback?"
                    ),
                    interrupt,
                )
                .await
                {
                    return Err(DeployError::StackState {
                        stack: stack.into(),
                        status,
                        explanation: format!("an update failed and so did its rollback{cause}"),
                        help: Some(rollback_help(
                            failure.as_ref().map(|f| f.logical_id.as_str()),
                        )),
                    }
                    .into());
                }
                eprintln!("continuing the rollback of {stack}");
                let mut progress = Progress::new(0);
                let outcome = state::continue_rollback(
                    clients,
                    stack,
                    &args.skip_resource,
                    &mut progress,
                    interrupt,
                )
                .await?;
                progress.finish();
                if !outcome.succeeded {
                    let mut err = failed_recovery("rollback", stack, &outcome);
                    if let DeployError::OperationFailed { help, .. } = &mut err {
                        *help = Some(rollback_help(
                            outcome.failure.as_ref().map(|f| f.logical_id.as_str()),
                        ));
                    }
                    return Err(err.into());
                }
                done.push(format!(
                    "continued the failed rollback{}",
                    if args.skip_resource.is_empty() {
                        String::new()
                    } else {
                        format!(", skipping {}", args.skip_resource.join(", "))
                    }
                ));
            }
            State::DeleteFailed { failure } => {
                let cause = failure
                    .as_ref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default();
                return Err(DeployError::StackState {
                    stack: stack.into(),
                    status,
                    explanation: format!("a delete failed{cause}"),
                    help: Some("finish the delete with `rmdeploy destroy` (with `--retain <LogicalId>` for a resource that cannot be deleted), then apply again".into()),
                }
                .into());
            }
        }
        if interrupt.requested() {
            return Ok((state::inspect(clients, stack).await?, done));
        }
    }
}

fn rollback_help(resource: Option<&str>) -> String {
    let example = resource.unwrap_or("<LogicalId>");
    format!("fix what stops the rollback, or skip the resource that cannot roll back: `rmdeploy apply --yes --skip-resource {example}` (the skipped resource is then out of step with the template until the next update)")
}

fn failed_recovery(
    what: &str,
    stack: &str,
    outcome: &crate::deploy::watch::Outcome,
) -> DeployError {
    DeployError::OperationFailed {
        operation: what.into(),
        stack: stack.into(),
        status: outcome.status.clone(),
        cause: outcome
            .failure
            .as_ref()
            .map(|f| format!(": {f}"))
            .unwrap_or_default(),
        help: None,
    }
}

/// `--yes`, or a yes on the terminal.
async fn consent(args: &Args, question: &str, interrupt: &Interrupt) -> bool {
    args.yes || confirm(question, interrupt).await == Answer::Yes
}

fn print_changes(stack: &str, kind: Kind, changes: &[PlannedChange], cost: &CostChange) {
    let s = Style::stdout();
    let what = match kind {
        Kind::Create => format!("stack {stack} (new)"),
        Kind::Update => format!("stack {stack}"),
    };
    println!("{} {what}", s.bold("Changes:"));
    super::plan::print_change_list(changes, s);
    let money = |v: f64| crate::cost::money(cost.currency, v);
    let before = match (kind, cost.before) {
        (Kind::Create, _) => money(0.0),
        (_, Some(v)) => money(v),
        (_, None) => "unknown".into(),
    };
    println!(
        "  {} {before} a month before, {} after (`rmdeploy cost` for the lines and assumptions)",
        s.bold("Estimated cost:"),
        money(cost.after)
    );
    println!();
}

fn print_report(r: &Report) {
    let s = Style::stdout();
    for note in &r.recovered {
        println!("{} {note}", s.dim("recovered:"));
    }
    let uploaded = r.artifacts.iter().filter(|a| a.uploaded).count();
    println!(
        "{} {} uploaded, {} already in {}",
        s.bold("Artifacts:"),
        uploaded,
        r.artifacts.len() - uploaded,
        r.bootstrap.bucket
    );
    match r.action {
        Action::Unchanged => println!(
            "{} stack {} ({}): {}",
            s.bold("Result:"),
            r.stack,
            r.status,
            s.green("No changes.")
        ),
        action => println!(
            "{} stack {} {} in {}: {} ({} changes)",
            s.bold("Result:"),
            r.stack,
            match action {
                Action::Created => "created",
                _ => "updated",
            },
            r.region,
            s.green(&r.status),
            r.changes.len()
        ),
    }
    for note in &r.notes {
        println!("  {} {note}", s.dim("note:"));
    }
    println!(
        "  termination protection {}",
        if r.termination_protection {
            "on"
        } else {
            "off"
        }
    );
    println!("{}", s.bold("Outputs:"));
    let width = r.outputs.iter().map(|o| o.key.len()).max().unwrap_or(0);
    for o in &r.outputs {
        println!("  {:<width$}  {}", o.key, o.value);
    }
    if !r.firmware.is_empty() {
        println!("{}", s.bold("Firmware:"));
        super::firmware::print_published(&r.firmware);
    }
}
