//! A factory batch on disk, laid out as `esp-rainmaker-admin-cli certs devicecert generate`
//! lays out its `Mfg-<n>` folder, so factory scripts written for it keep working:
//!
//! ```text
//! <out>/
//!   batch.json                        what the batch is (stack, platform, project, count, hosts)
//!   journal.jsonl                     every step of every node, written before the AWS call
//!   manifest.csv                      node_id,mac,cert_sha256
//!   bin/node-000001-<id>.bin          the factory NVS partition (flash at the fctry offset)
//!   csv/node-000001-<id>.csv          the generator's CSV of that image
//!   node_details/node-000001-<id>/    node.crt, node.key (0600), random.txt (0600), qrcode.txt
//!   common/node_certs.csv             node_id,certs,qrcode (the admin tool's registration CSV)
//!   common/node_ids.csv, endpoint.txt, mqtt_cred_host.txt, config.csv, values.csv
//!   common/qrcodes.csv                node_id,name,pop,transport,payload
//! ```
//!
//! The journal (JSON lines, synced) is the batch's memory: a node is `planned` (id chosen),
//! has its `key` on disk, has had its CSR `sent` (the one call whose result could be lost),
//! has its `cert`, is `registered` (thing, policy, principal) and finally `written` (image and
//! files). A run reads it and carries every node on from its last step.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::error::NodesError;

pub const META: &str = "batch.json";
pub const JOURNAL: &str = "journal.jsonl";

/// What a batch is; a re-run must ask for the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMeta {
    pub batch_id: String,
    pub stack: String,
    pub region: String,
    pub thing_type: String,
    pub policy: String,
    pub platform: String,
    pub project: String,
    pub transport: String,
    pub count: usize,
    /// The chips' MACs, one a node, when the batch was given them.
    pub macs: Vec<String>,
    /// Epoch seconds: certificates created before it are not this batch's.
    pub started_at: u64,
    pub mqtt_host: String,
    pub mqtt_cred_host: String,
    /// A rotation (`nodes rotate`): the one existing node that gets a new key and certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotates: Option<String>,
    /// Signed by a batch CA (`nodes ca`): no AWS call a node; AWS IoT registers each node
    /// when it first connects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaRef>,
}

/// The batch CA a batch is signed by: its folder and its AWS IoT certificate id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaRef {
    pub dir: String,
    pub certificate_id: String,
}

impl BatchMeta {
    /// How `other` (a new request) differs from this batch, if it does.
    pub fn difference(&self, other: &BatchMeta) -> Option<String> {
        let fields = [
            ("stack", &self.stack, &other.stack),
            ("region", &self.region, &other.region),
            ("platform", &self.platform, &other.platform),
            ("project", &self.project, &other.project),
            ("transport", &self.transport, &other.transport),
        ];
        for (name, was, now) in fields {
            if was != now {
                return Some(format!("its {name} is {was}, not {now}"));
            }
        }
        if self.count != other.count {
            return Some(format!("it has {} nodes, not {}", self.count, other.count));
        }
        if self.rotates != other.rotates {
            return Some(match &self.rotates {
                Some(node) => format!("it rotates node {node}"),
                None => "it is a factory batch, not a rotation".into(),
            });
        }
        if self.macs != other.macs {
            return Some("it was given other MACs".into());
        }
        if self.ca.as_ref().map(|c| &c.certificate_id)
            != other.ca.as_ref().map(|c| &c.certificate_id)
        {
            return Some(match &self.ca {
                Some(ca) => format!("it is signed by the batch CA {}", ca.dir),
                None => "its certificates come from AWS IoT, not a batch CA".into(),
            });
        }
        None
    }
}

/// One step of one node, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Record {
    Planned {
        index: usize,
        node_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mac: Option<String>,
    },
    Key {
        index: usize,
    },
    Sent {
        index: usize,
    },
    Cert {
        index: usize,
        cert_id: String,
        cert_arn: String,
    },
    Registered {
        index: usize,
    },
    Written {
        index: usize,
    },
}

impl Record {
    fn index(&self) -> usize {
        match self {
            Record::Planned { index, .. }
            | Record::Key { index }
            | Record::Sent { index }
            | Record::Cert { index, .. }
            | Record::Registered { index }
            | Record::Written { index } => *index,
        }
    }
}

