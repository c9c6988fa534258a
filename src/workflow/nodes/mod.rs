//! `nodes`: factory batches (`provision`, in `provision.rs`), batch CAs (`ca.rs`), and the nodes a stack has: list,
//! show, revoke, rotate.

pub mod ca;
pub mod provision;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Observer;
use crate::aws::Clients;
use crate::deploy::interrupt::Interrupt;
use crate::nodes::batch::{BatchMeta, CaRef};
use crate::nodes::ca::BatchCa;
use crate::nodes::identity::{self, random_bytes};
use crate::nodes::registry::{self, Certificate, Names, NodeStatus, Thing};
use crate::nodes::NodesError;
use crate::output::{thousands, Style};

pub use provision::BatchRun;

/// What a factory batch is to be.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub stack: String,
    pub region: String,
    pub platform: String,
    pub project: String,
    pub transport: String,
    pub count: usize,
    pub macs: Vec<String>,
    pub out: PathBuf,
    pub concurrency: usize,
    /// Sign the nodes with this batch CA (`nodes ca create`) instead of asking AWS IoT.
    pub ca: Option<PathBuf>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new batch's description; the MQTT hosts are asked of the account only for a new batch.
async fn meta(
    clients: &Clients,
    req: &BatchRequest,
    rotates: Option<String>,
) -> Result<BatchMeta, NodesError> {
    let names = Names::of(&req.stack);
    let started_at = now();
    let (mqtt_host, mqtt_cred_host) = match Path::new(&req.out)
        .join(crate::nodes::batch::META)
        .is_file()
    {
        true => Default::default(),
        false => registry::endpoints(clients).await?,
    };
    Ok(BatchMeta {
        batch_id: format!("{started_at}-{}", identity::hex(&random_bytes::<3>())),
        stack: req.stack.clone(),
        region: req.region.clone(),
        thing_type: names.thing_type,
        policy: names.policy,
        platform: req.platform.clone(),
        project: req.project.clone(),
        transport: req.transport.clone(),
        count: req.count,
        macs: req.macs.clone(),
        started_at,
        mqtt_host,
        mqtt_cred_host,
        rotates,
        ca: ca_ref(req)?,
    })
}

/// The batch CA of `req`, which must be registered for its stack and region.
fn ca_ref(req: &BatchRequest) -> Result<Option<CaRef>, NodesError> {
    let Some(dir) = &req.ca else {
        return Ok(None);
    };
    let ca = BatchCa::open(dir)?;
    let registered = ca
        .registration
        .as_ref()
        .filter(|r| r.stack == req.stack && r.region == req.region);
    match registered {
        Some(r) => Ok(Some(CaRef {
            dir: std::path::absolute(dir)
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string(),
            certificate_id: r.certificate_id.clone(),
        })),
        None => Err(NodesError::Ca {
            dir: dir.clone(),
            reason: format!(
                "it is not registered with AWS IoT for stack {} in {}",
                req.stack, req.region
            ),
            help: Some(format!(
                "register it first: `rmdeploy nodes ca create --dir {}` with the same --profile and --region",
                dir.display()
            )),
        }),
    }
}

