//! rmdeploy's integration tests, as one test binary: the AWS SDKs are linked once rather than once
//! per test file. Each module is what was a file of its own under `tests/`; `support` holds the
//! helpers they share. Run one module with `cargo test --test suite <module>::`.

mod support;

mod apply_moto;
mod artifacts;
mod aws_rest;
mod bad_inputs;
mod build_lambdas;
mod cargo_lambda_install;
mod cli;
mod deploy_moto;
mod faults;
mod features;
mod firmware_image;
mod firmware_moto;
mod fuzz_profile;
mod lint;
mod nodes_moto;
mod nvs;
mod plan_live;
mod profile_validation;
mod quotas;
mod recorded;
mod security;
mod snapshots;
