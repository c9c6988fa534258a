//! rmdeploy: deploys a self-hosted ESP RainMaker-style IoT cloud into your own AWS account.
//!
//! Domain modules (`profile`, `stack`, `render`, `checks`, `plan`) know nothing about the
//! terminal; `cli`, `commands` and `output` are the command-line face.

pub mod artifacts;
pub mod aws;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod cost;
pub mod deploy;
pub mod firmware;
pub mod output;
pub mod plan;
pub mod profile;
pub mod quotas;
pub mod render;
pub mod stack;
pub mod suggest;
