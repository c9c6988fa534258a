//! One module per subcommand, each with its arguments and a `run`.

pub mod common;
pub mod plan;
pub mod profile;
pub mod render;
