//! `apply` end to end: checks, budget, quota gate, build, stack settling, bootstrap, uploads,
//! change set, confirmation, execution, termination protection, outputs, firmware.

use std::fmt;
use std::path::PathBuf;

use miette::Diagnostic;
use serde::Serialize;
use thiserror::Error;

use super::settle::{settle, Found, Recovery};
use super::{Answer, Observer, Prompter, Session};
use crate::artifacts::build::{self, BuildError, Built};
use crate::artifacts::store::Stored;
use crate::aws::{Access, AwsError, Clients};
use crate::deploy::apply::{self as steps, Action};
use crate::deploy::bootstrap::{self, Bootstrap};
use crate::deploy::changeset::{self, ChangeList, Kind, PlannedChange};
use crate::deploy::interrupt::Interrupt;
use crate::deploy::live::Endpoint;
use crate::deploy::outputs::{self, StackOutput};
use crate::deploy::state::{self, State};
use crate::deploy::{stacks, DeployError};
use crate::exit::{EXIT_ATTENTION, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK};
use crate::firmware::{self, publish};
use crate::output::{nested, Style};
use crate::quotas::{self, Check};

/// What `apply` may do, and where it finds the Lambdas.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Deploy without asking.
    pub yes: bool,
    /// Recover failed stack states, wait or not for an operation under way.
    pub recovery: Recovery,
    pub skip_quota_check: bool,
    pub ignore_quota: Vec<String>,
    pub ignore_budget: bool,
    /// Overrides the profile's `firmware.manifest`.
    pub manifest: Option<PathBuf>,
    pub lambdas: Lambdas,
}

/// Where the Lambda artifacts come from.
#[derive(Debug, Clone, Default)]
pub struct Lambdas {
    /// Use the last build instead of building.
    pub no_build: bool,
    /// The bundled Lambda crates; default: `lambdas/` of the rmdeploy source tree.
    pub sources: Option<PathBuf>,
    /// The cargo target folder of the builds.
    pub target: PathBuf,
}

#[derive(Debug, Error, Diagnostic)]
pub enum ApplyError {
    #[error("the rendered template fails rmdeploy's checks")]
    #[diagnostic(
        code(rmdeploy::apply::checks),
        help("run `rmdeploy plan` to see the findings; nothing was deployed")
    )]
    ChecksFailed,
    #[error("the quota check could not be made: {0}")]
    #[diagnostic(
        code(rmdeploy::apply::quotas),
        help("grant the permission named above, or deploy without the check: `rmdeploy apply --skip-quota-check`")
    )]
    QuotasUnreadable(quotas::CheckError),
    #[error("there is no terminal to confirm the deployment on, and --yes was not given; the change set was deleted, nothing was deployed")]
    #[diagnostic(
        code(rmdeploy::apply::no_terminal),
        help("review the changes with `rmdeploy plan`, then run `rmdeploy apply --yes`")
    )]
    NoTerminal,
    #[error("stack {0} disappeared during the deployment")]
    #[diagnostic(code(rmdeploy::apply::gone))]
    Disappeared(String),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Images(#[from] firmware::profile::ImagesError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),
}

/// How an `apply` ended.
#[derive(Debug)]
pub enum Applied {
    /// Deployed, or nothing to change.
    Done(Box<Report>),
    /// The estimate is over the profile's budget (by how much): nothing was deployed.
    OverBudget(String),
    /// The account's quotas fall short of the profile: nothing was deployed.
    QuotaShortfall(QuotaShortfall),
    /// The user said no: the change set was deleted.
    Declined,
    /// The user stopped the run before anything changed; where.
    Stopped(&'static str),
    /// The user stopped the update and CloudFormation rolled it back.
    Cancelled { stack: String, status: String },
}

impl Applied {
    pub fn exit_code(&self) -> u8 {
        match self {
            Applied::Done(_) => EXIT_OK,
            Applied::OverBudget(_) | Applied::QuotaShortfall(_) => EXIT_ATTENTION,
            Applied::Declined => EXIT_ERROR,
            Applied::Stopped(_) | Applied::Cancelled { .. } => EXIT_INTERRUPTED,
        }
    }

