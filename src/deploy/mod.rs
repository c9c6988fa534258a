//! Deploying to an account: stacks, change sets and the bootstrap stack. Nothing here knows
//! about the terminal; progress is reported through return values.

pub mod apply;
pub mod bootstrap;
pub mod changeset;
pub mod drift;
mod error;
pub mod events;
pub mod interrupt;
pub mod live;
pub mod outputs;
pub mod poll;
pub mod stacks;
pub mod state;
pub mod watch;

pub use error::DeployError;
