//! The helpers of these tests: the test kit they share with rmdeploy's own tests (tests/testkit
//! of the repository, `rmdeploy_testkit`), and what only these use: the stack's tables in
//! moto_server, a Lambda Runtime API for the real bootstraps, the node side of a rendered stack,
//! and what stock firmware publishes.

pub use rmdeploy_testkit::*;

pub mod firmware;
pub mod gateway;
pub mod rainmaker_cli;
pub mod runtime_api;
pub mod stack_cloud;
pub mod tables;
