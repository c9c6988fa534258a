//! The helpers of these tests: the test kit they share with the Lambda crate's tests
//! (tests/testkit, `rmdeploy_testkit`), and what only these use.

pub use rmdeploy_testkit::*;

pub mod answers;
pub mod code_calls;
pub mod scenario;
