//! Profile errors: each names the file, line and column, says what is wrong and what is allowed.

use miette::Diagnostic;

use crate::yaml::Problem as ProfileProblem;
use thiserror::Error;

/// Loading or checking a profile failed.
#[derive(Debug, Error, Diagnostic)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    #[diagnostic(
        code(rmdeploy::profile::read),
        help("check the path, or name a shipped profile: {shipped}")
    )]
    Read {
        path: String,
        shipped: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read profile {path}: {reason}")]
    #[diagnostic(code(rmdeploy::profile::encoding))]
    NotText {
        path: String,
        reason: String,
        #[help]
        help: String,
    },

    #[error("there is no shipped profile named `{name}`")]
    #[diagnostic(
        code(rmdeploy::profile::unknown),
        help("shipped profiles: {shipped}; or give a path to a YAML file (`--profile ./my.yaml`)")
    )]
    UnknownName { name: String, shipped: String },

    #[error("region `{region}` (from --region) is not a region rmdeploy knows")]
    #[diagnostic(code(rmdeploy::profile::region))]
    UnknownRegionFlag {
        region: String,
        #[help]
        help: String,
    },

    #[error("{file} is not a valid profile: {}", summary(.problems))]
    #[diagnostic(
        code(rmdeploy::profile::invalid),
        help("`rmdeploy profile schema` prints every key and what it allows")
    )]
    Invalid {
        file: String,
        #[related]
        problems: Vec<ProfileProblem>,
    },
}

fn summary(problems: &[ProfileProblem]) -> String {
    match problems.len() {
        1 => "1 problem".to_string(),
        n => format!("{n} problems"),
    }
}

impl ProfileError {
    /// The problems of an invalid profile (empty for other errors).
    pub fn problems(&self) -> &[ProfileProblem] {
        match self {
            ProfileError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}