    /// What to tell the user on stderr when nothing (more) was deployed.
    pub fn message(&self) -> Option<String> {
        Some(match self {
            Applied::Done(_) => return None,
            Applied::OverBudget(over) => {
                format!("{over}\nnot deployed: the estimate is over the budget")
            }
            Applied::QuotaShortfall(q) => format!(
                "not deployed: the account's quotas fall short of the profile ({}); raise them (`rmdeploy quota-check --request-increase`), change the profile, or run with --skip-quota-check (or --ignore-quota {})",
                q.failed.join(", "),
                q.failed.join(",")
            ),
            Applied::Declined => "not deployed; the change set was deleted".into(),
            Applied::Stopped(what) => format!("stopped: {what}"),
            Applied::Cancelled { stack, status } => {
                format!("the update was cancelled; stack {stack} is {status}")
            }
        })
    }
}

/// The checks of a quota gate that stopped a deployment.
#[derive(Debug, Serialize)]
pub struct QuotaShortfall {
    pub checks: Vec<Check>,
    pub failed: Vec<&'static str>,
}

/// The estimated monthly cost of the stack before and after the change (`rmdeploy cost`), under
/// the profile's capacity figures.
#[derive(Debug, Clone, Serialize)]
pub struct CostChange {
    pub currency: &'static str,
    /// The deployed stack's template priced the same way; `None` for a new stack, or when the
    /// deployed template could not be read.
    pub before: Option<f64>,
    pub after: f64,
}

/// A change set waiting for the user's yes, as shown before the question.
#[derive(Debug)]
pub struct Review<'a> {
    pub stack: &'a str,
    pub kind: Kind,
    pub changes: &'a [PlannedChange],
    pub cost: &'a CostChange,
}

/// What `apply` did.
#[derive(Debug, Serialize)]
pub struct Report {
    pub stack: String,
    pub region: String,
    pub action: Action,
    pub status: String,
    pub bootstrap: Bootstrap,
    pub artifacts: Vec<Stored>,
    pub changes: Vec<PlannedChange>,
    /// The estimated monthly cost before and after the change.
    pub cost: CostChange,
    /// What was done to the stack before the deployment (leftovers removed, recovery).
    pub recovered: Vec<String>,
    pub notes: Vec<String>,
    pub termination_protection: bool,
    pub outputs: Vec<StackOutput>,
    /// The profile's firmware images, published after the stack (`firmware.images`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub firmware: Vec<publish::Published>,
}

