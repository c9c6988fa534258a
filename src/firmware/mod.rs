//! Device firmware for OTA: ESP32 application images (`image`), the `device-fw/` manifest that
//! describes them (`manifest`), and publishing them to the firmware bucket with their OTA jobs
//! (`publish`). Nothing here knows about the terminal.

pub mod image;
pub mod manifest;
pub mod publish;
