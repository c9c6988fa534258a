//! One module per subcommand, each with its arguments and a `run`.

pub mod apply;
pub mod args;
pub mod bootstrap;
pub mod build;
pub mod cost;
pub mod destroy;
pub mod firmware;
pub mod nodes;
pub mod plan;
pub mod profile;
pub mod progress;
pub mod quota_check;
pub mod render;
pub mod status;
pub mod terminal;