/// Where the progress of `apply` goes and who answers its questions.
pub trait Ui: Observer + Prompter {
    /// The changes about to be confirmed (shown whether or not a question follows).
    fn review(&mut self, review: &Review<'_>);
    /// The quota checks that stopped the deployment.
    fn shortfall(&mut self, shortfall: &QuotaShortfall);
}

/// Deploy the session's stack.
///
/// What does not depend on each other runs at the same time: with `--no-build`, the last build's
/// artifacts are read while the checks run and the account is read; the stack, the bootstrap
/// stack and the IoT data endpoint are read at once; the artifacts upload while the change set is
/// made (see [`steps::prepare`]). Nothing in the account changes before the artifacts are there
/// and the stack is settled, as when these ran one after the other.
pub async fn apply(
    session: &Session,
    access: &Access,
    options: &Options,
    ui: &mut impl Ui,
    interrupt: &Interrupt,
) -> Result<Applied, ApplyError> {
    let (resolved, rendered) = (&session.resolved, &session.rendered);
    let collected = options
        .lambdas
        .no_build
        .then(|| collect_in_background(session, &options.lambdas));
    // The clients are made (configuration, trust store) on another thread while the checks run;
    // credentials are required only once the checks have passed.
    let connecting = {
        let (access, region) = (access.clone(), session.region().to_string());
        tokio::spawn(async move { Clients::connect(&access, &region).await })
    };
    if !crate::plan::offline(resolved, rendered).passed() {
        return Err(ApplyError::ChecksFailed);
    }
    // Firmware the profile lists is checked before anything is deployed or uploaded.
    let images = firmware::profile::images(resolved, options.manifest.as_ref())?;
    let estimate = crate::cost::estimate(resolved, &rendered.stack.document);
    if let Some(over) = estimate.budget_message().filter(|_| !options.ignore_budget) {
        return Ok(Applied::OverBudget(over));
    }
    let clients = connecting.await.expect("connecting does not panic");
    clients.require_credentials().await?;
    if !options.skip_quota_check {
        ui.step("checking the account's quotas");
        let requirements = quotas::derive(resolved);
        let checks = quotas::check_account(&clients, &requirements, &options.ignore_quota)
            .await
            .map_err(ApplyError::QuotasUnreadable)?;
        if !quotas::passed(&checks) {
            let failed = quotas::failed(&checks);
            let shortfall = QuotaShortfall { checks, failed };
            ui.shortfall(&shortfall);
            return Ok(Applied::QuotaShortfall(shortfall));
        }
    }
    // Needed by a new stack's parameters and by the outputs: asked once, ahead.
    let endpoint = Endpoint::default();
    endpoint.prefetch(&clients);
    let stack = session.stack();
    let bootstrap_json = rendered.bootstrap.to_json();
    // Read only: the stack's state and the bootstrap stack (while the artifacts are collected).
    let read = || async {
        tokio::join!(
            Found::read(&clients, stack),
            bootstrap::current(&clients, &bootstrap_json)
        )
    };
    let reading = format!("reading stack {stack} in {}", session.region());
    let (built, read_ahead) = match collected {
        Some(collected) => {
            ui.step(&reading);
            let (built, read) = tokio::join!(collected, read());
            (built, Some(read))
        }
        None => (artifacts(session, &options.lambdas, ui), None),
    };
    let built = match built {
        // Ctrl-C reaches the build's cargo too, which then fails: report the stop.
        Err(_) if interrupt.requested() => {
            return Ok(Applied::Stopped("during the build; nothing was deployed"))
        }
        other => other?,
    };
    let (found, current) = match read_ahead {
        Some(read) => read,
        None => {
            ui.step(&reading);
            read().await
        }
    };
    let (inspection, recovered) = settle(
        &clients,
        stack,
        Some(found?),
        &options.recovery,
        ui,
        interrupt,
    )
    .await?;
    if interrupt.requested() {
        return Ok(Applied::Stopped("nothing was changed"));
    }
    let kind = match inspection.state {
        State::Missing => Kind::Create,
        _ => Kind::Update,
    };
    ui.step("preparing: bootstrap stack, artifacts, change set");
    // Read failures of the bootstrap stack are left to `ensure`, which reads it again.
    let bootstrap = match current.ok().flatten() {
        Some(ready) => ready,
        None => bootstrap::ensure(&clients, &bootstrap_json).await?,
    };
    let prepared = steps::prepare(
        &clients,
        stack,
        kind,
        inspection.stack.as_ref(),
        &rendered.stack,
        bootstrap,
        &built,
        &endpoint,
    )
    .await?;
    for a in &prepared.artifacts {
        let state = if a.uploaded {
            "uploaded"
        } else {
            "already in the bucket"
        };
        ui.step(&format!("  artifact {}: {state}", a.key));
    }
    let cost = CostChange {
        currency: estimate.currency,
        before: cost_before(session, kind, &prepared.deployed, ui),
        after: estimate.monthly,
    };
    let mut report = Report {
        stack: stack.to_string(),
        region: session.region().to_string(),
        action: Action::Unchanged,
        status: inspection.status().unwrap_or("").to_string(),
        bootstrap: prepared.bootstrap.clone(),
        artifacts: prepared.artifacts.clone(),
        changes: prepared
            .set
            .as_ref()
            .map(|s| s.changes.clone())
            .unwrap_or_default(),
        cost,
        recovered,
        notes: prepared.notes.clone(),
        termination_protection: inspection.termination_protection(),
        outputs: Vec::new(),
        firmware: Vec::new(),
    };
    let mut current = inspection.stack;
    if let Some(set) = prepared.set.as_ref().filter(|s| !s.changes.is_empty()) {
        if let Some(stop) = confirm(&clients, set, &report, kind, options, ui, interrupt).await? {
            return Ok(stop);
        }
        ui.step(&format!("deploying stack {stack}"));
        ui.begin(report.changes.len());
        let outcome =
            steps::execute_after(&clients, set, prepared.mark.clone(), ui, interrupt).await;
        ui.end();
        let outcome = outcome?;
        if outcome.cancelled {
            return Ok(Applied::Cancelled {
                stack: stack.to_string(),
                status: outcome.status,
            });
        }
        if !outcome.succeeded {
            return Err(failed(stack, kind, &outcome, ui).into());
        }
        report.action = match kind {
            Kind::Create => Action::Created,
            Kind::Update => Action::Updated,
        };
        current = outcome.described;
    }
    finish(
        session,
        &clients,
        current,
        &endpoint,
        &images,
        &mut report,
        ui,
    )
    .await?;
    Ok(Applied::Done(Box::new(report)))
}

/// The last build's artifacts, read and checked on blocking threads (`--no-build`): the binaries
/// are split over the cores (the functions of one binary together, as it is read once); should
/// any part fail, the whole is collected again in order for the same error as one collection.
fn collect_in_background(
    session: &Session,
    lambdas: &Lambdas,
) -> impl std::future::Future<Output = Result<Vec<Built>, BuildError>> {
    let functions = crate::stack::deployed_functions(&session.resolved);
    let arch = session.resolved.architecture;
    let target = lambdas.target.clone();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut parts = vec![Vec::new(); threads];
    let mut binaries: Vec<&str> = Vec::new();
    for f in &functions {
        let bin = f.code.1;
        let at = match binaries.iter().position(|b| *b == bin) {
            Some(at) => at,
            None => {
                binaries.push(bin);
                binaries.len() - 1
            }
        };
        parts[at % threads].push(*f);
    }
    let tasks: Vec<_> = parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .map(|part| {
            let target = target.clone();
            tokio::task::spawn_blocking(move || build::collect(&target, &part, arch))
        })
        .collect();
    async move {
        let mut built = Vec::new();
        let mut failed = false;
        for task in tasks {
            match task.await.expect("collecting the artifacts does not panic") {
                Ok(part) => built.extend(part),
                Err(_) => failed = true,
            }
        }
        if failed {
            return tokio::task::spawn_blocking(move || build::collect(&target, &functions, arch))
                .await
                .expect("collecting the artifacts does not panic");
        }
        let order = |b: &Built| functions.iter().position(|f| f.name == b.function);
        built.sort_by_key(order);
        Ok(built)
    }
}

/// Build the Lambdas (or collect the last build with `no_build`), on a blocking thread.
fn artifacts(
    session: &Session,
    lambdas: &Lambdas,
    ui: &mut impl Ui,
) -> Result<Vec<Built>, BuildError> {
    let functions = crate::stack::deployed_functions(&session.resolved);
    let arch = session.resolved.architecture;
    if lambdas.no_build {
        return build::collect(&lambdas.target, &functions, arch);
    }
    ui.step(&format!(
        "building the bundled functions for {}",
        arch.as_str()
    ));
    let sources = lambdas
        .sources
        .clone()
        .unwrap_or_else(build::default_sources);
    tokio::task::block_in_place(|| build::build(&sources, &lambdas.target, &functions, arch))
}

/// The deployed template's monthly estimate, for an update; `None` when it cannot be read.
fn cost_before(
    session: &Session,
    kind: Kind,
    deployed: &Result<Option<serde_json::Value>, String>,
    ui: &mut impl Ui,
) -> Option<f64> {
    if kind == Kind::Create {
        return None;
    }
    match deployed {
        Ok(Some(deployed)) => Some(crate::cost::estimate(&session.resolved, deployed).monthly),
        Ok(None) => None,
        Err(e) => {
            ui.note(&format!(
                "the deployed template could not be read for the cost before the change: {e}"
            ));
            None
        }
    }
}

/// Show the changes and ask (unless `--yes`); what ends the run when the answer is not yes (the
/// change set then deleted).
async fn confirm(
    clients: &Clients,
    set: &changeset::ChangeSet,
    report: &Report,
    kind: Kind,
    options: &Options,
    ui: &mut impl Ui,
    interrupt: &Interrupt,
) -> Result<Option<Applied>, ApplyError> {
    ui.review(&Review {
        stack: &report.stack,
        kind,
        changes: &report.changes,
        cost: &report.cost,
    });
    let answer = if options.yes {
        Answer::Yes
    } else {
        let question = format!(
            "Deploy {} change(s) to stack {} in {}?",
            report.changes.len(),
            report.stack,
            report.region
        );
        ui.confirm(&question, interrupt).await
    };
    let stop = match answer {
        Answer::Yes if !interrupt.requested() => return Ok(None),
        Answer::Yes | Answer::Interrupted => {
            Applied::Stopped("the change set was deleted, nothing was deployed")
        }
        Answer::No => Applied::Declined,
        Answer::NoTerminal => {
            changeset::discard(clients, set).await?;
            return Err(ApplyError::NoTerminal);
        }
    };
    changeset::discard(clients, set).await?;
    Ok(Some(stop))
}

fn failed(
    stack: &str,
    kind: Kind,
    outcome: &crate::deploy::watch::Outcome,
    ui: &mut impl Ui,
) -> DeployError {
    if let Some(f) = &outcome.failure {
        ui.failure(&format!("{f}"));
    }
    DeployError::OperationFailed {
        operation: match kind {
            Kind::Create => "creation".into(),
            Kind::Update => "update".into(),
        },
        stack: stack.to_string(),
        status: outcome.status.clone(),
        cause: outcome.cause(),
        help: Some(match kind {
            Kind::Create => "fix the cause named above and run `rmdeploy apply --yes` again: it deletes the rolled-back stack and creates it anew".into(),
            Kind::Update => "the stack was rolled back to its previous state; fix the cause named above and run `rmdeploy apply` again".into(),
        }),
    }
}

/// After the change set: termination protection as the profile says, the outputs, the
/// profile's firmware. `current` is the stack as last read (after the execution, or before an
/// apply that changed nothing); read again when missing.
async fn finish(
    session: &Session,
    clients: &Clients,
    current: Option<aws_sdk_cloudformation::types::Stack>,
    endpoint: &Endpoint,
    images: &[firmware::manifest::Checked],
    report: &mut Report,
    ui: &mut impl Ui,
) -> Result<(), ApplyError> {
    let stack = session.stack();
    let current = match current {
        Some(current) => current,
        None => stacks::describe(clients, stack)
            .await?
            .ok_or_else(|| ApplyError::Disappeared(stack.to_string()))?,
    };
    let protect = session.resolved.profile.termination_protection;
    let (turned, outputs) = tokio::join!(
        state::set_termination_protection(clients, &current, protect),
        outputs::read_with(clients, &current, &session.rendered.stack, endpoint)
    );
    if turned? {
        let state = if protect { "on" } else { "off" };
        ui.step(&format!("termination protection turned {state}"));
    }
    report.termination_protection = protect;
    report.status = stacks::status(&current).to_string();
    report.outputs = outputs?;
    if !images.is_empty() {
        let iot_jobs = session.resolved.profile.firmware.iot_jobs;
        let target = publish::target(clients, stack, iot_jobs).await?;
        ui.step(&format!("publishing {} firmware image(s)", images.len()));
        let overrides = firmware::profile::overrides(&session.resolved);
        report.firmware = publish::publish(clients, &target, images, &overrides).await?;
    }
    Ok(())
}

impl fmt::Display for Review<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = Style::of(f);
        let what = match self.kind {
            Kind::Create => format!("stack {} (new)", self.stack),
            Kind::Update => format!("stack {}", self.stack),
        };
        writeln!(f, "{} {what}", s.bold("Changes:"))?;
        nested(f, &ChangeList(self.changes))?;
        let money = |v: f64| crate::cost::money(self.cost.currency, v);
        let before = match (self.kind, self.cost.before) {
            (Kind::Create, _) => money(0.0),
            (_, Some(v)) => money(v),
            (_, None) => "unknown".into(),
        };
        writeln!(
            f,
            "  {} {before} a month before, {} after (`rmdeploy cost` for the lines and assumptions)",
            s.bold("Estimated cost:"),
            money(self.cost.after)
        )?;
        writeln!(f)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = Style::of(f);
        for note in &self.recovered {
            writeln!(f, "{} {note}", s.dim("recovered:"))?;
        }
        let uploaded = self.artifacts.iter().filter(|a| a.uploaded).count();
        writeln!(
            f,
            "{} {} uploaded, {} already in {}",
            s.bold("Artifacts:"),
            uploaded,
            self.artifacts.len() - uploaded,
            self.bootstrap.bucket
        )?;
        match self.action {
            Action::Unchanged => writeln!(
                f,
                "{} stack {} ({}): {}",
                s.bold("Result:"),
                self.stack,
                self.status,
                s.green("No changes.")
            )?,
            action => writeln!(
                f,
                "{} stack {} {} in {}: {} ({} changes)",
                s.bold("Result:"),
                self.stack,
                match action {
                    Action::Created => "created",
                    _ => "updated",
                },
                self.region,
                s.green(&self.status),
                self.changes.len()
            )?,
        }
        for note in &self.notes {
            writeln!(f, "  {} {note}", s.dim("note:"))?;
        }
        let protection = if self.termination_protection {
            "on"
        } else {
            "off"
        };
        writeln!(f, "  termination protection {protection}")?;
        writeln!(f, "{}", s.bold("Outputs:"))?;
        nested(f, &outputs::OutputList(&self.outputs))?;
        if !self.firmware.is_empty() {
            writeln!(f, "{}", s.bold("Firmware:"))?;
            nested(f, &publish::PublishedList(&self.firmware))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{emit_to, OutputFormat};

    fn change(action: &str, id: &str, kind: &str) -> PlannedChange {
        PlannedChange {
            action: action.into(),
            logical_id: id.into(),
            resource_type: kind.into(),
            replacement: (action == "Modify").then(|| "True".into()),
            changed: if action == "Modify" {
                vec!["Properties".into()]
            } else {
                Vec::new()
            },
        }
    }

    fn human<T: Serialize + fmt::Display>(value: &T) -> String {
        let mut out = Vec::new();
        emit_to(&mut out, OutputFormat::Human, value, false).expect("writes");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_review_before_the_question_lists_changes_and_the_cost_either_side() {
        let changes = [
            change("Add", "ApiFunction", "AWS::Lambda::Function"),
            change("Modify", "NodesTable", "AWS::DynamoDB::Table"),
        ];
        let cost = CostChange {
            currency: "USD",
            before: Some(1200.0),
            after: 1450.0,
        };
        let review = Review {
            stack: "rainmaker",
            kind: Kind::Update,
            changes: &changes,
            cost: &cost,
        };
        let shown = format!("{review}");
        assert_eq!(
            shown,
            "Changes: stack rainmaker\n  2 changes: 1 to add, 1 to modify, 0 to remove\n  \
             + Add    ApiFunction  AWS::Lambda::Function\n  \
             ~ Modify NodesTable   AWS::DynamoDB::Table  replacement: True (Properties)\n  \
             Estimated cost: $1,200 a month before, $1,450 after (`rmdeploy cost` for the lines and assumptions)\n\n"
        );
        let new = Review {
            kind: Kind::Create,
            ..review
        };
        assert!(format!("{new}").contains("stack rainmaker (new)"));
        assert!(format!("{new}").contains("$0.00 a month before"));
    }

    #[test]
    fn the_report_names_the_result_outputs_and_what_was_recovered() {
        let report = Report {
            stack: "rainmaker".into(),
            region: "eu-west-1".into(),
            action: Action::Created,
            status: "CREATE_COMPLETE".into(),
            bootstrap: Bootstrap {
                stack: "rmdeploy-bootstrap".into(),
                region: "eu-west-1".into(),
                action: "unchanged",
                status: "CREATE_COMPLETE".into(),
                bucket: "artifacts-1".into(),
            },
            artifacts: vec![Stored {
                key: "lambda/api/abc.zip".into(),
                bytes: 10,
                uploaded: true,
            }],
            changes: vec![change("Add", "ApiFunction", "AWS::Lambda::Function")],
            cost: CostChange {
                currency: "USD",
                before: None,
                after: 10.0,
            },
            recovered: vec!["removed a leftover REVIEW_IN_PROGRESS stack".into()],
            notes: Vec::new(),
            termination_protection: true,
            outputs: vec![StackOutput {
                key: "ApiUrl".into(),
                value: "https://api.example".into(),
                description: None,
            }],
            firmware: Vec::new(),
        };
        assert_eq!(
            human(&report),
            "recovered: removed a leftover REVIEW_IN_PROGRESS stack\n\
             Artifacts: 1 uploaded, 0 already in artifacts-1\n\
             Result: stack rainmaker created in eu-west-1: CREATE_COMPLETE (1 changes)\n  \
             termination protection on\nOutputs:\n  ApiUrl  https://api.example\n"
        );
        let mut out = Vec::new();
        emit_to(&mut out, OutputFormat::Json, &report, true).expect("writes");
        let json: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(json["action"], "created");
        assert!(json.get("firmware").is_none(), "no firmware: no key");
    }

    #[test]
    fn every_way_apply_ends_has_its_exit_status() {
        assert_eq!(Applied::Declined.exit_code(), EXIT_ERROR);
        assert_eq!(
            Applied::OverBudget("over".into()).exit_code(),
            EXIT_ATTENTION
        );
        assert_eq!(Applied::Stopped("x").exit_code(), EXIT_INTERRUPTED);
        assert_eq!(
            Applied::Stopped("nothing was changed").message().as_deref(),
            Some("stopped: nothing was changed")
        );
        let shortfall = Applied::QuotaShortfall(QuotaShortfall {
            checks: Vec::new(),
            failed: vec!["Q001", "Q004"],
        });
        assert_eq!(shortfall.exit_code(), EXIT_ATTENTION);
        assert!(shortfall
            .message()
            .is_some_and(|m| m.contains("(Q001, Q004)") && m.contains("--ignore-quota Q001,Q004")));
    }
}
