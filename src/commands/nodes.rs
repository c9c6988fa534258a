//! `rmdeploy nodes`: factory batches of nodes, and the nodes a stack has.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use miette::miette;

use super::args::{AwsArgs, ProfileArgs};
use super::progress::Progress;
use super::terminal::block_on;
use crate::deploy::interrupt::Interrupt;
use crate::exit::{EXIT_INTERRUPTED, EXIT_OK};
use crate::nodes::identity;
use crate::output::{emit, OutputFormat};
use crate::workflow::nodes::{self, BatchRequest, BatchRun};

/// Provision factory batches of nodes and manage the nodes of the profile's stack.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a factory batch: per node a P-256 key and CSR made here, a certificate from the
    /// account's AWS IoT, a thing in the stack's thing type with the node policy, and a factory
    /// NVS image, laid out as esp-rainmaker-admin-cli does. Resumable: run it again with the
    /// same --out to finish an interrupted batch. With --ca, certificates are signed here by a
    /// batch CA and AWS IoT registers each node when it first connects: no AWS call a node.
    Provision(ProvisionArgs),
    /// Batch CAs for large batches (just-in-time provisioning).
    #[command(subcommand)]
    Ca(CaCommand),
    /// List the nodes of the stack (its thing type), with online status and firmware version.
    List(StackNode),
    /// Show one node: attributes, certificates, status, users.
    Show(NodeArgs),
    /// Revoke a node's certificates (detached from its thing, REVOKED) and remove its user
    /// mappings.
    Revoke(NodeArgs),
    /// Give a node a new key, certificate and factory image; its old certificates are revoked
    /// once the new one is attached.
    Rotate(RotateArgs),
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Make a batch CA in --dir (or reuse the one there) and register it with the account's
    /// AWS IoT, active, with auto-registration and the stack's provisioning template: a node
    /// whose certificate it signed becomes a thing in the stack's thing type, with the node
    /// policy, on its first connection. Needs the stack deployed (its NodeRegistrationRole).
    Create(CaArgs),
}

#[derive(Debug, clap::Args)]
pub struct CaArgs {
    /// The CA's folder: ca.pem, ca.key (secret, 0600: keep it offline), ca.json.
    #[arg(long, value_name = "DIR", default_value = "batch-ca")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub stack: StackNode,
}

#[derive(Debug, clap::Args)]
pub struct StackNode {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// Nodes in the batch (default: one per MAC of --macs).
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// The chip (ESP-IDF target): esp32, esp32s3, esp32c3, esp32c6, esp32h2 ...
    #[arg(long, value_name = "CHIP")]
    pub platform: String,
    /// The firmware project the nodes run (thing attribute `project_name`, which OTA binds to).
    #[arg(long, value_name = "NAME")]
    pub project: String,
    /// The batch folder [default: ./mfg-<epoch seconds>]; an existing batch there is finished.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A file of the chips' Wi-Fi MACs, one a line: each node's id is its MAC.
    #[arg(long, value_name = "FILE")]
    pub macs: Option<PathBuf>,
    /// Nodes in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Provisioning transport written in the QR payload.
    #[arg(long, value_name = "T", default_value = "ble", value_parser = ["ble", "softap", "on-network"])]
    pub transport: String,
    /// Sign the certificates with this batch CA (`nodes ca create`): no AWS call a node; each
    /// node is registered by AWS IoT when it first connects.
    #[arg(long, value_name = "DIR")]
    pub ca: Option<PathBuf>,
    #[command(flatten)]
    pub stack: StackNode,
}

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// The node id (its thing name).
    pub node: String,
    #[command(flatten)]
    pub stack: StackNode,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The node id (its thing name).
    pub node: String,
    /// Folder of the new key, certificate and image [default: ./rotate-<node>-<epoch seconds>];
    /// an unfinished rotation there is finished.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub stack: StackNode,
}

