//! The bundled Lambdas' integration tests, as one test binary: the handlers in-process against
//! moto_server, the real bootstraps (built by `rmdeploy build`) behind a Lambda Runtime API, the
//! firmware contract through the rendered stack, the OAuth2 authorizer, and the security
//! invariants that need the handlers. `support` holds the helpers. Run one module with
//! `cargo test -p rmdeploy-lambdas --test suite <module>::`.

mod support;

mod api_cli;
mod authorizer;
mod challenge_moto;
mod claim_cli;
mod conformance;
mod handlers_moto;
mod identity_moto;
mod lambdas_moto;
mod ota_moto;
mod runtime_api;
mod security;