/// Provision (or finish) the factory batch of `req`.
pub async fn provision(
    clients: &Clients,
    req: &BatchRequest,
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<BatchRun, NodesError> {
    let meta = meta(clients, req, None).await?;
    let (batch, resumed) = provision::open_or_create(&req.out, meta)?;
    observer.step(&format!(
        "{} batch {} in {} ({} nodes, {} at a time)",
        if resumed { "resuming" } else { "starting" },
        batch.meta.batch_id,
        batch.dir.display(),
        batch.meta.count,
        req.concurrency
    ));
    provision::run(
        clients,
        batch,
        resumed,
        req.concurrency,
        observer,
        interrupt,
    )
    .await
}

/// Give `node` a new key and certificate: a one-node batch in `out` (resumable the same way),
/// the new certificate attached before the old ones are revoked.
pub async fn rotate(
    clients: &Clients,
    stack: &str,
    region: &str,
    node: &str,
    out: &Path,
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<BatchRun, NodesError> {
    let names = Names::of(stack);
    let thing = known_thing(clients, &names, node).await?;
    let attr = |k: &str| thing.attributes.get(k).cloned().unwrap_or_default();
    let req = BatchRequest {
        stack: stack.to_string(),
        region: region.to_string(),
        platform: attr("chip"),
        project: attr("project_name"),
        transport: "ble".into(),
        count: 1,
        macs: thing.attributes.get("mac").cloned().into_iter().collect(),
        out: out.to_path_buf(),
        concurrency: 1,
        ca: None,
    };
    let meta = meta(clients, &req, Some(node.to_string())).await?;
    let (batch, resumed) = provision::open_or_create(out, meta)?;
    observer.step(&format!(
        "rotating node {node} into {}",
        batch.dir.display()
    ));
    provision::run(clients, batch, resumed, 1, observer, interrupt).await
}

/// The thing of `node`, which must be of the stack's thing type.
async fn known_thing(clients: &Clients, names: &Names, node: &str) -> Result<Thing, NodesError> {
    match registry::thing(clients, node).await? {
        Some(t) if t.thing_type.as_deref() == Some(names.thing_type.as_str()) => Ok(t),
        _ => Err(NodesError::UnknownNode {
            node: node.to_string(),
            thing_type: names.thing_type.clone(),
        }),
    }
}

/// One node of `nodes list`.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub node_id: String,
    pub project: Option<String>,
    pub chip: Option<String>,
    pub mac: Option<String>,
    pub batch: Option<String>,
    #[serde(flatten)]
    pub status: NodeStatus,
}

#[derive(Debug, Serialize)]
pub struct NodeList {
    pub stack: String,
    pub thing_type: String,
    /// Whether the nodes table could be read (the stack is deployed here).
    pub status_known: bool,
    pub nodes: Vec<Listed>,
}

/// The nodes of the stack's thing type, with what the nodes table says of each.
pub async fn list(clients: &Clients, stack: &str) -> Result<NodeList, NodesError> {
    let names = Names::of(stack);
    let things = registry::things(clients, &names).await?;
    let ids: Vec<String> = things.iter().map(|t| t.name.clone()).collect();
    let statuses = registry::statuses(clients, &names, &ids).await?;
    let nodes = things
        .into_iter()
        .map(|t| Listed {
            status: statuses
                .as_ref()
                .and_then(|s| s.get(&t.name).cloned())
                .unwrap_or_default(),
            project: t.attributes.get("project_name").cloned(),
            chip: t.attributes.get("chip").cloned(),
            mac: t.attributes.get("mac").cloned(),
            batch: t.attributes.get("batch").cloned(),
            node_id: t.name,
        })
        .collect();
    Ok(NodeList {
        stack: stack.to_string(),
        thing_type: names.thing_type,
        status_known: statuses.is_some(),
        nodes,
    })
}

/// `nodes show`.
#[derive(Debug, Serialize)]
pub struct NodeDetail {
    pub node_id: String,
    pub thing_type: String,
    pub attributes: std::collections::BTreeMap<String, String>,
    pub certificates: Vec<Certificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeStatus>,
    /// The users the node is mapped to; `None` when the mapping table cannot be read.
    pub users: Option<Vec<String>>,
}

pub async fn show(clients: &Clients, stack: &str, node: &str) -> Result<NodeDetail, NodesError> {
    let names = Names::of(stack);
    let thing = known_thing(clients, &names, node).await?;
    let mut certificates = Vec::new();
    for arn in registry::principals(clients, node).await? {
        certificates.push(
            registry::certificate(clients, registry::cert_id(&arn))
                .await?
                .0,
        );
    }
    let status = registry::statuses(clients, &names, &[node.to_string()])
        .await?
        .map(|mut s| s.remove(node).unwrap_or_default());
    Ok(NodeDetail {
        node_id: node.to_string(),
        thing_type: names.thing_type.clone(),
        attributes: thing.attributes,
        certificates,
        status,
        users: registry::users(clients, &names, node).await?,
    })
}

/// `nodes revoke`.
#[derive(Debug, Serialize)]
pub struct Revoked {
    pub node_id: String,
    pub revoked: Vec<String>,
    pub unmapped: Option<Vec<String>>,
}

/// Revoke every certificate of `node` (detached from its thing first, then `REVOKED`) and
/// remove its user mappings. The thing stays, with no certificate: `rotate` gives it a new one.
pub async fn revoke(
    clients: &Clients,
    stack: &str,
    node: &str,
    observer: &mut dyn Observer,
) -> Result<Revoked, NodesError> {
    let names = Names::of(stack);
    known_thing(clients, &names, node).await?;
    let mut revoked = Vec::new();
    for arn in registry::principals(clients, node).await? {
        registry::revoke(clients, Some(node), &arn).await?;
        observer.step(&format!("revoked certificate {}", registry::cert_id(&arn)));
        revoked.push(registry::cert_id(&arn).to_string());
    }
    let users = registry::users(clients, &names, node).await?;
    if let Some(users) = &users {
        for user in users {
            registry::unmap(clients, &names, user, node).await?;
        }
    } else {
        observer.note(&format!(
            "table {} not found: no user mappings removed",
            names.user_nodes_table
        ));
    }
    Ok(Revoked {
        node_id: node.to_string(),
        revoked,
        unmapped: users,
    })
}

impl fmt::Display for BatchRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = Style::of(f);
        let state = if self.complete() {
            s.green("complete")
        } else if self.interrupted {
            s.yellow("interrupted")
        } else {
            s.red("incomplete")
        };
        writeln!(
            f,
            "{} batch {} of stack {}: {} of {} nodes written ({state}) in {:.1} s",
            s.bold("Factory"),
            self.batch_id,
            self.stack,
            thousands(self.written.len()),
            thousands(self.count),
            self.seconds
        )?;
        writeln!(f, "  folder       {}", self.dir)?;
        writeln!(f, "  thing type   {}", self.thing_type)?;
        if self.resumed {
            writeln!(
                f,
                "  resumed      {} written before this run",
                self.already_written
            )?;
        }
        if !self.completed.is_empty() {
            writeln!(
                f,
                "  completed    {} registered earlier but not written out: {}",
                self.completed.len(),
                provision::preview(&self.completed)
            )?;
        }
        if !self.adopted.is_empty() {
            writeln!(
                f,
                "  recovered    {} certificate(s) issued before a crash: {}",
                self.adopted.len(),
                provision::preview(&self.adopted)
            )?;
        }
        if !self.revoked.is_empty() {
            writeln!(f, "  revoked      {}", provision::preview(&self.revoked))?;
        }
        for failure in self.failures.iter().take(10) {
            writeln!(
                f,
                "  {} {}: {}",
                s.red("failed"),
                failure.node,
                failure.error
            )?;
        }
        if !self.complete() {
            writeln!(
                f,
                "  run the same command again (same --out) to finish the batch"
            )?;
        } else {
            writeln!(
                f,
                "  flash:       esptool.py write_flash 0x340000 {}/bin/<node>.bin",
                self.dir
            )?;
            writeln!(f, "  manifest:    {}/manifest.csv", self.dir)?;
        }
        Ok(())
    }
}

