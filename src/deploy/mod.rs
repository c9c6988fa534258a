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
pub mod stacks;
pub mod state;
pub mod watch;

pub use error::DeployError;

/// How long to wait between polls of CloudFormation (shorter with `RMDEPLOY_POLL_MS`, for tests
/// against a local emulator).
pub fn poll_interval() -> std::time::Duration {
    let ms = std::env::var("RMDEPLOY_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    std::time::Duration::from_millis(ms)
}
