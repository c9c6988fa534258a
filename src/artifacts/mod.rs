//! Lambda artifacts: each function's `bootstrap` executable checked (architecture, glibc), zipped
//! deterministically, and named by the SHA-256 of the zip so an unchanged artifact is never
//! uploaded twice.

pub mod build;
pub mod dirs;
pub mod elf;
pub mod package;
pub mod store;
pub mod tool;

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum ArtifactError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(
        code(rmdeploy::artifacts::read),
        help("build the function first (`rmdeploy build`), or check the path")
    )]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not a Linux executable rmdeploy can check: {detail}")]
    #[diagnostic(
        code(rmdeploy::artifacts::elf),
        help(
            "a Lambda `bootstrap` must be a 64-bit Linux ELF executable, as cargo-lambda builds it"
        )
    )]
    NotElf { path: String, detail: String },

    #[error("{path} is built for {found}, but the function runs on {expected}")]
    #[diagnostic(
        code(rmdeploy::artifacts::arch),
        help("build for the profile's architecture (lambda.architecture), for example `cargo lambda build --release --arm64`")
    )]
    WrongArchitecture {
        path: String,
        found: String,
        expected: String,
    },

    #[error("{path} needs glibc {needed} (symbol version GLIBC_{needed}), but the provided.al2023 runtime has {available}")]
    #[diagnostic(
        code(rmdeploy::artifacts::glibc),
        help(
            "build with cargo-lambda (it links against an older glibc through zig), or target musl"
        )
    )]
    GlibcTooNew {
        path: String,
        needed: String,
        available: String,
    },

    #[error("cannot package {path}: {detail}")]
    #[diagnostic(code(rmdeploy::artifacts::zip))]
    Zip { path: String, detail: String },
}

/// Why the bundled Lambdas could not be built.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BuildError {
    #[error("the bundled Lambda sources are not at {0}")]
    #[diagnostic(
        code(rmdeploy::build::sources),
        help(
            "run rmdeploy from its source tree, or point --lambdas at the `lambdas/` folder of it"
        )
    )]
    NoSources(String),
    #[error("cargo lambda could not be run: {0}")]
    #[diagnostic(
        code(rmdeploy::build::tool),
        help("rmdeploy installs cargo-lambda from PyPI into ~/.cache/rmdeploy/tools (RMDEPLOY_TOOLS) when it is missing, which needs python3 with venv and pip; or install it yourself: `pip install cargo-lambda`")
    )]
    Tool(String),
    #[error("cargo lambda build of {package} failed (exit {code})")]
    #[diagnostic(
        code(rmdeploy::build::failed),
        help("the compiler's messages are above")
    )]
    Failed { package: String, code: i32 },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Artifact(#[from] ArtifactError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dir(#[from] dirs::DirError),
}
