//! rmdeploy: deploys a self-hosted ESP RainMaker-style IoT cloud into your own AWS account.
//!
//! Domain modules (`profile`, `catalog`, `stack`, `render`, `checks`, `plan`, `cost`, `quotas`,
//! `artifacts`, `firmware`, `nodes`, `deploy`) know nothing about the terminal; `workflow` runs what a
//! command does end to end through the `Observer` and `Prompter` traits; `cli`, `commands` and
//! `output` are the command-line face. Dependencies point one way (the tests in `layering.rs` keep it so).

pub mod artifacts;
pub mod aws;
pub mod catalog;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod deploy;
pub mod exit;
pub mod firmware;
pub mod nodes;
pub mod output;
pub mod plan;
pub mod profile;
pub mod quotas;
pub mod render;
pub mod settings;
pub mod stack;
pub mod suggest;
pub mod workflow;
pub mod yaml;

#[cfg(test)]
mod layering;
