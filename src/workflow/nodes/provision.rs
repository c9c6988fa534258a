//! `nodes provision` (and the one-node batch of `nodes rotate`): drive every node of a batch
//! from the step its journal records to a written factory image, a bounded number at a time.
//!
//! Per node: its id is chosen (`planned`); its key and random bytes are written (0600) and
//! `key` recorded; `sent` is recorded and its CSR goes to `CreateCertificateFromCsr`; the
//! certificate is written and `cert` recorded; the thing, policy and principal are set
//! (`registered`); the image and files are written (`written`). The only result that can be
//! lost is a certificate issued while the process died before `cert` was recorded: a run
//! lists the certificates created since the batch started that its journal does not know,
//! adopts the one whose public key is a `sent` node's key and revokes any other of the
//! batch's keys (so no certificate is left behind), before and after it drives the nodes.
//!
//! A batch signed by a batch CA (`--ca`) makes no AWS call a node: the certificate is signed on
//! the host (`cert`), and AWS IoT registers the node on its first connection (`registered` is
//! recorded without a call). The things that exist are listed once, so new node ids are unique.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::super::Observer;
use crate::aws::Clients;
use crate::deploy::interrupt::Interrupt;
use crate::nodes::batch::{write_file, Batch, BatchMeta, Phase, Record, Slot};
use crate::nodes::ca::BatchCa;
use crate::nodes::files::{self, Written};
use crate::nodes::identity::{random_bytes, random_node_id, NodeKey};
use crate::nodes::registry::{self, Names, Thing};
use crate::nodes::NodesError;

/// Certificates created this long before the batch's start still count as possibly its own
/// (clocks differ between the host and AWS).
const CLOCK_SKEW_SECS: u64 = 300;

/// What a batch run did.
#[derive(Debug, Serialize)]
pub struct BatchRun {
    pub dir: String,
    pub batch_id: String,
    pub stack: String,
    pub thing_type: String,
    pub count: usize,
    /// The batch was found in the folder and carried on.
    pub resumed: bool,
    /// Nodes written in an earlier run.
    pub already_written: usize,
    /// Nodes an earlier run registered but did not write out, completed by this one.
    pub completed: Vec<String>,
    /// Certificates issued in an earlier run whose answer was lost, found and used.
    pub adopted: Vec<String>,
    /// Certificates of the batch's keys that no node uses, revoked.
    pub revoked: Vec<String>,
    pub failures: Vec<Failure>,
    pub interrupted: bool,
    pub written: Vec<Written>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub node: String,
    pub error: String,
}

impl BatchRun {
    pub fn complete(&self) -> bool {
        self.written.len() == self.count && self.failures.is_empty() && !self.interrupted
    }
}

struct Ctx {
    clients: Clients,
    names: Names,
    batch: Batch,
    /// The batch CA of a `--ca` batch, and the things that existed (name -> `batch` attribute).
    ca: Option<(BatchCa, HashMap<String, Option<String>>)>,
    interrupt: Interrupt,
    /// Node ids chosen in this batch (no two nodes get one).
    taken: Mutex<HashSet<String>>,
}

enum Outcome {
    Done(Slot),
    Stopped,
    Failed(String, NodesError),
}

/// Open the batch in `dir` when there is one (it must be `meta`'s), else start it.
pub fn open_or_create(dir: &std::path::Path, meta: BatchMeta) -> Result<(Batch, bool), NodesError> {
    if Batch::exists(dir) {
        let batch = Batch::open(dir)?;
        if let Some(what) = batch.meta.difference(&meta) {
            return Err(NodesError::OtherBatch {
                dir: dir.to_path_buf(),
                what,
            });
        }
        Ok((batch, true))
    } else {
        Ok((Batch::create(dir, meta)?, false))
    }
}

