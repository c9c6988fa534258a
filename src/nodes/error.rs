//! What goes wrong with nodes and factory batches, each with what to do about it.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::aws::AwsError;

#[derive(Debug, Error, Diagnostic)]
pub enum NodesError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),

    #[error("{}: {source}", path.display())]
    #[diagnostic(
        code(rmdeploy::nodes::io),
        help("check that the folder exists and is writable and that the disk has room; a re-run carries on from the journal")
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{} holds another batch: {what}", dir.display())]
    #[diagnostic(
        code(rmdeploy::nodes::other_batch),
        help("to finish that batch, re-run the command it was started with; to start a new one, pass another --out folder")
    )]
    OtherBatch { dir: PathBuf, what: String },

    #[error("{}: {reason}", path.display())]
    #[diagnostic(
        code(rmdeploy::nodes::journal),
        help("the batch's journal or batch.json was changed by hand or belongs to another tool; restore it, or start the batch again in a new --out folder")
    )]
    Journal { path: PathBuf, reason: String },

    #[error("--macs {}, line {line}: {reason}", path.display())]
    #[diagnostic(
        code(rmdeploy::nodes::mac),
        help("one Wi-Fi station MAC a line, 12 hex digits (colons or dashes allowed), unicast and not all zero; blank lines and lines starting with # are skipped")
    )]
    BadMac {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("--count {count} does not match the {macs} MAC(s) of {}", path.display())]
    #[diagnostic(
        code(rmdeploy::nodes::mac_count),
        help("leave --count out to make one node a MAC, or give as many MACs as nodes")
    )]
    MacCount {
        count: usize,
        macs: usize,
        path: PathBuf,
    },

    #[error("--count must be at least 1")]
    #[diagnostic(code(rmdeploy::nodes::count), help("give --count N or a --macs file"))]
    NoNodes,

    #[error("platform {given:?} is not an ESP chip RainMaker firmware runs on")]
    #[diagnostic(
        code(rmdeploy::nodes::platform),
        help("use one of: {allowed} (spelled as you like: ESP32-C3 is esp32c3)")
    )]
    Platform { given: String, allowed: String },

    #[error("node {node} is not registered in thing type {thing_type}")]
    #[diagnostic(
        code(rmdeploy::nodes::unknown),
        help("`rmdeploy nodes list` shows the nodes of this stack; check --profile and --region")
    )]
    UnknownNode { node: String, thing_type: String },

    #[error("node {node} (MAC {mac}) is already registered, outside this batch")]
    #[diagnostic(
        code(rmdeploy::nodes::taken),
        help("a chip keeps its node id: give it a new certificate with `rmdeploy nodes rotate {node}`, or leave its MAC out of --macs")
    )]
    Taken { node: String, mac: String },

    #[error("batch CA {}: {reason}", dir.display())]
    #[diagnostic(code(rmdeploy::nodes::ca))]
    Ca {
        dir: PathBuf,
        reason: String,
        #[help]
        help: Option<String>,
    },

    #[error("node {node}: {reason}")]
    #[diagnostic(code(rmdeploy::nodes::key))]
    Key {
        node: String,
        reason: String,
        #[help]
        help: Option<String>,
    },

    #[error("the factory image of node {node} does not fit: {reason}")]
    #[diagnostic(code(rmdeploy::nodes::image))]
    Image { node: String, reason: String },
}

impl NodesError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> NodesError {
        NodesError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<crate::aws::rest::Failure> for NodesError {
    fn from(f: crate::aws::rest::Failure) -> NodesError {
        NodesError::Aws(f.into())
    }
}
