//! Profile errors: each names the file, line and column, says what is wrong and what is allowed.

use std::fmt::Display;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode, SourceSpan};
use thiserror::Error;

/// The diagnostic code of a problem in a profile.
pub const PROFILE_CODE: &str = "rmdeploy::profile";
/// The diagnostic code of a problem in the firmware manifest.
pub const MANIFEST_CODE: &str = "rmdeploy::firmware::manifest";

/// One problem at one place of a profile (or of another YAML file: the firmware manifest).
#[derive(Debug, Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ProfileProblem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    pub source_code: NamedSource<String>,
    pub span: SourceSpan,
    /// The diagnostic code: [`PROFILE_CODE`] or [`MANIFEST_CODE`].
    pub code: &'static str,
}

impl Diagnostic for ProfileProblem {
    fn code<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source_code)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("here".into()),
            self.span,
        ))))
    }
}

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
