//! Devices registered with the cloud (nodes) and what they are given in the factory: for now the
//! factory NVS partition image that stock ESP RainMaker firmware reads its identity from
//! (`nvs`). Nothing here knows about the terminal.

pub mod nvs;

pub use nvs::{decode, image, DecodeError, Entry, FactoryCreds, Value, WriteError};
