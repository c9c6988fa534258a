//! Device firmware for OTA: ESP32 application images (`image`), the `device-fw/` manifest that
//! describes them (`manifest`), and publishing them to the firmware bucket with their OTA jobs
//! (`publish`), and what a profile asks of them (`profile`). Nothing here knows about the terminal.

pub mod image;
pub mod manifest;
pub mod profile;
pub mod publish;
pub mod validate;

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::artifacts::package::sha256_hex(bytes)
}