pub fn run(cmd: Command, output: OutputFormat) -> miette::Result<ExitCode> {
    match cmd {
        Command::Provision(args) => provision(args, output),
        Command::List(args) => {
            let resolved = args.profile.load()?;
            let list = block_on(async {
                let clients = args.aws.connect(&resolved.region).await?;
                Ok::<_, miette::Report>(nodes::list(&clients, &resolved.profile.stack_name).await?)
            })?;
            emit(output, &list);
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Show(args) => {
            let resolved = args.stack.profile.load()?;
            let detail = block_on(async {
                let clients = args.stack.aws.connect(&resolved.region).await?;
                let stack = &resolved.profile.stack_name;
                Ok::<_, miette::Report>(nodes::show(&clients, stack, &args.node).await?)
            })?;
            emit(output, &detail);
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Revoke(args) => {
            let resolved = args.stack.profile.load()?;
            let revoked = block_on(async {
                let clients = args.stack.aws.connect(&resolved.region).await?;
                let stack = &resolved.profile.stack_name;
                let mut progress = Progress::new();
                Ok::<_, miette::Report>(
                    nodes::revoke(&clients, stack, &args.node, &mut progress).await?,
                )
            })?;
            emit(output, &revoked);
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Rotate(args) => rotate(args, output),
        Command::Ca(CaCommand::Create(args)) => {
            let resolved = args.stack.profile.load()?;
            let registered = block_on(async {
                let clients = args.stack.aws.connect(&resolved.region).await?;
                let stack = &resolved.profile.stack_name;
                let mut progress = Progress::new();
                Ok::<_, miette::Report>(
                    nodes::ca::create(&clients, stack, &args.dir, &mut progress).await?,
                )
            })?;
            emit(output, &registered);
            Ok(ExitCode::from(EXIT_OK))
        }
    }
}

fn provision(args: ProvisionArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.stack.profile.load()?;
    let macs = match &args.macs {
        Some(path) => identity::read_macs(path)?,
        None => Vec::new(),
    };
    let req = BatchRequest {
        stack: resolved.profile.stack_name.clone(),
        region: resolved.region.clone(),
        platform: identity::platform_of(&args.platform)?,
        project: identity::project_of(&args.project)?,
        transport: args.transport.clone(),
        count: identity::batch_size(args.count, &macs, args.macs.as_deref())?,
        macs,
        out: args.out.clone().unwrap_or_else(|| default_dir("mfg")),
        concurrency: usize::from(args.concurrency),
        ca: args.ca.clone(),
    };
    let run = block_on(async {
        let clients = args.stack.aws.connect(&req.region).await?;
        let interrupt = stop_on_ctrl_c();
        let mut progress = Progress::new();
        Ok::<_, miette::Report>(nodes::provision(&clients, &req, &mut progress, &interrupt).await?)
    })?;
    finish(&run, output)
}

fn rotate(args: RotateArgs, output: OutputFormat) -> miette::Result<ExitCode> {
    let resolved = args.stack.profile.load()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_dir(&format!("rotate-{}", args.node)));
    let run = block_on(async {
        let clients = args.stack.aws.connect(&resolved.region).await?;
        let interrupt = stop_on_ctrl_c();
        let mut progress = Progress::new();
        let (stack, region) = (&resolved.profile.stack_name, &resolved.region);
        let run = nodes::rotate(
            &clients,
            stack,
            region,
            &args.node,
            &out,
            &mut progress,
            &interrupt,
        );
        Ok::<_, miette::Report>(run.await?)
    })?;
    finish(&run, output)
}

/// Emit the run; its exit status: 0 complete, 130 stopped, 1 with failures.
fn finish(run: &BatchRun, output: OutputFormat) -> miette::Result<ExitCode> {
    emit(output, run);
    if run.interrupted {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if !run.failures.is_empty() {
        return Err(miette!(
            help = format!("run the same command again (--out {}) to finish the batch: done nodes are kept, the rest carry on", run.dir),
            "{} of {} node(s) failed; first: {}: {}",
            run.failures.len(),
            run.count,
            run.failures[0].node,
            run.failures[0].error
        ));
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn default_dir(prefix: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from(format!("{prefix}-{secs}"))
}

/// Ctrl-C: the first stops starting new steps (the nodes under way finish theirs, the journal
/// stays consistent); the second leaves at once with 130 (still consistent: every step is
/// recorded before its AWS call). Call inside the runtime.
fn stop_on_ctrl_c() -> Interrupt {
    super::terminal::two_presses(
        "stopping after the steps under way (Ctrl-C again to leave at once)",
        || "leaving at once: run the same command again to finish the batch".to_string(),
    )
}