/// How far a node got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Planned,
    Key,
    /// Its CSR went to AWS and no answer was recorded.
    Sent,
    Cert,
    Registered,
    Written,
}

/// A node of the batch and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub index: usize,
    pub node_id: String,
    pub mac: Option<String>,
    pub phase: Phase,
    /// (certificate id, ARN), once issued.
    pub cert: Option<(String, String)>,
}

impl Slot {
    /// `node-000001-<id>`, the admin tool's name of a node's files.
    pub fn name(&self) -> String {
        format!("node-{:06}-{}", self.index, self.node_id)
    }
}

/// A batch folder, its journal open for appending.
#[derive(Debug)]
pub struct Batch {
    pub dir: PathBuf,
    pub meta: BatchMeta,
    pub slots: BTreeMap<usize, Slot>,
    journal: Mutex<File>,
}

impl Batch {
    /// Whether `dir` holds a batch already.
    pub fn exists(dir: &Path) -> bool {
        dir.join(META).is_file()
    }

    /// Start a batch in `dir` (created; it must not hold one).
    pub fn create(dir: &Path, meta: BatchMeta) -> Result<Batch, NodesError> {
        for sub in ["bin", "csv", "node_details", "common"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| NodesError::io(dir.join(sub), e))?;
        }
        let dir = dir.canonicalize().map_err(|e| NodesError::io(dir, e))?;
        let text = serde_json::to_string_pretty(&meta).expect("the batch serializes");
        write_file(&dir.join(META), text.as_bytes(), false)?;
        Batch::open(&dir)
    }

    /// Open the batch in `dir` and read its journal. A last line cut short by a crash is
    /// ignored (the step it began is redone); any other unreadable line is an error.
    pub fn open(dir: &Path) -> Result<Batch, NodesError> {
        let dir = dir.canonicalize().map_err(|e| NodesError::io(dir, e))?;
        let meta_path = dir.join(META);
        let text =
            std::fs::read_to_string(&meta_path).map_err(|e| NodesError::io(&meta_path, e))?;
        let meta: BatchMeta = serde_json::from_str(&text).map_err(|e| NodesError::Journal {
            path: meta_path.clone(),
            reason: e.to_string(),
        })?;
        let path = dir.join(JOURNAL);
        let records = read_journal(&path)?;
        let slots = replay(&path, &records)?;
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .open(&path)
            .map_err(|e| NodesError::io(&path, e))?;
        Ok(Batch {
            dir,
            meta,
            slots,
            journal: Mutex::new(journal),
        })
    }

    /// Append `record` to the journal and sync it to disk before returning.
    pub fn record(&self, record: &Record) -> Result<(), NodesError> {
        let mut line = serde_json::to_string(record).expect("a record serializes");
        line.push('\n');
        let path = self.dir.join(JOURNAL);
        let file = self.journal.lock().expect("never poisoned");
        (&*file)
            .write_all(line.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| NodesError::io(path, e))
    }

    pub fn details_dir(&self, slot: &Slot) -> PathBuf {
        self.dir.join("node_details").join(slot.name())
    }
    pub fn key_path(&self, slot: &Slot) -> PathBuf {
        self.details_dir(slot).join("node.key")
    }
    pub fn cert_path(&self, slot: &Slot) -> PathBuf {
        self.details_dir(slot).join("node.crt")
    }
    pub fn random_path(&self, slot: &Slot) -> PathBuf {
        self.details_dir(slot).join("random.txt")
    }
    pub fn qrcode_path(&self, slot: &Slot) -> PathBuf {
        self.details_dir(slot).join("qrcode.txt")
    }
    pub fn bin_path(&self, slot: &Slot) -> PathBuf {
        self.dir.join("bin").join(format!("{}.bin", slot.name()))
    }
    pub fn csv_path(&self, slot: &Slot) -> PathBuf {
        self.dir.join("csv").join(format!("{}.csv", slot.name()))
    }
    pub fn common(&self, name: &str) -> PathBuf {
        self.dir.join("common").join(name)
    }
}

fn read_journal(path: &Path) -> Result<Vec<Record>, NodesError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NodesError::io(path, e)),
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            // Cut short by a crash while it was written: its step was never taken.
            Err(_) if n + 1 == lines.len() && !complete => {}
            Err(e) => {
                return Err(NodesError::Journal {
                    path: path.to_path_buf(),
                    reason: format!("line {}: {e}", n + 1),
                })
            }
        }
    }
    Ok(records)
}

