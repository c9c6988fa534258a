//! Devices registered with the cloud (nodes) and what they are given in the factory: the
//! factory NVS partition image stock ESP RainMaker firmware reads its identity from (`nvs`),
//! a node's key, CSR, id and QR payload (`identity`), a factory batch on disk with its journal
//! (`batch`), the batch CA whose nodes AWS IoT registers on first connection (`ca`), and the nodes AWS IoT and the stack's tables know of (`registry`). Nothing here
//! knows about the terminal.

pub mod batch;
pub mod ca;
mod error;
pub mod files;
pub mod identity;
pub mod nvs;
pub mod registry;

pub use error::NodesError;
pub use nvs::{decode, image, DecodeError, Entry, FactoryCreds, Value, WriteError};