/// Drive every node of `batch` to `written`, `concurrency` at a time.
pub async fn run(
    clients: &Clients,
    batch: Batch,
    resumed: bool,
    concurrency: usize,
    observer: &mut dyn Observer,
    interrupt: &Interrupt,
) -> Result<BatchRun, NodesError> {
    let started = Instant::now();
    let names = Names::of(&batch.meta.stack);
    let mut slots = batch.slots.clone();
    let already_written = slots.values().filter(|s| s.phase == Phase::Written).count();
    let completed: Vec<String> = slots
        .values()
        .filter(|s| s.phase == Phase::Registered)
        .map(|s| s.node_id.clone())
        .collect();
    if !completed.is_empty() {
        observer.note(&format!(
            "{} node(s) were registered but not written out: completing them ({})",
            completed.len(),
            preview(&completed)
        ));
    }
    let (mut adopted, mut revoked) = (Vec::new(), Vec::new());
    let ca = match &batch.meta.ca {
        Some(r) => {
            let ca = BatchCa::open(std::path::Path::new(&r.dir))?;
            let things = registry::things(clients, &names).await?;
            let existing = things
                .into_iter()
                .map(|t| (t.name, t.attributes.get("batch").cloned()))
                .collect();
            Some((ca, existing))
        }
        None => None,
    };
    if resumed && ca.is_none() {
        reconcile(clients, &batch, &mut slots, &mut adopted, &mut revoked).await?;
    }
    let count = batch.meta.count;
    let ctx = Arc::new(Ctx {
        clients: clients.clone(),
        ca,
        names,
        taken: Mutex::new(slots.values().map(|s| s.node_id.clone()).collect()),
        batch,
        interrupt: interrupt.clone(),
    });
    let mut failures = Vec::new();
    let mut done = already_written;
    observer.tally(done, count, "nodes");
    let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut settle =
        |outcome: Outcome, slots: &mut BTreeMap<usize, Slot>, observer: &mut dyn Observer| {
            match outcome {
                Outcome::Done(slot) => {
                    done += 1;
                    observer.tally(done, count, "nodes");
                    slots.insert(slot.index, slot);
                }
                Outcome::Stopped => {}
                Outcome::Failed(node, e) => {
                    observer.note(&format!("node {node}: {e}"));
                    failures.push(Failure {
                        node,
                        error: e.to_string(),
                    });
                }
            }
        };
    for index in 1..=count {
        let slot = slots.get(&index).cloned();
        if slot.as_ref().is_some_and(|s| s.phase == Phase::Written) {
            continue;
        }
        if interrupt.requested() {
            break;
        }
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        while let Some(joined) = tasks.try_join_next() {
            settle(
                joined.expect("a node task never panics"),
                &mut slots,
                observer,
            );
        }
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let outcome = drive(&ctx, index, slot).await;
            drop(permit);
            outcome
        });
    }
    while let Some(joined) = tasks.join_next().await {
        settle(
            joined.expect("a node task never panics"),
            &mut slots,
            observer,
        );
    }
    observer.end();
    let ctx = Arc::into_inner(ctx).expect("every task is done");
    // Certificates issued twice for one key (a retry of a call AWS had carried out), or issued
    // for a node that failed before recording it. (A batch CA's are signed here: none.)
    if ctx.ca.is_none() {
        reconcile(
            &ctx.clients,
            &ctx.batch,
            &mut slots,
            &mut adopted,
            &mut revoked,
        )
        .await?;
    }
    let batch = ctx.batch;
    if let (Some(node), false) = (&batch.meta.rotates, interrupt.requested()) {
        if let Some(slot) = slots.values().find(|s| s.phase == Phase::Written) {
            revoked.extend(revoke_others(clients, node, slot).await?);
        }
    }
    let finished: Vec<&Slot> = slots
        .values()
        .filter(|s| s.phase == Phase::Written)
        .collect();
    let written = files::write_common(&batch, &finished)?;
    Ok(BatchRun {
        dir: batch.dir.display().to_string(),
        batch_id: batch.meta.batch_id.clone(),
        stack: batch.meta.stack.clone(),
        thing_type: batch.meta.thing_type.clone(),
        count,
        resumed,
        already_written,
        completed,
        adopted,
        revoked,
        failures,
        interrupted: interrupt.requested(),
        written,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The first few of `ids`.
pub fn preview(ids: &[String]) -> String {
    let mut text = ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > 5 {
        text.push_str(&format!(" and {} more", ids.len() - 5));
    }
    text
}

/// Carry one node on from its last recorded step.
async fn drive(ctx: &Ctx, index: usize, slot: Option<Slot>) -> Outcome {
    let name = slot.as_ref().map(|s| s.node_id.clone());
    match steps(ctx, index, slot).await {
        Ok(Some(slot)) => Outcome::Done(slot),
        Ok(None) => Outcome::Stopped,
        Err(e) => Outcome::Failed(name.unwrap_or_else(|| format!("#{index}")), e),
    }
}

async fn steps(ctx: &Ctx, index: usize, slot: Option<Slot>) -> Result<Option<Slot>, NodesError> {
    let batch = &ctx.batch;
    let mut slot = match slot {
        Some(s) => s,
        None => plan(ctx, index).await?,
    };
    if slot.phase < Phase::Key {
        let key = NodeKey::generate(&slot.node_id)?;
        files::write_secrets(batch, &slot, &key.pem(), &random_bytes::<64>())?;
        batch.record(&Record::Key { index })?;
        slot.phase = Phase::Key;
    }
    if slot.phase < Phase::Cert {
        if ctx.interrupt.requested() {
            return Ok(None);
        }
        let key = NodeKey::from_pem(&slot.node_id, &files::read(&batch.key_path(&slot))?)?;
        match &ctx.ca {
            // signed here: AWS IoT registers the node when it first connects
            Some((ca, _)) => {
                let meta = &batch.meta;
                let (chain, id) = ca.sign(
                    &key,
                    &slot.node_id,
                    &meta.project,
                    &meta.platform,
                    &meta.batch_id,
                )?;
                adopt(batch, &mut slot, &id, "", &chain)?;
            }
            None => {
                let csr = key.csr(&slot.node_id)?;
                batch.record(&Record::Sent { index })?;
                let issued = registry::issue(&ctx.clients, &csr).await?;
                adopt(batch, &mut slot, &issued.id, &issued.arn, &issued.pem)?;
            }
        }
    }
    if slot.phase < Phase::Registered {
        if ctx.interrupt.requested() {
            return Ok(None);
        }
        let (_, arn) = slot.cert.clone().expect("a certificate at this step");
        match &batch.meta.rotates {
            // registered by AWS IoT when the node first connects
            None if ctx.ca.is_some() => {}
            Some(_) => registry::attach(&ctx.clients, &ctx.names, &slot.node_id, &arn).await?,
            None => {
                let attributes = attributes(&batch.meta, &slot);
                registry::register(&ctx.clients, &ctx.names, &slot.node_id, &attributes, &arn)
                    .await?
            }
        }
        batch.record(&Record::Registered { index })?;
        slot.phase = Phase::Registered;
    }
    files::write_node(batch, &slot)?;
    batch.record(&Record::Written { index })?;
    slot.phase = Phase::Written;
    Ok(Some(slot))
}

/// The thing attributes of a batch's node: what OTA binds to (`project_name`, `chip`), the MAC
/// when known, and the batch.
pub fn attributes(meta: &BatchMeta, slot: &Slot) -> BTreeMap<String, String> {
    let mut a = BTreeMap::from([
        ("project_name".to_string(), meta.project.clone()),
        ("chip".to_string(), meta.platform.clone()),
        ("batch".to_string(), meta.batch_id.clone()),
    ]);
    if let Some(mac) = &slot.mac {
        a.insert("mac".into(), mac.clone());
    }
    a
}

/// Choose the node id of slot `index`: its MAC when the batch has MACs, else random; never
/// one of an existing thing (of this batch's: a plan whose record was lost).
async fn plan(ctx: &Ctx, index: usize) -> Result<Slot, NodesError> {
    let meta = &ctx.batch.meta;
    let mac = meta.macs.get(index - 1).cloned();
    let node_id = loop {
        let id = match (&meta.rotates, &mac) {
            (Some(node), _) => break node.clone(),
            (None, Some(mac)) => mac.clone(),
            (None, None) => random_node_id(),
        };
        if !ctx.taken.lock().expect("never poisoned").insert(id.clone()) && mac.is_none() {
            continue;
        }
        let existing = match &ctx.ca {
            // a batch CA's batch: the things listed at the start
            Some((_, things)) => things.get(&id).map(|batch| Thing {
                name: id.clone(),
                thing_type: None,
                attributes: batch
                    .iter()
                    .map(|b| ("batch".to_string(), b.clone()))
                    .collect(),
            }),
            None => registry::thing(&ctx.clients, &id).await?,
        };
        match existing {
            None => break id,
            Some(t) if t.attributes.get("batch") == Some(&meta.batch_id) => break id,
            Some(_) if mac.is_some() => {
                return Err(NodesError::Taken {
                    node: id.clone(),
                    mac: id,
                })
            }
            Some(_) => continue,
        }
    };
    ctx.batch.record(&Record::Planned {
        index,
        node_id: node_id.clone(),
        mac: mac.clone(),
    })?;
    Ok(Slot {
        index,
        node_id,
        mac,
        phase: Phase::Planned,
        cert: None,
    })
}

/// Record certificate (`id`, `arn`, `pem`) as `slot`'s: its file first, then the journal.
fn adopt(batch: &Batch, slot: &mut Slot, id: &str, arn: &str, pem: &str) -> Result<(), NodesError> {
    write_file(&batch.cert_path(slot), pem.as_bytes(), false)?;
    batch.record(&Record::Cert {
        index: slot.index,
        cert_id: id.to_string(),
        cert_arn: arn.to_string(),
    })?;
    slot.phase = Phase::Cert;
    slot.cert = Some((id.to_string(), arn.to_string()));
    Ok(())
}

/// Find the certificates issued for this batch's keys that its journal does not know: the one
/// for a node whose CSR was `sent` without an answer is adopted; any other is revoked.
async fn reconcile(
    clients: &Clients,
    batch: &Batch,
    slots: &mut BTreeMap<usize, Slot>,
    adopted: &mut Vec<String>,
    revoked: &mut Vec<String>,
) -> Result<(), NodesError> {
    let since = batch.meta.started_at.saturating_sub(CLOCK_SKEW_SECS) as i64;
    let known: HashSet<String> = slots
        .values()
        .filter_map(|s| s.cert.as_ref().map(|c| c.0.clone()))
        .chain(adopted.iter().cloned())
        .chain(revoked.iter().cloned())
        .collect();
    let unknown: Vec<_> = registry::certificates_since(clients, since)
        .await?
        .into_iter()
        .filter(|c| !known.contains(&c.id))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    // The keys of every node that has one, by index.
    let mut keys = Vec::new();
    for slot in slots.values().filter(|s| s.phase >= Phase::Key) {
        if let Ok(pem) = std::fs::read_to_string(batch.key_path(slot)) {
            keys.push((slot.index, NodeKey::from_pem(&slot.node_id, &pem)?));
        }
    }
    for cert in unknown {
        let (described, pem) = registry::certificate(clients, &cert.id).await?;
        let Some((index, _)) = keys.iter().find(|(_, k)| k.certified_by(&pem)) else {
            continue; // another batch's, or a claim's: not ours
        };
        let slot = slots.get_mut(index).expect("a slot of the batch");
        if slot.phase == Phase::Sent && described.status == "ACTIVE" {
            adopt(batch, slot, &cert.id, &cert.arn, &pem)?;
            adopted.push(cert.id.clone());
        } else if described.status != "REVOKED" {
            registry::revoke(clients, None, &cert.arn).await?;
            revoked.push(cert.id.clone());
        }
    }
    Ok(())
}

/// After a rotation: revoke every certificate of `node` but the new one (detached first).
async fn revoke_others(
    clients: &Clients,
    node: &str,
    slot: &Slot,
) -> Result<Vec<String>, NodesError> {
    let new = slot.cert.as_ref().map(|c| c.1.clone()).unwrap_or_default();
    let mut revoked = Vec::new();
    for arn in registry::principals(clients, node).await? {
        if arn != new {
            registry::revoke(clients, Some(node), &arn).await?;
            revoked.push(registry::cert_id(&arn).to_string());
        }
    }
    Ok(revoked)
}