/// The state of every node after `records`.
fn replay(path: &Path, records: &[Record]) -> Result<BTreeMap<usize, Slot>, NodesError> {
    let mut slots: BTreeMap<usize, Slot> = BTreeMap::new();
    for (n, record) in records.iter().enumerate() {
        let index = record.index();
        if let Record::Planned { node_id, mac, .. } = record {
            slots.insert(
                index,
                Slot {
                    index,
                    node_id: node_id.clone(),
                    mac: mac.clone(),
                    phase: Phase::Planned,
                    cert: None,
                },
            );
            continue;
        }
        let Some(slot) = slots.get_mut(&index) else {
            return Err(NodesError::Journal {
                path: path.to_path_buf(),
                reason: format!(
                    "record {} is about node {index}, which was never planned",
                    n + 1
                ),
            });
        };
        match record {
            Record::Planned { .. } => unreachable!("handled above"),
            Record::Key { .. } => slot.phase = slot.phase.max(Phase::Key),
            Record::Sent { .. } => slot.phase = slot.phase.max(Phase::Sent),
            Record::Cert {
                cert_id, cert_arn, ..
            } => {
                slot.phase = slot.phase.max(Phase::Cert);
                slot.cert = Some((cert_id.clone(), cert_arn.clone()));
            }
            Record::Registered { .. } => slot.phase = slot.phase.max(Phase::Registered),
            Record::Written { .. } => slot.phase = Phase::Written,
        }
    }
    Ok(slots)
}

/// Write `bytes` to `path` and sync it; `secret` files are created 0600 (and made 0600 when
/// they existed).
pub fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), NodesError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| NodesError::io(parent, e))?;
    }
    let mode = if secret { 0o600 } else { 0o644 };
    let result = (|| {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(mode)
            .open(path)?;
        if secret {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_data()
    })();
    result.map_err(|e| NodesError::io(path, e))
}

/// A CSV field, quoted when it must be (RFC 4180, as Python's `csv` writes it).
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> BatchMeta {
        BatchMeta {
            batch_id: "b1".into(),
            stack: "s".into(),
            region: "us-east-1".into(),
            thing_type: "s-esp-node".into(),
            policy: "s-node".into(),
            platform: "esp32c3".into(),
            project: "light".into(),
            transport: "ble".into(),
            count: 2,
            macs: vec![],
            started_at: 1,
            mqtt_host: "h".into(),
            mqtt_cred_host: "c".into(),
            rotates: None,
            ca: None,
        }
    }

    #[test]
    fn the_journal_replays_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let batch = Batch::create(dir.path(), meta()).unwrap();
        for r in [
            Record::Planned {
                index: 1,
                node_id: "AA".into(),
                mac: None,
            },
            Record::Key { index: 1 },
            Record::Sent { index: 1 },
            Record::Planned {
                index: 2,
                node_id: "BB".into(),
                mac: Some("BB".into()),
            },
            Record::Cert {
                index: 1,
                cert_id: "c1".into(),
                cert_arn: "arn:c1".into(),
            },
        ] {
            batch.record(&r).unwrap();
        }
        drop(batch);
        let path = dir.path().join(JOURNAL);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"step\":\"regis");
        std::fs::write(&path, &text).unwrap();
        let batch = Batch::open(dir.path()).unwrap();
        assert_eq!(batch.slots[&1].phase, Phase::Cert);
        assert_eq!(batch.slots[&1].cert, Some(("c1".into(), "arn:c1".into())));
        assert_eq!(batch.slots[&2].phase, Phase::Planned);
        assert_eq!(batch.slots[&2].name(), "node-000002-BB");
        // A broken line in the middle is not a crash's doing.
        std::fs::write(&path, "garbage\n{\"step\":\"key\",\"index\":1}\n").unwrap();
        assert!(matches!(
            Batch::open(dir.path()),
            Err(NodesError::Journal { .. })
        ));
    }

    #[test]
    fn secrets_are_0600_and_csv_fields_are_quoted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/node.key");
        write_file(&p, b"k", true).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(csv_field("a,b\"c"), "\"a,b\"\"c\"");
        assert_eq!(csv_field("plain"), "plain");
        let mut other = meta();
        other.count = 3;
        assert!(meta().difference(&other).unwrap().contains("3"));
        assert_eq!(meta().difference(&meta()), None);
    }
}