impl fmt::Display for NodeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = Style::of(f);
        writeln!(
            f,
            "{} node(s) of {} ({})",
            thousands(self.nodes.len()),
            self.stack,
            self.thing_type
        )?;
        writeln!(
            f,
            "  {:<14} {:<8} {:<12} {:<16} {:<10} batch",
            "node", "online", "firmware", "project", "chip"
        )?;
        for n in &self.nodes {
            let online = match n.status.online {
                Some(true) => s.green("yes"),
                Some(false) => "no".to_string(),
                None => s.dim("-"),
            };
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "  {:<14} {:<8} {:<12} {:<16} {:<10} {}",
                n.node_id,
                online,
                dash(&n.status.fw_version),
                dash(&n.project),
                dash(&n.chip),
                dash(&n.batch)
            )?;
        }
        if !self.status_known {
            writeln!(
                f,
                "  (online status unknown: the stack's nodes table was not found)"
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for NodeDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = Style::of(f);
        writeln!(
            f,
            "{} {} ({})",
            s.bold("Node"),
            self.node_id,
            self.thing_type
        )?;
        for (k, v) in &self.attributes {
            writeln!(f, "  {k:<14} {v}")?;
        }
        if let Some(status) = &self.status {
            let online = status
                .online
                .map_or("unknown", |o| if o { "yes" } else { "no" });
            writeln!(f, "  online         {online}")?;
            writeln!(
                f,
                "  firmware       {}",
                status.fw_version.as_deref().unwrap_or("-")
            )?;
        }
        writeln!(f, "  certificates")?;
        for c in &self.certificates {
            writeln!(f, "    {} {}", c.id, c.status)?;
        }
        match &self.users {
            Some(u) if u.is_empty() => writeln!(f, "  users          none")?,
            Some(u) => writeln!(f, "  users          {}", u.join(", "))?,
            None => writeln!(f, "  users          unknown (mapping table not found)")?,
        }
        Ok(())
    }
}

impl fmt::Display for Revoked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Node {}: {} certificate(s) revoked and detached{}",
            self.node_id,
            self.revoked.len(),
            match &self.unmapped {
                Some(u) => format!(", {} user mapping(s) removed", u.len()),
                None => String::new(),
            }
        )?;
        for id in &self.revoked {
            writeln!(f, "  revoked {id}")?;
        }
        Ok(())
    }
}
